//! Every endpoint of the simulator answers in the shape of the real service: the same keys,
//! the same value types and string formats, for both API generations. Compared against the
//! shared fixtures when they are present, and always against expectations written here.

mod sim_support;

use fluxprobe::cli::ApiVersion;
use fluxprobe::sim::{Faults, HealthMode, SimConfig};
use serde_json::{Value, json};
use sim_support::*;
use std::time::Duration;

/// The format class of a string value, so that "1.72s" and "0.00s" count as the same shape.
fn string_class(s: &str) -> &'static str {
    let digits = |t: &str| !t.is_empty() && t.chars().all(|c| c.is_ascii_digit());
    let decimal = |t: &str| {
        t.split_once('.')
            .is_some_and(|(a, b)| digits(a) && digits(b))
    };
    if let Some(n) = s.strip_suffix('s')
        && decimal(n)
    {
        return "seconds";
    }
    if let Some(n) = s.strip_suffix("GB")
        && decimal(n)
        && n.split_once('.').unwrap().1.len() == 2
    {
        return "gb2";
    }
    if decimal(s) && s.split_once('.').unwrap().1.len() == 1 {
        return "gib1";
    }
    if s.ends_with(".png") {
        return "png";
    }
    "text"
}

/// Asserts that `got` has the shape of `want`: same keys, same kinds, same string classes.
fn assert_shape(want: &Value, got: &Value, at: &str) {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            let mut wk: Vec<_> = w.keys().collect();
            let mut gk: Vec<_> = g.keys().collect();
            wk.sort();
            gk.sort();
            assert_eq!(wk, gk, "keys differ at {at}");
            for (k, wv) in w {
                assert_shape(wv, &g[k], &format!("{at}.{k}"));
            }
        }
        (Value::Array(w), Value::Array(g)) => {
            if let Some(first) = w.first() {
                assert!(!g.is_empty(), "empty list at {at}");
                for (i, gv) in g.iter().enumerate() {
                    assert_shape(first, gv, &format!("{at}[{i}]"));
                }
            }
        }
        (Value::String(w), Value::String(g)) => {
            assert_eq!(
                string_class(w),
                string_class(g),
                "string format differs at {at}: {w:?} vs {g:?}"
            );
        }
        (Value::Number(w), Value::Number(g)) => {
            assert_eq!(w.is_f64(), g.is_f64(), "number kind differs at {at}");
        }
        (Value::Bool(_), Value::Bool(_)) | (Value::Null, Value::Null) => {}
        _ => panic!("kind differs at {at}: {want} vs {got}"),
    }
}

fn cfg(version: ApiVersion) -> SimConfig {
    SimConfig {
        api_version: version,
        time_scale: 0.0,
        ..SimConfig::default()
    }
}

/// Standalone expectations: the keys of each body, written from API.md.
fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    k.sort();
    k
}

fn sorted<'a>(k: &[&'a str]) -> Vec<&'a str> {
    let mut k = k.to_vec();
    k.sort();
    k
}

#[tokio::test]
async fn v1_bodies_stand_alone() {
    let h = sim(cfg(ApiVersion::V1)).await;
    let c = client();

    let health = get(&c, &h, "/health").await;
    assert_eq!(health.status, 200);
    assert_eq!(
        health.body,
        json!({"status": "healthy", "service": "FLUX API"})
    );

    let g = post(&c, &h, "/generate", &generate_body("a red fox")).await;
    assert_eq!(g.status, 200);
    assert_eq!(
        keys(&g.body),
        sorted(&[
            "message",
            "image_url",
            "download_url",
            "filename",
            "generation_time",
            "lora_applied",
            "lora_weight",
            "width",
            "height",
            "seed"
        ])
    );
    assert_eq!(g.body["generation_time"], "0.00s");
    assert_eq!(
        g.body["message"],
        "Generated FLUX image for prompt: a red fox"
    );
    let file = g.body["filename"].as_str().unwrap();
    assert_eq!(g.body["image_url"], format!("generated_images/{file}"));
    assert_eq!(g.body["download_url"], format!("/download/{file}"));
    assert_eq!(g.body["width"], 512);
    assert!(g.body["seed"].is_null());

    let ms = get(&c, &h, "/model-status").await;
    assert_eq!(
        keys(&ms.body),
        sorted(&[
            "model_loaded",
            "model_type",
            "selected_gpu",
            "vram_usage_gb",
            "system_memory_used_gb",
            "system_memory_total_gb",
            "lora_loaded",
            "lora_weight",
            "pipeline_loaded",
            "has_transformer",
            "model_actually_ready"
        ])
    );
    assert_eq!(ms.body["model_loaded"], true);
    let vram = ms.body["vram_usage_gb"].as_str().unwrap();
    assert!(vram.ends_with("GB") && vram.split_once('.').unwrap().1.len() == 4);

    let gi = get(&c, &h, "/gpu-info").await;
    assert_eq!(gi.body["cuda_available"], true);
    assert_eq!(gi.body["device_count"], 1);
    let gpu = &gi.body["gpus"][0];
    assert_eq!(
        keys(gpu),
        sorted(&[
            "gpu_id",
            "name",
            "total_memory_gb",
            "allocated_memory_gb",
            "free_memory_gb",
            "compute_capability"
        ])
    );
    for k in ["total_memory_gb", "allocated_memory_gb", "free_memory_gb"] {
        let s = gpu[k].as_str().unwrap();
        assert_eq!(s.split_once('.').unwrap().1.len(), 1, "{k} = {s}");
    }
    assert_eq!(gpu["total_memory_gb"], "31.4");

    let qs = get(&c, &h, "/queue-stats").await;
    assert_eq!(
        qs.body,
        json!({"queue_size": 0, "active_requests": 0, "completed_requests": 0,
               "max_concurrent": 1, "max_queue_size": 100})
    );

    // The older API has no /ready, /live or image endpoint.
    for path in ["/ready", "/live"] {
        let r = get(&c, &h, path).await;
        assert_eq!((r.status, r.body), (404, json!({"detail": "Not Found"})));
    }
    let r = post(&c, &h, "/generate-and-return-image", &generate_body("x")).await;
    assert_eq!(r.status, 404);
    h.shutdown().await;
}

