//! Numeric CSV files with one class-label column.
//!
//! Three layouts are read:
//! - the scikit-learn/UCI layout of `shared/datasets/uci`: a first line
//!   `n_samples,n_features,class names…`, then one row per sample (features, then the label);
//! - a headerless file (features, then the label);
//! - a file whose first line holds column names (detected when a cell of the first line is
//!   text where the second line has a number, or forced with `header = true`).
//!
//! Cells are separated by commas (or, when the first line has none, tabs or semicolons); one
//! pair of double quotes around a cell is dropped. The label is the last column unless [`LabelColumn`] says otherwise (by default a header
//! column named `label`, `class`, `target` or `y`). Labels are integers, remapped to `0..C` in
//! increasing order of their values, or any text (class names), remapped in sorted order of
//! the names. Every other column is a feature and must be a finite number.

use crate::error::{DataError, Result};
use crate::{Dataset, SampleShape};
use std::path::Path;

/// How to treat the first line of a CSV file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum HeaderMode {
    /// Detect: a first line with text where the second line has a number, or of the
    /// `n_samples,n_features,…` form, is a header.
    #[default]
    Auto,
    /// The first line is always a header.
    Present,
    /// There is no header.
    Absent,
}

/// Which column of a CSV file holds the class label.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum LabelColumn {
    /// The header's column named `label`, `class`, `target` or `y` (any case) when exactly one
    /// is, else the last column.
    #[default]
    Auto,
    /// The column with this name in the header line.
    Name(String),
    /// The column at this position, counted from 1.
    Number(usize),
}

/// Header names [`LabelColumn::Auto`] takes for the label (compared without case).
pub const LABEL_NAMES: [&str; 4] = ["label", "class", "target", "y"];

impl std::str::FromStr for LabelColumn {
    type Err = String;

    /// `auto`, a column number from 1, or a header name.
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let s = s.trim();
        if s.is_empty() {
            return Err(
                "an empty label column (use auto, a column number from 1, or a header name)".into(),
            );
        }
        if s.eq_ignore_ascii_case("auto") {
            return Ok(LabelColumn::Auto);
        }
        match s.parse::<usize>() {
            Ok(0) => Err("column numbers count from 1".into()),
            Ok(n) => Ok(LabelColumn::Number(n)),
            Err(_) => Ok(LabelColumn::Name(s.to_string())),
        }
    }
}

/// The fewest rows at which a label column with more distinct values than half its rows is
/// refused as not a class label (an identifier or a measurement).
const DISTINCT_LABEL_CHECK_ROWS: usize = 20;

/// Reads a label-last CSV file (optionally gzip-compressed) into a vector dataset.
pub fn read_labelled_csv(path: &Path, header: HeaderMode) -> Result<Dataset> {
    read_csv(path, header, &LabelColumn::Auto)
}

/// Reads a CSV file (optionally gzip-compressed) with the label in column `label`.
pub fn read_csv(path: &Path, header: HeaderMode, label: &LabelColumn) -> Result<Dataset> {
    let bytes = crate::idx::read_maybe_gz(path)?;
    let text = String::from_utf8(bytes)
        .map_err(|e| DataError::format(path, None, format!("not UTF-8 text: {e}")))?;
    parse_csv(&text, path, header, label)
}

/// Parses the text of a label-last CSV file; `path` is only used in error messages.
pub fn parse_labelled_csv(text: &str, path: &Path, header: HeaderMode) -> Result<Dataset> {
    parse_csv(text, path, header, &LabelColumn::Auto)
}

