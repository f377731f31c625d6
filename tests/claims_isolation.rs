//! The isolation checker names the double claim (issue 24, item 5): a kanban run's claims
//! become a history (each claim reads its task and appends its claim; one read of
//! `task_runs` after the run), so the racy `read-then-write` claim fails as a G-single cycle
//! of two transactions and a lost update beside the invariant that sees its effect, while
//! the field app's compare-and-swap claim passes in both modes. The built-in worker's claims
//! read their task ready by their SQL; the Python example app's report what they read
//! (`claim_read`), and are judged the same way.

mod common;

use common::*;

/// The double claim of `scenario` on lockstep `seed`: it fails on the isolation checker and
/// the invariant alone, the claims' history names exactly G-single and lost-update, one of
/// each per task claimed twice (the invariant's rows). Returns the run.
fn double_claim_named(dir: &std::path::Path, scenario: &str, seed: &str) -> Run {
    let r = run(dir, &[scenario, "--seed", seed, "--mode", "lockstep"]);
    assert_eq!(r.code, 1, "seed {seed}: {}{}", r.stdout, r.stderr);
    assert_eq!(
        r.failure_signatures(),
        [
            "isolation/isolation_checker/unexpected",
            "invariant/invariant_check/unexpected"
        ],
        "seed {seed}: {:?}",
        r.failures()
    );
    let iso = &r.report["checks"]["isolation"];
    assert_eq!(iso["transactions"], "claim");
    let classes: Vec<&String> = iso["classes"].as_object().unwrap().keys().collect();
    assert_eq!(classes, ["G-single", "lost-update"], "seed {seed}");
    for class in ["G-single", "lost-update"] {
        assert_eq!(
            r.u(&format!("/checks/isolation/classes/{class}")),
            r.u("/checks/invariants/0/rows"),
            "seed {seed}: one {class} per task claimed twice"
        );
    }
    r
}

/// 10 lockstep seeds: every one fails on the checker's G-single and on the invariant, one
/// G-single per task claimed twice, with the minimal cycle of two claims named by op and task.
#[test]
fn the_double_claim_is_g_single_over_ten_lockstep_seeds() {
    let dir = tempfile::tempdir().unwrap();
    for seed in 1..=10 {
        let seed = seed.to_string();
        let r = double_claim_named(dir.path(), "double-claim", &seed);
        let f = &r.failures()[0];
        assert!(f.contains("first: G-single cycle of 2 transactions"), "{f}");
        assert!(f.contains(" is task t-"), "{f}");
        if seed == "1" {
            let page = r.page_html();
            assert!(page.contains(" claim transactions, "), "page");
            assert!(
                page.contains("(task t-"),
                "the cycle's key named on the page"
            );
        }
    }
}

/// The field app's claim (compare-and-swap inside BEGIN IMMEDIATE): the same checker finds
/// its claims' history clean, 10 seeds in each mode.
#[test]
fn compare_and_swap_claims_are_clean_in_both_modes() {
    let dir = tempfile::tempdir().unwrap();
    let toml = set(&shipped("double-claim"), "claim", "\"compare-and-swap\"");
    let path = scenario_file(dir.path(), "cas", &toml);
    for mode in ["free", "lockstep"] {
        for seed in 1..=10 {
            let seed = seed.to_string();
            let r = run(
                dir.path(),
                &[path.to_str().unwrap(), "--seed", &seed, "--mode", mode],
            );
            assert_eq!(r.code, 0, "{mode} seed {seed}: {:?}", r.failures());
            assert_eq!(r.report["checks"]["isolation"]["transactions"], "claim");
            assert_eq!(r.u("/checks/isolation/anomaly_count"), 0);
            // The claims that committed, and the read after the run.
            assert!(r.u("/checks/isolation/txns") > 1, "{mode} seed {seed}");
            assert_eq!(
                r.u("/checks/isolation/edges/wr") + 1,
                r.u("/checks/isolation/txns"),
                "the read after the run saw every committed claim"
            );
        }
    }
}

/// The Python example app through its adapter: each claim reports its read of the task
/// (`claim_read`), so the racy claim fails as the same G-single and lost update as the
/// built-in one, one per task claimed twice, over 10 lockstep seeds.
#[test]
fn the_python_double_claim_is_the_same_anomaly_over_ten_lockstep_seeds() {
    python3_for("claims_isolation");
    let dir = tempfile::tempdir().unwrap();
    for seed in 1..=10 {
        let seed = seed.to_string();
        let r = double_claim_named(dir.path(), "python-double-claim", &seed);
        let iso = &r.report["checks"]["isolation"];
        assert!(
            iso.get("unjudged_reads").is_none(),
            "every claim reported its read"
        );
        assert!(
            r.failures()[0].contains(" is task t-"),
            "{:?}",
            r.failures()
        );
    }
}

/// The app's compare-and-swap claim (the adapter without `--claim=read-then-write`): its
/// claims' reported reads make a clean history, 10 seeds in each mode.
#[test]
fn the_python_apps_compare_and_swap_claims_are_clean_in_both_modes() {
    python3_for("claims_isolation");
    let dir = tempfile::tempdir().unwrap();
    let scenarios = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios");
    let toml = shipped("python-double-claim")
        .replace(", \"--claim=read-then-write\"", "")
        .replace("{scenario_dir}", scenarios);
    let path = scenario_file(dir.path(), "python-cas", &toml);
    for mode in ["free", "lockstep"] {
        for seed in 1..=10 {
            let seed = seed.to_string();
            let r = run(
                dir.path(),
                &[path.to_str().unwrap(), "--seed", &seed, "--mode", mode],
            );
            assert_eq!(r.code, 0, "{mode} seed {seed}: {:?}", r.failures());
            let iso = &r.report["checks"]["isolation"];
            assert_eq!(iso["transactions"], "claim");
            assert_eq!(r.u("/checks/isolation/anomaly_count"), 0);
            assert!(iso.get("unjudged_reads").is_none(), "{mode} seed {seed}");
            // Every committed claim read its task (a wr edge from the read after the run
            // to each is the same count as for the built-in worker).
            assert!(r.u("/checks/isolation/txns") > 1, "{mode} seed {seed}");
            assert_eq!(
                r.u("/checks/isolation/edges/wr") + 1,
                r.u("/checks/isolation/txns"),
                "the read after the run saw every committed claim"
            );
        }
    }
}
