//! `walburst sqlite known-bugs --measure`: every known bug's demo scenario run on every
//! offered release (or the ones `--sqlite` names), and the verdict set beside the table's
//! expectation.
//!
//! Why a child process per cell: a cell is exactly the command the table prints for users
//! (`walburst run DEMO ARGS --sqlite V`), with the demo's own arguments, its own deadlines
//! and its own reports; the measurement judges what a user would see, exit status and all.
//! Its output goes to a log file beside the cell's reports (never a pipe nobody reads, which
//! could stall the child), and every cell has a deadline of its own.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rustix::process::Signal;
use serde::Serialize;

use crate::exit::{EXIT_FAIL, EXIT_INTERRUPTED, EXIT_PASS, EXIT_USAGE};
use crate::releases::known_bugs::{self, Demo, Expected, KnownBug};
use crate::releases::version::{self, SqliteVersion};
use crate::runner::reap::{self, Waited};

/// The summary file written into `--out`.
pub const SUMMARY_FILE: &str = "known-bugs-measured.json";
const SCHEMA: &str = "walburst-known-bugs-measured/1";

/// What one cell's run gave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "verdict", content = "why")]
pub enum Measured {
    Pass,
    Fail,
    /// The run could not be carried out or judged (bad input, an unwritten report, a
    /// deadline, a process that could not start): never counted as either verdict.
    Error(String),
}

impl Measured {
    /// From `walburst run`'s exit status (`crate::exit`): 0 passed, 1 failed, anything
    /// else is not a verdict.
    pub fn from_exit(code: Option<i32>) -> Measured {
        match code {
            Some(EXIT_PASS) => Measured::Pass,
            Some(EXIT_FAIL) => Measured::Fail,
            Some(c) => Measured::Error(format!("`walburst run` exited {c} (not a verdict)")),
            None => Measured::Error("`walburst run` was killed by a signal".into()),
        }
    }

    fn cell(&self) -> &'static str {
        match self {
            Measured::Pass => "pass",
            Measured::Fail => "FAIL",
            Measured::Error(_) => "error",
        }
    }
}

/// Whether a measured verdict is the one the table expects: only a verdict can agree, and
/// only with an expectation that names one (an error never agrees).
pub fn agrees(expected: Expected, measured: &Measured) -> bool {
    matches!(
        (expected, measured),
        (Expected::Fail, Measured::Fail) | (Expected::Pass, Measured::Pass)
    )
}

/// One (bug, release) measurement.
#[derive(Debug, Serialize)]
pub struct Cell {
    pub bug: String,
    pub release: SqliteVersion,
    /// `FAIL` or `pass`, as `walburst sqlite known-bugs` prints it.
    pub expected: &'static str,
    pub measured: Measured,
    pub agrees: bool,
    pub command: String,
    /// The cell's reports (`--out` of its run) and its console output.
    pub out: PathBuf,
    pub log: PathBuf,
    pub wall_secs: f64,
}

#[derive(Debug, Serialize)]
struct Summary<'a> {
    schema: &'static str,
    walburst: &'static str,
    reviewed_through: String,
    releases: &'a [SqliteVersion],
    cells: &'a [Cell],
    /// Bugs with no demo scenario: affected releases are known, nothing was run.
    not_measured: Vec<String>,
}

pub struct MeasureRequest {
    /// Empty: every offered release.
    pub releases: Vec<String>,
    pub out: PathBuf,
    pub cell_timeout: Duration,
}

