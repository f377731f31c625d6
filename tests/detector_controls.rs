//! Negative controls that prove *their* detector fired, for the stated reason: each asserts
//! the failure's category and detector, not merely that the run failed.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// The liveness entries as `category/detector` plus message.
fn liveness(r: &Run) -> Vec<(String, String)> {
    r.report["liveness"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                format!(
                    "{}/{}",
                    v["category"].as_str().unwrap(),
                    v["detector"].as_str().unwrap()
                ),
                v["message"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// A WAL database switched to DELETE after the run: data and integrity intact, only the
/// journal-mode check can see it, and the run is classified real on its evidence.
#[test]
fn journal_mode_drift_fails_on_the_journal_mode_check() {
    let dir = tempfile::tempdir().unwrap();
    let toml = shipped("smoke") + "\n[faults]\nafter_run = \"leave-wal\"\n";
    let path = scenario_file(dir.path(), "leave-wal", &toml);
    let r = run(
        dir.path(),
        &[path.to_str().unwrap(), "--workers", "2", "--ops", "20"],
    );
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert_eq!(r.s("/checks/integrity_check"), "ok");
    assert_eq!(r.s("/checks/journal_mode"), "delete");
    assert_eq!(
        r.failure_signatures(),
        ["journal_mode/journal_mode_check/unexpected"],
        "{:?}",
        r.failures()
    );
    assert_eq!(r.s("/corruption/classification"), "real");
    assert_eq!(
        r.report["corruption"]["evidence"],
        serde_json::json!(["journal_mode"])
    );
}

/// Lockstep's step budget running out is a liveness failure from the runner that names the
/// budget, never a pass.
#[test]
fn the_step_budget_stop_is_a_liveness_failure_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let toml = shipped("smoke") + "\n[lockstep]\nmax_steps = 25\n";
    let path = scenario_file(dir.path(), "budget", &toml);
    let r = run(
        dir.path(),
        &[
            path.to_str().unwrap(),
            "--mode",
            "lockstep",
            "--workers",
            "2",
            "--ops",
            "20",
        ],
    );
    assert_eq!(r.code, 1, "{}", r.stdout);
    let l = liveness(&r);
    assert!(
        l.iter()
            .any(|(sig, m)| sig == "liveness/runner" && m.contains("step budget of 25 exhausted")),
        "{l:?}"
    );
    assert_eq!(r.u("/lockstep/steps"), 25);
}

/// Ops that fail in the workers (BUSY with no busy timeout and no retries) fail the run on
/// `worker_errors`, with the count and the error code. Contention at busy_timeout 0 is not
/// guaranteed on one seed, so up to five seeds are tried; one must show it.
#[test]
fn failed_ops_fail_the_run_on_worker_errors() {
    let dir = tempfile::tempdir().unwrap();
    let toml = set(&shipped("smoke"), "busy_timeout_ms", "0");
    let toml = set(&toml, "retries", "0");
    let path = scenario_file(dir.path(), "no-busy-timeout", &toml);
    for seed in 1..=5 {
        let seed = seed.to_string();
        let r = run(
            dir.path(),
            &[
                path.to_str().unwrap(),
                "--seed",
                &seed,
                "--workers",
                "4",
                "--ops",
                "40",
            ],
        );
        let failed = r.u("/totals/failed");
        if failed == 0 {
            continue;
        }
        assert_eq!(r.code, 1, "{}", r.stdout);
        let f = &r.report["failures"][0];
        assert_eq!(f["category"], "worker_errors", "{:?}", r.failures());
        assert_eq!(f["detector"], "worker_records");
        assert_eq!(f["count"], failed);
        assert!(
            f["message"].as_str().unwrap().contains("SQLITE_BUSY"),
            "{f}"
        );
        return;
    }
    panic!("no op failed on 5 seeds at busy_timeout_ms = 0: the control cannot fire");
}

fn children_of(pid: u32) -> usize {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    dir.flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter(|stat| {
            // Field 4 (after the parenthesised command name) is the parent pid.
            stat.rsplit_once(") ")
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse::<u32>().ok())
                == Some(pid)
        })
        .count()
}

fn find_db_dir(work: &Path) -> Option<PathBuf> {
    for e in std::fs::read_dir(work).ok()?.flatten() {
        let db = e.path().join("db");
        if db.is_dir() {
            return Some(db);
        }
    }
    None
}

/// A `<db>.lock` that appears and disappears mid-run is invisible to the listings at start
/// and end: only the live inotify watch can see it, and the sidecar check must fire on it.
/// The file is created once the workers exist (so the watch is running: it starts before
/// them), and a hung worker keeps the run alive for seconds after that, so the blip always
/// lands inside the run.
#[test]
fn a_sidecar_created_and_removed_mid_run_is_seen_by_the_watch() {
    let dir = tempfile::tempdir().unwrap();
    let toml = shipped("smoke")
        + "\n[faults]\nkill = \"hang\"\nkills = 1\n[limits]\nstall_timeout_secs = 3\nrun_timeout_secs = 60\n";
    let toml = toml.replacen("[limits]\nrun_timeout_secs = 120\n", "", 1);
    let path = scenario_file(dir.path(), "blip", &toml);
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let child = Command::new(BIN)
        .args([
            "run",
            path.to_str().unwrap(),
            "--seed",
            "1",
            "--workers",
            "2",
            "--ops",
            "40",
        ])
        .arg("--out")
        .arg(dir.path().join("reports"))
        .arg("--work-dir")
        .arg(&work)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let db_dir = loop {
        if let Some(d) = find_db_dir(&work).filter(|_| children_of(child.id()) >= 2) {
            break d;
        }
        assert!(Instant::now() < deadline, "the workers never started");
        std::thread::sleep(Duration::from_millis(1));
    };
    let lock = db_dir.join("kanban.db.lock");
    std::fs::write(&lock, b"").unwrap();
    std::fs::remove_file(&lock).unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let report_path = stdout
        .lines()
        .find_map(|l| l.strip_prefix("report: "))
        .unwrap_or_else(|| panic!("no report line:\n{stdout}"));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report_path).unwrap()).unwrap();
    assert!(!lock.exists());
    assert_eq!(report["checks"]["sidecar_seen"], true, "{stdout}");
    let sidecar: Vec<&serde_json::Value> = report["failures"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["category"] == "sidecar")
        .collect();
    assert_eq!(sidecar.len(), 1, "{stdout}");
    assert_eq!(sidecar[0]["detector"], "sidecar_watch");
    assert_eq!(sidecar[0]["kind"], "unexpected");
}

