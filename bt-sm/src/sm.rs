//! The BT host state machine: a sans-IO port of `drivers/char/ipmi/ipmi_bt_sm.c`.
//!
//! [`BtSm`] owns no I/O and no clock. The caller (a model of `ipmi_si_intf.c`)
//! passes an [`Io`] for register access, a [`LogSink`] for the kernel's messages and
//! the elapsed time in µs to every [`event`](BtSm::event), exactly like the kernel's
//! `si_sm_handlers` interface (`init_data`, `start_transaction`, `get_result`,
//! `event`, `detect`). Register accesses happen in the kernel's order, one `Io`
//! call per `inputb`/`outputb`. Section numbers refer to kernel-bt.md.

use core::fmt;

use ipmi_vocab::{app, NetFn};

use crate::cc::CompletionCode;
use crate::io::Io;
use crate::log::{Level, LogMsg, LogRecord, LogSink, LogStyle, NullLog, Reason};
use crate::profile::{Behaviour, KernelProfile, ResetRule, Y2005Variant};
use crate::regs::Ctrl;
use crate::state::Design;
use crate::state::State;

/// `IPMI_MAX_MSG_LENGTH` (include/linux/ipmi_msgdefs.h), from the workspace vocabulary.
pub use ipmi_vocab::IPMI_MAX_MSG_LENGTH;
/// Size of the request/response buffers: 272 + 2 as in newer kernels (the +2 holds
/// the length and seq bytes of a maximal request; older kernels overran 272).
pub(crate) const BUF_LEN: usize = IPMI_MAX_MSG_LENGTH + 2;
/// Register bytes the BT interface claims (`bt_init_data` returns 3).
pub const REGISTERS_CLAIMED: u32 = 3;
/// `BT_NORMAL_TIMEOUT` (2006+): 5 s per attempt, in µs.
pub(crate) const BT_NORMAL_TIMEOUT_US: i64 = 5_000_000;
/// `BT_NORMAL_RETRY_LIMIT` (2006+): default "retries" = total attempts.
pub(crate) const BT_NORMAL_RETRY_LIMIT: i64 = 2;
/// `BT_RESET_DELAY`: 6 s hold-off after the soft reset, in µs.
pub(crate) const BT_RESET_DELAY_US: i64 = 6_000_000;
/// 2005 `BT_NORMAL_TIMEOUT`: 2 s per attempt, in µs.
pub(crate) const BT_2005_TIMEOUT_US: i64 = 2_000_000;
/// 2005 `BT_RETRY_LIMIT`: retries after the first attempt (3 attempts).
pub(crate) const BT_2005_RETRY_LIMIT: u32 = 2;
/// The soft-reset frame RESET2 writes: len 3, NetFn App/LUN 0, seq 42, cmd 0x03
/// (Warm Reset, IPMI v2.0 §20.3).
pub(crate) const RESET_FRAME: [u8; 4] = [0x03, NetFn::App.netfn_lun(0), 42, app::WARM_RESET];
/// Get BT Interface Capabilities request: NetFn App (0x06 << 2), cmd 0x36
/// (IPMI v2.0 §22.9).
pub(crate) const GET_BT_CAPS: [u8; 2] = [NetFn::App.netfn_lun(0), app::GET_BT_CAPS];

const CLR_WR_PTR: u8 = Ctrl::CLR_WR_PTR.bits();
const CLR_RD_PTR: u8 = Ctrl::CLR_RD_PTR.bits();
const H2B_ATN: u8 = Ctrl::H2B_ATN.bits();
const B2H_ATN: u8 = Ctrl::B2H_ATN.bits();
const SMS_ATN: u8 = Ctrl::SMS_ATN.bits();
const H_BUSY: u8 = Ctrl::H_BUSY.bits();
const B_BUSY: u8 = Ctrl::B_BUSY.bits();
/// `BT_BMC_HWRST`, written to INTMASK by `reset_flags`.
const BMC_HWRST: u8 = 0x80;

const DEBUG_MSG: u8 = 2;
const DEBUG_STATES: u8 = 4;

/// `enum si_sm_result` (ipmi_si_sm.h), in the kernel's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SmResult {
    /// Call `event` again right away with time 0.
    CallWithoutDelay,
    /// Call again after a short delay (the SI timer: one jiffy or 10 ms).
    CallWithDelay,
    /// Call again after a tick (BT never returns this).
    CallWithTickDelay,
    /// A response (possibly synthesised) is ready: call `get_result`.
    TransactionComplete,
    /// Nothing to do.
    Idle,
    /// The interface is hosed (only the 2005 design returns this).
    Hosed,
    /// SMS_ATN was seen (and cleared): the BMC has a message or event.
    Attn,
}

impl SmResult {
    /// The kernel's name (`SI_SM_CALL_WITHOUT_DELAY`, …).
    pub const fn kernel_name(self) -> &'static str {
        match self {
            SmResult::CallWithoutDelay => "SI_SM_CALL_WITHOUT_DELAY",
            SmResult::CallWithDelay => "SI_SM_CALL_WITH_DELAY",
            SmResult::CallWithTickDelay => "SI_SM_CALL_WITH_TICK_DELAY",
            SmResult::TransactionComplete => "SI_SM_TRANSACTION_COMPLETE",
            SmResult::Idle => "SI_SM_IDLE",
            SmResult::Hosed => "SI_SM_HOSED",
            SmResult::Attn => "SI_SM_ATTN",
        }
    }
}

impl fmt::Display for SmResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kernel_name())
    }
}

/// `bt_detect` found CTRL and INTMASK both reading 0xFF: no BT interface there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotPresent;

impl fmt::Display for NotPresent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no BT interface: BT_CTRL and BT_INTMASK both read 0xFF")
    }
}

impl std::error::Error for NotPresent {}

/// Progress of the detect-time capabilities fetch (2018+ designs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DetectPhase {
    /// No detect-time fetch pending.
    Idle,
    /// The caps transaction was started; drive `event` until it stops returning
    /// `CallWith*`, then call [`BtSm::finish_detect`].
    Running,
}

/// Outcome of [`BtSm::detect_blocking`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DetectRun {
    /// `event` calls made by the detect loop.
    pub events: u64,
    /// Sum of the `time` arguments passed (virtual µs elapsed).
    pub elapsed_us: i64,
    /// False if `max_events` was reached first (the kernel would still be looping).
    pub finished: bool,
}

