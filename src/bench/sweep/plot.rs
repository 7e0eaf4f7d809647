//! The sweep chart: throughput and goodput (top) and p50/p95/p99 response time (bottom; p90 too
//! when an objective is on it)
//! against offered load — the concurrency of a concurrency sweep, the offered rate of a rate
//! sweep or search (whose concurrency points only measured the saturated throughput and are
//! left to the table). Each point's marker on the throughput line is coloured by its verdict;
//! the knee or the highest passing rate is a dashed vertical line, and the objectives' upper
//! percentile bounds are dashed horizontal lines. Drawn with the bench charts' fonts and style,
//! written by their atomic writer.

use super::Sweep;
use super::point::{Point, Stage};
use super::report::rate_text;
use crate::bench::plot::labels::{tick, tick_decimals};
use crate::bench::plot::style::{
    self, AXIS, BACKGROUND, FAILURE, INK, MEAN, MEDIAN, MUTED, SUBTITLE_SIZE, SUCCESS, TITLE_SIZE,
    Theme, drawing,
};
use crate::bench::plot::{Canvas, PlotError, fonts};
use crate::bench::slo::{Metric, Op, Verdict};
use crate::cli::Lang;
use plotters::chart::SeriesLabelPosition;
use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};
use std::path::Path;

const WIDTH: u32 = 1400;
const TITLE_HEIGHT: u32 = 100;
const PANEL_HEIGHT: u32 = 520;
const PASS_COLOR: RGBColor = RGBColor(0x2C, 0x9A, 0x4B);
const INCONCLUSIVE_COLOR: RGBColor = RGBColor(0x9C, 0xA3, 0xAF);

pub(crate) use crate::bench::plot::check_path;

/// The points drawn and what their x axis is.
pub(crate) struct Series<'a> {
    pub points: Vec<&'a Point>,
    /// True: x is the offered rate; false: the concurrency.
    pub by_rate: bool,
}

/// The rate points when there are any (sorted by rate), else the concurrency points.
pub(crate) fn series(s: &Sweep) -> Series<'_> {
    let mut rates: Vec<&Point> = s
        .points
        .iter()
        .filter(|p| matches!(p.stage, Stage::Rate | Stage::Search))
        .collect();
    if rates.is_empty() {
        return Series {
            points: s.points.iter().collect(),
            by_rate: false,
        };
    }
    rates.sort_by(|a, b| a.offered.value().total_cmp(&b.offered.value()));
    Series {
        points: rates,
        by_rate: true,
    }
}

struct Chart<'a> {
    sweep: &'a Sweep,
    series: Series<'a>,
    theme: Theme,
}

fn verdict_color(p: &Point) -> RGBColor {
    match p.verdict() {
        Some(Verdict::Pass) => PASS_COLOR,
        Some(Verdict::Fail) => FAILURE,
        Some(Verdict::Inconclusive) => INCONCLUSIVE_COLOR,
        None => SUCCESS,
    }
}

