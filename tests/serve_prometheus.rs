//! A real Prometheus scrapes an in-process daemon probing the simulator; its HTTP API shows the
//! request rate, a median response time near the simulator's service time and the GPU memory in
//! bytes. `promtool check metrics` finds nothing to say about a scrape. Behind TLS and basic
//! auth, Prometheus scrapes with the CA and the password and fails with a wrong one.
//!
//! Needs the `prometheus` and `promtool` binaries (Debian package `prometheus`). Without them the
//! test is skipped with a reason, except under CI (env CI set), where it fails.

use fluxprobe::serve::web::WebOptions;
use fluxprobe::serve::{Daemon, DaemonOptions, config};
use fluxprobe::sim::{self, SimConfig};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

mod serve_support;
use serve_support::*;

fn which(bin: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(bin))
            .find(|p| p.is_file())
    })
}

/// The binaries, or None when the test must be skipped (never under CI).
fn tools() -> Option<(PathBuf, PathBuf)> {
    match (which("prometheus"), which("promtool")) {
        (Some(p), Some(t)) => Some((p, t)),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "prometheus/promtool not found on PATH under CI (apt-get install prometheus)"
            );
            eprintln!(
                "SKIPPED: prometheus or promtool is not installed (apt-get install --no-install-recommends prometheus)"
            );
            None
        }
    }
}

/// Kills Prometheus when dropped, whatever happened in the test.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The one job of a plain scrape of `scrape`.
fn plain_job(scrape: std::net::SocketAddr) -> String {
    format!("  - job_name: fluxprobe\n    static_configs:\n      - targets: ['{scrape}']\n")
}

/// Prometheus scraping every second with `jobs` (the items of `scrape_configs:`).
fn start_prometheus(bin: &Path, dir: &Path, jobs: &str) -> (KillOnDrop, std::net::SocketAddr) {
    let cfg = dir.join("prometheus.yml");
    std::fs::write(
        &cfg,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n{jobs}"
        ),
    )
    .unwrap();
    let addr = closed_port();
    let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
    let child = Command::new(bin)
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!("--web.listen-address={addr}"))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg("--log.level=warn")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start prometheus");
    (KillOnDrop(child), addr)
}

/// One instant query; the values of its vector result.
async fn query(prom: std::net::SocketAddr, q: &str) -> Vec<f64> {
    let mut url = url::Url::parse(&format!("http://{prom}/api/v1/query")).unwrap();
    url.query_pairs_mut().append_pair("query", q);
    let r = client().get(url).send().await;
    let Ok(r) = r else { return Vec::new() };
    let Ok(v) = r.json::<serde_json::Value>().await else {
        return Vec::new();
    };
    v["data"]["result"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s["value"][1].as_str()?.parse::<f64>().ok())
                .filter(|x| x.is_finite())
                .collect()
        })
        .unwrap_or_default()
}

