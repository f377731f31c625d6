//! The side-by-side text table of a comparison: one column per strategy, one block per
//! worker count. How to read it: `BENCHMARKS.md`.

use std::fmt::Write;

use super::{CompareReport, Significance, Stat, StrategySummary};

/// What a ratio cell carries besides its text, so the console and the page mark it alike.
const NOT_SIGNIFICANT_MARK: &str = " (n.s.)";

/// The legend of [`NOT_SIGNIFICANT_MARK`] and of ratios without an interval.
pub const NOT_SIGNIFICANT_LEGEND: &str = "(n.s.) = no significant difference: the two strategies' 95 % confidence intervals overlap (under 3 repeats: their min-max ranges), so the ratio may be noise";
pub const NO_INTERVAL_LEGEND: &str = "one repeat per strategy: no confidence interval can be computed, so no ratio is judged significant or not; use --repeat 3 or more";

/// One cell of the side-by-side table.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub text: String,
    /// A ratio whose strategies' intervals overlap.
    pub not_significant: bool,
}

impl Cell {
    fn plain(text: String) -> Cell {
        Cell {
            text,
            not_significant: false,
        }
    }

    /// As the console shows it.
    pub fn console(&self) -> String {
        if self.not_significant {
            format!("{}{NOT_SIGNIFICANT_MARK}", self.text)
        } else {
            self.text.clone()
        }
    }
}

fn num(x: f64) -> String {
    let a = x.abs();
    if a >= 100.0 {
        format!("{x:.0}")
    } else if a >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

fn median(s: Option<Stat>) -> String {
    s.map(|s| num(s.median)).unwrap_or_else(|| "-".into())
}

fn range(s: Option<Stat>) -> String {
    s.map(|s| format!("{}-{}", num(s.min), num(s.max)))
        .unwrap_or_else(|| "-".into())
}

fn median_range(s: Option<Stat>) -> String {
    s.map(|s| {
        if s.min == s.max {
            num(s.median)
        } else {
            format!("{} ({}-{})", num(s.median), num(s.min), num(s.max))
        }
    })
    .unwrap_or_else(|| "-".into())
}

/// Counts: whole numbers stay whole (a median of an even number of runs may end in .5).
fn count(s: Option<Stat>) -> String {
    s.map(|s| {
        if s.median.fract() == 0.0 {
            format!("{:.0}", s.median)
        } else {
            format!("{:.1}", s.median)
        }
    })
    .unwrap_or_else(|| "-".into())
}

fn ratio(x: Option<f64>) -> String {
    x.map(|r| format!("{r:.2}x")).unwrap_or_else(|| "-".into())
}

/// `mean ± sd` (hyperfine's form); the mean alone for a single repeat.
fn mean_sd(s: Option<Stat>) -> String {
    s.map(|s| match s.std_dev {
        Some(sd) => format!("{} ± {}", num(s.mean), num(sd)),
        None => num(s.mean),
    })
    .unwrap_or_else(|| "-".into())
}

/// `[lo hi]` (criterion's form), or `-` when there is no interval.
fn ci(s: Option<Stat>) -> String {
    s.and_then(|s| s.ci95)
        .map(|[lo, hi]| format!("[{} {}]", num(lo), num(hi)))
        .unwrap_or_else(|| "-".into())
}

fn secs(ms: Option<Stat>) -> Option<Stat> {
    ms.map(|s| s.scaled(0.001))
}

pub type Row = (String, Vec<Cell>);

type RatioPick = fn(&super::Ratios) -> (Option<f64>, Option<Significance>);

/// The table's rows for one worker count, one cell per strategy; with `power_loss` the
/// power-loss row too (decided over the whole comparison so every block has the same rows).
pub fn rows(cols: &[&StrategySummary], power_loss: bool) -> Vec<Row> {
    let first = cols.first().map(|s| s.strategy.clone()).unwrap_or_default();
    let row = |label: &str, f: &dyn Fn(&StrategySummary) -> String| -> Row {
        (
            label.to_string(),
            cols.iter().map(|s| Cell::plain(f(s))).collect(),
        )
    };
    let vs = |label: String, f: RatioPick| -> Row {
        let cells = cols
            .iter()
            .map(|s| match &s.vs_first {
                Some(r) => {
                    let (x, sig) = f(r);
                    Cell {
                        text: ratio(x),
                        not_significant: sig.is_some_and(Significance::is_not_significant),
                    }
                }
                None => Cell::plain("1.00x".into()),
            })
            .collect();
        (label, cells)
    };
    let mut rows = vec![
        row("runs passed", &|s| format!("{}/{}", s.passed, s.runs)),
        row("commits/s median", &|s| median(s.commits_per_sec)),
        row("commits/s min-max", &|s| range(s.commits_per_sec)),
        row("commits/s mean ± sd", &|s| mean_sd(s.commits_per_sec)),
        row("commits/s 95% CI", &|s| ci(s.commits_per_sec)),
        vs(format!("commits/s vs {first}"), |r| {
            (r.commits_per_sec, r.significance.commits_per_sec)
        }),
        row("wall s median (min-max)", &|s| median_range(s.wall_secs)),
        row("wall s mean ± sd", &|s| mean_sd(s.wall_secs)),
        row("wall s 95% CI", &|s| ci(s.wall_secs)),
        vs(format!("wall vs {first}"), |r| {
            (r.wall_secs, r.significance.wall_secs)
        }),
        row("commit latency p50 ms", &|s| median(s.latency_p50_ms)),
        row("commit latency p99 ms", &|s| median(s.latency_p99_ms)),
        row("p99 ms mean ± sd", &|s| mean_sd(s.latency_p99_ms)),
        row("p99 ms 95% CI", &|s| ci(s.latency_p99_ms)),
        vs(format!("p99 vs {first}"), |r| {
            (r.latency_p99_ms, r.significance.latency_p99_ms)
        }),
        row("commit latency max ms", &|s| median_range(s.latency_max_ms)),
        row("flock wait ms/commit", &|s| {
            median(s.lock_wait_ms_per_commit)
        }),
        row("busy-handler wait ms/commit", &|s| {
            median(s.begin_wait_ms_per_commit)
        }),
        row("busy events / retries", &|s| {
            format!("{} / {}", count(s.busy_events), count(s.busy_retries))
        }),
        row("first worker done s", &|s| {
            median(secs(s.first_worker_done_ms))
        }),
        row("last worker done s", &|s| {
            median(secs(s.last_worker_done_ms))
        }),
        row("worker commits/s min-max", &|s| match (
            s.worker_commits_per_sec_min,
            s.worker_commits_per_sec_max,
        ) {
            (Some(lo), Some(hi)) => format!("{}-{}", num(lo.median), num(hi.median)),
            _ => "-".into(),
        }),
        row("corruption false / real", &|s| {
            format!("{} / {}", s.false_corruption, s.real_corruption)
        }),
        row("integrity ok", &|s| {
            format!("{}/{}", s.integrity_ok, s.runs - s.errors)
        }),
        row("sidecar <db>.lock seen", &|s| {
            format!("{}/{}", s.sidecar_seen, s.runs - s.errors)
        }),
    ];
    // Only when the scenario simulates power loss (`[io]`): what each strategy lost of it.
    if power_loss {
        rows.push(row(
            "power loss: acked lost / acked",
            &|s| match s.power_loss_acknowledged_lost {
                Some([acked, lost]) => format!("{lost} / {acked}"),
                None => "-".into(),
            },
        ));
    }
    rows
}

/// Whether any strategy of the comparison simulated a power loss.
pub fn has_power_loss(r: &CompareReport) -> bool {
    r.summary
        .iter()
        .any(|s| s.power_loss_acknowledged_lost.is_some())
}

/// The legend lines under the table: what `(n.s.)` means when a cell carries it, or that a
/// single repeat has no interval.
pub fn legend(r: &CompareReport) -> Vec<&'static str> {
    let marked = r
        .summary
        .iter()
        .filter_map(|s| s.vs_first.as_ref())
        .any(|v| {
            [
                v.significance.commits_per_sec,
                v.significance.wall_secs,
                v.significance.latency_p99_ms,
            ]
            .into_iter()
            .flatten()
            .any(Significance::is_not_significant)
        });
    let mut out = Vec::new();
    if marked {
        out.push(NOT_SIGNIFICANT_LEGEND);
    }
    if r.repeat < 2 {
        out.push(NO_INTERVAL_LEGEND);
    }
    out
}

