//! The shipped dashboards and alert rules, end to end: a real Prometheus (Debian's 2.42) loads
//! alerts/fluxprobe.rules.yml, evaluates every second and scrapes, as job `fluxprobe`, an
//! in-process `fluxprobe serve` that probes simulators with one fault each. Through the HTTP API:
//! every query of every dashboard panel, annotation and variable returns data; every alert
//! reaches pending or firing on the target whose fault causes it, with its severity, and not on
//! the targets that cause something else; every rule evaluates without error and every active
//! alert's annotations render.
//!
//! Prometheus evaluates in real time, so an alert's `for:` cannot be skipped: pending is what is
//! checked (alerts without `for:` fire at once). Within the test's bound every alert of the rules
//! file gets there (see [`expected_alerts`]); nothing is exempt.
//!
//! Needs the `prometheus` binary (Debian package `prometheus`). Without it the test is skipped
//! with a reason, except under CI (env CI set), where it fails.

mod monitoring;

use fluxprobe::serve::burst::BurstStartError;
use fluxprobe::serve::{Daemon, DaemonHandle, config};
use fluxprobe::sim::{self, Faults, FiguresMode, HealthMode, SimConfig, SimHandle};
use monitoring::grafana::all_queries;
use monitoring::prometheus::{self, Prometheus, Series, free_port};
use monitoring::promql::substitute_grafana_vars;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::Instant;

const RULES: &str = "alerts/fluxprobe.rules.yml";

/// Bound on everything this test waits for, from the moment Prometheus answers. The slowest
/// condition (GenerateLatencyHigh: two successes of about 36 s each) needs about 45 s.
const LIMIT: Duration = Duration::from_secs(100);
/// Pause between two rounds of queries.
const POLL: Duration = Duration::from_millis(500);

// One target per fault, so that each alert has exactly one cause.
/// Half of its generations fail: the burn-rate alerts.
const ERRORS: &str = "errors";
/// Each generation leaves 256 MiB allocated, from the moment Prometheus watches (switched on
/// then, so that Prometheus sees the climb and not only the full GPU): VRAM high, exhaustion
/// predicted.
const LEAK: &str = "leak";
/// The leak of LEAK: the GPU fills in about 85 generations, 17 s of its trickle.
const LEAK_MIB_PER_GENERATION: f64 = 256.0;
/// Queue mode, a queue of 10 kept full by a trickle faster than the GPU: queue saturated.
const QUEUE: &str = "queue";
/// Closes every connection: target down, no recent success, and a burst that delivers nothing.
const DOWN: &str = "down";
/// Healthy, with static labels and a long burst (triggered twice: one overlap skip).
const STEADY: &str = "steady";
/// Generations of about 36 s: latency high, and probes skipped at max_in_flight.
const SLOW: &str = "slow";
/// Answers /health with "model_loading": up but not ready.
const LOADING: &str = "loading";
/// Writes every figure as "N/A": unusable fields counted.
const FIGURES: &str = "figures";
/// A hand-written server whose /health works and every other status endpoint fails.
const PARTIAL: &str = "partial";

/// The burst of STEADY (long enough to be seen running) and of DOWN (fails at once).
const LONG_BURST: &str = "long";
const DROP_BURST: &str = "drop";

fn sim_config(time_scale: f64, faults: Faults) -> SimConfig {
    SimConfig {
        time_scale,
        // Status endpoints answer at once, whatever the GPUs are doing: a status scrape that
        // times out behind a generation would look like a down target.
        blocking_status: false,
        faults,
        ..SimConfig::default()
    }
}

