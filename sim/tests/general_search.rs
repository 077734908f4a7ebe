//! The general search (issue #11): bounded runs that find the known bugs
//! with no hint, determinism and sharding.
#![cfg(feature = "explore")]

use bmc_sim::explore::campaign::{run_campaign, Campaign};
use bmc_sim::explore::results::merge;
use bmc_sim::KernelPreset;

#[test]
#[ignore = "exploration: prints what the general search finds per preset"]
fn survey() {
    let cases: u64 = std::env::var("CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(2000);
    for k in KernelPreset::ALL {
        for seed in 1..=3 {
            let mut c = Campaign::new(*k, seed, cases);
            c.keep_going = true;
            let r = run_campaign(&c, None, &mut |_| {});
            let found: Vec<String> = r
                .found
                .iter()
                .map(|f| format!("{}@{}({})", f.bug, f.runs_to_find, f.violation.chars().take(90).collect::<String>()))
                .collect();
            println!(
                "{} seed {seed}: runs {} cov {} corpus {} inconcl {} {:.1}s found {:?}",
                k.name, r.runs, r.coverage.len(), r.corpus.len(), r.inconclusive, r.elapsed_s, found
            );
        }
    }
    let _ = merge;
}
