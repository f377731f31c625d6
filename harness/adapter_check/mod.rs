//! `walburst adapter check -- CMD ARGS...`: a fake runner for adapter authors. It drives the
//! adapter through short real runs of a small fixed plan (seed 1, in a temporary run
//! directory): the handshake and a few ops in free mode, then on request a planned kill and
//! a short lockstep run, and says per rule of PROTOCOL.md whether the adapter kept it, and
//! in lockstep how its gate classified every SQL step.
//!
//! Each phase is an ordinary `run::run` with the adapter as the scenario's `[worker]`, so the
//! runner's contract (`exec::contract`), its deadlines and the coordinator's breach rules
//! judge the adapter exactly as in a real run; `rules` only groups those failures by rule and
//! leaves out the data oracles (the check does not know the app's schema). The one rule a
//! real run does not hold an adapter to is the kill: a kill the adapter ignores simply does
//! not land there, here it is named.

pub mod rules;

use std::path::PathBuf;

use crate::observe::lockstep::TraceEntry;
use crate::plan;
use crate::report::Report;
use crate::run::event::Silent;
use crate::run::{RunError, RunRequest};
use crate::scenario::{self, Invalid, LoadError, Mode, Overrides, Scenario, ScenarioSource};
use rules::Rule;

/// The seed of every phase: the plan is fixed, so two checks of one adapter compare.
pub const SEED: u64 = 1;

/// What to check: the adapter's argv and which phases besides the free one.
#[derive(Debug, Clone)]
pub struct CheckRequest {
    pub command: Vec<String>,
    pub kill: bool,
    pub lockstep: bool,
    /// The directory relative paths in `command` are taken from (the caller's).
    pub cwd: PathBuf,
    /// The binary that provides walburst's own worker (unused by the adapter's phases, but a
    /// run needs it to resolve its worker command).
    pub worker_exe: PathBuf,
    /// Parent of the run directories (the system's temporary directory by default).
    pub work_dir: Option<PathBuf>,
}

/// Why the check could not be carried out (as opposed to an adapter that broke a rule).
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The command is not something a run could start (exit 2).
    #[error("adapter check")]
    Command(#[source] Invalid),
    /// A phase's scenario did not load (a bug: the phases are fixed).
    #[error(transparent)]
    Scenario(#[from] Box<LoadError>),
    #[error("adapter check, phase {phase}: the run could not be carried out")]
    Run {
        phase: &'static str,
        #[source]
        source: Box<RunError>,
    },
}

impl CheckError {
    /// Bad input, refused before anything ran.
    pub fn is_usage(&self) -> bool {
        matches!(self, CheckError::Command(_))
    }
}

/// One short run of the check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// The handshake and a few ops of each of two workers (one actor each).
    Free,
    /// One planned kill (`mid-transaction`), then a successor resumes.
    Kill,
    /// A short lockstep run: every SQL step through the adapter's gate.
    Lockstep,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Free => "free",
            Phase::Kill => "kill",
            Phase::Lockstep => "lockstep",
        }
    }

    fn mode(self) -> Mode {
        match self {
            Phase::Lockstep => Mode::Lockstep,
            Phase::Free | Phase::Kill => Mode::Free,
        }
    }

    /// The phase's scenario, without its `[worker]`. Deadlines are short: a silent adapter
    /// is named within seconds, never waited on.
    fn toml(self) -> String {
        let (workers, actors, ops, mix) = match self {
            // One actor: each worker's ops in one seq order (the simplest adapter passes).
            Phase::Free => (2, 1, 6, "create_task = 2\nclaim_task = 1\n"),
            // Creates only: a kill lands on a write that always reaches its COMMIT.
            Phase::Kill => (2, 1, 4, "create_task = 1\n"),
            // Two actors per process: steps of one process's threads interleave.
            Phase::Lockstep => (2, 2, 3, "create_task = 2\nclaim_task = 1\n"),
        };
        let mut t = format!(
            "name = \"adapter-check-{}\"\n\
             [workload]\nworkers = {workers}\nconnections_per_worker = {actors}\nops_per_worker = {ops}\n\
             [workload.mix]\n{mix}\
             [limits]\nstart_timeout_secs = 20\nstall_timeout_secs = 10\nrun_timeout_secs = 90\n\
             [lockstep]\nstep_timeout_secs = 10\n",
            self.name()
        );
        if self == Phase::Kill {
            t.push_str("[faults]\nkill = \"mid-transaction\"\nkills = 1\nrespawn = true\n");
        }
        t
    }
}

/// The scenario a phase runs, with the adapter as its worker (program resolved and checked
/// as a scenario's `[worker] command` is; its relative arguments are taken from `cwd`).
pub fn phase_scenario(
    phase: Phase,
    req: &CheckRequest,
) -> Result<(Scenario, ScenarioSource), CheckError> {
    // A source whose directory is the caller's: `./adapter.py` resolves as typed.
    let source = ScenarioSource::File(req.cwd.join("adapter-check"));
    let mut s = scenario::parse_str(&phase.toml(), &source).map_err(Box::new)?;
    s.worker = Some(scenario::WorkerTable {
        command: req.command.clone(),
        env: Default::default(),
        cwd: Some(req.cwd.display().to_string()),
    });
    s.worker_command(&source, &req.worker_exe)
        .map_err(CheckError::Command)?;
    Ok((s, source))
}

