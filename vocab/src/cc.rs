//! IPMI completion codes (IPMI v2.0 §5.2, Table 5-2 "Completion Codes") with
//! their spec names, so every error a user sees can say what the code means.
//!
//! The values the Linux BT driver synthesises itself are the ones in
//! `include/uapi/linux/ipmi_msgdefs.h` (`IPMI_TIMEOUT_ERR` = 0xC3, …).

use core::fmt;

use crate::command::app;
use crate::netfn::NETFN_APP;

/// One completion code byte. Any byte value is representable; [`name`](Self::name)
/// tells what the spec calls it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CompletionCode(pub u8);

impl CompletionCode {
    /// 0x00 Command Completed Normally.
    pub const OK: Self = Self(0x00);
    /// 0xC0 Node Busy (Linux `IPMI_NODE_BUSY_ERR`).
    pub const NODE_BUSY: Self = Self(0xC0);
    /// 0xC1 Invalid Command (Linux `IPMI_INVALID_COMMAND_ERR`).
    pub const INVALID_COMMAND: Self = Self(0xC1);
    /// 0xC2 Command invalid for given LUN.
    pub const INVALID_FOR_LUN: Self = Self(0xC2);
    /// 0xC3 Timeout while processing command (Linux `IPMI_TIMEOUT_ERR`).
    pub const TIMEOUT: Self = Self(0xC3);
    /// 0xC4 Out of space.
    pub const OUT_OF_SPACE: Self = Self(0xC4);
    /// 0xC5 Reservation Canceled or Invalid Reservation ID.
    pub const INVALID_RESERVATION: Self = Self(0xC5);
    /// 0xC6 Request data truncated (Linux `IPMI_ERR_MSG_TRUNCATED`).
    pub const REQUEST_DATA_TRUNCATED: Self = Self(0xC6);
    /// 0xC7 Request data length invalid (Linux `IPMI_REQ_LEN_INVALID_ERR`).
    pub const REQUEST_DATA_LENGTH_INVALID: Self = Self(0xC7);
    /// 0xC8 Request data field length limit exceeded (Linux `IPMI_REQ_LEN_EXCEEDED_ERR`).
    pub const REQUEST_DATA_LENGTH_EXCEEDED: Self = Self(0xC8);
    /// 0xC9 Parameter out of range.
    pub const PARAMETER_OUT_OF_RANGE: Self = Self(0xC9);
    /// 0xCA Cannot return number of requested data bytes.
    pub const CANNOT_RETURN_BYTES: Self = Self(0xCA);
    /// 0xCB Requested Sensor, data, or record not present.
    pub const NOT_PRESENT: Self = Self(0xCB);
    /// 0xCC Invalid data field in Request.
    pub const INVALID_DATA_FIELD: Self = Self(0xCC);
    /// 0xCD Command illegal for specified sensor or record type.
    pub const ILLEGAL_FOR_SENSOR: Self = Self(0xCD);
    /// 0xCE Command response could not be provided.
    pub const RESPONSE_NOT_PROVIDED: Self = Self(0xCE);
    /// 0xCF Cannot execute duplicated request.
    pub const DUPLICATED_REQUEST: Self = Self(0xCF);
    /// 0xD0 SDR Repository in update mode.
    pub const SDR_UPDATE_MODE: Self = Self(0xD0);
    /// 0xD1 Device in firmware update mode.
    pub const FIRMWARE_UPDATE_MODE: Self = Self(0xD1);
    /// 0xD2 BMC initialization or initialization agent in progress.
    pub const INITIALIZATION_IN_PROGRESS: Self = Self(0xD2);
    /// 0xD3 Destination unavailable.
    pub const DESTINATION_UNAVAILABLE: Self = Self(0xD3);
    /// 0xD4 Insufficient privilege level.
    pub const INSUFFICIENT_PRIVILEGE: Self = Self(0xD4);
    /// 0xD5 Command not supported in present state (Linux `IPMI_NOT_IN_MY_STATE_ERR`).
    pub const NOT_IN_PRESENT_STATE: Self = Self(0xD5);
    /// 0xD6 Command sub-function disabled or unavailable.
    pub const SUBFUNCTION_DISABLED: Self = Self(0xD6);
    /// 0xFF Unspecified error (Linux `IPMI_UNKNOWN_ERR`).
    pub const UNSPECIFIED: Self = Self(0xFF);

