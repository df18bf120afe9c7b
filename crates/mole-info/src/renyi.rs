//! Matrix-based Rényi α-order entropy (Sanchez Giraldo, Rao & Principe 2014) and its
//! multivariate joint extension (Yu et al. 2019). All entropies are in **bits**.

use std::f64::consts::LN_2;

use burn::tensor::Tensor;

use crate::eigen::{EigenPrecision, to_host, with_surrogate_gradient};
use crate::kernel::eye_like;
use crate::spectral::{EntropyGrad, renyi_entropy_host};

/// The gradient's eigenvalue floor, relative to `m · λ_max` for an m × m matrix: `2^-24`, the
/// unit round-off of f32.
///
/// Gram matrices are built in f32, so an eigenvalue of `A` below about `m · 2^-24 · λ_max` (the
/// bound on the spectral norm of the rounding error) is not determined by the data. The
/// gradient's weights `λ^{α−1}` (α = 1: `log λ`) are steep there — at α = 1.01 they go from 0
/// at λ = 0 to 0.76 at λ = 1e-12 — so every eigenvalue below the floor is given the floor's
/// weight: the gradient then depends on the data and not on round-off or on the precision of
/// the eigensolver. The entropy value itself uses the (non-negative-clamped) eigenvalues.
pub const EIGENVALUE_FLOOR: f64 = 1.0 / 16_777_216.0;

/// Trace `tr(K) = Σ_i K_ii` as a `[1]` tensor (differentiable).
pub fn trace(k: Tensor<2>) -> Tensor<1> {
    let eye = eye_like(&k);
    (k * eye).sum()
}

/// Trace normalisation `A = K / tr(K)`, so that `tr(A) = 1` (differentiable).
///
/// For a Gaussian Gram matrix `tr(K) = m`, so this equals the `A_ij = K_ij / (m·sqrt(K_ii K_jj))`
/// of Sanchez Giraldo et al.
pub fn normalize_trace(k: Tensor<2>) -> Tensor<2> {
    let tr = trace(k.clone()).unsqueeze::<2>(); // [1, 1], broadcast
    k / tr
}

/// Hadamard (element-wise) product `K₁ ∘ K₂ ∘ … ∘ K_L` of Gram matrices of the same shape.
///
/// # Panics
/// If `grams` is empty.
pub fn hadamard_product(grams: &[Tensor<2>]) -> Tensor<2> {
    let _phase = crate::profile::scope(crate::profile::Phase::Gram);
    let (first, rest) = grams
        .split_first()
        .expect("hadamard_product needs at least one Gram matrix");
    rest.iter().fold(first.clone(), |acc, k| acc * k.clone())
}

fn check_alpha(alpha: f64) {
    assert!(
        alpha.is_finite() && alpha > 0.0,
        "the Rényi order alpha must be finite and > 0, got {alpha}"
    );
}

/// Matrix-based Rényi α-entropy, in bits, of a Gram matrix `K` (trace-normalised inside,
/// `A = K / tr(K)`):
///
/// `S_α(A) = 1/(1−α) · log2 tr(A^α) = 1/(1−α) · log2 Σ_i λ_i(A)^α`.
///
/// Returns a `[1]` tensor on `K`'s device, differentiable with respect to `K`.
///
/// - α = 2: fast path `S_2 = −log2 ‖A‖_F²`, pure tensor ops, no eigendecomposition.
/// - any other α > 0: [`renyi_entropy_eigen`] (host eigensolver in f64, gradient injected).
/// - α = 1 is the Shannon (von Neumann) limit `−Σ λ_i log2 λ_i`, computed exactly rather than
///   rejected.
///
/// # Panics
/// If α is not finite and > 0.
pub fn renyi_entropy(k: Tensor<2>, alpha: f64) -> Tensor<1> {
    check_alpha(alpha);
    if alpha == 2.0 {
        renyi_entropy_order2(k)
    } else {
        renyi_entropy_eigen(k, alpha)
    }
}

