//! Simulator speed: transactions per second through the whole host stack
//! (SI-layer model + BT state machine + simulated BMC), simulated seconds per
//! wall second for a day-long disconnect, and the time the property search
//! needs to find each historical bug.
//!
//! `cargo bench -p bmc-sim --bench simulation`

use std::path::PathBuf;

use bmc_sim::explore::{search, ExploreConfig, Property, Space};
use bmc_sim::scenario::run;
use bmc_sim::scenario::{KernelPreset, Scenario};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

fn scenario(name: &str) -> Scenario {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(format!("{name}.toml"));
    Scenario::load(&p).unwrap_or_else(|e| panic!("{e}"))
}

/// 10 000 back-to-back Get Device ID requests against a BMC answering in 1 ms.
fn transactions(c: &mut Criterion) {
    const N: u32 = 10_000;
    let mut g = c.benchmark_group("transactions");
    for (label, irq) in [("polling", false), ("interrupt", true)] {
        let sc = Scenario::from_toml_str(&format!(
            "name = \"tps\"\nstop = \"1h\"\n[driver]\nirq = {irq}\n[[request]]\nat = \"1ms\"\nnetfn = 0x06\ncmd = 0x01\nrepeat = {N}\n"
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        let t = run(&sc);
        assert_eq!(
            t.completions.iter().filter(|c| c.cc.is_ok()).count(),
            N as usize
        );
        g.throughput(Throughput::Elements(u64::from(N)));
        g.bench_function(BenchmarkId::new("get_device_id", label), |b| {
            b.iter(|| run(&sc))
        });
    }
    g.finish();
}

/// The shipped 24 h disconnect: throughput is simulated seconds per wall second.
fn disconnect_24h(c: &mut Criterion) {
    let sc = scenario("24h-disconnect");
    let mut g = c.benchmark_group("disconnect");
    g.sample_size(10);
    g.throughput(Throughput::Elements(sc.stop.as_secs()));
    g.bench_function("24h_silent_bmc_sim_seconds", |b| b.iter(|| run(&sc)));
    g.finish();
}

/// Wall time of a full search (find + shrink) per historical bug, fixed seed.
fn time_to_find(c: &mut Criterion) {
    let mut g = c.benchmark_group("explore");
    g.sample_size(10);
    for (bug, space, kernel) in [
        (
            "B-4_mainline",
            Space::SilenceAtCommand,
            KernelPreset::MAINLINE,
        ),
        ("B-6_v3.14", Space::CapsWindow, KernelPreset::V3_14),
        ("B-3_v3.13", Space::DeadAtProbe, KernelPreset::V3_13),
        ("B-8_mainline", Space::StuckB2h, KernelPreset::MAINLINE),
    ] {
        let cfg = ExploreConfig {
            space,
            cases: 256,
            seed: 1,
            max_shrink_iters: 256,
        };
        let o = search(kernel, Property::Liveness, &cfg);
        assert!(o.counterexample.is_some(), "{bug}");
        eprintln!(
            "{bug}: first failure after {} runs ({:?}); {} runs with shrinking",
            o.runs_to_first_failure.unwrap_or(0),
            o.time_to_first_failure.unwrap_or_default(),
            o.cases_tried
        );
        g.bench_function(bug, |b| b.iter(|| search(kernel, Property::Liveness, &cfg)));
    }
    g.finish();
}

criterion_group!(benches, transactions, disconnect_24h, time_to_find);
criterion_main!(benches);
