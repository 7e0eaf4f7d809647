//! State shared by every part of one daemon: its metrics registry, its clock, the recent-results
//! store and, when configured, the OTLP exporter.

use super::otlp::{Otlp, OtlpDropped};
use super::recent::{Recent, RecentProbe};
use super::registry::Metrics;
use crate::probe::{Clock, ProbeRecord};
use std::sync::{Arc, Mutex, RwLock};

/// `signal` values of fluxprobe_otlp_dropped_total.
pub const SIGNAL_TRACES: &str = "traces";
pub const SIGNAL_METRICS: &str = "metrics";

/// One daemon's shared state.
pub struct Shared {
    pub metrics: Metrics,
    pub clock: Clock,
    pub recent: Recent,
    /// Taken out at shutdown to be flushed.
    pub otlp: RwLock<Option<Arc<Otlp>>>,
    /// OTLP drops already added to fluxprobe_otlp_dropped_total.
    pub otlp_counted: Mutex<OtlpDropped>,
}

impl Shared {
    /// Sends a finished probe everywhere it is counted.
    pub fn record(&self, target: &str, probe: &str, rec: &ProbeRecord) {
        self.metrics.observe(target, probe, rec, &self.clock);
        self.recent
            .push(target, RecentProbe::from_record(probe, rec, &self.clock));
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

    /// The OTLP exporter, while it runs.
    pub fn otlp(&self) -> Option<Arc<Otlp>> {
        self.otlp.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Brings fluxprobe_otlp_dropped_total up to the exporter's own counts (before a scrape).
    pub fn sync_otlp_dropped(&self) {
        let Some(otlp) = self.otlp() else {
            return;
        };
        let now = otlp.dropped();
        let mut seen = self.otlp_counted.lock().unwrap_or_else(|e| e.into_inner());
        for (signal, new, old) in [
            (SIGNAL_TRACES, now.spans, seen.spans),
            (SIGNAL_METRICS, now.metric_exports, seen.metric_exports),
        ] {
            self.metrics
                .otlp_dropped
                .with(&[signal])
                .inc_by(new.saturating_sub(old));
        }
        *seen = now;
    }

    /// Unix seconds now, on the daemon's clock.
    pub fn now_unix(&self) -> f64 {
        self.clock
            .epoch(self.clock.offset(tokio::time::Instant::now()))
    }
}
