//! One probe: a generate request (POST /generate, or /submit-request plus polling in queue mode)
//! that always ends as a [`ProbeRecord`] — with its timestamps from the monotonic clock, its
//! outcome from the fixed set, and whatever the server reported. Bench and serve both use it.

use crate::api::client::short_message;
use crate::api::wire::{
    self, Body, GenerateRequest, Generated, QueueState, RequestStatus, Submitted,
};
use crate::api::{ExchangeError, FluxClient, PATH_GENERATE, PATH_REQUEST_STATUS, PATH_SUBMIT};
use crate::outcome::Outcome;
use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// A run's time base: a monotonic start instant and the wall-clock time read at that instant.
/// Every timestamp is kept as seconds since `start` (monotonic); the wall clock only labels.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    pub start: Instant,
    /// Unix seconds at `start`.
    pub wall_start: f64,
}

impl Clock {
    pub fn new() -> Clock {
        let wall_start = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        Clock {
            start: Instant::now(),
            wall_start,
        }
    }

    /// Seconds since the start of the run (negative for instants before it).
    pub fn offset(&self, t: Instant) -> f64 {
        if t >= self.start {
            (t - self.start).as_secs_f64()
        } else {
            -(self.start - t).as_secs_f64()
        }
    }

    /// Unix seconds of an offset.
    pub fn epoch(&self, offset: f64) -> f64 {
        self.wall_start + offset
    }

    /// The instant of an offset (non-negative offsets).
    pub fn instant(&self, offset: f64) -> Instant {
        self.start + Duration::from_secs_f64(offset.max(0.0))
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}

/// Synchronous /generate or the queue mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeMode {
    Generate,
    Queue,
}

impl ProbeMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ProbeMode::Generate => "generate",
            ProbeMode::Queue => "queue",
        }
    }
}

/// What to send and how long to wait.
#[derive(Debug, Clone)]
pub struct ProbeSpec {
    pub request: GenerateRequest,
    pub mode: ProbeMode,
    /// Deadline of the whole probe (all of queue mode's polls included), from the send time.
    pub timeout: Duration,
    /// Queue mode: time between status polls.
    pub poll_interval: Duration,
}

/// Everything known about one finished probe. Times are seconds since the run clock's start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeRecord {
    pub seq: u64,
    pub warmup: bool,
    pub mode: ProbeMode,
    /// When the schedule wanted it sent.
    pub intended: f64,
    pub sent: f64,
    pub first_byte: Option<f64>,
    /// When it ended (answer complete, failure, or abort).
    pub done: f64,
    pub outcome: Outcome,
    pub http_status: Option<u16>,
    /// What went wrong, for reports only (never a label).
    pub error: Option<String>,
    /// Server-reported generation time.
    pub generation_time: Option<f64>,
    pub vram_bytes: Option<f64>,
    /// The VRAM figure as the server wrote it ("8.50GB").
    pub vram_raw: Option<String>,
    pub bytes_received: u64,
    pub width: u32,
    pub height: u32,
    /// Steps requested (the server may run another number: see API.md).
    pub steps: u32,
    pub server_request_id: Option<String>,
    /// Queue mode: started_at − created_at, from the server's clock.
    pub server_queue_wait: Option<f64>,
    /// Queue mode: completed_at − started_at, from the server's clock.
    pub server_service_time: Option<f64>,
    /// Fields whose values were present but unusable.
    pub parse_issues: Vec<String>,
}

impl ProbeRecord {
    /// done − intended: what a user waiting on the schedule saw (no coordinated omission).
    pub fn response_time(&self) -> f64 {
        self.done - self.intended
    }
    /// done − sent.
    pub fn service_time(&self) -> f64 {
        self.done - self.sent
    }
    /// sent − intended.
    pub fn schedule_lag(&self) -> f64 {
        self.sent - self.intended
    }
    /// Time spent waiting, in either queue: the server's own figure when it reports one (queue
    /// mode), else [`ProbeRecord::response_minus_generation`]. The daemon's queue-wait metric.
    pub fn queue_wait(&self) -> Option<f64> {
        if let Some(w) = self.server_queue_wait {
            return Some(w);
        }
        self.response_minus_generation()
    }
    /// Response time minus server generation time: everything that was not generating (the
    /// bench report's "Queue wait (response − generation)" and the results file's `queue_wait`).
    pub fn response_minus_generation(&self) -> Option<f64> {
        self.generation_time
            .map(|g| (self.response_time() - g).max(0.0))
    }
    pub fn is_success(&self) -> bool {
        self.outcome.is_success()
    }
    /// Megapixels of the requested image.
    pub fn megapixels(&self) -> f64 {
        self.width as f64 * self.height as f64 / 1e6
    }
    /// The seed tool's request id.
    pub fn request_id(&self) -> String {
        format!("req_{:04}", self.seq)
    }
}

