//! The open-loop driver measures from the intended send time: a target that stalls shows the
//! stall in every request scheduled during it, not as one slow sample (no coordinated
//! omission). The closed loop, for contrast, shows it once.

use axum::Router;
use axum::routing::post;
use fluxprobe::api::{ClientConfig, FluxClient};
use fluxprobe::bench::model::Load;
use fluxprobe::bench::requests::RequestSource;
use fluxprobe::bench::run::{NoProgress, PhasePlan, RunControl, run_phase};
use fluxprobe::outcome::Outcome;
use fluxprobe::probe::ProbeMode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

/// Requests the stalling server has received, and a signal on each arrival.
#[derive(Default)]
struct Arrivals {
    count: AtomicUsize,
    notify: Notify,
}

impl Arrivals {
    async fn wait_for(&self, n: usize) {
        loop {
            let notified = self.notify.notified();
            if self.count.load(Ordering::SeqCst) >= n {
                return;
            }
            notified.await;
        }
    }
}

/// A server that holds every /generate until `release`, then answers at once.
async fn stalling_server(release: Instant) -> url::Url {
    stalling_server_counting(release, Arc::new(Arrivals::default())).await
}

async fn stalling_server_counting(release: Instant, arrivals: Arc<Arrivals>) -> url::Url {
    let app = Router::new().route(
        "/generate",
        post(move || async move {
            arrivals.count.fetch_add(1, Ordering::SeqCst);
            arrivals.notify.notify_waiters();
            tokio::time::sleep_until(release).await;
            axum::Json(serde_json::json!({"generation_time": "0.00s", "width": 512, "height": 512}))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url::Url::parse(&format!("http://{addr}")).unwrap()
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

fn client(url: url::Url) -> FluxClient {
    let mut cfg = ClientConfig::new(url);
    cfg.timeout = Duration::from_secs(30);
    FluxClient::new(&cfg).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_loop_latency_counts_from_the_intended_time() {
    let stall = 2.0;
    let url = stalling_server(Instant::now() + Duration::from_secs_f64(stall)).await;
    let plan = PhasePlan {
        mode: ProbeMode::Generate,
        load: Load::Open {
            rate: 20.0,
            duration_seconds: 3.0,
            max_in_flight: 1000,
        },
        warmup: 0,
        timeout: Duration::from_secs(30),
        poll_interval: Duration::from_millis(50),
    };
    let phase = run_phase(
        &client(url),
        &plan,
        &source(),
        &RunControl::new(),
        Arc::new(NoProgress),
    )
    .await;
    assert_eq!(phase.records.len(), 60);
    assert_eq!(phase.skipped, 0);
    assert!(phase.records.iter().all(|r| r.outcome == Outcome::Success));
    // The server releases everything `stall` seconds after it started, which is no later than
    // the phase clock's zero; each request intended at t waited at least until the release.
    let release = phase
        .records
        .iter()
        .map(|r| r.done)
        .fold(f64::INFINITY, f64::min);
    for r in &phase.records {
        assert!(
            (r.intended - r.seq as f64 / 20.0).abs() < 1e-9,
            "intended follows the schedule"
        );
        assert!(r.done >= release - 1e-9);
        assert!(r.response_time() >= release - r.intended - 1e-9);
    }
    // Every request scheduled in the first second saw more than a second of the stall.
    let slow = phase
        .records
        .iter()
        .filter(|r| r.response_time() > 1.0)
        .count();
    assert!(slow >= 19, "only {slow} requests show the stall");
    let worst = phase
        .records
        .iter()
        .map(|r| r.response_time())
        .fold(0.0, f64::max);
    assert!(
        worst >= stall - 0.2,
        "the first request waited the whole stall: {worst}"
    );
    assert!(phase.peak_in_flight >= 30);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_loop_sends_only_when_a_slot_frees() {
    let url = stalling_server(Instant::now() + Duration::from_secs_f64(1.0)).await;
    let plan = PhasePlan {
        mode: ProbeMode::Generate,
        load: Load::Closed {
            requests: 5,
            concurrency: 1,
        },
        warmup: 1,
        timeout: Duration::from_secs(30),
        poll_interval: Duration::from_millis(50),
    };
    let phase = run_phase(
        &client(url),
        &plan,
        &source(),
        &RunControl::new(),
        Arc::new(NoProgress),
    )
    .await;
    assert_eq!(phase.records.len(), 6);
    assert_eq!(phase.records.iter().filter(|r| r.warmup).count(), 1);
    assert!(phase.records[0].warmup, "the warm-up request goes first");
    assert_eq!(phase.peak_in_flight, 1);
    for pair in phase.records.windows(2) {
        // One at a time: the next starts after the previous one ended.
        assert!(pair[1].sent >= pair[0].done - 1e-9);
    }
    for r in &phase.records {
        assert_eq!(r.intended, r.sent, "closed loop: intended = sent");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_and_abort_account_for_every_request() {
    // A server that never answers within the test: everything in flight must end as aborted.
    let arrivals = Arc::new(Arrivals::default());
    let url = stalling_server_counting(
        Instant::now() + Duration::from_secs(3600),
        Arc::clone(&arrivals),
    )
    .await;
    let plan = PhasePlan {
        mode: ProbeMode::Generate,
        load: Load::Closed {
            requests: 10,
            concurrency: 3,
        },
        warmup: 0,
        timeout: Duration::from_secs(3600),
        poll_interval: Duration::from_millis(50),
    };
    let control = RunControl::new();
    let c2 = control.clone();
    let client = client(url);
    let runner = tokio::spawn(async move {
        run_phase(&client, &plan, &source(), &c2, Arc::new(NoProgress)).await
    });
    // Stop once three requests are in flight (the run then waits for a free slot).
    tokio::time::timeout(Duration::from_secs(20), arrivals.wait_for(3))
        .await
        .unwrap();
    control.stop.cancel();
    control.abort.cancel();
    let phase = tokio::time::timeout(Duration::from_secs(20), runner)
        .await
        .unwrap()
        .unwrap();
    assert!(phase.interrupted);
    assert_eq!(phase.records.len() as u64 + phase.not_started, 10);
    assert!(phase.records.iter().all(|r| r.outcome == Outcome::Aborted));
    assert_eq!(phase.records.len(), 3);
}
