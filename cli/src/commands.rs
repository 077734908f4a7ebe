//! The watchdog commands as ipmi-rs commands: each implements
//! [`ipmi_rs::connection::IpmiCommand`], so the request bytes come from
//! `Into<Message>` and the response is parsed by `parse_success_response`,
//! whatever transport carries them ([`crate::client::Client::execute`]).
//!
//! Field codecs are `ipmi_watchdog`'s (IPMI v2.0 §27.5–§27.7); NetFns, command
//! numbers and completion codes are `ipmi_vocab`'s, turned into ipmi-rs's types
//! here, where the CLI meets ipmi-rs ([`ipmi_rs_netfn`], [`vocab_netfn`],
//! [`ipmi_rs_completion`]; plain functions, because the orphan rule forbids a
//! `From` impl between two foreign types in this crate).

use std::fmt;

use ipmi_rs::connection::{CompletionErrorCode, IpmiCommand, Message};
use ipmi_vocab::{CompletionCode, NetFn};
use ipmi_watchdog::{
    Countdown, DecodeError, ExpirationFlags, GetWatchdogResponse, PreTimeoutInterrupt, SetWatchdog,
    TimerAction, TimerUse,
};

use crate::transport::{CMD_GET_WATCHDOG, CMD_RESET_WATCHDOG, CMD_SET_WATCHDOG};

/// Our [`NetFn`] as ipmi-rs's: both list the seven standard network functions
/// of IPMI v2.0 Table 5-1, so this is exact.
pub fn ipmi_rs_netfn(netfn: NetFn) -> ipmi_rs::connection::NetFn {
    ipmi_rs::connection::NetFn::from(netfn.request())
}

/// ipmi-rs's NetFn as ours; `None` for its `Reserved` values (OEM and group
/// extension NetFns, which the vocabulary does not model).
pub fn vocab_netfn(netfn: ipmi_rs::connection::NetFn) -> Option<NetFn> {
    NetFn::from_value(netfn.request_value())
}

/// A completion code as ipmi-rs's error enum; `None` for 0x00 (success), which
/// ipmi-rs does not represent. Lossy: ipmi-rs folds 0xCE and 0xD0–0xD2 into
/// one "response unavailable" variant and has no spec names.
pub fn ipmi_rs_completion(cc: CompletionCode) -> Option<CompletionErrorCode> {
    CompletionErrorCode::try_from(cc.0).ok()
}

/// Why a successful (CC 0) response could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Reset Watchdog Timer (App 0x22; IPMI v2.0 §27.5): no data either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ResetWatchdogTimer;

impl From<ResetWatchdogTimer> for Message {
    fn from(_: ResetWatchdogTimer) -> Self {
        Message::new_request(ipmi_rs_netfn(NetFn::App), CMD_RESET_WATCHDOG, Vec::new())
    }
}

impl IpmiCommand for ResetWatchdogTimer {
    type Output = ();
    type Error = ParseError;

    /// Extra response bytes are tolerated (OpenIPMI's ipmi_sim appends stale
    /// data to short responses; real-kernel-lab.md §5.1).
    fn parse_success_response(_data: &[u8]) -> Result<(), ParseError> {
        Ok(())
    }
}

/// Set Watchdog Timer (App 0x24; IPMI v2.0 §27.6): six request bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetWatchdogTimer(pub SetWatchdog);

impl From<SetWatchdogTimer> for Message {
    fn from(c: SetWatchdogTimer) -> Self {
        Message::new_request(
            ipmi_rs_netfn(NetFn::App),
            CMD_SET_WATCHDOG,
            c.0.encode().to_vec(),
        )
    }
}

impl IpmiCommand for SetWatchdogTimer {
    type Output = ();
    type Error = ParseError;

    /// Extra response bytes are tolerated (ipmi_sim returns 35 stale bytes).
    fn parse_success_response(_data: &[u8]) -> Result<(), ParseError> {
        Ok(())
    }
}

/// Get Watchdog Timer (App 0x25; IPMI v2.0 §27.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GetWatchdogTimer;

impl From<GetWatchdogTimer> for Message {
    fn from(_: GetWatchdogTimer) -> Self {
        Message::new_request(ipmi_rs_netfn(NetFn::App), CMD_GET_WATCHDOG, Vec::new())
    }
}

/// A Get Watchdog Timer answer: the raw bytes, and their decoding when every
/// field holds a defined value. Raw fields are kept because real BMCs report
/// reserved values (timer use 0 after power-on is common; ipmitool prints
/// "Reserved (0x00)"), and we still want to show them rather than fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchdogReading {
    /// Byte 2: timer use (bit 7 don't log, bit 6 running, bits 2:0 use).
    pub use_byte: u8,
    /// Byte 3: actions (bits 6:4 pre-timeout interrupt, bits 2:0 action).
    pub action_byte: u8,
    /// Byte 4: pre-timeout interval in seconds.
    pub pretimeout_secs: u8,
    /// Byte 5: timer-use expiration flags.
    pub expiration_flags: ExpirationFlags,
    /// Bytes 6–7: initial countdown.
    pub initial_countdown: Countdown,
    /// Bytes 8–9: present countdown; `None` when the BMC leaves it out
    /// (OpenIPMI lanserv answers 6 bytes).
    pub present_countdown: Option<Countdown>,
    /// The strict decoding, or why it failed (a reserved value).
    pub decoded: Result<GetWatchdogResponse, DecodeError>,
}

