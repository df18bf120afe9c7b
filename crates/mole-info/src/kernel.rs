//! Pairwise distances, Gaussian Gram matrices, kernel-width rules and label kernels.
//!
//! Conventions used throughout the crate:
//! - samples are the rows of a `[m, d]` tensor;
//! - a Gaussian kernel is always written `k(x, y) = exp(-‖x − y‖² / (2σ²))` and every width rule
//!   resolves to that *effective* σ (so dimension-scaled widths are converted, see
//!   [`KernelWidth::DimensionScaled`]);
//! - data-driven widths are computed on the host, without gradient, from the current batch.

use std::fmt;
use std::str::FromStr;

use burn::tensor::{Bool, Device, Tensor, TensorData};

use crate::eigen::tensor_to_vec_f64;

/// Smallest σ a data-driven rule ([`KernelWidth::Silverman`], [`KernelWidth::Median`],
/// [`KernelWidth::Knn`]) may return. It guards against σ = 0 for constant or duplicated
/// batches and is the floor used by the median heuristic of the HSIC reference code.
pub const MIN_DATA_DRIVEN_SIGMA: f64 = 1e-2;

/// Default number of neighbours for [`KernelWidth::Knn`] (the `k = 5` of the authors' MATLAB).
pub const DEFAULT_KNN: usize = 5;

/// Squared Euclidean distances between the rows of `x` (`[m, d]` → `[m, m]`):
///
/// `D_ij = ‖x_i‖² − 2 x_i·x_j + ‖x_j‖²`, clamped at 0 (round-off can make it slightly
/// negative), with an exact 0 diagonal.
///
/// Differentiable with respect to `x`; the clamped entries and the diagonal carry no gradient.
pub fn pairwise_sq_distances(x: Tensor<2>) -> Tensor<2> {
    let [m, _] = x.dims();
    let device = x.device();
    let sq = x.clone().square().sum_dim(1); // [m, 1]
    let gram = x.clone().matmul(x.transpose()); // [m, m]
    let d = sq.clone() + sq.transpose() - gram.mul_scalar(2.0);
    // `diag_mask` is false on the diagonal; negate it to select the diagonal.
    let diagonal = Tensor::<2, Bool>::diag_mask([m, m], 0, &device).bool_not();
    d.clamp_min(0.0).mask_fill(diagonal, 0.0)
}

/// [`pairwise_sq_distances`] of the rows of `x` (a tensor without autodiff) on the host, in
/// f64, row-major and symmetric: the upper triangle of `x xᵀ` ([`upper_inner_products_host`]), then
/// `‖x_i‖² + ‖x_j‖² − 2 x_iᵀ x_j` (clamped at 0, diagonal 0) in one pass, with `‖x_i‖²` read
/// from the product's diagonal.
pub fn pairwise_sq_distances_host(x: &Tensor<2>) -> Vec<f64> {
    let [m, _] = x.dims();
    let inner = upper_inner_products_host(x);
    let norms: Vec<f64> = (0..m).map(|i| f64::from(inner[i * m + i])).collect();
    // The upper triangle, mirrored: exactly symmetric.
    let mut out = vec![0.0; m * m];
    for i in 0..m {
        for j in i + 1..m {
            let d = squared_distance(norms[i], norms[j], inner[i * m + j]);
            out[i * m + j] = d;
            out[j * m + i] = d;
        }
    }
    out
}

/// `‖x_i − x_j‖² = ‖x_i‖² + ‖x_j‖² − 2 x_iᵀ x_j` from the norms and the inner product, clamped
/// at 0 (round-off); NaN stays NaN, so that a failed step is still refused.
pub(crate) fn squared_distance(norm_i: f64, norm_j: f64, product: f32) -> f64 {
    let d = norm_i + norm_j - 2.0 * f64::from(product);
    if d < 0.0 { 0.0 } else { d }
}

/// The upper triangle and diagonal of `x xᵀ` (row-major `m × m`, f32; read entries `j ≥ i`
/// only) of the rows of `x` (a tensor without autodiff), on the host: panels of rows
/// through `gemm` on all cores, 62.5–75 % of the full product's multiply-adds.
pub fn upper_inner_products_host(x: &Tensor<2>) -> Vec<f32> {
    let [m, d] = x.dims();
    let rows = x
        .to_data()
        .try_into_vec_as::<f32>()
        .expect("a float matrix converts to f32");
    crate::host::upper_gram_f32(&rows, m, d)
}

/// Identity matrix with the shape, device and dtype of the square matrix `k`.
pub(crate) fn eye_like(k: &Tensor<2>) -> Tensor<2> {
    let [m, _] = k.dims();
    let device = k.device();
    Tensor::<2>::eye(m, &device).cast(k.dtype())
}

