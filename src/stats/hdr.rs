//! An HDR histogram of durations in seconds, for long runs and the daemon where keeping every
//! sample is not an option: 3 significant digits over 1 ms .. 1 h, values in and out in seconds.
//! Quantiles use the same nearest-rank rule as the exact statistics.

use super::exact::nearest_rank;
use hdrhistogram::Histogram;

/// Recorded unit: one millisecond.
const UNITS_PER_SECOND: f64 = 1000.0;
/// Lowest discernible value: 1 ms.
const LOWEST: u64 = 1;
/// Highest trackable value: one hour, in milliseconds.
const HIGHEST: u64 = 3_600_000;
const SIGNIFICANT_DIGITS: u8 = 3;

/// A histogram of durations in seconds. Values outside 0 .. 1 h are clamped into range and
/// counted in [`SecondsHistogram::clamped`]; non-finite values are refused and counted in
/// [`SecondsHistogram::rejected`].
#[derive(Debug, Clone)]
pub struct SecondsHistogram {
    h: Histogram<u64>,
    clamped: u64,
    rejected: u64,
}

impl Default for SecondsHistogram {
    fn default() -> Self {
        SecondsHistogram::new()
    }
}

impl PartialEq for SecondsHistogram {
    fn eq(&self, o: &Self) -> bool {
        self.h == o.h && self.clamped == o.clamped && self.rejected == o.rejected
    }
}

impl SecondsHistogram {
    pub fn new() -> SecondsHistogram {
        SecondsHistogram {
            h: Histogram::new_with_bounds(LOWEST, HIGHEST, SIGNIFICANT_DIGITS)
                .expect("constant histogram bounds are valid"),
            clamped: 0,
            rejected: 0,
        }
    }

    /// Records one duration in seconds.
    pub fn record(&mut self, seconds: f64) {
        if !seconds.is_finite() {
            self.rejected += 1;
            return;
        }
        let units = (seconds * UNITS_PER_SECOND).round();
        if units < 0.0 || units > HIGHEST as f64 {
            self.clamped += 1;
        }
        self.h
            .saturating_record(units.clamp(0.0, HIGHEST as f64) as u64);
    }

    /// Number of values recorded.
    pub fn count(&self) -> u64 {
        self.h.len()
    }

    pub fn is_empty(&self) -> bool {
        self.h.is_empty()
    }

    /// Values that were outside 0 .. 1 h and recorded at the nearest bound.
    pub fn clamped(&self) -> u64 {
        self.clamped
    }

    /// Non-finite values that were not recorded.
    pub fn rejected(&self) -> u64 {
        self.rejected
    }

