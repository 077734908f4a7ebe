//! kernel-bt.md §13 test-matrix rows that concern the state machine alone
//! (T1, T3–T12, T14), plus the B-4 "256th command" and B-6 schedules of §12.

mod common;

use common::*;
use ipmi_bt_sm::{BtSm, KernelProfile, PrintkEra, SmResult, State};

const GET_DEVICE_ID: [u8; 2] = [0x18, 0x01];
const MS: i64 = 1_000;
const S: i64 = 1_000_000;

/// Mainline SM after a successful detect against a normal BMC with the given caps.
fn detected(profile: KernelProfile, req2rsp_s: u8, retries: u8) -> (BtSm, FakeBmc, TimedLog) {
    let mut sm = BtSm::new(profile);
    let mut bmc = FakeBmc::new(normal_responder(10 * MS, req2rsp_s, retries));
    let mut log = TimedLog::new(PrintkEra::Modern);
    assert!(detect(&mut sm, &mut bmc, &mut log, 4 * MS, 60 * S));
    (sm, bmc, log)
}

fn within(t: i64, lo: i64, hi: i64) -> bool {
    (lo..=hi).contains(&t)
}

#[test]
fn t1_normal_transaction() {
    let (mut sm, mut bmc, mut log) = detected(KernelProfile::Mainline, 5, 2);
    assert_eq!(log.texts(), ["req2rsp=5 secs retries=2"]);
    bmc.h2b_delay = MS;
    let t0 = bmc.now;
    let (t, rsp) = transact(&mut sm, &mut bmc, &mut log, &GET_DEVICE_ID, MS, S).unwrap();
    assert_eq!(rsp, [0x1C, 0x01, 0x00, 0x20]);
    assert!(
        within(t - t0, 10 * MS, 12 * MS),
        "completed after {} µs",
        t - t0
    );
    assert_eq!(
        bmc.requests.last().unwrap().1,
        [3, 0x18, 0, 0x01],
        "seq restarted at 0 after detect"
    );
}

#[test]
fn t3_silent_all_zero_status_is_stuck_c3_after_10s() {
    let (mut sm, mut bmc, mut log) = detected(KernelProfile::Mainline, 5, 2);
    log.lines.clear();
    bmc.ctrl_fixed = Some(0x00);
    let t0 = bmc.now;
    let (t, rsp) = transact(&mut sm, &mut bmc, &mut log, &GET_DEVICE_ID, 10 * MS, 60 * S).unwrap();
    assert_eq!(rsp, [0x1C, 0x01, 0xC3]);
    assert!(within(t - t0, 10 * S, 10 * S + 50 * MS), "{}", t - t0);
    assert_eq!(
        log.texts(),
        [
            "IPMI BT: timeout in RD_WAIT [ ] ",
            "1 retries left",
            "IPMI BT: timeout in RD_WAIT [ ] ",
            "failed 2 retries, sending error response",
            "stuck, try power cycle"
        ]
    );
    assert!(within(log.lines[0].0 - t0, 5 * S, 5 * S + 20 * MS));
    assert_eq!(sm.state(), State::Idle);
}

