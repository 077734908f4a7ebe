//! Runs a [`Scenario`]: the host (BT state machine + SI layer model) against the
//! simulated BMC on one virtual clock, jumping from deadline to deadline.
//!
//! ```
//! use bmc_sim::scenario::{run, Scenario};
//!
//! let sc = Scenario::from_toml_str(r#"
//!     name = "one"
//!     stop = "1s"
//!     [[request]]
//!     at = "10ms"
//!     netfn = 0x06
//!     cmd = 0x01
//! "#).unwrap();
//! let trace = run(&sc);
//! assert_eq!(trace.completions.len(), 1);
//! assert!(trace.completions[0].cc.is_ok());
//! ```

use ipmi_bt_sm::{BtSm, HostStateMachine};

use crate::host::hostsm::HostSm;

use super::daemon::{HostAction, HostDaemon};
use super::lower::DriverChoice;
use super::schema::Scenario;
use super::trace::{DaemonRecord, EventKind, Phase, Recorder, RunStats, Trace};
use crate::bmc::device::DeviceEvents;
use crate::bmc::{BmcEventKind, SimBmc};
use crate::host::bytes::MsgBytes;
use crate::host::msghandler::Completion;
use crate::host::msghandler::MsgHandler;
use crate::host::sched::{NextEvent, Source};
use crate::host::si::{
    Bus, HostLimits, Livelock, Origin, ProbeOutcome, SiDriver, SiEnv, SimDevice,
};
use ipmi_vocab::Instant;

/// The glue between the layers: the host model drives the simulated BMC
/// through its registers.
impl<E: DeviceEvents> SimDevice for SimBmc<E> {
    fn advance(&mut self, now: Instant) {
        SimBmc::advance(self, now);
    }
    fn next_deadline(&self) -> Option<Instant> {
        SimBmc::next_deadline(self)
    }
    fn irq_line(&self) -> bool {
        self.device().irq_line()
    }
}

/// Where the workload is: which `[[request]]` entry and copy comes next, and when.
#[derive(Debug, Clone)]
struct Workload {
    entry: usize,
    copy: u32,
    /// Submission time of the next copy (None: waiting for `wait_for` or done).
    next: Option<Instant>,
    /// Back-to-back: submit the next copy when this message completes.
    wait_for: Option<u32>,
    last_id: Option<u32>,
}

/// Work and memory limits of one run. A scenario that needs more (a year of
/// polling every jiffy with `fast_forward = false`, ten million back-to-back
/// requests, a register trace of a day) is stopped early: the trace ends
/// where the limit was hit, says why in [`Trace::truncated`] and in a
/// `Phase` event, and keeps everything recorded so far. The defaults keep a
/// run under about a minute and its memory under 100 MB whatever the file
/// asks for (issue #14; `sim/tests/scenario_memory.rs` measures it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunLimits {
    /// Scheduler steps (jumps of the virtual clock).
    pub max_steps: u64,
    /// `BtSm::event` calls, including those of the synchronous probe and
    /// unload loops (a BMC silent from time 0 keeps detect waiting).
    pub max_sm_events: u64,
    /// Records kept in memory: events, completions, kernel log lines and
    /// queued messages together.
    pub max_records: usize,
    /// Register accesses recorded with `[trace] registers = true`.
    pub max_register_records: usize,
    /// `SI_SM_CALL_WITHOUT_DELAY` results in a row at one instant. The
    /// kernel's loops call the state machine again at once on that result,
    /// with no limit, so a machine that keeps returning it hangs the CPU
    /// (inside the probe's `wait_for_msg_done`, or `smi_event_handler`);
    /// the run stops there and the trace names the loop (a few tens in a
    /// row are normal).
    pub max_spin_events: u64,
}

impl RunLimits {
    /// The limits [`run`] uses.
    pub const DEFAULT: Self = Self {
        max_steps: 20_000_000,
        max_sm_events: 100_000_000,
        max_records: 600_000,
        max_register_records: 1_500_000,
        max_spin_events: 100_000,
    };
}

impl Default for RunLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Which [`RunLimits`] limit a run reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Limit {
    /// The SI layer stopped a zero-time livelock (`max_spin_events`).
    Livelock(Livelock),
    /// `max_steps`.
    Steps,
    /// `max_sm_events`.
    SmEvents,
    /// `max_records`.
    Records,
    /// `max_register_records`.
    RegisterRecords,
}

/// A run in progress; [`run`] drives one to its stop time. Use it directly to
/// step a scenario or to inspect state between steps.
pub struct Simulation {
    scenario: Scenario,
    choice: DriverChoice,
    sm: HostSm,
    bus: Bus<SimBmc>,
    si: SiDriver,
    mh: MsgHandler,
    rec: Recorder,
    steps: u64,
    workload: Workload,
    stop: Instant,
    started: bool,
    registered: bool,
    unload_at: Option<Instant>,
    unloaded: bool,
    limits: RunLimits,
    /// Why the run stopped before its stop time, once a limit was hit.
    truncated: Option<String>,
    /// The host-userspace daemon (`[daemon]`).
    daemon: Option<HostDaemon>,
    /// When the BMC's watchdog reset the host (`[daemon]` runs end there).
    host_reset: Option<Instant>,
}

