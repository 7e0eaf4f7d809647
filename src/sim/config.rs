//! The simulator's configuration: GPU count, time scale, API generation, timing and memory model,
//! and the faults it starts with. Built from `fluxprobe simulate`'s arguments or by hand in tests.

use super::faults::Faults;
use crate::cli::{ApiVersion, SimulateArgs};
use std::time::Duration;

/// Most GPUs a simulated server can have (the client reads at most this many from /gpu-info).
pub const MAX_SIM_GPUS: u32 = crate::api::wire::MAX_GPUS as u32;

/// How long a generation takes and how much memory it holds, in real (unscaled) units.
///
/// Generation seconds = `generation_seconds` × (steps / `base_steps`) × (width·height /
/// `base_pixels`) × (1 + jitter), jitter in `[0, jitter]`; the GPU is then busy for that plus
/// `overhead_seconds`. Both are multiplied by the time scale.
#[derive(Debug, Clone, PartialEq)]
pub struct TimingModel {
    /// Generation time at `base_steps` and `base_pixels` (1.72 s: FP4 FLUX on an RTX 5090).
    pub generation_seconds: f64,
    /// Time the GPU stays busy after the generation (saving the PNG, bookkeeping): 0.08 s.
    pub overhead_seconds: f64,
    /// Steps at which `generation_seconds` was measured (10).
    pub base_steps: u32,
    /// Pixels at which `generation_seconds` was measured (512 × 512).
    pub base_pixels: u64,
    /// Largest relative slow-down added to a generation (0.01 = up to +1 %). The draw is skewed
    /// towards 0, like the recorded runs (mostly 1.72 s, now and then 1.74 or 1.76 s).
    pub jitter: f64,
    /// Steps the older API always runs.
    pub v1_steps: u32,
    /// Steps the newer API runs on POST /generate, whatever was asked.
    pub v2_generate_steps: u32,
    /// A failing generation (injected error, out of memory) holds its GPU for this share of the
    /// service time before it fails.
    pub failure_fraction: f64,
    /// VRAM the loaded model holds on each GPU (GiB; "8.9" in the captured /gpu-info).
    pub vram_model_gib: f64,
    /// Extra VRAM a running generation holds at `base_pixels` (GiB), growing with the pixels.
    pub vram_transient_gib: f64,
}

impl Default for TimingModel {
    fn default() -> Self {
        TimingModel {
            generation_seconds: 1.72,
            overhead_seconds: 0.08,
            base_steps: 10,
            base_pixels: 512 * 512,
            jitter: 0.01,
            v1_steps: 10,
            v2_generate_steps: 20,
            failure_fraction: 0.25,
            vram_model_gib: 8.87,
            vram_transient_gib: 1.5,
        }
    }
}

/// The simulated hardware, as /gpu-info and /model-status describe it.
#[derive(Debug, Clone, PartialEq)]
pub struct HardwareModel {
    pub gpu_name: String,
    /// torch's total memory of one GPU in GiB (31.36: shown as "31.4").
    pub gpu_total_gib: f64,
    pub compute_capability: String,
    pub system_memory_total_gib: f64,
    pub system_memory_used_gib: f64,
}

impl Default for HardwareModel {
    fn default() -> Self {
        HardwareModel {
            gpu_name: "NVIDIA GeForce RTX 5090".to_string(),
            gpu_total_gib: 31.36,
            compute_capability: "12.0".to_string(),
            system_memory_total_gib: 377.54,
            system_memory_used_gib: 144.09,
        }
    }
}

