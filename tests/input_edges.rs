//! Hard edges of input (issue 10, items 12 and 14): every input a run reads, including the
//! scenario a report records, is validated before anything runs; exit 2 names the file and
//! the field, and nothing is written.

mod common;

use std::fs;
use std::path::Path;

use common::walburst_in as walburst;
use serde_json::Value;

/// Every file below `dir`, sorted.
fn listing(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut all = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p.clone());
            }
            all.push(p);
        }
    }
    all.sort();
    all
}

/// Runs `args` in `dir`, expects exit 2 with every needle on stderr and nothing written.
fn expect_rejected(dir: &Path, args: &[&str], needles: &[&str]) {
    let before = listing(dir);
    let (code, stdout, stderr) = walburst(dir, args);
    assert_eq!(
        code, 2,
        "walburst {args:?}: expected exit 2\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stderr.starts_with("error: "), "{stderr}");
    for n in needles {
        assert!(stderr.contains(n), "stderr should mention {n:?}:\n{stderr}");
    }
    assert!(
        !stdout.contains("SEED="),
        "bad input started a run:\n{stdout}"
    );
    assert_eq!(listing(dir), before, "walburst {args:?} wrote something");
}

fn scenario(dir: &Path, name: &str, body: &str) -> String {
    let p = dir.join(format!("{name}.toml"));
    fs::write(&p, body).unwrap();
    p.to_str().unwrap().to_string()
}

const RUN_FLAGS: [&str; 4] = ["--out", "out", "--work-dir", "work"];

fn run_args<'a>(spec: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["run", spec];
    v.extend_from_slice(extra);
    v.extend_from_slice(&RUN_FLAGS);
    v
}

// ---------------------------------------------------------------------------------------
// Item 14: ranges, names, dates.
// ---------------------------------------------------------------------------------------

#[test]
fn a_range_with_three_elements_is_refused_not_cut() {
    let dir = tempfile::tempdir().unwrap();
    for (field, table, value) in [
        ("payload_bytes", "workload", "[1, 2, 3]"),
        ("think_time_us", "workload", "[0]"),
        ("retry_jitter_ms", "strategy", "[1, 2, 3]"),
    ] {
        let p = scenario(
            dir.path(),
            field,
            &if table == "workload" {
                format!(
                    "name = \"r\"\n[workload]\nworkers = 1\nops_per_worker = 1\n{field} = {value}\n"
                )
            } else {
                format!(
                    "name = \"r\"\n[workload]\nworkers = 1\nops_per_worker = 1\n[{table}]\n{field} = {value}\n"
                )
            },
        );
        expect_rejected(
            dir.path(),
            &run_args(&p, &[]),
            &[&p, &format!("{table}.{field}"), "exactly two elements"],
        );
    }
}

#[test]
fn a_name_too_long_for_a_file_name_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let name = "n".repeat(200);
    let p = scenario(
        dir.path(),
        "long",
        &format!("name = \"{name}\"\n[workload]\nworkers = 1\nops_per_worker = 1\n"),
    );
    expect_rejected(
        dir.path(),
        &run_args(&p, &[]),
        &[&p, "field `name`", "200 characters", "at most 120"],
    );
    // `plan` validates the same way.
    expect_rejected(dir.path(), &["plan", &p], &[&p, "field `name`"]);
}

#[test]
fn a_date_that_does_not_exist_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for date in ["2026-02-30", "2025-02-29", "2026-4-15"] {
        expect_rejected(
            dir.path(),
            &run_args("smoke", &["--nightly", "--date", date, "--dry-run"]),
            &[date, "not a calendar date"],
        );
    }
    let (code, stdout, _) = walburst(
        dir.path(),
        &run_args("smoke", &["--nightly", "--date", "2024-02-29", "--dry-run"]),
    );
    assert_eq!(code, 0);
    assert!(stdout.contains("--seed 20240229000"), "{stdout}");
}

#[test]
fn faults_message_names_the_kill_point_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let p = scenario(
        dir.path(),
        "kills",
        "name = \"k\"\n[workload]\nworkers = 1\nops_per_worker = 1\n[faults]\nkills = 2\n",
    );
    expect_rejected(dir.path(), &run_args(&p, &[]), &["kill = \"none\""]);
    let (_, _, stderr) = walburst(dir.path(), &run_args(&p, &[]));
    assert!(!stderr.contains("None"), "Rust debug text: {stderr}");
}

// ---------------------------------------------------------------------------------------
// Item 12: replay validates the scenario a report records.
// ---------------------------------------------------------------------------------------

/// A real report of a tiny run, as JSON.
fn tiny_report(dir: &Path) -> Value {
    let p = scenario(
        dir,
        "tiny",
        "name = \"tiny\"\n[workload]\nworkers = 1\nops_per_worker = 2\n",
    );
    let (code, stdout, stderr) = walburst(dir, &run_args(&p, &["--seed", "3"]));
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let path = stdout
        .lines()
        .find_map(|l| l.strip_prefix("report: "))
        .expect("report line");
    serde_json::from_str(&fs::read_to_string(dir.join(path)).unwrap()).unwrap()
}

#[test]
fn replay_refuses_a_hand_edited_report_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let good = tiny_report(dir.path());
    let cases: [(&str, &str, Value, &str); 4] = [
        (
            "workers0",
            "/scenario/workload/workers",
            0.into(),
            "workload.workers",
        ),
        (
            "ops0",
            "/scenario/workload/ops_per_worker",
            0.into(),
            "workload.ops_per_worker",
        ),
        (
            "page3000",
            "/scenario/sqlite/page_size",
            3000.into(),
            "sqlite.page_size",
        ),
        (
            "huge",
            "/scenario/workload/ops_per_worker",
            1_000_000.into(),
            "exceeds the limit",
        ),
    ];
    for (name, pointer, value, needle) in cases {
        let mut r = good.clone();
        if name == "huge" {
            r["scenario"]["workload"]["workers"] = 512.into();
        }
        if name == "page3000" {
            r["scenario"]["sqlite"]["page_size"] = value;
        } else {
            *r.pointer_mut(pointer).unwrap() = value;
        }
        let path = dir.path().join(format!("{name}.json"));
        fs::write(&path, serde_json::to_vec_pretty(&r).unwrap()).unwrap();
        let p = path.to_str().unwrap();
        let out = dir.path().join(format!("out-{name}"));
        let work = dir.path().join(format!("work-{name}"));
        expect_rejected(
            dir.path(),
            &[
                "replay",
                p,
                "--out",
                out.to_str().unwrap(),
                "--work-dir",
                work.to_str().unwrap(),
            ],
            &[p, "`scenario`", needle],
        );
    }
}
