//! Hard edges of the environment and the command line (issue 10, items 13 and 16-19): what
//! a run does when its outputs cannot be written, when it is signalled, when two sweeps
//! share an output directory, and what its messages and reproduce commands say.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::BIN;
use serde_json::Value;

/// `walburst <args>` in `dir`; (exit code, stdout, stderr).
fn walburst(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let o = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("walburst starts");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

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
