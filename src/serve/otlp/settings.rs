//! The effective OTLP settings: the `otlp:` section merged with the standard OTEL_* environment
//! variables and the defaults, resolved once at start so that every bound (export timeout, queue
//! size) is known to the code that enforces it.

use super::{OtlpConfig, OtlpError, OtlpProtocol};
use std::collections::BTreeMap;
use std::time::Duration;

/// Metric export interval when neither the config nor OTEL_METRIC_EXPORT_INTERVAL sets one.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
/// Export timeout when neither the config nor OTEL_EXPORTER_OTLP_*TIMEOUT sets one.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Spans held for export at most (the batch processor's queue) by default.
pub const DEFAULT_QUEUE_SIZE: usize = 2048;
/// Longest delay between span batches (the OpenTelemetry default schedule delay).
pub const MAX_SPAN_DELAY: Duration = Duration::from_secs(5);
/// Spans per export request at most.
pub const MAX_EXPORT_BATCH: usize = 512;

/// The generate-latency buckets of DESIGN.md, in seconds.
pub const DEFAULT_BUCKETS: &[f64] = &[
    0.25, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 12.5, 15.0, 20.0, 25.0, 30.0,
    45.0, 60.0, 90.0, 120.0, 180.0, 300.0, 600.0,
];

/// Which signal a setting is for; each has its own OTEL_EXPORTER_OTLP_{SIGNAL}_* variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Traces,
    Metrics,
}

impl Signal {
    fn env_name(self) -> &'static str {
        match self {
            Signal::Traces => "TRACES",
            Signal::Metrics => "METRICS",
        }
    }

    /// The path OTLP/HTTP appends to a base endpoint.
    pub fn http_path(self) -> &'static str {
        match self {
            Signal::Traces => "/v1/traces",
            Signal::Metrics => "/v1/metrics",
        }
    }
}

/// How to reach the collector for one signal.
#[derive(Debug, Clone, PartialEq)]
pub struct SignalSettings {
    pub protocol: OtlpProtocol,
    /// The endpoint to hand to the exporter: for OTLP/HTTP the full URL of the signal, for gRPC
    /// the collector's address. None: the exporter reads OTEL_EXPORTER_OTLP_{SIGNAL_}ENDPOINT
    /// itself, then falls back to localhost.
    pub endpoint: Option<String>,
    pub timeout: Duration,
    /// Headers from the config. The exporter adds OTEL_EXPORTER_OTLP_{SIGNAL_}HEADERS itself.
    pub headers: BTreeMap<String, String>,
}

/// Everything `Otlp::start` needs, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// None when traces are off.
    pub traces: Option<SignalSettings>,
    /// None when metrics are off.
    pub metrics: Option<SignalSettings>,
    pub interval: Duration,
    /// Longest time a finished span waits in the queue before its batch is sent.
    pub span_delay: Duration,
    pub queue_size: usize,
    pub buckets: Vec<f64>,
}

