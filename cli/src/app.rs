//! What each subcommand does: validate the arguments, pick a transport, run
//! the commands, print text or JSON.

use std::path::{Path, PathBuf};

use ipmi_watchdog::{
    Countdown, ExpirationFlags, PreTimeoutInterrupt, SetWatchdog, TimerAction, TimerUse,
};
use serde_json::json;

use bmcwd::daemon::{self, DaemonConfig};
use bmcwd::output;
use bmcwd::statefile;
use bmcwd::transport::Transport;
use bmcwd::transport::{resolve, Target};
use bmcwd::Deciseconds;
use bmcwd::DeviceTransport;
use bmcwd::VmSocketTransport;
use bmcwd::{stop_request, Client};

use crate::args::{Cli, Command, DaemonArgs, ResetArgs, SetArgs, StartArgs, StartCommandArgs};
use crate::console::{note, out, out_json};
use crate::exit::{CliError, Outcome};
use crate::logging::DaemonLog;

/// Runs the parsed command line. A successful run may still carry a finding
/// ([`Outcome::CounterexampleFound`]) that the exit code reports.
pub fn run(cli: Cli, matches: &clap::ArgMatches) -> Result<Outcome, CliError> {
    let done = match &cli.command {
        Command::Get => cmd_get(&cli),
        Command::Set(a) => cmd_set(&cli, a),
        Command::Reset(a) => cmd_reset(&cli, *a),
        Command::Start(a) => cmd_start(&cli, a),
        Command::Stop => cmd_stop(&cli),
        Command::Clear => cmd_clear(&cli),
        Command::Daemon(a) => {
            let sub = matches.subcommand_matches("daemon").unwrap_or(matches);
            cmd_daemon(&cli, a, sub)
        }
        // The only subcommand whose success can carry a finding.
        Command::Scenario(s) => return crate::simcmd::scenario(&cli, s),
        Command::Sim(s) => crate::simcmd::sim(&cli, s),
        Command::Bt(b) => return crate::simcmd::bt(&cli, b),
        Command::Completions { shell } => {
            out(&completions(*shell));
            Ok(())
        }
        Command::Man { dir } => write_man_pages(dir),
    };
    done.map(|()| Outcome::Success)
}

/// The completion script for `shell`, as shipped in `dist/completions/`.
pub fn completions(shell: crate::args::Shell) -> String {
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    let mut buf = Vec::new();
    let sh = match shell {
        crate::args::Shell::Bash => clap_complete::Shell::Bash,
        crate::args::Shell::Zsh => clap_complete::Shell::Zsh,
        crate::args::Shell::Fish => clap_complete::Shell::Fish,
    };
    clap_complete::generate(sh, &mut cmd, "bmcwd", &mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

/// The man pages, as shipped in `dist/man/`: `bmcwd.1` and one per
/// subcommand (`bmcwd-daemon.1`, `bmcwd-scenario-run.1`, …), generated from
/// the clap definitions with clap_mangen. Hidden subcommands get none.
pub fn man_pages() -> Result<Vec<(String, Vec<u8>)>, CliError> {
    use clap::CommandFactory;
    fn walk(
        cmd: &clap::Command,
        name: String,
        pages: &mut Vec<(String, Vec<u8>)>,
    ) -> Result<(), CliError> {
        let cmd = cmd.clone();
        let mut buf = Vec::new();
        clap_mangen::Man::new(cmd.clone())
            .title(name.to_uppercase())
            .section("1")
            .source(format!("bmcwd {}", env!("CARGO_PKG_VERSION")))
            .manual("bmcwd manual")
            .render(&mut buf)
            .map_err(|e| CliError::Internal(format!("cannot render {name}.1: {e}")))?;
        pages.push((format!("{name}.1"), buf));
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            walk(sub, format!("{name}-{}", sub.get_name()), pages)?;
        }
        Ok(())
    }
    // No `help` subcommand: it has no page of its own.
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let mut pages = Vec::new();
    walk(&cmd, "bmcwd".into(), &mut pages)?;
    Ok(pages)
}

fn write_man_pages(dir: &Path) -> Result<(), CliError> {
    let io = |e: std::io::Error| CliError::Internal(format!("{}: {e}", dir.display()));
    std::fs::create_dir_all(dir).map_err(io)?;
    for (name, page) in man_pages()? {
        std::fs::write(dir.join(name), page).map_err(io)?;
    }
    Ok(())
}

fn target(cli: &Cli) -> Target {
    let (t, auto) = resolve(
        cli.globals.target.device.as_deref(),
        cli.globals.target.socket.as_deref(),
        cli.globals.target.sim,
        Path::new("/dev"),
    );
    if auto {
        note(
            "no /dev/ipmi* device found: using the embedded simulator (fresh in every \
             invocation; `modprobe ipmi_devintf ipmi_si` for real hardware, \
             `bmcwd sim serve --socket PATH` for a persistent simulator)",
        );
    }
    t
}

/// Opens the transport for `target`.
pub fn open(target: &Target) -> Result<Box<dyn Transport>, CliError> {
    Ok(match target {
        Target::Device(p) => Box::new(DeviceTransport::open(p)?),
        Target::Socket(p) => Box::new(VmSocketTransport::connect(p)?),
        Target::Sim => bmcwd::transport::embedded_simulator(),
    })
}

fn client(cli: &Cli, target: &Target) -> Result<Client<Box<dyn Transport>>, CliError> {
    let wait = cmd_timeout(cli.globals.cmd_timeout)?;
    Ok(Client::new(open(target)?, wait))
}

/// `--cmd-timeout`: how long to wait for each response. Zero would time out
/// every command before the BMC could answer.
pub fn cmd_timeout(d: Deciseconds) -> Result<std::time::Duration, CliError> {
    if d.ds() == 0 {
        return Err(CliError::Usage(
            "--cmd-timeout 0 would give up on every command before the BMC can answer: give at \
             least 100ms (the default is 20s)"
                .into(),
        ));
    }
    Ok(d.as_duration())
}

fn state_path(cli: &Cli, target: &Target) -> Option<PathBuf> {
    cli.globals
        .state_file
        .clone()
        .or_else(|| target.state_key().map(|k| statefile::default_path(&k)))
}

fn save_state(path: Option<&Path>, set: &SetWatchdog) {
    if let Some(p) = path {
        if let Err(e) = statefile::save(p, set) {
            note(&format!(
                "warning: cannot record the Set in {} ({e}); a later `bmcwd reset` cannot \
                 recover from a BMC reset (0x80) — use --state-file",
                p.display()
            ));
        }
    }
}

// ---------------------------------------------------------------- validation

/// The countdown for `--timeout`: 100 ms .. 6553.5 s.
pub fn countdown(flag: &str, d: Deciseconds) -> Result<Countdown, CliError> {
    if d.ds() == 0 {
        return Err(CliError::Usage(format!(
            "{flag} 0 would make the BMC act immediately on the next Reset: give at least 100ms"
        )));
    }
    u16::try_from(d.ds())
        .map(Countdown::from_ticks)
        .map_err(|_| {
            CliError::Usage(format!(
                "{flag} {d} is longer than 6553.5s, the most the watchdog can count \
             (65535 × 100 ms): use a shorter timeout"
            ))
        })
}

/// The pre-timeout interval: whole seconds, 0..=255.
pub fn pretimeout_secs(d: Deciseconds) -> Result<u8, CliError> {
    if d.ds() % 10 != 0 {
        return Err(CliError::Usage(format!(
            "--pretimeout {d}: the pre-timeout interval is in whole seconds (e.g. 10s)"
        )));
    }
    u8::try_from(d.ds() / 10).map_err(|_| {
        CliError::Usage(format!(
            "--pretimeout {d} is longer than 255s, the most the field holds"
        ))
    })
}

/// The timer-use names `--clear-flags` takes, as `--use` spells them.
const CLEAR_FLAG_NAMES: &str = "bios-frb2,bios-post,os-load,sms-os,oem";

/// `--clear-flags` list: `all` or comma-separated timer uses.
pub fn clear_flags(list: &str) -> Result<ExpirationFlags, CliError> {
    let mut flags = ExpirationFlags::empty();
    for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if item.eq_ignore_ascii_case("all") {
            flags = ExpirationFlags::all();
            continue;
        }
        let u: TimerUse = item.parse().map_err(|_| {
            CliError::Usage(format!(
                "--clear-flags: `{item}` is not a timer use: give a comma-separated list of \
                 {CLEAR_FLAG_NAMES}, or all"
            ))
        })?;
        flags |= u.expiration_flag();
    }
    if flags.is_empty() {
        return Err(CliError::Usage(format!(
            "--clear-flags needs a list of timer uses ({CLEAR_FLAG_NAMES}) or all"
        )));
    }
    Ok(flags)
}

