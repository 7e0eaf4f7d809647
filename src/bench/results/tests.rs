use super::*;
use crate::bench::model::Load;
use crate::bench::summary::tests::{phase, rec, results_of};
use crate::outcome::Outcome;
use crate::probe::ProbeMode;
use proptest::prelude::*;
use serde_json::json;

fn sample_results() -> BenchResults {
    let mut ok = rec(0, 0.0, 0.0, 5.421444416046143, Outcome::Success);
    ok.vram_raw = Some("8.50GB".into());
    ok.vram_bytes = Some(8.5 * 1024.0 * 1024.0 * 1024.0);
    ok.generation_time = Some(1.72);
    ok.parse_issues = vec!["model_type".into()];
    let mut full = rec(1, 0.1, 0.1, 2.0, Outcome::Rejected);
    full.http_status = Some(500);
    full.error = Some("HTTP 500: Failed to submit request: Queue is full".into());
    full.mode = ProbeMode::Queue;
    let mut queued = rec(0, 0.0, 0.05, 3.5, Outcome::Success);
    queued.mode = ProbeMode::Queue;
    queued.server_request_id = Some("5c1e8f3a".into());
    queued.server_queue_wait = Some(1.25);
    queued.server_service_time = Some(1.8);
    queued.first_byte = None;
    let mut warm = rec(7, -3.0, -3.0, -1.0, Outcome::Success);
    warm.warmup = true;
    let mut q = phase(
        vec![queued, full],
        Load::Closed {
            requests: 2,
            concurrency: 2,
        },
    );
    q.test_type = ProbeMode::Queue;
    q.wall_start = 1_755_695_990.5;
    q.not_started = 3;
    q.interrupted = true;
    let mut results = results_of(vec![
        phase(
            vec![warm, ok],
            Load::Closed {
                requests: 1,
                concurrency: 1,
            },
        ),
        q,
    ]);
    results.interrupted = true;
    results.config.header_names = vec!["Authorization".into()];
    results.config.slo = Some("p95<8s".into());
    results.config.rate = Some(0.5);
    results.system_status.health = Some(json!({"status": "healthy", "service": "FLUX API"}));
    results.system_status.gpu_info = Some(json!({"gpus": []}));
    results
        .system_status
        .errors
        .insert("queue_stats".into(), "connect: connection refused".into());
    results.system_status.timestamp = Some("2025-08-20T09:19:44.732252".into());
    results
}

#[test]
fn round_trip_is_exact_through_text() {
    let r = sample_results();
    let text = serde_json::to_string_pretty(&to_json(&r)).unwrap();
    let back = from_json(&serde_json::from_str(&text).unwrap()).unwrap();
    assert_eq!(back, r);
}

#[test]
fn seed_keys_are_present_and_typed() {
    let v = to_json(&sample_results());
    let cfg = &v["test_config"];
    assert_eq!(cfg["url"], "http://localhost:8000");
    assert_eq!(cfg["requests"], 4);
    assert_eq!(cfg["concurrent"], 2);
    assert_eq!(cfg["test_type"], "concurrent");
    for k in [
        "model_status",
        "gpu_info",
        "queue_stats",
        "timestamp",
        "health",
        "errors",
    ] {
        assert!(v["system_status"].get(k).is_some(), "system_status.{k}");
    }
    let first = &v["test_results"][1];
    assert_eq!(first["request_id"], "req_0000");
    assert_eq!(first["start_time"], 1_700_000_000.0);
    assert_eq!(first["end_time"], 1_700_000_000.0 + 5.421444416046143);
    assert_eq!(first["response_time"], 5.421444416046143);
    assert_eq!(first["status_code"], 200);
    assert_eq!(first["success"], true);
    assert_eq!(first["error_message"], "");
    assert_eq!(first["generation_time"], 1.72);
    assert_eq!(first["vram_usage"], "8.50GB");
    assert_eq!(first["image_size"], "1000x500");
    assert_eq!(first["phase"], "concurrent");
    assert_eq!(first["outcome"], "success");
    let rejected = &v["test_results"][3];
    assert_eq!(rejected["status_code"], 500);
    assert_eq!(rejected["success"], false);
    assert_eq!(rejected["outcome"], "rejected");
    assert_eq!(rejected["phase"], "queue");
    let queued = &v["test_results"][2];
    assert_eq!(queued["first_byte_time"], Value::Null);
    assert_eq!(queued["generation_time"], 1.0);
    assert_eq!(v["fluxprobe"]["schema_version"], 1);
    assert_eq!(v["fluxprobe"]["percentile_method"], "nearest-rank");
    assert_eq!(v["interrupted"], true);
    assert_eq!(v["summary"]["concurrent"]["total"], 1);
    assert_eq!(v["summary"]["queue"]["failed"], 1);
    assert_eq!(v["summary"]["queue"]["not_started"], 3);
}

