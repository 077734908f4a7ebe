//! A model of Linux's `drivers/char/ipmi/ipmi_si_intf.c`: the layer that drives
//! the BT state machine ([`ipmi_bt_sm::BtSm`]) from a kernel timer, the BT
//! interrupt and the probe-time synchronous wait loops, queues messages, and
//! turns start refusals into immediate error responses.
//!
//! Function names follow the kernel's (`smi_event_handler`, `smi_timeout`,
//! `check_start_timer_thread`, `start_next_msg`, `handle_transaction_done`,
//! `handle_flags`, `wait_for_msg_done`, `try_get_dev_id`), each with the
//! behaviour read at torvalds/linux `drivers/char/ipmi/ipmi_si_intf.c` @
//! 02897f5e56b2 (see `spec-notes/si-driver.md` for what was verified and the
//! history behind each [`SiProfile`] switch; the named profiles are rows in
//! [`super::presets`]).
//!
//! The model is sans-IO like the state machine: it is handed an [`SiEnv`] with
//! the state machine, the register bus (a [`SimDevice`]), the kernel log and the
//! current virtual time on every call, and reports delivered responses through
//! [`SiDriver::pop_delivered`].

use core::fmt;
use std::collections::VecDeque;

use ipmi_bt_sm::{CompletionCode, Io, Level, LogMsg, LogRecord, LogSink, SmResult};

use super::bytes::MsgBytes;
use super::events::{HostEvents, SiPhase};
use super::hostsm::HostSm;
use super::sched::Jiffies;
use ipmi_vocab::Instant;

/// `IPMI_MAX_MSG_LENGTH` (include/uapi/linux/ipmi_msgdefs.h), from the vocabulary.
pub(crate) use ipmi_vocab::IPMI_MAX_MSG_LENGTH;
/// NetFn App request (`IPMI_NETFN_APP_REQUEST`), shifted into the NetFn/LUN byte.
const APP: u8 = ipmi_vocab::NetFn::App.netfn_lun(0);
/// `IPMI_GET_DEVICE_ID_CMD`.
pub(crate) use ipmi_vocab::app::GET_DEVICE_ID;
/// `IPMI_CLEAR_MSG_FLAGS_CMD`, `IPMI_GET_MSG_FLAGS_CMD`, `IPMI_GET_MSG_CMD`,
/// `IPMI_READ_EVENT_MSG_BUFFER_CMD`.
use ipmi_vocab::app::{
    CLEAR_MSG_FLAGS, GET_MESSAGE as GET_MSG, GET_MSG_FLAGS,
    READ_EVENT_BUFFER as READ_EVENT_MSG_BUFFER,
};
/// Message flags (ipmi_si_intf.c `RECEIVE_MSG_AVAIL` …).
const RECEIVE_MSG_AVAIL: u8 = 0x01;
const EVENT_MSG_BUFFER_FULL: u8 = 0x02;
const WDT_PRE_TIMEOUT_INT: u8 = 0x08;
/// `IPMI_BT_INTMASK_CLEAR_IRQ_BIT | IPMI_BT_INTMASK_ENABLE_IRQ_BIT`.
const BT_INTMASK_ACK_AND_ENABLE: u8 = 0x03;
/// `IPMI_BT_INTMASK_ENABLE_IRQ_BIT`.
const BT_INTMASK_ENABLE: u8 = 0x01;
/// `IPMI_GET_BMC_GLOBAL_ENABLES_CMD` / `IPMI_SET_BMC_GLOBAL_ENABLES_CMD`.
use ipmi_vocab::app::{GET_GLOBAL_ENABLES, SET_GLOBAL_ENABLES};
/// Global enables bits (`IPMI_BMC_RCV_MSG_INTR`, `IPMI_BMC_EVT_MSG_INTR`,
/// `IPMI_BMC_EVT_MSG_BUFF`) and `GLOBAL_ENABLES_MASK`.
const RCV_MSG_INTR: u8 = 0x01;
const EVT_MSG_INTR: u8 = 0x02;
const EVT_MSG_BUFF: u8 = 0x04;
const GLOBAL_ENABLES_MASK: u8 = RCV_MSG_INTR | EVT_MSG_INTR | EVT_MSG_BUFF;

/// How the probe-time synchronous loop (`wait_for_msg_done`) credits time to
/// `event()` after each one-jiffy sleep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InitWaitCredit {
    /// Before e21404dc0ac7 (v3.14, Jan 2014): 100 µs per sleep, although a
    /// whole jiffy passed — bug B-3 (HZ = 250: a 5 s attempt takes 200 s).
    Fixed100us,
    /// e21404dc0ac7 onwards: `jiffies_to_usecs(1)`.
    JiffiesToUsecs,
}

/// SI-layer behaviour switches, each tied to a kernel commit
/// (`spec-notes/si-driver.md` has the table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SiProfile {
    /// Short name (`pre-2014`, `v2014`, `v2016`, `current`).
    pub name: &'static str,
    /// Kernel versions it stands for.
    pub kernels: &'static str,
    /// `wait_for_msg_done` crediting (B-3, e21404dc0ac7).
    pub init_wait_credit: InitWaitCredit,
    /// After TRANSACTION_COMPLETE, restart `smi_event_handler` from the top
    /// (d9dffd2a0bd8, v4.5, 2016). Before: one `event(0)` whose result was used
    /// as is, so a CALL_WITHOUT_DELAY became a 10 ms wait (B-10).
    pub restart_after_complete: bool,
    /// `GET_DEVICE_ID_MAX_RETRY`: probe retries of Get Device ID on a non-zero
    /// completion code (0 before the 2020 retry series; 5 since, UNVERIFIED
    /// exact commit).
    pub get_device_id_retries: u8,
    /// How `wait_msg_processed` (unload, `shutdown_smi`) credits time (B-9).
    pub unload_wait: UnloadWait,
    /// Complete an SI-internal message whose `start_transaction` the state
    /// machine refuses (BT in LONG_BUSY: 0xC0 Node Busy) with the refusal's
    /// completion code, as `start_next_msg` does for the upper layer's
    /// messages through `return_hosed_msg`, instead of waiting for a
    /// completion that never comes. The kernel ignores that result in
    /// `start_new_msg` (F-2: the SI state machine stays in e.g.
    /// `SI_CLEARING_FLAGS` and takes the next user message's answer as its
    /// own; that message is lost and the interface wedges) and in the probe's
    /// synchronous commands (`try_get_dev_id`, `get_global_enables`,
    /// `set_global_enables`, `try_enable_event_buffer`; F-1:
    /// `wait_for_msg_done` waits for as long as the BMC holds B_BUSY).
    /// Our proposal (`patches/0005`), not upstream.
    pub complete_refused_internal: bool,
}

/// How the unload-time wait loop (`wait_msg_processed`) drives the state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnloadWait {
    /// Before the 2022 fix "ipmi: fix long wait in unload when IPMI disconnect"
    /// (upstream f6f1234…, kernel-bt.md B-9): `poll()` — `udelay(10)` and
    /// `event(10)` — then a one-jiffy sleep: 10 µs credited per jiffy.
    Poll10us,
    /// Since: `(jiffies - last_timeout_jiffies) * SI_USEC_PER_JIFFY`, then a
    /// one-jiffy sleep. The timer is stopped, so the stamp is never refreshed
    /// and each iteration credits the *cumulative* time since it (analysis).
    ElapsedSinceLastTimer,
}

/// How many polls of `per_poll_us` each may be credited in one `event()` call
/// without changing the outcome. The 2006+ designs subtract `time` as given,
/// so any number may. The 2005 design charged 100 µs instead of any `time`
/// that was ≤ 0 or ≥ 2 s (`bt_event`, 2.6.12), so a combined credit must stay
/// below 2 s.
fn linear_limit(design: ipmi_bt_sm::Design, per_poll_us: u64) -> u64 {
    const Y2005_MAX_CREDIT_US: u64 = 2_000_000;
    match design {
        ipmi_bt_sm::Design::Y2005 => ((Y2005_MAX_CREDIT_US - 1) / per_poll_us.max(1)).max(1),
        ipmi_bt_sm::Design::Y2006 => u64::MAX,
    }
}

/// The response `return_hosed_msg` makes up for a request `data` refused
/// with `cc`: `[NetFn/LUN | response bit, cmd, cc]`.
fn hosed_response(data: &[u8], cc: CompletionCode) -> MsgBytes {
    MsgBytes::from([
        data.first().copied().unwrap_or(0) | 4,
        data.get(1).copied().unwrap_or(0),
        cc.0,
    ])
}

/// `enum si_intf_state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum SiState {
    /// Normal operation: user messages go through.
    Normal,
    /// Get Message Flags in flight after an ATTN.
    GettingFlags,
    /// Read Event Message Buffer in flight.
    GettingEvents,
    /// Clear Message Flags (watchdog pre-timeout) in flight.
    ClearingFlags,
    /// Get Message in flight.
    GettingMessages,
    /// Get BMC Global Enables in flight (`start_check_enables`).
    CheckingEnables,
    /// Set BMC Global Enables in flight.
    SettingEnables,
}