/// How the Gaussian width σ is chosen.
///
/// Every variant resolves (see [`KernelWidth::resolve`]) to the effective σ of
/// `k(x, y) = exp(-‖x − y‖² / (2σ²))`. Data-driven rules are evaluated on the host from the
/// current batch, without gradient.
///
/// Textual form (see the [`FromStr`] impl): `"1.5"`, `"scaled:5"`, `"silverman"`, `"median"`,
/// `"knn"`, `"knn:7"`.
#[derive(Clone, Debug, PartialEq)]
pub enum KernelWidth {
    /// A fixed width: `k = exp(-‖x − y‖² / (2σ²))`, effective σ = the value itself.
    Fixed(f64),
    /// The HSIC-bottleneck reference code's dimension-scaled width:
    /// `k = exp(-‖x − y‖² / (2σ² d))` with `d` the number of features (columns),
    /// i.e. effective σ = `σ·sqrt(d)`.
    DimensionScaled(f64),
    /// Silverman's rule as in the authors' MATLAB `kernel_width_estimation.m`:
    /// `σ = s · (4 / (3m))^{1/5} / sqrt(2)`, where `m` is the number of samples and `s` is the
    /// **mean over features of the per-feature sample standard deviation** (denominator
    /// `m − 1`, like MATLAB's `std`). Floored at [`MIN_DATA_DRIVEN_SIGMA`].
    ///
    /// Pitfall: this is the one-dimensional rule. For `d`-dimensional inputs the distances grow
    /// like `sqrt(d)·s`, so with many features the resulting σ is small compared with the
    /// distances and the Gram matrix tends to the identity (entropy → log2 m). The authors'
    /// NTC demo multiplies this σ by 10; use [`KernelWidth::Median`] for high-dimensional data.
    Silverman,
    /// Median heuristic: σ = the median of the pairwise Euclidean distances (**not** squared)
    /// over the pairs `i < j` (mean of the two middle values for an even count). When the
    /// median is 0 (many duplicates) the mean distance is used instead, as in the HSIC
    /// reference code. Floored at [`MIN_DATA_DRIVEN_SIGMA`].
    Median,
    /// k-nearest-neighbour rule: σ = the mean, over every sample `i` and each of its `k`
    /// nearest other samples `j`, of the Euclidean distance `‖x_i − x_j‖` (not squared; the
    /// authors' MATLAB averages *squared* distances and uses that directly as σ, which is not
    /// in distance units). `k` is capped at `m − 1`. Floored at [`MIN_DATA_DRIVEN_SIGMA`].
    Knn(usize),
}

/// Error returned when a [`KernelWidth`] string cannot be parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid kernel width {input:?}: {reason} (expected a positive number such as \"1.5\", \
     \"scaled:SIGMA\", \"silverman\", \"median\", \"knn\" or \"knn:K\")"
)]
pub struct ParseKernelWidthError {
    /// The string that failed to parse.
    pub input: String,
    /// Why it was rejected.
    pub reason: String,
}

impl FromStr for KernelWidth {
    type Err = ParseKernelWidthError;

    /// Parses `"1.5"` → `Fixed(1.5)`, `"scaled:5"` → `DimensionScaled(5.0)`, `"silverman"`,
    /// `"median"`, `"knn"` → `Knn(5)`, `"knn:7"` → `Knn(7)` (case-insensitive, surrounding
    /// whitespace ignored). Widths must be finite and > 0, `k` must be ≥ 1.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason: &str| ParseKernelWidthError {
            input: s.to_string(),
            reason: reason.to_string(),
        };
        let positive = |v: &str| -> Result<f64, ParseKernelWidthError> {
            let value: f64 = v
                .trim()
                .parse()
                .map_err(|_| err(&format!("{:?} is not a number", v.trim())))?;
            if value.is_finite() && value > 0.0 {
                Ok(value)
            } else {
                Err(err("the width must be finite and > 0"))
            }
        };
        let lower = s.trim().to_ascii_lowercase();
        match lower.as_str() {
            "" => Err(err("empty string")),
            "silverman" => Ok(KernelWidth::Silverman),
            "median" => Ok(KernelWidth::Median),
            "knn" => Ok(KernelWidth::Knn(DEFAULT_KNN)),
            _ => {
                if let Some(rest) = lower.strip_prefix("scaled:") {
                    Ok(KernelWidth::DimensionScaled(positive(rest)?))
                } else if let Some(rest) = lower.strip_prefix("knn:") {
                    let k: usize = rest
                        .trim()
                        .parse()
                        .map_err(|_| err(&format!("{:?} is not a neighbour count", rest.trim())))?;
                    if k == 0 {
                        Err(err("the neighbour count must be >= 1"))
                    } else {
                        Ok(KernelWidth::Knn(k))
                    }
                } else if lower
                    .starts_with(|c: char| c.is_ascii_digit() || c == '.' || c == '-' || c == '+')
                {
                    Ok(KernelWidth::Fixed(positive(&lower)?))
                } else {
                    Err(err("unknown width rule"))
                }
            }
        }
    }
}