/// Cross-field check: the pre-timeout must come before the timeout.
pub fn check_pretimeout(set: &SetWatchdog) -> Result<(), CliError> {
    if set.pretimeout_secs > 0
        && u32::from(set.pretimeout_secs) * 10 >= u32::from(set.initial_countdown.ticks())
    {
        return Err(CliError::Usage(format!(
            "--pretimeout {}s must be shorter than the timeout ({} s): the pre-timeout fires \
             that long before expiry",
            set.pretimeout_secs,
            output::secs(set.initial_countdown)
        )));
    }
    Ok(())
}

/// A pre-timeout interrupt needs a pre-timeout interval: with 0 the BMC
/// raises it at the expiry instant, together with the action (IPMI v2.0
/// §27.6 byte 3; spec-notes/watchdog.md "Pre-timeout"), so the OS gets no
/// warning before the reset; Linux's ipmi_watchdog sends no interrupt then
/// either (`__ipmi_set_timeout`; watchdog.md).
pub fn check_pretimeout_irq(set: &SetWatchdog) -> Result<(), CliError> {
    if set.pretimeout_secs == 0 && set.pretimeout_irq != PreTimeoutInterrupt::None {
        return Err(CliError::Usage(format!(
            "--pretimeout-irq {} with a pre-timeout interval of 0 s would raise the interrupt \
             at the expiry itself, together with the action, with no warning before it: give \
             --pretimeout (e.g. 10s, shorter than the timeout), or --pretimeout-irq none",
            set.pretimeout_irq.cli_name()
        )));
    }
    Ok(())
}

/// Builds (and validates) the Set for `start` and `daemon`.
pub fn start_request(a: &StartArgs) -> Result<SetWatchdog, CliError> {
    let countdown = countdown("--timeout", a.timeout)?;
    let pre = pretimeout_secs(a.pretimeout)?;
    let irq: PreTimeoutInterrupt = match (a.pretimeout_irq, pre) {
        (Some(i), _) => i.into(),
        (None, 0) => PreTimeoutInterrupt::None,
        (None, _) => {
            return Err(CliError::Usage(
                "--pretimeout needs --pretimeout-irq nmi|smi|msg: what the BMC raises at the \
                 pre-timeout"
                    .into(),
            ))
        }
    };
    let mut set = SetWatchdog::new(a.timer_use.into(), a.action.into(), countdown);
    set.pretimeout_irq = irq;
    set.pretimeout_secs = pre;
    set.dont_log = a.dont_log;
    // Linux ipmi_watchdog.c `__ipmi_set_timeout`: don't-stop while the
    // watchdog is in use (state != none) on IPMI >= 1.5.
    set.dont_stop = true;
    if let Some(l) = &a.clear_flags {
        set.clear_flags = clear_flags(l)?;
    }
    check_pretimeout_irq(&set)?;
    check_pretimeout(&set)?;
    Ok(set)
}

