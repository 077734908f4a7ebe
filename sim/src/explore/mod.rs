//! Property search over fault schedules and workloads: the liveness and
//! bounded-time properties a fixed BT driver must have, checked on scenario
//! traces, and a proptest-driven search that finds (and shrinks) a
//! counterexample scenario for a kernel preset that violates them.
//!
//! The properties (for every message, with `bound` =
//! (retries + 1) × req2rsp + the 6 s reset hold-off + 1 s of timer slack,
//! from the BMC's capabilities):
//!
//! * [`Property::BoundedCompletion`]: every started message completes (with any
//!   code) within `bound`.
//! * [`Property::RecoversWhenHealthy`]: a message submitted while the BMC has
//!   been healthy for `bound` and stays healthy until `bound` after the
//!   message started (it may wait behind others) completes with a
//!   response read from the BMC (not made up by the host, e.g. 0xD5 or 0xC0).
//! * [`Property::NoResetLoop`]: at most one BT reset per message.
//! * [`Property::ProbeFinishes`], [`Property::UnloadFinishes`],
//!   [`Property::ExactlyOnce`], [`Property::MatchingResponse`],
//!   [`Property::NoLivelock`]: see each variant for the kernel function it
//!   protects; [`Property::All`] checks every property.
//!
//! The fault spaces ([`Space`]) are shaped after the historical bugs
//! (kernel-bt.md §12): B-4 silence at a command, B-6 a request during the caps
//! fetch, B-3 a dead BMC at probe, B-8 a stuck B2H_ATN; [`Space::General`]
//! ([`general`]) after none. [`campaign`] runs the general search on every
//! core with coverage guidance and sharding; [`results`] are its
//! serialisable shard results; [`coverage`] the per-run coverage map.
//! Findings: `spec-notes/general-search-findings.md`.

pub mod campaign;
pub mod coverage;
pub mod general;
mod props;
pub mod results;

pub use props::{classify, limits_for, run_guarded, LIVELOCK_EVENTS, LIVELOCK_PHASE};

use core::fmt;
use std::cell::{Cell, RefCell};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};

use crate::bmc::config::MalformedPolicy;
use crate::bmc::BmcEventKind;
use crate::host::si::Origin;
use crate::scenario::{run, run_with_state_machine};
use crate::scenario::{
    BmcSpec, DriverSpec, FaultKind, FaultSpec, Hz, KernelPreset, RequestSpec, Scenario, TraceSpec,
};
use crate::scenario::{EventKind, Trace};
use ipmi_bt_sm::HostStateMachine;

/// BT_RESET_DELAY: the 6 s hold-off of RESET3 (ipmi_bt_sm.c).
const RESET_HOLD_OFF: Duration = Duration::from_secs(6);
/// Slack for jiffy rounding and the SI timer's first long period.
const SLACK: Duration = Duration::from_secs(1);

/// A property a fixed driver must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Property {
    /// Every started message completes within the bound.
    BoundedCompletion,
    /// Messages sent to a healthy BMC get the BMC's own response.
    RecoversWhenHealthy,
    /// At most one BT reset per message.
    NoResetLoop,
    /// The three above.
    Liveness,
    /// With `probe = true`, the probe (detect, Get Device ID) ends within
    /// twice the per-message bound: `try_smi_init` → `try_get_dev_id` →
    /// `wait_for_msg_done` (ipmi_si_intf.c) must not wait without end.
    ProbeFinishes,
    /// With `unload_at`, the unload ends within the per-message bound:
    /// `shutdown_smi` → `wait_msg_processed` (ipmi_si_intf.c).
    UnloadFinishes,
    /// Every submitted message completes exactly once: the SI layer never
    /// drops a message it took (`smi_event_handler` / `start_next_msg` /
    /// `handle_transaction_done` in ipmi_si_intf.c hand every message back
    /// through `deliver_recv_msg`), and never answers one twice.
    ExactlyOnce,
    /// No message completes with another message's response: the NetFn and
    /// command of every delivered answer are its request's
    /// (`handle_one_recv_msg` in ipmi_msghandler.c turns a mismatch into
    /// 0xFF; `read_all_bytes` in ipmi_bt_sm.c checks seq, NetFn and cmd).
    MatchingResponse,
    /// The CPU leaves the BT loop: `smi_event_handler`'s and
    /// `wait_for_msg_done`'s `while (result == SI_SM_CALL_WITHOUT_DELAY)`
    /// loops (ipmi_si_intf.c) end, i.e. virtual time keeps moving.
    NoLivelock,
    /// Every property.
    All,
}

