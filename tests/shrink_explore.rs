//! `walburst shrink` and `walburst explore` on real worker processes: both are
//! deterministic, a shrunk run fails again from its own file for the same reason, and
//! (proptest) shrinking never returns a run that passes. Budgets are tiny on purpose.

mod common;

use std::path::Path;
use std::process::Command;

use proptest::prelude::*;
use serde_json::Value;
use walburst::explore::{self, space};
use walburst::reporter::Console;
use walburst::scenario::{self, Overrides, ScenarioSource};
use walburst::shrink::{self, Budget, ShrinkInput, ShrinkOptions, signature};

fn walburst(dir: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(common::BIN)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("walburst starts");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// What must be equal between two shrinks of one input: every trial and the result.
fn shrink_outcome(v: &Value) -> Value {
    let trials: Vec<Value> = v["trials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            serde_json::json!([
                t["candidate"],
                t["seed"],
                t["signature"],
                t["accepted"],
                t["steps"]
            ])
        })
        .collect();
    serde_json::json!({
        "signature": v["signature"], "after": v["after"], "min_seed": v["min_seed"],
        "stop": v["stop"], "confirmed": v["confirmed"], "trials": trials,
    })
}

#[test]
fn shrink_is_deterministic_and_its_reproduce_command_fails_again() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "shrink",
        "header-probe-lock-hazard",
        "--seed",
        "7",
        "--workers",
        "4",
        "--ops",
        "3",
        "--reseeds",
        "0",
        "--max-runs",
        "14",
    ];
    let mut outcomes = Vec::new();
    for out in ["a", "b"] {
        let mut a = args.to_vec();
        a.extend(["--out", out]);
        let (code, text) = walburst(dir.path(), &a);
        assert_eq!(code, 0, "shrink should succeed:\n{text}");
        let last = text.lines().last().unwrap();
        assert!(
            last.contains(" passed, ") && last.contains(" failed"),
            "{last}"
        );
        let summary = json(
            &dir.path()
                .join(out)
                .join("header-probe-lock-hazard-s7.shrink.json"),
        );
        assert_eq!(summary["confirmed"], true, "{text}");
        assert_eq!(summary["signature"]["category"], "lock-breach", "{summary}");
        assert!(summary["after"]["workers"].as_u64().unwrap() <= 4);
        outcomes.push(shrink_outcome(&summary));
        // The reproduce command, run as printed (relative to the same directory), fails.
        let cmd = summary["reproduce"].as_str().unwrap();
        let words: Vec<&str> = cmd.split_whitespace().skip(1).collect();
        let mut run = words.clone();
        run.extend(["--out", "repro", "-q"]);
        let (code, text) = walburst(dir.path(), &run);
        assert_eq!(code, 1, "the reproduce command should fail:\n{text}");
    }
    assert_eq!(outcomes[0], outcomes[1], "two shrinks of one input differ");
}

#[test]
fn shrink_keeps_a_false_report_and_records_it_in_the_corpus() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("corpus")).unwrap();
    let (code, text) = walburst(
        dir.path(),
        &[
            "shrink",
            "legacy-page-count-guard",
            "--seed",
            "7",
            "--workers",
            "2",
            "--ops",
            "16",
            "--reseeds",
            "0",
            "--max-runs",
            "10",
            "--out",
            "out",
            "--record",
            "--corpus",
            "corpus/regressions.toml",
        ],
    );
    assert_eq!(code, 0, "{text}");
    let summary = json(
        &dir.path()
            .join("out/legacy-page-count-guard-s7.shrink.json"),
    );
    assert_eq!(
        summary["signature"]["category"], "false-report",
        "{summary}"
    );
    assert_eq!(summary["signature"]["detector"], "page-count", "{summary}");
    assert_eq!(summary["after"]["workers"], 1, "{summary}");
    assert!(
        text.contains("recorded in corpus/regressions.toml"),
        "{text}"
    );
    // The corpus loads again and replays the shrunk run from its copied scenario and trace.
    let corpus =
        walburst::nightly::corpus::load(&dir.path().join("corpus/regressions.toml")).unwrap();
    assert_eq!(corpus.entries.len(), 1);
    let e = &corpus.entries[0];
    assert_eq!(
        e.scenario,
        "regressions/legacy-page-count-guard-min-s7.toml"
    );
    assert!(e.trace.is_some());
    assert!(
        dir.path()
            .join("corpus")
            .join(e.trace.as_ref().unwrap())
            .is_file()
    );
}

