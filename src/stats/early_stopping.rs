//! Whether a percentile bound ("p99 under 20 s") is met, with a stated confidence, from the
//! requests a run had: the early-stopping rule of MLPerf Inference's LoadGen
//! (mlcommons/inference, `loadgen/early_stopping.cc` and its use in `loadgen/results.cc`),
//! computed here with statrs' binomial distribution.
//!
//! The rule, for a bound that a share q of requests must meet (q = 0.99 for p99) and a
//! confidence c: with t requests over the bound, a run passes once it has at least h + t
//! requests, h being the smallest number such that
//!
//! > P(at most t of h + t requests are over the bound | exactly a share 1 − q is) < 1 − c,
//!
//! i.e. `binomial_cdf(t, h + t, 1 − q) < 1 − c` (LoadGen writes it as the regularized incomplete
//! beta I_q(h, t + 1); its tolerance is 0 here). If the true share over the bound were 1 − q or
//! more, a run would show so few slow requests less than 1 − c of the time. LoadGen uses this
//! as it stands for its server scenario ([`requests_needed`], [`passes`]): 44, 90 and 459
//! requests with none over the bound for p90, p95 and p99 at 99 %; with 100 requests a p90
//! bound allows 3 slower ones, with 270 it allows 15, with 10 000 a p99 bound allows 77.
//!
//! Its single-stream scenario reports a percentile *estimate* instead: it counts the estimate
//! itself as over the bound, so it needs [`single_stream_min_queries`] = h(1) + 1 samples
//! before it says anything (11, 64, 130 and 662 for p50, p90, p95 and p99 at 99 %) and then
//! reports the t-th largest sample for the largest passing t ([`single_stream_estimate_rank`]).
//!
//! LoadGen has two outcomes (the run is successful, or it needs k more requests). fluxprobe
//! adds the mirror test for a third ([`decide`]): the bound is *missed* with confidence c when
//! P(at least t of n are over | the share over is exactly 1 − q) < 1 − c — so many slow
//! requests would be that unlikely if the bound held. Neither: the verdict waits for
//! more requests, and [`Decision::Undecided`] says how many would settle it if none of them
//! were slow.

use super::confidence::{binomial_at_least, binomial_cdf, valid_level};

/// The confidence LoadGen uses for early stopping.
pub const LOADGEN_CONFIDENCE: f64 = 0.99;

/// Largest count searched (beyond it the answer is "not with any practical run").
const MAX_REQUESTS: u64 = 1 << 40;

fn valid(q: f64, confidence: f64) -> bool {
    q > 0.0 && q < 1.0 && valid_level(confidence)
}

/// LoadGen's odds: P(at most `t` of `h + t` requests over the bound) when a share 1 − q of all
/// requests is over it.
fn odds(h: u64, t: u64, q: f64) -> f64 {
    binomial_cdf(t, h + t, 1.0 - q)
}

