//! Simulated BMC behind the IPMI BT registers.

pub mod vmproto;
