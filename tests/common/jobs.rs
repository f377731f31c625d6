//! The jobs app (`tests/fixtures/jobs_app.py`): an external worker with its own schema and
//! `[ledger]`, honest or lying by mode, run through the real `walburst` binary.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{Run, run, scenario_file};

pub fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/jobs_app.py")
}

/// python3 must be installed for these tests; say so plainly when it is not.
pub fn require_python() {
    let ok = std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "these tests run the fixture app with `python3`, which was not found on PATH; install Python 3.9+"
    );
}

/// A scenario running the jobs app in `mode` with short deadlines.
pub fn jobs_scenario(command: &str, mode: &str) -> String {
    format!(
        r#"name = "jobs-{mode}"
[workload]
workers = 3
ops_per_worker = 8
[limits]
start_timeout_secs = 20
stall_timeout_secs = 2
run_timeout_secs = 60
[worker]
command = ["python3", {command:?}, {mode:?}]
[ledger]
present = "SELECT worker, seq FROM jobs"
[[ledger.rows]]
name = "job rows"
query = "SELECT worker, seq FROM jobs"
kinds = ["create_task"]
"#
    )
}

pub fn run_mode(dir: &Path, mode: &str) -> (Run, Duration) {
    require_python();
    let command = fixture().display().to_string();
    let path = scenario_file(dir, mode, &jobs_scenario(&command, mode));
    let t0 = Instant::now();
    let r = run(dir, &[path.to_str().unwrap(), "--seed", "3"]);
    (r, t0.elapsed())
}

/// Every failure and liveness message, with its signature, for asserting on named reasons.
pub fn reasons(r: &Run) -> String {
    ["failures", "liveness"]
        .iter()
        .flat_map(|k| r.report[*k].as_array().cloned().unwrap_or_default())
        .map(|f| {
            format!(
                "{}/{}: {}",
                f["category"].as_str().unwrap_or_default(),
                f["detector"].as_str().unwrap_or_default(),
                f["message"].as_str().unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}
