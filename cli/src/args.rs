//! Command-line grammar (clap derive), a module of the `bmcwd` binary: the
//! library knows nothing of clap. Parsed values convert into library types
//! (e.g. [`OnExit`] into `bmcwd::daemon::OnExit`).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use ipmi_watchdog::{PreTimeoutInterrupt, TimerAction, TimerUse};

use bmc_sim::scenario::KernelPreset;
use bmcwd::Deciseconds;

/// Arm, pet, read and disarm the IPMI BMC watchdog; run BT/BMC simulations.
///
/// Without --device, --socket or --sim, bmcwd uses the first /dev/ipmiN, or the
/// embedded simulator if there is none (a note on stderr says so).
#[derive(Debug, Parser)]
#[command(
    name = "bmcwd",
    version,
    propagate_version = true,
    max_term_width = 100,
    after_help = "Exit codes: 0 success; 1 internal error, or a --bt-source C file that does \
                  not build or load; 2 bad arguments or input file \
                  (nothing sent); 3 the BMC refused the command (completion code) or answered \
                  garbage; 4 setup (no /dev/ipmi*, no driver, permission, no simulator \
                  socket); 5 communication (timeout, connection lost); 6 scenario explore \
                  found a counterexample; 7 bt diff found a divergence."
)]
pub struct Cli {
    /// The options every subcommand takes.
    #[command(flatten)]
    pub globals: Globals,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The global options (given before or after the subcommand).
#[derive(Debug, Clone, Args)]
#[group(skip)]
pub struct Globals {
    /// Where commands go.
    #[command(flatten)]
    pub target: TargetArgs,

    /// Print machine-readable JSON on stdout instead of text.
    #[arg(long, global = true)]
    pub json: bool,

    /// How long to wait for each BMC response (e.g. 20s). The Linux BT driver
    /// itself retries for up to ~15 s before it answers 0xC3.
    #[arg(
        long,
        global = true,
        value_name = "DURATION",
        allow_hyphen_values = true,
        default_value = "20s"
    )]
    pub cmd_timeout: Deciseconds,

    /// File remembering the last Set Watchdog Timer request, re-sent when a
    /// Reset gets 0x80 (BMC lost its configuration). Default:
    /// $BMCWD_STATE_DIR, /run/bmcwd, $XDG_RUNTIME_DIR/bmcwd or /tmp/bmcwd-$UID,
    /// one file per BMC.
    #[arg(long, global = true, value_name = "PATH")]
    pub state_file: Option<PathBuf>,
}

/// Parses `argv` with a command tree that holds only the global options and
/// the one operator subcommand argv names (`get`, `set`, `reset`/`pet`,
/// `start`, `stop`/`off`, `clear`, `daemon`): building clap's whole tree
/// (the simulator's, the scenarios' and the C harness's subcommands too) was
/// most of the instructions of a `bmcwd get`. The small tree's subcommand
/// and global options are the derived ones, so a command line it accepts
/// means what it means to the whole tree. `None` when argv names no such
/// subcommand or the small tree refuses it (help, version, any error): the
/// caller then parses with [`Cli::command`], so help, completions, man pages,
/// errors and exit codes are exactly the whole tree's.
pub fn parse_lean(argv: &[std::ffi::OsString]) -> Option<(Cli, clap::ArgMatches)> {
    use clap::FromArgMatches;
    let globals = Globals::augment_args(clap::Command::new("bmcwd"));
    let name = subcommand_name(&globals, argv)?;
    let tree = lean_tree(globals, name)?;
    let m = tree.try_get_matches_from(argv).ok()?;
    let cli = Cli::from_arg_matches(&m).ok()?;
    Some((cli, m))
}

