//! Each fault of the simulator has its observable effect, as a client (reqwest, or the crate's
//! own FluxClient and probe) sees it.

mod sim_support;

use fluxprobe::api::wire::{Body, GenerateRequest, GpuInfo};
use fluxprobe::api::{ClientConfig, FluxClient, StatusEndpoint, units};
use fluxprobe::cli::ApiVersion;
use fluxprobe::outcome::Outcome;
use fluxprobe::probe::{self, Clock, ProbeMode, ProbeSpec};
use fluxprobe::sim::{Faults, FiguresMode, HealthMode, SimConfig, SimHandle};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use sim_support::*;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

fn instant(faults: Faults) -> SimConfig {
    SimConfig {
        time_scale: 0.0,
        faults,
        ..SimConfig::default()
    }
}

fn flux_client(h: &SimHandle, timeout: Duration, max_body: usize) -> FluxClient {
    let mut cfg = ClientConfig::new(h.base_url());
    cfg.timeout = timeout;
    cfg.max_body_bytes = max_body;
    FluxClient::new(&cfg).unwrap()
}

/// Runs one probe against the simulator and returns its outcome.
async fn probe_outcome(h: &SimHandle, mode: ProbeMode, timeout: Duration) -> probe::ProbeRecord {
    let client = flux_client(h, timeout, 1024 * 1024);
    let spec = ProbeSpec {
        request: GenerateRequest::default(),
        mode,
        timeout,
        poll_interval: Duration::from_millis(5),
    };
    let clock = Clock::new();
    probe::execute(
        &client,
        &spec,
        &clock,
        None,
        0,
        &HeaderMap::new(),
        &CancellationToken::new(),
    )
    .await
}

#[tokio::test]
async fn error_rate_fails_generations_with_500() {
    let h = sim(instant(Faults {
        error_rate: 1.0,
        ..Faults::default()
    }))
    .await;
    let c = client();
    let r = post(&c, &h, "/generate", &generate_body("x")).await;
    assert_eq!(r.status, 500);
    assert_eq!(
        r.body["detail"],
        "Request processing failed: 500: FLUX image generation failed: CUDA error: an illegal memory access was encountered"
    );
    let rec = probe_outcome(&h, ProbeMode::Generate, Duration::from_secs(10)).await;
    assert_eq!(rec.outcome, Outcome::Http5xx);
    let s = h.stats();
    assert_eq!((s.generations_failed, s.generations_completed), (2, 0));
    h.shutdown().await;
}

#[tokio::test]
async fn error_rate_is_a_share_of_the_requests() {
    let h = sim(instant(Faults {
        error_rate: 0.3,
        ..Faults::default()
    }))
    .await;
    let c = client();
    let mut failed = 0;
    for _ in 0..400 {
        if post(&c, &h, "/generate", &generate_body("x")).await.status == 500 {
            failed += 1;
        }
    }
    let share = failed as f64 / 400.0;
    assert!((0.22..0.38).contains(&share), "{share}");
    h.shutdown().await;
}

#[tokio::test]
async fn hung_requests_time_out_and_do_not_hold_shutdown() {
    let h = sim(instant(Faults {
        hang_rate: 1.0,
        ..Faults::default()
    }))
    .await;
    let c = reqwest::Client::builder()
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let e = c
        .post(url(&h, "/generate"))
        .json(&generate_body("x"))
        .send()
        .await
        .unwrap_err();
    assert!(e.is_timeout(), "{e}");
    let rec = probe_outcome(&h, ProbeMode::Generate, Duration::from_millis(200)).await;
    assert_eq!(rec.outcome, Outcome::Timeout);
    // Status endpoints hang too.
    assert!(
        c.get(url(&h, "/health"))
            .send()
            .await
            .unwrap_err()
            .is_timeout()
    );
    // Requests still held when the simulator stops get their connections dropped.
    let held = {
        let c = client();
        let u = url(&h, "/generate");
        tokio::spawn(async move { c.post(u).json(&generate_body("x")).send().await })
    };
    wait_for(Duration::from_secs(10), "four requests hang", || async {
        h.stats().hung == 4
    })
    .await;
    tokio::time::timeout(Duration::from_secs(10), h.shutdown())
        .await
        .expect("shutdown does not wait for hung requests");
    let after = tokio::time::timeout(Duration::from_secs(10), held)
        .await
        .expect("the held request ends")
        .unwrap();
    assert!(after.is_err() || after.unwrap().bytes().await.is_err());
}

