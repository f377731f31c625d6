//! The anomalies (Adya's classes, with Elle's names for list-append) and their
//! explanations: which transactions, which edges, which keys.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::edges::{EdgeKind, Why};
use super::history::{History, Key, TxnId, Value};

/// An anomaly's class, weakest isolation violated first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum AnomalyClass {
    /// Two reads of a key neither of which is a prefix of the other: no single order.
    #[serde(rename = "incompatible-order")]
    IncompatibleOrder,
    /// A read held one value twice.
    #[serde(rename = "duplicate-elements")]
    DuplicateElements,
    /// A read held a value no transaction appended.
    #[serde(rename = "garbage-read")]
    GarbageRead,
    /// A transaction's read disagreed with its own earlier reads and appends.
    #[serde(rename = "internal")]
    Internal,
    /// Write cycle (dirty write): ww edges only.
    G0,
    /// Aborted read: a committed read saw a failed transaction's append.
    G1a,
    /// Intermediate read: a committed read saw a state another transaction overwrote
    /// before it committed.
    G1b,
    /// Circular information flow: a cycle of ww and wr edges with at least one wr.
    G1c,
    /// Read skew: a cycle with exactly one rw (anti-dependency) edge.
    #[serde(rename = "G-single")]
    GSingle,
    /// Lost update (Adya's P4, Elle's lost-update): two or more committed transactions read
    /// the same version of a key and each appended to it, so each append after the first
    /// was built on a read that missed the others'. Found without the graph; every one is
    /// also a G-single cycle, though the cycle reported for a component may be another.
    #[serde(rename = "lost-update")]
    LostUpdate,
    /// Write skew and its kin: a cycle with two or more rw edges.
    #[serde(rename = "G2-item")]
    G2Item,
    /// The same cycles closed only by real-time edges: violations of strict
    /// serializability (a transaction ordered before one that ended before it started).
    #[serde(rename = "G0-realtime")]
    G0Realtime,
    #[serde(rename = "G1c-realtime")]
    G1cRealtime,
    #[serde(rename = "G-single-realtime")]
    GSingleRealtime,
    #[serde(rename = "G2-item-realtime")]
    G2ItemRealtime,
}

impl AnomalyClass {
    pub fn name(self) -> &'static str {
        match self {
            AnomalyClass::IncompatibleOrder => "incompatible-order",
            AnomalyClass::DuplicateElements => "duplicate-elements",
            AnomalyClass::GarbageRead => "garbage-read",
            AnomalyClass::Internal => "internal",
            AnomalyClass::G0 => "G0",
            AnomalyClass::G1a => "G1a",
            AnomalyClass::G1b => "G1b",
            AnomalyClass::G1c => "G1c",
            AnomalyClass::GSingle => "G-single",
            AnomalyClass::LostUpdate => "lost-update",
            AnomalyClass::G2Item => "G2-item",
            AnomalyClass::G0Realtime => "G0-realtime",
            AnomalyClass::G1cRealtime => "G1c-realtime",
            AnomalyClass::GSingleRealtime => "G-single-realtime",
            AnomalyClass::G2ItemRealtime => "G2-item-realtime",
        }
    }

    /// A cycle's class from its edges: real-time edges make it a strict-serializability
    /// violation; then the number of rw edges (none: G0 or G1c; one: G-single; more: G2).
    pub fn of_cycle(steps: &[CycleStep]) -> AnomalyClass {
        let count = |k: EdgeKind| steps.iter().filter(|s| s.why.kind() == k).count();
        let realtime = count(EdgeKind::Rt) > 0;
        let class = match (count(EdgeKind::Rw), count(EdgeKind::Wr)) {
            (0, 0) => AnomalyClass::G0,
            (0, _) => AnomalyClass::G1c,
            (1, _) => AnomalyClass::GSingle,
            _ => AnomalyClass::G2Item,
        };
        if !realtime {
            return class;
        }
        match class {
            AnomalyClass::G0 => AnomalyClass::G0Realtime,
            AnomalyClass::G1c => AnomalyClass::G1cRealtime,
            AnomalyClass::GSingle => AnomalyClass::GSingleRealtime,
            _ => AnomalyClass::G2ItemRealtime,
        }
    }
}

