//! `fluxprobe sweep`: capacity planning, one full bench per load level.
//!
//! - `--concurrency auto|LIST`: closed loops at C = 1, 2, 4, … (or exactly the list), each of
//!   max(--requests, rounds × C) requests, stopping at the knee ([`knee`]);
//! - `--rates auto|LIST`: open loops of Poisson arrivals; `auto` first runs the concurrency
//!   sweep for the single-stream rate (throughput at C = 1) and the saturated throughput (the
//!   highest measured), then `--points` evenly spaced rates between them ([`plan::auto_rates`]);
//! - `--max-rate-under SLO`: bisection over the Poisson rate between 0 and the saturated
//!   throughput (or `--max-rate`) for the highest rate whose verdict is PASS ([`search`]).
//!
//! Every point is judged by the objectives (`--slo`, plus the search's) with the bench's
//! three-valued verdicts, and reports goodput. This file drives the stages and chooses the
//! exit code; [`runner`] runs a point, [`report`] and [`plot`] show the result.

pub mod knee;
pub mod plan;
pub mod plot;
pub mod point;
pub mod report;
pub mod runner;
pub mod search;

use self::knee::Knee;
use self::plan::{Kind, Levels, Plan, Rates};
use self::point::{Point, Stage};
use self::runner::{Runner, Say, sweep_arrivals};
use self::search::{Bisection, SearchOutcome};
use crate::bench::interrupt::InterruptWatch;
use crate::bench::model::{RunConfig, target_unavailable};
use crate::bench::run::{OpenLoopOptions, RunControl};
use crate::bench::setup::{prepare, usage, validate_common};
use crate::bench::slo::{Slo, Verdict};
use crate::cli::{SweepArgs, TestType};
use crate::exit::{Exit, UsageError};
use crate::probe::ProbeMode;
use anyhow::Context;
use std::path::PathBuf;
use std::sync::Arc;

/// A finished (or interrupted) sweep.
#[derive(Debug, Clone)]
pub struct Sweep {
    pub plan: Plan,
    pub config: RunConfig,
    /// Every point in the order measured.
    pub points: Vec<Point>,
    pub knee: Option<Knee>,
    /// Throughput at C = 1.
    pub single_stream_rps: Option<f64>,
    /// The highest throughput of the concurrency points.
    pub saturated_rps: Option<f64>,
    pub search: Option<SearchOutcome>,
    /// The objectives every point was judged by, and as written.
    pub objectives: Option<Slo>,
    pub objectives_text: Option<String>,
    /// Ctrl-C stopped the sweep.
    pub interrupted: bool,
    /// What the sweep chose on the user's behalf, for the report.
    pub notes: Vec<String>,
    pub tool_version: String,
}

impl Sweep {
    /// The probes of the rate search.
    pub fn search_points(&self) -> impl Iterator<Item = &Point> {
        self.points.iter().filter(|p| p.stage == Stage::Search)
    }

    fn concurrency_points(&self) -> impl Iterator<Item = &Point> {
        self.points.iter().filter(|p| p.stage == Stage::Concurrency)
    }

    /// Recomputes the knee, single-stream and saturated figures from the concurrency points.
    fn settle_concurrency(&mut self) {
        let levels: Vec<knee::Level> = self
            .concurrency_points()
            .filter(|p| !p.phase.interrupted)
            .filter_map(Point::level)
            .collect();
        self.knee = knee::find(&levels, self.plan.knee_gain);
        self.single_stream_rps = levels
            .iter()
            .find(|l| l.concurrency == 1)
            .map(|l| l.throughput);
        self.saturated_rps = levels
            .iter()
            .map(|l| l.throughput)
            .filter(|t| *t > 0.0)
            .reduce(f64::max);
    }
}

/// The objectives of every point: the search's (first) and `--slo`'s.
fn objectives(
    plan: &Plan,
    slo: Option<&Slo>,
    slo_text: Option<&str>,
) -> (Option<Slo>, Option<String>) {
    let search = match &plan.kind {
        Kind::MaxRateUnder { objective, text } => Some((objective.clone(), text.clone())),
        _ => None,
    };
    match (search, slo) {
        (None, None) => (None, None),
        (None, Some(s)) => (Some(s.clone()), slo_text.map(str::to_string)),
        (Some((o, t)), None) => (Some(o), Some(t)),
        (Some((mut o, t)), Some(s)) => {
            o.clauses.extend(s.clauses.iter().cloned());
            (
                Some(o),
                Some(format!("{t},{}", slo_text.unwrap_or_default())),
            )
        }
    }
}

