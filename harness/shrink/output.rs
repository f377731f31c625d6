//! What a shrink leaves behind: the minimal scenario as TOML, confirmed by running it again
//! from its file; its trace; the JSON summary; optionally a regression-corpus entry.

use std::path::{Path, PathBuf};

use super::search::Best;
use super::trial::{Trials, write_scenario};
use super::{ShrinkSummary, signature, stem};
use crate::error::Chain;
use crate::run::event::RunEvent;
use crate::run::{RunRequest, reproduce_command, run};
use crate::scenario::{Mode, Overrides, ScenarioSource};

/// Writes the minimal scenario, re-runs it loaded from that file (the reproduce command's
/// path) and keeps that run's trace beside it.
pub fn finish(
    summary: &mut ShrinkSummary,
    best: &Best,
    trials: &mut Trials<'_>,
    out_dir: &Path,
) -> anyhow::Result<()> {
    let mut s = best.scenario.clone();
    let (before, after) = (summary.before.as_ref(), summary.after.as_ref());
    s.description = format!(
        "Shrunk by `walburst shrink` from {} seed {} ({} -> {}); fails in lockstep with {}.",
        summary.source,
        summary.seed,
        before.map_or(String::new(), |b| format!(
            "{} x {}",
            b.workers, b.ops_per_worker
        )),
        after.map_or(String::new(), |a| format!(
            "{} x {}",
            a.workers, a.ops_per_worker
        )),
        summary
            .signature
            .as_ref()
            .map_or("-".to_string(), |x| x.to_string())
    );
    let file = out_dir.join(format!("{}.toml", stem(&s, best.seed)));
    write_scenario(&file, &s)?;
    let source = ScenarioSource::File(file.clone());
    let reproduce = reproduce_command(&source, best.seed, Mode::Lockstep, &Overrides::default());
    // The confirmation: the file as a person would run it.
    let (loaded, _) = crate::scenario::load(&file.display().to_string(), &Overrides::default())
        .map_err(|e| anyhow::anyhow!("the minimal scenario does not load again: {}", Chain(&e)))?;
    trials.runs += 1;
    let req = RunRequest {
        scenario: loaded,
        source,
        overrides: Overrides::default(),
        seed: best.seed,
        out_dir: None,
        keep: true,
        work_dir: Some(trials.work_dir.join("runs")),
        worker_exe: trials.worker_exe.clone(),
        mode: Mode::Lockstep,
        replay: None,
    };
    let again = run(&req, &mut *trials.reporter)?;
    let sig = signature::of(&again.report);
    summary.confirmed = sig.is_some() && sig == summary.signature;
    trials.reporter.event(&RunEvent::ShrinkConfirm {
        run: trials.runs,
        confirmed: summary.confirmed,
        signature: sig.as_ref().map(ToString::to_string),
    });
    summary.trials.push(super::trial::TrialRecord {
        run: trials.runs,
        candidate: "confirmation: the minimal scenario from its file".into(),
        seed: best.seed,
        signature: sig.clone(),
        accepted: summary.confirmed,
        error: None,
        steps: again.report.lockstep.as_ref().map_or(0, |l| l.steps),
    });
    summary.run_dir = again.report.run_dir.clone();
    let trace = again
        .report
        .run_dir
        .as_ref()
        .map(|d| d.join("trace.jsonl"))
        .filter(|p| p.is_file());
    if let Some(src) = trace {
        let dst = out_dir.join(format!("{}.trace.jsonl", stem(&s, best.seed)));
        std::fs::copy(&src, &dst)
            .map_err(|e| anyhow::anyhow!("cannot copy {}: {e}", src.display()))?;
        summary.trace_file = Some(dst);
    }
    summary.scenario_file = Some(file);
    summary.reproduce = Some(reproduce);
    Ok(())
}

/// Where the summary of shrinking `<name>-s<seed>` goes (the same path every time).
pub fn summary_path(out_dir: &Path, summary: &ShrinkSummary) -> PathBuf {
    let safe: String = summary
        .scenario
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    out_dir.join(format!("{safe}-s{}.shrink.json", summary.seed))
}

/// Appends the minimal run to the regression corpus through the corpus's own writer: the
/// scenario is copied beside the corpus (`regressions/`) so the entry's path stays relative.
pub fn record(
    summary: &ShrinkSummary,
    corpus_path: &Path,
    date: &str,
) -> anyhow::Result<Vec<String>> {
    use crate::nightly::corpus;
    use crate::nightly::summary::{Entry, PairKind, PairResult, Status};
    let (Some(file), Some(seed)) = (&summary.scenario_file, summary.min_seed) else {
        anyhow::bail!("nothing to record: the shrink found no failing run");
    };
    let corpus_dir = match corpus_path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let dst = corpus_dir.join("regressions").join(
        file.file_name()
            .ok_or_else(|| anyhow::anyhow!("{} has no file name", file.display()))?,
    );
    std::fs::create_dir_all(corpus_dir.join("regressions"))?;
    std::fs::copy(file, &dst)
        .map_err(|e| anyhow::anyhow!("cannot copy {} to {}: {e}", file.display(), dst.display()))?;
    let corpus = corpus::load(corpus_path).map_err(|e| anyhow::anyhow!("{}", Chain(&e)))?;
    let suite = crate::nightly::load_suite(&dst.display().to_string(), &Overrides::default())
        .map_err(|e| anyhow::anyhow!("{}", Chain(&e)))?;
    let case = &suite.expansion.cases[0];
    let pair = crate::nightly::summary::make_pair(
        PairKind::Sweep,
        &suite,
        case,
        seed,
        Mode::Lockstep,
        &Overrides::default(),
        false,
        None,
        None,
    );
    let result = PairResult {
        status: Status::Fail,
        reasons: vec![format!(
            "shrunk from {} seed {}: {}",
            summary.source,
            summary.seed,
            summary
                .signature
                .as_ref()
                .map_or("-".to_string(), |s| s.to_string())
        )],
        notes: Vec::new(),
        report: None,
        run_dir: summary.run_dir.clone(),
        wall_secs: 0.0,
        output: String::new(),
    };
    let entry = Entry {
        pair,
        shard: None,
        result,
    };
    Ok(corpus::record_failures(&corpus, &[entry], &[suite], date)?)
}
