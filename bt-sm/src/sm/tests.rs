//! Unit tests of `sm.rs`: one or more per transition, plus mockall tests that
//! pin the exact register-access sequences.

use std::collections::VecDeque;

use mockall::predicate::eq;
use mockall::Sequence;

use super::*;
use crate::io::MockIo;
use crate::log::{LineAssembler, PrintkEra};

/// One register access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Rc(u8),
    Wc(u8),
    Rb(u8),
    Wb(u8),
    Ri(u8),
    Wi(u8),
}
use Op::*;

/// Scripted register file: reads come from queues (then a default), every access is recorded.
#[derive(Default)]
struct Script {
    ctrl: VecDeque<u8>,
    ctrl_default: u8,
    buf: VecDeque<u8>,
    intmask: u8,
    ops: Vec<Op>,
}

impl Script {
    fn ctrl(vals: &[u8]) -> Self {
        Script {
            ctrl: vals.iter().copied().collect(),
            ..Default::default()
        }
    }
    fn with_default(mut self, d: u8) -> Self {
        self.ctrl_default = d;
        self
    }
    fn with_buf(mut self, b: &[u8]) -> Self {
        self.buf = b.iter().copied().collect();
        self
    }
    fn take(&mut self) -> Vec<Op> {
        std::mem::take(&mut self.ops)
    }
}

impl Io for Script {
    fn read_ctrl(&mut self) -> u8 {
        let v = self.ctrl.pop_front().unwrap_or(self.ctrl_default);
        self.ops.push(Rc(v));
        v
    }
    fn write_ctrl(&mut self, val: u8) {
        self.ops.push(Wc(val));
    }
    fn read_buf(&mut self) -> u8 {
        let v = self.buf.pop_front().unwrap_or(0);
        self.ops.push(Rb(v));
        v
    }
    fn write_buf(&mut self, val: u8) {
        self.ops.push(Wb(val));
    }
    fn read_intmask(&mut self) -> u8 {
        self.ops.push(Ri(self.intmask));
        self.intmask
    }
    fn write_intmask(&mut self, val: u8) {
        self.ops.push(Wi(val));
    }
}

const GET_DEVICE_ID: [u8; 2] = [0x18, 0x01];

fn started(profile: KernelProfile) -> BtSm {
    let mut sm = BtSm::new(profile);
    sm.start_transaction(&mut NullLog, &GET_DEVICE_ID).unwrap();
    sm
}

fn lines(recs: &[LogRecord], era: PrintkEra) -> Vec<String> {
    let mut a = LineAssembler::new(era);
    for r in recs {
        a.log(r);
    }
    a.flush();
    a.lines().iter().map(|l| l.text.clone()).collect()
}

// ---------- start_transaction / framing ----------

#[test]
fn start_frames_request_and_bumps_seq() {
    let mut sm = BtSm::new(KernelProfile::Mainline);
    sm.start_transaction(&mut NullLog, &[0x18, 0x22, 0xAA])
        .unwrap();
    assert_eq!(sm.request_frame(), &[4, 0x18, 0, 0x22, 0xAA]);
    assert_eq!(sm.seq(), 1);
    assert_eq!(sm.state(), State::XactionStart);
    assert_eq!(sm.timeout_us(), 5_000_000);
    // pre-loaded 0xFF result
    assert_eq!(sm.response_frame(), &[4, 0x1C, 0, 0x22, 0xFF]);
}

#[test]
fn start_checks_in_kernel_order() {
    let mut sm = BtSm::new(KernelProfile::Mainline);
    let mut log: Vec<LogRecord> = Vec::new();
    assert_eq!(
        sm.start_transaction(&mut log, &[0x18]),
        Err(CompletionCode(0xC7))
    );
    assert_eq!(
        sm.start_transaction(&mut log, &[0u8; 273]),
        Err(CompletionCode(0xC8))
    );
    assert!(sm.start_transaction(&mut log, &[0u8; 272]).is_ok());
    assert_eq!(sm.request_frame().len(), 274);
    assert_eq!(sm.request_frame()[0], 17, "273 stored in an unsigned char");
    assert_eq!(
        sm.start_transaction(&mut log, &GET_DEVICE_ID),
        Err(CompletionCode(0xD5))
    );
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].msg, LogMsg::InvalidState(1));
    assert_eq!(log[0].to_string(), "BT in invalid state 1");
    sm.force_state(State::LongBusy);
    assert_eq!(
        sm.start_transaction(&mut log, &[0x18]),
        Err(CompletionCode(0xC7))
    );
    assert_eq!(
        sm.start_transaction(&mut log, &GET_DEVICE_ID),
        Err(CompletionCode(0xC0))
    );
}

#[test]
fn invalid_state_warning_only_in_newest_profiles() {
    let mut sm = started(KernelProfile::Mainline2018);
    let mut log: Vec<LogRecord> = Vec::new();
    assert_eq!(
        sm.start_transaction(&mut log, &GET_DEVICE_ID),
        Err(CompletionCode(0xD5))
    );
    assert!(log.is_empty());
}

#[test]
fn seq_wraps_at_256() {
    let mut sm = BtSm::new(KernelProfile::Mainline);
    for _ in 0..256 {
        sm.start_transaction(&mut NullLog, &GET_DEVICE_ID).unwrap();
        sm.force_state(State::Idle);
    }
    assert_eq!(sm.seq(), 0);
}

// ---------- IDLE ----------

#[test]
fn idle_sms_atn_is_cleared_and_reported() {
    let mut sm = BtSm::new(KernelProfile::Mainline);
    let mut io = Script::ctrl(&[0x10]);
    assert_eq!(sm.event(&mut io, &mut NullLog, 1000), SmResult::Attn);
    assert_eq!(io.take(), [Rc(0x10), Wc(0x10)]);
}

#[test]
fn idle_clears_leftover_h_busy() {
    let mut sm = BtSm::new(KernelProfile::Mainline);
    let mut io = Script::ctrl(&[0x40]);
    assert_eq!(sm.event(&mut io, &mut NullLog, 1000), SmResult::Idle);
    assert_eq!(io.take(), [Rc(0x40), Wc(0x40)]);
    assert_eq!(sm.event(&mut io, &mut NullLog, 1000), SmResult::Idle);
    assert_eq!(io.take(), [Rc(0)]);
}

