//! The daemon's Prometheus registry, built from [`super::metrics::METRICS`]: one registry per
//! daemon (never the global default), every metric of the list registered, the process collector
//! and `fluxprobe_build_info`. Each labelled family remembers the label values it has used per
//! target, so a target removed by a reload, a GPU that disappeared or a failed status scrape can
//! take its series away.

use super::metrics::{self as m, MetricDef, MetricKind};
use crate::outcome::Outcome;
use crate::probe::{Clock, ProbeRecord};
use prometheus::core::{Collector, Desc};
use prometheus::proto::{Gauge as GaugeProto, LabelPair, Metric, MetricFamily, MetricType};
use prometheus::{Gauge, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};

/// Longest label value taken from a server's answer (GPU names, versions).
pub const MAX_LABEL_CHARS: usize = 64;

/// `reason` values of fluxprobe_probes_skipped_total.
pub const SKIP_MAX_IN_FLIGHT: &str = "max_in_flight";
pub const SKIP_OVERLAP: &str = "overlap";

/// A label value from untrusted text: printable ASCII only, at most [`MAX_LABEL_CHARS`].
pub fn sanitize_label_value(s: &str) -> String {
    let cleaned: String = s
        .chars()
        .filter(|c| (' '..='~').contains(c))
        .take(MAX_LABEL_CHARS)
        .collect();
    cleaned.trim().to_string()
}

/// The operations a family needs from a prometheus vec.
pub trait LabelledVec {
    type Series;
    fn series(&self, labels: &[&str]) -> Self::Series;
    fn drop_series(&self, labels: &[&str]);
}

macro_rules! labelled_vec {
    ($vec:ty, $series:ty) => {
        impl LabelledVec for $vec {
            type Series = $series;
            fn series(&self, labels: &[&str]) -> $series {
                self.with_label_values(labels)
            }
            fn drop_series(&self, labels: &[&str]) {
                let _ = self.remove_label_values(labels);
            }
        }
    };
}
labelled_vec!(IntCounterVec, prometheus::IntCounter);
labelled_vec!(GaugeVec, Gauge);
labelled_vec!(HistogramVec, prometheus::Histogram);

/// One metric family and the label values it has set, by target.
pub struct Family<V: LabelledVec> {
    pub def: &'static MetricDef,
    vec: V,
    by_target: bool,
    book: Mutex<HashMap<String, HashSet<Vec<String>>>>,
}

impl<V: LabelledVec> Family<V> {
    fn new(def: &'static MetricDef, vec: V) -> Self {
        Family {
            def,
            vec,
            by_target: def.labels.first() == Some(&"target"),
            book: Mutex::new(HashMap::new()),
        }
    }

    /// The series of these label values (created when new).
    pub fn with(&self, labels: &[&str]) -> V::Series {
        if self.by_target
            && let Some(t) = labels.first()
        {
            let mut book = self.book.lock().unwrap_or_else(|e| e.into_inner());
            book.entry(t.to_string())
                .or_default()
                .insert(labels.iter().map(|s| s.to_string()).collect());
        }
        self.vec.series(labels)
    }

    /// Removes one series (absent is fine).
    pub fn remove(&self, labels: &[&str]) {
        self.vec.drop_series(labels);
        if self.by_target
            && let Some(t) = labels.first()
        {
            let mut book = self.book.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(set) = book.get_mut(*t) {
                let key: Vec<String> = labels.iter().map(|s| s.to_string()).collect();
                set.remove(&key);
            }
        }
    }

    /// Removes every series of a target whose label values match `pred`.
    pub fn remove_where(&self, target: &str, pred: impl Fn(&[String]) -> bool) {
        let mut book = self.book.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(set) = book.get_mut(target) {
            set.retain(|labels| {
                if pred(labels) {
                    let refs: Vec<&str> = labels.iter().map(String::as_str).collect();
                    self.vec.drop_series(&refs);
                    false
                } else {
                    true
                }
            });
        }
    }

    /// Removes every series of a target.
    pub fn remove_target(&self, target: &str) {
        self.remove_where(target, |_| true);
    }

    /// Label-value sets of a target currently exported.
    pub fn series_of(&self, target: &str) -> Vec<Vec<String>> {
        let book = self.book.lock().unwrap_or_else(|e| e.into_inner());
        book.get(target)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }
}