/// The concurrency stage: the doubling levels until the knee (auto), or exactly the list.
async fn concurrency_stage(runner: &Runner, sweep: &mut Sweep, levels: &Levels) {
    let (list, stop_at_knee) = match levels {
        Levels::Auto => (plan::doubling_levels(sweep.plan.max_concurrency), true),
        Levels::List(l) => (l.clone(), false),
    };
    for c in list {
        if runner.stopped() {
            break;
        }
        let p = runner.concurrency(&sweep.plan, c).await;
        sweep.points.push(p);
        if stop_if_unreachable(sweep) {
            return;
        }
        sweep.settle_concurrency();
        if stop_at_knee && sweep.knee.is_some() {
            break;
        }
    }
    if stop_at_knee && sweep.knee.is_none() && !runner.stopped() {
        sweep.notes.push(format!(
            "no knee up to --max-concurrency {}",
            sweep.plan.max_concurrency
        ));
    }
}

async fn rate_stage(runner: &Runner, sweep: &mut Sweep, rates: &[f64]) {
    for &r in rates {
        if runner.stopped() {
            break;
        }
        let p = runner.rate(&sweep.plan, Stage::Rate, r).await;
        sweep.points.push(p);
        if stop_if_unreachable(sweep) {
            return;
        }
    }
}

/// After a point: when nothing has got through and every failure says the target cannot be
/// reached, more points would only measure the failures; the sweep stops and says why.
fn stop_if_unreachable(sweep: &mut Sweep) -> bool {
    let stop = sweep_unreachable(sweep);
    if stop {
        sweep.notes.push(
            "stopped: the target could not be reached or was not ready (every request failed to connect)"
                .to_string(),
        );
    }
    stop
}

/// The rates of `--rates auto`, from the concurrency stage's figures.
fn auto_rate_list(sweep: &mut Sweep) -> Option<Vec<f64>> {
    let Some(sat) = sweep.saturated_rps else {
        sweep
            .notes
            .push("no rate points: no request succeeded in the concurrency stage".to_string());
        return None;
    };
    let single = sweep.single_stream_rps.unwrap_or(0.0);
    let (rates, moved) = plan::auto_rates(single, sat, sweep.plan.points);
    if moved {
        sweep.notes.push(format!(
            "one stream ({}/s) is within one spacing of saturation ({}/s): rates start at saturation / {} instead",
            report::rate_text(single),
            report::rate_text(sat),
            sweep.plan.points
        ));
    }
    Some(rates)
}

async fn search_stage(runner: &Runner, sweep: &mut Sweep) {
    let top = match sweep.plan.max_rate {
        Some(r) => r,
        None => {
            concurrency_stage(runner, sweep, &Levels::Auto).await;
            match sweep.saturated_rps {
                Some(s) => s,
                None => {
                    if !runner.stopped() {
                        sweep.notes.push(
                            "no rate search: no request succeeded in the concurrency stage"
                                .to_string(),
                        );
                    }
                    return;
                }
            }
        }
    };
    let mut b = Bisection::new(top, sweep.plan.resolution);
    while let Some(rate) = b.next() {
        if runner.stopped() {
            break;
        }
        let p = runner.rate(&sweep.plan, Stage::Search, rate).await;
        let complete = !p.phase.interrupted;
        let passed = p.verdict() == Some(Verdict::Pass);
        sweep.points.push(p);
        if !complete || stop_if_unreachable(sweep) {
            break;
        }
        b.record(rate, passed);
        tracing::debug!(rate, passed, "rate search probe");
    }
    sweep.search = Some(b.outcome());
}

/// Runs the sweep `args` describe, stopped early through `control`. `say` prints progress;
/// `progress` shows a bar per point. Nothing is printed on stdout.
pub async fn measure(
    args: &SweepArgs,
    control: RunControl,
    say: Say,
    progress: bool,
) -> anyhow::Result<Sweep> {
    validate_common(&args.bench)?;
    let plan = Plan::from_args(args).map_err(|e| UsageError(e.to_string()))?;
    // The banner comes once the options are known to be usable, before the target is touched.
    say(&format!(
        "🚀 fluxprobe sweep{}",
        if args.bench.simulate {
            " (simulated API)"
        } else {
            ""
        }
    ));
    let prepared = prepare(&args.bench).await?;
    let (objectives, objectives_text) =
        objectives(&plan, prepared.slo.as_ref(), args.bench.slo.as_deref());
    let arrivals = sweep_arrivals(args.bench.arrivals);
    let mut config = prepared.config.clone();
    config.arrivals = arrivals.to_string();
    let runner = Runner {
        client: prepared.client.clone(),
        source: prepared.source.clone(),
        mode: match args.bench.test_type {
            TestType::Queue => ProbeMode::Queue,
            _ => ProbeMode::Generate,
        },
        control,
        warmup: args.bench.warmup,
        timeout: args.bench.timeout,
        poll_interval: args.bench.poll_interval,
        max_in_flight: args.bench.max_in_flight,
        open: OpenLoopOptions {
            arrivals,
            seed: args.bench.arrival_seed,
            stop_on_saturation: args.bench.stop_on_saturation,
        },
        objectives: objectives.clone(),
        confidence: args.bench.confidence,
        slo_confidence: args.bench.slo_confidence,
        progress,
        say,
    };
    let mut sweep = Sweep {
        plan: plan.clone(),
        config,
        points: Vec::new(),
        knee: None,
        single_stream_rps: None,
        saturated_rps: None,
        search: None,
        objectives,
        objectives_text,
        interrupted: false,
        notes: Vec::new(),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
    };
    let uses_rates = !matches!(plan.kind, Kind::Concurrency(_));
    if uses_rates && plan.duration_seconds.is_none() {
        sweep.notes.push(format!(
            "--duration not given: each rate point lasts long enough for {} requests at its rate",
            plan.rate_point_requests(runner.slo_confidence)
        ));
    }
    if uses_rates && args.bench.arrivals != arrivals {
        sweep
            .notes
            .push("rate points use Poisson arrivals (constant spacing hides queueing)".to_string());
    }
    match &plan.kind {
        Kind::Concurrency(levels) => concurrency_stage(&runner, &mut sweep, levels).await,
        Kind::Rates(Rates::List(rates)) => rate_stage(&runner, &mut sweep, rates).await,
        Kind::Rates(Rates::Auto) => {
            concurrency_stage(&runner, &mut sweep, &Levels::Auto).await;
            if !runner.stopped()
                && let Some(rates) = auto_rate_list(&mut sweep)
            {
                rate_stage(&runner, &mut sweep, &rates).await;
            }
        }
        Kind::MaxRateUnder { .. } => search_stage(&runner, &mut sweep).await,
    }
    sweep.interrupted = runner.stopped();
    prepared.shutdown().await;
    Ok(sweep)
}

