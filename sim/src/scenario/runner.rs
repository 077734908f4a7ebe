//! Runs a [`Scenario`]: the host (BT state machine + SI layer model) against the
//! simulated BMC on one virtual clock, jumping from deadline to deadline.
//!
//! ```
//! use bmc_sim::scenario::{runner, Scenario};
//!
//! let sc = Scenario::from_toml_str(r#"
//!     name = "one"
//!     stop = "1s"
//!     [[request]]
//!     at = "10ms"
//!     netfn = 0x06
//!     cmd = 0x01
//! "#).unwrap();
//! let trace = runner::run(&sc);
//! assert_eq!(trace.completions.len(), 1);
//! assert!(trace.completions[0].cc.is_ok());
//! ```

use std::collections::VecDeque;
use std::time::Duration;

use ipmi_bt_sm::{Behaviour, BtSm, KernelProfile, PrintkEra};

use crate::bmc::{BmcConfig, BmcEventKind, BtCapabilities, SimBmc};
use crate::bmc::fault::{Fault, FaultAction, FaultPlan, Trigger};
use crate::scenario::{BmcPreset, FaultKindName, FaultSpec, KernelPreset, Scenario, SiProfileName};
use crate::host::sched::{NextEvent, Source};
use crate::host::si::{Bus, ProbeOutcome, SiDriver, SiEnv, SiMsg, SiProfile, SimDevice};
use crate::time::SimTime;
use crate::scenario::trace::{
    Completion, Event, EventKind, KernelLog, Origin, Pending, RunStats, Trace,
    DEFAULT_DEVICE_PREFIX,
};

impl<E: crate::bmc::device::DeviceEvents> SimDevice for SimBmc<E> {
    fn advance(&mut self, now: SimTime) {
        SimBmc::advance(self, now);
    }
    fn next_deadline(&self) -> Option<SimTime> {
        SimBmc::next_deadline(self)
    }
    fn irq_line(&self) -> bool {
        self.device().irq_line()
    }
}

/// The host-driver behaviour a scenario resolves to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DriverChoice {
    /// The named preset the choice started from.
    pub preset: KernelPreset,
    /// BT state-machine profile.
    pub bt: KernelProfile,
    /// Its switches, adjusted for the preset (e.g. printk joining of 2.6.31+).
    pub behaviour: Behaviour,
    /// SI-layer profile.
    pub si: SiProfile,
}

/// The BT and SI profiles of a kernel preset (see `spec-notes/si-driver.md`).
pub fn preset_profiles(p: KernelPreset) -> (KernelProfile, SiProfile) {
    match p {
        KernelPreset::V2_6_12 => (KernelProfile::Linux2005, SiProfile::PRE_2014),
        KernelPreset::V3_13 => (KernelProfile::CapsInSm, SiProfile::PRE_2014),
        KernelPreset::V3_14 => (KernelProfile::CapsInSm, SiProfile::V2014),
        KernelPreset::V4_14 => (KernelProfile::CapsInSmTimeoutFix, SiProfile::V2016),
        KernelPreset::V4_19 => (KernelProfile::Mainline2018, SiProfile::V2016),
        KernelPreset::Mainline => (KernelProfile::Mainline, SiProfile::CURRENT),
        KernelPreset::FixedReset => (KernelProfile::FixedReset, SiProfile::CURRENT),
        KernelPreset::FixedB8 => (KernelProfile::Proposed, SiProfile::CURRENT),
    }
}

/// The SI profile for a scenario name.
pub fn si_profile(n: SiProfileName) -> SiProfile {
    match n {
        SiProfileName::Pre2014 => SiProfile::PRE_2014,
        SiProfileName::V2014 => SiProfile::V2014,
        SiProfileName::V2016 => SiProfile::V2016,
        SiProfileName::V2020 => SiProfile::V2020,
        SiProfileName::Current => SiProfile::CURRENT,
    }
}

