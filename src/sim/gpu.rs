//! The GPU model: one generation at a time per GPU, first come first served across GPUs, and the
//! VRAM each GPU holds.
//!
//! Scheduling runs on virtual time. When a job arrives it is planned at once: it starts on the
//! GPU that frees first, at max(its arrival, the end of the model load, that GPU's last planned
//! end), and ends `service × time_scale` later. Nothing sleeps inside the model; waiters sleep
//! until a planned end. Because each start is computed from the previous planned end, never from
//! when a task happened to wake, timings do not drift under load and a time scale of 0 is exact.
//! Jobs that have not started are re-planned, in arrival order, when the plan changes under them
//! (a cancelled queue request, GPUs added or removed); a started job keeps its GPU and its end.
//!
//! VRAM of a GPU = the model (once loaded) + what leaked so far + the transient memory of the
//! generation running on it. A generation that would not fit fails as CUDA out of memory.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;
use tokio::time::Instant;

pub type JobId = u64;

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// Why a generation failed.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// The `error_rate` fault.
    Injected,
    /// The request had an empty prompt (queue mode only: /generate refuses it up front).
    EmptyPrompt,
    /// A non-positive width or height (only the older API lets one through).
    BadSize,
    /// The generation did not fit in the GPU's memory.
    OutOfMemory {
        gpu: usize,
        tried_bytes: f64,
        total_bytes: f64,
        free_bytes: f64,
    },
}

impl Failure {
    /// The error text the service puts after "FLUX image generation failed: ".
    pub fn message(&self) -> String {
        match self {
            Failure::Injected => "CUDA error: an illegal memory access was encountered".into(),
            Failure::EmptyPrompt => "400: Prompt cannot be empty".into(),
            Failure::BadSize => "height and width must be positive".into(),
            Failure::OutOfMemory {
                gpu,
                tried_bytes,
                total_bytes,
                free_bytes,
            } => format!(
                "CUDA out of memory. Tried to allocate {:.2} GiB. GPU {gpu} has a total capacity of {:.2} GiB of which {:.2} GiB is free.",
                tried_bytes / GIB,
                total_bytes / GIB,
                free_bytes.max(0.0) / GIB
            ),
        }
    }
}

/// Who waits for a job.
#[derive(Debug, Clone, PartialEq)]
pub enum Owner {
    /// A POST /generate handler; `abandoned` once the handler went away.
    Sync { abandoned: bool },
    /// A queue-mode request.
    Queue(String),
}

/// What a job asks of a GPU, decided when it arrives.
#[derive(Debug, Clone, PartialEq)]
pub struct JobSpec {
    /// Generation seconds at the steps and size that run, jitter included, unscaled.
    pub generation_seconds: f64,
    /// Pixels of the image (drives the transient VRAM).
    pub pixels: f64,
    /// A failure decided up front (fault, bad request).
    pub forced: Option<Failure>,
    /// VRAM left allocated for good if the generation succeeds.
    pub leak_bytes: f64,
}

/// Where and when a job runs, and how it ends.
#[derive(Debug, Clone, PartialEq)]
pub struct Slot {
    /// GPU index at planning time.
    pub gpu: usize,
    gpu_uid: u64,
    pub start: Instant,
    pub end: Instant,
    pub failure: Option<Failure>,
    /// Generation seconds as the simulation ran them (scaled).
    pub generation_seconds: f64,
    /// VRAM allocated on its GPU while it ran (model + leaks + its transient), bytes.
    pub vram_bytes: f64,
    transient_bytes: f64,
    leak_bytes: f64,
}

#[derive(Debug, Clone)]
struct Job {
    spec: JobSpec,
    ready_at: Instant,
    owner: Owner,
    slot: Option<Slot>,
}

/// A finished job, handed back by [`Scheduler::prune`].
#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    pub id: JobId,
    pub owner: Owner,
    pub slot: Slot,
}

/// The state of a job still known to the scheduler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    /// Not planned (no GPU) or planned to start later.
    Waiting { end: Option<Instant> },
    /// Started, ends at `end`.
    Running { end: Instant },
}

/// Fixed figures of the model.
#[derive(Debug, Clone)]
pub struct GpuParams {
    pub time_scale: f64,
    pub overhead_seconds: f64,
    pub failure_fraction: f64,
    pub model_bytes: f64,
    /// Transient VRAM per pixel of a running generation.
    pub transient_bytes_per_pixel: f64,
    pub total_bytes: f64,
    /// When the model has finished loading.
    pub load_done: Instant,
}

