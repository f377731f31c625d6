//! One run, end to end: scenario -> plan -> execution -> observations -> checks and
//! verdict -> report. Each stage lives in its own module; this file only sequences them.

mod cohort;
pub mod delegate;
mod error;
pub mod event;
mod preload;

pub use error::{RunError, SetupStage};
use event::{Page, Reporter, RunEvent};

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::check::{self, durability, verdict};
use crate::error::Chain;
use crate::observe;
use crate::observe::ActorId;
use crate::observe::lockstep::TraceEntry;
use crate::plan;
use crate::protocol::{DB_DIR, DB_FILE, RUN_SPEC_FILE, RunSpec};
use crate::render;
use crate::report::{self, Report};
use crate::runner::coordinator::Coordinator;
use crate::runner::scheduler::{
    CommitOrderScheduler, PctScheduler, RandomScheduler, ReplayScheduler, Scheduler,
};
use crate::runner::{self, tamper};
use crate::scenario::{Mode, Overrides, Scenario, ScenarioSource, SchedulerKind, Setup};
use crate::worker::{sqlite, vfs};
use crate::workload::list_append;

pub struct RunRequest {
    pub scenario: Scenario,
    pub source: ScenarioSource,
    pub overrides: Overrides,
    pub seed: u64,
    /// Where the JSON report goes; `None` writes none (tests that read the returned report).
    pub out_dir: Option<PathBuf>,
    /// Keep the run directory even when the run passes.
    pub keep: bool,
    /// Parent of the run directory; the system's temporary directory by default.
    pub work_dir: Option<PathBuf>,
    /// The binary that provides the hidden `worker` subcommand.
    pub worker_exe: PathBuf,
    pub mode: Mode,
    /// Lockstep: replay a recording instead of asking the scenario's scheduler.
    pub replay: Option<Replay>,
}

/// What a lockstep run replays.
#[derive(Debug, Clone)]
pub enum Replay {
    /// The actor of every step of a lockstep trace.
    Steps(Vec<ActorId>),
    /// The actor of every committed transaction of a free run, in commit order, read from
    /// the kept run directory of `report` (`walburst replay --lockstep REPORT`).
    Commits {
        order: Vec<ActorId>,
        report: PathBuf,
    },
}

pub struct RunOutcome {
    pub report: Report,
    pub report_path: Option<PathBuf>,
    /// Lockstep: the full step trace.
    pub trace: Vec<TraceEntry>,
    /// Every op record (for pictures drawn after the run, e.g. `compare`'s latency CDF).
    pub records: Vec<observe::OpRecord>,
    /// The page drawn beside the JSON report, when there is one.
    pub page: Option<std::path::PathBuf>,
}

/// The command that reproduces a run.
pub fn reproduce_command(
    source: &ScenarioSource,
    seed: u64,
    mode: Mode,
    overrides: &Overrides,
) -> String {
    let mut parts = vec![
        "walburst run".to_string(),
        source.as_arg(),
        format!("--seed {seed}"),
    ];
    if mode == Mode::Lockstep {
        parts.push("--mode lockstep".to_string());
    }
    parts.extend(overrides.as_args());
    parts.join(" ")
}

fn make_run_dir(req: &RunRequest) -> Result<PathBuf, RunError> {
    let parent = req.work_dir.clone().unwrap_or_else(std::env::temp_dir);
    std::fs::create_dir_all(&parent).map_err(RunError::io("create work directory", &parent))?;
    let safe = crate::report::file_safe(&req.scenario.name);
    let dir = tempfile::Builder::new()
        .prefix(&format!("walburst-{safe}-s{}-", req.seed))
        .tempdir_in(&parent)
        .map_err(RunError::io("create a run directory in", &parent))?;
    Ok(dir.keep())
}

/// Every actor of the run, in (worker, actor) order.
fn actors(s: &Scenario) -> Vec<ActorId> {
    (0..s.workload.workers)
        .flat_map(|worker| {
            (0..s.workload.connections_per_worker).map(move |actor| ActorId { worker, actor })
        })
        .collect()
}

