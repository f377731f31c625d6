//! The Python package (`adapters/python/pyproject.toml`) as a user installs it: a fresh venv,
//! one `pip install` from this repository, then `walburst --help`, `import walburst_worker`,
//! `walburst run smoke` and pytest with the plugin's fixture, all from outside the checkout.
//!
//! Needs `python3` (3.9+, with `venv`) and, the first time, the Python package registry for
//! the build tools (maturin, pytest; pip's cache after that) and the crate registry (maturin
//! runs `cargo metadata`, which fetches the crates of every platform, Windows' included). The wheel's binary is built in
//! this test's own cargo profile and target directory, so maturin finds it fresh and only
//! packs it (seconds), where a plain `pip install ./adapters/python` builds a release binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_walburst");

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The python3 this test runs, or a clear failure.
fn python3() -> &'static str {
    let ok = Command::new("python3")
        .args([
            "-c",
            "import sys, venv, sqlite3; assert sys.version_info >= (3, 9)",
        ])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "python3 (3.9 or newer, with the venv and sqlite3 modules) is not on PATH: \
         tests/python_package.rs installs the walburst Python package into a fresh venv"
    );
    "python3"
}

/// The target directory and cargo profile this test binary was built in (`target/debug`
/// is the `dev` profile).
fn target_and_profile() -> (PathBuf, String) {
    let dir = Path::new(BIN)
        .parent()
        .expect("the binary is in a profile directory");
    let profile = match dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => "dev".to_string(),
        Some(other) => other.to_string(),
    };
    (
        dir.parent().expect("a target directory").to_path_buf(),
        profile,
    )
}

fn show(what: &str, o: &Output) -> String {
    format!(
        "{what}: {}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Runs `cmd` in `cwd` with a PATH that has no venv on it (nothing here is activated) and
/// no WALBURST_BIN, and asserts it succeeded.
fn ok(what: &str, cmd: &mut Command, cwd: &Path) -> Output {
    let o = cmd
        .current_dir(cwd)
        .env_remove("WALBURST_BIN")
        .env_remove("VIRTUAL_ENV")
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    assert!(o.status.success(), "{}", show(what, &o));
    o
}

#[test]
fn one_pip_install_gives_the_binary_the_adapter_and_the_pytest_plugin() {
    let tmp = tempfile::tempdir().unwrap();
    let elsewhere = tmp.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let venv = tmp.path().join("venv");
    ok(
        "python3 -m venv",
        Command::new(python3()).args(["-m", "venv"]).arg(&venv),
        tmp.path(),
    );
    let bin = venv.join("bin");
    let py = bin.join("python");
    ok(
        "pip install maturin pytest",
        Command::new(&py).args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            // In-tree builds (the package's Cargo.toml is two directories up) need 21.3.
            "pip>=21.3",
            "maturin>=1.5,<2",
            "pytest>=7",
        ]),
        tmp.path(),
    );

    // The one install: from the repository, no index, the binary packed from this profile.
    let (target, profile) = target_and_profile();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    ok(
        "pip install ./adapters/python",
        Command::new(&py)
            .args([
                "-m",
                "pip",
                "install",
                "--no-index",
                "--no-build-isolation",
                "--disable-pip-version-check",
            ])
            .arg(repo().join("adapters/python"))
            // What maturin's build backend adds to its cargo build (any pip version).
            .env("MATURIN_PEP517_ARGS", format!("--profile {profile}"))
            // maturin is started by name: the venv's, on PATH for the build only.
            .env("PATH", path)
            .env("CARGO_TARGET_DIR", &target),
        tmp.path(),
    );

    let help = ok(
        "walburst --help",
        Command::new(bin.join("walburst")).arg("--help"),
        &elsewhere,
    );
    assert!(
        String::from_utf8_lossy(&help.stdout).contains("Usage: walburst <COMMAND>"),
        "{}",
        show("walburst --help", &help)
    );

    let import = ok(
        "import walburst_worker",
        Command::new(&py).args([
            "-c",
            "import walburst_worker, pytest_walburst; print(walburst_worker.__file__)",
        ]),
        &elsewhere,
    );
    let from = String::from_utf8_lossy(&import.stdout).trim().to_string();
    assert!(
        Path::new(&from).starts_with(&venv),
        "walburst_worker was imported from {from}, not from the venv"
    );

    let smoke = ok(
        "walburst run smoke",
        Command::new(bin.join("walburst"))
            .args(["run", "smoke", "--workers", "2", "--ops", "20", "--out"])
            .arg(tmp.path().join("reports")),
        &elsewhere,
    );
    assert!(
        String::from_utf8_lossy(&smoke.stdout).contains("PASS smoke seed=1: "),
        "{}",
        show("walburst run smoke", &smoke)
    );

    // pytest finds the plugin through its entry point and the binary beside the
    // interpreter; the example test and the plugin's own tests, from outside the checkout.
    let adapter = repo().join("adapters/python");
    let pytest = ok(
        "pytest",
        Command::new(&py)
            .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "--basetemp"])
            .arg(tmp.path().join("pytest"))
            .arg(adapter.join("examples"))
            .arg(adapter.join("plugin_tests")),
        &elsewhere,
    );
    let said = String::from_utf8_lossy(&pytest.stdout);
    assert!(said.contains("9 passed"), "{}", show("pytest", &pytest));
}
