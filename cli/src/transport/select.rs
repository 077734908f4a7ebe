//! Which transport a command uses: `--device PATH`, `--socket PATH`, `--sim`, or
//! — with none of them — the first `/dev/ipmiN` present, else the embedded
//! simulator (with a note on stderr, so `bmcwd get` works on any machine).

use std::path::{Path, PathBuf};

/// Where the user asked (or we decided) to send commands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A kernel IPMI device node.
    Device(PathBuf),
    /// A simulator served on a Unix socket (`bmcwd sim serve`).
    Socket(PathBuf),
    /// The embedded simulator, fresh in this process.
    Sim,
}

impl Target {
    /// A key naming this BMC, for the per-BMC state file.
    pub fn state_key(&self) -> Option<String> {
        let sanitize = |p: &Path| -> String {
            p.display()
                .to_string()
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect()
        };
        match self {
            Self::Device(p) => Some(format!("dev{}", sanitize(p))),
            Self::Socket(p) => Some(format!("sock{}", sanitize(p))),
            // A fresh simulator per process: nothing to remember.
            Self::Sim => None,
        }
    }
}

/// The IPMI device nodes present under `dev_dir`, in order: `ipmi0`, `ipmi1`,
/// …, then the devfs-style `ipmi/0` and `ipmidev/0` that ipmitool also tries.
pub fn find_devices(dev_dir: &Path) -> Vec<PathBuf> {
    let mut numbered: Vec<(u32, PathBuf)> = std::fs::read_dir(dev_dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter_map(|e| {
                    let name = e.file_name();
                    let n: u32 = name.to_str()?.strip_prefix("ipmi")?.parse().ok()?;
                    Some((n, e.path()))
                })
                .collect()
        })
        .unwrap_or_default();
    numbered.sort();
    let mut out: Vec<PathBuf> = numbered.into_iter().map(|(_, p)| p).collect();
    for alt in ["ipmi/0", "ipmidev/0"] {
        let p = dev_dir.join(alt);
        if p.exists() {
            out.push(p);
        }
    }
    out
}

/// Resolves the flags into a target. `None` for all three flags means
/// auto-detect in `dev_dir` (normally `/dev`); the returned flag says whether
/// the simulator was chosen automatically (the caller prints a note).
pub fn resolve(
    device: Option<&Path>,
    socket: Option<&Path>,
    sim: bool,
    dev_dir: &Path,
) -> (Target, bool) {
    if let Some(d) = device {
        return (Target::Device(d.to_path_buf()), false);
    }
    if let Some(s) = socket {
        return (Target::Socket(s.to_path_buf()), false);
    }
    if sim {
        return (Target::Sim, false);
    }
    match find_devices(dev_dir).into_iter().next() {
        Some(p) => (Target::Device(p), false),
        None => (Target::Sim, true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_picks_lowest_device_else_sim() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(resolve(None, None, false, dir.path()), (Target::Sim, true));
        std::fs::write(dir.path().join("ipmi3"), b"").unwrap();
        std::fs::write(dir.path().join("ipmi1"), b"").unwrap();
        std::fs::write(dir.path().join("ipmiX"), b"").unwrap();
        assert_eq!(
            resolve(None, None, false, dir.path()),
            (Target::Device(dir.path().join("ipmi1")), false)
        );
        assert_eq!(resolve(None, None, true, dir.path()), (Target::Sim, false));
        let s = Path::new("/tmp/s");
        assert_eq!(
            resolve(None, Some(s), false, dir.path()),
            (Target::Socket(s.to_path_buf()), false)
        );
    }

    #[test]
    fn state_keys_are_file_names() {
        let k = Target::Device("/dev/ipmi0".into()).state_key().unwrap();
        assert_eq!(k, "dev_dev_ipmi0");
        assert!(Target::Sim.state_key().is_none());
    }
}
