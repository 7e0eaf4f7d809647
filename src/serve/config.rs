//! The checked serve configuration: what `fluxprobe serve` runs and `check-config` validates.
//! Loading reads YAML (unknown keys rejected), merges `defaults:` into each target, expands
//! `${ENV}` in URLs and header values, and validates everything, reporting the first problem as
//! `file:line:column: message` with a hint.
//!
//! Decisions worth knowing:
//! - A target's `labels` are not added to every series (that would change label sets whenever
//!   they change); they are exported once, as `fluxprobe_target_labels{target, <key>=<value>…} 1`,
//!   to join on `target` in PromQL.
//! - A `timeout` longer than the trickle interval is allowed: the trickle is open-loop, and
//!   `max_in_flight` bounds how many probes of a target overlap (a send past it is skipped and
//!   counted, never delayed).
//! - `max_in_flight` bounds the trickle's own probes; a burst has its own `concurrency`.
//! - `buckets` and `listen` apply at start; a reload that changes them keeps the running values
//!   and logs a warning.

use super::config_error::{ConfigError, Source};
use super::config_raw::{Dur, RawBurst, RawConfig, RawRequest, RawSettings, RawTarget, SeedValue};
use super::envsubst::{self, EnvError};
use super::otlp::OtlpConfig;
use crate::bench::slo::Slo;
use crate::probe::ProbeMode;
use serde_saphyr::Spanned;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use url::Url;

/// Default address of /metrics. 9464 is also the default of OpenTelemetry SDKs' Prometheus
/// exporters; override with `listen:` or `--listen` when one runs on the same host network.
pub const DEFAULT_LISTEN: &str = "0.0.0.0:9464";
/// DESIGN.md's generate-latency buckets, seconds.
pub const DEFAULT_BUCKETS: &[f64] = &[
    0.25, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 12.5, 15.0, 20.0, 25.0, 30.0,
    45.0, 60.0, 90.0, 120.0, 180.0, 300.0, 600.0,
];
pub const DEFAULT_GRACE: Duration = Duration::from_secs(10);
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(250);
pub const DEFAULT_MAX_IN_FLIGHT: u32 = 4;
pub const DEFAULT_MAX_BODY_BYTES: u64 = 4 * 1024 * 1024;
pub const DEFAULT_STATUS_INTERVAL: Duration = Duration::from_secs(15);
/// The status-scrape timeout is min(this, status_interval) unless set.
pub const DEFAULT_STATUS_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_TRICKLE_INTERVAL: Duration = Duration::from_secs(60);
/// The probe name of the trickle (burst names may not use it).
pub const TRICKLE: &str = "trickle";
/// Longest target, burst and static-label value.
pub const MAX_NAME_LEN: usize = 64;
pub const MAX_BURST_REQUESTS: u32 = 100_000;
pub const MAX_BURST_CONCURRENCY: u32 = 1024;

/// The whole configuration, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct ServeConfig {
    pub listen: SocketAddr,
    pub grace_period: Duration,
    pub buckets: Vec<f64>,
    pub targets: Vec<TargetConfig>,
    pub otlp: Option<OtlpConfig>,
    /// The file it came from (reloads read it again).
    pub source: Option<PathBuf>,
}

/// A request header; the value is secret (never printed).
#[derive(Clone, PartialEq, Eq)]
pub struct Header {
    pub name: String,
    pub value: String,
}

impl fmt::Debug for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, crate::redact::REDACTED)
    }
}

/// What a probe's seed is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeedPolicy {
    None,
    Random,
    Fixed(u64),
}

/// The generate request of a target's probes.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestTemplate {
    /// Used in turn, one per probe.
    pub prompts: Vec<String>,
    pub steps: u32,
    pub guidance: f64,
    pub width: u32,
    pub height: u32,
    pub seed: SeedPolicy,
}

/// The open-loop trickle.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrickleConfig {
    pub interval: Duration,
    /// Each send is delayed by a seeded amount in [0, jitter).
    pub jitter: Duration,
}

/// A cron schedule, compared by its text.
#[derive(Clone)]
pub struct CronSchedule {
    pub pattern: String,
    pub cron: croner::Cron,
}

impl PartialEq for CronSchedule {
    fn eq(&self, other: &Self) -> bool {
        self.pattern == other.pattern
    }
}

impl fmt::Debug for CronSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.pattern)
    }
}

/// A burst's objective, in the syntax of `bench --slo`.
#[derive(Debug, Clone, PartialEq)]
pub struct BurstSlo {
    /// As written.
    pub text: String,
    pub slo: Slo,
}

/// One scheduled burst.
#[derive(Debug, Clone, PartialEq)]
pub struct BurstConfig {
    pub name: String,
    pub schedule: CronSchedule,
    pub timezone: chrono_tz::Tz,
    pub requests: u32,
    pub concurrency: u32,
    pub slo: Option<BurstSlo>,
}

