//! What a sweep ran and how each pair ended: the pair and result types shared by the run
//! index, the summary JSON, the markdown summary, JUnit and `merge`.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::shard::{PartitionKind, Shard};
use crate::scenario::{Mode, Overrides};

pub const SUMMARY_FORMAT: &str = "walburst-summary/1";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PairKind {
    /// From the regression corpus: runs first, reported apart.
    Regression,
    /// A (case, seed) of the sweep.
    Sweep,
}

/// A pair of a sweep or of the regression corpus, with its name and reproduce command.
#[allow(clippy::too_many_arguments)]
pub fn make_pair(
    kind: PairKind,
    suite: &super::Suite,
    case: &crate::scenario::matrix::Case,
    seed: u64,
    mode: Mode,
    overrides: &Overrides,
    check_determinism: bool,
    trace: Option<PathBuf>,
    note: Option<String>,
) -> Pair {
    let mode = if check_determinism || trace.is_some() {
        Mode::Lockstep
    } else {
        mode
    };
    let source = suite.case_source(case);
    let mut name = format!("{} seed={seed}", case.name);
    if mode == Mode::Lockstep {
        name.push_str(" mode=lockstep");
    }
    for a in overrides.as_args() {
        name.push(' ');
        name.push_str(&a);
    }
    if check_determinism {
        name.push_str(" --check-determinism");
    }
    if trace.is_some() {
        name.push_str(" (recorded trace)");
    }
    let mut reproduce = crate::run::reproduce_command(&source, seed, mode, overrides);
    if check_determinism {
        reproduce.push_str(" --check-determinism");
    }
    Pair {
        kind,
        name,
        suite: suite.base.name.clone(),
        case: case.name.clone(),
        spec: source.as_arg(),
        seed,
        mode,
        overrides: overrides.clone(),
        check_determinism,
        trace,
        note,
        reproduce,
    }
}

/// One (case, seed) to run, with everything needed to run it again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pair {
    pub kind: PairKind,
    /// `<case> seed=<N>` plus the mode and overrides when they are not the defaults: the
    /// JUnit testcase name. Unique within a kind.
    pub name: String,
    /// The base scenario's name: the JUnit testsuite of sweep pairs.
    pub suite: String,
    /// The case's name (`<scenario>/<parts>`, or the scenario's name without a matrix).
    pub case: String,
    /// How to name the case on a command line (`FILE#CASE`, a file, or a shipped name).
    pub spec: String,
    pub seed: u64,
    pub mode: Mode,
    #[serde(default, skip_serializing_if = "Overrides::is_empty")]
    pub overrides: Overrides,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub check_determinism: bool,
    /// Regressions: a recorded lockstep trace replayed step by step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<PathBuf>,
    /// Regressions: why the entry is in the corpus.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The command that runs this pair alone.
    pub reproduce: String,
}

