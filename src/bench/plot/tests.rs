//! Rendering tests: real PNG and SVG files from hand-built results, edge cases, bad paths.

use super::style::{FAILURE, SUCCESS};
use super::*;
use crate::bench::model::{Load, PhaseResult, RunConfig, SystemStatus};
use crate::cli::TestType;
use crate::outcome::Outcome;
use crate::probe::{ProbeMode, ProbeRecord};
use std::collections::HashSet;

const URL: &str = "http://gpu-box.internal:8000";

fn record(seq: u64, intended: f64, sent: f64, done: f64, outcome: Outcome) -> ProbeRecord {
    ProbeRecord {
        seq,
        warmup: false,
        mode: ProbeMode::Generate,
        intended,
        sent,
        first_byte: None,
        done,
        outcome,
        http_status: if outcome.is_success() {
            Some(200)
        } else {
            None
        },
        error: (!outcome.is_success()).then(|| "something broke".to_string()),
        generation_time: outcome
            .is_success()
            .then_some(1.6 + 0.05 * (seq % 5) as f64),
        vram_bytes: None,
        vram_raw: None,
        bytes_received: 1000,
        width: 512,
        height: 512,
        steps: 10,
        server_request_id: None,
        server_queue_wait: None,
        server_service_time: None,
        parse_issues: vec![],
    }
}

fn config() -> RunConfig {
    RunConfig {
        url: URL.to_string(),
        requests: 20,
        concurrent: 3,
        test_type: TestType::Concurrent,
        rate: None,
        duration_seconds: None,
        timeout_seconds: 300.0,
        warmup: 2,
        steps: 10,
        guidance: 4.0,
        width: 512,
        height: 512,
        seed: "none".to_string(),
        prompt_count: 1,
        header_names: vec![],
        slo: None,
        simulated: false,
    }
}

fn phase(mode: ProbeMode, load: Load, records: Vec<ProbeRecord>) -> PhaseResult {
    PhaseResult {
        test_type: mode,
        load,
        wall_start: 1_755_695_984.73,
        records,
        skipped: 0,
        not_started: 0,
        interrupted: false,
        peak_in_flight: 3,
    }
}

fn results(phases: Vec<PhaseResult>) -> BenchResults {
    BenchResults {
        config: config(),
        system_status: SystemStatus::default(),
        phases,
        interrupted: false,
        tool_version: "test".to_string(),
    }
}

/// A closed-loop run of 3 at a time: 2 warm-up requests, then 20 measured, three of them failed.
fn closed_loop() -> PhaseResult {
    let mut records = Vec::new();
    for seq in 0..2 {
        let mut r = record(seq, 0.0, 0.0, 1.9, Outcome::Success);
        r.warmup = true;
        records.push(r);
    }
    let mut free = [2.0f64; 3];
    for seq in 2..22u64 {
        let slot = (seq % 3) as usize;
        let start = free[slot];
        let (outcome, took) = match seq {
            7 => (Outcome::Timeout, 6.0),
            12 => (Outcome::Http5xx, 0.4),
            17 => (Outcome::Connect, 0.05),
            _ => (Outcome::Success, 1.7 + 0.9 * ((seq * 7) % 5) as f64),
        };
        records.push(record(seq, start, start, start + took, outcome));
        free[slot] = start + took;
    }
    phase(
        ProbeMode::Generate,
        Load::Closed {
            requests: 20,
            concurrency: 3,
        },
        records,
    )
}

/// An open loop at 2 req/s for 6 s against a server that falls behind: sends lag the schedule.
fn open_loop() -> PhaseResult {
    let records = (0..12u64)
        .map(|seq| {
            let intended = 0.5 * seq as f64;
            let sent = intended + if seq % 3 == 0 { 0.0 } else { 0.3 };
            let outcome = if seq == 9 {
                Outcome::Rejected
            } else {
                Outcome::Success
            };
            let mut r = record(seq, intended, sent, sent + 1.0 + 0.4 * seq as f64, outcome);
            r.mode = ProbeMode::Queue;
            r
        })
        .collect();
    phase(
        ProbeMode::Queue,
        Load::Open {
            rate: 2.0,
            duration_seconds: 6.0,
            max_in_flight: 100,
        },
        records,
    )
}