fn make_coordinator(req: &RunRequest) -> Coordinator {
    let s = &req.scenario;
    let actors = actors(s);
    let budget = s.lockstep.step_budget(s.total_ops(), actors.len() as u64);
    let scheduler: Box<dyn Scheduler> = match (&req.replay, s.lockstep.scheduler) {
        (Some(Replay::Steps(choices)), _) => Box::new(ReplayScheduler::new(choices.clone())),
        (Some(Replay::Commits { order, .. }), _) => {
            Box::new(CommitOrderScheduler::new(order.clone()))
        }
        (None, SchedulerKind::Random) => Box::new(RandomScheduler::new(req.seed)),
        (None, SchedulerKind::Pct) => Box::new(PctScheduler::new(
            req.seed,
            &actors,
            s.lockstep.pct_depth,
            // Estimated contended steps: a write op is 4-6 steps (begin, its statements,
            // commit, a guard), plus the retries the coordinator still grants after releases.
            s.total_ops().saturating_mul(8),
        )),
    };
    Coordinator::new(scheduler, &actors, budget)
}

/// The runner prepares the database before any worker starts (`setup = "runner"`).
fn prepare_db(spec: &RunSpec) -> Result<(), RunError> {
    let s = &spec.scenario;
    let failed = |stage| {
        move |error| RunError::Setup {
            stage,
            path: spec.db_path.clone(),
            error,
        }
    };
    let conn = sqlite::open(&spec.db_path, &s.sqlite, s.sqlite.busy_timeout_ms)
        .map_err(failed(SetupStage::Create))?;
    // An app with its own ledger creates its own tables; walburst only sets the database up.
    if s.ledger.is_none() {
        list_append::create_schema(&conn, s.workload.profile)
            .map_err(failed(SetupStage::Schema))?;
    }
    // The schema belongs in the main file, as in a database that has lived a while; only the
    // burst's own commits start out in -wal.
    if s.sqlite.journal_mode == crate::scenario::JournalMode::Wal {
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .map_err(failed(SetupStage::Checkpoint))?;
    }
    conn.close()
        .map_err(|(_, e)| failed(SetupStage::Close)(e))?;
    Ok(())
}

/// A kept run directory gets the op records and the report beside the database.
fn keep_evidence(
    run_dir: &Path,
    records: &[observe::OpRecord],
    times: &observe::RunTimes,
    report: &Report,
) -> Result<(), report::WriteError> {
    write_jsonl(&run_dir.join(render::RECORDS_FILE), records)?;
    report::write_json_atomic(&run_dir.join(render::EVENTS_FILE), times)?;
    report::write_json_atomic(&run_dir.join("report.json"), report)
}

/// A kept list-append run directory also gets its history as Elle reads it
/// (`history.jsonl`, `history.edn`), so anyone can cross-check the isolation checker.
fn keep_history(
    run_dir: &Path,
    spec: &RunSpec,
    plan: &crate::plan::Plan,
    records: &[observe::OpRecord],
) -> Result<(), report::WriteError> {
    if spec.scenario.workload.profile != crate::scenario::Profile::ListAppend {
        return Ok(());
    }
    check::isolation::records::write_history(run_dir, plan, records).map_err(|(path, error)| {
        report::WriteError {
            doing: "write",
            path,
            error,
        }
    })
}

/// One JSON line per item (records, trace steps).
fn write_jsonl<T: serde::Serialize>(path: &Path, items: &[T]) -> Result<(), report::WriteError> {
    use std::io::Write;
    let write = || -> std::io::Result<()> {
        let mut w = std::io::BufWriter::new(std::fs::File::create(path)?);
        for r in items {
            serde_json::to_writer(&mut w, r)?;
            w.write_all(b"\n")?;
        }
        w.flush()
    };
    write().map_err(|error| report::WriteError {
        doing: "write",
        path: path.to_path_buf(),
        error,
    })
}

/// Draws `report.html` beside the JSON report; a failure is a note, never an error.
fn draw_page(
    report: &Report,
    records: &[observe::OpRecord],
    trace: &[TraceEntry],
    times: &observe::RunTimes,
    json: &Path,
    reporter: &mut dyn Reporter,
) -> Option<PathBuf> {
    let data = render::RunData {
        report,
        records,
        trace,
        times: Some(times),
    };
    let html = render::html_path_for(json);
    match render::write_run_page(&data, &[], &html, None) {
        Ok(r) => {
            reporter.event(&RunEvent::PageDrawn {
                path: &html,
                millis: r.millis,
            });
            Some(html)
        }
        Err(e) => {
            reporter.event(&RunEvent::PageNotDrawn {
                page: Page::Report,
                error: Chain(&*e).to_string(),
            });
            None
        }
    }
}

