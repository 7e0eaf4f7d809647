//! HTTP exchanges with a FLUX service: one reqwest client per target, a whole-exchange deadline,
//! a body-size cap, and classification of every failure into an [`Outcome`].

use crate::outcome::Outcome;
use bytes::{Bytes, BytesMut};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use std::time::Duration;
use tokio::time::Instant;
use url::Url;

/// Longest error message kept for a report (never used as a label).
pub const MAX_ERROR_CHARS: usize = 300;

/// How to reach one target.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub base_url: Url,
    /// Extra request headers ("Authorization: Bearer …"); values are never logged.
    pub headers: Vec<(String, String)>,
    /// Default deadline of one exchange (connect + headers + body).
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Bodies longer than this end the exchange as `body_too_large`.
    pub max_body_bytes: usize,
    /// Idle connections kept per host.
    pub pool_max_idle_per_host: usize,
    /// How to check the target's certificate and what to show it.
    pub tls: TlsOptions,
}

/// TLS towards one target (rustls). The system's roots are always trusted; `ca_file` adds more.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// PEM file of extra CA certificates (a private CA in front of the service).
    pub ca_file: Option<std::path::PathBuf>,
    /// PEM client certificate (chain) for mutual TLS; needs `key_file`.
    pub cert_file: Option<std::path::PathBuf>,
    /// PEM private key of `cert_file`.
    pub key_file: Option<std::path::PathBuf>,
    /// Accept any certificate. For test rigs only: logged as a warning whenever a client is built.
    pub insecure_skip_verify: bool,
}

impl ClientConfig {
    pub fn new(base_url: Url) -> Self {
        Self {
            base_url,
            headers: Vec::new(),
            timeout: Duration::from_secs(300),
            connect_timeout: Duration::from_secs(10),
            max_body_bytes: 4 * 1024 * 1024,
            pool_max_idle_per_host: 64,
            tls: TlsOptions::default(),
        }
    }
}

/// A client that cannot be built from its configuration.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("invalid header {name:?}: {reason}")]
    Header { name: String, reason: String },
    #[error("URL {0:?} cannot be a base URL (it needs http:// or https:// and a host)")]
    BadUrl(String),
    #[error("TLS {what} {path}: {reason}")]
    Tls {
        what: &'static str,
        path: String,
        reason: String,
    },
    #[error("TLS: a client certificate needs both a certificate file and a key file")]
    TlsPair,
    #[error("cannot build the HTTP client: {0}")]
    Build(#[from] reqwest::Error),
}

/// A complete HTTP answer (any status).
#[derive(Debug, Clone)]
pub struct Exchange {
    pub status: u16,
    pub body: Bytes,
    pub sent: Instant,
    pub first_byte: Instant,
    pub done: Instant,
    /// The server's Retry-After (429, 503), in seconds from when the answer came.
    pub retry_after: Option<f64>,
}

/// An exchange that produced no complete answer.
#[derive(Debug, Clone)]
pub struct ExchangeError {
    pub outcome: Outcome,
    pub message: String,
    pub status: Option<u16>,
    pub sent: Instant,
    pub first_byte: Option<Instant>,
    pub done: Instant,
    /// Bytes of body received before the failure.
    pub bytes: u64,
}

/// The client of one FLUX target.
#[derive(Debug, Clone)]
pub struct FluxClient {
    http: reqwest::Client,
    base: Url,
    timeout: Duration,
    max_body_bytes: usize,
    /// What this client sends that is secret: header values and the URL's credentials and
    /// query values. A server may echo them back (a validation error quoting the request, a
    /// proxy page listing headers); [`FluxClient::scrub`] takes them out of such text.
    secrets: std::sync::Arc<[String]>,
}

/// Shorter values are not scrubbed: they would match ordinary words and figures.
const MIN_SECRET_CHARS: usize = 4;

