//! Why a run could not be carried out (as opposed to a run that was carried out and failed:
//! that is a verdict). The CLI maps these to exit codes; [`RunError::Unwritten`] alone is
//! exit 3, because the run itself ended and its evidence is kept.

use std::fmt;
use std::path::PathBuf;

use crate::report::WriteError;
use crate::report::outputs::ReportUnwritten;
use crate::runner::ExecError;
use crate::runner::tamper::TamperError;
use crate::scenario::Invalid;
use crate::scenario::release::SqliteVersion;
use crate::worker::origin::SqliteMismatch;
use crate::worker::vfs::VfsError;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The worker program resolved at load no longer resolves (moved or deleted since).
    #[error("{scenario}")]
    Worker {
        scenario: String,
        #[source]
        problem: Invalid,
    },
    /// The scenario cannot run in the requested mode (`[lockstep] points = "shm"` outside
    /// lockstep): `walburst run` refuses it at load (exit 2); any other way in ends here.
    #[error("{scenario}")]
    Mode {
        scenario: String,
        #[source]
        problem: Invalid,
    },
    /// A directory or file of the run cannot be made or removed.
    #[error("cannot {doing} {}", path.display())]
    Io {
        doing: &'static str,
        path: PathBuf,
        #[source]
        error: std::io::Error,
    },
    /// The runner's own set-up of the database (`setup = "runner"`) failed.
    #[error("{stage} {}", path.display())]
    Setup {
        stage: SetupStage,
        path: PathBuf,
        #[source]
        error: rusqlite::Error,
    },
    /// A file of the run's evidence (run spec, records, trace, kept report) could not be
    /// written.
    #[error(transparent)]
    Evidence(#[from] WriteError),
    /// The run ended but its report could not be written; the run directory is kept.
    #[error(transparent)]
    Unwritten(#[from] ReportUnwritten),
    /// A run on another SQLite release could not be handed over or handed back.
    #[error("SQLite {version}: {problem}")]
    Release {
        version: SqliteVersion,
        problem: String,
    },
    /// This process runs another SQLite than the run was started for.
    #[error(transparent)]
    Sqlite(#[from] SqliteMismatch),
    /// The workers could not be started or their directory watched.
    #[error(transparent)]
    Exec(#[from] ExecError),
    /// The simulated power loss could not be applied to the run's files.
    #[error(transparent)]
    PowerLoss(#[from] VfsError),
    /// The SQLite release an external worker must load could not be prepared.
    #[error(transparent)]
    Prepare(#[from] crate::releases::prepare::PrepareError),
    /// `[io]` with `[worker]`: the fault VFS library the external workers preload is not
    /// there (`cargo build` builds it beside the walburst binary).
    #[error(
        "the fault VFS library {} is missing; `[io]` with `[worker]` preloads it into the workers: build it with `cargo build -p walburst-vfs` (a plain `cargo build` builds it too), or name it in {}",
        path.display(),
        crate::worker::vfs::preload::LIBRARY_ENV
    )]
    VfsLibrary { path: PathBuf },
    /// The `[faults] after_run` tamper could not be applied.
    #[error(transparent)]
    Tamper(#[from] TamperError),
}

/// A step of the runner's database set-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetupStage {
    Create,
    Schema,
    Checkpoint,
    Close,
}

impl fmt::Display for SetupStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SetupStage::Create => "cannot create the database",
            SetupStage::Schema => "cannot create the schema in",
            SetupStage::Checkpoint => "cannot checkpoint the schema into",
            SetupStage::Close => "cannot close the setup connection to",
        })
    }
}

impl RunError {
    pub(crate) fn io(
        doing: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> RunError {
        let path = path.into();
        move |error| RunError::Io { doing, path, error }
    }
}

#[cfg(test)]
#[path = "error_tests.rs"]
mod tests;
