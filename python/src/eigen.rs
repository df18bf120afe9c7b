//! Eigenvalues of a real symmetric matrix, without eigenvectors, for the measures: a *blocked*
//! Householder reduction to tridiagonal form (LAPACK's `dsytrd` with `dlatrd` panels: half of
//! the work in matrix products, which faer does at full speed, half in one symmetric
//! matrix-vector product per column that reads the lower triangle once) followed by the
//! implicit QL algorithm on the tridiagonal matrix (EISPACK's `tql1`).
//!
//! Why here: `faer`'s `self_adjoint_eigenvalues` reduces one column at a time, each step a
//! read and write of the whole trailing matrix; on the measures' 1,000 × 1,000 Gram matrices
//! that took about 200 ms, four times LAPACK's `dsyevd` without vectors, and made
//! `mole.mutual_information` slower than a numpy implementation. The measures need no
//! gradient, so no eigenvectors. Training keeps `mole_info`'s solver (it needs the vectors).

use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::reborrow::{Reborrow, ReborrowMut};
use faer::{Accum, Mat, MatMut, MatRef, Par};

/// Columns reduced per panel.
const PANEL: usize = 32;

/// The Householder reflector `H = I − τ v vᵀ` (`v[0] = 1`) with `H x = (β, 0, …, 0)`:
/// returns `(β, τ)` and leaves `v[1..]` in `x[1..]` (LAPACK's `dlarfg`; the matrix is scaled
/// to entries of at most 1 first, so no rescaling against underflow is needed).
fn reflector(x: &mut [f64]) -> (f64, f64) {
    let alpha = x[0];
    let tail = x[1..].iter().map(|v| v * v).sum::<f64>().sqrt();
    if tail == 0.0 {
        return (alpha, 0.0);
    }
    let norm = alpha.hypot(tail);
    let beta = if alpha > 0.0 { -norm } else { norm };
    let tau = (beta - alpha) / beta;
    let scale = 1.0 / (alpha - beta);
    for v in &mut x[1..] {
        *v *= scale;
    }
    (beta, tau)
}

/// A contiguous column of a column-major view.
fn column<'a>(a: MatRef<'a, f64>, j: usize) -> &'a [f64] {
    a.col(j)
        .try_as_col_major()
        .expect("columns of a faer Mat are contiguous")
        .as_slice()
}

/// A contiguous column of a mutable column-major view.
fn column_mut(a: MatMut<'_, f64>, j: usize) -> &mut [f64] {
    a.col_mut(j)
        .try_as_col_major_mut()
        .expect("columns of a faer Mat are contiguous")
        .as_slice_mut()
}

/// `Σ x_i y_i` with four partial sums.
fn dot(x: &[f64], y: &[f64]) -> f64 {
    let mut acc = [0.0f64; 4];
    let (cx, cy) = (x.chunks_exact(4), y.chunks_exact(4));
    let tail: f64 = cx
        .remainder()
        .iter()
        .zip(cy.remainder())
        .map(|(a, b)| a * b)
        .sum();
    for (a, b) in cx.zip(cy) {
        for l in 0..4 {
            acc[l] += a[l] * b[l];
        }
    }
    acc.iter().sum::<f64>() + tail
}

/// `y = A v` for the symmetric `A` given by its lower triangle: every entry below the
/// diagonal is read once and used twice (an axpy into the rows below and a dot product into
/// `y[j]`), two columns per pass over `y` and `v`.
#[inline(always)]
fn symv_lower_kernel(a: MatRef<'_, f64>, v: &[f64], y: &mut [f64]) {
    let n = v.len();
    y.fill(0.0);
    let mut j = 0;
    while j + 1 < n {
        let (c0, c1) = (column(a, j), column(a, j + 1));
        let (v0, v1) = (v[j], v[j + 1]);
        // the 2 x 2 diagonal block
        let a10 = c0[j + 1];
        let mut s0 = c0[j] * v0 + a10 * v1;
        let mut s1 = a10 * v0 + c1[j + 1] * v1;
        let start = j + 2;
        let (r0, r1, vr) = (&c0[start..n], &c1[start..n], &v[start..n]);
        let yr = &mut y[start..n];
        let mut acc0 = [0.0f64; 4];
        let mut acc1 = [0.0f64; 4];
        let mut i0 = r0.chunks_exact(4);
        let mut i1 = r1.chunks_exact(4);
        let mut iv = vr.chunks_exact(4);
        let mut iy = yr.chunks_exact_mut(4);
        for (((a0, a1), v4), y4) in (&mut i0).zip(&mut i1).zip(&mut iv).zip(&mut iy) {
            for l in 0..4 {
                y4[l] += a0[l] * v0 + a1[l] * v1;
                acc0[l] += a0[l] * v4[l];
                acc1[l] += a1[l] * v4[l];
            }
        }
        for (((&a0, &a1), &vk), yk) in i0
            .remainder()
            .iter()
            .zip(i1.remainder())
            .zip(iv.remainder())
            .zip(iy.into_remainder())
        {
            *yk += a0 * v0 + a1 * v1;
            s0 += a0 * vk;
            s1 += a1 * vk;
        }
        y[j] += s0 + acc0.iter().sum::<f64>();
        y[j + 1] += s1 + acc1.iter().sum::<f64>();
        j += 2;
    }
    if j < n {
        y[j] += column(a, j)[j] * v[j];
    }
}

