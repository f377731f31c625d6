//! `walburst compare`: the same seeded schedule under several lock strategies, side by side.
//!
//! Each strategy is a preset ([`strategies`]) applied to the scenario; the resulting
//! scenario is written to a TOML file in the compare directory, so every run is an ordinary
//! `walburst run` of that file (its report's `reproduce` command names it). Runs are
//! interleaved: repeat 1 runs the strategies in the order given, repeat 2 in reverse, and so
//! on (A B, B A, A B, ...), so slow drift of a shared machine hits every strategy alike and no
//! strategy always goes first. The results are aggregated per (worker count, strategy) into
//! medians and ranges ([`table`] prints them, [`chart`] draws them) and written as JSON.

pub mod chart;
pub mod strategies;
pub mod table;

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::cli::{EXIT_FAIL, EXIT_PASS, EXIT_USAGE, OutputArgs};
use crate::observe::LatencySummary;
use crate::report::console::Console;
use crate::report::{self, Report};
use crate::run::{RunRequest, run};
use crate::scenario::{
    self, DEFAULT_SCENARIO, Mode, Overrides, Scenario, ScenarioSource, Synchronous,
};
use strategies::{DEFAULT_STRATEGIES, Preset};

/// Bumped on any incompatible change to `compare.json`.
pub const COMPARE_VERSION: u32 = 1;
pub const MAX_REPEAT: u32 = 100;
pub const JSON_FILE: &str = "compare.json";
pub const SVG_FILE: &str = "compare.svg";

/// `walburst compare`: see `BENCHMARKS.md` for how to read its output.
#[derive(Debug, Clone, clap::Args)]
pub struct CompareArgs {
    /// A shipped scenario name or a path to a scenario TOML file.
    #[arg(value_name = "SCENARIO", default_value = DEFAULT_SCENARIO)]
    pub scenario: String,
    /// The seed (default: the scenario's first seed); every strategy runs its schedule.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Comma-separated strategies: wal, wal-per-op, flock-tx, flock-conn, flock-poll,
    /// flock-ckpt (see BENCHMARKS.md). Ratios are against the first.
    #[arg(long, value_name = "LIST", default_value = DEFAULT_STRATEGIES)]
    pub strategies: String,
    /// Runs of each strategy; the order alternates between repeats (A B, B A, ...).
    #[arg(long, value_name = "R", default_value_t = 3)]
    pub repeat: u32,
    /// Worker process counts to compare at, comma-separated (default: the scenario's).
    #[arg(long, value_name = "N[,N...]", value_delimiter = ',')]
    pub workers: Vec<u32>,
    /// Override the ops each worker runs.
    #[arg(long, value_name = "N")]
    pub ops: Option<u32>,
    /// Override `[sqlite] synchronous` for every strategy: off, normal, full or extra.
    #[arg(long, value_name = "MODE")]
    pub synchronous: Option<String>,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// A comparison, validated and ready to run.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The scenario as loaded (no overrides), with `--synchronous` and added checkpoints.
    pub base: Scenario,
    pub source: ScenarioSource,
    pub seed: u64,
    pub presets: Vec<&'static Preset>,
    pub repeat: u32,
    /// One group per worker count; `workers: None` keeps the scenario's own.
    pub groups: Vec<Overrides>,
    pub notes: Vec<String>,
}

/// Where a comparison writes and how it starts workers.
#[derive(Debug, Clone)]
pub struct Output {
    pub out_dir: PathBuf,
    pub work_dir: Option<PathBuf>,
    pub keep: bool,
    pub worker_exe: PathBuf,
}

