//! The pair loop: `--jobs` threads take the shard's pairs in order, each runs its pair as a
//! child `walburst sweep-pair` process and records it in the run index.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use crate::nightly::event::{SweepEvent, SweepReporter, Tally};

use rustix::process::{Pid, Signal};

use crate::runner::reap::{self, Waited};

use super::index::{Index, IndexLine};
use crate::error::Chain;
use crate::nightly::pair::ChildResult;
use crate::nightly::summary::{Pair, PairResult, Status};

pub(super) struct Ctx {
    pub(super) exe: PathBuf,
    /// `--worker-exe`, passed on to every pair.
    pub(super) worker_exe: Option<PathBuf>,
    pub(super) out: PathBuf,
    pub(super) work_dir: Option<PathBuf>,
    pub(super) keep: bool,
    pub(super) results_dir: PathBuf,
}

/// Runs one pair as a child process and turns what it left into a result.
fn execute(i: usize, pair: &Pair, ctx: &Ctx) -> PairResult {
    let result_path = ctx.results_dir.join(format!("pair-{i}.json"));
    let mut cmd = Command::new(&ctx.exe);
    cmd.arg("sweep-pair")
        .arg("--spec")
        .arg(&pair.spec)
        .arg("--seed")
        .arg(pair.seed.to_string())
        .arg("--mode")
        .arg(pair.mode.name())
        .arg("--result")
        .arg(&result_path)
        .arg("--out")
        .arg(&ctx.out);
    if pair.check_determinism {
        cmd.arg("--check-determinism");
    }
    if let Some(t) = &pair.trace {
        cmd.arg("--trace").arg(t);
    }
    if ctx.keep {
        cmd.arg("--keep");
    }
    if let Some(w) = &ctx.work_dir {
        cmd.arg("--work-dir").arg(w);
    }
    if let Some(w) = &ctx.worker_exe {
        cmd.arg("--worker-exe").arg(w);
    }
    let o = &pair.overrides;
    if let Some(w) = o.workers {
        cmd.arg("--workers").arg(w.to_string());
    }
    if let Some(n) = o.ops {
        cmd.arg("--ops").arg(n.to_string());
    }
    if let Some(k) = o.scheduler {
        cmd.arg("--scheduler").arg(k.name());
    }
    if let Some(d) = o.pct_depth {
        cmd.arg("--pct-depth").arg(d.to_string());
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // A pair dies with its sweep: killed outright, the sweep leaves no pair running on.
    crate::runner::lifeline::die_with_parent(&mut cmd, Signal::TERM);
    let t0 = Instant::now();
    let output = run_child(cmd);
    let wall_secs = (t0.elapsed().as_secs_f64() * 1000.0).round() / 1000.0;
    let mut result = PairResult {
        status: Status::Error,
        reasons: Vec::new(),
        notes: Vec::new(),
        report: None,
        run_dir: None,
        wall_secs,
        output: String::new(),
    };
    let output = match output {
        Ok(o) => o,
        Err(e) => {
            result
                .reasons
                .push(format!("cannot start the run's process: {e}"));
            return result;
        }
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    result.output = stdout.into_owned();
    if !stderr.trim().is_empty() {
        if !result.output.is_empty() && !result.output.ends_with('\n') {
            result.output.push('\n');
        }
        result.output.push_str(&stderr);
    }
    let child: Option<ChildResult> = std::fs::read_to_string(&result_path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    let _ = std::fs::remove_file(&result_path);
    let Some(child) = child else {
        let last = stderr.lines().last().unwrap_or("").trim().to_string();
        result.reasons.push(format!(
            "the run's process ended without a result ({}){}",
            output.status,
            if last.is_empty() {
                String::new()
            } else {
                format!(": {last}")
            }
        ));
        return result;
    };
    result.notes = child.notes;
    result.report = child.report;
    result.run_dir = child.run_dir;
    if child.interrupted {
        result
            .reasons
            .push("interrupted (SIGINT/SIGTERM): the run was stopped".into());
    } else if let Some(e) = child.error {
        result
            .reasons
            .push(format!("the run could not be carried out: {e}"));
    } else if child.passed {
        result.status = Status::Pass;
    } else {
        result.status = Status::Fail;
        result.reasons = child.failures;
        if result.reasons.is_empty() {
            result.reasons.push("failed (see the output)".into());
        }
    }
    result
}

/// How long a pair may take to stop after the SIGTERM passed on to it (it kills its workers
/// and writes an `interrupted` report) before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(30);

/// Runs a pair's process to its end, collecting its output. SIGINT/SIGTERM sent to the sweep
/// alone (`kill PID`, a CI runner stopping the job) is passed on to the running pair at once,
/// so it stops now and records itself interrupted instead of running to a PASS.
fn run_child(mut cmd: Command) -> std::io::Result<Output> {
    use std::io::Read;
    let mut child = cmd.spawn()?;
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    // Woken by the pair's exit or by the interrupt, never by a timer. No deadline of its
    // own: the pair enforces its run's deadlines itself.
    let status = match reap::wait_exit_or_interrupt(&mut child, Duration::MAX)? {
        Waited::Exited(st) => st,
        Waited::Interrupted | Waited::TimedOut => {
            let _ = rustix::process::kill_process(Pid::from_child(&child), Signal::TERM);
            match reap::wait_exit(&mut child, STOP_GRACE)? {
                Some(st) => st,
                None => {
                    let _ = child.kill();
                    child.wait()?
                }
            }
        }
    };
    Ok(Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

enum Msg {
    Started(usize),
    Done(usize, PairResult),
}

/// Runs the selected pairs of `all`, `jobs` at a time. Returns each slot's result (`None`:
/// the pair did not run) and the index error that stopped the sweep, if any.
pub(super) fn run_pairs(
    all: &[Pair],
    selected: &[usize],
    jobs: u32,
    ctx: &Ctx,
    index: &Mutex<Index>,
    start: Instant,
    reporter: &mut dyn SweepReporter,
) -> (Vec<Option<PairResult>>, Option<String>) {
    let mut results: Vec<Option<PairResult>> = vec![None; selected.len()];
    let mut tally = Tally {
        done: 0,
        total: selected.len() as u64,
        failed: 0,
        elapsed_secs: 0.0,
    };
    let next = Mutex::new(0usize);
    let index_error: Mutex<Option<String>> = Mutex::new(None);
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::channel::<Msg>();
        for _ in 0..jobs.min(selected.len().max(1) as u32) {
            let tx = tx.clone();
            let (next, index_error) = (&next, &index_error);
            scope.spawn(move || {
                loop {
                    let slot = {
                        let mut n = next.lock().unwrap();
                        let s = *n;
                        *n += 1;
                        s
                    };
                    if slot >= selected.len()
                        || index_error.lock().unwrap().is_some()
                        || crate::nightly::interrupted()
                    {
                        break;
                    }
                    let i = selected[slot];
                    let pair = &all[i];
                    let started = index.lock().unwrap().write(&IndexLine::Start {
                        index: i,
                        key: pair.key(),
                        at: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
                        pair: pair.clone(),
                    });
                    if let Err(e) = started {
                        *index_error.lock().unwrap() = Some(Chain(&e).to_string());
                        break;
                    }
                    let _ = tx.send(Msg::Started(slot));
                    let r = execute(i, pair, ctx);
                    let written = index.lock().unwrap().write(&IndexLine::Result {
                        index: i,
                        key: pair.key(),
                        result: r.clone(),
                    });
                    if let Err(e) = written {
                        *index_error.lock().unwrap() = Some(Chain(&e).to_string());
                    }
                    let _ = tx.send(Msg::Done(slot, r));
                }
            });
        }
        drop(tx);
        for msg in rx {
            match msg {
                Msg::Started(slot) => reporter.sweep_event(&SweepEvent::PairStarted {
                    pair: &all[selected[slot]],
                }),
                Msg::Done(slot, r) => {
                    tally.done += 1;
                    if !r.passed() {
                        tally.failed += 1;
                    }
                    tally.elapsed_secs = start.elapsed().as_secs_f64();
                    reporter.sweep_event(&SweepEvent::PairFinished {
                        pair: &all[selected[slot]],
                        result: &r,
                        tally,
                    });
                    results[slot] = Some(r);
                }
            }
        }
    });
    (results, index_error.into_inner().unwrap())
}
