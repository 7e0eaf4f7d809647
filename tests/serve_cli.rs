//! The `serve` and `healthcheck` commands as a user runs them: serve a configuration file,
//! reload it on SIGHUP, stop on SIGTERM with exit 0; healthcheck exits 0 against a running
//! daemon and 1 when nothing answers.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

mod serve_support;
use serve_support::*;

/// Kills the daemon when dropped, whatever happened in the test.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "kill {sig} failed");
}

fn healthcheck(url: &str) -> Option<i32> {
    Command::new(assert_cmd::cargo::cargo_bin("fluxprobe"))
        .args(["healthcheck", "--url", url, "--timeout", "2s"])
        .output()
        .unwrap()
        .status
        .code()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_reloads_on_sighup_and_stops_on_sigterm() {
    let down = closed_port();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fluxprobe.yml");
    let target = |name: &str| {
        format!(
            "  - name: {name}\n    url: http://{down}\n    trickle: {{interval: 50ms}}\n    status_interval: 200ms\n"
        )
    };
    std::fs::write(
        &path,
        format!("grace_period: 1s\ntargets:\n{}", target("first")),
    )
    .unwrap();
    let listen = closed_port();
    let mut child = KillOnDrop(
        Command::new(assert_cmd::cargo::cargo_bin("fluxprobe"))
            .args([
                "serve",
                "--config",
                path.to_str().unwrap(),
                "--listen",
                &listen.to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_until(Duration::from_secs(30), "daemon healthy", || async {
        get_status(listen, "/-/healthy").await == 200
    })
    .await;
    assert_eq!(healthcheck(&format!("http://{listen}")), Some(0));
    wait_metrics(listen, Duration::from_secs(30), "first probed", |s| {
        value(
            s,
            "fluxprobe_requests_total",
            &[("target", "first"), ("probe", "trickle")],
        )
        .filter(|v| *v >= 1.0)
    })
    .await;

    std::fs::write(
        &path,
        format!("grace_period: 1s\ntargets:\n{}", target("second")),
    )
    .unwrap();
    signal(&child.0, "-HUP");
    let (_, s) = wait_metrics(
        listen,
        Duration::from_secs(30),
        "second probed after SIGHUP",
        |s| {
            value(
                s,
                "fluxprobe_requests_total",
                &[("target", "second"), ("probe", "trickle")],
            )
            .filter(|v| *v >= 1.0)
        },
    )
    .await;
    assert!(find(&s, "fluxprobe_requests_total", &[("target", "first")]).is_empty());

    signal(&child.0, "-TERM");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(st) = child.0.try_wait().unwrap() {
            break st;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "serve did not stop on SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status.code(), Some(0));
    assert_eq!(healthcheck(&format!("http://{listen}")), Some(1));
}

/// A container runtime reads only 0 and 1 (Docker reserves 2): every failure is 1, a mistake
/// in the command included, and the message names what was asked.
#[test]
fn healthcheck_fails_with_1_and_says_where_it_asked() {
    let run = |args: &[&str], env: Option<&str>| {
        let mut c = Command::new(assert_cmd::cargo::cargo_bin("fluxprobe"));
        c.arg("healthcheck").args(args);
        c.env_remove("FLUXPROBE_HEALTHCHECK_PASSWORD");
        c.env_remove("FLUXPROBE_HEALTHCHECK_USER");
        if let Some(p) = env {
            c.env("FLUXPROBE_HEALTHCHECK_PASSWORD", p);
        }
        let out = c.output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let url = format!("http://{}", closed_port());
    let (code, err) = run(&["--url", &url, "--timeout", "2s"], None);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "no answer from the daemon at {url}/-/healthy: connection failed"
        )),
        "{err}"
    );
    let (code, err) = run(&["--url", "localhost:9464"], None);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("is not an http:// URL"), "{err}");
    let (code, err) = run(&["--url", &url, "--user", "ops"], None);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("FLUXPROBE_HEALTHCHECK_PASSWORD is not set"),
        "{err}"
    );
}

#[test]
fn serve_with_a_bad_configuration_exits_2_with_the_position() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yml");
    std::fs::write(
        &path,
        "targets:\n  - name: a\n    url: http://127.0.0.1:1\n    trickle: {interval: 0s}\n",
    )
    .unwrap();
    let out = Command::new(assert_cmd::cargo::cargo_bin("fluxprobe"))
        .args(["serve", "--config", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with(&format!("{}:4:", path.display())),
        "{stderr}"
    );
    let out = Command::new(assert_cmd::cargo::cargo_bin("fluxprobe"))
        .args(["serve"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_simulate_probes_the_built_in_simulator() {
    let listen = closed_port();
    let mut child = KillOnDrop(
        Command::new(assert_cmd::cargo::cargo_bin("fluxprobe"))
            .args(["serve", "--simulate", "--listen", &listen.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let (_, s) = wait_metrics(listen, Duration::from_secs(30), "the simulated GPU", |s| {
        value(s, "fluxprobe_target_gpus", &[("target", "simulated")]).filter(|g| *g == 1.0)
    })
    .await;
    assert_eq!(
        value(&s, "fluxprobe_target_ready", &[("target", "simulated")]),
        Some(1.0)
    );
    assert_eq!(
        find(
            &s,
            "fluxprobe_request_failures_total",
            &[("target", "simulated"), ("probe", "every-5m")]
        )
        .len(),
        12
    );
    signal(&child.0, "-TERM");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(st) = child.0.try_wait().unwrap() {
            break st;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "serve --simulate did not stop on SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status.code(), Some(0));
}
