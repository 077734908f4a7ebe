//! Sans-IO model of the host side of the IPMI BT (Block Transfer) system
//! interface, mirroring Linux's `drivers/char/ipmi/ipmi_bt_sm.c`.
//!
//! (Work in progress: the state machine itself lands in `sm`.)

pub mod cc;
pub mod io;
pub mod regs;

pub use cc::CompletionCode;
pub use io::Io;
pub use regs::{Ctrl, IntMask};
