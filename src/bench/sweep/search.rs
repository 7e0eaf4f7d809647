//! The rate search of `--max-rate-under`: bisection over the offered rate between 0 and an
//! upper end (the saturated throughput, or `--max-rate`). Rate 0 counts as passing and the
//! upper end as not passing until a probe says otherwise; each probe halves the bracket
//! [highest PASS, lowest rate that did not PASS], until it is narrower than the step
//! (`--resolution` × the upper end). A probe that is INCONCLUSIVE counts as not PASS. When no
//! probe below the upper end failed, the upper end itself is probed last. This file only
//! chooses rates and keeps the bracket; the probes are full benches run by the driver.

use serde::{Deserialize, Serialize};

/// The bisection's state.
#[derive(Debug, Clone, PartialEq)]
pub struct Bisection {
    /// Highest rate known to pass (0 until a probe passes).
    lo: f64,
    /// Lowest rate known not to pass (the upper end until a probe fails).
    hi: f64,
    top: f64,
    step: f64,
    passed_any: bool,
    /// A probe at or below the upper end did not pass.
    failed_any: bool,
    top_probed: bool,
}

/// Where the search ended.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SearchOutcome {
    /// The highest rate whose verdict was PASS; `None` when no probe passed.
    pub max_rate: Option<f64>,
    /// The final bracket: the highest PASS (0 when none) and the lowest rate above it that did
    /// not pass (the upper end when it passed too).
    pub bracket: (f64, f64),
    /// The step the bracket had to be narrower than (requests/s).
    pub step: f64,
    /// The upper end of the search.
    pub upper_end: f64,
    /// The upper end itself passed: the answer is at least it.
    pub upper_end_passed: bool,
}

impl Bisection {
    /// A search up to `top` requests/s that stops when the bracket is narrower than
    /// `resolution × top`.
    pub fn new(top: f64, resolution: f64) -> Bisection {
        Bisection {
            lo: 0.0,
            hi: top,
            top,
            step: resolution * top,
            passed_any: false,
            failed_any: false,
            top_probed: false,
        }
    }

    /// The next rate to probe, or `None` when the search is over.
    pub fn next(&self) -> Option<f64> {
        if !(self.top.is_finite() && self.top > 0.0 && self.step > 0.0) {
            return None;
        }
        if self.hi - self.lo >= self.step {
            return Some(self.lo + (self.hi - self.lo) / 2.0);
        }
        (!self.failed_any && !self.top_probed).then_some(self.top)
    }

    /// Records a probe's verdict at `rate`.
    pub fn record(&mut self, rate: f64, passed: bool) {
        if rate >= self.top {
            self.top_probed = true;
        }
        if passed {
            self.passed_any = true;
            self.lo = self.lo.max(rate);
        } else {
            self.failed_any = true;
            self.hi = self.hi.min(rate);
        }
    }

    /// The answer so far.
    pub fn outcome(&self) -> SearchOutcome {
        let upper_end_passed = self.top_probed && self.passed_any && self.lo >= self.top;
        SearchOutcome {
            max_rate: self.passed_any.then_some(self.lo),
            bracket: (self.lo, self.hi),
            step: self.step,
            upper_end: self.top,
            upper_end_passed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a search against a service that passes exactly the rates at or below `threshold`.
    fn against(threshold: f64, top: f64, resolution: f64) -> (SearchOutcome, Vec<f64>) {
        let mut b = Bisection::new(top, resolution);
        let mut probes = Vec::new();
        while let Some(r) = b.next() {
            probes.push(r);
            b.record(r, r <= threshold);
            assert!(probes.len() < 64, "the search does not end");
        }
        (b.outcome(), probes)
    }

    #[test]
    fn lands_within_one_step_below_the_threshold() {
        // Every threshold on a fine grid: the answer is a passing rate at most one step below.
        for i in 1..200 {
            let threshold = f64::from(i) / 200.0 * 3.0;
            let (o, probes) = against(threshold, 3.0, 0.05);
            let Some(found) = o.max_rate else {
                // Below the lowest probe, 3 / 32, nothing passes.
                assert!(threshold < 3.0 / 32.0, "{threshold}: {probes:?}");
                continue;
            };
            assert!(found <= threshold, "{threshold}: {found}");
            assert!(threshold - found < o.step, "{threshold}: {found}");
            assert!(o.bracket.1 - o.bracket.0 < o.step);
            assert!(o.bracket.1 > threshold || o.upper_end_passed);
            // 3 / 2^k < 0.15 from k = 5: five halvings, and the upper end when none failed.
            let top_too = probes.len() == 6 && probes[5] == 3.0 && threshold > 3.0 - 3.0 / 32.0;
            assert!(probes.len() == 5 || top_too, "{threshold}: {probes:?}");
        }
    }

    #[test]
    fn the_first_probes_by_hand() {
        let (o, probes) = against(0.7, 1.0, 0.1);
        assert_eq!(probes, vec![0.5, 0.75, 0.625, 0.6875]);
        assert_eq!(o.max_rate, Some(0.6875));
        assert_eq!(o.bracket, (0.6875, 0.75));
        assert!(!o.upper_end_passed);
    }

    #[test]
    fn everything_passes_then_the_upper_end_is_probed() {
        let (o, probes) = against(10.0, 1.0, 0.1);
        assert_eq!(probes, vec![0.5, 0.75, 0.875, 0.9375, 1.0]);
        assert_eq!(o.max_rate, Some(1.0));
        assert!(o.upper_end_passed);
        // The upper end just fails: no extra probe once a lower one failed, answer below it.
        let (o, probes) = against(0.99, 1.0, 0.1);
        assert_eq!(probes.last(), Some(&1.0));
        assert_eq!(o.max_rate, Some(0.9375));
        assert!(!o.upper_end_passed);
    }

    #[test]
    fn nothing_passes() {
        let (o, probes) = against(0.0, 1.0, 0.1);
        assert_eq!(probes, vec![0.5, 0.25, 0.125, 0.0625]);
        assert_eq!(o.max_rate, None);
        assert_eq!(o.bracket, (0.0, 0.0625));
    }

    #[test]
    fn an_unusable_upper_end_probes_nothing() {
        assert_eq!(Bisection::new(0.0, 0.1).next(), None);
        assert_eq!(Bisection::new(f64::NAN, 0.1).next(), None);
        assert_eq!(Bisection::new(0.0, 0.1).outcome().max_rate, None);
    }
}
