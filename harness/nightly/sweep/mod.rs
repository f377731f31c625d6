//! A sweep: (case, seed) pairs (regressions first), this machine's shard of them, each run
//! as a child `walburst sweep-pair` process, one or `--jobs` at a time. Every pair is written
//! to the run index (`sweep-index[-KofN].jsonl` in `--out`) before it starts and again with
//! its result when it ends, so an aborted sweep still says what ran; at the end come the
//! summary (`sweep-summary[-KofN].json` and `.md`), the JUnit file and the last event,
//! the totals (`N passed, M failed`). Everything it says goes to a [`SweepReporter`].

mod finish;
mod index;
mod plan;
mod pool;

pub use finish::write_summary;
pub use index::{INDEX_FORMAT, IndexLine, SweepHeader, read_index};
pub use plan::{SeedPlan, nightly_base_seed, seed_plan, utc_today};

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Instant, SystemTime};

use super::event::{Shape, SweepEvent, SweepReporter};
use super::shard::Shard;
use super::summary::PairKind;
use crate::nightly::{Ended, SweepError, SweepRequest};
use index::Index;
use pool::Ctx;

/// `walburst run` as a sweep, each pair run by this executable. `Err` comes before any
/// pair runs.
pub fn run_sweep(a: &SweepRequest, reporter: &mut dyn SweepReporter) -> Result<Ended, SweepError> {
    let exe = std::env::current_exe().map_err(|error| SweepError::Io {
        doing: "find walburst's own executable to start the pairs:",
        path: "/proc/self/exe".into(),
        error,
    })?;
    run_sweep_with(a, &exe, reporter)
}

/// A sweep whose pairs run as `exe sweep-pair` (a test, whose own executable is not
/// walburst, passes walburst's).
pub fn run_sweep_with(
    a: &SweepRequest,
    exe: &Path,
    reporter: &mut dyn SweepReporter,
) -> Result<Ended, SweepError> {
    let sw = &a.sweep;
    let plan = seed_plan(a)?;
    let jobs = sw.jobs.unwrap_or(1);
    if jobs == 0 {
        return Err(SweepError::NoJobs);
    }

    // Everything is loaded and validated before anything is written.
    let sweep = plan::prepare(a, plan)?;
    let (plan, all, hash, selected, case_count) = (
        &sweep.plan,
        &sweep.all,
        &sweep.hash,
        &sweep.selected,
        sweep.case_count,
    );
    if sw.dry_run {
        for &i in selected {
            reporter.sweep_event(&SweepEvent::DryRunPair {
                index: i,
                pair: &all[i],
            });
        }
        reporter.sweep_event(&SweepEvent::DryRunEnd {
            selected: selected.len(),
            all: all.len(),
            shard: sw.shard,
            hash,
        });
        return Ok(Ended::Pass);
    }
    // Every output is checked before the first pair runs: a sweep that cannot write its
    // index, reports or JUnit file is bad input, not a night's work lost at the end.
    crate::report::outputs::check_run_dirs(&a.output.out, a.output.work_dir.as_deref())
        .and_then(|()| match &sw.junit {
            Some(j) => crate::report::outputs::check_file("--junit", j),
            None => Ok(()),
        })
        .map_err(SweepError::Output)?;
    let tag = sw.shard.map(Shard::file_tag).unwrap_or_default();
    let out = &a.output.out;
    // One sweep (shard) per index: held until this sweep ends.
    let _out_lock = index::lock_out(out, &tag)?;

    // From here on SIGINT/SIGTERM start no further pair; the running ones stop cleanly.
    crate::signals::install_interrupt_handler();
    // The sweep's wall time, and the elapsed time its progress shows, from here.
    let start = Instant::now();
    if let Some(base) = plan.base {
        let seeds = plan.seeds.as_deref().unwrap_or(&[]);
        reporter.sweep_event(&SweepEvent::BaseSeed {
            base,
            nightly_date: plan.nightly_date.as_deref(),
            first: seeds.first().copied(),
            last: seeds.last().copied(),
        });
    }
    let n_reg = all
        .iter()
        .filter(|p| p.kind == PairKind::Regression)
        .count();
    let index_path = out.join(format!("sweep-index{tag}.jsonl"));
    let shape = match &plan.seeds {
        Some(s) => Shape::Seeds {
            cases: case_count,
            seeds: s.len(),
        },
        None => Shape::Pairs {
            pairs: all.len() - n_reg,
            cases: case_count,
        },
    };
    reporter.sweep_event(&SweepEvent::Sweep {
        pairs: all.len(),
        regressions: n_reg,
        shape,
        hash,
        shard: sw.shard,
        running: selected.len(),
        jobs,
        index: &index_path,
    });

    let header = SweepHeader {
        format: INDEX_FORMAT.to_string(),
        walburst_version: env!("CARGO_PKG_VERSION").to_string(),
        sweep_hash: hash.clone(),
        shard: sw.shard,
        base_seed: plan.base,
        nightly_date: plan.nightly_date.clone(),
        argv: std::env::args().collect(),
        started_at: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        pairs: all.clone(),
    };
    let index = Mutex::new(Index::create(&index_path, header)?);
    let results_dir = tempfile::Builder::new()
        .prefix("walburst-sweep-")
        .tempdir()
        .map_err(|error| SweepError::Io {
            doing: "create a temporary directory in",
            path: std::env::temp_dir(),
            error,
        })?;
    let ctx = Ctx {
        exe: PathBuf::from(exe),
        worker_exe: a.worker_exe.clone(),
        out: out.clone(),
        work_dir: a.output.work_dir.clone(),
        keep: a.output.keep,
        results_dir: results_dir.path().to_path_buf(),
    };
    let (results, index_error) =
        pool::run_pairs(all, selected, jobs, &ctx, &index, start, reporter);
    let wall = start.elapsed().as_secs_f64();
    reporter.sweep_event(&SweepEvent::PairsEnded);
    Ok(finish::finish(
        a,
        &sweep,
        finish::Ran {
            results,
            index_error,
            wall,
        },
        &index,
        reporter,
    ))
}
