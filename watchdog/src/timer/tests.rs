//! Unit tests of the timer model: every completion-code path and each
//! compatibility-profile deviation.

use super::*;
use crate::codec::CMD_CLEAR_MESSAGE_FLAGS;

fn ms(v: u64) -> Instant {
    Instant::from_millis(v)
}

fn set_req(action: TimerAction, ticks: u16) -> SetWatchdog {
    SetWatchdog::new(TimerUse::SmsOs, action, Countdown::from_ticks(ticks))
}

fn with_pre(irq: PreTimeoutInterrupt, secs: u8, ticks: u16) -> SetWatchdog {
    SetWatchdog {
        pretimeout_irq: irq,
        pretimeout_secs: secs,
        ..set_req(TimerAction::HardReset, ticks)
    }
}

fn armed(profile: CompatProfile, req: SetWatchdog, at: Instant) -> Watchdog {
    let mut wd = Watchdog::new(profile);
    wd.set(at, &req).unwrap();
    wd.reset(at).unwrap();
    wd
}

fn present(wd: &mut Watchdog, now: Instant) -> Option<u16> {
    wd.get(now).present_countdown.map(Countdown::ticks)
}

// ---- completion codes -------------------------------------------------------

#[test]
fn reset_before_set_is_0x80_in_every_profile() {
    for p in CompatProfile::ALL {
        let mut wd = Watchdog::new(p);
        assert_eq!(wd.reset(ms(0)), Err(CC_WATCHDOG_NOT_INITIALIZED), "{p}");
        let r = wd.handle(ms(0), CMD_RESET_WATCHDOG, &[]).unwrap();
        assert_eq!(r.cc, CompletionCode(0x80));
        assert!(r.data.is_empty());
        assert!(!wd.is_running());
    }
}

#[test]
fn bmc_reset_uninitialises() {
    let mut wd = armed(
        CompatProfile::Spec,
        set_req(TimerAction::HardReset, 100),
        ms(0),
    );
    wd.bmc_reset(false);
    assert!(!wd.is_running());
    assert!(!wd.is_initialized());
    assert_eq!(wd.reset(ms(1)), Err(CC_WATCHDOG_NOT_INITIALIZED));
    assert_eq!(wd.get(ms(1)).timer_use, None);
}

#[test]
fn bmc_reset_keeps_or_clears_expiration_flags() {
    let mut wd = armed(CompatProfile::Spec, set_req(TimerAction::None, 1), ms(0));
    assert_eq!(wd.advance(ms(100)).len(), 1);
    let mut kept = wd.clone();
    kept.bmc_reset(true);
    assert_eq!(kept.expiration_flags(), ExpirationFlags::SMS_OS);
    wd.bmc_reset(false);
    assert_eq!(wd.expiration_flags(), ExpirationFlags::empty());
}

#[test]
fn set_length_codes_through_handle() {
    for p in CompatProfile::ALL {
        let mut wd = Watchdog::new(p);
        let r = wd
            .handle(ms(0), CMD_SET_WATCHDOG, &[4, 1, 0, 0, 10])
            .unwrap();
        assert_eq!(r.cc, CompletionCode::REQUEST_DATA_LENGTH_INVALID, "{p}");
        assert!(
            !wd.is_initialized(),
            "{p}: a rejected Set must not initialise"
        );
        let r = wd
            .handle(ms(0), CMD_SET_WATCHDOG, &[4, 1, 0, 0, 10, 0, 0])
            .unwrap();
        let expect = match p {
            CompatProfile::Qemu | CompatProfile::OpenIpmiLanserv => CompletionCode::OK,
            _ => CompletionCode::REQUEST_DATA_LENGTH_INVALID,
        };
        assert_eq!(r.cc, expect, "{p}");
    }
}

#[test]
fn set_invalid_field_codes_through_handle() {
    for p in CompatProfile::ALL {
        let mut wd = Watchdog::new(p);
        for bad in [
            [0u8, 1, 0, 0, 10, 0],
            [7, 1, 0, 0, 10, 0],
            [4, 5, 0, 0, 10, 0],
            [4, 0x41, 0, 0, 10, 0],
        ] {
            let r = wd.handle(ms(0), CMD_SET_WATCHDOG, &bad).unwrap();
            assert_eq!(r.cc, CompletionCode::INVALID_DATA_FIELD, "{p} {bad:02x?}");
        }
        assert!(!wd.is_initialized());
    }
}

#[test]
fn extra_bytes_on_reset_and_get() {
    for p in CompatProfile::ALL {
        let mut wd = Watchdog::new(p);
        wd.set(ms(0), &set_req(TimerAction::HardReset, 50)).unwrap();
        let strict = matches!(p, CompatProfile::Spec | CompatProfile::PhosphorWatchdog);
        let r = wd.handle(ms(0), CMD_RESET_WATCHDOG, &[0]).unwrap();
        let g = wd.handle(ms(0), CMD_GET_WATCHDOG, &[0]).unwrap();
        if strict {
            assert_eq!(r.cc, CompletionCode::REQUEST_DATA_LENGTH_INVALID, "{p}");
            assert!(!wd.is_running());
            assert_eq!(g.cc, CompletionCode::REQUEST_DATA_LENGTH_INVALID, "{p}");
            assert!(g.data.is_empty());
        } else {
            assert_eq!(r.cc, CompletionCode::OK, "{p}");
            assert!(wd.is_running());
            assert_eq!(g.cc, CompletionCode::OK, "{p}");
        }
    }
}