/// What one phase came to.
pub struct PhaseOutcome {
    pub phase: Phase,
    pub report: Report,
    pub trace: Vec<TraceEntry>,
    /// The kills the plan told the workers to perform.
    pub planned_kills: Vec<plan::Kill>,
    /// Per rule, how the adapter did.
    pub rules: Vec<(Rule, Judged)>,
}

/// How an adapter did on one rule in one phase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Judged {
    Kept,
    /// The named failures that broke it.
    Broken(Vec<String>),
    /// Nothing the rule looks at happened (no record came, no step ran): never a pass.
    NotJudged(String),
}

impl PhaseOutcome {
    /// Every rule kept: a rule broken or not judged fails the phase.
    pub fn passed(&self) -> bool {
        self.rules.iter().all(|(_, j)| *j == Judged::Kept)
    }
}

/// Runs one phase and judges it by rule.
pub fn run_phase(phase: Phase, req: &CheckRequest) -> Result<PhaseOutcome, CheckError> {
    let (scenario, source) = phase_scenario(phase, req)?;
    let planned_kills = plan::kills(&scenario, SEED);
    let run = RunRequest {
        scenario,
        source,
        overrides: Overrides::default(),
        seed: SEED,
        out_dir: None,
        keep: false,
        work_dir: req.work_dir.clone(),
        worker_exe: req.worker_exe.clone(),
        mode: phase.mode(),
        replay: None,
    };
    let outcome = crate::run::run(&run, &mut Silent).map_err(|source| CheckError::Run {
        phase: phase.name(),
        source: Box::new(source),
    })?;
    let rules = judge(&outcome.report, &outcome.trace, &planned_kills, phase);
    Ok(PhaseOutcome {
        phase,
        report: outcome.report,
        trace: outcome.trace,
        planned_kills,
        rules,
    })
}

/// Per rule, the failures of the run that broke it, or why it could not be judged.
fn judge(
    report: &Report,
    trace: &[TraceEntry],
    planned_kills: &[plan::Kill],
    phase: Phase,
) -> Vec<(Rule, Judged)> {
    let mut broken: Vec<(Rule, Vec<String>)> = Rule::ALL
        .iter()
        .filter(|r| r.applies(phase == Phase::Kill))
        .map(|r| (*r, Vec::new()))
        .collect();
    let mut add = |rule: Rule, why: String| {
        if let Some((_, v)) = broken.iter_mut().find(|(r, _)| *r == rule) {
            v.push(why);
        }
    };
    for f in report.liveness.iter().chain(&report.failures) {
        if let Some(rule) = rules::rule_of(f) {
            add(
                rule,
                format!("{}/{}: {}", f.category.name(), f.detector.name(), f.text()),
            );
        }
    }
    // A kill the adapter ignores does not land: a real run cannot tell it from a kill point
    // the op never reached, but here every planned kill is on a create that commits.
    for k in planned_kills {
        let landed = report
            .kills
            .iter()
            .any(|l| l.worker == k.worker && l.seq == k.seq && l.point == k.point);
        if !landed {
            add(
                Rule::Kills,
                format!(
                    "worker {} never announced its planned kill (seq {}, point {}) with dying: it does not serve start.kills",
                    k.worker,
                    k.seq,
                    k.point.name()
                ),
            );
        }
    }
    let records: u64 = report.workers.iter().map(|w| w.records).sum();
    let silent: Vec<String> = report
        .workers
        .iter()
        .filter(|w| w.language.is_none())
        .map(|w| w.worker.to_string())
        .collect();
    broken
        .into_iter()
        .map(|(rule, why)| {
            let judged = if !why.is_empty() {
                Judged::Broken(why)
            } else if rule == Rule::Messages && !silent.is_empty() {
                Judged::NotJudged(format!("no hello from worker(s) {}", silent.join(", ")))
            } else if matches!(rule, Rule::RecordContents | Rule::Exclusion) && records == 0 {
                Judged::NotJudged("no op record came".into())
            } else if rule == Rule::Exclusion && phase == Phase::Lockstep && trace.is_empty() {
                Judged::NotJudged("no lockstep step ran".into())
            } else {
                Judged::Kept
            };
            (rule, judged)
        })
        .collect()
}

