//! The open-loop trickle keeps its schedule when answers are slow: probes are sent at their
//! intended times whatever earlier ones are doing, skips past max_in_flight are counted (never
//! delayed), the schedule lag stays small, and shutdown counts what was still in flight as
//! aborted.

use fluxprobe::serve::schedule::stagger_offset;
use fluxprobe::serve::{Daemon, config};
use std::time::Duration;
use tokio::time::Instant;

mod serve_support;
use serve_support::*;

const INTERVAL_MS: u64 = 100;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_trickle_keeps_its_schedule_while_answers_take_ten_intervals() {
    // Every answer would take 10 intervals: the probe times out after 1 s with no answer.
    let hole = black_hole().await;
    let text = format!(
        "grace_period: 100ms\nbuckets: [0.01, 0.05, 0.25, 1, 2]\ntargets:\n  - name: slow\n    url: http://{hole}\n    timeout: 1s\n    max_in_flight: 3\n    trickle: {{interval: {INTERVAL_MS}ms}}\n    status_interval: 5s\n    status_timeout: 100ms\n"
    );
    let cfg = config::parse(&text, "s.yml", &|_| None).unwrap();
    let before_start = Instant::now();
    let d = Daemon::start(cfg, Some("127.0.0.1:0".parse().unwrap()))
        .await
        .unwrap();
    let after_start = Instant::now();
    let interval = Duration::from_millis(INTERVAL_MS);
    let offset = stagger_offset("slow", interval);
    // Slots due at an instant, counted from the plan's start (between before and after start).
    let due = |since: Duration| -> i64 {
        if since < offset {
            0
        } else {
            ((since - offset).as_nanos() / interval.as_nanos()) as i64 + 1
        }
    };
    // Wait for several timeouts to have happened (≥ 2.5 s of schedule).
    let mut checks = 0;
    loop {
        let t0 = Instant::now();
        let s = scrape(d.addr()).await;
        let t1 = Instant::now();
        let finished = value(
            &s,
            "fluxprobe_requests_total",
            &[("target", "slow"), ("probe", "trickle")],
        )
        .unwrap();
        let in_flight = value(&s, "fluxprobe_requests_in_flight", &[("target", "slow")]).unwrap();
        let skipped = value(
            &s,
            "fluxprobe_probes_skipped_total",
            &[
                ("target", "slow"),
                ("probe", "trickle"),
                ("reason", "max_in_flight"),
            ],
        )
        .unwrap();
        let scheduled = (finished + in_flight + skipped) as i64;
        let lo = due(t0.saturating_duration_since(after_start)) - 3;
        // +1: a probe ending during the scrape may be read both in flight and finished.
        let hi = due(t1.saturating_duration_since(before_start)) + 1;
        assert!(
            (lo..=hi).contains(&scheduled),
            "scheduled {scheduled} (finished {finished}, in flight {in_flight}, skipped {skipped}) not in {lo}..={hi}"
        );
        // Never more than max_in_flight at once.
        assert!(in_flight <= 3.0, "{in_flight} in flight");
        if finished >= 6.0 && skipped >= 10.0 {
            checks += 1;
            if checks >= 3 {
                // Every finished probe timed out: all are failures, none a success.
                assert_eq!(
                    value(
                        &s,
                        "fluxprobe_request_failures_total",
                        &[
                            ("target", "slow"),
                            ("probe", "trickle"),
                            ("reason", "timeout")
                        ]
                    ),
                    Some(finished)
                );
                // Sends happen on time: at least 90 % of the lags under 250 ms.
                let count = value(
                    &s,
                    "fluxprobe_schedule_lag_seconds_count",
                    &[("target", "slow")],
                )
                .unwrap();
                let fast = value(
                    &s,
                    "fluxprobe_schedule_lag_seconds_bucket",
                    &[("target", "slow"), ("le", "0.25")],
                )
                .unwrap();
                assert!(fast >= 0.9 * count, "{fast} of {count} lags under 250 ms");
                // Response time counts from the intended time: at least the 1 s timeout.
                let under_1 = value(
                    &s,
                    "fluxprobe_request_duration_seconds_bucket",
                    &[("target", "slow"), ("outcome", "failure"), ("le", "0.25")],
                )
                .unwrap();
                assert_eq!(under_1, 0.0);
                break;
            }
        }
        assert!(
            before_start.elapsed() < Duration::from_secs(60),
            "no progress: {finished} finished, {skipped} skipped"
        );
        tokio::time::sleep(Duration::from_millis(150)).await;
    }

    // Shutdown: three probes are in flight and never answer; after the grace period they are
    // ended and counted as aborted.
    let registry = d.registry().clone();
    let s = scrape(d.addr()).await;
    let aborted_before = value(
        &s,
        "fluxprobe_request_failures_total",
        &[
            ("target", "slow"),
            ("probe", "trickle"),
            ("reason", "aborted"),
        ],
    )
    .unwrap();
    assert_eq!(aborted_before, 0.0);
    let report = d.shutdown().await;
    assert!(report.aborted_in_flight);
    let mut text = String::new();
    prometheus::TextEncoder::new()
        .encode_utf8(&registry.gather(), &mut text)
        .unwrap();
    let s = parse_exposition(&text);
    let aborted = value(
        &s,
        "fluxprobe_request_failures_total",
        &[
            ("target", "slow"),
            ("probe", "trickle"),
            ("reason", "aborted"),
        ],
    )
    .unwrap();
    assert!((1.0..=3.0).contains(&aborted), "{aborted} aborted");
    assert_eq!(
        value(&s, "fluxprobe_requests_in_flight", &[("target", "slow")]),
        Some(0.0)
    );
}
