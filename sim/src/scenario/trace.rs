//! What a scenario run produced: kernel log lines with virtual timestamps, state
//! changes, submissions and completions, fault switches, BMC events and
//! (optionally) every register access — plus text renderers for people.

use core::fmt::{self, Write as _};

use ipmi_bt_sm::{Level, LogRecord, LogSink, PrintkEra, State};

use crate::bmc::fault::{Fault, FaultKind};
use crate::bmc::BmcEventKind;
use crate::host::msghandler::{Completion, Pending};
use crate::host::si::RegEvent;
use crate::host::{HostEvents, SiPhase};
use ipmi_vocab::Instant;
use ipmi_watchdog::TimerAction;

/// The prefix `dev_*` messages carry (`dev_name` of an ACPI-probed BT interface).
pub(super) const DEFAULT_DEVICE_PREFIX: &str = "ipmi_si IPI0001:00: ";

/// One complete kernel log line, as `dmesg` would show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelLine {
    /// Virtual time of the line's first fragment.
    pub t: Instant,
    /// Level of the line's first fragment.
    pub level: Level,
    /// Full text, including the `dev_*` device prefix where the kernel adds one.
    pub text: String,
}

/// Formats a virtual time like a dmesg stamp: `[   10.000123]`.
pub(super) struct DmesgStamp(pub(super) Instant);

impl fmt::Display for DmesgStamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.0.as_nanos();
        write!(
            f,
            "[{:5}.{:06}]",
            ns / 1_000_000_000,
            (ns % 1_000_000_000) / 1_000
        )
    }
}

/// Something that happened, in time order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// The BT state machine changed state.
    State {
        /// Previous state.
        from: State,
        /// New state.
        to: State,
    },
    /// Message `id` was handed to the driver.
    Submit {
        /// Message id.
        id: u32,
    },
    /// `completions[index]` finished.
    Complete {
        /// Index into [`Trace::completions`].
        index: usize,
    },
    /// A fault switched on (printed as its file name and parameters,
    /// e.g. `slow(latency=1.5s)`).
    FaultOn(Fault),
    /// Every fault of this kind switched off (printed as its file name).
    FaultOff(FaultKind),
    /// A BMC-side event (reset, watchdog action, …), printed in its `Debug`
    /// form.
    Bmc(BmcEventKind),
    /// A driver phase boundary (`detect`, `probe done`, `registered`, …) or
    /// a note the run adds to the timeline (`run stopped early: …`).
    Phase(Phase),
    /// The BT interrupt was taken.
    Irq,
    /// A log line of the host-userspace daemon (`[daemon]`).
    Daemon(String),
}

/// What an [`EventKind::Phase`] event marks: a phase boundary the SI layer
/// reported, or a note the run adds to the timeline.
///
/// Typed so that code asking "did the probe finish?" or "was a message
/// dropped?" matches a variant instead of a text; [`Display`](fmt::Display)
/// gives the text the timeline, the JSON trace and the SVG print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// A phase boundary of the SI layer (`detect`, `probe done`, `unloaded`, …).
    Si(SiPhase),
    /// The SI layer dropped message `id` without a response: the message
    /// handler never hears back.
    MessageDropped {
        /// Message id.
        id: u32,
    },
    /// The run reached a [`RunLimits`](crate::RunLimits) limit and stopped;
    /// why (the text of [`Trace::truncated`]).
    StoppedEarly(String),
    /// The scheduler took too many steps at one instant with no message
    /// moving (a deadline that never clears) and gave up.
    SchedulerStalled,
    /// The BMC watchdog expired with `action` while a host daemon ran: the
    /// host resets, so the run ends here.
    HostReset(TimerAction),
    /// The explore search's guard broke a zero-time livelock: the SI layer
    /// called the state machine `events` times in a row, each answering
    /// CALL_WITHOUT_DELAY with no time passing (the kernel would spin forever).
    Livelock {
        /// The probe had not finished (the interface was not registered yet).
        during_probe: bool,
        /// State-machine events in the loop before the guard broke it.
        events: u64,
        /// The state machine's state when the guard broke the loop.
        state: State,
    },
}