#[test]
fn t4_b_busy_silence_gives_c0_long_busy_then_recovers_with_defaults() {
    let (mut sm, mut bmc, mut log) = detected(KernelProfile::Mainline, 7, 2);
    for _ in 0..3 {
        transact(&mut sm, &mut bmc, &mut log, &GET_DEVICE_ID, MS, S).unwrap();
    }
    assert_eq!(sm.seq(), 3);
    log.lines.clear();
    bmc.ctrl_fixed = Some(0x80);
    let t0 = bmc.now;
    let (t, rsp) = transact(&mut sm, &mut bmc, &mut log, &GET_DEVICE_ID, 10 * MS, 60 * S).unwrap();
    assert_eq!(rsp, [0x1C, 0x01, 0xC0]);
    assert!(
        within(t - t0, 14 * S, 14 * S + 50 * MS),
        "caps req2rsp 7 s x 2 attempts"
    );
    assert_eq!(
        log.texts(),
        [
            "IPMI BT: timeout in XACTION [ B_BUSY ] ",
            "1 retries left",
            "IPMI BT: timeout in XACTION [ B_BUSY ] ",
            "failed 2 retries, sending error response"
        ]
    );
    assert_eq!(sm.state(), State::LongBusy);
    assert_eq!(
        sm.start_transaction(&mut log, &GET_DEVICE_ID)
            .unwrap_err()
            .0,
        0xC0
    );
    for _ in 0..100 {
        bmc.now += 10 * MS;
        assert_eq!(
            sm.event(&mut bmc, &mut log, 10 * MS),
            SmResult::CallWithDelay
        );
    }
    bmc.ctrl_fixed = None;
    assert_eq!(
        sm.event(&mut bmc, &mut log, 10 * MS),
        SmResult::CallWithDelay
    );
    assert_eq!(
        (sm.state(), sm.seq(), sm.req2rsp_us(), sm.retries()),
        (State::Idle, 0, 5 * S, 2)
    );
    let (_, rsp) = transact(&mut sm, &mut bmc, &mut log, &GET_DEVICE_ID, MS, S).unwrap();
    assert_eq!(rsp, [0x1C, 0x01, 0x00, 0x20]);
}

fn count(log: &TimedLog, text: &str) -> Vec<i64> {
    log.lines
        .iter()
        .filter(|(_, l)| l.text == text)
        .map(|(t, _)| *t)
        .collect()
}

#[test]
fn t5_small_seq_with_b_busy_resets_forever() {
    let (mut sm, mut bmc, mut log) = detected(KernelProfile::Mainline, 5, 2);
    bmc.ctrl_fixed = Some(0x80);
    sm.start_transaction(&mut log, &GET_DEVICE_ID).unwrap();
    assert_eq!(
        run_until_complete(&mut sm, &mut bmc, &mut log, 10 * MS, 120 * S),
        None
    );
    let resets = count(&log, "BT reset (takes 5 secs)");
    assert!(resets.len() >= 9, "{resets:?}");
    for w in resets.windows(2) {
        assert!(
            within(w[1] - w[0], 11 * S, 11 * S + 100 * MS),
            "period {}",
            w[1] - w[0]
        );
    }
    // One retry, on the first attempt: the dev_warn head is its own line and
    // the pr_cont continuation follows it on a line of its own.
    let texts = log.texts();
    let left: Vec<usize> = (0..texts.len())
        .filter(|&i| texts[i] == "1 retries left")
        .collect();
    assert_eq!(left.len(), 1, "{texts:?}");
    assert_eq!(
        texts[left[0] - 1],
        "IPMI BT: timeout in XACTION [ B_BUSY ] "
    );
}

/// B-4: the BMC stops answering exactly at the 256th command since the seq reset.
#[test]
fn b4_silence_at_256th_command_loops_in_mainline_but_not_with_fixed_reset() {
    for (profile, completes) in [
        (KernelProfile::Mainline, false),
        (KernelProfile::FixedReset, true),
    ] {
        let (mut sm, mut bmc, mut log) = detected(profile, 5, 2);
        for _ in 0..255 {
            transact(&mut sm, &mut bmc, &mut log, &GET_DEVICE_ID, MS, S).unwrap();
        }
        assert_eq!(sm.seq(), 255);
        bmc.ctrl_fixed = Some(0x80);
        sm.start_transaction(&mut log, &GET_DEVICE_ID).unwrap();
        let done = run_until_complete(&mut sm, &mut bmc, &mut log, 10 * MS, 60 * S);
        assert_eq!(done.is_some(), completes, "{profile}");
        if completes {
            let mut out = [0u8; 8];
            let n = sm.get_result(&mut out);
            assert_eq!(out[..n], [0x1C, 0x01, 0xC0]);
        } else {
            assert!(count(&log, "BT reset (takes 5 secs)").len() >= 4);
        }
    }
    // control case: silence at seq byte 5 completes with 0xC0 in mainline
    let (mut sm, mut bmc, mut log) = detected(KernelProfile::Mainline, 5, 2);
    for _ in 0..5 {
        transact(&mut sm, &mut bmc, &mut log, &GET_DEVICE_ID, MS, S).unwrap();
    }
    bmc.ctrl_fixed = Some(0x80);
    let (t, rsp) = transact(&mut sm, &mut bmc, &mut log, &GET_DEVICE_ID, 10 * MS, 60 * S).unwrap();
    assert_eq!(rsp, [0x1C, 0x01, 0xC0]);
    assert!(t > 0);
}

