//! The WAL-reset bug's window placed by the scheduler (issue 22): `scenarios/wal-reset-bug.toml`
//! pauses the checkpointer inside SQLite at its `xUnfetch(db, 0, NULL)` (an `[io]` `yield`
//! point) and lets the seeded lockstep scheduler run the writer's steps before it resumes.
//!
//! Here, on the bundled SQLite (3.54.1, fixed): the pauses happen at their exact steps, the
//! run is deterministic, and the fixed release passes. On an affected release the same
//! scenario fails: `on_affected_and_fixed_releases` (ignored: it prepares SQLite 3.51.1 and
//! 3.51.3, minutes of CPU each; the weekly releases job runs it, NIGHTLY.md).

mod common;

use std::path::Path;

use common::*;

/// `walburst run wal-reset-bug --mode lockstep --seed SEED EXTRA...`.
fn lockstep(dir: &Path, seed: &str, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec!["wal-reset-bug", "--mode", "lockstep", "--seed", seed];
    args.extend(extra);
    walburst(dir, "run", &args)
}

#[test]
fn the_checkpointer_pauses_inside_sqlite_and_the_writer_runs_meanwhile() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(
        dir.path(),
        &[
            "wal-reset-bug",
            "--mode",
            "lockstep",
            "--seed",
            "1",
            "--keep",
        ],
    );
    assert_eq!(
        r.code, 0,
        "the fixed release passes:\n{}{}",
        r.stdout, r.stderr
    );
    let trace = std::fs::read_to_string(Path::new(&r.s("/run_dir")).join("trace.jsonl")).unwrap();
    let steps: Vec<serde_json::Value> = trace
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let paused: Vec<usize> = steps
        .iter()
        .enumerate()
        .filter(|(_, s)| s["result"]["kind"] == "paused")
        .map(|(i, _)| i)
        .collect();
    assert!(
        paused.len() >= 5,
        "the yield points paused the checkpoints: {paused:?}"
    );
    // Every pause is the checkpointer's checkpoint, resumed later by a `resume` step of its
    // own; and at least once the writer committed in between.
    let mut writer_inside = 0;
    for &i in &paused {
        assert_eq!(steps[i]["worker"], 0);
        assert_eq!(steps[i]["action"]["kind"], "checkpoint");
        let resume = (i + 1..steps.len())
            .find(|&j| steps[j]["worker"] == 0)
            .expect("the paused step resumes");
        assert_eq!(steps[resume]["action"]["kind"], "resume");
        assert_eq!(steps[resume]["action"]["point"], "unfetch");
        if steps[i + 1..resume]
            .iter()
            .any(|s| s["worker"] == 1 && s["action"]["kind"] == "commit")
        {
            writer_inside += 1;
        }
    }
    assert!(
        writer_inside > 0,
        "no writer commit inside a pause: {paused:?}"
    );
}

#[test]
fn the_window_is_placed_the_same_way_every_time() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = lockstep(dir.path(), "2", &["--check-determinism"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("DETERMINISTIC wal-reset-bug seed=2"), "{out}");
}

/// FAIL on 3.51.1 (affected), PASS on 3.51.3 (fixed), one command. Prepares both releases.
#[test]
#[ignore = "prepares SQLite 3.51.1 and 3.51.3 (minutes of CPU); run by the weekly releases job"]
fn on_affected_and_fixed_releases() {
    let dir = tempfile::tempdir().unwrap();
    // Seed 2 is one of the scenario's own seeds (each fails on 3.51.1).
    let (code, out, err) = lockstep(dir.path(), "2", &["--sqlite", "3.51.1,3.51.3"]);
    assert_eq!(code, 1, "{out}{err}");
    // The closing summary: one line per release, `  SQLite V (prepared from ...): VERDICT ...`
    // (a PASS verdict line itself names no release).
    let summary = |v: &str, verdict: &str| {
        out.lines().any(|l| {
            l.trim_start().starts_with(&format!("SQLite {v} "))
                && l.contains(&format!("): {verdict} wal-reset-bug seed=2"))
        })
    };
    assert!(summary("3.51.1", "FAIL"), "{out}");
    assert!(summary("3.51.3", "PASS"), "{out}");
}

