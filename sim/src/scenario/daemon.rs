//! A petting daemon in host userspace (`[daemon]`): `bmcwd`'s own policy
//! ([`ipmi_watchdog::PetPolicy`], the code `bmcwd daemon` runs) or a model of
//! freeipmi's `bmc-watchdog -d` loop, sending its commands through the kernel
//! model (message handler, SI layer, BT state machine) to the simulated BMC,
//! whose watchdog runs in virtual time. A watchdog expiry with an action is a
//! host reset: the run ends there.

use core::time::Duration;

use ipmi_vocab::Instant;
use ipmi_watchdog::{
    CompletionCode, Countdown, DaemonSignal, GetWatchdogResponse, OnExit, PetPolicy, PolicyAction,
    PolicyCommand, PolicyConfig, PolicyExit, SetWatchdog, TimerAction, TimerUse, TransportFault,
};
use serde::{Deserialize, Serialize};

/// Which daemon runs (`kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DaemonKind {
    /// `bmcwd daemon`: [`ipmi_watchdog::PetPolicy`].
    #[default]
    Bmcwd,
    /// freeipmi's `bmc-watchdog -d` (`bmc-watchdog/bmc-watchdog.c`,
    /// `_daemon_setup` and `_daemon_cmd`), as modelled here.
    BmcWatchdog,
}

impl DaemonKind {
    /// `bmcwd` or `bmc-watchdog`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Bmcwd => "bmcwd",
            Self::BmcWatchdog => "bmc-watchdog",
        }
    }
}

/// A signal sent to the daemon (`[[daemon.signal]]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignalSpec {
    /// When.
    #[serde(with = "super::duration_text")]
    pub at: Duration,
    /// `SIGTERM`, `HUP`, … (the catchable terminating signals).
    pub signal: String,
}

fn default_action() -> String {
    "hard-reset".into()
}
fn default_on_exit() -> String {
    "stop".into()
}
fn default_backoff() -> Duration {
    Duration::from_secs(8)
}
fn default_cmd_timeout() -> Duration {
    Duration::from_secs(20)
}
fn yes() -> bool {
    true
}

/// The host-userspace daemon (`[daemon]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DaemonSpec {
    /// `bmcwd` (default) or `bmc-watchdog`.
    #[serde(default)]
    pub kind: DaemonKind,
    /// When the daemon starts.
    #[serde(default, with = "super::duration_text")]
    pub start: Duration,
    /// The watchdog countdown it sets (`--timeout` / `-i`).
    #[serde(with = "super::duration_text")]
    pub timeout: Duration,
    /// Pet interval (`--interval` / `-e`); default a third of the timeout
    /// (bmcwd) or 60 s (bmc-watchdog).
    #[serde(
        default,
        with = "super::duration_text::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub interval: Option<Duration>,
    /// Timeout action: `hard-reset`, `power-down`, `power-cycle`, `none`.
    #[serde(default = "default_action")]
    pub action: String,
    /// bmcwd: `stop` or `leave` (`--on-exit`).
    #[serde(default = "default_on_exit")]
    pub on_exit: String,
    /// bmcwd: largest retry delay (`--max-backoff`).
    #[serde(default = "default_backoff", with = "super::duration_text")]
    pub max_backoff: Duration,
    /// bmcwd: re-arm a timer someone else stopped (`--no-rearm` = false).
    #[serde(default = "yes")]
    pub rearm: bool,
    /// How long the daemon waits for one answer before it gives up on it
    /// (bmcwd `--cmd-timeout`; freeipmi's driver waits as long).
    #[serde(default = "default_cmd_timeout", with = "super::duration_text")]
    pub cmd_timeout: Duration,
    /// Signals sent to it.
    #[serde(default, rename = "signal", skip_serializing_if = "Vec::is_empty")]
    pub signals: Vec<SignalSpec>,
}

impl DaemonSpec {
    /// The pet interval in use.
    pub fn interval(&self) -> Duration {
        self.interval.unwrap_or(match self.kind {
            DaemonKind::Bmcwd => {
                let third = u64::try_from((self.timeout / 3).as_millis()).unwrap_or(u64::MAX);
                Duration::from_millis(third).max(Duration::from_millis(100))
            }
            DaemonKind::BmcWatchdog => Duration::from_secs(60),
        })
    }