/// Names the SQLite the workers' code ran when it is not walburst's own (an external
/// worker links its own): that is the SQLite under test, walburst's only verifies.
fn worker_sqlite_note(workers: &[observe::WorkerExit], own: &str) -> Option<String> {
    let ran: std::collections::BTreeSet<String> = workers
        .iter()
        .filter_map(|w| {
            let v = w.sqlite_version.as_deref()?;
            let who = [w.language.as_deref(), w.implementation.as_deref()];
            Some(format!(
                "{v} ({})",
                who.into_iter().flatten().collect::<Vec<_>>().join(", ")
            ))
        })
        .collect();
    let foreign = ran.iter().any(|r| !r.starts_with(&format!("{own} ")));
    foreign.then(|| {
        format!(
            "workers ran SQLite {}; walburst's own SQLite {own} did the setup and verification",
            ran.into_iter().collect::<Vec<_>>().join(", ")
        )
    })
}

/// The scenario as the checks judge it: with `journal_mode = "app"`, in the journal mode
/// the app chose (`check::verify::app_journal_mode`), so every mode-dependent rule (the
/// durability rule, WAL-only checks) judges the mode that ran, not the word `app`. Where
/// the app's mode is unknown (verification could not read it) it stays `app`.
fn judged_scenario(s: &Scenario, checks: &check::Checks) -> Scenario {
    let mut judged = s.clone();
    if let Some(m) = checks
        .app_journal_mode
        .as_ref()
        .and_then(|a| crate::scenario::JournalMode::from_sqlite(&a.chosen))
    {
        judged.sqlite.journal_mode = m;
    }
    judged
}

