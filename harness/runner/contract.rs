//! What one worker incarnation was told, and every message it sends held against it
//! (PROTOCOL.md, "Named failures"). A worker is code under test: the runner believes a
//! message only when the plan allows it. A `dying` nobody planned, an `io_*` message in a run
//! without `[io]`, an op record for another actor or kind than the plan's, an actor's ops out
//! of order, a `did` without a grant, a `want` for an actor that does not exist: each is a
//! [`ProtocolViolation`] that kills the worker and fails the run, never a pass.

use std::collections::{BTreeMap, BTreeSet};

use super::violation::ProtocolViolation;
use crate::plan::OpKind;
use crate::protocol::{StartKill, WorkerMsg, WorkerOp};
use crate::scenario::{IoAction, IoFaults};

/// One incarnation's contract. Pure: the runner feeds it every message of that worker.
#[derive(Debug, Clone)]
pub struct Contract {
    worker: u32,
    lockstep: bool,
    /// Actors `0..actors` exist.
    actors: u32,
    /// Ops handed to this incarnation and not reported yet: seq -> (actor, kind).
    pending: BTreeMap<u32, (u32, OpKind)>,
    /// Seeded kills this incarnation was told to perform and has not announced.
    kills: Vec<StartKill>,
    /// The scenario's `[io]` points (index = `FiredPoint::point`).
    io: IoFaults,
    /// Per actor, the last seq it reported. Invariant: every later report of that actor has
    /// a larger seq.
    last_seq: BTreeMap<u32, u32>,
    /// `[io]` points this incarnation said fired, and those it said resumed: each at most
    /// once (a point fires once per run), so the runner's lists of them stay bounded.
    io_fired: BTreeSet<u32>,
    io_resumed: BTreeSet<u32>,
    /// Lockstep: actors granted a step whose `did` has not come yet.
    granted: BTreeSet<u32>,
    /// Lockstep: actors that said `actor_done` (they park no more steps).
    finished: BTreeSet<u32>,
    /// The worker said `hello`.
    pub hello: bool,
    /// An external worker of an `[io]` scenario: its fault VFS speaks on a channel of its
    /// own ([`Contract::admit_vfs`]) and must say `io_hello` there before the worker's `done`.
    pub vfs_channel: bool,
    /// Its VFS said `io_hello` (one per process of the worker that loaded it).
    vfs_hello: bool,
    /// The worker sent `fatal`: it has failed, whatever it does next.
    pub fatal: bool,
}

impl Contract {
    pub fn new(
        worker: u32,
        lockstep: bool,
        actors: u32,
        ops: &[WorkerOp],
        kills: Vec<StartKill>,
        io: IoFaults,
    ) -> Contract {
        Contract {
            worker,
            lockstep,
            actors,
            pending: ops.iter().map(|op| (op.seq, (op.actor, op.kind))).collect(),
            kills,
            io,
            last_seq: BTreeMap::new(),
            io_fired: BTreeSet::new(),
            io_resumed: BTreeSet::new(),
            granted: BTreeSet::new(),
            finished: BTreeSet::new(),
            hello: false,
            vfs_channel: false,
            vfs_hello: false,
            fatal: false,
        }
    }

    /// Whether `seq` was handed to this incarnation and has not been reported.
    pub fn is_pending(&self, seq: u32) -> bool {
        self.pending.contains_key(&seq)
    }

    /// The runner granted `actor` a step.
    pub fn granted(&mut self, actor: u32) {
        self.granted.insert(actor);
    }

    /// Whether `msg` may come now; on `Ok` the contract has taken it into account.
    pub fn admit(&mut self, msg: &WorkerMsg) -> Result<(), ProtocolViolation> {
        use ProtocolViolation as V;
        let w = self.worker;
        if msg.worker() != w {
            return Err(V::WrongPipe {
                worker: w,
                claimed: msg.worker(),
            });
        }
        match msg {
            WorkerMsg::Hello(_) if self.hello => return Err(V::SecondHello { worker: w }),
            WorkerMsg::Hello(_) => {
                self.hello = true;
                return Ok(());
            }
            _ if !self.hello => return Err(V::NoHello { worker: w }),
            _ => {}
        }
        self.admit_said(msg)
    }

    /// Whether `msg`, on the worker's fault VFS channel, may come now. The channel carries
    /// only the VFS's own messages, `io_hello` first; the VFS speaks from inside the app's
    /// SQLite, so its messages may come before the worker's own `hello` on stdout.
    pub fn admit_vfs(&mut self, msg: &WorkerMsg) -> Result<(), ProtocolViolation> {
        use ProtocolViolation as V;
        let w = self.worker;
        let lie = |what: String| Err(V::VfsChannel { worker: w, what });
        match msg {
            _ if msg.worker() != w => Err(V::WrongPipe {
                worker: w,
                claimed: msg.worker(),
            }),
            _ if !self.vfs_channel => lie("a message on a fault VFS channel nobody opened".into()),
            WorkerMsg::IoHello { .. } => {
                self.vfs_hello = true;
                Ok(())
            }
            WorkerMsg::IoFault { .. }
            | WorkerMsg::IoResumed { .. }
            | WorkerMsg::IoCounters { .. }
                if self.vfs_hello =>
            {
                self.admit_said(msg)
            }
            WorkerMsg::IoFault { .. }
            | WorkerMsg::IoResumed { .. }
            | WorkerMsg::IoCounters { .. } => {
                lie("an io message on the fault VFS channel before its io_hello".into())
            }
            other => lie(format!(
                "a {} message on the fault VFS channel (it carries io_hello, io_fault, io_resumed and io_counters only)",
                serde_json::to_value(other)
                    .ok()
                    .and_then(|v| v.get("msg").and_then(|m| m.as_str()).map(String::from))
                    .unwrap_or_default()
            )),
        }
    }

