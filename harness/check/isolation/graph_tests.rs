//! The dependency graph's edges pinned exactly on small histories, and the subgraphs the
//! cycle searches look in (mutation-testing controls, MUTANTS.md): which transactions are
//! nodes, what a read after the transaction's own appends depends on, and that each class's
//! search keeps to its own edge kinds.

use std::collections::BTreeSet;

use super::edges::EdgeKind::{self, Rt, Rw, Wr, Ww};
use super::graph::{self, Kinds};
use super::history::{History, Mop, Outcome, Txn, TxnId};
use super::{AnomalyClass, check, versions};

fn a(key: u64, value: u64) -> Mop {
    Mop::Append { key, value }
}

fn r(key: u64, values: &[u64]) -> Mop {
    Mop::Read {
        key,
        values: Some(values.to_vec()),
    }
}

fn txn(outcome: Outcome, span: (u64, u64), mops: Vec<Mop>) -> Txn {
    Txn {
        process: 0,
        outcome,
        start_ns: span.0,
        end_ns: Some(span.1),
        mops,
    }
}

/// Committed, over [0, 1000]: overlapping every other such transaction, so no rt edge.
fn ok(mops: Vec<Mop>) -> Txn {
    txn(Outcome::Ok, (0, 1000), mops)
}

/// Every edge of the history's graph as (from, to, kind), sorted.
fn edges(h: &History) -> BTreeSet<(TxnId, TxnId, EdgeKind)> {
    h.validate().expect("a well-formed history");
    let versions = versions::infer(h, &mut Vec::new());
    let g = graph::build(h, &versions);
    g.out
        .iter()
        .enumerate()
        .flat_map(|(from, out)| out.iter().map(move |e| (from, e.to, e.why.kind())))
        .collect()
}

fn classes(h: &History) -> BTreeSet<AnomalyClass> {
    check(h).expect("a well-formed history").classes()
}

/// A set of edge kinds holds exactly the kinds it was made of, a repeated one included.
#[test]
fn a_kind_set_holds_exactly_its_kinds() {
    let all = [Ww, Wr, Rw, Rt];
    for made_of in [
        &[][..],
        &[Ww],
        &[Wr],
        &[Rw],
        &[Rt],
        &[Ww, Rw],
        &[Ww, Ww],
        &all,
    ] {
        let set = Kinds::of(made_of);
        for kind in all {
            assert_eq!(
                set.has(kind),
                made_of.contains(&kind),
                "{made_of:?} {kind:?}"
            );
        }
    }
}

/// A read after the transaction's own append depends on the writer of what it saw before
/// that append (wr), and on nothing else: the version after its external part is its own.
/// Read without the own appends set apart, the read would seem to end on its own value
/// (no wr edge) and to miss the next writer's (an rw edge).
#[test]
fn a_read_after_its_own_append_depends_on_what_it_saw_before_it() {
    let h = History {
        txns: vec![
            ok(vec![a(1, 1)]),
            ok(vec![a(1, 2), r(1, &[1, 2])]),
            ok(vec![a(1, 3)]),
            ok(vec![r(1, &[1, 2, 3])]),
        ],
    };
    assert_eq!(
        edges(&h),
        BTreeSet::from([
            (0, 1, Ww),
            (1, 2, Ww),
            (0, 1, Wr), // T1 saw [1] before its own 2
            (2, 3, Wr),
        ])
    );
    assert!(classes(&h).is_empty());
}

/// A failed transaction takes no part in the graph: no ww edge to or from it even when a
/// read shows its append between committed ones (that read is an aborted read, G1a, found
/// without the graph), and no rt edge. Counted as nodes, it would close a write cycle with
/// the committed writer (G0) and a real-time one with the reader.
#[test]
fn a_failed_transaction_has_no_edges() {
    let h = History {
        txns: vec![
            // T0 (committed) and T1 (failed) append to keys 1 and 2 in opposite orders.
            txn(Outcome::Ok, (0, 1000), vec![a(1, 1), a(2, 4)]),
            txn(Outcome::Fail, (300, 400), vec![a(1, 2), a(2, 3)]),
            // The reader ended before the failed transaction started.
            txn(Outcome::Ok, (0, 100), vec![r(1, &[1, 2]), r(2, &[3, 4])]),
        ],
    };
    assert_eq!(edges(&h), BTreeSet::from([(0, 2, Wr)]));
    assert_eq!(classes(&h), BTreeSet::from([AnomalyClass::G1a]));
}

/// Each class's search keeps to its own edge kinds. Here the only write cycle is three ww
/// edges long, and a shorter cycle closes one of its ww edges with a real-time edge: the
/// history has a G0 (T0 -> T1 -> T2 -> T0) and a G0-realtime (T0 -> T1 -> T0 by rt). Were the
/// G0 search to follow rt edges, it would find the shorter cycle and report no G0.
#[test]
fn each_class_searches_only_its_own_edge_kinds() {
    let h = History {
        txns: vec![
            txn(Outcome::Ok, (20, 30), vec![a(1, 1), a(3, 6)]),
            txn(Outcome::Ok, (0, 10), vec![a(1, 2), a(2, 3)]),
            txn(Outcome::Ok, (0, 1000), vec![a(2, 4), a(3, 5)]),
            txn(
                Outcome::Ok,
                (0, 1000),
                vec![r(1, &[1, 2]), r(2, &[3, 4]), r(3, &[5, 6])],
            ),
        ],
    };
    assert!(edges(&h).contains(&(1, 0, Rt)), "{:?}", edges(&h));
    assert_eq!(
        classes(&h),
        BTreeSet::from([AnomalyClass::G0, AnomalyClass::G0Realtime])
    );
}

/// A transaction may end at the nanosecond it started (a coarse clock): well-formed. Only an
/// end before the start is refused.
#[test]
fn a_transaction_may_end_when_it_starts_but_not_before() {
    let at = |start, end| History {
        txns: vec![txn(Outcome::Ok, (start, end), vec![a(1, 1)])],
    };
    assert_eq!(at(5, 5).validate(), Ok(()));
    assert!(at(5, 4).validate().is_err());
}