impl std::fmt::Display for AnomalyClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One edge of a reported cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CycleStep {
    pub from: TxnId,
    pub to: TxnId,
    pub why: Why,
}

/// What was found, with its evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Anomaly {
    IncompatibleOrder {
        key: Key,
        reader: TxnId,
        values: Vec<Value>,
        longest_reader: TxnId,
        longest: Vec<Value>,
    },
    DuplicateElements {
        reader: TxnId,
        key: Key,
        value: Value,
    },
    GarbageRead {
        reader: TxnId,
        key: Key,
        value: Value,
    },
    Internal {
        txn: TxnId,
        key: Key,
        /// What the read should have been (`exact`) or ended with.
        expected: Vec<Value>,
        exact: bool,
        read: Vec<Value>,
    },
    G1a {
        reader: TxnId,
        key: Key,
        value: Value,
        writer: TxnId,
    },
    G1b {
        reader: TxnId,
        key: Key,
        value: Value,
        writer: TxnId,
    },
    /// Committed transactions that each read key `key` as `read` and appended to it.
    LostUpdate {
        key: Key,
        read: Vec<Value>,
        txns: Vec<TxnId>,
    },
    /// A dependency cycle: each step's `to` is the next step's `from`, the last step's
    /// `to` the first's `from`.
    Cycle { steps: Vec<CycleStep> },
}

impl Anomaly {
    pub fn class(&self) -> AnomalyClass {
        match self {
            Anomaly::IncompatibleOrder { .. } => AnomalyClass::IncompatibleOrder,
            Anomaly::DuplicateElements { .. } => AnomalyClass::DuplicateElements,
            Anomaly::GarbageRead { .. } => AnomalyClass::GarbageRead,
            Anomaly::Internal { .. } => AnomalyClass::Internal,
            Anomaly::G1a { .. } => AnomalyClass::G1a,
            Anomaly::G1b { .. } => AnomalyClass::G1b,
            Anomaly::LostUpdate { .. } => AnomalyClass::LostUpdate,
            Anomaly::Cycle { steps } => AnomalyClass::of_cycle(steps),
        }
    }

    /// The transactions the anomaly names, in order of mention.
    pub fn txns(&self) -> Vec<TxnId> {
        match self {
            Anomaly::IncompatibleOrder {
                reader,
                longest_reader,
                ..
            } => vec![*reader, *longest_reader],
            Anomaly::DuplicateElements { reader, .. } | Anomaly::GarbageRead { reader, .. } => {
                vec![*reader]
            }
            Anomaly::Internal { txn, .. } => vec![*txn],
            Anomaly::G1a { reader, writer, .. } | Anomaly::G1b { reader, writer, .. } => {
                vec![*writer, *reader]
            }
            Anomaly::LostUpdate { txns, .. } => txns.clone(),
            Anomaly::Cycle { steps } => steps.iter().map(|s| s.from).collect(),
        }
    }

    /// For a person: the class, the transactions (with their processes), and each edge or
    /// read that shows it.
    pub fn explain(&self, history: &History) -> String {
        let t = |id: TxnId| txn_name(history, id);
        let class = self.class();
        match self {
            Anomaly::IncompatibleOrder {
                key,
                reader,
                values,
                longest_reader,
                longest,
            } => format!(
                "{class}: on key {key}, {} read {} and {} read {}; neither is a prefix of the other",
                t(*reader),
                list(values),
                t(*longest_reader),
                list(longest)
            ),
            Anomaly::DuplicateElements { reader, key, value } => format!(
                "{class}: {} read key {key} holding {value} more than once",
                t(*reader)
            ),
            Anomaly::GarbageRead { reader, key, value } => format!(
                "{class}: {} read {value} in key {key}, which no transaction appended",
                t(*reader)
            ),
            Anomaly::Internal {
                txn,
                key,
                expected,
                exact,
                read,
            } => format!(
                "{class}: {} read key {key} as {} after its own reads and appends, expected {}{}",
                t(*txn),
                list(read),
                if *exact { "" } else { "a list ending in " },
                list(expected)
            ),
            Anomaly::G1a {
                reader,
                key,
                value,
                writer,
            } => format!(
                "{class} (aborted read): {} read {value} in key {key}, appended by {}, which failed",
                t(*reader),
                t(*writer)
            ),
            Anomaly::G1b {
                reader,
                key,
                value,
                writer,
            } => format!(
                "{class} (intermediate read): {} read key {key} ending at {value}, an intermediate \
                 state of {}, which appended to key {key} again after it",
                t(*reader),
                t(*writer)
            ),
            Anomaly::LostUpdate { key, read, txns } => {
                let names: Vec<String> = txns.iter().map(|id| t(*id)).collect();
                let seen = if read.is_empty() {
                    "empty".to_string()
                } else {
                    list(read)
                };
                format!(
                    "{class} (Adya's P4) on key {key}: {} each read key {key} as {seen} and appended to it; \
                     all but the first write were built on a read that missed another's committed append",
                    names.join(", ")
                )
            }
            Anomaly::Cycle { steps } => explain_cycle(history, class, steps),
        }
    }
}

