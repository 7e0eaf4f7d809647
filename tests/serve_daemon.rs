//! Daemon lifecycle without a FLUX service: several daemons in one process, reload from the
//! file (good and bad), a removed target losing every series, an unchanged one keeping its
//! counters, and the control endpoints.

use fluxprobe::serve::web::WebOptions;
use fluxprobe::serve::{Daemon, DaemonHandle, DaemonOptions, ServeConfig, config};
use std::net::SocketAddr;
use std::time::Duration;

mod serve_support;
use serve_support::*;

const LIMIT: Duration = Duration::from_secs(20);

fn target_yaml(name: &str, port: SocketAddr) -> String {
    format!(
        "  - name: {name}\n    url: http://{port}\n    timeout: 2s\n    trickle: {{interval: 50ms}}\n    status_interval: 200ms\n    bursts:\n      - {{name: nightly, schedule: '0 3 * * *', requests: 2, concurrency: 1}}\n"
    )
}

fn config_text(targets: &[(&str, SocketAddr)]) -> String {
    let mut s = String::from("grace_period: 1s\ntargets:\n");
    for (n, p) in targets {
        s.push_str(&target_yaml(n, *p));
    }
    s
}

fn local() -> Option<SocketAddr> {
    Some("127.0.0.1:0".parse().unwrap())
}