/// The BT state machine for one interface (`struct si_sm_data`).
///
/// Fixed-size buffers only: after construction nothing allocates.
#[derive(Clone, Debug)]
pub struct BtSm {
    behaviour: Behaviour,
    profile: Option<KernelProfile>,
    state: State,
    seq: u8,
    write_data: [u8; BUF_LEN],
    write_count: usize,
    read_data: [u8; BUF_LEN],
    read_count: i32,
    truncated: bool,
    timeout: i64,
    error_retries: u32,
    nonzero_status: u8,
    complete: State,
    caps_outreqs: u8,
    req2rsp: i64,
    retries: i64,
    /// 2006+: the kernel's *static* `last_printed` (shared by all instances there).
    last_printed: Option<State>,
    /// 2005: `bt->last_state`.
    last_state: State,
    /// FixedReset's `init` flag.
    init: bool,
    resets_this_transaction: u32,
    cpu_hung: bool,
    detect_phase: DetectPhase,
}

impl BtSm {
    /// Allocates and runs `init_data`, like the kernel's probe (`try_smi_init`).
    pub fn new(profile: KernelProfile) -> Self {
        let mut sm = Self::with_behaviour(profile.behaviour());
        sm.profile = Some(profile);
        sm
    }

    /// Same with custom switches.
    pub fn with_behaviour(b: Behaviour) -> Self {
        let mut sm = BtSm {
            behaviour: b,
            profile: None,
            state: State::Idle,
            seq: 0,
            write_data: [0; BUF_LEN],
            write_count: 0,
            read_data: [0; BUF_LEN],
            read_count: 0,
            truncated: false,
            timeout: 0,
            error_retries: 0,
            nonzero_status: 0,
            complete: State::Idle,
            caps_outreqs: 0,
            req2rsp: BT_NORMAL_TIMEOUT_US,
            retries: BT_NORMAL_RETRY_LIMIT,
            last_printed: None,
            last_state: State::Idle,
            init: false,
            resets_this_transaction: 0,
            cpu_hung: false,
            detect_phase: DetectPhase::Idle,
        };
        sm.init_data();
        sm
    }

    /// `bt_init_data`. 2006+: zero everything (so seq = 0, caps "not fetched",
    /// `init` cleared), then IDLE, complete = IDLE, 5 s / 2 retries.
    /// 2005: reset state, seq, counters and the 2 s timeout only.
    /// The kernel returns [`REGISTERS_CLAIMED`].
    pub fn init_data(&mut self) {
        match self.behaviour.design {
            Design::Y2006 => {
                self.state = State::Idle;
                self.complete = State::Idle;
                self.seq = 0;
                self.write_data = [0; BUF_LEN];
                self.write_count = 0;
                self.read_data = [0; BUF_LEN];
                self.read_count = 0;
                self.truncated = false;
                self.timeout = 0;
                self.error_retries = 0;
                self.nonzero_status = 0;
                self.caps_outreqs = 0;
                self.req2rsp = BT_NORMAL_TIMEOUT_US;
                self.retries = BT_NORMAL_RETRY_LIMIT;
                self.init = false;
                self.resets_this_transaction = 0;
            }
            Design::Y2005 => {
                self.state = State::Idle;
                self.last_state = State::Idle;
                self.seq = 0;
                self.write_count = 0;
                self.read_count = 0;
                self.error_retries = 0;
                self.nonzero_status = 0;
                self.truncated = false;
                self.timeout = BT_2005_TIMEOUT_US;
                self.req2rsp = BT_2005_TIMEOUT_US;
                self.retries = i64::from(BT_2005_RETRY_LIMIT) + 1;
                self.resets_this_transaction = 0;
            }
        }
    }

    /// [`REGISTERS_CLAIMED`], as `bt_init_data`'s return value.
    pub const fn init_data_size() -> u32 {
        REGISTERS_CLAIMED
    }

    // ----- accessors -----

    /// Current state.
    pub fn state(&self) -> State {
        self.state
    }
    /// The *next* sequence number to use.
    pub fn seq(&self) -> u8 {
        self.seq
    }
    /// Remaining µs of the current attempt (or of the reset hold-off).
    pub fn timeout_us(&self) -> i64 {
        self.timeout
    }
    /// Timeouts/errors so far in this transaction.
    pub fn error_retries(&self) -> u32 {
        self.error_retries
    }
    /// Per-attempt timeout `BT_CAP_req2rsp` in µs.
    pub fn req2rsp_us(&self) -> i64 {
        self.req2rsp
    }
    /// `BT_CAP_retries` (used as total attempts in 2006+).
    pub fn retries(&self) -> u32 {
        u32::try_from(self.retries).unwrap_or(0)
    }
    /// OR of every CTRL read since the attempt began.
    pub fn nonzero_status(&self) -> u8 {
        self.nonzero_status
    }
    /// Where an accepted response goes (`Idle`, or `CapabilitiesEnd` during a lazy caps fetch).
    pub fn complete(&self) -> State {
        self.complete
    }
    /// `BT_CAP_outreqs` (2006–2018: 0 means "capabilities not fetched yet").
    pub fn caps_outreqs(&self) -> u8 {
        self.caps_outreqs
    }
    /// Response length byte was out of range (`truncated`).
    pub fn truncated(&self) -> bool {
        self.truncated
    }
    /// The preset this machine was built from, if any.
    pub fn profile(&self) -> Option<KernelProfile> {
        self.profile
    }
    /// The behaviour switches in force.
    pub fn behaviour(&self) -> &Behaviour {
        &self.behaviour
    }
    /// Sets the `bt_debug` bitmask (1 generic, 2 messages, 4 state changes).
    pub fn set_debug(&mut self, mask: u8) {
        self.behaviour.debug = mask;
    }
    /// FixedReset's `init` flag: the reset branch is allowed only while it is set.
    /// `detect` sets it; `init_data` (run by `finish_detect`) clears it.
    pub fn set_init(&mut self, on: bool) {
        self.init = on;
    }
    /// The `init` flag.
    pub fn init_flag(&self) -> bool {
        self.init
    }
    /// B-11 model: a 255-byte response with an 8-bit read index hung the kernel
    /// (endless loop with the SI lock held). Once set, `event` does nothing.
    pub fn cpu_hung(&self) -> bool {
        self.cpu_hung
    }
    /// The framed request (length, NetFn/LUN, seq, cmd, data).
    pub fn request_frame(&self) -> &[u8] {
        &self.write_data[..self.write_count.min(BUF_LEN)]
    }
    /// The raw response buffer as last read or forced (`read_count` bytes).
    pub fn response_frame(&self) -> &[u8] {
        let n = usize::try_from(self.read_count).unwrap_or(0).min(BUF_LEN);
        &self.read_data[..n]
    }
    /// Detect-time caps fetch progress.
    pub fn detect_phase(&self) -> DetectPhase {
        self.detect_phase
    }
    /// True while the caller must keep calling `event` for `detect`'s caps transaction.
    pub fn detect_in_progress(&self) -> bool {
        self.detect_phase == DetectPhase::Running
    }