/// Per-field checks of `set` that need no BMC (run before anything is sent).
struct SetFields {
    countdown: Option<Countdown>,
    pretimeout: Option<u8>,
    clear: ExpirationFlags,
}

fn set_fields(a: &SetArgs) -> Result<SetFields, CliError> {
    let f = SetFields {
        countdown: a.timeout.map(|t| countdown("--timeout", t)).transpose()?,
        pretimeout: a.pretimeout.map(pretimeout_secs).transpose()?,
        clear: match &a.clear_flags {
            Some(l) => clear_flags(l)?,
            None => ExpirationFlags::empty(),
        },
    };
    if let (Some(c), Some(p)) = (f.countdown, f.pretimeout) {
        let mut probe = SetWatchdog::new(TimerUse::SmsOs, TimerAction::None, c);
        probe.pretimeout_secs = p;
        check_pretimeout(&probe)?;
    }
    if let (Some(p), Some(irq)) = (f.pretimeout, a.pretimeout_irq) {
        let mut probe = SetWatchdog::new(
            TimerUse::SmsOs,
            TimerAction::None,
            Countdown::from_ticks(u16::MAX),
        );
        probe.pretimeout_secs = p;
        probe.pretimeout_irq = irq.into();
        check_pretimeout_irq(&probe)?;
    }
    Ok(f)
}

/// What `bmcwd daemon --check` found.
pub struct DaemonCheck {
    /// The report, several lines.
    pub text: String,
    /// True when one failed command can let the timer expire.
    pub unsafe_: bool,
    /// The one-line warning the daemon logs at start when unsafe.
    pub warning: String,
    /// The same figures for `--json`.
    pub json: serde_json::Value,
}

/// The worst-case pet gap of `cfg` on `kernel` with the default BT
/// capabilities (`ipmi_watchdog::PolicyConfig::worst_pet_gap`) and the
/// longest BMC outage it rides out (`max_outage`); the simulation's
/// property search checks the latter (`tests/tests/daemon_properties.rs`).
pub fn daemon_check(cfg: &DaemonConfig, kernel: bmc_sim::KernelPreset) -> DaemonCheck {
    let caps = bmc_sim::BtCapabilities::DEFAULT;
    let k = bmc_sim::scenario::kernel_worst_case(kernel, caps);
    let p = cfg.policy();
    let s = |d: std::time::Duration| format!("{:.1} s", d.as_secs_f64());
    let timeout = cfg.set.initial_countdown.as_duration();
    let gap = p.worst_pet_gap(&k);
    let unsafe_ = p.can_reset_healthy_host(&k);
    let mut text = format!(
        "timeout {}, interval {}, max backoff {}; kernel {} (BT capabilities {} × {})\n\
         kernel worst case for one message: {} × {} + {} reset hold-off + {} LONG_BUSY = {}\n\
         worst-case pet gap (one command failing in that worst way): {} — {}\n",
        s(timeout),
        s(cfg.interval),
        s(p.backoff_cap()),
        kernel.name,
        k.retries,
        s(k.req2rsp),
        k.retries,
        s(k.req2rsp),
        s(k.reset_hold_off),
        s(k.long_busy),
        s(k.message()),
        s(gap),
        if unsafe_ {
            "NOT shorter than the timeout: UNSAFE, a healthy host can be reset"
        } else {
            "shorter than the timeout: OK"
        }
    );
    match p.max_outage(&k) {
        Some(o) => text.push_str(&format!(
            "longest BMC outage ridden out: {} (timeout - interval - kernel worst case - backoff cap - 1 s)\n",
            s(o)
        )),
        None => text.push_str("longest BMC outage ridden out: none\n"),
    }
    let warning = format!(
        "worst-case pet gap {} on kernel {} is not shorter than the timeout {}: one command \
         failing in the kernel's worst way lets the BMC reset this healthy host; lower \
         --interval or raise --timeout (`bmcwd daemon --check`)",
        s(gap),
        kernel.name,
        s(timeout)
    );
    let json = json!({
        "timeout_s": timeout.as_secs_f64(),
        "interval_s": cfg.interval.as_secs_f64(),
        "max_backoff_s": p.backoff_cap().as_secs_f64(),
        "kernel": kernel.name,
        "kernel_worst_message_s": k.message().as_secs_f64(),
        "worst_pet_gap_s": gap.as_secs_f64(),
        "safe": !unsafe_,
        "max_outage_s": p.max_outage(&k).map(|o| o.as_secs_f64()),
    });
    DaemonCheck {
        text,
        unsafe_,
        warning,
        json,
    }
}

/// The daemon's timing hazard: a pet that goes unanswered blocks for
/// `--cmd-timeout` after the interval; when the two together reach the
/// countdown, the timer can expire before the retry.
pub fn slow_pet_warning(cfg: &DaemonConfig, cmd_timeout: std::time::Duration) -> Option<String> {
    let timeout = cfg.set.initial_countdown.as_duration();
    (cfg.interval.saturating_add(cmd_timeout) >= timeout).then(|| {
        format!(
            "the pet interval {:.1} s plus --cmd-timeout {:.1} s is not shorter than the \
             timeout {:.1} s: one unanswered pet lets the timer expire before the retry; \
             lower --cmd-timeout or --interval",
            cfg.interval.as_secs_f64(),
            cmd_timeout.as_secs_f64(),
            timeout.as_secs_f64()
        )
    })
}

