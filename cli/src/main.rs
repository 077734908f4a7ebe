//! `bmcwd`: arm, pet, read and disarm the IPMI BMC watchdog; run BT/BMC
//! simulations. See `bmcwd --help` and `bmcwd::exit` for exit codes.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = bmcwd::args::Cli::parse();
    match bmcwd::app::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if !matches!(e, bmcwd::exit::CliError::Counterexample(_)) {
                bmcwd::app::err_raw(&format!("bmcwd: error: {e}\n"));
            }
            ExitCode::from(e.exit_code())
        }
    }
}