    /// The spec's name for this code. Codes 0x01–0x7E are "OEM" and 0x80–0xBE
    /// "command-specific" (their meaning depends on the command; see
    /// [`describe_for`](Self::describe_for)).
    pub const fn name(self) -> &'static str {
        match self.0 {
            0x00 => "Command Completed Normally",
            0xC0 => "Node Busy",
            0xC1 => "Invalid Command",
            0xC2 => "Command invalid for given LUN",
            0xC3 => "Timeout while processing command",
            0xC4 => "Out of space",
            0xC5 => "Reservation Canceled or Invalid Reservation ID",
            0xC6 => "Request data truncated",
            0xC7 => "Request data length invalid",
            0xC8 => "Request data field length limit exceeded",
            0xC9 => "Parameter out of range",
            0xCA => "Cannot return number of requested data bytes",
            0xCB => "Requested Sensor, data, or record not present",
            0xCC => "Invalid data field in Request",
            0xCD => "Command illegal for specified sensor or record type",
            0xCE => "Command response could not be provided",
            0xCF => "Cannot execute duplicated request",
            0xD0 => "SDR Repository in update mode",
            0xD1 => "Device in firmware update mode",
            0xD2 => "BMC initialization or initialization agent in progress",
            0xD3 => "Destination unavailable",
            0xD4 => "Insufficient privilege level",
            0xD5 => "Command not supported in present state",
            0xD6 => "Command sub-function has been disabled or is unavailable",
            0xFF => "Unspecified error",
            0x01..=0x7E => "OEM completion code",
            0x80..=0xBE => "Command-specific completion code",
            _ => "Reserved completion code",
        }
    }

    /// Like [`name`](Self::name), but resolves the command-specific range for the
    /// commands this project knows (NetFn App 0x06: Reset Watchdog Timer 0x22
    /// returns 0x80 "Attempt to start un-initialized watchdog", IPMI v2.0 §27.5;
    /// Get Message 0x33 and Read Event Message Buffer 0x35 return 0x80 when
    /// there is nothing to read, §22.6, §22.8). `netfn` is the request value.
    pub const fn describe_for(self, netfn: u8, cmd: u8) -> &'static str {
        match (netfn, cmd, self.0) {
            (NETFN_APP, app::RESET_WATCHDOG, 0x80) => "Attempt to start un-initialized watchdog",
            (NETFN_APP, app::GET_MESSAGE | app::READ_EVENT_BUFFER, 0x80) => {
                "Data not available (queue / buffer empty)"
            }
            _ => self.name(),
        }
    }

    /// True for 0x00.
    pub const fn is_ok(self) -> bool {
        self.0 == 0
    }
}

impl From<u8> for CompletionCode {
    fn from(v: u8) -> Self {
        Self(v)
    }
}

impl From<CompletionCode> for u8 {
    fn from(v: CompletionCode) -> Self {
        v.0
    }
}

impl fmt::Display for CompletionCode {
    /// `0xC3 (Timeout while processing command)`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:02X} ({})", self.0, self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_spec_table() {
        assert_eq!(
            CompletionCode::TIMEOUT.name(),
            "Timeout while processing command"
        );
        assert_eq!(
            CompletionCode(0xD5).name(),
            "Command not supported in present state"
        );
        assert_eq!(CompletionCode(0x42).name(), "OEM completion code");
        assert_eq!(
            CompletionCode(0x80).name(),
            "Command-specific completion code"
        );
        assert_eq!(CompletionCode(0xE0).name(), "Reserved completion code");
        assert_eq!(
            CompletionCode(0x80).describe_for(0x06, 0x22),
            "Attempt to start un-initialized watchdog"
        );
        assert_eq!(CompletionCode::NODE_BUSY.to_string(), "0xC0 (Node Busy)");
    }

    #[test]
    fn command_specific_codes_resolve_per_command() {
        let c80 = CompletionCode(0x80);
        assert_eq!(
            c80.describe_for(0x06, 0x33),
            "Data not available (queue / buffer empty)"
        );
        assert_eq!(
            c80.describe_for(0x06, 0x35),
            "Data not available (queue / buffer empty)"
        );
        // Another command, or another NetFn, keeps the generic name.
        assert_eq!(
            c80.describe_for(0x06, 0x24),
            "Command-specific completion code"
        );
        assert_eq!(
            c80.describe_for(0x0A, 0x22),
            "Command-specific completion code"
        );
        assert_eq!(
            CompletionCode(0xC3).describe_for(0x06, 0x22),
            "Timeout while processing command"
        );
        assert_eq!(
            CompletionCode::from(0xCCu8),
            CompletionCode::INVALID_DATA_FIELD
        );
        assert_eq!(u8::from(CompletionCode::OK), 0);
        assert!(CompletionCode::OK.is_ok() && !CompletionCode::NODE_BUSY.is_ok());
    }
}
