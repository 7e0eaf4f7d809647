//! A collector that is down (closed port) or a black hole (accepts, never answers): probing
//! never blocks, the span queue stays bounded with every drop counted, failed exports are
//! counted, the registry stays readable, and shutdown returns within its bound.

mod otlp_support;

use fluxprobe::outcome::Outcome;
use fluxprobe::serve::otlp::{Otlp, OtlpConfig, OtlpProtocol};
use otlp_support::*;
use prometheus::{Gauge, Registry};
use std::sync::Arc;
use std::time::Duration;

const QUEUE: usize = 16;
const PROBES: usize = 300;

fn config(endpoint: String, protocol: OtlpProtocol, timeout: Duration) -> OtlpConfig {
    OtlpConfig {
        endpoint: Some(endpoint),
        protocol: Some(protocol),
        interval: Some(Duration::from_millis(100)),
        timeout: Some(timeout),
        max_queue_size: Some(QUEUE),
        ..Default::default()
    }
}

fn registry() -> Registry {
    let r = Registry::new();
    let g = Gauge::new("fluxprobe_target_up", "up").unwrap();
    r.register(Box::new(g.clone())).unwrap();
    g.set(1.0);
    r
}

/// Runs `PROBES` probes through `otlp` on a plain thread, which must finish within the bound,
/// and reads the registry as /metrics would.
async fn probe_many(otlp: &Arc<Otlp>, registry: &Registry) {
    let o = otlp.clone();
    let r = registry.clone();
    must_not_block(move || {
        for i in 0..PROBES {
            let span = o.probe_started("sim", "trickle");
            assert!(span.headers().contains_key("traceparent"));
            let outcome = if i % 3 == 0 {
                Outcome::Connect
            } else {
                Outcome::Success
            };
            let rec = record(i as u64, outcome, 0.0, 0.0, 1.0, None, Some(0.5));
            o.probe_finished(span, "sim", "trickle", &rec);
        }
        assert!(!r.gather().is_empty());
    })
    .await;
}

async fn stop(otlp: Arc<Otlp>) {
    let otlp = Arc::into_inner(otlp).expect("no other holder");
    // The collector never answers: the flush cannot finish, shutdown must still return.
    bounded("shutdown", otlp.shutdown(Duration::from_millis(300))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn black_hole_over_http_bounds_the_queue_and_counts_drops() {
    let hole = black_hole().await;
    let registry = registry();
    // An export timeout far beyond the test: every export stays stuck while we probe.
    let cfg = config(
        format!("http://{hole}"),
        OtlpProtocol::HttpProtobuf,
        Duration::from_secs(600),
    );
    let otlp = Arc::new(Otlp::start(&cfg, &registry, "hole").unwrap());
    probe_many(&otlp, &registry).await;
    let dropped = otlp.dropped();
    // At most one queue's worth waits and one batch is stuck in the exporter: the rest is
    // dropped, and counted.
    assert!(
        dropped.spans >= (PROBES - 2 * QUEUE) as u64 && dropped.spans <= PROBES as u64,
        "{dropped:?}"
    );
    stop(otlp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn black_hole_over_grpc_times_out_exports_and_counts_them() {
    let hole = black_hole().await;
    let registry = registry();
    let cfg = config(
        format!("http://{hole}"),
        OtlpProtocol::Grpc,
        Duration::from_millis(500),
    );
    let otlp = Arc::new(Otlp::start(&cfg, &registry, "hole-grpc").unwrap());
    probe_many(&otlp, &registry).await;
    assert!(otlp.dropped().spans > 0, "{:?}", otlp.dropped());
    // Exports end at the timeout and are counted as failed.
    eventually("a failed metric export is counted", || {
        otlp.dropped().metric_exports > 0
    })
    .await;
    eventually(
        "every span is counted: refused or in a failed export",
        || otlp.dropped().spans as usize == PROBES,
    )
    .await;
    assert!(otlp.dropped().spans as usize <= PROBES);
    stop(otlp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_port_counts_failed_exports() {
    for protocol in [OtlpProtocol::HttpProtobuf, OtlpProtocol::Grpc] {
        let port = closed_port();
        let registry = registry();
        let cfg = config(
            format!("http://{port}"),
            protocol,
            Duration::from_millis(500),
        );
        let otlp = Arc::new(Otlp::start(&cfg, &registry, "down").unwrap());
        probe_many(&otlp, &registry).await;
        eventually("failed exports are counted", || {
            let d = otlp.dropped();
            d.metric_exports > 0 && d.spans > 0
        })
        .await;
        // Every span is either dropped at the gate, lost in a failed export, or still queued:
        // with nothing ever delivered, all are eventually counted.
        eventually("every span is accounted for", || {
            otlp.dropped().spans as usize == PROBES
        })
        .await;
        stop(otlp).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_without_shutdown_does_not_block() {
    let hole = black_hole().await;
    let registry = registry();
    let cfg = config(
        format!("http://{hole}"),
        OtlpProtocol::HttpProtobuf,
        Duration::from_secs(600),
    );
    let otlp = Otlp::start(&cfg, &registry, "dropped").unwrap();
    let span = otlp.probe_started("sim", "trickle");
    otlp.probe_finished(
        span,
        "sim",
        "trickle",
        &record(1, Outcome::Success, 0.0, 0.0, 1.0, None, None),
    );
    must_not_block(move || drop(otlp)).await;
}