/// The secret strings of a client's configuration, longest first (so that a value is replaced
/// whole before any part of it): each header value, and each word of it ("Bearer abc…" is also
/// scrubbed where only the token comes back); the URL's user, password and query values.
fn secrets_of(cfg: &ClientConfig) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (_, v) in &cfg.headers {
        out.push(v.trim().to_string());
        out.extend(v.split_whitespace().map(str::to_string));
    }
    let u = &cfg.base_url;
    out.push(u.username().to_string());
    out.extend(u.password().map(str::to_string));
    out.extend(u.query_pairs().map(|(_, v)| v.into_owned()));
    // Authentication scheme names are no secret, and scrubbing them would hide every mention.
    const SCHEMES: &[&str] = &["basic", "bearer", "digest", "token", "negotiate"];
    out.retain(|s| {
        s.chars().count() >= MIN_SECRET_CHARS && !SCHEMES.contains(&s.to_ascii_lowercase().as_str())
    });
    out.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    out.dedup();
    out
}

/// Parses "Name: value" into a header pair.
pub fn parse_header_arg(s: &str) -> Result<(String, String), ClientError> {
    match s.split_once(':') {
        Some((n, v)) if !n.trim().is_empty() => Ok((n.trim().to_string(), v.trim().to_string())),
        _ => Err(ClientError::Header {
            name: s.split(':').next().unwrap_or("").to_string(),
            reason: "expected 'Name: value'".to_string(),
        }),
    }
}

fn header_map(headers: &[(String, String)]) -> Result<HeaderMap, ClientError> {
    let mut map = HeaderMap::new();
    for (n, v) in headers {
        let name = HeaderName::from_bytes(n.as_bytes()).map_err(|e| ClientError::Header {
            name: n.clone(),
            reason: e.to_string(),
        })?;
        let mut value = HeaderValue::from_str(v).map_err(|_| ClientError::Header {
            name: n.clone(),
            reason: "the value has characters a header cannot carry".to_string(),
        })?;
        value.set_sensitive(true);
        map.append(name, value);
    }
    Ok(map)
}

/// Truncates an error message for reports, on a character boundary.
pub fn short_message(s: &str) -> String {
    let s = s.trim();
    if s.chars().count() <= MAX_ERROR_CHARS {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(MAX_ERROR_CHARS).collect();
        out.push('…');
        out
    }
}

/// Reads a Retry-After header: delay-seconds ("120") or an HTTP date ("Wed, 21 Oct 2026 07:28:00
/// GMT"), as seconds from `now`. A date in the past is 0; anything else (negative, garbage, a
/// date of another format) is `None`. Delays are capped at a day: a longer one is not a hint a
/// prober can use, and a huge figure must not overflow anything downstream.
pub fn parse_retry_after(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<f64> {
    const DAY: f64 = 86_400.0;
    let v = value.trim();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        return Some(v.parse::<f64>().ok()?.min(DAY));
    }
    let date = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let secs = (date.with_timezone(&chrono::Utc) - now).num_milliseconds() as f64 / 1000.0;
    Some(secs.clamp(0.0, DAY))
}

/// Classifies a reqwest error. TLS failures surface as connect errors caused by a rustls
/// error (found by type in the source chain; the text is a fallback for wrapped causes).
pub fn classify_reqwest(e: &reqwest::Error) -> Outcome {
    if e.is_timeout() {
        return Outcome::Timeout;
    }
    let mut chain = String::new();
    let mut src: Option<&dyn std::error::Error> = Some(e);
    while let Some(s) = src {
        if s.downcast_ref::<rustls::Error>().is_some() {
            return Outcome::Tls;
        }
        if let Some(io) = s.downcast_ref::<std::io::Error>()
            && io
                .get_ref()
                .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some())
        {
            return Outcome::Tls;
        }
        chain.push_str(&s.to_string().to_ascii_lowercase());
        chain.push(' ');
        src = s.source();
    }
    // rustls's own wording, for causes wrapped where the type is not reachable.
    const TLS_MARKERS: &[&str] = &[
        "certificate",
        "tls",
        "handshake",
        "received corrupt message",
        "received fatal alert",
        "peer is incompatible",
        "peer misbehaved",
    ];
    if TLS_MARKERS.iter().any(|m| chain.contains(m)) {
        return Outcome::Tls;
    }
    if e.is_connect() {
        return Outcome::Connect;
    }
    Outcome::Transport
}

