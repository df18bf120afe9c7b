//! `mole measure`: matrix-based Rényi entropies, mutual information, HSIC and nHSIC between two
//! groups of columns of a CSV file.
//!
//! ```text
//! mole measure FILE.csv --x 0..4 --y 4 [--y-labels] [--header] [--alpha 2]
//!              [--sigma-x 1.0|scaled:S|silverman|median|knn[:K]] [--sigma-y ...] [--standardize]
//! ```
//!
//! Columns are 0-based: `a..b` is half-open, `a,b,c` a list, `a` a single column (items can
//! be mixed: `0..3,5`). Prints one JSON object with the keys `entropy_x`, `entropy_y`,
//! `joint_entropy`, `mutual_information`, `normalized_mutual_information` (I / max(S_x, S_y)),
//! `hsic` (biased), `nhsic` (ε = 1e-5, H K H centring), `samples`, `alpha`, `sigma_x`,
//! `sigma_y` (the effective Gaussian widths used; `sigma_y` is null for labels). Entropies are
//! in bits. Every problem with the input file or the arguments is an [`InputError`].

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use burn::tensor::{Device, Tensor, TensorData};
use mole_info::{
    Centering, GaussianKernel, KernelWidth, LabelKernel, NHSIC_EPSILON, hsic, mutual_information,
    nhsic,
};
use serde_json::{Value, json};

/// Arguments of `mole measure`.
#[derive(clap::Args, Debug, Clone)]
pub struct MeasureArgs {
    /// CSV file: comma-separated, one sample per line, numeric cells in the selected columns.
    pub file: PathBuf,
    /// Columns of X (0-based): `a..b` (half-open), `a,b,c`, or a single `a`.
    #[arg(long)]
    pub x: String,
    /// Columns of Y (0-based), same syntax as `--x`.
    #[arg(long)]
    pub y: String,
    /// Treat Y (a single column of integers) as class labels, with the delta kernel.
    #[arg(long)]
    pub y_labels: bool,
    /// Skip the first line of the file.
    #[arg(long)]
    pub header: bool,
    /// Rényi order α (> 0; 2 avoids eigendecompositions; 1 is the Shannon limit).
    #[arg(long, default_value = "2")]
    pub alpha: f64,
    /// Gaussian width for X: a number, `scaled:S`, `silverman`, `median` or `knn[:K]`.
    #[arg(long, default_value = "median")]
    pub sigma_x: String,
    /// Gaussian width for Y (ignored with `--y-labels`).
    #[arg(long, default_value = "median")]
    pub sigma_y: String,
    /// Standardise every selected numeric column to zero mean and unit (sample) variance.
    #[arg(long)]
    pub standardize: bool,
}

/// A problem with the input file or the command-line arguments (the binary maps it to exit
/// code 2). Lines are 1-based; columns are 0-based, as in `--x` / `--y`.
#[derive(Debug)]
pub enum InputError {
    /// The file could not be read.
    Read {
        /// The file.
        file: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// A problem located at a line and column of the file.
    Cell {
        /// The file.
        file: PathBuf,
        /// 1-based line number.
        line: usize,
        /// 0-based column index.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// The file has fewer than two data rows.
    TooFewRows {
        /// The file.
        file: PathBuf,
        /// Number of data rows found.
        rows: usize,
        /// 1-based number of the last line of the file.
        line: usize,
    },
    /// A bad argument value (column spec, kernel width, α, label options).
    Argument {
        /// The option, e.g. `--x`.
        option: &'static str,
        /// The value given.
        value: String,
        /// What is wrong.
        message: String,
    },
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputError::Read { file, source } => {
                write!(f, "{}: cannot read the file: {source}", file.display())
            }
            InputError::Cell {
                file,
                line,
                column,
                message,
            } => write!(
                f,
                "{}: line {line}, column {column} (0-based): {message}",
                file.display()
            ),
            InputError::TooFewRows { file, rows, line } => write!(
                f,
                "{}: line {line}: found {rows} data row(s), at least 2 are needed",
                file.display()
            ),
            InputError::Argument {
                option,
                value,
                message,
            } => write!(f, "invalid value {value:?} for {option}: {message}"),
        }
    }
}

