//! The daemon's log sinks (stderr, `<N>`-prefixed stderr, syslog, the
//! journal, JSON lines), `-v`/`-q`, fatal errors logged exactly once, `--json`
//! error objects for every kind of error, and the configuration file.

mod common;

use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixDatagram;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::{json, Server};

fn bin() -> Command {
    let mut c = Command::new(assert_cmd::cargo::cargo_bin("bmcwd"));
    c.env_remove("JOURNAL_STREAM")
        .env_remove("BMCWD_LOG")
        .env("BMCWD_CONFIG", "none")
        .stdin(Stdio::null());
    c
}

/// A daemon that cannot start: the device does not exist (exit 4). Its
/// timing is safe, so nothing else is logged before the error.
fn failing_daemon(dir: &std::path::Path) -> Command {
    let mut c = bin();
    c.env("BMCWD_STATE_DIR", dir)
        .arg("--device")
        .arg(dir.join("ipmi0"))
        .args(["daemon", "--timeout", "60s", "--interval", "5s"])
        .args(["--cmd-timeout", "5s"]);
    c
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs a daemon on `s` for `ms`, then SIGTERM; its output.
/// Sends `signal` (e.g. `-TERM`) to `pid` with kill(1).
fn kill(pid: u32, signal: &str) {
    assert!(Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .unwrap()
        .success());
}

fn run_for(s: &Server, args: &[&str], ms: u64) -> Output {
    let child = bin()
        .env("BMCWD_STATE_DIR", s.state_dir())
        .arg("--socket")
        .arg(&s.socket)
        .arg("daemon")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(ms));
    kill(child.id(), "-TERM");
    child.wait_with_output().unwrap()
}