    /// Checks the fields; the message names what is wrong.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        Countdown::from_duration(self.timeout)
            .ok()
            .filter(|c| c.ticks() > 0)
            .ok_or(("daemon.timeout", "must be 100ms..6553.5s".to_string()))?;
        if self.interval().is_zero() || self.interval() >= self.timeout {
            return Err((
                "daemon.interval",
                "must be above zero and shorter than the timeout".into(),
            ));
        }
        self.action
            .parse::<TimerAction>()
            .map_err(|e| ("daemon.action", e.to_string()))?;
        if !matches!(self.on_exit.as_str(), "stop" | "leave") {
            return Err(("daemon.on_exit", "expected stop or leave".into()));
        }
        if self.max_backoff.is_zero() || self.cmd_timeout.is_zero() {
            return Err((
                "daemon.max_backoff",
                "max_backoff and cmd_timeout must be above zero".into(),
            ));
        }
        for s in &self.signals {
            DaemonSignal::from_name(&s.signal).ok_or((
                "daemon.signal",
                format!(
                    "unknown signal {:?}, expected one of {}",
                    s.signal,
                    DaemonSignal::ALL.map(|s| s.name()).join(", ")
                ),
            ))?;
        }
        Ok(())
    }

    /// The Set the daemon arms with.
    pub fn set(&self) -> SetWatchdog {
        let countdown = Countdown::from_duration(self.timeout).unwrap_or(Countdown::from_ticks(1));
        let action = self.action.parse().unwrap_or(TimerAction::HardReset);
        let mut s = SetWatchdog::new(TimerUse::SmsOs, action, countdown);
        s.dont_stop = self.kind == DaemonKind::Bmcwd;
        s
    }

    /// bmcwd's policy configuration.
    pub fn policy(&self) -> PolicyConfig {
        PolicyConfig {
            set: self.set(),
            interval: self.interval(),
            on_exit: if self.on_exit == "leave" {
                OnExit::Leave
            } else {
                OnExit::Stop
            },
            max_backoff: self.max_backoff,
            rearm: self.rearm,
        }
    }
}

/// What a daemon model asks of the host.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Out {
    Send(PolicyCommand),
    Log(String),
    Exit(String),
}

/// freeipmi `bmc-watchdog -d` (from `bmc-watchdog.c` and its manual): set
/// up with Get (refuse a running timer), Set, Reset, retrying each after
/// 1 s; then every reset period (`-e`, default 60 s, minus the time the
/// cycle took): Get; a Get that fails (an error code, or an answer without
/// the timer fields: `fiid_obj_get: 'timer_state': data not available`) is
/// logged and the cycle skipped — no pet until the next period; a stopped
/// timer ends the daemon ("timer stopped by another process"); else Reset.
/// SIGTERM/SIGINT/SIGQUIT stop the timer (Get, then Set with the stop bit)
/// and exit; other signals kill it with the timer armed.
#[derive(Debug, Clone)]
struct BmcWatchdog {
    set: SetWatchdog,
    period: Duration,
    phase: BwPhase,
    due: Option<Instant>,
    cycle_start: Instant,
    out: std::collections::VecDeque<Out>,
    shutdown: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BwPhase {
    SetupGet,
    SetupSet,
    SetupReset,
    LoopGet,
    LoopReset,
    StopGet,
    StopSet,
    Done,
}

impl BmcWatchdog {
    fn new(set: SetWatchdog, period: Duration, start: Instant) -> Self {
        Self {
            set,
            period,
            phase: BwPhase::SetupGet,
            due: Some(start),
            cycle_start: start,
            out: Default::default(),
            shutdown: false,
        }
    }

    fn send(&mut self, phase: BwPhase) {
        self.phase = phase;
        self.due = None;
        let c = match phase {
            BwPhase::SetupSet => PolicyCommand::Set(self.set),
            BwPhase::StopSet => {
                let mut s = self.set;
                s.dont_stop = false;
                PolicyCommand::Set(s)
            }
            BwPhase::SetupReset | BwPhase::LoopReset => PolicyCommand::Reset,
            _ => PolicyCommand::Get,
        };
        self.out.push_back(Out::Send(c));
    }

