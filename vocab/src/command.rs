//! Command numbers, their spec names and sections, and who in this workspace
//! uses each (IPMI v2.0 Appendix G, "Command Assignments").
//!
//! The `commands!` table below is the one place a command number is written.
//! It generates the per-NetFn constant modules ([`app`], [`storage`], …) and the
//! [`COMMANDS`] table that [`command_name`] and [`lookup`] read, so a name
//! cannot drift from its number.

use crate::netfn::NetFn;

/// Which parts of this workspace send or answer a command. A tiny bit set
/// (no `bitflags` dependency): combine with `|`, test with
/// [`contains`](Self::contains).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Users(u8);

impl Users {
    /// Nobody here sends or answers it; it is named for readable traces only.
    pub const NONE: Self = Self(0);
    /// The simulated BMC (`bmc_sim`'s `SimBmc`) answers it with a completion
    /// code other than 0xC1 Invalid Command.
    pub const SIM_BMC: Self = Self(1 << 0);
    /// The watchdog model (`ipmi_watchdog::Watchdog::handle`) answers it.
    pub const WATCHDOG: Self = Self(1 << 1);
    /// The Linux host model sends it (`ipmi_bt_sm`'s reset and capabilities
    /// frames, `bmc_sim`'s model of `ipmi_si_intf.c`).
    pub const HOST: Self = Self(1 << 2);
    /// The `bmcwd` command-line client sends it.
    pub const CLI: Self = Self(1 << 3);

    /// True when every user in `other` is in `self`.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// `self` and `other` together (the `const` form of `|`).
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
}

impl core::ops::BitOr for Users {
    type Output = Self;

    fn bitor(self, rhs: Self) -> Self {
        self.union(rhs)
    }
}

/// One row of the command table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Command {
    /// Network function (the request value is `netfn.request()`).
    pub netfn: NetFn,
    /// Command number within the NetFn.
    pub cmd: u8,
    /// The spec's name, as used in timelines and error messages.
    pub name: &'static str,
    /// The IPMI v2.0 section that defines it (`"27.5"`).
    pub section: &'static str,
    /// Who in this workspace sends or answers it.
    pub users: Users,
}

/// Declares the command table once: a constant module per NetFn and the
/// [`COMMANDS`] rows, both from the same lines.
macro_rules! commands {
    ($(
        $(#[$modmeta:meta])*
        $netfn:ident mod $module:ident {
            $( $konst:ident = $val:literal, $name:literal, $sec:literal, [$($user:ident)|*]; )*
        }
    )*) => {
        $(
            $(#[$modmeta])*
            pub mod $module {
                $(
                    #[doc = concat!(
                        "`", stringify!($val), "` ", $name, " (IPMI v2.0 §", $sec, ")."
                    )]
                    pub const $konst: u8 = $val;
                )*
            }
        )*

        /// Every command this workspace names, grouped by NetFn, in command
        /// order. No (NetFn, cmd) pair appears twice.
        pub const COMMANDS: &[Command] = &[
            $($(
                Command {
                    netfn: NetFn::$netfn,
                    cmd: $module::$konst,
                    name: $name,
                    section: $sec,
                    users: Users::NONE $(.union(Users::$user))*,
                },
            )*)*
        ];
    };
}

commands! {
    /// Chassis commands (NetFn 0x00, IPMI v2.0 §28). Named for traces only.
    Chassis mod chassis {
        GET_CHASSIS_STATUS = 0x01, "Get Chassis Status", "28.2", [];
        CHASSIS_CONTROL = 0x02, "Chassis Control", "28.3", [];
    }
    /// Sensor/Event commands (NetFn 0x04, IPMI v2.0 §29, §35). Named for traces only.
    SensorEvent mod sensor_event {
        GET_SENSOR_READING = 0x2D, "Get Sensor Reading", "35.14", [];
    }
    /// Application commands (NetFn 0x06): BMC device (§20), messaging (§22)
    /// and watchdog (§27) commands.
    App mod app {
        GET_DEVICE_ID = 0x01, "Get Device ID", "20.1", [SIM_BMC | HOST];
        COLD_RESET = 0x02, "Cold Reset", "20.2", [SIM_BMC];
        WARM_RESET = 0x03, "Warm Reset", "20.3", [SIM_BMC | HOST];
        GET_SELF_TEST_RESULTS = 0x04, "Get Self Test Results", "20.4", [];
        RESET_WATCHDOG = 0x22, "Reset Watchdog Timer", "27.5", [SIM_BMC | WATCHDOG | CLI];
        SET_WATCHDOG = 0x24, "Set Watchdog Timer", "27.6", [SIM_BMC | WATCHDOG | CLI];
        GET_WATCHDOG = 0x25, "Get Watchdog Timer", "27.7", [SIM_BMC | WATCHDOG | CLI];
        SET_GLOBAL_ENABLES = 0x2E, "Set BMC Global Enables", "22.1", [SIM_BMC | HOST];
        GET_GLOBAL_ENABLES = 0x2F, "Get BMC Global Enables", "22.2", [SIM_BMC | HOST];
        CLEAR_MSG_FLAGS = 0x30, "Clear Message Flags", "22.3", [SIM_BMC | HOST];
        GET_MSG_FLAGS = 0x31, "Get Message Flags", "22.4", [SIM_BMC | HOST];
        GET_MESSAGE = 0x33, "Get Message", "22.6", [SIM_BMC | HOST];
        READ_EVENT_BUFFER = 0x35, "Read Event Message Buffer", "22.8", [SIM_BMC | HOST];
        GET_BT_CAPS = 0x36, "Get BT Interface Capabilities", "22.9", [SIM_BMC | HOST];
    }
    /// Storage commands (NetFn 0x0A): FRU (§34) and SEL (§31) commands.
    Storage mod storage {
        GET_FRU_INVENTORY_AREA_INFO = 0x10, "Get FRU Inventory Area Info", "34.1", [];
        GET_SEL_INFO = 0x40, "Get SEL Info", "31.2", [SIM_BMC];
        RESERVE_SEL = 0x42, "Reserve SEL", "31.4", [SIM_BMC];
        GET_SEL_ENTRY = 0x43, "Get SEL Entry", "31.5", [SIM_BMC];
        CLEAR_SEL = 0x47, "Clear SEL", "31.9", [SIM_BMC];
        GET_SEL_TIME = 0x48, "Get SEL Time", "31.10", [SIM_BMC];
    }
}

