//! Typed codecs of the watchdog commands (IPMI v2.0 §27.5–§27.7) and of the
//! message-flag commands as far as the pre-timeout flag goes (§22.3, §22.4).
//!
//! Request decoders are BMC-side: they fail with the [`CompletionCode`] a BMC
//! returns. Response decoders are client-side: they fail with a
//! [`DecodeError`] that says what was wrong. Encoders and decoders are exact
//! inverses for every valid value.

use core::fmt;
use core::ops::Deref;

use ipmi_vocab::{app, CompletionCode};

use crate::profile::CompatProfile;
use crate::types::{
    Countdown, ExpirationFlags, MessageFlags, PreTimeoutInterrupt, TimerAction, TimerUse,
};

/// NetFn Application (requests; responses use 0x07). IPMI v2.0 §5.1.
pub use ipmi_vocab::NETFN_APP;
/// Reset Watchdog Timer (IPMI v2.0 §27.5).
pub const CMD_RESET_WATCHDOG: u8 = app::RESET_WATCHDOG;
/// Set Watchdog Timer (IPMI v2.0 §27.6).
pub const CMD_SET_WATCHDOG: u8 = app::SET_WATCHDOG;
/// Get Watchdog Timer (IPMI v2.0 §27.7).
pub const CMD_GET_WATCHDOG: u8 = app::GET_WATCHDOG;
/// Clear Message Flags (IPMI v2.0 §22.3).
pub const CMD_CLEAR_MESSAGE_FLAGS: u8 = app::CLEAR_MSG_FLAGS;
/// Get Message Flags (IPMI v2.0 §22.4).
pub const CMD_GET_MESSAGE_FLAGS: u8 = app::GET_MSG_FLAGS;

/// Reset Watchdog Timer completion code 0x80: "Attempt to start
/// un-initialized watchdog" (IPMI v2.0 §27.5).
pub const CC_WATCHDOG_NOT_INITIALIZED: CompletionCode = CompletionCode(0x80);

/// Set byte 1: don't log (bit 7).
const USE_DONT_LOG: u8 = 0x80;
/// Set byte 1: don't stop (bit 6); Get byte 2: timer is running (bit 6).
const USE_BIT6: u8 = 0x40;
/// Byte 1 reserved bits 5:3.
const USE_RESERVED: u8 = 0x38;
/// Byte 2 reserved bits 7 and 3.
const ACTION_RESERVED: u8 = 0x88;

/// Up to 8 response data bytes (after the completion code), kept inline so
/// building a response never allocates.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Data {
    buf: [u8; 8],
    len: u8,
}

impl Data {
    /// No data bytes.
    pub const EMPTY: Self = Self {
        buf: [0; 8],
        len: 0,
    };

    /// The first `len` bytes of `buf` (`len` is clamped to 8).
    pub const fn new(buf: [u8; 8], len: usize) -> Self {
        let len = if len > 8 { 8 } else { len };
        Self {
            buf,
            len: len as u8,
        }
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        self.buf.get(..usize::from(self.len)).unwrap_or(&[])
    }
}

impl Deref for Data {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl fmt::Debug for Data {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Data({:02x?})", self.as_slice())
    }
}

/// What is wrong with a response a client received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The BMC answered with a non-zero completion code.
    Completion {
        /// Command number (NetFn App), to name command-specific codes.
        cmd: u8,
        /// The completion code.
        cc: CompletionCode,
    },
    /// The response had no completion code at all.
    Empty {
        /// Command name.
        what: &'static str,
    },
    /// Wrong number of data bytes.
    Length {
        /// Command name.
        what: &'static str,
        /// Data bytes received (after the completion code).
        got: usize,
        /// Data bytes expected.
        expected: usize,
    },
    /// A field holds a value the spec reserves.
    Reserved {
        /// Command name.
        what: &'static str,
        /// Field name.
        field: &'static str,
        /// The value found.
        value: u8,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Completion { cmd, cc } => write!(
                f,
                "{} failed: completion code 0x{:02X} ({})",
                command_name(*cmd),
                cc.0,
                cc.describe_for(NETFN_APP, *cmd)
            ),
            Self::Empty { what } => write!(f, "{what} response is empty (no completion code)"),
            Self::Length {
                what,
                got,
                expected,
            } => write!(
                f,
                "{what} response has {got} data bytes, expected {expected}{}",
                if *what == GetWatchdogResponse::NAME && *got == 6 {
                    " (the present countdown is missing, as OpenIPMI ipmi_sim's lanserv \
                     returns it; use GetWatchdogResponse::decode_lenient to accept that)"
                } else {
                    ""
                }
            ),
            Self::Reserved { what, field, value } => {
                write!(f, "{what} response has reserved {field} value {value}")
            }
        }
    }
}

