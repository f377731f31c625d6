//! The CLI's own output on stdout (`outln!`, `out!`), and what a closed stdout does.
//!
//! Rust's runtime ignores SIGPIPE, and walburst keeps it so: a worker that dies must show as
//! an error on its pipe, never as the runner's death. The price is that `println!` into a
//! pipe whose reader has gone (`walburst sqlite list | head -3`) panics ("failed printing to
//! stdout"). Everything the commands print goes through [`write`] instead, which ends the
//! command quietly when the reader has gone.
//!
//! The run reporter (`reporter::Console`) does not: a run whose output nobody reads still
//! finishes, writes its report and exits with its verdict (it drops the lines).

use std::io::Write;

use crate::exit::{EXIT_FAIL, EXIT_STDOUT_CLOSED};

/// `println!` for a command's output: a closed stdout ends the command quietly.
macro_rules! outln {
    () => {
        $crate::cli::out::write(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::cli::out::write(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` for a command's output: a closed stdout ends the command quietly.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::out::write(format_args!($($arg)*))
    };
}

/// Writes to stdout and flushes at once, so that a closed pipe is found at the line that
/// met it. A reader that has gone ends the process with [`EXIT_STDOUT_CLOSED`] and no
/// message (the reader asked for no more: `head` has its lines); any other write error is
/// one line on stderr and exit 1. It exits here, below the commands, because a command
/// printing its listing line by line has nothing left to do once nobody reads it; every
/// caller prints between steps (no child process is running at a print).
pub fn write(args: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.flush()) {
        drop(out);
        std::process::exit(stdout_failed(&e));
    }
}

/// The exit status for a failed write to stdout (after saying why, unless the reader left).
fn stdout_failed(e: &std::io::Error) -> i32 {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        EXIT_STDOUT_CLOSED
    } else {
        errln!("error: cannot write to stdout: {e}");
        EXIT_FAIL
    }
}
