//! `[expect]`: what a run must show, including documented outcomes of known bugs.

use serde::{Deserialize, Serialize};

/// What the run must show. Defaults: everything clean.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Expect {
    pub false_corruption: Expectation,
    pub real_corruption: Expectation,
    pub lost_writes: Expectation,
    pub lock_overlaps: Expectation,
    pub worker_errors: Expectation,
    pub integrity: IntegrityExpectation,
    pub sidecar: SidecarExpectation,
}

impl Default for Expect {
    fn default() -> Self {
        Expect {
            false_corruption: Expectation::None,
            real_corruption: Expectation::None,
            lost_writes: Expectation::None,
            lock_overlaps: Expectation::None,
            worker_errors: Expectation::None,
            integrity: IntegrityExpectation::Ok,
            sidecar: SidecarExpectation::Auto,
        }
    }
}

/// How many of something a run may show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Expectation {
    /// Zero, or the run fails.
    None,
    /// At least one, or the run fails: a documented bug that must still show.
    Some,
    /// Not judged.
    Any,
}

impl Expectation {
    pub fn allows(self, count: u64) -> bool {
        match self {
            Expectation::None => count == 0,
            Expectation::Some => count > 0,
            Expectation::Any => true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IntegrityExpectation {
    Ok,
    Damaged,
    Any,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SidecarExpectation {
    /// Required when the strategy takes a global write lock, forbidden otherwise.
    Auto,
    Forbidden,
    Required,
    Any,
}
