//! The JSON bodies the simulator sends, in the exact shapes of the real service (see the
//! fixtures in API.md): figures as strings with units ("1.72s", "8.90GB"), /gpu-info memory as
//! bare one-decimal GiB strings ("31.4"), FastAPI's `{"detail": …}` errors. Pure functions of
//! a snapshot of the simulator's state, so they are tested without a server.

use super::faults::FiguresMode;
use super::gpu::GpuMemory;
use super::request::int_value;
use crate::cli::ApiVersion;
use serde_json::{Value, json};

pub const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// The LoRA the older service has loaded.
pub const V1_LORA: &str = "aleksa-codes/flux-ghibsky-illustration/lora.safetensors";

/// The text of a failed health check or status read.
pub const CUDA_ERROR: &str = "CUDA error: an illegal memory access was encountered";

/// `{"detail": "..."}`.
pub fn detail(msg: &str) -> Value {
    json!({ "detail": msg })
}

/// GiB with one decimal, no unit, as /gpu-info writes memory: "31.4".
pub fn gib1(bytes: f64) -> String {
    format!("{:.1}", bytes / GIB)
}

/// GiB with two decimals and the service's "GB" suffix: "8.50GB".
pub fn gb2(bytes: f64) -> String {
    format!("{:.2}GB", bytes / GIB)
}

/// Seconds with `decimals` decimals and an "s" suffix: "1.72s".
pub fn seconds(secs: f64, decimals: usize) -> String {
    format!("{:.*}s", decimals, secs.max(0.0))
}

/// Applies the figures fault to one figure.
pub fn figure(mode: FiguresMode, v: Value) -> Value {
    match mode {
        FiguresMode::Normal => v,
        FiguresMode::NotAvailable => Value::from("N/A"),
        FiguresMode::Null => Value::Null,
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// What /health reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthStatus {
    Healthy,
    Loading,
    Error,
}

/// /health.
pub fn health(
    version: ApiVersion,
    status: HealthStatus,
    timestamp: f64,
    uptime: f64,
    figures: FiguresMode,
) -> Value {
    let service = match version {
        ApiVersion::V1 => "FLUX API",
        ApiVersion::V2 => "Diffusion API",
    };
    match (version, status) {
        (ApiVersion::V1, HealthStatus::Healthy) => json!({"status": "healthy", "service": service}),
        (ApiVersion::V1, HealthStatus::Loading) => {
            json!({"status": "model_loading", "service": service})
        }
        (ApiVersion::V1, HealthStatus::Error) => {
            json!({"status": "error", "service": service, "error": CUDA_ERROR})
        }
        (ApiVersion::V2, HealthStatus::Error) => json!({
            "status": "error",
            "service": service,
            "version": "1.0.0",
            "error": CUDA_ERROR,
            "model_loaded": false,
            "fusion_mode": false,
            "lora_info": null,
        }),
        (ApiVersion::V2, s) => {
            let ready = s == HealthStatus::Healthy;
            json!({
                "status": if ready { "healthy" } else { "model_loading" },
                "service": service,
                "version": "1.0.0",
                "model_loaded": ready,
                "model_ready": ready,
                "fusion_mode": false,
                "lora_info": null,
                "timestamp": figure(figures, json!(round2(timestamp))),
                "uptime": figure(figures, json!(round2(uptime))),
            })
        }
    }
}

/// /ready (newer API): 200 or 503.
pub fn ready(ready: bool) -> (u16, Value) {
    if ready {
        (200, json!({"status": "ready"}))
    } else {
        (503, detail("Model not ready"))
    }
}

/// /live (newer API).
pub fn live() -> Value {
    json!({"status": "alive"})
}

/// /model-status. `vram_bytes` is what torch has allocated on the selected device (GPU 0).
pub fn model_status(
    version: ApiVersion,
    loaded: bool,
    vram_bytes: f64,
    system_used_gib: f64,
    system_total_gib: f64,
    figures: FiguresMode,
) -> Value {
    let (model_type, lora, weight) = match version {
        ApiVersion::V1 => ("flux_quantized_gpu", json!(V1_LORA), json!(1.0)),
        ApiVersion::V2 => ("flux", Value::Null, Value::Null),
    };
    json!({
        "model_loaded": loaded,
        "model_type": model_type,
        "selected_gpu": null,
        "vram_usage_gb": figure(figures, json!(gb2(vram_bytes))),
        "system_memory_used_gb": figure(figures, json!(format!("{system_used_gib:.2}GB"))),
        "system_memory_total_gb": figure(figures, json!(format!("{system_total_gib:.2}GB"))),
        "lora_loaded": lora,
        "lora_weight": weight,
        "pipeline_loaded": loaded,
        "has_transformer": loaded,
        "model_actually_ready": loaded,
    })
}

/// One GPU as /gpu-info reports it: one-decimal strings; free = total − allocated in exact
/// bytes, rounded on its own (as the service computes it).
#[derive(Debug, Clone, PartialEq)]
pub struct GpuFigures {
    pub total_gb: String,
    pub allocated_gb: String,
    pub free_gb: String,
}

impl GpuFigures {
    pub fn of(m: &GpuMemory) -> GpuFigures {
        GpuFigures {
            total_gb: gib1(m.total_bytes),
            allocated_gb: gib1(m.allocated_bytes),
            free_gb: gib1((m.total_bytes - m.allocated_bytes).max(0.0)),
        }
    }
}

/// /gpu-info.
pub fn gpu_info(
    memory: &[GpuMemory],
    name: &str,
    compute_capability: &str,
    figures: FiguresMode,
) -> Value {
    let gpus: Vec<Value> = memory
        .iter()
        .map(|m| {
            let f = GpuFigures::of(m);
            json!({
                "gpu_id": m.index,
                "name": name,
                "total_memory_gb": figure(figures, json!(f.total_gb)),
                "allocated_memory_gb": figure(figures, json!(f.allocated_gb)),
                "free_memory_gb": figure(figures, json!(f.free_gb)),
                "compute_capability": compute_capability,
            })
        })
        .collect();
    json!({
        "cuda_available": !memory.is_empty(),
        "device_count": figure(figures, json!(memory.len())),
        "selected_gpu": null,
        "gpus": gpus,
    })
}

/// The figures of /queue-stats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueFigures {
    pub queue_size: usize,
    pub active_requests: usize,
    pub completed_requests: u64,
    pub max_concurrent: usize,
    pub max_queue_size: u32,
}

