//! OpenIPMI's "VM" protocol: how QEMU's `ipmi-bmc-extern` device talks to
//! an external BMC, so our simulated BMC can sit behind a real guest kernel's
//! BT driver.
//!
//! Everything is exported from this module (its files are private):
//!
//! * Sans-IO framing: [`Decoder`] (bytes → units) and [`Encoder`], [`Unit`],
//!   [`VmRequest`], [`VmResponse`], [`ControlCommand`], [`Capabilities`].
//! * VM-level faults a test can switch on at run time (silent BMC, wrong
//!   msg_id, wrong cmd, stuck B_BUSY, …): [`VmFault`], [`VmFaultSpec`],
//!   [`FaultControl`].
//! * [`Connection`]: the BMC side of one connection, sans-IO: fed bytes and
//!   time, serves any [`BmcPort`](crate::BmcPort).
//! * `VmServer` and `watch_fault_file` (feature `server`, tokio): the pump
//!   that runs connections over TCP or a Unix socket in real time, and the
//!   fault control file watcher.
//! * [`VmSimBmc`]: the crate's simulated BMC as a [`BmcPort`](crate::BmcPort).
//! * [`BlockingVmClient`]: the VM side (requests with msg_ids, responses
//!   matched, timeouts), for tools that talk to a served BMC without QEMU (an
//!   async `VmClient` with the `server` feature).

mod client;
mod codec;
mod connection;
mod fault;
#[cfg(feature = "server")]
mod server;
mod simbmc;

#[cfg(feature = "server")]
pub use client::VmClient;
pub use client::{BlockingVmClient, OwnedResponse, SetReadTimeout, VmClientError};
pub use codec::{
    Capabilities, ControlCommand, Decoder, Discard, Encoder, Unit, VmParseError, VmRequest,
    VmResponse, MAX_UNIT,
};
pub use connection::{Connection, ServerOptions, VmLogFn, INBAND_FAULT_CMD, INBAND_FAULT_NETFN};
pub use fault::{FaultControl, FaultParseError, VmFault, VmFaultSpec};
#[cfg(feature = "server")]
pub use server::{watch_fault_file, VmServer};
pub use simbmc::VmSimBmc;
