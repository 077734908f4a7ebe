//! The kernel-preset lists in the READMEs are generated from the one list,
//! `bmc_sim::KernelPreset::ALL` (and `SiProfile::ALL`), and this
//! test fails when they are stale, like `cli/tests/completions.rs` does for the
//! shell completions. Regenerate them with
//! `BMCWD_BLESS=1 cargo test -p bmcwd-integration-tests --test preset_docs`.
//!
//! Generated parts: the text between `<!-- presets:NAME -->` and
//! `<!-- /presets:NAME -->` markers, and the `kernel` and `si` rows of the
//! `[driver]` key table in `sim/scenarios/README.md`.

use std::fs;
use std::path::{Path, PathBuf};

use bmc_sim::KernelPreset;
use bmc_sim::SiProfile;
use ipmi_bt_sm::PrintkEra;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn code_list(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn printk(era: PrintkEra) -> &'static str {
    match era {
        PrintkEra::Pre2_6_31 => "before 2.6.31",
        PrintkEra::Modern => "2.6.31+",
        PrintkEra::KernCont => "4.9+ (`KERN_CONT`)",
    }
}

/// The preset table of `sim/scenarios/README.md`.
fn table() -> String {
    let mut out = String::from(
        "| Preset | Stands for | BT state machine (`bt`) | SI layer (`si`) | printk | Upstream commits | What it models |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for p in KernelPreset::ALL {
        let commits = if p.commits.is_empty() {
            "—".to_owned()
        } else {
            p.commits.join(", ")
        };
        out.push_str(&format!(
            "| `{}` | {} | `{}` | `{}` ({}) | {} | {} | {} |\n",
            p.name,
            p.kernels,
            p.bt.name(),
            p.si.name,
            p.si.kernels,
            printk(p.printk),
            commits,
            p.description
        ));
    }
    out
}

/// The `[driver]` key rows of `sim/scenarios/README.md` that list names.
fn driver_rows() -> [(&'static str, String); 2] {
    [
        (
            "| `kernel` |",
            format!(
                "| `kernel` | `\"{}\"` | preset: {} (table below) |",
                KernelPreset::default().name,
                code_list(KernelPreset::NAMES)
            ),
        ),
        (
            "| `si` |",
            format!(
                "| `si` | from preset | override the SI layer: {} |",
                code_list(SiProfile::NAMES)
            ),
        ),
    ]
}

/// `text` with the part between the markers of `name` replaced by `body`
/// (`None` when the markers are missing).
fn splice(text: &str, name: &str, body: &str) -> Option<String> {
    let open = format!("<!-- presets:{name} -->\n");
    let close = format!("<!-- /presets:{name} -->");
    let a = text.find(&open)? + open.len();
    let b = a + text.get(a..)?.find(&close)?;
    Some(format!("{}{body}{}", &text[..a], &text[b..]))
}

/// Check (or with `BMCWD_BLESS` set, rewrite) one file.
fn check(rel: &str, regions: &[(&str, String)], rows: &[(&str, String)]) {
    let path = root().join(rel);
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {rel}: {e}"));
    let mut want = text.clone();
    for (name, body) in regions {
        want = splice(&want, name, body).unwrap_or_else(|| {
            panic!("{rel}: no <!-- presets:{name} --> … <!-- /presets:{name} -->")
        });
    }
    for (prefix, row) in rows {
        let line = want
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("{rel}: no row starting with {prefix}"))
            .to_owned();
        want = want.replacen(&line, row, 1);
    }
    if want == text {
        return;
    }
    if std::env::var_os("BMCWD_BLESS").is_some() {
        fs::write(&path, want).unwrap_or_else(|e| panic!("write {rel}: {e}"));
        return;
    }
    panic!(
        "{rel}: the kernel-preset list is stale (KernelPreset::ALL changed): run \
         `BMCWD_BLESS=1 cargo test -p bmcwd-integration-tests --test preset_docs`\n\
         expected:\n{want}"
    );
}

#[test]
fn scenarios_readme_lists_the_presets() {
    check(
        "sim/scenarios/README.md",
        &[("table", table())],
        &driver_rows(),
    );
}

#[test]
fn readme_lists_the_presets() {
    check(
        "README.md",
        &[("names", format!("{}.\n", code_list(KernelPreset::NAMES)))],
        &[],
    );
}
