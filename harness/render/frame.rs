//! What both timelines share: lanes (one per actor, or aggregated groups), the drawing frame
//! (margins, axis, lane labels, title) and the marks.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::svg::{escape, line, nice_step, text};
use crate::report::Report;

/// More actors than this and lanes are aggregated.
pub const MAX_LANES: usize = 40;

/// The lanes of a timeline: every actor of the run in (worker, actor) order, grouped when
/// there are more than [`MAX_LANES`].
pub struct Lanes {
    /// (worker, actor) -> position in actor order.
    pos: BTreeMap<(u32, u32), usize>,
    /// Actors per lane (1 unless aggregated).
    per_lane: usize,
    actors: Vec<(u32, u32)>,
    connections: u32,
}

impl Lanes {
    pub fn of(report: &Report, seen: impl Iterator<Item = (u32, u32)>) -> Lanes {
        let w = &report.scenario.workload;
        let mut all: std::collections::BTreeSet<(u32, u32)> = (0..w.workers)
            .flat_map(|wk| (0..w.connections_per_worker.max(1)).map(move |a| (wk, a)))
            .collect();
        all.extend(seen);
        let actors: Vec<(u32, u32)> = all.into_iter().collect();
        let n = actors.len().max(1);
        let per_lane = if n > MAX_LANES {
            n.div_ceil(MAX_LANES * 4 / 5)
        } else {
            1
        };
        Lanes {
            pos: actors.iter().enumerate().map(|(i, &a)| (a, i)).collect(),
            per_lane,
            actors,
            connections: w.connections_per_worker.max(1),
        }
    }

    pub fn aggregated(&self) -> bool {
        self.per_lane > 1
    }

    pub fn len(&self) -> usize {
        self.actors.len().max(1).div_ceil(self.per_lane)
    }

    pub fn index(&self, worker: u32, actor: u32) -> usize {
        self.pos.get(&(worker, actor)).copied().unwrap_or(0) / self.per_lane
    }

    pub fn first_of_worker(&self, worker: u32) -> usize {
        self.pos
            .range((worker, 0)..=(worker, u32::MAX))
            .next()
            .map_or(0, |(_, &i)| i / self.per_lane)
    }

    /// How many actors a lane holds.
    pub fn members(&self, lane: usize) -> usize {
        let from = lane * self.per_lane;
        self.actors.len().saturating_sub(from).min(self.per_lane)
    }

    /// The workers in a lane.
    pub fn workers(&self, lane: usize) -> Vec<u32> {
        let from = lane * self.per_lane;
        let mut w: Vec<u32> = self
            .actors
            .iter()
            .skip(from)
            .take(self.per_lane)
            .map(|a| a.0)
            .collect();
        w.dedup();
        w
    }

    pub fn label(&self, lane: usize) -> String {
        let from = lane * self.per_lane;
        let name = |(w, a): (u32, u32)| {
            if self.connections > 1 {
                format!("w{w}.{a}")
            } else {
                format!("w{w}")
            }
        };
        match self.actors.get(from) {
            None => String::new(),
            Some(&first) if self.per_lane == 1 => name(first),
            Some(&first) => {
                let last = self.actors[(from + self.per_lane).min(self.actors.len()) - 1];
                format!("{}-{}", name(first), name(last))
            }
        }
    }
}

pub struct Frame {
    pub width: f64,
    pub height: f64,
    pub left: f64,
    pub top: f64,
    pub plot_w: f64,
    pub lane_h: f64,
    pub lanes: usize,
    pub x_max: f64,
    title: String,
    subtitle: String,
    x_label: String,
    labels: Vec<String>,
}

impl Frame {
    pub fn new(lanes: &Lanes, x_max: f64, title: &str, subtitle: &str, x_label: &str) -> Frame {
        let n = lanes.len();
        let lane_h = (620.0 / n as f64).clamp(10.0, 22.0);
        let (left, top, width) = (96.0, 94.0, 1400.0);
        Frame {
            width,
            height: top + n as f64 * lane_h + 46.0,
            left,
            top,
            plot_w: width - left - 24.0,
            lane_h,
            lanes: n,
            x_max: if x_max > 0.0 { x_max } else { 1.0 },
            title: title.into(),
            subtitle: subtitle.into(),
            x_label: x_label.into(),
            labels: (0..n).map(|i| lanes.label(i)).collect(),
        }
    }

    pub fn x(&self, v: f64) -> f64 {
        self.left + v.clamp(0.0, self.x_max) / self.x_max * self.plot_w
    }

    pub fn bottom(&self) -> f64 {
        self.top + self.lanes as f64 * self.lane_h
    }

    /// A horizontal band of a lane, from fraction `a` to `b` of its height: (y, height).
    pub fn band(&self, lane: usize, a: f64, b: f64) -> (f64, f64) {
        let y = self.top + lane as f64 * self.lane_h;
        (y + a * self.lane_h, (b - a) * self.lane_h)
    }

    pub fn lane_mid(&self, lane: usize) -> f64 {
        self.top + (lane as f64 + 0.5) * self.lane_h
    }

