//! Local objectives: how a module scores its output T against the labels Y and the input X.
//!
//! - [`MoleObjective`]: `L = −(λ_y I_α(T;Y) + λ_x I_α(T;X))`, matrix-based Rényi estimator.
//! - [`HsicObjective`]: `L = nHSIC(T,X) − β nHSIC(T,Y)` (HSIC bottleneck).
//! - `CrossEntropy`: `L = −mean_i log softmax(T_i)[y_i]` (the head, and backprop).
//!
//! Gram matrices are built from the module output flattened to `[batch, features]` (feature maps
//! in CHW order), or from globally average-pooled maps when `pooled` is set. They are built on
//! the host, outside autodiff, and the estimators' exact gradient reaches the module output in
//! one matrix product ([`mole_info::detached`]).

mod hsic;
mod mole;
mod sim;

pub use hsic::HsicObjective;
pub use mole::{MoleObjective, parse_eigen_precision, unit_rows};
pub use sim::SimObjective;

use crate::config::LocalSettings;
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};
use faer::Mat;
use mole_info::{GaussianKernel, KernelWidth, LabelKernel, NhsicFactor, SampleKernel};
use mole_nn::{Features, GraphBatch, Readout};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Named numbers an objective reports with each step (`loss`, `i_ty`, `nhsic_tx`, …).
pub type Diagnostics = BTreeMap<String, f64>;

/// Which rows of a module's output the objective scores (graph data).
#[allow(clippy::large_enum_variant)] // one value per step
#[derive(Clone, Debug)]
pub enum TargetView {
    /// Only these node rows (the labelled training nodes of a node-level task).
    Rows(Tensor<1, Int>),
    /// The node rows pooled per graph (graph-level tasks: one Gram sample per graph).
    Pooled(Readout, Box<GraphBatch>),
}

impl TargetView {
    /// The scored rows of a module output `t`.
    pub fn apply(&self, t: Tensor<2>) -> Tensor<2> {
        match self {
            TargetView::Rows(rows) => t.select(0, rows.clone()),
            TargetView::Pooled(readout, graph) => readout.pool(t, graph),
        }
    }
}

/// What a module's output is scored against: the batch's network inputs and labels.
#[derive(Clone, Debug)]
pub struct Target {
    /// Network inputs of the scored rows, flattened, without autodiff (for graph data: the
    /// selected nodes' features, or the features pooled per graph, or their neighbourhood
    /// aggregate).
    pub x: Tensor<2>,
    /// Class of every row.
    pub labels: Vec<usize>,
    /// Number of classes.
    pub num_classes: usize,
    /// For graph data: the rows of the output that are scored (`None`: every row).
    pub view: Option<TargetView>,
    /// Semi-supervised node-level tasks (`x_nodes = "all"`): the rows that the input terms
    /// (MOLE's `I(T;X)`, the HSIC bottleneck's `nHSIC(T,X)`) score instead of the labelled rows,
    /// a sample of all nodes, labelled or not. `None`: the input terms score the same rows as
    /// the label terms.
    pub input_sample: Option<InputSample>,
    /// What the modules scored against this batch share (see [`InputCache`]).
    pub cache: InputCache,
}

/// Per-batch results that depend on the inputs and labels only, computed by the first module
/// that needs them and reused by the others scored against the same [`Target`] (a clone shares
/// the cache): the HSIC bottleneck's `R_X` factor of `nHSIC(T, X)`, MOLE's input Gram `K_X` and
/// the entropies of constant Gram matrices (`S(Y)`, `S(X)`, `S(Y, X)`), each under a key that
/// names the kernel and its settings.
#[derive(Clone, Debug, Default)]
pub struct InputCache(Arc<Mutex<Vec<(String, Cached)>>>);

/// One cached value.
#[derive(Clone, Debug)]
enum Cached {
    /// An nHSIC factor (`None`: not positive definite).
    Factor(Option<Arc<NhsicFactor>>),
    /// A Gram matrix on the host.
    Gram(Arc<Mat<f64>>),
    /// A number (an entropy in bits).
    Number(f64),
}

impl InputCache {
    fn get_or(&self, key: String, make: impl FnOnce() -> Cached) -> Cached {
        let mut entries = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, v)) = entries.iter().find(|(k, _)| *k == key) {
            return v.clone();
        }
        let v = make();
        entries.push((key, v.clone()));
        v
    }

    /// Entries stored so far.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// The factor stored under `key`, or `make`'s result stored there first.
    pub fn nhsic_factor(
        &self,
        key: String,
        make: impl FnOnce() -> Option<NhsicFactor>,
    ) -> Option<Arc<NhsicFactor>> {
        match self.get_or(key, || Cached::Factor(make().map(Arc::new))) {
            Cached::Factor(f) => f,
            other => unreachable!("cache keys are unique per kind: {other:?}"),
        }
    }

    /// The Gram matrix stored under `key`, or `make`'s result stored there first.
    pub fn gram(&self, key: String, make: impl FnOnce() -> Mat<f64>) -> Arc<Mat<f64>> {
        match self.get_or(key, || Cached::Gram(Arc::new(make()))) {
            Cached::Gram(g) => g,
            other => unreachable!("cache keys are unique per kind: {other:?}"),
        }
    }

    /// The number stored under `key`, or `make`'s result stored there first.
    pub fn number(&self, key: String, make: impl FnOnce() -> f64) -> f64 {
        match self.get_or(key, || Cached::Number(make())) {
            Cached::Number(v) => v,
            other => unreachable!("cache keys are unique per kind: {other:?}"),
        }
    }
}

