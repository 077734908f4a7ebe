//! Unit tests of the simulated BMC at register level: a tiny host that speaks
//! the BT protocol the way Linux `ipmi_bt_sm.c` does, one register at a time.

use super::*;
use crate::bmc::config::DeviceIdConfig;
use crate::bmc::fault::FaultPlan;
use ipmi_bt_sm::Io;

const CLR_WR: u8 = 0x01;
const CLR_RD: u8 = 0x02;
const H2B: u8 = 0x04;
const B2H: u8 = 0x08;
const SMS: u8 = 0x10;
const H_BUSY: u8 = 0x40;
const B_BUSY: u8 = 0x80;

fn ms(n: u64) -> Instant {
    Instant::from_millis(n)
}

/// Write a framed request at `t`: CLR_WR_PTR, bytes, H2B_ATN.
fn send(bmc: &mut SimBmc, t: Instant, netfn_lun: u8, seq: u8, cmd: u8, data: &[u8]) {
    let io = bmc.io(t);
    io.write_ctrl(CLR_WR);
    io.write_buf(3 + data.len() as u8);
    io.write_buf(netfn_lun);
    io.write_buf(seq);
    io.write_buf(cmd);
    for &b in data {
        io.write_buf(b);
    }
    io.write_ctrl(H2B);
}

/// Jump from deadline to deadline until B2H_ATN shows or `limit` passes.
fn wait_b2h(bmc: &mut SimBmc, limit: Instant) -> Option<Instant> {
    loop {
        if bmc.read_ctrl() & B2H != 0 {
            return Some(bmc.now());
        }
        match bmc.next_deadline() {
            Some(t) if t <= limit => bmc.advance(t),
            _ => {
                bmc.advance(limit);
                return (bmc.read_ctrl() & B2H != 0).then(|| bmc.now());
            }
        }
    }
}

/// Linux READ_WAIT → CLEAR_B2H → READ_BYTES: returns the whole frame.
fn read_response(bmc: &mut SimBmc) -> Vec<u8> {
    bmc.write_ctrl(H_BUSY);
    bmc.write_ctrl(B2H);
    bmc.write_ctrl(CLR_RD);
    let len = bmc.read_buf();
    let mut v = vec![len];
    for _ in 0..len {
        v.push(bmc.read_buf());
    }
    bmc.write_ctrl(H_BUSY);
    v
}

/// A whole transaction; returns the response frame (panics on no answer within 10 s).
fn transact(bmc: &mut SimBmc, netfn_lun: u8, seq: u8, cmd: u8, data: &[u8]) -> Vec<u8> {
    let t = bmc.now();
    send(bmc, t, netfn_lun, seq, cmd, data);
    wait_b2h(bmc, t + Duration::from_secs(10)).expect("no response");
    read_response(bmc)
}

/// cc and data of an App command.
fn app(bmc: &mut SimBmc, cmd: u8, data: &[u8]) -> (u8, Vec<u8>) {
    let r = transact(bmc, 0x18, 0x11, cmd, data);
    assert_eq!(&r[1..4], &[0x1C, 0x11, cmd], "netfn|1, seq and cmd echoed");
    assert_eq!(usize::from(r[0]) + 1, r.len());
    (r[4], r[5..].to_vec())
}

fn storage(bmc: &mut SimBmc, cmd: u8, data: &[u8]) -> (u8, Vec<u8>) {
    let r = transact(bmc, 0x28, 0x22, cmd, data);
    assert_eq!(&r[1..4], &[0x2C, 0x22, cmd]);
    (r[4], r[5..].to_vec())
}

fn healthy() -> SimBmc {
    SimBmc::new(BmcConfig::default())
}

fn events(bmc: &mut SimBmc) -> Vec<BmcEventKind> {
    bmc.drain_events().map(|e| e.kind).collect()
}

// ----- framing and register protocol ------------------------------------------

#[test]
fn get_device_id_default_fields() {
    let mut b = healthy();
    let (cc, d) = app(&mut b, cmd::GET_DEVICE_ID, &[]);
    assert_eq!(cc, 0);
    assert_eq!(
        d,
        vec![0x20, 0x01, 0x01, 0x23, 0x02, 0x2D, 0, 0, 0, 0xC1, 0x0B, 0, 0, 0, 0]
    );
    assert_eq!(b.commands_seen(), 1);
    assert_eq!(b.commands_handled(), 1);
    assert_eq!(b.responses_posted(), 1);
}

/// With traffic events off the BMC still answers and still reports faults,
/// but makes no event per command; on (the default) it does.
#[test]
fn traffic_events_can_be_turned_off() {
    let traffic = |e: &BmcEventKind| {
        matches!(
            e,
            BmcEventKind::RequestTaken { .. }
                | BmcEventKind::ResponsePosted { .. }
                | BmcEventKind::RequestDropped { .. }
        )
    };
    for on in [true, false] {
        let mut b = healthy();
        b.set_traffic_events(on);
        let (cc, _) = app(&mut b, cmd::GET_DEVICE_ID, &[]);
        assert_eq!(cc, 0);
        let t = b.now();
        b.inject(t, Fault::Silent);
        send(&mut b, t, 0x18, 3, cmd::GET_DEVICE_ID, &[]);
        b.advance(t + Duration::from_secs(10));
        let ev = events(&mut b);
        assert_eq!(ev.iter().filter(|e| traffic(e)).count() >= 2, on, "{ev:?}");
        assert!(
            ev.iter()
                .any(|e| matches!(e, BmcEventKind::FaultStarted(_))),
            "{ev:?}"
        );
        assert_eq!(b.responses_posted(), 1);
    }
}

#[test]
fn get_device_id_configurable() {
    let cfg = BmcConfig {
        device_id: DeviceIdConfig {
            device_id: 7,
            manufacturer_id: 0x0002A2,
            product_id: 0x1234,
            update_in_progress: true,
            aux_firmware_revision: None,
            ..DeviceIdConfig::default()
        },
        ..BmcConfig::default()
    };
    let mut b = SimBmc::new(cfg);
    let (_, d) = app(&mut b, cmd::GET_DEVICE_ID, &[]);
    assert_eq!(d.len(), 11);
    assert_eq!(d[0], 7);
    assert_eq!(d[2] & 0x80, 0x80);
    assert_eq!(&d[6..11], &[0xA2, 0x02, 0x00, 0x34, 0x12]);
}

#[test]
fn bt_caps_default_and_qemu() {
    let mut b = healthy();
    assert_eq!(
        app(&mut b, cmd::GET_BT_CAPS, &[]),
        (0, vec![1, 0x3F, 0x3F, 5, 2])
    );
    let mut q = SimBmc::new(BmcConfig::qemu());
    assert_eq!(
        app(&mut q, cmd::GET_BT_CAPS, &[]),
        (0, vec![1, 0xFF, 0xFF, 0x0A, 0])
    );
}

#[test]
fn take_latency_h2b_then_b_busy_until_response() {
    let mut b = healthy(); // take 50 us, respond 1 ms later
    send(&mut b, ms(0), 0x18, 1, cmd::GET_DEVICE_ID, &[]);
    assert_eq!(b.read_ctrl(), H2B, "not yet taken");
    assert_eq!(b.next_deadline(), Some(Instant::from_micros(50)));
    b.advance(Instant::from_micros(50));
    assert_eq!(b.read_ctrl(), B_BUSY, "taken: H2B cleared, B_BUSY set");
    assert_eq!(b.next_deadline(), Some(Instant::from_micros(1050)));
    b.advance(Instant::from_micros(1049));
    assert_eq!(b.read_ctrl(), B_BUSY);
    b.advance(Instant::from_micros(1050));
    assert_eq!(b.read_ctrl(), B2H, "posted: B2H set, B_BUSY cleared");
    assert_eq!(b.next_deadline(), None, "idle until the host acts");
}

