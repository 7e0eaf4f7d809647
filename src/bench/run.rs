//! The bench drivers: a closed loop (N requests, at most C in flight — the seed's mode) and an
//! open loop (R requests per second for D seconds, sent on schedule whatever the answers), both
//! producing a [`PhaseResult`]. Stopping is cooperative: `stop` ends sending, `abort` ends every
//! probe still in flight as `aborted`; nothing started is ever dropped from the records.

use super::model::{Load, PhaseResult};
use super::requests::RequestSource;
use crate::api::FluxClient;
use crate::probe::{self, Clock, ProbeMode, ProbeRecord, ProbeSpec};
use reqwest::header::HeaderMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// What a phase sends and how.
#[derive(Debug, Clone)]
pub struct PhasePlan {
    pub mode: ProbeMode,
    pub load: Load,
    /// Requests sent first and flagged `warmup` (left out of statistics).
    pub warmup: u64,
    pub timeout: Duration,
    pub poll_interval: Duration,
}

/// How a run is stopped from outside (Ctrl-C, or a test).
#[derive(Debug, Clone, Default)]
pub struct RunControl {
    /// Stop sending new requests.
    pub stop: CancellationToken,
    /// End every request still in flight now (recorded as aborted).
    pub abort: CancellationToken,
}

impl RunControl {
    pub fn new() -> RunControl {
        RunControl::default()
    }
}

/// Progress events for a progress bar; the driver never waits on them.
pub trait Progress: Send + Sync {
    /// A probe finished (warm-up ones included).
    fn finished(&self, record: &ProbeRecord);
    /// A scheduled send was skipped (open loop, max_in_flight reached).
    fn skipped(&self) {}
}

/// A progress sink that shows nothing.
pub struct NoProgress;
impl Progress for NoProgress {
    fn finished(&self, _: &ProbeRecord) {}
}

struct Shared {
    client: FluxClient,
    clock: Clock,
    abort: CancellationToken,
    in_flight: AtomicU32,
    peak: AtomicU32,
    progress: Arc<dyn Progress>,
}

impl Shared {
    /// Starts one probe. `permit` (closed loop) is released when the probe ends.
    fn spawn(
        self: &Arc<Self>,
        set: &mut JoinSet<ProbeRecord>,
        spec: ProbeSpec,
        intended: Option<Instant>,
        seq: u64,
        warmup: bool,
        permit: Option<OwnedSemaphorePermit>,
    ) {
        let n = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(n, Ordering::SeqCst);
        let me = Arc::clone(self);
        set.spawn(async move {
            let mut rec = probe::execute(
                &me.client,
                &spec,
                &me.clock,
                intended,
                seq,
                &HeaderMap::new(),
                &me.abort,
            )
            .await;
            rec.warmup = warmup;
            me.in_flight.fetch_sub(1, Ordering::SeqCst);
            me.progress.finished(&rec);
            drop(permit);
            rec
        });
    }
}

