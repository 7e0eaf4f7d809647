//! Open-loop send schedules, computed in full before the first send (as LoadGen does), so a
//! run is reproducible and sending never waits on answers: `constant` (request k at k / rate),
//! `poisson` (exponential gaps, mean 1 / rate) and `gamma:<burstiness>` (gamma-distributed
//! gaps of mean 1 / rate and shape = burstiness: 1 is Poisson, below 1 burstier, above 1
//! more even). Random gaps come from a seeded generator: the same seed and the same fluxprobe
//! give the same schedule; gamma gaps are drawn by inverting statrs' gamma CDF.
//!
//! A schedule is a list of offsets in seconds from the phase start, ascending, first at 0. The
//! first `warmup` sends are the warm-up; the measured ones follow for `duration`: for
//! `constant`, ⌊rate × duration⌋ of them (at least one); otherwise every arrival of the process
//! less than `duration` after the first measured one (at least one).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use statrs::distribution::{ContinuousCDF, Gamma};
use std::fmt;
use std::str::FromStr;

/// Most sends a schedule may hold (a typo like `--rate 1e9` must not exhaust memory).
pub const MAX_SCHEDULE: usize = 10_000_000;

/// How open-loop sends are spaced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Arrivals {
    /// Evenly: one every 1 / rate seconds.
    Constant,
    /// A Poisson process: exponential gaps.
    Poisson,
    /// Gamma-distributed gaps with this shape (burstiness); 1 is Poisson.
    Gamma { burstiness: f64 },
}

impl fmt::Display for Arrivals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arrivals::Constant => f.write_str("constant"),
            Arrivals::Poisson => f.write_str("poisson"),
            Arrivals::Gamma { burstiness } => write!(f, "gamma:{burstiness}"),
        }
    }
}

impl FromStr for Arrivals {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().to_ascii_lowercase();
        match t.as_str() {
            "constant" => Ok(Arrivals::Constant),
            "poisson" => Ok(Arrivals::Poisson),
            _ => {
                let Some(b) = t.strip_prefix("gamma:") else {
                    return Err(format!(
                        "{s:?}: expected constant, poisson or gamma:<burstiness> (e.g. gamma:0.5)"
                    ));
                };
                match b.trim().parse::<f64>() {
                    Ok(burstiness) if burstiness.is_finite() && burstiness > 0.0 => {
                        Ok(Arrivals::Gamma { burstiness })
                    }
                    _ => Err(format!(
                        "{s:?}: the burstiness must be a positive number (1 = Poisson, below 1 burstier)"
                    )),
                }
            }
        }
    }
}

/// Why a schedule cannot be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScheduleError {
    #[error("the rate must be a positive number of requests per second")]
    Rate,
    #[error("the duration must be a positive number of seconds")]
    Duration,
    #[error(
        "the schedule would hold more than {MAX_SCHEDULE} sends; lower the rate or the duration"
    )]
    TooLong,
}

/// A gap generator for one process.
struct Gaps {
    arrivals: Arrivals,
    rate: f64,
    rng: StdRng,
    gamma: Option<Gamma>,
}

impl Gaps {
    fn new(arrivals: Arrivals, rate: f64, seed: u64) -> Gaps {
        let gamma = match arrivals {
            // Shape k, rate k·λ: mean 1/λ, coefficient of variation 1/√k.
            Arrivals::Gamma { burstiness } => Gamma::new(burstiness, burstiness * rate).ok(),
            _ => None,
        };
        Gaps {
            arrivals,
            rate,
            rng: StdRng::seed_from_u64(seed),
            gamma,
        }
    }

    /// A uniform draw in (0, 1): never 0 or 1, so both tails stay finite.
    fn open_unit(&mut self) -> f64 {
        loop {
            let u: f64 = self.rng.random();
            if u > 0.0 && u < 1.0 {
                return u;
            }
        }
    }

    fn next(&mut self) -> f64 {
        match self.arrivals {
            Arrivals::Constant => 1.0 / self.rate,
            Arrivals::Poisson => -self.open_unit().ln() / self.rate,
            Arrivals::Gamma { .. } => {
                let u = self.open_unit();
                match &self.gamma {
                    Some(g) => g.inverse_cdf(u),
                    None => -u.ln() / self.rate,
                }
            }
        }
    }
}

