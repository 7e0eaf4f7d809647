//! Hostile targets: every way a broken or malicious server can answer ends as the right outcome,
//! within the probe's timeout (body included), with memory bounded by the body cap, and without
//! a panic; bench still writes a complete results file, and the daemon keeps probing every other
//! target and serving /metrics while all of them misbehave at once.

mod hostile_support;
mod serve_support;

use fluxprobe::api::wire::GenerateRequest;
use fluxprobe::api::{ClientConfig, FluxClient};
use fluxprobe::outcome::Outcome;
use fluxprobe::probe::{self, Clock, ProbeMode, ProbeRecord, ProbeSpec};
use hostile_support::{Hostile, HostileServer};
use reqwest::header::HeaderMap;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Per-probe timeout of these tests: long enough for any honest local answer, short enough that
/// the cases that must run into it stay quick.
const TIMEOUT: Duration = Duration::from_secs(1);
/// Body cap of these tests.
const CAP: usize = 64 * 1024;
/// How far past its timeout a probe may end: the deadline is checked by the runtime's timer,
/// and a loaded machine wakes it late. Without the deadline, the slow cases would run for
/// minutes or forever.
const SLACK: f64 = 1.0;
/// What the gzip bomb inflates to: 256 times the cap, sent as about 16 KiB.
const BOMB_BYTES: usize = 16 * 1024 * 1024;

fn client(url: &str) -> FluxClient {
    let mut cfg = ClientConfig::new(url.parse().unwrap());
    cfg.timeout = TIMEOUT;
    cfg.connect_timeout = TIMEOUT;
    cfg.max_body_bytes = CAP;
    FluxClient::new(&cfg).unwrap()
}

async fn probe_once(url: &str) -> ProbeRecord {
    let spec = ProbeSpec {
        request: GenerateRequest::default(),
        mode: ProbeMode::Generate,
        timeout: TIMEOUT,
        poll_interval: Duration::from_millis(50),
    };
    probe::execute(
        &client(url),
        &spec,
        &Clock::new(),
        None,
        0,
        &HeaderMap::new(),
        &CancellationToken::new(),
    )
    .await
}

/// One case: what the server does, and the outcome fluxprobe must give it.
struct Case {
    name: &'static str,
    hostile: Hostile,
    tls: bool,
    outcome: Outcome,
}

fn case(name: &'static str, hostile: Hostile, outcome: Outcome) -> Case {
    Case {
        name,
        hostile,
        tls: false,
        outcome,
    }
}

fn cases() -> Vec<Case> {
    vec![
        case(
            "headers_never_finish",
            Hostile::HeadersNeverFinish,
            Outcome::Timeout,
        ),
        case(
            "trickle_body",
            Hostile::TrickleBody {
                every: Duration::from_millis(100),
            },
            Outcome::Timeout,
        ),
        case(
            "endless_chunked",
            Hostile::EndlessChunked,
            Outcome::BodyTooLarge,
        ),
        case(
            "declared_over_cap",
            Hostile::DeclaredOverCap,
            Outcome::BodyTooLarge,
        ),
        case(
            "undeclared_over_cap",
            Hostile::UndeclaredOverCap,
            Outcome::BodyTooLarge,
        ),
        case(
            "gzip_bomb",
            Hostile::GzipBomb {
                inflated: BOMB_BYTES,
            },
            Outcome::InvalidBody,
        ),
        case("invalid_utf8", Hostile::InvalidUtf8, Outcome::InvalidBody),
        case(
            "deep_json",
            Hostile::DeepJson { depth: 5_000 },
            Outcome::InvalidBody,
        ),
        case("huge_numbers", Hostile::HugeNumbers, Outcome::Success),
        case(
            "odd_figure_strings",
            Hostile::OddFigureStrings,
            Outcome::Success,
        ),
        case("redirect_loop", Hostile::RedirectLoop, Outcome::Transport),
        case("proxy_502", Hostile::ProxyHtml(502), Outcome::Http5xx),
        case("proxy_504", Hostile::ProxyHtml(504), Outcome::Http5xx),
        case(
            "429_retry_after_seconds",
            Hostile::RetryAfter {
                status: 429,
                value: "30".into(),
            },
            Outcome::Http429,
        ),
        case(
            "503_retry_after_date",
            Hostile::RetryAfter {
                status: 503,
                value: "Fri, 01 Jan 2100 00:00:00 GMT".into(),
            },
            Outcome::Http5xx,
        ),
        case(
            "close_mid_answer",
            Hostile::CloseMidAnswer,
            Outcome::Transport,
        ),
        Case {
            name: "tls_to_plain_http",
            hostile: Hostile::PlainToTls,
            tls: true,
            outcome: Outcome::Tls,
        },
    ]
}