/// One target, defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetConfig {
    pub name: String,
    pub url: Url,
    pub labels: BTreeMap<String, String>,
    pub headers: Vec<Header>,
    /// TLS towards the target (paths as given, or resolved against the file's directory by
    /// [`load_file`]).
    pub tls: crate::api::client::TlsOptions,
    pub mode: ProbeMode,
    pub request: RequestTemplate,
    pub timeout: Duration,
    pub poll_interval: Duration,
    pub max_in_flight: u32,
    pub max_body_bytes: u64,
    /// None: the trickle is disabled.
    pub trickle: Option<TrickleConfig>,
    pub status_interval: Duration,
    pub status_timeout: Duration,
    pub bursts: Vec<BurstConfig>,
}

impl TargetConfig {
    /// The URL for display (credentials and query values hidden).
    pub fn display_url(&self) -> String {
        crate::redact::url(&self.url)
    }

    pub fn burst(&self, name: &str) -> Option<&BurstConfig> {
        self.bursts.iter().find(|b| b.name == name)
    }

    /// Every probe name of this target: "trickle" and the bursts.
    pub fn probe_names(&self) -> Vec<String> {
        std::iter::once(TRICKLE.to_string())
            .chain(self.bursts.iter().map(|b| b.name.clone()))
            .collect()
    }
}

/// Reads and checks a configuration file, expanding `${ENV}` from the process environment.
pub fn load_file(path: &Path) -> Result<ServeConfig, ConfigError> {
    let display = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: display.clone(),
        line: 0,
        column: 0,
        message: format!("cannot read the file: {e}"),
        hint: Some("check the path given to --config / check-config".to_string()),
    })?;
    let mut cfg = parse(&text, &display, &envsubst::process_env)?;
    if let Some(dir) = path.parent() {
        for t in &mut cfg.targets {
            let tls = &mut t.tls;
            for f in [&mut tls.ca_file, &mut tls.cert_file, &mut tls.key_file]
                .into_iter()
                .flatten()
            {
                if f.is_relative() {
                    *f = dir.join(&*f);
                }
            }
        }
    }
    cfg.source = Some(path.to_path_buf());
    Ok(cfg)
}

