//! Expansion: the cross product of the listed values, exclusion, folding of inert axes,
//! case naming, and the expect rules applied to each case.

use std::collections::BTreeMap;

use super::{Axis, AxisValue, validate};
use crate::scenario::{self, GuardKind, Invalid, JournalMode, Scenario};

/// One expanded case: a complete scenario (no matrix) with its name.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// `<scenario>/<parts>`; the scenario's own name when it has no matrix.
    pub name: String,
    /// The part after `<scenario>/` (empty without a matrix): what `FILE#CASE` names.
    pub suffix: String,
    pub scenario: Scenario,
    /// The axis values that make this case, in axis order (folded axes included).
    pub values: Vec<AxisValue>,
    /// Axes that cannot matter for this case and were folded, with the values folded in.
    pub folded: Vec<(Axis, Vec<AxisValue>)>,
    /// Indices (1-based) of the `[[matrix.expect]]` rules that apply.
    pub rules: Vec<usize>,
}

/// What expansion did, for `walburst list FILE`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Expansion {
    pub cases: Vec<Case>,
    /// Every combination of the listed values.
    pub combinations: usize,
    pub excluded: usize,
    pub folded: usize,
}

/// Axes whose value cannot change what this scenario does.
pub fn inert_axes(s: &Scenario) -> Vec<Axis> {
    let mut out = Vec::new();
    // Only a fixed rollback journal makes the autocheckpoint inert: under `app` the app
    // may choose WAL.
    if !matches!(s.sqlite.journal_mode, JournalMode::Wal | JournalMode::App) {
        out.push(Axis::WalAutocheckpoint);
    }
    if s.guard == GuardKind::None {
        out.push(Axis::GuardAt);
    }
    out
}

/// Expands `base` into its cases. A scenario without a matrix is one case under its own
/// name. The caller adds the file name to an error.
pub fn expand(base: &Scenario) -> Result<Expansion, Invalid> {
    let Some(m) = &base.matrix else {
        let mut s = base.clone();
        s.matrix = None;
        return Ok(Expansion {
            cases: vec![Case {
                name: base.name.clone(),
                suffix: String::new(),
                scenario: s,
                values: Vec::new(),
                folded: Vec::new(),
                rules: Vec::new(),
            }],
            combinations: 1,
            excluded: 0,
            folded: 0,
        });
    };
    validate(m)?;
    let axes = m.axes();
    let lists: Vec<Vec<AxisValue>> = axes.iter().map(|&a| m.values(a)).collect();
    let combinations: usize = lists.iter().map(Vec::len).product();
    let mut template = base.clone();
    template.matrix = None;

    let mut exclude_hits = vec![0usize; m.exclude.len()];
    let mut cases: Vec<Case> = Vec::new();
    let mut by_name: BTreeMap<String, usize> = BTreeMap::new();
    let (mut excluded, mut folded) = (0, 0);
    let mut idx = vec![0usize; axes.len()];
    for _ in 0..combinations {
        let values: Vec<AxisValue> = idx.iter().zip(&lists).map(|(&i, l)| l[i]).collect();
        // Odometer: the last axis varies fastest.
        for k in (0..idx.len()).rev() {
            idx[k] += 1;
            if idx[k] < lists[k].len() {
                break;
            }
            idx[k] = 0;
        }
        let mut s = template.clone();
        for v in &values {
            v.apply(&mut s);
        }
        let hits: Vec<usize> = m
            .exclude
            .iter()
            .enumerate()
            .filter(|(_, r)| r.matches(&s, &[]))
            .map(|(i, _)| i)
            .collect();
        if !hits.is_empty() {
            for i in hits {
                exclude_hits[i] += 1;
            }
            excluded += 1;
            continue;
        }
        let inert = inert_axes(&s);
        let parts: Vec<String> = values
            .iter()
            .filter(|v| !inert.contains(&v.axis()))
            .map(|v| v.name_part())
            .collect();
        let key = parts.join("-");
        if let Some(&i) = by_name.get(&key) {
            folded += 1;
            let case = &mut cases[i];
            for v in values.iter().filter(|v| inert.contains(&v.axis())) {
                if let Some((_, vals)) = case.folded.iter_mut().find(|(a, _)| *a == v.axis())
                    && !vals.contains(v)
                {
                    vals.push(*v);
                }
            }
            continue;
        }
        // Every listed axis folded away (say, only autocheckpoint values in DELETE mode):
        // the one case is still named by its values.
        let suffix = if key.is_empty() {
            values
                .iter()
                .map(|v| v.name_part())
                .collect::<Vec<_>>()
                .join("-")
        } else {
            key.clone()
        };
        let name = format!("{}/{suffix}", base.name);
        s.name = name.clone();
        let folded_axes = values
            .iter()
            .filter(|v| inert.contains(&v.axis()))
            .map(|v| (v.axis(), vec![*v]))
            .collect();
        by_name.insert(key, cases.len());
        cases.push(Case {
            name,
            suffix,
            scenario: s,
            values,
            folded: folded_axes,
            rules: Vec::new(),
        });
    }
    for (i, hits) in exclude_hits.iter().enumerate() {
        if *hits == 0 {
            return Err(Invalid::field(
                format!("matrix.exclude[{i}]"),
                format!(
                    "({}) matches no combination; remove it or fix its values",
                    m.exclude[i].describe()
                ),
            ));
        }
    }
    if cases.is_empty() {
        return Err(Invalid::field("matrix.exclude", "leaves no case to run"));
    }
    let mut rule_hits = vec![0usize; m.expect.len()];
    for case in &mut cases {
        // A condition on a folded axis holds: its value cannot matter for this case.
        let folded_axes: Vec<Axis> = case.folded.iter().map(|(a, _)| *a).collect();
        for (i, rule) in m.expect.iter().enumerate() {
            if rule.when.matches(&case.scenario, &folded_axes) {
                rule.apply(&mut case.scenario.expect);
                case.rules.push(i + 1);
                rule_hits[i] += 1;
            }
        }
    }
    for (i, hits) in rule_hits.iter().enumerate() {
        if *hits == 0 {
            return Err(Invalid::field(
                format!("matrix.expect[{i}]"),
                format!(
                    "(when {}) matches no case; remove it or fix its values",
                    m.expect[i].when.describe()
                ),
            ));
        }
    }
    for case in &cases {
        let s = &case.scenario;
        if s.total_ops() > scenario::MAX_TOTAL_OPS {
            return Err(Invalid::Case {
                case: case.name.clone(),
                with: String::new(),
                problem: Box::new(scenario::validate::too_many_ops(s)),
            });
        }
    }
    Ok(Expansion {
        cases,
        combinations,
        excluded,
        folded,
    })
}
