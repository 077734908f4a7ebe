//! Liveness and bounded-time properties of the BT driver, searched with proptest
//! over fault schedules and workloads (`bmc_sim::explore`). For each historical
//! bug the search must FIND a counterexample on the kernel preset that has the
//! bug, shrink it to the known trigger, and find none on the preset that fixed it.
//!
//! The runners are seeded, so the tests are deterministic.

use bmc_sim::explore::{self, check, strategy, ExploreConfig, Property, Space};
use bmc_sim::scenario::run;
use bmc_sim::scenario::{FaultKind, KernelPreset, Scenario};
use bmc_sim::Origin;
use ipmi_bt_sm::CompletionCode;
use proptest::test_runner::TestError;

fn cfg(space: Space, cases: u32) -> ExploreConfig {
    ExploreConfig {
        space,
        cases,
        seed: 0x5eed,
        max_shrink_iters: 512,
    }
}

/// Run the property over `space` for `kernel` with proptest's TestRunner.
fn search(
    space: Space,
    kernel: KernelPreset,
    property: Property,
    cases: u32,
) -> Result<(), Box<TestError<Scenario>>> {
    let mut runner = explore::runner_for(&cfg(space, cases));
    runner
        .run(&strategy(space, kernel), |sc| {
            let trace = run(&sc);
            check(property, &sc, &trace)
                .map_err(|v| proptest::test_runner::TestCaseError::fail(v.to_string()))
        })
        .map_err(Box::new)
}

fn counterexample(r: Result<(), Box<TestError<Scenario>>>) -> Scenario {
    match r.map_err(|e| *e) {
        Err(TestError::Fail(_, sc)) => sc,
        Err(TestError::Abort(why)) => panic!("search aborted: {why}"),
        Ok(()) => panic!("expected a counterexample, the property held"),
    }
}

fn violation(sc: &Scenario) -> explore::Violation {
    check(Property::Liveness, sc, &run(sc)).expect_err("the shrunk case still fails")
}

#[test]
fn b4_seq_based_reset_loops_on_mainline_and_not_with_fixed_reset() {
    let sc = counterexample(search(
        Space::SilenceAtCommand,
        KernelPreset::MAINLINE,
        Property::Liveness,
        64,
    ));
    let f = &sc.faults[0];
    // Known trigger: silence with a visible status bit (B_BUSY), starting at a
    // command whose seq byte is 255, 0 or 1 (so the next seq is <= retries).
    assert_eq!(f.kind, FaultKind::StuckBusy, "{}", sc.to_toml_string());
    let cmd = f.at_command.expect("command-triggered");
    // Command 1 is detect's caps request; user request k is command k + 1 with seq byte k - 1.
    let seq_byte = ((cmd - 2) % 256) as u8;
    assert!(
        [255, 0, 1].contains(&seq_byte),
        "seq byte {seq_byte}\n{}",
        sc.to_toml_string()
    );
    let v = violation(&sc);
    assert!(
        matches!(
            v.property,
            Property::NoResetLoop | Property::BoundedCompletion
        ),
        "{v}"
    );
    // The same schedule is handled on the fixed profile.
    let mut fixed = sc.clone();
    fixed.driver.kernel = KernelPreset::FIXED_RESET;
    assert_eq!(check(Property::Liveness, &fixed, &run(&fixed)), Ok(()));
    // And no schedule of the space breaks it.
    search(
        Space::SilenceAtCommand,
        KernelPreset::FIXED_RESET,
        Property::Liveness,
        64,
    )
    .expect("fixed-reset holds");
}

#[test]
fn b6_caps_inside_the_state_machine_answers_d5_to_a_healthy_bmc() {
    let sc = counterexample(search(
        Space::CapsWindow,
        KernelPreset::V3_14,
        Property::Liveness,
        64,
    ));
    assert!(sc.faults.is_empty());
    let v = violation(&sc);
    assert_eq!(v.property, Property::RecoversWhenHealthy, "{v}");
    assert_eq!(v.cc, Some(CompletionCode::NOT_IN_PRESENT_STATE), "{v}");
    assert!(matches!(v.origin, Origin::Workload { .. }));
    // Caps fetched in detect (2018+): the same requests are answered.
    search(
        Space::CapsWindow,
        KernelPreset::V4_19,
        Property::Liveness,
        64,
    )
    .expect("detect-time caps hold");
    search(
        Space::CapsWindow,
        KernelPreset::MAINLINE,
        Property::Liveness,
        64,
    )
    .expect("mainline holds");
}

