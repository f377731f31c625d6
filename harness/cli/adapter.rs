//! `walburst adapter check [--kill] [--lockstep] -- CMD ARGS...`: arguments and the command.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::adapter_check::{self, CheckRequest};
use crate::error::Chain;
use crate::exit::{EXIT_FAIL, EXIT_INTERRUPTED, EXIT_PASS, EXIT_USAGE, worker_exe};
use crate::signals::{install_interrupt_handler, interrupted};

#[derive(Debug, Args)]
pub struct AdapterArgs {
    #[command(subcommand)]
    pub command: AdapterCommand,
}

#[derive(Debug, Subcommand)]
pub enum AdapterCommand {
    /// Drive an adapter (a worker program) through the protocol and say, per rule of
    /// PROTOCOL.md, whether it kept it.
    ///
    /// Runs the program as the worker of short real runs of a small fixed plan (seed 1, in a
    /// temporary run directory): the handshake (start, hello, ready, go) and 6 ops of each of
    /// 2 workers in free mode (kinds create_task and claim_task: an adapter maps both, or the
    /// check names WALBURST_UNSUPPORTED); with --kill a planned kill (`dying`, then the process gone by
    /// SIGKILL) and its successor; with --lockstep a short lockstep run of 2 workers with 2
    /// actors each, printing every SQL step as the adapter's gate classified it (begin,
    /// begin_deferred, write, statement, commit, ...). The runner's own contract and the coordinator's breach
    /// rules judge it, as in `walburst run`; failures about the data (the ledger) are left
    /// out, since the check does not know the app's schema. Every wait has a deadline (start
    /// barrier 20 s, no progress 10 s, a lockstep step 10 s): a silent adapter is named,
    /// never waited on.
    ///
    /// Exit status: 0 every rule kept, 1 a rule broken (each named) or not judged (nothing it
    /// looks at happened: no record, no step), 2 bad input (no command, a program not found),
    /// 130 interrupted.
    #[command(
        after_help = "Examples:\n  walburst adapter check -- python3 adapters/python/kanban_worker.py\n  walburst adapter check --kill --lockstep -- python3 my_adapter.py --db-layer v2"
    )]
    Check(CheckArgs),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Also check a planned kill: `dying` for the kill `start.kills` names, then SIGKILL,
    /// and a successor that resumes.
    #[arg(long)]
    pub kill: bool,
    /// Also run a short lockstep run and print how the gate classified each SQL step.
    #[arg(long)]
    pub lockstep: bool,
    /// Parent of the run directories (default: the system's temporary directory). A phase
    /// that fails keeps its run directory there (the worker's stderr, its records).
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
    /// The adapter's argv, after `--`; relative paths are taken from the current directory.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
}

pub fn command(a: AdapterArgs) -> i32 {
    match a.command {
        AdapterCommand::Check(c) => check(c),
    }
}

fn check(a: CheckArgs) -> i32 {
    let cwd = match adapter_check::current_dir() {
        Ok(d) => d,
        Err(e) => {
            errln!("error: adapter check: cannot read the current directory: {e}");
            return EXIT_FAIL;
        }
    };
    let worker_exe = match worker_exe(None) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let req = CheckRequest {
        command: a.command,
        kill: a.kill,
        lockstep: a.lockstep,
        worker_exe,
        // Absolute: the paths in `start` must mean the same in the adapter's directory.
        work_dir: a.work_dir.map(|d| cwd.join(d)),
        cwd,
    };
    let phases = adapter_check::phases(&req);
    // Every phase's scenario first: bad input is refused before anything runs.
    for &p in &phases {
        if let Err(e) = adapter_check::phase_scenario(p, &req) {
            errln!("error: {}", Chain(&e));
            return if e.is_usage() { EXIT_USAGE } else { EXIT_FAIL };
        }
    }
    install_interrupt_handler();
    outln!("adapter check: {}", shell_words(&req.command));
    let mut failed = Vec::new();
    for (done, &p) in phases.iter().enumerate() {
        let outcome = adapter_check::run_phase(p, &req);
        if interrupted() {
            // Concludes nothing about the adapter: the tally, and where the evidence is.
            let kept = outcome
                .ok()
                .and_then(|o| o.report.run_dir)
                .map(|d| format!("; run directory kept: {}", d.display()))
                .unwrap_or_default();
            outln!(
                "INTERRUPTED adapter check during phase {} ({done} of {} phases done, {} with rules broken){kept}",
                p.name(),
                phases.len(),
                failed.len()
            );
            return EXIT_INTERRUPTED;
        }
        match outcome {
            Ok(o) => {
                for line in adapter_check::phase_lines(&o) {
                    outln!("{line}");
                }
                if !o.passed() {
                    failed.push(p.name());
                }
            }
            Err(e) => {
                errln!("error: {}", Chain(&e));
                return if e.is_usage() { EXIT_USAGE } else { EXIT_FAIL };
            }
        }
    }
    let names: Vec<&str> = phases.iter().map(|p| p.name()).collect();
    if failed.is_empty() {
        outln!(
            "PASS adapter check: every rule kept (phases {})",
            names.join(", ")
        );
        EXIT_PASS
    } else {
        outln!(
            "FAIL adapter check: rules broken or not judged in phase(s) {} (of {})",
            failed.join(", "),
            names.join(", ")
        );
        EXIT_FAIL
    }
}

/// The argv as one line a shell would read back (arguments with spaces quoted).
fn shell_words(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            if a.is_empty() || a.contains(|c: char| c.is_whitespace() || c == '\'' || c == '"') {
                format!("{a:?}")
            } else {
                a.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
