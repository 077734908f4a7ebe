//! Bad or extreme scenario files never panic the loader or the runner, and a
//! run always ends: every field is drawn from its edges (zero, one, the type's
//! maximum, one past it, huge durations, 1000-byte data arrays, unknown
//! names), the file is parsed, and whatever loads is run under small
//! [`RunLimits`] with overflow checks on (tests build in debug).

use bmc_sim::scenario::Scenario;
use bmc_sim::scenario::{EventKind, Phase, Trace};
use bmc_sim::scenario::{RunLimits, Simulation};
use bmc_sim::Instant;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{RngAlgorithm, TestCaseError, TestRng, TestRunner};
use std::cell::Cell;

/// Durations a file may hold, from the smallest to the largest that parses.
const DURS: &[&str] = &[
    "1ns", "1us", "4ms", "1s", "5.5s", "60s", "1450min", "24h", "8760h", "8784h", "5000000h",
];
/// Durations that must be refused (or, for `0s`, are refused by some fields).
const BAD_DURS: &[&str] = &["0s", "99999999h", "-1s", "5 parsecs", "1e3s", ""];

fn dur() -> impl Strategy<Value = String> {
    prop_oneof![12 => select(DURS), 1 => select(BAD_DURS)].prop_map(|d| format!("{d:?}"))
}

fn opt(key: &'static str, v: impl Strategy<Value = String>) -> impl Strategy<Value = String> {
    proptest::option::of(v).prop_map(move |o| o.map_or(String::new(), |v| format!("{key} = {v}\n")))
}

fn int(values: &'static [i128]) -> impl Strategy<Value = String> {
    // Mostly in range (all but the first and last value of each list),
    // sometimes anything.
    prop_oneof![
        8 => select(&values[1..values.len() - 1]),
        1 => select(values),
    ]
    .prop_map(|v| v.to_string())
}

/// A quoted name: mostly one of `good`, sometimes `bad`.
fn name(good: &'static [&'static str], bad: &'static str) -> impl Strategy<Value = String> {
    prop_oneof![12 => select(good), 1 => Just(bad)].prop_map(|s| format!("{s:?}"))
}

const BYTE: &[i128] = &[-1, 0, 1, 6, 7, 0x3F, 0x40, 0xC3, 0xFF, 0x100];
const BIG: &[i128] = &[
    -1,
    0,
    1,
    2,
    257,
    10_000_000,
    10_000_001,
    u32::MAX as i128,
    u32::MAX as i128 + 1,
    i64::MAX as i128,
];

fn driver() -> impl Strategy<Value = String> {
    (
        opt(
            "kernel",
            name(
                &[
                    "v2.6.12", "v3.13", "v3.14", "v4.14", "v4.19", "mainline", "fixed-reset",
                    "fixed-b8",
                ],
                "v9.99",
            ),
        ),
        opt(
            "hz",
            prop_oneof![12 => select(&[100, 250, 300, 1000][..]), 1 => select(&[0, 7, 1_000_000][..])]
                .prop_map(|v: i32| v.to_string()),
        ),
        opt("irq", any::<bool>().prop_map(|b| b.to_string())),
        opt("probe", any::<bool>().prop_map(|b| b.to_string())),
        opt("fast_forward", any::<bool>().prop_map(|b| b.to_string())),
        opt("bt_debug", int(&[0, 1, 7, 255, 256])),
        opt("unload_at", dur()),
    )
        .prop_map(|(a, b, c, d, e, f, g)| format!("[driver]\n{a}{b}{c}{d}{e}{f}{g}"))
}

