//! The run timeline (free mode): one lane per actor, time across. Each transaction is a bar
//! from `BEGIN IMMEDIATE` returning to the end of `COMMIT`/`ROLLBACK`, coloured by outcome;
//! the wait before it is drawn thinner and apart, SQLite's busy handler in orange and the
//! global flock in purple, so starvation (one lane orange for a second while the others
//! commit) and serial hand-over (every lane purple, evenly sliced) show at a glance.
//! Checkpoints, guard reports, kills, respawns, stalls and lock files appearing are marks.
//! Past `frame::MAX_LANES` actors, lanes are aggregated: each shows its members' commits (upper
//! half) and the share of their time spent waiting (lower half) per time bin.

use std::collections::BTreeMap;

use super::frame::{Frame, Lanes};
use super::svg::Rects;
use super::{RunData, colors as c, marks};
use crate::observe::{OpRecord, Outcome, RunEvent, RunEventKind};
use crate::plan::OpKind;

/// Time origin and end of the run, monotonic ns.
fn span(d: &RunData) -> Option<(u64, u64)> {
    let from_records = || {
        let t0 = d.records.iter().map(|r| r.t_start_ns).min()?;
        let t1 = d.records.iter().map(|r| r.t_end_ns).max()?;
        Some((t0, t1))
    };
    match d.times {
        Some(t) if t.t_go_ns > 0 && t.t_end_ns > t.t_go_ns => {
            let t1 = from_records().map_or(t.t_end_ns, |(_, e)| e.max(t.t_end_ns));
            Some((t.t_go_ns, t1))
        }
        _ => from_records(),
    }
}

/// The marks: recorded events, or (an old run without `events.json`) the kills placed at the
/// end of the killed worker's last record before the kill.
fn events(d: &RunData) -> Vec<RunEvent> {
    if let Some(t) = d.times {
        return t.events.clone();
    }
    d.report
        .kills
        .iter()
        .filter_map(|k| {
            let t_ns = d
                .records
                .iter()
                .filter(|r| r.worker == k.worker && r.seq < k.seq)
                .map(|r| r.t_end_ns)
                .max()?;
            Some(RunEvent {
                t_ns,
                worker: Some(k.worker),
                kind: RunEventKind::KillLanded,
                detail: format!("seeded SIGKILL at seq {} (time approximate)", k.seq),
                steps_done: None,
            })
        })
        .collect()
}

/// Draws the timeline; `None` when there is nothing to draw (no records).
pub fn render(d: &RunData) -> Option<String> {
    let (t0, t1) = span(d)?;
    let ms = |t: u64| t.saturating_sub(t0) as f64 / 1e6;
    let x_max = ms(t1).max(1.0);
    let lanes = Lanes::of(d.report, d.records.iter().map(|r| (r.worker, r.actor)));
    let s = &d.report.scenario;
    let title = format!(
        "{} seed={} ({} mode): {}",
        s.name,
        d.report.seed,
        d.report.mode.name(),
        super::verdict_word(d.report)
    );
    let subtitle = subtitle(d);
    let f = Frame::new(
        &lanes,
        x_max,
        &title,
        &subtitle,
        "ms since the start barrier",
    );
    let mut svg = f.open();
    let own = [
        (c::COMMITTED, "committed (BEGIN..COMMIT)"),
        (c::COMMIT_PHASE, "inside COMMIT"),
        (c::ROLLED_BACK, "rolled back"),
        (c::FAILED, "failed"),
        (c::AMBIGUOUS, "ambiguous"),
        (c::BUSY_WAIT, "busy-handler wait"),
        (c::FLOCK_WAIT, "flock wait"),
        (c::CHECKPOINT, "checkpoint"),
        (c::GUARD_FALSE, "guard report, false (triangle)"),
        (c::GUARD_REAL, "guard report, real (triangle)"),
    ];
    let io_fired = marks::io_fired(d.report);
    marks::legend(&mut svg, &f, &own, !io_fired.is_empty());
    let guard_fill = if d.report.corruption.classification == crate::check::Classification::Real {
        c::GUARD_REAL
    } else {
        c::GUARD_FALSE
    };
    let mut rects = Rects::default();
    let mut guard_marks = Vec::new();
    if lanes.aggregated() {
        aggregate(d, &f, &lanes, t0, &mut rects);
    }
    for r in d.records {
        let lane = lanes.index(r.worker, r.actor);
        if r.guard.is_some() {
            guard_marks.push((lane, ms(r.t_end_ns), r));
        }
        if !lanes.aggregated() {
            op_bars(&f, lane, r, &ms, &mut rects);
        }
    }
    rects.write_into(&mut svg, &[c::BUSY_WAIT, c::FLOCK_WAIT]);
    for (lane, x, r) in &guard_marks {
        let g = r.guard.as_ref().expect("filtered");
        let tip = format!(
            "guard {} fired: worker {} seq {} ({}): {}",
            g.guard,
            r.worker,
            r.seq,
            super::classification_word(d.report.corruption.classification),
            g.message
        );
        f.triangle(&mut svg, f.x(*x), f.lane_mid(*lane), guard_fill, &tip);
    }
    for e in events(d) {
        let x_ms = e.t_ns.saturating_sub(t0) as f64 / 1e6;
        let x = f.x(x_ms.min(f.x_max));
        marks::draw(&mut svg, &f, &lanes, x, &format!("at {x_ms:.1} ms"), &e);
    }
    // Last: a point that kills sits over the middle of the kill's cross it causes.
    for p in io_fired {
        let x_ms = ms(p.t_ns);
        let x = f.x(x_ms.min(f.x_max));
        marks::draw_io(&mut svg, &f, &lanes, x, &format!("at {x_ms:.1} ms"), p);
    }
    f.lane_tooltips(&mut svg, &lanes, |ws| lane_tip(d, ws));
    svg.push_str("</svg>\n");
    Some(svg)
}

