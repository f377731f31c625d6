//! Seeded serializable histories: transactions run one after another against a model of
//! keyed lists, then given overlapping real-time intervals that each contain the moment the
//! model ran them. Such a history is strict serializable by construction, so the checker
//! must find nothing in it; the bench measures the checker on it.

use std::collections::BTreeMap;

use rand::RngExt;

use super::history::{History, Key, Mop, Outcome, Txn, Value};
use crate::plan::stream;

/// The shape of a generated history.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub txns: usize,
    pub processes: u64,
    /// Keys open for appends at once; a key is retired after `appends_per_key` appends so
    /// reads stay short (Elle's workloads do the same).
    pub active_keys: u64,
    pub appends_per_key: usize,
    pub max_mops: usize,
}

impl Default for Shape {
    fn default() -> Shape {
        Shape {
            txns: 1000,
            processes: 8,
            active_keys: 8,
            appends_per_key: 32,
            max_mops: 4,
        }
    }
}

/// Nanoseconds between two consecutive commit points.
const TICK_NS: u64 = 1000;

/// A strict serializable history from `seed`. About 4% of transactions fail (nothing
/// applied, reads unknown) and 3% are ambiguous (applied or not, by the seed, reads
/// unknown). Process `p` runs transactions `p, p + processes, ...`, each interval within
/// half a round of its commit point, so a process never runs two at once while up to
/// `processes` transactions overlap.
pub fn serializable(seed: u64, shape: Shape) -> History {
    let mut rng = stream(seed, "isolation-sample", 0, 0);
    let mut lists: BTreeMap<Key, Vec<Value>> = BTreeMap::new();
    let mut next_key: Key = shape.active_keys;
    let mut active: Vec<Key> = (0..shape.active_keys).collect();
    let mut next_value: Value = 1;
    let processes = shape.processes.max(1);
    let half_round = (processes * TICK_NS / 2).saturating_sub(1);
    let mut txns = Vec::with_capacity(shape.txns);
    for i in 0..shape.txns {
        let commit_ns = (i as u64 + processes) * TICK_NS;
        let start_ns = commit_ns - rng.random_range(0..=half_round);
        let end_ns = commit_ns + rng.random_range(0..=half_round);
        let outcome = match rng.random_range(0..100u32) {
            0..4 => Outcome::Fail,
            4..7 => Outcome::Info,
            _ => Outcome::Ok,
        };
        let applies = match outcome {
            Outcome::Ok => true,
            Outcome::Fail => false,
            Outcome::Info => rng.random_bool(0.5),
        };
        // Run against a copy so an unapplied transaction leaves the model untouched.
        let mut staged: BTreeMap<Key, Vec<Value>> = BTreeMap::new();
        let mut mops = Vec::new();
        for _ in 0..rng.random_range(1..=shape.max_mops.max(1)) {
            let slot = rng.random_range(0..active.len());
            let key = active[slot];
            let list = staged
                .entry(key)
                .or_insert_with(|| lists.get(&key).cloned().unwrap_or_default());
            if rng.random_bool(0.5) {
                list.push(next_value);
                mops.push(Mop::Append {
                    key,
                    value: next_value,
                });
                next_value += 1;
                if list.len() >= shape.appends_per_key {
                    active[slot] = next_key;
                    next_key += 1;
                }
            } else {
                let values = (outcome == Outcome::Ok).then(|| list.clone());
                mops.push(Mop::Read { key, values });
            }
        }
        if applies {
            lists.extend(staged);
        }
        txns.push(Txn {
            process: i as u64 % processes,
            outcome,
            start_ns,
            end_ns: Some(end_ns),
            mops,
        });
    }
    History { txns }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The most transactions running at once (an end at the nanosecond of a start does not
    /// overlap it, as in the checker's real-time order).
    fn most_at_once(txns: &[&Txn]) -> usize {
        let mut events: Vec<(u64, i32)> = Vec::new();
        for t in txns {
            events.push((t.start_ns, 1));
            events.push((t.end_ns.unwrap(), -1));
        }
        events.sort(); // at equal times -1 (an end) sorts before +1 (a start)
        let (mut now, mut most) = (0i32, 0i32);
        for (_, d) in events {
            now += d;
            most = most.max(now);
        }
        most as usize
    }

    /// The shape the doc promises, which the bench's numbers depend on: a process never runs
    /// two transactions at once, while across processes more than half of them overlap at
    /// some moment and never more than there are processes.
    #[test]
    fn processes_run_one_at_a_time_and_overlap_each_other() {
        for seed in 1..=5 {
            let shape = Shape::default();
            let h = serializable(seed, shape);
            assert_eq!(h.txns.len(), shape.txns);
            for p in 0..shape.processes {
                let own: Vec<&Txn> = h.txns.iter().filter(|t| t.process == p).collect();
                assert_eq!(most_at_once(&own), 1, "seed {seed} process {p}");
            }
            for (i, t) in h.txns.iter().enumerate() {
                assert_eq!(t.process, i as u64 % shape.processes, "seed {seed} T{i}");
            }
            let all: Vec<&Txn> = h.txns.iter().collect();
            let most = most_at_once(&all);
            assert!(
                most as u64 > shape.processes / 2 && most as u64 <= shape.processes,
                "seed {seed}: {most} at once"
            );
        }
    }

    /// About 4% fail and 3% are ambiguous, as the doc says: the checker's handling of both
    /// is measured on every sample. A key is retired after `appends_per_key` appends, so no
    /// read is longer, and fresh keys keep coming (none reused).
    #[test]
    fn outcomes_and_keys_follow_the_shape() {
        let shape = Shape::default();
        for seed in 1..=5 {
            let h = serializable(seed, shape);
            let count = |o| h.txns.iter().filter(|t| t.outcome == o).count();
            let (fail, info) = (count(Outcome::Fail), count(Outcome::Info));
            assert!((20..=60).contains(&fail), "seed {seed}: {fail} failed");
            assert!((10..=50).contains(&info), "seed {seed}: {info} ambiguous");
            let mut appends: BTreeMap<Key, usize> = BTreeMap::new();
            for t in &h.txns {
                for m in &t.mops {
                    match m {
                        Mop::Append { key, .. } => *appends.entry(*key).or_default() += 1,
                        Mop::Read {
                            values: Some(v), ..
                        } => assert!(v.len() <= shape.appends_per_key, "seed {seed}"),
                        Mop::Read { .. } => {}
                    }
                }
            }
            // Appends of failed transactions count too, so a key may see a few more.
            assert!(appends.len() as u64 > 2 * shape.active_keys, "seed {seed}");
            let most = appends.values().max().copied().unwrap_or(0);
            assert!(
                most < 2 * shape.appends_per_key,
                "seed {seed}: {most} appends"
            );
        }
    }
}
