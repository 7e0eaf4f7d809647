//! OTLP export of the daemon's measurements and one span per probe.
//!
//! # What is exported
//! - **Spans**: one per probe, named `fluxprobe.probe`, kind client, a root span whose W3C
//!   `traceparent` goes to the API with the probe's requests ([`ProbeSpan::headers`]); its
//!   attributes are listed in `span.rs`. Sampled unless OTEL_TRACES_SAMPLER says otherwise.
//! - **Histograms** (`fluxprobe_request_duration_seconds` by outcome success/failure,
//!   `_generation_duration_seconds`, `_queue_wait_seconds`, `_schedule_lag_seconds`): recorded
//!   in [`Otlp::probe_finished`], attributes `target`, `probe` (+ `outcome`), the Prometheus
//!   buckets (`OtlpConfig::buckets`, default those of DESIGN.md).
//! - **Gauges and counters**: every `Gauge` and `Counter` entry of `serve::metrics::METRICS`
//!   is an observable instrument whose callback reads the daemon's Prometheus registry at each
//!   collection, one data point per series, its labels as attributes. Counters are therefore
//!   NOT recorded by `probe_finished` — the registry is their one source, nothing is counted
//!   twice, and OTLP shows exactly what /metrics shows (series the daemon removes disappear).
//!
//! # Metric names
//! OTLP metric names are the Prometheus names, unchanged (`fluxprobe_requests_total`,
//! `fluxprobe_request_duration_seconds`, …), with the unit in the OTLP unit field (`s` for
//! `_seconds`, `By` for `_bytes`, none otherwise), cumulative temporality, and attributes named
//! like the Prometheus labels. A collector's Prometheus exporter or Prometheus' own OTLP
//! receiver adds a unit or `_total` suffix only when the name lacks it, so both paths end in
//! the same series names and the shipped dashboards and alerts work on either. We do not use
//! dotted semantic-convention names: they would need a second set of dashboards.
//!
//! # Robustness: what a down or black-hole collector costs
//! Export runs on the SDK's own threads (batch span processor, periodic metric reader); the
//! probe path only does non-blocking work. `probe_finished` never waits: a finished span goes
//! into a bounded queue (`max_queue_size`, default 2048 spans) or is dropped and counted.
//! Every export is bounded by the export timeout (the HTTP client's timeout; gRPC exports are
//! cut off on the runtime). The gauge callbacks read the registry, never the network, so
//! /metrics never waits on OTLP either. [`Otlp::shutdown`] flushes what it can and returns
//! within its timeout whatever the collector does; dropping an `Otlp` without `shutdown`
//! hands the flush to a background thread instead of blocking.
//!
//! [`Otlp::dropped`] counts, since start: spans refused because the queue was full, spans in
//! exports that failed or timed out (after the exporter's retries), and metric exports that
//! failed or timed out. Not counted: spans still queued when a bounded `shutdown` gives up
//! (logged instead), and spans not sampled.
//!
//! # Configuration and environment
//! The `otlp:` section wins; unset fields fall back to OTEL_EXPORTER_OTLP_{TRACES_,METRICS_}
//! PROTOCOL / TIMEOUT, OTEL_METRIC_EXPORT_INTERVAL, OTEL_BSP_MAX_QUEUE_SIZE and
//! OTEL_BSP_SCHEDULE_DELAY (resolved in `settings.rs`), then to the defaults (HTTP/protobuf,
//! 10 s, 30 s, 2048). The exporter itself honours OTEL_EXPORTER_OTLP_{,TRACES_,METRICS_}ENDPOINT
//! when the config has no endpoint, and _HEADERS, _COMPRESSION (only "none" is built in),
//! _INSECURE. A config `endpoint` is a base URL like OTEL_EXPORTER_OTLP_ENDPOINT: OTLP/HTTP
//! appends `/v1/traces` and `/v1/metrics`. gRPC is plaintext only (no TLS feature is built);
//! OTLP/HTTP may use https. The resource has service.name "fluxprobe" (OTEL_SERVICE_NAME or
//! OTEL_RESOURCE_ATTRIBUTES win), service.version, and service.instance.id = the instance.

