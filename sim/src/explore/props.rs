//! The properties beyond the three per-message ones, the guarded run the
//! search uses (tight [`RunLimits`], a zero-time livelock detector), and the
//! classification of a violation by the known bug it looks like.

use core::time::Duration;
use std::cell::Cell;
use std::rc::Rc;

use ipmi_bt_sm::{
    Behaviour, CompletionCode, HostStateMachine, Io, LogSink, NotPresent, SmResult, State,
};

use super::{bound, probe_message_bound, Property, Violation};
use crate::host::si::Origin;
use crate::host::SiPhase;
use crate::scenario::{EventKind, Phase, RunLimits, Scenario, Simulation, Trace};
use ipmi_vocab::Instant;

/// `event(0)` calls in a row after which the guard calls the CPU stuck in
/// the SI layer's `while (result == SI_SM_CALL_WITHOUT_DELAY)` loop.
pub const LIVELOCK_EVENTS: u64 = 20_000;

/// Text that starts the trace's phase event of a detected livelock
/// ([`Phase::Livelock`]) and a livelock violation's message.
pub const LIVELOCK_PHASE: &str = Phase::LIVELOCK;

/// A state machine wrapper that counts `event(0)` calls in a row (no time
/// passed) and, after [`LIVELOCK_EVENTS`], answers CALL_WITH_DELAY once so
/// the simulated CPU leaves the loop (the search records the livelock as a
/// [`Property::NoLivelock`] violation; the kernel would spin forever).
struct Guard {
    inner: Box<dyn HostStateMachine>,
    zero_run: u64,
    fired: Rc<Cell<Option<State>>>,
}

impl HostStateMachine for Guard {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn init_data(&mut self) -> u32 {
        self.inner.init_data()
    }
    fn size(&self) -> usize {
        self.inner.size()
    }
    fn start_transaction(
        &mut self,
        log: &mut dyn LogSink,
        data: &[u8],
    ) -> Result<(), CompletionCode> {
        self.inner.start_transaction(log, data)
    }
    fn get_result(&mut self, log: &mut dyn LogSink, buf: &mut [u8]) -> usize {
        self.inner.get_result(log, buf)
    }
    fn event(&mut self, io: &mut dyn Io, log: &mut dyn LogSink, time_us: i64) -> SmResult {
        let r = self.inner.event(io, log, time_us);
        if time_us != 0 || r != SmResult::CallWithoutDelay {
            self.zero_run = 0;
            return r;
        }
        self.zero_run += 1;
        if self.zero_run >= LIVELOCK_EVENTS {
            self.zero_run = 0;
            if self.fired.get().is_none() {
                self.fired.set(Some(self.inner.state()));
            }
            return SmResult::CallWithDelay;
        }
        r
    }
    fn detect(&mut self, io: &mut dyn Io, log: &mut dyn LogSink) -> Result<(), NotPresent> {
        self.inner.detect(io, log)
    }
    fn detect_in_progress(&self) -> bool {
        self.inner.detect_in_progress()
    }
    fn finish_detect(&mut self, log: &mut dyn LogSink) {
        self.inner.finish_detect(log)
    }
    fn state(&self) -> State {
        self.inner.state()
    }
    fn timeout_us(&self) -> i64 {
        self.inner.timeout_us()
    }
    fn behaviour(&self) -> &Behaviour {
        self.inner.behaviour()
    }
    fn set_debug(&mut self, mask: u8) {
        self.inner.set_debug(mask)
    }
    fn polls_skippable(&self) -> bool {
        self.inner.polls_skippable()
    }
    fn set_hz(&mut self, hz: u32) {
        self.inner.set_hz(hz)
    }
}

/// Work limits for one searched scenario, sized to it: enough for any
/// healthy run of its length and workload, far below [`RunLimits::DEFAULT`]
/// so a run that spins costs milliseconds, not minutes.
pub fn limits_for(sc: &Scenario) -> RunLimits {
    let secs = sc.stop.as_secs() + 1;
    let hz = u64::from(sc.driver.hz.0.max(100));
    let msgs: u64 = sc.requests.iter().map(|r| u64::from(r.repeat)).sum();
    RunLimits {
        max_steps: 50_000 + secs * hz * 4 + msgs * 64,
        max_sm_events: 200_000 + secs * hz * 8 + msgs * 256 + LIVELOCK_EVENTS * 8,
        max_records: 300_000,
        max_register_records: 1_000_000,
        // The SI model's own livelock stop; the guard fires first.
        max_spin_events: LIVELOCK_EVENTS * 5,
    }
}

