//! Lockstep steps, typed: what an actor asks to do ([`StepAction`]) and what came of it
//! ([`StepResult`]). These are the `action` and `result` of the protocol's `want` and `did`
//! messages (PROTOCOL.md, "Lockstep mode"); gate, coordinator and schedulers match on the
//! kinds, never on text. The text forms (`Display`) are what the trace hash covers.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One SQL-level action of an actor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StepAction {
    /// Opening a connection and applying its settings.
    Open,
    /// The schema setup batch (`setup = "race"`).
    Schema,
    Close,
    /// One non-blocking attempt at a file lock. `lock` names which one, when the worker knows
    /// (the coordinator then knows that a held lock turns away every attempt on it); without
    /// a name the lock is unknown and never grouped with another.
    Flock {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        lock: Option<LockName>,
    },
    /// One non-blocking attempt at a lock of the app's own process (a Python
    /// `threading.Lock` the adapter tracks), by name: `ok` took it, `would_block` found it
    /// held by another actor of the same process, which lets it go only between its own
    /// steps. Such a lock is invisible to other processes and to SQLite.
    AppLock {
        lock: AppLockName,
    },
    /// `BEGIN IMMEDIATE` or `BEGIN EXCLUSIVE` (or a transaction the gate knows writes at
    /// once): when it returns OK the actor holds SQLite's write lock.
    Begin,
    /// A deferred transaction (`BEGIN`, `BEGIN DEFERRED`, an outermost `SAVEPOINT`): it holds
    /// no write lock until its first write statement ([`StepAction::Write`]) returns OK,
    /// as SQLite takes it.
    BeginDeferred,
    Commit,
    Rollback,
    /// Any other statement; the label is hashed into the trace, never interpreted.
    Statement {
        label: String,
    },
    /// A statement that writes (INSERT, UPDATE, DELETE, REPLACE, DDL): inside a deferred
    /// transaction the first one that returns OK takes the write lock; in autocommit it
    /// takes and releases it within the step.
    Write {
        label: String,
    },
    /// A corruption guard's probe.
    Guard,
    Checkpoint,
    /// Resuming a step that paused inside SQLite at an `[io]` `yield` point (its `did` says
    /// `paused`); `point` names the VFS call (`unfetch`, ...). Its `did` is the paused
    /// step's own result, and the coordinator applies that step's meaning then.
    /// At `[lockstep] points = "shm"` every shared-memory call of the database is such a
    /// point, and `shm` says which call (slot and kind) the resume performs first.
    Resume {
        point: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        shm: Option<ShmCall>,
    },
}

/// A wal-index (`-shm`) lock slot, as `wal.c` numbers them: WRITE = 0, CKPT = 1,
/// RECOVER = 2, READ(i) = 3 + i. On the wire and in traces: `WRITE`, `CKPT`, `RECOVER`,
/// `READ(i)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum ShmSlot {
    Write,
    Ckpt,
    Recover,
    Read(u8),
}

/// A slot name that is none of `WRITE`, `CKPT`, `RECOVER`, `READ(0)`..`READ(4)`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a shm lock slot is WRITE, CKPT, RECOVER or READ(0)..READ(4): {0:?}")]
pub struct BadShmSlot(String);

impl ShmSlot {
    /// SQLite's `WAL_NREADER`: READ(0) to READ(4).
    pub const READERS: u8 = 5;

    /// The slot of `xShmLock`'s `offset`, or `None` past the last reader.
    pub fn of_offset(offset: i32) -> Option<ShmSlot> {
        match offset {
            0 => Some(ShmSlot::Write),
            1 => Some(ShmSlot::Ckpt),
            2 => Some(ShmSlot::Recover),
            o if (3..3 + i32::from(Self::READERS)).contains(&o) => {
                Some(ShmSlot::Read((o - 3) as u8))
            }
            _ => None,
        }
    }
}

impl fmt::Display for ShmSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShmSlot::Write => f.write_str("WRITE"),
            ShmSlot::Ckpt => f.write_str("CKPT"),
            ShmSlot::Recover => f.write_str("RECOVER"),
            ShmSlot::Read(i) => write!(f, "READ({i})"),
        }
    }
}

