//! The bench drivers: a closed loop (N requests, at most C in flight — the seed's mode) and an
//! open loop (R requests per second for D seconds, sent on a schedule computed in full before
//! the first send — constant, Poisson or gamma gaps, see [`super::arrivals`] — whatever the
//! answers), both producing a [`PhaseResult`]. Stopping is cooperative: `stop` ends sending,
//! `abort` ends every probe still in flight as `aborted`; nothing started is ever dropped from
//! the records. With `stop_on_saturation`, an open loop also stops sending when requests in
//! flight and response times both keep rising (see [`super::saturation`]) and says why in
//! `stopped_early`.

use super::arrivals::{self, Arrivals, ScheduleError};
use super::model::{Load, PhaseResult};
use super::requests::RequestSource;
use super::saturation::{self, Sample};
use crate::api::FluxClient;
use crate::probe::{self, Clock, ProbeMode, ProbeRecord, ProbeSpec};
use reqwest::header::HeaderMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
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

/// How an open loop spaces its sends and whether it watches for saturation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OpenLoopOptions {
    pub arrivals: Arrivals,
    /// Seed of random gaps.
    pub seed: u64,
    /// Stop sending when the target saturates.
    pub stop_on_saturation: bool,
}

impl Default for OpenLoopOptions {
    /// Constant spacing, seed 1, no saturation stop.
    fn default() -> Self {
        OpenLoopOptions {
            arrivals: Arrivals::Constant,
            seed: 1,
            stop_on_saturation: false,
        }
    }
}

impl PhasePlan {
    /// The open loop's send offsets (warm-up first); empty for a closed loop.
    pub fn schedule(&self, open: &OpenLoopOptions) -> Result<Vec<f64>, ScheduleError> {
        match self.load {
            Load::Closed { .. } => Ok(Vec::new()),
            Load::Open {
                rate,
                duration_seconds,
                ..
            } => arrivals::schedule(
                open.arrivals,
                rate,
                duration_seconds,
                self.warmup,
                open.seed,
            ),
        }
    }
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
    /// A phase started; its records' times are offsets from `wall_start` (Unix seconds).
    fn phase_started(&self, _wall_start: f64) {}
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
    /// Response times of measured probes finished since the saturation monitor last looked
    /// (kept only while it runs).
    finished: Option<Mutex<Vec<f64>>>,
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
            if let (Some(f), false) = (&me.finished, warmup)
                && let Ok(mut v) = f.lock()
            {
                v.push(rec.response_time());
            }
            me.in_flight.fetch_sub(1, Ordering::SeqCst);
            me.progress.finished(&rec);
            drop(permit);
            rec
        });
    }
}

/// Runs one phase to its end, or until `control` stops it; an open loop sends at a constant
/// rate (see [`run_phase_with`]).
pub async fn run_phase(
    client: &FluxClient,
    plan: &PhasePlan,
    requests: &RequestSource,
    control: &RunControl,
    progress: Arc<dyn Progress>,
) -> PhaseResult {
    run_phase_with(
        client,
        plan,
        &OpenLoopOptions::default(),
        requests,
        control,
        progress,
    )
    .await
}

