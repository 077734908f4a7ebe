//! Simulated BMC behind the IPMI BT registers.

#![warn(missing_docs)]

pub mod bmc;
pub mod device;
pub mod explore;
pub mod fault;
pub mod runner;
pub mod scenario;
pub mod sched;
pub mod si;
pub mod svg;
pub mod time;
pub mod trace;
pub mod vmproto;
