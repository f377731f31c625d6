//! A sweep: (case, seed) pairs (regressions first), this machine's shard of them, each run
//! as a child `walburst sweep-pair` process, one or `--jobs` at a time. Every pair is written
//! to the run index (`sweep-index[-KofN].jsonl` in `--out`) before it starts and again with
//! its result when it ends, so an aborted sweep still says what ran; at the end come the
//! summary (`sweep-summary[-KofN].json` and `.md`), the JUnit file and the last line,
//! `N passed, M failed`.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::mpsc;
use std::time::{Instant, SystemTime};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::matrix::Case;
use super::pair::ChildResult;
use super::progress::Progress;
use super::shard::{self, Shard};
use super::summary::{Entry, Pair, PairKind, PairResult, Status, Summary, Totals};
use super::{Suite, corpus, load_case, load_suite, overrides_of, split_case};
use crate::cli::{EXIT_FAIL, EXIT_PASS, EXIT_USAGE, RunArgs};
use crate::scenario::{Mode, Overrides, SchedulerKind};

pub const INDEX_FORMAT: &str = "walburst-index/1";

/// The first line of a run index: what the whole (unsharded) sweep is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepHeader {
    pub format: String,
    pub walburst_version: String,
    pub sweep_hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<Shard>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_seed: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nightly_date: Option<String>,
    pub argv: Vec<String>,
    pub started_at: String,
    /// Every pair of the unsharded sweep, in canonical order; pair `i` belongs to shard
    /// `(i mod N) + 1`.
    pub pairs: Vec<Pair>,
}

/// One line of the run index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum IndexLine {
    Sweep(SweepHeader),
    /// Written (and synced) before the pair's process starts.
    Start {
        index: usize,
        key: String,
        at: String,
        pair: Pair,
    },
    Result {
        index: usize,
        key: String,
        result: PairResult,
    },
    End {
        wall_secs: f64,
        totals: Totals,
    },
}

struct Index {
    file: File,
    path: PathBuf,
}

impl Index {
    fn create(path: &Path, header: SweepHeader) -> anyhow::Result<Index> {
        let file = File::create(path)
            .map_err(|e| anyhow::anyhow!("cannot create the run index {}: {e}", path.display()))?;
        let mut index = Index {
            file,
            path: path.to_path_buf(),
        };
        index.write(&IndexLine::Sweep(header))?;
        Ok(index)
    }

    fn write(&mut self, line: &IndexLine) -> anyhow::Result<()> {
        let mut text = serde_json::to_string(line)?;
        text.push('\n');
        self.file
            .write_all(text.as_bytes())
            .and_then(|_| self.file.sync_data())
            .map_err(|e| anyhow::anyhow!("cannot write the run index {}: {e}", self.path.display()))
    }
}

/// Reads a run index back (for `merge`).
pub fn read_index(path: &Path) -> anyhow::Result<Vec<IndexLine>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    let all: Vec<&str> = text.lines().collect();
    let mut lines = Vec::new();
    for (i, l) in all.iter().enumerate() {
        if l.trim().is_empty() {
            continue;
        }
        match serde_json::from_str(l) {
            Ok(x) => lines.push(x),
            // A last line cut short by a killed shard ends the index.
            Err(_) if i + 1 == all.len() && !text.ends_with('\n') => break,
            Err(e) => anyhow::bail!(
                "{} line {}: not a run index line: {e}",
                path.display(),
                i + 1
            ),
        }
    }
    Ok(lines)
}

#[allow(clippy::too_many_arguments)]
pub fn make_pair(
    kind: PairKind,
    suite: &Suite,
    case: &Case,
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

/// The seeds a sweep runs: `None` means each case's own `seeds`.
#[derive(Debug, Clone, PartialEq)]
pub struct SeedPlan {
    pub seeds: Option<Vec<u64>>,
    pub base: Option<u64>,
    pub nightly_date: Option<String>,
}

/// Today's date in UTC, `YYYY-MM-DD`.
pub fn utc_today() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()[..10].to_string()
}

