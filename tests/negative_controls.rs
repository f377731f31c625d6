//! Every detector ships with a negative control that proves it fires. Each test asserts the
//! specific reason, not just a failing exit code.

mod common;

use common::*;

/// The newer field guard fires on healthy WAL databases (committed pages live in -wal):
/// the run fails with false reports only. Deterministic, so one seed suffices.
#[test]
fn page_count_guard_in_wal_gives_false_reports_only() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(
        dir.path(),
        &[
            "legacy-page-count-guard",
            "--seed",
            "7",
            "--workers",
            "8",
            "--ops",
            "60",
        ],
    );
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.u("/corruption/false") > 0);
    assert_eq!(r.u("/corruption/real"), 0);
    assert_eq!(
        r.u("/corruption/by_guard/page-count"),
        r.u("/corruption/reports")
    );
    assert_eq!(r.s("/checks/integrity_check"), "ok");
    assert_eq!(r.u("/checks/lost_writes"), 0);
    assert_eq!(
        r.u("/totals/committed"),
        480,
        "a guard after COMMIT loses nothing"
    );
    assert_eq!(
        r.failure_signatures(),
        ["false_corruption/guard/unexpected"],
        "{:?}",
        r.failures()
    );
    assert_eq!(r.s("/corruption/classification"), "false");
    let ex = &r.report["corruption"]["examples"][0];
    assert!(
        ex["message"]
            .as_str()
            .unwrap()
            .starts_with("torn-extend detected: page count mismatch")
    );
    assert_eq!(ex["journal_mode"], "wal");
    assert!(ex["deficit"].as_u64().unwrap() > 0);
}

/// The same guard never fires in DELETE mode, where the main file is authoritative.
#[test]
fn page_count_guard_in_delete_mode_is_silent() {
    let dir = tempfile::tempdir().unwrap();
    let toml = set(
        &shipped("legacy-page-count-guard"),
        "journal_mode",
        "\"delete\"",
    );
    let path = scenario_file(dir.path(), "pc-delete", &toml);
    let r = run(
        dir.path(),
        &[path.to_str().unwrap(), "--workers", "6", "--ops", "40"],
    );
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(r.u("/corruption/reports"), 0);
}

/// The fix: the wal-aware guard stays silent on the field's burst, on five seeds.
#[test]
fn wal_aware_guard_passes_pr_45525_burst_on_five_seeds() {
    let dir = tempfile::tempdir().unwrap();
    for seed in ["1", "2", "3", "4", "5"] {
        let r = run(
            dir.path(),
            &["pr-45525-burst", "--seed", seed, "--ops", "80"],
        );
        assert_eq!(r.code, 0, "seed {seed}: {}", r.stdout);
        assert_eq!(r.u("/corruption/reports"), 0);
        assert_eq!(r.u("/totals/committed"), 1600);
    }
}

/// `[expect] false_corruption = "some"` documents a known bug: the run passes only while the
/// bug still shows, and fails when it stops showing.
#[test]
fn expected_false_reports_pass_only_while_they_show() {
    let dir = tempfile::tempdir().unwrap();
    let documented =
        shipped("legacy-page-count-guard") + "\n[expect]\nfalse_corruption = \"some\"\n";
    let path = scenario_file(dir.path(), "documented", &documented);
    let r = run(
        dir.path(),
        &[path.to_str().unwrap(), "--workers", "4", "--ops", "30"],
    );
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(r.stdout.contains("expected and seen"));

    let fixed = set(&documented, "guard", "\"wal-aware\"");
    let path = scenario_file(dir.path(), "fixed", &fixed);
    let r = run(
        dir.path(),
        &[path.to_str().unwrap(), "--workers", "4", "--ops", "30"],
    );
    assert_eq!(r.code, 1);
    assert_eq!(
        r.failure_signatures(),
        ["false_corruption/guard/missing"],
        "{:?}",
        r.failures()
    );
    assert!(r.failures()[0].contains("no longer shows"));
}

