//! The real binary on bad input (exit 2, a message naming the file, the field and what is
//! allowed, and nothing written), plus the `plan`, `list` and `--help` surfaces and the
//! shipped-scenario directory vs the embedded list.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use walburst::error::Chain;
use walburst::scenario::{self, ScenarioSource};

const EXE: &str = env!("CARGO_BIN_EXE_walburst");
const SCENARIO_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios");
/// Files in `scenarios/` that are suites, not scenarios, and are not embedded.
const NOT_SCENARIOS: [&str; 2] = ["nightly.toml", "regressions.toml"];

struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        // The work dir exists, as it would in real use; the out dir must not be created.
        fs::create_dir(dir.path().join("work")).expect("create work dir");
        Sandbox { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn out(&self) -> PathBuf {
        self.path().join("out")
    }

    fn work(&self) -> PathBuf {
        self.path().join("work")
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path().join(name);
        fs::write(&p, text).expect("write scenario");
        p
    }

    /// `walburst <args>` with the sandbox as working directory.
    fn cmd(&self, args: &[&str]) -> Output {
        Command::new(EXE)
            .args(args)
            .current_dir(self.path())
            .env_remove("RUST_BACKTRACE")
            .output()
            .expect("walburst starts")
    }

    /// `walburst run <args> --out <sandbox>/out --work-dir <sandbox>/work`.
    fn run(&self, args: &[&str]) -> Output {
        let out = self.out();
        let work = self.work();
        let mut all: Vec<&str> = vec!["run"];
        all.extend_from_slice(args);
        all.extend_from_slice(&[
            "--out",
            out.to_str().unwrap(),
            "--work-dir",
            work.to_str().unwrap(),
        ]);
        self.cmd(&all)
    }

    /// Runs `args`, expects exit 2 with every `needles` string on stderr, and checks that
    /// nothing was written anywhere.
    fn expect_rejected(&self, args: &[&str], needles: &[&str]) -> String {
        let before = self.listing();
        let o = self.run(args);
        let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
        let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
        assert_eq!(
            o.status.code(),
            Some(2),
            "walburst run {args:?}: expected exit 2 (bad input)\nstdout:\n{stdout}\nstderr:\n{stderr}"
        );
        assert!(
            stderr.starts_with("error: "),
            "walburst run {args:?}: stderr should start with `error: `:\n{stderr}"
        );
        assert!(
            !stderr.contains("panicked"),
            "walburst run {args:?}: panicked:\n{stderr}"
        );
        for needle in needles {
            assert!(
                stderr.contains(needle),
                "walburst run {args:?}: stderr should mention {needle:?}:\n{stderr}"
            );
        }
        assert!(
            !self.out().exists(),
            "walburst run {args:?}: bad input created the --out directory {}",
            self.out().display()
        );
        let leftovers: Vec<_> = fs::read_dir(self.work())
            .expect("work dir still exists")
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(
            leftovers.is_empty(),
            "walburst run {args:?}: bad input created run directories in --work-dir: {leftovers:?}"
        );
        assert_eq!(
            self.listing(),
            before,
            "walburst run {args:?}: bad input wrote into the working directory"
        );
        stderr
    }

    fn listing(&self) -> Vec<PathBuf> {
        let mut all = Vec::new();
        let mut stack = vec![self.path().to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p.clone());
                }
                all.push(p);
            }
        }
        all.sort();
        all
    }
}

/// A scenario file with `body` after a valid name; returns the sandbox and the file's path.
fn bad_file(file: &str, body: &str) -> (Sandbox, String) {
    let sb = Sandbox::new();
    let p = sb.write(file, &format!("name = \"bad\"\n{body}"));
    let p = p.to_str().unwrap().to_string();
    (sb, p)
}

fn shipped_names() -> Vec<&'static str> {
    scenario::embedded().iter().map(|e| e.name).collect()
}

