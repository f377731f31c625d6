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
    /// One non-blocking attempt at a file lock.
    Flock,
    Begin,
    Commit,
    Rollback,
    /// Any other statement; the label is hashed into the trace, never interpreted.
    Statement {
        label: String,
    },
    /// A corruption guard's probe.
    Guard,
    Checkpoint,
}

impl StepAction {
    pub fn statement(label: impl Into<String>) -> StepAction {
        StepAction::Statement {
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
            StepAction::Flock => "flock",
            StepAction::Begin => "begin",
            StepAction::Commit => "commit",
            StepAction::Rollback => "rollback",
            StepAction::Statement { label } => return write!(f, "statement:{label}"),
            StepAction::Guard => "guard",
            StepAction::Checkpoint => "checkpoint",
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
}

impl StepResult {
    /// The step was turned away by a lock: the actor is waiting for someone else.
    pub fn is_blocked(&self) -> bool {
        matches!(self, StepResult::Busy { .. } | StepResult::WouldBlock)
    }

    pub fn is_ok(&self) -> bool {
        *self == StepResult::Ok
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
    }
}