#[test]
fn fatal_error_is_logged_once_with_its_priority() {
    let dir = tempfile::tempdir().unwrap();
    for (log, prefix) in [
        ("prefixed", "<3>no IPMI device at "),
        ("stderr", "bmcwd: error: no IPMI device at "),
    ] {
        let out = failing_daemon(dir.path())
            .args(["--log", log])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(4));
        let err = text(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{log}: {err}");
        assert!(err.starts_with(prefix), "{log}: {err}");
        assert_eq!(text(&out.stdout), "");
    }
    // A usage error found after the log is open goes there too.
    let out = failing_daemon(dir.path())
        .args(["--log", "prefixed", "--max-backoff", "0s"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(err, "<3>--max-backoff must be at least 100ms\n");
}

/// `--log syslog` sends RFC 3164 datagrams, facility daemon, to the syslog
/// socket ($BMCWD_SYSLOG_SOCKET here), and nothing to stderr.
#[test]
fn syslog_gets_the_fatal_error_with_daemon_facility() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("log");
    let rx = UnixDatagram::bind(&sock).unwrap();
    rx.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let out = failing_daemon(dir.path())
        .env("BMCWD_SYSLOG_SOCKET", &sock)
        .args(["--log", "syslog"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(text(&out.stderr), "", "printed once, in syslog");
    let mut buf = [0u8; 4096];
    let n = rx.recv(&mut buf).unwrap();
    let msg = text(&buf[..n]);
    // <27> = facility daemon (3) × 8 + priority err (3).
    assert!(msg.starts_with("<27>"), "{msg}");
    assert!(msg.contains("bmcwd["), "{msg}");
    assert!(msg.contains("no IPMI device at "), "{msg}");
    // No second datagram.
    rx.set_nonblocking(true).unwrap();
    assert!(rx.recv(&mut buf).is_err());
    // `auto` off a terminal is syslog too.
    let out = failing_daemon(dir.path())
        .env("BMCWD_SYSLOG_SOCKET", &sock)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(text(&out.stderr), "");
    rx.set_nonblocking(false).unwrap();
    let n = rx.recv(&mut buf).unwrap();
    assert!(text(&buf[..n]).starts_with("<27>"));
}

/// `auto` with $JOURNAL_STREAM naming stderr picks the journal: natively
/// when journald's socket is there (PRIORITY and BMCWD_* fields), else
/// `<N>` lines on stderr. The native half binds the journal socket itself
/// when the machine has none and the test runs as root.
#[test]
fn journal_stream_selects_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let journal = std::path::Path::new("/run/systemd/journal/socket");
    let with_stream = |dir: &std::path::Path| {
        let errf = dir.join("stderr");
        let file = std::fs::File::create(&errf).unwrap();
        let md = file.metadata().unwrap();
        let mut c = failing_daemon(dir);
        c.env("JOURNAL_STREAM", format!("{}:{}", md.dev(), md.ino()))
            .stderr(file);
        (c, errf)
    };
    if !journal.exists() {
        let (mut c, errf) = with_stream(dir.path());
        assert_eq!(c.status().unwrap().code(), Some(4));
        let err = std::fs::read_to_string(errf).unwrap();
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 2, "{err}");
        assert!(
            lines[0].starts_with("<4>bmcwd: cannot reach journald"),
            "{err}"
        );
        assert!(lines[1].starts_with("<3>no IPMI device at "), "{err}");
    }
    let is_root = std::fs::metadata("/proc/self").map(|m| m.uid()).ok() == Some(0);
    if journal.exists() || !is_root {
        eprintln!(
            "skipping the native journal half: {} exists or not root",
            journal.display()
        );
        return;
    }
    let made_dir = !journal.parent().unwrap().exists();
    std::fs::create_dir_all(journal.parent().unwrap()).unwrap();
    let rx = UnixDatagram::bind(journal).unwrap();
    rx.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let (mut c, errf) = with_stream(dir.path());
    let status = c.status();
    let mut buf = vec![0u8; 65536];
    // The client first sends an empty datagram to probe the socket.
    let got = (0..3)
        .map(|_| rx.recv(&mut buf))
        .find(|r| !matches!(r, Ok(0)))
        .unwrap_or(Ok(0));
    let _ = std::fs::remove_file(journal);
    if made_dir {
        let _ = std::fs::remove_dir(journal.parent().unwrap());
    }
    assert_eq!(status.unwrap().code(), Some(4));
    let fields = journal_fields(&buf[..got.unwrap()]);
    let field = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(field("PRIORITY"), Some("3"), "{fields:?}");
    assert_eq!(field("SYSLOG_IDENTIFIER"), Some("bmcwd"));
    assert_eq!(field("BMCWD_ERROR_KIND"), Some("setup"));
    assert_eq!(field("BMCWD_EXIT_CODE"), Some("4"));
    assert_eq!(
        field("BMCWD_TARGET"),
        Some(dir.path().join("ipmi0").to_str().unwrap())
    );
    assert!(field("MESSAGE").unwrap().starts_with("no IPMI device at "));
    assert_eq!(std::fs::read_to_string(errf).unwrap(), "", "logged once");
}

#[test]
fn verbosity_adds_pets_and_quiet_drops_notices() {
    let s = Server::start();
    let base = ["--timeout", "10s", "--interval", "300ms", "--log", "stderr"];
    let mut args = base.to_vec();
    args.push("-v");
    let out = run_for(&s, &args, 1500);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("bmcwd: info: pet 1 answered\n"), "{err}");
    assert!(err.contains("bmcwd: info: pet 3 answered\n"), "{err}");
    assert!(err.contains("bmcwd: notice: starting on "), "{err}");
    let out = run_for(&s, &base, 1000);
    let err = text(&out.stderr);
    assert!(!err.contains("info:"), "{err}");
    assert!(err.contains("bmcwd: notice: starting on "), "{err}");
    let mut args = base.to_vec();
    args.push("-q");
    let out = run_for(&s, &args, 1000);
    assert!(out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.lines().all(|l| l.starts_with("bmcwd: warning: ")),
        "-q keeps only warnings and errors: {err}"
    );
}

