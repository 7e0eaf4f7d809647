//! Service-level objectives of a burst, in the syntax of `bench --slo`:
//! comma-separated clauses such as `p95<8s`, `p99<=20s`, `mean<5s`, `max<30s`,
//! `success>=0.99` (or `99%`), `throughput>=0.5` (successful requests per second).
//! Latency clauses look at successful requests only (a failure keeps its latency out of the
//! success percentiles); percentiles are exact, nearest-rank. A clause with no data to judge
//! (no request, or no success for a latency clause) is inconclusive, never a pass.

use serde::Serialize;
use std::fmt;

/// What a clause measures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SloMetric {
    /// Response-time percentile, 0 < p ≤ 100.
    Percentile(f64),
    Mean,
    Max,
    /// Successful / all requests, 0..1.
    SuccessRatio,
    /// Successful requests per second.
    Throughput,
}

/// Comparison of a clause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    fn holds(self, observed: f64, threshold: f64) -> bool {
        match self {
            Cmp::Lt => observed < threshold,
            Cmp::Le => observed <= threshold,
            Cmp::Gt => observed > threshold,
            Cmp::Ge => observed >= threshold,
        }
    }
}

/// One clause: `metric op threshold` (latency thresholds in seconds).
#[derive(Debug, Clone, PartialEq)]
pub struct Clause {
    pub metric: SloMetric,
    pub cmp: Cmp,
    pub threshold: f64,
    /// The clause as written.
    pub text: String,
}

/// A parsed objective.
#[derive(Debug, Clone, PartialEq)]
pub struct Slo {
    pub source: String,
    pub clauses: Vec<Clause>,
}

/// A clause that could not be read; `offset` is the character offset in the expression.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SloParseError {
    pub message: String,
    pub offset: usize,
}

/// The outcome of an objective.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Fail,
    /// Not enough data to judge.
    Inconclusive,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Inconclusive => "inconclusive",
        })
    }
}

/// One clause judged.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClauseResult {
    pub clause: String,
    pub observed: Option<f64>,
    pub verdict: Verdict,
}

/// An objective judged: fail if any clause failed, else inconclusive if any was, else pass.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SloResult {
    pub expression: String,
    pub verdict: Verdict,
    pub clauses: Vec<ClauseResult>,
}

/// What an objective is judged on.
#[derive(Debug, Clone, Default)]
pub struct SloInputs {
    /// Response times of the successful requests, seconds, any order.
    pub success_response_times: Vec<f64>,
    pub requests: u64,
    pub successes: u64,
    /// Successful requests per second; None when it cannot be computed.
    pub throughput: Option<f64>,
}

/// Nearest-rank percentile of sorted values (p in (0, 100]); None when empty.
pub fn nearest_rank(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let n = sorted.len();
    let rank = ((p / 100.0) * n as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, n) - 1])
}

impl Slo {
    /// Parses `p95<8s,success>=0.99`.
    pub fn parse(expr: &str) -> Result<Slo, SloParseError> {
        let mut clauses = Vec::new();
        let mut offset = 0;
        for part in expr.split(',') {
            let lead = part.len() - part.trim_start().len();
            let text = part.trim();
            let at = expr[..offset + lead].chars().count();
            if text.is_empty() {
                return Err(SloParseError {
                    message: "empty clause (expected e.g. p95<8s or success>=0.99)".to_string(),
                    offset: at,
                });
            }
            clauses.push(parse_clause(text).map_err(|message| SloParseError {
                message,
                offset: at,
            })?);
            offset += part.len() + 1;
        }
        Ok(Slo {
            source: expr.trim().to_string(),
            clauses,
        })
    }

    /// Judges the objective.
    pub fn evaluate(&self, input: &SloInputs) -> SloResult {
        let mut sorted = input.success_response_times.clone();
        sorted.retain(|v| v.is_finite());
        sorted.sort_by(f64::total_cmp);
        let clauses: Vec<ClauseResult> =
            self.clauses
                .iter()
                .map(|c| {
                    let observed = match c.metric {
                        SloMetric::Percentile(p) => nearest_rank(&sorted, p),
                        SloMetric::Mean => (!sorted.is_empty())
                            .then(|| sorted.iter().sum::<f64>() / sorted.len() as f64),
                        SloMetric::Max => sorted.last().copied(),
                        SloMetric::SuccessRatio => (input.requests > 0)
                            .then(|| input.successes as f64 / input.requests as f64),
                        SloMetric::Throughput => input.throughput.filter(|t| t.is_finite()),
                    };
                    let verdict = match observed {
                        None => Verdict::Inconclusive,
                        Some(v) if c.cmp.holds(v, c.threshold) => Verdict::Pass,
                        Some(_) => Verdict::Fail,
                    };
                    ClauseResult {
                        clause: c.text.clone(),
                        observed,
                        verdict,
                    }
                })
                .collect();
        let verdict = if clauses.iter().any(|c| c.verdict == Verdict::Fail) {
            Verdict::Fail
        } else if clauses.iter().any(|c| c.verdict == Verdict::Inconclusive) {
            Verdict::Inconclusive
        } else {
            Verdict::Pass
        };
        SloResult {
            expression: self.source.clone(),
            verdict,
            clauses,
        }
    }
}

