//! Every piece of text the bench charts print, in English and Chinese. Outcome names stay the
//! fixed label values of `outcome.rs` in both languages (they are what the JSON and the metrics
//! say, so a reader can search for them).

use crate::bench::model::Load;

/// The language the chart text is drawn in (Chinese only when a CJK font was found).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChartLang {
    En,
    Zh,
}

/// The chart texts of one language.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Labels {
    pub lang: ChartLang,
}

impl Labels {
    pub fn new(lang: ChartLang) -> Labels {
        Labels { lang }
    }

    fn pick(&self, en: &'static str, zh: &'static str) -> &'static str {
        match self.lang {
            ChartLang::En => en,
            ChartLang::Zh => zh,
        }
    }

    /// "10 requests, 3 concurrent" or "2 req/s for 60 s (open loop)".
    pub fn load(&self, load: &Load) -> String {
        match (self.lang, load) {
            (
                ChartLang::En,
                Load::Closed {
                    requests,
                    concurrency,
                },
            ) => {
                let noun = if *requests == 1 {
                    "request"
                } else {
                    "requests"
                };
                format!("{requests} {noun}, {concurrency} concurrent")
            }
            (
                ChartLang::Zh,
                Load::Closed {
                    requests,
                    concurrency,
                },
            ) => {
                format!("{requests} 个请求, 并发 {concurrency}")
            }
            (
                ChartLang::En,
                Load::Open {
                    rate,
                    duration_seconds,
                    ..
                },
            ) => format!(
                "{} req/s for {} s (open loop)",
                short_number(*rate),
                short_number(*duration_seconds)
            ),
            (
                ChartLang::Zh,
                Load::Open {
                    rate,
                    duration_seconds,
                    ..
                },
            ) => format!(
                "{} 请求/秒, 持续 {} 秒 (开环)",
                short_number(*rate),
                short_number(*duration_seconds)
            ),
        }
    }

    /// Header of one phase: its mode.
    pub fn phase(&self, mode: crate::probe::ProbeMode) -> &'static str {
        match mode {
            crate::probe::ProbeMode::Generate => self.pick(
                "concurrent test (POST /generate)",
                "并发测试 (POST /generate)",
            ),
            crate::probe::ProbeMode::Queue => self.pick(
                "queue test (/submit-request + polling)",
                "队列测试 (/submit-request + 轮询)",
            ),
        }
    }

    /// "run started 2025-08-20 09:19:44 +08:00".
    pub fn started(&self, when: &str) -> String {
        match self.lang {
            ChartLang::En => format!("run started {when}"),
            ChartLang::Zh => format!("开始于 {when}"),
        }
    }

    /// "20 measured: 18 succeeded, 2 failed".
    pub fn counts(&self, measured: usize, ok: usize, failed: usize) -> String {
        match self.lang {
            ChartLang::En => format!("{measured} measured: {ok} succeeded, {failed} failed"),
            ChartLang::Zh => format!("{measured} 个计入统计: {ok} 成功, {failed} 失败"),
        }
    }

    /// "2 warm-up requests not shown".
    pub fn warmup_hidden(&self, n: usize) -> String {
        match self.lang {
            ChartLang::En => format!("{n} warm-up not shown"),
            ChartLang::Zh => format!("{n} 个预热请求未显示"),
        }
    }

    /// Records whose timestamps were not finite numbers.
    pub fn unusable(&self, n: usize) -> String {
        match self.lang {
            ChartLang::En => format!("{n} with unusable timestamps not drawn"),
            ChartLang::Zh => format!("{n} 个时间戳无效, 未绘制"),
        }
    }

    /// "interrupted".
    pub fn interrupted(&self) -> &'static str {
        self.pick("interrupted (Ctrl-C)", "已中断 (Ctrl-C)")
    }

    pub fn response_caption(&self) -> &'static str {
        self.pick("Response time distribution", "响应时间分布")
    }
    pub fn generation_caption(&self) -> &'static str {
        self.pick("Server generation time distribution", "生成时间分布")
    }
    pub fn timeline_caption(&self) -> &'static str {
        self.pick("Request timeline", "请求时间线")
    }
    pub fn throughput_caption(&self) -> &'static str {
        self.pick("Throughput over time", "实时吞吐量")
    }

    /// Axis of the response-time histogram, in seconds or milliseconds.
    pub fn x_response(&self, ms: bool) -> &'static str {
        match ms {
            false => self.pick("response time, done − intended send (s)", "响应时间 (秒)"),
            true => self.pick(
                "response time, done − intended send (ms)",
                "响应时间 (毫秒)",
            ),
        }
    }
    /// Axis of the generation-time histogram, in seconds or milliseconds.
    pub fn x_generation(&self, ms: bool) -> &'static str {
        match ms {
            false => self.pick(
                "server-reported generation time (s)",
                "服务器报告的生成时间 (秒)",
            ),
            true => self.pick(
                "server-reported generation time (ms)",
                "服务器报告的生成时间 (毫秒)",
            ),
        }
    }
    pub fn y_count(&self) -> &'static str {
        self.pick("requests", "请求数")
    }
    pub fn x_elapsed(&self) -> &'static str {
        self.pick(
            "time since first intended send (s)",
            "自首个计划发送起的时间 (秒)",
        )
    }
    pub fn y_request(&self) -> &'static str {
        self.pick("request # (start order)", "请求序号 (按开始顺序)")
    }
    pub fn y_rate(&self) -> &'static str {
        self.pick("requests / s", "请求/秒")
    }

    /// Legend of the mean line.
    pub fn mean(&self, v: f64) -> String {
        match self.lang {
            ChartLang::En => format!("mean {}", self.duration(v)),
            ChartLang::Zh => format!("平均 {}", self.duration(v)),
        }
    }
    /// Legend of the median line.
    pub fn median(&self, v: f64) -> String {
        match self.lang {
            ChartLang::En => format!("median {}", self.duration(v)),
            ChartLang::Zh => format!("中位数 {}", self.duration(v)),
        }
    }
    /// Legend of the histogram bars.
    pub fn successes(&self, n: usize) -> String {
        match self.lang {
            ChartLang::En => format!("successes (n = {n})"),
            ChartLang::Zh => format!("成功请求 (n = {n})"),
        }
    }
    /// Why failures are missing from a histogram.
    pub fn failures_excluded(&self, n: usize) -> String {
        match self.lang {
            ChartLang::En => format!("{n} failed requests not in this histogram (see timeline)"),
            ChartLang::Zh => format!("{n} 个失败请求不计入此图 (见时间线)"),
        }
    }
    /// Successes that did not report a generation time.
    pub fn generation_missing(&self, n: usize) -> String {
        match self.lang {
            ChartLang::En => format!("{n} successes reported no generation time"),
            ChartLang::Zh => format!("{n} 个成功请求未报告生成时间"),
        }
    }

    pub fn no_records(&self) -> &'static str {
        self.pick("no measured requests", "没有计入统计的请求")
    }
    pub fn no_successes(&self) -> &'static str {
        self.pick("no successful requests", "没有成功的请求")
    }
    pub fn no_generation(&self) -> &'static str {
        self.pick("no generation times reported", "服务器未报告生成时间")
    }
    pub fn no_phases(&self) -> &'static str {
        self.pick("no test phase ran", "没有运行任何测试")
    }

    /// Timeline legend: successful requests.
    pub fn bar_success(&self, n: usize) -> String {
        match self.lang {
            ChartLang::En => format!("success ({n})"),
            ChartLang::Zh => format!("成功 ({n})"),
        }
    }
    /// Timeline legend: failed requests, with their reasons.
    pub fn bar_failure(&self, reasons: &str) -> String {
        match self.lang {
            ChartLang::En => format!("failed: {reasons}"),
            ChartLang::Zh => format!("失败: {reasons}"),
        }
    }
    /// Timeline legend: the wait between the intended and the actual send.
    pub fn schedule_lag(&self, n: usize) -> String {
        match self.lang {
            ChartLang::En => format!("intended send → actual send ({n} late)"),
            ChartLang::Zh => format!("计划发送 → 实际发送 ({n} 个延迟)"),
        }
    }

    /// Throughput legend: the sliding window rate of successes.
    pub fn rate_success(&self, window: f64) -> String {
        match self.lang {
            ChartLang::En => format!("successes / s ({} sliding window)", self.duration(window)),
            ChartLang::Zh => format!("成功请求/秒 ({}滑动窗口)", self.duration(window)),
        }
    }
    /// Throughput legend: the sliding window rate of failures.
    pub fn rate_failure(&self) -> &'static str {
        self.pick("failures / s (same window)", "失败请求/秒 (同一窗口)")
    }
    /// Throughput legend: the cumulative average.
    pub fn rate_cumulative(&self, overall: f64) -> String {
        match self.lang {
            ChartLang::En => format!("cumulative average (ends at {} req/s)", rate(overall)),
            ChartLang::Zh => format!("累计平均 (最终 {} 请求/秒)", rate(overall)),
        }
    }
    /// A duration with its unit: seconds from 1 s up, milliseconds below ("13.45 s", "15.8 ms").
    pub fn duration(&self, v: f64) -> String {
        let (value, unit) = if v.abs() >= 1.0 || v == 0.0 {
            (seconds(v), self.pick("s", "秒"))
        } else {
            (seconds(v * 1000.0), self.pick("ms", "毫秒"))
        };
        format!("{value} {unit}")
    }

    pub fn too_short(&self) -> &'static str {
        self.pick(
            "run too short to measure a rate",
            "运行时间太短, 无法计算吞吐量",
        )
    }
}

