//! Lockstep: the same seed gives the same interleaving across real processes.

mod common;

use common::*;

const SMALL: [&str; 4] = ["--workers", "8", "--ops", "50"];

fn lockstep(dir: &std::path::Path, scenario: &str, seed: &str, extra: &[&str]) -> Run {
    let mut args = vec![scenario, "--seed", seed, "--mode", "lockstep"];
    args.extend(extra);
    run(dir, &args)
}

/// The bar: 20 consecutive runs of a scaled-down burst with one seed agree on both
/// hashes; other seeds give other traces.
#[test]
fn twenty_lockstep_runs_of_one_seed_are_identical() {
    let dir = tempfile::tempdir().unwrap();
    let first = lockstep(dir.path(), "pr-45525-burst", "7", &SMALL);
    assert_eq!(first.code, 0, "{}", first.stdout);
    assert_eq!(first.s("/mode"), "lockstep");
    let (trace, content) = (first.s("/trace_hash"), first.s("/content_hash"));
    assert!(first.u("/lockstep/steps") > 400 * 5);
    for i in 1..20 {
        let r = lockstep(dir.path(), "pr-45525-burst", "7", &SMALL);
        assert_eq!(r.s("/trace_hash"), trace, "run {i} diverged");
        assert_eq!(r.s("/content_hash"), content, "run {i} diverged");
    }
    for seed in ["8", "9"] {
        let r = lockstep(dir.path(), "pr-45525-burst", seed, &SMALL);
        assert_ne!(r.s("/trace_hash"), trace, "seed {seed} gave seed 7's trace");
    }
}

#[test]
fn pct_scheduler_is_deterministic_and_differs_from_random() {
    let dir = tempfile::tempdir().unwrap();
    let pct = [
        "--workers",
        "6",
        "--ops",
        "30",
        "--scheduler",
        "pct",
        "--pct-depth",
        "3",
    ];
    let a = lockstep(dir.path(), "kanban-mix", "5", &pct);
    let b = lockstep(dir.path(), "kanban-mix", "5", &pct);
    assert_eq!(a.code, 0, "{}", a.stdout);
    assert_eq!(a.s("/trace_hash"), b.s("/trace_hash"));
    assert_eq!(a.s("/content_hash"), b.s("/content_hash"));
    assert_eq!(
        a.s("/reproduce"),
        "walburst run kanban-mix --seed 5 --mode lockstep --workers 6 --ops 30 --scheduler pct --pct-depth 3"
    );
    let random = lockstep(
        dir.path(),
        "kanban-mix",
        "5",
        &["--workers", "6", "--ops", "30"],
    );
    assert_ne!(random.s("/trace_hash"), a.s("/trace_hash"));
}

/// The page-count guard's first false report lands on the same step every time.
#[test]
fn first_false_report_is_at_the_same_step_every_run() {
    let dir = tempfile::tempdir().unwrap();
    let steps: Vec<u64> = (0..3)
        .map(|_| {
            let r = lockstep(dir.path(), "legacy-page-count-guard", "7", &SMALL);
            assert_eq!(r.code, 1);
            assert!(r.u("/corruption/false") > 0);
            assert_eq!(r.u("/corruption/real"), 0);
            r.u("/lockstep/first_guard_report_step")
        })
        .collect();
    assert!(steps.iter().all(|&s| s == steps[0]), "{steps:?}");
}

/// The bare-close probe inside the transaction lets a blocked BEGIN IMMEDIATE in; the
/// coordinator, which knows who holds the write lock, catches it at the same step every run.
#[test]
fn lock_hazard_breach_is_caught_at_the_same_step_every_run() {
    let dir = tempfile::tempdir().unwrap();
    let small = ["--workers", "4", "--ops", "30"];
    let mut first_steps = Vec::new();
    for _ in 0..3 {
        let r = lockstep(dir.path(), "header-probe-lock-hazard", "7", &small);
        assert_eq!(r.code, 1);
        assert!(r.u("/checks/lockstep_breaches") > 0, "{}", r.stdout);
        let breach = r.s("/checks/first_breach");
        assert!(breach.contains("got BEGIN IMMEDIATE while"), "{breach}");
        assert!(
            r.failure_signatures()
                .contains(&"lockstep_breaches/lockstep_coordinator/unexpected".to_string()),
            "{:?}",
            r.failures()
        );
        assert_eq!(r.s("/corruption/classification"), "real");
        first_steps.push(
            r.report["lockstep"]["breaches"][0]["step"]
                .as_u64()
                .unwrap(),
        );
    }
    assert!(
        first_steps.iter().all(|&s| s == first_steps[0]),
        "{first_steps:?}"
    );
}

