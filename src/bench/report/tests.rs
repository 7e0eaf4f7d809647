use super::*;
use crate::bench::model::{BenchResults, Load, PhaseResult};
use crate::bench::summary::tests::{phase, rec, results_of};
use crate::outcome::Outcome;
use serde_json::json;

/// Four successes answering 2, 3, 5 and 6 s after a common start, generation 1.5 s each.
/// By hand: mean 4, median (3+5)/2 = 4, min 2, max 6, sd sqrt(10/3) = 1.8257…, wall 6 s,
/// throughput 4/6 = 0.67.
fn four_successes() -> PhaseResult {
    let records = [2.0, 3.0, 5.0, 6.0]
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let mut r = rec(i as u64, 0.0, 0.0, *d, Outcome::Success);
            r.generation_time = Some(1.5);
            r.vram_raw = Some("8.5GB".into());
            r
        })
        .collect();
    phase(
        records,
        Load::Closed {
            requests: 4,
            concurrency: 4,
        },
    )
}

#[test]
fn zh_block_and_table_have_the_seed_layout() {
    let results = results_of(vec![four_successes()]);
    let report = render_report(&results, Lang::Zh);
    let expected = "\
============================================================
📊 并发请求 测试报告
============================================================
📈 总体统计:
   总请求数: 4
   成功请求: 4
   失败请求: 0
   成功率: 100.00%
   总耗时: 6.00秒
   吞吐量: 0.67 请求/秒

⏱️  响应时间:
   平均响应时间: 4.00秒
   中位数响应时间: 4.00秒
   最小响应时间: 2.00秒
   最大响应时间: 6.00秒
   响应时间标准差: 1.83秒

🎨 生成时间:
   平均生成时间: 1.50秒
   中位数生成时间: 1.50秒
============================================================

📋 测试结果汇总表
================================================================================
请求ID    状态     响应时间(s)   生成时间(s)   VRAM使用    
================================================================================
req_0000  ✅      2.00         1.50         8.5GB        
req_0001  ✅      3.00         1.50         8.5GB        
req_0002  ✅      5.00         1.50         8.5GB        
req_0003  ✅      6.00         1.50         8.5GB        
================================================================================
";
    assert!(report.contains(expected), "report:\n{report}");
    assert!(report.starts_with("🚀 FLUX API 吞吐量测试工具 (fluxprobe "));
    assert!(report.contains("\n📍 API URL: http://localhost:8000\n📊 测试配置: 4 请求, 2 并发\n🎯 测试类型: concurrent\n"));
    // fluxprobe's section comes after the seed's part, behind its own rule.
    let details = report.find("🔬 fluxprobe 详细统计").unwrap();
    assert!(details > report.find("📋 测试结果汇总表").unwrap());
}

#[test]
fn english_report_has_the_same_structure() {
    let results = results_of(vec![four_successes()]);
    let zh = seed::phase_block(&summarize(&results)[0], Lang::Zh);
    let en = seed::phase_block(&summarize(&results)[0], Lang::En);
    assert_eq!(zh.lines().count(), en.lines().count());
    for (a, b) in zh.lines().zip(en.lines()) {
        assert_eq!(a.is_empty(), b.is_empty());
        assert_eq!(a.starts_with("   "), b.starts_with("   "));
    }
    assert!(en.contains("   Mean response time: 4.00 s\n"));
    assert!(en.contains("   Throughput: 0.67 requests/s\n"));
    assert!(en.contains("📊 Concurrent requests test report\n"));
}

#[test]
fn an_open_loop_run_is_not_titled_concurrent() {
    let mut open = four_successes();
    open.load = Load::Open {
        rate: 1.0,
        duration_seconds: 4.0,
        max_in_flight: 8,
    };
    let results = results_of(vec![open]);
    let summary = &summarize(&results)[0];
    let en = seed::phase_block(summary, Lang::En);
    assert!(en.contains("📊 Open-loop requests test report\n"), "{en}");
    assert!(!en.contains("Concurrent requests"));
    let zh = seed::phase_block(summary, Lang::Zh);
    assert!(zh.contains("📊 开环请求 测试报告\n"), "{zh}");
    let details = details::render(summary, "0.0.0", Lang::En);
    assert!(
        details.contains("fluxprobe details: Open-loop requests"),
        "{details}"
    );
}

