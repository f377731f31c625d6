//! Partitions of a sweep's (case, seed) pairs, as cargo-nextest partitions tests:
//! `--partition slice:K/N` (also `count:K/N`, and today's `--shard K/N`) and `hash:K/N`.
//!
//! The pairs have one canonical order (regressions first, then each scenario's cases in
//! expansion order, each case's seeds in order), which depends only on the command line and
//! the files, so every CI machine computes the same partition.
//!
//! * **slice**: pair `i` belongs to partition `(i mod N) + 1`. Round robin over an order in
//!   which neighbouring pairs differ in the fastest axis spreads slow and fast
//!   configurations evenly; but adding a seed or a case moves most pairs to another machine.
//! * **hash**: pair `i` belongs to partition `(h mod N) + 1`, `h` the first 8 bytes of the
//!   SHA-256 of the pair's key (`<case> seed=<N>...`). A pair stays on its machine when
//!   others are added or removed (a failure keeps its place in CI history); partitions are
//!   only roughly even.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// How pairs are dealt out to partitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PartitionKind {
    /// Round robin over the canonical order (nextest's `slice` and `count`; `--shard`).
    #[default]
    Slice,
    /// By a hash of each pair's key: stable when the sweep grows.
    Hash,
}

impl PartitionKind {
    pub fn word(self) -> &'static str {
        match self {
            PartitionKind::Slice => "slice",
            PartitionKind::Hash => "hash",
        }
    }

    pub fn is_slice(&self) -> bool {
        *self == PartitionKind::Slice
    }

    /// The partition (1-based, of `count`) that pair `pair_index` with key `key` belongs to.
    pub fn owner(self, count: u32, pair_index: usize, key: &str) -> u32 {
        let bucket = match self {
            PartitionKind::Slice => (pair_index % count as usize) as u64,
            PartitionKind::Hash => {
                let digest = Sha256::digest(key.as_bytes());
                let first: [u8; 8] = digest[..8].try_into().expect("SHA-256 has 32 bytes");
                u64::from_be_bytes(first) % u64::from(count)
            }
        };
        bucket as u32 + 1
    }
}

/// One partition of a sweep: the `index`-th of `count` (the index file's `shard`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// 1-based.
    pub index: u32,
    pub count: u32,
    /// Absent in index files written before hash partitions existed: those are slices.
    #[serde(default, skip_serializing_if = "PartitionKind::is_slice")]
    pub kind: PartitionKind,
}

impl Shard {
    pub fn contains(self, pair_index: usize, key: &str) -> bool {
        self.kind.owner(self.count, pair_index, key) == self.index
    }

    /// `-1of4` (a slice) or `-hash1of4`, for file names.
    pub fn file_tag(self) -> String {
        match self.kind {
            PartitionKind::Slice => format!("-{}of{}", self.index, self.count),
            PartitionKind::Hash => format!("-hash{}of{}", self.index, self.count),
        }
    }
}

/// `2/4` for a slice (as `--shard` has always printed it), `hash:2/4` for a hash partition.
impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            PartitionKind::Slice => write!(f, "{}/{}", self.index, self.count),
            PartitionKind::Hash => write!(f, "hash:{}/{}", self.index, self.count),
        }
    }
}

/// `K/N` (a slice: `--shard`'s form), `slice:K/N`, `count:K/N` or `hash:K/N`.
impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.parse::<PartitionSpec>()? {
            PartitionSpec::Given(shard) => Ok(shard),
            PartitionSpec::FromCi(_) => Err(format!(
                "`{s}`: the CI's variables are read only by --partition KIND:ci"
            )),
        }
    }
}

/// What `--partition` was given: a partition, or a kind whose index and count come from the
/// CI's variables (`hash:ci`), read only when the user asks for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartitionSpec {
    Given(Shard),
    FromCi(PartitionKind),
}

