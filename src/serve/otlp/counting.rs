//! What is lost is counted: a gate in front of the SDK's batch span processor that refuses (and
//! counts) a span when its bounded queue is full, and wrappers around the OTLP exporters that
//! count failed or timed-out exports and bound every export by the export timeout.
//!
//! The SDK's `BatchSpanProcessor` counts its own queue-full drops but does not expose the count.
//! The gate keeps its own count of spans between `on_end` and the start of their export; it is
//! never less than the SDK queue's occupancy (a span leaves the count only after it has left the
//! queue), so a span the gate lets through always fits and every drop happens — and is counted —
//! here.

use futures::FutureExt;
use opentelemetry::Context;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::trace::{BatchSpanProcessor, Span, SpanData, SpanExporter, SpanProcessor};
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// Shared counts of lost telemetry.
#[derive(Debug, Default)]
pub struct DropCounters {
    /// Spans refused because the queue was full.
    pub spans_queue_full: AtomicU64,
    /// Spans in exports that failed or timed out.
    pub spans_export_failed: AtomicU64,
    /// Metric exports that failed or timed out.
    pub metric_exports_failed: AtomicU64,
    /// Spans accepted and not yet handed to the exporter.
    pub spans_queued: AtomicUsize,
}

impl DropCounters {
    pub fn spans(&self) -> u64 {
        self.spans_queue_full.load(Ordering::Relaxed)
            + self.spans_export_failed.load(Ordering::Relaxed)
    }
}

/// The batch span processor behind a gate that never lets its queue overflow uncounted.
#[derive(Debug)]
pub struct GatedBatchProcessor {
    inner: BatchSpanProcessor,
    capacity: usize,
    counters: Arc<DropCounters>,
}

impl GatedBatchProcessor {
    /// `inner` must have been built with a queue of `capacity` spans.
    pub fn new(inner: BatchSpanProcessor, capacity: usize, counters: Arc<DropCounters>) -> Self {
        GatedBatchProcessor {
            inner,
            capacity,
            counters,
        }
    }
}

impl SpanProcessor for GatedBatchProcessor {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        let queued = &self.counters.spans_queued;
        let admitted = queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.capacity).then_some(n + 1)
            })
            .is_ok();
        if admitted {
            self.inner.on_end(span);
        } else if self
            .counters
            .spans_queue_full
            .fetch_add(1, Ordering::Relaxed)
            == 0
        {
            tracing::warn!(
                capacity = self.capacity,
                "OTLP span queue full: spans are being dropped (counted) until the collector catches up"
            );
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// How an export future must be driven.
#[derive(Debug, Clone)]
pub enum Transport {
    /// OTLP/HTTP with the blocking reqwest client: run on the SDK's own thread, outside any
    /// tokio context (the blocking client refuses to run inside one). Its requests carry the
    /// export timeout.
    Http,
    /// OTLP/gRPC: tonic needs the tokio runtime, so the export runs on the runtime through its
    /// handle, cut off at the export timeout.
    Grpc(tokio::runtime::Handle),
}

impl Transport {
    /// Runs an export to completion on the calling (SDK worker) thread, never longer than
    /// `timeout` on gRPC, and turns a panic into an error.
    async fn run<F>(&self, timeout: Duration, export: F) -> OTelSdkResult
    where
        F: Future<Output = OTelSdkResult>,
    {
        let panicked = || Err(OTelSdkError::InternalFailure("OTLP export panicked".into()));
        match self {
            // Already driven by the SDK's executor on its own thread.
            Transport::Http => AssertUnwindSafe(export)
                .catch_unwind()
                .await
                .unwrap_or_else(|_| panicked()),
            Transport::Grpc(handle) => catch_unwind(AssertUnwindSafe(|| {
                // The timer must be created inside the runtime: hence the async block.
                handle
                    .block_on(async { tokio::time::timeout(timeout, export).await })
                    .unwrap_or(Err(OTelSdkError::Timeout(timeout)))
            }))
            .unwrap_or_else(|_| panicked()),
        }
    }
}

/// A span exporter that counts the spans of failed exports.
#[derive(Debug)]
pub struct CountingSpanExporter<E> {
    inner: E,
    transport: Transport,
    timeout: Duration,
    counters: Arc<DropCounters>,
}

impl<E> CountingSpanExporter<E> {
    pub fn new(
        inner: E,
        transport: Transport,
        timeout: Duration,
        counters: Arc<DropCounters>,
    ) -> Self {
        CountingSpanExporter {
            inner,
            transport,
            timeout,
            counters,
        }
    }
}

impl<E: SpanExporter> SpanExporter for CountingSpanExporter<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let n = batch.len();
        // These spans have left the queue.
        let _ = self
            .counters
            .spans_queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |q| {
                Some(q.saturating_sub(n))
            });
        let result = self
            .transport
            .run(self.timeout, self.inner.export(batch))
            .await;
        if let Err(e) = &result {
            self.counters
                .spans_export_failed
                .fetch_add(n as u64, Ordering::Relaxed);
            tracing::debug!(spans = n, error = %e, "OTLP span export failed");
        }
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// A metric exporter that counts failed exports.
#[derive(Debug)]
pub struct CountingMetricExporter<E> {
    inner: E,
    transport: Transport,
    timeout: Duration,
    counters: Arc<DropCounters>,
}

