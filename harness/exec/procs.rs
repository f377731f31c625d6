//! The worker processes of one run: starting (and respawning) them, reading their record
//! pipes through a bounded channel, and reaping them. Nothing here decides when; the runner
//! does.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::time::{Duration, Instant};

use super::coordinator::StepEvent;
use super::gate::ActorId;
use super::protocol::{GO, WorkerMsg};
use crate::observe::{KillEvent, Observations, WorkerExit};

/// A record line longer than this is a runaway worker, not a record.
const MAX_LINE: usize = 1 << 20;
/// Lines buffered between reader threads and the runner; a flooding worker blocks on its
/// own pipe instead of growing the runner's memory.
const CHANNEL_DEPTH: usize = 4096;

/// Set by SIGINT/SIGTERM; every wait of the runner checks it.
pub static INTERRUPTED: AtomicBool = AtomicBool::new(false);

pub enum Event {
    Msg(u32, WorkerMsg),
    Garbage(u32, String),
    Eof(u32),
}

pub enum Wait {
    Event(Event),
    TimedOut,
    Interrupted,
}

pub struct Proc {
    child: Child,
    pub stdin: Option<ChildStdin>,
    pub exit: WorkerExit,
    pub eof: bool,
    pub ready: bool,
    /// The start signal was sent.
    pub started: bool,
    /// When the worker last said anything (for the stall watchdog).
    pub last_heard: Instant,
    /// A seeded kill was announced by this incarnation.
    pub dying: Option<KillEvent>,
    stderr_path: PathBuf,
}

pub struct Workers {
    pub procs: Vec<Proc>,
    rx: Receiver<Event>,
    tx: SyncSender<Event>,
    exe: PathBuf,
    run_dir: PathBuf,
    pub kills: Vec<KillEvent>,
}

