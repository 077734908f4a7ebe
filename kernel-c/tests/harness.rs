//! The harness on small C files of our own (no kernel source needed): a tiny
//! state machine, a file missing a handler, a file missing the handler table,
//! a syntax error, and printk's continuation cases.

use std::path::{Path, PathBuf};

use ipmi_bt_sm::LogSink as _;
use ipmi_bt_sm::{
    HostStateMachine, Io, KernelProfile, LineAssembler, LogMsg, LogRecord, PrintkEra, SmResult,
    State,
};
use ipmi_kernel_c::{BuildError, BuildOptions, CLibrary, FileShape};

fn c_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/c")
        .join(name)
}

/// `tiny_sm.c` with `from` replaced by `to` (exactly once), written as
/// `name` in this test binary's scratch directory: the broken variants the
/// error tests need, derived from the one good file so they cannot drift.
fn variant_of_tiny(name: &str, from: &str, to: &str) -> PathBuf {
    let good = std::fs::read_to_string(c_file("tiny_sm.c")).expect("tiny_sm.c");
    assert_eq!(
        good.matches(from).count(),
        1,
        "tiny_sm.c must hold {from:?} once"
    );
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("kernel-c-variants");
    std::fs::create_dir_all(&dir).expect("variant dir");
    let path = dir.join(name);
    std::fs::write(&path, good.replace(from, to)).expect("write variant");
    path
}

fn opts() -> BuildOptions {
    BuildOptions {
        cache_dir: Path::new(env!("CARGO_TARGET_TMPDIR")).join("kernel-c-cache"),
        ..BuildOptions::default()
    }
}

#[derive(Default)]
struct Regs {
    ctrl: u8,
    written: Vec<u8>,
    ctrl_reads: u32,
    busy_reads: u32,
}

impl Io for Regs {
    fn read_ctrl(&mut self) -> u8 {
        self.ctrl_reads += 1;
        if self.busy_reads > 0 {
            self.busy_reads -= 1;
            return 0x80;
        }
        self.ctrl
    }
    fn write_ctrl(&mut self, _v: u8) {}
    fn read_buf(&mut self) -> u8 {
        0
    }
    fn write_buf(&mut self, v: u8) {
        self.written.push(v)
    }
    fn read_intmask(&mut self) -> u8 {
        0
    }
    fn write_intmask(&mut self, _v: u8) {}
}

#[test]
fn tiny_machine_runs_through_the_interface() {
    let lib = CLibrary::open(&c_file("tiny_sm.c"), &opts()).expect("builds");
    assert_eq!(lib.built().shape, FileShape::CapsInDetect);
    assert!(lib.built().dev_style);
    let mut m = lib
        .machine(KernelProfile::Mainline.behaviour())
        .expect("machine");
    let mut regs = Regs::default();
    let mut log: Vec<LogRecord> = Vec::new();
    assert_eq!(m.state(), State::Idle);
    assert_eq!(
        m.start_transaction(&mut log, &[0x18]),
        Err(ipmi_bt_sm::CompletionCode(0xc7))
    );
    m.start_transaction(&mut log, &[0x18, 0x01, 0xaa])
        .expect("start");
    assert_eq!(m.state(), State::XactionStart);
    assert_eq!(m.timeout_us(), 5_000_000);
    assert_eq!(
        m.event(&mut regs, &mut log, 0),
        SmResult::TransactionComplete
    );
    assert_eq!(regs.written, [0x18, 0x01, 0xaa]);
    let mut buf = [0u8; 2];
    assert_eq!(m.get_result(&mut log, &mut buf), 2, "only what fits");
    assert_eq!(buf, [0x1c, 0x01]);
    assert!(log.is_empty());
    // Building again comes from the cache.
    let again = ipmi_kernel_c::build(&c_file("tiny_sm.c"), &opts()).expect("cached");
    assert!(again.cached);
}

