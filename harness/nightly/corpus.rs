//! The regression corpus (`scenarios/regressions.toml`): (case, seed, optional trace) pairs
//! that once failed, each with a note. Every sweep runs them first and reports them apart;
//! `--record-failures` appends the sweep's new failures. Format: `NIGHTLY.md`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::summary::{Entry as ResultEntry, Pair, PairKind, Status};
use super::{Suite, dir_of, load_suite, split_case};
use crate::scenario::{self, Invalid, LoadError, LoadProblem, Mode, Overrides, SchedulerKind};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CorpusFile {
    #[serde(default)]
    regression: Vec<Entry>,
}

/// One `[[regression]]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// The case's full name (`nightly/wal-full-...`), or the scenario's name without a matrix.
    pub case: String,
    /// The scenario file, relative to the corpus file's directory, or a shipped name.
    pub scenario: String,
    pub seed: u64,
    #[serde(default)]
    pub mode: Mode,
    /// A recorded lockstep `trace.jsonl` (relative to the corpus file's directory), replayed
    /// step by step instead of asking the scheduler. Lockstep only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workers: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ops: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler: Option<SchedulerKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pct_depth: Option<u32>,
    /// Why it is here: what failed, when, what fixed it.
    pub note: String,
}

impl Entry {
    fn overrides(&self) -> Overrides {
        Overrides {
            workers: self.workers,
            ops: self.ops,
            scheduler: self.scheduler,
            pct_depth: self.pct_depth,
            ..Overrides::default()
        }
    }
}

/// A loaded corpus.
#[derive(Debug, Clone)]
pub struct Corpus {
    pub path: PathBuf,
    pub entries: Vec<Entry>,
}

/// Where the corpus is when `--regressions` does not say: `regressions.toml` beside the
/// first scenario file on the command line, else `scenarios/regressions.toml`.
pub fn default_path(specs: &[String]) -> PathBuf {
    for spec in specs {
        let base = split_case(spec).0;
        let p = Path::new(base);
        if base.ends_with(".toml") || base.contains('/') || p.exists() {
            return match p.parent() {
                Some(d) if !d.as_os_str().is_empty() => d.join("regressions.toml"),
                _ => PathBuf::from("regressions.toml"),
            };
        }
    }
    PathBuf::from("scenarios/regressions.toml")
}

/// Reads and validates the corpus; a missing file is an empty corpus.
pub fn load(path: &Path) -> Result<Corpus, LoadError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Corpus {
                path: path.to_path_buf(),
                entries: Vec::new(),
            });
        }
        Err(error) => {
            return Err(LoadError::new(
                path.display(),
                LoadProblem::Unreadable {
                    what: "the regression corpus",
                    error,
                },
            ));
        }
    };
    let de = toml::Deserializer::parse(&text)
        .map_err(|e| LoadError::new(path.display(), scenario::syntax("", &e)))?;
    let file: CorpusFile = serde_path_to_error::deserialize(de).map_err(|e| {
        LoadError::new(
            path.display(),
            scenario::syntax(&e.path().to_string(), e.inner()),
        )
    })?;
    for (i, e) in file.regression.iter().enumerate() {
        if e.note.trim().is_empty() {
            return Err(LoadError::new(
                path.display(),
                Invalid::field(
                    format!("regression[{i}].note"),
                    "is empty; say what failed and why it is kept",
                ),
            ));
        }
        if e.trace.is_some() && e.mode != Mode::Lockstep {
            return Err(LoadError::new(
                path.display(),
                Invalid::field(
                    format!("regression[{i}].trace"),
                    "needs `mode = \"lockstep\"` (a trace is a lockstep interleaving)",
                ),
            ));
        }
    }
    Ok(Corpus {
        path: path.to_path_buf(),
        entries: file.regression,
    })
}

impl Corpus {
    fn dir(&self) -> PathBuf {
        dir_of(&self.path)
    }

