//! The "list-append" profile's transactions (Elle's list-append workload): each op is one
//! transaction of 1-4 micro-ops, each an append of a unique value to a keyed list or a read
//! of a whole list, a function of (seed, worker, seq) alone so a worker, the checker and the
//! shrinker all rebuild the same transaction.

use rand::RngExt;
use serde::{Deserialize, Serialize};

use super::stream;

/// Keys open at once; which ones depends on the op's position in its worker's schedule.
pub const KEYS: u64 = 4;
/// Seqs that share one set of keys: every `KEY_WINDOW` ops a worker moves on to fresh keys,
/// so lists (and the reads that return them) stay short, as Elle's workloads keep them.
pub const KEY_WINDOW: u32 = 8;
pub const MAX_MOPS: u32 = 4;

/// One micro-op. Planned reads carry no values; the op's record carries what was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "f")]
pub enum ListMop {
    Append {
        key: u64,
        value: u64,
    },
    Read {
        key: u64,
        #[serde(default)]
        values: Option<Vec<u64>>,
    },
}

/// The value the `index`th micro-op of (worker, seq) appends: unique across the run, and
/// readable (`worker + 1`, then `seq`, then `index`, in decimal).
pub fn value(worker: u32, seq: u32, index: u32) -> u64 {
    (u64::from(worker) + 1) * 100_000_000 + u64::from(seq) * 10 + u64::from(index)
}

/// The micro-ops of op `seq` of `worker`.
pub fn txn(seed: u64, worker: u32, seq: u32) -> Vec<ListMop> {
    let mut rng = stream(seed, "list-append", u64::from(worker), u64::from(seq));
    let first_key = u64::from(seq / KEY_WINDOW) * KEYS;
    (0..rng.random_range(1..=MAX_MOPS))
        .map(|index| {
            let key = first_key + rng.random_range(0..KEYS);
            if rng.random_bool(0.5) {
                ListMop::Append {
                    key,
                    value: value(worker, seq, index),
                }
            } else {
                ListMop::Read { key, values: None }
            }
        })
        .collect()
}

/// `[io.stale_read]`'s worker and first seq for `seed` (its own stream, so the transactions
/// drawn above are the same with the fault or without).
pub fn stale_target(
    st: &crate::scenario::StaleRead,
    seed: u64,
    workers: u32,
) -> crate::scenario::StaleTarget {
    let mut rng = stream(seed, "stale-read", 0, 0);
    let drawn = rng.random_range(0..workers.max(1));
    let [lo, hi] = st.from_seq.bounds();
    let from = rng.random_range(lo..=hi);
    crate::scenario::StaleTarget {
        worker: st.worker.unwrap_or(drawn),
        from_seq: u32::try_from(from).unwrap_or(u32::MAX),
        freeze: st.freeze,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transactions_are_seeded_and_values_unique() {
        assert_eq!(txn(1, 2, 3), txn(1, 2, 3));
        let mut values = std::collections::BTreeSet::new();
        for worker in 0..4 {
            for seq in 0..200 {
                let mops = txn(1, worker, seq);
                assert!((1..=MAX_MOPS as usize).contains(&mops.len()));
                for m in mops {
                    if let ListMop::Append { value, .. } = m {
                        assert!(values.insert(value), "{value} twice");
                    }
                }
            }
        }
        assert!(values.len() > 500);
    }
}
