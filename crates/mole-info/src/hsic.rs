//! Hilbert–Schmidt independence criterion: the biased HSIC estimator and the normalised
//! (Fukumizu-style) nHSIC used by the HSIC bottleneck (Ma, Lewis & Kleijn 2020).

use burn::tensor::Tensor;
use faer::linalg::solvers::{DenseSolveCore, Solve};
use faer::{Mat, Side};

use crate::eigen::{to_host, with_surrogate_gradient};
use crate::host::{column, column_mut, matmul_f32, symmetric_part_f64, symmetrize_scaled, to_f32};

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
    let _phase = crate::profile::scope(crate::profile::Phase::Estimator);
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

/// The row means of a host matrix, summed column by column (faer is column-major).
fn row_means(k: &Mat<f64>) -> Vec<f64> {
    let n = k.ncols();
    let mut means = vec![0.0; k.nrows()];
    for j in 0..n {
        for (r, v) in means.iter_mut().zip(column(k, j)) {
            *r += v;
        }
    }
    for r in &mut means {
        *r /= n as f64;
    }
    means
}

/// Host (f64) centring matching [`center`], column slice by column slice.
pub fn center_host(k: &Mat<f64>, centering: Centering) -> Mat<f64> {
    let (m, n) = (k.nrows(), k.ncols());
    let row_means = row_means(k);
    let col_means: Vec<f64> = (0..n)
        .map(|j| column(k, j).iter().sum::<f64>() / m as f64)
        .collect();
    let grand = row_means.iter().sum::<f64>() / m as f64;
    let mut out = Mat::<f64>::zeros(m, n);
    for (j, &cj) in col_means.iter().enumerate() {
        let rows = column_mut(&mut out, j)
            .iter_mut()
            .zip(column(k, j))
            .zip(&row_means);
        match centering {
            Centering::Right => rows.for_each(|((o, v), r)| *o = v - r),
            Centering::Both => rows.for_each(|((o, v), r)| *o = v - r - cj + grand),
        }
    }
    out
}

