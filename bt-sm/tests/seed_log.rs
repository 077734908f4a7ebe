//! Replays the seed slides' log of a BMC that stops answering, with the old-style
//! (2006–2018, caps fetched inside the state machine) profile and default caps.
//!
//! The BMC takes the request (H2B_ATN clears at once) but never raises B2H_ATN;
//! its CTRL reads back CLR_RD_PTR (0x02), which STATUS2TXT never shows, so the
//! status prints as `[ ]` while `nonzero_status` is non-zero. The failing request
//! is the lazily fetched Get BT Capabilities with seq 0 (next seq 1 <= 2 retries),
//! so the final failure takes the BT reset branch.

mod common;

use common::*;
use ipmi_bt_sm::{BtSm, KernelProfile, PrintkEra};

const MS: i64 = 1_000;
const S: i64 = 1_000_000;

fn run(profile: KernelProfile, era: PrintkEra) -> TimedLog {
    let mut sm = BtSm::new(profile);
    let mut bmc = FakeBmc::new(Box::new(|_, _| vec![]));
    bmc.ctrl_or = 0x02;
    let mut log = TimedLog::new(era);
    sm.detect(&mut bmc, &mut log).unwrap();
    // The SI timer: 10 ms per delayed call, 0 for CallWithoutDelay.
    assert_eq!(
        run_until_complete(&mut sm, &mut bmc, &mut log, 10 * MS, 25 * S),
        None
    );
    log
}

#[test]
fn seed_slides_log_old_style() {
    let log = run(KernelProfile::CapsInSm, PrintkEra::Pre2_6_31);
    let want = [
        "IPMI BT: timeout in RD_WAIT [ ] 1 retries left",
        "IPMI BT: timeout in RD_WAIT [ ] failed 2 retries, sending error response",
        "IPMI: BT reset (takes 5 secs)",
        // …and the reset loop of kernel-bt.md §7.4: same request, error_retries not cleared
        "IPMI BT: timeout in RD_WAIT [ ] failed 2 retries, sending error response",
        "IPMI: BT reset (takes 5 secs)",
    ];
    assert_eq!(log.texts(), want);
    let t: Vec<i64> = log.lines.iter().map(|(t, _)| *t).collect();
    assert!(
        (5 * S..=5 * S + 20 * MS).contains(&t[0]),
        "first timeout at {} µs",
        t[0]
    );
    assert!(
        (10 * S..=10 * S + 40 * MS).contains(&t[1]),
        "final failure at {} µs",
        t[1]
    );
    assert_eq!(t[2], t[1], "reset logged with the failure");
    assert!(
        (t[3] - t[2] - 11 * S).abs() <= 50 * MS,
        "5 s attempt + 6 s hold-off"
    );
}

#[test]
fn seed_slides_log_modern_printk_splits_levelled_line() {
    let log = run(KernelProfile::CapsInSmTimeoutFix, PrintkEra::Modern);
    assert_eq!(
        log.texts()[..4],
        [
            "IPMI BT: timeout in RD_WAIT [ ] 1 retries left",
            "IPMI BT: timeout in RD_WAIT [ ] ",
            "failed 2 retries, sending error response",
            "IPMI: BT reset (takes 5 secs)",
        ]
    );
}

/// The 2018 design (caps in detect) still used bare `printk` in the state machine;
/// on a 4.9+ printk the "retries left" continuation lands on its own line.
#[test]
fn mainline_2018_on_kern_cont_printk() {
    let b = KernelProfile::Mainline2018.behaviour();
    assert_eq!(b.printk, PrintkEra::KernCont);
    let log = run(KernelProfile::Mainline2018, b.printk);
    assert_eq!(
        log.texts()[..5],
        [
            "IPMI BT: timeout in RD_WAIT [ ] ",
            "1 retries left",
            "IPMI BT: timeout in RD_WAIT [ ] ",
            "failed 2 retries, sending error response",
            "IPMI: BT reset (takes 5 secs)",
        ]
    );
}
