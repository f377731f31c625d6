//! The runner: starts worker processes, holds them at a start barrier, collects their
//! records, and enforces every deadline. It holds no SQLite connection while workers run.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use super::clock::monotonic_ns;
use super::coordinator::{Coordinator, LockstepOutcome, StepEvent};
use super::gate::ActorId;
use super::protocol::{GO, RunSpec, WorkerMsg};
use super::watch::FileWatch;
use crate::observe::{Observations, WorkerExit};

/// What the runner reports while a run is under way (for progress displays).
pub trait Progress {
    fn started(&mut self, _workers: u32, _planned: u64) {}
    fn ops(&mut self, _done: u64, _planned: u64) {}
}

pub struct NoProgress;
impl Progress for NoProgress {}

enum Event {
    Msg(u32, WorkerMsg),
    Garbage(u32, String),
    Eof(u32),
}

struct Proc {
    child: Child,
    stdin: Option<ChildStdin>,
    exit: WorkerExit,
    eof: bool,
    ready: bool,
    stderr_path: PathBuf,
}

fn spawn_reader(worker: u32, stdout: std::process::ChildStdout, tx: Sender<Event>) {
    std::thread::spawn(move || {
        let reader = BufReader::with_capacity(1 << 16, stdout);
        for line in reader.lines() {
            let Ok(line) = line else { break };
            let ev = match serde_json::from_str::<WorkerMsg>(&line) {
                Ok(m) => Event::Msg(worker, m),
                Err(_) => Event::Garbage(worker, line),
            };
            if tx.send(ev).is_err() {
                return;
            }
        }
        let _ = tx.send(Event::Eof(worker));
    });
}

fn tail(path: &Path, lines: usize) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if all.is_empty() {
        return None;
    }
    Some(all[all.len().saturating_sub(lines)..].join(" | "))
}

