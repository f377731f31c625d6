//! The hidden `walburst sweep-pair` subcommand: one (case, seed) of a sweep, run in its own
//! process so that the sweep can capture its output, survive its crash, and run several at
//! once (`--jobs`). It prints exactly what `walburst run` prints for one run and writes a
//! small JSON result for the sweep.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Ended, SweepError};
use crate::error::Chain;
use crate::observe::ActorId;
use crate::observe::lockstep::TraceEntry;
use crate::report::outputs::Outputs;
use crate::run::event::{Reporter, RunEvent};
use crate::run::{RunRequest, run};
use crate::scenario::Mode;
use crate::scenario::Scale;

#[derive(Debug)]
pub struct PairRequest {
    /// The case: a shipped name, a file, or `FILE#CASE`.
    pub spec: String,
    pub seed: u64,
    pub mode: Mode,
    pub check_determinism: bool,
    /// A recorded lockstep trace (`trace.jsonl`) to replay step by step.
    pub trace: Option<PathBuf>,
    /// Where to write the result JSON.
    pub result: PathBuf,
    /// The executable started as each worker (default: this binary).
    pub worker_exe: Option<PathBuf>,
    pub output: Outputs,
    pub scale: Scale,
}

/// What the child tells the sweep.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ChildResult {
    pub passed: bool,
    /// The run could not be carried out.
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub failures: Vec<String>,
    #[serde(default)]
    pub notes: Vec<String>,
    #[serde(default)]
    pub report: Option<PathBuf>,
    #[serde(default)]
    pub run_dir: Option<PathBuf>,
    /// SIGINT/SIGTERM stopped the run.
    #[serde(default)]
    pub interrupted: bool,
}

/// Reads a `trace.jsonl` into the actor chosen at each step.
pub fn read_trace(path: &Path) -> Result<Vec<ActorId>, SweepError> {
    let bad = |reason: String| SweepError::BadTrace {
        path: path.to_path_buf(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| bad(format!("cannot read it: {e}")))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str::<TraceEntry>(l)
                .map(|e| ActorId {
                    worker: e.worker,
                    actor: e.actor,
                })
                .map_err(|e| bad(format!("line {}: {e}", i + 1)))
        })
        .collect()
}

/// `walburst sweep-pair`: `Err` before the run starts (bad input), or when its result cannot
/// be handed back to the sweep.
pub fn pair_main(a: PairRequest, reporter: &mut dyn Reporter) -> Result<Ended, SweepError> {
    // As `walburst run`: a Ctrl-C stops the run cleanly (workers killed, report written).
    crate::signals::install_interrupt_handler();
    let overrides = a.scale.overrides();
    let (scenario, source) = super::load_case(&a.spec, &overrides)?;
    let replay = a.trace.as_deref().map(read_trace).transpose()?;
    let worker_exe = match a.worker_exe.clone() {
        Some(p) => p,
        None => std::env::current_exe().map_err(|error| SweepError::Io {
            doing: "find walburst's own executable to start workers:",
            path: "/proc/self/exe".into(),
            error,
        })?,
    };
    let mode = if a.check_determinism || replay.is_some() {
        Mode::Lockstep
    } else {
        a.mode
    };
    let req = RunRequest {
        scenario,
        source: source.clone(),
        overrides: overrides.clone(),
        seed: a.seed,
        out_dir: Some(a.output.out.clone()),
        keep: a.output.keep,
        work_dir: a.output.work_dir.clone(),
        worker_exe,
        mode,
        replay: replay.map(crate::run::Replay::Steps),
    };
    let mut result = ChildResult::default();
    if a.check_determinism {
        match crate::determinism::check(&req, reporter) {
            Ok(passed) => {
                result.passed = passed;
                if !passed {
                    result.failures.push(
                        "the determinism check failed or its first run failed (see the output)"
                            .into(),
                    );
                }
            }
            Err(e) => result.error = Some(Chain(&e).to_string()),
        }
    } else {
        match run(&req, reporter) {
            Ok(o) => {
                result.passed = o.report.passed();
                result.failures = o.report.failures.iter().map(|f| f.to_string()).collect();
                result
                    .failures
                    .extend(o.report.liveness.iter().map(|l| l.to_string()));
                result.notes = o.report.notes.clone();
                result.report = o.report_path.clone();
                result.run_dir = o.report.run_dir.clone();
            }
            Err(e) => result.error = Some(Chain(&e).to_string()),
        }
    }
    if let Some(e) = &result.error {
        reporter.event(&RunEvent::NotCarriedOut {
            scenario: &req.scenario.name,
            seed: a.seed,
            error: e.clone(),
            reproduce: &crate::run::reproduce_command(&source, a.seed, mode, &overrides),
        });
    }
    result.interrupted = super::interrupted();
    crate::report::write_json_atomic(&a.result, &result).map_err(|e| SweepError::Io {
        doing: "write the pair result",
        path: a.result.clone(),
        error: std::io::Error::other(Chain(&e).to_string()),
    })?;
    Ok(if result.interrupted {
        Ended::Interrupted
    } else if result.passed {
        Ended::Pass
    } else {
        Ended::Fail
    })
}
