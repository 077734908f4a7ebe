//! The petting daemon's decisions as a sans-IO state machine ([`PetPolicy`]).
//!
//! The policy never reads a clock, opens a device or sleeps: it is told the
//! time, the answers ([`PetPolicy::on_response`]), the transport's failures
//! ([`PetPolicy::on_transport_error`]), re-opens ([`PetPolicy::on_reopened`])
//! and signals ([`PetPolicy::on_signal`]), and it answers with
//! [`PolicyAction`]s: a command to send, a transport to re-open, a log record,
//! an exit. The same code runs in `bmcwd daemon` (tokio, `/dev/ipmiN` or a
//! simulator socket) and inside the simulator (virtual time, the kernel
//! model and `SimBmc`), so what the simulation proves is what ships.
//!
//! The cycle: arm (Set, then Reset), then every `interval` pet (Reset) and
//! check (Get): a timer that someone else stopped or reconfigured is logged
//! and re-armed (unless [`PolicyConfig::rearm`] is off). One command is
//! outstanding at a time, as on every IPMI system interface.
//!
//! Error policy (documented in `spec-notes/cli.md`, "Daemon"):
//! * transient answers (0xC0, 0xC3, 0xCE, 0xD2, 0xFF, 0x80 after three
//!   re-Sets) and transport timeouts: retry after 0.5 s doubling, capped at
//!   `max_backoff` and the interval;
//! * a lost transport (closed socket, device gone): re-open after the same
//!   backoff, for ever;
//! * a permanent refusal (0xC1, 0xCC, …) of the first Set: exit (the
//!   configuration is wrong and nothing of ours is armed yet);
//! * a permanent refusal of a pet once armed: never exit (exiting leaves the
//!   timer armed and unpetted, a certain reset): pet with a don't-stop Set
//!   instead (it reloads the countdown, IPMI v2.0 §27.6), and if that is
//!   refused too keep retrying at the backoff cap, logging each failure;
//! * SIGHUP is logged and ignored (the configuration is read once at start;
//!   a hung-up terminal must not end a foreground daemon); every other
//!   catchable terminating signal honours [`OnExit`].

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::string::String;
use std::time::Duration;

use crate::codec::{command_name, GetWatchdogResponse, SetWatchdog};
use crate::types::{ExpirationFlags, PreTimeoutInterrupt, TimerAction};
use crate::{CompletionCode, Instant, CMD_GET_WATCHDOG, CMD_RESET_WATCHDOG, CMD_SET_WATCHDOG};

/// First retry delay after a failure; doubles per consecutive failure.
pub const INITIAL_BACKOFF: Duration = Duration::from_millis(500);

/// How many times a pet re-sends the Set when Reset keeps answering 0x80
/// (Linux `ipmi_watchdog.c`, `__ipmi_heartbeat`: at most 3 Sets and 4 Resets).
pub const MAX_SETS_ON_0X80: u32 = 3;

/// What the daemon does with the timer when a signal ends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnExit {
    /// Stop the timer (the machine is no longer watched).
    Stop,
    /// Leave it armed (the BMC acts unless someone else pets it).
    Leave,
}

/// syslog priorities (RFC 5424 §6.2.1) the daemon logs at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogPriority {
    /// 3: an error that ends the daemon or leaves the machine unwatched.
    Err = 3,
    /// 4: something failed but the daemon carries on.
    Warning = 4,
    /// 5: normal but significant (start, stop, recovery).
    Notice = 5,
    /// 6: routine.
    Info = 6,
}

impl LogPriority {
    /// Lower-case name for plain stderr lines.
    pub fn name(self) -> &'static str {
        match self {
            Self::Err => "error",
            Self::Warning => "warning",
            Self::Notice => "notice",
            Self::Info => "info",
        }
    }
}

/// The catchable signals whose default action ends a process (signal(7)),
/// as the policy sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DaemonSignal {
    /// SIGHUP: logged and ignored.
    Hup,
    /// SIGINT.
    Int,
    /// SIGQUIT.
    Quit,
    /// SIGTERM.
    Term,
    /// SIGUSR1.
    Usr1,
    /// SIGUSR2.
    Usr2,
    /// SIGALRM.
    Alrm,
    /// SIGVTALRM.
    Vtalrm,
    /// SIGPROF.
    Prof,
    /// SIGXCPU.
    Xcpu,
    /// SIGXFSZ.
    Xfsz,
    /// SIGPWR.
    Pwr,
    /// SIGIO (SIGPOLL).
    Io,
}

impl DaemonSignal {
    /// Every signal the daemon handles.
    pub const ALL: [Self; 13] = [
        Self::Hup,
        Self::Int,
        Self::Quit,
        Self::Term,
        Self::Usr1,
        Self::Usr2,
        Self::Alrm,
        Self::Vtalrm,
        Self::Prof,
        Self::Xcpu,
        Self::Xfsz,
        Self::Pwr,
        Self::Io,
    ];