/// The smallest h such that a run of h + t requests with t over the bound passes: odds(h, t, q)
/// < 1 − c. `None` for q outside (0, 1), an unusable confidence, or no practical h.
pub fn min_passing(t: u64, q: f64, confidence: f64) -> Option<u64> {
    if !valid(q, confidence) {
        return None;
    }
    let alpha = 1.0 - confidence;
    let passing = |h: u64| odds(h, t, q) < alpha;
    // odds(0, t) = 1: h = 0 never passes. Grow an upper end, then bisect (odds falls with h).
    let mut hi = 1u64;
    while !passing(hi) {
        if hi >= MAX_REQUESTS {
            return None;
        }
        hi *= 2;
    }
    let mut lo = hi / 2; // fails (or is 0, which always fails)
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if passing(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Some(hi)
}

/// Requests a run needs in all to pass with `violations` of them over the bound (LoadGen's
/// server scenario: h + t).
pub fn requests_needed(violations: u64, q: f64, confidence: f64) -> Option<u64> {
    min_passing(violations, q, confidence).map(|h| h + violations)
}

/// True when `n` requests with `violations` over the bound pass: n ≥ h(t) + t, equivalently
/// `binomial_cdf(t, n, 1 − q) < 1 − c`.
pub fn passes(n: u64, violations: u64, q: f64, confidence: f64) -> bool {
    valid(q, confidence)
        && violations <= n
        && binomial_cdf(violations, n, 1.0 - q) < 1.0 - confidence
}

/// The most requests over the bound a run of `n` can have and still pass; `None` when even a
/// run with none fails (too few requests).
pub fn max_violations(n: u64, q: f64, confidence: f64) -> Option<u64> {
    if !passes(n, 0, q, confidence) {
        return None;
    }
    // `passes` holds for t = 0..=t_max and no further (the cdf grows with t).
    let (mut lo, mut hi) = (0u64, n);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if passes(n, mid, q, confidence) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    Some(lo)
}

/// LoadGen's single-stream minimum: the samples needed before an early-stopping estimate of
/// the q-quantile exists, h(1) + 1.
pub fn single_stream_min_queries(q: f64, confidence: f64) -> Option<u64> {
    min_passing(1, q, confidence).map(|h| h + 1)
}

/// LoadGen's single-stream early-stopping estimate of the q-quantile among `n` sorted samples:
/// the 1-based rank n − t + 1 (the t-th largest) for the largest t with n ≥ h(t) + t; `None`
/// below [`single_stream_min_queries`].
pub fn single_stream_estimate_rank(n: u64, q: f64, confidence: f64) -> Option<u64> {
    let min = single_stream_min_queries(q, confidence)?;
    if n < min {
        return None;
    }
    let t = max_violations(n, q, confidence)?.max(1);
    Some(n - t + 1)
}

/// A verdict on a percentile bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Met, with the confidence asked for.
    Pass,
    /// Missed, with the confidence asked for.
    Fail,
    /// Not settled yet: `needed` requests in all would pass it if none more were over the
    /// bound.
    Undecided { needed: Option<u64> },
}

