//! Virtual time for the sans-IO models: one [`Instant`] for every crate.
//!
//! No model here reads a clock: every call that depends on time takes an
//! `Instant` from the caller. An `Instant` counts nanoseconds since an
//! arbitrary epoch the caller chooses (the simulator uses "virtual nanoseconds
//! since the simulation started"; a real-time daemon can use nanoseconds since
//! it started, taken from `std::time::Instant`). Durations are
//! [`core::time::Duration`].
//!
//! It replaced both the former `ipmi_watchdog::Instant` and the simulator's
//! `SimTime` (the union of their APIs); `ipmi_watchdog::Instant` and
//! `bmc_sim::Instant` are re-exports of it.

use core::fmt;
use core::ops::{Add, AddAssign, Sub};
use core::time::Duration;

/// A point in caller-supplied virtual time: nanoseconds since the caller's
/// epoch.
///
/// `u64` nanoseconds cover about 584 years. Arithmetic saturates instead of
/// wrapping or panicking, so a hostile or buggy clock can never cause a panic
/// and "never" can be written [`Instant::MAX`] without special cases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(u64);

impl Instant {
    /// The epoch (time zero; the start of a simulation).
    pub const ZERO: Self = Self(0);
    /// The far future (about 584 years after the epoch); used as "never".
    pub const MAX: Self = Self(u64::MAX);

    /// An instant `nanos` nanoseconds after the epoch.
    pub const fn from_nanos(nanos: u64) -> Self {
        Self(nanos)
    }
    /// An instant `micros` microseconds after the epoch (saturating).
    pub const fn from_micros(micros: u64) -> Self {
        Self(micros.saturating_mul(1_000))
    }
    /// An instant `millis` milliseconds after the epoch (saturating).
    pub const fn from_millis(millis: u64) -> Self {
        Self(millis.saturating_mul(1_000_000))
    }
    /// An instant `secs` seconds after the epoch (saturating).
    pub const fn from_secs(secs: u64) -> Self {
        Self(secs.saturating_mul(1_000_000_000))
    }
    /// Nanoseconds since the epoch.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }
    /// Whole microseconds since the epoch (the unit of `ipmi_bt_sm`'s
    /// `event(time_us)`).
    pub const fn as_micros(self) -> u64 {
        self.0 / 1_000
    }
    /// Whole milliseconds since the epoch.
    pub const fn as_millis(self) -> u64 {
        self.0 / 1_000_000
    }
    /// Whole seconds since the epoch.
    pub const fn as_secs(self) -> u64 {
        self.0 / 1_000_000_000
    }
    /// Time elapsed from the epoch to `self`.
    pub const fn since_epoch(self) -> Duration {
        Duration::from_nanos(self.0)
    }
    /// The same as [`since_epoch`](Self::since_epoch), under the name the
    /// simulator's `SimTime` used (its epoch is the start of the run).
    pub const fn since_start(self) -> Duration {
        self.since_epoch()
    }
    /// `self + d`, saturating at [`Instant::MAX`].
    pub const fn saturating_add(self, d: Duration) -> Self {
        Self(self.0.saturating_add(duration_nanos(d)))
    }
    /// `self + d`, or `None` if that is later than [`Instant::MAX`] (like
    /// `std::time::Instant::checked_add`).
    pub const fn checked_add(self, d: Duration) -> Option<Self> {
        let n = d.as_nanos();
        if n > u64::MAX as u128 {
            return None;
        }
        match self.0.checked_add(n as u64) {
            Some(t) => Some(Self(t)),
            None => None,
        }
    }
    /// `self - d`, saturating at [`Instant::ZERO`].
    pub const fn saturating_sub(self, d: Duration) -> Self {
        Self(self.0.saturating_sub(duration_nanos(d)))
    }
    /// `self - earlier`, or zero if `earlier` is later than `self`.
    pub const fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }
}

