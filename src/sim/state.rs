//! The simulator's shared state: configuration, faults, the GPU scheduler, the queue registry,
//! the seeded random source and the counters, behind one short-held lock (never held across an
//! await), plus the shutdown token and the signal that wakes waiters when the plan changes.

use super::SimConfig;
use super::faults::Faults;
use super::gpu::{Finished, GpuParams, JobId, JobState, Owner, Scheduler, Slot};
use super::queue::{Ending, QueueRegistry};
use super::snapshot::{SimGpu, SimStats};
use crate::probe::Clock;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// Everything that changes, under one lock.
#[derive(Debug)]
pub struct Core {
    pub faults: Faults,
    pub sched: Scheduler,
    pub queue: QueueRegistry,
    pub rng: StdRng,
    pub stats: SimStats,
    /// Ended jobs of /generate handlers, waiting to be picked up.
    done_sync: HashMap<JobId, Slot>,
    clock: Clock,
}

impl Core {
    /// Brings the state up to `now`: ends the jobs whose time has come.
    pub fn advance(&mut self, now: Instant) {
        let finished: Vec<Finished> = self.sched.prune(now);
        for f in finished {
            if f.slot.failure.is_some() {
                self.stats.generations_failed += 1;
            } else {
                self.stats.generations_completed += 1;
            }
            match f.owner {
                Owner::Sync { abandoned: false } => {
                    self.done_sync.insert(f.id, f.slot);
                }
                Owner::Sync { abandoned: true } => {}
                Owner::Queue(id) => {
                    let started_at = self.wall(f.slot.start);
                    let completed_at = self.wall(f.slot.end);
                    let ending = match &f.slot.failure {
                        None => Ending::Completed {
                            started_at,
                            completed_at,
                            generation_seconds: f.slot.generation_seconds,
                        },
                        Some(failure) => Ending::Failed {
                            started_at,
                            completed_at,
                            error: failure.message(),
                        },
                    };
                    self.queue.finish(&id, ending);
                }
            }
        }
    }

    /// Unix seconds of a monotonic instant (anchored once at start).
    pub fn wall(&self, t: Instant) -> f64 {
        self.clock.epoch(self.clock.offset(t))
    }

    /// A uniform roll in [0, 1).
    pub fn roll(&mut self) -> f64 {
        self.rng.random::<f64>()
    }

    /// A random id in the shape of a UUID v4.
    pub fn uuid(&mut self) -> String {
        let mut b: [u8; 16] = self.rng.random();
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
        format!(
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        )
    }

    /// Picks up the result of an ended /generate job.
    pub fn take_done(&mut self, id: JobId) -> Option<Slot> {
        self.done_sync.remove(&id)
    }

    /// Forgets a /generate job whose handler went away.
    pub fn abandon(&mut self, id: JobId) {
        self.sched.abandon(id);
        self.done_sync.remove(&id);
    }
}

/// The state shared by every connection of one simulator.
#[derive(Debug)]
pub struct Shared {
    pub config: SimConfig,
    pub started: Instant,
    pub token: CancellationToken,
    /// Bumped whenever planned jobs may have moved (cancel, GPUs added or removed).
    pub plan_version: watch::Sender<u64>,
    core: Mutex<Core>,
}

impl Shared {
    pub fn new(config: SimConfig) -> Shared {
        let clock = Clock::new();
        let started = clock.start;
        let t = &config.timing;
        let params = GpuParams {
            time_scale: config.time_scale,
            overhead_seconds: t.overhead_seconds,
            failure_fraction: t.failure_fraction,
            model_bytes: t.vram_model_gib * GIB,
            transient_bytes_per_pixel: t.vram_transient_gib * GIB / t.base_pixels as f64,
            total_bytes: config.hardware.gpu_total_gib * GIB,
            load_done: started + config.scaled(config.slow_start.as_secs_f64()),
        };
        let core = Core {
            faults: config.faults.clone(),
            sched: Scheduler::new(params, config.gpus as usize, started),
            queue: QueueRegistry::new(config.request_retention),
            rng: StdRng::seed_from_u64(config.rng_seed),
            stats: SimStats::default(),
            done_sync: HashMap::new(),
            clock,
        };
        Shared {
            config,
            started,
            token: CancellationToken::new(),
            plan_version: watch::Sender::new(0),
            core: Mutex::new(core),
        }
    }

