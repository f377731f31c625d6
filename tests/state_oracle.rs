//! The state oracle (`check::state`): the committed ops replayed in commit order must give
//! exactly the run's database. A clean run matches, kills included (ambiguous ops settled by
//! the events they left); a lost UPDATE on an unindexed column, which no ledger row carries,
//! fails the run as `state`, and only that.

mod common;

use common::*;

#[test]
fn a_clean_run_replays_to_the_same_database() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(dir.path(), &["smoke", "--seed", "3"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(r.report["checks"]["state"]["matches"], true, "{}", r.stdout);
    assert_eq!(r.u("/checks/state/replayed"), r.u("/totals/committed"));
}

#[test]
fn kills_and_ambiguous_commits_replay_too() {
    let dir = tempfile::tempdir().unwrap();
    let text = set(&shipped("kill-mid-transaction"), "seeds", "[2]");
    let path = scenario_file(dir.path(), "kills", &text);
    let r = run(dir.path(), &[path.to_str().unwrap(), "--seed", "2"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(r.report["checks"]["state"]["matches"], true, "{}", r.stdout);
}

#[test]
fn a_lost_update_only_the_state_oracle_sees_fails_as_state() {
    let dir = tempfile::tempdir().unwrap();
    let text = shipped("smoke") + "\n[faults]\nafter_run = \"lose-update\"\n";
    let path = scenario_file(dir.path(), "lost-update", &text);
    let r = run(dir.path(), &[path.to_str().unwrap(), "--seed", "3"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let sigs: Vec<String> = r.report["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| format!("{}/{}", f["category"], f["detector"]))
        .collect();
    assert_eq!(sigs, vec!["\"state\"/\"state_oracle\""], "{}", r.stdout);
    assert_eq!(r.u("/checks/lost_writes"), 0, "the ledger cannot see it");
    let diff = r.s("/checks/state/difference");
    assert!(
        diff.starts_with("table tasks: 1 row(s) only in the run's database"),
        "{diff}"
    );
}
