//! The lockstep coordinator's state: who is parked before which step, who holds SQLite's
//! write lock, and the trace with its running hash. Pure: the runner feeds it events from
//! the worker pipes and sends the grants it decides.
//!
//! Invariants (also in PROTOCOL.md, "The coordinator's invariants"):
//! * settled = no step in flight and every live actor parked; only a settled run is granted
//!   a step, so the choice never depends on process speed;
//! * exactly one parked actor is granted, the scheduler's pick; a `did` from an actor that
//!   was not granted is ignored, a second `want` replaces the first;
//! * `begin`+`ok` makes a write-lock holder, a non-blocked `commit`, a `rollback` or a
//!   `close` ends holding; a second simultaneous holder is a breach at that step;
//! * a gone worker's actors leave the run, unless it is respawned: then they stay live and
//!   its successor parks them again.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::gate::ActorId;
use super::scheduler::Scheduler;
use super::step::{StepAction, StepResult};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceEntry {
    pub step: u64,
    pub worker: u32,
    pub actor: u32,
    pub action: StepAction,
    pub result: StepResult,
}

/// Two actors inside BEGIN IMMEDIATE..COMMIT at once, caught at the step where the second
/// BEGIN succeeded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Breach {
    pub step: u64,
    pub actor: ActorId,
    pub holders: Vec<ActorId>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LockstepOutcome {
    pub steps: u64,
    pub trace_hash: String,
    pub breaches: Vec<Breach>,
    /// The step at which a guard first reported corruption.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_guard_report_step: Option<u64>,
    /// Why lockstep stopped early (budget, divergence, a stuck step), if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    #[serde(skip)]
    pub trace: Vec<TraceEntry>,
}

pub enum StepEvent {
    Want(ActorId, StepAction),
    Did(ActorId, StepResult),
    ActorDone(ActorId),
    WorkerGone(u32),
    /// A killed worker's successor is starting: its actors stay live and will park again.
    Respawned(u32),
}

pub struct Coordinator {
    scheduler: Box<dyn Scheduler>,
    live: BTreeSet<ActorId>,
    parked: BTreeMap<ActorId, StepAction>,
    granted: Option<(ActorId, StepAction)>,
    holders: BTreeSet<ActorId>,
    hasher: Sha256,
    budget: u64,
    pub out: LockstepOutcome,
}

impl Coordinator {
    pub fn new(scheduler: Box<dyn Scheduler>, actors: &[ActorId], budget: u64) -> Self {
        Coordinator {
            scheduler,
            live: actors.iter().copied().collect(),
            parked: BTreeMap::new(),
            granted: None,
            holders: BTreeSet::new(),
            hasher: Sha256::new(),
            budget,
            out: LockstepOutcome::default(),
        }
    }

    pub fn on(&mut self, ev: StepEvent) {
        match ev {
            StepEvent::Want(a, action) => {
                self.parked.insert(a, action);
            }
            StepEvent::Did(a, result) => {
                let Some((g, action)) = self.granted.take_if(|(g, _)| *g == a) else {
                    return;
                };
                self.record(g, action, result);
            }
            StepEvent::ActorDone(a) => {
                self.live.remove(&a);
            }
            StepEvent::Respawned(w) => {
                self.parked.retain(|a, _| a.worker != w);
                self.holders.retain(|a| a.worker != w);
                if self.granted.as_ref().is_some_and(|(a, _)| a.worker == w) {
                    self.granted = None;
                }
            }
            StepEvent::WorkerGone(w) => {
                self.live.retain(|a| a.worker != w);
                self.parked.retain(|a, _| a.worker != w);
                self.holders.retain(|a| a.worker != w);
                if self.granted.as_ref().is_some_and(|(a, _)| a.worker == w) {
                    self.granted = None;
                }
            }
        }
    }

    fn record(&mut self, a: ActorId, action: StepAction, result: StepResult) {
        let step = self.out.steps;
        match action {
            StepAction::Begin if result.is_ok() => {
                if !self.holders.is_empty() && !self.holders.contains(&a) {
                    self.out.breaches.push(Breach {
                        step,
                        actor: a,
                        holders: self.holders.iter().copied().collect(),
                    });
                }
                self.holders.insert(a);
            }
            // Any COMMIT that was not turned away ends the transaction (an error leaves it
            // open only when the actor then rolls back, which also ends it).
            StepAction::Commit if !result.is_blocked() => {
                self.holders.remove(&a);
            }
            StepAction::Rollback | StepAction::Close => {
                self.holders.remove(&a);
            }
            StepAction::Guard if result == StepResult::Fired => {
                self.out.first_guard_report_step.get_or_insert(step);
            }
            _ => {}
        }
        self.scheduler.on_result(a, &action, &result);
        let line = format!("{step} {} {} {action} {result}\n", a.worker, a.actor);
        self.hasher.update(line.as_bytes());
        self.out.trace.push(TraceEntry {
            step,
            worker: a.worker,
            actor: a.actor,
            action,
            result,
        });
        self.out.steps += 1;
    }

    /// Every live actor is parked (or gone) and no step is in flight.
    pub fn settled(&self) -> bool {
        self.granted.is_none() && self.live.iter().all(|a| self.parked.contains_key(a))
    }

    pub fn finished(&self) -> bool {
        self.live.is_empty()
    }

    /// Picks the next step once settled; `Err` says why lockstep must stop.
    pub fn grant(&mut self) -> Result<ActorId, String> {
        if self.out.steps >= self.budget {
            return Err(format!(
                "step budget of {} exhausted with {} actors still running (livelock?)",
                self.budget,
                self.live.len()
            ));
        }
        let runnable: Vec<ActorId> = self.parked.keys().copied().collect();
        let Some(a) = self.scheduler.choose(self.out.steps, &runnable) else {
            return Err(format!(
                "the schedule diverged at step {}: the recorded actor is not waiting",
                self.out.steps
            ));
        };
        let action = self.parked.remove(&a).expect("chosen from parked");
        self.granted = Some((a, action));
        Ok(a)
    }

    /// The step now in flight, for watchdog messages.
    pub fn in_flight(&self) -> Option<&(ActorId, StepAction)> {
        self.granted.as_ref()
    }

    pub fn finish(mut self, stopped: Option<String>) -> LockstepOutcome {
        self.out.trace_hash = crate::plan::digest_hex(&self.hasher.finalize_reset());
        self.out.stopped = stopped;
        self.out
    }
}
