//! Reports: the run's JSON document (format in `reports/README.md`), written atomically.

pub mod app;
pub mod line;
pub mod outputs;
pub mod sync_sweep;

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::check::failure::{Failure, Signature};
use crate::check::verdict::VerdictKind;
use crate::check::{Checks, Corruption};
use crate::observe::{BusySummary, LatencySummary, PerWorker, Totals, WorkerExit};
use crate::scenario::{Overrides, Scenario, ScenarioSource};

/// Bumped on any incompatible change to the report format.
/// 2: `failures` and `liveness` are typed objects (category, detector, kind, count,
/// message), per-counter `[expect]` keys, `corruption.evidence`.
pub const SCHEMA_VERSION: u32 = 2;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema_version: u32,
    pub walburst_version: String,
    pub sqlite_version: String,
    /// `sqlite_source_id()` of the SQLite that ran (workers and verification alike).
    #[serde(default)]
    pub sqlite_source_id: String,
    /// How that SQLite was obtained (bundled, prepared from a libsqlite3-sys, a system
    /// library); absent in reports written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sqlite_origin: Option<crate::worker::origin::SqliteOrigin>,
    pub scenario: Scenario,
    pub scenario_source: ScenarioSource,
    pub overrides: Overrides,
    pub seed: u64,
    pub mode: crate::scenario::Mode,
    pub schedule_hash: String,
    /// Lockstep: hash of the step trace (step, worker, actor, action, result).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_hash: Option<String>,
    /// Canonical hash of the database content after the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lockstep: Option<crate::observe::lockstep::LockstepOutcome>,
    pub started_at: String,
    pub wall_secs: f64,
    pub totals: Totals,
    pub latency_ms: LatencySummary,
    pub per_worker: Vec<PerWorker>,
    pub busy: BusySummary,
    pub checks: Checks,
    pub corruption: Corruption,
    pub verdict: VerdictKind,
    pub failures: Vec<Failure>,
    pub liveness: Vec<Failure>,
    pub notes: Vec<String>,
    pub workers: Vec<WorkerExit>,
    /// Seeded kills that landed (`[faults] kill`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kills: Vec<crate::observe::KillEvent>,
    /// `[io]` scenarios: the fault VFS's counters, fired points, stalls, power loss and the
    /// durability oracle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub io: Option<crate::check::durability::IoReport>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_dir: Option<PathBuf>,
    /// An external worker: the SQLite the app's processes ran and what their connections
    /// set (`sqlite_version` above is walburst's own, for setup and verification).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<app::AppSide>,
    pub reproduce: String,
}

impl Report {
    pub fn passed(&self) -> bool {
        self.verdict == VerdictKind::Pass
    }

    /// What failed, by (category, detector, kind): what replay and shrinking compare.
    pub fn failure_signature(&self) -> std::collections::BTreeSet<Signature> {
        crate::check::failure::signatures(self.failures.iter().chain(&self.liveness))
    }

    /// The failure the verdict line names (`check::verdict::primary`): the cause.
    pub fn primary(&self) -> Option<&crate::check::failure::Failure> {
        crate::check::verdict::primary(&self.failures, &self.liveness)
    }

    pub fn interrupted(&self) -> bool {
        self.verdict == VerdictKind::Interrupted
    }

    /// `<scenario>-s<seed>-<UTC start>.json`, safe as a file name.
    pub fn file_name(&self) -> String {
        let stamp: String = self
            .started_at
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect();
        format!(
            "{}-s{}-{stamp}.json",
            file_safe(&self.scenario.name),
            self.seed
        )
    }
}

/// `name` with every character but ASCII letters, digits and `-` replaced by `_`, so
/// that a scenario or case name can stand in a file name.
pub fn file_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A file of the run's evidence (a report, a summary, records) that could not be written:
/// what was being done, to which path, and the OS's answer.
#[derive(Debug, thiserror::Error)]
#[error("cannot {doing} {}", path.display())]
pub struct WriteError {
    pub doing: &'static str,
    pub path: PathBuf,
    #[source]
    pub error: std::io::Error,
}

fn failed(doing: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> WriteError {
    let path = path.to_path_buf();
    move |error| WriteError { doing, path, error }
}

/// A temporary file for an atomic write, readable like any other file once renamed
/// (tempfile creates 0600, which would hide reports from CI artifact collectors).
fn temp_in(dir: &Path) -> Result<tempfile::NamedTempFile, WriteError> {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::NamedTempFile::new_in(dir).map_err(failed("write in", dir))?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o644))
        .map_err(failed("set the permissions of a file in", dir))?;
    Ok(tmp)
}

/// Writes `value` as pretty JSON to `path` atomically (see [`write_atomic`]).
pub fn write_json_atomic<T: Serialize>(path: &Path, value: &T) -> Result<(), WriteError> {
    let mut bytes = serde_json::to_vec_pretty(value)
        .map_err(|e| failed("serialize", path)(std::io::Error::other(e)))?;
    bytes.push(b'\n');
    write_atomic(path, &bytes)
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory (created if
/// missing), synced, then renamed over the target. Readers never see half a file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(failed("create directory", dir))?;
    let mut tmp = temp_in(dir)?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(failed("write", path))?;
    tmp.persist(path)
        .map_err(|e| failed("write", path)(e.error))?;
    Ok(())
}

/// Writes the report into `out_dir` under its own name, never replacing another report
/// (two runs of one seed in the same second get `-2`, `-3`, ...); returns the path.
pub fn write(report: &Report, out_dir: &Path) -> Result<PathBuf, WriteError> {
    std::fs::create_dir_all(out_dir).map_err(failed("create report directory", out_dir))?;
    let mut tmp = temp_in(out_dir)?;
    let name = report.file_name();
    serde_json::to_writer_pretty(&mut tmp, report)
        .map_err(std::io::Error::other)
        .and_then(|()| tmp.write_all(b"\n"))
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(failed("write", &out_dir.join(&name)))?;
    let stem = name.trim_end_matches(".json");
    for n in 1.. {
        let path = if n == 1 {
            out_dir.join(&name)
        } else {
            out_dir.join(format!("{stem}-{n}.json"))
        };
        match tmp.persist_noclobber(&path) {
            Ok(_) => return Ok(path),
            Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => tmp = e.file,
            Err(e) => return Err(failed("write", &path)(e.error)),
        }
    }
    unreachable!("the loop returns")
}
