//! The watchdog client: runs [`IpmiCommand`]s over any [`Transport`], turns
//! completion codes into errors that name the command and the code's spec
//! meaning, and implements the Linux driver's Reset handling (re-Set on 0x80).

use std::time::Duration;

use ipmi_bt_sm::CompletionCode;
use ipmi_rs::connection::IpmiCommand;
use ipmi_watchdog::{PreTimeoutInterrupt, SetWatchdog, TimerAction};

use crate::commands::{GetWatchdogTimer, ResetWatchdogTimer, SetWatchdogTimer, WatchdogReading};
use crate::transport::{command_name, Request, Transport, TransportError};

/// How many times a pet re-sends the Set when Reset keeps answering 0x80
/// before giving up (Linux `ipmi_watchdog.c`, `__ipmi_heartbeat`:
/// `timeout_retries++; if (timeout_retries > 3) … -EIO`, so at most 3 Sets
/// and 4 Resets).
pub const MAX_RESETS_ON_0X80: u32 = 3;

/// What went wrong running a command.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No response (or no way to send).
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The BMC answered with a non-zero completion code.
    #[error("{command} failed: {} — {}", cc_text(*netfn, *cmd, *cc), hint(*netfn, *cmd, *cc))]
    Completion {
        /// Spec name of the command.
        command: String,
        /// Request NetFn.
        netfn: u8,
        /// Command number.
        cmd: u8,
        /// The completion code.
        cc: CompletionCode,
    },
    /// A CC-0 response we could not parse.
    #[error("{command}: malformed response from the BMC: {detail} — the BMC does not follow IPMI v2.0 here; `bmcwd --json` shows what was decoded")]
    Malformed {
        /// Spec name of the command.
        command: String,
        /// What was wrong.
        detail: String,
    },
}

impl ClientError {
    /// The completion code, if the BMC sent a non-zero one.
    pub fn completion_code(&self) -> Option<CompletionCode> {
        match self {
            Self::Completion { cc, .. } => Some(*cc),
            _ => None,
        }
    }

    /// True when a retry later may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Transport(t) => t.is_transient(),
            // Busy, timeout, initialising, response not provided, unspecified.
            Self::Completion { cc, .. } => {
                matches!(cc.0, 0xC0 | 0xC3 | 0xCE | 0xD2 | 0xFF | 0x80)
            }
            Self::Malformed { .. } => true,
        }
    }
}

/// `0x80 (Attempt to start un-initialized watchdog)`: the code with the spec's
/// name, resolving command-specific codes for the command.
pub(crate) fn cc_text(netfn: u8, cmd: u8, cc: CompletionCode) -> String {
    format!("0x{:02X} ({})", cc.0, cc.describe_for(netfn & !1, cmd))
}

/// What the user can do about a completion code.
pub(crate) fn hint(netfn: u8, cmd: u8, cc: CompletionCode) -> &'static str {
    match (netfn & !1, cmd, cc.0) {
        (0x06, 0x22, 0x80) => {
            "the BMC has no watchdog configuration (never set since power-on, or the BMC was \
             reset): configure it with `bmcwd start --timeout …` (or `bmcwd set …`), then reset"
        }
        (_, _, 0xC0) => "the BMC is busy: retry in a moment",
        (_, _, 0xC1) => "this BMC does not implement the command",
        (_, _, 0xC3) => {
            "the BMC did not answer in time (the driver gave up): retry, and check the BMC's health"
        }
        (_, _, 0xC6..=0xC8) => {
            "the BMC refused the request's length: please report this as a bmcwd bug"
        }
        (_, _, 0xCC) => {
            "the BMC refused a field value: try another --use, --action or --pretimeout-irq \
             (QEMU's BMC refuses power-cycle and SMI, phosphor refuses a pre-timeout over a \
             tenth of the countdown)"
        }
        (_, _, 0xD2) => "the BMC is still initialising: retry in a few seconds",
        (_, _, 0xD4) => "insufficient privilege: check the BMC's channel privilege limits",
        (_, _, 0xD5) => {
            "the BMC cannot do this in its present state (e.g. Reset after the pre-timeout \
             fired): configure the timer again with `bmcwd start`"
        }
        _ => "check the BMC's health and event log (`ipmitool sel list`), then retry",
    }
}

/// Outcome of a pet (Reset with the 0x80 and pre-timeout recoveries).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PetOutcome {
    /// How many times the Set was re-sent because the BMC answered 0x80.
    pub resets_recovered: u32,
    /// True when the Reset was refused because the pre-timeout had fired
    /// (0xD5) and the timer was reloaded with a don't-stop Set instead.
    pub pretimeout_reload: bool,
}

