//! Nightly CI: matrix expansion, sweeps, sharding, merge, JUnit, the regression corpus and
//! the last line. The real binary on tiny scenarios (2 workers x 15 ops, synchronous off) in
//! temporary directories; every run writes only under its tempdir.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use walburst::nightly::{self, matrix};
use walburst::scenario::{self, Expectation, Overrides, ScenarioSource};

mod common;

use common::BIN;
use common::nightly::*;

// ---------------------------------------------------------------------------------------
// Matrix expansion (library level)
// ---------------------------------------------------------------------------------------

fn expand(toml: &str) -> matrix::Expansion {
    let s = scenario::parse_str(toml, &ScenarioSource::File(PathBuf::from("tiny.toml"))).unwrap();
    matrix::expand(&s).unwrap()
}

#[test]
fn matrix_names_are_stable_and_folding_works() {
    let x = expand(TINY);
    let names: Vec<&str> = x.cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "tiny/wal-ac100-noguard",
            "tiny/wal-ac100-pagecount",
            "tiny/wal-ac1000-noguard",
            "tiny/wal-ac1000-pagecount",
            "tiny/delete-noguard",
            "tiny/delete-pagecount",
        ]
    );
    assert_eq!((x.combinations, x.folded, x.excluded), (8, 2, 0));
    let delete = &x.cases[4];
    assert_eq!(delete.folded.len(), 1, "{delete:?}");
    assert_eq!(delete.folded[0].0, matrix::Axis::WalAutocheckpoint);
    assert_eq!(delete.folded[0].1.len(), 2, "both values folded in");
    assert_eq!(delete.scenario.name, "tiny/delete-noguard");
    assert!(delete.scenario.matrix.is_none());

    // Reordered keys, same names; the expect rule lands on exactly the WAL page-count cases.
    let y = expand(TINY_EXPECTED);
    let names_y: BTreeSet<&str> = y.cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names_y, names.iter().copied().collect());
    for c in &y.cases {
        let want = if c.name.starts_with("tiny/wal-") && c.name.ends_with("-pagecount") {
            Expectation::Some
        } else {
            Expectation::None
        };
        assert_eq!(c.scenario.expect.false_corruption, want, "{}", c.name);
    }

    // A guard_at without a guard is folded too; an exclude rule drops combinations.
    let z = expand(
        r#"
name = "z"
[matrix]
guard = ["none", "wal-aware"]
guard_at = ["after-commit", "in-transaction"]
workers = [1, 4]
[[matrix.exclude]]
workers = 4
guard = "wal-aware"
"#,
    );
    let names_z: Vec<&str> = z.cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names_z,
        [
            "z/w1-noguard",
            "z/w1-walaware-aftercommit",
            "z/w1-walaware-intx",
            "z/w4-noguard",
        ]
    );
    assert_eq!((z.combinations, z.excluded, z.folded), (8, 2, 2));
}

#[test]
fn shipped_nightly_and_corpus_load() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let spec = root.join("scenarios/nightly.toml");
    let suite = nightly::load_suite(spec.to_str().unwrap(), &Overrides::default()).unwrap();
    let cases = &suite.expansion.cases;
    assert_eq!(cases.len(), 600);
    let names: BTreeSet<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names.len(), cases.len(), "case names are unique");
    for want in [
        "nightly/wal-full-ac1000-w20-nolock-walaware",
        "nightly/delete-normal-w20-nolock-headerprobe",
        "nightly/persist-extra-w1-flock-pagecount",
    ] {
        assert!(names.contains(want), "no case {want}");
    }
    for c in cases {
        let s = &c.scenario;
        let wal = s.sqlite.journal_mode == scenario::JournalMode::Wal;
        let expected = match s.guard {
            scenario::GuardKind::PageCount if wal => Expectation::Some,
            scenario::GuardKind::HeaderProbe | scenario::GuardKind::HeaderProbeFd
                if s.workload.workers > 1 =>
            {
                Expectation::Any
            }
            _ => Expectation::None,
        };
        assert_eq!(s.expect.false_corruption, expected, "{}", c.name);
        assert_eq!(s.expect.real_corruption, Expectation::None, "{}", c.name);
    }
    let corpus = nightly::corpus::load(&root.join("scenarios/regressions.toml")).unwrap();
    corpus.pairs(false).unwrap();
}

