//! Simulated BMC behind the IPMI BT registers.

pub mod vmproto;
pub mod bmc;
pub mod device;
pub mod fault;
pub mod time;
