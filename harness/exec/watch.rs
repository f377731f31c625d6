//! The file-set watch: every file that appears in the database directory during the run,
//! seen through inotify (so a sidecar created and deleted mid-run still counts), plus a
//! listing at the start and at the end.
//!
//! Only creations and renames into the directory are subscribed to. Watching every event
//! (as a general file-watching layer does) wakes the runner on each write to `-wal`; that cost
//! about a quarter of a 20-worker burst's throughput on 2 cores (BENCHMARKS.md).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use inotify::{Inotify, WatchMask};

use super::clock::monotonic_ns;

pub struct FileWatch {
    dir: PathBuf,
    /// Name -> CLOCK_MONOTONIC ns of its first sight (for the timeline's marks).
    seen: Arc<Mutex<BTreeMap<String, u64>>>,
    stop: Arc<AtomicBool>,
    reader: Option<JoinHandle<()>>,
}

fn list(dir: &Path, into: &mut BTreeMap<String, u64>) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        let now = monotonic_ns();
        for e in entries.flatten() {
            into.entry(e.file_name().to_string_lossy().into_owned())
                .or_insert(now);
        }
    }
}

/// How often the reader looks for queued events; the kernel queues them meanwhile, so this
/// bounds only how late they are read, not whether.
const POLL: Duration = Duration::from_millis(20);

impl FileWatch {
    pub fn start(dir: &Path) -> std::io::Result<FileWatch> {
        let mut inotify = Inotify::init()?;
        inotify
            .watches()
            .add(dir, WatchMask::CREATE | WatchMask::MOVED_TO)?;
        let seen = Arc::new(Mutex::new(BTreeMap::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (sink, halt) = (Arc::clone(&seen), Arc::clone(&stop));
        let reader = std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            loop {
                // Read what is queued before honouring a stop, so nothing is left behind.
                match inotify.read_events(&mut buffer) {
                    Ok(events) => {
                        let mut set = sink.lock().unwrap_or_else(|p| p.into_inner());
                        let now = monotonic_ns();
                        for ev in events {
                            if let Some(name) = ev.name {
                                set.entry(name.to_string_lossy().into_owned())
                                    .or_insert(now);
                            }
                        }
                        continue;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(_) => return,
                }
                if halt.load(Ordering::SeqCst) {
                    return;
                }
                std::thread::sleep(POLL);
            }
        });
        list(dir, &mut seen.lock().unwrap_or_else(|p| p.into_inner()));
        Ok(FileWatch {
            dir: dir.to_path_buf(),
            seen,
            stop,
            reader: Some(reader),
        })
    }

    /// Stops watching and returns every name seen, sorted, with when it was first seen
    /// (monotonic ns; names present at the start carry the start's time).
    pub fn finish(mut self) -> BTreeMap<String, u64> {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        let mut set = self.seen.lock().unwrap_or_else(|p| p.into_inner()).clone();
        list(&self.dir, &mut set);
        set
    }
}