#[test]
fn a_404_on_every_request_points_at_the_url() {
    let answered = |status: u16| {
        let mut p = four_successes();
        for r in &mut p.records {
            r.outcome = Outcome::Http4xx;
            r.http_status = Some(status);
        }
        results_of(vec![p])
    };
    let en = render_report(&answered(404), Lang::En);
    assert!(
        en.contains("💡 Every request was answered HTTP 404: the server answers, but not the FLUX API at this path."),
        "{en}"
    );
    assert!(render_report(&answered(405), Lang::Zh).contains("💡 所有请求都返回 HTTP 405"));
    // Not for other answers, nor when some request got through or met another status.
    assert!(!render_report(&answered(422), Lang::En).contains("💡"));
    let mut mixed = four_successes();
    mixed.records[0].outcome = Outcome::Http4xx;
    mixed.records[0].http_status = Some(404);
    assert!(!render_report(&results_of(vec![mixed]), Lang::En).contains("💡"));
}

#[test]
fn english_table_header_lines_up_with_rows() {
    let table = seed::request_table(&four_successes(), false, Lang::En);
    let lines: Vec<&str> = table.lines().collect();
    let header = lines[2];
    let row = lines[4];
    // Each header word starts at the display column where its row cell starts.
    let col_of =
        |line: &str, needle: &str| text::display_width(&line[..line.find(needle).unwrap()]);
    assert_eq!(col_of(header, "Status"), col_of(row, "✅"));
    assert_eq!(col_of(header, "Response(s)"), col_of(row, "2.00"));
    assert_eq!(col_of(header, "Gen time(s)"), col_of(row, "1.50"));
    assert_eq!(col_of(header, "VRAM"), col_of(row, "8.5GB"));
}

#[test]
fn table_stops_after_twenty_rows() {
    let records = (0..25)
        .map(|i| rec(i, 0.0, 0.0, 1.0, Outcome::Success))
        .collect();
    let p = phase(
        records,
        Load::Closed {
            requests: 25,
            concurrency: 1,
        },
    );
    let en = seed::request_table(&p, false, Lang::En);
    assert_eq!(en.lines().filter(|l| l.starts_with("req_")).count(), 20);
    assert!(en.contains("\n… 5 more\n"));
    assert!(!en.contains("req_0020"));
    let zh = seed::request_table(&p, false, Lang::Zh);
    assert!(zh.contains("\n… 还有 5 条\n"));
}

#[test]
fn failures_show_in_the_table_and_by_reason() {
    let mut records: Vec<_> = (0..3)
        .map(|i| rec(i, 0.0, 0.0, 1.0, Outcome::Success))
        .collect();
    let mut t = rec(3, 0.0, 0.0, 300.0, Outcome::Timeout);
    t.error = Some("no answer within 300s".into());
    records.push(t);
    let results = results_of(vec![phase(
        records,
        Load::Closed {
            requests: 4,
            concurrency: 1,
        },
    )]);
    let en = render_report(&results, Lang::En);
    assert!(en.contains("req_0003  ❌      300.00       N/A          N/A          timeout\n"));
    assert!(
        en.contains("❌ Failures by reason:\n   timeout ×1\n      \"no answer within 300s\"\n")
    );
    assert!(en.contains("   Failed: 1\n"));
    assert!(en.contains("   Success rate: 75.00%\n"));
    // The failure's 300 s never reaches the success figures.
    assert!(en.contains("   Max response time: 1.00 s\n"));
}

/// n successes, one at a time, answering in 1, 2, …, n s.
fn answers_of_1_to_n_seconds(n: u64) -> BenchResults {
    let records = (0..n)
        .map(|i| rec(i, 0.0, 0.0, 1.0 + i as f64, Outcome::Success))
        .collect();
    results_of(vec![phase(
        records,
        Load::Closed {
            requests: n,
            concurrency: 1,
        },
    )])
}