impl fmt::Display for KernelWidth {
    /// Writes the textual form accepted by [`FromStr`] (round-trips).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KernelWidth::Fixed(s) => write!(f, "{s}"),
            KernelWidth::DimensionScaled(s) => write!(f, "scaled:{s}"),
            KernelWidth::Silverman => write!(f, "silverman"),
            KernelWidth::Median => write!(f, "median"),
            KernelWidth::Knn(k) => write!(f, "knn:{k}"),
        }
    }
}

impl KernelWidth {
    /// Returns the effective σ of `exp(-‖x − y‖² / (2σ²))` for the batch `x` (`[m, d]`), whose
    /// squared pairwise distances (from [`pairwise_sq_distances`]) are `sq_dists` (`[m, m]`).
    ///
    /// - `Fixed(σ)` → σ; `DimensionScaled(σ)` → `σ·sqrt(d)` (neither reads the data);
    /// - `Silverman` reads `x`; `Median` and `Knn` read `sq_dists` (one host transfer each).
    ///
    /// No gradient flows through σ.
    pub fn resolve(&self, x: &Tensor<2>, sq_dists: &Tensor<2>) -> f64 {
        self.resolve_host(x, || tensor_to_vec_f64(sq_dists))
    }

    /// [`KernelWidth::resolve`] with the squared distances on the host: `sq_dists()` gives them
    /// row-major (`m × m`), called only by the rules that read them.
    pub fn resolve_host<D: AsRef<[f64]>>(
        &self,
        x: &Tensor<2>,
        sq_dists: impl FnOnce() -> D,
    ) -> f64 {
        let [m, d] = x.dims();
        match *self {
            KernelWidth::Fixed(sigma) => sigma,
            KernelWidth::DimensionScaled(sigma) => sigma * (d as f64).sqrt(),
            KernelWidth::Silverman => {
                let values = tensor_to_vec_f64(x);
                silverman_sigma(&values, m, d)
            }
            KernelWidth::Median => median_sigma(sq_dists().as_ref(), m),
            KernelWidth::Knn(k) => knn_sigma(sq_dists().as_ref(), m, k),
        }
    }
}

/// Silverman's rule on a row-major `[m, d]` host matrix (see [`KernelWidth::Silverman`]).
pub(crate) fn silverman_sigma(x: &[f64], m: usize, d: usize) -> f64 {
    if m < 2 || d == 0 {
        return MIN_DATA_DRIVEN_SIGMA;
    }
    let mut std_sum = 0.0;
    for j in 0..d {
        let mean = (0..m).map(|i| x[i * d + j]).sum::<f64>() / m as f64;
        let var = (0..m).map(|i| (x[i * d + j] - mean).powi(2)).sum::<f64>() / (m - 1) as f64;
        std_sum += var.sqrt();
    }
    let s = std_sum / d as f64;
    let sigma = s * (4.0 / (3.0 * m as f64)).powf(0.2) / std::f64::consts::SQRT_2;
    floor_sigma(sigma)
}

/// Median heuristic on a row-major `[m, m]` matrix of squared distances.
pub(crate) fn median_sigma(sq: &[f64], m: usize) -> f64 {
    let mut dists: Vec<f64> = Vec::with_capacity(m * m.saturating_sub(1) / 2);
    for i in 0..m {
        for j in (i + 1)..m {
            dists.push(sq[i * m + j].max(0.0).sqrt());
        }
    }
    if dists.is_empty() {
        return MIN_DATA_DRIVEN_SIGMA;
    }
    let n = dists.len();
    let cmp = |a: &f64, b: &f64| a.total_cmp(b);
    let (_, upper, _) = dists.select_nth_unstable_by(n / 2, cmp);
    let upper = *upper;
    let median = if n % 2 == 1 {
        upper
    } else {
        // The largest element of the lower half is the other middle value.
        let lower = dists[..n / 2]
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        0.5 * (lower + upper)
    };
    let sigma = if median > 0.0 {
        median
    } else {
        dists.iter().sum::<f64>() / n as f64
    };
    floor_sigma(sigma)
}