#[test]
fn printk_continuations_join_as_the_kernel_does() {
    let lib = CLibrary::open(&c_file("tiny_sm.c"), &opts()).expect("builds");
    let mut m = lib
        .machine(KernelProfile::Mainline.behaviour())
        .expect("machine");
    m.set_debug(1);
    let mut lines = LineAssembler::new(PrintkEra::KernCont);
    m.start_transaction(&mut lines, &[0x18, 0x01])
        .expect("start");
    let mut regs = Regs {
        ctrl: 0x80,
        ..Regs::default()
    };
    assert_eq!(
        m.event(&mut regs, &mut lines, 4000),
        SmResult::CallWithDelay
    );
    regs.ctrl = 0;
    assert_eq!(
        m.event(&mut regs, &mut lines, 10_000_000),
        SmResult::TransactionComplete
    );
    lines.flush();
    let text: Vec<&str> = lines.lines().iter().map(|l| l.text.as_str()).collect();
    assert_eq!(
        text,
        [
            // dev_dbg ends its line; the pr_cont bytes make one of their own.
            "start 2 bytes:",
            " 18 01",
            // KERN_WARNING open-ended head; a bare printk starts a new line
            // since 4.9; KERN_CONT joins it.
            "busy now ",
            "bare 1",
            "cont 4000",
            "IPMI BT: timeout in XACTION ",
            "0 retries left",
            "stuck, try power cycle",
        ]
    );
    // Before 2.6.31 the bare printk continued the open line.
    let mut old = LineAssembler::new(PrintkEra::Modern);
    m.start_transaction(&mut old, &[0x18, 0x01]).expect("start");
    regs.ctrl = 0x80;
    m.event(&mut regs, &mut old, 0);
    let text: Vec<&str> = old.lines().iter().map(|l| l.text.as_str()).collect();
    assert_eq!(text[2..], ["busy now bare 1", "cont 0"]);
}

#[test]
fn records_carry_the_c_text_and_flags() {
    let lib = CLibrary::open(&c_file("tiny_sm.c"), &opts()).expect("builds");
    let mut m = lib
        .machine(KernelProfile::Mainline.behaviour())
        .expect("machine");
    let mut recs: Vec<LogRecord> = Vec::new();
    m.start_transaction(&mut recs, &[0x18, 0x01])
        .expect("start");
    let mut regs = Regs::default();
    m.event(&mut regs, &mut recs, 6_000_000);
    assert_eq!(recs.len(), 3);
    assert!(
        matches!(recs[0].msg, LogMsg::Text(t) if t.as_str() == "IPMI BT: timeout in XACTION " && !t.ends_line())
    );
    assert!(recs[0].is_dev_call() && recs[0].ends_line());
    assert!(recs[1].cont && !recs[1].bare);
    assert_eq!(recs[2].level, ipmi_bt_sm::Level::Err);
}

#[test]
fn detect_sleeps_take_virtual_time() {
    let lib = CLibrary::open(&c_file("tiny_sm.c"), &opts()).expect("builds");
    let mut m = lib
        .machine(KernelProfile::Mainline.behaviour())
        .expect("machine");
    m.set_hz(250);
    let mut regs = Regs {
        busy_reads: 3,
        ..Regs::default()
    };
    let mut lines = LineAssembler::new(PrintkEra::KernCont);
    m.detect(&mut regs, &mut lines).expect("present");
    assert!(m.detect_in_progress());
    assert!(!m.polls_skippable());
    // A call that brings no time finds it asleep.
    assert_eq!(m.event(&mut regs, &mut lines, 0), SmResult::CallWithDelay);
    let mut n = 0;
    while m.detect_in_progress() {
        m.event(&mut regs, &mut lines, 4000);
        n += 1;
        assert!(n < 10);
    }
    m.finish_detect(&mut lines);
    assert_eq!(n, 2);
    let text: Vec<&str> = lines.lines().iter().map(|l| l.text.as_str()).collect();
    assert_eq!(text, ["waited 8000 us"]);
    // A dropped machine in the middle of detect is fine.
    let mut m2 = lib
        .machine(KernelProfile::Mainline.behaviour())
        .expect("machine");
    regs.busy_reads = 5;
    m2.detect(&mut regs, &mut lines).expect("present");
    drop(m2);
    // Not present.
    struct Absent;
    impl Io for Absent {
        fn read_ctrl(&mut self) -> u8 {
            0xff
        }
        fn write_ctrl(&mut self, _v: u8) {}
        fn read_buf(&mut self) -> u8 {
            0xff
        }
        fn write_buf(&mut self, _v: u8) {}
        fn read_intmask(&mut self) -> u8 {
            0xff
        }
        fn write_intmask(&mut self, _v: u8) {}
    }
    assert!(m.detect(&mut Absent, &mut lines).is_err());
}

