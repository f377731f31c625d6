//! What runner and workers say to each other: JSON lines over the worker's stdin/stdout
//! pipes, never through the database under test.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::observe::OpRecord;
use crate::scenario::{Overrides, Scenario, ScenarioSource};

/// File in the run directory holding the [`RunSpec`]; written before any worker starts.
pub const RUN_SPEC_FILE: &str = "run.json";
/// Directory in the run directory that holds the database and only its files.
pub const DB_DIR: &str = "db";
pub const DB_FILE: &str = "kanban.db";

/// Everything a worker needs to rebuild its share of the plan and run it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSpec {
    pub walburst_version: String,
    pub sqlite_version: String,
    pub scenario: Scenario,
    pub source: ScenarioSource,
    pub seed: u64,
    pub mode: String,
    pub overrides: Overrides,
    pub schedule_hash: String,
    pub db_path: PathBuf,
}

impl RunSpec {
    pub fn read(run_dir: &Path) -> anyhow::Result<RunSpec> {
        let path = run_dir.join(RUN_SPEC_FILE);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        Ok(serde_json::from_str(&text)?)
    }
}

/// Worker -> runner, one JSON object per line on the worker's stdout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "msg", rename_all = "snake_case")]
pub enum WorkerMsg {
    /// Connected (where the scenario allows connecting early) and waiting at the barrier.
    Ready {
        worker: u32,
        pid: u32,
    },
    Op(Box<OpRecord>),
    /// The whole schedule ran.
    Done {
        worker: u32,
    },
    /// The worker cannot go on (bad run directory, cannot open the database, ...).
    Fatal {
        worker: u32,
        message: String,
    },
    /// Lockstep: an actor is parked before its next step.
    Want {
        worker: u32,
        actor: u32,
        action: String,
    },
    /// Lockstep: the granted step ran, with this result.
    Did {
        worker: u32,
        actor: u32,
        result: String,
    },
    /// A seeded kill is about to land: the worker SIGKILLs itself right after this line.
    Dying {
        worker: u32,
        actor: u32,
        seq: u32,
        point: crate::scenario::KillPoint,
    },
    /// Lockstep: an actor ran its whole schedule.
    ActorDone {
        worker: u32,
        actor: u32,
    },
    /// An `[io]` fault point fired, announced before its action (a kill or power loss
    /// follows at once).
    IoFault {
        worker: u32,
        fired: Box<super::vfs::FiredPoint>,
    },
    /// A `stop` point's stall ended; the worker goes on.
    IoResumed {
        worker: u32,
        point: u32,
        t_ns: u64,
        wal_bytes: Option<u64>,
    },
    /// The fault VFS's I/O counters, sent before `Done` only by a worker that registered it.
    IoCounters {
        worker: u32,
        counts: super::vfs::IoCounts,
    },
}

/// Runner -> worker: the start barrier opens.
pub const GO: &str = "go";