/// Runs one probe. Never fails: every way it can end is a record. If `cancel` fires while the
/// probe is in flight, it ends at once as `aborted`. `intended` is the scheduled send time
/// (open loop); `None` means "now" (closed loop: intended = sent).
pub async fn execute(
    client: &FluxClient,
    spec: &ProbeSpec,
    clock: &Clock,
    intended: Option<Instant>,
    seq: u64,
    extra_headers: &HeaderMap,
    cancel: &CancellationToken,
) -> ProbeRecord {
    let sent = Instant::now();
    let mut rec = ProbeRecord {
        seq,
        warmup: false,
        mode: spec.mode,
        intended: clock.offset(intended.unwrap_or(sent)),
        sent: clock.offset(sent),
        first_byte: None,
        done: clock.offset(sent),
        outcome: Outcome::Aborted,
        http_status: None,
        error: None,
        generation_time: None,
        vram_bytes: None,
        vram_raw: None,
        bytes_received: 0,
        width: spec.request.width,
        height: spec.request.height,
        steps: spec.request.num_inference_steps,
        server_request_id: None,
        server_queue_wait: None,
        server_service_time: None,
        parse_issues: Vec::new(),
    };
    if cancel.is_cancelled() {
        rec.error = Some("interrupted before sending".to_string());
        return rec;
    }
    let deadline = sent + spec.timeout;
    let work = async {
        match spec.mode {
            ProbeMode::Generate => {
                run_generate(client, spec, clock, extra_headers, deadline, &mut rec).await
            }
            ProbeMode::Queue => {
                run_queue(client, spec, clock, extra_headers, deadline, &mut rec).await
            }
        }
    };
    let finished = tokio::select! {
        _ = work => true,
        _ = cancel.cancelled() => false,
    };
    if !finished {
        rec.outcome = Outcome::Aborted;
        rec.done = clock.offset(Instant::now());
        rec.error = Some("interrupted while in flight".to_string());
    }
    // A server may echo what it was sent; nothing secret leaves a probe.
    if let Some(e) = rec.error.take() {
        rec.error = Some(client.scrub(&e));
    }
    rec
}

fn apply_error(rec: &mut ProbeRecord, clock: &Clock, e: ExchangeError) {
    rec.outcome = e.outcome;
    rec.http_status = e.status.or(rec.http_status);
    if rec.first_byte.is_none() {
        rec.first_byte = e.first_byte.map(|t| clock.offset(t));
    }
    rec.done = clock.offset(e.done);
    rec.bytes_received += e.bytes;
    rec.error = Some(e.message);
}

/// The outcome of a non-2xx answer, looking at FastAPI's detail for the cases that have their
/// own reason (queue full, model not ready).
pub fn classify_error_status(status: u16, detail: Option<&str>) -> Outcome {
    let d = detail.unwrap_or("").to_ascii_lowercase();
    if d.contains("queue is full") {
        return Outcome::Rejected;
    }
    if status == 503 && (d.contains("not ready") || d.contains("loading")) {
        return Outcome::NotReady;
    }
    Outcome::from_http_status(status)
}

/// A non-2xx answer. The server's text is scrubbed of the client's secrets before it is cut to
/// length, so that no part of a secret survives at the cut.
fn apply_error_status(
    client: &FluxClient,
    rec: &mut ProbeRecord,
    status: u16,
    body: &[u8],
    retry_after: Option<f64>,
) {
    let detail = Body::parse(body).ok().and_then(|b| wire::error_detail(&b));
    rec.outcome = classify_error_status(status, detail.as_deref());
    let message = error_status_message(status, detail.as_deref(), body, retry_after);
    rec.error = Some(short_message(&client.scrub(&message)));
}

