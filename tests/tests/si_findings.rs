//! Regression tests of the SI-layer findings F-1 and F-2
//! (`spec-notes/si-findings.md`): the scenarios in `sim/scenarios/found/`
//! show the fault on mainline (what every kernel does) and its absence with
//! the fixed presets (`si = "proposed"`, `patches/0005`).

use std::path::PathBuf;

use bmc_sim::scenario::{run, EventKind, Phase, Scenario, Trace};
use bmc_sim::{KernelPreset, Origin};
use ipmi_bt_sm::CompletionCode;

/// A scenario of `sim/scenarios/found/`, with `kernel` as its preset.
fn found(name: &str, kernel: KernelPreset) -> Scenario {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../sim/scenarios/found")
        .join(format!("{name}.toml"));
    let mut sc = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    sc.driver.kernel = kernel;
    sc
}

fn secs(t: ipmi_vocab::Instant) -> f64 {
    t.since_start().as_secs_f64()
}

fn log_has(t: &Trace, text: &str) -> bool {
    t.log.iter().any(|l| l.text.contains(text))
}

/// Completions of the message handler's and the workload's messages (not
/// the SI layer's own).
fn user_completions(t: &Trace) -> Vec<(u32, u8, f64)> {
    t.completions
        .iter()
        .filter(|c| matches!(c.origin, Origin::Handler | Origin::Workload { .. }))
        .map(|c| (c.id, c.cc.0, secs(c.completed)))
        .collect()
}

#[test]
fn f2_mainline_loses_the_message_behind_a_refused_clear_message_flags() {
    let t = run(&found("f2-clear-flags-refused", KernelPreset::MAINLINE));
    assert!(t.registered);
    // The refused Clear Message Flags takes the handler's Get Device ID answer
    // as its own (3 bytes asked for: truncated).
    assert!(
        log_has(&t, "Error clearing flags: c6"),
        "{}",
        t.render_log()
    );
    let clear = t
        .completions
        .iter()
        .find(|c| c.origin == Origin::Internal && c.request.get(1) == Some(&0x30))
        .expect("Clear Message Flags");
    assert_eq!(
        clear.response,
        [0x1C, 0x01, 0xC6],
        "the Get Device ID answer"
    );
    // The handler's Get Device ID started when B_BUSY dropped, and was lost.
    assert!(
        user_completions(&t).is_empty(),
        "{:?}",
        user_completions(&t)
    );
    let lost = t
        .pending
        .iter()
        .find(|p| p.origin == Origin::Handler)
        .expect("handler's Get Device ID pending");
    assert!(lost
        .started
        .is_some_and(|s| (20.0..20.1).contains(&secs(s))));
    assert!(t
        .events
        .iter()
        .any(|e| e.kind == EventKind::Phase(Phase::MessageDropped { id: lost.id })));
    // The interface is wedged: the request at 45 s is never started.
    let wedged = t
        .pending
        .iter()
        .find(|p| matches!(p.origin, Origin::Workload { .. }))
        .expect("request pending");
    assert_eq!(wedged.started, None);
}

#[test]
fn f2_fixed_presets_complete_the_refused_clear_message_flags_with_0xc0() {
    for kernel in [KernelPreset::FIXED_B8, KernelPreset::FIXED_RESET] {
        let t = run(&found("f2-clear-flags-refused", kernel));
        assert!(t.registered, "{kernel}");
        assert!(
            log_has(&t, "Error clearing flags: c0"),
            "{kernel}\n{}",
            t.render_log()
        );
        assert!(!log_has(&t, "Error clearing flags: c6"), "{kernel}");
        let clear = t
            .completions
            .iter()
            .find(|c| c.origin == Origin::Internal && c.request.get(1) == Some(&0x30))
            .expect("Clear Message Flags");
        assert_eq!(clear.cc, CompletionCode::NODE_BUSY, "{kernel}");
        // At the first SI tick after registration, not when B_BUSY drops.
        assert!(
            secs(clear.completed) < 10.1,
            "{kernel}: {}",
            secs(clear.completed)
        );
        // Nothing is lost: the handler's Get Device ID is answered once
        // B_BUSY drops, the request at 45 s at once.
        assert!(t.pending.is_empty(), "{kernel}: {:?}", t.pending);
        let users = user_completions(&t);
        assert_eq!(users.len(), 2, "{kernel}: {users:?}");
        assert!(
            users.iter().all(|&(_, cc, _)| cc == 0),
            "{kernel}: {users:?}"
        );
        assert!((20.0..20.1).contains(&users[0].2), "{kernel}: {users:?}");
        assert!((45.0..45.1).contains(&users[1].2), "{kernel}: {users:?}");
    }
}

