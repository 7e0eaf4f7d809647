//! What a sweep will do, read from its options before anything is sent: which kind of sweep
//! (`--concurrency`, `--rates` or `--max-rate-under`), the load levels of an explicit list,
//! the doubling levels of an automatic concurrency sweep, how many requests a concurrency point
//! sends, how long a rate point lasts, and the evenly spaced rates of an automatic rate sweep.

use crate::bench::slo::{Metric, Slo, SloError};
use crate::cli::SweepArgs;
use crate::stats::early_stopping;

/// Rate points with no `--duration` send at least this many requests each.
pub const MIN_RATE_POINT_REQUESTS: u64 = 100;

/// A sweep's options that cannot be used, with what to write instead.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    #[error("choose a sweep: --concurrency auto|LIST, --rates auto|LIST or --max-rate-under SLO")]
    NoSweep,
    #[error("--{option} {value:?}: {message}")]
    BadList {
        option: &'static str,
        value: String,
        message: String,
    },
    #[error("--max-rate-under: {0}")]
    Objective(#[from] SloError),
    #[error("--max-rate-under {0:?} has no latency bound to search on (e.g. 'p99<20s')")]
    NoLatencyBound(String),
    #[error("{0}")]
    Option(String),
}

/// Concurrency levels: doubling until the knee, or exactly these.
#[derive(Debug, Clone, PartialEq)]
pub enum Levels {
    Auto,
    List(Vec<u32>),
}

/// Rates (requests per second): evenly spaced between single-stream and saturated throughput,
/// or exactly these.
#[derive(Debug, Clone, PartialEq)]
pub enum Rates {
    Auto,
    List(Vec<f64>),
}

/// The kind of sweep.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Concurrency(Levels),
    Rates(Rates),
    /// The highest rate whose verdict on these objectives is PASS; `text` as written.
    MaxRateUnder {
        objective: Slo,
        text: String,
    },
}

impl Kind {
    /// The name used in the JSON ("concurrency", "rates", "max_rate_under").
    pub fn name(&self) -> &'static str {
        match self {
            Kind::Concurrency(_) => "concurrency",
            Kind::Rates(_) => "rates",
            Kind::MaxRateUnder { .. } => "max_rate_under",
        }
    }
}

/// Everything a sweep needs besides the target.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub kind: Kind,
    /// Requests of a concurrency point (before `rounds × C`).
    pub requests: u64,
    pub rounds: u64,
    pub knee_gain: f64,
    pub max_concurrency: u32,
    pub points: u32,
    pub resolution: f64,
    pub max_rate: Option<f64>,
    /// Seconds of each rate point; `None`: long enough for [`Plan::rate_point_requests`].
    pub duration_seconds: Option<f64>,
}

fn bad_list(option: &'static str, value: &str, message: impl Into<String>) -> PlanError {
    PlanError::BadList {
        option,
        value: value.to_string(),
        message: message.into(),
    }
}

