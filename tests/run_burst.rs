//! End-to-end runs of the shipped scenarios with real worker processes on real files.

mod common;

use common::*;

/// The field's smoke test at its real settings: 20 processes x 220 creates, WAL,
/// synchronous=FULL, autocheckpoint 1000, wal-aware guard, no global lock.
#[test]
fn pr_45525_burst_commits_every_write_at_real_settings() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(dir.path(), &["pr-45525-burst", "--seed", "7"]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(r.passed());
    assert_eq!(r.u("/totals/committed"), 4400);
    assert_eq!(r.u("/totals/planned"), 4400);
    assert_eq!(r.u("/totals/failed"), 0);
    assert_eq!(r.s("/checks/integrity_check"), "ok");
    assert_eq!(r.s("/checks/quick_check"), "ok");
    assert_eq!(r.u("/checks/lost_writes"), 0);
    assert_eq!(r.u("/checks/lock_overlaps"), 0);
    assert_eq!(r.u("/corruption/reports"), 0);
    assert_eq!(r.report["checks"]["sidecar_seen"], false);
    assert_eq!(r.report["checks"]["final_length_ok"], true);
    assert_eq!(r.report["per_worker"].as_array().unwrap().len(), 20);

    // Every key the report format promises.
    for key in [
        "schema_version",
        "walburst_version",
        "sqlite_version",
        "scenario",
        "seed",
        "mode",
        "schedule_hash",
        "started_at",
        "wall_secs",
        "totals",
        "latency_ms",
        "per_worker",
        "checks",
        "verdict",
        "failures",
        "reproduce",
    ] {
        assert!(r.report.get(key).is_some(), "report lacks `{key}`");
    }
    for key in [
        "ops",
        "committed",
        "rolled_back",
        "failed",
        "ambiguous",
        "busy_retries",
        "commits_per_sec",
    ] {
        assert!(
            r.report["totals"].get(key).is_some(),
            "totals lacks `{key}`"
        );
    }
    for key in ["p50", "p95", "p99", "max"] {
        assert!(
            r.report["latency_ms"][key].as_f64().unwrap() > 0.0,
            "latency_ms.{key}"
        );
    }
    assert_eq!(r.s("/scenario/name"), "pr-45525-burst");
    assert_eq!(r.s("/mode"), "free");
    assert_eq!(r.u("/seed"), 7);
    assert!(r.s("/sqlite_version").starts_with("3."));
    assert!(r.s("/schedule_hash").starts_with("sha256:"));
    assert_eq!(r.s("/reproduce"), "walburst run pr-45525-burst --seed 7");

    // The seed line comes first, the verdict with commits/s last.
    let first = r.stdout.lines().next().unwrap();
    assert!(
        first.starts_with(
            "SEED=7 scenario=pr-45525-burst mode=free journal_mode=wal synchronous=full"
        ),
        "{first}"
    );
    let last = r.stdout.lines().last().unwrap();
    assert!(
        last.starts_with("PASS pr-45525-burst seed=7: 4400/4400 committed"),
        "{last}"
    );
    assert!(last.contains("commits/s"));
    // A passing run cleans up after itself.
    assert_eq!(
        std::fs::read_dir(dir.path().join("work")).unwrap().count(),
        0
    );
}

/// The schedule hash in a report is the one `walburst plan` prints for the same seed.
#[test]
fn report_schedule_hash_matches_plan() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(
        dir.path(),
        &["smoke", "--seed", "5", "--workers", "2", "--ops", "10"],
    );
    let plan = std::process::Command::new(BIN)
        .args([
            "plan",
            "smoke",
            "--seed",
            "5",
            "--workers",
            "2",
            "--ops",
            "10",
            "--compact",
        ])
        .output()
        .unwrap();
    let plan: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap();
    assert_eq!(r.report["schedule_hash"], plan["schedule_hash"]);
    // Overrides are recorded and reproduced.
    assert_eq!(r.u("/overrides/workers"), 2);
    assert_eq!(r.u("/scenario/workload/ops_per_worker"), 10);
    assert_eq!(
        r.s("/reproduce"),
        "walburst run smoke --seed 5 --workers 2 --ops 10"
    );
}

