//! The lines of the commands built on runs (replay, the determinism check, compare, shrink,
//! explore): each event as the one line a person reads, word for word what these commands
//! printed before they emitted events (tests compare the text).

use crate::releases::prepare::PrepareProgress;
use crate::run::event::{ExploreFinding, Reproduction, RunEvent, TrialOutcome};

/// The line of a command's event; `None` for a run's own events (`Console::run_event`).
pub(super) fn command_line(e: &RunEvent<'_>) -> Option<String> {
    replay_line(e)
        .or_else(|| determinism_line(e))
        .or_else(|| compare_line(e))
        .or_else(|| shrink_line(e))
        .or_else(|| explore_line(e))
        .or_else(|| sync_sweep_line(e))
}

/// `--io-sweep sync`: what was recorded, each point's run, and the conclusion.
fn sync_sweep_line(e: &RunEvent<'_>) -> Option<String> {
    use crate::report::sync_sweep::PointResult;
    let point = |r: &PointResult| {
        format!(
            "{}{}",
            r.point,
            r.step.map_or(String::new(), |s| format!(" (step {s})"))
        )
    };
    // What a point's power loss cost: `L of A acknowledged lost[, T torn]`.
    let lost = |r: &PointResult| {
        format!(
            "{} of {} acknowledged lost{}",
            r.lost,
            r.acknowledged,
            if r.torn > 0 {
                format!(", {} torn", r.torn)
            } else {
                String::new()
            }
        )
    };
    Some(match e {
        RunEvent::SyncSweepRecorded {
            summary: s,
            recording,
        } => {
            if !recording.passed() {
                format!(
                    "sync sweep: the recording run did not pass, so no point is run: {}",
                    crate::report::line::verdict_line(recording)
                )
            } else {
                format!(
                    "sync sweep {} seed={} ({}): {} sync points x {} = {} runs{}{}",
                    s.scenario,
                    s.seed,
                    s.mode.name(),
                    s.sync_points,
                    s.runs_possible / s.sync_points.max(1),
                    s.runs_possible,
                    s.budget_cut
                        .as_ref()
                        .map_or(String::new(), |c| format!("; {c}")),
                    if s.exact {
                        ""
                    } else {
                        "; free mode: a point is a sync count, not an exact moment"
                    }
                )
            }
        }
        RunEvent::SyncSweepPoint {
            n,
            total,
            result: r,
        } => format!(
            "sync sweep: {n}/{total} {} -> {}{}",
            point(r),
            match (&r.error, r.fired) {
                (Some(e), _) => format!("could not run: {e}"),
                (None, false) => "not reached: nothing judged".to_string(),
                (None, true) => format!(
                    "{}{}",
                    lost(r),
                    r.damage
                        .as_ref()
                        .map_or(String::new(), |d| format!(", DAMAGED ({d})")),
                ),
            },
            match &r.failure {
                Some(f) => format!("; FAIL {f}; reproduce: {}", r.reproduce),
                None if r.losing() => format!("; reproduce: {}", r.reproduce),
                None => String::new(),
            }
        ),
        RunEvent::SyncSweepDone { summary: s, path } => {
            let mut out = String::new();
            for r in &s.losing {
                out.push_str(&format!(
                    "losing point {}: {}{}; reproduce: {}\n",
                    point(r),
                    lost(r),
                    r.damage
                        .as_ref()
                        .map_or(String::new(), |d| format!(", damaged: {d}")),
                    r.reproduce
                ));
            }
            out.push_str(&format!("summary: {}\n", path.display()));
            out.push_str(&format!(
                "sync sweep {} seed={}: {} sync points, {} runs in {:.1} s: {} judged, {} losing, {} passed, {} failed{}{}{}",
                s.scenario,
                s.seed,
                s.sync_points,
                s.runs,
                s.wall_secs,
                s.judged,
                s.losing.len(),
                s.passed,
                s.failed,
                s.budget_cut.as_ref().map_or(String::new(), |c| format!(" (cut: {c})")),
                if s.interrupted { " (interrupted)" } else { "" },
                if s.judged == 0 { "; nothing was judged" } else { "" }
            ));
            out
        }
        _ => return None,
    })
}

