//! Issue #12, "proven, not hoped": bmcwd's petting daemon (the
//! `ipmi_watchdog::PetPolicy` that `bmcwd daemon` runs) inside the
//! simulation, against BMC outages drawn by the search engine
//! (`bmc_sim::explore::daemon_search`). Within the bound computed from the
//! timeout, the interval, the backoff cap and the kernel's worst case
//! (`PolicyConfig::max_outage`), the watchdog never expires and every
//! terminating signal with `--on-exit stop` leaves the timer stopped; past
//! the bound the search finds an expiry (the property can fail).

use std::time::Duration;

use bmc_sim::explore::{check_daemon, daemon_search, DaemonSearch, ExploreConfig};
use bmc_sim::scenario::kernel_worst_case;
use bmc_sim::{BtCapabilities, KernelPreset};

fn search(max_outage: Duration, cases: u32) -> DaemonSearch {
    DaemonSearch {
        kernel: KernelPreset::MAINLINE,
        timeout: Duration::from_secs(60),
        interval: Duration::from_secs(20),
        max_backoff: Duration::from_secs(8),
        max_outage,
        explore: ExploreConfig {
            cases,
            seed: 12,
            max_shrink_iters: 64,
            ..ExploreConfig::default()
        },
    }
}

#[test]
fn the_bound_is_timeout_minus_interval_kernel_worst_case_and_backoff() {
    let k = kernel_worst_case(KernelPreset::MAINLINE, BtCapabilities::DEFAULT);
    // 2 × 5 s timeouts + 6 s reset hold-off + 5 s LONG_BUSY.
    assert_eq!(k.message(), Duration::from_secs(21));
    // 60 - 20 - 21 - 8 - 1 s of slack.
    assert_eq!(
        search(Duration::ZERO, 1).bound(),
        Some(Duration::from_secs(10))
    );
    let policy = search(Duration::ZERO, 1).daemon().policy();
    assert_eq!(policy.worst_pet_gap(&k), Duration::from_millis(42_500));
    assert!(!policy.can_reset_healthy_host(&k));
}

#[test]
fn within_the_bound_the_daemon_never_lets_the_watchdog_expire() {
    let bound = search(Duration::ZERO, 1).bound().unwrap();
    let out = daemon_search(&search(bound, 64));
    assert!(
        out.counterexample.is_none(),
        "{}",
        out.counterexample
            .map(|c| c.to_toml_string())
            .unwrap_or_default()
    );
    assert!(out.cases_tried >= 64);
}

#[test]
fn past_the_bound_the_search_finds_an_expiry() {
    let out = daemon_search(&search(Duration::from_secs(60), 24));
    let sc = out
        .counterexample
        .expect("an outage of up to 60 s must reset the host");
    let why = check_daemon(&sc).unwrap_err();
    assert!(why.contains("the BMC watchdog expired"), "{why}");
}
