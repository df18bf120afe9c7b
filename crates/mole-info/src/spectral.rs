//! Matrix-based Rényi entropies of host matrices (`faer`, f64) with their exact gradients with
//! respect to the *un-normalised* matrix, so that a caller can chain them by hand (see
//! [`crate::detached`]) instead of through autodiff.
//!
//! For a positive semi-definite `M` with `A = M / tr(M)`:
//!
//! - `S_α(A) = 1/(1−α) · log2 Σ_i λ_i(A)^α` (α = 1: `−Σ λ log2 λ`; α = 2: `−log2 ‖A‖_F²`);
//! - `∂S/∂A = α / ((1−α) ln 2 Σ_i λ_i^α) · V diag(λ^{α−1}) Vᵀ` (α = 1: `−V diag(log2 λ + 1/ln 2) Vᵀ`;
//!   α = 2: `−2A / (ln 2 ‖A‖_F²)`);
//! - `∂S/∂M = (∂S/∂A − ⟨∂S/∂A, A⟩ I) / tr(M)` (the trace normalisation's chain rule).

use std::f64::consts::LN_2;

use faer::Mat;

use crate::eigen::{EigenPrecision, spectral_matrix, symmetric_eigen_blocks};

use crate::renyi::{EIGENVALUE_FLOOR, renyi_entropy_from_eigenvalues};

/// An entropy and, when asked for, its gradient with respect to the un-normalised matrix.
#[derive(Clone, Debug)]
pub struct EntropyGrad {
    /// `S_α(M / tr M)` in bits.
    pub value: f64,
    /// `∂S_α/∂M` (symmetric), when requested.
    pub grad: Option<Mat<f64>>,
}

/// `S_α(M / tr M)` of a host matrix with what its gradient needs: the eigendecomposition (block
/// by block along `M`'s zero pattern) and the weights, or for α = 2 the normalised matrix.
/// [`EntropySpectrum::add_grad`] adds `w · ∂S/∂M` to an accumulator without an n × n temporary
/// per term.
#[derive(Clone, Debug)]
pub struct EntropySpectrum {
    /// `S_α` in bits.
    pub value: f64,
    n: usize,
    kind: SpectrumKind,
}

#[derive(Clone, Debug)]
enum SpectrumKind {
    /// No gradient was asked for.
    ValueOnly,
    /// α = 2: `∂S/∂M = (−2A/(ln 2 ‖A‖²) + (2/ln 2) I) / tr M`, held as `A` and the two scalars.
    Frobenius {
        a: Mat<f64>,
        scale: f64,
        diagonal: f64,
    },
    /// α ≠ 2: `∂S/∂M = Σ_blocks V_b diag(c_b) V_bᵀ` scattered to the block's rows.
    Eigen(Vec<WeightedBlock>),
}

#[derive(Clone, Debug)]
struct WeightedBlock {
    rows: Vec<usize>,
    vectors: Mat<f64>,
    weights: Vec<f64>,
}

