//! The Python adapter (adapters/python/) run through walburst: real Python worker
//! processes on the interpreter's own sqlite3 module, real files. These tests need
//! `python3` on PATH and fail with a clear message without it.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

const SMALL: [&str; 4] = ["--workers", "4", "--ops", "30"];

/// The python3 these tests run, or a clear failure.
fn python3() -> &'static str {
    python3_for("the Python adapter tests (tests/python_worker.rs)")
}

fn adapter_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("adapters/python")
}

/// The SQLite version the interpreter's sqlite3 module links.
fn python_sqlite_version() -> String {
    let o = Command::new(python3())
        .args(["-c", "import sqlite3; print(sqlite3.sqlite_version)"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// A shipped Python scenario rewritten to a temp file whose worker command names the
/// adapter by absolute path (so it runs from any directory), with `key = value` edits.
fn python_scenario(dir: &Path, shipped_name: &str, edits: &[(&str, &str)]) -> PathBuf {
    let mut text = shipped(shipped_name);
    for (k, v) in edits {
        text = set(&text, k, v);
    }
    let worker = adapter_dir().join("kanban_worker.py");
    text = set(
        &text,
        "command",
        &format!("[\"{}\", \"{}\"]", python3(), worker.display()),
    );
    scenario_file(dir, &format!("{shipped_name}-test"), &text)
}

#[test]
fn python_burst_passes_and_records_the_apps_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = python_scenario(dir.path(), "python-pr-45525-burst", &[]);
    let mut args = vec![path.to_str().unwrap(), "--seed", "7"];
    args.extend(SMALL);
    let r = run(dir.path(), &args);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.passed(), "{}", r.stdout);
    assert_eq!(r.u("/totals/committed"), 4 * 30);
    assert_eq!(r.u("/checks/lost_writes"), 0);
    let report = r.report.to_string();
    assert!(report.contains("\"language\":\"python\""), "{report:.2000}");
    assert!(
        report.contains(&format!(
            "\"sqlite_version\":\"{}\"",
            python_sqlite_version()
        )),
        "the report does not record the Python app's SQLite"
    );
}

#[test]
fn python_page_count_guard_false_in_wal_none_in_delete() {
    let dir = tempfile::tempdir().unwrap();
    let wal = python_scenario(dir.path(), "python-legacy-page-count-guard", &[]);
    let mut args = vec![wal.to_str().unwrap(), "--seed", "7"];
    args.extend(SMALL);
    let r = run(dir.path(), &args);
    assert!(!r.passed(), "{}", r.stdout);
    // Most WAL commits that grew the file fire; every report is false.
    assert!(r.u("/corruption/false") > 4 * 30 / 2, "{}", r.stdout);
    assert_eq!(r.u("/corruption/real"), 0, "{}", r.stdout);
    assert_eq!(
        r.u("/corruption/by_guard/page-count"),
        r.u("/corruption/reports")
    );
    assert_eq!(r.s("/checks/integrity_check"), "ok");
    assert_eq!(r.u("/checks/lost_writes"), 0);
    let delete = python_scenario(dir.path(), "python-page-count-guard-delete", &[]);
    let mut args = vec![delete.to_str().unwrap(), "--seed", "7"];
    args.extend(SMALL);
    let r = run(dir.path(), &args);
    assert!(r.passed(), "{}", r.stdout);
    assert_eq!(r.u("/corruption/reports"), 0);
}

#[test]
fn python_lockstep_is_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let path = python_scenario(dir.path(), "python-pr-45525-burst", &[]);
    let (code, out, err) = walburst(
        dir.path(),
        "run",
        &[
            path.to_str().unwrap(),
            "--workers",
            "3",
            "--ops",
            "10",
            "--mode",
            "lockstep",
            "--check-determinism",
        ],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.lines()
            .last()
            .unwrap()
            .starts_with("DETERMINISTIC python-pr-45525-burst seed=7: 2 runs"),
        "{out}"
    );
}

