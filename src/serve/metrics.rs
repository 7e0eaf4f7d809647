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

/// Metric names, each written once (METRICS below gives their kind, labels and help).
pub const REQUESTS_TOTAL: &str = "fluxprobe_requests_total";
pub const REQUEST_FAILURES_TOTAL: &str = "fluxprobe_request_failures_total";
pub const HTTP_RESPONSES_TOTAL: &str = "fluxprobe_http_responses_total";
pub const REQUEST_DURATION_SECONDS: &str = "fluxprobe_request_duration_seconds";
pub const GENERATION_DURATION_SECONDS: &str = "fluxprobe_generation_duration_seconds";
pub const QUEUE_WAIT_SECONDS: &str = "fluxprobe_queue_wait_seconds";
pub const SCHEDULE_LAG_SECONDS: &str = "fluxprobe_schedule_lag_seconds";
pub const REQUESTS_IN_FLIGHT: &str = "fluxprobe_requests_in_flight";
pub const PROBES_SKIPPED_TOTAL: &str = "fluxprobe_probes_skipped_total";
pub const PROBE_SUCCESS: &str = "fluxprobe_probe_success";
pub const LAST_SUCCESS_TIMESTAMP_SECONDS: &str = "fluxprobe_last_success_timestamp_seconds";
pub const BURST_RUNNING: &str = "fluxprobe_burst_running";
pub const BURST_LAST_THROUGHPUT_REQUESTS_PER_SECOND: &str =
    "fluxprobe_burst_last_throughput_requests_per_second";
pub const BURST_LAST_SUCCESS_RATIO: &str = "fluxprobe_burst_last_success_ratio";
pub const BURST_LAST_RESPONSE_SECONDS: &str = "fluxprobe_burst_last_response_seconds";
pub const BURST_LAST_END_TIMESTAMP_SECONDS: &str = "fluxprobe_burst_last_end_timestamp_seconds";
pub const TARGET_UP: &str = "fluxprobe_target_up";
pub const TARGET_READY: &str = "fluxprobe_target_ready";
pub const TARGET_INFO: &str = "fluxprobe_target_info";
pub const TARGET_GPUS: &str = "fluxprobe_target_gpus";
pub const TARGET_GPU_INFO: &str = "fluxprobe_target_gpu_info";
pub const TARGET_GPU_MEMORY_TOTAL_BYTES: &str = "fluxprobe_target_gpu_memory_total_bytes";
pub const TARGET_GPU_MEMORY_ALLOCATED_BYTES: &str = "fluxprobe_target_gpu_memory_allocated_bytes";
pub const TARGET_GPU_MEMORY_FREE_BYTES: &str = "fluxprobe_target_gpu_memory_free_bytes";
pub const TARGET_VRAM_USED_BYTES: &str = "fluxprobe_target_vram_used_bytes";
pub const TARGET_SYSTEM_MEMORY_USED_BYTES: &str = "fluxprobe_target_system_memory_used_bytes";
pub const TARGET_SYSTEM_MEMORY_TOTAL_BYTES: &str = "fluxprobe_target_system_memory_total_bytes";
pub const TARGET_QUEUE_DEPTH: &str = "fluxprobe_target_queue_depth";
pub const TARGET_QUEUE_CAPACITY: &str = "fluxprobe_target_queue_capacity";
pub const TARGET_ACTIVE_REQUESTS: &str = "fluxprobe_target_active_requests";
pub const TARGET_MAX_CONCURRENT_REQUESTS: &str = "fluxprobe_target_max_concurrent_requests";
pub const TARGET_STATS_SCRAPE_SUCCESS: &str = "fluxprobe_target_stats_scrape_success";
pub const TARGET_STATS_SCRAPE_DURATION_SECONDS: &str =
    "fluxprobe_target_stats_scrape_duration_seconds";
pub const TARGET_STATS_SCRAPE_SUCCESS_TIMESTAMP_SECONDS: &str =
    "fluxprobe_target_stats_scrape_success_timestamp_seconds";
pub const TARGET_PARSE_ERRORS_TOTAL: &str = "fluxprobe_target_parse_errors_total";
pub const BUILD_INFO: &str = "fluxprobe_build_info";
pub const CONFIG_LAST_RELOAD_SUCCESSFUL: &str = "fluxprobe_config_last_reload_successful";
pub const CONFIG_LAST_RELOAD_SUCCESS_TIMESTAMP_SECONDS: &str =
    "fluxprobe_config_last_reload_success_timestamp_seconds";
pub const OTLP_DROPPED_TOTAL: &str = "fluxprobe_otlp_dropped_total";
/// Static labels of a target, one label per configured key (added to `target`), value 1.
pub const TARGET_LABELS: &str = "fluxprobe_target_labels";

