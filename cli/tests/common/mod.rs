//! Shared helpers for the end-to-end tests: a `bmcwd sim serve --socket`
//! child process per test, killed on drop.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::cargo::CommandCargoExt;
use assert_cmd::Command;

/// A served simulator and a private state directory.
pub struct Server {
    child: Child,
    pub dir: tempfile::TempDir,
    pub socket: PathBuf,
    pub fault: PathBuf,
}

impl Server {
    /// Starts `bmcwd sim serve --socket DIR/bmc.sock --fault-file DIR/fault`
    /// and waits (up to 10 s) until the socket accepts connections.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("bmc.sock");
        let fault = dir.path().join("fault");
        std::fs::write(&fault, "none\n").unwrap();
        let child = StdCommand::cargo_bin("bmcwd")
            .unwrap()
            .args(["sim", "serve", "--socket"])
            .arg(&socket)
            .arg("--fault-file")
            .arg(&fault)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::os::unix::net::UnixStream::connect(&socket).is_err() {
            assert!(Instant::now() < deadline, "server did not come up");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            child,
            dir,
            socket,
            fault,
        }
    }

    /// `bmcwd --socket SOCK ARGS…` with the state directory inside the temp dir.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::cargo_bin("bmcwd").unwrap();
        c.env("BMCWD_STATE_DIR", self.dir.path().join("state"))
            .env("BMCWD_LOG", "stderr")
            .env("BMCWD_CONFIG", "none")
            .arg("--socket")
            .arg(&self.socket)
            .args(args)
            .timeout(Duration::from_secs(30));
        c
    }

    /// Runs `bmcwd --socket … ARGS`, which must succeed, and parses its
    /// stdout as JSON (pass `--json` in `args`).
    pub fn json_ok(&self, args: &[&str]) -> serde_json::Value {
        json(&self.cmd(args).assert().success().get_output().stdout)
    }

    /// Sets the link fault (see `bmcwd sim serve --help`), then waits for the
    /// 50 ms poll of the fault file to pick it up.
    pub fn fault(&self, spec: &str) {
        std::fs::write(&self.fault, format!("{spec}\n")).unwrap();
        std::thread::sleep(Duration::from_millis(250));
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `bmcwd ARGS…` with no transport flags, its state in `dir`, the daemon
/// logging to stderr and reading no configuration file.
pub fn bmcwd(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::cargo_bin("bmcwd").unwrap();
    c.env("BMCWD_STATE_DIR", dir)
        .env("BMCWD_LOG", "stderr")
        .env("BMCWD_CONFIG", "none")
        .args(args)
        .timeout(Duration::from_secs(30));
    c
}

/// Parses stdout as JSON.
pub fn json(out: &[u8]) -> serde_json::Value {
    serde_json::from_slice(out).unwrap()
}
