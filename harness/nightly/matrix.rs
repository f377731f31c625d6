//! `[matrix]`: a scenario's axes expanded into named cases.
//!
//! A matrix lists values for some axes (each axis is one scenario setting). Expansion takes
//! the cross product in a fixed axis order, drops combinations matched by
//! `[[matrix.exclude]]`, folds combinations that cannot differ (an autocheckpoint value
//! outside WAL, a `guard_at` without a guard) into one case, and applies the
//! `[[matrix.expect]]` rules to each case's `[expect]`. Case names are
//! `<scenario>/<part>-<part>-...`, one part per listed axis in the fixed order below, so
//! they do not change when the file's keys are reordered. Format: `NIGHTLY.md`.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::scenario::{
    self, Expectation, GuardAt, GuardKind, IntegrityExpectation, JournalMode, Lifecycle, Scenario,
    SidecarExpectation, Synchronous, WriteLock,
};

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
    /// Combinations to leave out: a combination is dropped when every key of a rule matches.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<Selector>,
    /// Per-case `[expect]` overrides, applied in file order (later rules win).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expect: Vec<ExpectRule>,
}

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
    pub lock_overlaps: Option<Expectation>,
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

/// The axes, in the fixed order used for expansion and for case names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Axis {
    JournalMode,
    Synchronous,
    WalAutocheckpoint,
    Workers,
    OpsPerWorker,
    Connection,
    ConnectionsPerWorker,
    IdleConnections,
    WriteLock,
    Guard,
    GuardAt,
}

impl Axis {
    pub const ALL: [Axis; 11] = [
        Axis::JournalMode,
        Axis::Synchronous,
        Axis::WalAutocheckpoint,
        Axis::Workers,
        Axis::OpsPerWorker,
        Axis::Connection,
        Axis::ConnectionsPerWorker,
        Axis::IdleConnections,
        Axis::WriteLock,
        Axis::Guard,
        Axis::GuardAt,
    ];

    /// The key in `[matrix]` (and in `when`/`exclude` tables).
    pub fn key(self) -> &'static str {
        match self {
            Axis::JournalMode => "journal_mode",
            Axis::Synchronous => "synchronous",
            Axis::WalAutocheckpoint => "wal_autocheckpoint",
            Axis::Workers => "workers",
            Axis::OpsPerWorker => "ops_per_worker",
            Axis::Connection => "connection",
            Axis::ConnectionsPerWorker => "connections_per_worker",
            Axis::IdleConnections => "idle_connections",
            Axis::WriteLock => "write_lock",
            Axis::Guard => "guard",
            Axis::GuardAt => "guard_at",
        }
    }

    /// The scenario setting the axis replaces.
    pub fn setting(self) -> &'static str {
        match self {
            Axis::JournalMode => "sqlite.journal_mode",
            Axis::Synchronous => "sqlite.synchronous",
            Axis::WalAutocheckpoint => "sqlite.wal_autocheckpoint",
            Axis::Workers => "workload.workers",
            Axis::OpsPerWorker => "workload.ops_per_worker",
            Axis::Connection => "workload.connection",
            Axis::ConnectionsPerWorker => "workload.connections_per_worker",
            Axis::IdleConnections => "workload.idle_connections",
            Axis::WriteLock => "strategy.write_lock",
            Axis::Guard => "guard",
            Axis::GuardAt => "guard_at",
        }
    }
}