impl std::error::Error for DecodeError {}

/// The spec name of a NetFn App command such as the watchdog and
/// message-flag commands (from [`ipmi_vocab::command_name`]), or
/// `"IPMI command"` for one the vocabulary does not name.
pub const fn command_name(cmd: u8) -> &'static str {
    match ipmi_vocab::command_name(NETFN_APP, cmd) {
        Some(name) => name,
        None => "IPMI command",
    }
}

/// Splits a full response (completion code first) into its data bytes, or
/// fails with the completion code decoded for `cmd`.
pub fn split_completion(cmd: u8, response: &[u8]) -> Result<&[u8], DecodeError> {
    match response.split_first() {
        None => Err(DecodeError::Empty {
            what: command_name(cmd),
        }),
        Some((&0, data)) => Ok(data),
        Some((&cc, _)) => Err(DecodeError::Completion {
            cmd,
            cc: CompletionCode(cc),
        }),
    }
}

/// Checks that a BMC-side request for a command that takes no data (Reset,
/// Get, Get Message Flags) is empty. `strict` profiles answer extra bytes
/// with 0xC7 (phosphor does, via ipmid's unpacker); QEMU and lanserv ignore them.
pub fn check_empty_request(data: &[u8], profile: CompatProfile) -> Result<(), CompletionCode> {
    if data.is_empty()
        || matches!(
            profile,
            CompatProfile::Qemu | CompatProfile::OpenIpmiLanserv
        )
    {
        Ok(())
    } else {
        Err(CompletionCode::REQUEST_DATA_LENGTH_INVALID)
    }
}

/// Set Watchdog Timer request (App 0x24, 6 data bytes; IPMI v2.0 §27.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SetWatchdog {
    /// Byte 1 bits 2:0.
    pub timer_use: TimerUse,
    /// Byte 1 bit 7: no SEL event on expiry.
    pub dont_log: bool,
    /// Byte 1 bit 6: don't stop a running timer; reload it with the new
    /// countdown instead (a stopped timer stays stopped).
    pub dont_stop: bool,
    /// Byte 2 bits 2:0.
    pub action: TimerAction,
    /// Byte 2 bits 6:4.
    pub pretimeout_irq: PreTimeoutInterrupt,
    /// Byte 3: seconds before expiry at which the pre-timeout interrupt fires
    /// (0 = together with the timeout).
    pub pretimeout_secs: u8,
    /// Byte 4: expiration flags to clear (1 = clear).
    pub clear_flags: ExpirationFlags,
    /// Bytes 5–6: initial countdown.
    pub initial_countdown: Countdown,
}

impl SetWatchdog {
    /// Request data length.
    pub const LEN: usize = 6;

    /// A request with no pre-timeout, no flag clearing, logging on and the
    /// timer stopped by the Set (what `bmc-watchdog`/`ipmitool` send to arm).
    pub const fn new(
        timer_use: TimerUse,
        action: TimerAction,
        initial_countdown: Countdown,
    ) -> Self {
        Self {
            timer_use,
            dont_log: false,
            dont_stop: false,
            action,
            pretimeout_irq: PreTimeoutInterrupt::None,
            pretimeout_secs: 0,
            clear_flags: ExpirationFlags::empty(),
            initial_countdown,
        }
    }

    /// The 6 request data bytes.
    pub const fn encode(&self) -> [u8; 6] {
        let mut b1 = self.timer_use.bits();
        if self.dont_log {
            b1 |= USE_DONT_LOG;
        }
        if self.dont_stop {
            b1 |= USE_BIT6;
        }
        let b2 = (self.pretimeout_irq.bits() << 4) | self.action.bits();
        let cd = self.initial_countdown.to_le_bytes();
        [
            b1,
            b2,
            self.pretimeout_secs,
            self.clear_flags.bits(),
            cd[0],
            cd[1],
        ]
    }

