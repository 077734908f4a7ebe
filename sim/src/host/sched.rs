//! Virtual clock, jiffies, and the event-driven "what happens next" choice.
//!
//! The simulation never ticks through idle time: the runner asks every source
//! (the driver's kernel timer, the BMC's next internal deadline, the next
//! workload submission, the stop time) for its next deadline and jumps straight
//! to the earliest one. [`Jiffies`] converts between virtual nanoseconds and the
//! kernel's jiffy counter for a given `HZ`, the way `jiffies` advances on a
//! kernel built with that `CONFIG_HZ`.

use ipmi_vocab::Instant;

/// Nanoseconds per second.
const NS_PER_SEC: u128 = 1_000_000_000;

/// The jiffy clock of a kernel built with `CONFIG_HZ = hz`.
///
/// `jiffies` is 0 at virtual time 0 and increments every `1/hz` seconds
/// (exactly, with rational arithmetic, so HZ = 300 does not drift).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Jiffies {
    hz: u32,
    /// `SI_USEC_PER_JIFFY`, computed once (the SI layer asks on every timer
    /// expiry).
    usec_per_jiffy: u32,
    /// `SI_TIMEOUT_JIFFIES`, computed once.
    timeout_jiffies: u64,
}

impl Jiffies {
    /// A jiffy clock for `hz` ticks per second (values below 1 are treated as 1).
    pub(crate) const fn new(hz: u32) -> Self {
        let hz = if hz == 0 { 1 } else { hz };
        let usec_per_jiffy = 1_000_000 / hz;
        let timeout_jiffies = match 10_000_u32.checked_div(usec_per_jiffy) {
            Some(0) | None => 1,
            Some(j) => j as u64,
        };
        Self {
            hz,
            usec_per_jiffy,
            timeout_jiffies,
        }
    }

    /// The value of `jiffies` at virtual time `t`.
    #[inline]
    pub(crate) fn at(self, t: Instant) -> u64 {
        // The same quotient in 64 bits while the product fits (any time
        // below ~58 days at HZ=1000): the 128-bit division is a libcall.
        if let Some(p) = t.as_nanos().checked_mul(u64::from(self.hz)) {
            return p / 1_000_000_000;
        }
        let j = u128::from(t.as_nanos()) * u128::from(self.hz) / NS_PER_SEC;
        u64::try_from(j).unwrap_or(u64::MAX)
    }

    /// The earliest virtual time at which `jiffies == j` (a timer set to expire
    /// at `j` fires then).
    #[inline]
    pub(crate) fn time_of(self, j: u64) -> Instant {
        // 64 bits while the product fits (the runner asks every step; the
        // 128-bit division is a libcall), as in [`at`](Self::at).
        if let Some(p) = j.checked_mul(1_000_000_000) {
            return Instant::from_nanos(p.div_ceil(u64::from(self.hz)));
        }
        let ns = (u128::from(j) * NS_PER_SEC).div_ceil(u128::from(self.hz));
        Instant::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX))
    }

    /// `SI_USEC_PER_JIFFY` = 1000000 / HZ, integer division as in
    /// `ipmi_si_intf.c` (HZ = 300 gives 3333).
    pub(crate) const fn si_usec_per_jiffy(self) -> u32 {
        self.usec_per_jiffy
    }

    /// `jiffies_to_usecs(1)` (kernel/time/time.c), used by `wait_for_msg_done`
    /// and `bt_detect`: 10^6/HZ, truncated on 64-bit kernels (HZ = 300 → 3333).
    pub(crate) const fn jiffies_to_usecs_1(self) -> u32 {
        self.usec_per_jiffy
    }

    /// `SI_TIMEOUT_JIFFIES` = SI_TIMEOUT_TIME_USEC (10 000) / SI_USEC_PER_JIFFY:
    /// the "long" timer period (HZ = 250 → 2 jiffies = 8 ms; HZ = 100 → 1).
    pub(crate) const fn si_timeout_jiffies(self) -> u64 {
        self.timeout_jiffies
    }
}

