//! Pictures drawn with plotters, written as PNG and SVG side by side.
//!
//! Text is drawn with DejaVu Sans embedded in the binary (plotters' `ab_glyph` feature), so the
//! pictures look the same on every machine and need no system fonts.

pub mod compare;
pub mod curves;
pub mod info_plane;
pub mod scatter;

use crate::ReportError;
use crate::fsutil::write_atomic;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

static FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

/// Registers the embedded font as `sans-serif` (once per process).
pub fn register_fonts() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        for style in [
            FontStyle::Normal,
            FontStyle::Bold,
            FontStyle::Italic,
            FontStyle::Oblique,
        ] {
            if plotters::style::register_font("sans-serif", style, FONT).is_err() {
                panic!("the embedded DejaVu Sans font is invalid");
            }
        }
    });
}

/// Font family used for all text.
pub const FONT_FAMILY: &str = "sans-serif";

/// A picture that can be drawn on any plotters backend.
pub trait Figure {
    /// Width and height in pixels.
    fn size(&self) -> (u32, u32);
    /// Draws the picture on `root` (already filled white).
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String>;
}

/// `Result<T, E: Display>` → `Result<T, String>`, for plotters' backend-generic errors.
pub(crate) trait OrString<T> {
    /// The error as text.
    fn s(self) -> Result<T, String>;
}

impl<T, E: std::fmt::Display> OrString<T> for Result<T, E> {
    fn s(self) -> Result<T, String> {
        self.map_err(|e| e.to_string())
    }
}

/// Writes `fig` to `<stem>.png` and `<stem>.svg` (atomically) and returns both paths.
pub fn save(fig: &impl Figure, stem: &Path) -> Result<(PathBuf, PathBuf), ReportError> {
    register_fonts();
    let png = stem.with_extension("png");
    let svg = stem.with_extension("svg");
    let plot_err = |p: &Path, reason: String| ReportError::Plot {
        path: p.to_path_buf(),
        reason,
    };
    // PNG: drawn to a temporary file beside the target, then renamed.
    let name = png
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = png.with_file_name(format!(".{name}-tmp-{}.png", std::process::id()));
    {
        let root = BitMapBackend::new(&tmp, fig.size()).into_drawing_area();
        root.fill(&WHITE)
            .s()
            .and_then(|()| fig.draw(&root))
            .and_then(|()| root.present().s())
            .map_err(|r| {
                let _ = std::fs::remove_file(&tmp);
                plot_err(&png, r)
            })?;
    }
    std::fs::rename(&tmp, &png).map_err(|e| ReportError::io(&png, e))?;
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, fig.size()).into_drawing_area();
        root.fill(&WHITE)
            .s()
            .and_then(|()| fig.draw(&root))
            .and_then(|()| root.present().s())
            .map_err(|r| plot_err(&svg, r))?;
    }
    write_atomic(&svg, text.as_bytes())?;
    Ok((png, svg))
}

/// Colour of series or class `i` of `n`: the Tableau-10 colours, then evenly spaced hues.
pub fn color(i: usize, n: usize) -> RGBColor {
    const TAB10: [(u8, u8, u8); 10] = [
        (31, 119, 180),
        (255, 127, 14),
        (44, 160, 44),
        (214, 39, 40),
        (148, 103, 189),
        (140, 86, 75),
        (227, 119, 194),
        (127, 127, 127),
        (188, 189, 34),
        (23, 190, 207),
    ];
    if n <= 10 {
        let (r, g, b) = TAB10[i % 10];
        return RGBColor(r, g, b);
    }
    let h = i as f64 / n as f64;
    let hsl = HSLColor(h, 0.75, if i.is_multiple_of(2) { 0.45 } else { 0.6 });
    let (r, g, b) = hsl.rgb();
    RGBColor(r, g, b)
}

/// Padded range of `values` (a unit range around a single value; `0..1` when empty).
pub fn padded_range(values: impl IntoIterator<Item = f64>) -> std::ops::Range<f64> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values {
        if v.is_finite() {
            lo = lo.min(v);
            hi = hi.max(v);
        }
    }
    if lo > hi {
        return 0.0..1.0;
    }
    let pad = if hi > lo {
        (hi - lo) * 0.06
    } else {
        lo.abs().max(1.0) * 0.5
    };
    (lo - pad)..(hi + pad)
}

/// Draws a centred grey message in an area (for panels without data).
pub fn message<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    text: &str,
) -> Result<(), String> {
    let (w, h) = area.dim_in_pixel();
    area.draw(&Text::new(
        title.to_string(),
        (20, 12),
        (FONT_FAMILY, 22).into_font(),
    ))
    .s()?;
    let style = TextStyle::from((FONT_FAMILY, 18).into_font())
        .color(&RGBColor(110, 110, 110))
        .pos(plotters::style::text_anchor::Pos::new(
            plotters::style::text_anchor::HPos::Center,
            plotters::style::text_anchor::VPos::Center,
        ));
    area.draw(&Text::new(
        text.to_string(),
        (w as i32 / 2, h as i32 / 2),
        style,
    ))
    .s()?;
    area.draw(&Rectangle::new(
        [(5, 5), (w as i32 - 5, h as i32 - 5)],
        RGBColor(200, 200, 200).stroke_width(1),
    ))
    .s()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_colours() {
        let r = padded_range([1.0, 3.0]);
        assert!(r.start < 1.0 && r.end > 3.0);
        assert_eq!(padded_range([2.0]), 1.0..3.0);
        assert_eq!(padded_range(std::iter::empty()), 0.0..1.0);
        assert_eq!(color(0, 3), RGBColor(31, 119, 180));
        let many: std::collections::HashSet<_> = (0..20)
            .map(|i| {
                let c = color(i, 20);
                (c.0, c.1, c.2)
            })
            .collect();
        assert_eq!(many.len(), 20);
    }
}