/// The first word of `argv` (after the program name) that is neither an
/// option nor the value of one of the `globals` that takes one (asked of
/// clap, so a new global option cannot be missed). A wrong guess only costs
/// the fallback to the whole tree.
fn subcommand_name<'a>(globals: &clap::Command, argv: &'a [std::ffi::OsString]) -> Option<&'a str> {
    let mut words = argv.iter().skip(1);
    while let Some(w) = words.next() {
        let w = w.to_str()?;
        if !w.starts_with('-') {
            return Some(w);
        }
        if takes_next_word(globals, w) {
            words.next();
        }
    }
    None
}

/// Whether the option word `w` (`--name`, without `=value`) is one of the
/// `globals` that takes a value, which is then the next word.
fn takes_next_word(globals: &clap::Command, w: &str) -> bool {
    let Some(long) = w.strip_prefix("--") else {
        return false;
    };
    !long.contains('=')
        && globals.get_arguments().any(|a| {
            a.get_action().takes_values()
                && a.get_long_and_visible_aliases()
                    .is_some_and(|names| names.contains(&long))
        })
}

/// The global options and the operator subcommand `name` (or its alias).
fn lean_tree(globals: clap::Command, name: &str) -> Option<clap::Command> {
    use clap::Command as C;
    let sub = match name {
        "get" => C::new("get"),
        "set" => SetArgs::augment_args(C::new("set")),
        "reset" | "pet" => ResetArgs::augment_args(C::new("reset").visible_alias("pet")),
        "start" => StartCommandArgs::augment_args(C::new("start")),
        "stop" | "off" => C::new("stop").visible_alias("off"),
        "clear" => C::new("clear"),
        "daemon" => DaemonArgs::augment_args(C::new("daemon")),
        _ => return None,
    };
    Some(globals.subcommand_required(true).subcommand(sub))
}

/// Transport selection flags (mutually exclusive).
#[derive(Debug, Clone, Args, Default)]
#[group(multiple = false)]
pub struct TargetArgs {
    /// Use this kernel IPMI device (e.g. /dev/ipmi0).
    #[arg(long, global = true, value_name = "PATH")]
    pub device: Option<PathBuf>,
    /// Use a simulator served by `bmcwd sim serve --socket PATH`.
    #[arg(long, global = true, value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// Use the embedded simulator (fresh in every invocation: no state is kept
    /// between commands; use `bmcwd sim serve` for that).
    #[arg(long, global = true)]
    pub sim: bool,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read and decode the watchdog (Get Watchdog Timer), like `ipmitool mc watchdog get`.
    Get,
    /// Configure the watchdog (Set Watchdog Timer). Options not given keep their
    /// current value (read with Get first), as freeipmi's bmc-watchdog does.
    /// Without --dont-stop, a Set stops a running timer (IPMI v2.0 §27.6).
    Set(SetArgs),
    /// Restart the countdown (Reset Watchdog Timer). On 0x80 (BMC lost its
    /// configuration) re-send the last Set from the state file and retry, as
    /// Linux's ipmi_watchdog does.
    #[command(visible_alias = "pet")]
    Reset(ResetArgs),
    /// Configure and start the timer: Set, then Reset.
    Start(StartCommandArgs),
    /// Stop the timer: Set with the current timer use and countdown, no action,
    /// no pre-timeout, without don't-stop.
    #[command(visible_alias = "off")]
    Stop,
    /// Clear the watchdog configuration, as `bmc-watchdog --clear` does: one
    /// Set that keeps the timer use and stops the timer, with no action, no
    /// pre-timeout, SEL logging off, no flags cleared and a countdown of 0.
    Clear,
    /// Start the timer and pet it at an interval until SIGTERM/SIGINT.
    Daemon(DaemonArgs),
    /// Run or search simulation scenarios.
    #[command(subcommand)]
    Scenario(ScenarioCommand),
    /// Serve the simulated BMC.
    #[command(subcommand)]
    Sim(SimCommand),
    /// Work with a C BT state machine (the kernel's `ipmi_bt_sm.c`).
    #[command(subcommand)]
    Bt(BtCommand),
    /// Print a shell completion script.
    Completions {
        /// The shell.
        shell: Shell,
    },
    /// Write the man pages (bmcwd.1 and one per subcommand) into DIR.
    #[command(hide = true)]
    Man {
        /// Output directory (created if missing).
        dir: PathBuf,
    },
}

