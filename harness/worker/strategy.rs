//! Lock strategies: the global sidecar write lock (`<db>.lock`) and the first-connect lock
//! (`<db>.init.lock`), both `flock(2)` through std's `File::lock` family.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::scenario::LockWait;

/// A held flock; released when dropped.
pub struct Held {
    file: File,
}

impl Drop for Held {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

/// What trying to take a lock came to.
pub enum Acquired {
    Held(Held),
    /// Polling ran out of time.
    TimedOut,
}

fn open_lock_file(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
}

/// Takes an exclusive flock on `path`, blocking or polling.
pub fn acquire(
    path: &Path,
    wait: LockWait,
    poll_ms: u32,
    timeout_ms: u32,
) -> std::io::Result<Acquired> {
    // A descriptor per acquisition: flock belongs to the open file description, so two
    // threads of one process contend exactly like two processes.
    let file = open_lock_file(path)?;
    match wait {
        LockWait::Blocking => {
            file.lock()?;
            Ok(Acquired::Held(Held { file }))
        }
        LockWait::Poll => {
            let deadline = Instant::now() + Duration::from_millis(u64::from(timeout_ms));
            loop {
                match file.try_lock() {
                    Ok(()) => return Ok(Acquired::Held(Held { file })),
                    Err(TryLockError::WouldBlock) => {}
                    Err(TryLockError::Error(e)) => return Err(e),
                }
                if Instant::now() >= deadline {
                    return Ok(Acquired::TimedOut);
                }
                std::thread::sleep(Duration::from_millis(u64::from(poll_ms)));
            }
        }
    }
}

/// One non-blocking attempt (lockstep takes locks step by step, never by waiting).
pub fn try_acquire(path: &Path) -> std::io::Result<Option<Held>> {
    let file = open_lock_file(path)?;
    match file.try_lock() {
        Ok(()) => Ok(Some(Held { file })),
        Err(TryLockError::WouldBlock) => Ok(None),
        Err(TryLockError::Error(e)) => Err(e),
    }
}
