//! The outputs of frozen modules over the training set, computed once and reused by every later
//! epoch that trains on them (the next module in the greedy schedule, the head's epochs on the
//! frozen network).

use crate::batches::{features, rows_to_features};
use crate::evaluate::map_dataset;
use crate::module::Stage;
use crate::session::Session;
use burn::module::Module;
use burn::tensor::Device;
use mole_data::{Dataset, SampleShape};
use mole_info::profile::{self, Phase};
use mole_nn::Features;

/// Module `k`'s outputs over the training set (inference mode), computed from `below` (module
/// `k − 1`'s cached outputs) or from the raw data: the training set as the learner above module
/// `k` sees it. `None` when they cannot be cached (augmentation on, over `cache_mib`, a network
/// without a separate head): the learner above then runs the frozen modules on every batch.
pub fn frozen_outputs(s: &Session<'_>, k: usize, below: Option<&Dataset>) -> Option<Dataset> {
    let _phase = profile::scope(Phase::Bookkeeping);
    if !cacheable(s, k) {
        return None;
    }
    let source = below.unwrap_or(&s.data.train);
    let stages = frozen_stages(s, k, below.is_some());
    stage_outputs(&stages, source, &s.net.output_shapes[k], &s.plain_device())
}

/// The outputs of the inference `stages` over every row of `source`, as a dataset with its
/// labels whose rows have the last stage's declared output `shape`; `None` when the outputs do
/// not have that shape (the caller then runs the stages where it needs them instead).
pub(crate) fn stage_outputs(
    stages: &[Stage],
    source: &Dataset,
    shape: &[usize],
    device: &Device,
) -> Option<Dataset> {
    let shape = sample_shape(shape);
    let (values, width) = map_dataset(source, device, |x| forward(stages, x).flat());
    if width * source.len() != values.len() || width != shape.len() {
        return None;
    }
    Some(Dataset::new(
        values,
        source.labels.clone(),
        shape,
        source.num_classes,
    ))
}

/// A module's output shape (`[c, h, w]` or flat) as the shape of a dataset's rows.
fn sample_shape(shape: &[usize]) -> SampleShape {
    match shape {
        [c, h, w] => SampleShape::Image {
            channels: *c,
            height: *h,
            width: *w,
        },
        other => SampleShape::Vector(other.iter().product()),
    }
}

/// Learner `k`'s inputs for the training rows `idx`: read from `cache` (module `k − 1`'s
/// outputs) or computed by running the frozen modules `0..k` on the rows.
pub fn learner_input(
    s: &Session<'_>,
    k: usize,
    cache: Option<&Dataset>,
    idx: &[usize],
) -> Features {
    match cache {
        Some(c) => {
            let _phase = profile::scope(Phase::Data);
            features(c, idx, &s.plain_device())
        }
        None => {
            let x = s.input(idx);
            let _phase = profile::scope(Phase::Forward);
            s.net.forward_to(x, k)
        }
    }
}

/// Whether module `k`'s outputs over the training set can be kept: augmentation off (augmented
/// inputs differ every epoch), within `cache_mib`, and a learner above it (the last module of a
/// network without a separate head, backprop's one module, has none).
pub fn cacheable(s: &Session<'_>, k: usize) -> bool {
    let bytes = s.data.train.len() * s.net.output_shapes[k].iter().product::<usize>() * 4;
    !s.cfg.augment.enabled()
        && bytes <= s.cfg.cache_mib << 20
        && !(k + 1 == s.net.modules.len() && s.net.head.is_none())
}

/// Trains the learner above frozen module `k` for one epoch of `batches` on module `k`'s outputs,
/// computed on a helper thread one batch ahead of the learner (the frozen forward pass overlaps
/// the learner's steps instead of preceding them), and returns those outputs for every training
/// row: the cache [`frozen_outputs`] builds, value for value (a row's output does not depend on
/// the rows beside it). `step(session, rows, inputs)` takes the learner's step on a batch.
/// Only when [`cacheable`]`(s, k)`.
pub fn train_on_streamed_outputs(
    s: &mut Session<'_>,
    k: usize,
    below: Option<&Dataset>,
    batches: &[Vec<usize>],
    mut step: impl FnMut(&mut Session<'_>, &[usize], Features) -> anyhow::Result<()>,
) -> anyhow::Result<Dataset> {
    let data = s.data;
    let source = below.unwrap_or(&data.train);
    let stages = frozen_stages(s, k, below.is_some());
    let shape = sample_shape(&s.net.output_shapes[k]);
    let width = shape.len();
    let n = data.train.len();
    let plain = s.plain_device();
    let mut values = vec![0f32; n * width];
    let mut seen = vec![false; n];
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<f32>>(2);
        let (device, stages) = (plain.clone(), &stages);
        scope.spawn(move || {
            for idx in batches {
                let h = forward(stages, features(source, idx, &device));
                if tx.send(crate::batches::to_host(h.flat()).1).is_err() {
                    break; // the learner stopped
                }
            }
        });
        for idx in batches {
            let rows = {
                let _phase = profile::scope(Phase::Data);
                rx.recv()
                    .map_err(|_| anyhow::anyhow!("the frozen modules' forward pass stopped"))?
            };
            if rows.len() != idx.len() * width {
                anyhow::bail!(
                    "module {} gave {} values for {} rows of width {width}",
                    k + 1,
                    rows.len(),
                    idx.len()
                );
            }
            scatter_rows(&mut values, &rows, idx, width);
            for &i in idx {
                seen[i] = true;
            }
            let x = rows_to_features(rows, idx.len(), &shape, &plain);
            step(s, idx, x)?;
        }
        Ok(())
    })?;
    // Rows no batch visited (an epoch leaves out a last batch of one row).
    let missing: Vec<usize> = (0..n).filter(|&i| !seen[i]).collect();
    if !missing.is_empty() {
        let _phase = profile::scope(Phase::Bookkeeping);
        let h = forward(&stages, features(source, &missing, &plain));
        scatter_rows(
            &mut values,
            &crate::batches::to_host(h.flat()).1,
            &missing,
            width,
        );
    }
    Ok(Dataset::new(
        values,
        data.train.labels.clone(),
        shape,
        data.train.num_classes,
    ))
}

/// Inference copies of the frozen stages that turn the rows a learner above module `k` reads
/// into module `k`'s outputs: module `k` alone when the rows are module `k − 1`'s cached outputs
/// (`from_cache`), else modules `0..=k` from the raw data (as [`crate::module::LocalModule::forward`]).
fn frozen_stages(s: &Session<'_>, k: usize, from_cache: bool) -> Vec<Stage> {
    let start = if from_cache { k } else { 0 };
    s.net.modules[start..=k]
        .iter()
        .map(|m| m.stage.valid())
        .collect()
}

/// `x` through the inference `stages` in order.
fn forward(stages: &[Stage], x: Features) -> Features {
    stages
        .iter()
        .fold(x.without_autodiff(), |h, stage| stage.forward(h))
}

/// Row `r` of `rows` (`width` values each) into row `idx[r]` of `values`.
fn scatter_rows(values: &mut [f32], rows: &[f32], idx: &[usize], width: usize) {
    for (row, &i) in rows.chunks_exact(width).zip(idx) {
        values[i * width..(i + 1) * width].copy_from_slice(row);
    }
}
