//! fluxprobe's additions to the report, one section per phase after the seed-style part:
//! nearest-rank percentiles with their confidence intervals (withheld, "—", below the count at
//! which they can be claimed), throughput in images, megapixels and denoising steps, achieved
//! against requested and offered load, saturation, waits, VRAM, failures by reason with their
//! first messages, parse issues, and where the figures come from.

use super::seed::phase_title;
use super::text::{self, num, secs4, tr};
use crate::bench::results::read::SEED_VERSION;
use crate::bench::summary::PhaseSummary;
use crate::cli::Lang;
use crate::stats::exact::SUMMARY_PERCENTILES;
use crate::stats::{PercentileEstimate, Summary};
use std::fmt::Write;

/// The rule that sets fluxprobe's sections apart from the seed's `=` rules.
pub const RULE: &str = "------------------------------------------------------------";

/// A confidence level as a percentage: 0.95 → "95%", 0.999 → "99.9%".
pub fn level_label(level: f64) -> String {
    let pct = level * 100.0;
    let rounded = (pct * 10.0).round() / 10.0;
    if (rounded - rounded.round()).abs() < 1e-9 {
        format!("{}%", rounded.round() as i64)
    } else {
        format!("{rounded:.1}%")
    }
}

/// A reported percentile of a summary: its value, "—" when it cannot be claimed from so few
/// samples, "N/A" when there are none.
pub fn percentile_text(s: &Summary, name: &str, lang: Lang) -> String {
    if s.is_empty() {
        return "N/A".to_string();
    }
    let value = match name {
        "p50" => s.p50,
        "p90" => s.p90,
        "p95" => s.p95,
        "p99" => s.p99,
        _ => None,
    };
    match value {
        Some(_) => secs4(lang, value),
        None => "—".to_string(),
    }
}

/// One percentile's line: "p50 5.0000 s (95% CI 2.0000 s – 9.0000 s; upper bound 9.0000 s)",
/// or "p99 — needs ≥ 299 requests (n = 10); at least 9.0000 s".
pub fn percentile_line(
    name: &str,
    e: &PercentileEstimate,
    n: u64,
    level: f64,
    lang: Lang,
) -> String {
    let level = level_label(level);
    let end = |v: Option<f64>| match v {
        Some(_) => secs4(lang, v),
        None => "—".to_string(),
    };
    // An end of the two-sided interval that no sample reaches lies beyond the samples.
    let low = match e.lower {
        Some(_) => secs4(lang, e.lower),
        None => tr(lang, "below the smallest sample", "低于最小样本").to_string(),
    };
    let high = match e.upper {
        Some(_) => secs4(lang, e.upper),
        None => tr(lang, "beyond the largest sample", "超出最大样本").to_string(),
    };
    match e.value {
        Some(_) => match lang {
            Lang::En => format!(
                "{name} {} ({level} CI {low} – {high}; upper bound {})",
                secs4(lang, e.value),
                end(e.upper_bound)
            ),
            Lang::Zh => format!(
                "{name} {} ({level} 置信区间 {low} – {high}; 上界 {})",
                secs4(lang, e.value),
                end(e.upper_bound)
            ),
        },
        None => {
            let needed = e
                .needed_samples
                .map(|m| m.to_string())
                .unwrap_or_else(|| "?".to_string());
            let mut line = match lang {
                Lang::En => format!("{name} — needs ≥ {needed} requests for {level} (n = {n})"),
                Lang::Zh => format!("{name} — 需要至少 {needed} 个请求才能达到 {level} (n = {n})"),
            };
            if e.lower.is_some() {
                line.push_str(&match lang {
                    Lang::En => format!("; at least {}", secs4(lang, e.lower)),
                    Lang::Zh => format!("; 不低于 {}", secs4(lang, e.lower)),
                });
            }
            line
        }
    }
}