#[test]
fn a_missing_handler_is_named() {
    let err = CLibrary::open(
        &variant_of_tiny("no_event.c", "\t.event = bt_event,\n", ""),
        &opts(),
    )
    .expect_err("must fail");
    assert!(matches!(err, BuildError::Shape(_)), "{err:?}");
    assert!(
        err.to_string().contains("bt_smi_handlers has no event"),
        "{err}"
    );
}

#[test]
fn a_missing_handler_table_is_named() {
    let err = CLibrary::open(
        &variant_of_tiny(
            "no_handlers.c",
            "const struct si_sm_handlers bt_smi_handlers = {",
            "const struct si_sm_handlers other_handlers = {",
        ),
        &opts(),
    )
    .expect_err("must fail");
    assert!(err.to_string().contains("bt_smi_handlers"), "{err}");
}

#[test]
fn a_syntax_error_shows_the_compiler() {
    let err = CLibrary::open(
        &variant_of_tiny("syntax_error.c", "return SI_SM_IDLE;", "return SI_SM_IDLE"),
        &opts(),
    )
    .expect_err("must fail");
    let BuildError::Compile { stderr, .. } = &err else {
        panic!("{err:?}");
    };
    assert!(stderr.contains("syntax_error.c"), "{stderr}");
    assert!(err.to_string().contains("does not compile"), "{err}");
}

#[test]
fn a_missing_file_and_the_2005_design_are_refused() {
    let err = CLibrary::open(Path::new("/nonexistent/ipmi_bt_sm.c"), &opts()).expect_err("fails");
    assert!(err.to_string().contains("cannot read"), "{err}");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("kernel-c-2005");
    std::fs::create_dir_all(&dir).expect("dir");
    let f = dir.join("old.c");
    std::fs::write(&f, "enum { BT_STATE_B2H_WAIT };").expect("write");
    let err = CLibrary::open(&f, &opts()).expect_err("fails");
    assert!(err.to_string().contains("2005 design"), "{err}");
}

/// The real file, when `BMCWD_KERNEL_SRC` names a kernel tree
/// (`tests/kernel-src/fetch.sh` prints one): a short differential against
/// `mainline` finds nothing. The test command runs the long one.
#[test]
fn kernel_file_matches_mainline_when_available() {
    let Some(dir) = std::env::var_os("BMCWD_KERNEL_SRC") else {
        eprintln!("BMCWD_KERNEL_SRC not set: skipped");
        return;
    };
    let f = Path::new(&dir).join("drivers/char/ipmi/ipmi_bt_sm.c");
    let lib = CLibrary::open(&f, &opts()).expect("the kernel's file builds");
    let p = KernelProfile::Mainline;
    let out = ipmi_kernel_c::diff::run(
        &|| ipmi_kernel_c::diff::model(p),
        &|| {
            lib.machine(p.behaviour())
                .ok()
                .map(|m| Box::new(m) as Box<dyn HostStateMachine>)
        },
        300,
        7,
    );
    if let Some((case, d)) = &out.divergence {
        panic!(
            "{d}\n{}",
            ipmi_kernel_c::diff::reproducer(case, "x", "mainline")
        );
    }
}

/// The pre-2018 shape (capabilities inside the state machine, `printk`
/// texts, a non-const handler table) is recognised and runs.
#[test]
fn pre_2018_shape_is_recognised() {
    let lib = CLibrary::open(&c_file("tiny_pre2018.c"), &opts()).expect("builds");
    assert_eq!(lib.built().shape, FileShape::CapsInSm);
    assert!(!lib.built().dev_style);
    let m = lib
        .machine(KernelProfile::CapsInSm.behaviour())
        .expect("machine");
    assert!(m.behaviour().caps_in_sm());
    assert_eq!(m.behaviour().log_style, ipmi_bt_sm::LogStyle::Printk);
    let mut m = m;
    let mut recs: Vec<LogRecord> = Vec::new();
    m.start_transaction(&mut recs, &[0x18, 0x01])
        .expect("start");
    m.event(&mut Regs::default(), &mut recs, 6_000_000);
    // printk(KERN_WARNING …) head, then pr_cont: not dev calls.
    assert!(!recs[0].is_dev_call() && !recs[0].ends_line());
    let mut lines = LineAssembler::new(PrintkEra::KernCont);
    for r in &recs {
        lines.log(r);
    }
    lines.flush();
    let text: Vec<&str> = lines.lines().iter().map(|l| l.text.as_str()).collect();
    assert_eq!(
        text,
        [
            "IPMI BT: timeout in XACTION 0 retries left",
            "stuck, try power cycle"
        ]
    );
}
