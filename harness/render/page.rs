//! One run's HTML page: the verdict first, then the failures with the command that
//! reproduces them, the checks, the timeline, the latency views and the settings.

use std::fmt::Write;

use super::html::{badge, document, escape, figure, list, num, table};
use super::{RunData, latency, verdict_word};
use crate::report::Report;

/// Failures and liveness failures as lines (through `Display`, whatever their type).
pub fn failure_lines(r: &Report) -> (Vec<String>, Vec<String>) {
    (
        r.failures.iter().map(|f| f.to_string()).collect(),
        r.liveness.iter().map(|f| f.to_string()).collect(),
    )
}

pub fn run_page(d: &RunData, timeline: Option<&str>, notes: &[String]) -> String {
    let r = d.report;
    let word = verdict_word(r);
    let mut b = String::new();
    let _ = writeln!(
        b,
        "<h1>{}{} <span class=\"meta\">seed {}</span></h1>",
        badge(word),
        escape(&r.scenario.name),
        r.seed
    );
    let _ = writeln!(
        b,
        "<p class=\"meta\">{} mode; started {}; {:.3} s; {} of {} planned writes committed ({:.0} commits/s); {} {}; walburst {}</p>",
        r.mode.name(),
        escape(&r.started_at),
        r.wall_secs,
        r.totals.committed,
        r.totals.planned_writes,
        r.totals.commits_per_sec,
        if r.app.is_some() {
            "walburst's own SQLite"
        } else {
            "SQLite"
        },
        escape(&r.sqlite_version),
        escape(&r.walburst_version)
    );
    // An external worker: the SQLite under test is the app's, not walburst's own.
    if let Some(a) = &r.app {
        let _ = writeln!(
            b,
            "<p class=\"meta\" id=\"app-sqlite\">app SQLite {}{}; its connections set: {}; walburst's own SQLite {} set the database up and verified it</p>",
            escape(&a.versions()),
            a.journal_mode
                .as_ref()
                .map(|m| format!(" (journal mode chosen by the app: {})", escape(m)))
                .unwrap_or_default(),
            escape(&a.settings_text()),
            escape(&a.runner_sqlite)
        );
    }
    failures(&mut b, r);
    checks(&mut b, r);
    super::isolation::section(&mut b, r);
    super::invariants::section(&mut b, r);
    timeline_section(&mut b, d, timeline, notes);
    latency_section(&mut b, d);
    settings(&mut b, r);
    let page = document(&format!("{word} {} seed {}", r.scenario.name, r.seed), &b);
    super::paths::Elide::for_run(r).apply(&page)
}

fn failures(b: &mut String, r: &Report) {
    let (fails, live) = failure_lines(r);
    b.push_str("<h2 id=\"failures\">Failures</h2>\n");
    if fails.is_empty() && live.is_empty() {
        b.push_str("<p>None: every check met the scenario's expectations.</p>\n");
    }
    if !fails.is_empty() {
        let _ = writeln!(b, "<p>{} safety failure(s):</p>", fails.len());
        b.push_str(&list("failures", &fails));
    }
    if !live.is_empty() {
        let _ = writeln!(b, "<p>{} liveness failure(s):</p>", live.len());
        b.push_str(&list("liveness", &live));
    }
    b.push_str("<p>Reproduce:</p>\n");
    let _ = writeln!(b, "<pre class=\"cmd\">{}</pre>", escape(&r.reproduce));
    if !r.notes.is_empty() {
        b.push_str("<p>Notes:</p>\n");
        b.push_str(&list("notes", &r.notes));
    }
}

fn yes(v: bool) -> String {
    if v { "yes".into() } else { "no".into() }
}