/// [`symv_lower_kernel`] with AVX2 vectors and fused multiply-adds (the compiler does not
/// vectorise the portable loop): two columns per pass, eight rows per step.
///
/// # Safety
/// The CPU must have AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn symv_lower_avx2(a: MatRef<'_, f64>, v: &[f64], y: &mut [f64]) {
    use std::arch::x86_64::*;
    let n = v.len();
    assert!(y.len() == n && a.nrows() == n && a.ncols() == n);
    y.fill(0.0);
    let mut j = 0;
    while j + 1 < n {
        let (c0, c1) = (column(a, j), column(a, j + 1));
        let (v0, v1) = (v[j], v[j + 1]);
        let a10 = c0[j + 1];
        let mut s0 = c0[j] * v0 + a10 * v1;
        let mut s1 = a10 * v0 + c1[j + 1] * v1;
        let start = j + 2;
        let len = n - start;
        let steps = len / 8;
        // SAFETY: the pointers address rows start..n of c0, c1, v and y, which all have n
        // entries, and every access below is at an offset < 8 * steps <= len.
        unsafe {
            let (p0, p1) = (c0.as_ptr().add(start), c1.as_ptr().add(start));
            let (pv, py) = (v.as_ptr().add(start), y.as_mut_ptr().add(start));
            let (b0, b1) = (_mm256_set1_pd(v0), _mm256_set1_pd(v1));
            let (mut x0, mut x1) = (_mm256_setzero_pd(), _mm256_setzero_pd());
            let (mut z0, mut z1) = (_mm256_setzero_pd(), _mm256_setzero_pd());
            let mut k = 0;
            while k < steps * 8 {
                let a0 = _mm256_loadu_pd(p0.add(k));
                let a1 = _mm256_loadu_pd(p1.add(k));
                let e0 = _mm256_loadu_pd(p0.add(k + 4));
                let e1 = _mm256_loadu_pd(p1.add(k + 4));
                let w = _mm256_loadu_pd(pv.add(k));
                let u = _mm256_loadu_pd(pv.add(k + 4));
                let ya = _mm256_loadu_pd(py.add(k));
                let yb = _mm256_loadu_pd(py.add(k + 4));
                _mm256_storeu_pd(
                    py.add(k),
                    _mm256_fmadd_pd(a0, b0, _mm256_fmadd_pd(a1, b1, ya)),
                );
                _mm256_storeu_pd(
                    py.add(k + 4),
                    _mm256_fmadd_pd(e0, b0, _mm256_fmadd_pd(e1, b1, yb)),
                );
                x0 = _mm256_fmadd_pd(a0, w, x0);
                x1 = _mm256_fmadd_pd(e0, u, x1);
                z0 = _mm256_fmadd_pd(a1, w, z0);
                z1 = _mm256_fmadd_pd(e1, u, z1);
                k += 8;
            }
            let mut lanes = [0.0f64; 8];
            _mm256_storeu_pd(lanes.as_mut_ptr(), _mm256_add_pd(x0, x1));
            _mm256_storeu_pd(lanes.as_mut_ptr().add(4), _mm256_add_pd(z0, z1));
            s0 += lanes[..4].iter().sum::<f64>();
            s1 += lanes[4..].iter().sum::<f64>();
        }
        for k in start + steps * 8..n {
            y[k] += c0[k] * v0 + c1[k] * v1;
            s0 += c0[k] * v[k];
            s1 += c1[k] * v[k];
        }
        y[j] += s0;
        y[j + 1] += s1;
        j += 2;
    }
    if j < n {
        y[j] += column(a, j)[j] * v[j];
    }
}

