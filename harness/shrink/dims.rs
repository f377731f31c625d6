//! The dimensions a run shrinks along, each an integer with a floor, and the size of a run.

use serde::{Deserialize, Serialize};

use crate::scenario::{KillPoint, Scenario, ScenarioSource, parse_str};

/// One axis of a scenario that can be made smaller. Mix weights are per op kind: shrinking
/// one to 0 removes that kind from the mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Dim {
    OpsPerWorker,
    Workers,
    ConnectionsPerWorker,
    IdleConnections,
    /// The weight of the op kind at this index of [`crate::plan::OpKind::ALL`].
    MixWeight(usize),
    PayloadMax,
    PayloadMin,
    Kills,
}

/// Every dimension, in the order one pass tries them. Workers come before ops: with ops
/// first, a failure that needs volume (a guard firing once the database has grown) gets
/// stuck at many workers x 1 op, a local minimum no single-dimension step leaves; with
/// workers first it becomes 1 worker x many ops, then few ops.
pub const ORDER: [Dim; 14] = [
    Dim::Workers,
    Dim::OpsPerWorker,
    Dim::ConnectionsPerWorker,
    Dim::IdleConnections,
    Dim::Kills,
    Dim::MixWeight(0),
    Dim::MixWeight(1),
    Dim::MixWeight(2),
    Dim::MixWeight(3),
    Dim::MixWeight(4),
    Dim::MixWeight(5),
    Dim::MixWeight(6),
    Dim::PayloadMax,
    Dim::PayloadMin,
];

fn weight_mut(s: &mut Scenario, i: usize) -> &mut u32 {
    let m = &mut s.workload.mix;
    match i {
        0 => &mut m.create_task,
        1 => &mut m.claim_task,
        2 => &mut m.heartbeat,
        3 => &mut m.add_comment,
        4 => &mut m.complete_task,
        5 => &mut m.gc_events,
        _ => &mut m.checkpoint,
    }
}

impl Dim {
    pub fn get(self, s: &Scenario) -> u32 {
        let w = &s.workload;
        match self {
            Dim::OpsPerWorker => w.ops_per_worker,
            Dim::Workers => w.workers,
            Dim::ConnectionsPerWorker => w.connections_per_worker,
            Dim::IdleConnections => w.idle_connections,
            Dim::MixWeight(i) => w.mix.weights()[i],
            Dim::PayloadMax => w.payload_bytes[1],
            Dim::PayloadMin => w.payload_bytes[0],
            Dim::Kills => s.faults.kills,
        }
    }

    /// The smallest value worth trying.
    pub fn floor(self, s: &Scenario) -> u32 {
        match self {
            Dim::OpsPerWorker | Dim::Workers | Dim::ConnectionsPerWorker => 1,
            Dim::IdleConnections | Dim::Kills => 0,
            // A weight may drop to 0 only while another kind keeps the mix non-empty.
            Dim::MixWeight(i) => {
                let others: u32 = s
                    .workload
                    .mix
                    .weights()
                    .iter()
                    .enumerate()
                    .filter(|&(j, _)| j != i)
                    .map(|(_, &x)| x)
                    .sum();
                u32::from(others == 0)
            }
            Dim::PayloadMax => s.workload.payload_bytes[0].max(1),
            Dim::PayloadMin => 1,
        }
    }

    fn set(self, s: &mut Scenario, v: u32) {
        let w = &mut s.workload;
        match self {
            Dim::OpsPerWorker => w.ops_per_worker = v,
            Dim::Workers => w.workers = v,
            Dim::ConnectionsPerWorker => w.connections_per_worker = v,
            Dim::IdleConnections => w.idle_connections = v,
            Dim::MixWeight(i) => *weight_mut(s, i) = v,
            Dim::PayloadMax => w.payload_bytes[1] = v,
            Dim::PayloadMin => w.payload_bytes[0] = v,
            Dim::Kills => {
                s.faults.kills = v;
                if v == 0 {
                    s.faults.kill = KillPoint::None;
                    s.faults.respawn = false;
                }
            }
        }
    }

    /// `s` with this dimension at `v`, if the result is a valid scenario (checked by a round
    /// trip through TOML, the form the minimal scenario is written in).
    pub fn with(self, s: &Scenario, v: u32) -> Option<Scenario> {
        let mut c = s.clone();
        self.set(&mut c, v);
        valid(&c)
    }

