//! One target at run time: its two HTTP clients (probes, and status scrapes with their own
//! connection pool and short timeout), the open-loop trickle, the status loop, the cron loops of
//! its bursts, and every task they start — tracked, so stopping a target leaves nothing behind.

use super::config::{SeedPolicy, TRICKLE, TargetConfig};
use super::registry::{SKIP_MAX_IN_FLIGHT, SKIP_OVERLAP};
use super::schedule::TricklePlan;
use super::shared::Shared;
use crate::api::{ClientConfig, ClientError, FluxClient};
use crate::bench::requests::RequestSource;
use crate::cli::SeedArg;
use crate::probe::{self, ProbeRecord, ProbeSpec};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Largest status body read (status answers are small JSON objects).
const STATUS_BODY_CAP: u64 = 1024 * 1024;

/// A running target.
pub struct TargetRuntime {
    pub cfg: Arc<TargetConfig>,
    pub shared: Arc<Shared>,
    pub(crate) client: FluxClient,
    pub(crate) status_client: FluxClient,
    requests: RequestSource,
    seq: AtomicU64,
    trickle_in_flight: AtomicU32,
    /// Stops the loops (trickle, status, cron): nothing new starts.
    pub(crate) schedule_cancel: CancellationToken,
    /// Ends in-flight probes at once (as `aborted`).
    pub(crate) probe_cancel: CancellationToken,
    pub(crate) tasks: TaskTracker,
    /// Set when the target left the configuration: its late results are not recorded.
    retired: AtomicBool,
    pub(crate) bursts_running: Mutex<HashSet<String>>,
    first_scrape_done: AtomicBool,
    first_scrape: Notify,
}

fn client_config(cfg: &TargetConfig, timeout: Duration, cap: u64) -> ClientConfig {
    let mut c = ClientConfig::new(cfg.url.clone());
    c.headers = cfg
        .headers
        .iter()
        .map(|h| (h.name.clone(), h.value.clone()))
        .collect();
    c.timeout = timeout;
    c.connect_timeout = timeout.min(Duration::from_secs(10));
    c.max_body_bytes = usize::try_from(cap).unwrap_or(usize::MAX);
    c.tls = cfg.tls.clone();
    c
}

impl TargetRuntime {
    /// Builds the clients; nothing runs until [`TargetRuntime::start`].
    pub fn new(cfg: Arc<TargetConfig>, shared: Arc<Shared>) -> Result<Arc<Self>, ClientError> {
        let client = FluxClient::new(&client_config(&cfg, cfg.timeout, cfg.max_body_bytes))?;
        let mut status_cfg = client_config(
            &cfg,
            cfg.status_timeout,
            cfg.max_body_bytes.min(STATUS_BODY_CAP),
        );
        status_cfg.pool_max_idle_per_host = 4;
        let status_client = FluxClient::new(&status_cfg)?;
        let r = &cfg.request;
        let requests = RequestSource {
            prompts: r.prompts.clone(),
            steps: r.steps,
            guidance: r.guidance,
            width: r.width,
            height: r.height,
            seed: match r.seed {
                SeedPolicy::None => None,
                SeedPolicy::Random => Some(SeedArg::Random),
                SeedPolicy::Fixed(n) => Some(SeedArg::Fixed(n)),
            },
        };
        Ok(Arc::new(TargetRuntime {
            cfg,
            shared,
            client,
            status_client,
            requests,
            seq: AtomicU64::new(0),
            trickle_in_flight: AtomicU32::new(0),
            schedule_cancel: CancellationToken::new(),
            probe_cancel: CancellationToken::new(),
            tasks: TaskTracker::new(),
            retired: AtomicBool::new(false),
            bursts_running: Mutex::new(HashSet::new()),
            first_scrape_done: AtomicBool::new(false),
            first_scrape: Notify::new(),
        }))
    }

    pub fn name(&self) -> &str {
        &self.cfg.name
    }