/// Runs `sc` for the search: limits from [`limits_for`], the zero-time
/// livelock guard around the state machine (`make`, or the preset's bt-sm
/// model), and a `CPU livelock` phase event where it fired.
pub fn run_guarded(sc: &Scenario, make: Option<super::MakeStateMachine<'_>>) -> Trace {
    let inner: Box<dyn HostStateMachine> = match make {
        Some(m) => m(sc),
        None => Box::new(ipmi_bt_sm::BtSm::with_behaviour(
            sc.driver_choice().behaviour,
        )),
    };
    let fired = Rc::new(Cell::new(None));
    let guard = Guard {
        inner,
        zero_run: 0,
        fired: Rc::clone(&fired),
    };
    let mut sim = Simulation::with_state_machine(sc, Box::new(guard));
    sim.set_limits(limits_for(sc));
    sim.run_until(Instant::ZERO + sc.stop);
    let mut trace = sim.into_trace();
    if let Some(state) = fired.get() {
        let t = busiest_instant(&trace).unwrap_or(trace.end);
        let at = trace.events.partition_point(|e| e.t <= t);
        trace.events.insert(
            at,
            crate::scenario::Event {
                t,
                kind: EventKind::Phase(Phase::Livelock {
                    during_probe: !trace.registered && sc.driver.probe,
                    events: LIVELOCK_EVENTS,
                    state,
                }),
            },
        );
    }
    trace
}

/// The instant with the most state changes (where a livelock spun).
fn busiest_instant(trace: &Trace) -> Option<Instant> {
    let mut best: Option<(Instant, usize)> = None;
    let mut cur: Option<(Instant, usize)> = None;
    for e in &trace.events {
        if !matches!(e.kind, EventKind::State { .. }) {
            continue;
        }
        cur = match cur {
            Some((t, n)) if t == e.t => Some((t, n + 1)),
            _ => Some((e.t, 1)),
        };
        if let Some((t, n)) = cur {
            if best.is_none_or(|(_, b)| n > b) {
                best = Some((t, n));
            }
        }
    }
    best.map(|(t, _)| t)
}

/// When the SI layer first reported `phase`, if it did.
fn phase_at(trace: &Trace, phase: SiPhase) -> Option<Instant> {
    trace.events.iter().find_map(|e| match &e.kind {
        EventKind::Phase(Phase::Si(p)) if *p == phase => Some(e.t),
        _ => None,
    })
}

fn blank(property: Property, id: u32, started: Duration, message: String) -> Violation {
    Violation {
        property,
        id,
        origin: Origin::Internal,
        request: Vec::new(),
        started,
        waited: Duration::ZERO,
        completed: false,
        cc: None,
        message,
    }
}

