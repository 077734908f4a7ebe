//! BMC side of the VM protocol: serves a simulated BMC to QEMU's
//! `ipmi-bmc-extern` (or to a [`client`](super::client)) over any byte
//! stream, in real time.
//!
//! * Real monotonic time since the server started is the BMC's clock: the
//!   server calls [`VmBmc::advance`] at [`VmBmc::next_deadline`], so a
//!   watchdog armed by the guest expires on the wall clock.
//! * What the BMC does to the host ([`HostAction`]) becomes a control
//!   command: SMS_ATN → `ATTN`/`ATTN_IRQ`, receive-message interrupt enable
//!   → `ENABLE_IRQ`/`DISABLE_IRQ`, hard reset / power cycle → `RESET`, power
//!   down → `POWEROFF`, NMI pre-timeout → `SEND_NMI`, soft shutdown →
//!   `GRACEFUL_SHUTDOWN` (QEMU `ipmi_bmc_extern.c` `handle_hw_op`).
//! * QEMU's parser drops the rest of a read after a control command
//!   (`receive()` returns after `handle_hw_op`), so after every control unit
//!   the server flushes and waits [`ServerOptions::control_gap`] before it
//!   writes anything else.
//! * Faults from a [`FaultControl`] shape each answer (see [`super::fault`]).
//! * The VM's `RESET` control (04 A1, which QEMU sends on every guest system
//!   reset; bmc-watchdog.md §4.4) becomes [`VmBmc::host_reset`]; for the
//!   crate's BMC that is [`SimBmc::host_reset`](crate::bmc::SimBmc::host_reset)
//!   (a spec-profile watchdog stops).

use core::time::Duration;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

use super::codec::{
    Capabilities, ControlCommand, Decoder, Encoder, Request, Unit, PROTOCOL_VERSION,
};
use super::fault::{FaultControl, FaultSpec, VmFault};

/// What the BMC asks the host machine to do; the server turns each into a
/// VM control command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HostAction {
    /// SMS_ATN set (`true`) or cleared (`false`) in BT_CTRL.
    SmsAtn(bool),
    /// Receive-message-queue interrupt enabled or disabled (BMC Global
    /// Enables bit 0, IPMI v2.0 §22.1).
    IrqEnable(bool),
    /// Hard reset (watchdog action 1, chassis control reset).
    HardReset,
    /// Power down (watchdog action 2, chassis control power down).
    PowerOff,
    /// Power cycle (watchdog action 3). The VM protocol has no power cycle:
    /// sent as `RESET`.
    PowerCycle,
    /// NMI (watchdog pre-timeout interrupt "NMI / Diagnostic Interrupt").
    Nmi,
    /// Soft (ACPI) shutdown.
    GracefulShutdown,
}

/// One answer from the BMC: completion code and data. The server echoes the
/// request's netfn (| 1), LUN and command around it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reply {
    /// Completion code.
    pub cc: u8,
    /// Response data after the completion code.
    pub data: Vec<u8>,
}

/// A BMC the server can serve. Time is the server's real monotonic clock,
/// as a [`Duration`] since the server started.
pub trait VmBmc: Send + 'static {
    /// Handles one request (`netfn << 2 | lun`, cmd, data). `None` means the
    /// BMC does not answer at all (e.g. a BMC-level fault).
    fn handle_request(
        &mut self,
        now: Duration,
        netfn_lun: u8,
        cmd: u8,
        data: &[u8],
    ) -> Option<Reply>;
    /// Lets time pass up to `now` (timers, watchdog expiry).
    fn advance(&mut self, now: Duration);
    /// When [`advance`](Self::advance) must next be called, if ever.
    fn next_deadline(&self) -> Option<Duration>;
    /// Moves what the BMC wants done to the host since the last call into `out`.
    fn drain_actions(&mut self, out: &mut Vec<HostAction>);
    /// The VM says its machine was reset (control `RESET` from the VM).
    fn host_reset(&mut self, _now: Duration) {}
}

/// Receives one human-readable line per protocol event.
pub type LogSink = Arc<dyn Fn(&str) + Send + Sync>;

/// Server settings.
#[derive(Clone)]
pub struct ServerOptions {
    /// Pause after each control command before writing more (QEMU parser
    /// quirk). Default 20 ms.
    pub control_gap: Duration,
    /// Run-time fault setting.
    pub faults: FaultControl,
    /// Accept fault changes in band: a request with netfn
    /// [`INBAND_FAULT_NETFN`] and cmd [`INBAND_FAULT_CMD`] whose data is a
    /// fault spec in ASCII. Off by default: only for test rigs.
    pub inband_faults: bool,
    /// Where protocol events are logged, if anywhere.
    pub log: Option<LogSink>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            control_gap: Duration::from_millis(20),
            faults: FaultControl::new(),
            inband_faults: false,
            log: None,
        }
    }
}

