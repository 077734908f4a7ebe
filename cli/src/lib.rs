//! `bmcwd`: the BMC watchdog client library behind the `bmcwd` binary.
//!
//! * [`transport`]: one [`transport::Transport`] trait, three ways to a BMC —
//!   `/dev/ipmiN` via ipmi-rs, the embedded simulator, and a simulator served
//!   over a Unix socket with the OpenIPMI VM protocol.
//! * Get/Set/Reset Watchdog Timer as ipmi-rs `IpmiCommand`s
//!   ([`GetWatchdogTimer`], [`SetWatchdogTimer`], [`ResetWatchdogTimer`],
//!   answered by a [`WatchdogReading`]).
//! * [`Client`]: runs commands, decodes completion codes into actionable
//!   errors ([`ClientError`]), and recovers a Reset's 0x80 like Linux's
//!   `ipmi_watchdog`.
//! * [`daemon`]: the petting loop (tokio), backoff, signal handling.
//! * [`output`]: ipmitool-style text and JSON.
//! * [`Deciseconds`]: command-line durations (`90s`, `250ms`) in whole
//!   deciseconds, the watchdog's 100 ms unit.
//! * [`statefile`]: the last Set per BMC, so a later Reset can recover from 0x80.
//!
//! The command line itself (argument grammar, what each subcommand does, the
//! simulation subcommands and the exit codes) belongs to the `bmcwd` binary
//! (`src/main.rs` and the modules it declares), not to this library.
//!
//! # Example
//!
//! Arm a 60 s hard-reset watchdog on the embedded simulator, pet it, read it:
//!
//! ```
//! use std::time::Duration;
//! use bmcwd::Client;
//! use ipmi_watchdog::{Countdown, SetWatchdog, TimerAction, TimerUse};
//!
//! let mut bmc = Client::new(bmcwd::transport::embedded_simulator(), Duration::from_secs(1));
//! let set = SetWatchdog::new(TimerUse::SmsOs, TimerAction::HardReset, Countdown::from_ticks(600));
//! bmc.set(&set)?;
//! bmc.pet(Some(&set))?; // Reset; on 0x80 re-sends `set`, like Linux's ipmi_watchdog
//! let now = bmc.get()?;
//! assert!(now.running());
//! assert_eq!(now.initial_countdown.ticks(), 600);
//! print!("{}", bmcwd::output::reading_text(&now)); // ipmitool layout
//! # Ok::<(), bmcwd::ClientError>(())
//! ```

#![deny(missing_docs)]
// The public API is the `pub use` list below (and the `pub mod` namespaces);
// everything else is `pub(crate)` at most, and no public signature names a
// type a user cannot name.
#![warn(unreachable_pub, unnameable_types)]

mod client;
mod commands;
pub mod daemon;
mod duration;
pub mod output;
pub mod statefile;
pub mod transport;

pub use client::{stop_request, Client, ClientError, PetOutcome, MAX_RESETS_ON_0X80};
pub use commands::{
    ipmi_rs_completion, ipmi_rs_netfn, vocab_netfn, GetWatchdogTimer, ParseError,
    ResetWatchdogTimer, SetWatchdogTimer, WatchdogReading,
};
pub use daemon::{DaemonConfig, DaemonError, DaemonExit, Logger, OnExit, Priority, StderrLogger};
pub use duration::{Deciseconds, DurationError};
pub use transport::{
    embedded_simulator, DeviceTransport, Request, Response, SimTransport, Target, Transport,
    TransportError, VmSocketTransport,
};