#[test]
fn openbmc_clears_b_busy_after_reading() {
    let mut b = SimBmc::new(BmcConfig::openbmc());
    send(&mut b, ms(0), 0x18, 1, cmd::GET_DEVICE_ID, &[]);
    b.advance(Instant::from_micros(100));
    assert_eq!(b.read_ctrl(), 0, "bt-bmc: B_BUSY only while reading");
    b.advance(ms(6));
    assert_eq!(b.read_ctrl(), B2H);
}

#[test]
fn qemu_preset_answers_in_the_same_instant() {
    let mut b = SimBmc::new(BmcConfig::qemu());
    send(&mut b, ms(3), 0x18, 9, cmd::GET_DEVICE_ID, &[]);
    assert_eq!(b.read_ctrl(), B2H, "synchronous like ipmi_bt_handle_event");
    assert_eq!(b.now(), ms(3));
}

#[test]
fn never_posts_while_h_busy_set() {
    let mut b = SimBmc::new(BmcConfig {
        post_waits_for_host: true,
        ..BmcConfig::default()
    });
    send(&mut b, ms(0), 0x18, 1, cmd::GET_DEVICE_ID, &[]);
    b.write_ctrl(H_BUSY); // host "busy" (protocol abuse, but legal bits)
    b.advance(ms(50));
    assert_eq!(b.read_ctrl() & B2H, 0, "held back by H_BUSY");
    assert_eq!(b.next_deadline(), None, "waits for the host, no busy loop");
    b.write_ctrl(H_BUSY); // toggle off → posts at once
    assert_eq!(b.read_ctrl(), B2H);
    assert_eq!(b.now(), ms(50));
}

/// QEMU `ipmi_bt_handle_rsp` (default and `qemu` presets): the answer is
/// loaded when ready, over an unread one and whatever H_BUSY says, and B_BUSY
/// clears with it, so a host that waits for B_BUSY is never wedged.
#[test]
fn default_preset_posts_over_an_unread_answer() {
    let mut b = healthy();
    send(&mut b, ms(0), 0x18, 1, cmd::GET_DEVICE_ID, &[]);
    wait_b2h(&mut b, ms(10)).unwrap();
    // The host neither reads nor clears B2H_ATN, and sets H_BUSY.
    b.write_ctrl(H_BUSY);
    let t = b.now();
    send(&mut b, t, 0x18, 2, cmd::GET_BT_CAPS, &[]);
    b.advance(t + Duration::from_millis(5));
    assert_eq!(b.read_ctrl() & 0x80, 0, "B_BUSY cleared with the post");
    b.write_ctrl(H_BUSY); // toggle off
    let r = read_response(&mut b);
    assert_eq!(&r[1..4], &[0x1C, 2, cmd::GET_BT_CAPS], "second answer won");
    assert_eq!(b.responses_posted(), 2);
}

#[test]
fn irq_raised_on_response_when_enabled() {
    let mut b = healthy();
    b.write_intmask(0x01);
    send(&mut b, ms(0), 0x18, 1, cmd::GET_DEVICE_ID, &[]);
    assert!(!b.device().irq_line());
    wait_b2h(&mut b, ms(10)).unwrap();
    assert!(b.device().irq_line());
    assert_eq!(b.read_intmask(), 0x03);
    b.write_intmask(0x03);
    assert!(!b.device().irq_line());
}

#[test]
fn lun_and_unknown_commands() {
    let mut b = healthy();
    let r = transact(&mut b, 0x19, 5, cmd::GET_DEVICE_ID, &[]);
    assert_eq!(
        &r[1..5],
        &[0x1D, 5, 0x01, 0xC2],
        "LUN 1 → 0xC2 (QEMU), LUN echoed"
    );
    assert_eq!(app(&mut b, 0x77, &[]).0, 0xC1);
    let r = transact(&mut b, 0x30 << 2, 6, 0x01, &[]);
    assert_eq!(
        &r[1..5],
        &[0xC4, 6, 0x01, 0xC1],
        "OEM NetFn 0x30 → response 0x31, 0xC1"
    );
}

#[test]
fn global_enables_get_set() {
    let mut b = healthy();
    assert_eq!(app(&mut b, cmd::GET_GLOBAL_ENABLES, &[]), (0, vec![0x08]));
    assert_eq!(app(&mut b, cmd::SET_GLOBAL_ENABLES, &[0x0D]).0, 0);
    assert_eq!(app(&mut b, cmd::GET_GLOBAL_ENABLES, &[]), (0, vec![0x0D]));
    assert_eq!(app(&mut b, cmd::SET_GLOBAL_ENABLES, &[]).0, 0xC7);
    assert_eq!(app(&mut b, cmd::CLEAR_MSG_FLAGS, &[]).0, 0xC7);
    assert_eq!(app(&mut b, cmd::GET_MESSAGE, &[]).0, 0x80);
    assert_eq!(app(&mut b, cmd::READ_EVENT_BUFFER, &[]).0, 0x80);
}

#[test]
fn warm_reset_answers_and_keeps_watchdog() {
    let mut b = healthy();
    assert_eq!(
        app(&mut b, cmd::SET_WATCHDOG, &[0x04, 0x01, 0, 0, 100, 0]).0,
        0
    );
    assert_eq!(app(&mut b, cmd::WARM_RESET, &[]).0, 0);
    assert_eq!(
        app(&mut b, cmd::RESET_WATCHDOG, &[]).0,
        0,
        "still initialised"
    );
}

// ----- watchdog ------------------------------------------------------------------

#[test]
fn watchdog_reset_before_set_is_0x80_then_runs() {
    let mut b = healthy();
    assert_eq!(app(&mut b, cmd::RESET_WATCHDOG, &[]).0, 0x80);
    // SMS/OS, hard reset, 10.0 s.
    assert_eq!(
        app(&mut b, cmd::SET_WATCHDOG, &[0x04, 0x01, 0, 0, 100, 0]).0,
        0
    );
    assert_eq!(app(&mut b, cmd::SET_WATCHDOG, &[0x04, 0x01]).0, 0xC7);
    assert_eq!(app(&mut b, cmd::RESET_WATCHDOG, &[]).0, 0);
    let (cc, d) = app(&mut b, cmd::GET_WATCHDOG, &[]);
    assert_eq!(cc, 0);
    assert_eq!(d.len(), 8);
    assert_eq!(d[0] & 0x40, 0x40, "running");
    assert_eq!(
        b.next_deadline().map(|t| t.as_millis() / 100),
        Some(100),
        "expiry ~10 s"
    );
}