    /// `SIGTERM`, …
    pub fn name(self) -> &'static str {
        match self {
            Self::Hup => "SIGHUP",
            Self::Int => "SIGINT",
            Self::Quit => "SIGQUIT",
            Self::Term => "SIGTERM",
            Self::Usr1 => "SIGUSR1",
            Self::Usr2 => "SIGUSR2",
            Self::Alrm => "SIGALRM",
            Self::Vtalrm => "SIGVTALRM",
            Self::Prof => "SIGPROF",
            Self::Xcpu => "SIGXCPU",
            Self::Xfsz => "SIGXFSZ",
            Self::Pwr => "SIGPWR",
            Self::Io => "SIGIO",
        }
    }

    /// Parses `SIGTERM`, `TERM` or `term`.
    pub fn from_name(name: &str) -> Option<Self> {
        let up = name.to_ascii_uppercase();
        let bare = up.strip_prefix("SIG").unwrap_or(&up);
        Self::ALL
            .into_iter()
            .find(|s| s.name().strip_prefix("SIG") == Some(bare))
    }

    /// The Linux signal number (x86, arm, riscv numbering; signal(7)).
    pub fn number(self) -> i32 {
        match self {
            Self::Hup => 1,
            Self::Int => 2,
            Self::Quit => 3,
            Self::Usr1 => 10,
            Self::Usr2 => 12,
            Self::Alrm => 14,
            Self::Term => 15,
            Self::Xcpu => 24,
            Self::Xfsz => 25,
            Self::Vtalrm => 26,
            Self::Prof => 27,
            Self::Io => 29,
            Self::Pwr => 30,
        }
    }

    /// True for the one signal that does not end the daemon (SIGHUP).
    pub fn is_ignored(self) -> bool {
        self == Self::Hup
    }
}

/// A command the policy wants sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyCommand {
    /// Set Watchdog Timer with these fields.
    Set(SetWatchdog),
    /// Reset Watchdog Timer (the pet).
    Reset,
    /// Get Watchdog Timer (the timer-state check).
    Get,
}

impl PolicyCommand {
    /// NetFn of the request (App, 0x06).
    pub fn netfn(&self) -> u8 {
        crate::NETFN_APP
    }
    /// Command number.
    pub fn cmd(&self) -> u8 {
        match self {
            Self::Set(_) => CMD_SET_WATCHDOG,
            Self::Reset => CMD_RESET_WATCHDOG,
            Self::Get => CMD_GET_WATCHDOG,
        }
    }
    /// Request data bytes.
    pub fn data(&self) -> Vec<u8> {
        match self {
            Self::Set(s) => s.encode().to_vec(),
            Self::Reset | Self::Get => Vec::new(),
        }
    }
    /// The command's spec name.
    pub fn name(&self) -> &'static str {
        command_name(self.cmd())
    }
}

/// How a transport failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportFault {
    /// No answer within the command deadline: retry on the same transport.
    Timeout,
    /// The connection or device is gone (closed socket, ENODEV, …): re-open.
    Lost,
}

/// How the daemon ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyExit {
    /// A signal ended it; `stopped` says whether the timer was stopped.
    Signal {
        /// The signal.
        signal: DaemonSignal,
        /// True when the stop Set was acknowledged.
        stopped: bool,
        /// Successful pets.
        pets: u64,
    },
    /// The BMC refused the first Set (nothing of ours armed).
    ArmRefused {
        /// The completion code.
        cc: CompletionCode,
    },
    /// The stop Set on exit failed: the timer may still be armed.
    StopFailed {
        /// The signal that asked for the stop.
        signal: DaemonSignal,
    },
}

/// What the runner must do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyAction {
    /// Send this command, then report its answer or failure.
    Send(PolicyCommand),
    /// Close and re-open the transport, then report with
    /// [`PetPolicy::on_reopened`].
    Reopen,
    /// Record a message.
    Log(LogPriority, String),
    /// End the daemon (no further input is accepted).
    Exit(PolicyExit),
}

/// The policy's configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolicyConfig {
    /// The Set that arms the timer (re-sent on 0x80 and when re-arming).
    pub set: SetWatchdog,
    /// Time between pets.
    pub interval: Duration,
    /// What to do on a terminating signal.
    pub on_exit: OnExit,
    /// Largest retry delay.
    pub max_backoff: Duration,
    /// Re-arm a timer that someone else stopped or reconfigured.
    pub rearm: bool,
}

impl PolicyConfig {
    /// Delay before retry number `failures` (1-based): 500 ms doubling,
    /// capped at `max_backoff` and at the interval.
    pub fn backoff(&self, failures: u32) -> Duration {
        let exp = failures.saturating_sub(1).min(20);
        INITIAL_BACKOFF
            .saturating_mul(1u32 << exp)
            .min(self.max_backoff)
            .min(self.interval)
    }

    /// The largest retry delay actually used.
    pub fn backoff_cap(&self) -> Duration {
        self.max_backoff.min(self.interval)
    }
}

