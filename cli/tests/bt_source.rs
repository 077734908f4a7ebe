//! `--bt-source` and `bt diff` on small C files of our own (the kernel's file
//! runs in the test command, `tests/kernel-src/check.sh`): exit codes and the
//! messages a user sees.

use std::path::PathBuf;

use assert_cmd::Command;
use predicates::str::contains;

fn c_file(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../kernel-c/tests/c")
        .join(name)
}

/// `tiny_sm.c` with `from` replaced by `to` (exactly once), written as `name`
/// in this test binary's scratch directory (broken variants derived from the
/// one good file, as in kernel-c/tests/harness.rs).
fn variant_of_tiny(name: &str, from: &str, to: &str) -> PathBuf {
    let good = std::fs::read_to_string(c_file("tiny_sm.c")).expect("tiny_sm.c");
    assert_eq!(
        good.matches(from).count(),
        1,
        "tiny_sm.c must hold {from:?} once"
    );
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("kernel-c-variants");
    std::fs::create_dir_all(&dir).expect("variant dir");
    let path = dir.join(name);
    std::fs::write(&path, good.replace(from, to)).expect("write variant");
    path
}

fn bmcwd() -> Command {
    let mut c = Command::cargo_bin("bmcwd").expect("binary");
    c.env(
        "BMCWD_KERNEL_C_CACHE",
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("kernel-c-cache"),
    );
    c
}

#[test]
fn bt_diff_finds_a_divergence_and_prints_a_test() {
    bmcwd()
        .args([
            "bt",
            "diff",
            "--profile",
            "mainline",
            "--cases",
            "50",
            "--bt-source",
        ])
        .arg(c_file("tiny_sm.c"))
        .assert()
        .code(7)
        .stdout(contains("diverges from bt-sm mainline"))
        .stdout(contains("fn bt_diff_reproducer()"))
        .stdout(contains("# Reproduce: bmcwd bt diff"));
}

#[test]
fn a_file_that_does_not_compile_exits_1_with_the_compiler_messages() {
    bmcwd()
        .args(["bt", "diff", "--profile", "mainline", "--bt-source"])
        .arg(variant_of_tiny(
            "syntax_error.c",
            "return SI_SM_IDLE;",
            "return SI_SM_IDLE",
        ))
        .assert()
        .code(1)
        .stderr(contains("does not compile"))
        .stderr(contains("syntax_error.c"));
}

#[test]
fn a_missing_handler_is_named() {
    bmcwd()
        .args([
            "scenario",
            "run",
            "../sim/scenarios/long-busy.toml",
            "--bt-source",
        ])
        .arg(variant_of_tiny("no_event.c", "\t.event = bt_event,\n", ""))
        .assert()
        .code(1)
        .stderr(contains("bt_smi_handlers has no event"));
}

#[test]
fn unknown_profile_is_usage() {
    bmcwd()
        .args(["bt", "diff", "--profile", "nope", "--bt-source"])
        .arg(c_file("tiny_sm.c"))
        .assert()
        .code(2)
        .stderr(contains("unknown bt-sm profile"));
}

#[test]
fn scenario_run_prints_the_c_files_log() {
    bmcwd()
        .args([
            "scenario",
            "run",
            "../sim/scenarios/long-busy.toml",
            "--bt-source",
        ])
        .arg(c_file("tiny_sm.c"))
        .assert()
        .success()
        .stdout(contains("BT state machine: C"))
        .stdout(contains("waited"));
}

/// The general search runs on a C file too (one thread: the C machine is
/// built per scenario on the calling thread).
#[test]
fn explore_general_runs_on_the_c_file() {
    let out = bmcwd()
        .args([
            "scenario",
            "explore",
            "--space",
            "general",
            "--kernel",
            "mainline",
            "--cases",
            "3",
            "--seed",
            "1",
            "--bt-source",
        ])
        .arg(c_file("tiny_sm.c"))
        .output()
        .expect("run");
    let code = out.status.code();
    assert!(code == Some(0) || code == Some(6), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("BT state machine: C"), "{stdout}");
    assert!(stdout.contains("space general"), "{stdout}");
}