/// The [`SiEnv`] of a [`Simulation`], borrowing its fields one by one so the
/// driver and the message handler stay free to borrow.
macro_rules! env {
    ($s:ident) => {
        SiEnv {
            sm: &mut $s.sm,
            bus: &mut $s.bus,
            obs: &mut $s.rec,
            stop: $s.stop,
            limits: HostLimits {
                max_sm_events: $s.limits.max_sm_events,
                max_register_records: $s.limits.max_register_records,
                max_spin_events: $s.limits.max_spin_events,
            },
        }
    };
}

impl Simulation {
    /// Set up a run (nothing happens until [`run_until`](Self::run_until)).
    pub fn new(sc: &Scenario) -> Self {
        let choice = sc.driver_choice();
        Self::with_sm(sc, HostSm::Rust(BtSm::with_behaviour(choice.behaviour)))
    }

    /// Set up a run whose BT state machine is `sm` instead of the `bt-sm`
    /// model the scenario's kernel names (the kernel's own C file through
    /// `ipmi-kernel-c`, say). The scenario's kernel still gives the SI layer,
    /// the printk era and HZ; `sm` is told HZ and the scenario's `bt_debug`.
    pub fn with_state_machine(sc: &Scenario, mut sm: Box<dyn HostStateMachine>) -> Self {
        let choice = sc.driver_choice();
        sm.set_hz(sc.driver.hz.0);
        sm.set_debug(choice.behaviour.debug);
        Self::with_sm(sc, HostSm::External(sm))
    }

    fn with_sm(sc: &Scenario, sm: HostSm) -> Self {
        let choice = sc.driver_choice();
        let mut bmc = SimBmc::new(sc.bmc_config());
        bmc.set_faults(sc.fault_plan());
        let record = sc.trace.registers;
        // Each command's BMC events (request taken, response posted, request
        // dropped) go into the trace beside the register accesses only.
        bmc.set_traffic_events(record);
        // Fast-forward skips register reads, so an exact register trace needs it off.
        let ff = sc.driver.fast_forward && !record;
        let si = SiDriver::new(choice.si, sc.driver.hz.0, sc.driver.irq, ff);
        let rec = Recorder::new(sm.behaviour().printk, RunLimits::DEFAULT.max_records);
        let mut mh = MsgHandler::new();
        // The handler's warnings became dev_warn in 4.20 (KernCont era, 4.18+).
        mh.set_dev_log(sm.behaviour().printk == ipmi_bt_sm::PrintkEra::KernCont);
        let first = sc
            .requests
            .first()
            .map(|r| Instant::ZERO + r.at.unwrap_or_default());
        Self {
            scenario: sc.clone(),
            choice,
            sm,
            bus: Bus::new(bmc, record),
            si,
            mh,
            rec,
            steps: 0,
            workload: Workload {
                entry: 0,
                copy: 0,
                next: first,
                wait_for: None,
                last_id: None,
            },
            stop: Instant::ZERO + sc.stop,
            started: false,
            registered: false,
            unload_at: sc.driver.unload_at.map(|d| Instant::ZERO + d),
            unloaded: false,
            limits: RunLimits::DEFAULT,
            truncated: None,
            daemon: sc.daemon.as_ref().map(HostDaemon::new),
            host_reset: None,
        }
    }

    /// When the BMC's watchdog reset the host, if it did (runs with a
    /// `[daemon]` end there).
    pub fn host_reset(&self) -> Option<Instant> {
        self.host_reset
    }

    /// Replace the work and memory limits (default [`RunLimits::DEFAULT`]).
    pub fn set_limits(&mut self, limits: RunLimits) {
        self.limits = limits;
        self.rec.max_records = limits.max_records;
    }

    /// Why the run stopped before its stop time, if a [`RunLimits`] limit
    /// was hit.
    pub fn truncated(&self) -> Option<&str> {
        self.truncated.as_deref()
    }

    /// The first limit the run is over, if any (asked every step: a few
    /// comparisons; the message is made by [`limit_message`](Self::limit_message)).
    #[inline]
    fn limit_reached(&self) -> Option<Limit> {
        let l = &self.limits;
        if let Some(ll) = self.si.livelock() {
            Some(Limit::Livelock(ll))
        } else if self.steps >= l.max_steps {
            Some(Limit::Steps)
        } else if self.si.stats().sm_events >= l.max_sm_events {
            Some(Limit::SmEvents)
        } else if self.rec.events.len()
            + self.mh.completions().len()
            + self.rec.log.lines().len()
            + self.mh.queued()
            >= l.max_records
        {
            Some(Limit::Records)
        } else if self.bus.regs.len() >= l.max_register_records {
            Some(Limit::RegisterRecords)
        } else {
            None
        }
    }

    /// What `limit` means, for people.
    fn limit_message(&self, limit: Limit) -> String {
        let l = &self.limits;
        match limit {
            Limit::Livelock(ll) => format!(
                "zero-time livelock in {} at {}: the BT state machine returned CALL_WITHOUT_DELAY {} times in a row with no time passing (spin limit {}); the kernel calls it again at once for ever, a hang",
                ll.in_loop, ll.at, ll.events, l.max_spin_events
            ),
            Limit::Steps => format!(
                "step limit of {} reached (a long stop with fast_forward = false, or very dense requests); shorten `stop` or thin the workload",
                l.max_steps
            ),
            Limit::SmEvents => format!(
                "state-machine event limit of {} reached (a long stop with fast_forward = false?); shorten `stop`",
                l.max_sm_events
            ),
            Limit::Records => format!(
                "record limit of {} events, completions, log lines and queued messages reached; shorten `stop` or reduce `repeat`",
                l.max_records
            ),
            Limit::RegisterRecords => format!(
                "register trace limit of {} accesses reached; shorten `stop` or set `[trace] registers = false`",
                l.max_register_records
            ),
        }
    }

