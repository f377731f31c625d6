//! Why a comparison cannot start: bad arguments or a scenario that does not load, named by
//! the flag or the scenario it is about. All are refused before anything runs (exit 2).

use crate::scenario::LoadError;

use super::MAX_REPEAT;

#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    /// The scenario (or one strategy's variant of it) does not load.
    #[error(transparent)]
    Scenario(#[from] LoadError),
    /// `--strategies` has an empty entry.
    #[error(
        "--strategies {list:?}: empty strategy name; allowed: a comma-separated list of {allowed}"
    )]
    EmptyStrategy { list: String, allowed: String },
    /// `--strategies` names a preset that does not exist.
    #[error("--strategies: unknown strategy `{name}`; allowed: {allowed}")]
    UnknownStrategy { name: String, allowed: String },
    /// `--strategies` names one preset twice.
    #[error("--strategies: `{name}` is named twice; name each strategy once")]
    StrategyTwice { name: String },
    #[error("--repeat {0} is out of range; allowed: 1..={MAX_REPEAT}")]
    Repeat(u32),
    /// `--workers` names one count twice.
    #[error("--workers: {0} is named twice; name each worker count once")]
    WorkersTwice(u32),
    /// A strategy's scenario cannot be written as the TOML its runs read.
    #[error("cannot write scenario {name} as TOML")]
    Toml {
        name: String,
        #[source]
        error: toml::ser::Error,
    },
}