// ---------------------------------------------------------------- commands

fn cmd_get(cli: &Cli) -> Result<(), CliError> {
    let t = target(cli);
    let mut c = client(cli, &t)?;
    let r = c.get()?;
    if cli.globals.json {
        out_json(&output::reading_json(&r));
    } else {
        out(&output::reading_text(&r));
    }
    Ok(())
}

fn cmd_set(cli: &Cli, a: &SetArgs) -> Result<(), CliError> {
    let f = set_fields(a)?;
    let t = target(cli);
    let mut c = client(cli, &t)?;
    let cur = c.get()?;
    let reserved = |what: &str, flag: &str| {
        CliError::Usage(format!(
            "the BMC reports a reserved {what}, so it cannot be kept: give {flag}"
        ))
    };
    let timer_use = match (a.timer_use, cur.timer_use()) {
        (Some(u), _) => u.into(),
        (None, Some(u)) => u,
        (None, None) => {
            // Never configured (use 0 after power-on is common): SMS/OS is
            // what OS watchdogs use (Linux ipmi_watchdog's choice too).
            note(&format!(
                "the BMC reports no valid timer use (0x{:02x}): using sms-os (give --use to choose)",
                cur.use_byte & 0x07
            ));
            TimerUse::SmsOs
        }
    };
    let action = match a.action {
        Some(x) => x.into(),
        None => cur
            .action()
            .ok_or_else(|| reserved("timeout action", "--action"))?,
    };
    let mut set = SetWatchdog::new(
        timer_use,
        action,
        f.countdown.unwrap_or(cur.initial_countdown),
    );
    set.pretimeout_irq = match a.pretimeout_irq {
        Some(i) => i.into(),
        None => cur
            .pretimeout_irq()
            .ok_or_else(|| reserved("pre-timeout interrupt", "--pretimeout-irq"))?,
    };
    set.pretimeout_secs = f.pretimeout.unwrap_or(cur.pretimeout_secs);
    set.dont_log = a.dont_log;
    set.dont_stop = a.dont_stop;
    set.clear_flags = f.clear;
    if set.initial_countdown.ticks() == 0 {
        return Err(CliError::Usage(
            "the BMC's current countdown is 0, which fires immediately on Reset: give --timeout"
                .into(),
        ));
    }
    // Only when asked for: a BMC already configured that way by someone
    // else is kept as it is.
    if a.pretimeout.is_some() || a.pretimeout_irq.is_some() {
        check_pretimeout_irq(&set).map_err(|e| match (a.pretimeout, a.pretimeout_irq) {
            (None, _) | (_, None) => CliError::Usage(format!(
                "{e} (the missing value was taken from the BMC's current configuration)"
            )),
            _ => e,
        })?;
    }
    check_pretimeout(&set).map_err(|e| match (a.timeout, a.pretimeout) {
        (None, _) | (_, None) => CliError::Usage(format!(
            "{e} (the missing value was taken from the BMC's current configuration)"
        )),
        _ => e,
    })?;
    c.set(&set)?;
    save_state(state_path(cli, &t).as_deref(), &set);
    let running_after = set.dont_stop && cur.running();
    if cli.globals.json {
        out_json(
            &json!({"command": "set", "set": output::set_json(&set), "was_running": cur.running(), "running": running_after}),
        );
    } else {
        out(&format!(
            "Watchdog Timer set: {}\n{}\n",
            output::set_summary(&set),
            if running_after {
                "Timer still running, reloaded with the new countdown (--dont-stop)."
            } else if cur.running() {
                "Timer stopped (a Set without --dont-stop stops it); start it with `bmcwd reset`."
            } else {
                "Timer is stopped; start it with `bmcwd reset`."
            }
        ));
    }
    Ok(())
}

fn cmd_reset(cli: &Cli, a: ResetArgs) -> Result<(), CliError> {
    let t = target(cli);
    if a.if_stopped || a.if_running {
        // bmc-watchdog `_start_cmd` (--start) and `_set_cmd` with
        // --start-if-stopped / --reset-if-running: Get, then Reset or nothing.
        let running = client(cli, &t)?.get()?.running();
        if running != a.if_running {
            let (flag, state) = if a.if_stopped {
                ("--if-stopped", "running")
            } else {
                ("--if-running", "stopped")
            };
            if cli.globals.json {
                out_json(&json!({"command": "reset", "sent": false, "running": running}));
            } else {
                out(&format!(
                    "Watchdog Timer is {state}: left alone, no Reset sent ({flag})\n"
                ));
            }
            return Ok(());
        }
    }
    let path = state_path(cli, &t);
    let last = match path.as_deref().map(statefile::load) {
        Some(Ok(s)) => Some(s),
        Some(Err(statefile::LoadError::Missing(_))) | None => None,
        Some(Err(e)) => {
            note(&format!("warning: {e}"));
            None
        }
    };
    let mut c = client(cli, &t)?;
    let outcome = c.pet(last.as_ref()).inspect_err(|e| {
        if e.completion_code() == Some(ipmi_bt_sm::CompletionCode(0x80)) && t == Target::Sim {
            note(
                "the embedded simulator starts fresh in every invocation, so it has never been \
                 set: use `bmcwd sim serve --socket PATH` and --socket PATH to keep state",
            );
        } else if e.completion_code() == Some(ipmi_bt_sm::CompletionCode(0x80)) && last.is_none() {
            note(&format!(
                "no recorded Set to re-send{}",
                path.as_ref()
                    .map(|p| format!(" ({} does not exist)", p.display()))
                    .unwrap_or_default()
            ));
        }
    })?;
    if outcome.resets_recovered > 0 {
        note(&format!(
            "the BMC had lost its watchdog configuration (Reset answered 0x80): re-sent the \
             last Set from {} ({} time(s)), as Linux's ipmi_watchdog does",
            path.as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            outcome.resets_recovered
        ));
    }
    if outcome.pretimeout_reload {
        note(
            "the pre-timeout had fired, so the BMC refused the Reset (0xD5): reloaded the \
             countdown with the last Set plus don't-stop, as Linux's ipmi_watchdog does",
        );
    }
    if cli.globals.json {
        out_json(
            &json!({"command": "reset", "resent_set": outcome.resets_recovered, "pretimeout_reload": outcome.pretimeout_reload}),
        );
    } else {
        out("Watchdog Timer Reset - countdown restarted\n");
    }
    Ok(())
}

