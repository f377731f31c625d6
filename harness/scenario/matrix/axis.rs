//! The axes a matrix can vary and their values: case-name parts, display, and applying a
//! value to a scenario.

use std::fmt;

use crate::scenario::release::SqliteVersion;
use crate::scenario::{
    GuardAt, GuardKind, JournalMode, Lifecycle, Scenario, Synchronous, WriteLock,
};

/// The axes, in the fixed order used for expansion and for case names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Axis {
    JournalMode,
    Synchronous,
    WalAutocheckpoint,
    /// `[sqlite] mmap_size` in bytes.
    MmapSize,
    Workers,
    OpsPerWorker,
    Connection,
    ConnectionsPerWorker,
    IdleConnections,
    WriteLock,
    Guard,
    GuardAt,
    /// The SQLite release (`[sqlite] version`); each case runs in that release's binary.
    Sqlite,
}

impl Axis {
    pub const ALL: [Axis; 13] = [
        Axis::JournalMode,
        Axis::Synchronous,
        Axis::WalAutocheckpoint,
        Axis::MmapSize,
        Axis::Workers,
        Axis::OpsPerWorker,
        Axis::Connection,
        Axis::ConnectionsPerWorker,
        Axis::IdleConnections,
        Axis::WriteLock,
        Axis::Guard,
        Axis::GuardAt,
        Axis::Sqlite,
    ];

    /// The key in `[matrix]` (and in `when`/`exclude` tables).
    pub fn key(self) -> &'static str {
        match self {
            Axis::JournalMode => "journal_mode",
            Axis::Synchronous => "synchronous",
            Axis::WalAutocheckpoint => "wal_autocheckpoint",
            Axis::MmapSize => "mmap_size",
            Axis::Workers => "workers",
            Axis::OpsPerWorker => "ops_per_worker",
            Axis::Connection => "connection",
            Axis::ConnectionsPerWorker => "connections_per_worker",
            Axis::IdleConnections => "idle_connections",
            Axis::WriteLock => "write_lock",
            Axis::Guard => "guard",
            Axis::GuardAt => "guard_at",
            Axis::Sqlite => "sqlite",
        }
    }

    /// The scenario setting the axis replaces.
    pub fn setting(self) -> &'static str {
        match self {
            Axis::JournalMode => "sqlite.journal_mode",
            Axis::Synchronous => "sqlite.synchronous",
            Axis::WalAutocheckpoint => "sqlite.wal_autocheckpoint",
            Axis::MmapSize => "sqlite.mmap_size",
            Axis::Workers => "workload.workers",
            Axis::OpsPerWorker => "workload.ops_per_worker",
            Axis::Connection => "workload.connection",
            Axis::ConnectionsPerWorker => "workload.connections_per_worker",
            Axis::IdleConnections => "workload.idle_connections",
            Axis::WriteLock => "strategy.write_lock",
            Axis::Guard => "guard",
            Axis::GuardAt => "guard_at",
            Axis::Sqlite => "sqlite.version",
        }
    }
}

/// One value of one axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AxisValue {
    JournalMode(JournalMode),
    Synchronous(Synchronous),
    WalAutocheckpoint(u32),
    MmapSize(u64),
    Workers(u32),
    OpsPerWorker(u32),
    Connection(Lifecycle),
    ConnectionsPerWorker(u32),
    IdleConnections(u32),
    WriteLock(WriteLock),
    Guard(GuardKind),
    GuardAt(GuardAt),
    Sqlite(SqliteVersion),
}

fn lifecycle_name(l: Lifecycle) -> &'static str {
    match l {
        Lifecycle::Persistent => "persistent",
        Lifecycle::PerOp => "per-op",
    }
}

fn write_lock_name(w: WriteLock) -> &'static str {
    match w {
        WriteLock::None => "none",
        WriteLock::Flock => "flock",
    }
}

fn guard_at_name(g: GuardAt) -> &'static str {
    match g {
        GuardAt::AfterCommit => "after-commit",
        GuardAt::InTransaction => "in-transaction",
    }
}

impl AxisValue {
    pub fn axis(self) -> Axis {
        match self {
            AxisValue::JournalMode(_) => Axis::JournalMode,
            AxisValue::Synchronous(_) => Axis::Synchronous,
            AxisValue::WalAutocheckpoint(_) => Axis::WalAutocheckpoint,
            AxisValue::MmapSize(_) => Axis::MmapSize,
            AxisValue::Workers(_) => Axis::Workers,
            AxisValue::OpsPerWorker(_) => Axis::OpsPerWorker,
            AxisValue::Connection(_) => Axis::Connection,
            AxisValue::ConnectionsPerWorker(_) => Axis::ConnectionsPerWorker,
            AxisValue::IdleConnections(_) => Axis::IdleConnections,
            AxisValue::WriteLock(_) => Axis::WriteLock,
            AxisValue::Guard(_) => Axis::Guard,
            AxisValue::GuardAt(_) => Axis::GuardAt,
            AxisValue::Sqlite(_) => Axis::Sqlite,
        }
    }