/// The message of a non-2xx answer: the status and the Retry-After hint when there is one,
/// then the server's `detail`, else the start of its body, else that the body was empty. The
/// body is taken far beyond what a report keeps (the caller scrubs secrets, then cuts), so
/// that no part of a secret at this cut can survive the final one.
fn error_status_message(
    status: u16,
    detail: Option<&str>,
    body: &[u8],
    retry_after: Option<f64>,
) -> String {
    const BODY_TEXT_BYTES: usize = 16 * 1024;
    let mut head = format!("HTTP {status}");
    if let Some(secs) = retry_after {
        head = format!("{head} (Retry-After {secs:.0} s)");
    }
    match detail {
        Some(d) => format!("{head}: {d}"),
        None => {
            let text = String::from_utf8_lossy(&body[..body.len().min(BODY_TEXT_BYTES)]);
            match text.trim() {
                "" => format!("{head} (empty body)"),
                t => format!("{head}: {t}"),
            }
        }
    }
}

fn apply_generated(rec: &mut ProbeRecord, g: Generated) {
    rec.generation_time = g.generation_time_seconds;
    rec.vram_bytes = g.vram_used_bytes;
    rec.vram_raw = g.vram_raw;
    rec.parse_issues
        .extend(g.issues.0.iter().map(|s| s.to_string()));
}

async fn run_generate(
    client: &FluxClient,
    spec: &ProbeSpec,
    clock: &Clock,
    extra: &HeaderMap,
    deadline: Instant,
    rec: &mut ProbeRecord,
) {
    match client
        .post_json(PATH_GENERATE, &spec.request, extra, deadline)
        .await
    {
        Err(e) => apply_error(rec, clock, e),
        Ok(ex) => {
            rec.http_status = Some(ex.status);
            rec.first_byte = Some(clock.offset(ex.first_byte));
            rec.done = clock.offset(ex.done);
            rec.bytes_received = ex.body.len() as u64;
            if !(200..300).contains(&ex.status) {
                apply_error_status(client, rec, ex.status, &ex.body, ex.retry_after);
                return;
            }
            match Body::parse(&ex.body) {
                Ok(body) => {
                    rec.outcome = Outcome::Success;
                    apply_generated(rec, Generated::from_body(&body));
                }
                Err(e) => {
                    rec.outcome = Outcome::InvalidBody;
                    rec.error = Some(format!("HTTP {}: {e}", ex.status));
                }
            }
        }
    }
}

