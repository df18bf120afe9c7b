//! Seeded shuffling, stratified train/test splits and feature standardisation.

use crate::{Dataset, Split};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

/// A seeded random permutation of `0..n`.
pub fn permutation(n: usize, seed: u64) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..n).collect();
    idx.shuffle(&mut StdRng::seed_from_u64(seed));
    idx
}

/// Splits `data` into train and test so that each class keeps its proportion: from each class,
/// `round(count × test_fraction)` samples (at least one when the class has two or more) go to the
/// test set. The choice is seeded; both parts come out shuffled.
pub fn stratified_split(data: &Dataset, test_fraction: f64, seed: u64) -> Split {
    assert!(
        (0.0..1.0).contains(&test_fraction),
        "test fraction must be in [0, 1)"
    );
    let mut rng = StdRng::seed_from_u64(seed);
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); data.num_classes];
    for (i, &l) in data.labels.iter().enumerate() {
        by_class[l].push(i);
    }
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for mut members in by_class {
        members.shuffle(&mut rng);
        let mut k = (members.len() as f64 * test_fraction).round() as usize;
        if test_fraction > 0.0 && k == 0 && members.len() >= 2 {
            k = 1;
        }
        test.extend_from_slice(&members[..k]);
        train.extend_from_slice(&members[k..]);
    }
    train.shuffle(&mut rng);
    test.shuffle(&mut rng);
    Split {
        train: data.subset(&train),
        test: data.subset(&test),
        val: None,
    }
}

/// Moves a stratified, seeded `fraction` of `split.train` into `split.val` (see
/// [`stratified_split`]); `fraction = 0` leaves the split as it is.
pub fn carve_validation(split: &mut Split, fraction: f64, seed: u64) {
    if fraction <= 0.0 || split.train.len() < 2 {
        return;
    }
    let parts = stratified_split(&split.train, fraction.min(0.99), seed ^ 0x5a11_da7e);
    if parts.test.is_empty() || parts.train.is_empty() {
        return;
    }
    split.train = parts.train;
    split.val = Some(parts.test);
}

/// Standardises `split` with its training statistics: images per channel,
/// `x' = (x − μ_c) / σ_c`, vectors per feature ([`Standardizer`]); validation and test rows get
/// the same transform.
pub fn standardize_split(split: &mut Split) {
    let rest = std::iter::once(&mut split.test).chain(split.val.as_mut());
    if matches!(split.train.shape, crate::SampleShape::Image { .. }) {
        let (mean, std) = channel_statistics(&split.train);
        normalize_channels(&mut split.train, &mean, &std);
        for d in rest {
            normalize_channels(d, &mean, &std);
        }
    } else {
        let s = Standardizer::fit(&split.train);
        s.apply(&mut split.train);
        for d in rest {
            s.apply(d);
        }
    }
}

/// True when every feature value of `data` lies in `[0, 1]` (pixels, scaled counts).
pub fn in_unit_range(data: &Dataset) -> bool {
    data.features.iter().all(|v| (0.0..=1.0).contains(v))
}

/// Per-feature mean and standard deviation, estimated on one dataset (the training set) and
/// applied to others: `x' = (x − μ) / σ`, with σ replaced by 1 for constant features.
#[derive(Clone, Debug)]
pub struct Standardizer {
    /// Per-feature mean.
    pub mean: Vec<f32>,
    /// Per-feature standard deviation (1 where the feature is constant).
    pub std: Vec<f32>,
}

impl Standardizer {
    /// Estimates mean and standard deviation of every feature of `data`.
    pub fn fit(data: &Dataset) -> Self {
        let d = data.shape.len();
        let n = data.len().max(1) as f64;
        let mut mean = vec![0f64; d];
        let mut sq = vec![0f64; d];
        for i in 0..data.len() {
            for (j, &v) in data.sample(i).iter().enumerate() {
                mean[j] += v as f64;
                sq[j] += (v as f64) * (v as f64);
            }
        }
        let mut std = vec![1f32; d];
        let mut m32 = vec![0f32; d];
        for j in 0..d {
            let mu = mean[j] / n;
            let var = (sq[j] / n - mu * mu).max(0.0);
            m32[j] = mu as f32;
            if var > 1e-12 {
                std[j] = var.sqrt() as f32;
            }
        }
        Standardizer { mean: m32, std }
    }

    /// Applies the transform in place.
    pub fn apply(&self, data: &mut Dataset) {
        let d = self.mean.len();
        for row in data.features.chunks_mut(d) {
            for (j, v) in row.iter_mut().enumerate() {
                *v = (*v - self.mean[j]) / self.std[j];
            }
        }
    }
}

