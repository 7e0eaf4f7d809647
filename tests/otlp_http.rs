//! OTLP/HTTP end to end: a collector inside the test receives the probe spans (their trace ids
//! those of the traceparent headers sent to the API), the histograms with the counts, sums and
//! buckets of what was recorded, and the registry's gauges and counters with their labels —
//! read at collection time, so later changes and removed series show up.

mod otlp_support;

use fluxprobe::outcome::Outcome;
use fluxprobe::serve::otlp::{Otlp, OtlpConfig, OtlpDropped, OtlpProtocol};
use opentelemetry_proto::tonic::metrics::v1::{AggregationTemporality, metric};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use otlp_support::*;
use prometheus::{CounterVec, Gauge, GaugeVec, Opts, Registry};
use std::collections::HashMap;
use std::time::Duration;

const BUCKETS: [f64; 3] = [1.0, 2.0, 5.0];

fn config(endpoint: &str) -> OtlpConfig {
    OtlpConfig {
        endpoint: Some(endpoint.to_string()),
        protocol: Some(OtlpProtocol::HttpProtobuf),
        interval: Some(Duration::from_millis(200)),
        timeout: Some(Duration::from_secs(5)),
        buckets: Some(BUCKETS.to_vec()),
        ..Default::default()
    }
}

/// OTLP explicit-bucket counts computed here: bucket i holds bounds[i-1] < v <= bounds[i].
fn bucket_counts(values: &[f64], bounds: &[f64]) -> Vec<u64> {
    let mut counts = vec![0u64; bounds.len() + 1];
    for &v in values {
        let i = bounds.iter().take_while(|&&b| v > b).count();
        counts[i] += 1;
    }
    counts
}

struct Gauges {
    up: GaugeVec,
    gpu_total: GaugeVec,
    reload_ok: Gauge,
    requests: CounterVec,
}