fn subtitle(d: &RunData) -> String {
    let r = d.report;
    let pw = &r.per_worker;
    let first = pw.iter().map(|w| w.finished_at_ms).reduce(f64::min);
    let last = pw.iter().map(|w| w.finished_at_ms).reduce(f64::max);
    let slowest = pw
        .iter()
        .max_by(|a, b| a.latency_ms.max.total_cmp(&b.latency_ms.max));
    let mut parts = vec![format!(
        "{} commits in {:.2} s ({:.0}/s)",
        r.totals.committed, r.wall_secs, r.totals.commits_per_sec
    )];
    if let Some(w) = slowest {
        parts.push(format!(
            "slowest commit {:.0} ms (worker {})",
            w.latency_ms.max, w.worker
        ));
    }
    if let (Some(a), Some(b)) = (first, last) {
        parts.push(format!("workers done between {a:.0} and {b:.0} ms"));
    }
    parts.push(r.scenario.key_settings());
    parts.join("; ")
}

/// One op's bars in its lane.
fn op_bars(f: &Frame, lane: usize, r: &OpRecord, ms: &dyn Fn(u64) -> f64, rects: &mut Rects) {
    let (y_bar, h_bar) = f.band(lane, 0.12, 0.88);
    let (y_wait, h_wait) = f.band(lane, 0.32, 0.68);
    let x = |t: f64| f.x(t);
    if r.kind == OpKind::Checkpoint {
        let (y, h) = f.band(lane, 0.05, 0.95);
        let (a, b) = (ms(r.t_start_ns), ms(r.t_end_ns));
        rects.add(lane, c::CHECKPOINT, x(a), y, x(b) - x(a), h);
        return;
    }
    let end = ms(r.t_end_ns);
    let Some(begin_ok) = r.t_begin_ok_ns.map(ms) else {
        // Never got the write lock: the whole op was waiting (or failing to connect).
        let a = ms(r.t_start_ns);
        let fill = if r.lock_wait_us > 0 {
            c::FLOCK_WAIT
        } else {
            c::BUSY_WAIT
        };
        rects.add(lane, fill, x(a), y_wait, x(end) - x(a), h_wait);
        rects.add(
            lane,
            outcome_fill(r.outcome),
            x(end) - 1.0,
            y_bar,
            1.0,
            h_bar,
        );
        return;
    };
    let busy_from = begin_ok - r.begin_wait_us as f64 / 1e3;
    let flock_from = busy_from - r.lock_wait_us as f64 / 1e3;
    if r.lock_wait_us > 0 {
        rects.add(
            lane,
            c::FLOCK_WAIT,
            x(flock_from),
            y_wait,
            x(busy_from) - x(flock_from),
            h_wait,
        );
    }
    if r.begin_wait_us > 0 {
        rects.add(
            lane,
            c::BUSY_WAIT,
            x(busy_from),
            y_wait,
            x(begin_ok) - x(busy_from),
            h_wait,
        );
    }
    let issued = r.t_commit_issued_ns.map_or(end, ms);
    let fill = outcome_fill(r.outcome);
    rects.add(
        lane,
        fill,
        x(begin_ok),
        y_bar,
        x(issued) - x(begin_ok),
        h_bar,
    );
    if r.outcome == Outcome::Committed && end > issued {
        rects.add(
            lane,
            c::COMMIT_PHASE,
            x(issued),
            y_bar,
            x(end) - x(issued),
            h_bar,
        );
    }
}

