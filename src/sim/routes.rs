//! The simulated FLUX API's endpoints: routing by method and path (with FastAPI's 404 and 405
//! bodies), the generate and queue-mode handlers, the status endpoints, and the delivery of each
//! answer intact or broken as the faults decide.

use super::bodies::{self, GeneratedView, HealthStatus, QueueFigures, RequestStatusView};
use super::control;
use super::faults::{GenerateFate, StatusFate, TransportFate};
use super::gpu::{Failure, JobSpec, Owner};
use super::queue::{Ending, Queued};
use super::request::{self, GenRequest};
use super::respond;
use super::state::{Core, JobGuard, Shared};
use crate::cli::ApiVersion;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method};
use axum::response::Response;
use bytes::Bytes;
use serde_json::Value;
use std::sync::Arc;
use tokio::time::Instant;

/// Largest request body read (the real service has no such limit; the simulator must have one).
pub const MAX_REQUEST_BYTES: usize = 1024 * 1024;

const MIB: f64 = 1024.0 * 1024.0;

/// How an answer leaves the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delivery {
    Intact,
    Reset,
    Malformed,
    Huge,
}

impl From<GenerateFate> for Delivery {
    fn from(f: GenerateFate) -> Self {
        match f {
            GenerateFate::Reset => Delivery::Reset,
            GenerateFate::Malformed => Delivery::Malformed,
            GenerateFate::Huge => Delivery::Huge,
            GenerateFate::Normal | GenerateFate::Error | GenerateFate::Hang => Delivery::Intact,
        }
    }
}

impl From<StatusFate> for Delivery {
    fn from(f: StatusFate) -> Self {
        match f {
            StatusFate::Reset => Delivery::Reset,
            _ => Delivery::Intact,
        }
    }
}

impl From<TransportFate> for Delivery {
    fn from(f: TransportFate) -> Self {
        match f {
            TransportFate::Reset => Delivery::Reset,
            _ => Delivery::Intact,
        }
    }
}

/// Every request comes through here.
pub async fn dispatch(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let body = req.into_body();
    let mut resp = if path == "/_sim" || path.starts_with("/_sim/") {
        control::handle(&shared, &method, &path, body).await
    } else {
        api(&shared, &method, &path, body).await
    };
    tracing::debug!(%method, path = %path, status = resp.status().as_u16(), "simulated API answered");
    let headers = resp.headers_mut();
    headers.insert("server", HeaderValue::from_static("uvicorn"));
    if let Ok(v) = HeaderValue::from_str(&shared.config.time_scale.to_string()) {
        headers.insert("x-sim-time-scale", v);
    }
    resp
}

/// FastAPI's 404 for an unknown path.
pub fn not_found() -> Response {
    respond::json(404, &bodies::detail("Not Found"))
}

/// FastAPI's 405 for a known path and the wrong method.
pub fn not_allowed() -> Response {
    respond::json(405, &bodies::detail("Method Not Allowed"))
}

/// Reads a request body up to [`MAX_REQUEST_BYTES`].
pub async fn read_body(body: Body) -> Result<Bytes, Response> {
    axum::body::to_bytes(body, MAX_REQUEST_BYTES)
        .await
        .map_err(|_| respond::json(413, &bodies::detail("Request body too large")))
}

