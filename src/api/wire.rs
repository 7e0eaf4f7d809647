//! Serde types of every body the FLUX API sends and receives. Incoming bodies are read as loose
//! JSON objects (unknown fields ignored, every field optional and of any type) and turned into
//! typed views through [`super::units`], so a field that changed type, went null or holds garbage
//! is reported as absent or invalid instead of failing the whole body.

use super::units::{self, Parsed};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// At most this many GPUs are read from one /gpu-info body (a hostile target cannot grow the
/// series count without bound).
pub const MAX_GPUS: usize = 64;

/// The request body of POST /generate and POST /submit-request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerateRequest {
    pub prompt: String,
    pub num_inference_steps: u32,
    pub guidance_scale: f64,
    pub width: u32,
    pub height: u32,
    pub seed: Option<u64>,
}

impl Default for GenerateRequest {
    fn default() -> Self {
        Self {
            prompt: "a red fox in the snow".to_string(),
            num_inference_steps: 10,
            guidance_scale: 4.0,
            width: 512,
            height: 512,
            seed: None,
        }
    }
}

/// A JSON object body, parsed loosely. Not an object (an array, a string, HTML) is an error.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Body(pub Map<String, Value>);

impl Body {
    /// Parses bytes as a JSON object. A number too large for a double (`1e400`: valid JSON, but
    /// no f64) does not sink the whole body: it is read as the string it was written as, which
    /// the field parsers then count as an unusable value.
    pub fn parse(bytes: &[u8]) -> Result<Body, BodyError> {
        let value = match serde_json::from_slice::<Value>(bytes) {
            Ok(v) => v,
            Err(_) => {
                let rewritten = quote_out_of_range_numbers(bytes).ok_or(BodyError::NotJson)?;
                serde_json::from_slice::<Value>(&rewritten).map_err(|_| BodyError::NotJson)?
            }
        };
        match value {
            Value::Object(map) => Ok(Body(map)),
            _ => Err(BodyError::NotAnObject),
        }
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }
}

/// Puts quotes around every number outside a string whose value overflows a double, so that
/// the body parses and the field shows up as unusable. `None` when there is no such number (the
/// body is broken some other way). Works on bytes: a body that is not UTF-8 stays unparseable.
fn quote_out_of_range_numbers(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len() + 16);
    let (mut in_string, mut escaped, mut changed) = (false, false, false);
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            out.push(b);
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            i += 1;
            continue;
        }
        if b == b'"' {
            in_string = true;
            out.push(b);
            i += 1;
            continue;
        }
        if b == b'-' || b.is_ascii_digit() {
            let end = bytes[i..]
                .iter()
                .position(|c| !matches!(c, b'0'..=b'9' | b'+' | b'-' | b'.' | b'e' | b'E'))
                .map_or(bytes.len(), |n| i + n);
            let token = &bytes[i..end];
            let overflows = std::str::from_utf8(token)
                .ok()
                .and_then(|t| t.parse::<f64>().ok())
                .is_some_and(|f| f.is_infinite());
            if overflows {
                out.push(b'"');
                out.extend_from_slice(token);
                out.push(b'"');
                changed = true;
            } else {
                out.extend_from_slice(token);
            }
            i = end;
            continue;
        }
        out.push(b);
        i += 1;
    }
    changed.then_some(out)
}

/// Why a body could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("body is not JSON")]
    NotJson,
    #[error("body is JSON but not an object")]
    NotAnObject,
}

/// Field names whose values were present but unusable, for the parse-error counter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParseIssues(pub Vec<&'static str>);