impl Phase {
    /// The words a [`Phase::Livelock`] text starts with (the search's
    /// livelock violations start with them too).
    pub const LIVELOCK: &'static str = "CPU livelock";
}

impl fmt::Display for Phase {
    /// The text of the timeline's `DRIVER` line and of the JSON trace's
    /// `phase` events.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Phase::Si(p) => fmt::Display::fmt(p, f),
            Phase::MessageDropped { id } => {
                write!(
                    f,
                    "message #{id} dropped by the SI layer without a response"
                )
            }
            Phase::StoppedEarly(why) => write!(f, "run stopped early: {why}"),
            Phase::SchedulerStalled => {
                f.write_str("scheduler stalled: no progress at this instant")
            }
            Phase::HostReset(action) => write!(
                f,
                "HOST RESET: the BMC watchdog expired ({}); the run ends",
                action.cli_name()
            ),
            Phase::Livelock {
                during_probe,
                events,
                state,
            } => write!(
                f,
                "{}{}: {events} state-machine events in a row returned \
                 CALL_WITHOUT_DELAY with no time passing (state {state:?}); the simulator \
                 broke the loop",
                Self::LIVELOCK,
                if *during_probe {
                    " during the probe"
                } else {
                    ""
                }
            ),
        }
    }
}

/// A timestamped [`EventKind`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// When.
    pub t: Instant,
    /// What.
    pub kind: EventKind,
}

/// Counters of how much work the run took.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunStats {
    /// `BtSm::event` calls.
    pub sm_events: u64,
    /// Kernel timer expiries handled.
    pub timer_fires: u64,
    /// Interrupts handled.
    pub irqs: u64,
    /// Register accesses made by the host.
    pub reg_accesses: u64,
    /// Timer expiries skipped by fast-forwarding (provably identical polls).
    pub skipped_polls: u64,
    /// Scheduler steps (jumps of the virtual clock).
    pub steps: u64,
}

/// Everything a run recorded.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Trace {
    /// Scenario name.
    pub name: String,
    /// Human-readable driver profile (kernel preset, BT and SI behaviour, HZ, mode).
    pub driver: String,
    /// Simulated run length.
    pub end: Instant,
    /// Time-ordered events.
    pub events: Vec<Event>,
    /// Finished messages, in completion order.
    pub completions: Vec<Completion>,
    /// Messages still outstanding at the end.
    pub pending: Vec<Pending>,
    /// Kernel log lines.
    pub log: Vec<KernelLine>,
    /// Register accesses (empty unless requested).
    pub registers: Vec<RegEvent>,
    /// Whether the probe registered the interface (false: detect or Get Device ID failed).
    pub registered: bool,
    /// Work counters.
    pub stats: RunStats,
    /// Why the run stopped before the scenario's stop time (a
    /// [`RunLimits`](crate::RunLimits) limit), if it did.
    pub truncated: Option<String>,
    /// What the host-userspace daemon did (`[daemon]` runs only).
    pub daemon: Option<DaemonRecord>,
}

/// What the host-userspace daemon did in a run.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DaemonRecord {
    /// `bmcwd` or `bmc-watchdog`.
    pub kind: String,
    /// The countdown it set.
    pub timeout: core::time::Duration,
    /// When an acknowledged command reloaded the countdown (arming Reset,
    /// pets, don't-stop Sets).
    pub reloads: Vec<Instant>,
    /// When the BMC's watchdog expired and reset the host (the run ends there).
    pub host_reset: Option<Instant>,
}

