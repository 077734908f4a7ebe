//! Layer 3: scenarios.
//!
//! The scenario file format ([`Scenario`] and its parts), the event loop that runs one
//! ([`runner`]) and joins the BMC core to the host model, what a run records
//! ([`trace`]) and its picture ([`svg`]).

pub mod duration_text;
mod lower;
pub mod runner;
mod schema;
pub mod svg;
pub mod trace;

pub use schema::*;
