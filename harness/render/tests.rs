//! Drawing from synthetic records (pure: no processes; the real-run pages are checked in
//! `tests/report_page.rs`).

use super::*;
use crate::check::{Checks, Corruption};
use crate::observe::{BusySummary, LatencySummary, Outcome, Totals};
use crate::plan::OpKind;
use crate::scenario::{Overrides, ScenarioSource};

fn report(workers: u32) -> Report {
    let source = ScenarioSource::Embedded("smoke".into());
    let mut scenario = crate::scenario::parse_str(
        crate::scenario::embedded()
            .iter()
            .find(|e| e.name == "smoke")
            .unwrap()
            .toml,
        &source,
    )
    .unwrap();
    scenario.workload.workers = workers;
    scenario.workload.connections_per_worker = 1;
    Report {
        schema_version: crate::report::SCHEMA_VERSION,
        walburst_version: "test".into(),
        sqlite_version: "3".into(),
        sqlite_source_id: String::new(),
        sqlite_origin: None,
        scenario,
        scenario_source: source,
        overrides: Overrides::default(),
        seed: 1,
        mode: crate::scenario::Mode::Free,
        schedule_hash: "sha256:0".into(),
        trace_hash: None,
        content_hash: None,
        lockstep: None,
        started_at: "2026-01-01T00:00:00Z".into(),
        wall_secs: 1.0,
        totals: Totals::default(),
        latency_ms: LatencySummary::default(),
        per_worker: Vec::new(),
        busy: BusySummary::default(),
        checks: Checks::default(),
        corruption: Corruption::default(),
        verdict: VerdictKind::Pass,
        failures: Vec::new(),
        liveness: Vec::new(),
        notes: Vec::new(),
        workers: Vec::new(),
        kills: Vec::new(),
        io: None,
        run_dir: None,
        reproduce: "walburst run smoke --seed 1".into(),
    }
}

/// `workers` x `ops` serial commits of 1 ms each, every op waiting for all the others.
fn records(workers: u32, ops: u32) -> Vec<OpRecord> {
    let mut v = Vec::new();
    let ms = 1_000_000u64;
    for s in 0..ops {
        for w in 0..workers {
            let slot = u64::from(s * workers + w);
            v.push(OpRecord {
                worker: w,
                actor: 0,
                seq: s,
                kind: OpKind::CreateTask,
                outcome: Outcome::Committed,
                reason: None,
                error: None,
                busy: Vec::new(),
                lock_wait_us: 0,
                begin_wait_us: (u64::from(workers) - 1) * 1000,
                latency_us: u64::from(workers) * 1000,
                t_start_ns: slot * ms,
                t_begin_ok_ns: Some(slot * ms + (u64::from(workers) - 1) * ms),
                t_commit_issued_ns: Some(slot * ms + u64::from(workers) * ms - ms / 2),
                t_end_ns: slot * ms + u64::from(workers) * ms,
                event_id: Some(slot as i64),
                task_id: None,
                guard: None,
                checkpoint: None,
            });
        }
    }
    v
}

fn lanes_drawn(svg: &str) -> usize {
    svg.matches(r#"text-anchor="end">w"#).count()
}

#[test]
fn twenty_workers_get_a_lane_each() {
    let r = report(20);
    let recs = records(20, 220);
    let d = RunData {
        report: &r,
        records: &recs,
        trace: &[],
        times: None,
    };
    let svg = timeline_svg(&d).unwrap();
    assert_eq!(lanes_drawn(&svg), 20);
    assert!(svg.contains(">w19</text>"));
    // One path per (lane, colour), not one element per op: 4400 ops stay small.
    assert!(
        svg.matches("<path fill=").count() <= 20 * 4,
        "too many paths"
    );
    assert!(svg.len() < 1_200_000, "{} bytes", svg.len());
}

#[test]
fn past_forty_actors_lanes_are_aggregated() {
    let r = report(128);
    let recs = records(128, 20);
    let d = RunData {
        report: &r,
        records: &recs,
        trace: &[],
        times: None,
    };
    let svg = timeline_svg(&d).unwrap();
    let lanes = lanes_drawn(&svg);
    assert!((10..=timeline::MAX_LANES).contains(&lanes), "{lanes} lanes");
    assert!(
        svg.contains(">w0-w3</text>"),
        "group labels name their workers"
    );
    assert!(svg.contains(">w124-w127</text>"));
    assert!(svg.len() < 2_000_000, "{} bytes", svg.len());
}

#[test]
fn no_records_no_timeline_but_a_page() {
    let r = report(2);
    let d = RunData {
        report: &r,
        records: &[],
        trace: &[],
        times: None,
    };
    assert!(timeline_svg(&d).is_none());
    let page = page::run_page(&d, None, &["records gone".into()]);
    assert!(page.contains("No timeline"));
    assert!(page.contains("walburst run smoke --seed 1"));
}
