//! The checkpointer role (`[workload] checkpointers`): workers that only checkpoint, in
//! `checkpoint_mode`, while the others write. Real processes, real SQLite, lockstep.

mod common;

use common::*;
use serde_json::Value;

/// One checkpointer (PASSIVE, back to back) and two writers with SQLite's autocheckpoint off,
/// so every checkpoint is the checkpointer's, and small transactions so the WAL is often
/// fully checkpointed when the next writer begins: the shape of the WAL-reset bug.
const SHAPE: &str = r#"
name = "checkpointer-restarts"
description = "One PASSIVE checkpointer, two writers; the WAL restarts between checkpoints."
seeds = [3]

[sqlite]
journal_mode = "wal"
synchronous = "normal"
wal_autocheckpoint = 0

[workload]
workers = 3
checkpointers = 1
checkpoint_mode = "passive"
ops_per_worker = 40
payload_bytes = [64, 256]

[workload.mix]
create_task = 1
"#;

/// `[busy, log, checkpointed]` of every checkpoint op of worker `w`, in schedule order.
fn checkpoints(run_dir: &str, w: u64) -> Vec<[i64; 3]> {
    let text = std::fs::read_to_string(std::path::Path::new(run_dir).join("records.jsonl"))
        .expect("a kept run has records.jsonl");
    let mut out: Vec<(u64, [i64; 3])> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["worker"] == w && r["kind"] == "checkpoint")
        .map(|r| {
            let c: Vec<i64> = r["checkpoint"]
                .as_array()
                .expect("a checkpoint record carries SQLite's triple")
                .iter()
                .map(|v| v.as_i64().unwrap())
                .collect();
            (r["seq"].as_u64().unwrap(), [c[0], c[1], c[2]])
        })
        .collect();
    out.sort_by_key(|(seq, _)| *seq);
    out.into_iter().map(|(_, c)| c).collect()
}

#[test]
fn a_checkpointer_only_checkpoints_and_the_wal_restarts_under_it() {
    let dir = tempfile::tempdir().unwrap();
    let f = scenario_file(dir.path(), "checkpointer-restarts", SHAPE);
    let r = run(
        dir.path(),
        &[f.to_str().unwrap(), "--mode", "lockstep", "--keep"],
    );
    assert_eq!(r.code, 0, "{}", r.stdout);
    let run_dir = r.s("/run_dir");
    // Worker 0 is the checkpointer: all 40 of its ops are checkpoints, and no writer's are.
    let ckpts = checkpoints(&run_dir, 0);
    assert_eq!(ckpts.len(), 40, "{ckpts:?}");
    assert!(checkpoints(&run_dir, 1).is_empty() && checkpoints(&run_dir, 2).is_empty());
    // A checkpoint copied the whole WAL (log == checkpointed > 0) and the next one saw a
    // shorter WAL: a writer restarted it in between.
    let complete = |c: &[i64; 3]| c[0] == 0 && c[1] > 0 && c[1] == c[2];
    let restarts = ckpts
        .windows(2)
        .filter(|w| complete(&w[0]) && w[1][1] >= 0 && w[1][1] < w[0][1])
        .count();
    assert!(restarts > 0, "the WAL never restarted: {ckpts:?}");
}

#[test]
fn the_role_needs_a_writer_and_is_named_when_refused() {
    let dir = tempfile::tempdir().unwrap();
    let f = scenario_file(
        dir.path(),
        "all-checkpointers",
        &SHAPE.replace("checkpointers = 1", "checkpointers = 3"),
    );
    let (code, _, err) = walburst(dir.path(), "run", &[f.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("workload.checkpointers") && err.contains("0..=2"),
        "{err}"
    );
    // Scaling the workers down below the role is refused the same way.
    let f = scenario_file(dir.path(), "ok", SHAPE);
    let (code, _, err) = walburst(dir.path(), "run", &[f.to_str().unwrap(), "--workers", "1"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("workload.checkpointers"), "{err}");
}

/// A checkpoint kill may now come from the role alone, without checkpoint ops in the mix.
#[test]
fn checkpoint_kills_accept_the_role_as_their_source() {
    let dir = tempfile::tempdir().unwrap();
    let with_kill = SHAPE.replace(
        "[workload.mix]",
        "[faults]\nkill = \"checkpoint\"\nkills = 1\n\n[workload.mix]",
    );
    let f = scenario_file(dir.path(), "role-kill", &with_kill);
    let (code, out, err) = walburst_in(dir.path(), &["plan", f.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    let f = scenario_file(
        dir.path(),
        "no-source",
        &with_kill.replace("checkpointers = 1", "checkpointers = 0"),
    );
    let (code, _, err) = walburst_in(dir.path(), &["plan", f.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("workload.checkpointers"), "{err}");
}
