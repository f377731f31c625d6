//! Confidence intervals over a strategy's repeats and the overlap rule that marks a ratio
//! "no significant difference", as hyperfine and criterion report them.
//!
//! Student's t comes from a small table rather than a crate: the only well-kept one
//! (`statrs`) pulls in a linear-algebra stack for one number per repeat count.

use serde::{Deserialize, Serialize};

/// Two-sided 95 % critical values of Student's t, t(0.975, df) for df = 1..=30, from the
/// NIST/SEMATECH e-Handbook of Statistical Methods, section 1.3.6.7.2 ("Critical values of
/// the Student's t distribution", column 0.975).
const T975: [f64; 30] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
    2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
    2.052, 2.048, 2.045, 2.042,
];

/// t(0.975, df); `None` for df = 0 (one sample has no spread). Past 30 the same table's
/// rows for 40, 50, 60 and 100 degrees of freedom are used, each for the degrees of freedom
/// from it up to the next row, so the interval is never narrower than the exact one.
pub fn t_975(df: u32) -> Option<f64> {
    match df {
        0 => None,
        1..=30 => Some(T975[df as usize - 1]),
        31..=39 => Some(T975[29]),
        40..=49 => Some(2.021),
        50..=59 => Some(2.009),
        60..=99 => Some(2.000),
        _ => Some(1.984),
    }
}

/// Sample mean, sample standard deviation (n - 1) and the 95 % confidence interval of the
/// mean. The deviation and interval are `None` for a single value.
pub fn mean_sd_ci(v: &[f64]) -> (f64, Option<f64>, Option<[f64; 2]>) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let Some(t) = t_975(v.len().saturating_sub(1) as u32) else {
        return (mean, None, None);
    };
    let sd = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    let half = t * sd / n.sqrt();
    (mean, Some(sd), Some([mean - half, mean + half]))
}

/// Whether the difference between two strategies' values of one metric is more than noise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Significance {
    /// The 95 % confidence intervals (under 3 repeats: the min-max ranges) are disjoint.
    Significant,
    /// They overlap: the ratio may be noise between repeats.
    NoSignificantDifference,
    /// A single repeat: there is no interval or range to judge by.
    NoInterval,
}

impl Significance {
    pub fn is_not_significant(self) -> bool {
        self == Significance::NoSignificantDifference
    }
}

/// What the overlap rule reads of one strategy's metric.
#[derive(Debug, Clone, Copy)]
pub struct Spread {
    pub n: u32,
    pub range: [f64; 2],
    pub ci95: Option<[f64; 2]>,
}

/// Repeats below which the ranges are compared instead of the intervals: with 2 samples
/// t(0.975, 1) = 12.7 makes every interval so wide that nothing would ever differ.
pub const MIN_REPEATS_FOR_INTERVAL: u32 = 3;

fn overlap(a: [f64; 2], b: [f64; 2]) -> bool {
    a[0] <= b[1] && b[0] <= a[1]
}

/// The overlap rule: the intervals when both sides have at least
/// [`MIN_REPEATS_FOR_INTERVAL`] values, else the ranges; one value on either side judges
/// nothing.
pub fn significance(a: Spread, b: Spread) -> Significance {
    if a.n < 2 || b.n < 2 {
        return Significance::NoInterval;
    }
    let (x, y) = match (a.ci95, b.ci95) {
        (Some(x), Some(y))
            if a.n >= MIN_REPEATS_FOR_INTERVAL && b.n >= MIN_REPEATS_FOR_INTERVAL =>
        {
            (x, y)
        }
        _ => (a.range, b.range),
    };
    if overlap(x, y) {
        Significance::NoSignificantDifference
    } else {
        Significance::Significant
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_of_a_hand_computed_case() {
        // 10, 12, 14: mean 12, s = sqrt((4 + 0 + 4) / 2) = 2, standard error 2 / sqrt(3)
        // = 1.1547, t(0.975, 2) = 4.303, half-width 4.9687.
        let (mean, sd, ci) = mean_sd_ci(&[10.0, 12.0, 14.0]);
        assert_eq!(mean, 12.0);
        assert!((sd.unwrap() - 2.0).abs() < 1e-12);
        let [lo, hi] = ci.unwrap();
        assert!((lo - 7.0313).abs() < 1e-3, "{lo}");
        assert!((hi - 16.9687).abs() < 1e-3, "{hi}");
        // One value: a mean, no spread, no interval.
        assert_eq!(mean_sd_ci(&[5.0]), (5.0, None, None));
    }

    #[test]
    fn t_table_reads_the_cited_rows_and_is_conservative_past_30() {
        assert_eq!(t_975(0), None);
        assert_eq!(t_975(1), Some(12.706));
        assert_eq!(t_975(9), Some(2.262));
        assert_eq!(t_975(30), Some(2.042));
        assert_eq!(t_975(35), Some(2.042));
        assert_eq!(t_975(99), Some(2.000));
        // Never below the normal distribution's 1.960, and falling with df.
        let all: Vec<f64> = (1..=120).filter_map(t_975).collect();
        assert!(all.windows(2).all(|w| w[0] >= w[1]));
        assert!(all.iter().all(|&t| t > 1.96));
    }

    fn spread(v: &[f64]) -> Spread {
        let (_, _, ci95) = mean_sd_ci(v);
        Spread {
            n: v.len() as u32,
            range: [
                v.iter().copied().fold(f64::INFINITY, f64::min),
                v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            ],
            ci95,
        }
    }

    #[test]
    fn disjoint_intervals_are_significant_overlapping_ones_are_not() {
        let a = spread(&[100.0, 101.0, 102.0]);
        let far = spread(&[200.0, 201.0, 202.0]);
        assert_eq!(significance(a, far), Significance::Significant);
        assert_eq!(significance(far, a), Significance::Significant);
        // Ranges disjoint (102 < 103) but the intervals (about 98.5-103.5 and
        // 101.5-106.5) overlap: with 3 repeats the intervals decide.
        let near = spread(&[103.0, 104.0, 105.0]);
        assert!(a.range[1] < near.range[0]);
        assert_eq!(significance(a, near), Significance::NoSignificantDifference);
    }

    #[test]
    fn under_three_repeats_the_ranges_decide() {
        // With 2 repeats the t intervals (half-width 12.7 x 0.5 = 6.35) would overlap; the
        // ranges 100-101 and 103-104 do not.
        let a = spread(&[100.0, 101.0]);
        let b = spread(&[103.0, 104.0]);
        assert!(overlap(a.ci95.unwrap(), b.ci95.unwrap()));
        assert_eq!(significance(a, b), Significance::Significant);
        let c = spread(&[100.5, 104.0]);
        assert_eq!(significance(a, c), Significance::NoSignificantDifference);
    }

    #[test]
    fn one_repeat_judges_nothing() {
        let one = spread(&[100.0]);
        let three = spread(&[200.0, 201.0, 202.0]);
        assert_eq!(significance(one, three), Significance::NoInterval);
        assert_eq!(significance(three, one), Significance::NoInterval);
    }
}
