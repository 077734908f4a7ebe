//! Field types of the watchdog commands (IPMI v2.0 §27.6, §27.7) and of the
//! message flags (§22.4): timer use, timeout action, pre-timeout interrupt,
//! expiration flags, message flags and the 100 ms countdown.

use core::fmt;
use core::str::FromStr;
use core::time::Duration;

/// Error for a name that is not one of a field's known names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseNameError {
    /// Which field was being parsed ("timer use", "timer action", ...).
    pub field: &'static str,
    /// The accepted names, for the error message.
    pub expected: &'static str,
}

impl fmt::Display for ParseNameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown {}; expected one of: {}",
            self.field, self.expected
        )
    }
}

impl std::error::Error for ParseNameError {}

/// Normalises a user-typed name: lower case, `_`, ` ` and `/` become `-`.
fn normalise(s: &str) -> String {
    s.trim()
        .chars()
        .map(|c| match c {
            '_' | ' ' | '/' => '-',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

/// Timer Use (Set byte 1 bits 2:0, Get byte 2 bits 2:0; IPMI v2.0 §27.6
/// Table 27-3). Values 0, 6 and 7 are reserved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum TimerUse {
    /// 1: BIOS FRB2 (fault-resilient booting, level 2).
    Frb2 = 1,
    /// 2: BIOS/POST.
    BiosPost = 2,
    /// 3: OS Load.
    OsLoad = 3,
    /// 4: SMS/OS (system management software; what OS watchdog drivers use).
    SmsOs = 4,
    /// 5: OEM.
    Oem = 5,
}

impl TimerUse {
    /// Every timer use, in numeric order.
    pub const ALL: [TimerUse; 5] = [
        TimerUse::Frb2,
        TimerUse::BiosPost,
        TimerUse::OsLoad,
        TimerUse::SmsOs,
        TimerUse::Oem,
    ];

    /// The 3-bit field value.
    pub const fn bits(self) -> u8 {
        self as u8
    }

    /// Decodes the 3-bit field; `None` for the reserved values 0, 6, 7 (and
    /// anything above 7).
    pub const fn from_bits(v: u8) -> Option<Self> {
        match v {
            1 => Some(Self::Frb2),
            2 => Some(Self::BiosPost),
            3 => Some(Self::OsLoad),
            4 => Some(Self::SmsOs),
            5 => Some(Self::Oem),
            _ => None,
        }
    }

    /// The expiration flag this use sets when the timer expires (`1 << use`).
    pub const fn expiration_flag(self) -> ExpirationFlags {
        ExpirationFlags::from_bits_retain(1 << (self as u8))
    }

    /// CLI-friendly name (`"sms-os"`), accepted by [`FromStr`]: the names
    /// `bmcwd --use` and `--clear-flags` take, so what is printed can be typed
    /// back (`bios-frb2`; `frb2` is still accepted).
    pub const fn cli_name(self) -> &'static str {
        match self {
            Self::Frb2 => "bios-frb2",
            Self::BiosPost => "bios-post",
            Self::OsLoad => "os-load",
            Self::SmsOs => "sms-os",
            Self::Oem => "oem",
        }
    }

    /// The name ipmitool prints (`mc watchdog get`: "SMS/OS"); also the
    /// [`Display`](fmt::Display) form.
    pub const fn ipmitool_name(self) -> &'static str {
        match self {
            Self::Frb2 => "BIOS FRB2",
            Self::BiosPost => "BIOS/POST",
            Self::OsLoad => "OS Load",
            Self::SmsOs => "SMS/OS",
            Self::Oem => "OEM",
        }
    }
}

impl fmt::Display for TimerUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.ipmitool_name())
    }
}

impl FromStr for TimerUse {
    type Err = ParseNameError;

    /// Accepts the CLI names, the ipmitool names (any case, `/`, `_` or
    /// space in place of `-`) and the numbers 1–5.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match normalise(s).as_str() {
            "frb2" | "bios-frb2" | "1" => Ok(Self::Frb2),
            "bios-post" | "post" | "2" => Ok(Self::BiosPost),
            "os-load" | "osload" | "3" => Ok(Self::OsLoad),
            "sms-os" | "smsos" | "sms" | "os" | "4" => Ok(Self::SmsOs),
            "oem" | "5" => Ok(Self::Oem),
            _ => Err(ParseNameError {
                field: "timer use",
                expected: "bios-frb2, bios-post, os-load, sms-os, oem",
            }),
        }
    }
}

/// Timeout action (Set byte 2 bits 2:0; IPMI v2.0 §27.6). Values 4–7 are
/// reserved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum TimerAction {
    /// 0: no action (the expiry is only logged and flagged).
    None = 0,
    /// 1: hard reset of the host.
    HardReset = 1,
    /// 2: power down.
    PowerDown = 2,
    /// 3: power cycle.
    PowerCycle = 3,
}