    fn tick(&mut self, now: Instant) {
        if self.due.is_some_and(|d| d <= now) {
            if self.phase == BwPhase::LoopGet {
                self.cycle_start = now;
            }
            self.send(self.phase);
        }
    }

    /// `sleep_now:` — the period minus the whole seconds the cycle took.
    fn sleep(&mut self, now: Instant) {
        if self.shutdown {
            self.send(BwPhase::StopGet);
            return;
        }
        let took = Duration::from_secs(now.saturating_duration_since(self.cycle_start).as_secs());
        let nap = if took < self.period {
            self.period - took
        } else {
            self.period
        };
        self.phase = BwPhase::LoopGet;
        self.due = Some(now.saturating_add(nap));
    }

    fn retry(&mut self, now: Instant, what: &str, err: &str) {
        // _daemon_cmd_error_exit: log, sleep BMC_WATCHDOG_RETRY_WAIT_TIME (1 s).
        self.out.push_back(Out::Log(format!("{what} {err}")));
        self.due = Some(now.saturating_add(Duration::from_secs(1)));
    }

    fn on_answer(&mut self, now: Instant, cc: CompletionCode, data: &[u8]) {
        let err = if data.len() < GetWatchdogResponse::LEN
            && matches!(
                self.phase,
                BwPhase::SetupGet | BwPhase::LoopGet | BwPhase::StopGet
            ) {
            self.out.push_back(Out::Log(
                "_get_watchdog_timer_cmd: fiid_obj_get: 'timer_state': data not available".into(),
            ));
            Some("Error: Invalid argument".to_string())
        } else if !cc.is_ok() {
            Some(format!("IPMI Error: {:X}h", cc.0))
        } else {
            None
        };
        let running = GetWatchdogResponse::decode_lenient(data).map(|r| r.running);
        match (self.phase, err) {
            (BwPhase::SetupGet, Some(e)) => self.retry(now, "Get Watchdog Timer", &e),
            (BwPhase::SetupGet, None) => {
                if running == Ok(true) {
                    self.out.push_back(Out::Log(
                        "Error: watchdog timer must be stopped before running daemon".into(),
                    ));
                    self.finish("exited: the timer was already running");
                } else {
                    self.send(BwPhase::SetupSet);
                }
            }
            (BwPhase::SetupSet, Some(e)) => self.retry(now, "Set Watchdog Timer", &e),
            (BwPhase::SetupSet, None) => self.send(BwPhase::SetupReset),
            (BwPhase::SetupReset, Some(e)) => self.retry(now, "Reset Watchdog Timer", &e),
            (BwPhase::SetupReset, None) => {
                self.out
                    .push_back(Out::Log("starting bmc-watchdog daemon".into()));
                self.cycle_start = now;
                self.send(BwPhase::LoopGet);
            }
            (BwPhase::LoopGet, Some(e)) => {
                self.out
                    .push_back(Out::Log(format!("Get Watchdog Timer {e}")));
                self.sleep(now);
            }
            (BwPhase::LoopGet, None) => {
                if running == Ok(false) {
                    self.out
                        .push_back(Out::Log("timer stopped by another process".into()));
                    self.finish("exited: timer stopped by another process (left as it is)");
                } else {
                    self.send(BwPhase::LoopReset);
                }
            }
            (BwPhase::LoopReset, e) => {
                if let Some(e) = e {
                    self.out
                        .push_back(Out::Log(format!("Reset Watchdog Timer {e}")));
                }
                self.sleep(now);
            }
            (BwPhase::StopGet, Some(e)) => {
                self.out
                    .push_back(Out::Log(format!("Get Watchdog Timer {e}")));
                self.send(BwPhase::StopGet);
            }
            (BwPhase::StopGet, None) => self.send(BwPhase::StopSet),
            (BwPhase::StopSet, Some(e)) => {
                self.out
                    .push_back(Out::Log(format!("Set Watchdog Timer {e}")));
                self.send(BwPhase::StopSet);
            }
            (BwPhase::StopSet, None) => self.finish("exited: timer stopped"),
            (BwPhase::Done, _) => {}
        }
    }

    fn finish(&mut self, why: &str) {
        self.out
            .push_back(Out::Log("stopping bmc-watchdog daemon".into()));
        self.out.push_back(Out::Exit(why.into()));
        self.phase = BwPhase::Done;
        self.due = None;
    }

