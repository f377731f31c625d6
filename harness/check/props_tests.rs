//! Property tests over the oracles (issue 20 item 14). A model of a correct run generates
//! histories: a plan, its ops run one transaction at a time through the workload's own SQL
//! on a real SQLite file (the rows a correct run leaves), the records a correct worker
//! reports, its messages held to the worker contract as the runner holds them, and in
//! lockstep its steps fed to the coordinator (never two holders at once). On such a history
//! every oracle is silent and judges everything it should. Then one mutation at a time, each
//! on its own copy of the database: exactly the matching failure (category and detector)
//! fires, and no other.

use std::collections::BTreeSet;

use proptest::prelude::*;

use super::Checks;
use super::coverage::JudgedCheck;
use super::failure::{Detector, FailureCategory as Cat};
use super::verdict::{Verdict, VerdictKind};
use crate::observe::step::StepAction;
use crate::observe::{OpRecord, Outcome};
use crate::plan::OpKind;
use crate::protocol::WorkerMsg;
use crate::scenario::KillPoint;

#[path = "props_model_tests.rs"]
mod model;

use model::*;

type Signature = BTreeSet<(Cat, Detector)>;

fn signature(v: &Verdict) -> Signature {
    v.failures
        .iter()
        .chain(&v.liveness)
        .map(|f| (f.category, f.detector))
        .collect()
}

fn only(c: Cat, d: Detector) -> Signature {
    BTreeSet::from([(c, d)])
}

/// The random choices a mutation needs.
#[derive(Debug, Clone)]
struct Picks {
    a: Index,
    b: Index,
    c: Index,
}

fn picks() -> impl Strategy<Value = Picks> {
    (index(), index(), index()).prop_map(|(a, b, c)| Picks { a, b, c })
}

/// A mutation: its name, and what it does to a clean case, with the failures it must cause
/// (`None` when the history has nothing it applies to).
type Mutation = fn(&Run, &mut Case, &Picks) -> Option<Signature>;

fn lost() -> Signature {
    only(Cat::LostWrites, Detector::Ledger)
}

/// A row of a committed op deleted.
fn drop_row(run: &Run, case: &mut Case, p: &Picks) -> Option<Signature> {
    let rows = run.rows();
    let (table, rowid, ..) = rows[p.a.index(rows.len())];
    case.sql
        .push(format!("DELETE FROM {table} WHERE rowid = {rowid}"));
    Some(lost())
}

/// Two ops' event rows exchange their (worker, seq).
fn swap_ids(run: &Run, case: &mut Case, p: &Picks) -> Option<Signature> {
    let events: Vec<_> = run
        .rows()
        .into_iter()
        .filter(|r| r.0 == "task_events")
        .collect();
    if events.len() < 2 {
        return None;
    }
    let i = p.a.index(events.len());
    let j = (i + 1 + p.b.index(events.len() - 1)) % events.len();
    let ((_, ri, wi, si), (_, rj, wj, sj)) = (events[i], events[j]);
    case.sql.push(format!(
        "UPDATE task_events SET worker = CASE rowid WHEN {ri} THEN {wj} ELSE {wi} END, \
         seq = CASE rowid WHEN {ri} THEN {sj} ELSE {si} END WHERE rowid IN ({ri}, {rj})"
    ));
    Some(lost())
}

/// One committed op of `kind` has its row damaged: a body for the kinds that write one, the
/// event's kind for the others.
fn damage(run: &Run, case: &mut Case, kind: OpKind, pick: Index) -> Option<Signature> {
    let ops: Vec<&OpRecord> = run
        .committed()
        .filter(|r| r.kind == kind && !run.gc_removed.contains(&(r.worker, r.seq)))
        .collect();
    if ops.is_empty() {
        return None;
    }
    let r = ops[pick.index(ops.len())];
    let (w, s) = (r.worker, r.seq);
    case.sql.push(match kind {
        OpKind::CreateTask => format!(
            "UPDATE tasks SET body = body || 'x' WHERE created_worker = {w} AND created_seq = {s}"
        ),
        OpKind::AddComment => {
            format!("UPDATE task_comments SET body = body || 'x' WHERE worker = {w} AND seq = {s}")
        }
        _ => format!("UPDATE task_events SET kind = 'damaged' WHERE worker = {w} AND seq = {s}"),
    });
    Some(lost())
}

/// One of a worker's records names another actor than the plan's: the contract refuses it,
/// the runner kills the worker.
fn wrong_actor(run: &Run, case: &mut Case, p: &Picks) -> Option<Signature> {
    let w = p.a.index(case.msgs.len());
    let cuts: Vec<usize> = run
        .cut_points(case, w)
        .into_iter()
        .filter(|&i| matches!(case.msgs[w][i], WorkerMsg::Op(_)))
        .collect();
    if cuts.is_empty() {
        return None;
    }
    let WorkerMsg::Op(r) = &mut case.msgs[w][cuts[p.b.index(cuts.len())]] else {
        unreachable!()
    };
    r.actor += 1;
    Some(only(Cat::Liveness, Detector::WorkerProtocol))
}