    /// The driver behaviour in use.
    pub fn driver_choice(&self) -> DriverChoice {
        self.choice
    }
    /// Current virtual time.
    pub fn now(&self) -> Instant {
        self.bus.now()
    }
    /// The BT state machine (read-only).
    pub fn sm(&self) -> &HostSm {
        &self.sm
    }
    /// The simulated BMC (read-only).
    pub fn bmc(&self) -> &SimBmc {
        &self.bus.dev
    }
    /// Completions so far.
    pub fn completions(&self) -> &[Completion] {
        self.mh.completions()
    }

    /// How many workload copies can be submitted before the stop time: every
    /// copy of a back-to-back entry, and of an entry with an interval those
    /// that fall before the stop.
    fn workload_estimate(&self) -> usize {
        let stop = self.stop.since_start();
        self.scenario
            .requests
            .iter()
            .map(|r| {
                let repeat = u64::from(r.repeat);
                let copies = match r.interval {
                    Some(iv) if !iv.is_zero() => {
                        let Some(span) = stop.checked_sub(r.at.unwrap_or_default()) else {
                            return 0;
                        };
                        let fit = span.as_nanos() / iv.as_nanos() + 1;
                        repeat.min(u64::try_from(fit).unwrap_or(u64::MAX))
                    }
                    _ => repeat,
                };
                usize::try_from(copies).unwrap_or(usize::MAX)
            })
            .fold(0usize, usize::saturating_add)
    }

    /// Reserve the event and completion lists for the workload, so the
    /// records of a long run are not copied over and over as the lists
    /// double (completions when the first one comes: a run in which nothing
    /// completes reserves nothing). The sizes are powers of two the doubling
    /// passes through anyway, capped by the record limit in the same way: a
    /// run that hits the limit holds lists no bigger than without the
    /// reservation (`sim/tests/scenario_memory.rs` measures the same peaks).
    fn reserve_records(&mut self) {
        /// Events a fault-free Get Device ID records per request: submit,
        /// complete, 7 state changes, and the IRQ on interrupt.
        const EVENTS_PER_REQUEST: usize = 10;
        let requests = self.workload_estimate();
        let max = self.limits.max_records;
        // The largest power of two not above `n` (0 for 0).
        let floor_pow2 = |n: usize| n.checked_ilog2().map_or(0, |b| 1usize << b);
        let ceil_pow2 = |n: usize| n.checked_next_power_of_two().unwrap_or(usize::MAX);
        let events = ceil_pow2(requests.saturating_mul(EVENTS_PER_REQUEST)).min(floor_pow2(max));
        self.rec.events.reserve_exact(events);
        let completions = ceil_pow2(requests).min(floor_pow2(max / (EVENTS_PER_REQUEST + 1)));
        self.mh.expect_completions(completions);
    }

    /// Probe (detect, optional Get Device ID) and registration at time 0.
    fn start(&mut self) {
        self.started = true;
        self.reserve_records();
        // Faults scheduled at time 0 are in force before the driver loads.
        self.bus.advance(Instant::ZERO);
        self.collect();
        let probe = self.scenario.driver.probe;
        let mut env = env!(self);
        let outcome = self.si.probe(&mut env, probe, self.mh.id_counter());
        if outcome == ProbeOutcome::Registered {
            if probe {
                // try_smi_init: "Start clearing the flags before we enable
                // interrupts or the timer to avoid racing with the timer."
                self.si.start_clear_flags(&mut env);
            }
            self.si.start_processing(&mut env);
        }
        self.collect();
        self.registered = outcome == ProbeOutcome::Registered;
        if self.registered && probe {
            let now = self.now();
            self.mh.register_smi(now, &mut self.rec);
        }
        self.feed();
        self.collect();
    }

