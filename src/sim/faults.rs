//! The faults the simulator can inject, switchable at run time, and the dice that pick which
//! request gets which fault.
//!
//! Rates of one kind of request share a single die: for a POST /generate the order is hang,
//! reset, error, malformed, huge (a roll below `hang_rate` hangs, the next `reset_rate` resets,
//! and so on), so each rate is exactly the share of requests that get that fault as long as the
//! rates add up to at most 1; past 1 the later ones get what is left. Status endpoints roll hang,
//! reset, then `status_fail_rate`; queue-mode generations roll `error_rate` alone.

use serde::{Deserialize, Serialize};

/// What /health (and /ready, /model-status) say about the model, whatever its real state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum HealthMode {
    /// The truth: loading during the slow start, healthy after.
    #[default]
    Normal,
    /// `"status": "model_loading"`, /ready 503 (generation itself still works).
    Loading,
    /// `"status": "error"` with an `error` string, still HTTP 200; /ready 503.
    Error,
}

/// How the numeric figures of status bodies (and `generation_time`) are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum FiguresMode {
    /// Real figures.
    #[default]
    Normal,
    /// Every figure is the string "N/A".
    NotAvailable,
    /// Every figure is null.
    Null,
}

/// The faults in force. `Default` is all off. Rates are fractions in 0..=1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Share of generations that fail (500 on /generate, "failed" in queue mode).
    pub error_rate: f64,
    /// Share of requests that are accepted and never answered (until shutdown).
    pub hang_rate: f64,
    /// Share of requests whose connection is dropped mid-answer (headers and part of the body
    /// sent, then closed).
    pub reset_rate: f64,
    /// Share of /generate answers that are 200 with a truncated or non-JSON body.
    pub malformed_rate: f64,
    /// Share of /generate answers that are 200 with a body of `huge_body_bytes`.
    pub huge_body_rate: f64,
    pub huge_body_bytes: usize,
    /// /submit-request always answers 500 "Failed to submit request: Queue is full".
    pub queue_full: bool,
    pub health: HealthMode,
    pub figures: FiguresMode,
    /// Every connection is closed at once, unanswered (the control endpoints stay reachable).
    pub down: bool,
    /// Share of status requests (/health, /ready, /model-status, /gpu-info, /queue-stats) that
    /// answer 500.
    pub status_fail_rate: f64,
    /// VRAM each successful generation leaves allocated for good (MiB).
    pub vram_leak_mib_per_generation: f64,
    /// /generate and /submit-request answer 422 in FastAPI's format.
    pub validation_error: bool,
}

/// Default size of a huge body: 16 MiB, four times the client's default cap.
pub const DEFAULT_HUGE_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Largest huge body the simulator sends (it is streamed, never held in memory).
pub const MAX_HUGE_BODY_BYTES: usize = 1 << 40;

impl Default for Faults {
    fn default() -> Self {
        Faults {
            error_rate: 0.0,
            hang_rate: 0.0,
            reset_rate: 0.0,
            malformed_rate: 0.0,
            huge_body_rate: 0.0,
            huge_body_bytes: DEFAULT_HUGE_BODY_BYTES,
            queue_full: false,
            health: HealthMode::Normal,
            figures: FiguresMode::Normal,
            down: false,
            status_fail_rate: 0.0,
            vram_leak_mib_per_generation: 0.0,
            validation_error: false,
        }
    }
}

impl Faults {
    /// Checks that every rate is a fraction and every amount is sane.
    pub fn validate(&self) -> Result<(), String> {
        for (name, v) in [
            ("error_rate", self.error_rate),
            ("hang_rate", self.hang_rate),
            ("reset_rate", self.reset_rate),
            ("malformed_rate", self.malformed_rate),
            ("huge_body_rate", self.huge_body_rate),
            ("status_fail_rate", self.status_fail_rate),
        ] {
            if !(v.is_finite() && (0.0..=1.0).contains(&v)) {
                return Err(format!("{name} must be between 0 and 1, got {v}"));
            }
        }
        let leak = self.vram_leak_mib_per_generation;
        if !(leak.is_finite() && leak >= 0.0) {
            return Err(format!(
                "vram_leak_mib_per_generation must be ≥ 0, got {leak}"
            ));
        }
        if self.huge_body_bytes > MAX_HUGE_BODY_BYTES {
            return Err(format!(
                "huge_body_bytes must be at most {MAX_HUGE_BODY_BYTES}, got {}",
                self.huge_body_bytes
            ));
        }
        Ok(())
    }
}

impl Faults {
    /// The same faults with every figure forced into range.
    pub fn sanitized(mut self) -> Faults {
        for r in [
            &mut self.error_rate,
            &mut self.hang_rate,
            &mut self.reset_rate,
            &mut self.malformed_rate,
            &mut self.huge_body_rate,
            &mut self.status_fail_rate,
        ] {
            *r = if r.is_nan() { 0.0 } else { r.clamp(0.0, 1.0) };
        }
        let leak = self.vram_leak_mib_per_generation;
        self.vram_leak_mib_per_generation = if leak.is_finite() && leak > 0.0 {
            leak
        } else {
            0.0
        };
        self.huge_body_bytes = self.huge_body_bytes.min(MAX_HUGE_BODY_BYTES);
        self
    }
}

/// What a POST /generate (or /generate-and-return-image) is fated to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GenerateFate {
    Normal,
    Hang,
    Reset,
    Error,
    Malformed,
    Huge,
}

/// What a status request is fated to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFate {
    Normal,
    Hang,
    Reset,
    Fail,
}

/// What any other request (submit, request status, cancel) is fated to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportFate {
    Normal,
    Hang,
    Reset,
}

