//! The BMC-side watchdog timer model (IPMI v2.0 §27), sans-IO.
//!
//! A plain struct fed with commands and a caller-supplied clock
//! ([`Instant`]); it never reads a clock, sleeps or allocates. An
//! event-driven caller asks [`Watchdog::next_deadline`] when to call
//! [`Watchdog::advance`] next; every pre-timeout and expiry is reported
//! exactly once, in time order, stamped with the instant it was due.

use core::time::Duration;

use ipmi_vocab::CompletionCode;

use crate::codec::{
    check_empty_request, Data, GetWatchdogResponse, SetWatchdog, CC_WATCHDOG_NOT_INITIALIZED,
    CMD_GET_WATCHDOG, CMD_RESET_WATCHDOG, CMD_SET_WATCHDOG,
};
use crate::profile::CompatProfile;
use crate::sel::{SelEvent, WatchdogOffset};
use crate::time::Instant;
use crate::types::{
    Countdown, ExpirationFlags, MessageFlags, PreTimeoutInterrupt, TimerAction, TimerUse,
};

/// Completion code of a Reset Watchdog Timer that arrives after the
/// pre-timeout interrupt fired, in the [`CompatProfile::Spec`] profile: the
/// spec says the Reset must not restart the timer but names no code; we
/// answer 0xD5 "Command not supported in present state" so a petting daemon
/// sees the failure instead of silently losing its host (UNVERIFIED choice,
/// see spec-notes/watchdog.md).
pub const CC_RESET_AFTER_PRETIMEOUT: CompletionCode = CompletionCode::NOT_IN_PRESENT_STATE;

/// Something the watchdog did at a given instant, for the BMC to act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WatchdogEvent {
    /// The pre-timeout interrupt fired. The BMC must deliver it: for
    /// [`PreTimeoutInterrupt::Messaging`] raise SMS_ATN (the message flag
    /// [`MessageFlags::WATCHDOG_PRETIMEOUT`] is already set in the model),
    /// for NMI pulse NMI, for SMI raise SMI.
    PreTimeout {
        /// When it was due.
        at: Instant,
        /// Which interrupt to deliver.
        interrupt: PreTimeoutInterrupt,
        /// The timer use at that moment.
        timer_use: TimerUse,
        /// The SEL event to log (offset 0x08), or `None` if not logged.
        sel: Option<SelEvent>,
    },
    /// The timer expired and stopped. The BMC must perform `action` on the host.
    Expired {
        /// When it was due.
        at: Instant,
        /// The timeout action to perform.
        action: TimerAction,
        /// The timer use whose expiration flag was set.
        timer_use: TimerUse,
        /// The SEL event to log (offset 0x00–0x03), or `None` if not logged
        /// (don't-log set, or a profile that suppresses it).
        sel: Option<SelEvent>,
    },
}

impl WatchdogEvent {
    /// When the event was due.
    pub const fn at(&self) -> Instant {
        match self {
            Self::PreTimeout { at, .. } | Self::Expired { at, .. } => *at,
        }
    }

    /// The SEL event, if one is to be logged.
    pub const fn sel(&self) -> Option<SelEvent> {
        match self {
            Self::PreTimeout { sel, .. } | Self::Expired { sel, .. } => *sel,
        }
    }
}

impl core::fmt::Display for WatchdogEvent {
    /// `7.000000000s watchdog pre-timeout: NMI / Diagnostic Interrupt (SMS/OS)`
    /// or `10.000000000s watchdog expired: Hard Reset (SMS/OS), SEL offset 01h`.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::PreTimeout {
                at,
                interrupt,
                timer_use,
                sel,
            } => {
                write!(f, "{at:.9} watchdog pre-timeout: {interrupt} ({timer_use})")?;
                write_sel(f, sel)
            }
            Self::Expired {
                at,
                action,
                timer_use,
                sel,
            } => {
                write!(f, "{at:.9} watchdog expired: {action} ({timer_use})")?;
                write_sel(f, sel)
            }
        }
    }
}

fn write_sel(f: &mut core::fmt::Formatter<'_>, sel: &Option<SelEvent>) -> core::fmt::Result {
    match sel {
        Some(s) => write!(
            f,
            ", SEL offset {:02X}h \"{}\" data {:02X} {:02X} {:02X}",
            s.offset.bits(),
            s.offset.description(),
            s.event_data[0],
            s.event_data[1],
            s.event_data[2]
        ),
        None => f.write_str(", not logged"),
    }
}

