//! The petting daemon's runtime: the decisions are [`ipmi_watchdog::PetPolicy`]
//! (sans-IO, shared with the simulator); this module feeds it tokio time, the
//! transport's answers and failures, re-opens and signals, and carries out
//! what it asks (send, re-open, log, exit).
//!
//! The loop runs on tokio time, so tests drive it with paused time; signals
//! arrive on a channel, so tests inject them.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use ipmi_watchdog::{
    DaemonSignal, PetPolicy, PolicyAction, PolicyConfig, PolicyExit, SetWatchdog, TransportFault,
};
use tokio::sync::mpsc::UnboundedReceiver;

use crate::client::{Client, ClientError};
use crate::output::set_summary;
use crate::transport::{command_name, Request, Transport, TransportError, CMD_RESET_WATCHDOG};

pub use ipmi_watchdog::{LogPriority as Priority, OnExit, INITIAL_BACKOFF};

/// Where daemon messages go.
pub trait Logger {
    /// Records one message.
    fn log(&mut self, priority: Priority, msg: &str);
}

/// Logs to stderr: plain `bmcwd: warning: …` lines, or with `--log journal`
/// `<4>…` prefixes, which journald (and `systemd-cat`) turn into priorities
/// (sd-daemon(3), "SD_WARNING").
#[derive(Debug, Clone, Copy)]
pub struct StderrLogger {
    /// Emit `<N>` prefixes instead of names.
    pub journal: bool,
}

impl StderrLogger {
    /// Formats one line (without the newline).
    pub fn format(&self, priority: Priority, msg: &str) -> String {
        if self.journal {
            format!("<{}>{msg}", priority as u8)
        } else {
            format!("bmcwd: {}: {msg}", priority.name())
        }
    }
}

impl Logger for StderrLogger {
    fn log(&mut self, priority: Priority, msg: &str) {
        // Unlike `eprintln!`, a closed stderr (e.g. a journald pipe gone away)
        // is ignored instead of panicking.
        let mut e = std::io::stderr().lock();
        let _ = e.write_all(format!("{}\n", self.format(priority, msg)).as_bytes());
        let _ = e.flush();
    }
}

/// Why a daemon configuration is refused (before anything is sent).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Pet interval not shorter than the countdown.
    #[error(
        "--interval {interval} is not shorter than --timeout {timeout}: the timer would expire \
         between pets; use an interval well below the timeout (default: a third of it)"
    )]
    IntervalTooLong {
        /// Interval in seconds text.
        interval: String,
        /// Timeout in seconds text.
        timeout: String,
    },
    /// Zero interval.
    #[error("--interval must be at least 100ms")]
    IntervalZero,
    /// Zero backoff cap.
    #[error("--max-backoff must be at least 100ms")]
    BackoffZero,
}

/// A validated daemon configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonConfig {
    /// The Set that arms the timer (re-sent on 0x80).
    pub set: SetWatchdog,
    /// Time between pets.
    pub interval: Duration,
    /// What to do on SIGTERM/SIGINT.
    pub on_exit: OnExit,
    /// Largest retry delay.
    pub max_backoff: Duration,
    /// Where to record the Set for later `bmcwd reset` runs.
    pub state_file: Option<PathBuf>,
    /// Re-arm a timer that someone else stopped or reconfigured (default
    /// true; `--no-rearm` turns it off).
    pub rearm: bool,
}

impl DaemonConfig {
    /// Validates: `0 < interval < timeout` (default interval: a third of the
    /// timeout, at least 100 ms) and a non-zero backoff cap.
    pub fn new(
        set: SetWatchdog,
        interval: Option<Duration>,
        on_exit: OnExit,
        max_backoff: Duration,
        state_file: Option<PathBuf>,
    ) -> Result<Self, ConfigError> {
        let timeout = set.initial_countdown.as_duration();
        let interval = interval.unwrap_or_else(|| {
            let third = u64::try_from((timeout / 3).as_millis()).unwrap_or(u64::MAX);
            Duration::from_millis(third).max(Duration::from_millis(100))
        });
        if interval.is_zero() {
            return Err(ConfigError::IntervalZero);
        }
        if interval >= timeout {
            return Err(ConfigError::IntervalTooLong {
                interval: format!("{:.1}s", interval.as_secs_f64()),
                timeout: format!("{:.1}s", timeout.as_secs_f64()),
            });
        }
        if max_backoff.is_zero() {
            return Err(ConfigError::BackoffZero);
        }
        Ok(Self {
            set,
            interval,
            on_exit,
            max_backoff,
            state_file,
            rearm: true,
        })
    }

