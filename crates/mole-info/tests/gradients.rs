//! Analytic / injected gradients against central finite differences.
//!
//! The tensors are f32, so the finite differences are taken with a fairly large step: with
//! function values O(1) rounded at ~1e-7, a step h = 1e-2 gives a rounding error of about
//! 1e-7 / (2h) = 5e-6 in each difference quotient and a truncation error of h²/6·f''' ≈ 2e-5·f'''.
//! Gradient entries are O(0.01–1), so we require
//! `max |g_autodiff − g_fd| ≤ 1e-2 · max |g_fd| + 1e-4`.
//! The actual perturbation is measured after rounding the perturbed input to f32.

mod common;

use burn::tensor::{Device, Tensor};
use common::{Rng, matrix, nhsic_explicit, values};
use mole_info::{
    Centering, GaussianKernel, KernelWidth, LabelKernel, NHSIC_EPSILON, mutual_information, nhsic,
    renyi_entropy, renyi_entropy_eigen, total_correlation,
};

const ROWS: usize = 6;
const COLS: usize = 3;
const STEP: f64 = 1e-2;
const REL_TOL: f64 = 1e-2;
const ABS_TOL: f64 = 1e-4;

fn input(seed: u64) -> Vec<f64> {
    Rng::new(seed).normal_vec(ROWS, COLS)
}

fn gram(x: Tensor<2>, sigma: f64) -> Tensor<2> {
    GaussianKernel::new(KernelWidth::Fixed(sigma))
        .gram(x)
        .matrix
}

/// Gradient of `f` at `x` by autodiff.
fn autodiff_gradient(f: &dyn Fn(Tensor<2>) -> Tensor<1>, x: &[f64]) -> Vec<f64> {
    let device = Device::flex().autodiff();
    let xt = matrix(x, ROWS, COLS, &device).require_grad();
    let out = f(xt.clone());
    let grads = out.backward();
    values(&xt.grad(&grads).expect("input has a gradient"))
}

/// Central finite differences of `f` at `x` (plain device, no autodiff).
fn finite_difference_gradient(f: &dyn Fn(Tensor<2>) -> Tensor<1>, x: &[f64]) -> Vec<f64> {
    let device = Device::flex();
    let eval = |v: &[f64]| values(&f(matrix(v, ROWS, COLS, &device)))[0];
    (0..x.len())
        .map(|i| {
            let (mut plus, mut minus) = (x.to_vec(), x.to_vec());
            plus[i] += STEP;
            minus[i] -= STEP;
            // The step actually taken, after rounding to f32.
            let actual = (plus[i] as f32) as f64 - (minus[i] as f32) as f64;
            (eval(&plus) - eval(&minus)) / actual
        })
        .collect()
}

fn check(name: &str, f: &dyn Fn(Tensor<2>) -> Tensor<1>, seed: u64) {
    let x = input(seed);
    let ad = autodiff_gradient(f, &x);
    let fd = finite_difference_gradient(f, &x);
    let scale = fd.iter().fold(0.0f64, |a, v| a.max(v.abs()));
    let err = ad
        .iter()
        .zip(&fd)
        .fold(0.0f64, |a, (p, q)| a.max((p - q).abs()));
    println!("{name}: max |fd| {scale:.3e}, max error {err:.3e}");
    assert!(
        scale > 1e-3,
        "{name}: gradient too small to be a meaningful test ({scale})"
    );
    assert!(
        err <= REL_TOL * scale + ABS_TOL,
        "{name}: autodiff {ad:?}\nfinite differences {fd:?}"
    );
}

#[test]
fn entropy_gradient_matches_finite_differences() {
    for alpha in [0.5, 1.0, 1.01, 2.0, 3.0] {
        let f = move |x: Tensor<2>| renyi_entropy(gram(x, 1.5), alpha);
        check(&format!("S_{alpha}"), &f, 1);
    }
}