impl TimerAction {
    /// Every action, in numeric order.
    pub const ALL: [TimerAction; 4] = [
        TimerAction::None,
        TimerAction::HardReset,
        TimerAction::PowerDown,
        TimerAction::PowerCycle,
    ];

    /// The 3-bit field value.
    pub const fn bits(self) -> u8 {
        self as u8
    }

    /// Decodes the 3-bit field; `None` for the reserved values 4–7.
    pub const fn from_bits(v: u8) -> Option<Self> {
        match v {
            0 => Some(Self::None),
            1 => Some(Self::HardReset),
            2 => Some(Self::PowerDown),
            3 => Some(Self::PowerCycle),
            _ => None,
        }
    }

    /// CLI-friendly name (`"hard-reset"`), accepted by [`FromStr`].
    pub const fn cli_name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::HardReset => "hard-reset",
            Self::PowerDown => "power-down",
            Self::PowerCycle => "power-cycle",
        }
    }

    /// The name ipmitool prints; also the [`Display`](fmt::Display) form.
    pub const fn ipmitool_name(self) -> &'static str {
        match self {
            Self::None => "No action",
            Self::HardReset => "Hard Reset",
            Self::PowerDown => "Power Down",
            Self::PowerCycle => "Power Cycle",
        }
    }
}

impl fmt::Display for TimerAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.ipmitool_name())
    }
}

impl FromStr for TimerAction {
    type Err = ParseNameError;

    /// Accepts the CLI names, ipmitool/freeipmi-style names and the numbers 0–3.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match normalise(s).as_str() {
            "none" | "no-action" | "0" => Ok(Self::None),
            "hard-reset" | "reset" | "1" => Ok(Self::HardReset),
            "power-down" | "poweroff" | "power-off" | "2" => Ok(Self::PowerDown),
            "power-cycle" | "powercycle" | "3" => Ok(Self::PowerCycle),
            _ => Err(ParseNameError {
                field: "timer action",
                expected: "none, hard-reset, power-down, power-cycle",
            }),
        }
    }
}

/// Pre-timeout interrupt (Set byte 2 bits 6:4; IPMI v2.0 §27.6). Values 4–7
/// are reserved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum PreTimeoutInterrupt {
    /// 0: no pre-timeout interrupt.
    None = 0,
    /// 1: SMI.
    Smi = 1,
    /// 2: NMI / diagnostic interrupt.
    Nmi = 2,
    /// 3: messaging interrupt (the system interface's own interrupt; the
    /// BMC sets message flag bit 3 and raises SMS_ATN).
    Messaging = 3,
}

impl PreTimeoutInterrupt {
    /// Every interrupt type, in numeric order.
    pub const ALL: [PreTimeoutInterrupt; 4] = [
        PreTimeoutInterrupt::None,
        PreTimeoutInterrupt::Smi,
        PreTimeoutInterrupt::Nmi,
        PreTimeoutInterrupt::Messaging,
    ];

    /// The 3-bit field value (before shifting into bits 6:4).
    pub const fn bits(self) -> u8 {
        self as u8
    }

    /// Decodes the 3-bit field; `None` for the reserved values 4–7.
    pub const fn from_bits(v: u8) -> Option<Self> {
        match v {
            0 => Some(Self::None),
            1 => Some(Self::Smi),
            2 => Some(Self::Nmi),
            3 => Some(Self::Messaging),
            _ => None,
        }
    }

    /// CLI-friendly name (`"nmi"`), accepted by [`FromStr`].
    pub const fn cli_name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Smi => "smi",
            Self::Nmi => "nmi",
            Self::Messaging => "msg",
        }
    }

    /// The name ipmitool prints; also the [`Display`](fmt::Display) form.
    pub const fn ipmitool_name(self) -> &'static str {
        match self {
            Self::None => "None",
            Self::Smi => "SMI",
            Self::Nmi => "NMI / Diagnostic Interrupt",
            Self::Messaging => "Messaging Interrupt",
        }
    }
}

impl fmt::Display for PreTimeoutInterrupt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.ipmitool_name())
    }
}

impl FromStr for PreTimeoutInterrupt {
    type Err = ParseNameError;

    /// Accepts `none`, `smi`, `nmi` (or `diag`), `msg` (or `messaging`) and 0–3.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match normalise(s).as_str() {
            "none" | "0" => Ok(Self::None),
            "smi" | "1" => Ok(Self::Smi),
            "nmi" | "diag" | "nmi-diag" | "diagnostic" | "2" => Ok(Self::Nmi),
            "msg" | "messaging" | "messaging-interrupt" | "3" => Ok(Self::Messaging),
            _ => Err(ParseNameError {
                field: "pre-timeout interrupt",
                expected: "none, smi, nmi, msg",
            }),
        }
    }
}

