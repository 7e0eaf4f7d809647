//! A real Prometheus for end-to-end tests: finding the binary (a missing one skips the test with
//! a reason, or fails it when `CI` is set), starting it on a free port with a temporary TSDB and
//! a given prometheus.yml, killing it when dropped, and the parts of its HTTP API the tests read
//! (instant queries, rule states, active alerts).

use serde_json::Value;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The prometheus binary (`PROMETHEUS` or `prometheus` on PATH), or None with the reason
/// printed. With `CI` set, a missing binary is a failure, not a skip.
pub fn binary() -> Option<PathBuf> {
    let bin = std::env::var("PROMETHEUS").unwrap_or_else(|_| "prometheus".into());
    match Command::new(&bin).arg("--version").output() {
        Ok(o) if o.status.success() => Some(PathBuf::from(bin)),
        other => {
            let why = match other {
                Ok(o) => format!("`{bin} --version` exited with {}", o.status),
                Err(e) => format!("`{bin}` not runnable: {e}"),
            };
            assert!(
                std::env::var_os("CI").is_none(),
                "prometheus is required when CI is set: {why}"
            );
            eprintln!(
                "skipping: {why} (install with `apt-get install --no-install-recommends prometheus`, or set PROMETHEUS)"
            );
            None
        }
    }
}

/// A local address where nothing listens right now.
pub fn free_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local address")
}

/// One series of an instant-query result.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

impl Series {
    pub fn label(&self, name: &str) -> &str {
        self.labels.get(name).map(String::as_str).unwrap_or("")
    }
}

/// One rule as /api/v1/rules reports it.
#[derive(Debug, Clone)]
pub struct RuleState {
    pub group: String,
    pub name: String,
    pub health: String,
    pub last_error: String,
}

/// One active (pending or firing) alert as /api/v1/alerts reports it.
#[derive(Debug, Clone)]
pub struct ActiveAlert {
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub state: String,
}

/// A running Prometheus; killed (and its TSDB removed) when dropped.
pub struct Prometheus {
    child: Child,
    addr: SocketAddr,
    dir: tempfile::TempDir,
    http: reqwest::Client,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn string_map(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

fn sample_value(v: &Value) -> f64 {
    match v[1].as_str() {
        Some("+Inf") => f64::INFINITY,
        Some("-Inf") => f64::NEG_INFINITY,
        Some(s) => s.parse().unwrap_or(f64::NAN),
        None => f64::NAN,
    }
}

impl Prometheus {
    /// Starts `bin` with `config` (the text of prometheus.yml) on a free port, its TSDB in a
    /// temporary directory. It may take a moment before it answers.
    pub fn start(bin: &Path, config: &str) -> Prometheus {
        let dir = tempfile::tempdir().expect("temporary directory");
        let cfg = dir.path().join("prometheus.yml");
        std::fs::write(&cfg, config).expect("writing prometheus.yml");
        let addr = free_port();
        let log = std::fs::File::create(dir.path().join("prometheus.log")).expect("log file");
        let child = Command::new(bin)
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!("--web.listen-address={addr}"))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg("--log.level=warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("starting prometheus");
        Prometheus {
            child,
            addr,
            dir,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("HTTP client"),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// What Prometheus logged so far (warnings and errors), for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }

    /// GET an API path; the `data` member of a successful answer, else why not.
    async fn api(&self, path: &str, params: &[(&str, &str)]) -> Result<Value, String> {
        let mut url = url::Url::parse(&format!("http://{}{path}", self.addr)).expect("URL");
        url.query_pairs_mut().extend_pairs(params);
        let r = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        let v: Value = r
            .json()
            .await
            .map_err(|e| format!("answer is not JSON: {e}"))?;
        if v["status"] != "success" {
            return Err(format!("{}: {}", v["errorType"], v["error"]));
        }
        Ok(v["data"].clone())
    }

    /// An instant query at the current time: its series (a scalar result is one series without
    /// labels), or the error Prometheus gave.
    pub async fn query(&self, q: &str) -> Result<Vec<Series>, String> {
        let data = self.api("/api/v1/query", &[("query", q)]).await?;
        match data["resultType"].as_str() {
            Some("vector") => Ok(data["result"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|s| Series {
                            labels: string_map(&s["metric"]),
                            value: sample_value(&s["value"]),
                        })
                        .collect()
                })
                .unwrap_or_default()),
            Some("scalar") => Ok(vec![Series {
                labels: BTreeMap::new(),
                value: sample_value(&data["result"]),
            }]),
            other => Err(format!("unexpected result type {other:?}")),
        }
    }

    /// Every rule of every loaded group, with its evaluation health.
    pub async fn rules(&self) -> Result<Vec<RuleState>, String> {
        let data = self.api("/api/v1/rules", &[]).await?;
        let mut out = Vec::new();
        for g in data["groups"].as_array().cloned().unwrap_or_default() {
            for r in g["rules"].as_array().cloned().unwrap_or_default() {
                out.push(RuleState {
                    group: g["name"].as_str().unwrap_or_default().to_string(),
                    name: r["name"].as_str().unwrap_or_default().to_string(),
                    health: r["health"].as_str().unwrap_or_default().to_string(),
                    last_error: r["lastError"].as_str().unwrap_or_default().to_string(),
                });
            }
        }
        Ok(out)
    }

    /// The alerts pending or firing now.
    pub async fn alerts(&self) -> Result<Vec<ActiveAlert>, String> {
        let data = self.api("/api/v1/alerts", &[]).await?;
        Ok(data["alerts"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|a| ActiveAlert {
                labels: string_map(&a["labels"]),
                annotations: string_map(&a["annotations"]),
                state: a["state"].as_str().unwrap_or_default().to_string(),
            })
            .collect())
    }
}
