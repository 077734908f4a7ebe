//! BMC side of one VM-protocol connection, sans-IO (quinn-proto style): the
//! protocol logic of serving a [`BmcPort`] to QEMU's `ipmi-bmc-extern` (or to
//! a [`client`](super::client)), fed bytes and time, never touching a clock,
//! socket or task. `server` (feature `server`) is the tokio
//! pump around it.
//!
//! Calling protocol, with `now` the [`Instant`] of the carrier's clock (the
//! same clock the [`BmcPort`] is given; it never goes backwards):
//! * [`Connection::new`] queues the opening `VERSION`; call
//!   [`handle_wakeup`](Connection::handle_wakeup) once before the first
//!   transmit, so host actions already pending go out too.
//! * Bytes from the peer go to [`handle_bytes`](Connection::handle_bytes).
//! * When [`poll_timeout`](Connection::poll_timeout)'s deadline passes, call
//!   [`handle_timeout`](Connection::handle_timeout); when the
//!   [`FaultControl`] was changed by someone else, call
//!   [`handle_wakeup`](Connection::handle_wakeup).
//! * After each of those, write every [`poll_transmit`](Connection::poll_transmit)
//!   unit, in order, each flushed on its own; `None` means nothing may go out
//!   now (maybe a control gap: ask `poll_timeout` again).
//! * Stop once [`is_closed`](Connection::is_closed) (a `disconnect` fault).
//!
//! What the connection does:
//! * What the BMC does to the host ([`HostAction`]) becomes a control
//!   command: SMS_ATN → `ATTN`/`ATTN_IRQ`, receive-message interrupt enable
//!   → `ENABLE_IRQ`/`DISABLE_IRQ`, hard reset / power cycle → `RESET`, power
//!   down → `POWEROFF`, NMI pre-timeout → `SEND_NMI`, soft shutdown →
//!   `GRACEFUL_SHUTDOWN` (QEMU `ipmi_bmc_extern.c` `handle_hw_op`); only
//!   those the VM announced it can do are sent, like OpenIPMI's `ipmi_sim`.
//! * QEMU's parser drops the rest of a read after a control command
//!   (`receive()` returns after `handle_hw_op`), so after every control unit
//!   nothing more is transmitted for [`ServerOptions::control_gap`].
//! * Faults from a [`FaultControl`] shape each answer (see [`super::fault`]).
//! * The VM's `RESET` control (04 A1, which QEMU sends on every guest system
//!   reset; bmc-watchdog.md §4.4) becomes [`BmcPort::host_reset`]; for the
//!   crate's BMC that is [`SimBmc::host_reset`](crate::bmc::SimBmc::host_reset)
//!   (a spec-profile watchdog stops).

use core::time::Duration;
use std::collections::VecDeque;
use std::sync::Arc;

use super::codec::{
    checksum, Capabilities, ControlCommand, Decoder, Encoder, Unit, VmRequest, PROTOCOL_VERSION,
};
use super::fault::{FaultControl, VmFault, VmFaultSpec};
use crate::bmc::{BmcPort, HostAction};
use ipmi_vocab::Instant;

/// Receives one human-readable line per protocol event (a closure, so a CLI
/// can prefix and print it and a test can collect it).
pub type VmLogFn = Arc<dyn Fn(&str) + Send + Sync>;

/// Server settings, shared by every connection of a server.
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
    pub log: Option<VmLogFn>,
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
pub(super) const MAX_DELAYED: usize = 1024;

/// While an answer is held, the connection looks at the fault setting at
/// least this often (through [`Connection::poll_timeout`]), so a change
/// nobody announced still releases it.
pub(super) const HELD_POLL: Duration = Duration::from_millis(100);

/// Least time between two timer wake-ups: a BMC whose deadline does not move
/// after `advance()` must not make the carrier spin.
const MIN_WAKE_GAP: Duration = Duration::from_millis(1);

/// `now + d`, or a day from now if that cannot be represented.
fn deadline_after(now: Instant, d: Duration) -> Instant {
    now.checked_add(d)
        .or_else(|| now.checked_add(Duration::from_secs(86_400)))
        .unwrap_or(now)
}

/// Sends `msg` to `sink` stamped with `now` (`[secs.ms] msg`).
pub(super) fn log_line(sink: Option<&VmLogFn>, now: Instant, msg: impl FnOnce() -> String) {
    if let Some(sink) = sink {
        let t = now.since_epoch();
        sink(&format!(
            "[{:>5}.{:03}] {}",
            t.as_secs(),
            t.subsec_millis(),
            msg()
        ));
    }
}

/// One unit waiting to be transmitted.
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