impl Scenario {
    /// The driver behaviour this scenario selects (preset plus overrides).
    pub fn driver_choice(&self) -> DriverChoice {
        let (mut bt, mut si) = preset_profiles(self.driver.kernel);
        if let Some(name) = &self.driver.bt {
            if let Some(p) = KernelProfile::from_name(name) {
                bt = p;
            }
        }
        if let Some(n) = self.driver.si {
            si = si_profile(n);
        }
        let mut behaviour = bt.behaviour();
        // bt-sm's CapsInSm models 2.6.20-2.6.30 printk joining; the v3.x presets
        // are 2.6.31+ kernels, where a levelled printk always starts a line.
        if matches!(
            self.driver.kernel,
            KernelPreset::V3_13 | KernelPreset::V3_14
        ) && self.driver.bt.is_none()
        {
            behaviour.printk = PrintkEra::Modern;
        }
        behaviour.debug = self.driver.bt_debug;
        DriverChoice {
            preset: self.driver.kernel,
            bt,
            behaviour,
            si,
        }
    }

    /// The simulated BMC's configuration.
    pub fn bmc_config(&self) -> BmcConfig {
        let b = &self.bmc;
        let mut cfg = match b.preset {
            BmcPreset::Default => BmcConfig::default(),
            BmcPreset::Qemu => BmcConfig::qemu(),
            BmcPreset::Openbmc => BmcConfig::openbmc(),
        };
        if let Some(l) = b.latency {
            cfg.response_latency = Duration::from_nanos(l.0);
        }
        if let Some(l) = b.take_latency {
            cfg.take_latency = Duration::from_nanos(l.0);
        }
        if let Some(l) = b.jitter {
            cfg.latency_jitter = Duration::from_nanos(l.0);
        }
        if let Some(l) = b.boot_time {
            cfg.boot_time = Duration::from_nanos(l.0);
        }
        if let Some(v) = b.b_busy_until_response {
            cfg.b_busy_until_response = v;
        }
        if let Some(v) = b.unanswered_holds_b_busy {
            cfg.unanswered_holds_b_busy = v;
        }
        if let Some(c) = &b.caps {
            cfg.bt_caps = BtCapabilities {
                outstanding: c.outstanding,
                input_size: c.input_size,
                output_size: c.output_size,
                req2rsp_secs: c.req2rsp_secs,
                retries: c.retries,
            };
        }
        if let Some(w) = &b.watchdog {
            if let Ok(p) = w.parse() {
                cfg.watchdog_profile = p;
            }
        }
        cfg.seed = self.seed;
        cfg
    }

    /// The fault schedule as the BMC's [`FaultPlan`].
    pub fn fault_plan(&self) -> FaultPlan {
        let mut plan = FaultPlan::new();
        for f in &self.faults {
            let fault = fault_of(f);
            let trigger = match (f.at, f.at_command) {
                (_, Some(n)) => Trigger::AtCommand(n),
                (Some(t), None) => Trigger::At(SimTime::from_nanos(t.0)),
                (None, None) => Trigger::At(SimTime::ZERO),
            };
            let action = match f.duration {
                Some(d) if !fault.kind().is_instant() => {
                    FaultAction::StartFor(fault, Duration::from_nanos(d.0))
                }
                _ => FaultAction::Start(fault),
            };
            plan = plan.with(trigger, action);
        }
        plan
    }
}

fn fault_of(f: &FaultSpec) -> Fault {
    use FaultKindName as K;
    let d = |x: Option<crate::scenario::Dur>| x.map(|v| Duration::from_nanos(v.0));
    match f.kind {
        K::Silent => Fault::Silent,
        K::StuckBusy => Fault::StuckBBusy,
        K::NeverClearH2b => Fault::NeverClearH2bAtn,
        K::HoldBusy => Fault::HangAfterTake,
        K::Slow => Fault::SlowResponse {
            latency: d(f.latency).unwrap_or_default(),
        },
        K::LoseResponses => Fault::LoseResponses { count: f.count },
        K::RandomLoss => Fault::RandomLoss {
            per_mille: f.per_mille.unwrap_or(0),
        },
        K::WrongSeq => Fault::WrongSeq {
            seq_delta: f.seq_delta.unwrap_or(1),
            correct_after: d(f.correct_after),
        },
        K::StaleResponse => Fault::StaleResponse {
            correct_after: d(f.correct_after),
        },
        K::DuplicateResponse => Fault::DuplicateResponse,
        K::CorruptLength => Fault::CorruptLength {
            len: f.len.unwrap_or(0),
        },
        K::StuckB2h => Fault::B2hAtnStuck,
        K::ReadsFf => Fault::RegistersFF,
        K::BmcReset => Fault::BmcReset {
            keep_watchdog: f.keep_watchdog.unwrap_or(false),
        },
        K::Reconnect => Fault::Reconnect,
        K::IgnoreCommand => Fault::IgnoreCommand {
            netfn: f.netfn.unwrap_or(0),
            cmd: f.cmd.unwrap_or(0),
        },
        K::ErrorResponse => Fault::ErrorResponse {
            cc: f.cc.unwrap_or(0xFF),
        },
    }
}

