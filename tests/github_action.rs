//! The GitHub Action's shell steps (`.github/action/*.sh`, called by `action.yml`) run here
//! as a runner would run them: bash, the inputs in `INPUT_*` variables, and files standing
//! in for `$GITHUB_OUTPUT`, `$GITHUB_PATH` and `$GITHUB_STEP_SUMMARY`. No Actions runner is
//! needed; the walburst they run is the real binary, on real files in a temp directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_walburst");

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// What one step did: its exit status and output, and what it wrote to the runner's files.
struct Step {
    code: i32,
    log: String,
    outputs: BTreeMap<String, String>,
    summary: String,
    path: String,
}

impl Step {
    fn out(&self, key: &str) -> &str {
        self.outputs
            .get(key)
            .unwrap_or_else(|| panic!("no output {key}: {:?}\n{}", self.outputs, self.log))
    }
}

/// Runs `.github/action/SCRIPT` in `dir` with `env`, fresh runner files each time.
fn step(dir: &Path, script: &str, env: &[(&str, &str)]) -> Step {
    let files = tempfile::tempdir_in(dir).unwrap();
    let (output, path, summary) = (
        files.path().join("output"),
        files.path().join("path"),
        files.path().join("summary"),
    );
    for f in [&output, &path, &summary] {
        std::fs::write(f, "").unwrap();
    }
    let mut cmd = Command::new("bash");
    cmd.arg(repo().join(".github/action").join(script))
        .current_dir(dir)
        .env("GITHUB_OUTPUT", &output)
        .env("GITHUB_PATH", &path)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .env("RUNNER_OS", "Linux");
    for (k, _) in std::env::vars() {
        if k.starts_with("INPUT_") {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env.iter().copied());
    let o = cmd.output().expect("bash runs");
    let read = |p: &PathBuf| std::fs::read_to_string(p).unwrap();
    let outputs = read(&output)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Step {
        code: o.status.code().unwrap_or(-1),
        log: format!(
            "{script}: {}\nstdout:\n{}\nstderr:\n{}",
            o.status,
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
        outputs,
        summary: read(&summary),
        path: read(&path),
    }
}

#[test]
fn action_yml_declares_every_input_it_uses_and_its_scripts_exist() {
    let yml = std::fs::read_to_string(repo().join("action.yml")).unwrap();
    let declared: Vec<&str> = yml
        .split("\ninputs:\n")
        .nth(1)
        .and_then(|rest| rest.split("\noutputs:\n").next())
        .expect("an inputs: table before outputs:")
        .lines()
        .filter(|l| l.starts_with("  ") && !l.starts_with("   ") && l.ends_with(':'))
        .map(|l| l.trim().trim_end_matches(':'))
        .collect();
    assert!(declared.contains(&"scenario") && declared.contains(&"partition"));
    for used in yml.split("inputs.").skip(1) {
        let name: String = used
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        assert!(
            declared.contains(&name.as_str()),
            "inputs.{name} is not declared"
        );
    }
    for script in yml.split("$GITHUB_ACTION_PATH/").skip(1) {
        let file = script.split('"').next().unwrap();
        assert!(repo().join(file).is_file(), "{file} does not exist");
    }
    // Every INPUT_ a script reads is passed in by action.yml.
    for script in ["install.sh", "run.sh", "cache-key.sh"] {
        let text = std::fs::read_to_string(repo().join(".github/action").join(script)).unwrap();
        for used in text.split("INPUT_").skip(1) {
            let var: String = used
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || *c == '_')
                .collect();
            assert!(
                yml.contains(&format!("INPUT_{var}: ${{{{ inputs.")),
                "{script} reads INPUT_{var}, which action.yml does not set"
            );
        }
    }
}

#[test]
fn install_takes_a_given_binary_or_builds_one_and_the_cache_key_is_stable() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let given = step(d, "install.sh", &[("INPUT_WALBURST_BIN", BIN)]);
    assert_eq!(given.code, 0, "{}", given.log);
    assert_eq!(given.out("walburst"), BIN);
    let bin_dir = Path::new(BIN).parent().unwrap();
    assert_eq!(given.path.trim(), bin_dir.to_str().unwrap());

    let missing = step(
        d,
        "install.sh",
        &[("INPUT_WALBURST_BIN", "no/such/walburst")],
    );
    assert_eq!(missing.code, 2, "{}", missing.log);
    assert!(
        missing
            .log
            .contains("::error::walburst action: walburst-bin"),
        "{}",
        missing.log
    );

    // The build branch, in this test's own profile and target directory: cargo finds the
    // binary fresh, so this is the real command without a real rebuild.
    let target = bin_dir.parent().unwrap();
    let profile = if bin_dir.ends_with("debug") {
        "dev"
    } else {
        "release"
    };
    let built = step(
        d,
        "install.sh",
        &[
            ("INPUT_PROFILE", profile),
            ("CARGO_TARGET_DIR", target.to_str().unwrap()),
        ],
    );
    assert_eq!(built.code, 0, "{}", built.log);
    assert_eq!(built.out("walburst"), BIN);

    let a = step(d, "cache-key.sh", &[("INPUT_PROFILE", "release")]);
    let b = step(d, "cache-key.sh", &[("INPUT_PROFILE", "release")]);
    assert_eq!(a.code, 0, "{}", a.log);
    assert_eq!(a.out("key"), b.out("key"));
    assert_eq!(a.out("restore"), "walburst-Linux-release-");
    assert!(a.out("key").starts_with("walburst-Linux-release-"));
    assert_eq!(a.out("key").len(), "walburst-Linux-release-".len() + 20);
}

