//! The daemon's configuration file (a module of the `bmcwd` binary): TOML
//! whose keys are the long names of the daemon's options (`timeout = "5m"`,
//! `on-exit = "leave"`, `device = "/dev/ipmi0"`); flags given on the command
//! line override it. Unknown keys are errors, and every error names the
//! file, the line and the key.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use clap::parser::ValueSource;
use clap::{ArgMatches, ValueEnum};
use serde::Deserialize;
use toml::Spanned;

use bmcwd::Deciseconds;

use crate::args::{DaemonArgs, TargetArgs};
use crate::exit::CliError;

/// Where root's configuration lives (the Debian package's conffile).
pub const SYSTEM_PATH: &str = "/etc/bmcwd/bmcwd.toml";

/// The keys, as written in the file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct File {
    device: Option<Spanned<String>>,
    socket: Option<Spanned<String>>,
    cmd_timeout: Option<Spanned<String>>,
    state_file: Option<Spanned<String>>,
    timeout: Option<Spanned<String>>,
    #[serde(rename = "use")]
    timer_use: Option<Spanned<String>>,
    action: Option<Spanned<String>>,
    pretimeout: Option<Spanned<String>>,
    pretimeout_irq: Option<Spanned<String>>,
    dont_log: Option<Spanned<bool>>,
    clear_flags: Option<Spanned<String>>,
    interval: Option<Spanned<String>>,
    on_exit: Option<Spanned<String>>,
    no_rearm: Option<Spanned<bool>>,
    kernel: Option<Spanned<String>>,
    log: Option<Spanned<String>>,
    max_backoff: Option<Spanned<String>>,
}

/// A loaded configuration file.
#[derive(Debug)]
pub struct Config {
    path: PathBuf,
    text: String,
    file: File,
}

/// The file `--config` names, or the default one when it exists: root's
/// [`SYSTEM_PATH`], otherwise `$XDG_CONFIG_HOME/bmcwd/bmcwd.toml` (or
/// `~/.config/bmcwd/bmcwd.toml`). `--config none` reads nothing.
pub fn locate(flag: Option<&Path>) -> Option<PathBuf> {
    match flag {
        Some(p) if p == Path::new("none") => None,
        Some(p) => Some(p.to_path_buf()),
        None => {
            let root = std::fs::metadata("/proc/self")
                .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
                .unwrap_or(false);
            let path = default_path(
                root,
                std::env::var_os("XDG_CONFIG_HOME"),
                std::env::var_os("HOME"),
            )?;
            path.exists().then_some(path)
        }
    }
}

/// The default configuration file: root's [`SYSTEM_PATH`], else under
/// `$XDG_CONFIG_HOME` (when set and absolute, as the XDG base directory
/// specification asks), else under `$HOME/.config`.
fn default_path(
    root: bool,
    xdg: Option<std::ffi::OsString>,
    home: Option<std::ffi::OsString>,
) -> Option<PathBuf> {
    if root {
        return Some(PathBuf::from(SYSTEM_PATH));
    }
    let base = xdg
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| home.map(|h| Path::new(&h).join(".config")))?;
    Some(base.join("bmcwd/bmcwd.toml"))
}