/// A watchdog client over one transport.
pub struct Client<T: Transport> {
    transport: T,
    timeout: Duration,
}

impl<T: Transport> Client<T> {
    /// A client waiting at most `timeout` per command.
    pub fn new(transport: T, timeout: Duration) -> Self {
        Self { transport, timeout }
    }

    /// The transport's description, for messages.
    pub fn describe(&self) -> String {
        self.transport.describe()
    }

    /// Gives the transport back.
    pub fn into_inner(self) -> T {
        self.transport
    }

    /// Swaps in a fresh transport (the daemon's re-open), returning the old one.
    pub fn replace_transport(&mut self, transport: T) -> T {
        std::mem::replace(&mut self.transport, transport)
    }

    /// Sends one raw request with the client's deadline; the completion code
    /// is the caller's to judge.
    pub fn send(&mut self, req: &Request) -> Result<crate::transport::Response, TransportError> {
        self.transport.send(req, self.timeout)
    }

    /// Sends one ipmi-rs command and parses its response; non-zero completion
    /// codes become [`ClientError::Completion`].
    pub fn execute<C>(&mut self, command: C) -> Result<C::Output, ClientError>
    where
        C: IpmiCommand,
        C::Error: std::fmt::Display,
    {
        let msg: ipmi_rs::connection::Message = command.into();
        let req = Request {
            netfn: msg.netfn_raw(),
            cmd: msg.cmd(),
            data: msg.data().to_vec(),
        };
        let resp = self.transport.send(&req, self.timeout)?;
        if !resp.cc.is_ok() {
            return Err(ClientError::Completion {
                command: command_name(req.netfn, req.cmd),
                netfn: req.netfn,
                cmd: req.cmd,
                cc: resp.cc,
            });
        }
        C::parse_success_response(&resp.data).map_err(|e| ClientError::Malformed {
            command: command_name(req.netfn, req.cmd),
            detail: e.to_string(),
        })
    }

    /// Get Watchdog Timer.
    pub fn get(&mut self) -> Result<WatchdogReading, ClientError> {
        self.execute(GetWatchdogTimer)
    }

    /// Set Watchdog Timer.
    pub fn set(&mut self, set: &SetWatchdog) -> Result<(), ClientError> {
        self.execute(SetWatchdogTimer(*set))
    }

    /// Reset Watchdog Timer, once, no recovery.
    pub fn reset(&mut self) -> Result<(), ClientError> {
        self.execute(ResetWatchdogTimer)
    }