/// A cycle edge by edge, and, when it is two writers of one key, that it is a lost update.
fn explain_cycle(history: &History, class: AnomalyClass, steps: &[CycleStep]) -> String {
    let t = |id: TxnId| txn_name(history, id);
    let mut s = format!("{class} cycle of {} transactions: ", steps.len());
    for (i, step) in steps.iter().enumerate() {
        if i > 0 {
            s.push_str("; ");
        }
        let _ = write!(s, "{}", explain_step(history, step));
    }
    let _ = write!(s, "; so {} precedes itself", t(steps[0].from));
    if let Some((first, second, key)) = lost_update(steps) {
        let _ = write!(
            s,
            ". A lost update (Adya's P4) on key {key}: {} wrote key {key} after {}, from a read that missed {}'s write",
            t(second),
            t(first),
            t(first)
        );
    }
    s
}

/// A cycle of two transactions, `first -ww-> second -rw-> first` on one key: the second
/// wrote the key after the first, from a read that missed the first's write. Returns
/// (first, second, key).
pub fn lost_update(steps: &[CycleStep]) -> Option<(TxnId, TxnId, Key)> {
    let [a, b] = steps else {
        return None;
    };
    let (ww, rw) = match (a.why, b.why) {
        (Why::Ww { .. }, Why::Rw { .. }) => (a, b),
        (Why::Rw { .. }, Why::Ww { .. }) => (b, a),
        _ => return None,
    };
    match (ww.why, rw.why) {
        (Why::Ww { key, .. }, Why::Rw { key: k2, .. }) if key == k2 => Some((ww.from, ww.to, key)),
        _ => None,
    }
}

fn txn_name(history: &History, id: TxnId) -> String {
    match history.txns.get(id) {
        Some(txn) => format!("T{id} (process {})", txn.process),
        None => format!("T{id}"),
    }
}

fn list(values: &[Value]) -> String {
    const SHOWN: usize = 6;
    if values.len() <= SHOWN {
        let items: Vec<String> = values.iter().map(u64::to_string).collect();
        return format!("[{}]", items.join(" "));
    }
    let tail: Vec<String> = values[values.len() - 3..]
        .iter()
        .map(u64::to_string)
        .collect();
    format!(
        "[{} ... {}] ({} elements)",
        values[0],
        tail.join(" "),
        values.len()
    )
}

/// One edge as a sentence: `A < B (kind, key k): the evidence`.
pub fn explain_step(history: &History, step: &CycleStep) -> String {
    let a = txn_name(history, step.from);
    let b = txn_name(history, step.to);
    let kind = step.why.kind().name();
    match step.why {
        Why::Ww { key, prev, next } => format!(
            "{a} < {b} ({kind}, key {key}): {a} appended {prev} and {b} appended {next} right after it"
        ),
        Why::Wr { key, value } => {
            format!(
                "{a} < {b} ({kind}, key {key}): {b} read key {key} ending at {value}, which {a} appended"
            )
        }
        Why::Rw { key, last, next } => {
            let seen = match last {
                Some(v) => format!("ending at {v}"),
                None => "empty".to_string(),
            };
            format!(
                "{a} < {b} ({kind}, key {key}): {a} read key {key} {seen}, without {next}, which {b} appended next"
            )
        }
        Why::Rt { end_ns, start_ns } => format!(
            "{a} < {b} ({kind}): {a} ended at {end_ns} ns, before {b} started at {start_ns} ns"
        ),
    }
}