#[test]
fn idle_drains_stale_response_before_anything() {
    let mut sm = BtSm::new(KernelProfile::Mainline);
    let mut io = Script::ctrl(&[0x18, 0x08]).with_buf(&[2, 0xAA, 0xBB]);
    assert_eq!(
        sm.event(&mut io, &mut NullLog, 1000),
        SmResult::CallWithDelay
    );
    assert_eq!(
        io.take(),
        [
            Rc(0x18),
            Rc(0x08),
            Wc(0x40),
            Wc(0x08),
            Rc(0),
            Wc(0x08),
            Wc(0x02),
            Rb(2),
            Rb(0xAA),
            Rb(0xBB),
            Wc(0x40)
        ]
    );
}

// ---------- XACTION_START ----------

#[test]
fn xaction_start_waits_for_b_busy_and_h2b() {
    for st in [0x80, 0x04] {
        let mut sm = started(KernelProfile::Mainline);
        let mut io = Script::ctrl(&[st]);
        assert_eq!(
            sm.event(&mut io, &mut NullLog, 1000),
            SmResult::CallWithDelay
        );
        assert_eq!(io.take(), [Rc(st)]);
        assert_eq!(sm.state(), State::XactionStart);
        assert_eq!(sm.timeout_us(), 4_999_000);
    }
}

#[test]
fn xaction_start_fresh_read_clears_h_busy() {
    let mut sm = started(KernelProfile::Mainline);
    let mut io = Script::ctrl(&[0x00, 0x40]);
    assert_eq!(
        sm.event(&mut io, &mut NullLog, 0),
        SmResult::CallWithoutDelay
    );
    assert_eq!(io.take(), [Rc(0), Rc(0x40), Wc(0x40)]);
    assert_eq!(sm.state(), State::WriteBytes);
}

#[test]
fn xaction_start_drains_stale_b2h_without_charging_time() {
    let mut sm = started(KernelProfile::Mainline);
    let mut io = Script::ctrl(&[0x08, 0x00]);
    assert_eq!(
        sm.event(&mut io, &mut NullLog, 9_000_000),
        SmResult::CallWithDelay
    );
    assert_eq!(
        sm.timeout_us(),
        5_000_000,
        "B-8: drain path skips the charge"
    );
    assert_eq!(sm.state(), State::XactionStart);
}

#[test]
fn proposed_drain_charges_time_and_times_out() {
    let mut sm = started(KernelProfile::Proposed);
    let mut io = Script::ctrl(&[0x08]).with_default(0x08);
    assert_eq!(
        sm.event(&mut io, &mut NullLog, 4_000_000),
        SmResult::CallWithDelay
    );
    assert_eq!(sm.timeout_us(), 1_000_000);
    assert_eq!(
        sm.event(&mut io, &mut NullLog, 2_000_000),
        SmResult::CallWithoutDelay
    );
    assert_eq!(sm.state(), State::Restart);
    assert_eq!(sm.error_retries(), 1);
}

// ---------- WRITE_BYTES / WRITE_CONSUME ----------

#[test]
fn write_bytes_sequence() {
    let mut sm = started(KernelProfile::Mainline);
    sm.force_state(State::WriteBytes);
    let mut io = Script::ctrl(&[0x40]);
    assert_eq!(
        sm.event(&mut io, &mut NullLog, 0),
        SmResult::CallWithoutDelay
    );
    assert_eq!(
        io.take(),
        [
            Rc(0x40),
            Wc(0x40),
            Wc(0x01),
            Wb(3),
            Wb(0x18),
            Wb(0),
            Wb(0x01),
            Wc(0x04)
        ]
    );
    assert_eq!(sm.state(), State::WriteConsume);
}

#[test]
fn write_consume_waits_then_advances() {
    let mut sm = started(KernelProfile::Mainline);
    sm.force_state(State::WriteConsume);
    let mut io = Script::ctrl(&[0x04, 0x80, 0x00]);
    assert_eq!(sm.event(&mut io, &mut NullLog, 0), SmResult::CallWithDelay);
    assert_eq!(sm.event(&mut io, &mut NullLog, 0), SmResult::CallWithDelay);
    assert_eq!(
        sm.event(&mut io, &mut NullLog, 0),
        SmResult::CallWithoutDelay
    );
    assert_eq!(sm.state(), State::ReadWait);
    assert_eq!(io.take(), [Rc(0x04), Rc(0x80), Rc(0)]);
}

// ---------- READ_WAIT / CLEAR_B2H / READ_BYTES ----------

#[test]
fn read_wait_acks_b2h_with_toggle() {
    let mut sm = started(KernelProfile::Mainline);
    sm.force_state(State::ReadWait);
    let mut io = Script::ctrl(&[0x00, 0x08]);
    assert_eq!(sm.event(&mut io, &mut NullLog, 0), SmResult::CallWithDelay);
    assert_eq!(
        sm.event(&mut io, &mut NullLog, 0),
        SmResult::CallWithoutDelay
    );
    assert_eq!(io.take(), [Rc(0), Rc(0x08), Wc(0x40), Wc(0x08)]);
    assert_eq!(sm.state(), State::ClearB2h);
}

#[test]
fn clear_b2h_keeps_hitting() {
    let mut sm = started(KernelProfile::Mainline);
    sm.force_state(State::ClearB2h);
    let mut io = Script::ctrl(&[0x48, 0x40]);
    assert_eq!(sm.event(&mut io, &mut NullLog, 0), SmResult::CallWithDelay);
    assert_eq!(
        sm.event(&mut io, &mut NullLog, 0),
        SmResult::CallWithoutDelay
    );
    assert_eq!(io.take(), [Rc(0x48), Wc(0x08), Rc(0x40)]);
    assert_eq!(sm.state(), State::ReadBytes);
}

#[test]
fn read_bytes_accepts_matching_response() {
    let mut sm = started(KernelProfile::Mainline);
    sm.force_state(State::ReadBytes);
    let mut io = Script::ctrl(&[0x00]).with_buf(&[5, 0x1D, 0, 0x01, 0x00, 0x20]);
    assert_eq!(
        sm.event(&mut io, &mut NullLog, 0),
        SmResult::TransactionComplete
    );
    assert_eq!(
        io.take(),
        [
            Rc(0),
            Wc(0x40),
            Wc(0x02),
            Rb(5),
            Rb(0x1D),
            Rb(0),
            Rb(1),
            Rb(0),
            Rb(0x20),
            Wc(0x40)
        ]
    );
    let mut out = [0u8; 10];
    let n = sm.get_result(&mut out);
    assert_eq!(
        &out[..n],
        &[0x1D, 0x01, 0x00, 0x20],
        "LUN bits of the response are passed up"
    );
    assert_eq!(sm.state(), State::Idle);
}

