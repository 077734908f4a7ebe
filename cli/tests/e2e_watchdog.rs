//! End to end: every watchdog subcommand against `bmcwd sim serve --socket`.

mod common;

use std::time::Duration;

use common::{json, Server};
use predicates::prelude::*;
use predicates::str::contains;

#[test]
fn get_on_a_fresh_bmc_prints_ipmitool_layout() {
    let s = Server::start();
    s.cmd(&["get"]).assert().success().stdout(
        contains("Watchdog Timer Use:     ")
            .and(contains("Watchdog Timer Is:      Stopped"))
            .and(contains("Watchdog Timer Logging: On"))
            .and(contains("Pre-timeout interval:   0 seconds"))
            .and(contains("Present Countdown:      ")),
    );
}

#[test]
fn start_then_get_shows_running_countdown() {
    let s = Server::start();
    s.cmd(&["start", "--timeout", "5m", "--action", "power-cycle"])
        .assert()
        .success()
        .stdout(contains(
            "Watchdog Timer started: SMS/OS, Power Cycle after 300.0 sec",
        ));
    std::thread::sleep(Duration::from_millis(300));
    let out = s
        .cmd(&["--json", "get"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v = json(&out);
    assert_eq!(v["timer_use"], "sms-os");
    assert_eq!(v["running"], true);
    assert_eq!(v["action"], "power-cycle");
    assert_eq!(v["initial_countdown_s"], 300.0);
    let present = v["present_countdown_s"].as_f64().unwrap();
    assert!(present < 300.0 && present > 280.0, "{present}");
    s.cmd(&["get"]).assert().success().stdout(
        contains("Watchdog Timer Use:     SMS/OS (0x44)")
            .and(contains("Watchdog Timer Is:      Started/Running"))
            .and(contains("Watchdog Timer Action:  Power Cycle (0x03)"))
            .and(contains("Initial Countdown:      300.0 sec")),
    );
}

#[test]
fn set_keeps_unspecified_fields_and_stops_without_dont_stop() {
    let s = Server::start();
    s.cmd(&[
        "start",
        "--timeout",
        "90s",
        "--use",
        "oem",
        "--pretimeout",
        "10s",
        "--pretimeout-irq",
        "nmi",
        "--dont-log",
    ])
    .assert()
    .success();
    // Only the action changes; the rest comes from Get.
    s.cmd(&["set", "--action", "none"])
        .assert()
        .success()
        .stdout(contains("Watchdog Timer set: OEM, No action after 90.0 sec, pre-timeout NMI / Diagnostic Interrupt 10 s before"))
        .stdout(contains("Timer stopped"));
    let v = s.json_ok(&["--json", "get"]);
    assert_eq!(v["timer_use"], "oem");
    assert_eq!(v["action"], "none");
    assert_eq!(v["pretimeout_interrupt"], "nmi");
    assert_eq!(v["pretimeout_s"], 10);
    assert_eq!(v["running"], false);
    // --dont-log is not inherited: logging is back on.
    assert_eq!(v["logging"], true);
}

#[test]
fn set_dont_stop_reloads_a_running_timer() {
    let s = Server::start();
    s.cmd(&["start", "--timeout", "60s"]).assert().success();
    s.cmd(&["set", "--timeout", "2m", "--dont-stop"])
        .assert()
        .success()
        .stdout(contains(
            "Timer still running, reloaded with the new countdown",
        ));
    let v = s.json_ok(&["--json", "get"]);
    assert_eq!(v["running"], true);
    assert_eq!(v["initial_countdown_s"], 120.0);
    assert_eq!(v["logging"], true);
}

#[test]
fn start_sends_the_same_set_as_linux_ipmi_watchdog() {
    let s = Server::start();
    // ipmi_watchdog's start for timeout=10 action=reset: Set 44 01 00 00 64 00, Reset.
    let v = s.json_ok(&["--json", "start", "--timeout", "10s"]);
    assert_eq!(v["set"]["request"], "44 01 00 00 64 00");
}

#[test]
fn set_on_a_never_configured_bmc_defaults_the_use_to_sms_os() {
    let s = Server::start();
    s.cmd(&["set", "--timeout", "60s", "--action", "hard-reset"])
        .assert()
        .success()
        .stderr(contains("using sms-os"))
        .stdout(contains(
            "Watchdog Timer set: SMS/OS, Hard Reset after 60.0 sec",
        ));
}

#[test]
fn set_json_reports_request_bytes() {
    let s = Server::start();
    let v = s.json_ok(&[
        "--json",
        "set",
        "--timeout",
        "10s",
        "--use",
        "sms-os",
        "--action",
        "hard-reset",
        "--pretimeout-irq",
        "none",
        "--pretimeout",
        "0s",
    ]);
    // Linux ipmi_watchdog's stop-state Set for a 10 s reset, minus don't-stop.
    assert_eq!(v["set"]["request"], "04 01 00 00 64 00");
}

#[test]
fn clear_flags_clears_expiration_flags() {
    let s = Server::start();
    // A 100 ms countdown expires at once (action none: nothing happens but the flag).
    s.cmd(&["start", "--timeout", "100ms", "--action", "none"])
        .assert()
        .success();
    std::thread::sleep(Duration::from_millis(400));
    let v = s.json_ok(&["--json", "get"]);
    assert_eq!(v["expiration_flags"][0], "sms-os");
    s.cmd(&["get"]).assert().success().stdout(contains(
        "Timer Expiration Flags: (0x10)\n                        * SMS/OS",
    ));
    s.cmd(&["set", "--clear-flags", "all"]).assert().success();
    let v = s.json_ok(&["--json", "get"]);
    assert_eq!(v["expiration_flags_raw"], 0);
}

#[test]
fn reset_and_pet_alias_restart_the_countdown() {
    let s = Server::start();
    s.cmd(&["start", "--timeout", "20s"]).assert().success();
    std::thread::sleep(Duration::from_millis(1200));
    s.cmd(&["reset"])
        .assert()
        .success()
        .stdout("Watchdog Timer Reset - countdown restarted\n");
    let v = s.json_ok(&["--json", "get"]);
    assert!(v["present_countdown_s"].as_f64().unwrap() > 19.0);
    let v = s.json_ok(&["--json", "pet"]);
    assert_eq!(v["resent_set"], 0);
}

#[test]
fn reset_on_an_unconfigured_bmc_fails_with_spec_name_and_exit_3() {
    let s = Server::start();
    s.cmd(&["reset"]).assert().code(3).stderr(
        contains("Reset Watchdog Timer failed: 0x80 (Attempt to start un-initialized watchdog) — ")
            .and(contains("bmcwd start")),
    );
}

#[test]
fn reset_resends_the_recorded_set_after_0x80() {
    let s = Server::start();
    s.cmd(&["start", "--timeout", "45s", "--action", "power-down"])
        .assert()
        .success();
    // Make the next Reset answer 0x80, as a BMC that was reset would.
    s.fault("cc=80 count=1 only=06:22");
    s.cmd(&["reset"])
        .assert()
        .success()
        .stderr(contains("Reset answered 0x80").and(contains("re-sent the last Set")));
    let v = s.json_ok(&["--json", "get"]);
    assert_eq!(v["running"], true);
    assert_eq!(v["action"], "power-down");
    assert_eq!(v["initial_countdown_s"], 45.0);
}

#[test]
fn reset_after_the_pretimeout_reloads_with_a_set() {
    let s = Server::start();
    s.cmd(&[
        "start",
        "--timeout",
        "5s",
        "--pretimeout",
        "4s",
        "--pretimeout-irq",
        "msg",
    ])
    .assert()
    .success();
    // The pre-timeout fires 1 s after the start; a spec BMC then refuses Reset.
    std::thread::sleep(Duration::from_millis(1500));
    s.cmd(&["reset"])
        .assert()
        .success()
        .stderr(contains("the pre-timeout had fired").and(contains("0xD5")));
    let v = s.json_ok(&["--json", "get"]);
    assert_eq!(v["running"], true);
    assert!(v["present_countdown_s"].as_f64().unwrap() > 4.0, "{v}");
}

#[test]
fn stop_and_off_alias_stop_the_timer() {
    let s = Server::start();
    s.cmd(&["start", "--timeout", "30s"]).assert().success();
    s.cmd(&["stop"])
        .assert()
        .success()
        .stdout("Watchdog Timer Shutoff successful -- timer stopped\n");
    let v = s.json_ok(&["--json", "get"]);
    assert_eq!(v["running"], false);
    assert_eq!(v["action"], "none");
    assert_eq!(v["initial_countdown_s"], 30.0);
    let v = s.json_ok(&["--json", "off"]);
    assert_eq!(v["command"], "stop");
}

#[test]
fn bmc_errors_map_to_exit_codes() {
    let s = Server::start();
    s.fault("cc=c1 count=1");
    s.cmd(&["get"]).assert().code(3).stderr(contains(
        "Get Watchdog Timer failed: 0xC1 (Invalid Command)",
    ));
    s.fault("silent");
    s.cmd(&["--cmd-timeout", "500ms", "get"])
        .assert()
        .code(5)
        .stderr(contains("Get Watchdog Timer timed out after 0.5 s"));
}

#[test]
fn daemon_pets_survives_errors_and_stops_on_sigterm() {
    let s = Server::start();
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("bmcwd"))
        .env("BMCWD_STATE_DIR", s.state_dir())
        .arg("--socket")
        .arg(&s.socket)
        .args([
            "daemon",
            "--timeout",
            "10s",
            "--interval",
            "500ms",
            "--max-backoff",
            "400ms",
            "--log",
            "prefixed",
            "--config",
            "none",
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1200));
    // A concurrent client sees the timer running.
    let v = s.json_ok(&["--json", "get"]);
    assert_eq!(v["running"], true);
    // Two pets answered "node busy": the daemon backs off and recovers.
    s.fault("cc=c0 count=2 only=06:22");
    std::thread::sleep(Duration::from_millis(2500));
    let pid = child.id().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("<5>starting on simulator at"), "{err}");
    assert!(
        err.contains("<4>pet failed (attempt 1): Reset Watchdog Timer failed: 0xC0 (Node Busy)"),
        "{err}"
    );
    assert!(
        err.contains("<5>BMC answering again after 2 failed attempt(s)"),
        "{err}"
    );
    assert!(
        err.contains("<5>received SIGTERM: stopping the watchdog timer (--on-exit stop)"),
        "{err}"
    );
    let v = s.json_ok(&["--json", "get"]);
    assert_eq!(v["running"], false);
    assert_eq!(v["expiration_flags_raw"], 0, "the timer never expired");
}