/// No record carries `t_begin_ok_ns`: write exclusion judged nothing.
fn no_intervals(_: &Run, case: &mut Case, _: &Picks) -> Option<Signature> {
    for r in records_mut(case) {
        r.t_begin_ok_ns = None;
    }
    Some(only(Cat::NotJudged, Detector::IntervalCheck))
}

/// One record lacks `t_commit_issued_ns`: exclusion judged the others (a note, no failure).
fn one_interval_missing(run: &Run, case: &mut Case, p: &Picks) -> Option<Signature> {
    let n = run.committed().count();
    let k = p.a.index(n);
    let r = records_mut(case)
        .filter(|r| r.outcome == Outcome::Committed)
        .nth(k)
        .unwrap();
    r.t_commit_issued_ns = None;
    Some(Signature::new())
}

/// No record carries `event_id`: the commit order judged nothing. A heartbeat whose event a
/// later gc deleted is then indistinguishable from a lost one (the ledger needs its event id
/// to see the gc came after it): lost, as it must be when nothing vouches for it.
fn no_event_ids(run: &Run, case: &mut Case, _: &Picks) -> Option<Signature> {
    for r in records_mut(case) {
        r.event_id = None;
    }
    let mut s = only(Cat::NotJudged, Detector::Ledger);
    if !run.gc_removed.is_empty() {
        s.insert((Cat::LostWrites, Detector::Ledger));
    }
    Some(s)
}

/// A worker announces a kill nobody planned.
fn unplanned_dying(run: &Run, case: &mut Case, p: &Picks) -> Option<Signature> {
    let w = p.a.index(case.msgs.len());
    let cuts = run.cut_points(case, w);
    let at = cuts[p.b.index(cuts.len())];
    let ops = &run.plan.workers[w].ops;
    let op = &ops[p.c.index(ops.len())];
    case.msgs[w].insert(
        at,
        WorkerMsg::Dying {
            worker: w as u32,
            actor: op.actor,
            seq: op.seq,
            point: KillPoint::MidTransaction,
        },
    );
    Some(only(Cat::Liveness, Detector::WorkerProtocol))
}

/// A worker sends `fatal`, then runs its ops, says `done` and exits 0.
fn fatal(_: &Run, case: &mut Case, p: &Picks) -> Option<Signature> {
    let w = p.a.index(case.msgs.len());
    let at = 1 + p.b.index(case.msgs[w].len() - 1);
    case.msgs[w].insert(
        at,
        WorkerMsg::Fatal {
            worker: w as u32,
            message: "a lie".into(),
        },
    );
    Some(only(Cat::Liveness, Detector::WorkerExit))
}

/// A committed UPDATE undone in an unindexed column no ledger row carries (a claim's
/// `claimed_by`, a heartbeat's `heartbeat_at`, a completion's `completed_at`), or, when no
/// such op committed, one task's `updated_at` changed: only the state oracle can see it.
fn lost_update(run: &Run, case: &mut Case, p: &Picks) -> Option<Signature> {
    let updates: Vec<&OpRecord> = run
        .committed()
        .filter(|r| {
            matches!(
                r.kind,
                OpKind::ClaimTask | OpKind::Heartbeat | OpKind::CompleteTask
            )
        })
        .collect();
    case.sql.push(if updates.is_empty() {
        let tasks: Vec<_> = run.rows().into_iter().filter(|r| r.0 == "tasks").collect();
        let rowid = tasks[p.a.index(tasks.len())].1;
        format!("UPDATE tasks SET updated_at = updated_at + 1 WHERE rowid = {rowid}")
    } else {
        let r = updates[p.a.index(updates.len())];
        let column = match r.kind {
            OpKind::ClaimTask => "claimed_by",
            OpKind::Heartbeat => "heartbeat_at",
            _ => "completed_at",
        };
        let task = r.task_id.as_deref().expect("an update names its task");
        format!("UPDATE tasks SET {column} = NULL WHERE id = '{task}'")
    });
    Some(only(Cat::State, Detector::StateOracle))
}

/// One op's record never sent; the worker still says `done`, which the contract refuses.
/// The ledger settles the op by probing, the state oracle by its event row.
fn unreported(run: &Run, case: &mut Case, p: &Picks) -> Option<Signature> {
    let w = p.a.index(case.msgs.len());
    let ops: Vec<usize> = (0..case.msgs[w].len())
        .filter(|&i| match &case.msgs[w][i] {
            WorkerMsg::Op(r) => !run.gc_removed.contains(&(r.worker, r.seq)),
            _ => false,
        })
        .collect();
    if ops.is_empty() {
        return None;
    }
    case.msgs[w].remove(ops[p.b.index(ops.len())]);
    Some(only(Cat::Liveness, Detector::WorkerProtocol))
}

