//! The file-set watch: every file that appears in the database directory during the run,
//! seen through inotify (so a sidecar created and deleted mid-run still counts), plus a
//! listing at the start and at the end.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use notify::{RecommendedWatcher, RecursiveMode, Watcher};

pub struct FileWatch {
    dir: PathBuf,
    seen: Arc<Mutex<BTreeSet<String>>>,
    watcher: Option<RecommendedWatcher>,
}

fn list(dir: &Path, into: &mut BTreeSet<String>) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            into.insert(e.file_name().to_string_lossy().into_owned());
        }
    }
}

impl FileWatch {
    pub fn start(dir: &Path) -> notify::Result<FileWatch> {
        let seen = Arc::new(Mutex::new(BTreeSet::new()));
        let sink = Arc::clone(&seen);
        let watched = dir.to_path_buf();
        let mut watcher =
            notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
                if let Ok(ev) = res {
                    let mut set = sink.lock().unwrap_or_else(|p| p.into_inner());
                    // Events on the directory itself name the directory, not a file in it.
                    let in_dir = ev
                        .paths
                        .iter()
                        .filter(|p| p.parent() == Some(watched.as_path()));
                    for p in in_dir {
                        if let Some(name) = p.file_name() {
                            set.insert(name.to_string_lossy().into_owned());
                        }
                    }
                }
            })?;
        watcher.watch(dir, RecursiveMode::NonRecursive)?;
        list(dir, &mut seen.lock().unwrap_or_else(|p| p.into_inner()));
        Ok(FileWatch {
            dir: dir.to_path_buf(),
            seen,
            watcher: Some(watcher),
        })
    }

    /// Stops watching and returns every name seen, sorted.
    pub fn finish(mut self) -> Vec<String> {
        // Dropping the watcher joins its thread, so no event is still in flight.
        drop(self.watcher.take());
        let mut set = self.seen.lock().unwrap_or_else(|p| p.into_inner()).clone();
        list(&self.dir, &mut set);
        set.into_iter().collect()
    }
}
