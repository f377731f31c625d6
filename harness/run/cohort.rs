//! Starting the workers of `[[sqlite.cohort]]`s (`scenario::cohort`) on their own releases.

use std::collections::BTreeMap;

use crate::releases::prepare::{self, PrepareError, PrepareProgress};
use crate::releases::{cache, worker_env};
use crate::scenario::{CohortCommand, Scenario};
use crate::worker::origin::EXPECT_ENV;
use crate::worker::sqlite;

/// How each cohort's workers start, preparing every release a cohort needs first (before
/// any file of the run exists). A built-in worker on the release this process runs needs
/// nothing; on another it is that release's prepared walburst, held to it by
/// `WALBURST_SQLITE_EXPECT` (also over a delegated run's own). An external worker always
/// loads the prepared library of its cohort's release (its own SQLite is none of them).
pub fn commands(
    s: &Scenario,
    progress: &mut dyn FnMut(PrepareProgress<'_>),
) -> Result<BTreeMap<u32, CohortCommand>, PrepareError> {
    let mut out = BTreeMap::new();
    for c in &s.sqlite.cohort {
        let v = c.version;
        let k = if s.worker.is_some() {
            let env = worker_env::worker_env(v, progress)?
                .into_iter()
                .map(|(k, val)| (k, val.to_string_lossy().into_owned()))
                .collect();
            CohortCommand {
                program: None,
                env,
                expect_sqlite: v.to_string(),
            }
        } else if v.to_string() == sqlite::sqlite_version() {
            continue;
        } else {
            prepare::ensure(v, progress)?;
            CohortCommand {
                program: Some(cache::binary(v)),
                env: BTreeMap::from([(EXPECT_ENV.to_string(), v.to_string())]),
                expect_sqlite: v.to_string(),
            }
        };
        for w in &c.workers {
            out.insert(*w, k.clone());
        }
    }
    Ok(out)
}