/// Who owns a deadline in the event loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Source {
    /// The simulated BMC (response ready, fault switching, watchdog expiry).
    Bmc,
    /// The driver's kernel timer (`smi_timeout`).
    Timer,
    /// The message handler's one-second timer (`ipmi_msghandler.c`
    /// `ipmi_timeout`) while a user waits for events.
    MsgHandler,
    /// The next workload submission.
    Workload,
    /// The driver is unloaded.
    Unload,
}

/// Picks the earliest of a fixed set of optional deadlines without allocating.
///
/// Ties go to the source listed first in [`Source`]'s order: the BMC moves
/// first, so that a response becoming ready at the same instant as a timer
/// expiry is visible to that timer's poll (the hardware would have raised the
/// bit before the CPU looked).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct NextEvent {
    best: Option<(Instant, Source)>,
}

impl NextEvent {
    /// No candidate yet.
    pub(crate) const fn new() -> Self {
        Self { best: None }
    }

    /// Offer `deadline` from `src` (None = that source has nothing pending).
    pub(crate) fn offer(&mut self, src: Source, deadline: Option<Instant>) {
        if let Some(t) = deadline {
            match self.best {
                Some((bt, bs)) if (bt, bs) <= (t, src) => {}
                _ => self.best = Some((t, src)),
            }
        }
    }

    /// The earliest deadline offered and who owns it.
    pub(crate) const fn get(self) -> Option<(Instant, Source)> {
        self.best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jiffy_arithmetic_matches_kernel_constants() {
        let j250 = Jiffies::new(250);
        assert_eq!(j250.si_usec_per_jiffy(), 4000);
        assert_eq!(j250.si_timeout_jiffies(), 2);
        assert_eq!(j250.jiffies_to_usecs_1(), 4000);
        let j100 = Jiffies::new(100);
        assert_eq!(j100.si_timeout_jiffies(), 1);
        let j1000 = Jiffies::new(1000);
        assert_eq!(j1000.si_timeout_jiffies(), 10);
        let j300 = Jiffies::new(300);
        assert_eq!(j300.si_usec_per_jiffy(), 3333);
        assert_eq!(j300.jiffies_to_usecs_1(), 3333);
        assert_eq!(j300.si_timeout_jiffies(), 3);
    }

    #[test]
    fn jiffies_and_times_are_inverse() {
        for hz in [100, 250, 300, 1000] {
            let c = Jiffies::new(hz);
            for j in [0u64, 1, 2, 299, 300, 301, 1_000_000] {
                let t = c.time_of(j);
                assert_eq!(c.at(t), j, "hz {hz} j {j}");
                if t.as_nanos() > 0 {
                    assert_eq!(
                        c.at(Instant::from_nanos(t.as_nanos() - 1)),
                        j - 1,
                        "hz {hz} j {j}"
                    );
                }
            }
        }
        // HZ=300 does not drift: one day is exactly 25 920 000 jiffies.
        assert_eq!(Jiffies::new(300).at(Instant::from_secs(86_400)), 25_920_000);
    }

    #[test]
    fn next_event_picks_earliest_then_source_order() {
        let mut n = NextEvent::new();
        assert_eq!(n.get(), None);
        n.offer(Source::Timer, Some(Instant::from_millis(8)));
        n.offer(Source::Bmc, None);
        n.offer(Source::Workload, Some(Instant::from_millis(3)));
        assert_eq!(n.get(), Some((Instant::from_millis(3), Source::Workload)));
        n.offer(Source::Bmc, Some(Instant::from_millis(3)));
        assert_eq!(n.get(), Some((Instant::from_millis(3), Source::Bmc)));
        n.offer(Source::Unload, Some(Instant::from_millis(3)));
        assert_eq!(n.get(), Some((Instant::from_millis(3), Source::Bmc)));
    }
}