#[tokio::test]
async fn resets_are_transport_errors() {
    let h = sim(instant(Faults {
        reset_rate: 1.0,
        ..Faults::default()
    }))
    .await;
    let c = client();
    let resp = c
        .post(url(&h, "/generate"))
        .json(&generate_body("x"))
        .send()
        .await
        .expect("headers arrive");
    assert_eq!(resp.status(), 200);
    let e = resp.bytes().await.unwrap_err();
    assert!(!e.is_timeout(), "{e}");
    let fc = flux_client(&h, Duration::from_secs(10), 1 << 20);
    let err = fc
        .fetch_status(
            StatusEndpoint::GpuInfo,
            Instant::now() + Duration::from_secs(10),
        )
        .await
        .unwrap_err();
    assert_eq!(err.outcome, Outcome::Transport);
    assert_eq!(err.status, Some(200));
    assert!(err.bytes > 0, "part of the body arrived");
    let rec = probe_outcome(&h, ProbeMode::Generate, Duration::from_secs(10)).await;
    assert_eq!(rec.outcome, Outcome::Transport);
    assert_eq!(h.stats().resets, 3);
    h.shutdown().await;
}

#[tokio::test]
async fn malformed_bodies_are_200_and_not_json() {
    let h = sim(instant(Faults {
        malformed_rate: 1.0,
        ..Faults::default()
    }))
    .await;
    let c = client();
    for _ in 0..6 {
        let r = post(&c, &h, "/generate", &generate_body("x")).await;
        assert_eq!(r.status, 200);
        assert!(Body::parse(&r.raw).is_err(), "{:?}", r.raw);
    }
    let rec = probe_outcome(&h, ProbeMode::Generate, Duration::from_secs(10)).await;
    assert_eq!(rec.outcome, Outcome::InvalidBody);
    // Status bodies are left alone.
    assert_eq!(get(&c, &h, "/health").await.body["status"], "healthy");
    assert_eq!(h.stats().malformed, 7);
    h.shutdown().await;
}

#[tokio::test]
async fn huge_bodies_have_the_configured_length() {
    let size = 300_000;
    let h = sim(instant(Faults {
        huge_body_rate: 1.0,
        huge_body_bytes: size,
        ..Faults::default()
    }))
    .await;
    let c = client();
    let r = post(&c, &h, "/generate", &generate_body("x")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.raw.len(), size);
    let v: Value = serde_json::from_slice(&r.raw).unwrap();
    assert!(v["generation_time"].is_string());
    let fc = flux_client(&h, Duration::from_secs(10), 100_000);
    let e = fc
        .post_json(
            "/generate",
            &GenerateRequest::default(),
            &HeaderMap::new(),
            Instant::now() + Duration::from_secs(10),
        )
        .await
        .unwrap_err();
    assert_eq!(e.outcome, Outcome::BodyTooLarge);
    h.shutdown().await;
}

#[tokio::test]
async fn a_full_queue_rejects_submissions() {
    let h = sim(instant(Faults {
        queue_full: true,
        ..Faults::default()
    }))
    .await;
    let c = client();
    let r = post(&c, &h, "/submit-request", &generate_body("x")).await;
    assert_eq!(
        (r.status, r.body),
        (
            500,
            json!({"detail": "Failed to submit request: Queue is full"})
        )
    );
    let rec = probe_outcome(&h, ProbeMode::Queue, Duration::from_secs(10)).await;
    assert_eq!(rec.outcome, Outcome::Rejected);
    // Synchronous generation is not affected.
    assert_eq!(
        post(&c, &h, "/generate", &generate_body("x")).await.status,
        200
    );
    assert_eq!(h.stats().rejected_queue_full, 2);
    h.shutdown().await;
}

