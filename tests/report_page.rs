//! The HTML page and timeline drawn for each run (`harness/render/`): the real binary on
//! real files; the page is read back and checked for what the person on call needs first.

mod common;

use common::{BIN, run, scenario_file, set, shipped};
use std::path::Path;
use std::process::Command;

/// Everything a page must not load from elsewhere (it has to open from a CI artifact).
fn assert_self_contained(html: &str) {
    for bad in ["<script", "<link", "@import", "url(", "src=", "href=\"http"] {
        assert!(!html.contains(bad), "page loads an outside resource: {bad}");
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn report_cmd(args: &[&str]) -> (i32, String, String) {
    let o = Command::new(BIN).arg("report").args(args).output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn failing_run_page_shows_verdict_reproduce_command_and_every_failure() {
    let dir = tempfile::tempdir().unwrap();
    // The page-count guard in WAL (false reports) plus a deleted committed row (a lost
    // write, which also turns every report real): a run with several failures.
    let toml =
        shipped("legacy-page-count-guard") + "\n[faults]\nafter_run = \"delete-committed-row\"\n";
    let path = scenario_file(dir.path(), "page-fail", &toml);
    let r = run(
        dir.path(),
        &[path.to_str().unwrap(), "--workers", "3", "--ops", "20"],
    );
    assert_eq!(r.code, 1, "{}", r.stdout);
    let failures = r.failures();
    assert!(failures.len() >= 2, "want several failures: {failures:?}");

    let html_path = r.report_path.with_extension("html");
    assert!(
        r.stdout.contains(&format!("page: {}", html_path.display())),
        "{}",
        r.stdout
    );
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert_self_contained(&html);
    // Verdict first, then the failures, then the timeline.
    let verdict = html
        .find(r#"<span class="verdict fail">FAIL</span>"#)
        .unwrap();
    let failures_at = html.find(r#"id="failures""#).unwrap();
    let timeline_at = html.find(r#"id="timeline""#).unwrap();
    assert!(verdict < failures_at && failures_at < timeline_at);
    // The machine's paths are elided: the run directory under `<work-dir>`, the scenario
    // file (in a temp dir, outside the current directory) under `<tmp>`.
    let abs = dir.path().display().to_string();
    let tmp = std::env::temp_dir().display().to_string();
    let work = dir.path().join("work").display().to_string();
    let elided = |s: &str| s.replace(&work, "<work-dir>").replace(&tmp, "<tmp>");
    assert!(failures.iter().any(|f| f.contains(&work)), "{failures:?}");
    assert!(!html.contains(&abs), "the page shows {abs}");
    for f in &failures {
        assert!(
            html.contains(&escape(&elided(f))),
            "failure not on the page: {f}"
        );
    }
    let reproduce = elided(&r.s("/reproduce"));
    assert!(html.contains(&format!(r#"<pre class="cmd">{}</pre>"#, escape(&reproduce))));
    // The timeline is inline, with a lane per worker and the guard's false/real marks.
    assert!(html.contains(r#"<svg xmlns="http://www.w3.org/2000/svg""#));
    for w in 0..3 {
        assert!(html.contains(&format!(">w{w}</text>")), "lane w{w} missing");
    }
    assert!(html.contains("guard page-count fired"), "no guard marks");
    assert!(html.contains("commit latency CDF"));
    assert!(html.contains("lock wait per write op"));
}

#[test]
fn report_redraws_a_kept_run_and_says_when_the_records_are_gone() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(
        dir.path(),
        &["smoke", "--workers", "2", "--ops", "15", "--keep"],
    );
    assert!(r.passed(), "{}", r.stdout);
    let run_dir = r.s("/run_dir");
    assert!(Path::new(&run_dir).join("events.json").is_file());
    let html = dir.path().join("again.html");
    let svg = dir.path().join("timeline.svg");
    let (code, out, err) = report_cmd(&[
        r.report_path.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
        "--svg",
        svg.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let svg_text = std::fs::read_to_string(&svg).unwrap();
    assert!(svg_text.starts_with("<svg"));
    assert!(svg_text.contains("ms since the start barrier"));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains(r#"<span class="verdict pass">PASS</span>"#));
    assert_self_contained(&page);

    // Without the run directory the page is still drawn, and says why there is no timeline.
    std::fs::remove_dir_all(&run_dir).unwrap();
    let (code, _, err) = report_cmd(&[r.report_path.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("is gone"), "{err}");
    let page = std::fs::read_to_string(r.report_path.with_extension("html")).unwrap();
    assert!(page.contains("No timeline"));
    assert!(page.contains("is gone"));

    // A drawing that cannot be written is an error of `report`, and touches nothing else.
    let (code, _, err) = report_cmd(&[
        r.report_path.to_str().unwrap(),
        "--html",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("cannot draw"), "{err}");
    // Bad input is refused with exit 2.
    let (code, _, err) = report_cmd(&[dir.path().join("nope.json").to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn lockstep_page_draws_the_step_axis_with_the_breach_marked() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(
        dir.path(),
        &[
            "header-probe-lock-hazard",
            "--mode",
            "lockstep",
            "--workers",
            "3",
            "--ops",
            "12",
        ],
    );
    let html = std::fs::read_to_string(r.report_path.with_extension("html")).unwrap();
    assert!(html.contains(">step</text>"), "no step axis");
    // Lockstep is deterministic: this seed breaches (the bare close drops the lock).
    assert!(r.u("/checks/lockstep_breaches") > 0, "{}", r.stdout);
    let first = r.report["lockstep"]["breaches"][0]["step"]
        .as_u64()
        .unwrap();
    assert!(html.contains(&format!("first breach: step {first}")));
    assert!(html.contains(&format!("breach at step {first}")));
}

#[test]
fn seeded_kills_and_respawns_are_marked_where_they_happened() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(
        dir.path(),
        &[
            "kill-mid-transaction",
            "--seed",
            "1",
            "--workers",
            "3",
            "--ops",
            "20",
        ],
    );
    assert!(r.passed(), "{}", r.stdout);
    let kills = r.report["kills"].as_array().unwrap();
    assert!(!kills.is_empty(), "no kill landed: {}", r.stdout);
    let html = std::fs::read_to_string(r.report_path.with_extension("html")).unwrap();
    for k in kills {
        let w = k["worker"].as_u64().unwrap();
        let seq = k["seq"].as_u64().unwrap();
        assert!(
            html.contains(&format!(", worker {w}: seeded SIGKILL at seq {seq} ")),
            "kill of worker {w} at seq {seq} not marked"
        );
    }
    let respawned = kills.iter().filter(|k| k["respawned"] == true).count();
    assert_eq!(html.matches("respawn at ").count(), respawned);
}

/// The trace's own evidence of each mid-transaction kill: a transaction whose actor next
/// does a `begin` or a `close` (the successor, on a new connection) without a commit or
/// rollback was cut off; the kill came right after that actor's last step in it. Returns
/// (worker, that step) in trace order.
fn cut_off_transactions(trace: &str) -> Vec<(u64, u64)> {
    use std::collections::BTreeMap;
    let mut open: BTreeMap<(u64, u64), u64> = BTreeMap::new();
    let mut cut = Vec::new();
    for line in trace.lines() {
        let e: serde_json::Value = serde_json::from_str(line).unwrap();
        let key = (e["worker"].as_u64().unwrap(), e["actor"].as_u64().unwrap());
        let step = e["step"].as_u64().unwrap();
        let result = e["result"]["kind"].as_str().unwrap();
        let blocked = matches!(result, "busy" | "would_block");
        match e["action"]["kind"].as_str().unwrap() {
            "begin" if result == "ok" => {
                if let Some(last) = open.insert(key, step) {
                    cut.push((key.0, last));
                }
            }
            "commit" if !blocked => {
                open.remove(&key);
            }
            "rollback" => {
                open.remove(&key);
            }
            "close" => {
                if let Some(last) = open.remove(&key) {
                    cut.push((key.0, last));
                }
            }
            _ => {
                if let Some(last) = open.get_mut(&key) {
                    *last = step;
                }
            }
        }
    }
    cut
}

#[test]
fn lockstep_step_axis_marks_kills_and_respawns_at_their_step() {
    let dir = tempfile::tempdir().unwrap();
    let toml = set(&shipped("kill-mid-transaction"), "kills", "2");
    let path = scenario_file(dir.path(), "kill-lockstep", &toml);
    let r = run(
        dir.path(),
        &[
            path.to_str().unwrap(),
            "--mode",
            "lockstep",
            "--seed",
            "1",
            "--workers",
            "3",
            "--ops",
            "10",
            "--keep",
        ],
    );
    assert!(r.passed(), "{}", r.stdout);
    let kills = r.report["kills"].as_array().unwrap();
    assert_eq!(kills.len(), 2, "both seeded kills land: {}", r.stdout);
    let run_dir = std::path::PathBuf::from(r.s("/run_dir"));
    let trace = std::fs::read_to_string(run_dir.join("trace.jsonl")).unwrap();
    let cut = cut_off_transactions(&trace);
    assert_eq!(cut.len(), kills.len(), "trace shows {cut:?}");
    let html = std::fs::read_to_string(r.report_path.with_extension("html")).unwrap();
    assert!(html.contains(">step</text>"), "no step axis");
    for (k, (w, last)) in kills.iter().zip(&cut) {
        assert_eq!(k["worker"].as_u64(), Some(*w));
        let seq = k["seq"].as_u64().unwrap();
        assert_eq!(k["respawned"], true);
        let kill =
            format!("seeded kill after step {last}, worker {w}: seeded SIGKILL at seq {seq} ");
        assert!(html.contains(&kill), "no mark: {kill}");
        let respawn = format!("respawn after step {last}, worker {w}: respawned after seq {seq}<");
        assert!(html.contains(&respawn), "no mark: {respawn}");
    }
    assert_eq!(html.matches("<title>seeded kill ").count(), kills.len());
    assert_eq!(html.matches("<title>respawn ").count(), kills.len());

    // A run directory from before events carried step counts: no guessed marks, and the
    // picture says why.
    let events = run_dir.join("events.json");
    let mut ev: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&events).unwrap()).unwrap();
    for e in ev["events"].as_array_mut().unwrap() {
        e.as_object_mut().unwrap().remove("steps_done");
    }
    std::fs::write(&events, ev.to_string()).unwrap();
    let svg = dir.path().join("old.svg");
    let (code, out, err) = report_cmd(&[
        r.report_path.to_str().unwrap(),
        "--svg",
        svg.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let old = std::fs::read_to_string(&svg).unwrap();
    assert!(
        !old.contains("<title>seeded kill"),
        "an old run's kills are guessed"
    );
    assert!(!old.contains("<title>respawn"));
    assert!(
        old.contains("4 run events not drawn (events.json has no step counts"),
        "no note in the subtitle"
    );

    // A lockstep run without kills or lock files (no init lock: the schema is made before
    // the workers start) draws no event marks at all.
    let r = run(
        dir.path(),
        &[
            "pr-45525-burst",
            "--mode",
            "lockstep",
            "--workers",
            "2",
            "--ops",
            "5",
        ],
    );
    assert!(r.passed(), "{}", r.stdout);
    let html = std::fs::read_to_string(r.report_path.with_extension("html")).unwrap();
    assert!(html.contains(">step</text>"), "no step axis");
    for mark in [
        "<title>seeded kill",
        "<title>respawn",
        "<title>file appeared",
        "<title>killed by",
        "stroke-dasharray",
    ] {
        assert!(!html.contains(mark), "{mark} drawn in a run without events");
    }
}

/// A fired `[io]` point is a mark on the lane of the actor that made the call: at its time
/// in a free run, in the step it fired in on the lockstep step axis. A run without `[io]`
/// has neither the mark nor its legend entry.
#[test]
fn fired_io_points_are_marked_where_they_fired() {
    let dir = tempfile::tempdir().unwrap();
    let args = |mode: &'static str| {
        vec![
            "checkpoint-kill-at-page",
            "--seed",
            "2",
            "--mode",
            mode,
            "--workers",
            "3",
            "--ops",
            "24",
        ]
    };
    let r = run(dir.path(), &args("lockstep"));
    assert!(r.passed(), "{}", r.stdout);
    let fired = &r.report["io"]["fired"][0];
    let step = fired["step"]
        .as_u64()
        .expect("a lockstep point has its step");
    let html = std::fs::read_to_string(r.report_path.with_extension("html")).unwrap();
    let mark = format!(
        "I/O point 0 fired in step {step}: kill at {} of {}",
        fired["op"].as_str().unwrap(),
        fired["file"].as_str().unwrap()
    );
    assert!(html.contains(&mark), "no mark {mark:?} on the step axis");
    assert_eq!(html.matches("I/O point 0 fired in step").count(), 1);
    assert!(html.contains("I/O fault point fired (diamond)"));

    let r = run(dir.path(), &args("free"));
    assert!(r.passed(), "{}", r.stdout);
    let html = std::fs::read_to_string(r.report_path.with_extension("html")).unwrap();
    assert!(
        html.contains("I/O point 0 fired at "),
        "no mark on the time axis"
    );

    let r = run(dir.path(), &["smoke", "--seed", "1"]);
    let html = std::fs::read_to_string(r.report_path.with_extension("html")).unwrap();
    assert!(!html.contains("I/O point") && !html.contains("I/O fault point fired"));
}