#[test]
fn t6_wrong_seq_discarded_right_seq_accepted_same_attempt() {
    let (mut sm, mut bmc, mut log) = detected(KernelProfile::Mainline, 5, 2);
    bmc.responder = Box::new(|req, _| {
        let mut wrong = answer(req, 10 * MS, &[0x66]);
        wrong[0].1[2] = req[2].wrapping_add(7);
        let mut all = wrong;
        all.extend(answer(req, S, &[0x20]));
        all
    });
    let t0 = bmc.now;
    let (t, rsp) = transact(&mut sm, &mut bmc, &mut log, &GET_DEVICE_ID, MS, 10 * S).unwrap();
    assert_eq!(rsp, [0x1C, 0x01, 0x00, 0x20]);
    assert!(within(t - t0, S, S + 5 * MS));
    assert_eq!(sm.error_retries(), 0);
    assert_eq!(bmc.requests.len(), 2, "caps + one request: no retry");
}

#[test]
fn t7_length_byte_2_gives_c6() {
    let (mut sm, mut bmc, mut log) = detected(KernelProfile::Mainline, 5, 2);
    bmc.responder = Box::new(|req, _| vec![(MS, vec![2, req[1] | 4, req[2]])]);
    let (_, rsp) = transact(&mut sm, &mut bmc, &mut log, &GET_DEVICE_ID, MS, S).unwrap();
    assert_eq!(rsp, [0x1C, 0x01, 0xC6]);
}

#[test]
fn t8_length_byte_255() {
    let resp = |req: &[u8]| {
        let mut f = vec![255u8, req[1] | 4, req[2], req[3], 0x00];
        f.resize(256, 0xA5);
        vec![(MS, f)]
    };
    let (mut sm, mut bmc, mut log) = detected(KernelProfile::Mainline, 5, 2);
    bmc.responder = Box::new(move |req, _| resp(req));
    let (_, rsp) = transact(&mut sm, &mut bmc, &mut log, &GET_DEVICE_ID, MS, S).unwrap();
    assert_eq!(rsp.len(), 254);
    assert_eq!(rsp[..3], [0x1C, 0x01, 0x00]);
    assert!(rsp[3..].iter().all(|&b| b == 0xA5));

    // B-11: the 8-bit read index of the early 2006 design never leaves the loop
    let mut sm = BtSm::new(KernelProfile::CapsInSm);
    let mut bmc = FakeBmc::new(Box::new(move |req, _| resp(req)));
    let mut log = TimedLog::new(PrintkEra::Pre2_6_31);
    let mut r = SmResult::CallWithoutDelay;
    for _ in 0..10_000 {
        if sm.cpu_hung() || r == SmResult::TransactionComplete {
            break;
        }
        let t = if r == SmResult::CallWithoutDelay {
            0
        } else {
            MS
        };
        bmc.now += t;
        r = sm.event(&mut bmc, &mut log, t);
    }
    assert!(
        sm.cpu_hung(),
        "caps response of length 255 hangs the 8-bit loop"
    );
    assert_eq!(
        sm.event(&mut bmc, &mut log, MS),
        SmResult::CallWithoutDelay,
        "spinning forever"
    );
}

