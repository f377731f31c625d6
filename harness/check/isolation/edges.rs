//! The edge vocabulary of the dependency graph: what kind of dependency, and why it exists.
//! Data only, shared by the graph that finds the edges and the anomalies that explain them.

use serde::{Deserialize, Serialize};

use super::history::{Key, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EdgeKind {
    Ww,
    Wr,
    Rw,
    Rt,
}

impl EdgeKind {
    pub fn name(self) -> &'static str {
        match self {
            EdgeKind::Ww => "ww",
            EdgeKind::Wr => "wr",
            EdgeKind::Rw => "rw",
            EdgeKind::Rt => "rt",
        }
    }

    pub(super) fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// Why an edge exists: the evidence an explanation names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Why {
    /// `next` was appended to `key` right after `prev`.
    Ww { key: Key, prev: Value, next: Value },
    /// The reader's read of `key` ended on `value` (before its own appends).
    Wr { key: Key, value: Value },
    /// The reader's read of `key` ended on `last` (`None`: empty) and did not include `next`.
    Rw {
        key: Key,
        last: Option<Value>,
        next: Value,
    },
    /// The first transaction ended before the second started (monotonic nanoseconds).
    Rt { end_ns: u64, start_ns: u64 },
}

impl Why {
    pub fn kind(&self) -> EdgeKind {
        match self {
            Why::Ww { .. } => EdgeKind::Ww,
            Why::Wr { .. } => EdgeKind::Wr,
            Why::Rw { .. } => EdgeKind::Rw,
            Why::Rt { .. } => EdgeKind::Rt,
        }
    }
}
