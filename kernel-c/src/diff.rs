//! The lockstep differential: the C file and a `bt-sm` profile driven through
//! the same random register-level schedule, compared at every step — every
//! register access (offset, direction, value), every `event()` return, the
//! `start_transaction` verdict, the `get_result` bytes and the log text.
//! Any divergence is shrunk by proptest to a minimal schedule.
//!
//! # What a schedule may contain
//!
//! Only what the kernel's SI layer (`ipmi_si_intf.c`) can do to a state
//! machine: `event()` with time 0 (a re-call after `SI_SM_CALL_WITHOUT_DELAY`,
//! or the interrupt path `si_irq_handler` → `smi_event_handler(smi_info, 0)`),
//! or with a whole number of jiffies in µs as `smi_timeout` computes it
//! (`(jiffies_now - last_timeout_jiffies) * SI_USEC_PER_JIFFY`, i.e. a multiple
//! of `1000000 / HZ` for HZ = 100, 250, 300 or 1000); `detect` once, first,
//! with its one-jiffy sleeps; `start_transaction` and `get_result` (into the
//! 8-byte caps buffer or a full `IPMI_MAX_MSG_LENGTH` one) at any point. The
//! BMC behind the registers is a small reactive device whose CTRL and INTMASK
//! reads are scripted per step and whose buffer answers the last request (or
//! a wrong sequence number, a bad length, garbage). `bt_debug` is 0–3: bit 4
//! (state changes) prints through a `static` shared by every instance in C,
//! so it cannot be compared case by case.

use std::fmt;

use ipmi_bt_sm::{
    BtSm, HostStateMachine, Io, KernelProfile, Level, LogRecord, LogSink, SmResult,
    IPMI_MAX_MSG_LENGTH,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};

/// How the device answers a buffer read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rsp {
    /// A well-formed response to the last request (cc 0, `extra` data bytes).
    Echo {
        /// Data bytes after the completion code.
        extra: u8,
    },
    /// The same with the sequence number off by one.
    WrongSeq,
    /// A length byte of `len`, then bytes counting up.
    Len {
        /// The length byte.
        len: u8,
    },
}

/// One thing the SI layer does to the state machine.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Step {
    /// `start_transaction` with [NetFn/LUN, cmd, `len - 2` payload bytes].
    Start {
        /// NetFn/LUN byte.
        netfn: u8,
        /// Command.
        cmd: u8,
        /// Total length passed (0, 1 and 273 are refused by the kernel).
        len: u16,
    },
    /// `event()`, `jiffies` jiffies after the last (0: a re-call or the IRQ path).
    Event {
        /// Whole jiffies of elapsed time.
        jiffies: u32,
        /// CTRL value of the first read in this call.
        ctrl: u8,
        /// CTRL value of later reads in this call.
        ctrl2: u8,
        /// What the buffer answers.
        rsp: Rsp,
    },
    /// `get_result` into a buffer of `buflen` bytes.
    Result {
        /// 8 (detect's caps buffer) or 272.
        buflen: u16,
    },
}

/// One random schedule.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Case {
    /// Kernel HZ (jiffy length).
    pub hz: u32,
    /// `bt_debug` (0–3).
    pub debug: u8,
    /// Run `detect` first, with CTRL/INTMASK reading these and the buffer answering so.
    pub detect: Option<(u8, u8, Rsp)>,
    /// The steps after it.
    pub steps: Vec<Step>,
}

impl Case {
    /// µs per jiffy as `SI_USEC_PER_JIFFY` / `jiffies_to_usecs(1)` give it.
    pub fn jiffy_us(&self) -> i64 {
        i64::from(1_000_000 / self.hz.max(1))
    }
}

/// A register access as seen on the bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Access {
    write: bool,
    offset: u8,
    value: u8,
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reg = ["CTRL", "BUF", "INTMASK"]
            .get(usize::from(self.offset))
            .copied()
            .unwrap_or("?");
        if self.write {
            write!(f, "{reg}<-{:02x}", self.value)
        } else {
            write!(f, "{reg}->{:02x}", self.value)
        }
    }
}

/// The scripted BMC: CTRL/INTMASK reads from the step's script, the buffer
/// answering the request last written.
#[derive(Debug, Clone, Default)]
struct Device {
    req: Vec<u8>,
    rsp: Vec<u8>,
    rd: usize,
    ctrl: [u8; 2],
    ctrl_reads: u32,
    intmask: u8,
    mode: Option<Rsp>,
    log: Vec<Access>,
}

