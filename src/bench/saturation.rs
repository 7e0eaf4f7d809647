//! Saturation: the target takes requests more slowly than they are sent, so requests in flight
//! and response times both keep rising for as long as the run lasts. It is what an open-loop
//! run above capacity looks like (a closed loop caps what is in flight and cannot show it).
//!
//! The test looks at a series of [`Sample`]s — requests in flight and a typical response time
//! at successive moments — and calls it saturation when, over the last [`WINDOWS`] of them,
//! - requests in flight rose at (almost) every step: at least [`WINDOWS`] − 2 of the
//!   [`WINDOWS`] − 1 steps, and the last is at least twice the first plus one;
//! - response times rose too: the last is at least 1.5 × the first and rose at more than half
//!   of the steps between samples that have one.
//!
//! After a run ([`from_records`]) the samples are [`WINDOWS`] equal slices of the sending
//! period: the average number in flight over each, and the median response time of the
//! requests sent in it. During a run (`--stop-on-saturation`, see `run.rs`) they are the count
//! in flight at each tick and the median response time of the requests finished since the last.

use crate::probe::ProbeRecord;
use serde::{Deserialize, Serialize};

/// Samples the test looks at.
pub const WINDOWS: usize = 8;

/// One moment of a run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Seconds from the phase start.
    pub at: f64,
    pub in_flight: f64,
    /// A typical response time (median) at that moment, when something finished.
    pub latency: Option<f64>,
}

/// Evidence of saturation: the first and last sample of the rising stretch.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Saturation {
    pub from: Sample,
    pub to: Sample,
}

impl Saturation {
    /// "in flight rose 2.0 → 17.5 and the median response time 0.51 s → 3.20 s over 12.0 s".
    pub fn describe(&self) -> String {
        format!(
            "requests in flight rose {:.1} → {:.1} and the median response time {:.2} s → {:.2} s over {:.1} s",
            self.from.in_flight,
            self.to.in_flight,
            self.from.latency.unwrap_or(f64::NAN),
            self.to.latency.unwrap_or(f64::NAN),
            self.to.at - self.from.at
        )
    }
}

/// The saturation test over the last [`WINDOWS`] samples (fewer samples: no verdict).
pub fn detect(samples: &[Sample]) -> Option<Saturation> {
    if samples.len() < WINDOWS {
        return None;
    }
    let w = &samples[samples.len() - WINDOWS..];
    let rises = w
        .windows(2)
        .filter(|p| p[1].in_flight > p[0].in_flight)
        .count();
    let (first, last) = (w[0], w[WINDOWS - 1]);
    if rises < WINDOWS - 2 || last.in_flight < 2.0 * first.in_flight + 1.0 {
        return None;
    }
    let timed: Vec<&Sample> = w.iter().filter(|s| s.latency.is_some()).collect();
    if timed.len() < 3 {
        return None;
    }
    let lat = |s: &Sample| s.latency.unwrap_or(0.0);
    let (l0, l1) = (timed[0], timed[timed.len() - 1]);
    let lat_rises = timed.windows(2).filter(|p| lat(p[1]) > lat(p[0])).count();
    if lat(l1) < 1.5 * lat(l0) || 2 * lat_rises < timed.len() {
        return None;
    }
    Some(Saturation {
        from: Sample {
            latency: l0.latency,
            ..first
        },
        to: Sample {
            latency: l1.latency,
            ..last
        },
    })
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// The samples of a finished phase: [`WINDOWS`] equal slices of the sending period (first to
/// last intended send of the measured requests). Empty when there is no such period.
pub fn samples_from_records<'a>(records: impl IntoIterator<Item = &'a ProbeRecord>) -> Vec<Sample> {
    let records: Vec<&ProbeRecord> = records.into_iter().collect();
    let start = records.iter().map(|r| r.intended).reduce(f64::min);
    let end = records.iter().map(|r| r.intended).reduce(f64::max);
    let (Some(start), Some(end)) = (start, end) else {
        return Vec::new();
    };
    let width = (end - start) / WINDOWS as f64;
    if !(width > 0.0 && width.is_finite()) {
        return Vec::new();
    }
    (0..WINDOWS)
        .map(|i| {
            let a = start + i as f64 * width;
            let b = a + width;
            // Time in flight (sent → done) falling inside [a, b), over the width.
            let busy: f64 = records
                .iter()
                .map(|r| (r.done.min(b) - r.sent.max(a)).max(0.0))
                .sum();
            let last = i == WINDOWS - 1;
            let latencies = records
                .iter()
                .filter(|r| r.intended >= a && (r.intended < b || (last && r.intended <= b)))
                .map(|r| r.response_time())
                .filter(|x| x.is_finite())
                .collect();
            Sample {
                at: b,
                in_flight: busy / width,
                latency: median(latencies),
            }
        })
        .collect()
}

