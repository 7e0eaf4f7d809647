//! The registry bridge: every gauge and counter of `METRICS` becomes an observable OTLP
//! instrument of the same name whose callback reads the daemon's Prometheus registry at
//! collection time, one data point per series, its labels as attributes. The registry stays the
//! single source of these values, so /metrics and OTLP never disagree and nothing is counted
//! twice. (Histograms cannot be observed; `instruments.rs` records them per probe.)

use crate::serve::metrics::{METRICS, MetricDef, MetricKind};
use opentelemetry::KeyValue;
use opentelemetry::metrics::{AsyncInstrument, Meter, ObservableCounter, ObservableGauge};
use prometheus::proto::{MetricFamily, MetricType};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// The OTLP unit of a metric, from its Prometheus name's unit suffix (UCUM as OTLP expects).
pub fn unit_of(name: &str) -> Option<&'static str> {
    if name.ends_with("_seconds") {
        Some("s")
    } else if name.ends_with("_bytes") {
        Some("By")
    } else {
        None
    }
}

/// Keeps the observable instruments registered for the life of the meter provider.
pub struct Bridge {
    _gauges: Vec<ObservableGauge<f64>>,
    _counters: Vec<ObservableCounter<f64>>,
}

impl Bridge {
    pub fn register(meter: &Meter, registry: &prometheus::Registry) -> Bridge {
        let mut gauges = Vec::new();
        let mut counters = Vec::new();
        for def in METRICS {
            match def.kind {
                MetricKind::Gauge => {
                    let registry = registry.clone();
                    let mut b = meter
                        .f64_observable_gauge(def.name)
                        .with_description(def.help)
                        .with_callback(move |obs| observe(&registry, def, obs));
                    if let Some(u) = unit_of(def.name) {
                        b = b.with_unit(u);
                    }
                    gauges.push(b.build());
                }
                MetricKind::Counter => {
                    let registry = registry.clone();
                    let mut b = meter
                        .f64_observable_counter(def.name)
                        .with_description(def.help)
                        .with_callback(move |obs| observe(&registry, def, obs));
                    if let Some(u) = unit_of(def.name) {
                        b = b.with_unit(u);
                    }
                    counters.push(b.build());
                }
                MetricKind::Histogram => {}
            }
        }
        Bridge {
            _gauges: gauges,
            _counters: counters,
        }
    }
}

/// Reports every series of `def` in the registry. A panic here would stop the SDK's reader
/// thread for good, so it is contained (and cannot happen with a sane registry anyway).
fn observe(registry: &prometheus::Registry, def: &MetricDef, obs: &dyn AsyncInstrument<f64>) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        for (value, attrs) in samples(&registry.gather(), def) {
            obs.observe(value, &attrs);
        }
    }));
}

/// The series of `def` in gathered families: value and labels. Series of another type than the
/// list says are skipped, so are non-finite values.
pub fn samples(families: &[MetricFamily], def: &MetricDef) -> Vec<(f64, Vec<KeyValue>)> {
    let want = match def.kind {
        MetricKind::Gauge => MetricType::GAUGE,
        MetricKind::Counter => MetricType::COUNTER,
        MetricKind::Histogram => return Vec::new(),
    };
    families
        .iter()
        .filter(|f| f.name() == def.name && f.get_field_type() == want)
        .flat_map(|f| f.get_metric())
        .filter_map(|m| {
            let value = match want {
                MetricType::GAUGE => m.get_gauge().get_value(),
                _ => m.get_counter().get_value(),
            };
            value.is_finite().then(|| {
                let attrs = m
                    .get_label()
                    .iter()
                    .map(|l| KeyValue::new(l.name().to_string(), l.value().to_string()))
                    .collect();
                (value, attrs)
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::metrics::find;
    use prometheus::{CounterVec, GaugeVec, Opts, Registry};

    #[test]
    fn units_follow_the_name_suffix() {
        assert_eq!(unit_of("fluxprobe_request_duration_seconds"), Some("s"));
        assert_eq!(
            unit_of("fluxprobe_target_gpu_memory_total_bytes"),
            Some("By")
        );
        assert_eq!(unit_of("fluxprobe_requests_total"), None);
        assert_eq!(unit_of("fluxprobe_burst_last_success_ratio"), None);
    }

    #[test]
    fn samples_carry_values_and_labels_of_the_named_metric_only() {
        let r = Registry::new();
        let up = GaugeVec::new(Opts::new("fluxprobe_target_up", "h"), &["target"]).unwrap();
        r.register(Box::new(up.clone())).unwrap();
        up.with_label_values(&["a"]).set(1.0);
        up.with_label_values(&["b"]).set(0.0);
        let req = CounterVec::new(
            Opts::new("fluxprobe_requests_total", "h"),
            &["target", "probe"],
        )
        .unwrap();
        r.register(Box::new(req.clone())).unwrap();
        req.with_label_values(&["a", "trickle"]).inc_by(3.0);

        let fams = r.gather();
        let mut got = samples(&fams, find("fluxprobe_target_up").unwrap());
        got.sort_by(|x, y| format!("{:?}", x.1).cmp(&format!("{:?}", y.1)));
        assert_eq!(
            got,
            vec![
                (1.0, vec![KeyValue::new("target", "a")]),
                (0.0, vec![KeyValue::new("target", "b")]),
            ]
        );
        let got = samples(&fams, find("fluxprobe_requests_total").unwrap());
        assert_eq!(
            got,
            vec![(
                3.0,
                vec![
                    KeyValue::new("probe", "trickle"),
                    KeyValue::new("target", "a")
                ]
            )]
        );
        assert!(samples(&fams, find("fluxprobe_target_ready").unwrap()).is_empty());
    }

    #[test]
    fn a_series_of_the_wrong_type_is_skipped() {
        let r = Registry::new();
        // Registered as a counter although the list says gauge.
        let wrong = CounterVec::new(Opts::new("fluxprobe_target_up", "h"), &["target"]).unwrap();
        r.register(Box::new(wrong.clone())).unwrap();
        wrong.with_label_values(&["a"]).inc();
        assert!(samples(&r.gather(), find("fluxprobe_target_up").unwrap()).is_empty());
    }
}
