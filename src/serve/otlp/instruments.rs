//! The per-probe histograms, recorded directly when a probe finishes (a histogram cannot be
//! read back from the Prometheus registry): response time by outcome class, server generation
//! time, queue wait and schedule lag — with the same names, attributes and buckets as the
//! Prometheus histograms, and the same rule for which records feed which histogram
//! ([`ProbeMeasurements`]).

use crate::probe::ProbeRecord;
use crate::serve::metrics;
use opentelemetry::KeyValue;
use opentelemetry::metrics::{Histogram, Meter};

pub const REQUEST_DURATION: &str = "fluxprobe_request_duration_seconds";
pub const GENERATION_DURATION: &str = "fluxprobe_generation_duration_seconds";
pub const QUEUE_WAIT: &str = "fluxprobe_queue_wait_seconds";
pub const SCHEDULE_LAG: &str = "fluxprobe_schedule_lag_seconds";

/// What one finished probe contributes to the histograms, in seconds. Every probe has a
/// response time and a schedule lag; generation time and queue wait only when the server
/// reported them. Non-finite values are left out, negative ones (clock quirks) count as 0.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProbeMeasurements {
    /// "success" or "failure": the `outcome` label of the response-time histogram.
    pub outcome_class: &'static str,
    pub response_time: Option<f64>,
    pub generation_time: Option<f64>,
    pub queue_wait: Option<f64>,
    pub schedule_lag: Option<f64>,
}

impl ProbeMeasurements {
    pub fn of(record: &ProbeRecord) -> ProbeMeasurements {
        let clean = |v: f64| v.is_finite().then(|| v.max(0.0));
        let response_time = clean(record.response_time());
        let generation_time = record.generation_time.and_then(clean);
        // Derived from the two above unless the server reported it: only when both are sane.
        let queue_wait = if record.server_queue_wait.is_some()
            || (response_time.is_some() && generation_time.is_some())
        {
            record.queue_wait().and_then(clean)
        } else {
            None
        };
        ProbeMeasurements {
            outcome_class: if record.is_success() {
                "success"
            } else {
                "failure"
            },
            response_time,
            generation_time,
            queue_wait,
            schedule_lag: clean(record.schedule_lag()),
        }
    }
}

/// The four histograms.
pub struct ProbeHistograms {
    request_duration: Histogram<f64>,
    generation_duration: Histogram<f64>,
    queue_wait: Histogram<f64>,
    schedule_lag: Histogram<f64>,
}

impl ProbeHistograms {
    pub fn new(meter: &Meter, buckets: &[f64]) -> ProbeHistograms {
        let make = |name: &'static str| {
            let help = metrics::find(name).map(|d| d.help).unwrap_or_default();
            meter
                .f64_histogram(name)
                .with_description(help)
                .with_unit("s")
                .with_boundaries(buckets.to_vec())
                .build()
        };
        ProbeHistograms {
            request_duration: make(REQUEST_DURATION),
            generation_duration: make(GENERATION_DURATION),
            queue_wait: make(QUEUE_WAIT),
            schedule_lag: make(SCHEDULE_LAG),
        }
    }

    pub fn record(&self, target: &str, probe: &str, m: &ProbeMeasurements) {
        let tp = [
            KeyValue::new("target", target.to_string()),
            KeyValue::new("probe", probe.to_string()),
        ];
        if let Some(v) = m.response_time {
            let [t, p] = tp.clone();
            self.request_duration
                .record(v, &[t, p, KeyValue::new("outcome", m.outcome_class)]);
        }
        if let Some(v) = m.generation_time {
            self.generation_duration.record(v, &tp);
        }
        if let Some(v) = m.queue_wait {
            self.queue_wait.record(v, &tp);
        }
        if let Some(v) = m.schedule_lag {
            self.schedule_lag.record(v, &tp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Outcome;
    use crate::probe::ProbeMode;
    use crate::serve::metrics::MetricKind;

    fn record(
        outcome: Outcome,
        intended: f64,
        sent: f64,
        done: f64,
        gen_t: Option<f64>,
    ) -> ProbeRecord {
        ProbeRecord {
            seq: 1,
            warmup: false,
            mode: ProbeMode::Generate,
            intended,
            sent,
            first_byte: None,
            done,
            outcome,
            http_status: None,
            error: None,
            generation_time: gen_t,
            vram_bytes: None,
            vram_raw: None,
            bytes_received: 0,
            width: 512,
            height: 512,
            steps: 4,
            server_request_id: None,
            server_queue_wait: None,
            server_service_time: None,
            parse_issues: vec![],
        }
    }

    #[test]
    fn names_and_labels_are_those_of_the_metric_list() {
        for (name, labels) in [
            (REQUEST_DURATION, &["target", "probe", "outcome"][..]),
            (GENERATION_DURATION, &["target", "probe"][..]),
            (QUEUE_WAIT, &["target", "probe"][..]),
            (SCHEDULE_LAG, &["target", "probe"][..]),
        ] {
            let def = metrics::find(name).unwrap();
            assert_eq!(def.kind, MetricKind::Histogram, "{name}");
            assert_eq!(def.labels, labels, "{name}");
        }
        let histograms = metrics::METRICS
            .iter()
            .filter(|d| d.kind == MetricKind::Histogram)
            .count();
        assert_eq!(histograms, 4, "a new histogram needs recording here");
    }

    #[test]
    fn measurements_of_a_success_and_a_failure() {
        let m = ProbeMeasurements::of(&record(Outcome::Success, 10.0, 10.5, 14.0, Some(1.5)));
        assert_eq!(m.outcome_class, "success");
        assert_eq!(m.response_time, Some(4.0));
        assert_eq!(m.generation_time, Some(1.5));
        assert_eq!(m.queue_wait, Some(2.5));
        assert_eq!(m.schedule_lag, Some(0.5));

        let m = ProbeMeasurements::of(&record(Outcome::Timeout, 2.0, 2.0, 32.0, None));
        assert_eq!(m.outcome_class, "failure");
        assert_eq!(m.response_time, Some(30.0));
        assert_eq!(m.generation_time, None);
        assert_eq!(m.queue_wait, None);
        assert_eq!(m.schedule_lag, Some(0.0));
    }

    #[test]
    fn odd_values_are_cleaned() {
        let m = ProbeMeasurements::of(&record(
            Outcome::Success,
            5.0,
            4.0,
            f64::NAN,
            Some(f64::INFINITY),
        ));
        assert_eq!(m.response_time, None);
        assert_eq!(m.generation_time, None);
        assert_eq!(m.queue_wait, None);
        assert_eq!(m.schedule_lag, Some(0.0));
    }

    #[test]
    fn server_reported_queue_wait_wins() {
        let mut r = record(Outcome::Success, 0.0, 0.0, 9.0, Some(2.0));
        r.mode = ProbeMode::Queue;
        r.server_queue_wait = Some(6.25);
        assert_eq!(ProbeMeasurements::of(&r).queue_wait, Some(6.25));
    }
}