impl Property {
    /// Every property.
    pub const ALL: [Property; 10] = [
        Property::BoundedCompletion,
        Property::RecoversWhenHealthy,
        Property::NoResetLoop,
        Property::Liveness,
        Property::ProbeFinishes,
        Property::UnloadFinishes,
        Property::ExactlyOnce,
        Property::MatchingResponse,
        Property::NoLivelock,
        Property::All,
    ];

    /// Kebab-case name (CLI).
    pub const fn name(self) -> &'static str {
        match self {
            Property::BoundedCompletion => "bounded-completion",
            Property::RecoversWhenHealthy => "recovers-when-healthy",
            Property::NoResetLoop => "no-reset-loop",
            Property::Liveness => "liveness",
            Property::ProbeFinishes => "probe-finishes",
            Property::UnloadFinishes => "unload-finishes",
            Property::ExactlyOnce => "exactly-once",
            Property::MatchingResponse => "matching-response",
            Property::NoLivelock => "no-livelock",
            Property::All => "all",
        }
    }
    /// Parse a [`name`](Self::name).
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == s)
    }
}

/// One message that broke a property.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Which property.
    pub property: Property,
    /// Message id in the trace.
    pub id: u32,
    /// Who sent it.
    pub origin: Origin,
    /// Request bytes.
    pub request: Vec<u8>,
    /// Start time.
    pub started: Duration,
    /// Start-to-completion time, or start-to-end-of-run if it never completed.
    pub waited: Duration,
    /// Whether it completed at all.
    pub completed: bool,
    /// Its completion code, if completed.
    pub cc: Option<ipmi_bt_sm::CompletionCode>,
    /// What is wrong, in words.
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: message #{} ({}) started at {:.3}s: {}",
            self.property.name(),
            self.id,
            self.origin,
            self.started.as_secs_f64(),
            self.message
        )
    }
}

/// The per-message time bound for a scenario: (retries + 1) × req2rsp + 6 s + 1 s.
pub fn bound(sc: &Scenario) -> Duration {
    let caps = sc.bmc_config().bt_caps;
    let attempts = u32::from(caps.retries) + 1;
    Duration::from_secs(u64::from(caps.req2rsp_secs)) * attempts + RESET_HOLD_OFF + SLACK
}

/// [`bound`] for a message of the probe, where the driver may still run on
/// its defaults (`BT_NORMAL_TIMEOUT` 5 s, `BT_NORMAL_RETRY_LIMIT` 2, as
/// when the capabilities answer is lost): the larger of those and the BMC's.
pub(super) fn probe_message_bound(sc: &Scenario) -> Duration {
    let caps = sc.bmc_config().bt_caps;
    let secs = caps.req2rsp_secs.max(5);
    let attempts = u32::from(caps.retries.max(2)) + 1;
    Duration::from_secs(u64::from(secs)) * attempts + RESET_HOLD_OFF + SLACK
}