    // ----- logging helpers -----

    fn emit_as<L: LogSink + ?Sized>(
        log: &mut L,
        style: LogStyle,
        level: Level,
        msg: LogMsg,
        cont: bool,
    ) {
        // Continuations are bare `printk`s in the printk-era code, `pr_cont` in dev_*.
        let bare = cont && style != LogStyle::Dev;
        log.log(&LogRecord {
            level,
            msg,
            style,
            cont,
            bare,
        });
    }

    /// A `printk(KERN_CONT …)` / `pr_cont` continuation (never bare).
    fn emit_kcont<L: LogSink + ?Sized>(&self, log: &mut L, level: Level, msg: LogMsg) {
        log.log(&LogRecord {
            level,
            msg,
            style: self.behaviour.log_style,
            cont: true,
            bare: false,
        });
    }

    fn emit<L: LogSink + ?Sized>(&self, log: &mut L, level: Level, msg: LogMsg, cont: bool) {
        Self::emit_as(log, self.behaviour.log_style, level, msg, cont);
    }

    /// `printk(KERN_WARNING …)` debug output, or `dev_dbg` in the dev style.
    fn dbg_level(&self) -> Level {
        if self.behaviour.log_style == LogStyle::Dev {
            Level::Debug
        } else {
            Level::Warning
        }
    }

    fn debug(&self, bit: u8) -> bool {
        self.behaviour.debug & bit != 0
    }

    fn dump<L: LogSink + ?Sized>(&self, log: &mut L, bytes: &[u8]) {
        let lvl = self.dbg_level();
        for &b in bytes {
            self.emit(log, lvl, LogMsg::HexByte(b), true);
        }
        self.emit(log, lvl, LogMsg::LineEnd, true);
    }

    // ----- start / result -----

    /// `bt_start_transaction`: frame `data` = [NetFn/LUN, cmd, payload…] and start.
    ///
    /// 2006+ refusals in the kernel's order: len < 2 → 0xC7, len > 272 → 0xC8,
    /// LONG_BUSY → 0xC0, not IDLE → 0xD5 (newest code also warns
    /// `BT in invalid state %d`). The 2005 code returned -1/-2 instead of a code;
    /// this model reports both as 0xFF (unspecified).
    pub fn start_transaction<L: LogSink + ?Sized>(
        &mut self,
        log: &mut L,
        data: &[u8],
    ) -> Result<(), CompletionCode> {
        match self.behaviour.design {
            Design::Y2006 => self.start_2006(log, data),
            Design::Y2005 => self.start_2005(log, data),
        }
    }

    fn frame(&mut self, data: &[u8], seq: u8) {
        let size = data.len();
        // The kernel stores size + 1 into an unsigned char.
        self.write_data[0] = (size + 1) as u8;
        self.write_data[1] = data[0];
        self.write_data[2] = seq;
        self.write_data[3..size + 2].copy_from_slice(&data[1..]);
        self.write_count = size + 2;
    }

    fn start_2006<L: LogSink + ?Sized>(
        &mut self,
        log: &mut L,
        data: &[u8],
    ) -> Result<(), CompletionCode> {
        let size = data.len();
        if size < 2 {
            return Err(CompletionCode::REQUEST_DATA_LENGTH_INVALID);
        }
        if size > IPMI_MAX_MSG_LENGTH {
            return Err(CompletionCode::REQUEST_DATA_LENGTH_EXCEEDED);
        }
        if self.state == State::LongBusy {
            return Err(CompletionCode::NODE_BUSY);
        }
        if self.state != State::Idle {
            if self.behaviour.invalid_state_warning {
                let n = self
                    .state
                    .ordinal(Design::Y2006, self.behaviour.caps_in_sm());
                self.emit(log, Level::Warning, LogMsg::InvalidState(n), false);
            }
            return Err(CompletionCode::NOT_IN_PRESENT_STATE);
        }
        if self.debug(DEBUG_MSG) {
            let lvl = self.dbg_level();
            self.emit(log, lvl, LogMsg::NewCommand, false);
            self.emit(log, lvl, LogMsg::CommandHead(size as i32 - 2), false);
            self.dump(log, data);
        }
        let seq = self.seq;
        self.seq = self.seq.wrapping_add(1);
        self.frame(data, seq);
        self.error_retries = 0;
        self.nonzero_status = 0;
        self.truncated = false;
        self.resets_this_transaction = 0;
        self.state = State::XactionStart;
        self.timeout = self.req2rsp;
        self.force_result(CompletionCode::UNSPECIFIED.0);
        Ok(())
    }

    fn start_2005<L: LogSink + ?Sized>(
        &mut self,
        log: &mut L,
        data: &[u8],
    ) -> Result<(), CompletionCode> {
        let size = data.len();
        let max = if self.behaviour.y2005 == Y2005Variant::Linux2_6_19 {
            IPMI_MAX_MSG_LENGTH - 2
        } else {
            IPMI_MAX_MSG_LENGTH
        };
        if !(2..=max).contains(&size) {
            return Err(CompletionCode::UNSPECIFIED); // kernel: -1
        }
        if self.state != State::Idle && self.state != State::Hosed {
            return Err(CompletionCode::UNSPECIFIED); // kernel: -2
        }
        if self.debug(DEBUG_MSG) {
            self.emit(log, Level::Warning, LogMsg::NewCommand, false);
            self.emit(log, Level::Warning, LogMsg::WriteSeq2005(self.seq), false);
            self.dump(log, data);
        }
        self.frame(data, self.seq);
        self.error_retries = 0;
        self.nonzero_status = 0;
        self.read_count = 0;
        self.truncated = false;
        self.resets_this_transaction = 0;
        self.state = State::XactionStart;
        self.last_state = State::Idle;
        self.timeout = BT_2005_TIMEOUT_US;
        Ok(())
    }

    /// `force_result`: fabricate [4, NetFn|4, seq, cmd, cc] as the response.
    fn force_result(&mut self, cc: u8) {
        self.read_data[0] = 4;
        self.read_data[1] = self.write_data[1] | 4;
        self.read_data[2] = self.write_data[2];
        self.read_data[3] = self.write_data[3];
        self.read_data[4] = cc;
        self.read_count = 5;
    }