/// `H G H` of a symmetric matrix in place (`Both` centring), exactly symmetric again: with
/// `r` the row means (equal to the column means of a symmetric matrix, summed in the same
/// order), entry `(i, j)` becomes `G_ij − (r_i + r_j) + mean(r)`.
///
/// # Panics
/// If `g` is not square.
pub fn center_symmetric_in_place(g: &mut Mat<f64>) {
    let m = g.nrows();
    assert_eq!(m, g.ncols(), "a square matrix");
    let means = row_means(g);
    let grand = means.iter().sum::<f64>() / m as f64;
    for (j, &rj) in means.iter().enumerate() {
        for (v, &ri) in column_mut(g, j).iter_mut().zip(&means) {
            *v = *v - (ri + rj) + grand;
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
/// Computed on the host in f64. With `Both` centring and at most one side tracked (a module
/// output against a constant input or label Gram), through the constant side's
/// [`NhsicFactor`] and [`nhsic_with_factor`] (Cholesky). Otherwise with LU solves (no explicit
/// inverse): since `K̄` commutes with
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
    let _phase = crate::profile::scope(crate::profile::Phase::Estimator);
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
    // At most one side tracked: the factor of the constant side and one Cholesky of the other.
    if centering == Centering::Both && !(kx.is_tracked() && ky.is_tracked()) {
        let (k, constant) = if ky.is_tracked() {
            (&ky, &kx)
        } else {
            (&kx, &ky)
        };
        if let Some(v) =
            NhsicFactor::new(constant, epsilon).and_then(|f| nhsic_with_factor(k.clone(), &f))
        {
            return v;
        }
    }
    let (value, gx, gy) = nhsic_host(
        &to_host(&kx),
        &to_host(&ky),
        epsilon,
        centering,
        kx.is_tracked(),
        ky.is_tracked(),
    );
    let terms = [(kx.clone(), gx), (ky, gy)]
        .into_iter()
        .filter_map(|(k, g)| g.map(|g| (k, g)))
        .collect();
    with_surrogate_gradient(value, &kx, terms)
}

/// The general [`nhsic`] of two host Gram matrices (LU solves), with the gradients asked for:
/// `(value, ∂/∂K_X, ∂/∂K_Y)`, each through the centring.
///
/// # Panics
/// If the shapes differ or the matrices are not square.
pub fn nhsic_host(
    kx: &Mat<f64>,
    ky: &Mat<f64>,
    epsilon: f64,
    centering: Centering,
    grad_x: bool,
    grad_y: bool,
) -> (f64, Option<Mat<f64>>, Option<Mat<f64>>) {
    let m = kx.nrows();
    assert_eq!(
        (m, m, m),
        (kx.ncols(), ky.nrows(), ky.ncols()),
        "nhsic needs square Gram matrices of the same shape"
    );
    let c = epsilon * m as f64;
    let kxc = center_host(kx, centering);
    let kyc = center_host(ky, centering);
    let shift = |k: &Mat<f64>| Mat::from_fn(m, m, |i, j| k[(i, j)] + if i == j { c } else { 0.0 });
    let lu_x = shift(&kxc).partial_piv_lu();
    let lu_y = shift(&kyc).partial_piv_lu();
    let ry = lu_y.solve(&kyc);
    let trace = |a: &Mat<f64>| (0..m).map(|i| a[(i, i)]).sum::<f64>();
    // With K_X tracked, P = M_X^{-1} R_Y is needed for the gradient, and since
    // R_X = I − c M_X^{-1} the value is tr(R_Y) − c tr(P): R_X itself is then only needed for
    // K_Y's gradient (one m-column solve fewer in the usual case, K_Y a constant label Gram).
    let (value, rx, gx) = if grad_x {
        // Bᵀ = c M_X^{-T} (M_X^{-1} R_Y)ᵀ
        let p = lu_x.solve(&ry);
        let value = trace(&ry) - c * trace(&p);
        let bt = lu_x.solve_transpose(p.transpose());
        let grad = center_host(&Mat::from_fn(m, m, |i, j| c * bt[(i, j)]), centering);
        (value, None, Some(grad))
    } else {
        let rx = lu_x.solve(&kxc);
        let mut value = 0.0;
        for i in 0..m {
            for j in 0..m {
                value += rx[(i, j)] * ry[(j, i)];
            }
        }
        (value, Some(rx), None)
    };
    let gy = grad_y.then(|| {
        let rx = rx.unwrap_or_else(|| lu_x.solve(&kxc));
        let p = lu_y.solve(&rx);
        let bt = lu_y.solve_transpose(p.transpose());
        center_host(&Mat::from_fn(m, m, |i, j| c * bt[(i, j)]), centering)
    });
    (value, gx, gy)
}

/// The half of nHSIC that belongs to a constant Gram matrix `K_Y`: with `c = ε m` and
/// `M_Y = H K_Y H + cI`, `R_Y = H K_Y H M_Y^{-1} = I − c M_Y^{-1}` (symmetric) and `tr(R_Y)`.
///
/// Computed once (one Cholesky factorisation and inverse), it serves every
/// [`nhsic_with_factor`] against the same `K_Y`: the modules of a network scored against one
/// batch's inputs share it.
#[derive(Clone, Debug)]
pub struct NhsicFactor {
    r: Mat<f64>,
    /// `R_Y` in f32 for the gradient's products (symmetric: row- and column-major alike).
    r32: Vec<f32>,
    trace: f64,
    epsilon: f64,
}

/// `M = H K H + cI` of a host Gram matrix `K`, factored (Cholesky) once for every nHSIC of `K`
/// in a step: the HSIC bottleneck scores a module's output against the inputs and the labels
/// with the same `M`.
#[derive(Debug)]
pub struct ShiftedGram {
    llt: faer::linalg::solvers::Llt<f64>,
    inverse: std::cell::OnceCell<Mat<f64>>,
    inverse32: std::cell::OnceCell<Vec<f32>>,
    c: f64,
}

impl ShiftedGram {
    /// Factors `H K H + ε m I`; `None` when it is not numerically positive definite or `K` has
    /// non-finite entries.
    ///
    /// # Panics
    /// If `k` is not square or ε is not finite and > 0.
    pub fn new(k: &Mat<f64>, epsilon: f64) -> Option<Self> {
        let m = k.nrows();
        assert_eq!(m, k.ncols(), "nhsic needs square Gram matrices");
        assert!(
            epsilon.is_finite() && epsilon > 0.0,
            "nhsic needs a finite epsilon > 0, got {epsilon}"
        );
        let c = epsilon * m as f64;
        let mut kc = center_host(k, Centering::Both);
        for i in 0..m {
            kc[(i, i)] += c;
        }
        if kc.col_iter().any(|col| col.iter().any(|v| !v.is_finite())) {
            return None;
        }
        let llt = kc.llt(Side::Lower).ok()?;
        Some(ShiftedGram {
            llt,
            inverse: std::cell::OnceCell::new(),
            inverse32: std::cell::OnceCell::new(),
            c,
        })
    }

    /// `c = ε m`.
    pub fn shift(&self) -> f64 {
        self.c
    }

    /// `M^{-1}` (symmetrised), computed at the first call.
    pub fn inverse(&self) -> &Mat<f64> {
        self.inverse.get_or_init(|| {
            let mut inv = self.llt.inverse();
            symmetrize_scaled(&mut inv, 1.0);
            inv
        })
    }

    /// [`ShiftedGram::inverse`] in f32, column-major, for the gradient's products.
    fn inverse_f32(&self) -> &[f32] {
        self.inverse32.get_or_init(|| to_f32(self.inverse()))
    }

    /// `nHSIC(K, K_Y)` from `K_Y`'s [`NhsicFactor`] and, when `with_grad`, `c M^{-1} R_Y M^{-1}`
    /// (symmetrised): the gradient with respect to `K` *before* the centring `H · H` that the
    /// caller applies once to the sum of its terms. See [`nhsic_with_factor`].
    ///
    /// # Panics
    /// If the factor is not of `K`'s size.
    pub fn against_factor(&self, y: &NhsicFactor, with_grad: bool) -> (f64, Option<Mat<f64>>) {
        let minv = self.inverse();
        let m = minv.nrows();
        assert_eq!(y.size(), m, "nhsic needs Gram matrices of the same shape");
        let c = self.c;
        // tr(M^{-1} R_Y) = Σ_ij M^{-1}_ij R_Y,ji, both symmetric.
        let inner: f64 = (0..m)
            .map(|j| {
                minv.col(j)
                    .iter()
                    .zip(y.r.col(j).iter())
                    .map(|(a, b)| a * b)
                    .sum::<f64>()
            })
            .sum();
        let value = y.trace - c * inner;
        let grad = with_grad.then(|| {
            // Two m³ products in f32 on the pool's threads (a gradient; M^{-1} and R_Y stay in
            // f64 for the value), then the symmetric part, scaled by c, in f64.
            let minv32 = self.inverse_f32();
            let p = matmul_f32(minv32, &y.r32, m, m, m);
            let b = matmul_f32(&p, minv32, m, m, m);
            symmetric_part_f64(&b, m, c)
        });
        (value, grad)
    }

    /// `nHSIC(K, K_Y)` for a label Gram two-valued by class (`a` within a class, `b` between)
    /// and, when `with_grad`, `c P W Pᵀ`, the gradient before the centring `H · H`. See
    /// [`nhsic_with_labels`].
    ///
    /// # Panics
    /// If `labels` does not have one entry per row of `K`.
    pub fn against_labels(
        &self,
        labels: &[usize],
        a: f64,
        b: f64,
        with_grad: bool,
    ) -> (f64, Option<Mat<f64>>) {
        let m = self.llt.L().nrows();
        assert_eq!(labels.len(), m, "one label per row");
        // Classes present, in order of first appearance.
        let mut class_of = std::collections::HashMap::new();
        let cls: Vec<usize> = labels
            .iter()
            .map(|&y| {
                let next = class_of.len();
                *class_of.entry(y).or_insert(next)
            })
            .collect();
        let classes = class_of.len();
        let mut counts = vec![0usize; classes];
        for &q in &cls {
            counts[q] += 1;
        }
        let c = self.c;
        let s = a - b;
        let z = Mat::from_fn(m, classes, |i, q| {
            f64::from(u8::from(cls[i] == q)) - counts[q] as f64 / m as f64
        });
        // ZᵀZ = diag(n) − n nᵀ / m.
        let small = Mat::from_fn(classes, classes, |p, q| {
            let g = if p == q { counts[p] as f64 } else { 0.0 }
                - (counts[p] * counts[q]) as f64 / m as f64;
            s * g + if p == q { c } else { 0.0 }
        });
        let eye = Mat::<f64>::identity(classes, classes);
        let w = {
            let inv = small.partial_piv_lu().solve(&eye);
            Mat::from_fn(classes, classes, |p, q| {
                s * 0.5 * (inv[(p, q)] + inv[(q, p)])
            })
        };
        let p = match self.inverse.get() {
            Some(minv) => minv * &z,
            None => self.llt.solve(&z),
        };
        let q = Mat::from_fn(m, classes, |i, j| z[(i, j)] - c * p[(i, j)]);
        let ztq = z.transpose() * &q;
        let mut value = 0.0;
        for i in 0..classes {
            for j in 0..classes {
                value += ztq[(i, j)] * w[(j, i)];
            }
        }
        let grad = with_grad.then(|| {
            let pw = &p * &w;
            let mut g = pw * p.transpose();
            // c times its symmetric part: exactly symmetric, as the input term's gradient.
            symmetrize_scaled(&mut g, c);
            g
        });
        (value, grad)
    }
}

/// Whether the label Gram `ky` (host) is two-valued by class for `labels`: `Some((a, b))` with
/// `a` within a class and `b` between classes (entries within 1e-5 of them, relative to
/// `max(|a|, |b|)`), else `None`.
pub fn two_valued_label_gram(ky: &Mat<f64>, labels: &[usize]) -> Option<(f64, f64)> {
    let m = labels.len();
    if ky.nrows() != m || ky.ncols() != m || m == 0 {
        return None;
    }
    let a = ky[(0, 0)];
    let b = (0..m)
        .find(|&j| labels[j] != labels[0])
        .map_or(a, |j| ky[(0, j)]);
    let tol = 1e-5 * a.abs().max(b.abs()).max(f64::MIN_POSITIVE);
    let two_valued = (0..m).all(|j| {
        (0..m).all(|i| {
            let want = if labels[i] == labels[j] { a } else { b };
            (ky[(i, j)] - want).abs() <= tol
        })
    });
    two_valued.then_some((a, b))
}

impl NhsicFactor {
    /// The factor of `ky` (square, untracked or not: no gradient flows to it) with regulariser
    /// `epsilon`; `None` when `H K_Y H + ε m I` is not numerically positive definite.
    ///
    /// # Panics
    /// If `ky` is not square or ε is not finite and > 0.
    pub fn new(ky: &Tensor<2>, epsilon: f64) -> Option<Self> {
        let _phase = crate::profile::scope(crate::profile::Phase::Estimator);
        let [m, n] = ky.dims();
        assert_eq!(m, n, "nhsic needs square Gram matrices");
        assert!(
            epsilon.is_finite() && epsilon > 0.0,
            "nhsic needs a finite epsilon > 0, got {epsilon}"
        );
        Self::from_host(&to_host(ky), epsilon)
    }

    /// [`NhsicFactor::new`] of a host Gram matrix.
    ///
    /// # Panics
    /// If `ky` is not square or ε is not finite and > 0.
    pub fn from_host(ky: &Mat<f64>, epsilon: f64) -> Option<Self> {
        let m = ky.nrows();
        let shifted = ShiftedGram::new(ky, epsilon)?;
        let c = shifted.shift();
        let inv = shifted.inverse();
        let r = Mat::from_fn(m, m, |i, j| f64::from(u8::from(i == j)) - c * inv[(i, j)]);
        let trace = (0..m).map(|i| r[(i, i)]).sum();
        let r32 = to_f32(&r);
        Some(NhsicFactor {
            r,
            r32,
            trace,
            epsilon,
        })
    }

    /// The batch size `m` it was computed for.
    pub fn size(&self) -> usize {
        self.r.nrows()
    }
}

/// [`nhsic`]`(K, K_Y)` with `K_Y`'s [`NhsicFactor`]: with `M = H K H + cI` (Cholesky, inverse)
/// and `P = M^{-1} R_Y`,
///
/// `nHSIC = tr(R R_Y) = tr(R_Y) − c tr(P)`,  `∂/∂K = H (c P M^{-1}) H`
///
/// (`∂/∂K̄ = c M^{-1} R_Y M^{-1}`, from `R = I − c M^{-1}`): one m³/3 factorisation, an inverse
/// and two m × m products, against two LU factorisations and three m-column solves of the
/// general path. The value is the same function of `K` under either [`Centering`], so this
/// serves both. `None` when `M` is not numerically positive definite.
///
/// # Panics
/// If `k` is not square of the factor's size.
pub fn nhsic_with_factor(k: Tensor<2>, y: &NhsicFactor) -> Option<Tensor<1>> {
    let _phase = crate::profile::scope(crate::profile::Phase::Estimator);
    let m = y.size();
    assert_eq!(
        k.dims(),
        [m, m],
        "nhsic needs Gram matrices of the same shape"
    );
    let shifted = ShiftedGram::new(&to_host(&k), y.epsilon)?;
    let (value, grad) = shifted.against_factor(y, k.is_tracked());
    let terms = grad
        .map(|g| vec![(k.clone(), center_host(&g, Centering::Both))])
        .unwrap_or_default();
    Some(with_surrogate_gradient(value, &k, terms))
}

/// [`nhsic`] against a label Gram matrix `ky` that is two-valued by class — `a` between items
/// of the same class, `b` otherwise: the delta kernel, or a Gaussian kernel on one-hot labels —
/// through the rank-C structure of the centred label Gram. With `E` the m × C class indicator,
/// `Z = H E`, `s = a − b` and `c = ε m`:
///
/// `H K_Y H = s Z Zᵀ`, so `R_Y = Z W Zᵀ` with `W = s (s ZᵀZ + cI)^{-1}` (C × C), and with
/// `M = H K H + cI = L Lᵀ` (Cholesky) and `P = M^{-1} Z` (C right-hand sides):
///
/// `nHSIC(K, K_Y) = tr(Zᵀ (Z − cP) W)`,  `∂/∂K = H (c P W Pᵀ) H`.
///
/// One m³/3 factorisation and O(m² C) besides, instead of two LU factorisations and four solves
/// with m right-hand sides. The value is the same function of `K` under either [`Centering`]
/// (see there), so the gradient is too. Falls back to [`nhsic`] when `ky` is tracked, does not
/// have that form (entries within 1e-5 of `a` or `b`, relative to `max(|a|, |b|)`), or `M` is
/// not numerically positive definite.
///
/// # Panics
/// As [`nhsic`].
pub fn nhsic_with_labels(
    k: Tensor<2>,
    ky: Tensor<2>,
    labels: &[usize],
    epsilon: f64,
    centering: Centering,
) -> Tensor<1> {
    let _phase = crate::profile::scope(crate::profile::Phase::Estimator);
    let [m, n] = k.dims();
    if ky.is_tracked() || labels.len() != m || m != n || ky.dims() != [m, m] || m < 2 {
        return nhsic(k, ky, epsilon, centering);
    }
    assert!(
        epsilon.is_finite() && epsilon > 0.0,
        "nhsic needs a finite epsilon > 0, got {epsilon}"
    );
    let Some((a, b)) = two_valued_label_gram(&to_host(&ky), labels) else {
        return nhsic(k, ky, epsilon, centering);
    };
    nhsic_two_valued_labels(k.clone(), labels, a, b, epsilon)
        .unwrap_or_else(|| nhsic(k, ky, epsilon, centering))
}

/// The computation behind [`nhsic_with_labels`], for the label Gram `K_Y` with `a` between items
/// of the same class and `b` otherwise; `None` when `H K H + ε m I` is not numerically positive
/// definite.
///
/// # Panics
/// If `labels` does not have one entry per row of `k`, or ε is not finite and > 0.
pub fn nhsic_two_valued_labels(
    k: Tensor<2>,
    labels: &[usize],
    a: f64,
    b: f64,
    epsilon: f64,
) -> Option<Tensor<1>> {
    let _phase = crate::profile::scope(crate::profile::Phase::Estimator);
    let [m, _] = k.dims();
    assert_eq!(labels.len(), m, "one label per row");
    assert!(
        epsilon.is_finite() && epsilon > 0.0,
        "nhsic needs a finite epsilon > 0, got {epsilon}"
    );
    let shifted = ShiftedGram::new(&to_host(&k), epsilon)?;
    let (value, grad) = shifted.against_labels(labels, a, b, k.is_tracked());
    let terms = grad
        .map(|g| vec![(k.clone(), center_host(&g, Centering::Both))])
        .unwrap_or_default();
    Some(with_surrogate_gradient(value, &k, terms))
}