/// How many times a writer restarted the WAL (READ(1..4) taken at once, then a new WAL header)
/// while the checkpointer (worker 0) was parked before its `db_unfetch` step, in the trace of
/// `wal-reset-found-shm --seed 4010 EXTRA...` on the bundled SQLite (fixed: every run passes).
fn restarts_inside_an_unfetch_pause(extra: &[&str]) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["wal-reset-found-shm", "--seed", "4010", "--keep"];
    args.extend(extra);
    let r = run(dir.path(), &args);
    assert_eq!(
        r.code, 0,
        "the fixed release passes:\n{}{}",
        r.stdout, r.stderr
    );
    let trace = std::fs::read_to_string(Path::new(&r.s("/run_dir")).join("trace.jsonl")).unwrap();
    let steps: Vec<serde_json::Value> = trace
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let call = |s: &serde_json::Value| s["action"]["shm"]["call"].as_str().map(str::to_owned);
    let mut restarted_inside = 0;
    for (i, s) in steps.iter().enumerate() {
        if s["worker"] != 0 || call(s).as_deref() != Some("db_unfetch") {
            continue;
        }
        // The checkpointer's previous step is where it parked before this resume.
        let parked = (0..i).rev().find(|&k| steps[k]["worker"] == 0).unwrap();
        let inside = &steps[parked + 1..i];
        let restart_lock = inside.iter().any(|t| {
            call(t).as_deref() == Some("lock")
                && t["action"]["shm"]["slot"] == "READ(1)"
                && t["action"]["shm"]["n"] == 4
                && t["action"]["shm"]["op"] == "lock"
        });
        let header = inside
            .iter()
            .any(|t| call(t).as_deref() == Some("wal_header"));
        if restart_lock && header {
            restarted_inside += 1;
        }
    }
    restarted_inside
}

/// The case the unassisted search found (issue 22 item 4, `scenarios/wal-reset-found-shm.toml`):
/// no yield point, only `points = "shm"` and PCT. The scheduler parks the checkpointer at its
/// `db_unfetch` step and, before it grants the resume, runs a writer whose commit restarts
/// the WAL. The bundled release (fixed) passes with the same interleaving. Control: the same
/// seed under the random scheduler restarts the WAL inside no such pause (the count can say 0).
#[test]
fn the_found_case_restarts_the_wal_while_the_checkpointer_waits_at_its_unfetch() {
    assert_eq!(
        restarts_inside_an_unfetch_pause(&[]),
        1,
        "seed 4010: parked at step 969, the restart at steps 978-984"
    );
    assert_eq!(
        restarts_inside_an_unfetch_pause(&["--scheduler", "random"]),
        0
    );
}

/// The found case FAILs on 3.51.1 and PASSes on 3.51.3, one command. Prepares both releases.
#[test]
#[ignore = "prepares SQLite 3.51.1 and 3.51.3 (minutes of CPU); run by the weekly releases job"]
fn the_found_case_on_affected_and_fixed_releases() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = walburst(
        dir.path(),
        "run",
        &[
            "wal-reset-found-shm",
            "--seed",
            "4010",
            "--sqlite",
            "3.51.1,3.51.3",
        ],
    );
    assert_eq!(code, 1, "{out}{err}");
    // The closing summary: one line per release, `  SQLite V (prepared from ...): VERDICT ...`.
    let summary = |v: &str, verdict: &str| {
        out.lines().any(|l| {
            l.trim_start().starts_with(&format!("SQLite {v} "))
                && l.contains(&format!("): {verdict} wal-reset-found-shm seed=4010"))
        })
    };
    assert!(summary("3.51.1", "FAIL"), "{out}");
    assert!(out.contains("integrity DAMAGED"), "{out}");
    assert!(summary("3.51.3", "PASS"), "{out}");
}