/// How long the kernel can take to finish one message when the BMC stops
/// answering, in the worst case of its BT driver (`ipmi_bt_sm.c`): every
/// attempt times out (`retries` × `req2rsp`), the soft-reset branch holds
/// off (`BT_RESET_DELAY`), and the interface reports busy (LONG_BUSY, 0xC0)
/// for up to one more attempt before the next message gets through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KernelWorstCase {
    /// Attempts that time out before the error response (`retries` of the
    /// BMC's capabilities, at least 1).
    pub retries: u32,
    /// Per-attempt timeout (`req2rsp` of the capabilities).
    pub req2rsp: Duration,
    /// Hold-off after the BT soft reset (`BT_RESET_DELAY`, 6 s).
    pub reset_hold_off: Duration,
    /// Time the interface can stay LONG_BUSY before a message gets through.
    pub long_busy: Duration,
}

impl KernelWorstCase {
    /// Linux 2.6.31 to today with the default capabilities (5 s, 2 retries).
    pub const LINUX_DEFAULT: Self = Self {
        retries: 2,
        req2rsp: Duration::from_secs(5),
        reset_hold_off: Duration::from_secs(6),
        long_busy: Duration::from_secs(5),
    };

    /// `retries` × `req2rsp` + reset hold-off + LONG_BUSY.
    pub fn message(&self) -> Duration {
        self.req2rsp
            .saturating_mul(self.retries.max(1))
            .saturating_add(self.reset_hold_off)
            .saturating_add(self.long_busy)
    }
}

/// Slack for command latencies and the kernel's polling in the bounds.
pub const BOUND_SLACK: Duration = Duration::from_secs(1);

impl PolicyConfig {
    /// The longest gap between two countdown reloads when one command fails
    /// in the kernel's worst way (`k`) on an otherwise healthy BMC: the
    /// interval, the failed command, the first retry delay and slack.
    pub fn worst_pet_gap(&self, k: &KernelWorstCase) -> Duration {
        self.interval
            .saturating_add(k.message())
            .saturating_add(INITIAL_BACKOFF)
            .saturating_add(BOUND_SLACK)
    }

    /// The longest BMC outage the daemon rides out without the timer
    /// expiring: the outage can begin just before a pet is due (an interval
    /// after the last reload), and after it the command in flight can take
    /// the kernel's worst case and the retry the backoff cap. `None` when
    /// no outage at all is safe.
    pub fn max_outage(&self, k: &KernelWorstCase) -> Option<Duration> {
        let used = self
            .interval
            .saturating_add(k.message())
            .saturating_add(self.backoff_cap())
            .saturating_add(BOUND_SLACK);
        self.set
            .initial_countdown
            .as_duration()
            .checked_sub(used)
            .filter(|d| !d.is_zero())
    }

    /// True when one failed command can let the timer expire: a healthy
    /// host could be reset.
    pub fn can_reset_healthy_host(&self, k: &KernelWorstCase) -> bool {
        self.worst_pet_gap(k) >= self.set.initial_countdown.as_duration()
    }
}

/// `use sms-os, action hard-reset, countdown 60.0 s` (and the pre-timeout
/// when there is one), for log lines.
fn describe_set(set: &SetWatchdog) -> String {
    let mut s = format!(
        "use {}, action {}, countdown {:.1} s",
        set.timer_use.cli_name(),
        set.action.cli_name(),
        set.initial_countdown.as_duration().as_secs_f64()
    );
    if set.pretimeout_secs > 0 {
        let _ = write!(s, ", pre-timeout {} s", set.pretimeout_secs);
    }
    s
}

/// The Set that stops the timer armed by `set`: same use and countdown, no
/// action, no pre-timeout, no don't-stop.
pub fn stop_set_for(set: &SetWatchdog) -> SetWatchdog {
    let mut s = *set;
    s.action = TimerAction::None;
    s.pretimeout_irq = PreTimeoutInterrupt::None;
    s.pretimeout_secs = 0;
    s.dont_stop = false;
    s.clear_flags = ExpirationFlags::empty();
    s
}

/// The outstanding command and why it was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pending {
    /// The Set of an arming (first, or re-arming).
    ArmSet,
    /// The Reset that starts the countdown after an arming Set.
    ArmReset,
    /// A pet.
    Pet,
    /// The Set re-sent after 0x80; then Reset again.
    ResetAfter0x80,
    /// A don't-stop Set instead of a Reset (0xD5, or Reset refused).
    SetPet { pretimeout: bool },
    /// The timer-state check: after a pet, or (`pre`, with re-arming off)
    /// before it, so a Reset does not restart a timer someone else stopped.
    Check { pre: bool },
    /// The stop Set on exit.
    Stop(DaemonSignal),
}

/// What the next timed step is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Arm,
    Pet,
    /// Only watch (the timer was stopped by someone else and `rearm` is off).
    Check,
    Reopen,
    /// Send (again) the stop Set a signal asked for.
    Stop(DaemonSignal),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting until `due` to take `step`.
    Due { at: Instant, step: Step },
    /// A command is outstanding.
    Waiting(Pending),
    /// A re-open is outstanding; `step` follows it.
    Reopening(Step),
    /// Exited.
    Done,
}

