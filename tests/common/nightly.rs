//! Helpers of the nightly tests (tests/nightly.rs, tests/nightly_corpus.rs): the real
//! binary on tiny scenarios in temporary directories.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use super::BIN;

/// Six cases: WAL x {ac100, ac1000} x {noguard, pagecount} and DELETE x {noguard,
/// pagecount} (autocheckpoint folded). Both WAL page-count cases fail (false reports).
pub const TINY: &str = r#"
name = "tiny"
seeds = [1]

[sqlite]
synchronous = "off"

[workload]
workers = 2
ops_per_worker = 15

[matrix]
journal_mode = ["wal", "delete"]
wal_autocheckpoint = [100, 1000]
guard = ["none", "page-count"]
"#;

/// The same matrix, its failures declared: every case passes.
pub const TINY_EXPECTED: &str = r#"
name = "tiny"
seeds = [1]

[sqlite]
synchronous = "off"

[workload]
workers = 2
ops_per_worker = 15

[matrix]
guard = ["none", "page-count"]
wal_autocheckpoint = [100, 1000]
journal_mode = ["wal", "delete"]

[[matrix.expect]]
when = { guard = "page-count", journal_mode = "wal" }
false_corruption = "some"
note = "page-count fires in WAL by design"
"#;

pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    pub fn last_line(&self) -> &str {
        self.stdout.lines().last().unwrap_or("")
    }
    pub fn show(&self) -> String {
        format!("stdout:\n{}\nstderr:\n{}", self.stdout, self.stderr)
    }
}

pub fn exec(dir: &Path, args: &[&str]) -> Out {
    let o = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env_remove("NO_COLOR")
        .output()
        .expect("walburst runs");
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// `walburst run ARGS --out DIR/<out> --work-dir DIR/work`, in DIR.
pub fn run(dir: &Path, out: &str, args: &[&str]) -> Out {
    let out_dir = dir.join(out);
    let work = dir.join("work");
    let mut all = vec!["run"];
    all.extend_from_slice(args);
    all.extend_from_slice(&[
        "--out",
        out_dir.to_str().unwrap(),
        "--work-dir",
        work.to_str().unwrap(),
    ]);
    exec(dir, &all)
}

pub fn setup(toml: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tiny.toml"), toml).unwrap();
    dir
}

pub fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The run index's lines.
pub fn index(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Keys of the pairs a run index says were started.
pub fn started(path: &Path) -> Vec<String> {
    index(path)
        .iter()
        .filter(|l| l["event"] == "start")
        .map(|l| l["key"].as_str().unwrap().to_string())
        .collect()
}

pub fn assert_last_line(o: &Out, passed: u64, failed: u64) {
    assert_eq!(
        o.last_line(),
        format!("{passed} passed, {failed} failed"),
        "last line\n{}",
        o.show()
    );
}
