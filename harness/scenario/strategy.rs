//! `[strategy]`: the lock strategy under test (a global flock write lock, the init lock,
//! retries).

use serde::{Deserialize, Serialize};

use super::range;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Strategy {
    pub write_lock: WriteLock,
    pub write_lock_wait: LockWait,
    pub write_lock_poll_ms: u32,
    pub write_lock_timeout_ms: u32,
    pub write_lock_scope: LockScope,
    /// Also hold the global write lock around checkpoint ops (transaction scope only).
    pub lock_checkpoints: bool,
    pub init_lock: InitLock,
    pub init_lock_poll_ms: u32,
    pub init_lock_timeout_ms: u32,
    /// Extra attempts of BEGIN IMMEDIATE / COMMIT after "database is locked".
    pub retries: u32,
    /// Inclusive range of the seeded sleep before each retry, in milliseconds.
    #[serde(deserialize_with = "range::exactly_two")]
    pub retry_jitter_ms: [u32; 2],
}

impl Default for Strategy {
    fn default() -> Self {
        Strategy {
            write_lock: WriteLock::None,
            write_lock_wait: LockWait::Blocking,
            write_lock_poll_ms: 50,
            write_lock_timeout_ms: 120_000,
            write_lock_scope: LockScope::Transaction,
            lock_checkpoints: false,
            init_lock: InitLock::None,
            init_lock_poll_ms: 50,
            init_lock_timeout_ms: 10_000,
            retries: 0,
            retry_jitter_ms: [20, 150],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WriteLock {
    None,
    /// An exclusive `flock` on `<db>.lock`, shared by every writer of every process.
    Flock,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LockWait {
    Blocking,
    /// Non-blocking attempts every `*_poll_ms` until `*_timeout_ms`.
    Poll,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LockScope {
    /// From before BEGIN IMMEDIATE to after COMMIT/ROLLBACK.
    Transaction,
    /// From before the connection opens to after it closes.
    Connection,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InitLock {
    None,
    Blocking,
    /// Polled; after the timeout the connection proceeds without the lock (the field app's
    /// behaviour).
    Poll,
}