impl TryFrom<String> for ShmSlot {
    type Error = BadShmSlot;

    fn try_from(s: String) -> Result<ShmSlot, BadShmSlot> {
        let slot = match s.as_str() {
            "WRITE" => Some(ShmSlot::Write),
            "CKPT" => Some(ShmSlot::Ckpt),
            "RECOVER" => Some(ShmSlot::Recover),
            _ => s
                .strip_prefix("READ(")
                .and_then(|r| r.strip_suffix(')'))
                .and_then(|i| i.parse::<u8>().ok())
                .filter(|i| *i < Self::READERS)
                .map(ShmSlot::Read),
        };
        slot.ok_or(BadShmSlot(s))
    }
}

impl From<ShmSlot> for String {
    fn from(s: ShmSlot) -> String {
        s.to_string()
    }
}

/// Whether an `xShmLock` call takes or lets go of its slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShmLockOp {
    Lock,
    Unlock,
}

/// An `xShmLock` call's mode (`SQLITE_SHM_SHARED` or `SQLITE_SHM_EXCLUSIVE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShmMode {
    Shared,
    Exclusive,
}

/// A call below SQL that is a lockstep point at `points = "shm"`: an `xShmLock` of the
/// database's wal-index (from `slot`, `n` slots: the WAL restart takes READ(1)..READ(4) at
/// once), an `xShmBarrier`, the checkpoint's `SQLITE_FCNTL_CKPT_START`/`CKPT_DONE` and its
/// first backfill write, the WAL-header write, or the checkpoint's `xUnfetch(db, 0, NULL)`
/// (the one VFS call inside the WAL-reset window, docs/wal-reset-window.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "call", rename_all = "snake_case")]
pub enum ShmCall {
    Lock {
        slot: ShmSlot,
        n: u8,
        op: ShmLockOp,
        mode: ShmMode,
    },
    Barrier,
    CkptStart,
    CkptDone,
    /// The checkpoint's first write to the main database file between `CKPT_START` and
    /// `CKPT_DONE`: one point per backfill, not one per page. The checkpointer holds READ(0)
    /// exclusively while it copies, so no other connection reads the pages being copied;
    /// a pause between two page writes could change nothing another process observes, and
    /// would cost a step per frame.
    Backfill,
    /// An `xWrite` of the `-wal` at offset 0: the 32-byte WAL header a writer writes when it
    /// (re)starts the WAL (`walFrames()`, frame 1 of a new generation).
    WalHeader,
    /// `xUnfetch(main db, 0, NULL)`: with `mmap_size = 0` only a checkpoint whose wal-index
    /// header read changed makes it, between that read and its `nBackfill < mxFrame` test.
    DbUnfetch,
}

impl ShmCall {
    /// The VFS call, as a resume's `point` names it.
    pub fn point(&self) -> &'static str {
        match self {
            ShmCall::Lock { .. } => "shm_lock",
            ShmCall::Barrier => "shm_barrier",
            ShmCall::CkptStart => "ckpt_start",
            ShmCall::CkptDone => "ckpt_done",
            ShmCall::Backfill => "backfill",
            ShmCall::WalHeader => "wal_header",
            ShmCall::DbUnfetch => "db_unfetch",
        }
    }

    /// The `xShmLock` of SQLite's arguments: `None` for a slot past the last reader or
    /// flags that are not one of lock/unlock with shared/exclusive.
    pub fn of_lock(offset: i32, n: i32, flags: i32) -> Option<ShmCall> {
        const UNLOCK: i32 = 1;
        const LOCK: i32 = 2;
        const SHARED: i32 = 4;
        const EXCLUSIVE: i32 = 8;
        let op = match flags & (UNLOCK | LOCK) {
            UNLOCK => ShmLockOp::Unlock,
            LOCK => ShmLockOp::Lock,
            _ => return None,
        };
        let mode = match flags & (SHARED | EXCLUSIVE) {
            SHARED => ShmMode::Shared,
            EXCLUSIVE => ShmMode::Exclusive,
            _ => return None,
        };
        Some(ShmCall::Lock {
            slot: ShmSlot::of_offset(offset)?,
            n: u8::try_from(n).ok().filter(|n| *n >= 1)?,
            op,
            mode,
        })
    }

    /// Whether performing the call may let another process's lock attempt through.
    pub fn releases(&self) -> bool {
        matches!(
            self,
            ShmCall::Lock {
                op: ShmLockOp::Unlock,
                ..
            }
        )
    }
}

