//! The comparison's HTML page (`compare.html`) and its commit-latency CDF per strategy
//! (`compare-cdf.svg`): the p99 bar of the chart hides the busy handler's starvation tail,
//! which the CDF shows as a line running out to the right.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

use super::table::{self, Cell};
use super::{CompareReport, RunSummary, RunVerdict, StrategySummary, workers_label};
use crate::render::html::{self, badge, document, escape, figure, list, num};
use crate::render::latency;
use crate::render::paths::Elide;

pub const HTML_FILE: &str = "compare.html";
pub const CDF_FILE: &str = "compare-cdf.svg";

/// Commit latencies (ms) per (workers, strategy), pooled over the repeats.
#[derive(Default)]
pub struct Latencies(pub BTreeMap<(u32, String), Vec<f64>>);

impl Latencies {
    pub fn add(&mut self, workers: u32, strategy: &str, mut ms: Vec<f64>) {
        self.0
            .entry((workers, strategy.to_string()))
            .or_default()
            .append(&mut ms);
    }

    /// One CDF per worker count, a line per strategy in the order given.
    pub fn cdf_svgs(&self, r: &CompareReport) -> Vec<anyhow::Result<String>> {
        r.groups
            .iter()
            .map(|g| {
                let series: Vec<(String, Vec<f64>)> = r
                    .strategies
                    .iter()
                    .filter_map(|s| {
                        let mut v = self.0.get(&(g.workers, s.name.clone()))?.clone();
                        v.sort_by(f64::total_cmp);
                        Some((s.name.clone(), v))
                    })
                    .collect();
                latency::cdf_svg(
                    &format!(
                        "commit latency CDF per strategy, {} x {} ops{}",
                        workers_label(g.workers),
                        g.ops_per_worker,
                        if r.repeat > 1 {
                            format!(", {} repeats pooled", r.repeat)
                        } else {
                            String::new()
                        }
                    ),
                    &series,
                )
            })
            .collect()
    }
}

/// The side-by-side table as HTML: one row per worker count and strategy, the console
/// table's rows as columns; a ratio whose intervals overlap says so in its cell.
fn summary_table(r: &CompareReport) -> String {
    let power_loss = table::has_power_loss(r);
    let mut headers: Vec<String> = vec!["workers".into(), "strategy".into()];
    let mut rows: Vec<Vec<String>> = Vec::new();
    for g in &r.groups {
        let cols: Vec<&StrategySummary> = r
            .summary
            .iter()
            .filter(|s| s.workers == g.workers)
            .collect();
        let block = table::rows(&cols, power_loss);
        if headers.len() == 2 {
            headers.extend(block.iter().map(|(label, _)| label.clone()));
        }
        for (i, s) in cols.iter().enumerate() {
            let mut row = vec![num(s.workers), escape(&s.strategy)];
            row.extend(block.iter().map(|(_, cells)| cell(&cells[i])));
            rows.push(row);
        }
    }
    let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
    html::table(&headers, &rows)
}

fn cell(c: &Cell) -> String {
    if c.not_significant {
        format!(
            "{}<br><span class=\"ns\">no significant difference</span>",
            escape(&c.text)
        )
    } else {
        escape(&c.text)
    }
}

