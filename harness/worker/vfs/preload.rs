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

use std::ffi::{CStr, c_char, c_int, c_void};
use std::os::fd::FromRawFd;

use rusqlite::ffi;

use super::Api;
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
        eprintln!("walburst-vfs: the fault VFS is not loaded: {e}");
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

/// The destructor's work: this process's I/O counters, if its VFS said `io_hello`.
pub fn finish() {
    if let (Some((worker, _)), true) = (ARMED.get(), SAID_HELLO.is_completed()) {
        RecordSink::global().send(
            &WorkerMsg::IoCounters {
                worker: *worker,
                counts: super::snapshot(),
            },
            true,
        );
    }
}
