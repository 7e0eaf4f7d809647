//! PromQL as the tests need it: the metric selectors of an expression, checked against
//! `fluxprobe::serve::metrics::METRICS`, and Grafana queries turned into plain PromQL.

use fluxprobe::serve::metrics::{self, MetricKind};
use std::collections::BTreeSet;

/// One metric selector of an expression: the metric name (empty for a bare `{...}`) and the
/// label names its matchers use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    pub name: String,
    pub labels: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Braces(Vec<String>),
    Punct(char),
    Literal,
}

const AGGREGATIONS: &[&str] = &[
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
];

const FUNCTIONS: &[&str] = &[
    "abs",
    "absent",
    "absent_over_time",
    "acos",
    "acosh",
    "asin",
    "asinh",
    "atan",
    "atanh",
    "avg_over_time",
    "ceil",
    "changes",
    "clamp",
    "clamp_max",
    "clamp_min",
    "cos",
    "cosh",
    "count_over_time",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "days_in_month",
    "deg",
    "delta",
    "deriv",
    "exp",
    "floor",
    "histogram_quantile",
    "holt_winters",
    "hour",
    "idelta",
    "increase",
    "irate",
    "label_join",
    "label_replace",
    "last_over_time",
    "ln",
    "log10",
    "log2",
    "max_over_time",
    "min_over_time",
    "minute",
    "month",
    "pi",
    "predict_linear",
    "present_over_time",
    "quantile_over_time",
    "rad",
    "rate",
    "resets",
    "round",
    "scalar",
    "sgn",
    "sin",
    "sinh",
    "sort",
    "sort_desc",
    "sqrt",
    "stddev_over_time",
    "stdvar_over_time",
    "sum_over_time",
    "tan",
    "tanh",
    "time",
    "timestamp",
    "vector",
    "year",
];

/// Followed by a parenthesised list of label names.
const GROUPING: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];
const KEYWORDS: &[&str] = &[
    "and", "or", "unless", "bool", "offset", "inf", "nan", "atan2",
];

fn skip_string(c: &[char], start: usize) -> Result<usize, String> {
    let quote = c[start];
    let mut i = start + 1;
    while i < c.len() {
        if c[i] == '\\' && quote != '`' {
            i += 2;
            continue;
        }
        if c[i] == quote {
            return Ok(i + 1);
        }
        i += 1;
    }
    Err("unterminated string".into())
}

fn is_ident_start(ch: char) -> bool {
    ch.is_ascii_alphabetic() || ch == '_' || ch == ':'
}

fn is_ident_char(ch: char) -> bool {
    ch.is_ascii_alphanumeric() || ch == '_' || ch == ':'
}

fn tokenize(expr: &str) -> Result<Vec<Tok>, String> {
    let c: Vec<char> = expr.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        if ch.is_whitespace() {
            i += 1;
        } else if ch == '#' {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '"' || ch == '\'' || ch == '`' {
            i = skip_string(&c, i)?;
            toks.push(Tok::Literal);
        } else if ch == '[' {
            // A range or subquery: durations only (a Grafana variable is allowed here).
            let end = c[i..]
                .iter()
                .position(|&x| x == ']')
                .ok_or("unterminated range")?;
            i += end + 1;
            toks.push(Tok::Literal);
        } else if ch == '{' {
            let mut labels = Vec::new();
            i += 1;
            loop {
                let Some(&x) = c.get(i) else {
                    return Err("unterminated label matchers".into());
                };
                if x == '}' {
                    i += 1;
                    break;
                } else if x == '"' || x == '\'' || x == '`' {
                    i = skip_string(&c, i)?;
                } else if x == '$' {
                    return Err("template variable outside a string in label matchers".into());
                } else if is_ident_start(x) {
                    let s = i;
                    while i < c.len() && is_ident_char(c[i]) {
                        i += 1;
                    }
                    labels.push(c[s..i].iter().collect());
                } else {
                    i += 1;
                }
            }
            toks.push(Tok::Braces(labels));
        } else if is_ident_start(ch) {
            let s = i;
            while i < c.len() && is_ident_char(c[i]) {
                i += 1;
            }
            toks.push(Tok::Ident(c[s..i].iter().collect()));
        } else if ch.is_ascii_digit() || ch == '.' {
            while i < c.len() {
                let x = c[i];
                let exponent_sign =
                    (x == '-' || x == '+') && i > 0 && matches!(c[i - 1], 'e' | 'E');
                if x.is_ascii_alphanumeric() || x == '.' || x == '_' || exponent_sign {
                    i += 1;
                } else {
                    break;
                }
            }
            toks.push(Tok::Literal);
        } else if ch == '$' {
            return Err(format!(
                "template variable outside a string or range at {:?}",
                c[i..].iter().take(20).collect::<String>()
            ));
        } else {
            toks.push(Tok::Punct(ch));
            i += 1;
        }
    }
    Ok(toks)
}