/// True when nothing got through the sweep's points (see [`target_unavailable`]).
fn sweep_unreachable(s: &Sweep) -> bool {
    target_unavailable(s.points.iter().flat_map(|p| p.phase.measured()))
}

/// Interrupted (130) wins, then an unreachable target (4), then a rate search that found no
/// passing rate (3). A point that misses `--slo` does not fail a sweep: finding where the
/// objectives stop holding is what it is for.
pub fn exit_code(s: &Sweep) -> Exit {
    if s.interrupted {
        return Exit::Interrupted;
    }
    if sweep_unreachable(s) {
        return Exit::TargetUnavailable;
    }
    match (&s.plan.kind, &s.search) {
        (Kind::MaxRateUnder { .. }, Some(o)) if o.max_rate.is_some() => Exit::Ok,
        (Kind::MaxRateUnder { .. }, _) => Exit::SloFailed,
        _ => Exit::Ok,
    }
}

/// The default file name of a sweep's JSON or chart, from one time so that the two pair up.
fn default_name(at: &chrono::DateTime<chrono::Local>, ext: &str) -> PathBuf {
    PathBuf::from(
        at.format(&format!("sweep_results_%Y%m%d_%H%M%S.{ext}"))
            .to_string(),
    )
}

/// `fluxprobe sweep`: measure, then save, plot, print and choose the exit code.
pub async fn run_cli(args: SweepArgs) -> anyhow::Result<Exit> {
    if let Some(p) = args.bench.plot.as_deref().filter(|p| !p.is_empty()) {
        plot::check_path(std::path::Path::new(p)).map_err(|e| usage(e.to_string()))?;
    }
    let say: Say = Arc::new(|line: &str| eprintln!("{line}"));
    let control = RunControl::new();
    let watch = InterruptWatch::install(
        control.clone(),
        args.bench.grace,
        args.bench.lang,
        Arc::clone(&say),
    );
    // A bar on a terminal only: per-point progress lines would drown the sweep's own lines.
    let bars = !args.bench.json && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let sweep = measure(&args, control, Arc::clone(&say), bars).await;
    drop(watch);
    let sweep = sweep?;
    let doc = report::to_json(&sweep);
    let finished = chrono::Local::now();
    if let Some(save) = &args.bench.save {
        let path = if save.is_empty() {
            default_name(&finished, "json")
        } else {
            PathBuf::from(save)
        };
        crate::bench::results::write_atomic(&path, &doc)
            .with_context(|| format!("cannot save the sweep to {}", path.display()))?;
        say(&format!("💾 sweep saved to {}", path.display()));
    }
    if let Some(p) = &args.bench.plot {
        let path = if p.is_empty() {
            default_name(&finished, "png")
        } else {
            PathBuf::from(p)
        };
        match plot::render(&sweep, &path) {
            Ok(()) => say(&format!("📈 chart saved to {}", path.display())),
            // A chart that cannot be drawn must not lose the measurements.
            Err(e) => say(&format!(
                "⚠️  cannot draw the chart to {}: {e}",
                path.display()
            )),
        }
    }
    if args.bench.json {
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        print!("{}", report::render(&sweep));
    }
    let exit = exit_code(&sweep);
    if exit == Exit::TargetUnavailable {
        say("❌ the target could not be reached or was not ready");
    }
    Ok(exit)
}
