//! The install pieces: `[package.metadata.deb]` in cli/Cargo.toml (built by
//! `cli/dist/build-deb.sh` with cargo-deb) lists files that exist and puts
//! them where the unit and the daemon look; the shipped configuration is
//! valid and the unit runs the packaged binary with it.

mod common;

use std::path::Path;

use predicates::prelude::*;
use predicates::str::contains;

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// (source, destination) of every asset in the metadata.
fn assets() -> (toml::Value, Vec<(String, String)>) {
    let text = std::fs::read_to_string(manifest_dir().join("Cargo.toml")).unwrap();
    let v: toml::Value = toml::from_str(&text).unwrap();
    let deb = v["package"]["metadata"]["deb"].clone();
    let list = deb["assets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let a = a.as_array().unwrap();
            (
                a[0].as_str().unwrap().to_string(),
                a[1].as_str().unwrap().to_string(),
            )
        })
        .collect();
    (deb, list)
}

#[test]
fn deb_metadata_lists_files_that_exist() {
    let (deb, assets) = assets();
    for (src, _) in &assets {
        if src == "target/release/bmcwd" {
            continue; // built by cargo deb itself
        }
        if let Some(dir) = src.strip_suffix("/*.1") {
            let n = std::fs::read_dir(manifest_dir().join(dir))
                .unwrap()
                .filter(|e| {
                    e.as_ref()
                        .unwrap()
                        .file_name()
                        .to_string_lossy()
                        .ends_with(".1")
                })
                .count();
            assert!(n >= 10, "{src}: only {n} pages");
        } else {
            assert!(manifest_dir().join(src).is_file(), "{src} does not exist");
        }
    }
    let dest = |src: &str| {
        assets
            .iter()
            .find(|(s, _)| s == src)
            .map(|(_, d)| d.clone())
            .unwrap_or_else(|| panic!("{src} not packaged"))
    };
    assert_eq!(dest("target/release/bmcwd"), "usr/bin/");
    assert_eq!(dest("dist/bmcwd-daemon.service"), "usr/lib/systemd/system/");
    assert_eq!(dest("dist/bmcwd.toml"), "etc/bmcwd/");
    assert_eq!(dest("dist/man/*.1"), "usr/share/man/man1/");
    assert_eq!(
        dest("dist/completions/bmcwd.bash"),
        "usr/share/bash-completion/completions/bmcwd"
    );
    assert_eq!(
        dest("dist/completions/_bmcwd"),
        "usr/share/zsh/vendor-completions/"
    );
    assert_eq!(
        dest("dist/completions/bmcwd.fish"),
        "usr/share/fish/vendor_completions.d/"
    );
    // The configuration survives upgrades and local edits.
    assert_eq!(
        deb["conf-files"].as_array().unwrap(),
        &[toml::Value::from("/etc/bmcwd/bmcwd.toml")]
    );
}

/// The unit starts the packaged binary with the packaged configuration.
#[test]
fn unit_runs_the_packaged_binary_with_the_packaged_config() {
    let unit = std::fs::read_to_string(manifest_dir().join("dist/bmcwd-daemon.service")).unwrap();
    assert!(
        unit.contains("\nExecStart=/usr/bin/bmcwd daemon --config /etc/bmcwd/bmcwd.toml\n"),
        "{unit}"
    );
}

/// The shipped default configuration passes `daemon --check` (every key
/// valid, the timing safe on the mainline kernel) and says so.
#[test]
fn shipped_config_passes_the_check() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = manifest_dir().join("dist/bmcwd.toml");
    common::bmcwd(dir.path(), &["daemon", "--check", "--config"])
        .arg(&cfg)
        .assert()
        .success()
        .stdout(
            contains("(valid)")
                .and(contains("timeout 300.0 s, interval 100.0 s"))
                .and(contains("shorter than the timeout: OK")),
        );
}

/// The package ships the build the QEMU rig's `parity` scenario measures
/// against bmc-watchdog (issue #14): profile `dist`.
#[test]
fn deb_ships_the_profile_the_parity_scenario_measures() {
    let read = |p: &str| std::fs::read_to_string(manifest_dir().join(p)).unwrap();
    let script = read("dist/build-deb.sh");
    let cmd = script
        .lines()
        .find(|l| l.starts_with("exec cargo deb"))
        .expect("build-deb.sh runs cargo deb");
    assert!(cmd.contains("--profile dist"), "{cmd}");
    let rig = read("../tests/vm/run.sh");
    assert!(
        rig.contains(r#"*" parity "*) profile=${VM_PROFILE:-dist}"#),
        "tests/vm/run.sh: parity no longer builds profile dist"
    );
    let ws = read("../Cargo.toml");
    assert!(
        ws.contains("[profile.dist]"),
        "no [profile.dist] in Cargo.toml"
    );
}
