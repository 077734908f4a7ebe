//! The simulation subcommands (`scenario run`, `scenario explore`,
//! `sim serve`, `bt diff`) and the embedded BMC behind `--sim`.

use std::path::Path;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bmc_sim::vmproto::VmSimBmc;
use bmc_sim::vmproto::{watch_fault_file, VmServer};
use bmc_sim::vmproto::{ServerOptions, VmLogFn};
use bmc_sim::BmcConfig;
use bmc_sim::BmcPort;
use bmc_sim::SimBmc;

use std::io::IsTerminal;

use bmc_sim::explore::{
    search_with_progress, search_with_state_machine, ExploreConfig, Progress, Space,
};
use bmc_sim::scenario::{EventKind, Trace};
use bmc_sim::scenario::{KernelPreset, Scenario};
use bmc_sim::Instant;
use bmc_sim::Origin;
use ipmi_bt_sm::{HostStateMachine, KernelProfile};
use ipmi_kernel_c::{BuildOptions, CLibrary};
use serde_json::{json, Value};

use crate::args::{
    BmcPreset, BtCommand, Cli, ScenarioCommand, ServeArgs, SimCommand, WatchdogProfile,
};
use crate::console::{err_raw, note, out};
use crate::exit::{CliError, Outcome};

fn sim_note(text: &str) {
    err_raw(&format!("bmcwd sim: {text}\n"));
}

/// The BMC configuration for a preset and an optional watchdog profile.
pub fn bmc_config(preset: BmcPreset, profile: Option<WatchdogProfile>) -> BmcConfig {
    let mut cfg = match preset {
        BmcPreset::Default => BmcConfig::default(),
        BmcPreset::Qemu => BmcConfig::qemu(),
        BmcPreset::Openbmc => BmcConfig::openbmc(),
    };
    if let Some(p) = profile {
        cfg.watchdog_profile = p.into();
    }
    cfg
}

/// `bmcwd scenario …`
pub fn scenario(cli: &Cli, s: &ScenarioCommand) -> Result<Outcome, CliError> {
    match s {
        ScenarioCommand::Run {
            file,
            svg,
            bt_source,
        } => {
            scenario_run(cli, file, svg.as_deref(), bt_source.as_deref()).map(|()| Outcome::Success)
        }
        ScenarioCommand::Explore {
            profile,
            space,
            bug,
            property,
            cases,
            seed,
            out,
            bt_source,
            shard,
            threads,
            results,
            keep_going,
        } => {
            let sp = match bug {
                Some(b) => space_for_bug(Some(b))?,
                None => space_by_name(space)?,
            };
            if sp == Space::General {
                let kernel = preset(profile)?;
                let lib = bt_source.as_deref().map(load_c).transpose()?;
                let make = |sc: &Scenario| -> Box<dyn HostStateMachine> {
                    let Some(lib) = &lib else {
                        return Box::new(ipmi_bt_sm::BtSm::with_behaviour(
                            sc.driver_choice().behaviour,
                        ));
                    };
                    match c_machine(lib, sc) {
                        Ok(m) => m,
                        Err(e) => {
                            crate::console::err_raw(&format!("bmcwd: {e}\n"));
                            std::process::exit(i32::from(crate::exit::INTERNAL));
                        }
                    }
                };
                let opts = crate::searchcmd::GeneralOpts {
                    kernel,
                    property: property.as_deref().unwrap_or("all"),
                    cases: *cases,
                    seed: *seed,
                    shard: shard.as_deref(),
                    threads: *threads,
                    results: results.as_deref(),
                    keep_going: *keep_going,
                    out: out.as_deref(),
                    bt_source: bt_source.as_deref(),
                };
                let make: Option<bmc_sim::explore::MakeStateMachine<'_>> =
                    bt_source.as_ref().map(|_| &make as _);
                return crate::searchcmd::explore_general(cli, &opts, make);
            }
            if shard.is_some() || results.is_some() || *keep_going {
                return Err(CliError::Usage(format!(
                    "--shard, --results and --keep-going apply to the general space, not to {}",
                    sp.name()
                )));
            }
            let cases = u32::try_from(*cases).map_err(|_| {
                CliError::Usage(format!(
                    "--cases {cases}: at most {} for this space",
                    u32::MAX
                ))
            })?;
            scenario_explore(
                cli,
                profile,
                sp,
                property.as_deref().unwrap_or("liveness"),
                cases,
                *seed,
                out.as_deref(),
                bt_source.as_deref(),
            )
        }
        ScenarioCommand::Merge { files, out } => {
            crate::searchcmd::merge(cli, files, out.as_deref())
        }
    }
}

