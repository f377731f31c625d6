//! Latency views (plotters' SVG backend): the commit-latency CDF (one line per series, log
//! time axis, so the busy handler's starvation tail that a p99 bar hides stretches out to
//! the right), per-worker throughput, and the distribution of lock waits with SQLite's busy
//! handler and the global flock apart.

use plotters::prelude::*;

use crate::observe::{OpRecord, Outcome, PerWorker};

/// The series colours of every chart (latency views here, `compare`'s bar chart).
pub const COLORS: [RGBColor; 6] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0x8c, 0x56, 0x4b),
];

fn err(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("cannot draw the chart: {e}")
}

/// Commit latencies (ms) of committed ops.
pub fn commit_latencies_ms(records: &[OpRecord]) -> Vec<f64> {
    let mut v: Vec<f64> = records
        .iter()
        .filter(|r| r.outcome == Outcome::Committed)
        .map(|r| r.latency_us as f64 / 1e3)
        .collect();
    v.sort_by(f64::total_cmp);
    v
}

/// At most ~600 points of a sorted sample's CDF, keeping every point of the last 2 % (the
/// tail is what the chart is for).
fn cdf_points(sorted: &[f64], floor: f64) -> Vec<(f64, f64)> {
    let n = sorted.len();
    let tail_from = n - (n / 50).min(300);
    let stride = (tail_from / 300).max(1);
    let mut pts = Vec::new();
    for (i, &v) in sorted.iter().enumerate() {
        if i >= tail_from || i % stride == 0 || i + 1 == n {
            let y = (i + 1) as f64 / n as f64;
            let x = v.max(floor);
            if let Some(&(_, py)) = pts.last() {
                pts.push((x, py));
            }
            pts.push((x, y));
        }
    }
    pts
}

/// A CDF chart of latencies (ms), one line per named sorted series.
pub fn cdf_svg(title: &str, series: &[(String, Vec<f64>)]) -> anyhow::Result<String> {
    let floor = 0.01;
    let max = series
        .iter()
        .filter_map(|(_, v)| v.last().copied())
        .fold(1.0f64, f64::max)
        * 1.3;
    let min = series
        .iter()
        .filter_map(|(_, v)| v.first().copied())
        .fold(f64::INFINITY, f64::min)
        .max(floor);
    let min = if min.is_finite() { min * 0.8 } else { floor };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (900, 420)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d((min..max).log_scale(), 0f64..1.0)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("commit latency, ms (log scale)")
            .y_desc("fraction of commits at or below")
            .x_label_formatter(&|x| {
                if *x >= 1.0 {
                    format!("{x:.0}")
                } else {
                    format!("{x:.2}")
                }
            })
            .label_style(("sans-serif", 12))
            .draw()
            .map_err(err)?;
        for (i, (name, v)) in series.iter().enumerate() {
            if v.is_empty() {
                continue;
            }
            let color = COLORS[i % COLORS.len()];
            let label = format!(
                "{name}: n={}, p99 {:.1} ms, max {:.0} ms",
                v.len(),
                v[((v.len() as f64 * 0.99) as usize).min(v.len() - 1)],
                v[v.len() - 1]
            );
            chart
                .draw_series(std::iter::once(PathElement::new(
                    cdf_points(v, floor),
                    color.stroke_width(2),
                )))
                .map_err(err)?
                .label(label)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .label_font(("sans-serif", 12))
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// Each worker's own commits/s, with when it finished: the busy handler's unfairness is
/// bars of very different height; a fair lock gives a flat row.
pub fn throughput_svg(per_worker: &[PerWorker]) -> anyhow::Result<String> {
    let n = per_worker.len().max(1);
    let ymax = per_worker
        .iter()
        .map(|w| w.commits_per_sec)
        .fold(0.0f64, f64::max)
        .max(1.0)
        * 1.15;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (900, 320)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "per-worker throughput: each worker's commits/s",
                ("sans-serif", 16),
            )
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), 0f64..ymax)
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_desc("worker")
            .y_desc("commits/s")
            .x_labels(n.min(40))
            .x_label_formatter(&|x| {
                let i = x.round();
                if (x - i).abs() < 1e-6 && i >= 0.0 {
                    format!("{i:.0}")
                } else {
                    String::new()
                }
            })
            .label_style(("sans-serif", 11))
            .draw()
            .map_err(err)?;
        chart
            .draw_series(per_worker.iter().enumerate().map(|(i, w)| {
                let x = i as f64;
                Rectangle::new(
                    [(x - 0.38, 0.0), (x + 0.38, w.commits_per_sec)],
                    COLORS[0].filled(),
                )
            }))
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// Waits shorter than this are the cost of `BEGIN IMMEDIATE` or `flock` itself, not waiting.
const NO_WAIT_MS: f64 = 0.05;

