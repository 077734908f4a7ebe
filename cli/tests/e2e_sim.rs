//! End to end: the simulation subcommands (`scenario run`, `scenario explore`,
//! `sim serve` argument handling, `completions`).

mod common;

use predicates::prelude::*;
use predicates::str::contains;

fn scenario(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../sim/scenarios")
        .join(name)
}

#[test]
fn scenario_run_prints_kernel_log_and_timeline() {
    let dir = tempfile::tempdir().unwrap();
    common::bmcwd(dir.path(), &["scenario", "run"])
        .arg(scenario("long-busy.toml"))
        .assert()
        .success()
        .stdout(
            // The dev_warn head ends its line; `1 retries left` (pr_cont) is a
            // line of its own without the device prefix, as on Debian's 6.1.
            contains("## kernel log")
                .and(contains(
                    "[    6.004000] ipmi_si IPI0001:00: IPMI BT: timeout in XACTION [ B_BUSY ] \n\
                     [    6.004000] 1 retries left\n\
                     [   11.008000] ipmi_si IPI0001:00: IPMI BT: timeout in XACTION [ B_BUSY ] \n\
                     [   11.008000] ipmi_si IPI0001:00: failed 2 retries, sending error response\n",
                ))
                .and(contains("## timeline")),
        );
}

#[test]
fn scenario_run_json_is_the_trace() {
    let dir = tempfile::tempdir().unwrap();
    let out = common::bmcwd(dir.path(), &["--json", "scenario", "run"])
        .arg(scenario("long-busy.toml"))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v = common::json(&out);
    assert_eq!(v["name"], "long-busy");
    assert!(v["completions"].as_array().unwrap().len() > 1);
    assert!(v["log"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["text"].as_str().unwrap().contains("timeout in XACTION")));
    // Names as the kernel prints them (dmesg -x levels, STATE2TXT), not
    // Rust identifiers.
    assert!(v["log"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["level"] == "warn"));
    let states: Vec<&str> = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "state")
        .filter_map(|e| e["detail"]["to"].as_str())
        .collect();
    assert!(states.contains(&"LONG_BUSY"), "{states:?}");
    assert!(states.contains(&"XACTION"), "{states:?}");
    // The long-busy message is answered by the host itself with 0xC0.
    assert!(v["completions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["cc"] == 0xC0 && c["synthesized"] == true));
}

#[test]
fn scenario_errors_are_input_errors() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "name = \"x\"\nstop = \"ten seconds\"\n").unwrap();
    common::bmcwd(dir.path(), &["scenario", "run"])
        .arg(&bad)
        .assert()
        .code(2)
        .stderr(contains("bad.toml"));
    common::bmcwd(dir.path(), &["scenario", "run"])
        .arg(dir.path().join("missing.toml"))
        .assert()
        .code(2)
        .stderr(contains("missing.toml"));
}

#[test]
fn explore_finds_b4_on_v3_13_and_prints_a_replayable_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let out = common::bmcwd(
        dir.path(),
        &[
            "scenario",
            "explore",
            "--profile",
            "v3.13",
            "--bug",
            "b4",
            "--cases",
            "32",
            "--seed",
            "7",
        ],
    )
    .assert()
    .code(6)
    .stdout(contains(
        "# Counterexample (profile v3.13, space silence-at-command",
    ))
    .get_output()
    .stdout
    .clone();
    let file = dir.path().join("cx.toml");
    std::fs::write(&file, &out).unwrap();
    // The printed counterexample is a valid scenario that replays.
    common::bmcwd(dir.path(), &["scenario", "run"])
        .arg(&file)
        .assert()
        .success()
        .stdout(contains("kernel V3_13"));
}

#[test]
fn explore_on_a_fixed_kernel_finds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    common::bmcwd(
        dir.path(),
        &[
            "scenario",
            "explore",
            "--profile",
            "fixed-b8",
            "--bug",
            "b4",
            "--cases",
            "8",
        ],
    )
    .assert()
    .success()
    .stdout(contains("No counterexample in"));
}

#[test]
fn explore_rejects_unknown_names() {
    let dir = tempfile::tempdir().unwrap();
    common::bmcwd(dir.path(), &["scenario", "explore", "--profile", "v9.9"])
        .assert()
        .code(2)
        .stderr(contains("unknown kernel preset").and(contains("mainline")));
    common::bmcwd(
        dir.path(),
        &["scenario", "explore", "--profile", "v3.13", "--bug", "b99"],
    )
    .assert()
    .code(2)
    .stderr(contains("--bug b99: unknown"));
    common::bmcwd(
        dir.path(),
        &[
            "scenario",
            "explore",
            "--profile",
            "v3.13",
            "--property",
            "fast",
        ],
    )
    .assert()
    .code(2)
    .stderr(contains("--property fast: unknown"));
}