/// One committed transaction's interval begins inside the interval of the last committed
/// transaction of another actor before it.
fn overlapping_intervals(run: &Run, case: &mut Case, p: &Picks) -> Option<Signature> {
    let committed: Vec<&OpRecord> = run.committed().collect();
    let actor = |r: &OpRecord| (r.worker, r.actor);
    let pairs: Vec<(usize, usize)> = (1..committed.len())
        .filter_map(|b| {
            let a = (0..b)
                .rev()
                .find(|&a| actor(committed[a]) != actor(committed[b]))?;
            Some((a, b))
        })
        .collect();
    if pairs.is_empty() {
        return None;
    }
    let (a, b) = pairs[p.a.index(pairs.len())];
    let holder_commits = committed[a].t_commit_issued_ns.unwrap();
    let id = (committed[b].worker, committed[b].seq);
    let r = records_mut(case).find(|r| (r.worker, r.seq) == id).unwrap();
    r.t_begin_ok_ns = Some(holder_commits - 1);
    r.t_start_ns = r.t_start_ns.min(holder_commits - 1);
    Some(only(Cat::LockOverlaps, Detector::IntervalCheck))
}

/// Lockstep: another actor's whole transaction runs between one actor's `begin` and the
/// rest of its transaction.
fn overlapping_steps(run: &Run, case: &mut Case, p: &Picks) -> Option<Signature> {
    if !run.lockstep {
        return None;
    }
    let txn = |b: &Vec<Step>| b[0].1 == StepAction::Begin;
    let pairs: Vec<(usize, usize)> = (0..run.blocks.len())
        .filter(|&a| txn(&run.blocks[a]))
        .filter_map(|a| {
            let holder = run.blocks[a][0].0;
            let b = (a + 1..run.blocks.len()).find(|&b| run.blocks[b][0].0 != holder)?;
            txn(&run.blocks[b]).then_some((a, b))
        })
        .collect();
    if pairs.is_empty() {
        return None;
    }
    let (a, b) = pairs[p.a.index(pairs.len())];
    let mut blocks = run.blocks.clone();
    let moved = blocks.remove(b);
    let rest = blocks[a].split_off(1);
    blocks[a].extend(moved);
    blocks[a].extend(rest);
    case.steps = blocks.concat();
    Some(only(Cat::LockstepBreaches, Detector::LockstepCoordinator))
}

fn records_mut(case: &mut Case) -> impl Iterator<Item = &mut OpRecord> {
    case.msgs.iter_mut().flatten().filter_map(|m| match m {
        WorkerMsg::Op(r) => Some(&mut **r),
        _ => None,
    })
}

const MUTATIONS: [(&str, Mutation); 12] = [
    ("drop_row", drop_row),
    ("swap_ids", swap_ids),
    ("wrong_actor", wrong_actor),
    ("no_intervals", no_intervals),
    ("one_interval_missing", one_interval_missing),
    ("no_event_ids", no_event_ids),
    ("unplanned_dying", unplanned_dying),
    ("fatal", fatal),
    ("lost_update", lost_update),
    ("unreported", unreported),
    ("overlapping_intervals", overlapping_intervals),
    ("overlapping_steps", overlapping_steps),
];

/// The clean history: every oracle silent, and each judged all it should have.
fn assert_clean(run: &Run, checks: &Checks, v: &Verdict) {
    assert_eq!(v.verdict, VerdictKind::Pass, "{:?}", v);
    assert!(v.failures.is_empty() && v.liveness.is_empty(), "{v:?}");
    let committed = run.committed().count() as u64;
    let writes = run.committed().filter(|r| r.kind.is_write()).count() as u64;
    let state = checks.state.as_ref().expect("the state oracle judged");
    assert!(state.matches, "{state:?}");
    assert_eq!(state.replayed, committed);
    for c in &checks.coverage {
        assert_eq!((c.judged, c.population), (writes, writes), "{c:?}");
    }
    assert!(
        checks
            .coverage
            .iter()
            .any(|c| c.check == JudgedCheck::Order)
    );
    let planned: usize = run.plan.workers.iter().map(|w| w.ops.len()).sum();
    assert_eq!(
        (checks.ops.expected, checks.ops.unreported),
        (planned as u64, 0)
    );
    assert_eq!((checks.lock_intervals, checks.lock_overlaps), (writes, 0));
    assert_eq!(checks.gc_removed, run.gc_removed.len() as u64);
    assert_eq!(checks.lockstep_breaches, 0);
    assert_eq!(checks.ambiguous, 0);
}