impl Chart<'_> {
    fn x_range(&self) -> (f64, f64) {
        let hi = self
            .series
            .points
            .iter()
            .map(|p| p.offered.value())
            .fold(0.0, f64::max);
        (0.0, if hi > 0.0 { hi * 1.08 } else { 1.0 })
    }

    fn x_desc(&self) -> &'static str {
        if self.series.by_rate {
            "offered rate (requests/s)"
        } else {
            "concurrency (requests in flight)"
        }
    }

    /// Where the dashed vertical line goes, and its label.
    fn marker(&self) -> Option<(f64, String)> {
        if self.series.by_rate {
            let o = self.sweep.search.as_ref()?;
            o.max_rate
                .map(|r| (r, format!("highest PASS {}/s", rate_text(r))))
        } else {
            let k = self.sweep.knee.as_ref()?;
            Some((
                f64::from(k.concurrency),
                format!("knee C = {}", k.concurrency),
            ))
        }
    }

    fn draw_title<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
    ) -> Result<(), PlotError> {
        let (w, _) = area.dim_in_pixel();
        let center = (w / 2) as i32;
        let room = w.saturating_sub(48);
        let title = format!(
            "fluxprobe sweep ({}) — throughput and response time against offered load",
            self.sweep.plan.kind.name().replace('_', "-")
        );
        let size = style::fitting_size(area, &self.theme, &title, TITLE_SIZE, room)?;
        area.draw(&Text::new(
            title,
            (center, 16),
            self.theme.anchored(size, INK, HPos::Center, VPos::Top),
        ))
        .map_err(drawing)?;
        let mut sub = format!(
            "{} · {} points",
            self.sweep.config.url,
            self.sweep.points.len()
        );
        if let Some(o) = &self.sweep.objectives_text {
            sub.push_str(&format!(" · objectives {o}"));
        }
        if self.sweep.interrupted {
            sub.push_str(" · INTERRUPTED");
        }
        let size = style::fitting_size(area, &self.theme, &sub, SUBTITLE_SIZE, room)?;
        area.draw(&Text::new(
            sub,
            (center, 62),
            self.theme.anchored(size, MUTED, HPos::Center, VPos::Top),
        ))
        .map_err(drawing)?;
        Ok(())
    }

    fn vertical<DB: DrawingBackend>(
        &self,
        chart: &mut style::Chart<'_, DB, RangedCoordf64, RangedCoordf64>,
        y_hi: f64,
    ) -> Result<(), PlotError> {
        if let Some((x, label)) = self.marker() {
            let st = MUTED.stroke_width(2);
            chart
                .draw_series(DashedLineSeries::new([(x, 0.0), (x, y_hi)], 8, 6, st))
                .map_err(drawing)?
                .label(label)
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], st));
        }
        Ok(())
    }

    fn throughput_panel<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
    ) -> Result<(), PlotError> {
        let caption = "Throughput and goodput";
        let pts = &self.series.points;
        let xy = |f: &dyn Fn(&Point) -> Option<f64>| -> Vec<(f64, f64)> {
            pts.iter()
                .filter_map(|p| f(p).map(|y| (p.offered.value(), y)))
                .collect()
        };
        let thr = xy(&|p| p.summary.throughput_rps);
        let good = xy(&|p| p.goodput_rps);
        if thr.is_empty() {
            return style::empty_panel(area, &self.theme, caption, "no point measured");
        }
        let (x_lo, x_hi) = self.x_range();
        let mut highest = thr.iter().chain(&good).map(|p| p.1).fold(0.0, f64::max);
        if self.series.by_rate {
            highest = highest.max(x_hi / 1.08);
        }
        let y_hi = if highest > 0.0 { highest * 1.35 } else { 1.0 };
        let mut chart = style::chart(area, &self.theme, caption, x_lo..x_hi, 0.0..y_hi)?;
        let (xd, yd) = (tick_decimals(x_hi), tick_decimals(y_hi));
        style::mesh(
            &mut chart,
            &self.theme,
            self.x_desc(),
            "requests/s",
            &|v: &f64| tick(*v, xd),
            &|v: &f64| tick(*v, yd),
        )?;
        if self.series.by_rate {
            let st = AXIS.stroke_width(1);
            let top = x_hi / 1.08;
            chart
                .draw_series(DashedLineSeries::new([(0.0, 0.0), (top, top)], 6, 6, st))
                .map_err(drawing)?
                .label("offered = served")
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], st));
        }
        let st = SUCCESS.stroke_width(3);
        chart
            .draw_series(LineSeries::new(thr.iter().copied(), st))
            .map_err(drawing)?
            .label("throughput (successes/s)")
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], st));
        if !good.is_empty() {
            let gst = MEDIAN.stroke_width(3);
            chart
                .draw_series(DashedLineSeries::new(good.iter().copied(), 10, 6, gst))
                .map_err(drawing)?
                .label("goodput (met every objective)/s")
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], gst));
        }
        chart
            .draw_series(pts.iter().filter_map(|p| {
                p.summary
                    .throughput_rps
                    .map(|y| Circle::new((p.offered.value(), y), 7, verdict_color(p).filled()))
            }))
            .map_err(drawing)?;
        if pts.iter().any(|p| p.verdict().is_some()) {
            for (v, color) in [
                (Verdict::Pass, PASS_COLOR),
                (Verdict::Fail, FAILURE),
                (Verdict::Inconclusive, INCONCLUSIVE_COLOR),
            ] {
                if !pts.iter().any(|p| p.verdict() == Some(v)) {
                    continue;
                }
                let name = v.as_str();
                chart
                    .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())
                    .map_err(drawing)?
                    .label(format!("verdict {name}"))
                    .legend(move |(x, y)| Circle::new((x + 9, y), 6, color.filled()));
            }
        }
        self.vertical(&mut chart, y_hi)?;
        style::legend(&mut chart, &self.theme, SeriesLabelPosition::UpperLeft)
    }

    fn latency_panel<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
    ) -> Result<(), PlotError> {
        let caption = "Response time (successes)";
        let pts = &self.series.points;
        let line = |name: &str| -> Vec<(f64, f64)> {
            pts.iter()
                .filter_map(|p| {
                    let rt = &p.summary.response_time;
                    let v = match name {
                        "p50" => rt.p50,
                        "p90" => rt.p90,
                        "p95" => rt.p95,
                        _ => rt.p99,
                    };
                    v.map(|y| (p.offered.value(), y))
                })
                .collect()
        };
        // An objective on p90 gets its own line, so that its bound is read against its own
        // percentile (p95 crossing a p90 bound is not a miss).
        let on_p90 = self
            .sweep
            .objectives
            .iter()
            .flat_map(|o| o.clauses.iter())
            .any(|c| matches!(c.metric, Metric::Percentile(q) if (q - 90.0).abs() < 1e-9));
        let mut lines = vec![("p50", line("p50"), MEDIAN)];
        if on_p90 {
            lines.push(("p90", line("p90"), SUCCESS));
        }
        lines.push(("p95", line("p95"), MEAN));
        lines.push(("p99", line("p99"), FAILURE));
        let bounds: Vec<(String, f64)> = self
            .sweep
            .objectives
            .iter()
            .flat_map(|o| o.clauses.iter())
            .filter(|c| {
                matches!(c.metric, Metric::Percentile(_)) && matches!(c.op, Op::Lt | Op::Le)
            })
            .map(|c| (c.text.clone(), c.threshold))
            .collect();
        let highest = lines
            .iter()
            .flat_map(|(_, v, _)| v.iter().map(|p| p.1))
            .chain(bounds.iter().map(|b| b.1))
            .fold(0.0, f64::max);
        if highest <= 0.0 {
            return style::empty_panel(
                area,
                &self.theme,
                caption,
                "too few successes to claim a percentile",
            );
        }
        let (x_lo, x_hi) = self.x_range();
        let y_hi = highest * 1.3;
        let mut chart = style::chart(area, &self.theme, caption, x_lo..x_hi, 0.0..y_hi)?;
        let (xd, yd) = (tick_decimals(x_hi), tick_decimals(y_hi));
        style::mesh(
            &mut chart,
            &self.theme,
            self.x_desc(),
            "seconds",
            &|v: &f64| tick(*v, xd),
            &|v: &f64| tick(*v, yd),
        )?;
        for (name, values, color) in &lines {
            if values.is_empty() {
                continue;
            }
            let st = color.stroke_width(3);
            chart
                .draw_series(LineSeries::new(values.iter().copied(), st))
                .map_err(drawing)?
                .label(*name)
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], st));
            let c = *color;
            chart
                .draw_series(values.iter().map(|&p| Circle::new(p, 5, c.filled())))
                .map_err(drawing)?;
        }
        for (text, t) in &bounds {
            let st = INK.stroke_width(1);
            chart
                .draw_series(DashedLineSeries::new([(x_lo, *t), (x_hi, *t)], 4, 4, st))
                .map_err(drawing)?
                .label(format!("objective {text}"))
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], st));
        }
        self.vertical(&mut chart, y_hi)?;
        style::legend(&mut chart, &self.theme, SeriesLabelPosition::UpperLeft)
    }
}

impl Canvas for Chart<'_> {
    fn size(&self) -> (u32, u32) {
        (WIDTH, TITLE_HEIGHT + 2 * PANEL_HEIGHT)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError> {
        root.fill(&BACKGROUND).map_err(drawing)?;
        let (title, rest) = root.split_vertically(TITLE_HEIGHT);
        self.draw_title(&title)?;
        let (top, bottom) = rest.split_vertically(PANEL_HEIGHT);
        self.throughput_panel(&top)?;
        self.latency_panel(&bottom)
    }
}

/// Draws the sweep chart to `path` (.png or .svg), atomically.
pub fn render(sweep: &Sweep, path: &Path) -> Result<(), PlotError> {
    check_path(path)?;
    let fonts = fonts::select(Lang::En)?;
    let chart = Chart {
        sweep,
        series: series(sweep),
        theme: Theme {
            family: fonts.family,
        },
    };
    crate::bench::plot::write(&chart, path)
}