#[test]
fn sim_serve_needs_an_endpoint_and_refuses_a_live_socket() {
    let dir = tempfile::tempdir().unwrap();
    common::bmcwd(dir.path(), &["sim", "serve"])
        .assert()
        .code(2)
        .stderr(contains("--socket PATH"));
    let s = common::Server::start();
    common::bmcwd(dir.path(), &["sim", "serve", "--socket"])
        .arg(&s.socket)
        .assert()
        .code(2)
        .stderr(contains("in use by a running server"));
    let file = dir.path().join("plain");
    std::fs::write(&file, "x").unwrap();
    common::bmcwd(dir.path(), &["sim", "serve", "--socket"])
        .arg(&file)
        .assert()
        .code(2)
        .stderr(contains("is not a socket"));
}

#[test]
fn completions_subcommand_prints_scripts() {
    let dir = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish"] {
        common::bmcwd(dir.path(), &["completions", shell])
            .assert()
            .success()
            .stdout(contains("bmcwd"));
    }
}

#[test]
fn scenario_run_writes_the_svg_picture() {
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("t.svg");
    common::bmcwd(dir.path(), &["scenario", "run"])
        .arg(scenario("long-busy.toml"))
        .arg("--svg")
        .arg(&svg)
        .assert()
        .success();
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<svg"), "{}", &text[..text.len().min(80)]);
    assert!(text.contains("long-busy"));
}