/// The saturation test applied to a finished phase's measured records.
pub fn from_records<'a>(records: impl IntoIterator<Item = &'a ProbeRecord>) -> Option<Saturation> {
    detect(&samples_from_records(records))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::summary::tests::rec;
    use crate::outcome::Outcome;

    fn series(in_flight: &[f64], latency: &[f64]) -> Vec<Sample> {
        in_flight
            .iter()
            .zip(latency)
            .enumerate()
            .map(|(i, (&f, &l))| Sample {
                at: i as f64,
                in_flight: f,
                latency: Some(l),
            })
            .collect()
    }

    #[test]
    fn steady_rise_is_saturation() {
        let s = series(
            &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
            &[1.0, 1.2, 1.5, 1.9, 2.4, 2.8, 3.3, 3.9],
        );
        let sat = detect(&s).unwrap();
        assert_eq!((sat.from.in_flight, sat.to.in_flight), (1.0, 8.0));
        assert_eq!((sat.from.latency, sat.to.latency), (Some(1.0), Some(3.9)));
        assert!(sat.describe().contains("1.0 → 8.0"), "{}", sat.describe());
    }

    #[test]
    fn what_is_not_saturation() {
        // Too few samples.
        assert!(detect(&series(&[1.0, 5.0, 9.0], &[1.0, 2.0, 3.0])).is_none());
        // In flight steady (a closed loop, or a load the target keeps up with).
        let flat = [3.0, 3.0, 4.0, 3.0, 3.0, 4.0, 3.0, 3.0];
        assert!(detect(&series(&flat, &[1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.7])).is_none());
        // In flight rising but too little (not twice the start plus one).
        let small = [4.0, 4.2, 4.4, 4.6, 4.8, 5.0, 5.2, 5.4];
        assert!(detect(&series(&small, &[1.0, 1.2, 1.5, 1.9, 2.4, 2.8, 3.3, 3.9])).is_none());
        // In flight rising, latency flat (more clients, a target that keeps up).
        let rising = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0];
        assert!(detect(&series(&rising, &[1.0; 8])).is_none());
        // Two falls in the rise.
        let bumpy = [1.0, 2.0, 1.5, 3.0, 2.5, 6.0, 7.0, 8.0];
        assert!(detect(&series(&bumpy, &[1.0, 1.2, 1.5, 1.9, 2.4, 2.8, 3.3, 3.9])).is_none());
        // Only the last WINDOWS samples count: an old rise that has stopped is not flagged.
        let mut s = series(
            &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
            &[1.0, 1.2, 1.5, 1.9, 2.4, 2.8, 3.3, 3.9],
        );
        s.extend(series(&[8.0; 8], &[3.9; 8]));
        assert!(detect(&s).is_none());
    }

    #[test]
    fn from_records_of_an_overloaded_and_a_keeping_up_target() {
        // One server taking 1 s per request, sent one every 0.5 s: request k is sent at k/2,
        // served from k (queue FIFO) to k + 1; in flight grows by one per second.
        let overloaded: Vec<_> = (0..40u64)
            .map(|k| {
                let t = k as f64 / 2.0;
                rec(k, t, t, k as f64 + 1.0, Outcome::Success)
            })
            .collect();
        let sat = from_records(&overloaded).unwrap();
        assert!(sat.to.in_flight > 2.0 * sat.from.in_flight + 1.0);
        // Sent one every 2 s, each done 1 s later: never more than one in flight.
        let fine: Vec<_> = (0..40u64)
            .map(|k| {
                let t = 2.0 * k as f64;
                rec(k, t, t, t + 1.0, Outcome::Success)
            })
            .collect();
        assert!(from_records(&fine).is_none());
        let samples = samples_from_records(&fine);
        assert_eq!(samples.len(), WINDOWS);
        // Busy half the time: on average half a request in flight (± the window edges).
        for s in &samples {
            assert!((s.in_flight - 0.5).abs() < 0.15, "{s:?}");
            assert_eq!(s.latency, Some(1.0));
        }
        assert!(samples_from_records(&[]).is_empty());
    }
}