impl core::fmt::Debug for ServerOptions {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ServerOptions")
            .field("control_gap", &self.control_gap)
            .field("faults", &self.faults.get())
            .field("inband_faults", &self.inband_faults)
            .field("log", &self.log.is_some())
            .finish()
    }
}

/// OEM netfn (IPMI v2.0 §5.1, 30h–3Fh) of the in-band fault command.
pub const INBAND_FAULT_NETFN: u8 = 0x30;
/// Command byte of the in-band fault command.
pub const INBAND_FAULT_CMD: u8 = 0x5A;

/// Most answers a `delay=` fault keeps waiting at once on one connection; a
/// peer that floods requests beyond this gets no answer for the excess (each
/// drop is logged), so memory stays bounded.
pub const MAX_DELAYED: usize = 1024;

/// `now + d`, or a day from now if that cannot be represented.
fn deadline_after(d: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(d)
        .or_else(|| now.checked_add(Duration::from_secs(86_400)))
        .unwrap_or(now)
}

/// Serves one BMC over VM-protocol connections, one connection at a time.
pub struct VmServer<B> {
    bmc: Arc<Mutex<B>>,
    opts: ServerOptions,
    start: Instant,
}

enum Out {
    Msg(Vec<u8>),
    Ctl(ControlCommand),
}

/// An answer kept back by `wrong-msgid` / `stuck`.
struct Held {
    msg_id: u8,
    bytes: Vec<u8>,
    /// Fault generation when it was held: a later explicit `set()` to
    /// `none` releases it.
    generation: u64,
    /// Release time from `hold=MS`.
    until: Option<Instant>,
}

/// Per-connection state.
struct Conn {
    /// What the VM said it can do; `None` until it says (then everything is
    /// sent, as QEMU always announces before it sends requests).
    caps: Option<Capabilities>,
    irq_enabled: bool,
    atn: bool,
    /// Real answer kept back by `wrong-msgid` / `stuck`.
    held: Option<Held>,
    /// Answers delayed by `delay=`, oldest first.
    delayed: Vec<(Instant, Vec<u8>)>,
    out: Vec<Out>,
    close: bool,
}

impl<B: VmBmc> VmServer<B> {
    /// A server for `bmc`; its clock starts now.
    pub fn new(bmc: Arc<Mutex<B>>, opts: ServerOptions) -> Self {
        Self {
            bmc,
            opts,
            start: Instant::now(),
        }
    }

    /// The BMC, shared with whoever else inspects it.
    pub fn bmc(&self) -> &Arc<Mutex<B>> {
        &self.bmc
    }

