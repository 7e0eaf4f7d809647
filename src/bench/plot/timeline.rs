//! Panel 3: the request timeline. One row per measured request in start order (first at the
//! top), a bar from its send to its end — successes blue, failures red with their reason — and,
//! where the schedule wanted it sent earlier (open loop), a grey lead-in from the intended send
//! marked by a hollow circle. On a crowded timeline (more than 40 rows) each failure also gets
//! a red cross where it ended, and its reason is in the legend only.

use super::PlotError;
use super::labels::{Labels, tick, tick_decimals};
use super::series::{Bar, LAG_VISIBLE_SECONDS, PhaseSeries};
use super::style::{self, BAR_LABEL_SIZE, FAILURE, LAG, SUCCESS, Theme, drawing};
use plotters::chart::SeriesLabelPosition;
use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

/// Above this many rows the failure reasons are only in the legend (labels would overlap).
const MAX_LABELLED_ROWS: usize = 40;
/// Share of the time axis a failure label needs beside its bar.
const REASON_ROOM: f64 = 0.14;
/// Half the height of a bar, in rows.
const HALF_BAR: f64 = 0.36;

pub(super) fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    s: &PhaseSeries,
    labels: &Labels,
    theme: &Theme,
) -> Result<(), PlotError> {
    let caption = labels.timeline_caption();
    if s.bars.is_empty() {
        return style::empty_panel(area, theme, caption, labels.no_records());
    }
    let n = s.bars.len();
    let x_hi = if s.span > 0.0 { s.span * 1.03 } else { 1e-3 };
    // Row i (0-based, start order) is drawn at y = −(i + 1): the first request on top, and the
    // axis ticks fall on round request numbers.
    let row_y = |i: usize| -((i + 1) as f64);
    let y_lo = -(n as f64) - 0.6;
    // Room above the first row for the legend.
    let y_hi = -0.4 + (n as f64 * 0.18).max(2.2);

    let mut chart = style::chart(area, theme, caption, 0.0..x_hi, y_lo..y_hi)?;
    let x_decimals = tick_decimals(x_hi);
    let x_fmt = |v: &f64| tick(*v, x_decimals);
    let y_fmt = |v: &f64| {
        let k = -v.round();
        if (v.round() - v).abs() < 1e-6 && k >= 1.0 && k <= n as f64 {
            format!("{k}")
        } else {
            String::new()
        }
    };
    style::mesh(
        &mut chart,
        theme,
        labels.x_elapsed(),
        labels.y_request(),
        &x_fmt,
        &y_fmt,
    )?;

    let lagged: Vec<(usize, &Bar)> = s
        .bars
        .iter()
        .enumerate()
        .filter(|(_, b)| b.lag() >= LAG_VISIBLE_SECONDS)
        .collect();
    // Crowded timelines get smaller markers.
    let dense = n > MAX_LABELLED_ROWS;
    let marker = if dense { 2 } else { 4 };
    if !lagged.is_empty() {
        let lag_style = LAG.stroke_width(if dense { 1 } else { 2 });
        chart
            .draw_series(lagged.iter().map(|&(i, b)| {
                PathElement::new([(b.intended, row_y(i)), (b.sent, row_y(i))], lag_style)
            }))
            .map_err(drawing)?
            .label(labels.schedule_lag(lagged.len()))
            .legend(move |(x, y)| {
                EmptyElement::at((x, y))
                    + PathElement::new([(0, 0), (18, 0)], lag_style)
                    + Circle::new((0, 0), 4, LAG.stroke_width(2))
            });
        chart
            .draw_series(
                lagged
                    .iter()
                    .map(|&(i, b)| Circle::new((b.intended, row_y(i)), marker, lag_style)),
            )
            .map_err(drawing)?;
    }

    let rect = |i: usize, b: &Bar, color: RGBColor| {
        let y = row_y(i);
        Rectangle::new(
            [(b.sent, y - HALF_BAR), (b.done, y + HALF_BAR)],
            color.filled(),
        )
    };
    if s.successes > 0 {
        let ok = s
            .bars
            .iter()
            .enumerate()
            .filter(|(_, b)| b.outcome.is_success());
        chart
            .draw_series(ok.map(|(i, b)| rect(i, b, SUCCESS)))
            .map_err(drawing)?
            .label(labels.bar_success(s.successes))
            .legend(|(x, y)| Rectangle::new([(x, y - 7), (x + 18, y + 7)], SUCCESS.filled()));
    }
    if s.failures > 0 {
        let failed = s
            .bars
            .iter()
            .enumerate()
            .filter(|(_, b)| !b.outcome.is_success());
        chart
            .draw_series(failed.map(|(i, b)| rect(i, b, FAILURE)))
            .map_err(drawing)?
            .label(labels.bar_failure(&s.reasons_text()))
            .legend(|(x, y)| Rectangle::new([(x, y - 7), (x + 18, y + 7)], FAILURE.filled()));
        if dense {
            // Bars a pixel high would hide failures: mark where each one ended.
            let failed = s
                .bars
                .iter()
                .enumerate()
                .filter(|(_, b)| !b.outcome.is_success());
            chart
                .draw_series(
                    failed.map(|(i, b)| Cross::new((b.done, row_y(i)), 5, FAILURE.stroke_width(2))),
                )
                .map_err(drawing)?;
        } else {
            draw_reasons(&mut chart, s, x_hi, theme, row_y)?;
        }
    }
    style::legend(&mut chart, theme, SeriesLabelPosition::UpperRight)
}

/// Writes each failure's reason beside its bar: after it when there is room, else before it,
/// else inside it in white.
fn draw_reasons<DB: DrawingBackend>(
    chart: &mut style::Chart<'_, DB, RangedCoordf64, RangedCoordf64>,
    s: &PhaseSeries,
    x_hi: f64,
    theme: &Theme,
    row_y: impl Fn(usize) -> f64,
) -> Result<(), PlotError> {
    let after = theme.anchored(BAR_LABEL_SIZE, FAILURE, HPos::Left, VPos::Center);
    let before = theme.anchored(BAR_LABEL_SIZE, FAILURE, HPos::Right, VPos::Center);
    let inside = theme.anchored(BAR_LABEL_SIZE, WHITE, HPos::Left, VPos::Center);
    // Room a label needs, as a share of the axis (the panel is ~700 px wide).
    let room = x_hi * REASON_ROOM;
    let texts = s
        .bars
        .iter()
        .enumerate()
        .filter(|(_, b)| !b.outcome.is_success())
        .map(|(i, b)| {
            let text = b.outcome.as_str();
            let start = b.intended.min(b.sent);
            let y = row_y(i);
            if x_hi - b.done >= room {
                EmptyElement::at((b.done, y)) + Text::new(text, (6, 0), after.clone())
            } else if start >= room {
                EmptyElement::at((start, y)) + Text::new(text, (-8, 0), before.clone())
            } else {
                EmptyElement::at((b.sent, y)) + Text::new(text, (6, 0), inside.clone())
            }
        });
    chart.draw_series(texts).map_err(drawing)?;
    Ok(())
}
