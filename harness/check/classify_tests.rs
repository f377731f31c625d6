//! The report's summaries of what verification found: the integrity check's one line and
//! the corruption reports' classification (mutation testing found both unpinned by the
//! fast tests).

use super::run_tests::record;
use super::*;

fn guard_report(guard: &str) -> serde_json::Value {
    serde_json::json!({
        "guard": guard, "at": "after_commit", "claimed_pages": 9, "file_pages": 7,
        "deficit": 2, "page_size": 4096, "file_size": 28672, "journal_mode": "wal",
        "message": format!("{guard}: file shorter than the header says")
    })
}

/// The integrity check's answer in one line: a control for `summary_line` (mutation testing
/// found it unpinned: an empty or made-up summary passed every fast test). `ok` must stay
/// exactly `ok` (the verdict compares it), several lines say how many more there are, and
/// no line at all is "not run", never a pass.
#[test]
fn the_integrity_summary_is_the_first_line_and_a_count() {
    let lines = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(summary_line(&lines(&[])), "not run");
    assert_eq!(summary_line(&lines(&["ok"])), "ok");
    assert_eq!(
        summary_line(&lines(&["*** page 3", "row 4 missing", "row 5 missing"])),
        "*** page 3 (+2 more lines)"
    );
}

/// Corruption reports, classified: a control for `classify` (mutation testing found it
/// unpinned: no fast test had a record with a guard report or a SQLite corruption error).
/// A guard's report and SQLite's own corruption error count, by their source; another
/// error does not; at most five examples; on a healthy run every report is false, on a
/// damaged one every report is real and the damage is the evidence.
#[test]
fn corruption_reports_are_counted_by_source_and_classified_by_the_damage() {
    let corrupt = serde_json::json!({"primary": 11, "extended": 11,
        "code": "SQLITE_CORRUPT", "message": "database disk image is malformed"});
    let busy = serde_json::json!({"primary": 5, "extended": 5,
        "code": "SQLITE_BUSY", "message": "database is locked"});
    let mut records: Vec<_> = (0..5)
        .map(|seq| record(1, seq, serde_json::json!({"guard": guard_report("size")})))
        .collect();
    records.push(record(
        2,
        0,
        serde_json::json!({"guard": guard_report("header")}),
    ));
    records.push(record(
        2,
        1,
        serde_json::json!({"outcome": "failed", "error": corrupt}),
    ));
    // A guard report wins over the error of the same record: one report, not two.
    records.push(record(
        2,
        2,
        serde_json::json!({"outcome": "failed", "error": corrupt, "guard": guard_report("size")}),
    ));
    records.push(record(
        2,
        3,
        serde_json::json!({"outcome": "failed", "error": busy}),
    ));
    records.push(record(2, 4, serde_json::json!({})));
    let obs = Observations {
        records,
        ..Observations::default()
    };

    let k = classify(&obs, Vec::new());
    assert_eq!(k.classification, Classification::False, "{k:?}");
    assert_eq!((k.reports, k.false_reports, k.real), (8, 8, 0));
    let by: Vec<(&str, u64)> = k.by_guard.iter().map(|(s, n)| (s.as_str(), *n)).collect();
    assert_eq!(by, [("header", 1), ("size", 6), (SQLITE_SOURCE, 1)]);
    assert_eq!(k.examples.len(), corruption::MAX_CORRUPTION_EXAMPLES);
    let first = &k.examples[0];
    assert_eq!(
        (
            first.worker,
            first.seq,
            first.op.as_str(),
            first.source.as_str()
        ),
        (1, 0, "create_task", "size")
    );
    assert_eq!(
        (first.claimed_pages, first.file_pages, first.deficit),
        (Some(9), Some(7), Some(2))
    );
    assert_eq!(first.journal_mode.as_deref(), Some("wal"));
    assert_eq!(first.message, "size: file shorter than the header says");
    assert!(k.evidence.is_empty());

    let damage = vec![FailureCategory::LostWrites, FailureCategory::Integrity];
    let k = classify(&obs, damage.clone());
    assert_eq!(k.classification, Classification::Real, "{k:?}");
    assert_eq!((k.reports, k.false_reports, k.real), (8, 0, 8));
    assert_eq!(k.evidence, damage);

    // SQLite's own report, alone: its example says what SQLite said, and nothing more.
    let obs = Observations {
        records: vec![record(
            3,
            7,
            serde_json::json!({"outcome": "failed", "error": corrupt}),
        )],
        ..Observations::default()
    };
    let k = classify(&obs, Vec::new());
    assert_eq!(k.classification, Classification::False);
    let ex = &k.examples[0];
    assert_eq!(
        (ex.worker, ex.seq, ex.source.as_str()),
        (3, 7, SQLITE_SOURCE)
    );
    assert_eq!(
        ex.message,
        "SQLITE_CORRUPT: database disk image is malformed"
    );
    assert_eq!((ex.claimed_pages, ex.journal_mode.as_deref()), (None, None));

    // Nobody reported anything: `none` when healthy, `real` (with no reports) when not.
    let quiet = Observations {
        records: vec![record(1, 0, serde_json::json!({}))],
        ..Observations::default()
    };
    let k = classify(&quiet, Vec::new());
    assert_eq!(k, Corruption::default());
    let k = classify(&quiet, vec![FailureCategory::PhantomWrites]);
    assert_eq!(k.classification, Classification::Real);
    assert_eq!((k.reports, k.real), (0, 0));
    assert_eq!(k.evidence, [FailureCategory::PhantomWrites]);
}
