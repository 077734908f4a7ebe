//! A tiny hand-written fake BMC and an SI-style driver loop for the integration
//! tests of this crate (the full simulated BMC lives in `bmc-sim`).
#![allow(dead_code)]

use ipmi_bt_sm::{BtSm, Io, LineAssembler, LogLine, LogSink, PrintkEra, SmResult};

/// Builds a response frame body for a request frame: `None` = stay silent.
pub type Responder = Box<dyn FnMut(&[u8], i64) -> Vec<(i64, Vec<u8>)>>;

/// Register-level fake BMC running in virtual time (`now`, µs).
pub struct FakeBmc {
    /// Virtual time, advanced by the driver.
    pub now: i64,
    /// Bits always ORed into CTRL reads (0x80 stuck B_BUSY, 0x01 readback, …).
    pub ctrl_or: u8,
    /// If set, CTRL reads return exactly this (dead BMC / floating bus).
    pub ctrl_fixed: Option<u8>,
    /// Ignore host writes of B2H_ATN (B2H stays asserted).
    pub b2h_sticky: bool,
    /// µs until the BMC clears H2B_ATN after the host sets it.
    pub h2b_delay: i64,
    pub h_busy: bool,
    pub h2b: bool,
    pub b2h: bool,
    pub sms: bool,
    h2b_clear_at: i64,
    req: Vec<u8>,
    rsp: Vec<u8>,
    rd: usize,
    queue: Vec<(i64, Vec<u8>)>,
    /// Every request frame the host submitted, with its time.
    pub requests: Vec<(i64, Vec<u8>)>,
    pub responder: Responder,
}

/// Standard answer: echo NetFn|4, seq, cmd, cc 0, plus `data`, after `delay` µs.
pub fn answer(req: &[u8], delay: i64, data: &[u8]) -> Vec<(i64, Vec<u8>)> {
    if req.len() < 4 {
        return vec![];
    }
    let mut f = vec![0u8, req[1] | 4, req[2], req[3], 0x00];
    f.extend_from_slice(data);
    f[0] = (f.len() - 1) as u8;
    vec![(delay, f)]
}

/// Answers Get BT Capabilities with the given req2rsp/retries, everything else with `0x00 0x20`.
pub fn normal_responder(delay: i64, req2rsp_s: u8, retries: u8) -> Responder {
    Box::new(move |req, _now| {
        if req.get(3) == Some(&0x36) {
            answer(req, delay, &[1, 0x40, 0x40, req2rsp_s, retries])
        } else {
            answer(req, delay, &[0x20])
        }
    })
}

impl FakeBmc {
    pub fn new(responder: Responder) -> Self {
        FakeBmc {
            now: 0,
            ctrl_or: 0,
            ctrl_fixed: None,
            b2h_sticky: false,
            h2b_delay: 0,
            h_busy: false,
            h2b: false,
            b2h: false,
            sms: false,
            h2b_clear_at: 0,
            req: Vec::new(),
            rsp: Vec::new(),
            rd: 0,
            queue: Vec::new(),
            requests: Vec::new(),
            responder,
        }
    }

    /// A BMC that never answers and whose CTRL always reads `ctrl`.
    pub fn dead(ctrl: u8) -> Self {
        let mut b = FakeBmc::new(Box::new(|_, _| vec![]));
        b.ctrl_fixed = Some(ctrl);
        b
    }

    fn update(&mut self) {
        if self.h2b && self.now >= self.h2b_clear_at {
            self.h2b = false;
        }
        if !self.b2h {
            if let Some(i) = self.queue.iter().position(|(t, _)| *t <= self.now) {
                let (_, f) = self.queue.remove(i);
                self.rsp = f;
                self.b2h = true;
            }
        }
    }
}

