//! The run index: one JSON line per event, synced as it is written, so that an aborted or
//! killed sweep still says what ran; `merge` reads it back.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::nightly::shard::Shard;
use crate::nightly::summary::{Pair, PairResult, Totals};
use crate::nightly::{MergeError, SweepError};

pub const INDEX_FORMAT: &str = "walburst-index/1";

/// The first line of a run index: what the whole (unsharded) sweep is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepHeader {
    pub format: String,
    pub walburst_version: String,
    pub sweep_hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<Shard>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_seed: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nightly_date: Option<String>,
    pub argv: Vec<String>,
    pub started_at: String,
    /// Every pair of the unsharded sweep, in canonical order; pair `i` belongs to shard
    /// `(i mod N) + 1`.
    pub pairs: Vec<Pair>,
}

/// One line of the run index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum IndexLine {
    Sweep(SweepHeader),
    /// Written (and synced) before the pair's process starts.
    Start {
        index: usize,
        key: String,
        at: String,
        pair: Pair,
    },
    Result {
        index: usize,
        key: String,
        result: PairResult,
    },
    End {
        wall_secs: f64,
        totals: Totals,
    },
}

/// Takes the lock of the run index `sweep-index{tag}.jsonl` in `out` (an exclusive `flock`
/// on `sweep{tag}.lock` beside it), creating `out`. A second sweep given the same `--out`
/// (and shard) is refused instead of truncating the first one's index under it.
pub(super) fn lock_out(out: &Path, tag: &str) -> Result<File, SweepError> {
    let io = |doing, path: &Path| {
        let path = path.to_path_buf();
        move |error| SweepError::Io { doing, path, error }
    };
    std::fs::create_dir_all(out).map_err(io("create", out))?;
    let path = out.join(format!("sweep{tag}.lock"));
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io("create the lock file", &path))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(SweepError::OutBusy {
            out: out.to_path_buf(),
            lock: path,
        }),
        Err(std::fs::TryLockError::Error(e)) => Err(io("lock", &path)(e)),
    }
}

pub(super) struct Index {
    file: File,
    path: PathBuf,
}

impl Index {
    pub(super) fn create(path: &Path, header: SweepHeader) -> Result<Index, SweepError> {
        let file = File::create(path).map_err(|error| SweepError::Io {
            doing: "create the run index",
            path: path.to_path_buf(),
            error,
        })?;
        let mut index = Index {
            file,
            path: path.to_path_buf(),
        };
        index.write(&IndexLine::Sweep(header))?;
        Ok(index)
    }

    pub(super) fn write(&mut self, line: &IndexLine) -> Result<(), SweepError> {
        let mut text = serde_json::to_string(line).expect("index lines serialize");
        text.push('\n');
        self.file
            .write_all(text.as_bytes())
            .and_then(|_| self.file.sync_data())
            .map_err(|error| SweepError::Io {
                doing: "write the run index",
                path: self.path.clone(),
                error,
            })
    }
}

/// Reads a run index back (for `merge`).
pub fn read_index(path: &Path) -> Result<Vec<IndexLine>, MergeError> {
    let text = std::fs::read_to_string(path).map_err(|error| MergeError::Unreadable {
        path: path.to_path_buf(),
        error,
    })?;
    let all: Vec<&str> = text.lines().collect();
    let mut lines = Vec::new();
    for (i, l) in all.iter().enumerate() {
        if l.trim().is_empty() {
            continue;
        }
        match serde_json::from_str(l) {
            Ok(x) => lines.push(x),
            // A last line cut short by a killed shard ends the index.
            Err(_) if i + 1 == all.len() && !text.ends_with('\n') => break,
            Err(e) => {
                return Err(MergeError::BadIndex {
                    path: path.to_path_buf(),
                    reason: format!("line {}: not a run index line: {e}", i + 1),
                });
            }
        }
    }
    Ok(lines)
}

pub(super) fn sweep_hash(pairs: &[Pair]) -> String {
    crate::plan::sha256_hex(&serde_json::to_vec(pairs).expect("pairs serialize"))
}
