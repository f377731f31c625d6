//! The fault VFS in an external worker's process: the `walburst-vfs` library (adapters/vfs)
//! is loaded there through `LD_PRELOAD`, and its constructor calls [`start`] before the
//! app's `main`. Everything it needs comes from the runner, in the environment
//! (PROTOCOL.md, "The fault VFS in an external worker"):
//!
//! * [`ARM_ENV`]: the scenario's `[io]`, the seed, the database and the run directory (JSON);
//! * `WALBURST_WORKER`: the worker's number (the runner sets it on every worker);
//! * [`CHANNEL_FD_ENV`]: the descriptor of the pipe the VFS's messages go to, since the
//!   app's stdout belongs to its adapter.
//!
//! The VFS must live in the very SQLite the app runs, so it is registered into the
//! `libsqlite3.so.0` the dynamic loader finds for this process (the one the app's own
//! SQLite module then shares, by its soname), looked up with `dlopen`/`dlsym`; the copy of
//! SQLite linked into the library itself is never used. A process that is not armed (no
//! [`ARM_ENV`]) is left alone.

use std::collections::BTreeMap;
use std::ffi::{CStr, c_char, c_int, c_void};
use std::os::fd::FromRawFd;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use rusqlite::ffi;

use super::Api;
use crate::observe::io::IoCounts;
use crate::protocol::WorkerMsg;
use crate::protocol::vfs_channel::{ARM_ENV, Arming, CHANNEL_FD_ENV};
use crate::worker::sink::{RecordSink, use_channel};

/// The library's file name (cargo names a cdylib `lib<crate>.so`).
pub const LIBRARY: &str = "libwalburst_vfs.so";
/// Overrides where the runner looks for [`LIBRARY`] (default: beside the walburst binary).
pub const LIBRARY_ENV: &str = "WALBURST_VFS_LIB";
/// The SQLite library an external worker's SQLite module links, by its soname.
const SQLITE_SONAME: &CStr = c"libsqlite3.so.0";

unsafe extern "C" {
    fn dlopen(filename: *const c_char, flag: c_int) -> *mut c_void;
    fn dlsym(handle: *mut c_void, symbol: *const c_char) -> *mut c_void;
}

const RTLD_NOW: c_int = 2;

/// The app's SQLite, as function pointers out of its shared library.
struct AppSqlite {
    api: Api,
    libversion: unsafe extern "C" fn() -> *const c_char,
}

fn app_sqlite() -> Result<AppSqlite, String> {
    // SAFETY: dlopen/dlsym with NUL-terminated names; each symbol is transmuted to the
    // signature SQLite's C API gives it (sqlite3.h), which libsqlite3-sys mirrors.
    unsafe {
        let h = dlopen(SQLITE_SONAME.as_ptr(), RTLD_NOW);
        if h.is_null() {
            return Err(format!(
                "cannot load {} (no shared SQLite on this process's library path)",
                SQLITE_SONAME.to_string_lossy()
            ));
        }
        let sym = |name: &CStr| {
            let p = dlsym(h, name.as_ptr());
            if p.is_null() {
                Err(format!(
                    "{} has no {}",
                    SQLITE_SONAME.to_string_lossy(),
                    name.to_string_lossy()
                ))
            } else {
                Ok(p)
            }
        };
        type Find = unsafe extern "C" fn(*const c_char) -> *mut ffi::sqlite3_vfs;
        type Register = unsafe extern "C" fn(*mut ffi::sqlite3_vfs, c_int) -> c_int;
        type Version = unsafe extern "C" fn() -> *const c_char;
        Ok(AppSqlite {
            api: Api {
                vfs_find: std::mem::transmute::<*mut c_void, Find>(sym(c"sqlite3_vfs_find")?),
                vfs_register: std::mem::transmute::<*mut c_void, Register>(sym(
                    c"sqlite3_vfs_register",
                )?),
                make_default: true,
            },
            libversion: std::mem::transmute::<*mut c_void, Version>(sym(c"sqlite3_libversion")?),
        })
    }
}

/// The constructor's work: registers the fault VFS as the default VFS of the app's SQLite
/// (it says `io_hello` at its first database open, [`opened_main`]). Any failure is written to the process's stderr (the
/// worker's stderr file) and leaves the VFS out; the runner then fails the worker by name
/// for the missing `io_hello`.
pub fn start() {
    let Some(arming) = std::env::var_os(ARM_ENV).filter(|v| !v.is_empty()) else {
        return;
    };
    if let Err(e) = arm(&arming.to_string_lossy()) {
        errln!("walburst-vfs: the fault VFS is not loaded: {e}");
    }
}