mod bridge;
mod counting;
mod exporters;
mod instruments;
mod resource;
mod settings;
mod span;

pub use instruments::ProbeMeasurements;
pub use settings::DEFAULT_BUCKETS;
pub use span::ProbeSpan;

use counting::{DropCounters, GatedBatchProcessor};
use opentelemetry::InstrumentationScope;
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, SdkTracer, SdkTracerProvider,
};
use serde::{Deserialize, Serialize};
use settings::Settings;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Wire protocol to the collector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum OtlpProtocol {
    /// OTLP/HTTP with protobuf bodies (default port 4318).
    #[default]
    #[serde(rename = "http/protobuf")]
    HttpProtobuf,
    /// OTLP/gRPC (default port 4317).
    Grpc,
}

/// The `otlp:` section of the serve configuration. Unset fields fall back to the standard
/// OTEL_EXPORTER_OTLP_* environment variables, then to the OpenTelemetry defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct OtlpConfig {
    /// Collector endpoint, e.g. http://otel-collector:4318. None: OTEL_EXPORTER_OTLP_ENDPOINT.
    #[serde(default)]
    pub endpoint: Option<String>,
    #[serde(default)]
    pub protocol: Option<OtlpProtocol>,
    /// Metric export interval (default 30s).
    #[serde(default, with = "humantime_serde")]
    pub interval: Option<Duration>,
    /// Export timeout (default 10s).
    #[serde(default, with = "humantime_serde")]
    pub timeout: Option<Duration>,
    /// Export spans, one per probe (default true).
    #[serde(default)]
    pub traces: Option<bool>,
    /// Export metrics (default true).
    #[serde(default)]
    pub metrics: Option<bool>,
    /// Extra headers to the collector (values may use ${ENV}).
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
    /// Finished spans held for export at most; beyond, spans are dropped and counted
    /// (default OTEL_BSP_MAX_QUEUE_SIZE, else 2048).
    #[serde(default)]
    pub max_queue_size: Option<usize>,
    /// Histogram bucket bounds in seconds. Not read from the file: the daemon sets it to the
    /// buckets of its Prometheus histograms so both exports bucket alike. None: DESIGN.md's.
    #[serde(skip)]
    pub buckets: Option<Vec<f64>>,
}

/// Why OTLP export could not start.
#[derive(Debug, thiserror::Error)]
pub enum OtlpError {
    /// A setting (config or OTEL_* variable) is invalid.
    #[error("OTLP configuration: {0}")]
    Config(String),
    /// The exporter could not be built (e.g. an unparseable endpoint).
    #[error("OTLP exporter: {0}")]
    Exporter(String),
}

/// Telemetry lost since start (see the module doc for what is counted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OtlpDropped {
    /// Spans dropped because the queue was full, or lost in failed or timed-out exports.
    pub spans: u64,
    /// Metric exports that failed or timed out.
    pub metric_exports: u64,
}

/// The running OTLP export of one daemon instance. Send + Sync; share it as `Arc<Otlp>`.
pub struct Otlp {
    tracer: Option<SdkTracer>,
    histograms: Option<instruments::ProbeHistograms>,
    providers: Option<Providers>,
    counters: Arc<DropCounters>,
}

/// What must be shut down.
struct Providers {
    traces: Option<SdkTracerProvider>,
    metrics: Option<SdkMeterProvider>,
    /// Kept alive with the meter provider.
    _bridge: Option<bridge::Bridge>,
}

fn scope() -> InstrumentationScope {
    InstrumentationScope::builder("fluxprobe")
        .with_version(env!("CARGO_PKG_VERSION"))
        .build()
}