type Counter = Family<IntCounterVec>;
type GaugeF = Family<GaugeVec>;
type Hist = Family<HistogramVec>;

/// Static labels of the targets, exported as one info metric with per-target label names.
struct TargetLabels {
    desc: Desc,
    def: &'static MetricDef,
    labels: RwLock<BTreeMap<String, BTreeMap<String, String>>>,
}

#[derive(Clone)]
struct TargetLabelsCollector(Arc<TargetLabels>);

impl Collector for TargetLabelsCollector {
    fn desc(&self) -> Vec<&Desc> {
        vec![&self.0.desc]
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let map = self.0.labels.read().unwrap_or_else(|e| e.into_inner());
        let mut mf = MetricFamily::default();
        mf.set_name(self.0.def.name.to_string());
        mf.set_help(self.0.def.help.to_string());
        mf.set_field_type(MetricType::GAUGE);
        for (target, labels) in map.iter() {
            let mut pairs = Vec::new();
            for (k, v) in std::iter::once((&"target".to_string(), target)).chain(labels.iter()) {
                let mut p = LabelPair::default();
                p.set_name(k.clone());
                p.set_value(v.clone());
                pairs.push(p);
            }
            let mut g = GaugeProto::default();
            g.set_value(1.0);
            let mut metric = Metric::default();
            metric.set_label(pairs);
            metric.set_gauge(g);
            mf.mut_metric().push(metric);
        }
        vec![mf]
    }
}

/// Every metric of the daemon, registered on its own registry.
pub struct Metrics {
    registry: Registry,
    names: Vec<&'static str>,
    pub requests: Counter,
    pub failures: Counter,
    pub http_responses: Counter,
    pub request_duration: Hist,
    pub generation_duration: Hist,
    pub queue_wait: Hist,
    pub schedule_lag: Hist,
    pub in_flight: GaugeF,
    pub skipped: Counter,
    pub probe_success: GaugeF,
    pub last_success: GaugeF,
    pub burst_running: GaugeF,
    pub burst_throughput: GaugeF,
    pub burst_success_ratio: GaugeF,
    pub burst_response: GaugeF,
    pub burst_end: GaugeF,
    pub target_up: GaugeF,
    pub target_ready: GaugeF,
    pub target_info: GaugeF,
    pub target_gpus: GaugeF,
    pub gpu_info: GaugeF,
    pub gpu_total: GaugeF,
    pub gpu_allocated: GaugeF,
    pub gpu_free: GaugeF,
    pub vram_used: GaugeF,
    pub system_memory_used: GaugeF,
    pub system_memory_total: GaugeF,
    pub queue_depth: GaugeF,
    pub queue_capacity: GaugeF,
    pub active_requests: GaugeF,
    pub max_concurrent: GaugeF,
    pub scrape_success: GaugeF,
    pub scrape_duration: GaugeF,
    pub scrape_success_time: GaugeF,
    pub parse_errors: Counter,
    pub build_info: GaugeF,
    pub reload_successful: Gauge,
    pub reload_success_time: Gauge,
    pub otlp_dropped: Counter,
    target_labels: Arc<TargetLabels>,
}

struct Builder<'a> {
    registry: &'a Registry,
    buckets: &'a [f64],
    names: Vec<&'static str>,
}

fn lookup(name: &str, kind: MetricKind) -> prometheus::Result<&'static MetricDef> {
    let def =
        m::find(name).ok_or_else(|| prometheus::Error::Msg(format!("{name} is not in METRICS")))?;
    if def.kind != kind {
        return Err(prometheus::Error::Msg(format!("{name} is not a {kind:?}")));
    }
    Ok(def)
}

