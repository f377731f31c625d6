//! The lost-update control (issue 24, item 5): list-append as a read-modify-write of whole
//! lists (`list_write`), in the built-in worker and through the Python example app. The
//! control (`rewrite-stale-retry`) retries a turned-away write alone with the lists it read
//! before; the isolation checker must fail it by name (lost-update, with its G-single
//! cycle), and on nothing else. The same transactions whose retry reads again (`rewrite`)
//! pass in both modes: the one difference between the two is what the checker judges.

mod common;

use common::*;

const SEEDS: u32 = 10;

/// The shipped scenario, its worker command made absolute (so a copy in a temporary
/// directory still finds the Python adapter), with `list_write` set.
fn scenario(dir: &std::path::Path, name: &str, list_write: &str) -> std::path::PathBuf {
    let scenarios = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios");
    let toml = set(
        &shipped(name).replace("{scenario_dir}", scenarios),
        "list_write",
        &format!("\"{list_write}\""),
    );
    scenario_file(dir, &format!("{name}-{list_write}"), &toml)
}

/// Fails on isolation alone, with at least one lost update (every one a pair of writers of
/// one key that read the same list), the G-single cycles beside it, and nothing else: the
/// ledger is clean and every op committed.
fn assert_lost_update(r: &Run, what: &str) {
    assert_eq!(r.code, 1, "{what}: {}{}", r.stdout, r.stderr);
    assert_eq!(
        r.failure_signatures(),
        ["isolation/isolation_checker/unexpected"],
        "{what}: {:?}",
        r.failures()
    );
    let iso = &r.report["checks"]["isolation"];
    assert_eq!(iso["transactions"], "read-modify-write", "{what}");
    assert!(
        r.u("/checks/isolation/classes/lost-update") > 0,
        "{what}: {iso}"
    );
    assert!(
        r.u("/checks/isolation/classes/G-single") > 0,
        "{what}: {iso}"
    );
    let lost = iso["anomalies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["class"] == "lost-update")
        .expect("a lost update kept in full");
    assert!(
        lost["anomaly"]["txns"].as_array().unwrap().len() >= 2,
        "{lost}"
    );
    assert!(
        lost["explanation"]
            .as_str()
            .unwrap()
            .contains("(Adya's P4) on key "),
        "{lost}"
    );
    // Nothing but the isolation checker saw anything wrong.
    assert_eq!(r.u("/checks/lost_writes"), 0, "{what}");
    assert_eq!(r.u("/totals/failed"), 0, "{what}");
    assert!(r.failures()[0].contains("; first: G-single"), "{what}");
}

fn assert_clean(r: &Run, what: &str) {
    assert_eq!(r.code, 0, "{what}: {:?}", r.failures());
    assert_eq!(
        r.report["checks"]["isolation"]["transactions"],
        "read-modify-write"
    );
    assert_eq!(r.u("/checks/isolation/anomaly_count"), 0, "{what}");
    // Every op and the two reads after the run were judged.
    assert_eq!(
        r.u("/checks/isolation/txns"),
        r.u("/totals/ops") + 2,
        "{what}"
    );
}

#[test]
fn the_stale_retry_is_a_lost_update_over_ten_seeds_in_each_mode() {
    let dir = tempfile::tempdir().unwrap();
    for mode in ["free", "lockstep"] {
        for seed in 1..=SEEDS {
            let seed = seed.to_string();
            let r = run(
                dir.path(),
                &["lost-update", "--seed", &seed, "--mode", mode],
            );
            assert_lost_update(&r, &format!("{mode} seed {seed}"));
            if seed == "1" {
                let page = r.page_html();
                assert!(page.contains(" read-modify-write transactions, "), "page");
                assert!(page.contains("<b>lost-update</b>"), "page");
            }
        }
    }
}

/// The same transactions with a retry that reads again: no anomaly, over the same seeds,
/// although their writes were turned away and retried (the race the control loses).
#[test]
fn the_retry_that_reads_again_passes_over_ten_seeds_in_each_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(dir.path(), "lost-update", "rewrite");
    let mut retried = 0;
    for mode in ["free", "lockstep"] {
        for seed in 1..=SEEDS {
            let seed = seed.to_string();
            let r = run(
                dir.path(),
                &[path.to_str().unwrap(), "--seed", &seed, "--mode", mode],
            );
            assert_clean(&r, &format!("{mode} seed {seed}"));
            retried += r.u("/totals/busy_retries");
        }
    }
    assert!(
        retried > 0,
        "no write was ever turned away: nothing was raced"
    );
}

#[test]
fn the_python_app_loses_updates_by_the_same_name_and_passes_when_it_reads_again() {
    python3_for("lost_update");
    let dir = tempfile::tempdir().unwrap();
    let stale = scenario(dir.path(), "python-lost-update", "rewrite-stale-retry");
    let fresh = scenario(dir.path(), "python-lost-update", "rewrite");
    for mode in ["free", "lockstep"] {
        for seed in 1..=SEEDS {
            let seed = seed.to_string();
            let what = format!("python {mode} seed {seed}");
            let r = run(
                dir.path(),
                &[stale.to_str().unwrap(), "--seed", &seed, "--mode", mode],
            );
            assert_lost_update(&r, &what);
            let r = run(
                dir.path(),
                &[fresh.to_str().unwrap(), "--seed", &seed, "--mode", mode],
            );
            assert_clean(&r, &what);
        }
    }
}

/// `list_write` is refused where it means nothing, naming the field and its values.
#[test]
fn list_write_is_refused_outside_list_append_and_with_reads_before_begin() {
    let dir = tempfile::tempdir().unwrap();
    let kanban = shipped("smoke").replace("[workload]\n", "[workload]\nlist_write = \"rewrite\"\n");
    let before = set(&shipped("lost-update"), "list_write", "\"rewrite\"").replace(
        "[workload]\n",
        "[workload]\nlist_reads = \"before-begin\"\n",
    );
    for (name, toml) in [("kanban", kanban), ("before", before)] {
        let path = scenario_file(dir.path(), name, &toml);
        let (code, _, stderr) = walburst(dir.path(), "run", &[path.to_str().unwrap()]);
        assert_eq!(code, 2, "{name}: {stderr}");
        assert!(stderr.contains("workload.list_write"), "{name}: {stderr}");
        assert!(
            stderr.contains("\"rewrite-stale-retry\""),
            "{name}: {stderr}"
        );
    }
}
