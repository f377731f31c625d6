//! The durability oracle: after a simulated power loss, which acknowledged commits survived,
//! judged by what the synchronous level promises (sqlite.org/pragma.html#pragma_synchronous):
//! * WAL at FULL or EXTRA, rollback journals at EXTRA (and at FULL in TRUNCATE/PERSIST
//!   mode): every acknowledged commit is present.
//! * NORMAL, and FULL in DELETE mode (the journal's unlink is not followed by a directory
//!   sync below EXTRA): a suffix of the acknowledged commits may be gone, never a commit
//!   followed by one that survived; the database stays consistent (integrity is judged by
//!   the usual checks).
//! * OFF: anything may happen; losses and damage are reported, not judged.
//!
//! A commit is atomic at every level but OFF: every row it inserted survives, or none does.
//! Each acknowledged commit is judged by every row it wrote (its event, and the `tasks`,
//! `task_comments` or `task_runs` row its kind inserts), not by its event alone: a commit
//! whose event survived but whose comment did not is torn, a failure under any rule but OFF.

use std::collections::BTreeSet;

use super::app_ledger::identities as app_identities;
use super::ledger::{LedgerError, LedgerQuery};
use crate::scenario::{LedgerTable, RowCheck};

use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use super::failure::{Detector, Failure, FailureCategory, FailureKind};
use crate::observe::io::{FiredPoint, IoCounts, PowerLossReport, StallReport};
use crate::observe::{OpRecord, Outcome};
use crate::plan::OpKind;

/// How many torn commits are named in the failure and the report.
const MAX_EXAMPLES: usize = 5;
use crate::scenario::{JournalMode, Scenario, Synchronous};

/// What the synchronous level lets power loss take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DurabilityRule {
    /// Every acknowledged commit must be present.
    NoneLost,
    /// A suffix of the acknowledged commits (in commit order) may be missing.
    SuffixMayBeLost,
    /// Reported, not judged.
    ReportedOnly,
}

pub fn rule(s: &Scenario) -> DurabilityRule {
    match (s.sqlite.synchronous, s.sqlite.journal_mode) {
        (Synchronous::Off, _) => DurabilityRule::ReportedOnly,
        (Synchronous::Normal, _) => DurabilityRule::SuffixMayBeLost,
        (Synchronous::Full, JournalMode::Delete) => DurabilityRule::SuffixMayBeLost,
        (Synchronous::Full | Synchronous::Extra, _) => DurabilityRule::NoneLost,
    }
}

/// Acknowledged commits after power loss, against the rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Durability {
    pub synchronous: String,
    pub journal_mode: String,
    pub rule: DurabilityRule,
    /// Commits whose COMMIT returned OK (ops whose event row no gc may delete).
    pub acknowledged: u64,
    pub lost: u64,
    /// Every lost commit came after every surviving one in commit order (event ids).
    pub lost_is_suffix: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lost_examples: Vec<String>,
    /// Acknowledged commits of which some rows survived and others did not (an event without
    /// the row its op inserted beside it, or that row without its event): not atomic.
    #[serde(default)]
    pub torn: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub torn_examples: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Durability {
    /// Nothing judged yet: the scenario's level and rule, no commit counted.
    fn judging(s: &Scenario) -> Durability {
        Durability {
            synchronous: s.sqlite.synchronous.as_sql().into(),
            journal_mode: s.sqlite.journal_mode.as_sql().into(),
            rule: rule(s),
            acknowledged: 0,
            lost: 0,
            lost_is_suffix: true,
            lost_examples: Vec::new(),
            torn: 0,
            torn_examples: Vec::new(),
            error: None,
        }
    }

    /// The failure this finding is, if any.
    pub fn failure(&self) -> Option<Failure> {
        let fail = |count, text: String| {
            Failure::new(
                FailureCategory::Durability,
                Detector::DurabilityOracle,
                FailureKind::Unexpected,
                count,
                text,
            )
        };
        if let Some(e) = &self.error {
            return Some(fail(None, format!("durability could not be checked: {e}")));
        }
        if self.torn > 0 && self.rule != DurabilityRule::ReportedOnly {
            return Some(fail(
                Some(self.torn),
                format!(
                    "power loss tore {} of {} acknowledged commits at synchronous={} (journal_mode={}): part of a commit survived, part did not: {}",
                    self.torn,
                    self.acknowledged,
                    self.synchronous,
                    self.journal_mode,
                    self.torn_examples.join("; ")
                ),
            ));
        }
        let text = match self.rule {
            DurabilityRule::NoneLost if self.lost > 0 => Some(format!(
                "power loss took {} of {} acknowledged commits at synchronous={} (journal_mode={}), which promises none: {}",
                self.lost,
                self.acknowledged,
                self.synchronous,
                self.journal_mode,
                self.lost_examples.join("; ")
            )),
            DurabilityRule::SuffixMayBeLost if !self.lost_is_suffix => Some(format!(
                "power loss took {} acknowledged commits that are not a suffix of the commit order (a later commit survived): {}",
                self.lost,
                self.lost_examples.join("; ")
            )),
            _ => None,
        };
        text.map(|t| fail(Some(self.lost), t))
    }

    pub fn note(&self) -> String {
        format!(
            "power loss at synchronous={} (journal_mode={}): {} of {} acknowledged commits lost{}{}",
            self.synchronous,
            self.journal_mode,
            self.lost,
            self.acknowledged,
            if self.torn > 0 {
                format!(", {} torn", self.torn)
            } else {
                String::new()
            },
            match self.rule {
                DurabilityRule::NoneLost => " (none may be)",
                DurabilityRule::SuffixMayBeLost if self.lost_is_suffix =>
                    " (a suffix of the commit order, as allowed)",
                DurabilityRule::SuffixMayBeLost => " (not a suffix)",
                DurabilityRule::ReportedOnly => " (synchronous=off: reported, not judged)",
            }
        )
    }
}