    /// `bt_get_result`: copy [NetFn, cmd, cc, data…] into `buf`; returns the length
    /// the kernel hands up. Bad lengths become 0xFF, a short `buf` or a truncated
    /// response becomes [NetFn, cmd, 0xC6]. With `buf` shorter than 3 bytes (the
    /// kernel assumes at least 3) only what fits is written and that count returned.
    pub fn get_result(&mut self, buf: &mut [u8]) -> usize {
        self.get_result_logged(&mut NullLog, buf)
    }

    /// [`get_result`](Self::get_result) with its `bt_debug & 2` dump sent to `log`.
    pub fn get_result_logged<L: LogSink + ?Sized>(&mut self, log: &mut L, buf: &mut [u8]) -> usize {
        let cap = buf.len();
        if cap >= IPMI_MAX_MSG_LENGTH {
            // Room for any result: build it in place (no scratch frame to
            // zero and copy on every completion).
            let n = self.build_result(log, buf, cap);
            return n.min(cap);
        }
        let mut out = [0u8; BUF_LEN];
        let n = self.build_result(log, &mut out, cap).min(cap);
        buf[..n].copy_from_slice(&out[..n]);
        n
    }

    /// The body of `bt_get_result`: writes the result into `out` (at least
    /// `IPMI_MAX_MSG_LENGTH` bytes) as if the caller's buffer held `cap`
    /// bytes, and returns its length `msg_len`.
    fn build_result<L: LogSink + ?Sized>(
        &mut self,
        log: &mut L,
        out: &mut [u8],
        cap: usize,
    ) -> usize {
        let mut msg_len = self.read_count - 2;
        let bad = !(3..=IPMI_MAX_MSG_LENGTH as i32).contains(&msg_len);
        match self.behaviour.design {
            Design::Y2006 => {
                if bad {
                    self.force_result(CompletionCode::UNSPECIFIED.0);
                    msg_len = 3;
                }
                out[0] = self.read_data[1];
                out[1] = self.read_data[3];
                if (cap as i64) < i64::from(msg_len) || self.truncated {
                    out[2] = CompletionCode::REQUEST_DATA_TRUNCATED.0;
                    msg_len = 3;
                } else {
                    let n = msg_len as usize;
                    out[2..n].copy_from_slice(&self.read_data[4..n + 2]);
                }
                if self.debug(DEBUG_MSG) {
                    self.emit(log, self.dbg_level(), LogMsg::Result(msg_len), false);
                    self.dump(log, &out[..msg_len as usize]);
                }
            }
            Design::Y2005 => {
                if bad {
                    let lvl = if self.behaviour.y2005_quiet() {
                        Level::Debug
                    } else {
                        Level::Warning
                    };
                    self.emit(log, lvl, LogMsg::BadMsgLen2005(msg_len), false);
                    out[0] = self.write_data[1] | 4;
                    out[1] = self.write_data[3];
                    out[2] = CompletionCode::UNSPECIFIED.0;
                    msg_len = 3;
                } else {
                    out[0] = self.read_data[1];
                    out[1] = self.read_data[3];
                    if (cap as i64) < i64::from(msg_len) {
                        self.truncated = true;
                    }
                    if self.truncated {
                        out[2] = CompletionCode::REQUEST_DATA_TRUNCATED.0;
                        msg_len = 3;
                    } else {
                        let n = msg_len as usize;
                        out[2..n].copy_from_slice(&self.read_data[4..n + 2]);
                    }
                    if self.debug(DEBUG_MSG) {
                        self.emit(log, Level::Warning, LogMsg::Result(msg_len), false);
                        self.dump(log, &out[..msg_len as usize]);
                    }
                }
                self.read_count = 0;
            }
        }
        msg_len as usize
    }

    // ----- register helpers -----

    /// `reset_flags` (2006+): [debug CTRL read], CTRL read → clear H_BUSY if set,
    /// CLR_WR_PTR, clear SMS_ATN, INTMASK = 0x80. 2005 also "cleared" B_BUSY.
    fn reset_flags<I: Io + ?Sized, L: LogSink + ?Sized>(&mut self, io: &mut I, log: &mut L) {
        match self.behaviour.design {
            Design::Y2006 => {
                if self.behaviour.debug != 0 {
                    let st = io.read_ctrl();
                    self.emit(log, self.dbg_level(), LogMsg::FlagReset(st), false);
                }
                if io.read_ctrl() & H_BUSY != 0 {
                    io.write_ctrl(H_BUSY);
                }
            }
            Design::Y2005 => {
                if io.read_ctrl() & H_BUSY != 0 {
                    io.write_ctrl(H_BUSY);
                }
                if io.read_ctrl() & B_BUSY != 0 {
                    io.write_ctrl(B_BUSY);
                }
                if self.behaviour.y2005 == Y2005Variant::Linux2_6_19 {
                    // 2.6.19: no INTMASK write; drain a pending response instead.
                    io.write_ctrl(CLR_WR_PTR);
                    io.write_ctrl(SMS_ATN);
                    if io.read_ctrl() & B2H_ATN != 0 {
                        io.write_ctrl(H_BUSY);
                        io.write_ctrl(B2H_ATN);
                        io.write_ctrl(CLR_RD_PTR);
                        for _ in 0..BUF_LEN {
                            let _ = io.read_buf();
                        }
                        io.write_ctrl(H_BUSY);
                    }
                    return;
                }
            }
        }
        io.write_ctrl(CLR_WR_PTR);
        io.write_ctrl(SMS_ATN);
        io.write_intmask(BMC_HWRST);
    }

    /// `drain_BMC2HOST`: discard a stale response if B2H_ATN is set (2006+).
    fn drain<I: Io + ?Sized, L: LogSink + ?Sized>(&mut self, io: &mut I, log: &mut L) {
        if io.read_ctrl() & B2H_ATN == 0 {
            return;
        }
        io.write_ctrl(H_BUSY);
        io.write_ctrl(B2H_ATN);
        let _ = io.read_ctrl(); // "pause"
        io.write_ctrl(B2H_ATN);
        io.write_ctrl(CLR_RD_PTR);
        if self.behaviour.debug != 0 {
            let st = io.read_ctrl();
            self.emit(log, self.dbg_level(), LogMsg::StaleResponse(st), false);
        }
        let size = io.read_buf();
        // `for (i = 0; i < size; i++) BMC2HOST;`: the bytes are thrown away.
        let mut discard = [0u8; u8::MAX as usize];
        if let Some(run) = discard.get_mut(..usize::from(size)) {
            io.read_bufs(run);
        }
        io.write_ctrl(H_BUSY);
        if self.behaviour.debug != 0 {
            self.emit(
                log,
                self.dbg_level(),
                LogMsg::Drained(i32::from(size) + 1),
                true,
            );
        }
    }

