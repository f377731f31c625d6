//! The worker processes of one run: starting (and respawning) them, reading their record
//! pipes through a bounded channel, and reaping them. Nothing here decides when; the runner
//! does.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::time::{Duration, Instant};

use super::coordinator::StepEvent;
use super::gate::ActorId;
use super::protocol::{
    PROTOCOL_VERSION, RunSpec, RunnerMsg, Start, StartKill, WorkerMsg, WorkerOp, hello_version,
};
use crate::observe::{KillEvent, Observations, ProtocolFailure, WorkerExit};
use crate::plan::{self, Plan, WorkerPlan};
use crate::scenario::Mode;
pub use crate::scenario::WorkerCommand;

/// A record line longer than this is a runaway worker, not a record.
const MAX_LINE: usize = 1 << 20;
/// Lines buffered between reader threads and the runner; a flooding worker blocks on its
/// own pipe instead of growing the runner's memory.
const CHANNEL_DEPTH: usize = 4096;

/// Set by SIGINT/SIGTERM; every wait of the runner checks it.
pub static INTERRUPTED: AtomicBool = AtomicBool::new(false);

pub enum Event {
    Msg(u32, WorkerMsg),
    /// A line that is not a protocol message.
    Garbage(u32, String),
    /// A `hello` of another protocol version.
    WrongVersion(u32, u64),
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
    /// The worker said `hello` (in the protocol's version).
    pub hello: bool,
    /// The worker broke the protocol and was killed: its further lines are not believed.
    pub violated: bool,
    /// Seqs handed to this incarnation that it has not reported yet.
    pending: BTreeSet<u32>,
    stderr_path: PathBuf,
}

pub struct Workers {
    pub procs: Vec<Proc>,
    rx: Receiver<Event>,
    tx: SyncSender<Event>,
    command: WorkerCommand,
    spec: RunSpec,
    run_dir: PathBuf,
    plans: Vec<WorkerPlan>,
    planned_kills: Vec<plan::Kill>,
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
                match hello_version(&line) {
                    Some(v) if v != u64::from(PROTOCOL_VERSION) => Event::WrongVersion(worker, v),
                    _ => match serde_json::from_slice::<WorkerMsg>(&line) {
                        Ok(m) => Event::Msg(worker, m),
                        Err(e) => Event::Garbage(worker, describe_garbage(&line, &e)),
                    },
                }
            };
            let garbage = matches!(ev, Event::Garbage(..) | Event::WrongVersion(..));
            if tx.send(ev).is_err() || garbage {
                // The runner stopped listening, or the worker is talking nonsense: stop
                // reading (it will be killed) rather than follow a runaway stream.
                break;
            }
        }
        let _ = tx.send(Event::Eof(worker));
    });
}

