//! Aggregation: per (worker count, strategy) medians, ranges, means and 95 % confidence
//! intervals over the repeats; ratios against the first strategy with their significance.

use serde::{Deserialize, Serialize};

use super::interval::{Significance, Spread, mean_sd_ci, significance};

use super::strategies::Preset;
use super::{Group, RunSummary, RunVerdict};

/// One metric over the repeats of one strategy: median and range, and (as hyperfine and
/// criterion report them) mean, sample standard deviation and the 95 % confidence interval
/// of the mean (Student's t; absent for a single repeat).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Stat {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    /// Repeats the values come from (runs carried out).
    #[serde(default)]
    pub n: u32,
    #[serde(default)]
    pub mean: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub std_dev: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci95: Option<[f64; 2]>,
}

impl Stat {
    pub fn of(values: &[f64]) -> Option<Stat> {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        let (mean, sd, ci) = mean_sd_ci(&v);
        Some(Stat {
            median: round3(median),
            min: v[0],
            max: v[n - 1],
            n: n as u32,
            mean: round3(mean),
            std_dev: sd.map(round3),
            ci95: ci.map(|[lo, hi]| [round3(lo), round3(hi)]),
        })
    }

    /// Every value scaled (a unit change: ms to s).
    pub fn scaled(self, k: f64) -> Stat {
        Stat {
            median: self.median * k,
            min: self.min * k,
            max: self.max * k,
            mean: self.mean * k,
            std_dev: self.std_dev.map(|x| x * k),
            ci95: self.ci95.map(|[lo, hi]| [lo * k, hi * k]),
            ..self
        }
    }

    fn spread(self) -> Spread {
        Spread {
            n: self.n,
            range: [self.min, self.max],
            ci95: self.ci95,
        }
    }
}

pub(super) fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Medians of one strategy against the first strategy's (this / first).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ratios {
    pub against: String,
    pub commits_per_sec: Option<f64>,
    pub wall_secs: Option<f64>,
    pub latency_p99_ms: Option<f64>,
    /// Whether each ratio is more than noise between repeats (the overlap rule of
    /// [`super::interval::significance`]).
    #[serde(default)]
    pub significance: RatioSignificance,
}

/// The significance of each ratio in [`Ratios`]; `None` where the ratio is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RatioSignificance {
    pub commits_per_sec: Option<Significance>,
    pub wall_secs: Option<Significance>,
    pub latency_p99_ms: Option<Significance>,
}

/// One strategy at one worker count, over its repeats (runs carried out only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StrategySummary {
    pub strategy: String,
    pub workers: u32,
    pub runs: u32,
    pub passed: u32,
    pub errors: u32,
    pub commits_per_sec: Option<Stat>,
    pub wall_secs: Option<Stat>,
    pub latency_p50_ms: Option<Stat>,
    pub latency_p99_ms: Option<Stat>,
    pub latency_max_ms: Option<Stat>,
    pub lock_wait_ms_per_commit: Option<Stat>,
    pub begin_wait_ms_per_commit: Option<Stat>,
    pub busy_events: Option<Stat>,
    pub busy_retries: Option<Stat>,
    pub first_worker_done_ms: Option<Stat>,
    pub last_worker_done_ms: Option<Stat>,
    pub worker_commits_per_sec_min: Option<Stat>,
    pub worker_commits_per_sec_max: Option<Stat>,
    /// Summed over the repeats.
    pub false_corruption: u64,
    pub real_corruption: u64,
    /// Runs in which `<db>.lock` appeared.
    pub sidecar_seen: u32,
    pub integrity_ok: u32,
    /// Power-loss runs only: acknowledged commits and those lost, summed over the repeats.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_loss_acknowledged_lost: Option<[u64; 2]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vs_first: Option<Ratios>,
}

