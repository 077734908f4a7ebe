//! The operator examples of the top-level README run as written, one after
//! another (issue #14: on fresh embedded simulators `set --clear-flags all
//! --dont-stop` exited 2 and `reset` exited 3). The block is read from
//! README.md, so the test fails when the README drifts: each line must start
//! with `bmcwd`, the first one serves the simulator (`… &`), every other one
//! must exit 0 against it, and the daemon line is stopped with SIGTERM once
//! it has armed the timer (`--on-exit stop`: exit 0, timer stopped).

use std::path::Path;
use std::process::{Child, Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::cargo::CommandCargoExt;

/// The socket path the README's block uses; the test puts it in a temp dir.
const README_SOCKET: &str = "/tmp/bmc.sock";

/// The lines of the first ```sh block after the operator heading, comments
/// cut off, split into words (the block uses no quoting or expansions; a
/// line that does fails here rather than being run wrongly).
fn operator_block() -> Vec<Vec<String>> {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .unwrap();
    let section = readme
        .split_once("## For operators: `bmcwd`")
        .expect("README has no operator section")
        .1;
    let block = section
        .split_once("```sh\n")
        .expect("no sh block in the operator section")
        .1
        .split_once("```")
        .unwrap()
        .0;
    block
        .lines()
        .map(|l| l.split_once(" #").map_or(l, |(cmd, _)| cmd).trim())
        .filter(|l| !l.is_empty())
        .map(|l| {
            assert!(
                !l.contains(['"', '\'', '$', '|', '>', '<', ';']),
                "README example needs a shell: {l}"
            );
            l.split_whitespace().map(str::to_owned).collect()
        })
        .collect()
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn bmcwd(words: &[String], socket: &Path, state: &Path) -> StdCommand {
    assert_eq!(
        words.first().map(String::as_str),
        Some("bmcwd"),
        "{words:?}"
    );
    let mut c = StdCommand::cargo_bin("bmcwd").unwrap();
    c.env("BMCWD_STATE_DIR", state);
    for w in words.iter().skip(1) {
        if w == README_SOCKET {
            c.arg(socket);
        } else {
            c.arg(w);
        }
    }
    c.stdin(Stdio::null());
    c
}

fn running(socket: &Path, state: &Path) -> bool {
    let words: Vec<String> = ["bmcwd", "--socket", README_SOCKET, "--json", "get"]
        .map(String::from)
        .to_vec();
    let out = bmcwd(&words, socket, state).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["running"].as_bool().unwrap()
}

fn wait_with_deadline(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st;
        }
        assert!(
            Instant::now() < deadline,
            "command did not end in {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_operator_examples_run_in_sequence_against_one_simulator() {
    let lines = operator_block();
    assert!(lines.len() >= 8, "operator block too short: {lines:?}");
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("bmc.sock");
    let state = dir.path().join("state");
    let mut server = None;
    let mut ran_daemon = false;
    for words in &lines {
        let text = words.join(" ");
        if words.last().map(String::as_str) == Some("&") {
            assert!(server.is_none(), "two background commands: {text}");
            assert!(
                text.contains("sim serve"),
                "background line is no server: {text}"
            );
            let child = bmcwd(&words[..words.len() - 1], &socket, &state)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            server = Some(Killed(child));
            let deadline = Instant::now() + Duration::from_secs(10);
            while std::os::unix::net::UnixStream::connect(&socket).is_err() {
                assert!(Instant::now() < deadline, "server did not come up: {text}");
                std::thread::sleep(Duration::from_millis(20));
            }
            continue;
        }
        assert!(
            server.is_some() && text.contains(README_SOCKET),
            "runs before or without the README's simulator: {text}"
        );
        if words.iter().any(|w| w == "daemon") {
            let mut child = bmcwd(words, &socket, &state)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let deadline = Instant::now() + Duration::from_secs(15);
            while !running(&socket, &state) {
                assert!(
                    child.try_wait().unwrap().is_none(),
                    "daemon exited early: {text}"
                );
                assert!(Instant::now() < deadline, "daemon never armed: {text}");
                std::thread::sleep(Duration::from_millis(50));
            }
            let killed = StdCommand::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status()
                .unwrap();
            assert!(killed.success());
            let st = wait_with_deadline(&mut child, Duration::from_secs(15));
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                use std::io::Read;
                let _ = e.read_to_string(&mut err);
            }
            assert!(st.success(), "{text}: {st:?}\n{err}");
            assert!(
                !running(&socket, &state),
                "--on-exit stop left the timer running"
            );
            ran_daemon = true;
            continue;
        }
        let out = bmcwd(words, &socket, &state).output().unwrap();
        assert!(
            out.status.success(),
            "README example failed: {text}\nexit {:?}\nstdout: {}\nstderr: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // No fallback note: every line reached the served simulator.
        assert!(
            !String::from_utf8_lossy(&out.stderr).contains("embedded simulator"),
            "{text}"
        );
    }
    assert!(server.is_some(), "the block serves no simulator");
    assert!(ran_daemon, "the block runs no daemon");
}
