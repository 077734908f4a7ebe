//! Layer 2: the Linux host model.
//!
//! What the kernel does above the BT state machine ([`ipmi_bt_sm::BtSm`], or
//! any [`ipmi_bt_sm::HostStateMachine`] through [`hostsm::HostSm`]):
//! the SI layer of `ipmi_si_intf.c` ([`si`]), the jiffy clock and the
//! deadline queue ([`sched`]), and the message handler of `ipmi_msghandler.c`
//! ([`msghandler`]). [`presets`] holds the named kernels ([`KernelPreset`]) and
//! SI-layer profiles: one row of data each.
//!
//! The host model does not know the simulated BMC or the scenario layer: it
//! drives any register device that implements [`si::SimDevice`], and reports
//! what it does through a [`HostEvents`] observer, which the scenario layer's
//! recorder implements.

pub(crate) mod bytes;
pub(crate) mod events;
pub(crate) mod hostsm;
pub(crate) mod msghandler;
pub(crate) mod presets;
pub(crate) mod sched;
pub(crate) mod si;

pub(crate) use events::{HostEvents, SiPhase};
#[cfg(test)]
mod harness;