/// The command's spec name for the timeline (IPMI v2.0 Appendix G, from
/// [`ipmi_vocab::command_name`]; request or response NetFn), or `"command"`
/// for one the vocabulary does not name.
pub fn command_name(netfn: u8, cmd: u8) -> &'static str {
    ipmi_vocab::command_name(netfn, cmd).unwrap_or("command")
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn secs(d: core::time::Duration) -> String {
    format!("{}.{:06}s", d.as_secs(), d.subsec_micros())
}

impl Trace {
    /// The kernel log as `dmesg` shows it: `[   10.000123] text`, one per line.
    pub fn render_log(&self) -> String {
        let mut s = String::new();
        let _ = self.write_log(&mut s);
        s
    }

    /// [`render_log`](Self::render_log) into `s` line by line, so a long
    /// run's log is streamed rather than held twice (issue #14).
    pub fn write_log<W: fmt::Write>(&self, s: &mut W) -> fmt::Result {
        for l in &self.log {
            writeln!(s, "{} {}", DmesgStamp(l.t), l.text)?;
        }
        Ok(())
    }

    /// Kernel log lines containing `needle`, with their times.
    pub fn log_lines_with<'a>(
        &'a self,
        needle: &'a str,
    ) -> impl Iterator<Item = &'a KernelLine> + 'a {
        self.log.iter().filter(move |l| l.text.contains(needle))
    }

    /// A readable, time-ordered account of the run: header, then one line per
    /// submission, completion (with cc name and latency), state change, fault
    /// switch, BMC event and kernel log line.
    pub fn render_timeline(&self) -> String {
        let mut s = String::new();
        self.write_timeline(&mut s);
        s
    }

    /// [`render_timeline`](Self::render_timeline) into `s` line by line, so
    /// a long run's timeline is streamed rather than built whole (issue
    /// #14). Write errors are the writer's to keep (the lines go on).
    pub fn write_timeline<W: fmt::Write>(&self, s: &mut W) {
        let _ = writeln!(s, "scenario {}  —  {}", self.name, self.driver);
        let _ = writeln!(
            s,
            "simulated {}  ({} completions, {} pending, {} log lines, {} BT events)",
            secs(self.end.since_start()),
            self.completions.len(),
            self.pending.len(),
            self.log.len(),
            self.stats.sm_events
        );
        if !self.registered {
            let _ = writeln!(s, "interface NOT registered (probe failed)");
        }
        if let Some(why) = &self.truncated {
            let _ = writeln!(
                s,
                "RUN STOPPED EARLY at {}: {why}",
                secs(self.end.since_start())
            );
        }
        let _ = writeln!(s);
        let requests = self.requests_by_id();
        // Merge events and log lines by time (both are already time-ordered).
        let mut li = self.log.iter().peekable();
        for e in &self.events {
            while let Some(l) = li.next_if(|l| l.t <= e.t) {
                let _ = writeln!(s, "{} LOG      {}", DmesgStamp(l.t), l.text);
            }
            let _ = write!(s, "{} ", DmesgStamp(e.t));
            match &e.kind {
                EventKind::State { from, to } => {
                    let _ = writeln!(s, "STATE    {} -> {}", from.text(), to.text());
                }
                EventKind::Submit { id } => {
                    let req = requests.get(id).copied().unwrap_or_default();
                    let (nf, cmd) = (
                        req.first().map_or(0, |b| b >> 2),
                        req.get(1).copied().unwrap_or(0),
                    );
                    let _ = writeln!(
                        s,
                        "SUBMIT   #{id} {} (netfn 0x{nf:02x} cmd 0x{cmd:02x}) [{}]",
                        command_name(nf, cmd),
                        hex(req)
                    );
                }
                EventKind::Complete { index } => {
                    if let Some(c) = self.completions.get(*index) {
                        let _ = writeln!(
                            s,
                            "COMPLETE #{} {} cc {}{} after {} [{}]",
                            c.id,
                            command_name(c.netfn(), c.cmd()),
                            c.cc,
                            if c.synthesized { " (host-made)" } else { "" },
                            secs(c.latency()),
                            hex(&c.response)
                        );
                    }
                }
                EventKind::FaultOn(d) => {
                    let _ = writeln!(s, "FAULT+   {d}");
                }
                EventKind::FaultOff(d) => {
                    let _ = writeln!(s, "FAULT-   {d}");
                }
                EventKind::Bmc(d) => {
                    let _ = writeln!(s, "BMC      {d:?}");
                }
                EventKind::Phase(d) => {
                    let _ = writeln!(s, "DRIVER   {d}");
                }
                EventKind::Irq => {
                    let _ = writeln!(s, "IRQ");
                }
                EventKind::Daemon(d) => {
                    let _ = writeln!(s, "DAEMON   {d}");
                }
            }
        }
        for l in li {
            let _ = writeln!(s, "{} LOG      {}", DmesgStamp(l.t), l.text);
        }
        for p in &self.pending {
            let _ = writeln!(
                s,
                "(end)            PENDING  #{} {} submitted at {}{}",
                p.id,
                command_name(
                    p.request.first().map_or(0, |b| b >> 2),
                    p.request.get(1).copied().unwrap_or(0)
                ),
                secs(p.submitted.since_start()),
                if p.started.is_some() {
                    ", started, never completed"
                } else {
                    ", never started"
                }
            );
        }
    }

    /// Request bytes by message id, for the SUBMIT lines: one map, so the
    /// timeline of a long run renders in linear time.
    fn requests_by_id(&self) -> std::collections::HashMap<u32, &[u8]> {
        // Pending first, completions last: a completed message's entry wins.
        self.pending
            .iter()
            .map(|p| (p.id, p.request.as_slice()))
            .chain(
                self.completions
                    .iter()
                    .map(|c| (c.id, c.request.as_slice())),
            )
            .collect()
    }
}