#[test]
fn handle_leaves_other_commands_to_the_bmc() {
    let mut wd = Watchdog::new(CompatProfile::Spec);
    assert!(wd.handle(ms(0), 0x01, &[]).is_none());
    assert!(wd.handle(ms(0), CMD_CLEAR_MESSAGE_FLAGS, &[8]).is_none());
    assert!(wd
        .handle(ms(0), crate::codec::CMD_GET_MESSAGE_FLAGS, &[])
        .is_none());
}

#[test]
fn spec_reset_after_pretimeout_is_refused_with_d5() {
    let req = with_pre(PreTimeoutInterrupt::Messaging, 2, 100);
    let mut wd = armed(CompatProfile::Spec, req, ms(0));
    let evs: Vec<_> = wd.advance(ms(8_000)).collect();
    assert!(matches!(evs[..], [WatchdogEvent::PreTimeout { .. }]));
    let r = wd.handle(ms(8_500), CMD_RESET_WATCHDOG, &[]).unwrap();
    assert_eq!(r.cc, CC_RESET_AFTER_PRETIMEOUT);
    assert_eq!(r.cc, CompletionCode(0xD5));
    // Still expires at the original instant.
    assert_eq!(wd.next_deadline(), Some(ms(10_000)));
    // A Set with don't-stop reloads it (what Linux does after a pre-timeout).
    let reload = SetWatchdog {
        dont_stop: true,
        ..req
    };
    wd.set(ms(9_000), &reload).unwrap();
    assert_eq!(wd.next_deadline(), Some(ms(17_000)));
    assert_eq!(wd.reset(ms(9_100)), Ok(()));
}

#[test]
fn response_bytes_are_cc_then_data() {
    let mut wd = armed(
        CompatProfile::Spec,
        set_req(TimerAction::HardReset, 100),
        ms(0),
    );
    let r = wd.handle(ms(1_000), CMD_GET_WATCHDOG, &[]).unwrap();
    let (buf, len) = r.bytes();
    assert_eq!(
        &buf[..len],
        &[0x00, 0x44, 0x01, 0x00, 0x00, 0x64, 0x00, 0x5A, 0x00]
    );
    let r = Watchdog::new(CompatProfile::Spec)
        .handle(ms(0), CMD_RESET_WATCHDOG, &[])
        .unwrap();
    let (buf, len) = r.bytes();
    assert_eq!(&buf[..len], &[0x80]);
}

// ---- spec semantics ---------------------------------------------------------

#[test]
fn set_stops_a_running_timer_unless_dont_stop() {
    let mut wd = armed(
        CompatProfile::Spec,
        set_req(TimerAction::HardReset, 100),
        ms(0),
    );
    wd.set(ms(3_000), &set_req(TimerAction::HardReset, 50))
        .unwrap();
    assert!(!wd.is_running());
    assert_eq!(wd.next_deadline(), None);
    let g = wd.get(ms(4_000));
    assert!(!g.running);
    assert_eq!(g.present_countdown, Some(Countdown::from_ticks(50)));

    let mut wd = armed(
        CompatProfile::Spec,
        set_req(TimerAction::HardReset, 100),
        ms(0),
    );
    let keep = SetWatchdog {
        dont_stop: true,
        ..set_req(TimerAction::PowerDown, 50)
    };
    wd.set(ms(3_000), &keep).unwrap();
    assert!(wd.is_running());
    assert_eq!(wd.next_deadline(), Some(ms(8_000)));
    assert_eq!(present(&mut wd, ms(3_000)), Some(50));
}

#[test]
fn dont_stop_on_a_stopped_timer_keeps_it_stopped() {
    let mut wd = Watchdog::new(CompatProfile::Spec);
    let keep = SetWatchdog {
        dont_stop: true,
        ..set_req(TimerAction::HardReset, 50)
    };
    wd.set(ms(0), &keep).unwrap();
    assert!(!wd.is_running());
    assert!(wd.advance(ms(100_000)).is_empty());
}

#[test]
fn present_countdown_decrements_per_100ms_and_expiry_is_exact() {
    let mut wd = armed(
        CompatProfile::Spec,
        set_req(TimerAction::HardReset, 100),
        ms(0),
    );
    assert_eq!(present(&mut wd, ms(0)), Some(100));
    assert_eq!(present(&mut wd, Instant::from_nanos(1)), Some(100));
    assert_eq!(present(&mut wd, ms(100)), Some(99));
    assert_eq!(present(&mut wd, ms(9_950)), Some(1));
    assert!(wd.advance(Instant::from_nanos(9_999_999_999)).is_empty());
    let evs: Vec<_> = wd.advance(ms(10_000)).collect();
    assert_eq!(evs.len(), 1);
    assert_eq!(evs[0].at(), ms(10_000));
    assert_eq!(present(&mut wd, ms(10_000)), Some(0));
    assert!(wd.advance(ms(20_000)).is_empty(), "fires exactly once");
}

