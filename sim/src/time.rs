//! Virtual time for the whole simulator (layer 0).
//!
//! The simulator never reads a wall clock: every component is told the current
//! [`SimTime`] by whoever drives it (the scheduler jumps from one deadline to
//! the next). Randomness lives beside it in [`crate::rng`].

use core::fmt;
use core::ops::{Add, AddAssign, Sub};
use core::time::Duration;

/// A point in virtual time: nanoseconds since the start of the simulation.
///
/// Arithmetic with [`Duration`] saturates instead of overflowing, so a
/// "never" deadline can be expressed as [`SimTime::MAX`] without special cases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SimTime(pub u64);

impl SimTime {
    /// The start of the simulation.
    pub const ZERO: Self = Self(0);
    /// The far future (about 584 years); used as "never".
    pub const MAX: Self = Self(u64::MAX);

    /// `ns` nanoseconds after the start.
    pub const fn from_nanos(ns: u64) -> Self {
        Self(ns)
    }
    /// `us` microseconds after the start (saturating).
    pub const fn from_micros(us: u64) -> Self {
        Self(us.saturating_mul(1_000))
    }
    /// `ms` milliseconds after the start (saturating).
    pub const fn from_millis(ms: u64) -> Self {
        Self(ms.saturating_mul(1_000_000))
    }
    /// `s` seconds after the start (saturating).
    pub const fn from_secs(s: u64) -> Self {
        Self(s.saturating_mul(1_000_000_000))
    }
    /// Nanoseconds since the start.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }
    /// Whole microseconds since the start (the unit of `ipmi_bt_sm`'s `event(time_us)`).
    pub const fn as_micros(self) -> u64 {
        self.0 / 1_000
    }
    /// Whole milliseconds since the start.
    pub const fn as_millis(self) -> u64 {
        self.0 / 1_000_000
    }
    /// Whole seconds since the start.
    pub const fn as_secs(self) -> u64 {
        self.0 / 1_000_000_000
    }
    /// Time elapsed since the start, as a [`Duration`].
    pub const fn since_start(self) -> Duration {
        Duration::from_nanos(self.0)
    }
    /// `self + d`, saturating at [`SimTime::MAX`].
    pub fn saturating_add(self, d: Duration) -> Self {
        Self(self.0.saturating_add(duration_nanos(d)))
    }
    /// `self - d`, saturating at [`SimTime::ZERO`].
    pub fn saturating_sub(self, d: Duration) -> Self {
        Self(self.0.saturating_sub(duration_nanos(d)))
    }
    /// The time from `earlier` to `self`, or zero if `earlier` is later.
    pub const fn saturating_duration_since(self, earlier: Self) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }
}

/// Nanoseconds in `d`, saturating at `u64::MAX`.
pub fn duration_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Add<Duration> for SimTime {
    type Output = SimTime;
    fn add(self, d: Duration) -> SimTime {
        self.saturating_add(d)
    }
}

impl AddAssign<Duration> for SimTime {
    fn add_assign(&mut self, d: Duration) {
        *self = self.saturating_add(d);
    }
}

impl Sub<Duration> for SimTime {
    type Output = SimTime;
    fn sub(self, d: Duration) -> SimTime {
        self.saturating_sub(d)
    }
}

impl Sub<SimTime> for SimTime {
    type Output = Duration;
    /// Saturating: an earlier `self` gives zero.
    fn sub(self, earlier: SimTime) -> Duration {
        self.saturating_duration_since(earlier)
    }
}

impl fmt::Display for SimTime {
    /// Seconds with microsecond precision, like a kernel log stamp: `12.345678s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0 / 1_000_000_000;
        let micros = (self.0 % 1_000_000_000) / 1_000;
        write!(f, "{secs}.{micros:06}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors_and_accessors() {
        assert_eq!(SimTime::from_millis(1500).as_secs(), 1);
        assert_eq!(SimTime::from_secs(2).as_micros(), 2_000_000);
        assert_eq!(SimTime::from_micros(7).as_nanos(), 7_000);
        assert_eq!(SimTime::from_secs(u64::MAX), SimTime::MAX);
        assert_eq!(
            SimTime::from_millis(3).since_start(),
            Duration::from_millis(3)
        );
    }

    #[test]
    fn arithmetic_saturates() {
        let t = SimTime::from_secs(1);
        assert_eq!(t + Duration::from_millis(5), SimTime::from_millis(1005));
        assert_eq!(t - Duration::from_secs(5), SimTime::ZERO);
        assert_eq!(SimTime::MAX + Duration::from_secs(1), SimTime::MAX);
        assert_eq!(SimTime::ZERO + Duration::MAX, SimTime::MAX);
        assert_eq!(
            SimTime::from_secs(3) - SimTime::from_secs(1),
            Duration::from_secs(2)
        );
        assert_eq!(
            SimTime::from_secs(1) - SimTime::from_secs(3),
            Duration::ZERO
        );
        let mut u = SimTime::ZERO;
        u += Duration::from_micros(10);
        assert_eq!(u.as_micros(), 10);
    }

    #[test]
    fn display_is_seconds_with_micros() {
        assert_eq!(SimTime(12_345_678_901).to_string(), "12.345678s");
        assert_eq!(SimTime::ZERO.to_string(), "0.000000s");
        assert_eq!(SimTime::from_micros(1).to_string(), "0.000001s");
    }
}