/// A [`LogSink`] that joins the state machine's records into kernel lines, adds
/// the `dev_*` device prefix, and stamps each line with the virtual time of its
/// first fragment.
#[derive(Debug, Clone)]
pub(super) struct KernelLog {
    era: PrintkEra,
    prefix: String,
    now: Instant,
    pending: Option<KernelLine>,
    lines: Vec<KernelLine>,
}

impl KernelLog {
    /// New log for a printk era, with `prefix` before `dev_*` lines.
    pub(super) fn new(era: PrintkEra, prefix: &str) -> Self {
        Self {
            era,
            prefix: prefix.to_owned(),
            now: Instant::ZERO,
            pending: None,
            lines: Vec::new(),
        }
    }

    /// Set the virtual time stamped on lines started from now on.
    pub(super) fn set_now(&mut self, t: Instant) {
        self.now = t;
    }

    /// Emit a complete line from the SI layer itself (`dev_*` when `dev`).
    pub(super) fn line(&mut self, level: Level, dev: bool, text: &str) {
        self.flush();
        let mut t = String::new();
        if dev {
            t.push_str(&self.prefix);
        }
        t.push_str(text);
        self.lines.push(KernelLine {
            t: self.now,
            level,
            text: t,
        });
    }

    /// Terminate an open line.
    pub(super) fn flush(&mut self) {
        if let Some(l) = self.pending.take() {
            self.lines.push(l);
        }
    }

    /// All complete lines (call [`flush`](Self::flush) first to include an open one).
    pub(super) fn lines(&self) -> &[KernelLine] {
        &self.lines
    }

    /// Take the lines out.
    pub(super) fn into_lines(mut self) -> Vec<KernelLine> {
        self.flush();
        self.lines
    }
}

impl LogSink for KernelLog {
    fn log(&mut self, rec: &LogRecord) {
        // Same joining rules as ipmi_bt_sm::LineAssembler, per printk era; a
        // dev_* call always ends its line (LogRecord::ends_line).
        let join = self.pending.is_some() && self.era.continues(rec);
        if !join {
            self.flush();
        }
        let (now, prefix) = (self.now, &self.prefix);
        let line = self.pending.get_or_insert_with(|| {
            let mut text = String::new();
            if rec.is_dev_call() {
                text.push_str(prefix);
            }
            KernelLine {
                t: now,
                level: rec.level,
                text,
            }
        });
        let _ = write!(line.text, "{rec}");
        if rec.ends_line() {
            self.flush();
        }
    }
}