async fn wait_query(prom: std::net::SocketAddr, q: &str, ok: impl Fn(f64) -> bool) -> f64 {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let v = query(prom, q).await;
        if let Some(x) = v.first().copied().filter(|x| ok(*x)) {
            return x;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "query {q} never satisfied; last {v:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_the_daemon() {
    let Some((prometheus, promtool)) = tools() else {
        return;
    };
    let scale = 0.1;
    let s = sim::start(
        SimConfig {
            time_scale: scale,
            blocking_status: false,
            ..SimConfig::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    // A trickle slower than the service time (no queueing), fine buckets around it.
    let cfg = config::parse(
        &format!(
            "buckets: [0.05, 0.1, 0.15, 0.17, 0.175, 0.18, 0.185, 0.19, 0.2, 0.22, 0.25, 0.3, 0.5, 1, 5]\ntargets:\n  - name: sim\n    url: {}\n    trickle: {{interval: 400ms}}\n    status_interval: 1s\n",
            s.base_url()
        ),
        "prom.yml",
        &|_| None,
    )
    .unwrap();
    let d = Daemon::start(cfg, Some("127.0.0.1:0".parse().unwrap()))
        .await
        .unwrap();

    // promtool has nothing to say about a scrape (once probes and scrapes have happened).
    wait_metrics(
        d.addr(),
        Duration::from_secs(20),
        "a success and a GPU",
        |x| {
            (value(
                x,
                "fluxprobe_probe_success",
                &[("target", "sim"), ("probe", "trickle")],
            )? == 1.0
                && value(x, "fluxprobe_target_gpus", &[("target", "sim")]).is_some())
            .then_some(())
        },
    )
    .await;
    let text = client()
        .get(format!("http://{}/metrics", d.addr()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut check = Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    check
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = check.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "promtool check metrics: {said}"
    );

    let dir = tempfile::tempdir().unwrap();
    let (_prom, prom) = start_prometheus(&prometheus, dir.path(), &plain_job(d.addr()));
    let rate = wait_query(
        prom,
        "sum(rate(fluxprobe_requests_total{target=\"sim\"}[1m]))",
        |x| x > 0.0,
    )
    .await;
    assert!(rate > 0.0);
    // Median response time near the service time: (1.72 + 0.08) × 0.1 s, generation up to 1 % slower.
    let t = &s.config().timing;
    let service = (t.generation_seconds + t.overhead_seconds) * scale;
    let q = "histogram_quantile(0.5, sum by (le) (rate(fluxprobe_request_duration_seconds_bucket{target=\"sim\",outcome=\"success\"}[1m])))";
    let p50 = wait_query(prom, q, |x| x > 0.0).await;
    eprintln!("Prometheus: request rate {rate:.3}/s, p50 {p50:.4} s, service time {service:.4} s");
    assert!(
        p50 >= service * 0.97 && p50 <= service * 1.25,
        "p50 {p50} vs service time {service}"
    );
    let want = s.gpu_memory()[0].total_bytes;
    let got = wait_query(
        prom,
        "fluxprobe_target_gpu_memory_total_bytes{target=\"sim\",gpu=\"0\"}",
        |x| x > 0.0,
    )
    .await;
    assert_eq!(got, want);
    d.shutdown().await;
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_over_tls_with_basic_auth() {
    let Some((prometheus, _)) = tools() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let tls = crate_path("tests/tls");
    let web = dir.path().join("web.yml");
    std::fs::write(
        &web,
        format!(
            "tls_server_config:\n  cert_file: {0}/server.pem\n  key_file: {0}/server.key\nbasic_auth_users:\n  prometheus: '{1}'\n",
            tls.display(),
            bcrypt::hash("scrape-secret", 4).unwrap()
        ),
    )
    .unwrap();
    let down = closed_port();
    let cfg = config::parse(
        &format!(
            "targets:\n  - name: t\n    url: http://{down}\n    trickle: {{interval: 200ms}}\n"
        ),
        "t.yml",
        &|_| None,
    )
    .unwrap();
    let d = Daemon::start_with(
        cfg,
        DaemonOptions {
            listen: Some("127.0.0.1:0".parse().unwrap()),
            web: WebOptions {
                config_file: Some(web),
                ..Default::default()
            },
        },
    )
    .await
    .unwrap();
    let job = |name: &str, password: &str| {
        format!(
            "  - job_name: {name}\n    scheme: https\n    tls_config:\n      ca_file: {}/ca.pem\n    basic_auth:\n      username: prometheus\n      password: {password}\n    static_configs:\n      - targets: ['{}']\n",
            tls.display(),
            d.addr()
        )
    };
    let jobs = format!("{}{}", job("good", "scrape-secret"), job("bad", "wrong"));
    let (_prom, prom) = start_prometheus(&prometheus, dir.path(), &jobs);
    let failed = wait_query(
        prom,
        "fluxprobe_request_failures_total{job=\"good\",target=\"t\",reason=\"connect\"}",
        |x| x > 0.0,
    )
    .await;
    assert!(failed > 0.0);
    assert_eq!(
        wait_query(prom, "up{job=\"good\"}", |x| x == 1.0).await,
        1.0
    );
    assert_eq!(
        wait_query(prom, "scrape_samples_scraped{job=\"bad\"}", |_| true).await,
        0.0
    );
    assert_eq!(query(prom, "up{job=\"bad\"}").await, vec![0.0]);
    d.shutdown().await;
}
