//! Unit tests of [`SiDriver`] through the host harness
//! ([`crate::host::harness::Pair`]): a fake register device and a recording
//! observer on virtual time.

use core::time::Duration;

use ipmi_bt_sm::{KernelProfile, State};

use super::*;
use crate::host::harness::{Heard, Pair};

const GET_DEVICE_ID_REQ: [u8; 2] = [0x06 << 2, 0x01];

fn pair(irq: bool) -> Pair {
    Pair::new(KernelProfile::Mainline, SiProfile::CURRENT, irq)
}

#[test]
fn probe_succeeds_against_a_device_that_answers() {
    let mut p = pair(false);
    assert_eq!(p.probe_and_start(true), ProbeOutcome::Registered);
    assert_eq!(
        p.obs.phases(),
        [
            SiPhase::Detect,
            SiPhase::GetDeviceId,
            SiPhase::ProbeDone,
            SiPhase::Registered { irq: false }
        ]
    );
    // The probe's Get Device ID is reported as delivered, with the device's answer.
    let d = p
        .delivered
        .iter()
        .find(|d| d.msg.origin == Origin::Probe { attempt: 0 })
        .expect("probe Get Device ID delivered");
    assert_eq!(d.response.get(..3), Some(&[0x07 << 2, 0x01, 0x00][..]));
    assert!(!d.synthesized);
    // The device saw the Get Device ID (after detect's capabilities request).
    assert!(p.bus.dev.requests.iter().any(|r| r.get(2) == Some(&0x01)));
    // Synchronous waits crossed whole jiffies at the 10 ms device latency.
    assert!(p.now() >= Instant::from_millis(10));
}

#[test]
fn probe_without_a_bmc_reports_no_bmc() {
    let mut p = pair(false);
    p.bus.dev.silent = true;
    p.stop = Instant::from_secs(600);
    let out = p.probe_and_start(true);
    assert_ne!(out, ProbeOutcome::Registered, "{:?}", p.obs.heard);
}

fn transaction(irq: bool) -> Pair {
    let mut p = pair(irq);
    assert_eq!(p.probe_and_start(false), ProbeOutcome::Registered);
    let t0 = p.now();
    let id = p.send(&GET_DEVICE_ID_REQ);
    p.run_until(t0 + Duration::from_secs(1));
    let d = p
        .delivered
        .iter()
        .find(|d| d.msg.id == id)
        .expect("response delivered");
    assert_eq!(d.response.get(..3), Some(&[0x07 << 2, 0x01, 0x00][..]));
    assert!(!d.synthesized);
    assert_eq!(d.msg.started, Some(t0));
    // Not before the device's latency, and within a few ticks of it.
    assert!(d.at >= t0 + Duration::from_millis(10), "{:?}", d.at);
    assert!(d.at <= t0 + Duration::from_millis(30), "{:?}", d.at);
    // The state machine went back to idle.
    assert_eq!(p.sm.state(), State::Idle);
    assert!(p.si.can_accept());
    p
}

#[test]
fn transaction_in_polling_mode() {
    let p = transaction(false);
    assert_eq!(p.obs.irqs(), 0);
    assert_eq!(p.si.stats().irqs, 0);
    assert!(p.si.stats().timer_fires > 0);
}

#[test]
fn transaction_in_irq_mode_takes_the_interrupt() {
    let mut p = transaction(true);
    assert!(p.obs.irqs() >= 1, "{:?}", p.obs.heard);
    assert_eq!(p.si.stats().irqs as usize, p.obs.irqs());
    assert_eq!(
        p.obs.phases().last(),
        Some(&SiPhase::Registered { irq: true })
    );
    // std_irq_setup enabled the BT interrupt.
    assert_eq!(
        p.bus.dev.read_intmask() & BT_INTMASK_ENABLE,
        BT_INTMASK_ENABLE
    );
}

