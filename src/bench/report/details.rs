//! fluxprobe's additions to the report, one section per phase after the seed-style part:
//! nearest-rank percentiles with a too-few-samples warning, throughput in images and
//! megapixels, achieved against requested load, waits, VRAM, failures by reason with their
//! first messages, parse issues, and where the figures come from.

use super::seed::phase_title;
use super::text::{self, num, secs4, tr};
use crate::bench::results::read::SEED_VERSION;
use crate::bench::summary::PhaseSummary;
use crate::cli::Lang;
use crate::stats::{Summary, min_samples_for};
use std::fmt::Write;

/// The rule that sets fluxprobe's sections apart from the seed's `=` rules.
pub const RULE: &str = "------------------------------------------------------------";

/// Percentiles shown, with the warning rule applied to each.
const PERCENTILES: [(f64, &str); 4] = [(50.0, "p50"), (90.0, "p90"), (95.0, "p95"), (99.0, "p99")];

/// "p99 from 10 requests is just the maximum (needs at least 100)", when it is so.
pub fn too_few_warning(label: &str, p: f64, n: u64, lang: Lang) -> Option<String> {
    let needed = min_samples_for(p)?;
    (n > 0 && n < needed).then(|| match lang {
        Lang::En => {
            format!("{label} from {n} requests is just the maximum (needs at least {needed})")
        }
        Lang::Zh => format!("{label} 仅基于 {n} 个请求, 即最大值 (至少需要 {needed} 个)"),
    })
}

fn mean_median_p95(s: &Summary, lang: Lang) -> String {
    match lang {
        Lang::En => format!(
            "mean {} · median {} · p95 {} (n = {})",
            secs4(lang, s.mean),
            secs4(lang, s.median),
            secs4(lang, s.p95),
            s.count
        ),
        Lang::Zh => format!(
            "平均 {} · 中位数 {} · p95 {} (n = {})",
            secs4(lang, s.mean),
            secs4(lang, s.median),
            secs4(lang, s.p95),
            s.count
        ),
    }
}

