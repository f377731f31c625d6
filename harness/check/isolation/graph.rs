//! The dependency graph (Adya's, as Elle builds it for list-append): a node per transaction
//! that committed or may have, and an edge per dependency, each carrying why it exists.
//!
//! * ww: `T1 -> T2` when T2 appended the version right after T1's on some key.
//! * wr: `T1 -> T2` when T2 read a list whose last element (before its own appends) T1 wrote.
//! * rw: `T1 -> T2` when T1 read a list and T2 appended the next version after it.
//! * rt: `T1 -> T2` when T1 ended before T2 started (strict serializability). Only the
//!   transitive reduction's frontier is added (Elle's realtime graph), so the edges stay
//!   O(n x concurrency) rather than O(n^2).

use std::collections::BTreeSet;

use super::edges::{EdgeKind, Why};
use super::history::{History, Key, Mop, Outcome, TxnId, Value};
use super::versions::Versions;

/// A set of edge kinds, for searching a subgraph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kinds(u8);

impl Kinds {
    pub fn of(kinds: &[EdgeKind]) -> Kinds {
        Kinds(kinds.iter().fold(0, |acc, k| acc | k.bit()))
    }

    pub fn has(self, kind: EdgeKind) -> bool {
        self.0 & kind.bit() != 0
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Edge {
    pub to: TxnId,
    pub why: Why,
}

/// Adjacency lists indexed by transaction id; failed transactions have none.
#[derive(Debug, Default)]
pub struct Graph {
    pub out: Vec<Vec<Edge>>,
}

impl Graph {
    fn add(&mut self, from: TxnId, to: TxnId, why: Why) {
        if from != to {
            self.out[from].push(Edge { to, why });
        }
    }
}

/// A transaction takes part in the graph unless it certainly did not commit.
fn is_node(history: &History, id: TxnId) -> bool {
    history.txns[id].outcome != Outcome::Fail
}

pub fn build(history: &History, versions: &Versions) -> Graph {
    let mut g = Graph {
        out: vec![Vec::new(); history.txns.len()],
    };
    write_write(history, versions, &mut g);
    reads(history, versions, &mut g);
    real_time(history, &mut g);
    g
}

fn write_write(history: &History, versions: &Versions, g: &mut Graph) {
    for (key, order) in &versions.orders {
        for pair in order.windows(2) {
            let (Some(a), Some(b)) = (
                versions.writers.get(&(*key, pair[0])),
                versions.writers.get(&(*key, pair[1])),
            ) else {
                continue;
            };
            if is_node(history, a.txn) && is_node(history, b.txn) {
                let why = Why::Ww {
                    key: *key,
                    prev: pair[0],
                    next: pair[1],
                };
                g.add(a.txn, b.txn, why);
            }
        }
    }
}

/// wr and rw edges from committed reads. A read's external part is what it saw before the
/// transaction's own appends to the key (which, when the read is internally consistent,
/// are its last elements).
fn reads(history: &History, versions: &Versions, g: &mut Graph) {
    for r in history.committed_reads() {
        let (id, at, key, values) = (r.txn, r.at, &r.key, r.values);
        let own = own_appends_before(&history.txns[id].mops[..at], *key);
        if !values.ends_with(&own) {
            continue; // an internal anomaly, reported by `versions`
        }
        let external = &values[..values.len() - own.len()];
        if let Some(last) = external.last()
            && let Some(w) = versions.writers.get(&(*key, *last))
            && is_node(history, w.txn)
        {
            g.add(
                w.txn,
                id,
                Why::Wr {
                    key: *key,
                    value: *last,
                },
            );
        }
        if versions.incompatible.contains(&(id, at)) {
            continue;
        }
        let order = &versions.orders[key];
        if let Some(next) = order.get(external.len())
            && let Some(w) = versions.writers.get(&(*key, *next))
            && is_node(history, w.txn)
        {
            let why = Why::Rw {
                key: *key,
                last: external.last().copied(),
                next: *next,
            };
            g.add(id, w.txn, why);
        }
    }
}

fn own_appends_before(mops: &[Mop], key: Key) -> Vec<Value> {
    mops.iter()
        .filter_map(|m| match m {
            Mop::Append { key: k, value } if *k == key => Some(*value),
            _ => None,
        })
        .collect()
}

/// Real-time edges by one sweep over start and end events. `frontier` holds the
/// transactions that ended most recently: none of them ended before another one in it
/// started. A transaction starting gets an edge from each; one ending replaces, in the
/// frontier, those it already follows (the frontier it saw at its start), since its own
/// successors reach them through it.
fn real_time(history: &History, g: &mut Graph) {
    // (time, 0 = start / 1 = end, txn): at equal times starts come first, so an end at the
    // same nanosecond as a start is not "before" it.
    let mut events = Vec::with_capacity(history.txns.len() * 2);
    for (id, txn) in history.txns.iter().enumerate() {
        if !is_node(history, id) {
            continue;
        }
        events.push((txn.start_ns, 0u8, id));
        if let Some(end) = txn.end_ns {
            events.push((end, 1u8, id));
        }
    }
    events.sort_unstable();
    let mut frontier: BTreeSet<TxnId> = BTreeSet::new();
    let mut seen_at_start: Vec<Vec<TxnId>> = vec![Vec::new(); history.txns.len()];
    for (_, phase, id) in events {
        if phase == 0 {
            let start_ns = history.txns[id].start_ns;
            for &pred in &frontier {
                let end_ns = history.txns[pred].end_ns.unwrap_or_default();
                g.add(pred, id, Why::Rt { end_ns, start_ns });
            }
            seen_at_start[id] = frontier.iter().copied().collect();
        } else {
            for pred in std::mem::take(&mut seen_at_start[id]) {
                frontier.remove(&pred);
            }
            frontier.insert(id);
        }
    }
}
