//! The policy on virtual time against the crate's own [`Watchdog`] model.

use super::*;
use crate::{CompatProfile, Countdown, TimerPhase, TimerUse, Watchdog, WatchdogEvent};

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

fn cfg(on_exit: OnExit, rearm: bool) -> PolicyConfig {
    PolicyConfig {
        set: set10(),
        interval: Duration::from_secs(3),
        on_exit,
        max_backoff: Duration::from_secs(2),
        rearm,
    }
}

/// What the fake BMC does with the next command.
type Answer =
    Box<dyn FnMut(&PolicyCommand) -> Option<Result<(CompletionCode, Vec<u8>), TransportFault>>>;

/// A policy, a watchdog model and a clock; commands take 10 ms.
struct Rig {
    p: PetPolicy,
    wd: Watchdog,
    now: Instant,
    log: Vec<(LogPriority, String)>,
    sent: Vec<(u64, PolicyCommand)>,
    exit: Option<PolicyExit>,
    expired: Option<Instant>,
    /// Overrides the BMC's answer when it returns Some.
    fault: Answer,
    reopen_ok: bool,
    reopens: Vec<u64>,
}

impl Rig {
    fn new(c: PolicyConfig) -> Self {
        Self {
            p: PetPolicy::new(c, Instant::ZERO),
            wd: Watchdog::new(CompatProfile::Spec),
            now: Instant::ZERO,
            log: Vec::new(),
            sent: Vec::new(),
            exit: None,
            expired: None,
            fault: Box::new(|_| None),
            reopen_ok: true,
            reopens: Vec::new(),
        }
    }

    fn advance_wd(&mut self, to: Instant) {
        for e in self.wd.advance(to) {
            if let WatchdogEvent::Expired { at, .. } = e {
                self.expired.get_or_insert(at);
            }
        }
    }

    fn drain(&mut self) {
        while let Some(a) = self.p.poll_action() {
            match a {
                PolicyAction::Log(p, m) => self.log.push((p, m)),
                PolicyAction::Exit(e) => self.exit = Some(e),
                PolicyAction::Reopen => {
                    self.reopens.push(self.now.as_millis());
                    let r = if self.reopen_ok {
                        Ok(())
                    } else {
                        Err("refused")
                    };
                    self.p.on_reopened(self.now, r);
                }
                PolicyAction::Send(c) => {
                    self.sent.push((self.now.as_millis(), c));
                    self.now = self.now.saturating_add(Duration::from_millis(10));
                    let now = self.now;
                    self.advance_wd(now);
                    match (self.fault)(&c) {
                        Some(Ok((cc, data))) => self.p.on_response(now, cc, &data),
                        Some(Err(f)) => self.p.on_transport_error(now, f, "lost"),
                        None => {
                            let r = self.wd.handle(now, c.cmd(), &c.data()).unwrap();
                            self.p.on_response(now, r.cc, &r.data);
                        }
                    }
                }
            }
        }
    }

    /// Runs until `until` or the exit.
    fn run(&mut self, until: u64) {
        let until = Instant::from_millis(until);
        self.drain();
        while self.exit.is_none() {
            let Some(t) = self.p.next_deadline() else {
                break;
            };
            if t > until {
                break;
            }
            self.now = self.now.max(t);
            let now = self.now;
            self.advance_wd(now);
            self.p.tick(now);
            self.drain();
        }
        if self.now < until {
            self.now = until;
            self.advance_wd(until);
        }
    }

    fn signal(&mut self, s: DaemonSignal) {
        self.p.on_signal(self.now, s);
        self.drain();
    }

    fn text(&self) -> String {
        self.log
            .iter()
            .map(|(p, m)| format!("{}: {m}\n", p.name()))
            .collect()
    }

    fn cmds(&self) -> Vec<u8> {
        self.sent.iter().map(|(_, c)| c.cmd()).collect()
    }

    /// (time in ms, command byte) of what was sent from index `from` on.
    fn timed_cmds_since(&self, from: usize) -> Vec<(u64, u8)> {
        self.sent[from..]
            .iter()
            .map(|(t, c)| (*t, c.cmd()))
            .collect()
    }

    fn running(&self) -> bool {
        matches!(self.wd.state().phase, TimerPhase::Running { .. })
    }
}

