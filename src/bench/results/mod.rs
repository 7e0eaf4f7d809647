//! The results file: a bench run as JSON in the seed tool's schema (so its scripts keep working)
//! with fluxprobe's additions beside the seed's keys, written atomically; and reading such files
//! back, fluxprobe's and the seed's alike ([`read`]).
//!
//! Layout:
//! - `test_config`: the seed's `url`, `requests`, `concurrent`, `test_type`, then every other
//!   setting of the run;
//! - `system_status`: the seed's `model_status`, `gpu_info`, `queue_stats`, `timestamp` (raw
//!   bodies as the server sent them), plus `health` and `errors` (endpoint → reason);
//! - `test_results`: one entry per request with the seed's keys (`request_id`, `start_time`,
//!   `end_time` in unix seconds, `response_time`, `status_code` 0 when there was none, `success`,
//!   `error_message` "" when none, `generation_time`, `vram_usage` as the server wrote it,
//!   `image_size`), plus `phase`, `outcome`, `warmup`, the monotonic offsets `intended_time`,
//!   `sent_time`, `first_byte_time`, `done_time` (seconds from the phase's `wall_start`),
//!   `service_time`, `queue_wait` and the queue mode's server figures;
//! - `summary`: phase name → the phase's figures ([`crate::bench::summary::PhaseSummary`]);
//! - `fluxprobe`: `version`, `schema_version`, `percentile_method` ("nearest-rank"),
//!   `median_method`, `interval_method` (how each percentile's confidence interval is
//!   computed), and the phases (load, clock anchor, skipped and unstarted counts, why sending
//!   stopped early);
//! - every summary's percentiles: `p50`…`p99` (null below the count that can claim them at the
//!   run's `confidence`), and `percentiles` with each one's `value`, `rank`, `lower`, `upper`,
//!   `upper_bound` and `needed_samples`;
//! - `interrupted`.

pub mod read;
#[cfg(test)]
mod tests;

pub use read::{from_json, read_file};

use crate::bench::model::{BenchResults, PhaseResult, RunConfig, SystemStatus};
use crate::bench::summary::{phase_names, summarize};
use crate::probe::ProbeRecord;
use crate::stats::{INTERVAL_METHOD, MEDIAN_METHOD, PERCENTILE_METHOD};
use serde_json::{Map, Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Version of the layout under the `fluxprobe` key; bumped when a key changes meaning.
pub const SCHEMA_VERSION: u64 = 1;

/// Why a results file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not JSON: {source}")]
    NotJson {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("not a results file: the JSON is not an object")]
    NotAnObject,
    #[error("not a results file: no \"test_results\" list")]
    NoResults,
}

/// The default file name, from local time: `throughput_test_results_YYYYMMDD_HHMMSS.json`.
pub fn default_results_name<Tz: chrono::TimeZone>(now: &chrono::DateTime<Tz>) -> String
where
    Tz::Offset: std::fmt::Display,
{
    now.format("throughput_test_results_%Y%m%d_%H%M%S.json")
        .to_string()
}

/// The results as JSON (see the module documentation for the layout).
pub fn to_json(results: &BenchResults) -> Value {
    let names = phase_names(&results.phases);
    let mut test_results = Vec::new();
    for (phase, name) in results.phases.iter().zip(&names) {
        for r in &phase.records {
            test_results.push(record_json(r, phase, name));
        }
    }
    let summary: Map<String, Value> = summarize(results)
        .into_iter()
        .map(|s| {
            let name = s.name.clone();
            (name, serde_json::to_value(s).unwrap_or(Value::Null))
        })
        .collect();
    let phases: Vec<Value> = results
        .phases
        .iter()
        .zip(&names)
        .map(|(p, name)| {
            json!({
                "name": name,
                "test_type": p.test_type,
                "load": p.load,
                "wall_start": p.wall_start,
                "skipped": p.skipped,
                "not_started": p.not_started,
                "interrupted": p.interrupted,
                "peak_in_flight": p.peak_in_flight,
                "stopped_early": p.stopped_early,
            })
        })
        .collect();
    json!({
        "test_config": config_json(&results.config),
        "system_status": status_json(&results.system_status),
        "test_results": test_results,
        "summary": summary,
        "fluxprobe": {
            "version": results.tool_version,
            "schema_version": SCHEMA_VERSION,
            "percentile_method": PERCENTILE_METHOD,
            "median_method": MEDIAN_METHOD,
            "interval_method": INTERVAL_METHOD,
            "phases": phases,
        },
        "interrupted": results.interrupted,
    })
}

