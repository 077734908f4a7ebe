//! Human-friendly durations for the command line (`90s`, `5m`, `1.5s`, `250ms`,
//! `1h`, `1m30s`), held as whole deciseconds because the IPMI watchdog counts in units
//! of 100 ms (IPMI v2.0 §27.6, Set Watchdog Timer bytes 5–6).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A non-negative duration with 100 ms resolution, as the watchdog counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Deciseconds(pub u64);

/// Why a duration argument was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Nothing was given.
    #[error("empty duration: give a number with a unit, e.g. 90s, 5m, 1.5s, 500ms")]
    Empty,
    /// The number part did not parse.
    #[error(
        "`{0}` is not a duration: give a number with a unit, e.g. 90s, 5m, 1.5s, 500ms, or \
         terms with falling units, e.g. 1m30s"
    )]
    Malformed(String),
    /// The unit is not one we know.
    #[error("`{0}`: unknown unit `{1}`: use ms, s, m or h (e.g. 90s, 5m, 1.5s)")]
    UnknownUnit(String, String),
    /// Finer than the watchdog's 100 ms resolution.
    #[error(
        "`{0}` is not a multiple of 100 ms, the watchdog's resolution: round it (e.g. 1.5s, 200ms)"
    )]
    TooFine(String),
    /// A minus sign.
    #[error("`{0}`: a duration cannot be negative")]
    Negative(String),
    /// Too large to represent.
    #[error("`{0}` is too long")]
    TooLong(String),
}

impl Deciseconds {
    /// From whole deciseconds.
    pub const fn from_ds(ds: u64) -> Self {
        Self(ds)
    }

    /// From whole seconds.
    pub const fn from_secs(s: u64) -> Self {
        Self(s.saturating_mul(10))
    }

    /// The value in deciseconds.
    pub const fn ds(self) -> u64 {
        self.0
    }

    /// As a std [`Duration`].
    pub const fn as_duration(self) -> Duration {
        Duration::from_millis(self.0.saturating_mul(100))
    }

    /// From a std [`Duration`], truncating below 100 ms.
    pub fn from_duration(d: Duration) -> Self {
        Self(u64::try_from(d.as_millis() / 100).unwrap_or(u64::MAX))
    }
}

impl FromStr for Deciseconds {
    type Err = DurationError;

    /// Parses `<number>[unit]`, or several `<number><unit>` terms with the
    /// units in falling order (`1m30s`, `1h2m`, `1m 30.5s`), where a number
    /// may have a fractional part and the unit is `h`, `m`, `s` (the default
    /// for a lone number) or `ms`. Exact decimal arithmetic: `1.5s` is 15 ds,
    /// `0.15s` is rejected as finer than 100 ms (checked on the sum).
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(DurationError::Empty);
        }
        if s.starts_with('-') {
            return Err(DurationError::Negative(raw.to_string()));
        }
        let too_long = || DurationError::TooLong(raw.to_string());
        // Sum in units of 1 ms / 10^9 (every term has at most 9 decimals).
        const SCALE: u128 = 1_000_000_000;
        let mut total: u128 = 0;
        let mut rest = s;
        // Milliseconds per unit of the previous term: units must fall.
        let mut last_unit: Option<u128> = None;
        while !rest.is_empty() {
            let split = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(rest.len());
            let (num, after) = rest.split_at(split);
            let after = after.trim_start();
            let unit_len = after
                .find(|c: char| !c.is_ascii_alphabetic())
                .unwrap_or(after.len());
            let (unit, after) = after.split_at(unit_len);
            rest = after.trim_start();
            if num.is_empty() {
                // A unit with no number before it ("abc", "5s s").
                return Err(if unit.is_empty() {
                    DurationError::Malformed(raw.to_string())
                } else {
                    DurationError::UnknownUnit(raw.to_string(), unit.to_string())
                });
            }
            // Milliseconds per unit.
            let ms_per_unit: u128 = match unit {
                "ms" => 1,
                "s" | "sec" | "secs" => 1000,
                // A lone number is seconds; in a compound every term has a unit.
                "" if last_unit.is_none() && rest.is_empty() => 1000,
                "" => return Err(DurationError::Malformed(raw.to_string())),
                "m" | "min" | "mins" => 60_000,
                "h" => 3_600_000,
                other => {
                    return Err(DurationError::UnknownUnit(
                        raw.to_string(),
                        other.to_string(),
                    ))
                }
            };
            if last_unit.is_some_and(|l| ms_per_unit >= l) {
                return Err(DurationError::Malformed(raw.to_string()));
            }
            last_unit = Some(ms_per_unit);
            let (int_part, frac_part) = match num.split_once('.') {
                Some((i, f)) => (i, f),
                None => (num, ""),
            };
            if (int_part.is_empty() && frac_part.is_empty())
                || !int_part.bytes().all(|b| b.is_ascii_digit())
                || !frac_part.bytes().all(|b| b.is_ascii_digit())
                || frac_part.len() > 9
            {
                return Err(DurationError::Malformed(raw.to_string()));
            }
            let int: u128 = if int_part.is_empty() {
                0
            } else {
                int_part.parse().map_err(|_| too_long())?
            };
            let frac: u128 = if frac_part.is_empty() {
                0
            } else {
                frac_part.parse().map_err(|_| too_long())?
            };
            // frac has frac_part.len() decimals: scale it to 9.
            let frac_scale = 10u128.pow(9 - u32::try_from(frac_part.len()).unwrap_or(9));
            let term = int
                .checked_mul(SCALE)
                .and_then(|v| v.checked_add(frac.checked_mul(frac_scale)?))
                .and_then(|v| v.checked_mul(ms_per_unit))
                .ok_or_else(too_long)?;
            total = total.checked_add(term).ok_or_else(too_long)?;
        }
        let per_ds = 100 * SCALE;
        if total % per_ds != 0 {
            return Err(DurationError::TooFine(raw.to_string()));
        }
        let ds = u64::try_from(total / per_ds).map_err(|_| too_long())?;
        Ok(Self(ds))
    }
}

