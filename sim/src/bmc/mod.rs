//! The simulated BMC behind the BT device: its firmware loop (take request →
//! dispatch → post response), the command dispatcher, the watchdog, the SEL
//! and fault injection, all in virtual time.
//!
//! # Driving it
//!
//! [`SimBmc`] is sans-IO: it never reads a clock. Whoever drives it calls
//! [`SimBmc::advance`] with the current [`Instant`] before each batch of host
//! register accesses (or uses [`SimBmc::io`], which does both), and asks
//! [`SimBmc::next_deadline`] when the BMC will next act by itself so a
//! scheduler can jump there. Host register accesses go through the
//! [`ipmi_bt_sm::Io`] implementation; a host write that changes something the
//! firmware waits for (H2B_ATN set, H_BUSY or B2H_ATN cleared, BMC_HWRST)
//! makes the BMC react at once, at the current time, subject to its configured
//! latencies.
//!
//! # Firmware behaviour (per request)
//!
//! 1. The host sets H2B_ATN. After `take_latency` the BMC takes the request
//!    like Linux `bt-bmc.c` `bt_bmc_read`: B_BUSY set, H2B_ATN cleared, buffer
//!    read. Requests are counted ([`SimBmc::commands_seen`]) when the host
//!    sets H2B_ATN.
//! 2. Framing is checked (length byte = bytes written − 1, ≥ 4 bytes, fits
//!    the buffer); see [`MalformedPolicy`].
//! 3. The command is executed at once ([`SimBmc::handle_command`]); the
//!    response is ready `response_latency` (+ jitter, or a
//!    [`Fault::Slow`] latency) later.
//! 4. When ready (and, with `post_waits_for_host`, once neither H_BUSY nor
//!    B2H_ATN is set: IPMI §11.6.1, bt-bmc `bt_bmc_write`), the response
//!    `len, (netfn|1)<<2|lun, seq, cmd, cc, data…` is posted, B2H_ATN set
//!    (QEMU `ipmi_bt_handle_rsp`) and B_BUSY cleared (or cleared right after
//!    step 1 when `b_busy_until_response` is false, as bt-bmc).
//!
//! # Commands
//!
//! App (NetFn 0x06): Get Device ID 0x01, Cold Reset 0x02 (answers, then the
//! BMC reboots once the host has read the answer, or after 1 s; watchdog
//! lost), Warm Reset 0x03 (answers; nothing else changes — the interface is
//! already idle when a request is taken), Reset/Set/Get Watchdog Timer
//! 0x22/0x24/0x25 (via [`ipmi_watchdog::Watchdog`]), Set/Get BMC Global
//! Enables 0x2E/0x2F, Clear/Get Message Flags 0x30/0x31 (bit 3 = watchdog
//! pre-timeout; SMS_ATN is raised on a messaging pre-timeout), Get Message
//! 0x33 and Read Event Message Buffer 0x35 (always empty: 0x80), Get BT
//! Interface Capabilities 0x36. Storage (NetFn 0x0A): Get SEL Info 0x40,
//! Reserve SEL 0x42, Get SEL Entry 0x43, Clear SEL 0x47, Get SEL Time 0x48.
//! Anything else: 0xC1. LUN ≠ 0: 0xC2 (QEMU `ipmi_sim_handle_command`).
//! Commands without request data accept (ignore) extra bytes, like QEMU;
//! commands with data answer 0xC7 when it is too short.

pub(crate) mod config;
pub(crate) mod device;
pub(crate) mod fault;
pub(crate) mod sel;

use core::fmt;
use core::time::Duration;

use ipmi_bt_sm::regs::Ctrl;
use ipmi_bt_sm::CompletionCode;
use ipmi_vocab::Instant;
use ipmi_watchdog::{
    MessageFlags, PreTimeoutInterrupt, TimerAction, TimerUse, Watchdog, WatchdogEvent,
};

pub(crate) use self::config::{BmcConfig, BtCapabilities, ColdResetBehaviour, MalformedPolicy};
pub(crate) mod port;
pub(crate) use self::port::{BmcPort, HostAction, Reply};
use self::sel::Sel;
use crate::bmc::device::{BtDevice, DeviceEvents, NoEvents, BT_MAX_BUF};
use crate::bmc::fault::{
    ActiveFaults, Fault, FaultAction, FaultKind, FaultPlan, ResponseRewrite, Trigger,
};
use crate::rng::SplitMix64;

/// NetFn App and NetFn Storage (IPMI v2.0 §5.1, Table 5-1), from the vocabulary.
pub(crate) use ipmi_vocab::{NETFN_APP, NETFN_STORAGE};

/// Command numbers the dispatcher knows (IPMI v2.0 Appendix G), from
/// `ipmi_vocab`'s one table. Each is marked there as answered by the
/// simulated BMC (`Users::SIM_BMC`); `tests/tests/vocabulary.rs` checks both
/// lists agree.
pub(crate) mod cmd {
    pub(crate) use ipmi_vocab::app::{
        CLEAR_MSG_FLAGS, COLD_RESET, GET_BT_CAPS, GET_DEVICE_ID, GET_GLOBAL_ENABLES, GET_MESSAGE,
        GET_MSG_FLAGS, GET_WATCHDOG, READ_EVENT_BUFFER, RESET_WATCHDOG, SET_GLOBAL_ENABLES,
        SET_WATCHDOG, WARM_RESET,
    };
    pub(crate) use ipmi_vocab::storage::{
        CLEAR_SEL, GET_SEL_ENTRY, GET_SEL_INFO, GET_SEL_TIME, RESERVE_SEL,
    };
}

/// Completion code 0x80 for Get Message / Read Event Message Buffer: "data
/// not available (queue / buffer empty)" (IPMI v2.0 §22.6, §22.8).
pub(crate) const CC_DATA_NOT_AVAILABLE: CompletionCode = CompletionCode(0x80);

/// Most response data bytes that can follow the completion code in one frame.
pub const MAX_RESPONSE_DATA: usize = BT_MAX_BUF - 5;

/// How long a Cold Reset answer may wait to be read before the BMC reboots anyway.
const COLD_RESET_GRACE: Duration = Duration::from_secs(1);
/// Global Enables bit 0: receive message queue interrupt (IPMI §22.1).
const GLOBAL_ENABLE_RCV_MSG_IRQ: u8 = 0x01;
/// Global Enables bit 2: event message buffer.
const GLOBAL_ENABLE_EVENT_BUFFER: u8 = 0x04;
/// Global Enables bit 3: system event logging.
const GLOBAL_ENABLE_EVENT_LOG: u8 = 0x08;
/// Global Enables bit 4: reserved.
const GLOBAL_ENABLE_RESERVED: u8 = 0x10;
/// SEL generator ID of the BMC itself: slave address 0x20, LUN 0 (§32.1).
const BMC_GENERATOR_ID: u16 = 0x0020;
/// Sensor number of the watchdog sensor (QEMU's built-in SDR uses 0).
const WATCHDOG_SENSOR_NUMBER: u8 = 0;

/// A command's answer: completion code and data, inline (no allocation).
#[derive(Clone, Copy)]
pub struct Response {
    /// Completion code.
    pub cc: CompletionCode,
    len: u16,
    data: [u8; MAX_RESPONSE_DATA],
}

impl Response {
    /// A response with no data.
    pub const fn new(cc: CompletionCode) -> Self {
        Self {
            cc,
            len: 0,
            data: [0; MAX_RESPONSE_DATA],
        }
    }

    /// A response with `data` (truncated to [`MAX_RESPONSE_DATA`]).
    #[inline]
    pub fn with_data(cc: CompletionCode, data: &[u8]) -> Self {
        let mut r = Self::new(cc);
        r.extend(data);
        r
    }

    /// Append bytes; returns false (appending what fits) if they overflow.
    pub fn extend(&mut self, bytes: &[u8]) -> bool {
        let at = usize::from(self.len);
        let n = bytes.len().min(MAX_RESPONSE_DATA - at);
        if let (Some(dst), Some(src)) = (self.data.get_mut(at..at + n), bytes.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.len += n as u16;
        n == bytes.len()
    }

    /// The data bytes after the completion code.
    pub fn data(&self) -> &[u8] {
        self.data.get(..usize::from(self.len)).unwrap_or(&[])
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("cc", &self.cc)
            .field("data", &self.data())
            .finish()
    }
}

impl PartialEq for Response {
    fn eq(&self, other: &Self) -> bool {
        self.cc == other.cc && self.data() == other.data()
    }
}
impl Eq for Response {}

/// Why a request got no response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// [`Fault::Silent`]: not executed.
    Silent,
    /// [`Fault::IgnoreCommand`]: not executed.
    Ignored,
    /// [`Fault::LoseResponses`]: executed, answer lost.
    Lost,
    /// [`Fault::RandomLoss`]: executed, answer lost.
    RandomLoss,
    /// Malformed framing ([`MalformedPolicy::Drop`] or no complete header).
    Malformed,
    /// The fault that held a taken request with B_BUSY set ended
    /// ([`Fault::HoldBusy`], or `unanswered_holds_b_busy`), or, with
    /// `unanswered_holds_b_busy` (QEMU), the host wrote a new request that
    /// superseded the held one.
    Hung,
    /// The response could not be posted (cannot happen with sane framing).
    PostFailed,
    /// [`Fault::LateAnswer`]: executed, the answer comes later.
    Late,
    /// QEMU's BT device (`qemu_bt_device`) dropped an answer whose msg_id is
    /// not the awaited one (`ipmi_bt_handle_rsp`): a second copy, a
    /// correction, or an answer to a request already answered.
    NotAwaited,
}

