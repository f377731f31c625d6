//! The lockstep timeline: the step axis instead of time. One lane per actor; a transaction
//! is a bar from the step its `begin` returned `ok` to its `commit`/`rollback`/`close` step;
//! BUSY and held flocks are ticks at their step; guard firings are marks; every write-lock
//! breach is a red line across all lanes at its step, with a ring on the actor that got in.
//! Run events (kills, respawns, runner kills, lock files appearing) are the time axis's
//! marks, placed by the step count the runner stamped on them ([`RunEvent::steps_done`]);
//! a run directory written before those stamps draws none and says so in the subtitle.

use std::collections::BTreeMap;

use super::frame::{Frame, Lanes};
use super::svg::{Rects, line, text};
use super::{RunData, colors as c, marks};
use crate::observe::io::FiredPoint;
use crate::observe::step::{ShmCall, ShmSlot, StepAction, StepResult};
use crate::observe::{RunEvent, RunEventKind};

/// The events that get a mark, with their step count; and why others cannot be placed.
fn placed_events<'a>(d: &RunData<'a>) -> (Vec<(u64, &'a RunEvent)>, Option<String>) {
    let Some(times) = d.times else {
        let note = (!d.report.kills.is_empty()).then(|| {
            format!(
                "{} seeded kills not drawn (no events.json)",
                d.report.kills.len()
            )
        });
        return (Vec::new(), note);
    };
    let drawn = times.events.iter().filter(|e| marks::drawn(e));
    let placed: Vec<(u64, &'a RunEvent)> = drawn
        .clone()
        .filter_map(|e| Some((e.steps_done?, e)))
        .collect();
    let unplaced = drawn.count() - placed.len();
    let note = (unplaced > 0).then(|| {
        format!("{unplaced} run events not drawn (events.json has no step counts: an older run)")
    });
    (placed, note)
}

/// Where an event goes on the step axis, and its tooltip's "when". A worker event was seen
/// between two steps (after step `k - 1`, before step `k` was granted): it sits on that
/// boundary, a respawn just right of its kill. A file was seen while step `k` was in flight
/// or about to be: it sits in step `k`'s middle.
fn event_x(f: &Frame, k: u64, e: &RunEvent) -> (f64, String) {
    let step_w = f.plot_w / f.x_max;
    let boundary = f.x(k as f64);
    let after = if k == 0 {
        "before step 0".to_string()
    } else {
        format!("after step {}", k - 1)
    };
    match e.kind {
        RunEventKind::FileAppeared => (
            f.x(k as f64) + step_w / 2.0,
            format!("by step {k} (first seen by the watch then)"),
        ),
        RunEventKind::Respawned => (boundary + f.circle_r(), after),
        _ => (boundary, after),
    }
}

/// The shm steps' legend: one colour per wal-index slot (and the barrier).
const SHM_LEGEND: [(&str, &str); 7] = [
    (c::SHM_WRITE, "shm WRITE lock/unlock"),
    (
        c::SHM_CKPT,
        "shm CKPT lock/unlock, checkpoint start/backfill/done",
    ),
    (c::SHM_READ, "shm READ(i) lock/unlock"),
    (c::SHM_RECOVER, "shm RECOVER lock/unlock"),
    (c::SHM_BARRIER, "shm barrier"),
    (c::SHM_WAL_HEADER, "WAL header write (WAL restart)"),
    (c::SHM_UNFETCH, "checkpoint xUnfetch (WAL-reset window)"),
];

fn is_shm(a: &StepAction) -> bool {
    matches!(a, StepAction::Resume { shm: Some(_), .. })
}

/// The colour of a shm step: its slot's, the checkpoint's bracket with CKPT.
fn shm_fill(call: &ShmCall) -> &'static str {
    match call {
        ShmCall::Lock { slot, .. } => match slot {
            ShmSlot::Write => c::SHM_WRITE,
            ShmSlot::Ckpt => c::SHM_CKPT,
            ShmSlot::Recover => c::SHM_RECOVER,
            ShmSlot::Read(_) => c::SHM_READ,
        },
        ShmCall::CkptStart | ShmCall::Backfill | ShmCall::CkptDone => c::SHM_CKPT,
        ShmCall::Barrier => c::SHM_BARRIER,
        ShmCall::WalHeader => c::SHM_WAL_HEADER,
        ShmCall::DbUnfetch => c::SHM_UNFETCH,
    }
}

/// Draws the step timeline; `None` without a trace.
pub fn render(d: &RunData) -> Option<String> {
    let trace = d.trace;
    let last = trace.last()?.step;
    let x_max = (last + 1) as f64;
    let lanes = Lanes::of(d.report, trace.iter().map(|e| (e.worker, e.actor)));
    let title = format!(
        "{} seed={} (lockstep): {}",
        d.report.scenario.name,
        d.report.seed,
        super::verdict_word(d.report)
    );
    let ls = d.report.lockstep.as_ref();
    let (events, unplaced) = placed_events(d);
    let subtitle = format!(
        "{} steps, {} breaches{}{}; {}",
        trace.len(),
        ls.map_or(0, |l| l.breaches.len()),
        ls.and_then(|l| l.first_guard_report_step)
            .map_or(String::new(), |s| format!(
                ", first guard report at step {s}"
            )),
        unplaced.map_or(String::new(), |n| format!("; {n}")),
        d.report.scenario.key_settings()
    );
    let f = Frame::new(&lanes, x_max, &title, &subtitle, "step");
    let mut svg = f.open();
    let own = [
        (c::COMMITTED, "transaction, committed"),
        (c::ROLLED_BACK, "rolled back / closed"),
        (c::FAILED, "commit failed"),
        (c::BUSY_WAIT, "BUSY at this step"),
        (c::FLOCK_WAIT, "flock held elsewhere"),
        (c::CHECKPOINT, "checkpoint"),
        (c::AMBIGUOUS, "cut off (killed / unfinished)"),
        (c::GUARD_FALSE, "guard fired"),
        (c::BREACH, "write-lock breach"),
    ];
    let own: Vec<(&str, &str)> = if trace.iter().any(|e| is_shm(&e.action)) {
        [own.as_slice(), &SHM_LEGEND].concat()
    } else {
        own.to_vec()
    };
    // A point's step is the step in flight when it fired (free runs have none).
    let io_fired: Vec<(u64, &FiredPoint)> = marks::io_fired(d.report)
        .iter()
        .filter_map(|p| Some((p.step?, p)))
        .collect();
    marks::legend(&mut svg, &f, &own, !io_fired.is_empty());
    let step_w = f.plot_w / x_max;
    let mut rects = Rects::default();
    let mut open: BTreeMap<(u32, u32), u64> = BTreeMap::new();
    // Each actor's previous step, and where each worker died (step boundaries).
    let mut prev: BTreeMap<(u32, u32), u64> = BTreeMap::new();
    let mut deaths: BTreeMap<u32, Vec<u64>> = BTreeMap::new();
    for (k, e) in &events {
        if let (Some(w), RunEventKind::KillLanded | RunEventKind::Killed) = (e.worker, e.kind) {
            deaths.entry(w).or_default().push(*k);
        }
    }
    let mut guards = Vec::new();
    let cut_off = |rects: &mut Rects, lane: usize, from: u64, to: u64| {
        let (y, h) = f.band(lane, 0.12, 0.88);
        let x0 = f.x(from as f64);
        rects.add(lane, c::AMBIGUOUS, x0, y, f.x(to as f64) - x0, h);
    };
    for e in trace {
        let lane = lanes.index(e.worker, e.actor);
        let key = (e.worker, e.actor);
        let x = f.x(e.step as f64);
        let (y_tick, h_tick) = f.band(lane, 0.3, 0.7);
        // A transaction its process died in ends at the death, not at whatever the
        // successor does next on a new connection.
        if let Some(&from) = open.get(&key) {
            let died = deaths
                .get(&e.worker)
                .and_then(|d| d.iter().copied().find(|&b| from < b && b <= e.step));
            if let Some(b) = died {
                open.remove(&key);
                cut_off(&mut rects, lane, from, b);
            }
        }
        let before = prev.insert(key, e.step);
        match (&e.action, &e.result) {
            (StepAction::Begin | StepAction::BeginDeferred, StepResult::Ok) => {
                // Another `begin` with one still open: the first was cut off (a run
                // directory without step-stamped kills gets here).
                if let (Some(from), Some(before)) = (open.insert(key, e.step), before) {
                    cut_off(&mut rects, lane, from, before + 1);
                }
            }
            (StepAction::Commit, r) if r.is_blocked() => {
                rects.add(lane, c::BUSY_WAIT, x, y_tick, step_w, h_tick);
            }
            (StepAction::Commit | StepAction::Rollback | StepAction::Close, r) => {
                let fill = match (&e.action, r) {
                    (StepAction::Commit, StepResult::Ok) => c::COMMITTED,
                    (StepAction::Commit, _) => c::FAILED,
                    _ => c::ROLLED_BACK,
                };
                if let Some(from) = open.remove(&key) {
                    let (y, h) = f.band(lane, 0.12, 0.88);
                    let x0 = f.x(from as f64);
                    rects.add(lane, fill, x0, y, x - x0 + step_w, h);
                }
            }
            // A shm point (`points = "shm"`): a tick under the lane, coloured by its slot, so
            // the lanes show which process took or let go of WRITE, CKPT and READ(i) when.
            (
                StepAction::Resume {
                    shm: Some(call), ..
                },
                _,
            ) => {
                let (y, h) = f.band(lane, 0.74, 0.98);
                rects.add(lane, shm_fill(call), x, y, step_w, h);
                if e.result == StepResult::ShmBusy {
                    rects.add(lane, c::BUSY_WAIT, x, y_tick, step_w, h_tick);
                }
            }
            // A checkpoint paused inside SQLite (a `yield` point) is drawn where it paused and
            // again where it resumed, the other lanes' steps between them.
            (StepAction::Checkpoint | StepAction::Resume { .. }, _) => {
                rects.add(lane, c::CHECKPOINT, x, y_tick, step_w, h_tick)
            }
            (StepAction::Guard, StepResult::Fired) => guards.push((lane, x, e.step)),
            (_, StepResult::WouldBlock) => {
                rects.add(lane, c::FLOCK_WAIT, x, y_tick, step_w, h_tick)
            }
            (_, r) if r.is_blocked() => rects.add(lane, c::BUSY_WAIT, x, y_tick, step_w, h_tick),
            _ => {}
        }
    }
    // Transactions still open when the trace ended (a stopped run, an ambiguous commit):
    // to their process's death if it came later, else to the end.
    for ((w, a), from) in open {
        let died = deaths
            .get(&w)
            .and_then(|d| d.iter().copied().find(|&b| from < b));
        cut_off(
            &mut rects,
            lanes.index(w, a),
            from,
            died.unwrap_or(last + 1),
        );
    }
    rects.write_into(&mut svg, &[c::BUSY_WAIT, c::FLOCK_WAIT]);
    for (lane, x, step) in guards {
        f.triangle(
            &mut svg,
            x,
            f.lane_mid(lane),
            c::GUARD_FALSE,
            &format!("guard fired at step {step}"),
        );
    }
    if let Some(l) = ls {
        for b in &l.breaches {
            let x = f.x(b.step as f64) + step_w / 2.0;
            line(
                &mut svg,
                x,
                f.top,
                x,
                f.bottom(),
                c::BREACH,
                r#"stroke-width="1.5""#,
            );
            let holders: Vec<String> = b
                .holders
                .iter()
                .map(|h| format!("w{}.{}", h.worker, h.actor))
                .collect();
            let tip = format!(
                "breach at step {}: worker {} actor {} got BEGIN IMMEDIATE while {} held the write lock",
                b.step,
                b.actor.worker,
                b.actor.actor,
                holders.join(", ")
            );
            f.circle(
                &mut svg,
                x,
                f.lane_mid(lanes.index(b.actor.worker, b.actor.actor)),
                c::BREACH,
                &tip,
            );
        }
        if let Some(b) = l.breaches.first() {
            text(
                &mut svg,
                f.x(b.step as f64) + 4.0,
                f.top - 3.0,
                11,
                "start",
                &format!("first breach: step {}", b.step),
            );
        }
    }
    // Respawn dots first, so a kill's cross stays on top of the dot beside it.
    let (respawns, others): (Vec<_>, Vec<_>) = events
        .into_iter()
        .partition(|(_, e)| e.kind == RunEventKind::Respawned);
    for (k, e) in respawns.into_iter().chain(others) {
        let (x, at) = event_x(&f, k, e);
        marks::draw(&mut svg, &f, &lanes, x, &at, e);
    }
    // Last: a point that kills sits over the middle of the kill's cross it causes (whose
    // arms and the respawn's dot still show), not hidden under them.
    let step_w = f.plot_w / f.x_max;
    for (k, p) in io_fired {
        let x = f.x(k as f64) + step_w / 2.0;
        marks::draw_io(&mut svg, &f, &lanes, x, &format!("in step {k}"), p);
    }
    svg.push_str("</svg>\n");
    Some(svg)
}
