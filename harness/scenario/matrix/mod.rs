//! `[matrix]`: a scenario's axes expanded into named cases.
//!
//! A matrix lists values for some axes (each axis is one scenario setting). Expansion takes
//! the cross product in a fixed axis order, drops combinations matched by
//! `[[matrix.exclude]]`, folds combinations that cannot differ (an autocheckpoint value
//! outside WAL, a `guard_at` without a guard) into one case, and applies the
//! `[[matrix.expect]]` rules to each case's `[expect]`. Case names are
//! `<scenario>/<part>-<part>-...`, one part per listed axis in the fixed order of [`Axis`], so
//! they do not change when the file's keys are reordered. Format: `NIGHTLY.md`.

mod axis;
mod expand;
mod rules;

pub use axis::{Axis, AxisValue};
pub use expand::{Case, Expansion, expand, inert_axes};
pub use rules::{ExpectRule, OneOrMany, Selector, expect_summary};

use serde::{Deserialize, Serialize};

use crate::scenario::Invalid;

use crate::scenario::{self, GuardAt, GuardKind, JournalMode, Lifecycle, Synchronous, WriteLock};
use axis::wrap;

/// The `[matrix]` table of a scenario file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Matrix {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub journal_mode: Vec<JournalMode>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub synchronous: Vec<Synchronous>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub wal_autocheckpoint: Vec<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mmap_size: Vec<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workers: Vec<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ops_per_worker: Vec<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub connection: Vec<Lifecycle>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub connections_per_worker: Vec<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub idle_connections: Vec<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub write_lock: Vec<WriteLock>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub guard: Vec<GuardKind>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub guard_at: Vec<GuardAt>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sqlite: Vec<crate::scenario::release::SqliteVersion>,
    /// Combinations to leave out: a combination is dropped when every key of a rule matches.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<Selector>,
    /// Per-case `[expect]` overrides, applied in file order (later rules win).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expect: Vec<ExpectRule>,
}

impl Matrix {
    /// The listed values of `axis` (empty when the matrix does not vary it).
    pub fn values(&self, axis: Axis) -> Vec<AxisValue> {
        match axis {
            Axis::JournalMode => wrap(&self.journal_mode, AxisValue::JournalMode),
            Axis::Synchronous => wrap(&self.synchronous, AxisValue::Synchronous),
            Axis::WalAutocheckpoint => wrap(&self.wal_autocheckpoint, AxisValue::WalAutocheckpoint),
            Axis::MmapSize => wrap(&self.mmap_size, AxisValue::MmapSize),
            Axis::Workers => wrap(&self.workers, AxisValue::Workers),
            Axis::OpsPerWorker => wrap(&self.ops_per_worker, AxisValue::OpsPerWorker),
            Axis::Connection => wrap(&self.connection, AxisValue::Connection),
            Axis::ConnectionsPerWorker => wrap(
                &self.connections_per_worker,
                AxisValue::ConnectionsPerWorker,
            ),
            Axis::IdleConnections => wrap(&self.idle_connections, AxisValue::IdleConnections),
            Axis::WriteLock => wrap(&self.write_lock, AxisValue::WriteLock),
            Axis::Guard => wrap(&self.guard, AxisValue::Guard),
            Axis::GuardAt => wrap(&self.guard_at, AxisValue::GuardAt),
            Axis::Sqlite => wrap(&self.sqlite, AxisValue::Sqlite),
        }
    }

    /// The axes this matrix varies, in the fixed order.
    pub fn axes(&self) -> Vec<Axis> {
        Axis::ALL
            .into_iter()
            .filter(|&a| !self.values(a).is_empty())
            .collect()
    }
}

fn range_check(axis: Axis, v: u32, lo: u32, hi: u32) -> Result<(), Invalid> {
    if (lo..=hi).contains(&v) {
        Ok(())
    } else {
        Err(Invalid::range(
            format!("matrix.{}", axis.key()),
            format!("[.., {v}, ..]"),
            format!("{lo}..={hi} (as for `{}`)", axis.setting()),
        ))
    }
}

/// Checks the matrix on its own: non-empty, no duplicates, numbers in range.
pub fn validate(m: &Matrix) -> Result<(), Invalid> {
    let axes = m.axes();
    if axes.is_empty() {
        return Err(Invalid::table(
            "matrix",
            format!(
                "lists no axis; allowed axes: {}",
                Axis::ALL.map(Axis::key).join(", ")
            ),
        ));
    }
    for axis in Axis::ALL {
        let vals = m.values(axis);
        for (i, v) in vals.iter().enumerate() {
            if vals[..i].contains(v) {
                return Err(Invalid::field(
                    format!("matrix.{}", axis.key()),
                    format!("lists {} twice", v.display()),
                ));
            }
            match *v {
                AxisValue::Workers(n) => range_check(axis, n, 1, scenario::MAX_WORKERS)?,
                AxisValue::OpsPerWorker(n) => {
                    range_check(axis, n, 1, scenario::MAX_OPS_PER_WORKER)?
                }
                AxisValue::ConnectionsPerWorker(n) => {
                    range_check(axis, n, 1, scenario::MAX_CONNECTIONS_PER_WORKER)?
                }
                AxisValue::IdleConnections(n) => {
                    range_check(axis, n, 0, scenario::MAX_IDLE_CONNECTIONS)?
                }
                AxisValue::Sqlite(v) if v.release().is_none() => {
                    return Err(Invalid::field(
                        "matrix.sqlite",
                        format!(
                            "has \"{v}\", a release walburst does not offer; allowed: {}",
                            crate::scenario::release::offered()
                        ),
                    ));
                }
                _ => {}
            }
        }
    }
    // `field` is the selector's own field (`matrix.exclude[0]`, `matrix.expect[1].when`).
    let mentioned = |field: String, sel: &Selector| -> Result<(), Invalid> {
        for (axis, vals) in sel.conditions() {
            if vals.is_empty() {
                return Err(Invalid::field(
                    format!("{field}.{}", axis.key()),
                    "is an empty list, which matches nothing; give at least one value",
                ));
            }
        }
        Ok(())
    };
    for (i, rule) in m.exclude.iter().enumerate() {
        mentioned(format!("matrix.exclude[{i}]"), rule)?;
        if rule.conditions().is_empty() {
            return Err(Invalid::field(
                format!("matrix.exclude[{i}]"),
                format!(
                    "names no axis and would exclude every case; allowed keys: {}",
                    Axis::ALL.map(Axis::key).join(", ")
                ),
            ));
        }
    }
    for (i, rule) in m.expect.iter().enumerate() {
        mentioned(format!("matrix.expect[{i}].when"), &rule.when)?;
        if !rule.sets_anything() {
            return Err(Invalid::field(
                format!("matrix.expect[{i}]"),
                "sets no expectation; allowed keys: false_corruption, real_corruption, lost_writes, phantom_writes, duplicate_writes, order_violations, lock_overlaps, lockstep_breaches, worker_errors, integrity, sidecar (and `when`, `note`)",
            ));
        }
    }
    Ok(())
}
