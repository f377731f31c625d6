//! The verdict on how the run went (liveness): how each worker ended, and whether every
//! planned op reported an outcome. Safety, the data, is judged in `verdict.rs`.

use super::*;

/// Workers that did not finish their schedule and exit 0, except seeded kills that were
/// the plan. A worker that sent `fatal` has failed, whatever it did next.
pub(super) fn judge_worker_exits(j: &mut Judgement, obs: &Observations) {
    for w in &obs.workers {
        if w.fatal {
            let msg = w.error.as_deref().unwrap_or_default();
            j.live(
                Detector::WorkerExit,
                format!(
                    "worker {} (pid {}) sent fatal: {msg} (it reported {} ops, whatever it did next does not count)",
                    w.worker, w.pid, w.records
                ),
            );
            continue;
        }
        if !w.children_outlived.is_empty() {
            j.live(
                Detector::WorkerExit,
                format!(
                    "worker {} (pid {}) left {} process(es) of its own running after it exited (pids {:?}); the runner killed them",
                    w.worker,
                    w.pid,
                    w.children_outlived.len(),
                    w.children_outlived
                ),
            );
        }
        if w.finished && w.exit_code == Some(0) {
            continue;
        }
        // A seeded kill that was not followed by a successor is the plan, not a failure.
        let planned_death = w.signal == Some(9)
            && obs
                .kills
                .iter()
                .any(|k| k.worker == w.worker && k.pid == w.pid && !k.respawned);
        if planned_death {
            continue;
        }
        let how = match (&w.killed_because, w.exit_code, w.signal) {
            (Some(why), _, _) => format!("killed by the runner: {why}"),
            (None, _, Some(sig)) => format!("died from signal {sig}"),
            (None, Some(code), _) if !w.finished => {
                format!("exited with code {code} before finishing its schedule")
            }
            (None, Some(code), _) => format!("exited with code {code}"),
            (None, None, None) => "ended in an unknown way".to_string(),
        };
        let err = w
            .error
            .as_deref()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default();
        let detector = if w.protocol_failure.is_some() {
            Detector::WorkerProtocol
        } else {
            Detector::WorkerExit
        };
        j.live(
            detector,
            format!(
                "worker {} (pid {}) {how} after {} ops{err}",
                w.worker, w.pid, w.records
            ),
        );
    }
}

/// Every planned op reports an outcome, except exactly the ops seeded kills took.
pub(super) fn judge_op_count(j: &mut Judgement, checks: &Checks, totals: &Totals) {
    // A crashed or hung worker already explains its missing ops.
    if j.liveness.is_empty() && checks.ops.unreported > 0 {
        j.live(
            Detector::OpCount,
            format!(
                "{} of {} expected ops never reported an outcome ({} planned, the rest taken by seeded kills): {}",
                checks.ops.unreported,
                checks.ops.expected,
                totals.planned,
                checks.ops.examples.join(", ")
            ),
        );
    }
}
