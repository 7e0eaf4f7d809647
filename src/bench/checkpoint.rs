//! Checkpoints of a long bench run (`--checkpoint 1m` with `--save`): every interval, the
//! results file is rewritten, atomically, with every request finished so far, marked
//! interrupted. A run killed outright (kill -9, a crash, the machine going down) leaves its last
//! checkpoint — a complete, valid file — never a truncated one; a run that ends normally
//! replaces it with the final results. Requests still in flight at a checkpoint are not in it.

use super::model::{BenchResults, PhaseResult};
use super::results;
use super::run::{PhasePlan, Progress};
use crate::probe::ProbeRecord;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// A progress sink that also keeps the records of the phase running now, for checkpoints.
pub struct Recorder {
    inner: Arc<dyn Progress>,
    current: Mutex<Current>,
}

#[derive(Default)]
struct Current {
    wall_start: f64,
    records: Vec<ProbeRecord>,
}

impl Recorder {
    pub fn new(inner: Arc<dyn Progress>) -> Recorder {
        Recorder {
            inner,
            current: Mutex::new(Current::default()),
        }
    }

    /// The phase so far, as a result: its finished records in start order, marked interrupted.
    pub fn partial_phase(&self, plan: &PhasePlan) -> PhaseResult {
        let (wall_start, mut records) = match self.current.lock() {
            Ok(c) => (c.wall_start, c.records.clone()),
            Err(_) => (0.0, Vec::new()),
        };
        records.sort_by(|a, b| a.intended.total_cmp(&b.intended).then(a.seq.cmp(&b.seq)));
        PhaseResult {
            test_type: plan.mode,
            load: plan.load,
            wall_start,
            records,
            skipped: 0,
            not_started: 0,
            interrupted: true,
            // Not known until the phase ends.
            peak_in_flight: 0,
            stopped_early: None,
        }
    }
}

impl Progress for Recorder {
    fn phase_started(&self, wall_start: f64) {
        if let Ok(mut c) = self.current.lock() {
            *c = Current {
                wall_start,
                records: Vec::new(),
            };
        }
        self.inner.phase_started(wall_start);
    }

    fn finished(&self, record: &ProbeRecord) {
        if let Ok(mut c) = self.current.lock() {
            c.records.push(record.clone());
        }
        self.inner.finished(record);
    }

    fn skipped(&self) {
        self.inner.skipped();
    }
}

/// The background task that writes checkpoints during one phase.
pub struct CheckpointTask {
    task: tokio::task::JoinHandle<()>,
    stop: CancellationToken,
}

impl CheckpointTask {
    /// Every `every`, writes `base` (the run so far: configuration, status, finished phases)
    /// plus the running phase's partial result to `path`. A failed write is logged and the run
    /// goes on.
    pub fn start(
        every: Duration,
        path: PathBuf,
        base: BenchResults,
        plan: PhasePlan,
        recorder: Arc<Recorder>,
    ) -> CheckpointTask {
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tokio::select! {
                    biased;
                    _ = stopped.cancelled() => break,
                    _ = tick.tick() => {}
                }
                let mut run = base.clone();
                run.phases.push(recorder.partial_phase(&plan));
                run.interrupted = true;
                let path = path.clone();
                // Awaited to the end, never cancelled: a write still running on the blocking
                // pool after `stop` could rename a checkpoint over the final results.
                let written = tokio::task::spawn_blocking(move || {
                    results::write_atomic(&path, &results::to_json(&run))
                })
                .await;
                match written {
                    Ok(Ok(())) => tracing::debug!("checkpoint written"),
                    Ok(Err(e)) => tracing::warn!("cannot write a checkpoint: {e}"),
                    Err(e) => tracing::warn!("checkpoint task failed: {e}"),
                }
            }
        });
        CheckpointTask { task, stop }
    }

    /// Stops checkpointing and returns once no checkpoint write is under way, so that the
    /// final results written next are the file's last word.
    pub async fn stop(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::model::Load;
    use crate::bench::run::NoProgress;
    use crate::outcome::Outcome;
    use crate::probe::ProbeMode;

    fn rec(seq: u64, intended: f64) -> ProbeRecord {
        ProbeRecord {
            seq,
            warmup: false,
            mode: ProbeMode::Generate,
            intended,
            sent: intended,
            first_byte: None,
            done: intended + 1.0,
            outcome: Outcome::Success,
            http_status: Some(200),
            error: None,
            generation_time: Some(0.9),
            vram_bytes: None,
            vram_raw: None,
            bytes_received: 10,
            width: 512,
            height: 512,
            steps: 10,
            server_request_id: None,
            server_queue_wait: None,
            server_service_time: None,
            parse_issues: Vec::new(),
        }
    }

    #[test]
    fn the_partial_phase_holds_what_finished_in_start_order_and_a_new_phase_starts_empty() {
        let r = Recorder::new(Arc::new(NoProgress));
        let plan = PhasePlan {
            mode: ProbeMode::Generate,
            load: Load::Closed {
                requests: 10,
                concurrency: 2,
            },
            warmup: 0,
            timeout: Duration::from_secs(5),
            poll_interval: Duration::from_millis(250),
        };
        r.phase_started(1000.0);
        r.finished(&rec(1, 0.5));
        r.finished(&rec(0, 0.0));
        let p = r.partial_phase(&plan);
        assert_eq!(p.wall_start, 1000.0);
        assert_eq!(
            p.records.iter().map(|x| x.seq).collect::<Vec<_>>(),
            vec![0, 1]
        );
        assert!(p.interrupted);
        r.phase_started(2000.0);
        let p = r.partial_phase(&plan);
        assert!(p.records.is_empty());
        assert_eq!(p.wall_start, 2000.0);
    }
}