impl EntropySpectrum {
    /// `S_α(M / tr M)` in bits, with the gradient's ingredients when `with_grad` (see the module
    /// docs), the eigensolver in `precision`.
    ///
    /// `m` is overwritten. α = 2 takes the Frobenius-norm path (no eigendecomposition); any
    /// other α decomposes `A` block by block along the zero pattern of `M` (a Hadamard product
    /// with a delta label kernel costs one small problem per class). Eigenvalues below 0
    /// (round-off) count as 0 and the spectrum is rescaled to sum to `tr A = 1`; the gradient
    /// gives eigenvalues below `m · λ_max ·` [`EIGENVALUE_FLOOR`] (below the round-off of an f32
    /// Gram matrix) the floor's weight.
    ///
    /// Returns `None` when `M` has non-finite entries, a non-positive trace, or the eigensolver
    /// does not converge.
    ///
    /// # Panics
    /// If α is not finite and > 0, or `m` is not square.
    pub fn new(
        mut m: Mat<f64>,
        alpha: f64,
        with_grad: bool,
        precision: EigenPrecision,
    ) -> Option<Self> {
        assert!(
            alpha.is_finite() && alpha > 0.0,
            "the Rényi order alpha must be finite and > 0, got {alpha}"
        );
        let n = m.nrows();
        assert_eq!(n, m.ncols(), "an entropy needs a square matrix");
        let tr: f64 = (0..n).map(|i| m[(i, i)]).sum();
        if !(tr.is_finite() && tr > 0.0) {
            return None;
        }
        let inv = 1.0 / tr;
        for j in 0..n {
            for v in m.col_mut(j).iter_mut() {
                *v *= inv;
            }
        }
        if alpha == 2.0 {
            let fro: f64 = m
                .col_iter()
                .map(|c| c.iter().map(|v| v * v).sum::<f64>())
                .sum();
            if !(fro.is_finite() && fro > 0.0) {
                return None;
            }
            let kind = if with_grad {
                // ∂S/∂A = −2A/(ln 2 ‖A‖²), ⟨∂S/∂A, A⟩ = −2/ln 2.
                SpectrumKind::Frobenius {
                    a: m,
                    scale: -2.0 / (LN_2 * fro) / tr,
                    diagonal: 2.0 / LN_2 / tr,
                }
            } else {
                SpectrumKind::ValueOnly
            };
            return Some(EntropySpectrum {
                value: -fro.log2(),
                n,
                kind,
            });
        }
        let blocks = symmetric_eigen_blocks(m, with_grad, precision)?;
        // tr A = 1 exactly: rescaling the (clamped) eigenvalues to sum 1 removes the solver's
        // round-off in the trace, which 1/(1−α) would amplify (100× at α = 1.01).
        let total: f64 = blocks
            .iter()
            .flat_map(|b| b.eigen.values.iter().map(|&l| l.max(0.0)))
            .sum();
        if !(total.is_finite() && total > 0.0) {
            return None;
        }
        let lambda = |l: f64| l.max(0.0) / total;
        let lambdas: Vec<f64> = blocks
            .iter()
            .flat_map(|b| b.eigen.values.iter().map(|&l| lambda(l)))
            .collect();
        let value = renyi_entropy_from_eigenvalues(&lambdas, alpha);
        if !with_grad {
            return Some(EntropySpectrum {
                value,
                n,
                kind: SpectrumKind::ValueOnly,
            });
        }
        let power_sum: f64 = lambdas.iter().map(|&l| l.powf(alpha)).sum();
        let lambda_max = lambdas.iter().fold(0.0f64, |m, &l| m.max(l));
        let floor = (n as f64 * lambda_max * EIGENVALUE_FLOOR).max(f64::MIN_POSITIVE);
        let weight = |l: f64| -> f64 {
            let l = l.max(floor);
            if alpha == 1.0 {
                -(l.ln() + 1.0) / LN_2
            } else {
                alpha / ((1.0 - alpha) * LN_2 * power_sum) * l.powf(alpha - 1.0)
            }
        };
        // ∂S/∂M = (∂S/∂A − ⟨∂S/∂A, A⟩ I) / tr M = V diag(w(λ) − s) Vᵀ / tr M with
        // s = Σ_i w(λ_i) λ_i (as I = V Vᵀ): the common part of the weights (large near α = 1)
        // cancels in the weights, before the products, not after them.
        let s: f64 = lambdas.iter().map(|&l| weight(l) * l).sum();
        let mut weighted = Vec::with_capacity(blocks.len());
        for b in blocks {
            let weights = b
                .eigen
                .values
                .iter()
                .map(|&l| (weight(lambda(l)) - s) / tr)
                .collect();
            weighted.push(WeightedBlock {
                rows: b.rows,
                vectors: b.eigen.vectors?,
                weights,
            });
        }
        Some(EntropySpectrum {
            value,
            n,
            kind: SpectrumKind::Eigen(weighted),
        })
    }

    /// Whether [`EntropySpectrum::add_grad`] has a gradient to add.
    pub fn has_grad(&self) -> bool {
        !matches!(self.kind, SpectrumKind::ValueOnly)
    }