#[test]
fn read_bytes_rejects_wrong_seq_cmd_or_netfn() {
    for bad in [[0x1C, 1, 0x01], [0x1C, 0, 0x02], [0x24, 0, 0x01]] {
        let mut sm = started(KernelProfile::Mainline);
        sm.force_state(State::ReadBytes);
        let mut io = Script::ctrl(&[0x40]).with_buf(&[4, bad[0], bad[1], bad[2], 0]);
        assert_eq!(
            sm.event(&mut io, &mut NullLog, 0),
            SmResult::CallWithoutDelay
        );
        assert_eq!(sm.state(), State::ReadWait);
        assert_eq!(sm.timeout_us(), 5_000_000, "not re-armed, not charged");
        // H_BUSY already set: not toggled on entry
        assert_eq!(io.take()[..2], [Rc(0x40), Wc(0x02)]);
    }
}

#[test]
fn read_bytes_bad_length_is_accepted_as_truncated() {
    let mut sm = started(KernelProfile::Mainline);
    sm.force_state(State::ReadBytes);
    let mut io = Script::ctrl(&[0x40]).with_buf(&[2, 0xEE]);
    assert_eq!(
        sm.event(&mut io, &mut NullLog, 0),
        SmResult::TransactionComplete
    );
    assert_eq!(
        io.take(),
        [Rc(0x40), Wc(0x02), Rb(2), Wc(0x40)],
        "remaining bytes not read"
    );
    assert!(sm.truncated());
    let mut out = [0u8; 10];
    let n = sm.get_result(&mut out);
    assert_eq!(&out[..n], &[0x1C, 0x01, 0xC6]);
}

#[test]
fn get_result_short_buffer_truncates() {
    let mut sm = started(KernelProfile::Mainline);
    sm.force_state(State::ReadBytes);
    let mut io = Script::ctrl(&[0x40]).with_buf(&[6, 0x1C, 0, 0x01, 0x00, 0x20, 0x21]);
    sm.event(&mut io, &mut NullLog, 0);
    let mut out = [0u8; 4];
    assert_eq!(sm.get_result(&mut out), 3);
    assert_eq!(out[..3], [0x1C, 0x01, 0xC6]);
    let mut tiny = [0u8; 1];
    assert_eq!(sm.get_result(&mut tiny), 1);
    let mut big = [0u8; 8];
    assert_eq!(sm.get_result(&mut big), 5);
    assert_eq!(big[..5], [0x1C, 0x01, 0x00, 0x20, 0x21]);
}

#[test]
fn length_255_is_read_fully_in_new_code_and_hangs_old_code() {
    let mut body = vec![255u8, 0x1C, 0, 0x01, 0x00];
    body.resize(256, 0x5A);
    let mut sm = started(KernelProfile::Mainline);
    sm.force_state(State::ReadBytes);
    let mut io = Script::ctrl(&[0x40]).with_buf(&body);
    assert_eq!(
        sm.event(&mut io, &mut NullLog, 0),
        SmResult::TransactionComplete
    );
    let mut out = [0u8; 300];
    assert_eq!(sm.get_result(&mut out), 254);

    let mut sm = BtSm::new(KernelProfile::CapsInSm);
    sm.caps_outreqs = 1;
    sm.start_transaction(&mut NullLog, &GET_DEVICE_ID).unwrap();
    sm.force_state(State::ReadBytes);
    let mut io = Script::ctrl(&[0x40]).with_buf(&body);
    let mut log: Vec<LogRecord> = Vec::new();
    assert_eq!(sm.event(&mut io, &mut log, 0), SmResult::CallWithoutDelay);
    assert!(sm.cpu_hung());
    assert_eq!(log.last().unwrap().msg, LogMsg::ReadIndexWrapped);
    io.take();
    assert_eq!(
        sm.event(&mut io, &mut NullLog, 0),
        SmResult::CallWithoutDelay
    );
    assert!(io.take().is_empty(), "a hung CPU touches no register");
}

// ---------- error recovery ----------

fn expire(sm: &mut BtSm, status: u8, log: &mut Vec<LogRecord>) -> SmResult {
    let mut io = Script::ctrl(&[status]);
    let t = sm.timeout_us() + 1;
    sm.event(&mut io, log, t)
}

#[test]
fn first_timeout_restarts_with_same_frame() {
    let mut sm = started(KernelProfile::Mainline);
    sm.force_state(State::ReadWait);
    let mut log: Vec<LogRecord> = Vec::new();
    assert_eq!(expire(&mut sm, 0x00, &mut log), SmResult::CallWithoutDelay);
    assert_eq!(sm.state(), State::Restart);
    assert_eq!(
        lines(&log, PrintkEra::Modern),
        ["IPMI BT: timeout in RD_WAIT [ ] ", "1 retries left"]
    );
    assert_eq!(sm.timeout_us(), 5_000_000);
    let mut io = Script::ctrl(&[0x00]);
    assert_eq!(sm.event(&mut io, &mut NullLog, 0), SmResult::CallWithDelay);
    assert_eq!(io.take(), [Rc(0)], "RESTART touches no register");
    assert_eq!(sm.state(), State::XactionStart);
    assert_eq!(sm.nonzero_status(), 0);
    assert_eq!(sm.request_frame(), &[3, 0x18, 0, 0x01], "same seq resent");
}

#[test]
fn final_timeout_all_zero_status_is_stuck_and_c3() {
    let mut sm = started(KernelProfile::Mainline);
    let mut log: Vec<LogRecord> = Vec::new();
    expire(&mut sm, 0, &mut log);
    sm.force_state(State::ReadWait);
    assert_eq!(expire(&mut sm, 0, &mut log), SmResult::TransactionComplete);
    assert_eq!(
        lines(&log, PrintkEra::Modern),
        [
            "IPMI BT: timeout in XACTION [ ] ",
            "1 retries left",
            "IPMI BT: timeout in RD_WAIT [ ] ",
            "failed 2 retries, sending error response",
            "stuck, try power cycle"
        ]
    );
    assert_eq!(
        log.iter().find(|r| r.msg == LogMsg::Stuck).unwrap().level,
        Level::Err
    );
    let mut out = [0u8; 8];
    let n = sm.get_result(&mut out);
    assert_eq!(&out[..n], &[0x1C, 0x01, 0xC3]);
    assert_eq!(sm.state(), State::Idle);
}