    /// Strict decode (the [`CompatProfile::Spec`] rules): exactly 6 bytes
    /// (else 0xC7), no reserved bit or value (else 0xCC).
    pub fn decode(data: &[u8]) -> Result<Self, CompletionCode> {
        Self::decode_for(data, CompatProfile::Spec)
    }

    /// Decode with the length and reserved-bit rules of `profile`:
    /// * fewer than 6 bytes → 0xC7 in every profile;
    /// * more than 6 → 0xC7 for Spec and phosphor (ipmid rejects unconsumed
    ///   bytes), ignored by QEMU (`cmd_len_min` only) and lanserv
    ///   (`check_msg_length` only checks the minimum);
    /// * reserved timer use (0, 6, 7), action (4–7) or interrupt (4–7) → 0xCC
    ///   everywhere, except that phosphor rejects only interrupt 4 (5–7 are
    ///   accepted and here read as "none", see spec-notes/watchdog.md);
    /// * reserved bits (byte 1 bits 5:3, byte 2 bits 7 and 3, byte 4 bits
    ///   0, 6, 7) → 0xCC for Spec and phosphor (`ipmiSetWatchdogTimer`);
    ///   QEMU and lanserv mask them off (`IPMI_BMC_WATCHDOG_USE_MASK` 0xC7,
    ///   action mask 0x77).
    ///
    /// Profile *capability* checks (QEMU refusing power cycle, phosphor's
    /// pre-timeout limit, ...) are applied by the timer model, not here.
    pub fn decode_for(data: &[u8], profile: CompatProfile) -> Result<Self, CompletionCode> {
        let lenient = matches!(
            profile,
            CompatProfile::Qemu | CompatProfile::OpenIpmiLanserv
        );
        let bytes: [u8; 6] = match data.get(..Self::LEN) {
            Some(b) if lenient || data.len() == Self::LEN => b
                .try_into()
                .map_err(|_| CompletionCode::REQUEST_DATA_LENGTH_INVALID)?,
            _ => return Err(CompletionCode::REQUEST_DATA_LENGTH_INVALID),
        };
        let [b1, b2, pretimeout_secs, b4, c0, c1] = bytes;
        let reserved_bits = (b1 & USE_RESERVED) != 0
            || (b2 & ACTION_RESERVED) != 0
            || (b4 & ExpirationFlags::RESERVED_BITS) != 0;
        if reserved_bits && !lenient {
            return Err(CompletionCode::INVALID_DATA_FIELD);
        }
        let timer_use = TimerUse::from_bits(b1 & 0x07).ok_or(CompletionCode::INVALID_DATA_FIELD)?;
        let action = TimerAction::from_bits(b2 & 0x07).ok_or(CompletionCode::INVALID_DATA_FIELD)?;
        let irq_bits = (b2 >> 4) & 0x07;
        let pretimeout_irq = match PreTimeoutInterrupt::from_bits(irq_bits) {
            Some(irq) => irq,
            // phosphor's only check is `preTimeoutInterrupt == 4`.
            None if profile == CompatProfile::PhosphorWatchdog && irq_bits != 4 => {
                PreTimeoutInterrupt::None
            }
            None => return Err(CompletionCode::INVALID_DATA_FIELD),
        };
        Ok(Self {
            timer_use,
            dont_log: b1 & USE_DONT_LOG != 0,
            dont_stop: b1 & USE_BIT6 != 0,
            action,
            pretimeout_irq,
            pretimeout_secs,
            clear_flags: ExpirationFlags::from_bits_truncate(b4),
            initial_countdown: Countdown::from_le_bytes([c0, c1]),
        })
    }
}