/// Intervals during which the BMC was not healthy, from the trace:
/// * some fault was active;
/// * the BMC held a request it will never answer (QEMU's `ipmi_bt.c` keeps
///   B_BUSY until the awaited answer comes, so a lost answer wedges it after
///   the fault itself has ended), until it answers a request again or resets;
/// * when `wedges` (a BMC with [`MalformedPolicy::Wedge`]: QEMU keeps B_BUSY
///   after a frame it cannot parse), the BMC took a malformed request during
///   a fault or as one ended, until it answers again or resets. Such a frame
///   is the fault's doing, not the host's: e.g. `never-clear-h2b` ends after
///   the host's BT reset cleared the write pointer, and the BMC takes an
///   empty buffer (a malformed frame in healthy time stays the host's);
/// * the BMC was rebooting (`BmcReset` to `BmcReady`: B_BUSY for the boot
///   time).
fn fault_windows(trace: &Trace, wedges: bool) -> Vec<(Duration, Duration)> {
    let mut out = Vec::new();
    let mut open: Option<Duration> = None;
    let mut active = 0i32;
    let mut held = false;
    let mut booting = false;
    let mut last_off: Option<Duration> = None;
    for e in &trace.events {
        let t = e.t.since_start();
        let in_fault = active > 0 || last_off == Some(t);
        // Unhealthy stretches opened (+) and closed (-) by this event.
        let delta: i32 = match &e.kind {
            EventKind::FaultOn(_) => 1,
            EventKind::FaultOff(_) => -1,
            // A reboot (Cold Reset, BMC_HWRST, a `bmc-reset` fault) ends a
            // held request and keeps B_BUSY for the boot time.
            EventKind::Bmc(BmcEventKind::BmcReset { .. }) => {
                let ended = i32::from(core::mem::take(&mut held));
                let began = i32::from(!core::mem::replace(&mut booting, true));
                began - ended
            }
            EventKind::Bmc(BmcEventKind::BmcReady) => {
                -i32::from(core::mem::take(&mut held)) - i32::from(core::mem::take(&mut booting))
            }
            EventKind::Bmc(BmcEventKind::RequestHeld { .. }) if !held => {
                held = true;
                1
            }
            EventKind::Bmc(BmcEventKind::RequestMalformed { .. })
                if !held && wedges && in_fault =>
            {
                held = true;
                1
            }
            EventKind::Complete { index }
                if held
                    && trace
                        .completions
                        .get(*index)
                        .is_some_and(|c| !c.synthesized) =>
            {
                held = false;
                -1
            }
            _ => 0,
        };
        if delta > 0 {
            if active == 0 {
                open = Some(t);
            }
            active += delta;
        } else if delta < 0 {
            last_off = Some(t);
            active += delta;
            if active <= 0 {
                active = 0;
                if let Some(s) = open.take() {
                    out.push((s, t));
                }
            }
        }
    }
    if let Some(s) = open {
        out.push((s, Duration::MAX));
    }
    out
}