#[derive(Debug, Clone)]
struct Gpu {
    uid: u64,
    /// VRAM leaked by generations that have ended.
    leaked_bytes: f64,
}

/// The tail of the plan on one GPU.
#[derive(Debug, Clone, Copy)]
struct Tail {
    free_at: Instant,
    leak_bytes: f64,
}

/// Memory of one GPU at one instant, in exact bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GpuMemory {
    pub index: usize,
    pub total_bytes: f64,
    pub allocated_bytes: f64,
}

/// The GPUs and every job not yet finished.
#[derive(Debug)]
pub struct Scheduler {
    params: GpuParams,
    gpus: Vec<Gpu>,
    tails: Vec<Tail>,
    next_uid: u64,
    next_id: JobId,
    jobs: BTreeMap<JobId, Job>,
    /// Jobs not started yet, in arrival order (their slots are tentative).
    waiting: VecDeque<JobId>,
}

/// Longest time a job may hold a GPU (about 31 years): keeps instants from overflowing
/// whatever size the older API lets through.
const MAX_BUSY_SECONDS: f64 = 1.0e9;

fn secs(d: f64) -> Duration {
    if d.is_nan() || d <= 0.0 {
        Duration::ZERO
    } else {
        Duration::from_secs_f64(d.min(MAX_BUSY_SECONDS))
    }
}

impl Scheduler {
    pub fn new(params: GpuParams, gpus: usize, now: Instant) -> Scheduler {
        let mut s = Scheduler {
            params,
            gpus: Vec::new(),
            tails: Vec::new(),
            next_uid: 0,
            next_id: 0,
            jobs: BTreeMap::new(),
            waiting: VecDeque::new(),
        };
        s.add_gpus(gpus, now);
        s
    }

    fn add_gpus(&mut self, n: usize, now: Instant) {
        for _ in 0..n {
            self.gpus.push(Gpu {
                uid: self.next_uid,
                leaked_bytes: 0.0,
            });
            self.tails.push(Tail {
                free_at: now,
                leak_bytes: 0.0,
            });
            self.next_uid += 1;
        }
    }

    pub fn gpu_count(&self) -> usize {
        self.gpus.len()
    }

    pub fn load_done(&self) -> Instant {
        self.params.load_done
    }

    /// Whether the model has finished loading at `now`.
    pub fn loaded(&self, now: Instant) -> bool {
        now >= self.params.load_done
    }

    fn model_bytes(&self, at: Instant) -> f64 {
        if at >= self.params.load_done {
            self.params.model_bytes
        } else {
            0.0
        }
    }

    /// Plans one job at the tail of the plan.
    fn plan(&mut self, id: JobId) {
        let Some(job) = self.jobs.get(&id) else {
            return;
        };
        let Some((gpu, tail)) = self
            .tails
            .iter()
            .enumerate()
            .min_by_key(|(i, t)| (t.free_at, *i))
            .map(|(i, t)| (i, *t))
        else {
            if let Some(job) = self.jobs.get_mut(&id) {
                job.slot = None;
            }
            return;
        };
        let p = &self.params;
        let start = job.ready_at.max(tail.free_at);
        let spec = &job.spec;
        let transient = spec.pixels.max(0.0) * p.transient_bytes_per_pixel;
        let held = self.model_bytes(start) + tail.leak_bytes;
        let mut failure = spec.forced.clone();
        if failure.is_none() && held + transient > p.total_bytes {
            failure = Some(Failure::OutOfMemory {
                gpu,
                tried_bytes: transient,
                total_bytes: p.total_bytes,
                free_bytes: p.total_bytes - held,
            });
        }
        let full = spec.generation_seconds + p.overhead_seconds;
        let (busy, transient, leak) = match &failure {
            None => (
                full,
                transient,
                spec.leak_bytes.min((p.total_bytes - held).max(0.0)),
            ),
            Some(Failure::EmptyPrompt | Failure::BadSize) => (0.0, 0.0, 0.0),
            Some(Failure::Injected) => (full * p.failure_fraction, transient, 0.0),
            // The allocation fails at once; only the bookkeeping takes time.
            Some(Failure::OutOfMemory { .. }) => (p.overhead_seconds, 0.0, 0.0),
        };
        let end = start + secs(busy * p.time_scale);
        let generation_seconds = if failure.is_none() {
            spec.generation_seconds * p.time_scale
        } else {
            0.0
        };
        let slot = Slot {
            gpu,
            gpu_uid: self.gpus[gpu].uid,
            start,
            end,
            failure,
            generation_seconds,
            vram_bytes: held + transient,
            transient_bytes: transient,
            leak_bytes: leak,
        };
        self.tails[gpu] = Tail {
            free_at: end,
            leak_bytes: tail.leak_bytes + leak,
        };
        if let Some(job) = self.jobs.get_mut(&id) {
            job.slot = Some(slot);
        }
    }

