//! The general space: schedules shaped after no known bug.
//!
//! Every fault kind of `declare_faults!` (`bmc/fault.rs`) with parameters
//! drawn from its declaration table ([`FaultKind::params`]: type, presence,
//! maximum), so a new kind is searched as soon as it is declared; one to four
//! overlapping faults, each triggered at a virtual time or at a command
//! index anywhere in the run, lasting a while or to the end; one to four
//! workload entries of varied length, rate and command (Get Device ID,
//! watchdog Set / Get / Reset, event and flag reads, chassis and sensor
//! commands, an arbitrary NetFn/cmd); HZ 100 / 250 / 300 / 1000, interrupt
//! or polling, probe on or off, an unload sometimes, every BMC preset and
//! random BMC latencies.
//!
//! Scenarios are drawn by a proptest [`Strategy`] ([`strategy`]) whose
//! inputs are plain integers that shrink towards zero: fewer faults, the
//! first kind, absent optional parameters, early triggers, short runs.
//! [`mutate`] changes a scenario of the corpus (coverage guidance).

use core::time::Duration;

use proptest::prelude::*;

use crate::bmc::fault::{FaultParams, ParamType, ParamValue, Presence};
use crate::rng::SplitMix64;
use crate::scenario::{
    BmcPreset, BmcSpec, DriverSpec, FaultKind, FaultSpec, Hz, KernelPreset, RequestSpec, Scenario,
    TraceSpec,
};

/// The HZ values of the kernels we model (`CONFIG_HZ` choices).
pub const HZ: [u32; 4] = [100, 250, 300, 1000];

/// The BMC presets drawn from.
const BMC_PRESETS: [BmcPreset; 4] = [
    BmcPreset::Default,
    BmcPreset::Qemu,
    BmcPreset::QemuExtern,
    BmcPreset::Openbmc,
];

/// Longest run the space generates (virtual time).
pub const MAX_STOP: Duration = Duration::from_secs(120);

/// Commands of the workload: (NetFn, cmd). The last row is replaced by an
/// arbitrary NetFn/cmd drawn from the raw input.
const COMMANDS: [(u8, u8); 12] = [
    (0x06, 0x01), // Get Device ID
    (0x06, 0x04), // Get Self Test Results
    (0x06, 0x22), // Reset Watchdog Timer
    (0x06, 0x24), // Set Watchdog Timer
    (0x06, 0x25), // Get Watchdog Timer
    (0x06, 0x2F), // Get BMC Global Enables
    (0x06, 0x31), // Get Message Flags
    (0x06, 0x35), // Read Event Message Buffer
    (0x06, 0x36), // Get BT Interface Capabilities
    (0x00, 0x01), // Get Chassis Status
    (0x04, 0x2D), // Get Sensor Reading
    (0x00, 0x00), // arbitrary
];

/// The raw integers one fault is decoded from.
type RawFault = (usize, [u64; 4], bool, u64, Option<u64>);
/// The raw integers one workload entry is decoded from.
type RawRequest = (usize, Option<u64>, u32, Option<u64>, bool, u64);

/// One fault: kind, parameters from the declaration table, trigger, duration.
fn fault_from_raw(raw: &RawFault, stop_ms: u64) -> FaultSpec {
    let (k, params, by_command, when, dur) = *raw;
    let kind = FaultKind::ALL
        .get(k % FaultKind::ALL.len())
        .copied()
        .unwrap_or(FaultKind::Silent);
    let mut p = FaultParams::new();
    for (i, decl) in kind.params().iter().enumerate() {
        let r = params.get(i % params.len()).copied().unwrap_or(0);
        // Low bit: whether an optional / defaulted parameter is given.
        let given = match decl.presence {
            Presence::Required => true,
            Presence::Optional(_) | Presence::Default(_) => r & 1 == 1,
        };
        if !given {
            continue;
        }
        let v = r >> 1;
        let cap = |type_max: u64| decl.max.unwrap_or(type_max).min(type_max);
        let value = match decl.ty {
            // Up to 8 s, skewed short: half the draws below 256 ms.
            ParamType::Duration => {
                let ms = if v & 1 == 0 {
                    (v >> 1) % 256
                } else {
                    (v >> 1) % 8_000
                };
                ParamValue::Duration(Duration::from_millis(ms))
            }
            ParamType::U8 => ParamValue::U8(u8::try_from(v % (cap(255) + 1)).unwrap_or(u8::MAX)),
            ParamType::U16 => {
                ParamValue::U16(u16::try_from(v % (cap(65_535) + 1)).unwrap_or(u16::MAX))
            }
            // Counts: small ones matter.
            ParamType::U32 => ParamValue::U32(u32::try_from(1 + v % 16).unwrap_or(1)),
            ParamType::Bool => ParamValue::Bool(v & 1 == 1),
        };
        p.set(decl.name, value);
    }
    let (at, at_command) = if by_command {
        (None, Some(1 + when % 400))
    } else {
        (Some(Duration::from_millis(when % stop_ms.max(1))), None)
    };
    FaultSpec {
        kind,
        at,
        at_command,
        duration: dur
            .filter(|_| !kind.is_instant())
            .map(|d| Duration::from_millis(10 + d % 60_000)),
        params: p,
    }
}