impl std::error::Error for InputError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            InputError::Read { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Parses a column specification: comma-separated items, each a 0-based index `a` or a
/// half-open range `a..b` (`b > a`). Returns the columns in the order given.
pub fn parse_columns(spec: &str, option: &'static str) -> Result<Vec<usize>, InputError> {
    let err = |message: String| InputError::Argument {
        option,
        value: spec.to_string(),
        message,
    };
    let index = |s: &str| -> Result<usize, InputError> {
        s.trim().parse::<usize>().map_err(|_| {
            err(format!(
                "{:?} is not a column index (0-based non-negative integer)",
                s.trim()
            ))
        })
    };
    let mut columns = Vec::new();
    for item in spec.split(',') {
        let item = item.trim();
        if item.is_empty() {
            return Err(err(
                "empty column item (expected e.g. \"0..4\", \"0,2,3\" or \"4\")".to_string(),
            ));
        }
        if let Some((a, b)) = item.split_once("..") {
            let (a, b) = (index(a)?, index(b)?);
            if b <= a {
                return Err(err(format!(
                    "the range {a}..{b} is empty (ranges are half-open: a..b selects a to b-1)"
                )));
            }
            columns.extend(a..b);
        } else {
            columns.push(index(item)?);
        }
    }
    Ok(columns)
}

/// The data rows of a CSV file: each with its 1-based line number and its cells.
#[derive(Debug)]
pub struct CsvTable {
    /// The file the rows came from (for error messages).
    pub file: PathBuf,
    /// `(line number, cells)` of every non-blank data line.
    pub rows: Vec<(usize, Vec<String>)>,
    /// Number of columns (the same on every row).
    pub columns: usize,
}

impl CsvTable {
    /// Reads a comma-separated file. Blank lines are skipped; `header` skips the first line.
    /// Every data row must have the same number of cells, and there must be at least 2 rows.
    pub fn read(file: &Path, header: bool) -> Result<Self, InputError> {
        let text = std::fs::read_to_string(file).map_err(|source| InputError::Read {
            file: file.to_path_buf(),
            source,
        })?;
        Self::parse(&text, file, header)
    }

    /// Parses the text of a CSV file (see [`CsvTable::read`]); `file` is used in messages.
    pub fn parse(text: &str, file: &Path, header: bool) -> Result<Self, InputError> {
        let mut rows: Vec<(usize, Vec<String>)> = Vec::new();
        let mut columns = 0;
        let mut last_line = 0;
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            last_line = line;
            if header && index == 0 {
                continue;
            }
            let raw = raw.trim_end_matches('\r');
            if raw.trim().is_empty() {
                continue;
            }
            let cells: Vec<String> = raw.split(',').map(|c| c.trim().to_string()).collect();
            if rows.is_empty() {
                columns = cells.len();
            } else if cells.len() != columns {
                let first_line = rows[0].0;
                return Err(InputError::Cell {
                    file: file.to_path_buf(),
                    line,
                    column: cells.len().min(columns),
                    message: format!(
                        "expected {columns} columns (as on line {first_line}), found {}",
                        cells.len()
                    ),
                });
            }
            rows.push((line, cells));
        }
        if rows.len() < 2 {
            return Err(InputError::TooFewRows {
                file: file.to_path_buf(),
                rows: rows.len(),
                line: last_line,
            });
        }
        Ok(Self {
            file: file.to_path_buf(),
            rows,
            columns,
        })
    }

    fn cell_error(&self, line: usize, column: usize, message: String) -> InputError {
        InputError::Cell {
            file: self.file.clone(),
            line,
            column,
            message,
        }
    }