/// Shells we generate completions for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    /// GNU bash.
    Bash,
    /// Z shell.
    Zsh,
    /// fish.
    Fish,
}

/// Timer use, as typed on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum UseArg {
    /// SMS/OS (what OS watchdog daemons use).
    SmsOs,
    /// OS Load.
    OsLoad,
    /// BIOS/POST.
    BiosPost,
    /// BIOS FRB2.
    #[value(alias = "frb2")]
    BiosFrb2,
    /// OEM.
    Oem,
}

impl From<UseArg> for TimerUse {
    fn from(v: UseArg) -> Self {
        match v {
            UseArg::SmsOs => TimerUse::SmsOs,
            UseArg::OsLoad => TimerUse::OsLoad,
            UseArg::BiosPost => TimerUse::BiosPost,
            UseArg::BiosFrb2 => TimerUse::Frb2,
            UseArg::Oem => TimerUse::Oem,
        }
    }
}

/// Timeout action, as typed on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ActionArg {
    /// Hard reset.
    HardReset,
    /// Power down.
    PowerDown,
    /// Power cycle.
    PowerCycle,
    /// No action (the expiry is only logged).
    None,
}

impl From<ActionArg> for TimerAction {
    fn from(v: ActionArg) -> Self {
        match v {
            ActionArg::HardReset => TimerAction::HardReset,
            ActionArg::PowerDown => TimerAction::PowerDown,
            ActionArg::PowerCycle => TimerAction::PowerCycle,
            ActionArg::None => TimerAction::None,
        }
    }
}

/// Pre-timeout interrupt, as typed on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum IrqArg {
    /// NMI / diagnostic interrupt.
    Nmi,
    /// SMI.
    Smi,
    /// Messaging interrupt (the system interface's own interrupt).
    Msg,
    /// None.
    None,
}

impl From<IrqArg> for PreTimeoutInterrupt {
    fn from(v: IrqArg) -> Self {
        match v {
            IrqArg::Nmi => PreTimeoutInterrupt::Nmi,
            IrqArg::Smi => PreTimeoutInterrupt::Smi,
            IrqArg::Msg => PreTimeoutInterrupt::Messaging,
            IrqArg::None => PreTimeoutInterrupt::None,
        }
    }
}

/// Options of `set` (every one optional: unspecified fields keep the BMC's
/// current value).
#[derive(Debug, Clone, Args, Default)]
pub struct SetArgs {
    /// Initial countdown (e.g. 90s, 5m, 1.5s; 100 ms resolution, at most 6553.5s).
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub timeout: Option<Deciseconds>,
    /// Timer use.
    #[arg(long = "use", value_name = "USE")]
    pub timer_use: Option<UseArg>,
    /// What the BMC does when the countdown expires.
    #[arg(long, value_name = "ACTION")]
    pub action: Option<ActionArg>,
    /// Pre-timeout interval: whole seconds before expiry (0–255 s, less than the timeout).
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub pretimeout: Option<Deciseconds>,
    /// Pre-timeout interrupt.
    #[arg(long, value_name = "IRQ")]
    pub pretimeout_irq: Option<IrqArg>,
    /// Don't log a SEL event when the timer expires.
    ///
    /// Unlike the options above, this is not kept from the BMC's current
    /// setting: a `set` without it turns logging on.
    #[arg(long)]
    pub dont_log: bool,
    /// Keep a running timer running (reloaded with the new countdown).
    ///
    /// Not kept from the current setting either: a `set` without it stops a
    /// running timer (IPMI v2.0 §27.6).
    #[arg(long)]
    pub dont_stop: bool,
    /// Clear timer-use expiration flags: comma-separated uses
    /// (bios-frb2,bios-post,os-load,sms-os,oem) or `all`.
    #[arg(long, value_name = "LIST")]
    pub clear_flags: Option<String>,
}

