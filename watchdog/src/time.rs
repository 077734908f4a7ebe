//! Virtual time for the sans-IO timer model.
//!
//! The model never reads a clock: every call that depends on time takes an
//! [`Instant`] supplied by the caller. An `Instant` is a count of nanoseconds
//! since an arbitrary epoch chosen by the caller (the simulator uses "virtual
//! nanoseconds since the simulation started"; a real-time daemon can use
//! nanoseconds since it started, taken from `std::time::Instant`).
//!
//! The type is the workspace's one virtual-time type, defined in
//! `ipmi_vocab`; `ipmi_watchdog::Instant` names it. Its arithmetic saturates, and it prints microseconds by default
//! (`1.500000s`); the watchdog's event text asks for nanoseconds (`{:.9}`).

pub use ipmi_vocab::Instant;
