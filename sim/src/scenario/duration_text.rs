//! Durations as scenario files write them: a number with a unit, `"250us"`,
//! `"10ms"`, `"5s"`, `"1.5s"`, `"2min"`, `"24h"`.
//!
//! Scenario fields are plain [`core::time::Duration`]s; this module is their
//! file format: [`parse`] and [`display`], and serde helpers for
//! `#[serde(with = "duration_text")]` (a `Duration` field) and
//! `#[serde(with = "duration_text::option")]` (an `Option<Duration>` field,
//! which also needs `default`). A parsed duration is at most `u64::MAX`
//! nanoseconds (about 5124095 hours), the range of [`ipmi_vocab::Instant`].

use core::fmt;
use core::time::Duration;

use serde::{Deserializer, Serializer};

/// Parses `"<number><unit>"` (units `ns`, `us`/`µs`, `ms`, `s`, `min`, `h`;
/// the number may have a fractional part, exact to the nanosecond). The error
/// text names the input and says what is wrong (negative, missing unit,
/// unknown unit, missing number, not a number, too large).
pub fn parse(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if t.starts_with('-') {
        return Err(format!(
            "invalid duration {s:?}: durations cannot be negative (use e.g. \"0.5s\")"
        ));
    }
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| {
            format!("invalid duration {s:?}: missing unit (ns, us, ms, s, min, h), e.g. \"10ms\"")
        })?;
    let (num, unit) = t.split_at(split);
    let mult: u64 = match unit.trim() {
        "ns" => 1,
        "us" | "µs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "min" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        other => {
            return Err(format!(
                "invalid duration {s:?}: unknown unit {other:?} (use ns, us, ms, s, min or h)"
            ))
        }
    };
    if num.is_empty() || num == "." {
        return Err(format!(
            "invalid duration {s:?}: missing number before the unit"
        ));
    }
    let (int, frac) = match num.split_once('.') {
        Some((i, f)) => (i, f),
        None => (num, ""),
    };
    let overflow = || {
        format!(
            "invalid duration {s:?}: too large (at most {}h)",
            u64::MAX / 3_600_000_000_000
        )
    };
    let bad = || format!("invalid duration {s:?}: not a number");
    let int_v: u64 = if int.is_empty() {
        0
    } else {
        int.parse().map_err(|_| bad())?
    };
    let mut ns = int_v.checked_mul(mult).ok_or_else(overflow)?;
    if !frac.is_empty() {
        if frac.contains('.') {
            return Err(bad());
        }
        // Fractional part, exact to the nanosecond where representable.
        let mut scale = mult;
        for ch in frac.chars() {
            let d = ch.to_digit(10).ok_or_else(bad)? as u64;
            scale /= 10;
            ns = ns.checked_add(d * scale).ok_or_else(overflow)?;
        }
    }
    Ok(Duration::from_nanos(ns))
}

/// `d` in the shortest exact unit form that [`parse`] reads back: `5s`,
/// `10ms`, `1500ms`, `250us`, `3ns`, `0s`.
pub fn display(d: Duration) -> impl fmt::Display + Copy {
    Text(d)
}

/// The [`fmt::Display`] behind [`display`].
#[derive(Clone, Copy)]
struct Text(Duration);

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.0.as_nanos();
        if ns == 0 {
            return f.write_str("0s");
        }
        for (unit, m) in [
            ("h", 3_600_000_000_000u128),
            ("min", 60_000_000_000),
            ("s", 1_000_000_000),
            ("ms", 1_000_000),
            ("us", 1_000),
        ] {
            if ns % m == 0 {
                return write!(f, "{}{unit}", ns / m);
            }
        }
        write!(f, "{ns}ns")
    }
}

/// Serialises a `Duration` field as its [`display`] text.
pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&display(*d))
}

/// Deserialises a `Duration` field from a string [`parse`] accepts.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    struct V;
    impl serde::de::Visitor<'_> for V {
        type Value = Duration;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a duration string such as \"10ms\", \"5s\" or \"24h\"")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Duration, E> {
            parse(v).map_err(E::custom)
        }
    }
    d.deserialize_str(V)
}

/// The same for an `Option<Duration>` field: `#[serde(default, with =
/// "duration_text::option", skip_serializing_if = "Option::is_none")]`.
pub mod option {
    use core::time::Duration;

    use serde::{Deserializer, Serializer};

    /// Serialises `Some(d)` as [`display`](super::display)`(d)`, `None` as a
    /// unit (skip it with `skip_serializing_if = "Option::is_none"`).
    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => super::serialize(d, s),
            None => s.serialize_none(),
        }
    }

    /// Deserialises a present field with [`super::deserialize`]; an absent one
    /// is `None` through the field's `default`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        super::deserialize(d).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse("10ms").unwrap(), Duration::from_millis(10));
        assert_eq!(parse("1.25s").unwrap(), Duration::from_nanos(1_250_000_000));
        assert_eq!(
            parse("24h").unwrap(),
            Duration::from_nanos(86_400_000_000_000)
        );
        assert_eq!(display(parse("250us").unwrap()).to_string(), "250us");
        assert_eq!(
            display(Duration::from_nanos(1_500_000_000)).to_string(),
            "1500ms"
        );
        assert!(parse("10").unwrap_err().contains("missing unit"));
        assert!(parse("10 parsecs").unwrap_err().contains("unknown unit"));
        assert!(parse("ms").unwrap_err().contains("missing number"));
        assert!(parse("99999999999999h").unwrap_err().contains("too large"));
    }

    #[test]
    fn negative_and_oversized_durations_say_why() {
        assert!(parse("-1s").unwrap_err().contains("cannot be negative"));
        assert!(parse(".s").unwrap_err().contains("missing number"));
        let e = parse("99999999h").unwrap_err();
        assert!(e.contains("too large (at most 5124095h)"), "{e}");
        assert_eq!(
            parse("5124095h").unwrap(),
            Duration::from_nanos(5_124_095 * 3_600_000_000_000)
        );
    }

    #[test]
    fn display_is_the_shortest_exact_unit() {
        let cases = [
            (0, "0s"),
            (3, "3ns"),
            (250_000, "250us"),
            (10_000_000, "10ms"),
            (5_000_000_000, "5s"),
            (120_000_000_000, "2min"),
            (86_400_000_000_000, "24h"),
        ];
        for (ns, text) in cases {
            let d = Duration::from_nanos(ns);
            assert_eq!(display(d).to_string(), text);
            assert_eq!(parse(text).unwrap(), d, "{text} reads back");
        }
        // Beyond u64 nanoseconds it still prints exactly.
        assert_eq!(
            display(Duration::from_secs(u64::MAX)).to_string(),
            "18446744073709551615s"
        );
    }
}