/// The lines a phase prints: who spoke, each rule, and in lockstep every step as the gate
/// classified it.
pub fn phase_lines(o: &PhaseOutcome) -> Vec<String> {
    let s = &o.report.scenario;
    let w = &s.workload;
    let mut out = vec![format!(
        "== phase {} ({} mode, seed {SEED}): {} workers x {} actors, {} ops each",
        o.phase.name(),
        o.report.mode.name(),
        w.workers,
        w.connections_per_worker,
        w.ops_per_worker
    )];
    for x in &o.report.workers {
        out.push(match (&x.language, &x.implementation, &x.sqlite_version) {
            (Some(l), Some(i), Some(v)) => format!(
                "worker {} (pid {}): hello: {l}, {i}, SQLite {v}; {} records",
                x.worker, x.pid, x.records
            ),
            _ => format!("worker {} (pid {}): no hello", x.worker, x.pid),
        });
    }
    for k in &o.planned_kills {
        out.push(format!(
            "planned kill: worker {} seq {} at {}",
            k.worker,
            k.seq,
            k.point.name()
        ));
    }
    if o.phase == Phase::Lockstep {
        out.push(format!(
            "gate classification ({} steps: step worker.actor action -> result):",
            o.trace.len()
        ));
        for t in &o.trace {
            out.push(format!(
                "  {:>4} {}.{} {} -> {}",
                t.step, t.worker, t.actor, t.action, t.result
            ));
        }
    }
    if let Some(hint) = never_stepped(o) {
        out.push(hint);
    }
    for (rule, judged) in &o.rules {
        match judged {
            Judged::Kept => out.push(format!("PASS {}", rule.describe())),
            Judged::Broken(why) => {
                out.push(format!("FAIL {}", rule.describe()));
                out.extend(why.iter().map(|w| format!("  - {w}")));
            }
            Judged::NotJudged(why) => {
                out.push(format!("NOT JUDGED {} ({why})", rule.describe()));
            }
        }
    }
    if !o.passed()
        && let Some(dir) = &o.report.run_dir
    {
        out.push(format!(
            "run directory kept (worker-K.stderr, records): {}",
            dir.display()
        ));
    }
    out
}

/// A lockstep run that stopped with actors none of whose steps ran: name them (a step is
/// granted only when every live actor has parked or said `actor_done`, so an adapter that
/// serves only actor 0 leaves the run waiting for the rest until its deadline).
fn never_stepped(o: &PhaseOutcome) -> Option<String> {
    let l = o.report.lockstep.as_ref()?;
    l.stopped.as_ref()?;
    let w = &o.report.scenario.workload;
    let silent: Vec<String> = (0..w.workers)
        .flat_map(|wk| (0..w.connections_per_worker).map(move |a| (wk, a)))
        .filter(|&(wk, a)| !o.trace.iter().any(|t| t.worker == wk && t.actor == a))
        .map(|(wk, a)| format!("{wk}.{a}"))
        .collect();
    (!silent.is_empty()).then(|| {
        format!(
            "hint: no step of actors {} ran: a step is granted only once every live actor of every worker has parked (want) or said actor_done; an adapter that serves fewer actors than connections_per_worker stalls here",
            silent.join(", ")
        )
    })
}

/// The phases a request asks for, in order.
pub fn phases(req: &CheckRequest) -> Vec<Phase> {
    let mut p = vec![Phase::Free];
    if req.kill {
        p.push(Phase::Kill);
    }
    if req.lockstep {
        p.push(Phase::Lockstep);
    }
    p
}

/// The absolute form of the caller's directory, for `CheckRequest::cwd`.
pub fn current_dir() -> std::io::Result<PathBuf> {
    std::env::current_dir().and_then(|d| std::fs::canonicalize(&d).or(Ok(d)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Chain;

    fn req(dir: &std::path::Path, command: &str) -> CheckRequest {
        CheckRequest {
            command: vec![command.to_string()],
            kill: true,
            lockstep: true,
            cwd: dir.to_path_buf(),
            worker_exe: PathBuf::from("walburst"),
            work_dir: None,
        }
    }

    /// Every phase loads; a relative program is taken from the caller's directory, and a
    /// missing one is bad input.
    #[test]
    fn phases_load_and_resolve_the_command_from_the_callers_directory() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let prog = dir.path().join("adapter.sh");
        std::fs::write(&prog, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o755)).unwrap();
        let ok = req(dir.path(), "./adapter.sh");
        assert_eq!(phases(&ok), [Phase::Free, Phase::Kill, Phase::Lockstep]);
        for p in phases(&ok) {
            let (s, source) = phase_scenario(p, &ok).unwrap();
            let cmd = s.worker_command(&source, &ok.worker_exe).unwrap();
            assert_eq!(cmd.program, prog, "{p:?}");
        }
        let e = phase_scenario(Phase::Free, &req(dir.path(), "./missing.sh")).unwrap_err();
        assert!(e.is_usage(), "{e}");
        assert!(Chain(&e).to_string().contains("worker.command"), "{e}");
    }

    /// The kill phase plans one kill, on a create (a write that always reaches its COMMIT):
    /// a kill that does not land is then the adapter's doing.
    #[test]
    fn the_kill_phase_plans_one_kill_on_a_create() {
        let dir = tempfile::tempdir().unwrap();
        let (s, _) = phase_scenario(Phase::Kill, &req(dir.path(), "true")).unwrap();
        let kills = plan::kills(&s, SEED);
        assert_eq!(kills.len(), 1);
        let k = kills[0];
        let op = plan::worker_plan(&s, SEED, k.worker)
            .ops
            .into_iter()
            .find(|op| op.seq == k.seq)
            .unwrap();
        assert_eq!(op.kind, crate::plan::OpKind::CreateTask);
    }
}
