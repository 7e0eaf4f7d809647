//! Bursts: at a cron time (or on demand), N requests at concurrency C — a closed loop of the
//! same probe, each counted in the per-probe metrics with probe=<burst name> — then the burst's
//! gauges (throughput, success ratio, response-time quantiles, end time) and its SLO verdict.
//! A burst that fires while the previous run still goes on is skipped and counted (overlap).
//!
//! Quantiles here are exact nearest-rank values over the burst's successful records (a burst is
//! small, so every record is kept until it ends). The SLO is judged exactly as `bench --slo`
//! judges a phase (a percentile from too few samples is inconclusive).

use super::config::BurstSlo;
use super::recent::{BurstReport, Quantiles, SloOutcome};
use super::registry::SKIP_OVERLAP;
use super::schedule::{next_fire, until};
use super::target::TargetRuntime;
use crate::bench::model::{Load, PhaseResult};
use crate::bench::summary::PhaseSummary;
use crate::probe::ProbeRecord;
use crate::stats::exact::percentile_sorted;
use chrono::Utc;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

/// What started a burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    Schedule,
    Manual,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Schedule => "schedule",
            Trigger::Manual => "manual",
        }
    }
}

/// Why a burst did not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BurstStartError {
    #[error("target {0:?} has no burst {1:?}")]
    UnknownBurst(String, String),
    #[error("burst {1:?} of target {0:?} is still running")]
    AlreadyRunning(String, String),
    #[error("target {0:?} is stopping")]
    Stopping(String),
}

/// Fires a burst at each time of its schedule until the target stops.
pub async fn cron_loop(rt: Arc<TargetRuntime>, burst: String) {
    let Some(cfg) = rt.cfg.burst(&burst).cloned() else {
        return;
    };
    let mut last = Utc::now();
    loop {
        let now = Utc::now();
        let Some(next) = next_fire(&cfg.schedule.cron, cfg.timezone, now.max(last)) else {
            tracing::warn!(
                target_name = rt.name(),
                burst,
                "the schedule has no next time"
            );
            rt.shared.recent.set_next_burst(rt.name(), &burst, None);
            return;
        };
        rt.shared.recent.set_next_burst(
            rt.name(),
            &burst,
            Some(next.timestamp_millis() as f64 / 1000.0),
        );
        tokio::select! {
            _ = tokio::time::sleep(until(now, next)) => {}
            _ = rt.schedule_cancel.cancelled() => return,
        }
        // The monotonic sleep may end a hair before the wall-clock time: wait the rest.
        let early = until(Utc::now(), next);
        if !early.is_zero() {
            tokio::select! {
                _ = tokio::time::sleep(early) => {}
                _ = rt.schedule_cancel.cancelled() => return,
            }
        }
        last = next;
        if let Err(e) = start_burst(&rt, &burst, Trigger::Schedule) {
            tracing::warn!(target_name = rt.name(), burst, "burst skipped: {e}");
        }
    }
}

/// Starts a burst in the background; a run already going on makes this one skipped (counted).
pub fn start_burst(
    rt: &Arc<TargetRuntime>,
    burst: &str,
    trigger: Trigger,
) -> Result<(), BurstStartError> {
    let Some(cfg) = rt.cfg.burst(burst).cloned() else {
        return Err(BurstStartError::UnknownBurst(
            rt.name().to_string(),
            burst.to_string(),
        ));
    };
    if rt.schedule_cancel.is_cancelled() {
        return Err(BurstStartError::Stopping(rt.name().to_string()));
    }
    {
        let mut running = rt.bursts_running.lock().unwrap_or_else(|e| e.into_inner());
        if !running.insert(burst.to_string()) {
            rt.shared.metrics.skip(rt.name(), burst, SKIP_OVERLAP);
            return Err(BurstStartError::AlreadyRunning(
                rt.name().to_string(),
                burst.to_string(),
            ));
        }
    }
    let me = rt.clone();
    rt.tasks.spawn(async move {
        run_burst(&me, &cfg, trigger).await;
        me.bursts_running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&cfg.name);
    });
    Ok(())
}

async fn run_burst(rt: &Arc<TargetRuntime>, cfg: &super::config::BurstConfig, trigger: Trigger) {
    let shared = &rt.shared;
    let labels = [rt.name(), cfg.name.as_str()];
    shared.metrics.burst_running.with(&labels).set(1.0);
    shared.recent.set_burst_running(rt.name(), &cfg.name, true);
    let started_at = shared.now_unix();
    tracing::info!(
        target_name = rt.name(),
        burst = cfg.name,
        trigger = trigger.as_str(),
        requests = cfg.requests,
        concurrency = cfg.concurrency,
        "burst started"
    );

    let next = Arc::new(AtomicU32::new(0));
    let workers: Vec<_> = (0..cfg.concurrency)
        .map(|_| {
            let rt = rt.clone();
            let next = next.clone();
            let name = cfg.name.clone();
            let total = cfg.requests;
            async move {
                let mut out = Vec::new();
                while next.fetch_add(1, Ordering::SeqCst) < total {
                    // Stopping: send nothing new (what is in flight finishes or is aborted).
                    if rt.schedule_cancel.is_cancelled() || rt.probe_cancel.is_cancelled() {
                        break;
                    }
                    out.push(rt.run_probe(&name, None).await);
                }
                out
            }
        })
        .collect();
    let records: Vec<ProbeRecord> = futures::future::join_all(workers)
        .await
        .into_iter()
        .flatten()
        .collect();
    if rt.is_retired() {
        return;
    }
    let report = summarize(cfg, trigger, started_at, records, shared, rt.cfg.mode);
    publish(rt, &report);
    shared.recent.set_burst_report(rt.name(), report);
}

