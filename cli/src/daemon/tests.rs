//! Daemon behaviour against a mockall transport, on tokio's paused clock:
//! every sleep auto-advances, so these run in milliseconds and never flake.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ipmi_bt_sm::CompletionCode;
use ipmi_watchdog::{Countdown, SetWatchdog, TimerAction, TimerUse};
use mockall::Sequence;
use tokio::time::Instant;

use super::*;
use crate::transport::{MockTransport, Response, TransportError};
use ipmi_watchdog::DaemonSignal;

/// Collects log lines.
#[derive(Default, Clone)]
struct Capture(Arc<Mutex<Vec<(Priority, String)>>>);

impl Logger for Capture {
    fn log(&mut self, p: Priority, msg: &str) {
        self.0.lock().unwrap().push((p, msg.to_string()));
    }
}

impl Capture {
    fn text(&self) -> String {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|(p, m)| format!("{}: {m}\n", p.name()))
            .collect()
    }
}

/// A mock transport that can describe itself and answers the timer-state
/// check (Get after each pet) with the timer running as `set10` armed it.
fn mock() -> MockTransport {
    let mut t = MockTransport::new();
    t.expect_describe().return_const("mock BMC".to_string());
    t.expect_send()
        .withf(|r, _| r.cmd == 0x25)
        .returning(|_, _| {
            Ok(Response {
                netfn: 0x07,
                cmd: 0x25,
                cc: CompletionCode(0),
                data: vec![0x44, 0x01, 0, 0, 0x64, 0, 0x64, 0],
            })
        });
    t
}

/// No configuration file to re-read.
fn no_reload() -> ReloadResult {
    Ok(None)
}

/// No re-open in these tests.
fn no_reopen() -> Result<MockTransport, TransportError> {
    Err(TransportError::Invalid("no re-open in this test".into()))
}

fn resp(cmd: u8, cc: u8) -> Result<Response, TransportError> {
    Ok(Response {
        netfn: 0x07,
        cmd,
        cc: CompletionCode(cc),
        data: vec![],
    })
}

/// Expect one `cmd` next in `seq`, answered with completion code 0.
fn expect_ok(t: &mut MockTransport, seq: &mut Sequence, cmd: u8) {
    t.expect_send()
        .withf(move |r, _| r.cmd == cmd)
        .times(1)
        .in_sequence(seq)
        .returning(move |_, _| resp(cmd, 0));
}

fn timeout_err() -> Result<Response, TransportError> {
    Err(TransportError::Timeout {
        command: "Reset Watchdog Timer".into(),
        after: Duration::from_secs(1),
        peer: "mock".into(),
    })
}

/// 10 s hard reset, SMS/OS, don't-stop: what `start_request` builds and
/// what Linux's ipmi_watchdog sends (`44 01 00 00 64 00`).
fn set10() -> SetWatchdog {
    SetWatchdog {
        dont_stop: true,
        ..SetWatchdog::new(
            TimerUse::SmsOs,
            TimerAction::HardReset,
            Countdown::from_ticks(100),
        )
    }
}

fn cfg(on_exit: OnExit) -> DaemonConfig {
    DaemonConfig::new(
        set10(),
        Some(Duration::from_secs(3)),
        on_exit,
        Duration::from_secs(2),
        None,
    )
    .unwrap()
}

/// Delivers `sig` after `after` of (paused) time.
fn signal_after(after: Duration, sig: DaemonSignal) -> UnboundedReceiver<DaemonSignal> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        tokio::time::sleep(after).await;
        let _ = tx.send(sig);
        // Keep the channel open: the daemon is still running.
        std::future::pending::<()>().await;
    });
    rx
}

