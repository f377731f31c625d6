//! The worker's room: the child process (`walburst worker`). Its actors open their own
//! connections, apply the strategy and guard, pass every SQL action through the gate in
//! lockstep, and send one record per op (`sink`); `vfs/` is the fault VFS it loads for
//! `[io]`. It may import `protocol`, `workload`, `observe`, `plan` and `scenario`, never
//! `runner`.
//!
//! The built-in worker process, `walburst worker`: one implementation of the worker protocol
//! (PROTOCOL.md). Started by the runner with exec (never fork), it reads `start` from stdin
//! and its ops from the ops file the runner wrote, and runs them on its actors' threads.

pub mod actor;
pub mod connect;
pub mod gate;
pub mod guard;
pub mod origin;
pub mod reader;
pub mod sink;
pub mod sqlite;
pub mod stale;
pub mod strategy;
pub mod vfs;
pub mod wal_size;

use std::io::BufRead;

use self::actor::Actor;
use self::connect::{Purpose, Session};
use self::gate::{Gate, LockstepLink};
use self::guard::Guard;
use self::sink::RecordSink;
use crate::error::Chain;
use crate::observe::ActorId;
use crate::protocol::{Hello, PROTOCOL_VERSION, RunnerMsg, Start, WorkerMsg, WorkerOp};
use crate::scenario::LockstepPoints;

/// Exit codes of the built-in worker (PROTOCOL.md).
pub const EXIT_FATAL: i32 = 4;
/// stdin closed before `go`: the run was aborted before it started.
pub const EXIT_NO_GO: i32 = 5;

/// Reads one runner message from stdin; `None` on EOF or a line that is not one.
fn read_msg() -> Option<RunnerMsg> {
    let mut line = String::new();
    match std::io::stdin().lock().read_line(&mut line) {
        Ok(n) if n > 0 => serde_json::from_str(&line).ok(),
        _ => None,
    }
}

/// The worker's ops file (one JSON op per line) cannot be used; sent to the runner as
/// `fatal`.
#[derive(Debug, thiserror::Error)]
enum OpsFileError {
    #[error("cannot read the ops file {}", path.display())]
    Unreadable {
        path: std::path::PathBuf,
        #[source]
        error: std::io::Error,
    },
    #[error("ops file {} line {line}", path.display())]
    BadLine {
        path: std::path::PathBuf,
        line: usize,
        #[source]
        error: serde_json::Error,
    },
}

fn read_ops(start: &Start) -> Result<Vec<WorkerOp>, OpsFileError> {
    let path = &start.ops_path;
    let text = std::fs::read_to_string(path).map_err(|error| OpsFileError::Unreadable {
        path: path.clone(),
        error,
    })?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|error| OpsFileError::BadLine {
                path: path.clone(),
                line: i + 1,
                error,
            })
        })
        .collect()
}

