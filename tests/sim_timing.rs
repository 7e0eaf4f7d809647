//! The simulator's timing model: one generation at a time per GPU, first come first served,
//! calibrated on the recorded runs; status endpoints that wait for the running generation; the
//! slow start; and an instant mode that stays correct under load.

mod sim_support;

use fluxprobe::api::units;
use fluxprobe::cli::ApiVersion;
use fluxprobe::sim::SimConfig;
use serde_json::{Value, json};
use sim_support::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// The tests here measure time: they run one at a time so that they do not load the machine
/// for each other.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn scaled(time_scale: f64, gpus: u32) -> SimConfig {
    SimConfig {
        time_scale,
        gpus,
        ..SimConfig::default()
    }
}

/// Sends `n` generate requests at once; returns each one's seconds from the common start, sorted.
async fn burst(h: &fluxprobe::sim::SimHandle, n: usize) -> (Vec<f64>, Vec<Answer>) {
    let c = client();
    let t0 = Instant::now();
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let c = c.clone();
            let url = url(h, "/generate");
            tokio::spawn(async move {
                let sent = Instant::now();
                let resp = c
                    .post(url)
                    .json(&generate_body(&format!("request {i}")))
                    .send()
                    .await
                    .unwrap();
                let status = resp.status().as_u16();
                let raw = resp.bytes().await.unwrap();
                Answer {
                    status,
                    body: serde_json::from_slice(&raw).unwrap(),
                    raw,
                    sent,
                    done: Instant::now(),
                }
            })
        })
        .collect();
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    let mut ends: Vec<f64> = answers
        .iter()
        .map(|a| (a.done - t0).as_secs_f64())
        .collect();
    ends.sort_by(f64::total_cmp);
    (ends, answers)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_gpu_serves_concurrent_requests_one_after_another() {
    let _serial = SERIAL.lock().await;
    let ts = 0.05;
    let h = sim(scaled(ts, 1)).await;
    let (ends, answers) = burst(&h, 3).await;
    assert!(answers.iter().all(|a| a.status == 200));
    let s = nominal_service(10.0) * ts;
    for (k, end) in ends.iter().enumerate() {
        let ratio = end / (s * (k + 1) as f64);
        assert!(
            (0.99..1.5).contains(&ratio),
            "request {k} ended at {end:.4}s, {ratio:.2}× of {} services",
            k + 1
        );
    }
    // Evenly spaced: one service time apart.
    for w in ends.windows(2) {
        let gap = (w[1] - w[0]) / s;
        assert!((0.7..1.4).contains(&gap), "gap of {gap:.2} services");
    }
    // The reported generation time is the scaled generation (1.72 s × ts, jitter ≤ 1 %).
    for a in &answers {
        let g = units::seconds(Some(&a.body["generation_time"]))
            .ok()
            .unwrap();
        let ratio = g / (1.72 * ts);
        assert!((0.999..1.012).contains(&ratio), "generation {g} ({ratio})");
        assert!(a.seconds() >= g);
    }
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gpus_serve_two_at_a_time() {
    let _serial = SERIAL.lock().await;
    let ts = 0.05;
    let h = sim(scaled(ts, 2)).await;
    let (ends, answers) = burst(&h, 4).await;
    assert!(answers.iter().all(|a| a.status == 200));
    let s = nominal_service(10.0) * ts;
    for (k, end) in ends.iter().enumerate() {
        let services = (k / 2 + 1) as f64;
        let ratio = end / (s * services);
        assert!(
            (0.99..1.5).contains(&ratio),
            "request {k} ended at {end:.4}s, {ratio:.2}× of {services} services"
        );
    }
    // The pairs finish together, a service apart.
    assert!((ends[1] - ends[0]) < 0.5 * s);
    assert!((ends[2] - ends[1]) > 0.5 * s);
    h.shutdown().await;
}

/// The recorded runs: 10 requests, 3 concurrent, against one RTX 5090.
fn recorded_figures() -> (f64, f64) {
    const THROUGHPUT: f64 = 0.556;
    const MEDIAN: f64 = 5.37;
    if let Some(dir) = fixtures() {
        // Check the figures quoted above against the recorded files themselves.
        let runs = std::fs::read_dir(dir.join("recorded-runs")).unwrap();
        for run in runs {
            let v: Value =
                serde_json::from_str(&std::fs::read_to_string(run.unwrap().path()).unwrap())
                    .unwrap();
            let results = v["test_results"].as_array().unwrap();
            let ok: Vec<&Value> = results.iter().filter(|r| r["success"] == true).collect();
            let first = ok
                .iter()
                .map(|r| r["start_time"].as_f64().unwrap())
                .fold(f64::INFINITY, f64::min);
            let last = ok
                .iter()
                .map(|r| r["end_time"].as_f64().unwrap())
                .fold(0.0, f64::max);
            let thr = ok.len() as f64 / (last - first);
            let mut rt: Vec<f64> = ok
                .iter()
                .map(|r| r["response_time"].as_f64().unwrap())
                .collect();
            rt.sort_by(f64::total_cmp);
            let median = (rt[rt.len() / 2 - 1] + rt[rt.len() / 2]) / 2.0;
            assert!((thr / THROUGHPUT - 1.0).abs() < 0.01, "recorded {thr}");
            assert!((median / MEDIAN - 1.0).abs() < 0.01, "recorded {median}");
        }
    }
    (THROUGHPUT, MEDIAN)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calibrated_on_the_recorded_runs() {
    let _serial = SERIAL.lock().await;
    let (want_throughput, want_median) = recorded_figures();
    let ts = 0.05;
    let h = sim(scaled(ts, 1)).await;
    let c = client();
    let next = Arc::new(AtomicUsize::new(0));
    let total = 10;
    let workers: Vec<_> = (0..3)
        .map(|_| {
            let (c, next, url) = (c.clone(), next.clone(), url(&h, "/generate"));
            tokio::spawn(async move {
                let mut out = Vec::new();
                while next.fetch_add(1, Ordering::SeqCst) < total {
                    let start = Instant::now();
                    let resp = c
                        .post(&url)
                        .json(&generate_body("calibration"))
                        .send()
                        .await
                        .unwrap();
                    let ok = resp.status().is_success();
                    let _ = resp.bytes().await.unwrap();
                    out.push((start, Instant::now(), ok));
                }
                out
            })
        })
        .collect();
    let mut records = Vec::new();
    for w in workers {
        records.extend(w.await.unwrap());
    }
    assert_eq!(records.len(), total);
    assert!(records.iter().all(|r| r.2));
    let first = records.iter().map(|r| r.0).min().unwrap();
    let last = records.iter().map(|r| r.1).max().unwrap();
    // Scale back to real seconds.
    let throughput = records.len() as f64 / (last - first).as_secs_f64() * ts;
    let mut rt: Vec<f64> = records
        .iter()
        .map(|r| (r.1 - r.0).as_secs_f64() / ts)
        .collect();
    rt.sort_by(f64::total_cmp);
    let median = (rt[4] + rt[5]) / 2.0;
    eprintln!("simulated: {throughput:.3} req/s, median response {median:.2} s");
    assert!(
        (throughput / want_throughput - 1.0).abs() < 0.05,
        "throughput {throughput:.3} req/s, recorded {want_throughput}"
    );
    assert!(
        (median / want_median - 1.0).abs() < 0.05,
        "median {median:.2} s, recorded {want_median}"
    );
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_endpoints_wait_for_the_running_generation() {
    let _serial = SERIAL.lock().await;
    let ts = 0.05;
    let h = sim(scaled(ts, 1)).await;
    let c = client();
    let gen_task = {
        let (c, url) = (c.clone(), url(&h, "/generate"));
        tokio::spawn(async move {
            let sent = Instant::now();
            let r = c.post(url).json(&generate_body("x")).send().await.unwrap();
            let _ = r.bytes().await.unwrap();
            (sent, Instant::now())
        })
    };
    wait_for(Duration::from_secs(10), "the generation runs", || async {
        h.stats().generations_running == 1
    })
    .await;
    let health = get(&c, &h, "/health").await;
    let (gen_sent, gen_done) = gen_task.await.unwrap();
    assert_eq!(health.status, 200);
    // The generation ends no earlier than one service after it was sent; /health with it.
    let service = nominal_service(10.0) * ts;
    assert!(
        (health.done - gen_sent).as_secs_f64() >= service,
        "/health answered {:.4}s after the generation was sent",
        (health.done - gen_sent).as_secs_f64()
    );
    assert!(gen_done <= health.done + Duration::from_secs_f64(service / 2.0));
    assert_eq!(h.stats().status_blocked, 1);
    // Between generations it answers at once.
    assert_eq!(get(&c, &h, "/gpu-info").await.status, 200);
    assert_eq!(h.stats().status_blocked, 1);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_endpoints_can_answer_during_a_generation() {
    let _serial = SERIAL.lock().await;
    let ts = 0.2;
    let h = sim(SimConfig {
        blocking_status: false,
        ..scaled(ts, 1)
    })
    .await;
    let c = client();
    let gen_task = {
        let (c, url) = (c.clone(), url(&h, "/generate"));
        tokio::spawn(async move {
            let r = c.post(url).json(&generate_body("x")).send().await.unwrap();
            let _ = r.bytes().await.unwrap();
            Instant::now()
        })
    };
    wait_for(Duration::from_secs(10), "the generation runs", || async {
        h.stats().generations_running == 1
    })
    .await;
    let health = get(&c, &h, "/gpu-info").await;
    let gen_done = gen_task.await.unwrap();
    assert!(
        health.done < gen_done,
        "answered before the generation ended"
    );
    // The running generation's transient memory shows: 8.87 GiB of model + 1.5 GiB.
    assert_eq!(health.body["gpus"][0]["allocated_memory_gb"], "10.4");
    assert_eq!(h.stats().status_blocked, 0);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_model_loads_slowly_at_start() {
    let _serial = SERIAL.lock().await;
    let ts = 0.05;
    let slow_start = Duration::from_secs(2);
    let t0 = Instant::now();
    let h = sim(SimConfig {
        api_version: ApiVersion::V2,
        slow_start,
        ..scaled(ts, 1)
    })
    .await;
    let c = client();
    let health = get(&c, &h, "/health").await;
    assert_eq!(health.body["status"], "model_loading");
    assert_eq!(health.body["model_ready"], false);
    let ready = get(&c, &h, "/ready").await;
    assert_eq!(
        (ready.status, ready.body),
        (503, json!({"detail": "Model not ready"}))
    );
    let ms = get(&c, &h, "/model-status").await;
    assert_eq!(ms.body["model_loaded"], false);
    assert_eq!(ms.body["vram_usage_gb"], "0.00GB");
    // A generation sent now waits for the load, then runs (the newer API runs 20 steps).
    let g = post(&c, &h, "/generate", &generate_body("first")).await;
    assert_eq!(g.status, 200);
    let least = slow_start.as_secs_f64() * ts + nominal_service(20.0) * ts;
    assert!((g.done - t0).as_secs_f64() >= least);
    wait_for(Duration::from_secs(10), "the model is loaded", || async {
        get(&c, &h, "/health").await.body["status"] == "healthy"
    })
    .await;
    assert_eq!(get(&c, &h, "/ready").await.status, 200);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_generate_runs_twenty_steps_whatever_is_asked() {
    let _serial = SERIAL.lock().await;
    let ts = 0.02;
    let h = sim(SimConfig {
        api_version: ApiVersion::V2,
        ..scaled(ts, 1)
    })
    .await;
    let c = client();
    let mut body = generate_body("x");
    body["num_inference_steps"] = json!(4);
    let a = post(&c, &h, "/generate", &body).await;
    let g = units::seconds(Some(&a.body["generation_time"]))
        .ok()
        .unwrap();
    let ratio = g / (1.72 * 2.0 * ts);
    assert!((0.999..1.012).contains(&ratio), "{g}");
    // A bigger image takes longer in proportion to its pixels.
    let mut big = generate_body("x");
    big["width"] = json!(1024);
    let b = post(&c, &h, "/generate", &big).await;
    let gb = units::seconds(Some(&b.body["generation_time"]))
        .ok()
        .unwrap();
    assert!((gb / g - 2.0).abs() < 0.05, "{gb} vs {g}");
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_scale_zero_serves_a_thousand_requests_correctly() {
    let _serial = SERIAL.lock().await;
    let h = sim(scaled(0.0, 1)).await;
    let c = client();
    let next = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..50)
        .map(|_| {
            let (c, next, url) = (c.clone(), next.clone(), url(&h, "/generate"));
            tokio::spawn(async move {
                let mut ok = 0;
                while next.fetch_add(1, Ordering::SeqCst) < 1000 {
                    let r = c
                        .post(&url)
                        .json(&generate_body("instant"))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status(), 200);
                    let v: Value = r.json().await.unwrap();
                    assert_eq!(v["generation_time"], "0.00s");
                    ok += 1;
                }
                ok
            })
        })
        .collect();
    let mut ok = 0;
    for w in workers {
        ok += w.await.unwrap();
    }
    assert_eq!(ok, 1000);
    let s = h.stats();
    assert_eq!(s.generate_requests, 1000);
    assert_eq!(s.generate_ok, 1000);
    assert_eq!(s.generations_completed, 1000);
    assert_eq!(s.generations_running + s.generations_waiting, 0);
    h.shutdown().await;
}

#[tokio::test]
async fn jitter_is_small_and_repeats_with_the_seed() {
    let _serial = SERIAL.lock().await;
    let mut runs = Vec::new();
    for _ in 0..2 {
        let h = sim(scaled(1.0e-3, 1)).await;
        let c = client();
        let mut times = Vec::new();
        for _ in 0..20 {
            let a = post(&c, &h, "/generate", &generate_body("x")).await;
            times.push(a.body["generation_time"].as_str().unwrap().to_string());
        }
        h.shutdown().await;
        runs.push(times);
    }
    assert_eq!(runs[0], runs[1], "same seed, same figures");
    let secs: Vec<f64> = runs[0]
        .iter()
        .map(|t| t.trim_end_matches('s').parse::<f64>().unwrap() / 1.0e-3)
        .collect();
    // 1.72 s + at most 1 %, written with three significant digits.
    assert!(secs.iter().all(|s| (1.715..1.745).contains(s)), "{secs:?}");
    assert!(
        secs.iter().any(|s| *s > 1.7205),
        "some jitter shows: {secs:?}"
    );
}