impl FromStr for PartitionSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            format!(
                "`{s}` is not KIND:K/N with KIND slice, count or hash and 1 <= K <= N \
                 (for example hash:2/4), nor KIND:ci"
            )
        };
        let (kind, rest) = match s.split_once(':') {
            None => (PartitionKind::Slice, s),
            Some(("slice" | "count", rest)) => (PartitionKind::Slice, rest),
            Some(("hash", rest)) => (PartitionKind::Hash, rest),
            Some(_) => return Err(bad()),
        };
        if rest == "ci" && s.contains(':') {
            return Ok(PartitionSpec::FromCi(kind));
        }
        let (k, n) = rest.split_once('/').ok_or_else(bad)?;
        let index: u32 = k.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if index == 0 || count == 0 || index > count {
            return Err(bad());
        }
        Ok(PartitionSpec::Given(Shard { index, count, kind }))
    }
}

/// The CI variables `KIND:ci` reads, in this order: (index, count, whether the index is
/// 0-based). GitHub Actions has none: give `hash:${{ matrix.partition }}/N` there.
pub const CI_VARIABLES: [(&str, &str, bool); 3] = [
    ("CI_NODE_INDEX", "CI_NODE_TOTAL", false), // GitLab CI (`parallel:`), 1-based
    ("CIRCLE_NODE_INDEX", "CIRCLE_NODE_TOTAL", true), // CircleCI, 0-based
    (
        "BUILDKITE_PARALLEL_JOB",
        "BUILDKITE_PARALLEL_JOB_COUNT",
        true,
    ), // Buildkite, 0-based
];

/// `--partition KIND:ci` found no usable CI variables.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CiPartitionError {
    #[error(
        "--partition {kind}:ci: none of the CI's partition variables is set (looked for {}); \
         give the partition as {kind}:K/N instead",
        looked_for()
    )]
    Unset { kind: &'static str },
    #[error(
        "--partition {kind}:ci: {index_var}={index} and {count_var}={count} are not a \
         partition (allowed: whole numbers, the index {range})"
    )]
    Bad {
        kind: &'static str,
        index_var: &'static str,
        index: String,
        count_var: &'static str,
        count: String,
        range: &'static str,
    },
}