impl fmt::Display for ShmCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShmCall::Lock { slot, n, op, mode } => {
                let op = match op {
                    ShmLockOp::Lock => "shm_lock",
                    ShmLockOp::Unlock => "shm_unlock",
                };
                let mode = match mode {
                    ShmMode::Shared => "shared",
                    ShmMode::Exclusive => "exclusive",
                };
                match (slot, n) {
                    (_, 1) => write!(f, "{op}:{slot}:{mode}"),
                    (ShmSlot::Read(i), n) => write!(f, "{op}:READ({i}..{}):{mode}", i + n - 1),
                    (slot, n) => write!(f, "{op}:{slot}+{n}:{mode}"),
                }
            }
            ShmCall::Barrier
            | ShmCall::CkptStart
            | ShmCall::CkptDone
            | ShmCall::Backfill
            | ShmCall::WalHeader
            | ShmCall::DbUnfetch => f.write_str(self.point()),
        }
    }
}

/// Which file lock a `flock` step tries: walburst's two sidecar locks by role, any other
/// by its file name (never a path: traces must not carry paths, and a trace hash must not
/// depend on the run directory). On the wire it is one string, `"init"`, `"write"` or the
/// file name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum LockName {
    /// The first-connect lock, `<db>.init.lock`.
    Init,
    /// The global write lock, `<db>.lock`.
    Write,
    /// Another lock file (an app's own), by its file name.
    File(String),
}

/// A lock name that is not a file name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a flock's lock is a file name, not a path or empty: {0:?}")]
pub struct BadLockName(String);

/// The name of an app's in-process lock (`app_lock` steps): whatever the adapter calls it
/// (the Python adapter: `module.attribute`), one line of at most 200 bytes, never empty, so
/// that it reads well in a trace line.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AppLockName(String);

/// An app lock name that is empty, too long or not one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an app_lock's lock is a name of 1 to 200 bytes without control characters: {0:?}")]
pub struct BadAppLockName(String);

impl TryFrom<String> for AppLockName {
    type Error = BadAppLockName;

    fn try_from(s: String) -> Result<AppLockName, BadAppLockName> {
        if s.is_empty() || s.len() > 200 || s.chars().any(char::is_control) {
            return Err(BadAppLockName(s));
        }
        Ok(AppLockName(s))
    }
}

impl From<AppLockName> for String {
    fn from(l: AppLockName) -> String {
        l.0
    }
}

impl fmt::Display for AppLockName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl LockName {
    /// Names the lock file `file` of the database file `db` (both file names, no
    /// directories): the sidecar locks by role, anything else by its own name.
    pub fn of_file(db: &str, file: &str) -> LockName {
        match file.strip_prefix(db) {
            Some(".init.lock") => LockName::Init,
            Some(".lock") => LockName::Write,
            _ => LockName::File(file.to_owned()),
        }
    }
}

impl TryFrom<String> for LockName {
    type Error = BadLockName;

    fn try_from(s: String) -> Result<LockName, BadLockName> {
        Ok(match s.as_str() {
            "init" => LockName::Init,
            "write" => LockName::Write,
            "" | "." | ".." => return Err(BadLockName(s)),
            _ if s.contains(['/', '\\', '\0']) => return Err(BadLockName(s)),
            _ => LockName::File(s),
        })
    }
}

impl From<LockName> for String {
    fn from(l: LockName) -> String {
        l.to_string()
    }
}

impl fmt::Display for LockName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LockName::Init => f.write_str("init"),
            LockName::Write => f.write_str("write"),
            LockName::File(name) => f.write_str(name),
        }
    }
}

impl StepAction {
    /// A flock attempt on a named lock.
    pub fn flock(lock: LockName) -> StepAction {
        StepAction::Flock { lock: Some(lock) }
    }

