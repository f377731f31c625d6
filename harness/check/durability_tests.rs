//! Unit tests of `check::durability`.

use super::*;
use crate::scenario::{ScenarioSource, parse_str};

pub(super) fn scenario(sync: &str, mode: &str) -> Scenario {
    parse_str(
        &format!("name = \"d\"\n[sqlite]\nsynchronous = \"{sync}\"\njournal_mode = \"{mode}\"\n"),
        &ScenarioSource::Embedded("d".into()),
    )
    .unwrap()
}

pub(super) fn committed(worker: u32, seq: u32, event_id: i64) -> OpRecord {
    OpRecord {
        worker,
        actor: 0,
        seq,
        kind: OpKind::CreateTask,
        outcome: Outcome::Committed,
        reason: None,
        error: None,
        busy: Vec::new(),
        lock_wait_us: 0,
        begin_wait_us: 0,
        latency_us: 0,
        t_start_ns: 0,
        t_begin_ok_ns: None,
        t_commit_issued_ns: None,
        t_end_ns: 0,
        event_id: Some(event_id),
        task_id: None,
        guard: None,
        guard_error: None,
        checkpoint: None,
        list: Vec::new(),
        reads: Vec::new(),
        wal_frames: None,
        claim_read: None,
    }
}

/// The kinds of the acknowledged commits 1..=4 (seq = event id): three that insert a
/// row beside their event, and one that does not.
const KINDS: [OpKind; 4] = [
    OpKind::CreateTask,
    OpKind::ClaimTask,
    OpKind::AddComment,
    OpKind::CompleteTask,
];

/// A real database in which commit `e` left its event when `e` is in `events` and the
/// row its kind inserts beside it when `e` is in `inserted`.
fn judge_rows(s: &Scenario, events: &[i64], inserted: &[i64]) -> Durability {
    let dir = tempfile::tempdir().unwrap();
    let conn = Connection::open(dir.path().join("d.db")).unwrap();
    crate::workload::kanban::create_schema(&conn).unwrap();
    for id in events {
        conn.execute(
            "INSERT INTO task_events (id, task_id, kind, payload, created_at, worker, seq) VALUES (?1, 't', 'created', '', 0, 0, ?1)",
            [id],
        )
        .unwrap();
    }
    for &seq in inserted {
        let sql = match KINDS[seq as usize - 1] {
            OpKind::CreateTask => {
                "INSERT INTO tasks (id, title, body, created_at, updated_at, created_worker, created_seq) VALUES ('t' || ?1, '', '', 0, 0, 0, ?1)"
            }
            OpKind::ClaimTask => {
                "INSERT INTO task_runs (task_id, claimed_by, started_at, worker, seq) VALUES ('t', 'w', 0, 0, ?1)"
            }
            OpKind::AddComment => {
                "INSERT INTO task_comments (task_id, author, body, created_at, worker, seq) VALUES ('t', 'w', '', 0, 0, ?1)"
            }
            _ => continue,
        };
        conn.execute(sql, [seq]).unwrap();
    }
    let records: Vec<OpRecord> = (1..=4)
        .map(|e| {
            let mut r = committed(0, e as u32, e);
            r.kind = KINDS[e as usize - 1];
            r
        })
        .collect();
    check(&conn, s, &records)
}

/// Every commit in `present` survived whole, the others are gone whole.
fn judge(s: &Scenario, present: &[i64]) -> Durability {
    judge_rows(s, present, present)
}

