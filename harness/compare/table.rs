//! The side-by-side text table of a comparison: one column per strategy, one block per
//! worker count. How to read it: `BENCHMARKS.md`.

use std::fmt::Write;

use super::{CompareReport, Stat, StrategySummary};

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

fn secs(ms: Option<Stat>) -> Option<Stat> {
    ms.map(|s| Stat {
        median: s.median / 1000.0,
        min: s.min / 1000.0,
        max: s.max / 1000.0,
    })
}

type Row = (String, Vec<String>);

fn rows(cols: &[&StrategySummary]) -> Vec<Row> {
    let first = cols.first().map(|s| s.strategy.clone()).unwrap_or_default();
    let row = |label: &str, f: &dyn Fn(&StrategySummary) -> String| -> Row {
        (label.to_string(), cols.iter().map(|s| f(s)).collect())
    };
    let vs = |f: fn(&super::Ratios) -> Option<f64>| {
        move |s: &StrategySummary| match &s.vs_first {
            Some(r) => ratio(f(r)),
            None => "1.00x".into(),
        }
    };
    let mut rows = vec![
        row("runs passed", &|s| format!("{}/{}", s.passed, s.runs)),
        row("commits/s median", &|s| median(s.commits_per_sec)),
        row("commits/s min-max", &|s| range(s.commits_per_sec)),
        row(&format!("commits/s vs {first}"), &vs(|r| r.commits_per_sec)),
        row("wall s median (min-max)", &|s| median_range(s.wall_secs)),
        row(&format!("wall vs {first}"), &vs(|r| r.wall_secs)),
        row("commit latency p50 ms", &|s| median(s.latency_p50_ms)),
        row("commit latency p99 ms", &|s| median(s.latency_p99_ms)),
        row(&format!("p99 vs {first}"), &vs(|r| r.latency_p99_ms)),
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
    if cols
        .iter()
        .any(|s| s.power_loss_acknowledged_lost.is_some())
    {
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

/// Renders every worker count's block, then a legend of the strategies.
pub fn render(r: &CompareReport) -> String {
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
        let rows = rows(&cols);
        let label_w = rows.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
        let widths: Vec<usize> = cols
            .iter()
            .enumerate()
            .map(|(i, s)| {
                rows.iter()
                    .map(|(_, v)| v[i].len())
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
    let _ = writeln!(out);
    for s in &r.strategies {
        let _ = writeln!(out, "  {:<11} {}", s.name, s.summary);
    }
    for n in &r.notes {
        let _ = writeln!(out, "note: {n}");
    }
    out
}