#[test]
fn zero_countdown_expires_immediately_on_reset() {
    let mut wd = armed(
        CompatProfile::Spec,
        set_req(TimerAction::HardReset, 0),
        ms(5),
    );
    assert_eq!(wd.next_deadline(), Some(ms(5)));
    let evs: Vec<_> = wd.advance(ms(5)).collect();
    assert!(matches!(evs[..], [WatchdogEvent::Expired { .. }]));
}

#[test]
fn expiry_sets_flag_logs_sel_and_clears_dont_log() {
    let req = SetWatchdog {
        pretimeout_irq: PreTimeoutInterrupt::Nmi,
        ..set_req(TimerAction::PowerDown, 10)
    };
    let mut wd = armed(CompatProfile::Spec, req, ms(0));
    let evs: Vec<_> = wd.advance(ms(1_000)).collect();
    // pretimeout 0: pre-timeout fires together with (just before) the expiry.
    assert_eq!(evs.len(), 2);
    match evs[0] {
        WatchdogEvent::PreTimeout {
            at, interrupt, sel, ..
        } => {
            assert_eq!(at, ms(1_000));
            assert_eq!(interrupt, PreTimeoutInterrupt::Nmi);
            let sel = sel.unwrap();
            assert_eq!(sel.offset, WatchdogOffset::TimerInterrupt);
            assert_eq!(sel.event_data, [0xC8, 0x24, 0xFF]);
        }
        other => panic!("{other:?}"),
    }
    match evs[1] {
        WatchdogEvent::Expired {
            at,
            action,
            timer_use,
            sel,
        } => {
            assert_eq!(at, ms(1_000));
            assert_eq!(action, TimerAction::PowerDown);
            assert_eq!(timer_use, TimerUse::SmsOs);
            let sel = sel.unwrap();
            assert_eq!(sel.offset, WatchdogOffset::PowerDown);
            assert_eq!(sel.event_data, [0xC2, 0x24, 0xFF]);
            let rec = sel.record(7, 0, 0x0020, 0);
            assert_eq!(rec[10], 0x23);
            assert_eq!(rec[12], 0x6F);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(wd.expiration_flags(), ExpirationFlags::SMS_OS);

    // Don't-log: no SEL record, flag still set, don't-log cleared after.
    let quiet = SetWatchdog {
        dont_log: true,
        ..set_req(TimerAction::None, 1)
    };
    let mut wd = armed(CompatProfile::Spec, quiet, ms(0));
    assert!(wd.get(ms(0)).dont_log);
    let evs: Vec<_> = wd.advance(ms(100)).collect();
    assert!(matches!(
        evs[..],
        [WatchdogEvent::Expired { sel: None, .. }]
    ));
    assert_eq!(wd.expiration_flags(), ExpirationFlags::SMS_OS);
    assert!(!wd.get(ms(100)).dont_log);
}

#[test]
fn set_clears_requested_expiration_flags_only() {
    let mut wd = Watchdog::new(CompatProfile::Spec);
    for u in [TimerUse::Frb2, TimerUse::OsLoad] {
        let r = SetWatchdog::new(u, TimerAction::None, Countdown::ZERO);
        wd.set(ms(0), &r).unwrap();
        wd.reset(ms(0)).unwrap();
        assert_eq!(wd.advance(ms(0)).len(), 1);
    }
    assert_eq!(
        wd.expiration_flags(),
        ExpirationFlags::FRB2 | ExpirationFlags::OS_LOAD
    );
    let clear = SetWatchdog {
        clear_flags: ExpirationFlags::FRB2,
        ..set_req(TimerAction::None, 5)
    };
    wd.set(ms(1), &clear).unwrap();
    assert_eq!(wd.get(ms(1)).expiration_flags, ExpirationFlags::OS_LOAD);
}

#[test]
fn pretimeout_fires_before_expiry_and_sets_message_flag() {
    let req = with_pre(PreTimeoutInterrupt::Messaging, 3, 100);
    let mut wd = armed(CompatProfile::Spec, req, ms(0));
    assert_eq!(wd.next_deadline(), Some(ms(7_000)));
    assert!(wd.advance(ms(6_999)).is_empty());
    assert_eq!(wd.message_flags(), MessageFlags::empty());
    let evs: Vec<_> = wd.advance(ms(7_000)).collect();
    assert!(matches!(
        evs[..],
        [WatchdogEvent::PreTimeout {
            interrupt: PreTimeoutInterrupt::Messaging,
            ..
        }]
    ));
    assert_eq!(wd.message_flags(), MessageFlags::WATCHDOG_PRETIMEOUT);
    assert_eq!(wd.next_deadline(), Some(ms(10_000)));
    wd.clear_message_flags(MessageFlags::RECEIVE_MESSAGE);
    assert_eq!(wd.message_flags(), MessageFlags::WATCHDOG_PRETIMEOUT);
    wd.clear_message_flags(MessageFlags::WATCHDOG_PRETIMEOUT);
    assert_eq!(wd.message_flags(), MessageFlags::empty());
}

#[test]
fn spec_set_clears_the_pretimeout_flag() {
    let req = with_pre(PreTimeoutInterrupt::Messaging, 3, 100);
    let mut wd = armed(CompatProfile::Spec, req, ms(0));
    wd.advance(ms(7_000));
    assert_eq!(wd.message_flags(), MessageFlags::WATCHDOG_PRETIMEOUT);
    wd.set(ms(7_500), &req).unwrap();
    assert_eq!(wd.message_flags(), MessageFlags::empty());
}

#[test]
fn pretimeout_longer_than_countdown_fires_at_arming() {
    let req = with_pre(PreTimeoutInterrupt::Nmi, 5, 20);
    let mut wd = armed(CompatProfile::Spec, req, ms(1_000));
    assert_eq!(wd.next_deadline(), Some(ms(1_000)));
    let evs: Vec<_> = wd.advance(ms(1_000)).collect();
    assert!(matches!(evs[..], [WatchdogEvent::PreTimeout { .. }]));
    assert_eq!(wd.next_deadline(), Some(ms(3_000)));
}

#[test]
fn handle_reports_events_that_fell_due() {
    let mut wd = armed(
        CompatProfile::Spec,
        set_req(TimerAction::HardReset, 10),
        ms(0),
    );
    let r = wd.handle(ms(5_000), CMD_RESET_WATCHDOG, &[]).unwrap();
    assert_eq!(r.cc, CompletionCode::OK);
    let evs: Vec<_> = r.events.collect();
    assert!(matches!(evs[..], [WatchdogEvent::Expired { .. }]));
    assert_eq!(evs[0].at(), ms(1_000));
    // The Reset came after the expiry: it re-armed the timer.
    assert_eq!(wd.next_deadline(), Some(ms(6_000)));
}

#[test]
fn system_reset_stops_timer_and_clears_flag_in_spec() {
    let req = SetWatchdog {
        dont_log: true,
        ..with_pre(PreTimeoutInterrupt::Messaging, 1, 50)
    };
    let mut wd = armed(CompatProfile::Spec, req, ms(0));
    wd.advance(ms(4_000));
    assert_eq!(wd.message_flags(), MessageFlags::WATCHDOG_PRETIMEOUT);
    wd.system_reset(ms(4_200));
    assert!(!wd.is_running());
    assert_eq!(wd.message_flags(), MessageFlags::empty());
    let g = wd.get(ms(4_200));
    assert!(!g.dont_log);
    assert_eq!(g.present_countdown, Some(Countdown::from_ticks(8)));
    // Still initialised: a Reset restarts it.
    assert_eq!(wd.reset(ms(5_000)), Ok(()));
    wd.system_power_down(ms(5_100));
    assert!(!wd.is_running());
}

// ---- profile deviations -----------------------------------------------------

#[test]
fn qemu_and_lanserv_no_action_reset_does_not_run() {
    for p in [CompatProfile::Qemu, CompatProfile::OpenIpmiLanserv] {
        let mut wd = armed(p, set_req(TimerAction::None, 10), ms(0));
        assert!(!wd.is_running(), "{p}");
        assert!(wd.advance(ms(60_000)).is_empty());
    }
    for p in [CompatProfile::Spec, CompatProfile::PhosphorWatchdog] {
        let mut wd = armed(p, set_req(TimerAction::None, 10), ms(0));
        let evs: Vec<_> = wd.advance(ms(60_000)).collect();
        assert!(
            matches!(
                evs[..],
                [WatchdogEvent::Expired {
                    action: TimerAction::None,
                    ..
                }]
            ),
            "{p}"
        );
    }
}

#[test]
fn qemu_get_echoes_dont_stop_and_zero_when_stopped() {
    let mut wd = Watchdog::new(CompatProfile::Qemu);
    let req = SetWatchdog {
        dont_stop: true,
        ..set_req(TimerAction::HardReset, 100)
    };
    wd.set(ms(0), &req).unwrap();
    let g = wd.get(ms(0));
    assert!(g.running, "bit 6 echoes don't-stop although stopped");
    assert_eq!(g.present_countdown, Some(Countdown::ZERO));
    wd.set(ms(0), &set_req(TimerAction::HardReset, 100))
        .unwrap();
    wd.reset(ms(0)).unwrap();
    let g = wd.get(ms(0));
    assert!(!g.running, "bit 6 echoes don't-stop = 0 although running");
    assert_eq!(g.present_countdown, Some(Countdown::from_ticks(100)));
}

#[test]
fn qemu_rounds_to_nearest_and_counts_to_the_pretimeout() {
    let mut wd = armed(
        CompatProfile::Qemu,
        set_req(TimerAction::HardReset, 100),
        ms(0),
    );
    // 9.95 s left rounds half up to 100; 9.949 s to 99.
    assert_eq!(present(&mut wd, ms(50)), Some(100));
    assert_eq!(present(&mut wd, ms(51)), Some(99));
    assert_eq!(present(&mut wd, ms(9_960)), Some(0), "Spec would say 1");
    let req = with_pre(PreTimeoutInterrupt::Messaging, 3, 100);
    let mut wd = armed(CompatProfile::Qemu, req, ms(0));
    assert_eq!(present(&mut wd, ms(0)), Some(70), "off by the pre-timeout");
    wd.advance(ms(7_000));
    assert_eq!(present(&mut wd, ms(7_000)), Some(30));
    assert_eq!(wd.next_deadline(), Some(ms(10_000)));
}

#[test]
fn qemu_pretimeout_longer_than_countdown_delays_expiry() {
    let req = with_pre(PreTimeoutInterrupt::Nmi, 5, 20);
    let mut wd = armed(CompatProfile::Qemu, req, ms(0));
    let evs: Vec<_> = wd.advance(ms(0)).collect();
    assert!(matches!(evs[..], [WatchdogEvent::PreTimeout { .. }]));
    assert_eq!(
        wd.next_deadline(),
        Some(ms(5_000)),
        "total 5 s > countdown 2 s"
    );
    let mut lan = armed(
        CompatProfile::OpenIpmiLanserv,
        with_pre(PreTimeoutInterrupt::Messaging, 5, 20),
        ms(0),
    );
    lan.advance(ms(0));
    assert_eq!(
        lan.next_deadline(),
        Some(ms(2_000)),
        "lanserv keeps the countdown"
    );
}

#[test]
fn qemu_rejects_power_cycle_and_smi() {
    let mut wd = Watchdog::new(CompatProfile::Qemu);
    assert_eq!(
        wd.set(ms(0), &set_req(TimerAction::PowerCycle, 10)),
        Err(CompletionCode::INVALID_DATA_FIELD)
    );
    assert_eq!(
        wd.set(ms(0), &with_pre(PreTimeoutInterrupt::Smi, 1, 100)),
        Err(CompletionCode::INVALID_DATA_FIELD)
    );
    assert!(!wd.is_initialized());
    assert_eq!(
        wd.set(ms(0), &with_pre(PreTimeoutInterrupt::Nmi, 1, 100)),
        Ok(())
    );
    let mut spec = Watchdog::new(CompatProfile::Spec);
    assert_eq!(
        spec.set(ms(0), &set_req(TimerAction::PowerCycle, 10)),
        Ok(())
    );
    assert_eq!(
        spec.set(ms(0), &with_pre(PreTimeoutInterrupt::Smi, 1, 100)),
        Ok(())
    );
}

#[test]
fn lanserv_rejects_smi_and_nmi() {
    let mut wd = Watchdog::new(CompatProfile::OpenIpmiLanserv);
    for irq in [PreTimeoutInterrupt::Smi, PreTimeoutInterrupt::Nmi] {
        assert_eq!(
            wd.set(ms(0), &with_pre(irq, 1, 100)),
            Err(CompletionCode::INVALID_DATA_FIELD)
        );
    }
    assert_eq!(wd.set(ms(0), &set_req(TimerAction::PowerCycle, 10)), Ok(()));
}

#[test]
fn qemu_and_lanserv_set_keeps_pretimeout_flag_and_reset_restarts_fully() {
    for p in [CompatProfile::Qemu, CompatProfile::OpenIpmiLanserv] {
        let req = with_pre(PreTimeoutInterrupt::Messaging, 2, 100);
        let mut wd = armed(p, req, ms(0));
        wd.advance(ms(8_000));
        assert_eq!(wd.message_flags(), MessageFlags::WATCHDOG_PRETIMEOUT, "{p}");
        assert_eq!(wd.reset(ms(8_500)), Ok(()), "{p}: restarts fully");
        if p.rearm_keeps_queued_timer() {
            // lanserv: the expiry timer queued at the pre-action (10 s) stays
            // (sel_start_timer EBUSY); when it runs the re-armed pre-action
            // fires again, and the expiry follows at 18.5 s (10 s after the
            // Reset) all the same.
            assert_eq!(wd.next_deadline(), Some(ms(10_000)), "{p}");
            let mut probe = wd.clone();
            let evs: Vec<_> = probe.advance(ms(20_000)).collect();
            assert_eq!(evs.len(), 2, "{p}: {evs:?}");
            assert_eq!(evs[1].at(), ms(18_500), "{p}");
        } else {
            assert_eq!(wd.next_deadline(), Some(ms(16_500)));
        }
        wd.set(ms(9_000), &req).unwrap();
        assert_eq!(
            wd.message_flags(),
            MessageFlags::WATCHDOG_PRETIMEOUT,
            "{p}: Set keeps the flag"
        );
    }
}

#[test]
fn qemu_logs_each_offset_once_and_uses_ed2_unspecified() {
    let req = with_pre(PreTimeoutInterrupt::Messaging, 1, 20);
    let mut wd = armed(CompatProfile::Qemu, req, ms(0));
    let evs: Vec<_> = wd.advance(ms(10_000)).collect();
    assert_eq!(evs.len(), 2);
    assert_eq!(evs[0].sel().unwrap().event_data, [0xC8, 0x3F, 0xFF]);
    assert_eq!(evs[1].sel().unwrap().event_data, [0xC1, 0x04, 0xFF]);
    wd.reset(ms(10_000)).unwrap();
    let evs: Vec<_> = wd.advance(ms(20_000)).collect();
    assert_eq!(evs.len(), 2);
    assert!(
        evs.iter().all(|e| e.sel().is_none()),
        "sticky assertion: logged once per run"
    );
    // QEMU honours don't-log but never clears it.
    let quiet = SetWatchdog {
        dont_log: true,
        ..set_req(TimerAction::PowerDown, 1)
    };
    let mut wd = armed(CompatProfile::Qemu, quiet, ms(0));
    let evs: Vec<_> = wd.advance(ms(100)).collect();
    assert_eq!(evs[0].sel(), None);
    assert!(wd.get(ms(100)).dont_log);
}

#[test]
fn lanserv_get_has_six_bytes_and_ignores_dont_log() {
    let quiet = SetWatchdog {
        dont_log: true,
        ..set_req(TimerAction::PowerCycle, 1)
    };
    let mut wd = armed(CompatProfile::OpenIpmiLanserv, quiet, ms(0));
    let r = wd.handle(ms(0), CMD_GET_WATCHDOG, &[]).unwrap();
    assert_eq!(r.data.len(), 6);
    assert!(GetWatchdogResponse::decode(&r.data).is_err());
    assert_eq!(
        GetWatchdogResponse::decode_lenient(&r.data)
            .unwrap()
            .present_countdown,
        None
    );
    let evs: Vec<_> = wd.advance(ms(100)).collect();
    let sel = evs[0].sel().expect("lanserv logs despite don't-log");
    assert_eq!(sel.offset, WatchdogOffset::PowerCycle);
    assert_eq!(sel.event_data, [0xC3, 0x04, 0xFF]);
}

#[test]
fn qemu_and_lanserv_dont_stop_with_no_action_stops() {
    for p in [CompatProfile::Qemu, CompatProfile::OpenIpmiLanserv] {
        let mut wd = armed(p, set_req(TimerAction::HardReset, 100), ms(0));
        let req = SetWatchdog {
            dont_stop: true,
            ..set_req(TimerAction::None, 100)
        };
        wd.set(ms(1_000), &req).unwrap();
        assert!(!wd.is_running(), "{p}");
    }
}

#[test]
fn qemu_lanserv_ignore_system_reset() {
    for p in [
        CompatProfile::Qemu,
        CompatProfile::OpenIpmiLanserv,
        CompatProfile::PhosphorWatchdog,
    ] {
        let mut wd = armed(p, set_req(TimerAction::HardReset, 100), ms(0));
        wd.system_reset(ms(1_000));
        assert!(wd.is_running(), "{p}");
    }
}

#[test]
fn phosphor_pretimeout_limit_and_get_quirks() {
    let mut wd = Watchdog::new(CompatProfile::PhosphorWatchdog);
    // 10.9 s → 10 whole seconds: pretimeout 11 rejected, 10 accepted.
    assert_eq!(
        wd.set(ms(0), &with_pre(PreTimeoutInterrupt::Nmi, 11, 109)),
        Err(CompletionCode::INVALID_DATA_FIELD)
    );
    assert_eq!(
        wd.set(ms(0), &with_pre(PreTimeoutInterrupt::Smi, 10, 109)),
        Ok(())
    );
    let g = wd.get(ms(0));
    assert_eq!(g.pretimeout_secs, 0, "phosphor always reports 0");
    assert_eq!(
        g.pretimeout_irq,
        PreTimeoutInterrupt::Smi,
        "but echoes the interrupt"
    );
    assert!(!g.running);
    assert_eq!(g.present_countdown, Some(Countdown::from_ticks(109)));
    wd.reset(ms(0)).unwrap();
    assert_eq!(present(&mut wd, ms(50)), Some(108), "truncates");
    // No pre-timeout at all: only the expiry.
    let evs: Vec<_> = wd.advance(ms(20_000)).collect();
    assert!(matches!(evs[..], [WatchdogEvent::Expired { .. }]));
    assert_eq!(wd.message_flags(), MessageFlags::empty());
    assert_eq!(
        evs[0].sel().unwrap().event_data,
        [0x01, 0x14, 0xFF],
        "ED1 without 0xC0"
    );
}

#[test]
fn phosphor_latches_expiry_only_on_get() {
    let quiet = SetWatchdog {
        dont_log: true,
        ..set_req(TimerAction::HardReset, 1)
    };
    let mut wd = armed(CompatProfile::PhosphorWatchdog, quiet, ms(0));
    let evs: Vec<_> = wd.advance(ms(100)).collect();
    assert_eq!(evs[0].sel(), None);
    assert_eq!(
        wd.expiration_flags(),
        ExpirationFlags::empty(),
        "not latched yet"
    );
    assert!(!wd.peek(ms(100)).dont_log);
    let g = wd.get(ms(100));
    assert_eq!(g.expiration_flags, ExpirationFlags::SMS_OS);
    assert!(!g.dont_log, "cleared by the Get after expiry");
    assert_eq!(g.present_countdown, Some(Countdown::ZERO));
    assert_eq!(wd.expiration_flags(), ExpirationFlags::SMS_OS);

    // An expiry followed by a Set before any Get is lost.
    let mut wd = armed(
        CompatProfile::PhosphorWatchdog,
        set_req(TimerAction::HardReset, 1),
        ms(0),
    );
    wd.advance(ms(100));
    wd.set(ms(200), &set_req(TimerAction::HardReset, 10))
        .unwrap();
    assert_eq!(wd.get(ms(200)).expiration_flags, ExpirationFlags::empty());
}

#[test]
fn phosphor_reserved_interrupt_values() {
    let mut wd = Watchdog::new(CompatProfile::PhosphorWatchdog);
    let r = wd
        .handle(ms(0), CMD_SET_WATCHDOG, &[4, 0x51, 0, 0, 100, 0])
        .unwrap();
    assert_eq!(r.cc, CompletionCode::OK);
    let r = wd
        .handle(ms(0), CMD_SET_WATCHDOG, &[4, 0x41, 0, 0, 100, 0])
        .unwrap();
    assert_eq!(r.cc, CompletionCode::INVALID_DATA_FIELD);
    let r = wd
        .handle(ms(0), CMD_SET_WATCHDOG, &[4 | 0x20, 0x01, 0, 0, 100, 0])
        .unwrap();
    assert_eq!(r.cc, CompletionCode::INVALID_DATA_FIELD);
}

#[test]
fn get_before_any_set_reports_unconfigured() {
    for p in CompatProfile::ALL {
        let mut wd = Watchdog::new(p);
        let g = wd.get(ms(0));
        assert_eq!(g.timer_use, None, "{p}");
        assert_eq!(g.initial_countdown, Countdown::ZERO);
        assert!(!g.running);
    }
}

#[test]
fn events_iterator_and_len() {
    let req = with_pre(PreTimeoutInterrupt::Nmi, 0, 1);
    let mut wd = armed(CompatProfile::Spec, req, ms(0));
    let mut evs = wd.advance(ms(100));
    assert_eq!(evs.len(), 2);
    assert!(!evs.is_empty());
    // In time order: the pre-timeout (0 s before expiry), then the expiry.
    assert!(matches!(evs.next(), Some(WatchdogEvent::PreTimeout { .. })));
    assert_eq!(evs.len(), 1);
    assert!(matches!(
        evs.next(),
        Some(WatchdogEvent::Expired {
            action: TimerAction::HardReset,
            ..
        })
    ));
    assert!(evs.is_empty());
    assert!(evs.next().is_none());
}

#[test]
fn state_snapshot_round_trips_and_resumes_identically() {
    for p in CompatProfile::ALL {
        let req = with_pre(PreTimeoutInterrupt::Messaging, 2, 50);
        let mut wd = Watchdog::new(p);
        let _ = wd.set(ms(0), &req);
        let _ = wd.reset(ms(0));
        wd.advance(ms(3_500));
        let st = wd.state();
        let mut copy = Watchdog::from_state(&st);
        assert_eq!(copy, wd, "{p}");
        assert_eq!(copy.state(), st);
        let a: Vec<_> = wd.advance(ms(60_000)).collect();
        let b: Vec<_> = copy.advance(ms(60_000)).collect();
        assert_eq!(a, b, "{p}");
        assert_eq!(wd.get(ms(60_000)), copy.get(ms(60_000)));
    }
}

#[test]
fn from_state_clamps_a_late_pretimeout() {
    let mut st = Watchdog::new(CompatProfile::Spec).state();
    st.initialized = true;
    st.config = with_pre(PreTimeoutInterrupt::Nmi, 1, 10);
    st.phase = TimerPhase::Running {
        expire_at: ms(1_000),
        pre_at: Some(ms(5_000)),
        pre_fired: false,
    };
    let mut wd = Watchdog::from_state(&st);
    let evs: Vec<_> = wd.advance(ms(10_000)).collect();
    assert_eq!(evs.len(), 2);
    assert!(evs[0].at() <= evs[1].at());
}

#[test]
fn events_display_for_timelines() {
    let req = with_pre(PreTimeoutInterrupt::Nmi, 3, 100);
    let mut wd = armed(CompatProfile::Spec, req, ms(0));
    let evs: Vec<String> = wd.advance(ms(10_000)).map(|e| e.to_string()).collect();
    assert_eq!(
        evs,
        [
            "7.000000000s watchdog pre-timeout: NMI / Diagnostic Interrupt (SMS/OS), \
             SEL offset 08h \"Timer interrupt\" data C8 24 FF",
            "10.000000000s watchdog expired: Hard Reset (SMS/OS), SEL offset 01h \"Hard reset\" data C1 24 FF",
        ]
    );
    let quiet = SetWatchdog {
        dont_log: true,
        ..set_req(TimerAction::None, 1)
    };
    let mut wd = armed(CompatProfile::Spec, quiet, ms(0));
    let ev = wd.advance(ms(100)).next().unwrap();
    assert_eq!(
        ev.to_string(),
        "0.100000000s watchdog expired: No action (SMS/OS), not logged"
    );
}

// ----- lanserv's two timing switches (issue #13; spec-notes/watchdog.md §4) ---

#[test]
fn lanserv_rearm_while_queued_does_not_move_the_timer() {
    let lan = CompatProfile::OpenIpmiLanserv;
    assert!(lan.rearm_keeps_queued_timer() && !CompatProfile::Qemu.rearm_keeps_queued_timer());
    // No pre-action: a Reset at 5 s leaves the expiry at 10 s.
    let mut wd = armed(lan, set_req(TimerAction::HardReset, 100), ms(0));
    wd.reset(ms(5_000)).unwrap();
    assert_eq!(wd.next_deadline(), Some(ms(10_000)));
    let evs: Vec<_> = wd.advance(ms(30_000)).collect();
    assert_eq!(evs.len(), 1);
    assert_eq!(evs[0].at(), ms(10_000));
    // A Set without don't-stop stops it, but the timer stays queued and runs
    // with nothing to do; a Reset before that is refused the same way.
    let mut wd = armed(lan, set_req(TimerAction::HardReset, 100), ms(0));
    wd.set(ms(2_000), &set_req(TimerAction::HardReset, 100))
        .unwrap();
    assert!(!wd.is_running());
    wd.reset(ms(3_000)).unwrap();
    assert_eq!(wd.next_deadline(), Some(ms(10_000)));
    let evs: Vec<_> = wd.advance(ms(30_000)).collect();
    assert_eq!(evs.len(), 1, "{evs:?}");
    assert_eq!(evs[0].at(), ms(10_000));
    // The snapshot keeps the queued timer.
    let mut wd = armed(lan, set_req(TimerAction::HardReset, 100), ms(0));
    wd.reset(ms(5_000)).unwrap();
    let mut back = Watchdog::from_state(&wd.state());
    assert_eq!(back.next_deadline(), Some(ms(10_000)));
    assert_eq!(back.advance(ms(30_000)).count(), 1);
}

#[test]
fn lanserv_expires_at_once_with_under_a_second_left_after_the_pre_action() {
    let lan = CompatProfile::OpenIpmiLanserv;
    // 1.5 s countdown, 1 s pre-timeout: pre-action at 0.5 s, then 1 s left,
    // which the late-running timer sees as under 1 s: expiry at once.
    let mut wd = armed(lan, with_pre(PreTimeoutInterrupt::Messaging, 1, 15), ms(0));
    let evs: Vec<_> = wd.advance(ms(10_000)).collect();
    assert_eq!(evs.len(), 2);
    assert_eq!((evs[0].at(), evs[1].at()), (ms(500), ms(500)));
    // 3.5 s countdown, 2 s pre-timeout: 2 s left, expiry at 3.5 s.
    let mut wd = armed(lan, with_pre(PreTimeoutInterrupt::Messaging, 2, 35), ms(0));
    let evs: Vec<_> = wd.advance(ms(10_000)).collect();
    assert_eq!((evs[0].at(), evs[1].at()), (ms(1_500), ms(3_500)));
    // 0.8 s countdown, 2 s pre-timeout: both at the arming.
    let mut wd = armed(lan, with_pre(PreTimeoutInterrupt::Messaging, 2, 8), ms(0));
    let evs: Vec<_> = wd.advance(ms(10_000)).collect();
    assert_eq!(evs.len(), 2);
    assert_eq!((evs[0].at(), evs[1].at()), (ms(0), ms(0)));
    // The spec profile keeps the countdown: 1.5 s countdown, 1 s pre-timeout.
    let mut wd = armed(
        CompatProfile::Spec,
        with_pre(PreTimeoutInterrupt::Messaging, 1, 15),
        ms(0),
    );
    let evs: Vec<_> = wd.advance(ms(10_000)).collect();
    assert_eq!(evs[1].at(), ms(1_500));
    // 0.8 s countdown, 2 s pre-timeout under spec: expiry at the countdown.
    let mut wd = armed(
        CompatProfile::Spec,
        with_pre(PreTimeoutInterrupt::Messaging, 2, 8),
        ms(0),
    );
    let evs: Vec<_> = wd.advance(ms(10_000)).collect();
    assert_eq!(evs[1].at(), ms(800));
}
