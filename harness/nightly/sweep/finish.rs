//! The end of a sweep: the summary, the JUnit file, recorded failures, the recap and how it
//! ended, each said as an event.

use std::path::Path;
use std::sync::Mutex;

use super::index::{Index, IndexLine};
use super::plan::{Sweep, utc_today};
use crate::error::Chain;
use crate::nightly::corpus;
use crate::nightly::event::{SweepEvent, SweepReporter};
use crate::nightly::shard::Shard;
use crate::nightly::summary::{Entry, PairResult, Summary};
use crate::nightly::{Ended, SweepRequest};

/// What the pairs left: each slot's result (`None`: not run), the index error that stopped
/// the sweep, and the sweep's wall time.
pub(super) struct Ran {
    pub(super) results: Vec<Option<PairResult>>,
    pub(super) index_error: Option<String>,
    pub(super) wall: f64,
}

/// Closes the index, writes what the sweep found and says it; returns how it ended.
pub(super) fn finish(
    a: &SweepRequest,
    sweep: &Sweep,
    ran: Ran,
    index: &Mutex<Index>,
    reporter: &mut dyn SweepReporter,
) -> Ended {
    let Ran {
        results,
        index_error,
        wall,
    } = ran;
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
    if let Some(error) = index_error {
        reporter.sweep_event(&SweepEvent::Stopped { error });
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
            Ok(r) if r.is_empty() => reporter.sweep_event(&SweepEvent::NothingRecorded {
                corpus: &corpus.path,
            }),
            Ok(r) => reporter.sweep_event(&SweepEvent::Recorded {
                corpus: &corpus.path,
                names: &r,
            }),
            Err(e) => problems.push(format!("cannot record failures: {}", Chain(&e))),
        }
    }
    reporter.sweep_event(&SweepEvent::Recap(&summary));
    reporter.sweep_event(&SweepEvent::SummaryWritten {
        json: &summary_path,
        md: &md_path,
    });
    if let Some(j) = &sw.junit {
        reporter.sweep_event(&SweepEvent::JunitWritten(j));
    }
    for p in &problems {
        reporter.sweep_event(&SweepEvent::Unwritten(p.clone()));
    }
    if was_interrupted {
        reporter.sweep_event(&SweepEvent::Interrupted);
    }
    reporter.sweep_event(&SweepEvent::Totals {
        totals: summary.totals,
        unwritten: problems.len(),
    });
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
