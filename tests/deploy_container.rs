//! The container's command lines, run without a container engine: the image's ENTRYPOINT + CMD
//! with the compose service's environment, and the Kubernetes container's args, each with its
//! own configuration file adapted to a free port and a local simulator (started with the compose
//! simulator's command line); then the image's HEALTHCHECK command line and every HTTP path the
//! deployment files name (probes, scrape paths) against the running daemon.

mod deploy_support;

use deploy_support::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_fluxprobe");
/// Bound on waiting for a process to announce its address, or for the daemon to become ready.
const WAIT: Duration = Duration::from_secs(60);

/// A child process, killed when dropped (also when a test fails).
struct Proc {
    child: Child,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `argv` (argv[0] mapped to the built binary) and waits for the first stderr line for
/// which `find` returns a value. The rest of stderr is drained in the background.
fn spawn_and_find(
    what: &'static str,
    args: &[String],
    env: &BTreeMap<String, String>,
    find: fn(&str) -> Option<String>,
) -> (Proc, String) {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_remove("FLUXPROBE_CONFIG")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut found = false;
        let mut seen = Vec::new();
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if !found {
                if let Some(v) = find(&line) {
                    found = true;
                    let _ = tx.send(Ok(v));
                } else {
                    seen.push(line);
                }
            }
        }
        if !found {
            let _ = tx.send(Err(seen.join("\n")));
        }
    });
    let proc = Proc { child };
    match rx.recv_timeout(WAIT) {
        Ok(Ok(v)) => (proc, v),
        Ok(Err(log)) => panic!("{what} exited before it was listening:\n{log}"),
        Err(_) => panic!("{what} did not announce its address in {WAIT:?}"),
    }
}

/// `http://HOST:PORT` out of a log line.
fn http_base(line: &str) -> Option<String> {
    let start = line.find("http://")?;
    let rest = &line[start..];
    let end = rest[7..]
        .find(|c: char| c == '/' || c.is_whitespace())
        .map_or(rest.len(), |e| e + 7);
    Some(rest[..end].to_string())
}

/// The compose simulator's command line, listening on a free loopback port at time scale 0.
fn start_simulator() -> (Proc, String) {
    let compose = yaml("deploy/compose/compose.yaml");
    let mut args = strings(&compose["services"]["simulator"]["command"], "simulator");
    for (flag, value) in [("--listen", "127.0.0.1:0"), ("--time-scale", "0")] {
        let i = args
            .iter()
            .position(|a| a == flag)
            .unwrap_or_else(|| panic!("the simulator command sets no {flag}"));
        args[i + 1] = value.to_string();
    }
    spawn_and_find("simulator", &args, &BTreeMap::new(), |l| {
        l.contains("listening on").then(|| http_base(l)).flatten()
    })
}

/// A configuration file with `listen` on a free loopback port and every target at `sim`,
/// written as JSON (which YAML reads) into `dir`.
fn adapted_config(rel: &str, sim: &str, dir: &Path) -> PathBuf {
    let mut cfg = yaml(rel);
    cfg["listen"] = Value::from("127.0.0.1:0");
    for t in cfg["targets"].as_array_mut().expect("targets") {
        t["url"] = Value::from(sim);
    }
    let out = dir.join("fluxprobe.yml");
    std::fs::write(&out, serde_json::to_string_pretty(&cfg).unwrap()).unwrap();
    out
}

/// Starts the daemon; returns it and `http://ADDR`.
fn start_daemon(args: &[String], env: &BTreeMap<String, String>) -> (Proc, String) {
    spawn_and_find("fluxprobe serve", args, env, |l| {
        l.contains("metrics at").then(|| http_base(l)).flatten()
    })
}

/// Runs an image command line (argv[0] is the binary's path in the image).
fn run_image_command(image_binary: &str, argv: &[String]) -> std::process::Output {
    assert_eq!(argv[0], image_binary, "{argv:?} runs another program");
    Command::new(BIN)
        .args(&argv[1..])
        .stdin(Stdio::null())
        .output()
        .expect("runs")
}

async fn status(url: &str) -> Option<(u16, String)> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let r = client.get(url).send().await.ok()?;
    let code = r.status().as_u16();
    Some((code, r.text().await.unwrap_or_default()))
}