/// The row, beside its event, that each write kind inserts: (table, worker column, seq
/// column). Updates and deletes leave no row of their own (the state oracle judges those).
fn inserted_row(kind: OpKind) -> Option<(&'static str, &'static str, &'static str)> {
    match kind {
        OpKind::CreateTask => Some(("tasks", "created_worker", "created_seq")),
        OpKind::AddComment => Some(("task_comments", "worker", "seq")),
        OpKind::ClaimTask => Some(("task_runs", "worker", "seq")),
        _ => None,
    }
}

/// The (worker, seq) identities of `table`'s rows.
fn identities(
    conn: &Connection,
    table: &str,
    worker: &str,
    seq: &str,
) -> rusqlite::Result<BTreeSet<(i64, i64)>> {
    conn.prepare(&format!("SELECT {worker}, {seq} FROM {table}"))
        .and_then(|mut st| st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
}

/// Checks every acknowledged commit, every row it wrote, against the database behind `conn`
/// (a fresh connection after recovery).
pub fn check(conn: &Connection, s: &Scenario, records: &[OpRecord]) -> Durability {
    let mut d = Durability::judging(s);
    let ids: rusqlite::Result<BTreeSet<i64>> = conn
        .prepare("SELECT id FROM task_events")
        .and_then(|mut st| st.query_map([], |r| r.get(0))?.collect());
    let present = match ids {
        Ok(p) => p,
        Err(e) => {
            d.error = Some(format!("cannot read task_events: {e}"));
            return d;
        }
    };
    // Each table an acknowledged commit inserted into, read once.
    let mut rows: std::collections::BTreeMap<&str, BTreeSet<(i64, i64)>> = Default::default();
    for (table, w, q) in OpKind::ALL.into_iter().filter_map(inserted_row) {
        match identities(conn, table, w, q) {
            Ok(ids) => {
                rows.insert(table, ids);
            }
            Err(e) => {
                d.error = Some(format!("cannot read {table}: {e}"));
                return d;
            }
        }
    }
    let mut lost_ids = Vec::new();
    let mut max_surviving = i64::MIN;
    for r in records.iter().filter(|r| {
        r.outcome == Outcome::Committed && r.kind.is_write() && r.kind != OpKind::Heartbeat
    }) {
        let Some(eid) = r.event_id else { continue };
        d.acknowledged += 1;
        let survived = present.contains(&eid);
        if survived {
            max_surviving = max_surviving.max(eid);
        } else {
            lost_ids.push((eid, r.worker, r.seq));
        }
        if let Some((table, _, _)) = inserted_row(r.kind) {
            let row = rows[table].contains(&(i64::from(r.worker), i64::from(r.seq)));
            if row != survived {
                d.torn += 1;
                if d.torn_examples.len() < MAX_EXAMPLES {
                    d.torn_examples.push(format!(
                        "worker {} seq {} ({}, event {eid}): its event row {} but its {table} row {}",
                        r.worker,
                        r.seq,
                        r.kind.name(),
                        if survived { "survived" } else { "is gone" },
                        if row { "survived" } else { "is gone" },
                    ));
                }
            }
        }
    }
    lost_ids.sort();
    d.lost = lost_ids.len() as u64;
    d.lost_is_suffix = lost_ids.first().is_none_or(|&(e, _, _)| e > max_surviving);
    d.lost_examples = lost_ids
        .iter()
        .take(MAX_EXAMPLES)
        .map(|(e, w, q)| format!("worker {w} seq {q} (event {e})"))
        .collect();
    d
}

// The durability oracle for an app that keeps its own ledger (`[ledger]`): after a simulated
// power loss, an acknowledged commit survived when `ledger.present` lists its (worker, seq),
// and it is torn when a `[[ledger.rows]]` query that covers its kind disagrees (its row
// survived without the op, or the op without its row). The rule per synchronous level is
// the kanban oracle's (`durability::rule`).
//
// Commit order: an app's rows carry no commit sequence walburst can read, so "only a suffix
// was lost" is judged in real time, which never blames a correct database: a loss breaks
// the suffix rule only when a commit that *began* after the lost one was acknowledged
// survived (it committed later, so a later commit outlived an earlier one). Commits that
// overlapped in time are not ordered by this rule.

/// Checks every acknowledged write, and every `[[ledger.rows]]` row of its kind, against the
/// database behind `conn` (a fresh connection after recovery).
pub fn check_app(
    conn: &Connection,
    s: &Scenario,
    table: &LedgerTable,
    records: &[OpRecord],
) -> Durability {
    let mut d = Durability::judging(s);
    let present = match app_identities(conn, &LedgerQuery::Present, &table.present) {
        Ok(p) => p,
        Err(e) => {
            d.error = Some(crate::error::Chain(&e).to_string());
            return d;
        }
    };
    let rows = match ledger_rows(conn, table) {
        Ok(r) => r,
        Err(e) => {
            d.error = Some(crate::error::Chain(&e).to_string());
            return d;
        }
    };
    let acknowledged: Vec<&OpRecord> = records
        .iter()
        .filter(|r| r.outcome == Outcome::Committed && r.kind.is_write())
        .collect();
    let mut lost: Vec<&OpRecord> = Vec::new();
    let mut survivors_began: Vec<u64> = Vec::new();
    for r in &acknowledged {
        d.acknowledged += 1;
        let id = (r.worker, r.seq);
        let survived = present.contains(&id);
        if survived {
            survivors_began.push(r.t_start_ns);
        } else {
            lost.push(r);
        }
        for (rc, ids) in &rows {
            let covers = rc.kinds.is_empty() || rc.kinds.iter().any(|k| k == r.kind.name());
            if covers && ids.contains(&id) != survived {
                d.torn += 1;
                if d.torn_examples.len() < MAX_EXAMPLES {
                    d.torn_examples.push(format!(
                        "worker {} seq {} ({}): ledger.present {} it but ledger.rows {:?} {}",
                        r.worker,
                        r.seq,
                        r.kind.name(),
                        if survived { "lists" } else { "does not list" },
                        rc.name,
                        if survived { "does not" } else { "does" },
                    ));
                }
            }
        }
    }
    let last_began = survivors_began.iter().copied().max();
    d.lost = lost.len() as u64;
    // Broken only when some survivor began after a lost commit was acknowledged.
    d.lost_is_suffix = lost
        .iter()
        .all(|l| last_began.is_none_or(|b| b <= l.t_end_ns));
    lost.sort_by_key(|r| (r.t_end_ns, r.worker, r.seq));
    d.lost_examples = lost
        .iter()
        .take(MAX_EXAMPLES)
        .map(|r| format!("worker {} seq {} ({})", r.worker, r.seq, r.kind.name()))
        .collect();
    d
}

/// Each `[[ledger.rows]]` query with the (worker, seq) identities it lists.
type RowsListed<'t> = Vec<(&'t RowCheck, BTreeSet<(u32, u32)>)>;

