//! IPMI BMC watchdog timer (IPMI v2.0 §27): a sans-IO timer model for a
//! simulated BMC and the typed codecs of its commands, shared by the
//! simulator and the client.
//!
//! Everything is exported from the crate root:
//!
//! * Codecs: Set / Get / Reset Watchdog Timer and Get / Clear Message
//!   Flags requests and responses ([`SetWatchdog`], [`GetWatchdogResponse`],
//!   [`GetMessageFlagsResponse`], [`ClearMessageFlags`]), with exact
//!   encode/decode ([`DecodeError`]).
//! * Field types: [`TimerUse`], [`TimerAction`],
//!   [`PreTimeoutInterrupt`], [`ExpirationFlags`], [`MessageFlags`],
//!   [`Countdown`] in 100 ms units with a `Duration` API.
//! * The [`Watchdog`] model, driven by a caller-supplied
//!   [`Instant`] (virtual nanoseconds); it never reads a clock.
//! * [`CompatProfile`] reproduces QEMU, OpenIPMI lanserv and
//!   OpenBMC phosphor deviations from the spec.
//! * [`SelEvent`]: the "Watchdog 2" (sensor type 0x23) SEL event.
//! * [`PetPolicy`]: the petting daemon's decisions as a sans-IO state
//!   machine, run by `bmcwd daemon` and inside the simulator.
//!
//! Completion codes are [`ipmi_vocab::CompletionCode`] throughout (re-exported
//! as [`CompletionCode`]); command numbers and names come from `ipmi_vocab` too.
//!
//! # Example
//!
//! Arm for 5 s, pet once, then stop petting and watch it expire:
//!
//! ```
//! use core::time::Duration;
//! use ipmi_watchdog::*;
//!
//! let mut wd = Watchdog::new(CompatProfile::Spec);
//! let t = |ms| Instant::from_millis(ms);
//!
//! // What a client sends, byte for byte, and what the BMC answers.
//! let set = SetWatchdog {
//!     dont_stop: false,
//!     ..SetWatchdog::new(TimerUse::SmsOs, TimerAction::PowerCycle,
//!                        Countdown::from_duration(Duration::from_secs(5)).unwrap())
//! };
//! assert_eq!(set.encode(), [0x04, 0x03, 0x00, 0x00, 0x32, 0x00]);
//! let r = wd.handle(t(0), CMD_SET_WATCHDOG, &set.encode()).unwrap();
//! assert!(r.cc.is_ok());
//! assert!(wd.handle(t(0), CMD_RESET_WATCHDOG, &[]).unwrap().cc.is_ok());
//! assert!(wd.handle(t(4_000), CMD_RESET_WATCHDOG, &[]).unwrap().cc.is_ok()); // pet
//!
//! let get = wd.handle(t(6_000), CMD_GET_WATCHDOG, &[]).unwrap();
//! let status = GetWatchdogResponse::decode(&get.data).unwrap();
//! assert!(status.running);
//! assert_eq!(status.present_countdown, Some(Countdown::from_ticks(30))); // 3 s left
//!
//! // The simulator sleeps until the next deadline, then advances.
//! let deadline = wd.next_deadline().unwrap();
//! assert_eq!(deadline, t(9_000));
//! let events: Vec<WatchdogEvent> = wd.advance(deadline).collect();
//! assert!(matches!(events[..], [WatchdogEvent::Expired { action: TimerAction::PowerCycle, .. }]));
//! assert_eq!(wd.next_deadline(), None);
//! ```

#![deny(missing_docs)]
// The public API is the `pub use` list below (every module is private);
// everything else is `pub(crate)` at most, and no public signature names a
// type a user cannot name.
#![warn(unreachable_pub, unnameable_types)]

mod codec;
mod policy;
mod profile;
mod sel;
mod time;
mod timer;
mod types;

pub use codec::{
    check_empty_request, command_name, split_completion, ClearMessageFlags, Data, DecodeError,
    GetMessageFlagsResponse, GetWatchdogResponse, SetWatchdog, CC_WATCHDOG_NOT_INITIALIZED,
    CMD_CLEAR_MESSAGE_FLAGS, CMD_GET_MESSAGE_FLAGS, CMD_GET_WATCHDOG, CMD_RESET_WATCHDOG,
    CMD_SET_WATCHDOG, NETFN_APP,
};
pub use ipmi_vocab::CompletionCode;
pub use policy::{
    is_transient, stop_set_for, DaemonSignal, KernelWorstCase, LogPriority, OnExit, PetPolicy,
    PolicyAction, PolicyCommand, PolicyConfig, PolicyExit, TransportFault, BOUND_SLACK,
    INITIAL_BACKOFF, MAX_SETS_ON_0X80,
};
pub use profile::CompatProfile;
pub use sel::{SelEvent, WatchdogOffset, EVENT_TYPE_SENSOR_SPECIFIC, SENSOR_TYPE_WATCHDOG2};
pub use time::Instant;
pub use timer::{
    Events, Response, TimerPhase, Watchdog, WatchdogEvent, WatchdogState, CC_RESET_AFTER_PRETIMEOUT,
};
pub use types::{
    Countdown, CountdownError, ExpirationFlags, MessageFlags, ParseNameError, PreTimeoutInterrupt,
    TimerAction, TimerUse,
};
