//! The runner's room: the parent process. It starts worker processes, reads and checks
//! what they say (`contract`), grants lockstep steps (`coordinator`, `scheduler`), watches
//! the directory, enforces every deadline and tampers after the run. It never opens a
//! connection while workers run. It may import `protocol`, `workload`, `observe`, `plan`
//! and `scenario`, never `worker`.
//!
//! This file: the run itself. Start the worker processes, hold them at a start barrier,
//! then either collect their records (free mode) or grant them steps (lockstep).

pub mod contract;
pub mod coordinator;
mod event;
pub mod interrupt;
pub mod lifeline;
mod proc;
pub mod procs;
mod reader;
pub mod reap;
pub mod scheduler;
pub mod start_error;
pub mod tamper;
pub mod violation;
pub mod watch;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use self::coordinator::{Coordinator, StepEvent};
use self::procs::{Wait, Workers};
use self::start_error::StartError;
use self::watch::FileWatch;
use crate::error::Chain;
use crate::observe::clock::monotonic_ns;
use crate::observe::invariants::InvariantsDuring;
use crate::observe::lockstep::LockstepOutcome;
use crate::observe::{Observations, RunEvent, RunEventKind};
use crate::plan;
use crate::protocol::RunSpec;
use crate::scenario::WorkerCommand;

/// What the runner reports while a run is under way (for progress displays).
pub trait Progress {
    fn started(&mut self, _workers: u32, _planned: u64) {}
    /// Every worker is at the start barrier (its `hello` and, where it connects early, its
    /// connections' `settings` are in); `go` follows.
    fn barrier(&mut self, _workers: &[&crate::observe::WorkerExit]) {}
    fn ops(&mut self, _done: u64, _planned: u64) {}
}