/// The start of a line that is not a protocol message; for a JSON object that names a
/// message type, also what is wrong with it (a missing field, an unknown type), so that an
/// adapter's author sees why.
fn describe_garbage(line: &[u8], e: &serde_json::Error) -> String {
    let text: String = String::from_utf8_lossy(line)
        .trim_end()
        .chars()
        .take(200)
        .collect();
    let names_msg = serde_json::from_slice::<serde_json::Value>(line)
        .is_ok_and(|v| v.get("msg").is_some_and(serde_json::Value::is_string));
    if names_msg {
        format!("{text} ({e})")
    } else {
        text
    }
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
    pub fn new(command: WorkerCommand, spec: &RunSpec, run_dir: &Path, plan: &Plan) -> Workers {
        let (tx, rx) = mpsc::sync_channel(CHANNEL_DEPTH);
        Workers {
            procs: Vec::new(),
            rx,
            tx,
            command,
            spec: spec.clone(),
            run_dir: run_dir.to_path_buf(),
            plans: plan.workers.clone(),
            planned_kills: plan::kills(&spec.scenario, spec.seed),
            kills: Vec::new(),
        }
    }

    /// Writes the ops file of worker `w`'s incarnation `n` and starts the process with its
    /// `start` line. `first` gives, per actor, the first seq it must still run.
    fn start(&self, w: u32, first: &BTreeMap<u32, u32>) -> anyhow::Result<Proc> {
        let incarnation = self.kills.iter().filter(|k| k.worker == w).count() as u32;
        let stderr_path = self.run_dir.join(if incarnation == 0 {
            format!("worker-{w}.stderr")
        } else {
            format!("worker-{w}.{incarnation}.stderr")
        });
        let seed = self.spec.seed;
        let ops: Vec<WorkerOp> = self.plans[w as usize]
            .ops
            .iter()
            .filter(|op| op.seq >= first.get(&op.actor).copied().unwrap_or(0))
            .map(|op| WorkerOp::from_plan(seed, w, op))
            .collect();
        let pending: BTreeSet<u32> = ops.iter().map(|op| op.seq).collect();
        let kills: Vec<StartKill> = self
            .planned_kills
            .iter()
            .filter(|k| k.worker == w && pending.contains(&k.seq))
            .map(|k| StartKill {
                actor: ops
                    .iter()
                    .find(|op| op.seq == k.seq)
                    .map_or(0, |op| op.actor),
                seq: k.seq,
                point: k.point,
            })
            .collect();
        let ops_path = self.run_dir.join(format!("ops-{w}.{incarnation}.jsonl"));
        write_ops(&ops_path, &ops)?;
        let start = Start::new(&self.spec, &self.run_dir, w, incarnation, ops_path, kills);

        let stderr = File::create(&stderr_path)?;
        let c = &self.command;
        let mut cmd = Command::new(&c.program);
        cmd.args(&c.args)
            .current_dir(c.cwd.as_deref().unwrap_or(&self.run_dir))
            .env("WALBURST_PROTOCOL", PROTOCOL_VERSION.to_string())
            .env("WALBURST_RUN_DIR", &self.run_dir)
            .env("WALBURST_WORKER", w.to_string())
            .envs(&c.env);
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .spawn()
            .map_err(|e| {
                anyhow::anyhow!("cannot start worker {w} ({}): {e}", c.program.display())
            })?;
        spawn_reader(w, child.stdout.take().expect("piped"), self.tx.clone());
        let pid = child.id();
        let mut stdin = child.stdin.take();
        // A worker that died at once shows up as EOF on its stdout; nothing to do here.
        send(&mut stdin, &RunnerMsg::Start(Box::new(start)));
        Ok(Proc {
            stdin,
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
                protocol_failure: None,
                language: None,
                implementation: None,
                sqlite_version: None,
            },
            eof: false,
            ready: false,
            started: false,
            last_heard: Instant::now(),
            dying: None,
            hello: false,
            violated: false,
            pending,
            stderr_path,
        })
    }

    /// Starts workers 0..n; on a failure, kills the ones already started.
    pub fn spawn_all(&mut self, n: u32) -> anyhow::Result<()> {
        for w in 0..n {
            match self.start(w, &BTreeMap::new()) {
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
    /// The successor learns where to resume only from the ops file written for it. Returns
    /// the seqs it skips (one per actor that had ops left): never reported by anyone.
    pub fn respawn(
        &mut self,
        w: u32,
        kill: &KillEvent,
        obs: &Observations,
    ) -> anyhow::Result<Vec<u32>> {
        let plan = &self.plans[w as usize];
        // Per actor: the op after its highest reported one was in flight (or not yet
        // started) when the process died; it is skipped (ambiguous) and the successor starts
        // at the op after it. Earlier gaps are ops skipped by previous kills.
        let done: BTreeSet<u32> = obs
            .records
            .iter()
            .filter(|r| r.worker == w)
            .map(|r| r.seq)
            .collect();
        let mut first: BTreeMap<u32, u32> = BTreeMap::new();
        let actors: BTreeSet<u32> = plan.ops.iter().map(|op| op.actor).collect();
        for a in actors {
            let mine: Vec<u32> = plan.actor_ops(a).map(|op| op.seq).collect();
            let highest_done = mine.iter().rposition(|s| done.contains(s));
            let in_flight = match highest_done {
                Some(i) => mine.get(i + 1),
                None => mine.first(),
            };
            first.insert(a, in_flight.map_or(u32::MAX, |s| s + 1));
        }
        // The actor that died knows exactly where: its successor starts right after.
        first.insert(kill.actor, kill.seq + 1);
        // The ops the successor skips (one per actor that had ops left): never reported.
        let skipped: Vec<u32> = first
            .values()
            .filter(|&&s| s != u32::MAX)
            .map(|s| s - 1)
            .collect();
        let successor = self.start(w, &first)?;
        let old = std::mem::replace(&mut self.procs[w as usize], successor);
        // Keep the record count across incarnations.
        self.procs[w as usize].exit.records = old.exit.records;
        Ok(skipped)
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
                let lockstep = self.spec.mode == Mode::Lockstep;
                let p = &mut self.procs[w as usize];
                if p.violated {
                    return None;
                }
                p.last_heard = Instant::now();
                if let Err(why) = p.admit(w, &msg, lockstep) {
                    self.violation(
                        w,
                        ProtocolFailure::Violation,
                        format!("protocol violation: {why}"),
                    );
                    return None;
                }
                let id = |actor| ActorId { worker: w, actor };
                match msg {
                    WorkerMsg::Hello(h) => {
                        p.hello = true;
                        p.exit.language = Some(h.language);
                        p.exit.implementation = Some(h.implementation);
                        p.exit.sqlite_version = Some(h.sqlite_version);
                    }
                    WorkerMsg::Ready { .. } => p.ready = true,
                    WorkerMsg::Op(mut rec) => {
                        p.exit.records += 1;
                        rec.error = rec.error.map(|e| e.normalized());
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
                            skipped: Vec::new(),
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
                }
            }
            Event::Garbage(w, line) => {
                self.violation(
                    w,
                    ProtocolFailure::NonProtocolOutput,
                    format!("non-protocol output: {line}"),
                );
            }
            Event::WrongVersion(w, v) => {
                self.violation(
                    w,
                    ProtocolFailure::VersionMismatch,
                    format!(
                        "protocol version mismatch (worker speaks {v}, runner {PROTOCOL_VERSION})"
                    ),
                );
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

    /// The worker broke the protocol: name why, kill it, and believe nothing more it says.
    fn violation(&mut self, w: u32, what: ProtocolFailure, why: String) {
        let p = &mut self.procs[w as usize];
        p.violated = true;
        p.exit.protocol_failure.get_or_insert(what);
        p.exit.killed_because.get_or_insert(why);
        let _ = p.child.kill();
    }

    /// Sends the start signal (also to a respawned worker once it is ready).
    pub fn go(&mut self, w: u32) {
        let p = &mut self.procs[w as usize];
        p.started = true;
        send(&mut p.stdin, &RunnerMsg::Go);
    }

    pub fn grant(&mut self, a: ActorId) {
        let p = &mut self.procs[a.worker as usize];
        send(&mut p.stdin, &RunnerMsg::Grant { actor: a.actor });
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

impl Proc {
    /// Whether `msg` may come now from worker `w` (PROTOCOL.md, "Named failures").
    fn admit(&mut self, w: u32, msg: &WorkerMsg, lockstep: bool) -> Result<(), String> {
        if msg.worker() != w {
            return Err(format!(
                "a message for worker {} on worker {w}'s pipe",
                msg.worker()
            ));
        }
        match msg {
            WorkerMsg::Hello(_) if self.hello => Err("a second hello".into()),
            WorkerMsg::Hello(_) => Ok(()),
            _ if !self.hello => Err("the first message was not hello".into()),
            WorkerMsg::Op(rec) if !self.pending.remove(&rec.seq) => Err(format!(
                "an op record for seq {} that it was not given or already reported",
                rec.seq
            )),
            WorkerMsg::Done { .. } if !self.pending.is_empty() => Err(format!(
                "done with {} of its ops unreported (first: seq {})",
                self.pending.len(),
                self.pending.first().copied().unwrap_or_default()
            )),
            WorkerMsg::Want { .. } | WorkerMsg::Did { .. } | WorkerMsg::ActorDone { .. }
                if !lockstep =>
            {
                Err("a lockstep message in a free run".into())
            }
            _ => Ok(()),
        }
    }
}

/// Writes one runner message; a worker that died meanwhile shows up as EOF, so a failed
/// write is not an error here.
fn send(stdin: &mut Option<ChildStdin>, msg: &RunnerMsg) {
    if let Some(stdin) = stdin.as_mut() {
        let mut line = serde_json::to_vec(msg).expect("runner messages serialize");
        line.push(b'\n');
        let _ = stdin.write_all(&line).and_then(|_| stdin.flush());
    }
}

fn write_ops(path: &Path, ops: &[WorkerOp]) -> anyhow::Result<()> {
    let mut w = std::io::BufWriter::new(File::create(path)?);
    for op in ops {
        serde_json::to_writer(&mut w, op)?;
        w.write_all(b"\n")?;
    }
    w.flush()?;
    Ok(())
}

fn wait_bounded(child: &mut Child, exit: &mut WorkerExit) -> Option<std::process::ExitStatus> {
    use std::os::unix::process::ExitStatusExt;
    let status = match wait_exit(child, Duration::from_secs(10)) {
        Ok(Some(st)) => Some(st),
        Ok(None) => {
            exit.killed_because
                .get_or_insert("did not exit after closing its pipes".into());
            let _ = child.kill();
            child.wait().ok()
        }
        Err(_) => None,
    };
    if let Some(st) = status {
        exit.exit_code = st.code();
        exit.signal = st.signal();
    }
    status
}

/// Waits up to `limit` for `child` to exit, sleeping on a pidfd (woken by the exit itself,
/// not by a polling interval); `Ok(None)` when it is still running at the deadline.
fn wait_exit(
    child: &mut Child,
    limit: Duration,
) -> std::io::Result<Option<std::process::ExitStatus>> {
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    use rustix::process::{Pid, PidfdFlags, pidfd_open};
    if let Some(st) = child.try_wait()? {
        return Ok(Some(st));
    }
    let pid = Pid::from_raw(child.id() as i32).expect("a child's pid is positive");
    // The child is unreaped, so its pid cannot have been reused: the pidfd names it.
    let pidfd = pidfd_open(pid, PidfdFlags::empty())?;
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let timeout = Timespec::try_from(left).unwrap_or(Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        });
        let mut fds = [PollFd::new(&pidfd, PollFlags::IN)];
        match poll(&mut fds, Some(&timeout)) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
        if let Some(st) = child.try_wait()? {
            return Ok(Some(st));
        }
        if left.is_zero() {
            return Ok(None);
        }
    }
}