/// Index just after the parenthesis that closes the one at `open`.
fn skip_parens(toks: &[Tok], open: usize) -> Result<usize, String> {
    let mut depth = 0usize;
    for (k, t) in toks.iter().enumerate().skip(open) {
        match t {
            Tok::Punct('(') => depth += 1,
            Tok::Punct(')') => {
                depth -= 1;
                if depth == 0 {
                    return Ok(k + 1);
                }
            }
            _ => {}
        }
    }
    Err("unbalanced parentheses".into())
}

/// Every metric selector of a PromQL expression. Errors on an unknown function (a typo) and on
/// a template variable left where PromQL cannot take it.
pub fn selectors(expr: &str) -> Result<Vec<Selector>, String> {
    let toks = tokenize(expr)?;
    let mut out = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        match &toks[i] {
            Tok::Ident(id) => {
                let lower = id.to_ascii_lowercase();
                let next_is_paren = matches!(toks.get(i + 1), Some(Tok::Punct('(')));
                if GROUPING.contains(&lower.as_str()) {
                    i = if next_is_paren {
                        skip_parens(&toks, i + 1)?
                    } else {
                        i + 1
                    };
                } else if KEYWORDS.contains(&lower.as_str())
                    || AGGREGATIONS.contains(&id.as_str())
                    || FUNCTIONS.contains(&id.as_str())
                {
                    i += 1;
                } else if next_is_paren {
                    return Err(format!("unknown function {id}"));
                } else {
                    let labels = match toks.get(i + 1) {
                        Some(Tok::Braces(l)) => {
                            i += 1;
                            l.clone()
                        }
                        _ => Vec::new(),
                    };
                    out.push(Selector {
                        name: id.clone(),
                        labels,
                    });
                    i += 1;
                }
            }
            Tok::Braces(l) => {
                out.push(Selector {
                    name: String::new(),
                    labels: l.clone(),
                });
                i += 1;
            }
            _ => i += 1,
        }
    }
    Ok(out)
}

/// Labels every series may carry besides its own: the scrape's job and instance, and the
/// `prober` label that relabelling adds when several probers run.
pub const SCRAPE_LABELS: &[&str] = &["job", "instance", "prober"];

/// Metric names that are not fluxprobe's but may be used: Prometheus' own scrape health.
pub const FOREIGN_METRICS: &[&str] = &["up"];

/// The METRICS entry a series name belongs to (`_bucket`, `_sum`, `_count` of a histogram
/// resolve to the histogram), and whether it is the `_bucket` series.
pub fn resolve(name: &str) -> Option<(&'static metrics::MetricDef, bool)> {
    if let Some(def) = metrics::find(name) {
        return Some((def, false));
    }
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix)
            && let Some(def) = metrics::find(base)
            && def.kind == MetricKind::Histogram
        {
            return Some((def, suffix == "_bucket"));
        }
    }
    None
}

/// Checks one selector: a fluxprobe metric must be in METRICS and match only its own labels;
/// a recording-rule name (with a colon) must be recorded by the rules file.
pub fn check_selector(sel: &Selector, recorded: &BTreeSet<String>) -> Result<(), String> {
    if sel.name.is_empty() {
        return Err(format!(
            "bare selector {{{}}}: name the metric",
            sel.labels.join(",")
        ));
    }
    if sel.name.contains(':') {
        return if recorded.contains(&sel.name) {
            Ok(())
        } else {
            Err(format!(
                "{} is not recorded by alerts/fluxprobe.rules.yml",
                sel.name
            ))
        };
    }
    if FOREIGN_METRICS.contains(&sel.name.as_str()) {
        return Ok(());
    }
    let (def, bucket) =
        resolve(&sel.name).ok_or_else(|| format!("{} is not in METRICS", sel.name))?;
    for label in &sel.labels {
        let known = def.labels.contains(&label.as_str())
            || SCRAPE_LABELS.contains(&label.as_str())
            || (bucket && label == "le");
        if !known {
            return Err(format!("{} has no label {label}", sel.name));
        }
    }
    Ok(())
}