fn bmc() -> impl Strategy<Value = String> {
    (
        opt(
            "preset",
            name(&["default", "qemu", "openbmc"], "ibm"),
        ),
        opt("latency", dur()),
        opt("take_latency", dur()),
        opt("jitter", dur()),
        opt("boot_time", dur()),
        opt("b_busy_until_response", any::<bool>().prop_map(|b| b.to_string())),
        opt("unanswered_holds_b_busy", any::<bool>().prop_map(|b| b.to_string())),
        proptest::option::of((
            int(BYTE),
            int(BYTE),
            int(BYTE),
            int(BYTE),
            int(BYTE),
        ))
        .prop_map(|c| {
            c.map_or(String::new(), |(o, i, out, r, n)| {
                format!("caps = {{ outstanding = {o}, input_size = {i}, output_size = {out}, req2rsp_secs = {r}, retries = {n} }}\n")
            })
        }),
    )
        .prop_map(|(a, b, c, d, e, f, g, h)| format!("[bmc]\n{a}{b}{c}{d}{e}{f}{g}{h}"))
}

fn request() -> impl Strategy<Value = String> {
    (
        int(BYTE),
        int(BYTE),
        select(&[0usize, 1, 270, 271, 1000][..]),
        opt("at", dur()),
        opt("repeat", int(&[0, 1, 2, 1000, 10_000_000, 10_000_001])),
        opt("interval", dur()),
        opt("gets_events", any::<bool>().prop_map(|b| b.to_string())),
    )
        .prop_map(|(netfn, cmd, n, at, repeat, interval, ev)| {
            let data = vec!["255"; n].join(", ");
            format!("[[request]]\nnetfn = {netfn}\ncmd = {cmd}\ndata = [{data}]\n{at}{repeat}{interval}{ev}")
        })
}

const KINDS: &[&str] = &[
    "silent",
    "stuck-busy",
    "never-clear-h2b",
    "hold-busy",
    "slow",
    "lose-responses",
    "random-loss",
    "wrong-seq",
    "stale-response",
    "duplicate-response",
    "corrupt-length",
    "stuck-b2h",
    "reads-ff",
    "bmc-reset",
    "reconnect",
    "ignore-command",
    "error-response",
];

fn fault() -> impl Strategy<Value = String> {
    (
        prop_oneof![30 => select(KINDS), 1 => Just("meteor")],
        prop_oneof![
            opt("at", dur()),
            opt("at_command", int(BIG)),
            (opt("at", dur()), opt("at_command", int(BIG))).prop_map(|(a, b)| a + &b),
        ],
        opt("duration", dur()),
        (
            opt("latency", dur()),
            opt("count", int(BIG)),
            opt("per_mille", int(&[0, 1, 999, 1000, 1001, 65535, 65536])),
            opt("seq_delta", int(BYTE)),
            opt("correct_after", dur()),
            opt("len", int(BYTE)),
            opt("keep_watchdog", any::<bool>().prop_map(|b| b.to_string())),
            opt("netfn", int(BYTE)),
            opt("cmd", int(BYTE)),
            opt("cc", int(BYTE)),
        ),
    )
        .prop_map(|(kind, at, d, (l, c, p, s, ca, len, k, nf, cmd, cc))| {
            // Keep mostly the parameters the kind takes, so most files load.
            let takes = |key: &str| match key {
                "latency" => kind == "slow",
                "count" => kind == "lose-responses",
                "per_mille" => kind == "random-loss",
                "seq_delta" => kind == "wrong-seq",
                "correct_after" => kind == "wrong-seq" || kind == "stale-response",
                "len" => kind == "corrupt-length",
                "keep_watchdog" => kind == "bmc-reset",
                "netfn" | "cmd" => kind == "ignore-command",
                "cc" => kind == "error-response",
                _ => false,
            };
            let params: String = [
                ("latency", l),
                ("count", c),
                ("per_mille", p),
                ("seq_delta", s),
                ("correct_after", ca),
                ("len", len),
                ("keep_watchdog", k),
                ("netfn", nf),
                ("cmd", cmd),
                ("cc", cc),
            ]
            .into_iter()
            .filter(|(key, v)| takes(key) || v.len() % 7 == 0)
            .map(|(_, v)| v)
            .collect();
            let d = if kind == "bmc-reset" || kind == "reconnect" {
                String::new()
            } else {
                d
            };
            format!("[[fault]]\nkind = {kind:?}\n{at}{d}{params}")
        })
}