// ---------------------------------------------------------------------------------------
// Bad input, list
// ---------------------------------------------------------------------------------------

#[test]
fn bad_matrix_values_exit_2_and_write_nothing() {
    for (body, needles) in [
        (
            "[matrix]\njournal_mode = [\"wal\", \"wall\"]\n",
            &["tiny.toml", "matrix.journal_mode", "`delete`"][..],
        ),
        (
            "[matrix]\nworkers = [0, 4]\n",
            &["tiny.toml", "matrix.workers", "1..=512"][..],
        ),
        (
            "[matrix]\nguard = [\"none\"]\n[[matrix.expect]]\nwhen = { guard = \"page-count\" }\nfalse_corruption = \"some\"\n",
            &["tiny.toml", "matrix.expect[0]", "matches no case"][..],
        ),
        (
            "[matrix]\nshard = [1]\n",
            &["tiny.toml", "matrix.shard", "journal_mode"][..],
        ),
    ] {
        let dir = setup(&format!("name = \"tiny\"\n{body}"));
        let o = run(dir.path(), "out", &["tiny.toml", "--seeds", "2"]);
        assert_eq!(o.code, 2, "{}", o.show());
        assert!(o.stderr.starts_with("error: "), "{}", o.show());
        for n in needles {
            assert!(o.stderr.contains(n), "stderr lacks {n:?}\n{}", o.show());
        }
        assert!(!dir.path().join("out").exists(), "bad input wrote --out");
        assert!(
            !dir.path().join("work").exists(),
            "bad input made run directories"
        );
        assert!(!dir.path().join("regressions.toml").exists());
    }
    // Bad sweep flags are usage errors too.
    let dir = setup(TINY);
    for args in [
        &["tiny.toml", "--shard", "3/2"][..],
        &["tiny.toml", "--seed", "3", "--seeds", "2"][..],
        &["tiny.toml", "--nightly", "--base-seed", "2"][..],
        &["tiny.toml", "--nightly", "--date", "2026-13-01"][..],
        &["tiny.toml", "--seeds", "0"][..],
        &["tiny.toml", "--jobs", "0"][..],
        &["tiny.toml", "--regressions", "missing.toml"][..],
    ] {
        let o = run(dir.path(), "out", args);
        assert_eq!(o.code, 2, "{args:?}\n{}", o.show());
        assert!(o.stderr.contains("error"), "{args:?}\n{}", o.show());
        assert!(!dir.path().join("out").exists(), "{args:?}");
    }
}

#[test]
fn list_file_shows_the_expanded_cases() {
    let dir = setup(TINY);
    let o = exec(dir.path(), &["list", "tiny.toml"]);
    assert_eq!(o.code, 0, "{}", o.show());
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(lines.len(), 7, "{}", o.show());
    assert!(
        lines[0].starts_with("tiny/wal-ac100-noguard "),
        "{}",
        o.show()
    );
    assert!(
        lines[4].contains("[folds wal_autocheckpoint=100,1000]"),
        "{}",
        o.show()
    );
    assert!(
        lines[6].starts_with("6 cases from 8 combinations (0 excluded, 2 folded)"),
        "{}",
        o.show()
    );
}

// ---------------------------------------------------------------------------------------
// Sweeps, shards, merge, JUnit
// ---------------------------------------------------------------------------------------