/// The nightly base seed of a UTC date: `YYYYMMDD x 1000`, so that up to 1000 seeds a night
/// never overlap the next night's.
pub fn nightly_base_seed(date: &str) -> Result<u64, String> {
    let bad = || format!("--date `{date}` is not a date written YYYY-MM-DD");
    let parts: Vec<&str> = date.split('-').collect();
    if parts.len() != 3
        || parts[0].len() != 4
        || parts[1].len() != 2
        || parts[2].len() != 2
        || !parts.iter().all(|p| p.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(bad());
    }
    let (y, m, d): (u64, u64, u64) = (
        parts[0].parse().map_err(|_| bad())?,
        parts[1].parse().map_err(|_| bad())?,
        parts[2].parse().map_err(|_| bad())?,
    );
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(bad());
    }
    Ok((y * 10_000 + m * 100 + d) * 1000)
}

pub fn seed_plan(a: &RunArgs) -> Result<SeedPlan, String> {
    let sw = &a.sweep;
    if a.seed.is_some() && (sw.seeds.is_some() || sw.base_seed.is_some() || sw.nightly) {
        return Err(
            "--seed runs one seed; it cannot be combined with --seeds, --base-seed or --nightly"
                .into(),
        );
    }
    if sw.nightly && sw.base_seed.is_some() {
        return Err(
            "--nightly derives the base seed from the date; drop --base-seed (or --nightly)".into(),
        );
    }
    if sw.seeds == Some(0) {
        return Err("--seeds 0 runs nothing; allowed: 1 or more".into());
    }
    let (base, nightly_date) = if sw.nightly {
        let date = sw.date.clone().unwrap_or_else(utc_today);
        (Some(nightly_base_seed(&date)?), Some(date))
    } else {
        (sw.base_seed.or(sw.seeds.map(|_| 1)), None)
    };
    let seeds = match (a.seed, base) {
        (Some(s), _) => Some(vec![s]),
        (None, Some(b)) => {
            let n = u64::from(sw.seeds.unwrap_or(1));
            if b.checked_add(n - 1).is_none() {
                return Err(format!(
                    "--base-seed {b} with --seeds {n} runs past the largest seed"
                ));
            }
            Some((b..b + n).collect())
        }
        (None, None) => None,
    };
    Ok(SeedPlan {
        seeds,
        base,
        nightly_date,
    })
}

fn sweep_hash(pairs: &[Pair]) -> String {
    let bytes = serde_json::to_vec(pairs).expect("pairs serialize");
    let digest = Sha256::digest(&bytes);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

struct Ctx {
    exe: PathBuf,
    /// `--worker-exe`, passed on to every pair.
    worker_exe: Option<PathBuf>,
    out: PathBuf,
    work_dir: Option<PathBuf>,
    keep: bool,
    results_dir: PathBuf,
}

fn scheduler_arg(k: SchedulerKind) -> &'static str {
    match k {
        SchedulerKind::Random => "random",
        SchedulerKind::Pct => "pct",
    }
}

