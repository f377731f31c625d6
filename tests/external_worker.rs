//! External workers through the protocol (PROTOCOL.md): an app with its own schema and an
//! app-defined `[ledger]` passes, and each broken adapter fails with its own named reason,
//! within the scenario's deadlines, never hanging and never passing. The app is
//! `tests/fixtures/jobs_app.py` (python3, standard library).

mod common;

use std::time::{Duration, Instant};

use common::jobs::*;
use common::*;

#[test]
fn an_honest_app_with_its_own_ledger_passes_and_is_recorded() {
    require_python();
    let dir = tempfile::tempdir().unwrap();
    // `{scenario_dir}` finds the app next to the scenario file.
    std::fs::copy(fixture(), dir.path().join("jobs_app.py")).unwrap();
    let path = scenario_file(
        dir.path(),
        "honest",
        &jobs_scenario("{scenario_dir}/jobs_app.py", "honest"),
    );
    let r = run(dir.path(), &[path.to_str().unwrap(), "--seed", "3"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.u("/totals/committed"), 24);
    assert_eq!(r.u("/checks/lost_writes"), 0);
    assert_eq!(r.s("/checks/integrity_check"), "ok");
    let w = &r.report["workers"][0];
    assert_eq!(w["language"], "python");
    assert_eq!(w["implementation"], "jobs-app-fixture 1");
    let py_sqlite = std::process::Command::new("python3")
        .args(["-c", "import sqlite3; print(sqlite3.sqlite_version)"])
        .output()
        .unwrap();
    assert_eq!(
        w["sqlite_version"].as_str().unwrap(),
        String::from_utf8_lossy(&py_sqlite.stdout).trim(),
        "the report records the app's SQLite, not walburst's"
    );
    if w["sqlite_version"] != r.report["sqlite_version"] {
        assert!(
            r.report["notes"].to_string().contains("workers ran SQLite"),
            "{}",
            r.report["notes"]
        );
    }
}

/// An adapter that reports no `settings` (this fixture speaks the protocol itself and
/// predates the message) still runs: under `journal_mode = "app"` its mode is the
/// database's, and the report and the page say its settings were not reported.
#[test]
fn an_adapter_without_settings_runs_and_is_reported_as_not_reporting() {
    require_python();
    let dir = tempfile::tempdir().unwrap();
    let command = fixture().display().to_string();
    let toml = jobs_scenario(&command, "honest") + "[sqlite]\njournal_mode = \"app\"\n";
    let path = scenario_file(dir.path(), "app-mode", &toml);
    let r = run(dir.path(), &[path.to_str().unwrap(), "--seed", "3"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.report["app"]["settings_reported"], false);
    assert_eq!(r.report["app"]["settings"], serde_json::Value::Null);
    // The runner set no mode and the fixture's `PRAGMA journal_mode=app` is not one: the
    // file kept SQLite's default rollback journal, and that is what was judged.
    assert_eq!(r.s("/checks/app_journal_mode/chosen"), "delete");
    assert!(
        r.stdout.contains("settings not reported yet"),
        "{}",
        r.stdout
    );
    let page = std::fs::read_to_string(r.report_path.with_extension("html")).unwrap();
    assert!(page.contains("its connections set: settings not reported"));
}

/// `journal_mode = "app"` needs an app: without `[worker]` it is refused before anything
/// runs, naming the file, the field and the allowed values.
#[test]
fn journal_mode_app_without_a_worker_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = scenario_file(
        dir.path(),
        "no-app",
        "name = \"no-app\"\n[sqlite]\njournal_mode = \"app\"\n",
    );
    let (code, stdout, stderr) = walburst(dir.path(), "run", &[path.to_str().unwrap()]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(!stdout.contains("SEED="), "{stdout}");
    for part in [
        "no-app.toml",
        "sqlite.journal_mode",
        "needs an external `[worker]`",
        "allowed without [worker]: wal, delete, truncate, persist",
    ] {
        assert!(stderr.contains(part), "{part:?} missing from: {stderr}");
    }
}

#[test]
fn a_worker_of_another_protocol_version_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (r, _) = run_mode(dir.path(), "wrong-version");
    assert_ne!(r.code, 0);
    assert!(
        reasons(&r).contains("liveness/worker_protocol")
            && reasons(&r).contains("protocol version mismatch (worker speaks 2, runner 1)"),
        "{}",
        reasons(&r)
    );
    // The cause comes first, also under -q; no worker ran, so the ledger is not blamed and
    // nothing is "ambiguous": every op is "not run".
    let verdict = r.stdout.lines().last().unwrap_or_default();
    assert!(
        verdict.contains("[liveness/worker_protocol: ")
            && verdict.contains("protocol version mismatch")
            && verdict.contains("0 ambiguous, 24 not run")
            && verdict.contains("ledger not judged (no worker ran)"),
        "{verdict}"
    );
    assert!(
        r.report["failures"].as_array().unwrap().is_empty(),
        "{}",
        reasons(&r)
    );
}

#[test]
fn a_stray_print_is_non_protocol_output() {
    let dir = tempfile::tempdir().unwrap();
    let (r, _) = run_mode(dir.path(), "garbage");
    assert_ne!(r.code, 0);
    assert!(
        reasons(&r).contains("liveness/worker_protocol")
            && reasons(&r).contains("non-protocol output: starting the burst now"),
        "{}",
        reasons(&r)
    );
}

#[test]
fn a_phantom_acknowledgement_is_a_lost_write() {
    let dir = tempfile::tempdir().unwrap();
    let (r, _) = run_mode(dir.path(), "phantom-ack");
    assert_ne!(r.code, 0);
    // Every acknowledged commit is missing, from `present` and from the row check.
    assert_eq!(r.u("/checks/lost_writes"), 2 * 24, "{}", r.stdout);
    let examples = r.report["checks"]["ledger_examples"].to_string();
    assert!(
        examples.contains("acknowledged committed but `ledger.present` does not list it"),
        "{examples}"
    );
    assert!(reasons(&r).contains("lost"), "{}", reasons(&r));
}

#[test]
fn a_worker_that_exits_mid_run_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (r, _) = run_mode(dir.path(), "crash-exit");
    assert_ne!(r.code, 0);
    assert!(
        reasons(&r).contains("liveness/worker_exit")
            && reasons(&r).contains("exited with code 3 before finishing its schedule"),
        "{}",
        reasons(&r)
    );
    assert!(reasons(&r).contains("crashing on purpose"), "stderr tail");
}

