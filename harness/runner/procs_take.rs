//! Applying a worker's message, once its contract admitted it, to the processes' state and
//! the run's observations (split from `procs.rs` by job: that file starts, reads and reaps
//! the processes; this one takes in what they said, from stdout or a fault VFS channel).

use std::time::Instant;

use super::Workers;
use crate::observe::{ActorId, KillEvent, Observations};
use crate::protocol::WorkerMsg;
use crate::runner::coordinator::StepEvent;
use crate::runner::violation::ProtocolViolation;

impl Workers {
    /// Applies one message its contract admitted (from stdout or the VFS channel).
    pub(super) fn take(
        &mut self,
        w: u32,
        msg: WorkerMsg,
        obs: &mut Observations,
    ) -> Option<StepEvent> {
        let p = &mut self.procs[w as usize];
        let id = |actor| ActorId { worker: w, actor };
        let progress = match msg {
            WorkerMsg::Hello(_)
            | WorkerMsg::Op(_)
            | WorkerMsg::Did { .. }
            | WorkerMsg::Done { .. } => true,
            // Ready is progress only on the way to the barrier.
            WorkerMsg::Ready { .. } => !p.started(),
            _ => false,
        };
        if progress {
            p.last_heard = Instant::now();
        }
        match msg {
            WorkerMsg::Hello(h) => {
                p.exit.language = Some(h.language);
                p.exit.implementation = Some(h.implementation);
                let mismatch = self
                    .command
                    .for_worker(w)
                    .expect_sqlite
                    .as_ref()
                    .filter(|v| **v != h.sqlite_version)
                    .map(|v| ProtocolViolation::SqliteMismatch {
                        worker: w,
                        runs: h.sqlite_version.clone(),
                        asked: v.to_string(),
                    });
                p.exit.sqlite_version = Some(h.sqlite_version);
                if let Some(v) = mismatch {
                    self.violation(v);
                    return None;
                }
            }
            WorkerMsg::Ready { .. } => p.mark_ready(),
            WorkerMsg::Settings(m) => p.exit.note_settings(m.settings),
            WorkerMsg::Op(mut rec) => {
                p.exit.records += 1;
                rec.error = rec.error.map(|e| e.normalized());
                obs.records.push(*rec);
            }
            WorkerMsg::Done { .. } => p.exit.finished = true,
            WorkerMsg::Fatal { message, .. } => {
                // Whatever it does next, this worker has failed.
                p.exit.fatal = true;
                p.exit.error = Some(message);
            }
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
            WorkerMsg::Want {
                actor,
                action,
                holding,
                ..
            } => {
                return Some(if holding.is_empty() {
                    StepEvent::Want(id(actor), action)
                } else {
                    StepEvent::WantHolding(id(actor), action, holding)
                });
            }
            WorkerMsg::Did { actor, result, .. } => {
                return Some(StepEvent::Did(id(actor), result));
            }
            WorkerMsg::ActorDone { actor, .. } => {
                return Some(StepEvent::ActorDone(id(actor)));
            }
            WorkerMsg::IoFault { fired, .. } => {
                use crate::scenario::{IoAction, KillPoint};
                // A point fires once per run (the first process to reach it claims
                // its marker): another process's second fire is a lie too.
                if obs.io.fired.iter().any(|f| f.point == fired.point) {
                    self.violation(ProtocolViolation::IoRepeated {
                        worker: w,
                        point: fired.point,
                        what: "an io_fault (another process already announced it)",
                    });
                    return None;
                }
                let point = match fired.action {
                    IoAction::Kill => Some(KillPoint::Io),
                    IoAction::PowerLoss => Some(KillPoint::PowerLoss),
                    IoAction::Stop | IoAction::Fail | IoAction::Yield => None,
                };
                if let Some(point) = point {
                    p.dying = Some(KillEvent {
                        worker: w,
                        actor: fired.actor.unwrap_or(0),
                        seq: fired.seq.unwrap_or(0),
                        point,
                        pid: p.exit.pid,
                        respawned: false,
                        skipped: Vec::new(),
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
            // Admitted only on the VFS channel; it says the VFS loaded, no more.
            WorkerMsg::IoHello { .. } => {}
        }
        None
    }
}