pub fn command(req: MeasureRequest) -> i32 {
    let releases = match releases(&req.releases) {
        Ok(r) => r,
        Err(msg) => {
            errln!("error: --sqlite: {msg}");
            return EXIT_USAGE;
        }
    };
    if let Err(e) = std::fs::create_dir_all(&req.out) {
        errln!("error: --out {}: cannot create it: {e}", req.out.display());
        return EXIT_USAGE;
    }
    let exe = match crate::exit::worker_exe(None) {
        Ok(p) => p,
        Err(code) => return code,
    };
    crate::signals::install_interrupt_handler();
    let table = known_bugs::table();
    let demos: Vec<&KnownBug> = table
        .bugs
        .iter()
        .filter(|b| matches!(b.demo, Demo::Scenario { .. }))
        .collect();
    let total = demos.len() * releases.len();
    let mut cells = Vec::with_capacity(total);
    for bug in &demos {
        for &v in &releases {
            outln!(
                "[{}/{total}] {} on SQLite {v} (expected {})...",
                cells.len() + 1,
                bug.id,
                bug.expected_on(v).cell()
            );
            let Some(cell) = measure_cell(&exe, bug, v, &req) else {
                outln!(
                    "INTERRUPTED known-bugs --measure: {} of {total} cells measured",
                    cells.len()
                );
                return EXIT_INTERRUPTED;
            };
            print_cell(&cell);
            cells.push(cell);
        }
    }
    let not_measured = table
        .bugs
        .iter()
        .filter(|b| matches!(b.demo, Demo::Missing(_)))
        .map(|b| b.id.clone())
        .collect();
    let summary = Summary {
        schema: SCHEMA,
        walburst: env!("CARGO_PKG_VERSION"),
        reviewed_through: table.reviewed_through.to_string(),
        releases: &releases,
        cells: &cells,
        not_measured,
    };
    print_table(&releases, &cells);
    let path = req.out.join(SUMMARY_FILE);
    if let Err(e) = crate::report::write_json_atomic(&path, &summary) {
        errln!("error: cannot write {}: {e}", path.display());
        return crate::exit::EXIT_UNWRITTEN;
    }
    outln!("summary: {}", path.display());
    let disagree = cells.iter().filter(|c| !c.agrees).count();
    if disagree == 0 {
        outln!(
            "AGREE: {} of {} cells gave the table's verdict",
            cells.len(),
            cells.len()
        );
        EXIT_PASS
    } else {
        outln!(
            "DISAGREE: {disagree} of {} cells did not give the table's verdict (marked `!`)",
            cells.len()
        );
        EXIT_FAIL
    }
}

fn releases(asked: &[String]) -> Result<Vec<SqliteVersion>, String> {
    if asked.is_empty() {
        return Ok(version::RELEASES.iter().map(|r| r.sqlite).collect());
    }
    let mut out = Vec::new();
    for text in asked {
        let v = version::parse_offered(text).map_err(|e| crate::error::Chain(&e).to_string())?;
        if !out.contains(&v) {
            out.push(v);
        }
    }
    Ok(out)
}

/// Runs one cell; `None` when an interrupt stopped it (the child is stopped too).
fn measure_cell(
    exe: &Path,
    bug: &KnownBug,
    v: SqliteVersion,
    req: &MeasureRequest,
) -> Option<Cell> {
    let Demo::Scenario { scenario, args, .. } = &bug.demo else {
        unreachable!("only bugs with a demo scenario are measured");
    };
    let out = req.out.join(&bug.id).join(v.to_string());
    let log = req.out.join(&bug.id).join(format!("{v}.log"));
    let mut argv: Vec<String> = vec!["run".into(), scenario.clone()];
    argv.extend(
        args.iter()
            .flat_map(|a| a.split_whitespace().map(String::from)),
    );
    argv.extend(["--sqlite".into(), v.to_string(), "--quiet".into()]);
    let command = format!("walburst {}", argv.join(" "));
    argv.extend(["--out".into(), out.display().to_string()]);
    let expected = bug.expected_on(v);
    let t0 = Instant::now();
    let measured = match run_child(exe, &argv, &log, req.cell_timeout) {
        Ok(Some(m)) => m,
        Ok(None) => return None,
        Err(e) => Measured::Error(e),
    };
    Some(Cell {
        bug: bug.id.clone(),
        release: v,
        expected: expected.cell(),
        agrees: agrees(expected, &measured),
        measured,
        command,
        out,
        log,
        wall_secs: (t0.elapsed().as_secs_f64() * 10.0).round() / 10.0,
    })
}

