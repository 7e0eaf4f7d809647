//! Exact statistics over every sample of a run: nearest-rank percentiles, the conventional
//! median, mean, sample standard deviation, minimum and maximum, and the rule that says when a
//! percentile is no more than the maximum because there are too few samples.

use serde::{Deserialize, Serialize};

/// How percentiles are computed, as stated in the JSON file.
pub const PERCENTILE_METHOD: &str = "nearest-rank";

/// How `median` is computed, as stated in the JSON file.
pub const MEDIAN_METHOD: &str = "middle value, or mean of the two middle values when n is even";

/// Relative slack when taking ⌈p/100·n⌉, so that 95/100·20 is rank 19 even though 0.95 has no
/// exact binary form. Far below any meaningful difference in p or n.
const RANK_SLACK: f64 = 1e-9;

fn valid_percentile(p: f64) -> bool {
    p.is_finite() && (0.0..=100.0).contains(&p)
}

/// The 1-based rank of the p-th percentile among `n` sorted values by nearest rank:
/// ⌈p/100·n⌉, at least 1. `p = 0` gives rank 1 (the minimum), `p = 100` gives `n` (the maximum).
/// `None` when `n = 0` or `p` is not a number in `[0, 100]`.
pub fn nearest_rank(p: f64, n: usize) -> Option<usize> {
    if n == 0 || !valid_percentile(p) {
        return None;
    }
    let x = p * n as f64 / 100.0;
    let rank = (x - RANK_SLACK * x.max(1.0)).ceil();
    Some((rank.max(1.0) as usize).min(n))
}

/// The p-th percentile (nearest rank) of values sorted in ascending order.
pub fn percentile_sorted(sorted: &[f64], p: f64) -> Option<f64> {
    nearest_rank(p, sorted.len()).map(|k| sorted[k - 1])
}

/// The conventional median of values sorted in ascending order: the middle value, or the mean
/// of the two middle values when there is an even number of them.
pub fn median_sorted(sorted: &[f64]) -> Option<f64> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    if n % 2 == 1 {
        Some(sorted[n / 2])
    } else {
        Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0)
    }
}

/// True when, with `n` samples, the p-th percentile is simply the largest one (so it says nothing
/// more than the maximum does). False for `n = 0` (there is no value at all).
pub fn percentile_is_max(p: f64, n: usize) -> bool {
    nearest_rank(p, n) == Some(n)
}

/// The smallest number of samples for which the p-th percentile (nearest rank) is not just the
/// maximum: 10 for p90, 20 for p95, 100 for p99, 1000 for p99.9. `None` when no number of
/// samples will do (p ≥ 100, or p not a number in `[0, 100]`).
pub fn min_samples_for(p: f64) -> Option<u64> {
    if !valid_percentile(p) || p >= 100.0 {
        return None;
    }
    // ⌈p·n/100⌉ ≤ n − 1  ⟺  n ≥ 100 / (100 − p); and one sample is always its own maximum.
    let estimate = (100.0 / (100.0 - p)).ceil();
    if !estimate.is_finite() || estimate > 1e15 {
        return None;
    }
    let mut n = (estimate as u64).saturating_sub(2).max(2);
    // Settle on exactly what `nearest_rank` says, whatever rounding the estimate suffered.
    while percentile_is_max(p, n as usize) {
        n += 1;
    }
    while n > 2 && !percentile_is_max(p, n as usize - 1) {
        n -= 1;
    }
    Some(n)
}

/// Finite samples in ascending order (non-finite values are dropped).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sorted(Vec<f64>);

