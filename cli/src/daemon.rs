//! The petting daemon: arm the timer (Set + Reset), pet it (Reset) at an
//! interval, survive transient BMC errors with bounded exponential backoff,
//! and on SIGTERM/SIGINT stop the timer or leave it armed — always saying which.
//!
//! The loop runs on tokio time, so tests drive it with paused time; the
//! shutdown signal is any future, so tests inject it.

use std::future::Future;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use ipmi_watchdog::{PreTimeoutInterrupt, SetWatchdog, TimerAction};

use crate::client::{Client, ClientError};
use crate::output::{secs, set_summary};
use crate::transport::Transport;

/// First retry delay after a failed pet; doubles per failure.
pub const INITIAL_BACKOFF: Duration = Duration::from_millis(500);

/// What the daemon does with the timer when told to exit (SIGTERM/SIGINT).
///
/// The command line's `--on-exit` converts into this, so the daemon does not
/// depend on the argument parser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnExit {
    /// Stop the timer (the machine is no longer watched).
    Stop,
    /// Leave it armed (the BMC acts unless someone else pets it).
    Leave,
}

/// syslog priorities (RFC 5424 §6.2.1) the daemon logs at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Priority {
    /// 3: an error that ends the daemon or leaves the machine unwatched.
    Err = 3,
    /// 4: something failed but the daemon carries on.
    Warning = 4,
    /// 5: normal but significant (start, stop, recovery).
    Notice = 5,
    /// 6: routine.
    Info = 6,
}

impl Priority {
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
        })
    }

    /// Delay before retry number `failures` (1-based): 500 ms doubling, capped
    /// at `max_backoff` and at the pet interval, so a retry always comes
    /// before the next regular pet would have.
    pub fn backoff(&self, failures: u32) -> Duration {
        let exp = failures.saturating_sub(1).min(20);
        INITIAL_BACKOFF
            .saturating_mul(1u32 << exp)
            .min(self.max_backoff)
            .min(self.interval)
    }
}

/// The Set that stops the timer armed by `set`: same use and countdown, no
/// action, no pre-timeout, no don't-stop.
pub(crate) fn stop_for(set: &SetWatchdog) -> SetWatchdog {
    let mut s = *set;
    s.action = TimerAction::None;
    s.pretimeout_irq = PreTimeoutInterrupt::None;
    s.pretimeout_secs = 0;
    s.dont_stop = false;
    s.clear_flags = ipmi_watchdog::ExpirationFlags::empty();
    s
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
    /// A BMC error retrying cannot fix (missing device, command refused).
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

/// Arms the timer and pets it until `shutdown` resolves (to a signal name).
pub async fn run<T, F>(
    client: &mut Client<T>,
    cfg: &DaemonConfig,
    shutdown: F,
    log: &mut dyn Logger,
) -> Result<DaemonExit, DaemonError>
where
    T: Transport,
    F: Future<Output = String>,
{
    tokio::pin!(shutdown);
    let timeout_text = secs(cfg.set.initial_countdown);
    log.log(
        Priority::Notice,
        &format!(
            "starting on {}: {}; petting every {:.1} s; on exit: {}",
            client.describe(),
            set_summary(&cfg.set),
            cfg.interval.as_secs_f64(),
            match cfg.on_exit {
                OnExit::Stop => "stop the timer",
                OnExit::Leave => "leave the timer armed",
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

    let mut armed = false;
    let mut failures: u32 = 0;
    let mut pets: u64 = 0;
    let mut next = Duration::ZERO;
    loop {
        tokio::select! {
            sig = &mut shutdown => {
                return finish(client, cfg, sig, armed, pets, log);
            }
            () = tokio::time::sleep(next) => {}
        }
        let result = if armed {
            client.pet(Some(&cfg.set))
        } else {
            client
                .set(&cfg.set)
                .and_then(|()| client.pet(Some(&cfg.set)))
        };
        match result {
            Ok(outcome) => {
                let recovered = outcome.resets_recovered;
                if outcome.pretimeout_reload {
                    log.log(
                        Priority::Warning,
                        "the pre-timeout had fired before this pet (Reset answered 0xD5): \
                         reloaded the countdown with a don't-stop Set, as Linux's \
                         ipmi_watchdog does after a pre-timeout — pet more often than the \
                         timeout minus the pre-timeout",
                    );
                }
                if !armed {
                    log.log(
                        Priority::Notice,
                        &format!("watchdog armed: {timeout_text} s countdown running"),
                    );
                    armed = true;
                } else {
                    pets += 1;
                }
                if recovered > 0 {
                    log.log(
                        Priority::Warning,
                        &format!(
                            "the BMC had lost the watchdog configuration (Reset answered 0x80, \
                             BMC probably reset): re-sent the Set {recovered} time(s), timer \
                             running again"
                        ),
                    );
                }
                if failures > 0 {
                    log.log(
                        Priority::Notice,
                        &format!("BMC answering again after {failures} failed attempt(s)"),
                    );
                    failures = 0;
                }
                next = cfg.interval;
            }
            Err(e) if e.is_transient() => {
                failures = failures.saturating_add(1);
                let delay = cfg.backoff(failures);
                log.log(
                    Priority::Warning,
                    &format!(
                        "{} failed (attempt {failures}): {e}; retrying in {:.1} s (backoff \
                         doubles up to {:.1} s)",
                        if armed { "pet" } else { "arming" },
                        delay.as_secs_f64(),
                        cfg.max_backoff.min(cfg.interval).as_secs_f64()
                    ),
                );
                next = delay;
            }
            Err(e) => {
                log.log(Priority::Err, &format!("{e} — giving up"));
                return Err(DaemonError::Fatal(e));
            }
        }
    }
}

fn finish<T: Transport>(
    client: &mut Client<T>,
    cfg: &DaemonConfig,
    sig: String,
    armed: bool,
    pets: u64,
    log: &mut dyn Logger,
) -> Result<DaemonExit, DaemonError> {
    match cfg.on_exit {
        OnExit::Stop => {
            log.log(
                Priority::Notice,
                &format!("received {sig}: stopping the watchdog timer (--on-exit stop)"),
            );
            match client.set(&stop_for(&cfg.set)) {
                Ok(()) => {
                    log.log(Priority::Notice, "watchdog timer stopped; exiting");
                    Ok(DaemonExit {
                        signal: sig,
                        stopped: true,
                        pets,
                    })
                }
                Err(e) => {
                    log.log(
                        Priority::Err,
                        &format!(
                            "could not stop the watchdog timer: {e} — it may still be ARMED: \
                             the BMC will {} within {} s unless it is stopped or petted",
                            cfg.set.action.cli_name(),
                            secs(cfg.set.initial_countdown)
                        ),
                    );
                    Err(DaemonError::StopFailed(e))
                }
            }
        }
        OnExit::Leave => {
            if armed {
                log.log(
                    Priority::Warning,
                    &format!(
                        "received {sig}: leaving the watchdog timer ARMED (--on-exit leave): \
                         the BMC will {} within {} s unless something pets it",
                        cfg.set.action.cli_name(),
                        secs(cfg.set.initial_countdown)
                    ),
                );
            } else {
                log.log(
                    Priority::Warning,
                    &format!(
                        "received {sig} before the timer was armed: leaving it as it is \
                         (--on-exit leave)"
                    ),
                );
            }
            Ok(DaemonExit {
                signal: sig,
                stopped: false,
                pets,
            })
        }
    }
}

#[cfg(test)]
mod tests;
