//! Version orders: who appended each value, and for each key the order of its versions as
//! the longest committed read shows it. Every other committed read of the key must be a
//! prefix of that read; the anomalies seen without a graph (incompatible orders, duplicated
//! or never-appended elements, aborted and intermediate reads, a transaction disagreeing
//! with its own writes) are found here.

use std::collections::{BTreeMap, BTreeSet};

use super::anomaly::Anomaly;
use super::history::{History, Key, Mop, Outcome, TxnId, Value};

/// Who appended a value, and whether it was that transaction's last append to the key
/// (a read ending on a non-final append saw an intermediate state: G1b).
#[derive(Debug, Clone, Copy)]
pub struct Writer {
    pub txn: TxnId,
    pub outcome: Outcome,
    pub last_in_txn: bool,
}

#[derive(Debug, Default)]
pub struct Versions {
    pub writers: BTreeMap<(Key, Value), Writer>,
    /// Each key's versions, oldest first: the longest committed read of it.
    pub orders: BTreeMap<Key, Vec<Value>>,
    /// Which transaction made that longest read (for explanations).
    pub longest_reader: BTreeMap<Key, TxnId>,
    /// Committed reads that are not a prefix of their key's order: no read-write edge
    /// can be inferred from them.
    pub incompatible: BTreeSet<(TxnId, usize)>,
}

/// Infers writers and version orders, pushing the anomalies seen on the way.
pub fn infer(history: &History, anomalies: &mut Vec<Anomaly>) -> Versions {
    let mut v = Versions::default();
    collect_writers(history, &mut v);
    for (id, txn) in history.txns.iter().enumerate() {
        if txn.outcome != Outcome::Ok {
            continue;
        }
        for mop in &txn.mops {
            if let Mop::Read {
                key,
                values: Some(values),
            } = mop
            {
                let longest = v.orders.entry(*key).or_default();
                if values.len() > longest.len() {
                    longest.clone_from(values);
                    v.longest_reader.insert(*key, id);
                }
            }
        }
    }
    check_orders(history, &mut v, anomalies);
    check_reads(history, &v, anomalies);
    check_internal(history, anomalies);
    v
}

fn collect_writers(history: &History, v: &mut Versions) {
    for (id, txn) in history.txns.iter().enumerate() {
        // Walk backwards so the first append met per key is the transaction's last.
        let mut seen = BTreeSet::new();
        for mop in txn.mops.iter().rev() {
            if let Mop::Append { key, value } = mop {
                v.writers.insert(
                    (*key, *value),
                    Writer {
                        txn: id,
                        outcome: txn.outcome,
                        last_in_txn: seen.insert(*key),
                    },
                );
            }
        }
    }
}

/// Each key's longest read must hold each value once, and only appended values; every
/// committed read must be a prefix of it.
fn check_orders(history: &History, v: &mut Versions, anomalies: &mut Vec<Anomaly>) {
    for (key, order) in &v.orders {
        let reader = v.longest_reader.get(key).copied().unwrap_or_default();
        let mut seen = BTreeSet::new();
        for value in order {
            if !seen.insert(*value) {
                anomalies.push(Anomaly::DuplicateElements {
                    reader,
                    key: *key,
                    value: *value,
                });
            }
            if !v.writers.contains_key(&(*key, *value)) {
                anomalies.push(Anomaly::GarbageRead {
                    reader,
                    key: *key,
                    value: *value,
                });
            }
        }
    }
    let mut reported = BTreeSet::new();
    for r in history.committed_reads() {
        let (id, at, key, values) = (r.txn, r.at, &r.key, r.values);
        let order = &v.orders[key];
        if order.starts_with(values) {
            continue;
        }
        v.incompatible.insert((id, at));
        // One report per key: the first read (in id order) that disagrees.
        if reported.insert(*key) {
            anomalies.push(Anomaly::IncompatibleOrder {
                key: *key,
                reader: id,
                values: values.to_vec(),
                longest_reader: v.longest_reader[key],
                longest: order.clone(),
            });
        }
    }
}

/// Aborted reads (G1a: a committed read saw a failed transaction's append) and intermediate
/// reads (G1b: it ended on an append its writer later followed with another to that key).
fn check_reads(history: &History, v: &Versions, anomalies: &mut Vec<Anomaly>) {
    let mut aborted_reported = BTreeSet::new();
    let mut intermediate_reported = BTreeSet::new();
    for r in history.committed_reads() {
        let (id, at, key, values) = (r.txn, r.at, &r.key, r.values);
        // A read that is a prefix of its key's order holds no value the order does not:
        // only the reads that define an order, and those incompatible with it, need their
        // elements looked up (every element of every read would cost O(r log m)).
        let defines_order = v.longest_reader.get(key) == Some(&id);
        let scan = defines_order || v.incompatible.contains(&(id, at));
        for value in values.iter().filter(|_| scan) {
            if let Some(w) = v.writers.get(&(*key, *value))
                && w.outcome == Outcome::Fail
                && aborted_reported.insert((*key, *value))
            {
                anomalies.push(Anomaly::G1a {
                    reader: id,
                    key: *key,
                    value: *value,
                    writer: w.txn,
                });
            }
        }
        if let Some(last) = values.last()
            && let Some(w) = v.writers.get(&(*key, *last))
            && w.txn != id
            && !w.last_in_txn
            && intermediate_reported.insert((*key, *last))
        {
            anomalies.push(Anomaly::G1b {
                reader: id,
                key: *key,
                value: *last,
                writer: w.txn,
            });
        }
    }
}

/// Within one committed transaction a read must show what the transaction itself did:
/// exactly its previous read of the key plus its appends since, or, with no previous read,
/// end with its appends so far.
fn check_internal(history: &History, anomalies: &mut Vec<Anomaly>) {
    for (id, txn) in history.txns.iter().enumerate() {
        if txn.outcome != Outcome::Ok {
            continue;
        }
        // Per key: the list as the transaction last knew it, or its own appends when it
        // has not read the key yet.
        let mut known: BTreeMap<Key, (bool, Vec<Value>)> = BTreeMap::new();
        for mop in &txn.mops {
            match mop {
                Mop::Append { key, value } => known.entry(*key).or_default().1.push(*value),
                Mop::Read {
                    key,
                    values: Some(values),
                } => {
                    let (read_before, expected) = known.entry(*key).or_default();
                    let consistent = if *read_before {
                        values == expected
                    } else {
                        values.ends_with(expected)
                    };
                    if !consistent {
                        anomalies.push(Anomaly::Internal {
                            txn: id,
                            key: *key,
                            expected: expected.clone(),
                            exact: *read_before,
                            read: values.clone(),
                        });
                    }
                    *read_before = true;
                    expected.clone_from(values);
                }
                Mop::Read { values: None, .. } => {}
            }
        }
    }
}