/// Builds (or takes from the cache) and loads a `--bt-source` file; any
/// failure — unreadable, does not compile, lacks `bt_smi_handlers` or one of
/// its functions — is exit 1 with the reason.
pub(crate) fn load_c(path: &Path) -> Result<Arc<CLibrary>, CliError> {
    let lib = CLibrary::open(path, &BuildOptions::default())
        .map_err(|e| CliError::Internal(format!("--bt-source {}: {e}", path.display())))?;
    let b = lib.built();
    note(&format!(
        "BT state machine: C {} ({:?} shape, {}; {})",
        path.display(),
        b.shape,
        if b.dev_style {
            "dev_* log texts"
        } else {
            "printk log texts"
        },
        if b.cached {
            "from the build cache"
        } else {
            "compiled"
        }
    ));
    Ok(lib)
}

/// A fresh C machine for a scenario (its kernel gives the printk era).
pub(crate) fn c_machine(
    lib: &Arc<CLibrary>,
    sc: &Scenario,
) -> Result<Box<dyn HostStateMachine>, CliError> {
    lib.machine(sc.driver_choice().behaviour)
        .map(|m| Box::new(m) as Box<dyn HostStateMachine>)
        .map_err(|e| CliError::Internal(e.to_string()))
}

/// `bmcwd bt …`
pub fn bt(cli: &Cli, b: &BtCommand) -> Result<Outcome, CliError> {
    let BtCommand::Diff {
        bt_source,
        profile,
        cases,
        seed,
    } = b;
    let p = KernelProfile::from_name(profile).ok_or_else(|| {
        let names: Vec<&str> = KernelProfile::ALL.iter().map(|p| p.name()).collect();
        CliError::Usage(format!(
            "--profile {profile}: unknown bt-sm profile; use one of {}",
            names.join(", ")
        ))
    })?;
    if *cases == 0 {
        return Err(CliError::Usage("--cases must be at least 1".into()));
    }
    let lib = load_c(bt_source)?;
    let outcome = ipmi_kernel_c::diff::run(
        &|| ipmi_kernel_c::diff::model(p),
        &|| {
            lib.machine(p.behaviour())
                .ok()
                .map(|m| Box::new(m) as Box<dyn HostStateMachine>)
        },
        *cases,
        *seed,
    );
    let src = bt_source.display().to_string();
    match &outcome.divergence {
        None => {
            if cli.globals.json {
                out(&format!(
                    "{}\n",
                    json!({"divergence": false, "cases": cases, "seed": seed,
                           "elapsed_s": outcome.elapsed.as_secs_f64()})
                ));
            } else {
                out(&format!(
                    "bt diff: {src} vs bt-sm {profile}: no divergence in {cases} random schedules (seed {seed}, {:.1} s)\n",
                    outcome.elapsed.as_secs_f64()
                ));
            }
            Ok(Outcome::Success)
        }
        Some((case, d)) => {
            let test = ipmi_kernel_c::diff::reproducer(case, &src, profile);
            if cli.globals.json {
                out(&format!(
                    "{}\n",
                    json!({"divergence": true, "step": d.step, "model": d.model, "c": d.c,
                           "cases_run": outcome.cases_run, "seed": seed, "test": test})
                ));
            } else {
                out(&format!(
                    "bt diff: {src} diverges from bt-sm {profile} (seed {seed}, {} schedules run with shrinking, {:.1} s)\nminimal case, {}\n\n# Reproduce: bmcwd bt diff --bt-source {src} --profile {profile} --cases {cases} --seed {seed}\n# or as a test:\n{test}",
                    outcome.cases_run,
                    outcome.elapsed.as_secs_f64(),
                    d
                ));
            }
            Ok(Outcome::DivergenceFound)
        }
    }
}

/// The largest scenario file we read: real ones are a few KiB. The cap keeps
/// `scenario run /dev/zero` (or an endless pipe) from reading forever.
pub const MAX_SCENARIO_BYTES: u64 = 1 << 20;