/// Per-channel normalisation of images: mean and standard deviation per channel, from `fit` data.
pub fn channel_statistics(data: &Dataset) -> (Vec<f32>, Vec<f32>) {
    let (c, hw) = match data.shape {
        crate::SampleShape::Image {
            channels,
            height,
            width,
        } => (channels, height * width),
        crate::SampleShape::Vector(d) => (1, d),
    };
    let mut sum = vec![0f64; c];
    let mut sq = vec![0f64; c];
    for i in 0..data.len() {
        let s = data.sample(i);
        for ch in 0..c {
            for &v in &s[ch * hw..(ch + 1) * hw] {
                sum[ch] += v as f64;
                sq[ch] += (v as f64) * (v as f64);
            }
        }
    }
    let n = (data.len() * hw).max(1) as f64;
    let mean: Vec<f32> = sum.iter().map(|s| (s / n) as f32).collect();
    let std = sq
        .iter()
        .zip(&mean)
        .map(|(q, &m)| (((q / n) - (m as f64) * (m as f64)).max(1e-12).sqrt()) as f32)
        .collect();
    (mean, std)
}

/// Normalises each channel in place: `x' = (x − mean_c) / std_c`.
pub fn normalize_channels(data: &mut Dataset, mean: &[f32], std: &[f32]) {
    let c = mean.len();
    let per = data.shape.len() / c;
    for sample in data.features.chunks_mut(data.shape.len()) {
        for ch in 0..c {
            for v in &mut sample[ch * per..(ch + 1) * per] {
                *v = (*v - mean[ch]) / std[ch];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SampleShape;

    #[test]
    fn stratified_split_keeps_proportions_and_is_seeded() {
        let labels: Vec<usize> = (0..100).map(|i| if i < 80 { 0 } else { 1 }).collect();
        let data = Dataset::new(
            (0..100).map(|i| i as f32).collect(),
            labels,
            SampleShape::Vector(1),
            2,
        );
        let s = stratified_split(&data, 0.25, 7);
        assert_eq!(s.test.class_counts(), vec![20, 5]);
        assert_eq!(s.train.class_counts(), vec![60, 15]);
        let again = stratified_split(&data, 0.25, 7);
        assert_eq!(s.test.features, again.test.features);
        let other = stratified_split(&data, 0.25, 8);
        assert_ne!(s.test.features, other.test.features);
        // Disjoint and complete.
        let mut all: Vec<f32> = s
            .train
            .features
            .iter()
            .chain(&s.test.features)
            .copied()
            .collect();
        all.sort_by(f32::total_cmp);
        assert_eq!(all, (0..100).map(|i| i as f32).collect::<Vec<_>>());
    }

    #[test]
    fn validation_is_carved_from_training_rows_only() {
        let labels: Vec<usize> = (0..100).map(|i| i % 2).collect();
        let data = Dataset::new(
            (0..100).map(|i| i as f32).collect(),
            labels,
            SampleShape::Vector(1),
            2,
        );
        let mut s = stratified_split(&data, 0.2, 1);
        let test = s.test.features.clone();
        let train: std::collections::BTreeSet<u32> =
            s.train.features.iter().map(|v| *v as u32).collect();
        carve_validation(&mut s, 0.25, 1);
        let val = s.val.as_ref().unwrap();
        assert_eq!(val.class_counts(), vec![10, 10]);
        assert_eq!(s.train.len(), 60);
        assert_eq!(s.test.features, test, "the test rows are untouched");
        assert!(val.features.iter().all(|v| train.contains(&(*v as u32))));
        assert!(val.features.iter().all(|v| !s.train.features.contains(v)));
        let mut none = stratified_split(&data, 0.2, 1);
        carve_validation(&mut none, 0.0, 1);
        assert!(none.val.is_none() && none.train.len() == 80);
        assert!(in_unit_range(&Dataset::new(
            vec![0.0, 1.0],
            vec![0, 0],
            SampleShape::Vector(1),
            1
        )));
        assert!(!in_unit_range(&data));
    }

    #[test]
    fn standardizer_gives_zero_mean_unit_variance() {
        let mut data = Dataset::new(
            vec![1., 10., 3., 10., 5., 10.],
            vec![0, 0, 0],
            SampleShape::Vector(2),
            1,
        );
        let s = Standardizer::fit(&data);
        s.apply(&mut data);
        let col0: Vec<f32> = data.features.iter().step_by(2).copied().collect();
        assert!((col0.iter().sum::<f32>()).abs() < 1e-6);
        assert!((col0.iter().map(|v| v * v).sum::<f32>() / 3.0 - 1.0).abs() < 1e-5);
        // A constant feature becomes 0, not NaN.
        assert!(data.features.iter().skip(1).step_by(2).all(|&v| v == 0.0));
    }
}
