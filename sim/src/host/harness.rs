//! A test harness for the host model, after quinn-proto's `Pair`: the SI
//! layer and a BT state machine against a small fake register device, on
//! virtual time, with a recording observer. Test-only.
//!
//! The fake device answers every request after a fixed latency with
//! completion code 0 (and the data the probe needs), or never (`silent`).
//! It is deliberately not the simulated BMC of [`crate::bmc`]: the host
//! layer does not depend on the BMC core.

use super::hostsm::HostSm;
use ipmi_bt_sm::regs::{Ctrl, IntMask};
use ipmi_bt_sm::{BtSm, Io, KernelProfile, Level, LogRecord, LogSink, State};

use super::events::{HostEvents, SiPhase};
use super::si::{Bus, Delivered, HostLimits, ProbeOutcome, SiDriver, SiEnv, SiProfile, SimDevice};
use core::time::Duration;
use ipmi_vocab::Instant;

/// A BT register device that answers every request after `latency`.
#[derive(Debug, Clone)]
pub(crate) struct FakeBt {
    ctrl: Ctrl,
    intmask: IntMask,
    req: Vec<u8>,
    rsp: Vec<u8>,
    rd: usize,
    /// When the response to the request taken is posted.
    ready_at: Option<Instant>,
    now: Instant,
    /// Request → B2H_ATN.
    pub(crate) latency: Duration,
    /// Never answer.
    pub(crate) silent: bool,
    /// Requests taken, `[NetFn/LUN, seq, cmd, data…]` as written.
    pub(crate) requests: Vec<Vec<u8>>,
}

impl FakeBt {
    pub(crate) fn new(latency: Duration) -> Self {
        Self {
            ctrl: Ctrl::empty(),
            intmask: IntMask::empty(),
            req: Vec::new(),
            rsp: Vec::new(),
            rd: 0,
            ready_at: None,
            now: Instant::ZERO,
            latency,
            silent: false,
            requests: Vec::new(),
        }
    }

    /// Response data for a request (after the completion code).
    fn answer(netfn: u8, cmd: u8) -> Vec<u8> {
        match (netfn, cmd) {
            // Get Device ID: the 11 mandatory bytes.
            (0x06, 0x01) => vec![
                0x20, 0x01, 0x01, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            ],
            // Get BMC Global Enables: event buffer on.
            (0x06, 0x2F) => vec![0x04],
            // Get Message Flags: nothing pending.
            (0x06, 0x31) => vec![0x00],
            // Get BT Interface Capabilities: 1 outstanding, 64-byte buffers, 5 s, 1 retry.
            (0x06, 0x36) => vec![0x01, 0x40, 0x40, 0x05, 0x01],
            _ => Vec::new(),
        }
    }

    fn take_request(&mut self) {
        self.ctrl.remove(Ctrl::H2B_ATN);
        // [len, NetFn/LUN, seq, cmd, data…]
        let r = self.req.get(1..).unwrap_or_default().to_vec();
        self.requests.push(r);
        if !self.silent {
            self.ready_at = Some(self.now + self.latency);
        }
    }

    fn post(&mut self) {
        let r = self.requests.last().cloned().unwrap_or_default();
        let (nf, seq, cmd) = (
            r.first().copied().unwrap_or(0),
            r.get(1).copied().unwrap_or(0),
            r.get(2).copied().unwrap_or(0),
        );
        let data = Self::answer(nf >> 2, cmd);
        let mut rsp = vec![0, ((nf >> 2) | 1) << 2 | (nf & 3), seq, cmd, 0];
        rsp.extend_from_slice(&data);
        rsp[0] = (rsp.len() - 1) as u8;
        self.rsp = rsp;
        self.rd = 0;
        self.ctrl.insert(Ctrl::B2H_ATN);
        if self.intmask.contains(IntMask::B2H_IRQ_EN) {
            self.intmask.insert(IntMask::B2H_IRQ);
        }
    }
}