/// The probe's Get Device ID completions, as (attempt, cc, completed at).
fn probe_attempts(t: &Trace) -> Vec<(u8, u8, f64)> {
    t.completions
        .iter()
        .filter_map(|c| match c.origin {
            Origin::Probe { attempt } => Some((attempt, c.cc.0, secs(c.completed))),
            _ => None,
        })
        .collect()
}

#[test]
fn f1_mainline_probe_waits_as_long_as_the_bmc_holds_b_busy() {
    let t = run(&found("f1-probe-long-busy", KernelPreset::MAINLINE));
    // The first attempt times out with B_BUSY: 0xC0, LONG_BUSY, a retry.
    assert_eq!(probe_attempts(&t), [(0, 0xC0, 10.004)]);
    assert!(log_has(&t, "BMC returned 0xc0, retry get bmc device id"));
    // The retry was refused and never started on the wire; the probe is
    // still in wait_for_msg_done at the end of the 300 s run.
    let retry = t
        .pending
        .iter()
        .find(|p| p.origin == Origin::Probe { attempt: 1 })
        .expect("retry pending");
    assert!(retry
        .started
        .is_some_and(|s| (10.0..10.1).contains(&secs(s))));
    assert!(!t.registered);
    assert!(!log_has(&t, "There appears to be no BMC"));
    assert_eq!(secs(t.end), 300.0);
    assert_eq!(t.truncated, None);
}

#[test]
fn f1_fixed_presets_fail_the_probe_at_once_when_retries_are_refused() {
    for kernel in [KernelPreset::FIXED_B8, KernelPreset::FIXED_RESET] {
        let t = run(&found("f1-probe-long-busy", kernel));
        // The first attempt as before; the five retries (GET_DEVICE_ID_MAX_RETRY)
        // are refused and completed with 0xC0 at once.
        let attempts = probe_attempts(&t);
        assert_eq!(
            attempts,
            (0..=5).map(|a| (a, 0xC0, 10.004)).collect::<Vec<_>>(),
            "{kernel}"
        );
        assert!(t
            .completions
            .iter()
            .all(|c| c.synthesized && c.response == [0x1C, 0x01, 0xC0]));
        let no_bmc: Vec<f64> = t
            .log
            .iter()
            .filter(|l| {
                l.text
                    .contains("There appears to be no BMC at this location")
            })
            .map(|l| secs(l.t))
            .collect();
        assert_eq!(no_bmc, [10.004], "{kernel}");
        assert!(!t.registered);
        assert!(t.pending.is_empty(), "{kernel}: {:?}", t.pending);
    }
}

#[test]
fn f1_fixed_presets_complete_refused_global_enables_commands_at_probe() {
    // With the interrupt on, the probe also checks the Global Enables
    // (check_for_broken_irqs, try_enable_event_buffer). B_BUSY held from the
    // first of them: mainline waits in each refused one; the fixed presets
    // complete them with 0xC0 and register at 10 s.
    let text = "name = \"enables\"\nstop = \"300s\"\n[driver]\nprobe = true\nirq = true\n\
                [bmc]\npreset = \"qemu\"\n[[fault]]\nkind = \"stuck-busy\"\nat_command = 3\n";
    let mut sc = Scenario::from_toml_str(text).unwrap();
    let stock = run(&sc);
    let enables_done: Vec<f64> = stock
        .completions
        .iter()
        .filter(|c| c.request.get(1) == Some(&0x2F))
        .map(|c| secs(c.completed))
        .collect();
    assert_eq!(enables_done, [10.004], "only the first, which timed out");
    assert!(stock
        .pending
        .iter()
        .any(|p| p.request.get(1) == Some(&0x2F) && p.started.is_some_and(|s| secs(s) < 10.1)));
    sc.driver.kernel = KernelPreset::FIXED_B8;
    let fixed = run(&sc);
    let ccs: Vec<(u8, f64)> = fixed
        .completions
        .iter()
        .filter(|c| c.request.get(1) == Some(&0x2F))
        .map(|c| (c.cc.0, secs(c.completed)))
        .collect();
    assert_eq!(ccs, [(0xC0, 10.004); 3]);
    assert!(fixed.registered);
    assert!(log_has(
        &fixed,
        "Invalid return from get global enables command, cannot enable the event buffer"
    ));
}