/// A seed file written by hand: two successes, a 500 "Queue is full", a timeout (empty
/// message, no status) and a refused connection.
fn seed_file() -> Value {
    let e = |id: &str, start: f64, end: f64, code: u64, ok: bool, msg: &str| {
        json!({
            "request_id": id, "start_time": start, "end_time": end,
            "response_time": end - start, "status_code": code, "success": ok,
            "error_message": msg,
            "generation_time": if ok { json!(1.72) } else { Value::Null },
            "vram_usage": if ok { json!("8.50GB") } else { Value::Null },
            "image_size": "768x512",
        })
    };
    json!({
        "test_config": {"url": "http://gpu:8000", "requests": 5, "concurrent": 2, "test_type": "concurrent"},
        "system_status": {"model_status": {"model_loaded": true}, "gpu_info": null,
                          "queue_stats": {"queue_size": 0}, "timestamp": "2025-08-20T09:19:44"},
        "test_results": [
            e("req_0000", 1000.5, 1002.5, 200, true, ""),
            e("req_0001", 1000.0, 1004.0, 200, true, ""),
            e("req_0002", 1002.5, 1003.0, 500, false, "HTTP 500: Failed to submit request: Queue is full"),
            e("req_0003", 1003.0, 1303.0, 0, false, ""),
            e("req_0004", 1004.0, 1004.01, 0, false, "Cannot connect to host gpu:8000 ssl:default [Connect call failed]"),
        ]
    })
}

#[test]
fn seed_file_is_rebuilt() {
    let r = from_json(&seed_file()).unwrap();
    assert_eq!(r.tool_version, "seed");
    assert_eq!(r.config.url, "http://gpu:8000");
    assert_eq!((r.config.requests, r.config.concurrent), (5, 2));
    assert_eq!((r.config.width, r.config.height), (768, 512));
    assert_eq!(r.system_status.gpu_info, None);
    assert_eq!(
        r.system_status.model_status,
        Some(json!({"model_loaded": true}))
    );
    assert_eq!(r.phases.len(), 1);
    let p = &r.phases[0];
    assert_eq!(p.wall_start, 1000.0);
    assert_eq!(p.test_type, ProbeMode::Generate);
    assert_eq!(
        p.load,
        Load::Closed {
            requests: 5,
            concurrency: 2
        }
    );
    let outcomes: Vec<Outcome> = p.records.iter().map(|r| r.outcome).collect();
    assert_eq!(
        outcomes,
        vec![
            Outcome::Success,
            Outcome::Success,
            Outcome::Rejected,
            Outcome::Timeout,
            Outcome::Connect
        ]
    );
    let first = &p.records[0];
    assert_eq!((first.intended, first.sent, first.done), (0.5, 0.5, 2.5));
    assert_eq!(first.vram_bytes, Some(8.5 * 1024.0 * 1024.0 * 1024.0));
    assert_eq!(first.vram_raw.as_deref(), Some("8.50GB"));
    assert_eq!(p.records[3].http_status, None);
    assert_eq!(p.records[2].http_status, Some(500));
    assert_eq!(p.records[4].seq, 4);
    // [0,4] [0.5,2.5] [2.5,3] [3,303] [4,4.01]: at most 2 at once (an end before a start).
    assert_eq!(p.peak_in_flight, 2);
}

#[test]
fn seed_outcomes_from_status_and_message() {
    use super::read::seed_outcome;
    assert_eq!(seed_outcome(Some(true), Some(200), ""), Outcome::Success);
    assert_eq!(seed_outcome(None, Some(200), ""), Outcome::Success);
    assert_eq!(
        seed_outcome(Some(false), Some(200), "bad json"),
        Outcome::InvalidBody
    );
    assert_eq!(
        seed_outcome(Some(false), Some(503), "Model not ready"),
        Outcome::NotReady
    );
    assert_eq!(seed_outcome(Some(false), Some(422), ""), Outcome::Http4xx);
    assert_eq!(seed_outcome(Some(false), Some(429), ""), Outcome::Http429);
    assert_eq!(
        seed_outcome(Some(false), None, "Server disconnected"),
        Outcome::Transport
    );
    assert_eq!(
        seed_outcome(Some(false), None, "Connection timeout to host"),
        Outcome::Timeout
    );
    assert_eq!(
        seed_outcome(
            Some(false),
            None,
            "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"
        ),
        Outcome::Tls
    );
}

#[test]
fn not_results_files_are_errors_not_panics() {
    assert!(matches!(
        from_json(&json!([1, 2])),
        Err(ResultsError::NotAnObject)
    ));
    assert!(matches!(
        from_json(&json!({"a": 1})),
        Err(ResultsError::NoResults)
    ));
    assert!(matches!(
        from_json(&json!({"test_results": "x"})),
        Err(ResultsError::NoResults)
    ));
}