/// The table row of command `cmd` in network function `netfn`. `netfn` may be
/// the request or the response value (bit 0 is ignored), so a response frame
/// is named like its request.
pub const fn lookup(netfn: u8, cmd: u8) -> Option<&'static Command> {
    let netfn = netfn & !1;
    let mut rest = COMMANDS;
    while let [c, tail @ ..] = rest {
        if c.netfn.request() == netfn && c.cmd == cmd {
            return Some(c);
        }
        rest = tail;
    }
    None
}

/// The spec name of command `cmd` in network function `netfn` (request or
/// response value), or `None` for a command this workspace does not name.
/// Callers choose their own fallback text.
pub const fn command_name(netfn: u8, cmd: u8) -> Option<&'static str> {
    match lookup(netfn, cmd) {
        Some(c) => Some(c.name),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netfn::{NETFN_APP, NETFN_CHASSIS, NETFN_SENSOR_EVENT, NETFN_STORAGE};

    #[test]
    fn every_row_is_unique_named_and_cited() {
        for (i, a) in COMMANDS.iter().enumerate() {
            assert!(!a.name.is_empty());
            assert!(
                a.section.split('.').all(|p| p.parse::<u8>().is_ok()),
                "{}: section {:?}",
                a.name,
                a.section
            );
            for b in &COMMANDS[i + 1..] {
                assert!(
                    (a.netfn, a.cmd) != (b.netfn, b.cmd),
                    "{} and {} share a number",
                    a.name,
                    b.name
                );
                assert_ne!(a.name, b.name);
            }
            assert_eq!(lookup(a.netfn.request(), a.cmd), Some(a));
            assert_eq!(lookup(a.netfn.response(), a.cmd), Some(a));
            assert_eq!(command_name(a.netfn.request(), a.cmd), Some(a.name));
        }
    }

    #[test]
    fn names_by_number() {
        let app = |c| command_name(NETFN_APP, c);
        assert_eq!(app(app::GET_DEVICE_ID), Some("Get Device ID"));
        assert_eq!(app(0x02), Some("Cold Reset"));
        assert_eq!(app(0x03), Some("Warm Reset"));
        assert_eq!(app(0x04), Some("Get Self Test Results"));
        assert_eq!(app(0x22), Some("Reset Watchdog Timer"));
        assert_eq!(app(0x24), Some("Set Watchdog Timer"));
        assert_eq!(app(0x25), Some("Get Watchdog Timer"));
        assert_eq!(app(0x2E), Some("Set BMC Global Enables"));
        assert_eq!(app(0x2F), Some("Get BMC Global Enables"));
        assert_eq!(app(0x30), Some("Clear Message Flags"));
        assert_eq!(app(0x31), Some("Get Message Flags"));
        assert_eq!(app(0x33), Some("Get Message"));
        assert_eq!(app(0x35), Some("Read Event Message Buffer"));
        assert_eq!(app(0x36), Some("Get BT Interface Capabilities"));
        assert_eq!(app(0x37), None);
        assert_eq!(
            command_name(NETFN_SENSOR_EVENT, 0x2D),
            Some("Get Sensor Reading")
        );
        assert_eq!(
            command_name(NETFN_CHASSIS, 0x01),
            Some("Get Chassis Status")
        );
        assert_eq!(
            command_name(NETFN_CHASSIS | 1, 0x02),
            Some("Chassis Control")
        );
        assert_eq!(command_name(0x2C, 0x01), None, "group extension");
        assert_eq!(lookup(NETFN_APP, 0x22).map(|c| c.section), Some("27.5"));
    }

    /// The drift R1 fixes: the old timeline table called Storage 0x10 "Get SEL
    /// Info" and did not know Reserve SEL, Clear SEL or Get SEL Time.
    #[test]
    fn storage_names_are_the_spec_ones() {
        let st = |c| command_name(NETFN_STORAGE, c);
        assert_eq!(st(0x10), Some("Get FRU Inventory Area Info"));
        assert_eq!(st(storage::GET_SEL_INFO), Some("Get SEL Info"));
        assert_eq!(storage::GET_SEL_INFO, 0x40);
        assert_eq!(st(0x42), Some("Reserve SEL"));
        assert_eq!(st(0x43), Some("Get SEL Entry"));
        assert_eq!(st(0x47), Some("Clear SEL"));
        assert_eq!(st(0x48), Some("Get SEL Time"));
        assert_eq!(st(0x41), None, "Get SEL Allocation Info is not used here");
    }

    #[test]
    fn users_set() {
        let u = Users::SIM_BMC | Users::CLI;
        assert!(u.contains(Users::SIM_BMC));
        assert!(u.contains(Users::CLI));
        assert!(!u.contains(Users::HOST));
        assert!(u.contains(Users::NONE));
        assert_eq!(Users::default(), Users::NONE);
        let watchdog: usize = COMMANDS
            .iter()
            .filter(|c| c.users.contains(Users::WATCHDOG))
            .count();
        assert_eq!(watchdog, 3);
    }
}
