//! The host state machine (`ipmi_bt_sm::BtSm`, Linux mainline profile) against
//! the simulated BMC, through public APIs only, with a trivial fixed-step loop
//! (event every 1 ms with time 1000 µs, chained at 0 while it asks for
//! CALL_WITHOUT_DELAY). The faithful kernel timer loop lives in `bmc_sim::SiDriver`;
//! this only checks that the two halves fit together.

use core::time::Duration;

use bmc_sim::Instant;
use bmc_sim::{BmcConfig, SimBmc};
use bmc_sim::{Fault, FaultKind};
use ipmi_bt_sm::{BtSm, CompletionCode, KernelProfile, NullLog, SmResult};

const STEP: Duration = Duration::from_millis(1);

/// Run one request to completion or until `limit`; returns the result bytes
/// (NetFn|4, cmd, cc, data…) and the time it completed.
fn run(bmc: &mut SimBmc, sm: &mut BtSm, req: &[u8], limit: Instant) -> Option<(Vec<u8>, Instant)> {
    let mut t = bmc.now();
    sm.start_transaction(&mut NullLog, req).expect("start");
    let mut elapsed = 0;
    while t <= limit {
        let mut r = sm.event(bmc.io(t), &mut NullLog, elapsed);
        let mut spins = 0;
        while r == SmResult::CallWithoutDelay && spins < 10_000 {
            r = sm.event(bmc.io(t), &mut NullLog, 0);
            spins += 1;
        }
        if r == SmResult::TransactionComplete {
            let mut buf = [0u8; 300];
            let n = sm.get_result(&mut buf);
            return Some((buf[..n].to_vec(), t));
        }
        t += STEP;
        elapsed = 1_000;
    }
    None
}

#[test]
fn get_device_id_completes() {
    let mut bmc = SimBmc::new(BmcConfig::default());
    let mut sm = BtSm::new(KernelProfile::Mainline);
    let (rsp, t) = run(&mut bmc, &mut sm, &[0x06 << 2, 0x01], Instant::from_secs(1)).unwrap();
    assert_eq!(&rsp[..3], &[0x1C, 0x01, 0x00]);
    assert_eq!(rsp.len(), 3 + 15);
    assert!(
        t < Instant::from_millis(5),
        "answered within a few ticks, took {t}"
    );
    assert_eq!(bmc.commands_seen(), 1);
    // And a second one right after, with the next seq.
    let (rsp, _) = run(&mut bmc, &mut sm, &[0x06 << 2, 0x36], Instant::from_secs(2)).unwrap();
    assert_eq!(rsp, vec![0x1C, 0x36, 0x00, 1, 0x3F, 0x3F, 5, 2]);
}

#[test]
fn qemu_preset_completes_too() {
    let mut bmc = SimBmc::new(BmcConfig::qemu());
    let mut sm = BtSm::new(KernelProfile::Mainline);
    let (rsp, _) = run(&mut bmc, &mut sm, &[0x06 << 2, 0x01], Instant::from_secs(1)).unwrap();
    assert_eq!(&rsp[..3], &[0x1C, 0x01, 0x00]);
}

#[test]
fn silent_bmc_yields_timeout_after_all_attempts() {
    let mut bmc = SimBmc::new(BmcConfig::default());
    let mut sm = BtSm::new(KernelProfile::Mainline);
    // First transaction healthy so seq is past the reset heuristic's range.
    for _ in 0..4 {
        let t = bmc.now() + Duration::from_secs(1);
        run(&mut bmc, &mut sm, &[0x06 << 2, 0x01], t).unwrap();
    }
    let start = bmc.now();
    bmc.inject(start, Fault::Silent);
    let (rsp, t) = run(
        &mut bmc,
        &mut sm,
        &[0x06 << 2, 0x01],
        start + Duration::from_secs(60),
    )
    .expect("the kernel gives up");
    assert_eq!(rsp, vec![0x1C, 0x01, 0xC3], "IPMI_TIMEOUT_ERR");
    let took = t - start;
    // Default req2rsp 5 s, retries 2: Linux gives up when error_retries
    // reaches the limit, i.e. after two 5 s attempts (kernel-bt.md §13 T3).
    assert!(
        took >= Duration::from_secs(10) && took <= Duration::from_millis(10_100),
        "{took:?}"
    );
    assert_eq!(bmc.commands_seen(), 4 + 2, "sent once and retried once");
    // Healthy again: the next request works.
    bmc.clear(t, FaultKind::Silent);
    let (rsp, _) = run(
        &mut bmc,
        &mut sm,
        &[0x06 << 2, 0x01],
        t + Duration::from_secs(2),
    )
    .unwrap();
    assert_eq!(rsp[2], 0x00);
}