/// Aggregates runs per (workers, strategy), with ratios against the first strategy.
pub fn summarize(
    runs: &[RunSummary],
    presets: &[&Preset],
    groups: &[Group],
) -> Vec<StrategySummary> {
    let mut out = Vec::new();
    for g in groups {
        let mut first: Option<StrategySummary> = None;
        for p in presets {
            let all: Vec<&RunSummary> = runs
                .iter()
                .filter(|r| r.workers == g.workers && r.strategy == p.name)
                .collect();
            let done: Vec<&RunSummary> = all.iter().copied().filter(|r| r.carried_out()).collect();
            let stat = |f: fn(&RunSummary) -> f64| {
                Stat::of(&done.iter().map(|r| f(r)).collect::<Vec<_>>())
            };
            let mut s = StrategySummary {
                strategy: p.name.to_string(),
                workers: g.workers,
                runs: all.len() as u32,
                passed: all.iter().filter(|r| r.verdict == RunVerdict::Pass).count() as u32,
                errors: (all.len() - done.len()) as u32,
                commits_per_sec: stat(|r| r.commits_per_sec),
                wall_secs: stat(|r| r.wall_secs),
                latency_p50_ms: stat(|r| r.latency_ms.p50),
                latency_p99_ms: stat(|r| r.latency_ms.p99),
                latency_max_ms: stat(|r| r.latency_ms.max),
                lock_wait_ms_per_commit: stat(|r| r.lock_wait_ms_per_commit),
                begin_wait_ms_per_commit: stat(|r| r.begin_wait_ms_per_commit),
                busy_events: stat(|r| r.busy_events as f64),
                busy_retries: stat(|r| r.busy_retries as f64),
                first_worker_done_ms: stat(|r| r.first_worker_done_ms),
                last_worker_done_ms: stat(|r| r.last_worker_done_ms),
                worker_commits_per_sec_min: stat(|r| r.worker_commits_per_sec_min),
                worker_commits_per_sec_max: stat(|r| r.worker_commits_per_sec_max),
                false_corruption: done.iter().map(|r| r.false_corruption).sum(),
                real_corruption: done.iter().map(|r| r.real_corruption).sum(),
                sidecar_seen: done.iter().filter(|r| r.sidecar_seen).count() as u32,
                integrity_ok: done.iter().filter(|r| r.integrity_ok).count() as u32,
                power_loss_acknowledged_lost: done
                    .iter()
                    .filter_map(|r| r.power_loss_acknowledged_lost)
                    .reduce(|a, b| [a[0] + b[0], a[1] + b[1]]),
                vs_first: None,
            };
            let ratio = |a: Option<Stat>, b: Option<Stat>| match (a, b) {
                (Some(a), Some(b)) if b.median > 0.0 => Some(round3(a.median / b.median)),
                _ => None,
            };
            let judged = |a: Option<Stat>, b: Option<Stat>| {
                ratio(a, b)?;
                Some(significance(a?.spread(), b?.spread()))
            };
            if let Some(f) = &first {
                s.vs_first = Some(Ratios {
                    against: f.strategy.clone(),
                    commits_per_sec: ratio(s.commits_per_sec, f.commits_per_sec),
                    wall_secs: ratio(s.wall_secs, f.wall_secs),
                    latency_p99_ms: ratio(s.latency_p99_ms, f.latency_p99_ms),
                    significance: RatioSignificance {
                        commits_per_sec: judged(s.commits_per_sec, f.commits_per_sec),
                        wall_secs: judged(s.wall_secs, f.wall_secs),
                        latency_p99_ms: judged(s.latency_p99_ms, f.latency_p99_ms),
                    },
                });
            } else {
                first = Some(s.clone());
            }
            out.push(s);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_median_min_max() {
        let s = Stat::of(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.median, s.min, s.max), (2.0, 1.0, 3.0));
        assert_eq!(Stat::of(&[1.0, 2.0, 3.0, 10.0]).unwrap().median, 2.5);
        assert!(Stat::of(&[]).is_none());
    }

    #[test]
    fn stat_mean_sd_and_interval() {
        let s = Stat::of(&[14.0, 10.0, 12.0]).unwrap();
        assert_eq!((s.n, s.mean, s.std_dev), (3, 12.0, Some(2.0)));
        assert_eq!(s.ci95, Some([7.031, 16.969]));
        let one = Stat::of(&[4.0]).unwrap();
        assert_eq!(
            (one.n, one.mean, one.std_dev, one.ci95),
            (1, 4.0, None, None)
        );
        let ms = s.scaled(0.001);
        assert_eq!((ms.n, ms.mean), (3, 0.012));
    }
}