/// Runs one pair as a child process and turns what it left into a result.
fn execute(i: usize, pair: &Pair, ctx: &Ctx) -> PairResult {
    let result_path = ctx.results_dir.join(format!("pair-{i}.json"));
    let mut cmd = Command::new(&ctx.exe);
    cmd.arg("sweep-pair")
        .arg("--spec")
        .arg(&pair.spec)
        .arg("--seed")
        .arg(pair.seed.to_string())
        .arg("--mode")
        .arg(pair.mode.name())
        .arg("--result")
        .arg(&result_path)
        .arg("--out")
        .arg(&ctx.out);
    if pair.check_determinism {
        cmd.arg("--check-determinism");
    }
    if let Some(t) = &pair.trace {
        cmd.arg("--trace").arg(t);
    }
    if ctx.keep {
        cmd.arg("--keep");
    }
    if let Some(w) = &ctx.work_dir {
        cmd.arg("--work-dir").arg(w);
    }
    if let Some(w) = &ctx.worker_exe {
        cmd.arg("--worker-exe").arg(w);
    }
    let o = &pair.overrides;
    if let Some(w) = o.workers {
        cmd.arg("--workers").arg(w.to_string());
    }
    if let Some(n) = o.ops {
        cmd.arg("--ops").arg(n.to_string());
    }
    if let Some(k) = o.scheduler {
        cmd.arg("--scheduler").arg(scheduler_arg(k));
    }
    if let Some(d) = o.pct_depth {
        cmd.arg("--pct-depth").arg(d.to_string());
    }
    cmd.stdin(Stdio::null());
    let t0 = Instant::now();
    let output = cmd.output();
    let wall_secs = (t0.elapsed().as_secs_f64() * 1000.0).round() / 1000.0;
    let mut result = PairResult {
        status: Status::Error,
        reasons: Vec::new(),
        notes: Vec::new(),
        report: None,
        run_dir: None,
        wall_secs,
        output: String::new(),
    };
    let output = match output {
        Ok(o) => o,
        Err(e) => {
            result
                .reasons
                .push(format!("cannot start the run's process: {e}"));
            return result;
        }
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    result.output = stdout.into_owned();
    if !stderr.trim().is_empty() {
        if !result.output.is_empty() && !result.output.ends_with('\n') {
            result.output.push('\n');
        }
        result.output.push_str(&stderr);
    }
    let child: Option<ChildResult> = std::fs::read_to_string(&result_path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    let _ = std::fs::remove_file(&result_path);
    let Some(child) = child else {
        let last = stderr.lines().last().unwrap_or("").trim().to_string();
        result.reasons.push(format!(
            "the run's process ended without a result ({}){}",
            output.status,
            if last.is_empty() {
                String::new()
            } else {
                format!(": {last}")
            }
        ));
        return result;
    };
    result.notes = child.notes;
    result.report = child.report;
    result.run_dir = child.run_dir;
    if child.interrupted {
        result
            .reasons
            .push("interrupted (SIGINT/SIGTERM): the run was stopped".into());
    } else if let Some(e) = child.error {
        result
            .reasons
            .push(format!("the run could not be carried out: {e}"));
    } else if child.passed {
        result.status = Status::Pass;
    } else {
        result.status = Status::Fail;
        result.reasons = child.failures;
        if result.reasons.is_empty() {
            result.reasons.push("failed (see the output)".into());
        }
    }
    result
}

enum Msg {
    Started(usize),
    Done(usize, PairResult),
}

fn usage(msg: impl std::fmt::Display) -> i32 {
    eprintln!("error: {msg}");
    EXIT_USAGE
}

/// `walburst run` as a sweep.
pub fn run_sweep(a: &RunArgs) -> i32 {
    let sw = &a.sweep;
    let overrides = overrides_of(&a.scale);
    let mode = if a.check_determinism {
        Mode::Lockstep
    } else {
        a.mode
    };
    let plan = match seed_plan(a) {
        Ok(p) => p,
        Err(m) => return usage(m),
    };
    let jobs = sw.jobs.unwrap_or(1);
    if jobs == 0 {
        return usage("--jobs 0 runs nothing; allowed: 1 or more");
    }

    // Everything is loaded and validated before anything is written.
    let mut suites: Vec<Suite> = Vec::new();
    let mut sweep_pairs: Vec<Pair> = Vec::new();
    let mut case_count = 0usize;
    for spec in &a.scenarios {
        let (base_spec, wanted) = split_case(spec);
        let suite = match load_suite(base_spec, &overrides) {
            Ok(s) => s,
            Err(e) => return usage(e),
        };
        let cases: Vec<&Case> = match wanted {
            Some(w) => match suite.find(w) {
                Some(c) => vec![c],
                // load_case words the error (with the case names).
                None => return usage(load_case(spec, &overrides).expect_err("no such case")),
            },
            None => suite.expansion.cases.iter().collect(),
        };
        case_count += cases.len();
        for case in cases {
            let seeds = plan
                .seeds
                .clone()
                .unwrap_or_else(|| case.scenario.seeds.clone());
            for seed in seeds {
                sweep_pairs.push(make_pair(
                    PairKind::Sweep,
                    &suite,
                    case,
                    seed,
                    mode,
                    &overrides,
                    a.check_determinism,
                    None,
                    None,
                ));
            }
        }
        suites.push(suite);
    }
    let corpus_path = sw
        .regressions
        .clone()
        .unwrap_or_else(|| corpus::default_path(&a.scenarios));
    if sw.regressions.is_some() && !corpus_path.exists() && !sw.record_failures {
        return usage(format!(
            "{}: no such regression corpus (give an existing file, or --record-failures to start one)",
            corpus_path.display()
        ));
    }
    let corpus = match corpus::load(&corpus_path) {
        Ok(c) => c,
        Err(e) if !sw.no_regressions => return usage(e),
        Err(_) => corpus::Corpus {
            path: corpus_path.clone(),
            entries: Vec::new(),
        },
    };
    let regression_pairs = if sw.no_regressions {
        Vec::new()
    } else {
        match corpus.pairs(a.check_determinism) {
            Ok(p) => p,
            Err(e) => return usage(e),
        }
    };
    let mut seen = std::collections::HashSet::new();
    let all: Vec<Pair> = regression_pairs
        .into_iter()
        .chain(sweep_pairs)
        .filter(|p| seen.insert(p.key()))
        .collect();
    let hash = sweep_hash(&all);
    let selected = shard::select(all.len(), sw.shard);
    if sw.dry_run {
        let mut out = std::io::stdout().lock();
        for &i in &selected {
            let p = &all[i];
            let _ = writeln!(out, "{i} {}\t{}", p.key(), p.reproduce);
        }
        let _ = writeln!(
            out,
            "{} of {} pairs{} (sweep {}); nothing run",
            selected.len(),
            all.len(),
            sw.shard.map(|s| format!(", shard {s}")).unwrap_or_default(),
            super::summary::short_hash(&hash)
        );
        return EXIT_PASS;
    }
    let sweep_exe = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: cannot find walburst's own executable: {e}");
            return EXIT_FAIL;
        }
    };

    // From here on SIGINT/SIGTERM start no further pair; the running ones stop cleanly.
    crate::cli::install_interrupt_handler();
    let mut progress = Progress::new(selected.len() as u64, a.quiet);
    if let Some(base) = plan.base {
        let seeds = plan.seeds.as_deref().unwrap_or(&[]);
        let range = match (seeds.first(), seeds.last()) {
            (Some(f), Some(l)) if f != l => format!("seeds {f}..={l}"),
            (Some(f), _) => format!("seed {f}"),
            _ => String::new(),
        };
        match &plan.nightly_date {
            Some(d) => progress.line(&format!(
                "BASE_SEED={base} (nightly: UTC date {d}); {range}"
            )),
            None => progress.line(&format!("BASE_SEED={base}; {range}")),
        }
    }
    let n_reg = all
        .iter()
        .filter(|p| p.kind == PairKind::Regression)
        .count();
    let tag = sw.shard.map(Shard::file_tag).unwrap_or_default();
    let out = &a.output.out;
    let index_path = out.join(format!("sweep-index{tag}.jsonl"));
    let shape = match &plan.seeds {
        Some(s) => format!("{case_count} cases x {} seeds", s.len()),
        None => format!("{} pairs of {case_count} cases", all.len() - n_reg),
    };
    progress.line(&format!(
        "SWEEP {} pairs ({} regressions + {shape}) sweep {}{}; running {} pairs, {} at a time; index {}",
        all.len(),
        n_reg,
        super::summary::short_hash(&hash),
        sw.shard
            .map(|s| format!(", shard {s}"))
            .unwrap_or_default(),
        selected.len(),
        jobs,
        index_path.display()
    ));

    if let Err(e) = std::fs::create_dir_all(out) {
        eprintln!("error: cannot create {}: {e}", out.display());
        return EXIT_FAIL;
    }
    let header = SweepHeader {
        format: INDEX_FORMAT.to_string(),
        walburst_version: env!("CARGO_PKG_VERSION").to_string(),
        sweep_hash: hash.clone(),
        shard: sw.shard,
        base_seed: plan.base,
        nightly_date: plan.nightly_date.clone(),
        argv: std::env::args().collect(),
        started_at: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        pairs: all.clone(),
    };
    let index = match Index::create(&index_path, header) {
        Ok(i) => Mutex::new(i),
        Err(e) => {
            eprintln!("error: {e:#}");
            return EXIT_FAIL;
        }
    };
    let results_dir = match tempfile::Builder::new().prefix("walburst-sweep-").tempdir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: cannot create a temporary directory: {e}");
            return EXIT_FAIL;
        }
    };
    let ctx = Ctx {
        exe: sweep_exe,
        worker_exe: a.worker_exe.clone(),
        out: out.clone(),
        work_dir: a.output.work_dir.clone(),
        keep: a.output.keep,
        results_dir: results_dir.path().to_path_buf(),
    };

    let mut results: Vec<Option<PairResult>> = vec![None; selected.len()];
    let next = Mutex::new(0usize);
    let index_error: Mutex<Option<String>> = Mutex::new(None);
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::channel::<Msg>();
        for _ in 0..jobs.min(selected.len().max(1) as u32) {
            let tx = tx.clone();
            let (next, selected, all, ctx, index, index_error) =
                (&next, &selected, &all, &ctx, &index, &index_error);
            scope.spawn(move || {
                loop {
                    let slot = {
                        let mut n = next.lock().unwrap();
                        let s = *n;
                        *n += 1;
                        s
                    };
                    if slot >= selected.len()
                        || index_error.lock().unwrap().is_some()
                        || super::interrupted()
                    {
                        break;
                    }
                    let i = selected[slot];
                    let pair = &all[i];
                    let started = index.lock().unwrap().write(&IndexLine::Start {
                        index: i,
                        key: pair.key(),
                        at: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
                        pair: pair.clone(),
                    });
                    if let Err(e) = started {
                        *index_error.lock().unwrap() = Some(format!("{e:#}"));
                        break;
                    }
                    let _ = tx.send(Msg::Started(slot));
                    let r = execute(i, pair, ctx);
                    let written = index.lock().unwrap().write(&IndexLine::Result {
                        index: i,
                        key: pair.key(),
                        result: r.clone(),
                    });
                    if let Err(e) = written {
                        *index_error.lock().unwrap() = Some(format!("{e:#}"));
                    }
                    let _ = tx.send(Msg::Done(slot, r));
                }
            });
        }
        drop(tx);
        for msg in rx {
            match msg {
                Msg::Started(slot) => progress.started(&all[selected[slot]]),
                Msg::Done(slot, r) => {
                    progress.finished(&all[selected[slot]], &r);
                    results[slot] = Some(r);
                }
            }
        }
    });
    let wall = progress.elapsed_secs();
    progress.clear();
    if let Some(e) = index_error.into_inner().unwrap() {
        progress.line(&format!("error: the sweep stopped: {e}"));
    }
    let was_interrupted = super::interrupted();
    let why_not_run = if was_interrupted {
        "the sweep was interrupted (SIGINT/SIGTERM) before this pair ran"
    } else {
        "the sweep stopped before this pair ran"
    };

    let entries: Vec<Entry> = selected
        .iter()
        .zip(results)
        .map(|(&i, r)| Entry {
            pair: all[i].clone(),
            shard: sw.shard.map(|s| s.index),
            result: r.unwrap_or_else(|| PairResult::not_run(why_not_run)),
        })
        .collect();
    let summary = Summary::new(
        hash,
        Summary::shard_info(sw.shard, wall),
        plan.base,
        plan.nightly_date.clone(),
        wall,
        entries,
    );
    let mut problems = Vec::new();
    let _ = index.lock().unwrap().write(&IndexLine::End {
        wall_secs: summary.wall_secs,
        totals: summary.totals,
    });
    let summary_path = out.join(format!("sweep-summary{tag}.json"));
    let md_path = out.join(format!("sweep-summary{tag}.md"));
    if let Err(e) = write_summary(&summary, &summary_path, &md_path) {
        problems.push(format!("{e:#}"));
    }
    if let Some(j) = &sw.junit
        && let Err(e) = super::junit::write(&summary, j)
    {
        problems.push(format!("{e:#}"));
    }
    if sw.record_failures {
        let date = plan.nightly_date.clone().unwrap_or_else(utc_today);
        match corpus::record_failures(&corpus, &summary.results, &suites, &date) {
            Ok(r) if r.is_empty() => progress.info(&format!(
                "no new failures to record in {}",
                corpus.path.display()
            )),
            Ok(r) => progress.line(&format!(
                "recorded {} new regression(s) in {}: {}",
                r.len(),
                corpus.path.display(),
                r.join(", ")
            )),
            Err(e) => problems.push(format!("cannot record failures: {e:#}")),
        }
    }
    print_recap(&progress, &summary);
    progress.info(&format!(
        "summary: {} ({})",
        summary_path.display(),
        md_path.display()
    ));
    if let Some(j) = &sw.junit {
        progress.info(&format!("junit: {}", j.display()));
    }
    for p in &problems {
        progress.line(&format!("error: {p}"));
    }
    if was_interrupted {
        progress.line("interrupted (SIGINT/SIGTERM): no further pair was started");
    }
    progress.line(&summary.totals.line());
    if was_interrupted {
        crate::cli::EXIT_INTERRUPTED
    } else if summary.totals.not_passed() == 0 && problems.is_empty() {
        EXIT_PASS
    } else {
        EXIT_FAIL
    }
}

