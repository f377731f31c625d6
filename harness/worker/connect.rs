//! Opening connections and taking the strategy's file locks, the way the field app does;
//! every action goes through the [`Gate`], so in lockstep each is one step.

use std::path::Path;

use rusqlite::Connection;

use super::gate::{Gate, sql_result};
use super::sqlite;
use super::strategy::{self, Acquired, Held};
use crate::observe::BusyEvent;
use crate::observe::HarnessError;
use crate::observe::SqlError;
use crate::observe::clock::monotonic_ns;
use crate::observe::step::{LockName, StepAction, StepResult};
use crate::protocol::Start;
use crate::scenario::{InitLock, LockScope, LockWait, Setup, Strategy, WriteLock};

/// An open connection plus the connection-scoped write lock it was opened under.
pub struct Session {
    pub conn: Connection,
    _lock: Option<Held>,
    /// Time spent waiting for a connection-scoped write lock while opening.
    pub lock_wait_us: u64,
}

/// What a connection is for: writers take a connection-scoped write lock, readers do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Writer,
    IdleReader,
}

pub(super) fn us_since(t0: u64) -> u64 {
    monotonic_ns().saturating_sub(t0) / 1000
}

/// Takes a flock. Free mode blocks or polls in real time; lockstep makes one non-blocking
/// attempt per step (a poll gives up after as many attempts as its timeout allows).
fn take_lock(
    gate: &Gate,
    lock: LockName,
    path: &Path,
    wait: LockWait,
    poll_ms: u32,
    timeout_ms: u32,
) -> std::io::Result<Acquired> {
    if !gate.is_lockstep() {
        return strategy::acquire(path, wait, poll_ms, timeout_ms);
    }
    let attempts = match wait {
        LockWait::Blocking => u64::MAX,
        LockWait::Poll => u64::from(timeout_ms / poll_ms.max(1)).max(1),
    };
    for _ in 0..attempts {
        let got = gate.step(
            StepAction::flock(lock.clone()),
            || strategy::try_acquire(path),
            |r| match r {
                Ok(Some(_)) => StepResult::Ok,
                Ok(None) => StepResult::WouldBlock,
                // The OS error number, never its text: the trace hashes codes only.
                Err(e) => StepResult::Error {
                    code: match e.raw_os_error() {
                        Some(n) => format!("WALBURST_FLOCK_ERRNO_{n}"),
                        None => format!("WALBURST_FLOCK_{:?}", e.kind()).to_uppercase(),
                    },
                },
            },
        )?;
        if let Some(h) = got {
            return Ok(Acquired::Held(h));
        }
    }
    Ok(Acquired::TimedOut)
}

pub(super) fn write_lock(
    gate: &Gate,
    db: &Path,
    s: &Strategy,
) -> std::io::Result<Option<Acquired>> {
    match s.write_lock {
        WriteLock::None => Ok(None),
        WriteLock::Flock => take_lock(
            gate,
            LockName::Write,
            &crate::protocol::write_lock_path(db),
            s.write_lock_wait,
            s.write_lock_poll_ms,
            s.write_lock_timeout_ms,
        )
        .map(Some),
    }
}

