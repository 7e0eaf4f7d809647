//! The figures of one bench phase, computed from its records: counts, wall time and throughput,
//! response-time statistics of successes (failures kept apart), server generation time, queue
//! waits, schedule lag, VRAM, achieved against requested load, and failures by reason.
//!
//! Definitions (warm-up records are left out of everything but the `warmup` count):
//! - `total` = measured requests started; `failed` = `total − success` (aborted ones included);
//! - wall time = last `done` − first `intended` over measured records;
//! - throughput = successful requests / wall time (also images/s), megapixels/s from the
//!   requested width × height of each success;
//! - denoising steps/s = Σ requested steps of successes / wall time; steps per generation
//!   second = Σ requested steps / Σ server generation time of the successes that report one
//!   (the GPU's own pace, "it/s"); megapixel-steps/s = Σ megapixels × steps / wall time, which
//!   compares runs of different sizes and step counts (a generation's cost grows with both);
//! - response time = `done − intended` of successes only; failures have their own summary;
//!   every percentile with its confidence at the run's level (see [`crate::stats::confidence`]);
//! - achieved concurrency = Σ service times (`done − sent`) / wall time (Little's law);
//! - offered rate (open loop) = measured sends the schedule held (started, skipped and not
//!   started) / duration; achieved rate = (started − 1) / (last `sent` − first `sent`);
//! - saturation = requests in flight and response times both rising through the run (see
//!   [`crate::bench::saturation`]).

use crate::bench::model::{BenchResults, Load, PhaseResult};
use crate::bench::saturation::{self, Saturation};
use crate::outcome::Outcome;
use crate::probe::{ProbeMode, ProbeRecord};
use crate::stats::{DEFAULT_CONFIDENCE, Summary};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// At most this many distinct error messages are kept per failure reason.
pub const MESSAGES_PER_REASON: usize = 3;

/// The seed tool's name of a phase ("concurrent" for /generate, "queue" for the queue mode).
pub fn phase_name(mode: ProbeMode) -> &'static str {
    match mode {
        ProbeMode::Generate => "concurrent",
        ProbeMode::Queue => "queue",
    }
}

/// One unique name per phase: the seed's names, with "_2", "_3"… for repeats.
pub fn phase_names(phases: &[PhaseResult]) -> Vec<String> {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    phases
        .iter()
        .map(|p| {
            let base = phase_name(p.test_type);
            let n = seen.entry(base).or_insert(0);
            *n += 1;
            if *n == 1 {
                base.to_string()
            } else {
                format!("{base}_{n}")
            }
        })
        .collect()
}

/// Requested against achieved parallelism.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Concurrency {
    /// Closed loop: the concurrency asked for.
    pub requested: Option<u32>,
    /// Open loop: the cap on requests in flight.
    pub max_in_flight: Option<u32>,
    /// Average requests in flight: Σ service times / wall time.
    pub achieved: Option<f64>,
    /// Most requests in flight at once, as the driver saw it.
    pub peak_in_flight: u32,
}

/// Requested against achieved sending rate (open loop only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RateFigures {
    /// Requests per second asked for.
    pub requested: f64,
    /// Measured sends the schedule held / duration (differs from `requested` for random
    /// arrivals).
    #[serde(default)]
    pub offered: Option<f64>,
    /// (started − 1) / (last sent − first sent).
    pub achieved: Option<f64>,
    pub duration_seconds: f64,
    /// How sends were spaced ("constant", "poisson", "gamma:0.5").
    #[serde(default)]
    pub arrivals: Option<String>,
}

/// The failures of one reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailureGroup {
    pub reason: Outcome,
    pub count: u64,
    /// The first distinct error messages, in start order.
    pub first_messages: Vec<String>,
}

