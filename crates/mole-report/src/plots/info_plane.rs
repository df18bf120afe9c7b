//! The information plane: one trajectory per module (or layer) of (I(X;T), I(T;Y)) over epochs.

use super::{FONT_FAMILY, Figure, OrString, color, padded_range};
use plotters::coord::Shift;
use plotters::prelude::*;

/// One module's (or layer's) path through the plane, epoch by epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct Trajectory {
    /// Legend text, e.g. `module 2`.
    pub label: String,
    /// `(x, y)` after each epoch, in order.
    pub points: Vec<(f64, f64)>,
}

/// The information-plane picture.
#[derive(Debug, Clone)]
pub struct InfoPlanePlot {
    /// Title line.
    pub title: String,
    /// Second line (how to read the markers).
    pub subtitle: String,
    /// x-axis description with unit.
    pub x_desc: String,
    /// y-axis description with unit.
    pub y_desc: String,
    /// The trajectories.
    pub trajectories: Vec<Trajectory>,
}

impl Figure for InfoPlanePlot {
    fn size(&self) -> (u32, u32) {
        (1000, 760)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let (head, body) = root.split_vertically(80);
        head.draw(&Text::new(
            self.title.clone(),
            (24, 14),
            (FONT_FAMILY, 28).into_font(),
        ))
        .s()?;
        head.draw(&Text::new(
            self.subtitle.clone(),
            (24, 50),
            TextStyle::from((FONT_FAMILY, 17).into_font()).color(&RGBColor(80, 80, 80)),
        ))
        .s()?;
        let all = || self.trajectories.iter().flat_map(|t| t.points.iter());
        let xs = padded_range(all().map(|p| p.0));
        let ys = padded_range(all().map(|p| p.1));
        let mut chart = ChartBuilder::on(&body)
            .margin(16)
            .margin_right(30)
            .x_label_area_size(54)
            .y_label_area_size(74)
            .build_cartesian_2d(xs, ys)
            .s()?;
        chart
            .configure_mesh()
            .x_desc(self.x_desc.clone())
            .y_desc(self.y_desc.clone())
            .axis_desc_style((FONT_FAMILY, 19))
            .label_style((FONT_FAMILY, 15))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .s()?;
        let n = self.trajectories.len();
        for (i, t) in self.trajectories.iter().enumerate() {
            let col = color(i, n);
            chart
                .draw_series(LineSeries::new(
                    t.points.iter().copied(),
                    col.stroke_width(3),
                ))
                .s()?
                .label(t.label.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 24, y)], col.stroke_width(3))
                });
            chart
                .draw_series(t.points.iter().map(|&p| Circle::new(p, 4, col.filled())))
                .s()?;
            if let Some(&first) = t.points.first() {
                chart
                    .draw_series(std::iter::once(Circle::new(first, 8, col.stroke_width(2))))
                    .s()?;
            }
            if let Some(&last) = t.points.last() {
                chart
                    .draw_series(std::iter::once(TriangleMarker::new(last, 10, col.filled())))
                    .s()?;
            }
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.9))
            .border_style(RGBColor(160, 160, 160))
            .label_font((FONT_FAMILY, 17))
            .draw()
            .s()?;
        Ok(())
    }
}
