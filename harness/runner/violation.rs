//! How a worker broke the protocol (PROTOCOL.md, "Named failures"), with what it concerns.
//! The runner kills the worker and believes nothing more it says; the report keeps the
//! category ([`ProtocolFailure`]) and this text (`killed_because`).

use crate::observe::ProtocolFailure;
use crate::plan::OpKind;
use crate::scenario::KillPoint;

/// A worker's message (or line) the runner refused; every variant names the worker.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolViolation {
    /// A line on its stdout that is not a protocol message.
    #[error("non-protocol output: {line}")]
    NonProtocolOutput { worker: u32, line: String },
    /// Its `hello` named another protocol version.
    #[error("protocol version mismatch (worker speaks {speaks}, runner {runner})")]
    VersionMismatch {
        worker: u32,
        speaks: u64,
        runner: u32,
    },
    /// Its `hello` named another SQLite than the release the run asked for.
    #[error(
        "SQLite mismatch: the worker runs SQLite {runs}, the run asked for {asked} (its library path did not reach the prepared release: a statically linked SQLite, or a library path the worker resets)"
    )]
    SqliteMismatch {
        worker: u32,
        runs: String,
        asked: String,
    },
    /// A message that names another worker than the one whose pipe it came on.
    #[error("protocol violation: a message for worker {claimed} on worker {worker}'s pipe")]
    WrongPipe { worker: u32, claimed: u32 },
    #[error("protocol violation: a second hello")]
    SecondHello { worker: u32 },
    #[error("protocol violation: the first message was not hello")]
    NoHello { worker: u32 },
    /// An `op` record for a seq it was not given, or one it already reported.
    #[error(
        "protocol violation: an op record for seq {seq} that it was not given or already reported"
    )]
    UnexpectedOp { worker: u32, seq: u32 },
    /// `done` while some of its ops never reported an outcome.
    #[error(
        "protocol violation: done with {unreported} of its ops unreported (first: seq {first})"
    )]
    DoneWithOpsUnreported {
        worker: u32,
        unreported: usize,
        first: u32,
    },
    /// `want`, `did` or `actor_done` in a free run.
    #[error("protocol violation: a lockstep message in a free run")]
    LockstepInFreeRun { worker: u32 },
    /// `dying` for a kill this incarnation was not told to perform (`start.kills`).
    #[error(
        "protocol violation: dying for a kill nobody planned (actor {actor}, seq {seq}, point {})", point.name()
    )]
    UnplannedKill {
        worker: u32,
        actor: u32,
        seq: u32,
        point: KillPoint,
    },
    /// An `io_*` message in a run without `[io]`, or for a point the scenario does not have
    /// (or with another action than the point's).
    #[error("protocol violation: an io message for {} that the scenario does not have", match point { Some(p) => format!("io point {p}"), None => "the fault VFS".to_string() })]
    UnplannedIo { worker: u32, point: Option<u32> },
    /// An `io_fault` for a point that already fired in this run (a point fires once: its
    /// marker file is claimed by the first process to reach it), or an `io_resumed` that is
    /// not the first after this incarnation's own `io_fault` for that point. Without this
    /// rule a worker could grow the runner's lists without bound.
    #[error("protocol violation: {what} for io point {point}, which already fired")]
    IoRepeated {
        worker: u32,
        point: u32,
        what: &'static str,
    },
    /// An op record whose actor or kind is not the plan's for that seq.
    #[error(
        "protocol violation: op seq {seq} reported as actor {actor} {}, planned as actor {planned_actor} {}", kind.name(), planned_kind.name()
    )]
    OpNotAsPlanned {
        worker: u32,
        seq: u32,
        actor: u32,
        kind: OpKind,
        planned_actor: u32,
        planned_kind: OpKind,
    },
    /// An actor reported an op before one it had already reported after.
    #[error("protocol violation: actor {actor} reported seq {seq} after seq {after}")]
    OpOutOfOrder {
        worker: u32,
        actor: u32,
        seq: u32,
        after: u32,
    },
    /// Lockstep: `want` or `actor_done` for an actor the worker does not have.
    #[error("protocol violation: a message for actor {actor}, but the worker has {actors}")]
    NoSuchActor {
        worker: u32,
        actor: u32,
        actors: u32,
    },
    /// Lockstep: `want` or a second `actor_done` from an actor that said `actor_done`.
    #[error("protocol violation: a message from actor {actor} after its actor_done")]
    AfterActorDone { worker: u32, actor: u32 },
    /// Lockstep: `want` from an actor whose granted step has not reported its `did`.
    #[error("protocol violation: want from actor {actor} before the did of its granted step")]
    WantBeforeDid { worker: u32, actor: u32 },
    /// Lockstep: `did` from an actor that was not granted a step.
    #[error("protocol violation: did from actor {actor} without a grant")]
    DidWithoutGrant { worker: u32, actor: u32 },
    /// The fault VFS channel of an external worker carried what does not belong there
    /// (anything but `io_*`, or an `io_*` before its `io_hello`), or its stdout an `io_hello`.
    #[error("protocol violation: {what}")]
    VfsChannel { worker: u32, what: String },
    /// `[io]` asked for the fault VFS in an external worker, and it finished without its VFS
    /// ever saying `io_hello`: the preload did not load (or did not register) in the app.
    #[error(
        "the fault VFS did not load in the worker: no io_hello on its VFS channel before done (LD_PRELOAD removed by the worker command, a statically linked SQLite, or a setup error in its stderr file)"
    )]
    NoVfsHello { worker: u32 },
}