/// The events fired by one call, in time order. At most two (a pre-timeout
/// and the expiry that follows it): the timer stops at expiry, so nothing
/// more can happen until the next command. Inline storage, no allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Events {
    buf: [Option<WatchdogEvent>; 2],
    pos: u8,
}

impl Events {
    /// No events.
    pub const NONE: Self = Self {
        buf: [None, None],
        pos: 0,
    };

    fn push(&mut self, ev: WatchdogEvent) {
        if let Some(slot) = self.buf.iter_mut().find(|s| s.is_none()) {
            *slot = Some(ev);
        }
    }

    /// True if there are no (remaining) events.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of remaining events.
    pub fn len(&self) -> usize {
        self.buf
            .iter()
            .skip(usize::from(self.pos))
            .flatten()
            .count()
    }
}

impl Iterator for Events {
    type Item = WatchdogEvent;

    fn next(&mut self) -> Option<WatchdogEvent> {
        let ev = self.buf.get(usize::from(self.pos)).copied().flatten()?;
        self.pos += 1;
        Some(ev)
    }
}

/// The answer to one command: completion code, response data (after the
/// completion code) and any timer events that fell due before the command
/// was executed (so a caller that did not call [`Watchdog::advance`] first
/// still sees them, in order, exactly once).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Response {
    /// Completion code.
    pub cc: CompletionCode,
    /// Response data bytes after the completion code (empty unless `cc` is OK).
    pub data: Data,
    /// Events that fired before the command took effect.
    pub events: Events,
}

impl Response {
    /// The response bytes as sent on the wire after NetFn/Cmd: the completion
    /// code followed by the data (at most 9 bytes; inline, no allocation).
    pub fn bytes(&self) -> ([u8; 9], usize) {
        let mut out = [0u8; 9];
        out[0] = self.cc.0;
        let d = self.data.as_slice();
        for (o, b) in out.iter_mut().skip(1).zip(d) {
            *o = *b;
        }
        (out, 1 + d.len().min(8))
    }
}

/// The configuration last written by Set Watchdog Timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Config {
    timer_use: TimerUse,
    dont_log: bool,
    dont_stop: bool,
    action: TimerAction,
    irq: PreTimeoutInterrupt,
    pretimeout_secs: u8,
    initial: Countdown,
}

impl Config {
    /// Power-on contents (all zero; `timer_use` is not reported while
    /// uninitialised).
    const POWER_ON: Self = Self {
        timer_use: TimerUse::SmsOs,
        dont_log: false,
        dont_stop: false,
        action: TimerAction::None,
        irq: PreTimeoutInterrupt::None,
        pretimeout_secs: 0,
        initial: Countdown::ZERO,
    };
}

impl Config {
    fn from_set(req: &SetWatchdog) -> Self {
        Self {
            timer_use: req.timer_use,
            dont_log: req.dont_log,
            dont_stop: req.dont_stop,
            action: req.action,
            irq: req.pretimeout_irq,
            pretimeout_secs: req.pretimeout_secs,
            initial: req.initial_countdown,
        }
    }

    fn to_set(self) -> SetWatchdog {
        SetWatchdog {
            timer_use: self.timer_use,
            dont_log: self.dont_log,
            dont_stop: self.dont_stop,
            action: self.action,
            pretimeout_irq: self.irq,
            pretimeout_secs: self.pretimeout_secs,
            clear_flags: ExpirationFlags::empty(),
            initial_countdown: self.initial,
        }
    }
}

/// Whether the timer runs, and the instants it is counting towards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimerPhase {
    /// Stopped; `present` is what a spec BMC reports as the present countdown
    /// (the initial countdown after a Set, 0 after an expiry).
    Stopped {
        /// Present countdown while stopped.
        present: Countdown,
    },
    /// Counting down.
    Running {
        /// Instant of the expiry.
        expire_at: Instant,
        /// Instant of the pending pre-timeout; `None` if none is armed or it
        /// already fired.
        pre_at: Option<Instant>,
        /// The pre-timeout interrupt of this arming has fired.
        pre_fired: bool,
    },
}

type Phase = TimerPhase;

