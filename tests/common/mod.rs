//! Shared helpers for integration tests: run the real `walburst` binary on real files in a
//! temporary directory and read back its JSON report.
#![allow(dead_code)]

pub mod jobs;
pub mod nightly;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_walburst");

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub report: Value,
    pub report_path: PathBuf,
}

impl Run {
    /// The run's HTML page, read from the path its `page: ` line names.
    pub fn page_html(&self) -> String {
        let page = self
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("page: "))
            .and_then(|l| l.split(" (drawn").next())
            .expect("a page line");
        std::fs::read_to_string(page).unwrap()
    }

    pub fn passed(&self) -> bool {
        self.report["verdict"] == "pass"
    }
    pub fn u(&self, pointer: &str) -> u64 {
        self.report
            .pointer(pointer)
            .and_then(Value::as_u64)
            .unwrap_or_else(|| panic!("report has no integer at {pointer}: {}", self.stdout))
    }
    pub fn s(&self, pointer: &str) -> String {
        self.report
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("report has no string at {pointer}"))
            .to_string()
    }
    pub fn failures(&self) -> Vec<String> {
        self.report["failures"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["message"].as_str().unwrap().to_string())
            .collect()
    }
    /// `category/detector/kind` of every safety failure, in report order.
    pub fn failure_signatures(&self) -> Vec<String> {
        self.report["failures"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                format!(
                    "{}/{}/{}",
                    v["category"].as_str().unwrap(),
                    v["detector"].as_str().unwrap(),
                    v["kind"].as_str().unwrap()
                )
            })
            .collect()
    }
    /// The categories of every safety failure, in report order.
    pub fn failure_categories(&self) -> Vec<String> {
        self.report["failures"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["category"].as_str().unwrap().to_string())
            .collect()
    }
    pub fn notes(&self) -> Vec<String> {
        self.report["notes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    }
}

/// Writes a scenario file into `dir` and returns its path.
pub fn scenario_file(dir: &Path, name: &str, toml: &str) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, toml).unwrap();
    path
}

/// The text of a shipped scenario, for tests that derive variants from it.
pub fn shipped(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/scenarios/{name}.toml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// Replaces `key = ...` inside the scenario text (first occurrence), or panics.
pub fn set(toml: &str, key: &str, value: &str) -> String {
    let mut out = Vec::new();
    let mut done = false;
    for line in toml.lines() {
        if !done && line.split('=').next().map(str::trim) == Some(key) {
            out.push(format!("{key} = {value}"));
            done = true;
        } else {
            out.push(line.to_string());
        }
    }
    assert!(done, "no `{key} =` line in scenario");
    out.join("\n") + "\n"
}

/// Runs `walburst <command> <args>` with reports and run directories inside `dir`;
/// returns (exit code, stdout, stderr).
/// `walburst <args>` run in `dir` (no output flags added); (exit code, stdout, stderr).
pub fn walburst_in(dir: &Path, args: &[&str]) -> (i32, String, String) {
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

pub fn walburst(dir: &Path, command: &str, args: &[&str]) -> (i32, String, String) {
    let o = Command::new(BIN)
        .arg(command)
        .args(args)
        .arg("--out")
        .arg(dir.join("reports"))
        .arg("--work-dir")
        .arg(dir.join("work"))
        .output()
        .expect("walburst runs");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Runs `walburst run <args>` with reports and run directories inside `dir`.
pub fn run(dir: &Path, args: &[&str]) -> Run {
    let (code, stdout, stderr) = walburst(dir, "run", args);
    let report_path = stdout
        .lines()
        .find_map(|l| l.strip_prefix("report: "))
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("no report line in output:\n{stdout}\n{stderr}"));
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(&report_path).unwrap()).unwrap();
    Run {
        code,
        stdout,
        stderr,
        report,
        report_path,
    }
}

/// The python3 the tests of `suite` run (3.9 or newer, with the sqlite3 module), or a clear
/// failure naming that suite.
pub fn python3_for(suite: &str) -> &'static str {
    let ok = Command::new("python3")
        .arg("-c")
        .arg("import sqlite3, sys; assert sys.version_info >= (3, 9)")
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        ok,
        "python3 (3.9 or newer, with the sqlite3 module) is not on PATH: {suite} needs it"
    );
    "python3"
}

/// `libwalburst_vfs.so` beside the walburst binary the tests run (where runs look for it):
/// built once per test binary, since `cargo test --test NAME` builds only the walburst
/// package.
pub fn vfs_library() -> &'static Path {
    static LIB: OnceLock<PathBuf> = OnceLock::new();
    LIB.get_or_init(|| {
        let lib = Path::new(BIN).with_file_name("libwalburst_vfs.so");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "-p", "walburst-vfs", "--manifest-path"])
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"));
        // The test binary's own profile: its directory is target/<profile>/deps.
        if BIN.contains("/release/") {
            cmd.arg("--release");
        }
        let ok = cmd.status().map(|s| s.success()).unwrap_or(false);
        assert!(
            ok && lib.is_file(),
            "cannot build the fault VFS library {} (cargo build -p walburst-vfs)",
            lib.display()
        );
        lib
    })
}