impl Config {
    /// Reads and parses `path`.
    pub fn load(path: &Path) -> Result<Self, CliError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            CliError::Input(format!(
                "cannot read the configuration file {}: {e}",
                path.display()
            ))
        })?;
        let mut cfg = Self {
            path: path.to_path_buf(),
            text,
            file: File::default(),
        };
        match toml::from_str::<File>(&cfg.text) {
            Ok(f) => cfg.file = f,
            Err(e) => {
                let msg = e.message().trim().to_string();
                return Err(match e.span() {
                    Some(span) => cfg.error(span, &msg),
                    None => CliError::Input(format!("{}: {msg}", path.display())),
                });
            }
        }
        Ok(cfg)
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `FILE:LINE: key `KEY`: MSG` for the byte range `span`; the key is what
    /// stands before the `=` on that line.
    fn error(&self, span: Range<usize>, msg: &str) -> CliError {
        let start = span.start.min(self.text.len());
        let before = self.text.get(..start).unwrap_or_default();
        let line_no = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let line = self
            .text
            .get(line_start..)
            .and_then(|l| l.lines().next())
            .unwrap_or_default();
        let key = line.split('=').next().unwrap_or_default().trim();
        CliError::Input(format!(
            "{}:{line_no}: key `{key}`: {msg}",
            self.path.display()
        ))
    }

    fn value<T>(
        &self,
        v: &Option<Spanned<String>>,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<Option<T>, CliError> {
        v.as_ref()
            .map(|s| parse(s.get_ref()).map_err(|m| self.error(s.span(), &m)))
            .transpose()
    }

    /// Applies the file to the daemon's options: every key whose option was
    /// not given on the command line or in its environment variable (`m`,
    /// the daemon's matches) replaces the option's default. `clear_flags`
    /// checks a `clear-flags` list (the command's own parser, passed in so
    /// that this module does not depend on `app`).
    pub fn apply(
        &self,
        m: &ArgMatches,
        clear_flags: impl Fn(&str) -> Result<(), String>,
        target: &mut TargetArgs,
        cmd_timeout: &mut Deciseconds,
        state_file: &mut Option<PathBuf>,
        a: &mut DaemonArgs,
    ) -> Result<(), CliError> {
        let given = |id: &str| {
            matches!(
                m.value_source(id),
                Some(ValueSource::CommandLine | ValueSource::EnvVariable)
            )
        };
        let f = &self.file;
        let dur = |s: &str| Deciseconds::from_str(s).map_err(|e| e.to_string());
        let path = |s: &str| Ok::<_, String>(PathBuf::from(s));
        if !(given("device") || given("socket") || given("sim")) {
            if let (Some(_), Some(s)) = (&f.device, &f.socket) {
                return Err(self.error(s.span(), "give `device` or `socket`, not both"));
            }
            if let Some(d) = self.value(&f.device, path)? {
                *target = TargetArgs {
                    device: Some(d),
                    ..TargetArgs::default()
                };
            }
            if let Some(s) = self.value(&f.socket, path)? {
                *target = TargetArgs {
                    socket: Some(s),
                    ..TargetArgs::default()
                };
            }
        }
        macro_rules! set {
            ($id:literal, $field:expr, $place:expr, $parse:expr) => {
                if !given($id) {
                    if let Some(v) = self.value(&$field, $parse)? {
                        $place = v;
                    }
                }
            };
        }
        set!("cmd_timeout", f.cmd_timeout, *cmd_timeout, dur);
        if !given("state_file") {
            if let Some(p) = self.value(&f.state_file, path)? {
                *state_file = Some(p);
            }
        }
        set!("timeout", f.timeout, a.start.timeout, dur);
        set!("timer_use", f.timer_use, a.start.timer_use, choice);
        set!("action", f.action, a.start.action, choice);
        set!("pretimeout", f.pretimeout, a.start.pretimeout, dur);
        if !given("pretimeout_irq") {
            if let Some(v) = self.value(&f.pretimeout_irq, choice)? {
                a.start.pretimeout_irq = Some(v);
            }
        }
        if !given("clear_flags") {
            if let Some(v) =
                self.value(&f.clear_flags, |s| clear_flags(s).map(|()| s.to_string()))?
            {
                a.start.clear_flags = Some(v);
            }
        }
        if !given("interval") {
            if let Some(v) = self.value(&f.interval, dur)? {
                a.interval = Some(v);
            }
        }
        set!("on_exit", f.on_exit, a.on_exit, choice);
        set!("kernel", f.kernel, a.kernel, |s: &str| {
            crate::simcmd::preset(s)
                .map(|_| s.to_string())
                .map_err(|_| {
                    format!(
                        "unknown kernel preset `{s}`; use one of {}",
                        bmc_sim::KernelPreset::NAMES.join(", ")
                    )
                })
        });
        set!("log", f.log, a.log, choice);
        set!("max_backoff", f.max_backoff, a.max_backoff, dur);
        if !given("dont_log") {
            if let Some(b) = &f.dont_log {
                a.start.dont_log = *b.get_ref();
            }
        }
        if !given("no_rearm") {
            if let Some(b) = &f.no_rearm {
                a.no_rearm = *b.get_ref();
            }
        }
        Ok(())
    }
}

