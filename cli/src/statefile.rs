//! The "last Set" memory for a fresh CLI process.
//!
//! Linux's driver answers a Reset's 0x80 by re-sending the Set it last sent
//! (`ipmi_watchdog.c`, `__ipmi_heartbeat`); it has that Set in memory. A CLI
//! invocation does not, and a Get cannot stand in for it: after a BMC reset —
//! exactly when 0x80 happens — the BMC's configuration is the reset default,
//! not ours. So every successful `set`/`start` writes its request bytes to a
//! small per-BMC state file, and `reset` re-sends them on 0x80. The daemon
//! keeps its Set in memory and also writes the file.

use std::ffi::OsString;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use ipmi_watchdog::SetWatchdog;

/// Environment variable overriding the state directory.
pub const STATE_DIR_ENV: &str = "BMCWD_STATE_DIR";

/// The directory for state files: `$BMCWD_STATE_DIR`, else `/run/bmcwd` when
/// writable (root), else `$XDG_RUNTIME_DIR/bmcwd`, else `/tmp/bmcwd-$UID`.
/// An empty variable counts as unset (an empty path would put the state
/// files in whatever directory bmcwd happens to run in).
pub fn default_dir() -> PathBuf {
    dir_from(
        std::env::var_os(STATE_DIR_ENV),
        std::env::var_os("XDG_RUNTIME_DIR"),
    )
}

fn dir_from(state_dir: Option<OsString>, xdg_runtime: Option<OsString>) -> PathBuf {
    let set = |v: Option<OsString>| v.filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(d) = set(state_dir) {
        return d;
    }
    let run = Path::new("/run/bmcwd");
    if std::fs::create_dir_all(run).is_ok() && is_writable_dir(run) {
        return run.to_path_buf();
    }
    if let Some(x) = set(xdg_runtime) {
        return x.join("bmcwd");
    }
    let uid = std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(0);
    let tmp = Some(std::env::temp_dir())
        .filter(|t| t.is_absolute())
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    tmp.join(format!("bmcwd-{uid}"))
}

fn is_writable_dir(dir: &Path) -> bool {
    let probe = dir.join(format!(".probe-{}", std::process::id()));
    let ok = std::fs::write(&probe, b"").is_ok();
    let _ = std::fs::remove_file(&probe);
    ok
}

/// The state file for the BMC named `key` (see `Target::state_key`).
pub fn default_path(key: &str) -> PathBuf {
    default_dir().join(format!("{key}.last-set"))
}

/// Writes the Set's six request bytes as hex on one line, atomically
/// (write to a temporary file, then rename).
pub fn save(path: &Path, set: &SetWatchdog) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| {
            let what = if dir.is_file() {
                "it is a file, not a directory".to_string()
            } else {
                e.to_string()
            };
            io::Error::new(
                e.kind(),
                format!("cannot create the directory {}: {what}", dir.display()),
            )
        })?;
    }
    let text: Vec<String> = set.encode().iter().map(|b| format!("{b:02x}")).collect();
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(
        &tmp,
        format!(
            "# bmcwd: last Set Watchdog Timer request (IPMI v2.0 §27.6), re-sent on Reset 0x80\n{}\n",
            text.join(" ")
        ),
    )?;
    std::fs::rename(&tmp, path)
}

/// Why a state file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Not there (no `set`/`start` recorded for this BMC).
    #[error("no state file at {0}")]
    Missing(PathBuf),
    /// Unreadable.
    #[error("cannot read {0}: {1}")]
    Io(PathBuf, io::Error),
    /// Not six hex bytes of a valid Set.
    #[error("{0} is corrupt ({1}): delete it and run `bmcwd start` or `bmcwd set` again")]
    Corrupt(PathBuf, String),
}

/// Reads and validates a state file.
pub fn load(path: &Path) -> Result<SetWatchdog, LoadError> {
    let raw = std::fs::read(path).map_err(|e| {
        if e.kind() == io::ErrorKind::NotFound {
            LoadError::Missing(path.to_path_buf())
        } else {
            LoadError::Io(path.to_path_buf(), e)
        }
    })?;
    let corrupt = |why: String| LoadError::Corrupt(path.to_path_buf(), why);
    // Not text is a corrupt file (delete and re-set), not an I/O failure.
    let text = String::from_utf8(raw).map_err(|_| corrupt("not text".into()))?;
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .ok_or_else(|| corrupt("no data line".into()))?;
    let bytes: Vec<u8> = line
        .split_whitespace()
        .map(|h| u8::from_str_radix(h, 16))
        .collect::<Result<_, _>>()
        .map_err(|e| corrupt(e.to_string()))?;
    SetWatchdog::decode(&bytes).map_err(|cc| corrupt(format!("not a valid Set request: {cc}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipmi_watchdog::{Countdown, TimerAction, TimerUse};

    #[test]
    fn empty_environment_values_count_as_unset() {
        let d = dir_from(Some("/x/state".into()), Some("/x/xdg".into()));
        assert_eq!(d, PathBuf::from("/x/state"));
        for (state, xdg) in [(Some(""), Some("")), (Some(""), None), (None, Some(""))] {
            let d = dir_from(state.map(Into::into), xdg.map(Into::into));
            assert!(d.is_absolute(), "{}", d.display());
        }
    }

    #[test]
    fn round_trips_and_rejects_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/x.last-set");
        let mut s = SetWatchdog::new(
            TimerUse::SmsOs,
            TimerAction::HardReset,
            Countdown::from_ticks(600),
        );
        s.dont_stop = true;
        save(&p, &s).unwrap();
        assert_eq!(load(&p).unwrap(), s);
        std::fs::write(&p, "zz 01\n").unwrap();
        assert!(matches!(load(&p), Err(LoadError::Corrupt(..))));
        std::fs::write(&p, "00 01 00 00 64 00\n").unwrap(); // reserved timer use 0
        assert!(matches!(load(&p), Err(LoadError::Corrupt(..))));
        std::fs::write(&p, b"\x80\xff 04\n").unwrap(); // not UTF-8
        let e = load(&p).unwrap_err();
        assert!(matches!(e, LoadError::Corrupt(..)), "{e}");
        assert!(e.to_string().contains("delete it"), "{e}");
        std::fs::write(&p, "# only a comment\n\n").unwrap();
        assert!(matches!(load(&p), Err(LoadError::Corrupt(..))));
        std::fs::write(&p, "04 01 00 00 64 00 00\n").unwrap(); // seven bytes
        assert!(matches!(load(&p), Err(LoadError::Corrupt(..))));
        assert!(matches!(
            load(&dir.path().join("none")),
            Err(LoadError::Missing(_))
        ));
        // A state directory that is a file is named as such.
        let e = save(&p.join("y.last-set"), &s).unwrap_err().to_string();
        assert!(e.contains("it is a file, not a directory"), "{e}");
        assert!(e.contains("x.last-set"), "{e}");
    }
}
