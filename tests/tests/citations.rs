//! Citation check: every reference the code and notes make to a Markdown file in this
//! repository (`kernel-bt.md §7.3`, `spec-notes/watchdog.md §4`, `bmc-watchdog.md §§4–5`,
//! `kernel-bt.md §13 T3`, `kernel-bt.md B-9`, …) must name exactly one file of the
//! repository, and the cited section, bug id (`B-N`), test row (`TN`) or source label
//! (`D-…`) must exist in it. References to paths outside the checkout (`../shared/…`,
//! `/work/…`) are refused: a clone has only what is committed.
//!
//! Scanned: `.rs .sh .py .toml .md` files under the workspace root, skipping `target/`,
//! `.git/`, `tests/vm/work/` (git-ignored downloads) and this file (its unit tests hold
//! deliberately broken citations).
//!
//! Resolution of a cited name: a name with a `/` is looked up relative to the citing file,
//! then to the repository root; a bare name is looked up beside the citing file, then in
//! `spec-notes/`, then at the root, then anywhere in the repository (must be unique).
//!
//! Paths into the workspace's own source (`sim/src/host/si.rs`, `cli/tests/e2e_sim.rs`,
//! `tests/vm/run.sh`, …) must exist too: a file that moved leaves no stale pointer behind.
//!
//! What counts as a section: a Markdown heading whose first word is the number (`## 7.`,
//! `### 7.3`) or the label (`### B-4 — …`, `### B-1 / B-2 — …`), or a table row whose first
//! cell is the label (`| T3 | …`, `| D-e214 | …`, `| B-6 | …`).

use std::collections::BTreeSet;
use std::fs;
use std::path::{Component, Path, PathBuf};

/// One citation found in a text: the cited file name and the section keys it names.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Citation {
    line: usize,
    name: String,
    keys: Vec<String>,
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/')
}

/// `B-4`, `D-e214`, `T3`: the length of a label at the start of `s`, if any.
fn label_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let body = |start: usize, ok: fn(u8) -> bool| {
        let n = b[start..].iter().take_while(|&&c| ok(c)).count();
        // a label ends at a non-word character
        let end = start + n;
        if n == 0
            || b.get(end)
                .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
        {
            None
        } else {
            Some(end)
        }
    };
    match b {
        [b'B', b'-', ..] => body(2, |c| c.is_ascii_digit()),
        [b'D', b'-', ..] => body(2, |c| c.is_ascii_hexdigit() || c.is_ascii_lowercase()),
        [b'T', ..] => body(1, |c| c.is_ascii_digit()),
        _ => None,
    }
}

/// A section number `7`, `7.3`, `2.9` at the start of `s` (a trailing `.` is not part of it).
fn number_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 0;
    loop {
        let n = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return if i == 0 { None } else { Some(i - 1) };
        }
        i += n;
        if b.get(i) == Some(&b'.') && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
            i += 1;
        } else {
            return Some(i);
        }
    }
}

/// Expands `a–b` between two plain integers into every integer; otherwise just the ends.
fn push_range(keys: &mut Vec<String>, from: &str, to: &str) {
    match (from.parse::<u32>(), to.parse::<u32>()) {
        (Ok(a), Ok(b)) if a <= b && b - a <= 50 => keys.extend((a..=b).map(|n| n.to_string())),
        _ => {
            keys.push(from.to_string());
            keys.push(to.to_string());
        }
    }
}

/// Parses the section list that follows a cited name: `§7.3`, `§§4–5`, `§0/§12`,
/// `§3, §5`, `§§3, 5–7`, `§13 T3`, `§12 B-6`, `section 2.3`, or a bare label `B-9`.
fn parse_keys(rest: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut s = rest.trim_start_matches([' ', '`', ')', '(', '*']);
    if let Some(n) = label_len(s) {
        keys.push(s[..n].to_string());
        return keys;
    }
    if let Some(t) = s.strip_prefix("section ") {
        s = t;
    } else if !s.starts_with('§') {
        return keys;
    }
    loop {
        s = s.trim_start_matches('§');
        let Some(n) = number_len(s) else { break };
        let first = &s[..n];
        s = &s[n..];
        // a range: `–`, `-` or `..`, the end optionally with its own `§`
        let mut ranged = false;
        for dash in ["–", "-"] {
            if let Some(t) = s.strip_prefix(dash) {
                let t = t.trim_start_matches('§');
                if let Some(m) = number_len(t) {
                    push_range(&mut keys, first, &t[..m]);
                    s = &t[m..];
                    ranged = true;
                    break;
                }
            }
        }
        if !ranged {
            keys.push(first.to_string());
        }
        // a label right after the number: `§13 T3`, `§12 B-6`
        if let Some(t) = s.strip_prefix(' ') {
            if let Some(m) = label_len(t) {
                keys.push(t[..m].to_string());
                s = &t[m..];
            }
        }
        // another section: `, §5`, `/§12`, ` and §11.4`, `, 5–7` (inside a `§§` list)
        let mut next = None;
        for sep in [", §", "/§", " and §", ", "] {
            if let Some(t) = s.strip_prefix(sep) {
                if sep == ", " && number_len(t).is_none() {
                    continue;
                }
                next = Some(if sep.ends_with('§') {
                    &s[sep.len() - '§'.len_utf8()..]
                } else {
                    t
                });
                break;
            }
        }
        match next {
            Some(t) => s = t,
            None => break,
        }
    }
    keys
}

