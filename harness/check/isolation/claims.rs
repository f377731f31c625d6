//! The kanban claims as a history for the isolation checker (issue 24, item 5), so a claim
//! that is not isolated fails as a named anomaly with its minimal cycle, beside the
//! `[[invariants]]` rule that catches its effect. Each task is a key whose list is the claims
//! made of it, in commit order. A claim, as the app means it, is one transaction: it reads
//! the task (found ready: no claim yet, the empty list) and appends its own claim; the
//! racy `read-then-write` claim really spreads that over two SQLite transactions (its retry
//! re-reads nothing), and that is exactly what the checker judges. After the run one read of
//! `task_runs` (the claims that committed, in `id` order) closes the history and gives every
//! key its version order. A double claim is then T1 -ww-> T2 -rw-> T1: G-single, a lost
//! update.

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::Connection;

use super::history::{History, Mop, Outcome, Txn};
use super::records::{IsolationReport, process, report};
use crate::observe::{OpRecord, Outcome as OpOutcome};
use crate::plan::list_append::value;
use crate::plan::{OpKind, Plan};

/// One committed claim after the run: (task, worker, seq), in `task_runs` order.
pub type FinalClaim = (String, u32, u32);

/// The claims that committed, in commit order (`task_runs.id`).
pub fn final_claims(conn: &Connection) -> rusqlite::Result<Vec<FinalClaim>> {
    conn.prepare("SELECT task_id, worker, seq FROM task_runs ORDER BY id")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect()
}

/// The value a claim appends: unique per (worker, seq).
fn claim_value(worker: u32, seq: u32) -> u64 {
    value(worker, seq, 0)
}

/// Where a committed claim's read of its task comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimReads {
    /// The built-in worker's: its claim SQL picks only a ready, unclaimed task, so a claim
    /// that committed read its task ready.
    Inferred,
    /// An external worker's: what the adapter reported (`claim_read`); a claim that reported
    /// none is judged as its write alone, and counted (`unjudged_reads`).
    Reported,
}

/// The history built from the claims, for the checker.
pub struct ClaimHistory {
    pub history: History,
    /// Which op each transaction is.
    pub names: Vec<String>,
    /// Each key's task.
    pub key_names: Vec<String>,
    /// Committed claims whose read of their task is unknown (`ClaimReads::Reported`).
    pub unjudged_reads: usize,
}

/// A claim lock as the kanban schema writes it (`w003:17`), as the value that claim appends.
fn claim_lock_value(lock: &str) -> Option<u64> {
    let (worker, seq) = lock.strip_prefix('w')?.split_once(':')?;
    Some(claim_value(worker.parse().ok()?, seq.parse().ok()?))
}

/// What the history is built from: the claim records and the claims found after the run.
/// `Err` names a claim whose reported read cannot be understood (never a pass).
pub fn history(
    records: &[OpRecord],
    after: &[FinalClaim],
    reads: ClaimReads,
) -> Result<ClaimHistory, String> {
    let claims = || records.iter().filter(|r| r.kind == OpKind::ClaimTask);
    let tasks: BTreeSet<&str> = claims()
        .filter_map(|r| r.task_id.as_deref())
        .chain(claims().filter_map(|r| Some(r.claim_read.as_ref()?.task_id.as_str())))
        .chain(after.iter().map(|(t, _, _)| t.as_str()))
        .collect();
    let key: BTreeMap<&str, u64> = tasks.iter().zip(0u64..).map(|(t, k)| (*t, k)).collect();
    let mut txns = Vec::new();
    let mut names = Vec::new();
    let mut known = BTreeSet::new();
    let mut last_end = 0;
    let mut unjudged_reads = 0;
    for r in claims() {
        last_end = last_end.max(r.t_end_ns);
        let Some(task) = r.task_id.as_deref() else {
            continue;
        };
        let (outcome, mut mops) = claim_mops(r, key[task]);
        if outcome == Outcome::Ok && !read_as_reported(r, reads, &key, &mut mops)? {
            unjudged_reads += 1;
        }
        if outcome != Outcome::Fail {
            known.insert((r.worker, r.seq));
        }
        txns.push(Txn {
            process: process(r.worker, r.actor),
            outcome,
            start_ns: r.t_start_ns,
            end_ns: Some(r.t_end_ns),
            mops,
        });
        names.push(format!(
            "worker {} actor {} seq {}",
            r.worker, r.actor, r.seq
        ));
    }
    // A claim that committed but never said so (its worker was killed): it may have run at
    // any time.
    for (task, worker, seq) in after {
        if known.insert((*worker, *seq)) {
            txns.push(Txn {
                process: process(*worker, u32::MAX),
                outcome: Outcome::Info,
                start_ns: 0,
                end_ns: None,
                mops: vec![Mop::Append {
                    key: key[task.as_str()],
                    value: claim_value(*worker, *seq),
                }],
            });
            names.push(format!("worker {worker} seq {seq} (no record)"));
        }
    }
    txns.push(final_read(after, &key, last_end));
    names.push("the read of task_runs after the run".to_string());
    let key_names = tasks.iter().map(|t| format!("task {t}")).collect();
    Ok(ClaimHistory {
        history: History { txns },
        names,
        key_names,
        unjudged_reads,
    })
}