#[tokio::test]
async fn v2_bodies_stand_alone() {
    let h = sim(cfg(ApiVersion::V2)).await;
    let c = client();
    let health = get(&c, &h, "/health").await;
    assert_eq!(
        keys(&health.body),
        sorted(&[
            "status",
            "service",
            "version",
            "model_loaded",
            "model_ready",
            "fusion_mode",
            "lora_info",
            "timestamp",
            "uptime"
        ])
    );
    assert_eq!(health.body["service"], "Diffusion API");
    assert!(health.body["timestamp"].as_f64().unwrap() > 1.0e9);
    assert_eq!(get(&c, &h, "/ready").await.body, json!({"status": "ready"}));
    assert_eq!(get(&c, &h, "/live").await.body, json!({"status": "alive"}));

    let mut body = generate_body("a red fox");
    body["seed"] = json!(42);
    let g = post(&c, &h, "/generate", &body).await;
    assert_eq!(g.status, 200);
    assert_eq!(g.body["model_type"], "flux");
    assert_eq!(g.body["seed"], 42);
    assert!(g.body["lora_applied"].is_null());
    assert_eq!(g.body["message"], "Generated image for prompt: a red fox");

    let img = post(&c, &h, "/generate-and-return-image", &body).await;
    assert_eq!(img.status, 200);
    assert_eq!(&img.raw[..4], b"\x89PNG");
    h.shutdown().await;
}

#[tokio::test]
async fn v2_validation_is_fastapi_422() {
    let h = sim(cfg(ApiVersion::V2)).await;
    let c = client();
    let mut body = generate_body("x");
    body["width"] = json!(4096);
    let r = post(&c, &h, "/generate", &body).await;
    assert_eq!(r.status, 422);
    assert_eq!(
        r.body,
        json!({"detail": [{"type": "less_than_equal", "loc": ["body", "width"],
            "msg": "Input should be less than or equal to 1024", "input": 4096, "ctx": {"le": 1024}}]})
    );
    for (field, value) in [
        ("height", json!(255)),
        ("num_inference_steps", json!(101)),
        ("num_inference_steps", json!(0)),
        ("seed", json!(4_294_967_296u64)),
        ("seed", json!(-1)),
    ] {
        let mut b = generate_body("x");
        b[field] = value.clone();
        let r = post(&c, &h, "/generate", &b).await;
        assert_eq!(r.status, 422, "{field} = {value}");
        assert_eq!(r.body["detail"][0]["loc"], json!(["body", field]));
        assert_eq!(r.body["detail"][0]["input"], value);
    }
    // The edges are allowed.
    let mut b = generate_body("x");
    b["width"] = json!(256);
    b["height"] = json!(1024);
    b["seed"] = json!(4_294_967_295u64);
    b["num_inference_steps"] = json!(100);
    assert_eq!(post(&c, &h, "/generate", &b).await.status, 200);
    // The older API lets everything through.
    let v1 = sim(cfg(ApiVersion::V1)).await;
    let mut b = generate_body("x");
    b["num_inference_steps"] = json!(500);
    b["seed"] = json!(-1);
    assert_eq!(post(&c, &v1, "/generate", &b).await.status, 200);
    h.shutdown().await;
    v1.shutdown().await;
}

