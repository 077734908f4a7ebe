//! `bmcwd scenario explore` in the general space (every core, coverage
//! guidance, `--shard I/N`, `--results FILE`) and `bmcwd scenario merge`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bmc_sim::explore::campaign::{run_campaign, Campaign, CampaignProgress};
use bmc_sim::explore::results::{merge as merge_results, ShardResult};
use bmc_sim::explore::MakeStateMachine;
use bmc_sim::scenario::KernelPreset;

use crate::args::Cli;
use crate::console::{err_raw, note, out};
use crate::exit::{CliError, Outcome};
use bmc_sim::explore::Property;

/// The general-search options of `scenario explore`.
pub(crate) struct GeneralOpts<'a> {
    pub(crate) kernel: KernelPreset,
    pub(crate) property: &'a str,
    pub(crate) cases: u64,
    pub(crate) seed: u64,
    pub(crate) shard: Option<&'a str>,
    pub(crate) threads: usize,
    pub(crate) results: Option<&'a Path>,
    pub(crate) keep_going: bool,
    pub(crate) out: Option<&'a Path>,
    pub(crate) bt_source: Option<&'a Path>,
}

/// A property by name (`all`, `liveness`, …).
pub(crate) fn property_by_name(name: &str) -> Result<Property, CliError> {
    Property::from_name(name).ok_or_else(|| {
        let names: Vec<&str> = Property::ALL.iter().map(|p| p.name()).collect();
        CliError::Usage(format!(
            "--property {name}: unknown; use one of {}",
            names.join(", ")
        ))
    })
}

fn cannot_write(path: &Path, e: &std::io::Error) -> CliError {
    CliError::Internal(format!("cannot write {}: {e}", path.display()))
}

/// `I/N` with `I < N`, `N ≥ 1`.
fn parse_shard(s: &str) -> Result<(u32, u32), CliError> {
    let bad = || {
        CliError::Usage(format!(
            "--shard {s}: expected I/N with 0 <= I < N, e.g. 0/4"
        ))
    };
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let i: u32 = i.trim().parse().map_err(|_| bad())?;
    let n: u32 = n.trim().parse().map_err(|_| bad())?;
    if n == 0 || i >= n {
        return Err(bad());
    }
    Ok((i, n))
}

/// The progress line on a terminal, at most ten times a second.
struct Bar {
    tty: bool,
    last: Option<std::time::Instant>,
}

impl Bar {
    fn draw(&mut self, p: &CampaignProgress) {
        if !self.tty {
            return;
        }
        let now = std::time::Instant::now();
        if self
            .last
            .is_some_and(|l| now.duration_since(l) < Duration::from_millis(100))
        {
            return;
        }
        self.last = Some(now);
        const WIDTH: u64 = 30;
        let filled = (p.done * WIDTH).checked_div(p.total).unwrap_or(WIDTH);
        let bar: String = (0..WIDTH)
            .map(|i| if i < filled { '#' } else { '.' })
            .collect();
        let secs = p.elapsed.as_secs_f64();
        err_raw(&format!(
            "\r\x1b[2K[{bar}] {}/{} cases, {} runs ({:.0}/s), coverage {}, corpus {}, found {}  {secs:.1}s",
            p.done,
            p.total,
            p.runs,
            p.runs as f64 / secs.max(1e-9),
            p.coverage,
            p.corpus,
            p.found
        ));
    }
    fn finish(&self) {
        if self.tty {
            err_raw("\r\x1b[2K");
        }
    }
}

fn write_json(path: &Path, r: &ShardResult) -> Result<(), CliError> {
    let text = serde_json::to_string(r)
        .map_err(|e| CliError::Internal(format!("cannot encode the result: {e}")))?;
    std::fs::write(path, text).map_err(|e| cannot_write(path, &e))
}

fn summary(r: &ShardResult) -> String {
    format!(
        "{} runs ({} fresh, {} mutants, {} stopped by a work limit) in {:.1} s ({:.0} runs/s); \
         coverage {} items, corpus {}",
        r.runs,
        r.fresh,
        r.mutants,
        r.inconclusive,
        r.elapsed_s,
        r.runs as f64 / r.elapsed_s.max(1e-9),
        r.coverage.len(),
        r.corpus.len()
    )
}

