//! Service-level objectives of a bench run (`--slo 'p95<8s,success>=0.99,throughput>=0.5'`):
//! parsing the clauses and judging each one against a phase's figures as PASS, FAIL or
//! INCONCLUSIVE.
//!
//! A percentile clause (`p99<20s`) is a claim about the service, not about the run's sample,
//! and is judged with a stated confidence (`--slo-confidence`, 99 % by default) by LoadGen's
//! early-stopping rule ([`crate::stats::early_stopping`]): from the successful requests and
//! how many of them missed the bound, PASS when the bound is met with that confidence, FAIL
//! when it is missed with that confidence, otherwise INCONCLUSIVE with the number of further
//! requests that would settle it if none of them missed. A `p100` clause is the maximum. The
//! other clauses compare the measured figure with the threshold.
//!
//! Metrics: `pNN` (nearest-rank percentile of successful response times, e.g. `p95`, `p99.9`),
//! `mean`, `median`, `min`, `max` (of successful response times), `success` (ratio of
//! successful requests, `0.99` or `99%`), `error_rate` (ratio of failed requests), `throughput`
//! (successful requests per second). Operators: `<`, `<=`, `>`, `>=`. Durations take a unit
//! (`ms`, `s`, `m`, `h`; a bare number is seconds).

use crate::bench::summary::PhaseSummary;
use crate::cli::Lang;
use crate::exit::Exit;
use crate::stats::early_stopping::{self, Decision, LOADGEN_CONFIDENCE};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What a clause measures.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Nearest-rank percentile (0 < p ≤ 100) of successful response times.
    Percentile(f64),
    Mean,
    Median,
    Min,
    Max,
    /// Successful / total.
    Success,
    /// Failed / total.
    ErrorRate,
    /// Successful requests per second of wall time.
    Throughput,
}

impl Metric {
    pub fn is_latency(self) -> bool {
        matches!(
            self,
            Metric::Percentile(_) | Metric::Mean | Metric::Median | Metric::Min | Metric::Max
        )
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Metric::Percentile(p) => write!(f, "p{p}"),
            Metric::Mean => f.write_str("mean"),
            Metric::Median => f.write_str("median"),
            Metric::Min => f.write_str("min"),
            Metric::Max => f.write_str("max"),
            Metric::Success => f.write_str("success"),
            Metric::ErrorRate => f.write_str("error_rate"),
            Metric::Throughput => f.write_str("throughput"),
        }
    }
}

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
}

impl Op {
    pub fn holds(self, measured: f64, threshold: f64) -> bool {
        match self {
            Op::Lt => measured < threshold,
            Op::Le => measured <= threshold,
            Op::Gt => measured > threshold,
            Op::Ge => measured >= threshold,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }
}

/// One objective, e.g. `p95<8s`. `threshold` is in seconds for latencies, a ratio for
/// `success` and `error_rate`, requests per second for `throughput`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Clause {
    pub metric: Metric,
    pub op: Op,
    pub threshold: f64,
    /// The clause as the user wrote it.
    pub text: String,
}

/// A set of objectives, all of which must hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Slo {
    pub clauses: Vec<Clause>,
}

/// A clause that cannot be understood. The message says what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid --slo clause {clause:?}: {message}")]
pub struct SloError {
    pub clause: String,
    pub message: String,
}

impl From<SloError> for crate::exit::UsageError {
    fn from(e: SloError) -> Self {
        crate::exit::UsageError(e.to_string())
    }
}

fn err(clause: &str, message: impl Into<String>) -> SloError {
    SloError {
        clause: clause.to_string(),
        message: message.into(),
    }
}

/// Splits "20000ms" into (20000, "ms").
fn number_unit(s: &str) -> Option<(f64, &str)> {
    let s = s.trim();
    let end = s
        .char_indices()
        .find(|&(_, c)| !(c.is_ascii_digit() || c == '.'))
        .map(|(i, _)| i)
        .unwrap_or(s.len());
    let n: f64 = s[..end].parse().ok()?;
    n.is_finite().then_some((n, s[end..].trim()))
}