#[test]
fn watchdog_expiry_logs_sel_event_readable_over_bt() {
    let mut b = healthy();
    app(&mut b, cmd::SET_WATCHDOG, &[0x04, 0x01, 0, 0, 10, 0]); // 1 s, hard reset
    app(&mut b, cmd::RESET_WATCHDOG, &[]);
    let armed = b.now();
    b.drain_events().for_each(drop);
    let dl = b.next_deadline().unwrap();
    // Armed when the Reset was taken, one response latency (1 ms) before
    // its answer was read.
    assert_eq!(
        dl,
        armed + Duration::from_secs(1) - Duration::from_millis(1)
    );
    b.advance(ms(5_000));
    let ev = events(&mut b);
    assert!(ev.contains(&BmcEventKind::WatchdogExpired {
        action: TimerAction::HardReset,
        timer_use: TimerUse::SmsOs
    }));
    assert!(ev.contains(&BmcEventKind::SelAdded { record_id: 1 }));
    let (cc, info) = storage(&mut b, cmd::GET_SEL_INFO, &[]);
    assert_eq!((cc, info[0], info[1]), (0, 0x51, 1));
    let (cc, e) = storage(&mut b, cmd::GET_SEL_ENTRY, &[0, 0, 0, 0, 0, 0xFF]);
    assert_eq!(cc, 0);
    assert_eq!(&e[..2], &[0xFF, 0xFF], "only record");
    let rec = &e[2..];
    assert_eq!(rec.len(), 16);
    assert_eq!(&rec[..3], &[1, 0, 0x02]);
    assert_eq!(
        &rec[7..],
        &[0x20, 0x00, 0x04, 0x23, 0x00, 0x6F, 0xC1, 0x04, 0xFF]
    );
    let (_, t) = storage(&mut b, cmd::GET_SEL_TIME, &[]);
    assert_eq!(u32::from_le_bytes([t[0], t[1], t[2], t[3]]), 5);
    let (_, r) = storage(&mut b, cmd::RESERVE_SEL, &[]);
    assert_eq!(
        storage(
            &mut b,
            cmd::CLEAR_SEL,
            &[r[0], r[1], b'C', b'L', b'R', 0xAA]
        )
        .0,
        0
    );
    assert_eq!(storage(&mut b, cmd::GET_SEL_INFO, &[]).1[1], 0);
}

#[test]
fn messaging_pretimeout_raises_sms_atn_and_message_flag() {
    let mut b = healthy();
    assert_eq!(app(&mut b, cmd::SET_GLOBAL_ENABLES, &[0x09]).0, 0); // rcv-msg IRQ on
    b.write_intmask(0x01);
    // SMS/OS, messaging pre-timeout (3<<4), hard reset, pre-timeout 2 s, 5 s.
    app(&mut b, cmd::SET_WATCHDOG, &[0x04, 0x31, 2, 0, 50, 0]);
    app(&mut b, cmd::RESET_WATCHDOG, &[]);
    let start = b.now();
    b.drain_events().for_each(drop);
    // The Reset was executed 1 ms (response latency) before `start`.
    b.advance(start + Duration::from_millis(2_998));
    assert_eq!(b.read_ctrl() & SMS, 0);
    b.advance(start + Duration::from_millis(2_999));
    assert_eq!(b.read_ctrl() & SMS, SMS);
    assert!(b.device().irq_line());
    let ev = events(&mut b);
    assert!(ev.contains(&BmcEventKind::SmsAtn));
    // Linux: IDLE sees SMS_ATN, clears it, sends Get Message Flags.
    b.write_ctrl(SMS);
    b.write_intmask(0x03);
    assert_eq!(app(&mut b, cmd::GET_MSG_FLAGS, &[]), (0, vec![0x08]));
    assert_eq!(app(&mut b, cmd::CLEAR_MSG_FLAGS, &[0x08]).0, 0);
    assert_eq!(app(&mut b, cmd::GET_MSG_FLAGS, &[]), (0, vec![0x00]));
}

#[test]
fn cold_reset_answers_then_reboots_and_loses_watchdog() {
    let mut b = healthy(); // boot time 2 s
    app(&mut b, cmd::SET_WATCHDOG, &[0x04, 0x01, 0, 0, 100, 0]);
    app(&mut b, cmd::RESET_WATCHDOG, &[]);
    assert_eq!(app(&mut b, cmd::COLD_RESET, &[]).0, 0);
    let t = b.now();
    assert_eq!(
        b.read_ctrl(),
        B_BUSY,
        "rebooting as soon as the answer was read"
    );
    assert!(b.is_booting());
    assert!(b.watchdog().next_deadline().is_none(), "watchdog stopped");
    b.advance(t + Duration::from_millis(1_999));
    assert_eq!(b.read_ctrl(), B_BUSY);
    b.advance(t + Duration::from_secs(2));
    assert_eq!(b.read_ctrl(), 0);
    let ev = events(&mut b);
    assert!(ev.contains(&BmcEventKind::BmcReset {
        cause: ResetCause::ColdReset,
        keep_watchdog: false
    }));
    assert_eq!(ev.last(), Some(&BmcEventKind::BmcReady));
    assert_eq!(
        app(&mut b, cmd::RESET_WATCHDOG, &[]).0,
        0x80,
        "un-initialised after BMC reset"
    );
}

#[test]
fn cold_reset_reboots_after_grace_if_never_read() {
    let mut b = healthy();
    send(&mut b, ms(0), 0x18, 1, cmd::COLD_RESET, &[]);
    b.advance(ms(500));
    assert_eq!(b.read_ctrl(), B2H, "answer waiting");
    b.advance(ms(1_100));
    assert_eq!(b.read_ctrl(), B_BUSY, "rebooted, answer lost");
}

#[test]
fn handle_command_alone() {
    let mut b = healthy();
    let r = b.handle_command(ms(1), 0x18, cmd::GET_BT_CAPS, &[]);
    assert_eq!(r.cc, CompletionCode::OK);
    assert_eq!(r.data(), &[1, 0x3F, 0x3F, 5, 2]);
    let r = b.handle_command(ms(2), 0x18, cmd::RESET_WATCHDOG, &[]);
    assert_eq!(r.cc, CompletionCode(0x80));
    assert_eq!(b.commands_seen(), 0, "no BT traffic");
}

// ----- malformed requests ----------------------------------------------------------

fn raw(bmc: &mut SimBmc, bytes: &[u8]) {
    bmc.write_ctrl(CLR_WR);
    for &x in bytes {
        bmc.write_buf(x);
    }
    bmc.write_ctrl(H2B);
}

#[test]
fn malformed_length_mismatch_policies() {
    let mut b = healthy();
    raw(&mut b, &[5, 0x18, 3, 0x01]); // says 5, has 3
    wait_b2h(&mut b, ms(10)).unwrap();
    assert_eq!(&read_response(&mut b)[1..], &[0x1C, 3, 0x01, 0xC7]);
    assert!(matches!(
        events(&mut b)[0],
        BmcEventKind::RequestMalformed {
            written: 4,
            len_byte: 5
        }
    ));

    let mut d = SimBmc::new(BmcConfig {
        malformed: MalformedPolicy::Drop,
        ..BmcConfig::default()
    });
    raw(&mut d, &[5, 0x18, 3, 0x01]);
    d.advance(ms(10));
    assert_eq!(d.read_ctrl(), 0, "dropped, not busy");

    let mut w = SimBmc::new(BmcConfig::qemu());
    raw(&mut w, &[0x18, 3]); // < 4 bytes
    w.advance(ms(10_000));
    assert_eq!(w.read_ctrl(), B_BUSY, "QEMU wedges B_BUSY");
    assert_eq!(w.next_deadline(), None);
    w.inject(
        ms(10_001),
        Fault::BmcReset {
            keep_watchdog: true,
        },
    );
    w.advance(ms(20_000));
    assert_eq!(w.read_ctrl(), 0, "a BMC reset unwedges it");
}

#[test]
fn short_request_without_header_is_dropped() {
    let mut b = healthy();
    raw(&mut b, &[1, 0x18]);
    b.advance(ms(10));
    assert_eq!(b.read_ctrl(), 0);
    assert!(events(&mut b).contains(&BmcEventKind::RequestDropped {
        seq: 0,
        cmd: 0,
        reason: DropReason::Malformed
    }));
}

#[test]
fn oversize_request_is_truncated_cc() {
    let mut b = healthy(); // 64-byte buffer
    let mut req = vec![69u8, 0x18, 4, 0x01];
    req.extend([0u8; 66]);
    raw(&mut b, &req);
    wait_b2h(&mut b, ms(10)).unwrap();
    assert_eq!(&read_response(&mut b)[1..], &[0x1C, 4, 0x01, 0xC6]);
}