/// Rows of a module output and their network inputs, scored by the input terms only.
#[derive(Clone, Debug)]
pub struct InputSample {
    /// Which rows of the module output.
    pub view: TargetView,
    /// Network inputs of those rows (flattened, without autodiff).
    pub x: Tensor<2>,
}

impl Target {
    /// One-hot labels `[batch, classes]` on `device`.
    pub fn one_hot(&self, device: &Device) -> Tensor<2> {
        one_hot(&self.labels, self.num_classes, device)
    }
}

/// One-hot encoding of class labels.
pub fn one_hot(labels: &[usize], num_classes: usize, device: &Device) -> Tensor<2> {
    let mut v = vec![0f32; labels.len() * num_classes];
    for (i, &l) in labels.iter().enumerate() {
        v[i * num_classes + l] = 1.0;
    }
    Tensor::from_data(TensorData::new(v, [labels.len(), num_classes]), device)
}

/// A parse error in an objective setting.
#[derive(Debug, thiserror::Error)]
#[error("{key}: {message}")]
pub struct ObjectiveError {
    /// Config key, e.g. `mole.sigma_t`.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

pub(crate) fn parse_width(key: &str, text: &str) -> Result<KernelWidth, ObjectiveError> {
    text.parse().map_err(|e| ObjectiveError {
        key: key.into(),
        message: format!("{e}"),
    })
}

/// Parses `delta` or `gaussian:SIGMA`.
pub fn parse_label_kernel(text: &str) -> Result<LabelKernel, ObjectiveError> {
    match text.split_once(':') {
        None if text == "delta" => Ok(LabelKernel::Delta),
        Some(("gaussian", s)) => match s.parse::<f64>() {
            Ok(sigma) if sigma > 0.0 && sigma.is_finite() => Ok(LabelKernel::GaussianOneHot(sigma)),
            _ => Err(ObjectiveError {
                key: "mole.label_kernel".into(),
                message: format!("gaussian:'{s}' (the width must be a positive number)"),
            }),
        },
        _ => Err(ObjectiveError {
            key: "mole.label_kernel".into(),
            message: format!("'{text}' (delta or gaussian:SIGMA)"),
        }),
    }
}

/// A module's local objective.
#[derive(Clone, Debug)]
pub enum Objective {
    /// Matrix-based Rényi InfoMax.
    Mole(MoleObjective),
    /// HSIC bottleneck.
    Hsic(HsicObjective),
    /// Similarity matching (the `sim` of Nøkland & Eidnes' sim + pred).
    Sim(SimObjective),
    /// Softmax cross-entropy on the output as logits.
    CrossEntropy,
}

/// How a conv module's feature maps become Gram samples (flat rows are used as they are).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GramPool {
    /// `[batch, c·h·w]` in CHW order.
    Flatten,
    /// Global average per channel, `[batch, c]`.
    Mean,
    /// Each channel's spatial standard deviation, `[batch, c]`.
    Std,
}

impl GramPool {
    /// The pooling `local.pool` names, or global averaging when the method's own `pooled` flag
    /// is set (the config check refuses a contradiction).
    pub fn from_settings(local: &LocalSettings, pooled: bool) -> Result<Self, ObjectiveError> {
        match local.pool.as_str() {
            "flatten" if pooled => Ok(GramPool::Mean),
            "flatten" => Ok(GramPool::Flatten),
            "mean" => Ok(GramPool::Mean),
            "std" => Ok(GramPool::Std),
            other => Err(ObjectiveError {
                key: "local.pool".into(),
                message: format!("'{other}' (flatten, mean or std)"),
            }),
        }
    }

    /// The Gram samples of a module output.
    pub fn apply(self, t: Features) -> Tensor<2> {
        match self {
            GramPool::Flatten => t.flat(),
            GramPool::Mean => t.pooled(),
            GramPool::Std => t.std_pooled(),
        }
    }
}

/// The kernel on module outputs that `local.kernel` names, `gaussian` with `width`.
pub fn sample_kernel(
    local: &LocalSettings,
    width: KernelWidth,
) -> Result<SampleKernel, ObjectiveError> {
    match local.kernel.as_str() {
        "gaussian" => Ok(SampleKernel::Gaussian(GaussianKernel::new(width))),
        "linear" => Ok(SampleKernel::Linear),
        "cosine" => Ok(SampleKernel::Cosine),
        other => Err(ObjectiveError {
            key: "local.kernel".into(),
            message: format!("'{other}' (gaussian, linear or cosine)"),
        }),
    }
}