impl Settings {
    /// Resolves the config against `env` (a lookup of environment variables; empty values count
    /// as unset). Precedence for every field: the config, the signal's variable, the generic
    /// variable, the default.
    pub fn resolve(
        cfg: &OtlpConfig,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Settings, OtlpError> {
        let lookup = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let interval = match cfg.interval {
            Some(d) => d,
            None => env_millis(&lookup, "OTEL_METRIC_EXPORT_INTERVAL")?.unwrap_or(DEFAULT_INTERVAL),
        };
        if interval.is_zero() {
            return Err(OtlpError::Config(
                "interval must be greater than zero".into(),
            ));
        }
        let span_delay = match env_millis(&lookup, "OTEL_BSP_SCHEDULE_DELAY")? {
            Some(d) if !d.is_zero() => d,
            _ => interval.min(MAX_SPAN_DELAY),
        };
        let queue_size = match cfg.max_queue_size {
            Some(n) => n,
            None => match lookup("OTEL_BSP_MAX_QUEUE_SIZE") {
                Some(v) => v.trim().parse().map_err(|_| {
                    OtlpError::Config(format!("OTEL_BSP_MAX_QUEUE_SIZE={v:?} is not a count"))
                })?,
                None => DEFAULT_QUEUE_SIZE,
            },
        };
        if queue_size == 0 {
            return Err(OtlpError::Config(
                "max_queue_size must be greater than zero".into(),
            ));
        }
        let buckets = cfg
            .buckets
            .clone()
            .unwrap_or_else(|| DEFAULT_BUCKETS.to_vec());
        if buckets.iter().any(|b| !b.is_finite()) || buckets.windows(2).any(|w| w[0] >= w[1]) {
            return Err(OtlpError::Config(
                "histogram buckets must be finite and strictly increasing".into(),
            ));
        }
        let signal = |s: Signal, on: Option<bool>| -> Result<Option<SignalSettings>, OtlpError> {
            if on == Some(false) {
                return Ok(None);
            }
            signal_settings(cfg, s, &lookup).map(Some)
        };
        Ok(Settings {
            traces: signal(Signal::Traces, cfg.traces)?,
            metrics: signal(Signal::Metrics, cfg.metrics)?,
            interval,
            span_delay,
            queue_size,
            buckets,
        })
    }

    /// The longest export timeout of the enabled signals.
    pub fn longest_timeout(&self) -> Duration {
        [&self.traces, &self.metrics]
            .into_iter()
            .flatten()
            .map(|s| s.timeout)
            .max()
            .unwrap_or(DEFAULT_TIMEOUT)
    }
}

fn signal_settings(
    cfg: &OtlpConfig,
    signal: Signal,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<SignalSettings, OtlpError> {
    let specific = |what: &str| format!("OTEL_EXPORTER_OTLP_{}_{what}", signal.env_name());
    let generic = |what: &str| format!("OTEL_EXPORTER_OTLP_{what}");

    let protocol = match cfg.protocol {
        Some(p) => p,
        None => {
            let from_env = [specific("PROTOCOL"), generic("PROTOCOL")]
                .into_iter()
                .find_map(|name| env(&name).map(|v| (name, v)));
            match from_env {
                Some((name, value)) => parse_protocol(&value).ok_or_else(|| {
                    OtlpError::Config(format!(
                        "{name}={value:?}: only \"http/protobuf\" and \"grpc\" are supported"
                    ))
                })?,
                None => OtlpProtocol::HttpProtobuf,
            }
        }
    };

    let endpoint = cfg
        .endpoint
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|base| match protocol {
            OtlpProtocol::HttpProtobuf => join_path(base, signal.http_path()),
            OtlpProtocol::Grpc => base.to_string(),
        });

    let timeout = match cfg.timeout {
        Some(d) => d,
        None => match env_millis(env, &specific("TIMEOUT"))? {
            Some(d) => d,
            None => env_millis(env, &generic("TIMEOUT"))?.unwrap_or(DEFAULT_TIMEOUT),
        },
    };
    if timeout.is_zero() {
        return Err(OtlpError::Config(
            "timeout must be greater than zero".into(),
        ));
    }

    Ok(SignalSettings {
        protocol,
        endpoint,
        timeout,
        headers: cfg.headers.clone(),
    })
}

fn parse_protocol(v: &str) -> Option<OtlpProtocol> {
    match v.trim().to_ascii_lowercase().as_str() {
        "http/protobuf" => Some(OtlpProtocol::HttpProtobuf),
        "grpc" => Some(OtlpProtocol::Grpc),
        _ => None,
    }
}

/// A duration in milliseconds from an environment variable (the OTEL_* convention).
fn env_millis(
    env: &dyn Fn(&str) -> Option<String>,
    name: &str,
) -> Result<Option<Duration>, OtlpError> {
    match env(name) {
        None => Ok(None),
        Some(v) => v
            .trim()
            .parse::<u64>()
            .map(|ms| Some(Duration::from_millis(ms)))
            .map_err(|_| {
                OtlpError::Config(format!("{name}={v:?} is not a number of milliseconds"))
            }),
    }
}

/// `base` + `path` with exactly one slash between them.
fn join_path(base: &str, path: &str) -> String {
    format!("{}{}", base.trim_end_matches('/'), path)
}

/// The process environment, empty values treated as unset.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn defaults_without_config_or_env() {
        let s = Settings::resolve(&OtlpConfig::default(), &env_of(&[])).unwrap();
        let t = s.traces.unwrap();
        assert_eq!(t.protocol, OtlpProtocol::HttpProtobuf);
        assert_eq!(t.endpoint, None, "left to the exporter's own env lookup");
        assert_eq!(t.timeout, Duration::from_secs(10));
        assert!(s.metrics.is_some());
        assert_eq!(s.interval, Duration::from_secs(30));
        assert_eq!(s.span_delay, Duration::from_secs(5));
        assert_eq!(s.queue_size, 2048);
        assert_eq!(s.buckets.first(), Some(&0.25));
        assert_eq!(s.buckets.last(), Some(&600.0));
    }

    #[test]
    fn http_endpoint_gets_the_signal_path_and_grpc_does_not() {
        let cfg = OtlpConfig {
            endpoint: Some("http://collector:4318/".into()),
            ..Default::default()
        };
        let s = Settings::resolve(&cfg, &env_of(&[])).unwrap();
        assert_eq!(
            s.traces.unwrap().endpoint.as_deref(),
            Some("http://collector:4318/v1/traces")
        );
        assert_eq!(
            s.metrics.unwrap().endpoint.as_deref(),
            Some("http://collector:4318/v1/metrics")
        );
        let cfg = OtlpConfig {
            endpoint: Some("http://collector:4317".into()),
            protocol: Some(OtlpProtocol::Grpc),
            ..Default::default()
        };
        let s = Settings::resolve(&cfg, &env_of(&[])).unwrap();
        assert_eq!(
            s.traces.unwrap().endpoint.as_deref(),
            Some("http://collector:4317")
        );
    }

    #[test]
    fn config_wins_over_env_and_signal_env_over_generic() {
        let env = env_of(&[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
            ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "700"),
            ("OTEL_METRIC_EXPORT_INTERVAL", "1500"),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "64"),
        ]);
        let s = Settings::resolve(&OtlpConfig::default(), &env).unwrap();
        let (t, m) = (s.traces.unwrap(), s.metrics.unwrap());
        assert_eq!(t.protocol, OtlpProtocol::Grpc);
        assert_eq!(m.protocol, OtlpProtocol::HttpProtobuf);
        assert_eq!(t.timeout, Duration::from_millis(700));
        assert_eq!(m.timeout, Duration::from_millis(2500));
        assert_eq!(s.interval, Duration::from_millis(1500));
        assert_eq!(s.span_delay, Duration::from_millis(1500));
        assert_eq!(s.queue_size, 64);

        let cfg = OtlpConfig {
            protocol: Some(OtlpProtocol::HttpProtobuf),
            timeout: Some(Duration::from_secs(3)),
            interval: Some(Duration::from_millis(200)),
            max_queue_size: Some(8),
            ..Default::default()
        };
        let s = Settings::resolve(&cfg, &env).unwrap();
        let t = s.traces.unwrap();
        assert_eq!(t.protocol, OtlpProtocol::HttpProtobuf);
        assert_eq!(t.timeout, Duration::from_secs(3));
        assert_eq!(s.interval, Duration::from_millis(200));
        assert_eq!(s.span_delay, Duration::from_millis(200));
        assert_eq!(s.queue_size, 8);
    }

    #[test]
    fn disabled_signals_and_bad_values() {
        let cfg = OtlpConfig {
            traces: Some(false),
            ..Default::default()
        };
        let s = Settings::resolve(&cfg, &env_of(&[])).unwrap();
        assert!(s.traces.is_none() && s.metrics.is_some());

        let bad_env = [
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "10s"),
            ("OTEL_METRIC_EXPORT_INTERVAL", "soon"),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "-1"),
        ];
        for pair in bad_env {
            let r = Settings::resolve(&OtlpConfig::default(), &env_of(&[pair]));
            assert!(matches!(r, Err(OtlpError::Config(_))), "{pair:?}");
        }
        for cfg in [
            OtlpConfig {
                timeout: Some(Duration::ZERO),
                ..Default::default()
            },
            OtlpConfig {
                interval: Some(Duration::ZERO),
                ..Default::default()
            },
            OtlpConfig {
                max_queue_size: Some(0),
                ..Default::default()
            },
            OtlpConfig {
                buckets: Some(vec![1.0, 1.0]),
                ..Default::default()
            },
            OtlpConfig {
                buckets: Some(vec![1.0, f64::INFINITY]),
                ..Default::default()
            },
        ] {
            assert!(
                matches!(
                    Settings::resolve(&cfg, &env_of(&[])),
                    Err(OtlpError::Config(_))
                ),
                "{cfg:?}"
            );
        }
    }

    #[test]
    fn empty_env_values_count_as_unset() {
        let env = env_of(&[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", " "),
            ("OTEL_BSP_MAX_QUEUE_SIZE", ""),
        ]);
        let s = Settings::resolve(&OtlpConfig::default(), &env).unwrap();
        assert_eq!(s.traces.unwrap().protocol, OtlpProtocol::HttpProtobuf);
        assert_eq!(s.queue_size, DEFAULT_QUEUE_SIZE);
    }

    #[test]
    fn default_buckets_are_the_design_list() {
        // DESIGN.md "Metrics": 0.25 0.5 1 1.5 2 2.5 3 4 5 6 8 10 12.5 15 20 25 30 45 60 90 120 180 300 600
        let design = "0.25 0.5 1 1.5 2 2.5 3 4 5 6 8 10 12.5 15 20 25 30 45 60 90 120 180 300 600";
        let parsed: Vec<f64> = design.split(' ').map(|v| v.parse().unwrap()).collect();
        assert_eq!(parsed, DEFAULT_BUCKETS);
    }
}
