//! The worker process: `walburst worker --run-dir D --worker K`, started by the runner with
//! exec (never fork), rebuilds its share of the plan and runs it on its actors' threads.

use std::io::BufRead;
use std::path::Path;

use super::actor::{self, Actor, Purpose, Session};
use super::gate::{ActorId, Gate, LockstepLink};
use super::guard::Guard;
use super::protocol::{GO, RunSpec, WorkerMsg};
use super::sink::RecordSink;
use crate::plan;

/// Runs worker `worker` of the run in `run_dir`; returns the process exit code.
pub fn worker_main(run_dir: &Path, worker: u32, resume: Option<&Path>) -> i32 {
    let sink = RecordSink::global();
    let fatal = |message: String| {
        sink.send(&WorkerMsg::Fatal { worker, message }, true);
        4
    };
    let spec = match RunSpec::read(run_dir) {
        Ok(s) => s,
        Err(e) => return fatal(format!("{e:#}")),
    };
    // Workers must run the runner's SQLite (a `--worker-exe` or a mislinked build may not).
    if let Err(e) = crate::releases::delegate::check_worker(&spec.sqlite_version) {
        return fatal(e);
    }
    let s = &spec.scenario;
    if worker >= s.workload.workers {
        return fatal(format!(
            "worker {worker} is not in a run of {} workers",
            s.workload.workers
        ));
    }
    let mut my_plan = plan::worker_plan(s, spec.seed, worker);
    // A respawned worker continues its schedule after the ops its predecessor reached.
    if let Some(path) = resume {
        let first: std::collections::BTreeMap<u32, u32> = match std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
        {
            Ok(m) => m,
            Err(e) => return fatal(format!("cannot read resume file {}: {e}", path.display())),
        };
        my_plan
            .ops
            .retain(|op| op.seq >= first.get(&op.actor).copied().unwrap_or(0));
    }
    let my_kills: Vec<plan::Kill> = plan::kills(s, spec.seed)
        .into_iter()
        .filter(|k| k.worker == worker)
        .collect();
    let actors = s.workload.connections_per_worker;
    let early = actor::may_connect_early(&spec);
    let lockstep = actor::is_lockstep(&spec);
    let ungated = Gate::free(ActorId { worker, actor: 0 });

    let mut sessions: Vec<Option<Session>> = (0..actors).map(|_| None).collect();
    let mut idle = Vec::new();
    if early {
        for slot in sessions.iter_mut() {
            match actor::connect(&spec, &ungated, Purpose::Writer, &mut Vec::new()) {
                Ok(sess) => *slot = Some(sess),
                Err(e) => {
                    return fatal(format!(
                        "cannot connect before the start barrier: {} ({})",
                        e.message, e.code
                    ));
                }
            }
        }
        match actor::open_idle(&spec, &ungated, s.workload.idle_connections) {
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
            pid: std::process::id(),
        },
        true,
    );

    let mut line = String::new();
    match std::io::stdin().lock().read_line(&mut line) {
        Ok(n) if n > 0 && line.trim() == GO => {}
        // The runner went away or aborted the run before the barrier opened.
        _ => return 5,
    }
    let link = lockstep.then(|| LockstepLink::start(actors));
    let gate_for = |a: u32| {
        let id = ActorId { worker, actor: a };
        match &link {
            Some(l) => Gate::lockstep(id, l.clone(), sink),
            None => Gate::free(id),
        }
    };
    // Idle connections opened after the barrier are actor 0's first steps, so that lockstep
    // orders them like everything else.
    let idle_late = if early {
        0
    } else {
        s.workload.idle_connections
    };

    let guard = Guard::new(s.guard, s.guard_at, &spec.db_path);
    let held: Vec<Session> = std::thread::scope(|scope| {
        let handles: Vec<_> = sessions
            .into_iter()
            .enumerate()
            .map(|(a, session)| {
                let a = a as u32;
                let ops: Vec<_> = my_plan.actor_ops(a).collect();
                let (spec, guard, gate) = (&spec, guard.clone(), gate_for(a));
                let kills = my_kills.clone();
                scope.spawn(move || {
                    let mut held = Vec::new();
                    if a == 0 && idle_late > 0 {
                        match actor::open_idle(spec, &gate, idle_late) {
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
                    actor.run(&ops, session);
                    gate.finish();
                    held
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    drop(held);
    drop(idle);
    sink.send(&WorkerMsg::Done { worker }, true);
    0
}
