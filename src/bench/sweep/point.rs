//! One point of a sweep: the phase a bench ran at one load level, its figures (the bench's
//! own [`PhaseSummary`]), its verdict on the objectives, and its goodput — successful requests
//! per second of wall time that met every latency bound of the objectives.

use super::knee::Level;
use crate::bench::model::PhaseResult;
use crate::bench::slo::{self, Slo, SloReport, Verdict};
use crate::bench::summary::PhaseSummary;
use serde::{Deserialize, Serialize};

/// Which part of a sweep a point belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// A closed loop at one concurrency.
    Concurrency,
    /// An open loop at one rate of a rate sweep.
    Rate,
    /// An open loop at one rate of the `--max-rate-under` search.
    Search,
}

/// The load a point offered.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Offered {
    /// At most this many requests in flight.
    Concurrency(u32),
    /// Requests per second asked for.
    Rate(f64),
}

impl Offered {
    /// The concurrency, or the rate, as a number for charts.
    pub fn value(self) -> f64 {
        match self {
            Offered::Concurrency(c) => f64::from(c),
            Offered::Rate(r) => r,
        }
    }
}

/// One measured point.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub stage: Stage,
    pub offered: Offered,
    pub phase: PhaseResult,
    pub summary: PhaseSummary,
    /// Successful requests per second that met every latency bound; `None` without objectives.
    pub goodput_rps: Option<f64>,
    /// The verdict on the objectives; `None` without objectives.
    pub slo: Option<SloReport>,
}

/// Successful measured requests whose response time meets every per-request latency bound of
/// `slo` (percentiles, `max`, `min`: see [`slo::request_meets`]), per second of `wall_seconds`.
pub fn goodput(phase: &PhaseResult, slo: &Slo, wall_seconds: Option<f64>) -> Option<f64> {
    let wall = wall_seconds.filter(|w| w.is_finite() && *w > 0.0)?;
    let good = phase
        .measured()
        .filter(|r| r.is_success() && slo::request_meets(slo, r.response_time()))
        .count();
    Some(good as f64 / wall)
}

impl Point {
    /// Summarises and judges a finished phase. Percentiles at `confidence`, percentile
    /// verdicts at `slo_confidence`.
    pub fn judge(
        stage: Stage,
        offered: Offered,
        phase: PhaseResult,
        objectives: Option<&Slo>,
        confidence: f64,
        slo_confidence: f64,
    ) -> Point {
        let summary = PhaseSummary::from_phase_at(&phase, confidence);
        let goodput_rps = objectives.and_then(|o| goodput(&phase, o, summary.wall_time_seconds));
        let slo = objectives.map(|o| slo::evaluate_at(o, &summary, slo_confidence));
        Point {
            stage,
            offered,
            phase,
            summary,
            goodput_rps,
            slo,
        }
    }

    pub fn verdict(&self) -> Option<Verdict> {
        self.slo.as_ref().map(|r| r.verdict)
    }

    /// Successful requests per second (0 when none or too short to tell).
    pub fn throughput(&self) -> f64 {
        self.summary.throughput_rps.unwrap_or(0.0)
    }

    /// Requests started per second: the open loop's achieved sending rate; for a closed loop,
    /// measured requests / wall time.
    pub fn achieved_rps(&self) -> Option<f64> {
        match &self.summary.rate {
            Some(r) => r.achieved,
            None => self
                .summary
                .wall_time_seconds
                .filter(|w| *w > 0.0)
                .map(|w| self.summary.total as f64 / w),
        }
    }

    /// What the knee rule reads of a concurrency point.
    pub fn level(&self) -> Option<Level> {
        match self.offered {
            Offered::Concurrency(c) => Some(Level {
                concurrency: c,
                throughput: self.throughput(),
                p50: self.summary.response_time.percentile(50.0),
            }),
            Offered::Rate(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::model::Load;
    use crate::bench::summary::tests::{phase, rec};
    use crate::outcome::Outcome;

    /// Requests all sent at 0 and done at 1, 2, … 10 s; the 4th timed out.
    fn ten() -> PhaseResult {
        let records = (0..10)
            .map(|i| {
                let outcome = if i == 3 {
                    Outcome::Timeout
                } else {
                    Outcome::Success
                };
                rec(i, 0.0, 0.0, (i + 1) as f64, outcome)
            })
            .collect();
        phase(
            records,
            Load::Closed {
                requests: 10,
                concurrency: 10,
            },
        )
    }

    #[test]
    fn goodput_counts_successes_within_every_bound() {
        let p = ten();
        // Successes at 1, 2, 3, 5, …, 10 s; wall 10 s. Under 5.5 s: 1, 2, 3, 5 → 0.4/s.
        let slo = Slo::parse("p99<5.5s").unwrap();
        assert_eq!(goodput(&p, &slo, Some(10.0)), Some(0.4));
        // Two bounds: both must hold (≥ 2 s and < 5.5 s: 2, 3, 5). Mean and ratios are not
        // per request and leave it alone.
        let slo = Slo::parse("p90<5.5s,min>=2s,mean<1s,success>=0.99").unwrap();
        assert_eq!(goodput(&p, &slo, Some(10.0)), Some(0.3));
        // Independent count over the same records.
        let by_hand = p
            .records
            .iter()
            .filter(|r| r.outcome == Outcome::Success)
            .filter(|r| (2.0..5.5).contains(&(r.done - r.intended)))
            .count() as f64
            / 10.0;
        assert_eq!(goodput(&p, &slo, Some(10.0)), Some(by_hand));
        assert_eq!(goodput(&p, &slo, None), None);
        assert_eq!(goodput(&p, &slo, Some(0.0)), None);
    }

    #[test]
    fn a_judged_point() {
        let slo = Slo::parse("p50<6s").unwrap();
        let pt = Point::judge(
            Stage::Concurrency,
            Offered::Concurrency(10),
            ten(),
            Some(&slo),
            0.95,
            0.99,
        );
        assert_eq!(pt.throughput(), 0.9);
        // 9 successes over the 10 s wall; under 6 s: 1, 2, 3, 5 → 0.4/s.
        assert_eq!(pt.goodput_rps, Some(0.4));
        assert_eq!(pt.achieved_rps(), Some(1.0));
        let level = pt.level().unwrap();
        // Nearest-rank p50 of 1, 2, 3, 5, 6, 7, 8, 9, 10: the 5th value.
        assert_eq!(level.p50, Some(6.0));
        assert_eq!(level.concurrency, 10);
        assert!(pt.verdict().is_some());
        let plain = Point::judge(Stage::Rate, Offered::Rate(2.0), ten(), None, 0.95, 0.99);
        assert_eq!((plain.goodput_rps, plain.verdict()), (None, None));
        assert!(plain.level().is_none());
        assert_eq!(Offered::Rate(2.5).value(), 2.5);
    }
}