// ---------------------------------------------------------------------------------------
// Bad input: exit 2, a precise message, nothing written.
// ---------------------------------------------------------------------------------------

#[test]
fn unknown_top_level_key() {
    let (sb, p) = bad_file("top.toml", "wokers = 3\n");
    sb.expect_rejected(
        &[&p],
        &[&p, "wokers", "unknown field", "`workload`", "`sqlite`"],
    );
}

#[test]
fn unknown_key_in_workload() {
    let (sb, p) = bad_file("wl.toml", "[workload]\nworker = 3\n");
    sb.expect_rejected(
        &[&p],
        &[
            &p,
            "worker = 3",
            "unknown field",
            "`workers`",
            "`ops_per_worker`",
        ],
    );
}

#[test]
fn wrong_type_for_workers() {
    let (sb, p) = bad_file("ty.toml", "[workload]\nworkers = \"many\"\n");
    sb.expect_rejected(
        &[&p],
        &[&p, "workers = \"many\"", "invalid type", "expected u32"],
    );
}

#[test]
fn zero_workers() {
    let (sb, p) = bad_file("w0.toml", "[workload]\nworkers = 0\n");
    sb.expect_rejected(&[&p], &[&p, "workload.workers", "= 0", "1..=512"]);
}

#[test]
fn too_many_workers() {
    let (sb, p) = bad_file("w513.toml", "[workload]\nworkers = 513\n");
    sb.expect_rejected(&[&p], &[&p, "workload.workers", "513", "1..=512"]);
}

#[test]
fn absurd_ops_per_worker() {
    let (sb, p) = bad_file("ops.toml", "[workload]\nops_per_worker = 2000000\n");
    sb.expect_rejected(
        &[&p],
        &[&p, "workload.ops_per_worker", "2000000", "1..=1000000"],
    );
}

#[test]
fn unknown_journal_mode() {
    let (sb, p) = bad_file("jm.toml", "[sqlite]\njournal_mode = \"wal2\"\n");
    sb.expect_rejected(
        &[&p],
        &[
            &p,
            "journal_mode",
            "wal2",
            "`wal`",
            "`delete`",
            "`truncate`",
            "`persist`",
        ],
    );
}

#[test]
fn unknown_scenario_name() {
    let sb = Sandbox::new();
    let mut needles = vec!["no-such-scenario", "shipped scenarios"];
    needles.extend(shipped_names());
    sb.expect_rejected(&["no-such-scenario"], &needles);
}

#[test]
fn missing_scenario_file() {
    let sb = Sandbox::new();
    sb.expect_rejected(
        &["nope/missing.toml"],
        &["nope/missing.toml", "cannot read"],
    );
}

#[test]
fn payload_min_greater_than_max() {
    let (sb, p) = bad_file("pb.toml", "[workload]\npayload_bytes = [10, 5]\n");
    sb.expect_rejected(
        &[&p],
        &[
            &p,
            "workload.payload_bytes",
            "[10, 5]",
            "min > max",
            "allowed",
        ],
    );
}

#[test]
fn all_mix_weights_zero() {
    let (sb, p) = bad_file("mix.toml", "[workload.mix]\ncreate_task = 0\n");
    sb.expect_rejected(
        &[&p],
        &[
            &p,
            "workload.mix",
            "create_task",
            "claim_task",
            "heartbeat",
            "add_comment",
            "complete_task",
            "gc_events",
            "checkpoint",
        ],
    );
}

#[test]
fn zero_workers_override_on_shipped_scenario() {
    let sb = Sandbox::new();
    sb.expect_rejected(
        &["smoke", "--workers", "0"],
        &["smoke", "--workers 0", "workload.workers", "1..=512"],
    );
}

#[test]
fn one_bad_scenario_among_good_ones_runs_nothing() {
    let (sb, p) = bad_file("late.toml", "[workload]\nworkers = 0\n");
    sb.expect_rejected(&["smoke", &p], &[&p, "workload.workers"]);
}