#[test]
fn stuck_b_busy_yields_node_busy() {
    let mut bmc = SimBmc::new(BmcConfig::default());
    let mut sm = BtSm::new(KernelProfile::Mainline);
    for _ in 0..4 {
        let t = bmc.now() + Duration::from_secs(1);
        run(&mut bmc, &mut sm, &[0x06 << 2, 0x01], t).unwrap();
    }
    let start = bmc.now();
    bmc.inject(start, Fault::StuckBusy);
    let (rsp, _) = run(
        &mut bmc,
        &mut sm,
        &[0x06 << 2, 0x01],
        start + Duration::from_secs(60),
    )
    .expect("the kernel gives up");
    assert_eq!(
        rsp,
        vec![0x1C, 0x01, 0xC0],
        "IPMI_NODE_BUSY_ERR (long busy)"
    );
}

#[test]
fn wrong_seq_is_discarded_then_correction_accepted() {
    let mut bmc = SimBmc::new(BmcConfig::default());
    let mut sm = BtSm::new(KernelProfile::Mainline);
    bmc.inject(
        Instant::ZERO,
        Fault::WrongSeq {
            seq_delta: 1,
            correct_after: Some(Duration::from_secs(1)),
        },
    );
    let (rsp, t) = run(
        &mut bmc,
        &mut sm,
        &[0x06 << 2, 0x01],
        Instant::from_secs(10),
    )
    .unwrap();
    assert_eq!(&rsp[..3], &[0x1C, 0x01, 0x00]);
    assert!(
        t >= Instant::from_secs(1) && t < Instant::from_secs(2),
        "same attempt (T6): {t}"
    );
    assert_eq!(bmc.commands_seen(), 1, "no retry");
}

#[test]
fn bmc_hung_after_taking_yields_node_busy_then_recovers() {
    let mut bmc = SimBmc::new(BmcConfig::default());
    let mut sm = BtSm::new(KernelProfile::Mainline);
    for _ in 0..4 {
        let t = bmc.now() + Duration::from_secs(1);
        run(&mut bmc, &mut sm, &[0x06 << 2, 0x01], t).unwrap();
    }
    let start = bmc.now();
    bmc.inject(start, Fault::HoldBusy);
    let (rsp, t) = run(
        &mut bmc,
        &mut sm,
        &[0x06 << 2, 0x01],
        start + Duration::from_secs(60),
    )
    .expect("the kernel gives up");
    assert_eq!(
        rsp,
        vec![0x1C, 0x01, 0xC0],
        "B_BUSY seen at the timeout → long busy"
    );
    assert_eq!(bmc.commands_seen(), 4 + 1, "never got past WRITE_CONSUME");
    // Meanwhile new requests fail at once with 0xC0 (LONG_BUSY).
    assert_eq!(
        sm.start_transaction(&mut NullLog, &[0x06 << 2, 0x01]),
        Err(CompletionCode::NODE_BUSY)
    );
    // The BMC recovers; the next SI timer tick sees B_BUSY clear, the machine
    // leaves LONG_BUSY, and requests go through again.
    bmc.clear(t, FaultKind::HoldBusy);
    let t = t + STEP;
    sm.event(bmc.io(t), &mut NullLog, 1_000);
    let (rsp, _) = run(
        &mut bmc,
        &mut sm,
        &[0x06 << 2, 0x01],
        t + Duration::from_secs(2),
    )
    .unwrap();
    assert_eq!(rsp[2], 0x00);
}