/// Which copy of a response was posted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PostKind {
    /// The real answer.
    Normal,
    /// [`Fault::WrongSeq`]: the answer with a wrong seq.
    WrongSeq,
    /// [`Fault::StaleResponse`]: the previous transaction's answer.
    Stale,
    /// [`Fault::DuplicateResponse`]: the second copy.
    Duplicate,
    /// The correct answer following a wrong-seq or stale one.
    Correction,
    /// [`Fault::LateAnswer`]: an answer posted after its time.
    Late,
    /// QEMU `ipmi-bmc-extern`'s own answer: 0xC3 when its timer fired
    /// (`extern_timeout`), 0xD2 while or when the link is down.
    Extern,
    /// QEMU's BT device answered Get BT Interface Capabilities itself.
    Device,
    /// [`Fault::ForeignResponses`]: an answer to an earlier request.
    Foreign,
}

/// Why the BMC rebooted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResetCause {
    /// [`Fault::BmcReset`].
    Fault,
    /// The Cold Reset command.
    ColdReset,
    /// The host wrote BMC_HWRST (with `honor_hwrst`).
    HwRst,
}

/// What the BMC did, for traces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BmcEventKind {
    /// A request was taken from HOST2BMC.
    RequestTaken {
        /// NetFn/LUN byte.
        netfn_lun: u8,
        /// Seq byte.
        seq: u8,
        /// Command.
        cmd: u8,
        /// Request data bytes after the command.
        data_len: u8,
    },
    /// A request's framing was wrong (bytes written vs. length byte).
    RequestMalformed {
        /// Bytes the host wrote since CLR_WR_PTR.
        written: usize,
        /// The length byte.
        len_byte: u8,
    },
    /// A request will get no response, and B_BUSY stays set until the fault
    /// that kept it unanswered ends (`unanswered_holds_b_busy`, QEMU); a
    /// [`BmcEventKind::RequestDropped`] with [`DropReason::Hung`] follows then.
    RequestHeld {
        /// Seq byte.
        seq: u8,
        /// Command.
        cmd: u8,
        /// Which fault kept it unanswered.
        reason: DropReason,
    },
    /// A request will get no response.
    RequestDropped {
        /// Seq byte (0 if unknown).
        seq: u8,
        /// Command (0 if unknown).
        cmd: u8,
        /// Why.
        reason: DropReason,
    },
    /// A response was loaded into BMC2HOST and B2H_ATN set.
    ResponsePosted {
        /// Seq byte as posted.
        seq: u8,
        /// Command.
        cmd: u8,
        /// Completion code.
        cc: CompletionCode,
        /// The length byte as posted (possibly corrupted).
        len_byte: u8,
        /// Which copy.
        kind: PostKind,
    },
    /// A fault started.
    FaultStarted(Fault),
    /// Faults of this kind stopped.
    FaultStopped(FaultKind),
    /// The watchdog pre-timeout interrupt fired.
    WatchdogPreTimeout {
        /// The interrupt delivered (messaging → SMS_ATN, NMI → NMI pulse).
        interrupt: PreTimeoutInterrupt,
        /// Timer use.
        timer_use: TimerUse,
    },
    /// The watchdog expired and the BMC performed `action` on the host.
    WatchdogExpired {
        /// The timeout action.
        action: TimerAction,
        /// Timer use.
        timer_use: TimerUse,
    },
    /// A SEL record was added.
    SelAdded {
        /// Its record ID.
        record_id: u16,
    },
    /// The SEL was full; an event was not logged.
    SelFull,
    /// SMS_ATN was raised.
    SmsAtn,
    /// The host wrote BMC_HWRST.
    HwRstRequested {
        /// Whether the BMC reboots because of it.
        honored: bool,
    },
    /// The BMC rebooted; B_BUSY is held for the boot time.
    BmcReset {
        /// Why.
        cause: ResetCause,
        /// Whether the watchdog survived.
        keep_watchdog: bool,
    },
    /// The BMC finished booting and serves requests again.
    BmcReady,
    /// The host (managed system) was hard-reset ([`SimBmc::host_reset`]).
    HostReset,
}

/// A [`BmcEventKind`] with the virtual time it happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BmcEvent {
    /// When.
    pub at: Instant,
    /// What.
    pub kind: BmcEventKind,
}

/// The first five bytes of a [`Frame`], as [`Frame::byte`] reads them (0
/// past its length): what the events of a post report.
#[derive(Clone, Copy)]
struct FrameHeader([u8; 5]);

impl FrameHeader {
    fn byte(&self, i: usize) -> u8 {
        self.0.get(i).copied().unwrap_or(0)
    }
}

/// A framed message (length byte first), inline.
#[derive(Clone, Copy)]
struct Frame {
    buf: [u8; BT_MAX_BUF],
    len: u16,
}

impl Frame {
    const EMPTY: Self = Self {
        buf: [0; BT_MAX_BUF],
        len: 0,
    };

    fn bytes(&self) -> &[u8] {
        self.buf.get(..usize::from(self.len)).unwrap_or(&[])
    }
    fn byte(&self, i: usize) -> u8 {
        self.bytes().get(i).copied().unwrap_or(0)
    }
    /// The first bytes (length, NetFn/LUN, seq, cmd, cc), as [`byte`](Self::byte) reads them.
    fn header(&self) -> FrameHeader {
        if let Some(&[a, b, c, d, e]) = self.bytes().first_chunk::<5>() {
            return FrameHeader([a, b, c, d, e]);
        }
        FrameHeader(core::array::from_fn(|i| self.byte(i)))
    }

    /// [`response`](Self::response) written over `self` in place; false
    /// (and `self` untouched) if it exceeds `max`. Bytes past the new length
    /// keep old values, which nothing reads ([`bytes`](Self::bytes) stops at
    /// the length).
    fn fill_response(
        &mut self,
        netfn_lun: u8,
        seq: u8,
        cmd: u8,
        (cc, d): (CompletionCode, &[u8]),
        max: usize,
    ) -> bool {
        let total = 5 + d.len();
        if total > max || total > 256 {
            return false;
        }
        let Some(body) = self.buf.get_mut(5..total) else {
            return false;
        };
        body.copy_from_slice(d);
        self.buf[0] = (total - 1) as u8;
        self.buf[1] = netfn_lun | 0x04;
        self.buf[2] = seq;
        self.buf[3] = cmd;
        self.buf[4] = cc.0;
        self.len = total as u16;
        true
    }

    /// `src` written over `self`: its length and the bytes up to it, not
    /// the whole buffer (bytes past the length are never read).
    fn copy_used(&mut self, src: &Frame) {
        let n = usize::from(src.len).min(BT_MAX_BUF);
        self.buf[..n].copy_from_slice(&src.buf[..n]);
        self.len = src.len;
    }

    /// `len, (netfn|1)<<2|lun, seq, cmd, cc, data…`; `None` if it exceeds `max`.
    fn response(netfn_lun: u8, seq: u8, cmd: u8, rsp: &Response, max: usize) -> Option<Self> {
        Self::response_of(netfn_lun, seq, cmd, (rsp.cc, rsp.data()), max)
    }

    /// [`response`](Self::response) for a completion code and data.
    fn response_of(
        netfn_lun: u8,
        seq: u8,
        cmd: u8,
        rsp: (CompletionCode, &[u8]),
        max: usize,
    ) -> Option<Self> {
        let mut f = Self::EMPTY;
        f.fill_response(netfn_lun, seq, cmd, rsp, max).then_some(f)
    }
}

/// The request being processed. The answer's frames are not in here but in
/// [`SimBmc`]'s `answer` and `answer_followup`, written once, in place: a
/// `Phase` holding them was copied whole (twice 258 bytes) at every change,
/// and that showed in the per-transaction cost.
#[derive(Clone, Copy)]
enum Phase {
    /// No request in progress.
    Idle,
    /// A response will be ready at `due`: the frame in `SimBmc::answer`,
    /// then `SimBmc::answer_followup` if any.
    Processing {
        due: Instant,
        kind: PostKind,
        /// With `qemu_bt_device`: this answer is for the awaited msg_id (it
        /// advances it); false for the device's own caps answer.
        answers_id: bool,
    },
    /// Malformed request with [`MalformedPolicy::Wedge`]: B_BUSY stays set
    /// until a BMC reset.
    Wedged,
    /// [`Fault::HoldBusy`], or a request dropped with
    /// `unanswered_holds_b_busy`: B_BUSY stays set until the fault ends.
    Hung { seq: u8, cmd: u8 },
}