impl Device {
    fn script(&mut self, ctrl: u8, ctrl2: u8, intmask: u8, rsp: Rsp) {
        self.ctrl = [ctrl, ctrl2];
        self.ctrl_reads = 0;
        self.intmask = intmask;
        self.mode = Some(rsp);
    }
    fn build_rsp(&mut self) {
        let g = |i: usize| self.req.get(i).copied().unwrap_or(0);
        self.rsp = match self.mode.unwrap_or(Rsp::Echo { extra: 0 }) {
            Rsp::Echo { extra } => {
                let mut v = vec![4 + extra, g(1) | 4, g(2), g(3), 0];
                v.extend((0..extra).map(|i| i.wrapping_mul(7)));
                v
            }
            Rsp::WrongSeq => vec![4, g(1) | 4, g(2).wrapping_add(1), g(3), 0],
            Rsp::Len { len } => std::iter::once(len)
                .chain((0..=len).map(|i| i.wrapping_add(0x40)))
                .collect(),
        };
        self.rd = 0;
    }
}

impl Io for Device {
    fn read_ctrl(&mut self) -> u8 {
        let v = self.ctrl[usize::from(self.ctrl_reads > 0)];
        self.ctrl_reads += 1;
        self.log.push(Access {
            write: false,
            offset: 0,
            value: v,
        });
        v
    }
    fn write_ctrl(&mut self, v: u8) {
        if v & 0x01 != 0 {
            self.req.clear();
        }
        if v & 0x02 != 0 {
            self.build_rsp();
        }
        self.log.push(Access {
            write: true,
            offset: 0,
            value: v,
        });
    }
    fn read_buf(&mut self) -> u8 {
        let v = self.rsp.get(self.rd).copied().unwrap_or(0);
        self.rd += 1;
        self.log.push(Access {
            write: false,
            offset: 1,
            value: v,
        });
        v
    }
    fn write_buf(&mut self, v: u8) {
        if self.req.len() < 1024 {
            self.req.push(v);
        }
        self.log.push(Access {
            write: true,
            offset: 1,
            value: v,
        });
    }
    fn read_intmask(&mut self) -> u8 {
        let v = self.intmask;
        self.log.push(Access {
            write: false,
            offset: 2,
            value: v,
        });
        v
    }
    fn write_intmask(&mut self, v: u8) {
        self.log.push(Access {
            write: true,
            offset: 2,
            value: v,
        });
    }
}

/// A log record as compared: level (heads only), text, and how it joins lines.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Line {
    level: Option<Level>,
    text: String,
    cont: bool,
    bare: bool,
    ends: bool,
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.level {
            Some(l) => write!(f, "<{}>", l.number())?,
            None => f.write_str("<cont>")?,
        }
        write!(f, "{:?}{}", self.text, if self.ends { "\\n" } else { "" })
    }
}

#[derive(Default)]
struct Lines(Vec<Line>);

impl LogSink for Lines {
    fn log(&mut self, rec: &LogRecord) {
        self.0.push(Line {
            level: (!rec.cont).then_some(rec.level),
            text: rec.to_string(),
            cont: rec.cont,
            bare: rec.bare,
            ends: rec.ends_line(),
        });
    }
}

/// What one step showed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Observed {
    regs: Vec<Access>,
    ret: String,
    log: Vec<Line>,
}

impl fmt::Display for Observed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "returned {}; registers [", self.ret)?;
        for (i, a) in self.regs.iter().enumerate() {
            write!(f, "{}{a}", if i > 0 { " " } else { "" })?;
        }
        f.write_str("]; log [")?;
        for (i, l) in self.log.iter().enumerate() {
            write!(f, "{}{l}", if i > 0 { ", " } else { "" })?;
        }
        f.write_str("]")
    }
}

/// The first step at which the two machines differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Divergence {
    /// Index of the step (the detect step is "detect").
    pub step: String,
    /// What the model did.
    pub model: String,
    /// What the C file did.
    pub c: String,
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "step {}:\n  bt-sm: {}\n  C:     {}",
            self.step, self.model, self.c
        )
    }
}

/// Limit on the one-jiffy sleeps of one detect step; a detect still looping
/// then (both sides, e.g. a stale B2H_ATN that never drops) ends the case.
const DETECT_SLEEPS: u32 = 3_000;

fn run_step(m: &mut dyn HostStateMachine, dev: &mut Device, case: &Case, step: &Step) -> Observed {
    let mut log = Lines::default();
    dev.log.clear();
    let ret = match *step {
        Step::Start { netfn, cmd, len } => {
            let len = usize::from(len);
            let mut data: Vec<u8> = (0..len).map(|i| (i as u8).wrapping_mul(3)).collect();
            if let Some(b) = data.get_mut(0) {
                *b = netfn;
            }
            if let Some(b) = data.get_mut(1) {
                *b = cmd;
            }
            format!(
                "{:?}",
                m.start_transaction(&mut log, &data).map_err(|c| c.0)
            )
        }
        Step::Event {
            jiffies,
            ctrl,
            ctrl2,
            rsp,
        } => {
            dev.script(ctrl, ctrl2, 0, rsp);
            let t = i64::from(jiffies) * case.jiffy_us();
            m.event(dev, &mut log, t).kernel_name().to_string()
        }
        Step::Result { buflen } => {
            let mut buf = vec![0u8; usize::from(buflen)];
            let n = m.get_result(&mut log, &mut buf);
            format!("{:02x?}", buf.get(..n).unwrap_or(&buf))
        }
    };
    Observed {
        regs: core::mem::take(&mut dev.log),
        ret,
        log: log.0,
    }
}

