//! Replays what Linux's `drivers/char/ipmi/ipmi_watchdog.c` sends (project
//! reference bmc-watchdog.md §3) against the model, byte for byte, and checks
//! the answers and timings a kernel would see.

use core::time::Duration;
use ipmi_watchdog::*;

fn t(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

/// `__ipmi_set_timeout` start payload: SMS/OS + don't-stop, reset, 10 s.
const START: [u8; 6] = [0x44, 0x01, 0x00, 0x00, 0x64, 0x00];
/// Stop payload (action none, no don't-stop).
const STOP: [u8; 6] = [0x04, 0x00, 0x00, 0x00, 0x64, 0x00];
/// pretimeout=5, preaction=pre_int.
const START_PRE_INT: [u8; 6] = [0x44, 0x31, 0x05, 0x00, 0x64, 0x00];

fn cc(r: Option<Response>) -> u8 {
    r.expect("watchdog command").cc.0
}

#[test]
fn open_heartbeat_close_with_magic() {
    for p in CompatProfile::ALL {
        let mut wd = Watchdog::new(p);
        // Module load without start_now: stop.
        assert_eq!(cc(wd.handle(t(0), CMD_SET_WATCHDOG, &STOP)), 0, "{p}");
        // First write to /dev/watchdog: Set + Reset.
        assert_eq!(cc(wd.handle(t(1_000), CMD_SET_WATCHDOG, &START)), 0);
        assert_eq!(cc(wd.handle(t(1_000), CMD_RESET_WATCHDOG, &[])), 0);
        if p.rearm_keeps_queued_timer() {
            // ipmi_sim: the heartbeats do not move its queued timer
            // (sel_start_timer EBUSY): it expires 10 s after the first arm.
            let r = wd.handle(t(6_000), CMD_RESET_WATCHDOG, &[]).unwrap();
            assert!(r.events.is_empty(), "{p}");
            assert_eq!(wd.next_deadline(), Some(t(11_000)), "{p}");
            let r = wd.handle(t(11_000), CMD_RESET_WATCHDOG, &[]).unwrap();
            let evs: Vec<_> = r.events.collect();
            assert!(
                matches!(evs[..], [WatchdogEvent::Expired { .. }]),
                "{p}: expired although petted"
            );
            // Re-armed by that Reset (the timer had run): petted once more.
            assert_eq!(wd.next_deadline(), Some(t(21_000)), "{p}");
            assert_eq!(cc(wd.handle(t(12_000), CMD_SET_WATCHDOG, &STOP)), 0);
            assert!(!wd.is_running());
            continue;
        }
        // Heartbeats every 5 s keep it alive for a minute.
        let mut now = 1_000;
        for _ in 0..12 {
            now += 5_000;
            let r = wd.handle(t(now), CMD_RESET_WATCHDOG, &[]).unwrap();
            assert_eq!(r.cc.0, 0);
            assert!(r.events.is_empty(), "{p}: expired while petted");
        }
        assert_eq!(wd.next_deadline(), Some(t(now + 10_000)));
        // Close with magic 'V': stop.
        assert_eq!(cc(wd.handle(t(now + 1), CMD_SET_WATCHDOG, &STOP)), 0);
        assert!(!wd.is_running());
        assert!(wd.advance(t(now + 100_000)).is_empty());
    }
}

#[test]
fn bmc_reboot_gives_0x80_and_linux_recovers_with_set() {
    for p in CompatProfile::ALL {
        let mut wd = Watchdog::new(p);
        wd.handle(t(0), CMD_SET_WATCHDOG, &START);
        wd.handle(t(0), CMD_RESET_WATCHDOG, &[]);
        wd.bmc_reset(true);
        // Heartbeat → 0x80 → driver re-sends Set, then Reset.
        let r = wd.handle(t(3_000), CMD_RESET_WATCHDOG, &[]).unwrap();
        assert_eq!(r.cc, CC_WATCHDOG_NOT_INITIALIZED, "{p}");
        assert_eq!(
            split_completion(CMD_RESET_WATCHDOG, &[r.cc.0]).unwrap_err().to_string(),
            "Reset Watchdog Timer failed: completion code 0x80 (Attempt to start un-initialized watchdog)"
        );
        assert_eq!(cc(wd.handle(t(3_000), CMD_SET_WATCHDOG, &START)), 0);
        assert_eq!(cc(wd.handle(t(3_000), CMD_RESET_WATCHDOG, &[])), 0);
        assert_eq!(wd.next_deadline(), Some(t(13_000)));
    }
}

#[test]
fn pretimeout_messaging_flow() {
    // Spec and QEMU deliver a messaging pre-timeout; lanserv too.
    for p in [
        CompatProfile::Spec,
        CompatProfile::Qemu,
        CompatProfile::OpenIpmiLanserv,
    ] {
        let mut wd = Watchdog::new(p);
        assert_eq!(
            cc(wd.handle(t(0), CMD_SET_WATCHDOG, &START_PRE_INT)),
            0,
            "{p}"
        );
        assert_eq!(cc(wd.handle(t(0), CMD_RESET_WATCHDOG, &[])), 0);
        // The host stops petting; the pre-timeout comes 5 s before expiry.
        let dl = wd.next_deadline().unwrap();
        assert_eq!(dl, t(5_000), "{p}");
        let evs: Vec<_> = wd.advance(dl).collect();
        assert!(matches!(
            evs[..],
            [WatchdogEvent::PreTimeout {
                interrupt: PreTimeoutInterrupt::Messaging,
                ..
            }]
        ));
        // ipmi_si: SMS_ATN → Get Message Flags → bit 3 → Clear Message Flags(0x08).
        let flags = GetMessageFlagsResponse {
            flags: wd.message_flags(),
        };
        assert_eq!(flags.encode(), [0x08]);
        let clear = ClearMessageFlags::decode(&[0x08]).unwrap();
        wd.clear_message_flags(clear.flags);
        assert_eq!(wd.message_flags(), MessageFlags::empty());
        // Next heartbeat after a pre-timeout is a Set (don't-stop reloads).
        assert_eq!(cc(wd.handle(t(6_000), CMD_SET_WATCHDOG, &START_PRE_INT)), 0);
        if p.rearm_keeps_queued_timer() {
            // ipmi_sim: the expiry timer queued at the pre-timeout (10 s)
            // stays; it runs the re-armed pre-action then, and the expiry
            // follows 10 s after the Set all the same.
            assert_eq!(wd.next_deadline(), Some(t(10_000)), "{p}");
            let evs: Vec<_> = wd.advance(t(20_000)).collect();
            assert!(matches!(
                evs[..],
                [
                    WatchdogEvent::PreTimeout { .. },
                    WatchdogEvent::Expired { .. }
                ]
            ));
            assert_eq!((evs[0].at(), evs[1].at()), (t(10_000), t(16_000)), "{p}");
            continue;
        }
        assert_eq!(wd.next_deadline(), Some(t(11_000)), "{p}");
        assert!(wd.advance(t(10_999)).is_empty());
    }
}

#[test]
fn nmi_self_test_fires_within_1_5_s() {
    // Module load with pre_nmi: Set 44 21 63 00 E8 03 + Reset, expects an NMI
    // within 1.5 s (pretimeout 99 s of a 100 s timeout → after 1 s).
    for p in [CompatProfile::Spec, CompatProfile::Qemu] {
        let mut wd = Watchdog::new(p);
        // The driver sends the Set while the timer is stopped.
        assert_eq!(
            cc(wd.handle(
                t(0),
                CMD_SET_WATCHDOG,
                &[0x44, 0x21, 0x63, 0x00, 0xE8, 0x03]
            )),
            0
        );
        assert_eq!(cc(wd.handle(t(0), CMD_RESET_WATCHDOG, &[])), 0);
        let dl = wd.next_deadline().unwrap();
        assert_eq!(
            dl.saturating_duration_since(t(0)),
            Duration::from_secs(1),
            "{p}"
        );
        let evs: Vec<_> = wd.advance(dl).collect();
        assert!(matches!(
            evs[..],
            [WatchdogEvent::PreTimeout {
                interrupt: PreTimeoutInterrupt::Nmi,
                ..
            }]
        ));
    }
    // lanserv rejects the NMI pre-timeout (fall-through bug), so the kernel's
    // self-test Set fails with 0xCC.
    let mut wd = Watchdog::new(CompatProfile::OpenIpmiLanserv);
    assert_eq!(
        cc(wd.handle(
            t(0),
            CMD_SET_WATCHDOG,
            &[0x44, 0x21, 0x63, 0x00, 0xE8, 0x03]
        )),
        0xCC
    );
}

#[test]
fn unpetted_host_is_reset_once_with_a_sel_record() {
    let mut wd = Watchdog::new(CompatProfile::Spec);
    wd.handle(t(0), CMD_SET_WATCHDOG, &START);
    wd.handle(t(0), CMD_RESET_WATCHDOG, &[]);
    wd.handle(t(4_000), CMD_RESET_WATCHDOG, &[]);
    let evs: Vec<_> = wd.advance(t(60_000)).collect();
    assert_eq!(evs.len(), 1);
    let WatchdogEvent::Expired {
        at,
        action,
        sel: Some(sel),
        ..
    } = evs[0]
    else {
        panic!("expected a logged expiry: {evs:?}");
    };
    assert_eq!(at, t(14_000));
    assert_eq!(action, TimerAction::HardReset);
    assert_eq!(
        sel.record(1, 0x6000_0000, 0x0020, 0),
        [
            0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x60, 0x20, 0x00, 0x04, 0x23, 0x00, 0x6F, 0xC1,
            0x04, 0xFF
        ]
    );
    // The BMC hard-resets the host.
    wd.system_reset(at);
    let g = GetWatchdogResponse::decode(&wd.handle(t(60_000), CMD_GET_WATCHDOG, &[]).unwrap().data)
        .unwrap();
    assert!(!g.running);
    assert_eq!(g.expiration_flags, ExpirationFlags::SMS_OS);
    assert_eq!(g.present_countdown, Some(Countdown::ZERO));
}