fn spawn_reader(worker: u32, stdout: std::process::ChildStdout, tx: SyncSender<Event>) {
    std::thread::spawn(move || {
        let mut reader = BufReader::with_capacity(1 << 16, stdout);
        let mut line = Vec::new();
        loop {
            line.clear();
            let n = match (&mut reader)
                .take(MAX_LINE as u64 + 1)
                .read_until(b'\n', &mut line)
            {
                Ok(n) => n,
                Err(_) => break,
            };
            if n == 0 {
                break;
            }
            let ev = if line.len() > MAX_LINE {
                Event::Garbage(worker, format!("a line of more than {MAX_LINE} bytes"))
            } else {
                match serde_json::from_slice::<WorkerMsg>(&line) {
                    Ok(m) => Event::Msg(worker, m),
                    Err(_) => Event::Garbage(
                        worker,
                        String::from_utf8_lossy(&line).chars().take(200).collect(),
                    ),
                }
            };
            let garbage = matches!(ev, Event::Garbage(..));
            if tx.send(ev).is_err() || garbage {
                // The runner stopped listening, or the worker is talking nonsense: stop
                // reading (it will be killed) rather than follow a runaway stream.
                break;
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

impl Workers {
    pub fn new(exe: &Path, run_dir: &Path) -> Workers {
        let (tx, rx) = mpsc::sync_channel(CHANNEL_DEPTH);
        Workers {
            procs: Vec::new(),
            rx,
            tx,
            exe: exe.to_path_buf(),
            run_dir: run_dir.to_path_buf(),
            kills: Vec::new(),
        }
    }

    fn start(&self, w: u32, resume: Option<&Path>) -> anyhow::Result<Proc> {
        let incarnation = self.kills.iter().filter(|k| k.worker == w).count();
        let stderr_path = self.run_dir.join(if incarnation == 0 {
            format!("worker-{w}.stderr")
        } else {
            format!("worker-{w}.{incarnation}.stderr")
        });
        let stderr = File::create(&stderr_path)?;
        let mut cmd = Command::new(&self.exe);
        cmd.arg("worker")
            .arg("--run-dir")
            .arg(&self.run_dir)
            .arg("--worker")
            .arg(w.to_string());
        if let Some(r) = resume {
            cmd.arg("--resume").arg(r);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .spawn()
            .map_err(|e| {
                anyhow::anyhow!("cannot start worker {w} ({}): {e}", self.exe.display())
            })?;
        spawn_reader(w, child.stdout.take().expect("piped"), self.tx.clone());
        let pid = child.id();
        Ok(Proc {
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
            started: false,
            last_heard: Instant::now(),
            dying: None,
            stderr_path,
        })
    }

    /// Starts workers 0..n; on a failure, kills the ones already started.
    pub fn spawn_all(&mut self, n: u32) -> anyhow::Result<()> {
        for w in 0..n {
            match self.start(w, None) {
                Ok(p) => self.procs.push(p),
                Err(e) => {
                    self.kill_all();
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Starts a new process for worker `w` after its seeded kill, continuing each actor's
    /// schedule after the first op it had not reported (that one was in flight: ambiguous).
    pub fn respawn(
        &mut self,
        w: u32,
        kill: &KillEvent,
        obs: &Observations,
        plan: &crate::plan::WorkerPlan,
    ) -> anyhow::Result<()> {
        // Per actor: the op after its highest reported one was in flight (or not yet
        // started) when the process died; it is skipped (ambiguous) and the successor starts
        // at the op after it. Earlier gaps are ops skipped by previous kills.
        let done: std::collections::BTreeSet<u32> = obs
            .records
            .iter()
            .filter(|r| r.worker == w)
            .map(|r| r.seq)
            .collect();
        let mut first: std::collections::BTreeMap<u32, u32> = std::collections::BTreeMap::new();
        let actors: std::collections::BTreeSet<u32> = plan.ops.iter().map(|op| op.actor).collect();
        for a in actors {
            let mine: Vec<u32> = plan
                .ops
                .iter()
                .filter(|op| op.actor == a)
                .map(|op| op.seq)
                .collect();
            let highest_done = mine.iter().rposition(|s| done.contains(s));
            let in_flight = match highest_done {
                Some(i) => mine.get(i + 1),
                None => mine.first(),
            };
            first.insert(a, in_flight.map_or(u32::MAX, |s| s + 1));
        }
        // The actor that died knows exactly where: its successor starts right after.
        first.insert(kill.actor, kill.seq + 1);
        let n = self.kills.iter().filter(|k| k.worker == w).count();
        let path = self.run_dir.join(format!("resume-{w}.{n}.json"));
        std::fs::write(&path, serde_json::to_vec(&first)?)?;
        let successor = self.start(w, Some(&path))?;
        let old = std::mem::replace(&mut self.procs[w as usize], successor);
        // Keep the record count across incarnations.
        self.procs[w as usize].exit.records = old.exit.records;
        Ok(())
    }

    /// Waits for the next event until `deadline`, waking every 100 ms to notice interrupts.
    pub fn next(&self, deadline: Instant) -> Wait {
        loop {
            if INTERRUPTED.load(Ordering::SeqCst) {
                return Wait::Interrupted;
            }
            // Whatever has already arrived comes first, even past a deadline: a deadline
            // must never hide the exit of the worker it was about.
            if let Ok(ev) = self.rx.try_recv() {
                return Wait::Event(ev);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Wait::TimedOut;
            }
            match self.rx.recv_timeout(left.min(Duration::from_millis(100))) {
                Ok(ev) => return Wait::Event(ev),
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => return Wait::TimedOut,
            }
        }
    }

    /// Applies one event to the processes' state; lockstep events are handed back.
    pub fn handle(&mut self, ev: Event, obs: &mut Observations) -> Option<StepEvent> {
        match ev {
            Event::Msg(w, msg) => {
                let p = &mut self.procs[w as usize];
                p.last_heard = Instant::now();
                let id = |actor| ActorId { worker: w, actor };
                match msg {
                    WorkerMsg::Ready { .. } => p.ready = true,
                    WorkerMsg::Op(rec) => {
                        p.exit.records += 1;
                        obs.records.push(*rec);
                    }
                    WorkerMsg::Done { .. } => p.exit.finished = true,
                    WorkerMsg::Fatal { message, .. } => p.exit.error = Some(message),
                    WorkerMsg::Dying {
                        actor, seq, point, ..
                    } => {
                        p.dying = Some(KillEvent {
                            worker: w,
                            actor,
                            seq,
                            point,
                            pid: p.exit.pid,
                            respawned: false,
                        })
                    }
                    WorkerMsg::Want { actor, action, .. } => {
                        return Some(StepEvent::Want(id(actor), action));
                    }
                    WorkerMsg::Did { actor, result, .. } => {
                        return Some(StepEvent::Did(id(actor), result));
                    }
                    WorkerMsg::ActorDone { actor, .. } => {
                        return Some(StepEvent::ActorDone(id(actor)));
                    }
                    WorkerMsg::IoFault { fired, .. } => {
                        use crate::scenario::{IoAction, KillPoint};
                        let point = match fired.action {
                            IoAction::Kill => Some(KillPoint::Io),
                            IoAction::PowerLoss => Some(KillPoint::PowerLoss),
                            IoAction::Stop | IoAction::Fail => None,
                        };
                        if let Some(point) = point {
                            p.dying = Some(KillEvent {
                                worker: w,
                                actor: fired.actor.unwrap_or(0),
                                seq: fired.seq.unwrap_or(0),
                                point,
                                pid: p.exit.pid,
                                respawned: false,
                            });
                        }
                        obs.io.power_lost |= fired.action == IoAction::PowerLoss;
                        obs.io.fired.push(*fired);
                    }
                    WorkerMsg::IoResumed {
                        point,
                        t_ns,
                        wal_bytes,
                        ..
                    } => obs.io.resumed.push((w, point, t_ns, wal_bytes)),
                    WorkerMsg::IoCounters { counts, .. } => {
                        obs.io.counters.entry(w).or_default().add(&counts);
                    }
                }
            }
            Event::Garbage(w, line) => {
                let p = &mut self.procs[w as usize];
                p.exit
                    .error
                    .get_or_insert(format!("unreadable output on its record pipe: {line}"));
                p.exit
                    .killed_because
                    .get_or_insert("wrote something other than records".into());
                let _ = p.child.kill();
            }
            Event::Eof(w) => {
                let p = &mut self.procs[w as usize];
                p.eof = true;
                p.stdin = None;
                return Some(StepEvent::WorkerGone(w));
            }
        }
        None
    }

    /// Sends the start signal (also to a respawned worker once it is ready).
    pub fn go(&mut self, w: u32) {
        self.procs[w as usize].started = true;
        if let Some(stdin) = self.procs[w as usize].stdin.as_mut() {
            // A worker that died meanwhile shows up as EOF; nothing to do here.
            let _ = writeln!(stdin, "{GO}").and_then(|_| stdin.flush());
        }
    }

    pub fn grant(&mut self, a: ActorId) {
        if let Some(stdin) = self.procs[a.worker as usize].stdin.as_mut() {
            let _ = writeln!(stdin, "grant {}", a.actor).and_then(|_| stdin.flush());
        }
    }

    pub fn close_stdins(&mut self) {
        for p in self.procs.iter_mut() {
            p.stdin = None;
        }
    }

    /// Handles events until every worker's pipe is closed or `deadline` passes.
    pub fn drain(&mut self, obs: &mut Observations, deadline: Instant) {
        while self.procs.iter().any(|p| !p.eof) {
            match self.next(deadline) {
                Wait::Event(ev) => {
                    self.handle(ev, obs);
                }
                Wait::TimedOut | Wait::Interrupted => break,
            }
        }
    }

    pub fn kill(&mut self, w: u32, because: String) {
        let p = &mut self.procs[w as usize];
        if matches!(p.child.try_wait(), Ok(None)) {
            p.exit.killed_because.get_or_insert(because);
            let _ = p.child.kill();
        }
    }

    /// Power loss: every live worker dies at once, as planned (announced as a kill, so that
    /// the verdict does not count it as a crash and nothing is respawned).
    pub fn power_off(&mut self) {
        for p in self.procs.iter_mut() {
            if matches!(p.child.try_wait(), Ok(None)) {
                p.dying.get_or_insert(KillEvent {
                    worker: p.exit.worker,
                    actor: 0,
                    // With one connection, the op it was in (the one after its last record).
                    seq: p.exit.records as u32,
                    point: crate::scenario::KillPoint::PowerLoss,
                    pid: p.exit.pid,
                    respawned: false,
                });
                let _ = p.child.kill();
            }
        }
    }

    pub fn kill_all(&mut self) {
        for p in self.procs.iter_mut() {
            if matches!(p.child.try_wait(), Ok(None)) {
                let _ = p.child.kill();
            }
        }
    }

    /// Reaps a worker whose pipe closed: records its exit, and says whether it died of a
    /// seeded kill (which it announced).
    pub fn reap(&mut self, w: u32) -> Option<KillEvent> {
        let p = &mut self.procs[w as usize];
        let status = wait_bounded(&mut p.child, &mut p.exit);
        let killed_by_seed = status.is_some_and(|st| {
            use std::os::unix::process::ExitStatusExt;
            st.signal() == Some(9)
        });
        let ev = p.dying.take().filter(|_| killed_by_seed)?;
        self.kills.push(ev.clone());
        Some(ev)
    }

    /// Waits for every process (killing stragglers) and fills in their exits.
    pub fn finish(mut self, obs: &mut Observations) {
        for p in self.procs.iter_mut() {
            p.stdin = None;
            wait_bounded(&mut p.child, &mut p.exit);
            if !p.exit.finished && p.exit.error.is_none() {
                p.exit.error = tail(&p.stderr_path, 20);
            }
        }
        obs.workers = self.procs.into_iter().map(|p| p.exit).collect();
        obs.kills = self.kills;
    }
}

fn wait_bounded(child: &mut Child, exit: &mut WorkerExit) -> Option<std::process::ExitStatus> {
    use std::os::unix::process::ExitStatusExt;
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break Some(st),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(2)),
            Ok(None) => {
                exit.killed_because
                    .get_or_insert("did not exit after closing its pipes".into());
                let _ = child.kill();
                break child.wait().ok();
            }
            Err(_) => break None,
        }
    };
    if let Some(st) = status {
        exit.exit_code = st.code();
        exit.signal = st.signal();
    }
    status
}
