//! The Grafana dashboards in dashboards/: valid current-schema JSON with unique uids, the
//! `datasource` / `prober` / `target` / `probe` variables, no datasource uid other than the
//! variable, every panel with a datasource, queries, a title, a description and a unit; every
//! metric a query reads (panels, annotations, variables) is in `METRICS` with its own labels,
//! aggregated so several probers add up, filtered by the variables; every exported metric is shown
//! somewhere; every query is plain PromQL once Grafana's variables are substituted (promtool
//! parses them all); the provisioning files parse and point where the docs say.

mod monitoring;

use fluxprobe::serve::metrics::METRICS;
use monitoring::grafana::{
    all_queries, dashboard, dashboards, data_panels, panels, variable, variable_query,
};
use monitoring::promql::{
    check_selector, resolve, selectors, split_label_values, substitute_grafana_vars,
};
use monitoring::{files_in, promtool, read, run_promtool};
use serde_json::Value;
use std::collections::BTreeSet;

const DATASOURCE_REFS: &[&str] = &["${datasource}", "$datasource"];
const MIN_SCHEMA_VERSION: u64 = 39;
const UNITS: &[&str] = &[
    "s",
    "bytes",
    "percentunit",
    "reqps",
    "short",
    "none",
    "dateTimeAsIso",
];
const DASHBOARD_PATH: &str = "/var/lib/grafana/dashboards/fluxprobe";

/// Recording rules (with colons) are not used by the dashboards: they must work without the
/// rules loaded. An empty set makes any colon name an error.
fn no_recorded() -> BTreeSet<String> {
    BTreeSet::new()
}

#[test]
fn dashboards_have_current_schema_unique_uids_and_titles() {
    let mut uids = BTreeSet::new();
    for (name, d) in dashboards() {
        let schema = d["schemaVersion"].as_u64().unwrap_or(0);
        assert!(
            schema >= MIN_SCHEMA_VERSION,
            "{name}: schemaVersion {schema} < {MIN_SCHEMA_VERSION}"
        );
        let uid = d["uid"].as_str().unwrap_or_default();
        assert!(
            !uid.is_empty() && uid.len() <= 40,
            "{name}: uid {uid:?} empty or longer than 40"
        );
        assert!(uids.insert(uid.to_string()), "{name}: uid {uid} used twice");
        assert!(
            d["title"].as_str().is_some_and(|t| !t.is_empty()),
            "{name}: no title"
        );
        assert!(
            d["tags"]
                .as_array()
                .is_some_and(|t| t.iter().any(|x| x == "fluxprobe")),
            "{name}: tag fluxprobe missing (the dashboard links use it)"
        );
        assert!(
            d.get("id").is_none_or(Value::is_null),
            "{name}: drop the instance id"
        );
    }
}

#[test]
fn variables_datasource_prober_target_probe() {
    for (name, d) in dashboards() {
        let ds =
            variable(&d, "datasource").unwrap_or_else(|| panic!("{name}: no datasource variable"));
        assert_eq!(ds["type"], "datasource", "{name}: datasource variable type");
        assert_eq!(
            ds["query"], "prometheus",
            "{name}: datasource variable must be of type prometheus"
        );
        for var in ["prober", "target", "probe"] {
            let v = variable(&d, var).unwrap_or_else(|| panic!("{name}: no {var} variable"));
            assert_eq!(v["type"], "query", "{name}: {var}");
            assert_eq!(v["multi"], true, "{name}: {var} must be multi-value");
            assert_eq!(v["includeAll"], true, "{name}: {var} must include All");
            assert_eq!(
                v["allValue"], ".*",
                "{name}: {var}: All must match series without the label too"
            );
            let query = variable_query(&v);
            assert!(
                query.starts_with("label_values("),
                "{name}: {var} must be a label_values query"
            );
            let (_, label) = split_label_values(&query).unwrap();
            assert_eq!(label, var, "{name}: {var} lists the wrong label");
        }
    }
}

