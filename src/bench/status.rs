//! The system status shown before a run: /health, /model-status, /gpu-info and /queue-stats,
//! fetched concurrently, each optional. An endpoint that cannot be read is recorded with its
//! reason and the run goes on.

use super::model::SystemStatus;
use crate::api::{FluxClient, StatusEndpoint};
use std::time::Duration;
use tokio::time::Instant;

/// Fetches the four status endpoints, each bounded by `timeout`.
pub async fn check(client: &FluxClient, timeout: Duration) -> SystemStatus {
    let deadline = Instant::now() + timeout;
    let fetches =
        StatusEndpoint::ALL.map(|ep| async move { (ep, client.fetch_status(ep, deadline).await) });
    let results = futures::future::join_all(fetches).await;
    let mut status = SystemStatus {
        timestamp: Some(
            chrono::Local::now()
                .format("%Y-%m-%dT%H:%M:%S%.6f")
                .to_string(),
        ),
        ..SystemStatus::default()
    };
    for (ep, result) in results {
        match result {
            Ok((body, _)) => {
                let value = Some(serde_json::Value::Object(body.0));
                match ep {
                    StatusEndpoint::Health => status.health = value,
                    StatusEndpoint::ModelStatus => status.model_status = value,
                    StatusEndpoint::GpuInfo => status.gpu_info = value,
                    StatusEndpoint::QueueStats => status.queue_stats = value,
                }
            }
            Err(e) => {
                status.errors.insert(
                    ep.label().to_string(),
                    format!("{}: {}", e.outcome, e.message),
                );
            }
        }
    }
    status
}
