//! Fault points in the worker: which call is the n-th of its kind, what happens there, and
//! what the runner is told. A point fires at most once per run: the first process to reach
//! it claims it by creating a marker file in the run directory (O_EXCL), so a respawned
//! successor, or a second worker reaching its own n-th call, does not fire it again.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rand::RngExt;

use super::{Proceed, phase};
use crate::observe::clock::monotonic_ns;
use crate::protocol::WorkerMsg;
use crate::scenario::{FileKind, IoAction, IoFaults, IoOp, IoPhase, IoPoint, IoWhen};
use crate::worker::sink::RecordSink;

use crate::observe::io::FiredPoint;

/// The occurrence each point fires at: `nth` itself, or drawn from the run's seed.
pub fn resolve_nth(io: &IoFaults, seed: u64) -> Vec<u64> {
    io.points
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let [lo, hi] = p.nth.bounds();
            crate::plan::stream(seed, "io-points", i as u64, 0).random_range(lo..=hi)
        })
        .collect()
}

struct Armed {
    point: IoPoint,
    index: u32,
    nth: u64,
    seen: AtomicU64,
    marker: PathBuf,
}

struct Arming {
    worker: u32,
    wal: PathBuf,
    points: Vec<Armed>,
}

static ARMED: OnceLock<Arming> = OnceLock::new();

pub(super) fn arm(io: &IoFaults, seed: u64, db_path: &Path, run_dir: &Path, worker: u32) {
    let nths = resolve_nth(io, seed);
    let points = io
        .points
        .iter()
        .zip(nths)
        .enumerate()
        .filter(|(_, (p, _))| p.worker.is_none_or(|w| w == worker))
        .map(|(i, (p, nth))| Armed {
            point: p.clone(),
            index: i as u32,
            nth,
            seen: AtomicU64::new(0),
            marker: run_dir.join(format!("io-point-{i}.fired")),
        })
        .collect();
    let mut wal = db_path.as_os_str().to_owned();
    wal.push("-wal");
    let _ = ARMED.set(Arming {
        worker,
        wal: wal.into(),
        points,
    });
}

fn wal_bytes(wal: &Path) -> Option<u64> {
    std::fs::metadata(wal).ok().map(|m| m.len())
}

/// SQLite's I/O error for a call that a `fail` point refuses.
fn error_code(op: IoOp) -> i32 {
    use rusqlite::ffi;
    match op {
        IoOp::Write => ffi::SQLITE_IOERR_WRITE,
        IoOp::Sync => ffi::SQLITE_IOERR_FSYNC,
        IoOp::Truncate => ffi::SQLITE_IOERR_TRUNCATE,
        IoOp::ShmLock => ffi::SQLITE_IOERR_SHMLOCK,
        IoOp::ShmMap => ffi::SQLITE_IOERR_SHMMAP,
        // SQLite ignores xUnfetch's answer; a `fail` point there fails nothing.
        IoOp::Unfetch => ffi::SQLITE_IOERR,
    }
}

thread_local! {
    /// A `when = "after"` point whose occurrence this thread's call is: it fires once the
    /// call has returned ([`after`]). (index in `Arming::points`, in checkpoint)
    static PENDING_AFTER: std::cell::Cell<Option<(usize, bool)>> =
        const { std::cell::Cell::new(None) };
}

pub(super) fn check(kind: FileKind, op: IoOp, in_checkpoint: bool) -> Proceed {
    let Some(arming) = ARMED.get() else {
        return Proceed::Go;
    };
    PENDING_AFTER.set(None);
    for (i, a) in arming.points.iter().enumerate() {
        let p = &a.point;
        if p.file != kind || p.op != op {
            continue;
        }
        let phase_ok = match p.phase {
            IoPhase::Any => true,
            IoPhase::Checkpoint => in_checkpoint,
            IoPhase::OutsideCheckpoint => !in_checkpoint,
        };
        if !phase_ok || a.seen.fetch_add(1, Ordering::Relaxed) + 1 != a.nth {
            continue;
        }
        // Counted here, with the call's other points, so `nth` means the same either way.
        if p.when == IoWhen::After {
            PENDING_AFTER.set(Some((i, in_checkpoint)));
            continue;
        }
        // Claim the point for the whole run; another process got there first otherwise.
        if std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&a.marker)
            .is_err()
        {
            continue;
        }
        return fire(arming, a, in_checkpoint);
    }
    Proceed::Go
}

/// After a write, sync or truncate returned: fires the `when = "after"` point that [`check`]
/// found this call to be the occurrence of, if any (claimed for the run, as there).
pub(super) fn after() {
    let Some((i, in_checkpoint)) = PENDING_AFTER.take() else {
        return;
    };
    let Some(arming) = ARMED.get() else {
        return;
    };
    let a = &arming.points[i];
    if std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&a.marker)
        .is_ok()
    {
        // Kill and power loss never come back.
        let _ = fire(arming, a, in_checkpoint);
    }
}

fn fire(arming: &Arming, a: &Armed, in_checkpoint: bool) -> Proceed {
    let sink = RecordSink::global();
    let op_of = phase::op();
    let fired = FiredPoint {
        point: a.index,
        file: a.point.file,
        op: a.point.op,
        phase: a.point.phase,
        nth: a.nth,
        action: a.point.action,
        worker: arming.worker,
        pid: std::process::id(),
        actor: op_of.map(|o| o.0),
        seq: op_of.map(|o| o.1),
        in_checkpoint,
        step: None,
        t_ns: monotonic_ns(),
        wal_bytes: wal_bytes(&arming.wal),
    };
    sink.send(
        &WorkerMsg::IoFault {
            worker: arming.worker,
            fired: Box::new(fired),
        },
        true,
    );
    match a.point.action {
        IoAction::Kill => {
            let _ = rustix::process::kill_process(
                rustix::process::getpid(),
                rustix::process::Signal::KILL,
            );
            std::process::abort()
        }
        IoAction::PowerLoss => {
            // The machine is off from here: this process never performs the call, and the
            // runner SIGKILLs it with every other worker. Bounded, should the runner be gone.
            std::thread::sleep(Duration::from_secs(600));
            std::process::abort()
        }
        IoAction::Yield => {
            crate::worker::gate::pause_here(a.point.op.name());
            Proceed::Go
        }
        IoAction::Stop => {
            std::thread::sleep(Duration::from_millis(u64::from(a.point.stop_ms)));
            sink.send(
                &WorkerMsg::IoResumed {
                    worker: arming.worker,
                    point: a.index,
                    t_ns: monotonic_ns(),
                    wal_bytes: wal_bytes(&arming.wal),
                },
                true,
            );
            Proceed::Go
        }
        IoAction::Fail => Proceed::Fail(error_code(a.point.op)),
    }
}