    /// Reset with the Linux driver's recoveries (`ipmi_watchdog.c`,
    /// `__ipmi_heartbeat` and `_ipmi_heartbeat`):
    /// * on 0x80 ("BMC probably reset") re-send `last_set` and try again,
    ///   at most [`MAX_RESETS_ON_0X80`] times;
    /// * on 0xD5 (a spec BMC refusing a Reset once the pre-timeout fired,
    ///   IPMI v2.0 §27.5) send `last_set` with don't-stop instead, which
    ///   reloads the running countdown — the kernel likewise sends a Set
    ///   rather than a Reset for the first heartbeat after a pre-timeout.
    ///
    /// Without a `last_set` the BMC's error is returned.
    pub fn pet(&mut self, last_set: Option<&SetWatchdog>) -> Result<PetOutcome, ClientError> {
        let mut recovered = 0;
        loop {
            match self.reset() {
                Ok(()) => {
                    return Ok(PetOutcome {
                        resets_recovered: recovered,
                        pretimeout_reload: false,
                    })
                }
                Err(e) if e.completion_code() == Some(CompletionCode::NOT_IN_PRESENT_STATE) => {
                    let Some(set) = last_set else { return Err(e) };
                    let mut reload = *set;
                    reload.dont_stop = true;
                    self.set(&reload)?;
                    return Ok(PetOutcome {
                        resets_recovered: recovered,
                        pretimeout_reload: true,
                    });
                }
                Err(e) if e.completion_code() == Some(CompletionCode(0x80)) => {
                    let Some(set) = last_set else { return Err(e) };
                    if recovered >= MAX_RESETS_ON_0X80 {
                        return Err(e);
                    }
                    self.set(set)?;
                    recovered += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// The Set that stops the timer while keeping the rest of `current`: same use
/// and countdown, no action, no pre-timeout, don't-stop clear (so the Set
/// stops the timer, IPMI v2.0 §27.6). Linux's stop is the same idea
/// (`ipmi_watchdog.c`: action none, no don't-stop).
pub fn stop_request(current: &WatchdogReading) -> SetWatchdog {
    let mut s = SetWatchdog::new(
        current
            .timer_use()
            .unwrap_or(ipmi_watchdog::TimerUse::SmsOs),
        TimerAction::None,
        current.initial_countdown,
    );
    s.dont_log = current.dont_log();
    s.dont_stop = false;
    s.pretimeout_irq = PreTimeoutInterrupt::None;
    s.pretimeout_secs = 0;
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::{MockTransport, Response};
    use ipmi_watchdog::{Countdown, TimerUse};
    use mockall::Sequence;

    fn ok(cmd: u8) -> Result<Response, TransportError> {
        Ok(Response {
            netfn: 0x07,
            cmd,
            cc: CompletionCode::OK,
            data: vec![],
        })
    }

    fn cc(cmd: u8, code: u8) -> Result<Response, TransportError> {
        Ok(Response {
            netfn: 0x07,
            cmd,
            cc: CompletionCode(code),
            data: vec![],
        })
    }

    fn set() -> SetWatchdog {
        SetWatchdog::new(
            TimerUse::SmsOs,
            TimerAction::HardReset,
            Countdown::from_ticks(100),
        )
    }

    #[test]
    fn completion_error_names_command_and_code() {
        let mut t = MockTransport::new();
        t.expect_send().returning(|_, _| cc(0x22, 0x80));
        let mut c = Client::new(t, Duration::from_secs(1));
        let e = c.reset().unwrap_err().to_string();
        assert!(
            e.starts_with(
                "Reset Watchdog Timer failed: 0x80 (Attempt to start un-initialized watchdog) — "
            ),
            "{e}"
        );
        assert!(e.contains("bmcwd start"), "{e}");
    }

    #[test]
    fn pet_resends_set_on_0x80_then_resets() {
        let mut t = MockTransport::new();
        let mut seq = Sequence::new();
        t.expect_send()
            .withf(|r, _| r.cmd == 0x22)
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| cc(0x22, 0x80));
        t.expect_send()
            .withf(|r, _| r.cmd == 0x24 && r.data == [0x04, 0x01, 0x00, 0x00, 0x64, 0x00])
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| ok(0x24));
        t.expect_send()
            .withf(|r, _| r.cmd == 0x22)
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| ok(0x22));
        let mut c = Client::new(t, Duration::from_secs(1));
        assert_eq!(c.pet(Some(&set())).unwrap().resets_recovered, 1);
    }

    #[test]
    fn pet_gives_up_after_three_resends_like_the_kernel() {
        // Like the kernel: 4 Resets answered 0x80, 3 Sets in between, then -EIO.
        let mut t = MockTransport::new();
        t.expect_send()
            .withf(|r, _| r.cmd == 0x22)
            .times(4)
            .returning(|_, _| cc(0x22, 0x80));
        t.expect_send()
            .withf(|r, _| r.cmd == 0x24)
            .times(3)
            .returning(|_, _| ok(0x24));
        let mut c = Client::new(t, Duration::from_secs(1));
        let e = c.pet(Some(&set())).unwrap_err();
        assert_eq!(e.completion_code(), Some(CompletionCode(0x80)));
    }

    #[test]
    fn pet_after_pretimeout_reloads_with_a_dont_stop_set() {
        let mut t = MockTransport::new();
        let mut seq = Sequence::new();
        t.expect_send()
            .withf(|r, _| r.cmd == 0x22)
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| cc(0x22, 0xD5));
        t.expect_send()
            .withf(|r, _| r.cmd == 0x24 && r.data == [0x44, 0x01, 0x00, 0x00, 0x64, 0x00])
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| ok(0x24));
        let mut c = Client::new(t, Duration::from_secs(1));
        let o = c.pet(Some(&set())).unwrap();
        assert!(o.pretimeout_reload);
        assert_eq!(o.resets_recovered, 0);
    }

    #[test]
    fn pet_without_last_set_reports_0x80() {
        let mut t = MockTransport::new();
        t.expect_send().times(1).returning(|_, _| cc(0x22, 0x80));
        let mut c = Client::new(t, Duration::from_secs(1));
        assert!(c.pet(None).is_err());
    }

    #[test]
    fn stop_request_clears_action_and_dont_stop() {
        let r = GetWatchdogTimer::parse_success_response(&[0x44, 0x31, 5, 0, 0x58, 0x02, 0, 1])
            .unwrap();
        let s = stop_request(&r);
        assert_eq!(s.encode(), [0x04, 0x00, 0x00, 0x00, 0x58, 0x02]);
    }
}
