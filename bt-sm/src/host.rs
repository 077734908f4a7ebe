//! The host state-machine contract: what the kernel's SI layer
//! (`drivers/char/ipmi/ipmi_si_intf.c`) asks of a system-interface state
//! machine through `struct si_sm_handlers` (`ipmi_si_sm.h`: `init_data`,
//! `start_transaction`, `get_result`, `event`, `detect`, `size`), plus the few
//! facts the SI model reads to draw the timeline and to skip provably identical
//! polls (state, remaining timeout, behaviour switches).
//!
//! [`BtSm`](crate::BtSm) implements it; so does the `ipmi-kernel-c` harness,
//! which runs the kernel's own `ipmi_bt_sm.c`. The trait is object safe (register
//! access and log go through `&mut dyn`), so a driver model can hold either
//! without knowing the other; the Rust model keeps its monomorphised generic
//! methods for the hot path.

use crate::cc::CompletionCode;
use crate::io::Io;
use crate::log::LogSink;
use crate::profile::Behaviour;
use crate::sm::{BtSm, NotPresent, SmResult};
use crate::state::State;

/// A host-side BT state machine as the SI layer drives it (`struct si_sm_handlers`).
pub trait HostStateMachine {
    /// A short name for messages (`bt-sm mainline`, `C ipmi_bt_sm.c`).
    fn describe(&self) -> String;
    /// `init_data`: reset to IDLE; returns the register bytes claimed.
    fn init_data(&mut self) -> u32;
    /// `size`: bytes of the machine's private data.
    fn size(&self) -> usize;
    /// `start_transaction` with `data` = [NetFn/LUN, cmd, payload…]; `Err` is
    /// the completion code the kernel returns.
    fn start_transaction(
        &mut self,
        log: &mut dyn LogSink,
        data: &[u8],
    ) -> Result<(), CompletionCode>;
    /// `get_result` into `buf`; returns the bytes written.
    fn get_result(&mut self, log: &mut dyn LogSink, buf: &mut [u8]) -> usize;
    /// `event` with `time_us` elapsed since the last call.
    fn event(&mut self, io: &mut dyn Io, log: &mut dyn LogSink, time_us: i64) -> SmResult;
    /// `detect` (presence test; 2018+ also starts the capabilities fetch: the
    /// caller then calls [`event`](Self::event) while
    /// [`detect_in_progress`](Self::detect_in_progress), one jiffy per delay,
    /// and ends with [`finish_detect`](Self::finish_detect)).
    fn detect(&mut self, io: &mut dyn Io, log: &mut dyn LogSink) -> Result<(), NotPresent>;
    /// Whether detect's capabilities loop still needs `event` calls.
    fn detect_in_progress(&self) -> bool;
    /// The end of `detect` after its loop (apply or default the capabilities).
    fn finish_detect(&mut self, log: &mut dyn LogSink);
    /// Current state (for the timeline and the SI model's fast-forward).
    fn state(&self) -> State;
    /// Remaining µs of the current attempt.
    fn timeout_us(&self) -> i64;
    /// The behaviour switches this machine follows (design, where caps are
    /// fetched, log style, printk era).
    fn behaviour(&self) -> &Behaviour;
    /// Sets the `bt_debug` module parameter.
    fn set_debug(&mut self, mask: u8);
    /// Whether the SI model may replace `n` identical one-jiffy polls by one
    /// call crediting `n` jiffies now (false while a machine runs its own
    /// detect loop with its own time credit).
    fn polls_skippable(&self) -> bool {
        true
    }
    /// The kernel's HZ, for a machine whose own code converts jiffies
    /// (`jiffies_to_usecs` in the C file's detect loop); the Rust model is told
    /// time in µs only and ignores it.
    fn set_hz(&mut self, _hz: u32) {}
}

impl HostStateMachine for BtSm {
    fn describe(&self) -> String {
        match self.profile() {
            Some(p) => format!("bt-sm {}", p.name()),
            None => "bt-sm (custom behaviour)".to_string(),
        }
    }
    fn init_data(&mut self) -> u32 {
        BtSm::init_data(self);
        crate::sm::REGISTERS_CLAIMED
    }
    fn size(&self) -> usize {
        core::mem::size_of::<BtSm>()
    }
    fn start_transaction(
        &mut self,
        log: &mut dyn LogSink,
        data: &[u8],
    ) -> Result<(), CompletionCode> {
        BtSm::start_transaction(self, log, data)
    }
    fn get_result(&mut self, log: &mut dyn LogSink, buf: &mut [u8]) -> usize {
        self.get_result_logged(log, buf)
    }
    fn event(&mut self, io: &mut dyn Io, log: &mut dyn LogSink, time_us: i64) -> SmResult {
        BtSm::event(self, io, log, time_us)
    }
    fn detect(&mut self, io: &mut dyn Io, log: &mut dyn LogSink) -> Result<(), NotPresent> {
        BtSm::detect(self, io, log)
    }
    fn detect_in_progress(&self) -> bool {
        BtSm::detect_in_progress(self)
    }
    fn finish_detect(&mut self, log: &mut dyn LogSink) {
        BtSm::finish_detect(self, log)
    }
    fn state(&self) -> State {
        BtSm::state(self)
    }
    fn timeout_us(&self) -> i64 {
        BtSm::timeout_us(self)
    }
    fn behaviour(&self) -> &Behaviour {
        BtSm::behaviour(self)
    }
    fn set_debug(&mut self, mask: u8) {
        BtSm::set_debug(self, mask)
    }
}
