//! The file-set watch: every file that appears in the database directory during the run,
//! seen through inotify (so a sidecar created and deleted mid-run still counts), plus a
//! listing at the start and at the end.
//!
//! Only creations and renames into the directory are subscribed to. Watching every event
//! (as a general file-watching layer does) wakes the runner on each write to `-wal`; that cost
//! about a quarter of a 20-worker burst's throughput on 2 cores (BENCHMARKS.md).
//!
//! The reader thread sleeps in `poll(2)` on the inotify descriptor and on a stop socket, so
//! it wakes exactly when a file appears or the run ends: no polling interval. A watch that
//! cannot be trusted (a read error, or the kernel's event queue overflowing, which drops
//! events) is not a quiet "nothing seen": [`FileWatch::finish`] returns it as an error, and
//! the checks turn it into a verification error.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use inotify::{EventMask, Inotify, WatchMask};
use rustix::event::{PollFd, PollFlags, poll};

use crate::observe::clock::monotonic_ns;

/// Why the set of files seen during the run may be incomplete.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WatchError {
    #[error("the inotify event queue overflowed: files created during the run may be missing")]
    Overflow,
    #[error("reading inotify events failed: {0}")]
    Read(String),
}

/// When a name was first seen (for the timelines' marks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sighting {
    /// CLOCK_MONOTONIC ns.
    pub t_ns: u64,
    /// The lockstep step counter the runner shares with the watch, read at that moment
    /// (steps recorded so far; 0 in free mode, where nobody counts).
    pub steps_done: u64,
}

/// What the reader thread collected.
#[derive(Default)]
struct Seen {
    names: BTreeMap<String, Sighting>,
    error: Option<WatchError>,
}

pub struct FileWatch {
    dir: PathBuf,
    seen: Arc<Mutex<Seen>>,
    steps: Arc<AtomicU64>,
    /// Writing to (or dropping) this end wakes the reader for its last read.
    stop: UnixStream,
    reader: Option<JoinHandle<()>>,
}

fn sight(steps: &AtomicU64) -> Sighting {
    Sighting {
        t_ns: monotonic_ns(),
        steps_done: steps.load(Ordering::Acquire),
    }
}

fn list(dir: &Path, steps: &AtomicU64, into: &mut BTreeMap<String, Sighting>) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        let now = sight(steps);
        for e in entries.flatten() {
            into.entry(e.file_name().to_string_lossy().into_owned())
                .or_insert(now);
        }
    }
}

/// Reads every queued event into `seen`; false when the watch must end (an error).
fn drain(inotify: &mut Inotify, buffer: &mut [u8], seen: &Mutex<Seen>, steps: &AtomicU64) -> bool {
    loop {
        match inotify.read_events(buffer) {
            Ok(events) => {
                let mut set = seen.lock().unwrap_or_else(|p| p.into_inner());
                let now = sight(steps);
                for ev in events {
                    if ev.mask.contains(EventMask::Q_OVERFLOW) {
                        set.error.get_or_insert(WatchError::Overflow);
                    }
                    if let Some(name) = ev.name {
                        set.names
                            .entry(name.to_string_lossy().into_owned())
                            .or_insert(now);
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return true,
            Err(e) => {
                let mut set = seen.lock().unwrap_or_else(|p| p.into_inner());
                set.error.get_or_insert(WatchError::Read(e.to_string()));
                return false;
            }
        }
    }
}

impl FileWatch {
    /// Starts watching `dir`. `steps` is the lockstep step counter (steps recorded so far),
    /// which the runner keeps up to date; each sighting carries its value.
    pub fn start(dir: &Path, steps: Arc<AtomicU64>) -> std::io::Result<FileWatch> {
        let mut inotify = Inotify::init()?;
        inotify
            .watches()
            .add(dir, WatchMask::CREATE | WatchMask::MOVED_TO)?;
        let (stop, wake) = UnixStream::pair()?;
        let seen = Arc::new(Mutex::new(Seen::default()));
        let sink = Arc::clone(&seen);
        let counter = Arc::clone(&steps);
        let reader = std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            loop {
                let mut fds = [
                    PollFd::new(&inotify, PollFlags::IN),
                    PollFd::new(&wake, PollFlags::IN),
                ];
                if let Err(e) = poll(&mut fds, None) {
                    if e == rustix::io::Errno::INTR {
                        continue;
                    }
                    let mut set = sink.lock().unwrap_or_else(|p| p.into_inner());
                    set.error.get_or_insert(WatchError::Read(e.to_string()));
                    return;
                }
                let stopping = !fds[1].revents().is_empty();
                // Read what is queued before honouring a stop, so nothing is left behind.
                if !drain(&mut inotify, &mut buffer, &sink, &counter) || stopping {
                    return;
                }
            }
        });
        list(
            dir,
            &steps,
            &mut seen.lock().unwrap_or_else(|p| p.into_inner()).names,
        );
        Ok(FileWatch {
            dir: dir.to_path_buf(),
            seen,
            steps,
            stop,
            reader: Some(reader),
        })
    }

    /// Stops watching and returns every name seen, sorted, with when it was first seen
    /// (names present at the start carry the start's sighting), or why that set cannot be
    /// trusted.
    pub fn finish(mut self) -> Result<BTreeMap<String, Sighting>, WatchError> {
        // A failed write still wakes the reader: the socket closes when `self` drops, but
        // the join below needs it awake now.
        if self.stop.write_all(b"x").is_err() {
            let _ = self.stop.shutdown(std::net::Shutdown::Both);
        }
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        let mut seen = std::mem::take(&mut *self.seen.lock().unwrap_or_else(|p| p.into_inner()));
        if let Some(e) = seen.error {
            return Err(e);
        }
        list(&self.dir, &self.steps, &mut seen.names);
        Ok(seen.names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sees_a_file_created_and_removed_while_watching() {
        let dir = tempfile::tempdir().unwrap();
        let steps = Arc::new(AtomicU64::new(0));
        let watch = FileWatch::start(dir.path(), Arc::clone(&steps)).unwrap();
        let before = dir.path().join("before.db.lock");
        std::fs::write(&before, b"").unwrap();
        // The runner moves the counter on; a name seen later carries the new value.
        steps.store(41, Ordering::Release);
        let p = dir.path().join("x.db.lock");
        std::fs::write(&p, b"").unwrap();
        std::fs::remove_file(&p).unwrap();
        std::fs::remove_file(&before).unwrap();
        let seen = watch.finish().unwrap();
        let names: Vec<&String> = seen.keys().collect();
        assert_eq!(names, ["before.db.lock", "x.db.lock"]);
        assert_eq!(seen["x.db.lock"].steps_done, 41);
        assert!(seen["before.db.lock"].t_ns <= seen["x.db.lock"].t_ns);
    }

    #[test]
    fn an_overflowing_queue_is_an_error_not_a_short_list() {
        // The kernel's default queue holds 16384 events; creating more files than that
        // before the reader can drain them overflows it (the reader is held off by taking
        // the lock it needs to record names).
        let dir = tempfile::tempdir().unwrap();
        let watch = FileWatch::start(dir.path(), Arc::default()).unwrap();
        let limit: usize = std::fs::read_to_string("/proc/sys/fs/inotify/max_queued_events")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(16384);
        {
            let _held = watch.seen.lock().unwrap();
            for i in 0..limit + 512 {
                std::fs::File::create(dir.path().join(format!("f{i}"))).unwrap();
            }
        }
        assert_eq!(watch.finish(), Err(WatchError::Overflow));
    }
}
