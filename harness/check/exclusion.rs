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
