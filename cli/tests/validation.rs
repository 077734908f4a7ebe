//! Argument validation happens before anything is sent: every case below
//! points at a socket that does not exist, so reaching the transport would
//! give exit code 4, not 2. Plus the error messages users see for setup
//! problems.

mod common;

use predicates::prelude::*;
use predicates::str::contains;

/// Runs `bmcwd --socket <missing> ARGS` and expects a usage error containing `msg`.
fn refused(args: &[&str], msg: &str) {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("absent.sock");
    let mut c = common::bmcwd(dir.path(), &["--socket"]);
    c.arg(&sock).args(args);
    c.assert().code(2).stderr(contains(msg));
}

#[test]
fn countdown_limits() {
    refused(&["start", "--timeout", "6553.6s"], "longer than 6553.5s");
    refused(&["start", "--timeout", "2h"], "longer than 6553.5s");
    refused(&["set", "--timeout", "7000s"], "longer than 6553.5s");
    refused(&["daemon", "--timeout", "6554s"], "longer than 6553.5s");
    refused(&["start", "--timeout", "0s"], "give at least 100ms");
    refused(&["start", "--timeout", "150ms"], "not a multiple of 100 ms");
    refused(&["start", "--timeout", "5 parsecs"], "unknown unit");
    refused(&["start", "--timeout=-5s"], "cannot be negative");
}

#[test]
fn pretimeout_must_precede_timeout() {
    refused(
        &[
            "start",
            "--timeout",
            "10s",
            "--pretimeout",
            "10s",
            "--pretimeout-irq",
            "nmi",
        ],
        "must be shorter than the timeout",
    );
    refused(
        &["set", "--timeout", "10s", "--pretimeout", "20s"],
        "must be shorter than the timeout",
    );
    refused(
        &["start", "--pretimeout", "1.5s", "--pretimeout-irq", "nmi"],
        "whole seconds",
    );
    refused(
        &[
            "start",
            "--timeout",
            "1h",
            "--pretimeout",
            "300s",
            "--pretimeout-irq",
            "msg",
        ],
        "255s",
    );
    refused(
        &["start", "--pretimeout", "5s"],
        "--pretimeout needs --pretimeout-irq",
    );
}

#[test]
fn daemon_interval_must_be_shorter_than_timeout() {
    refused(
        &["daemon", "--timeout", "10s", "--interval", "10s"],
        "is not shorter than --timeout",
    );
    refused(
        &["daemon", "--timeout", "10s", "--interval", "1m"],
        "is not shorter than --timeout",
    );
    refused(
        &["daemon", "--timeout", "10s", "--interval", "0s"],
        "--interval must be at least 100ms",
    );
    refused(
        &["daemon", "--max-backoff", "0s"],
        "--max-backoff must be at least 100ms",
    );
}

#[test]
fn enumerations_and_lists() {
    refused(&["start", "--action", "explode"], "invalid value 'explode'");
    refused(&["start", "--use", "bios"], "invalid value 'bios'");
    refused(
        &["start", "--pretimeout-irq", "irq9"],
        "invalid value 'irq9'",
    );
    refused(
        &["set", "--clear-flags", "sms-os,bogus"],
        "--clear-flags: `bogus`",
    );
    refused(&["daemon", "--on-exit", "maybe"], "invalid value 'maybe'");
    refused(&["daemon", "--log", "kmsg"], "invalid value 'kmsg'");
}

#[test]
fn transports_are_mutually_exclusive() {
    let dir = tempfile::tempdir().unwrap();
    common::bmcwd(dir.path(), &["--sim", "--device", "/dev/ipmi0", "get"])
        .assert()
        .code(2)
        .stderr(contains("cannot be used with"));
}

#[test]
fn missing_device_names_the_modules_and_sim() {
    let dir = tempfile::tempdir().unwrap();
    let dev = dir.path().join("ipmi0");
    common::bmcwd(dir.path(), &["--device"])
        .arg(&dev)
        .arg("get")
        .assert()
        .code(4)
        .stderr(
            contains(format!("no IPMI device at {}", dev.display()))
                .and(contains("modprobe ipmi_devintf ipmi_si"))
                .and(contains("--sim")),
        );
}

#[test]
fn a_device_that_is_not_an_ipmi_device_is_an_io_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("ipmi0");
    std::fs::write(&fake, b"not a device").unwrap();
    common::bmcwd(dir.path(), &["--device"])
        .arg(&fake)
        .arg("get")
        .assert()
        .code(4)
        .stderr(contains("is not an IPMI device").and(contains("panicked").not()));
}

#[test]
fn embedded_simulator_is_the_default_and_says_so() {
    if std::path::Path::new("/dev/ipmi0").exists() {
        return; // a real BMC is the default on this machine
    }
    let dir = tempfile::tempdir().unwrap();
    common::bmcwd(dir.path(), &["get"])
        .assert()
        .success()
        .stderr(contains("using the embedded simulator"))
        .stdout(contains("Watchdog Timer Is:      Stopped"));
    // Explicit --sim: no note.
    common::bmcwd(dir.path(), &["--sim", "start", "--timeout", "30s"])
        .assert()
        .success()
        .stderr("");
}