    fn on_signal(&mut self, now: Instant, sig: DaemonSignal) {
        if self.phase == BwPhase::Done {
            return;
        }
        match sig {
            // _daemon_cmd installs _signal_handler for these three only.
            DaemonSignal::Term | DaemonSignal::Int | DaemonSignal::Quit => {
                self.shutdown = true;
                // The handler interrupts the sleep; the loop ends.
                if self.phase == BwPhase::LoopGet && self.due.is_some() {
                    self.sleep(now);
                }
            }
            other => {
                self.out.push_back(Out::Exit(format!(
                    "killed by {} (not handled: default action), timer left ARMED",
                    other.name()
                )));
                self.phase = BwPhase::Done;
                self.due = None;
            }
        }
    }
}

#[derive(Debug, Clone)]
enum Model {
    Bmcwd(Box<PetPolicy>),
    BmcWatchdog(BmcWatchdog),
}

/// The daemon as the runner drives it.
#[derive(Debug, Clone)]
pub(crate) struct HostDaemon {
    kind: DaemonKind,
    model: Model,
    cmd_timeout: Duration,
    /// Message id and deadline of the outstanding command.
    outstanding: Option<(u32, Instant)>,
    signals: Vec<(Instant, DaemonSignal)>,
    exited: bool,
    /// Commands accepted by the BMC that reload the countdown, by time.
    pub(crate) reloads: Vec<Instant>,
    last_cmd: Option<PolicyCommand>,
}

/// What the runner must do for the daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HostAction {
    /// Submit `[NetFn<<2, cmd, data…]` and report its id with [`HostDaemon::sent`].
    Submit(Vec<u8>),
    /// Record a daemon log line.
    Log(String),
}

impl HostDaemon {
    pub(crate) fn new(spec: &DaemonSpec) -> Self {
        let start = Instant::ZERO + spec.start;
        let model = match spec.kind {
            DaemonKind::Bmcwd => Model::Bmcwd(Box::new(PetPolicy::new(spec.policy(), start))),
            DaemonKind::BmcWatchdog => {
                Model::BmcWatchdog(BmcWatchdog::new(spec.set(), spec.interval(), start))
            }
        };
        let mut signals: Vec<(Instant, DaemonSignal)> = spec
            .signals
            .iter()
            .filter_map(|s| Some((Instant::ZERO + s.at, DaemonSignal::from_name(&s.signal)?)))
            .collect();
        signals.sort_by_key(|s| s.0);
        Self {
            kind: spec.kind,
            model,
            cmd_timeout: spec.cmd_timeout,
            outstanding: None,
            signals,
            exited: false,
            reloads: Vec::new(),
            last_cmd: None,
        }
    }

    pub(crate) fn kind(&self) -> DaemonKind {
        self.kind
    }