#[tokio::test]
async fn validation_errors_are_422_lists() {
    let h = sim(instant(Faults {
        validation_error: true,
        ..Faults::default()
    }))
    .await;
    let c = client();
    for path in ["/generate", "/submit-request"] {
        let r = post(&c, &h, path, &generate_body("a fox")).await;
        assert_eq!(r.status, 422);
        let item = &r.body["detail"][0];
        assert_eq!(item["loc"], json!(["body", "prompt"]));
        assert_eq!(item["input"], "a fox");
        assert!(item["msg"].is_string() && item["type"].is_string());
    }
    let rec = probe_outcome(&h, ProbeMode::Generate, Duration::from_secs(10)).await;
    assert_eq!(rec.outcome, Outcome::Http4xx);
    h.shutdown().await;
}

#[tokio::test]
async fn figures_can_be_unavailable_or_null() {
    let h = sim(SimConfig {
        api_version: ApiVersion::V2,
        report_vram: true,
        ..instant(Faults {
            figures: FiguresMode::NotAvailable,
            ..Faults::default()
        })
    })
    .await;
    let c = client();
    let gi = get(&c, &h, "/gpu-info").await.body;
    for k in ["total_memory_gb", "allocated_memory_gb", "free_memory_gb"] {
        assert_eq!(gi["gpus"][0][k], "N/A");
    }
    assert_eq!(gi["device_count"], "N/A");
    let parsed = GpuInfo::from_body(&Body::parse(&serde_json::to_vec(&gi).unwrap()).unwrap());
    assert_eq!(parsed.gpus[0].total_bytes, None);
    assert!(!parsed.issues.is_empty());
    let qs = get(&c, &h, "/queue-stats").await.body;
    assert!(qs.as_object().unwrap().values().all(|v| v == "N/A"));
    let ms = get(&c, &h, "/model-status").await.body;
    assert_eq!(ms["vram_usage_gb"], "N/A");
    assert_eq!(get(&c, &h, "/health").await.body["uptime"], "N/A");
    let g = post(&c, &h, "/generate", &generate_body("x")).await.body;
    assert_eq!(g["generation_time"], "N/A");
    assert_eq!(g["vram_usage_gb"], "N/A");
    // The real figures stay readable from the handle.
    assert_eq!(h.gpu_memory()[0].total_gb, "31.4");

    h.set_faults(Faults {
        figures: FiguresMode::Null,
        ..Faults::default()
    });
    let gi = get(&c, &h, "/gpu-info").await.body;
    assert!(gi["gpus"][0]["free_memory_gb"].is_null());
    let g = post(&c, &h, "/generate", &generate_body("x")).await.body;
    assert!(g["generation_time"].is_null());
    assert!(g.get("generation_time").is_some());
    h.shutdown().await;
}