async fn start_sim(cfg: SimConfig) -> SimHandle {
    sim::start(cfg, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("start a simulator")
}

/// A server whose /health says healthy and whose other endpoints answer 500 (bodies written
/// here, in the API's shape).
async fn partial_server() -> (SocketAddr, JoinHandle<()>) {
    use axum::http::StatusCode;
    use axum::routing::get;
    use serde_json::json;
    let app = axum::Router::new()
        .route(
            "/health",
            get(|| async {
                axum::Json(json!({"status": "healthy", "service": "partial", "version": "1.0"}))
            }),
        )
        .fallback(|| async {
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                axum::Json(json!({"detail": "statistics unavailable"})),
            )
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, task)
}

/// Everything the daemon probes.
struct Targets {
    sims: Vec<(&'static str, SimHandle)>,
    partial: (SocketAddr, JoinHandle<()>),
}

impl Targets {
    async fn start() -> Targets {
        let mut sims = Vec::new();
        sims.push((
            ERRORS,
            start_sim(sim_config(
                0.01,
                Faults {
                    error_rate: 0.5,
                    ..Faults::default()
                },
            ))
            .await,
        ));
        sims.push((LEAK, start_sim(sim_config(0.01, Faults::default())).await));
        sims.push((
            QUEUE,
            start_sim(SimConfig {
                max_queue_size: 10,
                ..sim_config(0.5, Faults::default())
            })
            .await,
        ));
        sims.push((
            DOWN,
            start_sim(sim_config(
                0.01,
                Faults {
                    down: true,
                    ..Faults::default()
                },
            ))
            .await,
        ));
        sims.push((STEADY, start_sim(sim_config(0.05, Faults::default())).await));
        sims.push((
            SLOW,
            start_sim(SimConfig {
                gpus: 2,
                ..sim_config(20.0, Faults::default())
            })
            .await,
        ));
        sims.push((
            LOADING,
            start_sim(sim_config(
                0.01,
                Faults {
                    health: HealthMode::Loading,
                    ..Faults::default()
                },
            ))
            .await,
        ));
        sims.push((
            FIGURES,
            start_sim(sim_config(
                0.01,
                Faults {
                    figures: FiguresMode::NotAvailable,
                    ..Faults::default()
                },
            ))
            .await,
        ));
        Targets {
            sims,
            partial: partial_server().await,
        }
    }

    fn sim(&self, name: &str) -> &SimHandle {
        self.sims
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, s)| s)
            .unwrap_or_else(|| panic!("no simulator {name}"))
    }

    fn url(&self, name: &str) -> String {
        if name == PARTIAL {
            return format!("http://{}", self.partial.0);
        }
        self.sim(name).base_url().to_string()
    }

    /// Switches on the VRAM leak of LEAK.
    fn start_leak(&self) {
        let sim = self.sim(LEAK);
        sim.set_faults(Faults {
            vram_leak_mib_per_generation: LEAK_MIB_PER_GENERATION,
            ..sim.faults()
        });
    }

    /// The daemon's configuration. `otlp` is an address where nothing listens: every metric
    /// export fails and is counted as dropped.
    fn daemon_config(&self, otlp: SocketAddr) -> String {
        let never = "'0 3 1 1 *'";
        format!(
            "grace_period: 1s
otlp:
  endpoint: http://{otlp}
  interval: 1s
  timeout: 1s
  traces: false
defaults:
  timeout: 10s
  status_interval: 1s
  status_timeout: 1s
targets:
  - name: {ERRORS}
    url: {errors}
    trickle: {{interval: 100ms}}
  - name: {LEAK}
    url: {leak}
    trickle: {{interval: 200ms}}
  - name: {QUEUE}
    url: {queue}
    mode: queue
    timeout: 30s
    max_in_flight: 16
    trickle: {{interval: 100ms}}
  - name: {DOWN}
    url: {down}
    trickle: {{interval: 500ms}}
    bursts:
      - {{name: {DROP_BURST}, schedule: {never}, requests: 4, concurrency: 2}}
  - name: {STEADY}
    url: {steady}
    labels: {{team: imaging, tier: reference}}
    trickle: {{interval: 200ms}}
    bursts:
      - {{name: {LONG_BURST}, schedule: {never}, requests: 100, concurrency: 2}}
  - name: {SLOW}
    url: {slow}
    timeout: 120s
    trickle: {{interval: 2s}}
  - name: {LOADING}
    url: {loading}
    trickle: {{enabled: false}}
  - name: {FIGURES}
    url: {figures}
    trickle: {{enabled: false}}
  - name: {PARTIAL}
    url: {partial}
    trickle: {{enabled: false}}
",
            errors = self.url(ERRORS),
            leak = self.url(LEAK),
            queue = self.url(QUEUE),
            down = self.url(DOWN),
            steady = self.url(STEADY),
            slow = self.url(SLOW),
            loading = self.url(LOADING),
            figures = self.url(FIGURES),
            partial = self.url(PARTIAL),
        )
    }

    async fn shutdown(self) {
        for (_, s) in self.sims {
            s.shutdown().await;
        }
        self.partial.1.abort();
    }
}