async fn run_queue(
    client: &FluxClient,
    spec: &ProbeSpec,
    clock: &Clock,
    extra: &HeaderMap,
    deadline: Instant,
    rec: &mut ProbeRecord,
) {
    let ex = match client
        .post_json(PATH_SUBMIT, &spec.request, extra, deadline)
        .await
    {
        Err(e) => return apply_error(rec, clock, e),
        Ok(ex) => ex,
    };
    rec.http_status = Some(ex.status);
    rec.first_byte = Some(clock.offset(ex.first_byte));
    rec.done = clock.offset(ex.done);
    rec.bytes_received = ex.body.len() as u64;
    if !(200..300).contains(&ex.status) {
        return apply_error_status(client, rec, ex.status, &ex.body, ex.retry_after);
    }
    let id = match Body::parse(&ex.body).map(|b| Submitted::from_body(&b)) {
        Ok(Submitted {
            request_id: Some(id),
            ..
        }) => id,
        Ok(_) => {
            rec.outcome = Outcome::InvalidBody;
            rec.error = Some("submit answer has no request_id".to_string());
            return;
        }
        Err(e) => {
            rec.outcome = Outcome::InvalidBody;
            rec.error = Some(format!("submit answer: {e}"));
            return;
        }
    };
    // The id goes into a path segment: keep it to safe characters.
    if !id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        || id.len() > 128
    {
        rec.outcome = Outcome::InvalidBody;
        rec.error = Some("submit answer has a malformed request_id".to_string());
        return;
    }
    rec.server_request_id = Some(id.clone());
    let path = format!("{PATH_REQUEST_STATUS}{id}");
    loop {
        let now = Instant::now();
        if now >= deadline {
            rec.outcome = Outcome::Timeout;
            rec.done = clock.offset(now);
            rec.error = Some("queued request did not finish before the timeout".to_string());
            return;
        }
        tokio::time::sleep_until((now + spec.poll_interval).min(deadline)).await;
        let ex = match client.get_until(&path, deadline).await {
            Err(e) => return apply_error(rec, clock, e),
            Ok(ex) => ex,
        };
        rec.http_status = Some(ex.status);
        rec.done = clock.offset(ex.done);
        rec.bytes_received += ex.body.len() as u64;
        if !(200..300).contains(&ex.status) {
            return apply_error_status(client, rec, ex.status, &ex.body, ex.retry_after);
        }
        let status = match Body::parse(&ex.body) {
            Ok(b) => RequestStatus::from_body(&b),
            Err(e) => {
                rec.outcome = Outcome::InvalidBody;
                rec.error = Some(format!("request status: {e}"));
                return;
            }
        };
        rec.server_queue_wait = status.queue_wait_seconds();
        rec.server_service_time = status.service_seconds();
        match status.state {
            QueueState::Pending | QueueState::Processing => continue,
            QueueState::Completed => {
                rec.outcome = Outcome::Success;
                if let Some(g) = status.result {
                    apply_generated(rec, g);
                }
                return;
            }
            QueueState::Failed => {
                rec.outcome = Outcome::Http5xx;
                rec.error = Some(short_message(&client.scrub(&format!(
                    "generation failed on the server: {}",
                    status.error.unwrap_or_default()
                ))));
                return;
            }
            QueueState::Cancelled => {
                rec.outcome = Outcome::Aborted;
                rec.error = Some("cancelled on the server".to_string());
                return;
            }
            QueueState::Unknown => {
                rec.outcome = Outcome::InvalidBody;
                rec.error = Some("request status has an unknown state".to_string());
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_statuses_are_classified() {
        assert_eq!(
            classify_error_status(500, Some("Failed to submit request: Queue is full")),
            Outcome::Rejected
        );
        assert_eq!(
            classify_error_status(503, Some("Model not ready")),
            Outcome::NotReady
        );
        assert_eq!(
            classify_error_status(500, Some("CUDA out of memory")),
            Outcome::Http5xx
        );
        assert_eq!(classify_error_status(422, None), Outcome::Http4xx);
        assert_eq!(classify_error_status(429, None), Outcome::Http429);
        assert_eq!(classify_error_status(502, None), Outcome::Http5xx);
    }

    #[test]
    fn error_status_messages() {
        assert_eq!(
            error_status_message(500, Some("CUDA out of memory"), b"{}", None),
            "HTTP 500: CUDA out of memory"
        );
        assert_eq!(
            error_status_message(404, None, b"", None),
            "HTTP 404 (empty body)"
        );
        assert_eq!(
            error_status_message(502, None, b"  <html>Bad Gateway</html>\n", Some(30.0)),
            "HTTP 502 (Retry-After 30 s): <html>Bad Gateway</html>"
        );
        assert_eq!(
            error_status_message(429, Some("rate limited"), b"", Some(2.0)),
            "HTTP 429 (Retry-After 2 s): rate limited"
        );
        // The body is cut far beyond a report's length, so the cut after scrubbing decides.
        let long = vec![b'x'; 100_000];
        assert_eq!(
            error_status_message(500, None, &long, None).len(),
            "HTTP 500: ".len() + 16 * 1024
        );
    }

    #[test]
    fn derived_times() {
        let r = ProbeRecord {
            seq: 3,
            warmup: false,
            mode: ProbeMode::Generate,
            intended: 1.0,
            sent: 1.5,
            first_byte: Some(6.0),
            done: 6.0,
            outcome: Outcome::Success,
            http_status: Some(200),
            error: None,
            generation_time: Some(1.72),
            vram_bytes: None,
            vram_raw: None,
            bytes_received: 10,
            width: 512,
            height: 512,
            steps: 10,
            server_request_id: None,
            server_queue_wait: None,
            server_service_time: None,
            parse_issues: vec![],
        };
        assert_eq!(r.response_time(), 5.0);
        assert_eq!(r.service_time(), 4.5);
        assert_eq!(r.schedule_lag(), 0.5);
        assert!((r.queue_wait().unwrap() - 3.28).abs() < 1e-12);
        assert_eq!(r.queue_wait(), r.response_minus_generation());
        // The server's figure, when there is one, is the queue wait; the difference stays.
        let queued = ProbeRecord {
            server_queue_wait: Some(1.25),
            ..r.clone()
        };
        assert_eq!(queued.queue_wait(), Some(1.25));
        assert!((queued.response_minus_generation().unwrap() - 3.28).abs() < 1e-12);
        assert_eq!(r.request_id(), "req_0003");
        assert!((r.megapixels() - 0.262144).abs() < 1e-12);
    }
}
