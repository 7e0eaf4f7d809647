//! The simulator's queue mode: /submit-request, /request-status/{id}, /cancel-request/{id} and
//! /queue-stats, sharing the GPUs with synchronous /generate.

mod sim_support;

use fluxprobe::api::units;
use fluxprobe::api::wire::{GenerateRequest, QueueState, RequestStatus};
use fluxprobe::api::{ClientConfig, FluxClient};
use fluxprobe::cli::ApiVersion;
use fluxprobe::outcome::Outcome;
use fluxprobe::probe::{self, Clock, ProbeMode, ProbeSpec};
use fluxprobe::sim::{Faults, SimConfig};
use serde_json::{Value, json};
use sim_support::*;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

fn id_of(v: &Value) -> String {
    v["request_id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn requests_wait_without_a_gpu_and_the_queue_is_bounded() {
    let h = sim(SimConfig {
        gpus: 0,
        max_queue_size: 2,
        time_scale: 0.0,
        ..SimConfig::default()
    })
    .await;
    let c = client();
    let a = post(&c, &h, "/submit-request", &generate_body("a")).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["status"], "queued");
    assert_eq!(a.body["message"], "Request submitted successfully");
    let b = post(&c, &h, "/submit-request", &generate_body("b")).await;
    let full = post(&c, &h, "/submit-request", &generate_body("c")).await;
    assert_eq!(
        (full.status, full.body),
        (
            500,
            json!({"detail": "Failed to submit request: Queue is full"})
        )
    );
    let (ida, idb) = (id_of(&a.body), id_of(&b.body));
    assert_ne!(ida, idb);
    let st = get(&c, &h, &format!("/request-status/{ida}")).await;
    assert_eq!(st.body["status"], "pending");
    assert!(st.body["started_at"].is_null() && st.body["result"].is_null());
    assert_eq!(st.body["prompt"], "a");
    assert!(st.body["created_at"].as_f64().unwrap() > 1.0e9);
    let qs = get(&c, &h, "/queue-stats").await.body;
    assert_eq!(
        qs,
        json!({"queue_size": 2, "active_requests": 0, "completed_requests": 0,
               "max_concurrent": 0, "max_queue_size": 2})
    );

    // Cancel one: room again.
    let r = send(
        &c,
        &h,
        reqwest::Method::DELETE,
        &format!("/cancel-request/{ida}"),
        "",
    )
    .await;
    assert_eq!(
        (r.status, r.body),
        (
            200,
            json!({"message": "Request cancelled successfully", "request_id": ida})
        )
    );
    let st = get(&c, &h, &format!("/request-status/{ida}")).await;
    assert_eq!(st.body["status"], "cancelled");
    let again = send(
        &c,
        &h,
        reqwest::Method::DELETE,
        &format!("/cancel-request/{ida}"),
        "",
    )
    .await;
    assert_eq!(again.status, 400);
    assert_eq!(get(&c, &h, "/queue-stats").await.body["queue_size"], 1);
    assert_eq!(
        post(&c, &h, "/submit-request", &generate_body("c"))
            .await
            .status,
        200
    );

    // Unknown ids.
    for (method, path) in [
        (reqwest::Method::GET, "/request-status/nope"),
        (reqwest::Method::DELETE, "/cancel-request/nope"),
    ] {
        let r = send(&c, &h, method, path, "").await;
        assert_eq!(
            (r.status, r.body),
            (404, json!({"detail": "Request not found"}))
        );
    }

    // A GPU arrives: the waiting requests run, in order.
    h.set_gpus(1);
    let done = poll_request(&c, &h, &idb, "completed", Duration::from_secs(10)).await;
    assert!(done["result"]["generation_time"].is_string());
    assert_eq!(h.stats().cancelled, 1);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn states_and_timestamps_follow_the_gpu() {
    let ts = 0.02;
    let h = sim(SimConfig {
        time_scale: ts,
        ..SimConfig::default()
    })
    .await;
    let c = client();
    let mut ids = Vec::new();
    for i in 0..3 {
        let r = post(&c, &h, "/submit-request", &generate_body(&format!("q{i}"))).await;
        ids.push(id_of(&r.body));
    }
    let mut finished = Vec::new();
    for id in &ids {
        finished.push(poll_request(&c, &h, id, "completed", Duration::from_secs(10)).await);
    }
    let service = nominal_service(10.0) * ts;
    let mut last_completed = 0.0;
    let first_created = finished[0]["created_at"].as_f64().unwrap();
    for (i, f) in finished.iter().enumerate() {
        let st = RequestStatus::from_body(
            &fluxprobe::api::wire::Body::parse(&serde_json::to_vec(f).unwrap()).unwrap(),
        );
        assert_eq!(st.state, QueueState::Completed);
        let wait = st.queue_wait_seconds().unwrap();
        let busy = st.service_seconds().unwrap();
        // Wall-clock stamps: allow a millisecond of clock granularity.
        assert!(
            (busy / service - 1.0).abs() < 0.05,
            "service {busy} vs {service}"
        );
        assert!(wait >= 0.0);
        // The GPU is busy from the first submission on: the i-th starts i services later.
        let from_first = st.started_at.unwrap() - first_created;
        assert!(
            (from_first - service * i as f64).abs() < 0.05 * service * i as f64 + 1e-3,
            "request {i} started {from_first}s after the first was submitted"
        );
        assert!(st.started_at.unwrap() >= last_completed - 1e-6, "in order");
        last_completed = st.completed_at.unwrap();
        let g = st.result.unwrap().generation_time_seconds.unwrap();
        assert!((g / (1.72 * ts) - 1.0).abs() < 0.012);
    }
    let qs = get(&c, &h, "/queue-stats").await.body;
    assert_eq!(qs["completed_requests"], 3);
    assert_eq!(qs["queue_size"], 0);
    assert_eq!(h.stats().submitted, 3);
    h.shutdown().await;
}

#[tokio::test]
async fn a_running_request_is_processing_and_cannot_be_cancelled() {
    let h = sim(SimConfig {
        time_scale: 1.0,
        // Answer /queue-stats at once instead of after the running generation.
        blocking_status: false,
        ..SimConfig::default()
    })
    .await;
    let c = client();
    let first = id_of(
        &post(&c, &h, "/submit-request", &generate_body("1"))
            .await
            .body,
    );
    let second = id_of(
        &post(&c, &h, "/submit-request", &generate_body("2"))
            .await
            .body,
    );
    let st = get(&c, &h, &format!("/request-status/{first}")).await.body;
    assert_eq!(st["status"], "processing");
    assert!(st["started_at"].as_f64().unwrap() >= st["created_at"].as_f64().unwrap());
    assert!(st["completed_at"].is_null());
    let qs = get(&c, &h, "/queue-stats").await.body;
    assert_eq!(
        (qs["queue_size"].clone(), qs["active_requests"].clone()),
        (json!(1), json!(1))
    );
    let r = send(
        &c,
        &h,
        reqwest::Method::DELETE,
        &format!("/cancel-request/{first}"),
        "",
    )
    .await;
    assert_eq!(r.status, 400);
    let r = send(
        &c,
        &h,
        reqwest::Method::DELETE,
        &format!("/cancel-request/{second}"),
        "",
    )
    .await;
    assert_eq!(r.status, 200);
    // Synchronous /generate never shows in the queue figures.
    let sync = {
        let (c, u) = (c.clone(), url(&h, "/generate"));
        tokio::spawn(async move { c.post(u).json(&generate_body("sync")).send().await })
    };
    wait_for(
        Duration::from_secs(10),
        "the generate request waits",
        || async { h.stats().generations_waiting == 1 },
    )
    .await;
    let qs = get(&c, &h, "/queue-stats").await.body;
    assert_eq!(
        (qs["queue_size"].clone(), qs["active_requests"].clone()),
        (json!(0), json!(1))
    );
    h.shutdown().await;
    // The waiting generate request loses its connection at shutdown.
    let ended = tokio::time::timeout(Duration::from_secs(10), sync)
        .await
        .unwrap()
        .unwrap();
    assert!(ended.is_err() || ended.unwrap().bytes().await.is_err());
}

#[tokio::test]
async fn failed_requests_carry_an_error() {
    let h = sim(SimConfig {
        time_scale: 0.0,
        faults: Faults {
            error_rate: 1.0,
            ..Faults::default()
        },
        ..SimConfig::default()
    })
    .await;
    let c = client();
    let id = id_of(
        &post(&c, &h, "/submit-request", &generate_body("x"))
            .await
            .body,
    );
    let st = poll_request(&c, &h, &id, "failed", Duration::from_secs(10)).await;
    assert!(st["error"].as_str().unwrap().contains("CUDA"));
    assert!(st["result"].is_null());
    assert!(st["completed_at"].is_number());
    // An empty prompt is accepted, then fails.
    h.set_faults(Faults::default());
    let id = id_of(
        &post(&c, &h, "/submit-request", &generate_body(""))
            .await
            .body,
    );
    let st = poll_request(&c, &h, &id, "failed", Duration::from_secs(10)).await;
    assert!(
        st["error"]
            .as_str()
            .unwrap()
            .contains("Prompt cannot be empty")
    );
    assert_eq!(
        get(&c, &h, "/queue-stats").await.body["completed_requests"],
        0
    );
    h.shutdown().await;
}

#[tokio::test]
async fn v2_queue_mode_runs_the_steps_asked_for() {
    let ts = 0.01;
    let h = sim(SimConfig {
        api_version: ApiVersion::V2,
        time_scale: ts,
        ..SimConfig::default()
    })
    .await;
    let c = client();
    let mut body = generate_body("x");
    body["num_inference_steps"] = json!(30);
    let id = id_of(&post(&c, &h, "/submit-request", &body).await.body);
    let st = poll_request(&c, &h, &id, "completed", Duration::from_secs(10)).await;
    assert_eq!(st["num_inference_steps"], 30);
    let g = units::seconds(Some(&st["result"]["generation_time"]))
        .ok()
        .unwrap();
    assert!((g / (1.72 * 3.0 * ts) - 1.0).abs() < 0.012, "{g}");
    let mut bad = generate_body("x");
    bad["num_inference_steps"] = json!(0);
    assert_eq!(post(&c, &h, "/submit-request", &bad).await.status, 422);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_probe_runs_queue_mode_end_to_end() {
    let h = sim(SimConfig {
        time_scale: 0.01,
        ..SimConfig::default()
    })
    .await;
    let client = FluxClient::new(&ClientConfig::new(h.base_url())).unwrap();
    let spec = ProbeSpec {
        request: GenerateRequest::default(),
        mode: ProbeMode::Queue,
        timeout: Duration::from_secs(10),
        poll_interval: Duration::from_millis(5),
    };
    let rec = probe::execute(
        &client,
        &spec,
        &Clock::new(),
        None,
        1,
        &reqwest::header::HeaderMap::new(),
        &CancellationToken::new(),
    )
    .await;
    assert_eq!(rec.outcome, Outcome::Success, "{:?}", rec.error);
    assert!(rec.server_request_id.is_some());
    assert!(rec.server_service_time.unwrap() > 0.0);
    assert!(rec.generation_time.unwrap() > 0.0);
    h.shutdown().await;
}
