//! The worker's side of power loss: an undo log shared by every process of the run. Each
//! process opens it once with O_APPEND and adds one record per call with a single write(2),
//! so records of different processes never interleave. A write or truncate is logged right
//! after it happened, with the pre-image read before it through the same unix file (never a
//! second descriptor on the database); a sync is logged when it begins and when it returned.
//! `power` reads the log back after every worker is dead.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use super::VfsError;
use super::power::Tag;

static LOG: OnceLock<File> = OnceLock::new();
static SYNCS: AtomicU64 = AtomicU64::new(0);

pub(super) fn open(path: &Path) -> Result<(), VfsError> {
    let f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(|source| VfsError::OpenUndoLog {
            path: path.to_path_buf(),
            source,
        })?;
    let _ = LOG.set(f);
    Ok(())
}

pub(super) fn is_open() -> bool {
    LOG.get().is_some()
}

fn append(tag: Tag, path: &str, a: i64, b: i64, data: &[u8]) {
    let Some(mut f) = LOG.get() else { return };
    let rec = super::power::encode(tag, std::process::id(), path, a, b, data);
    // One write(2) per record: O_APPEND places it whole at the end of the file. A failure
    // here makes the simulation unfaithful, so the worker stops rather than go on.
    match f.write(&rec) {
        Ok(n) if n == rec.len() => {}
        _ => {
            errln!("walburst: cannot append to the undo log; aborting the worker");
            std::process::abort()
        }
    }
}

pub(super) fn wrote(path: &str, off: i64, old_size: i64, pre: &[u8]) {
    append(Tag::Write, path, off, old_size, pre);
}

pub(super) fn truncated(path: &str, new_size: i64, old_size: i64, pre: &[u8]) {
    append(Tag::Truncate, path, new_size, old_size, pre);
}

/// Logs the start of a sync; returns its token for [`sync_end`].
pub(super) fn sync_begin(path: &str) -> i64 {
    let token =
        (i64::from(std::process::id()) << 32) | SYNCS.fetch_add(1, Ordering::Relaxed) as i64;
    append(Tag::SyncBegin, path, token, 0, &[]);
    token
}

pub(super) fn sync_end(path: &str, token: i64) {
    append(Tag::SyncEnd, path, token, 0, &[]);
}

pub(super) fn created(path: &str) {
    append(Tag::Create, path, 0, 0, &[]);
}

/// What a `-wal`/`-journal` holds just before SQLite unlinks it (read through a descriptor of
/// that file only: SQLite holds no POSIX locks on it, so closing ours drops none).
pub(super) fn before_delete(path: &str) -> Option<Vec<u8>> {
    if !(path.ends_with("-wal") || path.ends_with("-journal")) {
        return None;
    }
    std::fs::read(path).ok()
}

pub(super) fn deleted(path: &str, content: Vec<u8>, dir_synced: bool) {
    append(Tag::Delete, path, i64::from(dir_synced), 0, &content);
}
