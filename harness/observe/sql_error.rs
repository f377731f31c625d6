//! SQLite failures as observed, by code: the vocabulary records, traces and checks share.

use rusqlite::ffi;
use serde::{Deserialize, Serialize};

/// What can fail in an op that is not SQLite: the strategy's file locks. Recorded with codes
/// of their own, so a lock timeout is never mistaken for (or counted as) a SQLite error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HarnessError {
    #[error("global write lock not acquired in time")]
    WriteLockTimeout,
    #[error("write lock: {0}")]
    WriteLockIo(String),
    #[error("init lock: {0}")]
    InitLockIo(String),
}

impl HarnessError {
    pub fn code(&self) -> &'static str {
        match self {
            HarnessError::WriteLockTimeout => "WALBURST_LOCK_TIMEOUT",
            HarnessError::WriteLockIo(_) | HarnessError::InitLockIo(_) => "WALBURST_LOCK_IO",
        }
    }
}

/// A SQLite failure as observed, by code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SqlError {
    /// Optional on the wire (adapters send the name); see [`SqlError::normalized`].
    #[serde(default)]
    pub primary: i32,
    #[serde(default)]
    pub extended: i32,
    /// `SQLITE_BUSY_SNAPSHOT` and the like; `walburst` for errors of the harness's own.
    pub code: String,
    pub message: String,
}

impl SqlError {
    pub fn from_rusqlite(err: &rusqlite::Error) -> SqlError {
        match err {
            rusqlite::Error::SqliteFailure(e, msg) => SqlError {
                primary: e.extended_code & 0xff,
                extended: e.extended_code,
                code: code_name(e.extended_code),
                message: msg.clone().unwrap_or_else(|| e.to_string()),
            },
            other => SqlError {
                primary: 0,
                extended: 0,
                code: "WALBURST_CLIENT".to_string(),
                message: other.to_string(),
            },
        }
    }

    /// A failure of the harness's own machinery, under its own code (never a SQLite code).
    pub fn harness(e: HarnessError) -> SqlError {
        SqlError {
            primary: 0,
            extended: 0,
            code: e.code().to_string(),
            message: e.to_string(),
        }
    }

    /// Fills in the numeric codes from the name when a worker sent only the name (as the
    /// protocol allows): `SQLITE_BUSY_SNAPSHOT` has primary `SQLITE_BUSY`.
    pub fn normalized(mut self) -> SqlError {
        if self.primary == 0 {
            self.primary = primary_code(&self.code).unwrap_or(0);
        }
        if self.extended == 0 {
            self.extended = self.primary;
        }
        self
    }

    pub fn is_busy(&self) -> bool {
        self.primary == ffi::SQLITE_BUSY || self.primary == ffi::SQLITE_LOCKED
    }

    /// SQLite itself says the database is damaged.
    pub fn is_corruption(&self) -> bool {
        self.primary == ffi::SQLITE_CORRUPT
            || self.primary == ffi::SQLITE_NOTADB
            || self.message.contains("malformed")
    }
}