/// Check `property` on a run of `sc`.
pub fn check(property: Property, sc: &Scenario, trace: &Trace) -> Result<(), Violation> {
    match property {
        Property::Liveness => {
            check(Property::NoResetLoop, sc, trace)?;
            check(Property::BoundedCompletion, sc, trace)?;
            return check(Property::RecoversWhenHealthy, sc, trace);
        }
        Property::All => {
            for p in [
                Property::NoLivelock,
                Property::ProbeFinishes,
                Property::UnloadFinishes,
                Property::NoResetLoop,
                Property::ExactlyOnce,
                Property::MatchingResponse,
                Property::BoundedCompletion,
                Property::RecoversWhenHealthy,
            ] {
                check(p, sc, trace)?;
            }
            return Ok(());
        }
        Property::ProbeFinishes
        | Property::UnloadFinishes
        | Property::ExactlyOnce
        | Property::MatchingResponse
        | Property::NoLivelock => return props::check_more(property, sc, trace),
        _ => {}
    }
    let b = bound(sc);
    let end = trace.end.since_start();
    let wedges = sc.bmc_config().malformed == MalformedPolicy::Wedge;
    let windows = fault_windows(trace, wedges);
    // Healthy from `bound` before the message was submitted to `bound`
    // after it started (a message queued behind others starts later).
    let healthy_around = |submitted: Duration, started: Duration| {
        let lo = submitted.saturating_sub(b);
        let hi = started.max(submitted).saturating_add(b);
        windows.iter().all(|&(on, off)| off < lo || on > hi)
    };
    // Messages still outstanding within a bound of the unload may be cut
    // short by it (`shutdown_smi` stops the interface); they prove nothing
    // here ([`Property::UnloadFinishes`] covers the unload itself).
    let unloading = sc
        .driver
        .unload_at
        .map_or(Duration::MAX, |u| u.saturating_sub(b));
    // Completed messages.
    for c in &trace.completions {
        if c.origin == Origin::Internal || c.completed.since_start() >= unloading {
            continue;
        }
        let started = c.started.since_start();
        let waited = c.latency();
        let v = |message: String| Violation {
            property,
            id: c.id,
            origin: c.origin,
            request: c.request.to_vec(),
            started,
            waited,
            completed: true,
            cc: Some(c.cc),
            message,
        };
        match property {
            Property::BoundedCompletion if waited > b => {
                return Err(v(format!(
                    "completed with {} after {:.3}s, bound {:.3}s",
                    c.cc,
                    waited.as_secs_f64(),
                    b.as_secs_f64()
                )));
            }
            Property::RecoversWhenHealthy
                if c.synthesized && healthy_around(c.submitted.since_start(), started) =>
            {
                return Err(v(format!(
                    "BMC healthy, but the host answered {} itself",
                    c.cc
                )));
            }
            Property::NoResetLoop => {
                let resets = count_resets(trace, started, c.completed.since_start());
                if resets > 1 {
                    return Err(v(format!("{resets} BT resets before it completed")));
                }
            }
            _ => {}
        }
    }
    // Messages that never completed.
    for p in &trace.pending {
        if p.origin == Origin::Internal || sc.driver.unload_at.is_some() {
            continue;
        }
        let Some(st) = p.started else { continue };
        let started = st.since_start();
        let waited = end.saturating_sub(started);
        let v = |message: String| Violation {
            property,
            id: p.id,
            origin: p.origin,
            request: p.request.to_vec(),
            started,
            waited,
            completed: false,
            cc: None,
            message,
        };
        match property {
            Property::BoundedCompletion if waited > b => {
                return Err(v(format!(
                    "never completed ({:.3}s without an answer, bound {:.3}s)",
                    waited.as_secs_f64(),
                    b.as_secs_f64()
                )));
            }
            Property::RecoversWhenHealthy
                if waited > b && healthy_around(p.submitted.since_start(), started) =>
            {
                return Err(v("BMC healthy, but the message never completed".into()));
            }
            Property::NoResetLoop => {
                let resets = count_resets(trace, started, end);
                if resets > 1 {
                    return Err(v(format!("{resets} BT resets and still no completion")));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn count_resets(trace: &Trace, from: Duration, to: Duration) -> usize {
    trace
        .log
        .iter()
        .filter(|l| {
            let t = l.t.since_start();
            t >= from && t <= to && l.text.contains("BT reset (takes 5 secs)")
        })
        .count()
}

/// Families of generated scenarios, each shaped after one historical bug.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Space {
    /// B-4: the BMC goes silent (status 0x00) or holds B_BUSY from the Nth
    /// command for a while; requests run back-to-back, then every 2 s.
    SilenceAtCommand,
    /// B-6: a slow Get BT Capabilities answer (0–500 ms) and requests in the
    /// first second after load; no faults.
    CapsWindow,
    /// B-3: the BMC is dead (status 0x00) from load for 20–900 s; probe on; HZ varies.
    DeadAtProbe,
    /// B-8: B2H_ATN stuck from the Nth command for a while.
    StuckB2h,
    /// Any of the above.
    Mixed,
    /// Shaped after no bug: every fault kind, any trigger, any workload
    /// ([`general`]).
    General,
}

impl Space {
    /// Every space.
    pub const ALL: [Space; 6] = [
        Space::SilenceAtCommand,
        Space::CapsWindow,
        Space::DeadAtProbe,
        Space::StuckB2h,
        Space::Mixed,
        Space::General,
    ];

    /// Kebab-case name (CLI).
    pub const fn name(self) -> &'static str {
        match self {
            Space::SilenceAtCommand => "silence-at-command",
            Space::CapsWindow => "caps-window",
            Space::DeadAtProbe => "dead-at-probe",
            Space::StuckB2h => "stuck-b2h",
            Space::Mixed => "mixed",
            Space::General => "general",
        }
    }
    /// Parse a [`name`](Self::name).
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == s)
    }
}

fn base(name: &str, kernel: KernelPreset, hz: u32, probe: bool, stop: Duration) -> Scenario {
    Scenario {
        name: name.to_owned(),
        description: String::new(),
        seed: 1,
        stop,
        driver: DriverSpec {
            kernel,
            hz: Hz(hz),
            probe,
            ..DriverSpec::default()
        },
        bmc: BmcSpec {
            // Take requests the instant H2B_ATN is set: `silent` then shows an
            // all-zero status, so only `stuck-busy` makes the status non-zero.
            take_latency: Some(Duration::ZERO),
            ..BmcSpec::default()
        },
        trace: TraceSpec::default(),
        requests: Vec::new(),
        faults: Vec::new(),
        daemon: None,
    }
}

fn req(at: Option<Duration>, repeat: u32, interval: Option<Duration>) -> RequestSpec {
    RequestSpec {
        at,
        netfn: 0x06,
        cmd: 0x01,
        data: Vec::new(),
        repeat,
        interval,
        label: None,
        gets_events: false,
    }
}

fn fault(kind: FaultKind, at_command: u64, duration: Duration) -> FaultSpec {
    FaultSpec {
        duration: Some(duration),
        ..FaultSpec::at_command(kind, at_command)
    }
}

/// The scenarios of `space` for `kernel`, as a proptest strategy (shrinks
/// towards early commands, short faults, HZ = 100, the first fault kind).
pub fn strategy(space: Space, kernel: KernelPreset) -> BoxedStrategy<Scenario> {
    match space {
        Space::SilenceAtCommand => (
            prop_oneof![Just(FaultKind::Silent), Just(FaultKind::StuckBusy)],
            // Command 1 is detect's Get BT Capabilities; user request k is command k + 1.
            prop_oneof![2u64..=300, 250u64..=262],
            5u64..=60,
        )
            .prop_map(move |(kind, n, dur)| {
                let stop = Duration::from_millis(n * 20) + Duration::from_secs(dur + 120);
                let mut sc = base("explore-silence-at-command", kernel, 250, false, stop);
                sc.requests.push(req(
                    Some(Duration::from_millis(10)),
                    u32::try_from(n + 2).unwrap_or(u32::MAX),
                    None,
                ));
                sc.requests
                    .push(req(None, 20, Some(Duration::from_secs(2))));
                sc.faults.push(fault(kind, n, Duration::from_secs(dur)));
                sc
            })
            .boxed(),
        Space::CapsWindow => (0u64..=500, 0u64..=1000, 1u32..=3)
            .prop_map(move |(lat_ms, at_ms, repeat)| {
                let mut sc = base(
                    "explore-caps-window",
                    kernel,
                    250,
                    false,
                    Duration::from_secs(30),
                );
                sc.bmc.latency = Some(Duration::from_millis(lat_ms));
                sc.requests
                    .push(req(Some(Duration::from_millis(at_ms)), repeat, None));
                sc
            })
            .boxed(),
        Space::DeadAtProbe => (
            prop_oneof![Just(100u32), Just(250u32), Just(300u32), Just(1000u32)],
            20u64..=900,
        )
            .prop_map(move |(hz, dead_s)| {
                let mut sc = base(
                    "explore-dead-at-probe",
                    kernel,
                    hz,
                    true,
                    Duration::from_secs(1200),
                );
                let mut f = fault(FaultKind::Silent, 1, Duration::from_secs(dead_s));
                f.at_command = None;
                f.at = Some(Duration::ZERO);
                sc.faults.push(f);
                sc
            })
            .boxed(),
        Space::StuckB2h => (3u64..=100, 5u64..=60)
            .prop_map(move |(n, dur)| {
                let stop = Duration::from_millis(n * 20) + Duration::from_secs(dur + 40);
                let mut sc = base("explore-stuck-b2h", kernel, 250, false, stop);
                sc.requests.push(req(
                    Some(Duration::from_millis(10)),
                    u32::try_from(n + 2).unwrap_or(u32::MAX),
                    None,
                ));
                sc.faults
                    .push(fault(FaultKind::StuckB2h, n, Duration::from_secs(dur)));
                sc
            })
            .boxed(),
        Space::Mixed => prop_oneof![
            strategy(Space::SilenceAtCommand, kernel),
            strategy(Space::CapsWindow, kernel),
            strategy(Space::DeadAtProbe, kernel),
            strategy(Space::StuckB2h, kernel),
        ]
        .boxed(),
        Space::General => general::strategy(kernel),
    }
}

/// Search settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExploreConfig {
    /// Which scenario family to draw from.
    pub space: Space,
    /// Random cases to try before declaring "no counterexample".
    pub cases: u32,
    /// Seed (the search is deterministic for a seed).
    pub seed: u64,
    /// Upper bound on shrinking steps.
    pub max_shrink_iters: u32,
}

