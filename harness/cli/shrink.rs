//! `walburst shrink REPORT.json | SCENARIO --seed S`: arguments and the command.

use std::path::PathBuf;

use clap::Args;

use crate::error::Chain;
use crate::exit::{EXIT_FAIL, EXIT_INTERRUPTED, EXIT_PASS, EXIT_USAGE};
use crate::reporter::Console;
use crate::scenario::Overrides;
use crate::shrink::{Budget, ShrinkInput, ShrinkOptions, ShrinkSummary, output, shrink};

#[derive(Debug, Args)]
pub struct ShrinkArgs {
    /// A failing run's report (`reports/X.json`), or a scenario (shipped name or TOML file)
    /// with `--seed`.
    #[arg(value_name = "REPORT.json|SCENARIO")]
    pub input: String,
    /// The seed, when the input is a scenario (default: its first seed).
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Scenario input: override its worker count before shrinking.
    #[arg(long, value_name = "N")]
    pub workers: Option<u32>,
    /// Scenario input: override its ops per worker before shrinking.
    #[arg(long, value_name = "N")]
    pub ops: Option<u32>,
    /// Stop after this many runs (the original included; the final confirmation of the
    /// minimal scenario from its file runs in addition).
    #[arg(long, value_name = "N", default_value_t = 150)]
    pub max_runs: u32,
    /// Stop starting runs after this long (`90s`, `15m`).
    #[arg(long, value_name = "DURATION", default_value = "15m", value_parser = humantime::parse_duration)]
    pub max_time: std::time::Duration,
    /// Seeds derived from the original one tried before a candidate is rejected.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub reseeds: u32,
    /// Where the minimal scenario, its trace, the summary and the trial runs go.
    #[arg(long, value_name = "DIR", default_value = "reports/shrink")]
    pub out: PathBuf,
    /// Append the minimal run to the regression corpus (its scenario copied beside it).
    #[arg(long)]
    pub record: bool,
    /// The regression corpus `--record` appends to.
    #[arg(
        long,
        value_name = "FILE",
        default_value = "scenarios/regressions.toml"
    )]
    pub corpus: PathBuf,
}

/// The input as (scenario, seed, the signature to keep); `Err` is the exit code.
fn read_input(a: &ShrinkArgs) -> Result<ShrinkInput, i32> {
    let path = std::path::Path::new(&a.input);
    if a.input.ends_with(".json") {
        if a.seed.is_some() || a.workers.is_some() || a.ops.is_some() {
            errln!("error: --seed, --workers and --ops apply to a scenario input, not to a report");
            return Err(EXIT_USAGE);
        }
        let report = crate::replay::read_report(path).map_err(|e| {
            errln!("error: {}", Chain(&e));
            EXIT_USAGE
        })?;
        let Some(expected) = crate::shrink::signature::of(&report) else {
            errln!(
                "error: {}: the run did not fail (verdict {:?}); there is no failure to shrink",
                path.display(),
                report.verdict
            );
            return Err(EXIT_USAGE);
        };
        return Ok(ShrinkInput {
            scenario: report.scenario,
            source: report.scenario_source,
            seed: report.seed,
            expected: Some(expected),
        });
    }
    let overrides = Overrides {
        workers: a.workers,
        ops: a.ops,
        ..Overrides::default()
    };
    let (scenario, source) = crate::nightly::load_case(&a.input, &overrides).map_err(|e| {
        errln!("error: {}", Chain(&e));
        EXIT_USAGE
    })?;
    let seed = a.seed.unwrap_or(scenario.seeds[0]);
    Ok(ShrinkInput {
        scenario,
        source,
        seed,
        expected: None,
    })
}

/// `N runs: P passed, F failed (A accepted)`: the usual last line.
pub fn last_line(s: &ShrinkSummary) -> String {
    let failed = s.trials.iter().filter(|t| t.signature.is_some()).count();
    let passed = s.trials.len() - failed;
    format!(
        "shrink {} seed={}: {} runs: {passed} passed, {failed} failed ({} smaller runs accepted)",
        s.scenario, s.seed, s.runs, s.accepted
    )
}

