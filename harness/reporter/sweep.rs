//! A sweep's and a merge's events as a person reads them. On a terminal (stderr): a
//! progress bar with pairs done of total, failures so far, elapsed time and ETA, each
//! finished run's output printed above it. Without a terminal: each finished run's output
//! followed by one plain progress line. `--quiet`: only failed runs' output, the headers,
//! the recap and errors. `NO_COLOR` (set and not empty) turns colour off. Whatever the
//! mode, the last line is `N passed, M failed`. Word for word what the sweep printed
//! before it emitted events (tests compare the text).

use std::io::{IsTerminal, Write};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::Console;
use crate::nightly::event::{Shape, SweepEvent, SweepReporter, Tally};
use crate::nightly::summary::{Pair, PairResult, Summary, failures_to_show, fmt_secs, short_hash};

pub fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

/// What the console keeps between a sweep's events: the bar (a terminal, not quiet) and
/// the failures so far, which the bar shows while the next pair runs.
#[derive(Default)]
pub(super) struct SweepView {
    bar: Option<ProgressBar>,
    failed: u64,
}

impl SweepView {
    fn start_bar(&mut self, total: u64) {
        // `wide_msg` is cut to the terminal's width: the bar stays one line.
        let template = if no_color() {
            "{elapsed_precise} [{bar:30}] {pos}/{len} pairs, ETA {eta}, {wide_msg}"
        } else {
            "{elapsed_precise} [{bar:30.cyan/blue}] {pos}/{len} pairs, ETA {eta}, {wide_msg}"
        };
        let pb = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        pb.set_style(
            ProgressStyle::with_template(template)
                .expect("the template is valid")
                .progress_chars("=> "),
        );
        pb.set_message("0 failed");
        pb.enable_steady_tick(Duration::from_millis(500));
        self.bar = Some(pb);
    }

    pub(super) fn clear(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }

    /// Text on stdout, above the bar if there is one; a newline added unless it ends with
    /// one (a run's captured output does), nothing for no text.
    fn line(&self, text: &str) {
        match &self.bar {
            Some(b) => b.suspend(|| print_stdout(text)),
            None => print_stdout(text),
        }
    }
}

fn print_stdout(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    if !text.ends_with('\n') && !text.is_empty() {
        let _ = out.write_all(b"\n");
    }
    let _ = out.flush();
}

impl SweepReporter for Console {
    fn sweep_event(&mut self, e: &SweepEvent<'_>) {
        if !self.sweep_progress(e) && !self.sweep_end(e) {
            self.merge_event(e);
        }
    }
}

impl Console {
    /// A line shown unless `--quiet`.
    fn info(&self, text: &str) {
        if !self.quiet {
            self.sweep.line(text);
        }
    }

    /// The header and the pairs; `false` for an event of the end.
    fn sweep_progress(&mut self, e: &SweepEvent<'_>) -> bool {
        match e {
            SweepEvent::DryRunPair { index, pair } => {
                self.sweep
                    .line(&format!("{index} {}\t{}", pair.key(), pair.reproduce))
            }
            SweepEvent::DryRunEnd {
                selected,
                all,
                shard,
                hash,
            } => self.sweep.line(&format!(
                "{selected} of {all} pairs{} (sweep {}); nothing run",
                shard.map(|s| format!(", shard {s}")).unwrap_or_default(),
                short_hash(hash)
            )),
            SweepEvent::BaseSeed {
                base,
                nightly_date,
                first,
                last,
            } => {
                let range = match (first, last) {
                    (Some(f), Some(l)) if f != l => format!("seeds {f}..={l}"),
                    (Some(f), _) => format!("seed {f}"),
                    _ => String::new(),
                };
                self.sweep.line(&match nightly_date {
                    Some(d) => format!("BASE_SEED={base} (nightly: UTC date {d}); {range}"),
                    None => format!("BASE_SEED={base}; {range}"),
                });
            }
            SweepEvent::Sweep {
                pairs,
                regressions,
                shape,
                hash,
                shard,
                running,
                jobs,
                index,
            } => {
                let shape = match shape {
                    Shape::Seeds { cases, seeds } => format!("{cases} cases x {seeds} seeds"),
                    Shape::Pairs { pairs, cases } => format!("{pairs} pairs of {cases} cases"),
                };
                self.sweep.line(&format!(
                    "SWEEP {pairs} pairs ({regressions} regressions + {shape}) sweep {}{}; running {running} pairs, {jobs} at a time; index {}",
                    short_hash(hash),
                    shard.map(|s| format!(", shard {s}")).unwrap_or_default(),
                    index.display()
                ));
                self.sweep.failed = 0;
                if !self.quiet && std::io::stderr().is_terminal() {
                    self.sweep.start_bar(*running as u64);
                }
            }
            SweepEvent::PairStarted { pair } => {
                if let Some(b) = &self.sweep.bar {
                    b.set_message(format!(
                        "{} failed, running {}",
                        self.sweep.failed, pair.name
                    ));
                }
            }
            SweepEvent::PairFinished {
                pair,
                result,
                tally,
            } => self.pair_finished(pair, result, tally),
            SweepEvent::PairsEnded => self.sweep.clear(),
            _ => return false,
        }
        true
    }