#[test]
fn oversize_response_becomes_0xca() {
    let big = Response::with_data(CompletionCode::OK, &[0; 100]);
    assert!(Frame::response(0x18, 0, 1, &big, 64).is_none());
    let f = Frame::response(0x18, 2, 1, &Response::new(CompletionCode::OK), 64).unwrap();
    assert_eq!(f.bytes(), &[4, 0x1C, 2, 1, 0]);
}

// ----- faults --------------------------------------------------------------------------

#[test]
fn silent_takes_request_and_never_answers() {
    let mut b = healthy();
    b.inject(ms(0), Fault::Silent);
    send(&mut b, ms(0), 0x18, 1, cmd::GET_DEVICE_ID, &[]);
    assert_eq!(wait_b2h(&mut b, ms(20_000)), None);
    assert_eq!(b.read_ctrl(), 0, "CTRL 0x00 while waiting (T3)");
    assert_eq!(b.commands_handled(), 1);
    b.clear(ms(20_000), FaultKind::Silent);
    assert_eq!(app(&mut b, cmd::GET_DEVICE_ID, &[]).0, 0);
}

#[test]
fn stuck_b_busy_blocks_then_serves_pending_request() {
    let mut b = healthy();
    b.inject(ms(0), Fault::StuckBusy);
    assert_eq!(b.read_ctrl(), B_BUSY);
    send(&mut b, ms(1), 0x18, 1, cmd::GET_DEVICE_ID, &[]);
    b.advance(ms(5_000));
    assert_eq!(b.read_ctrl(), B_BUSY | H2B, "not taken");
    b.clear(ms(5_000), FaultKind::StuckBusy);
    assert_eq!(
        wait_b2h(&mut b, ms(6_000)).map(|t| t > ms(5_000)),
        Some(true)
    );
}

#[test]
fn never_clear_h2b_atn() {
    let mut b = healthy();
    b.inject(ms(0), Fault::NeverClearH2b);
    send(&mut b, ms(0), 0x18, 1, cmd::GET_DEVICE_ID, &[]);
    b.advance(ms(3_000));
    assert_eq!(b.read_ctrl(), H2B);
    assert_eq!(b.commands_handled(), 0);
}

#[test]
fn slow_response_latency() {
    let mut b = healthy();
    b.inject(
        ms(0),
        Fault::Slow {
            latency: Duration::from_secs(3),
        },
    );
    send(&mut b, ms(0), 0x18, 1, cmd::GET_DEVICE_ID, &[]);
    let t = wait_b2h(&mut b, ms(10_000)).unwrap();
    assert_eq!(t, Instant::from_micros(50) + Duration::from_secs(3));
}

#[test]
fn lose_responses_counts_down_but_executes() {
    let mut b = healthy();
    b.inject(ms(0), Fault::LoseResponses { count: Some(1) });
    send(
        &mut b,
        ms(0),
        0x18,
        1,
        cmd::SET_WATCHDOG,
        &[0x04, 0x01, 0, 0, 100, 0],
    );
    assert_eq!(wait_b2h(&mut b, ms(100)), None);
    assert!(
        !b.faults().is_active(FaultKind::LoseResponses),
        "ended by itself"
    );
    assert_eq!(
        app(&mut b, cmd::RESET_WATCHDOG, &[]).0,
        0,
        "the lost Set was executed"
    );
    let ev = events(&mut b);
    assert!(ev.contains(&BmcEventKind::RequestDropped {
        seq: 1,
        cmd: cmd::SET_WATCHDOG,
        reason: DropReason::Lost
    }));
    assert!(ev.contains(&BmcEventKind::FaultStopped(FaultKind::LoseResponses)));
}

#[test]
fn wrong_seq_then_correction() {
    let mut b = healthy();
    b.inject(
        ms(0),
        Fault::WrongSeq {
            seq_delta: 0xFF,
            correct_after: Some(Duration::from_secs(1)),
        },
    );
    send(&mut b, ms(0), 0x18, 10, cmd::GET_DEVICE_ID, &[]);
    wait_b2h(&mut b, ms(100)).unwrap();
    assert_eq!(read_response(&mut b)[2], 9, "seq - 1");
    let t = wait_b2h(&mut b, ms(5_000)).unwrap();
    assert!(t >= ms(1_001));
    assert_eq!(read_response(&mut b)[2], 10, "then the right one");
}

#[test]
fn stale_response_reposts_previous() {
    let mut b = healthy();
    app(&mut b, cmd::GET_BT_CAPS, &[]);
    b.inject(
        b.now(),
        Fault::StaleResponse {
            correct_after: None,
        },
    );
    let t = b.now();
    send(&mut b, t, 0x18, 0x40, cmd::GET_DEVICE_ID, &[]);
    wait_b2h(&mut b, t + Duration::from_millis(100)).unwrap();
    let r = read_response(&mut b);
    assert_eq!(
        &r[1..4],
        &[0x1C, 0x11, cmd::GET_BT_CAPS],
        "previous transaction's answer"
    );
    assert_eq!(
        wait_b2h(&mut b, t + Duration::from_secs(10)),
        None,
        "no correction"
    );
}

#[test]
fn duplicate_response_posted_again_after_consumption() {
    let mut b = healthy();
    b.inject(ms(0), Fault::DuplicateResponse);
    let r1 = transact(&mut b, 0x18, 3, cmd::GET_DEVICE_ID, &[]);
    assert_eq!(
        b.read_ctrl() & B2H,
        B2H,
        "second copy right after the first was read"
    );
    let r2 = read_response(&mut b);
    assert_eq!(r1, r2);
    assert_eq!(b.responses_posted(), 2);
}

#[test]
fn corrupt_length_byte() {
    let mut b = healthy();
    b.inject(ms(0), Fault::CorruptLength { len: 2 });
    send(&mut b, ms(0), 0x18, 3, cmd::GET_DEVICE_ID, &[]);
    wait_b2h(&mut b, ms(100)).unwrap();
    b.write_ctrl(CLR_RD);
    assert_eq!(b.read_buf(), 2);
    assert_eq!(b.read_buf(), 0x1C, "rest unchanged");
}

#[test]
fn b2h_atn_stuck_ignores_clears() {
    let mut b = healthy();
    b.inject(ms(0), Fault::StuckB2h);
    assert_eq!(b.read_ctrl(), B2H);
    b.write_ctrl(B2H);
    assert_eq!(b.read_ctrl(), B2H);
    b.clear(ms(1), FaultKind::StuckB2h);
    assert_eq!(b.read_ctrl(), 0);
}

#[test]
fn registers_ff_device_gone() {
    let mut b = healthy();
    b.inject(ms(0), Fault::ReadsFf);
    assert_eq!(
        (b.read_ctrl(), b.read_buf(), b.read_intmask()),
        (0xFF, 0xFF, 0xFF)
    );
    send(&mut b, ms(0), 0x18, 1, cmd::GET_DEVICE_ID, &[]);
    assert_eq!(b.commands_seen(), 0, "writes go nowhere");
    b.inject(ms(1), Fault::Reconnect);
    assert_eq!(b.read_ctrl(), 0);
    assert!(b.faults().is_healthy());
}

#[test]
fn bmc_reset_fault_keep_or_lose_watchdog() {
    for keep in [false, true] {
        let mut b = healthy();
        app(&mut b, cmd::SET_WATCHDOG, &[0x04, 0x01, 0, 0, 200, 0]);
        app(&mut b, cmd::RESET_WATCHDOG, &[]);
        let t = b.now();
        b.inject(
            t,
            Fault::BmcReset {
                keep_watchdog: keep,
            },
        );
        assert_eq!(b.read_ctrl(), B_BUSY);
        b.advance(t + Duration::from_secs(2));
        assert_eq!(b.read_ctrl(), 0);
        assert_eq!(b.watchdog().is_running(), keep);
        let cc = app(&mut b, cmd::RESET_WATCHDOG, &[]).0;
        assert_eq!(cc, if keep { 0 } else { 0x80 });
    }
}