/// Where the workload is: which `[[request]]` entry and copy comes next, and when.
#[derive(Debug, Clone)]
struct Workload {
    entry: usize,
    copy: u32,
    /// Submission time of the next copy (None: waiting for `wait_for` or done).
    next: Option<SimTime>,
    /// Back-to-back: submit the next copy when this message completes.
    wait_for: Option<u32>,
    last_id: Option<u32>,
}

/// Work and memory limits of one run. A scenario that needs more (a year of
/// polling every jiffy with `fast_forward = false`, ten million back-to-back
/// requests, a register trace of a day) is stopped early: the trace ends
/// where the limit was hit, says why in [`Trace::truncated`] and in a
/// `Phase` event, and keeps everything recorded so far. The defaults keep a
/// run under about a minute and a gigabyte.
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
}

impl RunLimits {
    /// The limits [`run`] uses.
    pub const DEFAULT: Self = Self {
        max_steps: 20_000_000,
        max_sm_events: 100_000_000,
        max_records: 2_000_000,
        max_register_records: 8_000_000,
    };
}

impl Default for RunLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A run in progress; [`run`] drives one to its stop time. Use it directly to
/// step a scenario or to inspect state between steps.
pub struct Simulation {
    scenario: Scenario,
    choice: DriverChoice,
    sm: BtSm,
    bus: Bus<SimBmc>,
    si: SiDriver,
    log: KernelLog,
    events: Vec<Event>,
    stats: RunStats,
    completions: Vec<Completion>,
    lost: Vec<SiMsg>,
    queue: VecDeque<SiMsg>,
    outstanding: Option<u32>,
    workload: Workload,
    next_id: u32,
    stop: SimTime,
    started: bool,
    registered: bool,
    unload_at: Option<SimTime>,
    unloaded: bool,
    verbose_bmc: bool,
    /// Outstanding messages whose user gets events (`gets_events`).
    event_waiters: Vec<u32>,
    /// Next tick of the message handler's one-second timer, while it runs.
    msghandler_tick: Option<SimTime>,
    limits: RunLimits,
    /// Why the run stopped before its stop time, once a limit was hit.
    truncated: Option<String>,
}

impl Simulation {
    /// Set up a run (nothing happens until [`run_until`](Self::run_until)).
    pub fn new(sc: &Scenario) -> Self {
        let choice = sc.driver_choice();
        let sm = BtSm::with_behaviour(choice.behaviour);
        let mut bmc = SimBmc::new(sc.bmc_config());
        bmc.set_faults(sc.fault_plan());
        let record = sc.trace.registers;
        // Fast-forward skips register reads, so an exact register trace needs it off.
        let ff = sc.driver.fast_forward && !record;
        let si = SiDriver::new(choice.si, sc.driver.hz.0, sc.driver.irq, ff);
        let log = KernelLog::new(sm.behaviour().printk, DEFAULT_DEVICE_PREFIX);
        let first = sc
            .requests
            .first()
            .map(|r| SimTime::from_nanos(r.at.map_or(0, |d| d.0)));
        Self {
            scenario: sc.clone(),
            choice,
            sm,
            bus: Bus::new(bmc, record),
            si,
            log,
            events: Vec::new(),
            stats: RunStats::default(),
            completions: Vec::new(),
            lost: Vec::new(),
            queue: VecDeque::new(),
            outstanding: None,
            workload: Workload {
                entry: 0,
                copy: 0,
                next: first,
                wait_for: None,
                last_id: None,
            },
            next_id: 1,
            stop: SimTime::from_nanos(sc.stop.0),
            started: false,
            registered: false,
            unload_at: sc.driver.unload_at.map(|d| SimTime::from_nanos(d.0)),
            unloaded: false,
            verbose_bmc: record,
            event_waiters: Vec::new(),
            msghandler_tick: None,
            limits: RunLimits::DEFAULT,
            truncated: None,
        }
    }