fn render_to(dir: &Path, name: &str, r: &BenchResults) -> PathBuf {
    let path = dir.join(name);
    render(r, &path, Lang::En).unwrap_or_else(|e| panic!("{name}: {e}"));
    keep(&path);
    path
}

/// With FLUXPROBE_KEEP_TEST_PLOTS=DIR set, copies a rendered chart there to be looked at.
fn keep(path: &Path) {
    if let Some(dir) = std::env::var_os("FLUXPROBE_KEEP_TEST_PLOTS")
        && let Some(name) = path.file_name()
    {
        let _ = std::fs::copy(path, Path::new(&dir).join(name));
    }
}

/// Decoded PNG: size, number of distinct colours, share of non-white pixels, and whether some
/// pixels are close to `color`.
struct PngFacts {
    size: (u32, u32),
    colours: usize,
    ink: f64,
}

fn png_facts(path: &Path) -> (PngFacts, image::RgbImage) {
    let img = image::open(path).expect("decodable PNG").to_rgb8();
    let colours: HashSet<[u8; 3]> = img.pixels().map(|p| p.0).collect();
    let ink = img.pixels().filter(|p| p.0 != [255, 255, 255]).count() as f64
        / (img.width() * img.height()) as f64;
    (
        PngFacts {
            size: img.dimensions(),
            colours: colours.len(),
            ink,
        },
        img,
    )
}

fn has_colour(img: &image::RgbImage, c: RGBColor) -> usize {
    img.pixels().filter(|p| p.0 == [c.0, c.1, c.2]).count()
}

fn no_temp_files(dir: &Path) {
    let left: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".fluxprobe-plot-"))
        .collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");
}

fn hex(c: RGBColor) -> String {
    format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2)
}

#[test]
fn png_of_a_closed_loop_run_is_a_real_picture() {
    let dir = tempfile::tempdir().unwrap();
    let path = render_to(dir.path(), "run.png", &results(vec![closed_loop()]));
    let (facts, img) = png_facts(&path);
    assert_eq!(facts.size, (1600, 1100));
    assert!(facts.colours > 50, "only {} colours", facts.colours);
    assert!(
        facts.ink > 0.04 && facts.ink < 0.6,
        "ink share {}",
        facts.ink
    );
    // successes and failures are both drawn in full colour (timeline bars)
    assert!(has_colour(&img, SUCCESS) > 500);
    assert!(has_colour(&img, FAILURE) > 100);
    no_temp_files(dir.path());
}

#[test]
fn svg_has_title_labels_and_one_bar_per_request() {
    let dir = tempfile::tempdir().unwrap();
    let run = results(vec![closed_loop()]);
    let path = render_to(dir.path(), "run.svg", &run);
    let svg = std::fs::read_to_string(&path).unwrap();
    assert!(svg.starts_with("<svg"));
    assert!(svg.contains(&format!("fluxprobe — {URL} — 20 requests, 3 concurrent")));
    for label in [
        "Response time distribution",
        "Server generation time distribution",
        "Request timeline",
        "Throughput over time",
        "response time, done − intended send (s)",
        "server-reported generation time (s)",
        "time since first intended send (s)",
        "request # (start order)",
        "requests / s",
        "20 measured: 17 succeeded, 3 failed (2 warm-up not shown)",
        "failed: timeout 1, connect 1, http_5xx 1",
        "3 failed requests not in this histogram (see timeline)",
    ] {
        assert!(svg.contains(label), "missing {label:?}");
    }
    // timeline bars are the only opaque rectangles in these colours, plus one legend swatch each
    let measured = &run.phases[0];
    let ok = measured.measured().filter(|r| r.is_success()).count();
    let failed = measured.measured().count() - ok;
    let bars = |c| {
        let fill = format!("opacity=\"1\" fill=\"{}\"", hex(c));
        svg.lines()
            .filter(|l| l.starts_with("<rect") && l.contains(&fill))
            .count()
    };
    assert_eq!(bars(SUCCESS), ok + 1);
    assert_eq!(bars(FAILURE), failed + 1);
    // each failure is labelled with its reason
    for reason in ["timeout", "http_5xx", "connect"] {
        assert!(svg.contains(&format!(">\n{reason}\n<")) || svg.contains(&format!(">{reason}<")));
    }
    assert_no_nan(&svg);
    no_temp_files(dir.path());
}