/// `daemon --json`: every event one JSON object per line on stdout; a fatal
/// error ends the stream with the error object; stderr stays empty.
#[test]
fn daemon_json_events_and_error() {
    let s = Server::start();
    let out = run_for(
        &s,
        &["--json", "--timeout", "10s", "--interval", "300ms"],
        1000,
    );
    assert!(out.status.success());
    assert_eq!(text(&out.stderr), "");
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(lines.len() >= 3, "{lines:?}");
    assert!(
        lines.iter().any(|l| l["message"]
            .as_str()
            .unwrap()
            .starts_with("starting on simulator at")),
        "{lines:?}"
    );
    for l in &lines {
        assert!(l["unix_time"].as_f64().unwrap() > 1.0e9);
        assert!(l["target"].as_str().unwrap().starts_with("socket:"), "{l}");
        assert!(["notice", "warning", "info", "error"].contains(&l["priority"].as_str().unwrap()));
    }
    let last = lines.last().unwrap();
    assert_eq!(last["priority"], "notice");
    assert_eq!(last["message"], "watchdog timer stopped; exiting");

    let dir = tempfile::tempdir().unwrap();
    let out = failing_daemon(dir.path()).arg("--json").output().unwrap();
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(text(&out.stderr), "");
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    let event: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(event["priority"], "error");
    assert_eq!(event["error_kind"], "setup");
    let e: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
    assert_eq!(e["error"]["kind"], "setup");
    assert_eq!(e["error"]["exit_code"], 4);
    assert_eq!(e["error"]["message"], event["message"]);
}

/// `--json` errors: `{"error": {kind, message, exit_code, completion_code,
/// hint}}` on stdout, nothing on stderr, the exit code unchanged.
#[test]
fn json_errors_for_every_kind() {
    let s = Server::start();
    let err_obj = |out: &[u8]| -> serde_json::Value {
        let v = json(out);
        let keys: Vec<&String> = v["error"].as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            ["completion_code", "exit_code", "hint", "kind", "message"]
        );
        v["error"].clone()
    };
    // The BMC refused: completion code and its hint.
    s.fault("cc=c1 count=1");
    let a = s.cmd(&["--json", "get"]).assert().code(3).stderr("");
    let e = err_obj(&a.get_output().stdout);
    assert_eq!(e["kind"], "completion");
    assert_eq!(e["completion_code"], 0xC1);
    assert_eq!(e["exit_code"], 3);
    assert_eq!(e["hint"], "this BMC does not implement the command");
    // No answer.
    s.fault("silent");
    let a = s
        .cmd(&["--json", "--cmd-timeout", "300ms", "reset"])
        .assert()
        .code(5)
        .stderr("");
    let e = err_obj(&a.get_output().stdout);
    assert_eq!(e["kind"], "communication");
    assert_eq!(e["completion_code"], serde_json::Value::Null);
    s.fault("none");
    // Our own argument check, and clap's.
    let a = s
        .cmd(&["--json", "start", "--timeout", "0s"])
        .assert()
        .code(2)
        .stderr("");
    let e = err_obj(&a.get_output().stdout);
    assert_eq!(e["kind"], "usage");
    assert!(e["message"]
        .as_str()
        .unwrap()
        .contains("give at least 100ms"));
    let a = s
        .cmd(&["--json", "get", "--bogus"])
        .assert()
        .code(2)
        .stderr("");
    let e = err_obj(&a.get_output().stdout);
    assert_eq!(e["kind"], "usage");
    assert_eq!(e["message"], "unexpected argument '--bogus' found");
    // Setup: no simulator socket.
    let dir = tempfile::tempdir().unwrap();
    let a = common::bmcwd(dir.path(), &["--json", "--socket"])
        .arg(dir.path().join("none.sock"))
        .arg("stop")
        .assert()
        .code(4)
        .stderr("");
    let e = err_obj(&a.get_output().stdout);
    assert_eq!(e["kind"], "setup");
    assert_eq!(
        e["hint"],
        format!(
            "start it with `bmcwd sim serve --socket {}`",
            dir.path().join("none.sock").display()
        )
    );
    // An input file.
    let a = common::bmcwd(dir.path(), &["--json", "scenario", "run"])
        .arg(dir.path().join("missing.toml"))
        .assert()
        .code(2)
        .stderr("");
    assert_eq!(err_obj(&a.get_output().stdout)["kind"], "input");
}