/// The scenario layer's recorder: the [`HostEvents`] observer that turns what
/// the host model reports into [`Trace`] events and kernel log lines.
#[derive(Debug, Clone)]
pub(crate) struct Recorder {
    /// Kernel log lines.
    pub(crate) log: KernelLog,
    /// Time-ordered events (sorted stably at the end of the run).
    pub(crate) events: Vec<Event>,
    /// Events and log lines kept before the host's synchronous loops give up.
    pub(crate) max_records: usize,
    /// The latest time pushed so far.
    latest: Instant,
    /// Indices into `events` of the events pushed with a time before
    /// `latest` (BMC events collected late), ascending: the only ones
    /// [`sort_events`](Self::sort_events) has to move.
    late: Vec<usize>,
}

impl Recorder {
    /// An empty recorder writing kernel lines in `era` with the default
    /// device prefix.
    pub(crate) fn new(era: PrintkEra, max_records: usize) -> Self {
        Self {
            log: KernelLog::new(era, DEFAULT_DEVICE_PREFIX),
            events: Vec::new(),
            max_records,
            latest: Instant::ZERO,
            late: Vec::new(),
        }
    }

    /// Record `kind` at `t`.
    #[inline(always)]
    pub(crate) fn push(&mut self, t: Instant, kind: EventKind) {
        self.note_time(t);
        self.events.push(Event { t, kind });
    }

    /// Record at `t` the event `fill` writes: for the kinds every
    /// transaction records, written straight into the vector's slot.
    ///
    /// `push(t, EventKind::State { .. })` builds the event on the stack
    /// with byte stores and moves it with 16-byte loads, which the CPU
    /// cannot forward from those stores: it stalls on every event (8% of
    /// a polled transaction's time). A constant pushed and then filled in
    /// from the closure's literal becomes plain stores into the slot.
    #[inline(always)]
    fn push_in_place(&mut self, t: Instant, fill: impl FnOnce(&mut EventKind)) {
        /// What the slot holds until `fill` runs.
        const BLANK: Event = Event {
            t: Instant::ZERO,
            kind: EventKind::Irq,
        };
        self.note_time(t);
        self.events.push(BLANK);
        if let Some(e) = self.events.last_mut() {
            e.t = t;
            fill(&mut e.kind);
        }
    }

    /// Keep [`late`](Self::late) up to date for an event about to be pushed at `t`.
    #[inline(always)]
    fn note_time(&mut self, t: Instant) {
        if t < self.latest {
            self.late.push(self.events.len());
        } else {
            self.latest = t;
        }
    }

    /// Sort the events stably by time, as `sort_by_key(|e| e.t)` would,
    /// moving only the late ones: every other event is at or after all
    /// events pushed before it, so inserting each late one (in push order)
    /// behind the last earlier event not later than it is a stable insertion
    /// sort that skips the events already in place. Past a few thousand
    /// moves the library sort takes over (same result: a stable sort's
    /// result is unique).
    pub(crate) fn sort_events(&mut self) {
        /// Element moves the insertion may make before handing over.
        const MAX_MOVES: usize = 4096;
        let mut moves = 0usize;
        let events = &mut self.events;
        for &i in &self.late {
            let t = events[i].t;
            // events[..i] is sorted: insert after every event at or before `t`.
            let pos = events[..i].partition_point(|e| e.t <= t);
            moves += i - pos;
            if moves > MAX_MOVES {
                // events[..i] holds the first i events in stable order and
                // the rest are as pushed: the library sort of the whole
                // gives the stable sort of the events as pushed.
                events.sort_by_key(|e| e.t);
                break;
            }
            events[pos..=i].rotate_right(1);
        }
        self.late.clear();
        self.latest = self.events.last().map_or(Instant::ZERO, |e| e.t);
        debug_assert!(self.events.is_sorted_by_key(|e| e.t));
    }
}