    /// This value's part of a case name: short, lowercase, unique across axes.
    pub fn name_part(self) -> String {
        match self {
            AxisValue::JournalMode(j) => j.as_sql().to_string(),
            AxisValue::Synchronous(s) => s.as_sql().to_string(),
            AxisValue::WalAutocheckpoint(n) => format!("ac{n}"),
            AxisValue::MmapSize(n) => format!("mmap{n}"),
            AxisValue::Workers(n) => format!("w{n}"),
            AxisValue::OpsPerWorker(n) => format!("o{n}"),
            AxisValue::Connection(Lifecycle::Persistent) => "persistent".into(),
            AxisValue::Connection(Lifecycle::PerOp) => "perop".into(),
            AxisValue::ConnectionsPerWorker(n) => format!("c{n}"),
            AxisValue::IdleConnections(n) => format!("i{n}"),
            AxisValue::WriteLock(WriteLock::None) => "nolock".into(),
            AxisValue::WriteLock(WriteLock::Flock) => "flock".into(),
            AxisValue::Guard(GuardKind::None) => "noguard".into(),
            AxisValue::Guard(g) => g.name().replace('-', ""),
            AxisValue::GuardAt(GuardAt::AfterCommit) => "aftercommit".into(),
            AxisValue::GuardAt(GuardAt::InTransaction) => "intx".into(),
            AxisValue::Sqlite(v) => format!("sqlite{v}"),
        }
    }

    /// The value as written in a scenario file.
    pub fn display(self) -> String {
        match self {
            AxisValue::JournalMode(j) => j.as_sql().into(),
            AxisValue::Synchronous(s) => s.as_sql().into(),
            AxisValue::WalAutocheckpoint(n)
            | AxisValue::Workers(n)
            | AxisValue::OpsPerWorker(n)
            | AxisValue::ConnectionsPerWorker(n)
            | AxisValue::IdleConnections(n) => n.to_string(),
            AxisValue::MmapSize(n) => n.to_string(),
            AxisValue::Connection(l) => lifecycle_name(l).into(),
            AxisValue::WriteLock(w) => write_lock_name(w).into(),
            AxisValue::Guard(g) => g.name().into(),
            AxisValue::GuardAt(g) => guard_at_name(g).into(),
            AxisValue::Sqlite(v) => v.to_string(),
        }
    }

    pub(super) fn apply(self, s: &mut Scenario) {
        match self {
            AxisValue::JournalMode(v) => s.sqlite.journal_mode = v,
            AxisValue::Synchronous(v) => s.sqlite.synchronous = v,
            AxisValue::WalAutocheckpoint(v) => s.sqlite.wal_autocheckpoint = v,
            AxisValue::MmapSize(v) => s.sqlite.mmap_size = Some(v),
            AxisValue::Workers(v) => s.workload.workers = v,
            AxisValue::OpsPerWorker(v) => s.workload.ops_per_worker = v,
            AxisValue::Connection(v) => s.workload.connection = v,
            AxisValue::ConnectionsPerWorker(v) => s.workload.connections_per_worker = v,
            AxisValue::IdleConnections(v) => s.workload.idle_connections = v,
            AxisValue::WriteLock(v) => s.strategy.write_lock = v,
            AxisValue::Guard(v) => s.guard = v,
            AxisValue::GuardAt(v) => s.guard_at = v,
            AxisValue::Sqlite(v) => s.sqlite.version = Some(v),
        }
    }

    /// The scenario's current value on `axis`.
    pub fn of(axis: Axis, s: &Scenario) -> AxisValue {
        match axis {
            Axis::JournalMode => AxisValue::JournalMode(s.sqlite.journal_mode),
            Axis::Synchronous => AxisValue::Synchronous(s.sqlite.synchronous),
            Axis::WalAutocheckpoint => AxisValue::WalAutocheckpoint(s.sqlite.wal_autocheckpoint),
            // Absent is SQLite's default, which is 0 (no mmap) in every build walburst runs.
            Axis::MmapSize => AxisValue::MmapSize(s.sqlite.mmap_size.unwrap_or(0)),
            Axis::Workers => AxisValue::Workers(s.workload.workers),
            Axis::OpsPerWorker => AxisValue::OpsPerWorker(s.workload.ops_per_worker),
            Axis::Connection => AxisValue::Connection(s.workload.connection),
            Axis::ConnectionsPerWorker => {
                AxisValue::ConnectionsPerWorker(s.workload.connections_per_worker)
            }
            Axis::IdleConnections => AxisValue::IdleConnections(s.workload.idle_connections),
            Axis::WriteLock => AxisValue::WriteLock(s.strategy.write_lock),
            Axis::Guard => AxisValue::Guard(s.guard),
            Axis::GuardAt => AxisValue::GuardAt(s.guard_at),
            Axis::Sqlite => {
                AxisValue::Sqlite(s.sqlite.version.unwrap_or_else(SqliteVersion::bundled))
            }
        }
    }
}

impl fmt::Display for AxisValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.axis().key(), self.display())
    }
}

pub(super) fn wrap<T: Copy>(v: &[T], f: fn(T) -> AxisValue) -> Vec<AxisValue> {
    v.iter().map(|&x| f(x)).collect()
}
