//! Speed of the whole simulated stack (SI-layer loop + `BtSm` + `SimBmc`
//! through the scenario runner), the figures of issue #11:
//!
//! * `stack/get_device_id/{polling,interrupt}`: 10,000 back-to-back Get
//!   Device ID requests in one scenario run; throughput is completed BT
//!   transactions per second of wall time. The `_all_cores` variants run one
//!   such scenario on each core at once.
//! * `runs/mixed/{1_thread,all_cores}`: 64 scenarios drawn with seed 1 from
//!   the explore `mixed` space (mainline kernel), every one run to its stop
//!   time; throughput is scenario runs per second of wall time, on one
//!   thread and on one thread per core (each thread runs the 64).
//! * `runs/general/{1_thread,all_cores}`: 1,024 scenarios drawn with seed 1
//!   from the `general` space (preset `fixed-b8`, the search's default
//!   space), every one run to its stop time; throughput is scenario runs per
//!   second of wall time, on one thread and shared out over one thread per
//!   core (issue #11: at least 5,000 per second on both cores). The search
//!   itself adds property checks, coverage and mutation on top.
//!
//! `cargo bench -p bmc-sim --bench stack -- --warm-up-time 1 --measurement-time 4`
//!
//! For instruction counts, one iteration of each:
//! `valgrind --tool=callgrind target/release/deps/stack-* --bench --test`.

use std::thread;

use bmc_sim::explore::{runner_for, strategy, ExploreConfig, Space};
use bmc_sim::scenario::{run, KernelPreset, Scenario};
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use proptest::strategy::{Strategy, ValueTree};

/// Back-to-back Get Device ID requests per run.
const N: u32 = 10_000;
/// Scenarios in the mixed set.
const MIXED: usize = 64;
/// Scenarios in the general set.
const GENERAL: usize = 1024;

/// `N` back-to-back Get Device ID requests, polling or on interrupt.
fn get_device_id_run(irq: bool) -> Scenario {
    Scenario::from_toml_str(&format!(
        "name = \"tps\"\nstop = \"1h\"\n[driver]\nirq = {irq}\n[[request]]\nat = \"1ms\"\nnetfn = 0x06\ncmd = 0x01\nrepeat = {N}\n"
    ))
    .unwrap_or_else(|e| panic!("{e}"))
}

/// Run `sc` and check that all `N` transactions completed.
fn run_checked(sc: &Scenario) -> usize {
    let n = black_box(run(sc)).completions.len();
    assert_eq!(n, N as usize);
    n
}

fn transactions(c: &mut Criterion) {
    let cores = thread::available_parallelism().map_or(1, |n| n.get());
    let mut g = c.benchmark_group("stack");
    for (label, irq) in [("polling", false), ("interrupt", true)] {
        let sc = get_device_id_run(irq);
        g.throughput(Throughput::Elements(u64::from(N)));
        g.bench_function(BenchmarkId::new("get_device_id", label), |b| {
            b.iter(|| run_checked(&sc))
        });
        // One independent run per core at once: what a search or a batch
        // of scenarios gets from the whole machine.
        g.throughput(Throughput::Elements(u64::from(N) * cores as u64));
        g.bench_function(
            BenchmarkId::new("get_device_id", format!("{label}_all_cores")),
            |b| b.iter(|| on_threads(cores, |_| run_checked(&sc))),
        );
    }
    g.finish();
}

/// The first `n` scenarios proptest draws from `space` for `kernel` with
/// seed 1 (no shrinking, no property check).
fn drawn_set(space: Space, kernel: KernelPreset, n: usize) -> Vec<Scenario> {
    let cfg = ExploreConfig {
        space,
        ..ExploreConfig::default()
    };
    let mut runner = runner_for(&cfg);
    let strat = strategy(space, kernel);
    (0..n)
        .map(|_| {
            strat
                .new_tree(&mut runner)
                .unwrap_or_else(|e| panic!("{e}"))
                .current()
        })
        .collect()
}

/// `work(i)` for every `i` in `0..n`, each on its own thread at once; the
/// sum of the results.
fn on_threads(n: usize, work: impl Fn(usize) -> usize + Sync) -> usize {
    thread::scope(|s| {
        let work = &work;
        let hs: Vec<_> = (0..n).map(|i| s.spawn(move || work(i))).collect();
        hs.into_iter().map(|h| h.join().unwrap_or_default()).sum()
    })
}

fn run_all(set: &[Scenario]) -> usize {
    set.iter()
        .map(|sc| black_box(run(sc)).completions.len())
        .sum()
}

fn scenario_runs(c: &mut Criterion) {
    let set = drawn_set(Space::Mixed, KernelPreset::MAINLINE, MIXED);
    let cores = thread::available_parallelism().map_or(1, |n| n.get());
    let mut g = c.benchmark_group("runs");
    g.sample_size(10);
    g.throughput(Throughput::Elements(MIXED as u64));
    g.bench_function(BenchmarkId::new("mixed", "1_thread"), |b| {
        b.iter(|| run_all(&set))
    });
    g.throughput(Throughput::Elements((MIXED * cores) as u64));
    g.bench_function(BenchmarkId::new("mixed", "all_cores"), |b| {
        b.iter(|| on_threads(cores, |_| run_all(&set)))
    });
    let general = drawn_set(Space::General, KernelPreset::FIXED_B8, GENERAL);
    g.throughput(Throughput::Elements(GENERAL as u64));
    g.bench_function(BenchmarkId::new("general", "1_thread"), |b| {
        b.iter(|| run_all(&general))
    });
    let parts: Vec<&[Scenario]> = general.chunks(GENERAL.div_ceil(cores)).collect();
    g.bench_function(BenchmarkId::new("general", "all_cores"), |b| {
        b.iter(|| on_threads(parts.len(), |i| parts.get(i).map_or(0, |p| run_all(p))))
    });
    g.finish();
}

criterion_group!(benches, transactions, scenario_runs);
criterion_main!(benches);