#[test]
fn eigen_path_gradient_equals_fast_path_gradient_at_order_two() {
    // Both are exact gradients of the same function evaluated on the same f32 Gram; they differ
    // only by f32 rounding of the backward pass, so relative 1e-4 is ample.
    let x = input(2);
    let fast = autodiff_gradient(&|x| renyi_entropy(gram(x, 1.5), 2.0), &x);
    let eigen = autodiff_gradient(&|x| renyi_entropy_eigen(gram(x, 1.5), 2.0), &x);
    let scale = fast.iter().fold(0.0f64, |a, v| a.max(v.abs()));
    for (a, b) in fast.iter().zip(&eigen) {
        assert!((a - b).abs() <= 1e-4 * scale, "{fast:?}\n{eigen:?}");
    }
}

/// The joint Gram of T and delta-kernel labels is block-diagonal by class: the eigen path
/// decomposes it class by class, and its gradient (zero between classes) is the exact one.
#[test]
fn class_block_eigen_path_gradient_equals_fast_path_gradient_at_order_two() {
    let labels = [0usize, 1, 2, 0, 1, 2];
    let joint = |x: Tensor<2>| {
        let ky = LabelKernel::Delta.gram(&labels, 3, &x.device());
        gram(x, 1.5) * ky
    };
    let x = input(6);
    let fast = autodiff_gradient(&|x| renyi_entropy(joint(x), 2.0), &x);
    let blocks = autodiff_gradient(&|x| renyi_entropy_eigen(joint(x), 2.0), &x);
    let scale = fast.iter().fold(0.0f64, |a, v| a.max(v.abs()));
    assert!(scale > 1e-3);
    for (a, b) in fast.iter().zip(&blocks) {
        assert!((a - b).abs() <= 1e-4 * scale, "{fast:?}\n{blocks:?}");
    }
    for alpha in [0.5, 1.0, 1.01, 3.0] {
        check(
            &format!("S_{alpha}(T,labels)"),
            &|x| renyi_entropy(joint(x), alpha),
            7,
        );
    }
}

#[test]
fn mutual_information_gradient_matches_finite_differences() {
    let y = Rng::new(30).normal_vec(ROWS, 2);
    for alpha in [1.01, 2.0, 3.0] {
        let f = |x: Tensor<2>| {
            let ky = gram(matrix(&y, ROWS, 2, &x.device()), 1.0);
            mutual_information(gram(x, 1.5), ky, alpha).value
        };
        check(&format!("I_{alpha}(X;Y)"), &f, 3);
        let f = |x: Tensor<2>| {
            let ky = gram(matrix(&y, ROWS, 2, &x.device()), 1.0);
            mutual_information(gram(x, 1.5), ky, alpha).normalized()
        };
        check(&format!("I*_{alpha}(X;Y)"), &f, 3);
    }
    // The MOLE objective: I(T; Y) with a delta kernel on labels.
    let labels = [0usize, 1, 2, 0, 1, 2];
    for alpha in [1.01, 2.0] {
        let f = move |x: Tensor<2>| {
            let ky = LabelKernel::Delta.gram(&labels, 3, &x.device());
            mutual_information(gram(x, 1.5), ky, alpha).value
        };
        check(&format!("I_{alpha}(X;labels)"), &f, 4);
    }
}

#[test]
fn mutual_information_gradient_when_both_grams_depend_on_the_input() {
    // I(X; X²) - both Gram matrices carry gradient.
    let f = |x: Tensor<2>| {
        let kb = gram(x.clone().square(), 2.0);
        mutual_information(gram(x, 1.5), kb, 1.01).value
    };
    check("I(X;X^2)", &f, 5);
}

#[test]
fn total_correlation_gradient_matches_finite_differences() {
    let y = Rng::new(31).normal_vec(ROWS, 1);
    let f = move |x: Tensor<2>| {
        let ky = gram(matrix(&y, ROWS, 1, &x.device()), 1.0);
        let kz = gram(x.clone().slice([0..ROWS, 0..1]), 1.0);
        total_correlation(&[gram(x, 1.5), ky, kz], 2.0)
    };
    check("T*", &f, 6);
}