impl LogSink for Recorder {
    fn log(&mut self, rec: &LogRecord) {
        self.log.log(rec);
    }
}

impl HostEvents for Recorder {
    #[inline]
    fn set_now(&mut self, t: Instant) {
        self.log.set_now(t);
    }
    fn line(&mut self, level: Level, dev: bool, text: &str) {
        self.log.line(level, dev, text);
    }
    #[inline(always)]
    fn state(&mut self, t: Instant, from: State, to: State) {
        self.push_in_place(t, |k| *k = EventKind::State { from, to });
    }
    fn phase(&mut self, t: Instant, phase: SiPhase) {
        self.push(t, EventKind::Phase(Phase::Si(phase)));
    }
    #[inline]
    fn irq(&mut self, t: Instant) {
        self.push_in_place(t, |k| *k = EventKind::Irq);
    }
    #[inline]
    fn submitted(&mut self, t: Instant, id: u32) {
        self.push_in_place(t, |k| *k = EventKind::Submit { id });
    }
    #[inline]
    fn completed(&mut self, t: Instant, index: usize) {
        self.push_in_place(t, |k| *k = EventKind::Complete { index });
    }
    fn dropped(&mut self, t: Instant, id: u32) {
        self.push(t, EventKind::Phase(Phase::MessageDropped { id }));
    }
    #[inline]
    fn over_budget(&self) -> bool {
        self.events.len() + self.log.lines().len() >= self.max_records
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::si::Origin;
    use ipmi_bt_sm::{LogMsg, LogStyle, Reason};

    #[test]
    fn phases_read_as_the_texts_the_timeline_always_printed() {
        let si = [
            (SiPhase::Detect, "detect"),
            (SiPhase::GetDeviceId, "get device id"),
            (SiPhase::ProbeDone, "probe done"),
            (SiPhase::Registered { irq: false }, "registered (polling)"),
            (SiPhase::Registered { irq: true }, "registered (interrupt)"),
            (
                SiPhase::WatchdogPreTimeout,
                "watchdog pre-timeout delivered",
            ),
            (SiPhase::Shutdown, "unload: shutdown_smi"),
            (SiPhase::Unloaded, "unloaded"),
        ];
        for (p, text) in si {
            assert_eq!(Phase::Si(p).to_string(), text);
        }
        assert_eq!(
            Phase::MessageDropped { id: 7 }.to_string(),
            "message #7 dropped by the SI layer without a response"
        );
        assert_eq!(
            Phase::StoppedEarly("more than 10 state-machine events".into()).to_string(),
            "run stopped early: more than 10 state-machine events"
        );
        assert_eq!(
            Phase::SchedulerStalled.to_string(),
            "scheduler stalled: no progress at this instant"
        );
        assert_eq!(
            Phase::HostReset(TimerAction::HardReset).to_string(),
            "HOST RESET: the BMC watchdog expired (hard-reset); the run ends"
        );
        assert_eq!(
            Phase::HostReset(TimerAction::PowerCycle).to_string(),
            "HOST RESET: the BMC watchdog expired (power-cycle); the run ends"
        );
        assert_eq!(
            Phase::Livelock {
                during_probe: true,
                events: 20_000,
                state: State::ReadWait,
            }
            .to_string(),
            "CPU livelock during the probe: 20000 state-machine events in a row returned \
             CALL_WITHOUT_DELAY with no time passing (state ReadWait); the simulator broke the \
             loop"
        );
    }

    #[test]
    fn a_typed_phase_does_not_make_the_hot_events_bigger() {
        // State, Submit and Complete events are most of a trace; a phase
        // (rare) must not grow them. 40 bytes when phases were texts.
        assert!(
            core::mem::size_of::<Event>() <= 40,
            "{}",
            core::mem::size_of::<Event>()
        );
    }

    #[test]
    fn origin_reads_like_the_scenario_file() {
        let w = Origin::Workload {
            entry: 0,
            copy: 255,
        };
        assert_eq!(w.to_string(), "request[0] copy 255");
        assert_eq!(Origin::Probe { attempt: 2 }.to_string(), "probe attempt 2");
        assert_eq!(Origin::Handler.to_string(), "message handler");
        assert_eq!(Origin::Internal.to_string(), "SI layer");
    }

    #[test]
    fn recorder_sorts_events_like_the_stable_library_sort() {
        // Keys from a small LCG: mostly rising with some late ones; the
        // densest set takes the library-sort fallback.
        let mut x: u64 = 7;
        let mut next = move || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            x >> 33
        };
        for (len, late_every) in [(0, 1), (1, 1), (50, 7), (5000, 97), (20000, 2)] {
            let mut rec = Recorder::new(PrintkEra::Modern, usize::MAX);
            for i in 0..len {
                let t = if next() % late_every == 0 {
                    next() % (i + 1)
                } else {
                    i
                };
                let id = u32::try_from(i).unwrap_or(u32::MAX);
                rec.push(Instant::from_nanos(t), EventKind::Submit { id });
            }
            let mut want = rec.events.clone();
            want.sort_by_key(|e| e.t);
            rec.sort_events();
            assert_eq!(rec.events, want, "len {len}");
        }
    }

