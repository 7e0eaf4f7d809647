//! A bench run killed outright (SIGKILL: no handler runs) never leaves a truncated results file:
//! without checkpoints the previous file stays as it was, byte for byte; with `--checkpoint` the
//! file is the last checkpoint, complete and readable by `fluxprobe report`; a run that ends
//! normally replaces its checkpoints with the final results.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_fluxprobe");
const BOUND: Duration = Duration::from_secs(60);

/// A long run against the in-process simulator: 400 requests one at a time, about 0.09 s each.
fn long_run(path: &Path, extra: &[&str]) -> (Child, mpsc::Receiver<String>) {
    let mut child = Command::new(BIN)
        .args(["bench", "--simulate", "--sim-time-scale", "0.05"])
        .args(["--requests", "400", "--concurrent", "1", "--no-status"])
        .arg("--save")
        .arg(path)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
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

fn wait_for_line(rx: &mpsc::Receiver<String>, needle: &str) {
    let deadline = Instant::now() + BOUND;
    loop {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) if line.contains(needle) => return,
            Ok(_) => continue,
            Err(e) => panic!("no line containing {needle:?}: {e}"),
        }
    }
}

fn kill9(child: &mut Child) {
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
}

/// The file as results, once it holds at least `n` requests (polled, within the bound).
fn wait_for_records(path: &Path, n: usize) -> Value {
    let deadline = Instant::now() + BOUND;
    loop {
        if let Ok(text) = std::fs::read_to_string(path)
            && let Ok(v) = serde_json::from_str::<Value>(&text)
            && v["test_results"].as_array().is_some_and(|r| r.len() >= n)
        {
            return v;
        }
        assert!(Instant::now() < deadline, "no checkpoint with {n} requests");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_killed_run_leaves_the_previous_file_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("results.json");
    let first = Command::new(BIN)
        .args(["bench", "--simulate", "--sim-time-scale", "0"])
        .args(["--requests", "3", "--no-status", "--save"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(first.status.code(), Some(0));
    let before = std::fs::read(&path).unwrap();

    let (mut child, rx) = long_run(&path, &[]);
    wait_for_line(&rx, "concurrent test");
    kill9(&mut child);
    assert_eq!(std::fs::read(&path).unwrap(), before, "the file changed");
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        vec!["results.json".to_string()],
        "left behind: {names:?}"
    );
}

#[test]
fn a_killed_run_with_checkpoints_leaves_its_last_checkpoint_complete() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("results.json");
    let (mut child, _rx) = long_run(&path, &["--checkpoint", "100ms"]);
    wait_for_records(&path, 5);
    kill9(&mut child);

    let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
        .expect("the last checkpoint is complete JSON");
    assert_eq!(v["interrupted"], true);
    let results = v["test_results"].as_array().unwrap();
    assert!(
        results.len() >= 5 && results.len() < 400,
        "{}",
        results.len()
    );
    for r in results {
        assert_eq!(r["outcome"], "success", "{r}");
        assert!(r["response_time"].as_f64().unwrap() > 0.0, "{r}");
    }
    let report = Command::new(BIN).arg("report").arg(&path).output().unwrap();
    assert_eq!(
        report.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&report.stderr)
    );
    let text = String::from_utf8_lossy(&report.stdout);
    assert!(
        text.contains(&format!("Total requests: {}", results.len())),
        "{text}"
    );
}

#[test]
fn a_finished_run_replaces_its_checkpoints_with_the_results() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("results.json");
    let out = Command::new(BIN)
        .args(["bench", "--simulate", "--sim-time-scale", "0.01"])
        .args(["--requests", "30", "--concurrent", "2", "--no-status"])
        .args(["--checkpoint", "20ms", "--save"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(v["interrupted"], false);
    assert_eq!(v["test_results"].as_array().unwrap().len(), 30);
}

#[test]
fn checkpoints_need_a_results_file() {
    let out = Command::new(BIN)
        .args(["bench", "--simulate", "--checkpoint", "1s"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