/// Options of `reset`: conditions read with a Get first (bmc-watchdog's
/// `--start`, and `--set` with `--start-if-stopped` / `--reset-if-running`).
#[derive(Debug, Clone, Copy, Args, Default)]
pub struct ResetArgs {
    /// Only if the timer is stopped (start it); a running timer is left alone.
    #[arg(long, conflicts_with = "if_running")]
    pub if_stopped: bool,
    /// Only if the timer is running (pet it); a stopped timer stays stopped.
    #[arg(long)]
    pub if_running: bool,
}

/// Options of `start` and `daemon` (defaults instead of current values).
/// Their Set always carries don't-stop, as Linux's ipmi_watchdog's does
/// while the watchdog is in use (`__ipmi_set_timeout`: state ≠ none and
/// IPMI ≥ 1.5): a running timer is reloaded rather than stopped, so there is
/// no unwatched gap before the Reset.
#[derive(Debug, Clone, Args)]
pub struct StartArgs {
    /// Initial countdown (e.g. 60s, 5m; at most 6553.5s).
    #[arg(
        long,
        value_name = "DURATION",
        allow_hyphen_values = true,
        default_value = "60s"
    )]
    pub timeout: Deciseconds,
    /// Timer use.
    #[arg(long = "use", value_name = "USE", default_value = "sms-os")]
    pub timer_use: UseArg,
    /// What the BMC does when the countdown expires.
    #[arg(long, value_name = "ACTION", default_value = "hard-reset")]
    pub action: ActionArg,
    /// Pre-timeout interval: whole seconds before expiry (0 = none).
    #[arg(
        long,
        value_name = "DURATION",
        allow_hyphen_values = true,
        default_value = "0s"
    )]
    pub pretimeout: Deciseconds,
    /// Pre-timeout interrupt (required with a non-zero --pretimeout, and
    /// needs one).
    #[arg(long, value_name = "IRQ")]
    pub pretimeout_irq: Option<IrqArg>,
    /// Don't log a SEL event when the timer expires.
    #[arg(long)]
    pub dont_log: bool,
    /// Clear timer-use expiration flags: comma-separated uses or `all`.
    #[arg(long, value_name = "LIST")]
    pub clear_flags: Option<String>,
}

/// Options of `start`.
#[derive(Debug, Clone, Args)]
pub struct StartCommandArgs {
    /// Timer configuration.
    #[command(flatten)]
    pub start: StartArgs,
    /// Read the timer first and leave a running one alone (nothing is set);
    /// a stopped one is configured and started.
    #[arg(long)]
    pub if_stopped: bool,
}

/// What the daemon does with the timer when told to exit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnExit {
    /// Stop the timer (the machine is no longer watched).
    Stop,
    /// Leave it armed (the BMC acts unless someone else pets it).
    Leave,
}

impl From<OnExit> for bmcwd::daemon::OnExit {
    fn from(o: OnExit) -> Self {
        match o {
            OnExit::Stop => Self::Stop,
            OnExit::Leave => Self::Leave,
        }
    }
}

/// Where the daemon logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogTarget {
    /// The journal when stderr is connected to it ($JOURNAL_STREAM, as under
    /// systemd), stderr on a terminal, syslog otherwise.
    Auto,
    /// Plain `bmcwd: PRIORITY: …` lines on stderr.
    Stderr,
    /// stderr lines with `<N>` syslog-priority prefixes (sd-daemon(3)).
    Prefixed,
    /// The systemd journal, natively: priorities and BMCWD_* fields (falls
    /// back to prefixed stderr lines when journald cannot be reached).
    Journal,
    /// The local syslog socket (/dev/log, or $BMCWD_SYSLOG_SOCKET), facility
    /// daemon (falls back to stderr when there is none).
    Syslog,
}

