//! HSIC and nHSIC against direct f64 computations with explicit matrices.

mod common;

use burn::tensor::Device;
use common::{Rng, centering_matrix, matmul, matrix, nhsic_explicit, scalar, values};
use mole_info::{Centering, GaussianKernel, KernelWidth, NHSIC_EPSILON, hsic, nhsic};

/// Gram matrices (f32 on the device) and their exact f64 copies.
fn grams(
    m: usize,
    seed: u64,
) -> (
    burn::tensor::Tensor<2>,
    burn::tensor::Tensor<2>,
    Vec<f64>,
    Vec<f64>,
) {
    let mut rng = Rng::new(seed);
    let x = rng.normal_vec(m, 3);
    let y: Vec<f64> = (0..m)
        .map(|i| x[3 * i] * x[3 * i + 1] + 0.3 * rng.normal())
        .collect();
    let device = Device::flex();
    let kernel = GaussianKernel::new(KernelWidth::Fixed(1.5));
    let kx = kernel.gram(matrix(&x, m, 3, &device)).matrix;
    let ky = kernel.gram(matrix(&y, m, 1, &device)).matrix;
    let (hx, hy) = (values(&kx), values(&ky));
    (kx, ky, hx, hy)
}

#[test]
fn nhsic_matches_explicit_inverse() {
    // Same f32 Gram entries in both; the library solves in f64, the oracle inverts in f64, so
    // they agree to ~cond·1e-16; the library's result is rounded to f32 (relative 6e-8).
    // Relative 1e-6 covers that.
    for (m, seed) in [(5, 1), (8, 2), (12, 3)] {
        let (kx, ky, hx, hy) = grams(m, seed);
        for eps in [NHSIC_EPSILON, 1e-2] {
            for centering in [Centering::Both, Centering::Right] {
                let got = scalar(&nhsic(kx.clone(), ky.clone(), eps, centering));
                let want = nhsic_explicit(&hx, &hy, m, eps, centering);
                assert!(
                    (got - want).abs() <= 1e-6 * want.abs().max(1.0),
                    "m {m} eps {eps} {centering:?}: {got} vs {want}"
                );
            }
        }
    }
}

#[test]
fn hsic_matches_trace_formula() {
    // tr(Kx H Ky H) / (m-1)² in f64 vs the library's O(m²) f32 form: relative 1e-5 covers the
    // f32 rounding of m² terms of mixed sign.
    for (m, seed) in [(5, 4), (9, 5)] {
        let (kx, ky, hx, hy) = grams(m, seed);
        let h = centering_matrix(m);
        let p = matmul(&matmul(&matmul(&hx, &h, m), &hy, m), &h, m);
        let want: f64 = (0..m).map(|i| p[i * m + i]).sum::<f64>() / ((m - 1) * (m - 1)) as f64;
        let got = scalar(&hsic(kx, ky));
        assert!(
            (got - want).abs() <= 1e-5 * want.abs() + 1e-7,
            "{got} vs {want}"
        );
    }
}

/// The rank-C label path equals the general solve path: values and gradients, for the delta
/// kernel and a Gaussian kernel on one-hot labels (two values by class), both centrings, with
/// a class left out and classes of different sizes.
#[test]
fn label_structured_nhsic_equals_the_general_path() {
    use mole_info::{LabelKernel, nhsic_two_valued_labels, nhsic_with_labels};
    let device = Device::flex().autodiff();
    let labels = [0usize, 2, 2, 1, 0, 2, 1, 2, 0, 2];
    let m = labels.len();
    let x = Rng::new(9).normal_vec(m, 3);
    let one_hot: Vec<f64> = labels
        .iter()
        .flat_map(|&y| (0..4).map(move |c| f64::from(u8::from(c == y))))
        .collect();
    let gaussian = GaussianKernel::new(KernelWidth::Fixed(1.2));
    // Same class 1, else 0 (delta) or exp(−2 / (2 · 1.2²)) (one-hot vectors √2 apart).
    let label_grams = [
        (LabelKernel::Delta.gram(&labels, 4, &device), 0.0),
        (
            gaussian.gram(matrix(&one_hot, m, 4, &device)).matrix,
            (-1.0f64 / (1.2 * 1.2)).exp(),
        ),
    ];
    for (ky, other) in label_grams {
        for eps in [NHSIC_EPSILON, 1e-2] {
            for centering in [Centering::Both, Centering::Right] {
                let run = |fast: bool| {
                    let xt = matrix(&x, m, 3, &device).require_grad();
                    let kt = GaussianKernel::new(KernelWidth::Fixed(1.5))
                        .gram(xt.clone())
                        .matrix;
                    let h = if fast {
                        // The structured computation itself, then the dispatching entry point.
                        let direct = nhsic_two_valued_labels(kt.clone(), &labels, 1.0, other, eps)
                            .expect("positive definite");
                        let dispatched = nhsic_with_labels(kt, ky.clone(), &labels, eps, centering);
                        assert!((scalar(&direct) - scalar(&dispatched)).abs() < 1e-6);
                        direct
                    } else {
                        nhsic(kt, ky.clone(), eps, centering)
                    };
                    let v = scalar(&h);
                    let g = values(&xt.grad(&h.backward()).expect("gradient"));
                    (v, g)
                };
                let (v_fast, g_fast) = run(true);
                let (v_slow, g_slow) = run(false);
                assert!(
                    (v_fast - v_slow).abs() <= 1e-5 * v_slow.abs().max(1.0),
                    "eps {eps} {centering:?}: {v_fast} vs {v_slow}"
                );
                let scale = g_slow.iter().fold(0.0f64, |a, v| a.max(v.abs()));
                assert!(scale > 1e-6, "a gradient to compare");
                for (a, b) in g_fast.iter().zip(&g_slow) {
                    assert!(
                        (a - b).abs() <= 1e-3 * scale,
                        "eps {eps} {centering:?}: {g_fast:?}\n{g_slow:?}"
                    );
                }
            }
        }
    }
}