fn assert_exactly(name: &str, expected: &Signature, v: &Verdict) {
    assert_eq!(&signature(v), expected, "{name}: {v:#?}");
    let want = if expected.is_empty() {
        VerdictKind::Pass
    } else {
        VerdictKind::Fail
    };
    assert_eq!(v.verdict, want, "{name}");
}

/// Checks a shape's clean history, then each mutation on its own copy; returns how many
/// mutations applied.
fn check_history(shape: &Shape, p: &Picks) -> usize {
    let run = execute(shape);
    let clean = run.case();
    let (checks, v) = run.judge(&clean, "clean");
    assert_clean(&run, &checks, &v);
    let mut applied = 0;
    for (name, mutate) in MUTATIONS {
        let mut case = clean.clone();
        if let Some(expected) = mutate(&run, &mut case, p) {
            let (_, v) = run.judge(&case, name);
            assert_exactly(name, &expected, &v);
            applied += 1;
        }
    }
    // A damaged row of each op kind the history committed.
    for kind in OpKind::ALL.into_iter().filter(|k| k.is_write()) {
        let mut case = clean.clone();
        if let Some(expected) = damage(&run, &mut case, kind, p.b) {
            let name = format!("damage_{}", kind.name());
            let (_, v) = run.judge(&case, &name);
            assert_exactly(&name, &expected, &v);
            applied += 1;
        }
    }
    applied
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    /// Clean histories pass every oracle; each mutation fails exactly the matching one.
    #[test]
    fn each_mutation_fires_exactly_its_detector(shape in shape(), p in picks()) {
        check_history(&shape, &p);
    }
}

/// The properties cannot pass by having nothing to mutate: on a history with every op kind,
/// two workers, three actors, lockstep and a heartbeat a gc removed, every mutation applies
/// (and fires exactly its detector).
#[test]
fn on_a_history_of_every_kind_every_mutation_applies() {
    use OpKind::*;
    let op = |kind| (Index(0), kind);
    let shape = Shape {
        workers: vec![
            (
                2,
                [
                    CreateTask,
                    CreateTask,
                    ClaimTask,
                    Heartbeat,
                    AddComment,
                    CompleteTask,
                    Checkpoint,
                    GcEvents,
                ]
                .map(op)
                .to_vec(),
            ),
            (1, [CreateTask, ClaimTask, Heartbeat].map(op).to_vec()),
        ],
        picks: vec![Index(0); 24],
        tick_ms: 6_000,
        lockstep: true,
    };
    let run = execute(&shape);
    assert_eq!(
        run.gc_removed.len(),
        1,
        "the gc removed worker 0's heartbeat"
    );
    let p = Picks {
        a: Index(0),
        b: Index(1),
        c: Index(2),
    };
    assert_eq!(check_history(&shape, &p), MUTATIONS.len() + 6);
}

/// A worker that never got `go` ran nothing: its planned writes are "not run", never
/// ambiguous, lost or phantom, and the ledger and the state oracle judge the others (mutant
/// in `check::run`: the ledger judged the whole plan, probing every op of the worker that
/// never started). The run fails for that worker's liveness alone.
#[test]
fn a_worker_that_never_started_is_not_run_not_ambiguous() {
    let op = |kind| (Index(0), kind);
    let shape = Shape {
        workers: vec![(
            2,
            [
                OpKind::CreateTask,
                OpKind::CreateTask,
                OpKind::ClaimTask,
                OpKind::AddComment,
            ]
            .map(op)
            .to_vec(),
        )],
        picks: vec![Index(0); 24],
        tick_ms: 1_000,
        lockstep: false,
    };
    let mut run = execute(&shape);
    let mut idle = run.plan.workers[0].clone();
    idle.worker = 1;
    let writes = idle.ops.iter().filter(|op| op.kind.is_write()).count() as u64;
    run.plan.workers.push(idle);
    let mut case = run.case();
    // It never said anything: only the runner's account of it.
    case.msgs.truncate(1);
    let (checks, v) = run.judge_observed(&case, "never-started", |obs| {
        let mut exit = obs.workers[0].clone();
        exit.worker = 1;
        exit.pid += 1;
        exit.finished = false;
        exit.exit_code = None;
        exit.records = 0;
        exit.never_started = true;
        obs.workers.push(exit);
    });
    assert_eq!(checks.not_run, writes);
    assert_eq!(
        (checks.ambiguous, checks.lost_writes, checks.phantom_writes),
        (0, 0, 0),
        "{:?}",
        checks.ambiguous_ops
    );
    assert!(
        checks.state.as_ref().is_some_and(|s| s.matches),
        "{:?}",
        checks.state
    );
    assert_eq!(
        signature(&v),
        only(Cat::Liveness, Detector::WorkerExit),
        "{v:#?}"
    );
}
