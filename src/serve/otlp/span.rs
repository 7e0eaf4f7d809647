//! One span per probe ("fluxprobe.probe", kind client) and the W3C `traceparent` header that
//! carries its context to the API, so the server's own traces join the probe's.
//!
//! Span attributes: `fluxprobe.target`, `fluxprobe.probe`, `fluxprobe.mode`, `fluxprobe.outcome`,
//! `http.response.status_code`, `fluxprobe.response_time_seconds` (done − intended),
//! `fluxprobe.generation_time_seconds`, `fluxprobe.queue_wait_seconds`,
//! `fluxprobe.schedule_lag_seconds`, and on failure `error.type` = the outcome with status
//! Error (description: the outcome). Never a prompt, URL, request id or error text.

use super::instruments::ProbeMeasurements;
use crate::probe::ProbeRecord;
use opentelemetry::propagation::{Injector, TextMapPropagator};
use opentelemetry::trace::{Span as _, SpanKind, Status, TraceContextExt, Tracer as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracer, Span};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

pub const SPAN_NAME: &str = "fluxprobe.probe";

/// The span of one probe in flight. A no-op (empty headers) when traces are off. Dropping it
/// without [`super::Otlp::probe_finished`] still ends the span, without the result attributes.
#[derive(Debug, Default)]
pub struct ProbeSpan {
    span: Option<Span>,
    headers: HeaderMap,
}

impl ProbeSpan {
    /// A span that records nothing and sends no header.
    pub fn none() -> ProbeSpan {
        ProbeSpan::default()
    }

    /// Starts a root span for a probe of `target`.
    pub(super) fn start(tracer: &SdkTracer, target: &str, probe: &str) -> ProbeSpan {
        let span = tracer
            .span_builder(SPAN_NAME)
            .with_kind(SpanKind::Client)
            .with_attributes([
                KeyValue::new("fluxprobe.target", target.to_string()),
                KeyValue::new("fluxprobe.probe", probe.to_string()),
            ])
            .start_with_context(tracer, &Context::new());
        let mut headers = HeaderMap::new();
        let cx = Context::new().with_remote_span_context(span.span_context().clone());
        TraceContextPropagator::new().inject_context(&cx, &mut HeaderInjector(&mut headers));
        ProbeSpan {
            span: Some(span),
            headers,
        }
    }

    /// Headers to add to the probe's requests: `traceparent` (and `tracestate` when there is
    /// one); empty when traces are off.
    pub fn headers(&self) -> HeaderMap {
        self.headers.clone()
    }

    /// The trace id as 32 hex digits, for linking a result to its trace.
    pub fn trace_id(&self) -> Option<String> {
        self.span
            .as_ref()
            .map(|s| s.span_context().trace_id().to_string())
    }

    /// Sets the result attributes and status, and ends the span.
    pub(super) fn finish(mut self, record: &ProbeRecord, m: &ProbeMeasurements) {
        let Some(mut span) = self.span.take() else {
            return;
        };
        let mut attrs = vec![
            KeyValue::new("fluxprobe.mode", record.mode.as_str()),
            KeyValue::new("fluxprobe.outcome", record.outcome.as_str()),
        ];
        if let Some(code) = record.http_status {
            attrs.push(KeyValue::new("http.response.status_code", i64::from(code)));
        }
        let seconds = [
            ("fluxprobe.response_time_seconds", m.response_time),
            ("fluxprobe.generation_time_seconds", m.generation_time),
            ("fluxprobe.queue_wait_seconds", m.queue_wait),
            ("fluxprobe.schedule_lag_seconds", m.schedule_lag),
        ];
        attrs.extend(
            seconds
                .into_iter()
                .filter_map(|(k, v)| v.map(|v| KeyValue::new(k, v))),
        );
        if !record.is_success() {
            attrs.push(KeyValue::new("error.type", record.outcome.as_str()));
            span.set_status(Status::error(record.outcome.as_str()));
        }
        span.set_attributes(attrs);
        span.end();
    }
}

struct HeaderInjector<'a>(&'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(key.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_sdk::error::OTelSdkResult;
    use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
    use std::sync::{Arc, Mutex};

    #[derive(Debug, Clone, Default)]
    struct Collect(Arc<Mutex<Vec<SpanData>>>);

    impl SpanExporter for Collect {
        async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
            self.0.lock().unwrap().extend(batch);
            Ok(())
        }
    }

    #[test]
    fn noop_span_has_no_headers() {
        let s = ProbeSpan::none();
        assert!(s.headers().is_empty());
        assert_eq!(s.trace_id(), None);
    }

    #[test]
    fn traceparent_names_the_span_and_is_sampled() {
        let exporter = Collect::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let tracer = provider.tracer("t");
        let s = ProbeSpan::start(&tracer, "sim", "trickle");
        let tp = s.headers()["traceparent"].to_str().unwrap().to_string();
        let parts: Vec<&str> = tp.split('-').collect();
        assert_eq!(parts.len(), 4, "{tp}");
        assert_eq!(parts[0], "00");
        assert_eq!(Some(parts[1].to_string()), s.trace_id());
        assert_eq!(parts[3], "01", "sampled flag");
        drop(s);
        let spans = exporter.0.lock().unwrap().clone();
        assert_eq!(spans.len(), 1);
        assert_eq!(spans[0].name, SPAN_NAME);
        assert_eq!(spans[0].span_kind, SpanKind::Client);
        assert_eq!(spans[0].span_context.span_id().to_string(), parts[2]);
    }
}
