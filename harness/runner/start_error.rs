//! Why a worker process could not be started.

use std::path::PathBuf;

/// A worker process that could not be started; names the worker and the file or program.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot write the ops file of worker {worker} ({})", path.display())]
    OpsFile {
        worker: u32,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot create the stderr file of worker {worker} ({})", path.display())]
    Stderr {
        worker: u32,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start worker {worker} ({})", program.display())]
    Spawn {
        worker: u32,
        program: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open the fault VFS channel of worker {worker}")]
    VfsChannel {
        worker: u32,
        #[source]
        source: std::io::Error,
    },
}
