//! The deterministic random source (layer 0).
//!
//! Any randomness in the simulator (response jitter, random response loss)
//! comes from a [`SplitMix64`] seeded from the configuration, so a seed
//! reproduces a run.

use core::time::Duration;

use ipmi_vocab::duration_nanos;

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny, fast, seedable PRNG.
///
/// Good enough for fault schedules and jitter; not for cryptography. Every
/// random choice in the simulator comes from one of these, seeded from the
/// configuration, so runs are reproducible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator seeded with `seed` (any value, including 0, is fine).
    pub const fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value uniformly in `0..bound` (0 when `bound` is 0), by Lemire's
    /// multiply-shift (bias below 2^-64 · bound, irrelevant here).
    pub fn below(&mut self, bound: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(bound)) >> 64) as u64
    }

    /// True with probability `per_mille / 1000` (saturating at 1000).
    pub fn chance_per_mille(&mut self, per_mille: u16) -> bool {
        self.below(1000) < u64::from(per_mille.min(1000))
    }

    /// A duration uniformly in `0..=max`, at nanosecond resolution.
    pub fn duration_up_to(&mut self, max: Duration) -> Duration {
        let n = duration_nanos(max);
        if n == 0 {
            return Duration::ZERO;
        }
        Duration::from_nanos(self.below(n.saturating_add(1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_is_deterministic_and_seed_dependent() {
        let mut a = SplitMix64::new(42);
        let mut b = SplitMix64::new(42);
        let mut c = SplitMix64::new(43);
        let va: Vec<u64> = (0..8).map(|_| a.next_u64()).collect();
        let vb: Vec<u64> = (0..8).map(|_| b.next_u64()).collect();
        let vc: Vec<u64> = (0..8).map(|_| c.next_u64()).collect();
        assert_eq!(va, vb);
        assert_ne!(va, vc);
        // Reference value of SplitMix64 seeded with 0 (first output).
        assert_eq!(SplitMix64::new(0).next_u64(), 0xE220_A839_7B1D_CDAF);
    }

    #[test]
    fn bounded_helpers_stay_in_range() {
        let mut r = SplitMix64::new(7);
        for _ in 0..1000 {
            assert!(r.below(10) < 10);
            assert!(r.duration_up_to(Duration::from_micros(5)) <= Duration::from_micros(5));
        }
        assert_eq!(r.below(0), 0);
        assert!(!r.chance_per_mille(0));
        assert!(r.chance_per_mille(1000));
        let hits = (0..10_000).filter(|_| r.chance_per_mille(500)).count();
        assert!((4_000..6_000).contains(&hits), "{hits}");
    }
}
