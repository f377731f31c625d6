//! `[[matrix.exclude]]` and `[[matrix.expect]]`: selectors that match cases on axis values,
//! and the `[expect]` overrides a rule applies.

use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::axis::{Axis, AxisValue, wrap};
use crate::scenario::{
    self, Expectation, GuardAt, GuardKind, IntegrityExpectation, JournalMode, Lifecycle, Scenario,
    SidecarExpectation, Synchronous, WriteLock,
};

/// Matches a case on axis values: every key given must match (a single value or a list of
/// allowed values). A key left out matches anything.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Selector {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journal_mode: Option<OneOrMany<JournalMode>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synchronous: Option<OneOrMany<Synchronous>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wal_autocheckpoint: Option<OneOrMany<u32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mmap_size: Option<OneOrMany<u64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workers: Option<OneOrMany<u32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ops_per_worker: Option<OneOrMany<u32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<OneOrMany<Lifecycle>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connections_per_worker: Option<OneOrMany<u32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_connections: Option<OneOrMany<u32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_lock: Option<OneOrMany<WriteLock>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guard: Option<OneOrMany<GuardKind>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guard_at: Option<OneOrMany<GuardAt>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sqlite: Option<OneOrMany<crate::scenario::release::SqliteVersion>>,
}

/// One `[[matrix.expect]]` rule: `when` selects cases, the other keys replace the same keys
/// of their `[expect]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectRule {
    #[serde(default)]
    pub when: Selector,
    /// Why: shown by `walburst list FILE`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub false_corruption: Option<Expectation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub real_corruption: Option<Expectation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lost_writes: Option<Expectation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phantom_writes: Option<Expectation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicate_writes: Option<Expectation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_violations: Option<Expectation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock_overlaps: Option<Expectation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lockstep_breaches: Option<Expectation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_errors: Option<Expectation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integrity: Option<IntegrityExpectation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sidecar: Option<SidecarExpectation>,
}

/// A single value or an array of values.
#[derive(Debug, Clone, PartialEq)]
pub struct OneOrMany<T>(pub Vec<T>);

impl<'de, T: DeserializeOwned> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Through a toml::Value so that the element type's own error (for an enum: the
        // allowed values) reaches the user unchanged.
        match toml::Value::deserialize(d)? {
            toml::Value::Array(items) => items
                .into_iter()
                .map(|v| T::deserialize(v).map_err(D::Error::custom))
                .collect::<Result<Vec<_>, _>>()
                .map(OneOrMany),
            v => T::deserialize(v)
                .map(|x| OneOrMany(vec![x]))
                .map_err(D::Error::custom),
        }
    }
}

impl<T: Serialize> Serialize for OneOrMany<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl Selector {
    /// The allowed values per axis this selector names.
    pub fn conditions(&self) -> Vec<(Axis, Vec<AxisValue>)> {
        fn c<T: Copy>(
            out: &mut Vec<(Axis, Vec<AxisValue>)>,
            axis: Axis,
            v: &Option<OneOrMany<T>>,
            f: fn(T) -> AxisValue,
        ) {
            if let Some(v) = v {
                out.push((axis, wrap(&v.0, f)));
            }
        }
        let mut out = Vec::new();
        c(
            &mut out,
            Axis::JournalMode,
            &self.journal_mode,
            AxisValue::JournalMode,
        );
        c(
            &mut out,
            Axis::Synchronous,
            &self.synchronous,
            AxisValue::Synchronous,
        );
        c(
            &mut out,
            Axis::WalAutocheckpoint,
            &self.wal_autocheckpoint,
            AxisValue::WalAutocheckpoint,
        );
        c(
            &mut out,
            Axis::MmapSize,
            &self.mmap_size,
            AxisValue::MmapSize,
        );
        c(&mut out, Axis::Workers, &self.workers, AxisValue::Workers);
        c(
            &mut out,
            Axis::OpsPerWorker,
            &self.ops_per_worker,
            AxisValue::OpsPerWorker,
        );
        c(
            &mut out,
            Axis::Connection,
            &self.connection,
            AxisValue::Connection,
        );
        c(
            &mut out,
            Axis::ConnectionsPerWorker,
            &self.connections_per_worker,
            AxisValue::ConnectionsPerWorker,
        );
        c(
            &mut out,
            Axis::IdleConnections,
            &self.idle_connections,
            AxisValue::IdleConnections,
        );
        c(
            &mut out,
            Axis::WriteLock,
            &self.write_lock,
            AxisValue::WriteLock,
        );
        c(&mut out, Axis::Guard, &self.guard, AxisValue::Guard);
        c(&mut out, Axis::GuardAt, &self.guard_at, AxisValue::GuardAt);
        c(&mut out, Axis::Sqlite, &self.sqlite, AxisValue::Sqlite);
        out
    }

