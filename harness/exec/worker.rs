//! The worker process: `walburst worker --run-dir D --worker K`, started by the runner with
//! exec (never fork), rebuilds its share of the plan and runs it on its actors' threads.

use std::io::BufRead;
use std::path::Path;

use super::actor::{self, Actor, Session};
use super::guard::Guard;
use super::protocol::{GO, RunSpec, WorkerMsg};
use super::sink::RecordSink;
use crate::plan;

/// Runs worker `worker` of the run in `run_dir`; returns the process exit code.
pub fn worker_main(run_dir: &Path, worker: u32) -> i32 {
    let sink = RecordSink::stdout();
    let fatal = |message: String| {
        sink.send(&WorkerMsg::Fatal { worker, message }, true);
        4
    };
    let spec = match RunSpec::read(run_dir) {
        Ok(s) => s,
        Err(e) => return fatal(format!("{e:#}")),
    };
    let s = &spec.scenario;
    if worker >= s.workload.workers {
        return fatal(format!(
            "worker {worker} is not in a run of {} workers",
            s.workload.workers
        ));
    }
    let my_plan = plan::worker_plan(s, spec.seed, worker);
    let actors = s.workload.connections_per_worker;
    let early = actor::may_connect_early(&spec);

    let mut sessions: Vec<Option<Session>> = (0..actors).map(|_| None).collect();
    let mut idle = Vec::new();
    if early {
        for slot in sessions.iter_mut() {
            match actor::connect(&spec, actor::Purpose::Writer, &mut Vec::new()) {
                Ok(sess) => *slot = Some(sess),
                Err(e) => {
                    return fatal(format!(
                        "cannot connect before the start barrier: {} ({})",
                        e.message, e.code
                    ));
                }
            }
        }
        match actor::open_idle(&spec, s.workload.idle_connections) {
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
    if !early {
        match actor::open_idle(&spec, s.workload.idle_connections) {
            Ok(c) => idle = c,
            Err(e) => {
                return fatal(format!(
                    "cannot open idle connections: {} ({})",
                    e.message, e.code
                ));
            }
        }
    }

    let guard = Guard::new(s.guard, s.guard_at, &spec.db_path);
    std::thread::scope(|scope| {
        for (a, session) in sessions.into_iter().enumerate() {
            let a = a as u32;
            let ops: Vec<_> = my_plan.actor_ops(a).collect();
            let (spec, guard, sink) = (&spec, guard.clone(), &sink);
            scope.spawn(move || Actor::new(spec, worker, a, guard, sink).run(&ops, session));
        }
    });
    drop(idle);
    sink.send(&WorkerMsg::Done { worker }, true);
    0
}