/// Options of `daemon`.
#[derive(Debug, Clone, Args)]
pub struct DaemonArgs {
    /// Timer configuration.
    #[command(flatten)]
    pub start: StartArgs,
    /// How often to pet (default: a third of the timeout; must be shorter than it).
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub interval: Option<Deciseconds>,
    /// On SIGTERM, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2 (and the other
    /// terminating signals; SIGHUP re-reads the configuration file): stop
    /// the timer, or leave it armed.
    #[arg(long, value_name = "WHAT", default_value = "stop")]
    pub on_exit: OnExit,
    /// Do not re-arm a timer someone else stopped or reconfigured (the
    /// timer-state check after each pet still logs it).
    #[arg(long)]
    pub no_rearm: bool,
    /// Print the worst-case pet gap for --kernel and the longest BMC outage
    /// ridden out, and refuse (exit 2) a configuration in which one failed
    /// command can let the timer expire; sends nothing.
    #[arg(long)]
    pub check: bool,
    /// The host's kernel (a scenario `[driver] kernel` preset), whose BT
    /// driver's worst case --check and the start-up warning use.
    #[arg(
        long,
        value_name = "PROFILE",
        default_value = "mainline",
        value_parser = KernelPresetName
    )]
    pub kernel: String,
    /// Log destination (with --json, events go to stdout as JSON lines
    /// instead).
    #[arg(long, value_name = "WHERE", default_value = "auto", env = "BMCWD_LOG")]
    pub log: LogTarget,
    /// More log: -v adds one info line per pet.
    #[arg(short, long, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Less log: -q only warnings and errors, -qq only errors.
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub quiet: u8,
    /// Configuration file (TOML; each key is a daemon option's long name,
    /// flags given here override it). Default: /etc/bmcwd/bmcwd.toml for
    /// root, else $XDG_CONFIG_HOME/bmcwd/bmcwd.toml (~/.config/…), used
    /// when it exists. `--config none` reads no file. SIGHUP re-reads it.
    #[arg(long, value_name = "PATH", env = "BMCWD_CONFIG")]
    pub config: Option<PathBuf>,
    /// Longest wait between retries after BMC errors (backoff doubles from
    /// 500ms up to this, and never beyond the interval).
    #[arg(
        long,
        value_name = "DURATION",
        allow_hyphen_values = true,
        default_value = "8s"
    )]
    pub max_backoff: Deciseconds,
}

/// Simulated BMC presets (`bmc_sim::BmcConfig`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BmcPreset {
    /// A healthy real-ish BMC, IPMI-spec watchdog.
    Default,
    /// QEMU's built-in ipmi-bmc-sim (QEMU watchdog quirks).
    Qemu,
    /// OpenBMC on an Aspeed iBT (phosphor watchdog quirks).
    Openbmc,
}

/// The names of `bmc_sim::KernelPreset::ALL` as the possible values
/// of a kernel-preset argument (help text and completions); the value stays a
/// string, checked by `simcmd::preset` with an error that lists the names.
#[derive(Debug, Clone, Copy)]
pub struct KernelPresetName;

impl clap::builder::TypedValueParser for KernelPresetName {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        clap::builder::StringValueParser::new().parse_ref(cmd, arg, value)
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(KernelPreset::ALL.iter().map(|p| {
            clap::builder::PossibleValue::new(p.name).help(p.description)
        })))
    }
}

/// Watchdog behaviour profiles (`ipmi_watchdog::CompatProfile`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WatchdogProfile {
    /// IPMI v2.0 §27 as written.
    Spec,
    /// QEMU ipmi_bmc_sim.c.
    Qemu,
    /// OpenIPMI ipmi_sim (lanserv).
    Lanserv,
    /// OpenBMC phosphor-host-ipmid + phosphor-watchdog.
    Phosphor,
}

