//! The general search (issue #11): bounded runs that find known bugs with
//! no hint, determinism, sharding, and the found scenarios as regression
//! tests (`sim/scenarios/found/`).
#![cfg(feature = "explore")]

use std::collections::BTreeSet;
use std::path::PathBuf;

use bmc_sim::explore::campaign::{case, run_campaign, Campaign};
use bmc_sim::explore::results::merge;
use bmc_sim::explore::{check, classify, run_guarded, Property};
use bmc_sim::scenario::Scenario;
use bmc_sim::KernelPreset;

fn quick(kernel: KernelPreset, seed: u64, cases: u64, want: &'static str) -> Campaign {
    Campaign {
        want: Some(want),
        minimize: false,
        ..Campaign::new(kernel, seed, cases)
    }
}

/// B-6, B-4, B-8, B-3 and B-13 come out of the general space with fixed seeds,
/// labelled as such (bounded version of issue #11 item 4; the benchmark
/// `general_search` measures all five bugs over ten seeds).
#[test]
fn finds_known_bugs_with_no_hint() {
    for (kernel, seed, want) in [
        (KernelPreset::V3_13, 1, "B-6"),
        (KernelPreset::MAINLINE, 2, "B-4"),
        (KernelPreset::V4_19, 1, "B-8"),
        (KernelPreset::V2_6_12, 1, "B-3"),
        (KernelPreset::V3_13, 1, "B-13"),
    ] {
        let r = run_campaign(&quick(kernel, seed, 4096, want), None, &mut |_| {});
        let f = r
            .found
            .first()
            .unwrap_or_else(|| panic!("{want} not found on {} in {} runs", kernel.name, r.runs));
        assert_eq!(f.bug, want);
        // The counterexample replays to the same label.
        let sc = Scenario::from_toml_str(&f.scenario).unwrap();
        let t = run_guarded(&sc, None);
        let v = check(Property::All, &sc, &t).unwrap_err();
        assert_eq!(classify(&v, &sc, &t), want, "{v}");
    }
}

/// The same seed gives the same search whatever the thread count.
#[test]
fn results_do_not_depend_on_the_thread_count() {
    let mut a = Campaign::new(KernelPreset::V3_13, 5, 24);
    a.keep_going = true;
    a.minimize = false;
    a.threads = 1;
    let mut b = a;
    b.threads = 3;
    let (ra, rb) = (
        run_campaign(&a, None, &mut |_| {}),
        run_campaign(&b, None, &mut |_| {}),
    );
    assert_eq!(ra.coverage, rb.coverage);
    assert_eq!(ra.corpus, rb.corpus);
    assert_eq!(ra.found, rb.found);
    assert!(ra.runs > 24, "mutants ran too: {}", ra.runs);
}

/// N shards run exactly the fresh schedules of one unsharded run, and
/// their merged result says so (issue #11 item 6).
#[test]
fn shards_cover_exactly_the_unsharded_schedules() {
    let cases = 30;
    let mut whole = Campaign::new(KernelPreset::FIXED_B8, 9, cases);
    whole.fingerprints = true;
    whole.keep_going = true;
    whole.minimize = false;
    whole.mutate_per_mille = 0;
    let all = run_campaign(&whole, None, &mut |_| {});
    let parts: Vec<_> = (0..3)
        .map(|i| {
            let c = Campaign {
                shard: i,
                of: 3,
                ..whole
            };
            run_campaign(&c, None, &mut |_| {})
        })
        .collect();
    let mut sharded: Vec<(u64, u64)> = parts.iter().flat_map(|p| p.schedules.clone()).collect();
    sharded.sort_unstable();
    assert_eq!(sharded.len(), cases as usize);
    assert_eq!(sharded, all.schedules);
    let m = merge(&parts).unwrap();
    assert_eq!(m.shards, vec![0, 1, 2]);
    assert_eq!(m.schedules, all.schedules);
    assert_eq!(m.fresh, cases);
    // Without mutants the coverage is a function of the schedules alone.
    assert_eq!(m.coverage, all.coverage);
    let labels = |r: &bmc_sim::explore::results::ShardResult| {
        r.found
            .iter()
            .map(|f| f.bug.clone())
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(labels(&m), labels(&all));
    // Case i is the same schedule wherever it runs.
    assert_eq!(
        case(KernelPreset::FIXED_B8, 9, 7),
        case(KernelPreset::FIXED_B8, 9, 7)
    );
}

fn found_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/found")
}

/// Every scenario under `sim/scenarios/found/` with an `# expect:` line
/// shows the violation that line names on its own kernel, and the property
/// it broke holds on each preset its `# fixed-by:` line names; `# expect:
/// none` marks a false alarm the properties once raised: no violation.
#[test]
fn found_scenarios_show_their_violation() {
    let mut n = 0;
    let mut n_ok = 0;
    let mut files: Vec<_> = std::fs::read_dir(found_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    for p in files {
        let text = std::fs::read_to_string(&p).unwrap();
        let Some(expect) = text
            .lines()
            .find_map(|l| l.strip_prefix("# expect: "))
            .map(str::trim)
        else {
            continue;
        };
        let sc = Scenario::from_toml_str(&text).unwrap();
        let t = run_guarded(&sc, None);
        if expect == "none" {
            // A false alarm the properties once raised: the kernel behaved.
            if let Err(v) = check(Property::All, &sc, &t) {
                panic!("{}: {v}", p.display());
            }
            n_ok += 1;
            continue;
        }
        let v = check(Property::All, &sc, &t).expect_err(&format!("{}: no violation", p.display()));
        assert_eq!(classify(&v, &sc, &t), expect, "{}: {v}", p.display());
        if v.property == Property::NoLivelock {
            // A plain run (no search guard) stops on the SI model's own
            // livelock limit and shows the same violation.
            let t = bmc_sim::scenario::run(&sc);
            let w = check(Property::NoLivelock, &sc, &t).unwrap_err();
            assert_eq!(classify(&w, &sc, &t), expect, "{}: {w}", p.display());
        }
        for fixed in text
            .lines()
            .filter_map(|l| l.strip_prefix("# fixed-by: "))
            .flat_map(|l| l.split_whitespace())
        {
            let mut f = sc.clone();
            f.driver.kernel = KernelPreset::from_name(fixed).unwrap();
            let t = run_guarded(&f, None);
            // The fix removes this violation: the same property holds.
            if let Err(w) = check(v.property, &f, &t) {
                panic!("{} on {fixed}: {w}", p.display());
            }
        }
        n += 1;
    }
    assert!(n >= 5, "only {n} found scenarios with an `# expect:` line");
    assert!(n_ok >= 4, "only {n_ok} `# expect: none` scenarios");
}

#[test]
#[ignore = "exploration: prints what the general search finds per preset (CASES=2000)"]
fn survey() {
    let cases: u64 = std::env::var("CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    for k in KernelPreset::ALL {
        let mut c = Campaign::new(*k, 1, cases);
        c.keep_going = true;
        let r = run_campaign(&c, None, &mut |_| {});
        println!(
            "{}: runs {} coverage {} corpus {} {:.1}s",
            k.name,
            r.runs,
            r.coverage.len(),
            r.corpus.len(),
            r.elapsed_s
        );
        for f in &r.found {
            println!("  {} at case {}: {}", f.bug, f.case, f.violation);
        }
    }
}
