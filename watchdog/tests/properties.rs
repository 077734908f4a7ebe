//! Property tests: codec round trips, decoders never panic, and the timer
//! model (Spec profile) agrees with a tiny independent reference model under
//! any sequence of Set / Reset / Get / clear-flags / time advance.

use ipmi_watchdog::*;
use proptest::prelude::*;

const TICK_NS: u64 = 100_000_000;
const SEC_NS: u64 = 1_000_000_000;

fn any_use() -> impl Strategy<Value = TimerUse> {
    proptest::sample::select(TimerUse::ALL.to_vec())
}
fn any_action() -> impl Strategy<Value = TimerAction> {
    proptest::sample::select(TimerAction::ALL.to_vec())
}
fn any_irq() -> impl Strategy<Value = PreTimeoutInterrupt> {
    proptest::sample::select(PreTimeoutInterrupt::ALL.to_vec())
}

/// Any valid Set request; `max_ticks` keeps countdowns short enough for
/// expiries to happen within a test sequence.
fn any_set(max_ticks: u16, max_pre: u8) -> impl Strategy<Value = SetWatchdog> {
    (
        any_use(),
        any::<bool>(),
        any::<bool>(),
        any_action(),
        any_irq(),
        0..=max_pre,
        0u8..0x40,
        0..=max_ticks,
    )
        .prop_map(
            |(u, dont_log, dont_stop, action, irq, pre, clear, ticks)| SetWatchdog {
                timer_use: u,
                dont_log,
                dont_stop,
                action,
                pretimeout_irq: irq,
                pretimeout_secs: pre,
                clear_flags: ExpirationFlags::from_bits_truncate(clear),
                initial_countdown: Countdown::from_ticks(ticks),
            },
        )
}

fn any_get() -> impl Strategy<Value = GetWatchdogResponse> {
    (
        proptest::option::of(any_use()),
        any::<bool>(),
        any::<bool>(),
        any_action(),
        any_irq(),
        any::<u8>(),
        any::<u8>(),
        any::<u16>(),
        proptest::option::of(any::<u16>()),
    )
        .prop_map(
            |(u, dl, run, a, irq, pre, flags, init, present)| GetWatchdogResponse {
                timer_use: u,
                dont_log: dl,
                running: run,
                action: a,
                pretimeout_irq: irq,
                pretimeout_secs: pre,
                expiration_flags: ExpirationFlags::from_bits_retain(flags),
                initial_countdown: Countdown::from_ticks(init),
                present_countdown: present.map(Countdown::from_ticks),
            },
        )
}

proptest! {
    #[test]
    fn set_round_trips(req in any_set(u16::MAX, u8::MAX)) {
        let bytes = req.encode();
        for p in CompatProfile::ALL {
            prop_assert_eq!(SetWatchdog::decode_for(&bytes, p), Ok(req));
        }
        prop_assert_eq!(SetWatchdog::decode(&bytes), Ok(req));
    }

    #[test]
    fn strict_set_decode_is_injective(bytes in proptest::collection::vec(any::<u8>(), 6)) {
        // Whatever strict decoding accepts re-encodes to the same bytes.
        if let Ok(req) = SetWatchdog::decode(&bytes) {
            prop_assert_eq!(&req.encode()[..], &bytes[..]);
        }
    }

    #[test]
    fn get_round_trips(resp in any_get()) {
        let bytes = resp.encode();
        prop_assert_eq!(GetWatchdogResponse::decode_lenient(&bytes), Ok(resp));
        if resp.present_countdown.is_some() {
            prop_assert_eq!(GetWatchdogResponse::decode(&bytes), Ok(resp));
        } else {
            prop_assert!(GetWatchdogResponse::decode(&bytes).is_err());
        }
    }

    #[test]
    fn message_flag_codecs_round_trip(b in any::<u8>()) {
        let g = GetMessageFlagsResponse { flags: MessageFlags::from_bits_retain(b) };
        prop_assert_eq!(GetMessageFlagsResponse::decode(&g.encode()), Ok(g));
        let c = ClearMessageFlags { flags: MessageFlags::from_bits_retain(b) };
        prop_assert_eq!(ClearMessageFlags::decode(&c.encode()), Ok(c));
    }

    #[test]
    fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..12), cmd in any::<u8>()) {
        for p in CompatProfile::ALL {
            let _ = SetWatchdog::decode_for(&bytes, p);
            let mut wd = Watchdog::new(p);
            let _ = wd.handle(Instant::from_millis(1), cmd, &bytes);
            let set = wd.handle(Instant::from_millis(2), CMD_SET_WATCHDOG, &bytes);
            // SetWatchdog::decode_for: fewer than 6 bytes is 0xC7 in every profile.
            if bytes.len() < 6 {
                prop_assert_eq!(set.map(|r| r.cc), Some(CompletionCode::REQUEST_DATA_LENGTH_INVALID));
            }
            let _ = wd.handle(Instant::from_millis(3), CMD_RESET_WATCHDOG, &bytes);
            if let Some(r) = wd.handle(Instant::from_millis(4), CMD_GET_WATCHDOG, &bytes) {
                prop_assert!(r.data.len() <= 8);
            }
            let _ = wd.advance(Instant::from_nanos(u64::MAX));
        }
        let _ = GetWatchdogResponse::decode(&bytes);
        let _ = GetWatchdogResponse::decode_lenient(&bytes);
        let _ = GetMessageFlagsResponse::decode(&bytes);
        let _ = ClearMessageFlags::decode(&bytes);
        let _ = split_completion(cmd, &bytes).map_err(|e| e.to_string());
    }
}

