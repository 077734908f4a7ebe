//! The IPMI vocabulary of the bmcwd workspace: one definition of every IPMI
//! name the other crates use, at the bottom of the dependency graph.
//!
//! * [`NetFn`] and the `NETFN_*` request values (IPMI v2.0 §5.1, Table 5-1),
//!   with the `netfn << 2 | lun` packing of the BT and KCS frames
//!   ([`pack_netfn_lun`], [`split_netfn_lun`]).
//! * Every command number the tree uses, grouped by NetFn ([`app`],
//!   [`storage`], [`chassis`], [`sensor_event`]), and one table of them
//!   ([`COMMANDS`]) with the spec name, the spec section and who in this
//!   workspace sends or answers it; [`command_name`] and [`lookup`] read it.
//! * [`CompletionCode`] with the spec's names (IPMI v2.0 §5.2, Table 5-2).
//! * Message size limits ([`IPMI_MAX_MSG_LENGTH`], [`QEMU_MAX_IPMI_MSG_SIZE`]).
//! * One virtual-time [`Instant`] (nanoseconds since an arbitrary epoch), fed
//!   by the caller and never read from a clock, for the sans-IO models above.
//!
//! The crate has no dependencies and is `no_std`; see
//! `spec-notes/vocabulary.md` for why it exists beside ipmi-rs's own types.
//!
//! ```
//! use ipmi_vocab::{app, command_name, CompletionCode, NetFn, NETFN_APP};
//!
//! assert_eq!(command_name(NETFN_APP, app::RESET_WATCHDOG), Some("Reset Watchdog Timer"));
//! // A response NetFn (odd) names the same command.
//! assert_eq!(command_name(NetFn::App.response(), app::GET_DEVICE_ID), Some("Get Device ID"));
//! assert_eq!(command_name(NETFN_APP, 0xEE), None);
//! assert_eq!(NetFn::App.netfn_lun(0), 0x18);
//! assert_eq!(
//!     CompletionCode(0x80).describe_for(NETFN_APP, app::RESET_WATCHDOG),
//!     "Attempt to start un-initialized watchdog"
//! );
//! ```

#![cfg_attr(not(test), no_std)]
#![deny(missing_docs)]
// The public API is the `pub use` list below (and the `pub mod` namespaces);
// everything else is `pub(crate)` at most, and no public signature names a
// type a user cannot name.
#![warn(unreachable_pub, unnameable_types)]

mod cc;
mod command;
mod limits;
mod netfn;
mod time;

pub use cc::CompletionCode;
pub use command::{
    app, chassis, command_name, lookup, sensor_event, storage, Command, Users, COMMANDS,
};
pub use limits::{IPMI_MAX_MSG_LENGTH, QEMU_MAX_IPMI_MSG_SIZE};
pub use netfn::{
    pack_netfn_lun, split_netfn_lun, NetFn, NETFN_APP, NETFN_BRIDGE, NETFN_CHASSIS, NETFN_FIRMWARE,
    NETFN_SENSOR_EVENT, NETFN_STORAGE, NETFN_TRANSPORT,
};
pub use time::{duration_nanos, Instant};
