//! Reader processes in the kanban workload (issue 24, item 3): `workload.readers` workers run
//! read transactions that read the board three times while the writers commit, and the
//! snapshot-stability check judges every one. Clean runs pass over many seeds in both modes
//! (with commits between the reads, so the check had something to see); the deliberately
//! broken reader (`snapshot-restart-control`) fails by that detector's name alone; bad
//! reader settings are refused before anything runs.

mod common;

use common::*;

/// The shipped clean scenario, smaller: seed sweeps stay quick.
fn small(name: &str) -> String {
    set(&shipped(name), "ops_per_worker", "15")
}

fn run_file(dir: &std::path::Path, toml: &str, seed: u64, mode: &str) -> Run {
    let file = scenario_file(dir, &format!("readers-{seed}-{mode}"), toml);
    let seed = seed.to_string();
    run(
        dir,
        &[file.to_str().unwrap(), "--seed", &seed, "--mode", mode],
    )
}

/// 10 seeds in each mode: every read transaction judged, none unstable, and over the sweep
/// many had another worker's commit between their first and last read.
#[test]
fn readers_see_one_snapshot_over_ten_seeds_in_both_modes() {
    let dir = tempfile::tempdir().unwrap();
    let toml = small("kanban-readers");
    for mode in ["free", "lockstep"] {
        let mut interleaved = 0;
        for seed in 1..=10 {
            let r = run_file(dir.path(), &toml, seed, mode);
            assert_eq!(r.code, 0, "{mode} seed {seed}: {:?}", r.failures());
            assert_eq!(r.u("/checks/snapshots/read_txns"), 30, "2 readers x 15");
            assert_eq!(r.u("/checks/snapshots/judged"), 30);
            assert_eq!(r.u("/checks/snapshots/reads"), 90);
            assert_eq!(r.u("/checks/snapshots/unstable"), 0);
            assert!(
                r.notes()
                    .iter()
                    .any(|n| n
                        .starts_with("snapshot stability: 30 of 30 read transaction(s) judged")),
                "{:?}",
                r.notes()
            );
            interleaved += r.u("/checks/snapshots/interleaved");
        }
        assert!(
            interleaved >= 10,
            "{mode}: only {interleaved} read transactions had a commit between their reads"
        );
    }
}

/// The negative control: a reader that commits and begins again between its reads fails by
/// the snapshot-stability check alone, naming the op and the two boards, in both modes.
#[test]
fn a_reader_that_restarts_its_transaction_fails_by_name() {
    let dir = tempfile::tempdir().unwrap();
    for mode in ["free", "lockstep"] {
        let r = run(
            dir.path(),
            &["snapshot-restart-control", "--seed", "1", "--mode", mode],
        );
        assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
        assert_eq!(
            r.failure_signatures(),
            ["snapshot_stability/snapshot_check/unexpected"],
            "{mode}: {:?}",
            r.failures()
        );
        let f = &r.failures()[0];
        assert!(f.contains("isolation failure: "), "{f}");
        assert!(
            f.contains("(one read transaction): read 1 returned tasks="),
            "{f}"
        );
        assert!(r.u("/checks/snapshots/unstable") > 0);
        // The same scenario with the reader's one snapshot passes: the failure is the restart.
        let fixed = set(
            &shipped("snapshot-restart-control"),
            "reader_txn",
            "\"one-snapshot\"",
        );
        let ok = run_file(dir.path(), &fixed, 1, mode);
        assert_eq!(ok.code, 0, "{mode}: {:?}", ok.failures());
    }
}

/// Readers leave a writer, and are the built-in worker's kanban readers: anything else is
/// refused at load (exit 2, the field named).
#[test]
fn bad_reader_settings_are_refused_by_field() {
    let dir = tempfile::tempdir().unwrap();
    let base = shipped("kanban-readers");
    let cases = [
        (set(&base, "readers", "6"), "workload.readers"),
        (
            set(&base, "reader_hold_ms", "[5, 1]"),
            "workload.reader_hold_ms",
        ),
        (
            set(&base, "reader_hold_ms", "[0, 10001]"),
            "workload.reader_hold_ms",
        ),
        (
            shipped("list-append").replace("[workload]\n", "[workload]\nreaders = 1\n"),
            "workload.readers",
        ),
        (
            set(
                &shipped("snapshot-restart-control"),
                "reader_txn",
                "\"sometimes\"",
            ),
            "reader_txn",
        ),
    ];
    for (i, (toml, field)) in cases.iter().enumerate() {
        let file = scenario_file(dir.path(), &format!("bad-{i}"), toml);
        let (code, _, stderr) = walburst(dir.path(), "run", &[file.to_str().unwrap()]);
        assert_eq!(code, 2, "case {i}: {stderr}");
        assert!(stderr.contains(field), "case {i}: {stderr}");
    }
}

