//! Checks: turn observations and the database left behind into findings. Verification runs
//! only after every worker has exited, from a fresh connection.

pub mod app_ledger;
pub mod completeness;
pub mod content;
pub mod corruption;
pub mod coverage;
pub mod durability;
pub mod exclusion;
pub mod failure;
pub mod isolation;
pub mod ledger;
pub mod lock_use;
pub mod multi_db;
pub mod snapshot;
pub mod stale_read;
pub mod state;
pub mod verdict;
pub mod verify;
pub mod wal_growth;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::Chain;
use crate::observe::Observations;
use crate::plan::Plan;
use crate::protocol::{DB_FILE, RunSpec};
use failure::FailureCategory;

use corruption::classify;
pub use corruption::{Classification, Corruption, CorruptionExample, SQLITE_SOURCE};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Checks {
    /// `ok` or the first problem; the full output is in `integrity_check_output`.
    pub integrity_check: String,
    pub integrity_check_output: Vec<String>,
    pub quick_check: String,
    pub journal_mode: String,
    pub journal_mode_ok: bool,
    /// `journal_mode = "app"`: the mode the app chose and how it was judged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_journal_mode: Option<verify::AppJournalMode>,
    pub final_length_ok: bool,
    pub lost_writes: u64,
    pub phantom_writes: u64,
    pub duplicate_writes: u64,
    pub ambiguous: u64,
    pub ambiguous_committed: u64,
    /// Planned write ops of workers that were never sent `go`: not run (never ambiguous).
    /// The ledger judges the other workers' ops; rows with these identities are phantoms.
    #[serde(default)]
    pub not_run: u64,
    /// Each ambiguous op and what the probe found.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ambiguous_ops: Vec<String>,
    pub order_violations: u64,
    pub gc_removed: u64,
    pub ledger_examples: Vec<String>,
    /// The first ledger example of each counter (lost, phantom, duplicate, order).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ledger_first: BTreeMap<FailureCategory, String>,
    /// Why the ledger could not be checked (a damaged database); its counts are then unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ledger_error: Option<String>,
    pub lock_overlaps: u64,
    pub lock_intervals: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock_overlap_example: Option<String>,
    pub files_seen: Vec<String>,
    /// `<db>.lock` appeared during the run.
    pub sidecar_seen: bool,
    /// Ops that demonstrably held the strategy's global write lock (`check::lock_use`):
    /// `expect.sidecar = "auto"` requires the sidecar only when there is one.
    #[serde(default)]
    pub global_lock_ops: u64,
    /// Steps of verification that could not run.
    pub verification_errors: Vec<String>,
    /// The final checkpoint was blocked (see `verify::Verification::checkpoint_blocked`):
    /// its own failure; the final length is then not judged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_checkpoint_blocked: Option<String>,
    /// Closing the verification connection failed: its own failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub close_error: Option<String>,
    /// Canonical hash of every table's rows (see `check::content`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_hash: Option<String>,
    /// Why the content hash could not be computed (an error while checking: a failure).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_hash_error: Option<String>,
    /// Planned ops that must report an outcome (planned minus the ops seeded kills took),
    /// and those that did not.
    #[serde(default)]
    pub ops: completeness::Completeness,
    /// Ops whose guard could not look (`guard_error` in their record): each vouches for
    /// nothing, so "no false corruption" is not vouched for there.
    #[serde(default)]
    pub guard_errors: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_guard_error: Option<String>,
    /// The state oracle (`check::state`): the committed ops replayed in commit order give
    /// exactly this database. Absent where it does not judge (an external worker, another
    /// workload, or a run the ledger or integrity checks already failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<state::StateReport>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_error: Option<String>,
    /// Why the state oracle did not judge a run it otherwise would (said in the verdict's
    /// notes, never silently): an op whose outcome is unknown and whose rows are absent may
    /// still have committed a heartbeat event that a later gc removed, and a replay without
    /// it would fail a correct run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_not_judged: Option<String>,
    /// What each measured check judged out of what it should have (`check::coverage`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub coverage: Vec<coverage::Coverage>,
    /// The file watch dropped events: the sidecar detector cannot vouch that no
    /// `<db>.lock` appeared (its own failure, not an unreadable database).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watch_error: Option<String>,
    /// Lockstep: write-lock breaches seen by the coordinator, at their exact steps.
    pub lockstep_breaches: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_breach: Option<String>,
    /// `list-append` runs, and built-in kanban runs with claims (their claims' history,
    /// `isolation::claims`): the isolation checker's findings (`check::isolation`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isolation: Option<isolation::records::IsolationReport>,
    /// The scenario's `[[invariants]]`, each checked after the run on a read-only
    /// connection (`observe::invariants`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub invariants: Vec<crate::observe::invariants::InvariantReport>,
    /// Runs with readers (`workload.readers`): the snapshot-stability check (`check::snapshot`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshots: Option<snapshot::SnapshotReport>,
    /// WAL runs: the WAL's peak frames against its bound (`check::wal_growth`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wal_growth: Option<wal_growth::WalGrowth>,
    /// `attach = "aux"`: the ledger across the main and the attached database.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multi_db: Option<multi_db::MultiDb>,
    /// Lockstep runs with `[[invariants]]`: the invariants read at the run's quiescent
    /// points by the runner (`observe::invariants::InvariantsDuring`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invariants_during: Option<crate::observe::invariants::InvariantsDuring>,
}

