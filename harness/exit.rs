//! Exit codes, in one place: every command maps its outcome to one of these at the top,
//! never deeper down.

use std::path::PathBuf;

pub const EXIT_PASS: i32 = 0;
pub const EXIT_FAIL: i32 = 1;
pub const EXIT_USAGE: i32 = 2;
/// The run ended but its report (or a sweep's summary or JUnit file) could not be written;
/// the run directory with its records is kept and its path printed.
pub const EXIT_UNWRITTEN: i32 = 3;
/// SIGINT/SIGTERM stopped a run (the shell convention for SIGINT).
pub const EXIT_INTERRUPTED: i32 = 130;

/// The executable started as each worker: `explicit`, or this walburst binary. `Err` holds
/// the exit code after the error has been printed.
pub fn worker_exe(explicit: Option<PathBuf>) -> Result<PathBuf, i32> {
    explicit
        .map_or_else(std::env::current_exe, Ok)
        .map_err(|e| {
            eprintln!("error: cannot find walburst's own executable to start workers: {e}");
            EXIT_FAIL
        })
}