    /// The document's opening: background, titles, lane stripes and labels, the axis.
    pub fn open(&self) -> String {
        let mut svg = String::with_capacity(64 * 1024);
        let _ = writeln!(
            svg,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h:.0}" viewBox="0 0 {w} {h:.0}" font-family="sans-serif">"#,
            w = self.width,
            h = self.height
        );
        let _ = writeln!(
            svg,
            r##"<rect width="100%" height="100%" fill="#ffffff"/>"##
        );
        let _ = writeln!(
            svg,
            r#"<text x="10" y="20" font-size="16" font-weight="bold">{}</text>"#,
            escape(&self.title)
        );
        text(&mut svg, 10.0, 38.0, 11, "start", &self.subtitle);
        for i in 0..self.lanes {
            let y = self.top + i as f64 * self.lane_h;
            if i % 2 == 1 {
                let _ = writeln!(
                    svg,
                    r##"<rect x="{:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="#f3f3f3"/>"##,
                    self.left, self.plot_w, self.lane_h
                );
            }
            let size = if self.lane_h >= 14.0 { 11 } else { 9 };
            text(
                &mut svg,
                self.left - 6.0,
                y + self.lane_h / 2.0 + size as f64 / 3.0,
                size,
                "end",
                &self.labels[i],
            );
        }
        let step = nice_step(self.x_max, 12.0);
        let bottom = self.bottom();
        let mut v = 0.0;
        while v <= self.x_max + 1e-9 {
            let x = self.x(v);
            line(&mut svg, x, self.top, x, bottom, "#dddddd", "");
            line(&mut svg, x, bottom, x, bottom + 4.0, "#333333", "");
            let label = if step >= 1.0 {
                format!("{v:.0}")
            } else {
                format!("{v:.2}")
            };
            text(&mut svg, x, bottom + 16.0, 11, "middle", &label);
            v += step;
        }
        line(
            &mut svg,
            self.left,
            bottom,
            self.left + self.plot_w,
            bottom,
            "#333333",
            "",
        );
        text(
            &mut svg,
            self.left + self.plot_w / 2.0,
            bottom + 34.0,
            12,
            "middle",
            &self.x_label,
        );
        svg
    }

    pub fn triangle(&self, svg: &mut String, x: f64, y: f64, fill: &str, tip: &str) {
        let r = (self.lane_h * 0.32).max(3.5);
        let _ = writeln!(
            svg,
            r##"<path d="M{x:.1} {:.1}l{r:.1} {:.1}h{:.1}z" fill="{fill}" stroke="#000000" stroke-width="0.5"><title>{}</title></path>"##,
            y - r,
            2.0 * r,
            -2.0 * r,
            escape(tip)
        );
    }

    pub fn cross(&self, svg: &mut String, x: f64, y: f64, stroke: &str, tip: &str) {
        let r = (self.lane_h * 0.45).max(4.0);
        let _ = writeln!(
            svg,
            r#"<path d="M{:.1} {:.1}l{:.1} {:.1}m0 {:.1}l{:.1} {:.1}" stroke="{stroke}" stroke-width="2.5"><title>{}</title></path>"#,
            x - r,
            y - r,
            2.0 * r,
            2.0 * r,
            -2.0 * r,
            -2.0 * r,
            2.0 * r,
            escape(tip)
        );
    }

    pub fn diamond(&self, svg: &mut String, x: f64, y: f64, fill: &str, tip: &str) {
        let r = (self.lane_h * 0.4).max(4.0);
        let _ = writeln!(
            svg,
            r##"<path d="M{x:.1} {:.1}l{r:.1} {r:.1}l{:.1} {r:.1}l{:.1} {:.1}z" fill="{fill}" stroke="#000000" stroke-width="0.5"><title>{}</title></path>"##,
            y - r,
            -r,
            -r,
            -r,
            escape(tip)
        );
    }

    /// The radius of [`Frame::circle`]'s dots.
    pub fn circle_r(&self) -> f64 {
        (self.lane_h * 0.4).max(3.5)
    }

    pub fn circle(&self, svg: &mut String, x: f64, y: f64, fill: &str, tip: &str) {
        let r = self.circle_r();
        let _ = writeln!(
            svg,
            r##"<circle cx="{x:.1}" cy="{y:.1}" r="{r:.1}" fill="{fill}" stroke="#000000" stroke-width="0.5"><title>{}</title></circle>"##,
            escape(tip)
        );
    }

    /// A hover tooltip over each lane's label.
    pub fn lane_tooltips(&self, svg: &mut String, lanes: &Lanes, tip: impl Fn(&[u32]) -> String) {
        for i in 0..self.lanes {
            let t = tip(&lanes.workers(i));
            if t.is_empty() {
                continue;
            }
            let _ = writeln!(
                svg,
                r#"<rect x="0" y="{:.1}" width="{:.1}" height="{:.1}" fill-opacity="0"><title>{}</title></rect>"#,
                self.top + i as f64 * self.lane_h,
                self.left,
                self.lane_h,
                escape(&t)
            );
        }
    }
}

/// A row of colour swatches with labels, under the subtitle.
pub fn legend(svg: &mut String, f: &Frame, items: &[(&str, &str)]) {
    let mut x = 10.0;
    let mut y = 50.0;
    for (fill, label) in items {
        let w = 26.0 + label.len() as f64 * 6.2;
        if x + w > f.width - 10.0 {
            x = 10.0;
            y += 15.0;
        }
        let _ = writeln!(
            svg,
            r#"<rect x="{x:.1}" y="{y:.1}" width="14" height="10" fill="{fill}"/>"#
        );
        text(svg, x + 18.0, y + 9.0, 11, "start", label);
        x += w;
    }
}