/// A snapshot of everything a [`Watchdog`] holds, with public fields, to save
/// and restore a simulation (the `State` of rust-vmm/vm-superio devices).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WatchdogState {
    /// The compatibility profile.
    pub profile: CompatProfile,
    /// A Set has been accepted since power-on / BMC reset.
    pub initialized: bool,
    /// The configuration of the last accepted Set (`clear_flags` is always
    /// empty; meaningless while not `initialized`).
    pub config: SetWatchdog,
    /// Running or stopped.
    pub phase: TimerPhase,
    /// Timer Use Expiration flags.
    pub expiration_flags: ExpirationFlags,
    /// Message flag bit 3 (watchdog pre-timeout).
    pub pretimeout_flag: bool,
    /// QEMU profile: bit `n` set once Watchdog 2 offset `n` has been asserted
    /// (and therefore will not be logged again).
    pub qemu_asserted_offsets: u16,
    /// phosphor profile: an expiry not yet latched into the flags by a Get.
    pub phosphor_expired_use: Option<TimerUse>,
    /// Profiles with [`CompatProfile::rearm_keeps_queued_timer`] (lanserv):
    /// when the firmware's one timer is queued to run, if it is.
    pub queued_timer: Option<Instant>,
}

/// The BMC watchdog timer: state, command handling and time-driven events.
///
/// ```
/// use core::time::Duration;
/// use ipmi_watchdog::{
///     CompatProfile, Countdown, Instant, SetWatchdog, TimerAction, TimerUse, Watchdog,
///     WatchdogEvent,
/// };
///
/// let mut wd = Watchdog::new(CompatProfile::Spec);
/// let t0 = Instant::ZERO;
/// // Arm: SMS/OS use, hard reset after 10 s (the Set alone leaves it stopped).
/// let set = SetWatchdog::new(TimerUse::SmsOs, TimerAction::HardReset, Countdown::from_ticks(100));
/// wd.set(t0, &set).unwrap();
/// wd.reset(t0).unwrap(); // start it
/// // Pet it after 9 s: it restarts from 10 s.
/// let t1 = t0 + Duration::from_secs(9);
/// assert!(wd.advance(t1).is_empty());
/// wd.reset(t1).unwrap();
/// assert_eq!(wd.next_deadline(), Some(t1 + Duration::from_secs(10)));
/// // Nobody pets it any more: it expires exactly 10 s after the last Reset.
/// let mut events = wd.advance(t1 + Duration::from_secs(60));
/// match events.next() {
///     Some(WatchdogEvent::Expired { at, action, timer_use, sel }) => {
///         assert_eq!(at, t1 + Duration::from_secs(10));
///         assert_eq!(action, TimerAction::HardReset);
///         assert_eq!(timer_use, TimerUse::SmsOs);
///         assert_eq!(sel.unwrap().event_data, [0xC1, 0x04, 0xFF]);
///     }
///     other => panic!("expected an expiry, got {other:?}"),
/// }
/// assert!(events.next().is_none());
/// let get = wd.get(t1 + Duration::from_secs(60));
/// assert!(!get.running);
/// assert!(get.expiration_flags.contains(ipmi_watchdog::ExpirationFlags::SMS_OS));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watchdog {
    profile: CompatProfile,
    /// A Set has been accepted since power-on / BMC reset (Reset answers
    /// 0x80 otherwise, IPMI v2.0 §27.5; Get reports timer use 0 and zeroed
    /// fields, as QEMU, lanserv and phosphor do).
    initialized: bool,
    /// The last accepted Set ([`Config::POWER_ON`] before the first one).
    cfg: Config,
    phase: Phase,
    expiration_flags: ExpirationFlags,
    /// Message flag bit 3 (IPMI v2.0 §22.4).
    pretimeout_flag: bool,
    /// QEMU: Watchdog 2 offsets already asserted; QEMU's
    /// `sensor_set_discrete_bit` logs an offset only on its first assertion.
    qemu_asserted: u16,
    /// phosphor: `ExpiredTimerUse` on D-Bus, latched into the flags only by
    /// a later Get (`ipmiGetWatchdogTimer`), reset by Set.
    phosphor_expired_use: Option<TimerUse>,
    /// lanserv ([`CompatProfile::rearm_keeps_queued_timer`]): the firmware's
    /// one timer, when queued; events happen when it runs.
    queued: Option<Instant>,
}

impl Default for Watchdog {
    fn default() -> Self {
        Self::new(CompatProfile::Spec)
    }
}

fn ticks_floor(d: Duration) -> Countdown {
    let t = d.as_nanos() / 100_000_000;
    Countdown::from_ticks(u16::try_from(t).unwrap_or(u16::MAX))
}

fn ticks_ceil(d: Duration) -> Countdown {
    let t = d.as_nanos().div_ceil(100_000_000);
    Countdown::from_ticks(u16::try_from(t).unwrap_or(u16::MAX))
}