/// Nanoseconds in `d`, saturating at `u64::MAX` (a [`Duration`] can hold
/// more than an [`Instant`]).
pub const fn duration_nanos(d: Duration) -> u64 {
    let n = d.as_nanos();
    if n > u64::MAX as u128 {
        u64::MAX
    } else {
        n as u64
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;

    /// Saturating addition (see [`Instant::saturating_add`]).
    fn add(self, d: Duration) -> Instant {
        self.saturating_add(d)
    }
}

impl AddAssign<Duration> for Instant {
    /// Saturating addition (see [`Instant::saturating_add`]).
    fn add_assign(&mut self, d: Duration) {
        *self = self.saturating_add(d);
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;

    /// Saturating subtraction (see [`Instant::saturating_sub`]).
    fn sub(self, d: Duration) -> Instant {
        self.saturating_sub(d)
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;

    /// Saturating: an earlier `self` gives zero.
    fn sub(self, earlier: Instant) -> Duration {
        self.saturating_duration_since(earlier)
    }
}

impl fmt::Display for Instant {
    /// Seconds since the epoch, like a kernel log stamp: `12.345678s` —
    /// microsecond digits by default, as the simulator's timeline prints.
    /// A precision picks the number of fractional digits (0–9, truncated):
    /// `{:.9}` gives `12.345678901s`, `{:.0}` gives `12s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0 / 1_000_000_000;
        let digits = f.precision().unwrap_or(6).min(9);
        if digits == 0 {
            return write!(f, "{secs}s");
        }
        // 10^(9 - digits): the nanoseconds below the last printed digit.
        let mut unit: u64 = 1;
        let mut i = digits;
        while i < 9 {
            unit *= 10;
            i += 1;
        }
        let frac = (self.0 % 1_000_000_000) / unit;
        write!(f, "{secs}.{frac:0digits$}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors_and_accessors() {
        assert_eq!(Instant::from_millis(1500).as_secs(), 1);
        assert_eq!(Instant::from_millis(1500).as_millis(), 1500);
        assert_eq!(Instant::from_secs(2).as_micros(), 2_000_000);
        assert_eq!(Instant::from_micros(7).as_nanos(), 7_000);
        assert_eq!(Instant::from_nanos(1_999).as_micros(), 1, "truncates");
        assert_eq!(Instant::from_secs(u64::MAX), Instant::MAX);
        assert_eq!(Instant::from_millis(u64::MAX), Instant::MAX);
        assert_eq!(Instant::from_micros(u64::MAX), Instant::MAX);
        assert_eq!(
            Instant::from_millis(3).since_epoch(),
            Duration::from_millis(3)
        );
        assert_eq!(
            Instant::from_millis(3).since_start(),
            Duration::from_millis(3)
        );
        assert_eq!(Instant::MAX.since_epoch(), Duration::from_nanos(u64::MAX));
        assert_eq!(Instant::default(), Instant::ZERO);
        assert!(Instant::ZERO < Instant::from_nanos(1) && Instant::from_nanos(1) < Instant::MAX);
    }

    #[test]
    fn arithmetic_saturates() {
        let t = Instant::from_nanos(u64::MAX - 1);
        assert_eq!(t + Duration::from_secs(1), Instant::from_nanos(u64::MAX));
        assert_eq!(
            Instant::from_nanos(5).saturating_sub(Duration::from_secs(1)),
            Instant::ZERO
        );
        assert_eq!(
            Instant::ZERO.saturating_duration_since(Instant::from_millis(3)),
            Duration::ZERO
        );
        assert_eq!(
            Instant::from_millis(1500).saturating_duration_since(Instant::from_millis(500)),
            Duration::from_secs(1)
        );
        let s = Instant::from_secs(1);
        assert_eq!(s + Duration::from_millis(5), Instant::from_millis(1005));
        assert_eq!(s - Duration::from_secs(5), Instant::ZERO);
        assert_eq!(s - Duration::from_secs(1), Instant::ZERO);
        assert_eq!(Instant::MAX + Duration::from_secs(1), Instant::MAX);
        assert_eq!(Instant::ZERO + Duration::MAX, Instant::MAX);
        assert_eq!(Instant::MAX - Duration::MAX, Instant::ZERO);
        assert_eq!(Instant::MAX - Instant::ZERO, Duration::from_nanos(u64::MAX));
        assert_eq!(
            Instant::from_secs(3) - Instant::from_secs(1),
            Duration::from_secs(2)
        );
        assert_eq!(
            Instant::from_secs(1) - Instant::from_secs(3),
            Duration::ZERO
        );
        let mut u = Instant::ZERO;
        u += Duration::from_micros(10);
        assert_eq!(u.as_micros(), 10);
        u += Duration::MAX;
        assert_eq!(u, Instant::MAX);
        assert_eq!(duration_nanos(Duration::MAX), u64::MAX);
        assert_eq!(
            Instant::from_secs(1).checked_add(Duration::from_millis(5)),
            Some(Instant::from_millis(1005))
        );
        assert_eq!(
            Instant::from_nanos(u64::MAX - 1).checked_add(Duration::from_nanos(1)),
            Some(Instant::MAX)
        );
        assert_eq!(Instant::MAX.checked_add(Duration::from_nanos(1)), None);
        assert_eq!(Instant::ZERO.checked_add(Duration::MAX), None);
        assert_eq!(duration_nanos(Duration::from_nanos(42)), 42);
        assert_eq!(
            duration_nanos(Duration::from_nanos(u64::MAX)),
            u64::MAX,
            "exactly the largest"
        );
    }

    #[test]
    fn display_is_seconds_with_micros_by_default() {
        assert_eq!(Instant::from_millis(1500).to_string(), "1.500000s");
        assert_eq!(Instant::from_nanos(1_234_567_891).to_string(), "1.234567s");
        assert_eq!(Instant::ZERO.to_string(), "0.000000s");
        assert_eq!(
            Instant::from_nanos(12_345_678_901).to_string(),
            "12.345678s"
        );
        assert_eq!(Instant::from_micros(1).to_string(), "0.000001s");
        assert_eq!(Instant::MAX.to_string(), "18446744073.709551s");
        // The watchdog's event text prints nanoseconds with `{:.9}`.
        assert_eq!(format!("{:.9}", Instant::from_millis(1500)), "1.500000000s");
        assert_eq!(
            format!("{:.9}", Instant::from_nanos(1_234_567_891)),
            "1.234567891s"
        );
        assert_eq!(
            format!("{:.3}", Instant::from_nanos(1_234_567_891)),
            "1.234s"
        );
        assert_eq!(format!("{:.0}", Instant::from_nanos(1_999_999_999)), "1s");
        assert_eq!(format!("{:.12}", Instant::from_nanos(5)), "0.000000005s");
    }
}
