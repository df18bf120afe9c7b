//! Rényi entropy, joint entropy, mutual information and total correlation: closed forms and
//! identities.

mod common;

use burn::tensor::{Device, Tensor};
use common::{Rng, matrix, scalar};
use mole_info::{
    GaussianKernel, KernelWidth, LabelKernel, joint_entropy, mutual_information, renyi_entropy,
    renyi_entropy_eigen, total_correlation,
};

/// Rényi entropy in bits of a discrete distribution (α = 1: Shannon).
fn discrete_renyi(p: &[f64], alpha: f64) -> f64 {
    if alpha == 1.0 {
        -p.iter().map(|&q| q * q.log2()).sum::<f64>()
    } else {
        p.iter().map(|&q| q.powf(alpha)).sum::<f64>().log2() / (1.0 - alpha)
    }
}

fn labels_with_counts(counts: &[usize]) -> Vec<usize> {
    // Interleave the classes so the Gram matrix is not block diagonal in row order.
    let mut labels = Vec::new();
    let mut left = counts.to_vec();
    while left.iter().any(|&c| c > 0) {
        for (class, c) in left.iter_mut().enumerate() {
            if *c > 0 {
                labels.push(class);
                *c -= 1;
            }
        }
    }
    labels
}

fn gaussian_gram(v: &[f64], rows: usize, cols: usize, width: KernelWidth) -> Tensor<2> {
    GaussianKernel::new(width)
        .gram(matrix(v, rows, cols, &Device::flex()))
        .matrix
}

// The delta-kernel Gram matrix has entries exactly 0 or 1; A = K/m is block diagonal (up to a
// permutation) with blocks (1/m)·1 1ᵀ whose only non-zero eigenvalues are the class
// proportions. The eigen path works in f64 and returns the value rounded to f32 (relative
// 6e-8); the α = 2 path sums m² f32 squares (relative error ~m²·6e-8 in the worst case, far
// less with pairwise summation). 1e-5 bits covers both with margin.
const DISCRETE_TOL: f64 = 1e-5;

#[test]
fn delta_kernel_balanced_classes_give_log2_of_class_count() {
    let labels = labels_with_counts(&[10, 10, 10]);
    let k = LabelKernel::Delta.gram(&labels, 3, &Device::flex());
    for alpha in [0.5, 1.0, 1.01, 2.0, 3.0] {
        let s = scalar(&renyi_entropy(k.clone(), alpha));
        assert!((s - 3f64.log2()).abs() < DISCRETE_TOL, "alpha {alpha}: {s}");
    }
}

#[test]
fn delta_kernel_unbalanced_classes_match_closed_form() {
    let counts = [5usize, 10, 25];
    let labels = labels_with_counts(&counts);
    let p: Vec<f64> = counts.iter().map(|&c| c as f64 / 40.0).collect();
    let k = LabelKernel::Delta.gram(&labels, 3, &Device::flex());
    for alpha in [0.5, 1.0, 1.01, 2.0, 3.0] {
        let s = scalar(&renyi_entropy(k.clone(), alpha));
        let want = discrete_renyi(&p, alpha);
        assert!(
            (s - want).abs() < DISCRETE_TOL,
            "alpha {alpha}: {s} vs {want}"
        );
    }
}

#[test]
fn mutual_information_of_labels_with_themselves_is_their_entropy() {
    // K ∘ K = K for a 0/1 kernel, so S(Y, Y) = S(Y) and I(Y; Y) = S(Y).
    let labels = labels_with_counts(&[7, 3, 12, 8]);
    let k = LabelKernel::Delta.gram(&labels, 4, &Device::flex());
    for alpha in [1.01, 2.0, 3.0] {
        let mi = mutual_information(k.clone(), k.clone(), alpha);
        let s = scalar(&mi.entropy_a);
        assert!((scalar(&mi.value) - s).abs() < DISCRETE_TOL);
        assert!((scalar(&mi.normalized()) - 1.0).abs() < DISCRETE_TOL);
    }
}

#[test]
fn order_two_fast_path_matches_eigen_path() {
    // Same f32 Gram matrix into both paths: the fast path is f32 Frobenius norm, the eigen path
    // f64 eigenvalues of the same entries; for m = 64 the f32 summation error is ~1e-7
    // relative, i.e. well below the 1e-5 bits required.
    let mut rng = Rng::new(11);
    let v = rng.normal_vec(64, 5);
    for width in [
        KernelWidth::Median,
        KernelWidth::Fixed(0.5),
        KernelWidth::Fixed(5.0),
    ] {
        let k = gaussian_gram(&v, 64, 5, width.clone());
        let fast = scalar(&renyi_entropy(k.clone(), 2.0));
        let eigen = scalar(&renyi_entropy_eigen(k, 2.0));
        assert!((fast - eigen).abs() < 1e-5, "{width}: {fast} vs {eigen}");
    }
}

