//! External workers (a scenario's worker command, e.g. a Python app) reach the SQLite axis
//! wherever their SQLite is a shared library: CPython's `sqlite3` module links
//! `libsqlite3.so.0`, so putting a prepared directory first on `LD_LIBRARY_PATH` makes it
//! run that release. The worker reports the version it loaded; anything else is refused.

use std::ffi::OsString;
use std::path::Path;

use super::cache;
use super::version::SqliteVersion;

/// The variable the dynamic loader searches before the system directories.
pub const LIBRARY_PATH_VAR: &str = "LD_LIBRARY_PATH";

/// `LD_LIBRARY_PATH` for a worker command that must load the library in `prepared_dir`:
/// that directory first, then whatever `inherited` held.
pub fn library_path(prepared_dir: &Path, inherited: Option<OsString>) -> OsString {
    let mut dirs = vec![prepared_dir.to_path_buf()];
    if let Some(old) = inherited {
        dirs.extend(std::env::split_paths(&old).filter(|p| !p.as_os_str().is_empty()));
    }
    std::env::join_paths(dirs).expect("directory names without ':'")
}

/// The environment variables to set on an external worker command so that it runs SQLite
/// `v`, preparing `v` first if needed (also the bundled release: an external program
/// cannot load what is compiled into walburst, so it gets the same release as a library).
pub fn worker_env(
    v: SqliteVersion,
    progress: &mut dyn FnMut(super::prepare::PrepareProgress<'_>),
) -> Result<Vec<(String, OsString)>, super::prepare::PrepareError> {
    super::prepare::ensure(v, progress)?;
    Ok(vec![(
        LIBRARY_PATH_VAR.to_string(),
        library_path(&cache::version_dir(v), std::env::var_os(LIBRARY_PATH_VAR)),
    )])
}

/// A worker ran another SQLite than the one asked for.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "SQLite mismatch: worker {worker} runs SQLite {reported}, the run asked for {asked}; its library path did not reach the prepared release (a statically linked SQLite, or a library path the worker resets)"
)]
pub struct Mismatch {
    pub worker: u32,
    pub asked: SqliteVersion,
    pub reported: String,
}

/// Checks the version an external worker reported (its hello message) against the release
/// the run asked for.
pub fn check_reported(worker: u32, asked: SqliteVersion, reported: &str) -> Result<(), Mismatch> {
    if reported.trim() == asked.to_string() {
        Ok(())
    } else {
        Err(Mismatch {
            worker,
            asked,
            reported: reported.trim().to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prepared_directory_comes_first() {
        let p = library_path(Path::new("/c/3.50.2"), Some("/a:/b".into()));
        assert_eq!(p, OsString::from("/c/3.50.2:/a:/b"));
        let p = library_path(Path::new("/c/3.50.2"), None);
        assert_eq!(p, OsString::from("/c/3.50.2"));
    }

    #[test]
    fn a_mismatched_report_is_refused_and_named() {
        let asked = SqliteVersion::new(3, 50, 2);
        assert!(check_reported(0, asked, "3.50.2\n").is_ok());
        let e = check_reported(3, asked, "3.40.1").unwrap_err();
        assert!(e.to_string().contains("worker 3 runs SQLite 3.40.1"), "{e}");
        assert!(e.to_string().contains("asked for 3.50.2"), "{e}");
    }
}