/// The simulated BMC: a [`BtDevice`], firmware that serves it, a command
/// dispatcher, an [`ipmi_watchdog::Watchdog`], a SEL and active faults.
///
/// ```
/// use bmc_sim::{BmcConfig, SimBmc};
/// use bmc_sim::Instant;
/// use ipmi_bt_sm::Io;
///
/// let mut bmc = SimBmc::new(BmcConfig::default());
/// let t0 = Instant::ZERO;
/// // The host writes Get Device ID (len 3, App/LUN 0, seq 7, cmd 0x01).
/// let io = bmc.io(t0);
/// io.write_ctrl(0x01); // CLR_WR_PTR
/// for b in [3, 0x18, 7, 0x01] { io.write_buf(b); }
/// io.write_ctrl(0x04); // H2B_ATN
/// // The BMC takes it after its take latency and answers after its response latency.
/// let due = bmc.next_deadline().unwrap();
/// bmc.advance(due);
/// let due = bmc.next_deadline().unwrap();
/// let io = bmc.io(due);
/// assert_eq!(io.read_ctrl() & 0x08, 0x08, "B2H_ATN");
/// io.write_ctrl(0x40); // H_BUSY on
/// io.write_ctrl(0x08); // clear B2H_ATN
/// io.write_ctrl(0x02); // CLR_RD_PTR
/// let len = io.read_buf();
/// let rsp: Vec<u8> = (0..len).map(|_| io.read_buf()).collect();
/// io.write_ctrl(0x40); // H_BUSY off
/// assert_eq!(&rsp[..4], &[0x1C, 7, 0x01, 0x00]); // App response, seq echoed, cc 0
/// assert_eq!(bmc.commands_seen(), 1);
/// ```
///
/// `SimBmc` is `Clone` (when its observer is): a clone is a complete snapshot
/// — device registers, firmware pipeline, watchdog, SEL, faults, schedule and
/// random state — so a run can be forked and both branches stay deterministic.
#[derive(Clone)]
pub struct SimBmc<E: DeviceEvents = NoEvents> {
    cfg: BmcConfig,
    dev: BtDevice<E>,
    now: Instant,
    rng: SplitMix64,
    // Firmware pipeline.
    h2b_seen: Option<Instant>,
    phase: Phase,
    /// The answer of [`Phase::Processing`] (meaningless in other phases).
    answer: Frame,
    /// The second answer of [`Phase::Processing`], posted that long after
    /// the first (meaningless in other phases).
    answer_followup: Option<(Duration, Frame, PostKind)>,
    followup: Option<(Instant, Frame, PostKind)>,
    last_response: Option<Frame>,
    // QEMU's BT device and extern layer (`qemu_bt_device`, `extern_timeout`).
    /// `waiting_rsp` of `ipmi_bt.c`: the msg_id the device awaits.
    waiting_rsp: u8,
    /// `waiting_seq` of `ipmi_bt.c`: the seq written into accepted answers.
    waiting_seq: u8,
    /// The extern timer: when, the answer it gives, for which msg_id.
    extern_timer: Option<(Instant, Frame, u8)>,
    /// [`Fault::LateAnswer`]: the one late answer pending (a newer one
    /// replaces it), when, and for which msg_id.
    late: Option<(Instant, Frame, u8)>,
    /// [`Fault::ForeignResponses`]: how far back the next foreign answer's
    /// seq is (1–255).
    foreign_back: u8,
    boot_until: Option<Instant>,
    deferred_reset: Option<(Instant, ResetCause)>,
    // Firmware state.
    faults: ActiveFaults,
    plan_time: Vec<(Instant, FaultAction)>,
    plan_time_pos: usize,
    plan_cmd: Vec<(u64, FaultAction)>,
    plan_cmd_pos: usize,
    stops: Vec<(Instant, FaultKind)>,
    global_enables: u8,
    wd: Watchdog,
    sel: Sel,
    // Statistics and trace.
    commands_seen: u64,
    commands_handled: u64,
    responses_posted: u64,
    events: Vec<BmcEvent>,
    events_dropped: u64,
    /// Report every command's traffic (see [`SimBmc::set_traffic_events`]).
    traffic_events: bool,
    /// True while no fault is active (`faults` is the default): the request
    /// path then skips every fault test. Set at each fault start and stop.
    faults_idle: bool,
    /// `take_latency` and `response_latency` in nanoseconds.
    latencies: Latencies,
    /// The Get Device ID answer data, encoded once from the (fixed) configuration.
    device_id: DeviceIdAnswer,
    /// [`next_deadline`](Self::next_deadline), cached: the scheduler asks
    /// several times per transaction and little changes in between.
    deadline: DeadlineCache,
}

/// `t + d` for a [`Duration`] `d` of `nanos` ([`ipmi_vocab::duration_nanos`]):
/// what `Instant + Duration` computes, without converting `d` each time.
#[inline]
fn add_nanos(t: Instant, nanos: u64) -> Instant {
    Instant::from_nanos(t.as_nanos().saturating_add(nanos))
}

/// The configured latencies in nanoseconds ([`ipmi_vocab::duration_nanos`]),
/// converted once: they are added to the clock at every request.
#[derive(Clone, Copy)]
struct Latencies {
    /// `take_latency`.
    take: u64,
    /// `response_latency`.
    response: u64,
}

impl Latencies {
    fn new(cfg: &BmcConfig) -> Self {
        Self {
            take: ipmi_vocab::duration_nanos(cfg.take_latency),
            response: ipmi_vocab::duration_nanos(cfg.response_latency),
        }
    }
}

/// The Get Device ID response data ([`config::DeviceIdConfig::encode`]).
#[derive(Clone, Copy)]
struct DeviceIdAnswer {
    bytes: [u8; 15],
    len: u8,
}

impl DeviceIdAnswer {
    fn new(cfg: &config::DeviceIdConfig) -> Self {
        let mut bytes = [0u8; 15];
        let len = cfg.encode(&mut bytes) as u8; // 11 or 15
        Self { bytes, len }
    }

    fn bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }
}

/// The cached answer of [`SimBmc::next_deadline`]. Invalidated by every
/// firmware step, fault action, host reset, command, `device_mut` and any
/// host write that makes the firmware react; a host write alone keeps it
/// unless it read BT_CTRL (`ctrl_sensitive`). Debug builds compare it with
/// a fresh computation at every use.
#[derive(Clone, Copy)]
struct DeadlineCache {
    /// Whether `at` matches the current state.
    valid: bool,
    /// Whether `at` depends on BT_CTRL (a host write may change it).
    ctrl_sensitive: bool,
    /// The deadline.
    at: Option<Instant>,
}

impl DeadlineCache {
    /// Nothing cached.
    const INVALID: Self = Self {
        valid: false,
        ctrl_sensitive: true,
        at: None,
    };
}

impl<E: DeviceEvents + fmt::Debug> fmt::Debug for SimBmc<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimBmc")
            .field("now", &self.now)
            .field("ctrl", &self.dev.ctrl())
            .field("faults", &self.faults)
            .field("commands_seen", &self.commands_seen)
            .field("responses_posted", &self.responses_posted)
            .finish_non_exhaustive()
    }
}

impl SimBmc<NoEvents> {
    /// A BMC powered on at time zero, healthy, watchdog never set.
    pub fn new(cfg: BmcConfig) -> Self {
        Self::with_events(cfg, NoEvents)
    }
}

/// Load `frame` into `dev`'s BMC2HOST: once the host has freed it when
/// `waits_for_host` ([`BmcConfig::post_waits_for_host`], bt-bmc), else over
/// whatever it held (QEMU). Whether it was loaded. A free function so that
/// a frame borrowed from the BMC can be loaded into its own device.
fn load<E: DeviceEvents>(dev: &mut BtDevice<E>, waits_for_host: bool, frame: &[u8]) -> bool {
    match waits_for_host {
        true => dev.post_response(frame).is_ok(),
        false => dev.overwrite_response(frame).is_ok(),
    }
}

impl<E: DeviceEvents> SimBmc<E> {
    /// Like [`SimBmc::new`], with a device observer (register accesses, IRQ).
    pub fn with_events(cfg: BmcConfig, events: E) -> Self {
        let mut bmc = Self {
            dev: BtDevice::with_events(cfg.device, events),
            now: Instant::ZERO,
            rng: SplitMix64::new(cfg.seed),
            h2b_seen: None,
            phase: Phase::Idle,
            answer: Frame::EMPTY,
            answer_followup: None,
            followup: None,
            last_response: None,
            waiting_rsp: 0,
            waiting_seq: 0,
            extern_timer: None,
            late: None,
            foreign_back: 1,
            boot_until: None,
            deferred_reset: None,
            faults: ActiveFaults::default(),
            plan_time: Vec::new(),
            plan_time_pos: 0,
            plan_cmd: Vec::new(),
            plan_cmd_pos: 0,
            stops: Vec::new(),
            global_enables: cfg.global_enables,
            wd: Watchdog::new(cfg.watchdog_profile),
            sel: Sel::new(cfg.sel_capacity),
            commands_seen: 0,
            commands_handled: 0,
            responses_posted: 0,
            events: Vec::with_capacity(cfg.event_capacity.min(1024)),
            events_dropped: 0,
            traffic_events: true,
            deadline: DeadlineCache::INVALID,
            device_id: DeviceIdAnswer::new(&cfg.device_id),
            faults_idle: true,
            latencies: Latencies::new(&cfg),
            cfg,
        };
        let ge = bmc.cfg.global_enables;
        bmc.set_global_enables(ge);
        bmc
    }

    // ----- accessors ------------------------------------------------------