#[test]
fn final_timeout_with_b_busy_and_large_seq_goes_long_busy() {
    let mut sm = BtSm::new(KernelProfile::Mainline);
    for _ in 0..5 {
        sm.start_transaction(&mut NullLog, &GET_DEVICE_ID).unwrap();
        sm.force_state(State::Idle);
    }
    sm.start_transaction(&mut NullLog, &GET_DEVICE_ID).unwrap();
    let mut log: Vec<LogRecord> = Vec::new();
    expire(&mut sm, 0x80, &mut log);
    sm.force_state(State::XactionStart);
    assert_eq!(
        expire(&mut sm, 0x80, &mut log),
        SmResult::TransactionComplete
    );
    assert_eq!(sm.state(), State::LongBusy);
    let mut out = [0u8; 8];
    let n = sm.get_result(&mut out);
    assert_eq!(&out[..n], &[0x1C, 0x01, 0xC0]);
    // LONG_BUSY: no time counted, CallWithDelay until B_BUSY drops
    let mut io = Script::ctrl(&[0x80]);
    assert_eq!(
        sm.event(&mut io, &mut NullLog, 99_000_000),
        SmResult::CallWithDelay
    );
    assert_eq!(io.take(), [Rc(0x80)]);
    assert_eq!(
        sm.start_transaction(&mut NullLog, &GET_DEVICE_ID),
        Err(CompletionCode(0xC0))
    );
    let mut io = Script::ctrl(&[0x00, 0x40]);
    assert_eq!(sm.event(&mut io, &mut NullLog, 0), SmResult::CallWithDelay);
    assert_eq!(
        io.take(),
        [Rc(0), Rc(0x40), Wc(0x40), Wc(0x01), Wc(0x10), Wi(0x80)]
    );
    assert_eq!(sm.state(), State::Idle);
    assert_eq!(sm.seq(), 0);
    assert_eq!((sm.req2rsp_us(), sm.retries()), (5_000_000, 2));
}

#[test]
fn final_timeout_nonzero_status_small_seq_takes_reset() {
    let mut sm = started(KernelProfile::Mainline);
    let mut log: Vec<LogRecord> = Vec::new();
    expire(&mut sm, 0x01, &mut log);
    sm.force_state(State::ReadWait);
    assert_eq!(expire(&mut sm, 0x01, &mut log), SmResult::CallWithoutDelay);
    assert_eq!(sm.state(), State::Reset1);
    assert_eq!(log.last().unwrap().msg, LogMsg::Reset);
    assert_eq!(log.last().unwrap().to_string(), "BT reset (takes 5 secs)");
    // RESTART after the reset: error_retries stays 2, so the next timeout fails again
    assert_eq!(sm.error_retries(), 2);
}

#[test]
fn reset_rule_init_flag() {
    let mut sm = started(KernelProfile::FixedReset);
    let mut log: Vec<LogRecord> = Vec::new();
    expire(&mut sm, 0x01, &mut log);
    sm.force_state(State::XactionStart);
    assert_eq!(
        expire(&mut sm, 0x01, &mut log),
        SmResult::TransactionComplete,
        "init clear: no reset"
    );
    let mut sm = started(KernelProfile::FixedReset);
    sm.set_init(true);
    expire(&mut sm, 0x01, &mut log);
    sm.force_state(State::XactionStart);
    assert_eq!(expire(&mut sm, 0x01, &mut log), SmResult::CallWithoutDelay);
    assert_eq!(sm.state(), State::Reset1);
}

#[test]
fn reset_once_per_transaction() {
    let mut sm = started(KernelProfile::Proposed);
    sm.set_init(true);
    let mut log: Vec<LogRecord> = Vec::new();
    expire(&mut sm, 0x01, &mut log);
    sm.force_state(State::XactionStart);
    expire(&mut sm, 0x01, &mut log);
    assert_eq!(sm.state(), State::Reset1);
    sm.force_state(State::ReadWait);
    assert_eq!(
        expire(&mut sm, 0x01, &mut log),
        SmResult::TransactionComplete
    );
    let mut sm = started(KernelProfile::Mainline);
    expire(&mut sm, 0x01, &mut log);
    sm.force_state(State::XactionStart);
    expire(&mut sm, 0x01, &mut log);
    sm.force_state(State::ReadWait);
    assert_eq!(
        expire(&mut sm, 0x01, &mut log),
        SmResult::CallWithoutDelay,
        "mainline resets again"
    );
}

#[test]
fn default_branch_is_internal_error() {
    let mut sm = started(KernelProfile::Mainline);
    sm.force_state(State::PrintMe);
    let mut log: Vec<LogRecord> = Vec::new();
    let mut io = Script::ctrl(&[0x00]);
    assert_eq!(sm.event(&mut io, &mut log, 0), SmResult::CallWithoutDelay);
    assert_eq!(
        log[0].to_string(),
        "IPMI BT: internal error in BAD STATE [ ] "
    );
    assert_eq!(sm.state(), State::Restart);
}

// ---------- reset states ----------

#[test]
fn reset_states_sequence() {
    let mut sm = started(KernelProfile::Mainline);
    sm.force_state(State::Reset1);
    let mut io = Script::ctrl(&[0x00, 0x00, 0x00]);
    assert_eq!(sm.event(&mut io, &mut NullLog, 0), SmResult::CallWithDelay);
    assert_eq!(
        io.take(),
        [Rc(0), Rc(0), Wc(0x01), Wc(0x10), Wi(0x80), Rc(0)]
    );
    assert_eq!(sm.state(), State::Reset2);
    assert_eq!(sm.event(&mut io, &mut NullLog, 0), SmResult::CallWithDelay);
    assert_eq!(
        io.take(),
        [Rc(0), Wc(0x01), Wb(3), Wb(0x18), Wb(42), Wb(3), Wc(0x04)]
    );
    assert_eq!(sm.timeout_us(), 6_000_000);
    assert_eq!(
        sm.event(&mut io, &mut NullLog, 6_000_000),
        SmResult::CallWithDelay
    );
    assert_eq!(sm.state(), State::Restart, "timeout 0 is not > 0");
    assert_eq!(io.take(), [Rc(0), Rc(0)]);
}

// ---------- capabilities inside the SM (2006-2018) ----------

#[test]
fn idle_rearm_before_or_after_caps_check() {
    let mut io = Script::ctrl(&[]);
    let mut old = BtSm::new(KernelProfile::CapsInSm);
    assert_eq!(
        old.event(&mut io, &mut NullLog, 0),
        SmResult::CallWithoutDelay
    );
    assert_eq!(old.state(), State::CapabilitiesBegin);
    assert_eq!(old.timeout_us(), 0, "diverting path skipped the re-arm");
    let mut fixed = BtSm::new(KernelProfile::CapsInSmTimeoutFix);
    fixed.event(&mut io, &mut NullLog, 0);
    assert_eq!(fixed.timeout_us(), 5_000_000, "fe50a7d0393a");
    let mut main = BtSm::new(KernelProfile::Mainline);
    assert_eq!(main.event(&mut io, &mut NullLog, 0), SmResult::Idle);
    assert_eq!(main.timeout_us(), 0);
}

