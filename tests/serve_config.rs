//! check-config and configuration loading end to end: the shipped example loads, errors point
//! at file:line:column with a hint and exit 2, secrets stay out of the output.

use assert_cmd::Command;
use fluxprobe::serve::config;
use std::time::Duration;

mod serve_support;
use serve_support::crate_path;

#[test]
fn the_shipped_example_loads_and_says_what_it_will_do() {
    let path = crate_path("examples/fluxprobe.yml");
    let cfg = config::load_file(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.targets.len(), 2);
    let a = &cfg.targets[0];
    assert_eq!(a.name, "gpu-box-1");
    assert_eq!(a.bursts[0].requests, 100);
    assert_eq!(a.bursts[0].timezone, chrono_tz::Europe::Amsterdam);
    assert_eq!(a.labels.get("site").map(String::as_str), Some("ams"));
    let b = &cfg.targets[1];
    assert_eq!(b.mode, fluxprobe::probe::ProbeMode::Queue);
    // rate 0.0333/s → one probe every ~30 s.
    let iv = b.trickle.unwrap().interval.as_secs_f64();
    assert!((iv - 1.0 / 0.0333).abs() < 1e-6, "{iv}");
    assert_eq!(b.status_timeout, Duration::from_secs(4));

    let out = Command::cargo_bin("fluxprobe")
        .unwrap()
        .args(["check-config", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("valid"), "{stdout}");
    assert!(stdout.contains("burst hourly"), "{stdout}");
}

#[test]
fn check_config_reports_file_line_column_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yml");
    std::fs::write(
        &path,
        "targets:\n  - name: a\n    url: http://127.0.0.1:8000\n    bursts:\n      - name: b\n        schedule: \"0 9 * * *\"\n        requests: 4\n        concurency: 2\n",
    )
    .unwrap();
    let out = Command::cargo_bin("fluxprobe")
        .unwrap()
        .args(["check-config", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let expected_prefix = format!("{}:8:9: ", path.display());
    assert!(stderr.starts_with(&expected_prefix), "{stderr}");
    assert!(stderr.contains("concurency"), "{stderr}");
    assert!(stderr.contains("hint:"), "{stderr}");
}

#[test]
fn a_missing_secret_is_named_and_a_present_one_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secret.yml");
    std::fs::write(
        &path,
        "targets:\n  - name: a\n    url: http://127.0.0.1:8000\n    headers:\n      Authorization: Bearer ${FLUXPROBE_TEST_TOKEN_X}\n",
    )
    .unwrap();
    let out = Command::cargo_bin("fluxprobe")
        .unwrap()
        .env_remove("FLUXPROBE_TEST_TOKEN_X")
        .args(["check-config", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("FLUXPROBE_TEST_TOKEN_X"), "{stderr}");
    assert!(stderr.contains(":5:"), "{stderr}");

    let out = Command::cargo_bin("fluxprobe")
        .unwrap()
        .env("FLUXPROBE_TEST_TOKEN_X", "very-secret-value")
        .args(["check-config", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!all.contains("very-secret-value"), "{all}");
    assert!(all.contains("Authorization"), "{all}");
}

#[test]
fn a_missing_file_is_a_usage_error() {
    let out = Command::cargo_bin("fluxprobe")
        .unwrap()
        .args(["check-config", "/nonexistent/fluxprobe.yml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