    /// The fault control in use.
    pub fn faults(&self) -> &FaultControl {
        &self.opts.faults
    }

    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    fn log(&self, msg: impl FnOnce() -> String) {
        if let Some(sink) = &self.opts.log {
            let t = self.now();
            sink(&format!(
                "[{:>5}.{:03}] {}",
                t.as_secs(),
                t.subsec_millis(),
                msg()
            ));
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, B> {
        self.bmc.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Listens on a TCP address (e.g. `127.0.0.1:9002`) and serves each
    /// connection in turn, forever (QEMU reconnects with `reconnect=N`).
    pub async fn listen_tcp(&self, addr: &str) -> io::Result<()> {
        let l = tokio::net::TcpListener::bind(addr).await?;
        self.log(|| {
            format!(
                "listening on tcp {}",
                l.local_addr().map(|a| a.to_string()).unwrap_or_default()
            )
        });
        loop {
            let (s, peer) = l.accept().await?;
            let _ = s.set_nodelay(true);
            self.log(|| format!("connection from {peer}"));
            if let Err(e) = self.serve_stream(s).await {
                self.log(|| format!("connection error: {e}"));
            }
        }
    }

    /// Dials a TCP address (QEMU as a server chardev) and serves it; dials
    /// again `retry` after each disconnect, forever.
    pub async fn connect_tcp(&self, addr: &str, retry: Duration) -> io::Result<()> {
        loop {
            match tokio::net::TcpStream::connect(addr).await {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    self.log(|| format!("connected to {addr}"));
                    if let Err(e) = self.serve_stream(s).await {
                        self.log(|| format!("connection error: {e}"));
                    }
                }
                Err(e) => self.log(|| format!("connect {addr}: {e}")),
            }
            tokio::time::sleep(retry).await;
        }
    }

    /// Listens on a Unix socket path (a stale socket file there is removed)
    /// and serves each connection in turn, forever.
    pub async fn listen_unix(&self, path: &Path) -> io::Result<()> {
        remove_stale_socket(path)?;
        let l = tokio::net::UnixListener::bind(path)?;
        self.log(|| format!("listening on unix {}", path.display()));
        loop {
            let (s, _) = l.accept().await?;
            self.log(|| "unix connection".to_string());
            if let Err(e) = self.serve_stream(s).await {
                self.log(|| format!("connection error: {e}"));
            }
        }
    }

    /// Serves one connection until the peer closes it (`Ok`) or a
    /// `disconnect` fault closes it (`Ok`).
    pub async fn serve_stream<S>(&self, stream: S) -> io::Result<()>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let (mut rd, mut wr) = tokio::io::split(stream);
        let mut dec = Decoder::new();
        let mut enc = Encoder::new();
        let mut conn = Conn {
            caps: None,
            irq_enabled: false,
            atn: false,
            held: None,
            delayed: Vec::new(),
            out: vec![Out::Ctl(ControlCommand::Version(PROTOCOL_VERSION))],
            close: false,
        };
        let mut buf = [0u8; 1024];
        // Never wake twice within a millisecond: a BMC whose deadline does
        // not move after advance() must not make the server spin.
        let mut min_wake = Instant::now();
        loop {
            self.pump_actions(&mut conn);
            self.write_out(&mut wr, &mut enc, &mut conn).await?;
            if conn.close {
                self.log(|| "closing connection (disconnect fault)".to_string());
                wr.shutdown().await.ok();
                return Ok(());
            }
            let bmc_deadline = self
                .lock()
                .next_deadline()
                .and_then(|d| self.start.checked_add(d));
            let delay_deadline = conn.delayed.iter().map(|(t, _)| *t).min();
            let held_deadline = conn.held.as_ref().and_then(|h| h.until);
            let wake = [bmc_deadline, delay_deadline, held_deadline]
                .into_iter()
                .flatten()
                .min()
                .map(|w| w.max(min_wake));
            let held_poll = conn.held.is_some();
            tokio::select! {
                r = rd.read(&mut buf) => {
                    let n = r?;
                    if n == 0 {
                        self.log(|| "peer closed the connection".to_string());
                        return Ok(());
                    }
                    for &b in buf.get(..n).unwrap_or_default() {
                        self.on_byte(&mut dec, b, &mut conn);
                        if conn.close { break; }
                    }
                }
                _ = sleep_until_opt(wake) => {
                    let now = Instant::now();
                    min_wake = now + Duration::from_millis(1);
                    self.lock().advance(self.now());
                    let (due, later): (Vec<_>, Vec<_>) =
                        conn.delayed.drain(..).partition(|(t, _)| *t <= now);
                    conn.delayed = later;
                    for (_, bytes) in due {
                        self.log(|| "sending delayed answer".to_string());
                        conn.out.push(Out::Msg(bytes));
                    }
                }
                _ = self.opts.faults.changed() => {}
                _ = tokio::time::sleep(Duration::from_millis(100)), if held_poll => {}
            }
            let release = conn.held.as_ref().is_some_and(|h| {
                h.until.is_some_and(|t| t <= Instant::now())
                    || (h.generation != self.opts.faults.generation()
                        && self.opts.faults.get().fault == VmFault::None)
            });
            if release {
                if let Some(h) = conn.held.take() {
                    self.log(|| format!("late answer for held msg_id {:02x}", h.msg_id));
                    conn.out.push(Out::Msg(h.bytes));
                }
            }
        }
    }

    fn pump_actions(&self, conn: &mut Conn) {
        let mut actions = Vec::new();
        {
            let mut bmc = self.lock();
            bmc.advance(self.now());
            bmc.drain_actions(&mut actions);
        }
        for a in actions {
            self.queue_action(a, conn);
        }
    }

    fn queue_action(&self, a: HostAction, conn: &mut Conn) {
        let ctl = match a {
            HostAction::SmsAtn(on) => {
                conn.atn = on;
                if !on {
                    ControlCommand::NoAttn
                } else if conn.irq_enabled {
                    ControlCommand::AttnIrq
                } else {
                    ControlCommand::Attn
                }
            }
            HostAction::IrqEnable(on) => {
                if on == conn.irq_enabled {
                    return;
                }
                conn.irq_enabled = on;
                if on {
                    ControlCommand::EnableIrq
                } else {
                    ControlCommand::DisableIrq
                }
            }
            HostAction::HardReset | HostAction::PowerCycle => ControlCommand::Reset,
            HostAction::PowerOff => ControlCommand::PowerOff,
            HostAction::Nmi => ControlCommand::SendNmi,
            HostAction::GracefulShutdown => ControlCommand::GracefulShutdown,
        };
        // Like ipmi_sim, send only what the VM announced it can do.
        let needs = match ctl {
            ControlCommand::NoAttn | ControlCommand::Attn => Capabilities::ATTN,
            ControlCommand::AttnIrq => Capabilities::ATTN | Capabilities::IRQ,
            ControlCommand::PowerOff => Capabilities::POWER,
            ControlCommand::Reset => Capabilities::RESET,
            ControlCommand::EnableIrq | ControlCommand::DisableIrq => Capabilities::IRQ,
            ControlCommand::SendNmi => Capabilities::NMI,
            ControlCommand::GracefulShutdown => Capabilities::GRACEFUL_SHUTDOWN,
            _ => 0,
        };
        let ctl = match conn.caps {
            Some(caps) if !caps.has(needs) => {
                if ctl == ControlCommand::AttnIrq && caps.has(Capabilities::ATTN) {
                    ControlCommand::Attn
                } else {
                    self.log(|| {
                        format!("host action {a:?} dropped: the VM lacks capability {needs:#04x}")
                    });
                    return;
                }
            }
            _ => ctl,
        };
        self.log(|| format!("host action {a:?} -> control {ctl}"));
        conn.out.push(Out::Ctl(ctl));
    }

    fn on_byte(&self, dec: &mut Decoder, b: u8, conn: &mut Conn) {
        let unit = match dec.push(b) {
            None => return,
            Some(Unit::Discarded(why)) => {
                self.log(|| format!("discarded unit: {why}"));
                return;
            }
            Some(Unit::Control(c)) => {
                self.log(|| format!("<- control {c}"));
                match c {
                    ControlCommand::Capabilities(caps) => conn.caps = Some(caps),
                    ControlCommand::Reset => self.lock().host_reset(self.now()),
                    _ => {}
                }
                return;
            }
            Some(Unit::Message(m)) => m,
        };
        let req = match Request::parse(unit) {
            Ok(r) => r,
            Err(e) => {
                self.log(|| format!("bad request: {e}"));
                return;
            }
        };
        self.log(|| {
            format!(
                "<- req id={:02x} {:02x}/{:02x} {:02x?}",
                req.msg_id,
                req.netfn(),
                req.cmd,
                req.data
            )
        });
        let rsp_netfn_lun = req.netfn_lun | 0x04;
        if self.opts.inband_faults
            && req.netfn() == INBAND_FAULT_NETFN
            && req.cmd == INBAND_FAULT_CMD
        {
            let text = String::from_utf8_lossy(req.data);
            let cc = match text.parse::<FaultSpec>() {
                Ok(spec) => {
                    self.log(|| format!("in-band fault set: {spec}"));
                    self.opts.faults.set(spec);
                    0x00
                }
                Err(e) => {
                    self.log(|| format!("in-band fault rejected: {e}"));
                    0xCC
                }
            };
            let mut enc = Encoder::new();
            enc.response(req.msg_id, rsp_netfn_lun, req.cmd, cc, &[]);
            conn.out.push(Out::Msg(enc.take()));
            return;
        }
        let generation = self.opts.faults.generation();
        let spec = self.opts.faults.take_for(req.netfn(), req.cmd);
        let fault = spec.fault;
        if fault == VmFault::Disconnect {
            self.log(|| "fault disconnect".to_string());
            conn.close = true;
            return;
        }
        let reply = self
            .lock()
            .handle_request(self.now(), req.netfn_lun, req.cmd, req.data);
        // Snoop Set BMC Global Enables (App 2Eh) for the receive-message
        // interrupt bit, as OpenIPMI's ipmi_sim does (`lanserv/bmc_app.c`).
        if let Some(r) = &reply {
            if req.netfn() == 0x06 && req.cmd == 0x2E && r.cc == 0 {
                if let Some(&en) = req.data.first() {
                    self.queue_action(HostAction::IrqEnable(en & 1 != 0), conn);
                }
            }
        }
        let Some(reply) = reply else {
            self.log(|| "BMC gave no answer".to_string());
            return;
        };
        let mut enc = Encoder::new();
        let id = req.msg_id;
        match fault {
            VmFault::None | VmFault::Disconnect => {
                enc.response(id, rsp_netfn_lun, req.cmd, reply.cc, &reply.data);
            }
            VmFault::Silent => {
                self.log(|| "fault silent: no answer".to_string());
                return;
            }
            VmFault::BadChecksum => {
                let head = [id, rsp_netfn_lun, req.cmd, reply.cc];
                let good =
                    super::codec::checksum(&head).wrapping_add(super::codec::checksum(&reply.data));
                enc.message_with_checksum(&[&head, &reply.data], good.wrapping_add(1));
                self.log(|| "fault bad-checksum".to_string());
                conn.out.push(Out::Msg(enc.take()));
                return;
            }
            VmFault::WrongCmd => {
                self.log(|| "fault wrong-cmd".to_string());
                enc.response(id, rsp_netfn_lun, req.cmd ^ 0x80, reply.cc, &reply.data);
            }
            VmFault::WrongMsgId | VmFault::Stuck => {
                let mut real = Encoder::new();
                real.response(id, rsp_netfn_lun, req.cmd, reply.cc, &reply.data);
                conn.held = Some(Held {
                    msg_id: id,
                    bytes: real.take(),
                    generation,
                    until: spec.hold.map(deadline_after),
                });
                if fault == VmFault::WrongMsgId {
                    enc.response(
                        id.wrapping_add(1),
                        rsp_netfn_lun,
                        req.cmd,
                        reply.cc,
                        &reply.data,
                    );
                } else {
                    enc.response(id ^ 0x80, rsp_netfn_lun, req.cmd, 0xC0, &[]);
                }
                self.log(|| format!("fault {fault}: real answer for id {id:02x} held"));
            }
            VmFault::Delay(d) => {
                enc.response(id, rsp_netfn_lun, req.cmd, reply.cc, &reply.data);
                if conn.delayed.len() >= MAX_DELAYED {
                    self.log(|| {
                        format!("fault delay: {MAX_DELAYED} answers already waiting, id {id:02x} dropped")
                    });
                    return;
                }
                self.log(|| format!("fault delay: answer in {} ms", d.as_millis()));
                conn.delayed.push((deadline_after(d), enc.take()));
                return;
            }
            VmFault::Cc(cc) => {
                self.log(|| format!("fault cc: answering {cc}"));
                enc.response(id, rsp_netfn_lun, req.cmd, cc.0, &[]);
            }
        }
        self.log(|| format!("-> rsp id={id:02x} cc={:02x} {:02x?}", reply.cc, reply.data));
        conn.out.push(Out::Msg(enc.take()));
    }

    async fn write_out<W: AsyncWrite + Unpin>(
        &self,
        wr: &mut W,
        enc: &mut Encoder,
        conn: &mut Conn,
    ) -> io::Result<()> {
        for item in conn.out.drain(..) {
            match item {
                Out::Msg(bytes) => {
                    wr.write_all(&bytes).await?;
                    wr.flush().await?;
                }
                Out::Ctl(c) => {
                    enc.clear();
                    enc.control(c);
                    self.log(|| format!("-> control {c}"));
                    wr.write_all(enc.bytes()).await?;
                    wr.flush().await?;
                    tokio::time::sleep(self.opts.control_gap).await;
                }
            }
        }
        Ok(())
    }
}

async fn sleep_until_opt(t: Option<Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

fn remove_stale_socket(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::FileTypeExt;
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => std::fs::remove_file(path),
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!(
                "{} exists and is not a socket; refusing to replace it",
                path.display()
            ),
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Longest fault control file read: a fault spec is one short line, and a
/// control file pointed at something huge (or endless, like `/dev/zero`)
/// must not fill memory.
pub const MAX_FAULT_FILE: u64 = 4096;

/// The control file's text, at most [`MAX_FAULT_FILE`] bytes of UTF-8.
fn read_fault_file(path: &Path) -> io::Result<String> {
    use std::io::Read;
    let mut buf = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_FAULT_FILE + 1)
        .read_to_end(&mut buf)?;
    if buf.len() as u64 > MAX_FAULT_FILE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("longer than {MAX_FAULT_FILE} bytes; a fault spec is one short line"),
        ));
    }
    String::from_utf8(buf).map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not UTF-8 text"))
}