#[test]
fn timer_polls_every_jiffy_while_waiting_and_stops_when_idle() {
    let mut p = pair(false);
    p.bus.dev.latency = Duration::from_millis(100);
    assert_eq!(p.probe_and_start(false), ProbeOutcome::Registered);
    // smi_start_processing arms the timer SI_TIMEOUT_JIFFIES (HZ = 250: 2) ahead.
    let clock = p.si.clock();
    let j0 = clock.at(p.now());
    assert_eq!(
        p.si.timer_deadline(),
        Some(clock.time_of(j0 + clock.si_timeout_jiffies()))
    );
    let t0 = p.now();
    p.send(&GET_DEVICE_ID_REQ);
    p.run_until(t0 + Duration::from_millis(90));
    // While the state machine waits (CALL_WITH_DELAY, polling), the timer
    // fires on every jiffy: 4 ms at HZ = 250.
    let fires: Vec<Instant> = p.timer_fires.clone();
    assert!(fires.len() >= 20, "{fires:?}");
    for w in fires.windows(2) {
        assert_eq!(
            clock.at(w[1]) - clock.at(w[0]),
            1,
            "timer fires not one jiffy apart: {fires:?}"
        );
    }
    // Once the response is in and nothing is queued, the timer stops.
    p.run_until(t0 + Duration::from_secs(1));
    assert!(p.delivered.iter().any(|d| d.msg.origin == Origin::Handler));
    assert_eq!(p.si.timer_deadline(), None);
}

#[test]
fn silent_device_completes_with_timeout_cc_c3() {
    let mut p = pair(false);
    assert_eq!(p.probe_and_start(false), ProbeOutcome::Registered);
    p.bus.dev.silent = true;
    let t0 = p.now();
    let id = p.send(&GET_DEVICE_ID_REQ);
    p.run_until(t0 + Duration::from_secs(60));
    let d = p
        .delivered
        .iter()
        .find(|d| d.msg.id == id)
        .expect("a made-up response");
    assert_eq!(
        d.response.get(2).copied(),
        Some(CompletionCode::TIMEOUT.0),
        "{:?}",
        d.response
    );
    assert_eq!(CompletionCode::TIMEOUT.0, 0xC3);
    assert!(d.synthesized);
    // The state machine logged why (the observer heard the records).
    assert!(p.obs.heard.iter().any(|h| matches!(h, Heard::Log(_))));
    // The BT timeout (5 s per try, with retries) took seconds, not ticks.
    assert!(d.at - t0 >= Duration::from_secs(5), "{:?}", d.at - t0);
}

#[test]
fn unload_waits_for_the_message_then_stops() {
    let mut p = pair(true);
    assert_eq!(p.probe_and_start(false), ProbeOutcome::Registered);
    let id = p.send(&GET_DEVICE_ID_REQ);
    assert!(p.unload());
    let phases = p.obs.phases();
    assert_eq!(
        phases.get(phases.len() - 2..),
        Some(&[SiPhase::Shutdown, SiPhase::Unloaded][..])
    );
    // wait_msg_processed drove the message to its end.
    assert!(p.delivered.iter().any(|d| d.msg.id == id));
    assert_eq!(p.si.in_flight().count(), 0);
    // The interrupt is freed and the timer stopped.
    assert_eq!(p.bus.dev.read_intmask() & BT_INTMASK_ENABLE, 0);
    assert_eq!(p.si.timer_deadline(), None);
}

#[test]
fn unload_gives_up_at_the_stop_time() {
    let mut p = pair(false);
    assert_eq!(p.probe_and_start(false), ProbeOutcome::Registered);
    p.bus.dev.silent = true;
    p.send(&GET_DEVICE_ID_REQ);
    p.stop = p.now() + Duration::from_millis(50);
    assert!(!p.unload());
    assert_eq!(p.now(), p.stop);
    assert_eq!(p.obs.phases().last(), Some(&SiPhase::Shutdown));
}
