//! What a person sees: the seed first, progress while it runs, the verdict last.

use std::io::{IsTerminal, Write};
use std::path::Path;

use super::Report;
use crate::runner::Progress;
use crate::scenario::Mode;

/// Prints run output to stdout and progress to stderr (only when stderr is a terminal).
pub struct Console {
    pub quiet: bool,
    live: bool,
    /// Prints nothing at all: for commands that run a run and say what it means themselves
    /// (`walburst adapter check`).
    silent: bool,
    label: String,
    /// An external worker's run: walburst's own SQLite version, for the seed line's
    /// continuation at the start barrier (the app's SQLite and settings).
    app_of: Option<String>,
}

impl Console {
    pub fn new(quiet: bool) -> Console {
        Console {
            quiet,
            live: !quiet && std::io::stderr().is_terminal(),
            silent: false,
            label: String::new(),
            app_of: None,
        }
    }

    /// A console that prints nothing (no seed line, progress or verdict line).
    pub fn silent() -> Console {
        Console {
            quiet: true,
            live: false,
            silent: true,
            label: String::new(),
            app_of: None,
        }
    }

    pub fn line(&self, text: &str) {
        if self.silent {
            return;
        }
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    }

    /// The first line of every run: the seed, the mode and the settings that matter.
    pub fn seed_line(&mut self, seed: u64, name: &str, mode: Mode, settings: &str) {
        self.label = format!("{name} seed={seed}");
        self.line(&format!(
            "SEED={seed} scenario={name} mode={} {settings}",
            mode.name()
        ));
    }

    /// The run's worker is the app's (an external `[worker]`): once every worker is at the
    /// start barrier, the seed line is continued with the SQLite and settings the app's
    /// processes reported (the seed line itself is printed before any worker starts).
    pub fn external_worker(&mut self, runner_sqlite: &str) {
        self.app_of = Some(runner_sqlite.to_string());
    }

    pub fn finished(&mut self, report: &Report, report_path: Option<&Path>) {
        if self.live {
            eprint!("\r\x1b[2K");
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
}

/// `PASS name seed=N: ...` in one line; a failure ends with the command that reproduces it.
pub fn verdict_line(r: &Report) -> String {
    let t = &r.totals;
    let c = &r.checks;
    let k = &r.corruption;
    let mut line = format!(
        "{} {} seed={}: {}/{} committed, {} rolled back, {} failed, {}, {:.0} commits/s, p99 {:.1} ms, wall {:.2} s; integrity {}, ledger {}, overlaps {}, corruption reports {} (false {}, real {})",
        verdict_word(r.verdict),
        r.scenario.name,
        r.seed,
        t.committed,
        t.planned_writes,
        t.rolled_back,
        t.failed,
        ambiguous(r),
        t.commits_per_sec,
        r.latency_ms.p99,
        r.wall_secs,
        if c.integrity_ok() { "ok" } else { "DAMAGED" },
        if c.ledger_error.is_some() {
            "UNREADABLE".to_string()
        } else if c.not_run > 0 && c.not_run == t.planned_writes {
            "not judged (no worker ran)".to_string()
        } else if c.lost_writes + c.phantom_writes + c.duplicate_writes + c.order_violations == 0 {
            "clean".to_string()
        } else {
            format!(
                "lost {} phantom {} duplicate {} out-of-order {}",
                c.lost_writes, c.phantom_writes, c.duplicate_writes, c.order_violations
            )
        },
        c.lock_overlaps,
        k.reports,
        k.false_reports,
        k.real,
    );
    if c.sidecar_seen {
        line.push_str(", sidecar <db>.lock seen");
    }
    if let Some(a) = &r.app {
        line.push_str(&format!(", app sqlite {}", a.versions()));
        if let Some(m) = &a.journal_mode {
            line.push_str(&format!(" journal_mode={m}"));
        }
    }
    if !r.passed() {
        if let Some(f) = r.primary() {
            line.push_str(&format!(
                " [{}/{}: {}]",
                f.category.name(),
                f.detector.name(),
                clip(f.text(), 120)
            ));
        }
        line.push_str(&format!("; reproduce: {}", r.reproduce));
    }
    line
}

/// At most `max` characters of `s` on one line (the verdict is one line: SQLite's multi-line
/// answers are joined), cut at a character boundary, `...` when cut.
fn clip(s: &str, max: usize) -> String {
    let s = s.lines().map(str::trim).collect::<Vec<_>>().join(" ");
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s,
    }
}

/// `PASS`, `FAIL` or `INTERRUPTED`.
pub fn verdict_word(v: crate::check::verdict::VerdictKind) -> &'static str {
    use crate::check::verdict::VerdictKind;
    match v {
        VerdictKind::Pass => "PASS",
        VerdictKind::Fail => "FAIL",
        VerdictKind::Interrupted => "INTERRUPTED",
    }
}

/// Ops whose outcome nobody knew (reported ambiguous, or never reported because the worker
/// died), and how many of them the ledger found committed.
fn ambiguous(r: &Report) -> String {
    let n = r.checks.ambiguous.max(r.totals.ambiguous);
    let mut s = if n == 0 || r.checks.ledger_error.is_some() {
        format!("{n} ambiguous")
    } else {
        format!(
            "{n} ambiguous ({} found committed)",
            r.checks.ambiguous_committed
        )
    };
    if r.checks.not_run > 0 {
        s.push_str(&format!(", {} not run", r.checks.not_run));
    }
    s
}

impl Progress for Console {
    fn barrier(&mut self, workers: &[&crate::observe::WorkerExit]) {
        let Some(own) = self.app_of.as_deref() else {
            return;
        };
        if self.quiet {
            return;
        }
        let exits: Vec<_> = workers.iter().map(|w| (*w).clone()).collect();
        let app = super::app::AppSide::of(&exits, &crate::check::Checks::default(), own);
        // Connections an app opens after `go` report their settings later: the report
        // and the page have every one; this line has those opened before the barrier.
        let line = app
            .line()
            .replace("settings not reported", "settings not reported yet");
        self.line(&format!("  {line}"));
    }

    fn ops(&mut self, done: u64, planned: u64) {
        if self.live {
            eprint!("\r\x1b[2K  {}: {done}/{planned} ops", self.label);
        }
    }
}

#[cfg(test)]
mod clip_tests {
    use super::clip;

    /// The verdict line stays one line whatever the primary failure's text holds.
    #[test]
    fn a_multi_line_failure_is_one_clipped_line() {
        let s = clip(
            "integrity_check: *** in database main ***\nTree 2 page 2: bad",
            200,
        );
        assert_eq!(
            s,
            "integrity_check: *** in database main *** Tree 2 page 2: bad"
        );
        assert_eq!(clip("abcdef", 3), "abc...");
    }
}
