//! `fluxprobe report` on files fluxprobe wrote: an interrupted open-loop run with failures and a
//! queue-mode phase, its objectives judged again, in English, Chinese and JSON.

use assert_cmd::Command;
use fluxprobe::bench::model::{BenchResults, Load, PhaseResult, RunConfig, SystemStatus};
use fluxprobe::cli::TestType;
use fluxprobe::outcome::Outcome;
use fluxprobe::probe::{ProbeMode, ProbeRecord};
use serde_json::Value;

fn record(seq: u64, mode: ProbeMode, intended: f64, done: f64, outcome: Outcome) -> ProbeRecord {
    ProbeRecord {
        seq,
        warmup: false,
        mode,
        intended,
        sent: intended,
        first_byte: Some(done),
        done,
        outcome,
        http_status: match outcome {
            Outcome::Success => Some(200),
            Outcome::Http5xx => Some(500),
            _ => None,
        },
        error: match outcome {
            Outcome::Success => None,
            Outcome::Http5xx => Some("HTTP 500: CUDA out of memory".into()),
            _ => Some("interrupted while in flight".into()),
        },
        generation_time: outcome.is_success().then_some(1.72),
        vram_bytes: None,
        vram_raw: None,
        bytes_received: 512,
        width: 512,
        height: 512,
        steps: 10,
        server_request_id: None,
        server_queue_wait: None,
        server_service_time: None,
        parse_issues: vec![],
    }
}

/// Open loop at 1/s: successes answering in 2 s, one 500 at t=3, the last one aborted.
/// Then a queue phase of two successes with server-side waits.
fn results() -> BenchResults {
    let mut open: Vec<ProbeRecord> = (0..6)
        .map(|i| {
            record(
                i,
                ProbeMode::Generate,
                i as f64,
                i as f64 + 2.0,
                Outcome::Success,
            )
        })
        .collect();
    open[3] = record(3, ProbeMode::Generate, 3.0, 3.5, Outcome::Http5xx);
    open[5] = record(5, ProbeMode::Generate, 5.0, 6.0, Outcome::Aborted);
    let queue: Vec<ProbeRecord> = (0..2)
        .map(|i| {
            let mut r = record(i, ProbeMode::Queue, 0.0, 4.0 + i as f64, Outcome::Success);
            r.server_queue_wait = Some(2.0 + i as f64);
            r.server_service_time = Some(1.8);
            r.server_request_id = Some(format!("id-{i}"));
            r
        })
        .collect();
    BenchResults {
        config: RunConfig {
            url: "http://gpu-1:8000".into(),
            requests: 0,
            concurrent: 0,
            test_type: TestType::Both,
            rate: Some(1.0),
            duration_seconds: Some(10.0),
            timeout_seconds: 300.0,
            warmup: 0,
            steps: 10,
            guidance: 4.0,
            width: 512,
            height: 512,
            seed: "none".into(),
            prompt_count: 1,
            header_names: vec![],
            slo: Some("p95<8s,success>=0.9".into()),
            simulated: true,
            confidence: 0.95,
            slo_confidence: 0.99,
            arrivals: "constant".into(),
            arrival_seed: 0,
        },
        system_status: SystemStatus::default(),
        phases: vec![
            PhaseResult {
                test_type: ProbeMode::Generate,
                load: Load::Open {
                    rate: 1.0,
                    duration_seconds: 10.0,
                    max_in_flight: 4,
                },
                wall_start: 1_755_695_984.5,
                records: open,
                skipped: 1,
                not_started: 0,
                interrupted: true,
                peak_in_flight: 3,
                stopped_early: None,
            },
            PhaseResult {
                test_type: ProbeMode::Queue,
                load: Load::Closed {
                    requests: 2,
                    concurrency: 2,
                },
                wall_start: 1_755_696_000.0,
                records: queue,
                skipped: 0,
                not_started: 3,
                interrupted: true,
                peak_in_flight: 2,
                stopped_early: None,
            },
        ],
        interrupted: true,
        tool_version: "0.1.0".into(),
    }
}

