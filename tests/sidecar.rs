//! `expect.sidecar = "auto"` under a flock strategy requires `<db>.lock` exactly when an op
//! that takes the global write lock under that strategy ran. Regression for `walburst explore
//! --seed 4 --no-hazards` (shrunk to 1 worker x 1 checkpoint op): a run whose ops never take
//! the lock never creates the file and must not fail for it; a run whose writes ran must.

mod common;

use std::path::Path;

use common::*;

/// A flock strategy over one worker whose only op is a checkpoint.
fn checkpoints_only(scope: &str, lock_checkpoints: bool) -> String {
    format!(
        "name = \"flock-checkpoint\"\n[workload]\nworkers = 1\nops_per_worker = 1\n\
         [workload.mix]\ncheckpoint = 1\n[strategy]\nwrite_lock = \"flock\"\n\
         write_lock_scope = {scope:?}\nlock_checkpoints = {lock_checkpoints}\n"
    )
}

fn run_file(dir: &Path, name: &str, toml: &str, extra: &[&str]) -> Run {
    let path = scenario_file(dir, name, toml);
    let mut args = vec![path.to_str().unwrap(), "--seed", "4"];
    args.extend_from_slice(extra);
    run(dir, &args)
}

/// Before the fix: `sidecar/sidecar_watch/missing` in both modes, though no op of the run
/// takes the lock (`lock_checkpoints = false`).
#[test]
fn checkpoints_outside_the_lock_need_no_sidecar() {
    let dir = tempfile::tempdir().unwrap();
    let toml = checkpoints_only("transaction", false);
    for mode in ["free", "lockstep"] {
        let r = run_file(dir.path(), "ckpt", &toml, &["--mode", mode]);
        assert_eq!(r.code, 0, "{mode}: {}", r.stdout);
        assert_eq!(r.report["checks"]["sidecar_seen"], false, "{mode}");
        assert_eq!(r.u("/checks/global_lock_ops"), 0, "{mode}");
        assert!(
            r.notes()
                .iter()
                .any(|n| n.starts_with("sidecar not judged: no op that takes")),
            "{mode}: {:?}",
            r.notes()
        );
    }
}

/// Checkpoints that do take the lock (transaction scope with `lock_checkpoints`, or a
/// connection-scoped lock) count, and show the sidecar.
#[test]
fn checkpoints_under_the_lock_show_the_sidecar() {
    let dir = tempfile::tempdir().unwrap();
    for (scope, lock_checkpoints) in [("transaction", true), ("connection", false)] {
        let toml = checkpoints_only(scope, lock_checkpoints);
        let r = run_file(dir.path(), "ckpt-locked", &toml, &[]);
        assert_eq!(r.code, 0, "{scope}: {}", r.stdout);
        assert_eq!(r.report["checks"]["sidecar_seen"], true, "{scope}");
        assert_eq!(r.u("/checks/global_lock_ops"), 1, "{scope}");
    }
}

/// A write killed mid-transaction never reports, yet it took the lock first: the kill is the
/// evidence, and the sidecar is required (and shows).
#[test]
fn a_write_killed_inside_the_lock_counts_as_holding_it() {
    let dir = tempfile::tempdir().unwrap();
    let toml = "name = \"flock-killed\"\n[workload]\nworkers = 1\nops_per_worker = 1\n\
                [workload.mix]\ncreate_task = 1\n[strategy]\nwrite_lock = \"flock\"\n\
                [faults]\nkill = \"mid-transaction\"\nkills = 1\n";
    let r = run_file(dir.path(), "killed", toml, &[]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(r.u("/totals/ops"), 0);
    assert_eq!(r.u("/checks/global_lock_ops"), 1);
    assert_eq!(r.report["checks"]["sidecar_seen"], true);
}

/// The control the fix must keep: writes committed under a flock strategy whose lock never
/// ran (the fixture app ignores `[strategy]`) still fail `auto`, for exactly that reason.
#[test]
fn a_flock_strategy_whose_lock_never_ran_still_fails_auto() {
    common::jobs::require_python();
    let dir = tempfile::tempdir().unwrap();
    let app = common::jobs::fixture();
    let toml = format!(
        r#"name = "jobs-flock"
[workload]
workers = 2
ops_per_worker = 4
[limits]
start_timeout_secs = 20
stall_timeout_secs = 5
run_timeout_secs = 60
[strategy]
write_lock = "flock"
[worker]
command = ["python3", {:?}, "honest"]
[ledger]
present = "SELECT worker, seq FROM jobs"
[[ledger.rows]]
name = "job rows"
query = "SELECT worker, seq FROM jobs"
kinds = ["create_task"]
"#,
        app.display().to_string()
    );
    let r = run_file(dir.path(), "jobs-flock", &toml, &[]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert_eq!(r.u("/checks/global_lock_ops"), 8);
    assert_eq!(
        r.failure_signatures(),
        ["sidecar/sidecar_watch/missing"],
        "{:?}",
        r.failures()
    );
}