    /// An attempt at the app's in-process lock `name`.
    ///
    /// # Panics
    /// When `name` is not a valid [`AppLockName`] (tests and literals only).
    pub fn app_lock(name: &str) -> StepAction {
        StepAction::AppLock {
            lock: AppLockName::try_from(name.to_owned()).expect("a valid app lock name"),
        }
    }

    pub fn statement(label: impl Into<String>) -> StepAction {
        StepAction::Statement {
            label: label.into(),
        }
    }

    pub fn write(label: impl Into<String>) -> StepAction {
        StepAction::Write {
            label: label.into(),
        }
    }
}

impl fmt::Display for StepAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self {
            StepAction::Open => "open",
            StepAction::Schema => "schema",
            StepAction::Close => "close",
            StepAction::Flock { lock: None } => "flock",
            StepAction::Flock { lock: Some(l) } => return write!(f, "flock:{l}"),
            StepAction::AppLock { lock } => return write!(f, "app_lock:{lock}"),
            StepAction::Begin => "begin",
            StepAction::BeginDeferred => "begin_deferred",
            StepAction::Write { label } => return write!(f, "write:{label}"),
            StepAction::Commit => "commit",
            StepAction::Rollback => "rollback",
            StepAction::Statement { label } => return write!(f, "statement:{label}"),
            StepAction::Guard => "guard",
            StepAction::Checkpoint => "checkpoint",
            StepAction::Resume { point, shm: None } => return write!(f, "resume:{point}"),
            StepAction::Resume { shm: Some(c), .. } => return write!(f, "resume:{c}"),
        };
        f.write_str(kind)
    }
}

/// What a granted step came to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StepResult {
    Ok,
    /// SQLite said the database is locked (`SQLITE_BUSY*`, `SQLITE_LOCKED*`), or a checkpoint
    /// could not finish because of readers/writers.
    Busy {
        code: String,
    },
    /// A non-blocking flock attempt found the lock held.
    WouldBlock,
    /// Any other failure, by code name (never message text: traces must not carry paths).
    Error {
        code: String,
    },
    /// A guard reported corruption.
    Fired,
    /// The step stopped inside SQLite at a `yield` point; its actor parks a `resume`.
    Paused,
    /// Paused as [`StepResult::Paused`], right after the step's own shm lock attempt (the
    /// call its `resume` performed) came back `SQLITE_BUSY`: SQLite retries it, so the actor
    /// waits for another to let the slot go (`points = "shm"` only).
    ShmBusy,
}

impl StepResult {
    /// The step was turned away by a lock: the actor is waiting for someone else.
    pub fn is_blocked(&self) -> bool {
        matches!(self, StepResult::Busy { .. } | StepResult::WouldBlock)
    }

    pub fn is_ok(&self) -> bool {
        *self == StepResult::Ok
    }

    /// The step stopped inside SQLite and goes on at its `resume`.
    pub fn is_paused(&self) -> bool {
        matches!(self, StepResult::Paused | StepResult::ShmBusy)
    }

    /// `ok`, or `busy`/`error` by the SQLite code of a failure.
    pub fn of_sql<T>(r: &rusqlite::Result<T>) -> StepResult {
        match r {
            Ok(_) => StepResult::Ok,
            Err(e) => {
                let se = super::SqlError::from_rusqlite(e);
                if se.is_busy() {
                    StepResult::Busy { code: se.code }
                } else {
                    StepResult::Error { code: se.code }
                }
            }
        }
    }
}