#[test]
fn arms_pets_checks_every_cycle_and_stops_on_sigterm() {
    let mut r = Rig::new(cfg(OnExit::Stop, true));
    r.run(10_500);
    // Set, Reset, Get at 0; then Reset + Get at 3, 6, 9 s.
    assert_eq!(
        r.cmds(),
        [0x24, 0x22, 0x25, 0x22, 0x25, 0x22, 0x25, 0x22, 0x25]
    );
    let pets: Vec<u64> = r
        .sent
        .iter()
        .filter(|(_, c)| *c == PolicyCommand::Reset)
        .map(|(t, _)| *t)
        .collect();
    assert_eq!(pets, [10, 3_010, 6_010, 9_010]);
    assert!(r.running());
    r.signal(DaemonSignal::Term);
    assert_eq!(
        r.exit,
        Some(PolicyExit::Signal {
            signal: DaemonSignal::Term,
            stopped: true,
            pets: 3
        })
    );
    assert!(!r.running());
    assert!(r
        .text()
        .contains("received SIGTERM: stopping the watchdog timer (--on-exit stop)"));
    assert!(r.expired.is_none());
}

#[test]
fn every_terminating_signal_honours_on_exit_and_hup_is_ignored() {
    for sig in DaemonSignal::ALL {
        let mut r = Rig::new(cfg(OnExit::Stop, true));
        r.run(4_000);
        r.signal(sig);
        if sig == DaemonSignal::Hup {
            assert!(r.exit.is_none());
            assert!(
                r.text().contains("received SIGHUP: ignored"),
                "{}",
                r.text()
            );
            r.run(20_000);
            assert!(r.running() && r.expired.is_none());
        } else {
            assert!(
                matches!(r.exit, Some(PolicyExit::Signal { signal, stopped: true, .. }) if signal == sig),
                "{sig:?}"
            );
            assert!(!r.running(), "{sig:?} left the timer armed");
        }
    }
}

#[test]
fn a_signal_during_a_command_stops_after_its_answer() {
    let mut r = Rig::new(cfg(OnExit::Stop, true));
    r.run(3_000);
    let due = r.p.next_deadline().unwrap();
    r.p.tick(due);
    let Some(PolicyAction::Send(PolicyCommand::Reset)) = r.p.poll_action() else {
        panic!("pet expected")
    };
    r.p.on_signal(Instant::from_millis(3_001), DaemonSignal::Quit);
    assert!(r.p.poll_action().is_none(), "nothing until the answer");
    r.p.on_response(Instant::from_millis(3_010), CompletionCode::OK, &[]);
    r.now = Instant::from_millis(3_010);
    r.drain();
    assert!(matches!(
        r.exit,
        Some(PolicyExit::Signal {
            signal: DaemonSignal::Quit,
            stopped: true,
            ..
        })
    ));
}

#[test]
fn leave_sends_nothing_and_says_armed() {
    let mut r = Rig::new(cfg(OnExit::Leave, true));
    r.run(1_000);
    let n = r.sent.len();
    r.signal(DaemonSignal::Usr1);
    assert_eq!(r.sent.len(), n);
    assert!(r.running());
    assert!(r.text().contains(
        "warning: received SIGUSR1: leaving the watchdog timer ARMED (--on-exit leave): the BMC will hard-reset within 10.0 s"
    ));
}

#[test]
fn timer_stopped_by_someone_else_is_logged_and_rearmed() {
    let mut r = Rig::new(cfg(OnExit::Stop, true));
    r.run(4_000);
    // `ipmitool mc watchdog off` from another shell.
    let mut off = SetWatchdog::new(
        TimerUse::SmsOs,
        TimerAction::None,
        Countdown::from_ticks(100),
    );
    off.dont_stop = false;
    let resp = r.wd.handle(r.now, CMD_SET_WATCHDOG, &off.encode()).unwrap();
    assert!(resp.cc.is_ok());
    assert!(!r.running());
    r.run(30_000);
    let t = r.text();
    assert!(
        t.contains("timer-state check: the watchdog timer was reconfigured by someone else (Get: use sms-os, action none"),
        "{t}"
    );
    assert!(t.contains("re-arming"), "{t}");
    assert!(t.contains("watchdog re-armed"), "{t}");
    assert!(r.running() && r.expired.is_none());
    assert_eq!(r.wd.state().config.action, TimerAction::HardReset);
}

