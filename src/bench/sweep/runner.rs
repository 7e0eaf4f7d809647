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
        let plan = PhasePlan {
            mode: self.mode,
            load,
            warmup: self.warmup,
            timeout: self.timeout,
            poll_interval: self.poll_interval,
        };
        let total = match load {
            Load::Closed { requests, .. } => requests + self.warmup,
            Load::Open { .. } => plan
                .schedule(&self.open)
                .map(|s| s.len() as u64)
                .unwrap_or(0),
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
            &self.open,
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
