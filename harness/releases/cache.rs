//! The per-release cache: `target/walburst-sqlite/<version>/` holds `libsqlite3.so.0`, the
//! walburst binary linked against it, and `prepared.json`; one lock file serialises
//! prepares. Layout and sizes: README.md ("Other SQLite releases").

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::version::SqliteVersion;

/// Overrides where the cache lives (CI keeps it between jobs).
pub const CACHE_ENV: &str = "WALBURST_SQLITE_CACHE";
/// The walburst source tree this binary was built from (prepare rebuilds walburst from it).
pub const SOURCE_TREE: &str = env!("CARGO_MANIFEST_DIR");
/// File in a prepared directory describing it.
pub const MANIFEST: &str = "prepared.json";
/// The walburst binary in a prepared directory.
pub const BINARY: &str = "walburst";
/// The shared library in a prepared directory (its soname).
pub const LIBRARY: &str = "libsqlite3.so.0";

/// What `prepared.json` records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prepared {
    pub sqlite_version: SqliteVersion,
    pub sqlite_source_id: String,
    pub libsqlite3_sys: String,
    /// Where the amalgamation came from when not from that crate (`npm better-sqlite3@12.6.2`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amalgamation: Option<String>,
    /// Hash of the walburst sources the binary was built from; a different tree re-prepares.
    pub source_fingerprint: String,
    pub prepared_at: String,
    pub prepare_secs: f64,
    /// Bytes in the prepared directory.
    pub bytes: u64,
}

/// The cache root: `$WALBURST_SQLITE_CACHE`, else `<source tree>/target/walburst-sqlite`.
pub fn root() -> PathBuf {
    std::env::var_os(CACHE_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(SOURCE_TREE)
                .join("target")
                .join("walburst-sqlite")
        })
}

pub fn version_dir(v: SqliteVersion) -> PathBuf {
    root().join(v.to_string())
}

/// The prepared binary for `v`.
pub fn binary(v: SqliteVersion) -> PathBuf {
    version_dir(v).join(BINARY)
}

/// Why the release cache or the source tree a prepare builds from cannot be used; each
/// names the path it is about.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The walburst checkout this binary was built from is no longer there.
    #[error(
        "preparing another SQLite rebuilds walburst from its source tree, and the tree this binary was built from ({}) is gone; run `walburst sqlite prepare` from a binary built in a walburst checkout (`cargo run --release -- sqlite prepare VERSION`)",
        tree.display()
    )]
    SourceTreeGone { tree: PathBuf },
    #[error("cannot create the cache {}", root.display())]
    CreateRoot {
        root: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open {}", path.display())]
    OpenLock {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot lock {}", path.display())]
    Lock {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Another prepare held the lock past the deadline (or a stale holder never let go).
    #[error(
        "another prepare held {} for more than {minutes} minutes; if none is running, delete that file",
        path.display()
    )]
    LockHeld { path: PathBuf, minutes: u64 },
}

/// The walburst source tree, or why it cannot be used to build.
pub fn source_tree() -> Result<PathBuf, CacheError> {
    usable_tree(PathBuf::from(SOURCE_TREE))
}

fn usable_tree(tree: PathBuf) -> Result<PathBuf, CacheError> {
    if tree.join("Cargo.toml").is_file() && tree.join("harness").join("lib.rs").is_file() {
        Ok(tree)
    } else {
        Err(CacheError::SourceTreeGone { tree })
    }
}

/// Hash of everything that goes into a walburst build: `Cargo.toml`, `Cargo.lock` and every
/// file under `harness/` and `scenarios/` (shipped scenarios are embedded), by path and
/// content, in sorted order.
pub fn source_fingerprint(tree: &Path) -> String {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p);
            }
        }
    }
    let mut files = vec![tree.join("Cargo.toml"), tree.join("Cargo.lock")];
    walk(&tree.join("harness"), &mut files);
    walk(&tree.join("scenarios"), &mut files);
    files.sort();
    let mut h = Sha256::new();
    for f in files {
        let rel = f.strip_prefix(tree).unwrap_or(&f);
        h.update(rel.to_string_lossy().as_bytes());
        h.update([0]);
        h.update(std::fs::read(&f).unwrap_or_default());
        h.update([0]);
    }
    let digest: [u8; 32] = h.finalize().into();
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// The manifest of a prepared directory, if it is complete.
pub fn read_prepared(v: SqliteVersion) -> Option<Prepared> {
    let dir = version_dir(v);
    if !dir.join(BINARY).is_file() || !dir.join(LIBRARY).is_file() {
        return None;
    }
    let text = std::fs::read_to_string(dir.join(MANIFEST)).ok()?;
    serde_json::from_str(&text).ok()
}

/// Prepared for `v` from the current source tree (so it runs the same walburst code).
pub fn is_current(p: &Prepared) -> bool {
    source_tree().is_ok_and(|t| source_fingerprint(&t) == p.source_fingerprint)
}

/// Total size of the files under `dir` (symlinks not followed).
pub fn dir_bytes(dir: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_bytes(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map(|m| m.len()).unwrap_or(0),
            _ => 0,
        })
        .sum()
}

/// An exclusive lock on the cache, held while preparing; released on drop.
pub struct CacheLock {
    _file: File,
}

/// How long a prepare waits for another one to finish.
const LOCK_DEADLINE: Duration = Duration::from_secs(30 * 60);

/// Takes the cache lock, waiting (with a deadline) while another prepare holds it;
/// `waiting` is told once, with the lock's path, when it has to wait.
pub fn lock(waiting: &mut dyn FnMut(&Path)) -> Result<CacheLock, CacheError> {
    use rustix::fs::{FlockOperation, flock};
    let root = root();
    if let Err(source) = std::fs::create_dir_all(&root) {
        return Err(CacheError::CreateRoot { root, source });
    }
    let path = root.join(".lock");
    let file = match File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
    {
        Ok(f) => f,
        Err(source) => return Err(CacheError::OpenLock { path, source }),
    };
    let start = Instant::now();
    let mut told = false;
    loop {
        match flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => return Ok(CacheLock { _file: file }),
            Err(rustix::io::Errno::WOULDBLOCK) => {
                if !told {
                    waiting(&path);
                    told = true;
                }
                if start.elapsed() > LOCK_DEADLINE {
                    return Err(CacheError::LockHeld {
                        path,
                        minutes: LOCK_DEADLINE.as_secs() / 60,
                    });
                }
                std::thread::sleep(Duration::from_millis(500));
            }
            Err(e) => {
                return Err(CacheError::Lock {
                    path,
                    source: e.into(),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tree_without_the_sources_is_refused_by_its_path() {
        assert!(source_tree().is_ok(), "the tests run in the checkout");
        let gone = tempfile::tempdir().unwrap();
        match usable_tree(gone.path().to_path_buf()) {
            Err(CacheError::SourceTreeGone { tree }) => assert_eq!(tree, gone.path()),
            other => panic!("expected the tree named, got {other:?}"),
        }
    }
}
