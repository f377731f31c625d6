//! The fault VFS (`[io]`): counters per file kind, exact fault points (kill, stop, fail),
//! determinism in lockstep, and that clean scenarios never load it.

mod common;

use common::*;

fn scenario(dir: &std::path::Path, name: &str, body: &str) -> String {
    scenario_file(dir, name, &format!("name = \"{name}\"\n{body}"))
        .to_string_lossy()
        .into_owned()
}

/// A clean scenario never registers the fault VFS (asked of SQLite in each worker), and an
/// `[io] counters` scenario counts every kind of call, split by checkpoint phase.
#[test]
fn clean_runs_never_load_the_vfs_and_counters_see_every_file_kind() {
    let dir = tempfile::tempdir().unwrap();
    let clean = scenario(
        dir.path(),
        "clean",
        "[workload]\nworkers = 2\nops_per_worker = 20\n",
    );
    let r = run(dir.path(), &[&clean]);
    assert!(r.passed(), "{}", r.stdout);
    assert!(
        r.report.get("io").is_none(),
        "a clean run loaded the fault VFS: {}",
        r.report["io"]
    );

    let counted = scenario(
        dir.path(),
        "counted",
        "[sqlite]\nwal_autocheckpoint = 10\n[workload]\nworkers = 2\nops_per_worker = 20\n\
         [io]\ncounters = true\n",
    );
    let r = run(dir.path(), &[&counted]);
    assert!(r.passed(), "{}", r.stdout);
    // Whichever committer crosses the threshold runs the auto-checkpoint: count them all.
    let mut copied = 0;
    for w in ["0", "1"] {
        let c = &r.report["io"]["counters"][w];
        let n = |p: &str| c.pointer(p).and_then(|v| v.as_u64()).unwrap_or(0);
        // FULL syncs the WAL at every commit: 20 commits, at least 20 WAL syncs.
        assert!(n("/total/wal/write") >= 20, "worker {w}: {c}");
        assert!(n("/total/wal/sync") >= 20, "worker {w}: {c}");
        assert!(n("/total/shm/shm-lock") > 0, "worker {w}: {c}");
        assert!(n("/total/shm/shm-map") > 0, "worker {w}: {c}");
        // Main-file pages are written only by checkpoints, inside CKPT_START..CKPT_DONE.
        copied += n("/in_checkpoint/main/write");
        assert_eq!(
            n("/in_checkpoint/main/write"),
            n("/total/main/write"),
            "{c}"
        );
    }
    assert!(copied > 0, "no checkpoint page counted");
}

/// The bar: a kill after the k-th checkpoint page is deterministic in lockstep (the
/// same trace and content hash every time), names its point, op and step, and loses nothing.
#[test]
fn checkpoint_kill_at_a_page_is_deterministic_in_lockstep() {
    let dir = tempfile::tempdir().unwrap();
    let mut seen = None;
    for _ in 0..10 {
        let r = run(
            dir.path(),
            &[
                "checkpoint-kill-at-page",
                "--seed",
                "2",
                "--mode",
                "lockstep",
                "--workers",
                "3",
                "--ops",
                "24",
            ],
        );
        assert!(r.passed(), "{}", r.stdout);
        let fired = &r.report["io"]["fired"][0];
        assert_eq!(fired["action"], "kill");
        assert_eq!(fired["in_checkpoint"], true);
        assert!(fired["step"].is_u64() && fired["seq"].is_u64(), "{fired}");
        assert_eq!(r.report["kills"][0]["point"], "io");
        assert_eq!(r.report["kills"][0]["respawned"], true);
        assert_eq!(r.u("/checks/lost_writes"), 0);
        assert!(r.stdout.contains("io point 0 fired: kill"), "{}", r.stdout);
        let key = (
            r.s("/trace_hash"),
            r.s("/content_hash"),
            fired["step"].as_u64(),
            fired["nth"].as_u64(),
        );
        match &seen {
            None => seen = Some(key),
            Some(k) => assert_eq!(k, &key, "lockstep diverged"),
        }
    }
}

