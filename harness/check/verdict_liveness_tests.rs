//! Controls for `verdict_liveness.rs` beyond the seeded-kill and exit-code ones in
//! `verdict_controls_tests.rs`: each way a worker can end in words and under its detector,
//! and unreported ops judged only where no dead worker already explains them.

use super::*;
use crate::observe::WorkerExit;

fn worker() -> WorkerExit {
    WorkerExit {
        records: 5,
        ..exited(2, 40)
    }
}

fn liveness(w: WorkerExit, c: &Checks) -> Vec<(Detector, String)> {
    let obs = Observations {
        workers: vec![w],
        ..Observations::default()
    };
    let totals = Totals {
        planned: 12,
        ..Totals::default()
    };
    let v = judge(&scenario(""), &obs, &totals, c, &Corruption::default());
    v.liveness
        .iter()
        .map(|f| {
            assert_eq!(f.category, Cat::Liveness, "{f:?}");
            (f.detector, f.message.clone())
        })
        .collect()
}

/// How a worker ended, in words, under its detector: killed by the runner, a signal, an
/// unknown end, its own error appended; a protocol failure is the protocol's detector; a
/// worker that finished but left processes of its own running fails for them alone.
#[test]
fn each_way_a_worker_ends_is_named() {
    let c = healthy();
    let w = |f: fn(&mut WorkerExit)| {
        let mut w = worker();
        f(&mut w);
        liveness(w, &c)
    };
    assert!(w(|_| {}).is_empty());
    let exit = Detector::WorkerExit;
    assert_eq!(
        w(|w| {
            w.finished = false;
            w.exit_code = None;
            w.signal = Some(9);
            w.killed_because = Some("deadline".into());
        }),
        [(
            exit,
            "liveness: worker 2 (pid 40) killed by the runner: deadline after 5 ops".into()
        )]
    );
    assert_eq!(
        w(|w| {
            w.finished = false;
            w.exit_code = None;
            w.signal = Some(11);
            w.error = Some("segfault".into());
        }),
        [(
            exit,
            "liveness: worker 2 (pid 40) died from signal 11 after 5 ops (segfault)".into()
        )]
    );
    assert_eq!(
        w(|w| {
            w.finished = false;
            w.exit_code = None;
        }),
        [(
            exit,
            "liveness: worker 2 (pid 40) ended in an unknown way after 5 ops".into()
        )]
    );
    assert_eq!(
        w(|w| {
            w.exit_code = Some(1);
            w.protocol_failure = Some(crate::observe::ProtocolFailure::Violation);
        }),
        [(
            Detector::WorkerProtocol,
            "liveness: worker 2 (pid 40) exited with code 1 after 5 ops".into()
        )]
    );
    assert_eq!(
        w(|w| w.children_outlived = vec![51, 52]),
        [(
            exit,
            "liveness: worker 2 (pid 40) left 2 process(es) of its own running after it exited (pids [51, 52]); the runner killed them".into()
        )]
    );
}

/// Ops that never reported fail the run (op count) only where no worker's end already
/// explains them: a crashed worker's missing ops are its crash, not a second failure.
#[test]
fn unreported_ops_fail_only_where_no_dead_worker_explains_them() {
    let mut c = healthy();
    c.ops.expected = 10;
    c.ops.unreported = 2;
    c.ops.examples = vec!["worker 2 seq 3".into(), "worker 2 seq 4".into()];
    assert_eq!(
        liveness(worker(), &c),
        [(
            Detector::OpCount,
            "liveness: 2 of 10 expected ops never reported an outcome (12 planned, the rest taken by seeded kills): worker 2 seq 3, worker 2 seq 4".into()
        )]
    );
    let mut crashed = worker();
    crashed.finished = false;
    crashed.exit_code = None;
    crashed.signal = Some(11);
    let got = liveness(crashed.clone(), &c);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, Detector::WorkerExit);
    // A crash and no unreported op: the crash alone.
    c.ops.unreported = 0;
    let got = liveness(crashed, &c);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, Detector::WorkerExit);
}
