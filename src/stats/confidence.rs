//! How far a percentile measured from n samples can be trusted: distribution-free confidence
//! intervals from order statistics, and the sample count below which a percentile cannot be
//! claimed at all.
//!
//! The number of samples below the true q-quantile ξ_q is binomial: B ~ Binomial(n, q) (for a
//! continuous distribution; for any other it only makes the bounds conservative). So
//! - the u-th smallest sample X_(u) is an upper bound of ξ_q with probability
//!   P(B ≤ u − 1); the **one-sided upper bound** at level γ is X_(u) for the smallest such u
//!   with P(B ≤ u − 1) ≥ γ;
//! - the **two-sided interval** at level γ is [X_(l), X_(u)] with l the largest rank such that
//!   P(B ≤ l − 1) ≤ (1 − γ)/2 and u the smallest such that P(B ≤ u − 1) ≥ 1 − (1 − γ)/2;
//!   either end may not exist with few samples (then it is `None`: no sample is far enough
//!   out);
//! - a percentile **can be claimed** once its one-sided upper bound exists, i.e. once even the
//!   maximum of n samples is an upper bound at level γ: qⁿ ≤ 1 − γ. Below that count the point
//!   value is withheld (reported as `None`): it says no more than "somewhere up to the maximum,
//!   or beyond". At 95 % that is 5 samples for p50, 29 for p90, 59 for p95, 299 for p99; at
//!   99 % it is 7, 44, 90 and 459.
//!
//! Binomial probabilities come from statrs' regularized incomplete beta function.

use super::exact::nearest_rank;
use serde::{Deserialize, Serialize};
use statrs::distribution::{Binomial, DiscreteCDF};

/// The confidence level used when none is given (`--confidence`).
pub const DEFAULT_CONFIDENCE: f64 = 0.95;

/// How the intervals are computed, as stated in the JSON file.
pub const INTERVAL_METHOD: &str = "order statistics (distribution-free binomial interval)";

/// True for a usable confidence level: a number strictly between 0 and 1.
pub fn valid_level(level: f64) -> bool {
    level.is_finite() && level > 0.0 && level < 1.0
}

/// P(B ≤ k) for B ~ Binomial(n, p).
pub fn binomial_cdf(k: u64, n: u64, p: f64) -> f64 {
    if k >= n {
        return 1.0;
    }
    match Binomial::new(p.clamp(0.0, 1.0), n) {
        Ok(b) => b.cdf(k),
        Err(_) => f64::NAN,
    }
}

/// P(B ≥ k) for B ~ Binomial(n, p).
pub fn binomial_at_least(k: u64, n: u64, p: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if k > n {
        return 0.0;
    }
    match Binomial::new(p.clamp(0.0, 1.0), n) {
        Ok(b) => b.sf(k - 1),
        Err(_) => f64::NAN,
    }
}