impl Otlp {
    /// Starts the exporters. Call it inside the tokio runtime (gRPC needs it). `registry` is
    /// the daemon's registry: its gauges and counters are read from it at each export.
    pub fn start(
        cfg: &OtlpConfig,
        registry: &prometheus::Registry,
        instance: &str,
    ) -> Result<Otlp, OtlpError> {
        let settings = Settings::resolve(cfg, &settings::process_env)?;
        let counters = Arc::new(DropCounters::default());

        // Build both exporters before anything starts, so a bad setting starts nothing.
        let span_exporter = settings
            .traces
            .as_ref()
            .map(|s| exporters::span_exporter(s, counters.clone()))
            .transpose()?;
        let metric_exporter = settings
            .metrics
            .as_ref()
            .map(|s| exporters::metric_exporter(s, counters.clone()))
            .transpose()?;

        let resource = resource::build(instance);

        let (tracer, trace_provider) = match span_exporter {
            None => (None, None),
            Some(exporter) => {
                let q = settings.queue_size;
                let batch = BatchSpanProcessor::builder(exporter)
                    .with_batch_config(
                        BatchConfigBuilder::default()
                            .with_max_queue_size(q)
                            .with_max_export_batch_size(settings::MAX_EXPORT_BATCH.min(q))
                            .with_scheduled_delay(settings.span_delay)
                            .build(),
                    )
                    .build();
                let provider = SdkTracerProvider::builder()
                    .with_span_processor(GatedBatchProcessor::new(batch, q, counters.clone()))
                    .with_resource(resource.clone())
                    .build();
                (Some(provider.tracer_with_scope(scope())), Some(provider))
            }
        };

        let (histograms, meter_provider, bridge) = match metric_exporter {
            None => (None, None, None),
            Some(exporter) => {
                let reader = PeriodicReader::builder(exporter)
                    .with_interval(settings.interval)
                    .build();
                let provider = SdkMeterProvider::builder()
                    .with_reader(reader)
                    .with_resource(resource)
                    .build();
                let meter = provider.meter_with_scope(scope());
                let histograms = instruments::ProbeHistograms::new(&meter, &settings.buckets);
                let bridge = bridge::Bridge::register(&meter, registry);
                (Some(histograms), Some(provider), Some(bridge))
            }
        };

        let describe = |s: &settings::SignalSettings| {
            let endpoint = s
                .endpoint
                .as_deref()
                .map(crate::redact::url_str)
                .unwrap_or_else(|| "(OTEL_EXPORTER_OTLP_* or default)".to_string());
            format!("{:?} {endpoint}", s.protocol)
        };
        tracing::info!(
            traces = settings.traces.as_ref().map(describe).unwrap_or_else(|| "off".into()),
            metrics = settings.metrics.as_ref().map(describe).unwrap_or_else(|| "off".into()),
            interval = ?settings.interval,
            timeout = ?settings.longest_timeout(),
            max_queue_size = settings.queue_size,
            "OTLP export started"
        );

        Ok(Otlp {
            tracer,
            histograms,
            providers: Some(Providers {
                traces: trace_provider,
                metrics: meter_provider,
                _bridge: bridge,
            }),
            counters,
        })
    }

    /// Before a probe: opens its span. Add [`ProbeSpan::headers`] to the probe's requests.
    pub fn probe_started(&self, target: &str, probe: &str) -> ProbeSpan {
        match &self.tracer {
            Some(tracer) => ProbeSpan::start(tracer, target, probe),
            None => ProbeSpan::none(),
        }
    }

    /// After the probe: records the histograms, completes and ends the span. Never blocks.
    pub fn probe_finished(
        &self,
        span: ProbeSpan,
        target: &str,
        probe: &str,
        record: &crate::probe::ProbeRecord,
    ) {
        let m = ProbeMeasurements::of(record);
        if let Some(h) = &self.histograms {
            h.record(target, probe, &m);
        }
        span.finish(record, &m);
    }

    /// Telemetry dropped so far.
    pub fn dropped(&self) -> OtlpDropped {
        OtlpDropped {
            spans: self.counters.spans(),
            metric_exports: self.counters.metric_exports_failed.load(Ordering::Relaxed),
        }
    }