    /// Creates the target's series and starts its loops.
    pub fn start(self: &Arc<Self>) {
        let m = &self.shared.metrics;
        let mut probes = vec![(TRICKLE.to_string(), SKIP_MAX_IN_FLIGHT)];
        probes.extend(
            self.cfg
                .bursts
                .iter()
                .map(|b| (b.name.clone(), SKIP_OVERLAP)),
        );
        if self.cfg.trickle.is_none() {
            probes.remove(0);
        }
        m.init_target(self.name(), &probes);
        m.set_target_labels(self.name(), &self.cfg.labels);
        self.shared
            .recent
            .add_target(self.name(), self.cfg.display_url());
        if let Some(tr) = self.cfg.trickle {
            let me = self.clone();
            self.tasks.spawn(async move {
                let plan = TricklePlan::new(Instant::now(), me.name(), tr.interval, tr.jitter);
                me.trickle_loop(plan).await
            });
        }
        let me = self.clone();
        self.tasks
            .spawn(async move { super::status::status_loop(me).await });
        for b in &self.cfg.bursts {
            let me = self.clone();
            let name = b.name.clone();
            self.tasks
                .spawn(async move { super::burst::cron_loop(me, name).await });
        }
        tracing::info!(
            target_name = self.name(),
            url = %self.cfg.display_url(),
            mode = self.cfg.mode.as_str(),
            trickle = ?self.cfg.trickle.map(|t| t.interval),
            bursts = self.cfg.bursts.len(),
            "probing target"
        );
    }

    /// The open loop: probe k is sent at its intended time, whatever earlier probes are doing;
    /// past max_in_flight it is skipped and counted, never delayed.
    async fn trickle_loop(self: Arc<Self>, plan: TricklePlan) {
        let mut k: u64 = 0;
        loop {
            let at = plan.intended(k);
            tokio::select! {
                _ = tokio::time::sleep_until(at) => {}
                _ = self.schedule_cancel.cancelled() => return,
            }
            k += 1;
            if self.trickle_in_flight.load(Ordering::SeqCst) >= self.cfg.max_in_flight {
                self.shared
                    .metrics
                    .skip(self.name(), TRICKLE, SKIP_MAX_IN_FLIGHT);
                tracing::debug!(
                    target_name = self.name(),
                    "trickle probe skipped: max_in_flight reached"
                );
                continue;
            }
            self.trickle_in_flight.fetch_add(1, Ordering::SeqCst);
            let me = self.clone();
            self.tasks.spawn(async move {
                me.run_probe(TRICKLE, Some(at)).await;
                me.trickle_in_flight.fetch_sub(1, Ordering::SeqCst);
            });
        }
    }

    /// Runs one probe and records it. `intended`: the schedule's send time (None: now).
    pub async fn run_probe(&self, probe_name: &str, intended: Option<Instant>) -> ProbeRecord {
        let seq = self.seq.fetch_add(1, Ordering::SeqCst);
        let spec = ProbeSpec {
            request: self.requests.request(seq),
            mode: self.cfg.mode,
            timeout: self.cfg.timeout,
            poll_interval: self.cfg.poll_interval,
        };
        let gauge = self.shared.metrics.in_flight.with(&[self.name()]);
        gauge.inc();
        let otlp = self.shared.otlp();
        let span = otlp
            .as_ref()
            .map(|o| o.probe_started(self.name(), probe_name));
        let headers = span.as_ref().map(|s| s.headers()).unwrap_or_default();
        let rec = probe::execute(
            &self.client,
            &spec,
            &self.shared.clock,
            intended,
            seq,
            &headers,
            &self.probe_cancel,
        )
        .await;
        if !self.is_retired() {
            gauge.dec();
            self.shared.record(self.name(), probe_name, &rec);
            if let (Some(o), Some(span)) = (&otlp, span) {
                o.probe_finished(span, self.name(), probe_name, &rec);
            }
        }
        rec
    }

    pub fn is_retired(&self) -> bool {
        self.retired.load(Ordering::SeqCst)
    }

    /// Stops starting new work (loops end; in-flight probes go on).
    pub fn stop_scheduling(&self) {
        self.schedule_cancel.cancel();
        self.tasks.close();
    }

    /// Ends in-flight probes now (they are recorded as aborted unless the target is retired).
    pub fn abort_in_flight(&self) {
        self.probe_cancel.cancel();
    }

    /// Stops everything and suppresses any late result (the target left the configuration).
    pub fn retire(&self) {
        self.retired.store(true, Ordering::SeqCst);
        self.stop_scheduling();
        self.abort_in_flight();
    }

    /// Waits until every task of the target has ended.
    pub async fn wait(&self) {
        self.tasks.close();
        self.tasks.wait().await;
    }

    pub(crate) fn mark_first_scrape(&self) {
        if !self.first_scrape_done.swap(true, Ordering::SeqCst) {
            self.first_scrape.notify_waiters();
        }
    }

    pub fn first_scrape_done(&self) -> bool {
        self.first_scrape_done.load(Ordering::SeqCst)
    }

    /// Resolves once the first status scrape has been attempted.
    pub async fn wait_first_scrape(&self) {
        loop {
            let notified = self.first_scrape.notified();
            if self.first_scrape_done() {
                return;
            }
            notified.await;
        }
    }
}