impl Io for FakeBt {
    fn read_ctrl(&mut self) -> u8 {
        self.ctrl.bits()
    }
    fn write_ctrl(&mut self, val: u8) {
        let v = Ctrl::from_bits_retain(val);
        if v.contains(Ctrl::CLR_WR_PTR) {
            self.req.clear();
        }
        if v.contains(Ctrl::CLR_RD_PTR) {
            self.rd = 0;
        }
        if v.contains(Ctrl::B2H_ATN) {
            self.ctrl.remove(Ctrl::B2H_ATN);
        }
        if v.contains(Ctrl::SMS_ATN) {
            self.ctrl.remove(Ctrl::SMS_ATN);
        }
        if v.contains(Ctrl::H_BUSY) {
            self.ctrl.toggle(Ctrl::H_BUSY);
        }
        if v.contains(Ctrl::H2B_ATN) {
            self.take_request();
        }
    }
    fn read_buf(&mut self) -> u8 {
        let v = self.rsp.get(self.rd).copied().unwrap_or(0);
        self.rd += 1;
        v
    }
    fn write_buf(&mut self, val: u8) {
        self.req.push(val);
    }
    fn read_intmask(&mut self) -> u8 {
        self.intmask.bits()
    }
    fn write_intmask(&mut self, val: u8) {
        let v = IntMask::from_bits_retain(val);
        if v.contains(IntMask::B2H_IRQ) {
            self.intmask.remove(IntMask::B2H_IRQ);
        }
        self.intmask
            .set(IntMask::B2H_IRQ_EN, v.contains(IntMask::B2H_IRQ_EN));
    }
}

impl SimDevice for FakeBt {
    fn advance(&mut self, now: Instant) {
        self.now = self.now.max(now);
        if let Some(t) = self.ready_at {
            if t <= self.now && !self.ctrl.intersects(Ctrl::H_BUSY | Ctrl::B2H_ATN) {
                self.ready_at = None;
                self.post();
            }
        }
    }
    fn next_deadline(&self) -> Option<Instant> {
        // A response held back by H_BUSY or B2H_ATN waits for the host.
        if self.ctrl.intersects(Ctrl::H_BUSY | Ctrl::B2H_ATN) {
            return None;
        }
        self.ready_at.map(|t| t.max(self.now))
    }
    fn irq_line(&self) -> bool {
        self.intmask
            .contains(IntMask::B2H_IRQ_EN | IntMask::B2H_IRQ)
    }
}

/// What the observer heard, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Heard {
    Log(String),
    Line(Level, String),
    State(Instant, State, State),
    Phase(Instant, SiPhase),
    Irq(Instant),
    Submitted(u32),
    Completed(usize),
    Dropped(u32),
}

/// A [`HostEvents`] observer that keeps everything.
#[derive(Debug, Default)]
pub(crate) struct Recording {
    pub(crate) heard: Vec<Heard>,
}

impl Recording {
    pub(crate) fn phases(&self) -> Vec<SiPhase> {
        self.heard
            .iter()
            .filter_map(|h| match h {
                Heard::Phase(_, p) => Some(*p),
                _ => None,
            })
            .collect()
    }
    pub(crate) fn irqs(&self) -> usize {
        self.heard
            .iter()
            .filter(|h| matches!(h, Heard::Irq(_)))
            .count()
    }
}

impl LogSink for Recording {
    fn log(&mut self, rec: &LogRecord) {
        self.heard.push(Heard::Log(rec.to_string()));
    }
}

impl HostEvents for Recording {
    fn set_now(&mut self, _t: Instant) {}
    fn line(&mut self, level: Level, _dev: bool, text: &str) {
        self.heard.push(Heard::Line(level, text.to_owned()));
    }
    fn state(&mut self, t: Instant, from: State, to: State) {
        self.heard.push(Heard::State(t, from, to));
    }
    fn phase(&mut self, t: Instant, phase: SiPhase) {
        self.heard.push(Heard::Phase(t, phase));
    }
    fn irq(&mut self, t: Instant) {
        self.heard.push(Heard::Irq(t));
    }
    fn submitted(&mut self, _t: Instant, id: u32) {
        self.heard.push(Heard::Submitted(id));
    }
    fn completed(&mut self, _t: Instant, index: usize) {
        self.heard.push(Heard::Completed(index));
    }
    fn dropped(&mut self, _t: Instant, id: u32) {
        self.heard.push(Heard::Dropped(id));
    }
}

