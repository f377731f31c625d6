//! Issue 24 item 5: a stale read forced through the fault VFS (`[io.stale_read]`: one worker's
//! read-only list-append transactions read through a wal-index frozen at their first read),
//! caught by the isolation checker's real-time edges; the database itself unharmed, and the
//! same routing without the freeze passing.

mod common;

use common::*;
use serde_json::Value;
use walburst::plan::list_append::{self, ListMop};
use walburst::scenario::{ScenarioSource, StaleTarget, parse_str};

const SCENARIO: &str = "list-append-stale-read";

/// Which worker reads stale in `seed`, and from which seq, as the workers resolve it.
fn target(seed: u64) -> StaleTarget {
    let s = parse_str(
        &shipped(SCENARIO),
        &ScenarioSource::Embedded(SCENARIO.into()),
    )
    .unwrap();
    let st = s.io.stale_read.expect("the scenario has [io.stale_read]");
    list_append::stale_target(&st, seed, s.workload.workers)
}

/// Whether the op a report names (`worker W actor A seq S`) read through the frozen
/// connection: the target worker's read-only transaction at or after its seq.
fn stale_op(seed: u64, t: StaleTarget, op: &str) -> bool {
    let words: Vec<&str> = op.split(' ').collect();
    let (worker, seq): (u32, u32) = (words[1].parse().unwrap(), words[5].parse().unwrap());
    worker == t.worker
        && seq >= t.from_seq
        && list_append::txn(seed, worker, seq)
            .iter()
            .all(|m| matches!(m, ListMop::Read { .. }))
}

/// Every reported anomaly is a real-time one whose cycle holds an `rt` edge and an `rw` edge
/// out of a stale read (the frozen reader missed an append acknowledged before it began).
fn assert_caught_for_the_stale_read(r: &Run, seed: u64) {
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert_eq!(
        r.failure_signatures(),
        ["isolation/isolation_checker/unexpected"],
        "{:?}",
        r.failures()
    );
    // The database was not harmed: the failure is the read's.
    assert_eq!(r.s("/checks/integrity_check"), "ok");
    assert_eq!(r.u("/checks/lost_writes"), 0);
    assert_eq!(r.u("/checks/isolation/outcomes/ok"), 400);
    let t = target(seed);
    let applied = format!("io.stale_read: worker {} ran ", t.worker);
    assert!(
        r.notes()
            .iter()
            .any(|n| n.starts_with(&applied) && n.contains("a wal-index frozen")),
        "{:?}",
        r.notes()
    );
    let iso = &r.report["checks"]["isolation"];
    let anomalies = iso["anomalies"].as_array().unwrap();
    assert!(!anomalies.is_empty());
    for a in anomalies {
        let class = a["class"].as_str().unwrap();
        assert!(class.ends_with("-realtime"), "{a}");
        let steps = a["anomaly"]["steps"].as_array().unwrap();
        assert!(steps.iter().any(|s| s["why"]["kind"] == "rt"), "{a}");
        let stale_rw = steps.iter().any(|s| {
            let from = s["from"].as_u64().unwrap();
            let op = iso["txn_ops"][format!("T{from}")].as_str().unwrap();
            s["why"]["kind"] == "rw" && stale_op(seed, t, op)
        });
        assert!(stale_rw, "no rw edge out of a stale read ({t:?}): {a}");
    }
    assert!(
        r.failures()[0].contains("-realtime cycle of"),
        "{:?}",
        r.failures()
    );
}