/// Where a message came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Origin {
    /// `[[request]]` entry `entry` (0-based), copy `copy` (0-based).
    Workload {
        /// Index of the `[[request]]` entry.
        entry: u32,
        /// Which repetition.
        copy: u32,
    },
    /// The probe's synchronous Get Device ID (`try_get_dev_id`), attempt `attempt`.
    Probe {
        /// 0 = first try, 1.. = `GET_DEVICE_ID_MAX_RETRY` retries.
        attempt: u8,
    },
    /// The message handler's own Get Device ID after registration.
    Handler,
    /// Generated by the SI layer itself (flags, messages, events, enables).
    Internal,
    /// The host-userspace petting daemon (`[daemon]`), through `/dev/ipmi0`.
    Daemon,
}

impl fmt::Display for Origin {
    /// `request[0] copy 255`, `probe attempt 2`, `message handler`, `SI layer`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Workload { entry, copy } => write!(f, "request[{entry}] copy {copy}"),
            Origin::Probe { attempt } => write!(f, "probe attempt {attempt}"),
            Origin::Handler => f.write_str("message handler"),
            Origin::Internal => f.write_str("SI layer"),
            Origin::Daemon => f.write_str("daemon"),
        }
    }
}

/// One register access (recorded only with `[trace] registers = true`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegEvent {
    /// When.
    pub t: Instant,
    /// Register offset (0 CTRL, 1 buffer, 2 INTMASK).
    pub offset: u8,
    /// True for a write.
    pub write: bool,
    /// Value read or written.
    pub value: u8,
}

/// What the SI layer needs from the thing behind the registers, beyond [`Io`]:
/// virtual time and the interrupt line.
pub(crate) trait SimDevice: Io {
    /// Let the device run up to `now` (responses become ready, faults switch).
    fn advance(&mut self, now: Instant);
    /// The next time the device changes by itself, if any.
    fn next_deadline(&self) -> Option<Instant>;
    /// Level of the BT interrupt line.
    fn irq_line(&self) -> bool;
}

/// The host's view of the register bus: forwards to the device, counts accesses
/// (the fast-forward needs to know a poll was a single CTRL read) and records
/// them when asked.
#[derive(Debug)]
pub(crate) struct Bus<D> {
    /// The device.
    pub(crate) dev: D,
    /// Record every access into [`regs`](Self::regs).
    pub(crate) record: bool,
    /// Recorded accesses.
    pub(crate) regs: Vec<RegEvent>,
    now: Instant,
    ctrl_reads: u64,
    other: u64,
}

impl<D: SimDevice> Bus<D> {
    /// Wrap `dev`.
    pub(crate) fn new(dev: D, record: bool) -> Self {
        Self {
            dev,
            record,
            regs: Vec::new(),
            now: Instant::ZERO,
            ctrl_reads: 0,
            other: 0,
        }
    }
    /// Advance the device and the bus clock to `now`.
    pub(crate) fn advance(&mut self, now: Instant) {
        if now > self.now {
            self.now = now;
        }
        self.dev.advance(now);
    }
    /// Current bus time.
    pub(crate) fn now(&self) -> Instant {
        self.now
    }
    /// Total accesses so far.
    pub(crate) fn accesses(&self) -> u64 {
        self.ctrl_reads + self.other
    }
    fn rec(&mut self, offset: u8, write: bool, value: u8) {
        if self.record {
            self.regs.push(RegEvent {
                t: self.now,
                offset,
                write,
                value,
            });
        }
    }
}

impl<D: SimDevice> Io for Bus<D> {
    #[inline]
    fn read_ctrl(&mut self) -> u8 {
        self.ctrl_reads += 1;
        let v = self.dev.read_ctrl();
        self.rec(0, false, v);
        v
    }
    #[inline]
    fn write_ctrl(&mut self, val: u8) {
        self.other += 1;
        self.dev.write_ctrl(val);
        self.rec(0, true, val);
    }
    fn read_buf(&mut self) -> u8 {
        self.other += 1;
        let v = self.dev.read_buf();
        self.rec(1, false, v);
        v
    }
    fn write_bufs(&mut self, bytes: &[u8]) {
        self.other += bytes.len() as u64;
        self.dev.write_bufs(bytes);
        if self.record {
            for &v in bytes {
                self.rec(1, true, v);
            }
        }
    }
    fn read_bufs(&mut self, out: &mut [u8]) {
        self.other += out.len() as u64;
        self.dev.read_bufs(out);
        if self.record {
            for &v in out.iter() {
                self.rec(1, false, v);
            }
        }
    }
    fn write_buf(&mut self, val: u8) {
        self.other += 1;
        self.dev.write_buf(val);
        self.rec(1, true, val);
    }
    fn read_intmask(&mut self) -> u8 {
        self.other += 1;
        let v = self.dev.read_intmask();
        self.rec(2, false, v);
        v
    }
    fn write_intmask(&mut self, val: u8) {
        self.other += 1;
        self.dev.write_intmask(val);
        self.rec(2, true, val);
    }
}

/// Work limits of the synchronous loops (probe, unload): they give up when a
/// run is over them, as well as at the run's stop time or when the observer
/// is over its own budget ([`HostEvents::over_budget`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HostLimits {
    /// `BtSm::event` calls ([`SiStats::sm_events`]).
    pub(crate) max_sm_events: u64,
    /// Register accesses recorded by the [`Bus`].
    pub(crate) max_register_records: usize,
    /// `SI_SM_CALL_WITHOUT_DELAY` results in a row with no time passing: a
    /// state machine over it livelocks at one instant, where the kernel's
    /// loops (`wait_for_msg_done`, `smi_event_handler`) spin for ever.
    pub(crate) max_spin_events: u64,
}

impl HostLimits {
    /// No limit.
    #[cfg(test)]
    pub(crate) const NONE: Self = Self {
        max_sm_events: u64::MAX,
        max_register_records: usize::MAX,
        max_spin_events: u64::MAX,
    };
}

/// Everything one SI-layer call works on besides the driver itself.
pub(crate) struct SiEnv<'a, D: SimDevice, O: HostEvents> {
    /// The BT state machine.
    pub(crate) sm: &'a mut HostSm,
    /// The register bus.
    pub(crate) bus: &'a mut Bus<D>,
    /// Who hears what the host does (kernel log, state changes, phases).
    pub(crate) obs: &'a mut O,
    /// Simulation end: synchronous loops give up here.
    pub(crate) stop: Instant,
    /// Work limits: synchronous loops also give up when a run is over them
    /// (the caller then reports which).
    pub(crate) limits: HostLimits,
}

impl<D: SimDevice, O: HostEvents> SiEnv<'_, D, O> {
    fn now(&self) -> Instant {
        self.bus.now()
    }
}

/// Work counters of one [`SiDriver`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct SiStats {
    /// `BtSm::event` calls.
    pub(crate) sm_events: u64,
    /// Kernel timer expiries handled.
    pub(crate) timer_fires: u64,
    /// Interrupts handled.
    pub(crate) irqs: u64,
    /// Timer expiries skipped by fast-forwarding (provably identical polls).
    pub(crate) skipped_polls: u64,
}

/// Forwards the state machine's log records to the observer and notes a
/// final failure (`failed %d retries` / `retry limit exceeded`), after which
/// the result about to be read was made up by the host.
struct LogTap<'a, O> {
    obs: &'a mut O,
    failed: &'a mut bool,
}

impl<O: HostEvents> LogSink for LogTap<'_, O> {
    fn log(&mut self, rec: &LogRecord) {
        match rec.msg {
            LogMsg::Failed { .. } | LogMsg::RetryLimitExceeded(_) => *self.failed = true,
            // The reset branch resends the same request: no result yet.
            LogMsg::Reset => *self.failed = false,
            // The same messages from C code (the kernel's own file).
            LogMsg::Text(t) => {
                let t = t.as_str();
                if t.contains("retries, sending error response") || t.contains("retry limit") {
                    *self.failed = true;
                } else if t.contains("BT reset (takes 5 secs)") {
                    *self.failed = false;
                }
            }
            _ => {}
        }
        self.obs.log(rec);
    }
}

/// A message as the SI layer holds it (`struct ipmi_smi_msg`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SiMsg {
    /// Id for the trace.
    pub(crate) id: u32,
    /// Who sent it.
    pub(crate) origin: Origin,
    /// `[NetFn/LUN, cmd, data…]`.
    pub(crate) data: MsgBytes,
    /// Handed to the sender at.
    pub(crate) submitted: Instant,
    /// `start_transaction` called at.
    pub(crate) started: Option<Instant>,
}

