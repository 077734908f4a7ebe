//! Sans-IO codec for OpenIPMI's "VM" serial protocol, the byte stream QEMU's
//! `ipmi-bmc-extern` device speaks to an external BMC.
//!
//! Framing (QEMU `hw/ipmi/ipmi_bmc_extern.c`: `addchar`, `receive`,
//! `handle_msg`; OpenIPMI `lanserv/serial_ipmi.c`, VM codec):
//! * `0xA0` ends an IPMI **message** unit, `0xA1` ends a **control command**
//!   unit, `0xAA` escapes: a payload byte equal to A0, A1 or AA is sent as
//!   `AA, byte | 0x10`, and the receiver clears bit 4 of the byte after `AA`.
//! * A message unit is `msg_id, netfn<<2 | lun, cmd, [cc,] data…, checksum`;
//!   the checksum is the two's complement of the 8-bit sum of the bytes
//!   before it, computed on unescaped bytes.
//! * A unit longer than [`MAX_UNIT`] unescaped bytes, a unit that ends while
//!   an escape is pending, a message with a bad checksum: all are discarded.
//!
//! Nothing here touches a socket or a clock: feed bytes to a [`Decoder`], get
//! [`Unit`]s back; build outgoing bytes with an [`Encoder`].
//!
//! ```
//! use bmc_sim::vmproto::{Decoder, Encoder, VmRequest, Unit};
//!
//! // QEMU asks for Get Device ID with msg_id 5 (bmc-watchdog.md §4.3).
//! let mut dec = Decoder::new();
//! let mut got = None;
//! for b in [0x05, 0x18, 0x01, 0xE2, 0xA0] {
//!     if let Some(Unit::Message(m)) = dec.push(b) {
//!         got = VmRequest::parse(m).ok().map(|r| (r.msg_id, r.netfn(), r.cmd));
//!     }
//! }
//! assert_eq!(got, Some((0x05, 0x06, 0x01)));
//!
//! // The BMC answers 0xC1 (invalid command), echoing the msg_id.
//! let mut enc = Encoder::new();
//! enc.response(0x05, 0x07 << 2, 0x01, 0xC1, &[]);
//! assert_eq!(enc.bytes(), &[0x05, 0x1C, 0x01, 0xC1, 0x1D, 0xA0]);
//! ```

use core::fmt;

/// Ends an IPMI message unit (QEMU `VM_MSG_CHAR`).
pub(super) const MSG_END: u8 = 0xA0;
/// Ends a control command unit (QEMU `VM_CMD_CHAR`).
pub(super) const CMD_END: u8 = 0xA1;
/// Escape byte: the next byte has bit 4 set and must have it cleared
/// (QEMU `VM_ESCAPE_CHAR`).
pub(super) const ESCAPE: u8 = 0xAA;
/// Bit toggled on an escaped byte.
pub(super) const ESCAPE_BIT: u8 = 0x10;
/// Protocol version both ends announce with [`ControlCommand::Version`]
/// (QEMU `VM_PROTOCOL_VERSION`).
pub(super) const PROTOCOL_VERSION: u8 = 1;
/// Largest unescaped unit QEMU accepts: `MAX_IPMI_MSG_SIZE + 2` = 302 bytes
/// (QEMU `IPMIBmcExtern::inbuf`). A longer unit is discarded here.
pub const MAX_UNIT: usize = 302;
/// Largest IPMI message (netfn, cmd, data) QEMU forwards
/// (`include/hw/ipmi/ipmi.h`, `MAX_IPMI_MSG_SIZE`).
pub(super) const MAX_IPMI_MSG: usize = 300;

/// Two's-complement checksum of `bytes`: the byte that makes the 8-bit sum
/// of `bytes` and itself zero (IPMI v2.0 §13.8, QEMU `ipmb_checksum`).
pub(super) fn checksum(bytes: &[u8]) -> u8 {
    bytes
        .iter()
        .fold(0u8, |acc, b| acc.wrapping_add(*b))
        .wrapping_neg()
}

/// Capability bits the VM announces with [`ControlCommand::Capabilities`]
/// (QEMU `VM_CAPABILITIES_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Capabilities(pub u8);

