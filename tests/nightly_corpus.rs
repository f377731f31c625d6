//! Nightly CI's regression corpus: an entry runs first and is reported apart,
//! `--record-failures` appends once, lockstep failures are recorded with their trace and
//! replayed. The real binary on tiny scenarios in temporary directories.

mod common;

use common::nightly::*;

#[test]
fn regression_entry_runs_first_and_is_reported_apart() {
    let dir = setup(TINY);
    let d = dir.path();
    std::fs::write(
        d.join("regressions.toml"),
        r#"
[[regression]]
case = "tiny/delete-noguard"
scenario = "tiny.toml"
seed = 99
note = "a test entry"
"#,
    )
    .unwrap();
    let junit = d.join("j.xml");
    let o = run(
        d,
        "out",
        &[
            "tiny.toml#delete-noguard",
            "--seeds",
            "2",
            "--junit",
            junit.to_str().unwrap(),
        ],
    );
    assert_eq!(o.code, 0, "{}", o.show());
    let first_run = o.stdout.lines().find(|l| l.starts_with("SEED=")).unwrap();
    assert!(
        first_run.starts_with("SEED=99 scenario=tiny/delete-noguard "),
        "the regression runs first\n{}",
        o.show()
    );
    assert!(
        o.stdout.contains("\nregressions: 1 passed, 0 failed\n"),
        "{}",
        o.show()
    );
    assert_last_line(&o, 3, 0);
    let lines = index(&d.join("out/sweep-index.jsonl"));
    assert_eq!(lines[1]["event"], "start");
    assert_eq!(lines[1]["pair"]["kind"], "regression");
    assert_eq!(lines[1]["pair"]["note"], "a test entry");
    let s = json(&d.join("out/sweep-summary.json"));
    assert_eq!(s["regressions"]["pairs"], 1);
    assert_eq!(s["sweep"]["pairs"], 2);
    assert_eq!(s["totals"]["pairs"], 3);
    let text = std::fs::read_to_string(&junit).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    let suites: Vec<(String, String)> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testsuite"))
        .map(|n| {
            (
                n.attribute("name").unwrap().to_string(),
                n.attribute("tests").unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        suites,
        [
            ("regressions".into(), "1".into()),
            ("tiny".into(), "2".into())
        ]
    );

    // A bad entry is bad input.
    std::fs::write(
        d.join("regressions.toml"),
        "[[regression]]\ncase = \"tiny/nope\"\nscenario = \"tiny.toml\"\nseed = 1\nnote = \"x\"\n",
    )
    .unwrap();
    let bad = run(d, "out2", &["tiny.toml", "--seeds", "1"]);
    assert_eq!(bad.code, 2, "{}", bad.show());
    assert!(bad.stderr.contains("regression[0].case"), "{}", bad.show());
    assert!(!d.join("out2").exists());
}

#[test]
fn record_failures_appends_once_and_the_entry_then_runs_first() {
    let dir = setup(TINY);
    let d = dir.path();
    let args = [
        "tiny.toml#wal-ac1000-pagecount",
        "--seeds",
        "1",
        "--base-seed",
        "7",
        "--record-failures",
    ];
    let o = run(d, "out", &args);
    assert_eq!(o.code, 1, "{}", o.show());
    assert!(
        o.stdout
            .contains("recorded 1 new regression(s) in regressions.toml"),
        "{}",
        o.show()
    );
    assert_last_line(&o, 0, 1);
    let corpus = std::fs::read_to_string(d.join("regressions.toml")).unwrap();
    assert_eq!(
        corpus.lines().filter(|l| *l == "[[regression]]").count(),
        1,
        "{corpus}"
    );
    assert!(
        corpus
            .contains("case = \"tiny/wal-ac1000-pagecount\"\nscenario = \"tiny.toml\"\nseed = 7\n"),
        "{corpus}"
    );
    assert!(
        corpus.contains("note = \"recorded by --record-failures on ")
            || corpus.contains("note = 'recorded by --record-failures on "),
        "{corpus}"
    );

    let again = run(d, "out2", &args);
    assert_eq!(again.code, 1, "{}", again.show());
    assert_last_line(&again, 0, 2);
    let first_run = again
        .stdout
        .lines()
        .find(|l| l.starts_with("SEED="))
        .unwrap();
    assert!(first_run.starts_with("SEED=7 scenario=tiny/wal-ac1000-pagecount"));
    assert_eq!(
        index(&d.join("out2/sweep-index.jsonl"))[1]["pair"]["kind"],
        "regression"
    );
    let corpus2 = std::fs::read_to_string(d.join("regressions.toml")).unwrap();
    assert_eq!(
        corpus, corpus2,
        "a failure already in the corpus is not appended again"
    );
}

#[test]
fn lockstep_failures_are_recorded_with_their_trace_and_replayed() {
    let dir = setup(TINY);
    let d = dir.path();
    let o = run(
        d,
        "out",
        &[
            "tiny.toml#wal-ac100-pagecount",
            "--seeds",
            "1",
            "--mode",
            "lockstep",
            "--record-failures",
        ],
    );
    assert_eq!(o.code, 1, "{}", o.show());
    let corpus = std::fs::read_to_string(d.join("regressions.toml")).unwrap();
    assert!(corpus.contains("mode = \"lockstep\"\n"), "{corpus}");
    let trace = "regressions/tiny_wal-ac100-pagecount-s1.trace.jsonl";
    assert!(
        corpus.contains(&format!("trace = \"{trace}\"\n")),
        "{corpus}"
    );
    assert!(d.join(trace).is_file());

    let again = run(d, "out2", &["tiny.toml#delete-noguard", "--seeds", "1"]);
    let lines = index(&d.join("out2/sweep-index.jsonl"));
    let pair = &lines[1]["pair"];
    assert_eq!(pair["kind"], "regression");
    assert!(
        pair["name"].as_str().unwrap().ends_with("(recorded trace)"),
        "{pair}"
    );
    // The recorded interleaving fails the same way.
    assert_eq!(again.code, 1, "{}", again.show());
    assert_last_line(&again, 1, 1);
    let s = json(&d.join("out2/sweep-summary.json"));
    assert_eq!(s["regressions"]["failed"], 1);
}
