//! Status scrapes of a target: /health, /model-status, /gpu-info and /queue-stats, all four at
//! once on the status client, every `status_interval`, each with its success, duration and last
//! success time. A failed scrape removes the gauges it feeds — a failure must never look like an
//! idle GPU or an empty queue — except `fluxprobe_target_up`, which drops to 0. A GPU missing
//! from /gpu-info loses its series; unusable fields count in fluxprobe_target_parse_errors_total.

use super::recent::{EndpointStatus, StatusSnapshot};
use super::registry::{Metrics, sanitize_label_value};
use super::schedule::stagger_offset;
use super::target::TargetRuntime;
use crate::api::wire::{Body, GpuInfo, Health, ModelStatus, ParseIssues, QueueStats};
use crate::api::{Exchange, ExchangeError, StatusEndpoint};
use std::collections::BTreeSet;
use std::sync::Arc;
use tokio::time::Instant;

type Scrape = Result<(Body, Exchange), ExchangeError>;

/// Scrapes at once, then every status_interval from a fixed origin (staggered by name); a
/// scrape never overlaps the next (its timeout is at most the interval), a late tick is skipped.
pub async fn status_loop(rt: Arc<TargetRuntime>) {
    let interval = rt.cfg.status_interval;
    let origin = Instant::now() + stagger_offset(&format!("{}/status", rt.name()), interval);
    let mut k: u64 = 0;
    loop {
        tokio::select! {
            _ = scrape_once(&rt) => {}
            _ = rt.schedule_cancel.cancelled() => return,
        }
        rt.mark_first_scrape();
        let now = Instant::now();
        // The next slot after now.
        let elapsed = now.saturating_duration_since(origin).as_nanos();
        let next_k = (elapsed / interval.as_nanos().max(1)) as u64 + 1;
        k = k.max(next_k);
        let at = origin + interval * u32::try_from(k).unwrap_or(u32::MAX);
        tokio::select! {
            _ = tokio::time::sleep_until(at) => {}
            _ = rt.schedule_cancel.cancelled() => return,
        }
    }
}

/// One scrape of the four endpoints, applied to the metrics.
pub async fn scrape_once(rt: &TargetRuntime) {
    let deadline = Instant::now() + rt.cfg.status_timeout;
    let c = &rt.status_client;
    let (health, model, gpus, queue) = tokio::join!(
        c.fetch_status(StatusEndpoint::Health, deadline),
        c.fetch_status(StatusEndpoint::ModelStatus, deadline),
        c.fetch_status(StatusEndpoint::GpuInfo, deadline),
        c.fetch_status(StatusEndpoint::QueueStats, deadline),
    );
    if rt.is_retired() {
        return;
    }
    let shared = &rt.shared;
    let snapshot = apply(
        &shared.metrics,
        rt.name(),
        shared.now_unix(),
        [&health, &model, &gpus, &queue],
    );
    shared.recent.set_status(rt.name(), snapshot);
}

fn endpoint_timing(r: &Scrape) -> (bool, f64) {
    match r {
        Ok((_, ex)) => (true, (ex.done - ex.sent).as_secs_f64()),
        Err(e) => (false, (e.done - e.sent).as_secs_f64()),
    }
}

fn count_issues(m: &Metrics, target: &str, issues: &ParseIssues) {
    for field in &issues.0 {
        m.parse_errors.with(&[target, field]).inc();
    }
}

fn set_or_remove(
    f: &super::registry::Family<prometheus::GaugeVec>,
    labels: &[&str],
    v: Option<f64>,
) {
    match v.filter(|x| x.is_finite()) {
        Some(x) => f.with(labels).set(x),
        None => f.remove(labels),
    }
}

