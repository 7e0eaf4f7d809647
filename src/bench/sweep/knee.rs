//! The knee of a concurrency sweep: the smallest concurrency after which adding more no longer
//! pays. Going from one measured level to the next, it no longer pays when throughput grows by
//! less than the knee gain (10 % by default) while the median response time rises — the extra
//! requests only wait in a queue. The median here is the nearest-rank p50 of the successful
//! response times, whatever the sample count (the table withholds it below the count that can
//! claim it; the decision only compares two levels).

use serde::{Deserialize, Serialize};

/// What the knee rule reads of one concurrency point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Level {
    pub concurrency: u32,
    /// Successful requests per second (0 when nothing succeeded).
    pub throughput: f64,
    /// Nearest-rank p50 of successful response times; `None` when nothing succeeded.
    pub p50: Option<f64>,
}

/// The knee, and the step that showed it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Knee {
    /// The concurrency past which adding more no longer paid.
    pub concurrency: u32,
    /// The next level measured.
    pub next_concurrency: u32,
    /// Relative throughput growth from `concurrency` to `next_concurrency` (0.02 = +2 %).
    pub throughput_gain: f64,
    /// Relative p50 growth over the same step; `None` when the next level had no success.
    pub p50_growth: Option<f64>,
}

/// Relative growth from `a` to `b`; `None` unless `a` is positive.
fn growth(a: f64, b: f64) -> Option<f64> {
    (a > 0.0 && a.is_finite() && b.is_finite()).then(|| b / a - 1.0)
}

/// Whether going from `prev` to `next` no longer pays: throughput grew by less than `gain`
/// (or fell) while p50 rose. A level with no success at all after one with some counts as
/// a rise (nothing came back in time); two levels without a p50 cannot be compared.
pub fn no_longer_pays(prev: &Level, next: &Level, gain: f64) -> Option<Knee> {
    let p50_rose = match (prev.p50, next.p50) {
        (Some(a), Some(b)) => b > a,
        (Some(_), None) => true,
        _ => false,
    };
    let small_gain = next.throughput < prev.throughput * (1.0 + gain);
    (p50_rose && small_gain).then(|| Knee {
        concurrency: prev.concurrency,
        next_concurrency: next.concurrency,
        throughput_gain: growth(prev.throughput, next.throughput).unwrap_or(0.0),
        p50_growth: match (prev.p50, next.p50) {
            (Some(a), Some(b)) => growth(a, b),
            _ => None,
        },
    })
}

/// The first knee along `levels` (in the order measured), if any.
pub fn find(levels: &[Level], gain: f64) -> Option<Knee> {
    levels
        .windows(2)
        .find_map(|w| no_longer_pays(&w[0], &w[1], gain))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(c: u32, throughput: f64, p50: f64) -> Level {
        Level {
            concurrency: c,
            throughput,
            p50: Some(p50),
        }
    }

    /// An ideal server of `gpus` GPUs and service time 1: throughput min(C, gpus), p50 of a
    /// closed loop ⌈C / gpus⌉ (every request waits for the ones ahead of it).
    fn ideal(gpus: u32, c: u32) -> Level {
        level(c, f64::from(c.min(gpus)), f64::from(c.div_ceil(gpus)))
    }

    #[test]
    fn one_gpu_knees_at_one_four_at_four() {
        let one: Vec<Level> = [1, 2, 4, 8].iter().map(|&c| ideal(1, c)).collect();
        let k = find(&one, 0.10).unwrap();
        assert_eq!((k.concurrency, k.next_concurrency), (1, 2));
        assert_eq!(k.throughput_gain, 0.0);
        assert_eq!(k.p50_growth, Some(1.0));
        let four: Vec<Level> = [1, 2, 4, 8, 16].iter().map(|&c| ideal(4, c)).collect();
        let k = find(&four, 0.10).unwrap();
        assert_eq!((k.concurrency, k.next_concurrency), (4, 8));
        // An explicit list that skips the knee: 3 → 5 on four GPUs still grows by a third, 5 → 9
        // does not; 5 → 6 would not either, but p50 stays at 2 (no knee from it alone).
        let odd: Vec<Level> = [1, 3, 5, 9].iter().map(|&c| ideal(4, c)).collect();
        assert_eq!(find(&odd, 0.10).unwrap().concurrency, 5);
        let flat: Vec<Level> = [1, 3, 5, 6].iter().map(|&c| ideal(4, c)).collect();
        assert_eq!(find(&flat, 0.10), None);
    }

    #[test]
    fn the_gain_threshold_is_strict() {
        // +9.9 % with a rising p50 stops; +10 % does not; a flat p50 never does.
        assert!(no_longer_pays(&level(1, 1.0, 1.0), &level(2, 1.099, 1.5), 0.10).is_some());
        assert!(no_longer_pays(&level(1, 1.0, 1.0), &level(2, 1.1, 1.5), 0.10).is_none());
        assert!(no_longer_pays(&level(1, 1.0, 1.0), &level(2, 1.0, 1.0), 0.10).is_none());
        // Falling throughput with a rising p50 stops too.
        let k = no_longer_pays(&level(4, 2.0, 1.0), &level(8, 1.5, 3.0), 0.10).unwrap();
        assert_eq!(k.throughput_gain, -0.25);
        assert_eq!(k.p50_growth, Some(2.0));
    }

    #[test]
    fn levels_without_successes() {
        let none = |c| Level {
            concurrency: c,
            throughput: 0.0,
            p50: None,
        };
        let k = no_longer_pays(&level(2, 1.0, 1.0), &none(4), 0.1).unwrap();
        assert_eq!((k.concurrency, k.p50_growth), (2, None));
        assert!(no_longer_pays(&none(1), &none(2), 0.1).is_none());
        assert!(find(&[level(1, 1.0, 1.0)], 0.1).is_none());
        assert!(find(&[], 0.1).is_none());
    }
}