/// Runs one phase to its end, or until `control` stops it (or saturation, when `open` says so).
pub async fn run_phase_with(
    client: &FluxClient,
    plan: &PhasePlan,
    open: &OpenLoopOptions,
    requests: &RequestSource,
    control: &RunControl,
    progress: Arc<dyn Progress>,
) -> PhaseResult {
    let clock = Clock::new();
    progress.phase_started(clock.wall_start);
    let shared = Arc::new(Shared {
        client: client.clone(),
        clock,
        abort: control.abort.clone(),
        in_flight: AtomicU32::new(0),
        peak: AtomicU32::new(0),
        progress,
        finished: (open.stop_on_saturation && matches!(plan.load, Load::Open { .. }))
            .then(|| Mutex::new(Vec::new())),
    });
    let spec_for = |seq: u64| ProbeSpec {
        request: requests.request(seq),
        mode: plan.mode,
        timeout: plan.timeout,
        poll_interval: plan.poll_interval,
    };
    let mut set = JoinSet::new();
    let mut records = Vec::new();
    let mut stopped_early = None;
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
        Load::Open { max_in_flight, .. } => {
            let schedule = match plan.schedule(open) {
                Ok(s) => s,
                Err(e) => {
                    // Options are checked before a run starts; this is a caller's mistake.
                    tracing::error!("no open-loop schedule: {e}");
                    Vec::new()
                }
            };
            let saturated = CancellationToken::new();
            let monitor = shared.finished.as_ref().map(|_| {
                tokio::spawn(watch_saturation(
                    Arc::clone(&shared),
                    schedule_span(&schedule, plan.warmup),
                    saturated.clone(),
                ))
            });
            let sent = open_loop(
                &shared,
                &mut set,
                &spec_for,
                &schedule,
                plan.warmup,
                max_in_flight,
                control,
                &saturated,
            )
            .await;
            if let Some(m) = monitor {
                m.abort();
                if let Ok(Some(sat)) = m.await {
                    stopped_early = Some(format!("saturation: {}", sat.describe()));
                }
            }
            sent
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
        stopped_early,
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

/// Sends on a precomputed schedule: request k is intended at `schedule[k]` seconds after the
/// phase clock's zero; the first `warmup` are warm-up. A send due while `max_in_flight` are in
/// flight is skipped and counted (measured ones only). Returns (skipped, not started), both
/// counting measured requests only; stops early when `control.stop` or `saturated` fires.
#[allow(clippy::too_many_arguments)]
async fn open_loop(
    shared: &Arc<Shared>,
    set: &mut JoinSet<ProbeRecord>,
    spec_for: &impl Fn(u64) -> ProbeSpec,
    schedule: &[f64],
    warmup: u64,
    max_in_flight: u32,
    control: &RunControl,
    saturated: &CancellationToken,
) -> (u64, u64) {
    let t0 = shared.clock.start;
    let total = schedule.len() as u64;
    let measured_left = |k: u64| total - k.max(warmup.min(total));
    let mut skipped = 0;
    for (k, offset) in (0u64..).zip(schedule.iter().copied()) {
        let intended = t0 + Duration::from_secs_f64(offset.max(0.0));
        tokio::select! {
            biased;
            _ = control.stop.cancelled() => return (skipped, measured_left(k)),
            _ = saturated.cancelled() => return (skipped, measured_left(k)),
            _ = tokio::time::sleep_until(intended) => {}
        }
        let warm = k < warmup;
        if shared.in_flight.load(Ordering::SeqCst) >= max_in_flight {
            if !warm {
                skipped += 1;
            }
            shared.progress.skipped();
            continue;
        }
        shared.spawn(set, spec_for(k), Some(intended), k, warm, None);
    }
    (skipped, 0)
}

/// Seconds from the first measured send to the last one of a schedule.
fn schedule_span(schedule: &[f64], warmup: u64) -> f64 {
    let first = schedule.get(warmup as usize).copied().unwrap_or(0.0);
    schedule.last().copied().unwrap_or(0.0) - first
}

/// Looks at requests in flight and response times at regular ticks (a sixteenth of the
/// sending span, between 50 ms and 10 s); when they show saturation, fires `saturated` and
/// returns the evidence.
async fn watch_saturation(
    shared: Arc<Shared>,
    span: f64,
    saturated: CancellationToken,
) -> Option<saturation::Saturation> {
    let tick = Duration::from_secs_f64((span / 16.0).clamp(0.05, 10.0));
    let mut samples: Vec<Sample> = Vec::new();
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    interval.tick().await;
    loop {
        interval.tick().await;
        let finished = match shared.finished.as_ref().map(|f| f.lock()) {
            Some(Ok(mut v)) => std::mem::take(&mut *v),
            _ => Vec::new(),
        };
        samples.push(Sample {
            at: shared.clock.offset(Instant::now()),
            in_flight: f64::from(shared.in_flight.load(Ordering::SeqCst)),
            latency: median(finished),
        });
        if let Some(sat) = saturation::detect(&samples) {
            tracing::warn!("target saturated: {}", sat.describe());
            saturated.cancel();
            return Some(sat);
        }
    }
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    v.retain(|x| x.is_finite());
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(crate::stats::median_sorted(&v).unwrap_or(v[0]))
}

/// Requests an open-loop phase sends: ⌊rate × duration⌋, at least one.
pub fn open_loop_count(rate: f64, duration_seconds: f64) -> u64 {
    ((rate * duration_seconds).floor() as u64).max(1)
}