fn report(path: &std::path::Path, extra: &[&str]) -> String {
    let out = Command::cargo_bin("fluxprobe")
        .unwrap()
        .arg("report")
        .arg(path)
        .args(extra)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn interrupted_open_loop_and_queue_run() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.json");
    fluxprobe::bench::results::save(&results(), &path).unwrap();

    let en = report(&path, &[]);
    assert!(en.starts_with("⚠️  INTERRUPTED"), "{en}");
    assert!(en.contains("📊 Test config: 1.00 requests/s for 10 s (open loop)\n"));
    // Open loop: 4 successes of 6 started; failures by reason keep their messages.
    assert!(en.contains("   Total requests: 6\n   Successful: 4\n   Failed: 2\n"));
    assert!(en.contains("   http_5xx ×1\n      \"HTTP 500: CUDA out of memory\"\n"));
    assert!(en.contains("   aborted ×1\n"));
    // Sends at 0..5 s: (6 − 1) / 5 s = 1.00/s achieved; one skipped; 6 + 1 scheduled over
    // 10 s offered.
    assert!(
        en.contains(
            "📅 Rate: requested 1.00/s (constant) for 10 s · offered 0.70/s · achieved 1.00/s · skipped at max in flight 1\n"
        ),
        "{en}"
    );
    // Both phases have their table, named.
    assert!(en.contains("📋 Results table (Open-loop requests)\n"));
    assert!(en.contains("📋 Results table (Queued requests)\n"));
    // Queue mode: server-side waits 2 and 3 s.
    assert!(
        en.contains("🗄️ Server queue wait: mean 2.5000 s · median 2.5000 s · p95 — (n = 2)\n"),
        "{en}"
    );
    assert!(
        en.contains(
            "⏸  Not started: 3 (never sent: counted neither as requests nor as failures)\n"
        )
    );
    // Objectives from the file: p95 from 4 requests is inconclusive (with none slower, a p95
    // bound needs 0.95ⁿ < 0.01: n = 90), success 4/6 fails.
    assert!(en.contains("🎯 Objectives [concurrent]:\n"));
    assert!(en.contains("❔ INCONCLUSIVE  p95<8s  (no figure: from 4 requests it would only be the largest) — 0 of 4 requests missed it; 86 more requests needed for 99% confidence (if none of them misses p95<8s)\n"), "{en}");
    assert!(en.contains("❌ FAIL  success>=0.9  (0.6667)\n"));

    let zh = report(&path, &["--lang", "zh"]);
    assert!(zh.contains("📊 队列请求 测试报告\n"));
    assert!(zh.contains("🎯 服务目标 [queue]:\n"));

    let v: Value = serde_json::from_str(&report(&path, &["--json"])).unwrap();
    assert_eq!(v["interrupted"], true);
    assert_eq!(v["summary"]["concurrent"]["aborted"], 1);
    assert_eq!(v["summary"]["concurrent"]["skipped"], 1);
    assert_eq!(v["summary"]["queue"]["server_service_time"]["mean"], 1.8);
    assert_eq!(v["summary"]["queue"]["not_started"], 3);
}

#[test]
fn plot_option_draws_the_charts_after_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.json");
    fluxprobe::bench::results::save(&results(), &path).unwrap();
    let svg = dir.path().join("charts.svg");
    let text = report(&path, &["--plot", svg.to_str().unwrap()]);
    assert!(text.contains("📊 Open-loop requests test report"));
    let drawn = std::fs::read_to_string(&svg).unwrap();
    assert!(
        drawn.contains("<svg"),
        "not an SVG: {}",
        drawn.chars().take(200).collect::<String>()
    );

    let out = Command::cargo_bin("fluxprobe")
        .unwrap()
        .arg("report")
        .arg(&path)
        .args(["--plot", dir.path().join("charts.txt").to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unsupported file type"), "{err}");
    // Refused before the report is printed.
    assert!(out.stdout.is_empty());

    // With no value, the chart goes next to the results file.
    let out = Command::cargo_bin("fluxprobe")
        .unwrap()
        .arg("report")
        .arg(&path)
        .arg("--plot")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let png = dir.path().join("run.png");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("📈 charts saved to {}", png.display())),
        "{err}"
    );
    assert!(std::fs::read(&png).unwrap().starts_with(b"\x89PNG"));
}