/// Parses and checks configuration text. `file` names it in errors; `env` resolves `${NAME}`.
pub fn parse(
    text: &str,
    file: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<ServeConfig, ConfigError> {
    let src = Source { file, text };
    let raw: RawConfig = if text.trim().is_empty() {
        return Err(src.at_start(
            "the configuration is empty",
            Some("a configuration needs at least a `targets:` list (see examples/fluxprobe.yml)"),
        ));
    } else {
        serde_saphyr::from_str(text).map_err(|e| src.from_yaml(&e))?
    };
    resolve(raw, &src, env)
}

fn resolve(
    raw: RawConfig,
    src: &Source,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<ServeConfig, ConfigError> {
    let listen = match &raw.listen {
        None => DEFAULT_LISTEN.parse().expect("the default address parses"),
        Some(l) => l.value.trim().parse::<SocketAddr>().map_err(|_| {
            src.at_value(
                l,
                format!("{:?} is not a listen address", l.value),
                Some("write host:port with an IP address, e.g. 0.0.0.0:9464 or 127.0.0.1:9464"),
            )
        })?,
    };
    let grace_period = raw
        .grace_period
        .as_ref()
        .map_or(DEFAULT_GRACE, |g| g.value.0);
    let buckets = match &raw.buckets {
        None => DEFAULT_BUCKETS.to_vec(),
        Some(b) => {
            check_buckets(&b.value).map_err(|m| {
                src.at_value(
                    b,
                    m,
                    Some("list upper bounds in seconds, e.g. [0.5, 1, 2, 5, 10]"),
                )
            })?;
            b.value.clone()
        }
    };
    let defaults = raw.defaults.unwrap_or_default();
    let Some(targets_raw) = raw.targets else {
        return Err(src.at_start(
            "no `targets:` list",
            Some("add at least one target with a name and a url (see examples/fluxprobe.yml)"),
        ));
    };
    if targets_raw.value.is_empty() {
        return Err(src.at_value(
            &targets_raw,
            "the `targets:` list is empty",
            Some("add at least one target with a name and a url"),
        ));
    }
    let mut names = BTreeSet::new();
    let mut targets = Vec::new();
    for mut t in targets_raw.value {
        check_name(&t.name, src, "target")?;
        if !names.insert(t.name.value.clone()) {
            return Err(src.at_value(
                &t.name,
                format!("target name {:?} is used twice", t.name.value),
                Some("target names are label values and must be unique"),
            ));
        }
        let own = t.settings();
        targets.push(resolve_target(t, &own, &defaults, src, env)?);
    }
    let otlp = match raw.otlp {
        None => None,
        Some(o) => {
            let mut cfg = o.value.clone();
            for (name, v) in cfg.headers.iter_mut() {
                *v = envsubst::expand(v, env).map_err(|e| {
                    src.at_value(
                        &o,
                        format!("otlp header {name}: {e}"),
                        Some("export the variable before starting fluxprobe, or write $${ for a literal ${"),
                    )
                })?;
            }
            Some(cfg)
        }
    };
    Ok(ServeConfig {
        listen,
        grace_period,
        buckets,
        targets,
        otlp,
        source: None,
    })
}

fn check_buckets(b: &[f64]) -> Result<(), String> {
    if b.is_empty() {
        return Err("buckets must not be empty".to_string());
    }
    if b.iter().any(|v| !v.is_finite() || *v <= 0.0) {
        return Err("bucket bounds must be positive, finite numbers of seconds".to_string());
    }
    if b.windows(2).any(|w| w[0] >= w[1]) {
        return Err("bucket bounds must be strictly increasing".to_string());
    }
    Ok(())
}

/// Target and burst names: label-safe and path-safe.
pub fn is_valid_name(s: &str) -> bool {
    let mut chars = s.chars();
    s.len() <= MAX_NAME_LEN
        && matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

fn check_name(n: &Spanned<String>, src: &Source, what: &str) -> Result<(), ConfigError> {
    if is_valid_name(&n.value) {
        Ok(())
    } else {
        Err(src.at_value(
            n,
            format!("{what} name {:?} is not allowed", n.value),
            Some("use 1 to 64 characters: letters, digits, '_', '-', '.', starting with a letter or digit"),
        ))
    }
}

fn is_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.starts_with("__")
}

fn env_error(src: &Source, v: &Spanned<String>, e: EnvError, what: &str) -> ConfigError {
    let hint = match &e {
        EnvError::Missing { .. } => {
            "export the variable before starting fluxprobe, or write $${ for a literal ${"
        }
        EnvError::Malformed { .. } => "write ${NAME} with NAME made of letters, digits and '_'",
    };
    src.at_offset(v, e.offset(), format!("{what}: {e}"), Some(hint))
}

fn positive(d: &Spanned<Dur>, src: &Source, key: &str) -> Result<Duration, ConfigError> {
    if d.value.0.is_zero() {
        Err(src.at_value(
            d,
            format!("{key} must be longer than 0"),
            Some("e.g. 50ms, 15s, 5m"),
        ))
    } else {
        Ok(d.value.0)
    }
}

/// The target's own value if set, else the default's.
fn pick<'a, T>(own: &'a Option<T>, def: &'a Option<T>) -> Option<&'a T> {
    own.as_ref().or(def.as_ref())
}

fn resolve_target(
    t: RawTarget,
    own: &RawSettings,
    def: &RawSettings,
    src: &Source,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<TargetConfig, ConfigError> {
    let name = t.name.value.clone();
    let url_text =
        envsubst::expand(&t.url.value, env).map_err(|e| env_error(src, &t.url, e, "url"))?;
    let url = Url::parse(url_text.trim())
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .ok_or_else(|| {
            // Never echo an expanded URL: it may hold a secret.
            let shown = if envsubst::has_reference(&t.url.value) {
                "the URL".to_string()
            } else {
                format!("{:?}", crate::redact::url_str(&url_text))
            };
            src.at_value(
                &t.url,
                format!("{shown} is not an http:// or https:// URL with a host"),
                Some("e.g. http://gpu-box-1:8000 (a base path such as /flux is kept)"),
            )
        })?;

    let mut labels = BTreeMap::new();
    if let Some(l) = &t.labels {
        for (k, v) in &l.value {
            if !is_label_name(k) || k == "target" {
                return Err(src.at_value(
                    l,
                    format!("label name {k:?} is not allowed"),
                    Some("use a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __) other than `target`"),
                ));
            }
            if v.chars().count() > 128 || v.chars().any(char::is_control) {
                return Err(src.at_value(
                    l,
                    format!("the value of label {k:?} is too long or has control characters"),
                    Some("keep label values short (at most 128 characters)"),
                ));
            }
            labels.insert(k.clone(), v.clone());
        }
    }

    // Headers: defaults first, a target's header of the same name (any case) replaces it.
    let mut headers: Vec<Header> = Vec::new();
    for map in [&def.headers, &own.headers].into_iter().flatten() {
        for (hname, hv) in map {
            if reqwest::header::HeaderName::from_bytes(hname.as_bytes()).is_err() {
                return Err(src.at_value(
                    hv,
                    format!("{hname:?} is not a valid header name"),
                    Some("header names are tokens such as Authorization or X-Api-Key"),
                ));
            }
            let value = envsubst::expand(&hv.value, env)
                .map_err(|e| env_error(src, hv, e, &format!("header {hname}")))?;
            if reqwest::header::HeaderValue::from_str(&value).is_err() {
                return Err(src.at_value(
                    hv,
                    format!("the value of header {hname} has characters a header cannot carry"),
                    Some("header values must be visible ASCII (check the environment variable's value)"),
                ));
            }
            headers.retain(|h| !h.name.eq_ignore_ascii_case(hname));
            headers.push(Header {
                name: hname.clone(),
                value,
            });
        }
    }

    let tls = match pick(&own.tls, &def.tls) {
        None => crate::api::client::TlsOptions::default(),
        Some(t) => {
            let v = &t.value;
            if v.cert_file.is_some() != v.key_file.is_some() {
                return Err(src.at_value(
                    t,
                    "tls needs both cert_file and key_file for a client certificate",
                    Some("give both, or neither"),
                ));
            }
            crate::api::client::TlsOptions {
                ca_file: v.ca_file.as_ref().map(PathBuf::from),
                cert_file: v.cert_file.as_ref().map(PathBuf::from),
                key_file: v.key_file.as_ref().map(PathBuf::from),
                insecure_skip_verify: v.insecure_skip_verify,
            }
        }
    };
    let mode = own.mode.or(def.mode).unwrap_or(ProbeMode::Generate);
    let timeout = match pick(&own.timeout, &def.timeout) {
        Some(d) => positive(d, src, "timeout")?,
        None => DEFAULT_TIMEOUT,
    };
    let poll_interval = match pick(&own.poll_interval, &def.poll_interval) {
        Some(d) => positive(d, src, "poll_interval")?,
        None => DEFAULT_POLL_INTERVAL,
    };
    let max_in_flight = match pick(&own.max_in_flight, &def.max_in_flight) {
        Some(m) if m.value == 0 => {
            return Err(src.at_value(m, "max_in_flight must be at least 1", Some("e.g. 4")));
        }
        Some(m) => m.value,
        None => DEFAULT_MAX_IN_FLIGHT,
    };
    let max_body_bytes = match pick(&own.max_body_bytes, &def.max_body_bytes) {
        Some(b) if b.value.0 < 1024 => {
            return Err(src.at_value(
                b,
                "max_body_bytes must be at least 1KiB",
                Some("answers carry an image URL or base64 image; 4MiB is the default"),
            ));
        }
        Some(b) => b.value.0,
        None => DEFAULT_MAX_BODY_BYTES,
    };
    let status_interval = match pick(&own.status_interval, &def.status_interval) {
        Some(d) => positive(d, src, "status_interval")?,
        None => DEFAULT_STATUS_INTERVAL,
    };
    let status_timeout = match pick(&own.status_timeout, &def.status_timeout) {
        Some(d) => {
            let v = positive(d, src, "status_timeout")?;
            if v > status_interval {
                return Err(src.at_value(
                    d,
                    "status_timeout is longer than status_interval",
                    Some("a scrape must end before the next one starts; shorten status_timeout"),
                ));
            }
            v
        }
        None => DEFAULT_STATUS_TIMEOUT.min(status_interval),
    };
    let request = resolve_request(own.request.as_ref(), def.request.as_ref(), src)?;
    let trickle = resolve_trickle(own, def, src)?;

    let mut bursts = Vec::new();
    let mut burst_names = BTreeSet::new();
    for b in &t.bursts {
        let burst = resolve_burst(b, src)?;
        if !burst_names.insert(burst.name.clone()) {
            return Err(src.at_value(
                &b.name,
                format!(
                    "burst name {:?} is used twice in target {name:?}",
                    burst.name
                ),
                Some("burst names are the `probe` label and must be unique within a target"),
            ));
        }
        bursts.push(burst);
    }

    Ok(TargetConfig {
        name,
        url,
        labels,
        headers,
        tls,
        mode,
        request,
        timeout,
        poll_interval,
        max_in_flight,
        max_body_bytes,
        trickle,
        status_interval,
        status_timeout,
        bursts,
    })
}

fn resolve_request(
    own: Option<&RawRequest>,
    def: Option<&RawRequest>,
    src: &Source,
) -> Result<RequestTemplate, ConfigError> {
    let empty = RawRequest::default();
    let own = own.unwrap_or(&empty);
    let def = def.unwrap_or(&empty);
    let base = crate::api::wire::GenerateRequest::default();
    // A target's prompt or prompts replace the defaults' (both forms together are one choice).
    let (prompt, prompts) = if own.prompt.is_some() || own.prompts.is_some() {
        (&own.prompt, &own.prompts)
    } else {
        (&def.prompt, &def.prompts)
    };
    let mut pool = Vec::new();
    if let Some(p) = prompt {
        pool.push(p.value.clone());
    }
    if let Some(ps) = prompts {
        if ps.value.is_empty() {
            return Err(src.at_value(ps, "prompts is empty", Some("list at least one prompt")));
        }
        pool.extend(ps.value.iter().cloned());
    }
    if pool.iter().any(|p| p.trim().is_empty()) {
        let at = prompts
            .as_ref()
            .map(|p| p.referenced)
            .or(prompt.as_ref().map(|p| p.referenced))
            .unwrap_or(serde_saphyr::Location::UNKNOWN);
        return Err(src.at(
            &at,
            "a prompt is empty",
            Some("the FLUX API rejects empty prompts"),
        ));
    }
    if pool.is_empty() {
        pool = crate::bench::requests::DEFAULT_PROMPTS
            .iter()
            .map(|p| p.to_string())
            .collect();
    }
    let steps = match pick(&own.steps, &def.steps) {
        Some(s) if s.value == 0 => return Err(src.at_value(s, "steps must be at least 1", None)),
        Some(s) => s.value,
        None => base.num_inference_steps,
    };
    let guidance = match pick(&own.guidance, &def.guidance) {
        Some(g) if !g.value.is_finite() || g.value < 0.0 => {
            return Err(src.at_value(
                g,
                "guidance must be a non-negative number",
                Some("e.g. 4.0"),
            ));
        }
        Some(g) => g.value,
        None => base.guidance_scale,
    };
    let mut dims = [base.width, base.height];
    for (i, v) in [pick(&own.width, &def.width), pick(&own.height, &def.height)]
        .into_iter()
        .enumerate()
    {
        if let Some(v) = v {
            if v.value == 0 || v.value > 16384 {
                return Err(src.at_value(
                    v,
                    "image sizes must be 1..16384 pixels",
                    Some("e.g. 512"),
                ));
            }
            dims[i] = v.value;
        }
    }
    let seed = match pick(&own.seed, &def.seed).map(|s| s.value) {
        None | Some(SeedValue::None) => SeedPolicy::None,
        Some(SeedValue::Random) => SeedPolicy::Random,
        Some(SeedValue::Fixed(n)) => SeedPolicy::Fixed(n),
    };
    Ok(RequestTemplate {
        prompts: pool,
        steps,
        guidance,
        width: dims[0],
        height: dims[1],
        seed,
    })
}

fn resolve_trickle(
    own: &RawSettings,
    def: &RawSettings,
    src: &Source,
) -> Result<Option<TrickleConfig>, ConfigError> {
    let empty = Default::default();
    let o = own.trickle.as_ref().unwrap_or(&empty);
    let d = def.trickle.as_ref().unwrap_or(&empty);
    if o.enabled.or(d.enabled) == Some(false) {
        return Ok(None);
    }
    // interval and rate are one choice: a target's own wins over the defaults' as a pair.
    let (interval, rate) = if o.interval.is_some() || o.rate.is_some() {
        (&o.interval, &o.rate)
    } else {
        (&d.interval, &d.rate)
    };
    let interval = match (interval, rate) {
        (Some(_), Some(r)) => {
            return Err(src.at_value(
                r,
                "trickle has both interval and rate",
                Some("give one: interval: 60s, or rate: 0.5 (probes per second)"),
            ));
        }
        (Some(i), None) => positive(i, src, "trickle interval")?,
        (None, Some(r)) => {
            if !(r.value.is_finite() && r.value > 0.0 && r.value <= 1000.0) {
                return Err(src.at_value(
                    r,
                    "trickle rate must be a number of probes per second in (0, 1000]",
                    Some("e.g. rate: 0.5 for one probe every 2 seconds"),
                ));
            }
            Duration::from_secs_f64(1.0 / r.value)
        }
        (None, None) => DEFAULT_TRICKLE_INTERVAL,
    };
    let jitter = match pick(&o.jitter, &d.jitter) {
        Some(j) if j.value.0 >= interval => {
            return Err(src.at_value(
                j,
                "trickle jitter must be shorter than the interval",
                Some("jitter spreads each send within [0, jitter) after its slot"),
            ));
        }
        Some(j) => j.value.0,
        None => Duration::ZERO,
    };
    Ok(Some(TrickleConfig { interval, jitter }))
}

/// Parses a 5- or 6-field cron pattern (6: seconds first).
pub fn parse_cron(pattern: &str) -> Result<croner::Cron, String> {
    use croner::parser::{CronParser, Seconds, Year};
    let parser = CronParser::builder()
        .seconds(Seconds::Optional)
        .year(Year::Disallowed)
        .build();
    let t = pattern.trim();
    if !t.starts_with('@') {
        let n = t.split_whitespace().count();
        if n != 5 && n != 6 {
            return Err(format!(
                "a schedule has 5 fields (minute hour day-of-month month day-of-week) or 6 (seconds first), this one has {n}"
            ));
        }
    }
    parser.parse(t).map_err(|e| e.to_string())
}

/// The character offset of the first cron field that does not parse on its own, if any.
fn faulty_cron_field(pattern: &str) -> Option<usize> {
    let fields: Vec<(usize, &str)> = field_offsets(pattern);
    if fields.len() != 5 && fields.len() != 6 {
        return None;
    }
    for i in 0..fields.len() {
        let probe: Vec<&str> = fields
            .iter()
            .enumerate()
            .map(|(j, (_, f))| if i == j { *f } else { "*" })
            .collect();
        if parse_cron(&probe.join(" ")).is_err() {
            return Some(fields[i].0);
        }
    }
    None
}

fn field_offsets(s: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = None;
    let mut byte_start = 0;
    for (char_idx, (b, c)) in s.char_indices().enumerate() {
        if c.is_whitespace() {
            if let Some(st) = start.take() {
                out.push((st, &s[byte_start..b]));
            }
        } else if start.is_none() {
            start = Some(char_idx);
            byte_start = b;
        }
    }
    if let Some(st) = start {
        out.push((st, &s[byte_start..]));
    }
    out
}

fn resolve_burst(b: &RawBurst, src: &Source) -> Result<BurstConfig, ConfigError> {
    check_name(&b.name, src, "burst")?;
    if b.name.value == TRICKLE {
        return Err(src.at_value(
            &b.name,
            "a burst cannot be named \"trickle\"",
            Some("\"trickle\" is the probe label of the trickle; pick another name"),
        ));
    }
    let cron = parse_cron(&b.schedule.value).map_err(|m| {
        let off = faulty_cron_field(&b.schedule.value).unwrap_or(0);
        src.at_offset(
            &b.schedule,
            off,
            format!("schedule {:?}: {m}", b.schedule.value),
            Some("cron fields: [second] minute hour day-of-month month day-of-week, e.g. \"*/5 * * * *\""),
        )
    })?;
    let timezone = match &b.timezone {
        None => chrono_tz::UTC,
        Some(z) => z.value.trim().parse::<chrono_tz::Tz>().map_err(|_| {
            src.at_value(
                z,
                format!("unknown time zone {:?}", z.value),
                Some("use an IANA name such as UTC, Europe/Berlin or America/New_York"),
            )
        })?,
    };
    if b.requests.value == 0 || b.requests.value > MAX_BURST_REQUESTS {
        return Err(src.at_value(
            &b.requests,
            format!("requests must be 1..{MAX_BURST_REQUESTS}"),
            None,
        ));
    }
    if b.concurrency.value == 0 || b.concurrency.value > MAX_BURST_CONCURRENCY {
        return Err(src.at_value(
            &b.concurrency,
            format!("concurrency must be 1..{MAX_BURST_CONCURRENCY}"),
            None,
        ));
    }
    if b.concurrency.value > b.requests.value {
        return Err(src.at_value(
            &b.concurrency,
            "concurrency is larger than requests",
            Some("a burst never has more requests in flight than it sends; lower concurrency"),
        ));
    }
    let slo = match &b.slo {
        None => None,
        Some(s) => {
            let slo = Slo::parse(&s.value).map_err(|e| {
                // Point at the faulty clause.
                let offset = s
                    .value
                    .find(e.clause.as_str())
                    .filter(|_| !e.clause.is_empty())
                    .map(|b| s.value[..b].chars().count())
                    .unwrap_or(0);
                src.at_offset(
                    s,
                    offset,
                    format!("slo: clause {:?}: {}", e.clause, e.message),
                    Some("the syntax of bench --slo, e.g. \"p95<8s,success>=0.99\" (pNN, mean, median, min, max, success, error_rate, throughput)"),
                )
            })?;
            Some(BurstSlo {
                text: s.value.trim().to_string(),
                slo,
            })
        }
    };
    Ok(BurstConfig {
        name: b.name.value.clone(),
        schedule: CronSchedule {
            pattern: b.schedule.value.trim().to_string(),
            cron,
        },
        timezone,
        requests: b.requests.value,
        concurrency: b.concurrency.value,
        slo,
    })
}

/// A duration for people, to the millisecond.
fn show(d: Duration) -> humantime::FormattedDuration {
    humantime::format_duration(Duration::from_millis(d.as_millis() as u64))
}

impl ServeConfig {
    /// A short human summary (check-config prints it). Never shows secrets.
    pub fn summary(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "listen {}; grace period {:?}; {} histogram buckets",
            self.listen,
            self.grace_period,
            self.buckets.len()
        );
        if self.otlp.is_some() {
            let _ = writeln!(s, "OTLP export configured");
        }
        for t in &self.targets {
            let _ = writeln!(
                s,
                "target {} at {} ({} mode)",
                t.name,
                t.display_url(),
                t.mode.as_str()
            );
            match &t.trickle {
                Some(tr) => {
                    let _ = writeln!(
                        s,
                        "  trickle every {} (jitter {}), timeout {}, max_in_flight {}",
                        show(tr.interval),
                        show(tr.jitter),
                        show(t.timeout),
                        t.max_in_flight
                    );
                }
                None => {
                    let _ = writeln!(s, "  trickle disabled");
                }
            }
            let _ = writeln!(
                s,
                "  status every {} (timeout {})",
                show(t.status_interval),
                show(t.status_timeout)
            );
            if !t.headers.is_empty() {
                let names: Vec<&str> = t.headers.iter().map(|h| h.name.as_str()).collect();
                let _ = writeln!(s, "  headers: {} (values hidden)", names.join(", "));
            }
            for b in &t.bursts {
                let _ = writeln!(
                    s,
                    "  burst {}: \"{}\" {} — {} requests at concurrency {}{}",
                    b.name,
                    b.schedule.pattern,
                    b.timezone.name(),
                    b.requests,
                    b.concurrency,
                    b.slo
                        .as_ref()
                        .map(|x| format!(", slo {}", x.text))
                        .unwrap_or_default()
                );
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "FLUX_TOKEN").then(|| "tok-123".to_string())
    }

    fn load(text: &str) -> Result<ServeConfig, ConfigError> {
        parse(text, "t.yml", &env)
    }

    const MINIMAL: &str = "targets:\n  - name: a\n    url: http://127.0.0.1:8000\n";

    #[test]
    fn minimal_config_gets_the_documented_defaults() {
        let c = load(MINIMAL).unwrap();
        assert_eq!(c.listen, "0.0.0.0:9464".parse().unwrap());
        assert_eq!(c.buckets.len(), 24);
        let t = &c.targets[0];
        assert_eq!(t.timeout, Duration::from_secs(300));
        assert_eq!(t.max_in_flight, 4);
        assert_eq!(t.status_interval, Duration::from_secs(15));
        assert_eq!(t.status_timeout, Duration::from_secs(10));
        assert_eq!(
            t.trickle,
            Some(TrickleConfig {
                interval: Duration::from_secs(60),
                jitter: Duration::ZERO
            })
        );
        assert_eq!(t.mode, ProbeMode::Generate);
        assert_eq!(t.request.seed, SeedPolicy::None);
    }

    #[test]
    fn defaults_merge_and_targets_win() {
        let c = load(
            "defaults:\n  timeout: 20s\n  max_in_flight: 2\n  status_interval: 5s\n  request: {steps: 4, width: 256}\n  trickle: {interval: 50ms}\n  headers: {Authorization: 'Bearer ${FLUX_TOKEN}', X-A: one}\ntargets:\n  - name: a\n    url: http://h:1\n    request: {width: 1024, seed: random}\n    headers: {x-a: two}\n  - name: b\n    url: http://h:2\n    trickle: {rate: 4}\n",
        )
        .unwrap();
        let a = &c.targets[0];
        assert_eq!(a.timeout, Duration::from_secs(20));
        assert_eq!(a.status_timeout, Duration::from_secs(5));
        assert_eq!(a.request.steps, 4);
        assert_eq!(a.request.width, 1024);
        assert_eq!(a.request.seed, SeedPolicy::Random);
        assert_eq!(a.trickle.unwrap().interval, Duration::from_millis(50));
        assert_eq!(a.headers.len(), 2);
        assert_eq!(a.headers[0].value, "Bearer tok-123");
        assert_eq!(a.headers[1].name, "x-a");
        assert_eq!(a.headers[1].value, "two");
        assert!(
            !format!("{a:?}").contains("tok-123"),
            "Debug must hide header values"
        );
        assert_eq!(
            c.targets[1].trickle.unwrap().interval,
            Duration::from_millis(250)
        );
        assert_eq!(c.targets[1].request.width, 256);
    }

    #[test]
    fn unknown_keys_are_rejected_with_a_position() {
        let e = load("targets:\n  - name: a\n    url: http://h:1\n    timeot: 5s\n").unwrap_err();
        assert_eq!((e.line, e.column), (4, 5), "{e}");
        assert!(e.message.contains("timeot"), "{e}");
        assert!(e.hint.is_some());
        assert!(e.to_string().starts_with("t.yml:4:5: "), "{e}");
    }

    #[test]
    fn bad_values_point_at_the_value() {
        let e =
            load("targets:\n  - name: a\n    url: http://h:1\n    timeout: soon\n").unwrap_err();
        assert_eq!(e.line, 4, "{e}");
        let e = load("targets:\n  - name: 'a b'\n    url: http://h:1\n").unwrap_err();
        assert_eq!((e.line, e.column), (2, 11), "{e}");
        let e = load("targets:\n  - name: a\n    url: ftp://h\n").unwrap_err();
        assert_eq!((e.line, e.column), (3, 10), "{e}");
        let e =
            load("targets:\n  - name: a\n    url: http://h:1\n  - name: a\n    url: http://h:2\n")
                .unwrap_err();
        assert_eq!(e.line, 4);
        assert!(e.message.contains("twice"));
        let e = load(
            "targets:\n  - name: a\n    url: http://h:1\n    trickle: {interval: 1s, jitter: 2s}\n",
        )
        .unwrap_err();
        assert_eq!(e.line, 4);
        let e = load("listen: nowhere\ntargets:\n  - name: a\n    url: http://h:1\n").unwrap_err();
        assert_eq!((e.line, e.column), (1, 9));
    }

    #[test]
    fn missing_environment_variables_are_named_never_valued() {
        let e = load("targets:\n  - name: a\n    url: http://h:1\n    headers:\n      Authorization: Bearer ${NOT_SET_X}\n")
            .unwrap_err();
        assert!(e.message.contains("NOT_SET_X"), "{e}");
        assert_eq!(e.line, 5);
        // Column of the `${`: value starts at 22, the reference 7 characters in.
        assert_eq!(e.column, 22 + 7, "{e}");
    }

    #[test]
    fn cron_errors_point_at_the_faulty_field() {
        let text = "targets:\n  - name: a\n    url: http://h:1\n    bursts:\n      - {name: b, schedule: \"*/5 25 * * *\", requests: 4, concurrency: 2}\n";
        let e = load(text).unwrap_err();
        let line5 = text.lines().nth(4).unwrap();
        let col = line5.find("25").unwrap() as u64 + 1;
        assert_eq!((e.line, e.column), (5, col), "{e}");
        let e = load("targets:\n  - name: a\n    url: http://h:1\n    bursts:\n      - {name: b, schedule: \"* * *\", requests: 4, concurrency: 2}\n").unwrap_err();
        assert!(e.message.contains("5 fields"), "{e}");
    }

    #[test]
    fn bursts_and_slos() {
        let c = load("targets:\n  - name: a\n    url: http://h:1\n    bursts:\n      - name: hourly\n        schedule: '0 * * * *'\n        timezone: Europe/Berlin\n        requests: 10\n        concurrency: 3\n        slo: 'p95<8s,success>=0.99'\n      - {name: fast, schedule: '*/10 * * * * *', requests: 2, concurrency: 1}\n").unwrap();
        let b = &c.targets[0].bursts;
        assert_eq!(b.len(), 2);
        assert_eq!(b[0].timezone, chrono_tz::Europe::Berlin);
        assert_eq!(b[0].slo.as_ref().unwrap().slo.clauses.len(), 2);
        assert_eq!(b[1].timezone, chrono_tz::UTC);
        let e = load("targets:\n  - name: a\n    url: http://h:1\n    bursts:\n      - {name: trickle, schedule: '* * * * *', requests: 2, concurrency: 1}\n").unwrap_err();
        assert!(e.message.contains("trickle"));
        let e = load("targets:\n  - name: a\n    url: http://h:1\n    bursts:\n      - {name: x, schedule: '* * * * *', requests: 2, concurrency: 1, slo: 'p95<8s,nope>1'}\n").unwrap_err();
        assert!(e.message.contains("nope"), "{e}");
        let e = load("targets:\n  - name: a\n    url: http://h:1\n    bursts:\n      - {name: x, schedule: '* * * * *', timezone: Mars/Olympus, requests: 2, concurrency: 1}\n").unwrap_err();
        assert!(e.message.contains("Mars"), "{e}");
    }

    #[test]
    fn empty_and_targetless_configs_are_errors() {
        assert!(load("").is_err());
        assert!(
            load("listen: 127.0.0.1:1\n")
                .unwrap_err()
                .message
                .contains("targets")
        );
        assert!(load("targets: []\n").is_err());
    }

    #[test]
    fn otlp_headers_expand_the_environment() {
        let c = load("otlp:\n  endpoint: http://127.0.0.1:4318\n  headers: {authorization: 'Bearer ${FLUX_TOKEN}'}\ntargets:\n  - name: a\n    url: http://h:1\n").unwrap();
        assert_eq!(c.otlp.unwrap().headers["authorization"], "Bearer tok-123");
        let e = load("otlp:\n  headers: {authorization: '${NOPE_X}'}\ntargets:\n  - name: a\n    url: http://h:1\n").unwrap_err();
        assert!(e.message.contains("NOPE_X"), "{e}");
        let e = load(
            "otlp:\n  endpoint: http://x\n  bogus: 1\ntargets:\n  - name: a\n    url: http://h:1\n",
        )
        .unwrap_err();
        assert_eq!(e.line, 3, "{e}");
    }

    #[test]
    fn a_long_timeout_with_a_short_trickle_is_allowed() {
        let c = load("targets:\n  - name: a\n    url: http://h:1\n    timeout: 10m\n    trickle: {interval: 1s}\n").unwrap();
        assert!(c.targets[0].timeout > c.targets[0].trickle.unwrap().interval);
    }
}