/// /queue-stats.
pub fn queue_stats(q: QueueFigures, figures: FiguresMode) -> Value {
    json!({
        "queue_size": figure(figures, json!(q.queue_size)),
        "active_requests": figure(figures, json!(q.active_requests)),
        "completed_requests": figure(figures, json!(q.completed_requests)),
        "max_concurrent": figure(figures, json!(q.max_concurrent)),
        "max_queue_size": figure(figures, json!(q.max_queue_size)),
    })
}

/// Everything a generate answer says.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratedView<'a> {
    pub prompt: &'a str,
    /// The image's id (file name without ".png").
    pub image_id: &'a str,
    /// Generation seconds as simulated (scaled).
    pub generation_seconds: f64,
    pub decimals: usize,
    pub width: i128,
    pub height: i128,
    pub seed: Option<i128>,
    /// Steps that ran and guidance requested (the with-VRAM shape reports them).
    pub steps: i128,
    pub guidance: f64,
    pub vram_bytes: f64,
    pub system_used_gib: f64,
    pub system_total_gib: f64,
}

fn seed_value(seed: Option<i128>) -> Value {
    seed.map(int_value).unwrap_or(Value::Null)
}

/// The 200 body of POST /generate: the older shape, the newer one, or (`with_vram`) the shape
/// of the service's declared response model.
pub fn generated(
    version: ApiVersion,
    with_vram: bool,
    g: &GeneratedView<'_>,
    figures: FiguresMode,
) -> Value {
    let file = format!("{}.png", g.image_id);
    let time = figure(figures, json!(seconds(g.generation_seconds, g.decimals)));
    if with_vram {
        return json!({
            "message": format!("Generated FLUX image for prompt: {}", g.prompt),
            "image_url": format!("generated_images/{file}"),
            "download_url": format!("/download/{file}"),
            "filename": file,
            "generation_time": time,
            "vram_usage_gb": figure(figures, json!(gb2(g.vram_bytes))),
            "system_memory_used_gb": figure(figures, json!(format!("{:.2}GB", g.system_used_gib))),
            "system_memory_total_gb": figure(figures, json!(format!("{:.2}GB", g.system_total_gib))),
            "model_type": "flux_quantized_gpu",
            "lora_applied": null,
            "lora_weight": null,
            "num_inference_steps": int_value(g.steps),
            "guidance_scale": g.guidance,
            "width": int_value(g.width),
            "height": int_value(g.height),
            "seed": seed_value(g.seed),
        });
    }
    match version {
        ApiVersion::V1 => json!({
            "message": format!("Generated FLUX image for prompt: {}", g.prompt),
            "image_url": format!("generated_images/{file}"),
            "download_url": format!("/download/{file}"),
            "filename": file,
            "generation_time": time,
            "lora_applied": V1_LORA,
            "lora_weight": 1.0,
            "width": int_value(g.width),
            "height": int_value(g.height),
            "seed": seed_value(g.seed),
        }),
        ApiVersion::V2 => json!({
            "message": format!("Generated image for prompt: {}", g.prompt),
            "image_url": format!("generated_images/{file}"),
            "download_url": format!("/download/{file}"),
            "filename": file,
            "generation_time": time,
            "model_type": "flux",
            "lora_applied": null,
            "lora_weight": null,
            "width": int_value(g.width),
            "height": int_value(g.height),
            "seed": seed_value(g.seed),
        }),
    }
}

