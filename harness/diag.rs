//! Diagnostics on stderr (`errln!`, `err!`): errors, notes and progress lines that never
//! panic.
//!
//! `eprintln!` panics when stderr is a pipe whose reader has gone (`walburst run x 2>&1 |
//! head -1`, or a CI log collector that died): the runner would die mid-run with its
//! workers still going and its report unwritten. A diagnostic nobody can read any more is
//! dropped instead; what the command concludes still reaches the report and the exit
//! status. (A closed stdout is `cli::out`'s job: there, the reader leaving ends a listing.)
//! `tests/house_cli.rs` keeps `eprintln!` and `eprint!` out of the library.

use std::io::Write;

/// `eprintln!` that drops the line when stderr cannot take it.
macro_rules! errln {
    () => {
        $crate::diag::write(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::diag::write(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `eprint!` that drops the text when stderr cannot take it.
macro_rules! err {
    ($($arg:tt)*) => {
        $crate::diag::write(format_args!($($arg)*))
    };
}

/// Writes to stderr (unbuffered), ignoring a failure: see the module's doc.
pub fn write(args: std::fmt::Arguments<'_>) {
    let _ = std::io::stderr().lock().write_fmt(args);
}