#[test]
fn cap_begin_and_end() {
    let mut sm = BtSm::new(KernelProfile::CapsInSm);
    let mut io = Script::ctrl(&[]);
    sm.event(&mut io, &mut NullLog, 0);
    assert_eq!(sm.event(&mut io, &mut NullLog, 0), SmResult::CallWithDelay);
    assert_eq!(sm.state(), State::XactionStart);
    assert_eq!(sm.complete(), State::CapabilitiesEnd);
    assert_eq!(sm.caps_outreqs(), 1);
    assert_eq!(sm.request_frame(), &[3, 0x18, 0, 0x36]);
    sm.force_state(State::ReadBytes);
    let mut io = Script::ctrl(&[0x40]).with_buf(&[9, 0x1C, 0, 0x36, 0, 3, 0x40, 0x40, 7, 4]);
    assert_eq!(
        sm.event(&mut io, &mut NullLog, 0),
        SmResult::CallWithoutDelay
    );
    assert_eq!(sm.state(), State::CapabilitiesEnd);
    let mut log: Vec<LogRecord> = Vec::new();
    assert_eq!(sm.event(&mut io, &mut log, 0), SmResult::CallWithoutDelay);
    assert_eq!(sm.state(), State::Idle);
    assert_eq!(
        (sm.req2rsp_us(), sm.retries(), sm.caps_outreqs(), sm.seq()),
        (7_000_000, 4, 3, 0)
    );
    assert_eq!(
        lines(&log, PrintkEra::Pre2_6_31),
        ["IPMI BT: req2rsp=7 secs retries=4"]
    );
}

#[test]
fn cap_end_bad_answer_uses_defaults() {
    let mut sm = BtSm::new(KernelProfile::CapsInSm);
    sm.start_transaction(&mut NullLog, &GET_BT_CAPS).unwrap();
    sm.complete = State::CapabilitiesEnd;
    sm.force_state(State::ReadBytes);
    let mut io = Script::ctrl(&[0x40, 0]).with_buf(&[5, 0x1C, 0, 0x36, 0xC1, 0]);
    sm.event(&mut io, &mut NullLog, 0);
    let mut log: Vec<LogRecord> = Vec::new();
    sm.event(&mut io, &mut log, 0);
    assert_eq!(
        lines(&log, PrintkEra::Pre2_6_31),
        [
            "IPMI BT: using default values",
            "IPMI BT: req2rsp=5 secs retries=2"
        ]
    );
    assert_eq!(
        sm.caps_outreqs(),
        1,
        "0 forced to 1 so caps are not re-fetched"
    );
}

// ---------- detect ----------

#[test]
fn detect_presence_test_short_circuits() {
    let mut sm = BtSm::new(KernelProfile::Mainline);
    let mut io = Script::ctrl(&[0xFF]);
    io.intmask = 0xFF;
    assert_eq!(sm.detect(&mut io, &mut NullLog), Err(NotPresent));
    assert_eq!(io.take(), [Rc(0xFF), Ri(0xFF)]);
    let mut io = Script::ctrl(&[0x00, 0x00]);
    io.intmask = 0xFF;
    assert!(sm.detect(&mut io, &mut NullLog).is_ok());
    assert_eq!(
        io.take(),
        [Rc(0), Rc(0), Wc(0x01), Wc(0x10), Wi(0x80)],
        "INTMASK not read"
    );
    assert!(sm.detect_in_progress());
    assert_eq!(sm.request_frame(), &[3, 0x18, 0, 0x36]);
    assert!(sm.init_flag());
}

#[test]
fn detect_old_profiles_is_presence_and_flag_reset_only() {
    let mut sm = BtSm::new(KernelProfile::CapsInSm);
    let mut io = Script::ctrl(&[]);
    assert!(sm.detect(&mut io, &mut NullLog).is_ok());
    assert!(!sm.detect_in_progress());
    assert_eq!(sm.state(), State::Idle);
    let mut sm = BtSm::new(KernelProfile::Linux2005);
    let mut io = Script::ctrl(&[0, 0x40, 0x80]);
    sm.detect(&mut io, &mut NullLog).unwrap();
    assert_eq!(
        io.take(),
        [
            Rc(0),
            Rc(0x40),
            Wc(0x40),
            Rc(0x80),
            Wc(0x80),
            Wc(0x01),
            Wc(0x10),
            Wi(0x80)
        ]
    );
}

#[test]
fn finish_detect_applies_caps_unclamped_and_resets_seq() {
    for (rsp, req2rsp, retries, text) in [
        (
            &[9u8, 0x1C, 0, 0x36, 0, 1, 0x40, 0x40, 0, 255][..],
            0,
            255,
            vec!["req2rsp=0 secs retries=255"],
        ),
        (
            &[5, 0x1C, 0, 0x36, 0xC1, 0][..],
            5_000_000,
            2,
            vec![
                "bt cap response too short: 4",
                "using default values",
                "req2rsp=5 secs retries=2",
            ],
        ),
        (
            &[4, 0x1C, 0, 0x36, 0x00][..],
            5_000_000,
            2,
            vec![
                "bt cap response too short: 3",
                "using default values",
                "req2rsp=5 secs retries=2",
            ],
        ),
        (
            &[9, 0x1C, 0, 0x36, 0xD5, 1, 0x40, 0x40, 9, 9][..],
            5_000_000,
            2,
            vec![
                "Error fetching bt cap: d5",
                "using default values",
                "req2rsp=5 secs retries=2",
            ],
        ),
        (
            &[10, 0x1C, 0, 0x36, 0, 1, 0x40, 0x40, 9, 9, 0][..],
            5_000_000,
            2,
            vec![
                "bt cap response too short: 3",
                "using default values",
                "req2rsp=5 secs retries=2",
            ],
        ),
    ] {
        let mut sm = BtSm::new(KernelProfile::Mainline2018);
        sm.detect(&mut Script::ctrl(&[]), &mut NullLog).unwrap();
        sm.force_state(State::ReadBytes);
        let mut io = Script::ctrl(&[0x40]).with_buf(rsp);
        assert_eq!(
            sm.event(&mut io, &mut NullLog, 0),
            SmResult::TransactionComplete
        );
        let mut log: Vec<LogRecord> = Vec::new();
        sm.finish_detect(&mut log);
        assert_eq!(
            (sm.req2rsp_us(), sm.retries(), sm.seq()),
            (req2rsp, retries, 0)
        );
        assert_eq!(lines(&log, PrintkEra::Modern), text);
        assert!(log.iter().all(|r| r.style == LogStyle::Dev));
        assert_eq!(log.last().unwrap().level, Level::Info);
        assert!(!sm.init_flag());
    }
}

