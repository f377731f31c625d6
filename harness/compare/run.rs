//! The run loop: every strategy at every worker count, repeats alternating the order.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::observe::LatencySummary;
use crate::render::paths::Elide;
use crate::report;
use crate::run::event::{Page, Reporter, RunEvent};
use crate::run::{RunOutcome, RunRequest, run};
use crate::scenario::{Mode, ScenarioSource};

use super::RunVerdict;
use super::files::make_compare_dir;
use super::prepare::{strategy_scenario, to_toml, variant};
use super::{
    COMPARE_VERSION, CompareReport, Group, JSON_FILE, Prepared, RunSummary, SVG_FILE, StrategyInfo,
    chart, page, summarize, table,
};
use crate::error::Chain;
use crate::report::file_safe;
use crate::report::write_atomic;

/// Where a comparison writes and how it starts workers.
#[derive(Debug, Clone)]
pub struct Output {
    pub out_dir: PathBuf,
    pub work_dir: Option<PathBuf>,
    pub keep: bool,
    pub worker_exe: PathBuf,
}

fn stamp_now() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
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
    /// `compare.html`, or why it could not be drawn (the JSON is written either way).
    pub page: Result<PathBuf, PageUnwritten>,
}

/// `compare.html` (or its CDF picture) could not be drawn or written.
#[derive(Debug, thiserror::Error)]
#[error("cannot draw {}: {reason}", path.display())]
pub struct PageUnwritten {
    pub path: PathBuf,
    pub reason: String,
}

