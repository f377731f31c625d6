//! Signals and orphans (issue 10, item 16): SIGTERM sent to a sweep's pid alone stops its
//! running pair at once (recorded interrupted, never PASS), and workers die with their
//! runner: after a SIGKILL of the runner no worker keeps running.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::BIN;

/// A worker executable that records its pid in `dir/pids/`, waits until `gate` exists (at
/// most 60 s; `None`: no wait) and then becomes the real walburst worker (same pid).
fn recording_worker(dir: &Path, gate: Option<&Path>) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let pids = dir.join("pids");
    fs::create_dir_all(&pids).unwrap();
    let wait = match gate {
        Some(g) => format!(
            "i=0\nwhile [ ! -e '{}' ]; do i=$((i+1)); [ $i -gt 6000 ] && exit 99; sleep 0.01; done\n",
            g.display()
        ),
        None => String::new(),
    };
    let script = dir.join("worker.sh");
    fs::write(
        &script,
        format!(
            "#!/bin/sh\necho $$ > '{}/'$$\n{wait}exec '{BIN}' \"$@\"\n",
            pids.display()
        ),
    )
    .unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    script
}

/// The pids recorded by [`recording_worker`] so far.
fn recorded_pids(dir: &Path) -> Vec<i32> {
    fs::read_dir(dir.join("pids"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

/// Whether `pid` is a live process (a zombie waiting for a reaper is not).
fn alive(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat.rsplit(')').next().unwrap_or("").trim_start();
            !state.starts_with('Z') && !state.starts_with('X')
        }
        Err(_) => false,
    }
}

/// Waits until `cond` holds, or panics after `secs`.
fn wait_for(what: &str, secs: u64, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Kills whatever a failed test left behind (only the pids this test recorded).
struct Cleanup(PathBuf, Option<Child>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(c) = self.1.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if self.0.join("pids").exists() {
            for pid in recorded_pids(&self.0) {
                if alive(pid) {
                    let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
                }
            }
        }
    }
}

fn scenario(dir: &Path, body: &str) -> String {
    let p = dir.join("s.toml");
    fs::write(&p, body).unwrap();
    p.to_str().unwrap().to_string()
}

fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig} {pid}");
}

#[test]
fn sigterm_to_the_sweep_alone_stops_its_running_pair_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p = scenario(
        d,
        "name = \"s\"\n[workload]\nworkers = 2\nops_per_worker = 3\n",
    );
    // The gate never opens: the pair's workers wait (up to 60 s) and the pair with them.
    let worker = recording_worker(d, Some(&d.join("never")));
    let child = Command::new(BIN)
        .args([
            "run",
            &p,
            "--seeds",
            "2",
            "--no-regressions",
            "--out",
            "out",
        ])
        .args(["--work-dir", "work", "--worker-exe"])
        .arg(&worker)
        .current_dir(d)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut guard = Cleanup(d.to_path_buf(), Some(child));
    // Both workers of the first pair started: its run (and its SIGTERM handler) is live.
    wait_for("the first pair's workers", 60, || {
        recorded_pids(d).len() >= 2
    });
    let sweep = guard.1.as_mut().unwrap();
    let t0 = Instant::now();
    signal(sweep.id(), "-TERM");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(st) = sweep.try_wait().unwrap() {
            break st;
        }
        assert!(
            Instant::now() < deadline,
            "the sweep did not stop within 30 s of SIGTERM (its pair ran on)"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(130), "exit 130 (interrupted)");
    assert!(t0.elapsed() < Duration::from_secs(30));
    let summary: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(d.join("out/sweep-summary.json")).unwrap())
            .unwrap();
    let results = summary["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    let first = &results[0]["result"];
    assert_eq!(first["status"], "error", "{first}");
    assert!(
        first["reasons"][0]
            .as_str()
            .unwrap()
            .contains("interrupted"),
        "{first}"
    );
    assert_eq!(results[1]["result"]["status"], "not-run");
    for pid in recorded_pids(d) {
        assert!(!alive(pid), "worker {pid} outlived its stopped pair");
    }
}

#[test]
fn workers_die_with_a_runner_killed_by_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // One worker whose first op comes soon and whose second op waits several seconds: the
    // runner is killed during that wait. A worker that only noticed its runner's death
    // when its next record hit a broken pipe would wake up, write op 1 into the database,
    // and only then die.
    let p = scenario(
        d,
        "name = \"long\"\n[sqlite]\nsynchronous = \"off\"\n\
         [workload]\nworkers = 1\nops_per_worker = 3\nthink_time_us = [0, 10000000]\n",
    );
    let seed = "16";
    let plan = Command::new(BIN)
        .args(["plan", &p, "--seed", seed, "--compact"])
        .output()
        .unwrap();
    let plan: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap();
    let think = |i: usize| plan["workers"][0]["ops"][i]["think_us"].as_u64().unwrap();
    assert!(
        think(0) < 2_000_000 && think(1) > 6_000_000,
        "seed {seed} no longer gives a short first and a long second pause ({} us, {} us): pick another seed",
        think(0),
        think(1)
    );
    let worker = recording_worker(d, None);
    let child = Command::new(BIN)
        .args([
            "run",
            &p,
            "--seed",
            seed,
            "--out",
            "out",
            "--work-dir",
            "work",
        ])
        .arg("--worker-exe")
        .arg(&worker)
        .current_dir(d)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut guard = Cleanup(d.to_path_buf(), Some(child));
    wait_for("the worker to start", 60, || !recorded_pids(d).is_empty());
    let pids = recorded_pids(d);
    let wal = || {
        fs::read_dir(d.join("work"))
            .ok()?
            .filter_map(|e| e.ok())
            .map(|e| e.path().join("db/kanban.db-wal"))
            .find(|p| p.exists())
    };
    // Op 0 committed (the schema was checkpointed away, so -wal grows only now).
    wait_for("the first commit", 60, || {
        wal()
            .and_then(|p| fs::metadata(p).ok())
            .is_some_and(|m| m.len() > 0)
    });
    // Let the worker's record-flush timer (every 200 ms) hand op 0's record to the runner, so
    // that a broken pipe on a pending record cannot be what ends the worker. This pause
    // decides only whether the old behaviour (no parent-death signal) would be caught; it
    // cannot make the test fail: the worker is asleep for several more seconds either way.
    std::thread::sleep(Duration::from_millis(600));
    let wal_len = fs::metadata(wal().unwrap()).unwrap().len();
    let runner = guard.1.as_mut().unwrap();
    signal(runner.id(), "-KILL");
    let _ = runner.wait();
    wait_for("the worker to die with its runner", 3, || {
        pids.iter().all(|&pid| !alive(pid))
    });
    assert_eq!(
        fs::metadata(wal().unwrap()).unwrap().len(),
        wal_len,
        "nothing was written after the runner died"
    );
}