bitflags::bitflags! {
    /// Timer Use Expiration flags (Set byte 4 = bits to clear; Get byte 5 =
    /// uses that expired; IPMI v2.0 §27.6/§27.7). Bits 0, 6 and 7 are reserved.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct ExpirationFlags: u8 {
        /// Bit 1: BIOS FRB2 timer expired.
        const FRB2 = 0x02;
        /// Bit 2: BIOS/POST timer expired.
        const BIOS_POST = 0x04;
        /// Bit 3: OS Load timer expired.
        const OS_LOAD = 0x08;
        /// Bit 4: SMS/OS timer expired.
        const SMS_OS = 0x10;
        /// Bit 5: OEM timer expired.
        const OEM = 0x20;
    }
}

impl ExpirationFlags {
    /// The reserved bits (0, 6, 7).
    pub const RESERVED_BITS: u8 = 0xC1;
}

bitflags::bitflags! {
    /// Message flags (Get Message Flags response byte 2, Clear Message Flags
    /// request byte 1; IPMI v2.0 §22.4 / §22.3). Bits 2 and 4 are reserved.
    /// The watchdog model owns only [`WATCHDOG_PRETIMEOUT`](Self::WATCHDOG_PRETIMEOUT);
    /// the BMC ORs in the others. Mirrors the masks in Linux `ipmi_si_intf.c`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct MessageFlags: u8 {
        /// Bit 0: receive message available.
        const RECEIVE_MESSAGE = 0x01;
        /// Bit 1: event message buffer full.
        const EVENT_BUFFER_FULL = 0x02;
        /// Bit 3: watchdog pre-timeout interrupt occurred.
        const WATCHDOG_PRETIMEOUT = 0x08;
        /// Bit 5: OEM 0 data available.
        const OEM0 = 0x20;
        /// Bit 6: OEM 1 data available.
        const OEM1 = 0x40;
        /// Bit 7: OEM 2 data available.
        const OEM2 = 0x80;
    }
}

/// Error converting a [`Duration`] to a [`Countdown`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountdownError {
    /// Longer than 6553.5 s, the largest 16-bit count of 100 ms.
    TooLong(Duration),
    /// Not a whole number of 100 ms (use [`Countdown::from_duration_ceil`]
    /// to round up instead).
    NotMultiple(Duration),
}

impl fmt::Display for CountdownError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLong(d) => write!(
                f,
                "watchdog countdown {d:?} is too long: the maximum is 6553.5 s (65535 × 100 ms)"
            ),
            Self::NotMultiple(d) => write!(
                f,
                "watchdog countdown {d:?} is not a whole number of 100 ms (the timer's resolution)"
            ),
        }
    }
}

impl std::error::Error for CountdownError {}

/// A watchdog countdown: a 16-bit count of 100 ms ticks (IPMI v2.0 §27.6
/// bytes 5–6, §27.7 bytes 6–9; LSB first on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Countdown(u16);

impl Countdown {
    /// One tick: 100 ms.
    pub const TICK: Duration = Duration::from_millis(100);
    /// Zero: with Reset, the timeout happens immediately.
    pub const ZERO: Self = Self(0);
    /// The longest countdown, 6553.5 s.
    pub const MAX: Self = Self(u16::MAX);

    const TICK_NANOS: u128 = 100_000_000;

    /// A countdown of `ticks` × 100 ms.
    pub const fn from_ticks(ticks: u16) -> Self {
        Self(ticks)
    }

    /// The count of 100 ms ticks (the wire value).
    pub const fn ticks(self) -> u16 {
        self.0
    }

    /// Whole seconds (`ticks / 10`, truncated), as the phosphor pre-timeout
    /// check uses them.
    pub const fn whole_seconds(self) -> u16 {
        self.0 / 10
    }

    /// The countdown as a [`Duration`].
    pub const fn as_duration(self) -> Duration {
        Duration::from_millis(self.0 as u64 * 100)
    }

    /// Exact conversion: errors if `d` is longer than 6553.5 s or not a whole
    /// number of 100 ms, so a request never silently differs from what the
    /// user asked for.
    pub fn from_duration(d: Duration) -> Result<Self, CountdownError> {
        let nanos = d.as_nanos();
        if nanos % Self::TICK_NANOS != 0 {
            return Err(CountdownError::NotMultiple(d));
        }
        u16::try_from(nanos / Self::TICK_NANOS)
            .map(Self)
            .map_err(|_| CountdownError::TooLong(d))
    }