#[test]
fn t9_caps_10s_0_retries_single_attempt() {
    let (mut sm, mut bmc, mut log) = detected(KernelProfile::Mainline, 10, 0);
    assert_eq!(log.texts(), ["req2rsp=10 secs retries=0"]);
    log.lines.clear();
    bmc.ctrl_fixed = Some(0);
    let t0 = bmc.now;
    let (t, rsp) = transact(&mut sm, &mut bmc, &mut log, &GET_DEVICE_ID, 10 * MS, 60 * S).unwrap();
    assert_eq!(rsp, [0x1C, 0x01, 0xC3]);
    assert!(within(t - t0, 10 * S, 10 * S + 20 * MS));
    assert_eq!(
        log.texts(),
        [
            "IPMI BT: timeout in RD_WAIT [ ] ",
            "failed 0 retries, sending error response",
            "stuck, try power cycle"
        ]
    );
}

#[test]
fn t10_caps_req2rsp_zero_fails_after_two_ticks() {
    let (mut sm, mut bmc, mut log) = detected(KernelProfile::Mainline, 0, 2);
    log.lines.clear();
    bmc.ctrl_fixed = Some(0);
    let t0 = bmc.now;
    let (t, rsp) = transact(&mut sm, &mut bmc, &mut log, &GET_DEVICE_ID, 10 * MS, 60 * S).unwrap();
    assert_eq!(rsp, [0x1C, 0x01, 0xC3]);
    assert_eq!(t - t0, 20 * MS);
    assert_eq!(
        log.texts(),
        [
            "IPMI BT: timeout in RD_WAIT [ ] ",
            "1 retries left",
            "IPMI BT: timeout in XACTION [ ] ",
            "failed 2 retries, sending error response",
            "stuck, try power cycle"
        ]
    );
}

#[test]
fn t11_stuck_b2h_never_completes_in_mainline_but_does_with_proposed() {
    for (profile, completes) in [
        (KernelProfile::Mainline, false),
        (KernelProfile::Proposed, true),
    ] {
        let (mut sm, mut bmc, mut log) = detected(profile, 5, 2);
        transact(&mut sm, &mut bmc, &mut log, &GET_DEVICE_ID, MS, S).unwrap();
        log.lines.clear();
        bmc.b2h = true;
        bmc.b2h_sticky = true;
        // IDLE with B2H stuck: never reports Idle
        for _ in 0..10 {
            bmc.now += 10 * MS;
            assert_eq!(
                sm.event(&mut bmc, &mut log, 10 * MS),
                SmResult::CallWithDelay
            );
        }
        sm.start_transaction(&mut log, &GET_DEVICE_ID).unwrap();
        let done = run_until_complete(&mut sm, &mut bmc, &mut log, 10 * MS, 60 * S);
        assert_eq!(done.is_some(), completes, "{profile}");
        if completes {
            let mut out = [0u8; 8];
            let n = sm.get_result(&mut out);
            assert_eq!(out[..n], [0x1C, 0x01, 0xC3]);
            assert_eq!(
                log.texts()[..2],
                ["IPMI BT: timeout in XACTION [ B2H ] ", "1 retries left"]
            );
        } else {
            assert!(log.lines.is_empty(), "no timeout, no retry, no log");
            assert_eq!(sm.state(), State::XactionStart);
            assert_eq!(sm.timeout_us(), 5 * S);
        }
    }
}

#[test]
fn t12_sms_atn_while_idle() {
    let (mut sm, mut bmc, mut log) = detected(KernelProfile::Mainline, 5, 2);
    bmc.sms = true;
    assert_eq!(sm.event(&mut bmc, &mut log, 10 * MS), SmResult::Attn);
    assert!(!bmc.sms);
    assert_eq!(sm.event(&mut bmc, &mut log, 10 * MS), SmResult::Idle);
}