/// Mean and median printed in the legend agree with a computation done here.
#[test]
fn svg_legend_shows_mean_and_median_of_successes() {
    let dir = tempfile::tempdir().unwrap();
    let run = results(vec![closed_loop()]);
    let svg = std::fs::read_to_string(render_to(dir.path(), "m.svg", &run)).unwrap();
    let mut rt: Vec<f64> = run.phases[0]
        .measured()
        .filter(|r| r.is_success())
        .map(|r| r.done - r.intended)
        .collect();
    rt.sort_by(f64::total_cmp);
    let mean = rt.iter().sum::<f64>() / rt.len() as f64;
    let median = rt[rt.len() / 2]; // 17 values: the 9th
    assert_eq!(rt.len(), 17);
    // both between 1 and 10 s: printed with three decimals
    assert!((1.0..10.0).contains(&mean) && (1.0..10.0).contains(&median));
    assert!(svg.contains(&format!("mean {mean:.3} s")), "mean {mean}");
    assert!(
        svg.contains(&format!("median {median:.3} s")),
        "median {median}"
    );
}

#[test]
fn open_loop_draws_schedule_lag_and_rate_title() {
    let dir = tempfile::tempdir().unwrap();
    let run = results(vec![open_loop()]);
    let svg = std::fs::read_to_string(render_to(dir.path(), "open.svg", &run)).unwrap();
    assert!(svg.contains("2 req/s for 6 s (open loop)"));
    let late = run.phases[0]
        .records
        .iter()
        .filter(|r| r.sent - r.intended > 0.001)
        .count();
    assert_eq!(late, 8);
    assert!(svg.contains(&format!("intended send → actual send ({late} late)")));
    // one hollow marker per late request (+ the legend's)
    assert_eq!(svg.matches("<circle").count(), late + 1);
    assert!(svg.contains("failed: rejected 1"));
    assert_no_nan(&svg);
    let png = render_to(dir.path(), "open.png", &run);
    assert!(png_facts(&png).0.colours > 50);
}

#[test]
fn both_phases_are_stacked() {
    let dir = tempfile::tempdir().unwrap();
    let run = results(vec![closed_loop(), open_loop()]);
    let svg_path = render_to(dir.path(), "both.svg", &run);
    let svg = std::fs::read_to_string(svg_path).unwrap();
    assert!(svg.contains("concurrent test (POST /generate)"));
    assert!(svg.contains("queue test (/submit-request + polling)"));
    assert_eq!(svg.matches("Request timeline").count(), 2);
    let (facts, _) = png_facts(&render_to(dir.path(), "both.png", &run));
    assert_eq!(facts.size.0, 1600);
    assert!(facts.size.1 > 2000);
}

