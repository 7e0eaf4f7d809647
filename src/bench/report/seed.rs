//! The parts of the report laid out exactly as the seed tool printed them: a phase's
//! "测试报告" block (overall counts, response time, generation time) and the per-request table.
//! Figures keep the seed's two decimals; fluxprobe's finer figures are in the details section.

use super::text::{self, pad, secs2, tr};
use crate::bench::model::{Load, PhaseResult};
use crate::bench::summary::PhaseSummary;
use crate::cli::Lang;
use crate::probe::{ProbeMode, ProbeRecord};
use std::fmt::Write;

/// Rules of the seed's blocks.
pub const RULE_60: &str = "============================================================";
pub const RULE_80: &str =
    "================================================================================";

/// Rows of the per-request table before "… N more".
pub const TABLE_ROWS: usize = 20;

/// The name of a phase's report: the seed's ("并发请求" / "Concurrent requests") for N requests
/// at concurrency C, and an open-loop name for a rate run, whose requests are not held to a
/// concurrency.
pub fn phase_title(mode: ProbeMode, load: &Load, lang: Lang) -> &'static str {
    let open = matches!(load, Load::Open { .. });
    match (mode, open) {
        (ProbeMode::Generate, false) => tr(lang, "Concurrent requests", "并发请求"),
        (ProbeMode::Queue, false) => tr(lang, "Queued requests", "队列请求"),
        (ProbeMode::Generate, true) => tr(lang, "Open-loop requests", "开环请求"),
        (ProbeMode::Queue, true) => tr(lang, "Open-loop queued requests", "开环队列请求"),
    }
}

/// The seed's report block of one phase.
pub fn phase_block(s: &PhaseSummary, lang: Lang) -> String {
    let mut o = String::new();
    let line = |o: &mut String, label: &str, value: String| {
        let _ = writeln!(o, "   {label}{value}");
    };
    let _ = writeln!(o, "{RULE_60}");
    let _ = writeln!(
        o,
        "📊 {}{}",
        phase_title(s.test_type, &s.load, lang),
        tr(lang, " test report", " 测试报告")
    );
    let _ = writeln!(o, "{RULE_60}");
    o.push_str(tr(lang, "📈 Overall:\n", "📈 总体统计:\n"));
    line(
        &mut o,
        tr(lang, "Total requests: ", "总请求数: "),
        s.total.to_string(),
    );
    line(
        &mut o,
        tr(lang, "Successful: ", "成功请求: "),
        s.success.to_string(),
    );
    line(
        &mut o,
        tr(lang, "Failed: ", "失败请求: "),
        s.failed.to_string(),
    );
    line(
        &mut o,
        tr(lang, "Success rate: ", "成功率: "),
        s.success_rate
            .map(|r| format!("{:.2}%", r * 100.0))
            .unwrap_or_else(|| "N/A".to_string()),
    );
    line(
        &mut o,
        tr(lang, "Total time: ", "总耗时: "),
        secs2(lang, s.wall_time_seconds),
    );
    line(
        &mut o,
        tr(lang, "Throughput: ", "吞吐量: "),
        match s.throughput_rps {
            Some(t) => format!("{t:.2}{}", tr(lang, " requests/s", " 请求/秒")),
            None => "N/A".to_string(),
        },
    );
    o.push('\n');

    o.push_str(tr(lang, "⏱️  Response time:\n", "⏱️  响应时间:\n"));
    let rt = &s.response_time;
    if rt.is_empty() {
        o.push_str(tr(
            lang,
            "   (no successful requests)\n",
            "   (没有成功的请求)\n",
        ));
    } else {
        line(
            &mut o,
            tr(lang, "Mean response time: ", "平均响应时间: "),
            secs2(lang, rt.mean),
        );
        line(
            &mut o,
            tr(lang, "Median response time: ", "中位数响应时间: "),
            secs2(lang, rt.median),
        );
        line(
            &mut o,
            tr(lang, "Min response time: ", "最小响应时间: "),
            secs2(lang, rt.min),
        );
        line(
            &mut o,
            tr(lang, "Max response time: ", "最大响应时间: "),
            secs2(lang, rt.max),
        );
        line(
            &mut o,
            tr(lang, "Response time std dev: ", "响应时间标准差: "),
            secs2(lang, rt.stddev),
        );
    }
    o.push('\n');

    o.push_str(tr(lang, "🎨 Generation time:\n", "🎨 生成时间:\n"));
    let g = &s.generation_time;
    if g.is_empty() {
        o.push_str(tr(
            lang,
            "   (not reported by the server)\n",
            "   (服务器未报告)\n",
        ));
    } else {
        line(
            &mut o,
            tr(lang, "Mean generation time: ", "平均生成时间: "),
            secs2(lang, g.mean),
        );
        line(
            &mut o,
            tr(lang, "Median generation time: ", "中位数生成时间: "),
            secs2(lang, g.median),
        );
    }
    let _ = writeln!(o, "{RULE_60}");
    o
}

/// The zh table header exactly as the seed printed it.
const HEADER_ZH: &str = "请求ID    状态     响应时间(s)   生成时间(s)   VRAM使用    ";

/// Column widths (display columns) of the table rows: id, status, response, generation, VRAM.
const WIDTHS: [usize; 5] = [10, 8, 13, 13, 13];

fn header(lang: Lang) -> String {
    match lang {
        Lang::Zh => HEADER_ZH.to_string(),
        Lang::En => ["Request", "Status", "Response(s)", "Gen time(s)", "VRAM"]
            .iter()
            .zip(WIDTHS)
            .map(|(h, w)| pad(h, w))
            .collect(),
    }
}

fn row(r: &ProbeRecord) -> String {
    let status = if r.is_success() { "✅" } else { "❌" };
    let gen_time = r
        .generation_time
        .map(|g| format!("{g:.2}"))
        .unwrap_or_else(|| "N/A".to_string());
    let vram = r
        .vram_raw
        .as_deref()
        .map(|v| text::one_line(v, 12))
        .unwrap_or_else(|| "N/A".to_string());
    let cells = [
        r.request_id(),
        status.to_string(),
        format!("{:.2}", r.response_time()),
        gen_time,
        vram,
    ];
    let mut line: String = cells.iter().zip(WIDTHS).map(|(c, w)| pad(c, w)).collect();
    if !r.is_success() {
        line.push_str(r.outcome.as_str());
    }
    line
}

/// The seed's per-request table of a phase (warm-up left out), at most [`TABLE_ROWS`] rows.
/// `name_phase` adds the phase's name to the title (when a run has several phases).
pub fn request_table(phase: &PhaseResult, name_phase: bool, lang: Lang) -> String {
    let mut o = String::new();
    o.push_str(tr(lang, "📋 Results table", "📋 测试结果汇总表"));
    if name_phase {
        let _ = write!(o, " ({})", phase_title(phase.test_type, &phase.load, lang));
    }
    o.push('\n');
    let _ = writeln!(o, "{RULE_80}");
    let _ = writeln!(o, "{}", header(lang));
    let _ = writeln!(o, "{RULE_80}");
    let mut records: Vec<&ProbeRecord> = phase.measured().collect();
    records.sort_by_key(|r| r.seq);
    for r in records.iter().take(TABLE_ROWS) {
        let _ = writeln!(o, "{}", row(r));
    }
    if records.len() > TABLE_ROWS {
        let more = records.len() - TABLE_ROWS;
        let _ = match lang {
            Lang::En => writeln!(o, "… {more} more"),
            Lang::Zh => writeln!(o, "… 还有 {more} 条"),
        };
    }
    let _ = writeln!(o, "{RULE_80}");
    o
}
