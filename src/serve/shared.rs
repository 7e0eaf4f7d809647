//! State shared by every part of one daemon: its metrics registry, its clock, the recent-results
//! store and the extra sinks (the OTLP exporter) that see every finished probe.

use super::recent::{Recent, RecentProbe};
use super::registry::Metrics;
use crate::probe::{Clock, ProbeRecord};
use std::sync::Arc;

/// Something that receives every finished probe besides the Prometheus registry (the OTLP
/// exporter). Called on the probe's task: keep it quick and non-blocking.
pub trait ProbeSink: Send + Sync {
    fn probe_finished(&self, target: &str, probe: &str, record: &ProbeRecord, clock: &Clock);
    /// Flushes and stops (called once at daemon shutdown, from a blocking-safe context).
    fn shutdown(&self) {}
}

/// One daemon's shared state.
pub struct Shared {
    pub metrics: Metrics,
    pub clock: Clock,
    pub recent: Recent,
    pub sinks: Vec<Arc<dyn ProbeSink>>,
}

impl Shared {
    /// Sends a finished probe everywhere it is counted.
    pub fn record(&self, target: &str, probe: &str, rec: &ProbeRecord) {
        self.metrics.observe(target, probe, rec, &self.clock);
        self.recent
            .push(target, RecentProbe::from_record(probe, rec, &self.clock));
        for s in &self.sinks {
            s.probe_finished(target, probe, rec, &self.clock);
        }
        if rec.is_success() {
            tracing::debug!(
                target_name = target,
                probe,
                seq = rec.seq,
                response_s = rec.response_time(),
                "probe succeeded"
            );
        } else {
            tracing::debug!(
                target_name = target,
                probe,
                seq = rec.seq,
                reason = rec.outcome.as_str(),
                error = rec.error.as_deref().unwrap_or(""),
                "probe failed"
            );
        }
    }

    /// Unix seconds now, on the daemon's clock.
    pub fn now_unix(&self) -> f64 {
        self.clock
            .epoch(self.clock.offset(tokio::time::Instant::now()))
    }
}
