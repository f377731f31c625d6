//! The nightly commands' ends as exit codes: `walburst list FILE`, `merge`, `sweep-pair`
//! and `run` as a sweep. The nightly layer says how a command ended ([`Ended`]) or why it
//! could not ([`SweepError`], [`MergeError`]); only here does that become a number.

use super::{EXIT_FAIL, EXIT_INTERRUPTED, EXIT_PASS, EXIT_UNWRITTEN, EXIT_USAGE};
use crate::error::Chain;
use crate::nightly::{Ended, MergeError, SweepError};

pub fn ended(e: Ended) -> i32 {
    match e {
        Ended::Pass => EXIT_PASS,
        Ended::Fail => EXIT_FAIL,
        Ended::Unwritten => EXIT_UNWRITTEN,
        Ended::Interrupted => EXIT_INTERRUPTED,
    }
}

/// A sweep or a sweep pair: bad input exits 2, a machine that failed it 1.
pub fn sweep(r: Result<Ended, SweepError>) -> i32 {
    match r {
        Ok(e) => ended(e),
        Err(e) => {
            errln!("error: {}", Chain(&e));
            if e.is_usage() { EXIT_USAGE } else { EXIT_FAIL }
        }
    }
}

/// `walburst merge`: every error is bad input (nothing was written).
pub fn merge(r: Result<Ended, MergeError>) -> i32 {
    match r {
        Ok(e) => ended(e),
        Err(e) => {
            errln!("error: {}", Chain(&e));
            EXIT_USAGE
        }
    }
}

/// `walburst list FILE`.
pub fn list(spec: &str) -> i32 {
    match crate::nightly::list_cases(spec) {
        Ok(lines) => super::print_out(&lines.join("\n")),
        Err(e) => super::usage_error(e),
    }
}
