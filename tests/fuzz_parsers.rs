//! The fuzz targets of fuzz/ as property tests, so that every `cargo test` runs them: random
//! bytes, random JSON built from the values that break parsers ("1e400", "NaN", "-0", units,
//! nulls, deep nesting), and byte-level mutations of real bodies (this file's own samples, and
//! the captured responses and recorded runs of ../shared/fixtures/flux-api when present). Inputs
//! that once crashed a parser are kept in tests/fuzz_regressions/ and replayed here.

mod fuzz_support;

use proptest::prelude::*;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// Bodies of the API's shapes, written for these tests.
fn own_bodies() -> Vec<Vec<u8>> {
    [
        json!({"status": "healthy", "service": "flux", "version": "2.0"}),
        json!({"status": "success", "generation_time": "1.72s", "vram_usage_gb": "8.50GB",
               "image_url": "/images/a.png", "width": 512, "height": 512}),
        json!({"cuda_available": true, "device_count": 1, "gpus": [{"index": 0,
               "name": "NVIDIA GeForce RTX 5090", "memory_total": "31.4", "memory_allocated": "8.9",
               "memory_free": "22.5"}]}),
        json!({"queue_size": 0, "active_requests": 1, "max_concurrent": 1, "max_queue_size": 100}),
        json!({"request_id": "abc-1", "status": "completed", "created_at": 1.0e9,
               "started_at": 1.0e9 + 2.0, "completed_at": 1.0e9 + 3.8,
               "result": {"generation_time": "1.72s"}}),
        json!({"detail": [{"loc": ["body", "width"], "msg": "too big"}]}),
    ]
    .iter()
    .map(|v| v.to_string().into_bytes())
    .collect()
}

/// A results file of the seed tool's shape, written for these tests.
fn own_results() -> Vec<u8> {
    json!({
        "test_config": {"api_url": "http://localhost:8000", "num_requests": 2,
                        "concurrent_requests": 2, "test_type": "concurrent"},
        "system_status": {},
        "test_results": [
            {"request_id": "req_0000", "start_time": 1.0e9, "end_time": 1.0e9 + 1.8,
             "response_time": 1.8, "status_code": 200, "success": true, "error_message": "",
             "generation_time": 1.72, "vram_usage": "8.50GB", "image_size": "512x512"},
            {"request_id": "req_0001", "start_time": 1.0e9, "end_time": 1.0e9 + 3.6,
             "response_time": 3.6, "status_code": 500, "success": false,
             "error_message": "Queue is full", "generation_time": null, "vram_usage": null,
             "image_size": "512x512"}
        ]
    })
    .to_string()
    .into_bytes()
}

fn own_config() -> Vec<u8> {
    b"listen: 127.0.0.1:9464
defaults:
  timeout: 30s
  trickle: {interval: 10s, jitter: 1s}
targets:
  - name: gpu-a
    url: http://127.0.0.1:8000
    headers: {Authorization: Bearer ${TOKEN}}
    bursts:
      - {name: hourly, schedule: '0 * * * *', requests: 10, concurrency: 2, slo: 'p95<8s'}
"
    .to_vec()
}

fn shared_files(sub: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures/flux-api")
        .join(sub);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!(
            "{} is absent: fuzzing from this file's own samples only",
            dir.display()
        );
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    paths
        .into_iter()
        .filter_map(|p| std::fs::read(p).ok())
        .collect()
}

/// Captured responses are wrapped with their status; fuzz the body inside.
fn fixture_bodies() -> Vec<Vec<u8>> {
    shared_files("responses")
        .into_iter()
        .map(|f| match serde_json::from_slice::<Value>(&f) {
            Ok(v) if v.get("body").is_some() => v["body"].to_string().into_bytes(),
            _ => f,
        })
        .collect()
}

fn body_corpus() -> Vec<Vec<u8>> {
    let mut c = own_bodies();
    c.extend(fixture_bodies());
    c
}

fn results_corpus() -> Vec<Vec<u8>> {
    let mut c = vec![own_results()];
    c.extend(shared_files("recorded-runs"));
    c
}

/// One edit of a byte string.
#[derive(Debug, Clone)]
enum Edit {
    Flip(usize, u8),
    Insert(usize, Vec<u8>),
    Remove(usize, usize),
    Truncate(usize),
}

/// Tokens that break number, unit and string parsers.
const NASTY: &[&str] = &[
    "1e400",
    "-1e400",
    "NaN",
    "\"NaN\"",
    "-0",
    "\"-0\"",
    "null",
    "\"\"",
    "\"8.50GB\"",
    "\"1.72s\"",
    "\"inf\"",
    "18446744073709551616",
    "-1",
    "[[[[[[[[",
    "}}}}",
    "\"\\u0000\"",
    "\"\\ud800\"",
    "\u{feff}",
    "\"31.4\"",
    "\"8704MiB\"",
    "true",
    "{\"gpus\": [",
];

