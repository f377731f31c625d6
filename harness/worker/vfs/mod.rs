//! The fault VFS: SQLite's unix VFS wrapped (through `rusqlite::ffi`) so that a worker can
//! count its I/O per file kind, and stop, fail or die at an exact I/O call (`[io]` points),
//! or take part in a simulated power loss (an undo log of every unsynced write).
//!
//! Registered only in workers of scenarios with an `[io]` table; every other run opens its
//! connections through SQLite's own VFS, untouched. An external worker gets it through
//! `preload` (the `walburst-vfs` library in `LD_PRELOAD`), registered as the default VFS of
//! the app's own `libsqlite3.so.0`.

mod counters;
pub mod frozen;
mod points;
pub mod power;
pub mod preload;
mod shim;
mod undo;

use std::ffi::{CStr, c_char, c_int};

use rusqlite::ffi;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

pub use counters::snapshot;

use crate::scenario::{FileKind, IoFaults, IoOp};

/// The name the fault VFS is registered under (the default VFS only in an external worker).
pub const VFS_NAME: &CStr = c"walburst-fault";

/// The file the workers of a power-loss run append pre-images and sync markers to.
pub const UNDO_LOG: &str = "undo.log";

static ACTIVE: OnceLock<bool> = OnceLock::new();

/// `[io.device]`: what `xDeviceCharacteristics` and `xSectorSize` claim (`None`: the unix
/// VFS's own answers).
static DEVICE: OnceLock<crate::scenario::io_device::Device> = OnceLock::new();

fn device() -> Option<&'static crate::scenario::io_device::Device> {
    DEVICE.get()
}

/// `[lockstep] points = "shm"`: the database's shared-memory calls pause lockstep steps.
static SHM_POINTS: AtomicBool = AtomicBool::new(false);

/// Whether a shared-memory call of a file of `kind` made now is a lockstep point: shm points
/// are on, the file is the database (its `-shm` is the wal-index), and this thread runs a
/// granted step (calls outside steps, e.g. a connection closed on an actor's way out, run
/// through).
fn shm_point(kind: FileKind) -> bool {
    kind == FileKind::Main && below_sql_points()
}

/// Whether calls below SQL are lockstep points now: `points = "shm"` and this thread runs a
/// granted step. The file kind is the caller's to check (the WAL-header write is the
/// `-wal`'s, every other point the database's).
fn below_sql_points() -> bool {
    SHM_POINTS.load(Ordering::Relaxed) && crate::worker::gate::in_step()
}

