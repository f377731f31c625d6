//! What a run, and the commands built on it, have to say while they work: typed events,
//! handed to a [`Reporter`] in the order they happen. The emitters never format a line or
//! touch stdout; one reporter (`crate::reporter::Console`, above every emitter) renders
//! them, so a test can record them instead (`Recorder`) and a caller that says what a run
//! means itself can drop them (`Silent`).

use std::path::{Path, PathBuf};

use crate::check::verdict::VerdictKind;
use crate::releases::prepare::PrepareProgress;
use crate::report::Report;
use crate::report::app::AppSide;
use crate::report::outputs::ReportUnwritten;
use crate::report::sync_sweep::{PointResult, SyncSweepSummary};
use crate::scenario::Mode;
use crate::scenario::release::SqliteVersion;

/// Receives events. The contract: events come in the order they happened, from one thread;
/// a run's first event is its [`RunEvent::Seed`] (before any worker starts) and its last
/// is [`RunEvent::Finished`] (the verdict), whatever happened in between; `event` never
/// fails and never blocks on anything but its own output (a reporter that cannot print
/// drops the event: printing never changes a verdict).
pub trait Reporter {
    fn event(&mut self, e: &RunEvent<'_>);

    /// `--quiet`: a run delegated to another SQLite release's binary prints its own lines,
    /// and is asked to be as quiet as this reporter.
    fn quiet(&self) -> bool {
        false
    }
}

/// Which drawing a [`RunEvent::PageNotDrawn`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    /// `report.html` beside a run's JSON report.
    Report,
    /// A compare run's own page in the comparison's `runs/`.
    CompareRun,
}

/// How much a reproduced replay could compare besides the failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reproduction {
    /// Lockstep: trace and content hashes identical.
    Hashes,
    /// Lockstep, the database unreadable: the trace hash identical, no content hash.
    TraceOnly,
    /// A free run replayed in lockstep in its commit order.
    CommitOrder,
    /// A free run replayed free: the failures alone.
    Failures,
}

/// What one shrink candidate showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrialOutcome {
    Accepted,
    /// Another failure signature: rejected.
    Other(String),
    CouldNotRun,
    Passed,
}

/// What one explore run found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExploreFinding {
    CouldNotRun,
    Pass,
    KnownHazard(String),
    Violation(String),
}

/// One row of `--sqlite V1,V2`'s side-by-side table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SideRow {
    /// `SQLite 3.45.1 (...)`.
    pub release: String,
    /// The run's verdict line, or why it could not be carried out.
    pub verdict: String,
    pub report: Option<PathBuf>,
}