fn arb_edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Flip(i, b)),
        (
            any::<usize>(),
            prop_oneof![
                proptest::sample::select(NASTY).prop_map(|s| s.as_bytes().to_vec()),
                proptest::collection::vec(any::<u8>(), 1..8),
            ]
        )
            .prop_map(|(i, b)| Edit::Insert(i, b)),
        (any::<usize>(), 1usize..16).prop_map(|(i, n)| Edit::Remove(i, n)),
        any::<usize>().prop_map(Edit::Truncate),
    ]
}

fn apply(mut data: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        let len = data.len().max(1);
        match e {
            Edit::Flip(i, b) if !data.is_empty() => data[i % len] ^= b,
            Edit::Insert(i, bytes) => {
                let at = i % (data.len() + 1);
                data.splice(at..at, bytes.iter().copied());
            }
            Edit::Remove(i, n) if !data.is_empty() => {
                let at = i % len;
                let end = (at + n).min(data.len());
                data.drain(at..end);
            }
            Edit::Truncate(i) => data.truncate(i % (data.len() + 1)),
            _ => {}
        }
    }
    data
}

/// A mutated member of a corpus.
fn mutated(corpus: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    (
        proptest::sample::select(corpus),
        proptest::collection::vec(arb_edit(), 1..6),
    )
        .prop_map(|(base, edits)| apply(base, &edits))
}

/// Random JSON whose leaves are the values that break parsers.
fn nasty_json() -> impl Strategy<Value = Vec<u8>> {
    let leaf = prop_oneof![
        proptest::sample::select(NASTY).prop_map(str::to_string),
        any::<f64>().prop_map(|f| format!("{f:e}")),
        any::<i64>().prop_map(|i| i.to_string()),
        "[a-z0-9 .]{0,12}".prop_map(|s| format!("{s:?}")),
    ];
    let keys = proptest::sample::select(vec![
        "status",
        "generation_time",
        "vram_usage_gb",
        "gpus",
        "memory_total",
        "memory_allocated",
        "queue_size",
        "max_queue_size",
        "result",
        "detail",
        "created_at",
        "started_at",
        "completed_at",
        "request_id",
        "index",
        "name",
    ]);
    leaf.prop_recursive(6, 64, 8, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6)
                .prop_map(|v| format!("[{}]", v.join(","))),
            proptest::collection::vec((keys.clone(), inner), 0..6).prop_map(|kv| {
                let fields: Vec<String> =
                    kv.into_iter().map(|(k, v)| format!("{k:?}:{v}")).collect();
                format!("{{{}}}", fields.join(","))
            }),
        ]
    })
    .prop_map(String::into_bytes)
}

/// Results files whose fields hold the values that break parsers, so that the input gets past
/// the JSON parser to the reader and the report: (record, field, value) replacements.
fn results_with_nasty_fields() -> impl Strategy<Value = Vec<u8>> {
    const FIELDS: &[&str] = &[
        "request_id",
        "start_time",
        "end_time",
        "response_time",
        "status_code",
        "success",
        "error_message",
        "generation_time",
        "vram_usage",
        "image_size",
        "outcome",
        "intended_time",
        "sent_time",
        "queue_wait",
        "phase",
    ];
    (
        proptest::sample::select(results_corpus()),
        proptest::collection::vec(
            (
                any::<usize>(),
                proptest::sample::select(FIELDS),
                proptest::sample::select(NASTY),
            ),
            1..6,
        ),
    )
        .prop_map(|(base, edits)| {
            let Ok(mut v) = serde_json::from_slice::<Value>(&base) else {
                return base;
            };
            if let Some(records) = v["test_results"].as_array_mut() {
                let n = records.len().max(1);
                for (i, field, value) in edits {
                    if let Some(r) = records.get_mut(i % n).and_then(Value::as_object_mut) {
                        let value = serde_json::from_str(value)
                            .unwrap_or_else(|_| Value::String(value.to_string()));
                        r.insert(field.to_string(), value);
                    }
                }
            }
            v.to_string().into_bytes()
        })
}

fn any_bytes() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..512)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn units_take_anything(data in prop_oneof![any_bytes(), nasty_json(), mutated(body_corpus())]) {
        fuzz_support::units(&data);
    }

    #[test]
    fn wire_bodies_take_anything(data in prop_oneof![any_bytes(), nasty_json(), mutated(body_corpus())]) {
        fuzz_support::wire(&data);
    }

    #[test]
    fn configs_take_anything(data in prop_oneof![any_bytes(), mutated(vec![own_config()])]) {
        fuzz_support::config(&data);
    }
}

proptest! {
    // Each case renders two reports: fewer of them.
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn results_files_take_anything(
        data in prop_oneof![nasty_json(), mutated(results_corpus()), results_with_nasty_fields()]
    ) {
        fuzz_support::results(&data);
    }
}

/// Every input kept from a crash, replayed through its target (file names start with it).
#[test]
fn fuzz_regressions_stay_fixed() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_regressions");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let data = std::fs::read(&path).unwrap();
        let target: fn(&[u8]) = match name.split('-').next().unwrap() {
            "units" => fuzz_support::units,
            "wire" => fuzz_support::wire,
            "results" => fuzz_support::results,
            "config" => fuzz_support::config,
            _ => continue,
        };
        target(&data);
        n += 1;
    }
    assert!(n > 0, "no regression inputs in {}", dir.display());
}
