//! The simulation subcommands (`scenario run`, `scenario explore`,
//! `sim serve`) and the embedded BMC behind `--sim`.

use std::time::Duration;

use bmc_sim::vmproto::server::{HostAction, Reply, VmBmc};
use ipmi_watchdog::{CompatProfile, Instant, Watchdog};

use crate::args::{Cli, ScenarioCommand, SimCommand};
use crate::exit::CliError;
use crate::transport::sim::SimTransport;
use crate::transport::Transport;

/// A BMC that implements only the watchdog (IPMI v2.0 §27) and answers
/// every other command with 0xC1 (Invalid Command). Interim stand-in for the
/// full simulated BMC.
pub struct WatchdogBmc {
    wd: Watchdog,
}

impl WatchdogBmc {
    /// A fresh BMC following the spec profile.
    pub fn new() -> Self {
        Self {
            wd: Watchdog::new(CompatProfile::Spec),
        }
    }
}

impl Default for WatchdogBmc {
    fn default() -> Self {
        Self::new()
    }
}

fn instant(d: Duration) -> Instant {
    Instant::from_nanos(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

impl VmBmc for WatchdogBmc {
    fn handle_request(
        &mut self,
        now: Duration,
        netfn_lun: u8,
        cmd: u8,
        data: &[u8],
    ) -> Option<Reply> {
        if netfn_lun >> 2 != crate::transport::NETFN_APP {
            return Some(Reply {
                cc: 0xC1,
                data: vec![],
            });
        }
        match self.wd.handle(instant(now), cmd, data) {
            Some(r) => Some(Reply {
                cc: r.cc.0,
                data: r.data.as_slice().to_vec(),
            }),
            None => Some(Reply {
                cc: 0xC1,
                data: vec![],
            }),
        }
    }

    fn advance(&mut self, now: Duration) {
        let _ = self.wd.advance(instant(now));
    }

    fn next_deadline(&self) -> Option<Duration> {
        self.wd.next_deadline().map(|i| i.since_epoch())
    }

    fn drain_actions(&mut self, _out: &mut Vec<HostAction>) {}
}

/// The transport behind `--sim`: a fresh embedded BMC.
pub fn embedded_transport() -> Box<dyn Transport> {
    Box::new(SimTransport::new(WatchdogBmc::new()))
}

/// `bmcwd scenario …`
pub fn scenario(_cli: &Cli, _s: &ScenarioCommand) -> Result<(), CliError> {
    Err(CliError::Internal("scenario: not built yet".into()))
}

/// `bmcwd sim …`
pub fn sim(_cli: &Cli, _s: &SimCommand) -> Result<(), CliError> {
    Err(CliError::Internal("sim serve: not built yet".into()))
}
