//! Layer 3: scenarios.
//!
//! The scenario file format ([`Scenario`] and its parts), the event loop that runs one
//! ([`run`], [`Simulation`]) and joins the BMC core to the host model, what a run records
//! ([`Trace`]) and its picture ([`render_svg`]). Everything is exported from
//! this module; [`duration_text`] stays a module because it is a serde `with`
//! helper (`#[serde(with = "bmc_sim::scenario::duration_text")]`).

mod daemon;
pub mod duration_text;
mod lower;
mod runner;
mod schema;
mod svg;
mod trace;

pub use daemon::{kernel_worst_case, DaemonKind, DaemonSpec, SignalSpec};
pub use lower::DriverChoice;
pub use runner::{run, run_with_state_machine, RunLimits, Simulation};
pub use schema::*;
pub use svg::render as render_svg;
pub use trace::{command_name, DaemonRecord, Event, EventKind, KernelLine, Phase, RunStats, Trace};
