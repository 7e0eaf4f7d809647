//! A daemon with an `otlp:` section pushes one span per probe and its metrics to a collector
//! (an in-test OTLP/HTTP receiver), flushes at shutdown, and its /metrics counts OTLP drops.

use fluxprobe::serve::{Daemon, config};
use std::time::Duration;

#[path = "otlp_support/mod.rs"]
mod otlp_support;
mod serve_support;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_become_spans_and_metrics_reach_the_collector() {
    let (endpoint, mut inbox) = otlp_support::http_collector().await;
    let down = serve_support::closed_port();
    let text = format!(
        "otlp:\n  endpoint: {endpoint}\n  interval: 200ms\n  timeout: 5s\ntargets:\n  - name: t\n    url: http://{down}\n    timeout: 2s\n    trickle: {{interval: 50ms}}\n    status_interval: 1s\n"
    );
    let cfg = config::parse(&text, "otlp.yml", &|_| None).unwrap();
    let d = Daemon::start(cfg, Some("127.0.0.1:0".parse().unwrap()))
        .await
        .unwrap();
    let addr = d.addr();
    serve_support::wait_metrics(addr, Duration::from_secs(20), "probes counted", |s| {
        (serve_support::value(
            s,
            "fluxprobe_requests_total",
            &[("target", "t"), ("probe", "trickle")],
        )? >= 3.0)
            .then_some(())
    })
    .await;
    // The drop counter exists for both signals once OTLP runs.
    let samples = serve_support::scrape(addr).await;
    for signal in ["traces", "metrics"] {
        assert!(
            serve_support::value(
                &samples,
                "fluxprobe_otlp_dropped_total",
                &[("signal", signal)]
            )
            .is_some()
        );
    }
    otlp_support::bounded("shutdown", d.shutdown()).await;
    let got = otlp_support::collect_until(&mut inbox, |r| {
        let spans = otlp_support::spans(r);
        let has_span = spans
            .iter()
            .any(|(_, s)| otlp_support::str_attr(&s.attributes, "fluxprobe.target") == Some("t"));
        let has_metric = r.iter().any(|x| match x {
            otlp_support::Received::Metrics(m) => {
                otlp_support::metric(m, "fluxprobe_requests_total").is_some()
            }
            _ => false,
        });
        has_span && has_metric
    })
    .await;
    let spans = otlp_support::spans(&got);
    let probe_spans: Vec<_> = spans
        .iter()
        .filter(|(_, s)| {
            otlp_support::str_attr(&s.attributes, "fluxprobe.probe") == Some("trickle")
        })
        .collect();
    assert!(!probe_spans.is_empty());
}