fn parse_metric(name: &str, clause: &str) -> Result<Metric, SloError> {
    let m = name.trim().to_ascii_lowercase();
    Ok(match m.as_str() {
        "mean" | "avg" | "average" => Metric::Mean,
        "median" => Metric::Median,
        "min" => Metric::Min,
        "max" => Metric::Max,
        "success" | "success_rate" | "success_ratio" => Metric::Success,
        "error_rate" | "errors" | "error" => Metric::ErrorRate,
        "throughput" | "rps" => Metric::Throughput,
        _ => {
            let p = m
                .strip_prefix('p')
                .and_then(|p| p.parse::<f64>().ok())
                .filter(|p| p.is_finite());
            match p {
                Some(p) if p > 0.0 && p <= 100.0 => Metric::Percentile(p),
                Some(_) => return Err(err(clause, "a percentile must be above 0 and at most 100")),
                None => {
                    return Err(err(
                        clause,
                        format!(
                            "unknown metric {name:?}; use pNN (e.g. p95), mean, median, min, max, success, error_rate or throughput"
                        ),
                    ));
                }
            }
        }
    })
}

fn parse_threshold(metric: Metric, value: &str, clause: &str) -> Result<f64, SloError> {
    let (n, unit) = number_unit(value).ok_or_else(|| {
        err(
            clause,
            format!("{value:?} is not a number (write e.g. 8s, 500ms, 0.99 or 99%)"),
        )
    })?;
    let unit = unit.to_ascii_lowercase();
    if metric.is_latency() {
        let factor = match unit.as_str() {
            "" | "s" | "sec" | "secs" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "m" | "min" => 60.0,
            "h" => 3600.0,
            _ => {
                return Err(err(
                    clause,
                    format!("unknown duration unit {unit:?}; use ms, s, m or h"),
                ));
            }
        };
        return Ok(n * factor);
    }
    match metric {
        Metric::Success | Metric::ErrorRate => {
            let r = match unit.as_str() {
                "" => n,
                "%" => n / 100.0,
                _ => return Err(err(clause, "a ratio is written 0.99 or 99%")),
            };
            if r > 1.0 {
                return Err(err(clause, "a ratio is at most 1 (100%)"));
            }
            Ok(r)
        }
        _ => match unit.as_str() {
            "" | "/s" | "rps" | "req/s" => Ok(n),
            _ => Err(err(
                clause,
                "throughput is in requests per second, e.g. 0.5 or 0.5/s",
            )),
        },
    }
}

