//! SQLite releases whose amalgamation comes from an npm package (`walburst sqlite list`
//! names the package and the pinned source id; `walburst sqlite prepare` downloads the
//! tarball, checks its integrity, and refuses otherwise).
//!
//! `prepare_and_run_an_npm_release` builds SQLite 3.51.2 from better-sqlite3's tarball and
//! walburst against it (needs the npm and crate registries; 2 or more minutes on 2 cores):
//! `#[ignore]`d, run by the nightly workflow's weekly `releases` job.

mod common;

use std::process::Command;

use common::*;
use walburst::releases::cache::CACHE_ENV;
use walburst::releases::npm::REGISTRY_ENV;

#[test]
fn list_says_where_each_release_comes_from_and_its_source_id() {
    let o = Command::new(BIN).args(["sqlite", "list"]).output().unwrap();
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    let row = |v: &str| {
        out.lines()
            .skip_while(|l| !l.starts_with(&format!("{v} ")))
            .take(2)
            .collect::<Vec<_>>()
            .join("\n")
    };
    let r = row("3.51.2");
    assert!(r.contains("npm better-sqlite3@12.6.2"), "{out}");
    assert!(r.contains("libsqlite3-sys 0.36.0"), "{r}");
    assert!(
        r.contains(
            "source id: 2026-01-09 17:27:48 b270f8339eb13b504d0b2ba154ebca966b7dde08e40c3ed7d559749818cb2075 (pinned"
        ),
        "{r}"
    );
    assert!(row("3.52.0").contains("npm sqlite3@6.0.1"), "{out}");
    assert!(
        row("3.50.2").contains("crate libsqlite3-sys 0.35.0"),
        "{out}"
    );
    for v in ["3.44.2", "3.51.0", "3.53.0", "3.53.3", "3.53.4"] {
        assert!(row(v).contains(" npm "), "{v}: {out}");
    }
}

/// A prepare of an npm release with the registry unreachable: exit 1, and the message
/// names the release, the package and the URL; nothing is left in the cache but the log.
#[test]
fn an_unreachable_registry_is_named_with_the_release_and_url() {
    let cache = tempfile::tempdir().unwrap();
    // Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
    let o = Command::new(BIN)
        .args(["sqlite", "prepare", "3.51.2"])
        .env(CACHE_ENV, cache.path())
        .env(REGISTRY_ENV, "http://127.0.0.1:9")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("cannot download the amalgamation of SQLite 3.51.2 (npm better-sqlite3@12.6.2) from http://127.0.0.1:9/better-sqlite3/-/better-sqlite3-12.6.2.tgz"),
        "{err}"
    );
    assert!(err.contains("the npm registry must be reachable"), "{err}");
    assert!(!cache.path().join("3.51.2").exists());
    assert!(
        !cache
            .path()
            .join("downloads/better-sqlite3-12.6.2.tgz")
            .exists()
    );
}

/// A tarball that is not the pinned one (here from a `file://` registry) is refused before
/// anything is unpacked or compiled, and not kept.
#[test]
fn a_tarball_with_another_integrity_is_refused_and_deleted() {
    let cache = tempfile::tempdir().unwrap();
    let registry = tempfile::tempdir().unwrap();
    let dir = registry.path().join("better-sqlite3").join("-");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("better-sqlite3-12.6.2.tgz"),
        b"not the pinned tarball",
    )
    .unwrap();
    let o = Command::new(BIN)
        .args(["sqlite", "prepare", "3.51.2"])
        .env(CACHE_ENV, cache.path())
        .env(
            REGISTRY_ENV,
            format!("file://{}", registry.path().display()),
        )
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("the tarball for SQLite 3.51.2 from file://"),
        "{err}"
    );
    assert!(
        err.contains(
            "the table pins sha512-8VYKM3MjCa9WcaSAI3hzwhmyHVlH8tiGFwf0RlTsZPWJ1I5MkzjiudCo4KC4DxOaL/53A5B1sI/IbldNFDbsKA==; refused and deleted"
        ),
        "{err}"
    );
    let downloads: Vec<_> = std::fs::read_dir(cache.path().join("downloads"))
        .unwrap()
        .collect();
    assert!(downloads.is_empty(), "{downloads:?}");
    assert!(
        !cache
            .path()
            .join("amalgamation/npm-better-sqlite3-12.6.2")
            .exists()
    );
}

fn python3() -> std::path::PathBuf {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join("python3"))
        .find(|p| p.is_file())
        .expect("python3 on PATH")
}

/// The real thing, both uses: prepare 3.51.2 from npm (the library's source id checked
/// against the pin), a run on it in the built-in worker, and the library for an external
/// worker (CPython's sqlite3 module loads it first from the prepared directory).
#[test]
#[ignore = "downloads from npm and builds walburst once more (minutes); the weekly releases job runs it"]
fn prepare_and_run_an_npm_release() {
    let o = Command::new(BIN)
        .args(["sqlite", "prepare", "3.51.2"])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let dir = walburst::releases::cache::version_dir("3.51.2".parse().unwrap());
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("prepared.json")).unwrap()).unwrap();
    let pinned =
        "2026-01-09 17:27:48 b270f8339eb13b504d0b2ba154ebca966b7dde08e40c3ed7d559749818cb2075";
    assert_eq!(manifest["sqlite_source_id"], pinned);
    assert_eq!(manifest["amalgamation"], "npm better-sqlite3@12.6.2");
    assert_eq!(manifest["libsqlite3_sys"], "0.36.0");

    // The built-in worker: a run on 3.51.2 is handed to the prepared binary.
    let d = tempfile::tempdir().unwrap();
    let r = run(d.path(), &["smoke", "--sqlite", "3.51.2", "--seed", "1"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let report = &r.report;
    assert_eq!(report["sqlite_version"], "3.51.2", "{report}");
    assert_eq!(report["sqlite_source_id"], pinned, "{report}");
    assert_eq!(
        report["sqlite_origin"]["amalgamation"], "npm better-sqlite3@12.6.2",
        "{report}"
    );

    // An external worker: CPython's sqlite3 with the prepared directory first.
    let o = Command::new(python3())
        .args([
            "-c",
            "import sqlite3; c = sqlite3.connect(':memory:'); print(sqlite3.sqlite_version); print(c.execute('select sqlite_source_id()').fetchone()[0])",
        ])
        .env("LD_LIBRARY_PATH", &dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let said = String::from_utf8(o.stdout).unwrap();
    assert_eq!(said, format!("3.51.2\n{pinned}\n"));
}