fn ticks_nearest(d: Duration) -> Countdown {
    // QEMU get_watchdog_timer: (expiry - now + 50 ms) / 100 ms.
    let t = (d.as_nanos() + 50_000_000) / 100_000_000;
    Countdown::from_ticks(u16::try_from(t).unwrap_or(u16::MAX))
}

impl Watchdog {
    /// A watchdog in its power-on state: never set, stopped, no flags.
    pub const fn new(profile: CompatProfile) -> Self {
        Self {
            profile,
            initialized: false,
            cfg: Config::POWER_ON,
            phase: Phase::Stopped {
                present: Countdown::ZERO,
            },
            expiration_flags: ExpirationFlags::empty(),
            pretimeout_flag: false,
            qemu_asserted: 0,
            phosphor_expired_use: None,
            queued: None,
        }
    }

    /// A snapshot of the complete state.
    pub fn state(&self) -> WatchdogState {
        WatchdogState {
            profile: self.profile,
            initialized: self.initialized,
            config: self.cfg.to_set(),
            phase: self.phase,
            expiration_flags: self.expiration_flags,
            pretimeout_flag: self.pretimeout_flag,
            qemu_asserted_offsets: self.qemu_asserted,
            phosphor_expired_use: self.phosphor_expired_use,
            queued_timer: self.queued,
        }
    }

    /// Restores a snapshot taken with [`state`](Self::state). A hand-made
    /// state whose pre-timeout lies after its expiry is clamped to the
    /// expiry, so events still come in time order.
    pub fn from_state(state: &WatchdogState) -> Self {
        let phase = match state.phase {
            TimerPhase::Running {
                expire_at,
                pre_at,
                pre_fired,
            } => TimerPhase::Running {
                expire_at,
                pre_at: pre_at.map(|p| p.min(expire_at)),
                pre_fired,
            },
            stopped => stopped,
        };
        Self {
            profile: state.profile,
            initialized: state.initialized,
            cfg: Config::from_set(&state.config),
            phase,
            expiration_flags: state.expiration_flags,
            pretimeout_flag: state.pretimeout_flag,
            qemu_asserted: state.qemu_asserted_offsets,
            phosphor_expired_use: state.phosphor_expired_use,
            queued: state
                .queued_timer
                .filter(|_| state.profile.rearm_keeps_queued_timer()),
        }
    }

    /// Whether the timer runs, and towards which instants.
    pub const fn phase(&self) -> TimerPhase {
        self.phase
    }

    /// The compatibility profile.
    pub const fn profile(&self) -> CompatProfile {
        self.profile
    }

    /// True if a Set has been accepted since power-on / BMC reset.
    pub const fn is_initialized(&self) -> bool {
        self.initialized
    }

    /// True if the timer is counting down (the real state, whatever the
    /// profile reports in Get byte 2 bit 6).
    pub const fn is_running(&self) -> bool {
        matches!(self.phase, Phase::Running { .. })
    }

    /// The expiration flags as the model holds them (for phosphor, not yet
    /// including an expiry that no Get has latched).
    pub const fn expiration_flags(&self) -> ExpirationFlags {
        self.expiration_flags
    }

    /// When [`advance`](Self::advance) must next be called: the pending
    /// pre-timeout or the expiry, whichever comes first; `None` when stopped.
    pub fn next_deadline(&self) -> Option<Instant> {
        if self.profile.rearm_keeps_queued_timer() {
            return self.queued;
        }
        match self.phase {
            Phase::Running {
                pre_at: Some(p), ..
            } => Some(p),
            Phase::Running { expire_at, .. } => Some(expire_at),
            Phase::Stopped { .. } => None,
        }
    }

    /// Fires every event due at or before `now`, in time order, each exactly
    /// once. Call it at [`next_deadline`](Self::next_deadline) (or any later
    /// time; the events carry the instant they were due).
    pub fn advance(&mut self, now: Instant) -> Events {
        let mut out = Events::NONE;
        if self.profile.rearm_keeps_queued_timer() {
            while let Some(t) = self.queued.filter(|&t| t <= now) {
                self.queued = None;
                if let Some(ev) = self.run_queued_timer(t) {
                    out.push(ev);
                }
            }
            return out;
        }
        loop {
            match self.phase {
                Phase::Running {
                    pre_at: Some(p),
                    expire_at,
                    ..
                } if p <= now => {
                    let ev = self.fire_pretimeout(p, expire_at);
                    out.push(ev);
                }
                Phase::Running {
                    pre_at: None,
                    expire_at,
                    ..
                } if expire_at <= now => {
                    let ev = self.fire_expiry(expire_at);
                    out.push(ev);
                }
                _ => return out,
            }
        }
    }

