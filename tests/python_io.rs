//! The fault VFS in an external worker (PROTOCOL.md, "The fault VFS in an external worker"):
//! the Python example worker on the interpreter's own sqlite3 module, with walburst's fault
//! VFS preloaded into every Python process; real processes, real files, real power loss.
//! These tests need `python3` on PATH and fail with a clear message without it; they build
//! the preload library (`cargo build -p walburst-vfs`) beside the walburst binary first.

mod common;

use std::path::{Path, PathBuf};

use common::*;

/// A short python-power-loss-full run (seed 3, 10 ops) whose worker command is `command`:
/// it must fail; returns the report and why each killed worker was killed.
fn failing_power_loss_run(dir: &Path, command: &str) -> (Run, Vec<String>) {
    let path = python_scenario(
        dir,
        "python-power-loss-full",
        Some(command),
        &[("ops_per_worker", "10")],
    );
    let r = run(dir, &[path.to_str().unwrap(), "--seed", "3"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let why = killed_because(&r).into_iter().map(String::from).collect();
    (r, why)
}

/// Why the runner killed each worker it killed, in worker order.
fn killed_because(r: &Run) -> Vec<&str> {
    r.report["workers"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|w| w["killed_because"].as_str())
        .collect()
}

/// The python3 these tests run, or a clear failure.
fn python3() -> &'static str {
    python3_for("the fault VFS tests with the Python adapter (tests/python_io.rs)")
}

fn adapter(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("adapters/python")
        .join(file)
}

/// A shipped Python scenario rewritten to a temp file whose worker command is `command`
/// (default: the example worker by absolute path), with `key = value` edits.
fn python_scenario(
    dir: &Path,
    shipped_name: &str,
    command: Option<&str>,
    edits: &[(&str, &str)],
) -> PathBuf {
    vfs_library();
    let mut text = shipped(shipped_name);
    for (k, v) in edits {
        text = set(&text, k, v);
    }
    let default = format!(
        "[\"{}\", \"{}\"]",
        python3(),
        adapter("kanban_worker.py").display()
    );
    text = set(&text, "command", command.unwrap_or(&default));
    scenario_file(dir, &format!("{shipped_name}-test"), &text)
}

#[test]
fn python_power_loss_full_loses_no_acknowledged_commit() {
    let dir = tempfile::tempdir().unwrap();
    let path = python_scenario(dir.path(), "python-power-loss-full", None, &[]);
    // Seed 3 fires late enough for dozens of acknowledged commits.
    let r = run(dir.path(), &[path.to_str().unwrap(), "--seed", "3"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.passed(), "{:?}", r.failures());
    let io = &r.report["io"];
    assert_eq!(io["fired"][0]["action"], "power-loss", "{io}");
    // The point fired in a Python process, not in walburst.
    assert_eq!(r.report["workers"][0]["language"], "python");
    assert!(
        r.u("/io/durability/acknowledged") > 0,
        "nothing acknowledged: the oracle judged nothing: {io}"
    );
    assert_eq!(r.u("/io/durability/lost"), 0, "{io}");
    assert!(r.u("/io/power_loss/log_records") > 0, "{io}");
}

/// Negative control for the durability oracle in the app's process: the app sets
/// `synchronous = OFF` behind the scenario's `full` (a wrapper patches its config), so
/// SQLite never syncs and the power loss takes acknowledged commits, which FULL promises
/// it cannot: the durability oracle must fail the run by name.
#[test]
fn an_app_that_turns_syncs_off_loses_acknowledged_commits_and_the_oracle_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let wrapper = dir.path().join("sync_off_app.py");
    std::fs::write(
        &wrapper,
        format!(
            "import runpy, sys\n\
             sys.path.insert(0, {adapters:?})\n\
             import kanban_app\n\
             _init = kanban_app.Config.__init__\n\
             def init(self, *a, **kw):\n    _init(self, *a, **kw)\n    self.synchronous = 'off'\n\
             kanban_app.Config.__init__ = init\n\
             sys.argv = [{worker:?}]\n\
             runpy.run_path({worker:?}, run_name='__main__')\n",
            adapters = adapter("").display().to_string(),
            worker = adapter("kanban_worker.py").display().to_string(),
        ),
    )
    .unwrap();
    let command = format!("[\"{}\", \"{}\"]", python3(), wrapper.display());
    let path = python_scenario(dir.path(), "python-power-loss-full", Some(&command), &[]);
    let r = run(dir.path(), &[path.to_str().unwrap(), "--seed", "3"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.u("/io/durability/lost") > 0, "{}", r.report["io"]);
    assert!(
        r.failure_signatures()
            .iter()
            .any(|s| s.starts_with("durability/durability_oracle/")),
        "{:?}\n{:?}",
        r.failure_signatures(),
        r.failures()
    );
}

/// A worker command that removes `LD_PRELOAD` before the app starts: its connections never
/// go through the fault VFS, and the run fails naming that, never a silent pass.
#[test]
fn a_worker_that_drops_the_preload_fails_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let command = format!(
        "[\"env\", \"-u\", \"LD_PRELOAD\", \"{}\", \"{}\"]",
        python3(),
        adapter("kanban_worker.py").display()
    );
    let (r, why) = failing_power_loss_run(dir.path(), &command);
    assert!(
        why.iter()
            .any(|w| w.contains("the fault VFS did not load in the worker")),
        "{why:?}\n{}",
        r.stdout
    );
}

/// A VFS channel that lies: the worker command writes an `io_hello`, then an `io_resumed`
/// for a point the scenario does not have, on the channel's descriptor before it starts the
/// app. The contract refuses it by name, as it would on stdout.
#[test]
fn a_lie_on_the_vfs_channel_is_a_protocol_violation() {
    let dir = tempfile::tempdir().unwrap();
    let liar = dir.path().join("liar.py");
    std::fs::write(
        &liar,
        format!(
            "import json, os, sys\n\
             fd = int(os.environ['WALBURST_VFS_FD'])\n\
             w = int(os.environ['WALBURST_WORKER'])\n\
             for m in ({{'msg': 'io_hello', 'worker': w, 'pid': os.getpid(), 'sqlite_version': 'x'}},\n\
                       {{'msg': 'io_resumed', 'worker': w, 'point': 9, 't_ns': 1, 'wal_bytes': None}}):\n\
             \x20   os.write(fd, (json.dumps(m) + '\\n').encode())\n\
             os.execv(sys.executable, [sys.executable, {worker:?}])\n",
            worker = adapter("kanban_worker.py").display().to_string(),
        ),
    )
    .unwrap();
    let command = format!("[\"{}\", \"{}\"]", python3(), liar.display());
    let (r, why) = failing_power_loss_run(dir.path(), &command);
    assert!(
        why.iter().any(|w| w.contains(
            "protocol violation: an io message for io point 9 that the scenario does not have"
        )),
        "{why:?}\n{}",
        r.stdout
    );
}

/// `[io] counters = true` with the Python worker: the VFS counts the app's own I/O per
/// worker and reports it when the app closes its last connection (the adapter leaves with
/// `os._exit`, where no destructor runs).
#[test]
fn the_apps_io_is_counted_per_worker() {
    let dir = tempfile::tempdir().unwrap();
    vfs_library();
    let mut text = shipped("python-pr-45525-burst");
    for (k, v) in [("workers", "2"), ("ops_per_worker", "20")] {
        text = set(&text, k, v);
    }
    let command = format!(
        "[\"{}\", \"{}\"]",
        python3(),
        adapter("kanban_worker.py").display()
    );
    text = set(&text, "command", &command) + "\n[io]\ncounters = true\n";
    let path = scenario_file(dir.path(), "counted", &text);
    let r = run(dir.path(), &[path.to_str().unwrap(), "--seed", "1"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    for w in ["0", "1"] {
        let wal_writes = r.report["io"]["counters"][w]["total"]["wal"]["write"]
            .as_u64()
            .unwrap_or(0);
        assert!(wal_writes >= 20, "worker {w}: {}", r.report["io"]);
    }
}

/// In lockstep the power loss in the Python process lands in the same step of the same
/// interleaving every run: the VFS counts the app's calls, and every call happens inside a
/// granted step.
#[test]
fn python_power_loss_in_lockstep_is_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let path = python_scenario(
        dir.path(),
        "python-power-loss-full",
        None,
        &[("ops_per_worker", "30")],
    );
    let runs: Vec<Run> = (0..2)
        .map(|_| {
            run(
                dir.path(),
                &[path.to_str().unwrap(), "--seed", "3", "--mode", "lockstep"],
            )
        })
        .collect();
    let key = |r: &Run| {
        assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
        (
            r.report["io"]["fired"][0]["step"].clone(),
            r.report["trace_hash"].clone(),
            r.u("/io/durability/acknowledged"),
            r.u("/io/durability/lost"),
        )
    };
    let first = key(&runs[0]);
    assert!(
        first.0.is_u64(),
        "no step stamped: {}",
        runs[0].report["io"]
    );
    assert_eq!(first.3, 0);
    assert_eq!(first, key(&runs[1]));
}
