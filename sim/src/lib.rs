//! Simulated BMC behind the IPMI BT registers.

#![warn(missing_docs)]

pub mod bmc;
pub mod explore;
pub mod host;
pub mod rng;
pub mod scenario;
pub mod time;
pub mod vmproto;