/// The control: the same probe after COMMIT (one connection per process) breaches nothing.
#[test]
fn probe_after_commit_with_one_connection_breaches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let toml = set(
        &shipped("header-probe-lock-hazard"),
        "guard_at",
        "\"after-commit\"",
    );
    let path = scenario_file(dir.path(), "after", &toml);
    let r = lockstep(
        dir.path(),
        path.to_str().unwrap(),
        "7",
        &["--workers", "4", "--ops", "30"],
    );
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(r.u("/checks/lockstep_breaches"), 0);
}

fn replay(dir: &std::path::Path, report: &std::path::Path) -> (i32, String) {
    let (code, out, _) = walburst(dir, "replay", &[report.to_str().unwrap()]);
    (code, out)
}

#[test]
fn replaying_reports_reproduces_failures_and_passes() {
    let dir = tempfile::tempdir().unwrap();
    // A failing lockstep run keeps its directory, so its trace is replayed step by step.
    let failing = lockstep(
        dir.path(),
        "header-probe-lock-hazard",
        "7",
        &["--workers", "4", "--ops", "30"],
    );
    let (code, out) = replay(dir.path(), &failing.report_path);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("replaying") && out.contains("recorded steps"),
        "{out}"
    );
    assert!(
        out.lines()
            .last()
            .unwrap()
            .starts_with("REPRODUCED header-probe-lock-hazard seed=7 (lockstep): verdict fail"),
        "{out}"
    );

    let passing = lockstep(dir.path(), "smoke", "2", &["--workers", "3", "--ops", "20"]);
    let (code, out) = replay(dir.path(), &passing.report_path);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.lines()
            .last()
            .unwrap()
            .contains("verdict pass, trace and content hashes identical"),
        "{out}"
    );

    // Free mode: the verdict of a deterministic failure comes back.
    let free = run(
        dir.path(),
        &[
            "legacy-page-count-guard",
            "--seed",
            "3",
            "--workers",
            "4",
            "--ops",
            "20",
        ],
    );
    let (code, out) = replay(dir.path(), &free.report_path);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.lines()
            .last()
            .unwrap()
            .starts_with("REPRODUCED legacy-page-count-guard seed=3 (free): verdict fail")
    );
}

/// REPRODUCED means the same failures, not just "failed again": a report whose failure
/// category was edited does not reproduce, and the message says what differs.
#[test]
fn replay_compares_failure_categories_not_just_pass_fail() {
    let dir = tempfile::tempdir().unwrap();
    let free = run(
        dir.path(),
        &[
            "legacy-page-count-guard",
            "--seed",
            "3",
            "--workers",
            "2",
            "--ops",
            "20",
        ],
    );
    assert_eq!(
        free.failure_signatures(),
        ["false_corruption/guard/unexpected"]
    );
    let mut edited = free.report.clone();
    edited["failures"][0]["category"] = "lost_writes".into();
    edited["failures"][0]["detector"] = "ledger".into();
    let path = dir.path().join("edited.json");
    std::fs::write(&path, serde_json::to_vec(&edited).unwrap()).unwrap();
    let (code, out) = replay(dir.path(), &path);
    assert_eq!(code, 1, "{out}");
    let last = out.lines().last().unwrap();
    assert!(
        last.starts_with("NOT REPRODUCED legacy-page-count-guard seed=3 (free): failures differ: recorded run [lost_writes/ledger/unexpected], replay [false_corruption/guard/unexpected] (verdict fail both times)"),
        "{out}"
    );
}

#[test]
fn replaying_garbage_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let bogus = dir.path().join("bogus.json");
    std::fs::write(&bogus, "{\"not\": \"a report\"}").unwrap();
    let o = std::process::Command::new(BIN)
        .arg("replay")
        .arg(&bogus)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a walburst report"));
}

#[test]
fn check_determinism_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, _) = walburst(
        dir.path(),
        "run",
        &[
            "smoke",
            "--workers",
            "3",
            "--ops",
            "20",
            "--check-determinism",
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        out.lines()
            .last()
            .unwrap()
            .starts_with("DETERMINISTIC smoke seed=1: 2 runs"),
        "{out}"
    );
}

/// Both runs damage the database alike (torn-page: seeded garbage on the tasks b-tree's
/// root page after the run), so neither has a content hash: the check compares what both
/// have (the trace, schedule and failures agree) and says the content was not compared,
/// instead of calling two identical runs NONDETERMINISTIC. The runs fail, so exit 1.
#[test]
fn check_determinism_of_a_damaged_database_rests_on_the_trace_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = walburst(
        dir.path(),
        "run",
        &["torn-page", "--seed", "1", "--check-determinism"],
    );
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(!out.contains("NONDETERMINISTIC"), "{out}");
    let last = out.lines().last().unwrap();
    assert!(
        last.starts_with("DETERMINISTIC torn-page seed=1: 2 runs"),
        "{out}"
    );
    assert!(
        last.contains(
            "content hash unavailable in both runs (database disk image is malformed): judged on the trace"
        ),
        "{last}"
    );
    // What the line rests on: two reports, each without a content hash, with one trace.
    let reports: Vec<serde_json::Value> = out
        .lines()
        .filter_map(|l| l.strip_prefix("report: "))
        .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
        .collect();
    assert_eq!(reports.len(), 2, "{out}");
    for r in &reports {
        assert!(r.get("content_hash").is_none(), "{r}");
        assert_eq!(
            r["checks"]["content_hash_error"], "database disk image is malformed",
            "{r}"
        );
    }
    assert!(reports[0]["trace_hash"].is_string());
    assert_eq!(reports[0]["trace_hash"], reports[1]["trace_hash"]);
}