    /// The q-quantile (0 ≤ q ≤ 1) by nearest rank, in seconds, to the histogram's precision
    /// (the highest value equivalent to the ranked one). `None` when empty or q is out of range.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let n = usize::try_from(self.count()).ok()?;
        let rank = nearest_rank(q * 100.0, n)?;
        // Ask for the middle of the rank's step so the library's own ⌈q·n⌉ lands on it exactly.
        let q_mid = (rank as f64 - 0.5) / n as f64;
        Some(self.h.value_at_quantile(q_mid) as f64 / UNITS_PER_SECOND)
    }

    /// Mean in seconds (from bucket midpoints).
    pub fn mean(&self) -> Option<f64> {
        (!self.is_empty()).then(|| self.h.mean() / UNITS_PER_SECOND)
    }

    /// Smallest recorded value in seconds (lowest equivalent of its bucket).
    pub fn min(&self) -> Option<f64> {
        (!self.is_empty()).then(|| self.h.min() as f64 / UNITS_PER_SECOND)
    }

    /// Largest recorded value in seconds (highest equivalent of its bucket).
    pub fn max(&self) -> Option<f64> {
        (!self.is_empty()).then(|| self.h.max() as f64 / UNITS_PER_SECOND)
    }

    /// Adds every value of `other` to this histogram.
    pub fn merge(&mut self, other: &SecondsHistogram) {
        // Same bounds on both sides: addition cannot fail; saturate counts rather than panic.
        if self.h.add(&other.h).is_err() {
            for v in other.h.iter_recorded() {
                self.h
                    .saturating_record_n(v.value_iterated_to(), v.count_at_value());
            }
        }
        self.clamped += other.clamped;
        self.rejected += other.rejected;
    }

    /// Forgets every value.
    pub fn reset(&mut self) {
        self.h.reset();
        self.clamped = 0;
        self.rejected = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::exact::Sorted;
    use proptest::prelude::*;

    /// 3 significant digits plus the 1 ms unit (and its rounding).
    fn within_precision(hdr: f64, exact: f64) -> bool {
        (hdr - exact).abs() <= exact.abs() * 1e-3 + 1e-3
    }

    #[test]
    fn empty_histogram_has_no_figures() {
        let h = SecondsHistogram::new();
        assert_eq!(h.count(), 0);
        assert_eq!(h.quantile(0.5), None);
        assert_eq!(h.mean(), None);
        assert_eq!(h.max(), None);
    }

    #[test]
    fn clamps_and_rejects() {
        let mut h = SecondsHistogram::new();
        h.record(-1.0);
        h.record(7200.0);
        h.record(f64::NAN);
        h.record(2.0);
        assert_eq!(h.count(), 3);
        assert_eq!(h.clamped(), 2);
        assert_eq!(h.rejected(), 1);
        assert!(within_precision(h.max().unwrap(), 3600.0));
        assert_eq!(h.min(), Some(0.0));
    }

    #[test]
    fn quantile_uses_nearest_rank() {
        // 1..=20 seconds: p95 is the 19th value, not the 20th (0.95·20 is not exact in binary).
        let mut h = SecondsHistogram::new();
        for s in 1..=20 {
            h.record(s as f64);
        }
        assert!(within_precision(h.quantile(0.95).unwrap(), 19.0));
        assert!(within_precision(h.quantile(1.0).unwrap(), 20.0));
        assert!(within_precision(h.quantile(0.0).unwrap(), 1.0));
        assert_eq!(h.quantile(1.5), None);
    }

    proptest! {
        #[test]
        fn quantiles_and_mean_match_exact_within_precision(
            values in proptest::collection::vec(0.0f64..900.0, 1..400),
            q in 0.0f64..=1.0,
        ) {
            let mut h = SecondsHistogram::new();
            for v in &values { h.record(*v); }
            let exact = Sorted::new(values.iter().copied());
            prop_assert_eq!(h.count() as usize, exact.len());
            for p in [50.0, 90.0, 95.0, 99.0, q * 100.0] {
                let e = exact.percentile(p).unwrap();
                let got = h.quantile(p / 100.0).unwrap();
                prop_assert!(within_precision(got, e), "p{} hdr {} exact {}", p, got, e);
            }
            prop_assert!(within_precision(h.mean().unwrap(), exact.mean().unwrap()));
            prop_assert!(within_precision(h.max().unwrap(), exact.max().unwrap()));
        }

        #[test]
        fn merge_equals_recording_everything(
            a in proptest::collection::vec(0.0f64..100.0, 0..100),
            b in proptest::collection::vec(0.0f64..100.0, 0..100),
        ) {
            let mut ha = SecondsHistogram::new();
            let mut hb = SecondsHistogram::new();
            let mut all = SecondsHistogram::new();
            for v in &a { ha.record(*v); all.record(*v); }
            for v in &b { hb.record(*v); all.record(*v); }
            ha.merge(&hb);
            prop_assert_eq!(ha.count(), all.count());
            for q in [0.0, 0.5, 0.9, 0.99, 1.0] {
                prop_assert_eq!(ha.quantile(q), all.quantile(q));
            }
        }
    }
}
