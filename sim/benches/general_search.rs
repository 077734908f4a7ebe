//! Time to the first counterexample of each historical bug in the general
//! search (issue #11 item 4): no hint, every core, ten seeds per bug.
//!
//! `cargo bench -p bmc-sim --features explore --bench general_search`
//!
//! Before the criterion groups it prints, per bug, the median and the
//! maximum over seeds 1–10 of the wall time and of the runs to the first
//! counterexample carrying that bug's label ([`classify`]); criterion then
//! measures the same searches (one seed per iteration, cycling 1–10).
//!
//! [`classify`]: bmc_sim::explore::classify

use std::time::{Duration, Instant};

use bmc_sim::explore::campaign::{run_campaign, Campaign};
use bmc_sim::scenario::KernelPreset;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode};

/// Each bug and the preset that carries it.
const TARGETS: [(&str, KernelPreset); 5] = [
    ("B-3", KernelPreset::V2_6_12),
    ("B-4", KernelPreset::MAINLINE),
    ("B-6", KernelPreset::V3_13),
    ("B-8", KernelPreset::V4_19),
    ("B-13", KernelPreset::V3_13),
];

/// Cases allowed per search (a search that finds nothing counts as this).
const CASES: u64 = 20_000;

/// (wall time, runs) to the first counterexample labelled `bug`.
fn first(bug: &'static str, kernel: KernelPreset, seed: u64) -> (Duration, Option<u64>) {
    let c = Campaign {
        want: Some(bug),
        minimize: false,
        ..Campaign::new(kernel, seed, CASES)
    };
    let t = Instant::now();
    let r = run_campaign(&c, None, &mut |_| {});
    (t.elapsed(), r.found.first().map(|f| f.runs_to_find))
}

fn report() {
    eprintln!("general search, time to first counterexample over seeds 1-10 ({CASES} cases max):");
    for (bug, k) in TARGETS {
        let mut times = Vec::new();
        let mut runs = Vec::new();
        let mut missed = 0;
        for seed in 1..=10 {
            let (t, r) = first(bug, k, seed);
            times.push(t);
            match r {
                Some(n) => runs.push(n),
                None => missed += 1,
            }
        }
        times.sort();
        runs.sort_unstable();
        let median = |v: &[Duration]| (v[4] + v[5]) / 2;
        eprintln!(
            "  {bug} on {}: median {:.0} ms, max {:.0} ms; runs median {}, max {}; not found {missed}/10",
            k.name,
            median(&times).as_secs_f64() * 1e3,
            times[9].as_secs_f64() * 1e3,
            runs.get(runs.len() / 2).copied().unwrap_or(0),
            runs.last().copied().unwrap_or(0),
        );
    }
}

fn time_to_first(c: &mut Criterion) {
    report();
    let mut g = c.benchmark_group("general_search_first_counterexample");
    g.sample_size(10).sampling_mode(SamplingMode::Flat);
    for (bug, k) in TARGETS {
        let mut seed = 0u64;
        g.bench_function(BenchmarkId::new(bug, k.name), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    seed = seed % 10 + 1;
                    total += first(bug, k, seed).0;
                }
                total
            })
        });
    }
    g.finish();
}

criterion_group!(benches, time_to_first);
criterion_main!(benches);