impl Sorted {
    pub fn new(values: impl IntoIterator<Item = f64>) -> Sorted {
        let mut v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
        v.sort_by(f64::total_cmp);
        Sorted(v)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn as_slice(&self) -> &[f64] {
        &self.0
    }

    pub fn min(&self) -> Option<f64> {
        self.0.first().copied()
    }

    pub fn max(&self) -> Option<f64> {
        self.0.last().copied()
    }

    /// Arithmetic mean (compensated summation).
    pub fn mean(&self) -> Option<f64> {
        if self.0.is_empty() {
            return None;
        }
        Some(compensated_sum(self.0.iter().copied()) / self.0.len() as f64)
    }

    /// The conventional median (see [`median_sorted`]).
    pub fn median(&self) -> Option<f64> {
        median_sorted(&self.0)
    }

    /// The p-th percentile by nearest rank (see [`nearest_rank`]).
    pub fn percentile(&self, p: f64) -> Option<f64> {
        percentile_sorted(&self.0, p)
    }

    /// Sample standard deviation (n − 1), two-pass; `None` below two samples.
    pub fn stddev(&self) -> Option<f64> {
        let n = self.0.len();
        if n < 2 {
            return None;
        }
        let mean = self.mean()?;
        let ss = compensated_sum(self.0.iter().map(|x| (x - mean) * (x - mean)));
        Some((ss / (n - 1) as f64).sqrt())
    }

    pub fn into_vec(self) -> Vec<f64> {
        self.0
    }
}

/// Neumaier's compensated sum: exact enough that a mean of a few thousand latencies does not
/// drift in the last digits shown.
fn compensated_sum(values: impl Iterator<Item = f64>) -> f64 {
    let mut sum = 0.0f64;
    let mut c = 0.0f64;
    for x in values {
        let t = sum + x;
        if sum.abs() >= x.abs() {
            c += (sum - t) + x;
        } else {
            c += (x - t) + sum;
        }
        sum = t;
    }
    sum + c
}

/// The usual figures of one set of samples (seconds, for latencies). Every figure is `None`
/// when there are no samples; `stddev` also below two.
///
/// `median` is the conventional median (mean of the two middle values for an even count, as the
/// seed tool reported); `p50`…`p99` are nearest-rank percentiles, always measured values.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Summary {
    pub count: u64,
    pub mean: Option<f64>,
    pub median: Option<f64>,
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub stddev: Option<f64>,
    /// The samples themselves, for other percentiles; not saved.
    #[serde(skip)]
    samples: Sorted,
}

impl PartialEq for Summary {
    /// Compares the figures, not the kept samples (a summary read back from JSON has none).
    fn eq(&self, o: &Self) -> bool {
        self.count == o.count
            && self.mean == o.mean
            && self.median == o.median
            && self.p50 == o.p50
            && self.p90 == o.p90
            && self.p95 == o.p95
            && self.p99 == o.p99
            && self.min == o.min
            && self.max == o.max
            && self.stddev == o.stddev
    }
}

impl Summary {
    /// Summarises the finite values among `values`.
    pub fn of(values: impl IntoIterator<Item = f64>) -> Summary {
        Summary::from_sorted(Sorted::new(values))
    }

    pub fn from_sorted(s: Sorted) -> Summary {
        Summary {
            count: s.len() as u64,
            mean: s.mean(),
            median: s.median(),
            p50: s.percentile(50.0),
            p90: s.percentile(90.0),
            p95: s.percentile(95.0),
            p99: s.percentile(99.0),
            min: s.min(),
            max: s.max(),
            stddev: s.stddev(),
            samples: s,
        }
    }

    /// Any percentile by nearest rank. Computed from the samples when this summary has them;
    /// a summary read back from JSON knows only p50, p90, p95, p99 and p100 (the maximum).
    pub fn percentile(&self, p: f64) -> Option<f64> {
        if !self.samples.is_empty() {
            return self.samples.percentile(p);
        }
        match p {
            50.0 => self.p50,
            90.0 => self.p90,
            95.0 => self.p95,
            99.0 => self.p99,
            100.0 => self.max,
            _ => None,
        }
    }

