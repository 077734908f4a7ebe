//! The shipped completion scripts in `dist/completions/` must match what
//! `bmcwd completions SHELL` generates now (regenerate them with
//! `bmcwd completions bash > cli/dist/completions/bmcwd.bash`, etc.).

use assert_cmd::Command;

fn check(shell: &str, file: &str) {
    let shipped = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("dist/completions")
            .join(file),
    )
    .unwrap();
    let out = Command::cargo_bin("bmcwd")
        .unwrap()
        .args(["completions", shell])
        .assert()
        .success();
    let generated = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(
        shipped == generated,
        "dist/completions/{file} is stale: run `bmcwd completions {shell} > cli/dist/completions/{file}`"
    );
    // That the generator function (`app::completions`) gives the same text is
    // checked by the binary's own unit tests (`app::tests`), against the same
    // shipped files.
}

#[test]
fn bash_completions_are_current() {
    check("bash", "bmcwd.bash");
}

#[test]
fn zsh_completions_are_current() {
    check("zsh", "_bmcwd");
}

#[test]
fn fish_completions_are_current() {
    check("fish", "bmcwd.fish");
}

// `completions_offer_subcommands_and_values` and
// `systemd_unit_runs_the_daemon_and_loads_modules` call the binary's own
// modules (`app::completions`, `args::Cli`), so they live in the binary's unit
// tests (`cli/src/app.rs`, `mod tests`).

/// The shipped man pages in `dist/man/` are what `bmcwd man DIR` writes now
/// (regenerate with `cli/dist/regen-completions.sh`): the same set of pages,
/// byte for byte.
#[test]
fn man_pages_are_current() {
    let dir = tempfile::tempdir().unwrap();
    Command::cargo_bin("bmcwd")
        .unwrap()
        .arg("man")
        .arg(dir.path())
        .assert()
        .success();
    let names = |d: &std::path::Path| {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("dist/man");
    let generated = names(dir.path());
    assert_eq!(
        names(&shipped),
        generated,
        "dist/man is stale: run cli/dist/regen-completions.sh"
    );
    for page in &generated {
        assert!(
            std::fs::read(shipped.join(page)).unwrap()
                == std::fs::read(dir.path().join(page)).unwrap(),
            "dist/man/{page} is stale: run cli/dist/regen-completions.sh"
        );
    }
    // bmcwd(1) and one page per subcommand, nested ones included.
    for page in [
        "bmcwd.1",
        "bmcwd-daemon.1",
        "bmcwd-get.1",
        "bmcwd-scenario-run.1",
    ] {
        assert!(generated.iter().any(|p| p == page), "{page} missing");
    }
    let daemon = std::fs::read_to_string(shipped.join("bmcwd-daemon.1")).unwrap();
    assert!(daemon.contains(".TH BMCWD-DAEMON 1"), "{daemon}");
    assert!(daemon.contains("\\-\\-config"), "{daemon}");
}