#[test]
fn detect_cant_start_caps() {
    let mut sm = started(KernelProfile::Mainline);
    let mut log: Vec<LogRecord> = Vec::new();
    sm.detect(&mut Script::ctrl(&[]), &mut log).unwrap();
    assert!(!sm.detect_in_progress());
    let got: Vec<String> = log.iter().map(|r| r.to_string()).collect();
    assert_eq!(
        got,
        [
            "BT in invalid state 1",
            "Can't start capabilities transaction: 213",
            "using default values",
            "req2rsp=5 secs retries=2"
        ]
    );
}

// ---------- debug output ----------

#[test]
fn debug_lines_only_when_enabled() {
    let mut io = Script::ctrl(&[0x00, 0x00, 0x00]);
    let mut log: Vec<LogRecord> = Vec::new();
    let mut sm = BtSm::new(KernelProfile::Mainline2018);
    sm.start_transaction(&mut log, &GET_DEVICE_ID).unwrap();
    sm.event(&mut io, &mut log, 0);
    sm.event(&mut io, &mut log, 0);
    assert!(log.is_empty());
    assert_eq!(io.take().iter().filter(|o| matches!(o, Rc(_))).count(), 3);

    let mut sm = BtSm::new(KernelProfile::Mainline2018);
    sm.set_debug(7);
    let mut io = Script::ctrl(&[]);
    sm.start_transaction(&mut log, &GET_DEVICE_ID).unwrap();
    sm.event(&mut io, &mut log, 0);
    sm.event(&mut io, &mut log, 0);
    assert_eq!(
        lines(&log, PrintkEra::Modern),
        [
            "BT: +++++++++++++++++ New command",
            "BT: NetFn/LUN CMD [0 data]: 18 01",
            "BT: XACTION [ ] TO=5000000 - 0 ",
            "BT: WR_BYTES [ ] TO=5000000 - 0 ",
            "BT: write 4 bytes seq=0x01 03 18 00 01",
        ]
    );
}

#[test]
fn debug_flag_reset_adds_a_status_read() {
    let mut sm = BtSm::new(KernelProfile::Mainline);
    sm.set_debug(1);
    let mut io = Script::ctrl(&[0x84, 0x00]);
    let mut log: Vec<LogRecord> = Vec::new();
    sm.reset_flags(&mut io, &mut log);
    assert_eq!(io.take(), [Rc(0x84), Rc(0), Wc(1), Wc(0x10), Wi(0x80)]);
    assert_eq!(log[0].to_string(), "flag reset [ B_BUSY H2B ]");
    assert_eq!(log[0].level, Level::Debug);
}

#[test]
fn debug_drain_and_bad_packet_text() {
    let mut sm = started(KernelProfile::CapsInSmTimeoutFix);
    sm.set_debug(3);
    let mut io = Script::ctrl(&[0x08, 0x08, 0, 0x00]).with_buf(&[1, 0]);
    let mut log: Vec<LogRecord> = Vec::new();
    sm.event(&mut io, &mut log, 0);
    assert_eq!(
        lines(&log, PrintkEra::Modern),
        ["IPMI BT: stale response [ ]; drained 2 bytes"]
    );
    log.clear();
    sm.force_state(State::ReadBytes);
    let mut io = Script::ctrl(&[0x40]).with_buf(&[4, 0x1C, 9, 0x01, 0]);
    sm.event(&mut io, &mut log, 0);
    assert_eq!(
        lines(&log, PrintkEra::Modern),
        [
            "BT: got 5 bytes seq=0x09 04 1c 09 01 00",
            "IPMI BT: bad packet: want 0x(1C, 00, 01) got (1C, 09, 01)"
        ]
    );
}

// ---------- 2005 design ----------

#[test]
fn y2005_restart_bumps_seq_and_hoses_after_three_attempts() {
    let mut sm = started(KernelProfile::Linux2005);
    sm.seq = 5;
    sm.write_data[2] = 5;
    let mut log: Vec<LogRecord> = Vec::new();
    let mut io = Script::ctrl(&[]);
    for attempt in 0..3 {
        sm.force_state(State::B2hWait);
        // 2005 clamps time >= 2 s to 100 µs: burn the 2 s attempt in 1.9 s steps
        sm.event(&mut io, &mut log, 1_900_000);
        let r = sm.event(&mut io, &mut log, 1_900_000);
        assert_eq!(r, SmResult::CallWithoutDelay, "attempt {attempt}");
        if attempt < 2 {
            assert_eq!(sm.state(), State::Restart);
            sm.event(&mut io, &mut log, 0);
            assert_eq!(sm.seq(), 6 + attempt as u8);
            assert_eq!(sm.request_frame()[2], sm.seq());
        }
    }
    assert_eq!(sm.state(), State::Hosed);
    assert_eq!(sm.event(&mut io, &mut log, 0), SmResult::Hosed);
    assert_eq!(
        lines(&log, PrintkEra::Pre2_6_31),
        [
            "BT: timed out in B2H_WAIT [ ] restart command",
            "BT: timed out in B2H_WAIT [ ] restart command",
            "BT: timed out in B2H_WAIT [ ] retry limit (2) exceeded",
            "IPMI: BT stuck, try power cycle"
        ]
    );
    // start allowed from HOSED
    assert!(sm.start_transaction(&mut NullLog, &GET_DEVICE_ID).is_ok());
}

#[test]
fn y2005_late_no_time_clamp_and_270_byte_limit() {
    let mut sm = started(KernelProfile::Linux2005Late);
    let mut io = Script::ctrl(&[0x80, 0x80]);
    sm.event(&mut io, &mut NullLog, 0);
    assert_eq!(sm.timeout_us(), 2_000_000);
    sm.event(&mut io, &mut NullLog, 1_500_000);
    assert_eq!(sm.timeout_us(), 500_000);
    let mut sm = BtSm::new(KernelProfile::Linux2005Late);
    assert!(sm.start_transaction(&mut NullLog, &[0u8; 271]).is_err());
    assert!(sm.start_transaction(&mut NullLog, &[0u8; 270]).is_ok());
    let mut sm = BtSm::new(KernelProfile::Linux2005);
    assert!(sm.start_transaction(&mut NullLog, &[0u8; 272]).is_ok());
}

