//! The Prometheus rules in alerts/: promtool accepts them and their unit tests pass, every alert
//! is complete (severity, summary, description, a runbook anchor that exists) and has unit-test
//! cases that fire and that stay quiet, every recording rule's value is tested, every metric they
//! read exists in `METRICS`, and docs/alerts.md lists the thresholds the file holds.

mod monitoring;

use monitoring::promql::{check_selector, selectors};
use monitoring::{files_in, promtool, read, run_promtool};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};

const RULES: &str = "alerts/fluxprobe.rules.yml";
const TESTS_DIR: &str = "alerts/tests";
const RUNBOOK: &str = "docs/runbook.md";
const ALERTS_DOC: &str = "docs/alerts.md";

/// The alerts DESIGN.md ("Alerts") asks for.
const REQUIRED_ALERTS: &[&str] = &[
    "FluxProbeTargetDown",
    "FluxProbeTargetNotReady",
    "FluxProbeGenerateErrorBudgetBurn",
    "FluxProbeGenerateLatencyHigh",
    "FluxProbeNoRecentSuccess",
    "FluxProbeThroughputDrop",
    "FluxProbeVramHigh",
    "FluxProbeVramExhaustionPredicted",
    "FluxProbeQueueSaturated",
    "FluxProbeProbesSkipped",
    "FluxProbeStatsScrapeFailing",
    "FluxProbeConfigReloadFailed",
    "FluxProbeProberAbsent",
];

const SEVERITIES: &[&str] = &["page", "ticket", "warning"];

