//! The dependence measures of `mole measure` on numpy arrays.
//!
//! A *variable* comes from Python as a tuple `(kind, name, array, width)`:
//! `("values", name, float32|float64 array [n, d], width rule)` is kernelised with a Gaussian
//! whose width follows the rule (as `mole measure --sigma-x`); `("labels", name, int64 array
//! [n], None)` with the delta kernel (labels remapped to `0..C` in increasing order, as
//! `mole measure --y-labels` does). `name` is the argument's name for error messages.
//! Values are converted to f32, as `mole measure` converts its CSV cells, so the results are
//! the command's. Entropies are in bits.

use crate::{guard, value_error};
use burn::tensor::{Device, Tensor, TensorData};
use mole_info::{Centering, GaussianKernel, KernelWidth, LabelKernel, MutualInformation};
use numpy::{PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::collections::BTreeMap;

/// More samples than this would need Gram matrices and eigendecompositions of several GiB.
pub const MAX_SAMPLES: usize = 16_384;

/// A variable read from Python, owned (so that the computation can run without the GIL).
enum Var {
    Values {
        values: Vec<f32>,
        rows: usize,
        cols: usize,
        width: KernelWidth,
    },
    Labels {
        labels: Vec<usize>,
        classes: usize,
    },
}

impl Var {
    fn len(&self) -> usize {
        match self {
            Var::Values { rows, .. } => *rows,
            Var::Labels { labels, .. } => labels.len(),
        }
    }

    /// The Gram matrix and the effective Gaussian width (`None` for labels).
    fn gram(self, device: &Device) -> (Tensor<2>, Option<f64>) {
        match self {
            Var::Values {
                values,
                rows,
                cols,
                width,
            } => {
                let x = Tensor::<2>::from_data(TensorData::new(values, [rows, cols]), device);
                let g = GaussianKernel::new(width).gram(x);
                (g.matrix, Some(g.sigma))
            }
            Var::Labels { labels, classes } => {
                (LabelKernel::Delta.gram(&labels, classes, device), None)
            }
        }
    }
}

/// The finite values of a float array as f32, or the position of the first non-finite one.
fn finite_f32<T: Copy + Into<f64>>(
    values: impl Iterator<Item = T>,
    cols: usize,
    name: &str,
) -> PyResult<Vec<f32>> {
    let mut out = Vec::new();
    for (i, v) in values.enumerate() {
        let v: f64 = v.into();
        if !v.is_finite() {
            return Err(value_error(format!(
                "{name}: contains NaN or infinite values (first at row {}, column {}: {v})",
                i / cols.max(1),
                i % cols.max(1)
            )));
        }
        out.push(v as f32);
    }
    Ok(out)
}

fn variable(obj: &Bound<'_, PyAny>) -> PyResult<Var> {
    let kind: String = obj.get_item(0)?.extract()?;
    let name: String = obj.get_item(1)?.extract()?;
    let array = obj.get_item(2)?;
    match kind.as_str() {
        "values" => {
            let width: String = obj.get_item(3)?.extract()?;
            let width: KernelWidth = width
                .parse()
                .map_err(|e| value_error(format!("{name}: sigma: {e}")))?;
            let (values, rows, cols) = if let Ok(a) = array.extract::<PyReadonlyArray2<'_, f32>>() {
                let a = a.as_array();
                let (rows, cols) = a.dim();
                (finite_f32(a.iter().copied(), cols, &name)?, rows, cols)
            } else if let Ok(a) = array.extract::<PyReadonlyArray2<'_, f64>>() {
                let a = a.as_array();
                let (rows, cols) = a.dim();
                (finite_f32(a.iter().copied(), cols, &name)?, rows, cols)
            } else {
                return Err(value_error(format!(
                    "{name}: expected a 2-d float32 or float64 array [samples, features]"
                )));
            };
            if cols == 0 {
                return Err(value_error(format!("{name}: no features (0 columns)")));
            }
            Ok(Var::Values {
                values,
                rows,
                cols,
                width,
            })
        }
        "labels" => {
            let a: PyReadonlyArray1<'_, i64> = array.extract().map_err(|_| {
                value_error(format!("{name}: class labels must be a 1-d int64 array"))
            })?;
            // Remapped to 0..C in increasing order of the values, as `mole measure` does.
            let raw: Vec<i64> = a.as_array().iter().copied().collect();
            let mut classes: BTreeMap<i64, usize> = raw.iter().map(|&v| (v, 0)).collect();
            for (index, slot) in classes.values_mut().enumerate() {
                *slot = index;
            }
            let labels = raw.iter().map(|v| classes[v]).collect();
            Ok(Var::Labels {
                labels,
                classes: classes.len().max(1),
            })
        }
        other => Err(value_error(format!(
            "{name}: unknown variable kind '{other}'"
        ))),
    }
}