/// The BMC side of one VM-protocol connection, without IO (see the module
/// docs for the calling protocol).
pub struct Connection {
    opts: ServerOptions,
    dec: Decoder,
    enc: Encoder,
    /// What the VM said it can do; `None` until it says (then everything is
    /// sent, as QEMU always announces before it sends requests).
    caps: Option<Capabilities>,
    irq_enabled: bool,
    atn: bool,
    /// Real answer kept back by `wrong-msgid` / `stuck`.
    held: Option<Held>,
    /// Answers delayed by `delay=`, oldest first.
    delayed: Vec<(Instant, Vec<u8>)>,
    /// The last answer sent (`netfn_lun`, cmd, cc, data), for `stale`.
    last_answer: Option<(u8, u8, u8, Vec<u8>)>,
    out: VecDeque<Out>,
    /// A `disconnect` fault hit: send what is queued, then close.
    close: bool,
    /// Nothing is transmitted before this (the gap after a control unit).
    quiet_until: Instant,
    /// The next timer wake-up is not before this.
    min_wake: Instant,
    /// The latest time the connection was given.
    now: Instant,
}

impl core::fmt::Debug for Connection {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Connection")
            .field("caps", &self.caps)
            .field("irq_enabled", &self.irq_enabled)
            .field("atn", &self.atn)
            .field("held", &self.held.as_ref().map(|h| h.msg_id))
            .field("delayed", &self.delayed.len())
            .field("queued", &self.out.len())
            .field("close", &self.close)
            .finish()
    }
}

impl Connection {
    /// A connection opened at `now`; its first unit is `VERSION`.
    pub fn new(opts: ServerOptions, now: Instant) -> Self {
        Self {
            opts,
            dec: Decoder::new(),
            enc: Encoder::new(),
            caps: None,
            irq_enabled: false,
            atn: false,
            held: None,
            delayed: Vec::new(),
            last_answer: None,
            out: VecDeque::from([Out::Ctl(ControlCommand::Version(PROTOCOL_VERSION))]),
            close: false,
            quiet_until: now,
            min_wake: now,
            now,
        }
    }

    /// The settings this connection runs with.
    pub fn options(&self) -> &ServerOptions {
        &self.opts
    }

    fn log(&self, now: Instant, msg: impl FnOnce() -> String) {
        log_line(self.opts.log.as_ref(), now, msg);
    }

    /// Bytes received from the peer at `now`; requests in them go to `bmc`.
    /// Ignored once a `disconnect` fault hit (the rest of the read, too).
    pub fn handle_bytes<B: BmcPort + ?Sized>(&mut self, now: Instant, bytes: &[u8], bmc: &mut B) {
        if self.close {
            return;
        }
        self.now = now;
        let mut dec = core::mem::take(&mut self.dec);
        for &b in bytes {
            self.on_byte(now, &mut dec, b, bmc);
            if self.close {
                break;
            }
        }
        self.dec = dec;
        self.settle(now, bmc);
    }

    /// [`poll_timeout`](Self::poll_timeout)'s deadline passed: lets the BMC's
    /// time pass and sends the `delay=` answers that are due.
    pub fn handle_timeout<B: BmcPort + ?Sized>(&mut self, now: Instant, bmc: &mut B) {
        self.now = now;
        if self.close {
            return;
        }
        self.min_wake = deadline_after(now, MIN_WAKE_GAP);
        bmc.advance(now);
        let (due, later): (Vec<_>, Vec<_>) = self.delayed.drain(..).partition(|(t, _)| *t <= now);
        self.delayed = later;
        for (_, bytes) in due {
            self.log(now, || "sending delayed answer".to_string());
            self.out.push_back(Out::Msg(bytes));
        }
        self.settle(now, bmc);
    }

    /// Something outside changed (the fault setting), or the connection just
    /// started: releases a held answer whose time came and collects the
    /// BMC's host actions.
    pub fn handle_wakeup<B: BmcPort + ?Sized>(&mut self, now: Instant, bmc: &mut B) {
        self.now = now;
        if self.close {
            return;
        }
        self.settle(now, bmc);
    }