/// Min, median and max of one metric over the repeats of one strategy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Stat {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Stat {
    pub fn of(values: &[f64]) -> Option<Stat> {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Some(Stat {
            median: round3(median),
            min: v[0],
            max: v[n - 1],
        })
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// One run of one strategy, reduced to what the comparison shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// 1-based position in the whole comparison (the order runs happened in).
    pub run: u32,
    /// 1-based repeat, and the strategy's 1-based position within it.
    pub repeat: u32,
    pub position: u32,
    pub strategy: String,
    pub workers: u32,
    pub ops_per_worker: u32,
    pub seed: u64,
    /// `pass`, `fail`, or `error` (the run could not be carried out).
    pub verdict: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_hash: Option<String>,
    pub wall_secs: f64,
    pub planned_writes: u64,
    pub committed: u64,
    pub commits_per_sec: f64,
    /// Commit latency (committed ops), milliseconds.
    pub latency_ms: LatencySummary,
    /// Time spent waiting for the global flock, summed over workers, per committed op.
    pub lock_wait_ms_per_commit: f64,
    /// Every "database is locked" seen (all codes), and how many the strategy retried.
    pub busy_events: u64,
    pub busy_retries: u64,
    /// Fairness: when the first and the last worker finished, ms after the start barrier.
    pub first_worker_done_ms: f64,
    pub last_worker_done_ms: f64,
    /// Fairness: the slowest and fastest worker's own commits/s.
    pub worker_commits_per_sec_min: f64,
    pub worker_commits_per_sec_max: f64,
    pub false_corruption: u64,
    pub real_corruption: u64,
    pub sidecar_seen: bool,
    pub integrity_ok: bool,
    /// The run's full report (in the compare directory's `runs/`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_dir: Option<PathBuf>,
}

impl RunSummary {
    fn carried_out(&self) -> bool {
        self.verdict != "error"
    }

    fn from_report(base: RunSummary, r: &Report) -> RunSummary {
        let pw = &r.per_worker;
        let fold = |f: fn(&crate::observe::PerWorker) -> f64, pick: fn(f64, f64) -> f64| {
            pw.iter().map(f).reduce(pick).unwrap_or(0.0)
        };
        let lock_wait_ms: f64 = pw.iter().map(|w| w.lock_wait_ms_total).sum();
        let committed = r.totals.committed;
        RunSummary {
            verdict: if r.passed() { "pass" } else { "fail" }.into(),
            failures: r
                .failures
                .iter()
                .chain(r.liveness.iter())
                .cloned()
                .collect(),
            schedule_hash: Some(r.schedule_hash.clone()),
            wall_secs: r.wall_secs,
            planned_writes: r.totals.planned_writes,
            committed,
            commits_per_sec: r.totals.commits_per_sec,
            latency_ms: r.latency_ms.clone(),
            lock_wait_ms_per_commit: if committed == 0 {
                0.0
            } else {
                round3(lock_wait_ms / committed as f64)
            },
            busy_events: r.busy.by_code.values().sum(),
            busy_retries: r.totals.busy_retries,
            first_worker_done_ms: fold(|w| w.finished_at_ms, f64::min),
            last_worker_done_ms: fold(|w| w.finished_at_ms, f64::max),
            worker_commits_per_sec_min: fold(|w| w.commits_per_sec, f64::min),
            worker_commits_per_sec_max: fold(|w| w.commits_per_sec, f64::max),
            false_corruption: r.corruption.false_reports,
            real_corruption: r.corruption.real,
            sidecar_seen: r.checks.sidecar_seen,
            integrity_ok: r.checks.integrity_check == "ok" && r.checks.quick_check == "ok",
            run_dir: r.run_dir.clone(),
            ..base
        }
    }
}

/// Medians of one strategy against the first strategy's (this / first).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ratios {
    pub against: String,
    pub commits_per_sec: Option<f64>,
    pub wall_secs: Option<f64>,
    pub latency_p99_ms: Option<f64>,
}

/// One strategy at one worker count, over its repeats (runs carried out only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StrategySummary {
    pub strategy: String,
    pub workers: u32,
    pub runs: u32,
    pub passed: u32,
    pub errors: u32,
    pub commits_per_sec: Option<Stat>,
    pub wall_secs: Option<Stat>,
    pub latency_p50_ms: Option<Stat>,
    pub latency_p99_ms: Option<Stat>,
    pub latency_max_ms: Option<Stat>,
    pub lock_wait_ms_per_commit: Option<Stat>,
    pub busy_events: Option<Stat>,
    pub busy_retries: Option<Stat>,
    pub first_worker_done_ms: Option<Stat>,
    pub last_worker_done_ms: Option<Stat>,
    pub worker_commits_per_sec_min: Option<Stat>,
    pub worker_commits_per_sec_max: Option<Stat>,
    /// Summed over the repeats.
    pub false_corruption: u64,
    pub real_corruption: u64,
    /// Runs in which `<db>.lock` appeared.
    pub sidecar_seen: u32,
    pub integrity_ok: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vs_first: Option<Ratios>,
}