/// The bare-close probe inside the write transaction drops the process's POSIX locks in
/// DELETE mode; another writer gets in. Run in lockstep, so the breach lands at the same step
/// every run (free mode damaged 20/20 seeds, but a race that gates CI must not depend on
/// timing): the run fails with the damage classified real, the lockstep coordinator named as
/// the detector that saw it, and never a false report.
#[test]
fn header_probe_lock_hazard_is_real_damage() {
    let dir = tempfile::tempdir().unwrap();
    for seed in ["7", "8"] {
        let r = run(
            dir.path(),
            &[
                "header-probe-lock-hazard",
                "--seed",
                seed,
                "--mode",
                "lockstep",
                "--workers",
                "4",
                "--ops",
                "30",
            ],
        );
        assert_eq!(r.code, 1, "seed {seed}: {}", r.stdout);
        assert_eq!(r.s("/corruption/classification"), "real", "seed {seed}");
        let evidence = r.report["corruption"]["evidence"].as_array().unwrap();
        assert!(
            evidence.contains(&"lockstep_breaches".into()),
            "seed {seed}: {evidence:?}"
        );
        assert!(
            r.failure_signatures()
                .contains(&"lockstep_breaches/lockstep_coordinator/unexpected".to_string()),
            "seed {seed}: {:?}",
            r.failures()
        );
        assert_eq!(
            r.u("/corruption/false"),
            0,
            "seed {seed}: damage must never be called false"
        );
    }
}

/// Its WAL twin (per-op connections plus an idle one) is harmless on the bundled SQLite
/// (>= 3.51 refuses to delete -wal/-shm while another process maps -shm).
#[test]
fn header_probe_lock_hazard_wal_twin_passes_on_bundled_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(
        dir.path(),
        &[
            "header-probe-lock-hazard-wal",
            "--seed",
            "7",
            "--workers",
            "8",
            "--ops",
            "100",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(r.u("/corruption/real"), 0);
    assert_eq!(r.s("/checks/integrity_check"), "ok");
}

fn tampered(dir: &std::path::Path, base: &str, fault: &str) -> std::path::PathBuf {
    let toml = format!("{}\n[faults]\nafter_run = \"{fault}\"\n", shipped(base));
    scenario_file(dir, &format!("{base}-{fault}"), &toml)
}

/// A committed row deleted after the workers exit is exactly one lost write; nothing else.
#[test]
fn ledger_catches_an_injected_lost_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = tampered(dir.path(), "smoke", "delete-committed-row");
    let r = run(dir.path(), &[path.to_str().unwrap()]);
    assert_eq!(r.code, 1);
    assert_eq!(r.u("/checks/lost_writes"), 1);
    assert_eq!(r.u("/checks/phantom_writes"), 0);
    assert_eq!(r.s("/checks/integrity_check"), "ok");
    assert_eq!(
        r.failure_signatures(),
        ["lost_writes/ledger/unexpected"],
        "{:?}",
        r.failures()
    );
    let f = r.failures();
    assert!(
        f[0].starts_with("lost_writes: 1 lost writes") && f[0].contains("event row is missing"),
        "{f:?}"
    );
}

/// A b-tree page overwritten with garbage fails integrity_check, and the very reports that
/// were false on the healthy run of the same seed become real.
#[test]
fn garbage_page_fails_integrity_and_turns_reports_real() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--seed", "3", "--workers", "4", "--ops", "40"];
    let healthy = scenario_file(dir.path(), "pc", &shipped("legacy-page-count-guard"));
    let mut a = vec![healthy.to_str().unwrap()];
    a.extend(args);
    let h = run(dir.path(), &a);
    assert!(h.u("/corruption/false") > 0);
    assert_eq!(h.u("/corruption/real"), 0);

    let path = tampered(dir.path(), "legacy-page-count-guard", "garbage-page");
    let mut a = vec![path.to_str().unwrap()];
    a.extend(args);
    let r = run(dir.path(), &a);
    assert_eq!(r.code, 1);
    assert_ne!(r.s("/checks/integrity_check"), "ok");
    assert_eq!(r.u("/corruption/false"), 0);
    assert!(r.u("/corruption/real") > 0);
    assert!(
        r.failure_signatures()
            .contains(&"integrity/integrity_check/unexpected".to_string()),
        "{:?}",
        r.failures()
    );
}

#[test]
fn truncated_main_file_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let path = tampered(dir.path(), "smoke", "truncate-page");
    let r = run(dir.path(), &[path.to_str().unwrap()]);
    assert_eq!(r.code, 1);
    assert_ne!(r.s("/checks/integrity_check"), "ok", "{}", r.stdout);
    assert!(
        r.failure_signatures()
            .contains(&"integrity/integrity_check/unexpected".to_string()),
        "{:?}",
        r.failures()
    );
}