/// `scenario explore` in the general space.
pub(crate) fn explore_general(
    cli: &Cli,
    o: &GeneralOpts<'_>,
    make: Option<MakeStateMachine<'_>>,
) -> Result<Outcome, CliError> {
    let property = property_by_name(o.property)?;
    if o.cases == 0 {
        return Err(CliError::Usage("--cases must be at least 1".into()));
    }
    let (shard, of) = o.shard.map(parse_shard).transpose()?.unwrap_or((0, 1));
    let c = Campaign {
        property,
        shard,
        of,
        threads: o.threads,
        keep_going: o.keep_going,
        ..Campaign::new(o.kernel, o.seed, o.cases)
    };
    let mut bar = Bar {
        tty: std::io::stderr().is_terminal(),
        last: None,
    };
    let r = run_campaign(&c, make, &mut |p| bar.draw(p));
    bar.finish();
    if let Some(path) = o.results {
        write_json(path, &r)?;
        note(&format!("shard result written to {}", path.display()));
    }
    note(&summary(&r));
    let c_note = o
        .bt_source
        .map(|p| format!(", BT state machine: C {}", p.display()))
        .unwrap_or_default();
    let what = format!(
        "profile {}{c_note}, space general, property {}, seed {}, shard {shard}/{of}",
        o.kernel.name,
        property.name(),
        o.seed
    );
    if cli.globals.json {
        out(&format!(
            "{}\n",
            serde_json::to_string_pretty(&serde_json::json!({
                "found": !r.found.is_empty(),
                "counterexamples": r.found,
                "runs": r.runs,
                "coverage": r.coverage.len(),
                "corpus": r.corpus.len(),
                "elapsed_s": r.elapsed_s,
            }))
            .unwrap_or_default()
        ));
        return Ok(if r.found.is_empty() {
            Outcome::Success
        } else {
            Outcome::CounterexampleFound
        });
    }
    if r.found.is_empty() {
        out(&format!(
            "No counterexample in {} cases ({what}; {:.1} s).\n",
            r.fresh, r.elapsed_s
        ));
        return Ok(Outcome::Success);
    }
    let replay = o
        .bt_source
        .map(|p| format!(" --bt-source {}", p.display()))
        .unwrap_or_default();
    let mut text = String::new();
    for f in &r.found {
        text.push_str(&format!(
            "# Counterexample ({what}; found at case {}{} after {} runs)\n# looks like: {}\n# {}\n# Replay: bmcwd scenario run FILE{replay}\n{}\n",
            f.case,
            if f.mutant { " (mutant)" } else { "" },
            f.runs_to_find,
            f.bug,
            f.violation,
            f.scenario
        ));
    }
    match o.out {
        Some(p) => {
            if let Err(e) = std::fs::write(p, &text) {
                out(&text);
                return Err(cannot_write(p, &e));
            }
            note(&format!("counterexample written to {}", p.display()));
        }
        None => out(&text),
    }
    for f in &r.found {
        note(&format!("{}: {}", f.bug, f.violation));
    }
    Ok(Outcome::CounterexampleFound)
}

/// `scenario merge FILES…`.
pub(crate) fn merge(
    cli: &Cli,
    files: &[PathBuf],
    out_file: Option<&Path>,
) -> Result<Outcome, CliError> {
    let _ = cli;
    let mut parts = Vec::with_capacity(files.len());
    for f in files {
        let text = std::fs::read_to_string(f)
            .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", f.display())))?;
        let r: ShardResult = serde_json::from_str(&text)
            .map_err(|e| CliError::Usage(format!("{}: not a shard result: {e}", f.display())))?;
        parts.push(r);
    }
    let m = merge_results(&parts).map_err(CliError::Usage)?;
    let missing: Vec<String> = (0..m.of)
        .filter(|s| !m.shards.contains(s))
        .map(|s| s.to_string())
        .collect();
    if !missing.is_empty() {
        note(&format!(
            "shards missing from the merge: {} of {}",
            missing.join(", "),
            m.of
        ));
    }
    note(&summary(&m));
    for f in &m.found {
        note(&format!("{} (case {}): {}", f.bug, f.case, f.violation));
    }
    match out_file {
        Some(p) => write_json(p, &m)?,
        None => out(&format!(
            "{}\n",
            serde_json::to_string_pretty(&m).unwrap_or_default()
        )),
    }
    Ok(if m.found.is_empty() {
        Outcome::Success
    } else {
        Outcome::CounterexampleFound
    })
}