/// Every `NAME.md` citation in `text`, with the section keys that follow it.
fn parse_citations(text: &str) -> Vec<Citation> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let mut from = 0;
        while let Some(pos) = line[from..].find(".md") {
            let end = from + pos + 3;
            from = end;
            // `.md` must end the name (not `.mdx`, not `foo.md.bak`)
            if line[end..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
                continue;
            }
            let start = line[..end - 3]
                .char_indices()
                .rev()
                .take_while(|&(_, c)| is_name_char(c))
                .last()
                .map_or(end - 3, |(k, _)| k);
            let name = &line[start..end];
            if name == ".md" || line[..start].ends_with(':') || line[end..].starts_with('#') {
                // `*.md`, a URL, or an anchor link: not a section citation we can check
                continue;
            }
            out.push(Citation {
                line: i + 1,
                name: name.trim_start_matches("./").to_string(),
                keys: parse_keys(&line[end..]),
            });
        }
    }
    out
}

/// The section keys a Markdown file defines: heading numbers/labels, table-row labels.
fn section_keys(text: &str) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    for line in text.lines() {
        if let Some(h) = line.strip_prefix('#') {
            let h = h.trim_start_matches('#').trim();
            for part in h.split(" / ") {
                if let Some(w) = part.split_whitespace().next() {
                    let w = w.trim_end_matches(['.', ':']);
                    if number_len(w) == Some(w.len()) || label_len(w) == Some(w.len()) {
                        keys.insert(w.to_string());
                    }
                }
            }
        } else if let Some(row) = line.strip_prefix('|') {
            let cell = row.split('|').next().unwrap_or("").trim().trim_matches('*');
            if label_len(cell) == Some(cell.len()) {
                keys.insert(cell.to_string());
            }
        }
    }
    keys
}

/// References to places outside the checkout.
fn outside_refs(text: &str) -> Vec<(usize, &'static str)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.contains("../shared/") || line.contains("shared/reference/") {
            out.push((
                i + 1,
                "a path outside the checkout (`../shared/`, `shared/reference/`)",
            ));
        }
        let mut from = 0;
        while let Some(pos) = line[from..].find("/work/") {
            let at = from + pos;
            from = at + 1;
            if !line[..at].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == '.') {
                out.push((i + 1, "an absolute path of the build machine (`/work/`)"));
                break;
            }
        }
    }
    out
}

/// The top-level folders whose file paths a text may name.
const TREES: [&str; 7] = [
    "vocab/",
    "bt-sm/",
    "watchdog/",
    "sim/",
    "cli/",
    "tests/",
    "spec-notes/",
];

/// Paths into the workspace's own trees named in `text` (`sim/src/bmc/fault.rs`), with
/// their line numbers: a run of path characters that starts with one of [`TREES`] (not in
/// the middle of a longer path) and ends in a file extension. Globs (`*`) and templates
/// (`{a,b}`, `NAME`) are not paths and are skipped.
fn workspace_paths(text: &str) -> Vec<(usize, String)> {
    let is_path_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/');
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let mut start = 0;
        while start < line.len() {
            let rest = &line[start..];
            let Some(tree) = TREES.iter().find(|t| rest.starts_with(**t)) else {
                start += rest.chars().next().map_or(1, char::len_utf8);
                continue;
            };
            let before = line[..start].chars().next_back();
            let len = rest.find(|c: char| !is_path_char(c)).unwrap_or(rest.len());
            let path = rest[..len].trim_end_matches('.');
            let next = rest[len..].chars().next();
            start += len.max(tree.len());
            if before.is_some_and(|c| is_path_char(c) || c == '$' || c == '{')
                || matches!(next, Some('*' | '{' | '<'))
            {
                continue;
            }
            let file = path.rsplit('/').next().unwrap_or("");
            let has_ext = file.rsplit_once('.').is_some_and(|(stem, ext)| {
                !stem.is_empty() && matches!(ext, "rs" | "md" | "toml" | "sh" | "py")
            });
            if has_ext && !file.starts_with("NAME") {
                out.push((i + 1, path.to_string()));
            }
        }
    }
    out
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

