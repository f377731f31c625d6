//! `[io.device]` (issue 23, item 4): what the fault VFS claims through
//! `xDeviceCharacteristics` / `xSectorSize`, and a power loss that tears unsynced writes at
//! sector granularity where the device does not promise atomic writes. Real workers, real
//! SQLite, real power loss at every sync of a tiny lockstep run.

mod common;

use std::path::Path;

use common::*;
use serde_json::Value;

fn scenario(dir: &Path, name: &str, device: &str, extra: &str) -> String {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(
        &path,
        format!(
            r#"name = "{name}"
seeds = [1]
[sqlite]
journal_mode = "wal"
synchronous = "full"
wal_autocheckpoint = 100
[workload]
workers = 2
ops_per_worker = 10
payload_bytes = [64, 2000]
[workload.mix]
create_task = 6
add_comment = 2
[io]
device = {{ {device} }}
{extra}
"#
        ),
    )
    .unwrap();
    path.to_string_lossy().into_owned()
}

fn sweep(dir: &Path, file: &str) -> (i32, String, Value) {
    let (code, stdout, stderr) = walburst(
        dir,
        "run",
        &[file, "--mode", "lockstep", "--io-sweep", "sync"],
    );
    let path = stdout
        .lines()
        .find_map(|l| l.strip_prefix("summary: "))
        .unwrap_or_else(|| panic!("no summary:\n{stdout}\n{stderr}"));
    let s = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    (code, stdout, s)
}

/// SQLite believes the claim: without power-safe overwrite it pads each commit's last WAL
/// frame to a sector boundary, so the same schedule makes more WAL writes.
#[test]
fn sqlite_acts_on_what_the_device_claims() {
    let dir = tempfile::tempdir().unwrap();
    let wal_writes = |psow: bool| {
        let f = scenario(
            dir.path(),
            &format!("claim-{psow}"),
            &format!("powersafe_overwrite = {psow}"),
            "counters = true",
        );
        let r = run(dir.path(), &[&f, "--mode", "lockstep"]);
        assert!(r.passed(), "{}", r.stdout);
        (0..2)
            .map(|w| r.u(&format!("/io/counters/{w}/total/wal/write")))
            .sum::<u64>()
    };
    let (psow, padded) = (wal_writes(true), wal_writes(false));
    assert!(padded > psow, "no padding seen: {padded} vs {psow}");
}

/// An honest device (the claim is the physics): at FULL, power lost right before or after
/// any sync takes no acknowledged commit, whether it claims atomic writes (nothing torn) or
/// claims neither atomic writes nor power-safe overwrite (sectors torn and garbled: SQLite
/// defends itself because it was told).
#[test]
fn honest_devices_lose_nothing_at_full_torn_or_not() {
    let dir = tempfile::tempdir().unwrap();
    for (name, device) in [
        ("atomic", "atomic = true"),
        ("torn", "atomic = false, powersafe_overwrite = false"),
    ] {
        let f = scenario(dir.path(), name, device, "");
        let (code, stdout, s) = sweep(dir.path(), &f);
        assert_eq!(code, 0, "{name}: {stdout}");
        assert!(s["judged"].as_u64().unwrap() > 10, "{name}: {s}");
        assert_eq!(s["losing"].as_array().unwrap().len(), 0, "{name}: {stdout}");
    }
    // The torn model acted: one point's run, its tearing in the report.
    let f = scenario(
        dir.path(),
        "torn",
        "atomic = false, powersafe_overwrite = false",
        "",
    );
    let r = run(
        dir.path(),
        &[
            &f,
            "--mode",
            "lockstep",
            "--power-loss-at",
            "w0:wal:3:before",
        ],
    );
    assert!(r.passed(), "{}", r.stdout);
    let t = &r.report["io"]["power_loss"]["tearing"];
    assert_eq!(t["garble"], true, "{t}");
    assert!(
        t["sectors_kept"].as_u64().unwrap()
            + t["sectors_restored"].as_u64().unwrap()
            + t["sectors_garbled"].as_u64().unwrap()
            > 0,
        "{t}"
    );
    assert_eq!(r.s("/checks/integrity_check"), "ok");
}

/// The control: a device that claims power-safe overwrite while its sectors tear and garble.
/// SQLite, believing it, does not pad: a garbled sector takes the end of the last
/// acknowledged commit's frame with it. The sweep finds losing points at FULL, and the run
/// names the claim the device broke.
#[test]
fn a_device_lying_about_powersafe_overwrite_loses_acknowledged_commits_at_full() {
    let dir = tempfile::tempdir().unwrap();
    let f = scenario(
        dir.path(),
        "lying",
        "powersafe_overwrite = true, physics = \"torn-sectors\"",
        "",
    );
    let (code, stdout, s) = sweep(dir.path(), &f);
    assert_eq!(code, 1, "{stdout}");
    let losing = s["losing"].as_array().unwrap();
    assert!(!losing.is_empty(), "{stdout}");
    let cmd = losing[0]["reproduce"].as_str().unwrap();
    let args: Vec<&str> = cmd.split(' ').skip(2).collect();
    let r = run(dir.path(), &args);
    assert!(!r.passed());
    assert!(r.u("/io/durability/lost") > 0, "{}", r.report["io"]);
    assert!(
        r.report["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains(
                "the device claims powersafe_overwrite but its physics tore and garbled sectors"
            )),
        "{}",
        r.report["notes"]
    );
    assert!(
        r.failure_signatures()
            .iter()
            .any(|f| f.starts_with("durability/")),
        "{:?}",
        r.failure_signatures()
    );
}

#[test]
fn a_sector_size_that_is_not_a_power_of_two_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let f = scenario(dir.path(), "bad", "sector_size = 1000", "");
    let (code, _, stderr) = walburst(dir.path(), "run", &[&f]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("io.device.sector_size") && stderr.contains("power of two"),
        "{stderr}"
    );
}
