//! When things happen, computed from a fixed origin so nothing drifts: the trickle's k-th probe
//! is intended at `start + offset + k·interval + jitter(k)` whether or not earlier probes have
//! answered; targets are staggered by a hash of their name; jitter is seeded and reproducible.
//! Cron bursts fire at the pattern's next time in their time zone.

use chrono::{DateTime, Utc};
use std::time::Duration;
use tokio::time::Instant;

/// FNV-1a of a string: a stable hash (the same offsets on every run and platform).
pub fn stable_hash(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// SplitMix64: a well-mixed 64-bit value from a counter.
pub fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Where in its interval a target's schedule starts: hash(name) mod interval, so targets
/// configured with the same interval do not all fire together.
pub fn stagger_offset(name: &str, interval: Duration) -> Duration {
    let nanos = interval.as_nanos();
    if nanos == 0 {
        return Duration::ZERO;
    }
    let off = u128::from(stable_hash(name)) % nanos;
    Duration::from_nanos(off as u64)
}

/// The open-loop plan of one target's trickle.
#[derive(Debug, Clone, Copy)]
pub struct TricklePlan {
    pub start: Instant,
    pub offset: Duration,
    pub interval: Duration,
    pub jitter: Duration,
    pub seed: u64,
}

impl TricklePlan {
    /// A plan starting at `start`, staggered by the target's name.
    pub fn new(start: Instant, name: &str, interval: Duration, jitter: Duration) -> TricklePlan {
        TricklePlan {
            start,
            offset: stagger_offset(name, interval),
            interval,
            jitter,
            seed: stable_hash(name),
        }
    }

    /// The jitter of probe k: uniform in [0, jitter), from the seed.
    pub fn jitter_of(&self, k: u64) -> Duration {
        let j = self.jitter.as_nanos() as u64;
        if j == 0 {
            return Duration::ZERO;
        }
        Duration::from_nanos(splitmix64(self.seed ^ splitmix64(k)) % j)
    }

    /// The intended send time of probe k.
    pub fn intended(&self, k: u64) -> Instant {
        let slot = self.interval.as_nanos().saturating_mul(u128::from(k));
        let slot = Duration::from_nanos(slot.min(u128::from(u64::MAX)) as u64);
        self.start + self.offset + slot + self.jitter_of(k)
    }
}

/// The next time a cron pattern fires strictly after `after`, in its time zone.
pub fn next_fire(
    cron: &croner::Cron,
    tz: chrono_tz::Tz,
    after: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    cron.find_next_occurrence(&after.with_timezone(&tz), false)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// How long from `now` until a wall-clock time (zero when it has passed).
pub fn until(now: DateTime<Utc>, at: DateTime<Utc>) -> Duration {
    (at - now).to_std().unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn intended_times_come_from_the_origin_and_never_drift() {
        let start = Instant::now();
        let plan = TricklePlan {
            start,
            offset: Duration::from_millis(7),
            interval: Duration::from_millis(100),
            jitter: Duration::ZERO,
            seed: 1,
        };
        for k in [0u64, 1, 10, 1_000_000] {
            assert_eq!(
                plan.intended(k) - start,
                Duration::from_millis(7) + Duration::from_millis(100) * k as u32
            );
        }
    }

    #[test]
    fn jitter_is_bounded_seeded_and_spread() {
        let plan = TricklePlan::new(
            Instant::now(),
            "gpu-a",
            Duration::from_secs(10),
            Duration::from_secs(2),
        );
        let again = TricklePlan {
            start: plan.start,
            ..plan
        };
        let mut sum = 0.0;
        for k in 0..2000 {
            let j = plan.jitter_of(k);
            assert!(j < Duration::from_secs(2));
            assert_eq!(j, again.jitter_of(k));
            sum += j.as_secs_f64();
        }
        // Uniform on [0, 2): mean 1 (standard error of the mean ≈ 0.013 for 2000 draws).
        let mean = sum / 2000.0;
        assert!((mean - 1.0).abs() < 0.06, "mean jitter {mean}");
        // Order is kept: jitter < interval.
        for k in 0..100 {
            assert!(plan.intended(k + 1) > plan.intended(k));
        }
    }

    #[test]
    fn targets_are_staggered_within_the_interval() {
        let iv = Duration::from_secs(60);
        let offsets: Vec<Duration> = ["a", "b", "c", "gpu-1", "gpu-2"]
            .iter()
            .map(|n| stagger_offset(n, iv))
            .collect();
        assert!(offsets.iter().all(|o| *o < iv));
        let distinct: std::collections::HashSet<_> = offsets.iter().collect();
        assert_eq!(distinct.len(), offsets.len());
        assert_eq!(stagger_offset("a", iv), stagger_offset("a", iv));
    }

    #[test]
    fn cron_next_fire_respects_the_time_zone() {
        let cron = crate::serve::config::parse_cron("0 9 * * *").unwrap();
        let after = Utc.with_ymd_and_hms(2026, 1, 15, 12, 0, 0).unwrap();
        // 09:00 in Berlin (UTC+1 in January) is 08:00 UTC, the next day.
        let next = next_fire(&cron, chrono_tz::Europe::Berlin, after).unwrap();
        assert_eq!(next, Utc.with_ymd_and_hms(2026, 1, 16, 8, 0, 0).unwrap());
        let next = next_fire(&cron, chrono_tz::UTC, after).unwrap();
        assert_eq!(next, Utc.with_ymd_and_hms(2026, 1, 16, 9, 0, 0).unwrap());
        // Six fields: seconds first; strictly after.
        let cron = crate::serve::config::parse_cron("*/10 * * * * *").unwrap();
        let next = next_fire(&cron, chrono_tz::UTC, after).unwrap();
        assert_eq!(next, after + chrono::Duration::seconds(10));
        assert_eq!(until(next, after), Duration::ZERO);
        assert_eq!(until(after, next), Duration::from_secs(10));
    }
}
