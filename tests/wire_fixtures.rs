//! Every captured response of the real FLUX service (../shared/fixtures/flux-api/responses)
//! parses to the right values through the client's wire types, and every error body is
//! classified into the right outcome. The expected figures are read off the fixtures by hand.

use fluxprobe::api::wire::{
    self, Body, Generated, GpuInfo, Health, ModelStatus, QueueState, QueueStats, RequestStatus,
    Submitted,
};
use fluxprobe::outcome::Outcome;
use fluxprobe::probe::classify_error_status;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

fn fixtures_dir() -> Option<PathBuf> {
    let dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/flux-api/responses");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "skipped: {} is absent (the fixtures come with ../shared)",
            dir.display()
        );
        None
    }
}

/// Every fixture: name → (HTTP status, body).
fn load() -> Option<BTreeMap<String, (u16, Body)>> {
    let dir = fixtures_dir()?;
    let mut all = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let status = doc["status"].as_u64().unwrap() as u16;
        let body = Body::parse(doc["body"].to_string().as_bytes()).unwrap();
        all.insert(name, (status, body));
    }
    Some(all)
}

fn gib(x: f64) -> Option<f64> {
    Some((x * GIB).round())
}

#[test]
fn every_fixture_parses_to_the_right_values() {
    let Some(all) = load() else { return };
    let mut checked = Vec::new();
    let mut get = |name: &str| {
        checked.push(name.to_string());
        all.get(name)
            .unwrap_or_else(|| panic!("fixture {name} is missing"))
            .clone()
    };

    let (_, b) = get("generate.v1.json");
    let g = Generated::from_body(&b);
    assert_eq!(g.generation_time_seconds, Some(1.72));
    assert_eq!(g.vram_used_bytes, None, "v1 reports no VRAM: absent, not 0");
    assert_eq!((g.width, g.height), (Some(512), Some(512)));
    assert!(g.issues.is_empty());

    let (_, b) = get("generate.v2.json");
    let g = Generated::from_body(&b);
    assert_eq!(g.generation_time_seconds, Some(1.74));
    assert_eq!(g.model_type.as_deref(), Some("flux"));

    let (_, b) = get("generate.with-vram.json");
    let g = Generated::from_body(&b);
    assert_eq!(g.generation_time_seconds, Some(12.89));
    assert_eq!(g.vram_used_bytes, gib(8.50));
    assert_eq!(g.vram_raw.as_deref(), Some("8.50GB"));
    assert_eq!(g.model_type.as_deref(), Some("flux_quantized_gpu"));

    let (_, b) = get("gpu-info.json");
    let info = GpuInfo::from_body(&b);
    assert_eq!(info.cuda_available, Some(true));
    assert_eq!(info.device_count, Some(2));
    assert_eq!(info.gpus.len(), 2);
    let (g0, g1) = (&info.gpus[0], &info.gpus[1]);
    assert_eq!((g0.index, g1.index), (0, 1));
    assert_eq!(g0.name.as_deref(), Some("NVIDIA GeForce RTX 5090"));
    assert_eq!(g0.compute_capability.as_deref(), Some("12.0"));
    assert_eq!(g0.total_bytes, gib(31.4));
    assert_eq!(g0.allocated_bytes, gib(0.5));
    assert_eq!(g0.free_bytes, gib(30.9));
    assert_eq!(g1.allocated_bytes, gib(8.9));
    assert_eq!(g1.free_bytes, gib(22.5));
    assert!(info.issues.is_empty());

    let (_, b) = get("gpu-info.no-cuda.json");
    let info = GpuInfo::from_body(&b);
    assert_eq!(
        (info.cuda_available, info.device_count, info.gpus.len()),
        (Some(false), Some(0), 0)
    );

    let (_, b) = get("health.v1.json");
    let h = Health::from_body(&b);
    assert!(h.is_ready());
    assert_eq!(h.service.as_deref(), Some("FLUX API"));
    let (_, b) = get("health.v2.json");
    let h = Health::from_body(&b);
    assert!(h.is_ready());
    assert_eq!(
        (h.version.as_deref(), h.model_ready, h.uptime_seconds),
        (Some("1.0.0"), Some(true), Some(3611.52))
    );
    let (status, b) = get("health.v2.error.json");
    let h = Health::from_body(&b);
    assert_eq!(status, 200);
    assert!(!h.is_ready(), "HTTP 200 with status error is not ready");
    assert!(h.error.unwrap().contains("illegal memory access"));
    let (_, b) = get("health.v2.loading.json");
    let h = Health::from_body(&b);
    assert!(!h.is_ready());
    assert_eq!(h.status.as_deref(), Some("model_loading"));

    let (_, b) = get("model-status.json");
    let m = ModelStatus::from_body(&b);
    assert_eq!(m.model_loaded, Some(true));
    assert_eq!(m.vram_used_bytes, Some(0.0));
    assert_eq!(m.system_memory_used_bytes, gib(144.09));
    assert_eq!(m.system_memory_total_bytes, gib(377.54));
    assert_eq!(m.model_actually_ready, Some(true));

    let (_, b) = get("queue-stats.json");
    let q = QueueStats::from_body(&b);
    assert_eq!(
        (
            q.queue_size,
            q.active_requests,
            q.completed_requests,
            q.max_concurrent,
            q.max_queue_size
        ),
        (Some(10), Some(0), Some(0), Some(2), Some(100))
    );

    let (_, b) = get("submit-request.json");
    assert_eq!(
        Submitted::from_body(&b).request_id.as_deref(),
        Some("5c1e8f3a-2d4b-4a6c-9e7f-1a2b3c4d5e6f")
    );

    let (_, b) = get("request-status.completed.json");
    let r = RequestStatus::from_body(&b);
    assert_eq!(r.state, QueueState::Completed);
    assert!((r.queue_wait_seconds().unwrap() - (1755695988.3446 - 1755695984.7326)).abs() < 1e-9);
    assert!((r.service_seconds().unwrap() - (1755695990.1541 - 1755695988.3446)).abs() < 1e-9);
    assert_eq!(r.result.unwrap().generation_time_seconds, Some(1.72));
    let (_, b) = get("request-status.failed.json");
    let r = RequestStatus::from_body(&b);
    assert_eq!(
        (r.state, r.error.as_deref()),
        (QueueState::Failed, Some("CUDA out of memory"))
    );
    let (_, b) = get("request-status.pending.json");
    let r = RequestStatus::from_body(&b);
    assert_eq!(
        (r.state, r.queue_wait_seconds(), r.service_seconds()),
        (QueueState::Pending, None, None)
    );
    let (_, b) = get("request-status.processing.json");
    let r = RequestStatus::from_body(&b);
    assert_eq!(
        (r.state, r.service_seconds()),
        (QueueState::Processing, None)
    );

    // Error bodies: FastAPI's detail, and the outcome each one is counted under.
    let errors = [
        (
            "generate.empty-prompt.500.json",
            Outcome::Http5xx,
            "Prompt cannot be empty",
        ),
        (
            "generate.model-load-failed.500.json",
            Outcome::Http5xx,
            "Failed to load Diffusion model",
        ),
        (
            "generate.oom.500.json",
            Outcome::Http5xx,
            "CUDA out of memory",
        ),
        (
            "generate.validation.422.json",
            Outcome::Http4xx,
            "body.width: Input should be less than or equal to 1024",
        ),
        (
            "request-status.not-found.404.json",
            Outcome::Http4xx,
            "Request not found",
        ),
        (
            "submit-request.queue-full.500.json",
            Outcome::Rejected,
            "Queue is full",
        ),
    ];
    for (name, outcome, text) in errors {
        let (status, b) = get(name);
        let detail = wire::error_detail(&b).unwrap();
        assert!(detail.contains(text), "{name}: {detail}");
        assert_eq!(
            classify_error_status(status, Some(&detail)),
            outcome,
            "{name}"
        );
    }

    let unchecked: Vec<&String> = all.keys().filter(|k| !checked.contains(k)).collect();
    assert!(
        unchecked.is_empty(),
        "fixtures without a check: {unchecked:?}"
    );
}