/// Runs one (scenario, seed). Prints the seed line first, persists the run spec before any
/// worker starts, and always produces a report, pass or fail.
pub fn run(req: &RunRequest, reporter: &mut dyn Reporter) -> Result<RunOutcome, RunError> {
    // A free run would silently drop the scenario's shm points (compare, a nightly sweep).
    crate::scenario::check_mode(&req.scenario, req.mode).map_err(|problem| RunError::Mode {
        scenario: req.source.to_string(),
        problem,
    })?;
    if let Some(v) = delegate::foreign(&req.scenario) {
        return delegate::run(req, v, reporter);
    }
    crate::worker::origin::check_expected()?;
    let s = &req.scenario;
    reporter.event(&RunEvent::Seed {
        seed: req.seed,
        scenario: &s.name,
        mode: req.mode,
        settings: &s.key_settings(),
    });
    // An external worker's run: walburst's own SQLite, for the app's line at the barrier.
    let mut relay = Relay {
        reporter: &mut *reporter,
        app_of: s.worker.is_some().then(sqlite::sqlite_version),
    };
    // Checked at load; resolved again here so a vanished program fails before any file.
    let mut command = s
        .worker_command(&req.source, &req.worker_exe)
        .map_err(|problem| RunError::Worker {
            scenario: req.source.to_string(),
            problem,
        })?;
    // A run on a chosen release: an external worker loads it through its library path (it
    // cannot use the copy compiled into walburst) and must report it, or it is refused.
    if let (Some(v), Some(_)) = (s.sqlite.version, &s.worker) {
        let env = crate::releases::worker_env::worker_env(v, &mut |p| {
            relay.reporter.event(&RunEvent::Prepare(p))
        })?;
        for (k, val) in env {
            command.env.insert(k, val.to_string_lossy().into_owned());
        }
        command.expect_sqlite = Some(v.to_string());
    }
    command.cohorts = cohort::commands(s, &mut |p| relay.reporter.event(&RunEvent::Prepare(p)))?;
    let plan = plan::build(s, req.seed);
    let run_dir = make_run_dir(req)?;
    let db_dir = run_dir.join(DB_DIR);
    std::fs::create_dir_all(&db_dir).map_err(RunError::io("create", &db_dir))?;
    if s.worker.is_some() && s.io.wants_vfs() {
        preload::arm(&mut command, s, req.seed, &run_dir, &db_dir.join(DB_FILE))?;
    }
    let spec = RunSpec {
        walburst_version: env!("CARGO_PKG_VERSION").to_string(),
        sqlite_version: sqlite::sqlite_version().to_string(),
        scenario: s.clone(),
        source: req.source.clone(),
        seed: req.seed,
        mode: req.mode,
        overrides: req.overrides.clone(),
        schedule_hash: plan.schedule_hash.clone(),
        db_path: db_dir.join(DB_FILE),
    };
    report::write_json_atomic(&run_dir.join(RUN_SPEC_FILE), &spec)?;
    let started_at = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    if s.workload.setup == Setup::Runner {
        prepare_db(&spec)?;
    }

    let coordinator = (req.mode == Mode::Lockstep).then(|| make_coordinator(req));
    let mut obs = runner::execute(&spec, &run_dir, command, &plan, coordinator, &mut relay)?;
    let trace = obs
        .lockstep
        .as_mut()
        .map(|l| std::mem::take(&mut l.trace))
        .unwrap_or_default();
    if !trace.is_empty() {
        write_jsonl(&run_dir.join("trace.jsonl"), &trace)?;
    }
    // Power loss: every worker is dead; undo what no sync made durable before anyone
    // (the verification's fresh connection) runs recovery.
    let power_loss = if obs.io.power_lost {
        let tear =
            s.io.device
                .and_then(|d| d.tearing())
                .map(|tearing| vfs::power::Tear {
                    tearing,
                    seed: req.seed,
                });
        Some(vfs::power::apply(
            &run_dir.join(vfs::UNDO_LOG),
            &spec.db_path,
            tear,
        )?)
    } else {
        None
    };
    let injected = tamper::apply(&spec.db_path, s.faults.after_run, req.seed)?;
    let (checks, corruption) = check::run(&spec, &plan, &obs);
    let (totals, latency_ms, per_worker, busy) = observe::summarize(&obs, &plan);
    let judged = judged_scenario(s, &checks);
    let s = &judged;
    let mut v = verdict::judge(s, &obs, &totals, &checks, &corruption);
    v.notes.extend(injected);
    v.notes
        .extend(worker_sqlite_note(&obs.workers, &spec.sqlite_version));
    // Also when a clean scenario's worker reported counters: then it loaded the fault VFS
    // although nothing asked for it, and the report must show that.
    let io = (s.io.wants_vfs() || !obs.io.counters.is_empty()).then(|| {
        let conn = power_loss
            .as_ref()
            .and_then(|_| check::verify::open_for_verify(&spec.db_path).ok());
        let io = durability::io_report(s, &obs, power_loss, conn.as_ref());
        durability::judge_io(s, req.mode == Mode::Lockstep, &io, &mut v);
        check::stale_read::judge(s, req.seed, &obs.records, &mut v);
        io
    });
    let keep = req.keep || v.verdict != verdict::VerdictKind::Pass;
    let app = s
        .worker
        .as_ref()
        .map(|_| report::app::AppSide::of(&obs.workers, &checks, &spec.sqlite_version));
    let mut report = Report {
        schema_version: report::SCHEMA_VERSION,
        walburst_version: spec.walburst_version.clone(),
        sqlite_version: spec.sqlite_version.clone(),
        sqlite_source_id: crate::worker::origin::source_id(),
        sqlite_origin: Some(crate::worker::origin::origin()),
        // The scenario as written (`journal_mode = "app"` stays `app`; the mode judged is
        // in `app.journal_mode` and `checks.app_journal_mode`).
        scenario: req.scenario.clone(),
        scenario_source: req.source.clone(),
        overrides: req.overrides.clone(),
        seed: req.seed,
        mode: spec.mode,
        schedule_hash: plan.schedule_hash.clone(),
        trace_hash: obs.lockstep.as_ref().map(|l| l.trace_hash.clone()),
        content_hash: checks.content_hash.clone(),
        lockstep: obs.lockstep.clone(),
        started_at,
        wall_secs: ((obs.t_end_ns.saturating_sub(obs.t_go_ns)) as f64 / 1e6).round() / 1e3,
        totals,
        latency_ms,
        per_worker,
        busy,
        checks,
        corruption,
        verdict: v.verdict,
        failures: v.failures,
        liveness: v.liveness,
        notes: v.notes,
        workers: obs.workers.clone(),
        kills: obs.kills.clone(),
        io,
        run_dir: keep.then(|| run_dir.clone()),
        app,
        reproduce: match &req.replay {
            // The seed's scheduler would not replay a free run's commit order: the command
            // that reproduces this run is the replay itself.
            Some(Replay::Commits { report, .. }) => {
                format!("walburst replay --lockstep {}", report.display())
            }
            _ => reproduce_command(&req.source, req.seed, req.mode, &req.overrides),
        },
    };
    let times = obs.times();
    if keep {
        keep_evidence(&run_dir, &obs.records, &times, &report)?;
        keep_history(&run_dir, &spec, &plan, &obs.records)?;
    }
    // The report is written before a passing run's directory is removed: evidence is never
    // deleted before its report is safely on disk.
    // A delegated run for a caller that writes no report hands it back instead (delegate).
    let out_dir = req.out_dir.as_ref().filter(|_| !delegate::handback_only());
    let report_path = match out_dir {
        Some(dir) => match report::write(&report, dir) {
            Ok(p) => Some(p),
            Err(e) => {
                let unwritten = report::outputs::ReportUnwritten {
                    out_dir: dir.clone(),
                    run_dir: run_dir.clone(),
                    cause: Chain(&e).to_string(),
                };
                if !keep {
                    report.run_dir = Some(run_dir.clone());
                    keep_evidence(&run_dir, &obs.records, &times, &report)?;
                }
                reporter.event(&RunEvent::ReportUnwritten(&unwritten));
                reporter.event(&RunEvent::Finished {
                    report: &report,
                    path: None,
                });
                return Err(RunError::Unwritten(unwritten));
            }
        },
        None => None,
    };
    // The JSON report is written; the page is drawn from it and can fail only on its own.
    let page = report_path
        .as_deref()
        .and_then(|p| draw_page(&report, &obs.records, &trace, &times, p, reporter));
    reporter.event(&RunEvent::Finished {
        report: &report,
        path: report_path.as_deref(),
    });
    let outcome = RunOutcome {
        report,
        report_path,
        trace,
        records: obs.records,
        page,
    };
    // A delegated run's caller may hold the only copy of the report: it goes back first.
    delegate::hand_back(&outcome)?;
    if !keep {
        std::fs::remove_dir_all(&run_dir)
            .map_err(RunError::io("remove run directory", &run_dir))?;
    }
    Ok(outcome)
}

