//! The numbers the charts draw, computed from one phase's records with no drawing involved:
//! which records are shown, histogram bins, mean and median, sliding-window and cumulative
//! throughput. Kept apart from the drawing code so each figure is tested on its own.

use crate::bench::model::PhaseResult;
use crate::outcome::Outcome;
use crate::probe::ProbeRecord;
use std::collections::BTreeMap;

/// Samples of the throughput curves across the run.
const RATE_SAMPLES: usize = 240;

/// A schedule lag below this is not drawn (closed-loop drivers read the clock twice).
pub(super) const LAG_VISIBLE_SECONDS: f64 = 1e-3;

/// One request of the timeline, times in seconds from the phase's first intended send.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Bar {
    pub intended: f64,
    pub sent: f64,
    pub done: f64,
    pub outcome: Outcome,
}

impl Bar {
    pub fn lag(&self) -> f64 {
        self.sent - self.intended
    }
}

/// What one phase contributes to the charts.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct PhaseSeries {
    /// Measured requests in start order (sent, then sequence number).
    pub bars: Vec<Bar>,
    /// Response times (done − intended) of the successes.
    pub response_times: Vec<f64>,
    /// Server-reported generation times of the successes that reported one.
    pub generation_times: Vec<f64>,
    pub successes: usize,
    pub failures: usize,
    /// Failure count by reason, in the fixed outcome order.
    pub failure_reasons: BTreeMap<Outcome, usize>,
    pub warmup: usize,
    /// Measured records left out because a timestamp was not a usable number.
    pub unusable: usize,
    /// Seconds from the first intended send to the last answer (0 when nothing was measured).
    pub span: f64,
}

impl PhaseSeries {
    pub fn from_phase(phase: &PhaseResult) -> PhaseSeries {
        let warmup = phase.records.iter().filter(|r| r.warmup).count();
        let (usable, unusable): (Vec<&ProbeRecord>, Vec<&ProbeRecord>) =
            phase.measured().partition(|r| has_finite_times(r));
        let t0 = usable
            .iter()
            .map(|r| r.intended.min(r.sent))
            .fold(f64::INFINITY, f64::min);
        let mut bars: Vec<(f64, u64, Bar)> = usable
            .iter()
            .map(|r| {
                let sent = r.sent - t0;
                let bar = Bar {
                    intended: r.intended - t0,
                    sent,
                    // A malformed file may end a request before it started; draw it as a point.
                    done: (r.done - t0).max(sent),
                    outcome: r.outcome,
                };
                (r.sent, r.seq, bar)
            })
            .collect();
        bars.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let bars: Vec<Bar> = bars.into_iter().map(|(_, _, b)| b).collect();

        let successes: Vec<&&ProbeRecord> = usable.iter().filter(|r| r.is_success()).collect();
        let response_times = successes.iter().map(|r| r.response_time()).collect();
        let generation_times = successes
            .iter()
            .filter_map(|r| r.generation_time)
            .filter(|g| usable_number(*g))
            .collect();
        let mut failure_reasons = BTreeMap::new();
        for r in usable.iter().filter(|r| !r.is_success()) {
            *failure_reasons.entry(r.outcome).or_insert(0) += 1;
        }
        let span = bars.iter().map(|b| b.done).fold(0.0, f64::max);
        PhaseSeries {
            successes: successes.len(),
            failures: usable.len() - successes.len(),
            bars,
            response_times,
            generation_times,
            failure_reasons,
            warmup,
            unusable: unusable.len(),
            span,
        }
    }

    pub fn measured(&self) -> usize {
        self.bars.len()
    }

