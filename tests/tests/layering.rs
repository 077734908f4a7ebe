//! Layering of the workspace's crates, checked from their source text.
//!
//! `bmc-sim` is built in layers (see `sim/src/lib.rs`): each top-level module
//! may use only the modules its row of [`SIM_ALLOWED`] lists. The checker
//! reads every `.rs` file under a crate's `src/`, finds the `crate::…`,
//! `super::…` (resolved against the file's module path) and
//! `use crate::{a, b}` paths outside comments, maps each to the top-level
//! module it names, and reports an edge the matrix does not allow. A second
//! check finds import cycles between top-level modules in any crate.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// `bmc-sim`: which top-level modules each top-level module may use.
/// rng ← bmc ← scenario; rng ← host ← scenario; scenario ← explore;
/// bmc ← vmproto. The host model never uses the BMC core. Virtual time is
/// `ipmi_vocab::Instant`, below the whole crate.
const SIM_ALLOWED: &[(&str, &[&str])] = &[
    ("rng", &[]),
    ("bmc", &["rng"]),
    ("host", &["rng"]),
    ("scenario", &["rng", "bmc", "host"]),
    ("explore", &["rng", "bmc", "host", "scenario"]),
    ("vmproto", &["rng", "bmc"]),
];

/// Crates whose top-level modules must have no import cycle (path from the
/// workspace root).
const CYCLE_FREE: &[&str] = &["vocab", "bt-sm", "watchdog", "sim", "cli"];