/// A run's links, relative to the compare directory so they survive moving it: its report,
/// its page and the page's timeline.
fn run_links(x: &RunSummary, dir: &Path) -> String {
    let rel = |p: &Path| {
        let rel = p.strip_prefix(dir).unwrap_or(p);
        escape(&rel.display().to_string())
    };
    let mut links = Vec::new();
    if let Some(p) = &x.page {
        let page = rel(p);
        links.push(format!(r#"<a href="{page}">page</a>"#));
        links.push(format!(r#"<a href="{page}#timeline">timeline</a>"#));
    }
    if let Some(p) = &x.report {
        links.push(format!(r#"<a href="{}">report</a>"#, rel(p)));
    }
    links.join(" ")
}

/// The page. `reproduce` maps a run's number to the command that repeats it; `elide`
/// takes the machine's absolute paths out of the finished page.
pub fn render(
    r: &CompareReport,
    chart: &str,
    cdfs: &[String],
    reproduce: &BTreeMap<u32, String>,
    dir: &Path,
    elide: &Elide,
) -> String {
    let word = if r.passed { "PASS" } else { "FAIL" };
    let mut b = String::new();
    let _ = writeln!(
        b,
        "<h1>{}compare {} <span class=\"meta\">seed {}</span></h1>",
        badge(word),
        escape(&r.scenario),
        r.seed
    );
    let _ = writeln!(
        b,
        "<p class=\"meta\">{} {}; {} strategies x {} worker count(s) x {} repeat(s); SQLite {}; {} to {}</p>",
        escape(&r.journal_mode),
        escape(&r.synchronous),
        r.strategies.len(),
        r.groups.len(),
        r.repeat,
        escape(&r.sqlite_version),
        escape(&r.started_at),
        escape(&r.finished_at)
    );
    b.push_str("<h2 id=\"failures\">Failures</h2>\n");
    let failed: Vec<_> = r
        .runs
        .iter()
        .filter(|x| x.verdict != RunVerdict::Pass)
        .collect();
    if failed.is_empty() {
        b.push_str("<p>None: every run was carried out and passed.</p>\n");
    }
    for x in failed {
        let _ = writeln!(
            b,
            "<p><b>run {} ({}, {}): {}</b> {}</p>",
            x.run,
            escape(&x.strategy),
            workers_label(x.workers),
            x.verdict.name(),
            run_links(x, dir)
        );
        let mut lines = x.failures.clone();
        lines.extend(x.error.clone());
        b.push_str(&list("failures", &lines));
        if let Some(cmd) = reproduce.get(&x.run) {
            let _ = writeln!(b, "<pre class=\"cmd\">{}</pre>", escape(cmd));
        }
    }
    b.push_str("<h2 id=\"summary\">Side by side</h2>\n");
    b.push_str("<p class=\"note\">Median, range, mean &plusmn; standard deviation and the 95 % confidence interval of the mean (Student&#39;s t) over the repeats of each strategy; ratios are medians against the first strategy.</p>\n");
    b.push_str(&summary_table(r));
    for l in table::legend(r) {
        let _ = writeln!(b, "<p class=\"note\">{}</p>", escape(l));
    }
    b.push_str(&figure(chart));
    b.push_str("<h2 id=\"latency\">Commit latency CDF</h2>\n");
    b.push_str("<p class=\"note\">Each line is every commit of one strategy (all repeats). Read the top right: a line that runs far to the right before reaching 1 is a starvation tail that the p99 bar does not show.</p>\n");
    for svg in cdfs {
        b.push_str(&figure(svg));
    }
    b.push_str("<h2 id=\"runs\">Runs, in the order they ran</h2>\n");
    let rows: Vec<Vec<String>> = r
        .runs
        .iter()
        .map(|x| {
            vec![
                num(x.run),
                num(x.repeat),
                escape(&x.strategy),
                num(x.workers),
                x.verdict.name().to_string(),
                num(format!("{:.3}", x.wall_secs)),
                num(format!("{:.0}", x.commits_per_sec)),
                num(x.latency_ms.p99),
                num(x.latency_ms.max),
                num(format!("{:.0}", x.first_worker_done_ms)),
                num(format!("{:.0}", x.last_worker_done_ms)),
                run_links(x, dir),
            ]
        })
        .collect();
    b.push_str(&html::table(
        &[
            "run",
            "repeat",
            "strategy",
            "workers",
            "verdict",
            "wall s",
            "commits/s",
            "p99 ms",
            "max ms",
            "first done ms",
            "last done ms",
            "links",
        ],
        &rows,
    ));
    let strategies: Vec<String> = r
        .strategies
        .iter()
        .map(|s| {
            let file = s
                .scenario_file
                .strip_prefix(dir)
                .unwrap_or(&s.scenario_file);
            format!("{}: {} ({})", s.name, s.summary, file.display())
        })
        .collect();
    b.push_str("<h2 id=\"settings\">Strategies and settings</h2>\n");
    b.push_str(&list("notes", &strategies));
    let _ = writeln!(b, "<p class=\"note\">Order: {}</p>", escape(&r.order));
    if !r.notes.is_empty() {
        b.push_str(&list("notes", &r.notes));
    }
    let page = document(
        &format!("{word} compare {} seed {}", r.scenario, r.seed),
        &b,
    );
    elide.apply(&page)
}