/// A strategy as this comparison ran it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StrategyInfo {
    pub name: String,
    pub summary: String,
    /// The scenario file the strategy's runs used (what their `reproduce` commands name).
    pub scenario_file: PathBuf,
}

/// One worker count of the comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    pub workers: u32,
    pub ops_per_worker: u32,
    /// The schedule every strategy ran (identical by construction; checked).
    pub schedule_hash: Option<String>,
    pub same_schedule: bool,
}

/// `compare.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompareReport {
    pub compare_version: u32,
    pub walburst_version: String,
    pub sqlite_version: String,
    pub scenario: String,
    pub scenario_source: ScenarioSource,
    pub seed: u64,
    pub journal_mode: String,
    pub synchronous: String,
    pub repeat: u32,
    /// How runs were ordered.
    pub order: String,
    pub strategies: Vec<StrategyInfo>,
    pub groups: Vec<Group>,
    pub notes: Vec<String>,
    pub started_at: String,
    pub finished_at: String,
    /// Every run in the order it happened.
    pub runs: Vec<RunSummary>,
    /// Per (workers, strategy), workers ascending, strategies in the order given.
    pub summary: Vec<StrategySummary>,
    /// Every run was carried out and passed.
    pub passed: bool,
    pub chart: String,
}

fn parse_synchronous(v: &str) -> Result<Synchronous, String> {
    match v.to_ascii_lowercase().as_str() {
        "off" => Ok(Synchronous::Off),
        "normal" => Ok(Synchronous::Normal),
        "full" => Ok(Synchronous::Full),
        "extra" => Ok(Synchronous::Extra),
        _ => Err(format!(
            "--synchronous: unknown mode `{v}`; allowed: off, normal, full, extra"
        )),
    }
}

/// Validates everything a comparison needs before anything runs or is written.
pub fn prepare(a: &CompareArgs) -> Result<Prepared, String> {
    let (mut base, source) =
        scenario::load(&a.scenario, &Overrides::default()).map_err(|e| e.to_string())?;
    let presets = strategies::parse_list(&a.strategies)?;
    if !(1..=MAX_REPEAT).contains(&a.repeat) {
        return Err(format!(
            "--repeat {} is out of range; allowed: 1..={MAX_REPEAT}",
            a.repeat
        ));
    }
    let mut notes = Vec::new();
    if let Some(v) = &a.synchronous {
        base.sqlite.synchronous = parse_synchronous(v)?;
        notes.push(format!(
            "[sqlite] synchronous = {} for every strategy (--synchronous)",
            base.sqlite.synchronous.as_sql()
        ));
    }
    let seed = a.seed.unwrap_or(base.seeds[0]);
    base.seeds = vec![seed];
    if let Some(p) = presets.iter().find(|p| p.needs_checkpoints)
        && strategies::add_checkpoints(&mut base)
    {
        notes.push(format!(
            "{} has no checkpoint ops and {} holds the lock across them, so every strategy \
             runs it with checkpoint ops added ([workload.mix] checkpoint = 1 op in 20, the other \
             weights scaled by 19): the same schedule for all",
            base.name, p.name
        ));
    }
    let mut counts: Vec<Option<u32>> = a.workers.iter().copied().map(Some).collect();
    if counts.is_empty() {
        counts.push(None);
    }
    for (i, w) in counts.iter().enumerate() {
        if counts[..i].contains(w) {
            return Err(format!(
                "--workers: {} is named twice; name each worker count once",
                w.unwrap_or_default()
            ));
        }
    }
    counts.sort();
    let groups: Vec<Overrides> = counts
        .into_iter()
        .map(|workers| Overrides {
            workers,
            ops: a.ops,
            ..Overrides::default()
        })
        .collect();
    for o in &groups {
        // The scenario's own checks, with the scenario's own error messages.
        scenario::load(&a.scenario, o).map_err(|e| e.to_string())?;
        for p in &presets {
            variant(&base, p, o, &source)?;
        }
    }
    Ok(Prepared {
        base,
        source,
        seed,
        presets,
        repeat: a.repeat,
        groups,
        notes,
    })
}

