//! Reading results files back into a [`BenchResults`]: fluxprobe's own (exactly what was
//! written) and the seed tool's (records rebuilt from its wall-clock times). Every field is read
//! tolerantly: missing, null or garbage values fall back to "unknown", never to a panic.
//!
//! For a seed file, the phase clock starts at the earliest `start_time`; each request's
//! intended and sent times are its `start_time` relative to it, and it ends `response_time`
//! later (or at `end_time` when there is no usable response time). The outcome comes from
//! `success`, `status_code` and `error_message`: a non-2xx status is classified like a live
//! answer; with no status the message decides, and an empty one is a timeout (the seed's HTTP
//! library raises its timeout with an empty message).

use super::ResultsError;
use crate::api::units;
use crate::bench::model::{BenchResults, Load, PhaseResult, RunConfig, SystemStatus};
use crate::bench::summary::phase_name;
use crate::cli::TestType;
use crate::outcome::Outcome;
use crate::probe::{ProbeMode, ProbeRecord, classify_error_status};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// The `tool_version` given to results read from a seed tool's file.
pub const SEED_VERSION: &str = "seed";

/// Reads and parses a results file.
pub fn read_file(path: &Path) -> Result<BenchResults, ResultsError> {
    let bytes = std::fs::read(path).map_err(|source| ResultsError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|source| ResultsError::NotJson {
        path: path.to_path_buf(),
        source,
    })?;
    from_json(&value)
}

/// Rebuilds results from a results file's JSON, fluxprobe's or the seed tool's.
pub fn from_json(v: &Value) -> Result<BenchResults, ResultsError> {
    let root = v.as_object().ok_or(ResultsError::NotAnObject)?;
    let entries: Vec<&Map<String, Value>> = match root.get("test_results") {
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_object).collect(),
        Some(Value::Null) | None => {
            if root.get("fluxprobe").is_some_and(Value::is_object) {
                Vec::new()
            } else {
                return Err(ResultsError::NoResults);
            }
        }
        Some(_) => return Err(ResultsError::NoResults),
    };
    let empty = Map::new();
    let test_config = root
        .get("test_config")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let fluxprobe = root.get("fluxprobe").and_then(Value::as_object);
    let mut config = read_config(test_config);
    let system_status = read_status(root.get("system_status"));
    let interrupted = root
        .get("interrupted")
        .and_then(Value::as_bool)
        .unwrap_or(false);

    let (tool_version, phases) = match fluxprobe {
        Some(fp) => {
            let version = fp
                .get("version")
                .and_then(Value::as_str)
                .unwrap_or("unknown")
                .to_string();
            if let Some(s) = fp.get("schema_version").and_then(Value::as_u64)
                && s > super::SCHEMA_VERSION
            {
                tracing::warn!(
                    schema_version = s,
                    "results file is newer than this fluxprobe; reading what it knows"
                );
            }
            (version, fluxprobe_phases(fp, &entries, &config))
        }
        None => {
            let phase = seed_phase(&entries, &config);
            if config.width == 0
                && let Some(r) = phase.records.first()
            {
                config.width = r.width;
                config.height = r.height;
            }
            (SEED_VERSION.to_string(), vec![phase])
        }
    };
    Ok(BenchResults {
        config,
        system_status,
        phases,
        interrupted,
        tool_version,
    })
}

fn text(m: &Map<String, Value>, k: &str) -> Option<String> {
    units::text(m.get(k)).ok()
}

fn num(m: &Map<String, Value>, k: &str) -> Option<f64> {
    units::number(m.get(k)).ok()
}

fn whole(m: &Map<String, Value>, k: &str) -> Option<u64> {
    // Exact for integers beyond 2^53 (byte counts); tolerant of "3" and 3.0 otherwise.
    m.get(k)
        .and_then(Value::as_u64)
        .or_else(|| units::count(m.get(k)).ok())
}

fn small(m: &Map<String, Value>, k: &str) -> Option<u32> {
    whole(m, k).and_then(|n| u32::try_from(n).ok())
}

fn flag(m: &Map<String, Value>, k: &str) -> Option<bool> {
    units::boolean(m.get(k)).ok()
}

fn read_test_type(m: &Map<String, Value>) -> TestType {
    match text(m, "test_type").as_deref().map(str::trim) {
        Some("queue") => TestType::Queue,
        Some("both") => TestType::Both,
        _ => TestType::Concurrent,
    }
}

