//! The in-memory result of a bench run: what the drivers produce and what the report, the JSON
//! file and the plots read. One [`BenchResults`] holds the configuration, the system status seen
//! before the run, and one [`PhaseResult`] per test type that ran.

use crate::cli::TestType;
use crate::outcome::Outcome;
use crate::probe::{ProbeMode, ProbeRecord};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// The offered load of a phase.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Load {
    /// N requests, at most C in flight (the seed's mode).
    Closed { requests: u64, concurrency: u32 },
    /// R requests per second for D seconds, whatever the answers.
    Open {
        rate: f64,
        duration_seconds: f64,
        max_in_flight: u32,
    },
}

/// What the run was asked to do. Header values are never kept here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    /// The target URL, credentials redacted.
    pub url: String,
    pub requests: u64,
    pub concurrent: u32,
    pub test_type: TestType,
    pub rate: Option<f64>,
    pub duration_seconds: Option<f64>,
    pub timeout_seconds: f64,
    pub warmup: u64,
    pub steps: u32,
    pub guidance: f64,
    pub width: u32,
    pub height: u32,
    /// "none", "random" or the number.
    pub seed: String,
    pub prompt_count: usize,
    /// Names of the extra headers sent (values never kept).
    pub header_names: Vec<String>,
    pub slo: Option<String>,
    /// True when the target was the in-process simulated API.
    pub simulated: bool,
    /// Confidence level of the percentile intervals (`--confidence`).
    #[serde(default = "default_confidence")]
    pub confidence: f64,
    /// Confidence of the `--slo` verdicts (`--slo-confidence`).
    #[serde(default = "default_slo_confidence")]
    pub slo_confidence: f64,
    /// Open loop: how sends are spaced ("constant", "poisson", "gamma:0.5").
    #[serde(default = "default_arrivals")]
    pub arrivals: String,
    /// Open loop: seed of the send schedule (Poisson and gamma arrivals).
    #[serde(default)]
    pub arrival_seed: u64,
}

fn default_confidence() -> f64 {
    crate::stats::DEFAULT_CONFIDENCE
}

fn default_slo_confidence() -> f64 {
    crate::stats::early_stopping::LOADGEN_CONFIDENCE
}

fn default_arrivals() -> String {
    "constant".to_string()
}

/// The four status bodies as the server sent them (raw JSON objects, as the seed saves them),
/// and why each one that is missing could not be read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SystemStatus {
    pub health: Option<Value>,
    pub model_status: Option<Value>,
    pub gpu_info: Option<Value>,
    pub queue_stats: Option<Value>,
    /// endpoint label → short reason ("connect: connection refused", "invalid_body: …").
    pub errors: BTreeMap<String, String>,
    /// Local time of the check, ISO 8601 (the seed's format).
    pub timestamp: Option<String>,
}

/// One test type's run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseResult {
    pub test_type: ProbeMode,
    pub load: Load,
    /// Unix seconds of the phase clock's zero: record times are offsets from it.
    pub wall_start: f64,
    /// Every probe started, warm-up ones flagged, in start order.
    pub records: Vec<ProbeRecord>,
    /// Open loop: sends skipped because max_in_flight was reached.
    pub skipped: u64,
    /// Requests of the plan never started (interrupted before their turn).
    pub not_started: u64,
    /// Ctrl-C stopped this phase early.
    pub interrupted: bool,
    /// Highest number of requests in flight at once.
    pub peak_in_flight: u32,
    /// Why the phase stopped sending before its plan was done, other than an interruption
    /// (e.g. `--stop-on-saturation`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_early: Option<String>,
}

impl PhaseResult {
    /// Records that count in statistics (warm-up excluded).
    pub fn measured(&self) -> impl Iterator<Item = &ProbeRecord> {
        self.records.iter().filter(|r| !r.warmup)
    }
}

/// True when there are records, nothing got through, and every failure says the target could
/// not be reached or was not ready (exit code 4 of bench and sweep).
pub fn target_unavailable<'a>(records: impl IntoIterator<Item = &'a ProbeRecord>) -> bool {
    let mut any = false;
    for r in records {
        any = true;
        if !matches!(
            r.outcome,
            Outcome::Connect | Outcome::Tls | Outcome::NotReady
        ) {
            return false;
        }
    }
    any
}

/// A whole bench run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchResults {
    pub config: RunConfig,
    pub system_status: SystemStatus,
    pub phases: Vec<PhaseResult>,
    /// Ctrl-C ended the run early.
    pub interrupted: bool,
    /// fluxprobe's version that measured it, or "seed" for a file of the seed tool.
    pub tool_version: String,
}
