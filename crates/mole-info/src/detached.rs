//! Gram matrices built outside autodiff, and the route of a host gradient back to the samples in
//! one matrix product.
//!
//! A local objective is a function of the Gram matrix `K` of a module's output `X`. Letting
//! autodiff record `K`'s construction (pairwise distances, exponential, the estimator's
//! surrogate) costs a dozen `m × m` nodes and their backward. Here `K` is built from the
//! detached samples, the estimators return `G = ∂L/∂K` on the host, and the gradient with
//! respect to the samples follows from the kernel:
//!
//! - Gaussian, `K_ij = exp(−‖x_i − x_j‖² / 2σ²)`: `∂L/∂X = (P X − diag(P 1) X) / σ²` with
//!   `P = (G + Gᵀ) ∘ K` (σ is a constant of the step; the diagonal `K_ii = 1` carries none);
//! - linear, `K = X Xᵀ`: `∂L/∂X = (G + Gᵀ) X` (the centred-cosine kernel is the linear kernel
//!   of rows centred and scaled to unit norm, a transformation autodiff differentiates);
//!
//! injected into autodiff as `L̂ = const(L) + ⟨∂L/∂X, X⟩ − detach(⟨∂L/∂X, X⟩)`, whose value is
//! `L` and whose gradient with respect to `X` is `∂L/∂X`.

use burn::tensor::{Tensor, TensorData};
use faer::Mat;

use crate::eigen::{scalar, to_host};
use crate::host::{columns_mut, mirror_lower};
use crate::kernel::{
    GaussianKernel, KernelWidth, pairwise_sq_distances_host, squared_distance,
    upper_inner_products_host,
};
use rayon::prelude::*;

/// A Gram matrix on the host, with the samples it was built from.
#[derive(Clone, Debug)]
pub struct DetachedGram {
    /// The samples `[m, d]` as given (tracked by autodiff when the loss should reach them).
    samples: Tensor<2>,
    /// The same values without autodiff.
    plain: Tensor<2>,
    /// `K`, f64.
    pub matrix: Mat<f64>,
    /// The effective σ of a Gaussian kernel; `None` for the linear kernel.
    pub sigma: Option<f64>,
}

/// The kernel a local objective puts on a module's output.
#[derive(Clone, Debug, PartialEq)]
pub enum SampleKernel {
    /// Gaussian `exp(−‖x − y‖² / 2σ²)` with a width rule.
    Gaussian(GaussianKernel),
    /// Linear `xᵀy`.
    Linear,
    /// Centred cosine: `uᵀv` for rows centred over their features and scaled to unit norm,
    /// `u = (x − mean(x)) / ‖x − mean(x)‖` (the similarity matrices of Nøkland & Eidnes 2019).
    Cosine,
}

impl SampleKernel {
    /// The Gram matrix of the rows of `x` outside autodiff (see [`DetachedGram`]).
    pub fn detached_gram(&self, x: Tensor<2>) -> DetachedGram {
        match self {
            SampleKernel::Gaussian(k) => k.detached_gram(x),
            SampleKernel::Linear => linear_detached_gram(x),
            SampleKernel::Cosine => linear_detached_gram(centred_unit_rows(x)),
        }
    }

    /// Short name: `gaussian`, `linear` or `cosine`.
    pub fn name(&self) -> &'static str {
        match self {
            SampleKernel::Gaussian(_) => "gaussian",
            SampleKernel::Linear => "linear",
            SampleKernel::Cosine => "cosine",
        }
    }
}

/// Rows centred over their features and scaled to unit norm, `(x − mean) / √(‖x − mean‖² + 1e-16)`
/// (differentiable). The `1e-16` is below f32's resolution of any squared norm above 2e-9, so
/// ordinary rows are scaled exactly to unit norm; a constant row (a sample on which a ReLU layer
/// is dead) becomes zero with a finite gradient, where `max(‖·‖, 1e-8)` sent `∞ · 0 = NaN` back
/// through the square root.
pub fn centred_unit_rows(x: Tensor<2>) -> Tensor<2> {
    let centred = x.clone() - x.mean_dim(1);
    let norm = centred.clone().square().sum_dim(1).add_scalar(1e-16).sqrt();
    centred / norm
}

