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

use std::collections::{BTreeSet, HashSet};
use std::hash::{Hash, Hasher};

use crate::host::msghandler::Completion;
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

/// More than the host states there are (`ipmi_bt_sm::State` is a fieldless
/// enum of fewer than 32 variants).
const STATES: usize = 32;

/// Marks `seen[i]` and says whether it was new; an index out of range counts
/// as new every time (the item is then made again, which is only slower).
fn first_time(seen: &mut [bool], i: usize) -> bool {
    seen.get_mut(i)
        .is_none_or(|cell| !core::mem::replace(cell, true))
}

/// The coverage items of one run.
///
/// A run repeats a few kinds of event many times (eight state changes per
/// transaction, the same log lines), so each kind's item is made (text
/// formatted, hashed) only the first time it is met in the run: the same
/// items as making it every time, for a fraction of the work.
pub fn of_trace(trace: &Trace) -> Coverage {
    let mut cov = Coverage::new();
    let mut state = None;
    // The host state is a fieldless enum: its discriminant indexes these.
    let mut transitions = [false; STATES * STATES];
    let mut irqs = [false; STATES + 1];
    let mut faults = HashSet::new();
    for e in &trace.events {
        match &e.kind {
            EventKind::State { from, to } => {
                let (a, b) = (*from as usize, *to as usize);
                let i = if a < STATES && b < STATES {
                    a * STATES + b
                } else {
                    usize::MAX
                };
                if first_time(&mut transitions, i) {
                    cov.insert(feature(1, (format!("{from:?}"), format!("{to:?}"))));
                }
                state = Some(*to);
            }
            EventKind::FaultOn(f) if faults.insert((f.kind(), state)) => {
                cov.insert(feature(2, (f.kind().name(), format!("{state:?}"))));
            }
            EventKind::Phase(p) => {
                cov.insert(feature(3, blank_numbers(&p.to_string())));
            }
            EventKind::Bmc(b) => {
                cov.insert(feature(4, blank_numbers(&format!("{b:?}"))));
            }
            EventKind::Irq if first_time(&mut irqs, state.map_or(0, |s| s as usize + 1)) => {
                cov.insert(feature(5, format!("{state:?}")));
            }
            _ => {}
        }
    }
    let mut lines = HashSet::new();
    for l in &trace.log {
        if lines.insert(l.text.as_str()) {
            let text: String = l.text.chars().take(60).collect();
            cov.insert(feature(6, blank_numbers(&text)));
        }
    }
    let mut results = HashSet::new();
    for c in &trace.completions {
        let result = result_of(c);
        if results.insert(result) {
            cov.insert(feature(7, result));
        }
        cov.insert(feature(8, latency_band(c)));
    }
    insert_run_shape(&mut cov, trace);
    cov
}

/// What a completion's result item is made of: the command, the completion
/// code, whether the host made the response up and whether the SI layer
/// sent the message itself.
fn result_of(c: &Completion) -> (u8, u8, u8, bool, bool) {
    (
        c.netfn(),
        c.cmd(),
        c.cc.0,
        c.synthesized,
        c.origin == Origin::Internal,
    )
}

/// The log2 band of a completion's latency in milliseconds.
fn latency_band(c: &Completion) -> u32 {
    band(u64::try_from(c.latency().as_millis()).unwrap_or(u64::MAX))
}

/// The items of the run as a whole: how many completed, how many never did,
/// and how it ended.
fn insert_run_shape(cov: &mut Coverage, trace: &Trace) {
    cov.insert(feature(9, band(trace.completions.len() as u64)));
    cov.insert(feature(10, band(trace.pending.len() as u64)));
    cov.insert(feature(11, (trace.registered, trace.truncated.is_some())));
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

    /// What `of_trace` did before it remembered the kinds it had met: every
    /// event's item made afresh.
    fn of_trace_every_time(trace: &Trace) -> Coverage {
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
            cov.insert(feature(7, result_of(c)));
            cov.insert(feature(8, latency_band(c)));
        }
        insert_run_shape(&mut cov, trace);
        cov
    }

    /// Remembering the kinds met changes no item: general-space runs on
    /// presets with and without the old bugs give the same coverage.
    #[test]
    fn remembered_kinds_give_the_same_items() {
        use crate::explore::{runner_for, strategy, ExploreConfig, Space};
        use crate::scenario::{run, KernelPreset};
        use proptest::strategy::{Strategy, ValueTree};
        let cfg = ExploreConfig {
            space: Space::General,
            ..ExploreConfig::default()
        };
        let mut runner = runner_for(&cfg);
        let mut items = 0;
        for kernel in [KernelPreset::FIXED_B8, KernelPreset::MAINLINE] {
            let strat = strategy(Space::General, kernel);
            for _ in 0..40 {
                let sc = strat.new_tree(&mut runner).unwrap().current();
                let trace = run(&sc);
                let cov = of_trace(&trace);
                assert_eq!(cov, of_trace_every_time(&trace), "{}", sc.name);
                items += cov.len();
            }
        }
        assert!(
            items > 80 * 10,
            "the runs covered something ({items} items)"
        );
    }

    #[test]
    fn features_are_stable() {
        // FNV-1a of fixed input: merged shard results depend on it.
        assert_eq!(feature(1, "x"), feature(1, "x"));
        assert_ne!(feature(1, "x"), feature(2, "x"));
    }
}