/// Get Watchdog Timer response data (App 0x25, 8 bytes after the completion
/// code; IPMI v2.0 §27.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GetWatchdogResponse {
    /// Byte 2 bits 2:0. `None` is the value 0 that QEMU, lanserv and
    /// phosphor report before the first Set (reserved by the spec, but what
    /// an unconfigured BMC answers); 6 and 7 are decode errors.
    pub timer_use: Option<TimerUse>,
    /// Byte 2 bit 7.
    pub dont_log: bool,
    /// Byte 2 bit 6: the timer is running (QEMU and lanserv put the Set's
    /// don't-stop bit here instead; see [`CompatProfile`]).
    pub running: bool,
    /// Byte 3 bits 2:0.
    pub action: TimerAction,
    /// Byte 3 bits 6:4.
    pub pretimeout_irq: PreTimeoutInterrupt,
    /// Byte 4, seconds.
    pub pretimeout_secs: u8,
    /// Byte 5: uses whose timer expired since the flags were last cleared.
    /// Unknown bits are kept so decode/encode round-trip.
    pub expiration_flags: ExpirationFlags,
    /// Bytes 6–7.
    pub initial_countdown: Countdown,
    /// Bytes 8–9. `None` only from [`decode_lenient`](Self::decode_lenient)
    /// of a 6-byte response (OpenIPMI lanserv omits these bytes).
    pub present_countdown: Option<Countdown>,
}

impl GetWatchdogResponse {
    /// Command name used in errors.
    pub const NAME: &'static str = "Get Watchdog Timer";
    /// Response data length (after the completion code).
    pub const LEN: usize = 8;
    /// Length of lanserv's short response.
    pub const SHORT_LEN: usize = 6;

    /// The data bytes: 8, or 6 if `present_countdown` is `None`.
    pub const fn encode(&self) -> Data {
        let mut b1 = match self.timer_use {
            Some(u) => u.bits(),
            None => 0,
        };
        if self.dont_log {
            b1 |= USE_DONT_LOG;
        }
        if self.running {
            b1 |= USE_BIT6;
        }
        let b2 = (self.pretimeout_irq.bits() << 4) | self.action.bits();
        let ic = self.initial_countdown.to_le_bytes();
        match self.present_countdown {
            Some(p) => {
                let pc = p.to_le_bytes();
                Data::new(
                    [
                        b1,
                        b2,
                        self.pretimeout_secs,
                        self.expiration_flags.bits(),
                        ic[0],
                        ic[1],
                        pc[0],
                        pc[1],
                    ],
                    8,
                )
            }
            None => Data::new(
                [
                    b1,
                    b2,
                    self.pretimeout_secs,
                    self.expiration_flags.bits(),
                    ic[0],
                    ic[1],
                    0,
                    0,
                ],
                6,
            ),
        }
    }

    /// Strict decode of the data bytes (after the completion code): exactly
    /// 8 bytes; reserved timer use / action / interrupt values are errors.
    /// Reserved *bits* are ignored (masked), as a tolerant client should.
    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        if data.len() != Self::LEN {
            return Err(DecodeError::Length {
                what: Self::NAME,
                got: data.len(),
                expected: Self::LEN,
            });
        }
        Self::decode_lenient(data)
    }

    /// Like [`decode`](Self::decode) but also accepts lanserv's 6-byte
    /// response, reporting the present countdown as `None`.
    pub fn decode_lenient(data: &[u8]) -> Result<Self, DecodeError> {
        let (head, present) = match data.len() {
            Self::LEN => (data.get(..6), data.get(6..8)),
            Self::SHORT_LEN => (data.get(..6), None),
            got => {
                return Err(DecodeError::Length {
                    what: Self::NAME,
                    got,
                    expected: Self::LEN,
                })
            }
        };
        let Some(&[b1, b2, pretimeout_secs, flags, i0, i1]) = head else {
            return Err(DecodeError::Length {
                what: Self::NAME,
                got: data.len(),
                expected: Self::LEN,
            });
        };
        let reserved = |field, value| DecodeError::Reserved {
            what: Self::NAME,
            field,
            value,
        };
        let timer_use = match b1 & 0x07 {
            0 => None,
            u => Some(TimerUse::from_bits(u).ok_or(reserved("timer use", u))?),
        };
        let action =
            TimerAction::from_bits(b2 & 0x07).ok_or(reserved("timer action", b2 & 0x07))?;
        let irq = (b2 >> 4) & 0x07;
        let pretimeout_irq =
            PreTimeoutInterrupt::from_bits(irq).ok_or(reserved("pre-timeout interrupt", irq))?;
        Ok(Self {
            timer_use,
            dont_log: b1 & USE_DONT_LOG != 0,
            running: b1 & USE_BIT6 != 0,
            action,
            pretimeout_irq,
            pretimeout_secs,
            expiration_flags: ExpirationFlags::from_bits_retain(flags),
            initial_countdown: Countdown::from_le_bytes([i0, i1]),
            present_countdown: match present {
                Some(&[p0, p1]) => Some(Countdown::from_le_bytes([p0, p1])),
                _ => None,
            },
        })
    }
}