    /// The state, brought up to now. A poisoned lock is taken over (a panic elsewhere must not
    /// take the simulator down with it).
    pub fn core(&self) -> (MutexGuard<'_, Core>, Instant) {
        let mut core = self.core.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        core.advance(now);
        (core, now)
    }

    pub fn faults(&self) -> Faults {
        self.core().0.faults.clone()
    }

    pub fn set_faults(&self, faults: Faults) {
        self.core().0.faults = faults;
    }

    pub fn set_gpus(&self, n: usize) {
        {
            let (mut core, now) = self.core();
            core.sched.set_gpus(n, now);
        }
        self.plan_version.send_modify(|v| *v += 1);
    }

    /// Tells waiters that planned jobs may have moved.
    pub fn plan_changed(&self) {
        self.plan_version.send_modify(|v| *v += 1);
    }

    pub fn stats(&self) -> SimStats {
        let (core, now) = self.core();
        let mut s = core.stats.clone();
        let (waiting, running) = core.sched.job_counts(now);
        s.generations_running = running as u64;
        s.generations_waiting = waiting as u64;
        s
    }

    pub fn gpu_memory(&self) -> Vec<SimGpu> {
        let (core, now) = self.core();
        let hw = &self.config.hardware;
        core.sched
            .memory(now)
            .iter()
            .map(|m| SimGpu::of(m, &hw.gpu_name, &hw.compute_capability))
            .collect()
    }

    /// Waits for a /generate job to end; None when the simulator shuts down first.
    pub async fn wait_for_job(&self, id: JobId) -> Option<Slot> {
        let mut version = self.plan_version.subscribe();
        loop {
            version.borrow_and_update();
            let end = {
                let (mut core, now) = self.core();
                if let Some(slot) = core.take_done(id) {
                    return Some(slot);
                }
                match core.sched.state(id, now) {
                    None => return None,
                    Some(JobState::Running { end }) => Some(end),
                    Some(JobState::Waiting { end }) => end,
                }
            };
            let sleep = async {
                match end {
                    Some(end) => tokio::time::sleep_until(end).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = self.token.cancelled() => return None,
                _ = version.changed() => {}
                _ = sleep => {}
            }
        }
    }

    /// Waits until `until`, or returns false if the simulator shuts down first.
    pub async fn sleep_until(&self, until: Instant) -> bool {
        tokio::select! {
            _ = self.token.cancelled() => false,
            _ = tokio::time::sleep_until(until) => true,
        }
    }
}

/// Marks a /generate job abandoned if its handler is dropped before picking up the result.
pub struct JobGuard<'a> {
    pub shared: &'a Shared,
    pub id: JobId,
    pub armed: bool,
}

impl Drop for JobGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.shared.core().0.abandon(self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_look_like_uuid_v4_and_repeat_with_the_seed() {
        let a = Shared::new(SimConfig::default());
        let b = Shared::new(SimConfig::default());
        let ida = a.core().0.uuid();
        assert_eq!(ida, b.core().0.uuid());
        assert_eq!(ida.len(), 36);
        let parts: Vec<_> = ida.split('-').map(str::len).collect();
        assert_eq!(parts, vec![8, 4, 4, 4, 12]);
        assert_eq!(&ida[14..15], "4");
        assert!(matches!(&ida[19..20], "8" | "9" | "a" | "b"));
        let c = Shared::new(SimConfig {
            rng_seed: 2,
            ..SimConfig::default()
        });
        assert_ne!(ida, c.core().0.uuid());
    }

    #[tokio::test]
    async fn a_finished_generate_job_is_picked_up_once() {
        let shared = Shared::new(SimConfig {
            time_scale: 0.0,
            ..SimConfig::default()
        });
        let id = {
            let (mut core, now) = shared.core();
            core.sched.submit(
                now,
                super::super::gpu::JobSpec {
                    generation_seconds: 1.72,
                    pixels: 1.0,
                    forced: None,
                    leak_bytes: 0.0,
                },
                Owner::Sync { abandoned: false },
            )
        };
        let slot = shared.wait_for_job(id).await.unwrap();
        assert!(slot.failure.is_none());
        assert_eq!(shared.stats().generations_completed, 1);
        assert!(shared.core().0.take_done(id).is_none());
    }
}