/// A response handed to the upper layer (`deliver_recv_msg`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Delivered {
    /// The message.
    pub(crate) msg: SiMsg,
    /// Response bytes `[NetFn/LUN, cmd, cc, data…]`.
    pub(crate) response: MsgBytes,
    /// When.
    pub(crate) at: Instant,
    /// Made up by the host (start refused, or error recovery).
    pub(crate) synthesized: bool,
}

impl SiMsg {
    /// What a queued message holds before it is filled in where it lies
    /// (see [`SiDriver::deliver_result`]).
    pub(crate) const BLANK: Self = Self {
        id: 0,
        origin: Origin::Handler,
        data: MsgBytes::new(),
        submitted: Instant::ZERO,
        started: None,
    };
}

impl Delivered {
    /// What a queued record holds before [`SiDriver::deliver_result`] fills it in.
    const BLANK: Self = Self {
        msg: SiMsg::BLANK,
        response: MsgBytes::new(),
        at: Instant::ZERO,
        synthesized: false,
    };
}

/// Result of the probe sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProbeOutcome {
    /// Interface registered.
    Registered,
    /// `bt_detect` said not present.
    NotPresent,
    /// Get Device ID failed (after retries): "There appears to be no BMC at this location".
    NoBmc,
    /// The simulation ended while probe was still waiting (e.g. endless reset loop).
    StillWaiting,
}

/// The SI layer's state for one interface (`struct smi_info`).
#[derive(Debug, Clone)]
pub(crate) struct SiDriver {
    profile: SiProfile,
    clock: Jiffies,
    irq: bool,
    fast_forward: bool,
    si_state: SiState,
    waiting: Option<SiMsg>,
    curr: Option<SiMsg>,
    /// Internal message in flight (flags/events/messages) for the trace.
    internal: Option<SiMsg>,
    got_attn: bool,
    msg_flags: u8,
    req_events: bool,
    supports_event_msg_buff: bool,
    /// The kernel timer's expiry in jiffies, set through [`set_timer`](Self::set_timer).
    timer: Option<u64>,
    /// `timer` as a virtual time, kept beside it: the runner asks for it
    /// every step, and the conversion is a 64-bit division.
    timer_at: Option<Instant>,
    timer_running: bool,
    timer_can_start: bool,
    last_timeout_jiffies: u64,
    /// Natural period of a fast-forwarded timer (None: timer armed normally).
    ff_period: Option<u64>,
    irq_prev: bool,
    /// Responses not yet taken by the message handler, oldest first (a
    /// queue: the handler pops them one by one, with no drain to drop).
    delivered: VecDeque<Delivered>,
    lost: Vec<SiMsg>,
    next_internal_id: u32,
    rsp: [u8; IPMI_MAX_MSG_LENGTH],
    /// The state machine logged a final failure since the current
    /// transaction started (the result is made up by the host).
    failed: bool,
    stats: SiStats,
    /// Consecutive `CALL_WITHOUT_DELAY` results at [`spin_at`](Self::spin_at).
    spin: u64,
    /// The instant of the current run of `CALL_WITHOUT_DELAY` results.
    spin_at: Instant,
    /// Set when a loop gave up on a zero-time livelock.
    livelock: Option<Livelock>,
    /// The made-up response of an SI-internal message whose start was
    /// refused, waiting for `smi_event_handler` to complete it
    /// ([`SiProfile::complete_refused_internal`]).
    refused: Option<MsgBytes>,
}

/// A zero-time livelock the model stopped: the state machine kept returning
/// `SI_SM_CALL_WITHOUT_DELAY` without time passing, where the kernel's loop
/// calls it again at once, for ever (a hard hang of that CPU).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Livelock {
    /// When (virtual time does not move during it).
    pub(crate) at: Instant,
    /// The kernel loop that spins (`wait_for_msg_done`, `smi_event_handler`).
    pub(crate) in_loop: &'static str,
    /// `CALL_WITHOUT_DELAY` results in a row when the model stopped.
    pub(crate) events: u64,
}

impl SiDriver {
    /// A driver with `profile`, a kernel of `hz`, IRQ or polling, and the
    /// fast-forward of provably identical polls on or off.
    pub(crate) fn new(profile: SiProfile, hz: u32, irq: bool, fast_forward: bool) -> Self {
        Self {
            profile,
            clock: Jiffies::new(hz),
            irq,
            fast_forward,
            si_state: SiState::Normal,
            waiting: None,
            curr: None,
            internal: None,
            got_attn: false,
            msg_flags: 0,
            req_events: false,
            supports_event_msg_buff: false,
            timer: None,
            timer_at: None,
            timer_running: false,
            timer_can_start: false,
            last_timeout_jiffies: 0,
            ff_period: None,
            irq_prev: false,
            delivered: VecDeque::new(),
            lost: Vec::new(),
            next_internal_id: 1_000_000,
            rsp: [0; IPMI_MAX_MSG_LENGTH],
            failed: false,
            stats: SiStats::default(),
            spin: 0,
            spin_at: Instant::ZERO,
            livelock: None,
            refused: None,
        }
    }

    /// The zero-time livelock a loop stopped on, if any (the run must end:
    /// the kernel never leaves that loop).
    #[inline]
    pub(crate) fn livelock(&self) -> Option<Livelock> {
        self.livelock
    }

    /// Whether a loop that is about to call `event(0)` again at once (a
    /// `CALL_WITHOUT_DELAY`, no time passing) must give up instead: the run
    /// is over its work limits, or the state machine has asked for it
    /// [`HostLimits::max_spin_events`] times in a row at this instant (then
    /// the livelock is recorded for the trace).
    fn spin_must_stop<D: SimDevice, O: HostEvents>(
        &mut self,
        env: &SiEnv<'_, D, O>,
        in_loop: &'static str,
    ) -> bool {
        if self.livelock.is_some() {
            return true;
        }
        if self.spin >= env.limits.max_spin_events {
            self.livelock = Some(Livelock {
                at: env.now(),
                in_loop,
                events: self.spin,
            });
            return true;
        }
        self.over_work_limits(env)
    }

    /// Whether the run is over its [`HostLimits`] or the observer over its budget.
    fn over_work_limits<D: SimDevice, O: HostEvents>(&self, env: &SiEnv<'_, D, O>) -> bool {
        self.stats.sm_events >= env.limits.max_sm_events
            || env.obs.over_budget()
            || env.bus.regs.len() >= env.limits.max_register_records
    }

    /// Work counters so far.
    #[inline]
    pub(crate) fn stats(&self) -> SiStats {
        self.stats
    }

    /// Whether a synchronous loop must give up now: the run's stop time
    /// came, the run is over its [`HostLimits`], or the observer is over
    /// its budget.
    fn must_stop<D: SimDevice, O: HostEvents>(&self, env: &SiEnv<'_, D, O>) -> bool {
        env.now() >= env.stop || self.livelock.is_some() || self.over_work_limits(env)
    }

    /// Reports a state change since `before` (the state machine calls are on
    /// the hot path: inlined into each, the test and the record cost a few
    /// instructions instead of a call).
    #[inline(always)]
    fn note_state<D: SimDevice, O: HostEvents>(
        env: &mut SiEnv<'_, D, O>,
        before: ipmi_bt_sm::State,
    ) {
        let after = env.sm.state();
        if after != before {
            env.obs.state(env.bus.now(), before, after);
        }
    }

    /// `start_transaction`, recording the state change.
    fn sm_start<D: SimDevice, O: HostEvents>(
        &mut self,
        env: &mut SiEnv<'_, D, O>,
        data: &[u8],
    ) -> Result<(), CompletionCode> {
        let before = env.sm.state();
        let mut log = LogTap {
            obs: &mut *env.obs,
            failed: &mut self.failed,
        };
        let r = env.sm.start_transaction(&mut log, data);
        Self::note_state(env, before);
        r
    }

    /// `bt_detect`, recording the state change.
    fn sm_detect<D: SimDevice, O: HostEvents>(
        &mut self,
        env: &mut SiEnv<'_, D, O>,
    ) -> Result<(), ipmi_bt_sm::NotPresent> {
        let before = env.sm.state();
        let mut log = LogTap {
            obs: &mut *env.obs,
            failed: &mut self.failed,
        };
        let r = env.sm.detect(&mut *env.bus, &mut log);
        Self::note_state(env, before);
        r
    }

    /// The end of `bt_detect`, recording the state change.
    fn sm_finish_detect<D: SimDevice, O: HostEvents>(&mut self, env: &mut SiEnv<'_, D, O>) {
        let before = env.sm.state();
        let mut log = LogTap {
            obs: &mut *env.obs,
            failed: &mut self.failed,
        };
        env.sm.finish_detect(&mut log);
        Self::note_state(env, before);
    }