/// The configuration file fills in options; flags override it; its errors
/// name file, line and key; `daemon --check` validates it.
#[test]
fn config_file_keys_and_overrides() {
    let s = Server::start();
    let cfg = s.dir.path().join("bmcwd.toml");
    std::fs::write(
        &cfg,
        format!(
            "socket = \"{}\"\ntimeout = \"40s\"\naction = \"power-down\"\non-exit = \"leave\"\n",
            s.socket.display()
        ),
    )
    .unwrap();
    // --check reads it.
    common::bmcwd(s.dir.path(), &["daemon", "--check", "--config"])
        .arg(&cfg)
        .assert()
        .success()
        .stdout(predicates::str::contains("timeout 40.0 s, interval 13.3 s"));
    // The daemon takes the socket, action and on-exit from the file, the
    // timeout from the command line.
    let child = bin()
        .env("BMCWD_STATE_DIR", s.state_dir())
        .args(["daemon", "--log", "stderr", "--timeout", "50s", "--config"])
        .arg(&cfg)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    kill(child.id(), "-TERM");
    let out = child.wait_with_output().unwrap();
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("Power Down after 50.0 sec"), "{err}");
    assert!(err.contains("leaving the watchdog timer ARMED"), "{err}");
    let v = json(
        &s.cmd(&["--json", "get"])
            .assert()
            .success()
            .get_output()
            .stdout,
    );
    assert_eq!(v["running"], true);
    assert_eq!(v["initial_countdown_s"], 50.0);
    assert_eq!(v["action"], "power-down");

    // Errors: file, line, key; exit 2; nothing sent.
    for (body, want) in [
        (
            "timeout = \"40s\"\nbogus = true\n",
            ":2: key `bogus`: unknown field `bogus`",
        ),
        ("\n\ntimeout = \"forty\"\n", ":3: key `timeout`: "),
        (
            "action = \"explode\"\n",
            ":1: key `action`: `explode` is not one of hard-reset",
        ),
        ("dont-log = \"yes\"\n", ":1: key `dont-log`: invalid type"),
        (
            "\nclear-flags = \"sms-os,bogus\"\n",
            ":2: key `clear-flags`: --clear-flags: `bogus` is not a timer use",
        ),
    ] {
        std::fs::write(&cfg, body).unwrap();
        common::bmcwd(s.dir.path(), &["daemon", "--check", "--config"])
            .arg(&cfg)
            .assert()
            .code(2)
            .stderr(predicates::str::contains(format!(
                "{}{want}",
                cfg.display()
            )));
    }
    // A --config that does not exist is an error; `none` reads nothing.
    common::bmcwd(s.dir.path(), &["daemon", "--check", "--config"])
        .arg(s.dir.path().join("absent.toml"))
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "cannot read the configuration file",
        ));
}

/// Polls `get` on `s` until `pred` holds on its JSON (at most 10 s).
fn wait_for_get(s: &Server, what: &str, pred: impl Fn(&serde_json::Value) -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let out = s.cmd(&["--json", "get"]).output().unwrap();
        if out.status.success() && pred(&json(&out.stdout)) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}: {}",
            text(&out.stdout)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// SIGHUP re-reads the configuration file: new timer settings are armed at
/// once; an invalid file is logged (file, line, key) and the daemon carries
/// on with what it had.
#[test]
fn sighup_reloads_the_configuration_file() {
    let s = Server::start();
    let cfg = s.dir.path().join("bmcwd.toml");
    let body = |timeout: &str, action: &str| {
        format!(
            "socket = \"{}\"\ntimeout = \"{timeout}\"\naction = \"{action}\"\n\
             interval = \"2s\"\n",
            s.socket.display()
        )
    };
    std::fs::write(&cfg, body("40s", "power-down")).unwrap();
    let mut child = bin()
        .env("BMCWD_STATE_DIR", s.state_dir())
        .args(["daemon", "--log", "stderr", "--config"])
        .arg(&cfg)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    wait_for_get(&s, "the first arming", |v| {
        v["running"] == true && v["initial_countdown_s"] == 40.0
    });
    std::fs::write(&cfg, body("90s", "power-cycle")).unwrap();
    kill(pid, "-HUP");
    wait_for_get(&s, "the reloaded timer", |v| {
        v["running"] == true && v["initial_countdown_s"] == 90.0 && v["action"] == "power-cycle"
    });
    // An invalid file: logged, the daemon keeps petting the 90 s timer.
    std::fs::write(&cfg, "\n\ntimeout = \"forty\"\n").unwrap();
    kill(pid, "-HUP");
    std::thread::sleep(Duration::from_millis(500));
    assert!(child.try_wait().unwrap().is_none(), "the daemon exited");
    let v = json(&s.cmd(&["--json", "get"]).output().unwrap().stdout);
    assert_eq!(v["initial_countdown_s"], 90.0);
    assert_eq!(v["action"], "power-cycle");
    kill(pid, "-TERM");
    let out = child.wait_with_output().unwrap();
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains(
            "configuration reloaded: timer use sms-os, action power-cycle, countdown 90.0 s; \
             re-arming with the new timer settings"
        ),
        "{err}"
    );
    assert!(
        err.contains("watchdog re-armed: 90.0 s countdown running"),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "bmcwd: error: received SIGHUP: the configuration is invalid, keeping the current \
             settings: {}:3: key `timeout`: ",
            cfg.display()
        )),
        "{err}"
    );
    // The stop on exit uses the reloaded timer.
    assert!(err.contains("watchdog timer stopped; exiting"), "{err}");
    wait_for_get(&s, "the stop", |v| v["running"] == false);
}

