//! Learning curves: a grid of line panels (module objectives, head loss, train/test accuracy).

use super::{FONT_FAMILY, Figure, OrString, color, message, padded_range};
use plotters::coord::Shift;
use plotters::prelude::*;

/// One line of a panel.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend text.
    pub label: String,
    /// `(x, y)` points in order.
    pub points: Vec<(f64, f64)>,
    /// Dashed line (e.g. train accuracy against solid test accuracy).
    pub dashed: bool,
}

/// One panel: axes, lines, and what to say when there is nothing to draw.
#[derive(Debug, Clone)]
pub struct Panel {
    /// Panel title.
    pub title: String,
    /// x-axis description with unit.
    pub x_desc: String,
    /// y-axis description with unit.
    pub y_desc: String,
    /// The lines.
    pub series: Vec<Series>,
    /// Shown instead of axes when `series` has no points.
    pub empty: String,
    /// Legend in the lower right corner (for rising curves) instead of the upper right.
    pub legend_bottom: bool,
}

/// Panels in a grid of `columns` columns under a title.
#[derive(Debug, Clone)]
pub struct CurvesPlot {
    /// Title line.
    pub title: String,
    /// The panels, row by row.
    pub panels: Vec<Panel>,
    /// Panels per row.
    pub columns: usize,
}

const PANEL_W: u32 = 620;
const PANEL_H: u32 = 460;

impl Figure for CurvesPlot {
    fn size(&self) -> (u32, u32) {
        let cols = self.columns.max(1) as u32;
        let rows = self.panels.len().div_ceil(self.columns.max(1)).max(1) as u32;
        (cols * PANEL_W, rows * PANEL_H + 60)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let (head, body) = root.split_vertically(60);
        head.draw(&Text::new(
            self.title.clone(),
            (24, 16),
            (FONT_FAMILY, 28).into_font(),
        ))
        .s()?;
        let cols = self.columns.max(1);
        let rows = self.panels.len().div_ceil(cols).max(1);
        for (panel, area) in self.panels.iter().zip(body.split_evenly((rows, cols))) {
            draw_panel(panel, &area)?;
        }
        Ok(())
    }
}

fn draw_panel<DB: DrawingBackend>(p: &Panel, area: &DrawingArea<DB, Shift>) -> Result<(), String> {
    let points = || p.series.iter().flat_map(|s| s.points.iter());
    if points().next().is_none() {
        return message(area, &p.title, &p.empty);
    }
    let mut xs = padded_range(points().map(|q| q.0));
    // Epoch axes start at 0 at most, so a single epoch is not drawn at the edge.
    xs.start = xs.start.max(0.0);
    let ys = padded_range(points().map(|q| q.1));
    let mut chart = ChartBuilder::on(area)
        .caption(p.title.clone(), (FONT_FAMILY, 21))
        .margin(14)
        .margin_right(24)
        .x_label_area_size(48)
        .y_label_area_size(76)
        .build_cartesian_2d(xs, ys)
        .s()?;
    chart
        .configure_mesh()
        .x_desc(p.x_desc.clone())
        .y_desc(p.y_desc.clone())
        .axis_desc_style((FONT_FAMILY, 16))
        .label_style((FONT_FAMILY, 14))
        .light_line_style(RGBColor(235, 235, 235))
        .x_labels(8)
        // Epochs are whole numbers: no ticks at 1.5.
        .x_label_formatter(&|x| {
            if x.fract() == 0.0 {
                format!("{x:.0}")
            } else {
                String::new()
            }
        })
        .y_labels(7)
        .draw()
        .s()?;
    let n = p.series.len();
    for (i, s) in p.series.iter().enumerate() {
        let col = color(i, n);
        let style = col.stroke_width(3);
        if s.dashed {
            chart
                .draw_series(DashedLineSeries::new(s.points.iter().copied(), 8, 5, style))
                .s()?
        } else {
            chart
                .draw_series(LineSeries::new(s.points.iter().copied(), style))
                .s()?
        }
        .label(s.label.clone())
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], col.stroke_width(3)));
        chart
            .draw_series(s.points.iter().map(|&q| Circle::new(q, 3, col.filled())))
            .s()?;
    }
    chart
        .configure_series_labels()
        .position(if p.legend_bottom {
            SeriesLabelPosition::LowerRight
        } else {
            SeriesLabelPosition::UpperRight
        })
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(160, 160, 160))
        .label_font((FONT_FAMILY, 15))
        .draw()
        .s()?;
    Ok(())
}
