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