impl Default for ExploreConfig {
    fn default() -> Self {
        Self {
            space: Space::Mixed,
            cases: 64,
            seed: 1,
            max_shrink_iters: 256,
        }
    }
}

/// Progress of a running search (for a CLI progress line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Scenarios simulated so far (random cases plus shrink steps).
    pub runs: u64,
    /// Whether a failing case has been found (now shrinking).
    pub shrinking: bool,
    /// Wall time so far.
    pub elapsed: Duration,
}

/// What a search found.
#[derive(Debug, Clone, PartialEq)]
pub struct ExploreOutcome {
    /// The shrunk failing scenario, if any (print it with `to_toml_string`).
    pub counterexample: Option<Scenario>,
    /// The violation the counterexample shows.
    pub violation: Option<Violation>,
    /// Scenarios simulated (random cases plus shrink steps).
    pub cases_tried: u64,
    /// Runs until the first failing case (the "time to find" in cases).
    pub runs_to_first_failure: Option<u64>,
    /// Wall time until the first failing case.
    pub time_to_first_failure: Option<Duration>,
    /// Total wall time including shrinking.
    pub elapsed: Duration,
}

/// Search `cfg.space` for a scenario on which `kernel` violates `property`.
pub fn search(kernel: KernelPreset, property: Property, cfg: &ExploreConfig) -> ExploreOutcome {
    search_with_progress(kernel, property, cfg, &mut |_| {})
}

