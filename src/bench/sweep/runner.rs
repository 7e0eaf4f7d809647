//! Running one sweep point: a full bench phase (closed loop at a concurrency, or open loop at
//! a rate) through the bench driver, with its warm-up, progress bar and the sweep's Ctrl-C
//! control, then judged into a [`Point`].

use super::plan::Plan;
use super::point::{Offered, Point, Stage};
use crate::api::FluxClient;
use crate::bench::arrivals::Arrivals;
use crate::bench::model::Load;
use crate::bench::progress::Bar;
use crate::bench::requests::RequestSource;
use crate::bench::run::{OpenLoopOptions, PhasePlan, RunControl, run_phase_with};
use crate::bench::slo::Slo;
use crate::probe::ProbeMode;
use std::sync::Arc;
use std::time::Duration;

/// A line for the user (stderr in the CLI).
pub type Say = Arc<dyn Fn(&str) + Send + Sync>;

/// What every point of one sweep shares.
pub struct Runner {
    pub client: FluxClient,
    pub source: RequestSource,
    pub mode: ProbeMode,
    pub control: RunControl,
    pub warmup: u64,
    pub timeout: Duration,
    pub poll_interval: Duration,
    pub max_in_flight: u32,
    /// Rate points' spacing (Poisson, or gamma when asked) and seed.
    pub open: OpenLoopOptions,
    /// The objectives each point is judged by (`--slo`, and the search's).
    pub objectives: Option<Slo>,
    pub confidence: f64,
    pub slo_confidence: f64,
    /// Show a progress bar per point.
    pub progress: bool,
    pub say: Say,
}

/// The spacing of rate points: a sweep offers random arrivals, as real traffic comes; constant
/// spacing (bench's default) would hide the queueing a capacity plan is about, so it is
/// replaced by Poisson. Gamma gaps are kept.
pub fn sweep_arrivals(asked: Arrivals) -> Arrivals {
    match asked {
        Arrivals::Constant => Arrivals::Poisson,
        other => other,
    }
}

impl Runner {
    /// True once Ctrl-C stopped the sweep.
    pub fn stopped(&self) -> bool {
        self.control.stop.is_cancelled()
    }

    /// A closed loop at concurrency `c`: max(--requests, rounds × C) measured requests.
    pub async fn concurrency(&self, plan: &Plan, c: u32) -> Point {
        let load = Load::Closed {
            requests: plan.closed_requests(c),
            concurrency: c,
        };
        self.point(Stage::Concurrency, Offered::Concurrency(c), load)
            .await
    }

    /// An open loop at `rate` for the plan's point duration.
    pub async fn rate(&self, plan: &Plan, stage: Stage, rate: f64) -> Point {
        let load = Load::Open {
            rate,
            duration_seconds: plan.rate_point_seconds(rate, self.slo_confidence),
            max_in_flight: self.max_in_flight,
        };
        self.point(stage, Offered::Rate(rate), load).await
    }

    async fn point(&self, stage: Stage, offered: Offered, load: Load) -> Point {
        // Each rate gets its own draw of gaps: with one seed for all, every point inherits the
        // same sparse or dense draw and the whole sweep is offered too little or too much.
        let open = match offered {
            Offered::Rate(r) => OpenLoopOptions {
                seed: point_seed(self.open.seed, r),
                ..self.open
            },
            Offered::Concurrency(_) => self.open,
        };
        let plan = PhasePlan {
            mode: self.mode,
            load,
            warmup: self.warmup,
            timeout: self.timeout,
            poll_interval: self.poll_interval,
        };
        let total = match load {
            Load::Closed { requests, .. } => requests + self.warmup,
            Load::Open { .. } => plan.schedule(&open).map(|s| s.len() as u64).unwrap_or(0),
        };
        let label = match offered {
            Offered::Concurrency(c) => format!("C={c}"),
            Offered::Rate(r) => format!("{}/s", super::report::rate_text(r)),
        };
        (self.say)(&format!("▶  {}", describe(&load, self.warmup)));
        tracing::debug!(?stage, ?load, "sweep point starts");
        let bar = Arc::new(Bar::new(total, &label, self.progress));
        let phase = run_phase_with(
            &self.client,
            &plan,
            &open,
            &self.source,
            &self.control,
            bar.clone(),
        )
        .await;
        bar.finish();
        if let Some(why) = &phase.stopped_early {
            (self.say)(&format!("⏹  {label} stopped early: {why}"));
        }
        let point = Point::judge(
            stage,
            offered,
            phase,
            self.objectives.as_ref(),
            self.confidence,
            self.slo_confidence,
        );
        (self.say)(&format!("   {}", super::report::point_line(&point)));
        point
    }
}

fn describe(load: &Load, warmup: u64) -> String {
    let w = if warmup > 0 {
        format!(" (+{warmup} warm-up)")
    } else {
        String::new()
    };
    match load {
        Load::Closed {
            requests,
            concurrency,
        } => format!("concurrency {concurrency}: {requests} requests{w}"),
        Load::Open {
            rate,
            duration_seconds,
            ..
        } => format!(
            "rate {}/s for {:.1}s (≈ {:.0} requests){w}",
            super::report::rate_text(*rate),
            duration_seconds,
            rate * duration_seconds
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_points_are_random_arrivals() {
        assert_eq!(sweep_arrivals(Arrivals::Constant), Arrivals::Poisson);
        assert_eq!(sweep_arrivals(Arrivals::Poisson), Arrivals::Poisson);
        let g = Arrivals::Gamma { burstiness: 0.5 };
        assert_eq!(sweep_arrivals(g), g);
    }
}

/// The arrival seed of the rate point at `rate`: the sweep's seed mixed with the rate
/// (splitmix64's finaliser), so that points differ and a rerun draws the same gaps.
pub fn point_seed(seed: u64, rate: f64) -> u64 {
    let mut z = seed ^ rate.to_bits().rotate_left(17);
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod seed_tests {
    use super::point_seed;

    #[test]
    fn each_rate_has_its_own_seed_and_keeps_it() {
        let rates = [0.55, 1.11, 1.66, 2.22, 13.9, 20.8, 22.5, 24.2];
        let seeds: std::collections::BTreeSet<u64> =
            rates.iter().map(|r| point_seed(1, *r)).collect();
        assert_eq!(seeds.len(), rates.len());
        assert_eq!(point_seed(1, 22.5), point_seed(1, 22.5));
        assert_ne!(point_seed(1, 22.5), point_seed(2, 22.5));
    }
}