/// The checks of the properties this module adds.
pub(super) fn check_more(
    property: Property,
    sc: &Scenario,
    trace: &Trace,
) -> Result<(), Violation> {
    let b = bound(sc);
    let end = trace.end.since_start();
    match property {
        Property::NoLivelock => {
            let hit = trace.events.iter().find_map(|e| match &e.kind {
                EventKind::Phase(p @ (Phase::Livelock { .. } | Phase::SchedulerStalled)) => {
                    Some((e.t, p.to_string()))
                }
                _ => None,
            });
            // The SI model's own stop (`RunLimits::max_spin_events`), for
            // runs without the guard.
            let hit = hit.or_else(|| {
                trace
                    .truncated
                    .as_ref()
                    .filter(|t| t.contains("zero-time livelock"))
                    .map(|t| {
                        let probe = if trace.registered || !sc.driver.probe {
                            ""
                        } else {
                            " during the probe"
                        };
                        (trace.end, format!("{LIVELOCK_PHASE}{probe}: {t}"))
                    })
            });
            if let Some((t, p)) = hit {
                return Err(blank(property, 0, t.since_start(), p));
            }
        }
        Property::ProbeFinishes if sc.driver.probe => {
            // The probe is a chain of synchronous messages (detect-time
            // capabilities, Get Device ID and its `GET_DEVICE_ID_MAX_RETRY`
            // retries, the event-buffer enables), each bounded like any
            // message; so it must make progress at least once a bound:
            // between its start, its phases, its messages' completions and
            // its end. A longer gap is one message waited on for too long (B-3:
            // too little time credited per jiffy; F-1: no end at all).
            // With the capabilities unread the driver uses its defaults,
            // so the bound takes the larger of those and the BMC's.
            let limit = probe_message_bound(sc);
            // The probe ends registered ("probe done") or giving up
            // (`try_smi_init` fails, logging one of these lines).
            let done = phase_at(trace, SiPhase::ProbeDone).or_else(|| {
                (!trace.registered)
                    .then(|| {
                        trace.log.iter().find(|l| {
                            l.text
                                .ends_with("There appears to be no BMC at this location")
                                || l.text.ends_with("Interface detection failed")
                        })
                    })
                    .flatten()
                    .map(|l| l.t)
            });
            let until = done.map_or(end, |t| t.since_start());
            // Progress: its phases (detect, get device id, …) and the
            // completions of its messages.
            let mut marks: Vec<Duration> = trace
                .completions
                .iter()
                .filter(|c| matches!(c.origin, Origin::Probe { .. } | Origin::Internal))
                .map(|c| c.completed.since_start())
                .chain(trace.events.iter().filter_map(|e| match e.kind {
                    EventKind::Phase(_) => Some(e.t.since_start()),
                    _ => None,
                }))
                .filter(|&t| t <= until)
                .collect();
            marks.sort_unstable();
            let mut last = Duration::ZERO;
            for t in marks.into_iter().chain(core::iter::once(until)) {
                let gap = t.saturating_sub(last);
                // A run cut short by a limit before the bound proves nothing.
                if gap > limit {
                    let mut v = blank(
                        property,
                        0,
                        last,
                        match done {
                            Some(d) => format!(
                                "the probe took {:.3}s, {:.3}s of it waiting on one message, \
                                 bound {:.3}s",
                                d.since_start().as_secs_f64(),
                                gap.as_secs_f64(),
                                limit.as_secs_f64()
                            ),
                            None => format!(
                                "the probe had not finished after {:.3}s, {:.3}s without \
                                 progress, bound {:.3}s",
                                until.as_secs_f64(),
                                gap.as_secs_f64(),
                                limit.as_secs_f64()
                            ),
                        },
                    );
                    v.waited = gap;
                    return Err(v);
                }
                last = t;
            }
        }
        Property::UnloadFinishes => {
            let Some(at) = phase_at(trace, SiPhase::Shutdown) else {
                return Ok(());
            };
            let start = at.since_start();
            let done = phase_at(trace, SiPhase::Unloaded).map(|t| t.since_start());
            // `wait_msg_processed` waits for the message in flight and
            // the one waiting behind it.
            let limit = 2 * b;
            let waited = done.unwrap_or(end).saturating_sub(start);
            if waited > limit && (done.is_some() || end > start + limit) {
                let mut v = blank(
                    property,
                    0,
                    start,
                    format!(
                        "the unload (shutdown_smi) {} after {:.3}s, bound {:.3}s",
                        if done.is_some() {
                            "ended"
                        } else {
                            "had not ended"
                        },
                        waited.as_secs_f64(),
                        limit.as_secs_f64()
                    ),
                );
                v.waited = waited;
                return Err(v);
            }
        }
        Property::ExactlyOnce => {
            let mut seen = std::collections::HashSet::new();
            for c in &trace.completions {
                if !seen.insert(c.id) {
                    return Err(Violation {
                        property,
                        id: c.id,
                        origin: c.origin,
                        request: c.request.to_vec(),
                        started: c.started.since_start(),
                        waited: c.latency(),
                        completed: true,
                        cc: Some(c.cc),
                        message: "completed twice".into(),
                    });
                }
            }
            if let Some((t, id)) = trace.events.iter().find_map(|e| match e.kind {
                EventKind::Phase(Phase::MessageDropped { id }) => Some((e.t, id)),
                _ => None,
            }) {
                let pending = trace.pending.iter().find(|m| m.id == id);
                return Err(Violation {
                    property,
                    id,
                    origin: pending.map_or(Origin::Internal, |m| m.origin),
                    request: pending.map(|m| m.request.to_vec()).unwrap_or_default(),
                    started: t.since_start(),
                    waited: end.saturating_sub(t.since_start()),
                    completed: false,
                    cc: None,
                    message: format!("{}: it never completes", Phase::MessageDropped { id }),
                });
            }
        }
        Property::MatchingResponse => {
            // The probe's Get Device ID checks its answer itself
            // (`ipmi_demangle_device_id` refuses another NetFn/cmd).
            for c in trace
                .completions
                .iter()
                .filter(|c| !matches!(c.origin, Origin::Probe { .. }))
            {
                let (Some(&rn), Some(&rc)) = (c.response.first(), c.response.get(1)) else {
                    continue;
                };
                // A response carrying the request's own NetFn (the
                // response bit clear, which BT's `read_all_bytes` does not
                // check) is a corrupt answer to this message, not
                // another message's answer.
                if (rn >> 2) & !1 != c.netfn() & !1 || rc != c.cmd() {
                    return Err(Violation {
                        property,
                        id: c.id,
                        origin: c.origin,
                        request: c.request.to_vec(),
                        started: c.started.since_start(),
                        waited: c.latency(),
                        completed: true,
                        cc: Some(c.cc),
                        message: format!(
                            "request NetFn {:#04x} cmd {:#04x} completed with the response of \
                             NetFn {:#04x} cmd {:#04x}",
                            c.netfn(),
                            c.cmd(),
                            rn >> 2,
                            rc
                        ),
                    });
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// Which known bug a violation looks like (kernel-bt.md §12 and
/// `spec-notes/general-search-findings.md`), or `"new"`.
///
/// * B-3: the probe takes too long on a pre-2014 SI layer (100 µs credit
///   per jiffy in `wait_for_msg_done`).
/// * B-4: repeated `BT reset` for one message.
/// * B-6: a healthy BMC's request answered 0xD5 or diverted around the
///   capabilities fetch (`CAPABILITIES_BEGIN` in the state machine).
/// * B-8: a message never completes while B2H_ATN is stuck or keeps coming
///   back (`stuck-b2h`, `foreign-responses`): the drain in XACTION_START
///   returns before the timeout is charged.
/// * B-11: the CPU never leaves `read_all_bytes` (a 255 length byte with
///   the 8-bit read index of kernels before 4.14; the model logs
///   `LogMsg::ReadIndexWrapped`).
/// * B-13: the CPU never leaves the BT loop after the probe (foreign
///   responses while B2H_ATN keeps coming back).
/// * F-1: the probe waits without end (LONG_BUSY) on a 2014+ SI layer.
/// * F-2: the SI layer drops a message (its own Clear Message Flags
///   refused with LONG_BUSY, `start_new_msg`).
/// * F-3: the CPU never leaves the BT loop during the probe.
pub fn classify(v: &Violation, sc: &Scenario, trace: &Trace) -> &'static str {
    use crate::scenario::FaultKind;
    let pre_2014 = sc.driver_choice().si.name == "pre-2014";
    let b2h_keeps_coming = sc
        .faults
        .iter()
        .any(|f| matches!(f.kind, FaultKind::StuckB2h | FaultKind::ForeignResponses));
    let index_wrapped = || {
        // The model's annotation (`LogMsg::ReadIndexWrapped`).
        trace
            .log
            .iter()
            .any(|l| l.text.contains("with an 8-bit read index"))
    };
    match v.property {
        Property::NoLivelock if index_wrapped() => "B-11",
        Property::NoLivelock if v.message.contains("during the probe") => "F-3",
        Property::NoLivelock => "B-13",
        Property::ProbeFinishes if pre_2014 => "B-3",
        Property::ProbeFinishes => "F-1",
        Property::NoResetLoop => "B-4",
        Property::BoundedCompletion | Property::RecoversWhenHealthy
            if matches!(v.origin, Origin::Probe { .. }) && !v.completed =>
        {
            if pre_2014 {
                "B-3"
            } else {
                "F-1"
            }
        }
        Property::ExactlyOnce => "F-2",
        Property::RecoversWhenHealthy
            if v.cc == Some(CompletionCode(0xD5)) || v.message.contains("D5") =>
        {
            "B-6"
        }
        Property::BoundedCompletion if b2h_keeps_coming => "B-8",
        Property::RecoversWhenHealthy if !v.completed && b2h_keeps_coming => "B-8",
        _ => "new",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_livelock_phase_reads_as_before_and_starts_with_livelock_phase() {
        for (during_probe, phase) in [(false, ""), (true, " during the probe")] {
            let p = Phase::Livelock {
                during_probe,
                events: LIVELOCK_EVENTS,
                state: State::ReadWait,
            };
            let text = p.to_string();
            assert_eq!(
                text,
                format!(
                    "{LIVELOCK_PHASE}{phase}: {LIVELOCK_EVENTS} state-machine events in a row \
                     returned CALL_WITHOUT_DELAY with no time passing (state ReadWait); the \
                     simulator broke the loop"
                )
            );
        }
    }
}