/// [`search`] with a callback after every simulated scenario.
pub fn search_with_progress(
    kernel: KernelPreset,
    property: Property,
    cfg: &ExploreConfig,
    progress: &mut dyn FnMut(&Progress),
) -> ExploreOutcome {
    search_inner(kernel, property, cfg, None, progress)
}

/// Makes the BT state machine for one searched scenario (a fresh one per run).
pub type MakeStateMachine<'a> = &'a dyn Fn(&Scenario) -> Box<dyn HostStateMachine>;

/// [`search_with_progress`] with every scenario run on the state machine
/// `make` gives (the kernel's own C file, say) instead of the `bt-sm` model;
/// `kernel` still gives the SI layer, HZ and the printk era.
pub fn search_with_state_machine(
    kernel: KernelPreset,
    property: Property,
    cfg: &ExploreConfig,
    make: MakeStateMachine<'_>,
    progress: &mut dyn FnMut(&Progress),
) -> ExploreOutcome {
    search_inner(kernel, property, cfg, Some(make), progress)
}

fn search_inner(
    kernel: KernelPreset,
    property: Property,
    cfg: &ExploreConfig,
    make: Option<MakeStateMachine<'_>>,
    progress: &mut dyn FnMut(&Progress),
) -> ExploreOutcome {
    let run = |sc: &Scenario| match (cfg.space, make) {
        (Space::General, make) => run_guarded(sc, make),
        (_, Some(m)) => run_with_state_machine(sc, m(sc)),
        (_, None) => run(sc),
    };
    let start = Instant::now();
    let runs = Cell::new(0u64);
    let first: Cell<Option<(u64, Duration)>> = Cell::new(None);
    let progress = RefCell::new(progress);
    let mut runner = runner_for(cfg);
    let strat = strategy(cfg.space, kernel);
    let result = runner.run(&strat, |sc| {
        runs.set(runs.get() + 1);
        let trace = run(&sc);
        let r = check(property, &sc, &trace);
        if r.is_err() && first.get().is_none() {
            first.set(Some((runs.get(), start.elapsed())));
        }
        if let Ok(mut cb) = progress.try_borrow_mut() {
            (*cb)(&Progress {
                runs: runs.get(),
                shrinking: first.get().is_some(),
                elapsed: start.elapsed(),
            });
        }
        r.map_err(|v| TestCaseError::fail(v.to_string()))
    });
    let (counterexample, violation) = match result {
        Err(TestError::Fail(_, mut sc)) => {
            let v = check(property, &sc, &run(&sc)).err();
            if let Some(v) = &v {
                sc.description = format!(
                    "counterexample for kernel {} found by `{}` search: {v}",
                    kernel.name,
                    cfg.space.name()
                );
            }
            (Some(sc), v)
        }
        _ => (None, None),
    };
    let f = first.get();
    ExploreOutcome {
        counterexample,
        violation,
        cases_tried: runs.get(),
        runs_to_first_failure: f.map(|x| x.0),
        time_to_first_failure: f.map(|x| x.1),
        elapsed: start.elapsed(),
    }
}

