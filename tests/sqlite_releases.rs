//! Other SQLite releases: `walburst sqlite list/prepare`, `--sqlite`, `[sqlite] version`,
//! `[matrix] sqlite`, the version checks, and the library path of external workers.
//!
//! `prepare_and_run_an_older_release` builds SQLite 3.50.2 and walburst against it (needs
//! the crate registry; about 2 minutes on 2 idle cores the first time, seconds once cached
//! under target/walburst-sqlite/). Set WALBURST_SKIP_PREPARE=1 to skip it locally; `.ci/run`
//! always runs it.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use serde_json::Value;
use walburst::releases::SqliteVersion;
use walburst::releases::worker_env::{LIBRARY_PATH_VAR, check_reported, library_path};

fn python3() -> PathBuf {
    for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
        let p = dir.join("python3");
        if p.is_file() {
            return p;
        }
    }
    panic!("these tests need python3 on PATH (its sqlite3 module links libsqlite3.so.0)");
}

/// What `python3` reports as its SQLite with `LD_LIBRARY_PATH` = `path`, and the variable
/// as the process saw it.
fn python_sqlite(path: &std::ffi::OsStr) -> (String, String) {
    let o = Command::new(python3())
        .args([
            "-c",
            "import os, sqlite3; print(sqlite3.sqlite_version); print(os.environ['LD_LIBRARY_PATH'])",
        ])
        .env(LIBRARY_PATH_VAR, path)
        .output()
        .expect("python3 runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8(o.stdout).unwrap();
    let mut lines = out.lines();
    (
        lines.next().unwrap().to_string(),
        lines.next().unwrap_or("").to_string(),
    )
}

#[test]
fn list_names_every_offered_release_and_the_bundled_one() {
    let o = Command::new(BIN).args(["sqlite", "list"]).output().unwrap();
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    for v in ["3.44.0", "3.50.2", "3.51.1", "3.54.1"] {
        assert!(out.contains(&format!("\n{v} ")), "{out}");
    }
    assert!(out.contains("runs SQLite 3.54.1 (bundled)"), "{out}");
}

#[test]
fn unoffered_releases_are_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // On the command line: clap's usage error, listing what is offered.
    let (code, _, err) = walburst(d, "run", &["smoke", "--sqlite", "3.54.1,3.50.1"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("3.50.1") && err.contains("offered: 3.44.0"),
        "{err}"
    );
    // In a scenario file and in a matrix: the field is named.
    let bad = set(
        &shipped("smoke"),
        "busy_timeout_ms",
        "30000\nversion = \"3.47.0\"",
    );
    let f = scenario_file(d, "bad-version", &bad);
    let (code, _, err) = walburst(d, "run", &[f.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("sqlite.version") && err.contains("allowed: 3.44.0"),
        "{err}"
    );
    let m = scenario_file(
        d,
        "bad-matrix",
        &(shipped("smoke") + "\n[matrix]\nsqlite = [\"3.54.1\", \"3.43.0\"]\n"),
    );
    let (code, _, err) = walburst(d, "run", &[m.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("matrix.sqlite") && err.contains("3.43.0"),
        "{err}"
    );
    assert!(!d.join("reports").exists(), "bad input writes nothing");
}

#[test]
fn a_run_started_for_another_release_refuses() {
    // What a delegated run sees when its binary loaded the wrong library: it must refuse
    // before running anything, naming both releases.
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(BIN)
        .args(["run", "smoke", "--seed", "1", "--out"])
        .arg(dir.path().join("reports"))
        .env(walburst::worker::origin::EXPECT_ENV, "3.50.2")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("SQLite mismatch: the run asked for SQLite 3.50.2, but this process runs SQLite 3.54.1 (bundled)"),
        "{out}"
    );
    assert!(
        !out.contains("SEED="),
        "refused before the run started: {out}"
    );
}

#[test]
fn the_bundled_release_on_the_axis_runs_here_and_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(dir.path(), &["smoke", "--seed", "1", "--sqlite", "3.54.1"]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(r.s("/sqlite_version"), "3.54.1");
    assert_eq!(r.report["sqlite_origin"]["kind"], "bundled");
    assert!(r.s("/sqlite_source_id").len() > 60);
    assert!(
        r.s("/reproduce").ends_with("--sqlite 3.54.1"),
        "{}",
        r.s("/reproduce")
    );
    assert!(r.stdout.contains("side by side (1 runs):"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("  SQLite 3.54.1 (bundled): PASS smoke seed=1"),
        "{}",
        r.stdout
    );
}

/// `walburst compare ... --sqlite V1,V2`: one comparison per release, one verdict line each.
fn compare_on(d: &Path, releases: &str) -> (i32, String, Vec<Value>) {
    let o = Command::new(BIN)
        .args(["compare", "smoke", "--strategies", "wal", "--repeat", "1"])
        .args(["--ops", "20", "--sqlite", releases, "--out"])
        .arg(d.join("cmp"))
        .arg("--work-dir")
        .arg(d.join("work"))
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let reports = out
        .lines()
        .filter_map(|l| l.strip_prefix("compare report: "))
        .map(|p| json(Path::new(p)))
        .collect();
    (o.status.code().unwrap_or(-1), out, reports)
}

#[test]
fn compare_runs_once_per_release() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, reports) = compare_on(dir.path(), "3.54.1");
    assert_eq!(code, 0, "{out}");
    assert_eq!(reports.len(), 1, "{out}");
    assert_eq!(reports[0]["sqlite_version"], "3.54.1");
    assert!(
        out.contains("side by side:\n  SQLite 3.54.1: PASS compare smoke"),
        "{out}"
    );
}

#[test]
fn an_external_worker_gets_the_prepared_directory_first_and_a_mismatch_is_refused() {
    // A directory with no libsqlite3 in it: python3 falls back to the system library, and
    // the version it reports must be refused for a run that asked for 3.50.2.
    let empty = tempfile::tempdir().unwrap();
    let path = library_path(empty.path(), Some("/nonexistent-walburst-lib".into()));
    let (version, seen) = python_sqlite(&path);
    assert_eq!(
        seen,
        format!("{}:/nonexistent-walburst-lib", empty.path().display())
    );
    let asked = SqliteVersion::new(3, 50, 2);
    assert_ne!(
        version, "3.50.2",
        "the system library is not 3.50.2 on this image"
    );
    let e = check_reported(1, asked, &version).unwrap_err();
    assert!(e.to_string().contains("asked for 3.50.2"), "{e}");
}

#[test]
fn the_shipped_demonstration_expects_damage_only_below_3_51() {
    let o = Command::new(BIN)
        .args(["list", "wal-lock-hazard-by-release"])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out}");
    let cases: Vec<&str> = out.lines().filter(|l| l.contains("/sqlite3.")).collect();
    assert_eq!(
        cases.len(),
        walburst::releases::version::RELEASES.len(),
        "{out}"
    );
    for line in cases {
        let v: SqliteVersion = line
            .split_whitespace()
            .next()
            .unwrap()
            .rsplit("/sqlite")
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let damaged = line.contains("worker_errors=some");
        assert_eq!(damaged, v < SqliteVersion::new(3, 51, 0), "{line}");
        if !damaged {
            assert!(line.ends_with("expect: false_corruption=any"), "{line}");
        }
    }
}