#[test]
fn entropy_bounds_and_extreme_grams() {
    let device = Device::flex();
    let m = 16;
    // Identity Gram (all samples far apart): m equal eigenvalues -> log2 m.
    let eye = Tensor::<2>::eye(m, &device);
    // All-ones Gram (all samples identical): one eigenvalue 1 -> 0 bits.
    let ones = Tensor::<2>::ones([m, m], &device);
    for alpha in [0.5, 1.01, 2.0, 3.0] {
        assert!((scalar(&renyi_entropy(eye.clone(), alpha)) - 4.0).abs() < DISCRETE_TOL);
        assert!(scalar(&renyi_entropy(ones.clone(), alpha)).abs() < DISCRETE_TOL);
    }
    // A Gaussian Gram lies in between.
    let mut rng = Rng::new(5);
    let k = gaussian_gram(&rng.normal_vec(m, 3), m, 3, KernelWidth::Median);
    for alpha in [1.01, 2.0, 3.0] {
        let s = scalar(&renyi_entropy(k.clone(), alpha));
        assert!(s > 0.0 && s < 4.0, "{s}");
    }
}

#[test]
fn entropy_is_non_increasing_in_alpha() {
    // S_α is non-increasing in α for any spectrum (a property of Rényi entropies).
    let mut rng = Rng::new(8);
    let k = gaussian_gram(&rng.normal_vec(40, 3), 40, 3, KernelWidth::Median);
    let s: Vec<f64> = [0.5, 1.0, 1.01, 2.0, 3.0]
        .iter()
        .map(|&a| scalar(&renyi_entropy(k.clone(), a)))
        .collect();
    // 1e-6 slack for f32 rounding of the returned values.
    assert!(s.windows(2).all(|w| w[1] <= w[0] + 1e-6), "{s:?}");
}

#[test]
fn joint_entropy_with_a_constant_variable_is_the_marginal() {
    // A constant variable has an all-ones Gram; K ∘ 1 = K.
    let mut rng = Rng::new(9);
    let k = gaussian_gram(&rng.normal_vec(30, 2), 30, 2, KernelWidth::Median);
    let ones = Tensor::<2>::ones([30, 30], &Device::flex());
    for alpha in [1.01, 2.0] {
        let joint = scalar(&joint_entropy(&[k.clone(), ones.clone()], alpha));
        let marginal = scalar(&renyi_entropy(k.clone(), alpha));
        assert!((joint - marginal).abs() < 1e-5);
    }
}

#[test]
fn joint_entropy_is_at_least_each_marginal() {
    // S(A, B) ≥ max(S(A), S(B)) for infinitely divisible kernels (Yu et al. 2019).
    let mut rng = Rng::new(10);
    let ka = gaussian_gram(&rng.normal_vec(50, 2), 50, 2, KernelWidth::Median);
    let kb = gaussian_gram(&rng.normal_vec(50, 3), 50, 3, KernelWidth::Median);
    for alpha in [1.01, 2.0, 3.0] {
        let mi = mutual_information(ka.clone(), kb.clone(), alpha);
        let (sa, sb, sab) = (
            scalar(&mi.entropy_a),
            scalar(&mi.entropy_b),
            scalar(&mi.joint_entropy),
        );
        assert!(sab >= sa.max(sb) - 1e-6, "{sab} vs {sa}, {sb}");
        // Note: subadditivity S(A, B) ≤ S(A) + S(B) is *not* guaranteed by the matrix-based
        // functional (these independent samples violate it slightly at α = 3), so MI can be
        // slightly negative; it is not asserted here.
    }
}

#[test]
fn total_correlation_of_two_variables_is_mi_over_min_entropy() {
    // Eq. 11 with L = 2: (S_a + S_b - S_ab) / (S_a + S_b - max) = I / min(S_a, S_b).
    let mut rng = Rng::new(12);
    let x = rng.normal_vec(40, 2);
    let y: Vec<f64> = (0..40).map(|i| x[2 * i] + 0.3 * rng.normal()).collect();
    let ka = gaussian_gram(&x, 40, 2, KernelWidth::Median);
    let kb = gaussian_gram(&y, 40, 1, KernelWidth::Median);
    for alpha in [1.01, 2.0] {
        let mi = mutual_information(ka.clone(), kb.clone(), alpha);
        let want = scalar(&mi.value) / scalar(&mi.entropy_a).min(scalar(&mi.entropy_b));
        let t = scalar(&total_correlation(&[ka.clone(), kb.clone()], alpha));
        assert!((t - want).abs() < 1e-5, "{t} vs {want}");
        assert!(t > 0.0 && t <= 1.0);
    }
}

#[test]
fn total_correlation_of_three_variables_is_in_unit_interval() {
    let mut rng = Rng::new(13);
    let x = rng.normal_vec(40, 1);
    let y: Vec<f64> = x.iter().map(|v| v + 0.5 * rng.normal()).collect();
    let z = rng.normal_vec(40, 1);
    let grams: Vec<Tensor<2>> = [&x, &y, &z]
        .iter()
        .map(|v| gaussian_gram(v, 40, 1, KernelWidth::Median))
        .collect();
    let t = scalar(&total_correlation(&grams, 2.0));
    assert!(t > 0.0 && t <= 1.0, "{t}");
    // Three copies of the same variable: S_joint is the same as each marginal only for 0/1
    // kernels, so use labels: T* = (3S - S) / (3S - S) = 1.
    let labels = labels_with_counts(&[5, 9, 6]);
    let k = LabelKernel::Delta.gram(&labels, 3, &Device::flex());
    let t = scalar(&total_correlation(&[k.clone(), k.clone(), k], 2.0));
    assert!((t - 1.0).abs() < DISCRETE_TOL, "{t}");
}

#[test]
#[should_panic(expected = "alpha")]
fn non_positive_alpha_panics() {
    let _ = renyi_entropy(Tensor::<2>::eye(3, &Device::flex()), 0.0);
}
