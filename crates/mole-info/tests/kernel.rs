//! Distances, Gaussian Gram matrices, width rules (incl. parsing) and label kernels.

mod common;

use burn::tensor::Device;
use common::{Rng, matrix, values};
use mole_info::{
    GaussianKernel, KernelWidth, LabelKernel, MIN_DATA_DRIVEN_SIGMA, pairwise_sq_distances,
};

// Inputs below are small integers, exactly representable in f32, so distances computed in f32
// are exact up to the rounding of ||a||² - 2a·b + ||b||² (all terms < 2^24): we allow 1e-5.
const EXACT_F32: f64 = 1e-5;

fn line(points: &[f64]) -> burn::tensor::Tensor<2> {
    matrix(points, points.len(), 1, &Device::flex())
}

#[test]
fn squared_distances_of_known_points() {
    let device = Device::flex();
    let x = matrix(&[0.0, 0.0, 3.0, 4.0, 1.0, 1.0], 3, 2, &device);
    let d = values(&pairwise_sq_distances(x));
    let expected = [0.0, 25.0, 2.0, 25.0, 0.0, 13.0, 2.0, 13.0, 0.0];
    for (got, want) in d.iter().zip(expected) {
        assert!((got - want).abs() < EXACT_F32, "{d:?}");
    }
}

#[test]
fn squared_distances_have_exact_zero_diagonal_and_are_non_negative() {
    // Large offsets make ||a||² - 2a·b + ||b||² cancel badly in f32; the diagonal must still be
    // exactly 0 and no entry may be negative.
    let mut rng = Rng::new(7);
    let v: Vec<f64> = rng.normal_vec(20, 5).iter().map(|z| 1000.0 + z).collect();
    let d = values(&pairwise_sq_distances(matrix(&v, 20, 5, &Device::flex())));
    for i in 0..20 {
        assert_eq!(d[i * 20 + i], 0.0);
    }
    assert!(d.iter().all(|&x| x >= 0.0));
}

#[test]
fn gaussian_gram_has_unit_diagonal_and_expected_entries() {
    let x = matrix(&[0.0, 0.0, 3.0, 4.0], 2, 2, &Device::flex());
    let gram = GaussianKernel::new(KernelWidth::Fixed(2.0)).gram(x);
    assert_eq!(gram.sigma, 2.0);
    let k = values(&gram.matrix);
    // exp(-25 / 8); f32 relative precision ~6e-8, so 1e-6 is generous.
    let off = (-25.0f64 / 8.0).exp();
    assert!((k[0] - 1.0).abs() < 1e-6 && (k[3] - 1.0).abs() < 1e-6);
    assert!((k[1] - off).abs() < 1e-6 && (k[2] - off).abs() < 1e-6);
}

#[test]
fn fixed_width_resolves_to_itself() {
    let x = line(&[0.0, 1.0, 3.0]);
    let sq = pairwise_sq_distances(x.clone());
    assert_eq!(KernelWidth::Fixed(1.25).resolve(&x, &sq), 1.25);
}

#[test]
fn dimension_scaled_width_is_sigma_times_sqrt_d() {
    let mut rng = Rng::new(3);
    let v = rng.normal_vec(5, 4);
    let device = Device::flex();
    let x = matrix(&v, 5, 4, &device);
    let sq = pairwise_sq_distances(x.clone());
    assert_eq!(KernelWidth::DimensionScaled(5.0).resolve(&x, &sq), 10.0);

    // And the Gram matrix is exp(-D / (2 σ² d)) as in the HSIC reference code.
    let k = values(
        &GaussianKernel::new(KernelWidth::DimensionScaled(0.7))
            .gram(x)
            .matrix,
    );
    let d = values(&sq);
    for (kij, dij) in k.iter().zip(&d) {
        let want = (-dij / (2.0 * 0.49 * 4.0)).exp();
        assert!((kij - want).abs() < 1e-6, "{kij} vs {want}");
    }
}

#[test]
fn median_width_on_known_sets() {
    // Odd number of pairs: points 0, 1, 3 -> distances {1, 3, 2} -> median 2.
    let x = line(&[0.0, 1.0, 3.0]);
    let sq = pairwise_sq_distances(x.clone());
    assert!((KernelWidth::Median.resolve(&x, &sq) - 2.0).abs() < EXACT_F32);
    // Even number of pairs: 0, 1, 3, 7 -> {1, 3, 7, 2, 6, 4} -> (3 + 4) / 2.
    let x = line(&[0.0, 1.0, 3.0, 7.0]);
    let sq = pairwise_sq_distances(x.clone());
    assert!((KernelWidth::Median.resolve(&x, &sq) - 3.5).abs() < EXACT_F32);
    // Identical points: median and mean are 0 -> the floor.
    let x = line(&[2.0, 2.0, 2.0]);
    let sq = pairwise_sq_distances(x.clone());
    assert_eq!(KernelWidth::Median.resolve(&x, &sq), MIN_DATA_DRIVEN_SIGMA);
}