/// The `result` of a completed queue-mode request.
pub fn queue_result(g: &GeneratedView<'_>, figures: FiguresMode) -> Value {
    let file = format!("{}.png", g.image_id);
    json!({
        "message": format!("Generated image for prompt: {}", g.prompt),
        "image_url": format!("generated_images/{file}"),
        "download_url": format!("/download/{file}"),
        "filename": file,
        "generation_time": figure(figures, json!(seconds(g.generation_seconds, g.decimals))),
        "width": int_value(g.width),
        "height": int_value(g.height),
        "seed": seed_value(g.seed),
    })
}

/// The 500 detail of a failed POST /generate.
pub fn generation_failed(inner: &str) -> Value {
    detail(&format!(
        "Request processing failed: 500: FLUX image generation failed: {inner}"
    ))
}

/// The 500 detail of POST /generate when no model can be loaded (no GPU).
pub fn model_load_failed(version: ApiVersion) -> Value {
    let model = match version {
        ApiVersion::V1 => "FLUX",
        ApiVersion::V2 => "Diffusion",
    };
    detail(&format!(
        "Request processing failed: 500: Failed to load {model} model"
    ))
}

/// The 500 detail of an empty prompt (the service wraps its own 400).
pub fn empty_prompt() -> Value {
    detail("Request processing failed: 400: Prompt cannot be empty")
}

/// The 200 body of POST /submit-request.
pub fn submitted(request_id: &str) -> Value {
    json!({
        "message": "Request submitted successfully",
        "request_id": request_id,
        "status": "queued",
    })
}

/// The 500 detail of a full queue.
pub fn queue_full() -> Value {
    detail("Failed to submit request: Queue is full")
}

/// The 500 detail of a failed status read, per endpoint.
pub fn status_failed(path: &str) -> Value {
    let what = match path {
        "/health" | "/ready" => "Health check failed",
        "/model-status" => "Failed to get model status",
        "/gpu-info" => "Failed to get GPU info",
        "/queue-stats" => "Failed to get queue stats",
        _ => "Request failed",
    };
    detail(&format!("{what}: {CUDA_ERROR}"))
}

/// A queue-mode request as /request-status shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestStatusView<'a> {
    pub request_id: &'a str,
    pub prompt: &'a str,
    pub created_at: f64,
    pub steps: i128,
    pub guidance: f64,
    pub width: i128,
    pub height: i128,
    pub seed: Option<i128>,
    /// pending, processing, completed, failed, cancelled.
    pub status: &'a str,
    pub started_at: Option<f64>,
    pub completed_at: Option<f64>,
    pub result: Option<Value>,
    pub error: Option<&'a str>,
}