    /// The next unit to write at `now`, if one may go out now. Write each
    /// one whole and flush it before asking for the next.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Vec<u8>> {
        if now < self.quiet_until {
            return None;
        }
        match self.out.pop_front()? {
            Out::Msg(bytes) => Some(bytes),
            Out::Ctl(c) => {
                self.enc.clear();
                self.enc.control(c);
                self.log(now, || format!("-> control {c}"));
                self.quiet_until = deadline_after(now, self.opts.control_gap);
                Some(self.enc.take())
            }
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) is next due (the BMC's
    /// deadline, a delayed or held answer, the end of a control gap), if
    /// ever. `bmc` is the one given to the `handle_*` calls.
    pub fn poll_timeout<B: BmcPort + ?Sized>(&self, bmc: &B) -> Option<Instant> {
        let pacing =
            (!self.out.is_empty() && self.quiet_until > self.now).then_some(self.quiet_until);
        if self.close {
            return pacing;
        }
        let delay_deadline = self.delayed.iter().map(|(t, _)| *t).min();
        let held_deadline = self.held.as_ref().and_then(|h| h.until);
        let timer = [bmc.next_deadline(), delay_deadline, held_deadline]
            .into_iter()
            .flatten()
            .min()
            .map(|w| w.max(self.min_wake));
        let held_poll = self
            .held
            .is_some()
            .then(|| deadline_after(self.now, HELD_POLL));
        [timer, held_poll, pacing].into_iter().flatten().min()
    }

    /// A `disconnect` fault hit: no more input is taken (a carrier stops
    /// reading); what is queued still goes out.
    pub fn close_requested(&self) -> bool {
        self.close
    }

    /// A `disconnect` fault hit and everything queued before it was
    /// transmitted: the carrier closes the link now.
    pub fn is_closed(&self) -> bool {
        self.close && self.out.is_empty()
    }

    /// Releases a held answer whose time came, then collects the BMC's host
    /// actions.
    fn settle<B: BmcPort + ?Sized>(&mut self, now: Instant, bmc: &mut B) {
        let faults = &self.opts.faults;
        let release = self.held.as_ref().is_some_and(|h| {
            h.until.is_some_and(|t| t <= now)
                || (h.generation != faults.generation() && faults.get().fault == VmFault::None)
        });
        if release {
            if let Some(h) = self.held.take() {
                self.log(now, || {
                    format!("late answer for held msg_id {:02x}", h.msg_id)
                });
                self.out.push_back(Out::Msg(h.bytes));
            }
        }
        let mut actions = Vec::new();
        bmc.advance(now);
        bmc.drain_actions(&mut actions);
        for a in actions {
            self.queue_action(now, a);
        }
    }

    fn queue_action(&mut self, now: Instant, a: HostAction) {
        let ctl = match a {
            HostAction::SmsAtn(on) => {
                self.atn = on;
                if !on {
                    ControlCommand::NoAttn
                } else if self.irq_enabled {
                    ControlCommand::AttnIrq
                } else {
                    ControlCommand::Attn
                }
            }
            HostAction::IrqEnable(on) => {
                if on == self.irq_enabled {
                    return;
                }
                self.irq_enabled = on;
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
        let ctl = match self.caps {
            Some(caps) if !caps.has(needs) => {
                if ctl == ControlCommand::AttnIrq && caps.has(Capabilities::ATTN) {
                    ControlCommand::Attn
                } else {
                    self.log(now, || {
                        format!("host action {a:?} dropped: the VM lacks capability {needs:#04x}")
                    });
                    return;
                }
            }
            _ => ctl,
        };
        self.log(now, || format!("host action {a:?} -> control {ctl}"));
        self.out.push_back(Out::Ctl(ctl));
    }

    fn on_byte<B: BmcPort + ?Sized>(
        &mut self,
        now: Instant,
        dec: &mut Decoder,
        b: u8,
        bmc: &mut B,
    ) {
        let unit = match dec.push(b) {
            None => return,
            Some(Unit::Discarded(why)) => {
                self.log(now, || format!("discarded unit: {why}"));
                return;
            }
            Some(Unit::Control(c)) => {
                self.log(now, || format!("<- control {c}"));
                match c {
                    ControlCommand::Capabilities(caps) => self.caps = Some(caps),
                    ControlCommand::Reset => bmc.host_reset(now),
                    _ => {}
                }
                return;
            }
            Some(Unit::Message(m)) => m,
        };
        match VmRequest::parse(unit) {
            Ok(req) => self.on_request(now, &req, bmc),
            Err(e) => self.log(now, || format!("bad request: {e}")),
        }
    }

    /// One well-formed request: in-band fault command, or the BMC's answer
    /// shaped by the fault in force.
    fn on_request<B: BmcPort + ?Sized>(&mut self, now: Instant, req: &VmRequest<'_>, bmc: &mut B) {
        self.log(now, || {
            format!(
                "<- req id={:02x} {:02x}/{:02x} {:02x?}",
                req.msg_id,
                req.netfn(),
                req.cmd,
                req.data
            )
        });
        let (id, netfn_lun, netfn, cmd, data) =
            (req.msg_id, req.netfn_lun, req.netfn(), req.cmd, req.data);
        let rsp_netfn_lun = netfn_lun | 0x04;
        if self.opts.inband_faults && netfn == INBAND_FAULT_NETFN && cmd == INBAND_FAULT_CMD {
            let text = String::from_utf8_lossy(data);
            let cc = match text.parse::<VmFaultSpec>() {
                Ok(spec) => {
                    self.log(now, || format!("in-band fault set: {spec}"));
                    self.opts.faults.set(spec);
                    0x00
                }
                Err(e) => {
                    self.log(now, || format!("in-band fault rejected: {e}"));
                    0xCC
                }
            };
            let mut enc = Encoder::new();
            enc.response(id, rsp_netfn_lun, cmd, cc, &[]);
            self.out.push_back(Out::Msg(enc.take()));
            return;
        }
        let generation = self.opts.faults.generation();
        let spec = self.opts.faults.take_for(netfn, cmd);
        let fault = spec.fault;
        if fault == VmFault::Disconnect {
            self.log(now, || "fault disconnect".to_string());
            self.close = true;
            return;
        }
        let reply = bmc.handle_request(now, netfn_lun, cmd, data);
        // Snoop Set BMC Global Enables (App 2Eh) for the receive-message
        // interrupt bit, as OpenIPMI's ipmi_sim does (`lanserv/bmc_app.c`).
        if let Some(r) = &reply {
            if netfn == 0x06 && cmd == 0x2E && r.cc == 0 {
                if let Some(&en) = data.first() {
                    self.queue_action(now, HostAction::IrqEnable(en & 1 != 0));
                }
            }
        }
        let Some(reply) = reply else {
            self.log(now, || "BMC gave no answer".to_string());
            return;
        };
        let mut enc = Encoder::new();
        let previous = self
            .last_answer
            .replace((rsp_netfn_lun, cmd, reply.cc, reply.data.clone()));
        match fault {
            VmFault::None | VmFault::Disconnect => {
                enc.response(id, rsp_netfn_lun, cmd, reply.cc, &reply.data);
            }
            VmFault::WrongNetFn => {
                self.log(now, || "fault wrong-netfn".to_string());
                enc.response(id, netfn_lun, cmd, reply.cc, &reply.data);
            }
            VmFault::Attn => {
                enc.response(id, rsp_netfn_lun, cmd, reply.cc, &reply.data);
                self.log(now, || {
                    format!("-> rsp id={id:02x} cc={:02x} {:02x?}", reply.cc, reply.data)
                });
                self.out.push_back(Out::Msg(enc.take()));
                self.log(now, || "fault attn".to_string());
                self.queue_action(now, HostAction::SmsAtn(true));
                return;
            }
            VmFault::Stale => {
                // The previous answer under this msg_id, the real one
                // `hold` ms later (default 1 s) like `delay=`.
                let (pn, pc, pcc, pdata) =
                    previous.unwrap_or((rsp_netfn_lun, cmd ^ 0x80, 0, Vec::new()));
                enc.response(id, pn, pc, pcc, &pdata);
                self.out.push_back(Out::Msg(enc.take()));
                let mut real = Encoder::new();
                real.response(id, rsp_netfn_lun, cmd, reply.cc, &reply.data);
                let after = spec.hold.unwrap_or(Duration::from_secs(1));
                if self.delayed.len() < MAX_DELAYED {
                    self.delayed.push((deadline_after(now, after), real.take()));
                }
                self.log(now, || {
                    format!(
                        "fault stale: previous answer {pn:02x}/{pc:02x}, real one in {} ms",
                        after.as_millis()
                    )
                });
                return;
            }
            VmFault::Silent => {
                self.log(now, || "fault silent: no answer".to_string());
                return;
            }
            VmFault::BadChecksum => {
                let head = [id, rsp_netfn_lun, cmd, reply.cc];
                let good = checksum(&head).wrapping_add(checksum(&reply.data));
                enc.message_with_checksum(&[&head, &reply.data], good.wrapping_add(1));
                self.log(now, || "fault bad-checksum".to_string());
                self.out.push_back(Out::Msg(enc.take()));
                return;
            }
            VmFault::WrongCmd => {
                self.log(now, || "fault wrong-cmd".to_string());
                enc.response(id, rsp_netfn_lun, cmd ^ 0x80, reply.cc, &reply.data);
            }
            VmFault::WrongMsgId | VmFault::Stuck => {
                let mut real = Encoder::new();
                real.response(id, rsp_netfn_lun, cmd, reply.cc, &reply.data);
                self.held = Some(Held {
                    msg_id: id,
                    bytes: real.take(),
                    generation,
                    until: spec.hold.map(|d| deadline_after(now, d)),
                });
                if fault == VmFault::WrongMsgId {
                    enc.response(
                        id.wrapping_add(1),
                        rsp_netfn_lun,
                        cmd,
                        reply.cc,
                        &reply.data,
                    );
                } else {
                    enc.response(id ^ 0x80, rsp_netfn_lun, cmd, 0xC0, &[]);
                }
                self.log(now, || {
                    format!("fault {fault}: real answer for id {id:02x} held")
                });
            }
            VmFault::Delay(d) => {
                enc.response(id, rsp_netfn_lun, cmd, reply.cc, &reply.data);
                if self.delayed.len() >= MAX_DELAYED {
                    self.log(now, || {
                        format!("fault delay: {MAX_DELAYED} answers already waiting, id {id:02x} dropped")
                    });
                    return;
                }
                self.log(now, || {
                    format!("fault delay: answer in {} ms", d.as_millis())
                });
                self.delayed.push((deadline_after(now, d), enc.take()));
                return;
            }
            VmFault::Cc(cc) => {
                self.log(now, || format!("fault cc: answering {cc}"));
                enc.response(id, rsp_netfn_lun, cmd, cc.0, &[]);
            }
        }
        self.log(now, || {
            format!("-> rsp id={id:02x} cc={:02x} {:02x?}", reply.cc, reply.data)
        });
        self.out.push_back(Out::Msg(enc.take()));
    }
}

/// The BMC the connection's and the server's tests serve.
#[cfg(test)]
pub(super) mod test_bmc {
    use crate::bmc::{BmcPort, HostAction, Reply};
    use ipmi_vocab::Instant;

    /// A BMC that answers Get Device ID, rejects everything else with 0xC1,
    /// and asks for a hard reset once its deadline passes.
    pub(crate) struct TestBmc {
        pub(crate) reset_at: Option<Instant>,
        pub(crate) actions: Vec<HostAction>,
        pub(crate) seen: Vec<(u8, u8)>,
    }

    impl BmcPort for TestBmc {
        fn handle_request(
            &mut self,
            _now: Instant,
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
        fn advance(&mut self, now: Instant) {
            if self.reset_at.is_some_and(|t| now >= t) {
                self.reset_at = None;
                self.actions.push(HostAction::HardReset);
            }
        }
        fn next_deadline(&self) -> Option<Instant> {
            self.reset_at
        }
        fn drain_actions(&mut self, out: &mut Vec<HostAction>) {
            out.append(&mut self.actions);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::test_bmc::TestBmc;
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// `n` milliseconds after the start, as the connection's clock.
    fn ms(n: u64) -> Instant {
        Instant::from_millis(n)
    }

    fn bmc(reset_at: Option<Instant>) -> TestBmc {
        TestBmc {
            reset_at,
            actions: vec![],
            seen: vec![],
        }
    }

    /// A connection at t = 0 with a 1 ms control gap, in-band faults on,
    /// `faults` in force, logging into the returned list.
    fn conn(faults: &str) -> (Connection, Arc<Mutex<Vec<String>>>) {
        let log = Arc::new(Mutex::new(Vec::<String>::new()));
        let sink = log.clone();
        let opts = ServerOptions {
            control_gap: MS,
            inband_faults: true,
            log: Some(Arc::new(move |l: &str| {
                sink.lock().unwrap().push(l.to_owned())
            })),
            ..Default::default()
        };
        opts.faults.set(faults.parse().unwrap());
        (Connection::new(opts, Instant::ZERO), log)
    }

    /// Everything the connection may transmit at `now`, decoded.
    fn drain(c: &mut Connection, now: Instant) -> Vec<String> {
        let mut d = Decoder::new();
        let mut units = Vec::new();
        while let Some(bytes) = c.poll_transmit(now) {
            for b in bytes {
                match d.push(b) {
                    Some(Unit::Message(m)) => units.push(format!("{:02x?}", m)),
                    Some(u) => units.push(format!("{u:?}")),
                    None => {}
                }
            }
        }
        units
    }

    fn get_device_id(id: u8) -> Vec<u8> {
        let mut e = Encoder::new();
        e.request(id, 0x06 << 2, 0x01, &[]);
        e.take()
    }

    /// The framed answer `id, 1C, 01, cc, data…, checksum` as `drain` shows it.
    fn answer(id: u8, cmd: u8, cc: u8, data: &[u8]) -> String {
        let mut e = Encoder::new();
        e.response(id, 0x07 << 2, cmd, cc, data);
        let mut d = Decoder::new();
        let mut s = String::new();
        for b in e.take() {
            if let Some(Unit::Message(m)) = d.push(b) {
                s = format!("{m:02x?}");
            }
        }
        s
    }

    const DEVICE_ID: [u8; 5] = [0x42, 0x03, 0x01, 0x23, 0x02];

    #[test]
    fn version_first_then_answers_and_irq_snooping_with_control_gaps() {
        let (mut c, _) = conn("none");
        let mut b = bmc(None);
        c.handle_wakeup(Instant::ZERO, &mut b);
        assert_eq!(drain(&mut c, Instant::ZERO), ["Control(Version(1))"]);
        c.handle_bytes(Instant::ZERO, &get_device_id(3), &mut b);
        // The control gap keeps the answer back until 1 ms.
        assert_eq!(drain(&mut c, Instant::ZERO), Vec::<String>::new());
        assert_eq!(c.poll_timeout(&b), Some(ms(1)));
        assert_eq!(drain(&mut c, ms(1)), [answer(3, 0x01, 0, &DEVICE_ID)]);
        // Set Global Enables bit 0 → ENABLE_IRQ; again → nothing; off → DISABLE_IRQ.
        let mut e = Encoder::new();
        e.request(4, 0x06 << 2, 0x2E, &[0x01])
            .request(5, 0x06 << 2, 0x2E, &[0x05])
            .request(6, 0x06 << 2, 0x2E, &[0x04]);
        c.handle_bytes(ms(2), e.bytes(), &mut b);
        // The snooped control is queued before the answer that caused it.
        assert_eq!(drain(&mut c, ms(2)), ["Control(EnableIrq)"]);
        assert_eq!(
            drain(&mut c, ms(3)),
            [
                answer(4, 0x2E, 0, &[]),
                answer(5, 0x2E, 0, &[]),
                "Control(DisableIrq)".to_string()
            ]
        );
        assert_eq!(drain(&mut c, ms(4)), [answer(6, 0x2E, 0, &[])]);
        assert_eq!(
            b.seen,
            [(0x06, 0x01), (0x06, 0x2E), (0x06, 0x2E), (0x06, 0x2E)]
        );
    }

    #[test]
    fn bmc_deadline_is_the_timeout_and_becomes_reset() {
        let (mut c, _) = conn("none");
        let mut b = bmc(Some(ms(30)));
        c.handle_wakeup(Instant::ZERO, &mut b);
        drain(&mut c, Instant::ZERO);
        assert_eq!(c.poll_timeout(&b), Some(ms(30)));
        c.handle_timeout(ms(30), &mut b);
        assert_eq!(drain(&mut c, ms(30)), ["Control(Reset)"]);
        assert_eq!(c.poll_timeout(&b), None, "nothing left to wait for");
    }

    #[test]
    fn a_deadline_that_does_not_move_wakes_at_most_once_a_millisecond() {
        let (mut c, _) = conn("none");
        // A BMC whose deadline stays in the past after advance().
        struct Stuck;
        impl BmcPort for Stuck {
            fn handle_request(
                &mut self,
                _: Instant,
                _: u8,
                _: u8,
                _: &[u8],
            ) -> Option<crate::bmc::Reply> {
                None
            }
            fn advance(&mut self, _: Instant) {}
            fn next_deadline(&self) -> Option<Instant> {
                Some(Instant::ZERO)
            }
            fn drain_actions(&mut self, _: &mut Vec<HostAction>) {}
        }
        let t = ms(5);
        c.handle_timeout(t, &mut Stuck);
        assert_eq!(c.poll_timeout(&Stuck), Some(t + MS));
    }

    #[test]
    fn controls_the_vm_cannot_do_are_dropped_and_attn_irq_falls_back_to_attn() {
        let (mut c, log) = conn("none");
        let mut b = bmc(Some(ms(300)));
        let mut e = Encoder::new();
        e.control(ControlCommand::Version(1))
            .control(ControlCommand::Capabilities(Capabilities(
                Capabilities::IRQ | Capabilities::ATTN,
            )));
        c.handle_bytes(Instant::ZERO, e.bytes(), &mut b);
        c.handle_timeout(ms(300), &mut b);
        assert_eq!(drain(&mut c, ms(300)), ["Control(Version(1))"]);
        assert!(log
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("HardReset dropped: the VM lacks capability 0x02")));
        // ATN only: an SMS_ATN with the interrupt on goes out as plain ATTN.
        let mut e = Encoder::new();
        e.control(ControlCommand::Capabilities(Capabilities(
            Capabilities::ATTN,
        )));
        c.handle_bytes(ms(301), e.bytes(), &mut b);
        c.irq_enabled = true;
        b.actions.push(HostAction::SmsAtn(true));
        c.handle_wakeup(ms(301), &mut b);
        assert_eq!(drain(&mut c, ms(301)), ["Control(Attn)"]);
    }

    #[test]
    fn vm_reset_control_is_a_host_reset() {
        struct Resets(Vec<Instant>);
        impl BmcPort for Resets {
            fn handle_request(
                &mut self,
                _: Instant,
                _: u8,
                _: u8,
                _: &[u8],
            ) -> Option<crate::bmc::Reply> {
                None
            }
            fn advance(&mut self, _: Instant) {}
            fn next_deadline(&self) -> Option<Instant> {
                None
            }
            fn drain_actions(&mut self, _: &mut Vec<HostAction>) {}
            fn host_reset(&mut self, now: Instant) {
                self.0.push(now);
            }
        }
        let (mut c, _) = conn("none");
        let mut b = Resets(vec![]);
        c.handle_bytes(ms(7), &[0x04, 0xA1], &mut b);
        assert_eq!(b.0, [ms(7)]);
    }

    #[test]
    fn delay_answers_at_its_deadline_and_a_flood_stays_bounded() {
        let (mut c, log) = conn("delay=50");
        let mut b = bmc(None);
        c.handle_bytes(Instant::ZERO, &get_device_id(1), &mut b);
        assert_eq!(drain(&mut c, Instant::ZERO), ["Control(Version(1))"]);
        assert_eq!(c.poll_timeout(&b), Some(ms(50)));
        c.handle_timeout(ms(49), &mut b);
        assert_eq!(drain(&mut c, ms(49)), Vec::<String>::new());
        c.handle_timeout(ms(50), &mut b);
        assert_eq!(drain(&mut c, ms(50)), [answer(1, 0x01, 0, &DEVICE_ID)]);

        let (mut c, log2) = conn("delay=86400000");
        let mut e = Encoder::new();
        for i in 0..(MAX_DELAYED + 200) {
            e.message(&[&[i as u8, 0x18, 0x01]]);
        }
        c.handle_bytes(Instant::ZERO, e.bytes(), &mut b);
        assert_eq!(c.delayed.len(), MAX_DELAYED);
        let dropped = log2
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains("answers already waiting"))
            .count();
        assert_eq!(dropped, 200);
        assert!(log
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("answer in 50 ms")));
    }

    #[test]
    fn held_answers_go_out_on_none_or_at_hold_and_are_polled_for() {
        let (mut c, _) = conn("wrong-msgid");
        let mut b = bmc(None);
        c.handle_wakeup(Instant::ZERO, &mut b);
        drain(&mut c, Instant::ZERO);
        c.handle_bytes(ms(2), &get_device_id(9), &mut b);
        assert_eq!(drain(&mut c, ms(2)), [answer(10, 0x01, 0, &DEVICE_ID)]);
        // Held: looked at again within HELD_POLL even if nobody wakes it.
        assert_eq!(c.poll_timeout(&b), Some(ms(2) + HELD_POLL));
        c.handle_timeout(ms(2) + HELD_POLL, &mut b);
        assert_eq!(drain(&mut c, ms(2) + HELD_POLL), Vec::<String>::new());
        c.options().faults.set(VmFaultSpec::NONE);
        c.handle_wakeup(ms(200), &mut b);
        assert_eq!(drain(&mut c, ms(200)), [answer(9, 0x01, 0, &DEVICE_ID)]);

        // stuck + hold: a dummy for id ^ 0x80 now, the real one at +100 ms.
        let (mut c, _) = conn("stuck count=1 hold=100");
        c.handle_bytes(Instant::ZERO, &get_device_id(2), &mut b);
        assert_eq!(
            drain(&mut c, Instant::ZERO),
            ["Control(Version(1))".to_string()]
        );
        assert_eq!(drain(&mut c, ms(1)), [answer(0x82, 0x01, 0xC0, &[])]);
        assert_eq!(c.poll_timeout(&b), Some(ms(100)));
        c.handle_timeout(ms(100), &mut b);
        assert_eq!(drain(&mut c, ms(100)), [answer(2, 0x01, 0, &DEVICE_ID)]);
    }

    #[test]
    fn faults_shape_answers_and_in_band_commands_set_them() {
        let (mut c, _) = conn("none");
        let mut b = bmc(None);
        c.handle_wakeup(Instant::ZERO, &mut b);
        drain(&mut c, Instant::ZERO);
        let mut t = ms(10);
        let mut ask = |c: &mut Connection, bytes: &[u8]| {
            t += 10 * MS;
            c.handle_bytes(t, bytes, &mut b);
            drain(c, t)
        };
        let inband = |text: &[u8]| {
            let mut e = Encoder::new();
            e.request(0x40, INBAND_FAULT_NETFN << 2, INBAND_FAULT_CMD, text);
            e.take()
        };
        let inband_answer = |cc| {
            let mut e = Encoder::new();
            e.response(
                0x40,
                (INBAND_FAULT_NETFN << 2) | 4,
                INBAND_FAULT_CMD,
                cc,
                &[],
            );
            let mut d = Decoder::new();
            e.take().into_iter().find_map(|x| match d.push(x) {
                Some(Unit::Message(m)) => Some(format!("{m:02x?}")),
                _ => None,
            })
        };
        let ok = |_| inband_answer(0).unwrap_or_default();
        assert_eq!(ask(&mut c, &inband(b"wrong-cmd count=1")), [ok(0x40)]);
        assert_eq!(
            ask(&mut c, &get_device_id(1)),
            [answer(1, 0x81, 0, &DEVICE_ID)]
        );
        assert_eq!(
            ask(&mut c, &get_device_id(2)),
            [answer(2, 0x01, 0, &DEVICE_ID)]
        );
        ask(&mut c, &inband(b"cc=d5"));
        assert_eq!(ask(&mut c, &get_device_id(3)), [answer(3, 0x01, 0xD5, &[])]);
        ask(&mut c, &inband(b"silent"));
        assert_eq!(ask(&mut c, &get_device_id(4)), Vec::<String>::new());
        // The in-band command itself is never faulted; bogus text is 0xCC.
        assert_eq!(
            ask(&mut c, &inband(b"bogus")),
            [inband_answer(0xCC).unwrap_or_default()]
        );
        assert_eq!(c.options().faults.get(), "silent".parse().unwrap());
        ask(&mut c, &inband(b"bad-checksum"));
        let mut d = Decoder::new();
        c.handle_bytes(t, &get_device_id(5), &mut b);
        let bytes = c.poll_transmit(t).unwrap();
        assert!(matches!(
            bytes
                .iter()
                .find_map(|&x| d.push(x).map(|u| matches!(u, Unit::Discarded(_)))),
            Some(true)
        ));
        // BMC-level silence.
        c.options().faults.set(VmFaultSpec::NONE);
        let mut e = Encoder::new();
        e.request(6, 0x06 << 2, 0x99, &[]);
        c.handle_bytes(t, e.bytes(), &mut b);
        assert_eq!(drain(&mut c, t), Vec::<String>::new());
    }

    #[test]
    fn disconnect_drops_the_rest_of_the_read_and_closes_after_the_queue() {
        let (mut c, log) = conn("disconnect count=1");
        let mut b = bmc(None);
        let mut bytes = get_device_id(1);
        bytes.extend(get_device_id(2));
        c.handle_bytes(Instant::ZERO, &bytes, &mut b);
        assert!(c.close_requested());
        assert!(!c.is_closed(), "VERSION still to go");
        assert!(b.seen.is_empty(), "the BMC saw neither request");
        assert_eq!(drain(&mut c, Instant::ZERO), ["Control(Version(1))"]);
        assert!(c.is_closed());
        c.handle_bytes(ms(1), &get_device_id(3), &mut b);
        assert!(b.seen.is_empty(), "input after the fault is ignored");
        assert!(log
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.ends_with("fault disconnect")));
    }

    #[test]
    fn malformed_input_is_logged_and_answered_with_nothing() {
        let (mut c, log) = conn("none");
        let mut b = bmc(None);
        c.handle_wakeup(Instant::ZERO, &mut b);
        drain(&mut c, Instant::ZERO);
        let mut e = Encoder::new();
        e.message(&[&[1, 0x18]]); // too short for a request
        let mut input = e.take();
        input.extend([0x01, 0x02, 0xA0]); // bad checksum
        input.extend([0xAA, 0xAA, 0xA0]); // stray escape
        input.extend(vec![0x11; 400]); // oversize, then a frame end
        input.push(0xA0);
        c.handle_bytes(ms(1), &input, &mut b);
        assert_eq!(drain(&mut c, ms(1)), Vec::<String>::new());
        assert!(b.seen.is_empty());
        let log = log.lock().unwrap();
        assert!(log.iter().any(|l| l.contains("bad request")), "{log:?}");
        assert!(
            log.iter().filter(|l| l.contains("discarded unit")).count() >= 3,
            "{log:?}"
        );
    }

    #[test]
    fn log_lines_carry_the_time_given() {
        let (mut c, log) = conn("none");
        let mut b = bmc(None);
        c.handle_bytes(ms(12_345), &get_device_id(1), &mut b);
        assert!(log
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.starts_with("[   12.345] <- req id=01 06/01")));
    }
}
