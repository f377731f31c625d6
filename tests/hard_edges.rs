//! Hard edges of the environment and the command line (issue 10, items 13 and 16-19): what
//! a run does when its outputs cannot be written, when it is signalled, when two sweeps
//! share an output directory, and what its messages and reproduce commands say.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{BIN, walburst_in as walburst};
use serde_json::Value;

fn scenario(dir: &Path, name: &str, body: &str) -> String {
    let p = dir.join(format!("{name}.toml"));
    fs::write(&p, body).unwrap();
    p.to_str().unwrap().to_string()
}

const TINY: &str = "name = \"tiny\"\n[sqlite]\nsynchronous = \"off\"\n[workload]\nworkers = 2\nops_per_worker = 3\n";

/// The `report: PATH` line of a run's output, resolved against `dir`.
fn report_path(dir: &Path, stdout: &str) -> PathBuf {
    let p = stdout
        .lines()
        .find_map(|l| l.strip_prefix("report: "))
        .unwrap_or_else(|| panic!("no report line:\n{stdout}"));
    dir.join(p)
}

fn read_json(p: &Path) -> Value {
    serde_json::from_str(&fs::read_to_string(p).unwrap()).unwrap()
}

// ---------------------------------------------------------------------------------------
// Item 18: the reproduce command of `replay --lockstep` reproduces that replay.
// ---------------------------------------------------------------------------------------

#[test]
fn replay_lockstep_reproduce_command_replays_the_commit_order_again() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p = scenario(d, "tiny", TINY);
    let (code, out, err) = walburst(
        d,
        &[
            "run",
            &p,
            "--seed",
            "2",
            "--keep",
            "--out",
            "out",
            "--work-dir",
            "work",
        ],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    let free = report_path(d, &out);

    let (code, out, err) = walburst(
        d,
        &[
            "replay",
            "--lockstep",
            free.to_str().unwrap(),
            "--out",
            "out2",
            "--work-dir",
            "work",
        ],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    let first = read_json(&report_path(d, &out));
    let reproduce = first["reproduce"].as_str().unwrap().to_string();
    assert_eq!(
        reproduce,
        format!("walburst replay --lockstep {}", free.display())
    );
    assert!(
        out.lines().last().unwrap().starts_with("REPRODUCED"),
        "{out}"
    );

    // Run the command it printed: the same commit order replays to the same trace.
    let args: Vec<&str> = reproduce.split(' ').skip(1).collect();
    let mut all = args.clone();
    all.extend_from_slice(&["--out", "out3", "--work-dir", "work"]);
    let (code, out, err) = walburst(d, &all);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("in lockstep, one transaction at a time"),
        "{out}"
    );
    let second = read_json(&report_path(d, &out));
    assert_eq!(second["mode"], "lockstep");
    assert_eq!(second["trace_hash"], first["trace_hash"]);
    assert_eq!(second["content_hash"], first["content_hash"]);
    assert_eq!(second["reproduce"], first["reproduce"]);
}

// ---------------------------------------------------------------------------------------
// Item 19: what the console says.
// ---------------------------------------------------------------------------------------

#[test]
fn seed_line_names_the_mode_and_quiet_prints_seed_and_verdict_only() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p = scenario(d, "tiny", TINY);
    for mode in ["free", "lockstep"] {
        let (code, out, err) = walburst(
            d,
            &[
                "run",
                &p,
                "--mode",
                mode,
                "-q",
                "--out",
                "out",
                "--work-dir",
                "work",
            ],
        );
        assert_eq!(code, 0, "{out}\n{err}");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "--quiet prints two lines:\n{out}");
        assert!(
            lines[0].starts_with(&format!("SEED=1 scenario=tiny mode={mode} ")),
            "{out}"
        );
        assert!(lines[1].starts_with("PASS tiny seed=1: "), "{out}");
    }
    // A failing quiet run: still two lines, the last with its reproduce command.
    let bad = scenario(
        d,
        "lost",
        &format!("{TINY}[faults]\nafter_run = \"delete-committed-row\"\n"),
    );
    let (code, out, _) = walburst(
        d,
        &["run", &bad, "-q", "--out", "out", "--work-dir", "work"],
    );
    assert_eq!(code, 1, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[1].starts_with("FAIL tiny seed=1: "), "{out}");
    assert!(lines[1].contains("; reproduce: walburst run "), "{out}");
}

#[test]
fn verdict_line_counts_ambiguous_ops() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p = scenario(
        d,
        "amb",
        &format!("{TINY}[faults]\nkill = \"after-commit\"\nkills = 1\nrespawn = true\n"),
    );
    let (code, out, err) = walburst(
        d,
        &[
            "run",
            &p,
            "--seed",
            "4",
            "--out",
            "out",
            "--work-dir",
            "work",
        ],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    let last = out.lines().last().unwrap();
    assert!(
        last.contains(", 1 ambiguous (1 found committed), "),
        "the one-line summary should count the ambiguous op:\n{last}"
    );
}