/// The smallest rank `u` in `1..=n` with `P(B ≤ u − 1) ≥ target`, B ~ Binomial(n, q).
fn smallest_rank_reaching(n: u64, q: f64, target: f64) -> Option<u64> {
    if n == 0 || binomial_cdf(n - 1, n, q) < target {
        return None;
    }
    // cdf(u − 1) grows with u: bisect on u in [1, n].
    let (mut lo, mut hi) = (1u64, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if binomial_cdf(mid - 1, n, q) >= target {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    Some(lo)
}

/// The largest rank `l` in `1..=n` with `P(B ≤ l − 1) ≤ target`, B ~ Binomial(n, q).
fn largest_rank_within(n: u64, q: f64, target: f64) -> Option<u64> {
    // P(B ≤ 0) = (1 − q)ⁿ is the smallest value cdf(l − 1) takes.
    if n == 0 || binomial_cdf(0, n, q) > target {
        return None;
    }
    let (mut lo, mut hi) = (1u64, n);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if binomial_cdf(mid - 1, n, q) <= target {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    Some(lo)
}

/// 1-based rank of the one-sided upper confidence bound of the q-quantile (q in (0, 1)) at
/// `level` among `n` sorted samples; `None` when even the maximum is not one.
pub fn upper_bound_rank(n: u64, q: f64, level: f64) -> Option<u64> {
    if !(valid_level(level) && q > 0.0 && q < 1.0) {
        return None;
    }
    smallest_rank_reaching(n, q, level)
}

/// 1-based ranks (lower, upper) of the two-sided confidence interval of the q-quantile at
/// `level` among `n` sorted samples; an end is `None` when no sample is far enough out.
pub fn interval_ranks(n: u64, q: f64, level: f64) -> (Option<u64>, Option<u64>) {
    if !(valid_level(level) && q > 0.0 && q < 1.0) {
        return (None, None);
    }
    let tail = (1.0 - level) / 2.0;
    (
        largest_rank_within(n, q, tail),
        smallest_rank_reaching(n, q, 1.0 - tail),
    )
}

/// The fewest samples from which the p-th percentile (0 < p < 100) can be claimed at `level`:
/// the smallest n whose maximum is a one-sided upper bound, i.e. (p/100)ⁿ ≤ 1 − level.
/// `None` for p outside (0, 100) or an unusable level.
pub fn min_samples_to_claim(p: f64, level: f64) -> Option<u64> {
    let q = p / 100.0;
    if !(valid_level(level) && q > 0.0 && q < 1.0) {
        return None;
    }
    let estimate = ((1.0 - level).ln() / q.ln()).ceil();
    if !estimate.is_finite() || estimate > 1e12 {
        return None;
    }
    // Settle on exactly what `upper_bound_rank` says, whatever rounding the estimate suffered.
    let mut n = (estimate as u64).max(1);
    while upper_bound_rank(n, q, level).is_none() {
        n += 1;
    }
    while n > 1 && upper_bound_rank(n - 1, q, level).is_some() {
        n -= 1;
    }
    Some(n)
}

/// One percentile with its confidence. Values in the samples' unit; ranks 1-based.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PercentileEstimate {
    /// The nearest-rank value; `None` below [`min_samples_to_claim`].
    pub value: Option<f64>,
    /// Its rank among the sorted samples (with `value`).
    pub rank: Option<u64>,
    /// Lower end of the two-sided interval; `None` when no sample is low enough.
    pub lower: Option<f64>,
    /// Upper end of the two-sided interval; `None` when no sample is high enough.
    pub upper: Option<f64>,
    /// One-sided upper bound: the percentile is at most this, at the confidence level.
    pub upper_bound: Option<f64>,
    /// Samples needed before the percentile can be claimed at this level.
    pub needed_samples: Option<u64>,
}

impl PercentileEstimate {
    /// The estimate of the p-th percentile (0 < p < 100) of samples sorted in ascending order.
    pub fn of_sorted(sorted: &[f64], p: f64, level: f64) -> PercentileEstimate {
        let n = sorted.len() as u64;
        let q = p / 100.0;
        let at = |rank: Option<u64>| rank.map(|r| sorted[(r - 1) as usize]);
        let needed = min_samples_to_claim(p, level);
        let claimable = needed.is_some_and(|m| n >= m);
        let rank = if claimable {
            nearest_rank(p, sorted.len()).map(|r| r as u64)
        } else {
            None
        };
        let (lo, hi) = interval_ranks(n, q, level);
        PercentileEstimate {
            value: at(rank),
            rank,
            lower: at(lo),
            upper: at(hi),
            upper_bound: at(upper_bound_rank(n, q, level)),
            needed_samples: needed,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// P(B ≤ k), B ~ Binomial(n, p), by summing the probabilities term by term in f64: the
    /// terms are built from their ratios outwards from the mode (so none underflows), then
    /// normalised by their total.
    pub(crate) fn brute_cdf(k: u64, n: u64, p: f64) -> f64 {
        if k >= n {
            return 1.0;
        }
        let mode = (((n + 1) as f64 * p).floor() as u64).min(n);
        let mut w = vec![0.0f64; n as usize + 1];
        w[mode as usize] = 1.0;
        // pmf(i + 1) / pmf(i) = (n − i)/(i + 1) · p/(1 − p)
        for i in mode..n {
            w[i as usize + 1] = w[i as usize] * (n - i) as f64 / (i + 1) as f64 * p / (1.0 - p);
        }
        for i in (1..=mode).rev() {
            w[i as usize - 1] = w[i as usize] * i as f64 / (n - i + 1) as f64 * (1.0 - p) / p;
        }
        let total: f64 = w.iter().sum();
        w[..=k as usize].iter().sum::<f64>() / total
    }

    #[test]
    fn binomial_matches_a_term_by_term_sum() {
        for &(n, p) in &[
            (10u64, 0.5),
            (64, 0.1),
            (459, 0.01),
            (10_000, 0.01),
            (270, 0.1),
        ] {
            for k in [0, 1, 2, 3, 5, 15, 77, 100] {
                let (got, want) = (binomial_cdf(k, n, p), brute_cdf(k, n, p).min(1.0));
                assert!(
                    (got - want).abs() <= 1e-9 * want.max(1e-300) + 1e-14,
                    "cdf({k}; {n}, {p}) = {got}, sum {want}"
                );
                if k >= 1 {
                    let at_least = binomial_at_least(k, n, p);
                    assert!((at_least - (1.0 - brute_cdf(k - 1, n, p))).abs() < 1e-9);
                }
            }
        }
        assert_eq!(binomial_at_least(0, 5, 0.3), 1.0);
        assert_eq!(binomial_at_least(6, 5, 0.3), 0.0);
    }

    /// The ranks the textbook way: walk every rank and test the defining inequality with the
    /// term-by-term sum.
    fn brute_ranks(n: u64, q: f64, level: f64) -> (Option<u64>, Option<u64>, Option<u64>) {
        let tail = (1.0 - level) / 2.0;
        let lower = (1..=n).rev().find(|&l| brute_cdf(l - 1, n, q) <= tail);
        let upper = (1..=n).find(|&u| brute_cdf(u - 1, n, q) >= 1.0 - tail);
        let one_sided = (1..=n).find(|&u| brute_cdf(u - 1, n, q) >= level);
        (lower, upper, one_sided)
    }

    #[test]
    fn ranks_match_brute_force() {
        for n in [1u64, 2, 5, 10, 29, 44, 59, 100, 299, 460, 1000] {
            for q in [0.5, 0.9, 0.95, 0.99] {
                for level in [0.9, 0.95, 0.99] {
                    let (l, u) = interval_ranks(n, q, level);
                    let (bl, bu, b1) = brute_ranks(n, q, level);
                    assert_eq!((l, u), (bl, bu), "n {n} q {q} level {level}");
                    assert_eq!(
                        upper_bound_rank(n, q, level),
                        b1,
                        "n {n} q {q} level {level}"
                    );
                }
            }
        }
    }

    #[test]
    fn published_median_intervals() {
        // Distribution-free 95 % intervals of the median found in the usual tables:
        // n = 10 → (X(2), X(9)), coverage 97.85 %; n = 100 → (X(40), X(61)), coverage 96.48 %.
        assert_eq!(interval_ranks(10, 0.5, 0.95), (Some(2), Some(9)));
        assert_eq!(interval_ranks(100, 0.5, 0.95), (Some(40), Some(61)));
        let coverage = brute_cdf(8, 10, 0.5) - brute_cdf(1, 10, 0.5);
        assert!((coverage - 0.978_515_625).abs() < 1e-12);
    }

    #[test]
    fn claim_thresholds() {
        // (p/100)^n ≤ 1 − level, worked out by hand with logarithms:
        // ln 0.05 / ln 0.99 = 298.07 → 299; ln 0.01 / ln 0.9 = 43.7 → 44.
        for (p, level, want) in [
            (50.0, 0.95, 5),
            (90.0, 0.95, 29),
            (95.0, 0.95, 59),
            (99.0, 0.95, 299),
            (50.0, 0.99, 7),
            (90.0, 0.99, 44),
            (95.0, 0.99, 90),
            (99.0, 0.99, 459),
        ] {
            assert_eq!(
                min_samples_to_claim(p, level),
                Some(want),
                "p{p} at {level}"
            );
            let q: f64 = p / 100.0;
            assert!(q.powi(want as i32) <= 1.0 - level);
            assert!(q.powi(want as i32 - 1) > 1.0 - level);
        }
        assert_eq!(min_samples_to_claim(100.0, 0.95), None);
        assert_eq!(min_samples_to_claim(0.0, 0.95), None);
        assert_eq!(min_samples_to_claim(99.0, 1.0), None);
        assert_eq!(min_samples_to_claim(99.0, f64::NAN), None);
    }

    #[test]
    fn estimate_withholds_what_cannot_be_claimed() {
        let sorted: Vec<f64> = (1..=10).map(f64::from).collect();
        // p50 of 10 at 95 %: claimable (needs 5); nearest rank 5; interval ranks 2 and 9. The
        // one-sided bound, B ~ Bin(10, 0.5): P(B ≤ 7) = 968/1024 = 0.9453 < 0.95 and
        // P(B ≤ 8) = 1013/1024 = 0.9893, so u − 1 = 8: the 9th value.
        let e = PercentileEstimate::of_sorted(&sorted, 50.0, 0.95);
        assert_eq!(e.value, Some(5.0));
        assert_eq!(e.rank, Some(5));
        assert_eq!((e.lower, e.upper), (Some(2.0), Some(9.0)));
        assert_eq!(e.upper_bound, Some(9.0));
        assert_eq!(e.needed_samples, Some(5));
        // p99 of 10: nothing but a lower end.
        let e = PercentileEstimate::of_sorted(&sorted, 99.0, 0.95);
        assert_eq!(
            (e.value, e.rank, e.upper, e.upper_bound),
            (None, None, None, None)
        );
        assert_eq!(e.needed_samples, Some(299));
        // Its lower end, B ~ Bin(10, 0.99): P(B ≤ 9) = 1 − 0.99^10 = 0.0956 > 0.025, but
        // P(B ≤ 8) = 1 − 0.99^10 − 10 · 0.99^9 · 0.01 = 0.0043 ≤ 0.025: the 9th value.
        assert_eq!(e.lower, Some(9.0));
        let empty = PercentileEstimate::of_sorted(&[], 90.0, 0.95);
        assert_eq!((empty.value, empty.lower, empty.upper), (None, None, None));
    }
}