/// A number of seconds (or milliseconds) to four significant digits: 123.5, 13.45, 1.722,
/// 0.1234, 0.004213; zero is "0".
pub(crate) fn seconds(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".to_string()
    } else if a >= 100.0 {
        format!("{v:.1}")
    } else if a >= 10.0 {
        format!("{v:.2}")
    } else if a >= 1.0 {
        format!("{v:.3}")
    } else {
        let decimals = (3.0 - a.log10().floor()).min(9.0) as usize;
        format!("{v:.decimals$}")
    }
}

/// Decimals for the tick labels of an axis spanning `span`: enough for the ~8 ticks drawn.
pub(crate) fn tick_decimals(span: f64) -> usize {
    if !(span.is_finite() && span > 0.0) {
        return 2;
    }
    (-(span / 8.0).log10()).ceil().clamp(0.0, 6.0) as usize
}

/// A tick label with `decimals` decimals ("-0" printed as "0").
pub(crate) fn tick(v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$}");
    if s.starts_with('-') && s[1..].chars().all(|c| c == '0' || c == '.') {
        s[1..].to_string()
    } else {
        s
    }
}

/// A rate (requests per second) with three significant-ish digits.
pub(crate) fn rate(v: f64) -> String {
    if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else if v.abs() >= 0.1 || v == 0.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// A configured number without trailing zeros: 2, 0.5, 1.25.
fn short_number(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_short_and_exact_enough() {
        assert_eq!(seconds(13.4549), "13.45");
        assert_eq!(seconds(1.7224), "1.722");
        assert_eq!(seconds(0.1234), "0.1234");
        assert_eq!(seconds(0.0042134), "0.004213");
        assert_eq!(seconds(0.0), "0");
        assert_eq!(seconds(123.45), "123.5");
        let en = Labels::new(ChartLang::En);
        assert_eq!(en.duration(13.4549), "13.45 s");
        assert_eq!(en.duration(0.01583), "15.83 ms");
        assert_eq!(en.duration(0.2041), "204.1 ms");
        assert_eq!(en.duration(0.0), "0 s");
        assert_eq!(en.duration(0.004213), "4.213 ms");
        assert_eq!(Labels::new(ChartLang::Zh).duration(2.0), "2.000 秒");
        assert_eq!(rate(0.2211), "0.22");
        assert_eq!(rate(12.345), "12.3");
        assert_eq!(rate(0.0456), "0.046");
        assert_eq!(short_number(2.0), "2");
        assert_eq!(short_number(0.5), "0.5");
        assert_eq!(short_number(1.25), "1.25");
    }

    #[test]
    fn tick_labels_follow_the_axis_span() {
        assert_eq!(tick_decimals(22.6), 0);
        assert_eq!(tick_decimals(1.75), 1);
        assert_eq!(tick_decimals(0.37), 2);
        assert_eq!(tick_decimals(0.02), 3); // ticks 0.005 apart
        assert_eq!(tick_decimals(f64::NAN), 2);
        assert_eq!(tick(5.0, 0), "5");
        assert_eq!(tick(0.5, 1), "0.5");
        assert_eq!(tick(-0.001, 1), "0.0");
        assert_eq!(tick(-1.5, 1), "-1.5");
    }

    #[test]
    fn load_texts() {
        let closed = Load::Closed {
            requests: 10,
            concurrency: 3,
        };
        let open = Load::Open {
            rate: 2.0,
            duration_seconds: 60.0,
            max_in_flight: 100,
        };
        let en = Labels::new(ChartLang::En);
        let zh = Labels::new(ChartLang::Zh);
        assert_eq!(en.load(&closed), "10 requests, 3 concurrent");
        assert_eq!(en.load(&open), "2 req/s for 60 s (open loop)");
        assert!(zh.load(&closed).contains("并发 3"));
        assert!(zh.load(&open).contains("开环"));
    }
}
