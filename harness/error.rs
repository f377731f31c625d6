//! How an error is printed: once, at the top, with its causes (issue 21, item 7).
//!
//! The convention (ARCHITECTURE.md, "Errors"): an error's cause is a `#[source]` (or
//! `#[from]`) field and its message never repeats it, so a caller can match on the cause,
//! and a reporter prints the chain exactly once. [`Chain`] is that reporter: wherever an
//! error's text is shown to a user or stored into a report, it goes through `Chain`, never
//! through the error's bare `Display` (which is only its own message).
//! `tests/house_errors.rs` checks that no `#[error("...")]` message names its cause.

use std::error::Error;
use std::fmt;

/// An error and its causes: `message: cause: cause's cause`.
///
/// The walk stops after a `rusqlite::Error`: its message is SQLite's own and already says
/// what its source (the bare result code, `SQL logic error`) says, so printing the source
/// too would only repeat it.
#[derive(Clone, Copy)]
pub struct Chain<'a>(pub &'a (dyn Error + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        if is_leaf(self.0) {
            return Ok(());
        }
        let mut cause = self.0.source();
        while let Some(e) = cause {
            write!(f, ": {e}")?;
            if is_leaf(e) {
                break;
            }
            cause = e.source();
        }
        Ok(())
    }
}

impl fmt::Debug for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Errors whose message already includes their source (see [`Chain`]).
fn is_leaf(e: &(dyn Error + 'static)) -> bool {
    e.is::<rusqlite::Error>()
}

#[cfg(test)]
mod tests {
    use super::Chain;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot read {what}")]
    struct Read {
        what: &'static str,
        #[source]
        source: std::io::Error,
    }

    #[derive(Debug, thiserror::Error)]
    enum Top {
        #[error("the run could not be carried out")]
        Run(#[source] Read),
        #[error("no cause here")]
        Alone,
        #[error(transparent)]
        Through(#[from] Read),
        #[error("query failed")]
        Sql(#[source] rusqlite::Error),
    }

    fn read() -> Read {
        Read {
            what: "the ops file",
            source: std::io::Error::other("disk on fire"),
        }
    }

    #[test]
    fn a_two_level_chain_prints_message_then_cause() {
        let e = read();
        assert_eq!(
            e.to_string(),
            "cannot read the ops file",
            "the message alone"
        );
        assert_eq!(
            Chain(&e).to_string(),
            "cannot read the ops file: disk on fire"
        );
    }

    #[test]
    fn a_three_level_chain_prints_each_cause_once() {
        let e = Top::Run(read());
        assert_eq!(
            Chain(&e).to_string(),
            "the run could not be carried out: cannot read the ops file: disk on fire"
        );
        assert_eq!(format!("{:?}", Chain(&e)), Chain(&e).to_string());
    }

    #[test]
    fn an_error_without_a_source_is_its_message() {
        assert_eq!(Chain(&Top::Alone).to_string(), "no cause here");
        let io = std::io::Error::other("plain");
        assert_eq!(Chain(&io).to_string(), "plain");
    }

    #[test]
    fn a_transparent_wrapper_adds_nothing() {
        let e = Top::Through(read());
        assert_eq!(
            Chain(&e).to_string(),
            "cannot read the ops file: disk on fire"
        );
    }

    #[test]
    fn the_walk_stops_at_sqlites_own_message() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let sql = conn.execute("SELECT * FROM nowhere", []).unwrap_err();
        assert!(
            std::error::Error::source(&sql).is_some(),
            "rusqlite's error has a source (the result code): {sql:?}"
        );
        let e = Top::Sql(sql);
        assert_eq!(
            Chain(&e).to_string(),
            "query failed: no such table: nowhere"
        );
    }
}