/// fluxprobe's section of one phase. `tool_version` says who measured it ("seed" for a seed
/// tool's file).
pub fn render(s: &PhaseSummary, tool_version: &str, lang: Lang) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "{RULE}");
    let _ = writeln!(
        o,
        "🔬 {}{} [{}]",
        tr(lang, "fluxprobe details: ", "fluxprobe 详细统计: "),
        phase_title(s.test_type, lang),
        s.name
    );
    let _ = writeln!(o, "{RULE}");

    // Response-time percentiles of successes.
    let rt = &s.response_time;
    o.push_str(tr(
        lang,
        "📐 Response time of successes (percentiles by nearest rank):\n",
        "📐 成功请求的响应时间 (百分位数按最近秩法):\n",
    ));
    if rt.is_empty() {
        o.push_str(tr(
            lang,
            "   (no successful requests)\n",
            "   (没有成功的请求)\n",
        ));
    } else {
        let ps: Vec<String> = PERCENTILES
            .iter()
            .map(|(p, label)| format!("{label} {}", secs4(lang, rt.percentile(*p))))
            .collect();
        let _ = writeln!(o, "   {}", ps.join(" · "));
        let _ = match lang {
            Lang::En => writeln!(
                o,
                "   mean {} · median {} · min {} · max {} · std dev {} (n = {})",
                secs4(lang, rt.mean),
                secs4(lang, rt.median),
                secs4(lang, rt.min),
                secs4(lang, rt.max),
                secs4(lang, rt.stddev),
                rt.count
            ),
            Lang::Zh => writeln!(
                o,
                "   平均 {} · 中位数 {} · 最小 {} · 最大 {} · 标准差 {} (n = {})",
                secs4(lang, rt.mean),
                secs4(lang, rt.median),
                secs4(lang, rt.min),
                secs4(lang, rt.max),
                secs4(lang, rt.stddev),
                rt.count
            ),
        };
        for (p, label) in PERCENTILES {
            if let Some(w) = too_few_warning(label, p, rt.count, lang) {
                let _ = writeln!(o, "   ⚠️ {w}");
            }
        }
    }

    // Throughput.
    let _ = match lang {
        Lang::En => writeln!(
            o,
            "🚚 Throughput: {} requests/s · {} images/s · {} megapixels/s",
            num(s.throughput_rps, 4),
            num(s.images_per_second, 4),
            num(s.megapixels_per_second, 4)
        ),
        Lang::Zh => writeln!(
            o,
            "🚚 吞吐量: {} 请求/秒 · {} 图像/秒 · {} 百万像素/秒",
            num(s.throughput_rps, 4),
            num(s.images_per_second, 4),
            num(s.megapixels_per_second, 4)
        ),
    };
    let _ = match lang {
        Lang::En => writeln!(
            o,
            "   wall time {} (first intended send → last answer)",
            secs4(lang, s.wall_time_seconds)
        ),
        Lang::Zh => writeln!(
            o,
            "   总耗时 {} (首个计划发送 → 最后一个应答)",
            secs4(lang, s.wall_time_seconds)
        ),
    };

    // Load: concurrency, and rate for the open loop.
    let c = &s.concurrency;
    let requested = c
        .requested
        .map(|r| r.to_string())
        .or(c.max_in_flight.map(|m| format!("≤ {m}")))
        .unwrap_or_else(|| "?".to_string());
    let _ = match lang {
        Lang::En => writeln!(
            o,
            "🔀 Concurrency: requested {requested} · achieved {} (average in flight) · peak {}",
            num(c.achieved, 2),
            c.peak_in_flight
        ),
        Lang::Zh => writeln!(
            o,
            "🔀 并发: 请求 {requested} · 实际 {} (平均在途) · 峰值 {}",
            num(c.achieved, 2),
            c.peak_in_flight
        ),
    };
    if let Some(r) = &s.rate {
        let _ = match lang {
            Lang::En => writeln!(
                o,
                "📅 Rate: requested {:.2}/s for {:.0} s · achieved {}/s · skipped at max in flight {}",
                r.requested,
                r.duration_seconds,
                num(r.achieved, 2),
                s.skipped
            ),
            Lang::Zh => writeln!(
                o,
                "📅 速率: 请求 {:.2}/秒, 持续 {:.0} 秒 · 实际 {}/秒 · 因在途上限跳过 {}",
                r.requested,
                r.duration_seconds,
                num(r.achieved, 2),
                s.skipped
            ),
        };
        let lag = &s.schedule_lag;
        let _ = match lang {
            Lang::En => writeln!(
                o,
                "   schedule lag: mean {} · p99 {} · max {}",
                secs4(lang, lag.mean),
                secs4(lang, lag.p99),
                secs4(lang, lag.max)
            ),
            Lang::Zh => writeln!(
                o,
                "   调度延迟: 平均 {} · p99 {} · 最大 {}",
                secs4(lang, lag.mean),
                secs4(lang, lag.p99),
                secs4(lang, lag.max)
            ),
        };
    }

    // Waits and server-side figures.
    if !s.generation_time.is_empty() {
        let _ = writeln!(
            o,
            "🎨 {}{}",
            tr(lang, "Generation time (server): ", "生成时间 (服务器): "),
            mean_median_p95(&s.generation_time, lang)
        );
    }
    if !s.queue_wait.is_empty() {
        let _ = writeln!(
            o,
            "⏳ {}{}",
            tr(
                lang,
                "Queue wait (response − generation): ",
                "排队等待 (响应 − 生成): "
            ),
            mean_median_p95(&s.queue_wait, lang)
        );
    }
    if !s.server_queue_wait.is_empty() {
        let _ = writeln!(
            o,
            "🗄️ {}{}",
            tr(lang, "Server queue wait: ", "服务器排队时间: "),
            mean_median_p95(&s.server_queue_wait, lang)
        );
    }
    if !s.server_service_time.is_empty() {
        let _ = writeln!(
            o,
            "🗄️ {}{}",
            tr(lang, "Server service time: ", "服务器处理时间: "),
            mean_median_p95(&s.server_service_time, lang)
        );
    }
    if let (Some(lo), Some(hi)) = (s.vram_min_bytes, s.vram_max_bytes) {
        let gib = crate::api::units::BYTES_PER_GIB;
        let _ = match lang {
            Lang::En => writeln!(
                o,
                "💾 VRAM reported: min {:.2} GB · max {:.2} GB",
                lo / gib,
                hi / gib
            ),
            Lang::Zh => writeln!(
                o,
                "💾 报告的显存: 最小 {:.2} GB · 最大 {:.2} GB",
                lo / gib,
                hi / gib
            ),
        };
    }

    // Failures.
    if s.failed > 0 || s.not_started > 0 {
        o.push_str(tr(lang, "❌ Failures by reason:\n", "❌ 失败原因:\n"));
        for g in &s.failures {
            let msgs: Vec<String> = g
                .first_messages
                .iter()
                .map(|m| format!("\"{}\"", text::one_line(m, 120)))
                .collect();
            let _ = writeln!(o, "   {} ×{}", g.reason, g.count);
            for m in msgs {
                let _ = writeln!(o, "      {m}");
            }
        }
        let f = &s.failure_response_time;
        if !f.is_empty() {
            let _ = match lang {
                Lang::En => writeln!(
                    o,
                    "   failure latency: mean {} · median {} · max {}",
                    secs4(lang, f.mean),
                    secs4(lang, f.median),
                    secs4(lang, f.max)
                ),
                Lang::Zh => writeln!(
                    o,
                    "   失败请求耗时: 平均 {} · 中位数 {} · 最大 {}",
                    secs4(lang, f.mean),
                    secs4(lang, f.median),
                    secs4(lang, f.max)
                ),
            };
        }
        if s.not_started > 0 {
            let _ = match lang {
                Lang::En => writeln!(o, "   not started: {}", s.not_started),
                Lang::Zh => writeln!(o, "   未开始: {}", s.not_started),
            };
        }
    }
    if !s.parse_issues.is_empty() {
        let list: Vec<String> = s
            .parse_issues
            .iter()
            .map(|(field, n)| format!("{} ×{n}", text::one_line(field, 40)))
            .collect();
        let _ = writeln!(
            o,
            "🧩 {}{}",
            tr(
                lang,
                "Unusable fields in answers: ",
                "应答中无法解析的字段: "
            ),
            list.join(", ")
        );
    }
    if s.warmup > 0 {
        let _ = match lang {
            Lang::En => writeln!(
                o,
                "🔥 Warm-up: {} requests left out of every figure",
                s.warmup
            ),
            Lang::Zh => writeln!(o, "🔥 预热: {} 个请求不计入统计", s.warmup),
        };
    }
    if s.interrupted {
        o.push_str(tr(
            lang,
            "⚠️  This phase was interrupted.\n",
            "⚠️  该阶段被中断。\n",
        ));
    }
    let source = if tool_version == SEED_VERSION {
        tr(
            lang,
            "📄 Source: a results file of the seed tool (figures recomputed by fluxprobe)",
            "📄 来源: 原始测试脚本的结果文件 (由 fluxprobe 重新计算)",
        )
        .to_string()
    } else {
        match lang {
            Lang::En => format!("📄 Source: measured by fluxprobe {tool_version}"),
            Lang::Zh => format!("📄 来源: fluxprobe {tool_version} 测量"),
        }
    };
    let _ = writeln!(o, "{source}");
    o
}