/// Runs the workers of `spec` to completion (or to their deadlines).
pub fn execute(
    spec: &RunSpec,
    run_dir: &Path,
    worker_exe: &Path,
    lockstep: Option<Coordinator>,
    progress: &mut dyn Progress,
) -> anyhow::Result<Observations> {
    let s = &spec.scenario;
    let n = s.workload.workers;
    let planned = s.total_ops();
    let db_dir = spec.db_path.parent().expect("db has a directory");
    let watch = FileWatch::start(db_dir)
        .map_err(|e| anyhow::anyhow!("cannot watch {}: {e}", db_dir.display()))?;
    let mut obs = Observations::default();

    let (tx, rx) = mpsc::channel::<Event>();
    let mut procs: Vec<Proc> = Vec::with_capacity(n as usize);
    for w in 0..n {
        let stderr_path = run_dir.join(format!("worker-{w}.stderr"));
        let stderr = File::create(&stderr_path)?;
        let spawned = Command::new(worker_exe)
            .arg("worker")
            .arg("--run-dir")
            .arg(run_dir)
            .arg("--worker")
            .arg(w.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .spawn();
        let mut child = match spawned {
            Ok(c) => c,
            Err(e) => {
                kill_all(&mut procs);
                anyhow::bail!("cannot start worker {w} ({}): {e}", worker_exe.display());
            }
        };
        spawn_reader(w, child.stdout.take().expect("piped"), tx.clone());
        let pid = child.id();
        procs.push(Proc {
            stdin: child.stdin.take(),
            child,
            exit: WorkerExit {
                worker: w,
                pid,
                finished: false,
                exit_code: None,
                signal: None,
                killed_because: None,
                error: None,
                records: 0,
            },
            eof: false,
            ready: false,
            stderr_path,
        });
    }
    drop(tx);
    progress.started(n, planned);

    // Start barrier: every worker connected (where allowed) before any starts writing.
    let start_deadline =
        Instant::now() + Duration::from_secs(u64::from(s.limits.start_timeout_secs));
    while procs.iter().any(|p| !p.ready && !p.eof) {
        match recv_until(&rx, start_deadline) {
            Some(ev) => {
                handle(ev, &mut procs, &mut obs);
            }
            None => break,
        }
    }
    let not_ready: Vec<u32> = procs
        .iter()
        .filter(|p| !p.ready)
        .map(|p| p.exit.worker)
        .collect();
    if !not_ready.is_empty() {
        for p in procs.iter_mut().filter(|p| !p.ready && !p.eof) {
            p.exit.killed_because = Some(format!(
                "did not reach the start barrier within {} s",
                s.limits.start_timeout_secs
            ));
        }
        obs.liveness.push(format!(
            "workers {not_ready:?} did not reach the start barrier; the run was aborted before it started"
        ));
        kill_all(&mut procs);
        drain(
            &rx,
            &mut procs,
            &mut obs,
            Instant::now() + Duration::from_secs(5),
        );
        obs.t_go_ns = monotonic_ns();
        obs.t_end_ns = obs.t_go_ns;
        return Ok(finish(procs, obs, watch));
    }

    obs.t_go_ns = monotonic_ns();
    for p in procs.iter_mut() {
        if let Some(stdin) = p.stdin.as_mut() {
            // A worker that died meanwhile shows up as EOF below; nothing to do here.
            let _ = writeln!(stdin, "{GO}").and_then(|_| stdin.flush());
        }
    }

    let run_deadline = Instant::now() + Duration::from_secs(u64::from(s.limits.run_timeout_secs));
    if let Some(coord) = lockstep {
        let out = coordinate(
            coord,
            spec,
            &rx,
            &mut procs,
            &mut obs,
            run_deadline,
            progress,
        );
        obs.lockstep = Some(out);
    } else {
        collect_free(spec, &rx, &mut procs, &mut obs, run_deadline, progress);
    }
    obs.t_end_ns = monotonic_ns();
    progress.ops(obs.records.len() as u64, planned);
    Ok(finish(procs, obs, watch))
}

fn recv_until(rx: &Receiver<Event>, deadline: Instant) -> Option<Event> {
    let left = deadline.saturating_duration_since(Instant::now());
    match rx.recv_timeout(left) {
        Ok(ev) => Some(ev),
        Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => None,
    }
}

/// Applies one event to the runner's view; lockstep events are handed back.
fn handle(ev: Event, procs: &mut [Proc], obs: &mut Observations) -> Option<StepEvent> {
    match ev {
        Event::Msg(w, msg) => {
            let p = &mut procs[w as usize];
            let id = |actor| ActorId { worker: w, actor };
            match msg {
                WorkerMsg::Ready { .. } => p.ready = true,
                WorkerMsg::Op(rec) => {
                    p.exit.records += 1;
                    obs.records.push(*rec);
                }
                WorkerMsg::Done { .. } => p.exit.finished = true,
                WorkerMsg::Fatal { message, .. } => p.exit.error = Some(message),
                WorkerMsg::Want { actor, action, .. } => {
                    return Some(StepEvent::Want(id(actor), action));
                }
                WorkerMsg::Did { actor, result, .. } => {
                    return Some(StepEvent::Did(id(actor), result));
                }
                WorkerMsg::ActorDone { actor, .. } => return Some(StepEvent::ActorDone(id(actor))),
            }
        }
        Event::Garbage(w, line) => {
            let p = &mut procs[w as usize];
            let mut line = line;
            line.truncate(200);
            p.exit
                .error
                .get_or_insert(format!("unreadable line on its record pipe: {line}"));
        }
        Event::Eof(w) => {
            let p = &mut procs[w as usize];
            p.eof = true;
            p.stdin = None;
            return Some(StepEvent::WorkerGone(w));
        }
    }
    None
}

fn drain(rx: &Receiver<Event>, procs: &mut [Proc], obs: &mut Observations, deadline: Instant) {
    while procs.iter().any(|p| !p.eof) {
        match recv_until(rx, deadline) {
            Some(ev) => {
                handle(ev, procs, obs);
            }
            None => break,
        }
    }
}

fn kill_all(procs: &mut [Proc]) {
    for p in procs.iter_mut() {
        if matches!(p.child.try_wait(), Ok(None)) {
            let _ = p.child.kill();
        }
    }
}

fn finish(mut procs: Vec<Proc>, mut obs: Observations, watch: FileWatch) -> Observations {
    use std::os::unix::process::ExitStatusExt;
    for p in procs.iter_mut() {
        p.stdin = None;
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            match p.child.try_wait() {
                Ok(Some(st)) => break Some(st),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5))
                }
                Ok(None) => {
                    p.exit
                        .killed_because
                        .get_or_insert("did not exit after closing its pipes".into());
                    let _ = p.child.kill();
                    break p.child.wait().ok();
                }
                Err(_) => break None,
            }
        };
        if let Some(st) = status {
            p.exit.exit_code = st.code();
            p.exit.signal = st.signal();
        }
        if !p.exit.finished && p.exit.error.is_none() {
            p.exit.error = tail(&p.stderr_path, 20);
        }
    }
    obs.workers = procs.into_iter().map(|p| p.exit).collect();
    obs.files_seen = watch.finish();
    obs
}