impl Builder<'_> {
    fn counter(&mut self, name: &str) -> prometheus::Result<Counter> {
        let def = lookup(name, MetricKind::Counter)?;
        let vec = IntCounterVec::new(Opts::new(def.name, def.help), def.labels)?;
        self.registry.register(Box::new(vec.clone()))?;
        self.names.push(def.name);
        Ok(Family::new(def, vec))
    }

    fn gauge(&mut self, name: &str) -> prometheus::Result<GaugeF> {
        let def = lookup(name, MetricKind::Gauge)?;
        let vec = GaugeVec::new(Opts::new(def.name, def.help), def.labels)?;
        self.registry.register(Box::new(vec.clone()))?;
        self.names.push(def.name);
        Ok(Family::new(def, vec))
    }

    fn plain_gauge(&mut self, name: &str) -> prometheus::Result<Gauge> {
        let def = lookup(name, MetricKind::Gauge)?;
        let g = Gauge::with_opts(Opts::new(def.name, def.help))?;
        self.registry.register(Box::new(g.clone()))?;
        self.names.push(def.name);
        Ok(g)
    }

    fn histogram(&mut self, name: &str) -> prometheus::Result<Hist> {
        let def = lookup(name, MetricKind::Histogram)?;
        let vec = HistogramVec::new(
            HistogramOpts::new(def.name, def.help).buckets(self.buckets.to_vec()),
            def.labels,
        )?;
        self.registry.register(Box::new(vec.clone()))?;
        self.names.push(def.name);
        Ok(Family::new(def, vec))
    }
}

/// The revision label of fluxprobe_build_info.
pub fn revision() -> &'static str {
    option_env!("FLUXPROBE_REVISION").unwrap_or("unknown")
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

