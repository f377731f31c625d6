//! One worker incarnation as the runner holds it: its process, the pipe to it, what it
//! was told (its contract) and how far it got, as two forward-only state machines.

use std::path::PathBuf;
use std::process::{Child, ChildStdin};
use std::time::Instant;

use super::contract::Contract;
use crate::observe::{KillEvent, WorkerExit};

/// How far an incarnation got towards running its ops; only ever moves forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Progress {
    /// Started as a process; no `ready` yet.
    Spawned,
    /// It said `ready` and waits at the start barrier.
    Ready,
    /// The runner sent it `go`.
    Running,
}

/// Its stdout: read and believed, read but no longer believed (it broke the protocol and
/// was killed), or at its end. Only ever moves forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stream {
    Open,
    Distrusted,
    Closed,
}

pub struct Proc {
    pub(super) child: Child,
    pub stdin: Option<ChildStdin>,
    pub exit: WorkerExit,
    pub(super) progress: Progress,
    pub(super) stream: Stream,
    /// When the worker last made progress (for the stall watchdog): its handshake, an op
    /// record, a lockstep `did`, `done`. Other messages (a repeated `io_counters`, say) do
    /// not keep a stuck worker alive.
    pub last_heard: Instant,
    /// A seeded kill was announced by this incarnation.
    pub dying: Option<KillEvent>,
    /// What this incarnation was told; every message it sends is held against it.
    pub(super) contract: Contract,
    pub(super) stderr_path: PathBuf,
}

impl Proc {
    /// Its stdout has ended (the process is gone or going).
    pub fn ended(&self) -> bool {
        self.stream == Stream::Closed
    }

    /// It reached the start barrier (and may have gone past it).
    pub fn ready(&self) -> bool {
        self.progress >= Progress::Ready
    }

    /// It was sent `go`.
    pub fn started(&self) -> bool {
        self.progress == Progress::Running
    }

    pub(super) fn mark_ready(&mut self) {
        self.progress = self.progress.max(Progress::Ready);
    }

    pub fn mark_started(&mut self) {
        self.progress = Progress::Running;
    }

    pub(super) fn mark_distrusted(&mut self) {
        debug_assert!(
            self.stream != Stream::Closed,
            "a violation after the end of its stdout"
        );
        self.stream = self.stream.max(Stream::Distrusted);
    }

    pub(super) fn mark_ended(&mut self) {
        self.stream = Stream::Closed;
    }
}
