//! `walburst run --io-sweep sync`: crash at every sync (issue 23, item 3). Real worker
//! processes, real SQLite, the fault VFS's real power loss at every sync point of a tiny
//! lockstep run, judged by the durability oracle and integrity.

mod common;

use std::path::Path;

use common::*;
use serde_json::Value;

/// A tiny lockstep-able WAL scenario at `synchronous`: 2 workers x 4 writes.
fn scenario(dir: &Path, synchronous: &str) -> String {
    let path = dir.join(format!("tiny-{synchronous}.toml"));
    std::fs::write(
        &path,
        format!(
            r#"name = "tiny-sync-{synchronous}"
seeds = [1]

[sqlite]
journal_mode = "wal"
synchronous = "{synchronous}"
wal_autocheckpoint = 10

[workload]
workers = 2
ops_per_worker = 5
payload_bytes = [64, 500]

[workload.mix]
create_task = 6
add_comment = 2

[expect]
# NORMAL may lose a suffix: the durability oracle judges that, the sweep lists it.
lost_writes = "any"
"#
        ),
    )
    .unwrap();
    path.to_string_lossy().into_owned()
}

/// Runs the sweep; returns (exit code, stdout, the summary).
fn sweep(dir: &Path, file: &str, extra: &[&str]) -> (i32, String, Value) {
    let mut args = vec![file, "--mode", "lockstep", "--io-sweep", "sync"];
    args.extend(extra);
    let (code, stdout, stderr) = walburst(dir, "run", &args);
    let path = stdout
        .lines()
        .find_map(|l| l.strip_prefix("summary: "))
        .unwrap_or_else(|| panic!("no summary line:\n{stdout}\n{stderr}"));
    let summary = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    (code, stdout, summary)
}

fn points(summary: &Value) -> Vec<(String, Value, u64)> {
    summary["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["point"].as_str().unwrap().to_string(),
                p["step"].clone(),
                p["lost"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// FULL syncs the WAL at every commit: power lost right after or right before any sync
/// takes no acknowledged commit, and every point was reached and judged.
#[test]
fn at_full_every_sync_point_is_judged_and_none_loses() {
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(dir.path(), "full");
    let (code, stdout, s) = sweep(dir.path(), &file, &[]);
    assert_eq!(code, 0, "{stdout}");
    let runs = s["runs"].as_u64().unwrap();
    assert!(s["sync_points"].as_u64().unwrap() > 4, "{s}");
    assert_eq!(runs, 2 * s["sync_points"].as_u64().unwrap());
    assert_eq!(s["judged"], runs, "every point fired: {stdout}");
    assert_eq!(s["losing"].as_array().unwrap().len(), 0, "{stdout}");
    assert_eq!(s["exact"], true);
    for p in s["points"].as_array().unwrap() {
        assert!(p["step"].is_u64(), "lockstep names the step: {p}");
        assert!(p["acknowledged"].as_u64().is_some());
    }
    assert!(stdout.contains(" 0 losing, "), "{stdout}");
}

/// NORMAL syncs the WAL only at checkpoints: power right before a checkpoint's WAL sync
/// loses the commits since the last one. The sweep lists those points; one reproduce
/// command, run on its own, loses the same commits at the same step; and a second sweep
/// lists the same points with the same steps and losses.
#[test]
fn at_normal_losing_points_are_listed_reproduced_and_the_same_on_a_repeat() {
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(dir.path(), "normal");
    let (code, stdout, s) = sweep(dir.path(), &file, &[]);
    assert_eq!(code, 0, "{stdout}");
    let losing = s["losing"].as_array().unwrap();
    assert!(
        !losing.is_empty(),
        "NORMAL lost nothing at any sync: {stdout}"
    );
    for p in losing {
        assert!(p["lost"].as_u64().unwrap() > 0, "{p}");
        assert_eq!(p["damaged"], false, "integrity stays ok at NORMAL: {p}");
        let line = format!("losing point {}", p["point"].as_str().unwrap());
        assert!(stdout.contains(&line), "{line} not printed:\n{stdout}");
    }
    // The first losing point's command, as printed (`walburst run FILE --seed 1 --mode
    // lockstep --power-loss-at ...`), run on its own.
    let p = &losing[0];
    let cmd = p["reproduce"].as_str().unwrap();
    let args: Vec<&str> = cmd.split(' ').skip(2).collect();
    assert!(cmd.contains("--power-loss-at"), "{cmd}");
    let again = run(dir.path(), &args);
    assert_eq!(again.u("/io/durability/lost"), p["lost"].as_u64().unwrap());
    assert_eq!(again.report["io"]["fired"][0]["step"], p["step"]);
    assert_eq!(again.report["overrides"]["power_loss_at"], p["point"]);
    // Determinism: the same points, steps and losses.
    let (_, _, s2) = sweep(dir.path(), &file, &[]);
    assert_eq!(points(&s), points(&s2));
}

/// `--budget N` runs N evenly spaced points and says that it cut the sweep.
#[test]
fn a_budget_of_runs_cuts_the_sweep_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(dir.path(), "full");
    let (code, stdout, s) = sweep(dir.path(), &file, &["--budget", "3"]);
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(s["runs"], 3);
    assert!(s["runs_possible"].as_u64().unwrap() > 3);
    assert!(
        s["budget_cut"]
            .as_str()
            .unwrap()
            .contains("budget of 3 runs"),
        "{s}"
    );
    assert!(stdout.contains("(cut: budget of 3 runs"), "{stdout}");
}

/// Bad input is refused before anything runs (exit 2), naming what is allowed.
#[test]
fn bad_sweep_input_is_refused_naming_what_is_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(dir.path(), "full");
    let refused = |args: &[&str], wanted: &str| {
        let (code, stdout, stderr) = walburst(dir.path(), "run", args);
        assert_eq!(code, 2, "{args:?}: {stdout}\n{stderr}");
        assert!(stderr.contains(wanted), "{args:?}: {stderr}");
    };
    refused(
        &["power-loss-full", "--io-sweep", "sync"],
        "already has a power-loss point",
    );
    // The workers' own schema setup (`smoke`: setup = "race") would be lost with the power
    // before any op: no database, which is not damage; refused, for a sweep and a point.
    refused(
        &["smoke", "--io-sweep", "sync"],
        "allowed with --io-sweep: `setup = \"runner\"`",
    );
    refused(
        &["smoke", "--power-loss-at", "w0:wal:1:after"],
        "cannot be combined with `workload.setup = \"race\"`",
    );
    refused(&[&file, "--io-sweep", "sync", "--budget", "0"], "allowed:");
    refused(&[&file, "--io-sweep", "fsync"], "possible values: sync");
    refused(
        &[&file, "--power-loss-at", "w0:wal:0:after"],
        "allowed: w<worker>:<file>:<nth>:<when>",
    );
    refused(
        &[&file, "--power-loss-at", "w5:wal:1:after"],
        "io.points[0].worker",
    );
    // `when = "after"` only where the call is performed and then power is lost or killed.
    let bad = dir.path().join("after-stop.toml");
    std::fs::write(
        &bad,
        "name = \"a\"\n[[io.points]]\nfile = \"wal\"\nop = \"sync\"\nnth = 1\naction = \"stop\"\nwhen = \"after\"\n",
    )
    .unwrap();
    refused(&[bad.to_str().unwrap()], "io.points[0].when");
}
