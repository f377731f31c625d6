//! The lockstep step budget scales with the number of actors (issue 10, item 15): a clean
//! scenario with many actors passes instead of being stopped as a "livelock". And waiters on
//! a held flock cost no steps (issue 15): many actors polling the init lock stay cheap.

mod common;

use common::run;

/// A passing lockstep run of `spec` (seed 1) at `workers` x 2 ops: (planned ops, steps).
fn lockstep_steps(dir: &std::path::Path, spec: &str, workers: &str) -> (u64, u64) {
    let r = run(
        dir,
        &[
            spec,
            "--workers",
            workers,
            "--ops",
            "2",
            "--mode",
            "lockstep",
            "--seed",
            "1",
        ],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.passed(), "{}", r.stdout);
    (r.u("/totals/planned"), r.u("/lockstep/steps"))
}

/// The shipped smoke scenario, but without its init lock, at 96 workers x 2 connections,
/// 2 ops each: every first connect races the schema setup, and the actors turned away with
/// BUSY are granted retries (a BUSY proves nothing about the next attempt, so none is
/// skipped), so the steps per op grow with the number of actors: this run needs more than
/// the old budget of 256 steps per planned op, which stopped it as a livelock. (With the init
/// lock the waiters are flocks on a named lock, skipped while it is held: 4,251 steps.)
#[test]
fn many_actors_pass_within_the_automatic_budget() {
    let dir = tempfile::tempdir().unwrap();
    let smoke = include_str!("../scenarios/smoke.toml");
    let without_init_lock = smoke.replace("init_lock = \"poll\"\n", "init_lock = \"none\"\n");
    assert_ne!(
        smoke, without_init_lock,
        "smoke no longer polls the init lock"
    );
    let scenario = dir.path().join("smoke-no-init-lock.toml");
    std::fs::write(&scenario, without_init_lock).unwrap();
    let (planned, steps) = lockstep_steps(dir.path(), scenario.to_str().unwrap(), "96");
    // The interleaving is the seed's, so this count is exact, not a timing.
    assert!(
        steps > planned * 256,
        "this run should need more than the old budget ({} steps): {steps} steps",
        planned * 256
    );
}

/// Issue 15: 256 workers polling the init lock on their first connect. Every step that could
/// release a lock used to let all waiters try, each turned away (O(n^2) steps): the run met
/// its 120 s deadline at ~170,000 steps. Since a flock turned away or taken proves its lock
/// held, the other waiters on it are skipped until a release: 11,298 steps.
#[test]
fn many_init_lock_waiters_cost_no_steps_while_it_is_held() {
    let dir = tempfile::tempdir().unwrap();
    let (planned, steps) = lockstep_steps(dir.path(), "smoke", "256");
    // Exact for the seed, not a timing; the bound leaves room for unrelated schedule changes.
    assert!(
        steps < planned * 64,
        "{steps} steps for {planned} planned ops: init-lock waiters are granted again"
    );
}