#[test]
fn no_rearm_logs_unwatched_and_does_not_restart_a_stopped_timer() {
    let mut r = Rig::new(cfg(OnExit::Stop, false));
    r.run(4_000);
    let mut off = set10();
    off.dont_stop = false;
    r.wd.handle(r.now, CMD_SET_WATCHDOG, &off.encode()).unwrap();
    r.run(30_000);
    let t = r.text();
    assert!(t.contains("was stopped by someone else"), "{t}");
    assert!(t.contains("this machine is NOT watched"), "{t}");
    assert_eq!(t.matches("NOT watched").count(), 1, "said once: {t}");
    assert!(!r.running(), "a Reset would have restarted it");
    // Only Gets after the stop was seen.
    let after: Vec<u8> = r
        .sent
        .iter()
        .filter(|(t, _)| *t > 6_100)
        .map(|(_, c)| c.cmd())
        .collect();
    assert!(after.iter().all(|&c| c == CMD_GET_WATCHDOG), "{after:?}");
}

#[test]
fn a_get_without_data_is_logged_and_petting_continues() {
    // The seed's incident: CC 0 with no data (freeipmi: "timer_state: data not available").
    let mut r = Rig::new(cfg(OnExit::Stop, true));
    r.fault = Box::new(|c| (*c == PolicyCommand::Get).then(|| Ok((CompletionCode::OK, vec![]))));
    r.run(60_000);
    assert!(
        r.text()
            .contains("Get Watchdog Timer answered 0 data byte(s)"),
        "{}",
        r.text()
    );
    assert!(r.expired.is_none());
    assert_eq!(r.p.pets(), 19);
}

#[test]
fn reset_refused_with_0xc1_pets_with_a_set_and_never_exits() {
    let mut r = Rig::new(cfg(OnExit::Stop, true));
    r.run(1_000);
    r.fault =
        Box::new(|c| (*c == PolicyCommand::Reset).then(|| Ok((CompletionCode(0xC1), vec![]))));
    r.run(120_000);
    assert!(r.exit.is_none(), "{}", r.text());
    let t = r.text();
    assert!(
        t.contains("petting with a don't-stop Set Watchdog Timer instead"),
        "{t}"
    );
    assert_eq!(t.matches("the BMC refuses the pet").count(), 1, "{t}");
    assert!(r.expired.is_none(), "{t}");
}

#[test]
fn refused_first_set_exits_with_the_code() {
    let mut r = Rig::new(cfg(OnExit::Stop, true));
    r.fault = Box::new(|c| {
        matches!(c, PolicyCommand::Set(_)).then(|| Ok((CompletionCode(0xCC), vec![])))
    });
    r.run(10_000);
    assert_eq!(
        r.exit,
        Some(PolicyExit::ArmRefused {
            cc: CompletionCode(0xCC)
        })
    );
    assert!(
        r.text().contains("error: Set Watchdog Timer failed: 0xCC"),
        "{}",
        r.text()
    );
}

#[test]
fn lost_transport_reopens_with_bounded_backoff() {
    let mut r = Rig::new(cfg(OnExit::Stop, true));
    r.run(1_000);
    // The connection breaks for good: every re-open fails until 20 s.
    r.fault = Box::new(|_| Some(Err(TransportFault::Lost)));
    r.reopen_ok = false;
    r.run(7_000);
    let gaps: Vec<u64> = r.reopens.windows(2).map(|w| w[1] - w[0]).collect();
    assert_eq!(r.reopens.first(), Some(&3_520));
    assert_eq!(gaps, [1_000, 2_000]);
    r.reopen_ok = true;
    r.fault = Box::new(|_| None);
    r.run(9_600);
    let t = r.text();
    assert!(t.contains("re-opening the connection in 0.5 s"), "{t}");
    assert!(t.contains("connection re-opened"), "{t}");
    assert!(
        t.contains("BMC answering again after 4 failed attempt(s)"),
        "{t}"
    );
    assert_eq!(r.reopens.last(), Some(&8_520));
    assert!(r.expired.is_none());
}

#[test]
fn reset_answering_0x80_resends_the_set() {
    let mut r = Rig::new(cfg(OnExit::Leave, true));
    r.run(1_000);
    // The BMC resets: the watchdog forgets its configuration.
    r.wd = Watchdog::new(CompatProfile::Spec);
    r.run(4_000);
    let t = r.text();
    assert!(t.contains("Reset answered 0x80"), "{t}");
    assert!(t.contains("re-sent the Set 1 time(s)"), "{t}");
    assert!(r.running());
}