    /// Flushes and stops, returning within `timeout` even when the collector never answers
    /// (the flush then goes on in the background until the exporter's own timeout).
    pub async fn shutdown(mut self, timeout: Duration) {
        self.tracer = None;
        self.histograms = None;
        let Some(providers) = self.providers.take() else {
            return;
        };
        let counters = self.counters.clone();
        let done = providers.shutdown_in_background(timeout);
        let finished = tokio::time::timeout(timeout, async {
            for rx in done {
                let _ = rx.await;
            }
        })
        .await
        .is_ok();
        let dropped = self.dropped();
        let unsent = counters.spans_queued.load(Ordering::Relaxed);
        if finished {
            tracing::info!(
                spans_dropped = dropped.spans,
                metric_exports_failed = dropped.metric_exports,
                spans_unsent = unsent,
                "OTLP export stopped"
            );
        } else {
            tracing::warn!(
                ?timeout,
                spans_dropped = dropped.spans,
                metric_exports_failed = dropped.metric_exports,
                spans_unsent = unsent,
                "OTLP export did not finish flushing in time; stopped waiting"
            );
        }
    }
}

impl Providers {
    /// Shuts each provider down on its own thread (the SDK's shutdown blocks up to its
    /// timeout); the receivers fire when each is done. Plain threads rather than the runtime's
    /// blocking pool, so that a stuck flush never holds up the runtime's own shutdown.
    fn shutdown_in_background(self, timeout: Duration) -> Vec<tokio::sync::oneshot::Receiver<()>> {
        let mut done = Vec::new();
        let Providers {
            traces,
            metrics,
            _bridge,
        } = self;
        if let Some(p) = traces {
            done.extend(on_thread("fluxprobe-otlp-traces-shutdown", move || {
                if let Err(e) = p.shutdown_with_timeout(timeout) {
                    tracing::debug!(error = %e, "OTLP trace provider shutdown");
                }
            }));
        }
        if let Some(p) = metrics {
            done.extend(on_thread("fluxprobe-otlp-metrics-shutdown", move || {
                if let Err(e) = p.shutdown_with_timeout(timeout) {
                    tracing::debug!(error = %e, "OTLP meter provider shutdown");
                }
                drop(_bridge);
            }));
        }
        done
    }
}

/// Runs `f` on a new thread; the receiver fires when it is done. None if no thread could be
/// started (then `f` is dropped unrun — the providers' own drop shuts them down).
fn on_thread(
    name: &str,
    f: impl FnOnce() + Send + 'static,
) -> Option<tokio::sync::oneshot::Receiver<()>> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            f();
            let _ = tx.send(());
        })
        .map_err(|e| tracing::warn!(error = %e, "could not start an OTLP shutdown thread"))
        .ok()
        .map(|_| rx)
}

impl Drop for Otlp {
    /// Without `shutdown`: flush in the background instead of blocking the dropping thread.
    fn drop(&mut self) {
        self.tracer = None;
        self.histograms = None;
        if let Some(p) = self.providers.take() {
            let _ = p.shutdown_in_background(Duration::from_secs(5));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_can_be_shared_across_tasks() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Otlp>();
        send_sync::<ProbeSpan>();
        send_sync::<OtlpDropped>();
    }

    #[test]
    fn config_reads_the_new_fields_and_never_buckets() {
        let cfg: OtlpConfig = serde_saphyr::from_str(
            "endpoint: http://c:4318\nprotocol: grpc\ninterval: 15s\nmax_queue_size: 100\n",
        )
        .unwrap();
        assert_eq!(cfg.protocol, Some(OtlpProtocol::Grpc));
        assert_eq!(cfg.interval, Some(Duration::from_secs(15)));
        assert_eq!(cfg.max_queue_size, Some(100));
        assert_eq!(cfg.buckets, None);
        assert!(serde_saphyr::from_str::<OtlpConfig>("buckets: [1, 2]\n").is_err());
    }
}