    /// Whether the scenario's settings match; conditions on `ignore` axes always match.
    pub(super) fn matches(&self, s: &Scenario, ignore: &[Axis]) -> bool {
        self.conditions().iter().all(|(axis, allowed)| {
            ignore.contains(axis) || allowed.contains(&AxisValue::of(*axis, s))
        })
    }

    pub(super) fn describe(&self) -> String {
        let parts: Vec<String> = self
            .conditions()
            .iter()
            .map(|(a, v)| {
                let vals: Vec<String> = v.iter().map(|x| x.display()).collect();
                format!("{}={}", a.key(), vals.join("|"))
            })
            .collect();
        if parts.is_empty() {
            "every case".into()
        } else {
            parts.join(", ")
        }
    }
}

impl ExpectRule {
    pub(super) fn apply(&self, e: &mut scenario::Expect) {
        if let Some(v) = self.false_corruption {
            e.false_corruption = v;
        }
        if let Some(v) = self.real_corruption {
            e.real_corruption = v;
        }
        if let Some(v) = self.lost_writes {
            e.lost_writes = v;
        }
        if let Some(v) = self.phantom_writes {
            e.phantom_writes = v;
        }
        if let Some(v) = self.duplicate_writes {
            e.duplicate_writes = v;
        }
        if let Some(v) = self.order_violations {
            e.order_violations = v;
        }
        if let Some(v) = self.lock_overlaps {
            e.lock_overlaps = v;
        }
        if let Some(v) = self.lockstep_breaches {
            e.lockstep_breaches = v;
        }
        if let Some(v) = self.worker_errors {
            e.worker_errors = v;
        }
        if let Some(v) = self.integrity {
            e.integrity = v;
        }
        if let Some(v) = self.sidecar {
            e.sidecar = v;
        }
    }

    pub(super) fn sets_anything(&self) -> bool {
        self.false_corruption.is_some()
            || self.real_corruption.is_some()
            || self.lost_writes.is_some()
            || self.phantom_writes.is_some()
            || self.duplicate_writes.is_some()
            || self.order_violations.is_some()
            || self.lock_overlaps.is_some()
            || self.lockstep_breaches.is_some()
            || self.worker_errors.is_some()
            || self.integrity.is_some()
            || self.sidecar.is_some()
    }
}

/// The `[expect]` keys of `e` that differ from the defaults, as `key=value` text.
pub fn expect_summary(e: &scenario::Expect) -> String {
    let d = scenario::Expect::default();
    let mut parts = Vec::new();
    let ex = |x: Expectation| match x {
        Expectation::None => "none",
        Expectation::Some => "some",
        Expectation::Any => "any",
    };
    for (k, a, b) in [
        ("false_corruption", e.false_corruption, d.false_corruption),
        ("real_corruption", e.real_corruption, d.real_corruption),
        ("lost_writes", e.lost_writes, d.lost_writes),
        ("phantom_writes", e.phantom_writes, d.phantom_writes),
        ("duplicate_writes", e.duplicate_writes, d.duplicate_writes),
        ("order_violations", e.order_violations, d.order_violations),
        ("lock_overlaps", e.lock_overlaps, d.lock_overlaps),
        (
            "lockstep_breaches",
            e.lockstep_breaches,
            d.lockstep_breaches,
        ),
        ("worker_errors", e.worker_errors, d.worker_errors),
    ] {
        if a != b {
            parts.push(format!("{k}={}", ex(a)));
        }
    }
    if e.integrity != d.integrity {
        parts.push(format!("integrity={:?}", e.integrity).to_lowercase());
    }
    if e.sidecar != d.sidecar {
        parts.push(format!("sidecar={:?}", e.sidecar).to_lowercase());
    }
    parts.join(" ")
}