#[test]
fn nhsic_gradient_through_the_gram_matches_finite_differences() {
    // ε = 1e-2 keeps (K̄ + εmI) well conditioned for a meaningful f32 finite-difference test;
    // the default ε is checked directly on the Gram matrix in f64 below.
    let y = Rng::new(32).normal_vec(ROWS, 2);
    for centering in [Centering::Both, Centering::Right] {
        let f = |x: Tensor<2>| {
            let ky = gram(matrix(&y, ROWS, 2, &x.device()), 1.0);
            nhsic(gram(x, 1.5), ky, 1e-2, centering)
        };
        check(&format!("nHSIC {centering:?}"), &f, 7);
        // Both arguments depend on the input (the HSIC-bottleneck nHSIC(Z, X) term).
        let f = move |x: Tensor<2>| nhsic(gram(x.clone(), 1.5), gram(x, 0.8), 1e-2, centering);
        check(&format!("nHSIC(X,X) {centering:?}"), &f, 8);
    }
}

#[test]
fn nhsic_gradient_wrt_gram_matches_f64_finite_differences_at_default_epsilon() {
    // Perturb single (possibly non-symmetric) entries of Kx and Ky in f64 and difference the
    // explicit-inverse oracle. h = 1e-5: the oracle's rounding error is ~cond·1e-16·f with
    // cond ≤ 1/(εm) = 2e4, i.e. ~1e-11, giving ~1e-6 in the quotient; truncation is h²·f'''.
    // The injected gradient is computed in f64 and rounded to f32 (relative 6e-8).
    let m = 5;
    let mut rng = Rng::new(40);
    let x = rng.normal_vec(m, 3);
    let yv: Vec<f64> = (0..m).map(|i| x[3 * i] + 0.5 * rng.normal()).collect();
    let plain = Device::flex();
    let kx_host = values(&gram(matrix(&x, m, 3, &plain), 1.5));
    let ky_host = values(&gram(matrix(&yv, m, 1, &plain), 1.0));
    for eps in [NHSIC_EPSILON, 1e-3] {
        for centering in [Centering::Both, Centering::Right] {
            let device = Device::flex().autodiff();
            let kx = matrix(&kx_host, m, m, &device).require_grad();
            let ky = matrix(&ky_host, m, m, &device).require_grad();
            let grads = nhsic(kx.clone(), ky.clone(), eps, centering).backward();
            let gx = values(&kx.grad(&grads).unwrap());
            let gy = values(&ky.grad(&grads).unwrap());
            for (which, g) in [(0, gx), (1, gy)] {
                let h = 1e-5;
                let fd: Vec<f64> = (0..m * m)
                    .map(|idx| {
                        let f = |delta: f64| {
                            let (mut a, mut b) = (kx_host.clone(), ky_host.clone());
                            if which == 0 {
                                a[idx] += delta;
                            } else {
                                b[idx] += delta;
                            }
                            nhsic_explicit(&a, &b, m, eps, centering)
                        };
                        (f(h) - f(-h)) / (2.0 * h)
                    })
                    .collect();
                let scale = fd.iter().fold(0.0f64, |a, v| a.max(v.abs()));
                let err = g
                    .iter()
                    .zip(&fd)
                    .fold(0.0f64, |a, (p, q)| a.max((p - q).abs()));
                println!("eps {eps} {centering:?} K{which}: scale {scale:.3e} err {err:.3e}");
                assert!(scale > 1e-6, "degenerate test: gradient scale {scale}");
                assert!(err <= 1e-4 * scale, "{g:?}\n{fd:?}");
            }
        }
    }
}

#[test]
fn untracked_inputs_give_constants() {
    // On an autodiff device, inputs that do not require grad must not create a graph.
    let device = Device::flex().autodiff();
    let x = matrix(&input(9), ROWS, COLS, &device);
    let k = gram(x, 1.5);
    assert!(!renyi_entropy(k.clone(), 1.01).is_tracked());
    assert!(!nhsic(k.clone(), k, NHSIC_EPSILON, Centering::Both).is_tracked());
}