impl Slo {
    /// Parses a comma-separated list of clauses.
    pub fn parse(s: &str) -> Result<Slo, SloError> {
        if s.trim().is_empty() {
            return Err(err(s, "no objective given; e.g. 'p95<8s,success>=0.99'"));
        }
        let clauses = s
            .split(',')
            .map(|raw| {
                let text = raw.trim();
                if text.is_empty() {
                    return Err(err(
                        s,
                        "empty clause (two commas in a row, or a trailing comma)",
                    ));
                }
                let at = text
                    .find(['<', '>', '=', '!'])
                    .ok_or_else(|| err(text, "no comparison; use <, <=, > or >= (e.g. p95<8s)"))?;
                let rest = &text[at..];
                let (op, len) = if rest.starts_with("<=") {
                    (Op::Le, 2)
                } else if rest.starts_with(">=") {
                    (Op::Ge, 2)
                } else if rest.starts_with('<') {
                    (Op::Lt, 1)
                } else if rest.starts_with('>') {
                    (Op::Gt, 1)
                } else {
                    return Err(err(text, "unsupported comparison; use <, <=, > or >="));
                };
                let metric = parse_metric(&text[..at], text)?;
                let threshold = parse_threshold(metric, &rest[len..], text)?;
                Ok(Clause {
                    metric,
                    op,
                    threshold,
                    text: text.to_string(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Slo { clauses })
    }
}

impl FromStr for Slo {
    type Err = SloError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Slo::parse(s)
    }
}

/// The judgement of a clause, or of a whole set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Verdict {
    Pass,
    /// Too few requests to tell.
    Inconclusive,
    Fail,
}

impl Verdict {
    /// The exit code of a run whose objectives ended so: 0, 5 or 3.
    pub fn exit(self) -> Exit {
        match self {
            Verdict::Pass => Exit::Ok,
            Verdict::Inconclusive => Exit::SloInconclusive,
            Verdict::Fail => Exit::SloFailed,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Inconclusive => "INCONCLUSIVE",
            Verdict::Fail => "FAIL",
        }
    }
}

/// One clause judged against one phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClauseResult {
    pub clause: Clause,
    /// The measured value (seconds, ratio or requests/s), when there is one.
    pub measured: Option<f64>,
    pub verdict: Verdict,
    /// Successful requests behind a latency figure, or requests behind a ratio.
    pub samples: u64,
    /// Percentile clauses: the requests that would have to be measured in all for a PASS if
    /// none more missed the bound.
    pub needed_samples: Option<u64>,
    /// Percentile clauses: how many more requests that is (INCONCLUSIVE only).
    #[serde(default)]
    pub more_needed: Option<u64>,
    /// Percentile clauses: successful requests that missed the bound.
    #[serde(default)]
    pub violations: Option<u64>,
    /// Percentile clauses: the most that may miss it for a PASS with this many requests.
    #[serde(default)]
    pub allowed_violations: Option<u64>,
    /// Percentile clauses: the confidence of the verdict.
    #[serde(default)]
    pub confidence: Option<f64>,
}

/// Every clause judged against one phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SloReport {
    pub phase: String,
    pub results: Vec<ClauseResult>,
    /// FAIL if any clause failed, else INCONCLUSIVE if any was, else PASS.
    pub verdict: Verdict,
}

/// For a percentile clause: the share of requests that must be on the good side of the bound,
/// and whether one latency is on the bad side. `None` for other clauses and for p100.
fn percentile_test(c: &Clause) -> Option<(f64, impl Fn(f64) -> bool + '_)> {
    let Metric::Percentile(p) = c.metric else {
        return None;
    };
    if p >= 100.0 {
        return None;
    }
    // `pNN < T` claims a share p of requests are below T; `pNN > T` claims a share 1 − p of
    // them are above T. A request misses the claim when the comparison does not hold for it.
    let share = match c.op {
        Op::Lt | Op::Le => p / 100.0,
        Op::Gt | Op::Ge => 1.0 - p / 100.0,
    };
    Some((share, move |x: f64| !c.op.holds(x, c.threshold)))
}

/// Judges one clause at LoadGen's 99 % (see [`judge_at`]).
pub fn judge(c: &Clause, s: &PhaseSummary) -> ClauseResult {
    judge_at(c, s, LOADGEN_CONFIDENCE)
}