#[test]
fn a_prepare_waits_for_the_cache_lock() {
    // Another prepare holds the lock (here: this test); a second one must wait, not build.
    use std::io::{BufRead, BufReader};
    let cache = tempfile::tempdir().unwrap();
    let lock = std::fs::File::create(cache.path().join(".lock")).unwrap();
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive).unwrap();
    let mut child = Command::new(BIN)
        .args(["sqlite", "prepare", "3.50.2"])
        .env(walburst::releases::cache::CACHE_ENV, cache.path())
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let still_running = child.try_wait().unwrap().is_none();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        first.starts_with("waiting for another `walburst sqlite prepare` to finish"),
        "{first}"
    );
    assert!(still_running);
    let built: Vec<_> = std::fs::read_dir(cache.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        built,
        [std::ffi::OsString::from(".lock")],
        "nothing built while locked"
    );
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn side_by_side_report(stdout: &str, label: &str) -> Value {
    let mut lines = stdout
        .lines()
        .skip_while(|l| !l.starts_with("side by side"));
    let mut found = false;
    for l in lines.by_ref() {
        if l.starts_with(&format!("  {label}: ")) {
            found = true;
            break;
        }
    }
    assert!(found, "no side-by-side line for {label}:\n{stdout}");
    let path = lines
        .next()
        .and_then(|l| l.strip_prefix("    report: "))
        .unwrap_or_else(|| panic!("no report path after {label}:\n{stdout}"));
    json(Path::new(path))
}

