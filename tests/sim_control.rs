//! The simulator's control endpoints (/_sim/…) and the `fluxprobe simulate` command.

mod sim_support;

use fluxprobe::sim::{Faults, HealthMode, SimConfig, SimStats};
use reqwest::Method;
use serde_json::{Value, json};
use sim_support::*;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

fn instant() -> SimConfig {
    SimConfig {
        time_scale: 0.0,
        ..SimConfig::default()
    }
}

#[tokio::test]
async fn faults_are_read_replaced_and_patched_over_http() {
    let h = sim(instant()).await;
    let c = client();
    let r = get(&c, &h, "/_sim/faults").await;
    assert_eq!(r.status, 200);
    let f: Faults = serde_json::from_value(r.body).unwrap();
    assert_eq!(f, Faults::default());

    let r = send(
        &c,
        &h,
        Method::PUT,
        "/_sim/faults",
        r#"{"error_rate": 1.0}"#,
    )
    .await;
    assert_eq!((r.status, r.body["error_rate"].clone()), (200, json!(1.0)));
    assert_eq!(h.faults().error_rate, 1.0);
    assert_eq!(
        post(&c, &h, "/generate", &generate_body("x")).await.status,
        500
    );

    let r = send(
        &c,
        &h,
        Method::PATCH,
        "/_sim/faults",
        r#"{"health": "error"}"#,
    )
    .await;
    assert_eq!(r.status, 200);
    let f = h.faults();
    assert_eq!((f.error_rate, f.health), (1.0, HealthMode::Error));

    // PUT replaces: what is not named is off.
    let r = send(
        &c,
        &h,
        Method::PUT,
        "/_sim/faults",
        r#"{"queue_full": true}"#,
    )
    .await;
    assert_eq!(r.status, 200);
    let f = h.faults();
    assert!(f.queue_full);
    assert_eq!((f.error_rate, f.health), (0.0, HealthMode::Normal));

    // Bad bodies change nothing.
    for bad in [
        r#"{"error_rate": 7}"#,
        r#"{"eror_rate": 0.1}"#,
        r#"{"health": "sleepy"}"#,
        "[]",
        "nope",
    ] {
        for method in [Method::PUT, Method::PATCH] {
            let r = send(&c, &h, method, "/_sim/faults", bad).await;
            assert_eq!(r.status, 422, "{bad}");
            assert!(r.body["detail"].is_string());
        }
    }
    assert!(h.faults().queue_full);
    assert_eq!(
        send(&c, &h, Method::DELETE, "/_sim/faults", "")
            .await
            .status,
        405
    );
    assert_eq!(get(&c, &h, "/_sim/nothing").await.status, 404);
    h.shutdown().await;
}

#[tokio::test]
async fn gpus_stats_and_config_over_http() {
    let h = sim(SimConfig {
        gpus: 2,
        ..instant()
    })
    .await;
    let c = client();
    let r = get(&c, &h, "/_sim/gpus").await;
    assert_eq!(r.body["gpus"], 2);
    assert_eq!(r.body["devices"][1]["allocated_gb"], "8.9");
    let r = send(&c, &h, Method::PUT, "/_sim/gpus", r#"{"gpus": 1}"#).await;
    assert_eq!((r.status, r.body["gpus"].clone()), (200, json!(1)));
    assert_eq!(get(&c, &h, "/gpu-info").await.body["device_count"], 1);
    let r = send(&c, &h, Method::PUT, "/_sim/gpus", "4").await;
    assert_eq!(r.body["gpus"], 4);
    for bad in ["65", "-1", r#"{"gpus": "x"}"#, "{"] {
        assert_eq!(
            send(&c, &h, Method::PUT, "/_sim/gpus", bad).await.status,
            422
        );
    }
    assert_eq!(h.gpu_memory().len(), 4);

    post(&c, &h, "/generate", &generate_body("x")).await;
    get(&c, &h, "/health").await;
    let r = get(&c, &h, "/_sim/stats").await;
    let stats: SimStats = serde_json::from_value(r.body).unwrap();
    assert_eq!(stats.generate_requests, 1);
    assert_eq!(stats.generations_completed, 1);
    assert_eq!(stats.status_requests, 2);
    // Control requests are not counted as requests to the API.
    assert_eq!(stats.requests, 3);

    let cfg: Value = get(&c, &h, "/_sim/config").await.body;
    assert_eq!(cfg["api_version"], "v1");
    assert_eq!(cfg["time_scale"], 0.0);
    assert_eq!(cfg["gpus"], 4);
    assert_eq!(cfg["service"], "FLUX API");
    assert_eq!(cfg["timing"]["generation_seconds"], 1.72);
    h.shutdown().await;
}

#[tokio::test]
async fn every_answer_names_the_time_scale() {
    let h = sim(SimConfig {
        time_scale: 0.05,
        ..SimConfig::default()
    })
    .await;
    let r = client().get(url(&h, "/health")).send().await.unwrap();
    assert_eq!(r.headers()["x-sim-time-scale"], "0.05");
    assert_eq!(r.headers()["server"], "uvicorn");
    assert_eq!(r.headers()["content-type"], "application/json");
    assert_eq!(h.time_scale(), 0.05);
    h.shutdown().await;
}

#[tokio::test]
async fn invalid_configurations_do_not_start() {
    let bad = SimConfig {
        time_scale: -1.0,
        ..SimConfig::default()
    };
    let e = fluxprobe::sim::start(bad, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
}

#[tokio::test]
async fn dropping_the_handle_stops_the_server() {
    let h = sim(instant()).await;
    let addr = h.addr();
    drop(h);
    let c = client();
    wait_for(Duration::from_secs(10), "the port is closed", || {
        let c = c.clone();
        async move { c.get(format!("http://{addr}/health")).send().await.is_err() }
    })
    .await;
}

/// Reads the child's log until the "listening on" line and returns the URL in it.
fn listening_url(stderr: std::process::ChildStderr) -> String {
    let mut lines = BufReader::new(stderr).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(at) = line.find("listening on ") {
            let url = line[at + "listening on ".len()..].trim().to_string();
            assert!(
                line.contains("simulated FLUX API (v2, 2 GPUs, time scale 0.01)"),
                "{line}"
            );
            // Keep draining the log so the child never blocks on a full pipe.
            std::thread::spawn(move || for _ in lines {});
            return url;
        }
    }
    panic!("the simulator never said where it listens");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_serves_until_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fluxprobe"))
        .args([
            "simulate",
            "--listen",
            "127.0.0.1:0",
            "--gpus",
            "2",
            "--time-scale",
            "0.01",
            "--api-version",
            "v2",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let base = tokio::task::spawn_blocking(move || listening_url(stderr))
        .await
        .unwrap();
    let c = client();
    let health: Value = c
        .get(format!("{base}health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["service"], "Diffusion API");
    let gi: Value = c
        .get(format!("{base}gpu-info"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(gi["device_count"], 2);

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = tokio::task::spawn_blocking(move || {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(s) = child.try_wait().unwrap() {
                return Some(s);
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    })
    .await
    .unwrap()
    .expect("the simulator exits on SIGTERM");
    assert_eq!(status.code(), Some(0));
}

#[test]
fn a_bad_listen_address_is_a_usage_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_fluxprobe"))
        .args(["simulate", "--listen", "not an address"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(env!("CARGO_BIN_EXE_fluxprobe"))
        .args(["simulate", "--listen", "127.0.0.1:0", "--time-scale=-2"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