#[test]
fn global_lock_shows_its_sidecar_and_stays_correct() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(
        dir.path(),
        &[
            "global-lock",
            "--seed",
            "3",
            "--workers",
            "6",
            "--ops",
            "60",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(r.report["checks"]["sidecar_seen"], true);
    assert!(
        r.report["checks"]["files_seen"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "kanban.db.lock")
    );
    assert_eq!(r.u("/totals/committed"), 360);
    assert_eq!(r.u("/checks/lock_overlaps"), 0);
}

/// Positive control for the sidecar watch: a strategy that takes no global lock must fail
/// when `<db>.lock` appears anyway (here: a scenario that forbids what it creates).
#[test]
fn forbidden_sidecar_fails_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let toml = shipped("global-lock") + "\n[expect]\nsidecar = \"forbidden\"\n";
    let path = scenario_file(dir.path(), "forbid", &toml);
    let r = run(
        dir.path(),
        &[path.to_str().unwrap(), "--workers", "3", "--ops", "20"],
    );
    assert_eq!(r.code, 1);
    assert!(
        r.failures()
            .iter()
            .any(|f| f.contains("sidecar <db>.lock appeared")),
        "{:?}",
        r.failures()
    );
}

#[test]
fn delete_journal_burst_is_correct_with_zero_guard_reports() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(
        dir.path(),
        &[
            "delete-journal",
            "--seed",
            "2",
            "--workers",
            "6",
            "--ops",
            "50",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(r.u("/totals/committed"), 300);
    assert_eq!(r.u("/corruption/reports"), 0);
    assert_eq!(r.s("/checks/journal_mode"), "delete");
}

/// Every op kind, per-op connections, workers racing on first connect.
#[test]
fn kanban_mix_runs_every_op_kind_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(
        dir.path(),
        &["kanban-mix", "--seed", "4", "--workers", "6", "--ops", "80"],
    );
    assert_eq!(r.code, 0, "{}", r.stdout);
    let committed = r.u("/totals/committed");
    let rolled_back = r.u("/totals/rolled_back");
    let done = r.u("/totals/done");
    assert_eq!(
        committed + rolled_back + done,
        480,
        "every op has an outcome"
    );
    assert!(committed > 300);
    assert_eq!(
        r.u("/checks/lost_writes") + r.u("/checks/phantom_writes"),
        0
    );
}

#[test]
fn smoke_passes_and_keep_leaves_the_run_directory() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(dir.path(), &["smoke", "--keep"]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let run_dir = std::path::PathBuf::from(r.s("/run_dir"));
    for f in [
        "run.json",
        "report.json",
        "records.jsonl",
        "db/kanban.db",
        "worker-0.stderr",
    ] {
        assert!(run_dir.join(f).exists(), "{f} missing in kept run dir");
    }
    let records = std::fs::read_to_string(run_dir.join("records.jsonl")).unwrap();
    assert_eq!(records.lines().count() as u64, r.u("/totals/ops"));
}

#[test]
fn several_seeds_end_with_a_pass_fail_count() {
    let dir = tempfile::tempdir().unwrap();
    let toml = set(&shipped("smoke"), "seeds", "[1, 2]");
    let path = scenario_file(dir.path(), "two", &toml);
    let (code, stdout, _) = walburst(
        dir.path(),
        "run",
        &[
            path.to_str().unwrap(),
            "--workers",
            "2",
            "--ops",
            "10",
            "--quiet",
        ],
    );
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(stdout.lines().filter(|l| l.starts_with("SEED=")).count(), 2);
    assert_eq!(stdout.lines().last(), Some("2 passed, 0 failed"));
    // Two reports, each with its page.
    let names: Vec<String> = std::fs::read_dir(dir.path().join("reports"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.iter().filter(|n| n.ends_with(".json")).count(), 2);
    assert_eq!(names.iter().filter(|n| n.ends_with(".html")).count(), 2);
    assert_eq!(names.len(), 4, "{names:?}");
}
