//! Property tests of the pure plan stage: (scenario, seed) -> schedules.
//!
//! Scenarios are built from a minimal TOML text (so every default comes from the real
//! parser) and then mutated within the ranges validation allows.

use std::collections::HashSet;

use proptest::prelude::*;
use walburst::plan::{self, OpKind, PLAN_FORMAT, Plan};
use walburst::scenario::{self, OpMix, Overrides, Scenario, ScenarioSource};

/// The shipped `smoke` scenario's schedule_hash at seed 1.
///
/// Changing the plan algorithm (op drawing, payload or think-time draws, stream derivation,
/// the hashed JSON shape) MUST bump `walburst::plan::PLAN_FORMAT` and update this golden
/// value deliberately, in the same change. Changing `scenarios/smoke.toml` also changes it.
const SMOKE_SEED1_SCHEDULE_HASH: &str =
    "sha256:7745d4adde1fb950553c0f612eac0b59bafbb96c9e2f73a5cd8a9a086475bc17";
/// The plan format the golden value above was computed with.
const GOLDEN_PLAN_FORMAT: &str = "walburst-plan/1";

fn base() -> Scenario {
    scenario::parse_str("name = \"p\"\n", &ScenarioSource::Embedded("x".into()))
        .expect("a scenario with only a name is valid")
}

/// Knobs of a generated scenario, all within the ranges `validate` accepts.
#[derive(Debug, Clone)]
struct Knobs {
    workers: u32,
    ops_per_worker: u32,
    weights: [u32; 7],
    payload_bytes: [u32; 2],
    think_time_us: [u32; 2],
    connections_per_worker: u32,
}

fn scenario_from(k: &Knobs) -> Scenario {
    let mut s = base();
    let w = &mut s.workload;
    w.workers = k.workers;
    w.ops_per_worker = k.ops_per_worker;
    w.mix = mix_from(k.weights);
    w.payload_bytes = k.payload_bytes;
    w.think_time_us = k.think_time_us;
    w.connections_per_worker = k.connections_per_worker;
    s
}

fn mix_from(w: [u32; 7]) -> OpMix {
    let mix = OpMix {
        create_task: w[0],
        claim_task: w[1],
        heartbeat: w[2],
        add_comment: w[3],
        complete_task: w[4],
        gc_events: w[5],
        checkpoint: w[6],
    };
    assert_eq!(mix.weights(), w, "OpMix::weights order changed");
    mix
}

/// Weights with at least one positive entry (validation rejects all-zero mixes).
fn weights() -> impl Strategy<Value = [u32; 7]> {
    (prop::array::uniform7(0u32..=5), 0usize..7).prop_map(|(mut w, i)| {
        if w.iter().all(|&x| x == 0) {
            w[i] = 1;
        }
        w
    })
}

fn range(lo: u32, hi: u32, max_width: u32) -> impl Strategy<Value = [u32; 2]> {
    (lo..=hi, 0..=max_width).prop_map(|(min, width)| [min, min + width])
}

prop_compose! {
    fn knobs()(
        workers in 1u32..=6,
        ops_per_worker in 1u32..=60,
        weights in weights(),
        payload_bytes in range(1, 5_000, 600),
        think_time_us in range(0, 10_000, 2_000),
        connections_per_worker in 1u32..=4,
    ) -> Knobs {
        Knobs { workers, ops_per_worker, weights, payload_bytes, think_time_us, connections_per_worker }
    }
}

prop_compose! {
    /// Plans where a second seed is all but certain to draw a different schedule:
    /// at least 8 ops in total and a payload range of width >= 2.
    fn nontrivial_knobs()(
        k in knobs(),
        ops_per_worker in 8u32..=60,
        min in 1u32..=5_000,
        width in 1u32..=600,
    ) -> Knobs {
        Knobs { ops_per_worker, payload_bytes: [min, min + width], ..k }
    }
}