/// Sets a committed claim's read (`mops[0]`) to what its record reports, if it does; with
/// none, an external worker's claim keeps its write alone (`Ok(false)`: unjudged) and the
/// built-in worker's its read of the task ready. `Err` names a claim lock it cannot read.
fn read_as_reported(
    r: &OpRecord,
    reads: ClaimReads,
    key: &BTreeMap<&str, u64>,
    mops: &mut Vec<Mop>,
) -> Result<bool, String> {
    let Some(read) = &r.claim_read else {
        if reads == ClaimReads::Reported {
            mops.remove(0);
            return Ok(false);
        }
        return Ok(true);
    };
    let values = match read.claim_lock.as_deref() {
        None => Vec::new(),
        Some(lock) => vec![claim_lock_value(lock).ok_or_else(|| {
            format!(
                "worker {} seq {} reported claim_lock {lock:?} for task {}: not w<worker>:<seq>",
                r.worker, r.seq, read.task_id
            )
        })?],
    };
    mops[0] = Mop::Read {
        key: key[read.task_id.as_str()],
        values: Some(values),
    };
    Ok(true)
}

/// A claim record's outcome and micro-ops on its task's key `k`.
fn claim_mops(r: &OpRecord, k: u64) -> (Outcome, Vec<Mop>) {
    let append = Mop::Append {
        key: k,
        value: claim_value(r.worker, r.seq),
    };
    match r.outcome {
        // It found the task ready: no claim of it was visible.
        OpOutcome::Committed => (
            Outcome::Ok,
            vec![
                Mop::Read {
                    key: k,
                    values: Some(Vec::new()),
                },
                append,
            ],
        ),
        OpOutcome::Ambiguous => (Outcome::Info, vec![append]),
        _ => (Outcome::Fail, vec![append]),
    }
}

/// The read of `task_runs` after the run, after every op ended: each task's claims in
/// commit order.
fn final_read(after: &[FinalClaim], key: &BTreeMap<&str, u64>, last_end: u64) -> Txn {
    let mut lists: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for (task, worker, seq) in after {
        lists
            .entry(key[task.as_str()])
            .or_default()
            .push(claim_value(*worker, *seq));
    }
    Txn {
        process: u64::MAX,
        outcome: Outcome::Ok,
        start_ns: last_end + 1,
        end_ns: Some(last_end + 2),
        mops: lists
            .into_iter()
            .map(|(key, values)| Mop::Read {
                key,
                values: Some(values),
            })
            .collect(),
    }
}

/// Checks the claims of a kanban run; `None` when its plan has no claim.
pub fn check(
    conn: &Connection,
    plan: &Plan,
    records: &[OpRecord],
    reads: ClaimReads,
) -> Option<IsolationReport> {
    let claims = plan
        .workers
        .iter()
        .any(|w| w.ops.iter().any(|op| op.kind == OpKind::ClaimTask));
    if !claims {
        return None;
    }
    let after = match final_claims(conn) {
        Ok(a) => a,
        Err(e) => {
            return Some(IsolationReport {
                transactions: Some("claim".into()),
                error: Some(format!("cannot read task_runs after the run: {e}")),
                ..IsolationReport::default()
            });
        }
    };
    Some(judge(records, &after, reads))
}