/// The Python example app's readers (`kanban_app.read_snapshot` through the adapter): the
/// same check finds every read transaction stable, 5 seeds in each mode; the app's broken
/// reader (`--reader=restart-between-reads`) fails on `snapshot_stability` alone in lockstep.
#[test]
fn the_python_apps_readers_are_judged_and_its_broken_reader_fails_by_name() {
    python3_for("readers");
    let dir = tempfile::tempdir().unwrap();
    let scenarios = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios");
    let good = shipped("python-kanban-readers").replace("{scenario_dir}", scenarios);
    let broken = good.replace(
        "kanban_worker.py\"]",
        "kanban_worker.py\", \"--reader=restart-between-reads\"]",
    );
    assert_ne!(good, broken);
    let mut interleaved = 0;
    for mode in ["free", "lockstep"] {
        for seed in 1..=5 {
            let r = run_file(dir.path(), &good, seed, mode);
            assert_eq!(r.code, 0, "{mode} seed {seed}: {:?}", r.failures());
            assert_eq!(r.u("/checks/snapshots/read_txns"), 60, "2 readers x 30");
            assert_eq!(r.u("/checks/snapshots/judged"), 60);
            assert_eq!(r.u("/checks/snapshots/reads"), 180);
            assert_eq!(r.u("/checks/snapshots/unstable"), 0);
            interleaved += r.u("/checks/snapshots/interleaved");
        }
    }
    assert!(interleaved > 0, "no commit ever landed between two reads");
    for seed in 1..=3 {
        let r = run_file(dir.path(), &broken, seed, "lockstep");
        assert_eq!(r.code, 1, "seed {seed}: {}{}", r.stdout, r.stderr);
        assert!(r.u("/checks/snapshots/unstable") > 0, "seed {seed}");
        assert_eq!(
            r.failure_signatures(),
            ["snapshot_stability/snapshot_check/unexpected"],
            "seed {seed}: {:?}",
            r.failures()
        );
    }
}

/// Every gap between two reads of one read transaction, in ms, from a kept run directory's
/// records.
fn read_gaps_ms(r: &Run) -> Vec<f64> {
    let kept = r
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("run directory kept: "))
        .unwrap_or_else(|| panic!("no kept run directory:\n{}", r.stdout));
    let records = std::fs::read_to_string(std::path::Path::new(kept).join("records.jsonl"))
        .expect("records.jsonl");
    let mut gaps = Vec::new();
    for line in records.lines() {
        let rec: serde_json::Value = serde_json::from_str(line).unwrap();
        let Some(reads) = rec["reads"].as_array() else {
            continue;
        };
        let t: Vec<u64> = reads.iter().map(|x| x["t_ns"].as_u64().unwrap()).collect();
        gaps.extend(t.windows(2).map(|w| (w[1] - w[0]) as f64 / 1e6));
    }
    gaps
}

/// PROTOCOL.md: `reader_hold_ms` is sent to every worker, and the Python adapter honours it
/// in free mode. With [250, 250] each of its read transactions holds its snapshot at least
/// 250 ms between reads; with [0, 0], the control that the gaps measure the setting and
/// not the adapter's own pace, most gaps are far shorter.
#[test]
fn the_python_adapter_holds_its_readers_for_reader_hold_ms() {
    python3_for("readers");
    let dir = tempfile::tempdir().unwrap();
    let scenarios = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios");
    let base = set(
        &shipped("python-kanban-readers").replace("{scenario_dir}", scenarios),
        "ops_per_worker",
        "4",
    );
    let mut medians = Vec::new();
    for hold in ["[250, 250]", "[0, 0]"] {
        let toml = set(&base, "reader_hold_ms", hold);
        let file = scenario_file(dir.path(), "python-hold", &toml);
        let r = run(
            dir.path(),
            &[
                file.to_str().unwrap(),
                "--seed",
                "1",
                "--mode",
                "free",
                "--keep",
            ],
        );
        assert_eq!(r.code, 0, "{hold}: {:?}", r.failures());
        let mut gaps = read_gaps_ms(&r);
        assert_eq!(gaps.len(), 16, "{hold}: 2 readers x 4 ops x 2 gaps");
        if hold == "[250, 250]" {
            assert!(gaps.iter().all(|&g| g >= 250.0), "{hold}: {gaps:?}");
        }
        gaps.sort_by(f64::total_cmp);
        medians.push(gaps[gaps.len() / 2]);
    }
    assert!(medians[1] < 100.0, "[0, 0]: median gap {} ms", medians[1]);
}