#[test]
fn daemon_leave_keeps_the_timer_armed() {
    let s = Server::start();
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("bmcwd"))
        .env("BMCWD_STATE_DIR", s.state_dir())
        .arg("--socket")
        .arg(&s.socket)
        .args(["daemon", "--timeout", "60s", "--on-exit", "leave"])
        .args(["--log", "stderr", "--config", "none"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    let pid = child.id().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains(
            "bmcwd: warning: received SIGINT: leaving the watchdog timer ARMED (--on-exit leave)"
        ),
        "{err}"
    );
    let v = s.json_ok(&["--json", "get"]);
    assert_eq!(v["running"], true);
}

#[test]
fn missing_socket_is_a_setup_error() {
    let dir = tempfile::tempdir().unwrap();
    common::bmcwd(dir.path(), &["--socket"])
        .arg(dir.path().join("nope.sock"))
        .arg("get")
        .assert()
        .code(4)
        .stderr(
            contains("cannot connect to the simulator socket")
                .and(contains("bmcwd sim serve --socket")),
        );
}

/// Every watchdog command's `--json` output is one valid JSON document on
/// stdout (notes go to stderr), with the fields a script relies on.
#[test]
fn every_command_prints_valid_json() {
    let s = Server::start();
    let run = |args: &[&str]| {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = s.cmd(&all).assert().success().get_output().stdout.clone();
        let text = String::from_utf8(out).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {text}"));
        assert!(v.is_object(), "{args:?}: {text}");
        v
    };
    let v = run(&["start", "--timeout", "30s"]);
    assert_eq!(v["command"], "start");
    assert_eq!(v["set"]["initial_countdown_s"], 30.0);
    let v = run(&["reset"]);
    assert_eq!(v["command"], "reset");
    assert_eq!(v["resent_set"], 0);
    let v = run(&["set", "--timeout", "40s", "--dont-stop"]);
    assert_eq!(v["command"], "set");
    assert_eq!(v["running"], true);
    let v = run(&["set", "--clear-flags", "all"]);
    assert_eq!(v["set"]["clear_flags"].as_array().map(Vec::len), Some(5));
    let v = run(&["get"]);
    assert_eq!(v["initial_countdown_s"], 40.0);
    let v = run(&["stop"]);
    assert_eq!(v["command"], "stop");
    assert_eq!(v["set"]["action"], "none");
    assert_eq!(run(&["get"])["running"], false);
}