/// One source file: its path relative to `src/` (with `/`) and its text.
type SourceFile = (String, String);

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every `.rs` file under `dir`, with paths relative to it.
fn read_src(dir: &Path) -> Vec<SourceFile> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<SourceFile>) {
        let mut entries: Vec<_> = fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
            .map(|e| e.expect("dir entry").path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(base, &p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let rel = p.strip_prefix(base).expect("under base");
                let rel = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                let text = fs::read_to_string(&p).expect("read source");
                out.push((rel, text));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out
}

/// The module path of a file: `host/si/tests.rs` → `[host, si, tests]`,
/// `host/mod.rs` → `[host]`, `lib.rs` → `[]`.
fn module_path(rel: &str) -> Vec<String> {
    let mut parts: Vec<String> = rel.split('/').map(str::to_owned).collect();
    let last = parts.pop().unwrap_or_default();
    let stem = last.trim_end_matches(".rs");
    if !matches!(stem, "mod" | "lib" | "main") || !parts.is_empty() && stem != "mod" {
        parts.push(stem.to_owned());
    }
    parts
}

/// The text without `//` comments (doc links are not dependencies) and
/// without string literals' contents.
fn strip_comments(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    for line in src.lines() {
        let mut in_str = false;
        let mut prev = '\0';
        let mut kept = String::with_capacity(line.len());
        for c in line.chars() {
            if c == '"' && prev != '\\' && prev != '\'' {
                in_str = !in_str;
            } else if in_str {
                prev = c;
                continue;
            }
            if !in_str && c == '/' && prev == '/' {
                kept.pop();
                break;
            }
            kept.push(c);
            prev = c;
        }
        out.push_str(&kept);
        out.push('\n');
    }
    out
}

fn ident_at(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The top-level modules a path starting at `rest` (just after `crate::`)
/// names: one for `a::…`, several for `{a, b::c}`.
fn heads(rest: &str) -> Vec<String> {
    if let Some(inner) = rest.strip_prefix('{') {
        let mut depth = 0usize;
        let mut items = Vec::new();
        let mut start = 0;
        for (i, c) in inner.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => {
                    items.push(&inner[start..i]);
                    break;
                }
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    items.push(&inner[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        items
            .into_iter()
            .map(|it| ident_at(it.trim()).to_owned())
            .filter(|s| !s.is_empty() && s != "self")
            .collect()
    } else {
        let id = ident_at(rest);
        if id.is_empty() {
            Vec::new()
        } else {
            vec![id.to_owned()]
        }
    }
}

/// Edges `(from, to)` between top-level modules, each with the file it comes
/// from. `modules` is the set of top-level module names of the crate.
fn edges(files: &[SourceFile], modules: &BTreeSet<String>) -> BTreeSet<(String, String, String)> {
    let mut out = BTreeSet::new();
    for (rel, text) in files {
        let path = module_path(rel);
        let Some(from) = path.first() else { continue };
        let code = strip_comments(text);
        let mut targets = Vec::new();
        let bytes = code.as_bytes();
        let mut i = 0;
        while i < code.len() {
            if !code.is_char_boundary(i) {
                i += 1;
                continue;
            }
            let at_word = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
            if at_word && code[i..].starts_with("crate::") {
                targets.extend(heads(&code[i + 7..]));
                i += 7;
            } else if at_word && code[i..].starts_with("super::") {
                let mut ups = 0;
                let mut j = i;
                while code[j..].starts_with("super::") {
                    ups += 1;
                    j += 7;
                }
                // Fewer `super`s than the path is deep stay inside this
                // file's own top-level module.
                if ups >= path.len() {
                    targets.extend(heads(&code[j..]));
                }
                i = j;
            } else {
                i += 1;
            }
        }
        for t in targets {
            if modules.contains(&t) && &t != from {
                out.insert((from.clone(), t, rel.clone()));
            }
        }
    }
    out
}

/// Top-level modules of a crate's files.
fn top_modules(files: &[SourceFile]) -> BTreeSet<String> {
    files
        .iter()
        .filter_map(|(rel, _)| module_path(rel).first().cloned())
        .collect()
}

/// Every use of a top-level module its row of `allowed` does not list, as
/// messages for people. A module without a row may use nothing.
fn layering_violations(files: &[SourceFile], allowed: &[(&str, &[&str])]) -> Vec<String> {
    let modules = top_modules(files);
    let mut out = Vec::new();
    for (from, to, file) in edges(files, &modules) {
        let ok = allowed
            .iter()
            .find(|(m, _)| *m == from)
            .is_some_and(|(_, deps)| deps.contains(&to.as_str()));
        if !ok {
            out.push(format!(
                "{file}: module `{from}` uses `{to}`, which its layer may not use (allowed: {:?})",
                allowed
                    .iter()
                    .find(|(m, _)| *m == from)
                    .map_or(&[][..], |(_, d)| *d)
            ));
        }
    }
    for m in &modules {
        if !allowed.iter().any(|(a, _)| a == m) {
            out.push(format!(
                "module `{m}` has no row in the layering matrix: add one"
            ));
        }
    }
    out
}

/// Import cycles between top-level modules, each as `a -> b -> … -> a`.
fn module_cycles(files: &[SourceFile]) -> Vec<String> {
    let modules = top_modules(files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, to, _) in edges(files, &modules) {
        graph.entry(from).or_default().insert(to);
    }
    // Depth-first search with colours; each back edge closes one cycle.
    fn dfs(
        n: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
        out: &mut Vec<String>,
    ) {
        state.insert(n.to_owned(), 1);
        stack.push(n.to_owned());
        for m in graph.get(n).into_iter().flatten() {
            match state.get(m).copied().unwrap_or(0) {
                0 => dfs(m, graph, state, stack, out),
                1 => {
                    let pos = stack.iter().position(|s| s == m).unwrap_or(0);
                    let mut c = stack[pos..].to_vec();
                    c.push(m.clone());
                    out.push(c.join(" -> "));
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(n.to_owned(), 2);
    }
    let mut state = BTreeMap::new();
    let mut out = Vec::new();
    for n in &modules {
        if state.get(n).copied().unwrap_or(0) == 0 {
            dfs(n, &graph, &mut state, &mut Vec::new(), &mut out);
        }
    }
    out
}

fn crate_files(krate: &str) -> Vec<SourceFile> {
    let files = read_src(&workspace_root().join(krate).join("src"));
    assert!(!files.is_empty(), "no sources found for {krate}");
    files
}

#[test]
fn sim_layers_depend_only_downwards() {
    let v = layering_violations(&crate_files("sim"), SIM_ALLOWED);
    assert!(
        v.is_empty(),
        "bmc-sim layering violations:\n  {}",
        v.join("\n  ")
    );
}

#[test]
fn crates_have_no_module_cycles() {
    for k in CYCLE_FREE {
        let c = module_cycles(&crate_files(k));
        assert!(
            c.is_empty(),
            "{k}: module import cycles:\n  {}",
            c.join("\n  ")
        );
    }
}

fn synthetic(files: &[(&str, &str)]) -> Vec<SourceFile> {
    files
        .iter()
        .map(|(p, t)| ((*p).to_owned(), (*t).to_owned()))
        .collect()
}

#[test]
fn checker_finds_an_upward_use_and_ignores_comments() {
    let files = synthetic(&[
        ("lib.rs", "pub mod rng; pub mod bmc; pub mod host;"),
        ("rng.rs", "//! See [`x`](crate::host::X).\npub struct T;"),
        ("bmc/mod.rs", "use crate::rng::T;\nmod tests;"),
        ("bmc/tests.rs", "use super::*;\nuse super::super::host::Y;"),
        ("host.rs", "use crate::{rng::T, bmc};"),
    ]);
    let v = layering_violations(&files, SIM_ALLOWED);
    assert_eq!(v.len(), 2, "{v:#?}");
    assert!(v
        .iter()
        .any(|m| m.contains("bmc/tests.rs") && m.contains("`bmc` uses `host`")));
    assert!(v
        .iter()
        .any(|m| m.contains("host.rs") && m.contains("`host` uses `bmc`")));
    // A clean tree passes.
    let clean = synthetic(&[
        ("rng.rs", ""),
        (
            "bmc/mod.rs",
            "use crate::rng::T; // crate::host in a comment",
        ),
        ("host/si.rs", "use super::sched::J; let s = \"crate::bmc\";"),
        ("host/mod.rs", "mod si; mod sched;"),
    ]);
    assert_eq!(
        layering_violations(&clean, SIM_ALLOWED),
        Vec::<String>::new()
    );
}

#[test]
fn checker_finds_a_module_without_a_row() {
    let files = synthetic(&[("rng.rs", ""), ("extra.rs", "use crate::rng::T;")]);
    let v = layering_violations(&files, SIM_ALLOWED);
    assert!(v.iter().any(|m| m.contains("`extra`")), "{v:#?}");
}

#[test]
fn checker_finds_cycles() {
    let files = synthetic(&[
        ("a.rs", "use crate::b::X;"),
        ("b/mod.rs", "pub(crate) fn f() { crate::c::g() }"),
        ("c.rs", "use crate::{a::Y};"),
        ("d.rs", "use crate::a::Y;"),
    ]);
    assert_eq!(module_cycles(&files), vec!["a -> b -> c -> a".to_owned()]);
    let acyclic = synthetic(&[("a.rs", "use crate::b::X;"), ("b.rs", "")]);
    assert!(module_cycles(&acyclic).is_empty());
}

#[test]
fn module_paths_follow_the_file_layout() {
    assert_eq!(module_path("lib.rs"), Vec::<String>::new());
    assert_eq!(module_path("time.rs"), ["time"]);
    assert_eq!(module_path("host/mod.rs"), ["host"]);
    assert_eq!(module_path("host/si/tests.rs"), ["host", "si", "tests"]);
}
