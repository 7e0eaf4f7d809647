//! The control endpoints under `/_sim/`, for switching faults and GPUs from outside the process
//! (scripts, the compose demo). They are never subject to faults, never blocked by a running
//! generation, and stay reachable while the `down` fault refuses everything else.
//!
//! | method, path | body | answer |
//! | --- | --- | --- |
//! | GET /_sim/faults | | the faults in force (JSON of `Faults`) |
//! | PUT /_sim/faults | a `Faults` object; missing fields are off | the new faults |
//! | PATCH /_sim/faults | some `Faults` fields | the faults with those fields changed |
//! | GET /_sim/gpus | | `{"gpus": n, "devices": [SimGpu…]}` |
//! | PUT /_sim/gpus | `{"gpus": n}` or a bare `n` (0..=64) | as GET |
//! | GET /_sim/stats | | the counters (`SimStats`) |
//! | GET /_sim/config | | API version, time scale, queue size and timing model |
//!
//! A body that does not fit answers 422 `{"detail": "…"}` and changes nothing.

use super::config::MAX_SIM_GPUS;
use super::faults::Faults;
use super::respond;
use super::routes::{not_allowed, not_found, read_body};
use super::state::Shared;
use crate::cli::ApiVersion;
use axum::body::Body;
use axum::http::Method;
use axum::response::Response;
use serde_json::{Value, json};

fn unprocessable(msg: impl std::fmt::Display) -> Response {
    respond::json(422, &json!({ "detail": msg.to_string() }))
}

fn faults_answer(f: &Faults) -> Response {
    match serde_json::to_value(f) {
        Ok(v) => respond::json(200, &v),
        Err(e) => respond::json(500, &json!({ "detail": e.to_string() })),
    }
}

fn gpus_answer(shared: &Shared) -> Response {
    let devices = shared.gpu_memory();
    respond::json(200, &json!({ "gpus": devices.len(), "devices": devices }))
}

/// Parses a `Faults` body: a whole replacement (PUT) or a patch over `current` (PATCH).
pub fn parse_faults(bytes: &[u8], current: Option<&Faults>) -> Result<Faults, String> {
    let patch: Value = serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
    let Value::Object(patch) = patch else {
        return Err("expected a JSON object of faults".to_string());
    };
    let merged = match current {
        None => Value::Object(patch),
        Some(cur) => {
            let mut base = match serde_json::to_value(cur) {
                Ok(Value::Object(m)) => m,
                _ => serde_json::Map::new(),
            };
            base.extend(patch);
            Value::Object(base)
        }
    };
    let faults: Faults = serde_json::from_value(merged).map_err(|e| e.to_string())?;
    faults.validate()?;
    Ok(faults)
}

/// Parses a GPU count: `{"gpus": n}` or `n`.
pub fn parse_gpus(bytes: &[u8]) -> Result<u32, String> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
    let n = match &v {
        Value::Number(_) => v.as_u64(),
        Value::Object(m) => m.get("gpus").and_then(Value::as_u64),
        _ => None,
    }
    .ok_or_else(|| "expected {\"gpus\": n} with n a whole number".to_string())?;
    if n > MAX_SIM_GPUS as u64 {
        return Err(format!("gpus must be at most {MAX_SIM_GPUS}"));
    }
    Ok(n as u32)
}