#[test]
fn served_qemu_bmc_refuses_power_cycle_with_a_decoded_cc() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("q.sock");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("bmcwd"))
        .args(["sim", "serve", "--bmc", "qemu", "--socket"])
        .arg(&sock)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::os::unix::net::UnixStream::connect(&sock).is_err() {
        assert!(std::time::Instant::now() < deadline);
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    common::bmcwd(dir.path(), &["--socket"])
        .arg(&sock)
        .args(["start", "--timeout", "30s", "--action", "power-cycle"])
        .assert()
        .code(3)
        .stderr(
            contains("Set Watchdog Timer failed: 0xCC (Invalid data field in Request)")
                .and(contains("QEMU's BMC refuses power-cycle")),
        );
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Plays QEMU's side of the VM protocol on `stream`: opening commands, then
/// Get Device ID with msg_id 5; returns (msg_id, netfn_lun, cmd, cc).
fn qemu_get_device_id(stream: &mut std::net::TcpStream) -> (u8, u8, u8, u8) {
    use bmc_sim::vmproto::{Capabilities, ControlCommand, Decoder, Encoder, Unit, VmResponse};
    use std::io::{Read, Write};
    let mut enc = Encoder::new();
    enc.control(ControlCommand::Version(1))
        .control(ControlCommand::Capabilities(Capabilities(0x3F)))
        .request(5, 0x06 << 2, 0x01, &[]);
    stream.write_all(enc.bytes()).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let mut dec = Decoder::new();
    let mut b = [0u8; 1];
    loop {
        stream.read_exact(&mut b).unwrap();
        if let Some(Unit::Message(m)) = dec.push(b[0]) {
            let r = VmResponse::parse(m).unwrap();
            return (r.msg_id, r.netfn_lun, r.cmd, r.cc);
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn vm_listen_serves_qemu_extern_over_tcp() {
    let addr = format!("127.0.0.1:{}", free_port());
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("bmcwd"))
        .args(["sim", "serve", "--vm-listen", &addr])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut stream = loop {
        match std::net::TcpStream::connect(&addr) {
            Ok(s) => break s,
            Err(_) => {
                assert!(
                    std::time::Instant::now() < deadline,
                    "no listener on {addr}"
                );
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
    };
    assert_eq!(qemu_get_device_id(&mut stream), (5, 0x07 << 2, 0x01, 0x00));
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn vm_connect_dials_qemu_as_a_server_chardev() {
    let qemu = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = qemu.local_addr().unwrap().to_string();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("bmcwd"))
        .args(["sim", "serve", "--vm-connect", &addr])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    qemu.set_nonblocking(true).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut stream = loop {
        match qemu.accept() {
            Ok((s, _)) => break s,
            Err(_) => {
                assert!(
                    std::time::Instant::now() < deadline,
                    "the server never dialled"
                );
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
    };
    stream.set_nonblocking(false).unwrap();
    assert_eq!(qemu_get_device_id(&mut stream), (5, 0x07 << 2, 0x01, 0x00));
    child.kill().unwrap();
    child.wait().unwrap();
}

/// A bad --svg path is an output failure (exit 1) and loses nothing: the log
/// and timeline are already on stdout.
#[test]
fn unwritable_svg_path_keeps_the_printed_trace() {
    let dir = tempfile::tempdir().unwrap();
    common::bmcwd(dir.path(), &["scenario", "run"])
        .arg(scenario("long-busy.toml"))
        .arg("--svg")
        .arg(dir.path()) // a directory
        .assert()
        .code(1)
        .stdout(contains("## kernel log").and(contains("## timeline")))
        .stderr(contains("cannot write"));
}

/// A found counterexample survives an unwritable --out: it goes to stdout.
#[test]
fn unwritable_out_path_prints_the_counterexample() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("no/such/dir/cx.toml");
    let args = ["scenario", "explore", "--profile", "v3.13", "--bug", "b4"];
    common::bmcwd(dir.path(), &args)
        .args(["--cases", "32", "--seed", "7", "--out"])
        .arg(&out)
        .assert()
        .code(1)
        .stdout(contains("# Counterexample (profile v3.13"))
        .stderr(contains("cannot write"));
}

/// Something that is not a scenario file — endless, huge or binary — is
/// refused quickly as bad input instead of being read forever.
#[test]
fn endless_huge_or_binary_scenario_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    common::bmcwd(dir.path(), &["scenario", "run", "/dev/zero"])
        .timeout(std::time::Duration::from_secs(20))
        .assert()
        .code(2)
        .stderr(contains("longer than 1024 KiB"));
    let bin = dir.path().join("bin.toml");
    std::fs::write(&bin, [0xffu8, 0xfe, 0x00, 0x80]).unwrap();
    common::bmcwd(dir.path(), &["scenario", "run"])
        .arg(&bin)
        .assert()
        .code(2)
        .stderr(contains("not UTF-8 text"));
}

/// A malformed --vm-listen/--vm-connect address is a usage error (exit 2)
/// naming the flag and the expected form, found before anything is served.
#[test]
fn bad_tcp_addresses_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    for (flag, addr) in [
        ("--vm-listen", "badaddr"),
        ("--vm-listen", "127.0.0.1:99999"),
        ("--vm-connect", "nohostport"),
    ] {
        common::bmcwd(dir.path(), &["sim", "serve", flag, addr])
            .timeout(std::time::Duration::from_secs(10))
            .assert()
            .code(2)
            .stderr(
                contains(format!("{flag} {addr}: not a TCP address"))
                    .and(contains("HOST:PORT"))
                    .and(contains("listening").not()),
            );
    }
}

/// The general space is the default: it finds B-6 on v3.13 with no hint
/// and prints a replayable counterexample labelled with the bug it looks like.
#[test]
fn explore_general_finds_b6_on_v3_13() {
    let dir = tempfile::tempdir().unwrap();
    let out = common::bmcwd(
        dir.path(),
        &[
            "scenario",
            "explore",
            "--kernel",
            "v3.13",
            "--cases",
            "8",
            "--seed",
            "1",
            "--threads",
            "2",
        ],
    )
    .assert()
    .code(6)
    .stdout(contains("space general, property all").and(contains("# looks like: B-6")))
    .stderr(contains("coverage"))
    .get_output()
    .stdout
    .clone();
    let file = dir.path().join("cx.toml");
    std::fs::write(&file, &out).unwrap();
    common::bmcwd(dir.path(), &["scenario", "run"])
        .arg(&file)
        .assert()
        .success();
}

/// `--shard I/N` runs a share; `merge` combines the shard results into the
/// result of the whole search.
#[test]
fn explore_shards_merge_into_one_result() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for i in 0..2 {
        let f = dir.path().join(format!("shard{i}.json"));
        common::bmcwd(
            dir.path(),
            &[
                "scenario", "explore", "--kernel", "fixed-b8", "--cases", "6", "--seed", "3",
                "--shard",
            ],
        )
        .arg(format!("{i}/2"))
        .arg("--results")
        .arg(&f)
        .assert()
        .code(predicates::ord::eq(0).or(predicates::ord::eq(6)))
        .stderr(contains("shard result written to"));
        files.push(f);
    }
    let merged = common::bmcwd(dir.path(), &["scenario", "merge"])
        .args(&files)
        .assert()
        .code(predicates::ord::eq(0).or(predicates::ord::eq(6)))
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&merged).unwrap();
    assert_eq!(v["shards"], serde_json::json!([0, 1]));
    assert_eq!(v["fresh"], 6);
    // A shard given twice, a bad --shard and a non-result file are refused.
    common::bmcwd(dir.path(), &["scenario", "merge"])
        .arg(&files[0])
        .arg(&files[0])
        .assert()
        .code(2)
        .stderr(contains("given twice"));
    common::bmcwd(
        dir.path(),
        &[
            "scenario", "explore", "--kernel", "fixed-b8", "--shard", "2/2",
        ],
    )
    .assert()
    .code(2)
    .stderr(contains("--shard 2/2"));
    let junk = dir.path().join("junk.json");
    std::fs::write(&junk, "{}").unwrap();
    common::bmcwd(dir.path(), &["scenario", "merge"])
        .arg(&junk)
        .assert()
        .code(2)
        .stderr(contains("not a shard result"));
}