/// What each `[[ledger.rows]]` query lists, beside its query.
fn ledger_rows<'t>(
    conn: &Connection,
    table: &'t LedgerTable,
) -> Result<RowsListed<'t>, LedgerError> {
    table
        .rows
        .iter()
        .enumerate()
        .map(|(i, rc)| {
            let query = LedgerQuery::Rows {
                index: i,
                name: rc.name.clone(),
            };
            Ok((rc, app_identities(conn, &query, &rc.query)?))
        })
        .collect()
}

/// The `io` section of a report: the fault VFS's counters, the points that fired, stalls,
/// and what power loss did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IoReport {
    /// Per worker (summed over incarnations that finished): file kind -> op -> calls.
    pub counters: std::collections::BTreeMap<u32, IoCounts>,
    pub fired: Vec<FiredPoint>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stalls: Vec<StallReport>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_loss: Option<PowerLossReport>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub durability: Option<Durability>,
}

/// Builds the `io` section after verification: power loss already undone, `conn` a fresh
/// connection for the durability oracle (when power was lost).
pub fn io_report(
    s: &Scenario,
    obs: &crate::observe::Observations,
    power_loss: Option<PowerLossReport>,
    conn: Option<&Connection>,
) -> IoReport {
    let durability = match (&power_loss, conn) {
        // An app that keeps its own ledger (`[ledger]`) is judged by its (worker, seq) rows.
        (Some(_), Some(c)) => Some(match &s.ledger {
            Some(table) => check_app(c, s, table, &obs.records),
            None => check(c, s, &obs.records),
        }),
        (Some(_), None) => Some(Durability {
            lost_is_suffix: false,
            error: Some("the database could not be opened after power loss".into()),
            ..Durability::judging(s)
        }),
        _ => None,
    };
    IoReport {
        counters: obs.io.counters.clone(),
        fired: obs.io.fired.clone(),
        stalls: stalls(s, &obs.io, &obs.records),
        power_loss,
        durability,
    }
}