/// Runs one phase to its end, or until `control` stops it.
pub async fn run_phase(
    client: &FluxClient,
    plan: &PhasePlan,
    requests: &RequestSource,
    control: &RunControl,
    progress: Arc<dyn Progress>,
) -> PhaseResult {
    let clock = Clock::new();
    let shared = Arc::new(Shared {
        client: client.clone(),
        clock,
        abort: control.abort.clone(),
        in_flight: AtomicU32::new(0),
        peak: AtomicU32::new(0),
        progress,
    });
    let spec_for = |seq: u64| ProbeSpec {
        request: requests.request(seq),
        mode: plan.mode,
        timeout: plan.timeout,
        poll_interval: plan.poll_interval,
    };
    let mut set = JoinSet::new();
    let mut records = Vec::new();
    let (skipped, not_started) = match plan.load {
        Load::Closed {
            requests: n,
            concurrency,
        } => {
            let c = concurrency.max(1) as usize;
            let mut seq = 0u64;
            // Warm-up first, all of it finished before the measured requests start, so the
            // measured window is clean.
            let mut not_started = closed_loop(
                &shared,
                &mut set,
                &spec_for,
                &mut seq,
                plan.warmup,
                c,
                true,
                control,
            )
            .await;
            collect(&mut set, &mut records).await;
            if not_started == 0 {
                not_started =
                    closed_loop(&shared, &mut set, &spec_for, &mut seq, n, c, false, control).await;
            } else {
                not_started += n;
            }
            (0, not_started)
        }
        Load::Open {
            rate,
            duration_seconds,
            max_in_flight,
        } => {
            open_loop(
                &shared,
                &mut set,
                &spec_for,
                plan.warmup,
                rate,
                duration_seconds,
                max_in_flight,
                control,
            )
            .await
        }
    };
    collect(&mut set, &mut records).await;
    records.sort_by(|a, b| a.intended.total_cmp(&b.intended).then(a.seq.cmp(&b.seq)));
    PhaseResult {
        test_type: plan.mode,
        load: plan.load,
        wall_start: clock.wall_start,
        records,
        skipped,
        not_started,
        interrupted: control.stop.is_cancelled(),
        peak_in_flight: shared.peak.load(Ordering::SeqCst),
    }
}

async fn collect(set: &mut JoinSet<ProbeRecord>, records: &mut Vec<ProbeRecord>) {
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(rec) => records.push(rec),
            // A probe task cannot fail short of a bug; keep going with the others.
            Err(e) => tracing::error!("a probe task ended abnormally: {e}"),
        }
    }
}

/// Sends `count` requests with at most `c` in flight. Returns how many were never started.
#[allow(clippy::too_many_arguments)]
async fn closed_loop(
    shared: &Arc<Shared>,
    set: &mut JoinSet<ProbeRecord>,
    spec_for: &impl Fn(u64) -> ProbeSpec,
    seq: &mut u64,
    count: u64,
    c: usize,
    warmup: bool,
    control: &RunControl,
) -> u64 {
    let permits = Arc::new(Semaphore::new(c));
    for i in 0..count {
        let permit = tokio::select! {
            biased;
            _ = control.stop.cancelled() => return count - i,
            p = Arc::clone(&permits).acquire_owned() => p.expect("semaphore is never closed"),
        };
        // Closed loop: intended = sent.
        shared.spawn(set, spec_for(*seq), None, *seq, warmup, Some(permit));
        *seq += 1;
    }
    0
}

/// Sends on a fixed schedule: request k is intended at k / rate seconds. Returns
/// (skipped, not started).
#[allow(clippy::too_many_arguments)]
async fn open_loop(
    shared: &Arc<Shared>,
    set: &mut JoinSet<ProbeRecord>,
    spec_for: &impl Fn(u64) -> ProbeSpec,
    warmup: u64,
    rate: f64,
    duration_seconds: f64,
    max_in_flight: u32,
    control: &RunControl,
) -> (u64, u64) {
    let total = open_loop_count(rate, duration_seconds) + warmup;
    // The schedule starts at the phase clock's zero, so intended offsets are exactly k / rate.
    let t0 = shared.clock.start;
    let mut skipped = 0;
    for k in 0..total {
        let intended = t0 + Duration::from_secs_f64(k as f64 / rate);
        tokio::select! {
            biased;
            _ = control.stop.cancelled() => return (skipped, total - k),
            _ = tokio::time::sleep_until(intended) => {}
        }
        if shared.in_flight.load(Ordering::SeqCst) >= max_in_flight {
            skipped += 1;
            shared.progress.skipped();
            continue;
        }
        shared.spawn(set, spec_for(k), Some(intended), k, k < warmup, None);
    }
    (skipped, 0)
}

/// Requests an open-loop phase sends: ⌊rate × duration⌋, at least one.
pub fn open_loop_count(rate: f64, duration_seconds: f64) -> u64 {
    ((rate * duration_seconds).floor() as u64).max(1)
}
