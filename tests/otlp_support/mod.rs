//! Shared by the OTLP end-to-end tests: collectors inside the test (OTLP/HTTP on axum, OTLP/gRPC
//! on tonic) that decode what they receive with the opentelemetry-proto types and hand it to the
//! test, unreachable collectors (closed port, black hole), synthetic probe records, and lookups
//! into the decoded requests.
#![allow(dead_code)]

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::routing::post;
use fluxprobe::outcome::Outcome;
use fluxprobe::probe::{ProbeMode, ProbeRecord};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{Metric, metric};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::sync::mpsc;

/// The longest any test waits for an event.
pub const BOUND: Duration = Duration::from_secs(30);

/// What a collector received.
#[derive(Debug, Clone)]
pub enum Received {
    Traces(ExportTraceServiceRequest),
    Metrics(ExportMetricsServiceRequest),
}

pub type Inbox = mpsc::UnboundedReceiver<Received>;

// ---------------------------------------------------------------- OTLP/HTTP collector

async fn http_traces(
    State(tx): State<mpsc::UnboundedSender<Received>>,
    body: Bytes,
) -> (StatusCode, [(header::HeaderName, &'static str); 1], Vec<u8>) {
    match ExportTraceServiceRequest::decode(body) {
        Ok(req) => {
            let _ = tx.send(Received::Traces(req));
            ok_body(ExportTraceServiceResponse::default().encode_to_vec())
        }
        Err(_) => (StatusCode::BAD_REQUEST, protobuf(), Vec::new()),
    }
}

async fn http_metrics(
    State(tx): State<mpsc::UnboundedSender<Received>>,
    body: Bytes,
) -> (StatusCode, [(header::HeaderName, &'static str); 1], Vec<u8>) {
    match ExportMetricsServiceRequest::decode(body) {
        Ok(req) => {
            let _ = tx.send(Received::Metrics(req));
            ok_body(ExportMetricsServiceResponse::default().encode_to_vec())
        }
        Err(_) => (StatusCode::BAD_REQUEST, protobuf(), Vec::new()),
    }
}

fn protobuf() -> [(header::HeaderName, &'static str); 1] {
    [(header::CONTENT_TYPE, "application/x-protobuf")]
}

fn ok_body(body: Vec<u8>) -> (StatusCode, [(header::HeaderName, &'static str); 1], Vec<u8>) {
    (StatusCode::OK, protobuf(), body)
}

/// An OTLP/HTTP collector on 127.0.0.1: its base URL and what it receives.
pub async fn http_collector() -> (String, Inbox) {
    let (tx, rx) = mpsc::unbounded_channel();
    let app = Router::new()
        .route("/v1/traces", post(http_traces))
        .route("/v1/metrics", post(http_metrics))
        .with_state(tx);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), rx)
}

// ---------------------------------------------------------------- OTLP/gRPC collector

struct Grpc(mpsc::UnboundedSender<Received>);

#[tonic::async_trait]
impl TraceService for Grpc {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let _ = self.0.send(Received::Traces(request.into_inner()));
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl MetricsService for Grpc {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        let _ = self.0.send(Received::Metrics(request.into_inner()));
        Ok(tonic::Response::new(ExportMetricsServiceResponse::default()))
    }
}

/// An OTLP/gRPC collector on 127.0.0.1: its URL and what it receives.
pub async fn grpc_collector() -> (String, Inbox) {
    let (tx, rx) = mpsc::unbounded_channel();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let incoming = tonic::transport::server::TcpIncoming::from(listener);
    tokio::spawn(async move {
        let _ = tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(Grpc(tx.clone())))
            .add_service(MetricsServiceServer::new(Grpc(tx)))
            .serve_with_incoming(incoming)
            .await;
    });
    (format!("http://{addr}"), rx)
}

// ---------------------------------------------------------------- unreachable collectors

/// An address nothing listens on (bound, then released).
pub fn closed_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

/// A collector that accepts connections and never answers (nor reads).
pub async fn black_hole() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock);
        }
    });
    addr
}

// ---------------------------------------------------------------- waiting with a bound

/// Receives until `done` says the collected requests are enough; panics after [`BOUND`].
pub async fn collect_until(
    inbox: &mut Inbox,
    mut done: impl FnMut(&[Received]) -> bool,
) -> Vec<Received> {
    let mut got = Vec::new();
    let wait = async {
        while !done(&got) {
            match inbox.recv().await {
                Some(r) => got.push(r),
                None => panic!("collector stopped"),
            }
        }
    };
    if tokio::time::timeout(BOUND, wait).await.is_err() {
        panic!("the collector did not receive what was expected within {BOUND:?}");
    }
    got
}

/// Runs blocking work on its own thread and fails the test if it does not finish in [`BOUND`]:
/// shows that the work never blocks on the collector.
pub async fn must_not_block<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    tokio::time::timeout(BOUND, rx)
        .await
        .expect("blocked on the collector")
        .expect("the work panicked")
}

/// Polls `cond` until true; panics after [`BOUND`].
pub async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let wait = async {
        while !cond() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    if tokio::time::timeout(BOUND, wait).await.is_err() {
        panic!("{what}: not within {BOUND:?}");
    }
}

/// Awaits `fut`, failing the test if it does not complete in [`BOUND`].
pub async fn bounded<T>(what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(BOUND, fut).await {
        Ok(v) => v,
        Err(_) => panic!("{what}: did not complete within {BOUND:?}"),
    }
}