    fn check_columns(&self, selected: &[usize]) -> Result<(), InputError> {
        if let Some(&bad) = selected.iter().find(|&&c| c >= self.columns) {
            return Err(self.cell_error(
                self.rows[0].0,
                bad,
                format!(
                    "column {bad} is out of range: the file has {} columns (0..{})",
                    self.columns, self.columns
                ),
            ));
        }
        Ok(())
    }

    /// The selected columns as a row-major `[rows, columns.len()]` matrix of finite numbers.
    pub fn numeric(&self, selected: &[usize]) -> Result<Vec<f64>, InputError> {
        self.check_columns(selected)?;
        let mut values = Vec::with_capacity(self.rows.len() * selected.len());
        for (line, cells) in &self.rows {
            for &c in selected {
                let cell = &cells[c];
                match cell.parse::<f64>() {
                    Ok(v) if v.is_finite() => values.push(v),
                    Ok(_) => {
                        return Err(self.cell_error(
                            *line,
                            c,
                            format!("{cell:?} is not a finite number"),
                        ));
                    }
                    Err(_) => {
                        return Err(self.cell_error(
                            *line,
                            c,
                            format!("cannot parse {cell:?} as a number"),
                        ));
                    }
                }
            }
        }
        Ok(values)
    }

    /// Integer class labels of one column, remapped to `0..C` in increasing order of the
    /// original values. Returns the labels and `C`.
    pub fn labels(&self, column: usize) -> Result<(Vec<usize>, usize), InputError> {
        self.check_columns(&[column])?;
        let mut raw = Vec::with_capacity(self.rows.len());
        for (line, cells) in &self.rows {
            let cell = &cells[column];
            let value = cell.parse::<i64>().ok().or_else(|| {
                cell.parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite() && v.fract() == 0.0 && v.abs() < 9.0e15)
                    .map(|v| v as i64)
            });
            match value {
                Some(v) => raw.push(v),
                None => {
                    return Err(self.cell_error(
                        *line,
                        column,
                        format!("cannot parse {cell:?} as an integer class label"),
                    ));
                }
            }
        }
        let mut classes: BTreeMap<i64, usize> = raw.iter().map(|&v| (v, 0)).collect();
        for (index, slot) in classes.values_mut().enumerate() {
            *slot = index;
        }
        let labels = raw.iter().map(|v| classes[v]).collect();
        Ok((labels, classes.len()))
    }
}

/// Standardises the columns of a row-major `[rows, cols]` matrix in place to zero mean and
/// unit sample variance (denominator `rows − 1`); constant columns are only centred.
pub fn standardize_columns(values: &mut [f64], rows: usize, cols: usize) {
    for j in 0..cols {
        let mean = (0..rows).map(|i| values[i * cols + j]).sum::<f64>() / rows as f64;
        let var = (0..rows)
            .map(|i| (values[i * cols + j] - mean).powi(2))
            .sum::<f64>()
            / (rows.saturating_sub(1).max(1)) as f64;
        let std = if var > 0.0 { var.sqrt() } else { 1.0 };
        for i in 0..rows {
            values[i * cols + j] = (values[i * cols + j] - mean) / std;
        }
    }
}

fn parse_width(value: &str, option: &'static str) -> Result<KernelWidth, InputError> {
    value
        .parse()
        .map_err(|e: mole_info::ParseKernelWidthError| InputError::Argument {
            option,
            value: value.to_string(),
            message: e.reason,
        })
}

fn to_tensor(values: &[f64], rows: usize, cols: usize, device: &Device) -> Tensor<2> {
    let v: Vec<f32> = values.iter().map(|&x| x as f32).collect();
    Tensor::from_data(TensorData::new(v, [rows, cols]), device)
}

fn scalar(t: &Tensor<1>) -> f64 {
    t.to_data()
        .try_into_vec_as::<f64>()
        .expect("float tensor")
        .first()
        .copied()
        .unwrap_or(f64::NAN)
}