#[test]
fn y2005_late_reset_flags_drains_274_bytes() {
    let mut sm = BtSm::new(KernelProfile::Linux2005Late);
    let mut io = Script::ctrl(&[0, 0, 0, 0x08]);
    sm.detect(&mut io, &mut NullLog).unwrap();
    let ops = io.take();
    assert_eq!(
        ops[..8],
        [
            Rc(0),
            Rc(0),
            Rc(0),
            Wc(1),
            Wc(0x10),
            Rc(0x08),
            Wc(0x40),
            Wc(0x08)
        ]
    );
    assert_eq!(ops[8], Wc(0x02));
    assert_eq!(ops.iter().filter(|o| matches!(o, Rb(_))).count(), 274);
    assert_eq!(ops.last(), Some(&Wc(0x40)));
    assert!(!ops.iter().any(|o| matches!(o, Wi(_))));
}

#[test]
fn y2005_time_clamp() {
    let mut sm = started(KernelProfile::Linux2005);
    let mut io = Script::ctrl(&[0x80, 0x80, 0x80]);
    sm.event(&mut io, &mut NullLog, 0);
    assert_eq!(sm.timeout_us(), 2_000_000 - 100, "time 0 counts as 100 µs");
    sm.event(&mut io, &mut NullLog, 50_000_000);
    assert_eq!(
        sm.timeout_us(),
        2_000_000 - 200,
        "huge time counts as 100 µs"
    );
    sm.event(&mut io, &mut NullLog, 1000);
    assert_eq!(sm.timeout_us(), 2_000_000 - 1200);
}

#[test]
fn y2005_reset_only_at_seq_two_and_late_patch_resets_flags_on_restart() {
    let mut sm = started(KernelProfile::Linux2005);
    sm.seq = 2;
    sm.error_retries = 2;
    sm.nonzero_status = 0x80;
    let mut io = Script::ctrl(&[0x80]);
    let mut log: Vec<LogRecord> = Vec::new();
    sm.timeout = 0;
    sm.event(&mut io, &mut log, 1);
    assert_eq!(sm.state(), State::Reset1);
    assert_eq!(
        log.last().unwrap().to_string(),
        "IPMI: BT reset (takes 5 secs)"
    );
    assert_eq!(log.last().unwrap().level, Level::Warning);

    let mut sm = started(KernelProfile::Linux2005Late);
    sm.seq = 9;
    sm.error_retries = 2;
    sm.nonzero_status = 0x80;
    sm.timeout = 0;
    let mut log: Vec<LogRecord> = Vec::new();
    sm.event(&mut Script::ctrl(&[0x80]), &mut log, 1);
    assert_eq!(
        sm.state(),
        State::Reset1,
        "late-2005 rule: error_retries <= 3"
    );
    assert_eq!(log.last().unwrap().level, Level::Debug);
    sm.force_state(State::Restart);
    let mut io = Script::ctrl(&[0, 0, 0]);
    sm.event(&mut io, &mut NullLog, 0);
    // 2.6.19 reset_flags: no INTMASK write, checks B2H for a drain instead
    assert_eq!(io.take(), [Rc(0), Rc(0), Rc(0), Wc(1), Wc(0x10), Rc(0)]);
    assert_eq!(sm.seq(), 10);
}

#[test]
fn y2005_full_transaction() {
    let mut sm = started(KernelProfile::Linux2005);
    let mut io = Script::ctrl(&[0, 0, 0, 0x08]).with_buf(&[4, 0x1C, 0, 0x01, 0x00]);
    assert_eq!(
        sm.event(&mut io, &mut NullLog, 0),
        SmResult::CallWithoutDelay
    );
    assert_eq!(
        sm.event(&mut io, &mut NullLog, 0),
        SmResult::CallWithoutDelay
    );
    assert_eq!(
        sm.event(&mut io, &mut NullLog, 0),
        SmResult::CallWithDelay,
        "fell through to B2H_WAIT"
    );
    assert_eq!(
        sm.event(&mut io, &mut NullLog, 0),
        SmResult::CallWithoutDelay
    );
    assert_eq!(sm.state(), State::ReadEnd);
    assert_eq!(
        sm.event(&mut io, &mut NullLog, 0),
        SmResult::TransactionComplete
    );
    assert_eq!(sm.seq(), 1);
    let ops = io.take();
    assert_eq!(
        ops,
        [
            Rc(0),
            Rc(0),
            Wc(1),
            Wb(3),
            Wb(0x18),
            Wb(0),
            Wb(1),
            Wc(4),
            Rc(0),
            Rc(0x08),
            Wc(0x40),
            Wc(0x08),
            Wc(0x02),
            Rb(4),
            Rb(0x1C),
            Rb(0),
            Rb(1),
            Rb(0),
            Wc(0x40),
            Rc(0)
        ]
    );
    let mut out = [0u8; 8];
    let n = sm.get_result(&mut out);
    assert_eq!(&out[..n], &[0x1C, 0x01, 0x00]);
}

// ---------- mockall: exact register sequences ----------

fn rc(m: &mut MockIo, s: &mut Sequence, v: u8) {
    m.expect_read_ctrl().times(1).in_sequence(s).return_const(v);
}
fn wc(m: &mut MockIo, s: &mut Sequence, v: u8) {
    m.expect_write_ctrl()
        .with(eq(v))
        .times(1)
        .in_sequence(s)
        .return_const(());
}
fn rb(m: &mut MockIo, s: &mut Sequence, v: u8) {
    m.expect_read_buf().times(1).in_sequence(s).return_const(v);
}
fn wb(m: &mut MockIo, s: &mut Sequence, v: u8) {
    m.expect_write_buf()
        .with(eq(v))
        .times(1)
        .in_sequence(s)
        .return_const(());
}
fn wi(m: &mut MockIo, s: &mut Sequence, v: u8) {
    m.expect_write_intmask()
        .with(eq(v))
        .times(1)
        .in_sequence(s)
        .return_const(());
}

/// Expectations for XACTION_START → WRITE_BYTES → WRITE_CONSUME → READ_WAIT (one busy poll each).
fn expect_write_phase(m: &mut MockIo, s: &mut Sequence, frame: &[u8]) {
    rc(m, s, 0x00); // XACTION_START status
    rc(m, s, 0x00); // fresh H_BUSY check
    rc(m, s, 0x00); // WRITE_BYTES status
    wc(m, s, 0x01);
    for &b in frame {
        wb(m, s, b);
    }
    wc(m, s, 0x04);
    rc(m, s, 0x04); // WRITE_CONSUME: H2B still set
    rc(m, s, 0x00); // consumed
}

