//! What the host model reports, and to whom: the [`HostEvents`] observer.
//!
//! The SI layer and the message handler never write into a trace
//! themselves; they call an observer, generic (monomorphised) like
//! [`DeviceEvents`](crate::bmc::device::DeviceEvents), so a recorder, a test
//! and a benchmark can each listen at no cost to the others.

use core::fmt;

use ipmi_bt_sm::{Level, LogSink, State};

use ipmi_vocab::Instant;

/// A driver phase boundary the SI layer reports (in a trace as
/// [`Phase::Si`](crate::scenario::Phase::Si)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SiPhase {
    /// `bt_detect` starts (probe).
    Detect,
    /// The probe's Get Device ID starts (`try_get_dev_id`).
    GetDeviceId,
    /// The probe finished successfully.
    ProbeDone,
    /// `smi_start_processing`: the interface runs, by interrupt or polling.
    Registered {
        /// Interrupt mode.
        irq: bool,
    },
    /// A watchdog pre-timeout flag was handled (`handle_flags`).
    WatchdogPreTimeout,
    /// Module unload started (`shutdown_smi`).
    Shutdown,
    /// Module unload finished.
    Unloaded,
}

impl fmt::Display for SiPhase {
    /// The phase as the timeline prints it (`detect`, `registered (polling)`, …).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SiPhase::Detect => f.write_str("detect"),
            SiPhase::GetDeviceId => f.write_str("get device id"),
            SiPhase::ProbeDone => f.write_str("probe done"),
            SiPhase::Registered { irq } => {
                write!(
                    f,
                    "registered ({})",
                    if *irq { "interrupt" } else { "polling" }
                )
            }
            SiPhase::WatchdogPreTimeout => f.write_str("watchdog pre-timeout delivered"),
            SiPhase::Shutdown => f.write_str("unload: shutdown_smi"),
            SiPhase::Unloaded => f.write_str("unloaded"),
        }
    }
}

/// The observer of the host model: it hears the state machine's log records
/// (as a [`LogSink`]) and everything the SI layer and the message handler do.
///
/// Calls come in virtual-time order; `t` is the host's clock at the call.
pub(crate) trait HostEvents: LogSink {
    /// Log records from now on happen at `t` (the state machine's records
    /// carry no time).
    fn set_now(&mut self, t: Instant);
    /// A complete kernel log line from the SI layer itself (a `dev_*` call
    /// when `dev`), at the time last given to [`set_now`](Self::set_now).
    fn line(&mut self, level: Level, dev: bool, text: &str);
    /// The BT state machine changed state.
    fn state(&mut self, t: Instant, from: State, to: State);
    /// A driver phase boundary.
    fn phase(&mut self, t: Instant, phase: SiPhase);
    /// The BT interrupt was taken.
    fn irq(&mut self, t: Instant);
    /// Message `id` was handed to the message handler.
    fn submitted(&mut self, t: Instant, id: u32);
    /// The message handler's completion number `index` (0-based, in
    /// completion order) arrived.
    fn completed(&mut self, t: Instant, index: usize);
    /// The SI layer dropped the outstanding message `id` without a response:
    /// the message handler never hears back.
    fn dropped(&mut self, t: Instant, id: u32);
    /// Whether the observer is over its own budget (e.g. records kept in
    /// memory): the synchronous loops then give up as at the stop time.
    fn over_budget(&self) -> bool {
        false
    }
}