    #[test]
    fn dmesg_stamp_format() {
        assert_eq!(
            DmesgStamp(Instant::from_micros(10_000_123)).to_string(),
            "[   10.000123]"
        );
        assert_eq!(
            DmesgStamp(Instant::from_secs(123_456)).to_string(),
            "[123456.000000]"
        );
    }

    #[test]
    fn kernel_log_joins_and_prefixes() {
        let mut k = KernelLog::new(PrintkEra::Modern, DEFAULT_DEVICE_PREFIX);
        k.set_now(Instant::from_secs(5));
        let head = LogRecord {
            level: Level::Warning,
            msg: LogMsg::ErrorRecovery {
                reason: Reason::Timeout,
                state: State::ReadWait,
                status: 0,
            },
            style: LogStyle::Dev,
            cont: false,
            bare: false,
        };
        k.log(&head);
        k.set_now(Instant::from_secs(6));
        k.log(&LogRecord {
            level: Level::Warning,
            msg: LogMsg::RetriesLeft(1),
            style: LogStyle::Dev,
            cont: true,
            bare: false,
        });
        let lines = k.into_lines();
        let texts: Vec<_> = lines.iter().map(|l| l.text.as_str()).collect();
        // The dev_warn head ends its line; the pr_cont is a line of its own,
        // without the device prefix (Debian 6.1, kernel-vs-model.md D1).
        assert_eq!(
            texts,
            [
                "ipmi_si IPI0001:00: IPMI BT: timeout in RD_WAIT [ ] ",
                "1 retries left"
            ]
        );
        assert_eq!(lines[0].t, Instant::from_secs(5));
        assert_eq!(lines[1].t, Instant::from_secs(6));

        // The printk-style (2006-2018) head still takes a bare continuation
        // before 4.9.
        let mut k = KernelLog::new(PrintkEra::Modern, DEFAULT_DEVICE_PREFIX);
        k.log(&LogRecord {
            style: LogStyle::Printk,
            ..head
        });
        k.log(&LogRecord {
            level: Level::Warning,
            msg: LogMsg::RetriesLeft(1),
            style: LogStyle::Printk,
            cont: true,
            bare: true,
        });
        let lines = k.into_lines();
        assert_eq!(lines.len(), 1);
        assert_eq!(
            lines[0].text,
            "IPMI BT: timeout in RD_WAIT [ ] 1 retries left"
        );
    }
}