#[test]
fn help_and_readme_agree_with_behaviour() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (_, plan_help, _) = walburst(d, &["plan", "--help"]);
    assert!(
        !plan_help.contains("report"),
        "`plan` writes no report; its help should not mention one:\n{plan_help}"
    );
    let (_, run_help, _) = walburst(d, &["run", "--help"]);
    assert!(
        run_help.contains("free mode refuses it"),
        "run --help should say --scheduler needs lockstep:\n{run_help}"
    );
    let (code, _, err) = walburst(d, &["run", "smoke", "--scheduler", "pct"]);
    assert_eq!(code, 2, "{err}");
    let readme = fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let default = walburst::compare::strategies::DEFAULT_STRATEGIES;
    assert!(
        readme.contains(&format!("default `{default}`")),
        "README should name compare's default strategies ({default})"
    );
}

// ---------------------------------------------------------------------------------------
// Item 13: outputs checked before the run; a report that cannot be written keeps evidence.
// ---------------------------------------------------------------------------------------

/// A worker executable that waits until `gate` exists (at most 60 s), then runs the real
/// walburst worker: the test decides when the run may proceed, with no timing guess.
fn gated_worker(dir: &Path, gate: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let script = dir.join(format!(
        "gated-{}.sh",
        gate.file_name().unwrap().to_str().unwrap()
    ));
    fs::write(
        &script,
        format!(
            "#!/bin/sh\ni=0\nwhile [ ! -e '{}' ]; do i=$((i+1)); [ $i -gt 6000 ] && exit 99; sleep 0.01; done\nexec '{}' \"$@\"\n",
            gate.display(),
            BIN
        ),
    )
    .unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    script
}

/// Starts `walburst args` in `dir`, reads stdout until a line starting with `marker`, runs
/// `meanwhile`, then collects the rest: (exit code, all stdout).
fn run_until(dir: &Path, args: &[&str], marker: &str, meanwhile: impl FnOnce()) -> (i32, String) {
    use std::io::{BufRead, BufReader, Read};
    use std::process::Stdio;
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut text = String::new();
    loop {
        let mut line = String::new();
        // The run cannot end before `meanwhile` opens the gate, so this read cannot block
        // forever on a healthy binary; a crashed one ends the stream.
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "no {marker} line:\n{text}"
        );
        text.push_str(&line);
        if line.starts_with(marker) {
            break;
        }
    }
    meanwhile();
    out.read_to_string(&mut text).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("walburst did not end:\n{text}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    (status.code().unwrap_or(-1), text)
}

#[test]
fn unwritable_outputs_are_refused_before_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p = scenario(d, "tiny", TINY);
    fs::write(d.join("file"), "not a directory").unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["run", &p, "--out", "file/out"], "--out file/out"),
        (vec!["run", &p, "--work-dir", "file"], "--work-dir file"),
        (
            vec![
                "run",
                &p,
                "--seeds",
                "1",
                "--junit",
                "file/j.xml",
                "--no-regressions",
            ],
            "--junit file/j.xml",
        ),
        (
            vec![
                "run",
                &p,
                "--seeds",
                "1",
                "--out",
                "file",
                "--no-regressions",
            ],
            "--out file",
        ),
        (vec!["compare", &p, "--out", "file/x"], "--out file/x"),
    ];
    for (args, needle) in cases {
        let (code, out, err) = walburst(d, &args);
        assert_eq!(code, 2, "{args:?}\n{out}\n{err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(err.contains("not a directory"), "{args:?}: {err}");
        assert!(!out.contains("SEED="), "{args:?} ran:\n{out}");
    }
    assert!(!d.join("reports").exists());
}

#[test]
fn a_report_that_cannot_be_written_keeps_the_run_directory_and_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p = scenario(d, "tiny", TINY);
    let gate = d.join("go");
    let worker = gated_worker(d, &gate);
    let (code, out) = run_until(
        d,
        &[
            "run",
            &p,
            "--out",
            "out/reports",
            "--work-dir",
            "work",
            "--worker-exe",
            worker.to_str().unwrap(),
        ],
        "SEED=",
        || {
            // Mid-run, the report directory's parent becomes a regular file.
            fs::write(d.join("out"), "in the way").unwrap();
            fs::write(&gate, "").unwrap();
        },
    );
    assert_eq!(code, 3, "{out}");
    assert!(
        out.contains("error: cannot write the report into out/reports"),
        "{out}"
    );
    let kept = out
        .lines()
        .find_map(|l| l.strip_prefix("run directory kept: "))
        .unwrap_or_else(|| panic!("no kept run directory named:\n{out}"));
    let kept = d.join(kept);
    let records = fs::read_to_string(kept.join("records.jsonl")).unwrap();
    assert_eq!(records.lines().count(), 6, "every op's record is kept");
    let report = read_json(&kept.join("report.json"));
    assert_eq!(report["verdict"], "pass");
    assert!(kept.join("db").is_dir(), "the database is kept");
    assert!(
        out.lines().last().unwrap().starts_with("PASS tiny seed=1"),
        "{out}"
    );
}