/// The label's column (0-based) among `columns`, given the header's names if it has them.
fn label_index(
    label: &LabelColumn,
    names: Option<&[String]>,
    columns: usize,
    path: &Path,
    header_line: Option<usize>,
) -> Result<usize> {
    match label {
        LabelColumn::Auto => {
            let named: Vec<usize> = names
                .into_iter()
                .flatten()
                .enumerate()
                .filter(|(_, n)| LABEL_NAMES.iter().any(|l| n.eq_ignore_ascii_case(l)))
                .map(|(i, _)| i)
                .collect();
            Ok(match named[..] {
                [i] => i,
                _ => columns - 1,
            })
        }
        LabelColumn::Number(n) if (1..=columns).contains(n) => Ok(n - 1),
        LabelColumn::Number(n) => Err(DataError::format(
            path,
            None,
            format!("label column {n}: the rows have {columns} columns"),
        )),
        LabelColumn::Name(want) => {
            let Some(names) = names else {
                return Err(DataError::format(
                    path,
                    None,
                    format!(
                        "label column '{want}': the file has no header line of column names (give the column's number instead)"
                    ),
                ));
            };
            let exact: Vec<usize> = (0..names.len()).filter(|&i| names[i] == *want).collect();
            let loose: Vec<usize> = (0..names.len())
                .filter(|&i| names[i].eq_ignore_ascii_case(want))
                .collect();
            match (&exact[..], &loose[..]) {
                ([i], _) | ([], [i]) => Ok(*i),
                _ => {
                    let shown: Vec<&str> = names.iter().take(12).map(String::as_str).collect();
                    let more = if names.len() > 12 { ", …" } else { "" };
                    Err(DataError::format(
                        path,
                        header_line,
                        format!(
                            "label column '{want}': {} (columns: {}{more})",
                            if exact.len() + loose.len() > 1 {
                                "more than one column has that name"
                            } else {
                                "no column has that name"
                            },
                            shown.join(", ")
                        ),
                    ))
                }
            }
        }
    }
}

