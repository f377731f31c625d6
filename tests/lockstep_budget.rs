//! The lockstep step budget scales with the number of actors (issue 10, item 15): a clean
//! scenario with many actors passes instead of being stopped as a "livelock".

mod common;

use common::run;

/// The shipped smoke scenario at 96 workers x 2 connections, 2 ops each. Actors that wait
/// for a lock another actor holds (here mostly the init flock, polled) are granted retries,
/// so the steps per op grow with the number of actors: this run needs more than the old
/// budget of 256 steps per planned op, which stopped it as a livelock.
#[test]
fn many_actors_pass_within_the_automatic_budget() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(
        dir.path(),
        &[
            "smoke",
            "--workers",
            "96",
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
    let planned = r.u("/totals/planned");
    let steps = r.u("/lockstep/steps");
    // The interleaving is the seed's, so this count is exact, not a timing.
    assert!(
        steps > planned * 256,
        "this run should need more than the old budget ({} steps): {steps} steps",
        planned * 256
    );
}