/// The linear Gram matrix `X Xᵀ` of the rows of `x` outside autodiff.
pub fn linear_detached_gram(x: Tensor<2>) -> DetachedGram {
    let _phase = crate::profile::scope(crate::profile::Phase::Gram);
    let plain = x.clone().detach().without_autodiff();
    let k = plain.clone().matmul(plain.clone().transpose());
    let mut matrix = to_host(&k);
    if (0..matrix.nrows()).all(|i| matrix[(i, i)] == 0.0) {
        // Every row zero (a batch on which a ReLU layer is dead): `K / tr K` is 0/0. Rows all
        // equal to any `c ≠ 0` give `K = ‖c‖² 11ᵀ`, the same matrix once normalised, so the
        // batch is scored as identical samples (entropy 0, no information about anything);
        // the gradient `(G + Gᵀ) X` is zero either way.
        matrix = Mat::from_fn(matrix.nrows(), matrix.ncols(), |_, _| 1.0);
    }
    DetachedGram {
        samples: x,
        plain,
        matrix,
        sigma: None,
    }
}

impl GaussianKernel {
    /// The Gram matrix of the rows of `x` without recording it for autodiff (built as
    /// [`GaussianKernel::gram`] on the detached rows, then copied to the host in f64); `x`
    /// itself is kept so that [`DetachedGram::loss`] can send a gradient to it.
    pub fn detached_gram(&self, x: Tensor<2>) -> DetachedGram {
        let _phase = crate::profile::scope(crate::profile::Phase::Gram);
        let plain = x.clone().detach().without_autodiff();
        let (matrix, sigma) = self.gram_host(&plain);
        DetachedGram {
            samples: x,
            plain,
            matrix,
            sigma: Some(sigma),
        }
    }

    /// [`GaussianKernel::gram`] of the rows of `x` (without autodiff) on the host, in f64, and
    /// its σ: the distances of [`pairwise_sq_distances_host`], then `exp(−d / 2σ²)` in f32
    /// ([`crate::exp::exp_f32`]). Symmetric, with a diagonal of exactly 1.
    pub fn gram_host(&self, x: &Tensor<2>) -> (Mat<f64>, f64) {
        let [m, _] = x.dims();
        let mut k = Mat::<f64>::zeros(m, m);
        let sigma = if matches!(self.width, KernelWidth::Median | KernelWidth::Knn(_)) {
            // The width rule reads the distances: build them, then exponentiate.
            let sq = pairwise_sq_distances_host(x);
            let sigma = self.width.resolve_host(x, || sq.as_slice());
            let scale = -1.0 / (2.0 * sigma * sigma);
            columns_mut(&mut k)
                .into_par_iter()
                .enumerate()
                .with_min_len(8)
                .for_each(|(j, column)| {
                    crate::exp::scaled_exp_into(&sq[j * m..(j + 1) * m], scale, column);
                });
            sigma
        } else {
            // Straight from the inner products, the lower triangle column by column (row j of
            // x xᵀ is contiguous), then mirrored: exactly symmetric.
            let sigma = self.width.resolve_host(x, Vec::<f64>::new);
            let scale = -1.0 / (2.0 * sigma * sigma);
            let inner = upper_inner_products_host(x);
            let norms: Vec<f64> = (0..m).map(|i| f64::from(inner[i * m + i])).collect();
            // Columns on the current rayon pool (each its own, elementwise: the same values on
            // any number of threads).
            columns_mut(&mut k)
                .into_par_iter()
                .enumerate()
                .with_min_len(8)
                .for_each_init(
                    || vec![0.0; m],
                    |d, (j, column)| {
                        let (nj, row) = (norms[j], &inner[j * m..(j + 1) * m]);
                        for ((d, &p), &ni) in d.iter_mut().zip(row).zip(&norms).skip(j + 1) {
                            *d = squared_distance(ni, nj, p);
                        }
                        crate::exp::scaled_exp_into(&d[j + 1..], scale, &mut column[j + 1..]);
                    },
                );
            mirror_lower(&mut k);
            sigma
        };
        for j in 0..m {
            k[(j, j)] = 1.0;
        }
        (k, sigma)
    }
}