/// Why the fault VFS could not be set up in a worker, or a power loss could not be applied
/// to the run's files afterwards; each names the file or the VFS it is about.
#[derive(Debug, thiserror::Error)]
pub enum VfsError {
    /// A worker of a power-loss run could not open the shared undo log.
    #[error("cannot open the undo log {}", path.display())]
    OpenUndoLog {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// SQLite refused to register the VFS.
    #[error("cannot register the fault VFS {vfs:?}: SQLite code {code}")]
    Register { vfs: &'static CStr, code: c_int },
    /// The runner could not read the undo log back.
    #[error("cannot read the undo log {}", path.display())]
    ReadUndoLog {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Undoing one logged change (`write`, `truncate`, `creation`, `unlink`) of `path` failed.
    #[error("cannot undo the {change} of {}", path.display())]
    Undo {
        path: PathBuf,
        change: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// The `-shm` could not be removed after the power loss.
    #[error("cannot discard {}", path.display())]
    DiscardShm {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Registers the fault VFS in this worker and arms the scenario's points. Called once, by a
/// worker of a scenario that asks for I/O faults, before it opens any connection.
pub fn install(
    io: &IoFaults,
    shm_points: bool,
    seed: u64,
    db_path: &Path,
    run_dir: &Path,
    worker: u32,
) -> Result<(), VfsError> {
    // Shm steps exist only in the built-in worker's lockstep (refused with an external one).
    SHM_POINTS.store(shm_points, Ordering::Relaxed);
    install_into(io, seed, db_path, run_dir, worker, &OWN)
}

fn install_into(
    io: &IoFaults,
    seed: u64,
    db_path: &Path,
    run_dir: &Path,
    worker: u32,
    api: &Api,
) -> Result<(), VfsError> {
    if io.power_loss() {
        undo::open(&run_dir.join(UNDO_LOG))?;
        super::sink::flush_each_record();
    }
    points::arm(io, seed, db_path, run_dir, worker);
    if let Some(d) = io.device {
        let _ = DEVICE.set(d);
    }
    let code = shim::register(VFS_NAME, api);
    if code != rusqlite::ffi::SQLITE_OK {
        return Err(VfsError::Register {
            vfs: VFS_NAME,
            code,
        });
    }
    let _ = ACTIVE.set(true);
    Ok(())
}

/// The SQLite the VFS registers into: walburst's own (the built-in worker), or the app's
/// `libsqlite3.so.0` looked up at run time (`preload`), never a copy linked into the preload.
pub struct Api {
    pub vfs_find: unsafe extern "C" fn(*const c_char) -> *mut ffi::sqlite3_vfs,
    pub vfs_register: unsafe extern "C" fn(*mut ffi::sqlite3_vfs, c_int) -> c_int,
    /// The preload makes it the default (the app opens its connections without naming a
    /// VFS); the built-in worker names it and leaves SQLite's default alone.
    pub make_default: bool,
}

/// walburst's own SQLite, the fault VFS registered under its name only.
pub(super) const OWN: Api = Api {
    vfs_find: ffi::sqlite3_vfs_find,
    vfs_register: ffi::sqlite3_vfs_register,
    make_default: false,
};

/// The VFS opened a main database file (the preload says `io_hello` then).
fn opened_main() {
    preload::opened_main();
}

/// The VFS closed a main database file (the preload reports its counters when it was the
/// process's last).
fn closed_main() {
    preload::closed_main();
}

/// The VFS connections of this process open through: `Some` only after [`install`].
pub fn active() -> Option<&'static str> {
    ACTIVE.get().map(|_| VFS_NAME.to_str().expect("ASCII name"))
}

/// Whether this process has the fault VFS registered at all (asked of SQLite itself, so a
/// clean run can prove it never loaded it).
pub fn registered() -> bool {
    // SAFETY: sqlite3_vfs_find only reads SQLite's VFS list.
    unsafe { !rusqlite::ffi::sqlite3_vfs_find(VFS_NAME.as_ptr()).is_null() }
}

fn logging() -> bool {
    undo::is_open()
}

/// What a hooked call does after its fault point check.
enum Proceed {
    Go,
    /// Return this code without performing the call.
    Fail(c_int),
}

/// Counts the call, then lets a fault point act on it (stall, fail, kill, power loss).
fn before(kind: FileKind, op: IoOp) -> Proceed {
    let in_ckpt = phase::in_checkpoint();
    counters::count(kind, op, in_ckpt);
    points::check(kind, op, in_ckpt)
}

/// After a write, sync or truncate was performed: a `when = "after"` point at that call
/// acts now (power loss right after a sync returned).
fn after() {
    points::after();
}

/// Which op of the schedule the current thread runs, for naming where a point fired.
pub fn set_current_op(actor: u32, seq: u32) {
    phase::set_op(actor, seq);
}

mod phase {
    use std::cell::Cell;

    thread_local! {
        static IN_CHECKPOINT: Cell<bool> = const { Cell::new(false) };
        /// This checkpoint's backfill wrote to the database file already.
        static BACKFILLING: Cell<bool> = const { Cell::new(false) };
        static OP: Cell<Option<(u32, u32)>> = const { Cell::new(None) };
    }

    pub fn enter_checkpoint() {
        IN_CHECKPOINT.set(true);
        BACKFILLING.set(false);
    }
    /// Whether a write to the database file now is this checkpoint's first backfill write
    /// (`true` once per `CKPT_START`).
    pub fn first_backfill_write() -> bool {
        IN_CHECKPOINT.get() && !BACKFILLING.replace(true)
    }
    pub fn leave_checkpoint() {
        IN_CHECKPOINT.set(false);
    }
    pub fn in_checkpoint() -> bool {
        IN_CHECKPOINT.get()
    }
    pub fn set_op(actor: u32, seq: u32) {
        OP.set(Some((actor, seq)));
    }
    pub fn op() -> Option<(u32, u32)> {
        OP.get()
    }
}