/// Reads and parses a scenario file, at most [`MAX_SCENARIO_BYTES`] long.
pub fn load_scenario(file: &Path) -> Result<Scenario, CliError> {
    use std::io::Read;
    let cannot = |e: &dyn std::fmt::Display| {
        CliError::Input(format!(
            "{}: cannot read scenario file: {e}",
            file.display()
        ))
    };
    let mut raw = Vec::new();
    std::fs::File::open(file)
        .and_then(|f| f.take(MAX_SCENARIO_BYTES + 1).read_to_end(&mut raw))
        .map_err(|e| cannot(&e))?;
    if raw.len() as u64 > MAX_SCENARIO_BYTES {
        return Err(cannot(&format_args!(
            "longer than {} KiB: is this a scenario (TOML) file?",
            MAX_SCENARIO_BYTES / 1024
        )));
    }
    let src = String::from_utf8(raw)
        .map_err(|_| cannot(&"not UTF-8 text: is this a scenario (TOML) file?"))?;
    Scenario::from_toml_str(&src).map_err(|mut e| {
        e.path = Some(file.to_path_buf());
        CliError::Input(e.to_string())
    })
}

/// A result file (`--svg`, `--out`) could not be written: exit code 1
/// ("output/file I/O failed"), not 2 — the input was fine.
pub(crate) fn cannot_write(path: &Path, e: &std::io::Error) -> CliError {
    CliError::Internal(format!("cannot write {}: {e}", path.display()))
}

fn scenario_run(
    cli: &Cli,
    file: &Path,
    svg: Option<&Path>,
    bt_source: Option<&Path>,
) -> Result<(), CliError> {
    let sc = load_scenario(file)?;
    let trace = match bt_source {
        None => bmc_sim::scenario::run(&sc),
        Some(src) => {
            let lib = load_c(src)?;
            let mut t = bmc_sim::run_with_state_machine(&sc, c_machine(&lib, &sc)?);
            t.driver = format!("{}; BT state machine: C {}", t.driver, src.display());
            t
        }
    };
    // Print the trace first: a bad --svg path must not lose it.
    print_trace(cli, file, &trace);
    if let Some(path) = svg {
        write_svg(&trace, path)?;
    }
    stopped_early(file, &trace)
}

/// A run that hit one of the runner's work or memory limits (`RunLimits`) did
/// not simulate what the file asked for: say so, after the partial trace has
/// been printed (and drawn), and exit 2 — the file asks for too much.
fn stopped_early(file: &Path, trace: &Trace) -> Result<(), CliError> {
    match &trace.truncated {
        // A zero-time livelock is the modelled kernel hanging, not a file
        // that asks for too much: no advice to shorten it.
        Some(why) if why.starts_with("zero-time livelock") => Err(CliError::Input(format!(
            "{}: the run stopped early at {}: {why}. The trace above is complete up to \
             that point",
            file.display(),
            trace.end
        ))),
        Some(why) => Err(CliError::Input(format!(
            "{}: the run stopped early at {}: {why}. The trace above is complete up to \
             that point; shorten `stop`, thin the workload or turn off `[trace] registers`",
            file.display(),
            trace.end
        ))),
        None => Ok(()),
    }
}

/// Prints the trace as it renders, through one buffered stdout: a run near
/// the `RunLimits` record limit renders to tens of MB, which are streamed,
/// never built whole (issue #14). A closed pipe ends the printing quietly.
fn print_trace(cli: &Cli, file: &Path, trace: &Trace) {
    use std::fmt::Write as _;
    use std::io::Write as _;
    let mut w = std::io::BufWriter::new(std::io::stdout().lock());
    if cli.globals.json {
        if serde_json::to_writer_pretty(&mut w, &TraceJson(trace)).is_ok() {
            let _ = w.write_all(b"\n");
        }
    } else {
        let mut f = FmtIo {
            w: &mut w,
            failed: false,
        };
        let _ = write!(
            f,
            "# scenario: {} ({})\n# driver: {}\n\n## kernel log\n",
            trace.name,
            file.display(),
            trace.driver
        );
        let _ = trace.write_log(&mut f);
        let _ = f.write_str("\n## timeline\n");
        trace.write_timeline(&mut f);
    }
    let _ = w.flush();
}

