//! The general search: fresh draws from [`general::strategy`] and mutants of
//! a coverage corpus, on every core, sharded, deterministic.
//!
//! * Case `i` (0-based, `i < cases`) is the scenario drawn from the general
//!   strategy with a proptest runner seeded from `(seed, i)` only, so the
//!   same case is the same schedule whatever the shard count, thread count
//!   or order. Shard `I/N` runs the cases with `i % N == I`.
//! * Cases run in batches (16, 32, … up to 256 fresh cases). Before a batch,
//!   each of its fresh cases brings a mutant of the corpus with the
//!   configured probability (drawn from `(seed, i)`; parents from the corpus
//!   as it stood before the batch). The batch runs on `threads` worker
//!   threads; its results are then taken in case order: new coverage puts the
//!   schedule in the corpus, a violation is kept if its known-bug label is
//!   new. The outcome depends on seed, case count and shard only.
//! * A fresh counterexample is shrunk by proptest (its value tree, rebuilt
//!   from `(seed, i)`) and then structurally (drop a fault or a workload
//!   entry, fewer copies, shorter run, simpler driver), keeping the same
//!   property and label; a mutant one structurally only.

use core::time::Duration;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use super::coverage::{self, Coverage};
use super::general;
use super::props::{classify, run_guarded};
use super::results::{Found, ShardResult};
use super::{check, MakeStateMachine, Property, Violation};
use crate::rng::SplitMix64;
use crate::scenario::{KernelPreset, Scenario, Trace};

/// Settings of a general search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Campaign {
    /// Kernel preset under test.
    pub kernel: KernelPreset,
    /// Property to check ([`Property::All`] by default).
    pub property: Property,
    /// Seed of the whole search.
    pub seed: u64,
    /// Case indices of the whole search (all shards together).
    pub cases: u64,
    /// This shard's index.
    pub shard: u32,
    /// The number of shards.
    pub of: u32,
    /// Worker threads (0: one per core).
    pub threads: usize,
    /// Share of fresh cases that also bring a mutant of the corpus (‰).
    pub mutate_per_mille: u16,
    /// Go on after the first counterexample, keeping one per known-bug label.
    pub keep_going: bool,
    /// proptest shrink steps for a counterexample.
    pub max_shrink_iters: u32,
    /// Record every fresh schedule's fingerprint in the result.
    pub fingerprints: bool,
    /// Look for this known-bug label only ([`classify`]; `B-4`, `new`, …):
    /// other violations are counted as passes, and the search stops at the
    /// first of this one. For benchmarks and bounded tests.
    pub want: Option<&'static str>,
    /// Shrink and reduce counterexamples (off: report them as drawn; the
    /// time-to-find benchmark turns it off).
    pub minimize: bool,
}

impl Campaign {
    /// A one-shard search of `cases` cases of `kernel` for [`Property::All`].
    pub fn new(kernel: KernelPreset, seed: u64, cases: u64) -> Self {
        Self {
            kernel,
            property: Property::All,
            seed,
            cases,
            shard: 0,
            of: 1,
            threads: 0,
            mutate_per_mille: 500,
            keep_going: false,
            max_shrink_iters: 256,
            fingerprints: false,
            want: None,
            minimize: true,
        }
    }
}

/// Progress of a general search, after each batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CampaignProgress {
    /// Fresh cases of this shard done.
    pub done: u64,
    /// Fresh cases of this shard in all.
    pub total: u64,
    /// Scenarios run (fresh, mutants, shrink steps).
    pub runs: u64,
    /// Coverage items reached.
    pub coverage: usize,
    /// Corpus size.
    pub corpus: usize,
    /// Counterexamples kept.
    pub found: usize,
    /// Wall time so far.
    pub elapsed: Duration,
}

