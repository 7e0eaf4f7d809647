//! Panel 4: throughput over time — successes completed per second in a sliding window, failures
//! per second in the same window when there are any, and the cumulative average (successes so
//! far ÷ time so far), which ends at the run's throughput.

use super::PlotError;
use super::labels::{Labels, tick, tick_decimals};
use super::series::{PhaseSeries, throughput};
use super::style::{self, FAILURE, MEAN, SUCCESS, Theme, drawing};
use plotters::chart::SeriesLabelPosition;
use plotters::coord::Shift;
use plotters::prelude::*;

pub(super) fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    s: &PhaseSeries,
    labels: &Labels,
    theme: &Theme,
) -> Result<(), PlotError> {
    let caption = labels.throughput_caption();
    if s.bars.is_empty() {
        return style::empty_panel(area, theme, caption, labels.no_records());
    }
    let (ok, failed) = s.completions();
    let Some(t) = throughput(&ok, &failed, s.span) else {
        return style::empty_panel(area, theme, caption, labels.too_short());
    };
    let highest = t
        .success_rate
        .iter()
        .chain(&t.failure_rate)
        .chain(&t.cumulative)
        .map(|p| p.1)
        .fold(0.0, f64::max);
    let y_hi = if highest > 0.0 { highest * 1.45 } else { 1.0 };

    let mut chart = style::chart(area, theme, caption, 0.0..s.span, 0.0..y_hi)?;
    let (x_decimals, y_decimals) = (tick_decimals(s.span), tick_decimals(y_hi));
    let x_fmt = |v: &f64| tick(*v, x_decimals);
    let y_fmt = |v: &f64| tick(*v, y_decimals);
    style::mesh(
        &mut chart,
        theme,
        labels.x_elapsed(),
        labels.y_rate(),
        &x_fmt,
        &y_fmt,
    )?;

    let ok_style = SUCCESS.stroke_width(3);
    chart
        .draw_series(LineSeries::new(t.success_rate.iter().copied(), ok_style))
        .map_err(drawing)?
        .label(labels.rate_success(t.window))
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], ok_style));
    if s.failures > 0 {
        let failed_style = FAILURE.stroke_width(2);
        chart
            .draw_series(LineSeries::new(
                t.failure_rate.iter().copied(),
                failed_style,
            ))
            .map_err(drawing)?
            .label(labels.rate_failure())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], failed_style));
    }
    let cumulative_style = MEAN.stroke_width(3);
    chart
        .draw_series(DashedLineSeries::new(
            t.cumulative.iter().copied(),
            10,
            6,
            cumulative_style,
        ))
        .map_err(drawing)?
        .label(labels.rate_cumulative(t.overall))
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], cumulative_style));
    style::legend(&mut chart, theme, SeriesLabelPosition::UpperRight)
}
