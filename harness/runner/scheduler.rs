//! Lockstep schedulers: given the actors parked before their next step, pick the one that
//! runs it. Pure and seeded, so the same seed gives the same interleaving.

use std::collections::{BTreeMap, BTreeSet};

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use crate::observe::ActorId;
use crate::observe::step::{StepAction, StepResult};
use crate::plan::stream;

/// Picks which parked actor runs the next lockstep step.
///
/// Contract: `choose` is a pure function of the scheduler's seed and of the calls made to it
/// so far (never of time or process speed), so the same calls give the same choices. It is
/// called only when the run is settled, with `runnable` sorted and never empty; it returns
/// one of `runnable`, or `None` when a replay has diverged from its recording.
pub trait Scheduler {
    fn choose(&mut self, step: u64, runnable: &[ActorId]) -> Option<ActorId>;
    /// The chosen actor's step returned (blocked: it met BUSY or a held flock).
    fn on_result(&mut self, _actor: ActorId, _action: &StepAction, _result: &StepResult) {}
    /// Whether the coordinator may leave out actors whose next step can only be turned away
    /// by a lock (see `Coordinator`'s futile set). Seeded explorers say yes: such a step
    /// changes nothing but the step count. Replays say no: they must see every parked actor.
    fn skips_futile(&self) -> bool {
        false
    }
}

/// Uniform over the runnable actors.
pub struct RandomScheduler {
    rng: ChaCha8Rng,
}

impl RandomScheduler {
    pub fn new(seed: u64) -> Self {
        RandomScheduler {
            rng: stream(seed, "lockstep-random", 0, 0),
        }
    }
}

impl Scheduler for RandomScheduler {
    fn choose(&mut self, _step: u64, runnable: &[ActorId]) -> Option<ActorId> {
        Some(runnable[self.rng.random_range(0..runnable.len())])
    }

    fn skips_futile(&self) -> bool {
        true
    }
}

/// Probabilistic concurrency testing (Burckhardt et al., ASPLOS 2010): distinct random
/// priorities, the highest runnable actor runs, and at `depth - 1` distinct seeded change
/// points the running actor drops below everyone. An actor that meets BUSY also drops to the
/// bottom, or it would spin forever ahead of the lock holder it waits for.
///
/// As in the paper, the change points are drawn over the steps where the choice matters:
/// only steps with more than one runnable actor count (`contended`), and the points are
/// distinct positions in `1..=bound`, `bound` being the run's estimated number of such steps.
pub struct PctScheduler {
    priority: BTreeMap<ActorId, i64>,
    /// Positions among the contended steps at which the running actor is demoted.
    change_points: BTreeSet<u64>,
    /// Contended steps seen so far.
    contended: u64,
    next_low: i64,
}

impl PctScheduler {
    /// `bound`: the expected number of contended steps of the run (an estimate is enough:
    /// points past the real end simply never fire, as in the paper's analysis).
    pub fn new(seed: u64, actors: &[ActorId], depth: u32, bound: u64) -> Self {
        let mut rng = stream(seed, "lockstep-pct", 0, 0);
        let mut order: Vec<ActorId> = actors.to_vec();
        // Fisher-Yates with the seeded stream: a random permutation of priorities.
        for i in (1..order.len()).rev() {
            order.swap(i, rng.random_range(0..=i));
        }
        let priority = order
            .into_iter()
            .enumerate()
            .map(|(i, a)| (a, i as i64 + 1))
            .collect();
        let bound = bound.max(1);
        let want = u64::from(depth.saturating_sub(1)).min(bound);
        // Distinct points: redraw a repeat (the set is tiny next to the bound, so this ends
        // quickly and stays a pure function of the seed).
        let mut change_points = BTreeSet::new();
        while (change_points.len() as u64) < want {
            change_points.insert(rng.random_range(1..=bound));
        }
        PctScheduler {
            priority,
            change_points,
            contended: 0,
            next_low: 0,
        }
    }

    fn demote(&mut self, a: ActorId) {
        self.priority.insert(a, self.next_low);
        self.next_low -= 1;
    }
}

impl Scheduler for PctScheduler {
    fn choose(&mut self, _step: u64, runnable: &[ActorId]) -> Option<ActorId> {
        let pick = *runnable.iter().max_by_key(|a| {
            (
                self.priority.get(a).copied().unwrap_or(i64::MIN),
                std::cmp::Reverse(**a),
            )
        })?;
        if runnable.len() > 1 {
            self.contended += 1;
            if self.change_points.contains(&self.contended) {
                self.demote(pick);
            }
        }
        Some(pick)
    }

    fn on_result(&mut self, actor: ActorId, _action: &StepAction, result: &StepResult) {
        if result.is_blocked() {
            self.demote(actor);
        }
    }

    fn skips_futile(&self) -> bool {
        true
    }
}

/// Replays the choices of a recorded trace.
pub struct ReplayScheduler {
    choices: Vec<ActorId>,
}

impl ReplayScheduler {
    pub fn new(choices: Vec<ActorId>) -> Self {
        ReplayScheduler { choices }
    }
}