/// The scenario a strategy's runs use before overrides: named `<scenario>.<strategy>`.
fn strategy_scenario(base: &Scenario, p: &Preset) -> Scenario {
    let mut s = base.clone();
    p.apply(&mut s);
    s.name = format!("{}.{}", base.name, p.name);
    s.description = format!(
        "{} [walburst compare, strategy {}: {}]",
        base.description.trim(),
        p.name,
        p.summary
    );
    s
}

fn to_toml(s: &Scenario) -> Result<String, String> {
    toml::to_string(s).map_err(|e| format!("cannot write scenario {} as TOML: {e}", s.name))
}

/// The scenario one run uses, validated the way a scenario file is (through its TOML).
fn variant(
    base: &Scenario,
    p: &Preset,
    o: &Overrides,
    source: &ScenarioSource,
) -> Result<Scenario, String> {
    let mut s = strategy_scenario(base, p);
    o.apply(&mut s);
    let text = to_toml(&s)?;
    let origin = if o.is_empty() {
        format!("{source}, strategy {}", p.name)
    } else {
        format!(
            "{source}, strategy {} (with {})",
            p.name,
            o.as_args().join(" ")
        )
    };
    scenario::parse_str(&text, source).map_err(|e| format!("{origin}: {}", e.message))
}

/// `1 worker`, `20 workers`.
pub fn workers_label(n: u32) -> String {
    if n == 1 {
        "1 worker".into()
    } else {
        format!("{n} workers")
    }
}

fn stamp_now() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

fn safe_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `OUT/compare-<scenario>-s<seed>-<stamp>[-N]/`, never an existing directory.
fn make_compare_dir(
    out: &Path,
    name: &str,
    seed: u64,
    started_at: &str,
) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(out)
        .map_err(|e| anyhow::anyhow!("cannot create report directory {}: {e}", out.display()))?;
    let stamp: String = started_at
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    let stem = format!("compare-{}-s{seed}-{stamp}", safe_name(name));
    for n in 1u32.. {
        let dir = if n == 1 {
            out.join(&stem)
        } else {
            out.join(format!("{stem}-{n}"))
        };
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => anyhow::bail!("cannot create {}: {e}", dir.display()),
        }
    }
    unreachable!("the loop returns")
}

/// Writes `text` to `path` atomically (temporary file, fsync, rename).
pub fn write_text_atomic(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .map_err(|e| anyhow::anyhow!("cannot write in {}: {e}", dir.display()))?;
    tmp.write_all(text.as_bytes())?;
    tmp.as_file().sync_all()?;
    tmp.persist(path)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    Ok(())
}

/// The strategy order of a repeat (0-based): forward on even, reversed on odd.
pub fn repeat_order(n: usize, repeat: u32) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..n).collect();
    if repeat % 2 == 1 {
        idx.reverse();
    }
    idx
}

/// The outcome of a comparison.
pub struct Compared {
    pub report: CompareReport,
    pub dir: PathBuf,
    pub json_path: PathBuf,
    pub svg_path: PathBuf,
    pub table: String,
}