fn mean_median_p95(s: &Summary, lang: Lang) -> String {
    match lang {
        Lang::En => format!(
            "mean {} · median {} · p95 {} (n = {})",
            secs4(lang, s.mean),
            secs4(lang, s.median),
            percentile_text(s, "p95", lang),
            s.count
        ),
        Lang::Zh => format!(
            "平均 {} · 中位数 {} · p95 {} (n = {})",
            secs4(lang, s.mean),
            secs4(lang, s.median),
            percentile_text(s, "p95", lang),
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
        phase_title(s.test_type, &s.load, lang),
        s.name
    );
    let _ = writeln!(o, "{RULE}");

    // Response-time percentiles of successes, with their confidence.
    let rt = &s.response_time;
    let _ = match lang {
        Lang::En => writeln!(
            o,
            "📐 Response time of successes (percentiles by nearest rank; {} confidence by order statistics):",
            level_label(rt.confidence)
        ),
        Lang::Zh => writeln!(
            o,
            "📐 成功请求的响应时间 (百分位数按最近秩法; 按次序统计量给出 {} 置信区间):",
            level_label(rt.confidence)
        ),
    };
    if rt.is_empty() {
        o.push_str(tr(
            lang,
            "   (no successful requests)\n",
            "   (没有成功的请求)\n",
        ));
    } else {
        for (_, name) in SUMMARY_PERCENTILES {
            if let Some(e) = rt.estimate(name) {
                let _ = writeln!(
                    o,
                    "   {}",
                    percentile_line(name, e, rt.count, rt.confidence, lang)
                );
            }
        }
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
    }

    // Throughput, in requests and in image-generation units.
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
            "   denoising steps: {} steps/s · {} steps per generation second · {} megapixel-steps/s",
            num(s.steps_per_second, 2),
            num(s.steps_per_generation_second, 2),
            num(s.megapixel_steps_per_second, 2)
        ),
        Lang::Zh => writeln!(
            o,
            "   去噪步数: {} 步/秒 · 每生成秒 {} 步 · {} 百万像素·步/秒",
            num(s.steps_per_second, 2),
            num(s.steps_per_generation_second, 2),
            num(s.megapixel_steps_per_second, 2)
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
        let arrivals = r.arrivals.as_deref().unwrap_or("constant");
        let _ = match lang {
            Lang::En => writeln!(
                o,
                "📅 Rate: requested {:.2}/s ({arrivals}) for {:.0} s · offered {}/s · achieved {}/s · skipped at max in flight {}",
                r.requested,
                r.duration_seconds,
                num(r.offered, 2),
                num(r.achieved, 2),
                s.skipped
            ),
            Lang::Zh => writeln!(
                o,
                "📅 速率: 请求 {:.2}/秒 ({arrivals}), 持续 {:.0} 秒 · 计划 {}/秒 · 实际 {}/秒 · 因在途上限跳过 {}",
                r.requested,
                r.duration_seconds,
                num(r.offered, 2),
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
                percentile_text(lag, "p99", lang),
                secs4(lang, lag.max)
            ),
            Lang::Zh => writeln!(
                o,
                "   调度延迟: 平均 {} · p99 {} · 最大 {}",
                secs4(lang, lag.mean),
                percentile_text(lag, "p99", lang),
                secs4(lang, lag.max)
            ),
        };
    }
    if let Some(sat) = &s.saturation {
        let _ = match lang {
            Lang::En => writeln!(
                o,
                "⚠️  Saturation: {} — the target is not keeping up with the offered load; figures grow with the run's length",
                sat.describe()
            ),
            Lang::Zh => writeln!(
                o,
                "⚠️  饱和: {} — 目标跟不上所施加的负载; 统计值会随测试时长增长",
                sat.describe()
            ),
        };
    }
    if let Some(why) = &s.stopped_early {
        // The reason is what the run saw when it stopped; the saturation line above, if any,
        // is from every record, including the answers that came after the stop.
        let _ = match lang {
            Lang::En => writeln!(
                o,
                "⏹  Stopped early ({} never sent); when it stopped, the run saw {}",
                s.not_started,
                text::one_line(why, 200)
            ),
            Lang::Zh => writeln!(
                o,
                "⏹  提前停止 ({} 个未发送); 停止时观测到 {}",
                s.not_started,
                text::one_line(why, 200)
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
    if s.failed > 0 {
        o.push_str(tr(lang, "❌ Failures by reason:\n", "❌ 失败原因:\n"));
        for g in &s.failures {
            let msgs: Vec<String> = g
                .first_messages
                .iter()
                .map(|m| format!("\"{}\"", text::one_line_ends(m, 120)))
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
    }
    if s.not_started > 0 {
        let _ = match lang {
            Lang::En => writeln!(
                o,
                "⏸  Not started: {} (never sent: counted neither as requests nor as failures)",
                s.not_started
            ),
            Lang::Zh => writeln!(
                o,
                "⏸  未开始: {} (从未发送: 不计入请求数, 也不计入失败)",
                s.not_started
            ),
        };
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
