//! OpenIPMI's "VM" protocol: how QEMU's `ipmi-bmc-extern` device talks to
//! an external BMC, so our simulated BMC can sit behind a real guest kernel's
//! BT driver.
//!
//! * [`codec`]: sans-IO framing — [`Decoder`] (bytes → units) and [`Encoder`].
//! * [`fault`]: VM-level faults a test can switch on at run time (silent BMC,
//!   wrong msg_id, wrong cmd, stuck B_BUSY, …).
//! * [`connection`]: the BMC side of one connection, sans-IO: fed bytes and
//!   time, serves any [`BmcPort`](crate::bmc::BmcPort).
//! * `server` (feature `server`, tokio): the pump that runs connections over
//!   TCP or a Unix socket in real time, and the fault control file watcher.
//! * [`simbmc`]: [`simbmc::VmSimBmc`], the crate's simulated BMC as a
//!   [`BmcPort`](crate::bmc::BmcPort).
//! * [`client`]: the VM side (requests with msg_ids, responses matched,
//!   timeouts), for tools that talk to a served BMC without QEMU (blocking;
//!   an async one with the `server` feature).

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
    VmResponse,
};
pub use connection::{Connection, ServerOptions, VmLogFn};
pub use fault::{FaultControl, FaultParseError, VmFault, VmFaultSpec};
#[cfg(feature = "server")]
pub use server::{watch_fault_file, VmServer};
pub use simbmc::VmSimBmc;