fn error_text(e: &reqwest::Error) -> String {
    let mut causes = Vec::new();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        causes.push(s.to_string());
        src = s.source();
    }
    short_message(&chain_text(&e.without_url_ref(), &causes))
}

/// An error and its causes as one line, kept short enough that the root cause survives the
/// cut of a report line: hyper's wrapper ("client error (Connect)") and empty links are left
/// out, and a cause whose text its outer link already ends with is not said twice.
fn chain_text(kind: &str, causes: &[String]) -> String {
    let mut kept: Vec<&str> = Vec::new();
    for c in causes {
        let c = c.trim();
        if c.is_empty() || c.starts_with("client error (") {
            continue;
        }
        if kept.last().is_some_and(|outer| outer.ends_with(c)) {
            continue;
        }
        kept.push(c);
    }
    let mut text = kind.to_string();
    for c in kept {
        text.push_str(": ");
        text.push_str(c);
    }
    text
}

trait WithoutUrl {
    fn without_url_ref(&self) -> String;
}
impl WithoutUrl for reqwest::Error {
    /// reqwest's Display names the URL, which may carry credentials; report the kind only.
    fn without_url_ref(&self) -> String {
        let kind = if self.is_timeout() {
            "timed out"
        } else if self.is_connect() {
            "connection failed"
        } else if self.is_body() {
            "error reading the body"
        } else if self.is_decode() {
            "error decoding the body"
        } else if self.is_redirect() {
            "too many redirects"
        } else if self.is_request() {
            "request failed"
        } else {
            "HTTP error"
        };
        kind.to_string()
    }
}

impl FluxClient {
    pub fn new(cfg: &ClientConfig) -> Result<FluxClient, ClientError> {
        if !matches!(cfg.base_url.scheme(), "http" | "https") || cfg.base_url.host().is_none() {
            return Err(ClientError::BadUrl(cfg.base_url.to_string()));
        }
        let builder = reqwest::Client::builder()
            .default_headers(header_map(&cfg.headers)?)
            .user_agent(concat!("fluxprobe/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(cfg.connect_timeout)
            .pool_max_idle_per_host(cfg.pool_max_idle_per_host)
            .redirect(reqwest::redirect::Policy::limited(5));
        let http = builder
            .tls_backend_preconfigured(super::tls::client_config(&cfg.tls, &cfg.base_url)?)
            .build()?;
        let mut base = cfg.base_url.clone();
        let trimmed = base.path().trim_end_matches('/').to_string();
        base.set_path(&trimmed);
        Ok(FluxClient {
            http,
            base,
            timeout: cfg.timeout,
            max_body_bytes: cfg.max_body_bytes,
            secrets: secrets_of(cfg).into(),
        })
    }

    /// Text from the server (an error body, a failure message) with every secret this client
    /// sends replaced by `<redacted>`.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in self.secrets.iter() {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), crate::redact::REDACTED);
            }
        }
        out
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The URL of a path below the base URL (keeps a base path such as /flux).
    pub fn url(&self, path: &str) -> Url {
        let mut u = self.base.clone();
        let joined = format!("{}{}", self.base.path().trim_end_matches('/'), path);
        u.set_path(&joined);
        u
    }

    /// The base URL without credentials, for display.
    pub fn display_url(&self) -> String {
        crate::redact::url(&self.base)
    }

    /// GET a path, with the client's default deadline.
    pub async fn get(&self, path: &str) -> Result<Exchange, ExchangeError> {
        let deadline = Instant::now() + self.timeout;
        self.exchange(self.http.get(self.url(path)), deadline).await
    }

