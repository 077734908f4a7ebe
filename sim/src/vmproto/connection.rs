//! BMC side of one VM-protocol connection, sans-IO (quinn-proto style): the
//! protocol logic of serving a [`BmcPort`] to QEMU's `ipmi-bmc-extern` (or to
//! a [`client`](super::client)), fed bytes and time, never touching a clock,
//! socket or task. [`server`](super::server) (feature `server`) is the tokio
//! pump around it.
//!
//! Calling protocol, with `now` the [`PortTime`] of the carrier's clock (the
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
use crate::bmc::{BmcPort, HostAction, PortTime};

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
pub const MAX_DELAYED: usize = 1024;

/// While an answer is held, the connection looks at the fault setting at
/// least this often (through [`Connection::poll_timeout`]), so a change
/// nobody announced still releases it.
pub const HELD_POLL: Duration = Duration::from_millis(100);

/// Least time between two timer wake-ups: a BMC whose deadline does not move
/// after `advance()` must not make the carrier spin.
const MIN_WAKE_GAP: Duration = Duration::from_millis(1);

/// `now + d`, or a day from now if that cannot be represented.
fn deadline_after(now: PortTime, d: Duration) -> PortTime {
    now.checked_add(d)
        .or_else(|| now.checked_add(Duration::from_secs(86_400)))
        .unwrap_or(now)
}

/// Sends `msg` to `sink` stamped with `now` (`[secs.ms] msg`).
pub(super) fn log_line(sink: Option<&VmLogFn>, now: PortTime, msg: impl FnOnce() -> String) {
    if let Some(sink) = sink {
        sink(&format!(
            "[{:>5}.{:03}] {}",
            now.as_secs(),
            now.subsec_millis(),
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
    until: Option<PortTime>,
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
    delayed: Vec<(PortTime, Vec<u8>)>,
    out: VecDeque<Out>,
    /// A `disconnect` fault hit: send what is queued, then close.
    close: bool,
    /// Nothing is transmitted before this (the gap after a control unit).
    quiet_until: PortTime,
    /// The next timer wake-up is not before this.
    min_wake: PortTime,
    /// The latest time the connection was given.
    now: PortTime,
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
    pub fn new(opts: ServerOptions, now: PortTime) -> Self {
        Self {
            opts,
            dec: Decoder::new(),
            enc: Encoder::new(),
            caps: None,
            irq_enabled: false,
            atn: false,
            held: None,
            delayed: Vec::new(),
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

    fn log(&self, now: PortTime, msg: impl FnOnce() -> String) {
        log_line(self.opts.log.as_ref(), now, msg);
    }

    /// Bytes received from the peer at `now`; requests in them go to `bmc`.
    /// Ignored once a `disconnect` fault hit (the rest of the read, too).
    pub fn handle_bytes<B: BmcPort + ?Sized>(&mut self, now: PortTime, bytes: &[u8], bmc: &mut B) {
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
    pub fn handle_timeout<B: BmcPort + ?Sized>(&mut self, now: PortTime, bmc: &mut B) {
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
    pub fn handle_wakeup<B: BmcPort + ?Sized>(&mut self, now: PortTime, bmc: &mut B) {
        self.now = now;
        if self.close {
            return;
        }
        self.settle(now, bmc);
    }

    /// The next unit to write at `now`, if one may go out now. Write each
    /// one whole and flush it before asking for the next.
    pub fn poll_transmit(&mut self, now: PortTime) -> Option<Vec<u8>> {
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
    pub fn poll_timeout<B: BmcPort + ?Sized>(&self, bmc: &B) -> Option<PortTime> {
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
    fn settle<B: BmcPort + ?Sized>(&mut self, now: PortTime, bmc: &mut B) {
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

    fn queue_action(&mut self, now: PortTime, a: HostAction) {
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
        now: PortTime,
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
    fn on_request<B: BmcPort + ?Sized>(&mut self, now: PortTime, req: &VmRequest<'_>, bmc: &mut B) {
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
        match fault {
            VmFault::None | VmFault::Disconnect => {
                enc.response(id, rsp_netfn_lun, cmd, reply.cc, &reply.data);
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
    use crate::bmc::{BmcPort, HostAction, PortTime, Reply};

    /// A BMC that answers Get Device ID, rejects everything else with 0xC1,
    /// and asks for a hard reset once its deadline passes.
    pub(crate) struct TestBmc {
        pub(crate) reset_at: Option<PortTime>,
        pub(crate) actions: Vec<HostAction>,
        pub(crate) seen: Vec<(u8, u8)>,
    }

    impl BmcPort for TestBmc {
        fn handle_request(
            &mut self,
            _now: PortTime,
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
        fn advance(&mut self, now: PortTime) {
            if self.reset_at.is_some_and(|t| now >= t) {
                self.reset_at = None;
                self.actions.push(HostAction::HardReset);
            }
        }
        fn next_deadline(&self) -> Option<PortTime> {
            self.reset_at
        }
        fn drain_actions(&mut self, out: &mut Vec<HostAction>) {
            out.append(&mut self.actions);
        }
    }
}