fn checks(b: &mut String, r: &Report) {
    let k = &r.checks;
    let row = |name: &str, value: String| vec![escape(name), value];
    let mut rows = vec![
        row("integrity_check", escape(&k.integrity_check)),
        row("quick_check", escape(&k.quick_check)),
        row(
            "journal mode after the run",
            format!(
                "{} ({})",
                escape(&k.journal_mode),
                match (&k.app_journal_mode, k.journal_mode_ok) {
                    (Some(_), true) => "the app's mode throughout",
                    (Some(_), false) => "NOT one mode throughout",
                    (None, true) => "as configured",
                    (None, false) => "NOT as configured",
                }
            ),
        ),
        row(
            "final length = page_count x page_size",
            yes(k.final_length_ok),
        ),
        row(
            "ledger: lost / phantom / duplicate / out of order",
            format!(
                "{} / {} / {} / {}",
                k.lost_writes, k.phantom_writes, k.duplicate_writes, k.order_violations
            ),
        ),
        row(
            "ambiguous ops (settled committed)",
            format!("{} ({})", k.ambiguous, k.ambiguous_committed),
        ),
        row(
            "write-lock overlaps / intervals checked",
            format!("{} / {}", k.lock_overlaps, k.lock_intervals),
        ),
        row("lockstep breaches", k.lockstep_breaches.to_string()),
        row("<db>.lock sidecar seen", yes(k.sidecar_seen)),
        row(
            "files seen in the db directory",
            escape(&k.files_seen.join(", ")),
        ),
        row(
            "corruption reports (classification)",
            format!(
                "{} ({}; false {}, real {})",
                r.corruption.reports,
                super::classification_word(r.corruption.classification),
                r.corruption.false_reports,
                r.corruption.real
            ),
        ),
    ];
    for (label, v) in [
        ("ledger error", &k.ledger_error),
        ("first lock overlap", &k.lock_overlap_example),
        ("first lockstep breach", &k.first_breach),
        ("content hash", &k.content_hash),
    ] {
        if let Some(v) = v {
            rows.push(row(label, escape(v)));
        }
    }
    for e in &k.ledger_examples {
        rows.push(row("ledger example", escape(e)));
    }
    for e in &k.verification_errors {
        rows.push(row("verification error", escape(e)));
    }
    b.push_str("<h2 id=\"checks\">Checks</h2>\n");
    b.push_str(&table(&["check", "result"], &rows));
    if !r.corruption.examples.is_empty() {
        let rows: Vec<Vec<String>> = r
            .corruption
            .examples
            .iter()
            .map(|e| {
                vec![
                    num(e.worker),
                    num(e.seq),
                    escape(&e.op),
                    escape(&e.source),
                    escape(&e.message),
                ]
            })
            .collect();
        b.push_str("<p>First corruption reports:</p>\n");
        b.push_str(&table(&["worker", "seq", "op", "source", "message"], &rows));
    }
}

fn timeline_section(b: &mut String, d: &RunData, timeline: Option<&str>, notes: &[String]) {
    b.push_str("<h2 id=\"timeline\">Timeline</h2>\n");
    match timeline {
        Some(svg) => {
            if d.trace.is_empty() {
                b.push_str("<p class=\"note\">One lane per actor, time since the start barrier across. A bar is one transaction from BEGIN IMMEDIATE returning to the end of COMMIT or ROLLBACK; the thinner bar before it is the wait for the write lock. Hover a mark or a lane label for details.</p>\n");
            } else {
                b.push_str("<p class=\"note\">Lockstep: one lane per actor, the step number across. A bar is a transaction from its begin step to its commit or rollback step; ticks are BUSY / held-flock steps; red lines are write-lock breaches; kills, respawns and lock files sit at the step the runner saw them (hover for the step).</p>\n");
            }
            b.push_str(&figure(svg));
        }
        None => b.push_str("<p class=\"note\">No timeline: there are no op records to draw.</p>\n"),
    }
    if !notes.is_empty() {
        b.push_str(&list("notes", notes));
    }
}