/// `Ok(None)`: interrupted.
fn run_child(
    exe: &Path,
    argv: &[String],
    log: &Path,
    limit: Duration,
) -> Result<Option<Measured>, String> {
    if let Some(dir) = log.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let file = File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let err = file
        .try_clone()
        .map_err(|e| format!("{}: {e}", log.display()))?;
    let mut cmd = Command::new(exe);
    cmd.args(argv).stdin(Stdio::null()).stdout(file).stderr(err);
    crate::runner::lifeline::die_with_parent(&mut cmd, Signal::TERM);
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
    match reap::wait_exit_or_interrupt(&mut child, limit) {
        Ok(Waited::Exited(st)) => Ok(Some(Measured::from_exit(st.code()))),
        Ok(Waited::Interrupted) => {
            stop(&mut child);
            Ok(None)
        }
        Ok(Waited::TimedOut) => {
            stop(&mut child);
            Ok(Some(Measured::Error(format!(
                "no verdict within --cell-timeout {} (stopped)",
                humantime::format_duration(limit)
            ))))
        }
        Err(e) => {
            stop(&mut child);
            Err(format!("waiting for the run: {e}"))
        }
    }
}

/// SIGTERM (the run stops its workers and keeps its evidence), then SIGKILL if it has not
/// ended within 30 s.
fn stop(child: &mut std::process::Child) {
    if let Some(pid) = rustix::process::Pid::from_raw(child.id() as i32) {
        let _ = rustix::process::kill_process(pid, Signal::TERM);
    }
    if !matches!(reap::wait_exit(child, Duration::from_secs(30)), Ok(Some(_))) {
        let _ = child.kill();
        let _ = child.wait();
    }
}

fn print_cell(c: &Cell) {
    let mark = if c.agrees { "" } else { "  <- disagrees" };
    let why = match &c.measured {
        Measured::Error(why) => format!(": {why}"),
        _ => String::new(),
    };
    outln!(
        "  {} on {}: {}{why} (expected {}) in {:.0} s; log {}{mark}",
        c.bug,
        c.release,
        c.measured.cell(),
        c.expected,
        c.wall_secs,
        c.log.display()
    );
}

fn print_table(releases: &[SqliteVersion], cells: &[Cell]) {
    let table = known_bugs::table();
    outln!(
        "\nmeasured on each release (FAIL/pass: the demo scenario's verdict, `!`: not the table's; hit/-: no scenario, not run):"
    );
    out!("{:<8}", "sqlite");
    for b in &table.bugs {
        out!(" {:<24}", b.id);
    }
    outln!();
    for &v in releases {
        out!("{:<8}", v.to_string());
        for b in &table.bugs {
            let text = match cells.iter().find(|c| c.bug == b.id && c.release == v) {
                Some(c) if c.agrees => c.measured.cell().to_string(),
                Some(c) => format!("{}!", c.measured.cell()),
                None => b.expected_on(v).cell().to_string(),
            };
            out!(" {text:<24}");
        }
        outln!();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_expected_verdict_agrees_and_an_error_never_does() {
        assert!(agrees(Expected::Fail, &Measured::Fail));
        assert!(agrees(Expected::Pass, &Measured::Pass));
        assert!(!agrees(Expected::Fail, &Measured::Pass));
        assert!(!agrees(Expected::Pass, &Measured::Fail));
        for e in [Expected::Fail, Expected::Pass] {
            assert!(!agrees(e, &Measured::Error("x".into())));
        }
        for e in [Expected::AffectedNoScenario, Expected::ClearNoScenario] {
            assert!(!agrees(e, &Measured::Pass) && !agrees(e, &Measured::Fail));
        }
    }

    #[test]
    fn only_exit_0_and_1_are_verdicts() {
        assert_eq!(Measured::from_exit(Some(0)), Measured::Pass);
        assert_eq!(Measured::from_exit(Some(1)), Measured::Fail);
        for code in [Some(2), Some(3), Some(130), None] {
            assert!(matches!(Measured::from_exit(code), Measured::Error(_)));
        }
    }
}