/// A deterministic proptest runner for `cfg` (no failure persistence files).
pub fn runner_for(cfg: &ExploreConfig) -> TestRunner {
    let config = Config {
        cases: cfg.cases,
        max_shrink_iters: cfg.max_shrink_iters,
        failure_persistence: None,
        ..Config::default()
    };
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&cfg.seed.to_le_bytes());
    TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed))
}

// ------------------------------------------------------------------ daemon

/// Settings of a search over BMC outages under bmcwd's petting daemon
/// (`[daemon]`, [`ipmi_watchdog::PetPolicy`]).
///
/// The property ([`check_daemon`]): while every outage of the BMC (silent,
/// or holding B_BUSY) lasts at most `max_outage` and outages are a countdown
/// apart, the watchdog never expires; and after a terminating signal with
/// `--on-exit stop` the timer ends stopped. The bound that makes this hold
/// is [`ipmi_watchdog::PolicyConfig::max_outage`] for the kernel's worst
/// case ([`crate::scenario::kernel_worst_case`]); a larger `max_outage`
/// must let the search find an expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DaemonSearch {
    /// Kernel preset of the host.
    pub kernel: KernelPreset,
    /// The daemon's countdown.
    pub timeout: Duration,
    /// Its pet interval.
    pub interval: Duration,
    /// Its backoff cap.
    pub max_backoff: Duration,
    /// The longest outage the search generates.
    pub max_outage: Duration,
    /// Random cases, seed and shrink budget.
    pub explore: ExploreConfig,
}

impl DaemonSearch {
    /// The daemon section of the generated scenarios.
    pub fn daemon(&self) -> crate::scenario::DaemonSpec {
        crate::scenario::DaemonSpec {
            kind: crate::scenario::DaemonKind::Bmcwd,
            start: Duration::ZERO,
            timeout: self.timeout,
            interval: Some(self.interval),
            action: "hard-reset".into(),
            on_exit: "stop".into(),
            max_backoff: self.max_backoff,
            rearm: true,
            cmd_timeout: Duration::from_secs(20),
            signals: Vec::new(),
        }
    }

    /// The largest outage [`check_daemon`] must survive for this
    /// configuration on the default BMC (the bound of the property).
    pub fn bound(&self) -> Option<Duration> {
        let k = crate::scenario::kernel_worst_case(self.kernel, crate::BtCapabilities::DEFAULT);
        self.daemon().policy().max_outage(&k)
    }
}

/// The signals that end the daemon (every handled one but SIGHUP).
const ENDING: [ipmi_watchdog::DaemonSignal; 12] = [
    ipmi_watchdog::DaemonSignal::Int,
    ipmi_watchdog::DaemonSignal::Quit,
    ipmi_watchdog::DaemonSignal::Term,
    ipmi_watchdog::DaemonSignal::Usr1,
    ipmi_watchdog::DaemonSignal::Usr2,
    ipmi_watchdog::DaemonSignal::Alrm,
    ipmi_watchdog::DaemonSignal::Vtalrm,
    ipmi_watchdog::DaemonSignal::Prof,
    ipmi_watchdog::DaemonSignal::Xcpu,
    ipmi_watchdog::DaemonSignal::Xfsz,
    ipmi_watchdog::DaemonSignal::Pwr,
    ipmi_watchdog::DaemonSignal::Io,
];