#[test]
fn percentiles_carry_their_confidence_or_are_withheld() {
    let results = answers_of_1_to_n_seconds(10);
    let en = render_report(&results, Lang::En);
    // By hand, B ~ Bin(10, q): p50 (q = ½) rank 5; P(B ≤ 1) = 0.0107 ≤ 0.025 < P(B ≤ 2) = 0.0547
    // → lower rank 2; P(B ≤ 7) = 0.9453 < 0.975 ≤ P(B ≤ 8) = 0.9893 → upper rank 9, and the
    // one-sided 95 % bound is rank 9 too.
    assert!(
        en.contains("   p50 5.0000 s (95% CI 2.0000 s – 9.0000 s; upper bound 9.0000 s)\n"),
        "{en}"
    );
    // p90, p95, p99 cannot be claimed from 10 (needs qⁿ ≤ 0.05: 29, 59, 299). Their lower
    // ends: q = 0.9: P(B ≤ 6) = 0.0128 ≤ 0.025 < P(B ≤ 7) → rank 7; q = 0.95: P(B ≤ 7) =
    // 0.0115 → rank 8; q = 0.99: P(B ≤ 8) = 0.0043 → rank 9.
    assert!(en.contains("   p90 — needs ≥ 29 requests for 95% (n = 10); at least 7.0000 s\n"));
    assert!(en.contains("   p95 — needs ≥ 59 requests for 95% (n = 10); at least 8.0000 s\n"));
    assert!(en.contains("   p99 — needs ≥ 299 requests for 95% (n = 10); at least 9.0000 s\n"));
    assert!(!en.contains("p99 10.0000"));
    assert!(en.contains("median 5.5000 s"));
    let zh = render_report(&results, Lang::Zh);
    assert!(zh.contains("p99 — 需要至少 299 个请求才能达到 95% (n = 10); 不低于 9.0000秒"));
    // Another level: at 99 % p50 needs 7 (0.5⁷ = 0.0078 ≤ 0.01 < 0.5⁶).
    let mut at99 = results.clone();
    at99.config.confidence = 0.99;
    let en = render_report(&at99, Lang::En);
    assert!(en.contains("99% confidence by order statistics"));
    assert!(en.contains("   p50 5.0000 s (99% CI"), "{en}");
}

#[test]
fn an_interval_end_beyond_the_samples_is_said_in_words() {
    let results = answers_of_1_to_n_seconds(30);
    // By hand, B ~ Bin(30, 0.9): p90 is rank ⌈27⌉ = 27 → 27 s. P(B ≤ 29) = 1 − 0.9³⁰ = 0.9576:
    // ≥ 0.95, so the one-sided bound is rank 30 (30 s), but < 0.975, so no sample is high
    // enough for the two-sided interval's upper end.
    let en = render_report(&results, Lang::En);
    assert!(en.contains("   p90 27.0000 s (95% CI "), "{en}");
    assert!(
        en.contains(" – beyond the largest sample; upper bound 30.0000 s)\n"),
        "{en}"
    );
    assert!(!en.contains("– —"), "{en}");
    let zh = render_report(&results, Lang::Zh);
    assert!(zh.contains(" – 超出最大样本; 上界 30.0000秒)\n"), "{zh}");
}

#[test]
fn level_labels() {
    use super::details::level_label;
    assert_eq!(level_label(0.95), "95%");
    assert_eq!(level_label(0.999), "99.9%");
    assert_eq!(level_label(0.5), "50%");
}

#[test]
fn interrupted_runs_carry_a_banner() {
    let mut results = results_of(vec![four_successes()]);
    assert!(!render_report(&results, Lang::En).contains("INTERRUPTED"));
    results.interrupted = true;
    let en = render_report(&results, Lang::En);
    assert!(en.starts_with("⚠️  INTERRUPTED"));
    assert!(en.trim_end().ends_with("count as aborted."));
    assert!(render_report(&results, Lang::Zh).starts_with("⚠️  INTERRUPTED 已中断"));
}

