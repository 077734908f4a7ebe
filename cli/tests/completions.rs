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
