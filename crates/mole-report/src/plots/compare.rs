//! The comparison chart: test accuracy and training time of several runs, as horizontal bars.

use super::{FONT_FAMILY, Figure, OrString, color};
use plotters::coord::Shift;
use plotters::prelude::*;

/// One run in the chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    /// Run name written above its bars.
    pub label: String,
    /// Test accuracy in [0, 1], if known.
    pub accuracy: Option<f64>,
    /// Training seconds, if known.
    pub seconds: Option<f64>,
}

/// Accuracy and time side by side, one bar per run.
#[derive(Debug, Clone)]
pub struct CompareChart {
    /// Title line.
    pub title: String,
    /// The runs, top to bottom.
    pub bars: Vec<Bar>,
}

impl Figure for CompareChart {
    fn size(&self) -> (u32, u32) {
        (1300, 140 + 70 * self.bars.len().max(1) as u32)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let (head, body) = root.split_vertically(60);
        head.draw(&Text::new(
            self.title.clone(),
            (24, 16),
            (FONT_FAMILY, 28).into_font(),
        ))
        .s()?;
        let (left, right) = body.split_horizontally(650);
        let acc: Vec<Option<f64>> = self
            .bars
            .iter()
            .map(|b| b.accuracy.map(|a| a * 100.0))
            .collect();
        let secs: Vec<Option<f64>> = self.bars.iter().map(|b| b.seconds).collect();
        panel(
            &left,
            "test accuracy",
            "test accuracy (%)",
            100.0,
            &acc,
            &self.bars,
            |v| format!("{v:.2} %"),
        )?;
        let max_s = secs
            .iter()
            .flatten()
            .fold(0.0f64, |m, &v| m.max(v))
            .max(1e-3)
            * 1.25;
        panel(
            &right,
            "training time",
            "training time (s)",
            max_s,
            &secs,
            &self.bars,
            |v| format!("{v:.1} s"),
        )
    }
}

fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    x_desc: &str,
    x_max: f64,
    values: &[Option<f64>],
    bars: &[Bar],
    fmt: impl Fn(f64) -> String,
) -> Result<(), String> {
    let n = values.len().max(1);
    let mut chart = ChartBuilder::on(area)
        .caption(title, (FONT_FAMILY, 21))
        .margin(14)
        .margin_right(30)
        .x_label_area_size(48)
        .y_label_area_size(10)
        .build_cartesian_2d(0.0..x_max, -0.6..(n as f64 - 0.2))
        .s()?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .axis_desc_style((FONT_FAMILY, 16))
        .label_style((FONT_FAMILY, 14))
        .disable_y_mesh()
        .disable_y_axis()
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .s()?;
    for (i, (v, b)) in values.iter().zip(bars).enumerate() {
        let y = (n - 1 - i) as f64;
        let col = color(i, n);
        chart
            .draw_series(std::iter::once(Text::new(
                b.label.clone(),
                (0.0, y + 0.42),
                (FONT_FAMILY, 15).into_font(),
            )))
            .s()?;
        match v {
            Some(v) => {
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(0.0, y - 0.28), (*v, y + 0.08)],
                        col.filled(),
                    )))
                    .s()?;
                let inside = *v > x_max * 0.75;
                let style = TextStyle::from((FONT_FAMILY, 14).into_font()).color(if inside {
                    &WHITE
                } else {
                    &BLACK
                });
                let at = if inside {
                    v - x_max * 0.17
                } else {
                    v + x_max * 0.01
                };
                chart
                    .draw_series(std::iter::once(Text::new(fmt(*v), (at, y + 0.02), style)))
                    .s()?;
            }
            None => {
                chart
                    .draw_series(std::iter::once(Text::new(
                        "not recorded".to_string(),
                        (0.0, y + 0.02),
                        (FONT_FAMILY, 14).into_font(),
                    )))
                    .s()?;
            }
        }
    }
    Ok(())
}