    /// When the daemon next needs the clock.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        if self.exited {
            return None;
        }
        let model = match &self.model {
            Model::Bmcwd(p) => p.next_deadline(),
            Model::BmcWatchdog(b) => b.due,
        };
        let times = [
            model,
            self.outstanding.map(|o| o.1),
            self.signals.first().map(|s| s.0),
        ];
        times.into_iter().flatten().min()
    }

    /// Time has reached `now`.
    pub(crate) fn due(&mut self, now: Instant) -> Vec<HostAction> {
        if self.exited {
            return Vec::new();
        }
        while let Some(&(t, sig)) = self.signals.first() {
            if t > now {
                break;
            }
            self.signals.remove(0);
            match &mut self.model {
                Model::Bmcwd(p) => p.on_signal(now, sig),
                Model::BmcWatchdog(b) => b.on_signal(now, sig),
            }
        }
        if let Some((_, deadline)) = self.outstanding {
            if deadline <= now {
                self.outstanding = None;
                let what = self.last_cmd.map_or("command", |c| c.name());
                let detail = format!(
                    "{what} timed out after {:.1} s with no response",
                    self.cmd_timeout.as_secs_f64()
                );
                match &mut self.model {
                    Model::Bmcwd(p) => p.on_transport_error(now, TransportFault::Timeout, &detail),
                    Model::BmcWatchdog(b) => b.on_answer(now, CompletionCode(0xFF), &[]),
                }
            }
        }
        if self.outstanding.is_none() {
            match &mut self.model {
                Model::Bmcwd(p) => p.tick(now),
                Model::BmcWatchdog(b) => b.tick(now),
            }
        }
        self.drain()
    }

    /// The message handler gave the submitted command id `id`.
    pub(crate) fn sent(&mut self, id: u32, now: Instant) {
        self.outstanding = Some((id, now.saturating_add(self.cmd_timeout)));
    }

    /// True when `id` is the command the daemon waits for.
    pub(crate) fn waits_for(&self, id: u32) -> bool {
        self.outstanding.is_some_and(|o| o.0 == id)
    }

    /// The answer to the outstanding command (response bytes after NetFn and cmd).
    pub(crate) fn answered(
        &mut self,
        now: Instant,
        cc: CompletionCode,
        data: &[u8],
    ) -> Vec<HostAction> {
        self.outstanding = None;
        if cc.is_ok() {
            if let Some(
                PolicyCommand::Reset
                | PolicyCommand::Set(SetWatchdog {
                    dont_stop: true, ..
                }),
            ) = self.last_cmd
            {
                self.reloads.push(now);
            }
        }
        match &mut self.model {
            Model::Bmcwd(p) => p.on_response(now, cc, data),
            Model::BmcWatchdog(b) => b.on_answer(now, cc, data),
        }
        self.drain()
    }

    fn drain(&mut self) -> Vec<HostAction> {
        let mut v = Vec::new();
        loop {
            let out = match &mut self.model {
                Model::Bmcwd(p) => match p.poll_action() {
                    None => None,
                    Some(PolicyAction::Send(c)) => Some(Out::Send(c)),
                    Some(PolicyAction::Log(pr, m)) => Some(Out::Log(format!("{}: {m}", pr.name()))),
                    // No re-open in the simulation: the kernel's device stays.
                    Some(PolicyAction::Reopen) => {
                        p.on_reopened(Instant::ZERO, Ok(()));
                        continue;
                    }
                    Some(PolicyAction::Exit(e)) => Some(Out::Exit(match e {
                        PolicyExit::Signal {
                            signal, stopped, ..
                        } => format!(
                            "exited on {}: timer {}",
                            signal.name(),
                            if stopped { "stopped" } else { "left ARMED" }
                        ),
                        PolicyExit::ArmRefused { cc } => {
                            format!("exited: the first Set was refused (0x{:02X})", cc.0)
                        }
                        PolicyExit::StopFailed { .. } => {
                            "exited: the stop failed, timer may be ARMED".into()
                        }
                    })),
                },
                Model::BmcWatchdog(b) => b.out.pop_front(),
            };
            match out {
                None => break,
                Some(Out::Send(c)) => {
                    self.last_cmd = Some(c);
                    let mut bytes = vec![c.netfn() << 2, c.cmd()];
                    bytes.extend_from_slice(&c.data());
                    v.push(HostAction::Submit(bytes));
                }
                Some(Out::Log(m)) => v.push(HostAction::Log(m)),
                Some(Out::Exit(m)) => {
                    self.exited = true;
                    v.push(HostAction::Log(m));
                }
            }
        }
        v
    }
}

/// The kernel's worst case for one message (see
/// [`ipmi_watchdog::KernelWorstCase`]) for a kernel preset talking to a BMC
/// with these BT capabilities: 2006+ designs use the capabilities'
/// `req2rsp` and `retries` (at least one attempt, `bt_detect` in
/// `ipmi_bt_sm.c`), the 2005 design its fixed 2 s × 3 attempts; every
/// design can take the 6 s reset hold-off and one more attempt's LONG_BUSY.
pub fn kernel_worst_case(
    preset: crate::KernelPreset,
    caps: crate::BtCapabilities,
) -> ipmi_watchdog::KernelWorstCase {
    let (retries, req2rsp) = match preset.behaviour().design {
        ipmi_bt_sm::Design::Y2005 => (3, Duration::from_secs(2)),
        ipmi_bt_sm::Design::Y2006 => (
            u32::from(caps.retries).max(1),
            Duration::from_secs(u64::from(caps.req2rsp_secs).max(1)),
        ),
    };
    ipmi_watchdog::KernelWorstCase {
        retries,
        req2rsp,
        reset_hold_off: Duration::from_secs(6),
        long_busy: req2rsp,
    }
}
