//! Validating a comparison, and the scenario each strategy's runs use.

use crate::scenario::{self, LoadError, Overrides, Scenario, ScenarioSource};

use super::CompareError;
use super::strategies::{self, Preset};
use super::{CompareRequest, MAX_REPEAT};

/// A comparison, validated and ready to run.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The scenario as loaded (no overrides), with `--synchronous` and added checkpoints.
    pub base: Scenario,
    pub source: ScenarioSource,
    pub seed: u64,
    pub presets: Vec<&'static Preset>,
    pub repeat: u32,
    /// One group per worker count; `workers: None` keeps the scenario's own.
    pub groups: Vec<Overrides>,
    pub notes: Vec<String>,
}

/// Validates everything a comparison needs before anything runs or is written.
pub fn prepare(a: &CompareRequest) -> Result<Prepared, CompareError> {
    let (mut base, source) = scenario::load(&a.scenario, &Overrides::default())?;
    let presets = strategies::parse_list(&a.strategies)?;
    if !(1..=MAX_REPEAT).contains(&a.repeat) {
        return Err(CompareError::Repeat(a.repeat));
    }
    let mut notes = Vec::new();
    if let Some(v) = a.synchronous {
        base.sqlite.synchronous = v;
        notes.push(format!(
            "[sqlite] synchronous = {} for every strategy (--synchronous)",
            base.sqlite.synchronous.as_sql()
        ));
    }
    let seed = a.seed.unwrap_or(base.seeds[0]);
    base.seeds = vec![seed];
    if let Some(p) = presets.iter().find(|p| p.needs_checkpoints)
        && strategies::add_checkpoints(&mut base)
    {
        notes.push(format!(
            "{} has no checkpoint ops and {} holds the lock across them, so every strategy \
             runs it with checkpoint ops added ([workload.mix] checkpoint = 1 op in 20, the other \
             weights scaled by 19): the same schedule for all",
            base.name, p.name
        ));
    }
    let mut counts: Vec<Option<u32>> = a.workers.iter().copied().map(Some).collect();
    if counts.is_empty() {
        counts.push(None);
    }
    for (i, w) in counts.iter().enumerate() {
        if counts[..i].contains(w) {
            return Err(CompareError::WorkersTwice(w.unwrap_or_default()));
        }
    }
    counts.sort();
    let groups: Vec<Overrides> = counts
        .into_iter()
        .map(|workers| Overrides {
            workers,
            ops: a.ops,
            ..Overrides::default()
        })
        .collect();
    for o in &groups {
        // The scenario's own checks, with the scenario's own error messages.
        scenario::load(&a.scenario, o)?;
        for p in &presets {
            variant(&base, p, o, &source)?;
        }
    }
    Ok(Prepared {
        base,
        source,
        seed,
        presets,
        repeat: a.repeat,
        groups,
        notes,
    })
}

/// The scenario a strategy's runs use before overrides: named `<scenario>.<strategy>`.
pub(super) fn strategy_scenario(base: &Scenario, p: &Preset) -> Scenario {
    let mut s = base.clone();
    p.apply(&mut s);
    s.name = format!("{}.{}", base.name, p.name);
    s.description = format!(
        "{} [walburst compare, strategy {}: {}]",
        base.description.trim(),
        p.name,
        p.summary
    );
    s
}

pub(super) fn to_toml(s: &Scenario) -> Result<String, CompareError> {
    toml::to_string(s).map_err(|error| CompareError::Toml {
        name: s.name.clone(),
        error,
    })
}

/// The scenario one run uses, validated the way a scenario file is (through its TOML).
pub(super) fn variant(
    base: &Scenario,
    p: &Preset,
    o: &Overrides,
    source: &ScenarioSource,
) -> Result<Scenario, CompareError> {
    let mut s = strategy_scenario(base, p);
    o.apply(&mut s);
    let text = to_toml(&s)?;
    let origin = if o.is_empty() {
        format!("{source}, strategy {}", p.name)
    } else {
        format!(
            "{source}, strategy {} (with {})",
            p.name,
            o.as_args().join(" ")
        )
    };
    scenario::parse_str(&text, source)
        .map_err(|e| CompareError::Scenario(LoadError::new(origin, e.problem)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prepare_keeps_one_schedule_and_adds_checkpoints_for_all() {
        let p = prepare(&CompareRequest {
            scenario: crate::scenario::DEFAULT_SCENARIO.to_string(),
            seed: None,
            strategies: "wal,flock-ckpt,flock-conn".into(),
            repeat: 3,
            workers: vec![4, 1],
            ops: Some(10),
            synchronous: None,
            sqlite: vec![],
            output: crate::report::outputs::Outputs {
                out: "reports".into(),
                keep: false,
                work_dir: None,
            },
        })
        .unwrap();
        assert_eq!(p.groups.len(), 2);
        assert_eq!(p.groups[0].workers, Some(1), "worker counts ascending");
        assert!(p.base.workload.mix.checkpoint > 0);
        assert!(p.notes.iter().any(|n| n.contains("checkpoint")));
        let hashes: Vec<String> = p
            .presets
            .iter()
            .map(|pr| {
                let s = variant(&p.base, pr, &p.groups[1], &p.source).unwrap();
                crate::plan::build(&s, p.seed).schedule_hash
            })
            .collect();
        assert!(hashes.windows(2).all(|w| w[0] == w[1]), "{hashes:?}");
    }
}