/// The endpoints of the simulated API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route<'a> {
    Generate { png: bool },
    Status,
    Submit,
    RequestStatus(&'a str),
    Cancel(&'a str),
}

impl<'a> Route<'a> {
    /// The endpoint of a path, if the API generation has it.
    fn of(path: &'a str, version: ApiVersion) -> Option<Route<'a>> {
        let v2 = version == ApiVersion::V2;
        let id = |prefix: &str| {
            path.strip_prefix(prefix)
                .filter(|id| !id.is_empty() && !id.contains('/'))
        };
        match path {
            "/generate" => Some(Route::Generate { png: false }),
            "/generate-and-return-image" if v2 => Some(Route::Generate { png: true }),
            "/health" | "/model-status" | "/gpu-info" | "/queue-stats" => Some(Route::Status),
            "/ready" | "/live" if v2 => Some(Route::Status),
            "/submit-request" => Some(Route::Submit),
            _ => id("/request-status/")
                .map(Route::RequestStatus)
                .or_else(|| id("/cancel-request/").map(Route::Cancel)),
        }
    }

    fn allows(self, method: &Method) -> bool {
        match self {
            Route::Generate { .. } | Route::Submit => method == Method::POST,
            Route::Status | Route::RequestStatus(_) => {
                method == Method::GET || method == Method::HEAD
            }
            Route::Cancel(_) => method == Method::DELETE,
        }
    }
}

async fn api(shared: &Shared, method: &Method, path: &str, body: Body) -> Response {
    {
        let (mut core, _) = shared.core();
        if core.faults.down {
            core.stats.refused_connections += 1;
            return respond::kill();
        }
        core.stats.requests += 1;
    }
    let Some(route) = Route::of(path, shared.config.api_version) else {
        return not_found();
    };
    if !route.allows(method) {
        return not_allowed();
    }
    match route {
        Route::Generate { png } => generate(shared, body, png).await,
        Route::Status => status(shared, path).await,
        Route::Submit => submit(shared, body).await,
        Route::RequestStatus(id) => request_status(shared, id).await,
        Route::Cancel(id) => cancel(shared, id).await,
    }
}

/// Holds the request until the simulator shuts down, then drops the connection.
async fn hang(shared: &Shared) -> Response {
    shared.token.cancelled().await;
    respond::kill()
}

/// Sends an answer the way `delivery` says. Malformed and huge bodies only replace a 200 JSON
/// answer; anything else goes out intact.
fn deliver(
    shared: &Shared,
    delivery: Delivery,
    code: u16,
    content_type: &'static str,
    body: Bytes,
) -> Response {
    let json_ok = code == 200 && content_type == "application/json";
    match delivery {
        Delivery::Reset => {
            shared.core().0.stats.resets += 1;
            respond::reset(code, content_type, body)
        }
        Delivery::Malformed if json_ok => {
            let truncate = {
                let (mut core, _) = shared.core();
                core.stats.malformed += 1;
                core.roll() < 0.5
            };
            respond::malformed(body, truncate)
        }
        Delivery::Huge if json_ok => {
            let total = {
                let (mut core, _) = shared.core();
                core.stats.huge_bodies += 1;
                core.faults.huge_body_bytes
            };
            respond::huge(body, total, shared.token.clone())
        }
        _ => respond::raw(code, content_type, body),
    }
}

fn deliver_json(shared: &Shared, delivery: Delivery, code: u16, v: &Value) -> Response {
    deliver(
        shared,
        delivery,
        code,
        "application/json",
        respond::json_bytes(v),
    )
}

/// Generation seconds of a request (unscaled), jitter drawn from the seeded source.
fn generation_seconds(shared: &Shared, core: &mut Core, steps: i128, pixels: f64) -> f64 {
    let t = &shared.config.timing;
    let jitter = t.jitter * core.roll() * core.roll();
    let steps = steps.max(0) as f64;
    t.generation_seconds
        * (steps / t.base_steps as f64)
        * (pixels / t.base_pixels as f64)
        * (1.0 + jitter)
}

/// The failure a request is bound to before it reaches a GPU.
fn forced_failure(req: &GenRequest, injected: bool) -> Option<Failure> {
    if req.prompt_is_empty() {
        Some(Failure::EmptyPrompt)
    } else if req.width <= 0 || req.height <= 0 {
        Some(Failure::BadSize)
    } else if injected {
        Some(Failure::Injected)
    } else {
        None
    }
}

/// What a generate handler does after looking at the request.
enum GeneratePlan {
    Answer(Response),
    Hang,
    Run {
        job: u64,
        fate: GenerateFate,
        request: GenRequest,
        image_id: String,
        steps: i128,
    },
}

async fn generate(shared: &Shared, body: Body, png: bool) -> Response {
    let bytes = match read_body(body).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let cfg = &shared.config;
    let parsed = request::parse(&bytes, cfg.api_version);
    let plan = {
        let (mut core, now) = shared.core();
        core.stats.generate_requests += 1;
        match parsed {
            Err(items) => {
                core.stats.validation_errors += 1;
                GeneratePlan::Answer(respond::json(422, &request::validation_body(items)))
            }
            Ok(_) if core.faults.validation_error => {
                core.stats.validation_errors += 1;
                let items = request::injected_validation_error(&bytes);
                GeneratePlan::Answer(respond::json(422, &request::validation_body(items)))
            }
            Ok(req) => plan_generation(shared, &mut core, now, req),
        }
    };
    let (job, fate, req, image_id, steps) = match plan {
        GeneratePlan::Answer(r) => return r,
        GeneratePlan::Hang => return hang(shared).await,
        GeneratePlan::Run {
            job,
            fate,
            request,
            image_id,
            steps,
        } => (job, fate, request, image_id, steps),
    };
    let mut guard = JobGuard {
        shared,
        id: job,
        armed: true,
    };
    let slot = shared.wait_for_job(job).await;
    guard.armed = false;
    let Some(slot) = slot else {
        return respond::kill();
    };
    let delivery = Delivery::from(fate);
    if let Some(failure) = &slot.failure {
        let body = bodies::generation_failed(&failure.message());
        return deliver_json(shared, delivery, 500, &body);
    }
    if delivery == Delivery::Intact {
        shared.core().0.stats.generate_ok += 1;
    }
    if png {
        let d = if delivery == Delivery::Reset {
            Delivery::Reset
        } else {
            Delivery::Intact
        };
        return deliver(
            shared,
            d,
            200,
            "image/png",
            Bytes::from_static(bodies::TINY_PNG),
        );
    }
    let figures = shared.faults().figures;
    let hw = &cfg.hardware;
    let view = GeneratedView {
        prompt: &req.prompt,
        image_id: &image_id,
        generation_seconds: slot.generation_seconds,
        decimals: cfg.time_decimals(),
        width: req.width,
        height: req.height,
        seed: req.seed,
        steps,
        guidance: req.guidance,
        vram_bytes: slot.vram_bytes,
        system_used_gib: hw.system_memory_used_gib,
        system_total_gib: hw.system_memory_total_gib,
    };
    let body = bodies::generated(cfg.api_version, cfg.report_vram, &view, figures);
    deliver_json(shared, delivery, 200, &body)
}

fn plan_generation(
    shared: &Shared,
    core: &mut Core,
    now: Instant,
    req: GenRequest,
) -> GeneratePlan {
    let cfg = &shared.config;
    let roll = core.roll();
    let fate = core.faults.generate_fate(roll);
    if fate == GenerateFate::Hang {
        core.stats.hung += 1;
        return GeneratePlan::Hang;
    }
    let delivery = Delivery::from(fate);
    if req.prompt_is_empty() {
        core.stats.empty_prompts += 1;
        let body = respond::json_bytes(&bodies::empty_prompt());
        return GeneratePlan::Answer(deliver_locked(core, delivery, 500, body));
    }
    if core.sched.gpu_count() == 0 {
        let body = respond::json_bytes(&bodies::model_load_failed(cfg.api_version));
        return GeneratePlan::Answer(deliver_locked(core, delivery, 500, body));
    }
    // The older service always runs 10 steps, the newer one its default (20) on /generate.
    let steps = match cfg.api_version {
        ApiVersion::V1 => cfg.timing.v1_steps as i128,
        ApiVersion::V2 => cfg.timing.v2_generate_steps as i128,
    };
    let spec = JobSpec {
        generation_seconds: generation_seconds(shared, core, steps, req.pixels()),
        pixels: req.pixels(),
        forced: forced_failure(&req, fate == GenerateFate::Error),
        leak_bytes: core.faults.vram_leak_mib_per_generation * MIB,
    };
    let image_id = core.uuid();
    let job = core
        .sched
        .submit(now, spec, Owner::Sync { abandoned: false });
    GeneratePlan::Run {
        job,
        fate,
        request: req,
        image_id,
        steps,
    }
}

/// [`deliver`] for an error answer decided while the state is locked (only a reset applies).
fn deliver_locked(core: &mut Core, delivery: Delivery, code: u16, body: Bytes) -> Response {
    if delivery == Delivery::Reset {
        core.stats.resets += 1;
        respond::reset(code, "application/json", body)
    } else {
        respond::raw(code, "application/json", body)
    }
}

/// What /health says right now.
fn health_status(core: &Core, now: Instant) -> HealthStatus {
    use super::faults::HealthMode;
    match core.faults.health {
        HealthMode::Error => HealthStatus::Error,
        HealthMode::Loading => HealthStatus::Loading,
        HealthMode::Normal if core.sched.loaded(now) && core.sched.gpu_count() > 0 => {
            HealthStatus::Healthy
        }
        HealthMode::Normal => HealthStatus::Loading,
    }
}

/// The body of a status endpoint at `now`.
fn status_body(shared: &Shared, core: &Core, now: Instant, path: &str) -> (u16, Value) {
    let cfg = &shared.config;
    let figures = core.faults.figures;
    let hw = &cfg.hardware;
    match path {
        "/health" => {
            let uptime = (now - shared.started).as_secs_f64();
            let body = bodies::health(
                cfg.api_version,
                health_status(core, now),
                core.wall(now),
                uptime,
                figures,
            );
            (200, body)
        }
        "/ready" => bodies::ready(health_status(core, now) == HealthStatus::Healthy),
        "/live" => (200, bodies::live()),
        "/model-status" => {
            let loaded = health_status(core, now) == HealthStatus::Healthy;
            let vram = core
                .sched
                .memory(now)
                .first()
                .map(|m| m.allocated_bytes)
                .unwrap_or(0.0);
            let body = bodies::model_status(
                cfg.api_version,
                loaded,
                vram,
                hw.system_memory_used_gib,
                hw.system_memory_total_gib,
                figures,
            );
            (200, body)
        }
        "/gpu-info" => {
            let mem = core.sched.memory(now);
            let body = bodies::gpu_info(&mem, &hw.gpu_name, &hw.compute_capability, figures);
            (200, body)
        }
        _ => {
            let (waiting, running) = core.sched.queue_counts(now);
            let q = QueueFigures {
                queue_size: waiting,
                active_requests: running,
                completed_requests: core.queue.completed(),
                max_concurrent: core.sched.gpu_count(),
                max_queue_size: cfg.max_queue_size,
            };
            (200, bodies::queue_stats(q, figures))
        }
    }
}

async fn status(shared: &Shared, path: &str) -> Response {
    let (fate, wait) = {
        let (mut core, now) = shared.core();
        core.stats.status_requests += 1;
        let roll = core.roll();
        let mut fate = core.faults.status_fate(roll);
        if path == "/live" && fate == StatusFate::Fail {
            fate = StatusFate::Normal;
        }
        let wait = if shared.config.blocking_status {
            core.sched.running_on(0, now).map(|s| s.end)
        } else {
            None
        };
        match fate {
            StatusFate::Hang => core.stats.hung += 1,
            _ if wait.is_some() => core.stats.status_blocked += 1,
            _ => {}
        }
        (fate, wait)
    };
    if fate == StatusFate::Hang {
        return hang(shared).await;
    }
    // The real server's event loop is busy with the generation: answer when it ends.
    if let Some(until) = wait
        && !shared.sleep_until(until).await
    {
        return respond::kill();
    }
    let (code, body) = {
        let (mut core, now) = shared.core();
        if fate == StatusFate::Fail {
            core.stats.status_failures += 1;
            (500, bodies::status_failed(path))
        } else {
            status_body(shared, &core, now, path)
        }
    };
    deliver_json(shared, Delivery::from(fate), code, &body)
}

async fn submit(shared: &Shared, body: Body) -> Response {
    let bytes = match read_body(body).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let cfg = &shared.config;
    let parsed = request::parse(&bytes, cfg.api_version);
    let (fate, code, answer) = {
        let (mut core, now) = shared.core();
        let req = match parsed {
            Err(items) => {
                core.stats.validation_errors += 1;
                return respond::json(422, &request::validation_body(items));
            }
            Ok(_) if core.faults.validation_error => {
                core.stats.validation_errors += 1;
                let items = request::injected_validation_error(&bytes);
                return respond::json(422, &request::validation_body(items));
            }
            Ok(req) => req,
        };
        let roll = core.roll();
        let fate = core.faults.transport_fate(roll);
        let (waiting, _) = core.sched.queue_counts(now);
        if fate == TransportFate::Hang {
            core.stats.hung += 1;
            (fate, 0, Value::Null)
        } else if core.faults.queue_full || waiting >= cfg.max_queue_size as usize {
            core.stats.rejected_queue_full += 1;
            (fate, 500, bodies::queue_full())
        } else {
            let id = core.uuid();
            let image_id = core.uuid();
            // Queue mode runs the steps asked for on the newer service, 10 on the older one.
            let steps = match cfg.api_version {
                ApiVersion::V1 => cfg.timing.v1_steps as i128,
                ApiVersion::V2 => req.steps,
            };
            let error_roll = core.roll();
            let injected = core.faults.queue_generation_fails(error_roll);
            let spec = JobSpec {
                generation_seconds: generation_seconds(shared, &mut core, steps, req.pixels()),
                pixels: req.pixels(),
                forced: forced_failure(&req, injected),
                leak_bytes: core.faults.vram_leak_mib_per_generation * MIB,
            };
            let job = core.sched.submit(now, spec, Owner::Queue(id.clone()));
            let created_at = core.wall(now);
            core.queue.insert(Queued {
                id: id.clone(),
                image_id,
                request: req,
                created_at,
                job,
                ending: None,
            });
            core.stats.submitted += 1;
            (fate, 200, bodies::submitted(&id))
        }
    };
    if fate == TransportFate::Hang {
        return hang(shared).await;
    }
    deliver_json(shared, Delivery::from(fate), code, &answer)
}

/// The /request-status body of a remembered request.
fn request_status_body(shared: &Shared, core: &Core, now: Instant, q: &Queued) -> Value {
    let cfg = &shared.config;
    let r = &q.request;
    let mut view = RequestStatusView {
        request_id: &q.id,
        prompt: &r.prompt,
        created_at: q.created_at,
        steps: r.steps,
        guidance: r.guidance,
        width: r.width,
        height: r.height,
        seed: r.seed,
        status: "pending",
        started_at: None,
        completed_at: None,
        result: None,
        error: None,
    };
    match &q.ending {
        Some(Ending::Completed {
            started_at,
            completed_at,
            generation_seconds,
        }) => {
            view.status = "completed";
            view.started_at = Some(*started_at);
            view.completed_at = Some(*completed_at);
            let g = GeneratedView {
                prompt: &r.prompt,
                image_id: &q.image_id,
                generation_seconds: *generation_seconds,
                decimals: cfg.time_decimals(),
                width: r.width,
                height: r.height,
                seed: r.seed,
                steps: r.steps,
                guidance: r.guidance,
                vram_bytes: 0.0,
                system_used_gib: 0.0,
                system_total_gib: 0.0,
            };
            view.result = Some(bodies::queue_result(&g, core.faults.figures));
        }
        Some(Ending::Failed {
            started_at,
            completed_at,
            error,
        }) => {
            view.status = "failed";
            view.started_at = Some(*started_at);
            view.completed_at = Some(*completed_at);
            view.error = Some(error);
        }
        Some(Ending::Cancelled) => view.status = "cancelled",
        None => {
            if let Some(slot) = core.sched.slot(q.job)
                && slot.start <= now
            {
                view.status = "processing";
                view.started_at = Some(core.wall(slot.start));
            }
        }
    }
    bodies::request_status(&view)
}

async fn request_status(shared: &Shared, id: &str) -> Response {
    let (fate, code, body) = {
        let (mut core, now) = shared.core();
        let roll = core.roll();
        let fate = core.faults.transport_fate(roll);
        if fate == TransportFate::Hang {
            core.stats.hung += 1;
            (fate, 0, Value::Null)
        } else {
            match core.queue.get(id) {
                None => (fate, 404, bodies::detail("Request not found")),
                Some(q) => (fate, 200, request_status_body(shared, &core, now, q)),
            }
        }
    };
    if fate == TransportFate::Hang {
        return hang(shared).await;
    }
    deliver_json(shared, Delivery::from(fate), code, &body)
}

async fn cancel(shared: &Shared, id: &str) -> Response {
    let (fate, code, body, moved) = {
        let (mut core, now) = shared.core();
        let roll = core.roll();
        let fate = core.faults.transport_fate(roll);
        let known = core.queue.get(id).map(|q| (q.job, q.ending.clone()));
        if fate == TransportFate::Hang {
            core.stats.hung += 1;
            (fate, 0, Value::Null, false)
        } else {
            match known {
                None => (fate, 404, bodies::detail("Request not found"), false),
                Some((job, ending)) => {
                    let state = match ending {
                        Some(Ending::Completed { .. }) => Some("completed"),
                        Some(Ending::Failed { .. }) => Some("failed"),
                        Some(Ending::Cancelled) => Some("cancelled"),
                        None => None,
                    };
                    match state {
                        Some(s) => (fate, 400, cannot_cancel(s), false),
                        None if core.sched.cancel(job, now) => {
                            core.queue.finish(id, Ending::Cancelled);
                            core.stats.cancelled += 1;
                            (fate, 200, bodies::cancelled(id), true)
                        }
                        None => (fate, 400, cannot_cancel("processing"), false),
                    }
                }
            }
        }
    };
    if fate == TransportFate::Hang {
        return hang(shared).await;
    }
    if moved {
        shared.plan_changed();
    }
    deliver_json(shared, Delivery::from(fate), code, &body)
}

fn cannot_cancel(state: &str) -> Value {
    bodies::detail(&format!("Request cannot be cancelled: it is {state}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_per_api_generation() {
        let v1 = ApiVersion::V1;
        let v2 = ApiVersion::V2;
        assert_eq!(
            Route::of("/generate", v1),
            Some(Route::Generate { png: false })
        );
        assert_eq!(Route::of("/generate-and-return-image", v1), None);
        assert_eq!(
            Route::of("/generate-and-return-image", v2),
            Some(Route::Generate { png: true })
        );
        assert_eq!(Route::of("/ready", v1), None);
        assert_eq!(Route::of("/live", v2), Some(Route::Status));
        assert_eq!(
            Route::of("/request-status/abc", v1),
            Some(Route::RequestStatus("abc"))
        );
        assert_eq!(Route::of("/request-status/", v1), None);
        assert_eq!(Route::of("/request-status/a/b", v1), None);
        assert_eq!(Route::of("/cancel-request/x", v2), Some(Route::Cancel("x")));
        assert_eq!(Route::of("/", v2), None);
        assert!(Route::Status.allows(&Method::HEAD));
        assert!(!Route::Status.allows(&Method::POST));
        assert!(Route::Cancel("x").allows(&Method::DELETE));
        assert!(!Route::Submit.allows(&Method::GET));
    }
}