/// Walks the JSON; every `datasource` (object or string) refers to the variable, and no other
/// `uid` exists besides the dashboard's own.
#[test]
fn no_datasource_uid_other_than_the_variable() {
    fn walk(name: &str, path: &str, v: &Value) {
        match v {
            Value::Object(map) => {
                for (k, child) in map {
                    let here = format!("{path}.{k}");
                    if k == "datasource" {
                        match child {
                            Value::Object(ds) => {
                                let uid = ds.get("uid").and_then(Value::as_str).unwrap_or_default();
                                assert!(
                                    DATASOURCE_REFS.contains(&uid),
                                    "{name}: {here} has uid {uid:?}"
                                );
                                assert_eq!(
                                    ds.get("type").and_then(Value::as_str),
                                    Some("prometheus"),
                                    "{name}: {here}"
                                );
                            }
                            Value::String(s) => {
                                assert!(
                                    DATASOURCE_REFS.contains(&s.as_str()),
                                    "{name}: {here} = {s:?}"
                                )
                            }
                            other => panic!("{name}: {here} = {other}"),
                        }
                    } else if k == "uid" && !path.is_empty() {
                        panic!("{name}: {here}: a uid outside a datasource reference");
                    } else {
                        walk(name, &here, child);
                    }
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    walk(name, &format!("{path}[{i}]"), item);
                }
            }
            _ => {}
        }
    }
    for (name, d) in dashboards() {
        walk(&name, "", &d);
    }
}

#[test]
fn every_panel_has_datasource_queries_title_description_unit_and_fits() {
    for (name, d) in dashboards() {
        let mut ids = BTreeSet::new();
        for p in panels(&d) {
            let title = p["title"].as_str().unwrap_or_default().to_string();
            assert!(!title.is_empty(), "{name}: a panel without title");
            let id = p["id"]
                .as_u64()
                .unwrap_or_else(|| panic!("{name}: {title}: no id"));
            assert!(ids.insert(id), "{name}: panel id {id} twice");
            let g = &p["gridPos"];
            let (x, w, h) = (g["x"].as_u64(), g["w"].as_u64(), g["h"].as_u64());
            assert!(
                matches!((x, w, h), (Some(x), Some(w), Some(h)) if x + w <= 24 && w > 0 && h > 0),
                "{name}: {title}: gridPos {g}"
            );
            if p["type"] == "row" {
                continue;
            }
            assert!(
                p["datasource"]["uid"]
                    .as_str()
                    .is_some_and(|u| DATASOURCE_REFS.contains(&u)),
                "{name}: {title}: no datasource"
            );
            assert!(
                p["description"].as_str().is_some_and(|s| !s.is_empty()),
                "{name}: {title}: no description"
            );
            let unit = p["fieldConfig"]["defaults"]["unit"]
                .as_str()
                .unwrap_or_default();
            assert!(
                UNITS.contains(&unit),
                "{name}: {title}: unit {unit:?} not in {UNITS:?}"
            );
            let targets = p["targets"].as_array().cloned().unwrap_or_default();
            assert!(!targets.is_empty(), "{name}: {title}: no queries");
            let mut refs = BTreeSet::new();
            for t in &targets {
                assert!(
                    t["expr"].as_str().is_some_and(|e| !e.trim().is_empty()),
                    "{name}: {title}: empty query"
                );
                assert!(
                    t["datasource"]["uid"]
                        .as_str()
                        .is_some_and(|u| DATASOURCE_REFS.contains(&u)),
                    "{name}: {title}: a query without datasource"
                );
                let r = t["refId"].as_str().unwrap_or_default().to_string();
                assert!(
                    !r.is_empty() && refs.insert(r.clone()),
                    "{name}: {title}: refId {r:?}"
                );
            }
        }
    }
}

#[test]
fn every_metric_in_every_query_is_in_metrics() {
    let recorded = no_recorded();
    for q in all_queries() {
        let sels = selectors(&q.expr)
            .unwrap_or_else(|e| panic!("{} {}: {e}\n{}", q.dashboard, q.place, q.expr));
        assert!(
            !sels.is_empty(),
            "{} {}: reads no metric",
            q.dashboard,
            q.place
        );
        for s in &sels {
            check_selector(s, &recorded)
                .unwrap_or_else(|e| panic!("{} {}: {e}\n{}", q.dashboard, q.place, q.expr));
        }
    }
}