/// Bin edges in ms for the wait histogram: 1-2-5 steps from 50 us to 100 s.
fn edges() -> Vec<f64> {
    let mut e = Vec::new();
    let mut decade = 0.01;
    while decade < 100_000.0 {
        for m in [1.0, 2.0, 5.0] {
            if decade * m >= NO_WAIT_MS {
                e.push(decade * m);
            }
        }
        decade *= 10.0;
    }
    e
}

/// How write transactions waited for the write lock: a histogram (log count axis, so a
/// handful of starved ops still shows) of each op's busy-handler wait and flock wait.
pub fn lock_wait_svg(records: &[OpRecord]) -> anyhow::Result<String> {
    let edges = edges();
    let writes: Vec<&OpRecord> = records
        .iter()
        .filter(|r| r.kind != crate::plan::OpKind::Checkpoint)
        .collect();
    let count = |pick: fn(&OpRecord) -> u64| {
        let mut bins = vec![0u64; edges.len()];
        let mut short = 0u64;
        for r in &writes {
            let ms = pick(r) as f64 / 1e3;
            if ms < NO_WAIT_MS {
                short += 1;
                continue;
            }
            let i = edges.iter().rposition(|&e| ms >= e).unwrap_or(0);
            bins[i] += 1;
        }
        (bins, short)
    };
    let (busy, busy_short) = count(|r| r.begin_wait_us);
    let (flock, flock_short) = count(|r| r.lock_wait_us);
    let used: Vec<usize> = (0..edges.len())
        .filter(|&i| busy[i] + flock[i] > 0)
        .collect();
    let (lo, hi) = match (used.first(), used.last()) {
        (Some(&a), Some(&b)) => (a, b),
        _ => (0, 0),
    };
    let k = hi - lo + 1;
    let ymax = (lo..=hi)
        .map(|i| busy[i].max(flock[i]))
        .max()
        .unwrap_or(0)
        .max(1) as f64
        * 2.5;
    let fmt_edge = |ms: f64| {
        if ms >= 1000.0 {
            format!("{:.0}s", ms / 1000.0)
        } else if ms >= 1.0 {
            format!("{ms:.0}ms")
        } else {
            format!("{:.0}us", ms * 1000.0)
        }
    };
    let caption = format!(
        "lock wait per write op ({} ops; under 50 us, i.e. no wait: busy handler {busy_short}, flock {flock_short})",
        writes.len()
    );
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (900, 320)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, ("sans-serif", 14))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(-0.5f64..(k as f64 - 0.5), (0.7f64..ymax).log_scale())
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_desc("wait at least (bin start)")
            .y_desc("ops (log scale)")
            .x_labels(k)
            .x_label_formatter(&|x| {
                let i = x.round();
                if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < k {
                    fmt_edge(edges[lo + i as usize])
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&|y| format!("{y:.0}"))
            .label_style(("sans-serif", 11))
            .draw()
            .map_err(err)?;
        for (j, (name, bins, color)) in [
            (
                "busy handler (BEGIN IMMEDIATE)",
                &busy,
                RGBColor(0xff, 0x7f, 0x0e),
            ),
            ("global flock", &flock, RGBColor(0x94, 0x67, 0xbd)),
        ]
        .into_iter()
        .enumerate()
        {
            let off = -0.4 + j as f64 * 0.4;
            chart
                .draw_series((lo..=hi).filter(|&i| bins[i] > 0).map(|i| {
                    let x = (i - lo) as f64 + off;
                    Rectangle::new(
                        [(x + 0.02, 0.7), (x + 0.38, bins[i] as f64)],
                        color.filled(),
                    )
                }))
                .map_err(err)?
                .label(name)
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled())
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .label_font(("sans-serif", 12))
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cdf_ends_at_one_and_keeps_the_tail() {
        let v: Vec<f64> = (1..=10_000).map(|i| i as f64 / 100.0).collect();
        let p = cdf_points(&v, 0.01);
        assert_eq!(p.last(), Some(&(100.0, 1.0)));
        assert!(p.len() < 2000);
        // The last 2 % are all there.
        assert!(p.iter().filter(|(x, _)| *x > 98.0).count() >= 199);
    }
}