impl DetachedGram {
    /// Number of samples.
    pub fn size(&self) -> usize {
        self.matrix.nrows()
    }

    /// The samples' device.
    pub fn device(&self) -> burn::tensor::Device {
        self.samples.device()
    }

    /// Whether the samples are tracked by autodiff (a gradient is wanted).
    pub fn is_tracked(&self) -> bool {
        self.samples.is_tracked()
    }

    /// `∂L/∂X` for `G = ∂L/∂K` (`[m, d]`, without autodiff): `(P X − diag(P 1) X) / σ²` with
    /// `P = (G + Gᵀ) ∘ K` for the Gaussian kernel, `(G + Gᵀ) X` for the linear one.
    ///
    /// # Panics
    /// If `g` is not `m × m`.
    pub fn sample_gradient(&self, g: &Mat<f64>) -> Tensor<2> {
        let m = self.size();
        assert_eq!((g.nrows(), g.ncols()), (m, m), "∂L/∂K must be m × m");
        let gt = g.transpose().to_owned();
        // (G + Gᵀ)_ij read down column i of both (contiguous).
        self.gradient_from_pairs(|i, j, _| g[(j, i)] + gt[(j, i)])
    }

    /// [`DetachedGram::sample_gradient`] for a symmetric `G` given entry by entry:
    /// `g(i, j, K_ij) = G_ij`, never stored.
    pub fn symmetric_sample_gradient(
        &self,
        g: impl Fn(usize, usize, f64) -> f64 + Sync,
    ) -> Tensor<2> {
        self.gradient_from_pairs(|i, j, k| 2.0 * g(i, j, k))
    }

    /// `Q X` with `Q = (P − diag(P 1)) / σ²`, `P = (G + Gᵀ) ∘ K` (Gaussian) or `Q = G + Gᵀ`
    /// (linear), `pair(i, j, K_ij) = (G + Gᵀ)_ij`. `Q` is symmetric and built row-major in one
    /// pass (row i of Q is column i of the column-major K), then one matrix product.
    fn gradient_from_pairs(&self, pair: impl Fn(usize, usize, f64) -> f64 + Sync) -> Tensor<2> {
        let m = self.size();
        let x = &self.plain;
        let mut q = vec![0f32; m * m];
        // Rows on the current rayon pool (each its own, summed in order: the same values on any
        // number of threads).
        q.par_chunks_exact_mut(m).enumerate().for_each(|(i, row)| {
            let k_col = self.matrix.col(i);
            match self.sigma {
                Some(sigma) => {
                    let inv = 1.0 / (sigma * sigma);
                    let mut row_sum = 0.0;
                    for (j, q) in row.iter_mut().enumerate() {
                        let k = k_col[j];
                        let p = pair(i, j, k) * k;
                        row_sum += p;
                        *q = (p * inv) as f32;
                    }
                    row[i] -= (row_sum * inv) as f32;
                }
                None => {
                    for (j, q) in row.iter_mut().enumerate() {
                        *q = pair(i, j, k_col[j]) as f32;
                    }
                }
            }
        });
        let q = Tensor::<2>::from_data(TensorData::new(q, [m, m]), (&x.device(), x.dtype()));
        q.matmul(x.clone())
    }

    /// A `[1]` tensor whose value is `value` and whose gradient with respect to the samples is
    /// the one `g = ∂L/∂K` implies (a constant when `g` is `None` or the samples are not
    /// tracked).
    pub fn loss(&self, value: f64, g: Option<&Mat<f64>>) -> Tensor<1> {
        match g {
            Some(g) if self.is_tracked() => self.loss_with_gradient(value, self.sample_gradient(g)),
            _ => scalar(value, &self.samples.device(), self.samples.dtype()),
        }
    }