#[tokio::test]
async fn errors_of_both_generations() {
    for version in [ApiVersion::V1, ApiVersion::V2] {
        let h = sim(cfg(version)).await;
        let c = client();
        let r = post(&c, &h, "/generate", &generate_body("")).await;
        assert_eq!(
            (r.status, r.body),
            (
                500,
                json!({"detail": "Request processing failed: 400: Prompt cannot be empty"})
            )
        );
        let r = send(&c, &h, reqwest::Method::POST, "/generate", "{not json").await;
        assert_eq!(r.status, 422);
        assert_eq!(r.body["detail"][0]["type"], "json_invalid");
        let r = send(&c, &h, reqwest::Method::POST, "/generate", "").await;
        assert_eq!(r.status, 422);
        assert_eq!(r.body["detail"][0]["loc"], json!(["body"]));
        let r = post(&c, &h, "/generate", &json!({"width": 512})).await;
        assert_eq!(r.body["detail"][0]["type"], "missing");
        let r = get(&c, &h, "/generate").await;
        assert_eq!(
            (r.status, r.body),
            (405, json!({"detail": "Method Not Allowed"}))
        );
        let r = get(&c, &h, "/no/such/path").await;
        assert_eq!((r.status, r.body), (404, json!({"detail": "Not Found"})));
        h.shutdown().await;
    }
}