/// The symbolic name of a (possibly extended) result code.
pub fn code_name(extended: i32) -> String {
    let known = [
        (ffi::SQLITE_BUSY, "SQLITE_BUSY"),
        (ffi::SQLITE_BUSY_RECOVERY, "SQLITE_BUSY_RECOVERY"),
        (ffi::SQLITE_BUSY_SNAPSHOT, "SQLITE_BUSY_SNAPSHOT"),
        (ffi::SQLITE_BUSY_TIMEOUT, "SQLITE_BUSY_TIMEOUT"),
        (ffi::SQLITE_LOCKED, "SQLITE_LOCKED"),
        (ffi::SQLITE_LOCKED_SHAREDCACHE, "SQLITE_LOCKED_SHAREDCACHE"),
        (ffi::SQLITE_CORRUPT, "SQLITE_CORRUPT"),
        (ffi::SQLITE_CORRUPT_INDEX, "SQLITE_CORRUPT_INDEX"),
        (ffi::SQLITE_CORRUPT_SEQUENCE, "SQLITE_CORRUPT_SEQUENCE"),
        (ffi::SQLITE_NOTADB, "SQLITE_NOTADB"),
        (ffi::SQLITE_IOERR, "SQLITE_IOERR"),
        (ffi::SQLITE_IOERR_SHORT_READ, "SQLITE_IOERR_SHORT_READ"),
        (ffi::SQLITE_IOERR_FSYNC, "SQLITE_IOERR_FSYNC"),
        (ffi::SQLITE_IOERR_WRITE, "SQLITE_IOERR_WRITE"),
        (ffi::SQLITE_IOERR_READ, "SQLITE_IOERR_READ"),
        (ffi::SQLITE_IOERR_LOCK, "SQLITE_IOERR_LOCK"),
        (ffi::SQLITE_IOERR_SHMOPEN, "SQLITE_IOERR_SHMOPEN"),
        (ffi::SQLITE_CANTOPEN, "SQLITE_CANTOPEN"),
        (ffi::SQLITE_READONLY, "SQLITE_READONLY"),
        (ffi::SQLITE_READONLY_RECOVERY, "SQLITE_READONLY_RECOVERY"),
        (ffi::SQLITE_FULL, "SQLITE_FULL"),
        (ffi::SQLITE_PROTOCOL, "SQLITE_PROTOCOL"),
        (ffi::SQLITE_CONSTRAINT, "SQLITE_CONSTRAINT"),
        (
            ffi::SQLITE_CONSTRAINT_PRIMARYKEY,
            "SQLITE_CONSTRAINT_PRIMARYKEY",
        ),
        (ffi::SQLITE_CONSTRAINT_UNIQUE, "SQLITE_CONSTRAINT_UNIQUE"),
        (ffi::SQLITE_ERROR, "SQLITE_ERROR"),
    ];
    known
        .iter()
        .find(|(c, _)| *c == extended)
        .map(|(_, n)| n.to_string())
        .unwrap_or_else(|| format!("SQLITE_{}/{}", extended & 0xff, extended))
}

/// The primary result code a (possibly extended) code name belongs to.
pub fn primary_code(name: &str) -> Option<i32> {
    let primaries = [
        ("SQLITE_ERROR", ffi::SQLITE_ERROR),
        ("SQLITE_INTERNAL", ffi::SQLITE_INTERNAL),
        ("SQLITE_PERM", ffi::SQLITE_PERM),
        ("SQLITE_ABORT", ffi::SQLITE_ABORT),
        ("SQLITE_BUSY", ffi::SQLITE_BUSY),
        ("SQLITE_LOCKED", ffi::SQLITE_LOCKED),
        ("SQLITE_NOMEM", ffi::SQLITE_NOMEM),
        ("SQLITE_READONLY", ffi::SQLITE_READONLY),
        ("SQLITE_INTERRUPT", ffi::SQLITE_INTERRUPT),
        ("SQLITE_IOERR", ffi::SQLITE_IOERR),
        ("SQLITE_CORRUPT", ffi::SQLITE_CORRUPT),
        ("SQLITE_NOTFOUND", ffi::SQLITE_NOTFOUND),
        ("SQLITE_FULL", ffi::SQLITE_FULL),
        ("SQLITE_CANTOPEN", ffi::SQLITE_CANTOPEN),
        ("SQLITE_PROTOCOL", ffi::SQLITE_PROTOCOL),
        ("SQLITE_SCHEMA", ffi::SQLITE_SCHEMA),
        ("SQLITE_TOOBIG", ffi::SQLITE_TOOBIG),
        ("SQLITE_CONSTRAINT", ffi::SQLITE_CONSTRAINT),
        ("SQLITE_MISMATCH", ffi::SQLITE_MISMATCH),
        ("SQLITE_MISUSE", ffi::SQLITE_MISUSE),
        ("SQLITE_NOLFS", ffi::SQLITE_NOLFS),
        ("SQLITE_AUTH", ffi::SQLITE_AUTH),
        ("SQLITE_RANGE", ffi::SQLITE_RANGE),
        ("SQLITE_NOTADB", ffi::SQLITE_NOTADB),
    ];
    primaries
        .iter()
        .find(|(p, _)| name == *p || name.strip_prefix(p).is_some_and(|r| r.starts_with('_')))
        .map(|&(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_their_primary_code() {
        assert_eq!(primary_code("SQLITE_BUSY_SNAPSHOT"), Some(ffi::SQLITE_BUSY));
        assert_eq!(
            primary_code("SQLITE_IOERR_SHORT_READ"),
            Some(ffi::SQLITE_IOERR)
        );
        assert_eq!(primary_code("SQLITE_NOTADB"), Some(ffi::SQLITE_NOTADB));
        assert_eq!(primary_code("WALBURST_UNSUPPORTED"), None);
        let e = SqlError {
            primary: 0,
            extended: 0,
            code: "SQLITE_CORRUPT_INDEX".into(),
            message: "x".into(),
        }
        .normalized();
        assert!(e.is_corruption());
    }
}