impl ProtocolViolation {
    /// The worker that broke the protocol.
    pub fn worker(&self) -> u32 {
        use ProtocolViolation as V;
        match self {
            V::NonProtocolOutput { worker, .. }
            | V::VersionMismatch { worker, .. }
            | V::SqliteMismatch { worker, .. }
            | V::WrongPipe { worker, .. }
            | V::SecondHello { worker }
            | V::NoHello { worker }
            | V::UnexpectedOp { worker, .. }
            | V::DoneWithOpsUnreported { worker, .. }
            | V::LockstepInFreeRun { worker }
            | V::UnplannedKill { worker, .. }
            | V::UnplannedIo { worker, .. }
            | V::IoRepeated { worker, .. }
            | V::OpNotAsPlanned { worker, .. }
            | V::OpOutOfOrder { worker, .. }
            | V::NoSuchActor { worker, .. }
            | V::WantBeforeDid { worker, .. }
            | V::AfterActorDone { worker, .. }
            | V::VfsChannel { worker, .. }
            | V::NoVfsHello { worker }
            | V::DidWithoutGrant { worker, .. } => *worker,
        }
    }

    /// The report's category for it.
    pub fn failure(&self) -> ProtocolFailure {
        use ProtocolViolation as V;
        match self {
            V::NonProtocolOutput { .. } => ProtocolFailure::NonProtocolOutput,
            V::VersionMismatch { .. } => ProtocolFailure::VersionMismatch,
            V::SqliteMismatch { .. } => ProtocolFailure::SqliteMismatch,
            V::WrongPipe { .. }
            | V::SecondHello { .. }
            | V::NoHello { .. }
            | V::UnexpectedOp { .. }
            | V::DoneWithOpsUnreported { .. }
            | V::LockstepInFreeRun { .. }
            | V::UnplannedKill { .. }
            | V::UnplannedIo { .. }
            | V::IoRepeated { .. }
            | V::OpNotAsPlanned { .. }
            | V::OpOutOfOrder { .. }
            | V::NoSuchActor { .. }
            | V::WantBeforeDid { .. }
            | V::AfterActorDone { .. }
            | V::VfsChannel { .. }
            | V::NoVfsHello { .. }
            | V::DidWithoutGrant { .. } => ProtocolFailure::Violation,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_violation_names_its_worker_and_category() {
        let v = ProtocolViolation::DoneWithOpsUnreported {
            worker: 3,
            unreported: 4,
            first: 4,
        };
        assert_eq!((v.worker(), v.failure()), (3, ProtocolFailure::Violation));
        // PROTOCOL.md's table and the external-worker tests name failures by this text.
        assert_eq!(
            v.to_string(),
            "protocol violation: done with 4 of its ops unreported (first: seq 4)"
        );
        let v = ProtocolViolation::NonProtocolOutput {
            worker: 1,
            line: "hi".into(),
        };
        assert_eq!(
            (v.worker(), v.failure()),
            (1, ProtocolFailure::NonProtocolOutput)
        );
        let v = ProtocolViolation::SqliteMismatch {
            worker: 0,
            runs: "3.45.0".into(),
            asked: "3.50.2".into(),
        };
        assert_eq!(v.failure(), ProtocolFailure::SqliteMismatch);
    }
}
