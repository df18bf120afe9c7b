//! Numeric CSV files with the class label in the last column.
//!
//! Three layouts are read:
//! - the scikit-learn/UCI layout of `shared/datasets/uci`: a first line
//!   `n_samples,n_features,class names…`, then one row per sample (features, then the label);
//! - a headerless file (features, then the label);
//! - a file whose first line holds column names (detected when a cell of the first line is not
//!   a number, or forced with `header = true`).
//!
//! Labels must be integers; they are remapped to `0..C` in increasing order of their values.

use crate::error::{DataError, Result};
use crate::{Dataset, SampleShape};
use std::path::Path;

/// How to treat the first line of a CSV file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum HeaderMode {
    /// Detect: a first line with a non-numeric cell, or of the `n_samples,n_features,…` form, is a header.
    #[default]
    Auto,
    /// The first line is always a header.
    Present,
    /// There is no header.
    Absent,
}

/// Reads a label-last CSV file (optionally gzip-compressed) into a vector dataset.
pub fn read_labelled_csv(path: &Path, header: HeaderMode) -> Result<Dataset> {
    let bytes = crate::idx::read_maybe_gz(path)?;
    let text = String::from_utf8(bytes)
        .map_err(|e| DataError::format(path, None, format!("not UTF-8 text: {e}")))?;
    parse_labelled_csv(&text, path, header)
}

/// Parses the text of a label-last CSV file; `path` is only used in error messages.
pub fn parse_labelled_csv(text: &str, path: &Path, header: HeaderMode) -> Result<Dataset> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
        .filter(|(_, l)| !l.trim().is_empty())
        .peekable();
    let mut declared: Option<(usize, usize, usize)> = None; // (line, n_samples, n_features)
    if let Some(&(lineno, first)) = lines.peek() {
        let cells: Vec<&str> = first.split(',').map(str::trim).collect();
        let numeric = cells.iter().all(|c| c.parse::<f64>().is_ok());
        let uci = cells.len() >= 2
            && cells[0].parse::<usize>().is_ok()
            && cells[1].parse::<usize>().is_ok()
            && cells[2..].iter().any(|c| c.parse::<f64>().is_err());
        let is_header = match header {
            HeaderMode::Present => true,
            HeaderMode::Absent => false,
            HeaderMode::Auto => !numeric || uci,
        };
        if is_header {
            if uci {
                declared = Some((lineno, cells[0].parse().unwrap(), cells[1].parse().unwrap()));
            }
            lines.next();
        }
    }
    let mut width: Option<(usize, usize)> = None; // (columns, line where first seen)
    let mut features = Vec::new();
    let mut raw_labels = Vec::new();
    for (lineno, line) in lines {
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        match width {
            None => {
                if cells.len() < 2 {
                    return Err(DataError::format(
                        path,
                        Some(lineno),
                        "a row needs at least one feature and a label",
                    ));
                }
                width = Some((cells.len(), lineno));
            }
            Some((w, first)) if w != cells.len() => {
                return Err(DataError::format(
                    path,
                    Some(lineno),
                    format!(
                        "ragged row: {} columns, but line {first} has {w}",
                        cells.len()
                    ),
                ));
            }
            _ => {}
        }
        let (label_cell, feature_cells) = cells.split_last().unwrap();
        for (col, cell) in feature_cells.iter().enumerate() {
            let v: f32 = cell.parse().map_err(|_| {
                DataError::format(
                    path,
                    Some(lineno),
                    format!("column {}: '{cell}' is not a number", col + 1),
                )
            })?;
            if !v.is_finite() {
                return Err(DataError::format(
                    path,
                    Some(lineno),
                    format!("column {}: '{cell}' is not finite", col + 1),
                ));
            }
            features.push(v);
        }
        let label = parse_label(label_cell).ok_or_else(|| {
            DataError::format(
                path,
                Some(lineno),
                format!(
                    "column {} (label): '{label_cell}' is not an integer class label",
                    cells.len()
                ),
            )
        })?;
        raw_labels.push(label);
    }
    let Some((columns, _)) = width else {
        return Err(DataError::format(path, None, "no data rows"));
    };
    let d = columns - 1;
    if let Some((line, n, nf)) = declared {
        if nf != d {
            return Err(DataError::format(
                path,
                Some(line),
                format!("header declares {nf} features but rows have {d} (plus the label)"),
            ));
        }
        if n != raw_labels.len() {
            return Err(DataError::format(
                path,
                Some(line),
                format!(
                    "header declares {n} samples but the file has {} rows",
                    raw_labels.len()
                ),
            ));
        }
    }
    let (labels, num_classes) = remap_labels(&raw_labels);
    Ok(Dataset::new(
        features,
        labels,
        SampleShape::Vector(d),
        num_classes,
    ))
}

/// Parses an integer label, accepting `3`, `-1` and `3.0` (but not `3.5`).
fn parse_label(cell: &str) -> Option<i64> {
    if let Ok(v) = cell.parse::<i64>() {
        return Some(v);
    }
    let f: f64 = cell.parse().ok()?;
    (f.fract() == 0.0 && f.is_finite()).then_some(f as i64)
}

/// Maps arbitrary integer labels to `0..C` in increasing order of value; returns (labels, C).
pub fn remap_labels(raw: &[i64]) -> (Vec<usize>, usize) {
    let mut values: Vec<i64> = raw.to_vec();
    values.sort_unstable();
    values.dedup();
    let labels = raw
        .iter()
        .map(|v| values.binary_search(v).unwrap())
        .collect();
    (labels, values.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, h: HeaderMode) -> Result<Dataset> {
        parse_labelled_csv(text, Path::new("t.csv"), h)
    }

    #[test]
    fn uci_header_is_checked_and_skipped() {
        let d = parse("3,2,a,b\n1,2,0\n3,4,1\n5,6,1\n", HeaderMode::Auto).unwrap();
        assert_eq!(d.len(), 3);
        assert_eq!(d.shape, SampleShape::Vector(2));
        assert_eq!(d.labels, vec![0, 1, 1]);
        assert_eq!(d.features, vec![1., 2., 3., 4., 5., 6.]);
        let err = parse("4,2,a,b\n1,2,0\n3,4,1\n", HeaderMode::Auto)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("t.csv:1") && err.contains("declares 4 samples"),
            "{err}"
        );
    }

    #[test]
    fn named_header_and_headerless() {
        let d = parse("x,y,label\n1,2,-1\n3,4,1\n", HeaderMode::Auto).unwrap();
        assert_eq!(d.labels, vec![0, 1]);
        assert_eq!(d.num_classes, 2);
        let d = parse("1,2,5\n3,4,7\n", HeaderMode::Auto).unwrap();
        assert_eq!(d.len(), 2);
        let d = parse("1,2,5\n3,4,7\n", HeaderMode::Present).unwrap();
        assert_eq!(d.len(), 1);
    }

    #[test]
    fn ragged_rows_and_bad_cells_name_the_line() {
        let err = parse("1,2,0\n3,0\n", HeaderMode::Absent)
            .unwrap_err()
            .to_string();
        assert!(err.contains("t.csv:2") && err.contains("ragged"), "{err}");
        let err = parse("1,2,0\n3,x,1\n", HeaderMode::Absent)
            .unwrap_err()
            .to_string();
        assert!(err.contains("t.csv:2") && err.contains("column 2"), "{err}");
        let err = parse("1,2,0\n3,4,1.5\n", HeaderMode::Absent)
            .unwrap_err()
            .to_string();
        assert!(err.contains("t.csv:2") && err.contains("label"), "{err}");
    }
}