/// One value of one axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AxisValue {
    JournalMode(JournalMode),
    Synchronous(Synchronous),
    WalAutocheckpoint(u32),
    Workers(u32),
    OpsPerWorker(u32),
    Connection(Lifecycle),
    ConnectionsPerWorker(u32),
    IdleConnections(u32),
    WriteLock(WriteLock),
    Guard(GuardKind),
    GuardAt(GuardAt),
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
            AxisValue::Workers(_) => Axis::Workers,
            AxisValue::OpsPerWorker(_) => Axis::OpsPerWorker,
            AxisValue::Connection(_) => Axis::Connection,
            AxisValue::ConnectionsPerWorker(_) => Axis::ConnectionsPerWorker,
            AxisValue::IdleConnections(_) => Axis::IdleConnections,
            AxisValue::WriteLock(_) => Axis::WriteLock,
            AxisValue::Guard(_) => Axis::Guard,
            AxisValue::GuardAt(_) => Axis::GuardAt,
        }
    }

    /// This value's part of a case name: short, lowercase, unique across axes.
    pub fn name_part(self) -> String {
        match self {
            AxisValue::JournalMode(j) => j.as_sql().to_string(),
            AxisValue::Synchronous(s) => s.as_sql().to_string(),
            AxisValue::WalAutocheckpoint(n) => format!("ac{n}"),
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
            AxisValue::Connection(l) => lifecycle_name(l).into(),
            AxisValue::WriteLock(w) => write_lock_name(w).into(),
            AxisValue::Guard(g) => g.name().into(),
            AxisValue::GuardAt(g) => guard_at_name(g).into(),
        }
    }

    fn apply(self, s: &mut Scenario) {
        match self {
            AxisValue::JournalMode(v) => s.sqlite.journal_mode = v,
            AxisValue::Synchronous(v) => s.sqlite.synchronous = v,
            AxisValue::WalAutocheckpoint(v) => s.sqlite.wal_autocheckpoint = v,
            AxisValue::Workers(v) => s.workload.workers = v,
            AxisValue::OpsPerWorker(v) => s.workload.ops_per_worker = v,
            AxisValue::Connection(v) => s.workload.connection = v,
            AxisValue::ConnectionsPerWorker(v) => s.workload.connections_per_worker = v,
            AxisValue::IdleConnections(v) => s.workload.idle_connections = v,
            AxisValue::WriteLock(v) => s.strategy.write_lock = v,
            AxisValue::Guard(v) => s.guard = v,
            AxisValue::GuardAt(v) => s.guard_at = v,
        }
    }

    /// The scenario's current value on `axis`.
    pub fn of(axis: Axis, s: &Scenario) -> AxisValue {
        match axis {
            Axis::JournalMode => AxisValue::JournalMode(s.sqlite.journal_mode),
            Axis::Synchronous => AxisValue::Synchronous(s.sqlite.synchronous),
            Axis::WalAutocheckpoint => AxisValue::WalAutocheckpoint(s.sqlite.wal_autocheckpoint),
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
        }
    }
}

impl fmt::Display for AxisValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.axis().key(), self.display())
    }
}

fn wrap<T: Copy>(v: &[T], f: fn(T) -> AxisValue) -> Vec<AxisValue> {
    v.iter().map(|&x| f(x)).collect()
}

