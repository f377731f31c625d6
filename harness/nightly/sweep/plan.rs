//! What a sweep runs: its seeds, its (case, seed) pairs and the regressions before them.

use std::time::SystemTime;

use super::index::sweep_hash;
use crate::nightly::shard;
use crate::nightly::summary::{Pair, PairKind, make_pair};
use crate::nightly::{Suite, corpus, load_case, load_suite, split_case};
use crate::nightly::{SweepError, SweepRequest};
use crate::scenario::Mode;
use crate::scenario::matrix::Case;

/// The seeds a sweep runs: `None` means each case's own `seeds`.
#[derive(Debug, Clone, PartialEq)]
pub struct SeedPlan {
    pub seeds: Option<Vec<u64>>,
    pub base: Option<u64>,
    pub nightly_date: Option<String>,
}

/// Today's date in UTC, `YYYY-MM-DD`.
pub fn utc_today() -> String {
    chrono::DateTime::<chrono::Utc>::from(SystemTime::now())
        .date_naive()
        .format(DATE_FORMAT)
        .to_string()
}

const DATE_FORMAT: &str = "%Y-%m-%d";

/// The nightly base seed of a UTC date: `YYYYMMDD x 1000`, so that up to 1000 seeds a night
/// never overlap the next night's. The date must exist (no 2026-02-30) and be written in
/// the canonical form (the one `utc_today` prints), so that every shard derives one seed.
pub fn nightly_base_seed(date: &str) -> Result<u64, SweepError> {
    let bad = || SweepError::BadDate(date.to_string());
    let day = chrono::NaiveDate::parse_from_str(date, DATE_FORMAT).map_err(|_| bad())?;
    if day.format(DATE_FORMAT).to_string() != date {
        return Err(bad());
    }
    use chrono::Datelike;
    let (y, m, d) = (
        u64::try_from(day.year()).map_err(|_| bad())?,
        day.month(),
        day.day(),
    );
    if y > 9999 {
        return Err(bad());
    }
    Ok((y * 10_000 + u64::from(m) * 100 + u64::from(d)) * 1000)
}

pub fn seed_plan(a: &SweepRequest) -> Result<SeedPlan, SweepError> {
    let sw = &a.sweep;
    if a.seed.is_some() && (sw.seeds.is_some() || sw.base_seed.is_some() || sw.nightly) {
        return Err(SweepError::SeedWithSweep);
    }
    if sw.nightly && sw.base_seed.is_some() {
        return Err(SweepError::NightlyWithBaseSeed);
    }
    if sw.seeds == Some(0) {
        return Err(SweepError::NoSeeds);
    }
    let (base, nightly_date) = if sw.nightly {
        let date = sw.date.clone().unwrap_or_else(utc_today);
        (Some(nightly_base_seed(&date)?), Some(date))
    } else {
        (sw.base_seed.or(sw.seeds.map(|_| 1)), None)
    };
    let seeds = match (a.seed, base) {
        (Some(s), _) => Some(vec![s]),
        (None, Some(b)) => {
            let n = u64::from(sw.seeds.unwrap_or(1));
            if b.checked_add(n - 1).is_none() {
                return Err(SweepError::SeedOverflow { base: b, seeds: n });
            }
            Some((b..b + n).collect())
        }
        (None, None) => None,
    };
    Ok(SeedPlan {
        seeds,
        base,
        nightly_date,
    })
}

/// A sweep as it stands before its first pair starts.
pub(super) struct Sweep {
    pub(super) plan: SeedPlan,
    pub(super) suites: Vec<Suite>,
    pub(super) corpus: corpus::Corpus,
    /// Regressions first, then the cases' own pairs; each pair once.
    pub(super) all: Vec<Pair>,
    pub(super) case_count: usize,
    pub(super) hash: String,
    /// This shard's indices into `all`.
    pub(super) selected: Vec<usize>,
}

/// Loads every scenario and the regression corpus and lists the pairs. An error is a usage
/// error, for the user.
pub(super) fn prepare(a: &SweepRequest, plan: SeedPlan) -> Result<Sweep, SweepError> {
    let sw = &a.sweep;
    let overrides = a.scale.overrides();
    // Each case's mode: the one asked for, or lockstep where its steps exist only there.
    let asked = if a.check_determinism {
        Some(Mode::Lockstep)
    } else {
        a.mode
    };
    let mut suites: Vec<Suite> = Vec::new();
    let mut sweep_pairs: Vec<Pair> = Vec::new();
    let mut case_count = 0usize;
    for spec in &a.scenarios {
        let (base_spec, wanted) = split_case(spec);
        let suite = load_suite(base_spec, &overrides)?;
        let cases: Vec<&Case> = match wanted {
            Some(w) => match suite.find(w) {
                Some(c) => vec![c],
                // load_case words the error (with the case names).
                None => {
                    return Err(load_case(spec, &overrides)
                        .expect_err("no such case")
                        .into());
                }
            },
            None => suite.expansion.cases.iter().collect(),
        };
        case_count += cases.len();
        for case in cases {
            let mode = crate::scenario::run_mode(&case.scenario, asked)
                .map_err(|e| crate::scenario::LoadError::new(suite.case_source(case), e))?;
            let seeds = plan
                .seeds
                .clone()
                .unwrap_or_else(|| case.scenario.seeds.clone());
            for seed in seeds {
                sweep_pairs.push(make_pair(
                    PairKind::Sweep,
                    &suite,
                    case,
                    seed,
                    mode,
                    &overrides,
                    a.check_determinism,
                    None,
                    None,
                ));
            }
        }
        suites.push(suite);
    }
    let corpus_path = sw
        .regressions
        .clone()
        .unwrap_or_else(|| corpus::default_path(&a.scenarios));
    if sw.regressions.is_some() && !corpus_path.exists() && !sw.record_failures {
        return Err(SweepError::NoCorpus(corpus_path));
    }
    let corpus = match corpus::load(&corpus_path) {
        Ok(c) => c,
        Err(e) if !sw.no_regressions => return Err(e.into()),
        Err(_) => corpus::Corpus {
            path: corpus_path.clone(),
            entries: Vec::new(),
        },
    };
    let regression_pairs = if sw.no_regressions {
        Vec::new()
    } else {
        corpus.pairs(a.check_determinism)?
    };
    let mut seen = std::collections::HashSet::new();
    let all: Vec<Pair> = regression_pairs
        .into_iter()
        .chain(sweep_pairs)
        .filter(|p| seen.insert(p.key()))
        .collect();
    let keys: Vec<String> = all.iter().map(Pair::key).collect();
    Ok(Sweep {
        hash: sweep_hash(&all),
        selected: shard::select(&keys, sw.shard),
        plan,
        suites,
        corpus,
        all,
        case_count,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nightly_base_seed_is_the_date_times_1000() {
        assert_eq!(nightly_base_seed("2026-04-15").unwrap(), 20_260_415_000);
        assert_eq!(nightly_base_seed("1999-12-31").unwrap(), 19_991_231_000);
        assert_eq!(nightly_base_seed("2024-02-29").unwrap(), 20_240_229_000);
        for bad in [
            "2026-4-15",
            "2026-13-01",
            "2026-04-00",
            "20260415",
            "2026-04-15x",
            "2026-02-30",
            "2025-02-29",
            "2026-04-31",
            "",
        ] {
            assert!(
                matches!(nightly_base_seed(bad), Err(SweepError::BadDate(d)) if d == bad),
                "{bad}"
            );
        }
        assert_eq!(utc_today().len(), 10);
        assert!(nightly_base_seed(&utc_today()).is_ok());
    }
}
