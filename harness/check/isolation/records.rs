//! A run's history from its op records: each `list_txn` record becomes a transaction (its
//! micro-ops as run, what its reads returned, its outcome and its monotonic interval), and
//! each planned `list_txn` that never reported (a killed worker's) an ambiguous one that
//! may have run at any time. Then the checker, and what the report carries of it.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::history::{History, Mop, Outcome, Txn, TxnId};
use super::{EdgeKind, Found};
use crate::observe::{OpRecord, Outcome as OpOutcome};
use crate::plan::list_append::{self, ListMop};
use crate::plan::{OpKind, Plan};

/// The report keeps this many anomalies of each class in full (the counts cover them all),
/// so a flood of one class cannot crowd the explained cycles out.
const MAX_PER_CLASS: usize = 3;

/// What the report's `checks.isolation` carries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IsolationReport {
    pub txns: usize,
    /// Transactions by outcome (`ok`, `fail`, `info`).
    pub outcomes: BTreeMap<String, usize>,
    pub keys: usize,
    pub edges: BTreeMap<EdgeKind, usize>,
    /// Every anomaly found, by class name.
    pub anomaly_count: usize,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub classes: BTreeMap<String, usize>,
    /// The first anomalies of each class, in class order, each with its explained cycle or
    /// read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub anomalies: Vec<Found>,
    /// Which op each transaction they name is: `T12` -> `worker 1 actor 0 seq 7`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub txn_ops: BTreeMap<String, String>,
    /// Why the history could not be checked: never a pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What the transactions are, when not list-append ones: `claim` for the kanban
    /// claims' history (`isolation::claims`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transactions: Option<String>,
    /// Committed claims of an external worker that reported no read of their task
    /// (`claim_read`): judged as writes alone, their reads unknown.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unjudged_reads: usize,
    /// What a key of the named anomalies is, when not a list: `3` -> `task t-001-000004`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub key_names: BTreeMap<String, String>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl IsolationReport {
    pub fn failed(&self) -> bool {
        self.anomaly_count > 0 || self.error.is_some()
    }
}

/// Which op a transaction of the history is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct OpId {
    pub worker: u32,
    pub actor: u32,
    pub seq: u32,
}

/// The process a transaction ran in: each actor (connection) is one, `worker x 1000 + actor`.
pub fn process(worker: u32, actor: u32) -> u64 {
    u64::from(worker) * 1000 + u64::from(actor)
}

fn mop(m: &ListMop) -> Mop {
    match m {
        ListMop::Append { key, value } => Mop::Append {
            key: *key,
            value: *value,
        },
        ListMop::Read { key, values } => Mop::Read {
            key: *key,
            values: values.clone(),
        },
    }
}

fn outcome(o: OpOutcome) -> Outcome {
    match o {
        OpOutcome::Committed => Outcome::Ok,
        OpOutcome::Ambiguous => Outcome::Info,
        OpOutcome::RolledBack | OpOutcome::Failed | OpOutcome::Done => Outcome::Fail,
    }
}

/// The history of a run's `list_txn` ops, in (worker, seq) order, and which op each is.
pub fn history(plan: &Plan, records: &[OpRecord]) -> (History, Vec<OpId>) {
    let mut reported = BTreeSet::new();
    let mut rows: Vec<(OpId, Txn)> = Vec::new();
    for r in records.iter().filter(|r| r.kind == OpKind::ListTxn) {
        reported.insert((r.worker, r.seq));
        let id = OpId {
            worker: r.worker,
            actor: r.actor,
            seq: r.seq,
        };
        rows.push((
            id,
            Txn {
                process: process(r.worker, r.actor),
                outcome: outcome(r.outcome),
                start_ns: r.t_start_ns,
                end_ns: Some(r.t_end_ns),
                mops: r.list.iter().map(mop).collect(),
            },
        ));
    }
    for w in &plan.workers {
        for op in w.ops.iter().filter(|op| op.kind == OpKind::ListTxn) {
            if reported.contains(&(w.worker, op.seq)) {
                continue;
            }
            let id = OpId {
                worker: w.worker,
                actor: op.actor,
                seq: op.seq,
            };
            let planned = list_append::txn(plan.seed, w.worker, op.seq);
            rows.push((
                id,
                Txn {
                    process: process(w.worker, op.actor),
                    outcome: Outcome::Info,
                    start_ns: 0,
                    end_ns: None,
                    mops: planned.iter().map(mop).collect(),
                },
            ));
        }
    }
    rows.sort_by_key(|(id, _)| (id.worker, id.seq));
    let ids = rows.iter().map(|(id, _)| *id).collect();
    let txns = rows.into_iter().map(|(_, t)| t).collect();
    (History { txns }, ids)
}

