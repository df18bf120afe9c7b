//! The CIFAR-10 reader on the real 20-image sample, and per-channel normalisation of images.

use mole_data::{DataOptions, SampleShape, load};
use std::path::PathBuf;

/// Resolved when the test runs (see `mole-cli/tests/common.rs`: a shared target directory may
/// hold a binary built from another checkout).
fn sample() -> PathBuf {
    let manifest =
        std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into());
    PathBuf::from(manifest).join("../../../shared/datasets/cifar10-sample/test_batch_first20.bin")
}

#[test]
fn the_real_sample_has_its_documented_labels_and_shape() {
    let d = mole_data::cifar::read_cifar_batch(&sample()).unwrap();
    assert_eq!(
        d.labels,
        vec![3, 8, 8, 0, 6, 6, 1, 6, 3, 1, 0, 9, 5, 7, 9, 8, 5, 7, 8, 6]
    );
    assert_eq!(
        d.shape,
        SampleShape::Image {
            channels: 3,
            height: 32,
            width: 32
        }
    );
    assert!(d.features.iter().all(|v| (0.0..=1.0).contains(v)));
    // Real photographs: the channels differ (not a grey image copied three times).
    let img = d.sample(0);
    assert_ne!(&img[..1024], &img[1024..2048]);
}

#[test]
fn cifar10_loads_from_either_folder_and_normalises_per_channel() {
    for folder in ["cifar-10-batches-bin", "cifar10"] {
        let dir = std::env::temp_dir().join(format!("mole-cifar-{folder}-{}", std::process::id()));
        let f = dir.join(folder);
        std::fs::create_dir_all(&f).unwrap();
        std::fs::copy(sample(), f.join("data_batch_1.bin")).unwrap();
        std::fs::copy(sample(), f.join("data_batch_3.bin")).unwrap();
        std::fs::copy(sample(), f.join("test_batch.bin")).unwrap();
        let opts = DataOptions {
            data_dir: Some(dir.clone()),
            standardize: Some(true),
            ..DataOptions::default()
        };
        let s = load("cifar10", &opts).unwrap();
        // The training batches present (1 and 3) are concatenated.
        assert_eq!(s.train.len(), 40);
        assert_eq!(s.test.len(), 20);
        // Per channel: mean 0 and variance 1 over all pixels of the training set.
        for ch in 0..3 {
            let vals: Vec<f64> = (0..s.train.len())
                .flat_map(|i| s.train.sample(i)[ch * 1024..(ch + 1) * 1024].to_vec())
                .map(f64::from)
                .collect();
            let n = vals.len() as f64;
            let mean = vals.iter().sum::<f64>() / n;
            let var = vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
            assert!(
                mean.abs() < 1e-4 && (var - 1.0).abs() < 1e-3,
                "{ch}: {mean} {var}"
            );
        }
        // ... but not per pixel: pixel 0 of channel 0 still varies in mean across images.
        let p0: f64 = (0..20).map(|i| s.train.sample(i)[0] as f64).sum::<f64>() / 20.0;
        assert!(p0.abs() > 1e-3);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