#[test]
fn bmc_reset_drops_request_in_flight() {
    let mut b = healthy();
    send(&mut b, ms(0), 0x18, 1, cmd::GET_DEVICE_ID, &[]);
    b.advance(Instant::from_micros(60)); // taken, processing
    b.inject(
        Instant::from_micros(60),
        Fault::BmcReset {
            keep_watchdog: true,
        },
    );
    assert_eq!(wait_b2h(&mut b, ms(10_000)), None);
}

#[test]
fn ignore_command_only_that_one() {
    let mut b = healthy();
    b.inject(
        ms(0),
        Fault::IgnoreCommand {
            netfn: NETFN_APP,
            cmd: cmd::GET_BT_CAPS,
        },
    );
    send(&mut b, ms(0), 0x18, 1, cmd::GET_BT_CAPS, &[]);
    assert_eq!(wait_b2h(&mut b, ms(1_000)), None);
    assert_eq!(b.read_ctrl(), 0);
    assert_eq!(app(&mut b, cmd::GET_DEVICE_ID, &[]).0, 0);
}

#[test]
fn error_response_cc() {
    let mut b = healthy();
    b.inject(ms(0), Fault::ErrorResponse { cc: 0xC0 });
    assert_eq!(app(&mut b, cmd::GET_DEVICE_ID, &[]), (0xC0, vec![]));
    assert_eq!(
        app(&mut b, cmd::SET_WATCHDOG, &[0x04, 0x01, 0, 0, 100, 0]).0,
        0xC0
    );
    b.clear(b.now(), FaultKind::ErrorResponse);
    assert_eq!(
        app(&mut b, cmd::RESET_WATCHDOG, &[]).0,
        0x80,
        "the Set was not executed"
    );
}

#[test]
fn random_loss_is_seeded() {
    let run = |seed| {
        let mut b = SimBmc::new(BmcConfig {
            seed,
            ..BmcConfig::default()
        });
        b.inject(ms(0), Fault::RandomLoss { per_mille: 500 });
        let mut answered = Vec::new();
        for i in 0..64u8 {
            let t = b.now();
            send(&mut b, t, 0x18, i, cmd::GET_DEVICE_ID, &[]);
            let got = wait_b2h(&mut b, t + Duration::from_millis(10)).is_some();
            if got {
                read_response(&mut b);
            }
            answered.push(got);
        }
        answered
    };
    let a = run(1);
    assert_eq!(a, run(1));
    assert_ne!(a, run(2));
    let n = a.iter().filter(|x| **x).count();
    assert!((16..48).contains(&n), "{n}");
}

#[test]
fn jitter_is_seeded_and_bounded() {
    let cfg = BmcConfig {
        latency_jitter: Duration::from_millis(5),
        seed: 9,
        ..BmcConfig::default()
    };
    let times = |cfg: BmcConfig| {
        let mut b = SimBmc::new(cfg);
        (0..10u8)
            .map(|i| {
                let t = b.now();
                send(&mut b, t, 0x18, i, cmd::GET_DEVICE_ID, &[]);
                let d = wait_b2h(&mut b, t + Duration::from_secs(1)).unwrap() - t;
                read_response(&mut b);
                d
            })
            .collect::<Vec<_>>()
    };
    let a = times(cfg.clone());
    assert_eq!(a, times(cfg));
    assert!(a
        .iter()
        .all(|d| *d >= Duration::from_micros(1050) && *d <= Duration::from_micros(6050)));
    assert!(a.windows(2).any(|w| w[0] != w[1]));
}

// ----- triggers ---------------------------------------------------------------------------

#[test]
fn plan_at_time_and_start_for() {
    let mut b = healthy();
    b.set_faults(FaultPlan::new().with(
        Trigger::At(ms(100)),
        FaultAction::StartFor(Fault::StuckBusy, Duration::from_millis(50)),
    ));
    assert_eq!(b.next_deadline(), Some(ms(100)));
    b.advance(ms(99));
    assert_eq!(b.read_ctrl(), 0);
    b.advance(ms(100));
    assert_eq!(b.read_ctrl(), B_BUSY);
    assert_eq!(b.next_deadline(), Some(ms(150)));
    b.advance(ms(200));
    assert_eq!(b.read_ctrl(), 0);
    let ev = b.drain_events().collect::<Vec<_>>();
    assert_eq!(
        ev[0],
        BmcEvent {
            at: ms(100),
            kind: BmcEventKind::FaultStarted(Fault::StuckBusy)
        }
    );
    assert_eq!(
        ev[1],
        BmcEvent {
            at: ms(150),
            kind: BmcEventKind::FaultStopped(FaultKind::StuckBusy)
        }
    );
}

#[test]
fn plan_at_command_applies_to_that_request() {
    let mut b = healthy();
    b.set_faults(
        FaultPlan::new()
            .start_at_command(2, Fault::Silent)
            .with(Trigger::AtCommand(3), FaultAction::Stop(FaultKind::Silent)),
    );
    assert_eq!(app(&mut b, cmd::GET_DEVICE_ID, &[]).0, 0); // request 1
    let t = b.now();
    send(&mut b, t, 0x18, 2, cmd::GET_DEVICE_ID, &[]); // request 2: silent
    assert_eq!(wait_b2h(&mut b, t + Duration::from_secs(1)), None);
    assert_eq!(
        app(&mut b, cmd::GET_DEVICE_ID, &[]).0,
        0,
        "request 3 healthy again"
    );
    assert_eq!(b.commands_seen(), 3);
}

#[test]
fn hwrst_reported_or_honored() {
    let mut b = healthy();
    b.write_intmask(0x80);
    assert_eq!(
        b.read_ctrl(),
        0,
        "ignored by default (Linux writes 0x80 at every detect)"
    );
    assert!(events(&mut b).contains(&BmcEventKind::HwRstRequested { honored: false }));
    let mut h = SimBmc::new(BmcConfig {
        honor_hwrst: true,
        ..BmcConfig::default()
    });
    h.write_intmask(0x80);
    assert_eq!(h.read_ctrl(), B_BUSY);
    assert!(events(&mut h).contains(&BmcEventKind::BmcReset {
        cause: ResetCause::HwRst,
        keep_watchdog: false
    }));
}

#[test]
fn event_capacity_bounds_memory() {
    let mut b = SimBmc::new(BmcConfig {
        event_capacity: 3,
        ..BmcConfig::default()
    });
    for _ in 0..3 {
        app(&mut b, cmd::GET_DEVICE_ID, &[]);
    }
    assert_eq!(b.drain_events().count(), 3);
    assert_eq!(b.events_dropped(), 3);
}

#[test]
fn idle_bmc_has_no_deadline_and_time_never_goes_back() {
    let mut b = healthy();
    assert_eq!(b.next_deadline(), None);
    b.advance(ms(10));
    b.advance(ms(5));
    assert_eq!(b.now(), ms(10));
}

// ----- details verified against QEMU hw/ipmi --------------------------------------------

#[test]
fn set_global_enables_rejects_reserved_bit() {
    let mut b = healthy();
    assert_eq!(app(&mut b, cmd::SET_GLOBAL_ENABLES, &[0x18]).0, 0xCC);
    assert_eq!(app(&mut b, cmd::GET_GLOBAL_ENABLES, &[]), (0, vec![0x08]));
}