    /// Whether the search bisects toward the floor, or only tries the floor itself: a mix
    /// weight matters only as "this op kind is in the mix or not", and a payload size
    /// rarely decides a failure, so bisecting them would spend runs for nothing.
    pub fn bisect(self) -> bool {
        !matches!(self, Dim::MixWeight(_) | Dim::PayloadMax | Dim::PayloadMin)
    }

    pub fn name(self) -> String {
        match self {
            Dim::OpsPerWorker => "ops_per_worker".into(),
            Dim::Workers => "workers".into(),
            Dim::ConnectionsPerWorker => "connections_per_worker".into(),
            Dim::IdleConnections => "idle_connections".into(),
            Dim::MixWeight(i) => format!("mix.{}", crate::plan::OpKind::ALL[i].name()),
            Dim::PayloadMax => "payload_bytes.max".into(),
            Dim::PayloadMin => "payload_bytes.min".into(),
            Dim::Kills => "kills".into(),
        }
    }
}

/// The scenario as it reads back from its TOML, or `None` when it does not validate.
pub fn valid(s: &Scenario) -> Option<Scenario> {
    let text = toml::to_string(s).ok()?;
    parse_str(&text, &ScenarioSource::Embedded(s.name.clone())).ok()
}

/// How big a run is, for "before -> after".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Size {
    pub workers: u32,
    pub ops_per_worker: u32,
    pub total_ops: u64,
    pub connections_per_worker: u32,
    pub idle_connections: u32,
    pub op_kinds: Vec<String>,
    pub payload_bytes: [u32; 2],
    pub kills: u32,
    /// Lockstep steps the run took.
    pub steps: u64,
}

impl Size {
    pub fn of(s: &Scenario, steps: u64) -> Size {
        let w = &s.workload;
        Size {
            workers: w.workers,
            ops_per_worker: w.ops_per_worker,
            total_ops: s.total_ops(),
            connections_per_worker: w.connections_per_worker,
            idle_connections: w.idle_connections,
            op_kinds: crate::plan::OpKind::ALL
                .iter()
                .zip(w.mix.weights())
                .filter(|(_, x)| *x > 0)
                .map(|(k, _)| k.name().to_string())
                .collect(),
            payload_bytes: w.payload_bytes,
            kills: s.faults.kills,
            steps,
        }
    }

    pub fn line(&self) -> String {
        format!(
            "{} workers x {} ops ({} ops, {} steps), {} conn/worker, {} idle, mix [{}], payload {}..{} B, {} kills",
            self.workers,
            self.ops_per_worker,
            self.total_ops,
            self.steps,
            self.connections_per_worker,
            self.idle_connections,
            self.op_kinds.join(" "),
            self.payload_bytes[0],
            self.payload_bytes[1],
            self.kills
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hazard() -> Scenario {
        let e = crate::scenario::find_embedded("header-probe-lock-hazard").unwrap();
        parse_str(e.toml, &ScenarioSource::Embedded(e.name.into())).unwrap()
    }

    #[test]
    fn the_last_op_kind_of_the_mix_cannot_be_removed() {
        let mut s = hazard();
        assert_eq!(
            Dim::MixWeight(0).floor(&s),
            0,
            "others keep the mix non-empty"
        );
        s.workload.mix = crate::scenario::OpMix::creates_only();
        assert_eq!(Dim::MixWeight(0).floor(&s), 1);
        assert!(
            Dim::MixWeight(0).with(&s, 0).is_none(),
            "an empty mix does not validate"
        );
    }

    #[test]
    fn invalid_candidates_are_refused_and_removing_kills_clears_the_kill_point() {
        let mut s = hazard();
        s.faults.kill = KillPoint::MidTransaction;
        s.faults.kills = 3;
        assert!(Dim::OpsPerWorker.with(&s, 0).is_none());
        let k = Dim::Kills.with(&s, 0).expect("no kills is valid");
        assert_eq!((k.faults.kill, k.faults.kills), (KillPoint::None, 0));
        let small = Dim::Workers.with(&s, 1).unwrap();
        assert!(
            Dim::OpsPerWorker.with(&small, 2).is_none(),
            "fewer planned ops than kills"
        );
        let fewer = Dim::OpsPerWorker.with(&small, 3).unwrap();
        assert!(
            Dim::Kills.with(&fewer, 4).is_none(),
            "more kills than planned ops"
        );
    }

    #[test]
    fn bisection_skips_mix_and_payload() {
        assert!(Dim::Workers.bisect() && Dim::OpsPerWorker.bisect());
        assert!(!Dim::MixWeight(3).bisect() && !Dim::PayloadMax.bisect());
    }
}