fn run_detect(
    m: &mut dyn HostStateMachine,
    dev: &mut Device,
    case: &Case,
    d: (u8, u8, Rsp),
) -> Observed {
    let mut log = Lines::default();
    dev.log.clear();
    dev.script(d.0, d.0, d.1, d.2);
    let mut ret = format!("{:?}", m.detect(dev, &mut log).map_err(|_| "not present"));
    if m.detect_in_progress() {
        let mut r = SmResult::CallWithoutDelay;
        let mut sleeps = 0;
        loop {
            let t = match r {
                SmResult::CallWithDelay | SmResult::CallWithTickDelay => {
                    if sleeps >= DETECT_SLEEPS {
                        ret = "detect still looping".into();
                        break;
                    }
                    sleeps += 1;
                    case.jiffy_us()
                }
                SmResult::CallWithoutDelay => 0,
                _ => break,
            };
            r = m.event(dev, &mut log, t);
        }
        if ret != "detect still looping" {
            m.finish_detect(&mut log);
        }
    }
    Observed {
        regs: core::mem::take(&mut dev.log),
        ret,
        log: log.0,
    }
}

/// Both observations for people: the register lists from a little before
/// their first difference, at most 40 accesses each.
fn shown(a: &Observed, b: &Observed) -> (String, String) {
    let first = a
        .regs
        .iter()
        .zip(&b.regs)
        .position(|(x, y)| x != y)
        .unwrap_or(a.regs.len().min(b.regs.len()));
    let from = first.saturating_sub(8);
    let cut = |o: &Observed| {
        let mut c = o.clone();
        let end = c.regs.len().min(from + 40);
        c.regs = c
            .regs
            .get(from..end)
            .map(<[Access]>::to_vec)
            .unwrap_or_default();
        let more = o.regs.len().saturating_sub(end);
        let pre = if from > 0 {
            format!("(after {from} equal accesses) ")
        } else {
            String::new()
        };
        let post = if more > 0 {
            format!(" (+{more} more accesses)")
        } else {
            String::new()
        };
        format!("{pre}{c}{post}")
    };
    (cut(a), cut(b))
}

/// Runs `case` on both machines; the first difference, if any.
pub fn compare(
    model: &mut dyn HostStateMachine,
    c: &mut dyn HostStateMachine,
    case: &Case,
) -> Option<Divergence> {
    model.set_debug(case.debug);
    c.set_debug(case.debug);
    model.set_hz(case.hz);
    c.set_hz(case.hz);
    let (mut d1, mut d2) = (Device::default(), Device::default());
    if let Some(d) = case.detect {
        let (a, b) = (
            run_detect(model, &mut d1, case, d),
            run_detect(c, &mut d2, case, d),
        );
        if a != b {
            let (ma, mb) = shown(&a, &b);
            return Some(Divergence {
                step: "detect".into(),
                model: ma,
                c: mb,
            });
        }
        if a.ret == "detect still looping" {
            return None;
        }
    }
    for (i, s) in case.steps.iter().enumerate() {
        let (a, b) = (
            run_step(model, &mut d1, case, s),
            run_step(c, &mut d2, case, s),
        );
        let (sa, sb) = (model.state(), c.state());
        if a != b || sa != sb {
            let (ma, mb) = shown(&a, &b);
            return Some(Divergence {
                step: format!("{i} ({s:?})"),
                model: format!("{ma}; state {}", sa.text()),
                c: format!("{mb}; state {}", sb.text()),
            });
        }
    }
    None
}

fn rsp() -> impl Strategy<Value = Rsp> {
    prop_oneof![
        6 => (0u8..4).prop_map(|extra| Rsp::Echo { extra }),
        1 => Just(Rsp::WrongSeq),
        1 => any::<u8>().prop_map(|len| Rsp::Len { len }),
    ]
}