/// Adds the `io` findings to the verdict: every point must have fired (a point that never
/// fires tested nothing), and the durability oracle must hold.
pub fn judge_io(s: &Scenario, lockstep: bool, io: &IoReport, v: &mut super::verdict::Verdict) {
    use crate::scenario::IoAction;
    let mut failures = judge_points(s, io, &mut v.notes);
    judge_stalls(lockstep, io, v);
    if let Some(pl) = &io.power_loss {
        v.notes.push(format!(
            "power loss: {} unsynced writes undone ({} bytes) over {} files; -shm {}",
            pl.writes_undone(),
            pl.files.values().map(|f| f.bytes_restored).sum::<u64>(),
            pl.files.len(),
            if pl.shm_discarded {
                "discarded"
            } else {
                "absent"
            }
        ));
    }
    if let Some(t) = io.power_loss.as_ref().and_then(|p| p.tearing.as_ref()) {
        v.notes.push(tearing_note(s, t));
    }
    if let Some(d) = &io.durability {
        v.notes.push(d.note());
        failures.extend(d.failure());
    }
    if s.io.points.iter().any(|p| p.action == IoAction::PowerLoss) && io.power_loss.is_none() {
        failures.push(Failure::new(
            FailureCategory::IoPointNotFired,
            Detector::FaultVfs,
            FailureKind::Missing,
            None,
            "a power-loss point is set but no power loss was simulated",
        ));
    }
    if !failures.is_empty() || !v.liveness.is_empty() {
        v.failures.extend(failures);
        if v.verdict == super::verdict::VerdictKind::Pass {
            v.verdict = super::verdict::VerdictKind::Fail;
        }
    }
}

/// What tearing did, naming the claim the device broke when its physics break one: the
/// damage that follows is what that claim, had SQLite believed it, permits.
fn tearing_note(s: &Scenario, t: &crate::observe::io::TearReport) -> String {
    let broken = s.io.device.and_then(|d| d.broken_claim()).map_or(String::new(), |c| {
        format!("; the device claims {c} but its physics tore and garbled sectors: any loss or damage here is what that claim permits")
    });
    format!(
        "torn writes ({} B sectors{}): {} sectors of unsynced writes kept their new bytes, {} got their old bytes back, {} came back garbled{broken}",
        t.sector_size,
        if t.garble { ", not power-safe" } else { "" },
        t.sectors_kept,
        t.sectors_restored,
        t.sectors_garbled
    )
}