#[test]
fn median_falls_back_to_mean_when_most_pairs_coincide() {
    // Points 0, 0, 0, 0, 4: ten pairs, six of them at distance 0 -> median 0 -> the mean
    // distance 16/10 is used instead.
    let x = line(&[0.0, 0.0, 0.0, 0.0, 4.0]);
    let sq = pairwise_sq_distances(x.clone());
    assert!((KernelWidth::Median.resolve(&x, &sq) - 1.6).abs() < EXACT_F32);
}

#[test]
fn knn_width_on_known_set() {
    let x = line(&[0.0, 1.0, 3.0, 7.0]);
    let sq = pairwise_sq_distances(x.clone());
    // k = 1: nearest distances 1, 1, 2, 4 -> mean 2.
    assert!((KernelWidth::Knn(1).resolve(&x, &sq) - 2.0).abs() < EXACT_F32);
    // k = 2: {1,3}, {1,2}, {2,3}, {4,6} -> 22 / 8.
    assert!((KernelWidth::Knn(2).resolve(&x, &sq) - 2.75).abs() < EXACT_F32);
    // k larger than m - 1 is capped: all 12 ordered pairs -> 46 / 12.
    assert!((KernelWidth::Knn(10).resolve(&x, &sq) - 46.0 / 12.0).abs() < EXACT_F32);
}

#[test]
fn silverman_width_uses_mean_per_feature_sample_std() {
    // Feature 1: 0, 1, 3, 7 (sample std sqrt(28.75 / 3)); feature 2: 0, 2, 6, 14 (twice that).
    let x = matrix(
        &[0.0, 0.0, 1.0, 2.0, 3.0, 6.0, 7.0, 14.0],
        4,
        2,
        &Device::flex(),
    );
    let sq = pairwise_sq_distances(x.clone());
    let s1 = (28.75f64 / 3.0).sqrt();
    let s = (s1 + 2.0 * s1) / 2.0;
    let want = s * (4.0f64 / 12.0).powf(0.2) / 2f64.sqrt();
    let got = KernelWidth::Silverman.resolve(&x, &sq);
    assert!((got - want).abs() < 1e-9 * want, "{got} vs {want}");
}

#[test]
fn width_strings_parse() {
    let ok = [
        ("1.5", KernelWidth::Fixed(1.5)),
        (" 2 ", KernelWidth::Fixed(2.0)),
        ("1e-1", KernelWidth::Fixed(0.1)),
        ("scaled:5", KernelWidth::DimensionScaled(5.0)),
        ("Scaled: 6.5", KernelWidth::DimensionScaled(6.5)),
        ("silverman", KernelWidth::Silverman),
        ("MEDIAN", KernelWidth::Median),
        ("knn", KernelWidth::Knn(5)),
        ("knn:7", KernelWidth::Knn(7)),
    ];
    for (s, want) in ok {
        assert_eq!(s.parse::<KernelWidth>().unwrap(), want, "{s:?}");
        // Display round-trips.
        assert_eq!(want.to_string().parse::<KernelWidth>().unwrap(), want);
    }
}

#[test]
fn bad_width_strings_are_rejected_with_clear_messages() {
    for s in [
        "",
        "abc",
        "-1",
        "0",
        "nan",
        "inf",
        "scaled:",
        "scaled:-2",
        "knn:0",
        "knn:x",
        "1.5x",
    ] {
        let err = s.parse::<KernelWidth>().unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("{s:?}")),
            "message should quote the input: {msg}"
        );
        assert!(
            msg.contains("median"),
            "message should list the accepted forms: {msg}"
        );
    }
}

#[test]
fn delta_label_kernel() {
    let k = values(&LabelKernel::Delta.gram(&[0, 1, 0, 2], 3, &Device::flex()));
    let want = [
        1.0, 0.0, 1.0, 0.0, //
        0.0, 1.0, 0.0, 0.0, //
        1.0, 0.0, 1.0, 0.0, //
        0.0, 0.0, 0.0, 1.0,
    ];
    assert_eq!(k, want);
}

#[test]
fn gaussian_one_hot_label_kernel_matches_dimension_scaled_gaussian_on_one_hot() {
    let labels = [0usize, 1, 0, 2, 2];
    let device = Device::flex();
    let one_hot: Vec<f64> = labels
        .iter()
        .flat_map(|&y| (0..3).map(move |c| if c == y { 1.0 } else { 0.0 }))
        .collect();
    let via_gaussian = GaussianKernel::new(KernelWidth::DimensionScaled(0.8))
        .gram(matrix(&one_hot, 5, 3, &device))
        .matrix;
    let direct = LabelKernel::GaussianOneHot(0.8).gram(&labels, 3, &device);
    for (a, b) in values(&via_gaussian).iter().zip(values(&direct)) {
        assert!((a - b).abs() < 1e-6, "{a} vs {b}");
    }
}

#[test]
#[should_panic(expected = "out of range")]
fn label_out_of_range_panics() {
    let _ = LabelKernel::Delta.gram(&[0, 3], 3, &Device::flex());
}