impl Checks {
    /// Both of SQLite's own checks answered `ok` (their whole answer: anything else is the
    /// list of problems they found, or why they could not run).
    pub fn integrity_ok(&self) -> bool {
        self.integrity_check == "ok" && self.quick_check == "ok"
    }

    /// The ledger's counts, examples and ambiguous ops.
    fn take_ledger(&mut self, l: ledger::LedgerReport) {
        self.lost_writes = l.lost;
        self.phantom_writes = l.phantom;
        self.duplicate_writes = l.duplicate;
        self.ambiguous = l.ambiguous;
        self.ambiguous_committed = l.ambiguous_committed;
        self.ambiguous_ops = l.ambiguous_ops;
        self.order_violations = l.order_violations;
        self.gc_removed = l.gc_removed;
        self.ledger_examples = l.examples;
        self.ledger_first = l.first;
    }

    /// The database is healthy and no write was lost, invented or let through the lock.
    pub fn clean(&self) -> bool {
        self.damage().is_empty()
    }

    /// What verification found wrong, by the category of failure it would be; empty when
    /// the database is healthy, every write is accounted for, the lock held, the file has
    /// its exact length, the journal mode is the configured one and every check could run.
    pub fn damage(&self) -> Vec<FailureCategory> {
        let mut d = Vec::new();
        let mut add = |bad: bool, c: FailureCategory| {
            if bad {
                d.push(c);
            }
        };
        add(!self.integrity_ok(), FailureCategory::Integrity);
        add(self.lost_writes > 0, FailureCategory::LostWrites);
        add(self.phantom_writes > 0, FailureCategory::PhantomWrites);
        add(self.duplicate_writes > 0, FailureCategory::DuplicateWrites);
        add(self.order_violations > 0, FailureCategory::OrderViolations);
        add(self.lock_overlaps > 0, FailureCategory::LockOverlaps);
        add(
            self.lockstep_breaches > 0,
            FailureCategory::LockstepBreaches,
        );
        add(
            self.state.as_ref().is_some_and(|s| !s.matches) || self.state_error.is_some(),
            FailureCategory::State,
        );
        let unreadable = self.ledger_error.is_some()
            || self.content_hash_error.is_some()
            || !self.verification_errors.is_empty();
        add(unreadable, FailureCategory::Unreadable);
        // When verification could not run, `unreadable` says so; a length or mode that was
        // never measured is not further evidence.
        add(
            !unreadable && self.final_checkpoint_blocked.is_none() && !self.final_length_ok,
            FailureCategory::FinalLength,
        );
        add(
            self.final_checkpoint_blocked.is_some(),
            FailureCategory::FinalCheckpoint,
        );
        add(self.close_error.is_some(), FailureCategory::FinalClose);
        add(
            !self.journal_mode_ok && !self.journal_mode.is_empty(),
            FailureCategory::JournalMode,
        );
        d
    }
}