/// Applies the four results (health, model status, GPU info, queue stats) to the metrics.
/// `now` is Unix seconds.
pub fn apply(m: &Metrics, target: &str, now: f64, results: [&Scrape; 4]) -> StatusSnapshot {
    let mut snap = StatusSnapshot {
        scraped_at: Some(now),
        ..Default::default()
    };
    for (ep, r) in StatusEndpoint::ALL.iter().zip(results) {
        let (ok, secs) = endpoint_timing(r);
        let labels = [target, ep.label()];
        m.scrape_success
            .with(&labels)
            .set(if ok { 1.0 } else { 0.0 });
        m.scrape_duration.with(&labels).set(secs);
        if ok {
            m.scrape_success_time.with(&labels).set(now);
        }
        snap.endpoints.insert(
            ep.label(),
            EndpointStatus {
                ok,
                duration_seconds: secs,
                error: r
                    .as_ref()
                    .err()
                    .map(|e| format!("{}: {}", e.outcome, e.message)),
            },
        );
    }
    let [health, model, gpus, queue] = results;
    let t = [target];

    // /health → up, ready (and, with /model-status, the identity info).
    let health = health.as_ref().ok().map(|(b, _)| Health::from_body(b));
    let model = model.as_ref().ok().map(|(b, _)| ModelStatus::from_body(b));
    m.target_info.remove_target(target);
    match &health {
        Some(h) => {
            count_issues(m, target, &h.issues);
            m.target_up.with(&t).set(1.0);
            let ready = h.is_ready();
            m.target_ready.with(&t).set(if ready { 1.0 } else { 0.0 });
            let clean = |s: &Option<String>| sanitize_label_value(s.as_deref().unwrap_or(""));
            let model_type = clean(&model.as_ref().and_then(|x| x.model_type.clone()));
            m.target_info
                .with(&[target, &clean(&h.service), &clean(&h.version), &model_type])
                .set(1.0);
            snap.up = Some(true);
            snap.ready = Some(ready);
            snap.health_status = h.status.as_deref().map(sanitize_label_value);
        }
        None => {
            m.target_up.with(&t).set(0.0);
            m.target_ready.remove(&t);
            snap.up = Some(false);
        }
    }

    // /model-status → VRAM and host memory.
    match &model {
        Some(ms) => {
            count_issues(m, target, &ms.issues);
            set_or_remove(&m.vram_used, &t, ms.vram_used_bytes);
            set_or_remove(&m.system_memory_used, &t, ms.system_memory_used_bytes);
            set_or_remove(&m.system_memory_total, &t, ms.system_memory_total_bytes);
        }
        None => {
            m.vram_used.remove(&t);
            m.system_memory_used.remove(&t);
            m.system_memory_total.remove(&t);
        }
    }

    // /gpu-info → per-GPU memory and identity; GPUs no longer listed lose their series.
    let gpu_families = [&m.gpu_total, &m.gpu_allocated, &m.gpu_free, &m.gpu_info];
    match gpus.as_ref().ok().map(|(b, _)| GpuInfo::from_body(b)) {
        Some(info) => {
            count_issues(m, target, &info.issues);
            m.target_gpus.with(&t).set(info.gpus.len() as f64);
            snap.gpus = Some(info.gpus.len());
            let mut present = BTreeSet::new();
            for g in &info.gpus {
                let idx = g.index.to_string();
                let labels = [target, idx.as_str()];
                set_or_remove(&m.gpu_total, &labels, g.total_bytes);
                set_or_remove(&m.gpu_allocated, &labels, g.allocated_bytes);
                set_or_remove(&m.gpu_free, &labels, g.free_bytes);
                let name = sanitize_label_value(g.name.as_deref().unwrap_or(""));
                let cc = sanitize_label_value(g.compute_capability.as_deref().unwrap_or(""));
                m.gpu_info.remove_where(target, |l| {
                    l.get(1) == Some(&idx) && (l.get(2) != Some(&name) || l.get(3) != Some(&cc))
                });
                m.gpu_info.with(&[target, &idx, &name, &cc]).set(1.0);
                present.insert(idx);
            }
            for f in gpu_families {
                f.remove_where(target, |l| l.get(1).is_some_and(|g| !present.contains(g)));
            }
        }
        None => {
            m.target_gpus.remove(&t);
            for f in gpu_families {
                f.remove_target(target);
            }
        }
    }

    // /queue-stats → the queue mode's queue.
    let queue_families = [
        &m.queue_depth,
        &m.queue_capacity,
        &m.active_requests,
        &m.max_concurrent,
    ];
    match queue.as_ref().ok().map(|(b, _)| QueueStats::from_body(b)) {
        Some(q) => {
            count_issues(m, target, &q.issues);
            let as_f = |v: Option<u64>| v.map(|x| x as f64);
            set_or_remove(&m.queue_depth, &t, as_f(q.queue_size));
            set_or_remove(&m.queue_capacity, &t, as_f(q.max_queue_size));
            set_or_remove(&m.active_requests, &t, as_f(q.active_requests));
            set_or_remove(&m.max_concurrent, &t, as_f(q.max_concurrent));
        }
        None => {
            for f in queue_families {
                f.remove(&t);
            }
        }
    }
    snap
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Outcome;
    use serde_json::json;

    fn ok(v: serde_json::Value) -> Scrape {
        let now = Instant::now();
        Ok((
            Body::parse(v.to_string().as_bytes()).unwrap(),
            Exchange {
                status: 200,
                body: bytes::Bytes::new(),
                sent: now,
                first_byte: now,
                done: now,
                retry_after: None,
            },
        ))
    }

    fn failed() -> Scrape {
        let now = Instant::now();
        Err(ExchangeError {
            outcome: Outcome::Connect,
            message: "connection failed".to_string(),
            status: None,
            sent: now,
            first_byte: None,
            done: now,
            bytes: 0,
        })
    }

    fn value(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    }

    const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

    #[test]
    fn a_full_scrape_sets_every_gauge_and_a_failed_one_removes_them() {
        let m = Metrics::new(&[1.0]).unwrap();
        let health = ok(json!({"status": "healthy", "service": "FLUX API", "version": "1.0.0"}));
        let model = ok(
            json!({"model_type": "flux", "vram_usage_gb": "8.50GB", "system_memory_used_gb": "144.09GB", "system_memory_total_gb": "N/A"}),
        );
        let gpus = ok(json!({"gpus": [
            {"gpu_id": 0, "name": "NVIDIA RTX\u{0} 5090", "total_memory_gb": "31.4", "allocated_memory_gb": "8.9", "free_memory_gb": "22.5"},
            {"gpu_id": 1, "name": "NVIDIA RTX 5090", "total_memory_gb": "31.4", "allocated_memory_gb": null, "free_memory_gb": "31.4"}
        ]}));
        let queue = ok(
            json!({"queue_size": 2, "active_requests": 1, "max_concurrent": 1, "max_queue_size": 100}),
        );
        let snap = apply(&m, "a", 1000.0, [&health, &model, &gpus, &queue]);
        assert_eq!(snap.ready, Some(true));
        let text = m.render();
        assert_eq!(value(&text, "fluxprobe_target_up{target=\"a\"}"), Some(1.0));
        assert_eq!(
            value(&text, "fluxprobe_target_ready{target=\"a\"}"),
            Some(1.0)
        );
        assert_eq!(
            value(&text, "fluxprobe_target_vram_used_bytes{target=\"a\"}"),
            Some(8.5 * GIB)
        );
        assert_eq!(
            value(
                &text,
                "fluxprobe_target_system_memory_total_bytes{target=\"a\"}"
            ),
            None
        );
        assert_eq!(
            value(&text, "fluxprobe_target_gpus{target=\"a\"}"),
            Some(2.0)
        );
        assert_eq!(
            value(
                &text,
                "fluxprobe_target_gpu_memory_total_bytes{gpu=\"0\",target=\"a\"}"
            ),
            Some((31.4 * GIB).round())
        );
        assert_eq!(
            value(
                &text,
                "fluxprobe_target_gpu_memory_allocated_bytes{gpu=\"1\",target=\"a\"}"
            ),
            None
        );
        assert!(text.contains("name=\"NVIDIA RTX 5090\""), "{text}");
        assert_eq!(
            value(&text, "fluxprobe_target_queue_depth{target=\"a\"}"),
            Some(2.0)
        );
        assert_eq!(
            value(&text, "fluxprobe_target_queue_capacity{target=\"a\"}"),
            Some(100.0)
        );
        assert_eq!(
            value(
                &text,
                "fluxprobe_target_parse_errors_total{field=\"system_memory_total_gb\",target=\"a\"}"
            ),
            Some(1.0)
        );
        assert!(text.contains("fluxprobe_target_info{model_type=\"flux\",service=\"FLUX API\",target=\"a\",version=\"1.0.0\"} 1"), "{text}");

        // GPU 1 disappears.
        let gpus = ok(
            json!({"gpus": [{"gpu_id": 0, "name": "NVIDIA RTX 5090", "total_memory_gb": "31.4", "allocated_memory_gb": "9.0", "free_memory_gb": "22.4"}]}),
        );
        apply(&m, "a", 1001.0, [&health, &model, &gpus, &queue]);
        let text = m.render();
        assert!(!text.contains("gpu=\"1\""), "{text}");
        assert_eq!(
            value(&text, "fluxprobe_target_gpus{target=\"a\"}"),
            Some(1.0)
        );

        // Everything fails: nothing looks idle.
        let f = failed();
        let snap = apply(&m, "a", 1002.0, [&f, &f, &f, &f]);
        assert_eq!(snap.up, Some(false));
        let text = m.render();
        assert_eq!(value(&text, "fluxprobe_target_up{target=\"a\"}"), Some(0.0));
        for gone in [
            "fluxprobe_target_ready{",
            "fluxprobe_target_info{",
            "fluxprobe_target_gpus{",
            "gpu_memory",
            "fluxprobe_target_gpu_info{",
            "queue_depth{",
            "vram_used_bytes{",
            "system_memory_used_bytes{",
        ] {
            assert!(
                !text
                    .lines()
                    .any(|l| l.starts_with("fluxprobe") && l.contains(gone)),
                "{gone} still there:\n{text}"
            );
        }
        assert_eq!(
            value(
                &text,
                "fluxprobe_target_stats_scrape_success{endpoint=\"gpu_info\",target=\"a\"}"
            ),
            Some(0.0)
        );
        // The last success time stays.
        assert_eq!(
            value(
                &text,
                "fluxprobe_target_stats_scrape_success_timestamp_seconds{endpoint=\"gpu_info\",target=\"a\"}"
            ),
            Some(1001.0)
        );
    }

    #[test]
    fn health_200_with_status_error_is_up_but_not_ready() {
        let m = Metrics::new(&[1.0]).unwrap();
        let health = ok(json!({"status": "error", "error": "CUDA error"}));
        let f = failed();
        apply(&m, "a", 1.0, [&health, &f, &f, &f]);
        let text = m.render();
        assert_eq!(value(&text, "fluxprobe_target_up{target=\"a\"}"), Some(1.0));
        assert_eq!(
            value(&text, "fluxprobe_target_ready{target=\"a\"}"),
            Some(0.0)
        );
    }
}
