//! Where the daemon's messages go (a module of the `bmcwd` binary): the
//! systemd journal (native protocol, with priorities and structured fields),
//! syslog, stderr, or JSON lines on stdout (`--json`). The daemon itself only
//! knows [`bmcwd::Logger`]; this module picks and feeds the sink.
//!
//! The backends are the `systemd-journal-logger` and `syslog` crates (both
//! speak `log` records / RFC 3164 over a Unix socket and nothing else);
//! spec-notes/cli.md, "Logging", says why.

use std::io::IsTerminal;

use bmcwd::{Logger, Priority};
use serde_json::json;

use crate::args::LogTarget;
use crate::console::{err_raw, out};

/// Where the syslog datagrams go when `BMCWD_SYSLOG_SOCKET` is unset: the
/// paths syslog(3) uses.
const SYSLOG_DEFAULT: &str = "/dev/log";

/// One structured field sent with every message (journal field name,
/// value), e.g. `BMCWD_TARGET`.
pub type Field = (&'static str, String);

enum Sink {
    /// `bmcwd: notice: …` lines on stderr.
    Stderr,
    /// `<5>…` lines on stderr (sd-daemon(3) prefixes: what journald makes of
    /// a service's stderr).
    Prefixed,
    /// The journal's native protocol.
    Journal(Box<systemd_journal_logger::JournalLog>),
    /// RFC 3164 datagrams to the local syslog socket, facility daemon.
    Syslog(Box<syslog::Logger<syslog::LoggerBackend, syslog::Formatter3164>>),
    /// One JSON object per line on stdout (`--json`).
    Json,
}

/// The daemon's log: a sink, a verbosity threshold and the structured fields
/// attached to every message.
pub struct DaemonLog {
    sink: Sink,
    /// The least important priority still written (`-v`/`-q` move it).
    max: Priority,
    fields: Vec<Field>,
}

/// The priority threshold for `-v` and `-q` counts: notice by default;
/// `-v` adds info (one line per pet); `-q` leaves warnings and errors,
/// `-qq` errors only.
pub fn threshold(verbose: u8, quiet: u8) -> Priority {
    let level = 5i16 + i16::from(verbose) - i16::from(quiet);
    match level {
        i16::MIN..=3 => Priority::Err,
        4 => Priority::Warning,
        5 => Priority::Notice,
        _ => Priority::Info,
    }
}

impl DaemonLog {
    /// Opens the sink for `target` (`json` wins over it). `auto` picks the
    /// journal when stderr is connected to it (`$JOURNAL_STREAM`, as systemd
    /// sets for services), stderr when it is a terminal, syslog otherwise.
    /// A journal or syslog socket that cannot be reached falls back to
    /// stderr (prefixed lines for the journal), with a note saying so.
    pub fn open(target: LogTarget, json: bool, max: Priority) -> Self {
        let sink = if json {
            Sink::Json
        } else {
            let target = match target {
                LogTarget::Auto if systemd_journal_logger::connected_to_journal() => {
                    LogTarget::Journal
                }
                LogTarget::Auto if std::io::stderr().is_terminal() => LogTarget::Stderr,
                LogTarget::Auto => LogTarget::Syslog,
                t => t,
            };
            match target {
                LogTarget::Stderr | LogTarget::Auto => Sink::Stderr,
                LogTarget::Prefixed => Sink::Prefixed,
                LogTarget::Journal => match systemd_journal_logger::JournalLog::new() {
                    Ok(j) => Sink::Journal(Box::new(j.with_syslog_identifier("bmcwd".into()))),
                    Err(e) => {
                        err_raw(&format!(
                            "<4>bmcwd: cannot reach journald ({e}): logging to stderr\n"
                        ));
                        Sink::Prefixed
                    }
                },
                LogTarget::Syslog => {
                    let path = std::env::var_os("BMCWD_SYSLOG_SOCKET")
                        .unwrap_or_else(|| SYSLOG_DEFAULT.into());
                    let formatter = syslog::Formatter3164 {
                        facility: syslog::Facility::LOG_DAEMON,
                        hostname: None,
                        process: "bmcwd".into(),
                        pid: std::process::id(),
                    };
                    match syslog::unix_custom(formatter, &path) {
                        Ok(l) => Sink::Syslog(Box::new(l)),
                        Err(e) => {
                            err_raw(&format!(
                                "bmcwd: note: no syslog at {} ({e}): logging to stderr\n",
                                std::path::Path::new(&path).display()
                            ));
                            Sink::Stderr
                        }
                    }
                }
            }
        };
        Self {
            sink,
            max,
            fields: Vec::new(),
        }
    }

    /// Attaches `field` to every later message (journal fields and JSON
    /// keys; syslog and stderr lines carry only the text).
    pub fn add_field(&mut self, field: Field) {
        self.fields.push(field);
    }

    /// Logs `msg` at `priority` with extra fields for this message only.
    pub fn log_with(&mut self, priority: Priority, msg: &str, extra: &[Field]) {
        if priority as u8 > self.max as u8 {
            return;
        }
        match &mut self.sink {
            Sink::Stderr => err_raw(&format!("bmcwd: {}: {msg}\n", priority.name())),
            Sink::Prefixed => err_raw(&format!("<{}>{msg}\n", priority as u8)),
            Sink::Json => {
                let mut v = json!({
                    "unix_time": std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_secs_f64())
                        .unwrap_or(0.0),
                    "priority": priority.name(),
                    "message": msg,
                });
                for (k, val) in self.fields.iter().chain(extra) {
                    if let Some(o) = v.as_object_mut() {
                        o.insert(json_key(k), json!(val));
                    }
                }
                out(&format!("{v}\n"));
            }
            Sink::Syslog(l) => {
                let sent = match priority {
                    Priority::Err => l.err(msg),
                    Priority::Warning => l.warning(msg),
                    Priority::Notice => l.notice(msg),
                    Priority::Info => l.info(msg),
                };
                if sent.is_err() {
                    // syslogd gone: the message must not be lost.
                    err_raw(&format!("bmcwd: {}: {msg}\n", priority.name()));
                }
            }
            Sink::Journal(j) => {
                let level = match priority {
                    Priority::Err => log::Level::Error,
                    Priority::Warning => log::Level::Warn,
                    Priority::Notice => log::Level::Info,
                    Priority::Info => log::Level::Debug,
                };
                let kvs: Vec<(&str, &str)> = self
                    .fields
                    .iter()
                    .chain(extra)
                    .map(|(k, v)| (*k, v.as_str()))
                    .collect();
                let sent = j.journal_send(
                    &log::Record::builder()
                        .level(level)
                        .target("bmcwd")
                        .args(format_args!("{msg}"))
                        .key_values(&kvs)
                        .build(),
                );
                if sent.is_err() {
                    err_raw(&format!("<{}>{msg}\n", priority as u8));
                }
            }
        }
    }
}

/// `BMCWD_TARGET` → `target`: JSON keys are the journal field names without
/// the prefix, in lower case.
fn json_key(field: &str) -> String {
    field
        .strip_prefix("BMCWD_")
        .unwrap_or(field)
        .to_ascii_lowercase()
}

impl Logger for DaemonLog {
    fn log(&mut self, priority: Priority, msg: &str) {
        self.log_with(priority, msg, &[]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbosity_moves_the_threshold() {
        assert_eq!(threshold(0, 0), Priority::Notice);
        assert_eq!(threshold(1, 0), Priority::Info);
        assert_eq!(threshold(3, 0), Priority::Info);
        assert_eq!(threshold(0, 1), Priority::Warning);
        assert_eq!(threshold(0, 2), Priority::Err);
        assert_eq!(threshold(0, 9), Priority::Err);
        assert_eq!(threshold(1, 1), Priority::Notice);
    }

    #[test]
    fn json_keys_drop_the_journal_prefix() {
        assert_eq!(json_key("BMCWD_TARGET"), "target");
        assert_eq!(json_key("BMCWD_COMPLETION_CODE"), "completion_code");
    }
}
