//! Panels 1 and 2: a distribution of seconds (response times, or server generation times) as an
//! equal-width histogram with its mean (dashed) and median (solid) marked and labelled.

use super::PlotError;
use super::labels::{Labels, tick, tick_decimals};
use super::series::{bins, mean, median};
use super::style::{self, MEAN, MEDIAN, SUCCESS, Theme, drawing};
use plotters::chart::SeriesLabelPosition;
use plotters::coord::Shift;
use plotters::prelude::*;

/// What one histogram panel shows.
pub(super) struct HistogramPanel<'a> {
    pub caption: &'a str,
    /// The axis description, given whether the axis is in milliseconds.
    pub x_desc: fn(&Labels, bool) -> &'static str,
    pub values: &'a [f64],
    /// Shown instead of the chart when there are no values.
    pub empty_note: &'a str,
    /// Lines in the corner (failures left out, values missing), with their colours.
    pub notes: Vec<(String, RGBColor)>,
}

pub(super) fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    panel: &HistogramPanel<'_>,
    labels: &Labels,
    theme: &Theme,
) -> Result<(), PlotError> {
    let values: Vec<f64> = panel
        .values
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    let (Some(b), Some(mean), Some(median)) = (bins(&values), mean(&values), median(&values))
    else {
        return style::empty_panel(area, theme, panel.caption, panel.empty_note);
    };
    let pad = b.width * 0.6;
    let x_lo = if b.start >= 0.0 {
        (b.start - pad).max(0.0)
    } else {
        b.start - pad
    };
    let x_hi = b.end() + pad;
    let top = b.counts.iter().copied().max().unwrap_or(1).max(1);
    // Head room for the legend and the notes above the tallest bar.
    let head = 1.45 + 0.09 * panel.notes.len() as f64;
    let y_hi = ((top as f64 * head).ceil() as u64).max(top + 1);

    let mut chart = style::chart(area, theme, panel.caption, x_lo..x_hi, 0u64..y_hi)?;
    // Sub-second distributions (a fast or simulated server) read better in milliseconds.
    let ms = x_hi.abs().max(x_lo.abs()) < 1.0;
    let scale = if ms { 1000.0 } else { 1.0 };
    let decimals = tick_decimals((x_hi - x_lo) * scale);
    let x_fmt = |v: &f64| tick(*v * scale, decimals);
    let y_fmt = |v: &u64| v.to_string();
    style::mesh(
        &mut chart,
        theme,
        (panel.x_desc)(labels, ms),
        labels.y_count(),
        &x_fmt,
        &y_fmt,
    )?;

    let bar_style = SUCCESS.mix(0.85).filled();
    chart
        .draw_series(
            b.counts
                .iter()
                .enumerate()
                .filter(|(_, c)| **c > 0)
                .map(|(i, c)| {
                    let (l, r) = b.edges(i);
                    Rectangle::new([(l, 0), (r, *c)], bar_style)
                }),
        )
        .map_err(drawing)?
        .label(labels.successes(values.len()))
        .legend(move |(x, y)| Rectangle::new([(x, y - 7), (x + 18, y + 7)], bar_style));
    // Thin white outlines keep neighbouring bars apart.
    chart
        .draw_series(
            b.counts
                .iter()
                .enumerate()
                .filter(|(_, c)| **c > 0)
                .map(|(i, c)| {
                    let (l, r) = b.edges(i);
                    Rectangle::new([(l, 0), (r, *c)], WHITE.stroke_width(1))
                }),
        )
        .map_err(drawing)?;

    let median_style = MEDIAN.stroke_width(3);
    chart
        .draw_series(LineSeries::new(
            [(median, 0u64), (median, y_hi)],
            median_style,
        ))
        .map_err(drawing)?
        .label(labels.median(median))
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], median_style));

    let mean_style = MEAN.stroke_width(3);
    chart
        .draw_series(DashedLineSeries::new(
            [(mean, 0u64), (mean, y_hi)],
            10,
            7,
            mean_style,
        ))
        .map_err(drawing)?
        .label(labels.mean(mean))
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], mean_style));
    style::notes(&chart, theme, &panel.notes)?;
    style::legend(&mut chart, theme, SeriesLabelPosition::UpperRight)
}
