//! Hilbert–Schmidt independence criterion: the biased HSIC estimator and the normalised
//! (Fukumizu-style) nHSIC used by the HSIC bottleneck (Ma, Lewis & Kleijn 2020).

use burn::tensor::Tensor;
use faer::Mat;
use faer::linalg::solvers::Solve;

use crate::eigen::{to_host, with_surrogate_gradient};

/// Default regulariser of [`nhsic`]: `R = K̄ (K̄ + ε m I)^{-1}` with ε = 1e-5, as in the HSIC
/// bottleneck reference code (`hsic_normalized_cca`).
pub const NHSIC_EPSILON: f64 = 1e-5;

/// How a Gram matrix is centred, with `H = I − (1/m) 1 1ᵀ`.
///
/// For [`nhsic`] the choice does not change the value in exact arithmetic: with
/// `g(K̄) = K̄ (K̄ + cI)^{-1}` one has `g(H K H) = H g(K H)` and `g(K H) = g(K H) H`, so
/// `tr(g(HK_XH) g(HK_YH)) = tr(g(K_XH) g(K_YH))` (`H` is idempotent). `Right` therefore only
/// reproduces the reference code's round-off; it is kept for parity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Centering {
    /// `K̄ = H K H` (textbook; default).
    #[default]
    Both,
    /// `K̄ = K H` (right-centring only, as the HSIC bottleneck reference code's `kernelmat`).
    Right,
}

/// Centres a square matrix: `H K H = K − row means − column means + grand mean` (`Both`) or
/// `K H = K − row means` (`Right`), in O(m²) without forming `H`. Differentiable.
pub fn center(k: Tensor<2>, centering: Centering) -> Tensor<2> {
    let row_means = k.clone().mean_dim(1); // [m, 1]: (K 1 / m)
    match centering {
        Centering::Right => k - row_means,
        Centering::Both => {
            let col_means = k.clone().mean_dim(0); // [1, m]
            let grand = k.clone().mean().unsqueeze::<2>(); // [1, 1]
            k - row_means - col_means + grand
        }
    }
}

/// Biased empirical HSIC (Gretton et al. 2005):
///
/// `HSIC(X, Y) = tr(K_X H K_Y H) / (m − 1)²`,
///
/// computed in O(m²) as `sum((H K_X H) ∘ K_Y) / (m − 1)²` (valid for symmetric `K_Y`, which
/// Gram matrices are). Returns a `[1]` tensor, differentiable with respect to both matrices.
///
/// # Panics
/// If the shapes differ or `m < 2`.
pub fn hsic(kx: Tensor<2>, ky: Tensor<2>) -> Tensor<1> {
    assert_eq!(
        kx.dims(),
        ky.dims(),
        "hsic needs Gram matrices of the same shape"
    );
    let [m, _] = kx.dims();
    assert!(m >= 2, "hsic needs at least two samples");
    let kxc = center(kx, Centering::Both);
    (kxc * ky).sum().div_scalar(((m - 1) * (m - 1)) as f64)
}

/// Host (f64) centring matching [`center`].
fn center_host(k: &Mat<f64>, centering: Centering) -> Mat<f64> {
    let (m, n) = (k.nrows(), k.ncols());
    let row_means: Vec<f64> = (0..m)
        .map(|i| (0..n).map(|j| k[(i, j)]).sum::<f64>() / n as f64)
        .collect();
    match centering {
        Centering::Right => Mat::from_fn(m, n, |i, j| k[(i, j)] - row_means[i]),
        Centering::Both => {
            let col_means: Vec<f64> = (0..n)
                .map(|j| k.col(j).iter().sum::<f64>() / m as f64)
                .collect();
            let grand = row_means.iter().sum::<f64>() / m as f64;
            Mat::from_fn(m, n, |i, j| k[(i, j)] - row_means[i] - col_means[j] + grand)
        }
    }
}

/// Normalised HSIC as used to train the HSIC bottleneck:
///
/// `nHSIC(X, Y) = tr(R_X R_Y)`,  `R = K̄ (K̄ + ε m I)^{-1}`,
///
/// with `K̄` the centred Gram matrix ([`Centering`]) and `m` the batch size. `ε` is usually
/// [`NHSIC_EPSILON`]. For `Centering::Both` it lies in `[0, rank]`.
///
/// Computed on the host in f64 with LU solves (no explicit inverse): since `K̄` commutes with
/// `M = K̄ + c I` (`c = ε m`), `R = M^{-1} K̄ = I − c M^{-1}`. The exact gradient, injected with
/// the surrogate trick of [`crate::eigen`], is
///
/// `∂/∂K̄_X = Bᵀ`, `B = c M_X^{-1} R_Y M_X^{-1}` (from `d(M^{-1}) = −M^{-1} dM M^{-1}`),
///
/// then through the centring: `∂/∂K_X = H Bᵀ H` (`Both`) or `Bᵀ H` (`Right`); symmetrically
/// for `K_Y`. Gradients are only computed for tracked inputs (e.g. none for a label Gram).
///
/// # Panics
/// If the shapes differ, the matrices are not square, or ε is not finite and > 0.
pub fn nhsic(kx: Tensor<2>, ky: Tensor<2>, epsilon: f64, centering: Centering) -> Tensor<1> {
    assert_eq!(
        kx.dims(),
        ky.dims(),
        "nhsic needs Gram matrices of the same shape"
    );
    let [m, n] = kx.dims();
    assert_eq!(m, n, "nhsic needs square Gram matrices");
    assert!(
        epsilon.is_finite() && epsilon > 0.0,
        "nhsic needs a finite epsilon > 0, got {epsilon}"
    );
    let c = epsilon * m as f64;

    let kxc = center_host(&to_host(&kx), centering);
    let kyc = center_host(&to_host(&ky), centering);
    let shift = |k: &Mat<f64>| Mat::from_fn(m, m, |i, j| k[(i, j)] + if i == j { c } else { 0.0 });
    let lu_x = shift(&kxc).partial_piv_lu();
    let lu_y = shift(&kyc).partial_piv_lu();
    let rx = lu_x.solve(&kxc);
    let ry = lu_y.solve(&kyc);
    let mut value = 0.0;
    for i in 0..m {
        for j in 0..m {
            value += rx[(i, j)] * ry[(j, i)];
        }
    }

    let mut terms = Vec::with_capacity(2);
    if kx.is_tracked() {
        // Bᵀ = c M_X^{-T} (M_X^{-1} R_Y)ᵀ
        let p = lu_x.solve(&ry);
        let bt = lu_x.solve_transpose(p.transpose());
        let grad = center_host(&Mat::from_fn(m, m, |i, j| c * bt[(i, j)]), centering);
        terms.push((kx.clone(), grad));
    }
    if ky.is_tracked() {
        let p = lu_y.solve(&rx);
        let bt = lu_y.solve_transpose(p.transpose());
        let grad = center_host(&Mat::from_fn(m, m, |i, j| c * bt[(i, j)]), centering);
        terms.push((ky.clone(), grad));
    }
    with_surrogate_gradient(value, &kx, terms)
}