#[test]
fn run_writes_outputs_a_verdict_table_and_fails_the_step_only_when_walburst_failed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let small = ("INPUT_ARGS", "--workers 2 --ops 10");
    let pass = step(
        d,
        "run.sh",
        &[
            ("WALBURST", BIN),
            ("INPUT_SCENARIO", "smoke"),
            ("INPUT_SEED", "2"),
            ("INPUT_OUT", "pass"),
            small,
        ],
    );
    assert_eq!(pass.code, 0, "{}", pass.log);
    assert_eq!(pass.out("exit-code"), "0");
    assert_eq!(pass.out("verdict"), "pass");
    assert_eq!(pass.out("reports"), "pass");
    assert!(
        pass.summary.starts_with("## walburst run: passed (exit 0)"),
        "{}",
        pass.summary
    );
    assert!(
        pass.summary.contains("| PASS | smoke | 2 | free | "),
        "{}",
        pass.summary
    );
    assert!(
        pass.summary
            .contains("`walburst run smoke --seed 2 --workers 2 --ops 10`")
    );
    assert!(pass.summary.contains("artifact `walburst-reports`"));
    assert!(
        std::fs::read_dir(d.join("pass"))
            .unwrap()
            .any(|e| { e.unwrap().path().extension().is_some_and(|x| x == "html") })
    );

    // A failing run fails the step after writing everything, and says why in the table.
    let damaged = [
        ("WALBURST", BIN),
        ("INPUT_SCENARIO", "truncated-db"),
        ("INPUT_OUT", "fail"),
        ("INPUT_ARTIFACT_NAME", "damage"),
        small,
    ];
    let fail = step(d, "run.sh", &damaged);
    assert_eq!(fail.code, 1, "{}", fail.log);
    assert_eq!(fail.out("verdict"), "fail");
    assert!(fail.summary.starts_with("## walburst run: failed (exit 1)"));
    assert!(
        fail.summary.contains("| FAIL | truncated-db | 1 | free | ")
            && fail.summary.contains("integrity: integrity_check")
            && fail
                .summary
                .contains("`walburst run truncated-db --seed 1 --workers 2 --ops 10`")
            && fail.summary.contains("artifact `damage`"),
        "{}",
        fail.summary
    );
    // The kept run directory is in the artifact, its copy of the report not in the table.
    assert!(d.join("fail/runs").is_dir());
    assert_eq!(
        fail.summary.matches("| FAIL |").count(),
        1,
        "{}",
        fail.summary
    );
    let mut only_report = damaged.to_vec();
    only_report[2] = ("INPUT_OUT", "fail2");
    only_report.push(("INPUT_FAIL_ON_FAILURE", "false"));
    let reported = step(d, "run.sh", &only_report);
    assert_eq!(reported.code, 0, "{}", reported.log);
    assert_eq!(reported.out("exit-code"), "1");

    // Bad input: walburst's own words in the summary; a bad command is refused by the step.
    let bad = step(
        d,
        "run.sh",
        &[
            ("WALBURST", BIN),
            ("INPUT_SCENARIO", "no-such-scenario"),
            ("INPUT_OUT", "bad"),
        ],
    );
    assert_eq!(bad.code, 2, "{}", bad.log);
    assert_eq!(bad.out("verdict"), "bad-input");
    assert!(
        bad.summary
            .contains("No report was written. walburst said:")
    );
    assert!(bad.summary.contains("no-such-scenario"), "{}", bad.summary);
    let unknown = step(
        d,
        "run.sh",
        &[("WALBURST", BIN), ("INPUT_COMMAND", "bench")],
    );
    assert_eq!(unknown.code, 2, "{}", unknown.log);
    assert!(
        unknown
            .log
            .contains("::error::walburst action: command 'bench'")
    );
}