    /// `write_all_bytes`.
    fn write_all_bytes<I: Io + ?Sized, L: LogSink + ?Sized>(&mut self, io: &mut I, log: &mut L) {
        let n = self.write_count.min(BUF_LEN);
        if self.debug(DEBUG_MSG) {
            let lvl = self.dbg_level();
            self.emit(
                log,
                lvl,
                LogMsg::Write {
                    count: n as i32,
                    seq: self.seq,
                },
                false,
            );
            let frame = self.write_data;
            self.dump(log, &frame[..n]);
        }
        io.write_bufs(&self.write_data[..n]);
    }

    /// Reads `len` body bytes into `read_data[1..]`; with the 8-bit index and
    /// `len == 255` the kernel loop never ends: read one full round and mark hung.
    fn read_body<I: Io + ?Sized, L: LogSink + ?Sized>(
        &mut self,
        io: &mut I,
        log: &mut L,
        len: u8,
    ) -> bool {
        // `read_data` holds BUF_LEN > 255 bytes: indices 1..=len always fit.
        if let Some(body) = self.read_data.get_mut(1..=usize::from(len)) {
            io.read_bufs(body);
        }
        if self.behaviour.byte_read_index && len == u8::MAX {
            // i wraps 255 -> 0 and `i <= 255` stays true forever.
            self.read_data[0] = io.read_buf();
            self.cpu_hung = true;
            self.emit(log, Level::Crit, LogMsg::ReadIndexWrapped, false);
            return false;
        }
        true
    }

    /// `read_all_bytes` (2006+): true = accept (including a bad length, flagged
    /// `truncated`), false = not this request's response.
    fn read_all_bytes<I: Io + ?Sized, L: LogSink + ?Sized>(
        &mut self,
        io: &mut I,
        log: &mut L,
    ) -> bool {
        let len = io.read_buf();
        self.read_data[0] = len;
        self.read_count = i32::from(len);
        if len < 4 {
            // (len >= 272 cannot happen for a byte)
            if self.debug(DEBUG_MSG) {
                self.emit(
                    log,
                    self.dbg_level(),
                    LogMsg::BadRawLen(self.read_count),
                    false,
                );
            }
            self.truncated = true;
            return true;
        }
        if !self.read_body(io, log, len) {
            return false;
        }
        self.read_count += 1;
        if self.debug(DEBUG_MSG) {
            let lvl = self.dbg_level();
            let max = self.read_count.min(16) as usize;
            self.emit(
                log,
                lvl,
                LogMsg::Got {
                    count: self.read_count,
                    seq: self.read_data[2],
                },
                false,
            );
            for i in 0..max {
                self.emit_kcont(log, lvl, LogMsg::HexByte(self.read_data[i]));
            }
            self.emit_kcont(
                log,
                lvl,
                LogMsg::GotEnd {
                    more: self.read_count > 16,
                },
            );
        }
        if self.response_matches() {
            return true;
        }
        if self.debug(DEBUG_MSG) {
            let want = [
                self.write_data[1] | 0x04,
                self.write_data[2],
                self.write_data[3],
            ];
            let got = [self.read_data[1], self.read_data[2], self.read_data[3]];
            self.emit(
                log,
                self.dbg_level(),
                LogMsg::BadPacket { want, got },
                false,
            );
        }
        false
    }

    /// Cmd, seq and NetFn (ignoring LUN and the request/response bit) must match.
    fn response_matches(&self) -> bool {
        self.read_data[3] == self.write_data[3]
            && self.read_data[2] == self.write_data[2]
            && (self.read_data[1] & 0xF8) == (self.write_data[1] & 0xF8)
    }

    /// 2005 `read_all_bytes`.
    fn read_all_bytes_2005<I: Io + ?Sized, L: LogSink + ?Sized>(
        &mut self,
        io: &mut I,
        log: &mut L,
    ) -> bool {
        let len = io.read_buf();
        self.read_data[0] = len;
        self.read_count = i32::from(len);
        let dbg = self.debug(DEBUG_MSG);
        if dbg {
            self.emit(
                log,
                Level::Warning,
                LogMsg::Read2005(self.read_count),
                false,
            );
        }
        if len < 4 {
            if dbg {
                self.emit(
                    log,
                    Level::Warning,
                    LogMsg::BadLength2005(self.read_count),
                    true,
                );
            }
            self.truncated = true;
            return true;
        }
        if !self.read_body(io, log, len) {
            return false;
        }
        self.read_count += 1;
        if dbg {
            let frame = self.read_data;
            self.dump(log, &frame[..self.read_count as usize]);
        }
        if self.seq != self.write_data[2] {
            let lvl = if self.behaviour.y2005_quiet() {
                Level::Debug
            } else {
                Level::Warning
            };
            self.emit(log, lvl, LogMsg::SeqMismatch2005, false);
        }
        if self.response_matches() {
            return true;
        }
        if dbg {
            let want = [self.write_data[1], self.write_data[2], self.write_data[3]];
            let got = [self.read_data[1], self.read_data[2], self.read_data[3]];
            self.emit(log, Level::Warning, LogMsg::BadPacket { want, got }, false);
        }
        false
    }

    fn send_reset_frame<I: Io + ?Sized>(io: &mut I) {
        io.write_ctrl(CLR_WR_PTR);
        for b in RESET_FRAME {
            io.write_buf(b);
        }
        io.write_ctrl(H2B_ATN);
    }

    /// The reset decision of `error_recovery` for the configured rule.
    fn reset_allowed(&self) -> bool {
        if self.behaviour.reset_once_per_transaction && self.resets_this_transaction > 0 {
            return false;
        }
        match self.behaviour.reset_rule {
            ResetRule::SeqIsFirstPlusLimit => u32::from(self.seq) == BT_2005_RETRY_LIMIT,
            ResetRule::RetriesWithinLimitPlusOne => self.error_retries <= BT_2005_RETRY_LIMIT + 1,
            ResetRule::SeqWithinRetries => self.seq <= (self.retries & 0xFF) as u8,
            ResetRule::InitFlag => self.init,
        }
    }

    // ----- event -----

    /// `bt_event`: read status, maybe drain, charge `time_us`, then act for the
    /// current state (kernel-bt.md §5). Time is counted only from `time_us`.
    pub fn event<I: Io + ?Sized, L: LogSink + ?Sized>(
        &mut self,
        io: &mut I,
        log: &mut L,
        time_us: i64,
    ) -> SmResult {
        if self.cpu_hung {
            return SmResult::CallWithoutDelay;
        }
        match self.behaviour.design {
            Design::Y2006 => self.event_2006(io, log, time_us),
            Design::Y2005 => self.event_2005(io, log, time_us),
        }
    }

