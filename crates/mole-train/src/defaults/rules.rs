//! The rules themselves: plain functions of the data's profile and the model, one per
//! setting, each with its unit test. No dataset is named here.

use super::{DataKind, DataProfile};
use crate::config::{Method, OptimizerKind};
use mole_nn::{LayerSpec, ModelSpec};

/// Optimiser steps every learner takes at least (a module, the head, the backprop network):
/// five epochs of 214 rows would be five steps.
pub const MIN_STEPS: usize = 1000;
/// Fewest validation items worth choosing an epoch by.
pub const MIN_VAL_ITEMS: usize = 50;
/// Head steps from which the head trains at the lower rate (see [`default_head_lr`]).
pub const SLOW_HEAD_STEPS: usize = 2000;
/// Epochs of a learner on rows or images when the data is large enough (the step floor does
/// not bind).
pub const BASE_EPOCHS: usize = 5;
/// Most epochs the step floor may ask for (tiny training sets).
pub const MAX_EPOCHS: usize = 400;
/// Full-batch epochs on a node-level task (each epoch is one step).
pub const NODE_EPOCHS: usize = 200;
/// Evaluations per learner that the default `eval_every` aims at.
pub const EVALUATIONS: usize = 25;

/// The model for a kind of data when `--model` is not given.
pub fn default_model(kind: DataKind) -> &'static str {
    match kind {
        DataKind::Vector => "mlp:256,256,256",
        DataKind::Image => "seq:conv(32),maxpool(2),conv(64),maxpool(2),dense(256)",
        DataKind::NodeLevel => "gcn:64",
        DataKind::GraphLevel => "gin:64,64",
    }
}

/// Validation fraction carved from the training rows or graphs (node-level tasks use the
/// split's 500 validation nodes instead): a tenth, when that is at least [`MIN_VAL_ITEMS`]
/// items (one item then moves the validation accuracy by at most 2 %) and one per class; on
/// smaller data every item trains and the head keeps its last epoch.
pub fn default_val_fraction(kind: DataKind, train_items: usize, classes: usize) -> f64 {
    let tenth = train_items / 10;
    if kind == DataKind::NodeLevel || tenth < MIN_VAL_ITEMS.max(classes) {
        0.0
    } else {
        0.1
    }
}

/// Items a learner trains on per epoch: the training items less the validation share.
pub fn fit_items(train_items: usize, val_fraction: f64) -> usize {
    let held = (train_items as f64 * val_fraction).round() as usize;
    train_items.saturating_sub(held).max(1)
}

/// The largest power of two ≤ `n` (1 for 0).
fn pow2_floor(n: usize) -> usize {
    if n <= 1 {
        1
    } else {
        1 << (usize::BITS - 1 - n.leading_zeros())
    }
}

/// Minibatch size (also the Gram matrices' size): at least four steps per epoch, a power of two
/// in `[32, 256]` for rows (`[32, 128]` for images), 8 to 32 graphs for graph-level tasks; the
/// labelled nodes of a node-level task are sampled 256 at a time.
pub fn default_batch_size(kind: DataKind, fit_items: usize) -> usize {
    let quarter = pow2_floor(fit_items / 4);
    match kind {
        DataKind::Vector => quarter.clamp(32, 256),
        DataKind::Image => quarter.clamp(32, 128),
        DataKind::NodeLevel => 256,
        DataKind::GraphLevel => quarter.clamp(8, 32),
    }
}

/// Items of each class a local objective's Gram matrix should hold on average.
pub const ITEMS_PER_CLASS: usize = 4;

/// Fewest graphs in a local objective's Gram matrix on a graph-level task (each graph is one
/// sample of the Gram matrix; a backprop batch of 8 to 32 graphs estimates I(T;Y) from a few
/// hundred pairs).
pub const MIN_GRAPH_GRAM: usize = 64;

/// The batch of a local (MOLE, HSIC) objective: `batch`, raised to hold about
/// [`ITEMS_PER_CLASS`] items of every class (a power of two, at most the whole training set),
/// and on graph-level tasks to at least [`MIN_GRAPH_GRAM`] graphs. With fewer, most classes
/// have a single item in a batch and the label kernel sees almost no pair of the same class.
pub fn kernel_batch_size(kind: DataKind, batch: usize, classes: usize, fit_items: usize) -> usize {
    let mut need = (ITEMS_PER_CLASS * classes).next_power_of_two();
    if kind == DataKind::GraphLevel {
        need = need.max(MIN_GRAPH_GRAM);
    }
    batch.max(need.min(fit_items.max(2)))
}

/// Optimiser steps in one epoch.
pub fn steps_per_epoch(kind: DataKind, fit_items: usize, batch_size: usize) -> usize {
    match kind {
        DataKind::NodeLevel => 1,
        _ => fit_items.div_ceil(batch_size.max(1)).max(1),
    }
}

/// Epochs of every learner: full-batch node-level tasks [`NODE_EPOCHS`]; otherwise
/// [`BASE_EPOCHS`], or as many as [`MIN_STEPS`] optimiser steps need (at most [`MAX_EPOCHS`]).
pub fn default_epochs(kind: DataKind, steps_per_epoch: usize) -> usize {
    match kind {
        DataKind::NodeLevel => NODE_EPOCHS,
        _ => MIN_STEPS
            .div_ceil(steps_per_epoch.max(1))
            .clamp(BASE_EPOCHS, MAX_EPOCHS),
    }
}

/// Epochs of the head on the frozen modules: as [`default_epochs`], and on images at least 12
/// (a linear head on thousands of frozen conv features needs them at its lower rate, see
/// [`default_head_lr`]).
pub fn default_head_epochs(kind: DataKind, steps_per_epoch: usize) -> usize {
    let e = default_epochs(kind, steps_per_epoch);
    if kind == DataKind::Image {
        e.max(12)
    } else {
        e
    }
}

