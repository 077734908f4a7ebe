//! `bmcwd`: the BMC watchdog client library behind the `bmcwd` binary.
//!
//! * [`transport`]: one [`transport::Transport`] trait, three ways to a BMC —
//!   `/dev/ipmiN` via ipmi-rs, the embedded simulator, and a simulator served
//!   over a Unix socket with the OpenIPMI VM protocol.
//! * [`commands`]: Get/Set/Reset Watchdog Timer as ipmi-rs `IpmiCommand`s.
//! * [`client`]: runs commands, decodes completion codes into actionable
//!   errors, and recovers a Reset's 0x80 like Linux's `ipmi_watchdog`.
//! * [`daemon`]: the petting loop (tokio), backoff, signal handling.
//! * [`output`]: ipmitool-style text and JSON.
//! * [`args`], [`app`]: the command line and what each subcommand does.
//!
//! # Example
//!
//! Arm a 60 s hard-reset watchdog on the embedded simulator, pet it, read it:
//!
//! ```
//! use std::time::Duration;
//! use bmcwd::client::Client;
//! use ipmi_watchdog::{Countdown, SetWatchdog, TimerAction, TimerUse};
//!
//! let mut bmc = Client::new(bmcwd::simcmd::embedded_transport(), Duration::from_secs(1));
//! let set = SetWatchdog::new(TimerUse::SmsOs, TimerAction::HardReset, Countdown::from_ticks(600));
//! bmc.set(&set)?;
//! bmc.pet(Some(&set))?; // Reset; on 0x80 re-sends `set`, like Linux's ipmi_watchdog
//! let now = bmc.get()?;
//! assert!(now.running());
//! assert_eq!(now.initial_countdown.ticks(), 600);
//! print!("{}", bmcwd::output::reading_text(&now)); // ipmitool layout
//! # Ok::<(), bmcwd::client::ClientError>(())
//! ```

#![warn(missing_docs)]

pub mod app;
pub mod args;
pub mod client;
pub mod commands;
pub mod daemon;
pub mod duration;
pub mod exit;
pub mod output;
pub mod simcmd;
pub mod statefile;
pub mod transport;
