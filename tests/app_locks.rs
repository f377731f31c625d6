//! An app's own locks cannot deadlock lockstep (issue 20, item 6). The app
//! (`tests/fixtures/app_locks_app.py`, Python adapter, two actors per process) holds a
//! module-level `threading.Lock` while it opens and sets up a connection, and an `RLock`
//! (re-entered) across each write transaction, so one actor waits for a lock another holds
//! across SQL. Tracked (`walburst_worker.track_locks`) every acquire is an `app_lock` step:
//! it passes in free mode and in lockstep, deterministically. Untracked, the waiter blocks
//! outside any step: lockstep must stop at its park deadline with that reason named.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::jobs::{reasons, require_python};
use common::*;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/app_locks_app.py")
}

/// 3 workers x 2 actors x 10 ops of the app in `mode`, with a short park deadline.
fn scenario(dir: &Path, mode: &str) -> PathBuf {
    let command = fixture().display().to_string();
    let toml = format!(
        r#"name = "app-locks-{mode}"
[workload]
workers = 3
ops_per_worker = 10
connections_per_worker = 2
[limits]
start_timeout_secs = 20
stall_timeout_secs = 10
run_timeout_secs = 120
[lockstep]
step_timeout_secs = 2
[worker]
command = ["python3", {command:?}, {mode:?}]
[ledger]
present = "SELECT worker, seq FROM jobs"
"#
    );
    scenario_file(dir, mode, &toml)
}

/// The 1-based line of the fixture that starts with `start`.
fn line_of(start: &str) -> usize {
    let text = std::fs::read_to_string(fixture()).unwrap();
    1 + text.lines().position(|l| l.starts_with(start)).unwrap()
}

/// Runs the app with its locks tracked (`app`: `tracked` by `track_locks`, `new` by
/// `track_new_locks`) in `mode` over `seeds`: each run passes, every write committed. In
/// lockstep the locks were steps (both appear in the trace) and the schedule kept them.
/// (Attempts turned away are rare: the adapter says which app locks an actor holds as it
/// parks, and the coordinator does not offer their waiters: `lockstep_model`.)
fn passes(app: &str, mode: &str, seeds: std::ops::Range<u32>) {
    require_python();
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(dir.path(), app);
    // Steps of other actors of a process while one of its actors held the write lock.
    let mut overlapping = 0;
    for seed in seeds {
        let s = seed.to_string();
        let r = run(
            dir.path(),
            &[
                path.to_str().unwrap(),
                "--seed",
                &s,
                "--mode",
                mode,
                "--keep",
            ],
        );
        assert_eq!(
            r.code, 0,
            "{mode}, seed {seed} must pass:\n{}{}",
            r.stdout, r.stderr
        );
        assert_eq!(r.u("/totals/committed"), 30, "{mode} seed {seed}");
        assert_eq!(r.u("/checks/phantom_writes"), 0);
        assert_eq!(r.u("/checks/lockstep_breaches"), 0);
        if mode != "lockstep" {
            continue;
        }
        let trace =
            std::fs::read_to_string(Path::new(&r.s("/run_dir")).join("trace.jsonl")).unwrap();
        let locks = match app {
            "tracked" => ["OPEN_LOCK", "WRITE_LOCK"].map(|l| format!("__main__.{l}")),
            // Named by the fixture's lines that create them.
            _ => ["OPEN_LOCK = ", "WRITE_LOCK = "].map(|l| format!("__main__:{}", line_of(l))),
        };
        for lock in &locks {
            let step = format!(r#"{{"kind":"app_lock","lock":"{lock}"}}"#);
            assert!(trace.contains(&step), "seed {seed}: no {step} in\n{trace}");
        }
        // The schedule kept the app's own lock: an actor's write transaction (from taking
        // the write lock to its COMMIT) never overlaps another actor of its process taking
        // it; and it mattered: other actors of that process ran while it was held.
        let write_lock = serde_json::json!({"kind": "app_lock", "lock": locks[1]});
        let mut held: BTreeMap<u64, u64> = BTreeMap::new();
        for line in trace.lines() {
            let e: serde_json::Value = serde_json::from_str(line).unwrap();
            let (w, a) = (e["worker"].as_u64().unwrap(), e["actor"].as_u64().unwrap());
            let ok = e["result"]["kind"] == "ok";
            let holder = held.get(&w).copied();
            if holder.is_some_and(|h| h != a) {
                overlapping += 1;
            }
            if ok && e["action"] == write_lock {
                assert_eq!(
                    holder, None,
                    "seed {seed}: {line} while actor {holder:?} held it"
                );
                held.insert(w, a);
            } else if ok && e["action"]["kind"] == "commit" && holder == Some(a) {
                held.remove(&w);
            }
        }
    }
    assert!(
        mode != "lockstep" || overlapping > 0,
        "no actor ever ran while another of its process held the write lock"
    );
}

#[test]
fn an_app_holding_its_own_locks_across_sql_passes_free_and_lockstep() {
    passes("tracked", "free", 1..11);
    passes("tracked", "lockstep", 1..11);
}

/// The same app with its locks tracked as they are created (`track_new_locks`).
#[test]
fn locks_tracked_at_creation_pass_lockstep_too() {
    passes("new", "lockstep", 1..4);
}

/// The same seed twice in lockstep: the same trace and content.
#[test]
fn an_app_holding_its_own_locks_is_deterministic_in_lockstep() {
    require_python();
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(dir.path(), "tracked");
    for seed in 1..11 {
        let s = seed.to_string();
        let (code, out, err) = walburst(
            dir.path(),
            "run",
            &[path.to_str().unwrap(), "--seed", &s, "--check-determinism"],
        );
        assert_eq!(code, 0, "seed {seed}: {out}{err}");
        assert!(
            out.lines().any(|l| l.starts_with("DETERMINISTIC ")),
            "seed {seed}: {out}"
        );
    }
}

/// Untracked, the waiting actor never parks: the run fails at its park deadline (2 s, not
/// the 120 s run deadline), naming the actors that asked for no step, the parked actor
/// of the same process, and the remedy; the worker's stderr (in the report) says which line
/// the actor waits on.
#[test]
fn an_untracked_app_lock_fails_lockstep_by_name_not_by_hanging() {
    require_python();
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(dir.path(), "untracked");
    let r = run(
        dir.path(),
        &[path.to_str().unwrap(), "--seed", "1", "--mode", "lockstep"],
    );
    assert_ne!(r.code, 0, "{}", r.stdout);
    let why = reasons(&r);
    assert!(
        why.contains("lockstep stopped: workers did not park for step 0 within 2 s")
            && why.contains("actor 1 (no step yet)")
            && why.contains("actor 0 is parked before open")
            && why.contains("walburst_worker.track_locks"),
        "{why}"
    );
    assert!(!why.contains("run deadline"), "{why}");
    // The same app passes in free mode: only lockstep needs its locks to be steps.
    let free = run(
        dir.path(),
        &[path.to_str().unwrap(), "--seed", "1", "--mode", "free"],
    );
    assert_eq!(free.code, 0, "{}{}", free.stdout, free.stderr);
}