fn looked_for() -> String {
    CI_VARIABLES
        .iter()
        .map(|(i, n, _)| format!("{i}/{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl PartitionSpec {
    /// The partition itself; `KIND:ci` reads the first CI's pair of variables that is set,
    /// through `var` (the environment, in the CLI).
    pub fn resolve(self, var: impl Fn(&str) -> Option<String>) -> Result<Shard, CiPartitionError> {
        let kind = match self {
            PartitionSpec::Given(s) => return Ok(s),
            PartitionSpec::FromCi(kind) => kind,
        };
        for (index_var, count_var, zero_based) in CI_VARIABLES {
            let (Some(index), Some(count)) = (var(index_var), var(count_var)) else {
                continue;
            };
            let parsed = (index.trim().parse::<u32>(), count.trim().parse::<u32>());
            let shard = match parsed {
                (Ok(i), Ok(n)) => {
                    let i = if zero_based {
                        i.checked_add(1)
                    } else {
                        Some(i)
                    };
                    i.filter(|&i| i >= 1 && i <= n).map(|index| Shard {
                        index,
                        count: n,
                        kind,
                    })
                }
                _ => None,
            };
            return shard.ok_or(CiPartitionError::Bad {
                kind: kind.word(),
                index_var,
                index,
                count_var,
                count,
                range: if zero_based {
                    "from 0 to the count - 1"
                } else {
                    "from 1 to the count"
                },
            });
        }
        Err(CiPartitionError::Unset { kind: kind.word() })
    }
}

/// The indices of the pairs (given by their keys, in canonical order) that belong to
/// `shard` (all of them without one).
pub fn select<S: AsRef<str>>(keys: &[S], shard: Option<Shard>) -> Vec<usize> {
    (0..keys.len())
        .filter(|&i| shard.is_none_or(|s| s.contains(i, keys[i].as_ref())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("tiny/case seed={i}")).collect()
    }

    #[test]
    fn partitions_of_either_kind_cover_the_pairs_once() {
        let keys = keys(23);
        for kind in [PartitionKind::Slice, PartitionKind::Hash] {
            for count in 1..=5u32 {
                let mut seen = vec![0; keys.len()];
                for index in 1..=count {
                    for i in select(&keys, Some(Shard { index, count, kind })) {
                        seen[i] += 1;
                    }
                }
                assert!(seen.iter().all(|&c| c == 1), "{kind:?} n={count}: {seen:?}");
            }
        }
    }

    #[test]
    fn a_slice_is_round_robin_and_a_hash_ignores_the_position() {
        let slice = |index| Shard {
            index,
            count: 3,
            kind: PartitionKind::Slice,
        };
        assert_eq!(select(&keys(7), Some(slice(2))), vec![1, 4]);
        // The same key lands in the same hash partition wherever it stands in the order.
        let k = "nightly/wal-full seed=20260415001";
        let owner = PartitionKind::Hash.owner(4, 0, k);
        assert!((1..=4).contains(&owner));
        assert_eq!(PartitionKind::Hash.owner(4, 917, k), owner);
        // Pinned: the partition is SHA-256 of the key, so every machine agrees on it.
        let got: Vec<u32> = (0..8)
            .map(|i| PartitionKind::Hash.owner(4, 0, &format!("tiny/case seed={i}")))
            .collect();
        let expected: Vec<u32> = (0..8)
            .map(|i| {
                let d = Sha256::digest(format!("tiny/case seed={i}").as_bytes());
                (u64::from_be_bytes(d[..8].try_into().unwrap()) % 4) as u32 + 1
            })
            .collect();
        assert_eq!(got, expected);
        assert!(got.iter().collect::<std::collections::BTreeSet<_>>().len() > 1);
    }

    #[test]
    fn parses_what_nextest_and_shard_accept() {
        let s = |index, count, kind| PartitionSpec::Given(Shard { index, count, kind });
        use PartitionKind::{Hash, Slice};
        assert_eq!("2/4".parse(), Ok(s(2, 4, Slice)));
        assert_eq!("slice:2/4".parse(), Ok(s(2, 4, Slice)));
        assert_eq!("count:1/1".parse(), Ok(s(1, 1, Slice)));
        assert_eq!("hash:3/4".parse(), Ok(s(3, 4, Hash)));
        assert_eq!("hash:ci".parse(), Ok(PartitionSpec::FromCi(Hash)));
        assert_eq!("slice:ci".parse(), Ok(PartitionSpec::FromCi(Slice)));
        for bad in [
            "0/4", "5/4", "2", "a/b", "ci", "hash:0/2", "mod:1/2", "hash:", "",
        ] {
            assert!(bad.parse::<PartitionSpec>().is_err(), "{bad}");
        }
        assert_eq!(
            "2/4".parse::<Shard>().map(|s| s.to_string()),
            Ok("2/4".into())
        );
        assert_eq!("hash:2/4".parse::<Shard>().unwrap().to_string(), "hash:2/4");
        assert!("hash:ci".parse::<Shard>().is_err());
    }

    #[test]
    fn ci_variables_are_read_only_for_ci_and_each_ci_counts_its_way() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let hash = |index, count| Shard {
            index,
            count,
            kind: PartitionKind::Hash,
        };
        let ci = PartitionSpec::FromCi(PartitionKind::Hash);
        let gitlab = env(&[("CI_NODE_INDEX", "2"), ("CI_NODE_TOTAL", "4")]);
        assert_eq!(ci.resolve(gitlab), Ok(hash(2, 4)));
        let circle = env(&[("CIRCLE_NODE_INDEX", "0"), ("CIRCLE_NODE_TOTAL", "3")]);
        assert_eq!(ci.resolve(circle), Ok(hash(1, 3)));
        // A partition given on the command line never looks at the variables.
        assert_eq!(
            PartitionSpec::Given(hash(1, 2)).resolve(gitlab),
            Ok(hash(1, 2))
        );
        let none = ci.resolve(env(&[])).unwrap_err();
        assert!(
            none.to_string().contains("CI_NODE_INDEX/CI_NODE_TOTAL"),
            "{none}"
        );
        let past = env(&[
            ("BUILDKITE_PARALLEL_JOB", "3"),
            ("BUILDKITE_PARALLEL_JOB_COUNT", "3"),
        ]);
        assert!(matches!(
            ci.resolve(past),
            Err(CiPartitionError::Bad {
                index_var: "BUILDKITE_PARALLEL_JOB",
                ..
            })
        ));
    }
}