#[derive(Debug, Deserialize)]
struct RuleFile {
    groups: Vec<Group>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Group {
    name: String,
    #[serde(default)]
    interval: Option<String>,
    rules: Vec<Rule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Rule {
    #[serde(default)]
    record: Option<String>,
    #[serde(default)]
    alert: Option<String>,
    expr: String,
    #[serde(default, rename = "for")]
    for_: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
struct TestFile {
    rule_files: Vec<String>,
    #[serde(default)]
    group_eval_order: Vec<String>,
    tests: Vec<TestGroup>,
}

#[derive(Debug, Deserialize)]
struct TestGroup {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    alert_rule_test: Vec<AlertTest>,
    #[serde(default)]
    promql_expr_test: Vec<ExprTest>,
}

#[derive(Debug, Deserialize)]
struct AlertTest {
    eval_time: String,
    alertname: String,
    #[serde(default)]
    exp_alerts: Vec<ExpAlert>,
}

#[derive(Debug, Deserialize)]
struct ExpAlert {
    #[serde(default)]
    exp_labels: BTreeMap<String, String>,
    #[serde(default)]
    exp_annotations: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
struct ExprTest {
    expr: String,
}

fn rule_file() -> RuleFile {
    serde_saphyr::from_str(&read(RULES)).unwrap_or_else(|e| panic!("{RULES}: {e}"))
}

fn rules() -> Vec<Rule> {
    rule_file()
        .groups
        .into_iter()
        .flat_map(|g| g.rules)
        .collect()
}

fn alerts() -> Vec<Rule> {
    rules().into_iter().filter(|r| r.alert.is_some()).collect()
}

fn recorded() -> BTreeSet<String> {
    rules().into_iter().filter_map(|r| r.record).collect()
}

fn test_files() -> Vec<(String, TestFile)> {
    let files = files_in(TESTS_DIR, "yml");
    assert!(!files.is_empty(), "no unit tests in {TESTS_DIR}");
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("reading a rule test file");
            let parsed =
                serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p.display().to_string(), parsed)
        })
        .collect()
}

/// GitHub-style anchors of the markdown headings.
fn anchors(markdown: &str) -> BTreeSet<String> {
    markdown
        .lines()
        .filter(|l| l.starts_with('#'))
        .map(|l| {
            l.trim_start_matches('#')
                .trim()
                .to_lowercase()
                .chars()
                .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
                .map(|c| if c == ' ' { '-' } else { c })
                .collect()
        })
        .collect()
}

#[test]
fn promtool_checks_and_unit_tests_pass() {
    let Some(bin) = promtool() else { return };
    run_promtool(&bin, &["check", "rules", RULES]);
    let tests: Vec<String> = files_in(TESTS_DIR, "yml")
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let mut args = vec!["test", "rules"];
    args.extend(tests.iter().map(String::as_str));
    run_promtool(&bin, &args);
}

#[test]
fn every_required_alert_exists_with_the_prefix() {
    let names: BTreeSet<String> = alerts().into_iter().filter_map(|r| r.alert).collect();
    for required in REQUIRED_ALERTS {
        assert!(names.contains(*required), "missing alert {required}");
    }
    for name in &names {
        assert!(
            name.starts_with("FluxProbe"),
            "{name} lacks the FluxProbe prefix"
        );
    }
}

#[test]
fn every_alert_has_severity_summary_description_and_a_runbook_anchor() {
    let runbook = anchors(&read(RUNBOOK));
    for rule in alerts() {
        let name = rule.alert.as_deref().unwrap_or_default();
        let severity = rule.labels.get("severity").map(String::as_str);
        assert!(
            severity.is_some_and(|s| SEVERITIES.contains(&s)),
            "{name}: severity {severity:?} is not one of {SEVERITIES:?}"
        );
        for key in ["summary", "description", "runbook_url"] {
            assert!(
                rule.annotations
                    .get(key)
                    .is_some_and(|v| !v.trim().is_empty()),
                "{name}: annotation {key} missing"
            );
        }
        let description = &rule.annotations["description"];
        assert!(
            description.contains("$value") && description.contains("$labels."),
            "{name}: the description should show {{{{ $value }}}} and a label"
        );
        let url = &rule.annotations["runbook_url"];
        let anchor = url
            .strip_prefix("docs/runbook.md#")
            .unwrap_or_else(|| panic!("{name}: runbook_url {url} is not docs/runbook.md#anchor"));
        assert!(
            runbook.contains(anchor),
            "{name}: {RUNBOOK} has no heading for #{anchor}"
        );
        assert_eq!(
            anchor,
            name.to_lowercase(),
            "{name}: the anchor should be the alert's name"
        );
    }
}

#[test]
fn every_alert_has_firing_and_quiet_unit_tests() {
    let mut firing = BTreeSet::new();
    let mut quiet = BTreeSet::new();
    for (path, file) in test_files() {
        assert_eq!(
            file.rule_files,
            ["../fluxprobe.rules.yml"],
            "{path}: test the shipped rules file"
        );
        let groups: BTreeSet<String> = rule_file().groups.into_iter().map(|g| g.name).collect();
        let order: BTreeSet<String> = file.group_eval_order.iter().cloned().collect();
        assert_eq!(
            order, groups,
            "{path}: group_eval_order must list every group"
        );
        for group in &file.tests {
            let case = group.name.as_deref().unwrap_or("(unnamed)");
            for t in &group.alert_rule_test {
                if t.exp_alerts.is_empty() {
                    quiet.insert(t.alertname.clone());
                    continue;
                }
                for exp in &t.exp_alerts {
                    assert!(
                        exp.exp_labels.contains_key("severity"),
                        "{path} / {case} / {} at {}: exp_labels without severity",
                        t.alertname,
                        t.eval_time
                    );
                    for key in ["summary", "description", "runbook_url"] {
                        assert!(
                            exp.exp_annotations.contains_key(key),
                            "{path} / {case} / {} at {}: exp_annotations without {key}",
                            t.alertname,
                            t.eval_time
                        );
                    }
                }
                firing.insert(t.alertname.clone());
            }
        }
    }
    for rule in alerts() {
        let name = rule.alert.unwrap_or_default();
        assert!(
            firing.contains(&name),
            "{name}: no unit test where it fires"
        );
        assert!(
            quiet.contains(&name),
            "{name}: no unit test where it stays quiet"
        );
    }
}

#[test]
fn every_recording_rule_value_is_tested() {
    let exprs: Vec<String> = test_files()
        .into_iter()
        .flat_map(|(_, f)| f.tests)
        .flat_map(|g| g.promql_expr_test)
        .map(|t| t.expr)
        .collect();
    for name in recorded() {
        let tested = exprs.iter().any(|e| {
            selectors(e)
                .unwrap_or_else(|err| panic!("{e}: {err}"))
                .iter()
                .any(|s| s.name == name)
        });
        assert!(tested, "recording rule {name} has no promql_expr_test");
    }
}

#[test]
fn every_metric_the_rules_read_exists() {
    let recorded = recorded();
    for rule in rules() {
        let what = rule.alert.as_ref().or(rule.record.as_ref()).cloned();
        let sels = selectors(&rule.expr).unwrap_or_else(|e| panic!("{what:?}: {e}"));
        for sel in &sels {
            check_selector(sel, &recorded).unwrap_or_else(|e| panic!("{what:?}: {e}"));
        }
    }
}

#[test]
fn recording_rules_follow_the_naming_convention_and_are_unique() {
    let mut seen = BTreeSet::new();
    for name in rules().into_iter().filter_map(|r| r.record) {
        assert!(seen.insert(name.clone()), "{name} recorded twice");
        let parts: Vec<&str> = name.split(':').collect();
        assert!(
            parts.len() == 3 && parts[0] == "fluxprobe" && parts.iter().all(|p| !p.is_empty()),
            "{name}: expected fluxprobe:<what>:<how>"
        );
    }
}

/// Missing data must stay missing: no alert fills a gap with a constant (`or vector(0)`) and
/// only FluxProbeProberAbsent looks for absence. Thresholds are joined with `on ()` so a missing
/// threshold silences rather than trips.
#[test]
fn alerts_never_fill_missing_data() {
    for rule in alerts() {
        let name = rule.alert.unwrap_or_default();
        assert!(
            !rule.expr.contains("vector("),
            "{name}: vector() in an alert fills missing data"
        );
        if name != "FluxProbeProberAbsent" {
            assert!(
                !rule.expr.contains("absent("),
                "{name}: absent() in an alert"
            );
        }
        for sel in selectors(&rule.expr).expect("selectors") {
            if sel.name.starts_with("fluxprobe:threshold:") {
                assert!(
                    rule.expr.contains("on () group_left ()") || rule.expr.contains("scalar("),
                    "{name}: join thresholds with `on () group_left ()`"
                );
            }
        }
    }
}

/// docs/alerts.md holds the thresholds table: one row per `fluxprobe:threshold:*` rule with the
/// same value, and every alert described.
#[test]
fn thresholds_table_matches_the_rules() {
    let doc = read(ALERTS_DOC);
    let rows: Vec<Vec<String>> = doc
        .lines()
        .filter(|l| l.trim_start().starts_with('|'))
        .map(|l| {
            l.trim()
                .trim_matches('|')
                .split('|')
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect();
    let thresholds: Vec<Rule> = rules()
        .into_iter()
        .filter(|r| {
            r.record
                .as_deref()
                .is_some_and(|n| n.starts_with("fluxprobe:threshold:"))
        })
        .collect();
    assert!(!thresholds.is_empty());
    for rule in thresholds {
        let name = rule.record.unwrap_or_default();
        let row = rows
            .iter()
            .find(|r| r.iter().any(|c| c == &format!("`{name}`")))
            .unwrap_or_else(|| panic!("{ALERTS_DOC}: no table row for `{name}`"));
        let expr = rule.expr.trim();
        if let Some(v) = expr
            .strip_prefix("vector(")
            .and_then(|s| s.strip_suffix(')'))
        {
            let value: f64 = v.parse().expect("a numeric threshold");
            assert!(
                row.iter().any(|c| c.parse::<f64>().ok() == Some(value)),
                "{ALERTS_DOC}: the row of {name} does not show its value {v}: {row:?}"
            );
        } else {
            assert!(
                row.iter().any(|c| c.contains(&format!("`{expr}`"))),
                "{ALERTS_DOC}: the row of {name} should show its expression `{expr}`"
            );
        }
    }
    for name in REQUIRED_ALERTS {
        assert!(
            doc.contains(&format!("`{name}`")),
            "{ALERTS_DOC} does not describe `{name}`"
        );
    }
}

#[test]
fn group_names_are_unique_and_intervals_parse() {
    let mut seen = BTreeSet::new();
    for g in rule_file().groups {
        assert!(seen.insert(g.name.clone()), "group {} twice", g.name);
        if let Some(i) = g.interval {
            humantime::parse_duration(&i).unwrap_or_else(|e| panic!("{}: {e}", g.name));
        }
        for r in g.rules {
            assert!(
                r.record.is_some() != r.alert.is_some(),
                "a rule is either a record or an alert"
            );
            if let Some(f) = r.for_ {
                humantime::parse_duration(&f).unwrap_or_else(|e| panic!("for {f}: {e}"));
            }
        }
    }
}
