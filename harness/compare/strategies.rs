//! The named strategy presets of `walburst compare --strategies`: each is a mutation of the
//! scenario's `[strategy]` (and, where the strategy is about connection lifetime, of
//! `[workload] connection`). Everything else of the scenario (SQLite settings, workload,
//! guard, the seed's schedule) stays as written, so the presets differ only in how writers
//! coordinate.

use super::CompareError;
use crate::scenario::{
    Lifecycle, LockScope, LockWait, Scenario, SidecarExpectation, Strategy, WriteLock,
};

/// The interval of `flock-poll`: the field app's first-connect lock polls every 50 ms.
pub const POLL_MS: u32 = 50;

/// Strategies run when `--strategies` is not given.
pub const DEFAULT_STRATEGIES: &str = "wal,flock-tx";

/// One named strategy.
#[derive(Debug, Clone, Copy)]
pub struct Preset {
    pub name: &'static str,
    /// One line for the table legend, the JSON and `--help`.
    pub summary: &'static str,
    /// Holds the global lock around checkpoint ops, so the comparison needs some.
    pub needs_checkpoints: bool,
    apply: fn(&mut Strategy, &mut Lifecycle),
}

fn wal(s: &mut Strategy, _: &mut Lifecycle) {
    s.write_lock = WriteLock::None;
    s.write_lock_wait = LockWait::Blocking;
    s.write_lock_scope = LockScope::Transaction;
    s.lock_checkpoints = false;
}

fn wal_per_op(s: &mut Strategy, c: &mut Lifecycle) {
    wal(s, c);
    *c = Lifecycle::PerOp;
}

fn flock_tx(s: &mut Strategy, _: &mut Lifecycle) {
    s.write_lock = WriteLock::Flock;
    s.write_lock_wait = LockWait::Blocking;
    s.write_lock_scope = LockScope::Transaction;
    s.lock_checkpoints = false;
}

fn flock_conn(s: &mut Strategy, c: &mut Lifecycle) {
    flock_tx(s, c);
    s.write_lock_scope = LockScope::Connection;
    *c = Lifecycle::PerOp;
}

fn flock_poll(s: &mut Strategy, c: &mut Lifecycle) {
    flock_tx(s, c);
    s.write_lock_wait = LockWait::Poll;
    s.write_lock_poll_ms = POLL_MS;
}

fn flock_ckpt(s: &mut Strategy, c: &mut Lifecycle) {
    flock_tx(s, c);
    s.lock_checkpoints = true;
}

/// Every preset, in the order `--help` and error messages list them.
pub const PRESETS: &[Preset] = &[
    Preset {
        name: "wal",
        summary: "no global lock: BEGIN IMMEDIATE + busy_timeout only (the fix)",
        needs_checkpoints: false,
        apply: wal,
    },
    Preset {
        name: "wal-per-op",
        summary: "no global lock, one connection per op (open, write, close): the cost of connecting alone",
        needs_checkpoints: false,
        apply: wal_per_op,
    },
    Preset {
        name: "flock-tx",
        summary: "blocking flock on <db>.lock around each write transaction only",
        needs_checkpoints: false,
        apply: flock_tx,
    },
    Preset {
        name: "flock-conn",
        summary: "blocking flock held from connect to close, one connection per op",
        needs_checkpoints: false,
        apply: flock_conn,
    },
    Preset {
        name: "flock-poll",
        summary: "flock around each transaction, taken by non-blocking attempts every 50 ms",
        needs_checkpoints: false,
        apply: flock_poll,
    },
    Preset {
        name: "flock-ckpt",
        summary: "flock-tx, and the lock also held across checkpoint ops",
        needs_checkpoints: true,
        apply: flock_ckpt,
    },
];

impl Preset {
    /// The scenario under this strategy. `[expect] sidecar` becomes `auto`, so the run
    /// requires `<db>.lock` exactly when the preset takes the lock.
    pub fn apply(&self, scenario: &mut Scenario) {
        (self.apply)(&mut scenario.strategy, &mut scenario.workload.connection);
        scenario.expect.sidecar = SidecarExpectation::Auto;
    }