/// The checkpoint race of the old header probe (through a kept descriptor, so only the race
/// is under test). Measured here at 8 workers x 100 ops, synchronous=NORMAL: 10 to 77 false
/// reports per run, 10/10 seeds. Three seeds together cannot all miss it.
#[test]
fn header_probe_checkpoint_race_gives_false_reports() {
    let dir = tempfile::tempdir().unwrap();
    let mut total_false = 0;
    for seed in ["1", "2", "3"] {
        let r = run(
            dir.path(),
            &[
                "legacy-header-probe",
                "--seed",
                seed,
                "--workers",
                "8",
                "--ops",
                "100",
            ],
        );
        assert_eq!(r.u("/corruption/real"), 0, "seed {seed}: {}", r.stdout);
        assert_eq!(r.s("/checks/integrity_check"), "ok");
        assert_eq!(r.u("/checks/lost_writes"), 0);
        total_false += r.u("/corruption/false");
    }
    assert!(
        total_false > 0,
        "the checkpoint race never showed in 3 seeds"
    );
}

/// A positive control that declares its damage passes only while the damage shows; a
/// database the ledger cannot read passes only where the scenario says `unreadable`.
#[test]
fn declared_damage_passes_only_while_it_shows() {
    let dir = tempfile::tempdir().unwrap();
    let go = |name: &str, fault: &str, integrity: &str| {
        let toml = format!(
            "{}\n[faults]\nafter_run = \"{fault}\"\n[expect]\nintegrity = \"{integrity}\"\n",
            shipped("smoke")
        );
        let path = scenario_file(dir.path(), name, &toml);
        run(
            dir.path(),
            &[
                path.to_str().unwrap(),
                "--seed",
                "1",
                "--workers",
                "2",
                "--ops",
                "30",
            ],
        )
    };
    let r = go("unreadable", "garbage-page", "unreadable");
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_ne!(r.s("/checks/integrity_check"), "ok");
    assert!(r.report["checks"].get("ledger_error").is_some());

    let r = go("unreadable-healthy", "none", "unreadable");
    assert_eq!(r.code, 1);
    assert_eq!(
        r.failure_signatures(),
        ["unreadable/ledger/missing"],
        "{:?}",
        r.failures()
    );

    let r = go("damaged-healthy", "none", "damaged");
    assert_eq!(r.code, 1);
    assert_eq!(
        r.failure_signatures(),
        ["integrity/integrity_check/missing"],
        "{:?}",
        r.failures()
    );
}

/// `damaged` and `any` never turn an unreadable ledger into a passing note: an error while
/// checking is its own failure (category `unreadable`, detector `ledger`).
#[test]
fn an_unreadable_ledger_fails_under_damaged_and_any() {
    let dir = tempfile::tempdir().unwrap();
    for integrity in ["damaged", "any"] {
        let toml = format!(
            "{}\n[faults]\nafter_run = \"garbage-page\"\n[expect]\nintegrity = \"{integrity}\"\n",
            shipped("smoke")
        );
        let path = scenario_file(dir.path(), integrity, &toml);
        let r = run(
            dir.path(),
            &[
                path.to_str().unwrap(),
                "--seed",
                "1",
                "--workers",
                "2",
                "--ops",
                "30",
            ],
        );
        assert_eq!(r.code, 1, "{integrity}: {}", r.stdout);
        assert!(
            r.failure_signatures()
                .contains(&"unreadable/ledger/unexpected".to_string()),
            "{integrity}: {:?}",
            r.failures()
        );
    }
}

/// The exact length check after wal_checkpoint(TRUNCATE): a main file one page longer than
/// page_count x page_size leaves integrity_check ok, and only this check can see it.
#[test]
fn final_length_check_fires_on_a_grown_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = tampered(dir.path(), "smoke", "append-page");
    let r = run(
        dir.path(),
        &[path.to_str().unwrap(), "--workers", "2", "--ops", "20"],
    );
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert_eq!(r.s("/checks/integrity_check"), "ok");
    assert_eq!(r.report["checks"]["final_length_ok"], false);
    assert_eq!(
        r.failure_signatures(),
        ["final_length/final_length_check/unexpected"],
        "{:?}",
        r.failures()
    );
    assert_eq!(r.s("/corruption/classification"), "real");
}

/// A strategy that declares a global lock must show its sidecar: a scenario that requires
/// one but takes no lock fails for exactly that reason.
#[test]
fn a_required_sidecar_that_never_appears_fails_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let toml = shipped("smoke") + "\n[expect]\nsidecar = \"required\"\n";
    let path = scenario_file(dir.path(), "required", &toml);
    let r = run(
        dir.path(),
        &[path.to_str().unwrap(), "--workers", "2", "--ops", "10"],
    );
    assert_eq!(r.code, 1);
    assert_eq!(
        r.failure_signatures(),
        ["sidecar/sidecar_watch/missing"],
        "{:?}",
        r.failures()
    );
}
