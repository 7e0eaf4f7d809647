//! Public snapshots of a running simulator: its counters ([`SimStats`]) and the memory of each
//! GPU exactly as /gpu-info reports it ([`SimGpu`]), for tests and the control endpoint.

use super::bodies::{GIB, GpuFigures};
use super::gpu::GpuMemory;
use serde::{Deserialize, Serialize};

/// Counters since start. Control requests (`/_sim/…`) are not counted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimStats {
    /// Requests to the simulated API (anything but `/_sim/…`), connections refused excluded.
    pub requests: u64,
    /// POST /generate and /generate-and-return-image received.
    pub generate_requests: u64,
    /// Generate requests answered 200 with an intact body.
    pub generate_ok: u64,
    /// Queue-mode requests accepted by /submit-request.
    pub submitted: u64,
    /// /submit-request answered "Queue is full".
    pub rejected_queue_full: u64,
    /// 422 answers (real validation errors and the `validation_error` fault).
    pub validation_errors: u64,
    /// Generate requests refused for an empty prompt.
    pub empty_prompts: u64,
    /// Generations that ran to the end on a GPU (synchronous and queue mode).
    pub generations_completed: u64,
    /// Generations that failed on a GPU (injected error, out of memory, bad request).
    pub generations_failed: u64,
    /// Queue-mode requests cancelled before they started.
    pub cancelled: u64,
    /// Requests held without an answer (the hang fault).
    pub hung: u64,
    /// Answers cut off mid-body (the reset fault).
    pub resets: u64,
    /// 200 answers with a malformed body.
    pub malformed: u64,
    /// 200 answers with a huge body.
    pub huge_bodies: u64,
    /// Status requests (/health, /ready, /live, /model-status, /gpu-info, /queue-stats).
    pub status_requests: u64,
    /// Status requests answered 500 (the status_fail fault).
    pub status_failures: u64,
    /// Status requests that waited for the generation on GPU 0.
    pub status_blocked: u64,
    /// Connections closed unanswered while the server was down.
    pub refused_connections: u64,
    /// Generations running at the moment of the snapshot.
    pub generations_running: u64,
    /// Generations waiting for a GPU (or for the model) at the moment of the snapshot.
    pub generations_waiting: u64,
}

/// One simulated GPU as /gpu-info reports it: the strings it sends and the byte figures a
/// client reading them gets (string × 1024³, rounded to whole bytes). These are the real figures even while the
/// `figures` fault hides them from the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimGpu {
    pub index: u32,
    pub name: String,
    pub compute_capability: String,
    /// "31.4"
    pub total_gb: String,
    pub allocated_gb: String,
    pub free_gb: String,
    pub total_bytes: f64,
    pub allocated_bytes: f64,
    pub free_bytes: f64,
}

/// Whole bytes of a GiB string ("31.4" → 31.4 × 1024³, rounded to the byte).
fn bytes_of(s: &str) -> f64 {
    s.parse::<f64>().map(|g| (g * GIB).round()).unwrap_or(0.0)
}

impl SimGpu {
    pub(crate) fn of(m: &GpuMemory, name: &str, compute_capability: &str) -> SimGpu {
        let f = GpuFigures::of(m);
        SimGpu {
            index: m.index as u32,
            name: name.to_string(),
            compute_capability: compute_capability.to_string(),
            total_bytes: bytes_of(&f.total_gb),
            allocated_bytes: bytes_of(&f.allocated_gb),
            free_bytes: bytes_of(&f.free_gb),
            total_gb: f.total_gb,
            allocated_gb: f.allocated_gb,
            free_gb: f.free_gb,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::units::{Parsed, gib_bytes};
    use serde_json::json;

    #[test]
    fn byte_figures_equal_what_a_client_reads() {
        let m = GpuMemory {
            index: 1,
            total_bytes: 31.36 * GIB,
            allocated_bytes: 8.87 * GIB,
        };
        let g = SimGpu::of(&m, "NVIDIA GeForce RTX 5090", "12.0");
        assert_eq!(g.total_gb, "31.4");
        assert_eq!(g.allocated_gb, "8.9");
        assert_eq!(g.free_gb, "22.5");
        for (s, b) in [
            (&g.total_gb, g.total_bytes),
            (&g.allocated_gb, g.allocated_bytes),
            (&g.free_gb, g.free_bytes),
        ] {
            assert_eq!(gib_bytes(Some(&json!(s))), Parsed::Ok(b));
        }
    }
}
