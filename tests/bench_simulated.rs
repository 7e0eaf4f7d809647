//! The bench drivers against the simulated FLUX API: the server's serialisation shows in the
//! response times, queue mode reports the server-side queue wait, the recorded RTX 5090 runs
//! are reproduced, and every failure reason a fault produces is counted and kept out of the
//! success statistics. Time-scaled: no test waits on real generation times.

use fluxprobe::api::{ClientConfig, FluxClient};
use fluxprobe::bench::model::{Load, PhaseResult};
use fluxprobe::bench::requests::RequestSource;
use fluxprobe::bench::run::{NoProgress, PhasePlan, RunControl, run_phase};
use fluxprobe::bench::summary::PhaseSummary;
use fluxprobe::outcome::Outcome;
use fluxprobe::probe::ProbeMode;
use fluxprobe::sim::{self, Faults, SimConfig, SimHandle};
use std::sync::Arc;
use std::time::Duration;

/// Service time of one 512×512, 10-step request on the simulated RTX 5090 (API.md).
const SERVICE_SECONDS: f64 = 1.72 + 0.08;

async fn simulator(gpus: u32, time_scale: f64, faults: Faults) -> SimHandle {
    let cfg = SimConfig {
        gpus,
        time_scale,
        faults,
        ..SimConfig::default()
    };
    sim::start(cfg, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

fn client(sim: &SimHandle, timeout: Duration, max_body: usize) -> FluxClient {
    let mut cfg = ClientConfig::new(sim.base_url());
    cfg.timeout = timeout;
    cfg.max_body_bytes = max_body;
    FluxClient::new(&cfg).unwrap()
}

fn source() -> RequestSource {
    RequestSource {
        prompts: vec![],
        steps: 10,
        guidance: 4.0,
        width: 512,
        height: 512,
        seed: None,
    }
}

async fn closed(
    client: &FluxClient,
    mode: ProbeMode,
    requests: u64,
    concurrency: u32,
    timeout: Duration,
) -> PhaseResult {
    let plan = PhasePlan {
        mode,
        load: Load::Closed {
            requests,
            concurrency,
        },
        warmup: 0,
        timeout,
        poll_interval: Duration::from_millis(2),
    };
    run_phase(
        client,
        &plan,
        &source(),
        &RunControl::new(),
        Arc::new(NoProgress),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_queue_inside_the_server() {
    let scale = 0.05;
    let sim = simulator(1, scale, Faults::default()).await;
    let phase = closed(
        &client(&sim, Duration::from_secs(30), 1 << 20),
        ProbeMode::Generate,
        3,
        3,
        Duration::from_secs(30),
    )
    .await;
    let mut times: Vec<f64> = phase.records.iter().map(|r| r.response_time()).collect();
    times.sort_by(f64::total_cmp);
    let service = SERVICE_SECONDS * scale;
    // The k-th of three simultaneous requests waits for the k − 1 before it: ≈ k × service.
    for (k, t) in times.iter().enumerate() {
        let ratio = t / service;
        let expected = (k + 1) as f64;
        assert!(
            (ratio - expected).abs() < 0.35,
            "response {k}: {t:.4}s = {ratio:.2} × service, expected ≈ {expected}"
        );
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_mode_reports_the_server_side_queue_wait() {
    let scale = 0.05;
    let sim = simulator(1, scale, Faults::default()).await;
    let phase = closed(
        &client(&sim, Duration::from_secs(30), 1 << 20),
        ProbeMode::Queue,
        3,
        3,
        Duration::from_secs(30),
    )
    .await;
    assert!(
        phase.records.iter().all(|r| r.outcome == Outcome::Success),
        "{:?}",
        phase.records
    );
    let mut waits: Vec<f64> = phase
        .records
        .iter()
        .map(|r| r.server_queue_wait.expect("queue wait reported"))
        .collect();
    waits.sort_by(f64::total_cmp);
    let service = SERVICE_SECONDS * scale;
    for (k, w) in waits.iter().enumerate() {
        assert!(
            (w / service - k as f64).abs() < 0.35,
            "queue wait {k}: {w:.4}s, service {service:.4}s"
        );
    }
    for r in &phase.records {
        let s = r.server_service_time.expect("service time reported");
        assert!((s / service - 1.0).abs() < 0.2, "server service time {s}");
        assert!(r.server_request_id.is_some());
    }
    let summary = PhaseSummary::from_phase(&phase);
    assert_eq!(summary.server_queue_wait.count, 3);
    let mean = waits.iter().sum::<f64>() / 3.0;
    assert!((summary.server_queue_wait.mean.unwrap() - mean).abs() < 1e-9);
    // The report's "response − generation" line is just that, not the server's figure.
    let derived: Vec<f64> = phase
        .records
        .iter()
        .map(|r| r.response_time() - r.generation_time.expect("generation time"))
        .collect();
    let derived_mean = derived.iter().sum::<f64>() / 3.0;
    assert!((summary.queue_wait.mean.unwrap() - derived_mean).abs() < 1e-9);
    assert!(
        derived_mean > mean,
        "response − generation includes polling and transfer"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reproduces_the_recorded_rtx_5090_runs() {
    // The recorded runs (10 requests, 3 concurrent): 0.556 requests/s, median 5.37 s.
    // Run 20× faster and scale the figures back.
    let scale = 0.05;
    let sim = simulator(1, scale, Faults::default()).await;
    let phase = closed(
        &client(&sim, Duration::from_secs(30), 1 << 20),
        ProbeMode::Generate,
        10,
        3,
        Duration::from_secs(30),
    )
    .await;
    let s = PhaseSummary::from_phase(&phase);
    assert_eq!(s.success, 10);
    let throughput = s.throughput_rps.unwrap() * scale;
    let median = s.response_time.median.unwrap() / scale;
    assert!(
        (throughput / 0.556 - 1.0).abs() < 0.05,
        "throughput {throughput:.4} req/s at scale 1"
    );
    assert!(
        (median / 5.37 - 1.0).abs() < 0.05,
        "median {median:.4} s at scale 1"
    );
    sim.shutdown().await;
}

/// Runs `requests` against a simulator with `faults` and returns the phase.
async fn with_faults(
    faults: Faults,
    mode: ProbeMode,
    timeout: Duration,
    max_body: usize,
) -> PhaseResult {
    let sim = simulator(1, 0.0, faults).await;
    let phase = closed(&client(&sim, timeout, max_body), mode, 8, 4, timeout).await;
    sim.shutdown().await;
    phase
}

fn only(phase: &PhaseResult, reason: Outcome) {
    let s = PhaseSummary::from_phase(phase);
    assert_eq!(s.total, 8);
    assert_eq!(
        s.success,
        0,
        "{reason}: {:?}",
        phase.records.iter().map(|r| r.outcome).collect::<Vec<_>>()
    );
    assert_eq!(s.failures.len(), 1, "{reason}: {:?}", s.failures);
    assert_eq!(
        s.failures[0].reason, reason,
        "{:?}",
        s.failures[0].first_messages
    );
    assert_eq!(s.failures[0].count, 8);
    assert!(!s.failures[0].first_messages.is_empty());
    assert_eq!(
        s.response_time.count, 0,
        "failures never enter the success statistics"
    );
    assert_eq!(
        s.failure_response_time.count, 8,
        "failures keep their latency in failure statistics"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_fault_is_counted_under_its_reason() {
    let t = Duration::from_secs(20);
    let big = 1 << 20;
    only(
        &with_faults(
            Faults {
                error_rate: 1.0,
                ..Faults::default()
            },
            ProbeMode::Generate,
            t,
            big,
        )
        .await,
        Outcome::Http5xx,
    );
    only(
        &with_faults(
            Faults {
                validation_error: true,
                ..Faults::default()
            },
            ProbeMode::Generate,
            t,
            big,
        )
        .await,
        Outcome::Http4xx,
    );
    only(
        &with_faults(
            Faults {
                queue_full: true,
                ..Faults::default()
            },
            ProbeMode::Queue,
            t,
            big,
        )
        .await,
        Outcome::Rejected,
    );
    only(
        &with_faults(
            Faults {
                malformed_rate: 1.0,
                ..Faults::default()
            },
            ProbeMode::Generate,
            t,
            big,
        )
        .await,
        Outcome::InvalidBody,
    );
    only(
        &with_faults(
            Faults {
                reset_rate: 1.0,
                ..Faults::default()
            },
            ProbeMode::Generate,
            t,
            big,
        )
        .await,
        Outcome::Transport,
    );
    only(
        &with_faults(
            Faults {
                down: true,
                ..Faults::default()
            },
            ProbeMode::Generate,
            t,
            big,
        )
        .await,
        Outcome::Transport,
    );
    only(
        &with_faults(
            Faults {
                huge_body_rate: 1.0,
                huge_body_bytes: 1 << 20,
                ..Faults::default()
            },
            ProbeMode::Generate,
            t,
            64 * 1024,
        )
        .await,
        Outcome::BodyTooLarge,
    );
    only(
        &with_faults(
            Faults {
                hang_rate: 1.0,
                ..Faults::default()
            },
            ProbeMode::Generate,
            Duration::from_millis(200),
            big,
        )
        .await,
        Outcome::Timeout,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_port_is_a_connect_failure() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut cfg = ClientConfig::new(url::Url::parse(&format!("http://127.0.0.1:{port}")).unwrap());
    cfg.timeout = Duration::from_secs(10);
    let phase = closed(
        &FluxClient::new(&cfg).unwrap(),
        ProbeMode::Generate,
        8,
        4,
        Duration::from_secs(10),
    )
    .await;
    only(&phase, Outcome::Connect);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_failures_stay_out_of_the_success_percentiles() {
    let sim = simulator(
        1,
        0.01,
        Faults {
            error_rate: 0.5,
            ..Faults::default()
        },
    )
    .await;
    let phase = closed(
        &client(&sim, Duration::from_secs(30), 1 << 20),
        ProbeMode::Generate,
        40,
        4,
        Duration::from_secs(30),
    )
    .await;
    let s = PhaseSummary::from_phase(&phase);
    let ok: Vec<f64> = phase
        .records
        .iter()
        .filter(|r| r.is_success())
        .map(|r| r.response_time())
        .collect();
    let failed = phase.records.iter().filter(|r| !r.is_success()).count() as u64;
    assert_eq!(s.success + s.failed, 40);
    assert_eq!(s.failed, failed);
    assert!(
        failed > 5 && s.success > 5,
        "the dice gave {failed} failures of 40"
    );
    assert_eq!(s.failures.iter().map(|f| f.count).sum::<u64>(), failed);
    assert_eq!(sim.stats().generations_failed, failed);
    // The success statistics are exactly those of the successful records (independent figures).
    let mean = ok.iter().sum::<f64>() / ok.len() as f64;
    let max = ok.iter().cloned().fold(f64::MIN, f64::max);
    assert_eq!(s.response_time.count, ok.len() as u64);
    assert!((s.response_time.mean.unwrap() - mean).abs() < 1e-12);
    assert_eq!(s.response_time.max.unwrap(), max);
    sim.shutdown().await;
}

/// A server answering every /generate with `status` and FastAPI's body.
async fn answering(status: u16, detail: &'static str) -> url::Url {
    use axum::routing::post;
    let app = axum::Router::new().route(
        "/generate",
        post(move || async move {
            (
                axum::http::StatusCode::from_u16(status).unwrap(),
                axum::Json(serde_json::json!({ "detail": detail })),
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url::Url::parse(&format!("http://{addr}")).unwrap()
}

async fn run_against(url: url::Url) -> PhaseResult {
    let mut cfg = ClientConfig::new(url);
    cfg.timeout = Duration::from_secs(10);
    closed(
        &FluxClient::new(&cfg).unwrap(),
        ProbeMode::Generate,
        8,
        4,
        Duration::from_secs(10),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_not_ready_and_tls_have_their_reasons() {
    only(
        &run_against(answering(429, "Too Many Requests").await).await,
        Outcome::Http429,
    );
    only(
        &run_against(answering(503, "Model not ready").await).await,
        Outcome::NotReady,
    );
    // TLS spoken to a plain-HTTP server: the handshake fails.
    let sim = simulator(1, 0.0, Faults::default()).await;
    let mut https = sim.base_url();
    https.set_scheme("https").unwrap();
    only(&run_against(https).await, Outcome::Tls);
    sim.shutdown().await;
}
