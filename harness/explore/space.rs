//! The configuration space `walburst explore` draws from, the known hazards in it, and the
//! properties every configuration must satisfy. Read this file to know what explore tests.
//!
//! # Properties (judged on each run's report)
//!
//! 1. **No real damage and no lost acknowledged write** (integrity_check, quick_check, the
//!    ledger, write exclusion) unless the configuration contains a known [`Hazard`], and then
//!    the failure must be the hazard's own signature (for the bare-close header probe: a
//!    write-lock breach, the cause of whatever damage follows).
//! 2. **False corruption reports only from the legacy guards** (`header-probe`,
//!    `header-probe-fd`, `page-count`); `wal-aware` and `none` must never report.
//! 3. **No `<db>.lock` sidecar without a global lock** (and one with it, once an op that
//!    takes the lock ran).
//! 4. **The run finishes**: no crashed or hung worker, no exhausted step budget.
//!
//! The properties are encoded in each drawn scenario's `[expect]` (defaults: everything
//! clean; `false_corruption = "any"` for a legacy guard), so the verdict judges them and a
//! finding's reproduce command fails on its own; [`judge`] then tells a known hazard that
//! fired from a violation.

use proptest::prelude::*;
use serde::{Deserialize, Serialize};

use crate::scenario::{
    CheckpointMode, Expect, Expectation, Faults, GuardAt, GuardKind, JournalMode, KillPoint,
    Lifecycle, Limits, LockScope, LockWait, Lockstep, OpMix, Scenario, SqliteConfig,
    Strategy as LockStrategy, Synchronous, Workload, WriteLock,
};
use crate::shrink::signature::{Category, Signature};

/// A configuration known to break the database, and the signature it must show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Hazard {
    /// `guard = "header-probe"` outside WAL: its bare open/close of the database file drops
    /// every POSIX lock the process holds on it (sqlite.org/howtocorrupt.html 2.2), so a
    /// writer blocked in another process gets in while this one still writes.
    HeaderProbeBareClose,
    /// `guard = "wal-aware"` with `guard_at = "in-transaction"` outside WAL: inside a write
    /// transaction `PRAGMA page_count` already counts pages still in the page cache, so the
    /// length check fires before COMMIT has written them (found by `walburst explore`: seed
    /// 1 drew it in its first runs, shrunk to 1 worker x 4 creates).
    LengthGuardInTransaction,
}

impl Hazard {
    /// The category of failure this hazard shows when it fires.
    pub fn category(self) -> Category {
        match self {
            Hazard::HeaderProbeBareClose => Category::LockBreach,
            Hazard::LengthGuardInTransaction => Category::FalseReport,
        }
    }
}

/// The known hazard a configuration contains, if any.
pub fn hazard(s: &Scenario) -> Option<Hazard> {
    // `app` is not known to be a rollback journal: the app may choose WAL.
    let rollback_journal = matches!(
        s.sqlite.journal_mode,
        JournalMode::Delete | JournalMode::Truncate | JournalMode::Persist
    );
    match s.guard {
        GuardKind::HeaderProbe if rollback_journal => Some(Hazard::HeaderProbeBareClose),
        GuardKind::WalAware if rollback_journal && s.guard_at == GuardAt::InTransaction => {
            Some(Hazard::LengthGuardInTransaction)
        }
        _ => None,
    }
}

/// The guards whose false reports are documented behaviour, not findings.
pub fn legacy_guard(g: GuardKind) -> bool {
    matches!(
        g,
        GuardKind::HeaderProbe | GuardKind::HeaderProbeFd | GuardKind::PageCount
    )
}

/// How one run of a drawn configuration came out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Finding {
    Pass,
    /// The configuration's known hazard fired, as documented.
    KnownHazard {
        hazard: Hazard,
        signature: Signature,
    },
    /// A property failed.
    Violation {
        signature: Signature,
    },
}

/// Judges a run of `s` whose primary failure is `signature` (`None`: it passed).
pub fn judge(s: &Scenario, signature: Option<Signature>) -> Finding {
    match (signature, hazard(s)) {
        (None, _) => Finding::Pass,
        (Some(sig), Some(h)) if sig.category == h.category() => Finding::KnownHazard {
            hazard: h,
            signature: sig,
        },
        (Some(sig), _) => Finding::Violation { signature: sig },
    }
}

/// What to leave out of the space.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpaceOptions {
    /// Draw no configuration that contains a known hazard.
    pub no_hazards: bool,
}

fn one_of<T: Clone + std::fmt::Debug + 'static>(xs: &[T]) -> BoxedStrategy<T> {
    proptest::sample::select(xs.to_vec()).boxed()
}