impl Capabilities {
    /// The VM can power itself off ([`ControlCommand::PowerOff`]).
    pub const POWER: u8 = 0x01;
    /// The VM can reset itself ([`ControlCommand::Reset`]).
    pub const RESET: u8 = 0x02;
    /// The VM honours [`ControlCommand::EnableIrq`] / [`ControlCommand::DisableIrq`].
    pub const IRQ: u8 = 0x04;
    /// The VM can take an NMI ([`ControlCommand::SendNmi`]).
    pub const NMI: u8 = 0x08;
    /// The VM honours ATN ([`ControlCommand::Attn`], [`ControlCommand::AttnIrq`]).
    pub const ATTN: u8 = 0x10;
    /// The VM can do an ACPI power-button shutdown
    /// ([`ControlCommand::GracefulShutdown`]).
    pub const GRACEFUL_SHUTDOWN: u8 = 0x20;

    /// Whether every bit of `bit` is announced.
    pub const fn has(self, bit: u8) -> bool {
        self.0 & bit == bit
    }
}

/// One control command, the unit ended by `0xA1` (QEMU `VM_CMD_*`,
/// `handle_hw_op`; OpenIPMI `lanserv/serial_ipmi.c`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ControlCommand {
    /// `00` BMC → VM: clear SMS_ATN.
    NoAttn,
    /// `01` BMC → VM: set SMS_ATN without an interrupt.
    Attn,
    /// `02` BMC → VM: set SMS_ATN and raise the interrupt if enabled.
    AttnIrq,
    /// `03` BMC → VM: hard power-off (current QEMU: the VM process exits).
    PowerOff,
    /// `04` both ways: BMC → VM resets the machine; VM → BMC says "the target
    /// was reset".
    Reset,
    /// `05` BMC → VM: allow interrupts from the system interface
    /// (QEMU `irqs_enabled = 1`; no BT interrupt without it).
    EnableIrq,
    /// `06` BMC → VM: forbid interrupts from the system interface.
    DisableIrq,
    /// `07` BMC → VM: inject an NMI.
    SendNmi,
    /// `08 caps` VM → BMC on connect: what the VM can do.
    Capabilities(Capabilities),
    /// `09` BMC → VM: ACPI power-button shutdown (current QEMU).
    GracefulShutdown,
    /// `FF version` both ways on connect.
    Version(u8),
    /// Any other command byte; QEMU and OpenIPMI ignore these.
    Unknown(u8),
}

impl ControlCommand {
    /// Command byte of `NoAttn`.
    pub const NOATTN: u8 = 0x00;
    /// Command byte of `Attn`.
    pub const ATTN: u8 = 0x01;
    /// Command byte of `AttnIrq`.
    pub const ATTN_IRQ: u8 = 0x02;
    /// Command byte of `PowerOff`.
    pub const POWEROFF: u8 = 0x03;
    /// Command byte of `Reset`.
    pub const RESET: u8 = 0x04;
    /// Command byte of `EnableIrq`.
    pub const ENABLE_IRQ: u8 = 0x05;
    /// Command byte of `DisableIrq`.
    pub const DISABLE_IRQ: u8 = 0x06;
    /// Command byte of `SendNmi`.
    pub const SEND_NMI: u8 = 0x07;
    /// Command byte of `Capabilities`.
    pub const CAPABILITIES: u8 = 0x08;
    /// Command byte of `GracefulShutdown`.
    pub const GRACEFUL_SHUTDOWN: u8 = 0x09;
    /// Command byte of `Version`.
    pub const VERSION: u8 = 0xFF;

    /// Parses an unescaped control unit (command byte, then its argument).
    /// Returns `None` for an empty unit. A missing argument of `Version` or
    /// `Capabilities` reads as 0, the way QEMU ignores arguments it lacks.
    pub fn parse(unit: &[u8]) -> Option<Self> {
        let (&code, rest) = unit.split_first()?;
        let arg = rest.first().copied().unwrap_or(0);
        Some(match code {
            Self::NOATTN => Self::NoAttn,
            Self::ATTN => Self::Attn,
            Self::ATTN_IRQ => Self::AttnIrq,
            Self::POWEROFF => Self::PowerOff,
            Self::RESET => Self::Reset,
            Self::ENABLE_IRQ => Self::EnableIrq,
            Self::DISABLE_IRQ => Self::DisableIrq,
            Self::SEND_NMI => Self::SendNmi,
            Self::CAPABILITIES => Self::Capabilities(Capabilities(arg)),
            Self::GRACEFUL_SHUTDOWN => Self::GracefulShutdown,
            Self::VERSION => Self::Version(arg),
            other => Self::Unknown(other),
        })
    }