// ---- reference model ----------------------------------------------------------

/// What a spec-following BMC does, written as plainly as possible and
/// independently of the crate's model (times in nanoseconds).
#[derive(Debug, Default)]
struct RefBmc {
    initialized: bool,
    cfg: Option<SetWatchdog>,
    flags: u8,
    pretimeout_flag: bool,
    running: bool,
    /// Instant of the last (re)start of the countdown.
    armed_at: u64,
    pre_done: bool,
    stopped_present: u16,
}

#[derive(Debug, PartialEq, Eq)]
enum RefEvent {
    Pre {
        at: u64,
        logged: bool,
    },
    Expired {
        at: u64,
        logged: bool,
        action: TimerAction,
    },
}

impl RefBmc {
    fn expiry(&self, c: &SetWatchdog) -> u64 {
        self.armed_at + u64::from(c.initial_countdown.ticks()) * TICK_NS
    }

    fn pre_point(&self, c: &SetWatchdog) -> Option<u64> {
        if c.pretimeout_irq == PreTimeoutInterrupt::None {
            return None;
        }
        let pre = u64::from(c.pretimeout_secs) * SEC_NS;
        Some(self.expiry(c).saturating_sub(pre).max(self.armed_at))
    }

    fn deadline(&self) -> Option<u64> {
        let c = self.cfg.as_ref()?;
        if !self.running {
            return None;
        }
        match self.pre_point(c) {
            Some(p) if !self.pre_done => Some(p),
            _ => Some(self.expiry(c)),
        }
    }

    fn advance(&mut self, now: u64) -> Vec<RefEvent> {
        let mut out = vec![];
        let Some(mut c) = self.cfg else { return out };
        if !self.running {
            return out;
        }
        if let Some(p) = self.pre_point(&c) {
            if !self.pre_done && p <= now {
                self.pre_done = true;
                self.pretimeout_flag = true;
                out.push(RefEvent::Pre {
                    at: p,
                    logged: !c.dont_log,
                });
            }
        }
        let e = self.expiry(&c);
        if e <= now {
            self.running = false;
            self.stopped_present = 0;
            self.flags |= 1 << c.timer_use.bits();
            out.push(RefEvent::Expired {
                at: e,
                logged: !c.dont_log,
                action: c.action,
            });
            c.dont_log = false;
            self.cfg = Some(c);
        }
        out
    }

    fn set(&mut self, now: u64, req: SetWatchdog) -> u8 {
        self.cfg = Some(req);
        self.initialized = true;
        self.flags &= !req.clear_flags.bits();
        self.pretimeout_flag = false;
        if self.running && req.dont_stop {
            self.armed_at = now;
            self.pre_done = false;
        } else {
            self.running = false;
            self.stopped_present = req.initial_countdown.ticks();
        }
        0
    }

    fn reset(&mut self, now: u64) -> u8 {
        if !self.initialized {
            return 0x80;
        }
        if self.running && self.pre_done {
            return 0xD5;
        }
        self.running = true;
        self.armed_at = now;
        self.pre_done = false;
        0
    }

    fn get(&self, now: u64) -> Vec<u8> {
        let Some(c) = self.cfg else {
            return vec![0, 0, 0, self.flags, 0, 0, 0, 0];
        };
        let present = if self.running {
            let left = self.expiry(&c) - now;
            left.div_ceil(TICK_NS) as u16
        } else {
            self.stopped_present
        };
        let mut b1 = c.timer_use.bits();
        if c.dont_log {
            b1 |= 0x80;
        }
        if self.running {
            b1 |= 0x40;
        }
        let init = c.initial_countdown.ticks().to_le_bytes();
        let pres = present.to_le_bytes();
        vec![
            b1,
            (c.pretimeout_irq.bits() << 4) | c.action.bits(),
            c.pretimeout_secs,
            self.flags,
            init[0],
            init[1],
            pres[0],
            pres[1],
        ]
    }
}

#[derive(Debug, Clone)]
enum Op {
    Set(SetWatchdog),
    Reset,
    Get,
    Wait(u64),
    ClearPretimeoutFlag,
}

fn any_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => any_set(120, 15).prop_map(Op::Set),
        3 => Just(Op::Reset),
        2 => Just(Op::Get),
        // Waits from 0 to 15 s with nanosecond jitter.
        4 => (0u64..15 * SEC_NS).prop_map(Op::Wait),
        1 => Just(Op::ClearPretimeoutFlag),
    ]
}