impl<E> CountingMetricExporter<E> {
    pub fn new(
        inner: E,
        transport: Transport,
        timeout: Duration,
        counters: Arc<DropCounters>,
    ) -> Self {
        CountingMetricExporter {
            inner,
            transport,
            timeout,
            counters,
        }
    }
}

impl<E: PushMetricExporter> PushMetricExporter for CountingMetricExporter<E> {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        let result = self
            .transport
            .run(self.timeout, self.inner.export(metrics))
            .await;
        if let Err(e) = &result {
            self.counters
                .metric_exports_failed
                .fetch_add(1, Ordering::Relaxed);
            tracing::debug!(error = %e, "OTLP metric export failed");
        }
        result
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn temporality(&self) -> Temporality {
        self.inner.temporality()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{Span as _, Tracer, TracerProvider as _};
    use opentelemetry_sdk::trace::{BatchConfigBuilder, SdkTracerProvider};
    use std::sync::Mutex;
    use std::sync::mpsc;

    /// An exporter that blocks every export until released, and records batch sizes.
    #[derive(Debug)]
    struct Stuck {
        release: Mutex<mpsc::Receiver<OTelSdkResult>>,
        entered: mpsc::SyncSender<usize>,
    }

    impl SpanExporter for Stuck {
        async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
            let _ = self.entered.send(batch.len());
            let rx = self.release.lock().unwrap();
            rx.recv_timeout(Duration::from_secs(30))
                .unwrap_or(Err(OTelSdkError::Timeout(Duration::from_secs(30))))
        }
    }

    #[test]
    fn gate_counts_every_span_it_refuses_and_failed_exports() {
        let cap = 4;
        let counters = Arc::new(DropCounters::default());
        let (release_tx, release_rx) = mpsc::channel();
        let (entered_tx, entered_rx) = mpsc::sync_channel(16);
        let exporter = CountingSpanExporter::new(
            Stuck {
                release: Mutex::new(release_rx),
                entered: entered_tx,
            },
            Transport::Http,
            Duration::from_secs(1),
            counters.clone(),
        );
        let bsp = BatchSpanProcessor::builder(exporter)
            .with_batch_config(
                BatchConfigBuilder::default()
                    .with_max_queue_size(cap)
                    .with_max_export_batch_size(cap)
                    .with_scheduled_delay(Duration::from_secs(3600))
                    .build(),
            )
            .build();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(GatedBatchProcessor::new(bsp, cap, counters.clone()))
            .build();
        let tracer = provider.tracer("test");

        // A full batch triggers an export, which then blocks.
        for _ in 0..cap {
            tracer.start("s").end();
        }
        let in_export = entered_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(in_export, cap);
        assert_eq!(counters.spans_queued.load(Ordering::SeqCst), 0);

        // While it is stuck: `cap` more fit in the queue, the rest is refused and counted.
        let extra = 25;
        for _ in 0..cap + extra {
            tracer.start("s").end();
        }
        assert_eq!(
            counters.spans_queue_full.load(Ordering::SeqCst),
            extra as u64
        );
        assert_eq!(counters.spans_queued.load(Ordering::SeqCst), cap);

        // The stuck export fails: its spans are counted as lost too.
        release_tx
            .send(Err(OTelSdkError::InternalFailure("down".into())))
            .unwrap();
        // The queued batch is exported next (on its own batch-size trigger); let it succeed.
        let second = entered_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(second, cap);
        release_tx.send(Ok(())).unwrap();
        assert_eq!(
            counters.spans_export_failed.load(Ordering::SeqCst),
            cap as u64
        );
        assert_eq!(counters.spans(), (cap + extra) as u64);
        let _ = provider.shutdown_with_timeout(Duration::from_secs(5));
        assert_eq!(counters.spans_queued.load(Ordering::SeqCst), 0);
    }

    async fn export_bug() -> OTelSdkResult {
        panic!("an exporter bug")
    }

    #[test]
    fn grpc_exports_are_cut_at_the_timeout_and_panics_are_contained() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let grpc = Transport::Grpc(rt.handle().clone());
        let stuck = futures::executor::block_on(
            grpc.run(Duration::from_millis(50), std::future::pending()),
        );
        assert!(matches!(stuck, Err(OTelSdkError::Timeout(_))), "{stuck:?}");
        let bug = futures::executor::block_on(grpc.run(Duration::from_secs(5), export_bug()));
        assert!(
            matches!(bug, Err(OTelSdkError::InternalFailure(_))),
            "{bug:?}"
        );
        let bug =
            futures::executor::block_on(Transport::Http.run(Duration::from_secs(5), export_bug()));
        assert!(
            matches!(bug, Err(OTelSdkError::InternalFailure(_))),
            "{bug:?}"
        );
        let fine = futures::executor::block_on(grpc.run(Duration::from_secs(5), async { Ok(()) }));
        assert!(fine.is_ok());
    }
}
