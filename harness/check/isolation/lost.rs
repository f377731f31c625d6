//! Lost updates (Adya's P4; Elle's `lost-update`), found without the graph: committed
//! transactions that read the same version of a key (the same list) and then each appended
//! to it. In a serializable history the later of two such writers would have seen the
//! earlier's append, so two of them are always an anomaly (and always a G-single cycle
//! too); naming it directly tells a person what happened, whichever cycle the search
//! reports for the component.

use std::collections::BTreeMap;

use super::anomaly::Anomaly;
use super::history::{History, Key, Mop, Outcome, TxnId, Value};

/// Pushes one [`Anomaly::LostUpdate`] per (key, version read) with two or more writers.
/// O(r log n) over the reads' elements: each qualifying read is one map entry.
pub fn find(history: &History, anomalies: &mut Vec<Anomaly>) {
    let mut writers: BTreeMap<(Key, &[Value]), Vec<TxnId>> = BTreeMap::new();
    for (id, txn) in history.txns.iter().enumerate() {
        if txn.outcome != Outcome::Ok {
            continue;
        }
        for (at, mop) in txn.mops.iter().enumerate() {
            let Mop::Read {
                key,
                values: Some(values),
            } = mop
            else {
                continue;
            };
            // The transaction's first touch of the key (a later read shows its own
            // appends), followed by an append to it: a read-modify-write of that version.
            let touched_before = txn.mops[..at].iter().any(|m| m.key() == *key);
            let writes_after = txn.mops[at + 1..]
                .iter()
                .any(|m| matches!(m, Mop::Append { key: k, .. } if k == key));
            if !touched_before && writes_after {
                writers
                    .entry((*key, values.as_slice()))
                    .or_default()
                    .push(id);
            }
        }
    }
    for ((key, read), txns) in writers {
        if txns.len() > 1 {
            anomalies.push(Anomaly::LostUpdate {
                key,
                read: read.to_vec(),
                txns,
            });
        }
    }
}