/// One workload entry.
fn request_from_raw(raw: &RawRequest, stop_ms: u64) -> RequestSpec {
    let (c, at, repeat, interval, gets_events, data) = *raw;
    let (mut netfn, mut cmd) = COMMANDS.get(c % COMMANDS.len()).copied().unwrap_or((6, 1));
    let b = data.to_le_bytes();
    let data = match (netfn, cmd) {
        // Set Watchdog Timer: use (SMS/OS, maybe don't-stop), action, no
        // pre-timeout, clear flags, countdown 1–60 s in 100 ms units.
        (0x06, 0x24) => {
            let count = 10 + u16::from_le_bytes([b[2], b[3]]) % 600;
            let [lo, hi] = count.to_le_bytes();
            vec![0x04 | (b[0] & 0x40), b[1] & 0x03, 0, 0x10, lo, hi]
        }
        (0x04, 0x2D) => vec![b[0]],
        (0x00, 0x00) => {
            netfn = b[0] & 0x3E;
            cmd = b[1];
            b.get(2..2 + usize::from(b[7] % 4))
                .map(<[u8]>::to_vec)
                .unwrap_or_default()
        }
        _ => Vec::new(),
    };
    RequestSpec {
        at: at.map(|a| Duration::from_millis(a % stop_ms.max(1))),
        netfn,
        cmd,
        data,
        repeat: repeat.max(1),
        interval: interval.map(|i| Duration::from_millis(1 + i % 3_000)),
        label: None,
        gets_events,
    }
}

/// The general space for `kernel` as a proptest strategy.
pub fn strategy(kernel: KernelPreset) -> BoxedStrategy<Scenario> {
    let fault = (
        0usize..FaultKind::ALL.len(),
        proptest::array::uniform4(any::<u64>()),
        any::<bool>(),
        any::<u64>(),
        proptest::option::of(any::<u64>()),
    );
    let request = (
        0usize..COMMANDS.len(),
        proptest::option::of(any::<u64>()),
        prop_oneof![3 => 1u32..=5, 2 => 1u32..=300],
        proptest::option::of(any::<u64>()),
        proptest::bool::weighted(0.1),
        any::<u64>(),
    );
    let driver = (
        0usize..HZ.len(),
        any::<bool>(),
        any::<bool>(),
        proptest::option::of(any::<u64>()),
        0usize..BMC_PRESETS.len(),
    );
    let bmc = (
        proptest::option::of(0u64..2_000),
        proptest::option::of(0u64..50),
        proptest::option::of(0u64..100),
        any::<u64>(),
    );
    (
        2_000u64..=u64::try_from(MAX_STOP.as_millis()).unwrap_or(120_000),
        driver,
        bmc,
        proptest::collection::vec(request, 1..=4),
        proptest::collection::vec(fault, 1..=4),
    )
        .prop_map(move |(stop_ms, drv, bmc, reqs, faults)| {
            build(kernel, stop_ms, drv, bmc, &reqs, &faults)
        })
        .boxed()
}

fn build(
    kernel: KernelPreset,
    stop_ms: u64,
    (hz, irq, probe, unload, preset): (usize, bool, bool, Option<u64>, usize),
    (latency, take, jitter, seed): (Option<u64>, Option<u64>, Option<u64>, u64),
    reqs: &[RawRequest],
    faults: &[RawFault],
) -> Scenario {
    Scenario {
        name: "explore-general".into(),
        description: String::new(),
        // TOML integers are i64.
        seed: seed >> 1,
        stop: Duration::from_millis(stop_ms),
        driver: DriverSpec {
            kernel,
            hz: Hz(HZ.get(hz).copied().unwrap_or(250)),
            irq,
            probe,
            unload_at: unload.map(|u| Duration::from_millis(u % stop_ms.max(1))),
            ..DriverSpec::default()
        },
        bmc: BmcSpec {
            preset: BMC_PRESETS.get(preset).copied().unwrap_or_default(),
            latency: latency.map(Duration::from_millis),
            take_latency: take.map(Duration::from_millis),
            jitter: jitter.map(Duration::from_millis),
            ..BmcSpec::default()
        },
        trace: TraceSpec::default(),
        requests: reqs.iter().map(|r| request_from_raw(r, stop_ms)).collect(),
        faults: faults.iter().map(|f| fault_from_raw(f, stop_ms)).collect(),
        daemon: None,
    }
}

