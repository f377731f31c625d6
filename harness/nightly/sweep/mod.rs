//! A sweep: (case, seed) pairs (regressions first), this machine's shard of them, each run
//! as a child `walburst sweep-pair` process, one or `--jobs` at a time. Every pair is written
//! to the run index (`sweep-index[-KofN].jsonl` in `--out`) before it starts and again with
//! its result when it ends, so an aborted sweep still says what ran; at the end come the
//! summary (`sweep-summary[-KofN].json` and `.md`), the JUnit file and the last line,
//! `N passed, M failed`.

mod finish;
mod index;
mod plan;
mod pool;

pub use finish::{print_recap, write_summary};
pub use index::{INDEX_FORMAT, IndexLine, SweepHeader, read_index};
pub use plan::{SeedPlan, nightly_base_seed, seed_plan, utc_today};

use std::io::Write;
use std::sync::Mutex;
use std::time::SystemTime;

use super::progress::Progress;
use super::shard::Shard;
use super::summary::PairKind;
use crate::nightly::{Ended, SweepError, SweepRequest};
use index::Index;
use pool::Ctx;

/// `walburst run` as a sweep. `Err` comes before any pair runs.
pub fn run_sweep(a: &SweepRequest) -> Result<Ended, SweepError> {
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
        let mut out = std::io::stdout().lock();
        for &i in selected {
            let p = &all[i];
            let _ = writeln!(out, "{i} {}\t{}", p.key(), p.reproduce);
        }
        let _ = writeln!(
            out,
            "{} of {} pairs{} (sweep {}); nothing run",
            selected.len(),
            all.len(),
            sw.shard.map(|s| format!(", shard {s}")).unwrap_or_default(),
            super::summary::short_hash(hash)
        );
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
    let sweep_exe = std::env::current_exe().map_err(|error| SweepError::Io {
        doing: "find walburst's own executable to start the pairs:",
        path: "/proc/self/exe".into(),
        error,
    })?;
    let tag = sw.shard.map(Shard::file_tag).unwrap_or_default();
    let out = &a.output.out;
    // One sweep (shard) per index: held until this sweep ends.
    let _out_lock = index::lock_out(out, &tag)?;

    // From here on SIGINT/SIGTERM start no further pair; the running ones stop cleanly.
    crate::signals::install_interrupt_handler();
    let mut progress = Progress::new(selected.len() as u64, a.quiet);
    if let Some(base) = plan.base {
        let seeds = plan.seeds.as_deref().unwrap_or(&[]);
        let range = match (seeds.first(), seeds.last()) {
            (Some(f), Some(l)) if f != l => format!("seeds {f}..={l}"),
            (Some(f), _) => format!("seed {f}"),
            _ => String::new(),
        };
        match &plan.nightly_date {
            Some(d) => progress.line(&format!(
                "BASE_SEED={base} (nightly: UTC date {d}); {range}"
            )),
            None => progress.line(&format!("BASE_SEED={base}; {range}")),
        }
    }
    let n_reg = all
        .iter()
        .filter(|p| p.kind == PairKind::Regression)
        .count();
    let index_path = out.join(format!("sweep-index{tag}.jsonl"));
    let shape = match &plan.seeds {
        Some(s) => format!("{case_count} cases x {} seeds", s.len()),
        None => format!("{} pairs of {case_count} cases", all.len() - n_reg),
    };
    progress.line(&format!(
        "SWEEP {} pairs ({} regressions + {shape}) sweep {}{}; running {} pairs, {} at a time; index {}",
        all.len(),
        n_reg,
        super::summary::short_hash(hash),
        sw.shard
            .map(|s| format!(", shard {s}"))
            .unwrap_or_default(),
        selected.len(),
        jobs,
        index_path.display()
    ));

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
        exe: sweep_exe,
        worker_exe: a.worker_exe.clone(),
        out: out.clone(),
        work_dir: a.output.work_dir.clone(),
        keep: a.output.keep,
        results_dir: results_dir.path().to_path_buf(),
    };
    let (results, index_error) = pool::run_pairs(all, selected, jobs, &ctx, &index, &mut progress);
    Ok(finish::finish(
        a,
        &sweep,
        results,
        index_error,
        &index,
        &mut progress,
    ))
}
