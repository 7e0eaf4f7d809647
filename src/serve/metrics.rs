//! Every metric fluxprobe exports, named once. The registry, the OTLP bridge, the dashboards'
//! and alerts' tests all read this list; a metric that is not here does not exist.

/// The kind of a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    Counter,
    Gauge,
    Histogram,
}

/// One exported metric: its full name (with the `fluxprobe_` prefix), help text, kind and labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricDef {
    pub name: &'static str,
    pub help: &'static str,
    pub kind: MetricKind,
    pub labels: &'static [&'static str],
}

const fn def(
    name: &'static str,
    kind: MetricKind,
    labels: &'static [&'static str],
    help: &'static str,
) -> MetricDef {
    MetricDef {
        name,
        help,
        kind,
        labels,
    }
}

use MetricKind::{Counter, Gauge, Histogram};

const TP: &[&str] = &["target", "probe"];
const T: &[&str] = &["target"];
const TE: &[&str] = &["target", "endpoint"];
const TG: &[&str] = &["target", "gpu"];

/// Every metric of DESIGN.md "Metrics", in one place.
pub const METRICS: &[MetricDef] = &[
    def(
        "fluxprobe_requests_total",
        Counter,
        TP,
        "Generate probes finished, any outcome.",
    ),
    def(
        "fluxprobe_request_failures_total",
        Counter,
        &["target", "probe", "reason"],
        "Generate probes that failed, by reason.",
    ),
    def(
        "fluxprobe_http_responses_total",
        Counter,
        &["target", "probe", "code"],
        "HTTP responses to generate probes, by status code.",
    ),
    def(
        "fluxprobe_request_duration_seconds",
        Histogram,
        &["target", "probe", "outcome"],
        "Response time of generate probes (done minus intended send), by success or failure.",
    ),
    def(
        "fluxprobe_generation_duration_seconds",
        Histogram,
        TP,
        "Generation time reported by the server.",
    ),
    def(
        "fluxprobe_queue_wait_seconds",
        Histogram,
        TP,
        "Response time minus server generation time (time spent queued).",
    ),
    def(
        "fluxprobe_schedule_lag_seconds",
        Histogram,
        TP,
        "Actual send time minus scheduled send time.",
    ),
    def(
        "fluxprobe_requests_in_flight",
        Gauge,
        T,
        "Generate probes currently in flight.",
    ),
    def(
        "fluxprobe_probes_skipped_total",
        Counter,
        &["target", "probe", "reason"],
        "Scheduled probes not sent (max_in_flight reached, or a burst still running).",
    ),
    def(
        "fluxprobe_probe_success",
        Gauge,
        TP,
        "1 if the last probe succeeded, else 0.",
    ),
    def(
        "fluxprobe_last_success_timestamp_seconds",
        Gauge,
        TP,
        "Unix time of the last successful probe.",
    ),
    def(
        "fluxprobe_burst_running",
        Gauge,
        TP,
        "1 while a burst runs.",
    ),
    def(
        "fluxprobe_burst_last_throughput_requests_per_second",
        Gauge,
        TP,
        "Successful requests per second of the last burst.",
    ),
    def(
        "fluxprobe_burst_last_success_ratio",
        Gauge,
        TP,
        "Success ratio of the last burst.",
    ),
    def(
        "fluxprobe_burst_last_response_seconds",
        Gauge,
        &["target", "probe", "quantile"],
        "Response-time quantiles of the last burst.",
    ),
    def(
        "fluxprobe_burst_last_end_timestamp_seconds",
        Gauge,
        TP,
        "Unix time the last burst ended.",
    ),
    def(
        "fluxprobe_target_up",
        Gauge,
        T,
        "1 if /health answered with a parseable body.",
    ),
    def(
        "fluxprobe_target_ready",
        Gauge,
        T,
        "1 if /health says status \"healthy\".",
    ),
    def(
        "fluxprobe_target_info",
        Gauge,
        &["target", "service", "version", "model_type"],
        "Target identity, value 1.",
    ),
    def(
        "fluxprobe_target_gpus",
        Gauge,
        T,
        "GPUs reported by /gpu-info.",
    ),
    def(
        "fluxprobe_target_gpu_info",
        Gauge,
        &["target", "gpu", "name", "compute_capability"],
        "GPU identity, value 1.",
    ),
    def(
        "fluxprobe_target_gpu_memory_total_bytes",
        Gauge,
        TG,
        "GPU memory, total (GiB convention converted to bytes).",
    ),
    def(
        "fluxprobe_target_gpu_memory_allocated_bytes",
        Gauge,
        TG,
        "GPU memory allocated by torch (not nvidia-smi used).",
    ),
    def(
        "fluxprobe_target_gpu_memory_free_bytes",
        Gauge,
        TG,
        "GPU memory free, as the API reports it.",
    ),
    def(
        "fluxprobe_target_vram_used_bytes",
        Gauge,
        T,
        "VRAM used by the model, from /model-status.",
    ),
    def(
        "fluxprobe_target_system_memory_used_bytes",
        Gauge,
        T,
        "Host memory used, from /model-status.",
    ),
    def(
        "fluxprobe_target_system_memory_total_bytes",
        Gauge,
        T,
        "Host memory total, from /model-status.",
    ),
    def(
        "fluxprobe_target_queue_depth",
        Gauge,
        T,
        "Queued requests (queue mode), from /queue-stats.",
    ),
    def(
        "fluxprobe_target_queue_capacity",
        Gauge,
        T,
        "Queue capacity (max_queue_size).",
    ),
    def(
        "fluxprobe_target_active_requests",
        Gauge,
        T,
        "Requests being processed (queue mode).",
    ),
    def(
        "fluxprobe_target_max_concurrent_requests",
        Gauge,
        T,
        "Configured concurrency of the queue workers.",
    ),
    def(
        "fluxprobe_target_stats_scrape_success",
        Gauge,
        TE,
        "1 if the last scrape of the status endpoint succeeded.",
    ),
    def(
        "fluxprobe_target_stats_scrape_duration_seconds",
        Gauge,
        TE,
        "Duration of the last scrape of the status endpoint.",
    ),
    def(
        "fluxprobe_target_stats_scrape_success_timestamp_seconds",
        Gauge,
        TE,
        "Unix time of the last successful scrape.",
    ),
    def(
        "fluxprobe_target_parse_errors_total",
        Counter,
        &["target", "field"],
        "Fields present in an answer but not usable.",
    ),
    def(
        "fluxprobe_build_info",
        Gauge,
        &["version", "revision"],
        "Build information, value 1.",
    ),
    def(
        "fluxprobe_config_last_reload_successful",
        Gauge,
        &[],
        "1 if the last configuration load succeeded.",
    ),
    def(
        "fluxprobe_config_last_reload_success_timestamp_seconds",
        Gauge,
        &[],
        "Unix time of the last successful configuration load.",
    ),
    def(
        "fluxprobe_otlp_dropped_total",
        Counter,
        &["signal"],
        "OTLP spans or metric exports dropped (collector down or queue full).",
    ),
];

/// Looks a metric up by name.
pub fn find(name: &str) -> Option<&'static MetricDef> {
    METRICS.iter().find(|m| m.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_prefixed_and_well_formed() {
        let mut seen = std::collections::HashSet::new();
        for m in METRICS {
            assert!(seen.insert(m.name), "duplicate {}", m.name);
            assert!(m.name.starts_with("fluxprobe_"), "{}", m.name);
            assert!(
                m.name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            );
            if m.kind == MetricKind::Counter {
                assert!(
                    m.name.ends_with("_total"),
                    "counter {} must end in _total",
                    m.name
                );
            }
            assert!(!m.labels.contains(&"url") && !m.labels.contains(&"prompt"));
        }
        assert!(find("fluxprobe_target_up").is_some());
    }
}