    /// The command byte.
    pub const fn code(self) -> u8 {
        match self {
            Self::NoAttn => Self::NOATTN,
            Self::Attn => Self::ATTN,
            Self::AttnIrq => Self::ATTN_IRQ,
            Self::PowerOff => Self::POWEROFF,
            Self::Reset => Self::RESET,
            Self::EnableIrq => Self::ENABLE_IRQ,
            Self::DisableIrq => Self::DISABLE_IRQ,
            Self::SendNmi => Self::SEND_NMI,
            Self::Capabilities(_) => Self::CAPABILITIES,
            Self::GracefulShutdown => Self::GRACEFUL_SHUTDOWN,
            Self::Version(_) => Self::VERSION,
            Self::Unknown(c) => c,
        }
    }

    /// The argument byte, for the two commands that carry one.
    pub const fn arg(self) -> Option<u8> {
        match self {
            Self::Capabilities(Capabilities(c)) => Some(c),
            Self::Version(v) => Some(v),
            _ => None,
        }
    }
}

impl fmt::Display for ControlCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoAttn => f.write_str("NOATTN"),
            Self::Attn => f.write_str("ATTN"),
            Self::AttnIrq => f.write_str("ATTN_IRQ"),
            Self::PowerOff => f.write_str("POWEROFF"),
            Self::Reset => f.write_str("RESET"),
            Self::EnableIrq => f.write_str("ENABLE_IRQ"),
            Self::DisableIrq => f.write_str("DISABLE_IRQ"),
            Self::SendNmi => f.write_str("SEND_NMI"),
            Self::Capabilities(c) => write!(f, "CAPABILITIES {:#04x}", c.0),
            Self::GracefulShutdown => f.write_str("GRACEFUL_SHUTDOWN"),
            Self::Version(v) => write!(f, "VERSION {v}"),
            Self::Unknown(c) => write!(f, "UNKNOWN {c:#04x}"),
        }
    }
}

/// Why the decoder threw a unit away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Discard {
    /// The unit grew past [`MAX_UNIT`] unescaped bytes.
    Overflow,
    /// A terminator arrived right after an escape byte.
    PendingEscape,
    /// The message checksum did not sum to zero.
    BadChecksum,
    /// A message unit of fewer than 2 bytes (no room for a checksum).
    TooShort,
}

impl fmt::Display for Discard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Overflow => "unit longer than the protocol maximum",
            Self::PendingEscape => "unit ended inside an escape",
            Self::BadChecksum => "message checksum mismatch",
            Self::TooShort => "message too short to carry a checksum",
        })
    }
}

/// One decoded unit. Borrowed from the decoder's buffer: valid until the
/// next [`Decoder::push`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit<'a> {
    /// A message with a valid checksum; the slice excludes the checksum
    /// (`msg_id, netfn_lun, cmd, …`). Parse it with [`VmRequest::parse`] or
    /// [`VmResponse::parse`].
    Message(&'a [u8]),
    /// A control command.
    Control(ControlCommand),
    /// A unit thrown away, and why.
    Discarded(Discard),
}