fn registry() -> (Registry, Gauges) {
    let r = Registry::new();
    let up = GaugeVec::new(Opts::new("fluxprobe_target_up", "up"), &["target"]).unwrap();
    let gpu_total = GaugeVec::new(
        Opts::new("fluxprobe_target_gpu_memory_total_bytes", "gpu"),
        &["target", "gpu"],
    )
    .unwrap();
    let reload_ok = Gauge::new("fluxprobe_config_last_reload_successful", "reload").unwrap();
    let requests = CounterVec::new(
        Opts::new("fluxprobe_requests_total", "requests"),
        &["target", "probe"],
    )
    .unwrap();
    let stray = Gauge::new("not_a_fluxprobe_metric", "stray").unwrap();
    r.register(Box::new(up.clone())).unwrap();
    r.register(Box::new(gpu_total.clone())).unwrap();
    r.register(Box::new(reload_ok.clone())).unwrap();
    r.register(Box::new(requests.clone())).unwrap();
    r.register(Box::new(stray.clone())).unwrap();
    stray.set(7.0);
    (
        r,
        Gauges {
            up,
            gpu_total,
            reload_ok,
            requests,
        },
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_histograms_gauges_and_counters_reach_the_collector() {
    let (endpoint, mut inbox) = http_collector().await;
    let (registry, g) = registry();
    g.up.with_label_values(&["sim-a"]).set(1.0);
    g.up.with_label_values(&["sim-b"]).set(0.0);
    g.gpu_total
        .with_label_values(&["sim-a", "0"])
        .set(25_769_803_776.0);
    g.reload_ok.set(1.0);

    let otlp = Otlp::start(&config(&endpoint), &registry, "test-instance").unwrap();

    // (outcome, intended, sent, done, status, generation time)
    let cases = [
        (Outcome::Success, 0.0, 0.0, 1.5, Some(200), Some(1.25)),
        (Outcome::Success, 1.0, 1.25, 4.0, Some(200), Some(2.5)),
        (Outcome::Success, 2.0, 2.0, 8.5, Some(200), Some(6.0)),
        (Outcome::Timeout, 3.0, 3.5, 33.5, None, None),
        (Outcome::Http5xx, 4.0, 4.0, 4.75, Some(500), None),
    ];
    let mut sent_traceparents = HashMap::new(); // trace id -> (span id, case index)
    for (i, &(outcome, intended, sent, done, status, gen_t)) in cases.iter().enumerate() {
        let span = otlp.probe_started("sim-a", "trickle");
        let headers = span.headers();
        let tp = headers
            .get("traceparent")
            .expect("a traceparent header")
            .to_str()
            .unwrap();
        let (trace_id, span_id) = parse_traceparent(tp);
        assert_eq!(span.trace_id().as_deref(), Some(trace_id.as_str()));
        sent_traceparents.insert(trace_id, (span_id, i));
        let rec = record(i as u64, outcome, intended, sent, done, status, gen_t);
        otlp.probe_finished(span, "sim-a", "trickle", &rec);
        g.requests.with_label_values(&["sim-a", "trickle"]).inc();
    }
    assert_eq!(sent_traceparents.len(), cases.len(), "one trace per probe");

    // ---- spans
    let got = collect_until(&mut inbox, |r| spans(r).len() >= cases.len()).await;
    let received = spans(&got);
    assert_eq!(received.len(), cases.len());
    for (resource, span) in &received {
        let (span_id, i) = sent_traceparents
            .get(&hex(&span.trace_id))
            .expect("the span's trace id is one sent in a traceparent");
        let (outcome, intended, sent, done, status, gen_t) = cases[*i];
        assert_eq!(&hex(&span.span_id), span_id);
        assert!(span.parent_span_id.is_empty(), "a root span");
        assert_eq!(span.name, "fluxprobe.probe");
        assert_eq!(span.kind, SpanKind::Client as i32);
        let a = &span.attributes;
        assert_eq!(str_attr(a, "fluxprobe.target"), Some("sim-a"));
        assert_eq!(str_attr(a, "fluxprobe.probe"), Some("trickle"));
        assert_eq!(str_attr(a, "fluxprobe.outcome"), Some(outcome.as_str()));
        assert_eq!(str_attr(a, "fluxprobe.mode"), Some("generate"));
        assert_eq!(
            int_attr(a, "http.response.status_code"),
            status.map(i64::from)
        );
        assert_eq!(
            double_attr(a, "fluxprobe.response_time_seconds"),
            Some(done - intended)
        );
        assert_eq!(
            double_attr(a, "fluxprobe.schedule_lag_seconds"),
            Some(sent - intended)
        );
        assert_eq!(double_attr(a, "fluxprobe.generation_time_seconds"), gen_t);
        assert_eq!(
            double_attr(a, "fluxprobe.queue_wait_seconds"),
            gen_t.map(|g| done - intended - g)
        );
        assert!(
            a.iter().all(|kv| kv.key != "error.message"),
            "no error text on spans"
        );
        let status_code = span.status.as_ref().map(|s| s.code).unwrap_or(0);
        if outcome.is_success() {
            assert_ne!(status_code, StatusCode::Error as i32);
            assert_eq!(str_attr(a, "error.type"), None);
        } else {
            assert_eq!(status_code, StatusCode::Error as i32);
            assert_eq!(str_attr(a, "error.type"), Some(outcome.as_str()));
        }
        assert_eq!(
            str_attr(resource, "service.instance.id"),
            Some("test-instance")
        );
        assert_eq!(
            str_attr(resource, "service.version"),
            Some(env!("CARGO_PKG_VERSION"))
        );
        if std::env::var_os("OTEL_SERVICE_NAME").is_none()
            && std::env::var_os("OTEL_RESOURCE_ATTRIBUTES").is_none()
        {
            assert_eq!(str_attr(resource, "service.name"), Some("fluxprobe"));
        }
    }

    // ---- histograms and the bridged counter
    let tp = [("target", "sim-a"), ("probe", "trickle")];
    let with_outcome = |o| [("target", "sim-a"), ("probe", "trickle"), ("outcome", o)];
    let n_ok = cases.iter().filter(|c| c.0.is_success()).count() as u64;
    let n_fail = cases.len() as u64 - n_ok;
    let got = collect_until(&mut inbox, |r| {
        last_metrics(r).is_some_and(|m| {
            let count = |attrs: &[(&str, &str)], name| histogram_point(m, name, attrs).map(|h| h.0);
            count(
                &with_outcome("success"),
                "fluxprobe_request_duration_seconds",
            ) == Some(n_ok)
                && count(
                    &with_outcome("failure"),
                    "fluxprobe_request_duration_seconds",
                ) == Some(n_fail)
                && number_points(m, "fluxprobe_requests_total")
                    .first()
                    .map(|p| p.1)
                    == Some(cases.len() as f64)
        })
    })
    .await;
    let m = last_metrics(&got).unwrap();

    let response = |ok: bool| -> Vec<f64> {
        cases
            .iter()
            .filter(|c| c.0.is_success() == ok)
            .map(|c| c.3 - c.1)
            .collect()
    };
    let gen_times: Vec<f64> = cases.iter().filter_map(|c| c.5).collect();
    let queue_waits: Vec<f64> = cases
        .iter()
        .filter_map(|c| c.5.map(|g| c.3 - c.1 - g))
        .collect();
    let lags: Vec<f64> = cases.iter().map(|c| c.2 - c.1).collect();
    let expect = [
        (
            "fluxprobe_request_duration_seconds",
            with_outcome("success").to_vec(),
            response(true),
        ),
        (
            "fluxprobe_request_duration_seconds",
            with_outcome("failure").to_vec(),
            response(false),
        ),
        (
            "fluxprobe_generation_duration_seconds",
            tp.to_vec(),
            gen_times,
        ),
        ("fluxprobe_queue_wait_seconds", tp.to_vec(), queue_waits),
        ("fluxprobe_schedule_lag_seconds", tp.to_vec(), lags),
    ];
    for (name, attrs, values) in expect {
        let (count, sum, buckets, bounds) =
            histogram_point(m, name, &attrs).unwrap_or_else(|| panic!("{name} {attrs:?}"));
        assert_eq!(count, values.len() as u64, "{name} {attrs:?}");
        let want_sum: f64 = values.iter().sum();
        assert!(
            (sum - want_sum).abs() < 1e-9,
            "{name} {attrs:?}: {sum} vs {want_sum}"
        );
        assert_eq!(bounds, BUCKETS.to_vec(), "{name}");
        assert_eq!(
            buckets,
            bucket_counts(&values, &BUCKETS),
            "{name} {attrs:?}"
        );
        let metric = metric(m, name).unwrap();
        assert_eq!(metric.unit, "s");
        match &metric.data {
            Some(metric::Data::Histogram(h)) => assert_eq!(
                h.aggregation_temporality,
                AggregationTemporality::Cumulative as i32
            ),
            other => panic!("{name} is not a histogram: {other:?}"),
        }
    }

    // Counter: a monotonic cumulative sum with the registry's labels and value.
    match &metric(m, "fluxprobe_requests_total").unwrap().data {
        Some(metric::Data::Sum(s)) => {
            assert!(s.is_monotonic);
            assert_eq!(
                s.aggregation_temporality,
                AggregationTemporality::Cumulative as i32
            );
        }
        other => panic!("requests_total is not a sum: {other:?}"),
    }
    assert_eq!(
        number_points(m, "fluxprobe_requests_total"),
        vec![(sorted(&tp), cases.len() as f64)]
    );

    // Gauges, with labels (and none), values and units.
    assert_eq!(
        number_points(m, "fluxprobe_target_up"),
        vec![
            (sorted(&[("target", "sim-a")]), 1.0),
            (sorted(&[("target", "sim-b")]), 0.0)
        ]
    );
    assert_eq!(
        number_points(m, "fluxprobe_target_gpu_memory_total_bytes"),
        vec![(
            sorted(&[("target", "sim-a"), ("gpu", "0")]),
            25_769_803_776.0
        )]
    );
    assert_eq!(
        metric(m, "fluxprobe_target_gpu_memory_total_bytes")
            .unwrap()
            .unit,
        "By"
    );
    assert!(matches!(
        metric(m, "fluxprobe_target_up").unwrap().data,
        Some(metric::Data::Gauge(_))
    ));
    assert_eq!(
        number_points(m, "fluxprobe_config_last_reload_successful"),
        vec![(vec![], 1.0)]
    );
    assert!(
        metric(m, "not_a_fluxprobe_metric").is_none(),
        "only the metric list is exported"
    );
    assert!(
        number_points(m, "fluxprobe_target_ready").is_empty(),
        "no series in the registry, none exported"
    );

    // ---- gauges are read at each collection: a change and a removed series show up.
    g.up.with_label_values(&["sim-a"]).set(0.0);
    g.up.remove_label_values(&["sim-b"]).unwrap();
    collect_until(&mut inbox, |r| {
        last_metrics(r).is_some_and(|m| {
            number_points(m, "fluxprobe_target_up") == vec![(sorted(&[("target", "sim-a")]), 0.0)]
        })
    })
    .await;

    assert_eq!(
        otlp.dropped(),
        OtlpDropped::default(),
        "nothing lost with a healthy collector"
    );
    bounded("shutdown", otlp.shutdown(Duration::from_secs(5))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_flushes_what_is_pending() {
    let (endpoint, mut inbox) = http_collector().await;
    let registry = Registry::new();
    // Long interval and span delay: only the shutdown flush can deliver in time.
    let cfg = OtlpConfig {
        interval: Some(Duration::from_secs(3600)),
        ..config(&endpoint)
    };
    let otlp = Otlp::start(&cfg, &registry, "flush").unwrap();
    let span = otlp.probe_started("sim", "burst-1");
    let trace_id = span.trace_id().unwrap();
    let rec = record(1, Outcome::Success, 0.0, 0.0, 2.5, Some(200), Some(1.0));
    otlp.probe_finished(span, "sim", "burst-1", &rec);
    bounded("shutdown", otlp.shutdown(Duration::from_secs(10))).await;

    let got = collect_until(&mut inbox, |r| {
        !spans(r).is_empty()
            && last_metrics(r).is_some_and(|m| {
                histogram_point(
                    m,
                    "fluxprobe_request_duration_seconds",
                    &[
                        ("target", "sim"),
                        ("probe", "burst-1"),
                        ("outcome", "success"),
                    ],
                )
                .is_some()
            })
    })
    .await;
    assert_eq!(hex(&spans(&got)[0].1.trace_id), trace_id);
    let m = last_metrics(&got).unwrap();
    let (count, sum, _, _) = histogram_point(
        m,
        "fluxprobe_request_duration_seconds",
        &[
            ("target", "sim"),
            ("probe", "burst-1"),
            ("outcome", "success"),
        ],
    )
    .unwrap();
    assert_eq!((count, sum), (1, 2.5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_off_means_no_header_and_no_span_but_metrics() {
    let (endpoint, mut inbox) = http_collector().await;
    let registry = Registry::new();
    let cfg = OtlpConfig {
        traces: Some(false),
        ..config(&endpoint)
    };
    let otlp = Otlp::start(&cfg, &registry, "no-traces").unwrap();
    let span = otlp.probe_started("sim", "trickle");
    assert!(span.headers().is_empty());
    assert_eq!(span.trace_id(), None);
    let rec = record(1, Outcome::Rejected, 0.0, 0.0, 0.5, Some(500), None);
    otlp.probe_finished(span, "sim", "trickle", &rec);
    let got = collect_until(&mut inbox, |r| {
        last_metrics(r).is_some_and(|m| {
            histogram_point(
                m,
                "fluxprobe_request_duration_seconds",
                &[
                    ("target", "sim"),
                    ("probe", "trickle"),
                    ("outcome", "failure"),
                ],
            )
            .is_some_and(|h| h.0 == 1)
        })
    })
    .await;
    bounded("shutdown", otlp.shutdown(Duration::from_secs(5))).await;
    assert!(spans(&got).is_empty());
    while let Ok(r) = inbox.try_recv() {
        assert!(!matches!(r, Received::Traces(_)), "no span may be exported");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_endpoint_is_a_start_error_without_its_secrets() {
    let registry = Registry::new();
    for endpoint in ["not a url", "http://user:s3cret@[::1"] {
        let cfg = OtlpConfig {
            endpoint: Some(endpoint.into()),
            ..config("unused")
        };
        let err = match Otlp::start(&cfg, &registry, "x") {
            Ok(_) => panic!("{endpoint} was accepted"),
            Err(e) => e.to_string(),
        };
        assert!(!err.contains("s3cret"), "{err}");
    }
}