#[test]
fn transient_answers_back_off_doubling_up_to_the_cap() {
    let mut r = Rig::new(cfg(OnExit::Leave, true));
    r.run(1_000);
    let mut n = 0;
    r.fault = Box::new(move |c| {
        (*c == PolicyCommand::Reset && {
            n += 1;
            n <= 5
        })
        .then(|| Ok((CompletionCode(0xC0), vec![])))
    });
    r.run(12_000);
    let pets: Vec<u64> = r
        .sent
        .iter()
        .filter(|(_, c)| *c == PolicyCommand::Reset)
        .map(|(t, _)| *t)
        .collect();
    assert_eq!(pets[1..7], [3_010, 3_520, 4_530, 6_540, 8_550, 10_560]);
    assert!(r.text().contains("retrying in 0.5 s"));
    assert!(r
        .text()
        .contains("BMC answering again after 5 failed attempt(s)"));
}

#[test]
fn backoff_doubles_and_is_capped_by_max_and_interval() {
    let c = PolicyConfig {
        max_backoff: Duration::from_secs(8),
        ..cfg(OnExit::Stop, true)
    };
    let d: Vec<u128> = (1..=7).map(|n| c.backoff(n).as_millis()).collect();
    assert_eq!(d, vec![500, 1000, 2000, 3000, 3000, 3000, 3000]);
    assert_eq!(c.backoff(u32::MAX), Duration::from_secs(3));
}

#[test]
fn a_failed_stop_is_retried_until_it_succeeds_or_a_countdown_has_passed() {
    let mut r = Rig::new(cfg(OnExit::Stop, true));
    r.run(4_000);
    // The first three stop Sets time out: retried, then it succeeds.
    let mut n = 0;
    r.fault = Box::new(move |c| {
        n += 1;
        (matches!(c, PolicyCommand::Set(_)) && n < 4).then_some(Err(TransportFault::Timeout))
    });
    r.signal(DaemonSignal::Term);
    r.run(20_000);
    let t = r.text();
    assert!(
        t.contains("could not stop the watchdog timer (attempt 1)"),
        "{t}"
    );
    assert!(
        matches!(r.exit, Some(PolicyExit::Signal { stopped: true, .. })),
        "{t}"
    );
    assert!(!r.running() && r.expired.is_none(), "{t}");

    // A BMC that never answers: give up one countdown after the signal.
    let mut r = Rig::new(cfg(OnExit::Stop, true));
    r.run(4_000);
    r.fault = Box::new(|_| Some(Err(TransportFault::Timeout)));
    r.signal(DaemonSignal::Usr2);
    r.run(30_000);
    assert!(matches!(
        r.exit,
        Some(PolicyExit::StopFailed {
            signal: DaemonSignal::Usr2
        })
    ));
    let last = r.sent.last().map(|s| s.0).unwrap_or(0);
    assert!(last < 14_000, "retried for one countdown only: {last}");
    assert!(r.text().contains("may still be ARMED"));
}

#[test]
fn a_reload_with_a_new_timer_rearms_at_once_and_pets_at_the_new_interval() {
    let mut r = Rig::new(cfg(OnExit::Stop, true));
    r.run(4_000);
    let before = r.sent.len();
    let mut new = cfg(OnExit::Stop, true);
    new.set.initial_countdown = Countdown::from_ticks(300);
    new.interval = Duration::from_secs(10);
    r.p.reconfigure(r.now, new);
    r.drain();
    assert!(
        r.text().contains(
            "configuration reloaded: timer use sms-os, action hard-reset, countdown 30.0 s, \
             interval 10.0 s; re-arming with the new timer settings"
        ),
        "{}",
        r.text()
    );
    r.run(25_000);
    let after = r.timed_cmds_since(before);
    // Set + Reset + Get at once (4 s), then pets 10 s after the arming.
    assert_eq!(
        after,
        [
            (4_000, 0x24),
            (4_010, 0x22),
            (4_020, 0x25),
            (14_010, 0x22),
            (14_020, 0x25),
            (24_010, 0x22),
            (24_020, 0x25)
        ]
    );
    assert_eq!(
        r.wd.state().config.initial_countdown,
        Countdown::from_ticks(300)
    );
    assert!(r
        .text()
        .contains("watchdog re-armed: 30.0 s countdown running"));
    assert!(r.running() && r.expired.is_none());
    assert_eq!(r.p.config(), &new);
}

