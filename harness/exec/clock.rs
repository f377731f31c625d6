//! The clock lives with the observations it stamps (`observe::clock`).

pub use crate::observe::clock::monotonic_ns;