impl WatchdogReading {
    /// Timer use, `None` if reserved (0, 6, 7).
    pub fn timer_use(&self) -> Option<TimerUse> {
        TimerUse::from_bits(self.use_byte & 0x07)
    }
    /// Bit 6 of byte 2: running (spec) — QEMU and lanserv echo Set's don't-stop.
    pub fn running(&self) -> bool {
        self.use_byte & 0x40 != 0
    }
    /// Bit 7 of byte 2: don't log.
    pub fn dont_log(&self) -> bool {
        self.use_byte & 0x80 != 0
    }
    /// Timeout action, `None` if reserved.
    pub fn action(&self) -> Option<TimerAction> {
        TimerAction::from_bits(self.action_byte & 0x07)
    }
    /// Pre-timeout interrupt, `None` if reserved.
    pub fn pretimeout_irq(&self) -> Option<PreTimeoutInterrupt> {
        PreTimeoutInterrupt::from_bits((self.action_byte >> 4) & 0x07)
    }
}

impl IpmiCommand for GetWatchdogTimer {
    type Output = WatchdogReading;
    type Error = ParseError;

    fn parse_success_response(data: &[u8]) -> Result<WatchdogReading, ParseError> {
        let decoded = GetWatchdogResponse::decode_lenient(data);
        let (head, present) = match data.len() {
            GetWatchdogResponse::LEN => (data.get(..6), data.get(6..8)),
            GetWatchdogResponse::SHORT_LEN => (data.get(..6), None),
            _ => (None, None),
        };
        let Some(&[b1, b2, pre, flags, i0, i1]) = head else {
            return Err(ParseError(match decoded {
                Err(e) => e.to_string(),
                Ok(_) => format!(
                    "Get Watchdog Timer response has {} data bytes, expected 8",
                    data.len()
                ),
            }));
        };
        Ok(WatchdogReading {
            use_byte: b1,
            action_byte: b2,
            pretimeout_secs: pre,
            expiration_flags: ExpirationFlags::from_bits_retain(flags),
            initial_countdown: Countdown::from_le_bytes([i0, i1]),
            present_countdown: match present {
                Some(&[p0, p1]) => Some(Countdown::from_le_bytes([p0, p1])),
                _ => None,
            },
            decoded,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netfn_and_completion_code_conversions_agree_with_ipmi_rs() {
        for nf in NetFn::ALL {
            let theirs = ipmi_rs_netfn(nf);
            assert_eq!(theirs.request_value(), nf.request(), "{nf:?}");
            assert_eq!(theirs.response_value(), nf.response(), "{nf:?}");
            assert_eq!(vocab_netfn(theirs), Some(nf));
        }
        assert_eq!(ipmi_rs_netfn(NetFn::App), ipmi_rs::connection::NetFn::App);
        assert_eq!(vocab_netfn(ipmi_rs::connection::NetFn::from(0x2C)), None);
        assert_eq!(ipmi_rs_completion(CompletionCode::OK), None);
        assert_eq!(
            ipmi_rs_completion(CompletionCode::TIMEOUT),
            Some(CompletionErrorCode::ProcessingTimeout)
        );
        assert_eq!(
            ipmi_rs_completion(CompletionCode(0x80)),
            Some(CompletionErrorCode::CommandSpecific(0x80))
        );
    }

    #[test]
    fn messages_carry_the_spec_bytes() {
        let m: Message = ResetWatchdogTimer.into();
        assert_eq!((m.netfn_raw(), m.cmd(), m.data()), (0x06, 0x22, &[][..]));
        let set = SetWatchdog::new(
            TimerUse::SmsOs,
            TimerAction::HardReset,
            Countdown::from_ticks(100),
        );
        let m: Message = SetWatchdogTimer(set).into();
        assert_eq!(m.cmd(), 0x24);
        assert_eq!(m.data(), &[0x04, 0x01, 0x00, 0x00, 0x64, 0x00]);
        let m: Message = GetWatchdogTimer.into();
        assert_eq!((m.netfn_raw(), m.cmd()), (0x06, 0x25));
    }

    #[test]
    fn get_parses_qemu_sample_and_short_and_reserved() {
        // real-kernel-lab.md §4: QEMU after ipmi_watchdog load.
        let r = GetWatchdogTimer::parse_success_response(&[4, 0, 0, 0, 0x64, 0, 0, 0]).unwrap();
        assert_eq!(r.timer_use(), Some(TimerUse::SmsOs));
        assert!(!r.running());
        assert_eq!(r.initial_countdown.ticks(), 100);
        assert_eq!(r.present_countdown, Some(Countdown::ZERO));
        assert!(r.decoded.is_ok());
        // lanserv: 6 bytes.
        let r = GetWatchdogTimer::parse_success_response(&[4, 0, 0, 0, 0x64, 0]).unwrap();
        assert_eq!(r.present_countdown, None);
        // Reserved timer use 0 (common after power-on) and 7 still read.
        let r = GetWatchdogTimer::parse_success_response(&[0, 0, 0, 0, 0, 0, 0, 0]).unwrap();
        assert_eq!(r.timer_use(), None);
        let r = GetWatchdogTimer::parse_success_response(&[7, 0, 0, 0, 0, 0, 0, 0]).unwrap();
        assert_eq!(r.timer_use(), None);
        assert!(r.decoded.is_err());
        // Wrong length fails with a message naming the command.
        let e = GetWatchdogTimer::parse_success_response(&[1, 2, 3]).unwrap_err();
        assert!(e.0.contains("Get Watchdog Timer"), "{e}");
    }
}
