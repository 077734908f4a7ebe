//! Runs the kernel's own `drivers/char/ipmi/ipmi_bt_sm.c` — or a patch of it —
//! in user space, behind the same host state-machine interface
//! ([`HostStateMachine`]) the SI driver model of `bmc-sim` drives, so every
//! scenario, the search, the timeline and the SVG work on the C code unchanged.
//!
//! The user's file is compiled at run time with the system C compiler against
//! a shim we wrote (`kernel-c/shim/`: `linux/kernel.h` and friends, our own
//! `ipmi_si_sm.h`, and `bmcwd_harness.c`), into a shared object in a cache
//! directory keyed by a hash of (source, shim, compiler version), and loaded
//! with `libloading`. `printk`/`dev_*`/`pr_cont` are formatted by the C
//! library's `vsnprintf` and handed to a [`LogSink`](ipmi_bt_sm::LogSink) as
//! [`LogMsg::Text`](ipmi_bt_sm::LogMsg::Text) records with the kernel's level,
//! `KERN_CONT` and bare-`printk` flags; register access goes to the caller's
//! [`Io`](ipmi_bt_sm::Io); `bt_debug` is set per machine.
//!
//! Supported files: the 2006+ design, in both shapes — capabilities fetched in
//! `bt_detect` (4.18 onwards, Debian's 6.1) and inside the state machine
//! (2.6.20–4.17, `BT_STATE_CAPABILITIES_BEGIN`). The 2005 design is refused.
//!
//! | part | items |
//! |---|---|
//! | build | [`build`], [`BuildOptions`], [`Built`], [`FileShape`], [`BuildError`] |
//! | run | [`CLibrary`] (a loaded file), [`CBtSm`] (one machine) |
//! | differential | [`diff`] ([`diff::run`], [`diff::compare`], [`diff::Case`]) |

#![deny(missing_docs)]
#![warn(unreachable_pub, unnameable_types)]

mod compile;
pub mod diff;
mod machine;

pub use compile::{build, BuildError, BuildOptions, Built, FileShape};
pub use ipmi_bt_sm::HostStateMachine;
pub use machine::{CBtSm, CLibrary};