    /// The policy's view of this configuration.
    pub fn policy(&self) -> PolicyConfig {
        PolicyConfig {
            set: self.set,
            interval: self.interval,
            on_exit: self.on_exit,
            max_backoff: self.max_backoff,
            rearm: self.rearm,
        }
    }

    /// Delay before retry number `failures` (1-based): 500 ms doubling, capped
    /// at `max_backoff` and at the pet interval, so a retry always comes
    /// before the next regular pet would have.
    pub fn backoff(&self, failures: u32) -> Duration {
        self.policy().backoff(failures)
    }
}

/// How the daemon ended normally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonExit {
    /// The signal (or reason) that ended it.
    pub signal: String,
    /// Whether the timer was stopped (false: left armed).
    pub stopped: bool,
    /// Successful pets.
    pub pets: u64,
}

/// Why the daemon ended with an error.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The BMC refused the first Set (the configuration; nothing armed).
    #[error("{0} — giving up (the timer may still be armed)")]
    Fatal(ClientError),
    /// Told to stop the timer on exit, but the stop failed.
    #[error("could not stop the watchdog on exit: {0} — the timer may still be ARMED")]
    StopFailed(ClientError),
}

impl DaemonError {
    /// The underlying client error.
    pub fn client_error(&self) -> &ClientError {
        match self {
            Self::Fatal(e) | Self::StopFailed(e) => e,
        }
    }
}

/// A configuration re-read on SIGHUP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reloaded {
    /// The new settings (validated).
    pub config: DaemonConfig,
    /// Warnings to log about them (an unsafe timing, settings that only a
    /// restart applies).
    pub warnings: Vec<String>,
}

/// What a SIGHUP does: re-read the configuration. `Ok(None)`: there is no
/// configuration file to re-read; `Err`: the file is invalid (the message
/// names file, line and key), and the daemon keeps its settings.
pub type ReloadResult = Result<Option<Reloaded>, String>;

