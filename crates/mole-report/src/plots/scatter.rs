//! A 2-D scatter plot of points coloured by class, with a class legend (the t-SNE pictures).

use super::{FONT_FAMILY, Figure, OrString, color, padded_range};
use plotters::coord::Shift;
use plotters::prelude::*;

/// A t-SNE picture: `points` are `[x0, y0, x1, y1, …]`, one class per point.
#[derive(Debug, Clone)]
pub struct ScatterPlot {
    /// Title line, e.g. `t-SNE of module 2 output (256-D)`.
    pub title: String,
    /// Second line, e.g. the silhouette score and sample size.
    pub subtitle: String,
    /// 2-D coordinates, row-major.
    pub points: Vec<f32>,
    /// Class of each point.
    pub labels: Vec<usize>,
}

impl Figure for ScatterPlot {
    fn size(&self) -> (u32, u32) {
        (960, 800)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let classes = self.labels.iter().max().map_or(1, |m| m + 1);
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
            TextStyle::from((FONT_FAMILY, 18).into_font()).color(&RGBColor(80, 80, 80)),
        ))
        .s()?;
        let (plot, legend) = body.split_horizontally(800);
        let xs = padded_range(self.points.chunks(2).map(|p| f64::from(p[0])));
        let ys = padded_range(self.points.chunks(2).map(|p| f64::from(p[1])));
        let mut chart = ChartBuilder::on(&plot)
            .margin(12)
            .x_label_area_size(50)
            .y_label_area_size(64)
            .build_cartesian_2d(xs, ys)
            .s()?;
        chart
            .configure_mesh()
            .x_desc("t-SNE dimension 1 (arbitrary units)")
            .y_desc("t-SNE dimension 2 (arbitrary units)")
            .axis_desc_style((FONT_FAMILY, 18))
            .label_style((FONT_FAMILY, 15))
            .light_line_style(RGBColor(235, 235, 235))
            .x_labels(8)
            .y_labels(8)
            .draw()
            .s()?;
        // Draw class by class so the legend order and the overdraw order agree.
        for c in 0..classes {
            let col = color(c, classes);
            chart
                .draw_series(
                    self.points
                        .chunks(2)
                        .zip(&self.labels)
                        .filter(|(_, l)| **l == c)
                        .map(|(p, _)| {
                            Circle::new(
                                (f64::from(p[0]), f64::from(p[1])),
                                3,
                                col.mix(0.75).filled(),
                            )
                        }),
                )
                .s()?;
        }
        // Legend: one row per class (at most 30 rows, then a count).
        legend
            .draw(&Text::new(
                "class".to_string(),
                (12, 20),
                (FONT_FAMILY, 18).into_font(),
            ))
            .s()?;
        let shown = classes.min(30);
        let row = (600 / shown.max(1)).clamp(14, 26) as i32;
        for c in 0..shown {
            let y = 56 + c as i32 * row;
            legend
                .draw(&Circle::new((20, y), 6, color(c, classes).filled()))
                .s()?;
            legend
                .draw(&Text::new(
                    format!("{c}"),
                    (34, y - 9),
                    (FONT_FAMILY, 16).into_font(),
                ))
                .s()?;
        }
        if classes > shown {
            let y = 56 + shown as i32 * row;
            legend
                .draw(&Text::new(
                    format!("… {classes} in all"),
                    (12, y),
                    (FONT_FAMILY, 14).into_font(),
                ))
                .s()?;
        }
        Ok(())
    }
}