/// k-nearest-neighbour rule on a row-major `[m, m]` matrix of squared distances.
pub(crate) fn knn_sigma(sq: &[f64], m: usize, k: usize) -> f64 {
    if m < 2 || k == 0 {
        return MIN_DATA_DRIVEN_SIGMA;
    }
    let k = k.min(m - 1);
    let mut total = 0.0;
    let mut row: Vec<f64> = Vec::with_capacity(m - 1);
    for i in 0..m {
        row.clear();
        row.extend(
            (0..m)
                .filter(|&j| j != i)
                .map(|j| sq[i * m + j].max(0.0).sqrt()),
        );
        row.select_nth_unstable_by(k - 1, |a, b| a.total_cmp(b));
        total += row[..k].iter().sum::<f64>();
    }
    floor_sigma(total / (m * k) as f64)
}

fn floor_sigma(sigma: f64) -> f64 {
    if sigma.is_nan() {
        sigma
    } else {
        sigma.max(MIN_DATA_DRIVEN_SIGMA)
    }
}

/// A Gaussian kernel `k(x, y) = exp(-‖x − y‖² / (2σ²))` whose σ follows a [`KernelWidth`] rule.
#[derive(Clone, Debug, PartialEq)]
pub struct GaussianKernel {
    /// How σ is chosen for each batch.
    pub width: KernelWidth,
}

/// A Gram matrix together with the effective σ it was built with.
#[derive(Clone, Debug)]
pub struct Gram {
    /// `K_ij = exp(-‖x_i − x_j‖² / (2σ²))`, shape `[m, m]`.
    pub matrix: Tensor<2>,
    /// The effective σ used (see [`KernelWidth::resolve`]).
    pub sigma: f64,
}

impl GaussianKernel {
    /// A Gaussian kernel with the given width rule.
    pub fn new(width: KernelWidth) -> Self {
        Self { width }
    }

    /// Gram matrix `K_ij = exp(-‖x_i − x_j‖² / (2σ²))` of the rows of `x` (`[m, d]` → `[m, m]`),
    /// with σ resolved from the batch by [`KernelWidth::resolve`].
    ///
    /// Differentiable with respect to `x` (σ itself is treated as a constant). The diagonal is
    /// exactly 1, so `tr(K) = m`.
    pub fn gram(&self, x: Tensor<2>) -> Gram {
        let _phase = crate::profile::scope(crate::profile::Phase::Gram);
        let sq = pairwise_sq_distances(x.clone());
        let sigma = self.width.resolve(&x, &sq);
        let matrix = sq.div_scalar(-2.0 * sigma * sigma).exp();
        Gram { matrix, sigma }
    }
}

/// A kernel on class labels.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum LabelKernel {
    /// `K_ij = 1` if `y_i = y_j`, else 0 (the two-valued same-class kernel; default).
    #[default]
    Delta,
    /// The HSIC reference code's choice: a dimension-scaled Gaussian on one-hot vectors,
    /// `K_ij = exp(-‖e_{y_i} − e_{y_j}‖² / (2σ² C))` with `C` the number of classes, i.e. 1 for
    /// the same class and `exp(-1 / (σ² C))` otherwise.
    GaussianOneHot(f64),
}

impl LabelKernel {
    /// Gram matrix `[m, m]` of the labels (no gradient), created on `device`.
    ///
    /// # Panics
    /// If a label is `>= num_classes`.
    pub fn gram(&self, labels: &[usize], num_classes: usize, device: &Device) -> Tensor<2> {
        let _phase = crate::profile::scope(crate::profile::Phase::Gram);
        let m = labels.len();
        let off = self.between_classes(labels, num_classes) as f32;
        let mut values = vec![off; m * m];
        for (i, &yi) in labels.iter().enumerate() {
            for (j, &yj) in labels.iter().enumerate() {
                if yi == yj {
                    values[i * m + j] = 1.0;
                }
            }
        }
        Tensor::from_data(TensorData::new(values, [m, m]), device)
    }

    /// [`LabelKernel::gram`] as a host matrix (f64).
    ///
    /// # Panics
    /// If a label is `>= num_classes`.
    pub fn gram_host(&self, labels: &[usize], num_classes: usize) -> faer::Mat<f64> {
        let off = self.between_classes(labels, num_classes);
        faer::Mat::from_fn(labels.len(), labels.len(), |i, j| {
            if labels[i] == labels[j] { 1.0 } else { off }
        })
    }

    /// The kernel's value between two different classes (it is 1 within a class).
    pub fn between_classes(&self, labels: &[usize], num_classes: usize) -> f64 {
        if let Some(&bad) = labels.iter().find(|&&y| y >= num_classes) {
            panic!("label {bad} is out of range for {num_classes} classes");
        }
        match *self {
            LabelKernel::Delta => 0.0,
            LabelKernel::GaussianOneHot(sigma) => {
                (-1.0 / (sigma * sigma * num_classes as f64)).exp()
            }
        }
    }
}