/// prometheus.yml: the shipped rules, one-second scrapes and evaluations, job `fluxprobe` (the
/// name the rules assume) with the daemon and a second instance where nothing listens.
fn prometheus_config(daemon: SocketAddr, dead: SocketAddr) -> String {
    let rules = monitoring::root().join(RULES);
    format!(
        "global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - '{}'
scrape_configs:
  - job_name: fluxprobe
    static_configs:
      - targets: ['{daemon}', '{dead}']
",
        rules.display()
    )
}

/// One thing to wait for: a query that must return at least one sample that is a number.
struct Check {
    what: String,
    query: String,
    last: String,
}

impl Check {
    fn new(what: impl Into<String>, query: impl Into<String>) -> Check {
        Check {
            what: what.into(),
            query: query.into(),
            last: "not queried yet".into(),
        }
    }
}

/// Every query of the dashboards, with Grafana's variables replaced (all targets, probes and
/// probers; a one-minute rate window). Annotations first: a burst runs only for a while.
fn dashboard_checks() -> Vec<Check> {
    let mut out: Vec<Check> = all_queries()
        .into_iter()
        .map(|q| {
            Check::new(
                format!("{} {}", q.dashboard, q.place),
                substitute_grafana_vars(&q.expr),
            )
        })
        .collect();
    out.sort_by_key(|c| !c.what.contains(" annotation "));
    out
}

