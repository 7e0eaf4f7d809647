//! The look shared by every panel: colours, font sizes, the mesh style, the legend box, and the
//! frame drawn when a panel has nothing to plot.

use super::PlotError;
use plotters::chart::{ChartContext, SeriesLabelPosition};
use plotters::coord::Shift;
use plotters::coord::cartesian::Cartesian2d;
use plotters::coord::ranged1d::{AsRangedCoord, Ranged, ValueFormatter};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

pub(crate) const BACKGROUND: RGBColor = WHITE;
pub(crate) const INK: RGBColor = RGBColor(0x26, 0x2B, 0x33);
pub(crate) const MUTED: RGBColor = RGBColor(0x6B, 0x72, 0x80);
pub(crate) const GRID: RGBColor = RGBColor(0xE5, 0xE7, 0xEB);
pub(crate) const AXIS: RGBColor = RGBColor(0x9C, 0xA3, 0xAF);
pub(crate) const SUCCESS: RGBColor = RGBColor(0x3B, 0x6E, 0xA8);
pub(crate) const FAILURE: RGBColor = RGBColor(0xD6, 0x27, 0x28);
pub(crate) const MEAN: RGBColor = RGBColor(0xE8, 0x7D, 0x0E);
pub(crate) const MEDIAN: RGBColor = RGBColor(0x2C, 0x9A, 0x4B);
pub(crate) const LAG: RGBColor = RGBColor(0x7A, 0x7F, 0x88);

pub(crate) const TITLE_SIZE: f64 = 34.0;
pub(crate) const SUBTITLE_SIZE: f64 = 20.0;
pub(crate) const PHASE_SIZE: f64 = 24.0;
pub(crate) const CAPTION_SIZE: f64 = 25.0;
pub(crate) const AXIS_DESC_SIZE: f64 = 19.0;
pub(crate) const TICK_SIZE: f64 = 16.0;
pub(crate) const LEGEND_SIZE: f64 = 16.0;
pub(crate) const NOTE_SIZE: f64 = 17.0;
pub(crate) const BAR_LABEL_SIZE: f64 = 13.0;

/// The font family of one figure, and text styles made from it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Theme {
    pub family: &'static str,
}

impl Theme {
    pub fn text(&self, size: f64, color: RGBColor) -> TextStyle<'static> {
        (self.family, size).into_font().color(&color)
    }

    /// Text anchored at a given point.
    pub fn anchored(&self, size: f64, color: RGBColor, h: HPos, v: VPos) -> TextStyle<'static> {
        self.text(size, color).pos(Pos::new(h, v))
    }
}

/// The largest font size from `size` down to 12 at which `text` fits in `width` pixels.
pub(crate) fn fitting_size<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    theme: &Theme,
    text: &str,
    size: f64,
    width: u32,
) -> Result<f64, PlotError> {
    let mut size = size;
    while size > 12.0 {
        let (w, _) = area
            .estimate_text_size(text, &theme.text(size, INK))
            .map_err(drawing)?;
        if w <= width {
            break;
        }
        size -= 1.0;
    }
    Ok(size)
}

/// Turns any plotters drawing error into ours.
pub(crate) fn drawing<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> PlotError {
    PlotError::Drawing(e.to_string())
}

/// A 2-D chart on one panel.
pub(crate) type Chart<'a, DB, X, Y> = ChartContext<'a, DB, Cartesian2d<X, Y>>;

/// A panel's chart: caption on top, label areas sized for the fonts above.
pub(crate) fn chart<'a, DB, X, Y>(
    area: &'a DrawingArea<DB, Shift>,
    theme: &Theme,
    caption: &str,
    x: X,
    y: Y,
) -> Result<Chart<'a, DB, X::CoordDescType, Y::CoordDescType>, PlotError>
where
    DB: DrawingBackend,
    X: AsRangedCoord,
    Y: AsRangedCoord,
{
    ChartBuilder::on(area)
        .caption(caption, theme.text(CAPTION_SIZE, INK))
        .margin(14)
        .margin_right(28)
        .x_label_area_size(58)
        .y_label_area_size(78)
        .build_cartesian_2d(x, y)
        .map_err(drawing)
}