fn cmd_start(cli: &Cli, a: &StartCommandArgs) -> Result<(), CliError> {
    let set = start_request(&a.start)?;
    let t = target(cli);
    let mut c = client(cli, &t)?;
    if a.if_stopped && c.get()?.running() {
        if cli.globals.json {
            out_json(&json!({"command": "start", "sent": false, "running": true}));
        } else {
            out("Watchdog Timer is running: left alone, nothing set (--if-stopped)\n");
        }
        return Ok(());
    }
    c.set(&set)?;
    save_state(state_path(cli, &t).as_deref(), &set);
    c.pet(Some(&set))?;
    if cli.globals.json {
        out_json(&json!({"command": "start", "set": output::set_json(&set)}));
    } else {
        out(&format!(
            "Watchdog Timer started: {}\nPet it with `bmcwd reset` (or run `bmcwd daemon`) before {} s pass.\n",
            output::set_summary(&set),
            output::secs(set.initial_countdown)
        ));
    }
    Ok(())
}

fn cmd_stop(cli: &Cli) -> Result<(), CliError> {
    let t = target(cli);
    let mut c = client(cli, &t)?;
    let cur = c.get()?;
    let set = stop_request(&cur);
    c.set(&set)?;
    save_state(state_path(cli, &t).as_deref(), &set);
    if cli.globals.json {
        out_json(
            &json!({"command": "stop", "set": output::set_json(&set), "was_running": cur.running()}),
        );
    } else {
        out("Watchdog Timer Shutoff successful -- timer stopped\n");
    }
    Ok(())
}

/// The Set of `bmcwd clear`, after freeipmi's `bmc-watchdog --clear`
/// (`_clear_cmd`): the timer use kept (SMS/OS when the BMC reports a
/// reserved one), stop, SEL logging off, no action, no pre-timeout, no
/// flags cleared, countdown 0.
pub fn clear_request(timer_use: TimerUse) -> SetWatchdog {
    let mut set = SetWatchdog::new(timer_use, TimerAction::None, Countdown::ZERO);
    set.dont_log = true;
    set
}

fn cmd_clear(cli: &Cli) -> Result<(), CliError> {
    let t = target(cli);
    let mut c = client(cli, &t)?;
    let cur = c.get()?;
    let timer_use = cur.timer_use().unwrap_or_else(|| {
        note(&format!(
            "the BMC reports no valid timer use (0x{:02x}): clearing with sms-os",
            cur.use_byte & 0x07
        ));
        TimerUse::SmsOs
    });
    let set = clear_request(timer_use);
    c.set(&set)?;
    save_state(state_path(cli, &t).as_deref(), &set);
    if cli.globals.json {
        out_json(
            &json!({"command": "clear", "set": output::set_json(&set), "was_running": cur.running()}),
        );
    } else {
        out("Watchdog Timer cleared -- timer stopped, no action, countdown 0\n");
    }
    Ok(())
}

/// The daemon's options after its configuration file: what is read at
/// start and again on SIGHUP.
#[derive(Debug, Clone)]
struct DaemonSettings {
    a: DaemonArgs,
    target: crate::args::TargetArgs,
    cmd_timeout: Deciseconds,
    state_file: Option<PathBuf>,
}

/// The command line (`cli`, `a`, `m`) with the configuration file at
/// `file` (if any) filling in every option not given.
fn daemon_settings(
    cli: &Cli,
    a: &DaemonArgs,
    m: &clap::ArgMatches,
    file: Option<&crate::config::Config>,
) -> Result<DaemonSettings, CliError> {
    let mut s = DaemonSettings {
        a: a.clone(),
        target: cli.globals.target.clone(),
        cmd_timeout: cli.globals.cmd_timeout,
        state_file: cli.globals.state_file.clone(),
    };
    if let Some(c) = file {
        c.apply(
            m,
            |l| clear_flags(l).map(|_| ()).map_err(|e| e.to_string()),
            &mut s.target,
            &mut s.cmd_timeout,
            &mut s.state_file,
            &mut s.a,
        )?;
    }
    Ok(s)
}

