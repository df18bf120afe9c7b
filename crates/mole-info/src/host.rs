//! Small host-matrix helpers shared by the estimators: columns of an owned (column-major) faer
//! matrix as slices, the lower triangle mirrored, and the f32 matrix product on the current
//! rayon pool's threads.

use faer::Mat;

/// Column `j` of an owned matrix as a slice.
pub(crate) fn column(k: &Mat<f64>, j: usize) -> &[f64] {
    k.col(j)
        .try_as_col_major()
        .expect("an owned matrix has contiguous columns")
        .as_slice()
}

/// Column `j` of an owned matrix as a mutable slice.
pub(crate) fn column_mut(k: &mut Mat<f64>, j: usize) -> &mut [f64] {
    k.col_mut(j)
        .try_as_col_major_mut()
        .expect("an owned matrix has contiguous columns")
        .as_slice_mut()
}

/// Every column of an owned matrix as a mutable slice (disjoint, so they can go to different
/// threads).
pub(crate) fn columns_mut(k: &mut Mat<f64>) -> Vec<&mut [f64]> {
    k.as_mut()
        .col_iter_mut()
        .map(|c| {
            c.try_as_col_major_mut()
                .expect("an owned matrix has contiguous columns")
                .as_slice_mut()
        })
        .collect()
}

/// Side of the square tiles the transposing loops walk (two 32 × 32 f64 tiles stay in L1).
const TILE: usize = 32;

/// A matrix's storage shared between the threads of [`mirror_lower`].
struct SharedStorage(*mut f64);
// SAFETY: `mirror_lower` hands each thread its own destination columns and reads only entries
// that no thread writes (see there).
unsafe impl Sync for SharedStorage {}

/// Copies the strict lower triangle of a square matrix onto its upper triangle, tile by tile,
/// the destination's tile columns spread over the current rayon pool.
pub(crate) fn mirror_lower(k: &mut Mat<f64>) {
    use rayon::prelude::*;
    let m = k.nrows();
    debug_assert_eq!(m, k.ncols());
    let stride = usize::try_from(k.col_stride()).expect("an owned matrix has a positive stride");
    debug_assert_eq!(k.row_stride(), 1);
    let base = SharedStorage(k.as_ptr_mut());
    let base = &base;
    (0..m.div_ceil(TILE)).into_par_iter().for_each(|tile| {
        let ib = tile * TILE;
        for jb in (0..=ib).step_by(TILE) {
            for i in ib..(ib + TILE).min(m) {
                for j in jb..(jb + TILE).min(i) {
                    // SAFETY: (j, i) with j < i is in the strict upper triangle, in column i, which
                    // only this task writes; (i, j) is in the strict lower triangle, which no task
                    // writes. Both are inside the m × m matrix (i, j < m; columns `stride` apart,
                    // rows contiguous), and `k` stays borrowed mutably until every task is done.
                    unsafe { *base.0.add(i * stride + j) = *base.0.add(j * stride + i) };
                }
            }
        }
    });
}

/// `A ← s (A + Aᵀ) / 2` in place, tile by tile: the symmetric part, scaled. Both mirrored
/// entries get the same value, so the result is exactly symmetric.
pub(crate) fn symmetrize_scaled(a: &mut Mat<f64>, s: f64) {
    let m = a.nrows();
    debug_assert_eq!(m, a.ncols());
    for jb in (0..m).step_by(TILE) {
        for ib in (jb..m).step_by(TILE) {
            for j in jb..(jb + TILE).min(m) {
                for i in ib.max(j)..(ib + TILE).min(m) {
                    let v = 0.5 * s * (a[(i, j)] + a[(j, i)]);
                    a[(i, j)] = v;
                    a[(j, i)] = v;
                }
            }
        }
    }
}

/// `s (B + Bᵀ) / 2` in f64 of a square column-major f32 matrix `b` (`m × m`): exactly symmetric.
pub(crate) fn symmetric_part_f64(b: &[f32], m: usize, s: f64) -> Mat<f64> {
    assert_eq!(b.len(), m * m, "an m × m matrix");
    let mut out = Mat::<f64>::zeros(m, m);
    for j in 0..m {
        for (o, &v) in column_mut(&mut out, j)
            .iter_mut()
            .zip(&b[j * m..(j + 1) * m])
        {
            *o = f64::from(v);
        }
    }
    symmetrize_scaled(&mut out, s);
    out
}

/// An f64 matrix as a column-major f32 buffer.
pub(crate) fn to_f32(a: &Mat<f64>) -> Vec<f32> {
    let (m, n) = (a.nrows(), a.ncols());
    let mut out = Vec::with_capacity(m * n);
    for j in 0..n {
        out.extend(column(a, j).iter().map(|&v| v as f32));
    }
    out
}

/// An f32 matrix operand of [`product_f32`]: its first entry, column stride, row stride.
type Strided<P> = (P, isize, isize);

/// `dst = lhs · rhs` for `[m, n, k]` (`lhs` is `m × k`, `rhs` is `k × n`, `dst` is `m × n`,
/// overwritten), split over the threads of the current rayon pool (one in an async worker of
/// one thread).
///
/// # Safety
/// Each pointer with its strides must address its whole matrix inside one live allocation, and
/// `dst` must not overlap `lhs` or `rhs`.
unsafe fn product_f32(
    [m, n, k]: [usize; 3],
    dst: Strided<*mut f32>,
    lhs: Strided<*const f32>,
    rhs: Strided<*const f32>,
) {
    // SAFETY: the caller's contract, as `gemm` asks it.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.0,
            dst.1,
            dst.2,
            false,
            lhs.0,
            lhs.1,
            lhs.2,
            rhs.0,
            rhs.1,
            rhs.2,
            0.0f32,
            1.0f32,
            false,
            false,
            false,
            gemm::Parallelism::Rayon(0),
        );
    }
}