const SKIP_DIRS: [&str; 3] = ["target", ".git", "tests/vm/work"];
const SELF: &str = "tests/tests/citations.rs";

fn walk(root: &Path, dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        let rel = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
        let rel_s = rel.to_string_lossy().replace('\\', "/");
        if path.is_dir() {
            if !SKIP_DIRS.contains(&rel_s.as_str()) && !rel_s.ends_with("/target") {
                walk(root, &path, files);
            }
        } else {
            files.push(rel);
        }
    }
}

fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// Finds the one file a citation names, or says why it cannot.
fn resolve(files: &[PathBuf], citing: &Path, name: &str) -> Result<PathBuf, String> {
    let here = citing.parent().unwrap_or(Path::new(""));
    let exists = |p: &PathBuf| files.contains(p);
    let mut tries = vec![normalize(&here.join(name))];
    if name.contains('/') {
        tries.push(normalize(Path::new(name)));
    } else {
        tries.push(PathBuf::from("spec-notes").join(name));
        tries.push(PathBuf::from(name));
    }
    if let Some(p) = tries.into_iter().find(exists) {
        return Ok(p);
    }
    if name.contains('/') {
        return Err("no such file in the repository".into());
    }
    let hits: Vec<_> = files
        .iter()
        .filter(|f| f.file_name().is_some_and(|n| n == name))
        .collect();
    match hits.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err("no such file in the repository".into()),
        many => Err(format!(
            "ambiguous, {} files have that name: {}",
            many.len(),
            many.iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

fn check_repo() -> Vec<String> {
    let root = repo_root();
    let mut files = Vec::new();
    walk(&root, &root, &mut files);
    let mut problems = Vec::new();
    for rel in &files {
        let ext = rel.extension().and_then(|e| e.to_str()).unwrap_or("");
        if !matches!(ext, "rs" | "sh" | "py" | "toml" | "md") || rel == Path::new(SELF) {
            continue;
        }
        let Ok(text) = fs::read_to_string(root.join(rel)) else {
            continue;
        };
        for (line, path) in workspace_paths(&text) {
            if !root.join(&path).is_file() {
                problems.push(format!(
                    "{}:{line}: `{path}` → no such file in the repository (moved? say where it is now)",
                    rel.display()
                ));
            }
        }
        for (line, what) in outside_refs(&text) {
            problems.push(format!(
                "{}:{line}: {what} → keep references inside the repository",
                rel.display()
            ));
        }
        for c in parse_citations(&text) {
            let target = match resolve(&files, rel, &c.name) {
                Ok(t) => t,
                Err(e) => {
                    problems.push(format!("{}:{}: {} → {e}", rel.display(), c.line, c.name));
                    continue;
                }
            };
            if c.keys.is_empty() {
                continue;
            }
            let Ok(target_text) = fs::read_to_string(root.join(&target)) else {
                problems.push(format!(
                    "{}:{}: {} → unreadable",
                    rel.display(),
                    c.line,
                    c.name
                ));
                continue;
            };
            let have = section_keys(&target_text);
            for k in &c.keys {
                if !have.contains(k) {
                    problems.push(format!(
                        "{}:{}: {} {} → no heading or table row `{}` in {}",
                        rel.display(),
                        c.line,
                        c.name,
                        c.keys
                            .iter()
                            .map(|k| if label_len(k).is_some() {
                                k.clone()
                            } else {
                                format!("§{k}")
                            })
                            .collect::<Vec<_>>()
                            .join(" "),
                        k,
                        target.display()
                    ));
                }
            }
        }
    }
    problems
}

#[test]
fn every_citation_resolves_inside_the_repository() {
    let problems = check_repo();
    assert!(
        problems.is_empty(),
        "{} dangling citation(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn the_reference_notes_are_in_the_repository() {
    let root = repo_root();
    for name in ["kernel-bt.md", "bmc-watchdog.md", "real-kernel-lab.md"] {
        let p = root.join("spec-notes").join(name);
        assert!(p.is_file(), "{} is missing", p.display());
    }
}

#[test]
fn parser_reads_every_citation_form() {
    let text = "\
// see kernel-bt.md §7.3 step 8 and bmc-watchdog.md §§4–5.
// kernel-bt.md §0/§12, kernel-bt.md §11–12, real-kernel-lab.md §§3, 5–7
//! (kernel-bt.md §13 T3, bug B-8) `spec-notes/watchdog.md` §4; kernel-bt.md B-9 analysis
# real-kernel-lab.md section 2.3. [x](../spec-notes/cli.md) (§4.1 and §11.4) kernel-bt.md D-e214
plain.md, *.md, https://example.org/a.md, notes.md#anchor
";
    let got: Vec<_> = parse_citations(text)
        .into_iter()
        .map(|c| (c.line, c.name, c.keys))
        .collect();
    let k = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        got,
        vec![
            (1, "kernel-bt.md".into(), k(&["7.3"])),
            (1, "bmc-watchdog.md".into(), k(&["4", "5"])),
            (2, "kernel-bt.md".into(), k(&["0", "12"])),
            (2, "kernel-bt.md".into(), k(&["11", "12"])),
            (2, "real-kernel-lab.md".into(), k(&["3", "5", "6", "7"])),
            (3, "kernel-bt.md".into(), k(&["13", "T3"])),
            (3, "spec-notes/watchdog.md".into(), k(&["4"])),
            (3, "kernel-bt.md".into(), k(&["B-9"])),
            (4, "real-kernel-lab.md".into(), k(&["2.3"])),
            (4, "../spec-notes/cli.md".into(), k(&["4.1", "11.4"])),
            (4, "kernel-bt.md".into(), k(&["D-e214"])),
            (5, "plain.md".into(), k(&[])),
        ]
    );
}

#[test]
fn section_keys_come_from_headings_and_table_labels() {
    let note = "\
# Title
## 0. Sources
| D-e214 | a diff |
## 7. Timeouts
### 7.3 error_recovery
### B-1 / B-2 — original design
### B-4 — reset
| T3 | silent |
| **T4** | busy |
Not a heading: ## 9.
";
    let keys = section_keys(note);
    let want = ["0", "7", "7.3", "B-1", "B-2", "B-4", "D-e214", "T3", "T4"];
    assert_eq!(
        keys,
        want.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>()
    );
    assert!(
        !keys.contains("9"),
        "only lines that start with # are headings"
    );
}

#[test]
fn dangling_citations_and_outside_paths_are_reported() {
    // resolution: a bare name that is not in the repository, and an ambiguous one
    let files = vec![
        PathBuf::from("spec-notes/kernel-bt.md"),
        PathBuf::from("a/README.md"),
        PathBuf::from("b/README.md"),
    ];
    let citing = Path::new("sim/src/lib.rs");
    assert_eq!(
        resolve(&files, citing, "kernel-bt.md"),
        Ok(PathBuf::from("spec-notes/kernel-bt.md"))
    );
    assert!(resolve(&files, citing, "nosuch.md").is_err());
    assert!(resolve(&files, citing, "README.md")
        .unwrap_err()
        .contains("ambiguous"));
    assert_eq!(
        resolve(&files, Path::new("a/x.rs"), "README.md"),
        Ok(PathBuf::from("a/README.md"))
    );
    assert_eq!(
        resolve(
            &files,
            Path::new("spec-notes/x.md"),
            "../spec-notes/kernel-bt.md"
        ),
        Ok(PathBuf::from("spec-notes/kernel-bt.md"))
    );
    assert!(resolve(&files, citing, "shared/reference/kernel-bt.md").is_err());
    // a section the note does not have
    let have = section_keys("## 7. T\n### 7.3 x\n");
    let c = &parse_citations("kernel-bt.md §7.4")[0];
    assert!(c.keys.iter().any(|k| !have.contains(k)));
    // paths outside the checkout
    assert_eq!(outside_refs("see ../shared/reference/x.md\n").len(), 1);
    assert_eq!(outside_refs("ok\n`/work/shared/design/r.md`\n")[0].0, 2);
    assert!(outside_refs("/tests/vm/work/ and tests/vm/work/x\n").is_empty());
}

#[test]
fn workspace_paths_are_found_and_templates_skipped() {
    let text = "see `sim/src/host/si.rs` and sim/src/fault.rs.\n\
                not a/sim/src/x.rs, nor sim/scenarios/*.toml, nor cli/src/{a,b}.rs\n\
                dir sim/src/ and tests/vm/run.sh";
    let found = workspace_paths(text);
    assert_eq!(
        found,
        vec![
            (1, "sim/src/host/si.rs".to_string()),
            (1, "sim/src/fault.rs".to_string()),
            (3, "tests/vm/run.sh".to_string()),
        ]
    );
}
