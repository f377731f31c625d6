//! `walburst compare`: the same seeded schedule under several lock strategies, side by side.
//!
//! Each strategy is a preset ([`strategies`]) applied to the scenario; the resulting
//! scenario is written to a TOML file in the compare directory, so every run is an ordinary
//! `walburst run` of that file (its report's `reproduce` command names it). Runs are
//! interleaved: repeat 1 runs the strategies in the order given, repeat 2 in reverse, and so
//! on (A B, B A, A B, ...), so slow drift of a shared machine hits every strategy alike and no
//! strategy always goes first. The results are aggregated per (worker count, strategy) into
//! medians, ranges, means and 95 % confidence intervals ([`interval`] judges whether a ratio
//! is more than noise; [`table`] prints them, [`chart`] draws them) and written as JSON.

pub mod chart;
mod error;
mod files;
pub mod interval;
mod model;
pub mod page;
mod prepare;
mod request;
mod run;
mod stats;
pub mod strategies;
pub mod table;

pub use error::CompareError;
pub use interval::Significance;
pub use model::{CompareReport, Group, RunSummary, RunVerdict, StrategyInfo};
pub use prepare::{Prepared, prepare};
pub use request::CompareRequest;
pub use run::{Compared, Output, PageUnwritten, execute, repeat_order};
pub use stats::{RatioSignificance, Ratios, Stat, StrategySummary, summarize};

/// Bumped on any incompatible change to `compare.json`.
pub const COMPARE_VERSION: u32 = 1;
pub const MAX_REPEAT: u32 = 100;
pub const JSON_FILE: &str = "compare.json";
pub const SVG_FILE: &str = "compare.svg";

/// `1 worker`, `20 workers`.
pub fn workers_label(n: u32) -> String {
    if n == 1 {
        "1 worker".into()
    } else {
        format!("{n} workers")
    }
}