/// Polls `url` until it answers 200, within [`WAIT`].
async fn until_ok(url: &str) -> String {
    tokio::time::timeout(WAIT, async {
        loop {
            if let Some((200, body)) = status(url).await {
                return body;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{url} did not answer 200 within {WAIT:?}"))
}

/// The HTTP paths the deployment files point at the daemon, with what each must answer.
fn named_paths() -> Vec<(&'static str, String)> {
    let dep = yaml("deploy/kubernetes/prober/deployment.yaml");
    let c = &dep["spec"]["template"]["spec"]["containers"][0];
    let sm = yaml("deploy/kubernetes/monitoring/servicemonitor.yaml");
    let prom = yaml("deploy/compose/prometheus/prometheus.yml");
    let job = array_at(&prom, "/scrape_configs", "prometheus.yml")
        .iter()
        .find(|j| j["job_name"] == "fluxprobe")
        .expect("fluxprobe job");
    vec![
        (
            "livenessProbe",
            str_at(c, "/livenessProbe/httpGet/path", "deployment").to_string(),
        ),
        (
            "readinessProbe",
            str_at(c, "/readinessProbe/httpGet/path", "deployment").to_string(),
        ),
        (
            "ServiceMonitor",
            str_at(&sm, "/spec/endpoints/0/path", "servicemonitor").to_string(),
        ),
        (
            "Prometheus scrape",
            job.get("metrics_path")
                .and_then(Value::as_str)
                .unwrap_or("/metrics")
                .to_string(),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_image_command_line_serves_and_passes_its_healthcheck() {
    let d = Dockerfile::load();
    let entry = d.exec_form("ENTRYPOINT");
    let cmd = d.exec_form("CMD");
    let (_, healthcheck) = d.healthcheck();

    // The container's environment: the image's ENV, then the compose service's.
    let compose = yaml("deploy/compose/compose.yaml");
    let svc = &compose["services"]["fluxprobe"];
    let mut env = d.runtime().env();
    env.extend(environment(svc));

    // The mounted configuration, adapted; its container path is replaced by the adapted file.
    let (_sim, sim_url) = start_simulator();
    let dir = tempfile::tempdir().unwrap();
    let var = cli_env("serve", "config").expect("serve --config reads an environment variable");
    let container_path = env[&var].clone();
    let m = mounts(svc, "fluxprobe")
        .into_iter()
        .find(|m| m.target == container_path)
        .unwrap_or_else(|| panic!("nothing mounted at {container_path}"));
    let file = adapted_config(&format!("{COMPOSE_DIR}/{}", m.source), &sim_url, dir.path());
    env.insert(var, file.to_string_lossy().into_owned());

    // ENTRYPOINT + CMD, exactly.
    let argv: Vec<String> = entry.iter().chain(&cmd).cloned().collect();
    assert_eq!(argv[0], entry[0]);
    let (daemon, base) = start_daemon(&argv[1..], &env);

    // The HEALTHCHECK command line, pointed at this daemon's port (the image's daemon listens on
    // the default port the check asks by default; tests/deploy_drift.rs compares the two).
    let mut hc = healthcheck.clone();
    hc.extend(["--url".to_string(), base.clone()]);
    let out = run_image_command(&entry[0], &hc);
    assert!(
        out.status.success(),
        "HEALTHCHECK failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (code, _) = status(&format!("{base}/-/healthy")).await.expect("answers");
    assert_eq!(code, 200);

    // Every path the deployment files name is served, once the daemon is ready.
    let paths = named_paths();
    let (_, readiness) = paths.iter().find(|(w, _)| *w == "readinessProbe").unwrap();
    until_ok(&format!("{base}{readiness}")).await;
    for (what, path) in &paths {
        let (code, body) = status(&format!("{base}{path}")).await.expect("answers");
        assert_eq!(code, 200, "{what} {path}");
        if what.contains("Prometheus") || what.contains("ServiceMonitor") {
            assert!(body.contains("fluxprobe_build_info"), "{what} {path}");
        }
    }

    // Once the daemon is gone, the same check fails.
    drop(daemon);
    let out = run_image_command(&entry[0], &hc);
    assert!(!out.status.success(), "HEALTHCHECK passes with no daemon");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kubernetes_command_line_answers_its_probes_and_scrapes() {
    let dep = yaml("deploy/kubernetes/prober/deployment.yaml");
    let c = &dep["spec"]["template"]["spec"]["containers"][0];
    let mut args = strings(&c["args"], "args");
    // The image's ENV, then the container's env (which wins, as in Kubernetes).
    let mut env = Dockerfile::load().runtime().env();
    for e in array_at(c, "/env", "container") {
        env.insert(
            str_at(e, "/name", "env").to_string(),
            str_at(e, "/value", "env").to_string(),
        );
    }

    // --config PATH: PATH is the ConfigMap's file (tests/deploy_drift.rs checks the mount);
    // run with that file adapted.
    let (_sim, sim_url) = start_simulator();
    let dir = tempfile::tempdir().unwrap();
    let i = args
        .iter()
        .position(|a| a == "--config")
        .expect("args name --config");
    let file = adapted_config(
        "deploy/kubernetes/prober/fluxprobe.yml",
        &sim_url,
        dir.path(),
    );
    args[i + 1] = file.to_string_lossy().into_owned();
    let (_daemon, base) = start_daemon(&args, &env);

    let liveness = str_at(c, "/livenessProbe/httpGet/path", "deployment");
    let readiness = str_at(c, "/readinessProbe/httpGet/path", "deployment");
    assert_eq!(
        status(&format!("{base}{liveness}")).await.map(|s| s.0),
        Some(200)
    );
    until_ok(&format!("{base}{readiness}")).await;

    // Every configured target gets scraped and shows as up on the ServiceMonitor's path.
    let sm = yaml("deploy/kubernetes/monitoring/servicemonitor.yaml");
    let path = str_at(&sm, "/spec/endpoints/0/path", "servicemonitor");
    let cfg = yaml("deploy/kubernetes/prober/fluxprobe.yml");
    let wanted: Vec<String> = array_at(&cfg, "/targets", "config")
        .iter()
        .map(|t| {
            format!(
                "fluxprobe_target_up{{target=\"{}\"}} 1",
                str_at(t, "/name", "target")
            )
        })
        .collect();
    let url = format!("{base}{path}");
    let all_up = tokio::time::timeout(WAIT, async {
        loop {
            if let Some((200, body)) = status(&url).await
                && wanted.iter().all(|w| body.contains(w.as_str()))
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(all_up.is_ok(), "{url} never showed {wanted:?}");
}

#[test]
fn http_base_finds_the_address_in_log_lines() {
    assert_eq!(
        http_base("fluxprobe serve: metrics at http://127.0.0.1:4242/metrics").as_deref(),
        Some("http://127.0.0.1:4242")
    );
    assert_eq!(
        http_base("INFO sim: listening on http://127.0.0.1:8000/ now").as_deref(),
        Some("http://127.0.0.1:8000")
    );
    assert_eq!(http_base("no address here"), None);
}