/// Renders every worker count's block, then a legend of the strategies.
pub fn render(r: &CompareReport) -> String {
    let power_loss = has_power_loss(r);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "compare {} seed={} journal_mode={} synchronous={}, {} repeat(s) per strategy, order alternating (A B, B A, ...)",
        r.scenario, r.seed, r.journal_mode, r.synchronous, r.repeat
    );
    for g in &r.groups {
        let cols: Vec<&StrategySummary> = r
            .summary
            .iter()
            .filter(|s| s.workers == g.workers)
            .collect();
        let _ = writeln!(
            out,
            "\n{} x {} ops, schedule {}",
            super::workers_label(g.workers),
            g.ops_per_worker,
            g.schedule_hash
                .as_deref()
                .map(|h| &h[..h.len().min(19)])
                .unwrap_or("-")
        );
        let rows: Vec<(String, Vec<String>)> = rows(&cols, power_loss)
            .into_iter()
            .map(|(l, cells)| (l, cells.iter().map(Cell::console).collect()))
            .collect();
        let label_w = rows
            .iter()
            .map(|(l, _)| l.chars().count())
            .max()
            .unwrap_or(0);
        let widths: Vec<usize> = cols
            .iter()
            .enumerate()
            .map(|(i, s)| {
                rows.iter()
                    .map(|(_, v)| v[i].chars().count())
                    .chain([s.strategy.len()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut line = format!("{:<label_w$}", "");
        for (s, w) in cols.iter().zip(&widths) {
            let _ = write!(line, "  {:>w$}", s.strategy);
        }
        let _ = writeln!(out, "{}", line.trim_end());
        for (label, vals) in &rows {
            let mut line = format!("{label:<label_w$}");
            for (v, w) in vals.iter().zip(&widths) {
                let _ = write!(line, "  {v:>w$}");
            }
            let _ = writeln!(out, "{line}");
        }
    }
    for l in legend(r) {
        let _ = writeln!(out, "{l}");
    }
    let _ = writeln!(out);
    for s in &r.strategies {
        let _ = writeln!(out, "  {:<11} {}", s.name, s.summary);
    }
    for n in &r.notes {
        let _ = writeln!(out, "note: {n}");
    }
    out
}
