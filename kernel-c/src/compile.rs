//! Building the user's `ipmi_bt_sm.c` into a shared object: the file and our
//! shim (embedded in the binary) are written into a cache directory keyed by
//! a hash of (source, shim, compiler version) and compiled there with the
//! system C compiler; a second run with the same inputs reuses the object.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The shim files, embedded so a user needs nothing but the binary and a C compiler.
const SHIM: &[(&str, &str)] = &[
    ("ipmi_si_sm.h", include_str!("../shim/ipmi_si_sm.h")),
    ("linux/kernel.h", include_str!("../shim/linux/kernel.h")),
    ("linux/string.h", include_str!("../shim/linux/string.h")),
    ("linux/module.h", include_str!("../shim/linux/module.h")),
    (
        "linux/moduleparam.h",
        include_str!("../shim/linux/moduleparam.h"),
    ),
    (
        "linux/ipmi_msgdefs.h",
        include_str!("../shim/linux/ipmi_msgdefs.h"),
    ),
    ("bmcwd_harness.c", include_str!("../shim/bmcwd_harness.c")),
];

/// Largest source file accepted (the kernel's is about 20 kB).
const MAX_SOURCE: u64 = 4 << 20;

/// Why a C file could not be turned into a loadable state machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildError {
    /// The file could not be read.
    Read(String),
    /// The file is not a BT state machine we can drive (what is missing).
    Shape(String),
    /// The C compiler could not be run at all.
    NoCompiler(String),
    /// The compiler rejected the file: its own messages.
    Compile {
        /// The compiler command.
        compiler: String,
        /// What the compiler printed.
        stderr: String,
    },
    /// The cache directory could not be written.
    Cache(String),
    /// The shared object did not load or lacks the harness.
    Load(String),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::Read(m) | BuildError::Cache(m) | BuildError::Load(m) => f.write_str(m),
            BuildError::Shape(m) => write!(f, "not a BT state machine we can drive: {m}"),
            BuildError::NoCompiler(m) => write!(f, "cannot run the C compiler: {m}"),
            BuildError::Compile { compiler, stderr } => write!(
                f,
                "the C file does not compile with {compiler} against bmcwd's kernel shim; the compiler said:\n{}",
                stderr.trim_end()
            ),
        }
    }
}

impl std::error::Error for BuildError {}

/// Where and with what to build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildOptions {
    /// Cache directory (default: `$BMCWD_KERNEL_C_CACHE`, else
    /// `$XDG_CACHE_HOME/bmcwd/kernel-c`, else `~/.cache/bmcwd/kernel-c`).
    pub cache_dir: PathBuf,
    /// The C compiler (default `$CC`, else `cc`).
    pub compiler: String,
}