/// Checks a run's list-append history.
pub fn check(plan: &Plan, records: &[OpRecord]) -> IsolationReport {
    let (history, ids) = history(plan, records);
    report(&history, |t| {
        ids.get(t)
            .map(|id| format!("worker {} actor {} seq {}", id.worker, id.actor, id.seq))
    })
}

/// Checks `history` and keeps what the report carries; `op` names the op a transaction is
/// (`worker W actor A seq S`), for those the anomalies name.
pub fn report(history: &History, op: impl Fn(TxnId) -> Option<String>) -> IsolationReport {
    let mut report = IsolationReport {
        txns: history.txns.len(),
        ..IsolationReport::default()
    };
    let analysis = match super::check(history) {
        Ok(a) => a,
        Err(e) => {
            report.error = Some(e.to_string());
            return report;
        }
    };
    report.outcomes = analysis.outcomes;
    report.keys = analysis.keys;
    report.edges = analysis.edges;
    report.anomaly_count = analysis.anomalies.len();
    for f in &analysis.anomalies {
        *report
            .classes
            .entry(f.class.name().to_string())
            .or_default() += 1;
    }
    let mut kept: BTreeMap<super::AnomalyClass, usize> = BTreeMap::new();
    report.anomalies = analysis
        .anomalies
        .into_iter()
        .filter(|f| {
            let n = kept.entry(f.class).or_default();
            *n += 1;
            *n <= MAX_PER_CLASS
        })
        .collect();
    let named: BTreeSet<TxnId> = report
        .anomalies
        .iter()
        .flat_map(|f| f.anomaly.txns())
        .collect();
    for t in named {
        if let Some(name) = op(t) {
            report.txn_ops.insert(format!("T{t}"), name);
        }
    }
    report
}

/// The history files a kept run directory gets, for cross-checking with Elle.
pub const HISTORY_JSONL: &str = "history.jsonl";
pub const HISTORY_EDN: &str = "history.edn";