/// `any` is not silence: a count declared `any` that shows leaves a note with the count.
#[test]
fn a_count_declared_any_leaves_a_note_with_its_count() {
    let dir = tempfile::tempdir().unwrap();
    let toml = shipped("legacy-page-count-guard") + "\n[expect]\nfalse_corruption = \"any\"\n";
    let path = scenario_file(dir.path(), "any", &toml);
    let r = run(
        dir.path(),
        &[path.to_str().unwrap(), "--workers", "2", "--ops", "20"],
    );
    assert_eq!(r.code, 0, "{}", r.stdout);
    let n = r.u("/corruption/false");
    assert!(n > 0, "the page-count guard in WAL fires on most commits");
    let want = format!("seen, not judged: {n} false corruption reports");
    assert!(
        r.notes().iter().any(|x| x.starts_with(&want)),
        "{:?}",
        r.notes()
    );
}

/// `--check-determinism` on a database the content hash cannot read in either run (the same
/// seeded garbage page both times, expected: the runs pass): the two runs agree on what both
/// have, the trace, and the line says that the content was not compared and why, rather than
/// calling two identical runs NONDETERMINISTIC (as it did). A content hash missing on one
/// side only, or for different reasons, is still a difference (`determinism`'s unit tests).
#[test]
fn check_determinism_with_the_content_hash_missing_from_both_says_it_judged_the_trace() {
    let dir = tempfile::tempdir().unwrap();
    let toml = shipped("smoke")
        + "\n[faults]\nafter_run = \"garbage-page\"\n[expect]\nintegrity = \"unreadable\"\n";
    let path = scenario_file(dir.path(), "unreadable", &toml);
    let (code, out, _) = walburst(
        dir.path(),
        "run",
        &[
            path.to_str().unwrap(),
            "--workers",
            "2",
            "--ops",
            "10",
            "--check-determinism",
        ],
    );
    assert_eq!(code, 0, "{out}");
    let last = out.lines().last().unwrap();
    assert!(
        last.starts_with("DETERMINISTIC smoke seed=1: 2 runs"),
        "{out}"
    );
    assert!(
        last.contains("content hash unavailable in both runs (database disk image is malformed)"),
        "{last}"
    );
    assert!(!out.contains("content_hash differs"), "{out}");
}
