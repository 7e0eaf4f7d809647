//! The text report of a bench run, in English (default) or Chinese. Its first part has the
//! seed tool's layout line for line (header, system status, the "测试报告" block of each phase
//! and the per-request table), so that people used to the seed read it at a glance; fluxprobe's
//! additions follow in their own clearly marked sections ([`details`]).

pub mod details;
pub mod seed;
pub mod text;

use crate::api::wire::{Body, GpuInfo, Health, ModelStatus, QueueStats};
use crate::bench::model::{BenchResults, Load, PhaseResult, RunConfig, SystemStatus};
use crate::bench::summary::summarize;
use crate::cli::{Lang, TestType};
use crate::probe::ProbeMode;
use serde_json::Value;
use std::fmt::Write;
use text::tr;

/// The whole report: banner when interrupted, header, system status, each phase's seed-style
/// block and table, then fluxprobe's details of each phase.
pub fn render_report(results: &BenchResults, lang: Lang) -> String {
    let mut out = String::new();
    if results.interrupted {
        out.push_str(&interrupted_banner(lang));
        out.push('\n');
    }
    out.push_str(&render_header(&results.config, lang));
    out.push('\n');
    out.push_str(&render_system_status(&results.system_status, lang));
    let summaries = summarize(results);
    let several = results.phases.len() > 1;
    for (phase, s) in results.phases.iter().zip(&summaries) {
        out.push('\n');
        out.push_str(&seed::phase_block(s, lang));
        out.push('\n');
        out.push_str(&seed::request_table(phase, several, lang));
    }
    if results.phases.is_empty() {
        out.push('\n');
        out.push_str(tr(
            lang,
            "(no test phase in these results)\n",
            "(结果中没有测试阶段)\n",
        ));
    }
    for (phase, s) in results.phases.iter().zip(&summaries) {
        out.push('\n');
        out.push_str(&details::render(s, &results.tool_version, lang));
        if let Some(hint) = wrong_path_hint(phase, lang) {
            out.push_str(&hint);
        }
    }
    if results.interrupted {
        out.push('\n');
        out.push_str(&interrupted_banner(lang));
    }
    out
}

/// A hint when every measured request of a phase was answered 404 or 405: the server is there,
/// but not the API at this path, which is most often a base URL without its prefix (or with
/// one too many).
fn wrong_path_hint(phase: &PhaseResult, lang: Lang) -> Option<String> {
    let mut statuses = phase.measured().map(|r| r.http_status);
    let first = statuses.next()??;
    if !matches!(first, 404 | 405) || !statuses.all(|s| s == Some(first)) {
        return None;
    }
    Some(match lang {
        Lang::En => format!(
            "💡 Every request was answered HTTP {first}: the server answers, but not the FLUX API at this path. Is --url the API's base URL (e.g. http://gpu-box:8000, or with its path prefix)?\n"
        ),
        Lang::Zh => format!(
            "💡 所有请求都返回 HTTP {first}: 服务器有响应, 但此路径下没有 FLUX API。--url 是否为 API 的基础地址 (例如 http://gpu-box:8000, 或带上路径前缀)?\n"
        ),
    })
}

/// The banner of an interrupted run.
pub fn interrupted_banner(lang: Lang) -> String {
    tr(
        lang,
        "⚠️  INTERRUPTED: the run was stopped early; the figures cover only what was started, and requests cut short count as aborted.\n",
        "⚠️  INTERRUPTED 已中断: 测试被提前停止; 统计只包含已开始的请求, 被中断的请求计为 aborted。\n",
    )
    .to_string()
}

fn test_type_name(t: TestType) -> &'static str {
    match t {
        TestType::Concurrent => "concurrent",
        TestType::Queue => "queue",
        TestType::Both => "both",
    }
}

