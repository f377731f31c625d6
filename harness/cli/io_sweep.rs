//! `walburst run SCENARIO --io-sweep sync [--budget N|DURATION]`: crash at every sync
//! (`crate::io_sweep`). Exit codes as `run`'s: 0 every point's run passed (and at least one
//! was judged), 1 a run failed or nothing was judged, 2 bad input, 3 the summary could not
//! be written, 130 interrupted.

use std::time::Duration;

use crate::error::Chain;
use crate::exit::{EXIT_FAIL, EXIT_INTERRUPTED, EXIT_PASS, EXIT_UNWRITTEN, EXIT_USAGE};
use crate::io_sweep::{SweepBudget, SyncSweepError, SyncSweepRequest, sweep};
use crate::reporter::Console;
use crate::scenario::{IoWhen, Overrides};

/// What `--io-sweep` enumerates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IoSweep {
    /// Every sync of every file of every worker process.
    Sync,
}

impl IoSweep {
    pub const ALL: [IoSweep; 1] = [IoSweep::Sync];

    pub fn name(self) -> &'static str {
        match self {
            IoSweep::Sync => "sync",
        }
    }
}

/// `--budget 200` (runs) or `--budget 10m` (time).
pub fn parse_budget(v: &str) -> Result<SweepBudget, String> {
    if let Ok(n) = v.parse::<u32>() {
        return if n == 0 {
            Err(
                "0 runs judges nothing; allowed: a number of runs >= 1, or a duration (90s, 10m)"
                    .into(),
            )
        } else {
            Ok(SweepBudget::Runs(n))
        };
    }
    humantime::parse_duration(v)
        .ok()
        .filter(|d| *d > Duration::ZERO)
        .map(SweepBudget::Time)
        .ok_or_else(|| {
            format!("`{v}`: allowed: a number of runs >= 1 (200), or a duration (90s, 10m)")
        })
}

pub fn command(a: &super::RunArgs, overrides: Overrides) -> i32 {
    let [spec] = &a.scenarios[..] else {
        errln!("error: --io-sweep sweeps one scenario; allowed: exactly one SCENARIO");
        return EXIT_USAGE;
    };
    if overrides.power_loss_at.is_some() || a.check_determinism || !a.sqlite.is_empty() {
        errln!(
            "error: --io-sweep places its own power-loss points; it cannot be combined with --power-loss-at, --check-determinism or --sqlite"
        );
        return EXIT_USAGE;
    }
    let (scenario, source) = match crate::nightly::load_case(spec, &overrides) {
        Ok(x) => x,
        Err(e) => return super::usage_error(e),
    };
    let mode = match crate::scenario::run_mode(&scenario, a.mode) {
        Ok(m) => m,
        Err(e) => return super::usage_error(crate::scenario::LoadError::new(&source, e)),
    };
    if let Err(m) =
        crate::report::outputs::check_run_dirs(&a.output.out, a.output.work_dir.as_deref())
    {
        errln!("error: {}", Chain(&m));
        return EXIT_USAGE;
    }
    let worker_exe = match crate::exit::worker_exe(a.worker_exe.clone()) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let req = SyncSweepRequest {
        seed: a.seed.unwrap_or(scenario.seeds[0]),
        scenario,
        source,
        overrides,
        mode,
        budget: a
            .budget
            .unwrap_or(SweepBudget::Runs(SweepBudget::DEFAULT_RUNS)),
        whens: vec![IoWhen::After, IoWhen::Before],
        out_dir: a.output.out.clone(),
        work_dir: a.output.work_dir.clone(),
        keep: a.output.keep,
        worker_exe,
    };
    let mut console = Console::new(a.quiet);
    crate::signals::install_interrupt_handler();
    match sweep(&req, &mut console) {
        Ok(_) if crate::signals::interrupted() => EXIT_INTERRUPTED,
        Ok(s) if s.passed() => EXIT_PASS,
        Ok(_) => EXIT_FAIL,
        Err(e) if e.is_usage() => {
            errln!("error: {}", Chain(&e));
            EXIT_USAGE
        }
        Err(e @ SyncSweepError::Summary { .. }) => {
            errln!("error: {}", Chain(&e));
            EXIT_UNWRITTEN
        }
        Err(e) => {
            errln!(
                "error: the sync sweep could not be carried out: {}",
                Chain(&e)
            );
            EXIT_FAIL
        }
    }
}
