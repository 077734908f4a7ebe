//! `bmcwd`: arm, pet, read and disarm the IPMI BMC watchdog; run BT/BMC
//! simulations. See `bmcwd --help` and the `exit` module for exit codes.
//!
//! The binary's own modules (not part of the `bmcwd` library): [`args`] (the
//! command-line grammar), [`app`] (what each watchdog subcommand does),
//! [`simcmd`] (`scenario` and `sim` subcommands), [`exit`] (error type, run
//! outcome, exit codes) and [`console`] (stdout/stderr writers). Module
//! order, lowest first: `console`, `args`, `exit` → `simcmd` → `app` → `main`.

mod app;
mod args;
mod console;
mod exit;
mod searchcmd;
mod simcmd;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    match app::run(cli) {
        Ok(outcome) => ExitCode::from(outcome.exit_code()),
        Err(e) => {
            console::err_raw(&format!("bmcwd: error: {e}\n"));
            ExitCode::from(e.exit_code())
        }
    }
}