fn scalar(t: &Tensor<1>) -> f64 {
    crate::batches::to_host(t.clone()).1[0] as f64
}

impl Objective {
    /// Short name for reports.
    pub fn name(&self) -> &'static str {
        match self {
            Objective::Mole(_) => "mole",
            Objective::Hsic(_) => "hsic",
            Objective::Sim(_) => "sim",
            Objective::CrossEntropy => "cross-entropy",
        }
    }

    /// The weight of the label term in the loss (MOLE's λ_y, HSIC's β; 1 otherwise, and where
    /// it is not positive): dividing the loss by it puts every objective in units of its label
    /// term when the local prediction term is mixed in.
    pub fn label_weight(&self) -> f64 {
        let w = match self {
            Objective::Mole(o) => o.lambda_y,
            Objective::Hsic(o) => o.beta,
            Objective::Sim(_) | Objective::CrossEntropy => 1.0,
        };
        if w > 0.0 && w.is_finite() { w } else { 1.0 }
    }

    /// Whether the loss reads the network inputs X of its target ([`Target::x`]): HSIC's input
    /// term, MOLE's `I(T;X)` (λ_x ≠ 0) or its joint target `I(T;{Y,X})`.
    pub fn scores_inputs(&self) -> bool {
        match self {
            Objective::Hsic(_) => true,
            Objective::Mole(m) => m.lambda_x != 0.0 || m.joint_x,
            Objective::Sim(_) | Objective::CrossEntropy => false,
        }
    }

    /// Whether [`Objective::prepare_inputs`] has work to do: some of the loss depends on the
    /// batch alone.
    pub fn prepares_inputs(&self) -> bool {
        matches!(self, Objective::Hsic(_))
    }

    /// Computes into `target`'s cache what the loss needs from the batch alone (the HSIC
    /// bottleneck's `K_Y` and `R_X`), e.g. on another thread ahead of the step; the loss is the
    /// same with or without it.
    pub fn prepare_inputs(&self, target: &Target) {
        if let Objective::Hsic(o) = self {
            hsic::prepare_inputs(o, target);
        }
    }

    /// The loss to minimise (shape `[1]`, differentiable w.r.t. `t`) and its diagnostics.
    pub fn loss(&self, t: Features, target: &Target) -> (Tensor<1>, Diagnostics) {
        // The input terms' rows and inputs when they differ from the scored rows (sampled nodes
        // of a graph: flat rows, nothing to pool).
        let full = t.clone();
        let sample = || {
            target
                .input_sample
                .as_ref()
                .map(|s| (s.view.apply(full.clone().flat()), s.x.clone()))
        };
        let t = match &target.view {
            Some(view) => Features::Flat(view.apply(t.flat())),
            None => t,
        };
        let mut diag = Diagnostics::new();
        let loss = match self {
            Objective::Mole(o) => {
                let t = o.pool.apply(t);
                let t = if o.unit_sphere { unit_rows(t) } else { t };
                let sample = sample().map(|(ts, xs)| {
                    let ts = if o.unit_sphere { unit_rows(ts) } else { ts };
                    (ts, xs)
                });
                mole::mole_loss(o, t, sample, target, &mut diag)
            }
            Objective::Hsic(o) => {
                let t = o.pool.apply(t);
                hsic::hsic_loss(o, t, sample(), target, &mut diag)
            }
            Objective::Sim(o) => sim::sim_loss(o, o.pool.apply(t), target, &mut diag),
            Objective::CrossEntropy => cross_entropy(t.flat(), &target.labels),
        };
        diag.insert("loss".into(), scalar(&loss));
        (loss, diag)
    }
}

/// `acc ← acc + w g`, column by column.
pub(crate) fn add_scaled(acc: &mut Mat<f64>, w: f64, g: &Mat<f64>) {
    for j in 0..g.ncols() {
        for (a, b) in acc.col_mut(j).iter_mut().zip(g.col(j).iter()) {
            *a += w * b;
        }
    }
}

/// `Σ_i w_i G_i` over the gradients present (`None` if any is missing: a failed estimate).
pub(crate) fn combine(terms: &[(f64, &Option<Mat<f64>>)]) -> Option<Mat<f64>> {
    let mut out: Option<Mat<f64>> = None;
    for &(w, g) in terms {
        if w == 0.0 {
            continue;
        }
        let g = g.as_ref()?;
        match out.as_mut() {
            None => {
                let mut acc = g.clone();
                for j in 0..acc.ncols() {
                    acc.col_mut(j).iter_mut().for_each(|a| *a *= w);
                }
                out = Some(acc);
            }
            Some(acc) => add_scaled(acc, w, g),
        }
    }
    out
}

/// Mean softmax cross-entropy of `logits` `[batch, classes]` against class labels.
pub fn cross_entropy(logits: Tensor<2>, labels: &[usize]) -> Tensor<1> {
    let [n, c] = logits.dims();
    let target = one_hot(labels, c, &logits.device());
    (log_softmax(logits, 1) * target)
        .sum()
        .div_scalar(n as f64)
        .neg()
}

#[cfg(test)]
mod tests;
