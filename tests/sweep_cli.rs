//! `fluxprobe sweep` as a user runs it: no sweep chosen is a usage error, a rate sweep writes
//! its table, JSON and chart, a search that finds no passing rate exits 3, and Ctrl-C stops
//! the sweep with the points measured so far reported and saved (exit 130), and a target that
//! cannot be reached stops the sweep after its first point (exit 4).

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_fluxprobe");

fn sweep(args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .arg("sweep")
        .args(args)
        .output()
        .expect("the binary runs")
}

#[test]
fn a_sweep_must_be_chosen() {
    let out = sweep(&["--simulate", "--sim-time-scale", "0"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--concurrency auto|LIST"), "{err}");
    // Clap refuses two sweeps at once.
    let out = sweep(&["--simulate", "--concurrency", "auto", "--rates", "auto"]);
    assert_eq!(out.status.code(), Some(2));
    // A chart of an unknown type is refused before anything runs.
    let out = sweep(&["--simulate", "--concurrency", "1", "--plot", "x.gif"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn bench_only_options_are_refused_before_the_banner() {
    for (args, says) in [
        (
            &["--simulate", "--rates", "auto", "--concurrent", "5"][..],
            "--concurrent",
        ),
        (
            &["--simulate", "--concurrency", "auto", "--rate", "2"][..],
            "--rate",
        ),
        (
            &["--simulate", "--concurrency", "1", "--points", "0"][..],
            "--points",
        ),
    ] {
        let out = sweep(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(!err.contains("🚀"), "banner before a usage error: {err}");
    }
}

#[test]
fn an_unreachable_target_stops_the_sweep_after_one_point() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let out = sweep(&[
        "--url",
        &url,
        "--concurrency",
        "1,2,4",
        "--requests",
        "3",
        "--no-status",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(4));
    let v: Value = serde_json::from_slice(&out.stdout).expect("--json prints JSON");
    assert_eq!(v["points"].as_array().map(Vec::len), Some(1), "{v}");
    assert!(v.to_string().contains("could not be reached"), "{v}");
}

#[test]
fn a_rate_sweep_writes_table_json_and_chart() {
    let dir = tempfile::tempdir().unwrap();
    let save = dir.path().join("sweep.json");
    let plot = dir.path().join("sweep.png");
    let out = sweep(&[
        "--simulate",
        "--sim-gpus",
        "2",
        "--sim-time-scale",
        "0.05",
        "--rates",
        "auto",
        "--points",
        "3",
        "--duration",
        "1s",
        "--slo",
        "p50<0.5s",
        "--save",
        save.to_str().unwrap(),
        "--plot",
        plot.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&save).unwrap()).unwrap();
    assert_eq!(printed, saved);
    assert_eq!(saved["kind"], "sweep");
    assert_eq!(saved["sweep"], "rates");
    // `fluxprobe report` reads bench results and says so of a sweep file.
    let report = Command::new(BIN).arg("report").arg(&save).output().unwrap();
    assert_eq!(report.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&report.stderr).contains("holds a sweep"));
    assert!(saved["fluxprobe"]["version"].is_string());
    assert_eq!(saved["fluxprobe"]["schema_version"], 1);
    let points = saved["points"].as_array().unwrap();
    // The concurrency stage (1, 2, 4 on two GPUs: the knee is 2), then three rates.
    let stages: Vec<&str> = points
        .iter()
        .map(|p| p["stage"].as_str().unwrap())
        .collect();
    assert_eq!(
        stages,
        vec![
            "concurrency",
            "concurrency",
            "concurrency",
            "rate",
            "rate",
            "rate"
        ]
    );
    let single = saved["single_stream_rps"].as_f64().unwrap();
    let sat = saved["saturated_rps"].as_f64().unwrap();
    let rates: Vec<f64> = points[3..]
        .iter()
        .map(|p| p["offered"]["rate"].as_f64().unwrap())
        .collect();
    let expected = [single, (single + sat) / 2.0, sat];
    for (r, e) in rates.iter().zip(expected) {
        assert!((r - e).abs() < 1e-9, "{rates:?} vs {expected:?}");
    }
    for p in points {
        assert!(p["summary"]["response_time"]["count"].as_u64().unwrap() > 0);
        assert!(p["verdict"].is_string());
        assert!(p["goodput_rps"].as_f64().is_some());
    }
    assert_eq!(saved["test_config"]["arrivals"], "poisson");
    assert_eq!(saved["interrupted"], false);
    let img = image::open(&plot).expect("a PNG");
    assert!(img.width() > 1000 && img.height() > 800);

    // The text report: a table row per point, and the knee.
    let text = sweep(&[
        "--simulate",
        "--sim-gpus",
        "2",
        "--sim-time-scale",
        "0.05",
        "--concurrency",
        "auto",
        "--slo",
        "p50<0.5s",
    ]);
    let report = String::from_utf8_lossy(&text.stdout);
    assert!(report.contains("C=4"), "{report}");
    assert!(report.contains("knee: C = 2"), "{report}");
    assert!(report.contains("goodput/s"), "{report}");
    // Eight requests cannot claim a p99: the table withholds it and says why.
    assert!(report.contains("p99 needs ≥ 299 requests"), "{report}");
}

#[test]
fn no_passing_rate_is_exit_3() {
    // Every request takes at least one service time (18 ms): a 10 ms p50 never passes.
    let out = sweep(&[
        "--simulate",
        "--sim-time-scale",
        "0.01",
        "--max-rate-under",
        "p50<10ms",
        "--duration",
        "0.3s",
        "--resolution",
        "0.2",
    ]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(report.contains("no rate passed"), "{report}");
}

#[test]
fn ctrl_c_reports_the_points_so_far() {
    let dir = tempfile::tempdir().unwrap();
    let save = dir.path().join("partial.json");
    let mut child = Command::new(BIN)
        .args([
            "sweep",
            "--simulate",
            "--sim-time-scale",
            "0.05",
            "--concurrency",
            "1,2,4,8,16",
            "--save",
            save.to_str().unwrap(),
        ])
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
    // Interrupt once the first point has reported.
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the first point reports");
        if line.contains("C=1:") {
            break;
        }
    }
    let ok = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(report.contains("INTERRUPTED"), "{report}");
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&save).unwrap()).unwrap();
    assert_eq!(saved["interrupted"], true);
    let n = saved["points"].as_array().unwrap().len();
    assert!((1..=2).contains(&n), "{n} points");
}