#[test]
fn edge_cases_render_without_panic_or_nan() {
    let closed = Load::Closed {
        requests: 1,
        concurrency: 1,
    };
    let all_failed = (0..6u64)
        .map(|s| {
            let t = 0.2 * s as f64;
            record(s, t, t, t + 30.0, Outcome::Timeout)
        })
        .collect();
    let mut no_generation = record(0, 0.0, 0.0, 2.0, Outcome::Success);
    no_generation.generation_time = None;
    let mut nonsense = record(1, f64::NAN, f64::INFINITY, -3.0, Outcome::Success);
    nonsense.generation_time = Some(f64::NAN);
    let mut huge = record(3, -1e308, 1e308, 1e308, Outcome::Timeout);
    huge.generation_time = Some(1e308);
    let mut backwards = record(2, 5.0, 5.0, 4.0, Outcome::Success);
    backwards.generation_time = Some(-1.0);
    let instant = record(0, 0.0, 0.0, 0.0, Outcome::Success);
    let cases: Vec<(&str, Vec<PhaseResult>)> = vec![
        ("no_phases", vec![]),
        ("empty", vec![phase(ProbeMode::Generate, closed, vec![])]),
        (
            "one",
            vec![phase(
                ProbeMode::Generate,
                closed,
                vec![record(0, 0.0, 0.0, 1.7, Outcome::Success)],
            )],
        ),
        (
            "all_failed",
            vec![phase(ProbeMode::Generate, closed, all_failed)],
        ),
        (
            "no_generation",
            vec![phase(ProbeMode::Generate, closed, vec![no_generation])],
        ),
        (
            "bad_numbers",
            vec![phase(
                ProbeMode::Generate,
                closed,
                vec![nonsense, huge, backwards],
            )],
        ),
        (
            "instant",
            vec![phase(ProbeMode::Generate, closed, vec![instant])],
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (name, phases) in cases {
        let run = results(phases);
        let svg = render_to(dir.path(), &format!("{name}.svg"), &run);
        let text = std::fs::read_to_string(&svg).unwrap();
        assert!(text.contains("fluxprobe — "), "{name}");
        assert_no_nan(&text);
        let png = render_to(dir.path(), &format!("{name}.png"), &run);
        let (facts, _) = png_facts(&png);
        assert!(facts.ink > 0.005, "{name}: blank picture");
    }
    no_temp_files(dir.path());

    // the notes that replace empty panels are there
    let read = |n: &str| std::fs::read_to_string(dir.path().join(n)).unwrap();
    let none = read("no_phases.svg");
    assert!(none.contains("no test phase ran"));
    assert!(none.contains(&format!("fluxprobe — {URL} — 20 requests, 3 concurrent")));
    assert!(read("empty.svg").contains("no measured requests"));
    let failed = read("all_failed.svg");
    assert!(failed.contains("no successful requests"));
    assert!(failed.contains("failed: timeout 6"));
    assert!(read("no_generation.svg").contains("no generation times reported"));
    assert!(read("bad_numbers.svg").contains("2 with unusable timestamps not drawn"));
}

fn assert_no_nan(svg: &str) {
    for bad in ["NaN", "inf\"", "=\"inf", "-inf"] {
        assert!(!svg.contains(bad), "found {bad:?} in the SVG");
    }
}

#[test]
fn unsupported_extensions_are_refused_without_writing() {
    let dir = tempfile::tempdir().unwrap();
    let run = results(vec![closed_loop()]);
    for name in ["chart.jpg", "chart", "chart.png.txt", "chart.pdf"] {
        let path = dir.path().join(name);
        let err = render(&run, &path, Lang::En).unwrap_err();
        assert!(
            matches!(err, PlotError::UnsupportedExtension { .. }),
            "{name}: {err}"
        );
        assert!(!path.exists());
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    // any case of the extension is fine
    render_to(dir.path(), "UPPER.PNG", &run);
    render_to(dir.path(), "Mixed.Svg", &run);
    assert_eq!(Format::from_path(Path::new("a.SVG")).unwrap(), Format::Svg);
}

#[test]
fn writes_replace_atomically_and_report_io_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chart.png");
    std::fs::write(&path, b"old").unwrap();
    render(&results(vec![closed_loop()]), &path, Lang::En).unwrap();
    assert!(image::open(&path).is_ok(), "old file replaced by a PNG");
    no_temp_files(dir.path());

    let missing = dir.path().join("no/such/dir/chart.svg");
    let err = render(&results(vec![]), &missing, Lang::En).unwrap_err();
    assert!(matches!(err, PlotError::Io { .. }), "{err}");
    assert!(err.to_string().contains("chart.svg"));

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o644);
    }
}

#[test]
fn chinese_labels_or_an_english_fallback() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("zh.svg");
    render(&results(vec![closed_loop()]), &path, Lang::Zh).unwrap();
    let svg = std::fs::read_to_string(&path).unwrap();
    let fonts = fonts::select(Lang::Zh).unwrap();
    if fonts.lang == labels::ChartLang::Zh {
        assert!(svg.contains("响应时间分布"));
        assert!(svg.contains("请求时间线"));
    } else {
        eprintln!("no CJK font on this machine: checking the English fallback");
        assert!(svg.contains("Response time distribution"));
    }
    let png = dir.path().join("zh.png");
    render(&results(vec![closed_loop()]), &png, Lang::Zh).unwrap();
    keep(&png);
    assert!(png_facts(&png).0.colours > 50);
}