impl ParseIssues {
    fn note<T>(&mut self, field: &'static str, p: Parsed<T>) -> Option<T> {
        if p.is_invalid() {
            self.0.push(field);
        }
        p.ok()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// FastAPI's error body: `{"detail": "text"}` or `{"detail": [{"msg": …}, …]}`.
pub fn error_detail(body: &Body) -> Option<String> {
    match body.get("detail")? {
        Value::String(s) => Some(s.clone()),
        Value::Array(items) => {
            let msgs: Vec<String> = items
                .iter()
                .take(8)
                .map(|item| {
                    let msg = item.get("msg").and_then(Value::as_str).unwrap_or("invalid");
                    let loc = item
                        .get("loc")
                        .and_then(Value::as_array)
                        .map(|l| {
                            l.iter()
                                .map(|p| {
                                    p.as_str()
                                        .map(str::to_string)
                                        .unwrap_or_else(|| p.to_string())
                                })
                                .collect::<Vec<_>>()
                                .join(".")
                        })
                        .unwrap_or_default();
                    if loc.is_empty() {
                        msg.to_string()
                    } else {
                        format!("{loc}: {msg}")
                    }
                })
                .collect();
            Some(msgs.join("; "))
        }
        other => Some(other.to_string()),
    }
}

/// /health.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Health {
    pub status: Option<String>,
    pub service: Option<String>,
    pub version: Option<String>,
    pub model_loaded: Option<bool>,
    pub model_ready: Option<bool>,
    pub error: Option<String>,
    pub uptime_seconds: Option<f64>,
    pub issues: ParseIssues,
}

impl Health {
    pub fn from_body(b: &Body) -> Health {
        let mut i = ParseIssues::default();
        Health {
            status: i.note("status", units::text(b.get("status"))),
            service: i.note("service", units::text(b.get("service"))),
            version: i.note("version", units::text(b.get("version"))),
            model_loaded: i.note("model_loaded", units::boolean(b.get("model_loaded"))),
            model_ready: i.note("model_ready", units::boolean(b.get("model_ready"))),
            error: i.note("error", units::text(b.get("error"))),
            uptime_seconds: i.note("uptime", units::seconds(b.get("uptime"))),
            issues: i,
        }
    }

    /// Ready means status == "healthy" (HTTP 200 alone means nothing: see API.md).
    pub fn is_ready(&self) -> bool {
        self.status.as_deref() == Some("healthy")
    }
}

/// /model-status.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelStatus {
    pub model_loaded: Option<bool>,
    pub model_type: Option<String>,
    pub vram_used_bytes: Option<f64>,
    pub system_memory_used_bytes: Option<f64>,
    pub system_memory_total_bytes: Option<f64>,
    pub lora_loaded: Option<String>,
    pub model_actually_ready: Option<bool>,
    pub issues: ParseIssues,
}

impl ModelStatus {
    pub fn from_body(b: &Body) -> ModelStatus {
        let mut i = ParseIssues::default();
        ModelStatus {
            model_loaded: i.note("model_loaded", units::boolean(b.get("model_loaded"))),
            model_type: i.note("model_type", units::text(b.get("model_type"))),
            vram_used_bytes: i.note("vram_usage_gb", units::gib_bytes(b.get("vram_usage_gb"))),
            system_memory_used_bytes: i.note(
                "system_memory_used_gb",
                units::gib_bytes(b.get("system_memory_used_gb")),
            ),
            system_memory_total_bytes: i.note(
                "system_memory_total_gb",
                units::gib_bytes(b.get("system_memory_total_gb")),
            ),
            lora_loaded: i.note("lora_loaded", units::text(b.get("lora_loaded"))),
            model_actually_ready: i.note(
                "model_actually_ready",
                units::boolean(b.get("model_actually_ready")),
            ),
            issues: i,
        }
    }
}

/// One GPU of /gpu-info.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GpuStatus {
    /// `gpu_id`, or the position in the list when the id is missing or unusable.
    pub index: u32,
    pub name: Option<String>,
    pub total_bytes: Option<f64>,
    /// torch's allocated memory, not nvidia-smi's "used".
    pub allocated_bytes: Option<f64>,
    pub free_bytes: Option<f64>,
    pub compute_capability: Option<String>,
}

/// /gpu-info.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GpuInfo {
    pub cuda_available: Option<bool>,
    pub device_count: Option<u64>,
    /// At most [`MAX_GPUS`] entries, unique indexes.
    pub gpus: Vec<GpuStatus>,
    /// Entries dropped past the cap or for a repeated index.
    pub dropped_gpus: usize,
    pub issues: ParseIssues,
}

