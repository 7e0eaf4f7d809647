//! The Grafana dashboards under dashboards/: loading them, walking their panels and variables,
//! and every PromQL query they hold (panels, annotations, variable selectors), which the
//! dashboard test checks and an end-to-end test can run against a live Prometheus.

use super::{files_in, promql::split_label_values};
use serde_json::Value;

pub const DASHBOARDS_DIR: &str = "dashboards";

/// One query of a dashboard: where it is, and its PromQL as Grafana stores it.
#[derive(Debug, Clone)]
pub struct Query {
    pub dashboard: String,
    pub place: String,
    pub expr: String,
}

pub fn dashboards() -> Vec<(String, Value)> {
    let files = files_in(DASHBOARDS_DIR, "json");
    assert!(
        files.len() >= 2,
        "expected overview.json and gpu.json in {DASHBOARDS_DIR}"
    );
    files
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&p).expect("reading a dashboard");
            let v: Value =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: invalid JSON: {e}"));
            (name, v)
        })
        .collect()
}

pub fn dashboard(name: &str) -> Value {
    dashboards()
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("{name} missing"))
        .1
}

/// Panels, with the panels nested in rows.
pub fn panels(d: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    for p in d["panels"].as_array().expect("panels").iter() {
        out.push(p.clone());
        if let Some(nested) = p["panels"].as_array() {
            out.extend(nested.iter().cloned());
        }
    }
    out
}

pub fn data_panels(d: &Value) -> Vec<Value> {
    panels(d)
        .into_iter()
        .filter(|p| p["type"] != "row")
        .collect()
}

pub fn variables(d: &Value) -> Vec<Value> {
    d["templating"]["list"]
        .as_array()
        .expect("templating.list")
        .clone()
}

pub fn variable(d: &Value, name: &str) -> Option<Value> {
    variables(d).into_iter().find(|v| v["name"] == name)
}

pub fn variable_query(v: &Value) -> String {
    match &v["query"] {
        Value::String(s) => s.clone(),
        Value::Object(o) => o
            .get("query")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        _ => String::new(),
    }
}

/// Every PromQL query of a dashboard: panel targets, annotations and the selectors of
/// `label_values` variable queries. The later end-to-end test runs these against Prometheus.
pub fn queries(name: &str, d: &Value) -> Vec<Query> {
    let mut out = Vec::new();
    for p in data_panels(d) {
        for t in p["targets"].as_array().cloned().unwrap_or_default() {
            out.push(Query {
                dashboard: name.into(),
                place: format!("panel {:?} target {}", p["title"], t["refId"]),
                expr: t["expr"].as_str().unwrap_or_default().to_string(),
            });
        }
    }
    for a in d["annotations"]["list"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        if let Some(expr) = a["expr"].as_str() {
            out.push(Query {
                dashboard: name.into(),
                place: format!("annotation {:?}", a["name"]),
                expr: expr.to_string(),
            });
        }
    }
    for v in variables(d) {
        if v["type"] == "query" {
            let q = variable_query(&v);
            let (selector, _) = split_label_values(&q).unwrap_or_else(|| {
                panic!("{name}: variable {} is not label_values: {q}", v["name"])
            });
            out.push(Query {
                dashboard: name.into(),
                place: format!("variable {}", v["name"]),
                expr: selector.to_string(),
            });
        }
    }
    out
}

pub fn all_queries() -> Vec<Query> {
    dashboards()
        .iter()
        .flat_map(|(n, d)| queries(n, d))
        .collect()
}