/// The seed tool's recorded runs, turned into records by hand (start/end times, success,
/// generation time): the charts of real figures render.
#[test]
fn recorded_seed_runs_render() {
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/flux-api/recorded-runs");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!("skipping: {} is absent", dir.display());
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let mut rendered = 0;
    for entry in entries {
        let file = entry.unwrap().path();
        if file.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let items = v["test_results"].as_array().unwrap();
        let t0 = items
            .iter()
            .filter_map(|r| r["start_time"].as_f64())
            .fold(f64::INFINITY, f64::min);
        let records: Vec<ProbeRecord> = items
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let start = r["start_time"].as_f64().unwrap() - t0;
                let end = r["end_time"].as_f64().unwrap() - t0;
                let ok = r["success"].as_bool().unwrap_or(false);
                let mut rec = record(
                    i as u64,
                    start,
                    start,
                    end,
                    if ok {
                        Outcome::Success
                    } else {
                        Outcome::Http5xx
                    },
                );
                rec.generation_time = r["generation_time"].as_f64();
                rec
            })
            .collect();
        let n = records.len();
        let mut p = phase(
            ProbeMode::Generate,
            Load::Closed {
                requests: n as u64,
                concurrency: v["test_config"]["concurrent"].as_u64().unwrap_or(1) as u32,
            },
            records,
        );
        p.wall_start = t0;
        let run = results(vec![p]);
        let stem = file.file_stem().unwrap().to_string_lossy().into_owned();
        let svg = render_to(out.path(), &format!("{stem}.svg"), &run);
        let text = std::fs::read_to_string(svg).unwrap();
        assert!(text.contains(&format!("{n} requests")));
        assert_no_nan(&text);
        render_to(out.path(), &format!("{stem}.png"), &run);
        rendered += 1;
    }
    assert!(rendered > 0, "no recorded run in {}", dir.display());
}

/// A long open-loop run at sub-second timescales (like the simulator's): hundreds of rows, bars
/// still one per request, failure reasons only in the legend.
#[test]
fn many_short_requests() {
    let records: Vec<ProbeRecord> = (0..400u64)
        .map(|seq| {
            let intended = 0.002 * seq as f64;
            let sent = intended + if seq % 7 == 0 { 0.003 } else { 0.0 };
            let outcome = match seq % 50 {
                13 => Outcome::Http429,
                31 => Outcome::Transport,
                _ => Outcome::Success,
            };
            let took = 0.015 + 0.00005 * (seq % 17) as f64 * (seq % 5) as f64;
            record(seq, intended, sent, sent + took, outcome)
        })
        .collect();
    let failed = records.iter().filter(|r| !r.is_success()).count();
    let run = results(vec![phase(
        ProbeMode::Generate,
        Load::Open {
            rate: 500.0,
            duration_seconds: 0.8,
            max_in_flight: 50,
        },
        records,
    )]);
    let dir = tempfile::tempdir().unwrap();
    let svg = std::fs::read_to_string(render_to(dir.path(), "many.svg", &run)).unwrap();
    let fill = format!("opacity=\"1\" fill=\"{}\"", hex(FAILURE));
    let bars = svg
        .lines()
        .filter(|l| l.starts_with("<rect") && l.contains(&fill))
        .count();
    assert_eq!(bars, failed + 1);
    // reasons in the fixed outcome order
    let half = failed / 2;
    assert!(svg.contains(&format!("failed: transport {half}, http_429 {half}")));
    assert!(
        !svg.contains(">\nhttp_429\n<"),
        "per-bar labels on a crowded timeline"
    );
    assert_no_nan(&svg);
    let (facts, _) = png_facts(&render_to(dir.path(), "many.png", &run));
    assert!(facts.colours > 50);
}

/// A long target URL and many reasons still fit the figure: the title shrinks rather than
/// running off the edge.
#[test]
fn long_titles_shrink_to_fit() {
    let mut run = results(vec![closed_loop()]);
    run.config.url = format!(
        "https://inference.example.com/{}",
        "very-long-path/".repeat(5)
    );
    let dir = tempfile::tempdir().unwrap();
    let svg = std::fs::read_to_string(render_to(dir.path(), "long.svg", &run)).unwrap();
    let title_line = svg
        .lines()
        .position(|l| l.starts_with("fluxprobe — https://inference"))
        .expect("title");
    let tag = svg.lines().nth(title_line - 1).unwrap();
    let size: f64 = tag
        .split("font-size=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .and_then(|v| v.parse().ok())
        .expect("font size");
    // the SVG states plotters' size / 1.24; the default title is 34 / 1.24 ≈ 27.4
    assert!(size < 27.0, "title not shrunk: {size}");
    assert!(size * 1.24 >= 12.0);
}