/// The summary of a burst's records. `started_at` is Unix seconds.
pub fn summarize(
    cfg: &super::config::BurstConfig,
    trigger: Trigger,
    started_at: f64,
    records: Vec<ProbeRecord>,
    shared: &super::shared::Shared,
    mode: crate::probe::ProbeMode,
) -> BurstReport {
    let s = stats(&records);
    let requests = records.len() as u64;
    let slo = cfg
        .slo
        .as_ref()
        .map(|o| judge(o, cfg, records, shared.clock.wall_start, mode));
    BurstReport {
        burst: cfg.name.clone(),
        trigger: trigger.as_str(),
        started_at,
        ended_at: s
            .last_done
            .map(|d| shared.clock.epoch(d))
            .unwrap_or_else(|| shared.now_unix()),
        requests,
        successes: s.successes,
        failures: s.failures,
        success_ratio: s.success_ratio,
        throughput_rps: s.throughput,
        response_seconds: s.quantiles,
        percentile_method: crate::stats::exact::PERCENTILE_METHOD,
        slo,
    }
}

/// Judges a burst's objective as `bench --slo` judges a closed-loop phase.
fn judge(
    o: &BurstSlo,
    cfg: &super::config::BurstConfig,
    records: Vec<ProbeRecord>,
    wall_start: f64,
    mode: crate::probe::ProbeMode,
) -> SloOutcome {
    let phase = PhaseResult {
        test_type: mode,
        load: Load::Closed {
            requests: u64::from(cfg.requests),
            concurrency: cfg.concurrency,
        },
        wall_start,
        not_started: u64::from(cfg.requests).saturating_sub(records.len() as u64),
        records,
        skipped: 0,
        interrupted: false,
        peak_in_flight: cfg.concurrency,
        stopped_early: None,
    };
    let report = crate::bench::slo::evaluate(&o.slo, &PhaseSummary::from_phase(&phase));
    SloOutcome {
        expression: o.text.clone(),
        verdict: report.verdict,
        clauses: report.results,
    }
}

/// Figures of a set of records.
#[derive(Debug, Clone, PartialEq)]
pub struct BurstStats {
    pub successes: u64,
    pub failures: BTreeMap<String, u64>,
    pub success_ratio: f64,
    /// Successes / (last done − first intended); None without a success or a positive span.
    pub throughput: Option<f64>,
    pub quantiles: Option<Quantiles>,
    pub success_times: Vec<f64>,
    pub last_done: Option<f64>,
}

pub fn stats(records: &[ProbeRecord]) -> BurstStats {
    let successes = records.iter().filter(|r| r.is_success()).count() as u64;
    let mut failures = BTreeMap::new();
    for r in records.iter().filter(|r| !r.is_success()) {
        *failures.entry(r.outcome.as_str().to_string()).or_insert(0) += 1;
    }
    let first_intended = records.iter().map(|r| r.intended).reduce(f64::min);
    let last_done = records.iter().map(|r| r.done).reduce(f64::max);
    let throughput = match (first_intended, last_done) {
        (Some(a), Some(b)) if b > a && successes > 0 => Some(successes as f64 / (b - a)),
        _ => None,
    };
    let mut success_times: Vec<f64> = records
        .iter()
        .filter(|r| r.is_success())
        .map(|r| r.response_time())
        .collect();
    success_times.sort_by(f64::total_cmp);
    let quantiles = (!success_times.is_empty()).then(|| Quantiles {
        p50: percentile_sorted(&success_times, 50.0).unwrap_or(f64::NAN),
        p95: percentile_sorted(&success_times, 95.0).unwrap_or(f64::NAN),
        p99: percentile_sorted(&success_times, 99.0).unwrap_or(f64::NAN),
    });
    BurstStats {
        successes,
        failures,
        success_ratio: if records.is_empty() {
            0.0
        } else {
            successes as f64 / records.len() as f64
        },
        throughput,
        quantiles,
        success_times,
        last_done,
    }
}

