//! The lockstep step budget scales with the number of actors (issue 10, item 15): a clean
//! scenario with many actors passes instead of being stopped as a "livelock".

mod common;

use common::{run, scenario_file};

/// 256 actors (16 processes x 16 connections), one op each. Every step of the lock holder
/// competes with every waiting actor, so the run needs about 1.5 steps per op per actor:
/// more than the old budget of 256 steps per op, which stopped it as a livelock.
#[test]
fn many_actors_pass_within_the_automatic_budget() {
    let dir = tempfile::tempdir().unwrap();
    let path = scenario_file(
        dir.path(),
        "many-actors",
        "name = \"many-actors\"\n\
         [sqlite]\nsynchronous = \"off\"\n\
         [workload]\nworkers = 16\nops_per_worker = 16\nconnections_per_worker = 16\n",
    );
    let r = run(
        dir.path(),
        &[path.to_str().unwrap(), "--mode", "lockstep", "--seed", "1"],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.passed(), "{}", r.stdout);
    assert_eq!(r.u("/totals/committed"), 256);
    let steps = r.u("/lockstep/steps");
    // The interleaving is the seed's, so this count is exact, not a timing.
    assert!(
        steps > 256 * 256,
        "this run should need more than the old budget (256 steps per op): {steps} steps"
    );
}
