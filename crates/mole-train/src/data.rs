//! From a config to the rows a run trains on — load, subsets, validation rows,
//! standardisation — and the [`DataProfile`] the default rules read.

use crate::batches::balanced_sample;
use crate::config::TrainConfig;
use crate::defaults::{DataKind, DataProfile, default_standardize};
use mole_data::graph::GraphData;
use mole_data::{DataOptions, SampleShape, Split};

/// Loads the dataset a config names as stored (no standardisation), with the
/// `train_samples` / `test_samples` subsets applied.
pub fn load_rows(cfg: &TrainConfig) -> anyhow::Result<Split> {
    let opts = DataOptions {
        data_dir: cfg.data_dir.clone(),
        test_fraction: cfg.test_fraction,
        seed: cfg.seed,
        standardize: Some(false),
        header: mole_data::HeaderMode::Auto,
        label_column: cfg.label_column()?,
    };
    let mut split = mole_data::load(&cfg.dataset, &opts)?;
    if let Some(n) = cfg.train_samples.filter(|&n| n < split.train.len()) {
        split.train = split
            .train
            .subset(&balanced_sample(&split.train, n, cfg.seed));
    }
    if let Some(n) = cfg.test_samples.filter(|&n| n < split.test.len()) {
        split.test = split
            .test
            .subset(&balanced_sample(&split.test, n, cfg.seed ^ 0x7e57));
    }
    Ok(split)
}

/// What the default rules see of loaded rows (before the validation split).
pub fn row_profile(split: &Split) -> DataProfile {
    let train = &split.train;
    DataProfile {
        kind: match train.shape {
            SampleShape::Vector(_) => DataKind::Vector,
            SampleShape::Image { .. } => DataKind::Image,
        },
        train_items: train.len(),
        classes: train.num_classes,
        features: train.shape.len(),
        unit_range: mole_data::split::in_unit_range(train),
    }
}

/// What the default rules see of a graph dataset: node-level, the labelled training nodes of
/// the split; graph-level, the graphs of `folds − 1` folds.
pub fn graph_profile(data: &GraphData, folds: usize) -> DataProfile {
    match data {
        GraphData::Nodes(d) => DataProfile {
            kind: DataKind::NodeLevel,
            train_items: crate::graph::TRAIN_PER_CLASS * d.num_classes,
            classes: d.num_classes,
            features: d.dim,
            unit_range: d.features.iter().all(|v| (0.0..=1.0).contains(v)),
        },
        GraphData::Graphs(s) => {
            let folds = folds.max(2);
            DataProfile {
                kind: DataKind::GraphLevel,
                train_items: s.len() - s.len().div_ceil(folds),
                classes: s.num_classes,
                features: s.dim,
                unit_range: s.features.iter().flatten().all(|v| (0.0..=1.0).contains(v)),
            }
        }
    }
}

/// Carves `cfg.val_fraction` of the training rows into validation rows (stratified, seeded),
/// then standardises with the training rows' statistics when `cfg.standardize` says so
/// (unset: [`default_standardize`]).
pub fn finish_rows(mut split: Split, cfg: &TrainConfig) -> Split {
    let standardize = cfg.standardize.unwrap_or_else(|| {
        let spec = cfg.model.parse().ok();
        default_standardize(&row_profile(&split), spec.as_ref())
    });
    mole_data::split::carve_validation(&mut split, cfg.val_fraction, cfg.seed);
    if standardize {
        mole_data::split::standardize_split(&mut split);
    }
    split
}

/// The rows a config trains on: [`load_rows`], then [`finish_rows`].
pub fn load_data(cfg: &TrainConfig) -> anyhow::Result<Split> {
    Ok(finish_rows(load_rows(cfg)?, cfg))
}
