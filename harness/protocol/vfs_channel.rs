//! How the runner arms the fault VFS preloaded into an external worker, and where that
//! VFS's messages go (PROTOCOL.md, "The fault VFS in an external worker"): both sides of
//! that agreement, the runner's (`runner::procs`, `run`) and the library's
//! (`worker::vfs::preload`), read it from here.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::scenario::IoFaults;

/// Names the arming (JSON of [`Arming`]).
pub const ARM_ENV: &str = "WALBURST_VFS";
/// Names the descriptor number of the VFS's channel to the runner.
pub const CHANNEL_FD_ENV: &str = "WALBURST_VFS_FD";
/// The descriptor the runner places the channel's write end at in the worker.
pub const CHANNEL_FD: i32 = 198;

/// What the runner arms the preloaded VFS with; the worker's number comes separately
/// (`WALBURST_WORKER`, set on every worker).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Arming {
    pub io: IoFaults,
    pub seed: u64,
    pub db_path: PathBuf,
    pub run_dir: PathBuf,
}