fn read_config(m: &Map<String, Value>) -> RunConfig {
    RunConfig {
        url: text(m, "url").unwrap_or_default(),
        requests: whole(m, "requests").unwrap_or(0),
        concurrent: small(m, "concurrent").unwrap_or(0),
        test_type: read_test_type(m),
        rate: num(m, "rate"),
        duration_seconds: num(m, "duration_seconds"),
        timeout_seconds: num(m, "timeout_seconds").unwrap_or(0.0),
        warmup: whole(m, "warmup").unwrap_or(0),
        steps: small(m, "steps").unwrap_or(0),
        guidance: num(m, "guidance").unwrap_or(0.0),
        width: small(m, "width").unwrap_or(0),
        height: small(m, "height").unwrap_or(0),
        seed: text(m, "seed").unwrap_or_else(|| "unknown".to_string()),
        prompt_count: whole(m, "prompt_count")
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(0),
        header_names: m
            .get("header_names")
            .and_then(Value::as_array)
            .map(|l| {
                l.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
        slo: text(m, "slo"),
        simulated: flag(m, "simulated").unwrap_or(false),
    }
}

fn read_status(v: Option<&Value>) -> SystemStatus {
    let Some(m) = v.and_then(Value::as_object) else {
        return SystemStatus::default();
    };
    let body = |k: &str| m.get(k).filter(|v| !v.is_null()).cloned();
    SystemStatus {
        health: body("health"),
        model_status: body("model_status"),
        gpu_info: body("gpu_info"),
        queue_stats: body("queue_stats"),
        errors: m
            .get("errors")
            .and_then(Value::as_object)
            .map(|e| {
                e.iter()
                    .filter_map(|(k, v)| units::text(Some(v)).ok().map(|s| (k.clone(), s)))
                    .collect()
            })
            .unwrap_or_default(),
        timestamp: text(m, "timestamp"),
    }
}

fn mode_of(test_type: TestType) -> ProbeMode {
    match test_type {
        TestType::Queue => ProbeMode::Queue,
        TestType::Concurrent | TestType::Both => ProbeMode::Generate,
    }
}

fn closed_load(config: &RunConfig, records: usize) -> Load {
    Load::Closed {
        requests: if config.requests > 0 {
            config.requests
        } else {
            records as u64
        },
        concurrency: config.concurrent,
    }
}

/// Most requests in flight at once, from their [sent, done] intervals (an end before a start at
/// the same instant).
fn peak_overlap(records: &[ProbeRecord]) -> u32 {
    let mut events: Vec<(f64, i32)> = records
        .iter()
        .flat_map(|r| [(r.sent, 1), (r.done.max(r.sent), -1)])
        .collect();
    events.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let (mut now, mut peak) = (0i32, 0i32);
    for (_, d) in events {
        now += d;
        peak = peak.max(now);
    }
    peak as u32
}

/// "512x512" → (512, 512).
fn image_size(s: &str) -> Option<(u32, u32)> {
    let (w, h) = s.trim().split_once(['x', 'X', '×'])?;
    Some((w.trim().parse().ok()?, h.trim().parse().ok()?))
}

/// The outcome of a seed entry (see the module documentation).
pub fn seed_outcome(success: Option<bool>, status: Option<u16>, message: &str) -> Outcome {
    let is_2xx = |s: u16| (200..300).contains(&s);
    let success =
        success.unwrap_or_else(|| status.is_some_and(is_2xx) && message.trim().is_empty());
    if success {
        return Outcome::Success;
    }
    match status {
        Some(s) if !is_2xx(s) => classify_error_status(s, Some(message)),
        Some(_) => Outcome::InvalidBody,
        None => outcome_from_message(message),
    }
}

fn outcome_from_message(message: &str) -> Outcome {
    let m = message.trim().to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| m.contains(w));
    if m.is_empty() || has(&["timeout", "timed out"]) {
        Outcome::Timeout
    } else if has(&["certificate", "sslerror", "ssl handshake", "tls"]) {
        Outcome::Tls
    } else if has(&[
        "cannot connect",
        "connection refused",
        "connect call failed",
        "name or service not known",
        "nodename nor servname",
        "no route to host",
    ]) {
        Outcome::Connect
    } else if has(&["cancelled", "canceled", "interrupted", "keyboardinterrupt"]) {
        Outcome::Aborted
    } else {
        Outcome::Transport
    }
}

/// One record from a `test_results` entry. `base` is the phase's unix start (subtracted from
/// the seed's wall-clock times when the entry has no monotonic offsets).
fn read_record(
    e: &Map<String, Value>,
    index: usize,
    base: f64,
    mode: ProbeMode,
    config: &RunConfig,
) -> ProbeRecord {
    let start_rel = num(e, "start_time").map(|t| t - base);
    let intended = num(e, "intended_time").or(start_rel).unwrap_or(0.0);
    let sent = num(e, "sent_time").unwrap_or(intended);
    let done = num(e, "done_time")
        .or_else(|| {
            units::seconds(e.get("response_time"))
                .ok()
                .map(|rt| intended + rt)
        })
        .or_else(|| num(e, "end_time").map(|t| t - base))
        .unwrap_or(intended);
    let http_status = whole(e, "status_code")
        .filter(|s| (100..=999).contains(s))
        .map(|s| s as u16);
    let error = text(e, "error_message").filter(|s| !s.is_empty());
    let outcome = text(e, "outcome")
        .and_then(|o| Outcome::parse(&o))
        .unwrap_or_else(|| {
            seed_outcome(
                flag(e, "success"),
                http_status,
                error.as_deref().unwrap_or(""),
            )
        });
    let vram_raw = text(e, "vram_usage");
    let vram_bytes = if e.contains_key("vram_bytes") {
        num(e, "vram_bytes")
    } else {
        units::gib_bytes(e.get("vram_usage")).ok()
    };
    let (width, height) = text(e, "image_size")
        .as_deref()
        .and_then(image_size)
        .or_else(|| Some((small(e, "width")?, small(e, "height")?)))
        .unwrap_or((config.width, config.height));
    let seq = whole(e, "seq")
        .or_else(|| {
            text(e, "request_id")
                .as_deref()
                .and_then(|id| id.rsplit('_').next()?.parse().ok())
        })
        .unwrap_or(index as u64);
    ProbeRecord {
        seq,
        warmup: flag(e, "warmup").unwrap_or(false),
        mode,
        intended,
        sent,
        first_byte: num(e, "first_byte_time"),
        done,
        outcome,
        http_status,
        error,
        generation_time: units::seconds(e.get("generation_time")).ok(),
        vram_bytes,
        vram_raw,
        bytes_received: whole(e, "bytes_received").unwrap_or(0),
        width,
        height,
        steps: small(e, "steps").unwrap_or(config.steps),
        server_request_id: text(e, "server_request_id"),
        server_queue_wait: num(e, "server_queue_wait"),
        server_service_time: num(e, "server_service_time"),
        parse_issues: e
            .get("parse_issues")
            .and_then(Value::as_array)
            .map(|l| {
                l.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
    }
}

fn seed_phase(entries: &[&Map<String, Value>], config: &RunConfig) -> PhaseResult {
    let base = entries
        .iter()
        .filter_map(|e| num(e, "start_time"))
        .reduce(f64::min)
        .unwrap_or(0.0);
    let mode = mode_of(config.test_type);
    let records: Vec<ProbeRecord> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| read_record(e, i, base, mode, config))
        .collect();
    PhaseResult {
        test_type: mode,
        load: closed_load(config, records.len()),
        wall_start: base,
        peak_in_flight: peak_overlap(&records),
        skipped: 0,
        not_started: 0,
        interrupted: false,
        records,
    }
}

fn fluxprobe_phases(
    fp: &Map<String, Value>,
    entries: &[&Map<String, Value>],
    config: &RunConfig,
) -> Vec<PhaseResult> {
    let declared: Vec<&Map<String, Value>> = fp
        .get("phases")
        .and_then(Value::as_array)
        .map(|l| l.iter().filter_map(Value::as_object).collect())
        .unwrap_or_default();
    if declared.is_empty() {
        return if entries.is_empty() {
            Vec::new()
        } else {
            vec![seed_phase(entries, config)]
        };
    }
    let mut names: Vec<String> = Vec::new();
    let mut phases: Vec<PhaseResult> = Vec::new();
    for p in &declared {
        let test_type: ProbeMode = p
            .get("test_type")
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or(mode_of(config.test_type));
        names.push(text(p, "name").unwrap_or_else(|| phase_name(test_type).to_string()));
        phases.push(PhaseResult {
            test_type,
            load: p
                .get("load")
                .and_then(|v| serde_json::from_value(v.clone()).ok())
                .unwrap_or_else(|| closed_load(config, 0)),
            wall_start: num(p, "wall_start").unwrap_or(0.0),
            records: Vec::new(),
            skipped: whole(p, "skipped").unwrap_or(0),
            not_started: whole(p, "not_started").unwrap_or(0),
            interrupted: flag(p, "interrupted").unwrap_or(false),
            peak_in_flight: small(p, "peak_in_flight").unwrap_or(0),
        });
    }
    let index: BTreeMap<&str, usize> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    for (i, e) in entries.iter().enumerate() {
        // An entry of no known phase goes to the first one rather than being lost.
        let k = text(e, "phase")
            .and_then(|n| index.get(n.as_str()).copied())
            .unwrap_or(0);
        let phase = &mut phases[k];
        let record = read_record(e, i, phase.wall_start, phase.test_type, config);
        phase.records.push(record);
    }
    phases
}
