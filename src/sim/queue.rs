//! The queue mode's bookkeeping: every request accepted by /submit-request, its id, what it
//! asked for, and how it ended. While its job is with the GPU scheduler, pending/processing is
//! read from the scheduler; once the job ends its outcome is stored here. Finished requests are
//! kept up to a retention count, oldest forgotten first (then /request-status says 404, as the
//! real service does for an expired id).

use super::gpu::JobId;
use super::request::GenRequest;
use std::collections::{HashMap, VecDeque};

/// How a queue-mode request ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Ending {
    Completed {
        started_at: f64,
        completed_at: f64,
        /// Generation seconds as simulated (scaled).
        generation_seconds: f64,
    },
    Failed {
        started_at: f64,
        completed_at: f64,
        error: String,
    },
    Cancelled,
}

/// One queue-mode request.
#[derive(Debug, Clone, PartialEq)]
pub struct Queued {
    pub id: String,
    pub image_id: String,
    pub request: GenRequest,
    /// Unix seconds.
    pub created_at: f64,
    pub job: JobId,
    pub ending: Option<Ending>,
}

/// Every queue-mode request still remembered.
#[derive(Debug, Default)]
pub struct QueueRegistry {
    requests: HashMap<String, Queued>,
    finished: VecDeque<String>,
    retention: usize,
    completed: u64,
}

impl QueueRegistry {
    pub fn new(retention: usize) -> QueueRegistry {
        QueueRegistry {
            retention,
            ..QueueRegistry::default()
        }
    }

    pub fn insert(&mut self, q: Queued) {
        self.requests.insert(q.id.clone(), q);
    }

    pub fn get(&self, id: &str) -> Option<&Queued> {
        self.requests.get(id)
    }

    /// Records how a request ended (once) and forgets the oldest finished ones past retention.
    pub fn finish(&mut self, id: &str, ending: Ending) {
        let Some(q) = self.requests.get_mut(id) else {
            return;
        };
        if q.ending.is_some() {
            return;
        }
        if matches!(ending, Ending::Completed { .. }) {
            self.completed += 1;
        }
        q.ending = Some(ending);
        self.finished.push_back(id.to_string());
        while self.finished.len() > self.retention {
            if let Some(old) = self.finished.pop_front() {
                self.requests.remove(&old);
            }
        }
    }

    /// Requests that completed successfully since start (forgotten ones included).
    pub fn completed(&self) -> u64 {
        self.completed
    }

    /// Requests remembered.
    pub fn len(&self) -> usize {
        self.requests.len()
    }

    pub fn is_empty(&self) -> bool {
        self.requests.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queued(id: &str) -> Queued {
        Queued {
            id: id.to_string(),
            image_id: format!("img-{id}"),
            request: GenRequest {
                prompt: "p".into(),
                steps: 10,
                guidance: 4.0,
                width: 512,
                height: 512,
                seed: None,
            },
            created_at: 1.0,
            job: 0,
            ending: None,
        }
    }

    #[test]
    fn endings_are_recorded_once_and_old_ones_expire() {
        let mut r = QueueRegistry::new(2);
        for id in ["a", "b", "c", "d"] {
            r.insert(queued(id));
        }
        let done = Ending::Completed {
            started_at: 1.0,
            completed_at: 2.0,
            generation_seconds: 0.9,
        };
        r.finish("a", done.clone());
        r.finish("a", Ending::Cancelled);
        assert_eq!(r.get("a").unwrap().ending, Some(done.clone()));
        r.finish("b", Ending::Cancelled);
        r.finish("c", done);
        assert!(r.get("a").is_none(), "oldest finished request forgotten");
        assert!(r.get("b").is_some() && r.get("c").is_some() && r.get("d").is_some());
        assert_eq!(r.completed(), 2);
        assert_eq!(r.len(), 3);
        r.finish("zzz", Ending::Cancelled);
        assert_eq!(r.len(), 3);
    }
}