    /// Run until virtual time `until` (clamped to the scenario's stop time).
    pub fn run_until(&mut self, until: Instant) {
        if self.truncated.is_some() {
            return;
        }
        let until = until.min(self.stop);
        if !self.started {
            self.start();
        }
        let mut same_t = 0u32;
        let mut last_t = self.now();
        let mut last_progress = (self.mh.next_id(), self.mh.completions().len());
        loop {
            if self.host_reset.is_some() {
                return;
            }
            if let Some(limit) = self.limit_reached() {
                let why = self.limit_message(limit);
                let now = self.now();
                self.rec
                    .push(now, EventKind::Phase(Phase::StoppedEarly(why.clone())));
                self.truncated = Some(why);
                return;
            }
            let mut n = NextEvent::new();
            n.offer(Source::Bmc, self.bus.dev.next_deadline());
            if self.registered && !self.unloaded {
                n.offer(Source::Timer, self.si.timer_deadline());
            }
            n.offer(Source::MsgHandler, self.mh.timer_deadline());
            let daemon_next = self.daemon.as_ref().and_then(HostDaemon::next_deadline);
            let work_next = match (self.workload.next, daemon_next) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            n.offer(Source::Workload, work_next.map(|t| t.max(self.now())));
            if self.registered && !self.unloaded {
                n.offer(Source::Unload, self.unload_at.map(|t| t.max(self.now())));
            }
            let Some((t, src)) = n.get() else { break };
            if t > until {
                break;
            }
            // Steps at one instant are fine while messages move (an instant BMC
            // answers back-to-back requests without time passing); many steps
            // with no submission or completion mean a deadline that never clears.
            let progress = (self.mh.next_id(), self.mh.completions().len());
            if t == last_t && progress == last_progress {
                same_t += 1;
                if same_t > 100_000 {
                    self.rec.push(t, EventKind::Phase(Phase::SchedulerStalled));
                    break;
                }
            } else {
                same_t = 0;
                last_t = t;
                last_progress = progress;
            }
            self.steps += 1;
            // Only a fast-forwarded timer has expiries to catch up on: the
            // test is inlined, the environment built only when it holds.
            if self.si.fast_forwarded() {
                self.si.catch_up_before(&mut env!(self), t);
            }
            self.bus.advance(t);
            self.collect();
            match src {
                Source::Timer => self.si.timer_expired(&mut env!(self)),
                Source::Workload => {
                    self.workload_due(t);
                    self.daemon_due(t);
                }
                Source::MsgHandler => {
                    if self.mh.timeout(t) && self.registered && !self.unloaded {
                        self.si.request_events(&mut env!(self));
                        self.collect();
                    }
                }
                Source::Unload => {
                    self.unload_at = None;
                    self.unloaded = true;
                    self.si.shutdown(&mut env!(self));
                }
                Source::Bmc => {}
            }
            if self.si.takes_irqs() {
                self.si.poll_irq(&mut env!(self));
            }
            self.collect();
            // feed() collects after handing a message over and changes
            // nothing otherwise: nothing is left to collect after it.
            self.feed();
            debug_assert!(!self.si.has_output() && !self.bus.dev.has_events());
        }
        if until > self.now() && self.host_reset.is_none() {
            self.bus.advance(until);
            self.collect();
        }
    }

    /// The daemon's clock: signals, command deadlines, its next step.
    fn daemon_due(&mut self, t: Instant) {
        let Some(d) = self.daemon.as_mut() else {
            return;
        };
        if d.next_deadline().is_some_and(|n| n <= t) {
            let actions = d.due(t);
            self.daemon_act(t, actions);
        }
    }

    /// Carry out what the daemon asked: submit its commands, record its log.
    fn daemon_act(&mut self, t: Instant, actions: Vec<HostAction>) {
        let mut submitted = false;
        for a in actions {
            match a {
                HostAction::Log(m) => {
                    let who = self.daemon.as_ref().map_or("daemon", |d| d.kind().name());
                    self.rec.push(t, EventKind::Daemon(format!("{who}: {m}")));
                }
                HostAction::Submit(bytes) => {
                    let id = self
                        .mh
                        .submit(t, Origin::Daemon, bytes.into(), false, &mut self.rec);
                    if let Some(d) = self.daemon.as_mut() {
                        d.sent(id, t);
                    }
                    submitted = true;
                }
            }
        }
        if submitted {
            self.feed();
        }
    }

    /// Submit the workload copies due at `t`.
    fn workload_due(&mut self, t: Instant) {
        while let Some(next) = self.workload.next {
            if next > t {
                break;
            }
            // Borrowed, not cloned: the entry's label and data stay put.
            let Some(entry) = self.scenario.requests.get(self.workload.entry) else {
                self.workload.next = None;
                break;
            };
            // Built in place: inline for short requests, no allocation.
            let data = MsgBytes::concat(&[entry.netfn << 2, entry.cmd], &entry.data);
            let (gets_events, repeat, interval) = (entry.gets_events, entry.repeat, entry.interval);
            let origin = Origin::Workload {
                entry: self.workload.entry as u32,
                copy: self.workload.copy,
            };
            let id = self.mh.submit(t, origin, data, gets_events, &mut self.rec);
            self.workload.last_id = Some(id);
            // Advance the cursor.
            if self.workload.copy + 1 < repeat {
                self.workload.copy += 1;
                match interval {
                    Some(iv) => self.workload.next = Some(next + iv),
                    None => {
                        self.workload.next = None;
                        self.workload.wait_for = Some(id);
                    }
                }
            } else {
                self.workload.entry += 1;
                self.workload.copy = 0;
                match self
                    .scenario
                    .requests
                    .get(self.workload.entry)
                    .map(|r| r.at)
                {
                    None => self.workload.next = None,
                    Some(Some(at)) => self.workload.next = Some((Instant::ZERO + at).max(t)),
                    Some(None) => {
                        self.workload.next = None;
                        self.workload.wait_for = Some(id);
                    }
                }
            }
        }
        self.feed();
    }

    /// Hand the next queued message to the SI layer while the interface is up.
    /// Called several times per step and most calls have nothing to hand
    /// over: this test is inlined, the work is in [`feed_one`](Self::feed_one).
    #[inline]
    fn feed(&mut self) {
        if self.registered && !self.unloaded && self.mh.can_feed(&self.si) {
            self.feed_one();
        }
    }

    /// [`feed`](Self::feed) once a message can be handed over.
    #[inline(never)]
    fn feed_one(&mut self) {
        if self.mh.feed(&mut self.si, &mut env!(self)) {
            self.collect();
        }
    }