/// The lock-hazard twin in lockstep: on SQLite below 3.51 (3.40.1 here) a process's close
/// deletes -wal/-shm under the others, and every later step's outcome rests on where in the
/// trace that close ran. The adapter once closed its idle connections on its main thread,
/// ungated, after its actors were done: 3 workers x 6 ops gave 5 different traces in 15
/// runs (2 of 20 differed at 4 x 30), so 6 runs all alike would have been chance of about
/// 1 in 300. Now each close is a step and the trace is the seed's.
#[test]
fn python_lockstep_with_a_damaging_close_repeats_its_trace() {
    let dir = tempfile::tempdir().unwrap();
    let path = python_scenario(dir.path(), "python-header-probe-lock-hazard-wal", &[]);
    let args = [
        path.to_str().unwrap(),
        "--seed",
        "7",
        "--workers",
        "3",
        "--ops",
        "6",
        "--mode",
        "lockstep",
    ];
    let runs: Vec<(String, String, u64)> = (0..6)
        .map(|_| {
            let r = run(dir.path(), &args);
            assert!(r.code == 0 || r.code == 1, "{}\n{}", r.stdout, r.stderr);
            (
                r.s("/trace_hash"),
                r.s("/content_hash"),
                r.u("/totals/committed"),
            )
        })
        .collect();
    for other in &runs[1..] {
        assert_eq!(
            other, &runs[0],
            "lockstep runs of one seed differ: {runs:?}"
        );
    }
}

#[test]
fn failing_python_lockstep_run_replays_from_its_report() {
    let dir = tempfile::tempdir().unwrap();
    // The bare-close probe inside the write transaction in DELETE mode: the close drops the
    // writer's POSIX locks and another writer's blocked BEGIN IMMEDIATE gets in.
    let path = python_scenario(
        dir.path(),
        "python-header-probe-lock-hazard-wal",
        &[
            ("guard_at", "\"in-transaction\""),
            ("journal_mode", "\"delete\""),
            ("connection", "\"persistent\""),
            ("idle_connections", "0"),
        ],
    );
    let failing = run(
        dir.path(),
        &[
            path.to_str().unwrap(),
            "--seed",
            "7",
            "--mode",
            "lockstep",
            "--workers",
            "3",
            "--ops",
            "12",
        ],
    );
    assert!(!failing.passed(), "{}", failing.stdout);
    // The report names an external program: replaying it runs that program, so only when
    // asked, after the command is shown.
    let (code, out, err) = walburst(
        dir.path(),
        "replay",
        &[failing.report_path.to_str().unwrap()],
    );
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(
        err.contains("runs an external worker program") && err.contains("kanban_worker.py"),
        "{err}"
    );
    assert!(err.contains("--trust-report"), "{err}");
    let (code, out, err) = walburst(
        dir.path(),
        "replay",
        &[failing.report_path.to_str().unwrap(), "--trust-report"],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.lines().last().unwrap().starts_with(
            "REPRODUCED python-header-probe-lock-hazard-wal seed=7 (lockstep): verdict fail"
        ),
        "{out}"
    );
}