fn config_answer(shared: &Shared) -> Response {
    let c = &shared.config;
    let t = &c.timing;
    let version = match c.api_version {
        ApiVersion::V1 => "v1",
        ApiVersion::V2 => "v2",
    };
    respond::json(
        200,
        &json!({
            "api_version": version,
            "service": c.service_name(),
            "time_scale": c.time_scale,
            "gpus": shared.gpu_memory().len(),
            "max_queue_size": c.max_queue_size,
            "blocking_status": c.blocking_status,
            "report_vram": c.report_vram,
            "slow_start_seconds": c.slow_start.as_secs_f64(),
            "rng_seed": c.rng_seed,
            "generation_time_decimals": c.time_decimals(),
            "timing": {
                "generation_seconds": t.generation_seconds,
                "overhead_seconds": t.overhead_seconds,
                "base_steps": t.base_steps,
                "base_pixels": t.base_pixels,
                "jitter": t.jitter,
                "v1_steps": t.v1_steps,
                "v2_generate_steps": t.v2_generate_steps,
                "failure_fraction": t.failure_fraction,
                "vram_model_gib": t.vram_model_gib,
                "vram_transient_gib": t.vram_transient_gib,
            },
        }),
    )
}

/// Handles one `/_sim/…` request.
pub async fn handle(shared: &Shared, method: &Method, path: &str, body: Body) -> Response {
    match (path, method) {
        ("/_sim/faults", &Method::GET) => faults_answer(&shared.faults()),
        ("/_sim/faults", &Method::PUT) | ("/_sim/faults", &Method::PATCH) => {
            let bytes = match read_body(body).await {
                Ok(b) => b,
                Err(r) => return r,
            };
            let current = (method == Method::PATCH).then(|| shared.faults());
            match parse_faults(&bytes, current.as_ref()) {
                Ok(f) => {
                    tracing::info!(faults = ?f, "simulator faults changed");
                    shared.set_faults(f.clone());
                    faults_answer(&f)
                }
                Err(e) => unprocessable(e),
            }
        }
        ("/_sim/faults", _) => not_allowed(),
        ("/_sim/gpus", &Method::GET) => gpus_answer(shared),
        ("/_sim/gpus", &Method::PUT) => {
            let bytes = match read_body(body).await {
                Ok(b) => b,
                Err(r) => return r,
            };
            match parse_gpus(&bytes) {
                Ok(n) => {
                    tracing::info!(gpus = n, "simulated GPUs changed");
                    shared.set_gpus(n as usize);
                    gpus_answer(shared)
                }
                Err(e) => unprocessable(e),
            }
        }
        ("/_sim/gpus", _) => not_allowed(),
        ("/_sim/stats", &Method::GET) => match serde_json::to_value(shared.stats()) {
            Ok(v) => respond::json(200, &v),
            Err(e) => respond::json(500, &json!({ "detail": e.to_string() })),
        },
        ("/_sim/stats", _) => not_allowed(),
        ("/_sim/config", &Method::GET) => config_answer(shared),
        ("/_sim/config", _) => not_allowed(),
        _ => not_found(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::faults::HealthMode;

    #[test]
    fn faults_are_replaced_or_patched() {
        let cur = Faults {
            error_rate: 0.5,
            ..Faults::default()
        };
        let put = parse_faults(br#"{"health": "loading"}"#, None).unwrap();
        assert_eq!(put.health, HealthMode::Loading);
        assert_eq!(put.error_rate, 0.0);
        let patched = parse_faults(br#"{"health": "loading"}"#, Some(&cur)).unwrap();
        assert_eq!(patched.health, HealthMode::Loading);
        assert_eq!(patched.error_rate, 0.5);
        assert!(parse_faults(br#"{"error_rate": 2}"#, None).is_err());
        assert!(parse_faults(br#"{"nonsense": 1}"#, Some(&cur)).is_err());
        assert!(parse_faults(b"[]", None).is_err());
        assert!(parse_faults(b"{", None).is_err());
    }

    #[test]
    fn gpu_counts() {
        assert_eq!(parse_gpus(b"3"), Ok(3));
        assert_eq!(parse_gpus(br#"{"gpus": 0}"#), Ok(0));
        assert!(parse_gpus(b"65").is_err());
        assert!(parse_gpus(b"-1").is_err());
        assert!(parse_gpus(br#"{"gpus": "two"}"#).is_err());
        assert!(parse_gpus(b"1.5").is_err());
    }
}