/// `S_2(A) = −log2 ‖A‖_F² = −log2 Σ_ij A_ij²` with `A = K / tr(K)`, with tensor ops only.
///
/// Equal to `S_2` by the eigen path because `tr(A²) = ‖A‖_F²` for symmetric `A`.
pub fn renyi_entropy_order2(k: Tensor<2>) -> Tensor<1> {
    let _phase = crate::profile::scope(crate::profile::Phase::Estimator);
    let a = normalize_trace(k);
    a.square().sum().log().div_scalar(-LN_2)
}

/// Matrix-based Rényi α-entropy (bits) of `K / tr(K)` by symmetric eigendecomposition, for any
/// α > 0 (α = 1: von Neumann entropy `−Σ λ log2 λ`).
///
/// The eigenvalues of `A` are computed on the host in f64 with `faer`; negative round-off
/// eigenvalues are clamped to 0. The value is the exact entropy of those eigenvalues. When `K`
/// is tracked by autodiff, the gradient
///
/// `∂S_α/∂A = α / ((1−α) ln 2) · V diag(λ^{α−1}) Vᵀ / Σ_i λ_i^α`
///
/// (α = 1: `−V diag(log2 λ + 1/ln 2) Vᵀ`) is injected with the surrogate trick of
/// [`crate::eigen`] as `∂S/∂K` ([`renyi_entropy_host`]), so it reaches whatever produced `K`.
/// Eigenvalues below the noise floor of an f32 Gram matrix get the floor's weight in the
/// gradient ([`EIGENVALUE_FLOOR`]).
///
/// Returns NaN (and no gradient) if `K` has non-finite entries or a non-positive trace.
///
/// # Panics
/// If α is not finite and > 0.
pub fn renyi_entropy_eigen(k: Tensor<2>, alpha: f64) -> Tensor<1> {
    let _phase = crate::profile::scope(crate::profile::Phase::Estimator);
    check_alpha(alpha);
    let tracked = k.is_tracked();
    match renyi_entropy_host(to_host(&k), alpha, tracked, EigenPrecision::F64) {
        None => with_surrogate_gradient(f64::NAN, &k, Vec::new()),
        Some(EntropyGrad { value, grad }) => {
            let terms = grad.map(|g| vec![(k.clone(), g)]).unwrap_or_default();
            with_surrogate_gradient(value, &k, terms)
        }
    }
}

/// Rényi α-entropy in bits of a spectrum `λ` (assumed non-negative and summing to 1):
/// `1/(1−α) · log2 Σ_i λ_i^α`, or `−Σ_i λ_i log2 λ_i` for α = 1 (with `0 log 0 = 0`).
pub fn renyi_entropy_from_eigenvalues(lambdas: &[f64], alpha: f64) -> f64 {
    if alpha == 1.0 {
        -lambdas
            .iter()
            .filter(|&&l| l > 0.0)
            .map(|&l| l * l.log2())
            .sum::<f64>()
    } else {
        let power_sum: f64 = lambdas
            .iter()
            .filter(|&&l| l > 0.0)
            .map(|&l| l.powf(alpha))
            .sum();
        power_sum.log2() / (1.0 - alpha)
    }
}

/// Joint entropy of `L` variables (Yu et al. 2019, Eq. 10):
///
/// `S_α(A₁, …, A_L) = S_α( (K₁ ∘ K₂ ∘ … ∘ K_L) / tr(K₁ ∘ … ∘ K_L) )`.
///
/// Each `K_i` may be un-normalised (the product is trace-normalised inside). Differentiable with
/// respect to every `K_i`.
///
/// # Panics
/// If `grams` is empty or α is not finite and > 0.
pub fn joint_entropy(grams: &[Tensor<2>], alpha: f64) -> Tensor<1> {
    renyi_entropy(hadamard_product(grams), alpha)
}
