//! The run's errors print through `error::Chain` as their messages printed before the error
//! convention (issue 21): kept beside the errors, so the shared `error` module imports
//! nothing above it.

use crate::error::Chain;

/// The crate's own errors print through `Chain` as their messages printed before the
/// convention, when each message built `: {cause}` in itself (the old format in each
/// comment).
#[test]
fn the_crates_errors_print_as_they_did() {
    use super::{RunError, SetupStage};
    use crate::runner::ExecError;
    use crate::runner::start_error::StartError;
    use crate::scenario::{Invalid, LoadError};
    use std::path::PathBuf;

    let enospc = || std::io::Error::from_raw_os_error(28);
    // "cannot {doing} {}: {error}"
    let e = crate::report::WriteError {
        doing: "write",
        path: PathBuf::from("/r/report.json"),
        error: enospc(),
    };
    assert_eq!(
        Chain(&e).to_string(),
        "cannot write /r/report.json: No space left on device (os error 28)"
    );
    // "{origin}: {problem}" around "case {case}{with}: {problem}"
    let e = LoadError::new(
        "m.toml",
        Invalid::Case {
            case: "m/wal".into(),
            with: " with --workers 0".into(),
            problem: Box::new(Invalid::range("workload.workers", 0, "1..=512")),
        },
    );
    assert_eq!(
        Chain(&e).to_string(),
        "m.toml: case m/wal with --workers 0: field `workload.workers` = 0 is out of range; allowed: 1..=512"
    );
    // transparent, transparent, "cannot start worker {worker} ({}): {source}"
    let e = RunError::Exec(ExecError::Start(StartError::Spawn {
        worker: 0,
        program: PathBuf::from("/nonexistent/walburst"),
        source: std::io::Error::from_raw_os_error(2),
    }));
    assert_eq!(
        Chain(&e).to_string(),
        "cannot start worker 0 (/nonexistent/walburst): No such file or directory (os error 2)"
    );
    // "{stage} {}: {error}" with SQLite's message, not its result code after it
    let conn = rusqlite::Connection::open_in_memory().unwrap();
    let e = RunError::Setup {
        stage: SetupStage::Schema,
        path: PathBuf::from("/r/db"),
        error: conn.execute("CREATE TABLE", []).unwrap_err(),
    };
    assert_eq!(
        Chain(&e).to_string(),
        "cannot create the schema in /r/db: incomplete input"
    );
}

/// A `points = "shm"` scenario asked to run free (compare, a sweep: any caller but `walburst
/// run`, which refuses it at load) is refused before anything starts, naming the field;
/// the same scenario in lockstep gets past that check.
#[test]
fn shm_points_outside_lockstep_are_refused_by_run_itself() {
    use crate::run::{RunRequest, event::Silent, run};
    use crate::scenario::{Mode, Overrides, ScenarioSource, embedded, parse_str};
    let source = ScenarioSource::Embedded("wal-checkpointer-shm".into());
    let toml = embedded()
        .iter()
        .find(|e| e.name == "wal-checkpointer-shm")
        .unwrap()
        .toml;
    let scenario = parse_str(toml, &source).unwrap();
    let work = tempfile::tempdir().unwrap();
    let req = |mode| RunRequest {
        scenario: scenario.clone(),
        source: source.clone(),
        overrides: Overrides::default(),
        seed: 1,
        out_dir: None,
        keep: false,
        work_dir: Some(work.path().to_path_buf()),
        worker_exe: work.path().join("no-such-walburst"),
        mode,
        replay: None,
    };
    let e = run(&req(Mode::Free), &mut Silent).err().expect("refused");
    assert!(matches!(e, super::RunError::Mode { .. }), "{e:?}");
    let text = Chain(&e).to_string();
    assert!(
        text.contains("field `lockstep.points`") && text.contains("--mode lockstep"),
        "{text}"
    );
    // In lockstep it goes on (and fails later, on the missing work directory).
    let e = run(&req(Mode::Lockstep), &mut Silent)
        .err()
        .expect("no directory");
    assert!(!matches!(e, super::RunError::Mode { .. }), "{e:?}");
}
