//! `[[sqlite.cohort]]`: workers of one run on different SQLite releases, as real deployments
//! mix drivers on one file (an old CLI beside a new service, two Python interpreters).
//!
//! ```toml
//! [[sqlite.cohort]]
//! workers = [2, 3]
//! version = "3.53.2"
//! ```
//!
//! The listed workers run `version`; every other worker runs the run's own release
//! (`[sqlite] version`, else the bundled one), which also sets up and verifies the database.
//! A built-in worker of a cohort is the prepared walburst binary of its release; an external
//! worker loads that release's prepared library. Each worker's hello must name its own
//! cohort's release, or the run fails by name before the barrier opens.

use serde::{Deserialize, Serialize};

use super::invalid::Invalid;
use super::release::{self, SqliteVersion};
use super::{Scenario, SqliteConfig};

/// Some workers of the run, on one release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cohort {
    /// Worker indices (`0..workload.workers`), each in at most one cohort.
    pub workers: Vec<u32>,
    /// The release these workers run (`walburst sqlite list`).
    pub version: SqliteVersion,
}

impl SqliteConfig {
    /// The release a cohort puts worker `w` on; `None`: the run's own.
    pub fn cohort_release(&self, w: u32) -> Option<SqliteVersion> {
        self.cohort
            .iter()
            .find(|c| c.workers.contains(&w))
            .map(|c| c.version)
    }

    /// ` cohorts=2,3@3.53.2` for the SEED line, or nothing.
    pub(super) fn cohort_setting(&self) -> String {
        if self.cohort.is_empty() {
            return String::new();
        }
        let each: Vec<String> = self
            .cohort
            .iter()
            .map(|c| {
                let ws: Vec<String> = c.workers.iter().map(u32::to_string).collect();
                format!("{}@{}", ws.join(","), c.version)
            })
            .collect();
        format!(" cohorts={}", each.join(";"))
    }
}

/// Every cohort names an offered release and workers that exist, none twice.
pub(super) fn validate(s: &Scenario) -> Result<(), Invalid> {
    let n = s.workload.workers;
    let mut seen = std::collections::BTreeSet::new();
    for (i, c) in s.sqlite.cohort.iter().enumerate() {
        let field = |name: &str| format!("sqlite.cohort[{i}].{name}");
        if c.version.release().is_none() {
            return Err(Invalid::field(
                field("version"),
                format!(
                    "= \"{}\" is not offered; allowed: {}",
                    c.version,
                    release::offered()
                ),
            ));
        }
        if c.workers.is_empty() {
            return Err(Invalid::field(
                field("workers"),
                format!("is empty; allowed: worker indices 0..{n}"),
            ));
        }
        for &w in &c.workers {
            if w >= n {
                return Err(Invalid::range(
                    field("workers"),
                    w,
                    format!("worker indices 0..{n} (workload.workers = {n})"),
                ));
            }
            if !seen.insert(w) {
                return Err(Invalid::field(
                    field("workers"),
                    format!(
                        "lists worker {w}, which an earlier cohort (or this one) already lists; allowed: each worker in at most one cohort"
                    ),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(cohorts: &str) -> Result<Scenario, String> {
        let text = format!("name = \"c\"\n[workload]\nworkers = 4\nops_per_worker = 2\n{cohorts}");
        let s: Scenario = toml::from_str(&text).map_err(|e| e.to_string())?;
        validate(&s).map_err(|e| e.to_string())?;
        Ok(s)
    }

    #[test]
    fn listed_workers_run_their_cohorts_release_and_the_rest_the_runs() {
        let s = with(
            "[[sqlite.cohort]]\nworkers = [2, 3]\nversion = \"3.53.2\"\n\
             [[sqlite.cohort]]\nworkers = [0]\nversion = \"3.49.2\"\n",
        )
        .unwrap();
        let r = |w| s.sqlite.cohort_release(w).map(|v| v.to_string());
        assert_eq!(r(0).as_deref(), Some("3.49.2"));
        assert_eq!(r(1), None);
        assert_eq!(r(2).as_deref(), Some("3.53.2"));
        assert_eq!(r(3).as_deref(), Some("3.53.2"));
        assert_eq!(s.sqlite.cohort_setting(), " cohorts=2,3@3.53.2;0@3.49.2");
        assert_eq!(with("").unwrap().sqlite.cohort_setting(), "");
    }

    #[test]
    fn a_cohort_is_refused_naming_the_field_and_what_is_allowed() {
        let e = with("[[sqlite.cohort]]\nworkers = [4]\nversion = \"3.53.2\"\n").unwrap_err();
        assert!(
            e.contains("sqlite.cohort[0].workers") && e.contains("0..4"),
            "{e}"
        );
        let e = with("[[sqlite.cohort]]\nworkers = []\nversion = \"3.53.2\"\n").unwrap_err();
        assert!(
            e.contains("sqlite.cohort[0].workers") && e.contains("empty"),
            "{e}"
        );
        let e = with(
            "[[sqlite.cohort]]\nworkers = [1]\nversion = \"3.53.2\"\n\
             [[sqlite.cohort]]\nworkers = [1]\nversion = \"3.49.2\"\n",
        )
        .unwrap_err();
        assert!(
            e.contains("sqlite.cohort[1].workers") && e.contains("worker 1"),
            "{e}"
        );
        let e = with("[[sqlite.cohort]]\nworkers = [1]\nversion = \"3.47.0\"\n").unwrap_err();
        assert!(
            e.contains("sqlite.cohort[0].version") && e.contains("3.53.2"),
            "{e}"
        );
        let e = with("[[sqlite.cohort]]\nworkers = [1]\nversion = \"3.53.2\"\nrelease = 1\n")
            .unwrap_err();
        assert!(e.contains("unknown field"), "{e}");
    }
}