#[test]
fn nightly_partitions_then_merge_give_the_sweeps_summary() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for k in 1..=2 {
        let partition = format!("hash:{k}/2");
        let out = format!("p{k}");
        let s = step(
            d,
            "run.sh",
            &[
                ("WALBURST", BIN),
                ("INPUT_COMMAND", "nightly"),
                ("INPUT_SCENARIO", "smoke"),
                ("INPUT_SEEDS", "3"),
                ("INPUT_DATE", "2026-04-15"),
                ("INPUT_PARTITION", &partition),
                ("INPUT_OUT", &out),
                ("INPUT_ARGS", "--workers 2 --ops 10 --no-regressions"),
            ],
        );
        assert_eq!(s.code, 0, "{}", s.log);
        assert!(d.join(&out).join("junit.xml").is_file(), "{}", s.log);
        assert!(
            s.summary
                .starts_with("## walburst nightly: passed (exit 0)")
        );
        assert!(s.summary.contains("### walburst: "), "{}", s.summary);
    }
    let m = step(
        d,
        "run.sh",
        &[
            ("WALBURST", BIN),
            ("INPUT_COMMAND", "merge"),
            ("INPUT_DIRS", "p1 p2"),
            ("INPUT_OUT", "merged"),
        ],
    );
    assert_eq!(m.code, 0, "{}", m.log);
    assert!(
        m.summary.contains("### walburst: 3 passed, 0 failed"),
        "{}",
        m.summary
    );
    assert!(m.log.contains("hash partitions present 2/2"), "{}", m.log);
    let none = step(
        d,
        "run.sh",
        &[("WALBURST", BIN), ("INPUT_COMMAND", "merge")],
    );
    assert_eq!(none.code, 2, "{}", none.log);
}

#[test]
fn compare_gets_a_strategy_table_and_its_runs() {
    let dir = tempfile::tempdir().unwrap();
    let s = step(
        dir.path(),
        "run.sh",
        &[
            ("WALBURST", BIN),
            ("INPUT_COMMAND", "compare"),
            ("INPUT_SCENARIO", "smoke"),
            ("INPUT_OUT", "cmp"),
            ("INPUT_ARGS", "--repeat 1 --workers 2 --ops 10"),
        ],
    );
    assert_eq!(s.code, 0, "{}", s.log);
    assert!(
        s.summary
            .starts_with("## walburst compare: passed (exit 0)")
    );
    assert!(
        s.summary
            .contains("### compare smoke seed=1: 1 repeat(s) per strategy")
    );
    assert!(s.summary.contains("| wal | 2 | 1/1 | "), "{}", s.summary);
    assert!(
        s.summary.contains("| flock-tx | 2 | 1/1 | "),
        "{}",
        s.summary
    );
    assert_eq!(
        s.summary.matches("| PASS | smoke.").count(),
        2,
        "{}",
        s.summary
    );
    assert!(!s.summary.contains("No report was written"));
}