/// A stalled checkpointer: the others keep committing and -wal grows, as reported.
#[test]
fn checkpoint_stall_lets_the_others_commit() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(
        dir.path(),
        &["checkpoint-stall", "--workers", "3", "--ops", "150"],
    );
    assert!(r.passed(), "{}", r.stdout);
    let st = &r.report["io"]["stalls"][0];
    assert!(st["commits_by_others"].as_u64().unwrap() > 0, "{st}");
    assert!(
        st["wal_bytes_after"].as_u64().unwrap() > st["wal_bytes_before"].as_u64().unwrap(),
        "{st}"
    );
    assert!(r.stdout.contains("other workers committed"), "{}", r.stdout);
}

/// A `fail` point returns SQLite's I/O error for the call: the commit whose WAL sync failed
/// ends ambiguous with SQLITE_IOERR_FSYNC, the probe settles it, nothing acknowledged is lost.
#[test]
fn a_failed_sync_surfaces_as_sqlite_ioerr_fsync() {
    let dir = tempfile::tempdir().unwrap();
    let s = scenario(
        dir.path(),
        "fail-sync",
        "[workload]\nworkers = 2\nops_per_worker = 15\n\
         [[io.points]]\nfile = \"wal\"\nop = \"sync\"\nnth = 5\nworker = 1\naction = \"fail\"\n",
    );
    let r = run(dir.path(), &[&s, "--keep"]);
    assert!(r.passed(), "{}", r.stdout);
    assert_eq!(r.report["io"]["fired"][0]["worker"], 1);
    assert_eq!(r.u("/checks/ambiguous"), 1, "{}", r.stdout);
    let records =
        std::fs::read_to_string(std::path::Path::new(&r.s("/run_dir")).join("records.jsonl"))
            .unwrap();
    assert_eq!(records.matches("SQLITE_IOERR_FSYNC").count(), 1);
    assert_eq!(r.s("/checks/integrity_check"), "ok");
    assert_eq!(r.u("/checks/lost_writes"), 0);
}

/// A point that never fires tested nothing: the run fails and says so.
#[test]
fn a_point_that_never_fires_fails_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let s = scenario(
        dir.path(),
        "never",
        "[workload]\nworkers = 1\nops_per_worker = 3\n\
         [[io.points]]\nfile = \"journal\"\nop = \"write\"\nnth = 1\naction = \"kill\"\n",
    );
    let r = run(dir.path(), &[&s]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.failures().iter().any(|f| f.contains("never fired")),
        "{:?}",
        r.failures()
    );
}

/// Bad `[io]` input is refused before anything runs, naming the field.
#[test]
fn bad_io_points_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (body, field) in [
        (
            "[[io.points]]\nfile = \"wal\"\nop = \"shm-lock\"\nnth = 1\naction = \"kill\"\n",
            "io.points[0].op",
        ),
        (
            "[[io.points]]\nfile = \"main\"\nop = \"write\"\nnth = [5, 2]\naction = \"kill\"\n",
            "io.points[0].nth",
        ),
        (
            "[[io.points]]\nfile = \"main\"\nop = \"write\"\nnth = 1\naction = \"stop\"\nstop_ms = 0\n",
            "io.points[0].stop_ms",
        ),
        ("[faults]\nkill = \"io\"\nkills = 1\n", "faults.kill"),
        (
            "[lockstep]\nstep_timeout_secs = 1\n\
             [[io.points]]\nfile = \"main\"\nop = \"write\"\nnth = 1\naction = \"stop\"\nstop_ms = 2000\n",
            "lockstep.step_timeout_secs",
        ),
        // An external worker preloads the fault VFS, but a yield parks a step of the
        // built-in worker's lockstep gate.
        (
            "[[io.points]]\nfile = \"main\"\nop = \"write\"\nnth = 1\naction = \"yield\"\n\
             [worker]\ncommand = [\"/bin/true\"]\n",
            "io.points[0].action",
        ),
    ] {
        let s = scenario(dir.path(), "bad", body);
        let (code, _, stderr) = walburst(dir.path(), "run", &[&s]);
        assert_eq!(code, 2, "{body}: {stderr}");
        assert!(stderr.contains(field), "{body}: {stderr}");
    }
}
