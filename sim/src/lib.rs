//! Simulated BMC behind the IPMI BT registers.

pub mod bmc;
pub mod device;
pub mod fault;
pub mod time;
pub mod vmproto;
pub mod scenario;
pub mod sched;
pub mod trace;
pub mod si;
pub mod runner;
pub mod explore;
pub mod svg;
