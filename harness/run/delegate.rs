//! Handing a run to the binary of another SQLite release.
//!
//! Why the whole run, not just the workers: verification (integrity_check, quick_check,
//! the ledger read) runs in the runner process, and "is the database damaged?" must be
//! answered by the release under test, as the app's next open would. So a run whose
//! scenario asks for release V, in a process that runs another one, starts V's prepared
//! binary as `walburst run ...` for the same (scenario, seed, mode, overrides); that process
//! and its workers run V, and this one only collects the report.

/// Set on a delegated run: where it writes its report and report path for the caller.
pub const HANDBACK_ENV: &str = "WALBURST_SQLITE_HANDBACK";
/// Set on a delegated run whose caller writes no report file (compare, shrink, explore):
/// the report goes back through the hand-back file only, so the child neither writes one
/// into a scratch directory nor prints a `report:` path that is gone a moment later.
pub const HANDBACK_ONLY_ENV: &str = "WALBURST_SQLITE_HANDBACK_ONLY";

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

use super::event::{Reporter, RunEvent, SideRow};
use crate::error::Chain;
use crate::observe::OpRecord;
use crate::observe::lockstep::TraceEntry;
use crate::releases::{cache, prepare};
use crate::report::Report;
use crate::run::{RunError, RunOutcome, RunRequest};
use crate::scenario::Scenario;
use crate::scenario::release::SqliteVersion;
use crate::worker::origin::{self, EXPECT_ENV, mismatch};

/// What a delegated run hands back: everything a [`RunOutcome`] holds but the page, so a
/// run on another release is as complete for its caller as one in this process (compare's
/// latency CDF needs the records, a determinism check the trace).
#[derive(Debug, Serialize, Deserialize)]
pub struct Handback {
    pub report: Report,
    pub report_path: Option<PathBuf>,
    #[serde(default)]
    pub records: Vec<OpRecord>,
    #[serde(default)]
    pub trace: Vec<TraceEntry>,
    #[serde(default)]
    pub page: Option<PathBuf>,
}

/// In a delegated run: whether the caller asked for the report through the hand-back only.
pub fn handback_only() -> bool {
    std::env::var_os(HANDBACK_ENV).is_some_and(|p| !p.is_empty())
        && std::env::var_os(HANDBACK_ONLY_ENV).is_some()
}

/// The release `s` asks for, when this process runs another one.
pub fn foreign(s: &Scenario) -> Option<SqliteVersion> {
    s.sqlite
        .version
        .filter(|v| v.to_string() != rusqlite::version())
}

/// In a delegated run: writes the report for the process that started it.
pub fn hand_back(o: &RunOutcome) -> Result<(), crate::report::WriteError> {
    let Some(path) = std::env::var_os(HANDBACK_ENV).filter(|p| !p.is_empty()) else {
        return Ok(());
    };
    crate::report::write_json_atomic(
        Path::new(&path),
        &Handback {
            report: o.report.clone(),
            report_path: o.report_path.clone(),
            records: o.records.clone(),
            trace: o.trace.clone(),
            page: o.page.clone(),
        },
    )
}

/// The `walburst run` arguments that recreate `req` in another binary.
fn run_args(req: &RunRequest, out_dir: &Path, quiet: bool) -> Vec<String> {
    let mut args = vec![
        "run".to_string(),
        req.source.as_arg(),
        "--seed".into(),
        req.seed.to_string(),
    ];
    // Always explicit: the child must not pick a scenario default of its own.
    args.extend(["--mode".into(), req.mode.name().into()]);
    for o in req.overrides.as_args() {
        args.extend(o.split_whitespace().map(String::from));
    }
    args.extend(["--out".into(), out_dir.display().to_string()]);
    if req.keep {
        args.push("--keep".into());
    }
    if let Some(w) = &req.work_dir {
        args.extend(["--work-dir".into(), w.display().to_string()]);
    }
    if quiet {
        args.push("--quiet".into());
    }
    args
}

