//! The daemon against the simulated FLUX API: every fault the simulator can inject ends in the
//! right failure reason or gauge state and leaves the daemon healthy and probing; GPU memory
//! gauges equal the simulator's figures in bytes; a burst's throughput matches the simulated
//! capacity; the trickle keeps its schedule when every answer takes ten intervals.

use fluxprobe::serve::web::WebOptions;
use fluxprobe::serve::{Daemon, DaemonHandle, DaemonOptions, config};
use fluxprobe::sim::{self, Faults, FiguresMode, HealthMode, SimConfig, SimHandle};
use std::time::Duration;

mod serve_support;
use serve_support::*;

const LIMIT: Duration = Duration::from_secs(30);

async fn simulator(cfg: SimConfig) -> SimHandle {
    sim::start(cfg, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

fn fast_sim() -> SimConfig {
    SimConfig {
        time_scale: 0.01,
        // Status answers do not wait for the running generation (scrapes stay quick).
        blocking_status: false,
        ..SimConfig::default()
    }
}

async fn daemon(yaml: &str) -> DaemonHandle {
    let cfg = config::parse(yaml, "test.yml", &|_| None).unwrap_or_else(|e| panic!("{e}"));
    // The burst API is on: a test starts a burst by POST.
    Daemon::start_with(
        cfg,
        DaemonOptions {
            listen: Some("127.0.0.1:0".parse().unwrap()),
            web: WebOptions {
                enable_burst_api: true,
                ..Default::default()
            },
        },
    )
    .await
    .unwrap()
}

fn failures(s: &[Sample], target: &str, reason: &str) -> f64 {
    sum(
        s,
        "fluxprobe_request_failures_total",
        &[("target", target), ("reason", reason)],
    )
}

fn requests(s: &[Sample], target: &str) -> f64 {
    sum(s, "fluxprobe_requests_total", &[("target", target)])
}

/// Sets a fault, waits for `reason` to grow by 2, then checks the daemon is healthy and still
/// probing, and clears the fault.
async fn fault_gives(d: &DaemonHandle, s: &SimHandle, target: &str, faults: Faults, reason: &str) {
    let before = failures(&scrape(d.addr()).await, target, reason);
    s.set_faults(faults);
    wait_metrics(d.addr(), LIMIT, &format!("{reason} counted"), |x| {
        (failures(x, target, reason) >= before + 2.0).then_some(())
    })
    .await;
    s.set_faults(Faults::default());
    assert_eq!(get_status(d.addr(), "/-/healthy").await, 200);
    // Still probing, and successful again once the fault is gone.
    let ok_before = sum(
        &scrape(d.addr()).await,
        "fluxprobe_request_duration_seconds_count",
        &[("target", target), ("outcome", "success")],
    );
    wait_metrics(d.addr(), LIMIT, &format!("successes after {reason}"), |x| {
        (sum(
            x,
            "fluxprobe_request_duration_seconds_count",
            &[("target", target), ("outcome", "success")],
        ) > ok_before)
            .then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_generate_fault_has_its_reason_and_the_daemon_carries_on() {
    let s = simulator(fast_sim()).await;
    let d = daemon(&format!(
        "targets:\n  - name: sim\n    url: {}\n    timeout: 500ms\n    max_body_bytes: 1MiB\n    trickle: {{interval: 30ms}}\n    status_interval: 200ms\n",
        s.base_url()
    ))
    .await;
    wait_metrics(d.addr(), LIMIT, "first successes", |x| {
        (sum(
            x,
            "fluxprobe_request_duration_seconds_count",
            &[("target", "sim"), ("outcome", "success")],
        ) >= 3.0)
            .then_some(())
    })
    .await;
    let f = Faults::default;
    fault_gives(
        &d,
        &s,
        "sim",
        Faults {
            error_rate: 1.0,
            ..f()
        },
        "http_5xx",
    )
    .await;
    fault_gives(
        &d,
        &s,
        "sim",
        Faults {
            validation_error: true,
            ..f()
        },
        "http_4xx",
    )
    .await;
    fault_gives(
        &d,
        &s,
        "sim",
        Faults {
            hang_rate: 1.0,
            ..f()
        },
        "timeout",
    )
    .await;
    fault_gives(
        &d,
        &s,
        "sim",
        Faults {
            reset_rate: 1.0,
            ..f()
        },
        "transport",
    )
    .await;
    fault_gives(
        &d,
        &s,
        "sim",
        Faults {
            malformed_rate: 1.0,
            ..f()
        },
        "invalid_body",
    )
    .await;
    fault_gives(
        &d,
        &s,
        "sim",
        Faults {
            huge_body_rate: 1.0,
            huge_body_bytes: 2 * 1024 * 1024,
            ..f()
        },
        "body_too_large",
    )
    .await;

    // Down: connections closed unanswered. The probes fail (as connect or transport, depending
    // on when the close is seen), the target is down, and its status gauges are gone.
    let before = failures(&scrape(d.addr()).await, "sim", "connect")
        + failures(&scrape(d.addr()).await, "sim", "transport");
    s.set_faults(Faults { down: true, ..f() });
    let (_, x) = wait_metrics(d.addr(), LIMIT, "down", |x| {
        let failed = failures(x, "sim", "connect") + failures(x, "sim", "transport");
        (failed >= before + 2.0
            && value(x, "fluxprobe_target_up", &[("target", "sim")])? == 0.0
            && value(x, "fluxprobe_target_gpus", &[("target", "sim")]).is_none())
        .then_some(())
    })
    .await;
    assert!(
        find(
            &x,
            "fluxprobe_target_gpu_memory_total_bytes",
            &[("target", "sim")]
        )
        .is_empty()
    );
    assert!(value(&x, "fluxprobe_target_ready", &[("target", "sim")]).is_none());
    assert_eq!(
        value(
            &x,
            "fluxprobe_target_stats_scrape_success",
            &[("target", "sim"), ("endpoint", "health")]
        ),
        Some(0.0)
    );
    s.set_faults(f());
    wait_metrics(d.addr(), LIMIT, "back up", |x| {
        (value(x, "fluxprobe_target_up", &[("target", "sim")])? == 1.0
            && value(x, "fluxprobe_target_gpus", &[("target", "sim")])? == 1.0)
            .then_some(())
    })
    .await;
    assert_eq!(get_status(d.addr(), "/-/healthy").await, 200);
    // Whatever happened, every request is counted once: requests = successes + failures.
    let x = scrape(d.addr()).await;
    let ok = sum(
        &x,
        "fluxprobe_request_duration_seconds_count",
        &[("target", "sim"), ("outcome", "success")],
    );
    let failed: f64 = sum(&x, "fluxprobe_request_failures_total", &[("target", "sim")]);
    assert_eq!(requests(&x, "sim"), ok + failed);
    d.shutdown().await;
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_full_is_rejected_and_a_too_short_timeout_is_a_timeout() {
    let s = simulator(fast_sim()).await;
    // Queue mode for one target; the other's timeout is shorter than a generation (18 ms).
    let d = daemon(&format!(
        "targets:\n  - name: queue\n    url: {u}\n    mode: queue\n    poll_interval: 5ms\n    timeout: 2s\n    trickle: {{interval: 50ms}}\n    status_interval: 1s\n  - name: hurry\n    url: {u}\n    timeout: 5ms\n    trickle: {{interval: 50ms}}\n    status_interval: 1s\n    status_timeout: 500ms\n",
        u = s.base_url()
    ))
    .await;
    wait_metrics(d.addr(), LIMIT, "queue-mode successes", |x| {
        (sum(
            x,
            "fluxprobe_request_duration_seconds_count",
            &[("target", "queue"), ("outcome", "success")],
        ) >= 2.0)
            .then_some(())
    })
    .await;
    wait_metrics(d.addr(), LIMIT, "timeouts", |x| {
        (failures(x, "hurry", "timeout") >= 3.0).then_some(())
    })
    .await;
    fault_gives(
        &d,
        &s,
        "queue",
        Faults {
            queue_full: true,
            ..Faults::default()
        },
        "rejected",
    )
    .await;
    let x = scrape(d.addr()).await;
    assert_eq!(
        sum(
            &x,
            "fluxprobe_request_duration_seconds_count",
            &[("target", "hurry"), ("outcome", "success")]
        ),
        0.0
    );
    // Queue mode feeds the queue gauges.
    assert_eq!(
        value(
            &x,
            "fluxprobe_target_queue_capacity",
            &[("target", "queue")]
        ),
        Some(100.0)
    );
    d.shutdown().await;
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_gauges_follow_the_simulator_and_vanish_when_unusable() {
    let s = simulator(SimConfig {
        gpus: 2,
        ..fast_sim()
    })
    .await;
    // No trickle: memory stays still, so the figures can be compared exactly.
    let d = daemon(&format!(
        "targets:\n  - name: sim\n    url: {}\n    trickle: {{enabled: false}}\n    status_interval: 100ms\n",
        s.base_url()
    ))
    .await;
    let (_, x) = wait_metrics(d.addr(), LIMIT, "two GPUs", |x| {
        (value(x, "fluxprobe_target_gpus", &[("target", "sim")])? == 2.0).then_some(())
    })
    .await;
    // GPU memory in bytes, exactly what the simulator reports (GiB strings × 1024³).
    for g in s.gpu_memory() {
        let gpu = g.index.to_string();
        let l = [("target", "sim"), ("gpu", gpu.as_str())];
        assert_eq!(
            value(&x, "fluxprobe_target_gpu_memory_total_bytes", &l),
            Some(g.total_bytes),
            "gpu {gpu}"
        );
        assert_eq!(
            value(&x, "fluxprobe_target_gpu_memory_allocated_bytes", &l),
            Some(g.allocated_bytes),
            "gpu {gpu}"
        );
        assert_eq!(
            value(&x, "fluxprobe_target_gpu_memory_free_bytes", &l),
            Some(g.free_bytes),
            "gpu {gpu}"
        );
        let info = find(&x, "fluxprobe_target_gpu_info", &l);
        assert_eq!(info.len(), 1);
        assert_eq!(info[0].labels["name"], g.name);
        assert_eq!(info[0].labels["compute_capability"], g.compute_capability);
    }
    assert_eq!(
        value(&x, "fluxprobe_target_ready", &[("target", "sim")]),
        Some(1.0)
    );

    // The GPU list shrinks: GPU 1 loses every series.
    s.set_gpus(1);
    let (_, x) = wait_metrics(d.addr(), LIMIT, "one GPU", |x| {
        (value(x, "fluxprobe_target_gpus", &[("target", "sim")])? == 1.0).then_some(())
    })
    .await;
    assert!(
        x.iter()
            .all(|s| s.labels.get("gpu").map(String::as_str) != Some("1")),
        "GPU 1 series remain"
    );

    // Health 200 with status "error": up, not ready.
    s.set_faults(Faults {
        health: HealthMode::Error,
        ..Faults::default()
    });
    wait_metrics(d.addr(), LIMIT, "not ready", |x| {
        (value(x, "fluxprobe_target_up", &[("target", "sim")])? == 1.0
            && value(x, "fluxprobe_target_ready", &[("target", "sim")])? == 0.0)
            .then_some(())
    })
    .await;

    // "N/A" figures: the gauges go (never 0) and each unusable field is counted.
    s.set_faults(Faults {
        figures: FiguresMode::NotAvailable,
        ..Faults::default()
    });
    let (_, x) = wait_metrics(d.addr(), LIMIT, "N/A figures", |x| {
        (find(
            x,
            "fluxprobe_target_gpu_memory_total_bytes",
            &[("target", "sim")],
        )
        .is_empty()
            && sum(
                x,
                "fluxprobe_target_parse_errors_total",
                &[("target", "sim"), ("field", "total_memory_gb")],
            ) >= 1.0)
            .then_some(())
    })
    .await;
    assert!(value(&x, "fluxprobe_target_vram_used_bytes", &[("target", "sim")]).is_none());
    assert_eq!(
        value(&x, "fluxprobe_target_up", &[("target", "sim")]),
        Some(1.0)
    );

    // null figures: gone as well, and not parse errors (null means absent).
    s.set_faults(Faults {
        figures: FiguresMode::Null,
        ..Faults::default()
    });
    let errors_before = sum(
        &scrape(d.addr()).await,
        "fluxprobe_target_parse_errors_total",
        &[("target", "sim")],
    );
    let scrapes_before = value(
        &scrape(d.addr()).await,
        "fluxprobe_target_stats_scrape_success_timestamp_seconds",
        &[("target", "sim"), ("endpoint", "gpu_info")],
    )
    .unwrap();
    let (_, x) = wait_metrics(d.addr(), LIMIT, "null figures scraped twice", |x| {
        let t = value(
            x,
            "fluxprobe_target_stats_scrape_success_timestamp_seconds",
            &[("target", "sim"), ("endpoint", "gpu_info")],
        )?;
        (t > scrapes_before + 0.15).then_some(())
    })
    .await;
    assert!(
        find(
            &x,
            "fluxprobe_target_gpu_memory_total_bytes",
            &[("target", "sim")]
        )
        .is_empty()
    );
    // At most the scrape in flight when the fault changed still saw "N/A".
    let errors_after = sum(
        &x,
        "fluxprobe_target_parse_errors_total",
        &[("target", "sim")],
    );
    assert!(
        errors_after - errors_before <= 12.0,
        "{errors_before} → {errors_after}"
    );

    // Figures back: gauges back.
    s.set_faults(Faults::default());
    wait_metrics(d.addr(), LIMIT, "figures back", |x| {
        value(
            x,
            "fluxprobe_target_gpu_memory_total_bytes",
            &[("target", "sim"), ("gpu", "0")],
        )
        .map(|_| ())
    })
    .await;
    d.shutdown().await;
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_measures_the_simulated_capacity() {
    let scale = 0.05;
    let s = simulator(SimConfig {
        time_scale: scale,
        ..fast_sim()
    })
    .await;
    let d = daemon(&format!(
        "targets:\n  - name: sim\n    url: {}\n    trickle: {{enabled: false}}\n    status_interval: 5s\n    bursts:\n      - {{name: cap, schedule: '0 3 * * *', requests: 24, concurrency: 4, slo: 'p50<60s,success>=1'}}\n",
        s.base_url()
    ))
    .await;
    let (status, body) = post(d.addr(), "/-/burst/sim/cap").await;
    assert_eq!(status, 202, "{body}");
    let (tput, x) = wait_metrics(d.addr(), LIMIT, "burst done", |x| {
        value(
            x,
            "fluxprobe_burst_last_end_timestamp_seconds",
            &[("target", "sim"), ("probe", "cap")],
        )?;
        value(
            x,
            "fluxprobe_burst_last_throughput_requests_per_second",
            &[("target", "sim"), ("probe", "cap")],
        )
    })
    .await;
    // One GPU serves one request at a time: capacity = 1 / service time, where service time =
    // (generation + overhead) × scale, the generation up to 1 % slower (jitter).
    let t = &s.config().timing;
    let fastest = (t.generation_seconds + t.overhead_seconds) * scale;
    let slowest = (t.generation_seconds * (1.0 + t.jitter) + t.overhead_seconds) * scale;
    let capacity_hi = 1.0 / fastest;
    let capacity_lo = 1.0 / slowest;
    eprintln!("burst throughput {tput:.3}/s, capacity {capacity_lo:.3}..{capacity_hi:.3}/s");
    assert!(
        tput <= capacity_hi * 1.001,
        "throughput {tput} above capacity {capacity_hi}"
    );
    assert!(
        tput >= capacity_lo * 0.85,
        "throughput {tput} far below capacity {capacity_lo}"
    );
    assert_eq!(
        value(
            &x,
            "fluxprobe_burst_last_success_ratio",
            &[("target", "sim"), ("probe", "cap")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &x,
            "fluxprobe_requests_total",
            &[("target", "sim"), ("probe", "cap")]
        ),
        Some(24.0)
    );
    // Four in flight on one GPU: each waits for about three others, so the median response is
    // near four service times.
    let p50 = value(
        &x,
        "fluxprobe_burst_last_response_seconds",
        &[("target", "sim"), ("probe", "cap"), ("quantile", "0.5")],
    )
    .unwrap();
    eprintln!("burst p50 {p50:.4} s, service time {fastest:.4}..{slowest:.4} s");
    assert!(p50 >= 3.0 * fastest && p50 <= 6.0 * slowest, "p50 {p50}");
    // The SLO verdict is in /api/v1/recent.
    let recent: serde_json::Value = client()
        .get(format!("http://{}/api/v1/recent", d.addr()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        recent["targets"]["sim"]["bursts"]["cap"]["slo"]["verdict"],
        "PASS"
    );
    d.shutdown().await;
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_trickle_stays_on_schedule_when_answers_take_ten_intervals() {
    // Service time 10 × the 50 ms interval on one GPU.
    let t = fluxprobe::sim::TimingModel::default();
    let scale = 0.5 / (t.generation_seconds + t.overhead_seconds);
    let s = simulator(SimConfig {
        time_scale: scale,
        ..fast_sim()
    })
    .await;
    let d = daemon(&format!(
        "targets:\n  - name: sim\n    url: {}\n    timeout: 30s\n    max_in_flight: 4\n    trickle: {{interval: 50ms}}\n    status_interval: 5s\n",
        s.base_url()
    ))
    .await;
    let (_, x) = wait_metrics(d.addr(), LIMIT, "answers and skips", |x| {
        let done = value(
            x,
            "fluxprobe_requests_total",
            &[("target", "sim"), ("probe", "trickle")],
        )?;
        let skipped = value(
            x,
            "fluxprobe_probes_skipped_total",
            &[
                ("target", "sim"),
                ("probe", "trickle"),
                ("reason", "max_in_flight"),
            ],
        )?;
        (done >= 3.0 && skipped >= 20.0).then_some(())
    })
    .await;
    // Sent on time: the lag stays far below the interval on average.
    let lag_sum = value(
        &x,
        "fluxprobe_schedule_lag_seconds_sum",
        &[("target", "sim")],
    )
    .unwrap();
    let lag_n = value(
        &x,
        "fluxprobe_schedule_lag_seconds_count",
        &[("target", "sim")],
    )
    .unwrap();
    eprintln!(
        "trickle mean schedule lag {:.5} s over {lag_n} probes",
        lag_sum / lag_n
    );
    assert!(lag_sum / lag_n < 0.04, "mean lag {}", lag_sum / lag_n);
    assert!(value(&x, "fluxprobe_requests_in_flight", &[("target", "sim")]).unwrap() <= 4.0);
    // Queued behind each other on one GPU, answers take longer than one service time.
    let n = value(
        &x,
        "fluxprobe_request_duration_seconds_count",
        &[("target", "sim"), ("outcome", "success")],
    )
    .unwrap();
    let total = value(
        &x,
        "fluxprobe_request_duration_seconds_sum",
        &[("target", "sim"), ("outcome", "success")],
    )
    .unwrap();
    assert!(total / n >= 0.5, "mean response {}", total / n);
    d.shutdown().await;
    s.shutdown().await;
}
