//! The list-append workload end to end: real worker processes appending to and reading
//! keyed lists in SQLite, the isolation checker run on their records after the run, and its
//! negative control (reads moved outside the transaction) failing for its own reason.

mod common;

use common::*;

/// The brief's "done when": `walburst run list-append --seed 1` passes, and its history
/// was really checked (transactions, every edge kind, no anomaly).
#[test]
fn list_append_seed_1_passes_with_a_checked_history() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(dir.path(), &["list-append", "--seed", "1"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.passed());
    assert_eq!(r.u("/checks/isolation/txns"), 400);
    assert_eq!(r.u("/checks/isolation/outcomes/ok"), 400);
    assert_eq!(r.u("/checks/isolation/anomaly_count"), 0);
    for kind in ["ww", "wr", "rw", "rt"] {
        assert!(
            r.u(&format!("/checks/isolation/edges/{kind}")) > 0,
            "{kind}"
        );
    }
    assert_eq!(r.u("/checks/lost_writes"), 0);
}

/// The same workload in lockstep passes too.
#[test]
fn list_append_passes_in_lockstep() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(
        dir.path(),
        &["list-append", "--seed", "3", "--mode", "lockstep"],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.u("/checks/isolation/anomaly_count"), 0);
}

/// The negative control (`list-append-reads-before-begin`): each transaction's reads run
/// before its `BEGIN IMMEDIATE` yet are reported as part of it. In lockstep (so the interleaving is the seed's) the checker must
/// find read-write cycles and fail the run with its own category and detector, explaining
/// a cycle by its transactions, edges and keys; the kept run directory holds the history
/// as Elle reads it.
#[test]
fn reads_before_begin_fail_the_isolation_checker_with_explained_cycles() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(
        dir.path(),
        &[
            "list-append-reads-before-begin",
            "--seed",
            "1",
            "--mode",
            "lockstep",
        ],
    );
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert_eq!(
        r.failure_signatures(),
        ["isolation/isolation_checker/unexpected"],
        "{:?}",
        r.failures()
    );
    let classes = &r.report["checks"]["isolation"]["classes"];
    assert!(classes["G-single"].as_u64().unwrap_or(0) > 0, "{classes}");
    assert!(classes["G2-item"].as_u64().unwrap_or(0) > 0, "{classes}");
    // Reads moved before the transaction's own appends contradict them, too.
    assert!(classes["internal"].as_u64().unwrap_or(0) > 0, "{classes}");
    let message = &r.failures()[0];
    assert!(message.contains("G-single"), "{message}");
    assert!(message.contains("cycle of"), "{message}");

    let anomalies = r.report["checks"]["isolation"]["anomalies"]
        .as_array()
        .unwrap();
    let cycle = anomalies
        .iter()
        .find(|a| a["class"] == "G-single")
        .expect("a G-single cycle is reported");
    let steps = cycle["anomaly"]["steps"].as_array().unwrap();
    assert!(steps.len() >= 2);
    assert_eq!(
        steps.iter().filter(|s| s["why"]["kind"] == "rw").count(),
        1,
        "{cycle}"
    );
    let explanation = cycle["explanation"].as_str().unwrap();
    assert!(explanation.contains("(rw, key "), "{explanation}");
    let first = steps[0]["from"].as_u64().unwrap();
    let op = r.s(&format!("/checks/isolation/txn_ops/T{first}"));
    assert!(op.starts_with("worker "), "{op}");

    // The page draws each reported cycle edge by edge.
    let html = r.page_html();
    assert!(html.contains("<h2 id=\"isolation\">Isolation</h2>"));
    assert!(html.contains("<b>G-single</b>"));
    assert!(html.contains("<th>edge</th>"));

    let run_dir = std::path::PathBuf::from(r.s("/run_dir"));
    let jsonl = std::fs::read_to_string(run_dir.join("history.jsonl")).unwrap();
    assert_eq!(
        jsonl.lines().count(),
        800,
        "an invocation and a completion per txn"
    );
    let edn = std::fs::read_to_string(run_dir.join("history.edn")).unwrap();
    assert!(edn.starts_with("{:index 0, :type :invoke, :f :txn, :value ["));
}

/// Bad input is refused before anything runs, naming the field.
#[test]
fn list_append_settings_are_validated() {
    let dir = tempfile::tempdir().unwrap();
    let kanban_with_list_reads = shipped("smoke").replace(
        "[workload]\n",
        "[workload]\nlist_reads = \"before-begin\"\n",
    );
    let with_mix = shipped("list-append") + "\n[workload.mix]\ncreate_task = 1\nclaim_task = 1\n";
    for (name, toml, field) in [
        (
            "kanban-list-reads",
            kanban_with_list_reads,
            "workload.list_reads",
        ),
        ("list-append-mix", with_mix, "workload.mix"),
    ] {
        let path = scenario_file(dir.path(), name, &toml);
        let (code, _, stderr) = walburst(dir.path(), "run", &[path.to_str().unwrap()]);
        assert_eq!(code, 2, "{name}: {stderr}");
        assert!(stderr.contains(field), "{name}: {stderr}");
    }
}