/// Verifies the database, checks the ledger and write exclusion, and classifies reports.
pub fn run(spec: &RunSpec, plan: &Plan, obs: &Observations) -> (Checks, Corruption) {
    let mut c = Checks::default();
    // Workers that never got `go` ran nothing: their ops are "not run", and the ledger
    // judges the others (it counts rows with the never-started identities as phantoms).
    let never_started: Vec<u32> = obs
        .workers
        .iter()
        .filter(|w| w.never_started)
        .map(|w| w.worker)
        .collect();
    let ran = Plan {
        workers: plan
            .workers
            .iter()
            .filter(|wp| !never_started.contains(&wp.worker))
            .cloned()
            .collect(),
        ..plan.clone()
    };
    c.not_run = plan
        .workers
        .iter()
        .filter(|wp| never_started.contains(&wp.worker))
        .flat_map(|wp| &wp.ops)
        .filter(|op| op.kind.is_write())
        .count() as u64;
    // When no worker ran at all, the run failed before anything happened (liveness says
    // why); the ledger has nothing to judge and is not blamed.
    let judge_ledger = !obs.workers.is_empty() && never_started.len() < obs.workers.len();
    verify_database(&mut c, spec, &ran, &obs.records, judge_ledger);
    judge_app_journal_mode(&mut c, spec, obs);
    check_records(&mut c, spec, plan, obs);
    let corruption = classify(obs, c.damage());
    (c, corruption)
}

/// `journal_mode = "app"`: the app's journal mode from what its connections reported and
/// what the database says at the end (`verify::app_journal_mode`); the end-of-run check
/// passes only when that is one mode for the whole run.
fn judge_app_journal_mode(c: &mut Checks, spec: &RunSpec, obs: &Observations) {
    if spec.scenario.sqlite.journal_mode != crate::scenario::JournalMode::App {
        return;
    }
    let reported = obs.workers.iter().flat_map(|w| {
        w.settings
            .iter()
            .filter_map(move |s| Some((w.worker, s.journal_mode.clone()?)))
    });
    let a = verify::app_journal_mode(reported, &c.journal_mode);
    c.journal_mode_ok = a.problem.is_none();
    c.app_journal_mode = Some(a);
}

/// Everything read from the database after the run, through one verification connection
/// (and a read-only one for `[ledger]` queries): structure, ledger, state, content hash,
/// then the final checkpoint and length.
fn verify_database(
    c: &mut Checks,
    spec: &RunSpec,
    ran: &Plan,
    records: &[crate::observe::OpRecord],
    judge_ledger: bool,
) {
    let db = &spec.db_path;
    let conn = match verify::open_for_verify(db) {
        Ok(conn) => conn,
        Err(e) => {
            c.integrity_check = format!("not run: cannot open the database: {e}");
            c.quick_check = c.integrity_check.clone();
            c.ledger_error = Some(c.integrity_check.clone());
            c.verification_errors.push(c.integrity_check.clone());
            return;
        }
    };
    let mut v = verify::structural(&conn, spec.scenario.sqlite.journal_mode);
    let judged = match &spec.scenario.ledger {
        _ if !judge_ledger => Ok(Default::default()),
        Some(table) => match crate::observe::invariants::open_read_only(db, verify::AFTER_RUN_BUSY)
        {
            Ok(ro) => app_ledger::check(&ro, table, ran, records),
            Err(source) => Err(ledger::LedgerError::ReadOnly { source }),
        },
        None => ledger::check(&conn, ran, records),
    };
    match judged {
        Ok(l) => c.take_ledger(l),
        Err(e) => c.ledger_error = Some(Chain(&e).to_string()),
    }
    // Like the ledger, judged only when some worker ran: a run that stopped before anything
    // happened has no data to hold rules (liveness says why).
    if judge_ledger && !spec.scenario.invariants.is_empty() {
        c.invariants = crate::observe::invariants::check_file(
            db,
            &spec.scenario.invariants,
            verify::AFTER_RUN_BUSY,
        );
    }
    let ledger_clean = c.ledger_error.is_none()
        && c.lost_writes + c.phantom_writes + c.duplicate_writes + c.order_violations == 0;
    let healthy = v.integrity_ok() && v.quick_ok();
    let kanban = spec.scenario.worker.is_none()
        && spec.scenario.workload.profile == crate::scenario::Profile::Kanban;
    if kanban && judge_ledger && ledger_clean && healthy {
        match state_unjudgeable(c, ran, records) {
            Some(why) => c.state_not_judged = Some(why),
            None => match state::check(&conn, ran, records, spec.scenario.workload.claim) {
                Ok(s) => c.state = Some(s),
                Err(e) => c.state_error = Some(Chain(&e).to_string()),
            },
        }
    }
    if let Some(iso) = isolation_from_db(&spec.scenario, &conn, ran, records, judge_ledger, healthy)
    {
        c.isolation = Some(iso);
    }
    if judge_ledger && spec.scenario.workload.attach == crate::scenario::Attach::Aux {
        let aux = crate::protocol::aux_db_path(db);
        c.multi_db = Some(multi_db::check(&conn, &aux, ran, records));
    }
    match content::content_hash(&conn) {
        Ok(h) => c.content_hash = Some(h),
        Err(e) => c.content_hash_error = Some(e.to_string()),
    }
    verify::finalize(&conn, db, &mut v);
    if let Err((_, e)) = conn.close() {
        c.close_error = Some(format!("closing the verification connection: {e}"));
    }
    c.final_checkpoint_blocked = v.checkpoint_blocked;
    c.integrity_check = summary_line(&v.integrity_check);
    c.integrity_check_output = v.integrity_check;
    c.quick_check = summary_line(&v.quick_check);
    c.journal_mode = v.journal_mode;
    c.journal_mode_ok = v.journal_mode_ok;
    c.final_length_ok = v.final_length_ok;
    c.verification_errors = v.errors;
}