impl GpuInfo {
    pub fn from_body(b: &Body) -> GpuInfo {
        let mut i = ParseIssues::default();
        let cuda_available = i.note("cuda_available", units::boolean(b.get("cuda_available")));
        let device_count = i.note("device_count", units::count(b.get("device_count")));
        let mut gpus: Vec<GpuStatus> = Vec::new();
        let mut dropped = 0;
        match b.get("gpus") {
            None | Some(Value::Null) => {}
            Some(Value::Array(list)) => {
                for (pos, entry) in list.iter().enumerate() {
                    let Some(obj) = entry.as_object() else {
                        i.0.push("gpus");
                        continue;
                    };
                    let index = match units::count(obj.get("gpu_id")) {
                        Parsed::Ok(n) if n < MAX_GPUS as u64 * 16 => n as u32,
                        Parsed::Absent => pos as u32,
                        _ => {
                            i.0.push("gpu_id");
                            pos as u32
                        }
                    };
                    if gpus.len() >= MAX_GPUS || gpus.iter().any(|g| g.index == index) {
                        dropped += 1;
                        continue;
                    }
                    gpus.push(GpuStatus {
                        index,
                        name: i.note("name", units::text(obj.get("name"))),
                        total_bytes: i.note(
                            "total_memory_gb",
                            units::gib_bytes(obj.get("total_memory_gb")),
                        ),
                        allocated_bytes: i.note(
                            "allocated_memory_gb",
                            units::gib_bytes(obj.get("allocated_memory_gb")),
                        ),
                        free_bytes: i.note(
                            "free_memory_gb",
                            units::gib_bytes(obj.get("free_memory_gb")),
                        ),
                        compute_capability: i.note(
                            "compute_capability",
                            units::text(obj.get("compute_capability")),
                        ),
                    });
                }
            }
            Some(_) => i.0.push("gpus"),
        }
        GpuInfo {
            cuda_available,
            device_count,
            gpus,
            dropped_gpus: dropped,
            issues: i,
        }
    }
}

/// /queue-stats.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueueStats {
    pub queue_size: Option<u64>,
    pub active_requests: Option<u64>,
    pub completed_requests: Option<u64>,
    pub max_concurrent: Option<u64>,
    pub max_queue_size: Option<u64>,
    pub issues: ParseIssues,
}

impl QueueStats {
    pub fn from_body(b: &Body) -> QueueStats {
        let mut i = ParseIssues::default();
        QueueStats {
            queue_size: i.note("queue_size", units::count(b.get("queue_size"))),
            active_requests: i.note("active_requests", units::count(b.get("active_requests"))),
            completed_requests: i.note(
                "completed_requests",
                units::count(b.get("completed_requests")),
            ),
            max_concurrent: i.note("max_concurrent", units::count(b.get("max_concurrent"))),
            max_queue_size: i.note("max_queue_size", units::count(b.get("max_queue_size"))),
            issues: i,
        }
    }
}

/// The success body of POST /generate (and the `result` of a completed queue request).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Generated {
    pub generation_time_seconds: Option<f64>,
    pub vram_used_bytes: Option<f64>,
    /// The VRAM figure as the server spelled it, kept for the seed's `vram_usage` field.
    pub vram_raw: Option<String>,
    pub model_type: Option<String>,
    pub width: Option<u64>,
    pub height: Option<u64>,
    pub image_url: Option<String>,
    pub issues: ParseIssues,
}

impl Generated {
    pub fn from_body(b: &Body) -> Generated {
        Self::from_map(&b.0)
    }

    pub fn from_map(m: &Map<String, Value>) -> Generated {
        let mut i = ParseIssues::default();
        Generated {
            generation_time_seconds: i
                .note("generation_time", units::seconds(m.get("generation_time"))),
            vram_used_bytes: i.note("vram_usage_gb", units::gib_bytes(m.get("vram_usage_gb"))),
            vram_raw: units::text(m.get("vram_usage_gb")).ok(),
            model_type: i.note("model_type", units::text(m.get("model_type"))),
            width: i.note("width", units::count(m.get("width"))),
            height: i.note("height", units::count(m.get("height"))),
            image_url: i.note("image_url", units::text(m.get("image_url"))),
            issues: i,
        }
    }
}

/// POST /submit-request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Submitted {
    pub request_id: Option<String>,
    pub status: Option<String>,
}

impl Submitted {
    pub fn from_body(b: &Body) -> Submitted {
        Submitted {
            request_id: units::text(b.get("request_id"))
                .ok()
                .filter(|s| !s.is_empty()),
            status: units::text(b.get("status")).ok(),
        }
    }
}

/// The state of a queued request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueState {
    Pending,
    Processing,
    Completed,
    Failed,
    Cancelled,
    Unknown,
}

/// GET /request-status/{id}.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestStatus {
    pub state: QueueState,
    pub created_at: Option<f64>,
    pub started_at: Option<f64>,
    pub completed_at: Option<f64>,
    pub result: Option<Generated>,
    pub error: Option<String>,
    pub issues: ParseIssues,
}

