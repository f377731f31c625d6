//! `walburst explore [--budget 10m] [--seed S] [--mode lockstep|free] [--no-hazards]`.

use std::path::PathBuf;

use clap::Args;

use crate::error::Chain;
use crate::exit::{EXIT_FAIL, EXIT_INTERRUPTED, EXIT_PASS};
use crate::explore::space::SpaceOptions;
use crate::explore::{ExploreOptions, ExploreSummary, explore};
use crate::reporter::Console;
use crate::scenario::Mode;
use crate::shrink::Budget;

#[derive(Debug, Args)]
pub struct ExploreArgs {
    /// Stop drawing new scenarios after this long (`90s`, `10m`); shrinking a finding may
    /// run past it by its own budget.
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = humantime::parse_duration)]
    pub budget: std::time::Duration,
    /// The seed of the scenario generator: the same seed draws the same scenarios.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub seed: u64,
    /// Stop after this many drawn scenarios (default: only the time budget).
    #[arg(long, value_name = "N")]
    pub max_runs: Option<u32>,
    /// How each drawn scenario runs; findings are shrunk in lockstep either way.
    #[arg(long, value_parser = super::args::mode(), default_value = "lockstep")]
    pub mode: Mode,
    /// Leave every configuration with a known hazard out of the space (the bare-close
    /// header probe outside WAL; the wal-aware length guard inside a rollback-journal
    /// transaction): then every failure is a violation.
    #[arg(long)]
    pub no_hazards: bool,
    /// Runs each finding's shrink may take (0: do not shrink).
    #[arg(long, value_name = "N", default_value_t = 60)]
    pub shrink_runs: u32,
    /// Time each finding's shrink may take.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = humantime::parse_duration)]
    pub shrink_time: std::time::Duration,
    /// Where the summary, the findings' scenarios and the shrunk scenarios go.
    #[arg(long, value_name = "DIR", default_value = "reports/explore")]
    pub out: PathBuf,
}

/// `N runs: P passed, F failed (H known hazards, V violations)`: the usual last line.
pub fn last_line(s: &ExploreSummary) -> String {
    format!(
        "explore seed={}: {} runs: {} passed, {} failed ({} known hazards fired, {} violations, {} could not run)",
        s.seed,
        s.runs.len(),
        s.passed,
        s.known_hazards + s.violations + s.errors,
        s.known_hazards,
        s.violations,
        s.errors
    )
}

pub fn command(a: ExploreArgs) -> i32 {
    let worker_exe = match crate::exit::worker_exe(None) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let opts = ExploreOptions {
        seed: a.seed,
        budget: a.budget,
        max_runs: a.max_runs,
        mode: a.mode,
        space: SpaceOptions {
            no_hazards: a.no_hazards,
        },
        out_dir: a.out.clone(),
        worker_exe,
        shrink: Budget {
            max_runs: a.shrink_runs,
            max_secs: a.shrink_time.as_secs().max(1),
            reseeds: 1,
        },
    };
    crate::signals::install_interrupt_handler();
    let mut console = Console::new(true);
    let summary = match explore(&opts, &mut console) {
        Ok(s) => s,
        Err(e) => {
            errln!(
                "error: the exploration could not be carried out: {}",
                Chain(&*e)
            );
            return EXIT_FAIL;
        }
    };
    let path = a.out.join(format!("explore-s{}.json", a.seed));
    if let Err(e) = crate::report::write_json_atomic(&path, &summary) {
        errln!("error: cannot write the summary: {}", Chain(&e));
        return EXIT_FAIL;
    }
    for sh in &summary.shrunk {
        if let Some(r) = &sh.reproduce {
            console.line(&format!(
                "finding {}: {} -> {}; reproduce: {r}",
                sh.signature
                    .as_ref()
                    .map_or("-".to_string(), |x| x.to_string()),
                sh.before.as_ref().map_or("-".into(), |b| format!(
                    "{} x {}",
                    b.workers, b.ops_per_worker
                )),
                sh.after.as_ref().map_or("-".into(), |b| format!(
                    "{} x {}",
                    b.workers, b.ops_per_worker
                )),
            ));
        }
    }
    console.line(&format!("summary: {}", path.display()));
    console.line(&last_line(&summary));
    if crate::runner::interrupt::INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst) {
        EXIT_INTERRUPTED
    } else if summary.violations > 0 || summary.errors > 0 {
        EXIT_FAIL
    } else {
        EXIT_PASS
    }
}
