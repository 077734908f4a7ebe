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