#[test]
fn garbage_fields_fall_back() {
    let v = json!({
        "test_config": {"url": 5, "requests": "many", "concurrent": -1, "test_type": []},
        "system_status": "down",
        "test_results": [
            7,
            {"start_time": "soon", "response_time": "1.5s", "success": "yes", "status_code": 99999,
             "generation_time": "N/A", "vram_usage": {"x": 1}, "image_size": "big", "request_id": "r"},
            {}
        ]
    });
    let r = from_json(&v).unwrap();
    assert_eq!(r.config.url, "5");
    assert_eq!(r.config.requests, 0);
    assert_eq!(r.config.concurrent, 0);
    let recs = &r.phases[0].records;
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0].outcome, Outcome::Success);
    assert_eq!(recs[0].response_time(), 1.5);
    assert_eq!(recs[0].http_status, None);
    assert_eq!(recs[0].generation_time, None);
    assert_eq!(recs[1].outcome, Outcome::Timeout);
    // No request id: its position among the entries that are objects.
    assert_eq!(recs[1].seq, 1);
}

#[test]
fn write_atomic_replaces_and_leaves_no_temp_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.json");
    std::fs::write(&path, "old").unwrap();
    let r = sample_results();
    save(&r, &path).unwrap();
    let back = read_file(&path).unwrap();
    assert_eq!(back, r);
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["out.json"]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_ne!(
            mode & 0o044,
            0,
            "results file should be readable by others, got {mode:o}"
        );
    }
    let missing = dir.path().join("no/such/dir/out.json");
    assert!(matches!(
        save(&r, &missing),
        Err(ResultsError::Write { .. })
    ));
}

#[test]
fn default_name_uses_the_given_time() {
    use chrono::TimeZone;
    let t = chrono::FixedOffset::east_opt(8 * 3600)
        .unwrap()
        .with_ymd_and_hms(2025, 8, 20, 9, 20, 2)
        .unwrap();
    assert_eq!(
        default_results_name(&t),
        "throughput_test_results_20250820_092002.json"
    );
}

fn arb_outcome() -> impl Strategy<Value = Outcome> {
    proptest::sample::select(Outcome::ALL.to_vec())
}

fn arb_record() -> impl Strategy<Value = ProbeRecord> {
    (
        (
            0u64..100_000,
            any::<bool>(),
            -10.0f64..1e4,
            0.0f64..5.0,
            0.0f64..600.0,
            arb_outcome(),
        ),
        (
            proptest::option::of(100u16..600),
            proptest::option::of("[a-zA-Z0-9 :]{1,30}"),
            proptest::option::of(0.0f64..100.0),
            proptest::option::of(0.0f64..4e10),
            proptest::option::of("[0-9.]{1,5}GB"),
            (1u32..4096, 1u32..4096, 0u32..100, any::<u64>()),
            proptest::option::of(0.0f64..10.0),
        ),
    )
        .prop_map(
            |(
                (seq, warmup, intended, lag, dur, outcome),
                (status, err, gen_t, vb, vr, (w, h, steps, bytes), q),
            )| {
                let mut r = rec(seq, intended, intended + lag, intended + lag + dur, outcome);
                r.warmup = warmup;
                r.http_status = status;
                r.error = err;
                r.generation_time = gen_t;
                r.vram_bytes = vb;
                r.vram_raw = vr;
                r.width = w;
                r.height = h;
                r.steps = steps;
                r.bytes_received = bytes;
                r.server_queue_wait = q;
                r.first_byte = if lag > 2.5 {
                    None
                } else {
                    Some(intended + lag)
                };
                r
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_results_round_trip_exactly(
        records in proptest::collection::vec(arb_record(), 0..20),
        queue in proptest::collection::vec(arb_record(), 0..5),
        wall in 1.0e9f64..2.0e9,
    ) {
        let mut p = phase(records, Load::Open { rate: 0.3, duration_seconds: 60.0, max_in_flight: 9 });
        p.wall_start = wall;
        let mut q = phase(queue, Load::Closed { requests: 5, concurrency: 1 });
        q.test_type = ProbeMode::Queue;
        for r in &mut q.records { r.mode = ProbeMode::Queue; }
        let r = BenchResults { phases: vec![p, q], ..results_of(vec![]) };
        let text = serde_json::to_string(&to_json(&r)).unwrap();
        let back = from_json(&serde_json::from_str(&text).unwrap()).unwrap();
        prop_assert_eq!(back, r);
    }

    #[test]
    fn arbitrary_json_never_panics(v in arb_json()) {
        let _ = from_json(&v);
        let _ = from_json(&json!({"test_results": [v.clone()], "test_config": v.clone(), "system_status": v.clone()}));
        let _ = from_json(&json!({"fluxprobe": {"phases": [v.clone()]}, "test_results": [v]}));
    }
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        any::<i64>().prop_map(|i| json!(i)),
        "[a-z_0-9x.]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(
                proptest::sample::select(vec![
                    "start_time",
                    "end_time",
                    "response_time",
                    "status_code",
                    "success",
                    "error_message",
                    "image_size",
                    "phase",
                    "outcome",
                    "load",
                    "test_type",
                    "intended_time",
                    "done_time",
                    "seq",
                    "request_id",
                    "vram_usage",
                    "url",
                ])
                .prop_map(str::to_string),
                inner,
                0..8
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}