    pub fn takes_global_lock(&self) -> bool {
        let mut s = Strategy::default();
        let mut c = Lifecycle::Persistent;
        (self.apply)(&mut s, &mut c);
        s.write_lock == WriteLock::Flock
    }
}

pub fn names() -> Vec<&'static str> {
    PRESETS.iter().map(|p| p.name).collect()
}

pub fn find(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.name == name)
}

/// Parses a comma-separated list: known names, no duplicates, at least one.
pub fn parse_list(list: &str) -> Result<Vec<&'static Preset>, CompareError> {
    let allowed = || names().join(", ");
    let mut out: Vec<&'static Preset> = Vec::new();
    for raw in list.split(',') {
        let name = raw.trim();
        if name.is_empty() {
            return Err(CompareError::EmptyStrategy {
                list: list.to_string(),
                allowed: allowed(),
            });
        }
        let Some(p) = find(name) else {
            return Err(CompareError::UnknownStrategy {
                name: name.to_string(),
                allowed: allowed(),
            });
        };
        if out.iter().any(|q| q.name == p.name) {
            return Err(CompareError::StrategyTwice {
                name: name.to_string(),
            });
        }
        out.push(p);
    }
    Ok(out)
}

/// Gives a scenario without checkpoint ops one checkpoint in 20 ops (the other weights
/// scaled by 19, keeping their proportions); returns false when it already had some or the
/// weights would overflow.
pub fn add_checkpoints(scenario: &mut Scenario) -> bool {
    let mix = &mut scenario.workload.mix;
    if mix.checkpoint > 0 {
        return false;
    }
    let sum: u64 = mix.weights().iter().map(|&w| u64::from(w)).sum();
    if sum.saturating_mul(20) > u64::from(u32::MAX) {
        return false;
    }
    for w in [
        &mut mix.create_task,
        &mut mix.claim_task,
        &mut mix.heartbeat,
        &mut mix.add_comment,
        &mut mix.complete_task,
        &mut mix.gc_events,
    ] {
        *w *= 19;
    }
    mix.checkpoint = sum as u32;
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_list_rejects_unknown_and_duplicates() {
        assert_eq!(parse_list("wal,flock-tx").unwrap().len(), 2);
        let e = parse_list("wal,flock").unwrap_err().to_string();
        assert!(e.contains("`flock`") && e.contains("flock-tx"), "{e}");
        assert!(matches!(
            parse_list("wal,wal").unwrap_err(),
            CompareError::StrategyTwice { name } if name == "wal"
        ));
        assert!(matches!(
            parse_list("wal,").unwrap_err(),
            CompareError::EmptyStrategy { .. }
        ));
    }

    #[test]
    fn presets_set_what_they_say() {
        let base = crate::scenario::parse_str(
            "name = \"x\"\n",
            &crate::scenario::ScenarioSource::Embedded("x".into()),
        )
        .unwrap();
        for p in PRESETS {
            let mut s = base.clone();
            p.apply(&mut s);
            assert_eq!(
                s.strategy.write_lock == WriteLock::Flock,
                p.takes_global_lock(),
                "{}",
                p.name
            );
        }
        let mut s = base.clone();
        find("flock-conn").unwrap().apply(&mut s);
        assert_eq!(s.workload.connection, Lifecycle::PerOp);
        assert_eq!(s.strategy.write_lock_scope, LockScope::Connection);
        let mut s = base.clone();
        find("flock-poll").unwrap().apply(&mut s);
        assert_eq!(s.strategy.write_lock_wait, LockWait::Poll);
        assert_eq!(s.strategy.write_lock_poll_ms, POLL_MS);
        let mut s = base.clone();
        assert!(add_checkpoints(&mut s));
        assert_eq!(s.workload.mix.create_task, 19);
        assert_eq!(s.workload.mix.checkpoint, 1);
        assert!(!add_checkpoints(&mut s));
    }
}