fn latency_section(b: &mut String, d: &RunData) {
    let r = d.report;
    b.push_str("<h2 id=\"latency\">Latency</h2>\n");
    let l = &r.latency_ms;
    b.push_str(&table(
        &["commit latency", "p50", "p95", "p99", "max"],
        &[vec![
            "ms".into(),
            num(l.p50),
            num(l.p95),
            num(l.p99),
            num(l.max),
        ]],
    ));
    let mut figs = Vec::new();
    let lat = latency::commit_latencies_ms(d.records);
    if !lat.is_empty() {
        figs.push(latency::cdf_svg(
            "commit latency CDF (committed ops)",
            &[(r.scenario.name.clone(), lat)],
        ));
        figs.push(latency::lock_wait_svg(d.records));
    }
    if !r.per_worker.is_empty() {
        figs.push(latency::throughput_svg(&r.per_worker));
    }
    for f in figs {
        match f {
            Ok(svg) => b.push_str(&figure(&svg)),
            Err(e) => {
                let _ = writeln!(b, "<p class=\"note\">{}</p>", escape(&format!("{e:#}")));
            }
        }
    }
    let rows: Vec<Vec<String>> = r
        .per_worker
        .iter()
        .map(|w| {
            vec![
                num(w.worker),
                num(w.committed),
                num(w.rolled_back),
                num(w.failed),
                num(w.ambiguous),
                num(format!("{:.0}", w.commits_per_sec)),
                num(format!("{:.0}", w.finished_at_ms)),
                num(w.latency_ms.p99),
                num(w.latency_ms.max),
                num(format!("{:.0}", w.begin_wait_ms_total)),
                num(format!("{:.0}", w.lock_wait_ms_total)),
            ]
        })
        .collect();
    b.push_str("<p>Per worker:</p>\n");
    b.push_str(&table(
        &[
            "worker",
            "committed",
            "rolled back",
            "failed",
            "ambiguous",
            "commits/s",
            "done at ms",
            "p99 ms",
            "max ms",
            "busy-handler wait ms",
            "flock wait ms",
        ],
        &rows,
    ));
}

fn settings(b: &mut String, r: &Report) {
    b.push_str("<h2 id=\"settings\">Settings</h2>\n");
    let mut rows = vec![
        vec![
            "scenario source".into(),
            escape(&r.scenario_source.as_arg()),
        ],
        vec!["settings".into(), escape(&r.scenario.key_settings())],
        vec!["schedule hash".into(), escape(&r.schedule_hash)],
    ];
    if let Some(h) = &r.trace_hash {
        rows.push(vec!["trace hash".into(), escape(h)]);
    }
    if let Some(dir) = &r.run_dir {
        rows.push(vec![
            "run directory".into(),
            escape(&dir.display().to_string()),
        ]);
    }
    b.push_str(&table(&["", ""], &rows));
    if !r.kills.is_empty() {
        let rows: Vec<Vec<String>> = r
            .kills
            .iter()
            .map(|k| {
                vec![
                    num(k.worker),
                    num(k.seq),
                    escape(&format!("{:?}", k.point)),
                    yes(k.respawned),
                ]
            })
            .collect();
        b.push_str("<p>Seeded kills:</p>\n");
        b.push_str(&table(&["worker", "seq", "point", "respawned"], &rows));
    }
    let exits: Vec<Vec<String>> = r
        .workers
        .iter()
        .filter(|w| !w.finished || w.killed_because.is_some() || w.error.is_some())
        .map(|w| {
            vec![
                num(w.worker),
                num(w.pid),
                escape(&format!("exit {:?} signal {:?}", w.exit_code, w.signal)),
                escape(w.killed_because.as_deref().unwrap_or("")),
                escape(w.error.as_deref().unwrap_or("")),
            ]
        })
        .collect();
    if !exits.is_empty() {
        b.push_str("<p>Workers that did not finish cleanly:</p>\n");
        b.push_str(&table(
            &["worker", "pid", "ended", "killed because", "error"],
            &exits,
        ));
    }
    let json = serde_json::to_string_pretty(&r.scenario).unwrap_or_default();
    let _ = writeln!(
        b,
        "<details><summary>the effective scenario</summary><pre class=\"json\">{}</pre></details>",
        escape(&json)
    );
}