/// A machine-readable summary for `--json`: what the run was, and each phase's figures.
pub fn summary_json(results: &BenchResults) -> Value {
    let summary: Map<String, Value> = summarize(results)
        .into_iter()
        .map(|s| {
            let name = s.name.clone();
            (name, serde_json::to_value(s).unwrap_or(Value::Null))
        })
        .collect();
    json!({
        "test_config": config_json(&results.config),
        "summary": summary,
        "interrupted": results.interrupted,
        "fluxprobe": {
            "version": results.tool_version,
            "schema_version": SCHEMA_VERSION,
            "percentile_method": PERCENTILE_METHOD,
            "median_method": MEDIAN_METHOD,
            "interval_method": INTERVAL_METHOD,
        },
    })
}

fn config_json(c: &RunConfig) -> Value {
    serde_json::to_value(c).unwrap_or_else(|_| json!({}))
}

fn status_json(s: &SystemStatus) -> Value {
    json!({
        "model_status": s.model_status,
        "gpu_info": s.gpu_info,
        "queue_stats": s.queue_stats,
        "timestamp": s.timestamp,
        "health": s.health,
        "errors": s.errors,
    })
}

fn record_json(r: &ProbeRecord, phase: &PhaseResult, name: &str) -> Value {
    json!({
        "request_id": r.request_id(),
        "start_time": phase.wall_start + r.intended,
        "end_time": phase.wall_start + r.done,
        "response_time": r.response_time(),
        "status_code": r.http_status.unwrap_or(0),
        "success": r.is_success(),
        "error_message": r.error.clone().unwrap_or_default(),
        "generation_time": r.generation_time,
        "vram_usage": r.vram_raw,
        "image_size": format!("{}x{}", r.width, r.height),
        "phase": name,
        "outcome": r.outcome,
        "warmup": r.warmup,
        "seq": r.seq,
        "intended_time": r.intended,
        "sent_time": r.sent,
        "first_byte_time": r.first_byte,
        "done_time": r.done,
        "service_time": r.service_time(),
        "queue_wait": r.response_minus_generation(),
        "server_request_id": r.server_request_id,
        "server_queue_wait": r.server_queue_wait,
        "server_service_time": r.server_service_time,
        "vram_bytes": r.vram_bytes,
        "bytes_received": r.bytes_received,
        "steps": r.steps,
        "parse_issues": r.parse_issues,
    })
}

/// Writes `value` to `path` atomically: a temporary file in the same directory, flushed to disk,
/// then renamed over `path`. A reader never sees a half-written file; on error `path` is left
/// as it was.
pub fn write_atomic(path: &Path, value: &Value) -> Result<(), ResultsError> {
    let err = |source| ResultsError::Write {
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".fluxprobe-").suffix(".json.tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // An ordinary results file (the umask still applies), not the temp file's 0600.
        builder.permissions(std::fs::Permissions::from_mode(0o644));
    }
    let mut tmp = builder.tempfile_in(dir).map_err(err)?;
    serde_json::to_writer_pretty(&mut tmp, value).map_err(|e| err(e.into()))?;
    tmp.write_all(b"\n").map_err(err)?;
    tmp.as_file().sync_all().map_err(err)?;
    tmp.persist(path).map_err(|e| err(e.error))?;
    // Make the rename itself durable (best effort: not every platform can open a directory).
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Writes the results file (see [`to_json`], [`write_atomic`]).
pub fn save(results: &BenchResults, path: &Path) -> Result<(), ResultsError> {
    write_atomic(path, &to_json(results))
}
