//! OTLP export of the daemon's measurements and one span per probe.

use serde::{Deserialize, Serialize};
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
}