/// `set` keeps unspecified fields from the BMC except the two flags, as its
/// help says: without --dont-log logging is turned on, without --dont-stop
/// the timer stops.
#[test]
fn set_keeps_fields_but_not_the_flags() {
    let s = Server::start();
    s.cmd(&[
        "start",
        "--timeout",
        "30s",
        "--dont-log",
        "--action",
        "power-down",
    ])
    .assert()
    .success();
    let v = s.json_ok(&["--json", "get"]);
    assert_eq!(
        (v["logging"].as_bool(), v["running"].as_bool()),
        (Some(false), Some(true))
    );
    s.cmd(&["set", "--timeout", "20s"]).assert().success();
    let v = s.json_ok(&["--json", "get"]);
    assert_eq!(v["action"], "power-down", "kept");
    assert_eq!(v["initial_countdown_s"], 20.0);
    assert_eq!(v["logging"], true, "--dont-log is not kept");
    assert_eq!(
        v["running"], false,
        "a Set without --dont-stop stops the timer"
    );
}

/// `bmcwd clear` = freeipmi's `bmc-watchdog --clear`: timer use kept,
/// stopped, no action, no pre-timeout, logging off, countdown 0.
#[test]
fn clear_resets_the_configuration_but_keeps_the_timer_use() {
    let s = Server::start();
    s.cmd(&[
        "start",
        "--timeout",
        "1m30s",
        "--use",
        "oem",
        "--pretimeout",
        "10s",
        "--pretimeout-irq",
        "nmi",
    ])
    .assert()
    .success();
    let v = s.json_ok(&["--json", "clear"]);
    assert_eq!(v["was_running"], true);
    assert_eq!(v["set"]["request"], "85 00 00 00 00 00");
    let v = s.json_ok(&["--json", "get"]);
    assert_eq!(v["timer_use"], "oem");
    assert_eq!(v["running"], false);
    assert_eq!(v["logging"], false);
    assert_eq!(v["action"], "none");
    assert_eq!(v["pretimeout_interrupt"], "none");
    assert_eq!(v["pretimeout_s"], 0);
    assert_eq!(v["initial_countdown_s"], 0.0);
}