    /// "timeout 3, http_5xx 2" in the fixed outcome order.
    pub fn reasons_text(&self) -> String {
        self.failure_reasons
            .iter()
            .map(|(o, n)| format!("{} {n}", o.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Completion times of successes and of failures, for the throughput panel.
    pub fn completions(&self) -> (Vec<f64>, Vec<f64>) {
        let (ok, failed): (Vec<&Bar>, Vec<&Bar>) =
            self.bars.iter().partition(|b| b.outcome.is_success());
        (
            ok.iter().map(|b| b.done).collect(),
            failed.iter().map(|b| b.done).collect(),
        )
    }
}

/// Largest timestamp or duration drawn (about 30 000 years): past it, differences could
/// overflow and the axes would have no finite range.
const MAX_SECONDS: f64 = 1e12;

fn usable_number(v: f64) -> bool {
    v.is_finite() && v.abs() < MAX_SECONDS
}

fn has_finite_times(r: &ProbeRecord) -> bool {
    usable_number(r.intended) && usable_number(r.sent) && usable_number(r.done)
}

/// Arithmetic mean; `None` when empty.
pub(super) fn mean(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    Some(values.iter().sum::<f64>() / values.len() as f64)
}

/// The median (mean of the two middle values for an even count); `None` when empty.
pub(super) fn median(values: &[f64]) -> Option<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

/// Quantile by linear interpolation between closest ranks (sorted input, 0 ≤ q ≤ 1).
fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// Equal-width histogram bins.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Bins {
    pub start: f64,
    pub width: f64,
    pub counts: Vec<u64>,
}

impl Bins {
    pub fn end(&self) -> f64 {
        self.start + self.width * self.counts.len() as f64
    }
    /// Left and right edge of bin `i`.
    pub fn edges(&self, i: usize) -> (f64, f64) {
        let l = self.start + self.width * i as f64;
        (l, l + self.width)
    }
}

/// Fewest and most bins a histogram gets.
const MIN_BINS: usize = 5;
const MAX_BINS: usize = 50;

/// Bins by the Freedman–Diaconis rule (width 2·IQR·n^(−1/3)), √n bins when the IQR is zero,
/// clamped to [min(n, 5), min(max(5, ⌈2√n⌉), 50)] — the upper bound keeps a tight cluster
/// plus an outlier in a small run from becoming fifty one-request slivers. All equal values get
/// one bin centred on them. Non-finite values are ignored; `None` when nothing is left.
pub(super) fn bins(values: &[f64]) -> Option<Bins> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let (min, max) = (v[0], v[n - 1]);
    let range = max - min;
    if range <= f64::EPSILON * min.abs().max(1.0) {
        let width = (min.abs() * 0.1).max(1e-3);
        return Some(Bins {
            start: min - width / 2.0,
            width,
            counts: vec![n as u64],
        });
    }
    let iqr = quantile_sorted(&v, 0.75) - quantile_sorted(&v, 0.25);
    let k = if iqr > 0.0 {
        let h = 2.0 * iqr / (n as f64).cbrt();
        (range / h).ceil() as usize
    } else {
        (n as f64).sqrt().ceil() as usize
    };
    let most = ((2.0 * (n as f64).sqrt()).ceil() as usize).clamp(MIN_BINS, MAX_BINS);
    let k = k.clamp(MIN_BINS.min(n), most);
    let width = range / k as f64;
    let mut counts = vec![0u64; k];
    for x in &v {
        let i = (((x - min) / width).floor() as usize).min(k - 1);
        counts[i] += 1;
    }
    Some(Bins {
        start: min,
        width,
        counts,
    })
}

/// Throughput curves of one phase.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Throughput {
    /// Length of the sliding window (s).
    pub window: f64,
    /// (t, successes completed in (t − window, t] per second).
    pub success_rate: Vec<(f64, f64)>,
    /// (t, failures completed in (t − window, t] per second).
    pub failure_rate: Vec<(f64, f64)>,
    /// (t, successes completed by t divided by t).
    pub cumulative: Vec<(f64, f64)>,
    /// Successes / span: the run's throughput.
    pub overall: f64,
}

/// The sliding window: a tenth of the run, but at least 2 s (or a quarter of a run shorter than
/// 8 s, so that short simulated runs still show a curve).
pub(super) fn window_for(span: f64) -> f64 {
    (span / 10.0).max((span / 4.0).min(2.0))
}

