//! Scenario memory is bounded by `RunLimits` (issue #14: a `repeat =
//! 10000000` flood was stopped by the record limit but peaked at 383 MB).
//!
//! Measured, not estimated: this test binary counts every heap byte
//! allocated (a counting global allocator). Each adversarial file runs under
//! the default limits divided by [`SCALE`] (so it ends quickly in a debug
//! build) through the run and the streamed renderers (`write_log`,
//! `write_timeline` into a sink, the SVG); the peak heap it took, times
//! [`SCALE`], must stay under the budget. Memory grows linearly with the
//! records kept, the fixed part is scaled too (so the projection errs high),
//! and the allocator counts capacity, not touched pages (RSS is lower).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use bmc_sim::scenario::{RunLimits, Scenario, Simulation};
use bmc_sim::Instant;

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(n: usize) {
    let now = CURRENT.fetch_add(n, Ordering::Relaxed) + n;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            grew(l.size());
        }
        p
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(l) };
        if !p.is_null() {
            grew(l.size());
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) };
        CURRENT.fetch_sub(l.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        let q = unsafe { System.realloc(p, l, new) };
        if !q.is_null() {
            if new >= l.size() {
                grew(new - l.size());
            } else {
                CURRENT.fetch_sub(l.size() - new, Ordering::Relaxed);
            }
        }
        q
    }
}

#[global_allocator]
static A: Counting = Counting;

/// The budget of issue #14 for any scenario within the default limits, less
/// what the binary and the process need besides the records.
const BUDGET: usize = 92 << 20;

/// The default limits are divided by this for the measured runs. A power of
/// two, so the record vectors' power-of-two capacities scale exactly.
const SCALE: usize = 32;

/// A `fmt::Write` that keeps nothing.
struct Sink(usize);

impl std::fmt::Write for Sink {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0 += s.len();
        Ok(())
    }
}

/// Peak heap bytes of running `src` under the scaled limits and rendering
/// it, above what was allocated before; and whether a limit stopped it.
fn peak_of(src: &str) -> (usize, bool, usize) {
    let sc = Scenario::from_toml_str(src).unwrap();
    let d = RunLimits::DEFAULT;
    let limits = RunLimits {
        max_records: d.max_records / SCALE,
        max_register_records: d.max_register_records / SCALE,
        ..d
    };
    let base = CURRENT.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let mut sim = Simulation::new(&sc);
    sim.set_limits(limits);
    sim.run_until(Instant::ZERO + sc.stop);
    let trace = sim.into_trace();
    let mut sink = Sink(0);
    let _ = trace.write_log(&mut sink);
    trace.write_timeline(&mut sink);
    let svg = bmc_sim::scenario::render_svg(&trace);
    let records = trace.events.len() + trace.completions.len() + trace.log.len();
    let stopped = trace.truncated.is_some();
    drop((svg, trace));
    (PEAK.load(Ordering::Relaxed) - base, stopped, records)
}

#[test]
fn every_kind_of_flood_stays_within_100_mb_under_the_default_limits() {
    let floods = [
        // The file: ten million back-to-back Get Device IDs.
        (
            "get-device-id",
            "name = \"f\"\nstop = \"8760h\"\n[[request]]\nat = \"0s\"\nnetfn = 0x06\n\
             cmd = 0x01\nrepeat = 10000000\n",
        ),
        // Long requests: the biggest completions.
        (
            "long-requests",
            "name = \"f\"\nstop = \"8760h\"\n[[request]]\nat = \"0s\"\nnetfn = 0x0a\n\
             cmd = 0x44\ndata = [0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,\
             23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,\
             49,50,51,52,53,54,55,56,57,58,59,60]\nrepeat = 10000000\n",
        ),
        // Register trace on: every access and the BMC's verbose events.
        (
            "registers",
            "name = \"f\"\nstop = \"8760h\"\n[trace]\nregisters = true\n[[request]]\n\
             at = \"0s\"\nnetfn = 0x06\ncmd = 0x01\nrepeat = 10000000\n",
        ),
        // A silent BMC: kernel log lines (timeouts, resets) and a queue.
        (
            "silent-bmc",
            "name = \"f\"\nstop = \"8760h\"\n[[fault]]\nkind = \"silent\"\nat = \"0s\"\n\
             [[request]]\nat = \"0s\"\nnetfn = 0x06\ncmd = 0x01\nrepeat = 10000000\n\
             interval = \"1ms\"\n",
        ),
    ];
    for (name, src) in floods {
        let (peak, stopped, records) = peak_of(src);
        let projected = peak * SCALE;
        eprintln!(
            "{name}: {records} records, peak {:.1} MB at 1/{SCALE} of the limits, {:.1} MB projected",
            peak as f64 / 1048576.0,
            projected as f64 / 1048576.0
        );
        assert!(stopped, "{name}: no limit stopped the flood");
        assert!(
            projected <= BUDGET,
            "{name}: {projected} bytes projected for the default limits, budget {BUDGET}"
        );
    }
}