/// Runs the worker whose `start` arrives on stdin; returns the process exit code.
pub fn worker_main() -> i32 {
    let sink = RecordSink::global();
    let start = match read_msg() {
        Some(RunnerMsg::Start(s)) => *s,
        // Not started by a runner that speaks the protocol: nothing to do, nobody to tell.
        _ => return EXIT_NO_GO,
    };
    let worker = start.worker;
    sink.send(
        &WorkerMsg::Hello(Box::new(Hello {
            protocol: u64::from(PROTOCOL_VERSION),
            worker,
            pid: std::process::id(),
            language: "rust".into(),
            implementation: format!("walburst {}", env!("CARGO_PKG_VERSION")),
            sqlite_version: self::sqlite::sqlite_version().into(),
            sqlite_source_id: None,
            app: None,
        })),
        true,
    );
    let fatal = |message: String| {
        sink.send(&WorkerMsg::Fatal { worker, message }, true);
        EXIT_FATAL
    };
    // Workers must run the runner's SQLite (a `--worker-exe` or a mislinked build may not).
    match crate::protocol::RunSpec::read(&start.run_dir) {
        Ok(spec) => {
            // A worker of a `[[sqlite.cohort]]` runs its cohort's release, not the runner's.
            let runs = spec
                .scenario
                .sqlite
                .cohort_release(worker)
                .map_or_else(|| spec.sqlite_version.clone(), |v| v.to_string());
            if let Err(e) = self::origin::check_worker(&runs) {
                return fatal(Chain(&e).to_string());
            }
        }
        Err(e) => return fatal(Chain(&e).to_string()),
    }
    if start.protocol != PROTOCOL_VERSION {
        return fatal(format!(
            "the runner speaks protocol {}, this worker {PROTOCOL_VERSION}",
            start.protocol
        ));
    }
    let shm_points = start.is_lockstep() && start.points == LockstepPoints::Shm;
    if (start.io.wants_vfs() || shm_points)
        && let Err(e) = self::vfs::install(
            &start.io,
            shm_points,
            start.seed,
            &start.db_path,
            &start.run_dir,
            worker,
        )
    {
        return fatal(Chain(&e).to_string());
    }
    let ops = match read_ops(&start) {
        Ok(ops) => ops,
        Err(e) => return fatal(Chain(&e).to_string()),
    };
    let spec = &start;
    let actors = spec.workload.connections_per_worker;
    let ungated = Gate::free(ActorId { worker, actor: 0 });

    let mut sessions: Vec<Option<Session>> = (0..actors).map(|_| None).collect();
    let mut idle = Vec::new();
    if spec.connect_early {
        for slot in sessions.iter_mut() {
            match connect::connect(spec, &ungated, Purpose::Writer, &mut Vec::new()) {
                Ok(sess) => *slot = Some(sess),
                Err(e) => {
                    return fatal(format!(
                        "cannot connect before the start barrier: {} ({})",
                        e.message, e.code
                    ));
                }
            }
        }
        match connect::open_idle(spec, &ungated, spec.workload.idle_connections) {
            Ok(c) => idle = c,
            Err(e) => {
                return fatal(format!(
                    "cannot open idle connections: {} ({})",
                    e.message, e.code
                ));
            }
        }
    }
    sink.send(
        &WorkerMsg::Ready {
            worker,
            pid: Some(std::process::id()),
        },
        true,
    );

    if read_msg() != Some(RunnerMsg::Go) {
        // The runner went away or aborted the run before the barrier opened.
        return EXIT_NO_GO;
    }
    let link = spec.is_lockstep().then(|| LockstepLink::start(actors));
    let gate_for = |a: u32| {
        let id = ActorId { worker, actor: a };
        match &link {
            Some(l) => Gate::lockstep(id, l.clone(), sink),
            None => Gate::free(id),
        }
    };
    // Idle connections opened after the barrier are actor 0's first steps, so that lockstep
    // orders them like everything else.
    let idle_late = if spec.connect_early {
        0
    } else {
        spec.workload.idle_connections
    };

    let guard = Guard::new(spec.guard, spec.guard_at, &spec.db_path);
    let lockstep = spec.is_lockstep();
    // In lockstep, actor 0 closes the idle connections (opened before or after the barrier)
    // as gated steps after its last op; in free mode they stay open until the worker exits.
    let mut idle_early = lockstep.then(|| std::mem::take(&mut idle));
    let (held, panicked): (Vec<Session>, Vec<String>) = std::thread::scope(|scope| {
        let handles: Vec<_> = sessions
            .into_iter()
            .enumerate()
            .map(|(a, session)| {
                let a = a as u32;
                let mine: Vec<&WorkerOp> = ops.iter().filter(|op| op.actor == a).collect();
                let (guard, gate) = (guard.clone(), gate_for(a));
                let kills = spec.kills.clone();
                let mut idle_mine = if a == 0 {
                    idle_early.take().unwrap_or_default()
                } else {
                    Vec::new()
                };
                scope.spawn(move || {
                    let mut held = Vec::new();
                    if a == 0 && idle_late > 0 {
                        match connect::open_idle(spec, &gate, idle_late) {
                            Ok(c) => held = c,
                            Err(e) => sink.send(
                                &WorkerMsg::Fatal {
                                    worker,
                                    message: format!(
                                        "cannot open idle connections: {} ({})",
                                        e.message, e.code
                                    ),
                                },
                                true,
                            ),
                        }
                    }
                    let mut actor = Actor::new(spec, worker, a, guard, sink, gate.clone());
                    actor.kills = kills;
                    actor.run(&mine, session);
                    if lockstep {
                        idle_mine.append(&mut held);
                        for s in idle_mine {
                            connect::close(&gate, s);
                        }
                    }
                    gate.finish();
                    held
                })
            })
            .collect();
        // A panicking actor is a failed worker, never an actor that merely held nothing.
        let mut held = Vec::new();
        let mut panicked = Vec::new();
        for (a, h) in handles.into_iter().enumerate() {
            match h.join() {
                Ok(sessions) => held.extend(sessions),
                Err(p) => panicked.push(format!("actor {a} panicked: {}", panic_text(&p))),
            }
        }
        (held, panicked)
    });
    drop(held);
    if !panicked.is_empty() {
        drop(idle);
        let message = panicked.join("; ");
        sink.send(&WorkerMsg::Fatal { worker, message }, true);
        return EXIT_FATAL;
    }
    drop(idle);
    // Asked of SQLite, not of the scenario: a clean run proves it never loaded the VFS. At
    // `points = "shm"` without `[io]` the VFS is loaded for its pauses alone and counts
    // nothing the runner asked for.
    if self::vfs::registered() && (start.io.wants_vfs() || !shm_points) {
        sink.send(
            &WorkerMsg::IoCounters {
                worker,
                counts: self::vfs::snapshot(),
            },
            false,
        );
    }
    sink.send(&WorkerMsg::Done { worker }, true);
    0
}

/// What a panic carried, as text.
fn panic_text(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_string())
}