/// Each point fired (a note saying where) or is a failure: the fault was not exercised.
fn judge_points(s: &Scenario, io: &IoReport, notes: &mut Vec<String>) -> Vec<Failure> {
    let mut failures = Vec::new();
    for (i, p) in s.io.points.iter().enumerate() {
        match io.fired.iter().find(|f| f.point as usize == i) {
            None => failures.push(Failure::new(
                FailureCategory::IoPointNotFired,
                Detector::FaultVfs,
                FailureKind::Missing,
                None,
                format!(
                    "io point {i} ({} {} {:?}, nth {:?}, {}) never fired: the fault was not exercised",
                    p.file.name(),
                    p.op.name(),
                    p.phase,
                    p.nth,
                    p.action.name()
                ),
            )),
            Some(f) => notes.push(format!(
                "io point {i} fired: {}{} of worker {} (pid {}) on {} {}{}, occurrence {}, in op seq {}{}",
                f.action.name(),
                if p.when == crate::scenario::IoWhen::After {
                    " right after the call"
                } else {
                    ""
                },
                f.worker,
                f.pid,
                f.file.name(),
                f.op.name(),
                if f.in_checkpoint { " during a checkpoint" } else { "" },
                f.nth,
                f.seq.map_or("?".into(), |q| q.to_string()),
                f.step.map_or(String::new(), |st| format!(" at lockstep step {st}"))
            )),
        }
    }
    failures
}

/// What the rest of the run did during each `stop` stall; in free mode a stall that stopped
/// every other worker although they had work left is a liveness failure.
fn judge_stalls(lockstep: bool, io: &IoReport, v: &mut super::verdict::Verdict) {
    for st in &io.stalls {
        v.notes.push(format!(
            "stall of worker {} for {} ms: other workers committed {} times meanwhile; -wal went from {} to {} bytes",
            st.worker,
            st.stop_ms,
            st.commits_by_others,
            st.wal_bytes_before.map_or("?".into(), |b| b.to_string()),
            st.wal_bytes_after.map_or("?".into(), |b| b.to_string()),
        ));
        // Free mode: a stalled checkpointer must not stop the others (lockstep runs one
        // step at a time, so there nobody moves during a stall by design).
        if !lockstep && st.others_active_after && st.commits_by_others == 0 {
            v.liveness.push(Failure::new(
                FailureCategory::Liveness,
                Detector::FaultVfs,
                FailureKind::Unexpected,
                Some(0),
                format!(
                    "while worker {} stalled for {} ms inside a checkpoint, no other worker committed although they had work left",
                    st.worker, st.stop_ms
                ),
            ));
        }
    }
}

/// The stalls of `stop` points, with what other workers committed meanwhile.
pub fn stalls(
    s: &Scenario,
    io: &crate::observe::io::IoObserved,
    records: &[crate::observe::OpRecord],
) -> Vec<StallReport> {
    io.fired
        .iter()
        .filter(|f| f.action == crate::scenario::IoAction::Stop)
        .map(|f| {
            let resumed = io
                .resumed
                .iter()
                .find(|r| r.0 == f.worker && r.1 == f.point);
            let end = resumed.map_or(u64::MAX, |r| r.2);
            StallReport {
                worker: f.worker,
                point: f.point,
                stop_ms: s.io.points.get(f.point as usize).map_or(0, |p| p.stop_ms),
                commits_by_others: records
                    .iter()
                    .filter(|r| {
                        r.worker != f.worker
                            && r.outcome == crate::observe::Outcome::Committed
                            && r.t_end_ns >= f.t_ns
                            && r.t_end_ns <= end
                    })
                    .count() as u64,
                wal_bytes_before: f.wal_bytes,
                wal_bytes_after: resumed.and_then(|r| r.3),
                others_active_after: records
                    .iter()
                    .any(|r| r.worker != f.worker && r.t_end_ns > end),
            }
        })
        .collect()
}

#[cfg(test)]
#[path = "durability_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "durability_app_tests.rs"]
mod app_tests;