#[test]
fn a_reload_of_the_interval_only_moves_the_next_pet_without_a_set() {
    let mut r = Rig::new(cfg(OnExit::Stop, true));
    r.run(4_000);
    let before = r.sent.len();
    let mut new = cfg(OnExit::Stop, true);
    new.interval = Duration::from_secs(1);
    r.p.reconfigure(r.now, new);
    r.drain();
    r.run(6_500);
    let pets = r.timed_cmds_since(before);
    // The last pet was at 3.01 s: the next one is due at 4.01 s, then every second.
    assert_eq!(
        pets,
        [
            (4_010, 0x22),
            (4_020, 0x25),
            (5_010, 0x22),
            (5_020, 0x25),
            (6_010, 0x22),
            (6_020, 0x25)
        ]
    );
    assert!(r
        .text()
        .contains("configuration reloaded: interval 1.0 s\n"));
}

#[test]
fn an_unchanged_reload_says_so_and_changes_nothing() {
    let mut r = Rig::new(cfg(OnExit::Stop, true));
    r.run(4_000);
    let due = r.p.next_deadline();
    r.p.reconfigure(r.now, cfg(OnExit::Stop, true));
    r.drain();
    assert_eq!(r.p.next_deadline(), due);
    assert!(r
        .text()
        .contains("configuration reloaded: nothing changed; still petting"));
}

#[test]
fn a_reload_during_a_command_waits_for_its_answer() {
    let mut r = Rig::new(cfg(OnExit::Stop, true));
    r.run(3_000);
    let due = r.p.next_deadline().unwrap();
    r.p.tick(due);
    let Some(PolicyAction::Send(PolicyCommand::Reset)) = r.p.poll_action() else {
        panic!("pet expected")
    };
    let mut new = cfg(OnExit::Leave, true);
    new.set.action = TimerAction::PowerCycle;
    r.p.reconfigure(Instant::from_millis(3_001), new);
    assert!(r.p.poll_action().is_none(), "nothing until the answer");
    r.now = Instant::from_millis(3_010);
    let now = r.now;
    r.advance_wd(now);
    let a = r.wd.handle(now, CMD_RESET_WATCHDOG, &[]).unwrap();
    r.p.on_response(now, a.cc, &a.data);
    // The pet's timer-state check is outstanding now: still waiting.
    assert_eq!(
        r.p.poll_action(),
        Some(PolicyAction::Send(PolicyCommand::Get))
    );
    assert!(!r.text().contains("reloaded"));
    r.now = Instant::from_millis(3_020);
    let now = r.now;
    let g = r.wd.handle(now, CMD_GET_WATCHDOG, &[]).unwrap();
    r.p.on_response(now, g.cc, &g.data);
    // Then the reload, and the new Set due at once.
    assert_eq!(
        r.p.poll_action(),
        Some(PolicyAction::Log(
            LogPriority::Notice,
            "configuration reloaded: timer use sms-os, action power-cycle, countdown 10.0 s, \
             on exit: leave; re-arming with the new timer settings"
                .into()
        ))
    );
    assert_eq!(r.p.poll_action(), None);
    assert_eq!(r.p.next_deadline(), Some(now));
    r.run(3_100);
    assert_eq!(r.wd.state().config.action, TimerAction::PowerCycle);
    r.signal(DaemonSignal::Term);
    assert!(matches!(
        r.exit,
        Some(PolicyExit::Signal { stopped: false, .. })
    ));
}

#[test]
fn a_reload_while_reopening_arms_the_new_timer_after_the_reopen() {
    let mut r = Rig::new(cfg(OnExit::Stop, true));
    r.run(4_000);
    r.fault = Box::new(|c| (c.cmd() == CMD_RESET_WATCHDOG).then_some(Err(TransportFault::Lost)));
    r.run(6_100);
    assert_eq!(r.reopens, Vec::<u64>::new());
    assert!(matches!(
        r.p.phase,
        Phase::Due {
            step: Step::Reopen,
            ..
        }
    ));
    r.fault = Box::new(|_| None);
    let mut new = cfg(OnExit::Stop, true);
    new.set.initial_countdown = Countdown::from_ticks(200);
    r.p.reconfigure(r.now, new);
    r.drain();
    let before = r.sent.len();
    r.run(8_000);
    assert_eq!(r.reopens.len(), 1);
    assert_eq!(r.sent[before].1, PolicyCommand::Set(new.set));
    assert_eq!(
        r.wd.state().config.initial_countdown,
        Countdown::from_ticks(200)
    );
}