fn cmd_daemon(cli: &Cli, a: &DaemonArgs, m: &clap::ArgMatches) -> Result<(), CliError> {
    // The configuration file fills in every option not given here.
    let config_path = crate::config::locate(a.config.as_deref());
    let config = match &config_path {
        Some(path) => Some(crate::config::Config::load(path)?),
        None => None,
    };
    let settings = daemon_settings(cli, a, m, config.as_ref())?;
    // SIGHUP: the same file again, checked the same way; the target, the
    // log and the command timeout need a restart.
    let reload = || -> daemon::ReloadResult {
        let Some(path) = &config_path else {
            return Ok(None);
        };
        let c = crate::config::Config::load(path).map_err(|e| e.to_string())?;
        let new = daemon_settings(cli, a, m, Some(&c)).map_err(|e| e.to_string())?;
        let (set, check) = daemon_setup(&new.a).map_err(|e| format!("{}: {e}", path.display()))?;
        let config = DaemonConfig::new(
            set,
            new.a.interval.map(Deciseconds::as_duration),
            new.a.on_exit.into(),
            new.a.max_backoff.as_duration(),
            None,
        )
        .map_err(|e| format!("{}: {e}", path.display()))?;
        let config = DaemonConfig {
            rearm: !new.a.no_rearm,
            ..config
        };
        let mut warnings = Vec::new();
        if check.unsafe_ {
            warnings.push(check.warning);
        }
        let old = &settings;
        let mut restart = Vec::new();
        if (
            new.target.device.as_ref(),
            new.target.socket.as_ref(),
            new.target.sim,
        ) != (
            old.target.device.as_ref(),
            old.target.socket.as_ref(),
            old.target.sim,
        ) {
            restart.push("device/socket");
        }
        if new.cmd_timeout != old.cmd_timeout {
            restart.push("cmd-timeout");
        }
        if new.state_file != old.state_file {
            restart.push("state-file");
        }
        if new.a.log != old.a.log {
            restart.push("log");
        }
        if !restart.is_empty() {
            warnings.push(format!(
                "{}: {} changed: not applied until the daemon is restarted",
                path.display(),
                restart.join(", ")
            ));
        }
        if let Ok(t) = cmd_timeout(old.cmd_timeout) {
            warnings.extend(slow_pet_warning(&config, t));
        }
        Ok(Some(daemon::Reloaded { config, warnings }))
    };
    let a = settings.a.clone();
    let target_args = settings.target.clone();
    let cmd_timeout_d = settings.cmd_timeout;
    let state_file = settings.state_file.clone();
    if a.check {
        let (_, check) = daemon_setup(&a)?;
        if cli.globals.json {
            let mut v = check.json.clone();
            v["configuration"] = json!(config.as_ref().map(|c| c.path().display().to_string()));
            out_json(&json!({"command": "daemon-check", "check": v}));
        } else {
            if let Some(c) = &config {
                out(&format!("configuration: {} (valid)\n", c.path().display()));
            }
            out(&check.text);
        }
        return if check.unsafe_ {
            Err(CliError::Usage(
                "this configuration can let the BMC reset a healthy host (see above): lower \
                 --interval or raise --timeout"
                    .into(),
            ))
        } else {
            Ok(())
        };
    }
    // From here on every fatal error goes to the daemon's log, once, with
    // its priority (and as JSON on stdout with --json).
    let mut log = DaemonLog::open(
        a.log,
        cli.globals.json,
        crate::logging::threshold(a.verbose, a.quiet),
    );
    let result = daemon_main(
        &a,
        &target_args,
        cmd_timeout_d,
        state_file,
        config.as_ref(),
        &mut log,
        reload,
    );
    match result {
        Ok(()) => Ok(()),
        // The policy logged why it gave up.
        Err(e @ CliError::Daemon(_)) => Err(CliError::Logged(Box::new(e))),
        Err(e) => {
            let mut fields = vec![
                ("BMCWD_ERROR_KIND", e.kind().to_string()),
                ("BMCWD_EXIT_CODE", e.exit_code().to_string()),
            ];
            if let Some(cc) = e.completion_code() {
                fields.push(("BMCWD_COMPLETION_CODE", format!("0x{cc:02x}")));
            }
            log.log_with(daemon::Priority::Err, &e.to_string(), &fields);
            Err(CliError::Logged(Box::new(e)))
        }
    }
}

/// The daemon's Set and the `--check` report for its options.
fn daemon_setup(a: &DaemonArgs) -> Result<(SetWatchdog, DaemonCheck), CliError> {
    let set = start_request(&a.start)?;
    let kernel = crate::simcmd::preset(&a.kernel).map_err(|_| {
        CliError::Usage(format!(
            "--kernel {}: unknown kernel preset; use one of {}",
            a.kernel,
            bmc_sim::KernelPreset::NAMES.join(", ")
        ))
    })?;
    let probe = DaemonConfig::new(
        set,
        a.interval.map(Deciseconds::as_duration),
        a.on_exit.into(),
        a.max_backoff.as_duration(),
        None,
    )
    .map_err(|e| CliError::Usage(e.to_string()))?;
    Ok((set, daemon_check(&probe, kernel)))
}