/// Watches a control file and applies its content as a [`FaultSpec`]
/// whenever it changes (polled every 50 ms), so a shell script can inject
/// faults with `echo wrong-cmd > FILE`. Parse and read errors go to `log`
/// (each once, until the file changes); the fault in force stays as it was.
pub async fn watch_fault_file(path: PathBuf, faults: FaultControl, log: Option<LogSink>) {
    let mut last: Option<Result<String, String>> = None;
    loop {
        let p = path.clone();
        let read = match tokio::task::spawn_blocking(move || read_fault_file(&p)).await {
            Ok(r) => r.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if last.as_ref() != Some(&read) {
            let msg = match &read {
                Ok(text) => match text.trim().parse::<FaultSpec>() {
                    Ok(spec) => {
                        faults.set(spec);
                        spec.to_string()
                    }
                    Err(e) => e.to_string(),
                },
                Err(e) => format!("cannot read: {e}"),
            };
            if let Some(l) = &log {
                l(&format!("fault file {}: {msg}", path.display()));
            }
            last = Some(read);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::super::client::{ClientError, VmClient};
    use super::*;

    /// A BMC that answers Get Device ID, rejects everything else with 0xC1,
    /// and asks for a hard reset once its deadline passes.
    struct TestBmc {
        reset_at: Option<Duration>,
        actions: Vec<HostAction>,
        seen: Vec<(u8, u8)>,
    }

    impl VmBmc for TestBmc {
        fn handle_request(
            &mut self,
            _now: Duration,
            netfn_lun: u8,
            cmd: u8,
            _data: &[u8],
        ) -> Option<Reply> {
            self.seen.push((netfn_lun >> 2, cmd));
            match (netfn_lun >> 2, cmd) {
                (0x06, 0x01) => Some(Reply {
                    cc: 0,
                    data: vec![0x42, 0x03, 0x01, 0x23, 0x02],
                }),
                (0x06, 0x2E) => Some(Reply::default()),
                (0x06, 0x99) => None,
                _ => Some(Reply {
                    cc: 0xC1,
                    data: vec![],
                }),
            }
        }
        fn advance(&mut self, now: Duration) {
            if self.reset_at.is_some_and(|t| now >= t) {
                self.reset_at = None;
                self.actions.push(HostAction::HardReset);
            }
        }
        fn next_deadline(&self) -> Option<Duration> {
            self.reset_at
        }
        fn drain_actions(&mut self, out: &mut Vec<HostAction>) {
            out.append(&mut self.actions);
        }
    }

    fn setup(reset_at: Option<Duration>) -> (Arc<VmServer<TestBmc>>, tokio::net::UnixStream) {
        let bmc = Arc::new(Mutex::new(TestBmc {
            reset_at,
            actions: vec![],
            seen: vec![],
        }));
        let opts = ServerOptions {
            control_gap: Duration::from_millis(1),
            inband_faults: true,
            ..Default::default()
        };
        let server = Arc::new(VmServer::new(bmc, opts));
        let (a, b) = tokio::net::UnixStream::pair().unwrap();
        let s = server.clone();
        tokio::spawn(async move { s.serve_stream(a).await });
        (server, b)
    }

    const T: Duration = Duration::from_secs(5);

    /// Serves `input` as the whole of what a peer sends, then closes; returns
    /// what the server answered and the log.
    async fn serve_bytes(input: Vec<u8>, faults: &str) -> (io::Result<()>, Vec<u8>, Vec<String>) {
        use tokio::io::AsyncWriteExt;
        let bmc = Arc::new(Mutex::new(TestBmc {
            reset_at: Some(Duration::from_millis(1)),
            actions: vec![],
            seen: vec![],
        }));
        let log = Arc::new(Mutex::new(Vec::<String>::new()));
        let sink = log.clone();
        let opts = ServerOptions {
            control_gap: Duration::ZERO,
            inband_faults: true,
            log: Some(Arc::new(move |l: &str| {
                sink.lock().unwrap().push(l.to_owned())
            })),
            ..Default::default()
        };
        opts.faults.set(faults.parse().unwrap());
        let server = Arc::new(VmServer::new(bmc, opts));
        let (a, mut b) = tokio::net::UnixStream::pair().unwrap();
        let s = server.clone();
        let task = tokio::spawn(async move { s.serve_stream(a).await });
        let (mut rd, mut wr) = b.split();
        let writer = async {
            // A `disconnect` fault may close the link while we still write.
            let _ = wr.write_all(&input).await;
            let _ = wr.shutdown().await;
        };
        let mut out = Vec::new();
        let reader = rd.read_to_end(&mut out);
        let (_, r) = tokio::time::timeout(T, async { tokio::join!(writer, reader) })
            .await
            .expect("server finished");
        if !faults.contains("disconnect") {
            r.unwrap();
        }
        let res = tokio::time::timeout(T, task)
            .await
            .expect("server returned")
            .unwrap();
        let log = log.lock().unwrap().clone();
        (res, out, log)
    }

    use proptest::strategy::Strategy as _;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 48,
            failure_persistence: None,
            ..Default::default()
        })]

        /// Whatever a peer sends (garbage, oversize units, bad checksums,
        /// stray escapes, control units, half a frame before it hangs up),
        /// the server answers what parses and ends cleanly at EOF.
        #[test]
        fn any_peer_bytes_end_cleanly(
            chunks in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400),
                    proptest::collection::vec(proptest::prelude::any::<u8>(), 0..8)
                        .prop_map(|mut v| { v.push(0xA0); v }),
                    proptest::collection::vec(proptest::prelude::any::<u8>(), 0..4)
                        .prop_map(|mut v| { v.push(0xA1); v }),
                    proptest::prelude::any::<u8>().prop_map(|id| {
                        let mut e = Encoder::new();
                        e.message(&[&[id, 0x18, 0x01]]);
                        e.take()
                    }),
                ],
                0..12,
            ),
            fault in proptest::sample::select(&[
                "none", "silent", "bad-checksum", "wrong-cmd", "wrong-msgid", "stuck",
                "delay=50", "cc=c3", "wrong-msgid hold=10", "disconnect count=1",
            ][..]),
        ) {
            let input: Vec<u8> = chunks.concat();
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let (res, out, _log) = rt.block_on(serve_bytes(input, fault));
            proptest::prop_assert!(res.is_ok(), "{res:?}");
            // Everything the server wrote decodes as whole units, starting
            // with its version announcement.
            let mut d = Decoder::new();
            let mut units = Vec::new();
            for b in out {
                match d.push(b) {
                    Some(Unit::Discarded(w)) if fault != "bad-checksum" => {
                        proptest::prop_assert!(false, "server sent a bad unit: {w}");
                    }
                    Some(Unit::Control(c)) => units.push(Some(c)),
                    Some(_) => units.push(None),
                    None => {}
                }
            }
            proptest::prop_assert_eq!(units.first(), Some(&Some(ControlCommand::Version(1))));
        }
    }

    #[tokio::test]
    async fn garbage_in_the_fault_file_is_reported_and_changes_nothing() {
        let dir = std::env::temp_dir().join(format!("bmcwd-ff-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("fault");
        let log = Arc::new(Mutex::new(Vec::<String>::new()));
        let sink = log.clone();
        let faults = FaultControl::new();
        let task = tokio::spawn(watch_fault_file(
            path.clone(),
            faults.clone(),
            Some(Arc::new(move |l: &str| {
                sink.lock().unwrap().push(l.to_owned())
            })),
        ));
        let last = |log: &Arc<Mutex<Vec<String>>>| log.lock().unwrap().last().cloned();
        // Polls every 50 ms: wait (up to 5 s, for loaded machines) until
        // the log's last line says `says`.
        let until_logged = |says: &'static str| {
            let log = log.clone();
            async move {
                for _ in 0..500 {
                    if last(&log).is_some_and(|l| l.contains(says)) {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                panic!("never logged {says:?}; last: {:?}", last(&log));
            }
        };
        until_logged("cannot read").await;
        std::fs::write(&path, "silent count=2\n").unwrap();
        until_logged("silent count=2").await;
        assert_eq!(faults.get(), "silent count=2".parse().unwrap());
        for (bytes, says) in [
            (b"delay=18446744073709551615".to_vec(), "bad fault"),
            (vec![0xFF, 0xFE, 0x00, 0xA0], "not UTF-8"),
            (vec![b'x'; 10_000], "longer than 4096 bytes"),
        ] {
            std::fs::write(&path, &bytes).unwrap();
            until_logged(says).await;
            assert_eq!(faults.get(), "silent count=2".parse().unwrap());
        }
        let n = log.lock().unwrap().len();
        // Several polls of the unchanged file.
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(
            log.lock().unwrap().len(),
            n,
            "an unchanged file is reported once"
        );
        task.abort();
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_flood_under_a_long_delay_keeps_memory_bounded() {
        let mut e = Encoder::new();
        for i in 0..(MAX_DELAYED + 200) {
            e.message(&[&[i as u8, 0x18, 0x01]]);
        }
        let (res, out, log) = serve_bytes(e.take(), "delay=86400000").await;
        res.unwrap();
        let dropped = log
            .iter()
            .filter(|l| l.contains("answers already waiting"))
            .count();
        assert_eq!(dropped, 200, "{:?}", log.last());
        // Nothing is answered within the day: only control units went out.
        let mut d = Decoder::new();
        let units: Vec<_> = out
            .iter()
            .filter_map(|&b| d.push(b).map(|u| format!("{u:?}")))
            .collect();
        assert!(units.iter().all(|u| u.starts_with("Control(")), "{units:?}");
        assert_eq!(
            units.first().map(String::as_str),
            Some("Control(Version(1))")
        );
    }

    #[tokio::test]
    async fn request_response_and_version_over_unix_pair() {
        let (server, stream) = setup(None);
        let mut c = VmClient::new(stream).await.unwrap();
        let r = c.request(0x06, 0, 0x01, &[], T).await.unwrap();
        assert_eq!((r.netfn, r.lun, r.cmd, r.cc.0), (0x07, 0, 0x01, 0));
        assert_eq!(r.data, vec![0x42, 0x03, 0x01, 0x23, 0x02]);
        let r = c.request(0x0A, 0, 0x10, &[0xA0, 0xAA], T).await.unwrap();
        assert_eq!(r.cc, ipmi_bt_sm::CompletionCode::INVALID_COMMAND);
        assert_eq!(c.take_controls(), vec![ControlCommand::Version(1)]);
        // Set Global Enables with bit 0 → ENABLE_IRQ; the same again → nothing new.
        c.request(0x06, 0, 0x2E, &[0x01], T).await.unwrap();
        c.request(0x06, 0, 0x2E, &[0x05], T).await.unwrap();
        c.request(0x06, 0, 0x2E, &[0x04], T).await.unwrap();
        c.request(0x06, 0, 0x01, &[], T).await.unwrap();
        assert_eq!(
            c.take_controls(),
            vec![ControlCommand::EnableIrq, ControlCommand::DisableIrq]
        );
        let seen = server.bmc().lock().unwrap().seen.clone();
        assert_eq!(seen.first(), Some(&(0x06, 0x01)));
        assert_eq!(seen.len(), 6);
    }

    #[tokio::test]
    async fn watchdog_style_deadline_becomes_reset_control() {
        let (_server, stream) = setup(Some(Duration::from_millis(30)));
        let mut c = VmClient::new(stream).await.unwrap();
        let mut controls = Vec::new();
        for _ in 0..200 {
            c.request(0x06, 0, 0x01, &[], T).await.unwrap();
            controls.extend(c.take_controls());
            if controls.contains(&ControlCommand::Reset) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(
            controls,
            vec![ControlCommand::Version(1), ControlCommand::Reset]
        );
    }

    #[tokio::test]
    async fn controls_the_vm_cannot_do_are_not_sent() {
        use tokio::io::AsyncWriteExt;
        let (_server, mut stream) = setup(Some(Duration::from_millis(300)));
        // A VM announcing only IRQ and ATN (no reset): the expiry is dropped.
        let mut e = Encoder::new();
        e.control(ControlCommand::Version(1))
            .control(ControlCommand::Capabilities(Capabilities(
                Capabilities::IRQ | Capabilities::ATTN,
            )));
        stream.write_all(e.bytes()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(600)).await;
        let mut c = VmClient::new(stream).await.unwrap();
        c.request(0x06, 0, 0x2E, &[0x01], T).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        c.request(0x06, 0, 0x01, &[], T).await.unwrap();
        // VmClient::new re-announced caps 0x3F after our 0x14, so from then
        // on everything is allowed: only ENABLE_IRQ shows, the reset fired
        // before (at 300 ms) while the VM could not reset and was dropped.
        assert_eq!(
            c.take_controls(),
            vec![ControlCommand::Version(1), ControlCommand::EnableIrq]
        );
    }

    #[tokio::test]
    async fn faults_shape_the_answers() {
        let (server, stream) = setup(None);
        let mut c = VmClient::new(stream).await.unwrap();
        let short = Duration::from_millis(200);

        server.faults().set("wrong-cmd count=1".parse().unwrap());
        let r = c.request(0x06, 0, 0x01, &[], T).await.unwrap();
        assert_eq!(r.cmd, 0x81);
        assert_eq!(c.request(0x06, 0, 0x01, &[], T).await.unwrap().cmd, 0x01);

        server.faults().set("cc=d5".parse().unwrap());
        let r = c.request(0x06, 0, 0x01, &[], T).await.unwrap();
        assert_eq!((r.cc.0, r.data.len()), (0xD5, 0));

        server.faults().set("silent".parse().unwrap());
        assert!(matches!(
            c.request(0x06, 0, 0x01, &[], short).await,
            Err(ClientError::Timeout(_))
        ));

        server.faults().set("bad-checksum".parse().unwrap());
        let before = c.dropped();
        assert!(matches!(
            c.request(0x06, 0, 0x01, &[], short).await,
            Err(ClientError::Timeout(_))
        ));
        assert_eq!(c.dropped(), before + 1);

        // wrong-msgid: the answer comes for id+1 and is dropped; clearing the
        // fault sends the held real answer late (also dropped by now, since
        // the client gave up on that id).
        server.faults().set("wrong-msgid".parse().unwrap());
        let before = c.dropped();
        assert!(matches!(
            c.request(0x06, 0, 0x01, &[], short).await,
            Err(ClientError::Timeout(_))
        ));
        assert_eq!(c.dropped(), before + 1);
        server.faults().set(FaultSpec::NONE);
        tokio::time::sleep(Duration::from_millis(50)).await;
        let r = c.request(0x06, 0, 0x01, &[], T).await.unwrap();
        assert_eq!(r.cc.0, 0);
        assert_eq!(
            c.dropped(),
            before + 2,
            "late answer arrived and was dropped"
        );

        // hold=MS: the held answer is released by itself; the client,
        // still waiting for that id, takes it.
        server
            .faults()
            .set("wrong-msgid count=1 hold=100".parse().unwrap());
        let before = c.dropped();
        assert_eq!(c.request(0x06, 0, 0x01, &[], T).await.unwrap().cc.0, 0);
        assert_eq!(c.dropped(), before + 1, "the wrong-id copy was dropped");

        // delay: the answer still comes, later.
        server.faults().set("delay=50 count=1".parse().unwrap());
        assert_eq!(c.request(0x06, 0, 0x01, &[], T).await.unwrap().cc.0, 0);

        // BMC-level silence (handle_request returns None).
        server.faults().set(FaultSpec::NONE);
        assert!(matches!(
            c.request(0x06, 0, 0x99, &[], short).await,
            Err(ClientError::Timeout(_))
        ));

        // In-band fault command, then disconnect.
        let spec = b"disconnect";
        assert_eq!(
            c.request(INBAND_FAULT_NETFN, 0, INBAND_FAULT_CMD, spec, T)
                .await
                .unwrap()
                .cc
                .0,
            0
        );
        assert_eq!(
            c.request(INBAND_FAULT_NETFN, 0, INBAND_FAULT_CMD, b"bogus", T)
                .await
                .unwrap()
                .cc
                .0,
            0xCC
        );
        assert!(matches!(
            c.request(0x06, 0, 0x01, &[], T).await,
            Err(ClientError::Closed)
        ));
    }

    #[tokio::test]
    async fn stale_socket_is_replaced_but_files_are_not() {
        let dir = std::env::temp_dir().join(format!("vmproto-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("plain");
        std::fs::write(&file, b"x").unwrap();
        assert_eq!(
            remove_stale_socket(&file).unwrap_err().kind(),
            io::ErrorKind::AlreadyExists
        );
        let sock = dir.join("sock");
        drop(std::os::unix::net::UnixListener::bind(&sock).unwrap());
        remove_stale_socket(&sock).unwrap();
        assert!(!sock.exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