#[test]
fn b3_pre_2014_init_wait_stretches_probe_timeouts() {
    let sc = counterexample(search(
        Space::DeadAtProbe,
        KernelPreset::V3_13,
        Property::BoundedCompletion,
        32,
    ));
    let v = violation(&sc);
    assert_eq!(v.property, Property::BoundedCompletion, "{v}");
    assert!(matches!(v.origin, Origin::Probe { .. }), "{v}");
    assert!(v.waited.as_secs_f64() > 22.0, "{v}");
    // 100 us credited per jiffy: an attempt lasts (10^6/HZ)/100 times its nominal
    // 5 s. With the BMC dead for good, the two attempts end exactly then.
    let hz = f64::from(sc.driver.hz.0);
    let stretch = (1e6 / hz) / 100.0;
    let mut dead = sc.clone();
    dead.faults[0].duration = None;
    let t = run(&dead);
    let probe = t
        .completions
        .iter()
        .find(|c| matches!(c.origin, Origin::Probe { .. }))
        .expect("probe result");
    assert_eq!(probe.cc, CompletionCode::TIMEOUT);
    let got = probe.latency().as_secs_f64();
    let expect = 2.0 * 5.0 * stretch;
    assert!(
        (got - expect).abs() < 0.2,
        "HZ {hz}: failed after {got}s, expected {expect}s"
    );
    search(
        Space::DeadAtProbe,
        KernelPreset::V3_14,
        Property::Liveness,
        32,
    )
    .expect("e21404dc0ac7 fixes it");
}

#[test]
fn b8_stuck_b2h_suppresses_the_timeout_on_mainline_only() {
    let sc = counterexample(search(
        Space::StuckB2h,
        KernelPreset::MAINLINE,
        Property::Liveness,
        32,
    ));
    assert_eq!(sc.faults[0].kind, FaultKind::StuckB2h);
    let v = violation(&sc);
    assert_eq!(v.property, Property::BoundedCompletion, "{v}");
    // The request waited at least as long as the fault lasted past the bound.
    let fault_s = sc.faults[0].duration.expect("bounded fault").as_nanos() as f64 / 1e9;
    assert!(
        v.waited.as_secs_f64() > 22.0 && fault_s >= 21.0,
        "{v} fault {fault_s}s"
    );
    search(
        Space::StuckB2h,
        KernelPreset::FIXED_B8,
        Property::Liveness,
        32,
    )
    .expect("fixed-b8 holds");
}

#[test]
fn proposed_profile_passes_the_mixed_space() {
    search(Space::Mixed, KernelPreset::FIXED_B8, Property::Liveness, 96)
        .expect("all fixes together hold");
}

#[test]
fn search_api_reports_counterexample_progress_and_counts() {
    let mut calls = 0u64;
    let mut last = None;
    let out = explore::search_with_progress(
        KernelPreset::V3_14,
        Property::Liveness,
        &cfg(Space::CapsWindow, 64),
        &mut |p| {
            calls += 1;
            last = Some(p.runs);
        },
    );
    let sc = out.counterexample.expect("found");
    assert_eq!(calls, out.cases_tried);
    assert_eq!(last, Some(out.cases_tried));
    let first = out.runs_to_first_failure.expect("first failure recorded");
    assert!(first >= 1 && first <= out.cases_tried);
    assert!(out.violation.is_some());
    // The counterexample prints as a scenario file that loads back.
    let again = Scenario::from_toml_str(&sc.to_toml_string()).expect("valid scenario");
    assert_eq!(again, sc);
    // A profile without the bug: no counterexample, every case tried.
    let out = explore::search(
        KernelPreset::MAINLINE,
        Property::Liveness,
        &cfg(Space::CapsWindow, 40),
    );
    assert!(out.counterexample.is_none() && out.violation.is_none());
    assert_eq!(out.cases_tried, 40);
}

#[test]
fn fast_forward_never_changes_what_happens() {
    // Whatever the schedule, skipping provably identical polls must give the
    // same log, completions, pending messages and state changes as polling
    // every jiffy.
    use proptest::strategy::Strategy;
    for kernel in [
        KernelPreset::MAINLINE,
        KernelPreset::V3_14,
        KernelPreset::V2_6_12,
        KernelPreset::FIXED_B8,
    ] {
        let mut runner = explore::runner_for(&cfg(Space::Mixed, 48));
        // Also vary the interrupt mode and HZ (the spaces use polling at 250).
        let strat = (
            strategy(Space::Mixed, kernel),
            proptest::bool::ANY,
            proptest::sample::select(vec![100u32, 250, 300, 1000]),
        )
            .prop_map(|(mut sc, irq, hz)| {
                sc.driver.irq = irq;
                sc.driver.hz = bmc_sim::scenario::Hz(hz);
                sc
            });
        runner
            .run(&strat, |mut sc| {
                sc.driver.fast_forward = true;
                let a = run(&sc);
                sc.driver.fast_forward = false;
                let b = run(&sc);
                proptest::prop_assert_eq!(&a.log, &b.log);
                proptest::prop_assert_eq!(&a.completions, &b.completions);
                proptest::prop_assert_eq!(&a.pending, &b.pending);
                let states = |t: &bmc_sim::scenario::Trace| {
                    t.events
                        .iter()
                        .filter(|e| matches!(e.kind, bmc_sim::scenario::EventKind::State { .. }))
                        .cloned()
                        .collect::<Vec<_>>()
                };
                proptest::prop_assert_eq!(states(&a), states(&b));
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{e}"));
    }
}