/// Issue 20 item 11: a surviving commit is judged by every row it wrote. Each kind's row
/// removed in turn (its event survived) is a torn commit, a durability failure naming
/// the op and the table, at FULL and at NORMAL alike; so is a row that survived its lost
/// event. OFF reports it without judging.
#[test]
fn a_surviving_commit_that_lost_one_of_its_rows_is_torn() {
    let all = [1, 2, 3, 4];
    let whole = judge(&scenario("full", "wal"), &all);
    assert_eq!((whole.acknowledged, whole.lost, whole.torn), (4, 0, 0));
    assert!(whole.failure().is_none(), "{whole:?}");
    for (seq, table) in [(1, "tasks"), (2, "task_runs"), (3, "task_comments")] {
        let rows: Vec<i64> = all.iter().copied().filter(|&e| e != seq).collect();
        for sync in ["full", "normal"] {
            let d = judge_rows(&scenario(sync, "wal"), &all, &rows);
            assert_eq!((d.lost, d.torn), (0, 1), "{sync} {table}: {d:?}");
            let f = d.failure().expect("a torn commit passed");
            assert_eq!(
                (f.category, f.detector, f.count),
                (
                    FailureCategory::Durability,
                    Detector::DurabilityOracle,
                    Some(1)
                )
            );
            let named = format!("worker 0 seq {seq} (");
            assert!(
                f.message.contains("tore 1 of 4")
                    && f.message.contains(&named)
                    && f.message.contains(&format!("its {table} row is gone")),
                "{f}"
            );
        }
        let off = judge_rows(&scenario("off", "wal"), &all, &rows);
        assert_eq!(off.torn, 1);
        assert!(off.failure().is_none(), "OFF is reported, not judged");
        assert!(off.note().contains(", 1 torn"), "{}", off.note());
    }
    // The other way round: the event is gone, its comment survived. At NORMAL the lost
    // commit is a suffix (allowed); the surviving half of it is not.
    let d = judge_rows(&scenario("normal", "wal"), &[1, 2, 3], &all);
    assert_eq!(
        (d.lost, d.torn),
        (1, 0),
        "complete_task inserts no row: {d:?}"
    );
    assert!(d.failure().is_none(), "a lost suffix at NORMAL: {d:?}");
    let d = judge_rows(&scenario("normal", "wal"), &[1, 2], &all);
    assert_eq!((d.lost, d.torn), (2, 1), "{d:?}");
    assert!(d.lost_is_suffix);
    let f = d.failure().expect("half a commit survived and passed");
    assert!(
        f.message
            .contains("its event row is gone but its task_comments row survived"),
        "{f}"
    );
}

fn passing() -> super::super::verdict::Verdict {
    super::super::verdict::Verdict {
        verdict: super::super::verdict::VerdictKind::Pass,
        failures: Vec::new(),
        liveness: Vec::new(),
        notes: Vec::new(),
    }
}

/// `judge_io` turns each `[io]` finding into a failure of its own and fails a passing
/// verdict for it: a point that never fired (a safety failure alone is enough), and in
/// free mode a stall during which nobody committed although others had work (a
/// liveness failure alone is enough); in lockstep that stall is by design, a note only.
#[test]
fn judge_io_fails_the_run_for_each_io_finding() {
    use super::super::verdict::VerdictKind;
    let mut s = scenario("full", "wal");
    let with_point = parse_str(
        "name = \"d\"\n[[io.points]]\nfile = \"wal\"\nop = \"sync\"\nnth = 5\naction = \"fail\"\n",
        &ScenarioSource::Embedded("d".into()),
    )
    .unwrap();
    let mut v = passing();
    judge_io(&with_point, false, &IoReport::default(), &mut v);
    assert_eq!(v.verdict, VerdictKind::Fail, "{v:?}");
    let sigs: Vec<_> = v
        .failures
        .iter()
        .map(|f| (f.category, f.detector, f.kind))
        .collect();
    assert_eq!(
        sigs,
        [(
            FailureCategory::IoPointNotFired,
            Detector::FaultVfs,
            FailureKind::Missing
        )]
    );
    assert!(v.liveness.is_empty());

    let stalled = IoReport {
        stalls: vec![StallReport {
            worker: 0,
            point: 0,
            stop_ms: 50,
            commits_by_others: 0,
            wal_bytes_before: None,
            wal_bytes_after: None,
            others_active_after: true,
        }],
        ..IoReport::default()
    };
    s.io.points.clear();
    let mut v = passing();
    judge_io(&s, false, &stalled, &mut v);
    assert_eq!(v.verdict, VerdictKind::Fail, "{v:?}");
    assert!(v.failures.is_empty(), "{v:?}");
    assert_eq!(v.liveness.len(), 1, "{v:?}");
    assert_eq!(v.liveness[0].detector, Detector::FaultVfs);
    let mut v = passing();
    judge_io(&s, true, &stalled, &mut v);
    assert_eq!(
        v.verdict,
        VerdictKind::Pass,
        "lockstep stalls by design: {v:?}"
    );
    assert!(v.notes.iter().any(|n| n.starts_with("stall of worker 0")));
    // Nothing to judge leaves a passing verdict alone.
    let mut v = passing();
    judge_io(&s, false, &IoReport::default(), &mut v);
    assert_eq!(v, passing());
}

/// A table the oracle must read that cannot be read is an error, never a pass.
#[test]
fn an_unreadable_table_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let conn = Connection::open(dir.path().join("d.db")).unwrap();
    crate::workload::kanban::create_schema(&conn).unwrap();
    conn.execute_batch("DROP TABLE task_comments").unwrap();
    let d = check(&conn, &scenario("full", "wal"), &[committed(0, 1, 1)]);
    assert!(
        d.error
            .as_deref()
            .is_some_and(|e| e.contains("task_comments")),
        "{d:?}"
    );
    assert!(d.failure().is_some());
}