    /// `g += w · (∂S/∂M ∘ F)`, `F` the Hadamard factor (absent: all ones).
    ///
    /// # Panics
    /// If no gradient was asked for, or the shapes differ.
    pub fn add_grad(&self, g: &mut Mat<f64>, w: f64, factor: Option<&Mat<f64>>) {
        let n = self.n;
        assert_eq!(
            (g.nrows(), g.ncols()),
            (n, n),
            "the accumulator must be n × n"
        );
        let f = |i: usize, j: usize| factor.map_or(1.0, |c| c[(i, j)]);
        match &self.kind {
            SpectrumKind::ValueOnly => panic!("the entropy was computed without its gradient"),
            SpectrumKind::Frobenius { a, scale, diagonal } => {
                for j in 0..n {
                    for i in 0..n {
                        let d = if i == j { *diagonal } else { 0.0 };
                        g[(i, j)] += w * (scale * a[(i, j)] + d) * f(i, j);
                    }
                }
            }
            SpectrumKind::Eigen(blocks) => {
                for b in blocks {
                    if b.rows.len() == n && factor.is_none() {
                        add_spectral(g.as_mut(), b.vectors.as_ref(), &b.weights, w);
                        continue;
                    }
                    let part = spectral_matrix(b.vectors.as_ref(), &b.weights);
                    for (c, &j) in b.rows.iter().enumerate() {
                        for (r, &i) in b.rows.iter().enumerate() {
                            g[(i, j)] += w * part[(r, c)] * f(i, j);
                        }
                    }
                }
            }
        }
    }

    /// `∂S/∂M ∘ F` as a new matrix.
    ///
    /// # Panics
    /// If no gradient was asked for.
    pub fn grad(&self, factor: Option<&Mat<f64>>) -> Mat<f64> {
        let mut g = Mat::zeros(self.n, self.n);
        self.add_grad(&mut g, 1.0, factor);
        g
    }
}

/// `g += w · V diag(c) Vᵀ` with one matrix product (columns of negligible weight skipped).
fn add_spectral(g: faer::MatMut<'_, f64>, v: faer::MatRef<'_, f64>, c: &[f64], w: f64) {
    let n = v.nrows();
    let max = c.iter().fold(0.0f64, |acc, x| acc.max(x.abs()));
    let keep: Vec<usize> = (0..c.len())
        .filter(|&i| c[i] != 0.0 && c[i].abs() > 1e-12 * max)
        .collect();
    if keep.is_empty() {
        return;
    }
    let vc = Mat::from_fn(n, keep.len(), |i, k| v[(i, keep[k])] * c[keep[k]]);
    let vk = Mat::from_fn(n, keep.len(), |i, k| v[(i, keep[k])]);
    faer::linalg::matmul::matmul(
        g,
        faer::Accum::Add,
        vc.as_ref(),
        vk.transpose(),
        w,
        faer::Par::Seq,
    );
}

/// `S_α(M / tr M)` in bits and, when `with_grad`, `∂S/∂M` (see the module docs and
/// [`EntropySpectrum::new`]), with the eigensolver in `precision`.
///
/// # Panics
/// If α is not finite and > 0, or `m` is not square.
pub fn renyi_entropy_host(
    m: Mat<f64>,
    alpha: f64,
    with_grad: bool,
    precision: EigenPrecision,
) -> Option<EntropyGrad> {
    entropy_grad(m, None, alpha, with_grad, precision)
}

/// The Hadamard product `a ∘ b` of two host matrices of the same shape.
///
/// # Panics
/// If the shapes differ.
pub fn hadamard(a: &Mat<f64>, b: &Mat<f64>) -> Mat<f64> {
    assert_eq!(
        (a.nrows(), a.ncols()),
        (b.nrows(), b.ncols()),
        "a Hadamard product needs matrices of the same shape"
    );
    Mat::from_fn(a.nrows(), a.ncols(), |i, j| a[(i, j)] * b[(i, j)])
}

/// `S_α(K ∘ C)` (the joint entropy of `K` with constant Gram matrices whose product is `C`; `C`
/// absent: `S_α(K)`) and, when `with_grad`, its gradient with respect to `K`:
/// `∂S/∂K = (∂S/∂M) ∘ C` with `M = K ∘ C`.
pub fn joint_entropy_host(
    k: &Mat<f64>,
    factor: Option<&Mat<f64>>,
    alpha: f64,
    with_grad: bool,
    precision: EigenPrecision,
) -> Option<EntropyGrad> {
    let m = match factor {
        Some(c) => hadamard(k, c),
        None => k.clone(),
    };
    entropy_grad(m, factor, alpha, with_grad, precision)
}

