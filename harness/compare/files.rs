//! The compare directory and the files written into it.

use std::path::{Path, PathBuf};

/// `OUT/compare-<scenario>-s<seed>-<stamp>[-N]/`, never an existing directory.
pub(super) fn make_compare_dir(
    out: &Path,
    name: &str,
    seed: u64,
    started_at: &str,
) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(out)
        .map_err(|e| anyhow::anyhow!("cannot create report directory {}: {e}", out.display()))?;
    let stamp: String = started_at
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    let stem = format!("compare-{}-s{seed}-{stamp}", crate::report::file_safe(name));
    for n in 1u32.. {
        let dir = if n == 1 {
            out.join(&stem)
        } else {
            out.join(format!("{stem}-{n}"))
        };
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => anyhow::bail!("cannot create {}: {e}", dir.display()),
        }
    }
    unreachable!("the loop returns")
}
