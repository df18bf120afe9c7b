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
    let corner = legend_corner(
        p,
        (xs.start, xs.end),
        (ys.start, ys.end),
        if p.legend_bottom {
            SeriesLabelPosition::LowerRight
        } else {
            SeriesLabelPosition::UpperRight
        },
    );
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
        .position(corner)
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(160, 160, 160))
        .label_font((FONT_FAMILY, 15))
        .draw()
        .s()?;
    Ok(())
}

/// The corner for the legend box that covers the fewest data points (points and the straight
/// segments between them, sampled), `preferred` on a tie. The box is taken as the outer 40 % of
/// the width and 12 % of the height per series (at least 25 %).
fn legend_corner(
    p: &Panel,
    (x0, x1): (f64, f64),
    (y0, y1): (f64, f64),
    preferred: SeriesLabelPosition,
) -> SeriesLabelPosition {
    let (w, h) = ((x1 - x0).max(1e-12), (y1 - y0).max(1e-12));
    let box_h = (0.12 * p.series.len() as f64).clamp(0.25, 0.6);
    let mut samples = Vec::new();
    for s in &p.series {
        for pair in s.points.windows(2) {
            for i in 0..8 {
                let t = i as f64 / 8.0;
                samples.push((
                    pair[0].0 + t * (pair[1].0 - pair[0].0),
                    pair[0].1 + t * (pair[1].1 - pair[0].1),
                ));
            }
        }
        samples.extend(s.points.last().copied());
    }
    let covered = |right: bool, upper: bool| {
        samples
            .iter()
            .filter(|&&(x, y)| {
                let (u, v) = ((x - x0) / w, (y - y0) / h);
                (if right { u >= 0.6 } else { u <= 0.4 })
                    && (if upper { v >= 1.0 - box_h } else { v <= box_h })
            })
            .count()
    };
    let preferred_upper = !matches!(preferred, SeriesLabelPosition::LowerRight);
    let mut candidates = vec![
        (preferred, covered(true, preferred_upper)),
        (SeriesLabelPosition::UpperRight, covered(true, true)),
        (SeriesLabelPosition::LowerRight, covered(true, false)),
        (SeriesLabelPosition::UpperLeft, covered(false, true)),
        (SeriesLabelPosition::LowerLeft, covered(false, false)),
    ];
    // Stable: the preferred corner wins ties.
    candidates.sort_by_key(|c| c.1);
    candidates.swap_remove(0).0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn panel(points: Vec<(f64, f64)>) -> Panel {
        Panel {
            title: "t".into(),
            x_desc: "x".into(),
            y_desc: "y".into(),
            series: vec![Series {
                label: "s".into(),
                points,
                dashed: false,
            }],
            empty: String::new(),
            legend_bottom: false,
        }
    }

    #[test]
    fn the_legend_avoids_the_data() {
        // A falling curve leaves the upper right free: the preferred corner is kept.
        let falling = panel((0..10).map(|i| (i as f64, 10.0 - i as f64)).collect());
        let c = legend_corner(
            &falling,
            (0.0, 9.0),
            (0.0, 10.0),
            SeriesLabelPosition::UpperRight,
        );
        assert!(matches!(c, SeriesLabelPosition::UpperRight));
        // A rising curve ends in the upper right: the legend moves to a free corner.
        let rising = panel((0..10).map(|i| (i as f64, i as f64)).collect());
        let c = legend_corner(
            &rising,
            (0.0, 9.0),
            (0.0, 9.0),
            SeriesLabelPosition::UpperRight,
        );
        assert!(
            matches!(
                c,
                SeriesLabelPosition::LowerRight | SeriesLabelPosition::UpperLeft
            ),
            "{c:?}"
        );
    }
}