/// Scenarios for `ds`: one to three outages (silent or B_BUSY held), each
/// up to `max_outage`, a countdown or more apart, a random BMC latency, and
/// maybe a terminating signal (SIGHUP too: it must change nothing).
pub fn daemon_strategy(ds: &DaemonSearch) -> BoxedStrategy<Scenario> {
    let ds = *ds;
    let max_ms = u64::try_from(ds.max_outage.as_millis())
        .unwrap_or(u64::MAX)
        .max(100);
    let t_ms = u64::try_from(ds.timeout.as_millis()).unwrap_or(u64::MAX);
    let outage = (
        prop_oneof![Just(FaultKind::Silent), Just(FaultKind::HoldBusy)],
        100u64..=max_ms,
        0u64..=t_ms,
    );
    (
        0u64..=t_ms,
        proptest::collection::vec(outage, 1..=3),
        1u64..=50,
        proptest::option::of((0usize..=ENDING.len(), 0u64..=3 * t_ms)),
    )
        .prop_map(move |(first, outages, lat, signal)| {
            let mut sc = base(
                "explore-daemon",
                ds.kernel,
                250,
                false,
                Duration::from_secs(1),
            );
            sc.bmc.take_latency = None;
            sc.bmc.latency = Some(Duration::from_millis(lat));
            let mut at = Duration::from_millis(1_000 + first);
            for (kind, len, gap) in outages {
                let len = Duration::from_millis(len);
                let mut f = fault(kind, 1, len);
                f.at_command = None;
                f.at = Some(at);
                sc.faults.push(f);
                at += len + ds.timeout + Duration::from_millis(gap);
            }
            let mut d = ds.daemon();
            if let Some((i, when)) = signal {
                let sig = ENDING
                    .get(i)
                    .copied()
                    .unwrap_or(ipmi_watchdog::DaemonSignal::Hup);
                d.signals.push(crate::scenario::SignalSpec {
                    at: Duration::from_millis(1_000 + when),
                    signal: sig.name().into(),
                });
            }
            sc.daemon = Some(d);
            sc.stop = at.max(Duration::from_millis(1_000 + 3 * t_ms)) + 2 * ds.timeout;
            sc
        })
        .boxed()
}

/// Runs `sc` and checks the daemon property: no expiry (host reset), and
/// the timer stopped at the end when a terminating signal was sent.
pub fn check_daemon(sc: &Scenario) -> Result<(), String> {
    let mut sim = crate::scenario::Simulation::new(sc);
    sim.run_until(ipmi_vocab::Instant::ZERO + sc.stop);
    if let Some(t) = sim.host_reset() {
        return Err(format!(
            "the BMC watchdog expired at {:.3}s: the daemon let it reset a host whose BMC \
             outages stayed within the search's bound",
            t.since_start().as_secs_f64()
        ));
    }
    let ending = sc.daemon.as_ref().and_then(|d| {
        d.signals.iter().find(|s| {
            ipmi_watchdog::DaemonSignal::from_name(&s.signal).is_some_and(|g| !g.is_ignored())
        })
    });
    let running = matches!(
        sim.bmc().watchdog().state().phase,
        ipmi_watchdog::TimerPhase::Running { .. }
    );
    match ending {
        Some(s) if running => Err(format!(
            "{} at {:.3}s with --on-exit stop left the timer running",
            s.signal,
            s.at.as_secs_f64()
        )),
        None if !running => Err("the timer is not running, yet no signal ended the daemon".into()),
        _ => Ok(()),
    }
}

/// Searches [`daemon_strategy`] for a scenario that breaks [`check_daemon`].
pub fn daemon_search(ds: &DaemonSearch) -> ExploreOutcome {
    let start = Instant::now();
    let runs = Cell::new(0u64);
    let first: Cell<Option<(u64, Duration)>> = Cell::new(None);
    let mut runner = runner_for(&ds.explore);
    let result = runner.run(&daemon_strategy(ds), |sc| {
        runs.set(runs.get() + 1);
        let r = check_daemon(&sc);
        if r.is_err() && first.get().is_none() {
            first.set(Some((runs.get(), start.elapsed())));
        }
        r.map_err(TestCaseError::fail)
    });
    let counterexample = match result {
        Err(TestError::Fail(_, mut sc)) => {
            if let Err(why) = check_daemon(&sc) {
                sc.description = format!("counterexample for bmcwd's daemon: {why}");
            }
            Some(sc)
        }
        _ => None,
    };
    let f = first.get();
    ExploreOutcome {
        counterexample,
        violation: None,
        cases_tried: runs.get(),
        runs_to_first_failure: f.map(|x| x.0),
        time_to_first_failure: f.map(|x| x.1),
        elapsed: start.elapsed(),
    }
}