#[test]
fn prepare_and_run_an_older_release() {
    if std::env::var_os("WALBURST_SKIP_PREPARE").is_some_and(|v| v == "1") {
        eprintln!("skipped: WALBURST_SKIP_PREPARE=1");
        return;
    }
    let o = Command::new(BIN)
        .args(["sqlite", "prepare", "3.50.2"])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let prepared_dir = walburst::releases::cache::version_dir(SqliteVersion::new(3, 50, 2));
    assert!(prepared_dir.join("libsqlite3.so.0").is_file());

    // An external worker (python3's sqlite3 links libsqlite3.so.0) runs the prepared release
    // with its directory first on the library path, and the check accepts it.
    let env = walburst::releases::worker_env::worker_env(SqliteVersion::new(3, 50, 2), &mut |_| {})
        .unwrap();
    let (version, _) = python_sqlite(&env[0].1);
    assert_eq!(version, "3.50.2");
    check_reported(0, SqliteVersion::new(3, 50, 2), &version).unwrap();

    // The hazard, same seed, two releases, one invocation.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (code, stdout, stderr) = walburst(
        d,
        "run",
        &[
            "header-probe-lock-hazard-wal",
            "--seed",
            "7",
            "--sqlite",
            "3.50.2,3.54.1",
        ],
    );
    assert_eq!(code, 1, "3.50.2 must fail\n{stdout}\n{stderr}");
    let old = side_by_side_report(
        &stdout,
        "SQLite 3.50.2 (prepared from libsqlite3-sys 0.35.0)",
    );
    let new = side_by_side_report(&stdout, "SQLite 3.54.1 (bundled)");
    assert_eq!(old["verdict"], "fail", "{stdout}");
    assert_eq!(new["verdict"], "pass", "{stdout}");
    // The hazard shows as ops failing on a database deleted under them, in every measured
    // run; whether integrity_check and the ledger are also destroyed varies between runs.
    let failed_ops = old["failures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["category"] == "worker_errors")
        .and_then(|f| f["message"].as_str())
        .unwrap_or_else(|| panic!("3.50.2 fails by failing ops: {}", old["failures"]));
    assert!(
        ["SQLITE_IOERR_SHORT_READ", "SQLITE_NOTADB", "SQLITE_CORRUPT"]
            .iter()
            .any(|c| failed_ops.contains(c)),
        "{failed_ops}"
    );
    assert_eq!(old["sqlite_version"], "3.50.2");
    assert_eq!(new["sqlite_version"], "3.54.1");
    assert_eq!(old["sqlite_origin"]["kind"], "prepared");
    assert_eq!(old["sqlite_origin"]["libsqlite3_sys"], "0.35.0");
    assert!(
        old["sqlite_source_id"]
            .as_str()
            .unwrap()
            .starts_with("2025-")
    );
    assert_ne!(old["sqlite_source_id"], new["sqlite_source_id"]);
    assert_eq!(
        old["schedule_hash"], new["schedule_hash"],
        "the same schedule"
    );
    assert!(
        old["reproduce"]
            .as_str()
            .unwrap()
            .ends_with("--seed 7 --sqlite 3.50.2"),
        "{}",
        old["reproduce"]
    );

    // compare: the same comparison on both releases, each recorded with its own.
    let (code, out, reports) = compare_on(d, "3.50.2,3.54.1");
    assert_eq!(code, 0, "{out}");
    let versions: Vec<&Value> = reports.iter().map(|r| &r["sqlite_version"]).collect();
    assert_eq!(versions, ["3.50.2", "3.54.1"], "{out}");
    let run = json(Path::new(reports[0]["runs"][0]["report"].as_str().unwrap()));
    assert_eq!(run["sqlite_version"], "3.50.2");
    assert_eq!(run["sqlite_origin"]["kind"], "prepared");
    // A run on another release hands back everything (its records draw the latency CDF)
    // and names no scratch report that is deleted a moment later.
    assert!(!out.contains("walburst-sqlite-handback"), "{out}");
    for dir in out
        .lines()
        .filter_map(|l| l.strip_prefix("compare report: "))
        .map(|p| Path::new(p).parent().unwrap().to_path_buf())
    {
        let cdf = std::fs::read_to_string(dir.join("compare-cdf.svg")).unwrap();
        assert!(
            cdf.contains("wal: n="),
            "no commits drawn in {}",
            dir.display()
        );
    }

    // A worker executable of another release is refused by name.
    let prepared = prepared_dir.join("walburst");
    let (code, stdout, _) = walburst(
        d,
        "run",
        &[
            "smoke",
            "--seed",
            "1",
            "--worker-exe",
            prepared.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("SQLite mismatch: the runner runs SQLite 3.54.1, this worker runs SQLite 3.50.2 (prepared from libsqlite3-sys 0.35.0)"),
        "{stdout}"
    );

    // The application under test on the prepared release: the Python example worker gets
    // 3.50.2's directory first on its library path and reports that release.
    let kanban_worker =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("adapters/python/kanban_worker.py");
    let py_toml = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/python-pr-45525-burst.toml"),
    )
    .unwrap()
    .replace(
        "\"{scenario_dir}/../adapters/python/kanban_worker.py\"",
        &format!("{:?}", kanban_worker.to_str().unwrap()),
    );
    let py = scenario_file(d, "py-on-release", &py_toml);
    let (code, stdout, stderr) = walburst(
        d,
        "run",
        &[
            py.to_str().unwrap(),
            "--workers",
            "2",
            "--ops",
            "10",
            "--sqlite",
            "3.50.2",
        ],
    );
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let r = side_by_side_report(
        &stdout,
        "SQLite 3.50.2 (prepared from libsqlite3-sys 0.35.0)",
    );
    for w in r["workers"].as_array().unwrap() {
        assert_eq!(w["language"], "python", "{w}");
        assert_eq!(w["sqlite_version"], "3.50.2", "{w}");
    }
    // A worker that resets its library path loads the system's SQLite: refused by name.
    let reset = scenario_file(
        d,
        "py-reset",
        &py_toml.replace(
            "command = [\"python3\",",
            "command = [\"env\", \"-u\", \"LD_LIBRARY_PATH\", \"python3\",",
        ),
    );
    let (code, stdout, _) = walburst(
        d,
        "run",
        &[
            reset.to_str().unwrap(),
            "--workers",
            "2",
            "--ops",
            "10",
            "--sqlite",
            "3.50.2",
        ],
    );
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("SQLite mismatch: the worker runs SQLite")
            && stdout.contains("the run asked for 3.50.2"),
        "{stdout}"
    );

    // A [matrix] sqlite axis shards and merges like any other axis.
    let m = scenario_file(
        d,
        "by-release",
        &(shipped("smoke").replace("name = \"smoke\"", "name = \"by-release\"")
            + "\n[matrix]\nsqlite = [\"3.50.2\", \"3.54.1\"]\n"),
    );
    let mut shards = Vec::new();
    for shard in ["1/2", "2/2"] {
        let out = d.join(format!("shard-{}", &shard[..1]));
        let o = Command::new(BIN)
            .args([
                "run",
                m.to_str().unwrap(),
                "--seeds",
                "1",
                "--base-seed",
                "5",
            ])
            .args(["--shard", shard, "--out"])
            .arg(&out)
            .arg("--work-dir")
            .arg(d.join("work"))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
        shards.push(out);
    }
    let o = Command::new(BIN)
        .arg("merge")
        .args(&shards)
        .arg("--out")
        .arg(d.join("merged"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    let merged = json(&d.join("merged/merged-summary.json"));
    let mut seen: Vec<(String, String)> = merged["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let report = json(Path::new(e["result"]["report"].as_str().unwrap()));
            (
                e["pair"]["case"].as_str().unwrap().to_string(),
                report["sqlite_version"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            ("by-release/sqlite3.50.2".to_string(), "3.50.2".to_string()),
            ("by-release/sqlite3.54.1".to_string(), "3.54.1".to_string()),
        ]
    );
}