// ---------------------------------------------------------------- records

pub fn record(
    seq: u64,
    outcome: Outcome,
    intended: f64,
    sent: f64,
    done: f64,
    http_status: Option<u16>,
    generation_time: Option<f64>,
) -> ProbeRecord {
    ProbeRecord {
        seq,
        warmup: false,
        mode: ProbeMode::Generate,
        intended,
        sent,
        first_byte: Some(done),
        done,
        outcome,
        http_status,
        error: (!outcome.is_success()).then(|| "something broke".to_string()),
        generation_time,
        vram_bytes: None,
        vram_raw: None,
        bytes_received: 100,
        width: 512,
        height: 512,
        steps: 4,
        server_request_id: None,
        server_queue_wait: None,
        server_service_time: None,
        parse_issues: vec![],
    }
}

// ---------------------------------------------------------------- lookups

pub fn str_attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| match kv.value.as_ref() {
            Some(AnyValue {
                value: Some(any_value::Value::StringValue(s)),
            }) => Some(s.as_str()),
            _ => None,
        })
}

pub fn int_attr(attrs: &[KeyValue], key: &str) -> Option<i64> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| match kv.value.as_ref() {
            Some(AnyValue {
                value: Some(any_value::Value::IntValue(i)),
            }) => Some(*i),
            _ => None,
        })
}

pub fn double_attr(attrs: &[KeyValue], key: &str) -> Option<f64> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| match kv.value.as_ref() {
            Some(AnyValue {
                value: Some(any_value::Value::DoubleValue(d)),
            }) => Some(*d),
            _ => None,
        })
}

/// All attributes as sorted (key, string value) pairs.
pub fn string_attrs(attrs: &[KeyValue]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = attrs
        .iter()
        .filter_map(|kv| str_attr(attrs, &kv.key).map(|s| (kv.key.clone(), s.to_string())))
        .collect();
    v.sort();
    v
}

/// Every span received, with its resource attributes.
pub fn spans(received: &[Received]) -> Vec<(Vec<KeyValue>, Span)> {
    let mut out = Vec::new();
    for r in received {
        if let Received::Traces(req) = r {
            for rs in &req.resource_spans {
                let res = rs
                    .resource
                    .clone()
                    .map(|r| r.attributes)
                    .unwrap_or_default();
                for ss in &rs.scope_spans {
                    for s in &ss.spans {
                        out.push((res.clone(), s.clone()));
                    }
                }
            }
        }
    }
    out
}

/// The metric `name` in one metrics request, if present.
pub fn metric<'a>(req: &'a ExportMetricsServiceRequest, name: &str) -> Option<&'a Metric> {
    req.resource_metrics
        .iter()
        .flat_map(|rm| &rm.scope_metrics)
        .flat_map(|sm| &sm.metrics)
        .find(|m| m.name == name)
}

/// The latest metrics request received.
pub fn last_metrics(received: &[Received]) -> Option<&ExportMetricsServiceRequest> {
    received.iter().rev().find_map(|r| match r {
        Received::Metrics(m) => Some(m),
        _ => None,
    })
}

/// (count, sum, bucket counts, bounds) of the histogram point of `name` with exactly `attrs`.
pub fn histogram_point(
    req: &ExportMetricsServiceRequest,
    name: &str,
    attrs: &[(&str, &str)],
) -> Option<(u64, f64, Vec<u64>, Vec<f64>)> {
    let want = sorted(attrs);
    match &metric(req, name)?.data {
        Some(metric::Data::Histogram(h)) => h
            .data_points
            .iter()
            .find(|p| string_attrs(&p.attributes) == want)
            .map(|p| {
                (
                    p.count,
                    p.sum.unwrap_or(f64::NAN),
                    p.bucket_counts.clone(),
                    p.explicit_bounds.clone(),
                )
            }),
        _ => None,
    }
}

/// Every (attributes, value) of the gauge or sum `name`.
pub fn number_points(
    req: &ExportMetricsServiceRequest,
    name: &str,
) -> Vec<(Vec<(String, String)>, f64)> {
    use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value;
    let points = match metric(req, name).and_then(|m| m.data.as_ref()) {
        Some(metric::Data::Gauge(g)) => &g.data_points,
        Some(metric::Data::Sum(s)) => &s.data_points,
        _ => return Vec::new(),
    };
    let mut out: Vec<_> = points
        .iter()
        .map(|p| {
            let v = match p.value {
                Some(Value::AsDouble(d)) => d,
                Some(Value::AsInt(i)) => i as f64,
                None => f64::NAN,
            };
            (string_attrs(&p.attributes), v)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

pub fn sorted(attrs: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = attrs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    v.sort();
    v
}

/// The (trace id, span id) hex of a W3C traceparent value, checking its shape and the sampled flag.
pub fn parse_traceparent(v: &str) -> (String, String) {
    let parts: Vec<&str> = v.split('-').collect();
    assert_eq!(parts.len(), 4, "traceparent {v}");
    assert_eq!(parts[0], "00", "version of {v}");
    assert_eq!(parts[1].len(), 32, "trace id of {v}");
    assert_eq!(parts[2].len(), 16, "span id of {v}");
    assert_eq!(parts[3], "01", "sampled flag of {v}");
    (parts[1].to_string(), parts[2].to_string())
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
