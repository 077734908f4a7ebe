//! Shared helpers for the workspace-level integration and property tests in `tests/tests/`.

#![deny(missing_docs)]

use std::path::PathBuf;

use bmc_sim::scenario::Scenario;
use bmc_sim::scenario::{KernelLine, Trace};

/// Path of a scenario shipped in `sim/scenarios/`.
pub fn scenario_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../sim/scenarios")
        .join(format!("{name}.toml"))
}

/// Load a shipped scenario (panics with the loader's message: tests only).
pub fn shipped(name: &str) -> Scenario {
    match Scenario::load(scenario_path(name)) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    }
}

/// Every shipped scenario's name.
pub fn shipped_names() -> Vec<String> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../sim/scenarios");
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter_map(|e| e.file_name().into_string().ok())
                .filter_map(|n| n.strip_suffix(".toml").map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Log lines containing `needle`, as (seconds, text).
pub fn lines_with<'a>(trace: &'a Trace, needle: &str) -> Vec<(f64, &'a KernelLine)> {
    trace
        .log
        .iter()
        .filter(|l| l.text.contains(needle))
        .map(|l| (l.t.since_start().as_secs_f64(), l))
        .collect()
}

/// Assert `t` lies in `[lo, hi]` seconds.
pub fn assert_between(what: &str, t: f64, lo: f64, hi: f64) {
    assert!(
        (lo..=hi).contains(&t),
        "{what}: at {t:.6}s, expected between {lo}s and {hi}s"
    );
}
