//! `fluxprobe report` on the seed tool's recorded runs (two real runs on RTX 5090 cards): every
//! figure it prints must equal an independent computation done here from the raw JSON, with
//! nothing from fluxprobe's statistics code.

use assert_cmd::Command;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn recorded_runs() -> Option<Vec<PathBuf>> {
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/flux-api/recorded-runs");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!("skipped: {} is not there", dir.display());
        return None;
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    if files.is_empty() {
        eprintln!("skipped: no recorded run in {}", dir.display());
        return None;
    }
    Some(files)
}

/// The figures of a seed file, computed the plain way.
#[derive(Debug)]
struct Expected {
    n: usize,
    failed: usize,
    mean: f64,
    median: f64,
    min: f64,
    max: f64,
    sd: f64,
    wall: f64,
    throughput: f64,
    /// Nearest rank: the ⌈p·n/100⌉-th smallest, from integer arithmetic; withheld below the
    /// count that can claim it at 95 %.
    p50: Pct,
    p90: Pct,
    p95: Pct,
    p99: Pct,
    gen_mean: f64,
    gen_median: f64,
    response_times: Vec<(String, f64)>,
}

fn expected(file: &Path) -> Expected {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    let results = v["test_results"].as_array().unwrap();
    let ok: Vec<&Value> = results.iter().filter(|r| r["success"] == true).collect();
    let mut rt: Vec<f64> = ok
        .iter()
        .map(|r| r["response_time"].as_f64().unwrap())
        .collect();
    rt.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = rt.len();
    let mean = rt.iter().sum::<f64>() / n as f64;
    let median = if n % 2 == 0 {
        (rt[n / 2 - 1] + rt[n / 2]) / 2.0
    } else {
        rt[n / 2]
    };
    let sd = (rt.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt();
    let starts = results.iter().map(|r| r["start_time"].as_f64().unwrap());
    let ends = results.iter().map(|r| r["end_time"].as_f64().unwrap());
    let wall = ends.fold(f64::MIN, f64::max) - starts.fold(f64::MAX, f64::min);

    let mut gens: Vec<f64> = ok
        .iter()
        .filter_map(|r| r["generation_time"].as_f64())
        .collect();
    gens.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let g = gens.len();
    Expected {
        n: results.len(),
        failed: results.len() - ok.len(),
        mean,
        median,
        min: rt[0],
        max: rt[n - 1],
        sd,
        wall,
        throughput: ok.len() as f64 / wall,
        p50: pct(&rt, 50),
        p90: pct(&rt, 90),
        p95: pct(&rt, 95),
        p99: pct(&rt, 99),
        gen_mean: gens.iter().sum::<f64>() / g as f64,
        gen_median: if g % 2 == 0 {
            (gens[g / 2 - 1] + gens[g / 2]) / 2.0
        } else {
            gens[g / 2]
        },
        response_times: results
            .iter()
            .map(|r| {
                (
                    r["request_id"].as_str().unwrap().to_string(),
                    r["response_time"].as_f64().unwrap(),
                )
            })
            .collect(),
    }
}

/// P(B ≤ k) for B ~ Binomial(n, p), summed term by term (n here is small).
fn binomial_cdf(k: usize, n: usize, p: f64) -> f64 {
    let mut sum = 0.0;
    let mut choose = 1.0f64; // C(n, i)
    for i in 0..=k.min(n) {
        if i > 0 {
            choose = choose * (n - i + 1) as f64 / i as f64;
        }
        sum += choose * p.powi(i as i32) * (1.0 - p).powi((n - i) as i32);
    }
    sum
}

/// A percentile at 95 % the textbook way: claimable when the maximum bounds it (qⁿ ≤ 0.05);
/// interval ranks from the binomial sums, walking every rank.
#[derive(Debug)]
struct Pct {
    value: Option<f64>,
    lower: Option<f64>,
    upper: Option<f64>,
    needed: usize,
}

fn pct(sorted: &[f64], p: usize) -> Pct {
    let n = sorted.len();
    let q = p as f64 / 100.0;
    let needed = (1..).find(|&m| q.powi(m) <= 0.05).unwrap() as usize;
    let lower = (1..=n).rev().find(|&l| binomial_cdf(l - 1, n, q) <= 0.025);
    let upper = (1..=n).find(|&u| binomial_cdf(u - 1, n, q) >= 0.975);
    Pct {
        value: (n >= needed).then(|| sorted[(p * n).div_ceil(100).max(1) - 1]),
        lower: lower.map(|r| sorted[r - 1]),
        upper: upper.map(|r| sorted[r - 1]),
        needed,
    }
}

fn run(args: &[&str]) -> String {
    let out = Command::cargo_bin("fluxprobe")
        .unwrap()
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "fluxprobe {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

#[test]
fn json_summary_equals_an_independent_computation() {
    let Some(files) = recorded_runs() else { return };
    for f in files {
        let e = expected(&f);
        let out = run(&["report", f.to_str().unwrap(), "--json"]);
        let v: Value = serde_json::from_str(&out).unwrap();
        let s = &v["summary"]["concurrent"];
        assert_eq!(s["total"].as_u64().unwrap() as usize, e.n);
        assert_eq!(s["failed"].as_u64().unwrap() as usize, e.failed);
        let rt = &s["response_time"];
        for (key, want) in [
            ("mean", e.mean),
            ("median", e.median),
            ("min", e.min),
            ("max", e.max),
            ("stddev", e.sd),
        ] {
            let got = rt[key].as_f64().unwrap();
            assert!(close(got, want), "{}: {key} {got} vs {want}", f.display());
        }
        for (key, want) in [
            ("p50", &e.p50),
            ("p90", &e.p90),
            ("p95", &e.p95),
            ("p99", &e.p99),
        ] {
            let est = &rt["percentiles"][key];
            let same = |v: &Value, w: Option<f64>| match w {
                Some(w) => v.as_f64().is_some_and(|g| close(g, w)),
                None => v.is_null(),
            };
            assert!(
                same(&rt[key], want.value),
                "{}: {key} {}",
                f.display(),
                rt[key]
            );
            assert!(same(&est["value"], want.value), "{key}");
            assert!(
                same(&est["lower"], want.lower),
                "{key} lower {}",
                est["lower"]
            );
            assert!(
                same(&est["upper"], want.upper),
                "{key} upper {}",
                est["upper"]
            );
            assert_eq!(est["needed_samples"].as_u64(), Some(want.needed as u64));
        }
        assert_eq!(rt["confidence"], 0.95);
        assert!(close(s["wall_time_seconds"].as_f64().unwrap(), e.wall));
        assert!(close(s["throughput_rps"].as_f64().unwrap(), e.throughput));
        assert!(close(
            s["generation_time"]["mean"].as_f64().unwrap(),
            e.gen_mean
        ));
        assert_eq!(v["fluxprobe"]["percentile_method"], "nearest-rank");
    }
}

#[test]
fn run_092002_has_the_known_figures() {
    let Some(files) = recorded_runs() else { return };
    let Some(f) = files
        .iter()
        .find(|p| p.to_string_lossy().contains("092002"))
    else {
        eprintln!("skipped: no 092002 run");
        return;
    };
    let r4 = |x: f64| format!("{x:.4}");
    let e = expected(f);
    // The independent computation agrees with the figures known for this run…
    assert_eq!(
        [e.mean, e.median, e.min, e.max, e.sd, e.throughput].map(r4),
        ["4.8551", "5.3871", "1.8226", "5.4214", "1.2033", "0.5562"]
    );
    // …and so does fluxprobe, through its library…
    let results = fluxprobe::bench::results::read_file(f).unwrap();
    let s = &fluxprobe::bench::summary::summarize(&results)[0];
    let rt = &s.response_time;
    assert_eq!(
        [
            rt.mean.unwrap(),
            rt.median.unwrap(),
            rt.min.unwrap(),
            rt.max.unwrap(),
            rt.stddev.unwrap(),
            s.throughput_rps.unwrap()
        ]
        .map(r4),
        ["4.8551", "5.3871", "1.8226", "5.4214", "1.2033", "0.5562"]
    );
    // …and through the command's text report.
    let en = run(&["report", f.to_str().unwrap()]);
    assert!(en.contains("mean 4.8551 s · median 5.3871 s · min 1.8226 s · max 5.4214 s · std dev 1.2033 s (n = 10)"), "{en}");
    assert!(en.contains("🚚 Throughput: 0.5562 requests/s"), "{en}");
    // 10 requests cannot claim a p99 at 95 % (0.99ⁿ ≤ 0.05 from n = 299).
    assert!(
        en.contains("   p99 — needs ≥ 299 requests for 95% (n = 10)"),
        "{en}"
    );
}

#[test]
fn text_report_prints_the_independent_figures() {
    let Some(files) = recorded_runs() else { return };
    for f in files {
        let e = expected(&f);
        let zh = run(&["report", f.to_str().unwrap(), "--lang", "zh"]);
        for line in [
            format!("   总请求数: {}", e.n),
            format!("   成功请求: {}", e.n - e.failed),
            format!("   失败请求: {}", e.failed),
            format!(
                "   成功率: {:.2}%",
                (e.n - e.failed) as f64 * 100.0 / e.n as f64
            ),
            format!("   总耗时: {:.2}秒", e.wall),
            format!("   吞吐量: {:.2} 请求/秒", e.throughput),
            format!("   平均响应时间: {:.2}秒", e.mean),
            format!("   中位数响应时间: {:.2}秒", e.median),
            format!("   最小响应时间: {:.2}秒", e.min),
            format!("   最大响应时间: {:.2}秒", e.max),
            format!("   响应时间标准差: {:.2}秒", e.sd),
            format!("   平均生成时间: {:.2}秒", e.gen_mean),
            format!("   中位数生成时间: {:.2}秒", e.gen_median),
        ]
        .into_iter()
        .chain(
            [
                ("p50", &e.p50),
                ("p90", &e.p90),
                ("p95", &e.p95),
                ("p99", &e.p99),
            ]
            .map(|(name, p)| {
                let end = |v: Option<f64>, beyond: &str| {
                    v.map_or(beyond.to_string(), |x| format!("{x:.4}秒"))
                };
                match p.value {
                    Some(v) => format!(
                        "   {name} {v:.4}秒 (95% 置信区间 {} – {};",
                        end(p.lower, "低于最小样本"),
                        end(p.upper, "超出最大样本")
                    ),
                    None => format!("   {name} — 需要至少 {} 个请求才能达到 95%", p.needed),
                }
            }),
        ) {
            assert!(
                zh.lines()
                    .any(|l| l == line || (line.starts_with("   p") && l.starts_with(&line))),
                "{}: missing {line:?} in\n{zh}",
                f.display()
            );
        }
        for (id, rt) in &e.response_times {
            let row = zh
                .lines()
                .find(|l| l.starts_with(id.as_str()))
                .unwrap_or_else(|| panic!("no row for {id}"));
            let cells: Vec<&str> = row.split_whitespace().collect();
            assert_eq!(cells[1], "✅");
            assert_eq!(cells[2], format!("{rt:.2}"), "{row}");
        }
        let en = run(&["report", f.to_str().unwrap()]);
        assert!(
            en.lines()
                .any(|l| l == format!("   Mean response time: {:.2} s", e.mean))
        );
        assert!(
            en.lines()
                .any(|l| l == format!("   Throughput: {:.2} requests/s", e.throughput))
        );
    }
}

#[test]
fn a_file_fluxprobe_wrote_reads_back_the_same() {
    let Some(files) = recorded_runs() else { return };
    let dir = tempfile::tempdir().unwrap();
    for f in files {
        let seed = fluxprobe::bench::results::read_file(&f).unwrap();
        let ours = dir.path().join("again.json");
        fluxprobe::bench::results::save(&seed, &ours).unwrap();
        assert_eq!(fluxprobe::bench::results::read_file(&ours).unwrap(), seed);
        // Same figures from both files, through the command.
        let a: Value =
            serde_json::from_str(&run(&["report", f.to_str().unwrap(), "--json"])).unwrap();
        let b: Value =
            serde_json::from_str(&run(&["report", ours.to_str().unwrap(), "--json"])).unwrap();
        assert_eq!(a["summary"], b["summary"]);
    }
}

#[test]
fn unreadable_files_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.json");
    let not_json = dir.path().join("not.json");
    std::fs::write(&not_json, "<html>").unwrap();
    let not_results = dir.path().join("other.json");
    std::fs::write(&not_results, r#"{"hello": 1}"#).unwrap();
    for (p, says) in [
        (&missing, "cannot read"),
        (&not_json, "is not JSON"),
        (&not_results, "not a results file"),
    ] {
        let out = Command::cargo_bin("fluxprobe")
            .unwrap()
            .args(["report", p.to_str().unwrap()])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", p.display());
        assert!(String::from_utf8_lossy(&out.stderr).contains(says));
    }
}
