//! `walburst replay REPORT.json`: re-runs exactly what a report describes (resolved
//! scenario, seed, mode, overrides) and says whether the verdict and hashes came back. In
//! lockstep it replays the recorded trace from the report's kept run directory when present.

use std::path::{Path, PathBuf};

use crate::exec::coordinator::TraceEntry;
use crate::exec::gate::ActorId;
use crate::report::Report;
use crate::report::console::Console;
use crate::run::{RunRequest, run};
use crate::scenario::Mode;

/// Why a report cannot be replayed (bad input: exit 2).
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ReplayError {
    pub path: String,
    pub message: String,
}

pub fn read_report(path: &Path) -> Result<Report, ReplayError> {
    let err = |message: String| ReplayError {
        path: path.display().to_string(),
        message,
    };
    let text =
        std::fs::read_to_string(path).map_err(|e| err(format!("cannot read the report: {e}")))?;
    let report: Report = serde_json::from_str(&text).map_err(|e| {
        err(format!(
            "not a walburst report (or of another schema_version): {e}"
        ))
    })?;
    if report.schema_version != crate::report::SCHEMA_VERSION {
        return Err(err(format!(
            "schema_version {} cannot be replayed by this walburst (it reads {})",
            report.schema_version,
            crate::report::SCHEMA_VERSION
        )));
    }
    Ok(report)
}

/// The choices (actor per step) of a lockstep trace file, if the run directory was kept.
fn recorded_choices(report: &Report) -> Option<(PathBuf, Vec<ActorId>)> {
    let path = report.run_dir.as_ref()?.join("trace.jsonl");
    let text = std::fs::read_to_string(&path).ok()?;
    let choices = text
        .lines()
        .map(|l| {
            serde_json::from_str::<TraceEntry>(l).map(|e| ActorId {
                worker: e.worker,
                actor: e.actor,
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .ok()?;
    Some((path, choices))
}

pub struct ReplayOptions {
    pub out_dir: PathBuf,
    pub work_dir: Option<PathBuf>,
    pub keep: bool,
    pub worker_exe: PathBuf,
}

/// Replays `report`; true when the verdict (and in lockstep, both hashes) reproduced.
pub fn replay(
    report: &Report,
    opts: &ReplayOptions,
    console: &mut Console,
) -> anyhow::Result<bool> {
    let mode = if report.mode == "lockstep" {
        Mode::Lockstep
    } else {
        Mode::Free
    };
    let trace = (mode == Mode::Lockstep)
        .then(|| recorded_choices(report))
        .flatten();
    match &trace {
        Some((path, c)) => console.line(&format!(
            "replaying {} recorded steps from {}",
            c.len(),
            path.display()
        )),
        None if mode == Mode::Lockstep => {
            console.line("no recorded trace kept; replaying the scheduler from the seed")
        }
        None => {}
    }
    let req = RunRequest {
        scenario: report.scenario.clone(),
        source: report.scenario_source.clone(),
        overrides: report.overrides.clone(),
        seed: report.seed,
        out_dir: Some(opts.out_dir.clone()),
        keep: opts.keep,
        work_dir: opts.work_dir.clone(),
        worker_exe: opts.worker_exe.clone(),
        mode,
        replay: trace.map(|(_, c)| c),
    };
    let again = run(&req, console)?.report;
    let mut same = vec![("verdict", report.verdict == again.verdict)];
    if again.schedule_hash != report.schedule_hash {
        same.push(("schedule_hash", false));
    }
    if mode == Mode::Lockstep {
        same.push(("trace_hash", report.trace_hash == again.trace_hash));
        same.push(("content_hash", report.content_hash == again.content_hash));
    }
    let differ: Vec<&str> = same.iter().filter(|(_, ok)| !ok).map(|(k, _)| *k).collect();
    let verdict = |r: &Report| if r.passed() { "pass" } else { "fail" };
    if differ.is_empty() {
        console.line(&format!(
            "REPRODUCED {} seed={} ({}): verdict {}{}",
            report.scenario.name,
            report.seed,
            report.mode,
            verdict(&again),
            if mode == Mode::Lockstep {
                ", trace and content hashes identical"
            } else {
                ""
            }
        ));
        Ok(true)
    } else {
        console.line(&format!(
            "NOT REPRODUCED {} seed={} ({}): {} differ (was {}, now {})",
            report.scenario.name,
            report.seed,
            report.mode,
            differ.join(", "),
            verdict(report),
            verdict(&again)
        ));
        Ok(false)
    }
}
