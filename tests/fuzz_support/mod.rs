//! What each fuzz target does with one input, shared by the cargo-fuzz targets in fuzz/ (which
//! include this file by path) and the property tests in tests/fuzz_parsers.rs (which run in every
//! `cargo test`). Each function feeds raw bytes to one parser of untrusted input and checks the
//! promises it makes; a panic is a finding.
#![allow(dead_code)]

use fluxprobe::api::units::{self, Parsed};
use fluxprobe::api::wire::{
    self, Body, GpuInfo, Health, ModelStatus, QueueStats, RequestStatus, Submitted,
};
use fluxprobe::bench::{report, results};
use fluxprobe::cli::Lang;
use serde_json::Value;

fn finite(what: &str, p: Parsed<f64>) {
    if let Parsed::Ok(v) = p {
        assert!(v.is_finite(), "{what} gave {v}");
    }
}

/// The unit parser: any value, as JSON if it is JSON and as a string either way.
pub fn units(data: &[u8]) {
    let text = String::from_utf8_lossy(data).into_owned();
    let mut values = vec![Value::String(text)];
    if let Ok(v) = serde_json::from_slice::<Value>(data) {
        values.push(v);
    }
    for v in &values {
        finite("seconds", units::seconds(Some(v)));
        finite("gib_bytes", units::gib_bytes(Some(v)));
        finite("number", units::number(Some(v)));
        let _ = units::count(Some(v));
        let _ = units::boolean(Some(v));
        let _ = units::text(Some(v));
        if let Parsed::Ok(b) = units::gib_bytes(Some(v)) {
            let _ = units::format_gib(b);
        }
    }
}

/// Every body type of the API, from the same bytes.
pub fn wire(data: &[u8]) {
    let Ok(body) = Body::parse(data) else {
        return;
    };
    let _ = Health::from_body(&body).is_ready();
    let _ = ModelStatus::from_body(&body);
    let gpus = GpuInfo::from_body(&body);
    assert!(
        gpus.gpus.len() <= wire::MAX_GPUS,
        "{} GPUs kept",
        gpus.gpus.len()
    );
    let _ = QueueStats::from_body(&body);
    let g = wire::Generated::from_body(&body);
    if let Some(t) = g.generation_time_seconds {
        assert!(t.is_finite(), "generation time {t}");
    }
    let _ = Submitted::from_body(&body);
    let s = RequestStatus::from_body(&body);
    for w in [s.queue_wait_seconds(), s.service_seconds()]
        .into_iter()
        .flatten()
    {
        assert!(w.is_finite(), "queue figure {w}");
    }
    let _ = wire::error_detail(&body);
}

/// The results-file reader (fluxprobe's files and the seed tool's), then everything that is
/// made from what it read: the report in both languages and the JSON summary.
pub fn results(data: &[u8]) {
    let Ok(v) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let Ok(r) = results::from_json(&v) else {
        return;
    };
    let _ = report::render_report(&r, Lang::En);
    let _ = report::render_report(&r, Lang::Zh);
    let _ = results::summary_json(&r);
    let _ = results::to_json(&r);
}

/// The serve configuration loader, with an environment that knows one variable.
pub fn config(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let env = |name: &str| (name == "TOKEN").then(|| "secret-value".to_string());
    if let Err(e) = fluxprobe::serve::config::parse(&text, "fuzz.yml", &env) {
        let shown = e.to_string();
        assert!(
            !shown.contains("secret-value"),
            "a secret in an error: {shown}"
        );
    }
}