/// Runs `req` in the prepared binary of release `v` (preparing it on first use) and returns
/// its report. The child prints its own seed line, progress and verdict.
pub fn run(
    req: &RunRequest,
    v: SqliteVersion,
    reporter: &mut dyn Reporter,
) -> Result<RunOutcome, RunError> {
    let refuse = |problem: String| RunError::Release {
        version: v,
        problem,
    };
    // A delegated process that still runs the wrong release must not delegate again.
    if std::env::var_os(EXPECT_ENV).is_some() {
        return Err(refuse(mismatch(&v.to_string()).to_string()));
    }
    if req.replay.is_some() {
        return Err(refuse(format!(
            "replaying on it from a walburst that runs {}: run the replay with that release's binary, {} replay REPORT",
            rusqlite::version(),
            cache::binary(v).display()
        )));
    }
    prepare::ensure(v, &mut |p| reporter.event(&RunEvent::Prepare(p)))
        .map_err(|e| refuse(Chain(&e).to_string()))?;
    let exe = cache::binary(v);
    let scratch = tempfile::Builder::new()
        .prefix("walburst-sqlite-handback-")
        .tempdir()
        .map_err(RunError::io(
            "create a temporary directory in",
            std::env::temp_dir(),
        ))?;
    let handback = scratch.path().join("handback.json");
    let out_dir = req
        .out_dir
        .clone()
        .unwrap_or_else(|| scratch.path().join("reports"));
    reporter.event(&RunEvent::Delegated {
        version: v,
        exe: &exe,
    });
    let mut child = Command::new(&exe);
    child
        .args(run_args(req, &out_dir, reporter.quiet()))
        .env(EXPECT_ENV, v.to_string())
        .env(HANDBACK_ENV, &handback);
    // The fault VFS library an external worker preloads lies beside this binary, not beside
    // the prepared one (`run::preload::arm` looks for it there otherwise).
    if std::env::var_os(crate::worker::vfs::preload::LIBRARY_ENV).is_none()
        && let Some(lib) = std::env::current_exe()
            .ok()
            .and_then(|e| {
                e.parent()
                    .map(|d| d.join(crate::worker::vfs::preload::LIBRARY))
            })
            .filter(|l| l.is_file())
    {
        child.env(crate::worker::vfs::preload::LIBRARY_ENV, lib);
    }
    if req.out_dir.is_none() {
        child.env(HANDBACK_ONLY_ENV, "1");
    }
    let status = child
        .stdin(Stdio::null())
        .status()
        .map_err(RunError::io("start", &exe))?;
    let text = std::fs::read_to_string(&handback).map_err(|_| {
        refuse(format!(
            "the run ({}) ended ({status}) without a report",
            exe.display()
        ))
    })?;
    let back: Handback = serde_json::from_str(&text).map_err(|e| {
        refuse(format!(
            "its report {} does not read: {e}",
            handback.display()
        ))
    })?;
    if back.report.sqlite_version != v.to_string() {
        return Err(refuse(mismatch(&v.to_string()).to_string()));
    }
    Ok(RunOutcome {
        report: back.report,
        report_path: back.report_path,
        trace: back.trace,
        records: back.records,
        page: back.page,
    })
}

/// `--sqlite V1,V2`: one line per (run, release) after all of them, with the report path.
#[derive(Debug, Default)]
pub struct SideBySide {
    rows: Vec<SideRow>,
}

fn release_label(version: &str, origin: Option<&origin::SqliteOrigin>) -> String {
    match origin {
        Some(o) => format!("SQLite {version} ({})", o.describe()),
        None => format!("SQLite {version}"),
    }
}

impl SideBySide {
    pub fn add(&mut self, o: &RunOutcome) {
        let r = &o.report;
        self.rows.push(SideRow {
            release: release_label(&r.sqlite_version, r.sqlite_origin.as_ref()),
            verdict: crate::report::line::verdict_line(r),
            report: o.report_path.clone(),
        });
    }

    pub fn add_error(&mut self, s: &Scenario, seed: u64, e: &RunError) {
        let asked = s
            .sqlite
            .version
            .map_or_else(|| rusqlite::version().to_string(), |v| v.to_string());
        self.rows.push(SideRow {
            release: release_label(&asked, None),
            verdict: format!(
                "FAIL {} seed={seed}: the run could not be carried out: {}",
                s.name,
                Chain(e)
            ),
            report: None,
        });
    }

    pub fn print(&self, reporter: &mut dyn Reporter) {
        // A delegated run is one row of its caller's table, which prints it.
        if std::env::var_os(EXPECT_ENV).is_some() || self.rows.is_empty() {
            return;
        }
        reporter.event(&RunEvent::SideBySide(&self.rows));
    }
}