#[test]
fn python_schema_is_the_kanban_profiles() {
    let o = Command::new(python3())
        .current_dir(adapter_dir())
        .args([
            "-c",
            "import sys, kanban_app; sys.stdout.write(kanban_app.SCHEMA)",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        walburst::workload::kanban::SCHEMA,
        "adapters/python/kanban_app/schema.py's SCHEMA drifted from harness/exec/kanban.rs"
    );
}

/// The adapter's own unit tests (over a Python fake runner): outcomes, guards, kills, EOF
/// and protocol-version handling, lockstep determinism in WAL and DELETE.
#[test]
fn python_adapter_unit_tests_pass() {
    let o = Command::new(python3())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["-m", "unittest", "discover", "-s", "adapters/python/tests"])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The list-append workload through the Python app: its records carry what each read
/// returned, and the isolation checker finds the history clean.
#[test]
fn python_list_append_passes_the_isolation_checker() {
    let dir = tempfile::tempdir().unwrap();
    let path = python_scenario(dir.path(), "python-list-append", &[]);
    let r = run(dir.path(), &[path.to_str().unwrap(), "--seed", "1"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.u("/checks/isolation/txns"), 400);
    assert_eq!(r.u("/checks/isolation/outcomes/ok"), 400);
    assert_eq!(r.u("/checks/isolation/anomaly_count"), 0);
    assert!(r.u("/checks/isolation/edges/wr") > 0);
}

/// The journal mode the example app's own rule picks for the interpreter's SQLite
/// (`kanban_app.own_journal_mode`: WAL from 3.51.3, DELETE below).
fn example_apps_own_mode() -> String {
    let o = Command::new(python3())
        .current_dir(adapter_dir())
        .args([
            "-c",
            "import kanban_app; print(kanban_app.own_journal_mode())",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// `journal_mode = "app"` (issue 20, item 6): the example app chooses its journal mode on
/// the SQLite it loaded, the run passes judged in that mode, and the report, the seed
/// line's continuation, the verdict line and the page carry the app's SQLite and what its
/// connections set, next to walburst's own. Lockstep too, deterministic.
#[test]
fn app_mode_scenario_passes_in_the_mode_the_app_chose_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let path = python_scenario(dir.path(), "python-kanban-app-mode", &[]);
    let version = python_sqlite_version();
    let mode = example_apps_own_mode();
    let mut args = vec![path.to_str().unwrap(), "--seed", "7"];
    args.extend(SMALL);
    let r = run(dir.path(), &args);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.passed(), "{}", r.stdout);
    assert_eq!(r.s("/scenario/sqlite/journal_mode"), "app");
    assert_eq!(
        r.s("/checks/journal_mode"),
        mode,
        "the database ended in another mode"
    );
    assert_eq!(r.s("/checks/app_journal_mode/chosen"), mode);
    assert_eq!(r.s("/app/journal_mode"), mode);
    assert_eq!(
        r.report["checks"]["app_journal_mode"]["reported"][&mode],
        serde_json::json!([0, 1, 2, 3]),
        "every worker reports the mode it set"
    );
    assert_eq!(r.report["app"]["settings_reported"], true);
    assert_eq!(
        r.report["app"]["sqlite_versions"][&version],
        serde_json::json!([0, 1, 2, 3])
    );
    let settings = &r.report["app"]["settings"][0];
    assert_eq!(settings["sqlite_version"], version.as_str());
    assert_eq!(settings["journal_mode"], mode.as_str());
    assert_eq!(settings["synchronous"], "full");
    assert_eq!(settings["busy_timeout_ms"], 120000);
    assert_eq!(r.s("/app/runner_sqlite"), r.s("/sqlite_version"));
    // The seed line comes first; its continuation, once every worker is at the barrier,
    // names the app's SQLite and settings (connections opened before `go`).
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert!(lines[0].starts_with("SEED=7 ") && lines[0].contains("journal_mode=app"));
    assert!(
        lines[1].starts_with(&format!("  app sqlite={version} journal_mode={mode} ")),
        "{}",
        r.stdout
    );
    let verdict = lines.last().unwrap();
    assert!(
        verdict.contains(&format!("app sqlite {version} journal_mode={mode}")),
        "{verdict}"
    );
    let page = std::fs::read_to_string(r.report_path.with_extension("html")).unwrap();
    assert!(
        page.contains(&format!(
            "app SQLite {version} (journal mode chosen by the app: {mode})"
        )),
        "the page's headline does not name the app's SQLite"
    );

    let r = run(
        dir.path(),
        &[
            path.to_str().unwrap(),
            "--seed",
            "7",
            "--workers",
            "3",
            "--ops",
            "10",
            "--mode",
            "lockstep",
            "--check-determinism",
        ],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.lines().any(|l| l.starts_with("DETERMINISTIC ")),
        "{}",
        r.stdout
    );
    assert_eq!(r.s("/app/journal_mode"), mode);
    // In lockstep the gate forces busy_timeout to 0, and the report says what ran.
    assert_eq!(r.report["app"]["settings"][0]["busy_timeout_ms"], 0);
}

/// An app whose journal mode changes during the run (the fixture switches worker 0's
/// connection to the other mode after its op 3) fails by name under `journal_mode =
/// "app"`, in free mode and in lockstep: it is never judged in whichever mode the database
/// happened to end in.
#[test]
fn an_app_switching_its_journal_mode_mid_run_fails_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = shipped("python-kanban-app-mode");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mode_switch_app.py");
    text = set(
        &text,
        "command",
        &format!("[\"{}\", \"{}\"]", python3(), fixture.display()),
    );
    let path = scenario_file(dir.path(), "switch", &text);
    for mode in ["free", "lockstep"] {
        let r = run(
            dir.path(),
            &[
                path.to_str().unwrap(),
                "--seed",
                "7",
                "--workers",
                "3",
                "--ops",
                "10",
                "--mode",
                mode,
            ],
        );
        assert_eq!(r.code, 1, "{mode}: {}\n{}", r.stdout, r.stderr);
        assert_eq!(
            r.failure_signatures(),
            ["journal_mode/journal_mode_check/unexpected"],
            "{mode}: {}",
            r.stdout
        );
        let f = &r.failures()[0];
        assert!(
            f.contains("the app's connections ran in 2 journal modes")
                && f.contains("a worker's mode changed during the run"),
            "{mode}: {f}"
        );
        assert_eq!(r.report["checks"]["journal_mode_ok"], false);
    }
}