pub fn write_summary(summary: &Summary, json: &Path, md: &Path) -> anyhow::Result<()> {
    let mut text = serde_json::to_string_pretty(summary)?;
    text.push('\n');
    super::write_atomic(json, text.as_bytes())?;
    super::write_atomic(md, summary.markdown().as_bytes())
}

/// The failures again, one line each with their reproduce command, then the regressions'
/// own count: what a person reads at the end of a long log.
pub fn print_recap(progress: &Progress, summary: &Summary) {
    let failed: Vec<&Entry> = summary
        .results
        .iter()
        .filter(|e| !e.result.passed())
        .collect();
    if !failed.is_empty() {
        progress.line(&format!("{} pairs did not pass:", failed.len()));
        // Every failure and error; pairs that did not run (a missing shard, an interrupted
        // sweep) only up to a few, then a count.
        const SHOWN_NOT_RUN: usize = 5;
        let mut not_run = 0usize;
        for e in failed {
            if e.result.status == Status::NotRun {
                not_run += 1;
                if not_run > SHOWN_NOT_RUN {
                    continue;
                }
            }
            progress.line(&format!(
                "  {} {}: {}; reproduce: {}",
                e.result.status.word(),
                e.pair.key(),
                e.result.reasons.first().map_or("", String::as_str),
                e.pair.reproduce
            ));
        }
        if not_run > SHOWN_NOT_RUN {
            progress.line(&format!(
                "  ... and {} more not run (all of them are in the summary)",
                not_run - SHOWN_NOT_RUN
            ));
        }
    }
    if summary.regressions.pairs > 0 {
        progress.line(&format!("regressions: {}", summary.regressions.line()));
        progress.line(&format!("sweep: {}", summary.sweep.line()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nightly_base_seed_is_the_date_times_1000() {
        assert_eq!(nightly_base_seed("2026-04-15"), Ok(20_260_415_000));
        assert_eq!(nightly_base_seed("1999-12-31"), Ok(19_991_231_000));
        for bad in [
            "2026-4-15",
            "2026-13-01",
            "2026-04-00",
            "20260415",
            "2026-04-15x",
            "",
        ] {
            assert!(nightly_base_seed(bad).is_err(), "{bad}");
        }
        assert_eq!(utc_today().len(), 10);
        assert!(nightly_base_seed(&utc_today()).is_ok());
    }
}