/// Why a replay in commit order cannot be exact for this run: a heartbeat of unknown
/// outcome (never reported, or its COMMIT failed) that the ledger found absent may have
/// committed an event that a gc of the plan removed afterwards; its event id is then a gap
/// the replay cannot fill, and replaying without it would fail a correct run.
fn state_unjudgeable(
    c: &Checks,
    ran: &Plan,
    records: &[crate::observe::OpRecord],
) -> Option<String> {
    use crate::plan::OpKind;
    if c.ambiguous <= c.ambiguous_committed {
        return None;
    }
    let outcome: BTreeMap<(u32, u32), crate::observe::Outcome> = records
        .iter()
        .map(|r| ((r.worker, r.seq), r.outcome))
        .collect();
    let ops = || {
        ran.workers
            .iter()
            .flat_map(|wp| wp.ops.iter().map(move |op| (wp.worker, op)))
    };
    let unknown_heartbeats = ops()
        .filter(|(w, op)| {
            op.kind == OpKind::Heartbeat
                && outcome
                    .get(&(*w, op.seq))
                    .is_none_or(|o| *o == crate::observe::Outcome::Ambiguous)
        })
        .count();
    let gc = ops().any(|(_, op)| op.kind == OpKind::GcEvents);
    (unknown_heartbeats > 0 && gc).then(|| {
        format!(
            "state oracle not judged: {unknown_heartbeats} heartbeat(s) of unknown outcome, and a gc that may have removed the event of one that committed"
        )
    })
}

/// The isolation histories that need the database: the claims (`isolation::claims`), an
/// external worker's too from what its adapter reports, when the database is the kanban
/// schema (no app ledger of its own); and read-modify-write lists, whose commit order is in
/// the `lists` log (`isolation::rewrite`), left unjudged, and saying so, when the database
/// is unhealthy.
fn isolation_from_db(
    s: &crate::scenario::Scenario,
    conn: &rusqlite::Connection,
    ran: &Plan,
    records: &[crate::observe::OpRecord],
    judge_ledger: bool,
    healthy: bool,
) -> Option<isolation::records::IsolationReport> {
    let claims = s.workload.profile == crate::scenario::Profile::Kanban && s.ledger.is_none();
    if claims && judge_ledger && healthy {
        let reads = match s.worker {
            None => isolation::claims::ClaimReads::Inferred,
            Some(_) => isolation::claims::ClaimReads::Reported,
        };
        return isolation::claims::check(conn, ran, records, reads);
    }
    if !rewrite_lists(s) {
        return None;
    }
    Some(if healthy {
        isolation::rewrite::check(conn, ran, records)
    } else {
        isolation::records::IsolationReport {
            transactions: Some("read-modify-write".into()),
            error: Some("not judged: the database failed its integrity check".into()),
            ..Default::default()
        }
    })
}

