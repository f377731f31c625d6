//! `walburst sqlite advise` and `walburst sqlite known-bugs`: the known-bug table as a user
//! sees it, through the real binary (and, for `--python`, this machine's real python3).

mod common;

use std::process::Command;

use common::BIN;

/// (exit code, stdout, stderr) of `walburst sqlite ARGS...`.
fn sqlite(args: &[&str]) -> (i32, String, String) {
    let o = Command::new(BIN)
        .arg("sqlite")
        .args(args)
        .output()
        .expect("walburst runs");
    (
        o.status.code().expect("exited, not killed"),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// The ids of the bugs listed under "AFFECTED" (before "not affected:").
fn affecting(out: &str) -> Vec<String> {
    let head = out.split("\nnot affected:").next().unwrap();
    [
        "wal-reset",
        "close-drops-posix-locks",
        "close-open-deadlock",
        "super-journal-rollback",
        "zeroed-super-journal",
    ]
    .iter()
    .filter(|id| head.contains(&format!("[{id}]")))
    .map(|id| id.to_string())
    .collect()
}

#[test]
fn an_affected_release_names_the_wal_reset_bug_and_the_lock_hazard_with_their_commands() {
    let (code, out, err) = sqlite(&["advise", "--version", "3.50.2"]);
    assert_eq!(code, 1, "affected exits 1: {out}{err}");
    assert_eq!(
        affecting(&out),
        [
            "wal-reset",
            "close-drops-posix-locks",
            "zeroed-super-journal"
        ],
        "{out}"
    );
    assert!(out.contains("WAL-reset bug"), "{out}");
    assert!(
        out.contains("walburst run header-probe-lock-hazard-wal --sqlite 3.50.2"),
        "{out}"
    );
    assert!(
        out.contains("walburst run wal-lock-hazard-by-release"),
        "{out}"
    );
    // The WAL-reset bug's demonstration runs in lockstep (its pauses are lockstep steps).
    assert!(
        out.contains("walburst run wal-reset-bug --mode lockstep --sqlite 3.50.2"),
        "{out}"
    );
}

/// The newest offered release is affected by none of the table's bugs (exit 0); 3.53.3, by
/// the code, has the super-journal bug that 3.53.4 fixed (docs/super-journal-window.md).
#[test]
fn the_newest_release_is_clear_of_every_known_bug() {
    for clear in ["3.54.1", "3.53.4"] {
        let (code, out, err) = sqlite(&["advise", "--version", clear]);
        assert_eq!(code, 0, "{clear}: {out}{err}");
        assert!(affecting(&out).is_empty(), "{clear}: {out}");
        assert!(out.contains("affected by none"), "{clear}: {out}");
    }
    let (code, out, err) = sqlite(&["advise", "--version", "3.53.3"]);
    assert_eq!(code, 1, "{out}{err}");
    assert_eq!(affecting(&out), ["super-journal-rollback"], "{out}");
}

#[test]
fn a_backport_release_is_clear_of_the_wal_reset_bug() {
    let (code, out, _) = sqlite(&["advise", "--version", "3.50.7"]);
    assert_eq!(code, 1, "{out}");
    // Every release before 3.53.3 also trusts a super-journal blindly
    // (docs/super-journal-window.md).
    assert_eq!(
        affecting(&out),
        ["close-drops-posix-locks", "zeroed-super-journal"],
        "{out}"
    );
    // 3.50.7 is not offered: the command runs on the nearest offered affected release.
    assert!(
        out.contains("walburst run header-probe-lock-hazard-wal --sqlite 3.50.2"),
        "{out}"
    );
    let (_, out, _) = sqlite(&["advise", "--version", "3.50.6"]);
    assert_eq!(
        affecting(&out),
        [
            "wal-reset",
            "close-drops-posix-locks",
            "zeroed-super-journal"
        ],
        "{out}"
    );
}

#[test]
fn python_reports_the_sqlite_its_module_links() {
    let want = Command::new("python3")
        .args(["-c", "import sqlite3;print(sqlite3.sqlite_version)"])
        .output()
        .expect("these tests need python3 on PATH");
    let want = String::from_utf8(want.stdout).unwrap().trim().to_string();
    let (code, out, err) = sqlite(&["advise", "--python", "python3"]);
    assert!(code == 0 || code == 1, "{out}{err}");
    assert!(
        out.starts_with(&format!("SQLite {want} (what python3 links)")),
        "{out}"
    );
}

#[test]
fn a_command_after_the_separator_is_read_for_its_version() {
    let (code, out, err) = sqlite(&[
        "advise",
        "--",
        "sh",
        "-c",
        "echo 'sqlite3 module 2.6.0, SQLite 3.51.1 2025-11-28'",
    ]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.starts_with("SQLite 3.51.1 (printed by"), "{out}");
    assert_eq!(
        affecting(&out),
        ["wal-reset", "close-open-deadlock", "zeroed-super-journal"],
        "{out}"
    );
}

#[test]
fn bad_input_exits_2_naming_the_flag() {
    let (code, _, err) = sqlite(&["advise", "--version", "3.50"]);
    assert_eq!(code, 2);
    assert!(err.contains("--version") && err.contains("3.50"), "{err}");
    let (code, _, err) = sqlite(&["advise"]);
    assert_eq!(code, 2, "no source is a usage error: {err}");
    let (code, _, err) = sqlite(&["advise", "--version", "3.50.2", "--python", "python3"]);
    assert_eq!(code, 2, "two sources: {err}");
    let (code, _, err) = sqlite(&["advise", "--python", "/nonexistent/python3"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("--python") && err.contains("cannot start"),
        "{err}"
    );
    let (code, _, err) = sqlite(&["advise", "--", "sh", "-c", "echo oops >&2; exit 3"]);
    assert_eq!(code, 2);
    assert!(err.contains("-- CMD") && err.contains("oops"), "{err}");
    let (code, _, err) = sqlite(&["advise", "--", "echo", "version 2.6.0"]);
    assert_eq!(code, 2);
    assert!(err.contains("printed no SQLite version"), "{err}");
    let (code, _, err) = sqlite(&["advise", "--", "echo", "3.45.0 3.50.2"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("more than one") && err.contains("3.45.0, 3.50.2"),
        "{err}"
    );
}

#[test]
fn the_table_gives_the_expected_verdict_on_every_offered_release() {
    let (code, out, err) = sqlite(&["known-bugs"]);
    assert_eq!(code, 0, "{err}");
    let row = |v: &str| {
        out.lines()
            .find(|l| l.starts_with(&format!("{v} ")))
            .unwrap_or_else(|| panic!("no row for {v}: {out}"))
            .split_whitespace()
            .skip(1)
            .collect::<Vec<_>>()
    };
    // Columns: wal-reset, close-drops-posix-locks, close-open-deadlock, super-journal-rollback,
    // zeroed-super-journal.
    assert_eq!(row("3.50.2"), ["FAIL", "FAIL", "-", "-", "FAIL"], "{out}");
    assert_eq!(row("3.51.1"), ["FAIL", "pass", "hit", "-", "FAIL"], "{out}");
    assert_eq!(row("3.51.3"), ["pass", "pass", "-", "-", "FAIL"], "{out}");
    assert_eq!(row("3.53.2"), ["pass", "pass", "-", "-", "FAIL"], "{out}");
    assert_eq!(row("3.53.3"), ["pass", "pass", "-", "hit", "pass"], "{out}");
    assert_eq!(row("3.53.4"), ["pass", "pass", "-", "-", "pass"], "{out}");
    assert_eq!(row("3.54.0"), ["pass", "pass", "-", "-", "pass"], "{out}");
    assert_eq!(row("3.54.1"), ["pass", "pass", "-", "-", "pass"], "{out}");
}

/// `known-bugs --measure` on the bundled release (no prepare): each demo scenario really runs
/// there and gives the table's verdict (the fixed release: pass), and the summary says so.
#[test]
fn measuring_the_table_on_the_bundled_release_runs_every_demo_and_agrees() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("kb");
    let (code, stdout, stderr) = sqlite(&[
        "known-bugs",
        "--measure",
        "--sqlite",
        "3.54.1",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("AGREE: 3 of 3 cells"), "{stdout}");
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("known-bugs-measured.json")).unwrap(),
    )
    .unwrap();
    let cells = summary["cells"].as_array().unwrap();
    let bugs: Vec<&str> = cells.iter().map(|c| c["bug"].as_str().unwrap()).collect();
    assert_eq!(
        bugs,
        [
            "wal-reset",
            "close-drops-posix-locks",
            "zeroed-super-journal"
        ]
    );
    for c in cells {
        assert_eq!(c["measured"]["verdict"], "pass", "{c}");
        assert_eq!(c["agrees"], true, "{c}");
        // The cell's run wrote its reports where the summary says.
        let reports = std::fs::read_dir(c["out"].as_str().unwrap())
            .unwrap()
            .count();
        assert!(reports > 0, "{c}");
    }
    // Bugs without a scenario are named, not run.
    assert!(!summary["not_measured"].as_array().unwrap().is_empty());
}

#[test]
fn measure_flags_without_measure_and_unknown_releases_are_refused() {
    let (code, _, err) = sqlite(&["known-bugs", "--sqlite", "3.54.1"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--measure"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("kb");
    let (code, _, err) = sqlite(&[
        "known-bugs",
        "--measure",
        "--sqlite",
        "3.99.0",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("3.99.0"), "{err}");
    assert!(!out.exists(), "nothing written on bad input");
}