/// Incremental VM-protocol decoder: push bytes, get units. Never panics and
/// never grows past [`MAX_UNIT`] bytes, whatever the input.
#[derive(Debug, Clone)]
pub struct Decoder {
    buf: [u8; MAX_UNIT],
    len: usize,
    escape: bool,
    overflow: bool,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoder {
    /// An empty decoder, at a unit boundary.
    pub const fn new() -> Self {
        Self {
            buf: [0; MAX_UNIT],
            len: 0,
            escape: false,
            overflow: false,
        }
    }

    /// Drops any partial unit (after a reconnect).
    pub fn reset(&mut self) {
        self.len = 0;
        self.escape = false;
        self.overflow = false;
    }

    /// Whether a unit is partly received.
    pub fn in_unit(&self) -> bool {
        self.len > 0 || self.escape || self.overflow
    }

    /// Feeds one byte; returns a unit when `byte` ends one. Empty units
    /// (two terminators in a row) yield nothing.
    pub fn push(&mut self, byte: u8) -> Option<Unit<'_>> {
        match byte {
            MSG_END | CMD_END => {
                let (len, escape, overflow) = (self.len, self.escape, self.overflow);
                self.reset();
                if overflow {
                    return Some(Unit::Discarded(Discard::Overflow));
                }
                if escape {
                    return Some(Unit::Discarded(Discard::PendingEscape));
                }
                if len == 0 {
                    return None;
                }
                let unit = self.buf.get(..len)?;
                if byte == CMD_END {
                    return ControlCommand::parse(unit).map(Unit::Control);
                }
                let (body, _) = unit.split_at(len.saturating_sub(1));
                if len < 2 {
                    Some(Unit::Discarded(Discard::TooShort))
                } else if unit.iter().fold(0u8, |a, b| a.wrapping_add(*b)) != 0 {
                    Some(Unit::Discarded(Discard::BadChecksum))
                } else {
                    Some(Unit::Message(body))
                }
            }
            ESCAPE => {
                self.escape = true;
                None
            }
            mut b => {
                if self.escape {
                    b &= !ESCAPE_BIT;
                    self.escape = false;
                }
                if self.overflow {
                    return None;
                }
                match self.buf.get_mut(self.len) {
                    Some(slot) => {
                        *slot = b;
                        self.len += 1;
                    }
                    None => self.overflow = true,
                }
                None
            }
        }
    }
}

/// Why a message unit is not a well-formed request or response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VmParseError {
    /// Fewer bytes than the fixed header needs.
    TooShort {
        /// Bytes present (without checksum).
        got: usize,
        /// Bytes the header needs.
        need: usize,
    },
}

impl fmt::Display for VmParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooShort { got, need } => {
                write!(f, "VM message has {got} bytes, needs at least {need}")
            }
        }
    }
}

impl std::error::Error for VmParseError {}

/// A request, VM → BMC: `msg_id, netfn<<2|lun, cmd, data…`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VmRequest<'a> {
    /// QEMU's per-interface message counter; the response must echo it.
    pub msg_id: u8,
    /// `netfn << 2 | lun`.
    pub netfn_lun: u8,
    /// Command byte.
    pub cmd: u8,
    /// Request data.
    pub data: &'a [u8],
}

impl<'a> VmRequest<'a> {
    /// Parses a checksum-stripped message unit.
    pub fn parse(body: &'a [u8]) -> Result<Self, VmParseError> {
        match body {
            [msg_id, netfn_lun, cmd, data @ ..] => Ok(Self {
                msg_id: *msg_id,
                netfn_lun: *netfn_lun,
                cmd: *cmd,
                data,
            }),
            _ => Err(VmParseError::TooShort {
                got: body.len(),
                need: 3,
            }),
        }
    }

    /// The network function (upper six bits of `netfn_lun`).
    pub const fn netfn(&self) -> u8 {
        self.netfn_lun >> 2
    }

    /// The LUN (lower two bits of `netfn_lun`).
    pub const fn lun(&self) -> u8 {
        self.netfn_lun & 3
    }
}

/// A response, BMC → VM: `msg_id, (netfn|1)<<2|lun, cmd, cc, data…`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VmResponse<'a> {
    /// Echo of the request's `msg_id`.
    pub msg_id: u8,
    /// `netfn << 2 | lun`, netfn odd (response).
    pub netfn_lun: u8,
    /// Echo of the request's command.
    pub cmd: u8,
    /// Completion code.
    pub cc: u8,
    /// Response data after the completion code.
    pub data: &'a [u8],
}

impl<'a> VmResponse<'a> {
    /// Parses a checksum-stripped message unit. QEMU needs at least `msg_id,
    /// netfn, cmd, cc` (`handle_msg`: `inpos < 5` with the checksum).
    pub fn parse(body: &'a [u8]) -> Result<Self, VmParseError> {
        match body {
            [msg_id, netfn_lun, cmd, cc, data @ ..] => Ok(Self {
                msg_id: *msg_id,
                netfn_lun: *netfn_lun,
                cmd: *cmd,
                cc: *cc,
                data,
            }),
            _ => Err(VmParseError::TooShort {
                got: body.len(),
                need: 4,
            }),
        }
    }
}

