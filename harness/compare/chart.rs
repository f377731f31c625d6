//! The comparison as an SVG chart (plotters' SVG backend): three panels, commits/s, commit
//! latency p99 and the slowest commit, one group of bars per strategy and one bar per worker count in each group.
//! Bars are medians over the repeats; the black whisker spans min to max.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{CompareReport, Stat, StrategySummary};

use crate::render::latency::COLORS;

struct Panel {
    title: &'static str,
    unit: &'static str,
    pick: fn(&StrategySummary) -> Option<Stat>,
}

const PANELS: [Panel; 3] = [
    Panel {
        title: "throughput: commits/s (median, min-max)",
        unit: "commits/s",
        pick: |s| s.commits_per_sec,
    },
    Panel {
        title: "commit latency p99, ms (median, min-max)",
        unit: "ms",
        pick: |s| s.latency_p99_ms,
    },
    // p99 hides the busy handler's unfairness: a few commits wait seconds.
    Panel {
        title: "slowest commit, ms (median, min-max)",
        unit: "ms",
        pick: |s| s.latency_max_ms,
    },
];

fn label(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}

/// Renders the chart as an SVG document.
pub fn render(r: &CompareReport) -> anyhow::Result<String> {
    let names: Vec<String> = r.strategies.iter().map(|s| s.name.clone()).collect();
    let workers: Vec<u32> = r.groups.iter().map(|g| g.workers).collect();
    let n = names.len().max(1);
    let g = workers.len().max(1);
    let width = (300 + 3 * n * (40 + 28 * g)).clamp(1200, 3000) as u32;
    let height = 480u32;
    let err = |e: &dyn std::fmt::Display| anyhow::anyhow!("cannot draw the chart: {e}");
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let title = format!(
            "{} seed={} ({} {}): {} per strategy{}",
            r.scenario,
            r.seed,
            r.journal_mode,
            r.synchronous,
            if r.repeat == 1 {
                "1 run".to_string()
            } else {
                format!("median of {} runs", r.repeat)
            },
            if g == 1 {
                format!(
                    ", {}",
                    super::workers_label(workers.first().copied().unwrap_or(0))
                )
            } else {
                String::new()
            }
        );
        let root = root
            .titled(&title, ("sans-serif", 18))
            .map_err(|e| err(&e))?;
        let areas = root.split_evenly((1, PANELS.len()));
        for (area, panel) in areas.iter().zip(PANELS.iter()) {
            let value = |strategy: &str, w: u32| {
                r.summary
                    .iter()
                    .find(|s| s.strategy == strategy && s.workers == w)
                    .and_then(panel.pick)
            };
            let ymax = names
                .iter()
                .flat_map(|s| workers.iter().filter_map(|&w| value(s, w)))
                .map(|s| s.max)
                .fold(0.0f64, f64::max);
            // Headroom for the value labels, and for the legend when there is one.
            let headroom = if g > 1 { 1.45 } else { 1.18 };
            let ymax = if ymax > 0.0 { ymax * headroom } else { 1.0 };
            let mut chart = ChartBuilder::on(area)
                .caption(panel.title, ("sans-serif", 14))
                .margin(14)
                .x_label_area_size(34)
                .y_label_area_size(64)
                .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), 0f64..ymax)
                .map_err(|e| err(&e))?;
            let fmt = |x: &f64| {
                let i = x.round();
                if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < names.len() {
                    names[i as usize].clone()
                } else {
                    String::new()
                }
            };
            let yfmt = |y: &f64| {
                if ymax >= 20.0 {
                    format!("{y:.0}")
                } else {
                    format!("{y:.1}")
                }
            };
            chart
                .configure_mesh()
                .disable_x_mesh()
                .x_labels(n)
                .x_label_formatter(&fmt)
                .y_label_formatter(&yfmt)
                .y_desc(panel.unit)
                .label_style(("sans-serif", 13))
                .draw()
                .map_err(|e| err(&e))?;
            let group_w = 0.8;
            let bar_w = group_w / g as f64;
            for (gi, &w) in workers.iter().enumerate() {
                let color = COLORS[gi % COLORS.len()];
                let bars: Vec<(f64, Stat)> = names
                    .iter()
                    .enumerate()
                    .filter_map(|(si, s)| {
                        let x0 = si as f64 - group_w / 2.0 + gi as f64 * bar_w;
                        value(s, w).map(|v| (x0, v))
                    })
                    .collect();
                let series = chart
                    .draw_series(bars.iter().map(|(x0, v)| {
                        Rectangle::new(
                            [(x0 + bar_w * 0.08, 0.0), (x0 + bar_w * 0.92, v.median)],
                            color.filled(),
                        )
                    }))
                    .map_err(|e| err(&e))?;
                if g > 1 {
                    series.label(super::workers_label(w)).legend(move |(x, y)| {
                        Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled())
                    });
                }
                chart
                    .draw_series(bars.iter().map(|(x0, v)| {
                        let xc = x0 + bar_w / 2.0;
                        PathElement::new(vec![(xc, v.min), (xc, v.max)], BLACK.stroke_width(1))
                    }))
                    .map_err(|e| err(&e))?;
                let text = TextStyle::from(("sans-serif", 12).into_font())
                    .pos(Pos::new(HPos::Center, VPos::Bottom));
                chart
                    .draw_series(bars.iter().map(|(x0, v)| {
                        Text::new(
                            label(v.median),
                            (x0 + bar_w / 2.0, v.max.max(v.median) + ymax * 0.01),
                            text.clone(),
                        )
                    }))
                    .map_err(|e| err(&e))?;
            }
            if g > 1 {
                chart
                    .configure_series_labels()
                    .position(SeriesLabelPosition::UpperRight)
                    .background_style(WHITE.mix(0.85))
                    .border_style(BLACK)
                    .label_font(("sans-serif", 12))
                    .draw()
                    .map_err(|e| err(&e))?;
            }
        }
        root.present().map_err(|e| err(&e))?;
    }
    Ok(svg)
}