fn ctrl() -> impl Strategy<Value = u8> {
    prop_oneof![
        3 => Just(0u8),
        2 => Just(0x08u8),
        1 => Just(0x80u8),
        1 => Just(0x04u8),
        1 => Just(0x10u8),
        1 => Just(0x40u8),
        1 => Just(0x88u8),
        1 => any::<u8>(),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    let start = (
        prop_oneof![3 => Just(0x18u8), 1 => any::<u8>()],
        prop_oneof![3 => Just(0x01u8), 1 => any::<u8>()],
        prop_oneof![8 => 2u16..8, 1 => 0u16..2, 1 => Just(273u16), 1 => Just(272u16)],
    )
        .prop_map(|(netfn, cmd, len)| Step::Start { netfn, cmd, len });
    let event = (
        prop_oneof![4 => Just(0u32), 4 => 1u32..4, 2 => 1u32..3000],
        ctrl(),
        ctrl(),
        rsp(),
    )
        .prop_map(|(jiffies, ctrl, ctrl2, rsp)| Step::Event {
            jiffies,
            ctrl,
            ctrl2,
            rsp,
        });
    let result = prop_oneof![Just(8u16), Just(IPMI_MAX_MSG_LENGTH as u16)]
        .prop_map(|buflen| Step::Result { buflen });
    prop_oneof![2 => start, 12 => event, 1 => result]
}

/// The random schedules of the differential.
pub fn case_strategy() -> impl Strategy<Value = Case> {
    (
        prop_oneof![Just(100u32), Just(250u32), Just(300u32), Just(1000u32)],
        0u8..4,
        proptest::option::weighted(
            0.3,
            (
                ctrl(),
                prop_oneof![3 => Just(0u8), 1 => Just(0xffu8)],
                rsp(),
            ),
        ),
        proptest::collection::vec(step(), 1..60),
    )
        .prop_map(|(hz, debug, detect, steps)| Case {
            hz,
            debug,
            detect,
            steps,
        })
}

/// What a differential run found.
#[derive(Debug, Clone)]
pub struct DiffOutcome {
    /// Cases run (random cases plus shrink steps).
    pub cases_run: u64,
    /// The minimal diverging case and its divergence, if any.
    pub divergence: Option<(Case, Divergence)>,
    /// Wall time.
    pub elapsed: std::time::Duration,
}

/// Runs `cases` random schedules (deterministic for `seed`) on a fresh pair of
/// machines each; on a divergence, shrinks it.
pub fn run(
    make_model: &dyn Fn() -> Box<dyn HostStateMachine>,
    make_c: &dyn Fn() -> Option<Box<dyn HostStateMachine>>,
    cases: u32,
    seed: u64,
) -> DiffOutcome {
    let start = std::time::Instant::now();
    let runs = std::cell::Cell::new(0u64);
    let config = Config {
        cases,
        max_shrink_iters: 4096,
        failure_persistence: None,
        ..Config::default()
    };
    let mut s = [0u8; 32];
    s[..8].copy_from_slice(&seed.to_le_bytes());
    let mut runner = TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &s));
    let check = |case: &Case| -> Option<Divergence> {
        let mut m = make_model();
        let Some(mut c) = make_c() else {
            return Some(Divergence {
                step: "setup".into(),
                model: String::new(),
                c: "could not allocate the C machine".into(),
            });
        };
        compare(m.as_mut(), c.as_mut(), case)
    };
    let result = runner.run(&case_strategy(), |case| {
        runs.set(runs.get() + 1);
        match check(&case) {
            Some(d) => Err(TestCaseError::fail(d.to_string())),
            None => Ok(()),
        }
    });
    let divergence = match result {
        Err(TestError::Fail(_, case)) => check(&case).map(|d| (case, d)),
        _ => None,
    };
    DiffOutcome {
        cases_run: runs.get(),
        divergence,
        elapsed: start.elapsed(),
    }
}

/// A fresh `bt-sm` machine of `profile`.
pub fn model(profile: KernelProfile) -> Box<dyn HostStateMachine> {
    Box::new(BtSm::new(profile))
}

/// The minimal case as a Rust test a developer can paste (`source` and
/// `profile` as given on the command line).
pub fn reproducer(case: &Case, source: &str, profile: &str) -> String {
    let case = format!("{case:#?}")
        .replacen("steps: [", "steps: vec![", 1)
        .replace('\n', "\n    ");
    format!(
        "#[test]\nfn bt_diff_reproducer() {{\n    use ipmi_kernel_c::diff::{{Case, Rsp::*, Step::*}};\n    let case = {case};\n    let lib = ipmi_kernel_c::CLibrary::open({source:?}.as_ref(), &Default::default()).unwrap();\n    let profile = ipmi_bt_sm::KernelProfile::from_name({profile:?}).unwrap();\n    let mut c = lib.machine(profile.behaviour()).unwrap();\n    let mut m = ipmi_bt_sm::BtSm::new(profile);\n    assert_eq!(ipmi_kernel_c::diff::compare(&mut m, &mut c, &case), None);\n}}\n"
    )
}