/// `auto`, or a comma-separated list of whole numbers of at least 1.
pub fn parse_levels(s: &str) -> Result<Levels, PlanError> {
    if s.trim().eq_ignore_ascii_case("auto") {
        return Ok(Levels::Auto);
    }
    let levels = s
        .split(',')
        .map(|item| match item.trim().parse::<u32>() {
            Ok(c) if c >= 1 => Ok(c),
            _ => Err(bad_list(
                "concurrency",
                s,
                format!("{:?} is not a concurrency of at least 1", item.trim()),
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Levels::List(levels))
}

/// `auto`, or a comma-separated list of positive requests per second.
pub fn parse_rates(s: &str) -> Result<Rates, PlanError> {
    if s.trim().eq_ignore_ascii_case("auto") {
        return Ok(Rates::Auto);
    }
    let rates = s
        .split(',')
        .map(|item| {
            let t = item.trim().trim_end_matches("/s");
            match t.parse::<f64>() {
                Ok(r) if r.is_finite() && r > 0.0 => Ok(r),
                _ => Err(bad_list(
                    "rates",
                    s,
                    format!(
                        "{:?} is not a positive number of requests per second",
                        item.trim()
                    ),
                )),
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Rates::List(rates))
}

/// The levels of an automatic concurrency sweep: 1, 2, 4, … while at most `max`, then `max`
/// itself when it is not a power of two.
pub fn doubling_levels(max: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let mut c = 1u32;
    while c <= max {
        out.push(c);
        match c.checked_mul(2) {
            Some(n) => c = n,
            None => break,
        }
    }
    if out.last().is_some_and(|&last| last < max) {
        out.push(max);
    }
    out
}

/// `n` rates evenly spaced from `lo` to `hi`, both included (one point: `hi`).
pub fn evenly_spaced(lo: f64, hi: f64, n: u32) -> Vec<f64> {
    match n {
        0 => Vec::new(),
        1 => vec![hi],
        _ => (0..n)
            .map(|i| lo + (hi - lo) * f64::from(i) / f64::from(n - 1))
            .collect(),
    }
}

/// The rates of an automatic rate sweep from the single-stream rate and the saturated
/// throughput, and whether the lower end had to move: when one stream already comes within one
/// spacing (`hi / points`) of saturation (a single-GPU server), evenly spaced rates between the
/// two would all be about the same, so they start at `hi / points` instead.
pub fn auto_rates(single_stream: f64, saturated: f64, points: u32) -> (Vec<f64>, bool) {
    let spacing = saturated / f64::from(points.max(1));
    if saturated - single_stream < spacing {
        (evenly_spaced(spacing, saturated, points), true)
    } else {
        (evenly_spaced(single_stream, saturated, points), false)
    }
}

/// The strictest percentile share of the objectives' upper latency bounds (0.99 for p99), if any.
fn strictest_share(slo: &Slo) -> Option<f64> {
    slo.clauses
        .iter()
        .filter_map(|c| match c.metric {
            Metric::Percentile(p) if p < 100.0 => Some(p / 100.0),
            _ => None,
        })
        .reduce(f64::max)
}

impl Plan {
    /// Reads the sweep's options (the bench options are checked by `validate_common`).
    pub fn from_args(a: &SweepArgs) -> Result<Plan, PlanError> {
        if a.concurrent_given {
            return Err(PlanError::Option(format!(
                "--concurrent is a bench option; a sweep sets each point's concurrency: \
                 --concurrency {} for exactly that, or --concurrency auto",
                a.bench.concurrent
            )));
        }
        let kind = match (&a.concurrency, &a.rates, &a.max_rate_under) {
            (Some(c), _, _) => Kind::Concurrency(parse_levels(c)?),
            (_, Some(r), _) => Kind::Rates(parse_rates(r)?),
            (_, _, Some(text)) => {
                let objective = Slo::parse(text)?;
                if !objective.clauses.iter().any(|c| c.metric.is_latency()) {
                    return Err(PlanError::NoLatencyBound(text.clone()));
                }
                Kind::MaxRateUnder {
                    objective,
                    text: text.clone(),
                }
            }
            (None, None, None) => return Err(PlanError::NoSweep),
        };
        let opt = |m: &str| Err(PlanError::Option(m.to_string()));
        if !(a.knee_gain.is_finite() && a.knee_gain >= 0.0) {
            return opt("--knee-gain must be zero or a positive share, e.g. 0.10");
        }
        if a.max_concurrency == 0 {
            return opt("--max-concurrency must be at least 1");
        }
        if a.rounds == 0 {
            return opt("--rounds must be at least 1");
        }
        if a.points == 0 {
            return opt("--points must be at least 1");
        }
        if !(a.resolution.is_finite() && a.resolution > 0.0 && a.resolution < 1.0) {
            return opt("--resolution must be a share above 0 and below 1, e.g. 0.05");
        }
        if let Some(r) = a.max_rate
            && !(r.is_finite() && r > 0.0)
        {
            return opt("--max-rate must be a positive number of requests per second");
        }
        if a.bench.rate.is_some() {
            return opt(
                "--rate is a bench option; a sweep chooses its rates (--rates, --max-rate-under)",
            );
        }
        if a.bench.test_type == crate::cli::TestType::Both {
            return opt("a sweep runs one test type: --test-type concurrent or queue");
        }
        if a.bench.requests == 0 {
            return opt("--requests must be at least 1");
        }
        Ok(Plan {
            kind,
            requests: a.bench.requests,
            rounds: a.rounds,
            knee_gain: a.knee_gain,
            max_concurrency: a.max_concurrency,
            points: a.points,
            resolution: a.resolution,
            max_rate: a.max_rate,
            duration_seconds: a.bench.duration.map(|d| d.as_secs_f64()),
        })
    }

    /// Measured requests of a concurrency point: max(--requests, rounds × C).
    pub fn closed_requests(&self, concurrency: u32) -> u64 {
        self.requests
            .max(self.rounds.saturating_mul(u64::from(concurrency)))
    }

    /// Requests a rate point aims at when no `--duration` is given: at least `--requests` and
    /// [`MIN_RATE_POINT_REQUESTS`]; for a rate search, also twice what the strictest percentile
    /// bound needs for a PASS with no request over it (918 for p99 at 99 %), so that a probe
    /// comfortably under the bound can pass.
    pub fn rate_point_requests(&self, slo_confidence: f64) -> u64 {
        let mut n = self.requests.max(MIN_RATE_POINT_REQUESTS);
        if let Kind::MaxRateUnder { objective, .. } = &self.kind
            && let Some(share) = strictest_share(objective)
            && let Some(needed) = early_stopping::requests_needed(0, share, slo_confidence)
        {
            n = n.max(needed.saturating_mul(2));
        }
        n
    }

    /// Seconds a rate point at `rate` lasts: `--duration`, or the time to send
    /// [`Plan::rate_point_requests`] at that rate.
    pub fn rate_point_seconds(&self, rate: f64, slo_confidence: f64) -> f64 {
        self.duration_seconds
            .unwrap_or_else(|| self.rate_point_requests(slo_confidence) as f64 / rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_auto() {
        assert_eq!(parse_levels("auto").unwrap(), Levels::Auto);
        assert_eq!(
            parse_levels(" 1, 2,3 ").unwrap(),
            Levels::List(vec![1, 2, 3])
        );
        assert!(
            parse_levels("1,0")
                .unwrap_err()
                .to_string()
                .contains("\"0\"")
        );
        assert!(parse_levels("1,,2").is_err());
        assert_eq!(parse_rates("AUTO").unwrap(), Rates::Auto);
        assert_eq!(
            parse_rates("0.5, 1/s,2").unwrap(),
            Rates::List(vec![0.5, 1.0, 2.0])
        );
        assert!(parse_rates("0.5,-1").is_err());
        assert!(parse_rates("fast").is_err());
    }

    #[test]
    fn doubling_stops_at_the_cap() {
        assert_eq!(doubling_levels(1), vec![1]);
        assert_eq!(doubling_levels(8), vec![1, 2, 4, 8]);
        assert_eq!(doubling_levels(10), vec![1, 2, 4, 8, 10]);
        assert_eq!(doubling_levels(64).len(), 7);
        assert_eq!(*doubling_levels(u32::MAX).last().unwrap(), u32::MAX);
    }

    #[test]
    fn even_spacing_by_hand() {
        assert_eq!(evenly_spaced(1.0, 3.0, 5), vec![1.0, 1.5, 2.0, 2.5, 3.0]);
        assert_eq!(evenly_spaced(1.0, 3.0, 1), vec![3.0]);
        assert!(evenly_spaced(1.0, 3.0, 0).is_empty());
        // Four GPUs: one stream at 1/s, saturated at 4/s.
        assert_eq!(auto_rates(1.0, 4.0, 4), (vec![1.0, 2.0, 3.0, 4.0], false));
        // One GPU: one stream already saturates it; start at 1/points of saturation.
        let (r, moved) = auto_rates(0.98, 1.0, 4);
        assert!(moved);
        assert_eq!(r, vec![0.25, 0.5, 0.75, 1.0]);
    }

    fn args(extra: &[&str]) -> SweepArgs {
        use clap::Parser;
        let mut argv = vec!["fluxprobe", "sweep", "--simulate"];
        argv.extend_from_slice(extra);
        match crate::cli::Cli::try_parse_from(argv).unwrap().command {
            crate::cli::Command::Sweep(s) => s,
            _ => panic!("not sweep"),
        }
    }

    #[test]
    fn requests_per_point() {
        let p = Plan::from_args(&args(&["--concurrency", "auto", "--requests", "10"])).unwrap();
        assert_eq!(p.closed_requests(1), 10);
        assert_eq!(p.closed_requests(4), 32);
        assert_eq!(p.rate_point_requests(0.99), 100);
        assert_eq!(p.rate_point_seconds(4.0, 0.99), 25.0);
        // p99 at 99 % needs 459 with none over the bound: probes aim at twice that.
        let p = Plan::from_args(&args(&["--max-rate-under", "p99<20s,p90<10s"])).unwrap();
        assert_eq!(p.rate_point_requests(0.99), 918);
        let p =
            Plan::from_args(&args(&["--max-rate-under", "p99<20s", "--duration", "30s"])).unwrap();
        assert_eq!(p.rate_point_seconds(4.0, 0.99), 30.0);
    }

    #[test]
    fn unusable_options_are_refused() {
        assert_eq!(Plan::from_args(&args(&[])).unwrap_err(), PlanError::NoSweep);
        for (extra, hint) in [
            (
                &["--max-rate-under", "success>=0.9"][..],
                "no latency bound",
            ),
            (&["--max-rate-under", "p99<"][..], "not a number"),
            (&["--concurrency", "auto", "--rounds", "0"][..], "--rounds"),
            (&["--rates", "auto", "--points", "0"][..], "--points"),
            (
                &["--rates", "auto", "--resolution", "1"][..],
                "--resolution",
            ),
            (
                &["--concurrency", "auto", "--knee-gain=-1"][..],
                "--knee-gain",
            ),
            (
                &["--concurrency", "auto", "--test-type", "both"][..],
                "one test type",
            ),
            (
                &["--concurrency", "auto", "--rate", "2"][..],
                "--rate is a bench option",
            ),
        ] {
            let e = Plan::from_args(&args(extra)).unwrap_err().to_string();
            assert!(e.contains(hint), "{extra:?}: {e}");
        }
    }
}