/// Whether the run's lists are read-modify-writes, judged with the database's commit order.
fn rewrite_lists(s: &crate::scenario::Scenario) -> bool {
    s.workload.profile == crate::scenario::Profile::ListAppend
        && s.workload.list_write != crate::scenario::ListWrite::Append
}

/// The checks judged from the records and the runner's observations alone: completeness,
/// write exclusion, guard errors, coverage, lockstep breaches, the sidecar, isolation.
fn check_records(c: &mut Checks, spec: &RunSpec, plan: &Plan, obs: &Observations) {
    c.ops = completeness::check(plan, obs);
    c.invariants_during = obs.invariants_during.clone();
    let x = exclusion::check(&obs.records);
    c.lock_overlaps = x.overlaps;
    c.lock_intervals = x.intervals;
    c.lock_overlap_example = x.first_example;
    let guard_errors: Vec<_> = obs
        .records
        .iter()
        .filter_map(|r| Some((r, r.guard_error.as_ref()?)))
        .collect();
    c.guard_errors = guard_errors.len() as u64;
    c.first_guard_error = guard_errors
        .first()
        .map(|(r, e)| format!("worker {} seq {}: {e}", r.worker, r.seq));
    c.coverage = coverage::measure(&obs.records, spec.scenario.ledger.is_none());
    if let Some(ls) = &obs.lockstep {
        c.lockstep_breaches = ls.breaches.len() as u64;
        c.first_breach = ls.breaches.first().map(|b| describe_breach(ls, b));
    }
    c.files_seen = obs.files_seen.clone();
    // A watch that dropped events cannot vouch that no sidecar appeared: the sidecar
    // detector's failure (`verdict::judge_sidecar`), not an unreadable database.
    c.watch_error = obs.watch_error.clone();
    let lock_name = crate::protocol::write_lock_path(std::path::Path::new(DB_FILE))
        .to_string_lossy()
        .into_owned();
    c.sidecar_seen = c.files_seen.contains(&lock_name);
    c.global_lock_ops = lock_use::holders(&spec.scenario.strategy, plan, obs).len() as u64;
    if spec.scenario.workload.profile == crate::scenario::Profile::ListAppend
        && !rewrite_lists(&spec.scenario)
    {
        c.isolation = Some(isolation::records::check(plan, &obs.records));
    }
    c.snapshots = snapshot::check(&obs.records);
    c.wal_growth = wal_growth::check(&spec.scenario, &obs.records);
}

/// A breach in words: who took the write lock at which step, how, and who held it.
fn describe_breach(
    ls: &crate::observe::lockstep::LockstepOutcome,
    b: &crate::observe::lockstep::Breach,
) -> String {
    let holders: Vec<String> = b
        .holders
        .iter()
        .map(|h| format!("worker {} actor {}", h.worker, h.actor))
        .collect();
    // What took the lock: an immediate BEGIN, or a deferred transaction's write.
    let took = match ls
        .trace
        .iter()
        .find(|e| e.step == b.step)
        .map(|e| &e.action)
    {
        Some(crate::observe::step::StepAction::Write { label }) => {
            format!("took the write lock with a write ({label})")
        }
        _ => "got BEGIN IMMEDIATE".to_string(),
    };
    format!(
        "step {}: worker {} actor {} {took} while {} held the write lock",
        b.step,
        b.actor.worker,
        b.actor.actor,
        holders.join(", ")
    )
}

fn summary_line(lines: &[String]) -> String {
    match lines {
        [] => "not run".to_string(),
        [one] => one.clone(),
        [first, rest @ ..] => format!("{first} (+{} more lines)", rest.len()),
    }
}

#[cfg(test)]
#[path = "run_tests.rs"]
mod run_tests;

#[cfg(test)]
#[path = "props_tests.rs"]
mod props_tests;

#[cfg(test)]
#[path = "classify_tests.rs"]
mod classify_tests;
