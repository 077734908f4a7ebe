//! The probe sequence of the SI-layer model: bt_detect, try_get_dev_id with the
//! profile's retries, and what a missing device or BMC looks like in the log.

use bmc_sim::scenario::run;
use bmc_sim::scenario::{KernelPreset, Scenario};
use bmc_sim::Origin;
use bmcwd_integration_tests::lines_with;

fn probe_scenario(kernel: &str, fault: &str) -> Scenario {
    Scenario::from_toml_str(&format!(
        "name = \"probe\"\nstop = \"120s\"\n[driver]\nkernel = \"{kernel}\"\nprobe = true\n{fault}\n[[request]]\nat = \"100s\"\nnetfn = 0x06\ncmd = 0x01\n"
    ))
    .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn healthy_probe_registers_and_sends_the_handlers_get_device_id() {
    let t = run(&probe_scenario("mainline", ""));
    assert!(t.registered);
    let origins: Vec<Origin> = t.completions.iter().map(|c| c.origin).collect();
    assert_eq!(origins[0], Origin::Probe { attempt: 0 });
    assert!(origins.contains(&Origin::Handler));
    assert!(t.completions.iter().all(|c| c.cc.is_ok()));
    assert_eq!(lines_with(&t, "req2rsp=5 secs retries=2").len(), 1);
}

#[test]
fn get_device_id_is_retried_on_an_error_code_since_the_retry_series() {
    // The BMC answers 0xD2 "initialization in progress" for its first 10 ms.
    let fault = "[[fault]]\nkind = \"error-response\"\ncc = 0xD2\nat = \"0s\"\nduration = \"10ms\"";
    let t = run(&probe_scenario("mainline", fault));
    let retries = lines_with(&t, "BMC returned 0xd2, retry get bmc device id");
    assert!(
        !retries.is_empty() && retries.len() <= 5,
        "{}",
        t.render_log()
    );
    assert!(t.registered, "{}", t.render_log());
    let probes: Vec<_> = t
        .completions
        .iter()
        .filter(|c| matches!(c.origin, Origin::Probe { .. }))
        .collect();
    assert_eq!(probes.len(), retries.len() + 1);
    assert!(probes.last().is_some_and(|c| c.cc.is_ok()));
    // Before the retry loop: the first 0xD2 is final.
    let t = run(&probe_scenario("v4.19", fault));
    assert!(!t.registered);
    assert_eq!(
        lines_with(&t, "There appears to be no BMC at this location").len(),
        1,
        "{}",
        t.render_log()
    );
    // The interface never registered, so the workload's request is never started.
    assert!(t.pending.iter().any(|p| p.started.is_none()));
}

#[test]
fn registers_reading_ff_fail_detection() {
    let t = run(&probe_scenario(
        "mainline",
        "[[fault]]\nkind = \"reads-ff\"\nat = \"0s\"",
    ));
    assert!(!t.registered);
    assert_eq!(lines_with(&t, "Interface detection failed").len(), 1);
    assert!(t.completions.is_empty());
}

#[test]
fn busy_bmc_at_load_hangs_mainline_detect_in_the_reset_loop() {
    // kernel-bt.md §7.4: caps (seq 0) with B_BUSY visible -> endless BT reset in detect.
    let t = run(&probe_scenario(
        "mainline",
        "[[fault]]\nkind = \"stuck-busy\"\nat = \"0s\"",
    ));
    assert!(!t.registered);
    assert!(
        lines_with(&t, "BT reset (takes 5 secs)").len() >= 9,
        "{}",
        t.render_log()
    );
    // Dead BMC with an all-zero status instead: caps fail ("stuck"), defaults, then
    // six Get Device ID attempts of 10 s each -> "no BMC" after ~70 s.
    let mut sc = probe_scenario(
        "mainline",
        "[[fault]]\nkind = \"silent\"\nat = \"0s\"\n[bmc]\ntake_latency = \"0s\"",
    );
    sc.driver.kernel = KernelPreset::MAINLINE;
    let t = run(&sc);
    assert_eq!(
        lines_with(&t, "using default values").len(),
        1,
        "{}",
        t.render_log()
    );
    assert_eq!(lines_with(&t, "retry get bmc device id").len(), 5);
    let no_bmc = lines_with(&t, "There appears to be no BMC at this location");
    assert_eq!(no_bmc.len(), 1);
    assert!((70.0..70.2).contains(&no_bmc[0].0), "{}", no_bmc[0].0);
}