/// Judges a bound that a share `q` of requests must meet, from `n` requests of which
/// `violations` did not, at `confidence` (which must be above one half, so that PASS and FAIL
/// exclude each other). `None` for arguments out of range.
pub fn decide(n: u64, violations: u64, q: f64, confidence: f64) -> Option<Decision> {
    if !valid(q, confidence) || confidence <= 0.5 || violations > n {
        return None;
    }
    if passes(n, violations, q, confidence) {
        return Some(Decision::Pass);
    }
    if binomial_at_least(violations, n, 1.0 - q) < 1.0 - confidence {
        return Some(Decision::Fail);
    }
    Some(Decision::Undecided {
        needed: requests_needed(violations, q, confidence),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::stats::confidence::tests::brute_cdf;

    /// The smallest h with brute_cdf(t, h + t, 1 − q) < 1 − c, by walking h upwards.
    fn brute_min_passing(t: u64, q: f64, c: f64) -> u64 {
        (1..)
            .find(|&h| brute_cdf(t, h + t, 1.0 - q) < 1.0 - c)
            .unwrap()
    }

    #[test]
    fn single_stream_minimums_at_99_percent() {
        // LoadGen's single-stream "need to process at least h(1) + 1 queries".
        let got: Vec<u64> = [0.5, 0.9, 0.95, 0.99]
            .iter()
            .map(|&q| single_stream_min_queries(q, 0.99).unwrap())
            .collect();
        assert_eq!(got, vec![11, 64, 130, 662]);
        // By hand for p50: P(B ≤ 1), B ~ Bin(n, ½) = (n + 1)/2ⁿ: 11/1024 ≥ 0.01 at n = 10,
        // 12/2048 < 0.01 at n = 11.
        assert_eq!(brute_cdf(1, 10, 0.5), 11.0 / 1024.0);
        assert_eq!(brute_cdf(1, 11, 0.5), 12.0 / 2048.0);
        for q in [0.5, 0.9, 0.95, 0.99] {
            assert_eq!(
                single_stream_min_queries(q, 0.99).unwrap(),
                brute_min_passing(1, q, 0.99) + 1
            );
        }
    }

    #[test]
    fn server_minimums_with_no_violation() {
        let got: Vec<u64> = [0.9, 0.95, 0.99]
            .iter()
            .map(|&q| requests_needed(0, q, 0.99).unwrap())
            .collect();
        assert_eq!(got, vec![44, 90, 459]);
        // With none over the bound the rule is qⁿ < 0.01: ln 0.01 / ln 0.99 = 458.2 → 459.
        assert!(0.99f64.powi(459) < 0.01 && 0.99f64.powi(458) >= 0.01);
        assert!(0.9f64.powi(44) < 0.01 && 0.9f64.powi(43) >= 0.01);
    }

    #[test]
    fn allowed_violations() {
        assert_eq!(max_violations(100, 0.9, 0.99), Some(3));
        assert_eq!(max_violations(270, 0.9, 0.99), Some(15));
        assert_eq!(max_violations(10_000, 0.99, 0.99), Some(77));
        // …and each is the edge by the term-by-term sum: t passes, t + 1 does not.
        for (n, q, t) in [(100u64, 0.9, 3u64), (270, 0.9, 15), (10_000, 0.99, 77)] {
            assert!(brute_cdf(t, n, 1.0 - q) < 0.01, "n {n} t {t}");
            assert!(brute_cdf(t + 1, n, 1.0 - q) >= 0.01, "n {n} t {}", t + 1);
        }
        assert_eq!(max_violations(43, 0.9, 0.99), None);
        assert_eq!(max_violations(44, 0.9, 0.99), Some(0));
    }

    #[test]
    fn requests_needed_and_passes_agree() {
        for q in [0.5, 0.9, 0.95, 0.99] {
            for t in [0u64, 1, 2, 5, 20] {
                let need = requests_needed(t, q, 0.99).unwrap();
                assert_eq!(need - t, brute_min_passing(t, q, 0.99), "q {q} t {t}");
                assert!(passes(need, t, q, 0.99));
                assert!(!passes(need - 1, t, q, 0.99));
            }
        }
    }

    #[test]
    fn single_stream_estimate_is_the_t_th_largest() {
        assert_eq!(single_stream_estimate_rank(63, 0.9, 0.99), None);
        // At the minimum, the estimate is the maximum.
        assert_eq!(single_stream_estimate_rank(64, 0.9, 0.99), Some(64));
        // 270 samples allow 15 over a p90 bound: the 15th largest, rank 256.
        assert_eq!(single_stream_estimate_rank(270, 0.9, 0.99), Some(256));
    }

    #[test]
    fn decisions() {
        use Decision::*;
        // Few requests, none slow: undecided, and 459 in all would settle a p99 bound.
        assert_eq!(
            decide(20, 0, 0.99, 0.99),
            Some(Undecided { needed: Some(459) })
        );
        assert_eq!(decide(459, 0, 0.99, 0.99), Some(Pass));
        assert_eq!(decide(100, 3, 0.9, 0.99), Some(Pass));
        // 4 slow of 100 for p90: not a pass, not a fail (10 % would be the edge).
        assert_eq!(
            decide(100, 4, 0.9, 0.99),
            Some(Undecided {
                needed: requests_needed(4, 0.9, 0.99)
            })
        );
        // 20 slow of 100 for p90: P(B ≥ 20 | Bin(100, 0.1)) ≈ 0.0020 < 0.01 → fail.
        assert!(1.0 - brute_cdf(19, 100, 0.1) < 0.01);
        assert_eq!(decide(100, 20, 0.9, 0.99), Some(Fail));
        // 19 slow: P(B ≥ 19) = 0.0046 → fail; 18: P(B ≥ 18) = 0.0100073 → undecided.
        assert!(1.0 - brute_cdf(18, 100, 0.1) < 0.01);
        assert!(1.0 - brute_cdf(17, 100, 0.1) >= 0.01);
        assert_eq!(decide(100, 19, 0.9, 0.99), Some(Fail));
        assert!(matches!(decide(100, 18, 0.9, 0.99), Some(Undecided { .. })));
        // Every request slow: fail as soon as it is unlikely enough (0.01ⁿ < 0.01 from n = 2).
        assert_eq!(
            decide(1, 1, 0.99, 0.99),
            Some(Undecided {
                needed: requests_needed(1, 0.99, 0.99)
            })
        );
        assert_eq!(decide(2, 2, 0.99, 0.99), Some(Fail));
        assert_eq!(decide(5, 6, 0.99, 0.99), None);
        assert_eq!(decide(5, 0, 0.99, 0.4), None);
        assert_eq!(decide(5, 0, 1.0, 0.99), None);
    }
}
