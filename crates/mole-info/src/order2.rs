//! Matrix-based Rényi entropies of order 2 of a Gram matrix `K` and of its Hadamard product with
//! a label kernel that is two-valued by class, with their gradient, from sums over `K` alone.
//!
//! At α = 2, `S_2(A) = −log₂ tr(A²) = −log₂(‖K‖²_F / (tr K)²)` for `A = K / tr K`: no
//! eigendecomposition, and (the label kernel `F_ij = 1` within a class, `c` between classes,
//! read from the labels) neither `F` nor `K ∘ F` is ever formed. The gradients:
//!
//! - `∂S_2(K)/∂K = (2 / ln 2) (I / tr K − K / ‖K‖²_F)`;
//! - `∂S_2(K ∘ F)/∂K = (2 / ln 2) (I / tr(K ∘ F) − K ∘ F ∘ F / ‖K ∘ F‖²_F)` (as `F_ii = 1`).
//!
//! The same numbers as [`crate::EntropySpectrum`] at α = 2 with the label Gram as the factor
//! (tested), from one pass over `K` instead of copies, products and accumulators of `m × m`
//! matrices.

use faer::Mat;
use std::f64::consts::LN_2;

/// `S_2(K)` and `S_2(K ∘ F)` for `F_ij = 1` when `y_i = y_j`, else `between`.
#[derive(Clone, Debug)]
pub struct Order2Entropies {
    /// `S_2(K / tr K)` in bits.
    pub s_k: f64,
    /// `S_2((K ∘ F) / tr(K ∘ F))` in bits.
    pub s_joint: f64,
    fro_k: f64,
    tr_k: f64,
    fro_joint: f64,
    tr_joint: f64,
    between: f64,
}

impl Order2Entropies {
    /// The two entropies of the symmetric Gram matrix `k` with the labels' kernel (`between`:
    /// its value between two classes). `None` when a trace or a norm is not finite and > 0.
    ///
    /// # Panics
    /// If `k` is not square or there is not one label per row.
    pub fn new(k: &Mat<f64>, labels: &[usize], between: f64) -> Option<Self> {
        let m = k.nrows();
        assert_eq!(m, k.ncols(), "a Gram matrix is square");
        assert_eq!(labels.len(), m, "one label per row");
        let (mut fro_k, mut fro_joint, mut tr_k) = (0.0, 0.0, 0.0);
        for (j, &yj) in labels.iter().enumerate() {
            let column = k.col(j);
            for (i, &yi) in labels.iter().enumerate() {
                let v = column[i];
                fro_k += v * v;
                let f = if yi == yj { 1.0 } else { between };
                fro_joint += v * v * f * f;
            }
            tr_k += column[j];
        }
        let ok = |v: f64| v.is_finite() && v > 0.0;
        // F_ii = 1, so tr(K ∘ F) = tr K.
        let tr_joint = tr_k;
        if !(ok(fro_k) && ok(fro_joint) && ok(tr_k)) {
            return None;
        }
        Some(Order2Entropies {
            s_k: -(fro_k / (tr_k * tr_k)).log2(),
            s_joint: -(fro_joint / (tr_joint * tr_joint)).log2(),
            fro_k,
            tr_k,
            fro_joint,
            tr_joint,
            between,
        })
    }

    /// `G_ij` of `G = w_k ∂S_2(K)/∂K + w_joint ∂S_2(K ∘ F)/∂K`, from `K_ij` and whether
    /// samples `i` and `j` share a class (`G` is symmetric).
    pub fn gradient(&self, w_k: f64, w_joint: f64) -> impl Fn(usize, usize, f64, bool) -> f64 {
        let c = 2.0 / LN_2;
        let within = -c * (w_k / self.fro_k + w_joint / self.fro_joint);
        let across = -c * (w_k / self.fro_k + w_joint * self.between.powi(2) / self.fro_joint);
        let diagonal = c * (w_k / self.tr_k + w_joint / self.tr_joint);
        move |i, j, k_ij, same| {
            let off = k_ij * if same { within } else { across };
            if i == j { off + diagonal } else { off }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EigenPrecision, EntropySpectrum};

    fn gram(n: usize) -> Mat<f64> {
        let x: Vec<f64> = (0..n * 3)
            .map(|i| ((i * 37 % 11) as f64 - 5.0) / 3.0)
            .collect();
        Mat::from_fn(n, n, |i, j| {
            let d: f64 = (0..3).map(|c| (x[i * 3 + c] - x[j * 3 + c]).powi(2)).sum();
            (-d / 4.0).exp()
        })
    }

    /// Values and gradients equal the spectral estimator's at α = 2 with the label Gram as its
    /// Hadamard factor, for the delta kernel and a two-valued one.
    #[test]
    fn matches_the_spectral_estimator() {
        let n = 9;
        let k = gram(n);
        let labels = [0, 1, 2, 0, 1, 2, 0, 0, 1];
        for between in [0.0, 0.3] {
            let f = Mat::from_fn(
                n,
                n,
                |i, j| {
                    if labels[i] == labels[j] { 1.0 } else { between }
                },
            );
            let fast = Order2Entropies::new(&k, &labels, between).unwrap();
            let s_k = EntropySpectrum::new(k.clone(), 2.0, true, EigenPrecision::F64).unwrap();
            let joint =
                EntropySpectrum::new(crate::hadamard(&k, &f), 2.0, true, EigenPrecision::F64)
                    .unwrap();
            assert!((fast.s_k - s_k.value).abs() < 1e-12);
            assert!((fast.s_joint - joint.value).abs() < 1e-12);
            let (w_k, w_joint) = (0.7, -1.3);
            let mut want = Mat::zeros(n, n);
            s_k.add_grad(&mut want, w_k, None);
            joint.add_grad(&mut want, w_joint, Some(&f));
            let g = fast.gradient(w_k, w_joint);
            for i in 0..n {
                for j in 0..n {
                    let got = g(i, j, k[(i, j)], labels[i] == labels[j]);
                    assert!(
                        (got - want[(i, j)]).abs() < 1e-12 * want[(i, j)].abs().max(1.0),
                        "({i}, {j}): {got} vs {}",
                        want[(i, j)]
                    );
                }
            }
        }
    }

    #[test]
    fn refuses_non_finite_grams() {
        let mut k = gram(4);
        k[(1, 2)] = f64::NAN;
        assert!(Order2Entropies::new(&k, &[0, 1, 0, 1], 0.0).is_none());
    }
}
