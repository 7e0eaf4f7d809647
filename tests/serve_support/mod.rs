//! Helpers shared by the serve tests: scraping a daemon, reading samples out of the text
//! exposition (parsed here, independently of the code under test), and waiting on a condition
//! with a bound instead of sleeping.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

/// One sample line of the text exposition.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// Parses the text exposition format (samples only; comments skipped).
pub fn parse_exposition(text: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (series, value) = match line.rfind(' ') {
            Some(i) => (&line[..i], &line[i + 1..]),
            None => continue,
        };
        let value = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => match v.parse() {
                Ok(v) => v,
                Err(_) => continue,
            },
        };
        let (name, labels) = match series.find('{') {
            None => (series.to_string(), BTreeMap::new()),
            Some(i) => (
                series[..i].to_string(),
                parse_labels(&series[i + 1..series.len() - 1]),
            ),
        };
        out.push(Sample {
            name,
            labels,
            value,
        });
    }
    out
}

fn parse_labels(s: &str) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let start = i;
        while i < chars.len() && chars[i] != '=' {
            i += 1;
        }
        let key: String = chars[start..i]
            .iter()
            .collect::<String>()
            .trim_matches(',')
            .trim()
            .to_string();
        i += 2; // ="
        let mut val = String::new();
        while i < chars.len() && chars[i] != '"' {
            if chars[i] == '\\' && i + 1 < chars.len() {
                i += 1;
                val.push(match chars[i] {
                    'n' => '\n',
                    c => c,
                });
            } else {
                val.push(chars[i]);
            }
            i += 1;
        }
        i += 1; // closing quote
        if i < chars.len() && chars[i] == ',' {
            i += 1;
        }
        map.insert(key, val);
    }
    map
}

/// The samples of `name` whose labels include every pair of `labels`.
pub fn find<'a>(samples: &'a [Sample], name: &str, labels: &[(&str, &str)]) -> Vec<&'a Sample> {
    samples
        .iter()
        .filter(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .collect()
}

/// The value of exactly one matching sample, None when there is none.
pub fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let found = find(samples, name, labels);
    assert!(
        found.len() <= 1,
        "{name} {labels:?} matches {} series",
        found.len()
    );
    found.first().map(|s| s.value)
}

/// The sum over matching samples (0 when none).
pub fn sum(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    find(samples, name, labels).iter().map(|s| s.value).sum()
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// GET /metrics of a daemon, parsed.
pub async fn scrape(addr: SocketAddr) -> Vec<Sample> {
    try_scrape(addr).await.expect("scrape /metrics")
}

/// GET /metrics, None when the daemon does not answer (yet).
pub async fn try_scrape(addr: SocketAddr) -> Option<Vec<Sample>> {
    let r = client()
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .ok()?;
    Some(parse_exposition(&r.text().await.ok()?))
}

pub async fn get_status(addr: SocketAddr, path: &str) -> u16 {
    client()
        .get(format!("http://{addr}{path}"))
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

/// The body of GET `path`.
pub async fn get_text(addr: SocketAddr, path: &str) -> String {
    client()
        .get(format!("http://{addr}{path}"))
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("body")
}

pub async fn post(addr: SocketAddr, path: &str) -> (u16, String) {
    let r = client()
        .post(format!("http://{addr}{path}"))
        .send()
        .await
        .expect("post");
    let status = r.status().as_u16();
    (status, r.text().await.unwrap_or_default())
}

/// Polls `check` on each scrape until it returns Some, within `limit`; panics with `what` when
/// it never does. Returns the value and the last samples.
pub async fn wait_metrics<T>(
    addr: SocketAddr,
    limit: Duration,
    what: &str,
    mut check: impl FnMut(&[Sample]) -> Option<T>,
) -> (T, Vec<Sample>) {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let samples = try_scrape(addr).await.unwrap_or_default();
        if let Some(v) = check(&samples) {
            return (v, samples);
        }
        if tokio::time::Instant::now() >= deadline {
            let dump: Vec<String> = samples
                .iter()
                .filter(|s| s.name.starts_with("fluxprobe_") && !s.name.ends_with("_bucket"))
                .map(|s| format!("{} {:?} {}", s.name, s.labels, s.value))
                .collect();
            panic!("timed out waiting for: {what}\n{}", dump.join("\n"));
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Waits until an async condition holds, within `limit`.
pub async fn wait_until<F, Fut>(limit: Duration, what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    while !cond().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// A local address where nothing listens (connections are refused).
pub fn closed_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    addr
}

/// The path of a file inside the crate.
pub fn crate_path(rel: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// A server that accepts connections and never answers (every probe hangs to its timeout).
pub async fn black_hole() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock);
        }
    });
    addr
}
