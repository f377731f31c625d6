//! Errors at the library's boundaries are typed: each names the field, flag, file or case it
//! is about as data, so the CLI (and anyone driving walburst as a library) can tell them
//! apart without reading the message. Real files in temporary directories; nothing runs.

use std::path::Path;

use walburst::compare::CompareError;
use walburst::error::Chain;
use walburst::nightly::merge::{MergeRequest, merge_command};
use walburst::nightly::{MergeError, load_case};
use walburst::replay::{ReplayError, read_report};
use walburst::scenario::{
    Invalid, LoadError, LoadProblem, Overrides, ScenarioSource, load, parse_str,
};

fn parse(text: &str) -> LoadError {
    let text = format!("name = \"t\"\n{text}");
    parse_str(&text, &ScenarioSource::Embedded("t".into())).unwrap_err()
}

fn subject(e: &LoadError) -> &str {
    e.invalid()
        .unwrap_or_else(|| panic!("not a refused value: {e}"))
        .subject()
}

#[test]
fn refused_values_name_their_field_as_data() {
    let e = parse("[workload]\nworkers = 0\n");
    assert!(
        Chain(&e)
            .to_string()
            .contains("field `workload.workers` = 0 is out of range"),
        "{e}"
    );
    assert!(matches!(
        e.invalid(),
        Some(Invalid::OutOfRange { field, value, .. }) if field == "workload.workers" && value == "0"
    ));
    assert_eq!(
        subject(&parse("[workload]\npayload_bytes = [9, 3]\n")),
        "workload.payload_bytes"
    );
    assert_eq!(
        subject(&parse("[faults]\nkill = \"hang\"\n")),
        "faults",
        "a kill point without a count is about the table"
    );
    assert_eq!(
        subject(&parse(
            "[[io.points]]\nfile = \"main\"\nop = \"write\"\nnth = [5, 2]\naction = \"kill\"\n"
        )),
        "io.points[0].nth"
    );
    assert_eq!(
        subject(&parse("[ledger]\npresent = \" \"\n")),
        "ledger.present"
    );
}

#[test]
fn syntax_and_shape_errors_are_their_own_kind() {
    let e = parse("[workload\n");
    assert!(
        matches!(&e.problem, LoadProblem::Syntax { field, .. } if field.is_empty()),
        "{e}"
    );
    let e = parse("[workload]\nworkers = \"many\"\n");
    assert!(
        matches!(&e.problem, LoadProblem::Syntax { field, .. } if field == "workload.workers"),
        "{e}"
    );
    let e = load("no-such-scenario-anywhere", &Overrides::default()).unwrap_err();
    assert!(
        matches!(&e.problem, LoadProblem::UnknownName { shipped } if !shipped.is_empty()),
        "{e}"
    );
}

#[test]
fn matrix_cases_are_named_in_their_errors() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("m.toml");
    std::fs::write(
        &file,
        "name = \"m\"\n[workload]\nops_per_worker = 10\n[matrix]\nworkers = [1, 2]\n",
    )
    .unwrap();
    let spec = file.display().to_string();
    let e = load_case(&spec, &Overrides::default()).unwrap_err();
    assert!(
        matches!(&e.problem, LoadProblem::NeedsCase { cases: 2, .. }),
        "{e}"
    );
    let e = load_case(&format!("{spec}#nope"), &Overrides::default()).unwrap_err();
    assert!(
        matches!(&e.problem, LoadProblem::NoSuchCase { wanted, total: 2, .. } if wanted == "nope"),
        "{e}"
    );
    std::fs::write(&file, "name = \"m\"\n[matrix]\nworkers = [2, 2]\n").unwrap();
    let e = load_case(&spec, &Overrides::default()).unwrap_err();
    assert_eq!(subject(&e), "matrix.workers");
    std::fs::write(
        &file,
        "name = \"m\"\n[workload]\nops_per_worker = 10\n[matrix]\nworkers = [1, 2]\n",
    )
    .unwrap();
    let e = load_case(&format!("{spec}#nope"), &Overrides::default()).unwrap_err();
    assert!(
        matches!(&e.problem, LoadProblem::NoSuchCase { wanted, total: 2, .. } if wanted == "nope"),
        "{e}"
    );
    // An override that breaks one case names the case, the override and the field.
    let big = Overrides {
        ops: Some(1_000_000),
        workers: None,
        ..Overrides::default()
    };
    std::fs::write(
        &file,
        "name = \"m\"\n[workload]\nworkers = 1\n[matrix]\nconnections_per_worker = [1, 2]\nworkers = [1, 11]\n",
    )
    .unwrap();
    let e = load_case(&format!("{spec}#w11-c1"), &big).unwrap_err();
    match &e.problem {
        LoadProblem::Invalid(i @ Invalid::Case { case, .. }) => {
            assert_eq!(case, "m/w11-c1");
            assert_eq!(i.subject(), "workload");
        }
        other => panic!("not a case error: {other}"),
    }
}

#[test]
fn compare_refuses_flags_by_variant() {
    let args = |extra: &[&str]| walburst::cli::args::compare_request(extra).unwrap();
    let e = walburst::compare::prepare(&args(&["--strategies", "wal,wal"])).unwrap_err();
    assert!(
        matches!(e, CompareError::StrategyTwice { ref name } if name == "wal"),
        "{e}"
    );
    let e = walburst::compare::prepare(&args(&["--repeat", "101"])).unwrap_err();
    assert!(matches!(e, CompareError::Repeat(101)), "{e}");
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn merge_refuses_what_is_not_a_sweep_index() {
    let dir = tempfile::tempdir().unwrap();
    let merge = |dirs: Vec<std::path::PathBuf>| {
        merge_command(
            MergeRequest {
                dirs,
                out: dir.path().join("merged"),
            },
            &mut walburst::nightly::event::SweepRecorder::default(),
        )
        .unwrap_err()
    };
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    assert!(matches!(merge(vec![empty.clone()]), MergeError::NoIndex(p) if p == empty));
    let headless = write(dir.path(), "sweep-index.jsonl", "{\"line\":\"end\"}\n");
    let e = merge(vec![headless.clone()]);
    assert!(
        matches!(&e, MergeError::BadIndex { path, .. } | MergeError::NoHeader(path) if *path == headless),
        "{e}"
    );
    assert!(!dir.path().join("merged").exists(), "nothing is written");
}

#[test]
fn a_report_that_cannot_be_replayed_says_why_as_data() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.json");
    let e = read_report(&missing).unwrap_err();
    assert!(matches!(&e, ReplayError::Unreadable { path, .. } if *path == missing));
    assert!(e.is_usage());
    let garbage = write(dir.path(), "r.json", "{\"schema_version\": 2}");
    let e = read_report(&garbage).unwrap_err();
    assert!(matches!(e, ReplayError::NotAReport { .. }), "{e}");
    assert!(e.is_usage());
}