/// The seed's four header lines: title, URL, load, test type.
pub fn render_header(c: &RunConfig, lang: Lang) -> String {
    let mut out = String::new();
    let version = env!("CARGO_PKG_VERSION");
    let _ = writeln!(
        out,
        "{} (fluxprobe {version})",
        tr(
            lang,
            "🚀 FLUX API throughput test",
            "🚀 FLUX API 吞吐量测试工具"
        )
    );
    let _ = writeln!(out, "📍 API URL: {}", c.url);
    let load = match (c.rate, c.duration_seconds) {
        (Some(rate), Some(d)) => match lang {
            Lang::En => format!("{rate:.2} requests/s for {d:.0} s (open loop)"),
            Lang::Zh => format!("{rate:.2} 请求/秒, 持续 {d:.0} 秒 (开环)"),
        },
        _ => match lang {
            Lang::En => format!("{} requests, {} concurrent", c.requests, c.concurrent),
            Lang::Zh => format!("{} 请求, {} 并发", c.requests, c.concurrent),
        },
    };
    let warmup = match (c.warmup, lang) {
        (0, _) => String::new(),
        (n, Lang::En) => format!(", {n} warm-up"),
        (n, Lang::Zh) => format!(", 预热 {n}"),
    };
    let _ = writeln!(
        out,
        "{}{load}{warmup}",
        tr(lang, "📊 Test config: ", "📊 测试配置: ")
    );
    let _ = writeln!(
        out,
        "{}{}",
        tr(lang, "🎯 Test type: ", "🎯 测试类型: "),
        test_type_name(c.test_type)
    );
    out
}

/// The two lines the seed printed when a phase started (for the driver to print).
pub fn render_phase_start(mode: ProbeMode, load: &Load, lang: Lang) -> String {
    let (en, zh) = match mode {
        ProbeMode::Generate => ("concurrent", "并发"),
        ProbeMode::Queue => ("queue", "队列"),
    };
    match (load, lang) {
        (
            Load::Closed {
                requests,
                concurrency,
            },
            Lang::En,
        ) => format!(
            "🔄 Starting the {en} test...\n🚀 {en} test: {requests} requests, at most {concurrency} in flight\n"
        ),
        (
            Load::Closed {
                requests,
                concurrency,
            },
            Lang::Zh,
        ) => format!(
            "🔄 开始{zh}测试...\n🚀 开始{zh}测试: {requests} 个请求, 最大并发数: {concurrency}\n"
        ),
        (
            Load::Open {
                rate,
                duration_seconds,
                max_in_flight,
            },
            Lang::En,
        ) => format!(
            "🔄 Starting the {en} test...\n🚀 {en} test: {rate:.2} requests/s for {duration_seconds:.0} s, at most {max_in_flight} in flight\n"
        ),
        (
            Load::Open {
                rate,
                duration_seconds,
                max_in_flight,
            },
            Lang::Zh,
        ) => format!(
            "🔄 开始{zh}测试...\n🚀 开始{zh}测试: {rate:.2} 请求/秒, 持续 {duration_seconds:.0} 秒, 最大并发数: {max_in_flight}\n"
        ),
    }
}

fn gib1(bytes: Option<f64>) -> String {
    match bytes {
        Some(b) => format!("{:.1}", b / crate::api::units::BYTES_PER_GIB),
        None => "?".to_string(),
    }
}

/// Why a status body is missing: the recorded error, or "not recorded".
fn unavailable(s: &SystemStatus, endpoint: &str, lang: Lang) -> String {
    let reason = s
        .errors
        .get(endpoint)
        .map(|r| text::one_line_ends(r, 100))
        .unwrap_or_else(|| tr(lang, "not recorded", "未记录").to_string());
    match lang {
        Lang::En => format!("unavailable ({reason})"),
        Lang::Zh => format!("不可用 ({reason})"),
    }
}

/// A raw status body as a loose object, or why it is unusable.
fn body_of(
    v: Option<&Value>,
    s: &SystemStatus,
    endpoint: &str,
    lang: Lang,
) -> Result<Body, String> {
    match v {
        Some(Value::Object(m)) => Ok(Body(m.clone())),
        Some(_) => Err(match lang {
            Lang::En => "unavailable (not a JSON object)".to_string(),
            Lang::Zh => "不可用 (不是 JSON 对象)".to_string(),
        }),
        None => Err(unavailable(s, endpoint, lang)),
    }
}