/// Runs the comparison, printing progress through `console`, and writes its files.
pub fn execute(p: &Prepared, out: &Output, console: &mut Console) -> anyhow::Result<Compared> {
    let started_at = stamp_now();
    let dir = make_compare_dir(&out.out_dir, &p.base.name, p.seed, &started_at)?;
    let scen_dir = dir.join("scenarios");
    let runs_dir = dir.join("runs");
    std::fs::create_dir_all(&scen_dir)?;
    std::fs::create_dir_all(&runs_dir)?;

    let mut infos = Vec::new();
    for preset in &p.presets {
        let s = strategy_scenario(&p.base, preset);
        let path = scen_dir.join(format!("{}.toml", safe_name(&s.name)));
        let text = format!(
            "# Written by `walburst compare` for strategy {}: {}.\n# The scenario {} with that \
             strategy applied; `walburst run` this file to reproduce one run.\n{}",
            preset.name,
            preset.summary,
            p.source.as_arg(),
            to_toml(&s).map_err(|e| anyhow::anyhow!(e))?
        );
        write_text_atomic(&path, &text)?;
        infos.push(StrategyInfo {
            name: preset.name.to_string(),
            summary: preset.summary.to_string(),
            scenario_file: path,
        });
    }
    for n in &p.notes {
        console.line(&format!("note: {n}"));
    }

    let total = p.groups.len() as u32 * p.repeat * p.presets.len() as u32;
    let mut runs = Vec::new();
    let mut groups = Vec::new();
    for o in &p.groups {
        let mut hashes: Vec<String> = Vec::new();
        let mut group_workers = p.base.workload.workers;
        let mut group_ops = p.base.workload.ops_per_worker;
        for r in 0..p.repeat {
            for (pos, &k) in repeat_order(p.presets.len(), r).iter().enumerate() {
                let preset = p.presets[k];
                let scenario =
                    variant(&p.base, preset, o, &p.source).map_err(|e| anyhow::anyhow!(e))?;
                group_workers = scenario.workload.workers;
                group_ops = scenario.workload.ops_per_worker;
                let n = runs.len() as u32 + 1;
                console.line(&format!(
                    "compare run {n}/{total}: {} (repeat {}/{}, {} x {} ops)",
                    preset.name,
                    r + 1,
                    p.repeat,
                    workers_label(group_workers),
                    group_ops
                ));
                let blank = RunSummary {
                    run: n,
                    repeat: r + 1,
                    position: pos as u32 + 1,
                    strategy: preset.name.to_string(),
                    workers: group_workers,
                    ops_per_worker: group_ops,
                    seed: p.seed,
                    verdict: "error".into(),
                    failures: Vec::new(),
                    error: None,
                    schedule_hash: None,
                    wall_secs: 0.0,
                    planned_writes: 0,
                    committed: 0,
                    commits_per_sec: 0.0,
                    latency_ms: LatencySummary::default(),
                    lock_wait_ms_per_commit: 0.0,
                    busy_events: 0,
                    busy_retries: 0,
                    first_worker_done_ms: 0.0,
                    last_worker_done_ms: 0.0,
                    worker_commits_per_sec_min: 0.0,
                    worker_commits_per_sec_max: 0.0,
                    false_corruption: 0,
                    real_corruption: 0,
                    sidecar_seen: false,
                    integrity_ok: false,
                    report: None,
                    run_dir: None,
                };
                let source = ScenarioSource::File(infos[k].scenario_file.clone());
                let req = RunRequest {
                    scenario,
                    source: source.clone(),
                    overrides: o.clone(),
                    seed: p.seed,
                    out_dir: None,
                    keep: out.keep,
                    work_dir: out.work_dir.clone(),
                    worker_exe: out.worker_exe.clone(),
                    mode: Mode::Free,
                    replay: None,
                };
                let summary = match run(&req, console) {
                    Ok(outcome) => {
                        let mut s = RunSummary::from_report(blank, &outcome.report);
                        if !hashes.contains(&outcome.report.schedule_hash) {
                            hashes.push(outcome.report.schedule_hash.clone());
                        }
                        match report::write(&outcome.report, &runs_dir) {
                            Ok(path) => s.report = Some(path),
                            Err(e) => console.line(&format!("note: {e:#}")),
                        }
                        s
                    }
                    Err(e) => {
                        let cmd = crate::run::reproduce_command(&source, p.seed, Mode::Free, o);
                        console.line(&format!(
                            "FAIL {} seed={}: the run could not be carried out: {e:#}; reproduce: {cmd}",
                            preset.name, p.seed
                        ));
                        RunSummary {
                            error: Some(format!("{e:#}")),
                            ..blank
                        }
                    }
                };
                runs.push(summary);
            }
        }
        groups.push(Group {
            workers: group_workers,
            ops_per_worker: group_ops,
            schedule_hash: hashes.first().cloned(),
            same_schedule: hashes.len() <= 1,
        });
    }
    let mut notes = p.notes.clone();
    for g in groups.iter().filter(|g| !g.same_schedule) {
        notes.push(format!(
            "BUG: the strategies ran different schedules at {} workers; the comparison is not like for like",
            g.workers
        ));
    }
    let summary = summarize(&runs, &p.presets, &groups);
    let passed = runs.iter().all(|r| r.verdict == "pass");
    let report = CompareReport {
        compare_version: COMPARE_VERSION,
        walburst_version: env!("CARGO_PKG_VERSION").to_string(),
        sqlite_version: crate::exec::sqlite::sqlite_version().to_string(),
        scenario: p.base.name.clone(),
        scenario_source: p.source.clone(),
        seed: p.seed,
        journal_mode: p.base.sqlite.journal_mode.as_sql().to_string(),
        synchronous: p.base.sqlite.synchronous.as_sql().to_string(),
        repeat: p.repeat,
        order: "interleaved: repeat 1 runs the strategies in the order given, repeat 2 in reverse, and so on".into(),
        strategies: infos,
        groups,
        notes,
        started_at,
        finished_at: stamp_now(),
        runs,
        summary,
        passed,
        chart: SVG_FILE.into(),
    };
    let table = table::render(&report);
    let svg = chart::render(&report)?;
    let svg_path = dir.join(SVG_FILE);
    write_text_atomic(&svg_path, &svg)?;
    let json_path = dir.join(JSON_FILE);
    report::write_json_atomic(&json_path, &report)?;
    Ok(Compared {
        report,
        dir,
        json_path,
        svg_path,
        table,
    })
}

