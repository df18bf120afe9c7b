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

use burn::tensor::Tensor;
use faer::Mat;

use crate::eigen::{from_host, scalar, to_host};
use crate::kernel::GaussianKernel;

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

/// Rows centred over their features and scaled to unit norm, `(x − mean) / max(‖x − mean‖, 1e-8)`
/// (differentiable).
pub fn centred_unit_rows(x: Tensor<2>) -> Tensor<2> {
    let centred = x.clone() - x.mean_dim(1);
    let norm = centred.clone().square().sum_dim(1).sqrt().clamp_min(1e-8);
    centred / norm
}

/// The linear Gram matrix `X Xᵀ` of the rows of `x` outside autodiff.
pub fn linear_detached_gram(x: Tensor<2>) -> DetachedGram {
    let _phase = crate::profile::scope(crate::profile::Phase::Gram);
    let plain = x.clone().detach().without_autodiff();
    let k = plain.clone().matmul(plain.clone().transpose());
    DetachedGram {
        samples: x,
        plain,
        matrix: to_host(&k),
        sigma: None,
    }
}

impl GaussianKernel {
    /// The Gram matrix of the rows of `x` without recording it for autodiff (built as
    /// [`GaussianKernel::gram`] on the detached rows, then copied to the host in f64); `x`
    /// itself is kept so that [`DetachedGram::loss`] can send a gradient to it.
    pub fn detached_gram(&self, x: Tensor<2>) -> DetachedGram {
        let plain = x.clone().detach().without_autodiff();
        let gram = self.gram(plain.clone());
        let _phase = crate::profile::scope(crate::profile::Phase::Gram);
        DetachedGram {
            samples: x,
            plain,
            matrix: to_host(&gram.matrix),
            sigma: Some(gram.sigma),
        }
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
        let x = &self.plain;
        match self.sigma {
            Some(sigma) => {
                let k = &self.matrix;
                let p = Mat::from_fn(m, m, |i, j| (g[(i, j)] + g[(j, i)]) * k[(i, j)]);
                let p = from_host(p.as_ref(), &x.device(), x.dtype());
                let row_sums = p.clone().sum_dim(1); // [m, 1]
                (p.matmul(x.clone()) - x.clone() * row_sums).div_scalar(sigma * sigma)
            }
            None => {
                let p = Mat::from_fn(m, m, |i, j| g[(i, j)] + g[(j, i)]);
                from_host(p.as_ref(), &x.device(), x.dtype()).matmul(x.clone())
            }
        }
    }

    /// A `[1]` tensor whose value is `value` and whose gradient with respect to the samples is
    /// the one `g = ∂L/∂K` implies (a constant when `g` is `None` or the samples are not
    /// tracked).
    pub fn loss(&self, value: f64, g: Option<&Mat<f64>>) -> Tensor<1> {
        let device = self.samples.device();
        let dtype = self.samples.dtype();
        let constant = scalar(value, &device, dtype);
        match g {
            Some(g) if self.is_tracked() => {
                let grad = self.sample_gradient(g).autodiff();
                let s = (grad * self.samples.clone()).sum();
                constant + (s.clone() - s.detach())
            }
            _ => constant,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::KernelWidth;
    use burn::tensor::{Device, Distribution};

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
                let loss = (k * w.clone().autodiff()).sum();
                let grads = loss.backward();
                x.grad(&grads)
                    .unwrap()
                    .into_data()
                    .try_to_vec::<f32>()
                    .unwrap()
            };
            let x_tracked = x.clone().autodiff().require_grad();
            let gram = kernel.detached_gram(x_tracked.clone());
            let value: f64 = (0..7)
                .flat_map(|i| (0..7).map(move |j| (i, j)))
                .map(|(i, j)| w_host[(i, j)] * gram.matrix[(i, j)])
                .sum();
            let loss = gram.loss(value, Some(&w_host));
            let grads = loss.backward();
            let got = x_tracked
                .grad(&grads)
                .unwrap()
                .into_data()
                .try_to_vec::<f32>()
                .unwrap();
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
