//! `walburst compare`: the real binary, tiny bursts, everything written under a tempdir.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_walburst");

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn compare(dir: &Path, args: &[&str]) -> Out {
    let out = Command::new(BIN)
        .arg("compare")
        .args(args)
        .arg("--out")
        .arg(dir.join("out"))
        .arg("--work-dir")
        .arg(dir.join("work"))
        .current_dir(dir)
        .output()
        .expect("walburst runs");
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The one compare directory under `out/`.
fn compare_dir(dir: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(dir.join("out"))
        .expect("out exists")
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("compare-")
        })
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs[0].clone()
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn compare_two_strategies_prints_table_and_writes_json_and_svg() {
    let tmp = tempfile::tempdir().unwrap();
    let o = compare(
        tmp.path(),
        &[
            "pr-45525-burst",
            "--workers",
            "3",
            "--ops",
            "20",
            "--repeat",
            "2",
            "--strategies",
            "wal,flock-tx",
        ],
    );
    assert_eq!(o.code, 0, "stdout:\n{}\nstderr:\n{}", o.stdout, o.stderr);
    // Progress: one line per run, before it starts.
    for n in 1..=4 {
        assert!(
            o.stdout.contains(&format!("compare run {n}/4: ")),
            "{}",
            o.stdout
        );
    }
    // The side-by-side table.
    let header = o
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("wal") && l.contains("flock-tx"))
        .unwrap_or_else(|| panic!("no table header in:\n{}", o.stdout));
    assert!(header.find("wal") < header.find("flock-tx"));
    for row in [
        "commits/s median",
        "commits/s min-max",
        "commits/s vs wal",
        "commit latency p99 ms",
        "flock wait ms/commit",
        "first worker done s",
        "last worker done s",
        "corruption false / real",
        "sidecar <db>.lock seen",
    ] {
        assert!(o.stdout.contains(row), "no `{row}` row:\n{}", o.stdout);
    }
    assert!(
        o.stdout
            .contains("PASS compare pr-45525-burst: 4 runs passed")
    );

    let dir = compare_dir(tmp.path());
    let j = read_json(&dir.join("compare.json"));
    assert_eq!(j["compare_version"], 1);
    assert_eq!(j["seed"], 7);
    assert_eq!(j["passed"], true);
    let names: Vec<String> = j["strategies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["wal", "flock-tx"]);
    // Alternating order, recorded: A B, then B A.
    let runs = j["runs"].as_array().unwrap();
    let order: Vec<(u64, u64, String)> = runs
        .iter()
        .map(|r| {
            (
                r["repeat"].as_u64().unwrap(),
                r["position"].as_u64().unwrap(),
                r["strategy"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        order,
        [
            (1, 1, "wal".to_string()),
            (1, 2, "flock-tx".to_string()),
            (2, 1, "flock-tx".to_string()),
            (2, 2, "wal".to_string()),
        ]
    );
    // One schedule for every strategy.
    let group = &j["groups"][0];
    assert_eq!(group["workers"], 3);
    assert_eq!(group["same_schedule"], true);
    let hashes: Vec<&str> = runs
        .iter()
        .map(|r| r["schedule_hash"].as_str().unwrap())
        .collect();
    assert!(hashes.iter().all(|h| *h == hashes[0]), "{hashes:?}");
    for r in runs {
        assert_eq!(r["verdict"], "pass");
        assert_eq!(r["committed"], 60);
        assert!(r["commits_per_sec"].as_f64().unwrap() > 0.0);
        // The global lock shows its sidecar; plain WAL never creates it.
        let flock = r["strategy"] == "flock-tx";
        assert_eq!(r["sidecar_seen"], flock, "{r}");
        // The run's own report exists and reproduces through the strategy's scenario file.
        let report = read_json(Path::new(r["report"].as_str().unwrap()));
        let cmd = report["reproduce"].as_str().unwrap();
        assert!(
            cmd.contains(&format!(
                "pr-45525-burst_{}.toml",
                r["strategy"].as_str().unwrap()
            )),
            "{cmd}"
        );
        assert!(cmd.contains("--workers 3 --ops 20"), "{cmd}");
    }
    let summary = j["summary"].as_array().unwrap();
    assert_eq!(summary.len(), 2);
    assert_eq!(summary[0]["strategy"], "wal");
    assert_eq!(summary[0]["sidecar_seen"], 0);
    assert_eq!(summary[1]["sidecar_seen"], 2);
    assert_eq!(summary[1]["vs_first"]["against"], "wal");
    assert!(summary[1]["vs_first"]["commits_per_sec"].as_f64().unwrap() > 0.0);
    let cps = &summary[0]["commits_per_sec"];
    assert!(cps["min"].as_f64() <= cps["median"].as_f64());
    assert!(cps["median"].as_f64() <= cps["max"].as_f64());

    // The scenario files are runnable scenarios with the strategy applied.
    let flock_file = dir.join("scenarios/pr-45525-burst_flock-tx.toml");
    let text = std::fs::read_to_string(&flock_file).unwrap();
    assert!(text.contains("write_lock = \"flock\""), "{text}");

    let svg = std::fs::read_to_string(dir.join("compare.svg")).unwrap();
    let head = svg.trim_start();
    assert!(
        head.starts_with("<svg") || head.starts_with("<?xml"),
        "{head:.80}"
    );
    assert!(svg.trim_end().ends_with("</svg>"));
    assert!(svg.contains("flock-tx") && svg.contains("commits/s"));

    // The CDF per strategy and the page: every commit of each strategy, failures first.
    let cdf = std::fs::read_to_string(dir.join("compare-cdf.svg")).unwrap();
    assert!(
        cdf.contains("commit latency CDF per strategy"),
        "{cdf:.200}"
    );
    assert!(cdf.contains("wal: n=") && cdf.contains("flock-tx: n="));
    let html = std::fs::read_to_string(dir.join("compare.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains(r#"<span class="verdict pass">PASS</span>"#));
    assert!(html.find(r#"id="failures""#) < html.find(r#"id="latency""#));
    assert!(html.contains("commit latency CDF per strategy"));
    assert!(!html.contains("<script") && !html.contains("href=\"http"));
    // The side-by-side table is an HTML table, one row per strategy, ratios judged.
    assert!(
        !html.contains(r#"<pre class="json">"#),
        "a <pre> table is back"
    );
    assert!(
        html.contains("<th>commits/s vs wal</th>") && html.contains("<th>commits/s 95% CI</th>")
    );
    assert!(html.contains("<td>flock-tx</td>"));

    // Mean, standard deviation and interval beside median and range; the ratios' significance.
    let cps = &summary[1]["commits_per_sec"];
    assert_eq!(cps["n"], 2);
    let (lo, hi) = (
        cps["ci95"][0].as_f64().unwrap(),
        cps["ci95"][1].as_f64().unwrap(),
    );
    let mean = cps["mean"].as_f64().unwrap();
    assert!(lo <= mean && mean <= hi, "{cps}");
    assert!(cps["std_dev"].as_f64().unwrap() >= 0.0);
    let sig = &summary[1]["vs_first"]["significance"];
    for metric in ["commits_per_sec", "wall_secs", "latency_p99_ms"] {
        let s = sig[metric].as_str().unwrap();
        assert!(
            ["significant", "no_significant_difference"].contains(&s),
            "{metric}: {s}"
        );
    }
    // A ratio with overlapping ranges is marked as such in the console and on the page.
    let first = &summary[0]["commits_per_sec"];
    let overlap = first["min"].as_f64() <= cps["max"].as_f64()
        && cps["min"].as_f64() <= first["max"].as_f64();
    assert_eq!(
        sig["commits_per_sec"] == "no_significant_difference",
        overlap,
        "{first} {cps}"
    );
    if sig
        .as_object()
        .unwrap()
        .values()
        .any(|v| v == "no_significant_difference")
    {
        assert!(o.stdout.contains("(n.s.)"), "{}", o.stdout);
        assert!(
            o.stdout.contains("no significant difference"),
            "{}",
            o.stdout
        );
        assert!(html.contains("no significant difference"));
    }
    assert!(o.stdout.contains("commits/s mean ± sd") && o.stdout.contains("p99 ms 95% CI"));

    // Every run links its own page and timeline, relative to the compare directory.
    for r in runs {
        let page = PathBuf::from(r["page"].as_str().unwrap());
        let rel = page.strip_prefix(&dir).unwrap().display().to_string();
        assert!(rel.starts_with("runs/"), "{rel}");
        assert!(
            html.contains(&format!(r#"<a href="{rel}">page</a>"#)),
            "{rel}"
        );
        assert!(html.contains(&format!(r#"<a href="{rel}#timeline">timeline</a>"#)));
        let text = std::fs::read_to_string(dir.join(&rel)).unwrap();
        assert!(text.contains(r#"id="timeline""#) && text.contains("<svg"));
    }

    // Nothing is left in the work directory by passing runs.
    let left: Vec<_> = std::fs::read_dir(tmp.path().join("work"))
        .map(|d| d.collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn compare_over_worker_counts_with_checkpoint_lock() {
    let tmp = tempfile::tempdir().unwrap();
    let o = compare(
        tmp.path(),
        &[
            "smoke",
            "--seed",
            "3",
            "--workers",
            "2,1",
            "--ops",
            "12",
            "--repeat",
            "1",
            "--strategies",
            "flock-ckpt,wal-per-op",
            "--synchronous",
            "normal",
        ],
    );
    assert_eq!(o.code, 0, "stdout:\n{}\nstderr:\n{}", o.stdout, o.stderr);
    let j = read_json(&compare_dir(tmp.path()).join("compare.json"));
    assert_eq!(j["seed"], 3);
    assert_eq!(j["synchronous"], "normal");
    let workers: Vec<u64> = j["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["workers"].as_u64().unwrap())
        .collect();
    assert_eq!(workers, [1, 2], "worker counts ascending");
    assert!(
        j["groups"]
            .as_array()
            .unwrap()
            .iter()
            .all(|g| g["same_schedule"] == true)
    );
    assert_eq!(j["summary"].as_array().unwrap().len(), 4);
    assert!(o.stdout.contains("1 worker x 12 ops") && o.stdout.contains("2 workers x 12 ops"));
    for r in j["runs"].as_array().unwrap() {
        assert_eq!(r["sidecar_seen"], r["strategy"] == "flock-ckpt", "{r}");
    }
    let notes = strs(&j["notes"]);
    assert!(
        notes.iter().any(|n| n.contains("synchronous = normal")),
        "{notes:?}"
    );
    // One repeat: no interval, and the table says so instead of judging the ratios.
    for s in j["summary"].as_array().unwrap() {
        assert!(s["commits_per_sec"].get("ci95").is_none(), "{s}");
        if let Some(v) = s.get("vs_first") {
            assert_eq!(v["significance"]["commits_per_sec"], "no_interval", "{v}");
        }
    }
    assert!(
        o.stdout.contains("no confidence interval can be computed"),
        "{}",
        o.stdout
    );
    assert!(!o.stdout.contains("(n.s.)"), "{}", o.stdout);
}

/// Every `*.html` under a directory.
fn pages(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(pages(&p));
        } else if p.extension().is_some_and(|x| x == "html") {
            out.push(p);
        }
    }
    out
}

#[test]
fn compare_and_run_pages_show_no_absolute_path_of_the_machine() {
    // The command runs from a directory of its own, so `--out` and `--work-dir` are outside
    // it; --keep leaves the run directories, so every run's page names one.
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path().join("cwd");
    std::fs::create_dir(&cwd).unwrap();
    let out = Command::new(BIN)
        .args([
            "compare",
            "smoke",
            "--workers",
            "2",
            "--ops",
            "6",
            "--repeat",
            "2",
        ])
        .args(["--strategies", "wal,flock-tx", "--keep", "--out"])
        .arg(tmp.path().join("out"))
        .arg("--work-dir")
        .arg(tmp.path().join("work"))
        .current_dir(&cwd)
        .output()
        .expect("walburst runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = compare_dir(tmp.path());
    let abs = tmp.path().display().to_string();
    // Control: what the pages are drawn from does hold the machine's paths (the JSON keeps
    // them for tools), so their absence below is the eliding's doing.
    let json = std::fs::read_to_string(dir.join("compare.json")).unwrap();
    assert!(
        json.contains(&format!("{abs}/work/")),
        "no run dir in the JSON"
    );
    assert!(json.contains(&format!("{abs}/out/")));
    let pages = pages(&dir);
    assert_eq!(
        pages.len(),
        5,
        "the compare page and four run pages: {pages:?}"
    );
    for p in &pages {
        let html = std::fs::read_to_string(p).unwrap();
        assert!(!html.contains(&abs), "{} shows {abs}", p.display());
    }
    let run_page = pages
        .iter()
        .find(|p| p.parent().unwrap().ends_with("runs"))
        .unwrap();
    let html = std::fs::read_to_string(run_page).unwrap();
    assert!(
        html.contains("&lt;work-dir&gt;/walburst-"),
        "run dir not shown elided"
    );
    let html = std::fs::read_to_string(dir.join("compare.html")).unwrap();
    assert!(
        html.contains("smoke_wal.toml"),
        "the strategies' scenario files are named"
    );
}

#[test]
fn compare_bad_input_exits_2_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    for (args, needles) in [
        (
            vec!["--strategies", "wal,global"],
            vec![
                "`global`",
                "wal, wal-per-op, flock-tx, flock-conn, flock-poll, flock-ckpt",
            ],
        ),
        (vec!["--repeat", "0"], vec!["--repeat 0", "1..=100"]),
        (
            vec!["--synchronous", "sometimes"],
            vec!["sometimes", "possible values: off, normal, full, extra"],
        ),
        (vec!["--workers", "0"], vec!["workload.workers", "1..=512"]),
        (vec!["no-such-scenario"], vec!["no-such-scenario", "smoke"]),
    ] {
        let o = compare(tmp.path(), &args);
        assert_eq!(o.code, 2, "{args:?}: {}{}", o.stdout, o.stderr);
        for n in needles {
            assert!(o.stderr.contains(n), "{args:?}: `{n}` not in {}", o.stderr);
        }
        assert!(o.stdout.is_empty(), "{args:?}: {}", o.stdout);
        assert!(!tmp.path().join("out").exists(), "{args:?} wrote a report");
        assert!(
            !tmp.path().join("work").exists(),
            "{args:?} made a run directory"
        );
    }
}