/// The SI layer, a state machine and a [`FakeBt`] on one virtual clock.
pub(crate) struct Pair {
    pub(crate) sm: HostSm,
    pub(crate) bus: Bus<FakeBt>,
    pub(crate) si: SiDriver,
    pub(crate) obs: Recording,
    pub(crate) stop: Instant,
    next_id: u32,
    /// Times at which the SI timer fired.
    pub(crate) timer_fires: Vec<Instant>,
    /// Everything delivered so far.
    pub(crate) delivered: Vec<Delivered>,
}

macro_rules! env {
    ($p:ident) => {
        SiEnv {
            sm: &mut $p.sm,
            bus: &mut $p.bus,
            obs: &mut $p.obs,
            stop: $p.stop,
            limits: HostLimits::NONE,
        }
    };
}

impl Pair {
    /// `bt` and `si` profiles, HZ = 250, interrupt or polling, no fast-forward
    /// (every poll is a real one), a device answering after 10 ms.
    pub(crate) fn new(bt: KernelProfile, si: SiProfile, irq: bool) -> Self {
        Self {
            sm: HostSm::Rust(BtSm::new(bt)),
            bus: Bus::new(FakeBt::new(Duration::from_millis(10)), false),
            si: SiDriver::new(si, 250, irq, false),
            obs: Recording::default(),
            stop: Instant::from_secs(3600),
            next_id: 1,
            timer_fires: Vec::new(),
            delivered: Vec::new(),
        }
    }

    pub(crate) fn now(&self) -> Instant {
        self.bus.now()
    }

    fn collect(&mut self) {
        self.delivered.extend(self.si.take_delivered());
    }

    /// Probe, then (if registered) start processing, as `try_smi_init` does.
    pub(crate) fn probe_and_start(&mut self, get_device_id: bool) -> ProbeOutcome {
        let out = self
            .si
            .probe(&mut env!(self), get_device_id, &mut self.next_id);
        if out == ProbeOutcome::Registered {
            self.si.start_processing(&mut env!(self));
        }
        self.collect();
        out
    }

    /// Hand `data` to the SI layer now; returns its id.
    pub(crate) fn send(&mut self, data: &[u8]) -> u32 {
        let id = self.next_id;
        self.next_id += 1;
        let now = self.now();
        let msg = super::si::SiMsg {
            id,
            origin: super::si::Origin::Handler,
            data: crate::host::bytes::MsgBytes::from_slice(data),
            submitted: now,
            started: None,
        };
        assert!(self.si.sender(&mut env!(self), msg).is_ok());
        self.collect();
        id
    }

    /// Run the timer, the device and the interrupt until `until`.
    pub(crate) fn run_until(&mut self, until: Instant) {
        loop {
            let next = [self.si.timer_deadline(), self.bus.dev.next_deadline()]
                .into_iter()
                .flatten()
                .min();
            let Some(t) = next.filter(|&t| t <= until) else {
                break;
            };
            self.si.catch_up_before(&mut env!(self), t);
            self.bus.advance(t);
            if self.si.timer_deadline().is_some_and(|d| d <= t) {
                self.timer_fires.push(t);
                self.si.timer_expired(&mut env!(self));
            }
            self.si.poll_irq(&mut env!(self));
            self.collect();
        }
        self.bus.advance(until);
        self.si.poll_irq(&mut env!(self));
        self.collect();
    }

    /// `shutdown_smi`.
    pub(crate) fn unload(&mut self) -> bool {
        let done = self.si.shutdown(&mut env!(self));
        self.collect();
        done
    }
}