fn replay_line(e: &RunEvent<'_>) -> Option<String> {
    Some(match e {
        RunEvent::ReplayCommits { commits } => format!(
            "replaying the free run's {commits} commits in lockstep, one transaction at a time in commit order"
        ),
        RunEvent::ReplaySteps { steps, trace } => {
            format!("replaying {steps} recorded steps from {}", trace.display())
        }
        RunEvent::ReplayFromSeed => {
            "no recorded trace kept; replaying the scheduler from the seed".to_string()
        }
        RunEvent::ReplayInterrupted { recorded: r } => format!(
            "INTERRUPTED {} seed={} ({}): the replay was stopped; nothing is concluded",
            r.scenario.name,
            r.seed,
            r.mode.name()
        ),
        RunEvent::Reproduced {
            recorded: r,
            again,
            how,
        } => {
            let signature = again.failure_signature();
            let failures = if signature.is_empty() {
                String::new()
            } else {
                let s: Vec<String> = signature.iter().map(ToString::to_string).collect();
                format!(" with the same failures [{}]", s.join(", "))
            };
            format!(
                "REPRODUCED {} seed={} ({}): verdict {}{failures}{}",
                r.scenario.name,
                r.seed,
                r.mode.name(),
                if again.passed() { "pass" } else { "fail" },
                match how {
                    Reproduction::Hashes => ", trace and content hashes identical",
                    Reproduction::TraceOnly =>
                        ", trace hash identical (no content hash: the database is unreadable)",
                    Reproduction::CommitOrder =>
                        " (replayed in lockstep, one transaction at a time in commit order)",
                    Reproduction::Failures => "",
                }
            )
        }
        RunEvent::NotReproduced {
            recorded: r,
            differences,
        } => format!(
            "NOT REPRODUCED {} seed={} ({}): {}",
            r.scenario.name,
            r.seed,
            r.mode.name(),
            differences.join("; ")
        ),
        _ => return None,
    })
}

fn determinism_line(e: &RunEvent<'_>) -> Option<String> {
    Some(match e {
        RunEvent::DeterminismStopped { report: r, when } => format!(
            "INTERRUPTED {} seed={}: the determinism check was stopped {when}; nothing is concluded; reproduce: {} --check-determinism",
            r.scenario.name, r.seed, r.reproduce
        ),
        RunEvent::Deterministic { first: r1 } => format!(
            "DETERMINISTIC {} seed={}: 2 runs, {} steps, trace {}, {}",
            r1.scenario.name,
            r1.seed,
            r1.lockstep.as_ref().map_or(0, |l| l.steps),
            r1.trace_hash.as_deref().unwrap_or("-"),
            // Both runs agree here, so the second run's content hash is missing for the
            // same reason: a check that compared nothing says so.
            match crate::determinism::content_hash_missing(r1) {
                None => format!("content {}", r1.content_hash.as_deref().unwrap_or("-")),
                Some(why) => format!(
                    "content hash unavailable in both runs ({why}): judged on the trace, the schedule and the failures"
                ),
            },
        ),
        RunEvent::Nondeterministic {
            first: r1,
            problems,
        } => {
            // The differences first, the conclusion last.
            let mut text: Vec<String> = problems.iter().map(|p| format!("  - {p}")).collect();
            text.push(format!(
                "NONDETERMINISTIC {} seed={}: the same seed gave different runs; reproduce: {} --check-determinism",
                r1.scenario.name, r1.seed, r1.reproduce
            ));
            text.join("\n")
        }
        _ => return None,
    })
}

fn compare_line(e: &RunEvent<'_>) -> Option<String> {
    match e {
        RunEvent::CompareRun {
            n,
            total,
            strategy,
            repeat,
            repeats,
            workers,
            ops,
        } => Some(format!(
            "compare run {n}/{total}: {strategy} (repeat {repeat}/{repeats}, {} x {ops} ops)",
            crate::compare::workers_label(*workers)
        )),
        _ => None,
    }
}