/// Lockstep: the seed's interleaving fails for the stale read, the same way twice (same
/// trace and content hashes, same cycles), and the page draws the cycle.
#[test]
fn a_frozen_wal_index_fails_on_a_realtime_cycle_in_lockstep_the_same_way_twice() {
    let dir = tempfile::tempdir().unwrap();
    let args = [SCENARIO, "--seed", "1", "--mode", "lockstep"];
    let a = run(dir.path(), &args);
    assert_caught_for_the_stale_read(&a, 1);
    // This seed's interleaving gives the simplest real-time anomaly, G-single-realtime (free
    // runs also find G2-item-realtime: a stale read-only transaction of two keys).
    let classes = a.report["checks"]["isolation"]["classes"]
        .as_object()
        .unwrap();
    assert!(classes.contains_key("G-single-realtime"), "{classes:?}");
    let b = run(dir.path(), &args);
    assert_caught_for_the_stale_read(&b, 1);
    assert_eq!(a.s("/trace_hash"), b.s("/trace_hash"));
    assert_eq!(a.s("/content_hash"), b.s("/content_hash"));
    let cycles = |r: &Run| -> Vec<Value> {
        r.report["checks"]["isolation"]["anomalies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                // Edges by transaction and key; real-time edges' nanoseconds differ per run.
                let steps = a["anomaly"]["steps"].as_array().unwrap();
                steps
                    .iter()
                    .map(|s| {
                        serde_json::json!([s["from"], s["to"], s["why"]["kind"], s["why"]["key"]])
                    })
                    .collect()
            })
            .collect()
    };
    assert_eq!(cycles(&a), cycles(&b));

    let html = a.page_html();
    assert!(html.contains("<h2 id=\"isolation\">Isolation</h2>"));
    assert!(
        html.contains("<b>G-single-realtime</b>"),
        "the page names the class"
    );
    assert!(html.contains("<th>edge</th>"));
}

/// Free mode: real time, real processes; the stale read is caught on every seed tried (20 of
/// 20 measured).
#[test]
fn a_frozen_wal_index_fails_on_a_realtime_cycle_in_free_mode() {
    let dir = tempfile::tempdir().unwrap();
    for seed in 1..=5u64 {
        let r = run(dir.path(), &[SCENARIO, "--seed", &seed.to_string()]);
        assert_caught_for_the_stale_read(&r, seed);
    }
}

/// The control: the same routing through the extra read-only connection, its wal-index
/// live (`freeze = false`), passes in both modes with every read checked.
#[test]
fn the_same_routing_without_the_freeze_passes() {
    let dir = tempfile::tempdir().unwrap();
    let toml = shipped(SCENARIO).replace("[io.stale_read]\n", "[io.stale_read]\nfreeze = false\n");
    let path = scenario_file(dir.path(), "stale-read-control", &toml);
    for mode in ["free", "lockstep"] {
        let r = run(
            dir.path(),
            &[path.to_str().unwrap(), "--seed", "1", "--mode", mode],
        );
        assert_eq!(r.code, 0, "{mode}: {}\n{}", r.stdout, r.stderr);
        assert_eq!(r.u("/checks/isolation/txns"), 400);
        assert_eq!(r.u("/checks/isolation/anomaly_count"), 0);
        assert!(r.u("/checks/isolation/edges/rt") > 0);
        assert!(r.u("/checks/isolation/edges/rw") > 0);
        // The routing happened: the control differs from the fault by the freeze alone.
        assert!(
            r.notes()
                .iter()
                .any(|n| n.starts_with("io.stale_read: worker") && n.contains("freeze = false")),
            "{:?}",
            r.notes()
        );
    }
}

/// Where a frozen snapshot cannot be served honestly, the scenario is refused (exit 2),
/// naming the field.
#[test]
fn stale_read_is_refused_where_it_cannot_apply() {
    let dir = tempfile::tempdir().unwrap();
    let base = shipped(SCENARIO);
    for (name, toml, field) in [
        (
            "autocheckpoint",
            set(&base, "wal_autocheckpoint", "1000"),
            "sqlite.wal_autocheckpoint",
        ),
        (
            "rollback",
            set(&base, "journal_mode", "\"delete\""),
            "sqlite.journal_mode",
        ),
        (
            "reads-before-begin",
            set(&base, "list_reads", "\"before-begin\""),
            "workload.list_reads",
        ),
        (
            "kanban",
            set(&base, "profile", "\"kanban\"").replace("list_reads = \"in-transaction\"\n", ""),
            "workload.profile",
        ),
        (
            "from-seq",
            set(&base, "from_seq", "[4, 100]"),
            "io.stale_read.from_seq",
        ),
        (
            "worker",
            base.replace("[io.stale_read]\n", "[io.stale_read]\nworker = 4\n"),
            "io.stale_read.worker",
        ),
    ] {
        let path = scenario_file(dir.path(), name, &toml);
        let (code, _, stderr) = walburst(dir.path(), "run", &[path.to_str().unwrap()]);
        assert_eq!(code, 2, "{name}: {stderr}");
        assert!(stderr.contains(field), "{name}: {stderr}");
    }
}
