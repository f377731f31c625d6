//! The history model: list-append transactions (Elle's model). A transaction is a list of
//! micro-ops, `append(k, v)` and `read(k) -> [v...]`, run by one process, with its outcome
//! and its real-time interval from one monotonic clock.

use serde::{Deserialize, Serialize};

pub type Key = u64;
pub type Value = u64;
/// A transaction's position in [`History::txns`].
pub type TxnId = usize;

/// One micro-op of a transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "f")]
pub enum Mop {
    /// Append `value` to the list at `key`. Values are unique per key across the history.
    Append { key: Key, value: Value },
    /// Read the list at `key`; `values` is what was read, `None` when the outcome is unknown
    /// (a failed or ambiguous transaction may not know what it read).
    Read {
        key: Key,
        values: Option<Vec<Value>>,
    },
}

impl Mop {
    pub fn key(&self) -> Key {
        match self {
            Mop::Append { key, .. } | Mop::Read { key, .. } => *key,
        }
    }
}

/// How a transaction ended, as the process that ran it saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Committed.
    Ok,
    /// Certainly did not commit (rolled back, or refused before COMMIT).
    Fail,
    /// Ambiguous: may or may not have committed (COMMIT errored, the process died).
    Info,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Txn {
    /// The process (actor) that ran it; one process runs one transaction at a time.
    pub process: u64,
    pub outcome: Outcome,
    /// Monotonic nanoseconds when the transaction began (before its first statement).
    pub start_ns: u64,
    /// Monotonic nanoseconds when its outcome was known; `None` when it never was (the
    /// process died), so it precedes nothing in real time.
    pub end_ns: Option<u64>,
    pub mops: Vec<Mop>,
}

/// A whole history; transaction ids are positions in `txns`. The checker does not depend on
/// their order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    pub txns: Vec<Txn>,
}

/// A history the checker cannot judge. Never a pass: the run that produced it fails.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HistoryError {
    #[error(
        "value {value} appended to key {key} twice (T{first} and T{second}): appends must be unique"
    )]
    DuplicateAppend {
        key: Key,
        value: Value,
        first: TxnId,
        second: TxnId,
    },
    #[error("T{txn} committed but its read of key {key} carries no values")]
    CommittedReadWithoutValues { txn: TxnId, key: Key },
    #[error("T{txn} ends at {end_ns} ns, before it starts at {start_ns} ns")]
    EndsBeforeStart {
        txn: TxnId,
        start_ns: u64,
        end_ns: u64,
    },
}

/// One read of a committed transaction that knows what it read.
pub struct CommittedRead<'a> {
    /// The transaction and the read's position among its micro-ops.
    pub txn: usize,
    pub at: usize,
    pub key: Key,
    pub values: &'a [Value],
}

impl History {
    /// Every read of a committed (`ok`) transaction that knows its values, in transaction
    /// then micro-op order: what the version orders, the read checks and the dependency
    /// edges are all built from.
    pub fn committed_reads(&self) -> impl Iterator<Item = CommittedRead<'_>> {
        self.txns
            .iter()
            .enumerate()
            .filter(|(_, t)| t.outcome == Outcome::Ok)
            .flat_map(|(txn, t)| {
                t.mops
                    .iter()
                    .enumerate()
                    .filter_map(move |(at, mop)| match mop {
                        Mop::Read {
                            key,
                            values: Some(values),
                        } => Some(CommittedRead {
                            txn,
                            at,
                            key: *key,
                            values,
                        }),
                        _ => None,
                    })
            })
    }

    /// Refuse what the checker cannot reason about, before any analysis.
    pub fn validate(&self) -> Result<(), HistoryError> {
        let mut appended = std::collections::BTreeMap::new();
        for (id, txn) in self.txns.iter().enumerate() {
            if let Some(end_ns) = txn.end_ns
                && end_ns < txn.start_ns
            {
                return Err(HistoryError::EndsBeforeStart {
                    txn: id,
                    start_ns: txn.start_ns,
                    end_ns,
                });
            }
            for mop in &txn.mops {
                match mop {
                    Mop::Append { key, value } => {
                        if let Some(first) = appended.insert((*key, *value), id) {
                            return Err(HistoryError::DuplicateAppend {
                                key: *key,
                                value: *value,
                                first,
                                second: id,
                            });
                        }
                    }
                    Mop::Read { key, values: None } if txn.outcome == Outcome::Ok => {
                        return Err(HistoryError::CommittedReadWithoutValues {
                            txn: id,
                            key: *key,
                        });
                    }
                    Mop::Read { .. } => {}
                }
            }
        }
        Ok(())
    }
}