    /// Rounds `d` up to the next 100 ms (a watchdog never fires earlier than
    /// asked); errors only if the result exceeds 6553.5 s.
    pub fn from_duration_ceil(d: Duration) -> Result<Self, CountdownError> {
        let ticks = d.as_nanos().div_ceil(Self::TICK_NANOS);
        u16::try_from(ticks)
            .map(Self)
            .map_err(|_| CountdownError::TooLong(d))
    }

    /// Little-endian wire bytes.
    pub const fn to_le_bytes(self) -> [u8; 2] {
        self.0.to_le_bytes()
    }

    /// From little-endian wire bytes.
    pub const fn from_le_bytes(b: [u8; 2]) -> Self {
        Self(u16::from_le_bytes(b))
    }
}

impl fmt::Display for Countdown {
    /// `12.3 s`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{} s", self.0 / 10, self.0 % 10)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timer_use_names_round_trip() {
        for u in TimerUse::ALL {
            assert_eq!(u.cli_name().parse::<TimerUse>(), Ok(u));
            assert_eq!(u.ipmitool_name().parse::<TimerUse>(), Ok(u));
            assert_eq!(TimerUse::from_bits(u.bits()), Some(u));
        }
        assert_eq!("SMS/OS".parse::<TimerUse>(), Ok(TimerUse::SmsOs));
        assert_eq!("BIOS FRB2".parse::<TimerUse>(), Ok(TimerUse::Frb2));
        assert_eq!("frb2".parse::<TimerUse>(), Ok(TimerUse::Frb2));
        // Printed as `bmcwd --use` spells it (issue #14: `all` echoed `frb2`).
        assert_eq!(TimerUse::Frb2.cli_name(), "bios-frb2");
        assert!("bogus".parse::<TimerUse>().is_err());
        for v in [0u8, 6, 7, 8, 255] {
            assert_eq!(TimerUse::from_bits(v), None);
        }
        assert_eq!(TimerUse::SmsOs.expiration_flag(), ExpirationFlags::SMS_OS);
        assert_eq!(TimerUse::Frb2.expiration_flag(), ExpirationFlags::FRB2);
        assert_eq!(TimerUse::Oem.expiration_flag(), ExpirationFlags::OEM);
    }

    #[test]
    fn action_and_interrupt_names_round_trip() {
        for a in TimerAction::ALL {
            assert_eq!(a.cli_name().parse::<TimerAction>(), Ok(a));
            assert_eq!(a.ipmitool_name().parse::<TimerAction>(), Ok(a));
            assert_eq!(TimerAction::from_bits(a.bits()), Some(a));
        }
        for i in PreTimeoutInterrupt::ALL {
            assert_eq!(i.cli_name().parse::<PreTimeoutInterrupt>(), Ok(i));
            assert_eq!(PreTimeoutInterrupt::from_bits(i.bits()), Some(i));
        }
        for v in 4..=7u8 {
            assert_eq!(TimerAction::from_bits(v), None);
            assert_eq!(PreTimeoutInterrupt::from_bits(v), None);
        }
        let e = "x".parse::<TimerAction>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown timer action; expected one of: none, hard-reset, power-down, power-cycle"
        );
    }

    #[test]
    fn countdown_duration_api() {
        assert_eq!(
            Countdown::from_duration(Duration::from_secs(10)),
            Ok(Countdown::from_ticks(100))
        );
        assert_eq!(
            Countdown::from_duration(Duration::from_millis(6_553_500)),
            Ok(Countdown::MAX)
        );
        assert_eq!(
            Countdown::from_duration(Duration::from_millis(6_553_600)),
            Err(CountdownError::TooLong(Duration::from_millis(6_553_600)))
        );
        assert_eq!(
            Countdown::from_duration(Duration::from_millis(150)),
            Err(CountdownError::NotMultiple(Duration::from_millis(150)))
        );
        assert_eq!(
            Countdown::from_duration_ceil(Duration::from_millis(150)),
            Ok(Countdown::from_ticks(2))
        );
        assert_eq!(
            Countdown::from_duration_ceil(Duration::from_nanos(1)),
            Ok(Countdown::from_ticks(1))
        );
        assert_eq!(
            Countdown::from_duration_ceil(Duration::ZERO),
            Ok(Countdown::ZERO)
        );
        assert!(Countdown::from_duration_ceil(Duration::from_millis(6_553_501)).is_err());
        assert!(Countdown::from_duration(Duration::MAX).is_err());
        assert_eq!(
            Countdown::from_ticks(123).as_duration(),
            Duration::from_millis(12_300)
        );
        assert_eq!(Countdown::from_ticks(123).to_string(), "12.3 s");
        assert_eq!(Countdown::from_le_bytes([0x64, 0x00]).ticks(), 100);
        assert!(CountdownError::TooLong(Duration::from_secs(7000))
            .to_string()
            .contains("6553.5 s"));
    }
}