/// Every selector of a fluxprobe metric filters by the variables its labels allow, and every
/// panel query aggregates (`… by (…)`) so series of several probers and instances add up.
#[test]
fn queries_filter_by_the_variables_and_aggregate() {
    for q in all_queries() {
        let is_variable = q.place.starts_with("variable");
        if !is_variable {
            assert!(
                q.expr.contains(" by ("),
                "{} {}: aggregate with `… by (target, …)`: {}",
                q.dashboard,
                q.place,
                q.expr
            );
        }
        for s in selectors(&q.expr).unwrap() {
            let Some((def, _)) = resolve(&s.name) else {
                continue;
            };
            // The prober variable lists the probers; the others narrow by it.
            let mut wanted = if q.place == "variable \"prober\"" {
                vec![]
            } else {
                vec!["prober"]
            };
            if !is_variable {
                wanted.extend(
                    def.labels
                        .iter()
                        .filter(|l| ["target", "probe"].contains(l)),
                );
            }
            for label in wanted {
                assert!(
                    s.labels.iter().any(|l| l == label),
                    "{} {}: {} does not filter by ${label}",
                    q.dashboard,
                    q.place,
                    s.name
                );
            }
        }
    }
}

#[test]
fn every_exported_metric_is_shown() {
    let mut shown = BTreeSet::new();
    for q in all_queries() {
        for s in selectors(&q.expr).unwrap() {
            if let Some((def, _)) = resolve(&s.name) {
                shown.insert(def.name);
            }
        }
    }
    let missing: Vec<&str> = METRICS
        .iter()
        .map(|m| m.name)
        .filter(|n| !shown.contains(n))
        .collect();
    assert!(missing.is_empty(), "metrics on no dashboard: {missing:?}");
}

