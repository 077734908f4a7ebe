//! OpenIPMI's "VM" protocol: how QEMU's `ipmi-bmc-extern` device talks to
//! an external BMC, so our simulated BMC can sit behind a real guest kernel's
//! BT driver.
//!
//! * [`codec`]: sans-IO framing — [`Decoder`] (bytes → units) and [`Encoder`].
//! * [`fault`]: VM-level faults a test can switch on at run time (silent BMC,
//!   wrong msg_id, wrong cmd, stuck B_BUSY, …).
//! * [`server`]: the BMC side, serving any [`server::VmBmc`] over TCP or a
//!   Unix socket in real time.
//! * [`simbmc`]: [`simbmc::VmSimBmc`], the crate's simulated BMC as a
//!   [`server::VmBmc`].
//! * [`client`]: the VM side (requests with msg_ids, responses matched,
//!   timeouts), for tools that talk to a served BMC without QEMU.

pub mod client;
pub mod codec;
pub mod fault;
pub mod server;
pub mod simbmc;

pub use codec::{
    Capabilities, ControlCommand, Decoder, Discard, Encoder, ParseError, Request, Response, Unit,
};