/// Every metric of DESIGN.md "Metrics", in one place.
pub const METRICS: &[MetricDef] = &[
    def(
        REQUESTS_TOTAL,
        Counter,
        TP,
        "Generate probes finished, any outcome.",
    ),
    def(
        REQUEST_FAILURES_TOTAL,
        Counter,
        &["target", "probe", "reason"],
        "Generate probes that failed, by reason.",
    ),
    def(
        HTTP_RESPONSES_TOTAL,
        Counter,
        &["target", "probe", "code"],
        "HTTP responses to generate probes, by status code.",
    ),
    def(
        REQUEST_DURATION_SECONDS,
        Histogram,
        &["target", "probe", "outcome"],
        "Response time of generate probes (done minus intended send), by success or failure.",
    ),
    def(
        GENERATION_DURATION_SECONDS,
        Histogram,
        TP,
        "Generation time reported by the server.",
    ),
    def(
        QUEUE_WAIT_SECONDS,
        Histogram,
        TP,
        "Response time minus server generation time (time spent queued).",
    ),
    def(
        SCHEDULE_LAG_SECONDS,
        Histogram,
        TP,
        "Actual send time minus scheduled send time.",
    ),
    def(
        REQUESTS_IN_FLIGHT,
        Gauge,
        T,
        "Generate probes currently in flight.",
    ),
    def(
        PROBES_SKIPPED_TOTAL,
        Counter,
        &["target", "probe", "reason"],
        "Scheduled probes not sent (max_in_flight reached, or a burst still running).",
    ),
    def(
        PROBE_SUCCESS,
        Gauge,
        TP,
        "1 if the last probe succeeded, else 0.",
    ),
    def(
        LAST_SUCCESS_TIMESTAMP_SECONDS,
        Gauge,
        TP,
        "Unix time of the last successful probe.",
    ),
    def(BURST_RUNNING, Gauge, TP, "1 while a burst runs."),
    def(
        BURST_LAST_THROUGHPUT_REQUESTS_PER_SECOND,
        Gauge,
        TP,
        "Successful requests per second of the last burst.",
    ),
    def(
        BURST_LAST_SUCCESS_RATIO,
        Gauge,
        TP,
        "Success ratio of the last burst.",
    ),
    def(
        BURST_LAST_RESPONSE_SECONDS,
        Gauge,
        &["target", "probe", "quantile"],
        "Response-time quantiles of the last burst.",
    ),
    def(
        BURST_LAST_END_TIMESTAMP_SECONDS,
        Gauge,
        TP,
        "Unix time the last burst ended.",
    ),
    def(
        TARGET_UP,
        Gauge,
        T,
        "1 if /health answered with a parseable body.",
    ),
    def(
        TARGET_READY,
        Gauge,
        T,
        "1 if /health says status \"healthy\".",
    ),
    def(
        TARGET_INFO,
        Gauge,
        &["target", "service", "version", "model_type"],
        "Target identity, value 1.",
    ),
    def(TARGET_GPUS, Gauge, T, "GPUs reported by /gpu-info."),
    def(
        TARGET_GPU_INFO,
        Gauge,
        &["target", "gpu", "name", "compute_capability"],
        "GPU identity, value 1.",
    ),
    def(
        TARGET_GPU_MEMORY_TOTAL_BYTES,
        Gauge,
        TG,
        "GPU memory, total (GiB convention converted to bytes).",
    ),
    def(
        TARGET_GPU_MEMORY_ALLOCATED_BYTES,
        Gauge,
        TG,
        "GPU memory allocated by torch (not nvidia-smi used).",
    ),
    def(
        TARGET_GPU_MEMORY_FREE_BYTES,
        Gauge,
        TG,
        "GPU memory free, as the API reports it.",
    ),
    def(
        TARGET_VRAM_USED_BYTES,
        Gauge,
        T,
        "VRAM used by the model, from /model-status.",
    ),
    def(
        TARGET_SYSTEM_MEMORY_USED_BYTES,
        Gauge,
        T,
        "Host memory used, from /model-status.",
    ),
    def(
        TARGET_SYSTEM_MEMORY_TOTAL_BYTES,
        Gauge,
        T,
        "Host memory total, from /model-status.",
    ),
    def(
        TARGET_QUEUE_DEPTH,
        Gauge,
        T,
        "Queued requests (queue mode), from /queue-stats.",
    ),
    def(
        TARGET_QUEUE_CAPACITY,
        Gauge,
        T,
        "Queue capacity (max_queue_size).",
    ),
    def(
        TARGET_ACTIVE_REQUESTS,
        Gauge,
        T,
        "Requests being processed (queue mode).",
    ),
    def(
        TARGET_MAX_CONCURRENT_REQUESTS,
        Gauge,
        T,
        "Configured concurrency of the queue workers.",
    ),
    def(
        TARGET_STATS_SCRAPE_SUCCESS,
        Gauge,
        TE,
        "1 if the last scrape of the status endpoint succeeded.",
    ),
    def(
        TARGET_STATS_SCRAPE_DURATION_SECONDS,
        Gauge,
        TE,
        "Duration of the last scrape of the status endpoint.",
    ),
    def(
        TARGET_STATS_SCRAPE_SUCCESS_TIMESTAMP_SECONDS,
        Gauge,
        TE,
        "Unix time of the last successful scrape.",
    ),
    def(
        TARGET_PARSE_ERRORS_TOTAL,
        Counter,
        &["target", "field"],
        "Fields present in an answer but not usable.",
    ),
    def(
        TARGET_LABELS,
        Gauge,
        T,
        "Static labels of the target from the configuration (one label per key, besides target), value 1.",
    ),
    def(
        BUILD_INFO,
        Gauge,
        &["version", "revision"],
        "Build information, value 1.",
    ),
    def(
        CONFIG_LAST_RELOAD_SUCCESSFUL,
        Gauge,
        &[],
        "1 if the last configuration load succeeded.",
    ),
    def(
        CONFIG_LAST_RELOAD_SUCCESS_TIMESTAMP_SECONDS,
        Gauge,
        &[],
        "Unix time of the last successful configuration load.",
    ),
    def(
        OTLP_DROPPED_TOTAL,
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
