//! The status page at `/`: every target with its up/ready state, the last result of each probe
//! (failure reason and message), the last burst reports with their SLO verdicts and the next
//! burst times. Plain HTML, every value escaped, no scripts.

use super::recent::TargetRecent;
use std::collections::BTreeMap;
use std::fmt::Write;

/// Escapes text for HTML.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn time(unix: f64) -> String {
    chrono::DateTime::from_timestamp_millis((unix * 1000.0) as i64)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| "?".to_string())
}

fn secs(v: f64) -> String {
    format!("{v:.3} s")
}

fn yes_no(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "<span class=ok>yes</span>",
        Some(false) => "<span class=bad>no</span>",
        None => "—",
    }
}

/// Renders the page. `now` is Unix seconds.
/// `burst_api`: POST /-/burst is on, so each burst gets a "run now" button.
pub fn render(
    targets: &BTreeMap<String, TargetRecent>,
    ready: bool,
    now: f64,
    burst_api: bool,
) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html><html><head><meta charset=utf-8><title>fluxprobe</title>\
<style>body{{font-family:sans-serif;margin:1.5em}}table{{border-collapse:collapse;margin:.5em 0 1.5em}}\
td,th{{border:1px solid #ccc;padding:.25em .6em;text-align:left}}.ok{{color:#070}}.bad{{color:#b00}}\
form{{display:inline}}</style></head><body><h1>fluxprobe</h1>\
<p>{} · <a href=\"/metrics\">/metrics</a> · <a href=\"/api/v1/recent\">/api/v1/recent</a> · \
<a href=\"/-/healthy\">/-/healthy</a> · <a href=\"/-/ready\">/-/ready</a> · page rendered {}</p>",
        if ready {
            "ready"
        } else {
            "starting: waiting for the first status scrapes"
        },
        time(now)
    );
    for (name, t) in targets {
        let _ = write!(
            h,
            "<h2>{}</h2><p>{} · up: {} · ready: {} · health status: {} · GPUs: {}</p>",
            escape(name),
            escape(&t.url),
            yes_no(t.status.up),
            yes_no(t.status.ready),
            escape(t.status.health_status.as_deref().unwrap_or("—")),
            t.status
                .gpus
                .map(|g| g.to_string())
                .unwrap_or_else(|| "—".to_string()),
        );
        let failing: Vec<String> = t
            .status
            .endpoints
            .iter()
            .filter(|(_, e)| !e.ok)
            .map(|(ep, e)| format!("{}: {}", ep, e.error.as_deref().unwrap_or("failed")))
            .collect();
        if !failing.is_empty() {
            let _ = write!(
                h,
                "<p class=bad>status scrape failures: {}</p>",
                escape(&failing.join("; "))
            );
        }
        h.push_str("<table><tr><th>probe</th><th>last result</th><th>HTTP</th><th>response</th><th>at</th><th>message</th></tr>");
        for (probe, r) in &t.last_by_probe {
            let _ = write!(
                h,
                "<tr><td>{}</td><td class={}>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(probe),
                if r.outcome.is_success() { "ok" } else { "bad" },
                r.outcome.as_str(),
                r.http_status.map(|c| c.to_string()).unwrap_or_default(),
                secs(r.response_seconds),
                time(r.done_at),
                escape(r.error.as_deref().unwrap_or("")),
            );
        }
        h.push_str("</table>");
        let mut bursts: Vec<&String> = t.next_bursts.keys().chain(t.bursts.keys()).collect();
        bursts.sort();
        bursts.dedup();
        if !bursts.is_empty() {
            h.push_str("<table><tr><th>burst</th><th>next run</th><th>last run</th><th>requests</th><th>success ratio</th><th>throughput</th><th>p50 / p95 / p99</th><th>SLO</th><th></th></tr>");
            for b in bursts {
                let next = t
                    .next_bursts
                    .get(b)
                    .copied()
                    .flatten()
                    .map(time)
                    .unwrap_or_else(|| "—".to_string());
                let running = t.bursts_running.contains(b);
                let (last, reqs, ratio, tput, q, slo) = match t.bursts.get(b) {
                    Some(r) => (
                        time(r.ended_at),
                        format!("{} ({} ok)", r.requests, r.successes),
                        format!("{:.3}", r.success_ratio),
                        r.throughput_rps
                            .map(|x| format!("{x:.3}/s"))
                            .unwrap_or_else(|| "—".into()),
                        r.response_seconds
                            .map(|q| format!("{:.2} / {:.2} / {:.2} s", q.p50, q.p95, q.p99))
                            .unwrap_or_else(|| "—".into()),
                        r.slo
                            .as_ref()
                            .map(|s| format!("{} ({})", s.verdict.as_str(), s.expression))
                            .unwrap_or_else(|| "—".into()),
                    ),
                    None => (
                        "—".into(),
                        "—".into(),
                        "—".into(),
                        "—".into(),
                        "—".into(),
                        "—".into(),
                    ),
                };
                let button = if burst_api {
                    format!(
                        "<form method=post action=\"/-/burst/{}/{}\"><button{}>run now</button></form>",
                        escape(name),
                        escape(b),
                        if running { " disabled" } else { "" },
                    )
                } else {
                    String::new()
                };
                let _ = write!(
                    h,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    escape(b),
                    next,
                    if running {
                        "running…".to_string()
                    } else {
                        last
                    },
                    reqs,
                    ratio,
                    tput,
                    q,
                    escape(&slo),
                    button,
                );
            }
            h.push_str("</table>");
        }
    }
    h.push_str("</body></html>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Outcome;
    use crate::serve::recent::RecentProbe;

    #[test]
    fn values_are_escaped() {
        let mut t = TargetRecent {
            url: "http://h/<x>".to_string(),
            ..Default::default()
        };
        t.last_by_probe.insert(
            "trickle".to_string(),
            RecentProbe {
                probe: "trickle".to_string(),
                seq: 1,
                outcome: Outcome::Http5xx,
                http_status: Some(500),
                error: Some("HTTP 500: <script>alert(1)</script>".to_string()),
                intended_at: 0.0,
                done_at: 1.0,
                response_seconds: 1.0,
                schedule_lag_seconds: 0.0,
                generation_seconds: None,
            },
        );
        let page = render(&BTreeMap::from([("a".to_string(), t)]), true, 10.0, false);
        assert!(!page.contains("<script>"), "{page}");
        assert!(page.contains("&lt;script&gt;"));
        assert!(page.contains("http_5xx"));
        assert_eq!(escape("a&b\"'"), "a&amp;b&quot;&#39;");
    }
}
