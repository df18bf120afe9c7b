//! `embeddings.safetensors`: the raw input, each module's output and the labels on a
//! class-balanced test sample (rows are samples: images, vectors, nodes or pooled graphs).

use crate::ReportError;
use safetensors::{Dtype, SafeTensors};
use std::path::Path;

/// A dense row-major matrix of `rows` points with `cols` features each.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    /// Number of points.
    pub rows: usize,
    /// Features per point.
    pub cols: usize,
    /// `rows * cols` values, row-major.
    pub data: Vec<f32>,
}

impl Matrix {
    /// Point `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// The matrix restricted to the points `idx`, in that order.
    pub fn select(&self, idx: &[usize]) -> Matrix {
        let mut data = Vec::with_capacity(idx.len() * self.cols);
        for &i in idx {
            data.extend_from_slice(self.row(i));
        }
        Matrix {
            rows: idx.len(),
            cols: self.cols,
            data,
        }
    }
}

/// The tensors of an embeddings file that a report uses.
#[derive(Debug, Clone)]
pub struct Embeddings {
    /// The raw input, `[n, d]` (trailing axes of images are flattened).
    pub input: Matrix,
    /// `(k, output of module k)`, by increasing k (k = 1 is the first module).
    pub modules: Vec<(usize, Matrix)>,
    /// Class of each point.
    pub labels: Vec<usize>,
}

impl Embeddings {
    /// Number of classes (largest label + 1).
    pub fn classes(&self) -> usize {
        self.labels.iter().max().map_or(0, |m| m + 1)
    }
}

fn matrix(path: &Path, st: &SafeTensors<'_>, name: &str) -> Result<Matrix, ReportError> {
    let t = st
        .tensor(name)
        .map_err(|e| ReportError::corrupt(path, format!("tensor '{name}': {e}")))?;
    let shape = t.shape();
    if shape.is_empty() {
        return Err(ReportError::corrupt(
            path,
            format!("tensor '{name}' is a scalar, expected [n, d]"),
        ));
    }
    let rows = shape[0];
    let cols: usize = shape[1..].iter().product();
    let bytes = t.data();
    let data: Vec<f32> = match t.dtype() {
        Dtype::F32 => bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        Dtype::F64 => bytes
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")) as f32)
            .collect(),
        d => {
            return Err(ReportError::corrupt(
                path,
                format!("tensor '{name}' has dtype {d:?}, expected F32"),
            ));
        }
    };
    if data.iter().any(|v| !v.is_finite()) {
        return Err(ReportError::corrupt(
            path,
            format!("tensor '{name}' holds NaN or infinite values"),
        ));
    }
    Ok(Matrix {
        rows,
        cols: cols.max(1),
        data,
    })
}

/// Parses the bytes of an `embeddings.safetensors`; `path` only names the file in errors.
pub fn parse_embeddings(path: &Path, bytes: &[u8]) -> Result<Embeddings, ReportError> {
    let st = SafeTensors::deserialize(bytes)
        .map_err(|e| ReportError::corrupt(path, format!("not a safetensors file ({e})")))?;
    let input = matrix(path, &st, "input")?;
    let raw_labels = matrix(path, &st, "labels")?;
    let mut labels = Vec::with_capacity(raw_labels.data.len());
    for &l in &raw_labels.data {
        if l < 0.0 || l.fract() != 0.0 {
            return Err(ReportError::corrupt(
                path,
                format!("label {l} is not a class index"),
            ));
        }
        labels.push(l as usize);
    }
    let mut modules = Vec::new();
    for name in st.names() {
        if let Some(k) = name
            .strip_prefix("module_")
            .and_then(|k| k.parse::<usize>().ok())
        {
            modules.push((k, matrix(path, &st, name)?));
        }
    }
    modules.sort_by_key(|(k, _)| *k);
    for (name, rows) in std::iter::once(("input".to_string(), input.rows))
        .chain(modules.iter().map(|(k, m)| (format!("module_{k}"), m.rows)))
    {
        if rows != labels.len() {
            return Err(ReportError::corrupt(
                path,
                format!(
                    "tensor '{name}' has {rows} rows but there are {} labels",
                    labels.len()
                ),
            ));
        }
    }
    if labels.is_empty() {
        return Err(ReportError::corrupt(path, "no points (0 labels)"));
    }
    Ok(Embeddings {
        input,
        modules,
        labels,
    })
}

/// Serialises embeddings in the run-directory format (used by tests and fixtures).
pub fn to_safetensors(e: &Embeddings) -> Vec<u8> {
    use safetensors::tensor::TensorView;
    let le = |v: &[f32]| -> Vec<u8> { v.iter().flat_map(|x| x.to_le_bytes()).collect() };
    let labels: Vec<f32> = e.labels.iter().map(|&l| l as f32).collect();
    let mut owned: Vec<(String, Vec<usize>, Vec<u8>)> = vec![
        (
            "input".into(),
            vec![e.input.rows, e.input.cols],
            le(&e.input.data),
        ),
        ("labels".into(), vec![labels.len()], le(&labels)),
    ];
    for (k, m) in &e.modules {
        owned.push((format!("module_{k}"), vec![m.rows, m.cols], le(&m.data)));
    }
    let views: Vec<(String, TensorView<'_>)> = owned
        .iter()
        .map(|(n, s, b)| {
            (
                n.clone(),
                TensorView::new(Dtype::F32, s.clone(), b).expect("consistent view"),
            )
        })
        .collect();
    safetensors::serialize(views, None).expect("serialisable tensors")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Embeddings {
        Embeddings {
            input: Matrix {
                rows: 3,
                cols: 2,
                data: vec![0., 1., 2., 3., 4., 5.],
            },
            modules: vec![
                (
                    2,
                    Matrix {
                        rows: 3,
                        cols: 1,
                        data: vec![7., 8., 9.],
                    },
                ),
                (
                    1,
                    Matrix {
                        rows: 3,
                        cols: 1,
                        data: vec![1., 2., 3.],
                    },
                ),
            ],
            labels: vec![0, 1, 1],
        }
    }

    #[test]
    fn round_trip_orders_modules() {
        let e = parse_embeddings(Path::new("e"), &to_safetensors(&sample())).unwrap();
        assert_eq!(e.input.row(1), &[2., 3.]);
        assert_eq!(
            e.modules.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
            vec![1, 2]
        );
        assert_eq!(e.modules[1].1.data, vec![7., 8., 9.]);
        assert_eq!(e.classes(), 2);
        assert_eq!(e.input.select(&[2, 0]).data, vec![4., 5., 0., 1.]);
    }

    #[test]
    fn rejects_garbage_and_inconsistent_files() {
        let e = parse_embeddings(Path::new("x/embeddings.safetensors"), b"garbage").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("x/embeddings.safetensors: not a safetensors file"),
            "{e}"
        );
        let mut s = sample();
        s.labels.pop();
        let e = parse_embeddings(Path::new("e"), &to_safetensors(&s)).unwrap_err();
        assert!(
            e.to_string().contains("has 3 rows but there are 2 labels"),
            "{e}"
        );
    }
}
