//! Checkpoint starvation (issue 24, item 3), as threadtest3's checkpoint_starvation tests
//! check it: every built-in commit measures the WAL (the `-wal` file's size in frames), and
//! with `expect.wal_growth = "bounded"` the run fails when the peak passes 2 x
//! wal_autocheckpoint. The control (`checkpoint-starvation`: readers that keep snapshots open
//! beside one writer) fails by that detector alone, free and lockstep; the same writer without
//! the readers stays within the bound over 10 seeds in each mode; a run that only reports
//! the peak says so; the expectation is refused where no bound derives.

mod common;

use common::*;

fn run_toml(dir: &std::path::Path, name: &str, toml: &str, seed: u64, mode: &str) -> Run {
    let file = scenario_file(dir, name, toml);
    let seed = seed.to_string();
    run(
        dir,
        &[file.to_str().unwrap(), "--seed", &seed, "--mode", mode],
    )
}

/// Long readers starve SQLite's PASSIVE automatic checkpoint: the WAL passes its bound and
/// the run fails on `checkpoint_starvation` alone, naming the peak and the bound.
#[test]
fn long_readers_starve_the_checkpoint_and_the_bound_fires() {
    let dir = tempfile::tempdir().unwrap();
    for mode in ["free", "lockstep"] {
        let r = run(
            dir.path(),
            &["checkpoint-starvation", "--seed", "1", "--mode", mode],
        );
        assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
        assert_eq!(
            r.failure_signatures(),
            ["checkpoint_starvation/wal_growth_check/unexpected"],
            "{mode}: {:?}",
            r.failures()
        );
        let f = &r.failures()[0];
        assert!(
            f.contains("over its bound of 100 (2 x wal_autocheckpoint 50)"),
            "{f}"
        );
        assert!(r.u("/checks/wal_growth/peak_frames") > 100);
        assert_eq!(r.u("/checks/wal_growth/bound"), 100);
        assert_eq!(r.report["checks"]["wal_growth"]["asserted"], true);
    }
}

/// The same writer without the readers: the WAL restarts after each automatic checkpoint
/// and stays within its bound, over 10 seeds in each mode.
#[test]
fn without_readers_the_wal_stays_within_its_bound() {
    let dir = tempfile::tempdir().unwrap();
    let toml = set(
        &set(&shipped("checkpoint-starvation"), "readers", "0"),
        "workers",
        "1",
    );
    let toml = set(&toml, "ops_per_worker", "30");
    for mode in ["free", "lockstep"] {
        let mut peaks = Vec::new();
        for seed in 1..=10 {
            let r = run_toml(
                dir.path(),
                &format!("alone-{mode}-{seed}"),
                &toml,
                seed,
                mode,
            );
            assert_eq!(r.code, 0, "{mode} seed {seed}: {:?}", r.failures());
            let peak = r.u("/checks/wal_growth/peak_frames");
            assert!(peak > 0 && peak <= 100, "{mode} seed {seed}: {peak}");
            assert!(
                r.notes().iter().any(
                    |n| n.starts_with("checkpoint starvation: the WAL peaked at")
                        && n.contains("within its bound of 100")
                ),
                "{:?}",
                r.notes()
            );
            peaks.push(peak);
        }
        // Past the limit, so the automatic checkpoint ran and the WAL restarted.
        assert!(peaks.iter().any(|&p| p >= 50), "{mode}: {peaks:?}");
    }
}

/// By default the peak is reported, never asserted: the control passes, and its note says the
/// peak was over the bound and not asserted.
#[test]
fn a_reported_peak_over_its_bound_is_a_note() {
    let dir = tempfile::tempdir().unwrap();
    let toml = set(
        &shipped("checkpoint-starvation"),
        "wal_growth",
        "\"reported\"",
    );
    let r = run_toml(dir.path(), "reported", &toml, 1, "lockstep");
    assert_eq!(r.code, 0, "{:?}", r.failures());
    assert!(
        r.notes().iter().any(|n| n.contains("over its bound of 100")
            && n.ends_with("(reported, not asserted: expect.wal_growth = \"reported\")")),
        "{:?}",
        r.notes()
    );
}

/// `bounded` needs a bound: WAL mode and automatic checkpoints.
#[test]
fn a_bound_without_automatic_checkpoints_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let base = shipped("checkpoint-starvation");
    for (i, toml) in [
        set(&base, "wal_autocheckpoint", "0"),
        set(&set(&base, "journal_mode", "\"delete\""), "readers", "0"),
    ]
    .iter()
    .enumerate()
    {
        let file = scenario_file(dir.path(), &format!("bad-{i}"), toml);
        let (code, _, stderr) = walburst(dir.path(), "run", &[file.to_str().unwrap()]);
        assert_eq!(code, 2, "case {i}: {stderr}");
        assert!(stderr.contains("expect.wal_growth"), "case {i}: {stderr}");
    }
}