/// The figures of one phase. Latencies in seconds; `None` where there is nothing to measure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseSummary {
    /// "concurrent" or "queue" (see [`phase_name`]).
    pub name: String,
    pub test_type: ProbeMode,
    pub load: Load,
    pub interrupted: bool,
    /// Measured requests started (warm-up excluded).
    pub total: u64,
    pub success: u64,
    /// total − success; includes `aborted`.
    pub failed: u64,
    /// Interrupted or still in flight at the deadline (part of `failed`).
    pub aborted: u64,
    /// Planned but never started (interrupted first).
    pub not_started: u64,
    /// Open loop: sends skipped at max_in_flight.
    pub skipped: u64,
    /// Warm-up requests, left out of every other figure.
    pub warmup: u64,
    pub success_rate: Option<f64>,
    pub error_rate: Option<f64>,
    /// Last done − first intended.
    pub wall_time_seconds: Option<f64>,
    /// Successful requests per second of wall time.
    pub throughput_rps: Option<f64>,
    pub images_per_second: Option<f64>,
    pub megapixels_per_second: Option<f64>,
    /// Requested denoising steps of successes per second of wall time.
    #[serde(default)]
    pub steps_per_second: Option<f64>,
    /// Requested steps per second of server generation time (successes that report it).
    #[serde(default)]
    pub steps_per_generation_second: Option<f64>,
    /// Megapixels × steps of successes per second of wall time.
    #[serde(default)]
    pub megapixel_steps_per_second: Option<f64>,
    /// done − intended, successes only.
    pub response_time: Summary,
    /// done − intended of failures.
    pub failure_response_time: Summary,
    /// Server-reported generation time, successes that reported it.
    pub generation_time: Summary,
    /// Time spent waiting (response time − generation time, or the server's queue wait).
    pub queue_wait: Summary,
    /// Queue mode: started_at − created_at on the server's clock.
    pub server_queue_wait: Summary,
    /// Queue mode: completed_at − started_at on the server's clock.
    pub server_service_time: Summary,
    /// sent − intended, every measured request.
    pub schedule_lag: Summary,
    pub vram_min_bytes: Option<f64>,
    pub vram_max_bytes: Option<f64>,
    pub concurrency: Concurrency,
    /// Open loop only.
    pub rate: Option<RateFigures>,
    /// Failure reasons with at least one failure, most frequent first.
    pub failures: Vec<FailureGroup>,
    /// Field name → number of values present but unusable.
    pub parse_issues: BTreeMap<String, u64>,
    /// Requests in flight and response times kept rising through the run.
    #[serde(default)]
    pub saturation: Option<Saturation>,
    /// Why sending stopped before the plan was done (other than an interruption).
    #[serde(default)]
    pub stopped_early: Option<String>,
}

fn ratio(a: f64, b: f64) -> Option<f64> {
    (b > 0.0 && b.is_finite() && a.is_finite()).then(|| a / b)
}

impl PhaseSummary {
    /// The figures of a phase, percentiles at the default confidence.
    pub fn from_phase(phase: &PhaseResult) -> PhaseSummary {
        PhaseSummary::from_phase_at(phase, DEFAULT_CONFIDENCE)
    }

