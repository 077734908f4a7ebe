//! Sans-IO model of the host side of the IPMI BT (Block Transfer) system
//! interface, mirroring Linux's `drivers/char/ipmi/ipmi_bt_sm.c` — states,
//! register accesses in the kernel's order, timeouts, retries, the BT soft reset,
//! seq handling and the kernel's log lines — with each historical kernel behaviour
//! selectable as a [`KernelProfile`].
//!
//! The machine never touches a clock or a device: the caller passes an [`Io`]
//! (register access), a [`LogSink`] (the kernel's messages, as data) and the
//! elapsed microseconds to every [`BtSm::event`], like `ipmi_si_intf.c` does.
//!
//! # Driving it
//!
//! Like `ipmi_si_intf.c`: call [`BtSm::event`] again at once with time 0 while it
//! returns [`SmResult::CallWithoutDelay`], after a short delay (passing the elapsed
//! µs) on [`SmResult::CallWithDelay`], and call [`BtSm::get_result`] on
//! [`SmResult::TransactionComplete`]. For the 2018+ profiles run [`BtSm::detect`]
//! (or [`BtSm::detect_blocking`]) first, which fetches Get BT Interface Capabilities.
//! Collect the kernel's messages with any [`LogSink`] (a closure, `Vec<String>`,
//! [`NullLog`]) or join them into `dmesg` lines with [`LineAssembler`].
//!
//! Everything is exported from the crate root except the register layout,
//! which keeps its own namespace:
//!
//! | Part | Items |
//! |---|---|
//! | the machine | [`BtSm`], the SI contract it implements ([`HostStateMachine`]), [`SmResult`], detect ([`DetectRun`], [`DetectPhase`], [`NotPresent`]) |
//! | states | [`State`], [`Design`] |
//! | kernel behaviours | [`KernelProfile`] presets and [`Behaviour`] switches (mapping table) |
//! | the kernel's log | [`LogRecord`], [`LogMsg`], sinks ([`LogSink`], [`NullLog`], [`FnSink`]), [`LineAssembler`], [`StatusText`], C text ([`KernelText`]) |
//! | registers | the [`Io`] access trait, [`regs`] (offsets and bits: [`Ctrl`], [`IntMask`]), [`CompletionCode`] |
//!
//! # Example
//!
//! A Get Device ID transaction against a tiny BMC that answers instantly:
//!
//! ```
//! use ipmi_bt_sm::{BtSm, Io, KernelProfile, NullLog, SmResult};
//!
//! /// Takes a request on H2B_ATN and immediately offers a canned response.
//! #[derive(Default)]
//! struct InstantBmc { req: Vec<u8>, rsp: Vec<u8>, rd: usize, b2h: bool }
//!
//! impl Io for InstantBmc {
//!     fn read_ctrl(&mut self) -> u8 { if self.b2h { 0x08 } else { 0 } }
//!     fn write_ctrl(&mut self, v: u8) {
//!         if v & 0x01 != 0 { self.req.clear() }            // CLR_WR_PTR
//!         if v & 0x02 != 0 { self.rd = 0 }                 // CLR_RD_PTR
//!         if v & 0x08 != 0 { self.b2h = false }            // B2H_ATN ack
//!         if v & 0x04 != 0 {                               // H2B_ATN: request ready
//!             let (netfn, seq, cmd) = (self.req[1], self.req[2], self.req[3]);
//!             self.rsp = vec![5, netfn | 4, seq, cmd, 0x00, 0x20];
//!             self.b2h = true;
//!         }
//!     }
//!     fn read_buf(&mut self) -> u8 {
//!         let b = self.rsp.get(self.rd).copied().unwrap_or(0);
//!         self.rd += 1;
//!         b
//!     }
//!     fn write_buf(&mut self, v: u8) { self.req.push(v) }
//!     fn read_intmask(&mut self) -> u8 { 0 }
//!     fn write_intmask(&mut self, _v: u8) {}
//! }
//!
//! let mut bmc = InstantBmc::default();
//! let mut sm = BtSm::new(KernelProfile::Mainline);
//! sm.start_transaction(&mut NullLog, &[0x06 << 2, 0x01]).unwrap(); // Get Device ID
//! let mut result = sm.event(&mut bmc, &mut NullLog, 0);
//! while result != SmResult::TransactionComplete {
//!     let elapsed = if result == SmResult::CallWithDelay { 10_000 } else { 0 };
//!     result = sm.event(&mut bmc, &mut NullLog, elapsed);
//! }
//! let mut rsp = [0u8; 64];
//! let n = sm.get_result(&mut rsp);
//! assert_eq!(&rsp[..n], &[0x1c, 0x01, 0x00, 0x20]); // NetFn|4, cmd, cc, data
//! ```