/// Decodes one datagram of journald's native protocol (systemd's
/// "Native Journal Protocol": `NAME=value\n`, or `NAME\n`, a 64-bit
/// little-endian length, the value and `\n`).
fn journal_fields(mut b: &[u8]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let end = b.iter().position(|&c| c == b'\n' || c == b'=').unwrap();
        let name = text(&b[..end]);
        if b[end] == b'=' {
            let rest = &b[end + 1..];
            let nl = rest.iter().position(|&c| c == b'\n').unwrap();
            out.push((name, text(&rest[..nl])));
            b = &rest[nl + 1..];
        } else {
            let len = u64::from_le_bytes(b[end + 1..end + 9].try_into().unwrap()) as usize;
            let v = &b[end + 9..end + 9 + len];
            out.push((name, text(v)));
            b = &b[end + 9 + len + 1..];
        }
    }
    out
}

/// A global option given before the subcommand (`--cmd-timeout`, `--sim`)
/// also wins over its key in the file.
#[test]
fn global_flags_override_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bmcwd.toml");
    std::fs::write(
        &cfg,
        "cmd-timeout = \"20s\"\nsocket = \"/nonexistent/bmc.sock\"\n",
    )
    .unwrap();
    let run = |extra: &[&str]| {
        let child = bin()
            .env("BMCWD_STATE_DIR", dir.path())
            .arg("--sim")
            .args(extra)
            .args(["daemon", "--timeout", "10s", "--interval", "2s"])
            .args(["--log", "stderr", "--config"])
            .arg(&cfg)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(700));
        kill(child.id(), "-TERM");
        let out = child.wait_with_output().unwrap();
        let err = text(&out.stderr);
        assert!(out.status.success(), "{err}");
        assert!(err.contains("starting on embedded simulator"), "{err}");
        err
    };
    let slow = "plus --cmd-timeout 20.0 s is not shorter than the timeout";
    assert!(run(&[]).contains(slow), "the file's cmd-timeout applies");
    assert!(!run(&["--cmd-timeout", "2s"]).contains(slow));
}

/// `daemon --check --json`: the figures as one JSON document; an unsafe
/// configuration still exits 2, with the error object after it.
#[test]
fn daemon_check_json() {
    let dir = tempfile::tempdir().unwrap();
    let out = common::bmcwd(
        dir.path(),
        &["--json", "daemon", "--check", "--timeout", "60s"],
    )
    .arg("--interval")
    .arg("20s")
    .assert()
    .success()
    .get_output()
    .stdout
    .clone();
    let v = json(&out);
    assert_eq!(v["command"], "daemon-check");
    assert_eq!(v["check"]["safe"], true);
    assert_eq!(v["check"]["worst_pet_gap_s"], 42.5);
    assert_eq!(v["check"]["max_outage_s"], 10.0);
    assert_eq!(v["check"]["configuration"], serde_json::Value::Null);
    let a = common::bmcwd(
        dir.path(),
        &["--json", "daemon", "--check", "--timeout", "30s"],
    )
    .args(["--interval", "15s"])
    .assert()
    .code(2)
    .stderr("");
    let text = String::from_utf8_lossy(&a.get_output().stdout).into_owned();
    let mut docs = serde_json::Deserializer::from_str(&text).into_iter::<serde_json::Value>();
    assert_eq!(docs.next().unwrap().unwrap()["check"]["safe"], false);
    assert_eq!(docs.next().unwrap().unwrap()["error"]["kind"], "usage");
}