/// Aggregates runs per (workers, strategy), with ratios against the first strategy.
pub fn summarize(
    runs: &[RunSummary],
    presets: &[&Preset],
    groups: &[Group],
) -> Vec<StrategySummary> {
    let mut out = Vec::new();
    for g in groups {
        let mut first: Option<StrategySummary> = None;
        for p in presets {
            let all: Vec<&RunSummary> = runs
                .iter()
                .filter(|r| r.workers == g.workers && r.strategy == p.name)
                .collect();
            let done: Vec<&RunSummary> = all.iter().copied().filter(|r| r.carried_out()).collect();
            let stat = |f: fn(&RunSummary) -> f64| {
                Stat::of(&done.iter().map(|r| f(r)).collect::<Vec<_>>())
            };
            let mut s = StrategySummary {
                strategy: p.name.to_string(),
                workers: g.workers,
                runs: all.len() as u32,
                passed: all.iter().filter(|r| r.verdict == "pass").count() as u32,
                errors: (all.len() - done.len()) as u32,
                commits_per_sec: stat(|r| r.commits_per_sec),
                wall_secs: stat(|r| r.wall_secs),
                latency_p50_ms: stat(|r| r.latency_ms.p50),
                latency_p99_ms: stat(|r| r.latency_ms.p99),
                latency_max_ms: stat(|r| r.latency_ms.max),
                lock_wait_ms_per_commit: stat(|r| r.lock_wait_ms_per_commit),
                busy_events: stat(|r| r.busy_events as f64),
                busy_retries: stat(|r| r.busy_retries as f64),
                first_worker_done_ms: stat(|r| r.first_worker_done_ms),
                last_worker_done_ms: stat(|r| r.last_worker_done_ms),
                worker_commits_per_sec_min: stat(|r| r.worker_commits_per_sec_min),
                worker_commits_per_sec_max: stat(|r| r.worker_commits_per_sec_max),
                false_corruption: done.iter().map(|r| r.false_corruption).sum(),
                real_corruption: done.iter().map(|r| r.real_corruption).sum(),
                sidecar_seen: done.iter().filter(|r| r.sidecar_seen).count() as u32,
                integrity_ok: done.iter().filter(|r| r.integrity_ok).count() as u32,
                vs_first: None,
            };
            let ratio = |a: Option<Stat>, b: Option<Stat>| match (a, b) {
                (Some(a), Some(b)) if b.median > 0.0 => Some(round3(a.median / b.median)),
                _ => None,
            };
            if let Some(f) = &first {
                s.vs_first = Some(Ratios {
                    against: f.strategy.clone(),
                    commits_per_sec: ratio(s.commits_per_sec, f.commits_per_sec),
                    wall_secs: ratio(s.wall_secs, f.wall_secs),
                    latency_p99_ms: ratio(s.latency_p99_ms, f.latency_p99_ms),
                });
            } else {
                first = Some(s.clone());
            }
            out.push(s);
        }
    }
    out
}