#[test]
fn a_worker_killed_by_a_signal_mid_run_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (r, _) = run_mode(dir.path(), "crash-signal");
    assert_ne!(r.code, 0);
    assert!(
        reasons(&r).contains("died from signal 11"),
        "{}",
        reasons(&r)
    );
}

#[test]
fn a_silent_worker_is_killed_by_the_stall_watchdog() {
    let dir = tempfile::tempdir().unwrap();
    let (r, took) = run_mode(dir.path(), "hang");
    assert_ne!(r.code, 0);
    assert!(reasons(&r).contains("stalled"), "{}", reasons(&r));
    assert!(
        took < Duration::from_secs(30),
        "the 2 s stall timeout must end it well before the run deadline, took {took:?}"
    );
}

#[test]
fn done_with_ops_unreported_is_a_protocol_violation() {
    let dir = tempfile::tempdir().unwrap();
    let (r, _) = run_mode(dir.path(), "early-done");
    assert_ne!(r.code, 0);
    assert!(
        reasons(&r)
            .contains("protocol violation: done with 4 of its ops unreported (first: seq 4)"),
        "{}",
        reasons(&r)
    );
}

#[test]
fn unsupported_op_kinds_are_named_failures() {
    let dir = tempfile::tempdir().unwrap();
    let (r, _) = run_mode(dir.path(), "unsupported");
    assert_ne!(r.code, 0);
    assert!(
        reasons(&r).contains("WALBURST_UNSUPPORTED"),
        "{}",
        reasons(&r)
    );
}