impl Matrix {
    /// The listed values of `axis` (empty when the matrix does not vary it).
    pub fn values(&self, axis: Axis) -> Vec<AxisValue> {
        match axis {
            Axis::JournalMode => wrap(&self.journal_mode, AxisValue::JournalMode),
            Axis::Synchronous => wrap(&self.synchronous, AxisValue::Synchronous),
            Axis::WalAutocheckpoint => wrap(&self.wal_autocheckpoint, AxisValue::WalAutocheckpoint),
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
        out
    }

    /// Whether the scenario's settings match; conditions on `ignore` axes always match.
    fn matches(&self, s: &Scenario, ignore: &[Axis]) -> bool {
        self.conditions().iter().all(|(axis, allowed)| {
            ignore.contains(axis) || allowed.contains(&AxisValue::of(*axis, s))
        })
    }

    fn describe(&self) -> String {
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
    fn apply(&self, e: &mut scenario::Expect) {
        if let Some(v) = self.false_corruption {
            e.false_corruption = v;
        }
        if let Some(v) = self.real_corruption {
            e.real_corruption = v;
        }
        if let Some(v) = self.lost_writes {
            e.lost_writes = v;
        }
        if let Some(v) = self.lock_overlaps {
            e.lock_overlaps = v;
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

    fn sets_anything(&self) -> bool {
        self.false_corruption.is_some()
            || self.real_corruption.is_some()
            || self.lost_writes.is_some()
            || self.lock_overlaps.is_some()
            || self.worker_errors.is_some()
            || self.integrity.is_some()
            || self.sidecar.is_some()
    }
}

/// One expanded case: a complete scenario (no matrix) with its name.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// `<scenario>/<parts>`; the scenario's own name when it has no matrix.
    pub name: String,
    /// The part after `<scenario>/` (empty without a matrix): what `FILE#CASE` names.
    pub suffix: String,
    pub scenario: Scenario,
    /// The axis values that make this case, in axis order (folded axes included).
    pub values: Vec<AxisValue>,
    /// Axes that cannot matter for this case and were folded, with the values folded in.
    pub folded: Vec<(Axis, Vec<AxisValue>)>,
    /// Indices (1-based) of the `[[matrix.expect]]` rules that apply.
    pub rules: Vec<usize>,
}

/// What expansion did, for `walburst list FILE`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Expansion {
    pub cases: Vec<Case>,
    /// Every combination of the listed values.
    pub combinations: usize,
    pub excluded: usize,
    pub folded: usize,
}

/// Axes whose value cannot change what this scenario does.
pub fn inert_axes(s: &Scenario) -> Vec<Axis> {
    let mut out = Vec::new();
    if s.sqlite.journal_mode != JournalMode::Wal {
        out.push(Axis::WalAutocheckpoint);
    }
    if s.guard == GuardKind::None {
        out.push(Axis::GuardAt);
    }
    out
}

fn range_check(axis: Axis, v: u32, lo: u32, hi: u32) -> Result<(), String> {
    if (lo..=hi).contains(&v) {
        Ok(())
    } else {
        Err(format!(
            "field `matrix.{}` has {v}, out of range; allowed: {lo}..={hi} (as for `{}`)",
            axis.key(),
            axis.setting()
        ))
    }
}

/// Checks the matrix on its own: non-empty, no duplicates, numbers in range.
pub fn validate(m: &Matrix) -> Result<(), String> {
    let axes = m.axes();
    if axes.is_empty() {
        return Err(format!(
            "table `matrix` lists no axis; allowed axes: {}",
            Axis::ALL.map(Axis::key).join(", ")
        ));
    }
    for axis in Axis::ALL {
        let vals = m.values(axis);
        for (i, v) in vals.iter().enumerate() {
            if vals[..i].contains(v) {
                return Err(format!(
                    "field `matrix.{}` lists {} twice",
                    axis.key(),
                    v.display()
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
                _ => {}
            }
        }
    }
    let mentioned = |sel: &Selector| -> Result<(), String> {
        for (axis, vals) in sel.conditions() {
            if vals.is_empty() {
                return Err(format!(
                    "an empty list for `{}` matches nothing; give at least one value",
                    axis.key()
                ));
            }
        }
        Ok(())
    };
    for (i, rule) in m.exclude.iter().enumerate() {
        mentioned(rule).map_err(|e| format!("`matrix.exclude[{i}]`: {e}"))?;
        if rule.conditions().is_empty() {
            return Err(format!(
                "`matrix.exclude[{i}]` names no axis and would exclude every case; allowed keys: {}",
                Axis::ALL.map(Axis::key).join(", ")
            ));
        }
    }
    for (i, rule) in m.expect.iter().enumerate() {
        mentioned(&rule.when).map_err(|e| format!("`matrix.expect[{i}].when`: {e}"))?;
        if !rule.sets_anything() {
            return Err(format!(
                "`matrix.expect[{i}]` sets no expectation; allowed keys: false_corruption, real_corruption, lost_writes, lock_overlaps, worker_errors, integrity, sidecar (and `when`, `note`)"
            ));
        }
    }
    Ok(())
}

/// Expands `base` into its cases. A scenario without a matrix is one case under its own
/// name. Errors are messages for the user (the caller adds the file name).
pub fn expand(base: &Scenario) -> Result<Expansion, String> {
    let Some(m) = &base.matrix else {
        let mut s = base.clone();
        s.matrix = None;
        return Ok(Expansion {
            cases: vec![Case {
                name: base.name.clone(),
                suffix: String::new(),
                scenario: s,
                values: Vec::new(),
                folded: Vec::new(),
                rules: Vec::new(),
            }],
            combinations: 1,
            excluded: 0,
            folded: 0,
        });
    };
    validate(m)?;
    let axes = m.axes();
    let lists: Vec<Vec<AxisValue>> = axes.iter().map(|&a| m.values(a)).collect();
    let combinations: usize = lists.iter().map(Vec::len).product();
    let mut template = base.clone();
    template.matrix = None;

    let mut exclude_hits = vec![0usize; m.exclude.len()];
    let mut cases: Vec<Case> = Vec::new();
    let mut by_name: BTreeMap<String, usize> = BTreeMap::new();
    let (mut excluded, mut folded) = (0, 0);
    let mut idx = vec![0usize; axes.len()];
    for _ in 0..combinations {
        let values: Vec<AxisValue> = idx.iter().zip(&lists).map(|(&i, l)| l[i]).collect();
        // Odometer: the last axis varies fastest.
        for k in (0..idx.len()).rev() {
            idx[k] += 1;
            if idx[k] < lists[k].len() {
                break;
            }
            idx[k] = 0;
        }
        let mut s = template.clone();
        for v in &values {
            v.apply(&mut s);
        }
        let hits: Vec<usize> = m
            .exclude
            .iter()
            .enumerate()
            .filter(|(_, r)| r.matches(&s, &[]))
            .map(|(i, _)| i)
            .collect();
        if !hits.is_empty() {
            for i in hits {
                exclude_hits[i] += 1;
            }
            excluded += 1;
            continue;
        }
        let inert = inert_axes(&s);
        let parts: Vec<String> = values
            .iter()
            .filter(|v| !inert.contains(&v.axis()))
            .map(|v| v.name_part())
            .collect();
        let key = parts.join("-");
        if let Some(&i) = by_name.get(&key) {
            folded += 1;
            let case = &mut cases[i];
            for v in values.iter().filter(|v| inert.contains(&v.axis())) {
                if let Some((_, vals)) = case.folded.iter_mut().find(|(a, _)| *a == v.axis())
                    && !vals.contains(v)
                {
                    vals.push(*v);
                }
            }
            continue;
        }
        // Every listed axis folded away (say, only autocheckpoint values in DELETE mode):
        // the one case is still named by its values.
        let suffix = if key.is_empty() {
            values
                .iter()
                .map(|v| v.name_part())
                .collect::<Vec<_>>()
                .join("-")
        } else {
            key.clone()
        };
        let name = format!("{}/{suffix}", base.name);
        s.name = name.clone();
        let folded_axes = values
            .iter()
            .filter(|v| inert.contains(&v.axis()))
            .map(|v| (v.axis(), vec![*v]))
            .collect();
        by_name.insert(key, cases.len());
        cases.push(Case {
            name,
            suffix,
            scenario: s,
            values,
            folded: folded_axes,
            rules: Vec::new(),
        });
    }
    for (i, hits) in exclude_hits.iter().enumerate() {
        if *hits == 0 {
            return Err(format!(
                "`matrix.exclude[{i}]` ({}) matches no combination; remove it or fix its values",
                m.exclude[i].describe()
            ));
        }
    }
    if cases.is_empty() {
        return Err("`matrix.exclude` leaves no case to run".into());
    }
    let mut rule_hits = vec![0usize; m.expect.len()];
    for case in &mut cases {
        // A condition on a folded axis holds: its value cannot matter for this case.
        let folded_axes: Vec<Axis> = case.folded.iter().map(|(a, _)| *a).collect();
        for (i, rule) in m.expect.iter().enumerate() {
            if rule.when.matches(&case.scenario, &folded_axes) {
                rule.apply(&mut case.scenario.expect);
                case.rules.push(i + 1);
                rule_hits[i] += 1;
            }
        }
    }
    for (i, hits) in rule_hits.iter().enumerate() {
        if *hits == 0 {
            return Err(format!(
                "`matrix.expect[{i}]` (when {}) matches no case; remove it or fix its values",
                m.expect[i].when.describe()
            ));
        }
    }
    for case in &cases {
        let s = &case.scenario;
        if s.total_ops() > scenario::MAX_TOTAL_OPS {
            return Err(format!(
                "case {}: workers x ops_per_worker = {} exceeds the limit of {} ops per run",
                case.name,
                s.total_ops(),
                scenario::MAX_TOTAL_OPS
            ));
        }
    }
    Ok(Expansion {
        cases,
        combinations,
        excluded,
        folded,
    })
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
        ("lock_overlaps", e.lock_overlaps, d.lock_overlaps),
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