/// Adam's rate for the modules (SGD: 0.01): 1e-3 on rows and images, 0.01 on graphs (Kipf &
/// Welling's rate; full-batch epochs are single steps).
pub fn default_lr(kind: DataKind, optimizer: OptimizerKind) -> f64 {
    match (optimizer, kind) {
        (OptimizerKind::Sgd, _) => 0.01,
        (_, DataKind::NodeLevel | DataKind::GraphLevel) => 0.01,
        _ => 1e-3,
    }
}

/// The head's rate: Adam 0.01, or 1e-3 when the head has at least [`SLOW_HEAD_STEPS`] steps
/// ahead of it (a linear classifier on frozen features is convex: given the steps, the lower
/// rate ends closer to its optimum instead of overshooting; SGD: 0.05).
pub fn default_head_lr(optimizer: OptimizerKind, head_steps: usize) -> f64 {
    match optimizer {
        OptimizerKind::Sgd => 0.05,
        OptimizerKind::Adam if head_steps >= SLOW_HEAD_STEPS => 1e-3,
        OptimizerKind::Adam => 1e-2,
    }
}

/// Standardise the features with training statistics: images under a convolutional model
/// (per channel), and rows whose values are not already in `[0, 1]`.
pub fn default_standardize(profile: &DataProfile, spec: Option<&ModelSpec>) -> bool {
    let conv = spec.is_some_and(has_conv);
    match profile.kind {
        DataKind::Image if conv => true,
        DataKind::Vector | DataKind::Image => !profile.unit_range,
        _ => false,
    }
}

/// True when the model has a convolution or residual layer.
pub fn has_conv(spec: &ModelSpec) -> bool {
    spec.layers
        .iter()
        .any(|l| matches!(l, LayerSpec::Conv { .. } | LayerSpec::Residual { .. }))
}

fn is_conv(l: &LayerSpec) -> bool {
    matches!(l, LayerSpec::Conv { .. } | LayerSpec::Residual { .. })
}

/// Layers per module when `group` is not given. One layer per module, except:
/// - MOLE on a model of three or more layers, all dense or starting with two convolutions, and
///   the HSIC bottleneck on the latter: the first module takes the first two layers. A single dense layer or conv block saturates I(T;Y) at ≈ log2 C bits on a batch
///   before the classes are linearly separable, and the modules above then have nothing left to
///   gain (measured in the README, "Why the first MOLE module holds two layers").
pub fn default_groups(method: Method, spec: &ModelSpec) -> Vec<usize> {
    let n = spec.layers.len();
    let dense = spec.layers.iter().all(|l| matches!(l, LayerSpec::Dense(_)));
    let conv_pair = n >= 2 && is_conv(&spec.layers[0]) && is_conv(&spec.layers[1]);
    // The pair needs a module above it: a two-layer model stays one layer per module.
    let pair = n >= 3
        && match method {
            Method::Mole => dense || conv_pair,
            Method::Hsic => conv_pair,
            Method::Simpred | Method::Bp => false,
        };
    if pair {
        let mut g = vec![2];
        g.extend(std::iter::repeat_n(1, n - 2));
        g
    } else {
        vec![1; n]
    }
}

/// Share of the local prediction term (`local.lambda_ce`) in the loss of MOLE's and the HSIC
/// bottleneck's modules: half, on every kind of data. A module's information objective alone
/// saturates on its training batches before the classes are linearly separable (the label
/// kernel's tie, README "Why the first MOLE module holds two layers") and, with many classes, a
/// Gram matrix holds few pairs of a class; the classifier's cross-entropy keeps pulling them
/// apart (rows and images: most of the gap to backprop; graphs of ten classes: 5–13 points;
/// node level: HSIC 1.7 points over ten seeds, MOLE within its seeds' spread and, at α = 2,
/// twice as fast; a two-class graph set within a point). simpred has its own 1 %. Measured in
/// the README, "The local prediction term".
pub fn default_lambda_ce(method: Method, _kind: DataKind) -> f64 {
    match method {
        Method::Mole | Method::Hsic => 0.5,
        Method::Simpred => 0.01,
        Method::Bp => 0.0,
    }
}

/// MOLE's Rényi order (`mole.alpha`) given the share of the local prediction term actually
/// used and the kind of data: 2 with the prediction term, 1.01 (the authors' order) without it
/// and on node-level tasks.
///
/// With half of each module's loss from its classifier the order of the information term moves
/// test accuracy by less than the seeds do on rows, images and graph-level tasks, and α = 2
/// needs no eigendecomposition (`tr A² = ‖A‖²_F`), which halves MOLE's training time; alone,
/// the information term is the whole signal and its order matters. A node-level module learns
/// from a few labelled nodes and its input term over all nodes, and there the order matters
/// with the prediction term too (the node-level benchmark, five seeds: one module 1.7 points,
/// two modules 4.5 points lost at α = 2). Measured in the README, "The local prediction term".
pub fn default_mole_alpha(lambda_ce: f64, kind: DataKind) -> f64 {
    if lambda_ce > 0.0 && kind != DataKind::NodeLevel {
        2.0
    } else {
        1.01
    }
}

/// Evaluate (accuracies, dependence measures, a metrics row) every this many epochs so that a
/// learner of `epochs` epochs is measured about [`EVALUATIONS`] times (and at its last epoch).
pub fn default_eval_every(epochs: usize) -> usize {
    epochs.div_ceil(EVALUATIONS).max(1)
}
