//! `[ledger]`: where an app with its own schema keeps the (worker, seq) identities of its
//! writes (PROTOCOL.md, "App-defined ledger"). walburst still judges lost, phantom,
//! duplicate and ambiguous writes itself from the acknowledged records.

use serde::{Deserialize, Serialize};

use super::Invalid;

/// The op kinds a scenario may name (those of `[workload.mix]`).
pub const OP_KIND_NAMES: [&str; 7] = [
    "create_task",
    "claim_task",
    "heartbeat",
    "add_comment",
    "complete_task",
    "gc_events",
    "checkpoint",
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerTable {
    /// SQL returning one row `(worker, seq)` per op whose effects are present.
    pub present: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rows: Vec<RowCheck>,
}

/// Every committed op of `kinds` must be listed by `query` exactly once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RowCheck {
    pub name: String,
    pub query: String,
    /// Op kinds (`create_task`, ...); empty: every write kind.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kinds: Vec<String>,
}

impl LedgerTable {
    pub fn validate(&self) -> Result<(), Invalid> {
        if self.present.trim().is_empty() {
            return Err(Invalid::field(
                "ledger.present",
                "is empty; give the SQL that lists the (worker, seq) of every write present, e.g. \"SELECT worker, seq FROM jobs\"",
            ));
        }
        let mut names = std::collections::BTreeSet::new();
        for (i, r) in self.rows.iter().enumerate() {
            if r.name.trim().is_empty() || !names.insert(r.name.as_str()) {
                return Err(Invalid::field(
                    format!("ledger.rows[{i}].name"),
                    format!(
                        "= {:?} is empty or repeated; each row check needs its own name",
                        r.name
                    ),
                ));
            }
            if r.query.trim().is_empty() {
                return Err(Invalid::field(
                    format!("ledger.rows[{i}].query"),
                    "is empty",
                ));
            }
            if let Some(k) = r
                .kinds
                .iter()
                .find(|k| !OP_KIND_NAMES.contains(&k.as_str()))
            {
                return Err(Invalid::field(
                    format!("ledger.rows[{i}].kinds"),
                    format!("has {k:?}; allowed: {}", OP_KIND_NAMES.join(", ")),
                ));
            }
        }
        Ok(())
    }
}
