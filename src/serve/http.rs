//! The daemon's HTTP endpoints: /metrics, /-/healthy, /-/ready, POST /-/reload (like
//! Prometheus, on with `--web.enable-lifecycle`), POST /-/burst/{target}/{burst} (on with
//! `--web.enable-burst-api`), the status page at / and /api/v1/recent. Every one of them, and
//! any other path, goes through the web configuration's basic auth.

use super::burst::{BurstStartError, Trigger, start_burst};
use super::daemon::Inner;
use super::web::{WebState, auth};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use std::sync::Arc;

/// The Prometheus text format's content type.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

pub(crate) fn router(inner: Arc<Inner>, web: Arc<WebState>) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/metrics", get(metrics))
        .route("/-/healthy", get(healthy))
        .route("/-/ready", get(ready))
        .route("/-/reload", post(reload))
        .route("/-/burst/{target}/{burst}", post(burst))
        .route("/api/v1/recent", get(recent))
        .fallback(not_found)
        .with_state(inner)
        .layer(axum::middleware::from_fn_with_state(web, auth::layer))
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "404 page not found\n").into_response()
}

/// 403 for a control endpoint that is off, naming the flag that turns it on (as Prometheus
/// answers for its lifecycle API).
fn disabled(what: &str, flag: &str) -> Response {
    (
        StatusCode::FORBIDDEN,
        format!("{what} is not enabled: start the daemon with {flag}.\n"),
    )
        .into_response()
}

async fn metrics(State(inner): State<Arc<Inner>>) -> Response {
    inner.shared.sync_otlp_dropped();
    let body = inner.shared.metrics.render();
    ([(header::CONTENT_TYPE, TEXT_FORMAT)], body).into_response()
}

async fn healthy() -> &'static str {
    "fluxprobe is healthy.\n"
}

async fn ready(State(inner): State<Arc<Inner>>) -> Response {
    if inner.is_ready() {
        (StatusCode::OK, "fluxprobe is ready.\n").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "fluxprobe is not ready: waiting for the first status scrape of every target.\n",
        )
            .into_response()
    }
}

async fn reload(State(inner): State<Arc<Inner>>) -> Response {
    if !inner.web.enable_lifecycle {
        return disabled("Lifecycle API", "--web.enable-lifecycle");
    }
    match inner.reload_file().await {
        Ok(s) => (
            StatusCode::OK,
            format!(
                "configuration reloaded: {} added, {} removed, {} restarted, {} unchanged\n",
                s.added.len(),
                s.removed.len(),
                s.restarted.len(),
                s.unchanged.len()
            ),
        )
            .into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("failed to reload config: {e}\n"),
        )
            .into_response(),
    }
}

async fn burst(
    State(inner): State<Arc<Inner>>,
    Path((target, burst)): Path<(String, String)>,
) -> Response {
    if !inner.web.enable_burst_api {
        return disabled("Burst API", "--web.enable-burst-api");
    }
    let Some(rt) = inner.target(&target) else {
        return (StatusCode::NOT_FOUND, "no such target\n").into_response();
    };
    match start_burst(&rt, &burst, Trigger::Manual) {
        Ok(()) => (StatusCode::ACCEPTED, "burst started\n").into_response(),
        Err(BurstStartError::UnknownBurst(..)) => {
            (StatusCode::NOT_FOUND, "no such burst\n").into_response()
        }
        Err(e @ BurstStartError::AlreadyRunning(..)) => {
            (StatusCode::CONFLICT, format!("{e}\n")).into_response()
        }
        Err(e @ BurstStartError::Stopping(..)) => {
            (StatusCode::SERVICE_UNAVAILABLE, format!("{e}\n")).into_response()
        }
    }
}

async fn recent(State(inner): State<Arc<Inner>>) -> Response {
    let body = serde_json::json!({
        "ready": inner.is_ready(),
        "targets": inner.shared.recent.snapshot(),
    });
    axum::Json(body).into_response()
}

async fn page(State(inner): State<Arc<Inner>>) -> Html<String> {
    Html(super::page::render(
        &inner.shared.recent.snapshot(),
        inner.is_ready(),
        inner.shared.now_unix(),
        inner.web.enable_burst_api,
    ))
}