#[test]
fn daemon_without_a_device_fails_fast_with_setup_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    common::bmcwd(dir.path(), &["--device"])
        .arg(dir.path().join("ipmi0"))
        .args(["daemon", "--timeout", "10s"])
        .assert()
        .code(4)
        .stderr(contains("modprobe ipmi_devintf ipmi_si"));
}

/// `sim serve --socket PATH` refuses a path that is not its own and never
/// deletes it: a regular file keeps its contents, and another server's live
/// socket keeps serving (regression: both used to be removed on exit).
#[test]
fn sim_serve_refusing_a_path_leaves_it_alone() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("precious.txt");
    std::fs::write(&plain, "keep me\n").unwrap();
    common::bmcwd(dir.path(), &["sim", "serve", "--socket"])
        .arg(&plain)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("exists and is not a socket"));
    assert_eq!(std::fs::read_to_string(&plain).unwrap(), "keep me\n");

    let s = common::Server::start();
    common::bmcwd(dir.path(), &["sim", "serve", "--socket"])
        .arg(&s.socket)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("in use by a running server"));
    assert!(s.socket.exists(), "the running server's socket was deleted");
    s.cmd(&["get"]).assert().success();
}

/// A `--socket` path that exists but is no socket says so (exit 4), instead
/// of advising to start a server on it.
#[test]
fn socket_path_that_is_a_regular_file() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain");
    std::fs::write(&plain, "x").unwrap();
    common::bmcwd(dir.path(), &["get", "--socket"])
        .arg(&plain)
        .assert()
        .code(4)
        .stderr(predicates::str::contains(
            "is a regular file, not a Unix socket",
        ));
}

/// Values that look like flags reach the duration parser, so a negative
/// duration gets its own message; a zero --cmd-timeout is refused.
#[test]
fn negative_and_zero_durations() {
    refused(&["start", "--timeout", "-5s"], "cannot be negative");
    refused(&["daemon", "--interval", "-1s"], "cannot be negative");
    refused(&["--cmd-timeout", "0", "get"], "--cmd-timeout 0");
}

/// Without a device, the daemon refuses to fall back to the embedded
/// simulator (it would "protect" nothing); --sim asks for it explicitly.
#[test]
fn daemon_does_not_pet_a_simulator_by_accident() {
    if !bmcwd::transport::find_devices(std::path::Path::new("/dev")).is_empty() {
        return; // a real BMC is the default on this machine
    }
    let dir = tempfile::tempdir().unwrap();
    common::bmcwd(dir.path(), &["daemon", "--timeout", "10s"])
        .timeout(std::time::Duration::from_secs(10))
        .assert()
        .code(4)
        .stderr(
            contains("no IPMI device at /dev/ipmi0")
                .and(contains("modprobe ipmi_devintf ipmi_si"))
                .and(contains("--sim")),
        );
}

/// Issue #14: a pre-timeout interrupt with a 0 s interval was accepted; it
/// would fire at the expiry itself. Refused before anything is sent, for
/// `start`, `daemon` and `set` (both given, or the interrupt given with the
/// default 0 s interval of start/daemon).
#[test]
fn a_pretimeout_interrupt_needs_an_interval() {
    for cmd in ["start", "daemon", "set"] {
        refused(
            &[cmd, "--pretimeout", "0s", "--pretimeout-irq", "nmi"],
            "--pretimeout-irq nmi with a pre-timeout interval of 0 s",
        );
    }
    refused(
        &["start", "--pretimeout-irq", "msg"],
        "give --pretimeout (e.g. 10s, shorter than the timeout), or --pretimeout-irq none",
    );
}

/// Issue #14: `1m30s` was refused. Compound durations reach the same
/// checks as simple ones.
#[test]
fn compound_durations() {
    refused(&["start", "--timeout", "1h49m13.6s"], "longer than 6553.5s");
    refused(
        &["start", "--timeout", "30s1m"],
        "terms with falling units, e.g. 1m30s",
    );
    refused(&["start", "--timeout", "1m30"], "is not a duration");
    refused(
        &[
            "start",
            "--timeout",
            "1m30s",
            "--pretimeout",
            "1m30s",
            "--pretimeout-irq",
            "nmi",
        ],
        "--pretimeout 90s must be shorter than the timeout (90.0 s)",
    );
}

/// Issue #14: `--device` on a FIFO hung in open(2), where --cmd-timeout does
/// not apply. It is refused from stat(2) (exit 4), long before the test's
/// 10 s limit.
#[test]
fn a_fifo_device_is_refused_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("ipmi0");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    for cmd in ["get", "daemon"] {
        common::bmcwd(dir.path(), &["--cmd-timeout", "1s", "--device"])
            .arg(&fifo)
            .arg(cmd)
            .timeout(std::time::Duration::from_secs(10))
            .assert()
            .code(4)
            .stderr(
                contains(
                    "is not an IPMI device: it is a FIFO (named pipe), not a character device",
                )
                .and(contains("ls -l /dev/ipmi*")),
            );
    }
}
