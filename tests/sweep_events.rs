//! A sweep and a merge speak only through typed events (issue 21, item 4): a real sweep
//! (real `walburst sweep-pair` processes, real workers and SQLite files) and a real merge
//! of its index, recorded by a `SweepRecorder` instead of printed.

mod common;

use std::path::Path;

use walburst::nightly::event::{SweepRecorded, SweepRecorder};
use walburst::nightly::merge::{MergeRequest, merge_command};
use walburst::nightly::sweep::run_sweep_with;
use walburst::nightly::{Ended, SweepOptions, SweepRequest};
use walburst::report::outputs::Outputs;
use walburst::scenario::Mode;

fn request(dir: &Path) -> SweepRequest {
    SweepRequest {
        scenarios: vec![dir.join("tiny.toml").to_string_lossy().into_owned()],
        seed: None,
        output: Outputs {
            out: dir.join("out"),
            keep: false,
            work_dir: Some(dir.join("work")),
        },
        mode: Some(Mode::Free),
        check_determinism: false,
        worker_exe: None,
        scale: Default::default(),
        sweep: SweepOptions {
            seeds: Some(1),
            base_seed: Some(3),
            no_regressions: true,
            jobs: Some(2),
            ..Default::default()
        },
    }
}

/// The contract of `SweepReporter`: the base seed first, then the header, one finished
/// event after each started one (the count going up by one), the totals last; and a merge
/// of that sweep's index starts with its header and ends with the same totals.
#[test]
fn a_sweep_emits_its_header_first_one_finished_per_pair_and_its_totals_last() {
    let dir = common::nightly::setup(common::nightly::TINY);
    let mut rec = SweepRecorder::default();
    let ended = run_sweep_with(&request(dir.path()), Path::new(common::BIN), &mut rec).unwrap();
    // The two WAL page-count cases fail by design.
    assert_eq!(ended, Ended::Fail, "{:#?}", rec.events);
    let ev = &rec.events;
    assert_eq!(ev[0], SweepRecorded::BaseSeed(3), "{ev:#?}");
    assert_eq!(ev[1], SweepRecorded::Sweep { running: 6 }, "{ev:#?}");
    let Some(SweepRecorded::Totals(t)) = ev.last() else {
        panic!("the totals are not last: {ev:#?}");
    };
    assert_eq!((t.pairs, t.passed, t.failed), (6, 4, 2), "{ev:#?}");

    // Every pair started once and finished once, after it started; `done` counts 1..=6.
    let started: Vec<(usize, &String)> = ev
        .iter()
        .enumerate()
        .filter_map(|(i, e)| match e {
            SweepRecorded::Started(k) => Some((i, k)),
            _ => None,
        })
        .collect();
    let finished: Vec<(usize, &String, u64)> = ev
        .iter()
        .enumerate()
        .filter_map(|(i, e)| match e {
            SweepRecorded::Finished { key, done } => Some((i, key, *done)),
            _ => None,
        })
        .collect();
    assert_eq!(started.len(), 6, "{ev:#?}");
    assert_eq!(finished.len(), 6, "{ev:#?}");
    let mut keys: Vec<&String> = started.iter().map(|(_, k)| *k).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 6, "six different pairs: {ev:#?}");
    for (i, key, _) in &finished {
        let (s, _) = started.iter().find(|(_, k)| k == key).unwrap();
        assert!(s < i, "{key} finished before it started: {ev:#?}");
    }
    let done: Vec<u64> = finished.iter().map(|(_, _, d)| *d).collect();
    assert_eq!(done, [1, 2, 3, 4, 5, 6]);
    // Nothing of the pairs after the totals, nothing of the end before the last pair.
    let last_pair = finished.last().unwrap().0;
    assert!(
        ev[last_pair + 1..]
            .iter()
            .all(|e| matches!(e, SweepRecorded::Other(_) | SweepRecorded::Totals(_))),
        "{ev:#?}"
    );

    let mut merged = SweepRecorder::default();
    let ended = merge_command(
        MergeRequest {
            dirs: vec![dir.path().join("out")],
            out: dir.path().join("merged"),
        },
        &mut merged,
    )
    .unwrap();
    assert_eq!(ended, Ended::Fail);
    let m = &merged.events;
    assert!(
        matches!(&m[0], SweepRecorded::Other(t) if t.starts_with("Merge {")),
        "{m:#?}"
    );
    assert_eq!(m.last(), Some(&SweepRecorded::Totals(*t)), "{m:#?}");
}