/// The variables, all with the same number of samples, at least 2 and at most
/// [`MAX_SAMPLES`].
fn variables(objs: &[Bound<'_, PyAny>]) -> PyResult<Vec<Var>> {
    if objs.is_empty() {
        return Err(value_error("at least one variable is needed"));
    }
    let mut vars = Vec::with_capacity(objs.len());
    let mut names = Vec::with_capacity(objs.len());
    for obj in objs {
        names.push(obj.get_item(1)?.extract::<String>()?);
        vars.push(variable(obj)?);
    }
    let n = vars[0].len();
    if vars.iter().any(|v| v.len() != n) {
        let counts: Vec<String> = names
            .iter()
            .zip(&vars)
            .map(|(name, v)| format!("{name}: {}", v.len()))
            .collect();
        return Err(value_error(format!(
            "the variables have different numbers of samples ({})",
            counts.join(", ")
        )));
    }
    if n < 2 {
        return Err(value_error(format!(
            "{}: at least two samples are needed, got {n}",
            names[0]
        )));
    }
    if n > MAX_SAMPLES {
        return Err(value_error(format!(
            "{}: {n} samples would need {n} x {n} Gram matrices; at most {MAX_SAMPLES} are \
             accepted (measure on a random subset)",
            names[0]
        )));
    }
    Ok(vars)
}

fn check_alpha(alpha: f64) -> PyResult<f64> {
    if alpha.is_finite() && alpha > 0.0 {
        Ok(alpha)
    } else {
        Err(value_error(format!(
            "alpha: the Renyi order must be finite and > 0, got {alpha}"
        )))
    }
}

/// `S_α(K / tr K)` in bits by `mole_info::renyi_entropy_host`, the computation of
/// `mole measure` (α = 2: the Frobenius norm; else faer's eigenvalues, block by block of the
/// non-zero pattern, negative round-off clamped to 0 and the spectrum rescaled to sum 1), no
/// gradient; NaN for a non-finite or non-positive trace.
fn entropy(k: Tensor<2>, alpha: f64) -> Tensor<1> {
    let (device, dtype) = (k.device(), k.dtype());
    let value = mole_info::renyi_entropy_host(
        mole_info::to_host(&k),
        alpha,
        false,
        mole_info::EigenPrecision::F64,
    )
    .map_or(f64::NAN, |e| e.value);
    mole_info::scalar(value, &device, dtype)
}

/// `S_α` of each Gram matrix ([`entropy`]), each on a thread of its own: the
/// eigendecompositions are independent, so two cores take about half the time of one.
fn entropies(grams: Vec<Tensor<2>>, alpha: f64) -> Vec<Tensor<1>> {
    if grams.len() < 2 || alpha == 2.0 {
        // α = 2 needs no eigendecomposition: a Frobenius norm, too cheap for threads.
        return grams.into_iter().map(|k| entropy(k, alpha)).collect();
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = grams
            .into_iter()
            .map(|k| scope.spawn(move || entropy(k, alpha)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}

/// `mole_info::total_correlation` with its entropies computed by [`entropies`].
fn total_correlation_of(grams: &[Tensor<2>], alpha: f64) -> Tensor<1> {
    let mut all = grams.to_vec();
    all.push(mole_info::hadamard_product(grams));
    let mut s = entropies(all, alpha);
    let joint = s.pop().expect("the joint entropy");
    mole_info::total_correlation_from_entropies(&s, joint)
}

fn scalar(t: &Tensor<1>) -> f64 {
    t.to_data()
        .try_into_vec_as::<f64>()
        .ok()
        .and_then(|v| v.first().copied())
        .unwrap_or(f64::NAN)
}

/// The Gram matrices of two variables and their [`MutualInformation`], pipelined: each
/// Gram matrix's entropy starts on a thread of its own as soon as the matrix exists, while the
/// next matrix and the joint entropy are computed.
fn pipelined_mi(
    a: Var,
    b: Var,
    alpha: f64,
    device: &Device,
) -> (MutualInformation, [Tensor<2>; 2], [Option<f64>; 2]) {
    if alpha == 2.0 {
        // No eigendecomposition: a Frobenius norm each, too cheap for threads.
        let ((ka, sa), (kb, sb)) = (a.gram(device), b.gram(device));
        let joint = mole_info::hadamard_product(&[ka.clone(), kb.clone()]);
        let mi = MutualInformation::from_entropies(
            entropy(ka.clone(), alpha),
            entropy(kb.clone(), alpha),
            entropy(joint, alpha),
        );
        return (mi, [ka, kb], [sa, sb]);
    }
    std::thread::scope(|scope| {
        let (ka, sa) = a.gram(device);
        let k = ka.clone();
        let ha = scope.spawn(move || entropy(k, alpha));
        let (kb, sb) = b.gram(device);
        let k = kb.clone();
        let hb = scope.spawn(move || entropy(k, alpha));
        let joint = entropy(
            mole_info::hadamard_product(&[ka.clone(), kb.clone()]),
            alpha,
        );
        let join = |h: std::thread::ScopedJoinHandle<'_, Tensor<1>>| {
            h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))
        };
        let mi = MutualInformation::from_entropies(join(ha), join(hb), joint);
        (mi, [ka, kb], [sa, sb])
    })
}

/// Runs `f` without the interpreter, under [`guard`].
fn compute<T: Send>(
    py: Python<'_>,
    what: &str,
    f: impl FnOnce(&Device) -> T + Send,
) -> PyResult<T> {
    py.detach(|| guard(what, || Ok(f(&Device::flex()))))
}

/// Runs `f` on the variables' Gram matrices without the interpreter, under [`guard`].
fn with_grams<T: Send>(
    py: Python<'_>,
    what: &str,
    vars: Vec<Var>,
    f: impl FnOnce(Vec<Tensor<2>>, Vec<Option<f64>>) -> T + Send,
) -> PyResult<T> {
    py.detach(|| {
        guard(what, || {
            let device = Device::flex();
            let (grams, sigmas) = vars.into_iter().map(|v| v.gram(&device)).unzip();
            Ok(f(grams, sigmas))
        })
    })
}

/// `S_α` of one variable, and the effective width (None for labels).
#[pyfunction]
fn renyi_entropy(
    py: Python<'_>,
    var: Bound<'_, PyAny>,
    alpha: f64,
) -> PyResult<(f64, Option<f64>)> {
    let alpha = check_alpha(alpha)?;
    let vars = variables(&[var])?;
    with_grams(py, "renyi_entropy", vars, |g, s| {
        (scalar(&entropy(g[0].clone(), alpha)), s[0])
    })
}

/// `I_α(A;B)`, or `I / max(S_A, S_B)` when `normalized`.
#[pyfunction]
fn mutual_information(
    py: Python<'_>,
    a: Bound<'_, PyAny>,
    b: Bound<'_, PyAny>,
    alpha: f64,
    normalized: bool,
) -> PyResult<f64> {
    let alpha = check_alpha(alpha)?;
    let mut vars = variables(&[a, b])?.into_iter();
    let (va, vb) = (vars.next().expect("two"), vars.next().expect("two"));
    compute(py, "mutual_information", |device| {
        let (mi, _, _) = pipelined_mi(va, vb, alpha, device);
        scalar(&if normalized {
            mi.normalized()
        } else {
            mi.value
        })
    })
}

/// Everything `mole measure` prints for X and Y, as a dict with the same keys.
#[pyfunction]
fn dependence<'py>(
    py: Python<'py>,
    a: Bound<'py, PyAny>,
    b: Bound<'py, PyAny>,
    alpha: f64,
    epsilon: f64,
) -> PyResult<Bound<'py, PyDict>> {
    let alpha = check_alpha(alpha)?;
    let epsilon = check_epsilon(epsilon)?;
    let vars = variables(&[a, b])?;
    let samples = vars[0].len();
    let mut vars = vars.into_iter();
    let (va, vb) = (vars.next().expect("two"), vars.next().expect("two"));
    let (values, sigmas) = compute(py, "dependence", |device| {
        let (mi, [kx, ky], s) = pipelined_mi(va, vb, alpha, device);
        let values = [
            ("entropy_x", scalar(&mi.entropy_a)),
            ("entropy_y", scalar(&mi.entropy_b)),
            ("joint_entropy", scalar(&mi.joint_entropy)),
            ("mutual_information", scalar(&mi.value)),
            ("normalized_mutual_information", scalar(&mi.normalized())),
            ("hsic", scalar(&mole_info::hsic(kx.clone(), ky.clone()))),
            (
                "nhsic",
                scalar(&mole_info::nhsic(kx, ky, epsilon, Centering::Both)),
            ),
        ];
        (values, s)
    })?;
    let out = PyDict::new(py);
    for (key, value) in values {
        out.set_item(key, value)?;
    }
    out.set_item("samples", samples)?;
    out.set_item("alpha", alpha)?;
    out.set_item("sigma_x", sigmas[0])?;
    out.set_item("sigma_y", sigmas[1])?;
    Ok(out)
}