fn daemon_main(
    a: &DaemonArgs,
    target_args: &crate::args::TargetArgs,
    cmd_timeout_d: Deciseconds,
    state_file: Option<PathBuf>,
    config: Option<&crate::config::Config>,
    logger: &mut DaemonLog,
    reload: impl FnMut() -> daemon::ReloadResult,
) -> Result<(), CliError> {
    let (set, check) = daemon_setup(a)?;
    let (t, auto) = resolve(
        target_args.device.as_deref(),
        target_args.socket.as_deref(),
        target_args.sim,
        Path::new("/dev"),
    );
    if auto {
        // A daemon petting a simulator because the driver is not loaded
        // would look healthy while nothing watches the machine: refuse, and
        // say how to get the device (or to ask for the simulator explicitly).
        return Err(bmcwd::transport::TransportError::DeviceMissing {
            path: PathBuf::from("/dev/ipmi0"),
        }
        .into());
    }
    logger.add_field((
        "BMCWD_TARGET",
        match &t {
            Target::Device(p) => p.display().to_string(),
            Target::Socket(p) => format!("socket:{}", p.display()),
            Target::Sim => "simulator".into(),
        },
    ));
    if let Some(c) = config {
        logger.add_field(("BMCWD_CONFIG", c.path().display().to_string()));
    }
    let state = state_file.or_else(|| t.state_key().map(|k| statefile::default_path(&k)));
    let cfg = DaemonConfig::new(
        set,
        a.interval.map(Deciseconds::as_duration),
        a.on_exit.into(),
        a.max_backoff.as_duration(),
        state,
    )
    .map_err(|e| CliError::Usage(e.to_string()))?;
    let cfg = DaemonConfig {
        rearm: !a.no_rearm,
        ..cfg
    };
    let cmd_timeout = cmd_timeout(cmd_timeout_d)?;
    if check.unsafe_ {
        daemon::Logger::log(logger, daemon::Priority::Warning, &check.warning);
    }
    if let Some(w) = slow_pet_warning(&cfg, cmd_timeout) {
        daemon::Logger::log(logger, daemon::Priority::Warning, &w);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Internal(format!("cannot start the tokio runtime: {e}")))?;
    rt.block_on(async {
        // Register every handler before arming, so a signal during start-up
        // is handled, not fatal: SIGHUP re-reads the configuration, every
        // other terminating signal honours --on-exit (spec-notes/cli.md, "Daemon").
        use tokio::signal::unix::{signal, SignalKind};
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        for sig in ipmi_watchdog::DaemonSignal::ALL {
            let mut stream = signal(SignalKind::from_raw(sig.number())).map_err(|e| {
                CliError::Internal(format!("cannot install a {} handler: {e}", sig.name()))
            })?;
            let tx = tx.clone();
            tokio::spawn(async move {
                while stream.recv().await.is_some() {
                    if tx.send(sig).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut c = Client::new(open(&t)?, cmd_timeout);
        // Start-up is over: unmap its code, so that the loop's resident set
        // is the code the loop runs (crate::memory).
        // Not worth more than a -v line when it fails (no /proc).
        if let Err(e) = crate::memory::release_startup_pages() {
            let msg = format!("cannot release start-up pages: {e}");
            daemon::Logger::log(logger, daemon::Priority::Info, &msg);
        }
        let reopen = || -> Result<Box<dyn Transport>, bmcwd::transport::TransportError> {
            Ok(match &t {
                Target::Device(p) => Box::new(DeviceTransport::open(p)?),
                Target::Socket(p) => Box::new(VmSocketTransport::connect(p)?),
                Target::Sim => bmcwd::transport::embedded_simulator(),
            })
        };
        daemon::run(&mut c, &cfg, rx, logger, reopen, reload).await?;
        Ok::<(), CliError>(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_countdown_range() {
        assert!(countdown("--timeout", Deciseconds(65535)).is_ok());
        let e = countdown("--timeout", Deciseconds(65536))
            .unwrap_err()
            .to_string();
        assert!(e.contains("6553.5s"), "{e}");
        assert!(countdown("--timeout", Deciseconds(0)).is_err());
    }

    #[test]
    fn validates_pretimeout() {
        assert_eq!(pretimeout_secs(Deciseconds(100)).unwrap(), 10);
        assert!(pretimeout_secs(Deciseconds(15)).is_err());
        assert!(pretimeout_secs(Deciseconds(2560)).is_err());
        let mut s = SetWatchdog::new(
            TimerUse::SmsOs,
            TimerAction::HardReset,
            Countdown::from_ticks(100),
        );
        s.pretimeout_secs = 10;
        assert!(check_pretimeout(&s).is_err());
        s.pretimeout_secs = 9;
        assert!(check_pretimeout(&s).is_ok());
    }

    #[test]
    fn parses_clear_flags() {
        assert_eq!(clear_flags("all").unwrap(), ExpirationFlags::all());
        assert_eq!(
            clear_flags("sms-os,bios-frb2").unwrap(),
            ExpirationFlags::SMS_OS | ExpirationFlags::FRB2
        );
        let e = clear_flags("bogus").unwrap_err().to_string();
        assert!(e.contains("`bogus` is not a timer use"), "{e}");
        // The names offered are the ones `--use` takes (bios-frb2, not frb2).
        assert!(e.contains(CLEAR_FLAG_NAMES), "{e}");
        let e = clear_flags(",").unwrap_err().to_string();
        assert!(e.contains(CLEAR_FLAG_NAMES), "{e}");
        assert!(matches!(clear_flags(" , "), Err(CliError::Usage(_))));
    }

    #[test]
    fn slow_pet_warning_only_when_a_hung_pet_outlasts_the_timeout() {
        let cfg = |timeout_s: u16, interval_ms: u64| {
            let set = SetWatchdog::new(
                TimerUse::SmsOs,
                TimerAction::HardReset,
                Countdown::from_ticks(timeout_s * 10),
            );
            let iv = Some(std::time::Duration::from_millis(interval_ms));
            let backoff = std::time::Duration::from_secs(8);
            DaemonConfig::new(set, iv, bmcwd::daemon::OnExit::Stop, backoff, None).unwrap()
        };
        let s = std::time::Duration::from_secs;
        // README's example: 60 s timeout, 20 s interval, default 20 s wait.
        assert_eq!(slow_pet_warning(&cfg(60, 20_000), s(20)), None);
        assert_eq!(slow_pet_warning(&cfg(60, 39_900), s(20)), None);
        let w = slow_pet_warning(&cfg(60, 40_000), s(20)).unwrap();
        assert!(
            w.contains("interval 40.0 s plus --cmd-timeout 20.0 s"),
            "{w}"
        );
        assert!(slow_pet_warning(&cfg(10, 3_300), s(20)).is_some());
        assert_eq!(slow_pet_warning(&cfg(10, 3_300), s(5)), None);
    }

    #[test]
    fn daemon_check_prints_the_worst_case_gap_and_flags_unsafe_configurations() {
        let cfg = |timeout_s: u16, interval_s: u64| {
            let set = SetWatchdog::new(
                TimerUse::SmsOs,
                TimerAction::HardReset,
                Countdown::from_ticks(timeout_s * 10),
            );
            let iv = Some(std::time::Duration::from_secs(interval_s));
            let backoff = std::time::Duration::from_secs(8);
            DaemonConfig::new(set, iv, bmcwd::daemon::OnExit::Stop, backoff, None).unwrap()
        };
        let ok = daemon_check(&cfg(60, 20), bmc_sim::KernelPreset::MAINLINE);
        assert!(!ok.unsafe_);
        assert!(ok.text.contains("= 21.0 s"), "{}", ok.text);
        assert!(ok.text.contains("worst-case pet gap (one command failing in that worst way): 42.5 s — shorter than the timeout: OK"), "{}", ok.text);
        assert!(
            ok.text.contains("longest BMC outage ridden out: 10.0 s"),
            "{}",
            ok.text
        );
        let bad = daemon_check(&cfg(30, 15), bmc_sim::KernelPreset::MAINLINE);
        assert!(bad.unsafe_);
        assert!(
            bad.text
                .contains("37.5 s — NOT shorter than the timeout: UNSAFE"),
            "{}",
            bad.text
        );
        assert!(
            bad.warning
                .contains("worst-case pet gap 37.5 s on kernel mainline"),
            "{}",
            bad.warning
        );
    }

    #[test]
    fn zero_cmd_timeout_is_refused() {
        let e = cmd_timeout(Deciseconds(0)).unwrap_err();
        assert!(matches!(e, CliError::Usage(_)));
        assert!(e.to_string().contains("at least 100ms"), "{e}");
        assert_eq!(
            cmd_timeout(Deciseconds(1)).unwrap(),
            std::time::Duration::from_millis(100)
        );
    }

    fn shipped(file: &str) -> String {
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(file)).unwrap()
    }

    /// Moved from `cli/tests/completions.rs` (`check`): the generator gives the
    /// shipped scripts, which that test compares with `bmcwd completions SHELL`.
    #[test]
    fn completions_match_the_shipped_scripts() {
        use crate::args::Shell;
        for (shell, file) in [
            (Shell::Bash, "bmcwd.bash"),
            (Shell::Zsh, "_bmcwd"),
            (Shell::Fish, "bmcwd.fish"),
        ] {
            assert_eq!(
                completions(shell),
                shipped(&format!("dist/completions/{file}"))
            );
        }
    }

    /// Moved from `cli/tests/completions.rs`.
    #[test]
    fn completions_offer_subcommands_and_values() {
        let bash = completions(crate::args::Shell::Bash);
        for word in [
            "daemon",
            "hard-reset",
            "power-cycle",
            "sms-os",
            "--pretimeout-irq",
            "--on-exit",
        ] {
            assert!(bash.contains(word), "{word} missing from bash completions");
        }
    }

    /// Moved from `cli/tests/completions.rs`.
    #[test]
    fn systemd_unit_runs_the_daemon_and_loads_modules() {
        let unit = shipped("dist/bmcwd-daemon.service");
        assert!(unit.contains("ExecStart=/usr/bin/bmcwd daemon "));
        assert!(unit.contains("ExecStartPre=-/sbin/modprobe ipmi_devintf"));
        assert!(unit.contains("ExecStartPre=-/sbin/modprobe ipmi_si"));
        assert!(unit.contains("Restart=on-failure"));
        // DeviceAllow= is resolved at start: the modules must be loaded before.
        assert!(unit.contains("After=modprobe@ipmi_si.service modprobe@ipmi_devintf.service"));
        // The ExecStart arguments parse, and name the packaged configuration.
        let exec = unit
            .lines()
            .find_map(|l| l.strip_prefix("ExecStart=/usr/bin/bmcwd "))
            .unwrap();
        use clap::Parser;
        let args = std::iter::once("bmcwd").chain(exec.split_whitespace());
        let cli = Cli::try_parse_from(args).unwrap();
        match cli.command {
            Command::Daemon(a) => assert_eq!(
                a.config.as_deref(),
                Some(Path::new(crate::config::SYSTEM_PATH))
            ),
            c => panic!("{c:?}"),
        }
    }

    /// The shipped man pages are what `man_pages` renders now (the
    /// integration test `man_pages_are_current` runs `bmcwd man DIR`).
    #[test]
    fn man_pages_match_the_shipped_ones() {
        let pages = man_pages().unwrap();
        assert!(pages.len() >= 15, "{}", pages.len());
        for (name, page) in pages {
            let shipped = std::fs::read(
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("dist/man")
                    .join(&name),
            )
            .unwrap_or_default();
            assert!(
                shipped == page,
                "dist/man/{name} is stale: run cli/dist/regen-completions.sh"
            );
        }
    }
}
