//! One trial of the search: a candidate scenario run once in lockstep through the public
//! run API, its TOML written first so that the printed reproduce command names a real file.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::signature::{self, Signature};
use crate::error::Chain;
use crate::report::Report;
use crate::run::event::Reporter;
use crate::run::{RunRequest, run};
use crate::scenario::{Mode, Overrides, Scenario, ScenarioSource};

/// What one trial ran and how it ended; the search's log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialRecord {
    pub run: u32,
    /// `workers=2 ops_per_worker=5 ...`: what changed, for a person.
    pub candidate: String,
    pub seed: u64,
    /// `None`: the run passed (or could not be carried out: see `error`).
    pub signature: Option<Signature>,
    pub accepted: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Lockstep steps of the run.
    pub steps: u64,
}

/// A finished trial: the report of its run and where its run directory is.
pub struct TrialRun {
    pub report: Option<Report>,
    pub signature: Option<Signature>,
    pub error: Option<String>,
    pub scenario_file: PathBuf,
}

/// Runs candidates one at a time; counts runs and time.
pub struct Trials<'a> {
    pub worker_exe: PathBuf,
    /// Candidate TOML files and run directories go under here.
    pub work_dir: PathBuf,
    pub reporter: &'a mut dyn Reporter,
    pub runs: u32,
    pub started: Instant,
}

impl Trials<'_> {
    /// Runs `s` with `seed` in lockstep; the signature is the run's primary failure.
    pub fn run(&mut self, s: &Scenario, seed: u64) -> TrialRun {
        self.runs += 1;
        let scenario_file = self
            .work_dir
            .join(format!("candidate-{:04}.toml", self.runs));
        let written = write_scenario(&scenario_file, s);
        let req = RunRequest {
            scenario: s.clone(),
            source: ScenarioSource::File(scenario_file.clone()),
            overrides: Overrides::default(),
            seed,
            out_dir: None,
            keep: false,
            work_dir: Some(self.work_dir.join("runs")),
            worker_exe: self.worker_exe.clone(),
            mode: Mode::Lockstep,
            replay: None,
        };
        let outcome = written.and_then(|()| Ok(run(&req, &mut *self.reporter)?));
        match outcome {
            Ok(o) => TrialRun {
                signature: signature::of(&o.report),
                report: Some(o.report),
                error: None,
                scenario_file,
            },
            Err(e) => TrialRun {
                report: None,
                signature: None,
                error: Some(Chain(&*e).to_string()),
                scenario_file,
            },
        }
    }
}

/// Writes a scenario as TOML (atomically).
pub fn write_scenario(path: &Path, s: &Scenario) -> anyhow::Result<()> {
    let text = toml::to_string(s)?;
    Ok(crate::report::write_atomic(path, text.as_bytes())?)
}