impl From<WatchdogProfile> for ipmi_watchdog::CompatProfile {
    fn from(p: WatchdogProfile) -> Self {
        match p {
            WatchdogProfile::Spec => Self::Spec,
            WatchdogProfile::Qemu => Self::Qemu,
            WatchdogProfile::Lanserv => Self::OpenIpmiLanserv,
            WatchdogProfile::Phosphor => Self::PhosphorWatchdog,
        }
    }
}

/// `bmcwd scenario …`
#[derive(Debug, Subcommand)]
pub enum ScenarioCommand {
    /// Run a scenario file: kernel-style log and a timeline.
    Run {
        /// Scenario file (TOML).
        file: PathBuf,
        /// Also write the timeline picture (SVG) to this file.
        #[arg(long, value_name = "FILE")]
        svg: Option<PathBuf>,
        /// Run this `ipmi_bt_sm.c` (the kernel's own, or a patched copy),
        /// compiled with the system C compiler, instead of the bt-sm model.
        #[arg(long, value_name = "PATH")]
        bt_source: Option<PathBuf>,
    },
    /// Search random fault schedules for a property violation and print the
    /// shrunk counterexample as a scenario file. The default space,
    /// `general`, is shaped after no known bug and runs on every core with
    /// coverage guidance; `--shard I/N` runs one share of it.
    Explore {
        /// Kernel preset to test (a `[driver] kernel` name of scenario files).
        #[arg(
            long,
            visible_alias = "kernel",
            value_name = "PROFILE",
            value_parser = KernelPresetName
        )]
        profile: String,
        /// Search space: general (every fault kind, any trigger and workload;
        /// the default), or one shaped after a historical bug:
        /// silence-at-command, caps-window, dead-at-probe, stuck-b2h, mixed.
        #[arg(long, value_name = "SPACE", default_value = "general")]
        space: String,
        /// A space shaped after a historical bug (overrides --space): b3
        /// (dead BMC at probe), b4 (silence at a command), b6 (request during
        /// the capabilities fetch), b8 (stuck B2H_ATN).
        #[arg(long, value_name = "BUG")]
        bug: Option<String>,
        /// Property to check: all (general default), liveness (the bug
        /// spaces' default: the next three), bounded-completion,
        /// recovers-when-healthy, no-reset-loop, probe-finishes,
        /// unload-finishes, exactly-once, matching-response, no-livelock.
        #[arg(long, value_name = "PROPERTY")]
        property: Option<String>,
        /// Number of random cases (of the whole search, all shards together).
        #[arg(long, value_name = "N", default_value_t = 64)]
        cases: u64,
        /// Seed (the same seed reproduces the same search).
        #[arg(long, value_name = "SEED", default_value_t = 1)]
        seed: u64,
        /// Write the counterexample scenario here instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Search on this `ipmi_bt_sm.c` instead of the preset's bt-sm model
        /// (the preset still gives the SI layer, HZ and the printk era).
        #[arg(long, value_name = "PATH")]
        bt_source: Option<PathBuf>,
        /// Run shard I of N (0-based): the cases whose index is I modulo N
        /// (general space; for a Kubernetes Indexed Job or a Slurm array).
        #[arg(long, value_name = "I/N")]
        shard: Option<String>,
        /// Worker threads (general space; default: one per core).
        #[arg(long, value_name = "N", default_value_t = 0)]
        threads: usize,
        /// Write this shard's result (corpus, coverage, counterexamples) as
        /// JSON here, for `bmcwd scenario merge` (general space).
        #[arg(long, value_name = "FILE")]
        results: Option<PathBuf>,
        /// Go on after the first counterexample and keep one per known bug
        /// it looks like (general space).
        #[arg(long)]
        keep_going: bool,
    },
    /// Combine the `--results` files of the shards of one general search
    /// into one result (coverage, corpus, counterexamples), printed as JSON.
    Merge {
        /// Shard result files (JSON).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Write the merged result here instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

/// `bmcwd bt …`
#[derive(Debug, Subcommand)]
pub enum BtCommand {
    /// Lockstep differential of a C `ipmi_bt_sm.c` against a bt-sm profile on
    /// random register-level schedules (register accesses, event() returns,
    /// get_result bytes, log text); a divergence is shrunk to a minimal case
    /// and printed as a test. Exit 0: none found; 7: divergence found; 1: the
    /// C file did not build.
    Diff {
        /// The C file (`drivers/char/ipmi/ipmi_bt_sm.c` or a patched copy).
        #[arg(long, value_name = "PATH")]
        bt_source: PathBuf,
        /// bt-sm profile to compare with (mainline, fixed-reset, proposed,
        /// mainline-2018, caps-in-sm, caps-in-sm-fe50).
        #[arg(long, value_name = "NAME")]
        profile: String,
        /// Number of random schedules.
        #[arg(long, value_name = "N", default_value_t = 1000)]
        cases: u32,
        /// Seed (the same seed reproduces the same run).
        #[arg(long, value_name = "SEED", default_value_t = 1)]
        seed: u64,
    },
}

/// `bmcwd sim …`
#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// Serve a simulated BMC: on the Unix socket given with --socket PATH (for
    /// `bmcwd --socket PATH …`), and/or as QEMU's ipmi-bmc-extern peer over TCP
    /// (--vm-listen / --vm-connect).
    Serve(ServeArgs),
}