/// Writes the run's history beside its records as JSON lines and EDN (`export`); the
/// error names the file.
pub fn write_history(
    dir: &std::path::Path,
    plan: &Plan,
    records: &[OpRecord],
) -> Result<(), (std::path::PathBuf, std::io::Error)> {
    use std::io::Write;
    let (history, _) = history(plan, records);
    for (name, edn) in [(HISTORY_JSONL, false), (HISTORY_EDN, true)] {
        let path = dir.join(name);
        let write = || -> std::io::Result<()> {
            let mut w = std::io::BufWriter::new(std::fs::File::create(&path)?);
            if edn {
                super::export::write_edn(&history, &mut w)?;
            } else {
                super::export::write_jsonl(&history, &mut w)?;
            }
            w.flush()
        };
        write().map_err(|e| (path.clone(), e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{ScenarioSource, parse_str};

    fn plan() -> Plan {
        let toml = "name = \"la\"\n[workload]\nprofile = \"list-append\"\nworkers = 2\nops_per_worker = 3\n";
        let s = parse_str(toml, &ScenarioSource::Embedded("la".into())).unwrap();
        crate::plan::build(&s, 5)
    }

    /// A record of `op` as the built-in worker would send it, alone on the database: each
    /// read returns the transaction's own appends to the key so far.
    fn record(plan: &Plan, worker: u32, seq: u32, outcome: &str) -> OpRecord {
        let mut r: OpRecord = serde_json::from_value(serde_json::json!({
            "worker": worker, "actor": 0, "seq": seq, "kind": "list_txn", "outcome": outcome,
            "lock_wait_us": 0, "begin_wait_us": 0, "latency_us": 0,
            "t_start_ns": 10, "t_end_ns": 20,
        }))
        .unwrap();
        let mut own: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
        r.list = list_append::txn(plan.seed, worker, seq)
            .into_iter()
            .map(|m| match m {
                ListMop::Read { key, .. } => ListMop::Read {
                    key,
                    values: Some(own.get(&key).cloned().unwrap_or_default()),
                },
                ListMop::Append { key, value } => {
                    own.entry(key).or_default().push(value);
                    ListMop::Append { key, value }
                }
            })
            .collect();
        r
    }

    #[test]
    fn records_become_transactions_and_unreported_ops_ambiguous_ones() {
        let plan = plan();
        let records = vec![
            record(&plan, 0, 0, "committed"),
            record(&plan, 0, 1, "failed"),
            record(&plan, 0, 2, "ambiguous"),
            record(&plan, 1, 0, "committed"),
        ];
        let (h, ids) = history(&plan, &records);
        assert_eq!(h.txns.len(), 6);
        let outcomes: Vec<Outcome> = h.txns.iter().map(|t| t.outcome).collect();
        use Outcome::{Fail, Info, Ok};
        assert_eq!(outcomes, [Ok, Fail, Info, Ok, Info, Info]);
        assert_eq!(
            ids[4],
            OpId {
                worker: 1,
                actor: 0,
                seq: 1
            }
        );
        // Never reported: may have run at any time, with its planned appends.
        assert_eq!(h.txns[4].end_ns, None);
        assert_eq!(h.txns[4].mops.len(), list_append::txn(5, 1, 1).len());
        assert_eq!(h.txns[3].process, 1000);
        let report = check(&plan, &records);
        assert!(!report.failed(), "{report:#?}");
        assert_eq!(report.txns, 6);
    }

    #[test]
    fn a_malformed_history_is_a_failure_not_a_pass() {
        let plan = plan();
        let mut blind = record(&plan, 0, 0, "committed");
        blind.list = vec![ListMop::Read {
            key: 0,
            values: None,
        }];
        let report = check(&plan, &[blind]);
        assert!(report.failed());
        assert!(report.error.unwrap().contains("carries no values"));
    }

    /// Five write cycles, one per pair of transactions: the report counts all five by
    /// class, keeps the first three (`MAX_PER_CLASS`) with their explanations, and names the
    /// op of each transaction those three name, no other.
    #[test]
    fn the_report_counts_every_anomaly_and_keeps_three_of_a_class() {
        let append = |key, value| Mop::Append { key, value };
        let read = |key, values: &[u64]| Mop::Read {
            key,
            values: Some(values.to_vec()),
        };
        let committed = |mops| Txn {
            process: 0,
            outcome: Outcome::Ok,
            start_ns: 0,
            end_ns: Some(1000),
            mops,
        };
        let mut txns = Vec::new();
        let mut reads = Vec::new();
        for i in 0..5u64 {
            let (x, y, v) = (10 * i + 1, 10 * i + 2, 100 * i);
            // x orders T2i before T2i+1, y the other way round.
            txns.push(committed(vec![append(x, v + 1), append(y, v + 2)]));
            txns.push(committed(vec![append(x, v + 3), append(y, v + 4)]));
            reads.push(read(x, &[v + 1, v + 3]));
            reads.push(read(y, &[v + 4, v + 2]));
        }
        txns.push(committed(reads));
        let h = History { txns };
        let report = report(&h, |t| Some(format!("op {t}")));
        assert_eq!(report.anomaly_count, 5);
        assert_eq!(report.classes, BTreeMap::from([("G0".to_string(), 5)]));
        assert_eq!(report.anomalies.len(), MAX_PER_CLASS);
        assert_eq!(
            report.txn_ops.keys().cloned().collect::<Vec<_>>(),
            ["T0", "T1", "T2", "T3", "T4", "T5"]
        );
        assert_eq!(report.txn_ops["T3"], "op 3");
    }

    /// A kept run's history files: both written, each exactly what `export` makes of the
    /// run's history; a directory that cannot take them is an error naming the file.
    #[test]
    fn write_history_writes_both_files_or_names_the_one_it_could_not() {
        let plan = plan();
        let records = vec![
            record(&plan, 0, 0, "committed"),
            record(&plan, 1, 2, "failed"),
        ];
        let dir = tempfile::tempdir().unwrap();
        write_history(dir.path(), &plan, &records).unwrap();
        let (h, _) = history(&plan, &records);
        let (mut jsonl, mut edn) = (Vec::new(), Vec::new());
        super::super::export::write_jsonl(&h, &mut jsonl).unwrap();
        super::super::export::write_edn(&h, &mut edn).unwrap();
        assert!(!jsonl.is_empty() && !edn.is_empty());
        assert_eq!(
            std::fs::read(dir.path().join(HISTORY_JSONL)).unwrap(),
            jsonl
        );
        assert_eq!(std::fs::read(dir.path().join(HISTORY_EDN)).unwrap(), edn);

        let gone = dir.path().join("no-such-dir");
        let (path, _) = write_history(&gone, &plan, &records).unwrap_err();
        assert_eq!(path, gone.join(HISTORY_JSONL));
    }

    /// The report carries `unjudged_reads` exactly when some claim's read was unknown: a
    /// reader of the report must not take a missing field for none unjudged when there were.
    #[test]
    fn unjudged_reads_are_in_the_report_only_when_there_are_some() {
        let json = |n: usize| {
            serde_json::to_value(IsolationReport {
                unjudged_reads: n,
                ..IsolationReport::default()
            })
            .unwrap()
        };
        assert_eq!(json(3)["unjudged_reads"], 3);
        assert_eq!(json(1)["unjudged_reads"], 1);
        assert!(json(0).get("unjudged_reads").is_none(), "{}", json(0));
    }
}