fn publish(rt: &TargetRuntime, r: &BurstReport) {
    let m = &rt.shared.metrics;
    let labels = [rt.name(), r.burst.as_str()];
    m.burst_running.with(&labels).set(0.0);
    m.burst_success_ratio.with(&labels).set(r.success_ratio);
    // No success: throughput is 0 (nothing got through), quantiles are unknown (removed).
    m.burst_throughput
        .with(&labels)
        .set(r.throughput_rps.unwrap_or(0.0));
    for (q, v) in [
        ("0.5", r.response_seconds.map(|x| x.p50)),
        ("0.95", r.response_seconds.map(|x| x.p95)),
        ("0.99", r.response_seconds.map(|x| x.p99)),
    ] {
        let l = [rt.name(), r.burst.as_str(), q];
        match v {
            Some(v) => m.burst_response.with(&l).set(v),
            None => m.burst_response.remove(&l),
        }
    }
    m.burst_end.with(&labels).set(r.ended_at);
    let verdict = r.slo.as_ref().map(|s| s.verdict.as_str());
    tracing::info!(
        target_name = rt.name(),
        burst = r.burst,
        requests = r.requests,
        successes = r.successes,
        throughput_rps = r.throughput_rps.unwrap_or(0.0),
        p95_s = r.response_seconds.map(|q| q.p95),
        slo = verdict.unwrap_or("none"),
        "burst finished"
    );
    if let Some(s) = &r.slo
        && s.verdict != crate::bench::slo::Verdict::Pass
    {
        for c in &s.clauses {
            tracing::warn!(
                target_name = rt.name(),
                burst = r.burst,
                clause = c.clause.text,
                measured = c.measured,
                samples = c.samples,
                violations = c.violations,
                more_needed = c.more_needed,
                verdict = c.verdict.as_str(),
                "burst SLO clause"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Outcome;
    use crate::probe::ProbeMode;

    fn rec(outcome: Outcome, intended: f64, done: f64) -> ProbeRecord {
        ProbeRecord {
            seq: 0,
            warmup: false,
            mode: ProbeMode::Generate,
            intended,
            sent: intended,
            first_byte: None,
            done,
            outcome,
            http_status: None,
            error: None,
            generation_time: None,
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

    #[test]
    fn throughput_counts_successes_over_the_whole_span() {
        // One GPU, service 2 s, 3 concurrent: answers at 2, 4, 6; a failure ends at 7.
        let records = vec![
            rec(Outcome::Success, 10.0, 12.0),
            rec(Outcome::Success, 10.0, 14.0),
            rec(Outcome::Success, 10.0, 16.0),
            rec(Outcome::Timeout, 12.0, 17.0),
        ];
        let s = stats(&records);
        assert_eq!(s.successes, 3);
        assert_eq!(s.failures["timeout"], 1);
        assert_eq!(s.success_ratio, 0.75);
        assert!((s.throughput.unwrap() - 3.0 / 7.0).abs() < 1e-12);
        // The failure's 5 s stays out of the success percentiles.
        let q = s.quantiles.unwrap();
        assert_eq!((q.p50, q.p95, q.p99), (4.0, 6.0, 6.0));
    }

    fn burst(slo: &str, requests: u32) -> super::super::config::BurstConfig {
        super::super::config::BurstConfig {
            name: "b".to_string(),
            schedule: super::super::config::CronSchedule {
                pattern: "* * * * *".to_string(),
                cron: super::super::config::parse_cron("* * * * *").unwrap(),
            },
            timezone: chrono_tz::UTC,
            requests,
            concurrency: 1,
            slo: Some(BurstSlo {
                text: slo.to_string(),
                slo: crate::bench::slo::Slo::parse(slo).unwrap(),
            }),
        }
    }

    #[test]
    fn the_slo_is_judged_like_bench_judges_a_phase() {
        use crate::bench::slo::Verdict;
        let recs = |n: usize, secs: f64| -> Vec<ProbeRecord> {
            (0..n)
                .map(|i| rec(Outcome::Success, i as f64, i as f64 + secs))
                .collect()
        };
        // A p95 bound is met with 99 % confidence from 90 requests none of which missed it
        // (0.95⁹⁰ < 0.01); every one missing it is a plain miss.
        let cfg = burst("p95<2s,success>=0.99", 90);
        let o = |c: &super::super::config::BurstConfig, r| {
            judge(c.slo.as_ref().unwrap(), c, r, 0.0, ProbeMode::Generate)
        };
        assert_eq!(o(&cfg, recs(90, 1.0)).verdict, Verdict::Pass);
        assert_eq!(o(&cfg, recs(90, 3.0)).verdict, Verdict::Fail);
        // 10 samples: too few to tell; 90 would settle it if none missed.
        let small = burst("p95<2s", 10);
        let r = o(&small, recs(10, 1.0));
        assert_eq!(r.verdict, Verdict::Inconclusive);
        assert_eq!(r.clauses[0].needed_samples, Some(90));
        // A failure counts against the success clause.
        let mut mixed = recs(89, 1.0);
        mixed.push(rec(Outcome::Http5xx, 30.0, 31.0));
        assert_eq!(o(&cfg, mixed).verdict, Verdict::Fail);
    }

    #[test]
    fn a_burst_without_success_has_no_quantiles_and_no_throughput() {
        let s = stats(&[rec(Outcome::Connect, 0.0, 0.1)]);
        assert_eq!(s.throughput, None);
        assert_eq!(s.quantiles, None);
        assert_eq!(s.success_ratio, 0.0);
        assert_eq!(stats(&[]).success_ratio, 0.0);
    }
}