/// `y = A v`, `A` symmetric by its lower triangle (AVX2 and FMA when the CPU has them and
/// `portable` is false).
fn symv_lower(a: MatRef<'_, f64>, v: &[f64], y: &mut [f64], portable: bool) {
    #[cfg(target_arch = "x86_64")]
    if !portable && is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        // SAFETY: the features the function is compiled for were detected.
        return unsafe { symv_lower_avx2(a, v, y) };
    }
    symv_lower_kernel(a, v, y)
}

/// Reduces the symmetric matrix `a` (its lower triangle is read and updated, the upper one
/// ignored) to tridiagonal form in place; returns the diagonal and the sub-diagonal.
fn tridiagonalize(mut a: MatMut<'_, f64>, portable: bool) -> (Vec<f64>, Vec<f64>) {
    let n = a.nrows();
    let mut d = vec![0.0; n];
    let mut e = vec![0.0; n.saturating_sub(1)];
    let mut w = Mat::<f64>::zeros(n, PANEL);
    let mut col = vec![0.0; n];
    let mut k0 = 0;
    while n - k0 > 1 {
        let m = n - k0;
        let nb = PANEL.min(m - 1);
        let mut at = a.rb_mut().submatrix_mut(k0, k0, m, m);
        let mut wt = w.as_mut().submatrix_mut(0, 0, m, nb);
        for i in 0..nb {
            let (left, right) = at.rb_mut().split_at_col_mut(i);
            let target = column_mut(right, 0);
            if i > 0 {
                // Column i with the panel's earlier reflectors applied:
                // a[i.., i] −= A[i.., ..i] W[i, ..i]ᵀ + W[i.., ..i] A[i, ..i]ᵀ.
                for k in 0..i {
                    let (ak, wk) = (column(left.rb(), k), column(wt.rb(), k));
                    let (wik, aik) = (wk[i], ak[i]);
                    for ((t, &a), &w) in target[i..].iter_mut().zip(&ak[i..]).zip(&wk[i..]) {
                        *t -= wik * a + aik * w;
                    }
                }
            }
            d[k0 + i] = target[i];
            // The reflector that zeroes a[i+2.., i]; v (v[0] = 1) is stored in its place.
            let len = m - i - 1;
            let (beta, tau) = reflector(&mut target[i + 1..]);
            e[k0 + i] = beta;
            target[i + 1] = 1.0;
            col[..len].copy_from_slice(&target[i + 1..]);
            let v = &col[..len];
            // w = τ (A22 v − A_p (W_pᵀ v) − W_p (A_pᵀ v)), then w += −½ τ (wᵀv) v; A22 is the
            // trailing matrix without the panel's updates (those are in A_p and W_p).
            let (left, right) = at.rb_mut().split_at_col_mut(i + 1);
            let a22 = right.rb().submatrix(i + 1, 0, len, len);
            let (wleft, wright) = wt.rb_mut().split_at_col_mut(i);
            let wi = &mut column_mut(wright, 0)[i + 1..];
            symv_lower(a22, v, wi, portable);
            for k in 0..i {
                let ak = &column(left.rb(), k)[i + 1..];
                let wk = &column(wleft.rb(), k)[i + 1..];
                let (t1, t2) = (dot(wk, v), dot(ak, v));
                for ((x, &a), &w) in wi.iter_mut().zip(ak).zip(wk) {
                    *x -= a * t1 + w * t2;
                }
            }
            wi.iter_mut().for_each(|x| *x *= tau);
            let alpha = -0.5 * tau * dot(wi, v);
            for (x, &c) in wi.iter_mut().zip(v) {
                *x += alpha * c;
            }
        }
        // The trailing matrix, lower triangle: A[nb.., nb..] −= V Wᵀ + W Vᵀ (V: the panel's
        // reflectors).
        let rest = m - nb;
        let (left, right) = at.rb_mut().split_at_col_mut(nb);
        let v = left.rb().submatrix(nb, 0, rest, nb);
        let wv = wt.rb().submatrix(nb, 0, rest, nb);
        let mut a22 = right.submatrix_mut(nb, 0, rest, rest);
        let full = BlockStructure::Rectangular;
        let lower = BlockStructure::TriangularLower;
        triangular::matmul(
            a22.rb_mut(),
            lower,
            Accum::Add,
            v,
            full,
            wv.transpose(),
            full,
            -1.0,
            Par::Seq,
        );
        triangular::matmul(
            a22,
            lower,
            Accum::Add,
            wv,
            full,
            v.transpose(),
            full,
            -1.0,
            Par::Seq,
        );
        k0 += nb;
    }
    if n > 0 {
        d[n - 1] = a[(n - 1, n - 1)];
    }
    (d, e)
}