/// Opens a connection as the field app does: connection-scoped write lock (if any), the
/// first-connect lock around setup, settings, and (when racing) the schema.
pub fn connect(
    spec: &Start,
    gate: &Gate,
    purpose: Purpose,
    busy: &mut Vec<BusyEvent>,
) -> Result<Session, SqlError> {
    let s = spec;
    let db = &spec.db_path;
    let t_lock = monotonic_ns();
    let lock = if purpose == Purpose::Writer && s.strategy.write_lock_scope == LockScope::Connection
    {
        match write_lock(gate, db, &s.strategy)
            .map_err(|e| SqlError::harness(HarnessError::WriteLockIo(e.to_string())))?
        {
            None => None,
            Some(Acquired::Held(h)) => Some(h),
            Some(Acquired::TimedOut) => {
                return Err(SqlError::harness(HarnessError::WriteLockTimeout));
            }
        }
    } else {
        None
    };
    let lock_wait_us = us_since(t_lock);
    let st = &s.strategy;
    let init = match st.init_lock {
        InitLock::None => None,
        kind => {
            let wait = if kind == InitLock::Blocking {
                LockWait::Blocking
            } else {
                LockWait::Poll
            };
            match take_lock(
                gate,
                LockName::Init,
                &crate::protocol::init_lock_path(db),
                wait,
                st.init_lock_poll_ms,
                st.init_lock_timeout_ms,
            )
            .map_err(|e| SqlError::harness(HarnessError::InitLockIo(e.to_string())))?
            {
                Acquired::Held(h) => Some(h),
                // The field app proceeds without the lock after its timeout.
                Acquired::TimedOut => None,
            }
        }
    };
    // Lockstep never waits inside SQLite: a step that would block returns BUSY at once.
    // (Connections opened before the barrier are ungated but still lockstep's.)
    let busy_ms = if spec.is_lockstep() {
        0
    } else {
        s.sqlite.busy_timeout_ms
    };
    // Lockstep stands in for the busy handler: a BUSY while setting up is retried as a
    // later step. Free mode waits inside SQLite (busy_timeout) and reports what is left.
    let lockstep = spec.is_lockstep();
    let note_busy = |se: &SqlError, busy: &mut Vec<BusyEvent>| {
        let retry = lockstep && se.is_busy();
        if se.is_busy() {
            busy.push(BusyEvent {
                code: se.code.clone(),
                during: "connect".into(),
                retried: retry,
            });
        }
        retry
    };
    let conn = loop {
        match gate.step(
            StepAction::Open,
            // Inside the open step: in lockstep the read-back is part of the schedule.
            || {
                sqlite::open(db, &s.sqlite, busy_ms)
                    .and_then(|c| attach_aux(c, spec))
                    .inspect(|c| {
                        if spec.report_settings {
                            let msg = crate::protocol::SettingsMsg {
                                worker: spec.worker,
                                actor: None,
                                settings: sqlite::read_settings(c),
                            };
                            crate::worker::sink::RecordSink::global()
                                .send(&crate::protocol::WorkerMsg::Settings(Box::new(msg)), false);
                        }
                    })
            },
            sql_result,
        ) {
            Ok(c) => break c,
            Err(e) => {
                let se = SqlError::from_rusqlite(&e);
                if !note_busy(&se, busy) {
                    return Err(se);
                }
            }
        }
    };
    if s.workload.setup == Setup::Race {
        loop {
            match gate.step(
                StepAction::Schema,
                || crate::workload::list_append::create_schema(&conn, s.workload.profile),
                sql_result,
            ) {
                Ok(()) => break,
                Err(e) => {
                    let se = SqlError::from_rusqlite(&e);
                    // A failed batch may leave its transaction open.
                    if !conn.is_autocommit() {
                        let _ = conn.execute_batch("ROLLBACK");
                    }
                    if !note_busy(&se, busy) {
                        return Err(se);
                    }
                }
            }
        }
    }
    drop(init);
    Ok(Session {
        conn,
        _lock: lock,
        lock_wait_us,
    })
}

/// `attach = "aux"`: ATTACHes the second database to a fresh connection (part of its open
/// step, so every connection of the worker, writers and readers alike, sees both files).
fn attach_aux(conn: rusqlite::Connection, spec: &Start) -> rusqlite::Result<rusqlite::Connection> {
    if spec.workload.attach == crate::scenario::Attach::Aux {
        crate::workload::mirror::attach(
            &conn,
            &crate::protocol::aux_db_path(&spec.db_path),
            &spec.sqlite,
        )?;
    }
    Ok(conn)
}

/// Opens the idle connections a worker holds: set up like any other, read once, then left
/// open until the worker exits (as apps with a reader connection do).
pub fn open_idle(spec: &Start, gate: &Gate, n: u32) -> Result<Vec<Session>, SqlError> {
    (0..n)
        .map(|_| {
            let session = connect(spec, gate, Purpose::IdleReader, &mut Vec::new())?;
            gate.step(
                StepAction::statement("idle read"),
                || {
                    session
                        .conn
                        .query_row("SELECT count(*) FROM sqlite_master", [], |r| {
                            r.get::<_, i64>(0)
                        })
                },
                sql_result,
            )
            .map_err(|e| SqlError::from_rusqlite(&e))?;
            Ok(session)
        })
        .collect()
}

/// Closes a connection; in lockstep as one gated step (`close`), so that a close that
/// checkpoints or removes `-wal` happens at the same point of every run.
pub fn close(gate: &Gate, session: Session) {
    if gate.is_lockstep() {
        gate.step(StepAction::Close, || drop(session), |_| StepResult::Ok);
    } else {
        drop(session);
    }
}