/// `C = A B` of column-major f32 matrices (`A` is `m × k`, `B` is `k × n`, `C` is `m × n`) on
/// the current rayon pool.
///
/// # Panics
/// If a buffer's length does not match its shape.
pub(crate) fn matmul_f32(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
    assert_eq!(a.len(), m * k, "A is m × k");
    assert_eq!(b.len(), k * n, "B is k × n");
    let mut c = vec![0f32; m * n];
    let (m_s, k_s) = (m as isize, k as isize);
    // SAFETY: the three buffers hold m × k, k × n and m × n column-major entries (asserted and
    // allocated above), the strides address exactly those, and `c` does not alias `a` or `b`.
    unsafe {
        product_f32(
            [m, n, k],
            (c.as_mut_ptr(), m_s, 1),
            (a.as_ptr(), m_s, 1),
            (b.as_ptr(), k_s, 1),
        );
    }
    c
}

/// The upper triangle (diagonal included) of `X Xᵀ` for the rows of a row-major `m × d`
/// matrix `X`, in a row-major `m × m` buffer (read entries `j ≥ i` only: below the diagonal
/// it holds the product within the diagonal panels, 0 elsewhere): one
/// product per panel of rows, `X[r0..r1] X[r0..]ᵀ`, on the current rayon pool: 62.5–75 % of
/// the full product's multiply-adds (panels of `max(128, m / 4)` rows). At d = 256, against
/// burn's full product: 0.37 → 0.32 ms at m = 256, 5.3 → 3.7 ms at m = 1024.
///
/// # Panics
/// If `x` does not hold `m × d` entries.
pub(crate) fn upper_gram_f32(x: &[f32], m: usize, d: usize) -> Vec<f32> {
    assert_eq!(x.len(), m * d, "X is m × d");
    let mut out = vec![0f32; m * m];
    // Each product packs its right operand again: fewer, larger panels win (measured at
    // d = 256: m = 256 fastest with two panels, m = 1024 with four).
    let panel = (m / 4).next_multiple_of(16).max(128);
    let (m_s, d_s) = (m as isize, d as isize);
    for r0 in (0..m).step_by(panel) {
        let rows = panel.min(m - r0);
        // SAFETY: `out` holds m × m entries and the destination block — rows r0..r0+rows,
        // columns r0..m, row stride m — lies inside it; the two operands are rows r0..r0+rows
        // and r0..m of `x` (m × d entries, asserted), read with row stride d; `out` does not
        // alias `x`.
        unsafe {
            let rows_from = x.as_ptr().add(r0 * d);
            product_f32(
                [rows, m - r0, d],
                (out.as_mut_ptr().add(r0 * m + r0), 1, m_s),
                (rows_from, 1, d_s),
                (rows_from, d_s, 1),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upper_gram_is_the_upper_triangle_of_x_xt() {
        // Sizes below, at and above one panel, and not multiples of it.
        for (m, d) in [(1, 3), (5, 4), (70, 9), (257, 6)] {
            let x: Vec<f32> = (0..m * d).map(|i| (i as f32 * 0.29).sin()).collect();
            let g = upper_gram_f32(&x, m, d);
            for i in 0..m {
                for j in 0..m {
                    let want: f32 = (0..d).map(|p| x[i * d + p] * x[j * d + p]).sum();
                    let got = g[i * m + j];
                    if j >= i {
                        assert!(
                            (got - want).abs() < 1e-5,
                            "m {m}: ({i}, {j}) {got} vs {want}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn matmul_f32_matches_the_definition() {
        let (m, k, n) = (5, 3, 4);
        let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.71).cos()).collect();
        let c = matmul_f32(&a, &b, m, k, n);
        for i in 0..m {
            for j in 0..n {
                let want: f32 = (0..k).map(|p| a[p * m + i] * b[j * k + p]).sum();
                assert!((c[j * m + i] - want).abs() < 1e-6, "({i}, {j})");
            }
        }
    }

    #[test]
    fn symmetric_part_is_exactly_symmetric_and_scaled() {
        let m = 70; // more than two tiles
        let b: Vec<f32> = (0..m * m).map(|i| (i as f32 * 0.13).sin()).collect();
        let s = symmetric_part_f64(&b, m, 3.0);
        for i in 0..m {
            for j in 0..m {
                assert_eq!(s[(i, j)], s[(j, i)]);
                let want = 1.5 * (f64::from(b[j * m + i]) + f64::from(b[i * m + j]));
                assert!((s[(i, j)] - want).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn mirror_lower_copies_the_lower_triangle() {
        // Sizes below, at and across the tile side, on one thread and on three.
        for threads in [1, 3] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            for m in [1, 5, 32, 40, 97] {
                let value = |i: usize, j: usize| (i * m + j) as f64;
                let mut k =
                    Mat::<f64>::from_fn(m, m, |i, j| if i >= j { value(i, j) } else { -1.0 });
                pool.install(|| mirror_lower(&mut k));
                for i in 0..m {
                    for j in 0..=i {
                        assert_eq!(k[(i, j)], value(i, j), "m {m}: lower ({i}, {j}) kept");
                        assert_eq!(k[(j, i)], value(i, j), "m {m}: upper ({j}, {i})");
                    }
                }
            }
        }
    }
}