/// The checker's report on the claims' history.
pub fn judge(records: &[OpRecord], after: &[FinalClaim], reads: ClaimReads) -> IsolationReport {
    let ClaimHistory {
        history,
        names,
        key_names,
        unjudged_reads,
    } = match history(records, after, reads) {
        Ok(h) => h,
        Err(e) => {
            return IsolationReport {
                transactions: Some("claim".into()),
                error: Some(e),
                ..IsolationReport::default()
            };
        }
    };
    let mut rep = report(&history, |t| names.get(t).cloned());
    rep.transactions = Some("claim".into());
    rep.unjudged_reads = unjudged_reads;
    let named: BTreeSet<u64> = rep
        .anomalies
        .iter()
        .flat_map(|f| f.anomaly.txns())
        .flat_map(|t| history.txns[t].mops.iter().map(Mop::key))
        .collect();
    for k in named {
        if let Some(name) = key_names.get(k as usize) {
            rep.key_names.insert(k.to_string(), name.clone());
        }
    }
    rep
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::isolation::AnomalyClass;

    fn claim(worker: u32, seq: u32, task: &str, outcome: &str, t: (u64, u64)) -> OpRecord {
        serde_json::from_value(serde_json::json!({
            "worker": worker, "actor": 0, "seq": seq, "kind": "claim_task", "outcome": outcome,
            "task_id": task, "t_start_ns": t.0, "t_end_ns": t.1,
        }))
        .unwrap()
    }

    fn after(claims: &[(&str, u32, u32)]) -> Vec<FinalClaim> {
        claims
            .iter()
            .map(|(t, w, s)| (t.to_string(), *w, *s))
            .collect()
    }

    /// Claims of distinct tasks, one each: serializable, nothing found.
    #[test]
    fn one_claim_per_task_is_clean() {
        let records = [
            claim(0, 1, "t-a", "committed", (10, 20)),
            claim(1, 1, "t-b", "committed", (15, 25)),
            claim(1, 2, "t-c", "rolled_back", (30, 40)),
        ];
        let rep = judge(
            &records,
            &after(&[("t-a", 0, 1), ("t-b", 1, 1)]),
            ClaimReads::Inferred,
        );
        assert!(!rep.failed(), "{rep:#?}");
        assert_eq!(rep.txns, 4, "three claims and the read after the run");
        assert_eq!(rep.transactions.as_deref(), Some("claim"));
    }

    /// The detector's own control: two committed claims that both read the task ready are a
    /// G-single cycle of two transactions (a lost update), named with its ops and task.
    #[test]
    fn a_double_claim_is_g_single_with_its_minimal_cycle() {
        let records = [
            claim(0, 3, "t-a", "committed", (10, 30)),
            claim(1, 4, "t-a", "committed", (12, 40)),
        ];
        let rep = judge(
            &records,
            &after(&[("t-a", 0, 3), ("t-a", 1, 4)]),
            ClaimReads::Inferred,
        );
        assert!(rep.failed());
        assert_eq!(
            rep.classes.keys().collect::<Vec<_>>(),
            ["G-single", "lost-update"]
        );
        let f = &rep.anomalies[0];
        assert_eq!(f.class, AnomalyClass::GSingle);
        assert_eq!(f.anomaly.txns().len(), 2, "{}", f.explanation);
        assert_eq!(rep.txn_ops["T0"], "worker 0 actor 0 seq 3");
        assert_eq!(rep.txn_ops["T1"], "worker 1 actor 0 seq 4");
        assert_eq!(rep.key_names["0"], "task t-a");
    }

    fn reported(mut r: OpRecord, lock: Option<&str>) -> OpRecord {
        r.claim_read = Some(crate::observe::ClaimRead {
            task_id: r.task_id.clone().unwrap(),
            claim_lock: lock.map(str::to_string),
        });
        r
    }

    /// An external worker's claims are judged from the reads its adapter reported: two that
    /// read the task unclaimed are the same G-single and lost update; a claim that read the
    /// first's lock is no anomaly; one that reported no read is judged as its write alone
    /// and counted; a lock the checker cannot read is an error, never a pass.
    #[test]
    fn reported_reads_are_judged_and_missing_ones_counted() {
        let a = claim(0, 3, "t-a", "committed", (10, 30));
        let b = claim(1, 4, "t-a", "committed", (12, 40));
        let twice = after(&[("t-a", 0, 3), ("t-a", 1, 4)]);
        let both_ready = [reported(a.clone(), None), reported(b.clone(), None)];
        let rep = judge(&both_ready, &twice, ClaimReads::Reported);
        assert_eq!(
            rep.classes.keys().collect::<Vec<_>>(),
            ["G-single", "lost-update"]
        );
        assert_eq!(rep.unjudged_reads, 0);

        let saw_it = [
            reported(a.clone(), None),
            reported(b.clone(), Some("w000:3")),
        ];
        let rep = judge(&saw_it, &twice, ClaimReads::Reported);
        assert!(!rep.failed(), "{rep:#?}");

        let unread = [reported(a.clone(), None), b.clone()];
        let rep = judge(&unread, &twice, ClaimReads::Reported);
        assert!(!rep.failed(), "a write alone proves nothing: {rep:#?}");
        assert_eq!(rep.unjudged_reads, 1);
        // The built-in worker's claims read their task ready, by its SQL.
        let rep = judge(&[a.clone(), b.clone()], &twice, ClaimReads::Inferred);
        assert!(rep.failed());

        let garbled = [reported(a, Some("worker 7"))];
        let rep = judge(&garbled, &after(&[("t-a", 0, 3)]), ClaimReads::Reported);
        assert!(rep.error.as_deref().unwrap().contains("\"worker 7\""));
        // The report still says whose history it could not judge.
        assert_eq!(rep.transactions.as_deref(), Some("claim"));
    }

    /// A claim found after the run that never reported (a killed worker's) is an ambiguous
    /// append, not a garbage read.
    #[test]
    fn an_unreported_committed_claim_is_ambiguous_not_garbage() {
        let records = [claim(0, 1, "t-a", "committed", (10, 20))];
        let rep = judge(
            &records,
            &after(&[("t-a", 0, 1), ("t-b", 2, 7)]),
            ClaimReads::Inferred,
        );
        assert!(!rep.failed(), "{rep:#?}");
        assert_eq!(rep.outcomes["info"], 1);
    }
}

#[cfg(test)]
#[path = "claims_tests.rs"]
mod controls;
