//! What one shard of a general search produced, in a form that serialises
//! (the CLI writes it as JSON with `--results FILE`) and merges: `bmcwd
//! scenario merge` combines the shards of one search into the result of the
//! whole (coverage: union; corpus: concatenated in shard order, duplicates
//! dropped; counterexamples: the earliest case of each known-bug label).

use serde::{Deserialize, Serialize};

/// One counterexample.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Found {
    /// The case index it was found at (a mutant's: the fresh case after
    /// which it ran).
    pub case: u64,
    /// Whether it came from a mutation of the corpus (else a fresh draw).
    pub mutant: bool,
    /// Runs of this shard up to and including the failing one.
    pub runs_to_find: u64,
    /// The known bug it looks like (`B-4`, `F-2`, …) or `new`.
    pub bug: String,
    /// The property's name.
    pub property: String,
    /// The violation, in words.
    pub violation: String,
    /// The minimised scenario (TOML).
    pub scenario: String,
}

/// The result of one shard (or of a merge).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardResult {
    /// Kernel preset name.
    pub kernel: String,
    /// Property name.
    pub property: String,
    /// The search's seed.
    pub seed: u64,
    /// Shard indices this result covers (one, or all after a merge).
    pub shards: Vec<u32>,
    /// Number of shards of the search.
    pub of: u32,
    /// Case indices of the whole search (every shard's share together).
    pub cases: u64,
    /// Scenarios run: fresh draws, mutants and shrink steps.
    pub runs: u64,
    /// Fresh draws run.
    pub fresh: u64,
    /// Mutants of the corpus run.
    pub mutants: u64,
    /// Runs stopped by a work limit without a violation (inconclusive).
    pub inconclusive: u64,
    /// Coverage items reached (sorted).
    pub coverage: Vec<u64>,
    /// Scenarios that reached new coverage (TOML), in the order found.
    pub corpus: Vec<String>,
    /// Counterexamples, one per known-bug label (or every one, with `keep_going`).
    pub found: Vec<Found>,
    /// (case index, fingerprint) of every fresh schedule, when asked for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schedules: Vec<(u64, u64)>,
    /// Wall time in seconds (summed over shards after a merge).
    pub elapsed_s: f64,
}

/// Combines shard results of one search. Errors if they differ in kernel,
/// property, seed, case count or shard count, or repeat a shard.
pub fn merge(parts: &[ShardResult]) -> Result<ShardResult, String> {
    let Some(first) = parts.first() else {
        return Err("nothing to merge".into());
    };
    let mut out = ShardResult {
        shards: Vec::new(),
        runs: 0,
        fresh: 0,
        mutants: 0,
        inconclusive: 0,
        coverage: Vec::new(),
        corpus: Vec::new(),
        found: Vec::new(),
        schedules: Vec::new(),
        elapsed_s: 0.0,
        ..first.clone()
    };
    let mut cov = std::collections::BTreeSet::new();
    let mut corpus = std::collections::HashSet::new();
    for p in parts {
        for (what, a, b) in [
            ("kernel", &p.kernel, &first.kernel),
            ("property", &p.property, &first.property),
        ] {
            if a != b {
                return Err(format!(
                    "the results are of different searches ({what} {a} vs {b})"
                ));
            }
        }
        if (p.seed, p.cases, p.of) != (first.seed, first.cases, first.of) {
            return Err(format!(
                "the results are of different searches (seed/cases/shards {}/{}/{} vs {}/{}/{})",
                p.seed, p.cases, p.of, first.seed, first.cases, first.of
            ));
        }
        for s in &p.shards {
            if out.shards.contains(s) {
                return Err(format!("shard {s}/{} is given twice", p.of));
            }
            out.shards.push(*s);
        }
        out.runs += p.runs;
        out.fresh += p.fresh;
        out.mutants += p.mutants;
        out.inconclusive += p.inconclusive;
        out.elapsed_s += p.elapsed_s;
        cov.extend(p.coverage.iter().copied());
        for s in &p.corpus {
            if corpus.insert(s.clone()) {
                out.corpus.push(s.clone());
            }
        }
        for f in &p.found {
            match out.found.iter_mut().find(|g| g.bug == f.bug) {
                Some(g) if (f.case, f.mutant) < (g.case, g.mutant) => *g = f.clone(),
                Some(_) => {}
                None => out.found.push(f.clone()),
            }
        }
        out.schedules.extend(p.schedules.iter().copied());
    }
    out.shards.sort_unstable();
    out.schedules.sort_unstable();
    out.found.sort_by_key(|f| (f.case, f.mutant));
    out.coverage = cov.into_iter().collect();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(shard: u32, cov: &[u64], found: &[(u64, &str)]) -> ShardResult {
        ShardResult {
            kernel: "mainline".into(),
            property: "all".into(),
            seed: 1,
            shards: vec![shard],
            of: 2,
            cases: 10,
            runs: 5,
            fresh: 5,
            mutants: 0,
            inconclusive: 0,
            coverage: cov.to_vec(),
            corpus: vec![format!("c{shard}"), "same".into()],
            found: found
                .iter()
                .map(|(case, bug)| Found {
                    case: *case,
                    mutant: false,
                    runs_to_find: 1,
                    bug: (*bug).into(),
                    property: "all".into(),
                    violation: String::new(),
                    scenario: String::new(),
                })
                .collect(),
            schedules: Vec::new(),
            elapsed_s: 1.0,
        }
    }

    #[test]
    fn merge_unions_coverage_and_keeps_the_earliest_of_each_bug() {
        let m = merge(&[
            part(1, &[3, 1], &[(5, "B-4")]),
            part(0, &[1, 2], &[(2, "B-4"), (4, "new")]),
        ])
        .unwrap();
        assert_eq!(m.shards, vec![0, 1]);
        assert_eq!(m.coverage, vec![1, 2, 3]);
        assert_eq!(m.corpus, vec!["c1", "same", "c0"]);
        assert_eq!(m.runs, 10);
        let f: Vec<(u64, &str)> = m.found.iter().map(|f| (f.case, f.bug.as_str())).collect();
        assert_eq!(f, vec![(2, "B-4"), (4, "new")]);
    }

    #[test]
    fn merge_refuses_mixed_searches_and_repeated_shards() {
        let mut other = part(1, &[], &[]);
        other.seed = 2;
        assert!(merge(&[part(0, &[], &[]), other]).is_err());
        assert!(merge(&[part(0, &[], &[]), part(0, &[], &[])]).is_err());
        assert!(merge(&[]).is_err());
    }
}