fn json(plan: &Plan) -> Vec<u8> {
    serde_json::to_vec(plan).expect("plan serializes")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// (a) The same scenario and seed give a byte-identical plan and the same hash.
    #[test]
    fn same_seed_same_plan(k in knobs(), seed in any::<u64>()) {
        let s = scenario_from(&k);
        let a = plan::build(&s, seed);
        let b = plan::build(&s.clone(), seed);
        prop_assert_eq!(json(&a), json(&b));
        prop_assert_eq!(&a.schedule_hash, &b.schedule_hash);
        prop_assert_eq!(&a.schedule_hash, &plan::schedule_hash(seed, &a.workers));
        prop_assert!(a.schedule_hash.starts_with("sha256:"));
        prop_assert_eq!(a.schedule_hash.len(), "sha256:".len() + 64);
        prop_assert_eq!(a.format.as_str(), PLAN_FORMAT);
        prop_assert_eq!(a.scenario.as_str(), "p");
        prop_assert_eq!(a.seed, seed);
    }

    /// (b) Different seeds give different hashes on non-trivial plans.
    #[test]
    fn different_seed_different_hash(k in nontrivial_knobs(), seed in any::<u64>(), delta in 1u64..=u64::MAX) {
        let s = scenario_from(&k);
        let other = seed.wrapping_add(delta);
        let a = plan::build(&s, seed);
        let b = plan::build(&s, other);
        prop_assert_ne!(&a.schedule_hash, &b.schedule_hash);
    }

    /// (b') Beyond the hash (which includes the seed), the schedules themselves differ when
    /// there is plenty of entropy: >= 32 payload draws from a range of >= 256 values
    /// (a collision chance below 2^-256).
    #[test]
    fn different_seed_different_schedule(
        k in knobs(),
        ops_per_worker in 32u32..=60,
        min in 1u32..=1_000,
        width in 255u32..=4_000,
        seed in any::<u64>(),
        delta in 1u64..=u64::MAX,
    ) {
        let k = Knobs { ops_per_worker, payload_bytes: [min, min + width], ..k };
        let s = scenario_from(&k);
        let a = plan::build(&s, seed);
        let b = plan::build(&s, seed.wrapping_add(delta));
        prop_assert_ne!(a.workers, b.workers);
    }

    /// (c) Counts, sequence numbers, actors and ranges are honoured.
    #[test]
    fn counts_and_ranges_honoured(k in knobs(), seed in any::<u64>()) {
        let s = scenario_from(&k);
        let p = plan::build(&s, seed);
        prop_assert_eq!(p.workers.len(), k.workers as usize);
        for (w, wp) in p.workers.iter().enumerate() {
            prop_assert_eq!(wp.worker as usize, w);
            prop_assert_eq!(wp.ops.len(), k.ops_per_worker as usize);
            for (i, op) in wp.ops.iter().enumerate() {
                prop_assert_eq!(op.seq as usize, i);
                prop_assert_eq!(op.actor, op.seq % k.connections_per_worker);
                prop_assert!(
                    (k.payload_bytes[0]..=k.payload_bytes[1]).contains(&op.payload_len),
                    "payload_len {} outside {:?}", op.payload_len, k.payload_bytes
                );
                prop_assert!(
                    (k.think_time_us[0]..=k.think_time_us[1]).contains(&op.think_us),
                    "think_us {} outside {:?}", op.think_us, k.think_time_us
                );
            }
            // actor_ops partitions the schedule, each actor's share in seq order.
            let mut seen = 0usize;
            for actor in 0..k.connections_per_worker {
                let seqs: Vec<u32> = wp.actor_ops(actor).map(|op| op.seq).collect();
                prop_assert!(seqs.windows(2).all(|x| x[0] < x[1]));
                prop_assert!(seqs.iter().all(|&q| q % k.connections_per_worker == actor));
                seen += seqs.len();
            }
            prop_assert_eq!(seen, wp.ops.len());
        }
    }

    /// (d) An op kind with weight 0 never appears.
    #[test]
    fn zero_weight_kinds_never_drawn(k in knobs(), seed in any::<u64>()) {
        let s = scenario_from(&k);
        let p = plan::build(&s, seed);
        let allowed: HashSet<OpKind> = OpKind::ALL
            .iter()
            .zip(k.weights.iter())
            .filter(|&(_, &w)| w > 0)
            .map(|(&kind, _)| kind)
            .collect();
        for op in p.workers.iter().flat_map(|w| &w.ops) {
            prop_assert!(allowed.contains(&op.kind), "{:?} drawn with weights {:?}", op.kind, k.weights);
        }
    }

    /// (e) Worker k's schedule does not depend on how many workers there are, and
    /// `worker_plan` rebuilds exactly the share `build` drew.
    #[test]
    fn worker_plan_independent_of_worker_count(
        k in knobs(),
        other_workers in 1u32..=12,
        seed in any::<u64>(),
    ) {
        let s1 = scenario_from(&k);
        let mut s2 = s1.clone();
        s2.workload.workers = other_workers;
        let p1 = plan::build(&s1, seed);
        let p2 = plan::build(&s2, seed);
        let shared = k.workers.min(other_workers) as usize;
        prop_assert_eq!(&p1.workers[..shared], &p2.workers[..shared]);
        for (w, wp) in p1.workers.iter().enumerate() {
            prop_assert_eq!(&plan::worker_plan(&s1, seed, w as u32), wp);
            prop_assert_eq!(&plan::worker_plan(&s2, seed, w as u32), wp);
        }
    }

    /// (f) Payloads: the asked length, deterministic, printable, distinct across (worker, seq).
    #[test]
    fn payload_properties(
        seed in any::<u64>(),
        w in 0u32..512,
        q in 0u32..1_000_000,
        len in 0u32..=4_096,
    ) {
        let a = plan::payload(seed, w, q, len);
        prop_assert_eq!(a.len(), len as usize);
        prop_assert_eq!(a.chars().count(), len as usize);
        prop_assert!(a.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        prop_assert_eq!(&a, &plan::payload(seed, w, q, len));
    }

    /// (f) Two different (worker, seq) pairs never share a payload of meaningful length
    /// (16 draws from 64 symbols: a collision chance of 2^-96).
    #[test]
    fn payload_differs_across_worker_and_seq(
        seed in any::<u64>(),
        a in (0u32..512, 0u32..1_000_000),
        b in (0u32..512, 0u32..1_000_000),
        len in 16u32..=256,
    ) {
        prop_assume!(a != b);
        prop_assert_ne!(plan::payload(seed, a.0, a.1, len), plan::payload(seed, b.0, b.1, len));
        // Swapping worker and seq is a different op, so a different payload.
        if a.0 != a.1 {
            prop_assert_ne!(plan::payload(seed, a.0, a.1, len), plan::payload(seed, a.1, a.0, len));
        }
    }

    /// Different seeds give different payloads for the same op.
    #[test]
    fn payload_differs_across_seeds(
        seed in any::<u64>(),
        delta in 1u64..=u64::MAX,
        w in 0u32..512,
        q in 0u32..1_000_000,
        len in 16u32..=256,
    ) {
        prop_assert_ne!(plan::payload(seed, w, q, len), plan::payload(seed.wrapping_add(delta), w, q, len));
    }
}

/// (d) With a large deterministic sample the observed frequencies follow the weights.
#[test]
fn op_frequencies_follow_weights() {
    let weights = [1, 2, 3, 0, 4, 0, 0];
    let total_weight: u32 = weights.iter().sum();
    let mut s = base();
    s.workload.workers = 1;
    s.workload.ops_per_worker = 20_000;
    s.workload.mix = mix_from(weights);
    for seed in [1u64, 2, 0xdead_beef] {
        let p = plan::build(&s, seed);
        let ops = &p.workers[0].ops;
        assert_eq!(ops.len(), 20_000);
        for (kind, &weight) in OpKind::ALL.iter().zip(weights.iter()) {
            let n = ops.iter().filter(|op| op.kind == *kind).count();
            let observed = n as f64 / ops.len() as f64;
            let expected = f64::from(weight) / f64::from(total_weight);
            if weight == 0 {
                assert_eq!(
                    n,
                    0,
                    "seed {seed}: {} has weight 0 but was drawn {n} times",
                    kind.name()
                );
            }
            // About six standard deviations at this sample size.
            assert!(
                (observed - expected).abs() <= 0.02,
                "seed {seed}: {} drawn {:.2}% of the time, weight says {:.2}% (+-2 points)",
                kind.name(),
                observed * 100.0,
                expected * 100.0
            );
        }
    }
}

/// Weight ranges at the extremes validation allows do not overflow the draw.
#[test]
fn extreme_weights_draw_only_positive_kinds() {
    let mut s = base();
    s.workload.workers = 2;
    s.workload.ops_per_worker = 2_000;
    // Sum is exactly u32::MAX, the largest total validation accepts.
    s.workload.mix = mix_from([u32::MAX - 1, 0, 0, 0, 0, 0, 1]);
    let p = plan::build(&s, 5);
    for op in p.workers.iter().flat_map(|w| &w.ops) {
        assert!(matches!(op.kind, OpKind::CreateTask | OpKind::Checkpoint));
    }
    s.workload.mix = mix_from([0, 0, 0, 0, 0, 0, u32::MAX]);
    let p = plan::build(&s, 5);
    assert!(
        p.workers
            .iter()
            .flat_map(|w| &w.ops)
            .all(|op| op.kind == OpKind::Checkpoint)
    );
}

/// A plan is stable across a JSON round trip, so a report's plan can be reloaded and rehashed.
#[test]
fn plan_json_round_trips() {
    let (s, _) = scenario::load("smoke", &Overrides::default()).expect("smoke loads");
    let p = plan::build(&s, 3);
    let back: Plan = serde_json::from_slice(&json(&p)).expect("plan deserializes");
    assert_eq!(back, p);
    assert_eq!(
        plan::schedule_hash(back.seed, &back.workers),
        p.schedule_hash
    );
}

/// Golden value: see [`SMOKE_SEED1_SCHEDULE_HASH`].
#[test]
fn smoke_seed1_schedule_hash_is_pinned() {
    let (s, _) = scenario::load("smoke", &Overrides::default()).expect("smoke loads");
    let p = plan::build(&s, 1);
    assert_eq!(
        PLAN_FORMAT, GOLDEN_PLAN_FORMAT,
        "PLAN_FORMAT changed: recompute SMOKE_SEED1_SCHEDULE_HASH deliberately and update both constants"
    );
    assert_eq!(
        p.schedule_hash, SMOKE_SEED1_SCHEDULE_HASH,
        "the smoke scenario's seed-1 schedule changed. If the plan algorithm changed on purpose, \
         bump PLAN_FORMAT in harness/plan/mod.rs and update this golden value; if \
         scenarios/smoke.toml changed, update it; otherwise this is a determinism regression"
    );
}