    /// The figures of a phase, percentiles with their intervals at confidence `level`.
    pub fn from_phase_at(phase: &PhaseResult, level: f64) -> PhaseSummary {
        let summary = |values: &mut dyn Iterator<Item = f64>| Summary::of_at(values, level);
        let measured: Vec<&ProbeRecord> = phase.measured().collect();
        let successes: Vec<&ProbeRecord> = measured
            .iter()
            .copied()
            .filter(|r| r.is_success())
            .collect();
        let failures: Vec<&ProbeRecord> = measured
            .iter()
            .copied()
            .filter(|r| !r.is_success())
            .collect();
        let total = measured.len() as u64;
        let success = successes.len() as u64;

        let first_intended = measured.iter().map(|r| r.intended).reduce(f64::min);
        let last_done = measured.iter().map(|r| r.done).reduce(f64::max);
        let wall = match (first_intended, last_done) {
            (Some(a), Some(b)) if b - a > 0.0 => Some(b - a),
            _ => None,
        };
        let per_wall = |x: f64| wall.and_then(|w| ratio(x, w));
        let megapixels: f64 = successes.iter().map(|r| r.megapixels()).sum();
        let steps: f64 = successes.iter().map(|r| f64::from(r.steps)).sum();
        let megapixel_steps: f64 = successes
            .iter()
            .map(|r| r.megapixels() * f64::from(r.steps))
            .sum();
        let (gen_steps, gen_seconds) = successes
            .iter()
            .filter_map(|r| r.generation_time.map(|g| (f64::from(r.steps), g)))
            .filter(|(_, g)| g.is_finite() && *g > 0.0)
            .fold((0.0, 0.0), |(s, t), (st, g)| (s + st, t + g));
        let busy: f64 = measured.iter().map(|r| r.service_time().max(0.0)).sum();
        // A file that does not say how many steps or pixels (0) has no such figures, never 0.
        let steps_known = successes.iter().all(|r| r.steps > 0);
        let pixels_known = successes.iter().all(|r| r.width > 0 && r.height > 0);
        let known = |ok: bool, v: Option<f64>| v.filter(|_| ok);

        let vram = measured.iter().filter_map(|r| r.vram_bytes);

        let (requested, max_in_flight, rate) = match phase.load {
            Load::Closed { concurrency, .. } => (Some(concurrency), None, None),
            Load::Open {
                rate,
                duration_seconds,
                max_in_flight,
            } => {
                let first_sent = measured.iter().map(|r| r.sent).reduce(f64::min);
                let last_sent = measured.iter().map(|r| r.sent).reduce(f64::max);
                let achieved = match (first_sent, last_sent) {
                    (Some(a), Some(b)) if total >= 2 => ratio((total - 1) as f64, b - a),
                    _ => None,
                };
                let scheduled = total + phase.skipped + phase.not_started;
                (
                    None,
                    Some(max_in_flight),
                    Some(RateFigures {
                        requested: rate,
                        offered: ratio(scheduled as f64, duration_seconds),
                        achieved,
                        duration_seconds,
                        arrivals: None,
                    }),
                )
            }
        };

        let mut parse_issues: BTreeMap<String, u64> = BTreeMap::new();
        for r in &measured {
            for field in &r.parse_issues {
                *parse_issues.entry(field.clone()).or_insert(0) += 1;
            }
        }

        PhaseSummary {
            name: phase_name(phase.test_type).to_string(),
            test_type: phase.test_type,
            load: phase.load,
            interrupted: phase.interrupted,
            total,
            success,
            failed: total - success,
            aborted: failures
                .iter()
                .filter(|r| r.outcome == Outcome::Aborted)
                .count() as u64,
            not_started: phase.not_started,
            skipped: phase.skipped,
            warmup: phase.records.iter().filter(|r| r.warmup).count() as u64,
            success_rate: ratio(success as f64, total as f64),
            error_rate: ratio((total - success) as f64, total as f64),
            wall_time_seconds: wall,
            throughput_rps: per_wall(success as f64),
            images_per_second: per_wall(success as f64),
            megapixels_per_second: known(pixels_known, per_wall(megapixels)),
            steps_per_second: known(steps_known, per_wall(steps)),
            steps_per_generation_second: known(steps_known, ratio(gen_steps, gen_seconds)),
            megapixel_steps_per_second: known(
                steps_known && pixels_known,
                per_wall(megapixel_steps),
            ),
            response_time: summary(&mut successes.iter().map(|r| r.response_time())),
            failure_response_time: summary(&mut failures.iter().map(|r| r.response_time())),
            generation_time: summary(&mut successes.iter().filter_map(|r| r.generation_time)),
            queue_wait: summary(
                &mut successes
                    .iter()
                    .filter_map(|r| r.response_minus_generation()),
            ),
            server_queue_wait: summary(&mut successes.iter().filter_map(|r| r.server_queue_wait)),
            server_service_time: summary(
                &mut successes.iter().filter_map(|r| r.server_service_time),
            ),
            schedule_lag: summary(&mut measured.iter().map(|r| r.schedule_lag())),
            vram_min_bytes: vram.clone().reduce(f64::min),
            vram_max_bytes: vram.reduce(f64::max),
            concurrency: Concurrency {
                requested,
                max_in_flight,
                achieved: per_wall(busy),
                peak_in_flight: phase.peak_in_flight,
            },
            rate,
            failures: failure_groups(&failures),
            parse_issues,
            saturation: saturation::from_records(measured.iter().copied()),
            stopped_early: phase.stopped_early.clone(),
        }
    }
}