#[test]
fn plan_rejects_bad_input_with_exit_2() {
    let (sb, p) = bad_file("plan.toml", "[sqlite]\njournal_mode = \"wal2\"\n");
    let o = sb.cmd(&["plan", &p]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "stderr:\n{stderr}");
    assert!(o.stdout.is_empty(), "plan printed something on bad input");
    assert!(stderr.contains(&p) && stderr.contains("wal2"), "{stderr}");
}

// ---------------------------------------------------------------------------------------
// plan, list, help
// ---------------------------------------------------------------------------------------

fn plan_stdout(sb: &Sandbox, args: &[&str]) -> String {
    let mut all = vec!["plan"];
    all.extend_from_slice(args);
    let o = sb.cmd(&all);
    assert_eq!(
        o.status.code(),
        Some(0),
        "walburst {all:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).expect("plan prints UTF-8")
}

#[test]
fn plan_is_deterministic_by_seed() {
    let sb = Sandbox::new();
    let a = plan_stdout(&sb, &["pr-45525-burst", "--seed", "7"]);
    let b = plan_stdout(&sb, &["pr-45525-burst", "--seed", "7"]);
    let c = plan_stdout(&sb, &["pr-45525-burst", "--seed", "8"]);
    assert!(!a.is_empty());
    assert_eq!(a, b, "the same seed printed two different plans");
    assert_ne!(a, c, "seeds 7 and 8 printed the same plan");
}

#[test]
fn plan_prints_json_with_the_documented_keys() {
    let sb = Sandbox::new();
    for extra in [&[][..], &["--compact"][..]] {
        let mut args = vec!["pr-45525-burst", "--seed", "7"];
        args.extend_from_slice(extra);
        let text = plan_stdout(&sb, &args);
        let v: serde_json::Value = serde_json::from_str(&text).expect("plan output is JSON");
        let obj = v.as_object().expect("plan output is a JSON object");
        for key in ["format", "scenario", "seed", "schedule_hash", "workers"] {
            assert!(obj.contains_key(key), "plan output lacks `{key}`: {args:?}");
        }
        assert_eq!(v["scenario"], "pr-45525-burst");
        assert_eq!(v["seed"], 7);
        assert_eq!(v["format"], walburst::plan::PLAN_FORMAT);
        assert!(v["schedule_hash"].as_str().unwrap().starts_with("sha256:"));
        // The printed plan is the library's plan.
        let (s, _) = scenario::load("pr-45525-burst", &scenario::Overrides::default()).unwrap();
        let lib = walburst::plan::build(&s, 7);
        assert_eq!(v["schedule_hash"], lib.schedule_hash.as_str());
        assert_eq!(
            v["workers"].as_array().unwrap().len(),
            s.workload.workers as usize
        );
    }
    // Overrides change the plan that is printed.
    let text = plan_stdout(
        &sb,
        &["smoke", "--seed", "1", "--workers", "2", "--ops", "3"],
    );
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let workers = v["workers"].as_array().unwrap();
    assert_eq!(workers.len(), 2);
    assert!(
        workers
            .iter()
            .all(|w| w["ops"].as_array().unwrap().len() == 3)
    );
}

#[test]
fn list_names_every_shipped_scenario() {
    let sb = Sandbox::new();
    let o = sb.cmd(&["list"]);
    assert_eq!(o.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&o.stdout);
    let listed: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    let names = shipped_names();
    assert!(
        names.len() >= 5,
        "expected 5+ shipped scenarios, got {names:?}"
    );
    for name in [
        "pr-45525-burst",
        "kanban-mix",
        "global-lock",
        "delete-journal",
        "smoke",
    ] {
        assert!(names.contains(&name), "{name} is no longer shipped");
    }
    for name in &names {
        assert!(
            listed.contains(name),
            "`walburst list` omits {name}:\n{stdout}"
        );
    }
    assert_eq!(listed.len(), names.len(), "unexpected lines:\n{stdout}");
}

#[test]
fn top_level_help_hides_worker() {
    let sb = Sandbox::new();
    let o = sb.cmd(&["--help"]);
    assert_eq!(o.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&o.stdout);
    for sub in ["run", "plan", "list"] {
        assert!(stdout.contains(sub), "--help omits `{sub}`:\n{stdout}");
    }
    assert!(
        !stdout.lines().any(|l| l.trim_start().starts_with("worker")),
        "--help shows the hidden `worker` subcommand:\n{stdout}"
    );
    assert!(
        !stdout.contains("Internal"),
        "--help shows the internal worker subcommand:\n{stdout}"
    );
}

#[test]
fn run_help_lists_the_options() {
    let sb = Sandbox::new();
    let o = sb.cmd(&["run", "--help"]);
    assert_eq!(o.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&o.stdout);
    for flag in ["--seed", "--out", "--keep", "--workers", "--ops"] {
        assert!(stdout.contains(flag), "run --help omits {flag}:\n{stdout}");
    }
}

// ---------------------------------------------------------------------------------------
// scenarios/*.toml vs the embedded list
// ---------------------------------------------------------------------------------------

#[test]
fn every_scenario_file_is_valid_and_embedded_verbatim() {
    let mut files: Vec<PathBuf> = fs::read_dir(SCENARIO_DIR)
        .expect("scenarios/ is readable")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .filter(|p| {
            let name = p.file_name().unwrap().to_str().unwrap();
            !NOT_SCENARIOS.contains(&name)
        })
        .collect();
    files.sort();
    assert!(
        files.len() >= 5,
        "expected 5+ scenario files, found {files:?}"
    );

    let mut problems = Vec::new();
    for path in &files {
        let text = fs::read_to_string(path).unwrap();
        let stem = path.file_stem().unwrap().to_str().unwrap();
        if let Err(e) = scenario::parse_str(&text, &ScenarioSource::File(path.clone())) {
            problems.push(format!(
                "{} does not parse/validate: {}",
                path.display(),
                Chain(&e)
            ));
        }
        match scenario::find_embedded(stem) {
            None => problems.push(format!(
                "{} exists on disk but is not embedded: add \"{stem}\" to the shipped! list in harness/scenario/embedded.rs",
                path.display()
            )),
            Some(e) => {
                if e.toml != text {
                    problems.push(format!(
                        "{}: the embedded text differs from the file (rebuild, or fix harness/scenario/embedded.rs)",
                        path.display()
                    ));
                }
                if e.file != format!("scenarios/{stem}.toml") {
                    problems.push(format!(
                        "{}: embedded entry `{}` points at {}",
                        path.display(),
                        e.name,
                        e.file
                    ));
                }
            }
        }
    }
    // And the other way: nothing is embedded that is not on disk.
    for e in scenario::embedded() {
        let on_disk = Path::new(env!("CARGO_MANIFEST_DIR")).join(e.file);
        if !files.contains(&on_disk) {
            problems.push(format!(
                "harness/scenario/embedded.rs ships `{}` but {} is not a scenario file on disk",
                e.name,
                on_disk.display()
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_lockstep_only_scenario_refuses_free_mode_and_runs_in_lockstep_by_default() {
    let sb = Sandbox::new();
    // Its yield points pause a lockstep step: a free run would never reach its window.
    sb.expect_rejected(
        &["wal-reset-bug", "--seed", "7", "--mode", "free"],
        &[
            "wal-reset-bug",
            "io.points[0].action",
            "yield",
            "--mode lockstep",
        ],
    );
    // Without --mode it runs where its steps exist (the bundled SQLite is fixed: PASS).
    let o = sb.run(&["wal-reset-bug", "--seed", "7", "--quiet"]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{stdout}");
    let seed_line = stdout.lines().next().unwrap_or_default();
    assert!(
        seed_line.starts_with("SEED=7 ") && seed_line.contains(" mode=lockstep "),
        "{stdout}"
    );
}