fn shrink_line(e: &RunEvent<'_>) -> Option<String> {
    Some(match e {
        RunEvent::ShrinkOriginal {
            run,
            seed,
            signature,
        } => format!(
            "shrink: run {run}: the original in lockstep, seed={seed} -> {}",
            signature
                .as_ref()
                .map_or("passed".to_string(), |s| format!("fails with {s}"))
        ),
        RunEvent::ShrinkTrial {
            run,
            secs,
            what,
            seed,
            outcome,
        } => format!(
            "shrink: run {run} ({secs:.0} s): {what} seed={seed} -> {}",
            match outcome {
                TrialOutcome::Accepted => "same failure: accepted".to_string(),
                TrialOutcome::Other(s) => format!("other failure ({s}): rejected"),
                TrialOutcome::CouldNotRun => "could not run: rejected".to_string(),
                TrialOutcome::Passed => "passed: rejected".to_string(),
            }
        ),
        RunEvent::ShrinkConfirm {
            run,
            confirmed,
            signature,
        } => format!(
            "shrink: run {run}: the minimal scenario from its file -> {}",
            if *confirmed {
                "same failure: confirmed".to_string()
            } else {
                format!(
                    "{}: NOT confirmed",
                    signature
                        .as_ref()
                        .map_or("passed".to_string(), |x| format!("other failure ({x})"))
                )
            }
        ),
        _ => return None,
    })
}

fn explore_line(e: &RunEvent<'_>) -> Option<String> {
    Some(match e {
        RunEvent::ExploreInterrupted { index } => {
            format!("explore: run {index} was interrupted; it counts as nothing")
        }
        RunEvent::ExploreRun {
            index,
            secs,
            seed,
            settings,
            finding,
        } => format!(
            "explore: run {index} ({secs:.0} s): seed={seed} {settings} -> {}",
            match finding {
                ExploreFinding::CouldNotRun => "could not run".to_string(),
                ExploreFinding::Pass => "pass".to_string(),
                ExploreFinding::KnownHazard(s) => format!("known hazard fired: {s}"),
                ExploreFinding::Violation(s) => format!("VIOLATION: {s}"),
            }
        ),
        RunEvent::ExploreShrunk {
            index,
            before,
            after,
            reproduce,
        } => format!(
            "explore: finding of run {index} shrunk: {before} -> {after}; reproduce: {reproduce}"
        ),
        RunEvent::ExploreShrinkInterrupted { index, file } => format!(
            "explore: shrinking the finding of run {index} was interrupted; it stays as {}",
            file.display()
        ),
        RunEvent::ExploreNotReproduced {
            index,
            seed,
            reseeds,
            file,
        } => format!(
            "explore: finding of run {index} did not reproduce in lockstep (seed {seed} and {reseeds} derived seeds): not shrunk; it stays as {}",
            file.display()
        ),
        _ => return None,
    })
}

/// A release's preparation, on stderr (stdout stays the command's own output): the build
/// steps, the result, a wait for another prepare's lock.
pub(super) fn prepare(p: &PrepareProgress<'_>) {
    let line = match p {
        PrepareProgress::WaitingForLock { lock } => format!(
            "waiting for another `walburst sqlite prepare` to finish (lock {})",
            lock.display()
        ),
        PrepareProgress::Step {
            n,
            secs,
            version,
            what,
        } => format!("[{n}/3 {secs:>4.0} s] SQLite {version}: {what}"),
        PrepareProgress::Prepared {
            version,
            secs,
            dir,
            bytes,
        } => format!(
            "SQLite {version} prepared in {secs:.0} s: {} ({:.1} MB)",
            dir.display(),
            *bytes as f64 / 1e6
        ),
    };
    errln!("{line}");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every command event has a line; the run's own events are the console's.
    #[test]
    fn command_events_have_lines_and_run_events_do_not() {
        assert!(command_line(&RunEvent::ReplayFromSeed).is_some());
        assert!(
            command_line(&RunEvent::ExploreInterrupted { index: 3 })
                .is_some_and(|l| l == "explore: run 3 was interrupted; it counts as nothing")
        );
        assert!(command_line(&RunEvent::Note("n")).is_none());
        assert!(
            command_line(&RunEvent::Ops {
                done: 1,
                planned: 2
            })
            .is_none()
        );
    }
}