/// Parses the text of a CSV file with the label in column `label`; `path` is only used in
/// error messages.
pub fn parse_csv(
    text: &str,
    path: &Path,
    header: HeaderMode,
    label: &LabelColumn,
) -> Result<Dataset> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
        .filter(|(_, l)| !l.trim().is_empty())
        .peekable();
    let delimiter = delimiter(text);
    let mut declared: Option<(usize, usize, usize)> = None; // (line, n_samples, n_features)
    // The header's column names (not the UCI layout's counts and class names) and its line.
    let mut names: Option<(usize, Vec<String>)> = None;
    let is_number = |c: &&str| c.parse::<f64>().is_ok();
    let second: Option<Vec<bool>> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .nth(1)
        .map(|l| split(l, delimiter).map(|c| is_number(&c)).collect());
    if let Some(&(lineno, first)) = lines.peek() {
        let cells: Vec<&str> = split(first, delimiter).collect();
        // A data row with class names last has the next line's pattern of numbers and text.
        let like_next = second.as_ref().is_some_and(|below| {
            below.len() == cells.len() && cells.iter().zip(below).all(|(c, &n)| is_number(c) == n)
        });
        let uci = cells.len() >= 2
            && cells[0].parse::<usize>().is_ok()
            && cells[1].parse::<usize>().is_ok()
            && cells[2..].iter().any(|c| c.parse::<f64>().is_err())
            && !like_next;
        // Column names: text where the next line has a number (a text column in both, such
        // as class names, is data).
        let named = match &second {
            Some(below) => cells
                .iter()
                .zip(below)
                .any(|(c, &number_below)| !is_number(c) && number_below),
            None => !cells.iter().all(is_number),
        };
        let is_header = match header {
            HeaderMode::Present => true,
            HeaderMode::Absent => false,
            HeaderMode::Auto => named || uci,
        };
        if is_header {
            if uci {
                declared = Some((lineno, cells[0].parse().unwrap(), cells[1].parse().unwrap()));
            } else {
                names = Some((lineno, cells.iter().map(|c| c.to_string()).collect()));
            }
            lines.next();
        }
    }
    let mut width: Option<(usize, usize)> = None; // (columns, line where first seen)
    let mut label_at = 0;
    let mut features = Vec::new();
    let mut label_cells: Vec<(usize, String)> = Vec::new();
    // "column 3" or "column 3 ('age')".
    let column_name = |col: usize| match names.as_ref().and_then(|(_, n)| n.get(col)) {
        Some(n) if !n.is_empty() => format!("column {} ('{n}')", col + 1),
        _ => format!("column {}", col + 1),
    };
    for (lineno, line) in lines {
        let cells: Vec<&str> = split(line, delimiter).collect();
        match width {
            None => {
                if cells.len() < 2 {
                    return Err(DataError::format(
                        path,
                        Some(lineno),
                        "a row needs at least one feature and a label",
                    ));
                }
                if let Some((line, n)) = &names
                    && n.len() != cells.len()
                {
                    return Err(DataError::format(
                        path,
                        Some(lineno),
                        format!(
                            "{} columns, but the header (line {line}) names {}",
                            cells.len(),
                            n.len()
                        ),
                    ));
                }
                width = Some((cells.len(), lineno));
                label_at = label_index(
                    label,
                    names.as_ref().map(|(_, n)| n.as_slice()),
                    cells.len(),
                    path,
                    names.as_ref().map(|(l, _)| *l),
                )?;
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
        for (col, cell) in cells.iter().enumerate() {
            if col == label_at {
                continue;
            }
            if cell.is_empty() {
                return Err(DataError::format(
                    path,
                    Some(lineno),
                    format!("{}: missing value", column_name(col)),
                ));
            }
            let v: f32 = cell.parse().map_err(|_| {
                DataError::format(
                    path,
                    Some(lineno),
                    format!(
                        "{}: '{cell}' is not a number (features must be numeric; drop or encode this column, or make it the label with --label-column)",
                        column_name(col)
                    ),
                )
            })?;
            if !v.is_finite() {
                return Err(DataError::format(
                    path,
                    Some(lineno),
                    format!("{}: '{cell}' is not finite", column_name(col)),
                ));
            }
            features.push(v);
        }
        let cell = cells[label_at];
        if cell.is_empty() {
            return Err(DataError::format(
                path,
                Some(lineno),
                format!("{} (label): missing label", column_name(label_at)),
            ));
        }
        label_cells.push((lineno, cell.to_string()));
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
        if n != label_cells.len() {
            return Err(DataError::format(
                path,
                Some(line),
                format!(
                    "header declares {n} samples but the file has {} rows",
                    label_cells.len()
                ),
            ));
        }
    }
    let label_name = format!("{} (label)", column_name(label_at));
    let (labels, num_classes) = class_labels(&label_cells, path, &label_name)?;
    let rows = labels.len();
    if rows >= DISTINCT_LABEL_CHECK_ROWS && num_classes * 2 > rows {
        return Err(DataError::format(
            path,
            None,
            format!(
                "{label_name} has {num_classes} distinct values in {rows} rows: not a class label (an identifier or a measurement?); choose the label with --label-column"
            ),
        ));
    }
    Ok(Dataset::new(
        features,
        labels,
        SampleShape::Vector(d),
        num_classes,
    ))
}

/// The cells' separator: a comma, else a tab or a semicolon when the first non-empty line has
/// one and no comma (tab-separated files; semicolon-separated ones with `.` decimals).
fn delimiter(text: &str) -> char {
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    [',', '\t', ';']
        .into_iter()
        .find(|&d| first.contains(d))
        .unwrap_or(',')
}

/// The cells of a line, trimmed, each without one pair of enclosing double quotes.
fn split(line: &str, delimiter: char) -> impl Iterator<Item = &str> {
    line.split(delimiter).map(|c| {
        let c = c.trim();
        c.strip_prefix('"')
            .and_then(|c| c.strip_suffix('"'))
            .unwrap_or(c)
            .trim()
    })
}

/// The label cells (with their lines) as classes `0..C`: integers in increasing order of value
/// when every cell is one, else the cells' text in sorted order. Numbers that are not all
/// integers (a measurement) are refused at the first non-integer.
fn class_labels(
    cells: &[(usize, String)],
    path: &Path,
    column: &str,
) -> Result<(Vec<usize>, usize)> {
    let integers: Option<Vec<i64>> = cells.iter().map(|(_, c)| parse_label(c)).collect();
    if let Some(raw) = integers {
        return Ok(remap_labels(&raw));
    }
    if cells.iter().all(|(_, c)| c.parse::<f64>().is_ok()) {
        let (line, cell) = cells
            .iter()
            .find(|(_, c)| parse_label(c).is_none())
            .expect("a non-integer number");
        return Err(DataError::format(
            path,
            Some(*line),
            format!("{column}: '{cell}' is not an integer class label"),
        ));
    }
    let mut names: Vec<&str> = cells.iter().map(|(_, c)| c.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let labels = cells
        .iter()
        .map(|(_, c)| names.binary_search(&c.as_str()).unwrap())
        .collect();
    Ok((labels, names.len()))
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

    fn parse_with(text: &str, label: &str) -> Result<Dataset> {
        parse_csv(
            text,
            Path::new("t.csv"),
            HeaderMode::Auto,
            &label.parse().unwrap(),
        )
    }

    /// The message of [`parse_with`]'s error (the test fails if the text parses).
    fn error_with(text: &str, label: &str) -> String {
        parse_with(text, label).unwrap_err().to_string()
    }

    #[test]
    fn class_names_anywhere_by_header_name_or_number() {
        // A header column named `class` (any case) is the label by default, wherever it is;
        // names become classes in sorted order.
        let text = "Class,width,height\nsetosa,1,2\nvirginica,3,4\nsetosa,5,6\n";
        let d = parse_with(text, "auto").unwrap();
        assert_eq!(d.labels, vec![0, 1, 0]);
        assert_eq!(d.num_classes, 2);
        assert_eq!(d.features, vec![1., 2., 3., 4., 5., 6.]);
        // The same column by name and by number; another column by name.
        assert_eq!(parse_with(text, "Class").unwrap().labels, d.labels);
        assert_eq!(parse_with(text, "class").unwrap().labels, d.labels);
        assert_eq!(parse_with(text, "1").unwrap().labels, d.labels);
        let text = "species,a,b\nx,1,0\ny,2,1\n";
        // No header name says label: the last column (integers), `species` a bad feature.
        let err = error_with(text, "auto");
        assert!(
            err.contains("t.csv:2")
                && err.contains("column 1 ('species')")
                && err.contains("--label-column"),
            "{err}"
        );
        let d = parse_with(text, "species").unwrap();
        assert_eq!(
            (d.labels.clone(), d.features.clone()),
            (vec![0, 1], vec![1., 0., 2., 1.])
        );
        // A headerless file with class names last: the first line is data (text above text).
        let d = parse_with("1,2,cat\n3,4,dog\n5,6,cat\n", "auto").unwrap();
        assert_eq!((d.len(), d.labels.clone()), (3, vec![0, 1, 0]));
    }

    #[test]
    fn label_column_errors_name_the_problem() {
        let text = "a,b,label\n1,2,0\n3,4,1\n";
        let err = error_with(text, "kind");
        assert!(
            err.contains("'kind'") && err.contains("columns: a, b, label"),
            "{err}"
        );
        let err = error_with(text, "4");
        assert!(
            err.contains("label column 4") && err.contains("3 columns"),
            "{err}"
        );
        let err = error_with("1,2,0\n3,4,1\n", "kind");
        assert!(err.contains("no header line"), "{err}");
        assert!("0".parse::<LabelColumn>().is_err());
        assert!(" ".parse::<LabelColumn>().is_err());
        // Missing values name the line and the column.
        let err = error_with("a,b,label\n1,,0\n", "auto");
        assert!(
            err.contains("t.csv:2") && err.contains("column 2 ('b'): missing value"),
            "{err}"
        );
        let err = error_with("a,b,label\n1,2,\n", "auto");
        assert!(
            err.contains("t.csv:2") && err.contains("missing label"),
            "{err}"
        );
        // A header whose width differs from the rows'.
        let err = error_with("a,label\n1,2,0\n", "auto");
        assert!(err.contains("t.csv:2") && err.contains("names 2"), "{err}");
    }

    #[test]
    fn tabs_semicolons_and_quoted_cells() {
        let tsv = "\"width\"\t\"height\"\t\"Species\"\n1\t2\t\"setosa\"\n3\t4\t\"virginica\"\n";
        let d = parse_with(tsv, "auto").unwrap();
        assert_eq!(
            (d.labels.clone(), d.features.clone()),
            (vec![0, 1], vec![1., 2., 3., 4.])
        );
        let d = parse_with("a;b;class\n1.5;2;x\n3;4.25;y\n", "class").unwrap();
        assert_eq!(d.features, vec![1.5, 2., 3., 4.25]);
        assert_eq!(parse_with(tsv, "species").unwrap().num_classes, 2);
    }

    #[test]
    fn a_column_of_mostly_distinct_values_is_not_a_label() {
        // 20 rows, 20 distinct ids in the last column: refused, with the flag to fix it.
        let rows: String = (0..20)
            .map(|i| format!("{},{},{i}\n", i % 2, i % 3))
            .collect();
        let err = error_with(&rows, "auto");
        assert!(
            err.contains("20 distinct values in 20 rows") && err.contains("--label-column"),
            "{err}"
        );
        // The first column as the label instead: two classes.
        let d = parse_with(&rows, "1").unwrap();
        assert_eq!(d.num_classes, 2);
        // Few rows are not judged (a tiny file may have a class per row).
        assert_eq!(
            parse_with("1,0\n2,1\n3,2\n", "auto").unwrap().num_classes,
            3
        );
    }
}