/// Everything said while running. Borrowed: an event lives as long as the call.
#[derive(Debug)]
pub enum RunEvent<'a> {
    /// A run's first event, before any worker starts.
    Seed {
        seed: u64,
        scenario: &'a str,
        mode: Mode,
        settings: &'a str,
    },
    /// An external worker's run at the start barrier: the SQLite and settings the app's
    /// processes reported so far.
    AppAtBarrier(&'a AppSide),
    /// Ops recorded so far.
    Ops {
        done: u64,
        planned: u64,
    },
    /// Something a person should know that changes nothing.
    Note(&'a str),
    /// A run's page was drawn.
    PageDrawn {
        path: &'a Path,
        millis: f64,
    },
    /// A page could not be drawn (the run and its report stand).
    PageNotDrawn {
        page: Page,
        error: String,
    },
    /// The report could not be written; the run directory was kept.
    ReportUnwritten(&'a ReportUnwritten),
    /// A run's last event: its report and where it was written.
    Finished {
        report: &'a Report,
        path: Option<&'a Path>,
    },
    /// Preparing a SQLite release the run needs (minutes, the first time).
    Prepare(PrepareProgress<'a>),
    /// The run goes to another SQLite release's binary, which prints its own lines.
    Delegated {
        version: SqliteVersion,
        exe: &'a Path,
    },
    /// `--sqlite V1,V2`: every run's verdict, after all of them.
    SideBySide(&'a [SideRow]),
    /// A run that could not be carried out at all (no report).
    NotCarriedOut {
        scenario: &'a str,
        seed: u64,
        error: String,
        reproduce: &'a str,
    },
    /// `replay`: what is replayed.
    ReplayCommits {
        commits: usize,
    },
    ReplaySteps {
        steps: usize,
        trace: &'a Path,
    },
    ReplayFromSeed,
    /// `replay`: an interrupt concludes nothing.
    ReplayInterrupted {
        recorded: &'a Report,
    },
    Reproduced {
        recorded: &'a Report,
        again: &'a Report,
        how: Reproduction,
    },
    NotReproduced {
        recorded: &'a Report,
        differences: &'a [String],
    },
    /// `--check-determinism`: stopped by an interrupt (`when`: before or in the second run).
    DeterminismStopped {
        report: &'a Report,
        when: &'static str,
    },
    Deterministic {
        first: &'a Report,
    },
    Nondeterministic {
        first: &'a Report,
        problems: &'a [String],
    },
    /// `compare`: run `n` of `total` starts.
    CompareRun {
        n: u32,
        total: u32,
        strategy: &'a str,
        repeat: u32,
        repeats: u32,
        workers: u32,
        ops: u32,
    },
    /// `shrink`: the original, in lockstep (`signature`: its failure, `None` passed).
    ShrinkOriginal {
        run: u32,
        seed: u64,
        signature: Option<String>,
    },
    /// `shrink`: one candidate.
    ShrinkTrial {
        run: u32,
        secs: f64,
        what: &'a str,
        seed: u64,
        outcome: TrialOutcome,
    },
    /// `shrink`: the minimal scenario run again from its file.
    ShrinkConfirm {
        run: u32,
        confirmed: bool,
        signature: Option<String>,
    },
    /// `explore`: run `index` was interrupted and counts as nothing.
    ExploreInterrupted {
        index: u32,
    },
    ExploreRun {
        index: u32,
        secs: f64,
        seed: u64,
        settings: &'a str,
        finding: ExploreFinding,
    },
    ExploreShrunk {
        index: u32,
        before: String,
        after: String,
        reproduce: &'a str,
    },
    ExploreShrinkInterrupted {
        index: u32,
        file: &'a Path,
    },
    ExploreNotReproduced {
        index: u32,
        seed: u64,
        reseeds: u32,
        file: &'a Path,
    },
    /// `--io-sweep sync`: the recording run is done; the points found and the runs planned.
    SyncSweepRecorded {
        summary: &'a SyncSweepSummary,
        recording: &'a Report,
    },
    /// `--io-sweep sync`: run `n` of `total` ended.
    SyncSweepPoint {
        n: u64,
        total: u64,
        result: &'a PointResult,
    },
    /// `--io-sweep sync`: the summary, written to `path`; the command's last event.
    SyncSweepDone {
        summary: &'a SyncSweepSummary,
        path: &'a Path,
    },
}

/// Drops every event: for a caller that says what a run means itself
/// (`walburst adapter check`).
pub struct Silent;

impl Reporter for Silent {
    fn event(&mut self, _: &RunEvent<'_>) {}

    fn quiet(&self) -> bool {
        true
    }
}

/// What a [`Recorder`] keeps of one event: its kind, and the facts tests look at.
#[derive(Debug, Clone, PartialEq)]
pub enum Recorded {
    Seed(u64),
    Ops {
        done: u64,
        planned: u64,
    },
    Finished(VerdictKind),
    /// Any other event, by its `Debug` text.
    Other(String),
}

/// Keeps every event, in order: a test's reporter.
#[derive(Debug, Default)]
pub struct Recorder {
    pub events: Vec<Recorded>,
}

impl Reporter for Recorder {
    fn event(&mut self, e: &RunEvent<'_>) {
        self.events.push(match e {
            RunEvent::Seed { seed, .. } => Recorded::Seed(*seed),
            RunEvent::Ops { done, planned } => Recorded::Ops {
                done: *done,
                planned: *planned,
            },
            RunEvent::Finished { report, .. } => Recorded::Finished(report.verdict),
            other => Recorded::Other(format!("{other:?}")),
        });
    }
}