/// GET /request-status/{id}.
pub fn request_status(r: &RequestStatusView<'_>) -> Value {
    json!({
        "request_id": r.request_id,
        "prompt": r.prompt,
        "lora_name": null,
        "lora_weight": null,
        "created_at": r.created_at,
        "num_inference_steps": int_value(r.steps),
        "guidance_scale": r.guidance,
        "width": int_value(r.width),
        "height": int_value(r.height),
        "seed": seed_value(r.seed),
        "status": r.status,
        "started_at": r.started_at,
        "completed_at": r.completed_at,
        "result": r.result,
        "error": r.error,
    })
}

/// DELETE /cancel-request/{id}.
pub fn cancelled(request_id: &str) -> Value {
    json!({
        "message": "Request cancelled successfully",
        "request_id": request_id,
    })
}

/// A 1×1 PNG, the body of /generate-and-return-image.
pub const TINY_PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x02, 0x00, 0x00, 0x00, 0x90, 0x77, 0x53,
    0xde, 0x00, 0x00, 0x00, 0x0c, 0x49, 0x44, 0x41, 0x54, 0x78, 0xda, 0x63, 0xf8, 0xff, 0xff, 0x3f,
    0x00, 0x05, 0xfe, 0x02, 0xfe, 0x33, 0x12, 0x95, 0x14, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e,
    0x44, 0xae, 0x42, 0x60, 0x82,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_strings() {
        assert_eq!(gib1(31.36 * GIB), "31.4");
        assert_eq!(gib1(8.87 * GIB), "8.9");
        assert_eq!(gb2(8.5 * GIB), "8.50GB");
        assert_eq!(gb2(0.0), "0.00GB");
        assert_eq!(seconds(1.72, 2), "1.72s");
        assert_eq!(seconds(0.086, 4), "0.0860s");
        assert_eq!(seconds(-1.0, 2), "0.00s");
    }

    #[test]
    fn gpu_info_matches_the_capture() {
        let mem = [
            GpuMemory {
                index: 0,
                total_bytes: 31.36 * GIB,
                allocated_bytes: 0.5 * GIB,
            },
            GpuMemory {
                index: 1,
                total_bytes: 31.36 * GIB,
                allocated_bytes: 8.87 * GIB,
            },
        ];
        let body = gpu_info(&mem, "NVIDIA GeForce RTX 5090", "12.0", FiguresMode::Normal);
        assert_eq!(
            body,
            json!({
                "cuda_available": true,
                "device_count": 2,
                "selected_gpu": null,
                "gpus": [
                    {"gpu_id": 0, "name": "NVIDIA GeForce RTX 5090", "total_memory_gb": "31.4",
                     "allocated_memory_gb": "0.5", "free_memory_gb": "30.9", "compute_capability": "12.0"},
                    {"gpu_id": 1, "name": "NVIDIA GeForce RTX 5090", "total_memory_gb": "31.4",
                     "allocated_memory_gb": "8.9", "free_memory_gb": "22.5", "compute_capability": "12.0"}
                ]
            })
        );
        let none = gpu_info(&[], "x", "y", FiguresMode::Normal);
        assert_eq!(
            none,
            json!({"cuda_available": false, "device_count": 0, "selected_gpu": null, "gpus": []})
        );
        let na = gpu_info(&mem, "x", "y", FiguresMode::NotAvailable);
        assert_eq!(na["gpus"][1]["free_memory_gb"], "N/A");
        assert_eq!(na["device_count"], "N/A");
        assert_eq!(na["gpus"][1]["gpu_id"], 1);
        let null = gpu_info(&mem, "x", "y", FiguresMode::Null);
        assert!(null["gpus"][0]["total_memory_gb"].is_null());
    }

    #[test]
    fn health_shapes() {
        let v1 = health(
            ApiVersion::V1,
            HealthStatus::Healthy,
            1.0,
            2.0,
            FiguresMode::Normal,
        );
        assert_eq!(v1, json!({"status": "healthy", "service": "FLUX API"}));
        let v2 = health(
            ApiVersion::V2,
            HealthStatus::Loading,
            1755695984.7123,
            4.0199,
            FiguresMode::Normal,
        );
        assert_eq!(v2["status"], "model_loading");
        assert_eq!(v2["model_ready"], false);
        assert_eq!(v2["timestamp"], json!(1755695984.71));
        assert_eq!(v2["uptime"], json!(4.02));
        let err = health(
            ApiVersion::V2,
            HealthStatus::Error,
            1.0,
            2.0,
            FiguresMode::Normal,
        );
        assert_eq!(err["status"], "error");
        assert!(err["error"].is_string());
        assert!(err.get("uptime").is_none());
        let na = health(
            ApiVersion::V2,
            HealthStatus::Healthy,
            1.0,
            2.0,
            FiguresMode::NotAvailable,
        );
        assert_eq!(na["uptime"], "N/A");
    }

    #[test]
    fn generate_shapes() {
        let g = GeneratedView {
            prompt: "a red fox",
            image_id: "abc",
            generation_seconds: 1.724,
            decimals: 2,
            width: 512,
            height: 512,
            seed: None,
            steps: 10,
            guidance: 4.0,
            vram_bytes: 8.5 * GIB,
            system_used_gib: 144.09,
            system_total_gib: 377.54,
        };
        let v1 = generated(ApiVersion::V1, false, &g, FiguresMode::Normal);
        assert_eq!(v1["generation_time"], "1.72s");
        assert_eq!(v1["message"], "Generated FLUX image for prompt: a red fox");
        assert_eq!(v1["download_url"], "/download/abc.png");
        assert_eq!(v1["lora_weight"], json!(1.0));
        assert!(v1["seed"].is_null());
        assert!(v1.get("model_type").is_none());
        let v2 = generated(
            ApiVersion::V2,
            false,
            &GeneratedView {
                seed: Some(42),
                ..g.clone()
            },
            FiguresMode::Null,
        );
        assert_eq!(v2["seed"], 42);
        assert_eq!(v2["model_type"], "flux");
        assert!(v2["generation_time"].is_null());
        let vram = generated(ApiVersion::V1, true, &g, FiguresMode::Normal);
        assert_eq!(vram["vram_usage_gb"], "8.50GB");
        assert_eq!(vram["system_memory_total_gb"], "377.54GB");
        assert_eq!(vram["num_inference_steps"], 10);
    }

    #[test]
    fn errors_are_fastapi_details() {
        assert_eq!(
            empty_prompt(),
            json!({"detail": "Request processing failed: 400: Prompt cannot be empty"})
        );
        assert_eq!(
            model_load_failed(ApiVersion::V2),
            json!({"detail": "Request processing failed: 500: Failed to load Diffusion model"})
        );
        assert_eq!(
            queue_full(),
            json!({"detail": "Failed to submit request: Queue is full"})
        );
        assert!(
            generation_failed("CUDA out of memory")["detail"]
                .as_str()
                .unwrap()
                .starts_with("Request processing failed: 500: FLUX image generation failed: ")
        );
        assert_eq!(ready(false), (503, json!({"detail": "Model not ready"})));
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xffff_ffffu32;
        for &b in data {
            crc ^= b as u32;
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xedb8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn the_png_is_a_png() {
        assert_eq!(&TINY_PNG[..8], b"\x89PNG\r\n\x1a\n");
        // Walk the chunks and check each CRC.
        let mut pos = 8;
        let mut names = Vec::new();
        while pos < TINY_PNG.len() {
            let len = u32::from_be_bytes(TINY_PNG[pos..pos + 4].try_into().unwrap()) as usize;
            let typed = &TINY_PNG[pos + 4..pos + 8 + len];
            let crc =
                u32::from_be_bytes(TINY_PNG[pos + 8 + len..pos + 12 + len].try_into().unwrap());
            assert_eq!(crc32(typed), crc);
            names.push(String::from_utf8_lossy(&typed[..4]).to_string());
            pos += 12 + len;
        }
        assert_eq!(names, ["IHDR", "IDAT", "IEND"]);
    }
}