/// Throughput over `[0, span]` from completion times (seconds from the first intended send).
/// `None` when the span is not a positive finite number.
pub(super) fn throughput(successes: &[f64], failures: &[f64], span: f64) -> Option<Throughput> {
    if !(span.is_finite() && span > 0.0) {
        return None;
    }
    let window = window_for(span);
    let mut ok = successes.to_vec();
    ok.sort_by(f64::total_cmp);
    let mut bad = failures.to_vec();
    bad.sort_by(f64::total_cmp);
    // Completions in (a, b] by binary search on sorted times.
    let count =
        |v: &[f64], a: f64, b: f64| v.partition_point(|&x| x <= b) - v.partition_point(|&x| x <= a);
    let steps = RATE_SAMPLES;
    let mut success_rate = Vec::with_capacity(steps + 1);
    let mut failure_rate = Vec::with_capacity(steps + 1);
    for i in 0..=steps {
        let t = window + (span - window) * i as f64 / steps as f64;
        success_rate.push((t, count(&ok, t - window, t) as f64 / window));
        failure_rate.push((t, count(&bad, t - window, t) as f64 / window));
    }
    let mut cumulative = Vec::with_capacity(steps);
    for i in 1..=steps {
        let t = span * i as f64 / steps as f64;
        let done = ok.partition_point(|&x| x <= t);
        cumulative.push((t, done as f64 / t));
    }
    Some(Throughput {
        window,
        success_rate,
        failure_rate,
        cumulative,
        overall: ok.len() as f64 / span,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::model::Load;
    use crate::probe::ProbeMode;

    fn rec(seq: u64, intended: f64, sent: f64, done: f64, outcome: Outcome) -> ProbeRecord {
        ProbeRecord {
            seq,
            warmup: false,
            mode: ProbeMode::Generate,
            intended,
            sent,
            first_byte: None,
            done,
            outcome,
            http_status: None,
            error: None,
            generation_time: outcome.is_success().then_some(1.0 + seq as f64),
            vram_bytes: None,
            vram_raw: None,
            bytes_received: 0,
            width: 512,
            height: 512,
            steps: 10,
            server_request_id: None,
            server_queue_wait: None,
            server_service_time: None,
            parse_issues: vec![],
        }
    }

    fn phase(records: Vec<ProbeRecord>) -> PhaseResult {
        PhaseResult {
            test_type: ProbeMode::Generate,
            load: Load::Closed {
                requests: records.len() as u64,
                concurrency: 2,
            },
            wall_start: 1_700_000_000.0,
            records,
            skipped: 0,
            not_started: 0,
            interrupted: false,
            peak_in_flight: 2,
        }
    }

    #[test]
    fn mean_and_median_by_hand() {
        assert_eq!(mean(&[]), None);
        assert_eq!(median(&[]), None);
        assert_eq!(mean(&[1.0, 2.0, 6.0]), Some(3.0));
        assert_eq!(median(&[6.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
    }

    #[test]
    fn freedman_diaconis_by_hand() {
        // 0..=62 and 200 (n = 64): q1 = 15.75, q3 = 47.25 (linear), IQR 31.5, n^(1/3) = 4 →
        // width 15.75, range 200 → ceil(12.70) = 13 bins (the cap is 2·√64 = 16).
        let mut v: Vec<f64> = (0..63).map(|i| i as f64).collect();
        v.push(200.0);
        let b = bins(&v).unwrap();
        assert_eq!(b.counts.len(), 13);
        assert_eq!(b.start, 0.0);
        assert!((b.end() - 200.0).abs() < 1e-9);
        assert_eq!(b.counts.iter().sum::<u64>(), 64);
        assert_eq!(*b.counts.last().unwrap(), 1);
        // every value lies inside the bin that counts it: recount by edges
        let mut recount = vec![0u64; b.counts.len()];
        for x in &v {
            let i = (0..b.counts.len())
                .find(|&i| {
                    let (l, r) = b.edges(i);
                    *x >= l && (*x < r || i == b.counts.len() - 1)
                })
                .unwrap();
            recount[i] += 1;
        }
        assert_eq!(recount, b.counts);
    }

    #[test]
    fn small_runs_get_few_bins() {
        // a tight cluster and two outliers (a real 10-request run): FD asks for ~hundreds of
        // bins, 2·√10 caps it at 7
        let v = [5.42, 1.82, 3.61, 5.41, 5.38, 5.38, 5.39, 5.40, 5.41, 5.39];
        let b = bins(&v).unwrap();
        assert_eq!(b.counts.len(), 7);
        assert_eq!(b.counts.iter().sum::<u64>(), 10);
        assert_eq!(b.counts[0], 1);
        assert_eq!(*b.counts.last().unwrap(), 8);
    }

    #[test]
    fn bins_edge_cases() {
        assert_eq!(bins(&[]), None);
        assert_eq!(bins(&[f64::NAN, f64::INFINITY]), None);
        let one = bins(&[2.0]).unwrap();
        assert_eq!(one.counts, vec![1]);
        assert!(one.start < 2.0 && one.end() > 2.0);
        let same = bins(&[0.0, 0.0, 0.0]).unwrap();
        assert_eq!(same.counts, vec![3]);
        assert!(same.width > 0.0);
        // IQR zero but a spread: √n rule, at least min(n, 5) bins
        let spiky = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 9.0];
        let b = bins(&spiky).unwrap();
        assert_eq!(b.counts.len(), 5); // ceil(√10) = 4, raised to 5
        assert_eq!(b.counts, vec![9, 0, 0, 0, 1]);
        // a far outlier would ask for ~10 000 bins (IQR ≈ 0.5, width 0.1, range 1000): capped
        let mut tail: Vec<f64> = (0..1000).map(|i| i as f64 / 1000.0).collect();
        tail.push(1000.0);
        assert_eq!(bins(&tail).unwrap().counts.len(), MAX_BINS);
    }

    #[test]
    fn window_rule() {
        assert_eq!(window_for(100.0), 10.0);
        assert_eq!(window_for(10.0), 2.0);
        assert_eq!(window_for(0.4), 0.1);
    }

    #[test]
    fn steady_completions_give_a_steady_rate() {
        // one success every 0.1 s, at 0.05, 0.15, …, 9.95 → 10 per second everywhere
        let ok: Vec<f64> = (0..100).map(|i| 0.05 + 0.1 * i as f64).collect();
        let t = throughput(&ok, &[], 10.0).unwrap();
        assert_eq!(t.window, 2.0);
        for &(x, r) in &t.success_rate {
            assert!((2.0..=10.0).contains(&x));
            assert!((r - 10.0).abs() <= 0.5 + 1e-9, "rate {r} at {x}");
        }
        assert!(t.failure_rate.iter().all(|&(_, r)| r == 0.0));
        let (last_t, last) = *t.cumulative.last().unwrap();
        assert_eq!(last_t, 10.0);
        assert!((last - 10.0).abs() < 1e-9);
        assert!((t.overall - 10.0).abs() < 1e-9);
    }

    #[test]
    fn rate_counts_only_the_window() {
        // 4 successes at 1 s, 2 failures at 9 s, span 10 s (window 2 s)
        let t = throughput(&[1.0, 1.0, 1.0, 1.0], &[9.0, 9.0], 10.0).unwrap();
        let at = |v: &[(f64, f64)], x: f64| {
            v.iter()
                .min_by(|a, b| (a.0 - x).abs().total_cmp(&(b.0 - x).abs()))
                .unwrap()
                .1
        };
        assert_eq!(at(&t.success_rate, 2.0), 2.0); // 4 in (0, 2] over 2 s
        assert_eq!(at(&t.success_rate, 5.0), 0.0);
        assert_eq!(at(&t.failure_rate, 10.0), 1.0); // 2 in (8, 10]
        assert_eq!(t.overall, 0.4);
        assert_eq!(throughput(&[], &[], 0.0), None);
        assert_eq!(throughput(&[], &[], f64::NAN), None);
    }

    #[test]
    fn phase_series_orders_and_splits_records() {
        let mut warm = rec(0, 0.0, 0.0, 1.0, Outcome::Success);
        warm.warmup = true;
        let mut broken = rec(9, f64::NAN, 1.0, 2.0, Outcome::Success);
        broken.generation_time = Some(f64::NAN);
        let huge = rec(10, 1.0, 1.0, 1e300, Outcome::Success);
        let p = phase(vec![
            warm,
            rec(2, 1.0, 1.5, 4.0, Outcome::Success),
            rec(1, 1.0, 1.0, 3.0, Outcome::Timeout),
            rec(3, 2.0, 2.0, 5.0, Outcome::Success),
            rec(4, 2.5, 2.5, 2.6, Outcome::Http5xx),
            rec(5, 3.0, 3.0, 3.5, Outcome::Timeout),
            broken,
            huge,
        ]);
        let s = PhaseSeries::from_phase(&p);
        assert_eq!(s.warmup, 1);
        assert_eq!(s.unusable, 2);
        assert_eq!(s.measured(), 5);
        assert_eq!((s.successes, s.failures), (2, 3));
        // start order, times from the first intended send (1.0)
        let sent: Vec<f64> = s.bars.iter().map(|b| b.sent).collect();
        assert_eq!(sent, vec![0.0, 0.5, 1.0, 1.5, 2.0]);
        assert_eq!(s.bars[1].lag(), 0.5);
        assert_eq!(s.response_times, vec![3.0, 3.0]); // done − intended
        assert_eq!(s.generation_times, vec![3.0, 4.0]);
        assert_eq!(s.span, 4.0);
        assert_eq!(s.reasons_text(), "timeout 2, http_5xx 1");
        let (ok, failed) = s.completions();
        assert_eq!(ok, vec![3.0, 4.0]);
        assert_eq!(failed, vec![2.0, 1.6, 2.5]);
    }

    #[test]
    fn empty_phase() {
        let s = PhaseSeries::from_phase(&phase(vec![]));
        assert_eq!(s.measured(), 0);
        assert_eq!(s.span, 0.0);
        assert!(s.reasons_text().is_empty());
    }
}