#[tokio::test(start_paused = true)]
async fn arms_pets_at_interval_and_stops_on_sigterm() {
    let times = Arc::new(Mutex::new(Vec::new()));
    let start = Instant::now();
    let mut t = mock();
    let mut seq = Sequence::new();
    t.expect_send()
        .withf(|r, _| r.cmd == 0x24 && r.data == [0x44, 0x01, 0, 0, 0x64, 0])
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| resp(0x24, 0));
    let tm = times.clone();
    t.expect_send()
        .withf(|r, _| r.cmd == 0x22)
        .times(4)
        .in_sequence(&mut seq)
        .returning(move |_, _| {
            tm.lock().unwrap().push(start.elapsed());
            resp(0x22, 0)
        });
    // The stop: same use and countdown, action none, no don't-stop.
    t.expect_send()
        .withf(|r, _| r.cmd == 0x24 && r.data == [0x04, 0x00, 0, 0, 0x64, 0])
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| resp(0x24, 0));
    let mut client = Client::new(t, Duration::from_secs(1));
    let mut log = Capture::default();
    let exit = run(
        &mut client,
        &cfg(OnExit::Stop),
        signal_after(Duration::from_millis(10_500), DaemonSignal::Term),
        &mut log,
        no_reopen,
        no_reload,
    )
    .await
    .unwrap();
    assert_eq!(
        exit,
        DaemonExit {
            signal: "SIGTERM".into(),
            stopped: true,
            pets: 3
        }
    );
    let secs: Vec<u64> = times.lock().unwrap().iter().map(|d| d.as_secs()).collect();
    assert_eq!(secs, vec![0, 3, 6, 9]);
    let text = log.text();
    assert!(
        text.contains("received SIGTERM: stopping the watchdog timer (--on-exit stop)"),
        "{text}"
    );
    assert!(text.contains("watchdog timer stopped"), "{text}");
}

#[tokio::test(start_paused = true)]
async fn leave_sends_nothing_on_exit_and_says_armed() {
    let mut t = mock();
    t.expect_send()
        .withf(|r, _| r.cmd == 0x24)
        .times(1)
        .returning(|_, _| resp(0x24, 0));
    t.expect_send()
        .withf(|r, _| r.cmd == 0x22)
        .times(1)
        .returning(|_, _| resp(0x22, 0));
    let mut client = Client::new(t, Duration::from_secs(1));
    let mut log = Capture::default();
    let exit = run(
        &mut client,
        &cfg(OnExit::Leave),
        signal_after(Duration::from_secs(1), DaemonSignal::Int),
        &mut log,
        no_reopen,
        no_reload,
    )
    .await
    .unwrap();
    assert!(!exit.stopped);
    let text = log.text();
    assert!(
        text.contains("warning: received SIGINT: leaving the watchdog timer ARMED (--on-exit leave): the BMC will hard-reset within 10.0 s"),
        "{text}"
    );
}

#[tokio::test(start_paused = true)]
async fn resends_set_when_reset_answers_0x80() {
    let mut t = mock();
    let mut seq = Sequence::new();
    // Arm.
    expect_ok(&mut t, &mut seq, 0x24);
    expect_ok(&mut t, &mut seq, 0x22);
    // BMC reset behind our back: 0x80, re-Set the same bytes, Reset again.
    t.expect_send()
        .withf(|r, _| r.cmd == 0x22)
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| resp(0x22, 0x80));
    t.expect_send()
        .withf(|r, _| r.cmd == 0x24 && r.data == [0x44, 0x01, 0, 0, 0x64, 0])
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| resp(0x24, 0));
    expect_ok(&mut t, &mut seq, 0x22);
    let mut client = Client::new(t, Duration::from_secs(1));
    let mut log = Capture::default();
    let exit = run(
        &mut client,
        &cfg(OnExit::Leave),
        signal_after(Duration::from_millis(4_000), DaemonSignal::Term),
        &mut log,
        no_reopen,
        no_reload,
    )
    .await
    .unwrap();
    assert_eq!(exit.pets, 1);
    let text = log.text();
    assert!(text.contains("Reset answered 0x80"), "{text}");
    assert!(text.contains("re-sent the Set 1 time(s)"), "{text}");
}

