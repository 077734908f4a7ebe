//! A simulated BMC behind the IPMI BT registers, a model of the Linux host
//! that drives it, and scenarios that run the two against each other in
//! virtual time.
//!
//! The crate is built in layers. Each layer uses only the layers below it
//! (the workspace test `tests/tests/layering.rs` enforces this):
//!
//! | layer | module | what it is |
//! |---|---|---|
//! | 0 | `rng` | The seeded random source ([`SplitMix64`]). Virtual time is [`Instant`] from `ipmi-vocab` (re-exported here), durations are [`core::time::Duration`]. |
//! | 1 | `bmc` | The BMC core: the BT register device ([`BtDevice`]), the firmware and command dispatcher ([`SimBmc`]), the watchdog, the SEL ([`Sel`]) and fault injection ([`Fault`], [`FaultPlan`]), sans-IO. |
//! | 2 | `host` | The Linux host model: the SI layer of `ipmi_si_intf.c`, the message handler of `ipmi_msghandler.c` and the jiffy clock; it drives any register device and reports through an observer. Its named kernels ([`KernelPreset`]) and SI profiles ([`SiProfile`]) are public; the model itself runs inside a [`Simulation`]. |
//! | 3 | [`scenario`] | Scenario files, the event loop that joins the BMC core to the host model, and what a run records (trace, kernel log, SVG). |
//! | 4 | `explore` | Property search over fault schedules with proptest (cargo feature `explore`). |
//! | — | [`vmproto`] | The VM protocol (QEMU `ipmi-bmc-extern`) server and client in front of the BMC core. |
//!
//! # Public API
//!
//! The modules `rng`, `bmc` and `host` are private: what a user needs from
//! them is exported from the crate root (the `pub use` list in `lib.rs`).
//! [`scenario`], [`vmproto`] and `explore` are namespaces: each exports its
//! items directly (`bmc_sim::scenario::render_svg`,
//! `bmc_sim::vmproto::Decoder`, `bmc_sim::explore::search`), and the most used
//! scenario items ([`run`], [`Scenario`], [`Trace`], …) are re-exported at the
//! root as well.
//!
//! # Running a scenario
//!
//! ```
//! use bmc_sim::{run, Origin, Scenario};
//!
//! let sc = Scenario::from_toml_str(r#"
//!     name = "one request"
//!     stop = "1s"
//!     [driver]
//!     kernel = "v4.19"
//!     [[request]]
//!     at = "10ms"
//!     netfn = 0x06
//!     cmd = 0x01    # Get Device ID
//! "#).unwrap();
//! let trace = run(&sc);
//! assert_eq!(trace.completions.len(), 1);
//! let c = &trace.completions[0];
//! assert_eq!(c.origin, Origin::Workload { entry: 0, copy: 0 });
//! assert!(c.cc.is_ok());
//! print!("{}", trace.render_timeline());
//! ```

#![deny(missing_docs)]
// The public API is the `pub use` list below (and the `pub mod` namespaces);
// everything else is `pub(crate)` at most, and no public signature names a
// type a user cannot name.
#![warn(unreachable_pub, unnameable_types)]

mod bmc;
#[cfg(feature = "explore")]
pub mod explore;
mod host;
mod rng;
pub mod scenario;
pub mod vmproto;

pub use bmc::config::{
    BmcConfig, BtCapabilities, ColdResetBehaviour, DeviceIdConfig, MalformedPolicy,
};
pub use bmc::device::{
    AccessDir, BtDevice, BtDeviceConfig, DeviceEvents, DeviceState, NoEvents, PostError, Reg,
    RegAccess, BT_DEFAULT_BUF, BT_MAX_BUF, BT_MIN_BUF,
};
pub use bmc::fault::{
    ActiveFaults, Fault, FaultAction, FaultEntry, FaultKind, FaultParams, FaultPlan,
    FaultSpecError, FaultTiming, ParamDecl, ParamType, ParamValue, Presence, ResponseRewrite,
    Trigger,
};
pub use bmc::port::{BmcPort, HostAction, Reply};
pub use bmc::sel::Sel;
pub use bmc::{
    BmcEvent, BmcEventKind, DropReason, PostKind, ResetCause, Response, SimBmc, MAX_RESPONSE_DATA,
};
pub use host::bytes::MsgBytes;
pub use host::events::SiPhase;
pub use host::hostsm::HostSm;
pub use host::msghandler::{Completion, Pending};
pub use host::presets::KernelPreset;
pub use host::si::{InitWaitCredit, Origin, RegEvent, SiProfile, UnloadWait};
pub use ipmi_vocab::Instant;
pub use rng::SplitMix64;
pub use scenario::{
    run, run_with_state_machine, Event, EventKind, Phase, RunLimits, Scenario, ScenarioError,
    Simulation, Trace,
};