/// Produces each fixture's situation on a simulator and compares shapes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_match_the_shared_fixtures() {
    let Some(dir) = fixtures() else { return };
    let c = client();
    let check = |name: &str, status: u16, body: &Value| {
        let (want_status, want) = fixture(&dir, name);
        assert_eq!(status, want_status, "{name}: status");
        assert_shape(&want, body, name);
    };

    // The older service.
    let v1 = sim(cfg(ApiVersion::V1)).await;
    let r = post(
        &c,
        &v1,
        "/generate",
        &generate_body("Use GHIBLISTYLE, a red fox in the snow"),
    )
    .await;
    check("generate.v1.json", r.status, &r.body);
    let r = get(&c, &v1, "/health").await;
    check("health.v1.json", r.status, &r.body);
    assert_eq!(r.body, fixture(&dir, "health.v1.json").1);
    let r = get(&c, &v1, "/model-status").await;
    check("model-status.json", r.status, &r.body);
    let want = fixture(&dir, "model-status.json").1;
    for k in [
        "model_type",
        "lora_loaded",
        "lora_weight",
        "system_memory_total_gb",
    ] {
        assert_eq!(r.body[k], want[k], "model-status {k}");
    }
    let r = get(&c, &v1, "/queue-stats").await;
    check("queue-stats.json", r.status, &r.body);
    let r = post(&c, &v1, "/generate", &generate_body("")).await;
    check("generate.empty-prompt.500.json", r.status, &r.body);
    assert_eq!(r.body, fixture(&dir, "generate.empty-prompt.500.json").1);
    let mut huge = generate_body("x");
    huge["width"] = json!(4096);
    huge["height"] = json!(4096);
    let r = post(&c, &v1, "/generate", &huge).await;
    check("generate.oom.500.json", r.status, &r.body);
    let detail = r.body["detail"].as_str().unwrap();
    assert!(detail.starts_with(
        "Request processing failed: 500: FLUX image generation failed: CUDA out of memory. Tried to allocate "
    ));
    assert!(detail.contains("GPU 0 has a total capacity of 31.36 GiB of which"));

    // Queue mode on the older service.
    let r = post(
        &c,
        &v1,
        "/submit-request",
        &generate_body("a red fox in the snow"),
    )
    .await;
    check("submit-request.json", r.status, &r.body);
    let id = r.body["request_id"].as_str().unwrap().to_string();
    let done = poll_request(&c, &v1, &id, "completed", Duration::from_secs(10)).await;
    check("request-status.completed.json", 200, &done);
    let r = get(
        &c,
        &v1,
        "/request-status/5c1e8f3a-0000-4000-8000-000000000000",
    )
    .await;
    check("request-status.not-found.404.json", r.status, &r.body);
    assert_eq!(r.body, fixture(&dir, "request-status.not-found.404.json").1);
    v1.shutdown().await;

    // A failed queue request.
    let failing = sim(SimConfig {
        faults: Faults {
            error_rate: 1.0,
            ..Faults::default()
        },
        ..cfg(ApiVersion::V1)
    })
    .await;
    let r = post(
        &c,
        &failing,
        "/submit-request",
        &generate_body("a red fox in the snow"),
    )
    .await;
    let id = r.body["request_id"].as_str().unwrap().to_string();
    let failed = poll_request(&c, &failing, &id, "failed", Duration::from_secs(10)).await;
    check("request-status.failed.json", 200, &failed);
    failing.shutdown().await;

    // Pending and processing: one GPU at real speed, two requests.
    let slow = sim(SimConfig {
        time_scale: 1.0,
        ..cfg(ApiVersion::V1)
    })
    .await;
    let first = post(
        &c,
        &slow,
        "/submit-request",
        &generate_body("a red fox in the snow"),
    )
    .await;
    let second = post(
        &c,
        &slow,
        "/submit-request",
        &generate_body("a red fox in the snow"),
    )
    .await;
    let r = get(
        &c,
        &slow,
        &format!(
            "/request-status/{}",
            first.body["request_id"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(r.body["status"], "processing");
    check("request-status.processing.json", r.status, &r.body);
    let r = get(
        &c,
        &slow,
        &format!(
            "/request-status/{}",
            second.body["request_id"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(r.body["status"], "pending");
    check("request-status.pending.json", r.status, &r.body);
    slow.shutdown().await;

    // A full queue.
    let full = sim(SimConfig {
        faults: Faults {
            queue_full: true,
            ..Faults::default()
        },
        ..cfg(ApiVersion::V1)
    })
    .await;
    let r = post(&c, &full, "/submit-request", &generate_body("x")).await;
    check("submit-request.queue-full.500.json", r.status, &r.body);
    assert_eq!(
        r.body,
        fixture(&dir, "submit-request.queue-full.500.json").1
    );
    full.shutdown().await;

    // GPUs: two, then none.
    let two = sim(SimConfig {
        gpus: 2,
        ..cfg(ApiVersion::V2)
    })
    .await;
    let r = get(&c, &two, "/gpu-info").await;
    check("gpu-info.json", r.status, &r.body);
    assert_eq!(r.body["gpus"][1]["name"], "NVIDIA GeForce RTX 5090");
    assert_eq!(r.body["gpus"][1]["allocated_memory_gb"], "8.9");
    assert_eq!(r.body["gpus"][1]["free_memory_gb"], "22.5");
    two.set_gpus(0);
    let r = get(&c, &two, "/gpu-info").await;
    check("gpu-info.no-cuda.json", r.status, &r.body);
    assert_eq!(r.body, fixture(&dir, "gpu-info.no-cuda.json").1);
    let r = post(&c, &two, "/generate", &generate_body("x")).await;
    check("generate.model-load-failed.500.json", r.status, &r.body);
    assert_eq!(
        r.body,
        fixture(&dir, "generate.model-load-failed.500.json").1
    );
    two.shutdown().await;

    // The newer service.
    let v2 = sim(cfg(ApiVersion::V2)).await;
    let mut body = generate_body("a red fox in the snow");
    body["seed"] = json!(42);
    let r = post(&c, &v2, "/generate", &body).await;
    check("generate.v2.json", r.status, &r.body);
    let r = get(&c, &v2, "/health").await;
    check("health.v2.json", r.status, &r.body);
    let mut wide = generate_body("x");
    wide["width"] = json!(4096);
    let r = post(&c, &v2, "/generate", &wide).await;
    check("generate.validation.422.json", r.status, &r.body);
    assert_eq!(r.body, fixture(&dir, "generate.validation.422.json").1);
    v2.set_faults(Faults {
        health: HealthMode::Error,
        ..Faults::default()
    });
    let r = get(&c, &v2, "/health").await;
    check("health.v2.error.json", r.status, &r.body);
    v2.shutdown().await;

    let loading = sim(SimConfig {
        time_scale: 1.0,
        slow_start: Duration::from_secs(600),
        ..cfg(ApiVersion::V2)
    })
    .await;
    let r = get(&c, &loading, "/health").await;
    check("health.v2.loading.json", r.status, &r.body);
    loading.shutdown().await;

    // The shape of the declared response model, with VRAM.
    let vram = sim(SimConfig {
        report_vram: true,
        ..cfg(ApiVersion::V1)
    })
    .await;
    let r = post(
        &c,
        &vram,
        "/generate",
        &generate_body("a red fox in the snow"),
    )
    .await;
    check("generate.with-vram.json", r.status, &r.body);
    vram.shutdown().await;
}

#[test]
fn the_shape_check_can_fail() {
    let want = json!({"a": "1.72s", "b": [{"c": "31.4"}], "d": 1.0});
    assert_shape(
        &want,
        &json!({"a": "0.05s", "b": [{"c": "8.9"}], "d": 2.5}),
        "ok",
    );
    for bad in [
        json!({"a": "1.72", "b": [{"c": "31.4"}], "d": 1.0}),
        json!({"a": "1.72s", "b": [{"c": "31.40"}], "d": 1.0}),
        json!({"a": "1.72s", "b": [{"c": "31.4"}], "d": 1}),
        json!({"a": "1.72s", "b": [{"c": "31.4"}]}),
        json!({"a": "1.72s", "b": [], "d": 1.0}),
    ] {
        let caught = std::panic::catch_unwind(|| assert_shape(&want, &bad, "bad"));
        assert!(caught.is_err(), "{bad} should not match");
    }
}