    /// One `event()` call, recording state changes (out of line: the
    /// synchronous loops and the rare paths of `smi_event_handler`).
    fn sm_event<D: SimDevice, O: HostEvents>(
        &mut self,
        env: &mut SiEnv<'_, D, O>,
        time_us: i64,
    ) -> SmResult {
        self.sm_event_inline(env, time_us)
    }

    /// [`sm_event`](Self::sm_event), inlined into `smi_event_handler`'s
    /// one call site on the hot path: the handler runs it several times per
    /// call, and a call of its own costs a large prologue each time.
    #[inline(always)]
    fn sm_event_inline<D: SimDevice, O: HostEvents>(
        &mut self,
        env: &mut SiEnv<'_, D, O>,
        time_us: i64,
    ) -> SmResult {
        let before = env.sm.state();
        env.obs.set_now(env.bus.now());
        let mut log = LogTap {
            obs: &mut *env.obs,
            failed: &mut self.failed,
        };
        let r = env.sm.event(&mut *env.bus, &mut log, time_us);
        self.stats.sm_events += 1;
        if r == SmResult::CallWithoutDelay {
            let now = env.bus.now();
            if self.spin > 0 && self.spin_at == now {
                self.spin += 1;
            } else {
                self.spin = 1;
                self.spin_at = now;
            }
        } else {
            self.spin = 0;
        }
        Self::note_state(env, before);
        r
    }

    /// The jiffy clock.
    #[cfg(test)]
    pub(crate) fn clock(&self) -> Jiffies {
        self.clock
    }
    /// Whether `sender` may be called (the message handler keeps one message
    /// outstanding; the SI layer has a single `waiting_msg` slot).
    #[inline]
    pub(crate) fn can_accept(&self) -> bool {
        self.waiting.is_none()
    }
    /// When the kernel timer fires next.
    #[inline]
    pub(crate) fn timer_deadline(&self) -> Option<Instant> {
        debug_assert_eq!(self.timer_at, self.timer.map(|j| self.clock.time_of(j)));
        self.timer_at
    }