/// Arms the timer and pets it until a terminating signal arrives on
/// `signals`; `reopen` makes a fresh transport when the policy asks for one
/// (connection or device lost); on SIGHUP `reload` re-reads the
/// configuration, and a valid one replaces `cfg` (an invalid one is logged
/// and the daemon carries on as it was).
pub async fn run<T, R, H>(
    client: &mut Client<T>,
    cfg: &DaemonConfig,
    mut signals: UnboundedReceiver<DaemonSignal>,
    log: &mut dyn Logger,
    mut reopen: R,
    mut reload: H,
) -> Result<DaemonExit, DaemonError>
where
    T: Transport,
    R: FnMut() -> Result<T, TransportError>,
    H: FnMut() -> ReloadResult,
{
    let mut cfg = cfg.clone();
    let cfg = &mut cfg;
    log.log(
        Priority::Notice,
        &format!(
            "starting on {}: {}; petting every {:.1} s; on exit: {}{}",
            client.describe(),
            set_summary(&cfg.set),
            cfg.interval.as_secs_f64(),
            match cfg.on_exit {
                OnExit::Stop => "stop the timer",
                OnExit::Leave => "leave the timer armed",
            },
            if cfg.rearm {
                ""
            } else {
                "; not re-arming a timer stopped by others"
            }
        ),
    );
    if let Some(path) = &cfg.state_file {
        if let Err(e) = crate::statefile::save(path, &cfg.set) {
            log.log(
                Priority::Warning,
                &format!("cannot write state file {}: {e}", path.display()),
            );
        }
    }
    let start = tokio::time::Instant::now();
    let now = || {
        ipmi_watchdog::Instant::from_nanos(
            u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX),
        )
    };
    let mut policy = PetPolicy::new(cfg.policy(), now());
    let mut last_error: Option<ClientError> = None;
    let mut signals_open = true;
    let mut pets_answered: u64 = 0;
    loop {
        while let Some(action) = policy.poll_action() {
            match action {
                PolicyAction::Log(p, msg) => log.log(p, &msg),
                PolicyAction::Send(cmd) => {
                    let req = Request {
                        netfn: cmd.netfn(),
                        cmd: cmd.cmd(),
                        data: cmd.data(),
                    };
                    match client.send(&req) {
                        Ok(resp) => {
                            if resp.cc.is_ok()
                                && req.netfn & !1 == 0x06
                                && req.cmd == CMD_RESET_WATCHDOG
                            {
                                pets_answered += 1;
                                log.log(Priority::Info, &format!("pet {pets_answered} answered"));
                            }
                            if !resp.cc.is_ok() {
                                last_error = Some(ClientError::Completion {
                                    command: command_name(req.netfn, req.cmd),
                                    netfn: req.netfn,
                                    cmd: req.cmd,
                                    cc: resp.cc,
                                });
                            }
                            policy.on_response(now(), resp.cc, &resp.data);
                        }
                        Err(e) => {
                            let fault = match e {
                                TransportError::Timeout { .. } => TransportFault::Timeout,
                                _ => TransportFault::Lost,
                            };
                            let detail = e.to_string();
                            last_error = Some(ClientError::Transport(e));
                            policy.on_transport_error(now(), fault, &detail);
                        }
                    }
                }
                PolicyAction::Reopen => match reopen() {
                    Ok(t) => {
                        client.replace_transport(t);
                        policy.on_reopened(now(), Ok(()));
                    }
                    Err(e) => policy.on_reopened(now(), Err(&e.to_string())),
                },
                PolicyAction::Exit(e) => return exit(e, last_error),
            }
        }
        let sleep = match policy.next_deadline() {
            Some(t) => {
                let at = start + t.since_start();
                tokio::time::sleep_until(at)
            }
            // Nothing due and nothing outstanding cannot happen before the
            // exit; sleep long rather than spin.
            None => tokio::time::sleep(Duration::from_secs(3600)),
        };
        tokio::select! {
            sig = signals.recv(), if signals_open => match sig {
                Some(DaemonSignal::Hup) => on_hup(&mut policy, now(), cfg, log, &mut reload),
                Some(sig) => policy.on_signal(now(), sig),
                None => signals_open = false,
            },
            () = sleep => policy.tick(now()),
        }
    }
}

/// SIGHUP: re-read the configuration; apply a valid one, keep the current
/// one on an error (spec-notes/cli.md, "Daemon").
fn on_hup(
    policy: &mut PetPolicy,
    now: ipmi_watchdog::Instant,
    cfg: &mut DaemonConfig,
    log: &mut dyn Logger,
    reload: &mut dyn FnMut() -> ReloadResult,
) {
    match reload() {
        Ok(None) => log.log(
            Priority::Notice,
            "received SIGHUP: no configuration file to reload (none was read at start); \
             still petting",
        ),
        Err(e) => log.log(
            Priority::Err,
            &format!(
                "received SIGHUP: the configuration is invalid, keeping the current settings: {e}"
            ),
        ),
        Ok(Some(r)) => {
            log.log(Priority::Notice, "received SIGHUP: configuration re-read");
            for w in &r.warnings {
                log.log(Priority::Warning, w);
            }
            let new = DaemonConfig {
                state_file: cfg.state_file.clone(),
                ..r.config
            };
            if new.set != cfg.set {
                if let Some(path) = &new.state_file {
                    if let Err(e) = crate::statefile::save(path, &new.set) {
                        log.log(
                            Priority::Warning,
                            &format!("cannot write state file {}: {e}", path.display()),
                        );
                    }
                }
            }
            policy.reconfigure(now, new.policy());
            *cfg = new;
        }
    }
}

fn exit(e: PolicyExit, last: Option<ClientError>) -> Result<DaemonExit, DaemonError> {
    let last = || {
        last.unwrap_or_else(|| {
            ClientError::Transport(TransportError::Invalid("no answer recorded".into()))
        })
    };
    match e {
        PolicyExit::Signal {
            signal,
            stopped,
            pets,
        } => Ok(DaemonExit {
            signal: signal.name().to_string(),
            stopped,
            pets,
        }),
        PolicyExit::ArmRefused { .. } => Err(DaemonError::Fatal(last())),
        PolicyExit::StopFailed { .. } => Err(DaemonError::StopFailed(last())),
    }
}

#[cfg(test)]
mod tests;