    /// [`DetachedGram::loss`] for a symmetric `∂L/∂K` given entry by entry (see
    /// [`DetachedGram::symmetric_sample_gradient`]).
    pub fn loss_symmetric(
        &self,
        value: f64,
        g: impl Fn(usize, usize, f64) -> f64 + Sync,
    ) -> Tensor<1> {
        if !self.is_tracked() {
            return scalar(value, &self.samples.device(), self.samples.dtype());
        }
        self.loss_with_gradient(value, self.symmetric_sample_gradient(g))
    }

    /// `const(value) + ⟨∂L/∂X, X⟩ − detach(⟨∂L/∂X, X⟩)`.
    fn loss_with_gradient(&self, value: f64, grad: Tensor<2>) -> Tensor<1> {
        let constant = scalar(value, &self.samples.device(), self.samples.dtype());
        let s = (grad.autodiff() * self.samples.clone()).sum();
        constant + (s.clone() - s.detach())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EigenPrecision;
    use crate::kernel::KernelWidth;
    use burn::tensor::{Device, Distribution};

    /// The gradient of `loss` with respect to the tracked `x`, as host values.
    fn gradient(loss: Tensor<1>, x: &Tensor<2>) -> Vec<f32> {
        let grads = loss.backward();
        x.grad(&grads)
            .unwrap()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap()
    }

    /// The Gram matrix and the gradient product split their columns and rows over the rayon
    /// pool: one thread and three give the same bits, for both width rules' branches.
    #[test]
    fn host_gram_and_sample_gradient_do_not_depend_on_the_thread_count() {
        let plain = Device::flex();
        let x = Tensor::<2>::random([67, 9], Distribution::Normal(0.0, 1.0), &plain);
        let labels: Vec<usize> = (0..67).map(|i| i % 4).collect();
        let run = |threads: usize, width: KernelWidth| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                let gram = GaussianKernel::new(width).detached_gram(x.clone());
                let grad = gram.symmetric_sample_gradient(|i, j, k| {
                    if labels[i] == labels[j] { k } else { -0.3 * k }
                });
                let k: Vec<u64> = (0..67)
                    .flat_map(|j| (0..67).map(move |i| (i, j)))
                    .map(|(i, j)| gram.matrix[(i, j)].to_bits())
                    .collect();
                let g: Vec<u32> = grad
                    .into_data()
                    .try_to_vec::<f32>()
                    .unwrap()
                    .iter()
                    .map(|v| v.to_bits())
                    .collect();
                (k, g)
            })
        };
        for width in [KernelWidth::DimensionScaled(0.5), KernelWidth::Median] {
            let one = run(1, width.clone());
            assert_eq!(one, run(3, width.clone()), "{width:?}");
            // The Gram matrix is exactly symmetric with a unit diagonal.
            let k = |i: usize, j: usize| f64::from_bits(one.0[j * 67 + i]);
            for i in 0..67 {
                assert_eq!(k(i, i), 1.0);
                for j in 0..i {
                    assert_eq!(k(i, j), k(j, i));
                }
            }
        }
    }

    /// A batch of zero rows (a dead ReLU layer) under the linear and cosine kernels is scored
    /// as identical samples: an all-ones Gram matrix, so its entropy is 0 and its information
    /// about the labels 0 (not the NaN of `0 / tr 0`), with a zero gradient to the samples.
    #[test]
    fn zero_rows_are_identical_samples_not_nan() {
        let plain = Device::flex();
        let labels: Vec<usize> = (0..8).map(|i| i % 2).collect();
        let ky = to_host(&crate::LabelKernel::Delta.gram(&labels, 2, &plain));
        for kernel in [SampleKernel::Linear, SampleKernel::Cosine] {
            let x = Tensor::<2>::zeros([8, 5], &plain).autodiff().require_grad();
            let gram = kernel.detached_gram(x.clone());
            assert!(
                (0..8).all(|i| (0..8).all(|j| gram.matrix[(i, j)] == 1.0)),
                "{kernel:?}"
            );
            for alpha in [1.01, 2.0] {
                let entropy = |m: Mat<f64>| {
                    crate::renyi_entropy_host(m, alpha, false, EigenPrecision::F64)
                        .unwrap()
                        .value
                };
                let s_t = entropy(gram.matrix.clone());
                let s_ty = entropy(crate::hadamard(&gram.matrix, &ky));
                let s_y = entropy(ky.clone());
                assert!(s_t.abs() < 1e-9, "{kernel:?} α {alpha}: S(T) {s_t}");
                assert!(
                    (s_t + s_y - s_ty).abs() < 1e-9,
                    "{kernel:?} α {alpha}: I(T;Y)"
                );
            }
            let g = Mat::from_fn(8, 8, |i, j| (i * 8 + j) as f64 / 64.0);
            let loss = gram.loss(0.5, Some(&g));
            assert_eq!(crate::eigen::tensor_to_vec_f64(&loss), vec![0.5]);
            let gx = gradient(loss, &x);
            assert!(gx.iter().all(|v| *v == 0.0), "{kernel:?}: {gx:?}");
        }
        // One dead sample among live ones: the cosine kernel's gradient stays finite.
        let rows: Vec<f32> = (0..40)
            .map(|i| {
                if i < 5 {
                    0.0
                } else {
                    ((i * 7 % 11) as f32) - 5.0
                }
            })
            .collect();
        let x = Tensor::<2>::from_data(TensorData::new(rows, [8, 5]), &plain)
            .autodiff()
            .require_grad();
        let gram = SampleKernel::Cosine.detached_gram(x.clone());
        let g = Mat::from_fn(8, 8, |i, j| (i + 2 * j) as f64 / 16.0);
        let gx = gradient(gram.loss(0.0, Some(&g)), &x);
        assert!(gx.iter().all(|v| v.is_finite()), "{gx:?}");
        assert!(gx[5..].iter().any(|v| *v != 0.0));
    }

    /// For `L = Σ W ∘ K` (so `∂L/∂K = W`), the detached route gives autodiff's gradient with
    /// respect to the samples, for each kernel.
    #[test]
    fn sample_gradients_match_autodiff_for_every_kernel() {
        let plain = Device::flex();
        let x = Tensor::<2>::random([7, 4], Distribution::Normal(0.0, 1.0), &plain);
        let w = Tensor::<2>::random([7, 7], Distribution::Normal(0.0, 1.0), &plain);
        let w_host = to_host(&w);
        let kernels = [
            SampleKernel::Gaussian(GaussianKernel::new(KernelWidth::Fixed(1.5))),
            SampleKernel::Linear,
            SampleKernel::Cosine,
        ];
        for kernel in kernels {
            let reference = {
                let x = x.clone().autodiff().require_grad();
                let k = match &kernel {
                    SampleKernel::Gaussian(g) => g.gram(x.clone()).matrix,
                    SampleKernel::Linear => x.clone().matmul(x.clone().transpose()),
                    SampleKernel::Cosine => {
                        let u = centred_unit_rows(x.clone());
                        u.clone().matmul(u.transpose())
                    }
                };
                gradient((k * w.clone().autodiff()).sum(), &x)
            };
            let x_tracked = x.clone().autodiff().require_grad();
            let gram = kernel.detached_gram(x_tracked.clone());
            let value: f64 = (0..7)
                .flat_map(|i| (0..7).map(move |j| (i, j)))
                .map(|(i, j)| w_host[(i, j)] * gram.matrix[(i, j)])
                .sum();
            let got = gradient(gram.loss(value, Some(&w_host)), &x_tracked);
            let scale = reference.iter().fold(0f32, |m, v| m.max(v.abs()));
            for (a, b) in got.iter().zip(&reference) {
                assert!(
                    (a - b).abs() <= 1e-4 * scale.max(1.0),
                    "{}: {a} vs {b}",
                    kernel.name()
                );
            }
        }
    }
}