#[test]
fn sel_logging_follows_global_enables() {
    let expire = |cfg: BmcConfig, enables: u8| {
        let mut b = SimBmc::new(cfg);
        app(&mut b, cmd::SET_GLOBAL_ENABLES, &[enables]);
        app(&mut b, cmd::SET_WATCHDOG, &[0x04, 0x01, 0, 0, 1, 0]); // 100 ms, hard reset
        app(&mut b, cmd::RESET_WATCHDOG, &[]);
        let t = b.now();
        b.advance(t + Duration::from_secs(1));
        b.sel().len()
    };
    assert_eq!(expire(BmcConfig::default(), 0x08), 1);
    assert_eq!(expire(BmcConfig::default(), 0x00), 0, "logging disabled");
    assert_eq!(
        expire(BmcConfig::qemu(), 0x08),
        0,
        "QEMU gen_event needs the event buffer too"
    );
    assert_eq!(expire(BmcConfig::qemu(), 0x0C), 1);
}

#[test]
fn clear_message_flags_keeps_attention_while_flags_remain() {
    let mut b = healthy();
    app(&mut b, cmd::SET_WATCHDOG, &[0x04, 0x31, 1, 0, 20, 0]); // 2 s, pre-timeout 1 s
    app(&mut b, cmd::RESET_WATCHDOG, &[]);
    let t = b.now();
    b.advance(t + Duration::from_millis(1_500));
    assert_eq!(b.read_ctrl() & SMS, SMS);
    b.write_ctrl(SMS);
    assert_eq!(app(&mut b, cmd::CLEAR_MSG_FLAGS, &[0x01]).0, 0, "other bit");
    assert_eq!(b.read_ctrl() & SMS, SMS, "pre-timeout flag still pending");
    b.write_ctrl(SMS);
    assert_eq!(app(&mut b, cmd::CLEAR_MSG_FLAGS, &[0x08]).0, 0);
    assert_eq!(b.read_ctrl() & SMS, 0);
}

#[test]
fn qemu_cold_reset_only_resets_interface() {
    let mut b = SimBmc::new(BmcConfig::qemu());
    app(&mut b, cmd::SET_GLOBAL_ENABLES, &[0x0D]);
    b.write_intmask(0x01);
    app(&mut b, cmd::SET_WATCHDOG, &[0x04, 0x01, 0, 0, 100, 0]);
    app(&mut b, cmd::RESET_WATCHDOG, &[]);
    assert_eq!(app(&mut b, cmd::COLD_RESET, &[]).0, 0);
    assert_eq!(b.read_ctrl(), 0, "no boot time");
    assert_eq!(b.read_intmask(), 0, "IRQ enable cleared");
    assert_eq!(b.global_enables(), 0x08);
    assert!(b.watchdog().is_running(), "QEMU leaves the watchdog alone");
}

#[test]
fn qemu_irq_needs_global_enable_bit0() {
    let mut b = SimBmc::new(BmcConfig::qemu());
    b.write_intmask(0x01);
    send(&mut b, ms(0), 0x18, 1, cmd::GET_DEVICE_ID, &[]);
    assert_eq!(b.read_ctrl(), B2H);
    assert!(
        !b.device().irq_line(),
        "irqs_enabled is false until Set Global Enables"
    );
    read_response(&mut b);
    b.write_intmask(0x03);
    app(&mut b, cmd::SET_GLOBAL_ENABLES, &[0x09]);
    b.write_intmask(0x03);
    let t = b.now();
    send(&mut b, t, 0x18, 2, cmd::GET_DEVICE_ID, &[]);
    assert!(b.device().irq_line());
}

#[test]
fn hang_after_take_holds_b_busy_until_fault_ends() {
    let mut b = healthy();
    b.inject(ms(0), Fault::HoldBusy);
    send(&mut b, ms(0), 0x18, 1, cmd::GET_DEVICE_ID, &[]);
    b.advance(ms(30_000));
    assert_eq!(b.read_ctrl(), B_BUSY, "taken (H2B clear), B_BUSY held");
    assert_eq!(b.next_deadline(), None);
    b.clear(ms(30_000), FaultKind::HoldBusy);
    assert_eq!(b.read_ctrl(), 0, "request dropped, ready again");
    assert!(events(&mut b).contains(&BmcEventKind::RequestDropped {
        seq: 1,
        cmd: cmd::GET_DEVICE_ID,
        reason: DropReason::Hung
    }));
    assert_eq!(app(&mut b, cmd::GET_DEVICE_ID, &[]).0, 0);
}

/// QEMU `ipmi_bt.c` clears B_BUSY only in `ipmi_bt_handle_rsp`: with the
/// `qemu` preset a request a fault leaves unanswered keeps B_BUSY (taken, so
/// H2B_ATN is clear: the kernel prints `[ B_BUSY ]` and goes LONG_BUSY).
#[test]
fn qemu_unanswered_request_keeps_b_busy_until_the_fault_ends() {
    let mut b = SimBmc::new(BmcConfig::qemu());
    assert!(b.config().unanswered_holds_b_busy);
    b.inject(ms(0), Fault::Silent);
    send(&mut b, ms(0), 0x18, 1, cmd::GET_DEVICE_ID, &[]);
    b.advance(ms(30_000));
    assert_eq!(b.read_ctrl(), B_BUSY, "taken (H2B clear), B_BUSY held");
    assert_eq!(b.next_deadline(), None, "nothing will ever answer it");
    assert_eq!(b.responses_posted(), 0);
    let ev = events(&mut b);
    assert!(ev.contains(&BmcEventKind::RequestHeld {
        seq: 1,
        cmd: cmd::GET_DEVICE_ID,
        reason: DropReason::Silent
    }));
    assert!(!ev
        .iter()
        .any(|e| matches!(e, BmcEventKind::RequestDropped { .. })));
    b.clear(ms(30_000), FaultKind::Silent);
    assert_eq!(b.read_ctrl(), 0, "released: no answer, B_BUSY clear");
    assert!(events(&mut b).contains(&BmcEventKind::RequestDropped {
        seq: 1,
        cmd: cmd::GET_DEVICE_ID,
        reason: DropReason::Hung
    }));
    assert_eq!(app(&mut b, cmd::GET_DEVICE_ID, &[]).0, 0);
}

/// QEMU `ipmi_bt.c` `ipmi_bt_ioport_write` hands a request written under a
/// held B_BUSY to the BMC at once (never latching H2B_ATN): Linux's RESET2
/// Warm Reset (03 18 2A 03) supersedes the held request, the next timeout
/// shows `[ B_BUSY ]` alone, and an answer to it drops B_BUSY
/// (kernel-vs-model.md D5). Without QEMU's rule the frame waits in the buffer.
#[test]
fn qemu_request_written_under_held_b_busy_supersedes_the_held_one() {
    let mut b = SimBmc::new(BmcConfig::qemu());
    b.inject(ms(0), Fault::HoldBusy);
    send(&mut b, ms(0), 0x18, 0, cmd::GET_GLOBAL_ENABLES, &[]);
    b.advance(ms(10_000));
    assert_eq!(b.read_ctrl(), B_BUSY);
    events(&mut b);
    send(&mut b, ms(10_000), 0x18, 42, cmd::WARM_RESET, &[]);
    assert_eq!(b.read_ctrl(), B_BUSY, "taken at once: no H2B, B_BUSY held");
    let ev = events(&mut b);
    assert!(ev.contains(&BmcEventKind::RequestDropped {
        seq: 0,
        cmd: cmd::GET_GLOBAL_ENABLES,
        reason: DropReason::Hung
    }));
    assert!(ev.contains(&BmcEventKind::RequestTaken {
        netfn_lun: 0x18,
        seq: 42,
        cmd: cmd::WARM_RESET,
        data_len: 0
    }));
    // The hold ends as the next Warm Reset arrives: that one is answered.
    b.inject(ms(21_000), Fault::Reconnect);
    assert_eq!(b.read_ctrl(), 0);
    let t = b.now();
    send(&mut b, t, 0x18, 42, cmd::WARM_RESET, &[]);
    assert!(wait_b2h(&mut b, t + Duration::from_secs(1)).is_some());
    assert_eq!(
        &read_response(&mut b)[1..5],
        &[0x1C, 42, cmd::WARM_RESET, 0]
    );

    // Default preset (B_BUSY cleared when a request is read): the frame
    // written under the hang is not taken until the hang ends.
    let mut b = healthy();
    b.inject(ms(0), Fault::HoldBusy);
    send(&mut b, ms(0), 0x18, 0, cmd::GET_GLOBAL_ENABLES, &[]);
    b.advance(ms(1_000));
    send(&mut b, ms(1_000), 0x18, 42, cmd::WARM_RESET, &[]);
    b.advance(ms(2_000));
    assert_eq!(b.read_ctrl(), B_BUSY | H2B);
}

