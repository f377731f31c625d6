//! What a sweep and `walburst merge` have to say while they work: typed events, handed to a
//! [`SweepReporter`] in the order they happen. Like a run's events (`run::event`), the
//! sweep never formats a line or touches stdout/stderr; the one reporter
//! (`crate::reporter::Console`, made by the CLI) renders them: the progress bar, the plain
//! progress lines, what `--quiet` leaves out, the recap and the totals line. A test records
//! them instead ([`SweepRecorder`]).
//!
//! A trait of its own rather than more `RunEvent` variants: a sweep's events carry the
//! nightly layer's data (pairs, results, the summary), which `run` may not import.

use std::path::Path;

use super::shard::Shard;
use super::summary::{Pair, PairResult, Summary, Totals};

/// Receives a sweep's or a merge's events. The contract: events come in the order they
/// happened, from one thread (the sweep's own, never a pair's); a sweep's first event is
/// [`SweepEvent::BaseSeed`] (when it has a base seed) or else [`SweepEvent::Sweep`] (a
/// `--dry-run`: its [`SweepEvent::DryRunPair`]s), one [`SweepEvent::PairFinished`] follows
/// each [`SweepEvent::PairStarted`], and the last event is [`SweepEvent::Totals`] (a
/// `--dry-run`: [`SweepEvent::DryRunEnd`]). A merge's first event is
/// [`SweepEvent::Merge`] and its last [`SweepEvent::Totals`], or its one event is
/// [`SweepEvent::MergeUnwritten`]. `sweep_event` never fails and never blocks on anything
/// but its own output: printing never changes how a sweep ends. Every event is emitted
/// whatever `--quiet` says; what a quiet reporter leaves out is the reporter's rule.
pub trait SweepReporter {
    fn sweep_event(&mut self, e: &SweepEvent<'_>);
}

/// How the sweep's pairs were made, for its header line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `--seeds N`: every case crossed with N seeds.
    Seeds { cases: usize, seeds: usize },
    /// Each case's own seeds.
    Pairs { pairs: usize, cases: usize },
}

/// Where the sweep stands after a pair: what the plain progress line and the bar show.
/// Counted and timed by the sweep itself.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tally {
    pub done: u64,
    pub total: u64,
    pub failed: u64,
    /// Since the sweep started (its header).
    pub elapsed_secs: f64,
}

/// Everything a sweep or a merge says. Borrowed: an event lives as long as the call.
#[derive(Debug)]
pub enum SweepEvent<'a> {
    /// `--dry-run`: one selected pair (`index`: its place among all pairs).
    DryRunPair {
        index: usize,
        pair: &'a Pair,
    },
    /// `--dry-run`'s last event: nothing was run.
    DryRunEnd {
        selected: usize,
        all: usize,
        shard: Option<Shard>,
        hash: &'a str,
    },
    /// The base seed of a sweep that has one, with the first and last of its seeds.
    BaseSeed {
        base: u64,
        nightly_date: Option<&'a str>,
        first: Option<u64>,
        last: Option<u64>,
    },
    /// The sweep's header: what it runs (`running` pairs of `pairs`) and where its index is.
    Sweep {
        pairs: usize,
        regressions: usize,
        shape: Shape,
        hash: &'a str,
        shard: Option<Shard>,
        running: usize,
        jobs: u32,
        index: &'a Path,
    },
    PairStarted {
        pair: &'a Pair,
    },
    PairFinished {
        pair: &'a Pair,
        result: &'a PairResult,
        tally: Tally,
    },
    /// No further pair runs: the progress ends; what follows is the sweep's end.
    PairsEnded,
    /// The run index could not be written: the sweep stopped starting pairs.
    Stopped {
        error: String,
    },
    /// `--record-failures` found nothing new.
    NothingRecorded {
        corpus: &'a Path,
    },
    /// `--record-failures` added these regressions.
    Recorded {
        corpus: &'a Path,
        names: &'a [String],
    },
    /// The failures again and the regressions' count, at the end (sweep and merge).
    Recap(&'a Summary),
    SummaryWritten {
        json: &'a Path,
        md: &'a Path,
    },
    JunitWritten(&'a Path),
    /// An output of the sweep that could not be written.
    Unwritten(String),
    /// SIGINT/SIGTERM: no further pair was started.
    Interrupted,
    /// The last event: the counts (`unwritten`: how many outputs could not be written).
    Totals {
        totals: Totals,
        unwritten: usize,
    },
    /// `merge`: the merged sweep.
    Merge {
        files: usize,
        summary: &'a Summary,
    },
    /// `merge`: its summaries could not be written (its only event).
    MergeUnwritten(String),
    MergeWritten {
        json: &'a Path,
        md: &'a Path,
        junit: &'a Path,
    },
    MergePage(&'a Path),
    MergePageNotDrawn(String),
}

/// What a [`SweepRecorder`] keeps of one event: its kind and the facts tests look at.
#[derive(Debug, Clone, PartialEq)]
pub enum SweepRecorded {
    BaseSeed(u64),
    Sweep {
        running: usize,
    },
    Started(String),
    Finished {
        key: String,
        done: u64,
    },
    Totals(Totals),
    /// Any other event, by its `Debug` text.
    Other(String),
}

/// Keeps every event, in order: a test's reporter.
#[derive(Debug, Default)]
pub struct SweepRecorder {
    pub events: Vec<SweepRecorded>,
}

impl SweepReporter for SweepRecorder {
    fn sweep_event(&mut self, e: &SweepEvent<'_>) {
        self.events.push(match e {
            SweepEvent::BaseSeed { base, .. } => SweepRecorded::BaseSeed(*base),
            SweepEvent::Sweep { running, .. } => SweepRecorded::Sweep { running: *running },
            SweepEvent::PairStarted { pair } => SweepRecorded::Started(pair.key()),
            SweepEvent::PairFinished { pair, tally, .. } => SweepRecorded::Finished {
                key: pair.key(),
                done: tally.done,
            },
            SweepEvent::Totals { totals, .. } => SweepRecorded::Totals(*totals),
            other => SweepRecorded::Other(format!("{other:?}")),
        });
    }
}
