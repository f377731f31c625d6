//! The worker processes of one run: starting (and respawning) them, reading their record
//! pipes through a bounded channel, and reaping them. Nothing here decides when; the runner
//! does.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::time::Instant;

use super::contract::Contract;
use super::coordinator::StepEvent;
use super::reader::{spawn_reader, spawn_vfs_reader};
use super::reap::{tail, wait_bounded};
use super::violation::ProtocolViolation;
use crate::observe::ActorId;
use crate::observe::{KillEvent, Observations, WorkerExit};
use crate::plan::{self, Plan, WorkerPlan};
use crate::protocol::vfs_channel::{CHANNEL_FD, CHANNEL_FD_ENV};
use crate::protocol::{PROTOCOL_VERSION, RunSpec, RunnerMsg, Start, StartKill, WorkerOp};
use crate::scenario::Mode;
use crate::scenario::WorkerCommand;

use super::event::Event;
use super::interrupt::{INTERRUPTED, listen, unlisten};
use super::proc::{Proc, Progress, Stream};
use super::start_error::StartError;

#[path = "procs_take.rs"]
mod take;

/// Lines buffered between reader threads and the runner; a flooding worker blocks on its
/// own pipe instead of growing the runner's memory.
const CHANNEL_DEPTH: usize = 4096;

pub enum Wait {
    Event(Event),
    TimedOut,
    Interrupted,
}

pub struct Workers {
    /// This run's entry among the interrupt listeners, removed on drop.
    listener: u64,
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

impl Drop for Workers {
    fn drop(&mut self) {
        unlisten(self.listener);
    }
}

unsafe extern "C" {
    fn dup2(old: std::ffi::c_int, new: std::ffi::c_int) -> std::ffi::c_int;
}

impl Workers {
    /// Whether each worker gets a fault VFS channel: an external worker (whose stdout is its
    /// adapter's) of a scenario whose `[io]` loads the VFS.
    fn vfs_channel(&self) -> bool {
        self.spec.scenario.worker.is_some() && self.spec.scenario.io.wants_vfs()
    }