#[test]
fn bad_worker_and_ledger_tables_are_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("[worker]\ncommand = []\n", "worker.command"),
        (
            "[worker]\ncommand = [\"./no-such-adapter.py\"]\n",
            "worker.command",
        ),
        (
            "[worker]\ncommand = [\"sh\"]\ncwd = \"no-such-dir\"\n",
            "worker.cwd",
        ),
        (
            "[worker]\ncommand = [\"sh\"]\nenv = { WALBURST_WORKER = \"1\" }\n",
            "worker.env",
        ),
        ("[ledger]\npresent = \"\"\n", "ledger.present"),
        (
            "[ledger]\npresent = \"SELECT 1, 2\"\n[[ledger.rows]]\nname = \"x\"\nquery = \"SELECT 1, 2\"\nkinds = [\"create\"]\n",
            "ledger.rows[0].kinds",
        ),
    ];
    for (i, (table, field)) in cases.iter().enumerate() {
        let path = scenario_file(
            dir.path(),
            &format!("bad{i}"),
            &format!("name = \"b\"\n{table}"),
        );
        let (code, out, err) = walburst(dir.path(), "run", &[path.to_str().unwrap()]);
        assert_eq!(code, 2, "{table}: {out}{err}");
        assert!(err.contains(field), "{table}: {err}");
        assert!(!dir.path().join("work").exists(), "nothing ran for {table}");
    }
}

#[test]
fn an_external_worker_in_lockstep_is_deterministic() {
    require_python();
    let dir = tempfile::tempdir().unwrap();
    let command = fixture().display().to_string();
    let path = scenario_file(dir.path(), "ls", &jobs_scenario(&command, "honest"));
    let (code, out, err) = walburst(
        dir.path(),
        "run",
        &[path.to_str().unwrap(), "--seed", "4", "--check-determinism"],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("DETERMINISTIC jobs-honest seed=4: 2 runs"),
        "{out}"
    );
}

/// A flock's lock is named by file name (PROTOCOL.md, StepAction `flock`): a path would put
/// the run directory into the trace hash, so a `want` carrying one is refused by name.
#[test]
fn a_flock_named_by_its_path_is_refused() {
    require_python();
    let dir = tempfile::tempdir().unwrap();
    let command = fixture().display().to_string();
    let path = scenario_file(
        dir.path(),
        "ls-flock-path",
        &jobs_scenario(&command, "flock-path"),
    );
    let r = run(
        dir.path(),
        &[path.to_str().unwrap(), "--seed", "3", "--mode", "lockstep"],
    );
    assert_ne!(r.code, 0);
    let why = reasons(&r);
    assert!(
        why.contains("liveness/worker_protocol")
            && why.contains("non-protocol output")
            && why.contains("a flock's lock is a file name, not a path"),
        "{why}"
    );
}

#[test]
fn a_silent_worker_in_lockstep_is_named_at_its_step() {
    require_python();
    let dir = tempfile::tempdir().unwrap();
    let command = fixture().display().to_string();
    let toml = jobs_scenario(&command, "hang") + "[lockstep]\nstep_timeout_secs = 2\n";
    let path = scenario_file(dir.path(), "ls-hang", &toml);
    let t0 = Instant::now();
    let r = run(
        dir.path(),
        &[path.to_str().unwrap(), "--seed", "3", "--mode", "lockstep"],
    );
    assert_ne!(r.code, 0);
    assert!(
        reasons(&r).contains("lockstep stopped: workers did not park for step 0 within 2 s"),
        "{}",
        reasons(&r)
    );
    assert!(t0.elapsed() < Duration::from_secs(30));
}