/// `fmt::Write` onto an `io::Write`: the first I/O error (a closed pipe) is
/// kept and every later write fails at once, so rendering stops costing.
struct FmtIo<W> {
    w: W,
    failed: bool,
}

impl<W: std::io::Write> std::fmt::Write for FmtIo<W> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        if self.failed {
            return Err(std::fmt::Error);
        }
        self.w.write_all(s.as_bytes()).map_err(|_| {
            self.failed = true;
            std::fmt::Error
        })
    }
}

fn write_svg(trace: &Trace, path: &Path) -> Result<(), CliError> {
    let svg = render_svg(trace)?;
    std::fs::write(path, svg).map_err(|e| cannot_write(path, &e))
}

fn render_svg(trace: &Trace) -> Result<String, CliError> {
    Ok(bmc_sim::scenario::render_svg(trace))
}

fn origin_json(o: &Origin) -> Value {
    match o {
        Origin::Workload { entry, copy } => {
            json!({"kind": "workload", "entry": entry, "copy": copy})
        }
        Origin::Probe { attempt } => json!({"kind": "probe", "attempt": attempt}),
        Origin::Handler => json!({"kind": "handler"}),
        Origin::Internal => json!({"kind": "internal"}),
        Origin::Daemon => json!({"kind": "daemon"}),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn secs(t: Instant) -> f64 {
    t.since_start().as_secs_f64()
}

/// The trace as JSON: log lines, events, completions, pending messages and
/// counters, with times in seconds of virtual time ([`TraceJson`] as a
/// value).
#[cfg(test)]
pub fn trace_json(trace: &Trace) -> Value {
    serde_json::to_value(TraceJson(trace)).unwrap_or(Value::Null)
}

/// The trace as JSON, serialised record by record: `scenario run --json`
/// writes it straight to stdout, so a long run never exists as one JSON
/// tree in memory (issue #14). The keys come in the sorted order of
/// serde_json's map, so the bytes equal `to_string_pretty(&trace_json(..))`.
pub struct TraceJson<'a>(pub &'a Trace);

/// A JSON array produced from an iterator while it is serialised.
struct Seq<I>(std::cell::Cell<Option<I>>);

impl<I: Iterator<Item = Value>> serde::Serialize for Seq<I> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0.take() {
            Some(items) => s.collect_seq(items),
            None => s.collect_seq(std::iter::empty::<Value>()),
        }
    }
}

fn seq<I: Iterator<Item = Value>>(items: I) -> Seq<I> {
    Seq(std::cell::Cell::new(Some(items)))
}

