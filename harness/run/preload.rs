//! Arming the fault VFS in external workers: the `walburst-vfs` library preloaded into each
//! worker of an `[io]` scenario with a `[worker]`, and what it must do, in its environment.

use std::path::{Path, PathBuf};

use super::RunError;
use crate::scenario::Scenario;

/// `[io]` with `[worker]`: the external workers preload the fault VFS library
/// (`worker::vfs::preload`), armed through the environment; its channel is the runner's
/// (`runner::procs`).
pub(super) fn arm(
    command: &mut crate::scenario::WorkerCommand,
    s: &Scenario,
    seed: u64,
    run_dir: &Path,
    db_path: &Path,
) -> Result<(), RunError> {
    use crate::protocol::vfs_channel::{ARM_ENV, Arming};
    use crate::worker::vfs::preload::{LIBRARY, LIBRARY_ENV};
    let lib = match std::env::var_os(LIBRARY_ENV).filter(|v| !v.is_empty()) {
        Some(p) => PathBuf::from(p),
        None => std::env::current_exe()
            .ok()
            .and_then(|e| e.parent().map(|d| d.join(LIBRARY)))
            .unwrap_or_else(|| PathBuf::from(LIBRARY)),
    };
    if !lib.is_file() {
        return Err(RunError::VfsLibrary { path: lib });
    }
    // The worker command's own LD_PRELOAD (or the inherited one) stays, after ours.
    let inherited = command
        .env
        .get("LD_PRELOAD")
        .cloned()
        .or_else(|| std::env::var("LD_PRELOAD").ok())
        .filter(|p| !p.is_empty());
    let mut preload = lib.display().to_string();
    if let Some(p) = inherited {
        preload = format!("{preload}:{p}");
    }
    command.env.insert("LD_PRELOAD".into(), preload);
    let arming = Arming {
        io: s.io.clone(),
        seed,
        db_path: db_path.to_path_buf(),
        run_dir: run_dir.to_path_buf(),
    };
    command.env.insert(
        ARM_ENV.into(),
        serde_json::to_string(&arming).expect("an arming serializes"),
    );
    Ok(())
}