    /// Set (`Some(expiry)` in jiffies) or delete (`None`) the kernel timer.
    #[inline]
    fn set_timer(&mut self, expiry: Option<u64>) {
        self.timer = expiry;
        self.timer_at = expiry.map(|j| self.clock.time_of(j));
    }
    /// Responses delivered since the last call, drained in place (the test
    /// harness takes them all at once).
    #[cfg(test)]
    pub(crate) fn take_delivered(&mut self) -> std::collections::vec_deque::Drain<'_, Delivered> {
        self.delivered.drain(..)
    }
    /// The oldest response not yet taken, if any (the message handler takes
    /// them one by one; the queue keeps its capacity).
    #[inline]
    pub(crate) fn pop_delivered(&mut self) -> Option<Delivered> {
        self.delivered.pop_front()
    }
    /// Whether [`pop_delivered`](Self::pop_delivered) or
    /// [`take_lost`](Self::take_lost) has anything (the scheduler asks after
    /// every step; most steps deliver nothing).
    #[inline]
    pub(crate) fn has_output(&self) -> bool {
        !self.delivered.is_empty() || !self.lost.is_empty()
    }
    /// Messages the SI layer dropped without a response (B-6's diverted
    /// completion), drained in place (the buffer keeps its capacity).
    pub(crate) fn take_lost(&mut self) -> std::vec::Drain<'_, SiMsg> {
        self.lost.drain(..)
    }
    /// The messages the SI layer still holds (current, waiting).
    pub(crate) fn in_flight(&self) -> impl Iterator<Item = &SiMsg> {
        self.curr.iter().chain(self.waiting.iter())
    }

    fn jiffies<D: SimDevice, O: HostEvents>(&self, env: &SiEnv<'_, D, O>) -> u64 {
        self.clock.at(env.now())
    }

    /// `smi_mod_timer`.
    fn smi_mod_timer(&mut self, now_j: u64, expiry: u64) {
        if !self.timer_can_start {
            return;
        }
        self.last_timeout_jiffies = now_j;
        self.set_timer(Some(expiry));
        self.timer_running = true;
        self.ff_period = None;
    }

    fn deliver(&mut self, msg: SiMsg, response: MsgBytes, at: Instant, synthesized: bool) {
        self.delivered.push_back(Delivered {
            msg,
            response,
            at,
            synthesized,
        });
    }

    /// `return_hosed_msg`: complete the current message with `cc` right away.
    fn return_hosed_msg(&mut self, cc: CompletionCode, at: Instant) {
        if let Some(m) = self.curr.take() {
            let rsp = hosed_response(&m.data, cc);
            self.deliver(m, rsp, at, true);
        }
    }

    /// `start_next_msg`.
    fn start_next_msg<D: SimDevice, O: HostEvents>(
        &mut self,
        env: &mut SiEnv<'_, D, O>,
    ) -> SmResult {
        if let Some(dropped) = self.curr.take() {
            // The kernel overwrites curr_msg here; a message still there never
            // got TRANSACTION_COMPLETE (B-6 item 2): it is lost.
            self.lost.push(dropped);
        }
        let Some(mut m) = self.waiting.take() else {
            return SmResult::Idle;
        };
        let now = env.now();
        m.started = Some(now);
        env.obs.set_now(now);
        self.failed = false;
        let res = self.sm_start(env, &m.data);
        self.curr = Some(m);
        if let Err(cc) = res {
            self.return_hosed_msg(cc, now);
        }
        SmResult::CallWithoutDelay
    }

    /// `start_new_msg`: an SI-internal request (flags, messages, events).
    fn start_new_msg<D: SimDevice, O: HostEvents>(
        &mut self,
        env: &mut SiEnv<'_, D, O>,
        data: &[u8],
    ) {
        let j = self.jiffies(env);
        self.smi_mod_timer(j, j + self.clock.si_timeout_jiffies());
        let now = env.now();
        let id = self.next_internal_id;
        self.next_internal_id = self.next_internal_id.wrapping_add(1);
        self.internal = Some(SiMsg {
            id,
            origin: Origin::Internal,
            data: MsgBytes::from_slice(data),
            submitted: now,
            started: Some(now),
        });
        env.obs.set_now(now);
        self.failed = false;
        // Every kernel ignores start_transaction's result here (F-2); the
        // proposal keeps the refusal as the message's response, which
        // smi_event_handler hands to handle_transaction_done once the
        // caller has set the SI state.
        if let Err(cc) = self.sm_start(env, data) {
            if self.profile.complete_refused_internal {
                self.refused = Some(hosed_response(data, cc));
            }
        }
    }

    fn result_into_rsp(&mut self, sm: &mut HostSm, max: usize) -> MsgBytes {
        let n = self.result_len(sm, max);
        MsgBytes::from_buf_prefix(&self.rsp, n)
    }

    /// `get_result` into the response buffer (up to `max` bytes); its length.
    #[inline]
    fn result_len(&mut self, sm: &mut HostSm, max: usize) -> usize {
        let max = max.min(self.rsp.len());
        sm.get_result(&mut self.rsp[..max]).min(max)
    }

    /// [`deliver`](Self::deliver) `msg` with the state machine's result, copied
    /// from the response buffer straight into the queued record: every
    /// transaction's path, where a response built on the stack and moved
    /// into the queue stalled the CPU (see [`MsgBytes::set_from_buf_prefix`]).
    fn deliver_result(&mut self, sm: &mut HostSm, msg: SiMsg, at: Instant, synthesized: bool) {
        let n = self.result_len(sm, IPMI_MAX_MSG_LENGTH);
        self.delivered.push_back(Delivered::BLANK);
        if let Some(d) = self.delivered.back_mut() {
            d.msg = msg;
            d.response.set_from_buf_prefix(&self.rsp, n);
            d.at = at;
            d.synthesized = synthesized;
        }
    }

    /// `get_result` of `handle_transaction_done`: the state machine's result
    /// (up to `max` bytes), or `forced`, the response made up for a refused
    /// start.
    fn done_result(&mut self, sm: &mut HostSm, max: usize, forced: Option<&[u8]>) -> MsgBytes {
        match forced {
            Some(r) => MsgBytes::from_slice(r.get(..max.min(r.len())).unwrap_or(r)),
            None => self.result_into_rsp(sm, max),
        }
    }

    fn finish_internal(&mut self, rsp: &[u8], at: Instant, synthesized: bool) {
        if let Some(m) = self.internal.take() {
            self.deliver(m, MsgBytes::from_slice(rsp), at, synthesized);
        }
    }

    /// `handle_transaction_done`, with the state machine's result, or with
    /// `forced`, the response of a refused start
    /// ([`SiProfile::complete_refused_internal`]).
    fn handle_transaction_done<D: SimDevice, O: HostEvents>(
        &mut self,
        env: &mut SiEnv<'_, D, O>,
        forced: Option<&[u8]>,
    ) {
        let now = env.now();
        let failed = core::mem::take(&mut self.failed);
        let synthesized = failed || forced.is_some();
        match self.si_state {
            SiState::Normal => {
                if let Some(m) = self.curr.take() {
                    if forced.is_none() {
                        self.deliver_result(env.sm, m, now, synthesized);
                    } else {
                        let rsp = self.done_result(env.sm, IPMI_MAX_MSG_LENGTH, forced);
                        self.deliver(m, rsp, now, synthesized);
                    }
                } else if self.internal.is_some() {
                    let rsp = self.done_result(env.sm, IPMI_MAX_MSG_LENGTH, forced);
                    self.finish_internal(&rsp, now, synthesized);
                }
            }
            SiState::GettingFlags => {
                let rsp = self.done_result(env.sm, 4, forced);
                self.finish_internal(&rsp, now, synthesized);
                match (rsp.get(2), rsp.get(3)) {
                    (Some(0), Some(&flags)) => {
                        self.msg_flags = flags;
                        self.handle_flags(env);
                    }
                    _ => self.si_state = SiState::Normal,
                }
            }
            SiState::ClearingFlags => {
                let rsp = self.done_result(env.sm, 3, forced);
                self.finish_internal(&rsp, now, synthesized);
                if let Some(&cc) = rsp.get(2) {
                    if cc != 0 {
                        env.obs.set_now(now);
                        env.obs.line(
                            Level::Warning,
                            true,
                            &format!("Error clearing flags: {cc:02x}"),
                        );
                    }
                }
                self.si_state = SiState::Normal;
            }
            SiState::GettingEvents | SiState::GettingMessages => {
                let rsp = self.done_result(env.sm, IPMI_MAX_MSG_LENGTH, forced);
                self.finish_internal(&rsp, now, synthesized);
                if rsp.get(2).copied().unwrap_or(0xFF) != 0 {
                    self.msg_flags &= if self.si_state == SiState::GettingEvents {
                        !EVENT_MSG_BUFFER_FULL
                    } else {
                        !RECEIVE_MSG_AVAIL
                    };
                }
                self.handle_flags(env);
            }
            SiState::CheckingEnables => {
                let rsp = self.done_result(env.sm, 4, forced);
                self.finish_internal(&rsp, now, synthesized);
                let (Some(0), Some(&current)) = (rsp.get(2), rsp.get(3)) else {
                    let cc = rsp.get(2).copied().unwrap_or(0xFF);
                    env.obs.set_now(now);
                    env.obs.line(
                        Level::Warning,
                        true,
                        &format!("Couldn't get irq info: {cc:x},"),
                    );
                    env.obs.line(
                        Level::Warning,
                        false,
                        "Maybe ok, but ipmi might run very slowly.",
                    );
                    self.si_state = SiState::Normal;
                    return;
                };
                let (enables, irq_on) = self.current_global_enables();
                // check_bt_irq: BT has its own interrupt enable bit.
                let irqstate = env.bus.read_intmask() & BT_INTMASK_ENABLE != 0;
                if irqstate != irq_on {
                    env.bus
                        .write_intmask(if irq_on { BT_INTMASK_ENABLE } else { 0 });
                }
                if enables != current & GLOBAL_ENABLES_MASK {
                    let v = enables | (current & !GLOBAL_ENABLES_MASK);
                    self.start_internal(env, &[APP, SET_GLOBAL_ENABLES, v]);
                    self.si_state = SiState::SettingEnables;
                } else if self.supports_event_msg_buff {
                    self.start_new_msg(env, &[APP, READ_EVENT_MSG_BUFFER]);
                    self.si_state = SiState::GettingEvents;
                } else {
                    self.si_state = SiState::Normal;
                }
            }
            SiState::SettingEnables => {
                let rsp = self.done_result(env.sm, 4, forced);
                self.finish_internal(&rsp, now, synthesized);
                let cc = rsp.get(2).copied().unwrap_or(0xFF);
                if cc != 0 {
                    env.obs.set_now(now);
                    env.obs.line(
                        Level::Warning,
                        true,
                        &format!("Could not set the global enables: 0x{cc:x}."),
                    );
                }
                if self.supports_event_msg_buff {
                    self.start_new_msg(env, &[APP, READ_EVENT_MSG_BUFFER]);
                    self.si_state = SiState::GettingEvents;
                } else {
                    self.si_state = SiState::Normal;
                }
            }
        }
    }

    /// `current_global_enables` (no broken-IRQ quirks): the enables the driver
    /// wants, and whether interrupts should be on.
    fn current_global_enables(&self) -> (u8, bool) {
        let mut e = 0;
        if self.supports_event_msg_buff {
            e |= EVT_MSG_BUFF;
        }
        if self.irq {
            e |= RCV_MSG_INTR;
            if self.supports_event_msg_buff {
                e |= EVT_MSG_INTR;
            }
        }
        (e, e & (RCV_MSG_INTR | EVT_MSG_INTR) != 0)
    }

    /// `start_clear_flags`: Clear Message Flags (watchdog pre-timeout) at the end
    /// of probe, started before the timer runs.
    pub(crate) fn start_clear_flags<D: SimDevice, O: HostEvents>(
        &mut self,
        env: &mut SiEnv<'_, D, O>,
    ) {
        self.start_new_msg(env, &[APP, CLEAR_MSG_FLAGS, WDT_PRE_TIMEOUT_INT]);
        self.si_state = SiState::ClearingFlags;
        if self.irq {
            // try_smi_init: "req_events will cause a global flags check that
            // will enable interrupts".
            self.req_events = true;
        }
    }

    /// An internal request sent without (re)arming the timer, as the kernel's
    /// direct `start_transaction` calls in `handle_transaction_done` do.
    fn start_internal<D: SimDevice, O: HostEvents>(
        &mut self,
        env: &mut SiEnv<'_, D, O>,
        data: &[u8],
    ) {
        let now = env.now();
        let id = self.next_internal_id;
        self.next_internal_id = self.next_internal_id.wrapping_add(1);
        self.internal = Some(SiMsg {
            id,
            origin: Origin::Internal,
            data: MsgBytes::from_slice(data),
            submitted: now,
            started: Some(now),
        });
        env.obs.set_now(now);
        self.failed = false;
        let _ = self.sm_start(env, data);
    }

    /// `handle_flags`.
    fn handle_flags<D: SimDevice, O: HostEvents>(&mut self, env: &mut SiEnv<'_, D, O>) {
        if self.msg_flags & WDT_PRE_TIMEOUT_INT != 0 {
            self.start_new_msg(env, &[APP, CLEAR_MSG_FLAGS, WDT_PRE_TIMEOUT_INT]);
            self.si_state = SiState::ClearingFlags;
            self.msg_flags &= !WDT_PRE_TIMEOUT_INT;
            env.obs.phase(env.now(), SiPhase::WatchdogPreTimeout);
        } else if self.msg_flags & RECEIVE_MSG_AVAIL != 0 {
            self.start_new_msg(env, &[APP, GET_MSG]);
            self.si_state = SiState::GettingMessages;
        } else if self.msg_flags & EVENT_MSG_BUFFER_FULL != 0 {
            self.start_new_msg(env, &[APP, READ_EVENT_MSG_BUFFER]);
            self.si_state = SiState::GettingEvents;
        } else {
            self.si_state = SiState::Normal;
        }
    }

    /// `smi_event_handler`: run the state machine until it needs a delay,
    /// handling completions, ATTN and the next queued message.
    pub(crate) fn smi_event_handler<D: SimDevice, O: HostEvents>(
        &mut self,
        env: &mut SiEnv<'_, D, O>,
        time_us: i64,
    ) -> SmResult {
        let mut time = time_us;
        loop {
            // The run is ending (a limit, or a livelock recorded): leave the
            // handler as if the state machine asked for a delay.
            if self.livelock.is_some() || self.over_work_limits(env) {
                return SmResult::CallWithDelay;
            }
            if let Some(rsp) = self.refused.take() {
                // An SI-internal start was refused: complete it with the
                // refusal's code so the flag handling moves on.
                self.handle_transaction_done(env, Some(&rsp));
                continue;
            }
            // event(time), then event(0) while it asks for no delay: one
            // call site, so the inlined event() is there once.
            let mut r;
            loop {
                r = self.sm_event_inline(env, time);
                time = 0;
                if r != SmResult::CallWithoutDelay {
                    break;
                }
                if self.spin_must_stop(env, "smi_event_handler") {
                    return SmResult::CallWithDelay;
                }
            }
            match r {
                SmResult::TransactionComplete => {
                    self.handle_transaction_done(env, None);
                    if self.profile.restart_after_complete {
                        continue;
                    }
                    // Before d9dffd2a0bd8: one event(0), its result used as is (B-10).
                    r = self.sm_event(env, 0);
                }
                SmResult::Hosed => {
                    self.si_state = SiState::Normal;
                    let now = env.now();
                    self.return_hosed_msg(CompletionCode::UNSPECIFIED, now);
                    if self.profile.restart_after_complete {
                        continue;
                    }
                    r = self.sm_event(env, 0);
                }
                _ => {}
            }
            if r == SmResult::Attn || self.got_attn {
                if self.si_state != SiState::Normal {
                    self.got_attn = true;
                } else {
                    self.got_attn = false;
                    self.start_new_msg(env, &[APP, GET_MSG_FLAGS]);
                    self.si_state = SiState::GettingFlags;
                    continue;
                }
            }
            if r == SmResult::Idle {
                r = self.start_next_msg(env);
                if r != SmResult::Idle {
                    continue;
                }
            }
            if r == SmResult::Idle && self.req_events {
                // The upper layer asked for events: check the enables first
                // (the BMC may have been reset), which also restores the BT
                // interrupt enable bit (check_bt_irq).
                self.req_events = false;
                if self.supports_event_msg_buff || self.irq {
                    self.start_new_msg(env, &[APP, GET_GLOBAL_ENABLES]);
                    self.si_state = SiState::CheckingEnables;
                } else {
                    self.start_new_msg(env, &[APP, READ_EVENT_MSG_BUFFER]);
                    self.si_state = SiState::GettingEvents;
                }
                continue;
            }
            if r == SmResult::Idle && self.timer_running {
                // timer_delete() in the current source (date of this line UNVERIFIED).
                self.set_timer(None);
                self.timer_running = false;
                self.ff_period = None;
            }
            return r;
        }
    }

    /// `request_events`: the message handler asks for events (a user that
    /// gets events exists; `ipmi_msghandler.c` `ipmi_timeout`, every
    /// second). Ignored without an event buffer (`has_event_buffer`, set with
    /// `supports_event_msg_buff` by `try_enable_event_buffer`). The request is
    /// served by [`smi_event_handler`](Self::smi_event_handler) the next time
    /// the state machine is idle; if the SI timer is stopped (idle, nothing
    /// queued) the handler runs now, where the kernel's watch timer
    /// (`set_need_watch`, kept running while events are wanted) would run it
    /// within one SI tick.
    pub(crate) fn request_events<D: SimDevice, O: HostEvents>(
        &mut self,
        env: &mut SiEnv<'_, D, O>,
    ) {
        if !self.supports_event_msg_buff {
            return;
        }
        self.req_events = true;
        if !self.timer_running {
            self.check_start_timer_thread(env);
        }
    }

    /// `smi_start_processing`: arm the timer and set up the BT interrupt.
    pub(crate) fn start_processing<D: SimDevice, O: HostEvents>(
        &mut self,
        env: &mut SiEnv<'_, D, O>,
    ) {
        self.timer_can_start = true;
        let j = self.jiffies(env);
        self.smi_mod_timer(j, j + self.clock.si_timeout_jiffies());
        if self.irq {
            // std_irq_setup for BT: enable the interrupt in BT_INTMASK.
            env.bus.write_intmask(BT_INTMASK_ENABLE);
            self.irq_prev = env.bus.dev.irq_line();
        }
        env.obs
            .phase(env.now(), SiPhase::Registered { irq: self.irq });
    }

    /// `sender`: the message handler hands over one message. The caller must
    /// check [`can_accept`](Self::can_accept) first (the kernel BUG()s otherwise);
    /// if the slot is taken the message is returned.
    pub(crate) fn sender<D: SimDevice, O: HostEvents>(
        &mut self,
        env: &mut SiEnv<'_, D, O>,
        msg: SiMsg,
    ) -> Result<(), SiMsg> {
        if self.waiting.is_some() {
            return Err(msg);
        }
        self.catch_up(env);
        self.waiting = Some(msg);
        self.check_start_timer_thread(env);
        Ok(())
    }

    /// `check_start_timer_thread`.
    fn check_start_timer_thread<D: SimDevice, O: HostEvents>(&mut self, env: &mut SiEnv<'_, D, O>) {
        if self.si_state == SiState::Normal && self.curr.is_none() {
            let j = self.jiffies(env);
            self.smi_mod_timer(j, j + self.clock.si_timeout_jiffies());
            let _ = self.start_next_msg(env);
            let _ = self.smi_event_handler(env, 0);
        }
    }

    /// Runs the timer expiry due now, if any (`smi_timeout`).
    pub(crate) fn timer_expired<D: SimDevice, O: HostEvents>(&mut self, env: &mut SiEnv<'_, D, O>) {
        let j = self.jiffies(env);
        match self.timer {
            Some(e) if e <= j => {}
            _ => return,
        }
        self.smi_timeout(env, j);
    }

    /// `smi_timeout` at jiffy `now_j`.
    fn smi_timeout<D: SimDevice, O: HostEvents>(&mut self, env: &mut SiEnv<'_, D, O>, now_j: u64) {
        self.stats.timer_fires += 1;
        if let Some(p) = self.ff_period {
            let polls = now_j.saturating_sub(self.last_timeout_jiffies) / p.max(1);
            self.stats.skipped_polls += polls.saturating_sub(1);
        }
        self.set_timer(None);
        self.ff_period = None;
        let upj = u64::from(self.clock.si_usec_per_jiffy());
        let time_diff = now_j
            .saturating_sub(self.last_timeout_jiffies)
            .saturating_mul(upj);
        let (acc0, ev0, st0, del0) = (
            env.bus.accesses(),
            self.stats.sm_events,
            env.sm.state(),
            self.delivered.len(),
        );
        let ctrl0 = env.bus.ctrl_reads;
        let r = self.smi_event_handler(env, i64::try_from(time_diff).unwrap_or(i64::MAX));
        let period = if self.irq || r != SmResult::CallWithDelay {
            self.clock.si_timeout_jiffies()
        } else {
            1
        };
        if r == SmResult::Idle {
            self.timer_running = false;
            self.set_timer(None);
            return;
        }
        // smi_mod_timer(jiffies + period), keeping last_timeout_jiffies = now_j.
        if !self.timer_can_start {
            return;
        }
        self.last_timeout_jiffies = now_j;
        self.timer_running = true;
        let pure = self.fast_forward
            && r == SmResult::CallWithDelay
            && self.stats.sm_events == ev0 + 1
            && env.bus.accesses() == acc0 + 1
            && env.bus.ctrl_reads == ctrl0 + 1
            && env.sm.state() == st0
            && self.delivered.len() == del0
            && self.waiting.is_none();
        let polls = if pure {
            self.identical_polls(env, now_j, period)
        } else {
            1
        };
        if polls > 1 {
            self.ff_period = Some(period);
        }
        self.set_timer(Some(now_j + polls * period));
    }

    /// How many timer periods of `period` jiffies from `now_j` provably repeat
    /// the poll just made (same single CTRL read, no state change): until the
    /// state machine's countdown can cross zero or the device changes.
    fn identical_polls<D: SimDevice, O: HostEvents>(
        &self,
        env: &SiEnv<'_, D, O>,
        now_j: u64,
        period: u64,
    ) -> u64 {
        // 2^32 periods exceed a year of virtual time at any HZ, yet cannot overflow.
        const CAP: u64 = 1 << 32;
        let upj = u64::from(self.clock.si_usec_per_jiffy()).max(1);
        let per_poll_us = period.saturating_mul(upj).max(1);
        let design = env.sm.behaviour().design;
        let by_timeout = if env.sm.state().charges_time(design) {
            let t = u64::try_from(env.sm.timeout_us().max(0)).unwrap_or(0);
            t.div_ceil(per_poll_us).max(1)
        } else {
            CAP
        };
        let by_device = match env.bus.dev.next_deadline() {
            Some(d) => {
                let mut jd = self.clock.at(d);
                if self.clock.time_of(jd) < d {
                    jd += 1;
                }
                jd.saturating_sub(now_j).div_ceil(period).max(1)
            }
            None => CAP,
        };
        by_timeout
            .min(by_device)
            .min(linear_limit(design, per_poll_us))
            .clamp(1, CAP)
    }

    /// Before anything other than the timer acts at time `t`: if the timer was
    /// fast-forwarded past natural expiries earlier than `t`, run the latest of
    /// them now (one aggregated poll, crediting the same time the kernel's
    /// individual polls would have), so that whatever happens at `t` sees the
    /// same state and `last_timeout_jiffies` as in the kernel.
    pub(crate) fn catch_up_before<D: SimDevice, O: HostEvents>(
        &mut self,
        env: &mut SiEnv<'_, D, O>,
        t: Instant,
    ) {
        let (Some(p), Some(exp)) = (self.ff_period, self.timer) else {
            return;
        };
        let jt = self.clock.at(t);
        // Latest natural expiry strictly before t.
        let last = self.last_timeout_jiffies;
        let mut k = jt.saturating_sub(last) / p;
        if last + k * p >= exp {
            return;
        }
        if k > 0 && self.clock.time_of(last + k * p) >= t {
            k -= 1;
        }
        if k == 0 {
            return;
        }
        let j = last + k * p;
        self.smi_timeout(env, j);
    }

    fn catch_up<D: SimDevice, O: HostEvents>(&mut self, env: &mut SiEnv<'_, D, O>) {
        let t = env.now();
        if self.ff_period.is_some() {
            // Expiries at exactly `t` are handled too: the kernel's timer would
            // have fired at or before this instant.
            self.catch_up_before(env, Instant::from_nanos(t.as_nanos().saturating_add(1)));
        }
    }

    /// Whether the timer was fast-forwarded past natural expiries, the only
    /// case in which [`catch_up_before`](Self::catch_up_before) does anything
    /// (the scheduler asks every step).
    #[inline]
    pub(crate) fn fast_forwarded(&self) -> bool {
        self.ff_period.is_some() && self.timer.is_some()
    }

    /// Whether the BT interrupt is in use and set up, the only case in which
    /// [`poll_irq`](Self::poll_irq) does anything (the scheduler asks every
    /// step).
    #[inline]
    pub(crate) fn takes_irqs(&self) -> bool {
        self.irq && self.timer_can_start
    }

    /// Called after the device may have changed: takes the BT interrupt on a
    /// rising edge of the line (`ipmi_si_irq_handler`).
    pub(crate) fn poll_irq<D: SimDevice, O: HostEvents>(&mut self, env: &mut SiEnv<'_, D, O>) {
        if !self.takes_irqs() {
            return;
        }
        let line = env.bus.dev.irq_line();
        let rising = line && !self.irq_prev;
        self.irq_prev = line;
        if !rising {
            return;
        }
        self.catch_up(env);
        self.stats.irqs += 1;
        env.obs.irq(env.now());
        env.bus.write_intmask(BT_INTMASK_ACK_AND_ENABLE);
        let _ = self.smi_event_handler(env, 0);
        self.irq_prev = env.bus.dev.irq_line();
    }

    /// `shutdown_smi` (module unload): free the interrupt (BT: INTMASK = 0),
    /// stop the timer, then `wait_msg_processed` twice (around
    /// `disable_si_irq`, a no-op here). Returns false if the run's stop time
    /// came first (the unload is still waiting).
    pub(crate) fn shutdown<D: SimDevice, O: HostEvents>(
        &mut self,
        env: &mut SiEnv<'_, D, O>,
    ) -> bool {
        self.catch_up(env);
        env.obs.phase(env.now(), SiPhase::Shutdown);
        if self.irq {
            env.bus.write_intmask(0);
        }
        self.irq = false;
        self.timer_can_start = false;
        self.set_timer(None);
        self.timer_running = false;
        self.ff_period = None;
        for _ in 0..2 {
            if !self.wait_msg_processed(env) {
                return false;
            }
        }
        env.obs.phase(env.now(), SiPhase::Unloaded);
        true
    }

    /// `wait_msg_processed`: drive the state machine until no message is in
    /// flight and the SI state is normal, crediting time per [`UnloadWait`].
    fn wait_msg_processed<D: SimDevice, O: HostEvents>(
        &mut self,
        env: &mut SiEnv<'_, D, O>,
    ) -> bool {
        let upj = i64::from(self.clock.si_usec_per_jiffy());
        let mut pure = false;
        while self.curr.is_some() || self.si_state != SiState::Normal {
            if self.must_stop(env) {
                return false;
            }
            match self.profile.unload_wait {
                UnloadWait::Poll10us => {
                    // poll(): udelay(10), smi_event_handler(10); then sleep a jiffy.
                    // Identical iterations are combined like the other loops.
                    let n = if self.fast_forward && pure {
                        self.identical_sync_sleeps(env, 10)
                    } else {
                        1
                    };
                    if n > 1 {
                        self.stats.skipped_polls += n - 1;
                        if !self.sleep_jiffies(env, n - 1) {
                            return false;
                        }
                    }
                    let udelay = Instant::from_nanos(env.now().as_nanos().saturating_add(10_000));
                    if udelay > env.stop {
                        env.bus.advance(env.stop);
                        return false;
                    }
                    env.bus.advance(udelay);
                    let (acc0, ctrl0, st0, ev0) = (
                        env.bus.accesses(),
                        env.bus.ctrl_reads,
                        env.sm.state(),
                        self.stats.sm_events,
                    );
                    let credit = 10i64.saturating_mul(i64::try_from(n).unwrap_or(i64::MAX));
                    let r = self.smi_event_handler(env, credit);
                    pure = r == SmResult::CallWithDelay
                        && self.stats.sm_events == ev0 + 1
                        && env.bus.accesses() == acc0 + 1
                        && env.bus.ctrl_reads == ctrl0 + 1
                        && env.sm.state() == st0;
                    if !self.sleep_jiffies(env, 1) {
                        return false;
                    }
                }
                UnloadWait::ElapsedSinceLastTimer => {
                    let j = self.jiffies(env);
                    let diff = i64::try_from(j.saturating_sub(self.last_timeout_jiffies))
                        .unwrap_or(i64::MAX);
                    let _ = self.smi_event_handler(env, diff.saturating_mul(upj));
                    if !self.sleep_jiffies(env, 1) {
                        return false;
                    }
                }
            }
        }
        true
    }

    /// One-jiffy sleep of the synchronous loops: `schedule_timeout(1)` wakes
    /// at the next tick. Returns false, with the clock at the run's stop time, if the wake-up
    /// would come after it (the run never goes past its stop).
    #[must_use]
    fn sleep_jiffies<D: SimDevice, O: HostEvents>(
        &self,
        env: &mut SiEnv<'_, D, O>,
        n: u64,
    ) -> bool {
        let j = self.jiffies(env);
        let t = self.clock.time_of(j.saturating_add(n.max(1)));
        if t > env.stop {
            env.bus.advance(env.stop);
            return false;
        }
        env.bus.advance(t);
        true
    }

    /// The synchronous loop of `wait_for_msg_done` / `bt_detect`: `event(0)`,
    /// then per CALL_WITH_DELAY sleep a jiffy and credit `credit_us`; stops on
    /// anything but CALL_WITH(OUT)_DELAY. `None` if the run's stop time came first.
    fn sync_wait<D: SimDevice, O: HostEvents>(
        &mut self,
        env: &mut SiEnv<'_, D, O>,
        credit_us: i64,
    ) -> Option<SmResult> {
        let mut r = self.sm_event(env, 0);
        // Whether the last event was a pure wait (one CTRL read, same state).
        let mut pure = false;
        loop {
            match r {
                SmResult::CallWithDelay | SmResult::CallWithTickDelay => {
                    if self.must_stop(env) {
                        return None;
                    }
                    let n =
                        if self.fast_forward && pure && credit_us > 0 && env.sm.polls_skippable() {
                            self.identical_sync_sleeps(env, credit_us)
                        } else {
                            1
                        };
                    if !self.sleep_jiffies(env, n) {
                        return None;
                    }
                    if n > 1 {
                        self.stats.skipped_polls += n - 1;
                    }
                    let credit = credit_us.saturating_mul(i64::try_from(n).unwrap_or(i64::MAX));
                    let (acc0, ctrl0, st0) =
                        (env.bus.accesses(), env.bus.ctrl_reads, env.sm.state());
                    r = self.sm_event(env, credit);
                    pure = env.bus.accesses() == acc0 + 1
                        && env.bus.ctrl_reads == ctrl0 + 1
                        && env.sm.state() == st0;
                }
                SmResult::CallWithoutDelay => {
                    // The kernel calls event(0) again at once, with no limit:
                    // a state machine that livelocks here hangs the probe.
                    if self.spin_must_stop(env, "wait_for_msg_done") {
                        return None;
                    }
                    r = self.sm_event(env, 0);
                    pure = false;
                }
                other => return Some(other),
            }
        }
    }

    /// How many one-jiffy sleeps provably repeat the pure poll just made.
    fn identical_sync_sleeps<D: SimDevice, O: HostEvents>(
        &self,
        env: &SiEnv<'_, D, O>,
        credit_us: i64,
    ) -> u64 {
        const CAP: u64 = 1 << 32;
        let s = env.sm.state();
        let design = env.sm.behaviour().design;
        let by_timeout = if s.charges_time(design) {
            let t = u64::try_from(env.sm.timeout_us().max(0)).unwrap_or(0);
            t.div_ceil(u64::try_from(credit_us).unwrap_or(1).max(1))
                .max(1)
        } else {
            CAP
        };
        let now_j = self.jiffies(env);
        let by_device = match env.bus.dev.next_deadline() {
            Some(d) => {
                let mut jd = self.clock.at(d);
                if self.clock.time_of(jd) < d {
                    jd += 1;
                }
                jd.saturating_sub(now_j).max(1)
            }
            None => CAP,
        };
        let by_stop = self.clock.at(env.stop).saturating_sub(now_j).max(1);
        let per = u64::try_from(credit_us).unwrap_or(1).max(1);
        by_timeout
            .min(by_device)
            .min(by_stop)
            .min(linear_limit(design, per))
            .max(1)
    }

    /// One synchronous probe-time command (`start_transaction` +
    /// `wait_for_msg_done` + `get_result`), reported as an internal message.
    fn sync_command<D: SimDevice, O: HostEvents>(
        &mut self,
        env: &mut SiEnv<'_, D, O>,
        data: &[u8],
        next_id: &mut u32,
    ) -> Option<MsgBytes> {
        let now = env.now();
        let id = *next_id;
        *next_id += 1;
        let msg = SiMsg {
            id,
            origin: Origin::Internal,
            data: MsgBytes::from_slice(data),
            submitted: now,
            started: Some(now),
        };
        env.obs.set_now(now);
        self.failed = false;
        // get_global_enables, set_global_enables, try_enable_event_buffer
        // ignore start_transaction's result (F-1); the proposal completes a
        // refused start with its code at once.
        if let Err(cc) = self.sm_start(env, data) {
            if self.profile.complete_refused_internal {
                let rsp = hosed_response(data, cc);
                self.deliver(msg, rsp.clone(), now, true);
                return Some(rsp);
            }
        }
        let credit = self.init_credit_us();
        let Some(r) = self.sync_wait(env, credit) else {
            self.lost.push(msg);
            return None;
        };
        let synthesized = core::mem::take(&mut self.failed);
        let rsp = if r == SmResult::Hosed {
            MsgBytes::new()
        } else {
            self.result_into_rsp(env.sm, IPMI_MAX_MSG_LENGTH)
        };
        let at = env.now();
        self.deliver(msg, rsp.clone(), at, synthesized);
        Some(rsp)
    }

    /// `check_for_broken_irqs` (probe, interrupts configured): `check_clr_rcv_irq`
    /// then `check_set_rcv_irq`, leaving the BMC's receive-message interrupt
    /// (Global Enables bit 0) on, so SMS_ATN raises the BT interrupt.
    fn check_for_broken_irqs<D: SimDevice, O: HostEvents>(
        &mut self,
        env: &mut SiEnv<'_, D, O>,
        next_id: &mut u32,
    ) {
        let get = |rsp: Option<MsgBytes>| match rsp.as_deref() {
            Some([_, GET_GLOBAL_ENABLES, 0, e, ..]) => Some(*e),
            _ => None,
        };
        let en = self.sync_command(env, &[APP, GET_GLOBAL_ENABLES], next_id);
        if let Some(e) = get(en) {
            if e & RCV_MSG_INTR != 0 {
                let _ =
                    self.sync_command(env, &[APP, SET_GLOBAL_ENABLES, e & !RCV_MSG_INTR], next_id);
            }
        }
        let en = self.sync_command(env, &[APP, GET_GLOBAL_ENABLES], next_id);
        if let Some(e) = get(en) {
            let _ = self.sync_command(env, &[APP, SET_GLOBAL_ENABLES, e | RCV_MSG_INTR], next_id);
        }
    }

    /// `try_enable_event_buffer`: make sure the BMC's event message buffer is on.
    fn try_enable_event_buffer<D: SimDevice, O: HostEvents>(
        &mut self,
        env: &mut SiEnv<'_, D, O>,
        next_id: &mut u32,
    ) {
        let en = self.sync_command(env, &[APP, GET_GLOBAL_ENABLES], next_id);
        let Some(e) = (match en.as_deref() {
            Some([_, GET_GLOBAL_ENABLES, 0, e, ..]) => Some(*e),
            _ => None,
        }) else {
            env.obs.line(Level::Warning, false, "ipmi_si: Invalid return from get global enables command, cannot enable the event buffer");
            return;
        };
        if e & EVT_MSG_BUFF != 0 {
            self.supports_event_msg_buff = true;
            return;
        }
        let set = self.sync_command(env, &[APP, SET_GLOBAL_ENABLES, e | EVT_MSG_BUFF], next_id);
        self.supports_event_msg_buff =
            matches!(set.as_deref(), Some([_, SET_GLOBAL_ENABLES, 0, ..]));
    }

    /// The kernel's credit per one-jiffy sleep in `wait_for_msg_done`.
    fn init_credit_us(&self) -> i64 {
        match self.profile.init_wait_credit {
            InitWaitCredit::Fixed100us => 100,
            InitWaitCredit::JiffiesToUsecs => i64::from(self.clock.jiffies_to_usecs_1()),
        }
    }

    /// `try_smi_init` up to registration: `bt_detect` (with the detect-time
    /// capabilities loop of 2018+ designs, crediting `jiffies_to_usecs(1)`),
    /// then, if `get_device_id`, `try_get_dev_id` through `wait_for_msg_done`
    /// with this profile's crediting and retries. Probe messages are reported
    /// through [`pop_delivered`](Self::pop_delivered) with [`Origin::Probe`].
    pub(crate) fn probe<D: SimDevice, O: HostEvents>(
        &mut self,
        env: &mut SiEnv<'_, D, O>,
        get_device_id: bool,
        next_id: &mut u32,
    ) -> ProbeOutcome {
        env.obs.phase(env.now(), SiPhase::Detect);
        env.obs.set_now(env.now());
        if self.sm_detect(env).is_err() {
            env.obs
                .line(Level::Warning, true, "Interface detection failed");
            return ProbeOutcome::NotPresent;
        }
        if env.sm.detect_in_progress() {
            let credit = i64::from(self.clock.jiffies_to_usecs_1());
            if self.sync_wait(env, credit).is_none() {
                return ProbeOutcome::StillWaiting;
            }
            env.obs.set_now(env.now());
            self.sm_finish_detect(env);
        }
        if !get_device_id {
            return ProbeOutcome::Registered;
        }
        env.obs.phase(env.now(), SiPhase::GetDeviceId);
        let credit = self.init_credit_us();
        let mut attempt: u8 = 0;
        loop {
            let now = env.now();
            let id = *next_id;
            *next_id += 1;
            let data = [APP, GET_DEVICE_ID];
            let msg = SiMsg {
                id,
                origin: Origin::Probe { attempt },
                data: MsgBytes::from(data),
                submitted: now,
                started: Some(now),
            };
            env.obs.set_now(now);
            self.failed = false;
            // try_get_dev_id ignores start_transaction's result (F-1: a
            // refusal in LONG_BUSY leaves wait_for_msg_done waiting until
            // the BMC drops B_BUSY); the proposal completes it with its code.
            let started = self.sm_start(env, &data);
            let refused = match started {
                Err(cc) if self.profile.complete_refused_internal => {
                    Some(hosed_response(&data, cc))
                }
                _ => None,
            };
            let r = match refused {
                Some(_) => Some(SmResult::TransactionComplete),
                None => self.sync_wait(env, credit),
            };
            let Some(r) = r else {
                self.lost.push(msg);
                return ProbeOutcome::StillWaiting;
            };
            let now = env.now();
            let synthesized = core::mem::take(&mut self.failed) || started.is_err();
            let rsp = match refused {
                Some(rsp) => rsp,
                None if r == SmResult::Hosed => MsgBytes::new(),
                None => self.result_into_rsp(env.sm, IPMI_MAX_MSG_LENGTH),
            };
            self.deliver(msg, rsp.clone(), now, synthesized);
            if r == SmResult::Hosed {
                env.obs.line(
                    Level::Err,
                    true,
                    "There appears to be no BMC at this location",
                );
                return ProbeOutcome::NoBmc;
            }
            // ipmi_demangle_device_id: NetFn App response, cmd Get Device ID,
            // cc 0 and at least the 11 mandatory bytes (length rule UNVERIFIED).
            let ok = matches!(rsp.as_slice(), [nf, GET_DEVICE_ID, 0, data @ ..] if nf >> 2 == 0x07 && data.len() >= 10);
            if ok {
                if self.irq {
                    self.check_for_broken_irqs(env, next_id);
                }
                self.try_enable_event_buffer(env, next_id);
                env.obs.phase(env.now(), SiPhase::ProbeDone);
                return ProbeOutcome::Registered;
            }
            let cc = rsp.get(2).copied().unwrap_or(0xFF);
            if cc != 0 && attempt < self.profile.get_device_id_retries {
                attempt += 1;
                env.obs.set_now(now);
                env.obs.line(
                    Level::Warning,
                    true,
                    &format!("BMC returned 0x{cc:02x}, retry get bmc device id"),
                );
                continue;
            }
            env.obs.set_now(now);
            env.obs.line(
                Level::Err,
                true,
                "There appears to be no BMC at this location",
            );
            return ProbeOutcome::NoBmc;
        }
    }
}

#[cfg(test)]
mod tests;