/// Everything the simulator needs to start.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// Simulated GPUs (0 ..= [`MAX_SIM_GPUS`]; 0 looks like a host without CUDA).
    pub gpus: u32,
    /// Multiplies every simulated duration: 1 = real timings, 0.01 = 100× faster, 0 = instant.
    pub time_scale: f64,
    pub api_version: ApiVersion,
    /// Faults in force at start (changeable at run time).
    pub faults: Faults,
    /// Model loading time at start, unscaled (the wait is `slow_start × time_scale`).
    pub slow_start: Duration,
    /// Capacity of the queue mode (`max_queue_size`).
    pub max_queue_size: u32,
    /// Seed of every random draw (faults, jitter, ids).
    pub rng_seed: u64,
    pub timing: TimingModel,
    pub hardware: HardwareModel,
    /// Status endpoints wait for the generation running on GPU 0, as the real server does.
    pub blocking_status: bool,
    /// POST /generate answers in the shape that carries `vram_usage_gb` (generate.with-vram).
    pub report_vram: bool,
    /// Finished queue-mode requests kept for /request-status (oldest forgotten first).
    pub request_retention: usize,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            gpus: 1,
            time_scale: 1.0,
            api_version: ApiVersion::V1,
            faults: Faults::default(),
            slow_start: Duration::ZERO,
            max_queue_size: 100,
            rng_seed: 1,
            timing: TimingModel::default(),
            hardware: HardwareModel::default(),
            blocking_status: true,
            report_vram: false,
            request_retention: 10_000,
        }
    }
}

/// A configuration the simulator cannot run with.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid simulator configuration: {0}")]
pub struct SimConfigError(pub String);

fn finite_non_negative(name: &str, v: f64) -> Result<(), SimConfigError> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(SimConfigError(format!(
            "{name} must be a finite number ≥ 0, got {v}"
        )))
    }
}

impl SimConfig {
    /// Checks every figure; the simulator refuses to start otherwise.
    pub fn validate(&self) -> Result<(), SimConfigError> {
        if self.gpus > MAX_SIM_GPUS {
            return Err(SimConfigError(format!(
                "gpus must be at most {MAX_SIM_GPUS}, got {}",
                self.gpus
            )));
        }
        finite_non_negative("time_scale", self.time_scale)?;
        let t = &self.timing;
        finite_non_negative("generation_seconds", t.generation_seconds)?;
        finite_non_negative("overhead_seconds", t.overhead_seconds)?;
        finite_non_negative("jitter", t.jitter)?;
        finite_non_negative("failure_fraction", t.failure_fraction)?;
        finite_non_negative("vram_model_gib", t.vram_model_gib)?;
        finite_non_negative("vram_transient_gib", t.vram_transient_gib)?;
        if t.base_steps == 0 || t.base_pixels == 0 {
            return Err(SimConfigError(
                "base_steps and base_pixels must be positive".to_string(),
            ));
        }
        let h = &self.hardware;
        finite_non_negative("gpu_total_gib", h.gpu_total_gib)?;
        finite_non_negative("system_memory_total_gib", h.system_memory_total_gib)?;
        finite_non_negative("system_memory_used_gib", h.system_memory_used_gib)?;
        if self.time_scale > 0.0 && self.slow_start.as_secs_f64() * self.time_scale > 1e9 {
            return Err(SimConfigError("slow_start is too long".to_string()));
        }
        self.faults.validate().map_err(SimConfigError)
    }

    /// A real duration scaled by the time scale.
    pub fn scaled(&self, seconds: f64) -> Duration {
        let s = seconds * self.time_scale;
        if s.is_nan() || s <= 0.0 {
            Duration::ZERO
        } else {
            // Capped at about 31 years, so that no instant can overflow.
            Duration::from_secs_f64(s.min(1.0e9))
        }
    }

    /// Decimals of the reported `generation_time`: 2 at time scale ≥ 1 (the real format), more
    /// at smaller scales so that a scaled figure keeps three significant digits.
    pub fn time_decimals(&self) -> usize {
        if self.time_scale <= 0.0 || self.time_scale >= 1.0 {
            2
        } else {
            (2.0 + (-self.time_scale.log10()).ceil()).clamp(2.0, 9.0) as usize
        }
    }

    /// "FLUX API" or "Diffusion API".
    pub fn service_name(&self) -> &'static str {
        match self.api_version {
            ApiVersion::V1 => "FLUX API",
            ApiVersion::V2 => "Diffusion API",
        }
    }

    /// One line describing the simulator, for logs.
    pub fn describe(&self) -> String {
        let version = match self.api_version {
            ApiVersion::V1 => "v1",
            ApiVersion::V2 => "v2",
        };
        format!(
            "{version}, {} GPU{}, time scale {}",
            self.gpus,
            if self.gpus == 1 { "" } else { "s" },
            self.time_scale
        )
    }
}