/// `reset --if-stopped` = `bmc-watchdog --start`, `--if-running` =
/// `--set --reset-if-running`; `start --if-stopped` leaves a running timer
/// (and its configuration) alone.
#[test]
fn conditional_reset_and_start_read_the_timer_first() {
    let s = Server::start();
    s.cmd(&["start", "--timeout", "5m"]).assert().success();
    s.cmd(&["stop"]).assert().success();
    s.cmd(&["reset", "--if-running"])
        .assert()
        .success()
        .stdout(contains(
            "Watchdog Timer is stopped: left alone, no Reset sent",
        ));
    let get = |s: &Server| s.json_ok(&["--json", "get"]);
    assert_eq!(get(&s)["running"], false);
    s.cmd(&["reset", "--if-stopped"])
        .assert()
        .success()
        .stdout(contains("countdown restarted"));
    assert_eq!(get(&s)["running"], true);
    s.cmd(&["--json", "reset", "--if-stopped"])
        .assert()
        .success()
        .stdout(contains("\"sent\": false"));
    s.cmd(&["start", "--if-stopped", "--timeout", "30s"])
        .assert()
        .success()
        .stdout(contains("left alone, nothing set (--if-stopped)"));
    assert_eq!(get(&s)["initial_countdown_s"], 300.0);
    s.cmd(&["reset", "--if-stopped", "--if-running"])
        .assert()
        .code(2)
        .stderr(contains("cannot be used with"));
    s.cmd(&["stop"]).assert().success();
    s.cmd(&["start", "--if-stopped", "--timeout", "30s"])
        .assert()
        .success()
        .stdout(contains("Watchdog Timer started"));
    let v = get(&s);
    assert_eq!(
        (v["running"].clone(), v["initial_countdown_s"].clone()),
        (true.into(), 30.0.into())
    );
}

/// Issue #14: `--clear-flags all` echoed `frb2`; every name printed is one
/// `--use` / `--clear-flags` take.
#[test]
fn clear_flags_all_echoes_the_names_it_takes() {
    let s = Server::start();
    s.cmd(&["start", "--timeout", "60s"]).assert().success();
    s.cmd(&["set", "--clear-flags", "all", "--dont-stop"])
        .assert()
        .success()
        .stdout(contains(
            "clearing expiration flags bios-frb2,bios-post,os-load,sms-os,oem",
        ));
    let v = s.json_ok(&["--json", "set", "--clear-flags", "all", "--dont-stop"]);
    for name in v["set"]["clear_flags"].as_array().unwrap() {
        s.cmd(&[
            "set",
            "--dont-stop",
            "--clear-flags",
            name.as_str().unwrap(),
        ])
        .assert()
        .success();
        s.cmd(&["start", "--use", name.as_str().unwrap()])
            .assert()
            .success();
    }
}