impl RequestStatus {
    pub fn from_body(b: &Body) -> RequestStatus {
        let mut i = ParseIssues::default();
        let state = match units::text(b.get("status")).ok().as_deref() {
            Some("pending") | Some("queued") => QueueState::Pending,
            Some("processing") | Some("running") => QueueState::Processing,
            Some("completed") => QueueState::Completed,
            Some("failed") => QueueState::Failed,
            Some("cancelled") | Some("canceled") => QueueState::Cancelled,
            _ => QueueState::Unknown,
        };
        RequestStatus {
            state,
            created_at: i.note("created_at", units::number(b.get("created_at"))),
            started_at: i.note("started_at", units::number(b.get("started_at"))),
            completed_at: i.note("completed_at", units::number(b.get("completed_at"))),
            result: b
                .get("result")
                .and_then(Value::as_object)
                .map(Generated::from_map),
            error: units::text(b.get("error")).ok(),
            issues: i,
        }
    }

    /// Server-side queue wait: started_at − created_at.
    pub fn queue_wait_seconds(&self) -> Option<f64> {
        Some(self.started_at? - self.created_at?).filter(|d| *d >= 0.0)
    }

    /// Server-side service time: completed_at − started_at.
    pub fn service_seconds(&self) -> Option<f64> {
        Some(self.completed_at? - self.started_at?).filter(|d| *d >= 0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(v: Value) -> Body {
        Body::parse(v.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn not_an_object_is_an_error() {
        assert_eq!(
            Body::parse(b"<html>502 Bad Gateway</html>"),
            Err(BodyError::NotJson)
        );
        assert_eq!(Body::parse(b"[1,2]"), Err(BodyError::NotAnObject));
        assert_eq!(Body::parse(b""), Err(BodyError::NotJson));
    }

    #[test]
    fn numbers_past_a_double_are_unusable_fields_not_broken_bodies() {
        let b = Body::parse(
            br#"{"generation_time": 1e400, "prompt": "1e400 \" -2e999", "n": -1E+999, "ok": 1.5e3}"#,
        )
        .unwrap();
        assert_eq!(b.get("generation_time"), Some(&json!("1e400")));
        assert_eq!(b.get("n"), Some(&json!("-1E+999")));
        // Inside strings nothing changes; ordinary numbers stay numbers.
        assert_eq!(b.get("prompt"), Some(&json!("1e400 \" -2e999")));
        assert_eq!(b.get("ok"), Some(&json!(1500.0)));
        let g = Generated::from_body(&Body::parse(br#"{"generation_time": 1e400}"#).unwrap());
        assert_eq!(g.generation_time_seconds, None);
        assert_eq!(g.issues.0, vec!["generation_time"]);
        // Other breakage is still not JSON.
        assert_eq!(Body::parse(b"{\"a\": 1e400,"), Err(BodyError::NotJson));
        assert_eq!(Body::parse(b"{\"a\": 1e400 1}"), Err(BodyError::NotJson));
    }

    #[test]
    fn nesting_past_the_parser_limit_is_not_json() {
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert_eq!(Body::parse(deep.as_bytes()), Err(BodyError::NotJson));
        let deep_obj = format!("{}1{}", "{\"a\":".repeat(10_000), "}".repeat(10_000));
        assert_eq!(Body::parse(deep_obj.as_bytes()), Err(BodyError::NotJson));
    }

    #[test]
    fn fastapi_details() {
        assert_eq!(
            error_detail(&body(json!({"detail": "Queue is full"}))).unwrap(),
            "Queue is full"
        );
        let d = error_detail(&body(
            json!({"detail": [{"loc": ["body", "width"], "msg": "too big"}]}),
        ));
        assert_eq!(d.unwrap(), "body.width: too big");
        assert_eq!(error_detail(&body(json!({"x": 1}))), None);
    }

    #[test]
    fn gpu_list_is_capped_and_deduplicated() {
        let gpus: Vec<Value> = (0..100)
            .map(|i| json!({"gpu_id": i % 80, "total_memory_gb": "1"}))
            .collect();
        let info = GpuInfo::from_body(&body(json!({"gpus": gpus})));
        assert_eq!(info.gpus.len(), MAX_GPUS);
        assert_eq!(info.dropped_gpus, 36);
    }

    #[test]
    fn garbage_fields_are_noted_not_fatal() {
        let g = Generated::from_body(&body(json!({"generation_time": "N/A", "width": 512})));
        assert_eq!(g.generation_time_seconds, None);
        assert_eq!(g.width, Some(512));
        assert_eq!(g.issues.0, vec!["generation_time"]);
        let q = QueueStats::from_body(&body(json!({"queue_size": null, "max_queue_size": "lots"})));
        assert_eq!(q.queue_size, None);
        assert_eq!(q.issues.0, vec!["max_queue_size"]);
    }
}
