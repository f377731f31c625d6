//! The end of a sweep: the summary, the JUnit file, recorded failures, the recap and how it
//! ended.

use std::path::Path;
use std::sync::Mutex;

use super::index::{Index, IndexLine};
use super::plan::{Sweep, utc_today};
use crate::error::Chain;
use crate::nightly::corpus;
use crate::nightly::progress::Progress;
use crate::nightly::shard::Shard;
use crate::nightly::summary::{Entry, PairResult, Summary, failures_to_show};
use crate::nightly::{Ended, SweepRequest};

/// Closes the index and writes and prints what the sweep found; returns how it ended.
pub(super) fn finish(
    a: &SweepRequest,
    sweep: &Sweep,
    results: Vec<Option<PairResult>>,
    index_error: Option<String>,
    index: &Mutex<Index>,
    progress: &mut Progress,
) -> Ended {
    let sw = &a.sweep;
    let Sweep {
        plan,
        suites,
        corpus,
        all,
        hash,
        selected,
        ..
    } = sweep;
    let tag = sw.shard.map(Shard::file_tag).unwrap_or_default();
    let out = &a.output.out;
    let wall = progress.elapsed_secs();
    progress.clear();
    if let Some(e) = index_error {
        progress.line(&format!("error: the sweep stopped: {e}"));
    }
    let was_interrupted = crate::nightly::interrupted();
    let why_not_run = if was_interrupted {
        "the sweep was interrupted (SIGINT/SIGTERM) before this pair ran"
    } else {
        "the sweep stopped before this pair ran"
    };

    let entries: Vec<Entry> = selected
        .iter()
        .zip(results)
        .map(|(&i, r)| Entry {
            pair: all[i].clone(),
            shard: sw.shard.map(|s| s.index),
            result: r.unwrap_or_else(|| PairResult::not_run(why_not_run)),
        })
        .collect();
    let summary = Summary::new(
        hash.clone(),
        Summary::shard_info(sw.shard, wall),
        plan.base,
        plan.nightly_date.clone(),
        wall,
        entries,
    );
    let mut problems = Vec::new();
    let _ = index.lock().unwrap().write(&IndexLine::End {
        wall_secs: summary.wall_secs,
        totals: summary.totals,
    });
    let summary_path = out.join(format!("sweep-summary{tag}.json"));
    let md_path = out.join(format!("sweep-summary{tag}.md"));
    if let Err(e) = write_summary(&summary, &summary_path, &md_path) {
        problems.push(Chain(&e).to_string());
    }
    if let Some(j) = &sw.junit
        && let Err(e) = crate::nightly::junit::write(&summary, j)
    {
        problems.push(Chain(&e).to_string());
    }
    if sw.record_failures {
        let date = plan.nightly_date.clone().unwrap_or_else(utc_today);
        match corpus::record_failures(corpus, &summary.results, suites, &date) {
            Ok(r) if r.is_empty() => progress.info(&format!(
                "no new failures to record in {}",
                corpus.path.display()
            )),
            Ok(r) => progress.line(&format!(
                "recorded {} new regression(s) in {}: {}",
                r.len(),
                corpus.path.display(),
                r.join(", ")
            )),
            Err(e) => problems.push(format!("cannot record failures: {}", Chain(&e))),
        }
    }
    print_recap(progress, &summary);
    progress.info(&format!(
        "summary: {} ({})",
        summary_path.display(),
        md_path.display()
    ));
    if let Some(j) = &sw.junit {
        progress.info(&format!("junit: {}", j.display()));
    }
    for p in &problems {
        progress.line(&format!("error: {p}"));
    }
    if was_interrupted {
        progress.line("interrupted (SIGINT/SIGTERM): no further pair was started");
    }
    if problems.is_empty() {
        progress.line(&summary.totals.line());
    } else {
        // The counts alone would read as a clean night; the last line says what is missing.
        progress.line(&format!(
            "{}; {} output(s) could not be written (see the errors above)",
            summary.totals.line(),
            problems.len()
        ));
    }
    if was_interrupted {
        Ended::Interrupted
    } else if !problems.is_empty() {
        Ended::Unwritten
    } else if summary.totals.not_passed() == 0 {
        Ended::Pass
    } else {
        Ended::Fail
    }
}

pub fn write_summary(
    summary: &Summary,
    json: &Path,
    md: &Path,
) -> Result<(), crate::report::WriteError> {
    crate::report::write_json_atomic(json, summary)?;
    crate::report::write_atomic(md, summary.markdown().as_bytes())
}

/// The failures again, one line each with their reproduce command, then the regressions'
/// own count: what a person reads at the end of a long log.
pub fn print_recap(progress: &Progress, summary: &Summary) {
    // Every failure and error; pairs that did not run (a missing shard, an interrupted
    // sweep) only up to a few, then a count.
    let (failed, not_run_hidden) = failures_to_show(&summary.results, 5);
    if !failed.is_empty() {
        let total = summary
            .results
            .iter()
            .filter(|e| !e.result.passed())
            .count();
        progress.line(&format!("{total} pairs did not pass:"));
        for e in failed {
            progress.line(&format!(
                "  {} {}: {}; reproduce: {}",
                e.result.status.word(),
                e.pair.key(),
                e.result.reasons.first().map_or("", String::as_str),
                e.pair.reproduce
            ));
        }
        if not_run_hidden > 0 {
            progress.line(&format!(
                "  ... and {not_run_hidden} more not run (all of them are in the summary)"
            ));
        }
    }
    if summary.regressions.pairs > 0 {
        progress.line(&format!("regressions: {}", summary.regressions.line()));
        progress.line(&format!("sweep: {}", summary.sweep.line()));
    }
}