/// Get Message Flags response data (App 0x31, 1 byte; IPMI v2.0 §22.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct GetMessageFlagsResponse {
    /// The flags; unknown (reserved) bits are kept.
    pub flags: MessageFlags,
}

impl GetMessageFlagsResponse {
    /// Command name used in errors.
    pub const NAME: &'static str = "Get Message Flags";

    /// The one data byte.
    pub const fn encode(&self) -> [u8; 1] {
        [self.flags.bits()]
    }

    /// Decodes exactly one data byte (after the completion code).
    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        match data {
            &[b] => Ok(Self {
                flags: MessageFlags::from_bits_retain(b),
            }),
            _ => Err(DecodeError::Length {
                what: Self::NAME,
                got: data.len(),
                expected: 1,
            }),
        }
    }
}

/// Clear Message Flags request (App 0x30, 1 byte; IPMI v2.0 §22.3): 1 = clear.
/// Linux sends 0x08 (the pre-timeout flag) at start-up and after each pre-timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ClearMessageFlags {
    /// Flags to clear; unknown (reserved) bits are kept.
    pub flags: MessageFlags,
}

impl ClearMessageFlags {
    /// The one request data byte.
    pub const fn encode(&self) -> [u8; 1] {
        [self.flags.bits()]
    }

