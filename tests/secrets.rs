//! A planted token, given everywhere a secret can be given — header values from the config
//! (through `${ENV}`) and from `--header`, URL credentials, URL query values, OTLP headers — and
//! echoed back by a server that quotes every request it gets, never reaches any output: logs at
//! debug level, reports, JSON and --json output, results files, charts, /metrics, the status
//! page, /api/v1/recent, reload answers, OTLP metrics and spans, check-config. Each output is
//! read whole and searched for the token.

mod hostile_support;
mod otlp_support;
mod serve_support;

use fluxprobe::sim::{self, SimConfig, SimHandle};
use hostile_support::{Hostile, HostileServer};
use otlp_support::{Received, collect_until, http_collector, spans};
use serve_support::{closed_port, get_status, post, sum, wait_metrics};
use std::process::{Command, Stdio};
use std::time::Duration;

const TOKEN: &str = "planted-7f3a9c1e5b";
const ENV: &str = "FLUXPROBE_PLANTED_TOKEN";
const BIN: &str = env!("CARGO_BIN_EXE_fluxprobe");

async fn simulator() -> SimHandle {
    sim::start(
        SimConfig {
            time_scale: 0.01,
            ..SimConfig::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap()
}

/// A base URL carrying the token as password and as a query value.
fn secret_url(addr: std::net::SocketAddr, token: &str) -> String {
    format!("http://fluxuser:{token}@{addr}/?api_key={token}")
}

/// Panics with where the token was found, and the text around it.
fn assert_clean(what: &str, text: &str) {
    if let Some(i) = text.find(TOKEN) {
        let from = text[..i]
            .char_indices()
            .rev()
            .nth(120)
            .map_or(0, |(j, _)| j);
        let to = (i + TOKEN.len() + 120).min(text.len());
        let to = (to..=text.len())
            .find(|&j| text.is_char_boundary(j))
            .unwrap_or(text.len());
        panic!(
            "the planted token leaked into {what}: …{}…",
            &text[from..to]
        );
    }
}

fn read(path: &std::path::Path) -> String {
    String::from_utf8_lossy(&std::fs::read(path).unwrap_or_default()).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_keeps_a_planted_token_out_of_every_output() {
    let sim = simulator().await;
    let echo = HostileServer::start(Hostile::EchoRequest).await;
    let (collector, mut inbox) = http_collector().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("fluxprobe.yml");
    let headers = format!(
        "    headers:\n      Authorization: Bearer ${{{ENV}}}\n      X-Api-Key: ${{{ENV}}}\n"
    );
    let target = |name: &str, addr| {
        format!(
            "  - name: {name}\n    url: {}\n{headers}",
            secret_url(addr, &format!("${{{ENV}}}"))
        )
    };
    std::fs::write(
        &config,
        format!(
            "grace_period: 1s
otlp:
  endpoint: {collector}
  interval: 500ms
  timeout: 2s
  headers:
    authorization: Bearer ${{{ENV}}}
defaults:
  timeout: 5s
  status_interval: 300ms
  trickle: {{interval: 100ms}}
targets:
{}{}{}",
            target("sim", sim.addr()),
            target("echo", echo.addr),
            target("down", closed_port()),
        ),
    )
    .unwrap();
    let log = dir.path().join("serve.log");
    let listen = closed_port();
    let mut child = Command::new(BIN)
        .args(["--log", "debug", "serve", "--config"])
        .arg(&config)
        .args(["--listen", &listen.to_string(), "--web.enable-lifecycle"])
        .env(ENV, TOKEN)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(dir.path().join("serve.out")).unwrap())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();

    // Every target probed a few times, and the echo target's answers (which quote the token)
    // counted as failures.
    wait_metrics(
        listen,
        Duration::from_secs(60),
        "every target probed",
        |s| {
            let probed = ["sim", "echo", "down"]
                .iter()
                .all(|t| sum(s, "fluxprobe_requests_total", &[("target", t)]) >= 3.0);
            let echoed = sum(
                s,
                "fluxprobe_request_failures_total",
                &[("target", "echo"), ("reason", "http_5xx")],
            ) >= 2.0;
            (probed && echoed).then_some(())
        },
    )
    .await;
    let received = collect_until(&mut inbox, |got| {
        let has_metrics = got.iter().any(|r| matches!(r, Received::Metrics(_)));
        has_metrics && spans(got).len() >= 6
    })
    .await;

    let client = reqwest::Client::new();
    let mut outputs: Vec<(String, String)> = Vec::new();
    for path in ["/metrics", "/", "/api/v1/recent", "/-/ready", "/-/healthy"] {
        let body = client
            .get(format!("http://{listen}{path}"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        outputs.push((format!("GET {path}"), body));
    }
    let (status, reload) = post(listen, "/-/reload").await;
    assert_eq!(status, 200, "{reload}");
    outputs.push(("POST /-/reload".into(), reload));
    outputs.push(("OTLP requests".into(), format!("{received:?}")));
    let check = Command::new(BIN)
        .args(["check-config"])
        .arg(&config)
        .env(ENV, TOKEN)
        .output()
        .unwrap();
    assert_eq!(check.status.code(), Some(0));
    outputs.push((
        "check-config".into(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&check.stdout),
            String::from_utf8_lossy(&check.stderr)
        ),
    ));

    assert!(
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let exited = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::task::spawn_blocking(move || child.wait()),
    )
    .await
    .expect("the daemon exits on SIGTERM");
    assert!(exited.unwrap().unwrap().success());
    outputs.push(("the daemon's log".into(), read(&log)));
    outputs.push((
        "the daemon's stdout".into(),
        read(&dir.path().join("serve.out")),
    ));

    // The echo was seen, and shown redacted: the test did put the token in front of the
    // daemon's outputs.
    let recent = &outputs[2].1;
    assert!(recent.contains("<redacted>"), "{recent}");
    for (what, text) in &outputs {
        assert_clean(what, text);
    }
    assert_eq!(
        get_status(listen, "/-/healthy").await,
        0,
        "the daemon is gone"
    );
    sim.shutdown().await;
}

#[test]
fn bench_keeps_a_planted_token_out_of_every_output() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = rt.block_on(simulator());
    let echo = rt.block_on(HostileServer::start(Hostile::EchoRequest));
    let dir = tempfile::tempdir().unwrap();
    let header = format!("Authorization: Bearer {TOKEN}");
    let mut outputs: Vec<(String, String)> = Vec::new();
    for (name, addr) in [("sim", sim.addr()), ("echo", echo.addr)] {
        let saved = dir.path().join(format!("{name}.json"));
        let chart = dir.path().join(format!("{name}.svg"));
        let url = secret_url(addr, TOKEN);
        let run = |extra: &[&str]| {
            Command::new(BIN)
                .args([
                    "--log", "debug", "bench", "--url", &url, "--header", &header,
                ])
                .args(["--requests", "4", "--concurrent", "2", "--timeout", "5s"])
                .args(extra)
                .output()
                .unwrap()
        };
        let out = run(&[
            "--test-type",
            "both",
            "--save",
            saved.to_str().unwrap(),
            "--plot",
            chart.to_str().unwrap(),
        ]);
        assert!(
            matches!(out.status.code(), Some(0)),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        outputs.push((
            format!("{name}: report"),
            String::from_utf8_lossy(&out.stdout).into(),
        ));
        outputs.push((
            format!("{name}: log"),
            String::from_utf8_lossy(&out.stderr).into(),
        ));
        outputs.push((format!("{name}: results file"), read(&saved)));
        outputs.push((format!("{name}: chart"), read(&chart)));
        let json = run(&["--json"]);
        outputs.push((
            format!("{name}: --json"),
            String::from_utf8_lossy(&json.stdout).into(),
        ));
        outputs.push((
            format!("{name}: --json log"),
            String::from_utf8_lossy(&json.stderr).into(),
        ));
        let report = Command::new(BIN)
            .arg("report")
            .arg(&saved)
            .output()
            .unwrap();
        outputs.push((
            format!("{name}: report of the file"),
            String::from_utf8_lossy(&report.stdout).into(),
        ));
    }
    // The echo target's failures were reported, redacted.
    let echo_file = &outputs
        .iter()
        .find(|(w, _)| w == "echo: results file")
        .unwrap()
        .1;
    assert!(echo_file.contains("<redacted>"), "{echo_file}");
    for (what, text) in &outputs {
        assert_clean(what, text);
    }
    rt.block_on(sim.shutdown());
}