/// Runs the comparison, telling `reporter` how it goes, and writes its files.
pub fn execute(
    p: &Prepared,
    out: &Output,
    reporter: &mut dyn Reporter,
) -> anyhow::Result<Compared> {
    let started_at = stamp_now();
    let dir = make_compare_dir(&out.out_dir, &p.base.name, p.seed, &started_at)?;
    let scen_dir = dir.join("scenarios");
    let runs_dir = dir.join("runs");
    std::fs::create_dir_all(&scen_dir)?;
    std::fs::create_dir_all(&runs_dir)?;

    let mut infos = Vec::new();
    for preset in &p.presets {
        let s = strategy_scenario(&p.base, preset);
        let path = scen_dir.join(format!("{}.toml", file_safe(&s.name)));
        let text = format!(
            "# Written by `walburst compare` for strategy {}: {}.\n# The scenario {} with that \
             strategy applied; `walburst run` this file to reproduce one run.\n{}",
            preset.name,
            preset.summary,
            p.source.as_arg(),
            to_toml(&s)?
        );
        write_atomic(&path, text.as_bytes())?;
        infos.push(StrategyInfo {
            name: preset.name.to_string(),
            summary: preset.summary.to_string(),
            scenario_file: path,
        });
    }
    for n in &p.notes {
        reporter.event(&RunEvent::Note(n));
    }

    let total = p.groups.len() as u32 * p.repeat * p.presets.len() as u32;
    let mut runs = Vec::new();
    let mut groups = Vec::new();
    let mut latencies = page::Latencies::default();
    let mut reproduce = std::collections::BTreeMap::new();
    for o in &p.groups {
        if crate::signals::interrupted() {
            break;
        }
        let mut hashes: Vec<String> = Vec::new();
        let mut group_workers = p.base.workload.workers;
        let mut group_ops = p.base.workload.ops_per_worker;
        for r in 0..p.repeat {
            for (pos, &k) in repeat_order(p.presets.len(), r).iter().enumerate() {
                let preset = p.presets[k];
                let scenario = variant(&p.base, preset, o, &p.source)?;
                group_workers = scenario.workload.workers;
                group_ops = scenario.workload.ops_per_worker;
                let n = runs.len() as u32 + 1;
                reporter.event(&RunEvent::CompareRun {
                    n,
                    total,
                    strategy: preset.name,
                    repeat: r + 1,
                    repeats: p.repeat,
                    workers: group_workers,
                    ops: group_ops,
                });
                let blank = RunSummary {
                    run: n,
                    repeat: r + 1,
                    position: pos as u32 + 1,
                    strategy: preset.name.to_string(),
                    workers: group_workers,
                    ops_per_worker: group_ops,
                    seed: p.seed,
                    verdict: RunVerdict::Error,
                    failures: Vec::new(),
                    error: None,
                    schedule_hash: None,
                    wall_secs: 0.0,
                    planned_writes: 0,
                    committed: 0,
                    commits_per_sec: 0.0,
                    latency_ms: LatencySummary::default(),
                    lock_wait_ms_per_commit: 0.0,
                    begin_wait_ms_per_commit: 0.0,
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
                    power_loss_acknowledged_lost: None,
                    report: None,
                    page: None,
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
                let summary = match run(&req, reporter) {
                    Ok(outcome) => {
                        latencies.add(
                            group_workers,
                            preset.name,
                            crate::render::latency::commit_latencies_ms(&outcome.records),
                        );
                        reproduce.insert(n, outcome.report.reproduce.clone());
                        let mut s = RunSummary::from_report(blank, &outcome.report);
                        if !hashes.contains(&outcome.report.schedule_hash) {
                            hashes.push(outcome.report.schedule_hash.clone());
                        }
                        match report::write(&outcome.report, &runs_dir) {
                            Ok(path) => {
                                s.page = draw_run_page(&outcome, &path, reporter);
                                s.report = Some(path);
                            }
                            Err(e) => reporter.event(&RunEvent::Note(&Chain(&e).to_string())),
                        }
                        s
                    }
                    Err(e) => {
                        let cmd = crate::run::reproduce_command(&source, p.seed, Mode::Free, o);
                        reproduce.insert(n, cmd.clone());
                        reporter.event(&RunEvent::NotCarriedOut {
                            scenario: preset.name,
                            seed: p.seed,
                            error: Chain(&e).to_string(),
                            reproduce: &cmd,
                        });
                        RunSummary {
                            error: Some(Chain(&e).to_string()),
                            ..blank
                        }
                    }
                };
                runs.push(summary);
                // Interrupted: the run in progress stopped (its evidence kept); compare what
                // was done, start nothing more.
                if crate::signals::interrupted() {
                    break;
                }
            }
            if crate::signals::interrupted() {
                break;
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
    let passed = runs.iter().all(|r| r.verdict == RunVerdict::Pass);
    let report = CompareReport {
        compare_version: COMPARE_VERSION,
        walburst_version: env!("CARGO_PKG_VERSION").to_string(),
        // With `--sqlite`, every run was handed to that release's binary.
        sqlite_version: p.base.sqlite.version.map_or_else(
            || crate::worker::sqlite::sqlite_version().to_string(),
            |v| v.to_string(),
        ),
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
    write_atomic(&svg_path, svg.as_bytes())?;
    let json_path = dir.join(JSON_FILE);
    report::write_json_atomic(&json_path, &report)?;
    // The JSON is written; the page is drawn from it and can fail only on its own.
    let elide = Elide::new(
        &[out.work_dir.clone().unwrap_or_else(std::env::temp_dir)],
        Some(&out.out_dir),
    );
    let page = draw_page(&report, &svg, &latencies, &reproduce, &dir, &elide);
    Ok(Compared {
        report,
        dir,
        json_path,
        svg_path,
        table,
        page,
    })
}

/// A run's own page beside its report in `runs/`, drawn from the records in memory (a
/// passing run's directory is gone by now); a failure is a note.
fn draw_run_page(
    outcome: &RunOutcome,
    json: &Path,
    reporter: &mut dyn Reporter,
) -> Option<PathBuf> {
    let data = crate::render::RunData {
        report: &outcome.report,
        records: &outcome.records,
        trace: &outcome.trace,
        times: None,
    };
    let html = crate::render::html_path_for(json);
    match crate::render::write_run_page(&data, &[], &html, None) {
        Ok(r) => Some(r.html),
        Err(e) => {
            reporter.event(&RunEvent::PageNotDrawn {
                page: Page::CompareRun,
                error: format!("{e:#}"),
            });
            None
        }
    }
}

fn draw_page(
    report: &CompareReport,
    chart: &str,
    latencies: &page::Latencies,
    reproduce: &std::collections::BTreeMap<u32, String>,
    dir: &Path,
    elide: &Elide,
) -> Result<PathBuf, PageUnwritten> {
    let failed = |path: PathBuf| {
        move |e: anyhow::Error| PageUnwritten {
            path,
            reason: format!("{e:#}"),
        }
    };
    let unwritten = |e: crate::report::WriteError| PageUnwritten {
        path: e.path.clone(),
        reason: e.error.to_string(),
    };
    let cdf = dir.join(page::CDF_FILE);
    let cdfs = latencies
        .cdf_svgs(report)
        .into_iter()
        .collect::<anyhow::Result<Vec<String>>>()
        .map_err(failed(cdf.clone()))?;
    if let Some(first) = cdfs.first() {
        write_atomic(&cdf, first.as_bytes()).map_err(unwritten)?;
    }
    let html = page::render(report, chart, &cdfs, reproduce, dir, elide);
    let path = dir.join(page::HTML_FILE);
    write_atomic(&path, html.as_bytes()).map_err(unwritten)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_alternates() {
        assert_eq!(repeat_order(2, 0), vec![0, 1]);
        assert_eq!(repeat_order(2, 1), vec![1, 0]);
        assert_eq!(repeat_order(3, 2), vec![0, 1, 2]);
    }
}