    pub fn new(command: WorkerCommand, spec: &RunSpec, run_dir: &Path, plan: &Plan) -> Workers {
        let (tx, rx) = mpsc::sync_channel(CHANNEL_DEPTH);
        let listener = listen(tx.clone());
        Workers {
            listener,
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
    fn start(&self, w: u32, first: &BTreeMap<u32, u32>) -> Result<Proc, StartError> {
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
        if let Err(source) = write_ops(&ops_path, &ops) {
            return Err(StartError::OpsFile {
                worker: w,
                path: ops_path,
                source,
            });
        }
        let contract = Contract::new(
            w,
            self.spec.mode == Mode::Lockstep,
            self.spec.scenario.workload.connections_per_worker,
            &ops,
            kills.clone(),
            self.spec.scenario.io.clone(),
        );
        let start = Start::new(&self.spec, &self.run_dir, w, incarnation, ops_path, kills);

        let stderr = match File::create(&stderr_path) {
            Ok(f) => f,
            Err(source) => {
                return Err(StartError::Stderr {
                    worker: w,
                    path: stderr_path,
                    source,
                });
            }
        };
        // An external worker of an `[io]` scenario: its preloaded fault VFS speaks on a pipe
        // of its own, placed at a fixed descriptor in the worker only.
        let vfs = self.vfs_channel();
        let channel = match vfs.then(std::io::pipe).transpose() {
            Ok(c) => c,
            Err(source) => return Err(StartError::VfsChannel { worker: w, source }),
        };
        let mut contract = contract;
        contract.vfs_channel = vfs;
        let c = self.command.for_worker(w);
        let mut cmd = Command::new(&c.program);
        if let Some((_, writer)) = &channel {
            use std::os::fd::AsRawFd;
            let fd = writer.as_raw_fd();
            cmd.env(CHANNEL_FD_ENV, CHANNEL_FD.to_string());
            // SAFETY: dup2 is async-signal-safe; it runs in the child between fork and exec.
            // The copy at CHANNEL_FD has no close-on-exec flag; the original keeps its own.
            unsafe {
                std::os::unix::process::CommandExt::pre_exec(&mut cmd, move || {
                    if dup2(fd, CHANNEL_FD) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        cmd.args(&c.args)
            .current_dir(c.cwd.as_deref().unwrap_or(&self.run_dir))
            .env("WALBURST_PROTOCOL", PROTOCOL_VERSION.to_string())
            .env("WALBURST_RUN_DIR", &self.run_dir)
            .env("WALBURST_WORKER", w.to_string())
            .envs(&c.env);
        super::lifeline::die_with_parent(&mut cmd, rustix::process::Signal::KILL);
        // A process group of its own: children it leaves behind are found and killed.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .spawn()
            .map_err(|source| StartError::Spawn {
                worker: w,
                program: c.program.clone(),
                source,
            })?;
        let vfs_done = channel.map(|(reader, writer)| {
            // Only the worker holds the write end now: the channel ends when it does.
            drop(writer);
            let (done_tx, done_rx) = mpsc::sync_channel(1);
            spawn_vfs_reader(w, reader, self.tx.clone(), done_tx);
            done_rx
        });
        spawn_reader(
            w,
            child.stdout.take().expect("piped"),
            self.tx.clone(),
            vfs_done,
        );
        let pid = child.id();
        let mut stdin = child.stdin.take();
        // The runner never blocks on a worker: a worker that stops reading fills its pipe,
        // and the write that would wait fails instead (`send`), which kills it by name.
        if let Some(s) = &stdin {
            let _ = rustix::fs::fcntl_setfl(s, rustix::fs::OFlags::NONBLOCK);
        }
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
                never_started: false,
                children_outlived: Vec::new(),
                fatal: false,
                records: 0,
                protocol_failure: None,
                language: None,
                implementation: None,
                sqlite_version: None,
                settings: Vec::new(),
                settings_reports: 0,
            },
            progress: Progress::Spawned,
            stream: Stream::Open,
            last_heard: Instant::now(),
            dying: None,
            contract,
            stderr_path,
        })
    }

    /// Starts workers 0..n; on a failure, kills the ones already started.
    pub fn spawn_all(&mut self, n: u32) -> Result<(), StartError> {
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
    /// schedule after the first op the dead incarnation was given and had not reported (that
    /// one was in flight: ambiguous, settled by probing). The successor learns where to resume
    /// only from the ops file written for it. Returns the seqs it skips (one per actor that
    /// had ops left): never reported by anyone.
    ///
    /// The resume point comes from what the dead incarnation was handed (`pending`), never
    /// from the plan alone: an actor that reported nothing in its incarnation (starved by its
    /// sibling, or killed early) was in flight at the first op *it was given*, which after an
    /// earlier respawn is not the actor's first planned op. Exact because the built-in worker
    /// announces its death holding its record stream (`RecordSink::last_words`): every
    /// sibling has at most one op past its last report.
    pub fn respawn(&mut self, w: u32, kill: &KillEvent) -> Result<Vec<u32>, StartError> {
        let plan = &self.plans[w as usize];
        let contract = &self.procs[w as usize].contract;
        let mut first: BTreeMap<u32, u32> = BTreeMap::new();
        let actors: BTreeSet<u32> = plan.ops.iter().map(|op| op.actor).collect();
        for a in actors {
            let in_flight = plan
                .actor_ops(a)
                .map(|op| op.seq)
                .find(|s| contract.is_pending(*s));
            first.insert(a, in_flight.map_or(u32::MAX, |s| s + 1));
        }
        // The actor that died knows exactly where: its successor starts right after. (A
        // preloaded fault VFS in an external worker does not know the app's op: its kill
        // names no pending op, and the in-flight rule above places every actor.)
        if contract.is_pending(kill.seq) {
            first.insert(kill.actor, kill.seq + 1);
        }
        // The ops the successor skips (one per actor that had ops left): never reported.
        let skipped: Vec<u32> = first
            .values()
            .filter(|&&s| s != u32::MAX)
            .map(|s| s - 1)
            .collect();
        let successor = self.start(w, &first)?;
        let old = std::mem::replace(&mut self.procs[w as usize], successor);
        // Keep the record count and what the app's connections ran with across incarnations.
        self.procs[w as usize].exit.records = old.exit.records;
        self.procs[w as usize].exit.settings = old.exit.settings;
        self.procs[w as usize].exit.settings_reports = old.exit.settings_reports;
        Ok(skipped)
    }

    /// Waits for the next event until `deadline`. Sleeps on the channel alone: worker
    /// output, pipe ends and interrupts (`super::interrupt::interrupt`) all arrive there.
    pub fn next(&self, deadline: Instant) -> Wait {
        loop {
            if INTERRUPTED.load(Ordering::SeqCst) {
                return Wait::Interrupted;
            }
            // Whatever has already arrived comes first, even past a deadline: a deadline
            // must never hide the exit of the worker it was about.
            let ev = match self.rx.try_recv() {
                Ok(ev) => ev,
                Err(_) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Wait::TimedOut;
                    }
                    match self.rx.recv_timeout(left) {
                        Ok(ev) => ev,
                        Err(RecvTimeoutError::Timeout) => return Wait::TimedOut,
                        Err(RecvTimeoutError::Disconnected) => return Wait::TimedOut,
                    }
                }
            };
            match ev {
                // The flag is checked at the top of the loop.
                Event::Interrupt => continue,
                ev => return Wait::Event(ev),
            }
        }
    }

    /// Applies one event to the processes' state; lockstep events are handed back.
    pub fn handle(&mut self, ev: Event, obs: &mut Observations) -> Option<StepEvent> {
        match ev {
            // `next` never hands it out; the flag it stands for is checked there.
            Event::Interrupt => {}
            Event::Msg(w, msg) => {
                let p = &mut self.procs[w as usize];
                if p.stream == Stream::Distrusted {
                    return None;
                }
                if let Err(v) = p.contract.admit(&msg) {
                    self.violation(v);
                    return None;
                }
                return self.take(w, msg, obs);
            }
            Event::Vfs(w, msg) => {
                let p = &mut self.procs[w as usize];
                if p.stream == Stream::Distrusted {
                    return None;
                }
                if let Err(v) = p.contract.admit_vfs(&msg) {
                    self.violation(v);
                    return None;
                }
                return self.take(w, msg, obs);
            }
            Event::Garbage(worker, line) => {
                self.violation(ProtocolViolation::NonProtocolOutput { worker, line });
            }
            Event::WrongVersion(worker, speaks) => {
                self.violation(ProtocolViolation::VersionMismatch {
                    worker,
                    speaks,
                    runner: PROTOCOL_VERSION,
                });
            }
            Event::Eof(w) => {
                let p = &mut self.procs[w as usize];
                p.mark_ended();
                p.stdin = None;
                return Some(StepEvent::WorkerGone(w));
            }
        }
        None
    }

    /// The worker broke the protocol: name why, kill it, and believe nothing more it says.
    pub(super) fn violation(&mut self, v: ProtocolViolation) {
        let p = &mut self.procs[v.worker() as usize];
        p.mark_distrusted();
        p.exit.protocol_failure.get_or_insert(v.failure());
        p.exit.killed_because.get_or_insert_with(|| v.to_string());
        let _ = p.child.kill();
    }

    /// Sends the start signal (also to a respawned worker once it is ready).
    pub fn go(&mut self, w: u32) {
        let p = &mut self.procs[w as usize];
        p.mark_started();
        if !send(&mut p.stdin, &RunnerMsg::Go) {
            self.kill(w, STOPPED_READING.into());
        }
    }

    pub fn grant(&mut self, a: ActorId) {
        let p = &mut self.procs[a.worker as usize];
        p.contract.granted(a.actor);
        if !send(&mut p.stdin, &RunnerMsg::Grant { actor: a.actor }) {
            self.kill(a.worker, STOPPED_READING.into());
        }
    }

    pub fn close_stdins(&mut self) {
        for p in self.procs.iter_mut() {
            p.stdin = None;
        }
    }

    /// Handles events until every worker's pipe is closed or `deadline` passes.
    pub fn drain(&mut self, obs: &mut Observations, deadline: Instant) {
        while self.procs.iter().any(|p| !p.ended()) {
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
                    skipped: Vec::new(),
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
            let w = p.exit.worker;
            // A respawned worker's first incarnation ran (kills land only after `go`).
            p.exit.never_started = !p.started() && !self.kills.iter().any(|k| k.worker == w);
            p.stdin = None;
            wait_bounded(&mut p.child, &mut p.exit);
            // A worker the runner cut in a power loss (announced as a kill) whose pipe's end
            // the run no longer read (the last step had run): that kill, not a crash.
            if p.exit.signal == Some(9)
                && let Some(ev) = p.dying.take()
            {
                self.kills.push(ev);
            }
            if !p.exit.finished && p.exit.error.is_none() {
                p.exit.error = tail(&p.stderr_path, 20);
            }
        }
        obs.workers = std::mem::take(&mut self.procs)
            .into_iter()
            .map(|p| p.exit)
            .collect();
        obs.kills = std::mem::take(&mut self.kills);
    }
}

/// Why the runner killed a worker whose stdin pipe was full.
const STOPPED_READING: &str = "stopped reading its stdin (the pipe to it is full)";

/// Writes one runner message without ever waiting (the pipe is non-blocking); `false` when
/// the worker's pipe is full: it stopped reading. A worker that died meanwhile shows up as
/// EOF, so a broken pipe is not reported here.
fn send(stdin: &mut Option<ChildStdin>, msg: &RunnerMsg) -> bool {
    let Some(stdin) = stdin.as_mut() else {
        return true;
    };
    let mut line = serde_json::to_vec(msg).expect("runner messages serialize");
    line.push(b'\n');
    match stdin.write_all(&line).and_then(|_| stdin.flush()) {
        Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
        Ok(()) => true,
    }
}

fn write_ops(path: &Path, ops: &[WorkerOp]) -> std::io::Result<()> {
    let mut w = std::io::BufWriter::new(File::create(path)?);
    for op in ops {
        serde_json::to_writer(&mut w, op)?;
        w.write_all(b"\n")?;
    }
    w.flush()?;
    Ok(())
}