#[tokio::test(start_paused = true)]
async fn transient_errors_back_off_exponentially_and_bounded() {
    let times = Arc::new(Mutex::new(Vec::new()));
    let start = Instant::now();
    let mut t = mock();
    let mut seq = Sequence::new();
    expect_ok(&mut t, &mut seq, 0x24);
    expect_ok(&mut t, &mut seq, 0x22);
    let tm = times.clone();
    // Five failures: timeouts and "node busy".
    t.expect_send()
        .withf(|r, _| r.cmd == 0x22)
        .times(5)
        .in_sequence(&mut seq)
        .returning(move |_, _| {
            let mut v = tm.lock().unwrap();
            v.push(start.elapsed());
            if v.len() % 2 == 0 {
                resp(0x22, 0xC0)
            } else {
                timeout_err()
            }
        });
    let tm = times.clone();
    t.expect_send()
        .withf(|r, _| r.cmd == 0x22)
        .times(1)
        .in_sequence(&mut seq)
        .returning(move |_, _| {
            tm.lock().unwrap().push(start.elapsed());
            resp(0x22, 0)
        });
    let mut client = Client::new(t, Duration::from_secs(1));
    let mut log = Capture::default();
    // First failure at 3 s; retries after 0.5, 1, 2 (cap), 2, 2 s; success at 10.5 s.
    let exit = run(
        &mut client,
        &cfg(OnExit::Leave),
        signal_after(Duration::from_millis(11_000), DaemonSignal::Term),
        &mut log,
        no_reopen,
        no_reload,
    )
    .await
    .unwrap();
    assert_eq!(exit.pets, 1);
    let ms: Vec<u128> = times
        .lock()
        .unwrap()
        .iter()
        .map(|d| d.as_millis())
        .collect();
    assert_eq!(ms, vec![3_000, 3_500, 4_500, 6_500, 8_500, 10_500]);
    let text = log.text();
    assert!(
        text.contains("pet failed (attempt 1): Reset Watchdog Timer timed out"),
        "{text}"
    );
    assert!(text.contains("retrying in 0.5 s"), "{text}");
    assert!(
        text.contains("pet failed (attempt 2): Reset Watchdog Timer failed: 0xC0 (Node Busy)"),
        "{text}"
    );
    assert!(
        text.contains("BMC answering again after 5 failed attempt(s)"),
        "{text}"
    );
}

#[tokio::test(start_paused = true)]
async fn permanent_error_ends_the_daemon() {
    let mut t = mock();
    t.expect_send()
        .withf(|r, _| r.cmd == 0x24)
        .times(1)
        .returning(|_, _| resp(0x24, 0xCC));
    let mut client = Client::new(t, Duration::from_secs(1));
    let mut log = Capture::default();
    let err = run(
        &mut client,
        &cfg(OnExit::Stop),
        tokio::sync::mpsc::unbounded_channel().1,
        &mut log,
        no_reopen,
        no_reload,
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.client_error().completion_code(),
        Some(CompletionCode(0xCC))
    );
    assert!(
        log.text()
            .contains("error: Set Watchdog Timer failed: 0xCC"),
        "{}",
        log.text()
    );
}

#[tokio::test(start_paused = true)]
async fn failed_stop_on_exit_is_an_error_and_says_armed() {
    let mut t = mock();
    let mut seq = Sequence::new();
    expect_ok(&mut t, &mut seq, 0x24);
    expect_ok(&mut t, &mut seq, 0x22);
    // The stop times out every time: retried for one countdown, then given up.
    t.expect_send()
        .withf(|r, _| r.cmd == 0x24)
        .times(7)
        .in_sequence(&mut seq)
        .returning(|_, _| timeout_err());
    let mut client = Client::new(t, Duration::from_secs(1));
    let mut log = Capture::default();
    let err = run(
        &mut client,
        &cfg(OnExit::Stop),
        signal_after(Duration::from_secs(1), DaemonSignal::Term),
        &mut log,
        no_reopen,
        no_reload,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, DaemonError::StopFailed(_)));
    assert!(log.text().contains("may still be ARMED"), "{}", log.text());
}

