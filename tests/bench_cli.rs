//! `fluxprobe bench` as a user runs it: Ctrl-C mid-run still leaves a complete results file,
//! a second Ctrl-C stops at once, charts and JSON are written, objectives set the exit code,
//! an unreachable target is exit 4, and header values never reach any output.

use fluxprobe::sim::{self, Faults, SimConfig, SimHandle};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_fluxprobe");

fn bench(args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .arg("bench")
        .args(args)
        .output()
        .expect("the binary runs")
}

/// Starts the binary with stderr read line by line on a thread.
fn spawn(args: &[&str]) -> (Child, mpsc::Receiver<String>) {
    let mut child = Command::new(BIN)
        .arg("bench")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// Waits (bounded) for a stderr line containing `needle`.
fn wait_for_line(rx: &mpsc::Receiver<String>, needle: &str) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.contains(needle) => return line,
            Ok(_) => continue,
            Err(e) => panic!("no line containing {needle:?}: {e}"),
        }
    }
}

fn interrupt(child: &Child) {
    let ok = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -INT failed");
}

/// Waits (bounded) for the process to end and returns its exit code.
fn wait_exit(child: &mut Child) -> i32 {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().expect("exited normally");
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the process did not exit"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn read_json(path: &std::path::Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("results file exists"))
        .expect("valid JSON")
}

