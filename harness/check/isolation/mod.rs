//! An isolation checker for list-append histories, after Jepsen's Elle (Kingsbury and
//! Alvaro, "Elle: Inferring Isolation Anomalies from Experimental Observations", VLDB 2020).
//!
//! Transactions append unique values to keyed lists and read whole lists. Because a list
//! shows every append before it, one committed read recovers the order of all versions it
//! includes, and from those orders the checker infers Adya's dependency graph without
//! trusting the database: write-write, write-read and read-write edges, plus real-time edges
//! from the one monotonic clock every process shares (SQLite promises serializable
//! transactions and, with its single writer on one host, strict serializability). Any cycle
//! is an anomaly; it is classified (G0, G1c, G-single, G2-item, each also in a `-realtime`
//! form) and explained by a short cycle that names its transactions, edges and keys. Lost
//! updates (P4), aborted reads (G1a), intermediate reads (G1b), incompatible orders, duplicated or never-appended
//! elements and a transaction contradicting its own writes are found without the graph.
//!
//! The stages: [`history`] (the model, validated first: an unjudgeable history is an error,
//! never a pass), [`versions`] (writers and version orders), [`graph`] (edges),
//! [`cycles`] (components and cycle search), [`anomaly`] (classes and explanations),
//! [`records`] (a run's history from its op records, and what the report keeps),
//! [`export`] (the history as Elle reads it) and [`sample`] (seeded serializable histories
//! for tests and benches).
//!
//! # Complexity
//!
//! With n transactions, m micro-ops, r elements over all reads, c the most transactions
//! running at once, and e edges (e = O(m + n c)):
//! * validation and version orders: O(m log m + r log m) (ordered maps, so nothing depends
//!   on hash order); comparing each read with its key's longest read is O(r); lost updates
//!   (two writers of one version read): O(r log n);
//! * ww, wr, rw edges: O(m log m); real-time edges: one sweep, O(n log n + n c);
//! * components: Tarjan, O(n + e) on the whole graph, then on each of five subgraphs only
//!   when the whole graph has a component of two or more transactions;
//! * cycles: only inside components of two or more transactions (a serializable history
//!   has none, so its search costs nothing); per component and class, at most
//!   [`cycles::CANDIDATES`] breadth-first searches, each linear in the component.
//!
//! So near linear in the history's size (r counts every element every read returned, which
//! is why workloads retire a key after a bounded number of appends). Measured by
//! `cargo bench --bench isolation` (BENCHMARKS.md).

pub mod anomaly;
pub mod claims;
pub mod cycles;
pub mod edges;
pub mod export;
pub mod graph;
pub mod history;
pub mod lost;
pub mod records;
pub mod rewrite;
pub mod sample;
pub mod versions;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod class_tests;

#[cfg(test)]
mod explain_tests;

#[cfg(test)]
mod graph_tests;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

pub use anomaly::{Anomaly, AnomalyClass, CycleStep};
pub use edges::EdgeKind;
pub use graph::Kinds;
pub use history::{History, HistoryError, Key, Mop, Outcome, Txn, TxnId, Value};

/// One anomaly as the report carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Found {
    pub class: AnomalyClass,
    /// For a person: the transactions, edges and keys (see [`Anomaly::explain`]).
    pub explanation: String,
    pub anomaly: Anomaly,
}

/// What the checker concluded about a history.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Analysis {
    pub txns: usize,
    /// Transactions by outcome name (`ok`, `fail`, `info`).
    pub outcomes: BTreeMap<String, usize>,
    pub keys: usize,
    /// Dependency edges by kind.
    pub edges: BTreeMap<EdgeKind, usize>,
    /// Every anomaly found, in class order; empty when the history is strict serializable.
    pub anomalies: Vec<Found>,
}

impl Analysis {
    pub fn valid(&self) -> bool {
        self.anomalies.is_empty()
    }

    pub fn classes(&self) -> BTreeSet<AnomalyClass> {
        self.anomalies.iter().map(|f| f.class).collect()
    }
}

/// Checks a history for every anomaly class the module knows. `Err` when the history
/// itself is malformed (see [`HistoryError`]).
pub fn check(history: &History) -> Result<Analysis, HistoryError> {
    history.validate()?;
    let mut anomalies = Vec::new();
    let versions = versions::infer(history, &mut anomalies);
    lost::find(history, &mut anomalies);
    let graph = graph::build(history, &versions);
    find_cycles(&graph, &mut anomalies);

    let mut found: Vec<Found> = anomalies
        .into_iter()
        .map(|a| Found {
            class: a.class(),
            explanation: a.explain(history),
            anomaly: a,
        })
        .collect();
    found.sort_by_key(|f| f.class);
    let mut analysis = Analysis {
        txns: history.txns.len(),
        keys: versions.orders.len(),
        anomalies: found,
        ..Analysis::default()
    };
    for txn in &history.txns {
        let name = match txn.outcome {
            Outcome::Ok => "ok",
            Outcome::Fail => "fail",
            Outcome::Info => "info",
        };
        *analysis.outcomes.entry(name.to_string()).or_default() += 1;
    }
    for edges in &graph.out {
        for e in edges {
            *analysis.edges.entry(e.why.kind()).or_default() += 1;
        }
    }
    Ok(analysis)
}

/// The cycle searches, weakest class first; each looks inside the components of its own
/// subgraph and reports at most one cycle per class per component of the whole graph.
fn find_cycles(g: &graph::Graph, anomalies: &mut Vec<Anomaly>) {
    use EdgeKind::{Rt, Rw, Wr, Ww};
    // (subgraph whose components are searched, first edge kind, kinds closing the cycle)
    let searches: [(&[EdgeKind], EdgeKind, &[EdgeKind]); 5] = [
        (&[Ww], Ww, &[Ww]),                         // G0
        (&[Ww, Wr], Wr, &[Ww, Wr]),                 // G1c
        (&[Ww, Wr, Rw], Rw, &[Ww, Wr]),             // G-single
        (&[Ww, Wr, Rw], Rw, &[Ww, Wr, Rw]),         // G2-item
        (&[Ww, Wr, Rw, Rt], Rt, &[Ww, Wr, Rw, Rt]), // the -realtime forms
    ];
    let (whole_members, whole) = cycles::components(g, Kinds::of(&[Ww, Wr, Rw, Rt]));
    // Every subgraph's components lie inside the whole graph's: none there, no cycle at all
    // (the clean case, which then costs one Tarjan pass).
    if whole_members.is_empty() {
        return;
    }
    let mut reported: BTreeSet<(usize, AnomalyClass)> = BTreeSet::new();
    let mut search = cycles::Search::new(g.out.len());
    for (subgraph, first, rest) in searches {
        let (members, comp) = cycles::components(g, Kinds::of(subgraph));
        for (c, txns) in members.iter().enumerate() {
            let Some(steps) = search.cycle(g, &comp, c, txns, first, Kinds::of(rest)) else {
                continue;
            };
            let steps: Vec<CycleStep> = steps.into_iter().map(CycleStep::from).collect();
            let class = AnomalyClass::of_cycle(&steps);
            if reported.insert((whole[steps[0].from], class)) {
                anomalies.push(Anomaly::Cycle { steps });
            }
        }
    }
}