#[test]
fn full_allows_no_loss_normal_a_suffix_only_off_anything() {
    let full = judge(&scenario("full", "wal"), &[1, 2, 3]);
    assert_eq!((full.acknowledged, full.lost), (4, 1));
    assert!(full.failure().is_some(), "FULL lost a commit and passed");
    assert!(
        judge(&scenario("full", "wal"), &[1, 2, 3, 4])
            .failure()
            .is_none()
    );

    let suffix = judge(&scenario("normal", "wal"), &[1, 2]);
    assert!(suffix.lost_is_suffix && suffix.failure().is_none());
    let hole = judge(&scenario("normal", "wal"), &[1, 3]);
    assert!(!hole.lost_is_suffix);
    assert!(
        hole.failure().is_some(),
        "a lost commit before a surviving one passed"
    );

    let off = judge(&scenario("off", "wal"), &[2]);
    assert_eq!(off.rule, DurabilityRule::ReportedOnly);
    assert!(off.failure().is_none());
    // Below EXTRA a DELETE-mode commit's journal unlink is not made durable.
    assert_eq!(
        rule(&scenario("full", "delete")),
        DurabilityRule::SuffixMayBeLost
    );
    assert_eq!(rule(&scenario("extra", "delete")), DurabilityRule::NoneLost);
}

/// Only acknowledged writes are judged: a write that rolled back, a heartbeat (a later gc
/// may delete its event) and a read are not, whatever their records carry; and the torn
/// commits are all counted, five shown.
#[test]
fn only_acknowledged_writes_are_judged_and_five_torn_are_shown() {
    let dir = tempfile::tempdir().unwrap();
    let conn = Connection::open(dir.path().join("d.db")).unwrap();
    crate::workload::kanban::create_schema(&conn).unwrap();
    for id in 1..=7 {
        conn.execute(
            "INSERT INTO task_events (id, task_id, kind, payload, created_at, worker, seq) VALUES (?1, 't', 'created', '', 0, 0, ?1)",
            [id],
        )
        .unwrap();
    }
    let s = scenario("full", "wal");
    let with = |kind, outcome, event| {
        let mut r = committed(1, event as u32, event);
        (r.kind, r.outcome) = (kind, outcome);
        r
    };
    let others = [
        with(OpKind::CreateTask, Outcome::RolledBack, 50),
        with(OpKind::Heartbeat, Outcome::Committed, 60),
        with(OpKind::ReadSnapshot, Outcome::Committed, 70),
    ];
    let d = check(&conn, &s, &others);
    assert_eq!((d.acknowledged, d.lost, d.torn), (0, 0, 0), "{d:?}");
    // Seven creates whose events survived without their task rows: seven torn, five shown.
    let creates: Vec<OpRecord> = (1..=7).map(|e| committed(0, e as u32, e)).collect();
    let d = check(&conn, &s, &creates);
    assert_eq!((d.acknowledged, d.lost, d.torn), (7, 0, 7), "{d:?}");
    assert_eq!(d.torn_examples.len(), MAX_EXAMPLES);
}

/// The `io` section judges durability only after a power loss: on a fresh connection with
/// the kanban oracle (or the app's own ledger), and as an error, never a pass, when the
/// database could not be opened.
#[test]
fn io_report_judges_durability_only_after_a_power_loss() {
    let s = scenario("full", "wal");
    let obs = crate::observe::Observations::default();
    let lost = || Some(PowerLossReport::default());
    let d = io_report(&s, &obs, lost(), None).durability.unwrap();
    assert!(!d.lost_is_suffix, "{d:?}");
    assert_eq!(
        d.error.as_deref(),
        Some("the database could not be opened after power loss")
    );
    let dir = tempfile::tempdir().unwrap();
    let conn = Connection::open(dir.path().join("d.db")).unwrap();
    crate::workload::kanban::create_schema(&conn).unwrap();
    let d = io_report(&s, &obs, lost(), Some(&conn)).durability.unwrap();
    assert_eq!((d.error, d.lost_is_suffix), (None, true));
    assert_eq!(io_report(&s, &obs, None, Some(&conn)).durability, None);
    // An app ledger is read through its own query: here one that cannot run.
    let mut app = s.clone();
    app.ledger = Some(LedgerTable {
        present: "SELECT worker, seq FROM jobs".into(),
        rows: Vec::new(),
    });
    let d = io_report(&app, &obs, lost(), Some(&conn))
        .durability
        .unwrap();
    assert!(d.error.unwrap().contains("jobs"));
}