/// Picks the first outcome whose cumulative share the roll falls under.
fn pick<T: Copy>(roll: f64, shares: &[(f64, T)], otherwise: T) -> T {
    let mut acc = 0.0;
    for &(share, fate) in shares {
        acc += share;
        if roll < acc {
            return fate;
        }
    }
    otherwise
}

impl Faults {
    /// The fate of a generate request for a roll in [0, 1).
    pub fn generate_fate(&self, roll: f64) -> GenerateFate {
        pick(
            roll,
            &[
                (self.hang_rate, GenerateFate::Hang),
                (self.reset_rate, GenerateFate::Reset),
                (self.error_rate, GenerateFate::Error),
                (self.malformed_rate, GenerateFate::Malformed),
                (self.huge_body_rate, GenerateFate::Huge),
            ],
            GenerateFate::Normal,
        )
    }

    /// The fate of a status request for a roll in [0, 1).
    pub fn status_fate(&self, roll: f64) -> StatusFate {
        pick(
            roll,
            &[
                (self.hang_rate, StatusFate::Hang),
                (self.reset_rate, StatusFate::Reset),
                (self.status_fail_rate, StatusFate::Fail),
            ],
            StatusFate::Normal,
        )
    }

    /// The fate of any other request for a roll in [0, 1).
    pub fn transport_fate(&self, roll: f64) -> TransportFate {
        pick(
            roll,
            &[
                (self.hang_rate, TransportFate::Hang),
                (self.reset_rate, TransportFate::Reset),
            ],
            TransportFate::Normal,
        )
    }

    /// Whether a queue-mode generation fails, for a roll in [0, 1).
    pub fn queue_generation_fails(&self, roll: f64) -> bool {
        roll < self.error_rate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_all_off() {
        let f = Faults::default();
        assert!(f.validate().is_ok());
        for i in 0..100 {
            let roll = i as f64 / 100.0;
            assert_eq!(f.generate_fate(roll), GenerateFate::Normal);
            assert_eq!(f.status_fate(roll), StatusFate::Normal);
            assert_eq!(f.transport_fate(roll), TransportFate::Normal);
            assert!(!f.queue_generation_fails(roll));
        }
    }

    #[test]
    fn rates_are_exact_shares_of_one_die() {
        let f = Faults {
            hang_rate: 0.1,
            reset_rate: 0.2,
            error_rate: 0.3,
            malformed_rate: 0.1,
            huge_body_rate: 0.1,
            ..Faults::default()
        };
        let mut counts = std::collections::HashMap::new();
        let n = 10_000;
        for i in 0..n {
            let roll = (i as f64 + 0.5) / n as f64;
            *counts.entry(f.generate_fate(roll)).or_insert(0) += 1;
        }
        let share = |fate| counts.get(&fate).copied().unwrap_or(0) as f64 / n as f64;
        assert!((share(GenerateFate::Hang) - 0.1).abs() < 1e-3);
        assert!((share(GenerateFate::Reset) - 0.2).abs() < 1e-3);
        assert!((share(GenerateFate::Error) - 0.3).abs() < 1e-3);
        assert!((share(GenerateFate::Malformed) - 0.1).abs() < 1e-3);
        assert!((share(GenerateFate::Huge) - 0.1).abs() < 1e-3);
        assert!((share(GenerateFate::Normal) - 0.2).abs() < 1e-3);
    }

    #[test]
    fn full_rates_always_fire() {
        let f = Faults {
            status_fail_rate: 1.0,
            error_rate: 1.0,
            ..Faults::default()
        };
        assert_eq!(f.status_fate(0.999_999), StatusFate::Fail);
        assert_eq!(f.generate_fate(0.0), GenerateFate::Error);
        assert!(f.queue_generation_fails(0.999_999));
    }

    #[test]
    fn sanitizing_forces_figures_into_range() {
        let f = Faults {
            error_rate: 3.0,
            hang_rate: f64::NAN,
            reset_rate: -1.0,
            vram_leak_mib_per_generation: f64::INFINITY,
            huge_body_bytes: usize::MAX,
            ..Faults::default()
        }
        .sanitized();
        assert!(f.validate().is_ok());
        assert_eq!((f.error_rate, f.hang_rate, f.reset_rate), (1.0, 0.0, 0.0));
        assert_eq!(f.vram_leak_mib_per_generation, 0.0);
        assert_eq!(f.huge_body_bytes, MAX_HUGE_BODY_BYTES);
        let fine = Faults {
            malformed_rate: 0.25,
            ..Faults::default()
        };
        assert_eq!(fine.clone().sanitized(), fine);
    }

    #[test]
    fn validation_and_serde() {
        let bad = Faults {
            hang_rate: -0.1,
            ..Faults::default()
        };
        assert!(bad.validate().is_err());
        let nan = Faults {
            reset_rate: f64::NAN,
            ..Faults::default()
        };
        assert!(nan.validate().is_err());
        let leak = Faults {
            vram_leak_mib_per_generation: -1.0,
            ..Faults::default()
        };
        assert!(leak.validate().is_err());

        // Missing fields are off; unknown fields are refused.
        let f: Faults = serde_json::from_str(
            r#"{"health": "error", "figures": "not_available", "down": true}"#,
        )
        .unwrap();
        assert_eq!(f.health, HealthMode::Error);
        assert_eq!(f.figures, FiguresMode::NotAvailable);
        assert!(f.down);
        assert_eq!(f.error_rate, 0.0);
        assert!(serde_json::from_str::<Faults>(r#"{"eror_rate": 1}"#).is_err());
        let round: Faults =
            serde_json::from_str(&serde_json::to_string(&Faults::default()).unwrap()).unwrap();
        assert_eq!(round, Faults::default());
    }
}