    fn event_2006<I: Io + ?Sized, L: LogSink + ?Sized>(
        &mut self,
        io: &mut I,
        log: &mut L,
        time: i64,
    ) -> SmResult {
        let d = Design::Y2006;
        let status = io.read_ctrl();
        self.nonzero_status |= status;
        if self.debug(DEBUG_STATES) && self.last_printed != Some(self.state) {
            let msg = LogMsg::StateChange {
                state: self.state,
                status,
                timeout: self.timeout,
                time,
            };
            self.emit(log, self.dbg_level(), msg, false);
            self.last_printed = Some(self.state);
        }

        if self.state.drains_stale(d) && status & B2H_ATN != 0 {
            if self.behaviour.charge_time_in_drain && self.state.charges_time(d) {
                self.timeout = self.timeout.saturating_sub(time);
                if self.timeout < 0 && self.state.timeout_recovers(d) {
                    return self.error_recovery(log, status, CompletionCode::TIMEOUT.0);
                }
            }
            self.drain(io, log);
            self.last_printed = None;
            return SmResult::CallWithDelay;
        }

        if self.state.charges_time(d) {
            self.timeout = self.timeout.saturating_sub(time);
            if self.timeout < 0 && self.state.timeout_recovers(d) {
                return self.error_recovery(log, status, CompletionCode::TIMEOUT.0);
            }
        }

        match self.state {
            State::Idle => {
                if status & SMS_ATN != 0 {
                    io.write_ctrl(SMS_ATN);
                    return SmResult::Attn;
                }
                if status & H_BUSY != 0 {
                    io.write_ctrl(H_BUSY);
                }
                if self.behaviour.caps_in_sm() {
                    // fe50a7d0393a moved this re-arm before the caps diversion.
                    if self.behaviour.timeout_before_caps_check {
                        self.timeout = self.req2rsp;
                    }
                    if self.caps_outreqs == 0 {
                        self.state = State::CapabilitiesBegin;
                        return SmResult::CallWithoutDelay;
                    }
                    if !self.behaviour.timeout_before_caps_check {
                        self.timeout = self.req2rsp;
                    }
                }
                self.last_printed = None;
                SmResult::Idle
            }
            State::XactionStart => {
                if status & (B_BUSY | H2B_ATN) != 0 {
                    self.last_printed = None;
                    return SmResult::CallWithDelay;
                }
                if io.read_ctrl() & H_BUSY != 0 {
                    io.write_ctrl(H_BUSY);
                }
                self.state = State::WriteBytes;
                SmResult::CallWithoutDelay
            }
            State::WriteBytes => {
                if status & H_BUSY != 0 {
                    io.write_ctrl(H_BUSY);
                }
                io.write_ctrl(CLR_WR_PTR);
                self.write_all_bytes(io, log);
                io.write_ctrl(H2B_ATN);
                self.state = State::WriteConsume;
                SmResult::CallWithoutDelay
            }
            State::WriteConsume => {
                if status & (B_BUSY | H2B_ATN) != 0 {
                    self.last_printed = None;
                    return SmResult::CallWithDelay;
                }
                self.state = State::ReadWait;
                SmResult::CallWithoutDelay
            }
            State::ReadWait => {
                if status & B2H_ATN == 0 {
                    self.last_printed = None;
                    return SmResult::CallWithDelay;
                }
                io.write_ctrl(H_BUSY);
                io.write_ctrl(B2H_ATN);
                self.state = State::ClearB2h;
                SmResult::CallWithoutDelay
            }
            State::ClearB2h => {
                if status & B2H_ATN != 0 {
                    io.write_ctrl(B2H_ATN);
                    self.last_printed = None;
                    return SmResult::CallWithDelay;
                }
                self.state = State::ReadBytes;
                SmResult::CallWithoutDelay
            }
            State::ReadBytes => {
                if status & H_BUSY == 0 {
                    io.write_ctrl(H_BUSY);
                }
                io.write_ctrl(CLR_RD_PTR);
                let mine = self.read_all_bytes(io, log);
                if self.cpu_hung {
                    return SmResult::CallWithoutDelay;
                }
                io.write_ctrl(H_BUSY);
                if !mine {
                    self.state = State::ReadWait;
                    if self.behaviour.delay_after_mismatch {
                        return SmResult::CallWithDelay;
                    }
                    return SmResult::CallWithoutDelay;
                }
                self.state = self.complete;
                if self.state == State::Idle {
                    SmResult::TransactionComplete
                } else {
                    SmResult::CallWithoutDelay
                }
            }
            State::LongBusy => {
                if status & B_BUSY == 0 {
                    self.reset_flags(io, log);
                    self.init_data();
                }
                SmResult::CallWithDelay
            }
            State::Reset1 => {
                self.reset_flags(io, log);
                self.drain(io, log);
                self.state = State::Reset2;
                SmResult::CallWithDelay
            }
            State::Reset2 => {
                Self::send_reset_frame(io);
                self.timeout = BT_RESET_DELAY_US;
                self.state = State::Reset3;
                SmResult::CallWithDelay
            }
            State::Reset3 => {
                if self.timeout > 0 {
                    return SmResult::CallWithDelay;
                }
                self.drain(io, log);
                self.state = State::Restart;
                SmResult::CallWithDelay
            }
            State::Restart => {
                self.read_count = 0;
                self.nonzero_status = 0;
                self.timeout = self.req2rsp;
                self.state = State::XactionStart;
                SmResult::CallWithDelay
            }
            State::CapabilitiesBegin if self.behaviour.caps_in_sm() => {
                self.caps_outreqs = 1;
                self.state = State::Idle;
                let _ = self.start_2006(log, &GET_BT_CAPS);
                self.complete = State::CapabilitiesEnd;
                self.state = State::XactionStart;
                SmResult::CallWithDelay
            }
            State::CapabilitiesEnd if self.behaviour.caps_in_sm() => {
                let mut cap = [0u8; 8];
                let n = self.get_result_logged(log, &mut cap);
                self.init_data();
                if n == 8 && cap[2] == 0 {
                    self.caps_outreqs = cap[3];
                    self.req2rsp = i64::from(cap[6]) * 1_000_000;
                    self.retries = i64::from(cap[7]);
                } else {
                    self.emit(log, Level::Warning, LogMsg::UsingDefaults, false);
                }
                if self.caps_outreqs == 0 {
                    self.caps_outreqs = 1;
                }
                let msg = LogMsg::Caps {
                    req2rsp_secs: self.req2rsp / 1_000_000,
                    retries: self.retries,
                };
                self.emit(log, Level::Warning, msg, false);
                self.timeout = self.req2rsp;
                SmResult::CallWithoutDelay
            }
            _ => self.error_recovery(log, status, CompletionCode::UNSPECIFIED.0),
        }
    }

