//! Write exclusion: from "BEGIN IMMEDIATE returned" to "COMMIT issued" an actor holds the
//! write lock; two actors' intervals must never overlap. A breach during COMMIT itself falls
//! outside the interval: the ledger and integrity_check are what catch those.

use serde::{Deserialize, Serialize};

use crate::observe::OpRecord;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExclusionReport {
    /// Intervals checked.
    pub intervals: u64,
    /// Intervals that began while another actor's interval was still open.
    pub overlaps: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_example: Option<String>,
}

struct Interval {
    worker: u32,
    actor: u32,
    seq: u32,
    begin: u64,
    end: u64,
}

pub fn check(records: &[OpRecord]) -> ExclusionReport {
    let mut iv: Vec<Interval> = records
        .iter()
        .filter_map(|r| {
            Some(Interval {
                worker: r.worker,
                actor: r.actor,
                seq: r.seq,
                begin: r.t_begin_ok_ns?,
                end: r.t_commit_issued_ns?,
            })
        })
        .collect();
    iv.sort_by_key(|i| (i.begin, i.worker, i.actor, i.seq));
    let mut rep = ExclusionReport {
        intervals: iv.len() as u64,
        ..Default::default()
    };
    // The open interval that ends last so far.
    let mut holder: Option<&Interval> = None;
    for cur in &iv {
        if let Some(h) = holder
            && cur.begin < h.end
            && (h.worker, h.actor) != (cur.worker, cur.actor)
        {
            rep.overlaps += 1;
            if rep.first_example.is_none() {
                rep.first_example = Some(format!(
                    "worker {} actor {} seq {} entered its write transaction {:.3} ms before worker {} actor {} seq {} issued COMMIT",
                    cur.worker,
                    cur.actor,
                    cur.seq,
                    (h.end - cur.begin) as f64 / 1e6,
                    h.worker,
                    h.actor,
                    h.seq
                ));
            }
        }
        if holder.is_none_or(|h| cur.end > h.end) {
            holder = Some(cur);
        }
    }
    rep
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(worker: u32, actor: u32, seq: u32, begin: u64, commit_issued: u64) -> OpRecord {
        serde_json::from_value(serde_json::json!({
            "worker": worker, "actor": actor, "seq": seq, "kind": "create_task",
            "outcome": "committed", "t_start_ns": begin, "t_begin_ok_ns": begin,
            "t_commit_issued_ns": commit_issued, "t_end_ns": commit_issued,
        }))
        .unwrap()
    }

    /// Two connections of one worker process are two actors: their overlap is a breach like
    /// any other (every older fixture had one actor per worker, so a check comparing workers
    /// instead of actors passed them all).
    #[test]
    fn two_actors_of_one_worker_overlapping_is_an_overlap() {
        let x = check(&[rec(0, 0, 0, 1_000, 5_000), rec(0, 1, 1, 2_000, 3_000)]);
        assert_eq!((x.intervals, x.overlaps), (2, 1));
        assert_eq!(
            x.first_example.as_deref(),
            Some(
                "worker 0 actor 1 seq 1 entered its write transaction 0.003 ms before worker 0 actor 0 seq 0 issued COMMIT"
            )
        );
    }

    /// One actor runs its ops one after another; its own records never overlap each other,
    /// even when their monotonic stamps touch.
    #[test]
    fn one_actors_own_intervals_are_not_an_overlap() {
        let x = check(&[rec(0, 1, 0, 1_000, 5_000), rec(0, 1, 1, 2_000, 3_000)]);
        assert_eq!((x.intervals, x.overlaps), (2, 0));
        assert_eq!(x.first_example, None);
    }

    /// Entering exactly when the other issued COMMIT is not inside its interval; a
    /// nanosecond earlier is. Records without both stamps (a rollback before BEGIN
    /// returned) are no interval.
    #[test]
    fn the_interval_ends_when_commit_is_issued() {
        let x = check(&[rec(0, 0, 0, 1_000, 2_000), rec(1, 0, 0, 2_000, 3_000)]);
        assert_eq!((x.intervals, x.overlaps), (2, 0));
        let x = check(&[rec(0, 0, 0, 1_000, 2_000), rec(1, 0, 0, 1_999, 3_000)]);
        assert_eq!((x.intervals, x.overlaps), (2, 1));
        let mut no_begin = rec(2, 0, 0, 1_500, 1_600);
        no_begin.t_begin_ok_ns = None;
        let mut no_commit = rec(3, 0, 0, 1_500, 1_600);
        no_commit.t_commit_issued_ns = None;
        let x = check(&[rec(0, 0, 0, 1_000, 2_000), no_begin, no_commit]);
        assert_eq!((x.intervals, x.overlaps), (1, 0));
    }

    /// The holder is the interval that ends last: a short one inside a long one does not
    /// hide a third that starts after the short one but before the long one ends.
    #[test]
    fn the_longest_open_interval_stays_the_holder() {
        let x = check(&[
            rec(0, 0, 0, 1_000, 9_000),
            rec(1, 0, 0, 2_000, 3_000),
            rec(2, 0, 0, 4_000, 5_000),
            rec(3, 0, 0, 9_000, 9_500),
        ]);
        assert_eq!((x.intervals, x.overlaps), (4, 2));
        // A later interval that ends later takes over.
        let x = check(&[
            rec(0, 0, 0, 1_000, 3_000),
            rec(1, 0, 0, 2_000, 6_000),
            rec(2, 0, 0, 5_000, 7_000),
        ]);
        assert_eq!(x.overlaps, 2);
        assert!(
            x.first_example
                .unwrap()
                .starts_with("worker 1 actor 0 seq 0"),
            "the first overlap in time order"
        );
    }

    /// Of two open intervals that end at the same time, the first stays the holder: a third
    /// that begins inside it is an overlap even when it is the second one's actor (mutant
    /// `cur.end >= h.end`, which swapped holders on a tie and forgave that overlap).
    #[test]
    fn a_tie_keeps_the_first_holder() {
        let x = check(&[
            rec(0, 0, 0, 0, 10_000),
            rec(1, 0, 0, 5_000, 10_000),
            rec(1, 0, 1, 7_000, 12_000),
        ]);
        assert_eq!(x.overlaps, 2);
    }
}