/// The panels the operators rely on, by what they query.
#[test]
fn the_expected_panels_are_there() {
    let overview = dashboard("overview.json");
    let gpu = dashboard("gpu.json");
    let find = |d: &Value, pred: &dyn Fn(&Value, &str) -> bool| -> Vec<Value> {
        data_panels(d)
            .into_iter()
            .filter(|p| {
                p["targets"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|t| pred(p, t["expr"].as_str().unwrap_or_default()))
            })
            .collect()
    };
    let unit = |p: &Value| {
        p["fieldConfig"]["defaults"]["unit"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };

    let quantiles = find(&overview, &|_, e| {
        e.contains("histogram_quantile(")
            && e.contains("fluxprobe_request_duration_seconds_bucket")
            && e.contains("outcome=\"success\"")
    });
    assert_eq!(quantiles.len(), 1, "one response-time quantile panel");
    let exprs: Vec<String> = quantiles[0]["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["expr"].as_str().unwrap().to_string())
        .collect();
    for q in ["0.5,", "0.95,", "0.99,"] {
        assert!(
            exprs
                .iter()
                .any(|e| e.contains(&format!("histogram_quantile({q}"))),
            "response time quantile {q} missing"
        );
    }
    assert_eq!(unit(&quantiles[0]), "s");

    let heatmaps = find(&overview, &|p, e| {
        p["type"] == "heatmap" && e.contains("fluxprobe_request_duration_seconds_bucket")
    });
    assert_eq!(heatmaps.len(), 1, "a response-time heatmap");
    assert_eq!(heatmaps[0]["targets"][0]["format"], "heatmap");

    let throughput = find(&overview, &|_, e| {
        e.contains("fluxprobe_burst_last_throughput_requests_per_second")
    });
    assert!(
        throughput.iter().any(|p| unit(p) == "reqps"),
        "throughput in reqps"
    );
    let last_burst = find(&overview, &|p, e| {
        p["type"] == "table" && e.contains("fluxprobe_burst_last_end_timestamp_seconds")
    });
    assert_eq!(last_burst.len(), 1, "a last-burst table");
    let ratio = find(&overview, &|p, e| {
        p["type"] == "timeseries"
            && e.contains("fluxprobe_request_failures_total")
            && e.contains("fluxprobe_requests_total")
    });
    assert!(
        ratio.iter().any(|p| unit(p) == "percentunit"),
        "success ratio in percent"
    );
    let bursts = overview["annotations"]["list"].as_array().unwrap();
    assert!(
        bursts.iter().any(|a| a["expr"]
            .as_str()
            .unwrap_or("")
            .contains("fluxprobe_burst_running")),
        "burst runs as annotations"
    );

    let projection = find(&gpu, &|_, e| {
        e.contains("predict_linear(fluxprobe_target_gpu_memory_allocated_bytes")
    });
    assert_eq!(projection.len(), 1, "a VRAM projection panel");
    assert_eq!(unit(&projection[0]), "bytes");
    let vram_ratio = find(&gpu, &|_, e| {
        e.contains("fluxprobe_target_gpu_memory_allocated_bytes")
            && e.contains("/ max by (target, gpu) (fluxprobe_target_gpu_memory_total_bytes")
    });
    assert!(
        vram_ratio.iter().any(|p| unit(p) == "percentunit"),
        "VRAM allocated / total in percent"
    );
    let latency = find(&gpu, &|_, e| {
        e.contains("fluxprobe_target_stats_scrape_duration_seconds")
    });
    assert_eq!(latency.len(), 1, "a status-scrape latency panel");
    assert!(
        latency[0]["description"]
            .as_str()
            .unwrap_or("")
            .contains("event loop is blocked by generations"),
        "the scrape latency panel explains the blocked event loop"
    );
}

/// Every query parses as PromQL once the variables are substituted as the end-to-end test will
/// (`$__rate_interval` → 1m, the others → `.*`): promtool checks them as recording rules.
#[test]
fn every_query_is_plain_promql_after_substitution() {
    let mut rules = String::from("groups:\n  - name: dashboard-queries\n    rules:\n");
    for (i, q) in all_queries().iter().enumerate() {
        let plain = substitute_grafana_vars(&q.expr);
        assert!(
            !plain.contains('$'),
            "{} {}: variable left: {plain}",
            q.dashboard,
            q.place
        );
        rules.push_str(&format!(
            "      - record: dashboard_query_{i}\n        expr: {}\n",
            serde_json::to_string(&plain).unwrap()
        ));
    }
    let Some(bin) = promtool() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("queries.yml");
    std::fs::write(&path, rules).expect("writing the queries");
    run_promtool(&bin, &["check", "rules", path.to_str().unwrap()]);
}

#[test]
fn provisioning_files_parse_and_point_at_the_dashboards() {
    let ds: Value =
        serde_saphyr::from_str(&read("dashboards/provisioning/datasources/fluxprobe.yml"))
            .expect("datasource provisioning YAML");
    assert_eq!(ds["apiVersion"], 1);
    let sources = ds["datasources"].as_array().expect("datasources");
    assert!(
        sources.iter().any(|s| s["type"] == "prometheus"
            && s["url"].as_str().is_some_and(|u| u.starts_with("http"))),
        "a prometheus datasource with a URL"
    );

    let dp: Value =
        serde_saphyr::from_str(&read("dashboards/provisioning/dashboards/fluxprobe.yml"))
            .expect("dashboard provisioning YAML");
    assert_eq!(dp["apiVersion"], 1);
    let providers = dp["providers"].as_array().expect("providers");
    assert_eq!(providers.len(), 1);
    assert_eq!(providers[0]["type"], "file");
    assert_eq!(providers[0]["options"]["path"], DASHBOARD_PATH);

    // Any further provisioning file must parse too.
    let extra = files_in("dashboards/provisioning/datasources", "yml")
        .into_iter()
        .chain(files_in("dashboards/provisioning/dashboards", "yml"));
    for f in extra {
        let text = std::fs::read_to_string(&f).unwrap();
        let _: Value =
            serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
    }
}