    /// The command-line spec of an entry's scenario (paths are relative to the corpus).
    fn scenario_spec(&self, scenario: &str) -> String {
        if scenario.ends_with(".toml") || scenario.contains('/') {
            let p = Path::new(scenario);
            if p.is_absolute() || self.dir() == Path::new(".") {
                scenario.to_string()
            } else {
                self.dir().join(p).display().to_string()
            }
        } else {
            scenario.to_string()
        }
    }

    /// Every entry as a pair to run, resolved and validated (exit 2 on error).
    pub fn pairs(&self, determinism: bool) -> Result<Vec<Pair>, LoadError> {
        let mut out = Vec::new();
        for (i, e) in self.entries.iter().enumerate() {
            let field = |f: &str| format!("regression[{i}].{f}");
            let spec = self.scenario_spec(&e.scenario);
            let overrides = e.overrides();
            let suite = load_suite(&spec, &overrides).map_err(|le| {
                LoadError::new(
                    self.path.display(),
                    LoadProblem::Inner {
                        field: field("scenario"),
                        inner: Box::new(le),
                    },
                )
            })?;
            let case = suite.find(&e.case).ok_or_else(|| {
                let names: Vec<&str> = suite
                    .expansion
                    .cases
                    .iter()
                    .take(5)
                    .map(|c| c.name.as_str())
                    .collect();
                LoadError::new(
                    self.path.display(),
                    Invalid::field(
                        field("case"),
                        format!(
                            "= {:?} is not a case of {}; its cases include {} (`walburst list {spec}` shows all)",
                            e.case,
                            suite.source,
                            names.join(", ")
                        ),
                    ),
                )
            })?;
            let trace = match &e.trace {
                Some(t) => {
                    let p = if Path::new(t).is_absolute() {
                        PathBuf::from(t)
                    } else {
                        self.dir().join(t)
                    };
                    if !p.is_file() {
                        return Err(LoadError::new(
                            self.path.display(),
                            Invalid::field(
                                field("trace"),
                                format!("names {}, which is not a file", p.display()),
                            ),
                        ));
                    }
                    Some(p)
                }
                None => None,
            };
            out.push(super::summary::make_pair(
                PairKind::Regression,
                &suite,
                case,
                e.seed,
                e.mode,
                &overrides,
                determinism && trace.is_none(),
                trace,
                Some(e.note.clone()),
            ));
        }
        Ok(out)
    }
}

/// Makes `target` relative to `base` when it lies below it (both canonicalized).
fn relative_to(target: &Path, base: &Path) -> String {
    match (target.canonicalize(), base.canonicalize()) {
        (Ok(t), Ok(b)) => match t.strip_prefix(&b) {
            Ok(rel) => rel.display().to_string(),
            Err(_) => t.display().to_string(),
        },
        _ => target.display().to_string(),
    }
}

/// How long `--record-failures` waits for another sweep that is recording into the same
/// corpus.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// Holds an exclusive `flock` on the corpus file's directory (the file itself is replaced
/// by an atomic rename, so its own inode cannot carry the lock) while the corpus is read,
/// edited and written: two sweeps recording at once each see the other's entries.
fn lock_dir(dir: &Path) -> Result<std::fs::File, RecordError> {
    let f = std::fs::File::open(dir).map_err(io("open to lock it", dir))?;
    let deadline = std::time::Instant::now() + LOCK_WAIT;
    loop {
        match f.try_lock() {
            Ok(()) => return Ok(f),
            Err(std::fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(RecordError::LockHeld(dir.to_path_buf()));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io("lock", dir)(e)),
        }
    }
}