/// An alert expected to reach pending or firing, with the labels it must carry.
struct Expected {
    alert: &'static str,
    severity: &'static str,
    labels: Vec<(&'static str, String)>,
}

fn expect(
    alert: &'static str,
    severity: &'static str,
    labels: &[(&'static str, &str)],
) -> Expected {
    Expected {
        alert,
        severity,
        labels: labels.iter().map(|(k, v)| (*k, v.to_string())).collect(),
    }
}

/// What each fault must raise, with the severities docs/alerts.md gives. Every alert of the
/// rules file is here.
fn expected_alerts(daemon: SocketAddr, dead: SocketAddr) -> Vec<Expected> {
    let (daemon, dead) = (daemon.to_string(), dead.to_string());
    vec![
        expect("FluxProbeTargetDown", "page", &[("target", DOWN)]),
        expect("FluxProbeTargetNotReady", "ticket", &[("target", LOADING)]),
        // Fast burn (1h/5m windows) and slow burn (1d/2h): both see half the probes fail, and
        // the 10 probes a second pass the 100-probe volume guard within seconds.
        expect(
            "FluxProbeGenerateErrorBudgetBurn",
            "page",
            &[("target", ERRORS), ("probe", "trickle")],
        ),
        expect(
            "FluxProbeGenerateErrorBudgetBurn",
            "ticket",
            &[("target", ERRORS), ("probe", "trickle")],
        ),
        expect(
            "FluxProbeGenerateLatencyHigh",
            "ticket",
            &[("target", SLOW), ("probe", "trickle")],
        ),
        // Never a success since the prober started, and the last probe failed.
        expect(
            "FluxProbeNoRecentSuccess",
            "page",
            &[("target", DOWN), ("probe", "trickle")],
        ),
        // A burst with no success: below the absolute floor. No `for`: firing.
        expect(
            "FluxProbeThroughputDrop",
            "ticket",
            &[("target", DOWN), ("probe", DROP_BURST)],
        ),
        expect(
            "FluxProbeVramHigh",
            "warning",
            &[("target", LEAK), ("gpu", "0")],
        ),
        expect(
            "FluxProbeVramExhaustionPredicted",
            "ticket",
            &[("target", LEAK), ("gpu", "0")],
        ),
        expect("FluxProbeQueueSaturated", "warning", &[("target", QUEUE)]),
        expect(
            "FluxProbeProbesSkipped",
            "warning",
            &[
                ("target", STEADY),
                ("probe", LONG_BURST),
                ("reason", "overlap"),
            ],
        ),
        expect(
            "FluxProbeProbesSkipped",
            "warning",
            &[
                ("target", SLOW),
                ("probe", "trickle"),
                ("reason", "max_in_flight"),
            ],
        ),
        expect(
            "FluxProbeStatsScrapeFailing",
            "warning",
            &[("target", PARTIAL), ("endpoint", "model_status")],
        ),
        expect(
            "FluxProbeStatsScrapeFailing",
            "warning",
            &[("target", PARTIAL), ("endpoint", "gpu_info")],
        ),
        expect(
            "FluxProbeStatsScrapeFailing",
            "warning",
            &[("target", PARTIAL), ("endpoint", "queue_stats")],
        ),
        expect(
            "FluxProbeConfigReloadFailed",
            "ticket",
            &[("instance", daemon.as_str())],
        ),
        expect(
            "FluxProbeProberAbsent",
            "page",
            &[("instance", dead.as_str())],
        ),
    ]
}

/// Active at some point of the test (ALERTS keeps one sample per evaluation while an alert is
/// pending or firing; a pending state may last a single evaluation).
fn alert_query(e: &Expected) -> String {
    let mut m = format!(
        "alertname=\"{}\", alertstate=~\"pending|firing\", severity=\"{}\"",
        e.alert, e.severity
    );
    for (k, v) in &e.labels {
        m.push_str(&format!(", {k}=\"{v}\""));
    }
    format!("last_over_time(ALERTS{{{m}}}[10m])")
}

/// Which targets each alert is bound to: the fault of the target is its one cause. Alerts not
/// listed may also show up where a fault has side effects (the queue's rejections and the
/// leak's out-of-memory failures burn error budget too).
const ONLY_ON: &[(&str, &[&str])] = &[
    ("FluxProbeTargetDown", &[DOWN]),
    ("FluxProbeTargetNotReady", &[LOADING]),
    ("FluxProbeGenerateLatencyHigh", &[SLOW]),
    ("FluxProbeThroughputDrop", &[DOWN]),
    ("FluxProbeVramHigh", &[LEAK]),
    ("FluxProbeQueueSaturated", &[QUEUE]),
    ("FluxProbeStatsScrapeFailing", &[PARTIAL]),
];

/// Alerts the healthy STEADY target may raise: its own overlap skip, and the exhaustion
/// prediction, whose one-hour fit over a minute of samples follows the transient VRAM of each
/// generation (the rule's `for: 1h` is what keeps that from firing).
const STEADY_MAY_RAISE: &[&str] = &["FluxProbeProbesSkipped", "FluxProbeVramExhaustionPredicted"];

/// Queries every check still open, again and again, until each has returned a number once.
/// Panics after `limit` with what is still missing.
async fn wait_all(prom: &Prometheus, mut open: Vec<Check>, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let mut still = Vec::new();
        for mut c in open {
            match prom.query(&c.query).await {
                Ok(s) if s.iter().any(|x| !x.value.is_nan()) => continue,
                Ok(s) if s.is_empty() => c.last = "empty result".into(),
                Ok(s) => c.last = format!("{} series, every value NaN", s.len()),
                Err(e) => {
                    assert!(
                        !e.contains("parse error"),
                        "{}: Prometheus cannot parse {}: {e}",
                        c.what,
                        c.query
                    );
                    c.last = e;
                }
            }
            still.push(c);
        }
        open = still;
        if open.is_empty() {
            return;
        }
        if Instant::now() >= deadline {
            let missing: Vec<String> = open
                .iter()
                .map(|c| format!("- {} ({}): {}", c.what, c.last, c.query))
                .collect();
            panic!(
                "within {limit:?}, {} queries never returned data:\n{}\nPrometheus log:\n{}",
                open.len(),
                missing.join("\n"),
                prom.log()
            );
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The daemon, started from a file so that a reload can fail.
async fn start_daemon(dir: &std::path::Path, text: &str) -> (DaemonHandle, std::path::PathBuf) {
    let path = dir.join("fluxprobe.yml");
    std::fs::write(&path, text).unwrap();
    let cfg = config::load_file(&path).unwrap_or_else(|e| panic!("{e}"));
    let d = Daemon::start(cfg, Some("127.0.0.1:0".parse().unwrap()))
        .await
        .expect("start the daemon");
    (d, path)
}

/// alertname → the targets it was active for during the test.
async fn alerted_targets(prom: &Prometheus) -> BTreeMap<String, BTreeSet<String>> {
    let seen: Vec<Series> = prom
        .query("count by (alertname, target) (last_over_time(ALERTS{alertstate=~\"pending|firing\"}[10m]))")
        .await
        .expect("querying ALERTS");
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for s in seen {
        out.entry(s.label("alertname").to_string())
            .or_default()
            .insert(s.label("target").to_string());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboards_and_alerts_on_a_live_prometheus() {
    let Some(bin) = prometheus::binary() else {
        return;
    };
    let targets = Targets::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (daemon, config_path) = start_daemon(dir.path(), &targets.daemon_config(free_port())).await;
    let dead = free_port();
    let prom = Prometheus::start(&bin, &prometheus_config(daemon.addr(), dead));

    // Prometheus is up and has scraped the daemon once.
    wait_all(
        &prom,
        vec![Check::new(
            "the daemon scraped",
            format!(
                "up{{job=\"fluxprobe\", instance=\"{}\"}} == 1",
                daemon.addr()
            ),
        )],
        LIMIT,
    )
    .await;

    // Drive what only happens on demand: the VRAM leak, a long burst (seen running, then its results), the
    // same burst again while it runs (an overlap skip), a burst against the down target, and a
    // reload of a configuration file that has gone bad.
    targets.start_leak();
    daemon.trigger_burst(STEADY, LONG_BURST).unwrap();
    assert!(matches!(
        daemon.trigger_burst(STEADY, LONG_BURST),
        Err(BurstStartError::AlreadyRunning(..))
    ));
    daemon.trigger_burst(DOWN, DROP_BURST).unwrap();
    std::fs::write(&config_path, "targets: [this is not a target]\n").unwrap();
    assert!(daemon.reload().await.is_err(), "a bad file must not load");

    let expected = expected_alerts(daemon.addr(), dead);
    let mut checks = dashboard_checks();
    checks.extend(expected.iter().map(|e| {
        let labels: Vec<String> = e.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        Check::new(
            format!("alert {} ({}) {}", e.alert, e.severity, labels.join(" ")),
            alert_query(e),
        )
    }));
    let started = Instant::now();
    wait_all(&prom, checks, LIMIT).await;
    eprintln!(
        "every dashboard query returned data and {} alerts reached pending or firing after {:.1} s",
        expected.len(),
        started.elapsed().as_secs_f64()
    );

    // Each alert only where its cause is, and the healthy target quiet.
    let seen = alerted_targets(&prom).await;
    for (alert, only) in ONLY_ON {
        let want: BTreeSet<String> = only.iter().map(|t| t.to_string()).collect();
        assert_eq!(
            seen.get(*alert),
            Some(&want),
            "{alert} was active for other targets than its cause; all: {seen:?}"
        );
    }
    for (alert, on) in &seen {
        assert!(
            !on.contains(STEADY) || STEADY_MAY_RAISE.contains(&alert.as_str()),
            "{alert} was active for the healthy target {STEADY}"
        );
    }

    // Every rule evaluates on live data without error (a many-to-many match, say, would only
    // show here).
    let rules = prom.rules().await.expect("/api/v1/rules");
    assert!(
        rules.len() >= 30,
        "only {} rules loaded: {rules:?}",
        rules.len()
    );
    for r in &rules {
        assert!(
            r.health == "ok" && r.last_error.is_empty(),
            "rule {} of {}: health {:?}, error {:?}",
            r.name,
            r.group,
            r.health,
            r.last_error
        );
    }

    // The annotations of the alerts active now render (no template error, no missing value).
    let active = prom.alerts().await.expect("/api/v1/alerts");
    assert!(!active.is_empty());
    for a in &active {
        for key in ["summary", "description", "runbook_url"] {
            let text = a.annotations.get(key).map(String::as_str).unwrap_or("");
            assert!(
                !text.is_empty()
                    && !text.contains("error expanding template")
                    && !text.contains("<no value>"),
                "{} ({}) {key}: {text:?}",
                a.labels.get("alertname").map(String::as_str).unwrap_or("?"),
                a.state
            );
        }
    }

    drop(prom);
    daemon.shutdown().await;
    targets.shutdown().await;
}