#[test]
fn t14_request_during_lazy_caps_fetch_gets_d5() {
    for profile in [KernelProfile::CapsInSm, KernelProfile::CapsInSmTimeoutFix] {
        let mut sm = BtSm::new(profile);
        let mut bmc = FakeBmc::new(normal_responder(200 * MS, 5, 2));
        let mut log = TimedLog::new(PrintkEra::Modern);
        sm.detect(&mut bmc, &mut log).unwrap();
        assert_eq!(sm.event(&mut bmc, &mut log, 0), SmResult::CallWithoutDelay);
        assert_eq!(sm.state(), State::CapabilitiesBegin);
        sm.event(&mut bmc, &mut log, 0);
        for _ in 0..5 {
            bmc.now += 10 * MS;
            sm.event(&mut bmc, &mut log, 10 * MS);
        }
        assert_eq!(
            sm.start_transaction(&mut log, &GET_DEVICE_ID)
                .unwrap_err()
                .0,
            0xD5
        );
        while sm.state() != State::Idle {
            bmc.now += 10 * MS;
            sm.event(&mut bmc, &mut log, 10 * MS);
            log.stamp(bmc.now);
        }
        assert_eq!(log.texts(), ["IPMI BT: req2rsp=5 secs retries=2"]);
        let (_, rsp) = transact(&mut sm, &mut bmc, &mut log, &GET_DEVICE_ID, MS, S).unwrap();
        assert_eq!(rsp, [0x1C, 0x01, 0x00, 0x20]);
    }
}

/// B-6 item 2: caps silently ignored, final failure without reset → the next user
/// transaction's answer is diverted to CAP_END and never reported.
#[test]
fn b6_failed_lazy_caps_swallow_next_response() {
    let mut sm = BtSm::new(KernelProfile::CapsInSm);
    let mut bmc = FakeBmc::new(Box::new(|req, _| {
        if req.get(3) == Some(&0x36) {
            vec![]
        } else {
            answer(req, MS, &[0x20])
        }
    }));
    let mut log = TimedLog::new(PrintkEra::Pre2_6_31);
    sm.detect(&mut bmc, &mut log).unwrap();
    // the caps failure completes (the SI layer ignores it: no message outstanding)
    let t = run_until_complete(&mut sm, &mut bmc, &mut log, 10 * MS, 60 * S).unwrap();
    assert!(within(t, 10 * S, 10 * S + 50 * MS));
    assert_eq!(sm.complete(), State::CapabilitiesEnd);
    assert_eq!(sm.caps_outreqs(), 1);
    sm.start_transaction(&mut log, &GET_DEVICE_ID).unwrap();
    assert_eq!(
        run_until_complete(&mut sm, &mut bmc, &mut log, 10 * MS, 30 * S),
        None
    );
    let texts = log.texts();
    assert!(
        texts.contains(&"IPMI BT: using default values".to_string()),
        "{texts:?}"
    );
    assert_eq!(sm.seq(), 0, "init_data ran in CAP_END");
    // mainline has no such path
    let (mut sm, mut bmc, mut log) = detected(KernelProfile::Mainline, 5, 2);
    let (_, rsp) = transact(&mut sm, &mut bmc, &mut log, &GET_DEVICE_ID, MS, S).unwrap();
    assert_eq!(rsp[2], 0);
}

/// 2005 design against a silent BMC with a non-zero status: three 2 s attempts,
/// one soft reset (seq reached 2), one more attempt, then HOSED.
#[test]
fn y2005_first_command_resets_then_hoses() {
    let mut sm = BtSm::new(KernelProfile::Linux2005);
    let mut bmc = FakeBmc::dead(0x02);
    let mut log = TimedLog::new(PrintkEra::Pre2_6_31);
    sm.detect(&mut bmc, &mut log).unwrap();
    sm.start_transaction(&mut log, &GET_DEVICE_ID).unwrap();
    let mut r = sm.event(&mut bmc, &mut log, 0);
    let mut guard = 0;
    while r != SmResult::Hosed {
        let t = if r == SmResult::CallWithoutDelay {
            0
        } else {
            10 * MS
        };
        bmc.now += t;
        r = sm.event(&mut bmc, &mut log, t);
        log.stamp(bmc.now);
        guard += 1;
        assert!(guard < 100_000);
    }
    assert_eq!(
        log.texts(),
        [
            "BT: timed out in B2H_WAIT [ ] restart command",
            "BT: timed out in B2H_WAIT [ ] restart command",
            "BT: timed out in B2H_WAIT [ ] retry limit (2) exceeded",
            "IPMI: BT reset (takes 5 secs)",
            "BT: timed out in B2H_WAIT [ ] retry limit (2) exceeded",
        ]
    );
    let reset_t = log.lines[3].0;
    assert!(within(reset_t, 6 * S, 6 * S + 100 * MS), "{reset_t}");
    assert!(within(log.lines[4].0 - reset_t, 8 * S, 8 * S + 100 * MS));
    assert_eq!(
        sm.seq(),
        3,
        "RESTART bumped seq per retry (0 -> 1 -> 2, then 3 after the reset)"
    );
}

