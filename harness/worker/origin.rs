//! The SQLite this process actually runs: version, source id, and how it was obtained.
//! Every report records it; a run that asked for another release refuses.

use std::ffi::CStr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Set at compile time by `walburst sqlite prepare` (the `libsqlite3-sys` version whose
/// amalgamation the linked library was built from); absent in an ordinary build.
const PREPARED_FROM: Option<&str> = option_env!("WALBURST_SQLITE_PREPARED_FROM");
/// Set at compile time by `walburst sqlite prepare` when the amalgamation came from
/// elsewhere than that crate (`npm better-sqlite3@12.6.2`); absent for a crate's own.
const PREPARED_AMALGAMATION: Option<&str> = option_env!("WALBURST_SQLITE_PREPARED_AMALGAMATION");

/// How the running SQLite was obtained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum SqliteOrigin {
    /// Compiled into this binary (rusqlite's `bundled` feature).
    Bundled,
    /// A shared library built by `walburst sqlite prepare` from a `libsqlite3-sys` crate's
    /// amalgamation, loaded from beside this binary.
    Prepared {
        libsqlite3_sys: String,
        library: PathBuf,
        /// Where the amalgamation came from when not from that crate itself (an npm
        /// package: `npm better-sqlite3@12.6.2`); the crate's build script compiled it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        amalgamation: Option<String>,
    },
    /// Some other shared library (a system `libsqlite3.so.0`, or a prepared build that
    /// did not find its own library).
    SystemLibrary { library: PathBuf },
}

impl SqliteOrigin {
    pub fn describe(&self) -> String {
        match self {
            SqliteOrigin::Bundled => "bundled".into(),
            SqliteOrigin::Prepared {
                libsqlite3_sys,
                amalgamation: None,
                ..
            } => format!("prepared from libsqlite3-sys {libsqlite3_sys}"),
            SqliteOrigin::Prepared {
                libsqlite3_sys,
                amalgamation: Some(from),
                ..
            } => format!(
                "prepared from {from}, compiled by libsqlite3-sys {libsqlite3_sys}'s build script"
            ),
            SqliteOrigin::SystemLibrary { library } => {
                format!("system library {}", library.display())
            }
        }
    }
}

/// The SQLite of this process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SqliteIdentity {
    pub version: String,
    pub source_id: String,
    pub origin: SqliteOrigin,
}

/// `sqlite3_sourceid()`: the check-in the library was built from.
pub fn source_id() -> String {
    // SAFETY: sqlite3_sourceid returns a pointer to a static NUL-terminated string.
    unsafe { CStr::from_ptr(rusqlite::ffi::sqlite3_sourceid()) }
        .to_string_lossy()
        .into_owned()
}

/// The shared `libsqlite3` mapped into this process, if any (`/proc/self/maps`).
fn mapped_library() -> Option<PathBuf> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    maps.lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .find(|p| {
            Path::new(p)
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("libsqlite3.so"))
        })
        .map(PathBuf::from)
}

/// How this process got its SQLite. A prepared build counts as prepared only when the
/// library it loaded is the one beside its own executable.
pub fn origin() -> SqliteOrigin {
    let Some(library) = mapped_library() else {
        return SqliteOrigin::Bundled;
    };
    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|e| e.canonicalize().ok())
        .and_then(|e| e.parent().map(Path::to_path_buf));
    let lib_dir = library
        .canonicalize()
        .ok()
        .and_then(|l| l.parent().map(Path::to_path_buf));
    match PREPARED_FROM {
        Some(sys) if exe_dir.is_some() && exe_dir == lib_dir => SqliteOrigin::Prepared {
            libsqlite3_sys: sys.to_string(),
            library,
            amalgamation: PREPARED_AMALGAMATION.map(str::to_string),
        },
        _ => SqliteOrigin::SystemLibrary { library },
    }
}

/// Version, source id and origin of the SQLite this process runs.
pub fn this() -> SqliteIdentity {
    SqliteIdentity {
        version: rusqlite::version().to_string(),
        source_id: source_id(),
        origin: origin(),
    }
}

/// Set on a delegated run: the process (and its workers, which inherit it) must run this
/// SQLite version or refuse. Also stops a mislinked binary from delegating in a loop.
pub const EXPECT_ENV: &str = "WALBURST_SQLITE_EXPECT";

/// A process that runs another SQLite than it must: it refuses rather than measure the
/// wrong library. Each variant names the version it was held to and what it runs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SqliteMismatch {
    /// A delegated run (or this process) asked for `asked`.
    #[error(
        "SQLite mismatch: the run asked for SQLite {asked}, but this process runs SQLite {} ({}); the prepared build did not load its own library (`walburst sqlite prepare {asked}` rebuilds it)",
        runs.version,
        runs.origin.describe()
    )]
    NotAsked {
        asked: String,
        runs: Box<SqliteIdentity>,
    },
    /// A worker whose SQLite is not its runner's (`runner`, from the run spec).
    #[error(
        "SQLite mismatch: the runner runs SQLite {runner}, this worker runs SQLite {} ({}); the worker executable is not the runner's build",
        runs.version,
        runs.origin.describe()
    )]
    NotRunners {
        runner: String,
        runs: Box<SqliteIdentity>,
    },
}

/// This process runs another SQLite than the `asked` one.
pub fn mismatch(asked: &str) -> SqliteMismatch {
    SqliteMismatch::NotAsked {
        asked: asked.to_string(),
        runs: Box::new(this()),
    }
}

/// In a delegated run: refuses unless this process runs the release it was started for.
pub fn check_expected() -> Result<(), SqliteMismatch> {
    match std::env::var(EXPECT_ENV) {
        Ok(asked) if !asked.is_empty() && asked != rusqlite::version() => Err(mismatch(&asked)),
        _ => Ok(()),
    }
}

/// In a worker: its SQLite must be the runner's (`runner_version`, from the run spec) and,
/// in a delegated run, the asked one.
pub fn check_worker(runner_version: &str) -> Result<(), SqliteMismatch> {
    check_expected()?;
    if runner_version != rusqlite::version() {
        return Err(SqliteMismatch::NotRunners {
            runner: runner_version.to_string(),
            runs: Box::new(this()),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ordinary_build_runs_its_bundled_sqlite() {
        let me = this();
        assert_eq!(me.origin, SqliteOrigin::Bundled);
        assert_eq!(me.version, rusqlite::version());
        // "2025-.. .. <sha3 hash>": a date then the check-in hash.
        assert!(me.source_id.len() > 60, "{}", me.source_id);
    }

    #[test]
    fn a_worker_of_another_build_names_the_runners_version_and_its_own() {
        match check_worker("0.0.1") {
            Err(SqliteMismatch::NotRunners { runner, runs }) => {
                assert_eq!(runner, "0.0.1");
                assert_eq!(runs.version, rusqlite::version());
            }
            other => panic!("expected a mismatch with the runner, got {other:?}"),
        }
        assert_eq!(check_worker(rusqlite::version()), Ok(()));
    }
}