pub fn command(a: ShrinkArgs) -> i32 {
    let input = match read_input(&a) {
        Ok(i) => i,
        Err(code) => return code,
    };
    let worker_exe = match crate::exit::worker_exe(None) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let opts = ShrinkOptions {
        budget: Budget {
            max_runs: a.max_runs.max(2),
            max_secs: a.max_time.as_secs().max(1),
            reseeds: a.reseeds,
        },
        out_dir: a.out.clone(),
        worker_exe,
    };
    crate::signals::install_interrupt_handler();
    let mut console = Console::new(true);
    let summary = match shrink(&input, &opts, &mut console) {
        Ok((s, _)) => s,
        Err(e) => {
            errln!("error: the shrink could not be carried out: {}", Chain(&*e));
            return EXIT_FAIL;
        }
    };
    let path = output::summary_path(&a.out, &summary);
    if let Err(e) = crate::report::write_json_atomic(&path, &summary) {
        errln!("error: cannot write the summary: {}", Chain(&e));
        return EXIT_FAIL;
    }
    print_result(&summary, &path);
    if a.record && summary.confirmed {
        let date = crate::nightly::sweep::utc_today();
        match output::record(&summary, &a.corpus, &date) {
            Ok(r) if r.is_empty() => console.line(&format!(
                "already in {}: nothing recorded",
                a.corpus.display()
            )),
            Ok(r) => console.line(&format!(
                "recorded in {}: {}",
                a.corpus.display(),
                r.join(", ")
            )),
            Err(e) => {
                errln!("error: cannot record the regression: {}", Chain(&*e));
                return EXIT_FAIL;
            }
        }
    }
    console.line(&last_line(&summary));
    if summary.stop == Some(crate::shrink::Stop::Interrupted) {
        EXIT_INTERRUPTED
    } else if summary.confirmed {
        EXIT_PASS
    } else {
        EXIT_FAIL
    }
}

fn print_result(s: &ShrinkSummary, path: &std::path::Path) {
    let out = |t: String| outln!("{t}");
    let interrupted = s.stop == Some(crate::shrink::Stop::Interrupted);
    if !s.reproduced && interrupted {
        out(format!(
            "INTERRUPTED shrink {} seed={}: stopped while reproducing the original; nothing is concluded",
            s.scenario, s.seed
        ));
        out(format!("summary: {}", path.display()));
        return;
    }
    if !s.reproduced {
        out(format!(
            "NOT REPRODUCED {} seed={}: no lockstep run of the input failed{}; nothing to shrink",
            s.scenario,
            s.seed,
            s.signature
                .as_ref()
                .map_or(String::new(), |x| format!(" with {x}"))
        ));
        out(format!("summary: {}", path.display()));
        return;
    }
    if let Some(sig) = &s.signature {
        out(format!("failure kept: {sig}"));
    }
    if let (Some(b), Some(a)) = (&s.before, &s.after) {
        out(format!("before: {}", b.line()));
        out(format!("after:  {}", a.line()));
    }
    if let Some(f) = &s.scenario_file {
        out(format!("minimal scenario: {}", f.display()));
    }
    if let Some(t) = &s.trace_file {
        out(format!("trace: {}", t.display()));
    }
    out(format!("summary: {}", path.display()));
    if let Some(r) = &s.reproduce {
        out(format!(
            "{} {}: stopped by {:?} after {:.1} s; reproduce: {r}",
            if interrupted {
                "INTERRUPTED (the smallest failing run so far, not confirmed)"
            } else if s.confirmed {
                "SHRUNK"
            } else {
                "SHRUNK (NOT CONFIRMED)"
            },
            s.scenario,
            s.stop.unwrap_or(crate::shrink::Stop::FixedPoint),
            s.wall_secs
        ));
    }
}
