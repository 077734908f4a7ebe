//! The state machine the SI model drives: the Rust model ([`BtSm`], called
//! directly so its generic methods stay monomorphised on the hot path) or any
//! other implementation of the kernel's `si_sm_handlers` contract
//! ([`HostStateMachine`], e.g. the kernel's own C file through
//! `ipmi-kernel-c`), called through `dyn`.

use ipmi_bt_sm::{
    Behaviour, BtSm, CompletionCode, HostStateMachine, Io, LogSink, NotPresent, NullLog, SmResult,
    State,
};

/// The BT state machine of a [`Simulation`](crate::Simulation).
// The model stays inline: boxing it would put a pointer chase on every event.
#[allow(clippy::large_enum_variant)]
pub enum HostSm {
    /// The `bt-sm` model.
    Rust(BtSm),
    /// Another implementation (the C harness).
    External(Box<dyn HostStateMachine>),
}

impl core::fmt::Debug for HostSm {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            HostSm::Rust(sm) => f.debug_tuple("Rust").field(sm).finish(),
            HostSm::External(sm) => f.debug_tuple("External").field(&sm.describe()).finish(),
        }
    }
}

impl HostSm {
    /// The Rust model, if that is what runs.
    pub fn as_bt_sm(&self) -> Option<&BtSm> {
        match self {
            HostSm::Rust(sm) => Some(sm),
            HostSm::External(_) => None,
        }
    }
    /// Current state.
    #[inline]
    pub fn state(&self) -> State {
        match self {
            HostSm::Rust(sm) => sm.state(),
            HostSm::External(sm) => sm.state(),
        }
    }
    /// Remaining µs of the current attempt.
    #[inline]
    pub fn timeout_us(&self) -> i64 {
        match self {
            HostSm::Rust(sm) => sm.timeout_us(),
            HostSm::External(sm) => sm.timeout_us(),
        }
    }
    /// The behaviour switches in force.
    #[inline]
    pub fn behaviour(&self) -> &Behaviour {
        match self {
            HostSm::Rust(sm) => sm.behaviour(),
            HostSm::External(sm) => sm.behaviour(),
        }
    }
    /// Whether detect's capabilities loop still needs `event` calls.
    #[inline]
    pub(crate) fn detect_in_progress(&self) -> bool {
        match self {
            HostSm::Rust(sm) => sm.detect_in_progress(),
            HostSm::External(sm) => sm.detect_in_progress(),
        }
    }
    /// Whether identical polls may be skipped now.
    #[inline]
    pub(crate) fn polls_skippable(&self) -> bool {
        match self {
            HostSm::Rust(_) => true,
            HostSm::External(sm) => sm.polls_skippable(),
        }
    }
    #[inline]
    pub(crate) fn start_transaction<L: LogSink>(
        &mut self,
        log: &mut L,
        data: &[u8],
    ) -> Result<(), CompletionCode> {
        match self {
            HostSm::Rust(sm) => sm.start_transaction(log, data),
            HostSm::External(sm) => sm.start_transaction(log, data),
        }
    }
    #[inline]
    pub(crate) fn get_result(&mut self, buf: &mut [u8]) -> usize {
        match self {
            HostSm::Rust(sm) => sm.get_result(buf),
            HostSm::External(sm) => sm.get_result(&mut NullLog, buf),
        }
    }
    #[inline]
    pub(crate) fn event<I: Io, L: LogSink>(
        &mut self,
        io: &mut I,
        log: &mut L,
        time_us: i64,
    ) -> SmResult {
        match self {
            HostSm::Rust(sm) => sm.event(io, log, time_us),
            HostSm::External(sm) => sm.event(io, log, time_us),
        }
    }
    pub(crate) fn detect<I: Io, L: LogSink>(
        &mut self,
        io: &mut I,
        log: &mut L,
    ) -> Result<(), NotPresent> {
        match self {
            HostSm::Rust(sm) => sm.detect(io, log),
            HostSm::External(sm) => sm.detect(io, log),
        }
    }
    pub(crate) fn finish_detect<L: LogSink>(&mut self, log: &mut L) {
        match self {
            HostSm::Rust(sm) => sm.finish_detect(log),
            HostSm::External(sm) => sm.finish_detect(log),
        }
    }
}