/// `S_α(A_1, …, A_L)` (Hadamard product of the Gram matrices).
#[pyfunction]
fn joint_entropy(py: Python<'_>, vars: Vec<Bound<'_, PyAny>>, alpha: f64) -> PyResult<f64> {
    let alpha = check_alpha(alpha)?;
    let vars = variables(&vars)?;
    with_grams(py, "joint_entropy", vars, |g, _| {
        scalar(&entropy(mole_info::hadamard_product(&g), alpha))
    })
}

/// Normalised total correlation `T*_α` of two or more variables.
#[pyfunction]
fn total_correlation(py: Python<'_>, vars: Vec<Bound<'_, PyAny>>, alpha: f64) -> PyResult<f64> {
    let alpha = check_alpha(alpha)?;
    if vars.len() < 2 {
        return Err(value_error(format!(
            "total_correlation needs at least two variables, got {}",
            vars.len()
        )));
    }
    let vars = variables(&vars)?;
    with_grams(py, "total_correlation", vars, |g, _| {
        scalar(&total_correlation_of(&g, alpha))
    })
}

/// Biased HSIC, `tr(K H L H) / (m−1)²`.
#[pyfunction]
fn hsic(py: Python<'_>, a: Bound<'_, PyAny>, b: Bound<'_, PyAny>) -> PyResult<f64> {
    let vars = variables(&[a, b])?;
    with_grams(py, "hsic", vars, |g, _| {
        scalar(&mole_info::hsic(g[0].clone(), g[1].clone()))
    })
}

