//! `walburst replay REPORT.json`: re-runs exactly what a report describes (resolved
//! scenario, seed, mode, overrides) and says whether the verdict and hashes came back. In
//! lockstep it replays the recorded trace from the report's kept run directory when present.

use std::path::{Path, PathBuf};

use crate::determinism::{Fingerprint, Hashes, differences};
use crate::observe::ActorId;
use crate::observe::lockstep::TraceEntry;
use crate::report::Report;
use crate::run::event::{Reporter, Reproduction, RunEvent};
use crate::run::{Replay, RunError, RunRequest, run};
use crate::scenario::{Invalid, Mode};

/// Why a report cannot be replayed. The report's own faults are bad input (exit 2); the
/// others come after it was accepted.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("{}: cannot read the report", path.display())]
    Unreadable {
        path: PathBuf,
        #[source]
        error: std::io::Error,
    },
    #[error("{}: not a walburst report (or of another schema_version)", path.display())]
    NotAReport {
        path: PathBuf,
        #[source]
        error: serde_json::Error,
    },
    #[error(
        "{}: schema_version {found} cannot be replayed by this walburst (it reads {expected})",
        path.display()
    )]
    Schema {
        path: PathBuf,
        found: u32,
        expected: u32,
    },
    /// The scenario the report records fails the scenario rules (a hand-edited report).
    #[error("{}: the scenario it records (`scenario`)", path.display())]
    Scenario {
        path: PathBuf,
        #[source]
        problem: Invalid,
    },
    /// `--lockstep` needs the free run's records, which only a kept run directory has.
    #[error(
        "--lockstep: the report's run directory was not kept; re-run with --keep (failed runs keep it)"
    )]
    NoRunDir,
    /// `--lockstep`: the kept records cannot be read.
    #[error("--lockstep: {}: {reason}", path.display())]
    Records { path: PathBuf, reason: String },
    /// The replay itself could not be carried out.
    #[error(transparent)]
    Run(#[from] RunError),
}

impl ReplayError {
    /// Whether the report itself was refused (before anything ran).
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            ReplayError::Unreadable { .. }
                | ReplayError::NotAReport { .. }
                | ReplayError::Schema { .. }
                | ReplayError::Scenario { .. }
        )
    }
}

pub fn read_report(path: &Path) -> Result<Report, ReplayError> {
    let path_buf = || path.to_path_buf();
    let text = std::fs::read_to_string(path).map_err(|error| ReplayError::Unreadable {
        path: path_buf(),
        error,
    })?;
    let report: Report = serde_json::from_str(&text).map_err(|error| ReplayError::NotAReport {
        path: path_buf(),
        error,
    })?;
    if report.schema_version != crate::report::SCHEMA_VERSION {
        return Err(ReplayError::Schema {
            path: path_buf(),
            found: report.schema_version,
            expected: crate::report::SCHEMA_VERSION,
        });
    }
    // The scenario a report records is input like any scenario file: it is validated by the
    // same rules before anything runs (a hand-edited report once asked for 512 x 1000000 ops).
    crate::scenario::validate(&report.scenario).map_err(|problem| ReplayError::Scenario {
        path: path_buf(),
        problem,
    })?;
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

/// The actors of a free run's committed transactions in commit order (event ids), from the
/// records its kept run directory holds.
fn commit_order(report: &Report) -> Result<Vec<ActorId>, ReplayError> {
    let dir = report.run_dir.as_ref().ok_or(ReplayError::NoRunDir)?;
    let path = dir.join("records.jsonl");
    let bad = |reason: String| ReplayError::Records {
        path: path.clone(),
        reason,
    };
    let text = std::fs::read_to_string(&path).map_err(|e| bad(format!("cannot read it: {e}")))?;
    let mut commits: Vec<(i64, ActorId)> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let r: crate::observe::OpRecord =
            serde_json::from_str(line).map_err(|e| bad(format!("line {}: {e}", i + 1)))?;
        if let (crate::observe::Outcome::Committed, Some(eid)) = (r.outcome, r.event_id) {
            commits.push((
                eid,
                ActorId {
                    worker: r.worker,
                    actor: r.actor,
                },
            ));
        }
    }
    commits.sort();
    Ok(commits.into_iter().map(|(_, a)| a).collect())
}

pub struct ReplayOptions {
    /// The report's path as given (named in the reproduce command of a `--lockstep` replay).
    pub report_path: PathBuf,
    /// Replay a free run in lockstep, one transaction at a time in its observed commit order.
    pub lockstep: bool,
    pub out_dir: PathBuf,
    pub work_dir: Option<PathBuf>,
    pub keep: bool,
    pub worker_exe: PathBuf,
}

/// Replays `report`; true when the verdict (and in lockstep, both hashes) reproduced.
pub fn replay(
    report: &Report,
    opts: &ReplayOptions,
    reporter: &mut dyn Reporter,
) -> Result<bool, ReplayError> {
    let recorded = report.mode;
    let mut replay = None;
    let mode = if opts.lockstep && recorded == Mode::Free {
        let order = commit_order(report)?;
        reporter.event(&RunEvent::ReplayCommits {
            commits: order.len(),
        });
        replay = Some(Replay::Commits {
            order,
            report: opts.report_path.clone(),
        });
        Mode::Lockstep
    } else {
        if recorded == Mode::Lockstep {
            match recorded_choices(report) {
                Some((path, c)) => {
                    reporter.event(&RunEvent::ReplaySteps {
                        steps: c.len(),
                        trace: &path,
                    });
                    replay = Some(Replay::Steps(c));
                }
                None => reporter.event(&RunEvent::ReplayFromSeed),
            }
        }
        recorded
    };
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
        replay,
    };
    let again = run(&req, reporter)?.report;
    if again.interrupted() {
        // An interrupt concludes nothing: neither reproduced nor not.
        reporter.event(&RunEvent::ReplayInterrupted { recorded: report });
        return Ok(false);
    }
    // Reproduced means the same failures (category, detector, kind), not merely pass/fail;
    // hashes are comparable only when the replay ran in the report's own mode.
    let hashes = if mode == Mode::Lockstep && recorded == Mode::Lockstep {
        Hashes::Equal
    } else {
        Hashes::Ignore
    };
    let differ = differences(
        &Fingerprint::from(report),
        &Fingerprint::from(&again),
        hashes,
        ("recorded run", "replay"),
    );
    if differ.is_empty() {
        let how = match (recorded, &again.content_hash) {
            (Mode::Lockstep, Some(_)) => Reproduction::Hashes,
            (Mode::Lockstep, None) => Reproduction::TraceOnly,
            _ if mode == Mode::Lockstep => Reproduction::CommitOrder,
            _ => Reproduction::Failures,
        };
        reporter.event(&RunEvent::Reproduced {
            recorded: report,
            again: &again,
            how,
        });
        Ok(true)
    } else {
        reporter.event(&RunEvent::NotReproduced {
            recorded: report,
            differences: &differ,
        });
        Ok(false)
    }
}
