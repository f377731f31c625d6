//! `[[invariants]]`: the app's own rules about its data, each a query that must return no
//! rows ("no task claimed by two workers"). walburst runs them on a read-only connection
//! after the run (`observe::invariants`, judged by `check`); here they are only refused when obviously wrong.

use serde::{Deserialize, Serialize};

use super::Invalid;

/// More invariants than this is a mistake, not a scenario (each one is a query per run).
pub const MAX_INVARIANTS: usize = 64;
/// An invariant's name reads in a failure message and on the page: one short line.
pub const MAX_INVARIANT_NAME_LEN: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Invariant {
    /// What must hold, in words: the failure names the invariant by it.
    pub name: String,
    /// A query that returns the rows breaking the invariant: none when it holds.
    pub sql: String,
}

/// Names non-empty, one line and unique; every query non-empty.
pub fn validate(invariants: &[Invariant]) -> Result<(), Invalid> {
    if invariants.len() > MAX_INVARIANTS {
        return Err(Invalid::range(
            "invariants",
            format!("{} entries", invariants.len()),
            format!("at most {MAX_INVARIANTS} [[invariants]]"),
        ));
    }
    let mut names = std::collections::BTreeSet::new();
    for (i, inv) in invariants.iter().enumerate() {
        let name = inv.name.trim();
        let bad_name = if name.is_empty() {
            Some("is empty; name what must hold, e.g. \"no task claimed by two workers\"")
        } else if inv.name.len() > MAX_INVARIANT_NAME_LEN || inv.name.chars().any(char::is_control)
        {
            Some("must be one line of at most 200 bytes")
        } else if !names.insert(name) {
            Some("is repeated; each invariant needs its own name")
        } else {
            None
        };
        if let Some(problem) = bad_name {
            return Err(Invalid::field(
                format!("invariants[{i}].name"),
                format!("= {:?} {problem}", inv.name),
            ));
        }
        if inv.sql.trim().trim_end_matches(';').trim().is_empty() {
            return Err(Invalid::field(
                format!("invariants[{i}].sql"),
                "is empty; give a query that returns the rows breaking the invariant (none when it holds)",
            ));
        }
    }
    Ok(())
}