    fn pair_finished(&mut self, pair: &Pair, result: &PairResult, tally: &Tally) {
        self.sweep.failed = tally.failed;
        if self.quiet {
            if !result.passed() {
                print_stdout(&result.output);
            }
            return;
        }
        match &self.sweep.bar {
            Some(b) => {
                b.suspend(|| print_stdout(&result.output));
                b.inc(1);
                b.set_message(format!("{} failed", tally.failed));
            }
            None => {
                print_stdout(&result.output);
                let eta = tally.elapsed_secs / tally.done as f64
                    * tally.total.saturating_sub(tally.done) as f64;
                print_stdout(&format!(
                    "[{}/{}] {} {} ({:.1} s); {} failed so far; elapsed {}, ETA {}",
                    tally.done,
                    tally.total,
                    result.status.word(),
                    pair.key(),
                    result.wall_secs,
                    tally.failed,
                    fmt_secs(tally.elapsed_secs),
                    fmt_secs(eta),
                ));
            }
        }
    }

    /// The end of a sweep (and the recap and totals a merge shares); `false` for a merge's
    /// own event.
    fn sweep_end(&mut self, e: &SweepEvent<'_>) -> bool {
        match e {
            SweepEvent::Stopped { error } => self
                .sweep
                .line(&format!("error: the sweep stopped: {error}")),
            SweepEvent::NothingRecorded { corpus } => self.info(&format!(
                "no new failures to record in {}",
                corpus.display()
            )),
            SweepEvent::Recorded { corpus, names } => self.sweep.line(&format!(
                "recorded {} new regression(s) in {}: {}",
                names.len(),
                corpus.display(),
                names.join(", ")
            )),
            SweepEvent::Recap(summary) => self.recap(summary),
            SweepEvent::SummaryWritten { json, md } => {
                self.info(&format!("summary: {} ({})", json.display(), md.display()))
            }
            SweepEvent::JunitWritten(j) => self.info(&format!("junit: {}", j.display())),
            SweepEvent::Unwritten(p) => self.sweep.line(&format!("error: {p}")),
            SweepEvent::Interrupted => self
                .sweep
                .line("interrupted (SIGINT/SIGTERM): no further pair was started"),
            SweepEvent::Totals {
                totals,
                unwritten: 0,
            } => self.sweep.line(&totals.line()),
            // The counts alone would read as a clean night; the last line says what is
            // missing.
            SweepEvent::Totals { totals, unwritten } => self.sweep.line(&format!(
                "{}; {unwritten} output(s) could not be written (see the errors above)",
                totals.line()
            )),
            _ => return false,
        }
        true
    }

    /// The failures again, one line each with their reproduce command, then the
    /// regressions' own count: what a person reads at the end of a long log.
    fn recap(&self, summary: &Summary) {
        // Every failure and error; pairs that did not run (a missing shard, an interrupted
        // sweep) only up to a few, then a count.
        let (failed, not_run_hidden) = failures_to_show(&summary.results, 5);
        if !failed.is_empty() {
            let total = summary
                .results
                .iter()
                .filter(|e| !e.result.passed())
                .count();
            self.sweep.line(&format!("{total} pairs did not pass:"));
            for e in failed {
                self.sweep.line(&format!(
                    "  {} {}: {}; reproduce: {}",
                    e.result.status.word(),
                    e.pair.key(),
                    e.result.reasons.first().map_or("", String::as_str),
                    e.pair.reproduce
                ));
            }
            if not_run_hidden > 0 {
                self.sweep.line(&format!(
                    "  ... and {not_run_hidden} more not run (all of them are in the summary)"
                ));
            }
        }
        if summary.regressions.pairs > 0 {
            self.sweep
                .line(&format!("regressions: {}", summary.regressions.line()));
            self.sweep.line(&format!("sweep: {}", summary.sweep.line()));
        }
    }

    fn merge_event(&mut self, e: &SweepEvent<'_>) {
        match e {
            SweepEvent::Merge { files, summary } => {
                let shards = summary.shards.as_ref().map_or(String::new(), |s| {
                    format!(
                        ", {} present {}/{}{}",
                        s.noun(),
                        s.present.len(),
                        s.count,
                        if s.missing.is_empty() {
                            String::new()
                        } else {
                            format!(" (MISSING {})", s.missing_list())
                        }
                    )
                });
                self.info(&format!(
                    "MERGE {files} index files: sweep {}, {} pairs{shards}",
                    short_hash(&summary.sweep_hash),
                    summary.totals.pairs
                ));
            }
            SweepEvent::MergeUnwritten(e) => errln!("error: {e}"),
            SweepEvent::MergeWritten { json, md, junit } => self.info(&format!(
                "summary: {} ({}); junit: {}",
                json.display(),
                md.display(),
                junit.display()
            )),
            SweepEvent::MergePage(html) => self.info(&format!("page: {}", html.display())),
            SweepEvent::MergePageNotDrawn(e) => self
                .sweep
                .line(&format!("note: the merged page could not be drawn: {e}")),
            _ => {}
        }
    }
}