#[test]
fn qemu_lost_response_keeps_b_busy_until_reconnect_or_reset() {
    // Lose every response: held; ending an unrelated fault while the loss
    // goes on keeps it held; `reconnect` ends everything and releases it.
    let mut b = SimBmc::new(BmcConfig::qemu());
    b.inject(ms(0), Fault::LoseResponses { count: None });
    b.inject(ms(0), Fault::DuplicateResponse);
    send(&mut b, ms(0), 0x18, 2, cmd::GET_DEVICE_ID, &[]);
    b.advance(ms(5_000));
    assert_eq!(b.read_ctrl(), B_BUSY);
    assert_eq!(b.commands_handled(), 1, "executed, answer lost");
    b.clear(ms(6_000), FaultKind::DuplicateResponse);
    assert_eq!(b.read_ctrl(), B_BUSY, "loss still on: still held");
    b.inject(ms(7_000), Fault::Reconnect);
    assert_eq!(b.read_ctrl(), 0);
    assert_eq!(app(&mut b, cmd::GET_DEVICE_ID, &[]).0, 0);

    // A counted loss ends the fault itself; its last request stays held
    // (nothing ever answers it) until the BMC resets.
    let mut b = SimBmc::new(BmcConfig::qemu());
    b.inject(ms(0), Fault::LoseResponses { count: Some(1) });
    send(&mut b, ms(0), 0x18, 3, cmd::GET_DEVICE_ID, &[]);
    b.advance(ms(60_000));
    assert!(!b.faults().is_active(FaultKind::LoseResponses));
    assert_eq!(b.read_ctrl(), B_BUSY);
    b.inject(
        ms(60_000),
        Fault::BmcReset {
            keep_watchdog: true,
        },
    );
    assert_eq!(b.read_ctrl(), 0, "QEMU preset boots instantly");
    assert_eq!(app(&mut b, cmd::GET_DEVICE_ID, &[]).0, 0);
}

/// Without `unanswered_holds_b_busy` (default preset, Aspeed-like BMCs) a
/// dropped request clears B_BUSY at once: the host sees CTRL 0x00.
#[test]
fn default_unanswered_request_clears_b_busy() {
    for cfg in [
        BmcConfig::default(),
        BmcConfig {
            b_busy_until_response: false,
            ..BmcConfig::qemu()
        },
    ] {
        let mut b = SimBmc::new(cfg);
        b.inject(ms(0), Fault::Silent);
        send(&mut b, ms(0), 0x18, 1, cmd::GET_DEVICE_ID, &[]);
        b.advance(ms(1_000));
        assert_eq!(b.read_ctrl(), 0);
        assert!(events(&mut b).contains(&BmcEventKind::RequestDropped {
            seq: 1,
            cmd: cmd::GET_DEVICE_ID,
            reason: DropReason::Silent
        }));
    }
}

/// IPMI v2.0 §27: a system hard reset stops the watchdog and clears the
/// pre-timeout flag; the configuration survives (a Reset restarts it). The
/// host's BT interrupt setup is cleared.
#[test]
fn host_reset_stops_the_spec_watchdog_and_clears_the_pretimeout_flag() {
    let mut b = healthy();
    // SMS/OS, messaging pre-timeout, hard reset, pre-timeout 2 s, 5 s.
    app(&mut b, cmd::SET_WATCHDOG, &[0x04, 0x31, 2, 0, 50, 0]);
    app(&mut b, cmd::RESET_WATCHDOG, &[]);
    b.write_intmask(0x01);
    let t = b.now() + Duration::from_millis(3_500);
    b.advance(t);
    assert!(b.watchdog().is_running());
    assert!(b
        .message_flags()
        .contains(MessageFlags::WATCHDOG_PRETIMEOUT));
    b.drain_events().for_each(drop);
    b.host_reset(t);
    assert!(!b.watchdog().is_running());
    assert!(b.message_flags().is_empty());
    assert_eq!(b.read_intmask(), 0, "B2H_IRQ_EN cleared");
    assert_eq!(events(&mut b), [BmcEventKind::HostReset]);
    // Nothing expires later: the timer stays stopped.
    b.advance(t + Duration::from_secs(60));
    assert!(!events(&mut b)
        .iter()
        .any(|e| matches!(e, BmcEventKind::WatchdogExpired { .. })));
    // Not a BMC reset: the configuration survives, Reset starts it again.
    assert_eq!(app(&mut b, cmd::RESET_WATCHDOG, &[]).0, 0);
    assert!(b.watchdog().is_running());
}

/// QEMU's BMC has no system-reset hook: its watchdog keeps running.
#[test]
fn host_reset_leaves_the_qemu_watchdog_running() {
    let mut b = SimBmc::new(BmcConfig::qemu());
    app(&mut b, cmd::SET_WATCHDOG, &[0x44, 0x01, 0, 0, 100, 0]);
    app(&mut b, cmd::RESET_WATCHDOG, &[]);
    let t = b.now() + Duration::from_secs(1);
    b.host_reset(t);
    assert!(b.watchdog().is_running());
}

#[test]
fn clone_is_a_deterministic_snapshot() {
    let mut a = SimBmc::new(BmcConfig {
        latency_jitter: Duration::from_millis(3),
        ..BmcConfig::default()
    });
    a.inject(ms(0), Fault::RandomLoss { per_mille: 300 });
    app(&mut a, cmd::SET_WATCHDOG, &[0x04, 0x01, 0, 0, 50, 0]);
    let mut b = a.clone();
    let trace = |x: &mut SimBmc| {
        let mut out = Vec::new();
        for i in 0..20u8 {
            let t = x.now();
            send(x, t, 0x18, i, cmd::RESET_WATCHDOG, &[]);
            let got = wait_b2h(x, t + Duration::from_millis(20));
            if got.is_some() {
                out.push(read_response(x));
            }
            out.push(vec![got.is_some() as u8]);
        }
        x.advance(x.now() + Duration::from_secs(10));
        (out, x.sel().len(), x.now())
    };
    assert_eq!(trace(&mut a), trace(&mut b));
}

// ----- issue #13: QEMU's BT device and extern layer, new fault kinds ----------

fn qemu_extern() -> SimBmc {
    SimBmc::new(BmcConfig::qemu_extern())
}

#[test]
fn rewrite_response_netfn_cmd_and_byte_then_counts_down() {
    let mut b = healthy();
    b.inject(
        b.now(),
        Fault::RewriteResponse {
            netfn: Some(0x06),
            cmd: None,
            data_index: Some(0),
            value: 0xD5,
            count: Some(1),
        },
    );
    let r = transact(&mut b, 0x18, 3, cmd::GET_WATCHDOG, &[]);
    assert_eq!(
        &r[1..5],
        &[0x18, 3, cmd::GET_WATCHDOG, 0xD5],
        "NetFn 6, cc rewritten"
    );
    assert!(
        !b.faults().is_active(FaultKind::RewriteResponse),
        "count ran out"
    );
    let r = transact(&mut b, 0x18, 4, cmd::GET_WATCHDOG, &[]);
    assert_eq!(&r[1..4], &[0x1C, 4, cmd::GET_WATCHDOG]);
}

