//! A cheap coverage map of one run, read from its trace after the run (the
//! hot path records nothing extra): BT state transitions, the fault kinds
//! switched on in each state, kernel log-line kinds (numbers blanked),
//! completion codes per command and whether the host made them up, latency
//! bands, bands of the message count (the seq counter wraps at 256),
//! SI phases and BMC events, and how the run ended.
//!
//! Each item is a 64-bit hash ([`Feature`]); a [`Coverage`] is a set of
//! them. A schedule whose run adds a feature the search has not seen goes
//! into the corpus ([`super::campaign`]).

use std::collections::BTreeSet;
use std::hash::{Hash, Hasher};

use crate::host::si::Origin;
use crate::scenario::{EventKind, Trace};

/// One coverage item (a hash of its description).
pub type Feature = u64;

/// A set of coverage items.
pub type Coverage = BTreeSet<Feature>;

/// FNV-1a: stable across runs, builds and platforms (unlike `DefaultHasher`'s
/// keys, which std does not promise), so shard results merge.
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01B3);
        }
    }
}

fn feature(tag: u8, item: impl Hash) -> Feature {
    let mut h = Fnv(0xCBF2_9CE4_8422_2325);
    tag.hash(&mut h);
    item.hash(&mut h);
    h.finish()
}

/// The text with every digit run replaced by `#` (a log-line kind).
fn blank_numbers(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_num = false;
    for ch in s.chars() {
        if ch.is_ascii_hexdigit() && (ch.is_ascii_digit() || in_num) {
            if !in_num {
                out.push('#');
            }
            in_num = true;
        } else {
            in_num = false;
            out.push(ch);
        }
    }
    out
}

/// log2 band of `n` (0 for 0).
fn band(n: u64) -> u32 {
    64 - n.leading_zeros()
}

/// The coverage items of one run.
pub fn of_trace(trace: &Trace) -> Coverage {
    let mut cov = Coverage::new();
    let mut state = None;
    for e in &trace.events {
        match &e.kind {
            EventKind::State { from, to } => {
                cov.insert(feature(1, (format!("{from:?}"), format!("{to:?}"))));
                state = Some(*to);
            }
            EventKind::FaultOn(f) => {
                cov.insert(feature(2, (f.kind().name(), format!("{state:?}"))));
            }
            EventKind::Phase(p) => {
                cov.insert(feature(3, blank_numbers(&p.to_string())));
            }
            EventKind::Bmc(b) => {
                cov.insert(feature(4, blank_numbers(&format!("{b:?}"))));
            }
            EventKind::Irq => {
                cov.insert(feature(5, format!("{state:?}")));
            }
            _ => {}
        }
    }
    for l in &trace.log {
        let text: String = l.text.chars().take(60).collect();
        cov.insert(feature(6, blank_numbers(&text)));
    }
    for c in &trace.completions {
        cov.insert(feature(
            7,
            (
                c.netfn(),
                c.cmd(),
                c.cc.0,
                c.synthesized,
                c.origin == Origin::Internal,
            ),
        ));
        let ms = u64::try_from(c.latency().as_millis()).unwrap_or(u64::MAX);
        cov.insert(feature(8, band(ms)));
    }
    cov.insert(feature(9, band(trace.completions.len() as u64)));
    cov.insert(feature(10, band(trace.pending.len() as u64)));
    cov.insert(feature(11, (trace.registered, trace.truncated.is_some())));
    cov
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_blanked_but_words_kept() {
        assert_eq!(
            blank_numbers("BT: seq 0x1f reset 12 (takes 5 secs)"),
            "BT: seq #x# reset # (takes # secs)"
        );
        assert_eq!(band(0), 0);
        assert_eq!(band(1), 1);
        assert_eq!(band(255), 8);
        assert_eq!(band(256), 9);
    }

    #[test]
    fn features_are_stable() {
        // FNV-1a of fixed input: merged shard results depend on it.
        assert_eq!(feature(1, "x"), feature(1, "x"));
        assert_ne!(feature(1, "x"), feature(2, "x"));
    }
}
