//! `sim/scenarios/README.md`'s `[[fault]]` table lists exactly the fault
//! kinds and parameters declared in `bmc::fault` (`declare_faults!`), in
//! declaration order.

use bmc_sim::{FaultKind, ParamDecl, Presence};

/// One parameter as the README shows it: name, type, and required / what
/// absence means / default, and a declared maximum.
fn param_cell(p: &ParamDecl) -> String {
    let mut notes = vec![p.ty.describe().to_owned()];
    match p.presence {
        Presence::Required => notes.push("required".into()),
        Presence::Optional(absent) => notes.push(absent.into()),
        Presence::Default(v) => notes.push(format!("default {v}")),
    }
    if let Some(max) = p.max {
        notes.push(format!("at most {max}"));
    }
    format!("`{}` ({})", p.name, notes.join(", "))
}

/// The table the declaration implies.
fn expected_table() -> String {
    let mut t = String::from("| `kind` | Parameters | The BMC… |\n|---|---|---|\n");
    for k in FaultKind::ALL {
        let params: Vec<String> = k.params().iter().map(param_cell).collect();
        let params = if params.is_empty() {
            vec!["—".to_owned()]
        } else {
            params
        };
        t.push_str(&format!(
            "| `{}` | {} | {} |\n",
            k.name(),
            params.join("; "),
            k.summary()
        ));
    }
    t
}

#[test]
fn readme_fault_table_matches_the_declaration() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join("README.md");
    let readme = std::fs::read_to_string(path).expect("read sim/scenarios/README.md");
    let start = readme
        .find("| `kind` | Parameters |")
        .expect("README has the fault table");
    let table: String = readme[start..]
        .lines()
        .take_while(|l| l.starts_with('|'))
        .map(|l| format!("{l}\n"))
        .collect();
    let want = expected_table();
    assert!(
        table == want,
        "sim/scenarios/README.md's fault table differs from the declaration; it should be:\n{want}"
    );
}

#[test]
fn a_parameter_name_has_one_type_in_every_kind() {
    for k in FaultKind::ALL {
        for p in k.params() {
            let first = FaultKind::any_param(p.name).expect("declared");
            assert_eq!(first.ty, p.ty, "{} in {k}", p.name);
        }
    }
}