/// The SQLite settings: journal mode, synchronous, autocheckpoint, checkpoint on close.
fn sqlite() -> impl Strategy<Value = SqliteConfig> {
    (
        one_of(&[
            JournalMode::Wal,
            JournalMode::Delete,
            JournalMode::Truncate,
            JournalMode::Persist,
        ]),
        one_of(&[
            Synchronous::Off,
            Synchronous::Normal,
            Synchronous::Full,
            Synchronous::Extra,
        ]),
        one_of(&[0u32, 10, 100, 1000]),
        any::<bool>(),
    )
        .prop_map(|(journal_mode, synchronous, ac, ckpt_close)| SqliteConfig {
            journal_mode,
            synchronous,
            wal_autocheckpoint: ac,
            checkpoint_on_close: ckpt_close,
            ..SqliteConfig::default()
        })
}

/// The op mix: each weight 0..=3, at least one op kind.
fn mix() -> impl Strategy<Value = OpMix> {
    proptest::collection::vec(0u32..=3, 7).prop_map(|w| {
        let mut m = OpMix {
            create_task: w[0],
            claim_task: w[1],
            heartbeat: w[2],
            add_comment: w[3],
            complete_task: w[4],
            gc_events: w[5],
            checkpoint: w[6],
        };
        if w.iter().all(|&x| x == 0) {
            m.create_task = 1;
        }
        m
    })
}

/// Workers, ops, mix, payloads, connection lifecycle, connections and idle connections.
fn workload() -> impl Strategy<Value = Workload> {
    (
        1u32..=6,
        1u32..=25,
        mix(),
        one_of(&[
            CheckpointMode::Passive,
            CheckpointMode::Full,
            CheckpointMode::Restart,
            CheckpointMode::Truncate,
        ]),
        (1u32..=512, 0u32..=3000),
        one_of(&[Lifecycle::Persistent, Lifecycle::PerOp]),
        1u32..=3,
        0u32..=2,
    )
        .prop_map(
            |(workers, ops, mix, checkpoint_mode, (lo, extra), connection, conns, idle)| Workload {
                workers,
                ops_per_worker: ops,
                mix,
                checkpoint_mode,
                payload_bytes: [lo, lo + extra],
                connection,
                connections_per_worker: conns,
                idle_connections: idle,
                ..Workload::default()
            },
        )
}

/// The lock strategy: none, or a global flock (blocking or polled, per transaction or per
/// connection, around checkpoints or not).
fn lock_strategy() -> impl Strategy<Value = LockStrategy> {
    (
        one_of(&[WriteLock::None, WriteLock::Flock]),
        one_of(&[LockWait::Blocking, LockWait::Poll]),
        one_of(&[LockScope::Transaction, LockScope::Connection]),
        any::<bool>(),
    )
        .prop_map(|(write_lock, wait, scope, ckpt)| LockStrategy {
            write_lock,
            write_lock_wait: wait,
            write_lock_poll_ms: 5,
            write_lock_scope: scope,
            lock_checkpoints: ckpt && scope == LockScope::Transaction,
            ..LockStrategy::default()
        })
}

/// Seeded kills: none, or 1-2 at one kill point, with or without respawn.
fn faults() -> impl Strategy<Value = Faults> {
    (
        one_of(&[
            KillPoint::None,
            KillPoint::None,
            KillPoint::MidTransaction,
            KillPoint::AfterCommit,
            KillPoint::Close,
        ]),
        1u32..=2,
        any::<bool>(),
    )
        .prop_map(|(kill, n, respawn)| Faults {
            kill,
            kills: if kill == KillPoint::None { 0 } else { n },
            respawn: respawn && kill != KillPoint::None,
            ..Faults::default()
        })
}

/// A whole scenario and the seed to run it with.
pub fn scenario(opts: SpaceOptions) -> impl Strategy<Value = (Scenario, u64)> {
    (
        sqlite(),
        workload(),
        lock_strategy(),
        one_of(&[
            GuardKind::None,
            GuardKind::HeaderProbe,
            GuardKind::HeaderProbeFd,
            GuardKind::PageCount,
            GuardKind::WalAware,
        ]),
        one_of(&[GuardAt::AfterCommit, GuardAt::InTransaction]),
        faults(),
        0u64..1_000_000,
    )
        .prop_map(
            |(sqlite, workload, strategy, guard, guard_at, mut faults, seed)| {
                // At most one kill per planned op (validation), and never more than asked.
                let ops = workload.workers * workload.ops_per_worker;
                faults.kills = faults.kills.min(ops);
                let mut s = Scenario {
                    name: "explore".into(),
                    description: String::new(),
                    seeds: vec![seed],
                    sqlite,
                    workload,
                    strategy,
                    guard,
                    guard_at,
                    limits: Limits {
                        run_timeout_secs: 300,
                        ..Limits::default()
                    },
                    faults,
                    io: Default::default(),
                    lockstep: Lockstep::default(),
                    expect: Expect::default(),
                    worker: None,
                    ledger: None,
                    invariants: Vec::new(),
                    matrix: None,
                };
                if legacy_guard(guard) {
                    s.expect.false_corruption = Expectation::Any;
                }
                (s, seed)
            },
        )
        .prop_filter("--no-hazards leaves out known hazards", move |(s, _)| {
            !opts.no_hazards || hazard(s).is_none()
        })
}