impl fmt::Display for StepResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StepResult::Ok => f.write_str("ok"),
            StepResult::Busy { code } => write!(f, "busy:{code}"),
            StepResult::WouldBlock => f.write_str("would_block"),
            StepResult::Error { code } => write!(f, "error:{code}"),
            StepResult::Fired => f.write_str("fired"),
            StepResult::Paused => f.write_str("paused"),
            StepResult::ShmBusy => f.write_str("paused:shm_busy"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_forms_are_the_protocol_documents() {
        let a = serde_json::to_string(&StepAction::statement("insert event")).unwrap();
        assert_eq!(a, r#"{"kind":"statement","label":"insert event"}"#);
        assert_eq!(
            serde_json::to_string(&StepAction::Begin).unwrap(),
            r#"{"kind":"begin"}"#
        );
        let r: StepResult =
            serde_json::from_str(r#"{"kind":"busy","code":"SQLITE_BUSY_SNAPSHOT"}"#).unwrap();
        assert!(r.is_blocked());
        assert_eq!(r.to_string(), "busy:SQLITE_BUSY_SNAPSHOT");
        let w: StepResult = serde_json::from_str(r#"{"kind":"would_block"}"#).unwrap();
        assert!(w.is_blocked());
        assert!(serde_json::from_str::<StepResult>(r#"{"kind":"maybe"}"#).is_err());
        assert!(serde_json::from_str::<StepAction>(r#"{"kind":"statement"}"#).is_err());
        let d: StepAction = serde_json::from_str(r#"{"kind":"begin_deferred"}"#).unwrap();
        assert_eq!(
            (d.clone(), d.to_string()),
            (StepAction::BeginDeferred, "begin_deferred".into())
        );
        let w: StepAction =
            serde_json::from_str(r#"{"kind":"write","label":"INSERT INTO jobs"}"#).unwrap();
        assert_eq!(w.to_string(), "write:INSERT INTO jobs");
    }

    /// A flock names its lock by role or file name, never by path; one without a name (an
    /// older adapter) still parses, as an unknown lock.
    #[test]
    fn flock_steps_name_their_lock() {
        let init = StepAction::flock(LockName::Init);
        assert_eq!(
            serde_json::to_string(&init).unwrap(),
            r#"{"kind":"flock","lock":"init"}"#
        );
        assert_eq!(init.to_string(), "flock:init");
        let own: StepAction =
            serde_json::from_str(r#"{"kind":"flock","lock":"app.pid.lock"}"#).unwrap();
        assert_eq!(
            own,
            StepAction::flock(LockName::File("app.pid.lock".into()))
        );
        assert_eq!(own.to_string(), "flock:app.pid.lock");
        let unknown: StepAction = serde_json::from_str(r#"{"kind":"flock"}"#).unwrap();
        assert_eq!(unknown, StepAction::Flock { lock: None });
        assert_eq!(
            serde_json::to_string(&unknown).unwrap(),
            r#"{"kind":"flock"}"#
        );
        assert_eq!(unknown.to_string(), "flock");
        for bad in ["", "/tmp/x/kanban.db.lock", "a/b", ".."] {
            let line = format!(r#"{{"kind":"flock","lock":{bad:?}}}"#);
            assert!(
                serde_json::from_str::<StepAction>(&line).is_err(),
                "{line} parsed"
            );
        }
        let app: StepAction =
            serde_json::from_str(r#"{"kind":"app_lock","lock":"app.DB_LOCK"}"#).unwrap();
        assert_eq!(app, StepAction::app_lock("app.DB_LOCK"));
        assert_eq!(app.to_string(), "app_lock:app.DB_LOCK");
        assert_eq!(
            serde_json::to_string(&app).unwrap(),
            r#"{"kind":"app_lock","lock":"app.DB_LOCK"}"#
        );
        let long = "x".repeat(201);
        for bad in [
            r#"{"kind":"app_lock"}"#,
            r#"{"kind":"app_lock","lock":""}"#,
            r#"{"kind":"app_lock","lock":"a\nb"}"#,
        ] {
            assert!(
                serde_json::from_str::<StepAction>(bad).is_err(),
                "{bad} parsed"
            );
        }
        let line = format!(r#"{{"kind":"app_lock","lock":"{long}"}}"#);
        assert!(serde_json::from_str::<StepAction>(&line).is_err());
        assert_eq!(
            LockName::of_file("kanban.db", "kanban.db.init.lock"),
            LockName::Init
        );
        assert_eq!(
            LockName::of_file("kanban.db", "kanban.db.lock"),
            LockName::Write
        );
        assert_eq!(
            LockName::of_file("kanban.db", "other.db.lock"),
            LockName::File("other.db.lock".into())
        );
    }
}
