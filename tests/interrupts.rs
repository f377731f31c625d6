//! One interrupt contract for every long command (issue 20, item 9): SIGINT stops the unit
//! in progress, keeps its evidence, prints the tally and exits 130. An interrupt is never
//! reported as "nondeterministic", "not reproduced", "did not reproduce" or a pass.
//! (`run` and `nightly`: tests/faults.rs and tests/nightly.rs; `compare`, `replay`,
//! `--check-determinism`, `explore`, `shrink` and `sqlite prepare` here.)

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

use common::*;

/// Starts `walburst ARGS` in `dir`, waits for a line of its stdout containing `marker` (the
/// unit is then under way: no fixed sleep racing the machine's load), sends SIGINT, and
/// returns the exit code and everything it printed.
fn interrupt_at(dir: &std::path::Path, args: &[&str], marker: &str) -> (Option<i32>, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 {
            break;
        }
        seen.push_str(&line);
        if line.contains(marker) {
            rustix::process::kill_process(
                rustix::process::Pid::from_child(&child),
                rustix::process::Signal::INT,
            )
            .unwrap();
            break;
        }
    }
    reader.read_to_string(&mut seen).unwrap();
    let status = child.wait().unwrap();
    (status.code(), seen)
}

fn never_concluded(out: &str) {
    for word in [
        "NONDETERMINISTIC",
        "DETERMINISTIC",
        "NOT REPRODUCED",
        "REPRODUCED",
        "did not reproduce",
        "PASS compare",
    ] {
        assert!(
            !out.contains(word),
            "an interrupt concluded {word:?}:\n{out}"
        );
    }
}

const LONG: [&str; 5] = ["kanban-mix", "--workers", "6", "--ops", "400"];

#[test]
fn check_determinism_interrupted_concludes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["run"];
    args.extend(LONG);
    args.push("--check-determinism");
    let (code, out) = interrupt_at(dir.path(), &args, "SEED=");
    assert_eq!(code, Some(130), "{out}");
    assert!(
        out.contains("INTERRUPTED kanban-mix seed=11: the determinism check was stopped"),
        "{out}"
    );
    never_concluded(&out);
}

#[test]
fn compare_interrupted_compares_what_ran_and_exits_130() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["compare"];
    args.extend(LONG);
    let (code, out) = interrupt_at(dir.path(), &args, "SEED=");
    assert_eq!(code, Some(130), "{out}");
    assert!(
        out.contains("INTERRUPTED compare kanban-mix: stopped after 1 runs"),
        "{out}"
    );
    assert!(
        out.contains("compare report: "),
        "the runs done are written: {out}"
    );
    never_concluded(&out);
}

#[test]
fn replay_interrupted_concludes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(
        dir.path(),
        &["kanban-mix", "--workers", "6", "--ops", "30", "--seed", "4"],
    );
    assert_eq!(r.code, 0, "{}", r.stdout);
    // The replay re-runs the recorded run at its own size; make that one long.
    let mut report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&r.report_path).unwrap()).unwrap();
    report["overrides"]["ops"] = serde_json::json!(400);
    report["scenario"]["workload"]["ops_per_worker"] = serde_json::json!(400);
    let long = dir.path().join("long.json");
    std::fs::write(&long, serde_json::to_string(&report).unwrap()).unwrap();
    let (code, out) = interrupt_at(dir.path(), &["replay", long.to_str().unwrap()], "SEED=");
    assert_eq!(code, Some(130), "{out}");
    assert!(
        out.contains("the replay was stopped; nothing is concluded"),
        "{out}"
    );
    never_concluded(&out);
}

#[test]
fn explore_interrupted_counts_the_interrupted_run_as_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out) = interrupt_at(
        dir.path(),
        &["explore", "--budget", "5m", "--seed", "1", "--out", "ex"],
        "SEED=",
    );
    assert_eq!(code, Some(130), "{out}");
    never_concluded(&out);
    assert!(
        out.contains("was interrupted"),
        "the interrupted unit is named: {out}"
    );
}

#[test]
fn shrink_interrupted_while_reproducing_concludes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["shrink"];
    args.extend(LONG);
    args.extend(["--seed", "3", "--reseeds", "3"]);
    let (code, out) = interrupt_at(dir.path(), &args, "SEED=");
    assert_eq!(code, Some(130), "{out}");
    assert!(
        out.contains("INTERRUPTED shrink kanban-mix seed=3: stopped while reproducing the original; nothing is concluded"),
        "{out}"
    );
    // No reseed ran after the interrupt, and the summary of what ran is written.
    assert_eq!(out.matches("SEED=").count(), 1, "{out}");
    assert!(out.contains("summary: "), "{out}");
    never_concluded(&out);
}

/// `sqlite prepare` builds for minutes: an interrupt kills the build's whole process group,
/// leaves nothing half-built in the cache, prints the tally and exits 130. The build is a
/// stand-in `cargo` (a real process that never ends) named by `CARGO`, so the test does
/// not depend on a registry or on how long a real build takes.
#[test]
fn sqlite_prepare_interrupted_kills_the_build_and_leaves_no_half_release() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let pid_file = dir.path().join("build.pid");
    let fake = dir.path().join("cargo");
    std::fs::write(
        &fake,
        format!(
            // Written whole, then renamed: the test waits for the file, and a file seen
            // between its creation and the write would be empty.
            "#!/bin/sh\necho $$ > {tmp}\nmv {tmp} {pid}\nexec sleep 300\n",
            tmp = dir.path().join("build.pid.tmp").display(),
            pid = pid_file.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let mut child = Command::new(BIN)
        .args(["sqlite", "prepare", "3.51.3"])
        .env("WALBURST_SQLITE_CACHE", &cache)
        .env("CARGO", &fake)
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        if err.read_line(&mut line).unwrap() == 0 {
            break;
        }
        seen.push_str(&line);
        // The build is under way once the stand-in has said who it is.
        if line.contains("[1/3") {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
            while !pid_file.exists() && std::time::Instant::now() < deadline {
                std::thread::yield_now();
            }
            rustix::process::kill_process(
                rustix::process::Pid::from_child(&child),
                rustix::process::Signal::INT,
            )
            .unwrap();
            break;
        }
    }
    err.read_to_string(&mut seen).unwrap();
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{out}\n{seen}");
    assert!(
        out.contains(
            "INTERRUPTED sqlite prepare: 0 of 1 releases prepared; SQLite 3.51.3 was stopped"
        ),
        "{out}\n{seen}"
    );
    assert!(seen.contains("was interrupted and killed; log: "), "{seen}");
    // The build process is gone (killed with its group and reaped), not left running.
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let alive = rustix::process::test_kill_process(rustix::process::Pid::from_raw(pid).unwrap());
    assert!(alive.is_err(), "the build {pid} outlived the interrupt");
    // Nothing of the release in the cache: no release directory, no staging; the log stays.
    let left: Vec<String> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("3.51.3"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    assert!(cache.join("logs").join("prepare-3.51.3.log").exists());
}