/// Why failures could not be recorded in the corpus (the sweep itself still ended).
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("cannot {doing} {}", path.display())]
    Io {
        doing: &'static str,
        path: PathBuf,
        #[source]
        error: std::io::Error,
    },
    #[error(
        "another sweep held the lock on {} for more than {} s",
        .0.display(),
        LOCK_WAIT.as_secs()
    )]
    LockHeld(PathBuf),
    /// The corpus as it stands does not load (someone edited it since the sweep began).
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("{}: not TOML", path.display())]
    Parse {
        path: PathBuf,
        #[source]
        error: toml_edit::TomlError,
    },
    #[error("seed {0} does not fit a TOML integer")]
    Seed(u64),
    #[error("{}: `regression` is neither an array of tables nor an array", .0.display())]
    Shape(PathBuf),
    #[error(transparent)]
    Write(#[from] crate::report::WriteError),
    /// What was written does not load again; it is left for a person to mend.
    #[error("the corpus no longer loads")]
    NoLongerLoads(#[source] Box<LoadError>),
}

fn io(doing: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> RecordError {
    let path = path.to_path_buf();
    move |error| RecordError::Io { doing, path, error }
}

/// One `[[regression]]` entry as a TOML table, keys in the documented order.
fn entry_table(
    p: &Pair,
    scenario: &str,
    trace: Option<&str>,
    note: &str,
) -> Result<toml_edit::Table, RecordError> {
    use toml_edit::value;
    let mut t = toml_edit::Table::new();
    t["case"] = value(p.case.as_str());
    t["scenario"] = value(scenario);
    let seed = i64::try_from(p.seed).map_err(|_| RecordError::Seed(p.seed))?;
    t["seed"] = value(seed);
    if p.mode == Mode::Lockstep {
        t["mode"] = value("lockstep");
        if let Some(tr) = trace {
            t["trace"] = value(tr);
        }
    }
    let o = &p.overrides;
    if let Some(w) = o.workers {
        t["workers"] = value(i64::from(w));
    }
    if let Some(n) = o.ops {
        t["ops"] = value(i64::from(n));
    }
    if let Some(k) = o.scheduler {
        t["scheduler"] = value(k.name());
    }
    if let Some(d) = o.pct_depth {
        t["pct_depth"] = value(i64::from(d));
    }
    t["note"] = value(note);
    t.decor_mut().set_prefix("\n");
    Ok(t)
}

/// Appends a table to the document's `regression` array, whichever TOML form it is written
/// in (`[[regression]]` tables or an inline `regression = [...]`).
fn push_entry(
    doc: &mut toml_edit::DocumentMut,
    mut t: toml_edit::Table,
    path: &Path,
) -> Result<(), RecordError> {
    // Comments after the last entry (the header of a new corpus, a commented-out example)
    // stay above the new entry: it is appended, at the end of the file.
    let trailing = doc.trailing().as_str().unwrap_or("").to_string();
    let tables_form = doc.get("regression").is_none_or(|i| i.is_array_of_tables());
    if tables_form && !trailing.trim().is_empty() {
        t.decor_mut()
            .set_prefix(format!("{}\n\n", trailing.trim_end()));
        doc.set_trailing("");
    }
    let item = doc
        .entry("regression")
        .or_insert(toml_edit::Item::ArrayOfTables(
            toml_edit::ArrayOfTables::new(),
        ));
    if let Some(tables) = item.as_array_of_tables_mut() {
        tables.push(t);
    } else if let Some(array) = item.as_array_mut() {
        let inline = toml_edit::Value::InlineTable(t.into_inline_table()).decorated("\n  ", "");
        array.push_formatted(inline);
    } else {
        return Err(RecordError::Shape(path.to_path_buf()));
    }
    Ok(())
}

/// Adds every sweep pair that failed (verdict fail) and is not in the corpus yet, editing
/// the TOML document (comments and layout kept) under a lock. Returns the cases recorded.
pub fn record_failures(
    corpus: &Corpus,
    results: &[ResultEntry],
    suites: &[Suite],
    date: &str,
) -> Result<Vec<String>, RecordError> {
    let dir = corpus.dir();
    std::fs::create_dir_all(&dir).map_err(io("create", &dir))?;
    let _lock = lock_dir(&dir)?;
    // Read again under the lock: another sweep may have recorded since this one started.
    let text = match std::fs::read_to_string(&corpus.path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => HEADER.to_string(),
        Err(e) => return Err(io("read", &corpus.path)(e)),
    };
    let now = load(&corpus.path)?;
    let mut doc: toml_edit::DocumentMut = text.parse().map_err(|error| RecordError::Parse {
        path: corpus.path.clone(),
        error,
    })?;
    let mut known: Vec<(String, u64, Mode, Overrides)> = now
        .entries
        .iter()
        .map(|e| (e.case.clone(), e.seed, e.mode, e.overrides()))
        .collect();
    let mut recorded = Vec::new();
    for r in results {
        let p = &r.pair;
        if p.kind != PairKind::Sweep || r.result.status != Status::Fail {
            continue;
        }
        let id = (p.case.clone(), p.seed, p.mode, p.overrides.clone());
        if known.contains(&id) {
            continue;
        }
        let Some(suite) = suites.iter().find(|s| s.find(&p.case).is_some()) else {
            continue;
        };
        let scenario = match &suite.source {
            crate::scenario::ScenarioSource::Embedded(n) => n.clone(),
            crate::scenario::ScenarioSource::File(f) => relative_to(f, &dir),
        };
        let mut trace = None;
        if p.mode == Mode::Lockstep {
            let kept = r.result.run_dir.as_ref().map(|d| d.join("trace.jsonl"));
            if let Some(src) = kept.filter(|t| t.is_file()) {
                let rel = format!(
                    "regressions/{}-s{}.trace.jsonl",
                    crate::report::file_safe(&p.case),
                    p.seed
                );
                let dst = dir.join(&rel);
                std::fs::create_dir_all(dir.join("regressions"))
                    .and_then(|()| std::fs::copy(&src, &dst))
                    .map_err(io("copy the failing run's trace to", &dst))?;
                trace = Some(rel);
            }
        }
        // The kind of failure, without the example (it names a temporary run directory).
        let first = r.result.reasons.first().cloned().unwrap_or_default();
        let first = match first.split_once(": first: ") {
            Some((kind, _)) => kind.to_string(),
            None => first,
        };
        let first: String = if first.chars().count() > 300 {
            format!("{}...", first.chars().take(300).collect::<String>())
        } else {
            first
        };
        let note = format!("recorded by --record-failures on {date}: {first}");
        push_entry(
            &mut doc,
            entry_table(p, &scenario, trace.as_deref(), &note)?,
            &corpus.path,
        )?;
        known.push(id);
        recorded.push(format!("{} seed={}", p.case, p.seed));
    }
    if !recorded.is_empty() {
        crate::report::write_atomic(&corpus.path, doc.to_string().as_bytes())?;
        // What we wrote must load again.
        load(&corpus.path).map_err(|e| RecordError::NoLongerLoads(Box::new(e)))?;
    }
    Ok(recorded)
}

const HEADER: &str = "\
# walburst regression corpus: (case, seed) pairs that once failed.
#
# Every sweep (`walburst run ... --seeds N`, `--nightly`, a [matrix] scenario) runs these
# first and reports them apart (JUnit suite `regressions`). `--record-failures` appends
# new failures; edit the note to say what was wrong and what fixed it. See NIGHTLY.md.
#
# [[regression]]
# case = \"nightly/wal-normal-ac100-w20-nolock-headerprobefd\"  # `walburst list FILE` names
# scenario = \"nightly.toml\"  # relative to this file, or a shipped scenario's name
# seed = 20260101000
# mode = \"lockstep\"          # optional (default free)
# trace = \"regressions/x.trace.jsonl\"  # optional, lockstep: replay this interleaving
# workers = 4                # optional overrides: workers, ops, scheduler, pct_depth
# note = \"what failed, and why it stays here\"
";