    /// BMC-side decode: exactly one byte, else 0xC7. Reserved bits are
    /// accepted (writing 1 to a reserved "clear" bit clears nothing).
    pub fn decode(data: &[u8]) -> Result<Self, CompletionCode> {
        match data {
            &[b] => Ok(Self {
                flags: MessageFlags::from_bits_retain(b),
            }),
            _ => Err(CompletionCode::REQUEST_DATA_LENGTH_INVALID),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn linux_start() -> SetWatchdog {
        SetWatchdog {
            dont_stop: true,
            ..SetWatchdog::new(
                TimerUse::SmsOs,
                TimerAction::HardReset,
                Countdown::from_ticks(100),
            )
        }
    }

    #[test]
    fn set_matches_linux_payloads() {
        // Reference §3: start (10 s reset) → 44 01 00 00 64 00.
        assert_eq!(linux_start().encode(), [0x44, 0x01, 0x00, 0x00, 0x64, 0x00]);
        // Stop → 04 00 00 00 64 00.
        let stop = SetWatchdog::new(
            TimerUse::SmsOs,
            TimerAction::None,
            Countdown::from_ticks(100),
        );
        assert_eq!(stop.encode(), [0x04, 0x00, 0x00, 0x00, 0x64, 0x00]);
        // pretimeout=5, pre_int → 44 31 05 00 64 00.
        let pre = SetWatchdog {
            pretimeout_irq: PreTimeoutInterrupt::Messaging,
            pretimeout_secs: 5,
            ..linux_start()
        };
        assert_eq!(pre.encode(), [0x44, 0x31, 0x05, 0x00, 0x64, 0x00]);
        // NMI self-test: 44 21 63 00 E8 03.
        let nmi = SetWatchdog {
            pretimeout_irq: PreTimeoutInterrupt::Nmi,
            pretimeout_secs: 99,
            initial_countdown: Countdown::from_ticks(1000),
            ..linux_start()
        };
        assert_eq!(nmi.encode(), [0x44, 0x21, 0x63, 0x00, 0xE8, 0x03]);
        for s in [linux_start(), stop, pre, nmi] {
            assert_eq!(SetWatchdog::decode(&s.encode()), Ok(s));
        }
    }

    #[test]
    fn set_decode_length_codes() {
        let ok = linux_start().encode();
        for p in CompatProfile::ALL {
            for n in 0..6 {
                assert_eq!(
                    SetWatchdog::decode_for(&ok[..n], p),
                    Err(CompletionCode::REQUEST_DATA_LENGTH_INVALID),
                    "{p} len {n}"
                );
            }
        }
        let long = [0x44, 0x01, 0x00, 0x00, 0x64, 0x00, 0xAA];
        assert_eq!(
            SetWatchdog::decode(&long),
            Err(CompletionCode::REQUEST_DATA_LENGTH_INVALID)
        );
        assert_eq!(
            SetWatchdog::decode_for(&long, CompatProfile::PhosphorWatchdog),
            Err(CompletionCode::REQUEST_DATA_LENGTH_INVALID)
        );
        assert_eq!(
            SetWatchdog::decode_for(&long, CompatProfile::Qemu),
            Ok(linux_start())
        );
        assert_eq!(
            SetWatchdog::decode_for(&long, CompatProfile::OpenIpmiLanserv),
            Ok(linux_start())
        );
    }

    #[test]
    fn set_decode_reserved_values_and_bits() {
        let cc = Err(CompletionCode::INVALID_DATA_FIELD);
        for p in CompatProfile::ALL {
            for u in [0u8, 6, 7] {
                assert_eq!(
                    SetWatchdog::decode_for(&[u, 1, 0, 0, 10, 0], p),
                    cc,
                    "{p} use {u}"
                );
            }
            for a in 4..=7u8 {
                assert_eq!(
                    SetWatchdog::decode_for(&[4, a, 0, 0, 10, 0], p),
                    cc,
                    "{p} action {a}"
                );
            }
            assert_eq!(
                SetWatchdog::decode_for(&[4, 0x41, 0, 0, 10, 0], p),
                cc,
                "{p} irq 4"
            );
        }
        // Interrupt types 5–7: rejected except by phosphor.
        for i in 5..=7u8 {
            let req = [4, (i << 4) | 1, 0, 0, 10, 0];
            assert_eq!(SetWatchdog::decode(&req), cc);
            assert_eq!(SetWatchdog::decode_for(&req, CompatProfile::Qemu), cc);
            let got = SetWatchdog::decode_for(&req, CompatProfile::PhosphorWatchdog);
            assert_eq!(got.map(|s| s.pretimeout_irq), Ok(PreTimeoutInterrupt::None));
        }
        // Reserved bits: strict profiles reject, QEMU/lanserv mask.
        for req in [
            [0x04 | 0x08, 1, 0, 0, 10, 0],
            [0x04, 0x01 | 0x08, 0, 0, 10, 0],
            [0x04, 0x01 | 0x80, 0, 0, 10, 0],
            [0x04, 0x01, 0, 0x01, 10, 0],
            [0x04, 0x01, 0, 0x40, 10, 0],
            [0x04, 0x01, 0, 0x80, 10, 0],
        ] {
            assert_eq!(SetWatchdog::decode(&req), cc, "{req:02x?}");
            assert_eq!(
                SetWatchdog::decode_for(&req, CompatProfile::PhosphorWatchdog),
                cc
            );
            let q = SetWatchdog::decode_for(&req, CompatProfile::Qemu);
            assert_eq!(
                q,
                Ok(SetWatchdog::new(
                    TimerUse::SmsOs,
                    TimerAction::HardReset,
                    Countdown::from_ticks(10)
                ))
            );
        }
    }

    #[test]
    fn get_response_round_trip_and_errors() {
        let r = GetWatchdogResponse {
            timer_use: Some(TimerUse::SmsOs),
            dont_log: true,
            running: true,
            action: TimerAction::PowerCycle,
            pretimeout_irq: PreTimeoutInterrupt::Nmi,
            pretimeout_secs: 7,
            expiration_flags: ExpirationFlags::SMS_OS | ExpirationFlags::FRB2,
            initial_countdown: Countdown::from_ticks(0x1234),
            present_countdown: Some(Countdown::from_ticks(0x0102)),
        };
        let bytes = r.encode();
        assert_eq!(&*bytes, &[0xC4, 0x23, 7, 0x12, 0x34, 0x12, 0x02, 0x01]);
        assert_eq!(GetWatchdogResponse::decode(&bytes), Ok(r));
        let e = GetWatchdogResponse::decode(&bytes[..6]).unwrap_err();
        assert!(e
            .to_string()
            .starts_with("Get Watchdog Timer response has 6 data bytes, expected 8"));
        let short = GetWatchdogResponse::decode_lenient(&bytes[..6]).unwrap();
        assert_eq!(short.present_countdown, None);
        assert_eq!(&*short.encode(), &bytes[..6]);
        // Timer use 0: an unconfigured BMC.
        assert_eq!(
            GetWatchdogResponse::decode(&[0; 8]).map(|g| g.timer_use),
            Ok(None)
        );
        assert_eq!(
            GetWatchdogResponse::decode(&[6, 0, 0, 0, 0, 0, 0, 0]),
            Err(DecodeError::Reserved {
                what: "Get Watchdog Timer",
                field: "timer use",
                value: 6
            })
        );
        assert_eq!(
            GetWatchdogResponse::decode(&[4, 0x05, 0, 0, 0, 0, 0, 0])
                .unwrap_err()
                .to_string(),
            "Get Watchdog Timer response has reserved timer action value 5"
        );
        assert!(GetWatchdogResponse::decode(&[4, 0x40, 0, 0, 0, 0, 0, 0]).is_err());
        assert!(GetWatchdogResponse::decode_lenient(&[4; 7]).is_err());
    }

    #[test]
    fn message_flag_codecs() {
        let g = GetMessageFlagsResponse {
            flags: MessageFlags::WATCHDOG_PRETIMEOUT,
        };
        assert_eq!(g.encode(), [0x08]);
        assert_eq!(GetMessageFlagsResponse::decode(&[0x08]), Ok(g));
        assert_eq!(
            GetMessageFlagsResponse::decode(&[0x14]).map(|g| g.flags.bits()),
            Ok(0x14)
        );
        assert!(GetMessageFlagsResponse::decode(&[]).is_err());
        assert!(GetMessageFlagsResponse::decode(&[1, 2]).is_err());
        let c = ClearMessageFlags {
            flags: MessageFlags::WATCHDOG_PRETIMEOUT,
        };
        assert_eq!(c.encode(), [0x08]);
        assert_eq!(ClearMessageFlags::decode(&[0x08]), Ok(c));
        assert_eq!(
            ClearMessageFlags::decode(&[]),
            Err(CompletionCode::REQUEST_DATA_LENGTH_INVALID)
        );
        assert_eq!(
            ClearMessageFlags::decode(&[8, 8]),
            Err(CompletionCode::REQUEST_DATA_LENGTH_INVALID)
        );
    }

    #[test]
    fn completion_split_names_the_code() {
        assert_eq!(
            split_completion(CMD_GET_WATCHDOG, &[0, 1, 2]),
            Ok(&[1u8, 2][..])
        );
        let e = split_completion(CMD_RESET_WATCHDOG, &[0x80]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Reset Watchdog Timer failed: completion code 0x80 (Attempt to start un-initialized watchdog)"
        );
        let e = split_completion(CMD_SET_WATCHDOG, &[0xCC]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Set Watchdog Timer failed: completion code 0xCC (Invalid data field in Request)"
        );
        assert_eq!(
            split_completion(CMD_SET_WATCHDOG, &[]),
            Err(DecodeError::Empty {
                what: "Set Watchdog Timer"
            })
        );
    }

    #[test]
    fn empty_request_rules() {
        assert_eq!(check_empty_request(&[], CompatProfile::Spec), Ok(()));
        assert_eq!(
            check_empty_request(&[1], CompatProfile::Spec),
            Err(CompletionCode::REQUEST_DATA_LENGTH_INVALID)
        );
        assert_eq!(
            check_empty_request(&[1], CompatProfile::PhosphorWatchdog),
            Err(CompletionCode::REQUEST_DATA_LENGTH_INVALID)
        );
        assert_eq!(check_empty_request(&[1], CompatProfile::Qemu), Ok(()));
        assert_eq!(
            check_empty_request(&[1], CompatProfile::OpenIpmiLanserv),
            Ok(())
        );
    }
}