#[test]
fn refuses_interval_not_shorter_than_timeout_before_sending() {
    // A mock with no expectations panics on any send: validation comes first.
    let _t = MockTransport::new();
    for secs in [10, 11] {
        let e = DaemonConfig::new(
            set10(),
            Some(Duration::from_secs(secs)),
            OnExit::Stop,
            Duration::from_secs(8),
            None,
        )
        .unwrap_err();
        assert!(matches!(e, ConfigError::IntervalTooLong { .. }));
        assert!(e.to_string().contains("--interval"), "{e}");
    }
    let ok = DaemonConfig::new(set10(), None, OnExit::Stop, Duration::from_secs(8), None).unwrap();
    assert_eq!(ok.interval, Duration::from_millis(3_333));
    assert_eq!(
        DaemonConfig::new(
            set10(),
            Some(Duration::ZERO),
            OnExit::Stop,
            Duration::from_secs(8),
            None
        ),
        Err(ConfigError::IntervalZero)
    );
}

#[test]
fn backoff_doubles_and_is_capped_by_max_and_interval() {
    let c = DaemonConfig::new(
        set10(),
        Some(Duration::from_secs(3)),
        OnExit::Stop,
        Duration::from_secs(8),
        None,
    )
    .unwrap();
    let d: Vec<u128> = (1..=7).map(|n| c.backoff(n).as_millis()).collect();
    assert_eq!(d, vec![500, 1000, 2000, 3000, 3000, 3000, 3000]);
    assert_eq!(c.backoff(u32::MAX), Duration::from_secs(3));
}

#[test]
fn journal_lines_carry_syslog_priorities() {
    let j = StderrLogger { journal: true };
    assert_eq!(j.format(Priority::Warning, "x"), "<4>x");
    assert_eq!(j.format(Priority::Err, "x"), "<3>x");
    let p = StderrLogger { journal: false };
    assert_eq!(p.format(Priority::Notice, "x"), "bmcwd: notice: x");
}

#[tokio::test(start_paused = true)]
async fn lost_connection_reopens_and_hup_without_a_file_changes_nothing() {
    let mut t = mock();
    let mut seq = Sequence::new();
    expect_ok(&mut t, &mut seq, 0x24);
    expect_ok(&mut t, &mut seq, 0x22);
    // The simulator server restarts: the old connection is dead for good.
    t.expect_send()
        .withf(|r, _| r.cmd == 0x22)
        .returning(|_, _| {
            Err(TransportError::Closed {
                peer: "mock".into(),
                command: "Reset Watchdog Timer".into(),
            })
        });
    let mut client = Client::new(t, Duration::from_secs(1));
    let reopened = Arc::new(Mutex::new(0));
    let r2 = reopened.clone();
    let reopen = move || {
        *r2.lock().unwrap() += 1;
        let mut fresh = mock();
        fresh
            .expect_send()
            .withf(|r, _| r.cmd == 0x22)
            .returning(|_, _| resp(0x22, 0));
        fresh
            .expect_send()
            .withf(|r, _| r.cmd == 0x24)
            .returning(|_, _| resp(0x24, 0));
        Ok(fresh)
    };
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let _ = tx.send(DaemonSignal::Hup);
        tokio::time::sleep(Duration::from_secs(9)).await;
        let _ = tx.send(DaemonSignal::Usr1);
        std::future::pending::<()>().await;
    });
    let mut log = Capture::default();
    let exit = run(
        &mut client,
        &cfg(OnExit::Stop),
        rx,
        &mut log,
        reopen,
        no_reload,
    )
    .await
    .unwrap();
    let text = log.text();
    assert_eq!(*reopened.lock().unwrap(), 1, "{text}");
    assert!(
        text.contains("received SIGHUP: no configuration file to reload"),
        "{text}"
    );
    assert!(
        text.contains("re-opening the connection in 0.5 s"),
        "{text}"
    );
    assert!(text.contains("connection re-opened"), "{text}");
    assert!(
        text.contains("BMC answering again after 1 failed attempt(s)"),
        "{text}"
    );
    assert_eq!(exit.signal, "SIGUSR1");
    assert!(exit.stopped);
}