/// Judges one clause. Latency clauses look at successes only; with no success at all they
/// fail (the objective is plainly not met). Percentile clauses follow LoadGen's
/// early-stopping rule at `confidence` (see the module documentation); ratio and throughput
/// clauses with no request at all are INCONCLUSIVE.
pub fn judge_at(c: &Clause, s: &PhaseSummary, confidence: f64) -> ClauseResult {
    let rt = &s.response_time;
    let (measured, samples) = match c.metric {
        Metric::Percentile(p) if p >= 100.0 => (rt.max, rt.count),
        // From so few requests that it is the maximum, a percentile is not shown as one.
        Metric::Percentile(p) => (
            rt.percentile(p)
                .filter(|_| !crate::stats::percentile_is_max(p, rt.count as usize)),
            rt.count,
        ),
        Metric::Mean => (rt.mean, rt.count),
        Metric::Median => (rt.median, rt.count),
        Metric::Min => (rt.min, rt.count),
        Metric::Max => (rt.max, rt.count),
        Metric::Success => (s.success_rate, s.total),
        Metric::ErrorRate => (s.error_rate, s.total),
        Metric::Throughput => (s.throughput_rps, s.total),
    };
    let mut result = ClauseResult {
        clause: c.clone(),
        measured,
        verdict: Verdict::Inconclusive,
        samples,
        needed_samples: None,
        more_needed: None,
        violations: None,
        allowed_violations: None,
        confidence: None,
    };
    if c.metric.is_latency() && rt.count == 0 {
        result.verdict = Verdict::Fail;
        return result;
    }
    if let Some((share, misses)) = percentile_test(c) {
        let n = rt.count;
        let kept = rt.samples();
        if kept.len() as u64 != n {
            // A summary without its samples (read back from JSON) cannot be judged this way.
            return result;
        }
        let v = kept.iter().filter(|&&x| misses(x)).count() as u64;
        result.violations = Some(v);
        result.confidence = Some(confidence);
        result.allowed_violations = early_stopping::max_violations(n, share, confidence);
        result.needed_samples = early_stopping::requests_needed(v, share, confidence);
        result.verdict = match early_stopping::decide(n, v, share, confidence) {
            Some(Decision::Pass) => Verdict::Pass,
            Some(Decision::Fail) => Verdict::Fail,
            Some(Decision::Undecided { needed }) => {
                result.more_needed = needed.map(|m| m.saturating_sub(n));
                Verdict::Inconclusive
            }
            None => Verdict::Inconclusive,
        };
        return result;
    }
    result.verdict = match measured {
        None => Verdict::Inconclusive,
        Some(m) if c.op.holds(m, c.threshold) => Verdict::Pass,
        Some(_) => Verdict::Fail,
    };
    result
}

/// True when one successful request's response time meets every latency clause with a
/// per-request meaning (percentile, max and min bounds): what goodput counts.
pub fn request_meets(slo: &Slo, response_time: f64) -> bool {
    slo.clauses.iter().all(|c| match c.metric {
        Metric::Percentile(_) | Metric::Max | Metric::Min => c.op.holds(response_time, c.threshold),
        _ => true,
    })
}

/// Judges every clause against one phase at LoadGen's 99 %.
pub fn evaluate(slo: &Slo, s: &PhaseSummary) -> SloReport {
    evaluate_at(slo, s, LOADGEN_CONFIDENCE)
}

/// Judges every clause against one phase, percentile clauses at `confidence`.
pub fn evaluate_at(slo: &Slo, s: &PhaseSummary, confidence: f64) -> SloReport {
    let results: Vec<ClauseResult> = slo
        .clauses
        .iter()
        .map(|c| judge_at(c, s, confidence))
        .collect();
    let verdict = results
        .iter()
        .map(|r| r.verdict)
        .max()
        .unwrap_or(Verdict::Pass);
    SloReport {
        phase: s.name.clone(),
        results,
        verdict,
    }
}

/// Judges every clause against every phase of a run, at the run's verdict confidence.
pub fn evaluate_results(slo: &Slo, results: &crate::bench::model::BenchResults) -> Vec<SloReport> {
    let c = results.config.slo_confidence;
    let c = if c.is_finite() && c > 0.5 && c < 1.0 {
        c
    } else {
        LOADGEN_CONFIDENCE
    };
    crate::bench::summary::summarize(results)
        .iter()
        .map(|s| evaluate_at(slo, s, c))
        .collect()
}

/// The verdict of several phases: the worst of them.
pub fn overall(reports: &[SloReport]) -> Verdict {
    reports
        .iter()
        .map(|r| r.verdict)
        .max()
        .unwrap_or(Verdict::Pass)
}

fn measured_text(r: &ClauseResult, lang: Lang) -> String {
    match r.measured {
        None if matches!(r.clause.metric, Metric::Percentile(_)) && r.samples > 0 => match lang {
            Lang::En => format!(
                "no figure: from {} requests it would only be the largest",
                r.samples
            ),
            Lang::Zh => format!("无值: 仅 {} 个请求, 只能取最大值", r.samples),
        },
        None => match lang {
            Lang::En => "nothing measured".to_string(),
            Lang::Zh => "无测量值".to_string(),
        },
        // Too few requests to claim the percentile: the figure is only an estimate.
        Some(m)
            if matches!(r.clause.metric, Metric::Percentile(_))
                && r.verdict == Verdict::Inconclusive =>
        {
            match lang {
                Lang::En => format!("estimate {m:.4} s"),
                Lang::Zh => format!("估计值 {m:.4} s"),
            }
        }
        Some(m) if r.clause.metric.is_latency() => format!("{m:.4} s"),
        Some(m) if r.clause.metric == Metric::Throughput => format!("{m:.4}/s"),
        Some(m) => format!("{m:.4}"),
    }
}