#[test]
fn shrink_refuses_a_report_that_passed_and_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let (code, text) = walburst(dir.path(), &["shrink", "no-such-scenario"]);
    assert_eq!(code, 2, "{text}");
    let (code, text) = walburst(
        dir.path(),
        &["run", "smoke", "--ops", "2", "--workers", "1", "--out", "r"],
    );
    assert_eq!(code, 0, "{text}");
    // The report, not the HTML page written beside it.
    let report = std::fs::read_dir(dir.path().join("r"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "json"))
        .unwrap();
    let (code, text) = walburst(dir.path(), &["shrink", report.to_str().unwrap()]);
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains("did not fail (verdict Pass); there is no failure to shrink"),
        "{text}"
    );
}

#[test]
fn explore_draws_the_same_scenarios_for_a_seed() {
    let opts = space::SpaceOptions::default();
    let a = explore::draw(5, opts, 40).unwrap();
    let b = explore::draw(5, opts, 40).unwrap();
    assert_eq!(a, b);
    assert_ne!(a, explore::draw(6, opts, 40).unwrap());
    // Every drawn scenario is valid as written, and the hazard is in the space.
    for (s, _) in &a {
        let text = toml::to_string(s).unwrap();
        scenario::parse_str(&text, &ScenarioSource::Embedded(s.name.clone()))
            .unwrap_or_else(|e| panic!("drawn scenario does not validate: {e}\n{text}"));
    }
    assert!(a.iter().any(|(s, _)| space::hazard(s).is_some()));
    let safe = explore::draw(5, space::SpaceOptions { no_hazards: true }, 40).unwrap();
    assert!(safe.iter().all(|(s, _)| space::hazard(s).is_none()));
}

#[test]
fn explore_is_deterministic_on_a_tiny_budget_findings_and_shrinks_included() {
    let dir = tempfile::tempdir().unwrap();
    let mut outcomes = Vec::new();
    // Seed 1 draws the bare-close header probe in DELETE mode first: a known hazard.
    for out in ["a", "b"] {
        let (code, text) = walburst(
            dir.path(),
            &[
                "explore",
                "--seed",
                "1",
                "--max-runs",
                "2",
                "--shrink-runs",
                "6",
                "--out",
                out,
            ],
        );
        assert_eq!(code, 0, "known hazards alone exit 0:\n{text}");
        let last = text.lines().last().unwrap();
        assert!(last.starts_with("explore seed=1: 2 runs: "), "{last}");
        let v = json(&dir.path().join(out).join("explore-s1.json"));
        assert!(v["known_hazards"].as_u64().unwrap() >= 1, "{v}");
        assert_eq!(v["violations"], 0, "{v}");
        let runs: Vec<Value> = v["runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| serde_json::json!([x["seed"], x["settings"], x["hazard"], x["finding"]]))
            .collect();
        let shrunk: Vec<Value> = v["shrunk"]
            .as_array()
            .unwrap()
            .iter()
            .map(shrink_outcome)
            .collect();
        assert!(!shrunk.is_empty(), "the finding was shrunk");
        outcomes.push((runs, shrunk));
    }
    assert_eq!(outcomes[0], outcomes[1]);
}

/// A tiny failing candidate: the bare-close probe inside the transaction in DELETE mode.
fn tiny_hazard() -> impl Strategy<Value = (u32, u32, u64)> {
    (2u32..=4, 1u32..=3, 0u64..1000)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3, failure_persistence: None, ..ProptestConfig::default() })]

    /// Whatever the search returns fails, loaded from its file, with the same signature.
    #[test]
    fn shrinking_never_returns_a_run_that_passes((workers, ops, seed) in tiny_hazard()) {
        let dir = tempfile::tempdir().unwrap();
        let overrides = Overrides { workers: Some(workers), ops: Some(ops), ..Overrides::default() };
        let (s, source) = scenario::load("header-probe-lock-hazard", &overrides).unwrap();
        let input = ShrinkInput { scenario: s, source, seed, expected: None };
        let opts = ShrinkOptions {
            budget: Budget { max_runs: 8, max_secs: 120, reseeds: 0 },
            out_dir: dir.path().to_path_buf(),
            worker_exe: common::BIN.into(),
        };
        let mut console = Console::new(true);
        let (summary, best) = shrink::shrink(&input, &opts, &mut console).unwrap();
        prop_assume!(summary.reproduced);
        let best = best.unwrap();
        prop_assert!(signature::of(&best.report).is_some());
        prop_assert!(summary.confirmed, "the minimal run passed from its file");
        // And once more, independently of the search.
        let file = summary.scenario_file.clone().unwrap();
        let (code, text) = walburst(dir.path(), &[
            "run", file.to_str().unwrap(), "--seed", &summary.min_seed.unwrap().to_string(),
            "--mode", "lockstep", "--out", "again", "-q",
        ]);
        prop_assert_eq!(code, 1, "{}", text);
    }
}