/// The daemon's decisions (see the module documentation).
#[derive(Debug, Clone)]
pub struct PetPolicy {
    cfg: PolicyConfig,
    phase: Phase,
    out: VecDeque<PolicyAction>,
    /// The timer was armed by us at least once.
    ever_armed: bool,
    /// Consecutive failures.
    failures: u32,
    /// Sets re-sent after 0x80 in this pet.
    resent: u32,
    pets: u64,
    last_pet: Option<Instant>,
    /// Reset was refused permanently: pet with a don't-stop Set.
    pet_by_set: bool,
    /// A terminating signal arrived while a command was outstanding.
    exit_requested: Option<DaemonSignal>,
    /// When the outstanding command was sent (a pet reloads the countdown
    /// no earlier than this).
    sent_at: Instant,
    /// Watching a timer someone else stopped (rearm off).
    foreign_stop: bool,
    /// Stopping on this signal (`--on-exit stop`), retried until the deadline.
    stopping: Option<(DaemonSignal, Instant)>,
    /// A reloaded configuration that arrived while a command was
    /// outstanding: applied once it is answered.
    reload: Option<PolicyConfig>,
    /// A reloaded timer is to be armed at the next step (after a re-open).
    rearm_next: bool,
}

impl PetPolicy {
    /// A policy that arms the timer at `now`.
    pub fn new(cfg: PolicyConfig, now: Instant) -> Self {
        Self {
            cfg,
            phase: Phase::Due {
                at: now,
                step: Step::Arm,
            },
            out: VecDeque::new(),
            ever_armed: false,
            failures: 0,
            resent: 0,
            pets: 0,
            last_pet: None,
            pet_by_set: false,
            exit_requested: None,
            sent_at: now,
            foreign_stop: false,
            stopping: None,
            reload: None,
            rearm_next: false,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &PolicyConfig {
        &self.cfg
    }

    /// Successful pets (the arming Reset not counted).
    pub fn pets(&self) -> u64 {
        self.pets
    }

    /// When the countdown was last reloaded by an acknowledged pet or arming.
    pub fn last_pet(&self) -> Option<Instant> {
        self.last_pet
    }

    /// True once the policy has exited.
    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// True while a command or re-open is outstanding.
    pub fn is_waiting(&self) -> bool {
        matches!(self.phase, Phase::Waiting(_) | Phase::Reopening(_))
    }

    /// When [`tick`](Self::tick) has work to do (None while waiting for an
    /// answer, or after the exit).
    pub fn next_deadline(&self) -> Option<Instant> {
        match self.phase {
            Phase::Due { at, .. } => Some(at),
            _ => None,
        }
    }

    /// The next action for the runner, if any.
    pub fn poll_action(&mut self) -> Option<PolicyAction> {
        self.out.pop_front()
    }

    /// Time has reached `now`: take the step that is due.
    pub fn tick(&mut self, now: Instant) {
        let Phase::Due { at, step } = self.phase else {
            return;
        };
        if now < at {
            return;
        }
        self.sent_at = now;
        match step {
            Step::Arm => self.send_arm(),
            Step::Pet if self.rearm_next => self.send_arm(),
            Step::Pet => self.send_pet(now),
            Step::Check => self.send(Pending::Check { pre: true }, PolicyCommand::Get),
            Step::Reopen => {
                self.phase = Phase::Reopening(match self.stopping {
                    Some((sig, _)) => Step::Stop(sig),
                    None if self.ever_armed => Step::Pet,
                    None => Step::Arm,
                });
                self.out.push_back(PolicyAction::Reopen);
            }
            Step::Stop(sig) => self.send(
                Pending::Stop(sig),
                PolicyCommand::Set(stop_set_for(&self.cfg.set)),
            ),
        }
    }

    fn send_arm(&mut self) {
        self.rearm_next = false;
        self.send(Pending::ArmSet, PolicyCommand::Set(self.cfg.set));
    }

    fn send(&mut self, p: Pending, c: PolicyCommand) {
        self.phase = Phase::Waiting(p);
        self.out.push_back(PolicyAction::Send(c));
    }

    fn send_pet(&mut self, now: Instant) {
        self.resent = 0;
        self.sent_at = now;
        if !self.cfg.rearm {
            self.send(Pending::Check { pre: true }, PolicyCommand::Get);
        } else {
            self.send_pet_now();
        }
    }

    fn send_pet_now(&mut self) {
        if self.pet_by_set {
            self.send(Pending::SetPet { pretimeout: false }, self.dont_stop_set());
        } else {
            self.send(Pending::Pet, PolicyCommand::Reset);
        }
    }

    fn dont_stop_set(&self) -> PolicyCommand {
        let mut s = self.cfg.set;
        s.dont_stop = true;
        PolicyCommand::Set(s)
    }

    fn log(&mut self, p: LogPriority, msg: String) {
        self.out.push_back(PolicyAction::Log(p, msg));
    }

    fn due(&mut self, at: Instant, step: Step) {
        self.phase = Phase::Due { at, step };
    }

    /// Next pet: `interval` after the last acknowledged one (not before now).
    fn schedule_pet(&mut self, now: Instant) {
        let at = self
            .last_pet
            .map_or(now, |t| t.saturating_add(self.cfg.interval))
            .max(now);
        self.due(at, Step::Pet);
    }

    /// The answer to the outstanding command.
    pub fn on_response(&mut self, now: Instant, cc: CompletionCode, data: &[u8]) {
        let Phase::Waiting(p) = self.phase else {
            return;
        };
        if let Pending::Stop(sig) = p {
            if cc.is_ok() {
                self.log(
                    LogPriority::Notice,
                    "watchdog timer stopped; exiting".into(),
                );
                self.exit(PolicyExit::Signal {
                    signal: sig,
                    stopped: true,
                    pets: self.pets,
                });
            } else {
                let e = cc_text(CMD_SET_WATCHDOG, cc);
                self.stop_retry(now, sig, &e, is_transient(cc), false);
            }
            return;
        }
        if cc.is_ok() {
            self.on_ok(now, p, data);
        } else {
            self.on_refused(now, p, cc);
        }
        self.after_answer(now);
    }

    /// Once an answer has been handled: a terminating signal that came
    /// meanwhile, else a reloaded configuration that did.
    fn after_answer(&mut self, now: Instant) {
        if let Some(sig) = self.exit_requested.take() {
            if !self.is_done() {
                self.reload = None;
                self.begin_exit(now, sig);
                return;
            }
        }
        if !self.is_waiting() {
            if let Some(cfg) = self.reload.take() {
                self.reconfigure(now, cfg);
            }
        }
    }

    fn on_ok(&mut self, now: Instant, p: Pending, data: &[u8]) {
        match p {
            Pending::ArmSet => {
                self.sent_at = now;
                self.send(Pending::ArmReset, PolicyCommand::Reset)
            }
            Pending::ResetAfter0x80 => {
                self.sent_at = now;
                self.send(Pending::Pet, PolicyCommand::Reset)
            }
            Pending::ArmReset | Pending::Pet | Pending::SetPet { .. } => {
                self.countdown_reloaded(p);
                if self.cfg.rearm {
                    self.send(Pending::Check { pre: false }, PolicyCommand::Get);
                } else {
                    self.schedule_pet(now);
                }
            }
            Pending::Check { pre } => self.check(now, data, pre),
            Pending::Stop(_) => {}
        }
    }

    fn countdown_reloaded(&mut self, p: Pending) {
        self.last_pet = Some(self.sent_at);
        if let Pending::SetPet { pretimeout: true } = p {
            self.log(
                LogPriority::Warning,
                "the pre-timeout had fired before this pet (Reset answered 0xD5): reloaded \
                 the countdown with a don't-stop Set, as Linux's ipmi_watchdog does after a \
                 pre-timeout — pet more often than the timeout minus the pre-timeout"
                    .into(),
            );
        }
        if p == Pending::ArmReset {
            let secs = self.cfg.set.initial_countdown.as_duration().as_secs_f64();
            let what = if self.ever_armed {
                "watchdog re-armed"
            } else {
                "watchdog armed"
            };
            self.log(
                LogPriority::Notice,
                format!("{what}: {secs:.1} s countdown running"),
            );
            self.ever_armed = true;
            self.foreign_stop = false;
        } else {
            self.pets += 1;
        }
        if self.resent > 0 {
            let n = self.resent;
            self.log(
                LogPriority::Warning,
                format!(
                    "the BMC had lost the watchdog configuration (Reset answered 0x80, BMC \
                     probably reset): re-sent the Set {n} time(s), timer running again"
                ),
            );
            self.resent = 0;
        }
        if self.failures > 0 {
            let n = self.failures;
            self.log(
                LogPriority::Notice,
                format!("BMC answering again after {n} failed attempt(s)"),
            );
            self.failures = 0;
        }
    }

    /// The Get after a pet: is the timer still ours and running?
    fn check(&mut self, now: Instant, data: &[u8], pre: bool) {
        let r = match GetWatchdogResponse::decode_lenient(data) {
            Ok(r) => r,
            Err(e) => {
                // freeipmi's bmc-watchdog stops petting here
                // ("fiid_obj_get: 'timer_state': data not available"); the
                // pet already went through, so carry on and look again next cycle.
                self.log(
                    LogPriority::Warning,
                    format!(
                        "timer-state check: Get Watchdog Timer answered {} data byte(s) ({e}); \
                         cannot tell the timer state this cycle — petting continues",
                        data.len()
                    ),
                );
                self.after_check(now, pre);
                return;
            }
        };
        let want = &self.cfg.set;
        let ours = r.timer_use == Some(want.timer_use)
            && r.action == want.action
            && r.initial_countdown == want.initial_countdown;
        if r.running && ours {
            if self.foreign_stop {
                self.foreign_stop = false;
                self.log(
                    LogPriority::Notice,
                    "the watchdog timer is running with our configuration again".into(),
                );
            }
            self.after_check(now, pre);
            return;
        }
        let mut what = String::new();
        let _ = write!(
            what,
            "use {}, action {}, countdown {:.1} s, {}",
            r.timer_use.map_or("none", |u| u.cli_name()),
            r.action.cli_name(),
            r.initial_countdown.as_duration().as_secs_f64(),
            if r.running { "running" } else { "stopped" }
        );
        let expected = format!(
            "use {}, action {}, countdown {:.1} s, running",
            want.timer_use.cli_name(),
            want.action.cli_name(),
            want.initial_countdown.as_duration().as_secs_f64()
        );
        let how = if r.running {
            "was reconfigured by someone else"
        } else {
            "was stopped by someone else"
        };
        if self.cfg.rearm {
            self.log(
                LogPriority::Warning,
                format!(
                    "timer-state check: the watchdog timer {how} (Get: {what}; expected \
                     {expected}): re-arming"
                ),
            );
            self.send(Pending::ArmSet, PolicyCommand::Set(self.cfg.set));
        } else if r.running {
            if !self.foreign_stop {
                self.log(
                    LogPriority::Warning,
                    format!(
                        "timer-state check: the watchdog timer {how} (Get: {what}; expected \
                         {expected}): not re-arming (--no-rearm); petting it as it is"
                    ),
                );
            }
            self.foreign_stop = true;
            self.after_check(now, pre);
        } else {
            if !self.foreign_stop {
                self.log(
                    LogPriority::Err,
                    format!(
                        "timer-state check: the watchdog timer {how} (Get: {what}; expected \
                         {expected}): not re-arming (--no-rearm) — this machine is NOT \
                         watched; checking again every {:.1} s",
                        self.cfg.interval.as_secs_f64()
                    ),
                );
            }
            self.foreign_stop = true;
            self.due(now.saturating_add(self.cfg.interval), Step::Check);
        }
    }

    /// After a check: pet now (a check before the pet) or at the next cycle.
    fn after_check(&mut self, now: Instant, pre: bool) {
        if pre {
            self.sent_at = now;
            self.send_pet_now();
        } else {
            self.schedule_pet(now);
        }
    }

    fn on_refused(&mut self, now: Instant, p: Pending, cc: CompletionCode) {
        let cmd = match p {
            Pending::ArmSet | Pending::ResetAfter0x80 | Pending::SetPet { .. } => CMD_SET_WATCHDOG,
            Pending::ArmReset | Pending::Pet => CMD_RESET_WATCHDOG,
            Pending::Check { .. } => CMD_GET_WATCHDOG,
            Pending::Stop(_) => CMD_SET_WATCHDOG,
        };
        let text = cc_text(cmd, cc);
        if let Pending::Check { pre } = p {
            self.log(
                LogPriority::Warning,
                format!("timer-state check: {text}; petting continues"),
            );
            self.after_check(now, pre);
            return;
        }
        // The kernel driver's Reset recoveries (`ipmi_watchdog.c`,
        // `__ipmi_heartbeat`): 0x80 → re-Set; 0xD5 → don't-stop Set.
        if matches!(p, Pending::Pet | Pending::ArmReset) {
            if cc == CompletionCode(0x80) && self.resent < MAX_SETS_ON_0X80 {
                self.resent += 1;
                self.send(Pending::ResetAfter0x80, PolicyCommand::Set(self.cfg.set));
                return;
            }
            if cc == CompletionCode::NOT_IN_PRESENT_STATE {
                self.send(Pending::SetPet { pretimeout: true }, self.dont_stop_set());
                return;
            }
        }
        if is_transient(cc) {
            self.failed(now, &text);
            return;
        }
        if !self.ever_armed && matches!(p, Pending::ArmSet | Pending::ArmReset) {
            self.log(LogPriority::Err, format!("{text} — giving up"));
            self.exit(PolicyExit::ArmRefused { cc });
            return;
        }
        if p == Pending::Pet && !self.pet_by_set {
            self.pet_by_set = true;
            self.log(
                LogPriority::Err,
                format!(
                    "{text}: the BMC refuses the pet; petting with a don't-stop Set Watchdog \
                     Timer instead (it reloads the countdown too) — not exiting, which would \
                     leave the timer armed and unpetted"
                ),
            );
            self.send(Pending::SetPet { pretimeout: false }, self.dont_stop_set());
            return;
        }
        // Refused for good while armed: never exit on our own; keep trying
        // at the backoff cap.
        self.failures = self.failures.saturating_add(1);
        let delay = self.cfg.backoff_cap();
        let n = self.failures;
        self.log(
            LogPriority::Err,
            format!(
                "{} refused (attempt {n}): {text}; the BMC may reset this machine — not \
                 exiting; trying again in {:.1} s",
                self.what(),
                delay.as_secs_f64()
            ),
        );
        let step = self.step_after_failure();
        self.due(now.saturating_add(delay), step);
    }

    fn what(&self) -> &'static str {
        if self.ever_armed {
            "pet"
        } else {
            "arming"
        }
    }

    fn step_after_failure(&self) -> Step {
        match self.phase {
            Phase::Waiting(Pending::ArmSet | Pending::ArmReset) => Step::Arm,
            _ if !self.ever_armed => Step::Arm,
            _ => Step::Pet,
        }
    }

    /// A transient failure: retry with backoff.
    fn failed(&mut self, now: Instant, detail: &str) {
        self.failures = self.failures.saturating_add(1);
        let delay = self.cfg.backoff(self.failures);
        let n = self.failures;
        self.log(
            LogPriority::Warning,
            format!(
                "{} failed (attempt {n}): {detail}; retrying in {:.1} s (backoff doubles up to \
                 {:.1} s)",
                self.what(),
                delay.as_secs_f64(),
                self.cfg.backoff_cap().as_secs_f64()
            ),
        );
        let step = self.step_after_failure();
        self.due(now.saturating_add(delay), step);
    }

    /// The outstanding command failed in the transport; `detail` says how.
    pub fn on_transport_error(&mut self, now: Instant, fault: TransportFault, detail: &str) {
        let Phase::Waiting(p) = self.phase else {
            return;
        };
        if let Pending::Stop(sig) = p {
            self.stop_retry(now, sig, detail, true, fault == TransportFault::Lost);
            return;
        }
        if let (Pending::Check { pre }, TransportFault::Timeout) = (p, fault) {
            self.log(
                LogPriority::Warning,
                format!("timer-state check: {detail}; petting continues"),
            );
            self.after_check(now, pre);
        } else if fault == TransportFault::Timeout {
            self.failed(now, detail);
        } else {
            self.failures = self.failures.saturating_add(1);
            let delay = self.cfg.backoff(self.failures);
            let n = self.failures;
            self.log(
                LogPriority::Warning,
                format!(
                    "{} failed (attempt {n}): {detail}; re-opening the connection in {:.1} s",
                    self.what(),
                    delay.as_secs_f64()
                ),
            );
            self.due(now.saturating_add(delay), Step::Reopen);
        }
        self.after_answer(now);
    }

    /// The re-open asked for by [`PolicyAction::Reopen`] finished.
    pub fn on_reopened(&mut self, now: Instant, result: Result<(), &str>) {
        let Phase::Reopening(step) = self.phase else {
            return;
        };
        match result {
            Ok(()) => {
                self.log(LogPriority::Notice, "connection re-opened".into());
                self.due(now, step);
            }
            Err(e) => {
                self.failures = self.failures.saturating_add(1);
                let delay = self.cfg.backoff(self.failures);
                let n = self.failures;
                self.log(
                    LogPriority::Warning,
                    format!(
                        "re-open failed (attempt {n}): {e}; trying again in {:.1} s",
                        delay.as_secs_f64()
                    ),
                );
                self.due(now.saturating_add(delay), Step::Reopen);
            }
        }
        self.after_answer(now);
    }

    /// A reloaded configuration (SIGHUP): from now on the policy works with
    /// `cfg`. A changed timer (use, action, countdown, pre-timeout, flags)
    /// is armed again at once with the new Set; a changed interval moves the
    /// next pet to `interval` after the last one; the other settings apply
    /// from their next use. While a command is outstanding the change waits
    /// for its answer; while stopping on exit it is ignored.
    pub fn reconfigure(&mut self, now: Instant, cfg: PolicyConfig) {
        if self.is_done() || self.stopping.is_some() || self.exit_requested.is_some() {
            self.log(
                LogPriority::Notice,
                "reloaded configuration not applied: exiting".into(),
            );
            return;
        }
        if self.is_waiting() {
            self.reload = Some(cfg);
            return;
        }
        let old = std::mem::replace(&mut self.cfg, cfg);
        let mut changed = Vec::new();
        if old.set != cfg.set {
            changed.push(format!("timer {}", describe_set(&cfg.set)));
        }
        if old.interval != cfg.interval {
            changed.push(format!("interval {:.1} s", cfg.interval.as_secs_f64()));
        }
        if old.on_exit != cfg.on_exit {
            changed.push(format!(
                "on exit: {}",
                match cfg.on_exit {
                    OnExit::Stop => "stop",
                    OnExit::Leave => "leave",
                }
            ));
        }
        if old.max_backoff != cfg.max_backoff {
            changed.push(format!(
                "max backoff {:.1} s",
                cfg.max_backoff.as_secs_f64()
            ));
        }
        if old.rearm != cfg.rearm {
            changed.push(if cfg.rearm { "re-arm" } else { "no re-arm" }.into());
        }
        if changed.is_empty() {
            self.log(
                LogPriority::Notice,
                "configuration reloaded: nothing changed; still petting".into(),
            );
            return;
        }
        let Phase::Due { at, step } = self.phase else {
            return;
        };
        let rearm = old.set != cfg.set && self.ever_armed;
        self.log(
            LogPriority::Notice,
            format!(
                "configuration reloaded: {}{}",
                changed.join(", "),
                if rearm {
                    "; re-arming with the new timer settings"
                } else {
                    ""
                }
            ),
        );
        if rearm {
            // The new Set, then a Reset, as at start; the next pet follows
            // `interval` after it.
            self.foreign_stop = false;
            if step == Step::Reopen {
                self.rearm_next = true;
            } else {
                self.failures = 0;
                self.due(now, Step::Arm);
            }
        } else if step == Step::Pet && old.interval != cfg.interval && self.failures == 0 {
            self.schedule_pet(now);
        } else if step == Step::Check && old.interval != cfg.interval {
            self.due(at.min(now.saturating_add(cfg.interval)), Step::Check);
        }
    }

    /// A signal arrived.
    pub fn on_signal(&mut self, now: Instant, sig: DaemonSignal) {
        if self.is_done() {
            return;
        }
        if sig.is_ignored() {
            self.log(
                LogPriority::Notice,
                format!(
                    "received {}: ignored (the configuration is read once at start: restart \
                     to change it); still petting",
                    sig.name()
                ),
            );
            return;
        }
        if self.stopping.is_some() {
            return;
        }
        if self.is_waiting() {
            self.exit_requested.get_or_insert(sig);
            return;
        }
        self.begin_exit(now, sig);
    }

    fn begin_exit(&mut self, now: Instant, sig: DaemonSignal) {
        let name = sig.name();
        match self.cfg.on_exit {
            OnExit::Stop => {
                let deadline = now.saturating_add(self.cfg.set.initial_countdown.as_duration());
                self.stopping = Some((sig, deadline));
                self.failures = 0;
                self.log(
                    LogPriority::Notice,
                    format!("received {name}: stopping the watchdog timer (--on-exit stop)"),
                );
                self.send(
                    Pending::Stop(sig),
                    PolicyCommand::Set(stop_set_for(&self.cfg.set)),
                );
            }
            OnExit::Leave => {
                let msg = if self.ever_armed {
                    format!(
                        "received {name}: leaving the watchdog timer ARMED (--on-exit leave): \
                         the BMC will {} within {:.1} s unless something pets it",
                        self.cfg.set.action.cli_name(),
                        self.cfg.set.initial_countdown.as_duration().as_secs_f64()
                    )
                } else {
                    format!(
                        "received {name} before the timer was armed: leaving it as it is \
                         (--on-exit leave)"
                    )
                };
                self.log(LogPriority::Warning, msg);
                self.exit(PolicyExit::Signal {
                    signal: sig,
                    stopped: false,
                    pets: self.pets,
                });
            }
        }
    }

    /// The stop Set failed: retry it with backoff while that can still
    /// matter (until one countdown after the signal: by then an armed timer
    /// has fired anyway), else give up saying the timer may be armed.
    fn stop_retry(
        &mut self,
        now: Instant,
        sig: DaemonSignal,
        detail: &str,
        retry: bool,
        reopen: bool,
    ) {
        let deadline = self.stopping.map_or(now, |s| s.1);
        self.failures = self.failures.saturating_add(1);
        let delay = self.cfg.backoff(self.failures);
        let at = now.saturating_add(delay);
        if retry && at < deadline {
            let n = self.failures;
            self.log(
                LogPriority::Warning,
                format!(
                    "could not stop the watchdog timer (attempt {n}): {detail}; {} in {:.1} s",
                    if reopen {
                        "re-opening the connection and retrying"
                    } else {
                        "retrying"
                    },
                    delay.as_secs_f64()
                ),
            );
            self.due(
                at,
                if reopen {
                    Step::Reopen
                } else {
                    Step::Stop(sig)
                },
            );
        } else {
            self.stop_failed(sig, detail);
        }
    }

    fn stop_failed(&mut self, sig: DaemonSignal, detail: &str) {
        self.log(
            LogPriority::Err,
            format!(
                "could not stop the watchdog timer: {detail} — it may still be ARMED: the BMC \
                 will {} within {:.1} s unless it is stopped or petted",
                self.cfg.set.action.cli_name(),
                self.cfg.set.initial_countdown.as_duration().as_secs_f64()
            ),
        );
        self.exit(PolicyExit::StopFailed { signal: sig });
    }

    fn exit(&mut self, e: PolicyExit) {
        self.phase = Phase::Done;
        self.out.push_back(PolicyAction::Exit(e));
    }
}

/// Completion codes a retry may clear: busy, timeout, out of space,
/// initialising, unspecified, and 0x80 once the re-Sets are used up.
pub fn is_transient(cc: CompletionCode) -> bool {
    matches!(cc.0, 0xC0 | 0xC3 | 0xCE | 0xD2 | 0xFF | 0x80)
}

/// `Reset Watchdog Timer failed: 0xC0 (Node Busy)`.
fn cc_text(cmd: u8, cc: CompletionCode) -> String {
    format!(
        "{} failed: 0x{:02X} ({})",
        command_name(cmd),
        cc.0,
        cc.describe_for(crate::NETFN_APP, cmd)
    )
}

#[cfg(test)]
mod tests;