    /// Move delivered responses, lost messages and BMC events into the trace.
    /// Called several times per step and most calls find nothing: this test
    /// is inlined, the work is in [`collect_some`](Self::collect_some).
    #[inline]
    fn collect(&mut self) {
        if self.si.has_output() {
            self.collect_some();
        } else if self.bus.dev.has_events() {
            // Most batches are BMC events only (a request taken, a response
            // posted): the smaller function.
            self.collect_bmc_events();
        }
    }

    /// [`collect`](Self::collect) once the SI layer has something to move.
    #[inline(never)]
    fn collect_some(&mut self) {
        let now = self.bus.now();
        let workload = &mut self.workload;
        let daemon = &self.daemon;
        let mut answered = None;
        self.mh.collect(&mut self.si, now, &mut self.rec, |id, at| {
            if workload.wait_for == Some(id) {
                workload.wait_for = None;
                workload.next = Some(at);
            }
            if daemon.as_ref().is_some_and(|d| d.waits_for(id)) {
                answered = Some((id, at));
            }
        });
        if self.bus.dev.has_events() {
            self.collect_bmc_events();
        }
        if let Some((id, at)) = answered {
            let Some(c) = self.mh.completions().iter().rev().find(|c| c.id == id) else {
                return;
            };
            let data = c.response.get(3..).unwrap_or_default().to_vec();
            let cc = c.cc;
            if let Some(d) = self.daemon.as_mut() {
                let actions = d.answered(at, cc, &data);
                self.daemon_act(at, actions);
            }
        }
    }

    /// The BMC's events into the trace (the part of
    /// [`collect_some`](Self::collect_some) for the BMC).
    #[inline(never)]
    fn collect_bmc_events(&mut self) {
        // Straight from the BMC's buffer (the loop touches other fields only):
        // no copy, no allocation per collected batch.
        for e in self.bus.dev.drain_events() {
            let kind = match e.kind {
                BmcEventKind::FaultStarted(f) => EventKind::FaultOn(f),
                BmcEventKind::FaultStopped(k) => EventKind::FaultOff(k),
                BmcEventKind::WatchdogExpired { action, .. }
                    if self.daemon.is_some()
                        && action != ipmi_watchdog::TimerAction::None
                        && self.host_reset.is_none() =>
                {
                    self.host_reset = Some(e.at);
                    self.rec.push(e.at, EventKind::Bmc(e.kind));
                    EventKind::Phase(Phase::HostReset(action))
                }
                other => EventKind::Bmc(other),
            };
            self.rec.push(e.at, kind);
        }
    }

    /// Finish: the trace of everything so far.
    pub fn into_trace(mut self) -> Trace {
        self.collect();
        let pending = self.mh.pending(&self.si);
        // Events were pushed in time order except BMC events collected late; sort stably.
        self.rec.sort_events();
        let sc = &self.scenario;
        let driver = format!(
            "kernel {}: bt {} + si {} ({}), HZ={}, {}{}",
            self.choice.preset.label(),
            self.choice.bt.name(),
            self.choice.si.name,
            self.choice.si.kernels,
            sc.driver.hz.0,
            if sc.driver.irq {
                "interrupt"
            } else {
                "polling"
            },
            if sc.driver.probe { ", probe" } else { "" }
        );
        let end = self.bus.now();
        let registers = core::mem::take(&mut self.bus.regs);
        let si = self.si.stats();
        let stats = RunStats {
            sm_events: si.sm_events,
            timer_fires: si.timer_fires,
            irqs: si.irqs,
            reg_accesses: self.bus.accesses(),
            skipped_polls: si.skipped_polls,
            steps: self.steps,
        };
        Trace {
            name: sc.name.clone(),
            driver,
            end,
            events: self.rec.events,
            completions: self.mh.into_completions(),
            pending,
            log: self.rec.log.into_lines(),
            registers,
            registered: self.registered,
            stats,
            truncated: self.truncated,
            daemon: self.daemon.map(|d| DaemonRecord {
                kind: d.kind().name().to_string(),
                timeout: sc.daemon.as_ref().map(|s| s.timeout).unwrap_or_default(),
                reloads: d.reloads,
                host_reset: self.host_reset,
            }),
        }
    }
}

/// Run a scenario to its stop time and return what happened.
pub fn run(sc: &Scenario) -> Trace {
    finish(Simulation::new(sc), sc)
}

/// [`run`] with `sm` as the BT state machine ([`Simulation::with_state_machine`]).
pub fn run_with_state_machine(sc: &Scenario, sm: Box<dyn HostStateMachine>) -> Trace {
    finish(Simulation::with_state_machine(sc, sm), sc)
}

