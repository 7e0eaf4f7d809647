//! Helpers shared by the simulator's end-to-end tests: starting a simulator on a free port,
//! sending requests, waiting for a condition with a bound, and finding the shared fixtures.
#![allow(dead_code)]

use fluxprobe::sim::{SimConfig, SimHandle, start};
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;
use tokio::time::Instant;

/// Starts a simulator on 127.0.0.1 and a free port.
pub async fn sim(config: SimConfig) -> SimHandle {
    start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("simulator starts")
}

/// A client with no total timeout (tests put their own bounds around calls).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder().build().unwrap()
}

pub fn url(h: &SimHandle, path: &str) -> String {
    format!("{}{}", h.base_url(), path.trim_start_matches('/'))
}

/// One finished exchange.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub raw: bytes::Bytes,
    pub sent: Instant,
    pub done: Instant,
}

impl Answer {
    pub fn seconds(&self) -> f64 {
        (self.done - self.sent).as_secs_f64()
    }
}

async fn finish(sent: Instant, resp: reqwest::Response) -> Answer {
    let status = resp.status().as_u16();
    let raw = resp.bytes().await.expect("body");
    let done = Instant::now();
    let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    Answer {
        status,
        body,
        raw,
        sent,
        done,
    }
}

pub async fn get(c: &reqwest::Client, h: &SimHandle, path: &str) -> Answer {
    let sent = Instant::now();
    let resp = c.get(url(h, path)).send().await.expect("GET answered");
    finish(sent, resp).await
}

pub async fn post(c: &reqwest::Client, h: &SimHandle, path: &str, body: &Value) -> Answer {
    let sent = Instant::now();
    let resp = c
        .post(url(h, path))
        .json(body)
        .send()
        .await
        .expect("POST answered");
    finish(sent, resp).await
}

pub async fn send(
    c: &reqwest::Client,
    h: &SimHandle,
    method: reqwest::Method,
    path: &str,
    body: &str,
) -> Answer {
    let sent = Instant::now();
    let resp = c
        .request(method, url(h, path))
        .body(body.to_string())
        .send()
        .await
        .expect("answered");
    finish(sent, resp).await
}

/// Polls `cond` until it holds; panics if it does not within `bound`.
pub async fn wait_for<F, Fut>(bound: Duration, what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let polled = tokio::time::timeout(bound, async {
        loop {
            if cond().await {
                return;
            }
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await;
    assert!(polled.is_ok(), "gave up waiting for: {what}");
}

/// The shared fixtures directory, or None (with a printed reason) when it is absent.
pub fn fixtures() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/flux-api");
    if dir.join("responses").is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "skipping: the shared fixtures are not at {} (../shared is absent)",
            dir.display()
        );
        None
    }
}

/// A fixture's `status` and `body`.
pub fn fixture(dir: &std::path::Path, name: &str) -> (u16, Value) {
    let text = std::fs::read_to_string(dir.join("responses").join(name))
        .unwrap_or_else(|e| panic!("fixture {name}: {e}"));
    let v: Value = serde_json::from_str(&text).unwrap();
    (v["status"].as_u64().unwrap() as u16, v["body"].clone())
}

/// A request body like the seed tool's.
pub fn generate_body(prompt: &str) -> Value {
    serde_json::json!({
        "prompt": prompt,
        "num_inference_steps": 10,
        "guidance_scale": 4.0,
        "width": 512,
        "height": 512,
        "seed": null
    })
}

/// The unscaled service time of a 512×512 generation at the given steps, jitter excluded.
pub fn nominal_service(steps: f64) -> f64 {
    1.72 * steps / 10.0 + 0.08
}

/// Polls /request-status/{id} until its status is `want`; returns that body. Panics if it does
/// not get there within `bound`.
pub async fn poll_request(
    c: &reqwest::Client,
    h: &SimHandle,
    id: &str,
    want: &str,
    bound: Duration,
) -> Value {
    let path = format!("/request-status/{id}");
    let polled = tokio::time::timeout(bound, async {
        loop {
            let r = get(c, h, &path).await;
            if r.body["status"] == want {
                return r.body;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await;
    polled.unwrap_or_else(|_| panic!("request {id} never became {want}"))
}