impl fmt::Display for Deciseconds {
    /// Seconds with one decimal, the way ipmitool prints countdowns: `90.0s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}s", self.0 / 10, self.0 % 10)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<u64, DurationError> {
        s.parse::<Deciseconds>().map(|d| d.ds())
    }

    #[test]
    fn parses_humane_forms() {
        assert_eq!(p("90s"), Ok(900));
        assert_eq!(p("5m"), Ok(3000));
        assert_eq!(p("1.5s"), Ok(15));
        assert_eq!(p("1.5m"), Ok(900));
        assert_eq!(p("500ms"), Ok(5));
        assert_eq!(p("100ms"), Ok(1));
        assert_eq!(p("60"), Ok(600));
        assert_eq!(p("6553.5s"), Ok(65535));
        assert_eq!(p("1h"), Ok(36000));
        assert_eq!(p(".5s"), Ok(5));
        assert_eq!(p("0s"), Ok(0));
        assert_eq!(p(" 2 s "), Ok(20));
    }

    /// Issue #14: `1m30s` was refused; compound forms as systemd and
    /// humantime write them.
    #[test]
    fn parses_compound_durations() {
        assert_eq!(p("1m30s"), Ok(900));
        assert_eq!(p("1m 30s"), Ok(900));
        assert_eq!(p("1h2m3.5s"), Ok(37235));
        assert_eq!(p("1m500ms"), Ok(605));
        assert_eq!(p("1.5m30s"), Ok(1200));
        assert_eq!(p("0m0.1s"), Ok(1));
        // Units must fall, each once; every term of a compound has a unit.
        assert!(matches!(p("30s1m"), Err(DurationError::Malformed(_))));
        assert!(matches!(p("1m1m"), Err(DurationError::Malformed(_))));
        assert!(matches!(p("1m30"), Err(DurationError::Malformed(_))));
        assert!(matches!(p("1 30s"), Err(DurationError::Malformed(_))));
        assert!(matches!(p("1m30x"), Err(DurationError::UnknownUnit(..))));
        // The resolution applies to the sum.
        assert!(matches!(p("1s50ms"), Err(DurationError::TooFine(_))));
        assert!(matches!(p("1m-5s"), Err(DurationError::Malformed(_))));
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!(p(""), Err(DurationError::Empty));
        assert!(matches!(p("abc"), Err(DurationError::UnknownUnit(..))));
        assert!(matches!(p("5x"), Err(DurationError::UnknownUnit(..))));
        assert!(matches!(p("1.2.3s"), Err(DurationError::Malformed(_))));
        assert!(matches!(p("."), Err(DurationError::Malformed(_))));
        assert!(matches!(p("-5s"), Err(DurationError::Negative(_))));
        assert!(matches!(p("150ms"), Err(DurationError::TooFine(_))));
        assert!(matches!(p("0.15s"), Err(DurationError::TooFine(_))));
        assert!(matches!(
            p("99999999999999999999999999999999999999999h"),
            Err(DurationError::TooLong(_))
        ));
    }

    #[test]
    fn displays_like_ipmitool() {
        assert_eq!(Deciseconds(15).to_string(), "1.5s");
        assert_eq!(Deciseconds(600).to_string(), "60.0s");
        assert_eq!(
            Deciseconds::from_secs(3).as_duration(),
            Duration::from_secs(3)
        );
    }
}
