//! What a sweep shows: the table of its points (load, achieved rate, throughput, goodput,
//! success ratio, p50/p95/p99 with the bench's rule of withholding a percentile, "—", below
//! the count that can claim it, and the verdict), the lines under it (knee, single-stream and
//! saturated throughput, the rate search's answer and bracket), and the sweep as JSON for
//! `--json` and `--save` (kind "sweep", every point with its full summary).

use super::Sweep;
use super::plan::Kind;
use super::point::{Offered, Point};
use crate::bench::report::details::{level_label, percentile_text};
use crate::bench::slo::Verdict;
use crate::cli::Lang;
use crate::stats::{INTERVAL_METHOD, MEDIAN_METHOD, PERCENTILE_METHOD};
use comfy_table::{CellAlignment, ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use serde_json::{Value, json};

/// Version of the sweep file's layout; bumped when a key changes meaning.
pub const SWEEP_SCHEMA_VERSION: u64 = 1;

/// A rate in requests per second, three significant digits or so.
pub fn rate_text(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else if v.abs() >= 0.1 || v == 0.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

fn opt_rate(v: Option<f64>) -> String {
    v.map(rate_text).unwrap_or_else(|| "—".to_string())
}

fn offered_text(o: Offered) -> String {
    match o {
        Offered::Concurrency(c) => format!("C={c}"),
        Offered::Rate(r) => format!("{}/s", rate_text(r)),
    }
}

fn verdict_text(p: &Point) -> String {
    match (p.verdict(), p.phase.interrupted) {
        (_, true) => "INTERRUPTED".to_string(),
        (Some(v), false) => v.as_str().to_string(),
        (None, false) => "—".to_string(),
    }
}

/// One line about a point, printed as soon as it is measured.
pub fn point_line(p: &Point) -> String {
    let rt = &p.summary.response_time;
    let pct = |name| percentile_text(rt, name, Lang::En);
    let mut line = format!(
        "{}: {} ok of {}, throughput {}/s, p50 {}, p99 {}",
        offered_text(p.offered),
        p.summary.success,
        p.summary.total,
        rate_text(p.throughput()),
        pct("p50"),
        pct("p99"),
    );
    if let Some(g) = p.goodput_rps {
        line.push_str(&format!(", goodput {}/s", rate_text(g)));
    }
    if p.slo.is_some() || p.phase.interrupted {
        line.push_str(&format!(" → {}", verdict_text(p)));
    }
    line
}

/// Whether a point was judged on p90 (the table and the chart then show it).
pub fn judged_on_p90(points: &[Point]) -> bool {
    points.iter().filter_map(|p| p.slo.as_ref()).any(|s| {
        s.results.iter().any(|r| {
            matches!(r.clause.metric, crate::bench::slo::Metric::Percentile(q) if (q - 90.0).abs() < 1e-9)
        })
    })
}

/// The percentile columns: p50, p95, p99, and p90 when an objective is on it.
fn percentile_columns(points: &[Point]) -> Vec<&'static str> {
    if judged_on_p90(points) {
        vec!["p50", "p90", "p95", "p99"]
    } else {
        vec!["p50", "p95", "p99"]
    }
}

/// The points as a table.
pub fn table(points: &[Point]) -> String {
    let columns = percentile_columns(points);
    let mut header = vec![
        "#",
        "load",
        "achieved/s",
        "throughput/s",
        "goodput/s",
        "success",
    ];
    header.extend(columns.iter().copied());
    header.push("verdict");
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED)
        .force_no_tty()
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(header.clone());
    for (i, p) in points.iter().enumerate() {
        let rt = &p.summary.response_time;
        let pct = |name| percentile_text(rt, name, Lang::En);
        let mut row = vec![
            (i + 1).to_string(),
            offered_text(p.offered),
            opt_rate(p.achieved_rps()),
            opt_rate(p.summary.throughput_rps),
            opt_rate(p.goodput_rps),
            p.summary
                .success_rate
                .map(|r| format!("{:.1}%", r * 100.0))
                .unwrap_or_else(|| "—".to_string()),
        ];
        row.extend(columns.iter().map(|c| pct(c)));
        row.push(verdict_text(p));
        t.add_row(row);
    }
    // Every column right-aligned but the load and the verdict.
    for i in (0..header.len() - 1).filter(|i| *i != 1) {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    let mut out = t.to_string();
    out.push('\n');
    out
}

/// Why some percentiles show "—": the count each one needs, from the points that lack it.
fn withheld_note(points: &[Point]) -> Option<String> {
    let mut parts = Vec::new();
    let mut level = None;
    for name in percentile_columns(points) {
        let needed = points
            .iter()
            .map(|p| &p.summary.response_time)
            .filter(|s| !s.is_empty())
            .filter(|s| s.estimate(name).is_some_and(|e| e.value.is_none()))
            .filter_map(|s| {
                level = Some(s.confidence);
                s.estimate(name).and_then(|e| e.needed_samples)
            })
            .max();
        if let Some(n) = needed {
            parts.push(format!("{name} needs ≥ {n} requests"));
        }
    }
    let level = level?;
    Some(format!(
        "— : too few requests to claim it at {} confidence ({})",
        level_label(level),
        parts.join(", ")
    ))
}

fn knee_line(s: &Sweep) -> Option<String> {
    let (Kind::Concurrency(_) | Kind::Rates(_)) = &s.plan.kind else {
        return None;
    };
    let measured = s
        .points
        .iter()
        .filter(|p| matches!(p.offered, Offered::Concurrency(_)))
        .count();
    if measured == 0 {
        return None;
    }
    let gain = s.plan.knee_gain * 100.0;
    Some(match &s.knee {
        Some(k) => format!(
            "📍 knee: C = {} — going to C = {}, throughput {:+.1}% (< {gain:.0}%) while p50 {}",
            k.concurrency,
            k.next_concurrency,
            k.throughput_gain * 100.0,
            k.p50_growth
                .map(|g| format!("{:+.1}%", g * 100.0))
                .unwrap_or_else(|| "rose (no success)".to_string()),
        ),
        None if measured < 2 => "📍 knee: one concurrency measured, nothing to compare".to_string(),
        None => format!(
            "📍 knee: none found — throughput grew by ≥ {gain:.0}% (or p50 did not rise) at every step measured"
        ),
    })
}

fn search_line(s: &Sweep) -> Option<String> {
    let (Kind::MaxRateUnder { text, .. }, Some(o)) = (&s.plan.kind, &s.search) else {
        return None;
    };
    let probes = s.search_points().count();
    let inconclusive = s
        .search_points()
        .filter(|p| p.verdict() == Some(Verdict::Inconclusive))
        .count();
    let tail = format!(
        "step {}/s, {probes} probes{}",
        rate_text(o.step),
        if inconclusive > 0 {
            format!(", {inconclusive} INCONCLUSIVE (counted as not PASS)")
        } else {
            String::new()
        }
    );
    Some(match o.max_rate {
        Some(r) if o.upper_end_passed => format!(
            "🎯 max rate under {text}: ≥ {}/s — the upper end of the search passed ({tail}); raise --max-rate to look higher",
            rate_text(r)
        ),
        Some(r) => format!(
            "🎯 max rate under {text}: {}/s (PASS; {}/s did not; {tail})",
            rate_text(r),
            rate_text(o.bracket.1)
        ),
        None => format!(
            "🎯 max rate under {text}: no rate passed — not even {}/s ({tail})",
            rate_text(o.bracket.1)
        ),
    })
}

/// The text report: the table, then what the sweep found.
pub fn render(s: &Sweep) -> String {
    let mut o = String::new();
    if s.interrupted {
        o.push_str(&format!(
            "⏹  INTERRUPTED — {} points measured before Ctrl-C\n",
            s.points.len()
        ));
    }
    o.push_str(&format!(
        "📊 fluxprobe sweep ({}) → {}{}\n",
        s.plan.kind.name().replace('_', "-"),
        s.config.url,
        if s.config.simulated {
            " (simulated API)"
        } else {
            ""
        }
    ));
    if let Some(slo) = &s.objectives_text {
        o.push_str(&format!("   objectives: {slo}\n"));
    }
    o.push_str(&table(&s.points));
    if let Some(n) = withheld_note(&s.points) {
        o.push_str(&format!("   {n}\n"));
    }
    if let Some(l) = knee_line(s) {
        o.push_str(&l);
        o.push('\n');
    }
    if s.single_stream_rps.is_some() || s.saturated_rps.is_some() {
        o.push_str(&format!(
            "🚦 single stream {}/s · saturated {}/s\n",
            opt_rate(s.single_stream_rps),
            opt_rate(s.saturated_rps)
        ));
    }
    if let Some(l) = search_line(s) {
        o.push_str(&l);
        o.push('\n');
    }
    for n in &s.notes {
        o.push_str(&format!("ℹ️  {n}\n"));
    }
    o
}

fn offered_json(o: Offered) -> Value {
    match o {
        Offered::Concurrency(c) => json!({"concurrency": c}),
        Offered::Rate(r) => json!({"rate": r}),
    }
}

/// The sweep as JSON: `--json` prints it, `--save` writes it.
pub fn to_json(s: &Sweep) -> Value {
    let points: Vec<Value> = s
        .points
        .iter()
        .enumerate()
        .map(|(i, p)| {
            json!({
                "index": i + 1,
                "stage": p.stage,
                "offered": offered_json(p.offered),
                "achieved_rps": p.achieved_rps(),
                "throughput_rps": p.summary.throughput_rps,
                "goodput_rps": p.goodput_rps,
                "success_rate": p.summary.success_rate,
                "verdict": p.verdict(),
                "interrupted": p.phase.interrupted,
                "slo": p.slo,
                "summary": p.summary,
            })
        })
        .collect();
    let search = match (&s.plan.kind, &s.search) {
        (Kind::MaxRateUnder { text, .. }, Some(o)) => json!({
            "objective": text,
            "max_rate": o.max_rate,
            "bracket": [o.bracket.0, o.bracket.1],
            "step": o.step,
            "upper_end": o.upper_end,
            "upper_end_passed": o.upper_end_passed,
        }),
        _ => Value::Null,
    };
    json!({
        "kind": "sweep",
        "sweep": s.plan.kind.name(),
        "fluxprobe": {
            "version": s.tool_version,
            "schema_version": SWEEP_SCHEMA_VERSION,
            "percentile_method": PERCENTILE_METHOD,
            "median_method": MEDIAN_METHOD,
            "interval_method": INTERVAL_METHOD,
        },
        "test_config": s.config,
        "settings": {
            "requests": s.plan.requests,
            "rounds": s.plan.rounds,
            "knee_gain": s.plan.knee_gain,
            "max_concurrency": s.plan.max_concurrency,
            "points": s.plan.points,
            "resolution": s.plan.resolution,
            "max_rate": s.plan.max_rate,
            "duration_seconds": s.plan.duration_seconds,
            "objectives": s.objectives_text,
        },
        "points": points,
        "knee": s.knee,
        "single_stream_rps": s.single_stream_rps,
        "saturated_rps": s.saturated_rps,
        "search": search,
        "notes": s.notes,
        "interrupted": s.interrupted,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_read_well() {
        assert_eq!(rate_text(0.0), "0.00");
        assert_eq!(rate_text(0.0555), "0.056");
        assert_eq!(rate_text(0.5556), "0.56");
        assert_eq!(rate_text(12.34), "12.3");
        assert_eq!(rate_text(1234.0), "1234");
        assert_eq!(offered_text(Offered::Concurrency(4)), "C=4");
        assert_eq!(offered_text(Offered::Rate(0.5)), "0.50/s");
    }
}