fn check_epsilon(epsilon: f64) -> PyResult<f64> {
    if epsilon.is_finite() && epsilon > 0.0 {
        Ok(epsilon)
    } else {
        Err(value_error(format!(
            "epsilon: must be finite and > 0, got {epsilon}"
        )))
    }
}

/// nHSIC with regulariser `epsilon` and `H K H` centring (as `mole measure`).
#[pyfunction]
fn nhsic(py: Python<'_>, a: Bound<'_, PyAny>, b: Bound<'_, PyAny>, epsilon: f64) -> PyResult<f64> {
    let epsilon = check_epsilon(epsilon)?;
    let vars = variables(&[a, b])?;
    with_grams(py, "nhsic", vars, |g, _| {
        scalar(&mole_info::nhsic(
            g[0].clone(),
            g[1].clone(),
            epsilon,
            Centering::Both,
        ))
    })
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(renyi_entropy, m)?)?;
    m.add_function(wrap_pyfunction!(mutual_information, m)?)?;
    m.add_function(wrap_pyfunction!(dependence, m)?)?;
    m.add_function(wrap_pyfunction!(joint_entropy, m)?)?;
    m.add_function(wrap_pyfunction!(total_correlation, m)?)?;
    m.add_function(wrap_pyfunction!(hsic, m)?)?;
    m.add_function(wrap_pyfunction!(nhsic, m)?)?;
    m.add("MAX_SAMPLES", MAX_SAMPLES)?;
    m.add("NHSIC_EPSILON", mole_info::NHSIC_EPSILON)?;
    Ok(())
}