/// Grid, axes and their descriptions in the house style.
pub(crate) fn mesh<DB, X, Y>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<X, Y>>,
    theme: &Theme,
    x_desc: &str,
    y_desc: &str,
    x_fmt: &dyn Fn(&X::ValueType) -> String,
    y_fmt: &dyn Fn(&Y::ValueType) -> String,
) -> Result<(), PlotError>
where
    DB: DrawingBackend,
    X: Ranged + ValueFormatter<X::ValueType>,
    Y: Ranged + ValueFormatter<Y::ValueType>,
{
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .axis_desc_style(theme.text(AXIS_DESC_SIZE, INK))
        .label_style(theme.text(TICK_SIZE, MUTED))
        .x_label_formatter(x_fmt)
        .y_label_formatter(y_fmt)
        .x_labels(8)
        .y_labels(8)
        .bold_line_style(GRID.stroke_width(1))
        .light_line_style(BACKGROUND.stroke_width(0))
        .axis_style(AXIS.stroke_width(1))
        .draw()
        .map_err(drawing)
}

/// The legend box, in the house style.
pub(crate) fn legend<'a, DB, CT>(
    chart: &mut ChartContext<'a, DB, CT>,
    theme: &Theme,
    position: SeriesLabelPosition,
) -> Result<(), PlotError>
where
    DB: DrawingBackend + 'a,
    CT: plotters::coord::CoordTranslate,
{
    chart
        .configure_series_labels()
        .position(position)
        .margin(12)
        .legend_area_size(26)
        .label_font(theme.text(LEGEND_SIZE, INK))
        .background_style(BACKGROUND.mix(0.9))
        .border_style(AXIS)
        .draw()
        .map_err(drawing)
}

/// Lines of text in the top-left corner of a chart's plotting area.
pub(crate) fn notes<DB, CT>(
    chart: &ChartContext<'_, DB, CT>,
    theme: &Theme,
    lines: &[(String, RGBColor)],
) -> Result<(), PlotError>
where
    DB: DrawingBackend,
    CT: plotters::coord::CoordTranslate,
{
    let area = chart.plotting_area().strip_coord_spec();
    for (i, (line, color)) in lines.iter().enumerate() {
        let style = theme.anchored(NOTE_SIZE, *color, HPos::Left, VPos::Top);
        let (w, h) = area.estimate_text_size(line, &style).map_err(drawing)?;
        let (x, y) = (12, 10 + 24 * i as i32);
        // A veil under the text keeps it readable over bars and lines.
        area.draw(&Rectangle::new(
            [(x - 4, y - 3), (x + w as i32 + 4, y + h as i32 + 4)],
            BACKGROUND.mix(0.85).filled(),
        ))
        .map_err(drawing)?;
        area.draw(&Text::new(line.as_str(), (x, y), style))
            .map_err(drawing)?;
    }
    Ok(())
}

/// A panel with nothing to plot: its caption, a frame and a centred note.
pub(crate) fn empty_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    theme: &Theme,
    caption: &str,
    note: &str,
) -> Result<(), PlotError> {
    let (w, h) = area.dim_in_pixel();
    let (w, h) = (w as i32, h as i32);
    let caption_style = theme.anchored(CAPTION_SIZE, INK, HPos::Center, VPos::Top);
    area.draw(&Text::new(caption, (w / 2, 14), caption_style))
        .map_err(drawing)?;
    area.draw(&Rectangle::new(
        [(92, 56), (w - 28, h - 72)],
        AXIS.stroke_width(1),
    ))
    .map_err(drawing)?;
    let note_style = theme.anchored(CAPTION_SIZE - 4.0, MUTED, HPos::Center, VPos::Center);
    area.draw(&Text::new(note, ((w + 64) / 2, (h - 16) / 2), note_style))
        .map_err(drawing)
}
