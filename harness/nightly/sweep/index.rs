//! The run index: one JSON line per event, synced as it is written, so that an aborted or
//! killed sweep still says what ran; `merge` reads it back.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::nightly::shard::Shard;
use crate::nightly::summary::{Pair, PairResult, Totals};

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

pub(super) struct Index {
    file: File,
    path: PathBuf,
}

impl Index {
    pub(super) fn create(path: &Path, header: SweepHeader) -> anyhow::Result<Index> {
        let file = File::create(path)
            .map_err(|e| anyhow::anyhow!("cannot create the run index {}: {e}", path.display()))?;
        let mut index = Index {
            file,
            path: path.to_path_buf(),
        };
        index.write(&IndexLine::Sweep(header))?;
        Ok(index)
    }

    pub(super) fn write(&mut self, line: &IndexLine) -> anyhow::Result<()> {
        let mut text = serde_json::to_string(line)?;
        text.push('\n');
        self.file
            .write_all(text.as_bytes())
            .and_then(|_| self.file.sync_data())
            .map_err(|e| anyhow::anyhow!("cannot write the run index {}: {e}", self.path.display()))
    }
}

/// Reads a run index back (for `merge`).
pub fn read_index(path: &Path) -> anyhow::Result<Vec<IndexLine>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
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
            Err(e) => anyhow::bail!(
                "{} line {}: not a run index line: {e}",
                path.display(),
                i + 1
            ),
        }
    }
    Ok(lines)
}

pub(super) fn sweep_hash(pairs: &[Pair]) -> String {
    crate::plan::sha256_hex(&serde_json::to_vec(pairs).expect("pairs serialize"))
}