fn raw_fault(rng: &mut SplitMix64) -> RawFault {
    let n = FaultKind::ALL.len() as u64;
    (
        usize::try_from(rng.below(n)).unwrap_or(0),
        [
            rng.next_u64(),
            rng.next_u64(),
            rng.next_u64(),
            rng.next_u64(),
        ],
        rng.next_u64() & 1 == 1,
        rng.next_u64(),
        (rng.next_u64() & 1 == 1).then(|| rng.next_u64()),
    )
}

/// A changed copy of `sc` (one of the corpus) by one mutation drawn from
/// `rng`: a fault's parameters, trigger or duration redrawn, a fault added
/// or removed, the workload spliced with `other`'s, the driver settings
/// changed, or the stop time moved.
pub fn mutate(sc: &Scenario, other: &Scenario, rng: &mut SplitMix64) -> Scenario {
    let mut m = sc.clone();
    let stop_ms = u64::try_from(m.stop.as_millis()).unwrap_or(1).max(1);
    let nf = m.faults.len() as u64;
    match rng.below(8) {
        0 if nf > 0 => {
            // Redraw one fault's parameters, keeping kind and trigger.
            let i = usize::try_from(rng.below(nf)).unwrap_or(0);
            if let Some(f) = m.faults.get_mut(i) {
                let mut raw = raw_fault(rng);
                raw.0 = FaultKind::ALL
                    .iter()
                    .position(|k| *k == f.kind)
                    .unwrap_or(0);
                f.params = fault_from_raw(&raw, stop_ms).params;
            }
        }
        1 if nf > 0 => {
            // Move one fault's trigger (by time or by command).
            let i = usize::try_from(rng.below(nf)).unwrap_or(0);
            if let Some(f) = m.faults.get_mut(i) {
                let g = fault_from_raw(&raw_fault(rng), stop_ms);
                f.at = g.at;
                f.at_command = g.at_command;
                f.duration = g.duration.filter(|_| !f.kind.is_instant());
            }
        }
        2 if nf > 1 => {
            let i = usize::try_from(rng.below(nf)).unwrap_or(0);
            m.faults.remove(i);
        }
        3 => {
            if m.faults.len() < 6 {
                m.faults.push(fault_from_raw(&raw_fault(rng), stop_ms));
            }
        }
        4 => {
            // Splice: the first half of ours, the second half of theirs.
            let keep = m.requests.len().div_ceil(2);
            m.requests.truncate(keep);
            let skip = other.requests.len() / 2;
            m.requests.extend(other.requests.iter().skip(skip).cloned());
            m.requests.truncate(6);
            if m.requests.is_empty() {
                m.requests.extend(other.requests.iter().cloned());
            }
        }
        5 => {
            m.driver.hz = Hz(HZ
                .get(usize::try_from(rng.below(HZ.len() as u64)).unwrap_or(0))
                .copied()
                .unwrap_or(250));
            m.driver.irq = rng.next_u64() & 1 == 1;
            m.driver.probe = rng.next_u64() & 1 == 1;
        }
        6 => {
            // Splice faults from the other scenario.
            if let Some(f) = other
                .faults
                .get(usize::try_from(rng.below(other.faults.len() as u64)).unwrap_or(0))
            {
                if m.faults.len() < 6 {
                    m.faults.push(f.clone());
                }
            }
        }
        _ => {
            let ms = 2_000 + rng.below(u64::try_from(MAX_STOP.as_millis()).unwrap_or(120_000));
            m.stop = Duration::from_millis(ms);
            if let Some(u) = m.driver.unload_at.as_mut() {
                *u = (*u).min(m.stop);
            }
        }
    }
    m.name = "explore-general".into();
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    #[test]
    fn every_fault_kind_is_drawn_with_valid_parameters() {
        let mut runner = TestRunner::deterministic();
        let strat = strategy(KernelPreset::MAINLINE);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..400 {
            let sc = strat.new_tree(&mut runner).unwrap().current();
            for f in &sc.faults {
                seen.insert(f.kind);
                assert!(f.entry().is_ok(), "{:?} rejected: {:?}", f, f.entry());
            }
            let text = sc.to_toml_string();
            assert!(!text.starts_with('#'), "{text}");
            assert_eq!(Scenario::from_toml_str(&text).unwrap(), sc, "{text}");
        }
        assert_eq!(seen.len(), FaultKind::ALL.len(), "kinds drawn: {seen:?}");
    }

    #[test]
    fn mutants_stay_valid() {
        let mut runner = TestRunner::deterministic();
        let strat = strategy(KernelPreset::MAINLINE);
        let mut rng = SplitMix64::new(7);
        let a = strat.new_tree(&mut runner).unwrap().current();
        let b = strat.new_tree(&mut runner).unwrap().current();
        let mut m = a.clone();
        for _ in 0..200 {
            m = mutate(&m, &b, &mut rng);
            assert!(m.faults.iter().all(|f| f.entry().is_ok()));
            assert!(!m.requests.is_empty());
            assert!(Scenario::from_toml_str(&m.to_toml_string()).is_ok());
        }
        assert_ne!(m, a);
    }
}
