//! What the status page and /api/v1/recent show: per target, a ring of the last probe results
//! (failure messages included — they are never labels), the last report of each burst with its
//! SLO verdict, the last status scrape, and the next burst times.

use crate::outcome::Outcome;
use crate::probe::{Clock, ProbeRecord};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Mutex;

/// Results kept per target.
pub const RECENT_CAPACITY: usize = 50;

/// One finished probe, for people.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecentProbe {
    pub probe: String,
    pub seq: u64,
    pub outcome: Outcome,
    pub http_status: Option<u16>,
    pub error: Option<String>,
    /// Unix seconds.
    pub intended_at: f64,
    pub done_at: f64,
    pub response_seconds: f64,
    pub schedule_lag_seconds: f64,
    pub generation_seconds: Option<f64>,
}

impl RecentProbe {
    pub fn from_record(probe: &str, r: &ProbeRecord, clock: &Clock) -> RecentProbe {
        RecentProbe {
            probe: probe.to_string(),
            seq: r.seq,
            outcome: r.outcome,
            http_status: r.http_status,
            error: r.error.clone(),
            intended_at: clock.epoch(r.intended),
            done_at: clock.epoch(r.done),
            response_seconds: r.response_time(),
            schedule_lag_seconds: r.schedule_lag(),
            generation_seconds: r.generation_time,
        }
    }
}

/// Response-time quantiles of a burst's successful requests (nearest-rank).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Quantiles {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
}

/// The summary of one burst run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BurstReport {
    pub burst: String,
    /// "schedule" or "manual".
    pub trigger: &'static str,
    pub started_at: f64,
    pub ended_at: f64,
    pub requests: u64,
    pub successes: u64,
    /// Failures by reason.
    pub failures: BTreeMap<String, u64>,
    pub success_ratio: f64,
    /// Successes / (last done − first intended); None without a success.
    pub throughput_rps: Option<f64>,
    pub response_seconds: Option<Quantiles>,
    pub percentile_method: &'static str,
    pub slo: Option<SloOutcome>,
}

/// A burst's objective judged (as `bench --slo` judges a phase).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SloOutcome {
    pub expression: String,
    pub verdict: crate::bench::slo::Verdict,
    pub clauses: Vec<crate::bench::slo::ClauseResult>,
}

/// One status endpoint's last scrape.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EndpointStatus {
    pub ok: bool,
    pub duration_seconds: f64,
    pub error: Option<String>,
}

/// The last status scrape of a target.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StatusSnapshot {
    pub scraped_at: Option<f64>,
    pub up: Option<bool>,
    pub ready: Option<bool>,
    /// /health's `status` field (sanitised).
    pub health_status: Option<String>,
    pub gpus: Option<usize>,
    pub endpoints: BTreeMap<&'static str, EndpointStatus>,
}

/// Everything recent about one target.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TargetRecent {
    pub url: String,
    /// Newest last.
    pub results: VecDeque<RecentProbe>,
    pub last_by_probe: BTreeMap<String, RecentProbe>,
    pub bursts: BTreeMap<String, BurstReport>,
    pub bursts_running: BTreeSet<String>,
    /// Unix seconds of each burst's next scheduled run.
    pub next_bursts: BTreeMap<String, Option<f64>>,
    pub status: StatusSnapshot,
}

/// The recent state of every target.
#[derive(Debug, Default)]
pub struct Recent {
    inner: Mutex<BTreeMap<String, TargetRecent>>,
}

impl Recent {
    fn with<R>(&self, target: &str, f: impl FnOnce(&mut TargetRecent) -> R) -> R {
        let mut map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        f(map.entry(target.to_string()).or_default())
    }

    /// Registers a target (its display URL, credentials hidden).
    pub fn add_target(&self, target: &str, url: String) {
        self.with(target, |t| t.url = url);
    }

    pub fn remove_target(&self, target: &str) {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(target);
    }

    /// Forgets a burst that left the configuration.
    pub fn remove_burst(&self, target: &str, burst: &str) {
        self.with(target, |t| {
            t.bursts.remove(burst);
            t.next_bursts.remove(burst);
            t.last_by_probe.remove(burst);
        });
    }

    pub fn push(&self, target: &str, p: RecentProbe) {
        self.with(target, |t| {
            if t.results.len() >= RECENT_CAPACITY {
                t.results.pop_front();
            }
            t.last_by_probe.insert(p.probe.clone(), p.clone());
            t.results.push_back(p);
        });
    }

    pub fn set_burst_report(&self, target: &str, r: BurstReport) {
        self.with(target, |t| {
            t.bursts_running.remove(&r.burst);
            t.bursts.insert(r.burst.clone(), r);
        });
    }

    pub fn set_burst_running(&self, target: &str, burst: &str, running: bool) {
        self.with(target, |t| {
            if running {
                t.bursts_running.insert(burst.to_string());
            } else {
                t.bursts_running.remove(burst);
            }
        });
    }

    pub fn set_next_burst(&self, target: &str, burst: &str, at: Option<f64>) {
        self.with(target, |t| {
            t.next_bursts.insert(burst.to_string(), at);
        });
    }

    pub fn set_status(&self, target: &str, s: StatusSnapshot) {
        self.with(target, |t| t.status = s);
    }

    /// A copy of everything, by target name.
    pub fn snapshot(&self) -> BTreeMap<String, TargetRecent> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(seq: u64) -> RecentProbe {
        RecentProbe {
            probe: if seq % 2 == 0 { "trickle" } else { "b" }.to_string(),
            seq,
            outcome: Outcome::Success,
            http_status: Some(200),
            error: None,
            intended_at: 0.0,
            done_at: 1.0,
            response_seconds: 1.0,
            schedule_lag_seconds: 0.0,
            generation_seconds: None,
        }
    }

    #[test]
    fn the_ring_keeps_the_newest_results() {
        let r = Recent::default();
        for seq in 0..(RECENT_CAPACITY as u64 + 10) {
            r.push("a", probe(seq));
        }
        let snap = r.snapshot();
        let t = &snap["a"];
        assert_eq!(t.results.len(), RECENT_CAPACITY);
        assert_eq!(t.results.front().unwrap().seq, 10);
        assert_eq!(t.results.back().unwrap().seq, RECENT_CAPACITY as u64 + 9);
        assert_eq!(t.last_by_probe["trickle"].seq, RECENT_CAPACITY as u64 + 8);
        r.remove_target("a");
        assert!(r.snapshot().is_empty());
    }
}