impl Default for BuildOptions {
    fn default() -> Self {
        let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        let cache_dir = env("BMCWD_KERNEL_C_CACHE")
            .map(PathBuf::from)
            .or_else(|| env("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("bmcwd/kernel-c")))
            .or_else(|| env("HOME").map(|d| PathBuf::from(d).join(".cache/bmcwd/kernel-c")))
            .unwrap_or_else(|| std::env::temp_dir().join("bmcwd-kernel-c"));
        let compiler = std::env::var("CC")
            .ok()
            .filter(|c| !c.trim().is_empty())
            .unwrap_or_else(|| "cc".to_string());
        Self {
            cache_dir,
            compiler,
        }
    }
}

/// What the source looks like (decided from its text before compiling).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileShape {
    /// 2018 onwards: capabilities fetched in `bt_detect` (4.18+, 6.1).
    CapsInDetect,
    /// 2006–2018: capabilities fetched lazily inside the state machine
    /// (`BT_STATE_CAPABILITIES_BEGIN`).
    CapsInSm,
}

/// The source checked for what the harness needs; `Err` names what is missing.
pub(crate) fn check_shape(src: &str) -> Result<(FileShape, bool), BuildError> {
    let mut missing = Vec::new();
    for (what, needle) in [
        ("the handler table `bt_smi_handlers`", "bt_smi_handlers"),
        ("the `struct si_sm_data` definition", "struct si_sm_data {"),
        ("the `bt_debug` module parameter", "bt_debug"),
        ("the `state2txt` helper", "state2txt"),
    ] {
        if !src.contains(needle) {
            missing.push(what);
        }
    }
    if src.contains("BT_STATE_B2H_WAIT") {
        return Err(BuildError::Shape(
            "this is the 2005 design (BT_STATE_B2H_WAIT, 2.6.12-2.6.19); only the 2006+ files (2.6.20 onwards) are supported"
                .into(),
        ));
    }
    if !missing.is_empty() {
        return Err(BuildError::Shape(format!(
            "the file lacks {}",
            missing.join(", ")
        )));
    }
    let shape = if src.contains("BT_STATE_CAPABILITIES_BEGIN") {
        FileShape::CapsInSm
    } else {
        FileShape::CapsInDetect
    };
    Ok((shape, src.contains("dev_warn(")))
}

/// FNV-1a, 64 bits, from a seed (two seeds make the 128-bit cache key).
fn fnv(seed: u64, parts: &[&[u8]]) -> u64 {
    let mut h = seed;
    for p in parts {
        for &b in p.iter().chain(&[0xffu8]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

fn compiler_version(compiler: &str) -> Result<String, BuildError> {
    let out = Command::new(compiler)
        .arg("--version")
        .output()
        .map_err(|e| BuildError::NoCompiler(format!("{compiler}: {e} (set CC to a C compiler)")))?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A source read and checked, and the shared object built from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Built {
    /// The shared object.
    pub object: PathBuf,
    /// The file's shape.
    pub shape: FileShape,
    /// The file logs with `dev_*` (newer texts) rather than `printk`.
    pub dev_style: bool,
    /// The source path as given.
    pub source: PathBuf,
    /// Whether the object came from the cache.
    pub cached: bool,
}

/// Reads `source`, checks it, and builds (or reuses) its shared object.
pub fn build(source: &Path, opts: &BuildOptions) -> Result<Built, BuildError> {
    let meta = std::fs::metadata(source)
        .map_err(|e| BuildError::Read(format!("cannot read {}: {e}", source.display())))?;
    if meta.len() > MAX_SOURCE {
        return Err(BuildError::Read(format!(
            "{} is {} bytes; an ipmi_bt_sm.c is about 20 kB (limit {MAX_SOURCE})",
            source.display(),
            meta.len()
        )));
    }
    let bytes = std::fs::read(source)
        .map_err(|e| BuildError::Read(format!("cannot read {}: {e}", source.display())))?;
    let src = String::from_utf8_lossy(&bytes).into_owned();
    let (shape, dev_style) = check_shape(&src)?;
    let version = compiler_version(&opts.compiler)?;
    let mut parts: Vec<&[u8]> = vec![&bytes, opts.compiler.as_bytes(), version.as_bytes()];
    for (name, text) in SHIM {
        parts.push(name.as_bytes());
        parts.push(text.as_bytes());
    }
    let key = format!(
        "{:016x}{:016x}",
        fnv(0xcbf2_9ce4_8422_2325, &parts),
        fnv(0x84222325_cbf29ce4, &parts)
    );
    let dir = opts.cache_dir.join(&key);
    let object = dir.join("bt_sm.so");
    let built = |cached| Built {
        object: object.clone(),
        shape,
        dev_style,
        source: source.to_path_buf(),
        cached,
    };
    if object.is_file() {
        return Ok(built(true));
    }
    let cache_err = |e: std::io::Error, p: &Path| {
        BuildError::Cache(format!(
            "cannot write the build cache {} ({e}); set BMCWD_KERNEL_C_CACHE to a writable directory",
            p.display()
        ))
    };
    std::fs::create_dir_all(dir.join("linux")).map_err(|e| cache_err(e, &dir))?;
    for (name, text) in SHIM {
        let p = dir.join(name);
        std::fs::write(&p, text).map_err(|e| cache_err(e, &p))?;
    }
    let user = dir.join("bt_sm_user.c");
    std::fs::write(&user, &bytes).map_err(|e| cache_err(e, &user))?;
    let tmp = dir.join(format!("bt_sm.so.tmp{}", std::process::id()));
    let out = Command::new(&opts.compiler)
        .current_dir(&dir)
        .args([
            "-shared",
            "-fPIC",
            "-O2",
            "-g",
            "-std=gnu11",
            "-fno-strict-aliasing",
            "-fwrapv",
            "-Wno-unused-function",
            "-Wno-unused-variable",
            "-Wl,-z,defs",
            "-I",
            ".",
            "-o",
        ])
        .arg(&tmp)
        .arg("bmcwd_harness.c")
        .output()
        .map_err(|e| BuildError::NoCompiler(format!("{}: {e}", opts.compiler)))?;
    if !out.status.success() {
        let _ = std::fs::remove_file(&tmp);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let shown = stderr.replace("bt_sm_user.c", &source.display().to_string());
        return Err(BuildError::Compile {
            compiler: opts.compiler.clone(),
            stderr: shown,
        });
    }
    std::fs::rename(&tmp, &object).map_err(|e| cache_err(e, &object))?;
    Ok(built(false))
}
