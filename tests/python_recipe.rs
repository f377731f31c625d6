//! The adapter recipe of `adapters/python/README.md` ("Writing an adapter for your app") is
//! a working example as printed: its two code blocks are the files of
//! `adapters/python/examples/recipe/`, and those files, copied outside this tree with
//! `walburst_worker` found through `PYTHONPATH`, pass in free mode, in lockstep and through
//! `walburst adapter check` (issue 20, item 13).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::BIN;
use common::jobs::require_python;

fn adapter_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("adapters/python")
}

fn recipe_dir() -> PathBuf {
    adapter_dir().join("examples/recipe")
}

/// The body of the first fenced block of `lang` after `heading` in `text`.
fn block_after(text: &str, heading: &str, lang: &str) -> String {
    let from = text
        .find(heading)
        .unwrap_or_else(|| panic!("no `{heading}`"));
    let fence = format!("```{lang}\n");
    let start = text[from..]
        .find(&fence)
        .map(|i| from + i + fence.len())
        .unwrap_or_else(|| panic!("no {lang} block after `{heading}`"));
    let len = text[start..].find("```\n").expect("a closed block");
    text[start..start + len].to_string()
}

#[test]
fn the_readme_recipe_is_the_example_files() {
    let readme = std::fs::read_to_string(adapter_dir().join("README.md")).unwrap();
    let heading = "## Writing an adapter for your app";
    let files = [
        ("python", "myapp_walburst.py"),
        ("toml", "scenarios/myapp-burst.toml"),
    ];
    for (lang, file) in files {
        let on_disk = std::fs::read_to_string(recipe_dir().join(file)).unwrap();
        assert_eq!(
            block_after(&readme, heading, lang),
            on_disk,
            "the README's {lang} block and examples/recipe/{file} differ: change both"
        );
    }
}

/// Copies the recipe to a directory outside the tree (as a user's project would be).
fn copy_recipe(to: &Path) -> PathBuf {
    let dst = to.join("myproject");
    for rel in [
        "myapp_walburst.py",
        "myapp/__init__.py",
        "myapp/jobs.py",
        "scenarios/myapp-burst.toml",
    ] {
        let target = dst.join(rel);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(recipe_dir().join(rel), &target).unwrap();
    }
    dst
}

fn walburst(project: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(BIN)
        .current_dir(project)
        .env("PYTHONPATH", adapter_dir())
        .args(args)
        .output()
        .expect("walburst runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn the_recipe_runs_from_outside_the_tree_free_and_lockstep() {
    require_python();
    let tmp = tempfile::tempdir().unwrap();
    let project = copy_recipe(tmp.path());
    let out = tmp.path().join("reports");
    let out = out.to_str().unwrap();
    for mode in ["free", "lockstep"] {
        let (code, text) = walburst(
            &project,
            &[
                "run",
                "scenarios/myapp-burst.toml",
                "--workers",
                "3",
                "--ops",
                "20",
                "--mode",
                mode,
                "--out",
                out,
            ],
        );
        assert_eq!(code, 0, "{mode}: {text}");
        assert!(
            text.contains("PASS myapp-burst seed=7") && text.contains("ledger clean"),
            "{mode}: {text}"
        );
    }
    let (code, text) = walburst(
        &project,
        &[
            "adapter",
            "check",
            "--kill",
            "--lockstep",
            "--work-dir",
            tmp.path().to_str().unwrap(),
            "--",
            "python3",
            "myapp_walburst.py",
        ],
    );
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("PASS adapter check"), "{text}");
}

/// The README's "Which thread runs what", pinned: a connection the `open` hook opens (main
/// thread) and the ops use (actor threads) fails with sqlite3's default `check_same_thread`,
/// named as the worker's fatal ProgrammingError, and works with `check_same_thread=False`.
#[test]
fn an_open_hook_connection_crosses_threads_as_the_readme_says() {
    require_python();
    let tmp = tempfile::tempdir().unwrap();
    let app = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/open_hook_app.py");
    let app = app.to_str().unwrap();
    let work = tmp.path().to_str().unwrap();
    let check = |mode: &str| {
        walburst(
            tmp.path(),
            &[
                "adapter",
                "check",
                "--work-dir",
                work,
                "--",
                "python3",
                app,
                mode,
            ],
        )
    };
    let (code, text) = check("default");
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("sent fatal: actor 0: ProgrammingError")
            && text.contains("can only be used in that same thread"),
        "{text}"
    );
    let (code, text) = check("any-thread");
    assert_eq!(code, 0, "{text}");
}

/// The recipe's own app (its `jobs` table, judged by its `[ledger]` queries) under a power
/// loss at synchronous=FULL in WAL: the fault VFS preloaded into the app, and the durability
/// oracle judging each acknowledged op by whether `ledger.present` still lists it (issue 23).
#[test]
fn the_recipe_app_survives_power_loss_judged_by_its_own_ledger() {
    require_python();
    common::vfs_library();
    let tmp = tempfile::tempdir().unwrap();
    let project = copy_recipe(tmp.path());
    let scenario = project.join("scenarios/myapp-burst.toml");
    let text = std::fs::read_to_string(&scenario).unwrap()
        + "\n[sqlite]\njournal_mode = \"wal\"\nsynchronous = \"full\"\n\n\
           [[io.points]]\nfile = \"wal\"\nop = \"write\"\nnth = [20, 60]\naction = \"power-loss\"\n";
    std::fs::write(&scenario, text).unwrap();
    let out = tmp.path().join("reports");
    let (code, text) = walburst(
        &project,
        &[
            "run",
            "scenarios/myapp-burst.toml",
            "--workers",
            "3",
            "--ops",
            "30",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{text}");
    let report = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "json"))
        .expect("a report");
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap();
    let d = &r["io"]["durability"];
    assert!(d["acknowledged"].as_u64() > Some(0), "{d}");
    assert_eq!(d["lost"], 0, "{d}");
    assert!(d["error"].is_null(), "{d}");
    assert!(
        text.contains("power loss at synchronous=full (journal_mode=wal)"),
        "{text}"
    );
}