    /// The configuration.
    pub fn config(&self) -> &BmcConfig {
        &self.cfg
    }
    /// The BT device (BMC-side view, state snapshot).
    pub fn device(&self) -> &BtDevice<E> {
        &self.dev
    }
    /// The BT device, mutably (e.g. for its observer). Host accesses made
    /// directly on it bypass the firmware's reaction; use the [`ipmi_bt_sm::Io`]
    /// impl of `SimBmc` instead.
    pub fn device_mut(&mut self) -> &mut BtDevice<E> {
        self.invalidate_deadline();
        &mut self.dev
    }
    /// The time the BMC has been advanced to.
    pub fn now(&self) -> Instant {
        self.now
    }
    /// The watchdog.
    pub fn watchdog(&self) -> &Watchdog {
        &self.wd
    }
    /// The SEL.
    pub fn sel(&self) -> &Sel {
        &self.sel
    }
    /// The active faults.
    pub fn faults(&self) -> &ActiveFaults {
        &self.faults
    }
    /// Message flags as Get Message Flags would report them.
    pub fn message_flags(&self) -> MessageFlags {
        self.wd.message_flags()
    }
    /// BMC Global Enables.
    pub fn global_enables(&self) -> u8 {
        self.global_enables
    }
    /// True while the BMC is rebooting (B_BUSY held).
    pub fn is_booting(&self) -> bool {
        self.boot_until.is_some()
    }
    /// Messages the host has handed the BMC (H2B_ATN set 0→1) since the
    /// start, resends and the BT soft reset included; requests the host
    /// refuses without writing them are not seen. [`Trigger::AtCommand`]
    /// counts these.
    pub fn commands_seen(&self) -> u64 {
        self.commands_seen
    }
    /// Requests the BMC has taken from the buffer.
    pub fn commands_handled(&self) -> u64 {
        self.commands_handled
    }
    /// Responses posted (every copy, including faulty ones).
    pub fn responses_posted(&self) -> u64 {
        self.responses_posted
    }
    /// Events dropped because `event_capacity` was reached.
    pub fn events_dropped(&self) -> u64 {
        self.events_dropped
    }
    /// Whether [`drain_events`](Self::drain_events) has anything.
    pub(crate) fn has_events(&self) -> bool {
        !self.events.is_empty()
    }
    /// Take the recorded events, oldest first.
    pub fn drain_events(&mut self) -> impl Iterator<Item = BmcEvent> + '_ {
        self.events.drain(..)
    }

    /// Whether to report each command's traffic: [`BmcEventKind::RequestTaken`],
    /// [`BmcEventKind::ResponsePosted`] and [`BmcEventKind::RequestDropped`]
    /// (on by default). An observer that keeps only faults, resets and the
    /// watchdog (a scenario run without a register trace) turns them off so
    /// that no event is made per command only to be thrown away.
    pub fn set_traffic_events(&mut self, on: bool) {
        self.traffic_events = on;
    }

    #[inline]
    fn emit(&mut self, kind: BmcEventKind) {
        if !self.traffic_events
            && matches!(
                kind,
                BmcEventKind::RequestTaken { .. }
                    | BmcEventKind::ResponsePosted { .. }
                    | BmcEventKind::RequestDropped { .. }
            )
        {
            return;
        }
        if self.events.len() < self.cfg.event_capacity {
            self.events.push(BmcEvent { at: self.now, kind });
        } else {
            self.events_dropped += 1;
        }
    }

    // ----- faults -----------------------------------------------------------

    /// Replace the fault schedule. Entries whose time has passed fire at the
    /// next [`advance`](Self::advance); command triggers count from the
    /// start of the simulation.
    pub fn set_faults(&mut self, plan: FaultPlan) {
        self.invalidate_deadline();
        self.plan_time.clear();
        self.plan_cmd.clear();
        for e in plan.entries {
            match e.trigger {
                Trigger::At(t) => self.plan_time.push((t, e.action)),
                Trigger::AtCommand(n) => self.plan_cmd.push((n, e.action)),
            }
        }
        // Stable: same-trigger entries keep plan order.
        self.plan_time.sort_by_key(|(t, _)| *t);
        self.plan_cmd.sort_by_key(|(n, _)| *n);
        self.plan_time_pos = 0;
        self.plan_cmd_pos = self
            .plan_cmd
            .partition_point(|(n, _)| *n <= self.commands_seen);
    }

    /// Start `f` now (after advancing to `now`).
    pub fn inject(&mut self, now: Instant, f: Fault) {
        self.advance(now);
        self.apply(FaultAction::Start(f));
        self.run_due();
    }

    /// Stop faults of `kind` now (after advancing to `now`).
    pub fn clear(&mut self, now: Instant, kind: FaultKind) {
        self.advance(now);
        self.apply(FaultAction::Stop(kind));
        self.run_due();
    }

    /// The managed system was hard-reset (reset button, chassis control, a
    /// guest reboot: QEMU sends the VM-protocol `RESET` control, 04 A1, on
    /// every system reset; bmc-watchdog.md §4.4). The BMC itself keeps
    /// running. Watchdog: IPMI v2.0 §27 — a system hard reset stops the timer
    /// and clears the pre-timeout flag (and don't-log); the configuration and
    /// the expiration flags survive ([`ipmi_watchdog::Watchdog::system_reset`];
    /// the `qemu`/`lanserv`/`phosphor` profiles have no such hook and keep
    /// running). BT interface: the host's interrupt setup (BT_INTMASK
    /// B2H_IRQ_EN and a pending B2H_IRQ) is cleared, as QEMU's interface
    /// reset does (`ipmi_bt.c` `ipmi_bt_handle_reset`) and a booting driver
    /// expects; a request in progress is still finished and its response
    /// stays posted until the next driver drains it (Linux `bt_event` drains
    /// stale responses while idle). Global Enables, message flags other than
    /// the pre-timeout, faults and the SEL are unchanged.
    pub fn host_reset(&mut self, now: Instant) {
        self.advance(now);
        self.invalidate_deadline();
        self.wd.system_reset(self.now);
        self.dev.clear_irq_config();
        self.emit(BmcEventKind::HostReset);
        self.run_due();
    }

    fn apply(&mut self, action: FaultAction) {
        self.invalidate_deadline();
        match action {
            FaultAction::Start(f) => self.start_fault(f),
            FaultAction::StartFor(f, d) => {
                self.start_fault(f);
                if !f.kind().is_instant() {
                    let at = self.now + d;
                    let pos = self.stops.partition_point(|(t, _)| *t <= at);
                    self.stops.insert(pos, (at, f.kind()));
                }
            }
            FaultAction::Stop(kind) => self.stop_fault(kind),
        }
    }

    fn start_fault(&mut self, f: Fault) {
        self.start_fault_inner(f);
        self.faults_idle = self.faults.is_healthy();
    }

    fn start_fault_inner(&mut self, f: Fault) {
        self.emit(BmcEventKind::FaultStarted(f));
        match f {
            Fault::BmcReset { keep_watchdog } => self.bmc_reset(ResetCause::Fault, keep_watchdog),
            Fault::Reconnect => {
                let active: Vec<FaultKind> = self.faults.kinds().collect();
                for k in active {
                    self.stop_fault(k);
                }
            }
            Fault::RaiseAttn { irq } => {
                // QEMU ipmi_bt_set_atn via the VM protocol's ATTN / ATTN_IRQ.
                self.dev.set_sms_atn(irq);
                self.emit(BmcEventKind::SmsAtn);
            }
            Fault::LinkDrop => {
                self.faults.start(f);
                // ipmi_bmc_extern.c chr_event CHR_EVENT_CLOSED: a request the
                // extern layer still awaits is answered 0xD2 now.
                if let Some((_, mut frame, id)) = self.extern_timer.take() {
                    frame.buf[4] = CompletionCode::INITIALIZATION_IN_PROGRESS.0;
                    self.extern_timer = Some((self.now, frame, id));
                }
            }
            _ => {
                self.faults.start(f);
                self.sync_overlays();
            }
        }
    }

    fn stop_fault(&mut self, kind: FaultKind) {
        if kind == FaultKind::Reconnect {
            self.start_fault(Fault::Reconnect);
            return;
        }
        if !self.faults.is_active(kind) {
            return;
        }
        self.faults.stop(kind);
        self.faults_idle = self.faults.is_healthy();
        self.sync_overlays();
        self.emit(BmcEventKind::FaultStopped(kind));
        if let Phase::Hung { seq, cmd } = self.phase {
            // Behind QEMU's extern layer the request stays awaited until its
            // timer answers it.
            if !self.holding_fault_active() && self.extern_timer.is_none() {
                self.drop_request(seq, cmd, DropReason::Hung);
            }
        }
    }

    /// Whether a fault that keeps a taken request unanswered is still on
    /// (then a hung request stays hung).
    fn holding_fault_active(&self) -> bool {
        let f = &self.faults;
        f.hang_after_take
            || (self.holds_unanswered()
                && (f.silent
                    || f.late_answer.is_some()
                    || f.lose_responses.is_some()
                    || f.random_loss_per_mille > 0
                    || f.is_active(FaultKind::IgnoreCommand)))
    }

    /// QEMU's rule: an unanswered request keeps B_BUSY (see
    /// [`BmcConfig::unanswered_holds_b_busy`]).
    fn holds_unanswered(&self) -> bool {
        self.cfg.unanswered_holds_b_busy && self.cfg.b_busy_until_response
    }

    /// Whether an answer that is due may be loaded now: always (QEMU), or
    /// once the host has freed BMC2HOST (`post_waits_for_host`).
    fn may_post(&self) -> bool {
        !self.cfg.post_waits_for_host || self.dev.can_post()
    }

    fn sync_overlays(&mut self) {
        self.dev.set_b_busy_forced(self.faults.stuck_b_busy);
        self.dev.set_gone(self.faults.registers_ff);
        self.dev.set_b2h_stuck(self.faults.b2h_atn_stuck);
    }

    // ----- time -------------------------------------------------------------

    /// When a request seen at `seen` may be taken: `seen + take_latency`.
    #[inline]
    fn take_due(&self, seen: Instant) -> Instant {
        add_nanos(seen, self.latencies.take)
    }

    /// Whether the firmware may take a request now.
    fn can_take(&self) -> bool {
        let ready = match self.phase {
            Phase::Idle => true,
            // QEMU `ipmi_bt.c` `ipmi_bt_ioport_write`: H2B_ATN hands the
            // buffer to the BMC even while B_BUSY is held for an unanswered
            // request, which the new one supersedes (one msg_id is awaited).
            // Linux's RESET2 Warm Reset reaches the BMC this way, so B_BUSY
            // shows alone (`[ B_BUSY ]`, never `H2B`) in the next timeout.
            Phase::Hung { .. } => self.holds_unanswered(),
            Phase::Processing { .. } | Phase::Wedged => false,
        };
        ready
            && self.boot_until.is_none()
            && !self.faults.stuck_b_busy
            && !self.faults.never_clear_h2b_atn
            && self.dev.ctrl().contains(Ctrl::H2B_ATN)
    }

    /// The earliest time at which the BMC will act by itself, or `None` if
    /// it is waiting for the host. Never earlier than [`now`](Self::now).
    pub fn next_deadline(&self) -> Option<Instant> {
        if self.deadline.valid {
            debug_assert_eq!(self.deadline.at, self.uncached_deadline());
            return self.deadline.at;
        }
        self.compute_deadline().at
    }

    /// [`next_deadline`](Self::next_deadline), refreshing the cache first.
    #[inline]
    fn deadline(&mut self) -> Option<Instant> {
        if !self.deadline.valid {
            // Field by field: a whole-struct copy reads the flags and the
            // time with one wide load that stalls on the narrow stores that
            // just wrote them (the runner asks every step).
            let fresh = self.compute_deadline();
            self.deadline.at = fresh.at;
            self.deadline.ctrl_sensitive = fresh.ctrl_sensitive;
            self.deadline.valid = true;
        }
        debug_assert_eq!(self.deadline.at, self.uncached_deadline());
        self.deadline.at
    }

    /// Forget the cached deadline: the state it was computed from changed.
    #[inline]
    fn invalidate_deadline(&mut self) {
        self.deadline.valid = false;
    }

    /// The next deadline from scratch (see [`DeadlineCache`]): when only
    /// the watchdog, a take and a post can be pending (no fault plan, stop,
    /// reboot or fault-made answer), only those are looked at.
    #[inline]
    fn compute_deadline(&self) -> DeadlineCache {
        if self.plan_time_pos < self.plan_time.len()
            || !self.stops.is_empty()
            || self.boot_until.is_some()
            || self.deferred_reset.is_some()
            || self.followup.is_some()
            || self.extern_timer.is_some()
            || self.late.is_some()
            || self.faults.foreign_responses.is_some()
        {
            return self.compute_deadline_full();
        }
        let now = self.now;
        let mut ctrl_sensitive = false;
        // The earliest raw candidate; clamping the minimum to `now` is the
        // same as clamping each one (`min(max(a, n), max(b, n)) = max(min(a, b), n)`).
        let mut best = self.wd.next_deadline();
        let mut consider = |t: Instant| {
            best = Some(match best {
                Some(b) if b <= t => b,
                _ => t,
            });
        };
        if let Some(t) = self.h2b_seen {
            ctrl_sensitive = true;
            if self.can_take() {
                consider(self.take_due(t));
            }
        }
        if let Phase::Processing { due, .. } = self.phase {
            if due > now {
                consider(due);
            } else {
                ctrl_sensitive = true;
                if self.may_post() {
                    consider(due);
                }
            }
        }
        let fast = DeadlineCache {
            valid: true,
            ctrl_sensitive,
            at: best.map(|t| t.max(now)),
        };
        debug_assert_eq!(
            (fast.at, fast.ctrl_sensitive),
            {
                let full = self.compute_deadline_full();
                (full.at, full.ctrl_sensitive)
            },
            "fast path"
        );
        fast
    }

    /// [`compute_deadline`](Self::compute_deadline) with every candidate.
    #[inline(never)]
    fn compute_deadline_full(&self) -> DeadlineCache {
        // Any candidate that reads BT_CTRL (H2B_ATN for a take, H_BUSY /
        // B2H_ATN for a post) makes the result depend on host writes.
        let ctrl_sensitive = self.h2b_seen.is_some()
            || self.deferred_reset.is_some()
            || self.faults.foreign_responses.is_some()
            || matches!(self.phase, Phase::Processing { due, .. } if due <= self.now)
            || self.followup.as_ref().is_some_and(|f| f.0 <= self.now)
            || self.extern_timer.as_ref().is_some_and(|e| e.0 <= self.now)
            || self.late.as_ref().is_some_and(|l| l.0 <= self.now);
        DeadlineCache {
            valid: true,
            ctrl_sensitive,
            at: self.uncached_deadline(),
        }
    }

    /// What [`next_deadline`](Self::next_deadline) computes, candidate by
    /// candidate (the reference the cache is checked against in debug builds).
    fn uncached_deadline(&self) -> Option<Instant> {
        let now = self.now;
        let mut best: Option<Instant> = None;
        let mut consider = |t: Option<Instant>| {
            if let Some(t) = t {
                let t = t.max(now);
                best = Some(best.map_or(t, |b: Instant| b.min(t)));
            }
        };
        consider(self.plan_time.get(self.plan_time_pos).map(|(t, _)| *t));
        consider(self.stops.first().map(|(t, _)| *t));
        consider(self.boot_until);
        if let Some((t, _)) = self.deferred_reset {
            consider(Some(if self.reset_ready() { now } else { t }));
        }
        consider(self.wd.next_deadline());
        // The pending times are read first and the (pure) register and phase
        // tests only when one is set: this runs several times per scheduler
        // step and most of the time nothing is pending.
        if let Some(t) = self.h2b_seen {
            if self.can_take() {
                consider(Some(t + self.cfg.take_latency));
            }
        }
        if let Phase::Processing { due, .. } = self.phase {
            if due > now || self.may_post() {
                consider(Some(due));
            }
        }
        // By reference: the entries hold whole frames.
        if let Some((due, _, _)) = &self.followup {
            if *due > now || self.dev.can_post() {
                consider(Some(*due));
            }
        }
        if let Some((due, _, _)) = &self.extern_timer {
            if *due > now || self.may_post() {
                consider(Some(*due));
            }
        }
        if let Some((due, _, _)) = &self.late {
            if *due > now || self.dev.can_post() {
                consider(Some(*due));
            }
        }
        if self.foreign_due() {
            consider(Some(now));
        }
        best
    }

    /// Run the firmware up to `now`: every action due at or before `now`
    /// happens in time order, at its own time. Times earlier than
    /// [`now`](Self::now) are ignored (time never goes back).
    pub fn advance(&mut self, now: Instant) {
        while let Some(t) = self.deadline() {
            if t > now {
                break;
            }
            self.now = t;
            if !self.step() {
                break;
            }
        }
        // The cache stays valid: every candidate is later than the new `now`
        // (or there is none), and a candidate's value and whether it counts
        // change only once `now` reaches it. A `step` that did nothing has
        // invalidated it already.
        self.now = self.now.max(now);
    }

    /// Advance to `now` and return `self` as the host's register interface.
    pub fn io(&mut self, now: Instant) -> &mut Self {
        self.advance(now);
        self
    }

    /// Process everything due at the current time.
    #[inline]
    fn run_due(&mut self) {
        // `advance(self.now)`: next_deadline never returns a time before `now`.
        while self.deadline().is_some_and(|t| t <= self.now) {
            if !self.step() {
                break;
            }
        }
    }

    /// Whether [`Fault::ForeignResponses`] posts an answer now: BMC2HOST is
    /// free, the BMC is up, there is an earlier answer to send, and no QEMU
    /// BT device (which drops answers for msg_ids not awaited) is in between.
    fn foreign_due(&self) -> bool {
        self.faults.foreign_responses.is_some()
            && !self.cfg.qemu_bt_device
            && !self.faults.link_down
            && self.boot_until.is_none()
            && self.last_response.is_some()
            && self.dev.can_post()
    }

    /// Post one [`Fault::ForeignResponses`] answer: the latest answer with
    /// the seq of an older request; counts the fault down.
    fn post_foreign(&mut self) {
        let Some(mut frame) = self.last_response else {
            return;
        };
        match self.faults.foreign_responses {
            Some(Some(0)) | None => {
                self.stop_fault(FaultKind::ForeignResponses);
                return;
            }
            Some(Some(n)) => {
                self.faults.foreign_responses = Some(Some(n - 1));
            }
            Some(None) => {}
        }
        frame.buf[2] = frame.buf[2].wrapping_sub(self.foreign_back);
        self.foreign_back = if self.foreign_back == u8::MAX {
            1
        } else {
            self.foreign_back + 1
        };
        self.post(&frame, PostKind::Foreign);
        if self.faults.foreign_responses == Some(Some(0)) {
            self.stop_fault(FaultKind::ForeignResponses);
        }
    }

    /// One round of everything due at `self.now`. Returns false if nothing
    /// happened (a deadline/step mismatch; avoids spinning).
    fn step(&mut self) -> bool {
        self.invalidate_deadline();
        let now = self.now;
        let mut progressed = false;
        while let Some(&(t, action)) = self.plan_time.get(self.plan_time_pos) {
            if t > now {
                break;
            }
            self.plan_time_pos += 1;
            self.apply(action);
            progressed = true;
        }
        while let Some(&(t, kind)) = self.stops.first() {
            if t > now {
                break;
            }
            self.stops.remove(0);
            self.stop_fault(kind);
            progressed = true;
        }
        if let Some((t, cause)) = self.deferred_reset {
            if t <= now || self.reset_ready() {
                self.deferred_reset = None;
                self.bmc_reset(cause, false);
                progressed = true;
            }
        }
        if self.boot_until.is_some_and(|t| t <= now) {
            self.boot_until = None;
            self.dev.set_b_busy(false);
            self.emit(BmcEventKind::BmcReady);
            progressed = true;
        }
        if self.wd.next_deadline().is_some_and(|t| t <= now) {
            for ev in self.wd.advance(now) {
                self.on_watchdog(ev);
            }
            progressed = true;
        }
        if self.h2b_seen.is_some_and(|t| self.take_due(t) <= now) && self.can_take() {
            self.take();
            progressed = true;
        }
        // Only the due times are read until something fires: the entries
        // hold whole frames, and copying them on every step shows.
        if matches!(self.phase, Phase::Processing { due, .. } if due <= now) && self.may_post() {
            if let Phase::Processing {
                kind, answers_id, ..
            } = core::mem::replace(&mut self.phase, Phase::Idle)
            {
                if answers_id {
                    let id = self.waiting_rsp;
                    self.post_answer_for(kind, id);
                } else {
                    self.post_answer(kind);
                }
                if self.cfg.b_busy_until_response && self.boot_until.is_none() {
                    self.dev.set_b_busy(false);
                }
                // Tested first: `take` copies the whole (frame-sized) option.
                if self.answer_followup.is_some() {
                    if let Some((d, f, k)) = self.answer_followup.take() {
                        self.followup = Some((now + d, f, k));
                    }
                }
                progressed = true;
            }
        }
        // Extra answers a fault adds (followups, late answers) wait for a free
        // BMC2HOST whatever the preset: the fault is that the host sees them.
        if self.followup.as_ref().is_some_and(|f| f.0 <= now) && self.dev.can_post() {
            if let Some((_, frame, kind)) = self.followup.take() {
                if self.cfg.qemu_bt_device {
                    // A second answer for a msg_id already answered.
                    let stale = self.waiting_rsp.wrapping_sub(1);
                    self.post_for(&frame, kind, stale);
                } else {
                    self.post(&frame, kind);
                }
                progressed = true;
            }
        }
        if self.extern_timer.as_ref().is_some_and(|e| e.0 <= now) && self.may_post() {
            if let Some((_, frame, id)) = self.extern_timer.take() {
                // ipmi_bmc_extern.c extern_timeout (or chr_event on a link
                // drop): the extern layer answers for the awaited msg_id.
                if matches!(self.phase, Phase::Hung { .. } | Phase::Processing { .. }) {
                    self.phase = Phase::Idle;
                }
                if self.post_for(&frame, PostKind::Extern, id) && self.boot_until.is_none() {
                    self.dev.set_b_busy(false);
                }
                progressed = true;
            }
        }
        if self.late.as_ref().is_some_and(|l| l.0 <= now) && self.dev.can_post() {
            if let Some((_, frame, id)) = self.late.take() {
                if self.cfg.qemu_bt_device {
                    // Any well-formed answer cancels the extern timer.
                    self.extern_timer = None;
                    if self.post_for(&frame, PostKind::Late, id) {
                        if matches!(self.phase, Phase::Hung { .. }) {
                            self.phase = Phase::Idle;
                        }
                        if self.boot_until.is_none() {
                            self.dev.set_b_busy(false);
                        }
                    }
                } else {
                    self.post(&frame, PostKind::Late);
                }
                progressed = true;
            }
        }
        // Last: the BMC's own answers go first when both are due.
        if self.foreign_due() {
            self.post_foreign();
            progressed = true;
        }
        progressed
    }

    /// Post an answer for msg_id `id` through QEMU's BT device
    /// (`ipmi_bt.c` `ipmi_bt_handle_rsp`): accepted only for the awaited
    /// msg_id, which then advances, with the device's `waiting_seq` written
    /// in; otherwise dropped. Without `qemu_bt_device`, posted as it is.
    /// Returns whether it was posted.
    fn post_for(&mut self, frame: &Frame, kind: PostKind, id: u8) -> bool {
        if !self.cfg.qemu_bt_device {
            self.post(frame, kind);
            return true;
        }
        if !self.accept_for(frame, kind, id) {
            return false;
        }
        let mut f = *frame;
        f.buf[2] = self.waiting_seq;
        self.post(&f, kind);
        true
    }

    /// [`post_for`](Self::post_for) for the frame in `self.answer`, without
    /// copying it (the awaited seq is written into it in place: it is not
    /// posted again).
    fn post_answer_for(&mut self, kind: PostKind, id: u8) {
        if self.cfg.qemu_bt_device {
            let frame = self.answer;
            if !self.accept_for(&frame, kind, id) {
                return;
            }
            self.answer.buf[2] = self.waiting_seq;
        }
        self.post_answer(kind);
    }

    /// The QEMU device's check in [`post_for`](Self::post_for): whether `id`
    /// is the awaited msg_id (which then advances); drops `frame` if not.
    fn accept_for(&mut self, frame: &Frame, kind: PostKind, id: u8) -> bool {
        if id != self.waiting_rsp {
            self.emit(BmcEventKind::RequestDropped {
                seq: frame.byte(2),
                cmd: frame.byte(3),
                reason: DropReason::NotAwaited,
            });
            return false;
        }
        self.waiting_rsp = self.waiting_rsp.wrapping_add(1);
        // Any answer from the BMC cancels the extern timer (handle_msg).
        if kind != PostKind::Extern {
            self.extern_timer = None;
        }
        true
    }

    fn reset_ready(&self) -> bool {
        matches!(self.phase, Phase::Idle) && self.followup.is_none() && self.dev.can_post()
    }

    /// React to a host write: note H2B_ATN and BMC_HWRST, then run whatever
    /// became possible.
    #[inline]
    fn after_host_write(&mut self) {
        // A host write changes BT_CTRL / BT_INTMASK only: unless the cached
        // deadline read BT_CTRL or the firmware has something to note, all
        // that is left is `run_due`, on the cached deadline.
        if self.deadline.ctrl_sensitive
            || !self.deadline.valid
            || self.deadline.at.is_some_and(|t| t <= self.now)
            || self.dev.host_news()
            || (self.h2b_seen.is_none() && self.dev.ctrl().contains(Ctrl::H2B_ATN))
        {
            self.react_to_host_write();
        }
        // Otherwise the cached deadline holds and is later than `now`:
        // `run_due` would do nothing.
    }

    /// [`after_host_write`](Self::after_host_write) when the firmware has
    /// something to note or the cached deadline may have changed.
    #[inline(never)]
    fn react_to_host_write(&mut self) {
        self.invalidate_deadline();
        if self.dev.take_h2b_edge() {
            self.commands_seen += 1;
            if self.h2b_seen.is_none() {
                self.h2b_seen = Some(self.now);
            }
            while let Some(&(n, action)) = self.plan_cmd.get(self.plan_cmd_pos) {
                if n > self.commands_seen {
                    break;
                }
                self.plan_cmd_pos += 1;
                self.apply(action);
            }
        }
        if self.dev.take_hwrst_request() {
            let honored = self.cfg.honor_hwrst;
            self.emit(BmcEventKind::HwRstRequested { honored });
            if honored {
                self.bmc_reset(ResetCause::HwRst, false);
            }
        }
        if self.h2b_seen.is_none() && self.dev.ctrl().contains(Ctrl::H2B_ATN) {
            self.h2b_seen = Some(self.now);
        }
        self.run_due();
    }

    // ----- firmware -----------------------------------------------------------

    fn set_global_enables(&mut self, v: u8) {
        self.global_enables = v;
        if self.cfg.irq_needs_global_enable {
            self.dev.set_irq_gate(v & GLOBAL_ENABLE_RCV_MSG_IRQ != 0);
        }
    }

    fn bmc_reset(&mut self, cause: ResetCause, keep_watchdog: bool) {
        let booting = !self.cfg.boot_time.is_zero();
        self.dev.bmc_reset(booting, self.cfg.reset_clears_intmask);
        self.phase = Phase::Idle;
        self.followup = None;
        self.extern_timer = None;
        self.late = None;
        self.h2b_seen = None;
        self.deferred_reset = None;
        self.set_global_enables(self.cfg.global_enables);
        if !keep_watchdog {
            self.wd.bmc_reset(false);
        }
        self.boot_until = booting.then(|| self.now + self.cfg.boot_time);
        self.emit(BmcEventKind::BmcReset {
            cause,
            keep_watchdog,
        });
        if !booting {
            self.emit(BmcEventKind::BmcReady);
        }
    }

    fn take(&mut self) {
        self.h2b_seen = None;
        if let Phase::Hung { seq, cmd } = self.phase {
            // Superseded (see `can_take`): its answer will never come.
            self.emit(BmcEventKind::RequestDropped {
                seq,
                cmd,
                reason: DropReason::Hung,
            });
            self.phase = Phase::Idle;
        }
        // The request stays in HOST2BMC (the host cannot write while the
        // firmware runs): only its header is read here, and the buffer is
        // copied only for commands that read their data.
        let written = self.dev.take_request_in_place();
        let req = self.dev.request_header();
        self.commands_handled += 1;
        let len_byte = req[0];
        let buf = self.dev.buf_size();
        let framing_ok = written >= 4 && written <= buf && usize::from(len_byte) + 1 == written;
        if !framing_ok {
            self.emit(BmcEventKind::RequestMalformed { written, len_byte });
            let header = written >= 4;
            let cc = if written > buf {
                CompletionCode::REQUEST_DATA_TRUNCATED
            } else {
                CompletionCode::REQUEST_DATA_LENGTH_INVALID
            };
            match self.cfg.malformed {
                MalformedPolicy::Respond if header => {
                    self.schedule(req[1], req[2], req[3], (cc, &[]));
                }
                MalformedPolicy::Wedge => self.phase = Phase::Wedged,
                _ => self.drop_request(req[2], req[3], DropReason::Malformed),
            }
            return;
        }
        let (netfn_lun, seq, cmd) = (req[1], req[2], req[3]);
        // The data bytes: `4..written` (framing is ok: 4 <= written <= buf).
        let data_range = 4..written;
        self.emit(BmcEventKind::RequestTaken {
            netfn_lun,
            seq,
            cmd,
            data_len: data_range.len() as u8,
        });
        if self.cfg.qemu_bt_device {
            if netfn_lun == NETFN_APP << 2 && cmd == cmd::GET_BT_CAPS {
                // ipmi_bt_handle_event answers this itself, at once, with the
                // request's seq; the BMC behind it never sees it.
                let req = *self.dev.request();
                let data = req.get(data_range).unwrap_or(&[]);
                let rsp = self.dispatch(netfn_lun, cmd, data);
                if let Some(frame) = Frame::response(netfn_lun, seq, cmd, &rsp, self.dev.buf_size())
                {
                    self.answer = frame;
                    self.answer_followup = None;
                    self.phase = Phase::Processing {
                        due: self.now,
                        kind: PostKind::Device,
                        answers_id: false,
                    };
                }
                return;
            }
            self.waiting_seq = seq;
            let id = self.waiting_rsp;
            if self.faults.link_down {
                // ipmi_bmc_extern_handle_command, !connected: 0xD2 at once.
                self.extern_timer = None;
                let rsp = Response::new(CompletionCode::INITIALIZATION_IN_PROGRESS);
                if let Some(frame) = Frame::response(netfn_lun, seq, cmd, &rsp, self.dev.buf_size())
                {
                    self.answer = frame;
                    self.answer_followup = None;
                    self.phase = Phase::Processing {
                        due: self.now,
                        kind: PostKind::Extern,
                        answers_id: true,
                    };
                }
                return;
            }
            // continue_send: the request went out; answer within 4 s. An
            // answer for another msg_id (hold-busy) cancels it at once.
            self.extern_timer = match self.cfg.extern_timeout {
                Some(t) if !self.faults.hang_after_take => {
                    let rsp = Response::new(CompletionCode::TIMEOUT);
                    Frame::response(netfn_lun, seq, cmd, &rsp, self.dev.buf_size())
                        .map(|f| (self.now + t, f, id))
                }
                _ => None,
            };
        } else if self.faults.link_down {
            let rsp = (CompletionCode::INITIALIZATION_IN_PROGRESS, &[][..]);
            // Nothing behind the link touches this answer.
            let saved = core::mem::take(&mut self.faults);
            self.schedule(netfn_lun, seq, cmd, rsp);
            self.faults = saved;
            return;
        }
        debug_assert!(!self.faults_idle || self.faults.is_healthy());
        if !self.faults_idle {
            if self.faults.hang_after_take {
                self.phase = Phase::Hung { seq, cmd };
                return;
            }
            if self.faults.silent {
                return self.drop_request(seq, cmd, DropReason::Silent);
            }
            if self.faults.ignores(netfn_lun >> 2, cmd) {
                return self.drop_request(seq, cmd, DropReason::Ignored);
            }
        }
        // Get Device ID (LUN 0) answers its precomputed bytes; only the other
        // commands build a `Response` (cleared and returned by value).
        let device_id;
        let dispatched;
        // (No fault is on while `faults_idle`: `error_response` is None then.)
        let rsp: (CompletionCode, &[u8]) = match self.faults.error_response {
            Some(cc) => (CompletionCode(cc), &[]),
            None if netfn_lun == NETFN_APP << 2 && cmd == cmd::GET_DEVICE_ID => {
                device_id = self.device_id;
                (CompletionCode::OK, device_id.bytes())
            }
            None => {
                let req = *self.dev.request();
                let data = req.get(data_range).unwrap_or(&[]);
                dispatched = self.dispatch(netfn_lun, cmd, data);
                (dispatched.cc, dispatched.data())
            }
        };
        if !self.faults_idle && self.drop_or_delay(netfn_lun, seq, cmd, rsp) {
            return;
        }
        self.schedule(netfn_lun, seq, cmd, rsp);
    }

    /// The faults that lose or delay an executed request's answer `rsp`:
    /// whether one did (the request is then dropped).
    fn drop_or_delay(
        &mut self,
        netfn_lun: u8,
        seq: u8,
        cmd: u8,
        rsp: (CompletionCode, &[u8]),
    ) -> bool {
        if let Some(left) = self.faults.lose_responses {
            match left {
                Some(0) => self.stop_fault(FaultKind::LoseResponses),
                Some(n) => {
                    self.faults.lose_responses = Some(Some(n - 1));
                    if n == 1 {
                        self.stop_fault(FaultKind::LoseResponses);
                    }
                    self.drop_request(seq, cmd, DropReason::Lost);
                    return true;
                }
                None => {
                    self.drop_request(seq, cmd, DropReason::Lost);
                    return true;
                }
            }
        }
        if self.faults.random_loss_per_mille > 0
            && self.rng.chance_per_mille(self.faults.random_loss_per_mille)
        {
            self.drop_request(seq, cmd, DropReason::RandomLoss);
            return true;
        }
        if let Some(delay) = self.faults.late_answer {
            if let Some(mut frame) =
                Frame::response_of(netfn_lun, seq, cmd, rsp, self.dev.buf_size())
            {
                self.rewrite(&mut frame);
                let due = self.now + self.cfg.response_latency + delay;
                self.late = Some((due, frame, self.waiting_rsp));
            }
            self.drop_request(seq, cmd, DropReason::Late);
            return true;
        }
        false
    }

    /// [`Fault::RewriteResponse`] on a framed answer; counts it down.
    fn rewrite(&mut self, f: &mut Frame) {
        let Some(rw) = self.faults.rewrite else {
            return;
        };
        Self::rewrite_frame(&rw, f);
        self.count_rewrite(&rw);
    }

    /// [`rewrite`](Self::rewrite) on the frame in `self.answer`, in place.
    fn rewrite_answer(&mut self) {
        let Some(rw) = self.faults.rewrite else {
            return;
        };
        Self::rewrite_frame(&rw, &mut self.answer);
        self.count_rewrite(&rw);
    }

    /// The bytes [`Fault::RewriteResponse`] changes.
    fn rewrite_frame(rw: &ResponseRewrite, f: &mut Frame) {
        if let Some(n) = rw.netfn {
            f.buf[1] = (n << 2) | (f.buf[1] & 0x03);
        }
        if let Some(c) = rw.cmd {
            f.buf[3] = c;
        }
        if let Some((i, v)) = rw.byte {
            let at = 4 + usize::from(i);
            if at < usize::from(f.len) {
                f.buf[at] = v;
            }
        }
    }

    /// Count a [`Fault::RewriteResponse`] answer down.
    fn count_rewrite(&mut self, rw: &ResponseRewrite) {
        match rw.left {
            Some(n) if n <= 1 => self.stop_fault(FaultKind::RewriteResponse),
            Some(n) => {
                if let Some(r) = self.faults.rewrite.as_mut() {
                    r.left = Some(n - 1);
                }
            }
            None => {}
        }
    }

    fn drop_request(&mut self, seq: u8, cmd: u8, reason: DropReason) {
        let unanswered = matches!(
            reason,
            DropReason::Silent
                | DropReason::Ignored
                | DropReason::Lost
                | DropReason::RandomLoss
                | DropReason::Late
        );
        if unanswered && self.holds_unanswered() {
            // QEMU ipmi_bt.c: B_BUSY is cleared only by ipmi_bt_handle_rsp
            // for the awaited msg_id; an answer that never comes keeps it.
            self.emit(BmcEventKind::RequestHeld { seq, cmd, reason });
            self.phase = Phase::Hung { seq, cmd };
            return;
        }
        self.emit(BmcEventKind::RequestDropped { seq, cmd, reason });
        self.phase = Phase::Idle;
        if self.boot_until.is_none() {
            self.dev.set_b_busy(false);
        }
    }

    /// Frame `rsp`, apply response faults and schedule the post.
    fn schedule(&mut self, netfn_lun: u8, seq: u8, cmd: u8, rsp: (CompletionCode, &[u8])) {
        // The answer is framed straight into `self.answer` (free: `take`
        // calls this only outside `Phase::Processing`); the frame-sized
        // copies are made only for `last_response` and where a fault needs
        // two frames (they show in the per-transaction cost).
        let max = self.dev.buf_size();
        if !self.answer.fill_response(netfn_lun, seq, cmd, rsp, max)
            // QEMU ipmi_bt_handle_rsp: too big for the buffer → 0xCA.
            && !self.answer.fill_response(
                netfn_lun,
                seq,
                cmd,
                (CompletionCode::CANNOT_RETURN_BYTES, &[]),
                max,
            )
        {
            return self.drop_request(seq, cmd, DropReason::PostFailed);
        }
        let mut kind = PostKind::Normal;
        let mut followup = None;
        let mut latency = None;
        if self.faults_idle {
            // No fault: what the branch below does with every fault off.
            debug_assert!(self.faults.is_healthy());
            self.remember_answer();
        } else {
            self.fault_answer(seq, &mut kind, &mut followup);
            latency = self.faults.slow_response;
        }
        let due = match latency {
            // The configured latency, in nanoseconds since construction.
            None if self.cfg.latency_jitter.is_zero() => {
                add_nanos(self.now, self.latencies.response)
            }
            _ => {
                let mut latency = latency.unwrap_or(self.cfg.response_latency);
                if !self.cfg.latency_jitter.is_zero() {
                    latency += self.rng.duration_up_to(self.cfg.latency_jitter);
                }
                self.now + latency
            }
        };
        // Assigning `None` over `None` would still copy a frame-sized option.
        if followup.is_some() || self.answer_followup.is_some() {
            self.answer_followup = followup;
        }
        self.phase = Phase::Processing {
            due,
            kind,
            answers_id: true,
        };
        if !self.cfg.b_busy_until_response && self.boot_until.is_none() {
            self.dev.set_b_busy(false);
        }
    }

    /// Keep the answer in `self.answer` as `last_response` (what the stale
    /// and foreign-response faults send again), copying only its bytes, not
    /// the whole buffer.
    fn remember_answer(&mut self) {
        match &mut self.last_response {
            Some(last) => last.copy_used(&self.answer),
            None => self.last_response = Some(self.answer),
        }
    }

    /// The response faults on the answer framed in `self.answer` (with
    /// request seq `seq`): rewrite, wrong seq / stale / duplicate (setting
    /// `kind` and the `followup`), corrupt length; keeps `last_response`.
    fn fault_answer(
        &mut self,
        seq: u8,
        kind: &mut PostKind,
        followup: &mut Option<(Duration, Frame, PostKind)>,
    ) {
        self.rewrite_answer();
        if let Some((delta, after)) = self.faults.wrong_seq {
            self.last_response = Some(self.answer);
            *followup = after.map(|d| (d, self.answer, PostKind::Correction));
            self.answer.buf[2] = seq.wrapping_add(delta);
            *kind = PostKind::WrongSeq;
        } else if let Some(after) = self.faults.stale_response {
            let correct = self.answer;
            let previous = self.last_response.replace(correct);
            self.answer = previous.unwrap_or_else(|| {
                let mut f = correct;
                f.buf[2] = seq.wrapping_sub(1);
                f
            });
            *kind = PostKind::Stale;
            *followup = after.map(|d| (d, correct, PostKind::Correction));
        } else {
            if self.faults.duplicate_response {
                *followup = Some((Duration::ZERO, self.answer, PostKind::Duplicate));
            }
            self.remember_answer();
        }
        if let Some(len) = self.faults.corrupt_length {
            self.answer.buf[0] = len;
        }
    }

    fn post(&mut self, frame: &Frame, kind: PostKind) {
        let posted = load(&mut self.dev, self.cfg.post_waits_for_host, frame.bytes());
        self.posted(posted, frame.header(), kind);
    }

    /// [`post`](Self::post) for the frame in `self.answer`, without copying it.
    fn post_answer(&mut self, kind: PostKind) {
        let posted = load(
            &mut self.dev,
            self.cfg.post_waits_for_host,
            self.answer.bytes(),
        );
        let header = self.answer.header();
        self.posted(posted, header, kind);
    }

    /// Record the outcome of a post of a frame starting with `header`.
    #[inline]
    fn posted(&mut self, posted: bool, header: FrameHeader, kind: PostKind) {
        let frame = &header;
        match posted {
            true => {
                self.responses_posted += 1;
                self.emit(BmcEventKind::ResponsePosted {
                    seq: frame.byte(2),
                    cmd: frame.byte(3),
                    cc: CompletionCode(frame.byte(4)),
                    len_byte: frame.byte(0),
                    kind,
                });
            }
            false => {
                self.emit(BmcEventKind::RequestDropped {
                    seq: frame.byte(2),
                    cmd: frame.byte(3),
                    reason: DropReason::PostFailed,
                });
            }
        }
    }

    fn sel_timestamp(&self) -> u32 {
        let secs = u32::try_from(self.now.as_secs()).unwrap_or(u32::MAX);
        self.cfg.sel_epoch.saturating_add(secs)
    }

    fn on_watchdog(&mut self, ev: WatchdogEvent) {
        match ev {
            WatchdogEvent::PreTimeout {
                interrupt,
                timer_use,
                ..
            } => {
                self.emit(BmcEventKind::WatchdogPreTimeout {
                    interrupt,
                    timer_use,
                });
                if interrupt == PreTimeoutInterrupt::Messaging
                    && !self.wd.message_flags().is_empty()
                {
                    // IPMI §27.6 / QEMU ipmi_sim_handle_timeout: flag + SMS_ATN,
                    // IRQ if the receive-message-queue interrupt is enabled.
                    self.dev
                        .set_sms_atn(self.global_enables & GLOBAL_ENABLE_RCV_MSG_IRQ != 0);
                    self.emit(BmcEventKind::SmsAtn);
                }
            }
            WatchdogEvent::Expired {
                action, timer_use, ..
            } => {
                self.emit(BmcEventKind::WatchdogExpired { action, timer_use });
                match action {
                    TimerAction::HardReset | TimerAction::PowerCycle => {
                        self.wd.system_reset(ev.at())
                    }
                    TimerAction::PowerDown => self.wd.system_power_down(ev.at()),
                    TimerAction::None => {}
                }
            }
        }
        let mut log_mask = GLOBAL_ENABLE_EVENT_LOG;
        if self.cfg.sel_needs_event_buffer {
            log_mask |= GLOBAL_ENABLE_EVENT_BUFFER;
        }
        if let Some(sel) = ev
            .sel()
            .filter(|_| self.global_enables & log_mask == log_mask)
        {
            let ts = self.sel_timestamp();
            let added = self.sel.add(ts, |id| {
                sel.record(id, ts, BMC_GENERATOR_ID, WATCHDOG_SENSOR_NUMBER)
            });
            self.emit(match added {
                Some(record_id) => BmcEventKind::SelAdded { record_id },
                None => BmcEventKind::SelFull,
            });
        }
    }

    // ----- dispatcher -----------------------------------------------------------

    /// Execute one command at `now` and return its answer — the dispatcher
    /// alone, without the BT framing (also what a QEMU-extern or socket server
    /// calls). Side effects happen as on the BT path (a Cold Reset reboots the
    /// BMC once the answer has been read or after 1 s). Advances to `now` first.
    pub fn handle_command(
        &mut self,
        now: Instant,
        netfn_lun: u8,
        cmd: u8,
        data: &[u8],
    ) -> Response {
        self.advance(now);
        let rsp = self.dispatch(netfn_lun, cmd, data);
        self.invalidate_deadline();
        self.run_due();
        rsp
    }

    fn dispatch(&mut self, netfn_lun: u8, cmd: u8, data: &[u8]) -> Response {
        use CompletionCode as Cc;
        let netfn = netfn_lun >> 2;
        if netfn_lun & 0x03 != 0 {
            return Response::new(Cc::INVALID_FOR_LUN);
        }
        match (netfn, cmd) {
            (NETFN_APP, cmd::GET_DEVICE_ID) => Response::with_data(Cc::OK, self.device_id.bytes()),
            (NETFN_APP, cmd::COLD_RESET) => {
                match self.cfg.cold_reset {
                    ColdResetBehaviour::Reboot => {
                        self.deferred_reset =
                            Some((self.now + COLD_RESET_GRACE, ResetCause::ColdReset));
                    }
                    ColdResetBehaviour::InterfaceOnly => {
                        self.set_global_enables(GLOBAL_ENABLE_EVENT_LOG);
                        self.dev.clear_irq_config();
                    }
                }
                Response::new(Cc::OK)
            }
            (NETFN_APP, cmd::WARM_RESET) => Response::new(Cc::OK),
            (NETFN_APP, cmd::RESET_WATCHDOG | cmd::SET_WATCHDOG | cmd::GET_WATCHDOG) => {
                match self.wd.handle(self.now, cmd, data) {
                    Some(r) => {
                        for ev in r.events {
                            self.on_watchdog(ev);
                        }
                        Response::with_data(r.cc, r.data.as_slice())
                    }
                    None => Response::new(Cc::INVALID_COMMAND),
                }
            }
            (NETFN_APP, cmd::SET_GLOBAL_ENABLES) => match data.first() {
                // Bit 4 is reserved (IPMI §22.1); QEMU also rejects it.
                Some(&v) if v & GLOBAL_ENABLE_RESERVED != 0 => {
                    Response::new(Cc::INVALID_DATA_FIELD)
                }
                Some(&v) => {
                    self.set_global_enables(v);
                    Response::new(Cc::OK)
                }
                None => Response::new(Cc::REQUEST_DATA_LENGTH_INVALID),
            },
            (NETFN_APP, cmd::GET_GLOBAL_ENABLES) => {
                Response::with_data(Cc::OK, &[self.global_enables])
            }
            (NETFN_APP, cmd::CLEAR_MSG_FLAGS) => match data.first() {
                Some(&v) => {
                    self.wd
                        .clear_message_flags(MessageFlags::from_bits_retain(v));
                    // Flags still pending keep attention up (QEMU `clr_msg_flags`
                    // re-evaluates ATN the same way).
                    if !self.wd.message_flags().is_empty() {
                        self.dev.set_sms_atn(false);
                    }
                    Response::new(Cc::OK)
                }
                None => Response::new(Cc::REQUEST_DATA_LENGTH_INVALID),
            },
            (NETFN_APP, cmd::GET_MSG_FLAGS) => {
                Response::with_data(Cc::OK, &[self.wd.message_flags().bits()])
            }
            (NETFN_APP, cmd::GET_MESSAGE | cmd::READ_EVENT_BUFFER) => {
                Response::new(CC_DATA_NOT_AVAILABLE)
            }
            (NETFN_APP, cmd::GET_BT_CAPS) => {
                Response::with_data(Cc::OK, &self.cfg.bt_caps.encode())
            }
            (NETFN_STORAGE, cmd::GET_SEL_INFO) => self.sel.info(),
            (NETFN_STORAGE, cmd::RESERVE_SEL) => self.sel.reserve(),
            (NETFN_STORAGE, cmd::GET_SEL_ENTRY) => self.sel.get_entry(data),
            (NETFN_STORAGE, cmd::CLEAR_SEL) => {
                let ts = self.sel_timestamp();
                self.sel.clear(data, ts)
            }
            (NETFN_STORAGE, cmd::GET_SEL_TIME) => {
                Response::with_data(Cc::OK, &self.sel_timestamp().to_le_bytes())
            }
            _ => Response::new(Cc::INVALID_COMMAND),
        }
    }
}

impl<E: DeviceEvents> ipmi_bt_sm::Io for SimBmc<E> {
    #[inline]
    fn read_ctrl(&mut self) -> u8 {
        self.dev.read(0)
    }
    #[inline]
    fn write_ctrl(&mut self, val: u8) {
        self.dev.write(0, val);
        self.after_host_write();
    }
    fn read_buf(&mut self) -> u8 {
        self.dev.read(1)
    }
    fn write_buf(&mut self, val: u8) {
        self.dev.write(1, val);
    }
    fn write_bufs(&mut self, bytes: &[u8]) {
        // Like `write_buf`: buffer writes wake nothing in the firmware.
        self.dev.write_buf_from(bytes);
    }
    fn read_bufs(&mut self, out: &mut [u8]) {
        // Buffer reads change nothing the firmware waits on (no due-now test
        // follows a read either way).
        self.dev.read_buf_into(out);
    }
    fn read_intmask(&mut self) -> u8 {
        self.dev.read(2)
    }
    fn write_intmask(&mut self, val: u8) {
        self.dev.write(2, val);
        self.after_host_write();
    }
}

#[cfg(test)]
mod tests;