/// Free mode: collect records until every worker has closed its pipe or the deadline passes.
fn collect_free(
    spec: &RunSpec,
    rx: &Receiver<Event>,
    procs: &mut [Proc],
    obs: &mut Observations,
    run_deadline: Instant,
    progress: &mut dyn Progress,
) {
    let s = &spec.scenario;
    let planned = s.total_ops();
    let mut last_progress = Instant::now();
    while procs.iter().any(|p| !p.eof) {
        match recv_until(rx, run_deadline) {
            Some(ev) => {
                handle(ev, procs, obs);
            }
            None => {
                let stuck: Vec<u32> = procs
                    .iter()
                    .filter(|p| !p.eof)
                    .map(|p| p.exit.worker)
                    .collect();
                obs.liveness.push(format!(
                    "run deadline of {} s passed; killed workers {stuck:?}",
                    s.limits.run_timeout_secs
                ));
                for p in procs.iter_mut().filter(|p| !p.eof) {
                    p.exit.killed_because = Some(format!(
                        "still running at the run deadline ({} s) after {} records",
                        s.limits.run_timeout_secs, p.exit.records
                    ));
                }
                kill_all(procs);
                drain(rx, procs, obs, Instant::now() + Duration::from_secs(5));
                break;
            }
        }
        if last_progress.elapsed() >= Duration::from_millis(250) {
            progress.ops(obs.records.len() as u64, planned);
            last_progress = Instant::now();
        }
    }
}

/// Lockstep: grant one step at a time to the actor the scheduler picks, until every actor
/// has finished, the step budget runs out, a step hangs, or the deadline passes.
fn coordinate(
    mut coord: Coordinator,
    spec: &RunSpec,
    rx: &Receiver<Event>,
    procs: &mut [Proc],
    obs: &mut Observations,
    run_deadline: Instant,
    progress: &mut dyn Progress,
) -> LockstepOutcome {
    let s = &spec.scenario;
    let planned = s.total_ops();
    let step_timeout = Duration::from_secs(u64::from(s.lockstep.step_timeout_secs));
    let mut last_progress = Instant::now();
    let stopped = loop {
        let deadline = (Instant::now() + step_timeout).min(run_deadline);
        while !coord.settled() {
            match recv_until(rx, deadline) {
                Some(ev) => {
                    if let Some(step_ev) = handle(ev, procs, obs) {
                        coord.on(step_ev);
                    }
                }
                None => break,
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
                None => format!(
                    "workers did not park for step {} within {} s",
                    coord.out.steps,
                    step_timeout.as_secs()
                ),
            };
            break Some(what);
        }
        if coord.finished() {
            break None;
        }
        match coord.grant() {
            Ok(a) => {
                let p = &mut procs[a.worker as usize];
                if let Some(stdin) = p.stdin.as_mut() {
                    let _ = writeln!(stdin, "grant {}", a.actor).and_then(|_| stdin.flush());
                }
            }
            Err(why) => break Some(why),
        }
        if last_progress.elapsed() >= Duration::from_millis(250) {
            progress.ops(obs.records.len() as u64, planned);
            last_progress = Instant::now();
        }
    };
    if let Some(why) = &stopped {
        obs.liveness.push(format!("lockstep stopped: {why}"));
        for p in procs.iter_mut().filter(|p| !p.eof) {
            p.exit.killed_because = Some(format!("lockstep stopped: {why}"));
        }
        kill_all(procs);
    }
    // Closing stdin ends each worker's grant reader; wait for their pipes to close.
    for p in procs.iter_mut() {
        p.stdin = None;
    }
    drain(rx, procs, obs, Instant::now() + Duration::from_secs(10));
    coord.finish(stopped)
}