fn arm(arming: &str) -> Result<(), String> {
    let arming: Arming =
        serde_json::from_str(arming).map_err(|e| format!("{ARM_ENV} is not an arming: {e}"))?;
    let worker: u32 = std::env::var("WALBURST_WORKER")
        .ok()
        .and_then(|w| w.parse().ok())
        .ok_or("WALBURST_WORKER is not set to a worker number")?;
    let fd: i32 = std::env::var(CHANNEL_FD_ENV)
        .ok()
        .and_then(|f| f.parse().ok())
        .ok_or(format!("{CHANNEL_FD_ENV} is not set to a descriptor"))?;
    // The descriptor must be open (and is ours from here on).
    if rustix::io::fcntl_getfd(unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) }).is_err() {
        return Err(format!("{CHANNEL_FD_ENV}={fd} is not an open descriptor"));
    }
    // SAFETY: checked open above; the runner passed it to this process for this use only.
    use_channel(unsafe { std::fs::File::from_raw_fd(fd) });
    let app = app_sqlite()?;
    super::install_into(
        &arming.io,
        arming.seed,
        &arming.db_path,
        &arming.run_dir,
        worker,
        &app.api,
    )
    .map_err(|e| crate::error::Chain(&e).to_string())?;
    // SAFETY: sqlite3_libversion returns a static NUL-terminated string.
    let version = unsafe { CStr::from_ptr((app.libversion)()) }
        .to_string_lossy()
        .into_owned();
    let _ = ARMED.set((worker, version));
    Ok(())
}

/// This process registered the VFS: (worker, the SQLite it registered into).
static ARMED: std::sync::OnceLock<(u32, String)> = std::sync::OnceLock::new();
static SAID_HELLO: std::sync::Once = std::sync::Once::new();

/// The VFS opened a main database file: says `io_hello`, once per process. Said here and
/// not in the constructor, so that it proves the app's connections go through the VFS (a
/// wrapper process, `env -u LD_PRELOAD` say, registers it too but opens no database).
pub(super) fn opened_main() {
    let Some((worker, version)) = ARMED.get() else {
        return;
    };
    OPEN_MAIN.fetch_add(1, Ordering::SeqCst);
    SAID_HELLO.call_once(|| {
        RecordSink::global().send(
            &WorkerMsg::IoHello {
                worker: *worker,
                pid: std::process::id(),
                sqlite_version: version.clone(),
            },
            true,
        );
    });
}

/// Main database files this process holds open through the VFS.
static OPEN_MAIN: AtomicU64 = AtomicU64::new(0);
/// The counts already sent: each `io_counters` carries only what came since (the runner
/// adds them up per worker).
static SENT: Mutex<Option<IoCounts>> = Mutex::new(None);

/// The process closed its last database connection: its counters so far. An adapter may
/// leave with `_exit` (Python's `os._exit`), where no destructor runs, but it closes its
/// connections first.
pub(super) fn closed_main() {
    if ARMED.get().is_some() && OPEN_MAIN.fetch_sub(1, Ordering::SeqCst) == 1 {
        send_counters();
    }
}

/// The destructor's work: whatever the process counted since its last `io_counters`.
pub fn finish() {
    send_counters();
}

fn send_counters() {
    let (Some((worker, _)), true) = (ARMED.get(), SAID_HELLO.is_completed()) else {
        return;
    };
    let mut sent = SENT.lock().unwrap_or_else(|p| p.into_inner());
    let now = super::snapshot();
    let since = minus(&now, sent.as_ref());
    if since.total.is_empty() {
        return;
    }
    RecordSink::global().send(
        &WorkerMsg::IoCounters {
            worker: *worker,
            counts: since,
        },
        true,
    );
    *sent = Some(now);
}

/// `now - then`, per file kind and op, without the zeros.
fn minus(now: &IoCounts, then: Option<&IoCounts>) -> IoCounts {
    type Table = BTreeMap<String, BTreeMap<String, u64>>;
    let sub = |a: &Table, b: Option<&Table>| -> Table {
        let mut out = Table::new();
        for (kind, ops) in a {
            for (op, n) in ops {
                let before = b
                    .and_then(|b| b.get(kind))
                    .and_then(|o| o.get(op))
                    .copied()
                    .unwrap_or(0);
                if *n > before {
                    out.entry(kind.clone())
                        .or_default()
                        .insert(op.clone(), n - before);
                }
            }
        }
        out
    };
    IoCounts {
        total: sub(&now.total, then.map(|t| &t.total)),
        in_checkpoint: sub(&now.in_checkpoint, then.map(|t| &t.in_checkpoint)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{FileKind, IoOp};

    #[test]
    fn each_counters_message_carries_only_what_came_since_the_last() {
        let mut then = IoCounts::default();
        then.total
            .entry("wal".into())
            .or_default()
            .insert("write".into(), 3);
        let mut now = then.clone();
        now.total.get_mut("wal").unwrap().insert("write".into(), 5);
        now.total
            .entry("main".into())
            .or_default()
            .insert("sync".into(), 1);
        let d = minus(&now, Some(&then));
        assert_eq!(d.get(FileKind::Wal, IoOp::Write), 2);
        assert_eq!(d.get(FileKind::Main, IoOp::Sync), 1);
        assert!(minus(&now, Some(&now)).total.is_empty());
        assert_eq!(minus(&now, None), now);
    }
}
