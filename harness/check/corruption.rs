//! Corruption reports classified: reports on a database verification found healthy are
//! false corruption (the app's guard fired on a healthy WAL database), reports where it found
//! damage are real.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::failure::FailureCategory;
use crate::observe::Observations;

/// How the corruption reports of a run are classified.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Classification {
    /// Healthy, and nobody reported corruption.
    #[default]
    None,
    /// Reports on a healthy database.
    False,
    /// Verification found damage, reported or not.
    Real,
}

/// The `source` of corruption reports that SQLite itself raised.
pub const SQLITE_SOURCE: &str = "sqlite";

/// One corruption report, as the app (or SQLite) raised it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CorruptionExample {
    pub worker: u32,
    pub seq: u32,
    pub op: String,
    /// The guard's name, or `sqlite` for SQLite's own corruption errors.
    pub source: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_pages: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_pages: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deficit: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journal_mode: Option<String>,
}

/// Corruption reports, classified: `false` when verification found the database healthy
/// and every write accounted for, `real` otherwise.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Corruption {
    /// `none` (healthy, nobody reported corruption), `false` (reports on a healthy
    /// database), or `real` (verification found damage, reported or not).
    pub classification: Classification,
    /// What made the run `real`: the categories of damage verification found.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<FailureCategory>,
    pub reports: u64,
    #[serde(rename = "false")]
    pub false_reports: u64,
    pub real: u64,
    pub by_guard: BTreeMap<String, u64>,
    pub examples: Vec<CorruptionExample>,
}

/// How many reports a run's `examples` keep.
pub(super) const MAX_CORRUPTION_EXAMPLES: usize = 5;

pub(super) fn classify(obs: &Observations, damage: Vec<FailureCategory>) -> Corruption {
    let clean = damage.is_empty();
    let mut k = Corruption::default();
    for r in &obs.records {
        let (source, ex) = if let Some(g) = &r.guard {
            (
                g.guard.clone(),
                CorruptionExample {
                    worker: r.worker,
                    seq: r.seq,
                    op: r.kind.name().into(),
                    source: g.guard.clone(),
                    message: g.message.clone(),
                    claimed_pages: Some(g.claimed_pages),
                    file_pages: Some(g.file_pages),
                    deficit: Some(g.deficit),
                    journal_mode: Some(g.journal_mode.clone()),
                },
            )
        } else if let Some(e) = r.error.as_ref().filter(|e| e.is_corruption()) {
            (
                SQLITE_SOURCE.to_string(),
                CorruptionExample {
                    worker: r.worker,
                    seq: r.seq,
                    op: r.kind.name().into(),
                    source: SQLITE_SOURCE.into(),
                    message: format!("{}: {}", e.code, e.message),
                    claimed_pages: None,
                    file_pages: None,
                    deficit: None,
                    journal_mode: None,
                },
            )
        } else {
            continue;
        };
        k.reports += 1;
        *k.by_guard.entry(source).or_default() += 1;
        if k.examples.len() < MAX_CORRUPTION_EXAMPLES {
            k.examples.push(ex);
        }
    }
    if clean {
        k.false_reports = k.reports;
    } else {
        k.real = k.reports;
    }
    k.classification = match (clean, k.reports) {
        (false, _) => Classification::Real,
        (true, 0) => Classification::None,
        (true, _) => Classification::False,
    };
    k.evidence = damage;
    k
}