    /// Adds a job at `now` and plans it. It cannot start before the model has loaded.
    pub fn submit(&mut self, now: Instant, spec: JobSpec, owner: Owner) -> JobId {
        let id = self.next_id;
        self.next_id += 1;
        self.settle(now);
        self.jobs.insert(
            id,
            Job {
                spec,
                ready_at: now.max(self.params.load_done),
                owner,
                slot: None,
            },
        );
        self.waiting.push_back(id);
        self.plan(id);
        id
    }

    /// Moves jobs that have started out of the waiting line.
    fn settle(&mut self, now: Instant) {
        while let Some(&id) = self.waiting.front() {
            match self.jobs.get(&id) {
                None => {
                    self.waiting.pop_front();
                }
                Some(Job {
                    slot: Some(slot), ..
                }) if slot.start <= now => {
                    self.waiting.pop_front();
                }
                Some(_) => break,
            }
        }
    }

    /// Re-plans every job that has not started, in arrival order.
    fn replan(&mut self, now: Instant) {
        self.settle(now);
        for (i, gpu) in self.gpus.iter().enumerate() {
            let mut tail = Tail {
                free_at: now,
                leak_bytes: gpu.leaked_bytes,
            };
            for job in self.jobs.values() {
                if let Some(slot) = &job.slot
                    && slot.gpu_uid == gpu.uid
                    && slot.start <= now
                {
                    tail.free_at = tail.free_at.max(slot.end);
                    tail.leak_bytes += slot.leak_bytes;
                }
            }
            self.tails[i] = tail;
        }
        let waiting: Vec<JobId> = self.waiting.iter().copied().collect();
        for id in waiting {
            self.plan(id);
        }
    }

    /// Removes the jobs that have ended by `now`, books their leaks, and hands them back.
    pub fn prune(&mut self, now: Instant) -> Vec<Finished> {
        let ended: Vec<JobId> = self
            .jobs
            .iter()
            .filter(|(_, j)| j.slot.as_ref().is_some_and(|s| s.end <= now))
            .map(|(id, _)| *id)
            .collect();
        let mut out = Vec::with_capacity(ended.len());
        for id in ended {
            let Some(job) = self.jobs.remove(&id) else {
                continue;
            };
            let Some(slot) = job.slot else { continue };
            if let Some(gpu) = self.gpus.iter_mut().find(|g| g.uid == slot.gpu_uid) {
                gpu.leaked_bytes += slot.leak_bytes;
            }
            out.push(Finished {
                id,
                owner: job.owner,
                slot,
            });
        }
        self.settle(now);
        out
    }

    /// Changes the number of GPUs. Jobs running on a removed GPU finish there; waiting jobs are
    /// re-planned on the GPUs that remain. New GPUs come with the model loaded.
    pub fn set_gpus(&mut self, n: usize, now: Instant) {
        if n > self.gpus.len() {
            let add = n - self.gpus.len();
            self.add_gpus(add, now);
        } else {
            self.gpus.truncate(n);
            self.tails.truncate(n);
        }
        self.replan(now);
    }

    /// Cancels a job that has not started. False if it has started or is unknown.
    pub fn cancel(&mut self, id: JobId, now: Instant) -> bool {
        self.settle(now);
        if !self.waiting.contains(&id) {
            return false;
        }
        self.waiting.retain(|j| *j != id);
        self.jobs.remove(&id);
        self.replan(now);
        true
    }

    /// Marks the owner of a synchronous job as gone (its result will be dropped).
    pub fn abandon(&mut self, id: JobId) {
        if let Some(job) = self.jobs.get_mut(&id) {
            job.owner = Owner::Sync { abandoned: true };
        }
    }