/// Computes the measures and returns them as a JSON object (see the module docs for keys).
pub fn measure(args: &MeasureArgs) -> anyhow::Result<Value> {
    let x_columns = parse_columns(&args.x, "--x")?;
    let y_columns = parse_columns(&args.y, "--y")?;
    if !(args.alpha.is_finite() && args.alpha > 0.0) {
        return Err(InputError::Argument {
            option: "--alpha",
            value: args.alpha.to_string(),
            message: "the Rényi order must be finite and > 0".to_string(),
        }
        .into());
    }
    if args.y_labels && y_columns.len() != 1 {
        return Err(InputError::Argument {
            option: "--y",
            value: args.y.clone(),
            message: format!(
                "--y-labels needs exactly one Y column, got {}",
                y_columns.len()
            ),
        }
        .into());
    }
    let width_x = parse_width(&args.sigma_x, "--sigma-x")?;
    let width_y = if args.y_labels {
        None
    } else {
        Some(parse_width(&args.sigma_y, "--sigma-y")?)
    };

    let table = CsvTable::read(&args.file, args.header)?;
    let rows = table.rows.len();
    let device = Device::flex();

    let dx = x_columns.len();
    let mut x = table.numeric(&x_columns)?;
    if args.standardize {
        standardize_columns(&mut x, rows, dx);
    }
    let gram_x = GaussianKernel::new(width_x).gram(to_tensor(&x, rows, dx, &device));

    let (kx, sigma_x) = (gram_x.matrix, gram_x.sigma);
    let (ky, sigma_y) = match width_y {
        None => {
            let (labels, classes) = table.labels(y_columns[0])?;
            (LabelKernel::Delta.gram(&labels, classes, &device), None)
        }
        Some(width) => {
            let dy = y_columns.len();
            let mut y = table.numeric(&y_columns)?;
            if args.standardize {
                standardize_columns(&mut y, rows, dy);
            }
            let gram = GaussianKernel::new(width).gram(to_tensor(&y, rows, dy, &device));
            (gram.matrix, Some(gram.sigma))
        }
    };

    let mi = mutual_information(kx.clone(), ky.clone(), args.alpha);
    let hsic_value = hsic(kx.clone(), ky.clone());
    let nhsic_value = nhsic(kx, ky, NHSIC_EPSILON, Centering::Both);
    Ok(json!({
        "entropy_x": scalar(&mi.entropy_a),
        "entropy_y": scalar(&mi.entropy_b),
        "joint_entropy": scalar(&mi.joint_entropy),
        "mutual_information": scalar(&mi.value),
        "normalized_mutual_information": scalar(&mi.normalized()),
        "hsic": scalar(&hsic_value),
        "nhsic": scalar(&nhsic_value),
        "samples": rows,
        "alpha": args.alpha,
        "sigma_x": sigma_x,
        "sigma_y": sigma_y,
    }))
}