/// With the first Gram tracked, the value comes from `tr(R_Y) − c tr(M_X⁻¹ R_Y)` (no `R_X`):
/// it equals the untracked computation and the explicit f64 oracle.
#[test]
fn tracked_nhsic_value_equals_the_untracked_one() {
    let autodiff = Device::flex().autodiff();
    for (m, seed) in [(6, 11), (16, 12)] {
        let (kx, ky, hx, hy) = grams(m, seed);
        for centering in [Centering::Both, Centering::Right] {
            let plain = scalar(&nhsic(kx.clone(), ky.clone(), NHSIC_EPSILON, centering));
            let tracked_kx = matrix(&hx, m, m, &autodiff).require_grad();
            let tracked = scalar(&nhsic(
                tracked_kx,
                matrix(&hy, m, m, &autodiff),
                NHSIC_EPSILON,
                centering,
            ));
            let want = nhsic_explicit(&hx, &hy, m, NHSIC_EPSILON, centering);
            assert!(
                (tracked - plain).abs() <= 1e-6 * want.abs().max(1.0),
                "{tracked} vs {plain}"
            );
            assert!(
                (tracked - want).abs() <= 1e-6 * want.abs().max(1.0),
                "{tracked} vs {want}"
            );
        }
    }
}

/// One [`NhsicFactor`] of a constant Gram serves several tracked Grams (the modules scored
/// against one batch's inputs): each value and gradient equals the general LU path's (reached
/// with `Right` centring, the same function of `K`), at the default ε and a larger one.
#[test]
fn shared_factor_equals_the_general_path() {
    use mole_info::{NhsicFactor, nhsic_with_factor};
    let device = Device::flex().autodiff();
    let m = 24;
    let mut rng = Rng::new(21);
    let x = rng.normal_vec(m, 5);
    let kx = GaussianKernel::new(KernelWidth::Fixed(2.0))
        .gram(matrix(&x, m, 5, &device))
        .matrix;
    for eps in [NHSIC_EPSILON, 1e-2] {
        let factor = NhsicFactor::new(&kx, eps).expect("positive definite");
        assert_eq!(factor.size(), m);
        for (seed, width) in [(22, 3), (23, 7)] {
            let t = Rng::new(seed).normal_vec(m, width);
            let run = |shared: bool| {
                let xt = matrix(&t, m, width, &device).require_grad();
                let kt = GaussianKernel::new(KernelWidth::Fixed(1.3))
                    .gram(xt.clone())
                    .matrix;
                let h = if shared {
                    nhsic_with_factor(kt, &factor).expect("positive definite")
                } else {
                    nhsic(kt, kx.clone(), eps, Centering::Right)
                };
                let v = scalar(&h);
                (v, values(&xt.grad(&h.backward()).expect("gradient")))
            };
            let ((v1, g1), (v2, g2)) = (run(true), run(false));
            assert!((v1 - v2).abs() <= 1e-5 * v2.abs().max(1.0), "{v1} vs {v2}");
            let scale = g2.iter().fold(0.0f64, |a, v| a.max(v.abs()));
            assert!(scale > 1e-6, "a gradient to compare");
            for (a, b) in g1.iter().zip(&g2) {
                assert!((a - b).abs() <= 1e-3 * scale, "eps {eps}: {a} vs {b}");
            }
        }
    }
}

/// `center_symmetric_in_place` of a symmetric matrix is `center_host`'s `H G H` (to round-off)
/// and exactly symmetric, which the HSIC objective relies on to send `G` to the samples without
/// a transpose.
#[test]
fn symmetric_centring_equals_the_general_one_and_stays_symmetric() {
    use faer::Mat;
    use mole_info::{Centering, center_host, center_symmetric_in_place};
    let m = 37;
    let a = Mat::<f64>::from_fn(m, m, |i, j| ((i * 31 + j * 17) as f64 * 0.37).sin());
    let g = Mat::<f64>::from_fn(m, m, |i, j| a[(i, j)] + a[(j, i)] + 3.0);
    let want = center_host(&g, Centering::Both);
    let mut got = g.clone();
    center_symmetric_in_place(&mut got);
    for i in 0..m {
        let row_sum: f64 = (0..m).map(|j| got[(i, j)]).sum();
        assert!(row_sum.abs() < 1e-10, "row {i} sums to {row_sum}");
        for j in 0..m {
            assert_eq!(got[(i, j)], got[(j, i)], "({i}, {j})");
            assert!((got[(i, j)] - want[(i, j)]).abs() < 1e-12, "({i}, {j})");
        }
    }
}