    /// The rules for a message after the worker's `hello` (or a VFS's `io_hello`).
    fn admit_said(&mut self, msg: &WorkerMsg) -> Result<(), ProtocolViolation> {
        use ProtocolViolation as V;
        let w = self.worker;
        match msg {
            WorkerMsg::Done { .. } if self.vfs_channel && !self.vfs_hello => {
                Err(V::NoVfsHello { worker: w })
            }
            WorkerMsg::IoHello { .. } => Err(V::VfsChannel {
                worker: w,
                what: "an io_hello on the worker's stdout (it belongs on the fault VFS channel)"
                    .into(),
            }),
            WorkerMsg::Op(rec) => self.admit_op(rec.actor, rec.seq, rec.kind),
            WorkerMsg::Done { .. } if !self.pending.is_empty() => Err(V::DoneWithOpsUnreported {
                worker: w,
                unreported: self.pending.len(),
                first: self.pending.keys().next().copied().unwrap_or_default(),
            }),
            WorkerMsg::Fatal { .. } => {
                self.fatal = true;
                Ok(())
            }
            WorkerMsg::Dying {
                actor, seq, point, ..
            } => {
                let planned = StartKill {
                    actor: *actor,
                    seq: *seq,
                    point: *point,
                };
                match self.kills.iter().position(|k| *k == planned) {
                    Some(i) => {
                        self.kills.remove(i);
                        Ok(())
                    }
                    None => Err(V::UnplannedKill {
                        worker: w,
                        actor: *actor,
                        seq: *seq,
                        point: *point,
                    }),
                }
            }
            WorkerMsg::Want { .. } | WorkerMsg::Did { .. } | WorkerMsg::ActorDone { .. }
                if !self.lockstep =>
            {
                Err(V::LockstepInFreeRun { worker: w })
            }
            WorkerMsg::Want { actor, .. } | WorkerMsg::ActorDone { actor, .. }
                if *actor >= self.actors =>
            {
                Err(V::NoSuchActor {
                    worker: w,
                    actor: *actor,
                    actors: self.actors,
                })
            }
            WorkerMsg::Want { actor, .. } | WorkerMsg::ActorDone { actor, .. }
                if self.finished.contains(actor) =>
            {
                Err(V::AfterActorDone {
                    worker: w,
                    actor: *actor,
                })
            }
            WorkerMsg::ActorDone { actor, .. } => {
                self.finished.insert(*actor);
                Ok(())
            }
            WorkerMsg::Want { actor, .. } if self.granted.contains(actor) => {
                Err(V::WantBeforeDid {
                    worker: w,
                    actor: *actor,
                })
            }
            WorkerMsg::Did { actor, .. } if !self.granted.remove(actor) => {
                Err(V::DidWithoutGrant {
                    worker: w,
                    actor: *actor,
                })
            }
            WorkerMsg::IoFault { fired, .. } => {
                self.admit_io(fired.point, Some(fired.action))?;
                if !self.io_fired.insert(fired.point) {
                    return Err(V::IoRepeated {
                        worker: w,
                        point: fired.point,
                        what: "a second io_fault",
                    });
                }
                Ok(())
            }
            WorkerMsg::IoResumed { point, .. } => {
                self.admit_io(*point, Some(IoAction::Stop))?;
                if !self.io_fired.contains(point) || !self.io_resumed.insert(*point) {
                    return Err(V::IoRepeated {
                        worker: w,
                        point: *point,
                        what: "an io_resumed without its own io_fault before it, or a second one",
                    });
                }
                Ok(())
            }
            WorkerMsg::Settings(m) if m.actor.is_some_and(|a| a >= self.actors) => {
                Err(V::NoSuchActor {
                    worker: w,
                    actor: m.actor.unwrap_or_default(),
                    actors: self.actors,
                })
            }
            WorkerMsg::IoCounters { .. } if self.io.is_off() => Err(V::UnplannedIo {
                worker: w,
                point: None,
            }),
            _ => Ok(()),
        }
    }

    fn admit_op(&mut self, actor: u32, seq: u32, kind: OpKind) -> Result<(), ProtocolViolation> {
        use ProtocolViolation as V;
        let w = self.worker;
        let Some(&(planned_actor, planned_kind)) = self.pending.get(&seq) else {
            return Err(V::UnexpectedOp { worker: w, seq });
        };
        if (planned_actor, planned_kind) != (actor, kind) {
            return Err(V::OpNotAsPlanned {
                worker: w,
                seq,
                actor,
                kind,
                planned_actor,
                planned_kind,
            });
        }
        if let Some(&last) = self.last_seq.get(&actor)
            && seq <= last
        {
            return Err(V::OpOutOfOrder {
                worker: w,
                actor,
                seq,
                after: last,
            });
        }
        self.pending.remove(&seq);
        self.last_seq.insert(actor, seq);
        Ok(())
    }

    /// An `io_*` message is believed only for a point the scenario has, with that point's
    /// action (`io_resumed` only for a `stop` point).
    fn admit_io(&self, point: u32, action: Option<IoAction>) -> Result<(), ProtocolViolation> {
        let known = self
            .io
            .points
            .get(point as usize)
            .is_some_and(|p| action.is_none_or(|a| a == p.action));
        if known {
            Ok(())
        } else {
            Err(ProtocolViolation::UnplannedIo {
                worker: self.worker,
                point: Some(point),
            })
        }
    }
}

#[cfg(test)]
#[path = "contract_tests.rs"]
mod tests;