fn bool_py(b: Option<bool>, lang: Lang) -> String {
    match b {
        Some(true) => "True".to_string(),
        Some(false) => "False".to_string(),
        None => tr(lang, "unknown", "未知").to_string(),
    }
}

/// The seed's system status lines (model, GPU, queue) and the service's readiness.
pub fn render_system_status(s: &SystemStatus, lang: Lang) -> String {
    let mut out = String::new();
    out.push_str(tr(
        lang,
        "🔍 Checking system status...\n",
        "🔍 检查系统状态...\n",
    ));

    let model = body_of(s.model_status.as_ref(), s, "model_status", lang)
        .map(|b| bool_py(ModelStatus::from_body(&b).model_loaded, lang));
    let _ = writeln!(
        out,
        "{}{}",
        tr(lang, "Model status: ", "模型状态: "),
        model.unwrap_or_else(|e| e)
    );

    let gpu = body_of(s.gpu_info.as_ref(), s, "gpu_info", lang).map(|b| {
        let info = GpuInfo::from_body(&b);
        if info.cuda_available == Some(false) || info.gpus.is_empty() {
            return tr(lang, "no CUDA GPU", "无 CUDA GPU").to_string();
        }
        let list: Vec<String> = info
            .gpus
            .iter()
            .map(|g| {
                let name = g
                    .name
                    .as_deref()
                    .map(|n| text::one_line(n, 60))
                    .unwrap_or_else(|| "?".to_string());
                match lang {
                    Lang::En => format!(
                        "#{} {name} ({} of {} GB allocated)",
                        g.index,
                        gib1(g.allocated_bytes),
                        gib1(g.total_bytes)
                    ),
                    Lang::Zh => format!(
                        "#{} {name} (已分配 {} / {} GB)",
                        g.index,
                        gib1(g.allocated_bytes),
                        gib1(g.total_bytes)
                    ),
                }
            })
            .collect();
        match lang {
            Lang::En => format!("{} GPU(s): {}", info.gpus.len(), list.join(", ")),
            Lang::Zh => format!("{} 个 GPU: {}", info.gpus.len(), list.join(", ")),
        }
    });
    let _ = writeln!(
        out,
        "{}{}",
        tr(lang, "GPU info: ", "GPU 信息: "),
        gpu.unwrap_or_else(|e| e)
    );

    let queue = body_of(s.queue_stats.as_ref(), s, "queue_stats", lang).map(|b| {
        let q = QueueStats::from_body(&b);
        let fields: Vec<String> = [
            ("queue_size", q.queue_size),
            ("active_requests", q.active_requests),
            ("completed_requests", q.completed_requests),
            ("max_concurrent", q.max_concurrent),
            ("max_queue_size", q.max_queue_size),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| format!("{k}: {v}")))
        .collect();
        if fields.is_empty() {
            tr(lang, "no figures", "无数据").to_string()
        } else {
            fields.join(", ")
        }
    });
    let _ = writeln!(
        out,
        "{}{}",
        tr(lang, "Queue stats: ", "队列统计: "),
        queue.unwrap_or_else(|e| e)
    );

    let health = body_of(s.health.as_ref(), s, "health", lang).map(|b| {
        let h = Health::from_body(&b);
        if h.is_ready() {
            return tr(lang, "ready", "就绪").to_string();
        }
        let status = h.status.as_deref().unwrap_or("?");
        let why = match &h.error {
            Some(e) => format!("{status}: {}", text::one_line_ends(e, 100)),
            None => status.to_string(),
        };
        match lang {
            Lang::En => format!("not ready ({why})"),
            Lang::Zh => format!("未就绪 ({why})"),
        }
    });
    let _ = writeln!(
        out,
        "{}{}",
        tr(lang, "Service: ", "服务状态: "),
        health.unwrap_or_else(|e| e)
    );
    if let Some(t) = &s.timestamp {
        let _ = writeln!(
            out,
            "{}{}",
            tr(lang, "Checked at: ", "检查时间: "),
            text::one_line(t, 40)
        );
    }
    out
}

#[cfg(test)]
mod tests;