pub fn outcome_fill(o: Outcome) -> &'static str {
    match o {
        Outcome::Committed => c::COMMITTED,
        Outcome::RolledBack => c::ROLLED_BACK,
        Outcome::Failed => c::FAILED,
        Outcome::Ambiguous => c::AMBIGUOUS,
        Outcome::Done => c::CHECKPOINT,
    }
}

/// Aggregated lanes: per time bin, commits (upper half, scaled to the busiest bin) and the
/// members' share of time spent waiting for the write lock (lower half).
fn aggregate(d: &RunData, f: &Frame, lanes: &Lanes, t0: u64, rects: &mut Rects) {
    let bins = (f.plot_w / 3.0).max(1.0) as usize;
    let bin_ms = f.x_max / bins as f64;
    let n = lanes.len();
    let mut commits = vec![vec![0u32; bins]; n];
    let mut wait = vec![vec![0f64; bins]; n];
    let ms = |t: u64| t.saturating_sub(t0) as f64 / 1e6;
    let bin = |x: f64| ((x / bin_ms) as usize).min(bins - 1);
    for r in d.records {
        let lane = lanes.index(r.worker, r.actor);
        if r.outcome == Outcome::Committed {
            commits[lane][bin(ms(r.t_end_ns))] += 1;
        }
        let b = r.t_begin_ok_ns.map_or(ms(r.t_end_ns), ms);
        let a = (b - (r.begin_wait_us + r.lock_wait_us) as f64 / 1e3).max(0.0);
        // Spread the wait over the bins it covers (by index: stepping by float edges can
        // stall on rounding).
        let first = bin(a);
        for (i, w) in wait[lane]
            .iter_mut()
            .enumerate()
            .take(bin(b) + 1)
            .skip(first)
        {
            let (lo, hi) = (i as f64 * bin_ms, (i + 1) as f64 * bin_ms);
            *w += (b.min(hi) - a.max(lo)).max(0.0);
        }
    }
    let cmax = commits.iter().flatten().copied().max().unwrap_or(0).max(1) as f64;
    let w_px = f.plot_w / bins as f64;
    for lane in 0..n {
        let members = lanes.members(lane).max(1) as f64;
        let (top, h) = f.band(lane, 0.05, 0.95);
        let half = h / 2.0;
        for i in 0..bins {
            let x = f.left + i as f64 * w_px;
            let cnt = commits[lane][i];
            if cnt > 0 {
                let hh = half * (cnt as f64 / cmax).max(0.08);
                rects.add(lane, c::COMMITTED, x, top + half - hh, w_px, hh);
            }
            let frac = (wait[lane][i] / (bin_ms * members)).min(1.0);
            if frac > 0.0 {
                rects.add(
                    lane,
                    c::BUSY_WAIT,
                    x,
                    top + half,
                    w_px,
                    half * frac.max(0.05),
                );
            }
        }
    }
}

fn lane_tip(d: &RunData, workers: &[u32]) -> String {
    let mut by: BTreeMap<u32, (u64, f64, f64)> = BTreeMap::new();
    for w in &d.report.per_worker {
        by.insert(
            w.worker,
            (
                w.committed,
                w.latency_ms.max,
                w.begin_wait_ms_total + w.lock_wait_ms_total,
            ),
        );
    }
    workers
        .iter()
        .filter_map(|w| {
            by.get(w).map(|(n, max, wait)| {
                format!(
                    "worker {w}: {n} commits, slowest {max:.0} ms, waited {wait:.0} ms for the lock"
                )
            })
        })
        .take(4)
        .collect::<Vec<_>>()
        .join("; ")
}
