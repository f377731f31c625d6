//! What every step of `walburst sqlite prepare` shares: running a build command with a
//! deadline, its output in the prepare's log, and the errors a step can end in. Both the
//! crate path (`prepare`) and the npm path (`npm`) build on it.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::cache::CacheError;
use super::version::SqliteVersion;

/// No cargo build of a prepare may take longer (2 cores take about a minute).
pub const BUILD_DEADLINE: Duration = Duration::from_secs(40 * 60);

/// Why a release could not be prepared. Every build step's failure names the log that
/// holds cargo's (or cc's) own words.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    #[error("SQLite {0} is not offered")]
    NotOffered(SqliteVersion),
    #[error(transparent)]
    Cache(#[from] CacheError),
    #[error("cannot {doing} {}", path.display())]
    Io {
        doing: &'static str,
        path: PathBuf,
        #[source]
        error: std::io::Error,
    },
    #[error("cannot start {what} (log: {})", log.display())]
    Start {
        what: String,
        log: PathBuf,
        #[source]
        error: std::io::Error,
    },
    #[error(
        "{what} took longer than {} minutes and was killed; log: {}",
        BUILD_DEADLINE.as_secs() / 60,
        log.display()
    )]
    Deadline { what: String, log: PathBuf },
    /// SIGINT/SIGTERM: the build step was killed (its whole process group); the cache
    /// holds nothing of this release that was half-written.
    #[error("{what} was interrupted and killed; log: {}", log.display())]
    Interrupted { what: String, log: PathBuf },
    #[error("{what} failed ({status}); log: {}", log.display())]
    Failed {
        what: String,
        status: std::process::ExitStatus,
        log: PathBuf,
    },
    /// A build step ended well but left no usable output.
    #[error("{problem}; log: {}", log.display())]
    NoOutput { problem: String, log: PathBuf },
    /// The new binary could not say which SQLite it runs.
    #[error("{} sqlite identity: {problem}", binary.display())]
    Identity { binary: PathBuf, problem: String },
    /// The new binary runs another SQLite than the one it was built for.
    #[error("the binary built for SQLite {asked} runs SQLite {runs}; log: {}", log.display())]
    Mismatch {
        asked: SqliteVersion,
        runs: String,
        log: PathBuf,
    },
    /// The built library reports another source id than the table pins for the release.
    #[error(
        "the library built for SQLite {asked} reports source id `{runs}`, the table pins `{pinned}`; refused; log: {}",
        log.display()
    )]
    SourceId {
        asked: SqliteVersion,
        pinned: String,
        runs: String,
        log: PathBuf,
    },
    /// The npm registry could not be reached (or refused the tarball).
    #[error(
        "cannot download the amalgamation of SQLite {version} (npm {spec}) from {url}: {problem}; the npm registry must be reachable the first time this release is prepared (set WALBURST_NPM_REGISTRY to a mirror); log: {}",
        log.display()
    )]
    Download {
        version: SqliteVersion,
        spec: String,
        url: String,
        problem: String,
        log: PathBuf,
    },
    /// A downloaded tarball is not the one the table pins; nothing of it is kept.
    #[error(
        "the tarball for SQLite {version} from {url} hashes to {got}, the table pins {pinned}; refused and deleted"
    )]
    Integrity {
        version: SqliteVersion,
        url: String,
        pinned: String,
        got: String,
    },
    #[error(transparent)]
    Manifest(#[from] crate::report::WriteError),
}

pub fn io(doing: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> PrepareError {
    let path = path.to_path_buf();
    move |error| PrepareError::Io { doing, path, error }
}

/// Environment a nested cargo must not inherit: they would redirect its output, change its
/// flags, or (LIBSQLITE3_SYS_USE_PKG_CONFIG in step 1) stop it from bundling.
const SCRUBBED: &[&str] = &[
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET_DIR",
    "CARGO_ENCODED_RUSTFLAGS",
    "CARGO_BUILD_RUSTFLAGS",
    "RUSTFLAGS",
    "LIBSQLITE3_SYS_USE_PKG_CONFIG",
    "SQLITE3_LIB_DIR",
    "SQLITE3_INCLUDE_DIR",
    "SQLITE3_STATIC",
    "PKG_CONFIG_PATH",
    "LIBSQLITE3_FLAGS",
    "WALBURST_SQLITE_PREPARED_FROM",
    "WALBURST_SQLITE_PREPARED_AMALGAMATION",
];

pub fn cargo() -> Command {
    let mut c = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    for v in SCRUBBED {
        c.env_remove(v);
    }
    c
}

/// Runs `cmd` with stderr appended to `log` and returns its stdout lines; fails (naming the
/// log) on a non-zero exit or after [`BUILD_DEADLINE`].
pub fn run_logged(mut cmd: Command, log: &Path, what: &str) -> Result<Vec<String>, PrepareError> {
    let write_log = || io("write the log", log);
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(write_log())?;
    writeln!(&log_file, "\n=== {what}: {cmd:?}").map_err(write_log())?;
    // Its own process group: an interrupt kills the whole build (cargo and every rustc or
    // cc under it), and a terminal's Ctrl-C reaches only walburst, which does that.
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log_file.try_clone().map_err(write_log())?)
        .spawn()
        .map_err(|error| PrepareError::Start {
            what: what.to_string(),
            log: log.to_path_buf(),
            error,
        })?;
    let stdout = child.stdout.take().expect("piped");
    let reader = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<_>>()
    });
    // Woken by the exit itself (a pidfd) or by SIGINT/SIGTERM, not by a polling interval.
    use crate::runner::reap::{Waited, wait_exit_or_interrupt};
    let kill_group = |child: &mut std::process::Child| {
        if let Some(pid) = rustix::process::Pid::from_raw(child.id() as i32) {
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
        let _ = child.wait();
    };
    let status = match wait_exit_or_interrupt(&mut child, BUILD_DEADLINE) {
        Ok(Waited::Exited(s)) => s,
        Ok(Waited::TimedOut) => {
            kill_group(&mut child);
            return Err(PrepareError::Deadline {
                what: what.to_string(),
                log: log.to_path_buf(),
            });
        }
        Ok(Waited::Interrupted) => {
            kill_group(&mut child);
            return Err(PrepareError::Interrupted {
                what: what.to_string(),
                log: log.to_path_buf(),
            });
        }
        Err(e) => return Err(io("wait for the build writing", log)(e)),
    };
    // A build that ended on its own just as the interrupt came is still stopped here.
    if crate::signals::interrupted() {
        return Err(PrepareError::Interrupted {
            what: what.to_string(),
            log: log.to_path_buf(),
        });
    }
    let lines = reader.join().unwrap_or_default();
    for l in &lines {
        writeln!(&log_file, "{l}").map_err(write_log())?;
    }
    if !status.success() {
        return Err(PrepareError::Failed {
            what: what.to_string(),
            status,
            log: log.to_path_buf(),
        });
    }
    Ok(lines)
}