    /// GET with an explicit deadline.
    pub async fn get_until(
        &self,
        path: &str,
        deadline: Instant,
    ) -> Result<Exchange, ExchangeError> {
        self.exchange(self.http.get(self.url(path)), deadline).await
    }

    /// POST a JSON body, with extra per-request headers (trace context) and a deadline.
    pub async fn post_json<T: serde::Serialize + ?Sized>(
        &self,
        path: &str,
        body: &T,
        extra: &HeaderMap,
        deadline: Instant,
    ) -> Result<Exchange, ExchangeError> {
        let req = self
            .http
            .post(self.url(path))
            .headers(extra.clone())
            .json(body);
        self.exchange(req, deadline).await
    }

    /// Runs one exchange to completion or to the deadline, whichever comes first.
    pub async fn exchange(
        &self,
        req: reqwest::RequestBuilder,
        deadline: Instant,
    ) -> Result<Exchange, ExchangeError> {
        let sent = Instant::now();
        let mut first_byte: Option<Instant> = None;
        let mut status: Option<u16> = None;
        let mut received: u64 = 0;
        let mut retry_after: Option<f64> = None;
        let cap = self.max_body_bytes;
        let result = tokio::time::timeout_at(deadline, async {
            let mut resp = req
                .send()
                .await
                .map_err(|e| (classify_reqwest(&e), error_text(&e)))?;
            first_byte = Some(Instant::now());
            status = Some(resp.status().as_u16());
            if matches!(status, Some(429 | 503)) {
                retry_after = resp
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| parse_retry_after(v, chrono::Utc::now()));
            }
            if let Some(len) = resp.content_length()
                && len > cap as u64
            {
                return Err((
                    Outcome::BodyTooLarge,
                    format!("Content-Length {len} exceeds the cap of {cap} bytes"),
                ));
            }
            let mut buf = BytesMut::new();
            loop {
                match resp.chunk().await {
                    Ok(Some(chunk)) => {
                        received += chunk.len() as u64;
                        if buf.len() + chunk.len() > cap {
                            return Err((
                                Outcome::BodyTooLarge,
                                format!("body exceeds the cap of {cap} bytes"),
                            ));
                        }
                        buf.extend_from_slice(&chunk);
                    }
                    Ok(None) => break,
                    Err(e) => {
                        let outcome = match classify_reqwest(&e) {
                            Outcome::Timeout => Outcome::Timeout,
                            _ => Outcome::Transport,
                        };
                        return Err((outcome, error_text(&e)));
                    }
                }
            }
            Ok(buf.freeze())
        })
        .await;
        let done = Instant::now();
        match result {
            Ok(Ok(body)) => Ok(Exchange {
                status: status.unwrap_or(0),
                body,
                sent,
                first_byte: first_byte.unwrap_or(done),
                done,
                retry_after,
            }),
            Ok(Err((outcome, message))) => Err(ExchangeError {
                outcome,
                message,
                status,
                sent,
                first_byte,
                done,
                bytes: received,
            }),
            Err(_) => Err(ExchangeError {
                outcome: Outcome::Timeout,
                message: if first_byte.is_some() {
                    "timed out reading the body".to_string()
                } else {
                    "timed out waiting for the response headers".to_string()
                },
                status,
                sent,
                first_byte,
                done,
                bytes: received,
            }),
        }
    }
}