/// SplitMix64 of `(seed, i, salt)`.
fn mix(seed: u64, i: u64, salt: u64) -> SplitMix64 {
    let mut r = SplitMix64::new(seed ^ salt.rotate_left(17));
    let a = r.next_u64();
    SplitMix64::new(a ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

fn runner_for_case(seed: u64, i: u64) -> TestRunner {
    let mut r = mix(seed, i, 1);
    let mut bytes = [0u8; 32];
    for chunk in bytes.chunks_mut(8) {
        chunk.copy_from_slice(&r.next_u64().to_le_bytes());
    }
    TestRunner::new_with_rng(
        Config {
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &bytes),
    )
}

/// Case `i` of the general search for `kernel` with `seed` (`None` only
/// if proptest refused to draw, which the filterless strategy never does).
pub fn case(kernel: KernelPreset, seed: u64, i: u64) -> Option<Scenario> {
    general::strategy(kernel)
        .new_tree(&mut runner_for_case(seed, i))
        .ok()
        .map(|t| t.current())
}

/// A stable fingerprint of a scenario (FNV-1a of its TOML text).
pub fn fingerprint(sc: &Scenario) -> u64 {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    for b in sc.to_toml_string().bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    h
}

/// One job of a batch.
struct Job {
    case: u64,
    scenario: Scenario,
    mutant: bool,
}

/// What a job's run gave.
struct Outcome {
    coverage: Coverage,
    violation: Option<(Violation, &'static str)>,
    inconclusive: bool,
}

fn evaluate(
    c: &Campaign,
    sc: &Scenario,
    make: Option<MakeStateMachine<'_>>,
) -> (Trace, Result<(), Violation>) {
    let trace = run_guarded(sc, make);
    let r = check(c.property, sc, &trace);
    (trace, r)
}

fn run_job(c: &Campaign, job: &Job, make: Option<MakeStateMachine<'_>>) -> Outcome {
    let (trace, r) = evaluate(c, &job.scenario, make);
    let violation = r
        .err()
        .map(|v| {
            let bug = classify(&v, &job.scenario, &trace);
            (v, bug)
        })
        .filter(|(_, bug)| c.want.is_none_or(|w| w == *bug));
    Outcome {
        coverage: coverage::of_trace(&trace),
        inconclusive: violation.is_none() && trace.truncated.is_some(),
        violation,
    }
}

/// Whether `sc` still shows a violation of `property` labelled `bug`.
fn still_fails(
    c: &Campaign,
    sc: &Scenario,
    bug: &str,
    make: Option<MakeStateMachine<'_>>,
    runs: &mut u64,
) -> Option<Violation> {
    *runs += 1;
    let (trace, r) = evaluate(c, sc, make);
    match r {
        Err(v) if classify(&v, sc, &trace) == bug => Some(v),
        _ => None,
    }
}

/// Structural reduction: drop faults, workload entries and settings while
/// the same violation stays.
fn reduce(
    c: &Campaign,
    mut sc: Scenario,
    mut v: Violation,
    bug: &str,
    make: Option<MakeStateMachine<'_>>,
    runs: &mut u64,
) -> (Scenario, Violation) {
    let mut budget = 200u32;
    let mut changed = true;
    while changed && budget > 0 {
        changed = false;
        let mut candidates: Vec<Scenario> = Vec::new();
        for i in 0..sc.faults.len() {
            let mut m = sc.clone();
            m.faults.remove(i);
            candidates.push(m);
        }
        for i in 0..sc.requests.len() {
            if sc.requests.len() > 1 {
                let mut m = sc.clone();
                m.requests.remove(i);
                candidates.push(m);
            }
            if sc.requests.get(i).is_some_and(|r| r.repeat > 1) {
                let mut m = sc.clone();
                if let Some(r) = m.requests.get_mut(i) {
                    r.repeat = r.repeat.div_ceil(2);
                }
                candidates.push(m);
            }
        }
        let mut m = sc.clone();
        m.stop = (v.started + v.waited + super::bound(&sc)).min(sc.stop);
        if m.stop < sc.stop {
            candidates.push(m);
        }
        for f in [
            |m: &mut Scenario| m.driver.unload_at = None,
            |m: &mut Scenario| m.driver.irq = false,
            |m: &mut Scenario| m.driver.probe = false,
            |m: &mut Scenario| m.bmc.jitter = None,
            |m: &mut Scenario| m.bmc.latency = None,
            |m: &mut Scenario| m.bmc.take_latency = None,
            |m: &mut Scenario| m.bmc.preset = crate::scenario::BmcPreset::Default,
            |m: &mut Scenario| m.seed = 0,
        ] {
            let mut m = sc.clone();
            f(&mut m);
            if m != sc {
                candidates.push(m);
            }
        }
        for m in candidates {
            if budget == 0 {
                break;
            }
            budget -= 1;
            if let Some(w) = still_fails(c, &m, bug, make, runs) {
                sc = m;
                v = w;
                changed = true;
                break;
            }
        }
    }
    (sc, v)
}

/// Shrinks case `i`'s counterexample with proptest, then structurally.
fn shrink(
    c: &Campaign,
    job: &Job,
    v: Violation,
    bug: &'static str,
    make: Option<MakeStateMachine<'_>>,
    runs: &mut u64,
) -> (Scenario, Violation) {
    let (mut best, mut best_v) = (job.scenario.clone(), v);
    if !c.minimize {
        return (best, best_v);
    }
    if !job.mutant {
        if let Ok(mut tree) =
            general::strategy(c.kernel).new_tree(&mut runner_for_case(c.seed, job.case))
        {
            let mut iters = 0;
            if tree.simplify() {
                while iters < c.max_shrink_iters {
                    iters += 1;
                    let cand = tree.current();
                    if let Some(w) = still_fails(c, &cand, bug, make, runs) {
                        best = cand;
                        best_v = w;
                        if !tree.simplify() {
                            break;
                        }
                    } else if !tree.complicate() {
                        break;
                    }
                }
            }
        }
    }
    reduce(c, best, best_v, bug, make, runs)
}

/// Runs the jobs on `threads` workers (or here, with a state machine maker
/// that cannot cross threads); results in job order.
fn run_batch(
    c: &Campaign,
    jobs: &[Job],
    threads: usize,
    make: Option<MakeStateMachine<'_>>,
) -> Vec<Outcome> {
    if make.is_some() || threads <= 1 || jobs.len() <= 1 {
        return jobs.iter().map(|j| run_job(c, j, make)).collect();
    }
    let next = AtomicUsize::new(0);
    let slots: Mutex<Vec<Option<Outcome>>> = Mutex::new((0..jobs.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..threads.min(jobs.len()) {
            s.spawn(|| loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                let Some(job) = jobs.get(k) else { break };
                let o = run_job(c, job, None);
                if let Ok(mut v) = slots.lock() {
                    if let Some(slot) = v.get_mut(k) {
                        *slot = Some(o);
                    }
                }
            });
        }
    });
    slots
        .into_inner()
        .unwrap_or_default()
        .into_iter()
        .flatten()
        .collect()
}

/// Runs the general search `c` (its shard), calling `progress` after every
/// batch. `make` runs every scenario on another state machine (the C
/// harness); the search then runs on this thread only.
pub fn run_campaign(
    c: &Campaign,
    make: Option<MakeStateMachine<'_>>,
    progress: &mut dyn FnMut(&CampaignProgress),
) -> ShardResult {
    let start = Instant::now();
    let threads = match c.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let of = u64::from(c.of.max(1));
    let shard = u64::from(c.shard);
    let total = if shard < c.cases {
        (c.cases - shard).div_ceil(of)
    } else {
        0
    };
    let mut res = ShardResult {
        kernel: c.kernel.name.into(),
        property: c.property.name().into(),
        seed: c.seed,
        shards: vec![c.shard],
        of: c.of.max(1),
        cases: c.cases,
        runs: 0,
        fresh: 0,
        mutants: 0,
        inconclusive: 0,
        coverage: Vec::new(),
        corpus: Vec::new(),
        found: Vec::new(),
        schedules: Vec::new(),
        elapsed_s: 0.0,
    };
    let mut cov = Coverage::new();
    let mut corpus: Vec<Scenario> = Vec::new();
    let mut done = 0u64;
    let mut batch = 16u64;
    let mut stop = false;
    while done < total && !stop {
        let n = batch.min(total - done);
        let mut jobs = Vec::with_capacity(usize::try_from(2 * n).unwrap_or(0));
        for k in done..done + n {
            let i = shard + k * of;
            let Some(sc) = case(c.kernel, c.seed, i) else {
                continue;
            };
            if c.fingerprints {
                res.schedules.push((i, fingerprint(&sc)));
            }
            jobs.push(Job {
                case: i,
                scenario: sc,
                mutant: false,
            });
            let mut r = mix(c.seed, i, 2);
            if !corpus.is_empty() && r.chance_per_mille(c.mutate_per_mille) {
                let len = corpus.len() as u64;
                let a = usize::try_from(r.below(len)).unwrap_or(0);
                let b = usize::try_from(r.below(len)).unwrap_or(0);
                if let (Some(pa), Some(pb)) = (corpus.get(a), corpus.get(b)) {
                    jobs.push(Job {
                        case: i,
                        scenario: general::mutate(pa, pb, &mut r),
                        mutant: true,
                    });
                }
            }
        }
        let outcomes = run_batch(c, &jobs, threads, make);
        for (job, o) in jobs.iter().zip(outcomes) {
            res.runs += 1;
            if job.mutant {
                res.mutants += 1;
            } else {
                res.fresh += 1;
            }
            if o.inconclusive {
                res.inconclusive += 1;
            }
            let before = cov.len();
            cov.extend(o.coverage.iter().copied());
            if cov.len() > before {
                corpus.push(job.scenario.clone());
            }
            if let Some((v, bug)) = o.violation {
                if stop || (!c.keep_going && !res.found.is_empty()) {
                    continue;
                }
                if res.found.iter().any(|f| f.bug == bug) {
                    continue;
                }
                let runs_to_find = res.runs;
                let mut shrink_runs = 0;
                let (mut sc, v) = shrink(c, job, v, bug, make, &mut shrink_runs);
                res.runs += shrink_runs;
                sc.name = format!("found-{}", bug.to_ascii_lowercase());
                sc.description = format!(
                    "counterexample for kernel {} found by the general search (seed {}, case {}{}): \
                     {bug}: {v}",
                    c.kernel.name,
                    c.seed,
                    job.case,
                    if job.mutant { ", mutant" } else { "" }
                );
                res.found.push(Found {
                    case: job.case,
                    mutant: job.mutant,
                    runs_to_find,
                    bug: bug.into(),
                    property: v.property.name().into(),
                    violation: v.to_string(),
                    scenario: sc.to_toml_string(),
                });
                if !c.keep_going {
                    stop = true;
                }
            }
        }
        done += n;
        batch = (batch * 2).min(256);
        progress(&CampaignProgress {
            done,
            total,
            runs: res.runs,
            coverage: cov.len(),
            corpus: corpus.len(),
            found: res.found.len(),
            elapsed: start.elapsed(),
        });
    }
    res.coverage = cov.into_iter().collect();
    res.corpus = corpus.iter().map(Scenario::to_toml_string).collect();
    res.elapsed_s = start.elapsed().as_secs_f64();
    res
}