impl Scheduler for ReplayScheduler {
    fn choose(&mut self, step: u64, runnable: &[ActorId]) -> Option<ActorId> {
        let want = *self.choices.get(step as usize)?;
        runnable.contains(&want).then_some(want)
    }
}

/// Replays a free run's observed commit order at transaction granularity: the actor of the
/// next commit runs until that transaction ends, one transaction at a time. Ops that did not
/// commit in the free run run wherever their actor's schedule puts them.
pub struct CommitOrderScheduler {
    order: Vec<ActorId>,
    next: usize,
    /// The actor inside a transaction or holding a global flock: it keeps the floor.
    current: Option<ActorId>,
    /// The target's last step was blocked (a flock held by an actor that lost the floor).
    target_blocked: bool,
}

impl CommitOrderScheduler {
    pub fn new(order: Vec<ActorId>) -> Self {
        CommitOrderScheduler {
            order,
            next: 0,
            current: None,
            target_blocked: false,
        }
    }
}

impl Scheduler for CommitOrderScheduler {
    fn choose(&mut self, _step: u64, runnable: &[ActorId]) -> Option<ActorId> {
        if let Some(c) = self.current.filter(|c| runnable.contains(c)) {
            return Some(c);
        }
        // Skip targets that have no steps left.
        while self.next < self.order.len() && !runnable.contains(&self.order[self.next]) {
            self.next += 1;
        }
        let target = self.order.get(self.next).copied();
        match target {
            Some(t) if !self.target_blocked => Some(t),
            // Let someone else (the lock holder) move, then try the target again.
            Some(t) => {
                self.target_blocked = false;
                runnable.iter().copied().find(|a| *a != t).or(Some(t))
            }
            None => runnable.first().copied(),
        }
    }

    fn on_result(&mut self, actor: ActorId, action: &StepAction, result: &StepResult) {
        let ok = result.is_ok();
        let blocked = result.is_blocked();
        match action {
            StepAction::Begin | StepAction::BeginDeferred | StepAction::Flock { .. } if ok => {
                self.current = Some(actor)
            }
            StepAction::Commit if ok => {
                self.current = None;
                if self.order.get(self.next) == Some(&actor) {
                    self.next += 1;
                }
            }
            StepAction::Rollback | StepAction::Close if self.current == Some(actor) => {
                self.current = None
            }
            _ => {}
        }
        if blocked && self.order.get(self.next) == Some(&actor) {
            self.target_blocked = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn busy() -> StepResult {
        StepResult::Busy {
            code: "SQLITE_BUSY".into(),
        }
    }

    fn ids(n: u32) -> Vec<ActorId> {
        (0..n)
            .map(|w| ActorId {
                worker: w,
                actor: 0,
            })
            .collect()
    }

    #[test]
    fn random_is_deterministic_per_seed() {
        let run = |seed| {
            let mut s = RandomScheduler::new(seed);
            (0..200)
                .map(|i| s.choose(i, &ids(5)).unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(run(1), run(1));
        assert_ne!(run(1), run(2));
    }

    #[test]
    fn pct_runs_the_highest_priority_until_it_blocks() {
        let actors = ids(4);
        let mut s = PctScheduler::new(3, &actors, 1, 100);
        let first = s.choose(0, &actors).unwrap();
        assert_eq!(
            s.choose(1, &actors),
            Some(first),
            "no change points at depth 1"
        );
        s.on_result(first, &StepAction::Begin, &busy());
        let second = s.choose(2, &actors).unwrap();
        assert_ne!(second, first, "a blocked actor drops below the others");
    }

    #[test]
    fn replay_follows_and_detects_divergence() {
        let a = ids(3);
        let mut s = ReplayScheduler::new(vec![a[2], a[0]]);
        assert_eq!(s.choose(0, &a), Some(a[2]));
        assert_eq!(s.choose(1, &a[1..]), None, "a[0] is not runnable: diverged");
        assert_eq!(s.choose(2, &a), None, "past the end of the trace");
    }

    #[test]
    fn commit_order_runs_one_transaction_at_a_time_in_order() {
        let a = ids(3);
        let mut s = CommitOrderScheduler::new(vec![a[2], a[0], a[2]]);
        assert_eq!(s.choose(0, &a), Some(a[2]));
        s.on_result(a[2], &StepAction::Begin, &StepResult::Ok);
        assert_eq!(s.choose(1, &a), Some(a[2]), "inside its transaction");
        s.on_result(a[2], &StepAction::Commit, &StepResult::Ok);
        assert_eq!(s.choose(2, &a), Some(a[0]), "the next commit's actor");
        s.on_result(a[0], &StepAction::Begin, &StepResult::Ok);
        s.on_result(a[0], &StepAction::Commit, &StepResult::Ok);
        assert_eq!(s.choose(3, &a), Some(a[2]));
        s.on_result(a[2], &StepAction::Begin, &StepResult::Ok);
        s.on_result(a[2], &StepAction::Commit, &StepResult::Ok);
        assert_eq!(
            s.choose(4, &a[1..2]),
            Some(a[1]),
            "order done: whoever is left"
        );
    }
}
