//! `[sqlite] mmap_size` (issue 23, item 5): a setting and a matrix axis, validated, recorded
//! in the report, applied by the built-in worker and read back in its `settings`.

mod common;

use common::*;

fn write(dir: &std::path::Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_string_lossy().into_owned()
}

const BODY: &str = "[workload]\nworkers = 2\nops_per_worker = 5\n";

/// Each connection the built-in worker opens reports the mmap_size SQLite runs with: the
/// scenario's value when set, SQLite's default 0 when not (and then the scenario in the
/// report carries no mmap_size at all).
#[test]
fn the_worker_applies_mmap_size_and_reports_what_sqlite_runs_with() {
    let dir = tempfile::tempdir().unwrap();
    for (mode, set, want) in [
        ("free", Some(1_048_576u64), 1_048_576i64),
        ("lockstep", Some(65_536), 65_536),
        ("free", None, 0),
    ] {
        let sqlite = set.map_or(String::new(), |m| format!("[sqlite]\nmmap_size = {m}\n"));
        let file = write(
            dir.path(),
            "m.toml",
            &format!("name = \"m\"\n{sqlite}{BODY}"),
        );
        let r = run(dir.path(), &[&file, "--mode", mode]);
        assert!(r.passed(), "{}", r.stdout);
        assert_eq!(
            r.report["scenario"]["sqlite"]["mmap_size"].as_u64(),
            set,
            "recorded as asked"
        );
        for w in r.report["workers"].as_array().unwrap() {
            let settings = w["settings"].as_array().unwrap();
            assert!(!settings.is_empty(), "no settings reported: {w}");
            for s in settings {
                assert_eq!(s["mmap_size"].as_i64(), Some(want), "{mode}: {s}");
            }
        }
        if let Some(m) = set {
            assert!(r.stdout.contains(&format!("mmap_size={m}")), "{}", r.stdout);
        }
    }
}

/// A matrix over mmap_size runs one case per value, each case with its value applied.
#[test]
fn a_matrix_over_mmap_size_runs_each_value() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "mx.toml",
        &format!("name = \"mx\"\n{BODY}[matrix]\nmmap_size = [0, 262144]\n"),
    );
    let (code, stdout, stderr) = walburst_in(dir.path(), &["list", &file]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("mx/mmap0") && stdout.contains("mx/mmap262144"),
        "{stdout}"
    );
    for (case, want) in [("mmap0", 0), ("mmap262144", 262_144)] {
        let spec = format!("{file}#{case}");
        let r = run(dir.path(), &[&spec]);
        assert!(r.passed(), "{}", r.stdout);
        let s = &r.report["workers"][0]["settings"][0];
        assert_eq!(s["mmap_size"].as_i64(), Some(want), "{case}: {s}");
    }
    // The whole matrix as one sweep.
    let (code, stdout, stderr) = walburst(dir.path(), "run", &[&file]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("mmap262144"), "{stdout}");
}

/// Beyond SQLite's ceiling SQLite would silently lower it: refused, naming the field and
/// the allowed range.
#[test]
fn an_mmap_size_beyond_sqlites_ceiling_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "big.toml",
        &format!("name = \"big\"\n[sqlite]\nmmap_size = 4294967296\n{BODY}"),
    );
    let (code, _, stderr) = walburst(dir.path(), "run", &[&file]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("sqlite.mmap_size") && stderr.contains("0 (off) to 2147418112"),
        "{stderr}"
    );
    let file = write(
        dir.path(),
        "bigm.toml",
        &format!("name = \"bigm\"\n{BODY}[matrix]\nmmap_size = [0, 4294967296]\n"),
    );
    let (code, _, stderr) = walburst(dir.path(), "run", &[&file]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("sqlite.mmap_size"), "{stderr}");
}