/// A daemon on 127.0.0.1 with POST /-/reload and /-/burst on.
async fn start_controlled(cfg: ServeConfig) -> DaemonHandle {
    Daemon::start_with(
        cfg,
        DaemonOptions {
            listen: local(),
            web: WebOptions {
                enable_lifecycle: true,
                enable_burst_api: true,
                ..Default::default()
            },
        },
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_daemons_in_one_process_keep_their_own_registries() {
    let down = closed_port();
    let one = config::parse(&config_text(&[("one", down)]), "one.yml", &|_| None).unwrap();
    let two = config::parse(&config_text(&[("two", down)]), "two.yml", &|_| None).unwrap();
    let d1 = Daemon::start(one, local()).await.unwrap();
    let d2 = Daemon::start(two, local()).await.unwrap();
    assert_ne!(d1.addr(), d2.addr());
    for (d, name) in [(&d1, "one"), (&d2, "two")] {
        let (_, samples) = wait_metrics(d.addr(), LIMIT, "connect failures counted", |s| {
            (value(
                s,
                "fluxprobe_request_failures_total",
                &[
                    ("target", name),
                    ("probe", "trickle"),
                    ("reason", "connect"),
                ],
            )? >= 3.0)
                .then_some(())
        })
        .await;
        let other = if name == "one" { "two" } else { "one" };
        assert!(find(&samples, "fluxprobe_requests_total", &[("target", other)]).is_empty());
        // A refused connection is a failure, never a success, and the target is down.
        assert_eq!(
            value(
                &samples,
                "fluxprobe_probe_success",
                &[("target", name), ("probe", "trickle")]
            ),
            Some(0.0)
        );
        wait_metrics(d.addr(), LIMIT, "target_up 0", |s| {
            (value(s, "fluxprobe_target_up", &[("target", name)])? == 0.0).then_some(())
        })
        .await;
        assert_eq!(get_status(d.addr(), "/-/healthy").await, 200);
        wait_until(LIMIT, "ready", || async {
            get_status(d.addr(), "/-/ready").await == 200
        })
        .await;
        // Every failure reason starts at 0, for the trickle and the burst.
        for probe in ["trickle", "nightly"] {
            assert_eq!(
                find(
                    &samples,
                    "fluxprobe_request_failures_total",
                    &[("target", name), ("probe", probe)]
                )
                .len(),
                12
            );
        }
        assert_eq!(value(&samples, "fluxprobe_build_info", &[]).unwrap(), 1.0);
        assert!(value(&samples, "process_resident_memory_bytes", &[]).unwrap() > 0.0);
    }
    d1.shutdown().await;
    // The other daemon still serves after the first one stopped.
    assert_eq!(get_status(d2.addr(), "/-/healthy").await, 200);
    d2.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_from_the_file_good_then_bad() {
    let down = closed_port();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fluxprobe.yml");
    std::fs::write(&path, config_text(&[("keep", down), ("drop", down)])).unwrap();
    let d = start_controlled(config::load_file(&path).unwrap()).await;
    let addr = d.addr();
    let (before, _) = wait_metrics(addr, LIMIT, "both targets probed", |s| {
        let keep = value(
            s,
            "fluxprobe_requests_total",
            &[("target", "keep"), ("probe", "trickle")],
        )?;
        let dropped = value(
            s,
            "fluxprobe_requests_total",
            &[("target", "drop"), ("probe", "trickle")],
        )?;
        let gauges = value(
            s,
            "fluxprobe_target_stats_scrape_success",
            &[("target", "drop"), ("endpoint", "health")],
        )?;
        (keep >= 3.0 && dropped >= 1.0 && gauges == 0.0).then_some(keep)
    })
    .await;

    // Good reload: "drop" goes, "new" comes, "keep" is untouched.
    std::fs::write(&path, config_text(&[("keep", down), ("new", down)])).unwrap();
    let (status, body) = post(addr, "/-/reload").await;
    assert_eq!(status, 200, "{body}");
    let (_, samples) = wait_metrics(addr, LIMIT, "new target probed", |s| {
        (value(
            s,
            "fluxprobe_requests_total",
            &[("target", "new"), ("probe", "trickle")],
        )? >= 1.0)
            .then_some(())
    })
    .await;
    let leftovers: Vec<_> = samples
        .iter()
        .filter(|s| s.labels.get("target").map(String::as_str) == Some("drop"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "series of the removed target remain: {leftovers:?}"
    );
    assert_eq!(
        value(&samples, "fluxprobe_config_last_reload_successful", &[]),
        Some(1.0)
    );
    // The unchanged target kept counting from where it was (no reset).
    let after = value(
        &samples,
        "fluxprobe_requests_total",
        &[("target", "keep"), ("probe", "trickle")],
    )
    .unwrap();
    assert!(after >= before, "{after} < {before}");

    // Bad reload: the old configuration stays, the gauge says so, the error points at the file.
    std::fs::write(
        &path,
        "targets:\n  - name: keep\n    url: http://127.0.0.1:1\n    trickle: {interval: -5s}\n",
    )
    .unwrap();
    let (status, body) = post(addr, "/-/reload").await;
    assert_eq!(status, 500);
    assert!(body.contains(&format!("{}:4:", path.display())), "{body}");
    let (_, samples) = wait_metrics(addr, LIMIT, "reload failure exported", |s| {
        (value(s, "fluxprobe_config_last_reload_successful", &[])? == 0.0).then_some(())
    })
    .await;
    let n = value(
        &samples,
        "fluxprobe_requests_total",
        &[("target", "new"), ("probe", "trickle")],
    )
    .unwrap();
    wait_metrics(addr, LIMIT, "old configuration still probing", |s| {
        (value(
            s,
            "fluxprobe_requests_total",
            &[("target", "new"), ("probe", "trickle")],
        )? > n)
            .then_some(())
    })
    .await;
    assert_eq!(d.config().targets.len(), 2);
    d.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_endpoints_answer_as_documented() {
    let down = closed_port();
    let cfg = config::parse(&config_text(&[("t", down)]), "t.yml", &|_| None).unwrap();
    let d = start_controlled(cfg).await;
    let addr = d.addr();
    assert_eq!(post(addr, "/-/burst/nope/nightly").await.0, 404);
    assert_eq!(post(addr, "/-/burst/t/nope").await.0, 404);
    assert_eq!(post(addr, "/-/burst/t/nightly").await.0, 202);
    let (_, samples) = wait_metrics(addr, LIMIT, "burst finished", |s| {
        (value(
            s,
            "fluxprobe_burst_last_end_timestamp_seconds",
            &[("target", "t"), ("probe", "nightly")],
        )
        .is_some()
            && value(
                s,
                "fluxprobe_burst_running",
                &[("target", "t"), ("probe", "nightly")],
            )? == 0.0)
            .then_some(())
    })
    .await;
    // Two refused connections: ratio 0, throughput 0, no quantiles.
    assert_eq!(
        value(
            &samples,
            "fluxprobe_burst_last_success_ratio",
            &[("target", "t"), ("probe", "nightly")]
        ),
        Some(0.0)
    );
    assert_eq!(
        value(
            &samples,
            "fluxprobe_burst_last_throughput_requests_per_second",
            &[("target", "t"), ("probe", "nightly")]
        ),
        Some(0.0)
    );
    assert!(
        find(
            &samples,
            "fluxprobe_burst_last_response_seconds",
            &[("target", "t")]
        )
        .is_empty()
    );
    assert_eq!(
        value(
            &samples,
            "fluxprobe_requests_total",
            &[("target", "t"), ("probe", "nightly")]
        ),
        Some(2.0)
    );
    // A reload with no file behind the daemon is refused, and the page and JSON render.
    assert_eq!(post(addr, "/-/reload").await.0, 500);
    let page = get_text(addr, "/").await;
    assert!(
        page.contains("nightly") && page.contains("connect"),
        "{page}"
    );
    let recent: serde_json::Value = client()
        .get(format!("http://{addr}/api/v1/recent"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let results = recent["targets"]["t"]["results"].as_array().unwrap();
    assert!(!results.is_empty());
    assert!(
        results
            .iter()
            .all(|r| r["outcome"] == "connect" && r["error"].is_string())
    );
    assert_eq!(get_status(addr, "/-/reload").await, 405);
    d.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_target_restarts_and_a_removed_burst_loses_its_series() {
    let down = closed_port();
    let d =
        start_controlled(config::parse(&config_text(&[("t", down)]), "t.yml", &|_| None).unwrap())
            .await;
    let addr = d.addr();
    let (before, s) = wait_metrics(addr, LIMIT, "probed", |s| {
        value(
            s,
            "fluxprobe_requests_total",
            &[("target", "t"), ("probe", "trickle")],
        )
        .filter(|v| *v >= 2.0)
    })
    .await;
    assert_eq!(
        find(
            &s,
            "fluxprobe_request_failures_total",
            &[("target", "t"), ("probe", "nightly")]
        )
        .len(),
        12
    );
    // Same name, another trickle interval and no burst.
    let changed = format!(
        "targets:\n  - name: t\n    url: http://{down}\n    timeout: 2s\n    trickle: {{interval: 70ms}}\n    status_interval: 200ms\n"
    );
    let summary = d
        .reload_from(config::parse(&changed, "t.yml", &|_| None).unwrap())
        .await
        .unwrap();
    assert_eq!(summary.restarted, vec!["t".to_string()]);
    let s = scrape(addr).await;
    assert!(
        find(
            &s,
            "fluxprobe_request_failures_total",
            &[("target", "t"), ("probe", "nightly")]
        )
        .is_empty()
    );
    assert!(
        find(
            &s,
            "fluxprobe_probes_skipped_total",
            &[("target", "t"), ("probe", "nightly")]
        )
        .is_empty()
    );
    // The trickle's counter goes on from where it was.
    wait_metrics(addr, LIMIT, "probing after the restart", |s| {
        value(
            s,
            "fluxprobe_requests_total",
            &[("target", "t"), ("probe", "trickle")],
        )
        .filter(|v| *v > before)
    })
    .await;
    assert_eq!(post(addr, "/-/burst/t/nightly").await.0, 404);
    // Reloading the same configuration changes nothing.
    let same = d
        .reload_from(config::parse(&changed, "t.yml", &|_| None).unwrap())
        .await
        .unwrap();
    assert_eq!(same.unchanged, vec!["t".to_string()]);
    assert!(same.restarted.is_empty() && same.added.is_empty() && same.removed.is_empty());
    d.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_endpoints_are_off_unless_enabled() {
    let down = closed_port();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fluxprobe.yml");
    std::fs::write(&path, config_text(&[("t", down)])).unwrap();
    let d = Daemon::start(config::load_file(&path).unwrap(), local())
        .await
        .unwrap();
    let addr = d.addr();
    // A new target in the file must not come in through the disabled endpoint.
    std::fs::write(&path, config_text(&[("t", down), ("u", down)])).unwrap();
    let (status, body) = post(addr, "/-/reload").await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("--web.enable-lifecycle"), "{body}");
    let (status, body) = post(addr, "/-/burst/t/nightly").await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("--web.enable-burst-api"), "{body}");
    assert_eq!(d.config().targets.len(), 1);
    let page = get_text(addr, "/").await;
    assert!(page.contains("nightly"), "{page}");
    assert!(!page.contains("/-/burst/"), "no run-now button: {page}");
    let (_, samples) = wait_metrics(addr, LIMIT, "probing", |s| {
        value(
            s,
            "fluxprobe_requests_total",
            &[("target", "t"), ("probe", "trickle")],
        )
    })
    .await;
    assert_eq!(
        value(
            &samples,
            "fluxprobe_requests_total",
            &[("target", "t"), ("probe", "nightly")]
        )
        .unwrap_or(0.0),
        0.0,
        "the refused burst did not run"
    );
    // SIGHUP's way (the handle) still reloads.
    d.reload().await.unwrap();
    assert_eq!(d.config().targets.len(), 2);
    d.shutdown().await;
}
