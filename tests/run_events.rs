//! A run speaks only through typed events (issue 21, item 4): a real run (real worker
//! processes, a real SQLite file) recorded by a `Recorder` instead of printed.

mod common;

use walburst::check::verdict::VerdictKind;
use walburst::run::event::{Recorded, Recorder};
use walburst::run::{RunRequest, run};
use walburst::scenario::{self, Mode, Overrides};

fn request(overrides: Overrides, seed: u64) -> RunRequest {
    let (scenario, source) = scenario::load("smoke", &overrides).unwrap();
    RunRequest {
        scenario,
        source,
        overrides,
        seed,
        out_dir: None,
        keep: false,
        work_dir: None,
        worker_exe: common::BIN.into(),
        mode: Mode::Free,
        replay: None,
    }
}

/// The contract of `Reporter`: the seed first (before any worker started), the verdict
/// last, and the ops counts in between never go backwards nor past the plan.
#[test]
fn a_run_emits_its_seed_first_and_its_verdict_last() {
    let overrides = Overrides {
        workers: Some(2),
        ops: Some(10),
        ..Overrides::default()
    };
    let mut rec = Recorder::default();
    let outcome = run(&request(overrides, 7), &mut rec).unwrap();
    assert!(outcome.report.passed(), "{:?}", outcome.report.failures);
    assert_eq!(
        rec.events.first(),
        Some(&Recorded::Seed(7)),
        "{:?}",
        rec.events
    );
    assert_eq!(
        rec.events.last(),
        Some(&Recorded::Finished(VerdictKind::Pass))
    );
    let seeds = rec
        .events
        .iter()
        .filter(|e| matches!(e, Recorded::Seed(_) | Recorded::Finished(_)))
        .count();
    assert_eq!(seeds, 2, "one seed and one verdict: {:?}", rec.events);
    let mut last = 0;
    for e in &rec.events {
        if let Recorded::Ops { done, planned } = e {
            assert!(*done >= last && done <= planned, "{:?}", rec.events);
            last = *done;
        }
    }
}