impl Io for FakeBmc {
    fn read_ctrl(&mut self) -> u8 {
        self.update();
        if let Some(v) = self.ctrl_fixed {
            return v;
        }
        let mut v = self.ctrl_or;
        if self.h2b {
            v |= 0x04;
        }
        if self.b2h {
            v |= 0x08;
        }
        if self.sms {
            v |= 0x10;
        }
        if self.h_busy {
            v |= 0x40;
        }
        v
    }
    fn write_ctrl(&mut self, v: u8) {
        if self.ctrl_fixed.is_some() {
            return;
        }
        if v & 0x01 != 0 {
            self.req.clear();
        }
        if v & 0x02 != 0 {
            self.rd = 0;
        }
        if v & 0x08 != 0 && !self.b2h_sticky {
            self.b2h = false;
        }
        if v & 0x10 != 0 {
            self.sms = false;
        }
        if v & 0x40 != 0 {
            self.h_busy = !self.h_busy;
        }
        if v & 0x04 != 0 {
            self.h2b = true;
            self.h2b_clear_at = self.now + self.h2b_delay;
            let req = self.req.clone();
            self.requests.push((self.now, req.clone()));
            let now = self.now;
            for (d, f) in (self.responder)(&req, now) {
                self.queue.push((now + d, f));
            }
            self.update();
        }
    }
    fn read_buf(&mut self) -> u8 {
        if self.ctrl_fixed.is_some() {
            return 0;
        }
        let b = self.rsp.get(self.rd).copied().unwrap_or(0);
        self.rd += 1;
        b
    }
    fn write_buf(&mut self, v: u8) {
        self.req.push(v);
    }
    fn read_intmask(&mut self) -> u8 {
        self.ctrl_fixed.unwrap_or(0)
    }
    fn write_intmask(&mut self, _v: u8) {}
}

/// Log sink that stamps each completed line with the BMC's virtual time.
pub struct TimedLog {
    pub asm: LineAssembler,
    pub lines: Vec<(i64, LogLine)>,
}

impl TimedLog {
    pub fn new(era: PrintkEra) -> Self {
        TimedLog {
            asm: LineAssembler::new(era),
            lines: Vec::new(),
        }
    }
    pub fn stamp(&mut self, now: i64) {
        for l in self.asm.take_lines() {
            self.lines.push((now, l));
        }
    }
    pub fn texts(&self) -> Vec<String> {
        self.lines.iter().map(|(_, l)| l.text.clone()).collect()
    }
}

impl LogSink for TimedLog {
    fn log(&mut self, rec: &ipmi_bt_sm::LogRecord) {
        self.asm.log(rec)
    }
}

/// Drive like the SI timer: `CallWithoutDelay` → event(0) at once; anything else →
/// advance `tick` µs and call event(tick). Returns the time of the first
/// `TransactionComplete`, or None after `max_us` of virtual time.
pub fn run_until_complete(
    sm: &mut BtSm,
    bmc: &mut FakeBmc,
    log: &mut TimedLog,
    tick: i64,
    max_us: i64,
) -> Option<i64> {
    let start = bmc.now;
    let mut r = sm.event(bmc, log, 0);
    log.stamp(bmc.now);
    let mut guard = 0u64;
    loop {
        if r == SmResult::TransactionComplete {
            return Some(bmc.now);
        }
        if bmc.now - start > max_us {
            return None;
        }
        let t = if r == SmResult::CallWithoutDelay {
            guard += 1;
            assert!(guard < 10_000_000, "CallWithoutDelay livelock");
            0
        } else {
            bmc.now += tick;
            tick
        };
        r = sm.event(bmc, log, t);
        log.stamp(bmc.now);
    }
}

/// One complete transaction; returns (completion time, result bytes).
pub fn transact(
    sm: &mut BtSm,
    bmc: &mut FakeBmc,
    log: &mut TimedLog,
    req: &[u8],
    tick: i64,
    max_us: i64,
) -> Option<(i64, Vec<u8>)> {
    sm.start_transaction(log, req).ok()?;
    let t = run_until_complete(sm, bmc, log, tick, max_us)?;
    let mut out = [0u8; 300];
    let n = sm.get_result(&mut out);
    Some((t, out[..n].to_vec()))
}

/// Kernel-style detect with the synchronous loop crediting `tick` per delay.
pub fn detect(
    sm: &mut BtSm,
    bmc: &mut FakeBmc,
    log: &mut TimedLog,
    tick: i64,
    max_us: i64,
) -> bool {
    sm.detect(bmc, log).expect("present");
    let mut r = SmResult::CallWithoutDelay;
    let start = bmc.now;
    while sm.detect_in_progress() {
        let t = match r {
            SmResult::CallWithDelay | SmResult::CallWithTickDelay => tick,
            SmResult::CallWithoutDelay => 0,
            _ => break,
        };
        if bmc.now - start > max_us {
            return false;
        }
        bmc.now += t;
        r = sm.event(bmc, log, t);
        log.stamp(bmc.now);
    }
    sm.finish_detect(log);
    log.stamp(bmc.now);
    true
}