//!
//! # Example: the kernel's log when the BMC is dead
//!
//! ```
//! use ipmi_bt_sm::{BtSm, Io, KernelProfile, LineAssembler, SmResult};
//!
//! /// A dead BMC: takes nothing, answers nothing, CTRL reads 0.
//! struct Silent;
//! impl Io for Silent {
//!     fn read_ctrl(&mut self) -> u8 { 0x00 }
//!     fn write_ctrl(&mut self, _v: u8) {}
//!     fn read_buf(&mut self) -> u8 { 0 }
//!     fn write_buf(&mut self, _v: u8) {}
//!     fn read_intmask(&mut self) -> u8 { 0 }
//!     fn write_intmask(&mut self, _v: u8) {}
//! }
//!
//! let mut sm = BtSm::new(KernelProfile::Mainline);
//! let mut lines = LineAssembler::for_behaviour(sm.behaviour());
//! sm.start_transaction(&mut lines, &[0x18, 0x01]).unwrap();
//! let mut r = sm.event(&mut Silent, &mut lines, 0);
//! while r != SmResult::TransactionComplete {
//!     r = sm.event(&mut Silent, &mut lines, if r == SmResult::CallWithDelay { 10_000 } else { 0 });
//! }
//! let text: Vec<&str> = lines.lines().iter().map(|l| l.text.as_str()).collect();
//! // Each dev_warn is a line of its own; the pr_cont after the open-ended
//! // head starts a new line (printk gives dev_* records a newline).
//! assert_eq!(text, [
//!     "IPMI BT: timeout in RD_WAIT [ ] ",
//!     "1 retries left",
//!     "IPMI BT: timeout in RD_WAIT [ ] ",
//!     "failed 2 retries, sending error response",
//!     "stuck, try power cycle",
//! ]);
//! let mut rsp = [0u8; 8];
//! let n = sm.get_result(&mut rsp);
//! assert_eq!(&rsp[..n], &[0x1c, 0x01, 0xc3]); // timeout
//! ```

#![deny(missing_docs)]
// The public API is the `pub use` list below (and the `pub mod` namespaces);
// everything else is `pub(crate)` at most, and no public signature names a
// type a user cannot name.
#![warn(unreachable_pub, unnameable_types)]

mod cc;
mod host;
mod io;
mod log;
mod profile;
pub mod regs;
mod sm;
mod state;

pub use cc::CompletionCode;
pub use host::HostStateMachine;
pub use io::Io;
pub use log::{
    FnSink, KernelText, Level, LineAssembler, LogLine, LogMsg, LogRecord, LogSink, LogStyle,
    NullLog, PrintkEra, Reason, StatusText, KERNEL_TEXT_MAX,
};
pub use profile::{Behaviour, CapsFetch, KernelProfile, ResetRule, Y2005Variant};
pub use regs::{Ctrl, IntMask};
pub use sm::{
    BtSm, DetectPhase, DetectRun, NotPresent, SmResult, IPMI_MAX_MSG_LENGTH, REGISTERS_CLAIMED,
};
pub use state::{Design, State};