fn scenario_text() -> impl Strategy<Value = String> {
    (
        prop_oneof![20 => dur().prop_map(|d| format!("stop = {d}\n")), 1 => Just(String::new())],
        opt("seed", int(&[-1, 0, 1, i64::MAX as i128, u64::MAX as i128])),
        driver(),
        bmc(),
        any::<bool>(),
        proptest::collection::vec(request(), 0..3),
        proptest::collection::vec(fault(), 0..3),
    )
        .prop_map(|(stop, seed, driver, bmc, regs, reqs, faults)| {
            format!(
                "name = \"x\"\n{stop}{seed}{driver}{bmc}[trace]\nregisters = {regs}\n{}{}",
                reqs.join(""),
                faults.join("")
            )
        })
}

/// Small limits so every generated run ends quickly even in a debug build.
const LIMITS: RunLimits = RunLimits {
    max_steps: 20_000,
    max_sm_events: 200_000,
    max_records: 20_000,
    max_register_records: 50_000,
    max_spin_events: 10_000,
};

/// What one generated file did.
enum Outcome {
    Rejected,
    Ran { truncated: bool },
}

/// Load `src`; run what loads under [`LIMITS`]; check the run ended sanely.
fn load_and_run(src: &str) -> Result<Outcome, TestCaseError> {
    let sc = match Scenario::from_toml_str(src) {
        Ok(sc) => sc,
        Err(e) => {
            // A rejection names what was wrong and where.
            let msg = e.to_string();
            prop_assert!(
                msg.contains("field") || msg.contains("line"),
                "{msg}\n{src}"
            );
            return Ok(Outcome::Rejected);
        }
    };
    let stop = Instant::ZERO + sc.stop;
    let mut sim = Simulation::new(&sc);
    sim.set_limits(LIMITS);
    sim.run_until(stop);
    let truncated = sim.truncated().map(str::to_owned);
    let trace = sim.into_trace();
    prop_assert!(
        trace.end <= stop,
        "ran past stop: {} > {stop}\n{src}",
        trace.end
    );
    prop_assert_eq!(&trace.truncated, &truncated);
    if trace.truncated.is_none() {
        prop_assert_eq!(trace.end, stop, "ended early without saying why\n{}", src);
    }
    // Records stay within the limits (plus what one step may add).
    prop_assert!(trace.registers.len() <= LIMITS.max_register_records + 10_000);
    prop_assert!(trace.events.len() <= LIMITS.max_records + 10_000);
    // Rendering and re-saving never panic; the saved file loads back equal.
    let _ = trace.render_log();
    let _ = trace.render_timeline();
    let _ = bmc_sim::scenario::render_svg(&trace);
    let back = Scenario::from_toml_str(&sc.to_toml_string());
    prop_assert_eq!(back.as_ref().ok(), Some(&sc), "{:?}", back.as_ref().err());
    Ok(Outcome::Ran {
        truncated: truncated.is_some(),
    })
}