async fn start(c: &Case) -> (HostileServer, String) {
    let server = HostileServer::start(c.hostile.clone()).await;
    let url = if c.tls {
        server.https_url()
    } else {
        server.url()
    };
    (server, url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_hostile_answer_gets_its_outcome_in_bounded_time_and_memory() {
    for c in cases() {
        let (server, url) = start(&c).await;
        let rec = probe_once(&url).await;
        assert_eq!(rec.outcome, c.outcome, "{}: {rec:?}", c.name);
        let took = rec.done - rec.sent;
        assert!(
            took <= TIMEOUT.as_secs_f64() + SLACK,
            "{}: the probe took {took:.2} s, past its {TIMEOUT:?} timeout",
            c.name
        );
        // The cap bounds what is kept; what is counted as received may pass it by one read.
        assert!(
            rec.bytes_received <= (CAP + 64 * 1024) as u64,
            "{}: {} bytes received past a cap of {CAP}",
            c.name,
            rec.bytes_received
        );
        if !rec.is_success() {
            let e = rec.error.as_deref().unwrap_or("");
            assert!(!e.is_empty(), "{}: a failure without a message", c.name);
            assert!(
                e.chars().count() <= fluxprobe::api::client::MAX_ERROR_CHARS + 1,
                "{}: message of {} chars",
                c.name,
                e.chars().count()
            );
            assert!(
                !e.contains(&url),
                "{}: the URL is in the message {e:?}",
                c.name
            );
        }
        drop(server);
    }
}

#[tokio::test]
async fn odd_figures_are_absent_and_counted_never_zero_or_infinite() {
    for hostile in [Hostile::HugeNumbers, Hostile::OddFigureStrings] {
        let server = HostileServer::start(hostile.clone()).await;
        let rec = probe_once(&server.url()).await;
        assert_eq!(rec.outcome, Outcome::Success, "{hostile:?}: {rec:?}");
        assert_eq!(rec.generation_time, None, "{hostile:?}");
        assert!(
            rec.parse_issues.iter().any(|f| f == "generation_time"),
            "{hostile:?}: {:?}",
            rec.parse_issues
        );
        if let Some(v) = rec.vram_bytes {
            assert!(v.is_finite() && v >= 0.0, "{hostile:?}: VRAM {v}");
        }
    }
}

#[tokio::test]
async fn a_gzip_bomb_is_never_inflated() {
    let server = HostileServer::start(Hostile::GzipBomb {
        inflated: BOMB_BYTES,
    })
    .await;
    let rec = probe_once(&server.url()).await;
    assert_eq!(rec.outcome, Outcome::InvalidBody);
    // What arrived is the compressed stream, not the 16 MiB it inflates to.
    assert!(rec.bytes_received < 1024 * 1024, "{}", rec.bytes_received);
    let heads = server.heads.lock().unwrap().clone();
    assert!(
        heads
            .iter()
            .all(|h| !h.to_ascii_lowercase().contains("accept-encoding")),
        "the client asked for compression: {heads:?}"
    );
}

#[tokio::test]
async fn retry_after_is_reported_with_the_failure() {
    let server = HostileServer::start(Hostile::RetryAfter {
        status: 429,
        value: "30".into(),
    })
    .await;
    let rec = probe_once(&server.url()).await;
    assert_eq!(rec.outcome, Outcome::Http429);
    let e = rec.error.unwrap();
    assert!(
        e.contains("rate limited") && e.contains("Retry-After 30 s"),
        "{e}"
    );

    let server = HostileServer::start(Hostile::RetryAfter {
        status: 503,
        value: "no idea".into(),
    })
    .await;
    let rec = probe_once(&server.url()).await;
    assert_eq!(rec.outcome, Outcome::Http5xx);
    assert!(!rec.error.unwrap().contains("Retry-After"));
}

/// Every hostile case as a bench run: the binary exits normally, and its results file is
/// complete, with each request's outcome.
#[test]
fn bench_runs_through_every_hostile_target() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    for c in cases() {
        let (server, url) = rt.block_on(start(&c));
        let file = dir.path().join(format!("{}.json", c.name));
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_fluxprobe"))
            .args([
                "bench",
                "--url",
                &url,
                "--requests",
                "3",
                "--concurrent",
                "3",
                "--timeout",
                "1s",
                "--max-body-bytes",
                &CAP.to_string(),
                "--no-status",
                "--save",
                file.to_str().unwrap(),
            ])
            .output()
            .expect("the binary runs");
        let code = out.status.code();
        // 0: a run that measured something; 4: nothing but connection-level failures.
        assert!(
            matches!(code, Some(0) | Some(4)),
            "{}: exit {code:?}\n{}",
            c.name,
            String::from_utf8_lossy(&out.stderr)
        );
        let saved: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let results = saved["test_results"].as_array().unwrap();
        assert_eq!(results.len(), 3, "{}", c.name);
        for r in results {
            assert_eq!(r["outcome"], c.outcome.as_str(), "{}: {r}", c.name);
        }
        drop(server);
    }
}

/// One daemon probes every hostile target at once, beside a healthy simulator: every target's
/// failures land under their reason, the healthy target keeps succeeding, and the daemon stays
/// healthy and scrapable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_keeps_probing_through_every_hostile_target() {
    use fluxprobe::serve::{Daemon, config};
    use fluxprobe::sim::{self, SimConfig};
    use serve_support::{get_status, sum, wait_metrics};

    let sim = sim::start(
        SimConfig {
            time_scale: 0.0,
            ..SimConfig::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let mut servers = Vec::new();
    let mut yaml = format!(
        "defaults:
  timeout: 1s
  max_body_bytes: {CAP}
  status_interval: 1s
  status_timeout: 500ms
  trickle: {{interval: 100ms}}
targets:
  - name: healthy
    url: {}
",
        sim.base_url()
    );
    let all = cases();
    for c in &all {
        let (server, url) = start(c).await;
        yaml.push_str(&format!("  - name: {}\n    url: {url}\n", c.name));
        servers.push(server);
    }
    let cfg = config::parse(&yaml, "hostile.yml", &|_| None).unwrap_or_else(|e| panic!("{e}"));
    let daemon = Daemon::start(cfg, Some("127.0.0.1:0".parse().unwrap()))
        .await
        .unwrap();
    let addr = daemon.addr();

    wait_metrics(addr, Duration::from_secs(60), "every reason counted", |s| {
        let healthy_ok = sum(
            s,
            "fluxprobe_request_duration_seconds_count",
            &[("target", "healthy"), ("outcome", "success")],
        ) >= 5.0;
        let all_counted = all.iter().all(|c| {
            if c.outcome == Outcome::Success {
                sum(
                    s,
                    "fluxprobe_request_duration_seconds_count",
                    &[("target", c.name), ("outcome", "success")],
                ) >= 2.0
            } else {
                sum(
                    s,
                    "fluxprobe_request_failures_total",
                    &[("target", c.name), ("reason", c.outcome.as_str())],
                ) >= 2.0
            }
        });
        (healthy_ok && all_counted).then_some(())
    })
    .await;
    assert_eq!(get_status(addr, "/-/healthy").await, 200);

    // No failure was filed under another reason than its case's.
    let samples = serve_support::scrape(addr).await;
    for c in &all {
        for other in Outcome::failures().filter(|o| *o != c.outcome) {
            // A probe still in flight at a reload or shutdown is aborted; there is none here.
            let n = sum(
                &samples,
                "fluxprobe_request_failures_total",
                &[("target", c.name), ("reason", other.as_str())],
            );
            assert_eq!(n, 0.0, "{}: {n} failures counted as {other}", c.name);
        }
    }
    daemon.shutdown().await;
    sim.shutdown().await;
}