/// The send offsets of an open-loop phase: `warmup` warm-up sends, then the measured ones
/// over `duration_seconds` (see the module documentation).
pub fn schedule(
    arrivals: Arrivals,
    rate: f64,
    duration_seconds: f64,
    warmup: u64,
    seed: u64,
) -> Result<Vec<f64>, ScheduleError> {
    if !(rate.is_finite() && rate > 0.0) {
        return Err(ScheduleError::Rate);
    }
    if !(duration_seconds.is_finite() && duration_seconds > 0.0) {
        return Err(ScheduleError::Duration);
    }
    let expected = rate * duration_seconds + warmup as f64;
    if expected > MAX_SCHEDULE as f64 {
        return Err(ScheduleError::TooLong);
    }
    if arrivals == Arrivals::Constant {
        // Exactly k / rate, as the fixed-rate driver always sent.
        let measured = super::run::open_loop_count(rate, duration_seconds);
        return Ok((0..warmup + measured).map(|k| k as f64 / rate).collect());
    }
    let mut gaps = Gaps::new(arrivals, rate, seed);
    let mut out = Vec::with_capacity(expected.ceil() as usize + 16);
    let mut t = 0.0f64;
    out.push(t);
    for _ in 1..warmup {
        t += gaps.next();
        out.push(t);
    }
    if warmup > 0 {
        t += gaps.next();
        out.push(t);
    }
    let first_measured = t;
    loop {
        let next = t + gaps.next();
        if next - first_measured >= duration_seconds {
            break;
        }
        if out.len() >= MAX_SCHEDULE {
            return Err(ScheduleError::TooLong);
        }
        out.push(next);
        t = next;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gaps(s: &[f64]) -> Vec<f64> {
        s.windows(2).map(|w| w[1] - w[0]).collect()
    }

    fn mean_and_cv(g: &[f64]) -> (f64, f64) {
        let n = g.len() as f64;
        let mean = g.iter().sum::<f64>() / n;
        let var = g.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
        (mean, var.sqrt() / mean)
    }

    #[test]
    fn parses_and_prints() {
        assert_eq!("constant".parse::<Arrivals>(), Ok(Arrivals::Constant));
        assert_eq!(" Poisson ".parse::<Arrivals>(), Ok(Arrivals::Poisson));
        assert_eq!(
            "gamma:0.5".parse::<Arrivals>(),
            Ok(Arrivals::Gamma { burstiness: 0.5 })
        );
        assert_eq!(Arrivals::Gamma { burstiness: 0.5 }.to_string(), "gamma:0.5");
        for bad in [
            "uniform",
            "gamma:",
            "gamma:0",
            "gamma:-1",
            "gamma:x",
            "gamma:inf",
        ] {
            assert!(bad.parse::<Arrivals>().is_err(), "{bad}");
        }
    }

    #[test]
    fn constant_is_k_over_rate() {
        let s = schedule(Arrivals::Constant, 4.0, 2.6, 2, 7).unwrap();
        // ⌊4 × 2.6⌋ = 10 measured after 2 warm-up sends.
        assert_eq!(s.len(), 12);
        for (k, t) in s.iter().enumerate() {
            assert_eq!(*t, k as f64 / 4.0);
        }
        assert_eq!(
            schedule(Arrivals::Constant, 0.1, 1.0, 0, 0).unwrap(),
            vec![0.0]
        );
    }

    #[test]
    fn poisson_gaps_are_exponential_and_reproducible() {
        let a = schedule(Arrivals::Poisson, 50.0, 400.0, 0, 42).unwrap();
        let b = schedule(Arrivals::Poisson, 50.0, 400.0, 0, 42).unwrap();
        let c = schedule(Arrivals::Poisson, 50.0, 400.0, 0, 43).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a[0], 0.0);
        assert!(a.windows(2).all(|w| w[1] >= w[0]));
        assert!(*a.last().unwrap() < 400.0);
        // 20 000 expected arrivals: the count's sd is √20 000 ≈ 141; 5 sd either way.
        assert!((a.len() as f64 - 20_000.0).abs() < 710.0, "{}", a.len());
        let g = gaps(&a);
        let (mean, cv) = mean_and_cv(&g);
        // An exponential: mean 1/λ = 0.02, coefficient of variation 1; P(gap > mean) = e⁻¹.
        assert!((mean - 0.02).abs() < 0.02 * 0.05, "mean {mean}");
        assert!((cv - 1.0).abs() < 0.05, "cv {cv}");
        let above = g.iter().filter(|&&x| x > 0.02).count() as f64 / g.len() as f64;
        assert!((above - (-1.0f64).exp()).abs() < 0.02, "{above}");
    }

    #[test]
    fn gamma_gaps_have_the_asked_burstiness() {
        for (k, want_cv) in [(0.25, 2.0), (4.0, 0.5)] {
            let s = schedule(Arrivals::Gamma { burstiness: k }, 20.0, 1000.0, 0, 9).unwrap();
            let (mean, cv) = mean_and_cv(&gaps(&s));
            // Gamma(shape k, mean 1/λ): cv = 1/√k.
            assert!((mean - 0.05).abs() < 0.05 * 0.08, "k {k}: mean {mean}");
            assert!((cv - want_cv).abs() < want_cv * 0.1, "k {k}: cv {cv}");
        }
    }

    #[test]
    fn warmup_comes_first_and_the_window_follows() {
        let s = schedule(Arrivals::Poisson, 10.0, 5.0, 3, 1).unwrap();
        let first_measured = s[3];
        assert!(s[3..].iter().all(|t| t - first_measured < 5.0));
        assert!(s.len() > 3 + 20, "{}", s.len());
    }

    #[test]
    fn bad_input_is_refused() {
        assert_eq!(
            schedule(Arrivals::Poisson, 0.0, 1.0, 0, 0),
            Err(ScheduleError::Rate)
        );
        assert_eq!(
            schedule(Arrivals::Poisson, f64::NAN, 1.0, 0, 0),
            Err(ScheduleError::Rate)
        );
        assert_eq!(
            schedule(Arrivals::Poisson, 1.0, -1.0, 0, 0),
            Err(ScheduleError::Duration)
        );
        assert_eq!(
            schedule(Arrivals::Poisson, 1e9, 1e9, 0, 0),
            Err(ScheduleError::TooLong)
        );
    }
}