impl serde::Serialize for TraceJson<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let trace = self.0;
        let event = |e: &bmc_sim::Event| {
            let (kind, detail) = match &e.kind {
                EventKind::State { from, to } => (
                    "state",
                    // The kernel's STATE2TXT names, as in the log and timeline.
                    json!({"from": from.text(), "to": to.text()}),
                ),
                EventKind::Submit { id } => ("submit", json!({"id": id})),
                EventKind::Complete { index } => (
                    "complete",
                    json!({"id": trace.completions.get(*index).map(|c| c.id)}),
                ),
                EventKind::FaultOn(f) => ("fault-on", json!(f.to_string())),
                EventKind::FaultOff(k) => ("fault-off", json!(k.name())),
                EventKind::Bmc(b) => ("bmc", json!(format!("{b:?}"))),
                EventKind::Phase(p) => ("phase", json!(p.to_string())),
                EventKind::Irq => ("irq", Value::Null),
                EventKind::Daemon(s) => ("daemon", json!(s)),
            };
            json!({"t": secs(e.t), "kind": kind, "detail": detail})
        };
        // Keys in sorted order, as serde_json's map keeps them.
        let mut m = s.serialize_map(None)?;
        m.serialize_entry(
            "completions",
            &seq(trace.completions.iter().map(|c| {
                json!({
                    "id": c.id,
                    "origin": origin_json(&c.origin),
                    "netfn": c.netfn(),
                    "cmd": c.cmd(),
                    "command": bmc_sim::scenario::command_name(c.netfn(), c.cmd()),
                    "request": hex(&c.request),
                    "response": hex(&c.response),
                    "cc": c.cc.0,
                    "cc_name": c.cc.describe_for(c.netfn(), c.cmd()),
                    "synthesized": c.synthesized,
                    "submitted_s": secs(c.submitted),
                    "started_s": secs(c.started),
                    "completed_s": secs(c.completed),
                    "latency_s": c.latency().as_secs_f64(),
                })
            })),
        )?;
        if let Some(d) = &trace.daemon {
            m.serialize_entry(
                "daemon",
                &json!({
                    "kind": d.kind,
                    "timeout_s": d.timeout.as_secs_f64(),
                    "reloads_s": d.reloads.iter().map(|t| secs(*t)).collect::<Vec<_>>(),
                    "host_reset_s": d.host_reset.map(secs),
                }),
            )?;
        }
        m.serialize_entry("driver", &trace.driver)?;
        m.serialize_entry("end_s", &secs(trace.end))?;
        m.serialize_entry("events", &seq(trace.events.iter().map(event)))?;
        m.serialize_entry(
            "log",
            &seq(trace
                .log
                .iter()
                .map(|l| json!({"t": secs(l.t), "level": l.level.name(), "text": l.text}))),
        )?;
        m.serialize_entry("name", &trace.name)?;
        m.serialize_entry(
            "pending",
            &seq(trace.pending.iter().map(|p| {
                json!({
                    "id": p.id,
                    "origin": origin_json(&p.origin),
                    "request": hex(&p.request),
                    "submitted_s": secs(p.submitted),
                    "started_s": p.started.map(secs),
                })
            })),
        )?;
        m.serialize_entry("registered", &trace.registered)?;
        m.serialize_entry(
            "stats",
            &json!({
                "sm_events": trace.stats.sm_events,
                "timer_fires": trace.stats.timer_fires,
                "irqs": trace.stats.irqs,
                "reg_accesses": trace.stats.reg_accesses,
                "skipped_polls": trace.stats.skipped_polls,
                "steps": trace.stats.steps,
            }),
        )?;
        m.serialize_entry("truncated", &trace.truncated)?;
        m.end()
    }
}

/// Historical bug names (kernel-bt.md §12) → the fault space shaped after it.
pub fn space_for_bug(bug: Option<&str>) -> Result<Space, CliError> {
    let Some(b) = bug else {
        return Ok(Space::Mixed);
    };
    let space = match b.to_ascii_lowercase().replace('_', "-").as_str() {
        "b4" | "b-4" => Some(Space::SilenceAtCommand),
        "b6" | "b-6" => Some(Space::CapsWindow),
        "b3" | "b-3" => Some(Space::DeadAtProbe),
        "b8" | "b-8" => Some(Space::StuckB2h),
        other => Space::from_name(other),
    };
    space.ok_or_else(|| {
        CliError::Usage(format!(
            "--bug {b}: unknown; use b3 (dead BMC at probe), b4 (silence at a command), \
             b6 (request during the capabilities fetch), b8 (stuck B2H_ATN), or a space name: \
             silence-at-command, caps-window, dead-at-probe, stuck-b2h, mixed"
        ))
    })
}

/// A search space by name (`general`, `silence-at-command`, …).
pub fn space_by_name(name: &str) -> Result<Space, CliError> {
    Space::from_name(name).ok_or_else(|| {
        let names: Vec<&str> = Space::ALL.iter().map(|s| s.name()).collect();
        CliError::Usage(format!(
            "--space {name}: unknown; use one of {}",
            names.join(", ")
        ))
    })
}

/// Kernel preset by its scenario-file name (`v3.13`, `mainline`, …).
pub fn preset(name: &str) -> Result<KernelPreset, CliError> {
    KernelPreset::from_name(name).ok_or_else(|| {
        CliError::Usage(format!(
            "--profile {name}: unknown kernel preset; use one of {}",
            KernelPreset::NAMES.join(", ")
        ))
    })
}

/// Draws a one-line progress bar on stderr (only when it is a terminal),
/// at most ten times a second.
struct ProgressBar {
    total: u64,
    tty: bool,
    last: Option<std::time::Instant>,
}