#[test]
fn qemu_extern_answers_caps_itself_even_when_the_bmc_is_silent() {
    let mut b = qemu_extern();
    b.inject(b.now(), Fault::Silent);
    let r = transact(&mut b, 0x18, 9, cmd::GET_BT_CAPS, &[]);
    assert_eq!(&r[1..], &[0x1C, 9, 0x36, 0, 1, 0xFF, 0xFF, 10, 0]);
}

#[test]
fn qemu_extern_timer_answers_0xc3_after_4s_for_a_silent_bmc() {
    let mut b = qemu_extern();
    b.inject(b.now(), Fault::Silent);
    let t0 = b.now();
    send(&mut b, t0, 0x18, 5, cmd::GET_WATCHDOG, &[]);
    assert_eq!(b.read_ctrl() & B_BUSY, B_BUSY);
    let at = wait_b2h(&mut b, t0 + Duration::from_secs(10)).expect("extern timer");
    assert_eq!(at - t0, Duration::from_secs(4));
    assert_eq!(b.read_ctrl() & B_BUSY, 0);
    let r = read_response(&mut b);
    assert_eq!(&r[1..5], &[0x1C, 5, cmd::GET_WATCHDOG, 0xC3]);
}

#[test]
fn qemu_extern_timer_beats_a_slow_answer_which_is_then_dropped() {
    let mut b = qemu_extern();
    b.inject(
        b.now(),
        Fault::Slow {
            latency: Duration::from_secs(6),
        },
    );
    let t0 = b.now();
    send(&mut b, t0, 0x18, 5, cmd::GET_WATCHDOG, &[]);
    wait_b2h(&mut b, t0 + Duration::from_secs(10)).expect("extern timer");
    assert_eq!(read_response(&mut b)[4], 0xC3);
    b.clear(b.now(), FaultKind::Slow);
    // The next request is served at once; nothing late shows up.
    let r = transact(&mut b, 0x18, 6, cmd::GET_DEVICE_ID, &[]);
    assert_eq!(&r[1..5], &[0x1C, 6, cmd::GET_DEVICE_ID, 0]);
    let limit = b.now() + Duration::from_secs(10);
    assert!(wait_b2h(&mut b, limit).is_none());
}

#[test]
fn qemu_extern_owns_seq_and_takes_one_answer_per_msg_id() {
    // wrong-seq with a correction: QEMU writes the seq itself and drops the
    // second answer.
    let mut b = qemu_extern();
    b.inject(
        b.now(),
        Fault::WrongSeq {
            seq_delta: 1,
            correct_after: Some(Duration::from_millis(10)),
        },
    );
    let r = transact(&mut b, 0x18, 7, cmd::GET_DEVICE_ID, &[]);
    assert_eq!(&r[1..5], &[0x1C, 7, cmd::GET_DEVICE_ID, 0], "seq rewritten");
    let limit = b.now() + Duration::from_secs(1);
    assert!(wait_b2h(&mut b, limit).is_none());
    assert!(events(&mut b).iter().any(|e| matches!(
        e,
        BmcEventKind::RequestDropped {
            reason: DropReason::NotAwaited,
            ..
        }
    )));
}

#[test]
fn stale_answer_through_qemu_carries_the_current_seq_and_the_right_one_is_dropped() {
    let mut b = qemu_extern();
    let _ = transact(&mut b, 0x18, 1, cmd::GET_DEVICE_ID, &[]);
    b.inject(
        b.now(),
        Fault::StaleResponse {
            correct_after: Some(Duration::from_secs(1)),
        },
    );
    let r = transact(&mut b, 0x18, 2, cmd::GET_WATCHDOG, &[]);
    // The previous command's answer, with this request's seq: Linux's BT
    // layer rejects it on cmd and times out; the right one never comes.
    assert_eq!(&r[1..4], &[0x1C, 2, cmd::GET_DEVICE_ID]);
    let limit = b.now() + Duration::from_secs(5);
    assert!(wait_b2h(&mut b, limit).is_none());
}

#[test]
fn link_drop_answers_0xd2_at_once_and_the_bmc_never_sees_it() {
    let mut b = qemu_extern();
    b.inject(b.now(), Fault::LinkDrop);
    let handled = b.commands_handled();
    let (cc, _) = app(&mut b, cmd::RESET_WATCHDOG, &[]);
    assert_eq!(cc, 0xD2);
    assert!(!b.watchdog().is_running(), "not executed");
    let r = transact(&mut b, 0x18, 3, cmd::GET_BT_CAPS, &[]);
    assert_eq!(r[4], 0, "caps still answered by QEMU's BT device");
    assert!(b.commands_handled() >= handled);
    b.inject(b.now(), Fault::Reconnect);
    let (cc, _) = app(&mut b, cmd::GET_DEVICE_ID, &[]);
    assert_eq!(cc, 0);
}

#[test]
fn link_drop_answers_the_awaited_request_0xd2_when_it_drops() {
    let mut b = qemu_extern();
    b.inject(b.now(), Fault::Silent);
    let t0 = b.now();
    send(&mut b, t0, 0x18, 5, cmd::GET_WATCHDOG, &[]);
    b.advance(t0 + Duration::from_secs(1));
    b.inject(b.now(), Fault::LinkDrop);
    assert_eq!(b.read_ctrl() & B2H, B2H);
    assert_eq!(read_response(&mut b)[4], 0xD2);
    assert_eq!(b.now() - t0, Duration::from_secs(1));
}

#[test]
fn raise_attn_sets_sms_atn() {
    let mut b = healthy();
    b.inject(b.now(), Fault::RaiseAttn { irq: false });
    assert_eq!(b.read_ctrl() & SMS, SMS);
    assert!(events(&mut b).contains(&BmcEventKind::SmsAtn));
}

#[test]
fn late_answer_through_qemu_answers_the_next_request_with_the_old_data() {
    let mut b = qemu_extern();
    b.inject(
        b.now(),
        Fault::LateAnswer {
            delay: Duration::from_secs(2),
        },
    );
    let t0 = b.now();
    send(&mut b, t0, 0x18, 5, cmd::GET_DEVICE_ID, &[]);
    b.advance(t0 + Duration::from_secs(1));
    b.clear(b.now(), FaultKind::LateAnswer);
    // Before the answer, the host (having given up) sends another request:
    // it gets the same msg_id, so the late answer is taken for it, with its seq.
    let t1 = b.now();
    send(&mut b, t1, 0x18, 6, cmd::GET_DEVICE_ID, &[]);
    let at = wait_b2h(&mut b, t1 + Duration::from_secs(10)).expect("answer");
    let r = read_response(&mut b);
    assert_eq!(&r[1..5], &[0x1C, 6, cmd::GET_DEVICE_ID, 0]);
    assert!(at - t0 <= Duration::from_secs(2));
}

#[test]
fn late_answer_without_qemu_keeps_its_old_seq() {
    let mut b = healthy();
    b.inject(
        b.now(),
        Fault::LateAnswer {
            delay: Duration::from_secs(2),
        },
    );
    let t0 = b.now();
    send(&mut b, t0, 0x18, 5, cmd::GET_DEVICE_ID, &[]);
    assert!(wait_b2h(&mut b, t0 + Duration::from_secs(1)).is_none());
    assert_eq!(b.read_ctrl() & B_BUSY, 0, "dropped for now");
    wait_b2h(&mut b, t0 + Duration::from_secs(5)).expect("late answer");
    assert_eq!(read_response(&mut b)[2], 5);
}