/// 2.6.19 (late-2005 design): one soft reset after three attempts, then HOSED;
/// every message its own KERN_DEBUG line.
#[test]
fn y2005_late_one_reset_then_hosed() {
    let mut sm = BtSm::new(KernelProfile::Linux2005Late);
    let mut bmc = FakeBmc::dead(0x02);
    let mut log = TimedLog::new(PrintkEra::Pre2_6_31);
    sm.detect(&mut bmc, &mut log).unwrap();
    sm.start_transaction(&mut log, &GET_DEVICE_ID).unwrap();
    let mut r = sm.event(&mut bmc, &mut log, 0);
    let mut guard = 0;
    while r != SmResult::Hosed {
        let t = if r == SmResult::CallWithoutDelay {
            0
        } else {
            10 * MS
        };
        bmc.now += t;
        r = sm.event(&mut bmc, &mut log, t);
        log.stamp(bmc.now);
        guard += 1;
        assert!(guard < 100_000);
    }
    log.asm.flush();
    log.stamp(bmc.now);
    assert_eq!(
        log.texts(),
        [
            "BT: timed out in B2H_WAIT [ ]",
            "restart command",
            "BT: timed out in B2H_WAIT [ ]",
            "restart command",
            "BT: timed out in B2H_WAIT [ ]",
            "retry limit (2) exceeded",
            "IPMI: BT reset (takes 5 secs)",
            "BT: timed out in B2H_WAIT [ ]",
            "retry limit (2) exceeded",
        ]
    );
    assert!(log
        .lines
        .iter()
        .all(|(_, l)| l.level == ipmi_bt_sm::Level::Debug));
    assert_eq!(sm.seq(), 3);
}

/// T13 (B-3) as far as the SM is concerned: the pre-2014 synchronous loop slept one
/// jiffy (4 ms at HZ=250) but credited only 100 µs, so each 5 s attempt took
/// 50,000 sleeps = 200 s of wall time; crediting a full jiffy takes 1,250 sleeps.
#[test]
fn t13_detect_loop_crediting_100us_per_jiffy() {
    for (credit, attempt_sleeps) in [(100i64, 50_000u64), (4_000, 1_250)] {
        let mut sm = BtSm::new(KernelProfile::Mainline);
        let mut bmc = FakeBmc::dead(0x00);
        let mut lines = ipmi_bt_sm::LineAssembler::new(PrintkEra::KernCont);
        let run = sm
            .detect_blocking(&mut bmc, &mut lines, credit, 10_000_000)
            .unwrap();
        assert!(run.finished);
        // two attempts; a few zero-time calls in between
        let sleeps = (run.elapsed_us / credit) as u64;
        assert!(
            (2 * attempt_sleeps..=2 * attempt_sleeps + 4).contains(&sleeps),
            "{sleeps}"
        );
        let wall_s = sleeps as f64 * 0.004;
        assert!((wall_s / 2.0 - attempt_sleeps as f64 * 0.004).abs() < 0.1);
        let text: Vec<_> = lines.lines().iter().map(|l| l.text.clone()).collect();
        assert_eq!(
            text[text.len() - 2..],
            ["using default values", "req2rsp=5 secs retries=2"]
        );
    }
}