fn verdict_text(v: Verdict, lang: Lang) -> &'static str {
    match (v, lang) {
        (Verdict::Pass, Lang::En) => "✅ PASS",
        (Verdict::Fail, Lang::En) => "❌ FAIL",
        (Verdict::Inconclusive, Lang::En) => "❔ INCONCLUSIVE",
        (Verdict::Pass, Lang::Zh) => "✅ 通过 PASS",
        (Verdict::Fail, Lang::Zh) => "❌ 未通过 FAIL",
        (Verdict::Inconclusive, Lang::Zh) => "❔ 无法判定 INCONCLUSIVE",
    }
}

/// Why a percentile clause got its verdict: how many requests missed the bound and what the
/// rule allows, or how many more requests would settle it.
fn explain_percentile(r: &ClauseResult, lang: Lang) -> Option<String> {
    let (Metric::Percentile(_), Some(v), Some(c)) = (r.clause.metric, r.violations, r.confidence)
    else {
        return None;
    };
    let level = crate::bench::report::details::level_label(c);
    let n = r.samples;
    let t = &r.clause.text;
    Some(match (r.verdict, lang) {
        (Verdict::Pass, Lang::En) => format!(
            "{v} of {n} requests missed it, at most {} allowed at {level} confidence",
            r.allowed_violations.unwrap_or(0)
        ),
        (Verdict::Pass, Lang::Zh) => format!(
            "{n} 个请求中 {v} 个未达标, {level} 置信度下最多允许 {} 个",
            r.allowed_violations.unwrap_or(0)
        ),
        (Verdict::Fail, Lang::En) => {
            format!("{v} of {n} requests missed it: missed with {level} confidence")
        }
        (Verdict::Fail, Lang::Zh) => {
            format!("{n} 个请求中 {v} 个未达标: 以 {level} 置信度判定未达到")
        }
        (Verdict::Inconclusive, Lang::En) => match r.more_needed {
            Some(k) => format!(
                "{v} of {n} requests missed it; {k} more requests needed for {level} confidence (if none of them misses {t})"
            ),
            None => format!("{v} of {n} requests missed it; too few to tell at {level} confidence"),
        },
        (Verdict::Inconclusive, Lang::Zh) => match r.more_needed {
            Some(k) => format!(
                "{n} 个请求中 {v} 个未达标; 还需要 {k} 个请求才能达到 {level} 置信度 (若它们都满足 {t})"
            ),
            None => format!("{n} 个请求中 {v} 个未达标; 请求太少, 无法以 {level} 置信度判定"),
        },
    })
}

