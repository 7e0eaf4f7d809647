//! Service-level objectives of a bench run (`--slo 'p95<8s,success>=0.99,throughput>=0.5'`):
//! parsing the clauses and judging each one against a phase's figures as PASS, FAIL or
//! INCONCLUSIVE (a percentile from too few requests to be more than the maximum).
//!
//! Metrics: `pNN` (nearest-rank percentile of successful response times, e.g. `p95`, `p99.9`),
//! `mean`, `median`, `min`, `max` (of successful response times), `success` (ratio of
//! successful requests, `0.99` or `99%`), `error_rate` (ratio of failed requests), `throughput`
//! (successful requests per second). Operators: `<`, `<=`, `>`, `>=`. Durations take a unit
//! (`ms`, `s`, `m`, `h`; a bare number is seconds).

use crate::bench::summary::PhaseSummary;
use crate::cli::Lang;
use crate::exit::Exit;
use crate::stats::min_samples_for;
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
    fn is_latency(self) -> bool {
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
    /// Percentile clauses: the fewest samples for the percentile to be more than the maximum.
    pub needed_samples: Option<u64>,
}

/// Every clause judged against one phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SloReport {
    pub phase: String,
    pub results: Vec<ClauseResult>,
    /// FAIL if any clause failed, else INCONCLUSIVE if any was, else PASS.
    pub verdict: Verdict,
}

/// Judges one clause. Latency clauses look at successes only; with no success at all they
/// fail (the objective is plainly not met). A percentile from fewer samples than
/// [`min_samples_for`] is INCONCLUSIVE whatever its value; ratio and throughput clauses with no
/// request at all are INCONCLUSIVE.
pub fn judge(c: &Clause, s: &PhaseSummary) -> ClauseResult {
    let rt = &s.response_time;
    let (measured, samples, needed) = match c.metric {
        Metric::Percentile(p) => (rt.percentile(p), rt.count, min_samples_for(p)),
        Metric::Mean => (rt.mean, rt.count, None),
        Metric::Median => (rt.median, rt.count, None),
        Metric::Min => (rt.min, rt.count, None),
        Metric::Max => (rt.max, rt.count, None),
        Metric::Success => (s.success_rate, s.total, None),
        Metric::ErrorRate => (s.error_rate, s.total, None),
        Metric::Throughput => (s.throughput_rps, s.total, None),
    };
    let verdict = match measured {
        None if c.metric.is_latency() && rt.count == 0 => Verdict::Fail,
        None => Verdict::Inconclusive,
        Some(_) if needed.is_some_and(|n| samples < n) => Verdict::Inconclusive,
        Some(m) if c.op.holds(m, c.threshold) => Verdict::Pass,
        Some(_) => Verdict::Fail,
    };
    ClauseResult {
        clause: c.clone(),
        measured,
        verdict,
        samples,
        needed_samples: needed,
    }
}

/// Judges every clause against one phase.
pub fn evaluate(slo: &Slo, s: &PhaseSummary) -> SloReport {
    let results: Vec<ClauseResult> = slo.clauses.iter().map(|c| judge(c, s)).collect();
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

/// Judges every clause against every phase of a run.
pub fn evaluate_results(slo: &Slo, results: &crate::bench::model::BenchResults) -> Vec<SloReport> {
    crate::bench::summary::summarize(results)
        .iter()
        .map(|s| evaluate(slo, s))
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
        None => match lang {
            Lang::En => "nothing measured".to_string(),
            Lang::Zh => "无测量值".to_string(),
        },
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
            if r.verdict == Verdict::Inconclusive
                && let (Metric::Percentile(p), Some(needed)) = (r.clause.metric, r.needed_samples)
            {
                line.push_str(&match lang {
                    Lang::En => format!(
                        " — p{p} from {} requests is just the maximum (needs at least {needed})",
                        r.samples
                    ),
                    Lang::Zh => format!(
                        " — p{p} 仅基于 {} 个请求, 即最大值 (至少需要 {needed} 个)",
                        r.samples
                    ),
                });
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
    fn verdicts_against_hand_figures() {
        // 20 successes of 1..20 s, no failure: p95 = 19th = 19 s, mean 10.5 s, throughput 1/s.
        let s = summary(20, 0);
        let rep = evaluate(
            &Slo::parse("p95<19.5s,p95<19s,mean<=10.5,throughput>=1,success>=1").unwrap(),
            &s,
        );
        let v: Vec<Verdict> = rep.results.iter().map(|r| r.verdict).collect();
        assert_eq!(
            v,
            vec![
                Verdict::Pass,
                Verdict::Fail,
                Verdict::Pass,
                Verdict::Pass,
                Verdict::Pass
            ]
        );
        assert_eq!(rep.results[0].measured, Some(19.0));
        assert_eq!(rep.verdict, Verdict::Fail);
        assert_eq!(rep.verdict.exit(), Exit::SloFailed);
    }

    #[test]
    fn too_few_samples_is_inconclusive() {
        let s = summary(10, 0);
        let rep = evaluate(&Slo::parse("p99<100s,p90<100s").unwrap(), &s);
        assert_eq!(rep.results[0].verdict, Verdict::Inconclusive);
        assert_eq!(rep.results[0].needed_samples, Some(100));
        assert_eq!(rep.results[1].verdict, Verdict::Pass);
        assert_eq!(rep.verdict, Verdict::Inconclusive);
        assert_eq!(rep.verdict.exit(), Exit::SloInconclusive);
        let text = render(std::slice::from_ref(&rep), Lang::En);
        assert!(text.contains("p99 from 10 requests is just the maximum (needs at least 100)"));
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