#[tokio::test]
async fn the_gpu_list_follows_set_gpus() {
    let h = sim(SimConfig {
        gpus: 3,
        ..instant(Faults::default())
    })
    .await;
    let c = client();
    let ids = |v: &Value| -> Vec<u64> {
        v["gpus"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["gpu_id"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(ids(&get(&c, &h, "/gpu-info").await.body), vec![0, 1, 2]);
    h.set_gpus(1);
    let gi = get(&c, &h, "/gpu-info").await.body;
    assert_eq!(ids(&gi), vec![0]);
    assert_eq!(gi["device_count"], 1);
    assert_eq!(get(&c, &h, "/queue-stats").await.body["max_concurrent"], 1);
    h.set_gpus(0);
    let gi = get(&c, &h, "/gpu-info").await.body;
    assert_eq!(gi["cuda_available"], false);
    assert_eq!(gi["gpus"], json!([]));
    let r = post(&c, &h, "/generate", &generate_body("x")).await;
    assert_eq!(r.status, 500);
    assert_eq!(get(&c, &h, "/health").await.body["status"], "model_loading");
    h.set_gpus(2);
    assert_eq!(ids(&get(&c, &h, "/gpu-info").await.body), vec![0, 1]);
    assert_eq!(
        post(&c, &h, "/generate", &generate_body("x")).await.status,
        200
    );
    h.shutdown().await;
}

#[tokio::test]
async fn health_can_report_loading_or_error() {
    let h = sim(SimConfig {
        api_version: ApiVersion::V2,
        ..instant(Faults {
            health: HealthMode::Error,
            ..Faults::default()
        })
    })
    .await;
    let c = client();
    let r = get(&c, &h, "/health").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["status"], "error");
    assert!(r.body["error"].as_str().unwrap().contains("CUDA"));
    assert_eq!(get(&c, &h, "/ready").await.status, 503);
    assert_eq!(get(&c, &h, "/live").await.status, 200);
    h.set_faults(Faults {
        health: HealthMode::Loading,
        ..Faults::default()
    });
    let r = get(&c, &h, "/health").await;
    assert_eq!(
        (r.status, &r.body["status"]),
        (200, &json!("model_loading"))
    );
    assert_eq!(get(&c, &h, "/ready").await.status, 503);
    assert_eq!(
        get(&c, &h, "/model-status").await.body["model_loaded"],
        false
    );
    // The probe sees a not-ready answer from /ready.
    let fc = flux_client(&h, Duration::from_secs(10), 1 << 20);
    let ready = fc.get("/ready").await.unwrap();
    assert_eq!(
        probe::classify_error_status(ready.status, Some("Model not ready")),
        Outcome::NotReady
    );
    h.set_faults(Faults::default());
    assert_eq!(get(&c, &h, "/health").await.body["status"], "healthy");
    h.shutdown().await;
}

#[tokio::test]
async fn status_failures_are_500() {
    let h = sim(SimConfig {
        api_version: ApiVersion::V2,
        ..instant(Faults {
            status_fail_rate: 1.0,
            ..Faults::default()
        })
    })
    .await;
    let c = client();
    for path in [
        "/health",
        "/ready",
        "/model-status",
        "/gpu-info",
        "/queue-stats",
    ] {
        let r = get(&c, &h, path).await;
        assert_eq!(r.status, 500, "{path}");
        assert!(r.body["detail"].is_string());
    }
    assert_eq!(get(&c, &h, "/live").await.status, 200);
    assert_eq!(
        post(&c, &h, "/generate", &generate_body("x")).await.status,
        200
    );
    assert_eq!(h.stats().status_failures, 5);
    h.shutdown().await;
}

#[tokio::test]
async fn down_closes_connections_but_not_the_control_endpoint() {
    let h = sim(instant(Faults {
        down: true,
        ..Faults::default()
    }))
    .await;
    let c = client();
    let e = c.get(url(&h, "/health")).send().await.unwrap_err();
    assert!(!e.is_timeout() && e.status().is_none(), "{e}");
    let fc = flux_client(&h, Duration::from_secs(10), 1 << 20);
    let err = fc
        .fetch_status(
            StatusEndpoint::Health,
            Instant::now() + Duration::from_secs(10),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err.outcome, Outcome::Transport | Outcome::Connect),
        "{:?}",
        err.outcome
    );
    let f = get(&c, &h, "/_sim/faults").await;
    assert_eq!(f.body["down"], true);
    let r = send(
        &c,
        &h,
        reqwest::Method::PATCH,
        "/_sim/faults",
        r#"{"down": false}"#,
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(get(&c, &h, "/health").await.status, 200);
    // Switched on again, even a connection that is already open gets no answer.
    h.set_faults(Faults {
        down: true,
        ..Faults::default()
    });
    assert!(c.get(url(&h, "/health")).send().await.is_err());
    assert!(h.stats().refused_connections >= 2);
    h.shutdown().await;
}

#[tokio::test]
async fn a_vram_leak_grows_allocated_memory() {
    let h = sim(instant(Faults {
        vram_leak_mib_per_generation: 1024.0,
        ..Faults::default()
    }))
    .await;
    let c = client();
    let before = h.gpu_memory()[0].clone();
    assert_eq!(before.allocated_gb, "8.9");
    for _ in 0..3 {
        assert_eq!(
            post(&c, &h, "/generate", &generate_body("x")).await.status,
            200
        );
    }
    let after = h.gpu_memory()[0].clone();
    assert_eq!(after.allocated_gb, "11.9");
    assert_eq!(after.free_gb, "19.5");
    let gi = get(&c, &h, "/gpu-info").await.body;
    let gpu = &gi["gpus"][0];
    assert_eq!(gpu["allocated_memory_gb"], "11.9");
    assert_eq!(
        units::gib_bytes(Some(&gpu["allocated_memory_gb"])).ok(),
        Some(after.allocated_bytes)
    );
    assert_eq!(
        units::gib_bytes(Some(&gpu["free_memory_gb"])).ok(),
        Some(after.free_bytes)
    );
    // Leaking on, the GPU fills up and generations fail as out of memory.
    for _ in 0..30 {
        post(&c, &h, "/generate", &generate_body("x")).await;
    }
    let r = post(&c, &h, "/generate", &generate_body("x")).await;
    assert_eq!(r.status, 500);
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("CUDA out of memory")
    );
    // What is left (rounded to a tenth) is no more than a generation needs (1.5 GiB at 512²).
    assert!(h.gpu_memory()[0].free_bytes <= 1.5 * 1024.0 * 1024.0 * 1024.0);
    h.shutdown().await;
}

#[tokio::test]
async fn nasty_input_never_takes_the_server_down() {
    let h = sim(SimConfig {
        api_version: ApiVersion::V2,
        ..instant(Faults::default())
    })
    .await;
    let c = client();
    let bodies = [
        "\u{0}\u{1}",
        "{\"prompt\": \"\u{1F98A}\", \"width\": 1e999}",
        "{\"prompt\": null}",
        "[[[[[[[[[[[[]]]]]]]]]]]]",
        "{\"prompt\": \"x\", \"seed\": 123456789012345678901234567890}",
        "{\"prompt\": \"x\", \"width\": \"-0\", \"height\": true}",
        "\"just a string\"",
        "{\"prompt\": \"x\", \"guidance_scale\": \"NaN\"}",
    ];
    for body in bodies {
        for path in ["/generate", "/submit-request", "/_sim/faults", "/_sim/gpus"] {
            let r = send(&c, &h, reqwest::Method::POST, path, body).await;
            assert!(r.status >= 200, "{path} {body:?}");
            let r = send(&c, &h, reqwest::Method::PUT, path, body).await;
            assert!(r.status >= 200, "{path} {body:?}");
        }
    }
    for path in [
        "/request-status/",
        "/request-status/a/b",
        "/request-status/%00",
        "/cancel-request/..",
        "/%ff",
        "/_sim",
        "/_sim/nothing",
    ] {
        let r = get(&c, &h, path).await;
        assert!(r.status >= 400, "{path}");
    }
    let big = "x".repeat(2 * 1024 * 1024);
    let r = send(&c, &h, reqwest::Method::POST, "/generate", &big).await;
    assert_eq!(r.status, 413);
    assert_eq!(get(&c, &h, "/health").await.body["status"], "healthy");
    assert_eq!(h.faults(), Faults::default());
    h.shutdown().await;

    // The older API takes any size: absurd ones run out of memory, non-positive ones fail.
    let v1 = sim(SimConfig {
        time_scale: 1.0,
        ..instant(Faults::default())
    })
    .await;
    let mut body = generate_body("x");
    body["width"] = json!(1e300);
    body["height"] = json!(123456789);
    let r = post(&c, &v1, "/generate", &body).await;
    assert_eq!(r.status, 500);
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("CUDA out of memory")
    );
    body["width"] = json!(0);
    let r = post(&c, &v1, "/generate", &body).await;
    assert_eq!(r.status, 500);
    assert_eq!(get(&c, &v1, "/health").await.status, 200);
    v1.shutdown().await;
}