/// Builds escaped VM-protocol units into an internal buffer, so a server can
/// write each unit with one call.
#[derive(Debug, Clone, Default)]
pub struct Encoder {
    out: Vec<u8>,
}

impl Encoder {
    /// An encoder with an empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    fn put(&mut self, b: u8) {
        if matches!(b, MSG_END | CMD_END | ESCAPE) {
            self.out.push(ESCAPE);
            self.out.push(b | ESCAPE_BIT);
        } else {
            self.out.push(b);
        }
    }

    /// Appends one message unit: the escaped `parts` in order, their
    /// checksum, then `A0`.
    pub fn message(&mut self, parts: &[&[u8]]) -> &mut Self {
        let mut sum = 0u8;
        for part in parts {
            for &b in *part {
                sum = sum.wrapping_add(b);
                self.put(b);
            }
        }
        self.put(sum.wrapping_neg());
        self.out.push(MSG_END);
        self
    }

    /// Appends a message unit whose checksum byte is `checksum` whatever the
    /// content: for injecting checksum faults.
    pub fn message_with_checksum(&mut self, parts: &[&[u8]], checksum: u8) -> &mut Self {
        for part in parts {
            for &b in *part {
                self.put(b);
            }
        }
        self.put(checksum);
        self.out.push(MSG_END);
        self
    }

    /// Appends a request unit (VM side).
    pub fn request(&mut self, msg_id: u8, netfn_lun: u8, cmd: u8, data: &[u8]) -> &mut Self {
        self.message(&[&[msg_id, netfn_lun, cmd], data])
    }

    /// Appends a response unit (BMC side). `netfn_lun` is written as given:
    /// pass the response netfn (request netfn | 1).
    pub fn response(
        &mut self,
        msg_id: u8,
        netfn_lun: u8,
        cmd: u8,
        cc: u8,
        data: &[u8],
    ) -> &mut Self {
        self.message(&[&[msg_id, netfn_lun, cmd, cc], data])
    }

    /// Appends a control unit: command byte, optional argument, then `A1`.
    pub fn control(&mut self, cmd: ControlCommand) -> &mut Self {
        self.put(cmd.code());
        if let Some(arg) = cmd.arg() {
            self.put(arg);
        }
        self.out.push(CMD_END);
        self
    }

    /// The bytes built so far.
    pub fn bytes(&self) -> &[u8] {
        &self.out
    }

    /// Takes the bytes built so far, leaving the encoder empty.
    pub fn take(&mut self) -> Vec<u8> {
        core::mem::take(&mut self.out)
    }

    /// Empties the buffer, keeping its allocation.
    pub fn clear(&mut self) {
        self.out.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decode_all(bytes: &[u8]) -> Vec<Result<Vec<u8>, String>> {
        let mut d = Decoder::new();
        let mut out = Vec::new();
        for &b in bytes {
            match d.push(b) {
                Some(Unit::Message(m)) => out.push(Ok(m.to_vec())),
                Some(Unit::Control(c)) => out.push(Err(format!("ctl {c}"))),
                Some(Unit::Discarded(why)) => out.push(Err(format!("discard {why:?}"))),
                None => {}
            }
        }
        out
    }

    #[test]
    fn get_device_id_request_from_reference() {
        // bmc-watchdog.md §4.3: Get Device ID from QEMU, msg_id 05.
        let mut e = Encoder::new();
        e.request(0x05, 0x06 << 2, 0x01, &[]);
        assert_eq!(e.bytes(), &[0x05, 0x18, 0x01, 0xE2, 0xA0]);
        let units = decode_all(e.bytes());
        assert_eq!(units, vec![Ok(vec![0x05, 0x18, 0x01])]);
        let body = [0x05, 0x18, 0x01];
        let r = VmRequest::parse(&body).unwrap();
        assert_eq!((r.msg_id, r.netfn(), r.lun(), r.cmd), (5, 6, 0, 1));
        assert!(r.data.is_empty());
    }

    #[test]
    fn invalid_command_response_from_reference() {
        let mut e = Encoder::new();
        e.response(0x05, 0x07 << 2, 0x01, 0xC1, &[]);
        assert_eq!(e.bytes(), &[0x05, 0x1C, 0x01, 0xC1, 0x1D, 0xA0]);
        let mut d = Decoder::new();
        let mut got = None;
        for &b in e.bytes() {
            if let Some(Unit::Message(m)) = d.push(b) {
                got = Some(VmResponse::parse(m).map(|r| (r.msg_id, r.netfn_lun, r.cmd, r.cc)));
            }
        }
        assert_eq!(got, Some(Ok((0x05, 0x1C, 0x01, 0xC1))));
    }

    #[test]
    fn watchdog_set_from_reference() {
        let mut e = Encoder::new();
        e.request(0x07, 0x18, 0x24, &[0x44, 0x01, 0x00, 0x00, 0x64, 0x00]);
        assert_eq!(
            e.bytes(),
            &[0x07, 0x18, 0x24, 0x44, 0x01, 0x00, 0x00, 0x64, 0x00, 0x14, 0xA0]
        );
    }

    #[test]
    fn special_bytes_are_escaped_including_checksum() {
        let mut e = Encoder::new();
        // data A0 A1 AA; sum = 0x01+0x18+0x01+0xA0+0xA1+0xAA = 0x25D -> 0x205 -> 0x05, csum 0xFB
        e.request(0x01, 0x18, 0x01, &[0xA0, 0xA1, 0xAA]);
        assert_eq!(
            e.bytes(),
            &[0x01, 0x18, 0x01, 0xAA, 0xB0, 0xAA, 0xB1, 0xAA, 0xBA, 0xFB, 0xA0]
        );
        // A checksum that is itself special gets escaped: body 0x60 -> csum 0xA0.
        let mut e = Encoder::new();
        e.message(&[&[0x60]]);
        assert_eq!(e.bytes(), &[0x60, 0xAA, 0xB0, 0xA0]);
        assert_eq!(decode_all(e.bytes()), vec![Ok(vec![0x60])]);
        let decoded = decode_all(&[
            0x01, 0x18, 0x01, 0xAA, 0xB0, 0xAA, 0xB1, 0xAA, 0xBA, 0xFB, 0xA0,
        ]);
        assert_eq!(decoded, vec![Ok(vec![0x01, 0x18, 0x01, 0xA0, 0xA1, 0xAA])]);
    }

    #[test]
    fn qemu_opening_bytes_are_two_controls() {
        let mut d = Decoder::new();
        let mut got = Vec::new();
        for b in [0xFF, 0x01, 0xA1, 0x08, 0x3F, 0xA1] {
            if let Some(Unit::Control(c)) = d.push(b) {
                got.push(c);
            }
        }
        assert_eq!(
            got,
            vec![
                ControlCommand::Version(1),
                ControlCommand::Capabilities(Capabilities(0x3F))
            ]
        );
        let Some(ControlCommand::Capabilities(caps)) = got.get(1).copied() else {
            panic!("no caps")
        };
        assert!(caps.has(Capabilities::IRQ | Capabilities::ATTN | Capabilities::RESET));
    }

    #[test]
    fn control_encoding() {
        let mut e = Encoder::new();
        e.control(ControlCommand::AttnIrq)
            .control(ControlCommand::Version(PROTOCOL_VERSION))
            .control(ControlCommand::Unknown(0xAA));
        assert_eq!(
            e.take(),
            vec![0x02, 0xA1, 0xFF, 0x01, 0xA1, 0xAA, 0xBA, 0xA1]
        );
        assert!(e.bytes().is_empty());
        for c in [
            ControlCommand::NoAttn,
            ControlCommand::Attn,
            ControlCommand::AttnIrq,
            ControlCommand::PowerOff,
            ControlCommand::Reset,
            ControlCommand::EnableIrq,
            ControlCommand::DisableIrq,
            ControlCommand::SendNmi,
            ControlCommand::Capabilities(Capabilities(0x1F)),
            ControlCommand::GracefulShutdown,
            ControlCommand::Version(1),
        ] {
            e.clear();
            e.control(c);
            let mut d = Decoder::new();
            let got: Vec<_> = e
                .bytes()
                .iter()
                .filter_map(|&b| d.push(b).map(|u| format!("{u:?}")))
                .collect();
            assert_eq!(got, vec![format!("{:?}", Unit::Control(c))]);
        }
    }

    #[test]
    fn discards() {
        // Bad checksum.
        assert_eq!(
            decode_all(&[0x05, 0x18, 0x01, 0xE3, 0xA0]),
            vec![Err("discard BadChecksum".into())]
        );
        // One byte message: no room for a checksum.
        assert_eq!(
            decode_all(&[0x00, 0xA0]),
            vec![Err("discard TooShort".into())]
        );
        // Terminator right after an escape, then the stream resynchronises.
        assert_eq!(
            decode_all(&[0x05, 0xAA, 0xA0, 0x05, 0x18, 0x01, 0xE2, 0xA0]),
            vec![
                Err("discard PendingEscape".into()),
                Ok(vec![0x05, 0x18, 0x01])
            ]
        );
        assert_eq!(
            decode_all(&[0xAA, 0xA1]),
            vec![Err("discard PendingEscape".into())]
        );
        // Empty units are ignored.
        assert!(decode_all(&[0xA0, 0xA1, 0xA0]).is_empty());
        // Overflow: MAX_UNIT bytes fit, one more does not.
        let mut long = vec![0u8; MAX_UNIT];
        long.push(0xA0);
        assert_eq!(decode_all(&long), vec![Ok(vec![0u8; MAX_UNIT - 1])]);
        let mut longer = vec![0u8; MAX_UNIT + 1];
        longer.push(0xA1);
        longer.extend([0x05, 0x18, 0x01, 0xE2, 0xA0]);
        assert_eq!(
            decode_all(&longer),
            vec![Err("discard Overflow".into()), Ok(vec![5, 0x18, 1])]
        );
    }

    #[test]
    fn short_messages_do_not_parse() {
        assert_eq!(
            VmRequest::parse(&[1, 2]),
            Err(VmParseError::TooShort { got: 2, need: 3 })
        );
        assert_eq!(
            VmResponse::parse(&[1, 2, 3]),
            Err(VmParseError::TooShort { got: 3, need: 4 })
        );
        assert_eq!(
            VmParseError::TooShort { got: 3, need: 4 }.to_string(),
            "VM message has 3 bytes, needs at least 4"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let mut d = Decoder::new();
            for b in bytes {
                if let Some(Unit::Message(m)) = d.push(b) {
                    prop_assert!(m.len() < MAX_UNIT);
                    let _ = VmRequest::parse(m);
                    let _ = VmResponse::parse(m);
                }
            }
        }

        #[test]
        fn roundtrip_any_message(
            units in proptest::collection::vec(
                (any::<bool>(), proptest::collection::vec(any::<u8>(), 1..=MAX_UNIT - 1)), 1..8),
            junk in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let mut e = Encoder::new();
            // Garbage first, then a terminator so the decoder resynchronises.
            let mut stream: Vec<u8> = junk;
            stream.push(MSG_END);
            for (is_ctl, body) in &units {
                if *is_ctl {
                    e.control(ControlCommand::parse(body).unwrap());
                } else {
                    e.message(&[body]);
                }
            }
            stream.extend_from_slice(e.bytes());
            let mut d = Decoder::new();
            let mut got = Vec::new();
            let mut started = false;
            let junk_end = stream.len() - e.bytes().len();
            for (i, b) in stream.iter().enumerate() {
                let u = d.push(*b);
                if i >= junk_end { started = true; }
                if !started { continue; }
                match u {
                    Some(Unit::Message(m)) => got.push((false, m.to_vec())),
                    Some(Unit::Control(c)) => got.push((true, vec![c.code()])),
                    Some(Unit::Discarded(w)) => prop_assert!(false, "discarded {w:?}"),
                    None => {}
                }
            }
            let want: Vec<_> = units
                .iter()
                .map(|(c, b)| if *c {
                    (true, vec![b[0]])
                } else {
                    (false, b.clone())
                })
                .collect();
            prop_assert_eq!(got, want);
        }
    }
}