#[test]
fn system_status_lines() {
    let mut s = SystemStatus {
        model_status: Some(json!({"model_loaded": true, "vram_usage_gb": "0.00GB"})),
        gpu_info: Some(json!({"cuda_available": true, "gpus": [
            {"gpu_id": 0, "name": "NVIDIA GeForce RTX 5090", "total_memory_gb": "31.4", "allocated_memory_gb": "8.9"}
        ]})),
        health: Some(json!({"status": "model_loading"})),
        ..Default::default()
    };
    s.errors
        .insert("queue_stats".into(), "connect: connection refused".into());
    let zh = render_system_status(&s, Lang::Zh);
    assert_eq!(
        zh,
        "🔍 检查系统状态...\n模型状态: True\nGPU 信息: 1 个 GPU: #0 NVIDIA GeForce RTX 5090 (已分配 8.9 / 31.4 GB)\n队列统计: 不可用 (connect: connection refused)\n服务状态: 未就绪 (model_loading)\n"
    );
    s.health = Some(json!({"status": "healthy"}));
    s.queue_stats = Some(json!({"queue_size": 10, "active_requests": 0, "max_queue_size": "lots"}));
    s.timestamp = Some("2025-08-20T09:19:44.732252".into());
    let en = render_system_status(&s, Lang::En);
    assert!(en.contains("\nService: ready\n"));
    assert!(en.contains("\nQueue stats: queue_size: 10, active_requests: 0\n"));
    assert!(en.contains("\nChecked at: 2025-08-20T09:19:44.732252\n"));
    s.health = None;
    s.model_status = Some(json!("not an object"));
    let en = render_system_status(&s, Lang::En);
    assert!(en.contains("\nService: unavailable (not recorded)\n"));
    assert!(en.contains("\nModel status: unavailable (not a JSON object)\n"));
}

#[test]
fn phase_start_lines_follow_the_seed() {
    let load = Load::Closed {
        requests: 10,
        concurrency: 3,
    };
    assert_eq!(
        render_phase_start(ProbeMode::Generate, &load, Lang::Zh),
        "🔄 开始并发测试...\n🚀 开始并发测试: 10 个请求, 最大并发数: 3\n"
    );
}

/// The seed README's sample output, when the shared files are present: every line of its
/// header, report block and table (figures aside) appears in our zh report, in order.
#[test]
fn seed_sample_output_lines_appear_in_order() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/seed/README_throughput_test.md");
    let Ok(readme) = std::fs::read_to_string(&path) else {
        eprintln!("skipped: {} is not there", path.display());
        return;
    };
    let start = readme
        .find("🚀 FLUX API 吞吐量测试工具")
        .expect("sample block");
    let sample: &str = &readme[start..];
    let sample = &sample[..sample.find("```").expect("end of sample")];
    let digits = regex_free_normalise;
    // Lines that are progress messages of a live run, or the README's elision, or values
    // printed as Python dicts, are not part of a report read back.
    let skip = |l: &str| {
        l.starts_with("🔄")
            || l.starts_with("🚀 开始")
            || l == "..."
            || l.starts_with("模型状态")
            || l.starts_with("GPU 信息")
            || l.starts_with("队列统计")
            || l.starts_with("🎯")
            || l.starts_with("🚀 FLUX")
    };
    let wanted: Vec<String> = sample
        .lines()
        .filter(|l| !l.trim().is_empty() && !skip(l))
        .map(digits)
        .collect();
    // Ten requests, three at a time, as in the sample.
    let records = (0..10)
        .map(|i| {
            let mut r = rec(i, 0.0, 0.0, 10.0 + i as f64, Outcome::Success);
            r.generation_time = Some(12.5);
            r.vram_raw = Some("8.5GB".into());
            r
        })
        .collect();
    let results = results_of(vec![phase(
        records,
        Load::Closed {
            requests: 10,
            concurrency: 3,
        },
    )]);
    let ours: Vec<String> = render_report(&results, Lang::Zh)
        .lines()
        .map(digits)
        .collect();
    let mut at = 0;
    for w in &wanted {
        match ours[at..].iter().position(|l| l == w) {
            Some(i) => at += i + 1,
            None => panic!(
                "sample line {w:?} not found in order; ours:\n{}",
                ours.join("\n")
            ),
        }
    }
    // The title line keeps the seed's words.
    assert!(render_report(&results, Lang::Zh).starts_with("🚀 FLUX API 吞吐量测试工具 "));
}

/// Figures replaced by "#", so that layouts compare whatever the numbers.
fn regex_free_normalise(line: &str) -> String {
    let mut out = String::new();
    let mut in_num = false;
    for c in line.chars() {
        if c.is_ascii_digit() || (in_num && c == '.') {
            if !in_num {
                out.push('#');
                in_num = true;
            }
        } else {
            in_num = false;
            out.push(c);
        }
    }
    out
}
