//! The simulation subcommands (`scenario run`, `scenario explore`,
//! `sim serve`) and the embedded BMC behind `--sim`.

use std::path::Path;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bmc_sim::vmproto::server::{
    watch_fault_file, HostAction, LogSink, Reply, ServerOptions, VmBmc, VmServer,
};
use ipmi_watchdog::{CompatProfile, Instant, Watchdog};

use crate::args::{Cli, ScenarioCommand, ServeArgs, SimCommand};
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
pub fn sim(cli: &Cli, s: &SimCommand) -> Result<(), CliError> {
    match s {
        SimCommand::Serve(a) => serve(cli.target.socket.as_deref(), a, new_served_bmc()),
    }
}

/// The BMC `sim serve` serves.
fn new_served_bmc() -> WatchdogBmc {
    WatchdogBmc::new()
}

/// Serves `bmc` on a Unix socket (any number of concurrent clients, one
/// shared BMC and clock) and/or to QEMU over TCP, until SIGTERM/SIGINT; then
/// removes the socket file.
pub fn serve<B: VmBmc>(socket: Option<&Path>, a: &ServeArgs, bmc: B) -> Result<(), CliError> {
    if socket.is_none() && a.vm_listen.is_none() && a.vm_connect.is_none() {
        return Err(CliError::Usage(
            "sim serve needs somewhere to serve: --socket PATH (for bmcwd --socket PATH …), \
             --vm-listen ADDR or --vm-connect ADDR (for QEMU's ipmi-bmc-extern)"
                .into(),
        ));
    }
    let log: LogSink = Arc::new(|line: &str| eprintln!("bmcwd sim: {line}"));
    let opts = ServerOptions {
        log: a.verbose.then(|| log.clone()),
        ..ServerOptions::default()
    };
    let faults = opts.faults.clone();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Internal(format!("cannot start the tokio runtime: {e}")))?;
    let local = tokio::task::LocalSet::new();
    let server = Rc::new(VmServer::new(Arc::new(Mutex::new(bmc)), opts));
    let result = local.block_on(&rt, async {
        use tokio::signal::unix::{signal, SignalKind};
        let sig_err =
            |e: std::io::Error| CliError::Internal(format!("cannot install signal handlers: {e}"));
        let mut term = signal(SignalKind::terminate()).map_err(sig_err)?;
        let mut int = signal(SignalKind::interrupt()).map_err(sig_err)?;
        if let Some(path) = &a.fault_file {
            tokio::task::spawn_local(watch_fault_file(path.clone(), faults, Some(log.clone())));
        }
        let mut tasks = tokio::task::JoinSet::new();
        if let Some(path) = socket {
            let listener = bind_unix(path)?;
            eprintln!(
                "bmcwd sim: serving the simulated BMC on unix socket {}",
                path.display()
            );
            let srv = server.clone();
            tasks.spawn_local(async move {
                loop {
                    let (stream, _) = listener.accept().await?;
                    let srv = srv.clone();
                    tokio::task::spawn_local(async move {
                        let _ = srv.serve_stream(stream).await;
                    });
                }
            });
        }
        if let Some(addr) = a.vm_listen.clone() {
            eprintln!("bmcwd sim: listening for QEMU ipmi-bmc-extern on tcp {addr}");
            let srv = server.clone();
            tasks.spawn_local(async move { srv.listen_tcp(&addr).await });
        }
        if let Some(addr) = a.vm_connect.clone() {
            eprintln!("bmcwd sim: connecting to QEMU ipmi-bmc-extern at tcp {addr}");
            let srv = server.clone();
            tasks.spawn_local(async move { srv.connect_tcp(&addr, Duration::from_secs(1)).await });
        }
        tokio::select! {
            _ = term.recv() => eprintln!("bmcwd sim: SIGTERM, shutting down"),
            _ = int.recv() => eprintln!("bmcwd sim: SIGINT, shutting down"),
            Some(r) = tasks.join_next() => {
                let e = match r {
                    Ok(Ok(())) => "server ended".to_string(),
                    Ok(Err(e)) => e.to_string(),
                    Err(e) => e.to_string(),
                };
                return Err(CliError::Internal(format!("sim serve: {e}")));
            }
        }
        Ok(())
    });
    if let Some(p) = socket {
        let _ = std::fs::remove_file(p);
    }
    result
}

/// Binds a Unix listener, replacing a stale socket file (never another file).
fn bind_unix(path: &Path) -> Result<tokio::net::UnixListener, CliError> {
    use std::os::unix::fs::FileTypeExt;
    if let Ok(m) = std::fs::symlink_metadata(path) {
        if !m.file_type().is_socket() {
            return Err(CliError::Usage(format!(
                "{} exists and is not a socket: choose another --socket path",
                path.display()
            )));
        }
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(CliError::Usage(format!(
                "{} is in use by a running server: stop it or choose another --socket path",
                path.display()
            )));
        }
        let _ = std::fs::remove_file(path);
    }
    tokio::net::UnixListener::bind(path)
        .map_err(|e| CliError::Input(format!("cannot listen on {}: {e}", path.display())))
}
