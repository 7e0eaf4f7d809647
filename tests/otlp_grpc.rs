//! OTLP/gRPC end to end: a tonic collector inside the test receives the probe span (trace id of
//! the traceparent header), the histogram and a gauge read from the registry.

mod otlp_support;

use fluxprobe::outcome::Outcome;
use fluxprobe::serve::otlp::{Otlp, OtlpConfig, OtlpDropped, OtlpProtocol};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use otlp_support::*;
use prometheus::{GaugeVec, Opts, Registry};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_and_metrics_over_grpc() {
    let (endpoint, mut inbox) = grpc_collector().await;
    let registry = Registry::new();
    let depth = GaugeVec::new(Opts::new("fluxprobe_target_queue_depth", "q"), &["target"]).unwrap();
    registry.register(Box::new(depth.clone())).unwrap();
    depth.with_label_values(&["gpu-box"]).set(3.0);

    let cfg = OtlpConfig {
        endpoint: Some(endpoint),
        protocol: Some(OtlpProtocol::Grpc),
        interval: Some(Duration::from_millis(200)),
        timeout: Some(Duration::from_secs(5)),
        buckets: Some(vec![0.5, 1.0]),
        ..Default::default()
    };
    let otlp = Otlp::start(&cfg, &registry, "grpc-instance").unwrap();

    let span = otlp.probe_started("gpu-box", "nightly");
    let (trace_id, span_id) = parse_traceparent(
        span.headers()
            .get("traceparent")
            .expect("traceparent")
            .to_str()
            .unwrap(),
    );
    let rec = record(7, Outcome::Http429, 10.0, 10.0, 10.75, Some(429), None);
    otlp.probe_finished(span, "gpu-box", "nightly", &rec);

    let attrs = [
        ("target", "gpu-box"),
        ("probe", "nightly"),
        ("outcome", "failure"),
    ];
    let got = collect_until(&mut inbox, |r| {
        !spans(r).is_empty()
            && last_metrics(r).is_some_and(|m| {
                histogram_point(m, "fluxprobe_request_duration_seconds", &attrs).is_some()
            })
    })
    .await;

    let received = spans(&got);
    assert_eq!(received.len(), 1);
    let (resource, s) = &received[0];
    assert_eq!(hex(&s.trace_id), trace_id);
    assert_eq!(hex(&s.span_id), span_id);
    assert_eq!(s.name, "fluxprobe.probe");
    assert_eq!(
        str_attr(&s.attributes, "fluxprobe.outcome"),
        Some("http_429")
    );
    assert_eq!(
        int_attr(&s.attributes, "http.response.status_code"),
        Some(429)
    );
    assert_eq!(
        s.status.as_ref().map(|st| st.code),
        Some(StatusCode::Error as i32)
    );
    assert_eq!(
        str_attr(resource, "service.instance.id"),
        Some("grpc-instance")
    );

    let m = last_metrics(&got).unwrap();
    let (count, sum, buckets, bounds) =
        histogram_point(m, "fluxprobe_request_duration_seconds", &attrs).unwrap();
    // One failure of 10.75 − 10.0 s: above 0.5, within 1.0.
    assert_eq!((count, sum), (1, 0.75));
    assert_eq!(bounds, vec![0.5, 1.0]);
    assert_eq!(buckets, vec![0, 1, 0]);
    assert_eq!(
        number_points(m, "fluxprobe_target_queue_depth"),
        vec![(sorted(&[("target", "gpu-box")]), 3.0)]
    );

    assert_eq!(otlp.dropped(), OtlpDropped::default());
    bounded("shutdown", otlp.shutdown(Duration::from_secs(5))).await;
}