#[test]
fn extreme_scenarios_load_or_fail_cleanly_and_runs_end() {
    let mut runner = TestRunner::new_with_rng(
        ProptestConfig {
            cases: 384,
            failure_persistence: None,
            ..ProptestConfig::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    );
    let (loaded, truncated) = (Cell::new(0u32), Cell::new(0u32));
    let r = runner.run(&scenario_text(), |src| {
        if let Outcome::Ran { truncated: t } = load_and_run(&src)? {
            loaded.set(loaded.get() + 1);
            truncated.set(truncated.get() + u32::from(t));
        }
        Ok(())
    });
    if let Err(e) = r {
        panic!("{e}");
    }
    // The generator must exercise the runner, not only the loader.
    let (loaded, truncated) = (loaded.get(), truncated.get());
    assert!(loaded >= 30, "only {loaded} of 384 generated files loaded");
    assert!(truncated >= 1, "no generated run reached a limit");
}

/// Runs scenario `src` to its stop under `limits`; the trace and why it
/// stopped early (the run must have).
fn run_limited(src: &str, limits: RunLimits) -> (Trace, String) {
    let sc = Scenario::from_toml_str(src).unwrap();
    let mut sim = Simulation::new(&sc);
    sim.set_limits(limits);
    sim.run_until(Instant::ZERO + sc.stop);
    let why = sim.truncated().expect("stopped early").to_owned();
    let trace = sim.into_trace();
    assert_eq!(trace.truncated.as_deref(), Some(why.as_str()));
    assert!(
        trace.events.last().is_some_and(|e| matches!(
            &e.kind,
            EventKind::Phase(Phase::StoppedEarly(w)) if *w == why
        )),
        "the last event says why"
    );
    assert!(trace.render_timeline().contains("RUN STOPPED EARLY"));
    assert!(bmc_sim::scenario::render_svg(&trace).contains("STOPPED EARLY"));
    (trace, why)
}

#[test]
fn default_limits_stop_a_year_of_polling_with_a_reason() {
    // A BMC silent from time 0 keeps mainline's detect in the endless BT reset
    // loop (B-4) inside the synchronous probe wait; with fast_forward off a
    // year of it would need billions of state-machine events.
    let (trace, why) = run_limited(
        "name = \"year\"\nstop = \"8760h\"\n[driver]\nfast_forward = false\n\
         [[fault]]\nkind = \"silent\"\nat = \"0s\"\n",
        RunLimits {
            max_sm_events: 100_000,
            ..RunLimits::DEFAULT
        },
    );
    assert!(why.contains("state-machine event limit of 100000"), "{why}");
    assert!(trace.end < Instant::from_secs(3600), "{}", trace.end);
}

#[test]
fn record_limit_stops_a_request_flood() {
    let (trace, why) = run_limited(
        "name = \"flood\"\nstop = \"8760h\"\n[bmc]\npreset = \"qemu\"\n\
         [[request]]\nnetfn = 0x06\ncmd = 0x01\nrepeat = 10000000\ninterval = \"1ns\"\n",
        RunLimits {
            max_records: 5_000,
            ..RunLimits::DEFAULT
        },
    );
    assert!(why.contains("record limit of 5000"), "{why}");
    assert!(trace.events.len() < 5_100, "{}", trace.events.len());
}

#[test]
fn register_trace_limit_stops_a_long_traced_run() {
    let (trace, why) = run_limited(
        "name = \"regs\"\nstop = \"24h\"\n[trace]\nregisters = true\n\
         [[request]]\nnetfn = 0x06\ncmd = 0x01\nrepeat = 100000\ninterval = \"1s\"\n",
        RunLimits {
            max_register_records: 2_000,
            ..RunLimits::DEFAULT
        },
    );
    assert!(why.contains("register trace limit of 2000"), "{why}");
    assert!(trace.registers.len() < 2_200);
}

#[test]
fn step_limit_stops_dense_polling() {
    let (trace, why) = run_limited(
        "name = \"poll\"\nstop = \"24h\"\n[driver]\nfast_forward = false\n\
         [[request]]\nat = \"1s\"\nnetfn = 0x06\ncmd = 0x01\n\
         [[fault]]\nkind = \"stuck-b2h\"\nat = \"0.5s\"\n",
        RunLimits {
            max_steps: 1_000,
            ..RunLimits::DEFAULT
        },
    );
    assert!(why.contains("step limit of 1000"), "{why}");
    assert_eq!(trace.stats.steps, 1_000);
}

#[test]
fn shipped_scenarios_stay_well_inside_the_default_limits() {
    for name in bmcwd_integration_tests::shipped_names() {
        let sc = bmcwd_integration_tests::shipped(&name);
        let t = bmc_sim::scenario::run(&sc);
        assert_eq!(t.truncated, None, "{name}");
        let l = RunLimits::DEFAULT;
        assert!(t.stats.steps * 10 < l.max_steps, "{name}: {:?}", t.stats);
        assert!(
            t.stats.sm_events * 10 < l.max_sm_events,
            "{name}: {:?}",
            t.stats
        );
        // The record limit is sized for 100 MB (issue #14); the largest
        // shipped file, 24h-disconnect, keeps about a quarter of it.
        assert!((t.events.len() + t.log.len()) * 3 < l.max_records, "{name}");
    }
}
