//! Builds the OTLP span and metric exporters (HTTP/protobuf with the blocking client, or gRPC
//! with tonic on the current tokio runtime) from resolved settings, wrapped in the counting
//! layer. Endpoint, timeout and protocol are always passed explicitly when known; what the
//! exporter still reads from the environment itself is OTEL_EXPORTER_OTLP_{SIGNAL_}ENDPOINT (when
//! the config has no endpoint), _HEADERS, _COMPRESSION and _INSECURE (gRPC).

use super::OtlpError;
use super::OtlpProtocol;
use super::counting::{CountingMetricExporter, CountingSpanExporter, DropCounters, Transport};
use super::settings::SignalSettings;
use opentelemetry_otlp::tonic_types::metadata::MetadataMap;
use opentelemetry_otlp::{
    MetricExporter, Protocol, SpanExporter, WithExportConfig, WithHttpConfig, WithTonicConfig,
};
use std::collections::HashMap;
use std::sync::Arc;

fn transport(s: &SignalSettings) -> Result<Transport, OtlpError> {
    Ok(match s.protocol {
        OtlpProtocol::HttpProtobuf => Transport::Http,
        OtlpProtocol::Grpc => {
            Transport::Grpc(tokio::runtime::Handle::try_current().map_err(|_| {
                OtlpError::Config("OTLP/gRPC must be started inside the tokio runtime".into())
            })?)
        }
    })
}

fn http_headers(s: &SignalSettings) -> HashMap<String, String> {
    s.headers
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn grpc_metadata(s: &SignalSettings) -> Result<MetadataMap, OtlpError> {
    let mut headers = reqwest::header::HeaderMap::new();
    for (k, v) in &s.headers {
        let name = reqwest::header::HeaderName::from_bytes(k.to_ascii_lowercase().as_bytes())
            .map_err(|_| OtlpError::Config(format!("header name {k:?} is not valid")))?;
        let value = reqwest::header::HeaderValue::from_str(v)
            .map_err(|_| OtlpError::Config(format!("the value of header {k:?} is not valid")))?;
        headers.insert(name, value);
    }
    Ok(MetadataMap::from_headers(headers))
}

/// The exporter's error, with any credentials in the endpoint it quotes redacted.
fn build_error(s: &SignalSettings, e: opentelemetry_otlp::ExporterBuildError) -> OtlpError {
    let mut msg = e.to_string();
    if let Some(endpoint) = &s.endpoint {
        msg = msg.replace(endpoint.as_str(), &crate::redact::url_str(endpoint));
    }
    OtlpError::Exporter(msg)
}

pub fn span_exporter(
    s: &SignalSettings,
    counters: Arc<DropCounters>,
) -> Result<CountingSpanExporter<SpanExporter>, OtlpError> {
    let inner = match s.protocol {
        OtlpProtocol::HttpProtobuf => {
            let mut b = SpanExporter::builder()
                .with_http()
                .with_protocol(Protocol::HttpBinary)
                .with_timeout(s.timeout)
                .with_headers(http_headers(s));
            if let Some(e) = &s.endpoint {
                b = b.with_endpoint(e.clone());
            }
            b.build()
        }
        OtlpProtocol::Grpc => {
            let mut b = SpanExporter::builder()
                .with_tonic()
                .with_protocol(Protocol::Grpc)
                .with_timeout(s.timeout)
                .with_metadata(grpc_metadata(s)?);
            if let Some(e) = &s.endpoint {
                b = b.with_endpoint(e.clone());
            }
            b.build()
        }
    }
    .map_err(|e| build_error(s, e))?;
    Ok(CountingSpanExporter::new(
        inner,
        transport(s)?,
        s.timeout,
        counters,
    ))
}

pub fn metric_exporter(
    s: &SignalSettings,
    counters: Arc<DropCounters>,
) -> Result<CountingMetricExporter<MetricExporter>, OtlpError> {
    let inner = match s.protocol {
        OtlpProtocol::HttpProtobuf => {
            let mut b = MetricExporter::builder()
                .with_http()
                .with_protocol(Protocol::HttpBinary)
                .with_timeout(s.timeout)
                .with_headers(http_headers(s));
            if let Some(e) = &s.endpoint {
                b = b.with_endpoint(e.clone());
            }
            b.build()
        }
        OtlpProtocol::Grpc => {
            let mut b = MetricExporter::builder()
                .with_tonic()
                .with_protocol(Protocol::Grpc)
                .with_timeout(s.timeout)
                .with_metadata(grpc_metadata(s)?);
            if let Some(e) = &s.endpoint {
                b = b.with_endpoint(e.clone());
            }
            b.build()
        }
    }
    .map_err(|e| build_error(s, e))?;
    Ok(CountingMetricExporter::new(
        inner,
        transport(s)?,
        s.timeout,
        counters,
    ))
}