/// `S_α(M / tr M)` and, when `with_grad`, `∂S/∂M ∘ F` (`F` the Hadamard factor of `M`).
fn entropy_grad(
    m: Mat<f64>,
    factor: Option<&Mat<f64>>,
    alpha: f64,
    with_grad: bool,
    precision: EigenPrecision,
) -> Option<EntropyGrad> {
    let spectrum = EntropySpectrum::new(m, alpha, with_grad, precision)?;
    Some(EntropyGrad {
        value: spectrum.value,
        grad: with_grad.then(|| spectrum.grad(factor)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use EigenPrecision::F64;

    fn gram(n: usize, seed: u64) -> Mat<f64> {
        let mut s = seed;
        let mut r = || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 33) as f64) / (1u64 << 31) as f64
        };
        let pts: Vec<[f64; 3]> = (0..n).map(|_| [r(), r(), r()]).collect();
        Mat::from_fn(n, n, |i, j| {
            let d: f64 = (0..3).map(|k| (pts[i][k] - pts[j][k]).powi(2)).sum();
            (-d / 0.3).exp()
        })
    }

    /// The gradient with respect to the un-normalised matrix against central finite differences
    /// of a symmetric perturbation, for α below, at and above 1 and the α = 2 path.
    #[test]
    fn gradient_matches_finite_differences() {
        let k = gram(7, 3);
        for alpha in [0.5, 1.0, 1.01, 2.0, 3.0] {
            let g = renyi_entropy_host(k.clone(), alpha, true, F64)
                .unwrap()
                .grad
                .unwrap();
            for (i, j) in [(0, 0), (1, 4), (6, 2), (3, 3)] {
                let h = 1e-6;
                let f = |d: f64| {
                    let mut m = k.clone();
                    m[(i, j)] += d;
                    if i != j {
                        m[(j, i)] += d;
                    }
                    renyi_entropy_host(m, alpha, false, F64).unwrap().value
                };
                let numeric = (f(h) - f(-h)) / (2.0 * h);
                let analytic = if i == j {
                    g[(i, i)]
                } else {
                    g[(i, j)] + g[(j, i)]
                };
                assert!(
                    (numeric - analytic).abs() < 1e-5 * (1.0 + numeric.abs()),
                    "alpha {alpha} ({i},{j}): {numeric} vs {analytic}"
                );
            }
        }
    }

    /// Scaling M does not change the entropy, so the gradient is orthogonal to M:
    /// `⟨∂S/∂M, M⟩ = 0`; and the joint gradient is the product's gradient times the factor.
    #[test]
    fn scale_invariance_and_joint_chain_rule() {
        let k = gram(9, 5);
        let c = Mat::from_fn(9, 9, |i, j| if i % 3 == j % 3 { 1.0 } else { 0.0 });
        for alpha in [1.01, 2.0] {
            let g = renyi_entropy_host(k.clone(), alpha, true, F64)
                .unwrap()
                .grad
                .unwrap();
            let inner: f64 = (0..9)
                .flat_map(|i| (0..9).map(move |j| (i, j)))
                .map(|(i, j)| g[(i, j)] * k[(i, j)])
                .sum();
            assert!(inner.abs() < 1e-10, "alpha {alpha}: {inner}");
            let joint = joint_entropy_host(&k, Some(&c), alpha, true, F64).unwrap();
            let direct = renyi_entropy_host(hadamard(&k, &c), alpha, true, F64).unwrap();
            assert!((joint.value - direct.value).abs() < 1e-12);
            let (gj, gd) = (joint.grad.unwrap(), direct.grad.unwrap());
            for i in 0..9 {
                for j in 0..9 {
                    assert!((gj[(i, j)] - gd[(i, j)] * c[(i, j)]).abs() < 1e-12);
                }
            }
        }
    }
}
