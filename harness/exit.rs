//! Exit codes, in one place: every command maps its outcome to one of these at the top,
//! never deeper down (one exception: a closed stdout, [`EXIT_STDOUT_CLOSED`], ends a
//! command where its printing meets it, in `cli/out.rs`).

use std::path::PathBuf;

pub const EXIT_PASS: i32 = 0;
pub const EXIT_FAIL: i32 = 1;
pub const EXIT_USAGE: i32 = 2;
/// The run ended but its report (or a sweep's summary or JUnit file) could not be written;
/// the run directory with its records is kept and its path printed.
pub const EXIT_UNWRITTEN: i32 = 3;
/// stdout's reader went away before the command had printed everything
/// (`walburst sqlite list | head -3`): the command stops quietly, with no panic and no
/// message. 141 is 128 + SIGPIPE, the status the shell shows for `cat` or `seq` ended the
/// same way, chosen over ripgrep's 0 because some commands print a verdict (`adapter
/// check`, `sqlite advise`, `shrink`): one cut short reached none and must not pass for a
/// PASS under `set -o pipefail`. Without pipefail a pipeline's status is `head`'s anyway.
pub const EXIT_STDOUT_CLOSED: i32 = 141;
/// SIGINT/SIGTERM stopped a run (the shell convention for SIGINT).
pub const EXIT_INTERRUPTED: i32 = 130;

/// The executable started as each worker: `explicit`, or this walburst binary. `Err` holds
/// the exit code after the error has been printed.
pub fn worker_exe(explicit: Option<PathBuf>) -> Result<PathBuf, i32> {
    explicit
        .map_or_else(std::env::current_exe, Ok)
        .map_err(|e| {
            errln!("error: cannot find walburst's own executable to start workers: {e}");
            EXIT_FAIL
        })
}