/// Each io point is judged by its own index: with two points and only the second fired,
/// the first is the failure and the second the note.
#[test]
fn each_io_point_is_judged_by_its_own_index() {
    let s = parse_str(
        "name = \"d\"\n[[io.points]]\nfile = \"wal\"\nop = \"sync\"\nnth = 5\naction = \"fail\"\n[[io.points]]\nfile = \"main\"\nop = \"write\"\nnth = 2\naction = \"fail\"\n",
        &ScenarioSource::Embedded("d".into()),
    )
    .unwrap();
    let fired: FiredPoint = serde_json::from_value(serde_json::json!({
        "point": 1, "file": "main", "op": "write", "phase": "any", "nth": 2, "action": "fail",
        "worker": 3, "pid": 77, "seq": 4, "in_checkpoint": false, "t_ns": 0,
    }))
    .unwrap();
    let io = IoReport {
        fired: vec![fired],
        ..IoReport::default()
    };
    let mut notes = Vec::new();
    let failures = judge_points(&s, &io, &mut notes);
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(
        failures[0].message.contains(": io point 0 (wal sync"),
        "{failures:?}"
    );
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(
        notes[0].starts_with("io point 1 fired: fail of worker 3 (pid 77)"),
        "{notes:?}"
    );
}

/// The tearing note says what the torn writes did, and names the claim a device's physics
/// break.
#[test]
fn the_tearing_note_counts_the_sectors_and_names_a_broken_claim() {
    let t = crate::observe::io::TearReport {
        sector_size: 512,
        garble: true,
        sectors_kept: 3,
        sectors_restored: 2,
        sectors_garbled: 1,
    };
    let s = scenario("full", "wal");
    assert_eq!(
        tearing_note(&s, &t),
        "torn writes (512 B sectors, not power-safe): 3 sectors of unsynced writes kept their new bytes, 2 got their old bytes back, 1 came back garbled"
    );
}

/// A stall is judged by its own worker's resume of its own point, counting only the other
/// workers' commits that ended inside it; a point that is not a stop is no stall.
#[test]
fn a_stall_counts_only_other_workers_commits_inside_its_own_resume() {
    let s = parse_str(
        "name = \"d\"\n[[io.points]]\nfile = \"wal\"\nop = \"sync\"\nnth = 1\naction = \"stop\"\nstop_ms = 50\n[[io.points]]\nfile = \"main\"\nop = \"write\"\nnth = 2\naction = \"fail\"\n",
        &ScenarioSource::Embedded("d".into()),
    )
    .unwrap();
    let fired = |point: u32, action: &str, worker: u32| -> FiredPoint {
        serde_json::from_value(serde_json::json!({
            "point": point, "file": "wal", "op": "sync", "phase": "any", "nth": 1,
            "action": action, "worker": worker, "pid": 1, "in_checkpoint": false,
            "t_ns": 100, "wal_bytes": 1024,
        }))
        .unwrap()
    };
    let io = crate::observe::io::IoObserved {
        fired: vec![fired(0, "stop", 1), fired(1, "fail", 2)],
        // Another worker's resume of this point, and this worker's of another point,
        // come first: neither is this stall's end.
        resumed: vec![
            (2, 0, 150, None),
            (1, 1, 120, None),
            (1, 0, 200, Some(4096)),
        ],
        ..Default::default()
    };
    let rec = |worker: u32, outcome: Outcome, end: u64| {
        let mut r = committed(worker, 0, 1);
        (r.outcome, r.t_end_ns) = (outcome, end);
        r
    };
    let records = [
        rec(2, Outcome::Committed, 150),  // counted
        rec(1, Outcome::Committed, 150),  // the stalled worker's own
        rec(3, Outcome::RolledBack, 150), // not a commit
        rec(3, Outcome::Committed, 99),   // before the stall
        rec(3, Outcome::Committed, 201),  // after it: the others had work left
    ];
    let st = stalls(&s, &io, &records);
    assert_eq!(
        st,
        [StallReport {
            worker: 1,
            point: 0,
            stop_ms: 50,
            commits_by_others: 1,
            wal_bytes_before: Some(1024),
            wal_bytes_after: Some(4096),
            others_active_after: true,
        }]
    );
    // Ending exactly at the resume is inside the stall; only the stalled worker itself
    // went on after it: the others had no work left.
    let records = [
        rec(2, Outcome::Committed, 100),
        rec(3, Outcome::Committed, 200),
        rec(1, Outcome::Committed, 300),
    ];
    let st = stalls(&s, &io, &records);
    assert_eq!(
        (st[0].commits_by_others, st[0].others_active_after),
        (2, false),
        "{st:?}"
    );
}