#[test]
fn a_junit_file_that_cannot_be_written_does_not_end_as_a_clean_sweep() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p = scenario(d, "tiny", TINY);
    let gate = d.join("go-sweep");
    let worker = gated_worker(d, &gate);
    let (code, out) = run_until(
        d,
        &[
            "run",
            &p,
            "--seeds",
            "1",
            "--no-regressions",
            "--junit",
            "j/junit.xml",
            "--out",
            "out",
            "--work-dir",
            "work",
            "--worker-exe",
            worker.to_str().unwrap(),
        ],
        "SWEEP ",
        || {
            fs::write(d.join("j"), "in the way").unwrap();
            fs::write(&gate, "").unwrap();
        },
    );
    assert_eq!(code, 3, "{out}");
    let last = out.lines().last().unwrap();
    assert!(
        last.starts_with("1 passed, 0 failed; 1 output(s) could not be written"),
        "{out}"
    );
    // The sweep's index is there; merging it into a directory below a file is refused
    // before anything is written.
    assert!(d.join("out/sweep-index.jsonl").is_file());
    let (code, _, err) = walburst(d, &["merge", "out", "--out", "j/merged"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--out j/merged") && err.contains("not a directory"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------
// Item 17: one index per --out; the corpus is edited as TOML, under a lock.
// ---------------------------------------------------------------------------------------

#[test]
fn a_second_sweep_into_the_same_out_is_refused_and_the_first_index_stays_whole() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p = scenario(d, "tiny", TINY);
    let gate = d.join("go-first");
    let worker = gated_worker(d, &gate);
    let sweep = |extra: &[&str]| {
        let mut v = vec![
            "run".to_string(),
            p.clone(),
            "--seeds".into(),
            "1".into(),
            "--no-regressions".into(),
            "--out".into(),
            "out".into(),
            "--work-dir".into(),
            "work".into(),
        ];
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let first = sweep(&["--worker-exe", worker.to_str().unwrap()]);
    let first: Vec<&str> = first.iter().map(String::as_str).collect();
    let (code, out) = run_until(d, &first, "SWEEP ", || {
        // The first sweep holds --out (its pair waits at the gate): a second is refused.
        let second = sweep(&[]);
        let second: Vec<&str> = second.iter().map(String::as_str).collect();
        let (code, out, err) = walburst(d, &second);
        assert_eq!(code, 2, "{out}\n{err}");
        assert!(
            err.contains("another sweep is writing its run index there"),
            "{err}"
        );
        assert!(!out.contains("SEED="), "{out}");
        fs::write(&gate, "").unwrap();
    });
    assert_eq!(code, 0, "{out}");
    let index = fs::read_to_string(d.join("out/sweep-index.jsonl")).unwrap();
    let events: Vec<String> = index
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("every index line is JSON");
            v["event"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(events, ["sweep", "start", "result", "end"], "{index}");
}

#[test]
fn record_failures_edits_the_corpus_as_toml_keeping_its_comments() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p = scenario(
        d,
        "tiny",
        &format!("{TINY}[faults]\nafter_run = \"delete-committed-row\"\n"),
    );
    // A corpus written by hand in TOML's inline form, with comments.
    let corpus = d.join("reg.toml");
    fs::write(
        &corpus,
        "# kept by hand: this comment stays\nregression = [\n  { case = \"tiny\", scenario = \"tiny.toml\", seed = 99, note = \"by hand\" },\n]\n",
    )
    .unwrap();
    let (code, out, err) = walburst(
        d,
        &[
            "run",
            &p,
            "--seeds",
            "1",
            "--record-failures",
            "--regressions",
            corpus.to_str().unwrap(),
            "--out",
            "out",
            "--work-dir",
            "work",
        ],
    );
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.contains("recorded 1 new regression(s)"), "{out}\n{err}");
    let text = fs::read_to_string(&corpus).unwrap();
    assert!(
        text.starts_with("# kept by hand: this comment stays\n"),
        "{text}"
    );
    let loaded = walburst::nightly::corpus::load(&corpus).expect("the corpus still loads");
    let seeds: Vec<u64> = loaded.entries.iter().map(|e| e.seed).collect();
    assert_eq!(seeds, [99, 1], "{text}");
    assert_eq!(loaded.entries[0].note, "by hand");
}