impl From<&SimulateArgs> for SimConfig {
    fn from(a: &SimulateArgs) -> Self {
        let faults = Faults {
            error_rate: a.error_rate,
            hang_rate: a.hang_rate,
            reset_rate: a.reset_rate,
            malformed_rate: a.malformed_rate,
            huge_body_rate: a.huge_body_rate,
            huge_body_bytes: a.huge_body_bytes,
            queue_full: a.queue_full,
            health: a.health,
            figures: a.figures,
            down: false,
            status_fail_rate: a.status_fail_rate,
            vram_leak_mib_per_generation: a.vram_leak_mib,
            validation_error: false,
        };
        SimConfig {
            gpus: a.gpus,
            time_scale: a.time_scale,
            api_version: a.api_version,
            faults,
            slow_start: a.slow_start,
            max_queue_size: a.max_queue_size,
            rng_seed: a.rng_seed,
            blocking_status: !a.no_blocking_status,
            report_vram: a.report_vram,
            ..SimConfig::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::faults::{FiguresMode, HealthMode};
    use clap::Parser;

    #[test]
    fn defaults_match_the_brief() {
        let c = SimConfig::default();
        assert_eq!(c.gpus, 1);
        assert_eq!(c.time_scale, 1.0);
        assert_eq!(c.api_version, ApiVersion::V1);
        assert_eq!(c.faults, Faults::default());
        assert_eq!(c.max_queue_size, 100);
        assert!(c.blocking_status);
        assert!(c.validate().is_ok());
    }

    #[test]
    fn invalid_figures_are_refused() {
        let bad = |f: &dyn Fn(&mut SimConfig)| {
            let mut c = SimConfig::default();
            f(&mut c);
            c.validate().is_err()
        };
        assert!(bad(&|c| c.time_scale = -1.0));
        assert!(bad(&|c| c.time_scale = f64::NAN));
        assert!(bad(&|c| c.gpus = MAX_SIM_GPUS + 1));
        assert!(bad(&|c| c.faults.error_rate = 1.5));
        assert!(bad(&|c| c.timing.base_steps = 0));
        assert!(!bad(&|c| c.gpus = 0));
        assert!(!bad(&|c| c.time_scale = 0.0));
    }

    #[test]
    fn scaled_durations_and_decimals() {
        let mut c = SimConfig {
            time_scale: 0.01,
            ..SimConfig::default()
        };
        assert_eq!(c.scaled(1.8), Duration::from_secs_f64(0.018));
        assert_eq!(c.time_decimals(), 4);
        c.time_scale = 0.05;
        assert_eq!(c.time_decimals(), 4);
        c.time_scale = 0.5;
        assert_eq!(c.time_decimals(), 3);
        c.time_scale = 1.0;
        assert_eq!(c.time_decimals(), 2);
        c.time_scale = 0.0;
        assert_eq!(c.scaled(1.8), Duration::ZERO);
        assert_eq!(c.time_decimals(), 2);
    }

    #[test]
    fn built_from_the_command_line() {
        let cli = crate::cli::Cli::try_parse_from([
            "fluxprobe",
            "simulate",
            "--gpus",
            "2",
            "--time-scale",
            "0.1",
            "--api-version",
            "v2",
            "--error-rate",
            "0.2",
            "--vram-leak-mib",
            "64",
            "--slow-start",
            "30s",
            "--health",
            "loading",
            "--figures",
            "not-available",
        ])
        .unwrap();
        let crate::cli::Command::Simulate(a) = cli.command else {
            panic!("not simulate")
        };
        let c = SimConfig::from(&a);
        assert_eq!(c.gpus, 2);
        assert_eq!(c.time_scale, 0.1);
        assert_eq!(c.api_version, ApiVersion::V2);
        assert_eq!(c.faults.error_rate, 0.2);
        assert_eq!(c.faults.vram_leak_mib_per_generation, 64.0);
        assert_eq!(c.faults.health, HealthMode::Loading);
        assert_eq!(c.faults.figures, FiguresMode::NotAvailable);
        assert_eq!(c.slow_start, Duration::from_secs(30));
        assert!(c.validate().is_ok());
        assert_eq!(c.describe(), "v2, 2 GPUs, time scale 0.1");
    }
}
