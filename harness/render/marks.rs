//! Run events as marks, the same on both timelines: a seeded kill is a black cross on the
//! worker's lane, a respawn a cyan dot, a stall or runner kill a red bar and cross, and a lock
//! file appearing a dashed line across every lane. The callers only say where (`x`) and,
//! in words for the tooltip, when (`at 12.3 ms`, `after step 41`).

use std::fmt::Write;

use super::colors as c;
use super::frame::{Frame, Lanes};
use super::svg::{escape, line, text};
use crate::observe::io::FiredPoint;
use crate::observe::{RunEvent, RunEventKind};
use crate::report::Report;

/// The legend entries for the marks (after each view's own).
const LEGEND: [(&str, &str); 4] = [
    (c::KILL, "seeded kill (cross)"),
    (c::RESPAWN, "respawn (dot)"),
    (c::STALL, "stalled/killed (red cross)"),
    (c::SIDECAR, "<db>.lock appeared (dashed line)"),
];

/// The legend entry of a fired `[io]` point, for a view that draws some.
const IO_LEGEND: (&str, &str) = (c::IO_FAULT, "I/O fault point fired (diamond)");

/// Draws a view's legend: its own entries, the marks', and the I/O point's when it draws any.
pub fn legend(svg: &mut String, f: &Frame, own: &[(&str, &str)], draws_io: bool) {
    let io: &[(&str, &str)] = if draws_io { &[IO_LEGEND] } else { &[] };
    super::frame::legend(svg, f, &[own, &LEGEND, io].concat());
}

/// The `[io]` points that fired in the run, in the order they fired.
pub fn io_fired(report: &Report) -> &[FiredPoint] {
    report.io.as_ref().map_or(&[], |io| &io.fired)
}

/// Draws a fired `[io]` point at `x` on the lane of the actor that made the call (its
/// worker's first lane when the worker did not say which); `at` says when.
pub fn draw_io(svg: &mut String, f: &Frame, lanes: &Lanes, x: f64, at: &str, p: &FiredPoint) {
    let lane = match p.actor {
        Some(a) => lanes.index(p.worker, a),
        None => lanes.first_of_worker(p.worker),
    };
    let tip = format!(
        "I/O point {} fired {at}: {} at {} of {} (occurrence {}), worker {}{}{}",
        p.point,
        p.action.name(),
        p.op.name(),
        p.file.name(),
        p.nth,
        p.worker,
        p.seq.map_or(String::new(), |s| format!(" seq {s}")),
        if p.in_checkpoint {
            ", while a checkpoint copied pages"
        } else {
            ""
        }
    );
    f.diamond(svg, x, f.lane_mid(lane), c::IO_FAULT, &tip);
}

/// Whether `e` gets a mark: lock files only (`-wal`/`-shm` come and go by design), and
/// worker events that name their worker.
pub fn drawn(e: &RunEvent) -> bool {
    match e.kind {
        RunEventKind::FileAppeared => e.detail.ends_with(".lock"),
        _ => e.worker.is_some(),
    }
}

/// Draws one event's mark at `x` (pixels); `at` says when, for the tooltip.
pub fn draw(svg: &mut String, f: &Frame, lanes: &Lanes, x: f64, at: &str, e: &RunEvent) {
    if !drawn(e) {
        return;
    }
    let lane_y = |w: u32| f.lane_mid(lanes.first_of_worker(w));
    let tip = format!(
        "{} {at}{}: {}",
        match e.kind {
            RunEventKind::FileAppeared => "file appeared",
            RunEventKind::KillLanded => "seeded kill",
            RunEventKind::Respawned => "respawn",
            RunEventKind::Stalled => "stalled, killed by the watchdog",
            RunEventKind::Killed => "killed by the runner",
        },
        e.worker.map_or(String::new(), |w| format!(", worker {w}")),
        e.detail
    );
    match (e.kind, e.worker) {
        (RunEventKind::FileAppeared, _) => {
            let sidecar = !e.detail.ends_with(".init.lock");
            let colour = if sidecar { c::SIDECAR } else { c::INIT_LOCK };
            line(
                svg,
                x,
                f.top,
                x,
                f.bottom(),
                colour,
                r#"stroke-width="1.5" stroke-dasharray="5 3""#,
            );
            text(svg, x + 3.0, f.top - 3.0, 11, "start", &e.detail);
            let _ = writeln!(
                svg,
                r#"<rect x="{:.1}" y="{:.1}" width="6" height="{:.1}" fill-opacity="0"><title>{}</title></rect>"#,
                x - 3.0,
                f.top,
                f.bottom() - f.top,
                escape(&tip)
            );
        }
        (RunEventKind::KillLanded, Some(w)) => f.cross(svg, x, lane_y(w), c::KILL, &tip),
        (RunEventKind::Respawned, Some(w)) => f.circle(svg, x, lane_y(w), c::RESPAWN, &tip),
        (RunEventKind::Stalled | RunEventKind::Killed, Some(w)) => {
            let y = lane_y(w);
            line(
                svg,
                x,
                y - f.lane_h / 2.0,
                x,
                y + f.lane_h / 2.0,
                c::STALL,
                r#"stroke-width="3""#,
            );
            f.cross(svg, x, y, c::STALL, &tip);
        }
        _ => {}
    }
}