/// Why a run's workers could not be run at all (as opposed to a run that ran and failed).
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The database directory could not be watched for the files that appear in it.
    #[error("cannot watch {}", dir.display())]
    Watch {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Start(#[from] StartError),
}

pub struct NoProgress;
impl Progress for NoProgress {}

const INTERRUPTED_MSG: &str = "interrupted (SIGINT/SIGTERM): every worker was killed";

/// Runs the workers of `spec` to completion (or to their deadlines).
pub fn execute(
    spec: &RunSpec,
    run_dir: &Path,
    command: WorkerCommand,
    plan: &plan::Plan,
    lockstep: Option<Coordinator>,
    progress: &mut dyn Progress,
) -> Result<Observations, ExecError> {
    let s = &spec.scenario;
    let n = s.workload.workers;
    let db_dir = spec.db_path.parent().expect("db has a directory");
    // Lockstep: the steps recorded so far, kept current for the watch's sightings.
    let steps = Arc::new(AtomicU64::new(0));
    let watch =
        FileWatch::start(db_dir, Arc::clone(&steps)).map_err(|source| ExecError::Watch {
            dir: db_dir.to_path_buf(),
            source,
        })?;
    let mut obs = Observations::default();
    let mut workers = Workers::new(command, spec, run_dir, plan);
    workers.spawn_all(n)?;
    progress.started(n, s.total_ops());

    // Start barrier: every worker connected (where allowed) before any starts writing.
    let start_deadline =
        Instant::now() + Duration::from_secs(u64::from(s.limits.start_timeout_secs));
    while workers.procs.iter().any(|p| !p.ready() && !p.ended()) {
        match workers.next(start_deadline) {
            Wait::Event(ev) => {
                workers.handle(ev, &mut obs);
            }
            Wait::Interrupted => {
                obs.interrupted = true;
                break;
            }
            Wait::TimedOut => break,
        }
    }
    let not_ready: Vec<u32> = workers
        .procs
        .iter()
        .filter(|p| !p.ready())
        .map(|p| p.exit.worker)
        .collect();
    if obs.interrupted || !not_ready.is_empty() {
        if obs.interrupted {
            obs.liveness.push(INTERRUPTED_MSG.into());
        } else {
            for &w in &not_ready {
                workers.kill(
                    w,
                    format!(
                        "did not reach the start barrier within {} s",
                        s.limits.start_timeout_secs
                    ),
                );
            }
            obs.liveness.push(format!(
                "workers {not_ready:?} did not reach the start barrier; the run was aborted before it started"
            ));
        }
        workers.kill_all();
        workers.drain(&mut obs, Instant::now() + Duration::from_secs(5));
        obs.t_go_ns = monotonic_ns();
        obs.t_end_ns = obs.t_go_ns;
        return Ok(finish(workers, obs, watch));
    }

    progress.barrier(&workers.procs.iter().map(|p| &p.exit).collect::<Vec<_>>());
    obs.t_go_ns = monotonic_ns();
    for w in 0..n {
        workers.go(w);
    }
    let run_deadline = Instant::now() + Duration::from_secs(u64::from(s.limits.run_timeout_secs));
    if let Some(coord) = lockstep {
        let out = coordinate(
            coord,
            spec,
            &mut workers,
            &mut obs,
            run_deadline,
            &steps,
            progress,
        );
        obs.lockstep = Some(out);
    } else {
        collect_free(spec, &mut workers, &mut obs, run_deadline, progress);
    }
    obs.t_end_ns = monotonic_ns();
    progress.ops(obs.records.len() as u64, s.total_ops());
    Ok(finish(workers, obs, watch))
}

fn finish(workers: Workers, mut obs: Observations, watch: FileWatch) -> Observations {
    workers.finish(&mut obs);
    match watch.finish() {
        Ok(seen) => {
            // Names there before the barrier opened are not news; the rest are timeline
            // marks.
            let lockstep = obs.lockstep.is_some();
            for (name, s) in seen.iter().filter(|(_, s)| s.t_ns > obs.t_go_ns) {
                obs.events.push(RunEvent {
                    t_ns: s.t_ns,
                    worker: None,
                    kind: RunEventKind::FileAppeared,
                    detail: name.clone(),
                    steps_done: lockstep.then_some(s.steps_done),
                });
            }
            obs.files_seen = seen.into_keys().collect();
        }
        Err(e) => obs.watch_error = Some(e.to_string()),
    }
    obs.events.sort_by_key(|e| e.t_ns);
    obs
}

/// A worker's pipe closed: reap it, and if a seeded kill took it and the scenario says so,
/// start its successor. Returns true when a successor was started. `steps_done` stamps the
/// marks in lockstep.
fn after_exit(
    spec: &RunSpec,
    w: u32,
    workers: &mut Workers,
    obs: &mut Observations,
    steps_done: Option<u64>,
) -> bool {
    let Some(kill) = workers.reap(w) else {
        return false;
    };
    obs.mark(
        Some(w),
        RunEventKind::KillLanded,
        format!("seeded SIGKILL at seq {} ({:?})", kill.seq, kill.point),
        steps_done,
    );
    // After power loss nothing runs again before verification.
    if !spec.scenario.faults.respawn || obs.io.power_lost {
        return false;
    }
    match workers.respawn(w, &kill) {
        Ok(skipped) => {
            if let Some(k) = workers.kills.last_mut() {
                k.respawned = true;
                k.skipped = skipped;
            }
            obs.mark(
                Some(w),
                RunEventKind::Respawned,
                format!("respawned after seq {}", kill.seq),
                steps_done,
            );
            true
        }
        Err(e) => {
            obs.liveness.push(format!(
                "worker {w} could not be respawned after its seeded kill at seq {}: {}",
                kill.seq,
                Chain(&e)
            ));
            false
        }
    }
}

/// Free mode: collect records until every worker has closed its pipe, a worker stalls, or the
/// run deadline passes.
fn collect_free(
    spec: &RunSpec,
    workers: &mut Workers,
    obs: &mut Observations,
    run_deadline: Instant,
    progress: &mut dyn Progress,
) {
    let s = &spec.scenario;
    let planned = s.total_ops();
    let stall = s.limits.stall_timeout(s.sqlite.busy_timeout_ms);
    let mut last_progress = Instant::now();
    while workers.procs.iter().any(|p| !p.ended()) {
        let oldest = workers
            .procs
            .iter()
            .filter(|p| !p.ended() && p.exit.killed_because.is_none())
            .map(|p| p.last_heard)
            .min()
            .unwrap_or_else(Instant::now);
        match workers.next((oldest + stall).min(run_deadline)) {
            Wait::Event(ev) => {
                if let Some(StepEvent::WorkerGone(w)) = workers.handle(ev, obs) {
                    // A successor gets its start signal once it says it is ready.
                    after_exit(spec, w, workers, obs, None);
                }
                if obs.io.power_lost {
                    workers.power_off();
                }
                start_ready_successors(workers);
            }
            Wait::Interrupted => {
                obs.interrupted = true;
                obs.liveness.push(INTERRUPTED_MSG.into());
                workers.kill_all();
                workers.drain(obs, Instant::now() + Duration::from_secs(5));
                break;
            }
            Wait::TimedOut if Instant::now() >= run_deadline => {
                let stuck: Vec<u32> = workers
                    .procs
                    .iter()
                    .filter(|p| !p.ended())
                    .map(|p| p.exit.worker)
                    .collect();
                obs.liveness.push(format!(
                    "run deadline of {} s passed; killed workers {stuck:?}",
                    s.limits.run_timeout_secs
                ));
                for w in stuck {
                    let records = workers.procs[w as usize].exit.records;
                    obs.mark(Some(w), RunEventKind::Killed, "run deadline".into(), None);
                    workers.kill(
                        w,
                        format!(
                            "still running at the run deadline ({} s) after {records} records",
                            s.limits.run_timeout_secs
                        ),
                    );
                }
                workers.drain(obs, Instant::now() + Duration::from_secs(5));
                break;
            }
            Wait::TimedOut => {}
        }
        // Someone has made no progress for the whole stall timeout: it is stuck, however
        // much else it says (checked after every event too, or chatter would hide it).
        if Instant::now() >= oldest + stall {
            kill_stalled(spec, workers, obs, stall);
        }
        if last_progress.elapsed() >= Duration::from_millis(250) {
            progress.ops(obs.records.len() as u64, planned);
            last_progress = Instant::now();
        }
    }
}

/// Kills every live worker that made no progress for `stall`, naming where it is.
fn kill_stalled(spec: &RunSpec, workers: &mut Workers, obs: &mut Observations, stall: Duration) {
    let stalled: Vec<u32> = workers
        .procs
        .iter()
        .filter(|p| {
            !p.ended() && p.exit.killed_because.is_none() && p.last_heard.elapsed() >= stall
        })
        .map(|p| p.exit.worker)
        .collect();
    for w in stalled {
        let why = stalled_where(spec, w, obs, stall);
        obs.liveness
            .push(format!("worker {w} stalled: {why}; it was killed"));
        obs.mark(Some(w), RunEventKind::Stalled, why.clone(), None);
        workers.kill(w, format!("stalled: {why}"));
    }
}

/// Sends the start signal to respawned workers that have just become ready.
fn start_ready_successors(workers: &mut Workers) {
    for w in 0..workers.procs.len() as u32 {
        let p = &mut workers.procs[w as usize];
        if p.ready() && !p.ended() && !p.started() {
            workers.go(w);
        }
    }
}

/// Names where a stalled worker is: its last reported op and the op it is in.
fn stalled_where(spec: &RunSpec, w: u32, obs: &Observations, stall: Duration) -> String {
    let mine: std::collections::BTreeSet<u32> = obs
        .records
        .iter()
        .filter(|r| r.worker == w)
        .map(|r| r.seq)
        .collect();
    let plan = plan::worker_plan(&spec.scenario, spec.seed, w);
    let next = plan.ops.iter().find(|op| !mine.contains(&op.seq));
    let last = mine
        .iter()
        .next_back()
        .map_or("none".to_string(), |s| format!("seq {s}"));
    match next {
        Some(op) => format!(
            "no record for {} s; last reported op {last}, stuck in op seq {} ({})",
            stall.as_secs(),
            op.seq,
            op.kind.name()
        ),
        None => format!(
            "no record for {} s after its last op ({last})",
            stall.as_secs()
        ),
    }
}

/// Handles a lockstep event; an `[io]` point that fires is stamped with the step in flight
/// (`at`), and power loss cuts every worker at once.
fn io_aware_handle(
    ev: self::event::Event,
    workers: &mut Workers,
    obs: &mut Observations,
    at: u64,
) -> Option<StepEvent> {
    let fired_before = obs.io.fired.len();
    let handled = workers.handle(ev, obs);
    for f in &mut obs.io.fired[fired_before..] {
        f.step = Some(at);
    }
    if obs.io.power_lost {
        workers.power_off();
    }
    handled
}

/// Why a run that waited `timeout` for its actors to park is stuck: which actors never
/// asked for their next step (after which step), and, when another actor of the same
/// process is parked, the likely cause: an actor blocked outside any step on a lock of its
/// own process that the parked one holds (PROTOCOL.md, `app_lock`).
fn not_parked(coord: &Coordinator, timeout: Duration) -> String {
    let waiting = coord.unparked();
    let mut names: Vec<String> = waiting
        .iter()
        .take(4)
        .map(|&a| match coord.last_step_of(a) {
            Some(e) => format!(
                "worker {} actor {} (last step {}: {} {})",
                a.worker, a.actor, e.step, e.action, e.result
            ),
            None => format!("worker {} actor {} (no step yet)", a.worker, a.actor),
        })
        .collect();
    if waiting.len() > 4 {
        names.push(format!("{} more", waiting.len() - 4));
    }
    let mut why = format!(
        "workers did not park for step {} within {} s: no step asked by {}",
        coord.out.steps,
        timeout.as_secs(),
        names.join(", ")
    );
    let sibling = waiting
        .iter()
        .find_map(|&a| coord.parked_sibling(a).map(|(s, before)| (a, s, before)));
    if let Some((a, s, before)) = sibling {
        why.push_str(&format!(
            "; worker {} actor {} is parked before {before}: if actor {} waits for a lock of \
             its own process that actor {} holds, make that lock a step (Python adapter: \
             walburst_worker.track_locks, adapters/python/README.md)",
            a.worker, s.actor, a.actor, s.actor
        ));
    }
    why
}

/// Lockstep: grant one step at a time to the actor the scheduler picks, until every actor
/// has finished, the step budget runs out, a step hangs, or the deadline passes. `steps`
/// is kept at the number of steps recorded, for the file watch.
fn coordinate(
    mut coord: Coordinator,
    spec: &RunSpec,
    workers: &mut Workers,
    obs: &mut Observations,
    run_deadline: Instant,
    steps: &AtomicU64,
    progress: &mut dyn Progress,
) -> LockstepOutcome {
    let s = &spec.scenario;
    let planned = s.total_ops();
    let step_timeout = Duration::from_secs(u64::from(s.lockstep.step_timeout_secs));
    let mut last_progress = Instant::now();
    // The app's invariants, read at each quiescent point some step led to (a point with no
    // step since the last one shows the same database).
    let mut during = (!s.invariants.is_empty()).then(InvariantsDuring::default);
    let mut last_point = 0;
    let stopped = 'run: loop {
        let deadline = (Instant::now() + step_timeout).min(run_deadline);
        while !coord.settled() {
            match workers.next(deadline) {
                Wait::Event(ev) => match io_aware_handle(ev, workers, obs, coord.out.steps) {
                    Some(StepEvent::WorkerGone(w)) => {
                        // Seen before anything else is granted: the marks' step is exact.
                        let at = Some(coord.out.steps);
                        if after_exit(spec, w, workers, obs, at) {
                            // Its actors stay live: the successor parks them again, so the
                            // interleaving does not depend on how fast it starts.
                            coord.on(StepEvent::Respawned(w));
                        } else {
                            coord.on(StepEvent::WorkerGone(w));
                        }
                    }
                    Some(step_ev) => coord.on(step_ev),
                    None => start_ready_successors(workers),
                },
                Wait::Interrupted => {
                    obs.interrupted = true;
                    break 'run Some(INTERRUPTED_MSG.to_string());
                }
                Wait::TimedOut => break,
            }
        }
        if !coord.settled() {
            let what = match coord.in_flight() {
                _ if Instant::now() >= run_deadline => format!(
                    "the run deadline of {} s passed at step {}",
                    s.limits.run_timeout_secs, coord.out.steps
                ),
                Some((a, action)) => format!(
                    "worker {} actor {} did not finish step {} ({action}) within {} s",
                    a.worker,
                    a.actor,
                    coord.out.steps,
                    step_timeout.as_secs()
                ),
                None => not_parked(&coord, step_timeout),
            };
            break Some(what);
        }
        if coord.finished() {
            break None;
        }
        if let Some(d) = during.as_mut()
            && coord.quiescent()
            && coord.out.steps > last_point
        {
            last_point = coord.out.steps;
            d.check_at(&spec.db_path, &s.invariants, coord.out.steps);
        }
        steps.store(coord.out.steps, Ordering::Release);
        match coord.grant() {
            Ok(a) => workers.grant(a),
            Err(why) => break Some(why.to_string()),
        }
        if last_progress.elapsed() >= Duration::from_millis(250) {
            progress.ops(obs.records.len() as u64, planned);
            last_progress = Instant::now();
        }
    };
    if let Some(why) = &stopped {
        obs.liveness.push(format!("lockstep stopped: {why}"));
        for w in 0..workers.procs.len() as u32 {
            if !workers.procs[w as usize].ended() {
                obs.mark(
                    Some(w),
                    RunEventKind::Killed,
                    format!("lockstep stopped: {why}"),
                    Some(coord.out.steps),
                );
                workers.kill(w, format!("lockstep stopped: {why}"));
            }
        }
    }
    obs.invariants_during = during;
    // Closing stdin ends each worker's grant reader; wait for their pipes to close.
    workers.close_stdins();
    workers.drain(obs, Instant::now() + Duration::from_secs(10));
    coord.finish(stopped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{Mode, Overrides, ScenarioSource, parse_str};

    #[test]
    fn a_worker_program_that_cannot_start_is_named_with_its_worker() {
        let dir = tempfile::tempdir().unwrap();
        let source = ScenarioSource::Embedded("s".into());
        let scenario = parse_str("name = \"s\"\n[workload]\nworkers = 2\n", &source).unwrap();
        let db_dir = dir.path().join("db");
        std::fs::create_dir(&db_dir).unwrap();
        let spec = RunSpec {
            walburst_version: "0".into(),
            sqlite_version: rusqlite::version().into(),
            scenario: scenario.clone(),
            source,
            seed: 1,
            mode: Mode::Free,
            overrides: Overrides::default(),
            schedule_hash: String::new(),
            db_path: db_dir.join("kanban.db"),
        };
        let program = dir.path().join("no-such-worker");
        let plan = plan::build(&scenario, 1);
        let command = WorkerCommand::builtin(&program);
        match execute(&spec, dir.path(), command, &plan, None, &mut NoProgress) {
            Err(ExecError::Start(StartError::Spawn {
                worker, program: p, ..
            })) => assert_eq!((worker, p), (0, program)),
            other => panic!("expected worker 0's program named, got {:?}", other.err()),
        }
    }
}
