//! Drawing from synthetic records and traces (pure: no processes; the real-run pages are checked in
//! `tests/report_page.rs`).

use super::*;
use crate::check::{Checks, Corruption};
use crate::observe::step::{StepAction, StepResult};
use crate::observe::{BusySummary, LatencySummary, Outcome, RunEvent, RunEventKind, Totals};
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
        app: None,
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
                guard_error: None,
                checkpoint: None,
                list: Vec::new(),
                reads: Vec::new(),
                wal_frames: None,
                claim_read: None,
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
    assert!((10..=frame::MAX_LANES).contains(&lanes), "{lanes} lanes");
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

fn entry(step: u64, worker: u32, action: StepAction) -> TraceEntry {
    TraceEntry {
        step,
        worker,
        actor: 0,
        action,
        result: StepResult::Ok,
    }
}

fn event(kind: RunEventKind, worker: Option<u32>, detail: &str, steps: Option<u64>) -> RunEvent {
    RunEvent {
        t_ns: 0,
        worker,
        kind,
        detail: detail.into(),
        steps_done: steps,
    }
}

#[test]
fn lockstep_events_sit_at_their_stamped_step() {
    use StepAction as A;
    let r = report(2);
    // Worker 0 dies inside its transaction after step 1; its successor only closes (step 4).
    let trace = [
        entry(0, 0, A::Begin),
        entry(1, 0, A::Statement { label: "x".into() }),
        entry(2, 1, A::Begin),
        entry(3, 1, A::Commit),
        entry(4, 0, A::Close),
    ];
    let times = RunTimes {
        t_go_ns: 0,
        t_end_ns: 0,
        events: vec![
            event(RunEventKind::KillLanded, Some(0), "seeded SIGKILL", Some(2)),
            event(RunEventKind::Respawned, Some(0), "respawned", Some(2)),
            event(RunEventKind::FileAppeared, None, "kanban.db.lock", Some(3)),
            event(RunEventKind::FileAppeared, None, "kanban.db-wal", Some(3)),
        ],
    };
    let d = RunData {
        report: &r,
        records: &[],
        trace: &trace,
        times: Some(&times),
    };
    let svg = timeline_svg(&d).unwrap();
    let lanes = frame::Lanes::of(&r, std::iter::empty());
    let f = frame::Frame::new(&lanes, 5.0, "", "", "step");
    // The kill's cross is centred on the boundary between steps 1 and 2.
    let r_cross = (f.lane_h * 0.45).max(4.0);
    let cross = format!(
        r#"<path d="M{:.1} {:.1}l"#,
        f.x(2.0) - r_cross,
        f.lane_mid(0) - r_cross
    );
    let at = svg.find(&cross).expect("cross at step boundary 2");
    assert!(svg[at..].starts_with(&cross));
    assert!(svg[at..].contains("<title>seeded kill after step 1, worker 0: seeded SIGKILL<"));
    assert!(svg.contains("<title>respawn after step 1, worker 0: respawned<"));
    // The lock file's line is in step 3's middle; `-wal` gets none.
    let mid = f.x(3.0) + f.plot_w / 5.0 / 2.0;
    assert!(svg.contains(&format!(r#"<line x1="{mid:.1}""#)), "{svg}");
    assert!(svg.contains("file appeared by step 3"));
    assert!(!svg.contains("kanban.db-wal"));
    // The killed transaction is cut off at the death, and the successor's close on a new
    // connection does not close it as rolled back.
    assert!(svg.contains(&format!(r#"<path fill="{}""#, colors::AMBIGUOUS)));
    assert!(!svg.contains(&format!(r#"<path fill="{}""#, colors::ROLLED_BACK)));

    // The same events without step counts (an older run directory): none drawn, and said.
    let old = RunTimes {
        events: times
            .events
            .iter()
            .map(|e| RunEvent {
                steps_done: None,
                ..e.clone()
            })
            .collect(),
        ..times.clone()
    };
    let d = RunData {
        times: Some(&old),
        ..d
    };
    let svg = timeline_svg(&d).unwrap();
    assert!(!svg.contains("<title>seeded kill"));
    assert!(!svg.contains("<title>file appeared"));
    assert!(svg.contains("3 run events not drawn (events.json has no step counts"));
}