    /// The state of a job still known (None once finished and pruned).
    pub fn state(&self, id: JobId, now: Instant) -> Option<JobState> {
        let job = self.jobs.get(&id)?;
        Some(match &job.slot {
            Some(s) if s.start <= now => JobState::Running { end: s.end },
            Some(s) => JobState::Waiting { end: Some(s.end) },
            None => JobState::Waiting { end: None },
        })
    }

    /// The slot of a job still known.
    pub fn slot(&self, id: JobId) -> Option<&Slot> {
        self.jobs.get(&id)?.slot.as_ref()
    }

    /// The job running on GPU `index` at `now`.
    pub fn running_on(&self, index: usize, now: Instant) -> Option<&Slot> {
        let uid = self.gpus.get(index)?.uid;
        self.jobs.values().find_map(|j| {
            j.slot
                .as_ref()
                .filter(|s| s.gpu_uid == uid && s.start <= now && now < s.end)
        })
    }

    /// Counts the queue-mode jobs: (waiting, running) at `now`.
    pub fn queue_counts(&self, now: Instant) -> (usize, usize) {
        let mut waiting = 0;
        let mut running = 0;
        for job in self.jobs.values() {
            if !matches!(job.owner, Owner::Queue(_)) {
                continue;
            }
            match &job.slot {
                Some(s) if s.start <= now => running += 1,
                _ => waiting += 1,
            }
        }
        (waiting, running)
    }

    /// Counts every job: (waiting, running) at `now`.
    pub fn job_counts(&self, now: Instant) -> (usize, usize) {
        let running = self
            .jobs
            .values()
            .filter(|j| j.slot.as_ref().is_some_and(|s| s.start <= now))
            .count();
        (self.jobs.len() - running, running)
    }

    /// Every job known (not finished), for counts.
    pub fn job_count(&self) -> usize {
        self.jobs.len()
    }

