//! Multi-database commits under kills (issue 22 item 5): `scenarios/super-journal-rollback.toml`
//! ATTACHes `aux.db` to every connection, so each write op commits `kanban.db` and `aux.db`
//! through a super-journal, and kills workers inside those commits at fault-VFS points.
//!
//! Here, on the bundled SQLite (3.54.1): the kills fire, the workload really wrote both files
//! through super-journals, and every op is in both files or neither. SQLite's 3.54.0
//! super-journal change is not reachable by a crash (docs/super-journal-window.md), so that
//! scenario passes on 3.53.x as well; `super-journal-zeroed` forces the missing step (the
//! super-journal left at the commit point, zeroed after the run) and passes here, while a
//! release before 3.54.0 tears the commit: `on_releases_around_the_change` (ignored: it
//! prepares SQLite 3.53.2 and 3.54.0, minutes of CPU each; the weekly releases job runs it,
//! .github/workflows/nightly.yml).

mod common;

use std::path::Path;

use common::*;

#[test]
fn kills_inside_multi_database_commits_leave_both_files_all_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(
        dir.path(),
        &["super-journal-rollback", "--seed", "1", "--keep"],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.passed());
    // Both kills fired, each inside a transaction that wrote both files.
    let fired = r.stdout.matches("note: io point ").count();
    assert_eq!(fired, 2, "{}", r.stdout);
    // The workload wrote both files, through super-journals (SQLite names them
    // `kanban.db-mj...`), and the multi-database ledger judged every write op.
    let files: Vec<String> = r.report["checks"]["files_seen"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_string())
        .collect();
    assert!(files.iter().any(|f| f == "aux.db"), "{files:?}");
    assert!(files.iter().any(|f| f == "aux.db-journal"), "{files:?}");
    assert!(
        files.iter().any(|f| f.starts_with("kanban.db-mj")),
        "no super-journal seen: {files:?}"
    );
    assert_eq!(r.u("/checks/multi_db/judged"), 160);
    assert_eq!(r.u("/checks/multi_db/torn"), 0);
    assert!(r.u("/checks/multi_db/in_both") > 100);
    assert_eq!(r.s("/checks/multi_db/integrity_check"), "ok");
    // The kept run directory holds the second database, with a mirror row per op in both.
    let aux = Path::new(&r.s("/run_dir")).join("db").join("aux.db");
    let conn = rusqlite::Connection::open(&aux).unwrap();
    let rows: i64 = conn
        .query_row("SELECT count(*) FROM task_mirror", [], |row| row.get(0))
        .unwrap();
    assert_eq!(rows as u64, r.u("/checks/multi_db/in_both"));
}

/// The forced variant on the bundled 3.54.1: the kill lands at the commit point of the last
/// op (both journals name the super-journal), the super-journal it left is zeroed after the
/// run, and the fixed release rolls both files back, keeping the zeroed super-journal (it
/// does not list the recovering journal).
#[test]
fn a_zeroed_super_journal_leaves_a_fixed_release_all_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(
        dir.path(),
        &["super-journal-zeroed", "--seed", "1", "--keep"],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("on main sync, occurrence 20, in op seq 9"),
        "the kill is at the last commit's aux.db sync: {}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("injected fault: zeroed the super-journal(s) kanban.db-mj"),
        "{}",
        r.stdout
    );
    assert_eq!(r.u("/checks/multi_db/in_both"), 9);
    assert_eq!(r.u("/checks/multi_db/in_neither"), 1);
    assert_eq!(r.u("/checks/multi_db/torn"), 0);
    let left: Vec<String> = std::fs::read_dir(Path::new(&r.s("/run_dir")).join("db"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("kanban.db-mj"))
        .collect();
    assert_eq!(
        left.len(),
        1,
        "3.54.x keeps the zeroed super-journal: {left:?}"
    );
}

/// `attach = "aux"` in WAL mode is refused (exit 2), naming the field: there SQLite commits
/// each file on its own and the all-or-nothing check would fail SQLite's documented behaviour.
#[test]
fn attach_without_a_rollback_journal_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let toml = dir.path().join("a.toml");
    std::fs::write(
        &toml,
        "name = \"a\"\n[sqlite]\njournal_mode = \"wal\"\n[workload]\nattach = \"aux\"\n",
    )
    .unwrap();
    let (code, out, err) = walburst(dir.path(), "run", &[toml.to_str().unwrap()]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("workload.attach"), "{err}");
}

/// Both scenarios on releases either side of SQLite's super-journal change, one command
/// each: kills alone pass on both (the change is not reachable by a crash); the zeroed
/// super-journal tears the commit on 3.53.2 and not on 3.54.0. Prepares both releases.
#[test]
#[ignore = "prepares SQLite 3.53.2 and 3.54.0 (minutes of CPU); run by the weekly releases job"]
fn on_releases_around_the_change() {
    let dir = tempfile::tempdir().unwrap();
    let verdicts = |scenario: &str| -> String {
        let (_, out, err) = walburst(
            dir.path(),
            "run",
            &[scenario, "--seed", "1", "--sqlite", "3.53.2,3.54.0"],
        );
        format!("{out}{err}")
    };
    // The recap: one line per release, `  SQLite V (prepared from ...): VERDICT ...`.
    let line = |out: &str, v: &str| -> String {
        out.lines()
            .find(|l| l.trim_start().starts_with(&format!("SQLite {v} (")))
            .unwrap_or_else(|| panic!("no verdict for {v}: {out}"))
            .to_string()
    };
    let kills = verdicts("super-journal-rollback");
    assert!(line(&kills, "3.53.2").contains("): PASS"), "{kills}");
    assert!(line(&kills, "3.54.0").contains("): PASS"), "{kills}");
    let zeroed = verdicts("super-journal-zeroed");
    let old = line(&zeroed, "3.53.2");
    assert!(
        old.contains("): FAIL") && old.contains("torn_multi_db_commit"),
        "{zeroed}"
    );
    assert!(line(&zeroed, "3.54.0").contains("): PASS"), "{zeroed}");
}
