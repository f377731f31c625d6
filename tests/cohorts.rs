//! `[[sqlite.cohort]]`: workers of one run on different SQLite releases. Real processes on
//! the real prepared release (3.50.2, which `sqlite_releases.rs` prepares too: the cache
//! is shared and its lock serialises the two), beside the bundled one.
//! Set WALBURST_SKIP_PREPARE=1 to skip the prepared part locally; `.ci/run` always runs it.

mod common;

use std::path::Path;

use common::*;

const COHORT: &str = "\n[[sqlite.cohort]]\nworkers = [1, 3]\nversion = \"3.50.2\"\n";

fn skip_prepare() -> bool {
    let skip = std::env::var_os("WALBURST_SKIP_PREPARE").is_some_and(|v| v == "1");
    if skip {
        eprintln!("skipped: WALBURST_SKIP_PREPARE=1");
    }
    skip
}

/// The release each worker said it runs, by worker index.
fn releases(r: &Run) -> Vec<String> {
    r.report["workers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["sqlite_version"].as_str().unwrap_or("?").to_string())
        .collect()
}

/// A bad cohort is refused before anything runs, naming the field and what is allowed.
#[test]
fn a_cohort_of_workers_that_do_not_exist_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = scenario_file(
        d,
        "bad-cohort",
        &(shipped("smoke") + "\n[[sqlite.cohort]]\nworkers = [9]\nversion = \"3.50.2\"\n"),
    );
    let (code, _, err) = walburst(d, "run", &[s.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("bad-cohort.toml") && err.contains("sqlite.cohort[0].workers"),
        "{err}"
    );
    assert!(!d.join("reports").exists(), "nothing half-written");
}

/// Built-in workers 1 and 3 run the prepared 3.50.2 beside workers 0 and 2 on the bundled
/// release, on one WAL file; the board stays correct and the report says who ran what.
#[test]
fn builtin_workers_of_a_cohort_run_its_release_beside_the_runs_own() {
    if skip_prepare() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = scenario_file(d, "mixed", &(shipped("smoke") + COHORT));
    let r = run(d, &[s.to_str().unwrap(), "--seed", "3"]);
    assert!(r.passed(), "{}\n{}", r.stdout, r.stderr);
    assert_eq!(releases(&r), ["3.54.1", "3.50.2", "3.54.1", "3.50.2"]);
    assert_eq!(
        r.report["sqlite_version"], "3.54.1",
        "the run's own verifies"
    );
    assert!(
        r.notes()
            .iter()
            .any(|n| n.contains("workers ran SQLite 3.50.2")),
        "{:?}",
        r.notes()
    );
    assert!(r.stdout.contains("cohorts=1,3@3.50.2"), "{}", r.stdout);
    // The same seed in lockstep, twice: a cohort does not cost determinism.
    let hashes: Vec<String> = (0..2)
        .map(|_| {
            let r = run(
                d,
                &[s.to_str().unwrap(), "--seed", "3", "--mode", "lockstep"],
            );
            assert!(r.passed(), "{}", r.stdout);
            r.s("/trace_hash")
        })
        .collect();
    assert_eq!(hashes[0], hashes[1]);
}

/// An external worker of a cohort loads the prepared library of its release; one whose
/// command throws the library path away runs another SQLite and is refused by name.
#[test]
fn an_external_worker_of_a_cohort_loads_its_release_or_is_refused() {
    if skip_prepare() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let kanban_worker =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("adapters/python/kanban_worker.py");
    let py = shipped("python-pr-45525-burst").replace(
        "\"{scenario_dir}/../adapters/python/kanban_worker.py\"",
        &format!("{:?}", kanban_worker.to_str().unwrap()),
    );
    let one = "\n[[sqlite.cohort]]\nworkers = [1]\nversion = \"3.50.2\"\n";
    let s = scenario_file(d, "py-mixed", &(py.clone() + one));
    let r = run(d, &[s.to_str().unwrap(), "--workers", "2", "--ops", "10"]);
    assert!(r.passed(), "{}\n{}", r.stdout, r.stderr);
    let ran = releases(&r);
    assert_eq!(ran[1], "3.50.2", "{ran:?}");
    assert_ne!(
        ran[0], "3.50.2",
        "worker 0 runs python's own SQLite: {ran:?}"
    );

    let reset = scenario_file(
        d,
        "py-mixed-reset",
        &(py.replace(
            "command = [\"python3\",",
            "command = [\"env\", \"-u\", \"LD_LIBRARY_PATH\", \"python3\",",
        ) + one),
    );
    let r = run(
        d,
        &[reset.to_str().unwrap(), "--workers", "2", "--ops", "10"],
    );
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stdout.contains("SQLite mismatch: the worker runs SQLite")
            && r.stdout.contains("the run asked for 3.50.2"),
        "{}",
        r.stdout
    );
    // Worker 1 is the one named; worker 0 (no cohort) ran what it runs.
    let w = &r.report["workers"];
    assert!(!w[1]["protocol_failure"].is_null(), "{w}");
    assert!(w[0]["protocol_failure"].is_null(), "{w}");
}