/// Eigenvalues of the symmetric tridiagonal matrix with diagonal `d` and sub-diagonal `e`
/// (implicit QL with Wilkinson's shift, EISPACK's `tql1`; entries of at most about 1, so plain
/// square roots do not overflow); `None` if it does not converge.
fn tridiagonal_eigenvalues(mut d: Vec<f64>, e: &[f64]) -> Option<Vec<f64>> {
    let n = d.len();
    let mut e: Vec<f64> = e.iter().copied().chain(std::iter::once(0.0)).collect();
    let norm = |a: f64, b: f64| (a * a + b * b).sqrt();
    // An off-diagonal entry below ε‖T‖ is zero to the accuracy of the reduction (EISPACK's
    // test against the norm; a test against the neighbouring diagonal alone never passes
    // between two zero eigenvalues).
    let small = f64::EPSILON
        * (0..n)
            .map(|i| d[i].abs() + e[i].abs() + if i > 0 { e[i - 1].abs() } else { 0.0 })
            .fold(0.0, f64::max);
    for l in 0..n {
        let mut iterations = 0;
        loop {
            let mut m = l;
            while m + 1 < n {
                let dd = d[m].abs() + d[m + 1].abs();
                if e[m].abs() <= f64::EPSILON * dd || e[m].abs() <= small {
                    break;
                }
                m += 1;
            }
            if m == l {
                break;
            }
            iterations += 1;
            if iterations > 60 {
                return None;
            }
            let mut g = (d[l + 1] - d[l]) / (2.0 * e[l]);
            let mut r = norm(g, 1.0);
            g = d[m] - d[l] + e[l] / (g + r.copysign(g));
            let (mut s, mut c, mut p) = (1.0, 1.0, 0.0);
            let mut deflated = false;
            for i in (l..m).rev() {
                let f = s * e[i];
                let b = c * e[i];
                r = norm(f, g);
                e[i + 1] = r;
                if r == 0.0 {
                    d[i + 1] -= p;
                    e[m] = 0.0;
                    deflated = true;
                    break;
                }
                s = f / r;
                c = g / r;
                g = d[i + 1] - p;
                r = (d[i] - g) * s + 2.0 * c * b;
                p = s * r;
                d[i + 1] = g + p;
                g = c * r - b;
            }
            if deflated {
                continue;
            }
            d[l] -= p;
            e[l] = g;
            e[m] = 0.0;
        }
    }
    d.sort_by(f64::total_cmp);
    Some(d)
}

/// The eigenvalues, ascending, of the symmetric matrix `a` (the mean of `a` and `aᵀ`, so
/// round-off asymmetry is harmless); `None` if an entry is not finite or the QL iteration does
/// not converge.
pub fn symmetric_eigenvalues(a: Mat<f64>) -> Option<Vec<f64>> {
    symmetric_eigenvalues_with(a, false)
}

/// [`symmetric_eigenvalues`]; `portable`: without the AVX2 kernel even where the CPU has it
/// (the tests check both).
pub fn symmetric_eigenvalues_with(mut a: Mat<f64>, portable: bool) -> Option<Vec<f64>> {
    let n = a.nrows();
    assert_eq!(n, a.ncols(), "a square matrix");
    let mut scale = 0.0f64;
    for j in 0..n {
        for i in j..n {
            let v = 0.5 * (a[(i, j)] + a[(j, i)]);
            if !v.is_finite() {
                return None;
            }
            a[(i, j)] = v;
            scale = scale.max(v.abs());
        }
    }
    if scale == 0.0 {
        return Some(vec![0.0; n]);
    }
    // Entries of at most 1 (the eigenvalues scale back exactly: a power of two).
    let scale = 2f64.powi(scale.log2().ceil() as i32);
    for j in 0..n {
        for i in j..n {
            a[(i, j)] /= scale;
        }
    }
    let (d, e) = tridiagonalize(a.as_mut(), portable);
    let mut values = tridiagonal_eigenvalues(d, &e)?;
    values.iter_mut().for_each(|v| *v *= scale);
    Some(values)
}