    /// lanserv `watchdog_timeout`, run by the queued timer at `at`: nothing
    /// if the timer was stopped meanwhile; the pre-action if one is pending
    /// (then the rest is queued, under a second at once with
    /// [`CompatProfile::sub_second_rest_expires_at_once`]); else the expiry.
    fn run_queued_timer(&mut self, at: Instant) -> Option<WatchdogEvent> {
        match self.phase {
            Phase::Stopped { .. } => None,
            Phase::Running {
                pre_at: Some(_),
                expire_at,
                ..
            } => {
                let ev = self.fire_pretimeout(at, expire_at);
                let rest = expire_at.saturating_duration_since(at);
                // A timer never runs early: a nominal rest of exactly 1 s is
                // under 1 s by the time `watchdog_timeout` reads the clock.
                let rest = if self.profile.sub_second_rest_expires_at_once()
                    && rest <= Duration::from_secs(1)
                {
                    Duration::ZERO
                } else {
                    rest
                };
                self.phase = Phase::Running {
                    expire_at: at + rest,
                    pre_at: None,
                    pre_fired: true,
                };
                self.queued = Some(at + rest);
                Some(ev)
            }
            Phase::Running { pre_at: None, .. } => Some(self.fire_expiry(at)),
        }
    }

    fn fire_pretimeout(&mut self, at: Instant, expire_at: Instant) -> WatchdogEvent {
        let cfg = self.cfg;
        // QEMU (`ipmi_sim_handle_timeout`): after the pre-action the rest of
        // the timeout is `pretimeout` seconds from now; the arming already
        // placed `expire_at` there. Spec and lanserv keep the original expiry.
        self.phase = Phase::Running {
            expire_at,
            pre_at: None,
            pre_fired: true,
        };
        self.pretimeout_flag = true;
        let offset = WatchdogOffset::TimerInterrupt;
        let irq = cfg.irq.bits();
        let (ed2, log) = match self.profile {
            // Table 42-3: ED2 = interrupt type | timer use.
            CompatProfile::Spec => ((irq << 4) | cfg.timer_use.bits(), !cfg.dont_log),
            // QEMU/lanserv: ED2 = (irq << 4) | 0xF (timer use "unspecified").
            CompatProfile::Qemu => ((irq << 4) | 0x0F, !cfg.dont_log && self.qemu_assert(offset)),
            CompatProfile::OpenIpmiLanserv => ((irq << 4) | 0x0F, true),
            // phosphor has no pre-timeout support; never armed there.
            CompatProfile::PhosphorWatchdog => ((irq << 4) | cfg.timer_use.bits(), false),
        };
        let sel = log.then_some(SelEvent {
            offset,
            event_data: [0xC0 | offset.bits(), ed2, 0xFF],
        });
        WatchdogEvent::PreTimeout {
            at,
            interrupt: cfg.irq,
            timer_use: cfg.timer_use,
            sel,
        }
    }

    /// QEMU's sticky sensor assertion: true the first time `offset` asserts.
    fn qemu_assert(&mut self, offset: WatchdogOffset) -> bool {
        let bit = 1u16 << offset.bits();
        let first = self.qemu_asserted & bit == 0;
        self.qemu_asserted |= bit;
        first
    }

    fn fire_expiry(&mut self, at: Instant) -> WatchdogEvent {
        self.phase = Phase::Stopped {
            present: Countdown::ZERO,
        };
        let mut cfg = self.cfg;
        let offset = WatchdogOffset::for_action(cfg.action);
        let use_bits = cfg.timer_use.bits();
        let irq = cfg.irq.bits();
        let sel = match self.profile {
            CompatProfile::Spec => {
                self.expiration_flags |= cfg.timer_use.expiration_flag();
                let log = !cfg.dont_log;
                // §27.7: don't-log is cleared after every timer timeout.
                cfg.dont_log = false;
                log.then_some(SelEvent {
                    offset,
                    event_data: [0xC0 | offset.bits(), (irq << 4) | use_bits, 0xFF],
                })
            }
            CompatProfile::Qemu => {
                self.expiration_flags |= cfg.timer_use.expiration_flag();
                // QEMU logs power cycle under offset 2 (bug), with ED1 0xC3.
                let logged = if offset == WatchdogOffset::PowerCycle {
                    WatchdogOffset::PowerDown
                } else {
                    offset
                };
                let log = !cfg.dont_log && self.qemu_assert(logged);
                log.then_some(SelEvent {
                    offset: logged,
                    event_data: [0xC0 | offset.bits(), use_bits, 0xFF],
                })
            }
            CompatProfile::OpenIpmiLanserv => {
                self.expiration_flags |= cfg.timer_use.expiration_flag();
                // lanserv `watchdog_timeout` always logs (ignores don't-log).
                Some(SelEvent {
                    offset,
                    event_data: [0xC0 | offset.bits(), use_bits, 0xFF],
                })
            }
            CompatProfile::PhosphorWatchdog => {
                self.phosphor_expired_use = Some(cfg.timer_use);
                // phosphor-sel-logger: ED1 = offset without the 0xC0 flags.
                (!cfg.dont_log).then_some(SelEvent {
                    offset,
                    event_data: [offset.bits(), (irq << 4) | use_bits, 0xFF],
                })
            }
        };
        self.cfg = cfg;
        WatchdogEvent::Expired {
            at,
            action: cfg.action,
            timer_use: cfg.timer_use,
            sel,
        }
    }