/// Options of `sim serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Listen for QEMU's ipmi-bmc-extern chardev on this TCP address.
    #[arg(long, value_name = "ADDR", conflicts_with = "vm_connect")]
    pub vm_listen: Option<String>,
    /// Connect to QEMU's chardev (server mode) at this TCP address.
    #[arg(long, value_name = "ADDR")]
    pub vm_connect: Option<String>,
    /// Control file for link faults: write e.g. `silent`, `delay=5000`,
    /// `cc=c0 count=2`, `disconnect` or `none` into it while serving.
    #[arg(long, value_name = "PATH")]
    pub fault_file: Option<PathBuf>,
    /// BMC preset: timings, buffer size, capabilities, watchdog quirks.
    #[arg(long, value_name = "PRESET", default_value = "default")]
    pub bmc: BmcPreset,
    /// Watchdog behaviour (overrides the preset's): the IPMI spec, or the
    /// quirks of QEMU's, OpenIPMI's or OpenBMC's BMC.
    #[arg(long, value_name = "PROFILE")]
    pub watchdog_profile: Option<WatchdogProfile>,
    /// Log every protocol event on stderr.
    #[arg(long, short)]
    pub verbose: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, FromArgMatches};
    use std::ffi::OsString;

    fn argv(line: &str) -> Vec<OsString> {
        std::iter::once("bmcwd")
            .chain(line.split_whitespace())
            .map(OsString::from)
            .collect()
    }

    /// What the whole tree makes of `argv`: the parsed command line, or the
    /// kind of error (help and version are errors to clap).
    fn whole(argv: &[OsString]) -> Result<String, clap::error::ErrorKind> {
        Cli::command()
            .try_get_matches_from(argv)
            .and_then(|m| Cli::from_arg_matches(&m))
            .map(|c| format!("{c:?}"))
            .map_err(|e| e.kind())
    }

    #[test]
    fn lean_parse_means_what_the_whole_tree_means() {
        let lean = [
            "get",
            "--json get",
            "get --json",
            "--device /dev/ipmi0 get",
            "--device=/dev/ipmi0 --cmd-timeout 5s get --state-file /tmp/s",
            "--socket s pet",
            "--socket s reset --if-running",
            "off",
            "--sim stop",
            "clear --cmd-timeout 1m",
            "set --timeout 90s --use os-load --action power-cycle --pretimeout 5s \
             --pretimeout-irq nmi --dont-log --dont-stop --clear-flags all",
            "set --use frb2",
            "start --timeout 1m30s --if-stopped",
            "start",
            "daemon",
            "--device /dev/ipmi0 daemon --timeout 60s --interval 20s --action hard-reset",
            "daemon -vv --log stderr --config none --on-exit leave --no-rearm \
             --kernel mainline --max-backoff 2s --check --json",
        ];
        for line in lean {
            let a = argv(line);
            let Some((cli, _)) = parse_lean(&a) else {
                panic!("`{line}` was not parsed with the small tree");
            };
            assert_eq!(Ok(format!("{cli:?}")), whole(&a), "{line}");
        }
        // Help, version, errors and the other subcommands: the whole tree.
        let fallback = [
            "",
            "-h",
            "--help",
            "get --help",
            "daemon -h",
            "--version",
            "-V",
            "get --version",
            "help get",
            "get extra",
            "get --bogus",
            "ge",
            "--device a --socket b get",
            "--cmd-timeout get get",
            "set --timeout",
            "set --use nope",
            "reset --if-stopped --if-running",
            "daemon --verbose --quiet",
            "scenario run x.toml",
            "sim serve --socket s",
            "completions bash",
            "man /tmp/m",
        ];
        for line in fallback {
            assert!(parse_lean(&argv(line)).is_none(), "`{line}`");
        }
    }

    #[test]
    fn the_subcommand_is_found_past_every_global_value() {
        let g = Globals::augment_args(clap::Command::new("bmcwd"));
        let valued: Vec<&str> = g
            .get_arguments()
            .filter(|a| a.get_action().takes_values())
            .filter_map(|a| a.get_long())
            .collect();
        for known in ["device", "socket", "cmd-timeout", "state-file"] {
            assert!(valued.contains(&known), "{known} in {valued:?}");
        }
        for long in valued {
            let a = argv(&format!("--{long} daemon get"));
            assert_eq!(subcommand_name(&g, &a), Some("get"), "--{long} daemon");
            let a = argv(&format!("--{long}=daemon get"));
            assert_eq!(subcommand_name(&g, &a), Some("get"), "--{long}=daemon");
        }
        assert_eq!(subcommand_name(&g, &argv("--json --sim pet")), Some("pet"));
        assert_eq!(subcommand_name(&g, &argv("--json")), None);
    }

    #[test]
    fn lean_trees_hold_the_derived_definitions() {
        fn shape(c: &clap::Command) -> (String, Vec<String>, Vec<String>, Vec<String>) {
            (
                c.get_name().to_owned(),
                c.get_visible_aliases().map(str::to_owned).collect(),
                c.get_arguments().map(|a| format!("{a:?}")).collect(),
                // The derive gives the whole tree an empty group `Cli`.
                c.get_groups()
                    .filter(|g| g.get_args().next().is_some())
                    .map(|g| format!("{g:?}"))
                    .collect(),
            )
        }
        let whole = Cli::command();
        let operator = ["get", "set", "reset", "start", "stop", "clear", "daemon"];
        for name in operator {
            let lean = lean_tree(Globals::augment_args(clap::Command::new("bmcwd")), name).unwrap();
            assert_eq!(
                (shape(&lean).2, shape(&lean).3),
                (shape(&whole).2, shape(&whole).3),
                "global options with {name}"
            );
            assert_eq!(lean.get_subcommands().count(), 1);
            assert_eq!(
                shape(lean.find_subcommand(name).unwrap()),
                shape(whole.find_subcommand(name).unwrap()),
                "{name}"
            );
        }
        let g = || Globals::augment_args(clap::Command::new("bmcwd"));
        assert!(lean_tree(g(), "pet").is_some() && lean_tree(g(), "off").is_some());
        // A new subcommand is either an operator one with a small tree or
        // listed here as one that parses with the whole tree.
        for s in whole.get_subcommands() {
            let n = s.get_name();
            assert!(
                operator.contains(&n)
                    || ["scenario", "sim", "bt", "completions", "man"].contains(&n),
                "subcommand {n}: give it a lean_tree arm or list it here"
            );
        }
    }
}