fn convert(events: Events) -> Vec<RefEvent> {
    events
        .map(|e| match e {
            WatchdogEvent::PreTimeout { at, sel, .. } => RefEvent::Pre {
                at: at.as_nanos(),
                logged: sel.is_some(),
            },
            WatchdogEvent::Expired {
                at, sel, action, ..
            } => RefEvent::Expired {
                at: at.as_nanos(),
                logged: sel.is_some(),
                action,
            },
        })
        .collect()
}

proptest! {
    #[test]
    fn spec_model_matches_reference(ops in proptest::collection::vec(any_op(), 1..60)) {
        let mut wd = Watchdog::new(CompatProfile::Spec);
        let mut rf = RefBmc::default();
        let mut now = 0u64;
        for op in ops {
            // Event-driven stepping: advance to every deadline on the way, as
            // a simulator would, then to `now`.
            if let Op::Wait(d) = op {
                let end = now + d;
                while let Some(dl) = wd.next_deadline().filter(|&dl| dl.as_nanos() <= end) {
                    prop_assert_eq!(Some(dl.as_nanos()), rf.deadline());
                    prop_assert!(dl.as_nanos() >= now, "deadline in the past");
                    now = dl.as_nanos();
                    let got = convert(wd.advance(dl));
                    prop_assert!(!got.is_empty(), "a deadline must fire something");
                    prop_assert_eq!(got, rf.advance(now));
                }
                now = end;
            }
            let t = Instant::from_nanos(now);
            prop_assert_eq!(convert(wd.advance(t)), rf.advance(now));
            prop_assert!(wd.advance(t).is_empty(), "events fire exactly once");
            prop_assert_eq!(wd.next_deadline().map(Instant::as_nanos), rf.deadline());
            match op {
                Op::Set(req) => {
                    let r = wd.handle(t, CMD_SET_WATCHDOG, &req.encode()).unwrap();
                    prop_assert!(r.events.is_empty());
                    prop_assert_eq!(r.cc.0, rf.set(now, req));
                }
                Op::Reset => {
                    let r = wd.handle(t, CMD_RESET_WATCHDOG, &[]).unwrap();
                    prop_assert_eq!(r.cc.0, rf.reset(now));
                }
                Op::Get => {
                    let r = wd.handle(t, CMD_GET_WATCHDOG, &[]).unwrap();
                    prop_assert!(r.cc.is_ok());
                    prop_assert_eq!(r.data.to_vec(), rf.get(now));
                    let g = GetWatchdogResponse::decode(&r.data).unwrap();
                    let present = g.present_countdown.unwrap();
                    prop_assert!(present <= g.initial_countdown, "present exceeds initial");
                }
                Op::Wait(_) => {}
                Op::ClearPretimeoutFlag => {
                    wd.clear_message_flags(MessageFlags::WATCHDOG_PRETIMEOUT);
                    rf.pretimeout_flag = false;
                }
            }
            prop_assert_eq!(
                wd.message_flags().contains(MessageFlags::WATCHDOG_PRETIMEOUT),
                rf.pretimeout_flag
            );
            prop_assert_eq!(wd.is_running(), rf.running);
        }
    }

    /// Every profile: events come in time order, never later than `now`,
    /// each exactly once, and a deadline is never in the past after advancing.
    #[test]
    fn all_profiles_fire_in_order_exactly_once(
        ops in proptest::collection::vec(any_op(), 1..60),
        pi in 0usize..4,
    ) {
        let profile = CompatProfile::ALL[pi];
        let mut wd = Watchdog::new(profile);
        let mut now = 0u64;
        let mut last_event = 0u64;
        let mut expiries_since_arm = 0u32;
        for op in ops {
            if let Op::Wait(d) = op {
                now += d;
            }
            let t = Instant::from_nanos(now);
            let r = match op {
                Op::Set(req) => wd.handle(t, CMD_SET_WATCHDOG, &req.encode()),
                Op::Reset => wd.handle(t, CMD_RESET_WATCHDOG, &[]),
                Op::Get => wd.handle(t, CMD_GET_WATCHDOG, &[]),
                Op::Wait(_) | Op::ClearPretimeoutFlag => None,
            };
            let mut events: Vec<WatchdogEvent> = wd.advance(t).collect();
            if let Some(r) = r {
                // Events reported by handle precede the command; advance
                // after the command can only report later ones.
                let mut first: Vec<WatchdogEvent> = r.events.collect();
                if matches!(op, Op::Reset | Op::Set(_)) && r.cc.is_ok() {
                    expiries_since_arm = 0;
                }
                first.append(&mut events);
                events = first;
            }
            for e in events {
                prop_assert!(e.at().as_nanos() <= now);
                prop_assert!(e.at().as_nanos() >= last_event, "out of order");
                last_event = e.at().as_nanos();
                if let WatchdogEvent::Expired { .. } = e {
                    expiries_since_arm += 1;
                    prop_assert!(expiries_since_arm <= 1, "two expiries for one arming");
                }
            }
            if let Some(dl) = wd.next_deadline() {
                prop_assert!(dl.as_nanos() > now, "deadline not in the future after advancing");
            }
            if matches!(op, Op::ClearPretimeoutFlag) {
                wd.clear_message_flags(MessageFlags::WATCHDOG_PRETIMEOUT);
            }
        }
    }
}