#[test]
fn shards_cover_exactly_the_unsharded_pairs_and_merge_matches() {
    let dir = setup(TINY);
    let d = dir.path();
    let all = run(d, "all", &["tiny.toml", "--seeds", "2", "--base-seed", "3"]);
    assert_eq!(all.code, 1, "two cases fail by design\n{}", all.show());
    assert_last_line(&all, 8, 4);
    let s1 = run(
        d,
        "s1",
        &[
            "tiny.toml",
            "--seeds",
            "2",
            "--base-seed",
            "3",
            "--shard",
            "1/2",
            "-q",
        ],
    );
    let s2 = run(
        d,
        "s2",
        &[
            "tiny.toml",
            "--seeds",
            "2",
            "--base-seed",
            "3",
            "--shard",
            "2/2",
            "--jobs",
            "2",
        ],
    );
    for o in [&s1, &s2] {
        assert_eq!(o.code, 1, "{}", o.show());
        let last = o.last_line();
        assert!(
            last.ends_with(" failed") && last.contains(" passed, "),
            "{}",
            o.show()
        );
    }
    // --quiet: no pass lines, only failed runs and the end.
    assert!(!s1.stdout.contains("\nPASS "), "{}", s1.show());

    let every = started(&d.join("all/sweep-index.jsonl"));
    let one = started(&d.join("s1/sweep-index-1of2.jsonl"));
    let two = started(&d.join("s2/sweep-index-2of2.jsonl"));
    assert_eq!(every.len(), 12);
    let a: BTreeSet<_> = every.iter().cloned().collect();
    let b: BTreeSet<_> = one.iter().chain(&two).cloned().collect();
    assert_eq!(a, b, "the shards cover exactly the unsharded pairs");
    assert_eq!(one.len() + two.len(), 12, "no pair in both shards");
    assert!(every.iter().any(|k| k == "tiny/delete-pagecount seed=4"));

    let m = exec(
        d,
        &[
            "merge",
            "s1",
            "s2",
            "--out",
            d.join("merged").to_str().unwrap(),
        ],
    );
    assert_eq!(m.code, 1, "{}", m.show());
    assert_last_line(&m, 8, 4);
    let unsharded = json(&d.join("all/sweep-summary.json"));
    let merged = json(&d.join("merged/merged-summary.json"));
    assert_eq!(merged["totals"], unsharded["totals"]);
    assert_eq!(merged["shards"]["present"], serde_json::json!([1, 2]));
    assert_eq!(merged["sweep_hash"], unsharded["sweep_hash"]);
    let keys = |v: &Value| -> BTreeSet<String> {
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| format!("{} {}", e["pair"]["name"], e["result"]["status"]))
            .collect()
    };
    assert_eq!(keys(&merged), keys(&unsharded));
    assert!(d.join("merged/merged-junit.xml").is_file());
    let md = std::fs::read_to_string(d.join("merged/merged-summary.md")).unwrap();
    assert!(md.starts_with("# walburst: 8 passed, 4 failed"), "{md}");
    // The merged page: failures first, each with its reproduce command and a link to the
    // failing run's own page (which exists), then the matrix by axis.
    let html = std::fs::read_to_string(d.join("merged/merged-summary.html")).unwrap();
    assert!(html.contains(r#"<span class="verdict fail">FAIL</span>"#));
    let (fails_at, matrix_at) = (
        html.find(r#"id="failures""#).unwrap(),
        html.find(r#"id="matrix""#).unwrap(),
    );
    assert!(fails_at < matrix_at);
    assert!(html.contains("<b>journal_mode</b>") && html.contains("<b>guard</b>"));
    let failing: Vec<&Value> = merged["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["result"]["status"] != "pass")
        .collect();
    assert_eq!(failing.len(), 4);
    for e in failing {
        let cmd = e["pair"]["reproduce"].as_str().unwrap();
        assert!(html.contains(cmd), "no reproduce command {cmd}");
        let report = std::path::PathBuf::from(e["result"]["report"].as_str().unwrap());
        let page = report.with_extension("html");
        assert!(
            page.is_file(),
            "the failing run's page {page:?} was not drawn"
        );
        // Linked relative to the merged page, so the link survives moving the results.
        let name = page.file_name().unwrap().to_string_lossy().into_owned();
        let href = html
            .split("href=\"")
            .skip(1)
            .filter_map(|h| h.split('"').next())
            .find(|h| h.ends_with(name.as_str()))
            .unwrap_or_else(|| panic!("no link to {page:?}"));
        assert!(!href.starts_with('/'), "{href}");
        assert!(
            d.join("merged").join(href).is_file(),
            "{href} does not resolve"
        );
    }
    // No absolute path of the machine that ran it.
    let root = d.canonicalize().unwrap();
    assert!(
        !html.contains(&root.display().to_string()),
        "absolute paths leak"
    );

    // A missing shard is never a pass; shards of different sweeps do not merge.
    let part = exec(d, &["merge", "s1", "--out", d.join("m1").to_str().unwrap()]);
    assert_eq!(part.code, 1, "{}", part.show());
    assert_last_line(&part, 4, 8);
    assert!(part.stdout.contains("MISSING 2"), "{}", part.show());
    let mixed = exec(
        d,
        &[
            "merge",
            "s1",
            "all",
            "--out",
            d.join("m2").to_str().unwrap(),
        ],
    );
    assert_eq!(mixed.code, 2, "{}", mixed.show());
    assert!(!d.join("m2").exists());
}

#[test]
fn junit_has_right_counts_and_the_reproduce_command() {
    let dir = setup(TINY);
    let d = dir.path();
    let junit = d.join("junit.xml");
    let o = run(d, "out", &["tiny.toml", "--junit", junit.to_str().unwrap()]);
    assert_eq!(o.code, 1, "{}", o.show());
    assert_last_line(&o, 4, 2);
    let text = std::fs::read_to_string(&junit).unwrap();
    let doc = roxmltree::Document::parse(&text).expect("the JUnit file is XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    assert_eq!(root.attribute("tests"), Some("6"));
    assert_eq!(root.attribute("failures"), Some("2"));
    assert_eq!(root.attribute("errors"), Some("0"));
    let cases: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), 6);
    let failing: Vec<_> = cases
        .iter()
        .filter(|c| c.children().any(|x| x.has_tag_name("failure")))
        .collect();
    assert_eq!(failing.len(), 2);
    let tc = failing[0];
    assert_eq!(
        tc.attribute("name"),
        Some("tiny/wal-ac100-pagecount seed=1")
    );
    let failure = tc.children().find(|x| x.has_tag_name("failure")).unwrap();
    let message = failure.attribute("message").unwrap();
    assert!(message.contains("false corruption reports"), "{message}");
    let cmd = "walburst run tiny.toml#wal-ac100-pagecount --seed 1";
    assert!(message.ends_with(&format!("reproduce: {cmd}")), "{message}");
    assert!(failure.text().unwrap_or("").contains(cmd));

    // The command reproduces the failure on its own (a plain run: no sweep index).
    let args: Vec<&str> = cmd.split(' ').skip(2).collect();
    let again = run(d, "again", &args);
    assert_eq!(again.code, 1, "{}", again.show());
    assert!(
        again
            .last_line()
            .starts_with("FAIL tiny/wal-ac100-pagecount seed=1:")
    );
    assert!(!d.join("again/sweep-index.jsonl").exists());
    let report = std::fs::read_dir(d.join("again"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "json"))
        .unwrap();
    let r = json(&report);
    assert_eq!(r["scenario"]["name"], "tiny/wal-ac100-pagecount");
    assert_eq!(r["reproduce"], cmd);
}

#[test]
fn declared_outcomes_pass_and_nightly_prints_its_base_seed_first() {
    let dir = setup(TINY_EXPECTED);
    let d = dir.path();
    let o = run(
        d,
        "out",
        &[
            "tiny.toml",
            "--nightly",
            "--date",
            "2026-04-15",
            "--seeds",
            "2",
        ],
    );
    assert_eq!(o.code, 0, "{}", o.show());
    assert!(
        o.stdout
            .starts_with("BASE_SEED=20260415000 (nightly: UTC date 2026-04-15); seeds 20260415000..=20260415001\n"),
        "{}",
        o.show()
    );
    assert_last_line(&o, 12, 0);
    let keys = started(&d.join("out/sweep-index.jsonl"));
    assert!(keys.contains(&"tiny/wal-ac1000-pagecount seed=20260415001".to_string()));
    let summary = json(&d.join("out/sweep-summary.json"));
    assert_eq!(summary["base_seed"], 20260415000u64);
    assert_eq!(summary["nightly_date"], "2026-04-15");
}

// ---------------------------------------------------------------------------------------
// Regression corpus
// ---------------------------------------------------------------------------------------

#[test]
fn shards_of_the_shipped_nightly_cover_exactly_its_pairs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let pairs = |extra: &[&str]| -> Vec<String> {
        let mut args = vec![
            "run",
            "scenarios/nightly.toml",
            "--nightly",
            "--date",
            "2026-04-15",
            "--seeds",
            "2",
            "--dry-run",
        ];
        args.extend_from_slice(extra);
        let o = exec(root, &args);
        assert_eq!(o.code, 0, "{}", o.show());
        let mut lines: Vec<String> = o.stdout.lines().map(str::to_string).collect();
        let last = lines.pop().unwrap();
        assert!(last.ends_with("nothing run"), "{last}");
        lines
    };
    let all = pairs(&[]);
    let one = pairs(&["--shard", "1/2"]);
    let two = pairs(&["--shard", "2/2"]);
    assert!(all.len() >= 1200, "600 cases x 2 seeds (plus the corpus)");
    assert_eq!(one.len() + two.len(), all.len());
    let a: BTreeSet<&String> = all.iter().collect();
    let b: BTreeSet<&String> = one.iter().chain(&two).collect();
    assert_eq!(a, b);
    assert!(all.iter().any(|l| l.contains(
        "nightly/wal-full-ac1000-w20-nolock-walaware seed=20260415001\twalburst run scenarios/nightly.toml#wal-full-ac1000-w20-nolock-walaware --seed 20260415001"
    )));
    let quarters: usize = (1..=4)
        .map(|k| pairs(&["--shard", &format!("{k}/4")]).len())
        .sum();
    assert_eq!(quarters, all.len());
}

#[test]
fn an_interrupted_sweep_starts_nothing_more_and_still_reports() {
    let dir = setup(TINY_EXPECTED);
    let d = dir.path();
    let out = d.join("out");
    let child = Command::new(BIN)
        .args(["run", "tiny.toml", "--seeds", "60", "--out"])
        .arg(&out)
        .arg("--work-dir")
        .arg(d.join("work"))
        .current_dir(d)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let index_path = out.join("sweep-index.jsonl");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let done = std::fs::read_to_string(&index_path)
            .map(|t| t.matches("\"event\":\"result\"").count())
            .unwrap_or(0);
        if done >= 3 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the sweep did not get going"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let o = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(130), "{stdout}");
    let last = stdout.lines().last().unwrap();
    assert!(
        last.ends_with(" failed") && last.contains(" passed, "),
        "{stdout}"
    );
    let s = json(&out.join("sweep-summary.json"));
    assert_eq!(s["totals"]["pairs"], 360);
    let not_run = s["totals"]["not_run"].as_u64().unwrap();
    assert!(not_run > 300, "most pairs never started: {}", s["totals"]);
    let lines = index(&index_path);
    assert_eq!(lines.last().unwrap()["event"], "end");
    let starts = lines.iter().filter(|l| l["event"] == "start").count();
    assert_eq!(starts as u64, 360 - not_run);
}