    /// Replace the work and memory limits (default [`RunLimits::DEFAULT`]).
    pub fn set_limits(&mut self, limits: RunLimits) {
        self.limits = limits;
    }

    /// Why the run stopped before its stop time, if a [`RunLimits`] limit
    /// was hit.
    pub fn truncated(&self) -> Option<&str> {
        self.truncated.as_deref()
    }

    /// The first limit the run is over, as a message for people.
    fn over_limit(&self) -> Option<String> {
        let l = &self.limits;
        if self.stats.steps >= l.max_steps {
            return Some(format!(
                "step limit of {} reached (a long stop with fast_forward = false, or very dense requests); shorten `stop` or thin the workload",
                l.max_steps
            ));
        }
        if self.stats.sm_events >= l.max_sm_events {
            return Some(format!(
                "state-machine event limit of {} reached (a long stop with fast_forward = false?); shorten `stop`",
                l.max_sm_events
            ));
        }
        let records =
            self.events.len() + self.completions.len() + self.log.lines().len() + self.queue.len();
        if records >= l.max_records {
            return Some(format!(
                "record limit of {} events, completions, log lines and queued messages reached; shorten `stop` or reduce `repeat`",
                l.max_records
            ));
        }
        if self.bus.regs.len() >= l.max_register_records {
            return Some(format!(
                "register trace limit of {} accesses reached; shorten `stop` or set `[trace] registers = false`",
                l.max_register_records
            ));
        }
        None
    }

    /// The driver behaviour in use.
    pub fn driver_choice(&self) -> DriverChoice {
        self.choice
    }
    /// Current virtual time.
    pub fn now(&self) -> SimTime {
        self.bus.now()
    }
    /// The BT state machine (read-only).
    pub fn sm(&self) -> &BtSm {
        &self.sm
    }
    /// The simulated BMC (read-only).
    pub fn bmc(&self) -> &SimBmc {
        &self.bus.dev
    }
    /// Completions so far.
    pub fn completions(&self) -> &[Completion] {
        &self.completions
    }

    fn env_parts(&mut self) -> (&mut SiDriver, SiEnv<'_, SimBmc>) {
        let env = SiEnv {
            sm: &mut self.sm,
            bus: &mut self.bus,
            log: &mut self.log,
            events: &mut self.events,
            stats: &mut self.stats,
            stop: self.stop,
            limits: self.limits,
        };
        (&mut self.si, env)
    }

    /// Probe (detect, optional Get Device ID) and registration at time 0.
    fn start(&mut self) {
        self.started = true;
        // Faults scheduled at time 0 are in force before the driver loads.
        self.bus.advance(SimTime::ZERO);
        self.collect();
        let probe = self.scenario.driver.probe;
        let mut next_id = self.next_id;
        let (si, mut env) = self.env_parts();
        let outcome = si.probe(&mut env, probe, &mut next_id);
        if outcome == ProbeOutcome::Registered {
            if probe {
                // try_smi_init: "Start clearing the flags before we enable
                // interrupts or the timer to avoid racing with the timer."
                si.start_clear_flags(&mut env);
            }
            si.start_processing(&mut env);
        }
        self.next_id = next_id;
        self.collect();
        self.registered = outcome == ProbeOutcome::Registered;
        if self.registered && probe {
            // ipmi_register_smi: the message handler's own Get Device ID.
            let id = self.alloc_id();
            let now = self.now();
            self.queue.push_front(SiMsg {
                id,
                origin: Origin::Handler,
                data: vec![0x06 << 2, 0x01],
                submitted: now,
                started: None,
            });
            self.events.push(Event {
                t: now,
                kind: EventKind::Submit { id },
            });
        }
        self.feed();
        self.collect();
    }