fn finish(mut sim: Simulation, sc: &Scenario) -> Trace {
    let stop = Instant::ZERO + sc.stop;
    sim.run_until(stop);
    sim.into_trace()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::trace::EventKind;

    fn sc(extra_driver: &str, latency: &str) -> Scenario {
        Scenario::from_toml_str(&format!(
            "name = \"t\"\nstop = \"2s\"\n[driver]\n{extra_driver}\nfast_forward = false\n[bmc]\nlatency = \"{latency}\"\n[trace]\nregisters = true\n[[request]]\nat = \"1s\"\nnetfn = 0x06\ncmd = 0x01\n"
        ))
        .unwrap()
    }

    #[test]
    fn polling_rearms_one_jiffy_on_call_with_delay() {
        // HZ=250: the sender arms the long timer (2 jiffies = 8 ms), then every
        // CALL_WITH_DELAY re-arms +1 jiffy (4 ms) until the 100 ms answer arrives.
        let t = run(&sc("hz = 250", "100ms"));
        let c = &t.completions[0];
        assert!(c.cc.is_ok());
        // Answer at 1.1001 s (50 us take + 100 ms); first poll seeing it on the 4 ms grid.
        assert_eq!(c.completed.as_nanos(), 1_104_000_000);
        // 8 ms, then 4 ms steps up to 1.104 s: 1 + 24 expiries; then IDLE stops the timer.
        // Registration tick (IDLE, timer stops) + the sender's long tick + 24 short ones.
        assert_eq!(t.stats.timer_fires, 1 + 1 + 24);
        assert_eq!(t.stats.irqs, 0);
    }

    #[test]
    fn hz_1000_polls_every_millisecond() {
        let t = run(&sc("hz = 1000", "100ms"));
        assert_eq!(t.completions[0].completed.as_nanos(), 1_101_000_000);
    }

    #[test]
    fn interrupt_acks_intmask_and_runs_the_handler_at_once() {
        let t = run(&sc("irq = true", "100ms"));
        let c = &t.completions[0];
        // The IRQ fires when the BMC posts the response: no timer granularity.
        assert_eq!(c.completed.as_nanos(), 1_100_050_000);
        assert_eq!(t.stats.irqs, 1);
        // ipmi_si_irq_handler writes INTMASK = 0x03 first; smi_start_processing wrote 0x01.
        let intmask_writes: Vec<u8> = t
            .registers
            .iter()
            .filter(|r| r.offset == 2 && r.write)
            .map(|r| r.value)
            .collect();
        assert_eq!(
            intmask_writes,
            vec![0x80, 0x01, 0x03],
            "reset_flags, irq setup, irq ack"
        );
        // Long timeouts only while an interrupt is in use: 8 ms steps.
        assert!(t.stats.timer_fires <= 13, "{:?}", t.stats);
        assert!(t.events.iter().any(|e| e.kind == EventKind::Irq));
    }

    #[test]
    fn idle_stops_the_timer() {
        let t = run(&sc("hz = 250", "1ms"));
        let last_timer_work = t.stats.timer_fires;
        assert!(last_timer_work <= 3, "{:?}", t.stats);
        // Nothing polls after the completion: the last register access is the completion's.
        let done = t.completions[0].completed;
        assert!(t.registers.iter().all(|r| r.t <= done));
    }

    #[test]
    fn refused_start_completes_immediately_with_the_state_machine_code() {
        let s = Scenario::from_toml_str(
            "name = \"t\"\nstop = \"30s\"\n[[request]]\nat = \"100ms\"\nnetfn = 0x06\ncmd = 0x01\nrepeat = 4\n[[request]]\nat = \"2s\"\nnetfn = 0x06\ncmd = 0x01\n[[request]]\nat = \"25s\"\nnetfn = 0x06\ncmd = 0x01\n[[fault]]\nkind = \"stuck-busy\"\nat = \"1s\"\n",
        )
        .unwrap();
        let t = run(&s);
        // The request caught by the outage: 10 s, then 0xC0 and LONG_BUSY.
        let first = &t.completions[4];
        assert_eq!(first.cc, ipmi_bt_sm::CompletionCode::NODE_BUSY);
        assert!((10.0..10.1).contains(&first.latency().as_secs_f64()));
        // The next one is refused by start_transaction and answered by return_hosed_msg.
        let last = t.completions.last().unwrap();
        assert_eq!(last.cc, ipmi_bt_sm::CompletionCode::NODE_BUSY);
        assert_eq!(last.response, vec![0x1c, 0x01, 0xc0]);
        assert!(last.synthesized && last.latency().is_zero());
    }

    /// `gets_events`: while a user that gets events waits more than a second,
    /// the message handler requests events; the SI layer sends Get BMC Global
    /// Enables and Read Event Message Buffer as soon as it is idle (the guest
    /// did so after every long ipmitool run: kernel-vs-model.md D3).
    #[test]
    fn gets_events_checks_enables_and_reads_the_event_buffer_when_idle() {
        let after = |gets_events: bool, probe: bool, latency: &str| {
            let t = run(&Scenario::from_toml_str(&format!(
                "name = \"t\"\nstop = \"10s\"\n[driver]\nprobe = {probe}\nirq = true\n\
                 [bmc]\npreset = \"qemu\"\n\
                 [[request]]\nat = \"1s\"\nnetfn = 0x06\ncmd = 0x25\ngets_events = {gets_events}\n\
                 [[fault]]\nkind = \"slow\"\nlatency = \"{latency}\"\nat = \"1s\"\nduration = \"1s\"\n"
            ))
            .unwrap());
            let i = t
                .completions
                .iter()
                .position(|c| matches!(c.origin, Origin::Workload { .. }))
                .expect("the request completes");
            let done = t.completions[i].completed;
            t.completions[i + 1..]
                .iter()
                .map(|c| (c.request.to_vec(), c.completed == done))
                .collect::<Vec<_>>()
        };
        let check = vec![(vec![0x18, 0x2f], true), (vec![0x18, 0x35], true)];
        assert_eq!(after(true, true, "2500ms"), check);
        // Nobody asked for events, or the answer came within the first second.
        assert!(after(false, true, "2500ms").is_empty());
        assert!(after(true, true, "500ms").is_empty());
        // No event buffer (no probe, try_enable_event_buffer never ran):
        // request_events is ignored.
        assert!(after(true, false, "2500ms").is_empty());
    }

    /// `at_command` counts messages that reach the BMC (H2B_ATN edges): a
    /// request refused at once during LONG_BUSY is not one of them, a resend
    /// after a timeout is.
    #[test]
    fn at_command_counts_messages_that_reach_the_bmc() {
        // Messages: 1 detect's caps, 2 the request at 1 s (held: 0xC0 after
        // 10 s, LONG_BUSY), [request at 12 s refused: 0xC0, not sent], 3 the
        // request at 20 s, which the error-response fault hits.
        let t = run(&Scenario::from_toml_str(
            "name = \"t\"\nstop = \"30s\"\n[bmc]\npreset = \"qemu\"\n\
             [[request]]\nat = \"1s\"\nnetfn = 0x06\ncmd = 0x01\n\
             [[request]]\nat = \"12s\"\nnetfn = 0x06\ncmd = 0x01\n\
             [[request]]\nat = \"20s\"\nnetfn = 0x06\ncmd = 0x01\n\
             [[fault]]\nkind = \"hold-busy\"\nat_command = 2\nduration = \"15s\"\n\
             [[fault]]\nkind = \"error-response\"\ncc = 0xC1\nat_command = 3\n",
        )
        .unwrap());
        let got: Vec<(u8, bool)> = t
            .completions
            .iter()
            .map(|c| (c.cc.0, c.synthesized))
            .collect();
        assert_eq!(got, [(0xC0, true), (0xC0, true), (0xC1, false)]);
        let lat: Vec<f64> = t
            .completions
            .iter()
            .map(|c| c.latency().as_secs_f64())
            .collect();
        assert!((10.0..10.1).contains(&lat[0]), "{lat:?}");
        assert_eq!(lat[1], 0.0, "refused at once: never reached the BMC");

        // With default caps (5 s, 2 retries) the resend after the first
        // timeout is message 3: a fault on message 3 hits the resend.
        let t = run(&Scenario::from_toml_str(
            "name = \"t\"\nstop = \"30s\"\n\
             [[request]]\nat = \"1s\"\nnetfn = 0x06\ncmd = 0x01\n\
             [[fault]]\nkind = \"silent\"\nat_command = 2\nduration = \"1s\"\n\
             [[fault]]\nkind = \"error-response\"\ncc = 0xC1\nat_command = 3\n",
        )
        .unwrap());
        let got: Vec<(u8, bool)> = t
            .completions
            .iter()
            .map(|c| (c.cc.0, c.synthesized))
            .collect();
        assert_eq!(got, [(0xC1, false)], "{}", t.render_log());
    }

    /// `hold-busy` takes the request (H2B_ATN clears) and keeps B_BUSY: the
    /// kernel's status shows `[ B_BUSY ]` (stuck-busy: `[ B_BUSY H2B ]`), as
    /// behind QEMU when the answer carries the wrong msg_id.
    #[test]
    fn hold_busy_takes_the_request_and_keeps_only_b_busy() {
        let text = |kind: &str| {
            format!(
                "name = \"t\"\nstop = \"40s\"\n[bmc]\npreset = \"qemu\"\n\
                 [[request]]\nat = \"1s\"\nnetfn = 0x06\ncmd = 0x25\n\
                 [[request]]\nat = \"30s\"\nnetfn = 0x06\ncmd = 0x25\n\
                 [[fault]]\nkind = \"{kind}\"\nat_command = 2\nduration = \"16s\"\n"
            )
        };
        for (kind, status) in [
            ("hold-busy", "[ B_BUSY ]"),
            ("stuck-busy", "[ B_BUSY H2B ]"),
        ] {
            let t = run(&Scenario::from_toml_str(&text(kind)).unwrap());
            let log: Vec<&str> = t.log.iter().map(|l| l.text.as_str()).collect();
            assert_eq!(
                log[1..],
                [
                    format!("ipmi_si IPI0001:00: IPMI BT: timeout in WR_CONSUME {status} "),
                    "ipmi_si IPI0001:00: failed 0 retries, sending error response".to_owned(),
                ],
                "{kind}"
            );
            let ccs: Vec<u8> = t.completions.iter().map(|c| c.cc.0).collect();
            assert_eq!(
                ccs,
                [0xC0, 0x00],
                "{kind}: 0xC0, then answered after release"
            );
            let caught = t.completions[0].latency().as_secs_f64();
            assert!((10.0..10.1).contains(&caught), "{kind}: {caught}");
        }
    }

    /// A BT state machine that livelocks at zero time: the bt-sm model until
    /// its `spin_from`-th `start_transaction` (1-based), then every `event`
    /// returns CALL_WITHOUT_DELAY (a stuck status or a response that never
    /// matches, seen by a machine that retries at once).
    struct Spinner {
        inner: BtSm,
        starts: u32,
        spin_from: u32,
    }

    impl HostStateMachine for Spinner {
        fn describe(&self) -> String {
            "spinner".into()
        }
        fn init_data(&mut self) -> u32 {
            HostStateMachine::init_data(&mut self.inner)
        }
        fn size(&self) -> usize {
            HostStateMachine::size(&self.inner)
        }
        fn start_transaction(
            &mut self,
            log: &mut dyn ipmi_bt_sm::LogSink,
            data: &[u8],
        ) -> Result<(), ipmi_bt_sm::CompletionCode> {
            self.starts += 1;
            HostStateMachine::start_transaction(&mut self.inner, log, data)
        }
        fn get_result(&mut self, log: &mut dyn ipmi_bt_sm::LogSink, buf: &mut [u8]) -> usize {
            HostStateMachine::get_result(&mut self.inner, log, buf)
        }
        fn event(
            &mut self,
            io: &mut dyn ipmi_bt_sm::Io,
            log: &mut dyn ipmi_bt_sm::LogSink,
            time_us: i64,
        ) -> ipmi_bt_sm::SmResult {
            if self.starts >= self.spin_from {
                return ipmi_bt_sm::SmResult::CallWithoutDelay;
            }
            HostStateMachine::event(&mut self.inner, io, log, time_us)
        }
        fn detect(
            &mut self,
            io: &mut dyn ipmi_bt_sm::Io,
            log: &mut dyn ipmi_bt_sm::LogSink,
        ) -> Result<(), ipmi_bt_sm::NotPresent> {
            HostStateMachine::detect(&mut self.inner, io, log)
        }
        fn detect_in_progress(&self) -> bool {
            HostStateMachine::detect_in_progress(&self.inner)
        }
        fn finish_detect(&mut self, log: &mut dyn ipmi_bt_sm::LogSink) {
            HostStateMachine::finish_detect(&mut self.inner, log);
        }
        fn state(&self) -> ipmi_bt_sm::State {
            HostStateMachine::state(&self.inner)
        }
        fn timeout_us(&self) -> i64 {
            HostStateMachine::timeout_us(&self.inner)
        }
        fn behaviour(&self) -> &ipmi_bt_sm::Behaviour {
            HostStateMachine::behaviour(&self.inner)
        }
        fn set_debug(&mut self, mask: u8) {
            HostStateMachine::set_debug(&mut self.inner, mask);
        }
    }

    /// Runs `text` with a [`Spinner`] from its `spin_from`-th start, under the
    /// default limits but a spin limit of `spin_limit`.
    fn run_spinning(text: &str, spin_from: u32, spin_limit: u64) -> Trace {
        let sc = Scenario::from_toml_str(text).unwrap();
        let inner = BtSm::with_behaviour(sc.driver_choice().behaviour);
        let mut sim = Simulation::with_state_machine(
            &sc,
            Box::new(Spinner {
                inner,
                starts: 0,
                spin_from,
            }),
        );
        sim.set_limits(RunLimits {
            max_spin_events: spin_limit,
            ..RunLimits::DEFAULT
        });
        sim.run_until(Instant::ZERO + sc.stop);
        sim.into_trace()
    }

    #[test]
    fn a_zero_time_livelock_in_the_probe_wait_stops_at_the_spin_limit_and_says_so() {
        // wait_for_msg_done calls event(0) again at once on CALL_WITHOUT_DELAY:
        // a machine that livelocks during the probe's Get Device ID hangs the
        // kernel at that instant. The model stops after the spin limit, well
        // before the 100 M event limit, and the trace says where and why.
        let t = run_spinning(
            "name = \"spin\"\nstop = \"60s\"\n[driver]\nkernel = \"v3.13\"\nprobe = true\n",
            1,
            5_000,
        );
        let why = t.truncated.as_deref().expect("stopped early");
        assert!(
            why.starts_with("zero-time livelock in wait_for_msg_done at 0.000000s"),
            "{why}"
        );
        assert!(why.contains("CALL_WITHOUT_DELAY 5000 times"), "{why}");
        assert!(t.stats.sm_events < 5_100, "{:?}", t.stats);
        assert!(!t.registered);
        // The probe's Get Device ID never completed; the run ended at the hang.
        assert!(t.completions.is_empty());
        assert_eq!(t.end, Instant::ZERO);
        let last = t.events.last().expect("events");
        assert_eq!(
            last.kind,
            EventKind::Phase(Phase::StoppedEarly(why.to_owned()))
        );
        assert!(t.render_timeline().contains("RUN STOPPED EARLY"));
    }

    #[test]
    fn a_zero_time_livelock_at_run_time_stops_in_smi_event_handler() {
        // mainline, no probe: detect starts its capabilities fetch inside
        // the machine, so the request at 1 s is the first start.
        let t = run_spinning(
            "name = \"spin\"\nstop = \"60s\"\n[driver]\nkernel = \"mainline\"\n\
             [[request]]\nat = \"1s\"\nnetfn = 0x06\ncmd = 0x01\n",
            1,
            5_000,
        );
        let why = t.truncated.as_deref().expect("stopped early");
        assert!(
            why.starts_with("zero-time livelock in smi_event_handler at 1.000000s"),
            "{why}"
        );
        assert!(t.registered);
        assert_eq!(t.pending.len(), 1, "{:?}", t.pending);
        assert!(t.stats.sm_events < 5_200, "{:?}", t.stats);
    }

    #[test]
    fn the_default_spin_limit_stops_a_probe_livelock_quickly() {
        // Under the default limits the livelock stops after 100 000 spins,
        // not the 100 M event limit (minutes in a debug build).
        let t = run_spinning(
            "name = \"spin\"\nstop = \"60s\"\n[driver]\nkernel = \"v3.13\"\nprobe = true\n",
            1,
            RunLimits::DEFAULT.max_spin_events,
        );
        let why = t.truncated.as_deref().expect("stopped early");
        assert!(why.contains("wait_for_msg_done"), "{why}");
        assert!(t.stats.sm_events <= 100_100, "{:?}", t.stats);
    }
}