fn parse_clause(text: &str) -> Result<Clause, String> {
    let pos = text
        .find(['<', '>'])
        .ok_or_else(|| format!("{text:?} has no comparison (use <, <=, > or >=)"))?;
    let (lhs, rest) = text.split_at(pos);
    let (cmp, rhs) = if let Some(r) = rest.strip_prefix("<=") {
        (Cmp::Le, r)
    } else if let Some(r) = rest.strip_prefix(">=") {
        (Cmp::Ge, r)
    } else if let Some(r) = rest.strip_prefix('<') {
        (Cmp::Lt, r)
    } else {
        (Cmp::Gt, &rest[1..])
    };
    let name = lhs.trim().to_ascii_lowercase();
    let rhs = rhs.trim();
    let metric = match name.as_str() {
        "mean" | "avg" => SloMetric::Mean,
        "max" => SloMetric::Max,
        "median" => SloMetric::Percentile(50.0),
        "success" | "success_rate" | "success_ratio" => SloMetric::SuccessRatio,
        "throughput" | "rps" => SloMetric::Throughput,
        p if p.starts_with('p') => {
            let q: f64 = p[1..].parse().map_err(|_| {
                format!(
                    "{:?} is not a percentile (e.g. p50, p95, p99.9)",
                    lhs.trim()
                )
            })?;
            if !(q > 0.0 && q <= 100.0) {
                return Err(format!("percentile {q} is outside (0, 100]"));
            }
            SloMetric::Percentile(q)
        }
        other => {
            return Err(format!(
                "unknown measure {other:?} (use pNN, mean, max, success or throughput)"
            ));
        }
    };
    let threshold = match metric {
        SloMetric::Percentile(_) | SloMetric::Mean | SloMetric::Max => {
            crate::cli::parse_duration(rhs)?.as_secs_f64()
        }
        SloMetric::SuccessRatio => {
            let v = if let Some(pct) = rhs.strip_suffix('%') {
                pct.trim().parse::<f64>().map(|v| v / 100.0)
            } else {
                rhs.parse::<f64>()
            }
            .map_err(|_| format!("{rhs:?} is not a ratio (e.g. 0.99 or 99%)"))?;
            if !(0.0..=1.0).contains(&v) {
                return Err(format!("success ratio {rhs} is outside 0..1 (or 0%..100%)"));
            }
            v
        }
        SloMetric::Throughput => {
            let v: f64 = rhs
                .trim_end_matches("/s")
                .trim()
                .parse()
                .map_err(|_| format!("{rhs:?} is not a rate in requests per second"))?;
            if !v.is_finite() || v < 0.0 {
                return Err(format!("throughput {rhs} must be a non-negative number"));
            }
            v
        }
    };
    Ok(Clause {
        metric,
        cmp,
        threshold,
        text: text.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_forms() {
        let s = Slo::parse("p95<8s, success>=0.99,p99.9<=1m,mean<2.5,throughput>0.4,success>=95%")
            .unwrap();
        assert_eq!(s.clauses.len(), 6);
        assert_eq!(s.clauses[0].metric, SloMetric::Percentile(95.0));
        assert_eq!(s.clauses[0].cmp, Cmp::Lt);
        assert_eq!(s.clauses[0].threshold, 8.0);
        assert_eq!(s.clauses[1].metric, SloMetric::SuccessRatio);
        assert_eq!(s.clauses[2].threshold, 60.0);
        assert_eq!(s.clauses[3].threshold, 2.5);
        assert_eq!(s.clauses[4].cmp, Cmp::Gt);
        assert!((s.clauses[5].threshold - 0.95).abs() < 1e-12);
    }

    #[test]
    fn errors_carry_the_clause_offset() {
        let e = Slo::parse("p95<8s,bogus<1").unwrap_err();
        assert_eq!(e.offset, 7);
        assert!(e.message.contains("bogus"), "{e}");
        assert_eq!(Slo::parse("p95<8s,,").unwrap_err().offset, 7);
        assert!(Slo::parse("p95=8s").is_err());
        assert!(Slo::parse("p0<1s").is_err());
        assert!(Slo::parse("success>=1.5").is_err());
        assert!(Slo::parse("p95<soon").is_err());
    }

    #[test]
    fn nearest_rank_matches_the_definition() {
        // Independent check: the smallest value with at least p% of values at or below it.
        let v: Vec<f64> = (1..=20).map(|i| i as f64).collect();
        for p in [1.0, 5.0, 50.0, 94.9, 95.0, 99.0, 100.0] {
            let got = nearest_rank(&v, p).unwrap();
            let expect = v
                .iter()
                .copied()
                .find(|x| v.iter().filter(|y| *y <= x).count() as f64 >= p / 100.0 * 20.0)
                .unwrap();
            assert_eq!(got, expect, "p{p}");
        }
        assert_eq!(nearest_rank(&[], 50.0), None);
    }

    #[test]
    fn verdicts() {
        let slo = Slo::parse("p50<2s,success>=0.75").unwrap();
        let pass = slo.evaluate(&SloInputs {
            success_response_times: vec![1.0, 3.0, 1.5],
            requests: 4,
            successes: 3,
            throughput: None,
        });
        assert_eq!(pass.verdict, Verdict::Pass);
        assert_eq!(pass.clauses[0].observed, Some(1.5));
        let fail = slo.evaluate(&SloInputs {
            success_response_times: vec![3.0],
            requests: 4,
            successes: 1,
            throughput: None,
        });
        assert_eq!(fail.verdict, Verdict::Fail);
        let none = slo.evaluate(&SloInputs::default());
        assert_eq!(none.verdict, Verdict::Inconclusive);
        // A failed clause wins over an inconclusive one.
        let mixed = slo.evaluate(&SloInputs {
            success_response_times: vec![],
            requests: 4,
            successes: 0,
            throughput: None,
        });
        assert_eq!(mixed.verdict, Verdict::Fail);
    }
}
