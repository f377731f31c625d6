//! The lockstep timeline: the step axis instead of time. One lane per actor; a transaction
//! is a bar from the step its `begin` returned `ok` to its `commit`/`rollback`/`close` step;
//! BUSY and held flocks are ticks at their step; guard firings are marks; every write-lock
//! breach is a red line across all lanes at its step, with a ring on the actor that got in.

use std::collections::BTreeMap;

use super::frame::{Frame, Lanes, legend};
use super::svg::{Rects, line, text};
use super::{RunData, colors as c};
use crate::exec::step::{StepAction, StepResult};

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
    let subtitle = format!(
        "{} steps, {} breaches{}; {}",
        trace.len(),
        ls.map_or(0, |l| l.breaches.len()),
        ls.and_then(|l| l.first_guard_report_step)
            .map_or(String::new(), |s| format!(
                ", first guard report at step {s}"
            )),
        d.report.scenario.key_settings()
    );
    let f = Frame::new(&lanes, x_max, &title, &subtitle, "step");
    let mut svg = f.open();
    legend(
        &mut svg,
        &f,
        &[
            (c::COMMITTED, "transaction, committed"),
            (c::ROLLED_BACK, "rolled back / closed"),
            (c::FAILED, "commit failed"),
            (c::BUSY_WAIT, "BUSY at this step"),
            (c::FLOCK_WAIT, "flock held elsewhere"),
            (c::CHECKPOINT, "checkpoint"),
            (c::GUARD_FALSE, "guard fired"),
            (c::BREACH, "write-lock breach"),
        ],
    );
    let step_w = f.plot_w / x_max;
    let mut rects = Rects::default();
    let mut open: BTreeMap<(u32, u32), u64> = BTreeMap::new();
    let mut guards = Vec::new();
    for e in trace {
        let lane = lanes.index(e.worker, e.actor);
        let key = (e.worker, e.actor);
        let x = f.x(e.step as f64);
        let (y_tick, h_tick) = f.band(lane, 0.3, 0.7);
        match (&e.action, &e.result) {
            (StepAction::Begin, StepResult::Ok) => {
                open.insert(key, e.step);
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
            (StepAction::Checkpoint, _) => {
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
    // Transactions still open when the trace ended (a stopped run, an ambiguous commit).
    for ((w, a), from) in open {
        let lane = lanes.index(w, a);
        let (y, h) = f.band(lane, 0.12, 0.88);
        let x0 = f.x(from as f64);
        rects.add(lane, c::AMBIGUOUS, x0, y, f.x(x_max) - x0, h);
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
    svg.push_str("</svg>\n");
    Some(svg)
}