impl Metrics {
    /// A fresh registry with every metric, using `buckets` for the latency histograms.
    pub fn new(buckets: &[f64]) -> prometheus::Result<Metrics> {
        let registry = Registry::new();
        let mut b = Builder {
            registry: &registry,
            buckets,
            names: Vec::new(),
        };
        let labels_def = lookup(m::TARGET_LABELS, MetricKind::Gauge)?;
        let target_labels = Arc::new(TargetLabels {
            desc: Desc::new(
                labels_def.name.to_string(),
                labels_def.help.to_string(),
                vec!["target".to_string()],
                HashMap::new(),
            )?,
            def: labels_def,
            labels: RwLock::new(BTreeMap::new()),
        });
        registry.register(Box::new(TargetLabelsCollector(target_labels.clone())))?;
        b.names.push(labels_def.name);
        let mut metrics = Metrics {
            requests: b.counter(m::REQUESTS_TOTAL)?,
            failures: b.counter(m::REQUEST_FAILURES_TOTAL)?,
            http_responses: b.counter(m::HTTP_RESPONSES_TOTAL)?,
            request_duration: b.histogram(m::REQUEST_DURATION_SECONDS)?,
            generation_duration: b.histogram(m::GENERATION_DURATION_SECONDS)?,
            queue_wait: b.histogram(m::QUEUE_WAIT_SECONDS)?,
            schedule_lag: b.histogram(m::SCHEDULE_LAG_SECONDS)?,
            in_flight: b.gauge(m::REQUESTS_IN_FLIGHT)?,
            skipped: b.counter(m::PROBES_SKIPPED_TOTAL)?,
            probe_success: b.gauge(m::PROBE_SUCCESS)?,
            last_success: b.gauge(m::LAST_SUCCESS_TIMESTAMP_SECONDS)?,
            burst_running: b.gauge(m::BURST_RUNNING)?,
            burst_throughput: b.gauge(m::BURST_LAST_THROUGHPUT_REQUESTS_PER_SECOND)?,
            burst_success_ratio: b.gauge(m::BURST_LAST_SUCCESS_RATIO)?,
            burst_response: b.gauge(m::BURST_LAST_RESPONSE_SECONDS)?,
            burst_end: b.gauge(m::BURST_LAST_END_TIMESTAMP_SECONDS)?,
            target_up: b.gauge(m::TARGET_UP)?,
            target_ready: b.gauge(m::TARGET_READY)?,
            target_info: b.gauge(m::TARGET_INFO)?,
            target_gpus: b.gauge(m::TARGET_GPUS)?,
            gpu_info: b.gauge(m::TARGET_GPU_INFO)?,
            gpu_total: b.gauge(m::TARGET_GPU_MEMORY_TOTAL_BYTES)?,
            gpu_allocated: b.gauge(m::TARGET_GPU_MEMORY_ALLOCATED_BYTES)?,
            gpu_free: b.gauge(m::TARGET_GPU_MEMORY_FREE_BYTES)?,
            vram_used: b.gauge(m::TARGET_VRAM_USED_BYTES)?,
            system_memory_used: b.gauge(m::TARGET_SYSTEM_MEMORY_USED_BYTES)?,
            system_memory_total: b.gauge(m::TARGET_SYSTEM_MEMORY_TOTAL_BYTES)?,
            queue_depth: b.gauge(m::TARGET_QUEUE_DEPTH)?,
            queue_capacity: b.gauge(m::TARGET_QUEUE_CAPACITY)?,
            active_requests: b.gauge(m::TARGET_ACTIVE_REQUESTS)?,
            max_concurrent: b.gauge(m::TARGET_MAX_CONCURRENT_REQUESTS)?,
            scrape_success: b.gauge(m::TARGET_STATS_SCRAPE_SUCCESS)?,
            scrape_duration: b.gauge(m::TARGET_STATS_SCRAPE_DURATION_SECONDS)?,
            scrape_success_time: b.gauge(m::TARGET_STATS_SCRAPE_SUCCESS_TIMESTAMP_SECONDS)?,
            parse_errors: b.counter(m::TARGET_PARSE_ERRORS_TOTAL)?,
            build_info: b.gauge(m::BUILD_INFO)?,
            reload_successful: b.plain_gauge(m::CONFIG_LAST_RELOAD_SUCCESSFUL)?,
            reload_success_time: b.plain_gauge(m::CONFIG_LAST_RELOAD_SUCCESS_TIMESTAMP_SECONDS)?,
            otlp_dropped: b.counter(m::OTLP_DROPPED_TOTAL)?,
            names: Vec::new(),
            registry: registry.clone(),
            target_labels,
        };
        metrics.names = b.names;
        #[cfg(target_os = "linux")]
        metrics.registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;
        metrics
            .build_info
            .with(&[env!("CARGO_PKG_VERSION"), revision()])
            .set(1.0);
        Ok(metrics)
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Names registered from METRICS.
    pub fn registered_names(&self) -> &[&'static str] {
        &self.names
    }

    /// The text exposition of everything registered.
    pub fn render(&self) -> String {
        let families = self.registry.gather();
        let mut out = String::new();
        if let Err(e) = prometheus::TextEncoder::new().encode_utf8(&families, &mut out) {
            tracing::error!(error = %e, "cannot encode the metrics");
        }
        out
    }

    /// Records a configuration load.
    pub fn config_loaded(&self, ok: bool) {
        self.reload_successful.set(if ok { 1.0 } else { 0.0 });
        if ok {
            self.reload_success_time.set(unix_now());
        }
    }

    /// Creates a target's series that must exist before its first probe: in-flight 0, every
    /// failure reason 0 for every probe, the skip counter of each probe.
    pub fn init_target(&self, target: &str, probes: &[(String, &'static str)]) {
        self.in_flight.with(&[target]).set(0.0);
        for (probe, skip_reason) in probes {
            self.requests.with(&[target, probe]);
            for reason in Outcome::failures() {
                self.failures.with(&[target, probe, reason.as_str()]);
            }
            self.skipped.with(&[target, probe, skip_reason]);
        }
    }

    /// Sets the static labels of a target.
    pub fn set_target_labels(&self, target: &str, labels: &BTreeMap<String, String>) {
        let mut map = self
            .target_labels
            .labels
            .write()
            .unwrap_or_else(|e| e.into_inner());
        map.insert(target.to_string(), labels.clone());
    }

    /// Records one finished probe.
    pub fn observe(&self, target: &str, probe: &str, rec: &ProbeRecord, clock: &Clock) {
        let tp = [target, probe];
        self.requests.with(&tp).inc();
        if let Some(code) = rec.http_status {
            let code = code.to_string();
            self.http_responses.with(&[target, probe, &code]).inc();
        }
        let response = rec.response_time().max(0.0);
        if rec.is_success() {
            self.request_duration
                .with(&[target, probe, "success"])
                .observe(response);
            self.probe_success.with(&tp).set(1.0);
            self.last_success.with(&tp).set(clock.epoch(rec.done));
            if let Some(g) = rec.generation_time.filter(|g| g.is_finite() && *g >= 0.0) {
                self.generation_duration.with(&tp).observe(g);
            }
            if let Some(w) = rec.queue_wait().filter(|w| w.is_finite()) {
                self.queue_wait.with(&tp).observe(w.max(0.0));
            }
        } else {
            self.failures
                .with(&[target, probe, rec.outcome.as_str()])
                .inc();
            self.request_duration
                .with(&[target, probe, "failure"])
                .observe(response);
            self.probe_success.with(&tp).set(0.0);
        }
        self.schedule_lag
            .with(&tp)
            .observe(rec.schedule_lag().max(0.0));
        for field in &rec.parse_issues {
            self.parse_errors.with(&[target, field]).inc();
        }
    }

    /// Counts a probe that was not sent.
    pub fn skip(&self, target: &str, probe: &str, reason: &str) {
        self.skipped.with(&[target, probe, reason]).inc();
    }

    fn target_families(&self) -> Vec<&dyn TargetSeries> {
        vec![
            &self.requests,
            &self.failures,
            &self.http_responses,
            &self.request_duration,
            &self.generation_duration,
            &self.queue_wait,
            &self.schedule_lag,
            &self.in_flight,
            &self.skipped,
            &self.probe_success,
            &self.last_success,
            &self.burst_running,
            &self.burst_throughput,
            &self.burst_success_ratio,
            &self.burst_response,
            &self.burst_end,
            &self.target_up,
            &self.target_ready,
            &self.target_info,
            &self.target_gpus,
            &self.gpu_info,
            &self.gpu_total,
            &self.gpu_allocated,
            &self.gpu_free,
            &self.vram_used,
            &self.system_memory_used,
            &self.system_memory_total,
            &self.queue_depth,
            &self.queue_capacity,
            &self.active_requests,
            &self.max_concurrent,
            &self.scrape_success,
            &self.scrape_duration,
            &self.scrape_success_time,
            &self.parse_errors,
        ]
    }

    /// Removes every series of a target (it left the configuration).
    pub fn remove_target(&self, target: &str) {
        for f in self.target_families() {
            f.remove_all(target);
        }
        let mut map = self
            .target_labels
            .labels
            .write()
            .unwrap_or_else(|e| e.into_inner());
        map.remove(target);
    }

    /// Removes every series of one probe of a target (a burst that left the configuration).
    pub fn remove_probe(&self, target: &str, probe: &str) {
        for f in self.target_families() {
            f.remove_probe(target, probe);
        }
    }
}

/// Removal by target over families of any kind.
trait TargetSeries {
    fn remove_all(&self, target: &str);
    fn remove_probe(&self, target: &str, probe: &str);
}

impl<V: LabelledVec> TargetSeries for Family<V> {
    fn remove_all(&self, target: &str) {
        self.remove_target(target);
    }
    fn remove_probe(&self, target: &str, probe: &str) {
        if self.def.labels.get(1) == Some(&"probe") {
            self.remove_where(target, |l| l.get(1).map(String::as_str) == Some(probe));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::ProbeMode;

    fn record(outcome: Outcome, intended: f64, sent: f64, done: f64) -> ProbeRecord {
        ProbeRecord {
            seq: 0,
            warmup: false,
            mode: ProbeMode::Generate,
            intended,
            sent,
            first_byte: Some(done),
            done,
            outcome,
            http_status: Some(if outcome.is_success() { 200 } else { 500 }),
            error: None,
            generation_time: outcome.is_success().then_some(1.0),
            vram_bytes: None,
            vram_raw: None,
            bytes_received: 10,
            width: 512,
            height: 512,
            steps: 10,
            server_request_id: None,
            server_queue_wait: None,
            server_service_time: None,
            parse_issues: vec!["generation_time".to_string()],
        }
    }

    /// Value of a series in the text exposition, found by an independent parse of the text.
    fn sample(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    }

    #[test]
    fn every_listed_metric_is_registered_once() {
        let metrics = Metrics::new(crate::serve::config::DEFAULT_BUCKETS).unwrap();
        let mut names: Vec<&str> = metrics.registered_names().to_vec();
        names.sort();
        let mut listed: Vec<&str> = m::METRICS.iter().map(|d| d.name).collect();
        listed.sort();
        assert_eq!(names, listed);
        // Two registries in one process do not collide.
        let other = Metrics::new(&[1.0, 2.0]).unwrap();
        other.config_loaded(true);
        assert!(metrics.render().contains("fluxprobe_build_info{"));
    }

    #[test]
    fn a_probe_is_counted_and_failure_reasons_start_at_zero() {
        let metrics = Metrics::new(&[0.5, 1.0, 5.0]).unwrap();
        metrics.init_target("a", &[("trickle".to_string(), SKIP_MAX_IN_FLIGHT)]);
        let clock = Clock::new();
        metrics.observe(
            "a",
            "trickle",
            &record(Outcome::Success, 0.0, 0.1, 2.0),
            &clock,
        );
        metrics.observe(
            "a",
            "trickle",
            &record(Outcome::Timeout, 1.0, 1.0, 1.4),
            &clock,
        );
        let text = metrics.render();
        assert_eq!(
            sample(
                &text,
                "fluxprobe_requests_total{probe=\"trickle\",target=\"a\"}"
            ),
            Some(2.0)
        );
        assert_eq!(
            sample(
                &text,
                "fluxprobe_request_failures_total{probe=\"trickle\",reason=\"timeout\",target=\"a\"}"
            ),
            Some(1.0)
        );
        assert_eq!(
            sample(
                &text,
                "fluxprobe_request_failures_total{probe=\"trickle\",reason=\"connect\",target=\"a\"}"
            ),
            Some(0.0)
        );
        // Response time = done - intended: 2.0 s for the success, in the 5 s bucket only.
        assert_eq!(
            sample(
                &text,
                "fluxprobe_request_duration_seconds_bucket{outcome=\"success\",probe=\"trickle\",target=\"a\",le=\"1\"}"
            ),
            Some(0.0)
        );
        assert_eq!(
            sample(
                &text,
                "fluxprobe_request_duration_seconds_bucket{outcome=\"success\",probe=\"trickle\",target=\"a\",le=\"5\"}"
            ),
            Some(1.0)
        );
        assert_eq!(
            sample(
                &text,
                "fluxprobe_probe_success{probe=\"trickle\",target=\"a\"}"
            ),
            Some(0.0)
        );
        assert_eq!(
            sample(
                &text,
                "fluxprobe_target_parse_errors_total{field=\"generation_time\",target=\"a\"}"
            ),
            Some(2.0)
        );
        assert_eq!(
            sample(
                &text,
                "fluxprobe_probes_skipped_total{probe=\"trickle\",reason=\"max_in_flight\",target=\"a\"}"
            ),
            Some(0.0)
        );
    }

    #[test]
    fn removing_a_target_or_a_probe_removes_its_series_only() {
        let metrics = Metrics::new(&[1.0]).unwrap();
        let clock = Clock::new();
        for t in ["a", "b"] {
            metrics.init_target(
                t,
                &[
                    ("trickle".to_string(), SKIP_MAX_IN_FLIGHT),
                    ("hourly".to_string(), SKIP_OVERLAP),
                ],
            );
            metrics.observe(
                t,
                "trickle",
                &record(Outcome::Success, 0.0, 0.0, 0.5),
                &clock,
            );
            metrics.observe(
                t,
                "hourly",
                &record(Outcome::Success, 0.0, 0.0, 0.5),
                &clock,
            );
            metrics.gpu_total.with(&[t, "0"]).set(1.0);
            metrics.set_target_labels(t, &BTreeMap::from([("site".to_string(), "x".to_string())]));
        }
        metrics.remove_probe("b", "hourly");
        metrics.remove_target("a");
        let text = metrics.render();
        assert!(!text.contains("target=\"a\""), "{text}");
        assert!(
            text.contains("fluxprobe_target_labels{target=\"b\",site=\"x\"} 1"),
            "{text}"
        );
        assert!(text.contains("probe=\"trickle\",target=\"b\""));
        assert!(!text.contains("probe=\"hourly\""), "{text}");
        assert!(text.contains("fluxprobe_target_gpu_memory_total_bytes{gpu=\"0\",target=\"b\"} 1"));
    }

    #[test]
    fn untrusted_label_values_are_cleaned() {
        assert_eq!(
            sanitize_label_value(" NVIDIA\u{0}\n RTX 5090 "),
            "NVIDIA RTX 5090"
        );
        assert_eq!(
            sanitize_label_value(&"x".repeat(200)).len(),
            MAX_LABEL_CHARS
        );
        assert_eq!(sanitize_label_value("Grafik\u{e4}"), "Grafik");
    }
}