    /// Starts (or restarts) the countdown from the initial value at `now`,
    /// placing the pre-timeout as the profile does.
    fn arm(&mut self, now: Instant, cfg: Config) {
        let countdown = cfg.initial.as_duration();
        let pre = Duration::from_secs(u64::from(cfg.pretimeout_secs));
        let irq_armed =
            cfg.irq != PreTimeoutInterrupt::None && self.profile != CompatProfile::PhosphorWatchdog;
        let nominal = now + countdown;
        // Pre-timeout `pre` before expiry, but never before the arming
        // (spec: unspecified; QEMU/lanserv: fires immediately).
        let pre_at = if nominal.saturating_duration_since(now) > pre {
            nominal.saturating_sub(pre)
        } else {
            now
        };
        let (expire_at, pre_at) = match (self.profile, irq_armed) {
            (_, false) => (nominal, None),
            // QEMU `do_watchdog_reset` + `ipmi_sim_handle_timeout`: expiry is
            // `pretimeout` s after the pre-action actually ran.
            (CompatProfile::Qemu, true) => (pre_at + pre, Some(pre_at)),
            (_, true) => (nominal, Some(pre_at)),
        };
        self.phase = Phase::Running {
            expire_at,
            pre_at,
            pre_fired: false,
        };
        if self.profile.rearm_keeps_queued_timer() && self.queued.is_none() {
            // start_timer on an idle timer; a queued one stays (EBUSY).
            self.queued = Some(pre_at.unwrap_or(expire_at));
        }
    }

    /// Set Watchdog Timer (IPMI v2.0 §27.6) with an already-decoded request.
    /// Applies the profile's capability checks (0xCC), stores the
    /// configuration, clears the requested expiration flags, and stops the
    /// timer unless don't-stop is set and it is running (then it reloads).
    ///
    /// Call [`advance`](Self::advance) up to `now` first.
    pub fn set(&mut self, now: Instant, req: &SetWatchdog) -> Result<(), CompletionCode> {
        let invalid = Err(CompletionCode::INVALID_DATA_FIELD);
        match self.profile {
            CompatProfile::Spec => {}
            // QEMU `set_watchdog_timer`: `do_hw_op(IPMI_POWERCYCLE_CHASSIS, 1)`
            // fails on QEMU's interfaces; pre-timeout SMI is not supported.
            CompatProfile::Qemu => {
                if req.action == TimerAction::PowerCycle
                    || req.pretimeout_irq == PreTimeoutInterrupt::Smi
                {
                    return invalid;
                }
            }
            // lanserv `handle_set_watchdog_timer`: SMI unsupported, and the
            // NMI case falls through into the SMI rejection (missing `break`).
            CompatProfile::OpenIpmiLanserv => {
                if matches!(
                    req.pretimeout_irq,
                    PreTimeoutInterrupt::Smi | PreTimeoutInterrupt::Nmi
                ) {
                    return invalid;
                }
            }
            // phosphor `ipmiSetWatchdogTimer`: pretimeout > countdown/10 → 0xCC.
            CompatProfile::PhosphorWatchdog => {
                if u16::from(req.pretimeout_secs) > req.initial_countdown.whole_seconds() {
                    return invalid;
                }
            }
        }
        let cfg = Config::from_set(req);
        self.cfg = cfg;
        self.initialized = true;
        self.expiration_flags &= !req.clear_flags;
        match self.profile {
            // §27.6: Set clears the pre-timeout interrupt flag.
            CompatProfile::Spec => self.pretimeout_flag = false,
            // QEMU and lanserv leave msg_flags alone.
            CompatProfile::Qemu | CompatProfile::OpenIpmiLanserv => {}
            // `setExpiredTimerUse(Reserved)`: an expiry no Get latched is lost.
            CompatProfile::PhosphorWatchdog => self.phosphor_expired_use = None,
        }
        let running = self.is_running();
        if running && req.dont_stop {
            match self.profile {
                // QEMU/lanserv reload through do_watchdog_reset, which stops
                // the timer instead when the action is "none".
                CompatProfile::Qemu | CompatProfile::OpenIpmiLanserv
                    if cfg.action == TimerAction::None =>
                {
                    self.phase = Phase::Stopped {
                        present: Countdown::ZERO,
                    };
                }
                _ => self.arm(now, cfg),
            }
        } else {
            self.phase = Phase::Stopped {
                present: cfg.initial,
            };
        }
        Ok(())
    }

