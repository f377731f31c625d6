//! `--check-determinism`: the same seed run twice in lockstep must give the same trace and
//! the same database content; on divergence, name the first step that differs.

use crate::exec::coordinator::TraceEntry;
use crate::report::console::Console;
use crate::run::{RunRequest, run};

/// The first step at which two traces differ, described for a person.
pub fn first_divergence(a: &[TraceEntry], b: &[TraceEntry]) -> Option<String> {
    let show = |e: Option<&TraceEntry>| match e {
        Some(e) => format!(
            "worker {} actor {} {} -> {}",
            e.worker, e.actor, e.action, e.result
        ),
        None => "(trace ended)".to_string(),
    };
    (0..a.len().max(b.len()))
        .find(|&i| a.get(i) != b.get(i))
        .map(|i| {
            format!(
                "step {i}: first run {}, second run {}",
                show(a.get(i)),
                show(b.get(i))
            )
        })
}

/// Runs `req` twice; true when both runs passed and agree on every hash.
pub fn check(req: &RunRequest, console: &mut Console) -> anyhow::Result<bool> {
    let first = run(req, console)?;
    let second = run(req, console)?;
    let (r1, r2) = (&first.report, &second.report);
    let mut problems = Vec::new();
    if r1.trace_hash != r2.trace_hash {
        problems.push(format!(
            "trace_hash differs ({} vs {}); {}",
            r1.trace_hash.as_deref().unwrap_or("-"),
            r2.trace_hash.as_deref().unwrap_or("-"),
            first_divergence(&first.trace, &second.trace).unwrap_or_default()
        ));
    }
    if r1.content_hash != r2.content_hash {
        problems.push(format!(
            "content_hash differs ({} vs {})",
            r1.content_hash.as_deref().unwrap_or("-"),
            r2.content_hash.as_deref().unwrap_or("-")
        ));
    }
    if r1.verdict != r2.verdict {
        problems.push(format!(
            "verdict differs ({} vs {})",
            crate::report::console::verdict_word(r1.verdict),
            crate::report::console::verdict_word(r2.verdict)
        ));
    }
    if problems.is_empty() {
        console.line(&format!(
            "DETERMINISTIC {} seed={}: 2 runs, {} steps, trace {}, content {}",
            r1.scenario.name,
            r1.seed,
            r1.lockstep.as_ref().map_or(0, |l| l.steps),
            r1.trace_hash.as_deref().unwrap_or("-"),
            r1.content_hash.as_deref().unwrap_or("-"),
        ));
        Ok(r1.passed())
    } else {
        for p in &problems {
            console.line(&format!("  - {p}"));
        }
        console.line(&format!(
            "NONDETERMINISTIC {} seed={}: the same seed gave different runs; reproduce: {} --check-determinism",
            r1.scenario.name, r1.seed, r1.reproduce
        ));
        Ok(false)
    }
}
