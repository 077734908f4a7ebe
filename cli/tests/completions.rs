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
    assert_eq!(
        generated,
        bmcwd::app::completions(match shell {
            "bash" => bmcwd::args::Shell::Bash,
            "zsh" => bmcwd::args::Shell::Zsh,
            _ => bmcwd::args::Shell::Fish,
        })
    );
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

#[test]
fn completions_offer_subcommands_and_values() {
    let bash = bmcwd::app::completions(bmcwd::args::Shell::Bash);
    for word in [
        "daemon",
        "hard-reset",
        "power-cycle",
        "sms-os",
        "--pretimeout-irq",
        "--on-exit",
    ] {
        assert!(bash.contains(word), "{word} missing from bash completions");
    }
}

#[test]
fn systemd_unit_runs_the_daemon_and_loads_modules() {
    let unit = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("dist/bmcwd-daemon.service"),
    )
    .unwrap();
    assert!(unit.contains("ExecStart=/usr/local/bin/bmcwd --device /dev/ipmi0 daemon "));
    assert!(unit.contains("ExecStartPre=-/sbin/modprobe ipmi_devintf"));
    assert!(unit.contains("ExecStartPre=-/sbin/modprobe ipmi_si"));
    assert!(unit.contains("Restart=on-failure"));
    // The ExecStart arguments parse.
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart=/usr/local/bin/bmcwd "))
        .unwrap();
    use clap::Parser;
    let args = std::iter::once("bmcwd").chain(exec.split_whitespace());
    bmcwd::args::Cli::try_parse_from(args).unwrap();
}
