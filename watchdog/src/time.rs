//! Virtual time for the sans-IO timer model.
//!
//! The model never reads a clock: every call that depends on time takes an
//! [`Instant`] supplied by the caller. An `Instant` is a count of nanoseconds
//! since an arbitrary epoch chosen by the caller (the simulator uses "virtual
//! nanoseconds since the simulation started"; a real-time daemon can use
//! nanoseconds since it started, taken from `std::time::Instant`).

use core::fmt;
use core::ops::Add;
use core::time::Duration;

/// A point in caller-supplied time: nanoseconds since the caller's epoch.
///
/// `u64` nanoseconds cover about 584 years; arithmetic saturates instead of
/// wrapping so a hostile or buggy clock can never cause a panic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(u64);

impl Instant {
    /// The epoch (time zero).
    pub const ZERO: Self = Self(0);

    /// An instant `nanos` nanoseconds after the epoch.
    pub const fn from_nanos(nanos: u64) -> Self {
        Self(nanos)
    }

    /// An instant `millis` milliseconds after the epoch (saturating).
    pub const fn from_millis(millis: u64) -> Self {
        Self(millis.saturating_mul(1_000_000))
    }

    /// Nanoseconds since the epoch.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Time elapsed from the epoch to `self`.
    pub const fn since_epoch(self) -> Duration {
        Duration::from_nanos(self.0)
    }

    /// `self + d`, saturating at the largest representable instant.
    pub fn saturating_add(self, d: Duration) -> Self {
        let add = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        Self(self.0.saturating_add(add))
    }

    /// `self - d`, saturating at the epoch.
    pub fn saturating_sub(self, d: Duration) -> Self {
        let sub = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        Self(self.0.saturating_sub(sub))
    }

    /// `self - earlier`, or zero if `earlier` is later than `self`.
    pub const fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;

    /// Saturating addition (see [`Instant::saturating_add`]).
    fn add(self, rhs: Duration) -> Instant {
        self.saturating_add(rhs)
    }
}

impl fmt::Display for Instant {
    /// `12.345678901s` (seconds since the epoch, nanosecond precision).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{:09}s",
            self.0 / 1_000_000_000,
            self.0 % 1_000_000_000
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(Instant::from_millis(1500).to_string(), "1.500000000s");
    }
}
