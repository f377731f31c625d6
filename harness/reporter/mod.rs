//! The one reporter: renders every [`RunEvent`] for a person. The seed first, progress
//! while it runs (on stderr, only on a terminal), the verdict last. It renders a sweep's
//! and a merge's [`SweepEvent`](crate::nightly::event::SweepEvent)s too (`sweep`: the
//! progress bar, the plain progress lines, the recap, the totals line). It sits above every
//! layer that emits events (run, replay, determinism, the commands built on them, the
//! sweep) and below `cli`, which makes it; nothing below imports it (`tests/house_imports.rs`).

mod lines;
mod sweep;

use std::io::{IsTerminal, Write};
use std::path::Path;

use crate::report::Report;
use crate::report::line::verdict_line;
use crate::run::event::{Page, Reporter, RunEvent};

/// Prints run output to stdout and progress to stderr (only when stderr is a terminal).
pub struct Console {
    /// `--quiet`: the seed line and the verdict line, little in between.
    quiet: bool,
    live: bool,
    /// The running run's `name seed=N`, for the progress line.
    label: String,
    /// A sweep's bar and counts, between its events.
    sweep: sweep::SweepView,
}

impl Drop for Console {
    /// A sweep's bar never outlives its console: the terminal's line is left clean.
    fn drop(&mut self) {
        self.sweep.clear();
    }
}

impl Console {
    pub fn new(quiet: bool) -> Console {
        Console {
            quiet,
            live: !quiet && std::io::stderr().is_terminal(),
            label: String::new(),
            sweep: sweep::SweepView::default(),
        }
    }

    /// One line of the command's own on stdout (the CLI's summaries).
    pub fn line(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    }

    fn finished(&mut self, report: &Report, report_path: Option<&Path>) {
        if self.live {
            err!("\r\x1b[2K");
        }
        // --quiet: the seed line and the verdict line (which ends with the reproduce
        // command of a failure), nothing in between.
        if !self.quiet {
            self.details(report, report_path);
        }
        self.line(&verdict_line(report));
    }

    fn details(&self, report: &Report, report_path: Option<&Path>) {
        for n in &report.notes {
            self.line(&format!("note: {n}"));
        }
        if report.interrupted() {
            self.line(&format!(
                "INTERRUPTED {} seed={}: every worker was killed; reproduce: {}",
                report.scenario.name, report.seed, report.reproduce
            ));
        }
        if !report.passed() {
            self.line("failures:");
            for f in &report.failures {
                self.line(&format!("  - {f}"));
            }
            for f in &report.liveness {
                self.line(&format!("  - {f}"));
            }
        }
        if let Some(dir) = &report.run_dir {
            self.line(&format!("run directory kept: {}", dir.display()));
        }
        if let Some(p) = report_path {
            self.line(&format!("report: {}", p.display()));
        }
    }

    /// The events of one run; `false` for an event of a command built on runs.
    fn run_event(&mut self, e: &RunEvent<'_>) -> bool {
        match e {
            RunEvent::Seed {
                seed,
                scenario,
                mode,
                settings,
            } => {
                self.label = format!("{scenario} seed={seed}");
                self.line(&format!(
                    "SEED={seed} scenario={scenario} mode={} {settings}",
                    mode.name()
                ));
            }
            RunEvent::AppAtBarrier(app) if !self.quiet => {
                // Connections an app opens after `go` report their settings later: the
                // report and the page have every one; this line has those opened before
                // the barrier.
                let line = app
                    .line()
                    .replace("settings not reported", "settings not reported yet");
                self.line(&format!("  {line}"));
            }
            RunEvent::AppAtBarrier(_) => {}
            RunEvent::Ops { done, planned } => {
                if self.live {
                    err!("\r\x1b[2K  {}: {done}/{planned} ops", self.label);
                }
            }
            RunEvent::Note(n) => self.line(&format!("note: {n}")),
            RunEvent::PageDrawn { path, millis } if !self.quiet => self.line(&format!(
                "page: {} (drawn in {millis:.0} ms)",
                path.display()
            )),
            RunEvent::PageDrawn { .. } => {}
            RunEvent::PageNotDrawn { page, error } => self.line(&format!(
                "note: {} could not be drawn: {error}",
                match page {
                    Page::Report => "the report page",
                    Page::CompareRun => "the run's page",
                }
            )),
            RunEvent::ReportUnwritten(u) => self.line(&format!("error: {u}")),
            RunEvent::Finished { report, path } => self.finished(report, *path),
            RunEvent::Prepare(p) => lines::prepare(p),
            RunEvent::Delegated { version, exe } => {
                self.line(&format!("SQLite {version}: running {}", exe.display()))
            }
            RunEvent::SideBySide(rows) => {
                self.line(&format!("side by side ({} runs):", rows.len()));
                for r in rows.iter() {
                    self.line(&format!("  {}: {}", r.release, r.verdict));
                    if let Some(p) = &r.report {
                        self.line(&format!("    report: {}", p.display()));
                    }
                }
            }
            RunEvent::NotCarriedOut {
                scenario,
                seed,
                error,
                reproduce,
            } => self.line(&format!(
                "FAIL {scenario} seed={seed}: the run could not be carried out: {error}; reproduce: {reproduce}"
            )),
            _ => return false,
        }
        true
    }
}

impl Reporter for Console {
    fn event(&mut self, e: &RunEvent<'_>) {
        // --quiet: a sync sweep's points that passed and lost nothing go unsaid.
        if let RunEvent::SyncSweepPoint { result, .. } = e
            && self.quiet
            && result.passed()
            && !result.losing()
        {
            return;
        }
        if !self.run_event(e)
            && let Some(text) = lines::command_line(e)
        {
            self.line(&text);
        }
    }

    fn quiet(&self) -> bool {
        self.quiet
    }
}