/// A Grafana `label_values(selector, label)` variable query, split.
pub fn split_label_values(query: &str) -> Option<(&str, &str)> {
    let inner = query
        .trim()
        .strip_prefix("label_values(")?
        .strip_suffix(')')?;
    let (selector, label) = inner.rsplit_once(',')?;
    Some((selector.trim(), label.trim()))
}

/// Plain PromQL from a Grafana query: `$__rate_interval` and `$__interval` become `1m`, every
/// other variable (`$target`, `${probe}`, only ever inside `=~"..."` matchers) becomes `.*`, the
/// value of "All".
pub fn substitute_grafana_vars(expr: &str) -> String {
    let mut out = String::with_capacity(expr.len());
    let c: Vec<char> = expr.chars().collect();
    let mut i = 0;
    while i < c.len() {
        if c[i] != '$' {
            out.push(c[i]);
            i += 1;
            continue;
        }
        let braced = c.get(i + 1) == Some(&'{');
        let start = if braced { i + 2 } else { i + 1 };
        let mut end = start;
        while end < c.len() && (c[end].is_ascii_alphanumeric() || c[end] == '_') {
            end += 1;
        }
        let name: String = c[start..end].iter().collect();
        if braced && c.get(end) == Some(&'}') {
            end += 1;
        }
        out.push_str(match name.as_str() {
            "__rate_interval" | "__interval" => "1m",
            _ => ".*",
        });
        i = end;
    }
    out
}

#[test]
fn selectors_skip_functions_grouping_strings_and_ranges() {
    let sels = selectors(
        r#"histogram_quantile(0.95, sum by (target, le) (rate(fluxprobe_request_duration_seconds_bucket{outcome="success", target=~"$target"}[$__rate_interval])))
           > on () group_left () fluxprobe:threshold:latency_p95_seconds or up{job="x"} == 0 # a comment fluxprobe_nope"#,
    )
    .unwrap();
    let names: Vec<&str> = sels.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "fluxprobe_request_duration_seconds_bucket",
            "fluxprobe:threshold:latency_p95_seconds",
            "up"
        ]
    );
    assert_eq!(sels[0].labels, ["outcome", "target"]);
    assert!(selectors("rte(fluxprobe_requests_total[5m])").is_err());
    assert!(selectors("sum(fluxprobe_requests_total{target=~$target})").is_err());
    let sels = selectors("1e-9 * fluxprobe_requests_total offset 1d").unwrap();
    assert_eq!(sels.len(), 1);
}

#[test]
fn check_selector_rejects_unknown_metrics_and_labels() {
    let recorded = BTreeSet::from(["fluxprobe:requests:rate5m".to_string()]);
    let ok = |name: &str, labels: &[&str]| {
        check_selector(
            &Selector {
                name: name.into(),
                labels: labels.iter().map(|s| s.to_string()).collect(),
            },
            &recorded,
        )
    };
    assert!(
        ok(
            "fluxprobe_request_duration_seconds_bucket",
            &["le", "outcome"]
        )
        .is_ok()
    );
    assert!(ok("fluxprobe_request_duration_seconds_count", &["le"]).is_err());
    assert!(ok("fluxprobe_requests_total_bucket", &[]).is_err());
    assert!(ok("fluxprobe_requests_total", &["target", "prober"]).is_ok());
    assert!(ok("fluxprobe_requests_total", &["gpu"]).is_err());
    assert!(ok("fluxprobe_no_such_metric", &[]).is_err());
    assert!(ok("fluxprobe:requests:rate5m", &[]).is_ok());
    assert!(ok("fluxprobe:requests:rate1m", &[]).is_err());
}

#[test]
fn grafana_variables_become_plain_promql() {
    assert_eq!(
        substitute_grafana_vars(r#"rate(x{a=~"$target", b=~"${probe}"}[$__rate_interval])"#),
        r#"rate(x{a=~".*", b=~".*"}[1m])"#
    );
    assert_eq!(
        split_label_values(r#"label_values(fluxprobe_requests_total{prober=~"$prober"}, target)"#),
        Some((r#"fluxprobe_requests_total{prober=~"$prober"}"#, "target"))
    );
}
