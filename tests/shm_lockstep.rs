//! Lockstep below SQL (issue 22 item 1): `[lockstep] points = "shm"` makes every shared-memory
//! call of the database a step (`scenarios/wal-checkpointer-shm.toml`: a PASSIVE checkpointer
//! and two writers). Real worker processes, real SQLite, real files.

mod common;

use std::path::Path;

use common::*;

fn trace_of(run_dir: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(Path::new(run_dir).join("trace.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The run passes, its steps are the processes' shm calls (WRITE, CKPT and READ slots, the
/// checkpoint's start), and replaying its report reproduces it, hashes and all.
#[test]
fn writers_and_a_checkpointer_interleave_at_shm_calls_and_replay() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(
        dir.path(),
        &[
            "wal-checkpointer-shm",
            "--mode",
            "lockstep",
            "--seed",
            "1",
            "--keep",
        ],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let trace = trace_of(&r.s("/run_dir"));
    let shm: Vec<String> = trace
        .iter()
        .filter(|s| s["action"]["kind"] == "resume")
        .map(|s| {
            let c = &s["action"]["shm"];
            assert!(c.is_object(), "every resume is a shm point here: {s}");
            format!(
                "{}:{}",
                c["call"].as_str().unwrap(),
                c["slot"].as_str().unwrap_or("")
            )
        })
        .collect();
    for want in [
        "lock:WRITE",
        "lock:CKPT",
        "lock:READ(0)",
        "lock:READ(1)",
        "barrier:",
        "ckpt_start:",
        "ckpt_done:",
        // Issue 22 item 1's rest: the WAL restart's header write, the checkpoint's first
        // backfill write and its xUnfetch (the WAL-reset window).
        "wal_header:",
        "backfill:",
        "db_unfetch:",
    ] {
        assert!(
            shm.iter().any(|c| c == want),
            "no {want} step in {} shm steps",
            shm.len()
        );
    }
    // A process retried a shm lock that another, parked, process held (SQLite's sleep-and-
    // retry loop): each retry was a step, the run still ended well below its budget.
    let busy = trace
        .iter()
        .filter(|s| s["result"]["kind"] == "shm_busy")
        .count();
    assert!(busy > 0, "no shm lock came back busy");
    assert!(
        trace.len() < 3000,
        "{} steps for 40 commits and 20 checkpoints (947 measured)",
        trace.len()
    );
    // The interleaving is inside statements: some step of another worker falls between a
    // step's pause and its end.
    let inside = trace
        .windows(2)
        .any(|w| w[0]["result"]["kind"] == "paused" && w[1]["worker"] != w[0]["worker"]);
    assert!(inside, "no other process ran inside a paused step");
    // The page's step view draws the shm steps on the lanes, coloured by slot.
    let page = r.report_path.with_extension("html");
    let html = std::fs::read_to_string(&page).unwrap();
    for label in [
        "shm WRITE lock/unlock",
        "shm CKPT lock/unlock",
        "shm READ(i) lock/unlock",
        "WAL header write (WAL restart)",
        "checkpoint xUnfetch (WAL-reset window)",
    ] {
        assert!(
            html.contains(label),
            "no legend {label:?} in {}",
            page.display()
        );
    }
    for (fill, what) in [
        ("#8b0000", "WRITE"),
        ("#6a3d9a", "WAL header"),
        ("#ff00ff", "xUnfetch"),
    ] {
        assert!(
            html.contains(&format!(r#"<path fill="{fill}""#)),
            "no {what} ticks drawn"
        );
    }
    let report = r.report_path.to_str().unwrap();
    let (code, out, err) = walburst(dir.path(), "replay", &[report]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("REPRODUCED wal-checkpointer-shm seed=1"),
        "{out}"
    );
    assert!(out.contains("trace and content hashes identical"), "{out}");
}

#[test]
fn the_same_seed_gives_the_same_trace_hash() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = walburst(
        dir.path(),
        "run",
        &["wal-checkpointer-shm", "--seed", "2", "--check-determinism"],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("DETERMINISTIC wal-checkpointer-shm seed=2"),
        "{out}"
    );
}

/// In free mode, with a value that is not one of the two, or with an app's own worker
/// (which has no fault VFS to pause in): exit 2, naming the field and what is allowed.
/// (Without `--mode` such a scenario runs in lockstep: tests/cli_input.rs.)
#[test]
fn shm_points_are_refused_where_they_cannot_work() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = walburst(
        dir.path(),
        "run",
        &["wal-checkpointer-shm", "--seed", "1", "--mode", "free"],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("field `lockstep.points`"), "{err}");
    assert!(
        err.contains("--mode lockstep") && err.contains("statement, shm"),
        "{err}"
    );
    let bad = set(&shipped("wal-checkpointer-shm"), "points", "\"sql\"");
    let file = scenario_file(dir.path(), "bad-points", &bad);
    let (code, _, err) = walburst(
        dir.path(),
        "run",
        &[file.to_str().unwrap(), "--mode", "lockstep"],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("lockstep.points"), "{err}");
    assert!(err.contains("`statement` or `shm`"), "{err}");
    let external = shipped("wal-checkpointer-shm").replace(
        "[sqlite]",
        "[worker]\ncommand = [\"python3\", \"worker.py\"]\n\n[sqlite]",
    );
    let file = scenario_file(dir.path(), "external", &external);
    let (code, _, err) = walburst(
        dir.path(),
        "run",
        &[file.to_str().unwrap(), "--mode", "lockstep"],
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("lockstep.points") && err.contains("built-in worker"),
        "{err}"
    );
    assert!(
        !dir.path().join("reports").exists()
            || std::fs::read_dir(dir.path().join("reports"))
                .unwrap()
                .next()
                .is_none(),
        "bad input writes nothing"
    );
}