impl ProgressBar {
    fn draw(&mut self, p: &Progress) {
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
        let line = if p.shrinking {
            format!("shrinking the counterexample… {} runs", p.runs)
        } else {
            let done = p.runs.min(self.total);
            let filled = (done * WIDTH).checked_div(self.total).unwrap_or(WIDTH);
            let bar: String = (0..WIDTH)
                .map(|i| if i < filled { '#' } else { '.' })
                .collect();
            format!("[{bar}] {done}/{} cases", self.total)
        };
        err_raw(&format!("\r\x1b[2K{line}  {:.1}s", p.elapsed.as_secs_f64()));
    }

    fn finish(&self) {
        if self.tty {
            err_raw("\r\x1b[2K");
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn scenario_explore(
    cli: &Cli,
    profile: &str,
    space: Space,
    property: &str,
    cases: u32,
    seed: u64,
    out_file: Option<&Path>,
    bt_source: Option<&Path>,
) -> Result<Outcome, CliError> {
    let kernel = preset(profile)?;
    let property = crate::searchcmd::property_by_name(property)?;
    if cases == 0 {
        return Err(CliError::Usage("--cases must be at least 1".into()));
    }
    let cfg = ExploreConfig {
        space,
        cases,
        seed,
        ..ExploreConfig::default()
    };
    let mut bar = ProgressBar {
        total: u64::from(cases),
        tty: std::io::stderr().is_terminal(),
        last: None,
    };
    let outcome = match bt_source {
        None => search_with_progress(kernel, property, &cfg, &mut |p| bar.draw(p)),
        Some(src) => {
            let lib = load_c(src)?;
            // A machine for every searched scenario; only an allocation
            // failure can refuse one, and then nothing can go on.
            let make = |sc: &Scenario| -> Box<dyn HostStateMachine> {
                match c_machine(&lib, sc) {
                    Ok(m) => m,
                    Err(e) => {
                        crate::console::err_raw(&format!("bmcwd: {e}\n"));
                        std::process::exit(i32::from(crate::exit::INTERNAL));
                    }
                }
            };
            search_with_state_machine(kernel, property, &cfg, &make, &mut |p| bar.draw(p))
        }
    };
    bar.finish();
    let c_note = bt_source
        .map(|p| format!(", BT state machine: C {}", p.display()))
        .unwrap_or_default();
    let what = format!(
        "profile {profile}{c_note}, space {}, property {}, seed {seed}",
        space.name(),
        property.name()
    );
    match (&outcome.counterexample, &outcome.violation) {
        (Some(sc), violation) => {
            let found = outcome
                .runs_to_first_failure
                .map(|n| format!("found after {n} cases"))
                .unwrap_or_default();
            let v = violation
                .as_ref()
                .map(|v| v.to_string())
                .unwrap_or_else(|| "property violated".into());
            if cli.globals.json {
                out(&format!(
                    "{}\n",
                    serde_json::to_string_pretty(&json!({
                        "found": true,
                        "violation": v,
                        "runs_to_first_failure": outcome.runs_to_first_failure,
                        "cases_tried": outcome.cases_tried,
                        "elapsed_s": outcome.elapsed.as_secs_f64(),
                        "scenario": sc.to_toml_string(),
                    }))
                    .unwrap_or_default()
                ));
            } else {
                let text = format!(
                    "# Counterexample ({what}; {found}, {} runs with shrinking, {:.1} s)\n# {v}\n# Replay: bmcwd scenario run FILE{}\n{}",
                    outcome.cases_tried,
                    outcome.elapsed.as_secs_f64(),
                    bt_source
                        .map(|p| format!(" --bt-source {}", p.display()))
                        .unwrap_or_default(),
                    sc.to_toml_string()
                );
                match out_file {
                    Some(p) => {
                        if let Err(e) = std::fs::write(p, &text) {
                            // Never lose a found counterexample to a bad --out.
                            out(&text);
                            return Err(cannot_write(p, &e));
                        }
                        note(&format!("counterexample written to {}", p.display()));
                    }
                    None => out(&text),
                }
            }
            note(&v);
            Ok(Outcome::CounterexampleFound)
        }
        (None, _) => {
            if cli.globals.json {
                out(&format!(
                    "{}\n",
                    serde_json::to_string_pretty(&json!({
                        "found": false,
                        "cases_tried": outcome.cases_tried,
                        "elapsed_s": outcome.elapsed.as_secs_f64(),
                    }))
                    .unwrap_or_default()
                ));
            } else {
                out(&format!(
                    "No counterexample in {} cases ({what}; {:.1} s).\n",
                    outcome.cases_tried,
                    outcome.elapsed.as_secs_f64()
                ));
            }
            Ok(Outcome::Success)
        }
    }
}

/// `bmcwd sim …`
pub fn sim(cli: &Cli, s: &SimCommand) -> Result<(), CliError> {
    match s {
        SimCommand::Serve(a) => serve(
            cli.globals.target.socket.as_deref(),
            a,
            VmSimBmc::new(SimBmc::new(bmc_config(a.bmc, a.watchdog_profile))),
        ),
    }
}

/// Serves `bmc` on a Unix socket (any number of concurrent clients, one
/// shared BMC and clock) and/or to QEMU over TCP, until SIGTERM/SIGINT; then
/// removes the socket file.
pub fn serve<B: BmcPort + 'static>(
    socket: Option<&Path>,
    a: &ServeArgs,
    bmc: B,
) -> Result<(), CliError> {
    if socket.is_none() && a.vm_listen.is_none() && a.vm_connect.is_none() {
        return Err(CliError::Usage(
            "sim serve needs somewhere to serve: --socket PATH (for bmcwd --socket PATH …), \
             --vm-listen ADDR or --vm-connect ADDR (for QEMU's ipmi-bmc-extern)"
                .into(),
        ));
    }
    for (flag, addr) in [
        ("--vm-listen", &a.vm_listen),
        ("--vm-connect", &a.vm_connect),
    ] {
        if let Some(addr) = addr {
            check_tcp_address(flag, addr)?;
        }
    }
    let log: VmLogFn = Arc::new(|line: &str| err_raw(&format!("bmcwd sim: {line}\n")));
    let opts = ServerOptions {
        log: a.verbose.then(|| log.clone()),
        ..ServerOptions::default()
    };
    let faults = opts.faults.clone();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Internal(format!("cannot start the tokio runtime: {e}")))?;
    // Bind before serving, and remember whether we did: the socket file is
    // removed at exit only if this process created it. A refused path (a
    // regular file, another server's live socket) must be left untouched.
    let listener = match socket {
        Some(path) => {
            let _runtime = rt.enter();
            Some((path, bind_unix(path)?))
        }
        None => None,
    };
    let bound = listener.as_ref().map(|(p, _)| p.to_path_buf());
    let local = tokio::task::LocalSet::new();
    let server = Rc::new(VmServer::new(Arc::new(Mutex::new(bmc)), opts));
    let result = local.block_on(&rt, async {
        use tokio::signal::unix::{signal, SignalKind};
        let sig_err =
            |e: std::io::Error| CliError::Internal(format!("cannot install signal handlers: {e}"));
        let mut term = signal(SignalKind::terminate()).map_err(sig_err)?;
        let mut int = signal(SignalKind::interrupt()).map_err(sig_err)?;
        if let Some(path) = &a.fault_file {
            tokio::task::spawn_local(watch_fault_file(path.clone(), faults, Some(log.clone())));
        }
        let mut tasks = tokio::task::JoinSet::new();
        if let Some((path, listener)) = listener {
            sim_note(&format!(
                "serving the simulated BMC on unix socket {}",
                path.display()
            ));
            let srv = server.clone();
            tasks.spawn_local(async move {
                loop {
                    let (stream, _) = listener.accept().await?;
                    let srv = srv.clone();
                    // bmcwd clients, not QEMU (which uses --vm-listen /
                    // --vm-connect): no control gap.
                    tokio::task::spawn_local(async move {
                        let _ = srv.serve_client_stream(stream).await;
                    });
                }
            });
        }
        if let Some(addr) = a.vm_listen.clone() {
            sim_note(&format!("listening for QEMU ipmi-bmc-extern on tcp {addr}"));
            let srv = server.clone();
            tasks.spawn_local(async move { srv.listen_tcp(&addr).await });
        }
        if let Some(addr) = a.vm_connect.clone() {
            sim_note(&format!("connecting to QEMU ipmi-bmc-extern at tcp {addr}"));
            let srv = server.clone();
            tasks.spawn_local(async move { srv.connect_tcp(&addr, Duration::from_secs(1)).await });
        }
        tokio::select! {
            _ = term.recv() => sim_note("SIGTERM, shutting down"),
            _ = int.recv() => sim_note("SIGINT, shutting down"),
            Some(r) = tasks.join_next() => {
                let e = match r {
                    Ok(Ok(())) => "server ended".to_string(),
                    Ok(Err(e)) => e.to_string(),
                    Err(e) => e.to_string(),
                };
                return Err(CliError::Internal(format!("sim serve: {e}")));
            }
        }
        Ok(())
    });
    if let Some(p) = bound {
        let _ = std::fs::remove_file(p);
    }
    result
}

/// Checks a `--vm-listen`/`--vm-connect` value before serving: it must be
/// `HOST:PORT` that resolves (e.g. `127.0.0.1:9002`, `localhost:9002`).
pub fn check_tcp_address(flag: &str, addr: &str) -> Result<(), CliError> {
    use std::net::ToSocketAddrs;
    match addr.to_socket_addrs().map(|mut it| it.next()) {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(CliError::Usage(format!(
            "{flag} {addr}: the name resolves to no address: give HOST:PORT, e.g. 127.0.0.1:9002"
        ))),
        Err(e) => Err(CliError::Usage(format!(
            "{flag} {addr}: not a TCP address ({e}): give HOST:PORT, e.g. 127.0.0.1:9002"
        ))),
    }
}

/// Binds a Unix listener, replacing a stale socket file (never another file).
fn bind_unix(path: &Path) -> Result<tokio::net::UnixListener, CliError> {
    use std::os::unix::fs::FileTypeExt;
    if let Ok(m) = std::fs::symlink_metadata(path) {
        if !m.file_type().is_socket() {
            return Err(CliError::Usage(format!(
                "{} exists and is not a socket: choose another --socket path",
                path.display()
            )));
        }
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(CliError::Usage(format!(
                "{} is in use by a running server: stop it or choose another --socket path",
                path.display()
            )));
        }
        let _ = std::fs::remove_file(path);
    }
    tokio::net::UnixListener::bind(path)
        .map_err(|e| CliError::Input(format!("cannot listen on {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TINY: &str = r#"
name = "tiny"
stop = "2s"
[[request]]
at = "1s"
netfn = 0x06
cmd = 0x01
"#;

    /// The streamed JSON is byte for byte the pretty-printed tree (whose map
    /// sorts its keys: a key out of order fails here), and the streamed
    /// text is the rendered log and timeline.
    #[test]
    fn streamed_output_equals_the_rendered_one() {
        let sc = Scenario::from_toml_str(TINY).unwrap();
        let trace = bmc_sim::scenario::run(&sc);
        assert!(!trace.events.is_empty() && !trace.completions.is_empty());
        let streamed = serde_json::to_string_pretty(&TraceJson(&trace)).unwrap();
        let tree = serde_json::to_string_pretty(&trace_json(&trace)).unwrap();
        assert_eq!(streamed, tree);
        let mut text = FmtIo {
            w: Vec::new(),
            failed: false,
        };
        let _ = trace.write_log(&mut text);
        trace.write_timeline(&mut text);
        assert_eq!(
            String::from_utf8(text.w).unwrap(),
            trace.render_log() + &trace.render_timeline()
        );
    }

    #[test]
    fn a_truncated_run_is_an_input_error_naming_file_time_and_reason() {
        let sc = Scenario::from_toml_str(TINY).unwrap();
        let mut trace = bmc_sim::scenario::run(&sc);
        let file = Path::new("flood.toml");
        assert!(stopped_early(file, &trace).is_ok());
        assert_eq!(trace_json(&trace)["truncated"], Value::Null);

        trace.truncated = Some("more than 2000000 records".to_string());
        let err = stopped_early(file, &trace).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, CliError::Input(_)), "{err:?}");
        assert!(
            text.starts_with("flood.toml: the run stopped early at "),
            "{text}"
        );
        assert!(text.contains("more than 2000000 records"), "{text}");
        assert!(text.contains("shorten `stop`"), "{text}");
        assert_eq!(
            trace_json(&trace)["truncated"],
            Value::String("more than 2000000 records".to_string())
        );
    }
}
