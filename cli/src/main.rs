//! `bmcwd`: arm, pet, read and disarm the IPMI BMC watchdog; run BT/BMC
//! simulations. See `bmcwd --help` and the `exit` module for exit codes.
//!
//! The binary's own modules (not part of the `bmcwd` library): [`args`] (the
//! command-line grammar), [`app`] (what each watchdog subcommand does),
//! [`config`] (the daemon's configuration file), [`logging`] (the daemon's
//! log sinks), [`simcmd`] (`scenario` and `sim` subcommands), [`exit`] (error
//! type, run outcome, exit codes), [`console`] (stdout/stderr writers) and
//! [`memory`] (the daemon drops its start-up pages). Module order, lowest
//! first: `console`, `args`, `exit`, `memory` → `logging`, `config`, `simcmd`
//! → `app` → `main`.

mod app;
mod args;
mod config;
mod console;
mod exit;
mod logging;
mod memory;
mod searchcmd;
mod simcmd;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

fn main() -> ExitCode {
    // `--json` is known before parsing succeeds, so a command-line error can
    // be reported as JSON too. Error objects are one line, so that a reader
    // of the daemon's JSON-lines events reads the last one too.
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let json = argv.iter().skip(1).any(|a| a == "--json");
    // The operator subcommands parse with a tree of their own (fewer
    // instructions per call); everything else, and every help text or error,
    // with the whole tree.
    let parsed = match args::parse_lean(&argv) {
        Some(p) => Ok(p),
        None => args::Cli::command()
            .try_get_matches_from(&argv)
            .and_then(|m| args::Cli::from_arg_matches(&m).map(|c| (c, m))),
    };
    let (cli, matches) = match parsed {
        Ok(p) => p,
        Err(e) if json && e.use_stderr() => {
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or_default();
            let msg = first.strip_prefix("error: ").unwrap_or(first);
            let code = u8::try_from(e.exit_code()).unwrap_or(exit::USAGE);
            console::out(&format!("{}\n", exit::error_json("usage", msg, code, None)));
            return ExitCode::from(code);
        }
        Err(e) => e.exit(),
    };
    match app::run(cli, &matches) {
        Ok(outcome) => ExitCode::from(outcome.exit_code()),
        Err(e) => {
            if json {
                console::out(&format!("{}\n", e.to_json()));
            } else if !matches!(e, exit::CliError::Logged(_)) {
                console::err_raw(&format!("bmcwd: error: {e}\n"));
            }
            ExitCode::from(e.exit_code())
        }
    }
}