    /// Reset Watchdog Timer (IPMI v2.0 §27.5): 0x80 before the first Set;
    /// otherwise (re)starts the countdown from the initial value. Spec: after
    /// the pre-timeout fired, refuses with [`CC_RESET_AFTER_PRETIMEOUT`] and
    /// leaves the timer running. QEMU/lanserv: with action "none" a Reset
    /// stops the timer; after a pre-timeout it restarts fully.
    ///
    /// Call [`advance`](Self::advance) up to `now` first.
    pub fn reset(&mut self, now: Instant) -> Result<(), CompletionCode> {
        if !self.initialized {
            return Err(CC_WATCHDOG_NOT_INITIALIZED);
        }
        let cfg = self.cfg;
        match self.profile {
            CompatProfile::Spec => {
                if let Phase::Running {
                    pre_fired: true, ..
                } = self.phase
                {
                    return Err(CC_RESET_AFTER_PRETIMEOUT);
                }
                self.arm(now, cfg);
            }
            CompatProfile::Qemu | CompatProfile::OpenIpmiLanserv => {
                if cfg.action == TimerAction::None {
                    self.phase = Phase::Stopped {
                        present: Countdown::ZERO,
                    };
                } else {
                    self.arm(now, cfg);
                }
            }
            CompatProfile::PhosphorWatchdog => self.arm(now, cfg),
        }
        Ok(())
    }

    /// Get Watchdog Timer (IPMI v2.0 §27.7) as the profile reports it.
    /// Takes `&mut self` because phosphor's Get has side effects (it latches
    /// the expiration flag and clears don't-log after an expiry); use
    /// [`peek`](Self::peek) for a side-effect-free view.
    ///
    /// Call [`advance`](Self::advance) up to `now` first.
    pub fn get(&mut self, now: Instant) -> GetWatchdogResponse {
        if self.profile == CompatProfile::PhosphorWatchdog {
            if let Some(u) = self.phosphor_expired_use {
                self.expiration_flags |= u.expiration_flag();
                if !self.is_running() {
                    self.cfg.dont_log = false;
                }
            }
        }
        self.peek(now)
    }

    /// What Get Watchdog Timer would answer at `now`, without side effects
    /// (phosphor's latching is shown as if the Get happened).
    pub fn peek(&self, now: Instant) -> GetWatchdogResponse {
        let cfg = self.cfg;
        let init = self.initialized;
        let running = self.is_running();
        let mut flags = self.expiration_flags;
        let mut dont_log = cfg.dont_log;
        if self.profile == CompatProfile::PhosphorWatchdog {
            if let Some(u) = self.phosphor_expired_use {
                flags |= u.expiration_flag();
                if !running {
                    dont_log = false;
                }
            }
        }
        let present = match (self.profile, self.phase) {
            (CompatProfile::OpenIpmiLanserv, _) => None,
            (CompatProfile::Qemu, Phase::Stopped { .. }) => Some(Countdown::ZERO),
            (
                CompatProfile::Qemu,
                Phase::Running {
                    expire_at, pre_at, ..
                },
            ) => {
                // QEMU counts to the pending pre-timeout first.
                let target = pre_at.unwrap_or(expire_at);
                Some(ticks_nearest(target.saturating_duration_since(now)))
            }
            (_, Phase::Stopped { present, .. }) => Some(present),
            (CompatProfile::PhosphorWatchdog, Phase::Running { expire_at, .. }) => {
                Some(ticks_floor(expire_at.saturating_duration_since(now)))
            }
            (_, Phase::Running { expire_at, .. }) => {
                Some(ticks_ceil(expire_at.saturating_duration_since(now)))
            }
        };
        let bit6 = match self.profile {
            // QEMU/lanserv return the stored use byte: bit 6 is don't-stop.
            CompatProfile::Qemu | CompatProfile::OpenIpmiLanserv => cfg.dont_stop,
            _ => running,
        };
        GetWatchdogResponse {
            timer_use: init.then_some(cfg.timer_use),
            dont_log,
            running: bit6,
            action: cfg.action,
            pretimeout_irq: cfg.irq,
            pretimeout_secs: match self.profile {
                CompatProfile::PhosphorWatchdog => 0,
                _ => cfg.pretimeout_secs,
            },
            expiration_flags: flags,
            initial_countdown: cfg.initial,
            present_countdown: present,
        }
    }