    fn alloc_id(&mut self) -> u32 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Run until virtual time `until` (clamped to the scenario's stop time).
    pub fn run_until(&mut self, until: SimTime) {
        if self.truncated.is_some() {
            return;
        }
        let until = until.min(self.stop);
        if !self.started {
            self.start();
        }
        let mut same_t = 0u32;
        let mut last_t = self.now();
        let mut last_progress = (self.next_id, self.completions.len());
        loop {
            if let Some(why) = self.over_limit() {
                let now = self.now();
                self.events.push(Event {
                    t: now,
                    kind: EventKind::Phase(format!("run stopped early: {why}")),
                });
                self.truncated = Some(why);
                return;
            }
            let mut n = NextEvent::new();
            n.offer(Source::Bmc, self.bus.dev.next_deadline());
            if self.registered && !self.unloaded {
                n.offer(Source::Timer, self.si.timer_deadline());
            }
            n.offer(Source::MsgHandler, self.msghandler_tick);
            n.offer(
                Source::Workload,
                self.workload.next.map(|t| t.max(self.now())),
            );
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
            let progress = (self.next_id, self.completions.len());
            if t == last_t && progress == last_progress {
                same_t += 1;
                if same_t > 100_000 {
                    self.events.push(Event {
                        t,
                        kind: EventKind::Phase(
                            "scheduler stalled: no progress at this instant".into(),
                        ),
                    });
                    break;
                }
            } else {
                same_t = 0;
                last_t = t;
                last_progress = progress;
            }
            self.stats.steps += 1;
            {
                let (si, mut env) = self.env_parts();
                si.catch_up_before(&mut env, t);
            }
            self.bus.advance(t);
            self.collect();
            match src {
                Source::Timer => {
                    let (si, mut env) = self.env_parts();
                    si.timer_expired(&mut env);
                }
                Source::Workload => self.workload_due(t),
                Source::MsgHandler => self.msghandler_timeout(t),
                Source::Unload => {
                    self.unload_at = None;
                    self.unloaded = true;
                    let (si, mut env) = self.env_parts();
                    si.shutdown(&mut env);
                }
                Source::Bmc | Source::Irq | Source::Stop => {}
            }
            {
                let (si, mut env) = self.env_parts();
                si.poll_irq(&mut env);
            }
            self.collect();
            self.feed();
            self.collect();
        }
        if until > self.now() {
            self.bus.advance(until);
            self.collect();
        }
    }

    /// `ipmi_msghandler.c` `ipmi_timeout`, every `IPMI_TIMEOUT_TIME` (1 s)
    /// while needed: with event waiters, `ipmi_request_event` each tick
    /// (`IPMI_REQUEST_EV_TIME` = 1 tick). Without waiters the timer stops.
    fn msghandler_timeout(&mut self, t: SimTime) {
        if self.event_waiters.is_empty() {
            self.msghandler_tick = None;
            return;
        }
        self.msghandler_tick = Some(t + Duration::from_secs(1));
        if self.registered && !self.unloaded {
            let (si, mut env) = self.env_parts();
            si.request_events(&mut env);
            self.collect();
        }
    }

    /// Submit the workload copies due at `t`.
    fn workload_due(&mut self, t: SimTime) {
        while let Some(next) = self.workload.next {
            if next > t {
                break;
            }
            let Some(entry) = self.scenario.requests.get(self.workload.entry).cloned() else {
                self.workload.next = None;
                break;
            };
            let id = self.alloc_id();
            let mut data = Vec::with_capacity(2 + entry.data.len());
            data.push(entry.netfn << 2);
            data.push(entry.cmd);
            data.extend_from_slice(&entry.data);
            let origin = Origin::Workload {
                entry: self.workload.entry as u32,
                copy: self.workload.copy,
            };
            self.queue.push_back(SiMsg {
                id,
                origin,
                data,
                submitted: t,
                started: None,
            });
            self.events.push(Event {
                t,
                kind: EventKind::Submit { id },
            });
            if entry.gets_events {
                // ipmi_set_gets_events -> need_waiter: the one-second timer
                // starts if it is not running.
                self.event_waiters.push(id);
                if self.msghandler_tick.is_none() {
                    self.msghandler_tick = Some(t + Duration::from_secs(1));
                }
            }
            self.workload.last_id = Some(id);
            // Advance the cursor.
            if self.workload.copy + 1 < entry.repeat {
                self.workload.copy += 1;
                match entry.interval {
                    Some(iv) => self.workload.next = Some(next + Duration::from_nanos(iv.0)),
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
                    Some(Some(at)) => self.workload.next = Some(SimTime::from_nanos(at.0).max(t)),
                    Some(None) => {
                        self.workload.next = None;
                        self.workload.wait_for = Some(id);
                    }
                }
            }
        }
        self.feed();
    }

    /// The message handler keeps one message outstanding at the SI layer.
    fn feed(&mut self) {
        if !self.registered || self.unloaded || self.outstanding.is_some() || !self.si.can_accept()
        {
            return;
        }
        let Some(msg) = self.queue.pop_front() else {
            return;
        };
        self.outstanding = Some(msg.id);
        let (si, mut env) = self.env_parts();
        if let Err(back) = si.sender(&mut env, msg) {
            self.outstanding = None;
            self.queue.push_front(back);
        }
        self.collect();
    }

    /// Move delivered responses, lost messages and BMC events into the trace.
    fn collect(&mut self) {
        for d in self.si.take_delivered() {
            let cc = ipmi_bt_sm::CompletionCode(d.response.get(2).copied().unwrap_or(0xFF));
            let id = d.msg.id;
            let index = self.completions.len();
            self.completions.push(Completion {
                id,
                origin: d.msg.origin,
                request: d.msg.data,
                submitted: d.msg.submitted,
                started: d.msg.started.unwrap_or(d.msg.submitted),
                completed: d.at,
                response: d.response,
                cc,
                synthesized: d.synthesized,
            });
            self.events.push(Event {
                t: d.at,
                kind: EventKind::Complete { index },
            });
            if self.outstanding == Some(id) {
                self.outstanding = None;
            }
            // The user has its answer (ipmitool closes the device).
            self.event_waiters.retain(|&w| w != id);
            if self.workload.wait_for == Some(id) {
                self.workload.wait_for = None;
                self.workload.next = Some(d.at);
            }
        }
        for m in self.si.take_lost() {
            if self.outstanding == Some(m.id) {
                // The message handler never hears back: it stays outstanding.
                self.events.push(Event {
                    t: self.bus.now(),
                    kind: EventKind::Phase(format!(
                        "message #{} dropped by the SI layer without a response",
                        m.id
                    )),
                });
            }
            self.lost.push(m);
        }
        let verbose = self.verbose_bmc;
        let evs: Vec<_> = self.bus.dev.drain_events().collect();
        for e in evs {
            let kind = match e.kind {
                BmcEventKind::FaultStarted(f) => EventKind::FaultOn(f.to_string()),
                BmcEventKind::FaultStopped(k) => EventKind::FaultOff(k.to_string()),
                BmcEventKind::RequestTaken { .. }
                | BmcEventKind::ResponsePosted { .. }
                | BmcEventKind::RequestDropped { .. }
                    if !verbose =>
                {
                    continue
                }
                other => EventKind::Bmc(format!("{other:?}")),
            };
            self.events.push(Event { t: e.at, kind });
        }
    }

    /// Finish: the trace of everything so far.
    pub fn into_trace(mut self) -> Trace {
        self.collect();
        let mut pending = Vec::new();
        let to_pending = |m: &SiMsg| Pending {
            id: m.id,
            origin: m.origin,
            request: m.data.clone(),
            submitted: m.submitted,
            started: m.started,
        };
        for m in self.si.in_flight() {
            pending.push(to_pending(m));
        }
        for m in &self.lost {
            pending.push(to_pending(m));
        }
        for m in &self.queue {
            pending.push(to_pending(m));
        }
        pending.sort_by_key(|p| p.id);
        // Events were pushed in time order except BMC events collected late; sort stably.
        self.events.sort_by_key(|e| e.t);
        let sc = &self.scenario;
        let driver = format!(
            "kernel {:?}: bt {} + si {} ({}), HZ={}, {}{}",
            self.choice.preset,
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
        self.stats.reg_accesses = self.bus.accesses();
        Trace {
            name: sc.name.clone(),
            driver,
            end,
            events: self.events,
            completions: self.completions,
            pending,
            log: self.log.into_lines(),
            registers,
            registered: self.registered,
            stats: self.stats,
            truncated: self.truncated,
        }
    }
}

/// Run a scenario to its stop time and return what happened.
pub fn run(sc: &Scenario) -> Trace {
    let mut sim = Simulation::new(sc);
    let stop = SimTime::from_nanos(sc.stop.0);
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
                .map(|c| (c.request.clone(), c.completed == done))
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
}