/// Runs `mole measure`: prints one JSON object (one line) to stdout.
pub fn run(args: &MeasureArgs) -> anyhow::Result<()> {
    let value = measure(args)?;
    println!("{}", serde_json::to_string(&value)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A CSV file in the temporary folder, removed when dropped.
    struct TempCsv(PathBuf);

    impl std::ops::Deref for TempCsv {
        type Target = PathBuf;
        fn deref(&self) -> &PathBuf {
            &self.0
        }
    }

    impl Drop for TempCsv {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    fn temp_csv(content: &str) -> TempCsv {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("mole-measure-test-{}-{n}.csv", std::process::id()));
        std::fs::write(&path, content).unwrap();
        TempCsv(path)
    }

    fn args(file: &Path, x: &str, y: &str) -> MeasureArgs {
        MeasureArgs {
            file: file.to_path_buf(),
            x: x.to_string(),
            y: y.to_string(),
            y_labels: false,
            header: false,
            alpha: 2.0,
            sigma_x: "median".to_string(),
            sigma_y: "median".to_string(),
            standardize: false,
        }
    }

    fn input_error(result: anyhow::Result<Value>) -> String {
        let err = result.expect_err("expected an error");
        assert!(
            err.downcast_ref::<InputError>().is_some(),
            "not an InputError: {err}"
        );
        err.to_string()
    }

    #[test]
    fn column_specs_parse() {
        assert_eq!(parse_columns("4", "--y").unwrap(), vec![4]);
        assert_eq!(parse_columns("0..4", "--x").unwrap(), vec![0, 1, 2, 3]);
        assert_eq!(parse_columns("2,0,5", "--x").unwrap(), vec![2, 0, 5]);
        assert_eq!(parse_columns(" 0..2 , 7", "--x").unwrap(), vec![0, 1, 7]);
    }

    #[test]
    fn bad_column_specs_are_rejected() {
        for spec in [
            "", "x", "-1", "1.5", "3..3", "4..2", "0..", "..3", "1,,2", "1,",
        ] {
            let err = parse_columns(spec, "--x").unwrap_err();
            let msg = err.to_string();
            assert!(matches!(err, InputError::Argument { .. }), "{spec:?}");
            assert!(
                msg.contains("--x") && msg.contains(&format!("{spec:?}")),
                "{msg}"
            );
        }
    }

    #[test]
    fn missing_file_names_the_file() {
        let path = std::env::temp_dir().join("mole-measure-does-not-exist.csv");
        let msg = input_error(measure(&args(&path, "0", "1")));
        assert!(msg.contains("mole-measure-does-not-exist.csv"), "{msg}");
    }

    #[test]
    fn ragged_row_names_file_line_and_column() {
        let path = temp_csv("1,2,3\n4,5,6\n7,8\n");
        let msg = input_error(measure(&args(&path, "0", "1")));
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert!(msg.contains("line 3") && msg.contains("column 2"), "{msg}");
        assert!(msg.contains("expected 3 columns"), "{msg}");
    }

    #[test]
    fn non_numeric_cell_names_file_line_and_column() {
        let path = temp_csv("a,b,c\n1,2,3\n4,x,6\n7,8,9\n");
        let mut a = args(&path, "0..2", "2");
        a.header = true;
        let msg = input_error(measure(&a));
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert!(msg.contains("line 3") && msg.contains("column 1"), "{msg}");
        assert!(msg.contains("\"x\""), "{msg}");
        // Without --header the header line itself is the bad row.
        let msg = input_error(measure(&args(&path, "0..2", "2")));
        assert!(msg.contains("line 1") && msg.contains("column 0"), "{msg}");
    }

    #[test]
    fn non_finite_and_non_integer_labels_are_rejected() {
        let path = temp_csv("1,0\nnan,1\n3,1\n");
        let msg = input_error(measure(&args(&path, "0", "1")));
        assert!(msg.contains("line 2") && msg.contains("column 0"), "{msg}");
        let path = temp_csv("1,0\n2,1.5\n3,1\n");
        let mut a = args(&path, "0", "1");
        a.y_labels = true;
        let msg = input_error(measure(&a));
        assert!(msg.contains("line 2") && msg.contains("column 1"), "{msg}");
    }

    #[test]
    fn column_out_of_range_names_file_line_and_column() {
        let path = temp_csv("\n1,2\n3,4\n5,6\n");
        let msg = input_error(measure(&args(&path, "0..3", "1")));
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        // The first data line is line 2 (line 1 is blank).
        assert!(msg.contains("line 2") && msg.contains("column 2"), "{msg}");
        assert!(msg.contains("out of range"), "{msg}");
    }

    #[test]
    fn fewer_than_two_rows_is_an_error() {
        for content in ["", "1,2\n", "h1,h2\n1,2\n"] {
            let path = temp_csv(content);
            let mut a = args(&path, "0", "1");
            a.header = content.starts_with('h');
            let msg = input_error(measure(&a));
            assert!(msg.contains(&path.display().to_string()), "{msg}");
            assert!(msg.contains("at least 2"), "{msg}");
        }
    }

    #[test]
    fn bad_arguments_are_input_errors() {
        let path = temp_csv("1,2\n3,4\n5,6\n");
        let mut a = args(&path, "0", "1");
        a.sigma_x = "wide".to_string();
        assert!(input_error(measure(&a)).contains("--sigma-x"));
        let mut a = args(&path, "0", "1");
        a.alpha = 0.0;
        assert!(input_error(measure(&a)).contains("--alpha"));
        let mut a = args(&path, "1", "0,1");
        a.y_labels = true;
        assert!(input_error(measure(&a)).contains("--y-labels"));
    }

    #[test]
    fn labels_are_remapped_in_value_order() {
        let table = CsvTable::parse("1,7\n2,-3\n3,7\n4,10\n", Path::new("t.csv"), false).unwrap();
        let (labels, classes) = table.labels(1).unwrap();
        assert_eq!(classes, 3);
        assert_eq!(labels, vec![1, 0, 1, 2]);
    }

    #[test]
    fn standardize_gives_zero_mean_unit_variance() {
        let mut v = vec![1.0, 5.0, 2.0, 5.0, 3.0, 5.0, 6.0, 5.0];
        standardize_columns(&mut v, 4, 2);
        let col0: Vec<f64> = (0..4).map(|i| v[i * 2]).collect();
        let mean = col0.iter().sum::<f64>() / 4.0;
        let var = col0.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 3.0;
        assert!(mean.abs() < 1e-12 && (var - 1.0).abs() < 1e-12);
        // The constant column is centred only.
        assert!((0..4).all(|i| v[i * 2 + 1] == 0.0));
    }

    #[test]
    fn labels_measured_against_themselves() {
        // X = the label column itself (as a number) and Y = the labels: I(X; Y) = S(Y) for
        // α = 2 because well-separated integer values with a small σ give a 0/1 Gram matrix.
        // 3 balanced classes: S(Y) = log2 3.
        let content: String = (0..30)
            .map(|i| format!("{}.0,{}\n", 10 * (i % 3), i % 3))
            .collect();
        let path = temp_csv(&format!("col_a,col_b\n{content}"));
        let mut a = args(&path, "0", "1");
        a.header = true;
        a.y_labels = true;
        a.sigma_x = "0.5".to_string();
        let v = measure(&a).unwrap();
        let get = |k: &str| v[k].as_f64().unwrap();
        let log2_3 = 3f64.log2();
        // Gram entries exp(-100/0.5) underflow to exactly 0 in f32, so the only error is f32
        // rounding of the returned values.
        assert!((get("entropy_y") - log2_3).abs() < 1e-5);
        assert!((get("entropy_x") - log2_3).abs() < 1e-5);
        assert!((get("mutual_information") - log2_3).abs() < 1e-5);
        assert!((get("normalized_mutual_information") - 1.0).abs() < 1e-5);
        assert_eq!(v["samples"], 30);
        assert_eq!(v["alpha"], 2.0);
        assert_eq!(v["sigma_x"], 0.5);
        assert!(v["sigma_y"].is_null());
        for key in ["hsic", "nhsic", "joint_entropy"] {
            assert!(v[key].as_f64().unwrap().is_finite(), "{key}");
        }
    }

    #[test]
    fn gaussian_y_with_standardize() {
        let content: String = (0..20)
            .map(|i| {
                let t = i as f64 / 3.0;
                format!("{},{},{}\n", t.sin(), t.cos(), 100.0 * t.sin())
            })
            .collect();
        let path = temp_csv(&content);
        let mut a = args(&path, "0..2", "2");
        a.standardize = true;
        a.alpha = 1.01;
        let v = measure(&a).unwrap();
        assert!(v["sigma_y"].as_f64().unwrap() > 0.0);
        assert!(v["mutual_information"].as_f64().unwrap() > 0.0);
        let keys = [
            "entropy_x",
            "entropy_y",
            "joint_entropy",
            "mutual_information",
            "normalized_mutual_information",
            "hsic",
            "nhsic",
            "samples",
            "alpha",
            "sigma_x",
            "sigma_y",
        ];
        assert_eq!(v.as_object().unwrap().len(), keys.len());
        for key in keys {
            assert!(v.get(key).is_some(), "{key}");
        }
    }
}