    /// Dispatches one watchdog command (NetFn App: Reset 0x22, Set 0x24,
    /// Get 0x25) received at `now`, after firing any events due by then
    /// (returned in [`Response::events`]). Returns `None` for any other
    /// command, including Get/Clear Message Flags (0x31/0x30): the BMC owns
    /// those because it combines several flag sources; it uses
    /// [`message_flags`](Self::message_flags) and
    /// [`clear_message_flags`](Self::clear_message_flags).
    pub fn handle(&mut self, now: Instant, cmd: u8, data: &[u8]) -> Option<Response> {
        let events = self.advance(now);
        let result = match cmd {
            CMD_RESET_WATCHDOG => check_empty_request(data, self.profile)
                .and_then(|()| self.reset(now))
                .map(|()| Data::EMPTY),
            CMD_SET_WATCHDOG => SetWatchdog::decode_for(data, self.profile)
                .and_then(|req| self.set(now, &req))
                .map(|()| Data::EMPTY),
            CMD_GET_WATCHDOG => {
                check_empty_request(data, self.profile).map(|()| self.get(now).encode())
            }
            _ => return None,
        };
        Some(match result {
            Ok(data) => Response {
                cc: CompletionCode::OK,
                data,
                events,
            },
            Err(cc) => Response {
                cc,
                data: Data::EMPTY,
                events,
            },
        })
    }

    /// The message flags the watchdog owns: [`MessageFlags::WATCHDOG_PRETIMEOUT`]
    /// while the pre-timeout flag is set. The BMC ORs in its other flags for
    /// Get Message Flags (IPMI v2.0 §22.4) and raises SMS_ATN while any is set.
    pub const fn message_flags(&self) -> MessageFlags {
        if self.pretimeout_flag {
            MessageFlags::WATCHDOG_PRETIMEOUT
        } else {
            MessageFlags::empty()
        }
    }

    /// Clear Message Flags (IPMI v2.0 §22.3): clears the pre-timeout flag if
    /// `flags` contains bit 3; other bits are the BMC's business.
    pub fn clear_message_flags(&mut self, flags: MessageFlags) {
        if flags.contains(MessageFlags::WATCHDOG_PRETIMEOUT) {
            self.pretimeout_flag = false;
        }
    }

    /// The host was hard-reset (by the watchdog's own action, a chassis
    /// control command or the reset button). Spec (§27, Artesyn §7.9.5):
    /// stops the timer, clears the pre-timeout flag and don't-log; the
    /// configuration and expiration flags survive and no new Set is needed
    /// (UNVERIFIED: some BMCs un-initialise here). QEMU and lanserv have no
    /// reset hook: nothing happens (the timer keeps running). phosphor:
    /// depends on unit configuration (UNVERIFIED): modelled as nothing.
    pub fn system_reset(&mut self, now: Instant) {
        if self.profile != CompatProfile::Spec {
            return;
        }
        let present = self.peek(now).present_countdown.unwrap_or(Countdown::ZERO);
        if self.is_running() {
            self.phase = Phase::Stopped { present };
        }
        self.pretimeout_flag = false;
        self.cfg.dont_log = false;
    }

    /// The host powered down. Spec: the timer stops (and the pre-timeout flag
    /// clears, as on a reset). QEMU/lanserv/phosphor: no hook, nothing happens.
    pub fn system_power_down(&mut self, now: Instant) {
        self.system_reset(now);
    }

    /// The BMC itself was reset (cold reset, firmware update, reboot): back to
    /// the power-on state, so Reset answers 0x80 until the next Set. With
    /// `keep_expiration_flags` the expiration flags survive (BMCs that keep
    /// them in non-volatile storage); otherwise they clear too.
    pub fn bmc_reset(&mut self, keep_expiration_flags: bool) {
        let flags = self.expiration_flags;
        *self = Self::new(self.profile);
        if keep_expiration_flags {
            self.expiration_flags = flags;
        }
    }
}

#[cfg(test)]
mod tests;