    /// Memory of every GPU at `now`. Call [`Scheduler::prune`] first so that ended leaks count.
    pub fn memory(&self, now: Instant) -> Vec<GpuMemory> {
        (0..self.gpus.len())
            .map(|i| {
                let running = self
                    .running_on(i, now)
                    .map(|s| s.transient_bytes)
                    .unwrap_or(0.0);
                let allocated = (self.model_bytes(now) + self.gpus[i].leaked_bytes + running)
                    .min(self.params.total_bytes);
                GpuMemory {
                    index: i,
                    total_bytes: self.params.total_bytes,
                    allocated_bytes: allocated,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: f64 = 1024.0 * 1024.0;

    fn params(now: Instant) -> GpuParams {
        GpuParams {
            time_scale: 1.0,
            overhead_seconds: 0.08,
            failure_fraction: 0.25,
            model_bytes: 8.87 * GIB,
            transient_bytes_per_pixel: 1.5 * GIB / (512.0 * 512.0),
            total_bytes: 31.36 * GIB,
            load_done: now,
        }
    }

    fn spec(seconds: f64) -> JobSpec {
        JobSpec {
            generation_seconds: seconds,
            pixels: 512.0 * 512.0,
            forced: None,
            leak_bytes: 0.0,
        }
    }

    fn sync() -> Owner {
        Owner::Sync { abandoned: false }
    }

    fn at(t0: Instant, s: f64) -> Instant {
        t0 + Duration::from_secs_f64(s)
    }

    fn close(a: Instant, b: Instant) -> bool {
        let d = if a > b { a - b } else { b - a };
        d < Duration::from_micros(1)
    }

    #[test]
    fn one_gpu_serves_in_arrival_order() {
        let t0 = Instant::now();
        let mut s = Scheduler::new(params(t0), 1, t0);
        let ids: Vec<_> = (0..3).map(|_| s.submit(t0, spec(1.72), sync())).collect();
        for (k, id) in ids.iter().enumerate() {
            let slot = s.slot(*id).unwrap();
            assert!(close(slot.start, at(t0, 1.8 * k as f64)));
            assert!(close(slot.end, at(t0, 1.8 * (k + 1) as f64)));
            assert_eq!(slot.gpu, 0);
        }
        assert!(matches!(
            s.state(ids[0], t0),
            Some(JobState::Running { .. })
        ));
        assert!(matches!(
            s.state(ids[2], t0),
            Some(JobState::Waiting { end: Some(_) })
        ));
        let done = s.prune(at(t0, 3.7));
        assert_eq!(done.iter().map(|f| f.id).collect::<Vec<_>>(), ids[..2]);
        assert_eq!(s.job_count(), 1);
    }

    #[test]
    fn two_gpus_run_side_by_side_and_take_the_first_free() {
        let t0 = Instant::now();
        let mut s = Scheduler::new(params(t0), 2, t0);
        let a = s.submit(t0, spec(1.72), sync());
        let b = s.submit(t0, spec(0.92), sync());
        let c = s.submit(t0, spec(1.72), sync());
        assert_eq!(s.slot(a).unwrap().gpu, 0);
        assert_eq!(s.slot(b).unwrap().gpu, 1);
        // b's GPU frees first (1.0 s), so c goes there.
        let sc = s.slot(c).unwrap();
        assert_eq!(sc.gpu, 1);
        assert!(close(sc.start, at(t0, 1.0)));
    }

    #[test]
    fn a_late_arrival_starts_when_it_arrives() {
        let t0 = Instant::now();
        let mut s = Scheduler::new(params(t0), 1, t0);
        s.submit(t0, spec(1.72), sync());
        let late = at(t0, 5.0);
        s.prune(late);
        let id = s.submit(late, spec(1.72), sync());
        assert!(close(s.slot(id).unwrap().start, late));
    }

    #[test]
    fn jobs_wait_for_the_model_to_load() {
        let t0 = Instant::now();
        let mut p = params(t0);
        p.load_done = at(t0, 10.0);
        let mut s = Scheduler::new(p, 1, t0);
        assert!(!s.loaded(t0));
        assert_eq!(s.memory(t0)[0].allocated_bytes, 0.0);
        let id = s.submit(t0, spec(1.72), sync());
        assert!(close(s.slot(id).unwrap().start, at(t0, 10.0)));
        let m = s.memory(at(t0, 10.5))[0];
        assert!((m.allocated_bytes - 10.37 * GIB).abs() < 1.0);
    }

    #[test]
    fn time_scale_zero_is_instant_and_ordered() {
        let t0 = Instant::now();
        let mut p = params(t0);
        p.time_scale = 0.0;
        let mut s = Scheduler::new(p, 1, t0);
        let ids: Vec<_> = (0..1000)
            .map(|_| s.submit(t0, spec(1.72), sync()))
            .collect();
        assert!(ids.iter().all(|id| s.slot(*id).unwrap().end == t0));
        assert_eq!(s.prune(t0).len(), 1000);
        assert_eq!(s.job_count(), 0);
    }

    #[test]
    fn cancelling_a_waiting_job_moves_the_others_up() {
        let t0 = Instant::now();
        let mut s = Scheduler::new(params(t0), 1, t0);
        let a = s.submit(t0, spec(1.72), Owner::Queue("a".into()));
        let b = s.submit(t0, spec(1.72), Owner::Queue("b".into()));
        let c = s.submit(t0, spec(1.72), Owner::Queue("c".into()));
        assert_eq!(s.queue_counts(t0), (2, 1));
        assert!(!s.cancel(a, t0), "a running job cannot be cancelled");
        assert!(s.cancel(b, t0));
        assert!(!s.cancel(b, t0));
        assert!(close(s.slot(c).unwrap().start, at(t0, 1.8)));
        assert_eq!(s.queue_counts(t0), (1, 1));
    }

    #[test]
    fn gpus_come_and_go() {
        let t0 = Instant::now();
        let mut s = Scheduler::new(params(t0), 1, t0);
        let a = s.submit(t0, spec(1.72), sync());
        let b = s.submit(t0, spec(1.72), sync());
        assert!(close(s.slot(b).unwrap().start, at(t0, 1.8)));
        s.set_gpus(2, at(t0, 0.5));
        let sb = s.slot(b).unwrap();
        assert_eq!(sb.gpu, 1);
        assert!(close(sb.start, at(t0, 0.5)));
        assert_eq!(s.memory(at(t0, 0.6)).len(), 2);
        // Down to none: the running job finishes, the next one waits without a GPU.
        s.set_gpus(0, at(t0, 0.6));
        assert!(s.slot(a).is_some());
        let c = s.submit(at(t0, 0.7), spec(1.72), sync());
        assert_eq!(
            s.state(c, at(t0, 0.7)),
            Some(JobState::Waiting { end: None })
        );
        assert!(s.memory(at(t0, 0.7)).is_empty());
        s.set_gpus(1, at(t0, 3.0));
        assert!(close(s.slot(c).unwrap().start, at(t0, 3.0)));
    }

    #[test]
    fn vram_leaks_then_runs_out() {
        let t0 = Instant::now();
        let mut s = Scheduler::new(params(t0), 1, t0);
        let mut leaky = spec(1.72);
        leaky.leak_bytes = 4096.0 * MIB;
        let mut now = t0;
        let mut failures = 0;
        for _ in 0..8 {
            let id = s.submit(now, leaky.clone(), sync());
            let slot = s.slot(id).unwrap().clone();
            now = slot.end;
            if let Some(Failure::OutOfMemory { free_bytes, .. }) = &slot.failure {
                failures += 1;
                assert!(*free_bytes < 1.5 * GIB);
                assert!(
                    slot.failure
                        .as_ref()
                        .unwrap()
                        .message()
                        .contains("CUDA out of memory")
                );
            }
            s.prune(now);
        }
        let m = s.memory(now)[0];
        assert!(m.allocated_bytes <= m.total_bytes);
        // Room for leaks: 31.36 - 8.87 = 22.49 GiB, and a generation needs 1.5 GiB on top. Five
        // leaks of 4 GiB (20 GiB) still leave room for a sixth generation, whose leak fills the
        // GPU; the seventh and eighth do not fit.
        assert_eq!(failures, 2);
        assert!((m.allocated_bytes - 31.36 * GIB).abs() < 1.0);
    }

    #[test]
    fn running_generation_holds_transient_memory() {
        let t0 = Instant::now();
        let mut s = Scheduler::new(params(t0), 1, t0);
        let mut big = spec(1.72 * 4.0);
        big.pixels = 1024.0 * 1024.0;
        let id = s.submit(t0, big, sync());
        let m = s.memory(at(t0, 1.0))[0];
        assert!((m.allocated_bytes - (8.87 + 6.0) * GIB).abs() < 1.0);
        assert!((s.slot(id).unwrap().vram_bytes - (8.87 + 6.0) * GIB).abs() < 1.0);
        let end = s.slot(id).unwrap().end;
        assert!(s.running_on(0, at(t0, 1.0)).is_some());
        assert!(s.running_on(0, end).is_none());
        s.prune(end);
        assert!((s.memory(end)[0].allocated_bytes - 8.87 * GIB).abs() < 1.0);
    }

    #[test]
    fn absurd_sizes_run_out_of_memory_without_overflow() {
        let t0 = Instant::now();
        let mut p = params(t0);
        p.time_scale = 1.0e6;
        let mut s = Scheduler::new(p, 1, t0);
        let mut huge = spec(f64::MAX);
        huge.pixels = f64::MAX;
        let id = s.submit(t0, huge.clone(), sync());
        assert!(matches!(
            s.slot(id).unwrap().failure,
            Some(Failure::OutOfMemory { .. })
        ));
        // Even a job that fits (no transient memory) cannot overflow the clock.
        let mut q = params(t0);
        q.transient_bytes_per_pixel = 0.0;
        q.time_scale = f64::MAX;
        let mut s = Scheduler::new(q, 1, t0);
        let a = s.submit(t0, huge.clone(), sync());
        let b = s.submit(t0, huge, sync());
        assert!(s.slot(a).unwrap().failure.is_none());
        assert!(s.slot(b).unwrap().end > s.slot(a).unwrap().end);
        assert!(s.slot(b).unwrap().end - t0 <= Duration::from_secs_f64(2.0 * MAX_BUSY_SECONDS));
    }

    #[test]
    fn forced_failures_hold_the_gpu_briefly() {
        let t0 = Instant::now();
        let mut s = Scheduler::new(params(t0), 1, t0);
        let mut bad = spec(1.72);
        bad.forced = Some(Failure::Injected);
        let id = s.submit(t0, bad, sync());
        let slot = s.slot(id).unwrap();
        assert!(close(slot.end, at(t0, 1.8 * 0.25)));
        assert_eq!(slot.generation_seconds, 0.0);
        let mut empty = spec(1.72);
        empty.forced = Some(Failure::EmptyPrompt);
        let e = s.submit(t0, empty, sync());
        let se = s.slot(e).unwrap();
        assert_eq!(se.start, se.end);
    }
}