/// The runner's progress, as events: the ops count, and an external worker's settings at
/// the start barrier (`app_of`: walburst's own SQLite version, beside the app's).
struct Relay<'r> {
    reporter: &'r mut dyn Reporter,
    app_of: Option<&'static str>,
}

impl runner::Progress for Relay<'_> {
    fn barrier(&mut self, workers: &[&observe::WorkerExit]) {
        let Some(own) = self.app_of else {
            return;
        };
        let exits: Vec<_> = workers.iter().map(|w| (*w).clone()).collect();
        let app = report::app::AppSide::of(&exits, &check::Checks::default(), own);
        self.reporter.event(&RunEvent::AppAtBarrier(&app));
    }

    fn ops(&mut self, done: u64, planned: u64) {
        self.reporter.event(&RunEvent::Ops { done, planned });
    }
}

#[cfg(test)]
mod tests {
    use super::judged_scenario;
    use crate::check::{Checks, verify};
    use crate::scenario::{JournalMode, ScenarioSource, parse_str};

    /// `journal_mode = "app"` is judged in the mode the app chose; a mode verification
    /// could not read leaves it `app` (no rule is applied as if it were known).
    #[test]
    fn the_app_mode_is_judged_as_the_mode_the_app_chose() {
        let s = parse_str(
            "name = \"a\"\n[sqlite]\njournal_mode = \"app\"\n[worker]\ncommand = [\"/bin/true\"]\n",
            &ScenarioSource::Embedded("a".into()),
        )
        .unwrap();
        let with = |chosen: &str| Checks {
            app_journal_mode: Some(verify::AppJournalMode {
                chosen: chosen.into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            judged_scenario(&s, &with("wal")).sqlite.journal_mode,
            JournalMode::Wal
        );
        assert_eq!(
            judged_scenario(&s, &with("delete")).sqlite.journal_mode,
            JournalMode::Delete
        );
        assert_eq!(
            judged_scenario(&s, &with("")).sqlite.journal_mode,
            JournalMode::App
        );
        assert_eq!(
            judged_scenario(&s, &Checks::default()).sqlite.journal_mode,
            JournalMode::App
        );
    }
}