#[test]
fn ctrl_c_mid_run_keeps_what_was_measured() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("run.json");
    let (mut child, rx) = spawn(&[
        "--simulate",
        "--sim-time-scale",
        "0.02",
        "--requests",
        "200",
        "--concurrent",
        "2",
        "--save",
        file.to_str().unwrap(),
    ]);
    // Interrupt once some requests have finished (the first progress line).
    wait_for_line(&rx, "finished");
    interrupt(&child);
    assert_eq!(wait_exit(&mut child), 130);
    let json = read_json(&file);
    assert_eq!(json["interrupted"], Value::Bool(true));
    let results = json["test_results"].as_array().unwrap();
    assert!(
        !results.is_empty() && results.len() < 200,
        "{} records",
        results.len()
    );
    let not_started = json["summary"]["concurrent"]["not_started"]
        .as_u64()
        .expect("not_started in the summary");
    assert_eq!(
        results.len() as u64 + not_started,
        200,
        "every planned request is accounted for"
    );
    // The in-flight requests had their grace: they finished, none were dropped.
    assert!(results.iter().all(|r| r["success"] == Value::Bool(true)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_ctrl_c_stops_at_once_and_the_file_is_still_valid() {
    let sim: SimHandle = sim::start(
        SimConfig {
            time_scale: 0.0,
            faults: Faults {
                hang_rate: 1.0,
                ..Faults::default()
            },
            ..SimConfig::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("run.json");
    let url = sim.base_url().to_string();
    let (mut child, rx) = spawn(&[
        "--url",
        &url,
        "--requests",
        "10",
        "--concurrent",
        "2",
        "--grace",
        "1h",
        "--no-status",
        "--save",
        file.to_str().unwrap(),
    ]);
    // Both requests in flight hang: wait until the simulator holds them.
    tokio::time::timeout(Duration::from_secs(30), async {
        while sim.stats().hung < 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("two hung requests");
    interrupt(&child);
    wait_for_line(&rx, "interrupted");
    interrupt(&child);
    let code = tokio::task::spawn_blocking(move || wait_exit(&mut child))
        .await
        .unwrap();
    assert_eq!(code, 130);
    let json = read_json(&file);
    assert_eq!(json["interrupted"], Value::Bool(true));
    let results = json["test_results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    assert!(
        results.iter().all(|r| r["outcome"] == "aborted"),
        "{results:?}"
    );
    assert_eq!(
        json["summary"]["concurrent"]["not_started"].as_u64(),
        Some(8)
    );
    sim.shutdown().await;
}

#[test]
fn charts_json_and_a_passing_objective() {
    let dir = tempfile::tempdir().unwrap();
    for ext in ["png", "svg"] {
        let chart = dir.path().join(format!("chart.{ext}"));
        let out = bench(&[
            "--simulate",
            "--sim-time-scale",
            "0",
            "--requests",
            "20",
            "--concurrent",
            "4",
            "--plot",
            chart.to_str().unwrap(),
            "--json",
            "--slo",
            "success>=0.99",
        ]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let size = std::fs::metadata(&chart).unwrap().len();
        assert!(size > 20_000, "{ext} chart is only {size} bytes");
        let summary: Value = serde_json::from_slice(&out.stdout).expect("--json prints JSON only");
        assert_eq!(summary["slo_verdict"], "PASS");
    }
}

/// One simulated GPU at 36 ms per image takes about 28 requests/s; 60/s for 10 s overloads it.
/// The run stops sending once requests in flight and response times keep rising, waits for
/// what is in flight, and says why, with the unsent requests counted apart from failures.
#[test]
fn stop_on_saturation_ends_an_overloaded_run_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("run.json");
    let out = bench(&[
        "--simulate",
        "--sim-time-scale",
        "0.02",
        "--rate",
        "60",
        "--duration",
        "10s",
        "--stop-on-saturation",
        "--save",
        file.to_str().unwrap(),
    ]);
    let report = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{report}");
    let v = read_json(&file);
    let s = &v["summary"]["concurrent"];
    let n = |k: &str| s[k].as_u64().unwrap_or_else(|| panic!("{k} in {s}"));
    assert_eq!(n("total") + n("skipped") + n("not_started"), 600, "{s}");
    assert!(n("not_started") > 0, "{s}");
    assert_eq!(n("failed"), 0, "what was in flight is waited for: {s}");
    let why = s["stopped_early"].as_str().expect("a reason");
    assert!(
        why.starts_with("saturation: requests in flight rose"),
        "{why}"
    );
    assert!(
        report.contains("⚠️  Saturation: requests in flight rose"),
        "{report}"
    );
    assert!(
        report.contains(&format!(
            "⏹  Stopped early ({} never sent); when it stopped, the run saw {why}\n",
            n("not_started")
        )),
        "{report}"
    );
    assert!(report.contains(&format!("⏸  Not started: {} (never sent", n("not_started"))));
    assert!(!report.contains("❌ Failures by reason"), "{report}");
}

#[test]
fn lang_zh_also_speaks_chinese_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("run.json");
    let out = bench(&[
        "--simulate",
        "--sim-time-scale",
        "0",
        "--requests",
        "3",
        "--warmup",
        "1",
        "--lang",
        "zh",
        "--save",
        file.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(" (模拟 API)\n"), "{err}");
    assert!(err.contains("🔍 检查系统状态 …\n"), "{err}");
    assert!(
        err.contains("▶  concurrent 测试: 3 请求, 3 并发 (+1 预热)\n"),
        "{err}"
    );
    assert!(
        err.contains(&format!("💾 结果已保存到 {}", file.display())),
        "{err}"
    );
}

#[test]
fn a_missed_objective_is_exit_3() {
    let out = bench(&[
        "--simulate",
        "--sim-time-scale",
        "0.01",
        "--requests",
        "6",
        "--concurrent",
        "3",
        "--slo",
        "max<1ms",
    ]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("FAIL"));
}

#[test]
fn an_unreachable_target_is_exit_4_and_headers_stay_secret() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("run.json");
    let secret = "s3cr3t-token-4c1d";
    let out = bench(&[
        "--url",
        &format!("http://user:{secret}@127.0.0.1:{port}"),
        "--requests",
        "3",
        "--header",
        &format!("Authorization: Bearer {secret}"),
        "--save",
        file.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let everything = format!(
        "{}{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(&file).unwrap()
    );
    assert!(!everything.contains(secret), "the secret leaked");
    assert!(
        everything.contains("Authorization"),
        "the header name is recorded"
    );
}

#[test]
fn usage_errors_are_exit_2() {
    assert_eq!(bench(&["--concurrent", "0"]).status.code(), Some(2));
    assert_eq!(bench(&["--slo", "p95 <<< soon"]).status.code(), Some(2));
    assert_eq!(bench(&["--url", "not a url"]).status.code(), Some(2));
}

#[test]
fn a_bad_results_or_chart_path_is_refused_before_any_request() {
    for (args, needle) in [
        (["--save", "/nonexistent/dir/x.json"], "does not exist"),
        (["--plot", "chart.jpg"], "--plot"),
    ] {
        let out = bench(&[&["--simulate", "--sim-time-scale", "0"][..], &args[..]].concat());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert!(
            !stderr.contains("▶"),
            "{args:?}: a test phase started: {stderr}"
        );
    }
}
