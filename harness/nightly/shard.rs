//! `--shard K/N`: a deterministic partition of a sweep's (case, seed) pairs.
//!
//! Pair `i` of the sweep's canonical order (regressions first, then each scenario's cases in
//! expansion order, each case's seeds in order) belongs to shard `(i mod N) + 1`. The order
//! depends only on the command line and the files, so every CI machine computes the same
//! partition; round robin over an order in which neighbouring pairs differ in the fastest
//! axis spreads slow and fast configurations evenly.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// 1-based.
    pub index: u32,
    pub count: u32,
}

impl Shard {
    pub fn contains(self, pair_index: usize) -> bool {
        (pair_index % self.count as usize) as u32 + 1 == self.index
    }

    /// `-1of4`, for file names.
    pub fn file_tag(self) -> String {
        format!("-{}of{}", self.index, self.count)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("`{s}` is not K/N with 1 <= K <= N (for example 2/4)");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let index: u32 = k.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if index == 0 || count == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

/// The indices of `total` pairs that belong to `shard` (all of them without a shard).
pub fn select(total: usize, shard: Option<Shard>) -> Vec<usize> {
    (0..total)
        .filter(|&i| shard.is_none_or(|s| s.contains(i)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_the_pairs() {
        for n in 1..=5u32 {
            let mut seen = vec![0; 23];
            for k in 1..=n {
                for i in select(23, Some(Shard { index: k, count: n })) {
                    seen[i] += 1;
                }
            }
            assert!(seen.iter().all(|&c| c == 1), "n={n}: {seen:?}");
        }
    }

    #[test]
    fn parses_k_of_n() {
        assert_eq!("2/4".parse(), Ok(Shard { index: 2, count: 4 }));
        assert!("0/4".parse::<Shard>().is_err());
        assert!("5/4".parse::<Shard>().is_err());
        assert!("2".parse::<Shard>().is_err());
        assert!("a/b".parse::<Shard>().is_err());
    }
}