/// A failing free run replays in lockstep at transaction granularity from its recorded
/// commit order: the page-count guard's false reports come back; the lock hazard, whose
/// damage needs another writer inside a transaction, honestly does not.
#[test]
fn free_failures_replay_in_lockstep_by_commit_order() {
    let dir = tempfile::tempdir().unwrap();
    let free = run(
        dir.path(),
        &[
            "legacy-page-count-guard",
            "--seed",
            "4",
            "--workers",
            "4",
            "--ops",
            "25",
        ],
    );
    assert_eq!(free.code, 1);
    let (code, out, _) = walburst(
        dir.path(),
        "replay",
        &["--lockstep", free.report_path.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("replaying the free run's 100 commits in lockstep"),
        "{out}"
    );
    assert!(
        out.lines()
            .last()
            .unwrap()
            .contains("one transaction at a time in commit order"),
        "{out}"
    );

    // Without a kept run directory there is no commit order to follow.
    let passing = run(dir.path(), &["smoke", "--workers", "2", "--ops", "10"]);
    let (code, _, err) = walburst(
        dir.path(),
        "replay",
        &["--lockstep", passing.report_path.to_str().unwrap()],
    );
    assert_eq!(code, 1);
    assert!(err.contains("--keep"), "{err}");
}

/// A checkpoint kill in lockstep lands at a fixed point inside the gated checkpoint step
/// (not on a timer): three runs of one seed agree on both hashes and on where each kill
/// landed.
#[test]
fn checkpoint_kills_in_lockstep_land_at_a_fixed_point() {
    let dir = tempfile::tempdir().unwrap();
    let toml = shipped("kill-mid-transaction")
        .replace("kill = \"mid-transaction\"", "kill = \"checkpoint\"")
        .replace("kills = 6", "kills = 3");
    let path = scenario_file(dir.path(), "checkpoint-kill", &toml);
    let p = path.to_str().unwrap();
    let runs: Vec<Run> = (0..3)
        .map(|_| lockstep(dir.path(), p, "2", &["--workers", "3", "--ops", "30"]))
        .collect();
    let kills = runs[0].report["kills"].as_array().unwrap();
    assert_eq!(kills.len(), 3, "{}", runs[0].stdout);
    assert!(kills.iter().all(|k| k["point"] == "checkpoint"));
    for r in &runs {
        assert_eq!(r.code, 0, "{}", r.stdout);
        assert_eq!(r.s("/trace_hash"), runs[0].s("/trace_hash"));
        assert_eq!(r.s("/content_hash"), runs[0].s("/content_hash"));
        let landed = |r: &Run| -> Vec<String> {
            r.report["kills"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| {
                    format!(
                        "{} {} {} {}",
                        k["worker"], k["actor"], k["seq"], k["skipped"]
                    )
                })
                .collect()
        };
        assert_eq!(landed(r), landed(&runs[0]));
    }
}

/// In lockstep every connection closes as a gated step: each worker's two persistent
/// connections and its idle one (whose close may checkpoint and remove -wal) appear in the
/// trace as `close` steps, never concurrently with another actor's step.
#[test]
fn connections_close_as_gated_steps_in_lockstep() {
    let dir = tempfile::tempdir().unwrap();
    let r = lockstep(
        dir.path(),
        "smoke",
        "3",
        &["--workers", "2", "--ops", "10", "--keep"],
    );
    assert_eq!(r.code, 0, "{}", r.stdout);
    let run_dir = std::path::PathBuf::from(r.s("/run_dir"));
    let trace = std::fs::read_to_string(run_dir.join("trace.jsonl")).unwrap();
    for w in 0..2u64 {
        let closes: Vec<u64> = trace
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|e| e["worker"] == w && e["action"]["kind"] == "close")
            .map(|e| e["actor"].as_u64().unwrap())
            .collect();
        // Actor 0 closes its own connection and the idle one; actor 1 its own.
        let mut sorted = closes.clone();
        sorted.sort();
        assert_eq!(sorted, [0, 0, 1], "worker {w}: {closes:?}");
    }
}