/// One of an option's possible values, spelled as on the command line.
fn choice<T: ValueEnum>(s: &str) -> Result<T, String> {
    T::from_str(s, false).map_err(|_| {
        let names: Vec<String> = T::value_variants()
            .iter()
            .filter_map(|v| v.to_possible_value().map(|p| p.get_name().to_string()))
            .collect();
        format!("`{s}` is not one of {}", names.join(", "))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Config, String> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bmcwd.toml");
        std::fs::write(&p, text).unwrap();
        Config::load(&p).map_err(|e| e.to_string().replace(&p.display().to_string(), "FILE"))
    }

    #[test]
    fn errors_name_file_line_and_key() {
        let e = load("timeout = \"5m\"\n\nbogus = 1\n").unwrap_err();
        assert!(
            e.starts_with("FILE:3: key `bogus`: unknown field `bogus`"),
            "{e}"
        );
        let e = load("timeout = \"5m\"\non-exit = 3\n").unwrap_err();
        assert!(e.starts_with("FILE:2: key `on-exit`: invalid type"), "{e}");
        let e = load("timeout = \n").unwrap_err();
        assert!(e.starts_with("FILE:1: key `timeout`:"), "{e}");
    }

    /// Every option of `bmcwd daemon` (and the global ones it uses) has a
    /// key, spelled as the long option, except those that make no sense in
    /// a file.
    #[test]
    fn every_daemon_option_has_a_key() {
        use clap::CommandFactory;
        let mut cmd = crate::args::Cli::command();
        cmd.build();
        let daemon = cmd.find_subcommand("daemon").unwrap();
        let skip = [
            "check", "config", "verbose", "quiet", "help", "version", "json", "sim",
        ];
        let mut n = 0;
        for long in daemon.get_arguments().filter_map(|a| a.get_long()) {
            if skip.contains(&long) {
                continue;
            }
            // An array is the wrong type for every key: a known key gives
            // "invalid type", an unknown one "unknown field".
            let e = load(&format!("{long} = []\n")).unwrap_err();
            assert!(e.contains("invalid type"), "--{long} has no key: {e}");
            n += 1;
        }
        assert_eq!(n, 17);
    }

    #[test]
    fn choices_list_the_names() {
        let e = choice::<crate::args::ActionArg>("explode").unwrap_err();
        assert_eq!(
            e,
            "`explode` is not one of hard-reset, power-down, power-cycle, none"
        );
        assert_eq!(
            choice::<crate::args::OnExit>("leave"),
            Ok(crate::args::OnExit::Leave)
        );
    }

    #[test]
    fn default_paths() {
        let os = |s: &str| Some(std::ffi::OsString::from(s));
        assert_eq!(
            default_path(true, os("/x"), os("/root")),
            Some(PathBuf::from(SYSTEM_PATH))
        );
        assert_eq!(
            default_path(false, os("/x"), os("/home/u")),
            Some(PathBuf::from("/x/bmcwd/bmcwd.toml"))
        );
        // A relative (or empty) XDG_CONFIG_HOME is ignored.
        assert_eq!(
            default_path(false, os("rel"), os("/home/u")),
            Some(PathBuf::from("/home/u/.config/bmcwd/bmcwd.toml"))
        );
        assert_eq!(default_path(false, None, None), None);
    }

    #[test]
    fn none_reads_no_file() {
        assert_eq!(locate(Some(Path::new("none"))), None);
        assert_eq!(
            locate(Some(Path::new("/x.toml"))),
            Some(PathBuf::from("/x.toml"))
        );
    }
}