impl Pair {
    /// Unique across the sweep.
    pub fn key(&self) -> String {
        match self.kind {
            PairKind::Regression => format!("regression: {}", self.name),
            PairKind::Sweep => self.name.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Pass,
    /// The run's verdict is fail.
    Fail,
    /// The run could not be carried out (or its process died without a result).
    Error,
    /// Started but never finished (the shard was killed), or never started.
    NotRun,
}

impl Status {
    pub fn word(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::Error => "ERROR",
            Status::NotRun => "NOT RUN",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairResult {
    pub status: Status,
    /// Failures, liveness failures (prefixed `liveness:`) or the error.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_dir: Option<PathBuf>,
    /// The pair's wall time, process start to exit.
    pub wall_secs: f64,
    /// What the run printed (stdout, then stderr), for the JUnit system-out.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub output: String,
}

impl PairResult {
    pub fn not_run(why: &str) -> PairResult {
        PairResult {
            status: Status::NotRun,
            reasons: vec![why.to_string()],
            notes: Vec::new(),
            report: None,
            run_dir: None,
            wall_secs: 0.0,
            output: String::new(),
        }
    }

    pub fn passed(&self) -> bool {
        self.status == Status::Pass
    }
}

/// A pair and how it ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub pair: Pair,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<u32>,
    pub result: PairResult,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub pairs: u64,
    pub passed: u64,
    pub failed: u64,
    pub errors: u64,
    pub not_run: u64,
}

impl Totals {
    pub fn of<'a>(entries: impl IntoIterator<Item = &'a Entry>) -> Totals {
        let mut t = Totals::default();
        for e in entries {
            t.pairs += 1;
            match e.result.status {
                Status::Pass => t.passed += 1,
                Status::Fail => t.failed += 1,
                Status::Error => t.errors += 1,
                Status::NotRun => t.not_run += 1,
            }
        }
        t
    }

    /// Everything that did not pass.
    pub fn not_passed(&self) -> u64 {
        self.failed + self.errors + self.not_run
    }

    /// `N passed, M failed`: the last line of a sweep's output.
    pub fn line(&self) -> String {
        format!("{} passed, {} failed", self.passed, self.not_passed())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardInfo {
    pub count: u32,
    /// How pairs were dealt out (`slice`, the default, left out; or `hash`).
    #[serde(default, skip_serializing_if = "PartitionKind::is_slice")]
    pub kind: PartitionKind,
    /// Shards whose results are in this summary.
    pub present: Vec<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<u32>,
    /// Wall time of each present shard's sweep, in its order of `present`.
    pub wall_secs: Vec<f64>,
}

impl ShardInfo {
    /// `shards`, or `hash partitions` when they were dealt by hash.
    pub fn noun(&self) -> &'static str {
        match self.kind {
            PartitionKind::Slice => "shards",
            PartitionKind::Hash => "hash partitions",
        }
    }

    /// The missing shards as `1, 3`; empty when none is missing.
    pub fn missing_list(&self) -> String {
        self.missing
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The entries that did not pass, as a report shows them: every failure and error, but of
/// the pairs that did not run (a missing shard, an interrupted sweep) only the first
/// `shown_not_run`; returns them and how many not-run pairs were left out.
pub fn failures_to_show(results: &[Entry], shown_not_run: usize) -> (Vec<&Entry>, usize) {
    let mut not_run = 0usize;
    let shown = results
        .iter()
        .filter(|e| !e.result.passed())
        .filter(|e| {
            if e.result.status != Status::NotRun {
                return true;
            }
            not_run += 1;
            not_run <= shown_not_run
        })
        .collect();
    (shown, not_run.saturating_sub(shown_not_run))
}

/// A sweep's (or merged shards') results: `sweep-summary*.json`, `merged-summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub format: String,
    pub walburst_version: String,
    /// Identifies the unsharded sweep (SHA-256 of its pair list): shards of one sweep share it.
    pub sweep_hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shards: Option<ShardInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_seed: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nightly_date: Option<String>,
    /// Everything.
    pub totals: Totals,
    /// The regression corpus alone.
    pub regressions: Totals,
    /// The sweep's own pairs alone.
    pub sweep: Totals,
    /// Wall time of the sweep (merged: of the slowest shard).
    pub wall_secs: f64,
    /// Regressions first, then the sweep, each in canonical order.
    pub results: Vec<Entry>,
}

impl Summary {
    pub fn new(
        sweep_hash: String,
        shards: Option<ShardInfo>,
        base_seed: Option<u64>,
        nightly_date: Option<String>,
        wall_secs: f64,
        results: Vec<Entry>,
    ) -> Summary {
        let of = |k: PairKind| Totals::of(results.iter().filter(|e| e.pair.kind == k));
        Summary {
            format: SUMMARY_FORMAT.to_string(),
            walburst_version: env!("CARGO_PKG_VERSION").to_string(),
            sweep_hash,
            shards,
            base_seed,
            nightly_date,
            totals: Totals::of(&results),
            regressions: of(PairKind::Regression),
            sweep: of(PairKind::Sweep),
            wall_secs: (wall_secs * 1000.0).round() / 1000.0,
            results,
        }
    }

    pub fn shard_info(shard: Option<Shard>, wall_secs: f64) -> Option<ShardInfo> {
        shard.map(|s| ShardInfo {
            count: s.count,
            kind: s.kind,
            present: vec![s.index],
            missing: Vec::new(),
            wall_secs: vec![(wall_secs * 1000.0).round() / 1000.0],
        })
    }

    /// The markdown summary (CI step summaries, pull-request comments).
    pub fn markdown(&self) -> String {
        let mut md = String::new();
        md.push_str(&format!("# walburst: {}\n\n", self.totals.line()));
        let mut facts = vec![format!("sweep `{}`", short_hash(&self.sweep_hash))];
        if let Some(seed) = self.base_seed {
            facts.push(match &self.nightly_date {
                Some(d) => format!("base seed {seed} (nightly, UTC date {d})"),
                None => format!("base seed {seed}"),
            });
        }
        if let Some(s) = &self.shards {
            let walls: Vec<String> = s
                .present
                .iter()
                .zip(&s.wall_secs)
                .map(|(k, w)| format!("{k}/{}: {}", s.count, fmt_secs(*w)))
                .collect();
            facts.push(format!(
                "{} present {}/{}{} (wall time per shard: {})",
                s.noun(),
                s.present.len(),
                s.count,
                if s.missing.is_empty() {
                    String::new()
                } else {
                    format!(", **missing {}**", s.missing_list())
                },
                walls.join(", ")
            ));
        } else {
            facts.push(format!("wall time {}", fmt_secs(self.wall_secs)));
        }
        md.push_str(&facts.join("; "));
        md.push_str(
            "\n\n| | pairs | passed | failed | errors | not run |\n|---|---|---|---|---|---|\n",
        );
        for (what, t) in [
            ("regressions", &self.regressions),
            ("sweep", &self.sweep),
            ("**total**", &self.totals),
        ] {
            md.push_str(&format!(
                "| {what} | {} | {} | {} | {} | {} |\n",
                t.pairs, t.passed, t.failed, t.errors, t.not_run
            ));
        }
        let regressions: Vec<&Entry> = self
            .results
            .iter()
            .filter(|e| e.pair.kind == PairKind::Regression)
            .collect();
        if !regressions.is_empty() {
            md.push_str("\n## Regressions\n\n| case | seed | result | note |\n|---|---|---|---|\n");
            for e in regressions {
                md.push_str(&format!(
                    "| `{}` | {} | {} | {} |\n",
                    e.pair.case,
                    e.pair.seed,
                    e.result.status.word(),
                    cell(e.pair.note.as_deref().unwrap_or(""))
                ));
            }
        }
        let (failed, not_run_hidden) = failures_to_show(&self.results, 20);
        md.push_str("\n## Failures\n\n");
        if failed.is_empty() {
            md.push_str("None.\n");
        } else {
            md.push_str("| | case | seed | result | first reason | reproduce |\n|---|---|---|---|---|---|\n");
            for e in failed {
                md.push_str(&format!(
                    "| {} | `{}` | {} | {} | {} | `{}` |\n",
                    match e.pair.kind {
                        PairKind::Regression => "regression",
                        PairKind::Sweep => "sweep",
                    },
                    e.pair.case,
                    e.pair.seed,
                    e.result.status.word(),
                    cell(e.result.reasons.first().map_or("", String::as_str)),
                    e.pair.reproduce
                ));
            }
            if not_run_hidden > 0 {
                md.push_str(&format!(
                    "\n... and {} more pairs not run (listed in the summary JSON).\n",
                    not_run_hidden
                ));
            }
        }
        md
    }
}

pub fn short_hash(h: &str) -> &str {
    let h = h.strip_prefix("sha256:").unwrap_or(h);
    &h[..h.len().min(12)]
}

pub fn fmt_secs(s: f64) -> String {
    let s = s.max(0.0).round() as u64;
    if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

/// Text safe inside a markdown table cell (one line, no `|`), shortened.
fn cell(text: &str) -> String {
    let one: String = text.replace('|', "\\|").replace(['\n', '\r'], " ");
    if one.chars().count() > 200 {
        let cut: String = one.chars().take(200).collect();
        format!("{cut}...")
    } else {
        one
    }
}