/// The objectives' section of the report.
pub fn render(reports: &[SloReport], lang: Lang) -> String {
    let mut o = String::new();
    for rep in reports {
        o.push_str(&match lang {
            Lang::En => format!("🎯 Objectives [{}]:\n", rep.phase),
            Lang::Zh => format!("🎯 服务目标 [{}]:\n", rep.phase),
        });
        for r in &rep.results {
            let mut line = format!(
                "   {}  {}  ({})",
                verdict_text(r.verdict, lang),
                r.clause.text,
                measured_text(r, lang)
            );
            if let Some(explained) = explain_percentile(r, lang) {
                line.push_str(" — ");
                line.push_str(&explained);
            } else if r.measured.is_none() && r.clause.metric.is_latency() {
                line.push_str(match lang {
                    Lang::En => " — no successful request",
                    Lang::Zh => " — 没有成功的请求",
                });
            }
            o.push_str(&line);
            o.push('\n');
        }
        o.push_str(&match lang {
            Lang::En => format!("   verdict: {}\n", rep.verdict.as_str()),
            Lang::Zh => format!("   结论: {}\n", rep.verdict.as_str()),
        });
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::model::Load;
    use crate::bench::summary::tests::{phase, rec};
    use crate::outcome::Outcome;
    use crate::stats::confidence::tests::brute_cdf;

    /// n successes of 1, 2, …, n seconds (all sent at 0) and `failed` timeouts.
    fn summary(n: u64, failed: u64) -> PhaseSummary {
        let mut records: Vec<_> = (0..n)
            .map(|i| rec(i, 0.0, 0.0, (i + 1) as f64, Outcome::Success))
            .collect();
        records.extend((0..failed).map(|i| rec(n + i, 0.0, 0.0, 0.5, Outcome::Timeout)));
        PhaseSummary::from_phase(&phase(
            records,
            Load::Closed {
                requests: n + failed,
                concurrency: 1,
            },
        ))
    }

    #[test]
    fn parses_the_documented_example() {
        let slo = Slo::parse("p95<8s,success>=0.99,mean<=6s,throughput>=0.5,p99<20000ms").unwrap();
        let got: Vec<(Metric, Op, f64)> = slo
            .clauses
            .iter()
            .map(|c| (c.metric, c.op, c.threshold))
            .collect();
        assert_eq!(
            got,
            vec![
                (Metric::Percentile(95.0), Op::Lt, 8.0),
                (Metric::Success, Op::Ge, 0.99),
                (Metric::Mean, Op::Le, 6.0),
                (Metric::Throughput, Op::Ge, 0.5),
                (Metric::Percentile(99.0), Op::Lt, 20.0),
            ]
        );
        assert_eq!(slo.clauses[4].text, "p99<20000ms");
    }

    #[test]
    fn parses_other_spellings() {
        let slo = Slo::parse(
            " p99.9 < 1.5m , success >= 99% , error_rate<0.01, max>2, throughput>0.2/s ",
        )
        .unwrap();
        assert_eq!(slo.clauses[0].metric, Metric::Percentile(99.9));
        assert_eq!(slo.clauses[0].threshold, 90.0);
        assert_eq!(slo.clauses[1].threshold, 0.99);
        assert_eq!(slo.clauses[2].metric, Metric::ErrorRate);
        assert_eq!((slo.clauses[3].op, slo.clauses[3].threshold), (Op::Gt, 2.0));
        assert_eq!(slo.clauses[4].threshold, 0.2);
    }

    #[test]
    fn parse_errors_say_what_is_wrong() {
        for (input, hint) in [
            ("", "no objective"),
            ("p95<8s,", "empty clause"),
            ("p95 8s", "no comparison"),
            ("p95==8s", "unsupported comparison"),
            ("p95!=8s", "unsupported comparison"),
            ("latency<8s", "unknown metric"),
            ("p0<8s", "above 0"),
            ("p101<8s", "at most 100"),
            ("p95<8 fortnights", "unknown duration unit"),
            ("p95<fast", "not a number"),
            ("success>=1.5", "at most 1"),
            ("success>=0.9s", "ratio"),
            ("throughput>=3 per hour", "requests per second"),
        ] {
            let e = Slo::parse(input).unwrap_err();
            assert!(e.to_string().contains(hint), "{input:?}: {e}");
        }
        let usage: crate::exit::UsageError = Slo::parse("x").unwrap_err().into();
        assert!(usage.0.contains("invalid --slo clause"));
    }

    #[test]
    fn point_verdicts_against_hand_figures() {
        // 20 successes of 1..20 s, no failure: mean 10.5 s, throughput 1/s (all sent at 0, the
        // last done at 20 s).
        let s = summary(20, 0);
        let rep = evaluate(
            &Slo::parse("mean<=10.5,mean<10.5,throughput>=1,success>=1,max<20s,p100<=20s").unwrap(),
            &s,
        );
        let v: Vec<Verdict> = rep.results.iter().map(|r| r.verdict).collect();
        use Verdict::*;
        assert_eq!(v, vec![Pass, Fail, Pass, Pass, Fail, Pass]);
        assert_eq!(rep.results[0].measured, Some(10.5));
        assert_eq!(rep.verdict, Fail);
        assert_eq!(rep.verdict.exit(), Exit::SloFailed);
    }

    /// The smallest N for which N requests with `t` over a bound that a share `q` must meet
    /// pass at 99 %: walking N upwards with the term-by-term binomial sum.
    fn brute_needed(t: u64, q: f64) -> u64 {
        (t + 1..)
            .find(|&n| brute_cdf(t, n, 1.0 - q) < 0.01)
            .unwrap()
    }

    #[test]
    fn percentile_verdicts_follow_early_stopping() {
        // 100 successes of 1..100 s. A p90 bound at 99 %: 3 slower allowed (P(B ≤ 3) = 0.0078,
        // P(B ≤ 4) = 0.0237 for B ~ Bin(100, 0.1)); 19 slower is a miss (P(B ≥ 19) = 0.0046).
        let s = summary(100, 0);
        let rep = evaluate(
            &Slo::parse("p90<97.5s,p90<96.5s,p90<81.5s,p90<=97s").unwrap(),
            &s,
        );
        let r = &rep.results;
        use Verdict::*;
        assert_eq!(
            r.iter().map(|r| r.verdict).collect::<Vec<_>>(),
            vec![Pass, Inconclusive, Fail, Pass]
        );
        assert_eq!(r[0].violations, Some(3));
        assert_eq!(r[0].allowed_violations, Some(3));
        assert_eq!(r[0].confidence, Some(0.99));
        assert_eq!(r[0].measured, Some(90.0));
        assert_eq!(r[1].violations, Some(4));
        assert_eq!(r[1].needed_samples, Some(brute_needed(4, 0.9)));
        assert_eq!(r[1].more_needed, Some(brute_needed(4, 0.9) - 100));
        assert_eq!(r[2].violations, Some(19));
        // `<=`: a request of exactly 97 s meets it; 98, 99, 100 do not.
        assert_eq!(r[3].violations, Some(3));
        assert!(1.0 - brute_cdf(18, 100, 0.1) < 0.01);
        let text = render(std::slice::from_ref(&rep), Lang::En);
        assert!(
            text.contains("3 of 100 requests missed it, at most 3 allowed at 99% confidence"),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "4 of 100 requests missed it; {} more requests needed for 99% confidence (if none of them misses p90<96.5s)",
                brute_needed(4, 0.9) - 100
            )),
            "{text}"
        );
        assert!(text.contains("19 of 100 requests missed it: missed with 99% confidence"));
        // An INCONCLUSIVE percentile shows its figure as an estimate only.
        let line = text
            .lines()
            .find(|l| l.contains("p90<96.5s") && l.contains("INCONCLUSIVE"))
            .unwrap_or_else(|| panic!("{text}"));
        assert!(line.contains("(estimate "), "{line}");
        assert!(
            text.lines()
                .filter(|l| l.contains("PASS") || l.contains("FAIL"))
                .all(|l| !l.contains("estimate")),
            "{text}"
        );
    }

    #[test]
    fn lower_bounds_and_other_confidences() {
        let s = summary(100, 0);
        // p50>5s: half must be above 5 s; the 5 at or below miss it. P(B ≤ 5 | Bin(100, ½))
        // is tiny: a pass. p10>50s: 90 % must be above 50 s, 50 miss: a fail.
        let rep = evaluate(&Slo::parse("p50>5s,p10>50s").unwrap(), &s);
        assert_eq!(rep.results[0].verdict, Verdict::Pass);
        assert_eq!(rep.results[0].violations, Some(5));
        assert_eq!(rep.results[1].verdict, Verdict::Fail);
        assert_eq!(rep.results[1].violations, Some(50));
        // At 90 % a p90 bound with 100 requests allows more: P(B ≤ 5 | Bin(100, 0.1)) = 0.0576
        // < 0.1, P(B ≤ 6) = 0.1172.
        assert!(brute_cdf(5, 100, 0.1) < 0.1 && brute_cdf(6, 100, 0.1) >= 0.1);
        let rep = evaluate_at(&Slo::parse("p90<95.5s").unwrap(), &s, 0.90);
        assert_eq!(rep.results[0].violations, Some(5));
        assert_eq!(rep.results[0].allowed_violations, Some(5));
        assert_eq!(rep.results[0].verdict, Verdict::Pass);
    }

    #[test]
    fn too_few_samples_is_inconclusive() {
        let s = summary(10, 0);
        let rep = evaluate(&Slo::parse("p99<100s,p90<100s").unwrap(), &s);
        assert_eq!(rep.results[0].verdict, Verdict::Inconclusive);
        // None slower: 0.99ⁿ < 0.01 from n = 459; 0.9ⁿ < 0.01 from n = 44.
        assert_eq!(rep.results[0].needed_samples, Some(459));
        assert_eq!(rep.results[0].more_needed, Some(449));
        assert_eq!(rep.results[0].measured, None);
        assert_eq!(rep.results[1].verdict, Verdict::Inconclusive);
        assert_eq!(rep.results[1].more_needed, Some(34));
        // p90 of 10 is the 9th value, not the maximum: it is shown.
        assert_eq!(rep.results[1].measured, Some(9.0));
        assert_eq!(rep.verdict, Verdict::Inconclusive);
        assert_eq!(rep.verdict.exit(), Exit::SloInconclusive);
        let text = render(std::slice::from_ref(&rep), Lang::En);
        assert!(text.contains("p99<100s  (no figure: from 10 requests it would only be the largest) — 0 of 10 requests missed it; 449 more requests needed for 99% confidence (if none of them misses p99<100s)"), "{text}");
        // A failure elsewhere still wins.
        let rep = evaluate(&Slo::parse("p99<100s,mean<1s").unwrap(), &s);
        assert_eq!(rep.verdict, Verdict::Fail);
    }

    #[test]
    fn failures_count_in_ratios_not_latencies() {
        // 3 successes (1, 2, 3 s) and 1 timeout.
        let s = summary(3, 1);
        let rep = evaluate(
            &Slo::parse("success>=0.75,error_rate<=0.25,success>0.75,max<=3s").unwrap(),
            &s,
        );
        let v: Vec<Verdict> = rep.results.iter().map(|r| r.verdict).collect();
        assert_eq!(
            v,
            vec![Verdict::Pass, Verdict::Pass, Verdict::Fail, Verdict::Pass]
        );
    }

    #[test]
    fn every_phase_is_judged() {
        use crate::bench::summary::tests::results_of;
        let fast = phase(
            vec![rec(0, 0.0, 0.0, 1.0, Outcome::Success)],
            Load::Closed {
                requests: 1,
                concurrency: 1,
            },
        );
        let mut slow = phase(
            vec![rec(0, 0.0, 0.0, 9.0, Outcome::Success)],
            Load::Closed {
                requests: 1,
                concurrency: 1,
            },
        );
        slow.test_type = crate::probe::ProbeMode::Queue;
        let reports = evaluate_results(
            &Slo::parse("max<5s").unwrap(),
            &results_of(vec![fast, slow]),
        );
        let v: Vec<(&str, Verdict)> = reports
            .iter()
            .map(|r| (r.phase.as_str(), r.verdict))
            .collect();
        assert_eq!(
            v,
            vec![("concurrent", Verdict::Pass), ("queue", Verdict::Fail)]
        );
        assert_eq!(overall(&reports), Verdict::Fail);
    }

    #[test]
    fn nothing_succeeded_or_nothing_ran() {
        let all_failed = summary(0, 3);
        let rep = evaluate(&Slo::parse("p95<8s,success>=0.5").unwrap(), &all_failed);
        assert_eq!(rep.results[0].verdict, Verdict::Fail);
        assert_eq!(rep.results[0].measured, None);
        assert!(render(&[rep], Lang::En).contains("no successful request"));
        let nothing = summary(0, 0);
        let rep = evaluate(&Slo::parse("success>=0.5").unwrap(), &nothing);
        assert_eq!(rep.verdict, Verdict::Inconclusive);
        assert_eq!(overall(&[]), Verdict::Pass);
    }
}