impl FluxClient {
    /// GETs a status endpoint and parses it as a JSON object. A non-2xx status or a body that is
    /// not a JSON object is an error with the matching outcome.
    pub async fn fetch_status(
        &self,
        endpoint: super::StatusEndpoint,
        deadline: Instant,
    ) -> Result<(super::wire::Body, Exchange), ExchangeError> {
        let ex = self.get_until(endpoint.path(), deadline).await?;
        let fail = |outcome: Outcome, message: String| ExchangeError {
            outcome,
            message,
            status: Some(ex.status),
            sent: ex.sent,
            first_byte: Some(ex.first_byte),
            done: ex.done,
            bytes: ex.body.len() as u64,
        };
        if !(200..300).contains(&ex.status) {
            let detail = super::wire::Body::parse(&ex.body)
                .ok()
                .and_then(|b| super::wire::error_detail(&b))
                .unwrap_or_default();
            return Err(fail(
                Outcome::from_http_status(ex.status),
                short_message(&self.scrub(&format!("HTTP {} {}", ex.status, detail))),
            ));
        }
        match super::wire::Body::parse(&ex.body) {
            Ok(body) => Ok((body, ex)),
            Err(e) => Err(fail(Outcome::InvalidBody, e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn error_chains_drop_wrappers_and_repeats() {
        // The chain reqwest gives for a name that does not resolve.
        let causes = [
            "client error (Connect)".to_string(),
            "dns error".to_string(),
            "error resolving DNS".to_string(),
            "failed to lookup address information: Name or service not known".to_string(),
        ];
        assert_eq!(
            chain_text("connection failed", &causes),
            "connection failed: dns error: error resolving DNS: failed to lookup address information: Name or service not known"
        );
        // A cause its outer link already ends with is said once.
        let causes = [
            "io error: broken pipe".to_string(),
            "broken pipe".to_string(),
        ];
        assert_eq!(
            chain_text("request failed", &causes),
            "request failed: io error: broken pipe"
        );
        assert_eq!(chain_text("timed out", &[]), "timed out");
        assert_eq!(
            chain_text("request failed", &["".into(), "a".into(), "b".into()]),
            "request failed: a: b"
        );
    }

    #[tokio::test]
    async fn a_refused_connection_says_so_within_a_report_line() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let e = reqwest::get(format!("http://127.0.0.1:{port}/health"))
            .await
            .expect_err("nothing listens there");
        let text = error_text(&e);
        assert!(text.starts_with("connection failed: "), "{text}");
        assert!(!text.contains("client error (Connect)"), "{text}");
        // The root cause is within the 120 characters a report shows of a message.
        let shown: String = text.chars().take(120).collect();
        assert!(shown.to_ascii_lowercase().contains("refused"), "{text}");
    }

    #[test]
    fn scrub_takes_out_every_secret_the_client_sends() {
        let mut cfg = ClientConfig::new(
            "http://alice-user:pa55word@gpu-box:8000/?key=query-token&v=1"
                .parse()
                .unwrap(),
        );
        cfg.headers = vec![
            ("Authorization".into(), "Bearer tok-123456".into()),
            ("X-Short".into(), "abc".into()),
        ];
        let c = FluxClient::new(&cfg).unwrap();
        let echoed = "got Authorization: Bearer tok-123456, token tok-123456, user alice-user, \
                      password pa55word, key query-token, v=1, abc";
        let shown = c.scrub(echoed);
        for secret in ["tok-123456", "alice-user", "pa55word", "query-token"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains("Authorization: <redacted>"), "{shown}");
        assert_eq!(c.scrub("use Bearer auth"), "use Bearer auth");
        // Too short to be told from ordinary text: left alone.
        assert!(shown.contains("v=1, abc"), "{shown}");
        assert_eq!(c.scrub("nothing secret here"), "nothing secret here");
    }

    #[test]
    fn retry_after_in_seconds_and_as_a_date() {
        let now = chrono::Utc
            .with_ymd_and_hms(2026, 10, 21, 7, 28, 0)
            .unwrap();
        assert_eq!(parse_retry_after("120", now), Some(120.0));
        assert_eq!(parse_retry_after(" 0 ", now), Some(0.0));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2026 07:28:30 GMT", now),
            Some(30.0)
        );
        // Past dates mean "now"; huge delays are capped; the rest is no hint at all.
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2026 07:00:00 GMT", now),
            Some(0.0)
        );
        assert_eq!(
            parse_retry_after("99999999999999999999999", now),
            Some(86_400.0)
        );
        for junk in ["-5", "1.5", "soon", "", "Wed, 99 Oct 2026 07:28:30 GMT"] {
            assert_eq!(parse_retry_after(junk, now), None, "{junk:?}");
        }
    }
}