fn failure_groups(failures: &[&ProbeRecord]) -> Vec<FailureGroup> {
    let mut groups: Vec<FailureGroup> = Vec::new();
    for r in failures {
        let g = match groups.iter_mut().position(|g| g.reason == r.outcome) {
            Some(i) => &mut groups[i],
            None => {
                groups.push(FailureGroup {
                    reason: r.outcome,
                    count: 0,
                    first_messages: Vec::new(),
                });
                groups.last_mut().expect("just pushed")
            }
        };
        g.count += 1;
        if let Some(msg) = r.error.as_deref().map(str::trim).filter(|m| !m.is_empty())
            && g.first_messages.len() < MESSAGES_PER_REASON
            && !g.first_messages.iter().any(|m| m == msg)
        {
            g.first_messages.push(msg.to_string());
        }
    }
    groups.sort_by(|a, b| b.count.cmp(&a.count).then(a.reason.cmp(&b.reason)));
    groups
}

/// One summary per phase, with unique names (see [`phase_names`]), percentiles at the run's
/// confidence level.
pub fn summarize(results: &BenchResults) -> Vec<PhaseSummary> {
    let level = results.config.confidence;
    let level = if crate::stats::confidence::valid_level(level) {
        level
    } else {
        DEFAULT_CONFIDENCE
    };
    results
        .phases
        .iter()
        .zip(phase_names(&results.phases))
        .map(|(p, name)| {
            let mut s = PhaseSummary::from_phase_at(p, level);
            s.name = name;
            if let Some(r) = s.rate.as_mut() {
                r.arrivals = Some(results.config.arrivals.clone());
            }
            s
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::bench::model::{BenchResults, PhaseResult};

    pub(crate) fn rec(
        seq: u64,
        intended: f64,
        sent: f64,
        done: f64,
        outcome: Outcome,
    ) -> ProbeRecord {
        ProbeRecord {
            seq,
            warmup: false,
            mode: ProbeMode::Generate,
            intended,
            sent,
            first_byte: Some(done),
            done,
            outcome,
            http_status: if outcome.is_success() {
                Some(200)
            } else {
                None
            },
            error: (!outcome.is_success()).then(|| format!("{outcome} happened")),
            generation_time: outcome.is_success().then_some(1.0),
            vram_bytes: None,
            vram_raw: None,
            bytes_received: 0,
            width: 1000,
            height: 500,
            steps: 10,
            server_request_id: None,
            server_queue_wait: None,
            server_service_time: None,
            parse_issues: vec![],
        }
    }

    pub(crate) fn phase(records: Vec<ProbeRecord>, load: Load) -> PhaseResult {
        PhaseResult {
            test_type: ProbeMode::Generate,
            load,
            wall_start: 1_700_000_000.0,
            records,
            skipped: 0,
            not_started: 0,
            interrupted: false,
            peak_in_flight: 2,
            stopped_early: None,
        }
    }

    fn closed(c: u32) -> Load {
        Load::Closed {
            requests: 4,
            concurrency: c,
        }
    }

    #[test]
    fn closed_loop_figures_by_hand() {
        // Two slots: 0→2 ok, 0→3 ok, 2→4 timeout, 3→8 ok; plus a warm-up that must not count.
        let mut warm = rec(99, -5.0, -5.0, -1.0, Outcome::Success);
        warm.warmup = true;
        let mut records = vec![
            warm,
            rec(0, 0.0, 0.0, 2.0, Outcome::Success),
            rec(1, 0.0, 0.0, 3.0, Outcome::Success),
            rec(2, 2.0, 2.0, 4.0, Outcome::Timeout),
            rec(3, 3.0, 3.0, 8.0, Outcome::Success),
        ];
        records[2].vram_bytes = Some(5.0);
        records[4].vram_bytes = Some(9.0);
        records[4].parse_issues = vec!["generation_time".into()];
        let measured = phase(records, closed(2));
        let s = PhaseSummary::from_phase(&measured);
        assert_eq!(
            (s.total, s.success, s.failed, s.aborted, s.warmup),
            (4, 3, 1, 0, 1)
        );
        assert_eq!(s.success_rate, Some(0.75));
        assert_eq!(s.error_rate, Some(0.25));
        assert_eq!(s.wall_time_seconds, Some(8.0));
        assert_eq!(s.throughput_rps, Some(3.0 / 8.0));
        // 3 × 0.5 MP over 8 s.
        assert_eq!(s.megapixels_per_second, Some(1.5 / 8.0));
        // 3 successes × 10 steps over 8 s; over 3 × 1 s of generation; × 0.5 MP.
        assert_eq!(s.steps_per_second, Some(30.0 / 8.0));
        assert_eq!(s.steps_per_generation_second, Some(10.0));
        assert_eq!(s.megapixel_steps_per_second, Some(15.0 / 8.0));
        assert!(s.saturation.is_none());
        assert_eq!(s.stopped_early, None);
        // Successes only: 2, 3, 5.
        assert_eq!(s.response_time.count, 3);
        assert_eq!(s.response_time.mean, Some(10.0 / 3.0));
        assert_eq!(s.response_time.median, Some(3.0));
        assert_eq!(s.response_time.max, Some(5.0));
        assert_eq!(s.failure_response_time.count, 1);
        assert_eq!(s.failure_response_time.max, Some(2.0));
        // Queue wait = response − generation (1.0 each): 1, 2, 4.
        assert_eq!(s.queue_wait.median, Some(2.0));
        // Busy 2 + 3 + 2 + 5 = 12 over 8 s.
        assert_eq!(s.concurrency.achieved, Some(1.5));
        assert_eq!(s.concurrency.requested, Some(2));
        assert_eq!((s.vram_min_bytes, s.vram_max_bytes), (Some(5.0), Some(9.0)));
        assert_eq!(s.failures.len(), 1);
        assert_eq!(s.failures[0].reason, Outcome::Timeout);
        assert_eq!(s.failures[0].first_messages, vec!["timeout happened"]);
        assert_eq!(s.parse_issues.get("generation_time"), Some(&1));
        assert!(s.rate.is_none());
        // Unknown steps (a file that does not give them): no step figures at all.
        let mut unknown = measured.clone();
        for r in &mut unknown.records {
            r.steps = 0;
        }
        let u = PhaseSummary::from_phase(&unknown);
        assert_eq!(u.steps_per_second, None);
        assert_eq!(u.steps_per_generation_second, None);
        assert_eq!(u.megapixel_steps_per_second, None);
        assert_eq!(u.megapixels_per_second, s.megapixels_per_second);
    }

    #[test]
    fn open_loop_rate_and_lag() {
        // Rate 2/s: intended 0, 0.5, 1.0, 1.5; the third is sent 0.25 s late.
        let records = vec![
            rec(0, 0.0, 0.0, 1.0, Outcome::Success),
            rec(1, 0.5, 0.5, 1.5, Outcome::Success),
            rec(2, 1.0, 1.25, 2.0, Outcome::Aborted),
            rec(3, 1.5, 1.5, 2.5, Outcome::Success),
        ];
        let mut p = phase(
            records,
            Load::Open {
                rate: 2.0,
                duration_seconds: 2.0,
                max_in_flight: 10,
            },
        );
        p.skipped = 1;
        let s = PhaseSummary::from_phase(&p);
        let rate = s.rate.unwrap();
        assert_eq!(rate.requested, 2.0);
        assert_eq!(rate.achieved, Some(3.0 / 1.5));
        // 4 started + 1 skipped scheduled over 2 s.
        assert_eq!(rate.offered, Some(2.5));
        assert_eq!(s.schedule_lag.max, Some(0.25));
        assert_eq!(s.aborted, 1);
        assert_eq!(s.skipped, 1);
        assert_eq!(s.concurrency.requested, None);
        assert_eq!(s.concurrency.max_in_flight, Some(10));
    }

    #[test]
    fn failure_messages_are_distinct_and_capped() {
        let mut records: Vec<ProbeRecord> = (0..6)
            .map(|i| rec(i, 0.0, 0.0, 1.0, Outcome::Http5xx))
            .collect();
        for (i, r) in records.iter_mut().enumerate() {
            r.error = Some(format!("boom {}", i % 4));
        }
        records[5].error = Some("boom 0".into());
        records.push(rec(6, 0.0, 0.0, 1.0, Outcome::Connect));
        let s = PhaseSummary::from_phase(&phase(records, closed(1)));
        assert_eq!(s.failures[0].reason, Outcome::Http5xx);
        assert_eq!(s.failures[0].count, 6);
        assert_eq!(
            s.failures[0].first_messages,
            vec!["boom 0", "boom 1", "boom 2"]
        );
        assert_eq!(s.failures[1].reason, Outcome::Connect);
        assert_eq!(s.response_time.count, 0);
        assert_eq!(s.throughput_rps, Some(0.0));
    }

    #[test]
    fn empty_phase_has_no_figures() {
        let s = PhaseSummary::from_phase(&phase(vec![], closed(3)));
        assert_eq!(s.total, 0);
        assert_eq!(s.success_rate, None);
        assert_eq!(s.wall_time_seconds, None);
        assert_eq!(s.throughput_rps, None);
    }

    #[test]
    fn repeated_phases_get_unique_names() {
        let mut q = phase(vec![], closed(1));
        q.test_type = ProbeMode::Queue;
        let phases = vec![phase(vec![], closed(1)), q, phase(vec![], closed(1))];
        assert_eq!(
            phase_names(&phases),
            vec!["concurrent", "queue", "concurrent_2"]
        );
        let results = results_of(phases);
        let names: Vec<String> = summarize(&results).into_iter().map(|s| s.name).collect();
        assert_eq!(names, vec!["concurrent", "queue", "concurrent_2"]);
    }

    pub(crate) fn config() -> crate::bench::model::RunConfig {
        crate::bench::model::RunConfig {
            url: "http://localhost:8000".into(),
            requests: 4,
            concurrent: 2,
            test_type: crate::cli::TestType::Concurrent,
            rate: None,
            duration_seconds: None,
            timeout_seconds: 300.0,
            warmup: 0,
            steps: 10,
            guidance: 4.0,
            width: 1000,
            height: 500,
            seed: "none".into(),
            prompt_count: 1,
            header_names: vec![],
            slo: None,
            simulated: true,
            confidence: 0.95,
            slo_confidence: 0.99,
            arrivals: "constant".into(),
            arrival_seed: 0,
        }
    }

    pub(crate) fn results_of(phases: Vec<PhaseResult>) -> BenchResults {
        BenchResults {
            config: config(),
            system_status: Default::default(),
            phases,
            interrupted: false,
            tool_version: "0.1.0".into(),
        }
    }
}
