//! Defaults that users rely on without writing them down.

use walburst::scenario::{ScenarioSource, parse_str};

fn parse(text: &str) -> walburst::scenario::Scenario {
    parse_str(text, &ScenarioSource::Embedded("t".into())).unwrap()
}

#[test]
fn a_mix_table_names_every_op_it_wants() {
    let s = parse("name = \"t\"\n[workload.mix]\nclaim_task = 1\n");
    assert_eq!(s.workload.mix.weights(), [0, 1, 0, 0, 0, 0, 0]);
}

#[test]
fn no_mix_table_means_creates_only() {
    let s = parse("name = \"t\"\n");
    assert_eq!(s.workload.mix.weights(), [1, 0, 0, 0, 0, 0, 0]);
}

#[test]
fn defaults_are_the_field_apps_kanban_profile_with_the_fix() {
    let s = parse("name = \"t\"\n");
    assert_eq!(s.sqlite.busy_timeout_ms, 120_000);
    assert_eq!(s.sqlite.wal_autocheckpoint, 1000);
    assert_eq!(s.sqlite.journal_size_limit, 8_388_608);
    assert!(s.sqlite.secure_delete && s.sqlite.cell_size_check);
    assert_eq!((s.workload.workers, s.workload.ops_per_worker), (20, 220));
}