#[test]
fn mock_get_device_id_full_transaction() {
    let mut m = MockIo::new();
    let mut s = Sequence::new();
    expect_write_phase(&mut m, &mut s, &[3, 0x18, 0, 0x01]);
    rc(&mut m, &mut s, 0x00); // READ_WAIT: nothing yet
    rc(&mut m, &mut s, 0x08); // B2H
    wc(&mut m, &mut s, 0x40);
    wc(&mut m, &mut s, 0x08);
    rc(&mut m, &mut s, 0x40); // CLEAR_B2H: B2H dropped, H_BUSY set
    rc(&mut m, &mut s, 0x40); // READ_BYTES
    wc(&mut m, &mut s, 0x02);
    for b in [
        15u8, 0x1C, 0, 0x01, 0x00, 0x20, 0x81, 0x05, 0x02, 0xBF, 0x57, 0x01, 0x00, 0x23, 0x01, 0x00,
    ] {
        rb(&mut m, &mut s, b);
    }
    wc(&mut m, &mut s, 0x40);

    let mut sm = started(KernelProfile::Mainline);
    let expect = [
        SmResult::CallWithoutDelay,
        SmResult::CallWithoutDelay,
        SmResult::CallWithDelay,
        SmResult::CallWithoutDelay,
        SmResult::CallWithDelay,
        SmResult::CallWithoutDelay,
        SmResult::CallWithoutDelay,
        SmResult::TransactionComplete,
    ];
    for (i, e) in expect.iter().enumerate() {
        assert_eq!(sm.event(&mut m, &mut NullLog, 1000), *e, "event {i}");
    }
    let mut out = [0u8; 32];
    let n = sm.get_result(&mut out);
    assert_eq!(
        &out[..n],
        &[0x1C, 0x01, 0x00, 0x20, 0x81, 0x05, 0x02, 0xBF, 0x57, 0x01, 0x00, 0x23, 0x01, 0x00]
    );
    m.checkpoint();
}

#[test]
fn mock_timeout_with_retry_resends_identical_frame() {
    let mut m = MockIo::new();
    let mut s = Sequence::new();
    expect_write_phase(&mut m, &mut s, &[3, 0x18, 0, 0x01]);
    rc(&mut m, &mut s, 0x00); // READ_WAIT, time runs out: no register write
    rc(&mut m, &mut s, 0x00); // RESTART: status only
    expect_write_phase(&mut m, &mut s, &[3, 0x18, 0, 0x01]);

    let mut sm = started(KernelProfile::Mainline);
    let mut log: Vec<LogRecord> = Vec::new();
    for _ in 0..4 {
        sm.event(&mut m, &mut log, 0);
    }
    assert_eq!(sm.state(), State::ReadWait);
    assert_eq!(
        sm.event(&mut m, &mut log, 5_000_001),
        SmResult::CallWithoutDelay
    );
    assert_eq!(sm.event(&mut m, &mut log, 0), SmResult::CallWithDelay);
    for _ in 0..4 {
        sm.event(&mut m, &mut log, 0);
    }
    assert_eq!(sm.state(), State::ReadWait);
    assert_eq!(
        lines(&log, PrintkEra::Modern),
        ["IPMI BT: timeout in RD_WAIT [ ] ", "1 retries left"]
    );
    m.checkpoint();
}

#[test]
fn mock_reset1_to_restart_sequence() {
    let mut m = MockIo::new();
    let mut s = Sequence::new();
    // attempt 1 and 2 time out in XACTION_START with B_BUSY|CLR_WR_PTR visible
    rc(&mut m, &mut s, 0x81);
    rc(&mut m, &mut s, 0x81); // RESTART
    rc(&mut m, &mut s, 0x81); // final timeout -> reset branch
                              // RESET1: status, reset_flags, drain (stale response present)
    rc(&mut m, &mut s, 0x01);
    rc(&mut m, &mut s, 0x40); // reset_flags: H_BUSY set -> toggle off
    wc(&mut m, &mut s, 0x40);
    wc(&mut m, &mut s, 0x01);
    wc(&mut m, &mut s, 0x10);
    wi(&mut m, &mut s, 0x80);
    rc(&mut m, &mut s, 0x08); // drain: B2H set
    wc(&mut m, &mut s, 0x40);
    wc(&mut m, &mut s, 0x08);
    rc(&mut m, &mut s, 0x00); // pause
    wc(&mut m, &mut s, 0x08);
    wc(&mut m, &mut s, 0x02);
    rb(&mut m, &mut s, 2);
    rb(&mut m, &mut s, 0xAA);
    rb(&mut m, &mut s, 0xBB);
    wc(&mut m, &mut s, 0x40);
    // RESET2: soft reset frame 03 18 2A 03
    rc(&mut m, &mut s, 0x00);
    wc(&mut m, &mut s, 0x01);
    for b in [0x03, 0x18, 0x2A, 0x03] {
        wb(&mut m, &mut s, b);
    }
    wc(&mut m, &mut s, 0x04);
    // RESET3: still holding off, then done (drain finds nothing)
    rc(&mut m, &mut s, 0x00);
    rc(&mut m, &mut s, 0x00);
    rc(&mut m, &mut s, 0x00);
    // RESTART
    rc(&mut m, &mut s, 0x00);

    let mut sm = started(KernelProfile::Mainline);
    let mut log: Vec<LogRecord> = Vec::new();
    assert_eq!(
        sm.event(&mut m, &mut log, 5_000_001),
        SmResult::CallWithoutDelay
    );
    assert_eq!(sm.event(&mut m, &mut log, 0), SmResult::CallWithDelay);
    assert_eq!(
        sm.event(&mut m, &mut log, 5_000_001),
        SmResult::CallWithoutDelay
    );
    assert_eq!(sm.state(), State::Reset1);
    assert_eq!(sm.event(&mut m, &mut log, 0), SmResult::CallWithDelay);
    assert_eq!(sm.state(), State::Reset2);
    assert_eq!(sm.event(&mut m, &mut log, 0), SmResult::CallWithDelay);
    assert_eq!((sm.state(), sm.timeout_us()), (State::Reset3, 6_000_000));
    assert_eq!(
        sm.event(&mut m, &mut log, 5_999_999),
        SmResult::CallWithDelay
    );
    assert_eq!(sm.state(), State::Reset3);
    assert_eq!(sm.event(&mut m, &mut log, 1), SmResult::CallWithDelay);
    assert_eq!(sm.state(), State::Restart);
    assert_eq!(sm.event(&mut m, &mut log, 0), SmResult::CallWithDelay);
    assert_eq!(
        (sm.state(), sm.timeout_us()),
        (State::XactionStart, 5_000_000)
    );
    assert_eq!(sm.error_retries(), 2);
    assert_eq!(
        lines(&log, PrintkEra::Modern),
        [
            "IPMI BT: timeout in XACTION [ B_BUSY ] ",
            "1 retries left",
            "IPMI BT: timeout in XACTION [ B_BUSY ] ",
            "failed 2 retries, sending error response",
            "BT reset (takes 5 secs)"
        ]
    );
    m.checkpoint();
}