    /// `error_recovery` (2006+, kernel-bt.md §7.3).
    fn error_recovery<L: LogSink + ?Sized>(&mut self, log: &mut L, status: u8, cc: u8) -> SmResult {
        self.timeout = self.req2rsp;
        let reason = if cc == CompletionCode::TIMEOUT.0 {
            Reason::Timeout
        } else {
            Reason::InternalError
        };
        let head = LogMsg::ErrorRecovery {
            reason,
            state: self.state,
            status,
        };
        self.emit(log, Level::Warning, head, false);
        self.error_retries = self.error_retries.saturating_add(1);
        if i64::from(self.error_retries) < self.retries {
            let left = self.retries - i64::from(self.error_retries);
            self.emit(log, Level::Warning, LogMsg::RetriesLeft(left), true);
            self.state = State::Restart;
            return SmResult::CallWithoutDelay;
        }
        self.emit(
            log,
            Level::Warning,
            LogMsg::Failed {
                retries: self.retries,
            },
            false,
        );
        if self.nonzero_status == 0 {
            self.emit(log, Level::Err, LogMsg::Stuck, false);
        } else if self.reset_allowed() {
            self.emit(log, self.behaviour.reset_level(), LogMsg::Reset, false);
            self.resets_this_transaction += 1;
            self.state = State::Reset1;
            return SmResult::CallWithoutDelay;
        }
        self.state = State::Idle;
        let mut cc = cc;
        if cc == CompletionCode::TIMEOUT.0 && status & B_BUSY != 0 {
            cc = CompletionCode::NODE_BUSY.0;
            self.state = State::LongBusy;
        }
        self.force_result(cc);
        SmResult::TransactionComplete
    }

    fn event_2005<I: Io + ?Sized, L: LogSink + ?Sized>(
        &mut self,
        io: &mut I,
        log: &mut L,
        time: i64,
    ) -> SmResult {
        let d = Design::Y2005;
        let status = io.read_ctrl();
        self.nonzero_status |= status;
        if self.debug(DEBUG_STATES) && self.state != self.last_state {
            let msg = LogMsg::StateChange {
                state: self.state,
                status,
                timeout: self.timeout,
                time,
            };
            self.emit(log, Level::Warning, msg, false);
        }
        self.last_state = self.state;
        if self.state == State::Hosed {
            return SmResult::Hosed;
        }
        if self.state != State::Idle {
            // "Prevent infinite lockup by ALWAYS decrementing timeout."
            let t = if self.behaviour.y2005 == Y2005Variant::Linux2_6_19 {
                time
            } else if time <= 0 || time >= BT_2005_TIMEOUT_US {
                100
            } else {
                time
            };
            self.timeout = self.timeout.saturating_sub(t);
            if self.timeout < 0 && self.state.timeout_recovers(d) {
                self.error_recovery_2005(io, log, Reason::Timeout);
                return SmResult::CallWithoutDelay;
            }
        }
        match self.state {
            State::Idle => {
                if status & SMS_ATN != 0 {
                    io.write_ctrl(SMS_ATN);
                    return SmResult::Attn;
                }
                SmResult::Idle
            }
            State::XactionStart => {
                if status & H_BUSY != 0 {
                    io.write_ctrl(H_BUSY);
                    return SmResult::CallWithDelay;
                }
                if status & B2H_ATN != 0 {
                    return SmResult::CallWithDelay;
                }
                self.state = State::WriteBytes;
                SmResult::CallWithoutDelay
            }
            State::WriteBytes => {
                if status & (B_BUSY | H2B_ATN) != 0 {
                    return SmResult::CallWithDelay;
                }
                io.write_ctrl(CLR_WR_PTR);
                self.write_all_bytes(io, log);
                io.write_ctrl(H2B_ATN);
                self.state = State::WriteConsume;
                SmResult::CallWithoutDelay
            }
            State::WriteConsume => {
                if status & (H2B_ATN | B_BUSY) != 0 {
                    return SmResult::CallWithDelay;
                }
                self.state = State::B2hWait;
                self.b2h_wait_2005(io, log, status)
            }
            State::B2hWait => self.b2h_wait_2005(io, log, status),
            State::ReadEnd => {
                self.seq = self.seq.wrapping_add(1);
                self.state = State::Idle;
                SmResult::TransactionComplete
            }
            State::Reset1 => {
                self.reset_flags(io, log);
                self.timeout = BT_RESET_DELAY_US;
                self.state = State::Reset2;
                SmResult::CallWithDelay
            }
            State::Reset2 => {
                Self::send_reset_frame(io);
                self.state = State::Reset3;
                SmResult::CallWithDelay
            }
            State::Reset3 => {
                if self.timeout > 0 {
                    return SmResult::CallWithDelay;
                }
                self.state = State::Restart;
                SmResult::CallWithDelay
            }
            State::Restart => {
                if self.behaviour.restart_resets_flags {
                    self.reset_flags(io, log);
                }
                self.seq = self.seq.wrapping_add(1);
                self.write_data[2] = self.seq;
                self.read_count = 0;
                self.nonzero_status = 0;
                self.timeout = BT_2005_TIMEOUT_US;
                self.state = State::XactionStart;
                SmResult::CallWithDelay
            }
            _ => {
                self.error_recovery_2005(io, log, Reason::InternalError);
                SmResult::CallWithDelay
            }
        }
    }

    fn b2h_wait_2005<I: Io + ?Sized, L: LogSink + ?Sized>(
        &mut self,
        io: &mut I,
        log: &mut L,
        status: u8,
    ) -> SmResult {
        if status & B2H_ATN == 0 {
            return SmResult::CallWithDelay;
        }
        if status & H_BUSY == 0 {
            io.write_ctrl(H_BUSY);
        }
        io.write_ctrl(B2H_ATN);
        io.write_ctrl(CLR_RD_PTR);
        let mine = self.read_all_bytes_2005(io, log);
        if self.cpu_hung {
            return SmResult::CallWithoutDelay;
        }
        io.write_ctrl(H_BUSY);
        if !mine {
            return SmResult::CallWithDelay;
        }
        self.state = State::ReadEnd;
        SmResult::CallWithoutDelay
    }