#[tokio::test(start_paused = true)]
async fn hup_applies_a_valid_reload_and_keeps_the_settings_on_an_invalid_one() {
    let sent = Arc::new(Mutex::new(Vec::new()));
    let start = Instant::now();
    let mut t = MockTransport::new();
    t.expect_describe().return_const("mock BMC".to_string());
    let s2 = sent.clone();
    t.expect_send().returning(move |r, _| {
        s2.lock()
            .unwrap()
            .push((start.elapsed().as_millis(), r.cmd, r.data.clone()));
        // The Get answers with whatever was last Set (use SMS/OS, running).
        let last_set = s2
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|(_, c, _)| *c == 0x24)
            .map(|(_, _, d)| d.clone())
            .unwrap_or_default();
        let data = if r.cmd == 0x25 {
            vec![
                0x44,
                last_set[1],
                0,
                0,
                last_set[4],
                last_set[5],
                last_set[4],
                last_set[5],
            ]
        } else {
            vec![]
        };
        Ok(Response {
            netfn: 0x07,
            cmd: r.cmd,
            cc: CompletionCode(0),
            data,
        })
    });
    let mut client = Client::new(t, Duration::from_secs(1));
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1_000)).await;
        let _ = tx.send(DaemonSignal::Hup);
        tokio::time::sleep(Duration::from_millis(1_000)).await;
        let _ = tx.send(DaemonSignal::Hup);
        tokio::time::sleep(Duration::from_millis(10_000)).await;
        let _ = tx.send(DaemonSignal::Term);
        std::future::pending::<()>().await;
    });
    // First SIGHUP: 30 s power cycle, pet every 5 s; second: an error.
    let mut calls = 0;
    let reload = move || {
        calls += 1;
        if calls == 1 {
            let mut set = set10();
            set.action = TimerAction::PowerCycle;
            set.initial_countdown = Countdown::from_ticks(300);
            let config = DaemonConfig::new(
                set,
                Some(Duration::from_secs(5)),
                OnExit::Stop,
                Duration::from_secs(2),
                None,
            )
            .unwrap();
            Ok(Some(Reloaded {
                config,
                warnings: vec!["a warning about it".into()],
            }))
        } else {
            Err("/etc/bmcwd/bmcwd.toml:3: key `timeout`: bad".into())
        }
    };
    let mut log = Capture::default();
    let exit = run(
        &mut client,
        &cfg(OnExit::Stop),
        rx,
        &mut log,
        no_reopen,
        reload,
    )
    .await
    .unwrap();
    let text = log.text();
    assert!(exit.stopped, "{text}");
    let sent = sent.lock().unwrap().clone();
    let sets: Vec<(u128, Vec<u8>)> = sent
        .iter()
        .filter(|(_, c, _)| *c == 0x24)
        .map(|(t, _, d)| (*t, d.clone()))
        .collect();
    // Armed at 0; the new timer at the first SIGHUP (1 s), not at the
    // second; the stop at 12 s with the new countdown.
    assert_eq!(
        sets,
        [
            (0, vec![0x44, 0x01, 0, 0, 0x64, 0]),
            (1_000, vec![0x44, 0x03, 0, 0, 0x2c, 0x01]),
            (12_000, vec![0x04, 0x00, 0, 0, 0x2c, 0x01]),
        ],
        "{text}"
    );
    let pets: Vec<u128> = sent
        .iter()
        .filter(|(_, c, _)| *c == 0x22)
        .map(|(t, _, _)| *t)
        .collect();
    // Pets every 5 s after the re-arming.
    assert_eq!(pets, [0, 1_000, 6_000, 11_000], "{text}");
    assert!(text.contains("warning: a warning about it"), "{text}");
    assert!(
        text.contains(
            "error: received SIGHUP: the configuration is invalid, keeping the current settings: \
             /etc/bmcwd/bmcwd.toml:3: key `timeout`: bad"
        ),
        "{text}"
    );
    assert!(
        text.contains("watchdog re-armed: 30.0 s countdown running"),
        "{text}"
    );
}