    /// The samples kept (empty for a summary read back from JSON).
    pub fn samples(&self) -> &[f64] {
        self.samples.as_slice()
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Nearest rank the textbook way, in exact integer arithmetic on hundredths of a percent:
    /// the smallest k with k ≥ p·n/100, i.e. 10000·k ≥ (100·p)·n.
    fn rank_reference(p_hundredths: u64, n: usize) -> usize {
        let n = n as u64;
        let k = (p_hundredths * n).div_ceil(10_000).max(1);
        k.min(n) as usize
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
    }

    #[test]
    fn hand_computed_small_set() {
        // 1..=10 shuffled: by hand, mean 5.5, median (5+6)/2 = 5.5, nearest-rank p50 = 5th = 5,
        // p90 = 9th = 9, p95 = ⌈9.5⌉ = 10th = 10, p99 = 10, sd = sqrt(82.5/9) = 3.0276503540974917.
        let s = Summary::of([3.0, 7.0, 1.0, 10.0, 5.0, 2.0, 9.0, 4.0, 8.0, 6.0]);
        assert_eq!(s.count, 10);
        assert_eq!(s.mean, Some(5.5));
        assert_eq!(s.median, Some(5.5));
        assert_eq!(s.p50, Some(5.0));
        assert_eq!(s.p90, Some(9.0));
        assert_eq!(s.p95, Some(10.0));
        assert_eq!(s.p99, Some(10.0));
        assert_eq!(s.min, Some(1.0));
        assert_eq!(s.max, Some(10.0));
        assert!(close(s.stddev.unwrap(), (82.5f64 / 9.0).sqrt()));
    }

    #[test]
    fn odd_count_median_and_tiny_sets() {
        let s = Summary::of([2.0, 9.0, 4.0]);
        assert_eq!(s.median, Some(4.0));
        assert_eq!(s.p50, Some(4.0)); // ⌈1.5⌉ = 2nd
        let one = Summary::of([7.25]);
        assert_eq!(
            (one.mean, one.median, one.p99, one.min, one.max),
            (Some(7.25), Some(7.25), Some(7.25), Some(7.25), Some(7.25))
        );
        assert_eq!(one.stddev, None);
        let none = Summary::of([]);
        assert_eq!(none.count, 0);
        assert_eq!(
            (none.mean, none.median, none.p50, none.stddev),
            (None, None, None, None)
        );
    }

    #[test]
    fn non_finite_samples_are_dropped() {
        let s = Summary::of([1.0, f64::NAN, 3.0, f64::INFINITY]);
        assert_eq!(s.count, 2);
        assert_eq!(s.mean, Some(2.0));
    }

    #[test]
    fn rank_edges() {
        assert_eq!(nearest_rank(0.0, 5), Some(1));
        assert_eq!(nearest_rank(100.0, 5), Some(5));
        assert_eq!(nearest_rank(95.0, 20), Some(19));
        assert_eq!(nearest_rank(99.9, 1000), Some(999));
        assert_eq!(nearest_rank(50.0, 0), None);
        assert_eq!(nearest_rank(-1.0, 5), None);
        assert_eq!(nearest_rank(100.5, 5), None);
        assert_eq!(nearest_rank(f64::NAN, 5), None);
    }

    #[test]
    fn too_few_samples_rule() {
        assert_eq!(min_samples_for(99.0), Some(100));
        assert_eq!(min_samples_for(95.0), Some(20));
        assert_eq!(min_samples_for(90.0), Some(10));
        assert_eq!(min_samples_for(50.0), Some(2));
        assert_eq!(min_samples_for(99.9), Some(1000));
        assert_eq!(min_samples_for(0.0), Some(2));
        assert_eq!(min_samples_for(100.0), None);
        assert_eq!(min_samples_for(f64::NAN), None);
        assert!(percentile_is_max(99.0, 99));
        assert!(!percentile_is_max(99.0, 100));
        assert!(!percentile_is_max(99.0, 0));
    }

    #[test]
    fn summary_percentile_falls_back_to_saved_figures() {
        let s = Summary::of((1..=200).map(f64::from));
        assert_eq!(s.percentile(99.5), Some(199.0));
        let back: Summary = serde_json::from_value(serde_json::to_value(&s).unwrap()).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.percentile(95.0), Some(190.0));
        assert_eq!(back.percentile(99.5), None);
    }

    proptest! {
        #[test]
        fn rank_matches_integer_reference(p_h in 0u64..=10_000, n in 1usize..2_000) {
            let p = p_h as f64 / 100.0;
            prop_assert_eq!(nearest_rank(p, n), Some(rank_reference(p_h, n)));
        }

        #[test]
        fn min_samples_matches_brute_force(p_h in 0u64..9_990) {
            let p = p_h as f64 / 100.0;
            let brute = (1..).find(|&n| rank_reference(p_h, n) < n).unwrap() as u64;
            prop_assert_eq!(min_samples_for(p), Some(brute));
        }

        #[test]
        fn summary_matches_sort_based_reference(
            values in proptest::collection::vec(0.0f64..600.0, 1..300)
        ) {
            let s = Summary::of(values.iter().copied());
            let mut sorted = values.clone();
            sorted.sort_by(|a, b| a.partial_cmp(b).unwrap());
            let n = sorted.len();
            let mean: f64 = values.iter().sum::<f64>() / n as f64;
            let median = if n % 2 == 1 { sorted[n / 2] } else { (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0 };
            prop_assert_eq!(s.count as usize, n);
            prop_assert!(close(s.mean.unwrap(), mean));
            prop_assert_eq!(s.median.unwrap(), median);
            prop_assert_eq!(s.min.unwrap(), sorted[0]);
            prop_assert_eq!(s.max.unwrap(), sorted[n - 1]);
            for (p_h, got) in [(5000, s.p50), (9000, s.p90), (9500, s.p95), (9900, s.p99)] {
                prop_assert_eq!(got.unwrap(), sorted[rank_reference(p_h, n) - 1]);
            }
            if n >= 2 {
                let var = values.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
                prop_assert!((s.stddev.unwrap() - var.sqrt()).abs() <= 1e-9 * var.sqrt().max(1.0));
            } else {
                prop_assert_eq!(s.stddev, None);
            }
        }
    }
}