    /// 2005 `error_recovery`: re-reads CTRL, 3 attempts, then HOSED (or RESET1).
    fn error_recovery_2005<I: Io + ?Sized, L: LogSink + ?Sized>(
        &mut self,
        io: &mut I,
        log: &mut L,
        reason: Reason,
    ) {
        self.timeout = BT_2005_TIMEOUT_US;
        let status = io.read_ctrl();
        let state = self.state;
        // 2.6.12: one open-ended KERN_WARNING line with bare continuations;
        // 2.6.19: every message its own KERN_DEBUG line.
        let quiet = self.behaviour.y2005_quiet();
        let (lvl, cont) = if quiet {
            (Level::Debug, false)
        } else {
            (Level::Warning, true)
        };
        if quiet {
            let head = LogMsg::ErrorRecoveryLine {
                reason,
                state,
                status,
            };
            self.emit(log, lvl, head, false);
        } else {
            let head = LogMsg::ErrorRecovery {
                reason,
                state,
                status,
            };
            self.emit(log, lvl, head, false);
        }
        self.error_retries = self.error_retries.saturating_add(1);
        if self.error_retries > BT_2005_RETRY_LIMIT {
            let msg = LogMsg::RetryLimitExceeded(BT_2005_RETRY_LIMIT as i32);
            self.emit(log, lvl, msg, cont);
            self.state = State::Hosed;
            if self.nonzero_status == 0 {
                self.emit(log, Level::Err, LogMsg::Stuck, false);
            } else if self.reset_allowed() {
                self.emit(log, self.behaviour.reset_level(), LogMsg::Reset, false);
                self.resets_this_transaction += 1;
                self.state = State::Reset1;
            }
            return;
        }
        if self.state == State::B2hWait && status & B2H_ATN != 0 {
            self.emit(log, lvl, LogMsg::RetryB2hWait, cont);
            return;
        }
        self.emit(log, lvl, LogMsg::RestartCommand, cont);
        self.state = State::Restart;
    }

    // ----- detect -----

    /// `bt_detect`: presence test (CTRL == 0xFF && INTMASK == 0xFF → [`NotPresent`];
    /// INTMASK is read only if CTRL is 0xFF), then `reset_flags`. In the 2018+
    /// designs it then starts Get BT Interface Capabilities; the caller loops
    /// `event` (kernel: `CallWithDelay`/`CallWithTickDelay` → sleep one jiffy and pass
    /// `jiffies_to_usecs(1)`, `CallWithoutDelay` → pass 0, anything else → stop) while
    /// [`detect_in_progress`](Self::detect_in_progress), then calls
    /// [`finish_detect`](Self::finish_detect). Older designs fetch caps lazily.
    pub fn detect<I: Io + ?Sized, L: LogSink + ?Sized>(
        &mut self,
        io: &mut I,
        log: &mut L,
    ) -> Result<(), NotPresent> {
        if io.read_ctrl() == 0xFF && io.read_intmask() == 0xFF {
            return Err(NotPresent);
        }
        self.reset_flags(io, log);
        if !self.behaviour.caps_in_detect() {
            return Ok(());
        }
        self.init = true;
        match self.start_2006(log, &GET_BT_CAPS) {
            Ok(()) => self.detect_phase = DetectPhase::Running,
            Err(cc) => {
                Self::emit_as(
                    log,
                    LogStyle::Dev,
                    Level::Warning,
                    LogMsg::CantStartCaps(i32::from(cc.0)),
                    false,
                );
                Self::emit_as(
                    log,
                    LogStyle::Dev,
                    Level::Warning,
                    LogMsg::UsingDefaults,
                    false,
                );
                self.log_caps_info(log);
                self.detect_phase = DetectPhase::Idle;
            }
        }
        Ok(())
    }

    fn log_caps_info<L: LogSink + ?Sized>(&self, log: &mut L) {
        let msg = LogMsg::Caps {
            req2rsp_secs: self.req2rsp / 1_000_000,
            retries: self.retries,
        };
        Self::emit_as(log, LogStyle::Dev, Level::Info, msg, false);
    }

    /// End of `bt_detect` after the caller's event loop: `get_result` into an 8-byte
    /// buffer, `init_data` (seq = 0 again), then apply req2rsp/retries unclamped if
    /// ≥ 8 bytes with cc 0, else `bt cap response too short: %d` / `Error fetching
    /// bt cap: %x` + `using default values`; always `req2rsp=%ld secs retries=%d`.
    /// No-op unless [`detect_in_progress`](Self::detect_in_progress).
    pub fn finish_detect<L: LogSink + ?Sized>(&mut self, log: &mut L) {
        if self.detect_phase != DetectPhase::Running {
            return;
        }
        self.detect_phase = DetectPhase::Idle;
        let mut cap = [0u8; 8];
        let n = self.get_result_logged(log, &mut cap);
        self.init_data();
        let dev = LogStyle::Dev;
        if n < 8 {
            Self::emit_as(log, dev, Level::Warning, LogMsg::CapsTooShort(n), false);
            Self::emit_as(log, dev, Level::Warning, LogMsg::UsingDefaults, false);
        } else if cap[2] != 0 {
            Self::emit_as(log, dev, Level::Warning, LogMsg::CapsError(cap[2]), false);
            Self::emit_as(log, dev, Level::Warning, LogMsg::UsingDefaults, false);
        } else {
            self.req2rsp = i64::from(cap[6]) * 1_000_000;
            self.retries = i64::from(cap[7]);
        }
        self.log_caps_info(log);
    }

    /// Convenience: `detect` plus the kernel's synchronous loop (each delay credits
    /// `jiffy_us`), bounded by `max_events`, then `finish_detect` if the loop ended.
    pub fn detect_blocking<I: Io + ?Sized, L: LogSink + ?Sized>(
        &mut self,
        io: &mut I,
        log: &mut L,
        jiffy_us: i64,
        max_events: u64,
    ) -> Result<DetectRun, NotPresent> {
        self.detect(io, log)?;
        let mut run = DetectRun {
            events: 0,
            elapsed_us: 0,
            finished: true,
        };
        if !self.detect_in_progress() {
            return Ok(run);
        }
        let mut r = SmResult::CallWithoutDelay;
        loop {
            let t = match r {
                SmResult::CallWithDelay | SmResult::CallWithTickDelay => jiffy_us,
                SmResult::CallWithoutDelay => 0,
                _ => break,
            };
            if run.events >= max_events {
                run.finished = false;
                return Ok(run);
            }
            r = self.event(io, log, t);
            run.events += 1;
            run.elapsed_us = run.elapsed_us.saturating_add(t);
        }
        self.finish_detect(log);
        Ok(run)
    }

    /// Test hook: put the machine into any state (exercises the kernel's default branch).
    #[cfg(test)]
    pub(crate) fn force_state(&mut self, s: State) {
        self.state = s;
    }
}

#[cfg(test)]
mod tests;