/// `walburst compare`: exit 0 when every run passed, 1 when one failed or could not be
/// carried out, 2 on bad input (nothing written).
pub fn command(a: CompareArgs) -> i32 {
    let prepared = match prepare(&a) {
        Ok(p) => p,
        Err(msg) => {
            eprintln!("error: {msg}");
            return EXIT_USAGE;
        }
    };
    let worker_exe = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: cannot find walburst's own executable to start workers: {e}");
            return EXIT_FAIL;
        }
    };
    let out = Output {
        out_dir: a.output.out,
        work_dir: a.output.work_dir,
        keep: a.output.keep,
        worker_exe,
    };
    let mut console = Console::new(false);
    match execute(&prepared, &out, &mut console) {
        Ok(c) => {
            console.line("");
            console.line(c.table.trim_end());
            console.line(&format!("compare report: {}", c.json_path.display()));
            console.line(&format!("chart: {}", c.svg_path.display()));
            let failed = c.report.runs.iter().filter(|r| r.verdict != "pass").count();
            if failed == 0 {
                console.line(&format!(
                    "PASS compare {}: {} runs passed",
                    c.report.scenario,
                    c.report.runs.len()
                ));
                EXIT_PASS
            } else {
                console.line(&format!(
                    "FAIL compare {}: {failed} of {} runs did not pass (see above and {})",
                    c.report.scenario,
                    c.report.runs.len(),
                    c.json_path.display()
                ));
                EXIT_FAIL
            }
        }
        Err(e) => {
            eprintln!("error: the comparison could not be carried out: {e:#}");
            EXIT_FAIL
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_median_min_max() {
        let s = Stat::of(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.median, s.min, s.max), (2.0, 1.0, 3.0));
        assert_eq!(Stat::of(&[1.0, 2.0, 3.0, 10.0]).unwrap().median, 2.5);
        assert!(Stat::of(&[]).is_none());
    }

    #[test]
    fn order_alternates() {
        assert_eq!(repeat_order(2, 0), vec![0, 1]);
        assert_eq!(repeat_order(2, 1), vec![1, 0]);
        assert_eq!(repeat_order(3, 2), vec![0, 1, 2]);
    }

    fn args(extra: &[&str]) -> CompareArgs {
        use clap::Parser;
        #[derive(Parser)]
        struct T {
            #[command(flatten)]
            a: CompareArgs,
        }
        let mut v = vec!["t"];
        v.extend_from_slice(extra);
        T::parse_from(v).a
    }

    #[test]
    fn prepare_rejects_bad_input_naming_it() {
        let e = prepare(&args(&["--strategies", "wal,nope"])).unwrap_err();
        assert!(e.contains("`nope`") && e.contains("flock-conn"), "{e}");
        let e = prepare(&args(&["--repeat", "0"])).unwrap_err();
        assert!(e.contains("--repeat 0"), "{e}");
        let e = prepare(&args(&["--synchronous", "fast"])).unwrap_err();
        assert!(e.contains("`fast`") && e.contains("normal"), "{e}");
        let e = prepare(&args(&["--workers", "4,0"])).unwrap_err();
        assert!(e.contains("workload.workers"), "{e}");
        let e = prepare(&args(&["--workers", "4,4"])).unwrap_err();
        assert!(e.contains("twice"), "{e}");
        let e = prepare(&args(&["no-such-scenario"])).unwrap_err();
        assert!(e.contains("no-such-scenario"), "{e}");
    }

    #[test]
    fn prepare_keeps_one_schedule_and_adds_checkpoints_for_all() {
        let p = prepare(&args(&[
            "--strategies",
            "wal,flock-ckpt,flock-conn",
            "--workers",
            "4,1",
            "--ops",
            "10",
        ]))
        .unwrap();
        assert_eq!(p.groups.len(), 2);
        assert_eq!(p.groups[0].workers, Some(1), "worker counts ascending");
        assert!(p.base.workload.mix.checkpoint > 0);
        assert!(p.notes.iter().any(|n| n.contains("checkpoint")));
        let hashes: Vec<String> = p
            .presets
            .iter()
            .map(|pr| {
                let s = variant(&p.base, pr, &p.groups[1], &p.source).unwrap();
                crate::plan::build(&s, p.seed).schedule_hash
            })
            .collect();
        assert!(hashes.windows(2).all(|w| w[0] == w[1]), "{hashes:?}");
    }
}
