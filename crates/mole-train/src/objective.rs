//! Local objectives: how a module scores its output T against the labels Y and the input X.
//!
//! - [`MoleObjective`]: `L = −(λ_y I_α(T;Y) + λ_x I_α(T;X))`, matrix-based Rényi estimator.
//! - [`HsicObjective`]: `L = nHSIC(T,X) − β nHSIC(T,Y)` (HSIC bottleneck).
//! - `CrossEntropy`: `L = −mean_i log softmax(T_i)[y_i]` (the head, and backprop).
//!
//! Gram matrices are built from the module output flattened to `[batch, features]` (feature maps
//! in CHW order), or from globally average-pooled maps when `pooled` is set.

use crate::config::{HsicSettings, MoleSettings};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};
use mole_info::{Centering, GaussianKernel, KernelWidth, LabelKernel, NhsicFactor};
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

/// Per-batch results that depend on the inputs only, computed by the first module that needs
/// them and reused by the others scored against the same [`Target`] (a clone shares the
/// cache): the HSIC bottleneck's `R_X` factor of `nHSIC(T, X)`, keyed by the kernel and ε.
#[derive(Clone, Debug, Default)]
pub struct InputCache(Arc<Mutex<Vec<CachedFactor>>>);

/// A cache key and the factor computed for it (`None`: not positive definite).
type CachedFactor = (String, Option<Arc<NhsicFactor>>);

impl InputCache {
    /// The factor stored under `key`, or `make`'s result stored there first.
    pub fn nhsic_factor(
        &self,
        key: String,
        make: impl FnOnce() -> Option<NhsicFactor>,
    ) -> Option<Arc<NhsicFactor>> {
        let mut entries = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, f)) = entries.iter().find(|(k, _)| *k == key) {
            return f.clone();
        }
        let f = make().map(Arc::new);
        entries.push((key, f.clone()));
        f
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

fn parse_width(key: &str, text: &str) -> Result<KernelWidth, ObjectiveError> {
    text.parse().map_err(|e| ObjectiveError {
        key: key.into(),
        message: format!("{e}"),
    })
}

/// Parses `delta` or `gaussian:SIGMA`.
pub fn parse_label_kernel(text: &str) -> Result<LabelKernel, ObjectiveError> {
    match text.split_once(':') {
        None if text == "delta" => Ok(LabelKernel::Delta),
        Some(("gaussian", s)) => {
            s.parse()
                .map(LabelKernel::GaussianOneHot)
                .map_err(|_| ObjectiveError {
                    key: "mole.label_kernel".into(),
                    message: format!("'{s}' is not a number"),
                })
        }
        _ => Err(ObjectiveError {
            key: "mole.label_kernel".into(),
            message: format!("'{text}' (delta or gaussian:SIGMA)"),
        }),
    }
}

/// MOLE's InfoMax objective, `L = −(λ_y I_α(T;Y) + λ_x I_α(T;X)) + λ_h S_α(T)`.
///
/// With λ_h > 0 this is the deterministic information bottleneck (Strouse & Schwab 2017,
/// `min H(T) − β I(T;Y)` with β = λ_y / λ_h); for a delta label kernel
/// `I(T;Y) = S(T) − S(T|Y)`, so the loss is `−(λ_y − λ_h) S(T) + λ_y S(T|Y)`.
#[derive(Clone, Debug)]
pub struct MoleObjective {
    /// Rényi order.
    pub alpha: f64,
    /// Weight of I(T;Y).
    pub lambda_y: f64,
    /// Weight of I(T;X).
    pub lambda_x: f64,
    /// Weight of the compression term `λ_h S_α(T)`.
    pub lambda_h: f64,
    /// Kernel on T.
    pub kernel_t: GaussianKernel,
    /// Kernel on X.
    pub kernel_x: GaussianKernel,
    /// Kernel on Y.
    pub label_kernel: LabelKernel,
    /// Use `I / max(S(T), S(Y))`.
    pub normalized: bool,
    /// Pool feature maps before the Gram matrix.
    pub pooled: bool,
    /// Rows of T scaled to unit norm before the kernel.
    pub unit_sphere: bool,
    /// Score the joint target `{Y, X}`: `I(T;{Y,X}) = S(T) + S(Y,X) − S(T,Y,X)` replaces
    /// `I(T;Y)` (multivariate extension, Hadamard-product joint).
    pub joint_x: bool,
}

/// `t / max(‖t‖, 1e-12)` row by row.
pub fn unit_rows(t: Tensor<2>) -> Tensor<2> {
    let norm = t.clone().square().sum_dim(1).sqrt().clamp_min(1e-12);
    t / norm
}

impl MoleObjective {
    /// Builds the objective from its settings.
    pub fn from_settings(s: &MoleSettings) -> Result<Self, ObjectiveError> {
        Ok(MoleObjective {
            alpha: s.alpha,
            lambda_y: s.lambda_y,
            lambda_x: s.lambda_x,
            lambda_h: s.lambda_h,
            kernel_t: GaussianKernel::new(parse_width("mole.sigma_t", &s.sigma_t)?),
            kernel_x: GaussianKernel::new(parse_width("mole.sigma_x", &s.sigma_x)?),
            label_kernel: parse_label_kernel(&s.label_kernel)?,
            normalized: s.normalized,
            pooled: s.pooled,
            unit_sphere: s.unit_sphere,
            joint_x: s.joint_target != "label",
        })
    }
}

/// The HSIC bottleneck, `L = nHSIC(T,X) − β nHSIC(T,Y)`, dimension-scaled Gaussian kernels.
#[derive(Clone, Debug)]
pub struct HsicObjective {
    /// Weight of nHSIC(T,Y).
    pub beta: f64,
    /// Kernel for X, Y (one-hot) and T.
    pub kernel: GaussianKernel,
    /// Inverse regulariser.
    pub epsilon: f64,
    /// Centring.
    pub centering: Centering,
    /// Pool feature maps before the Gram matrix.
    pub pooled: bool,
}

impl HsicObjective {
    /// Builds the objective from its settings with kernel width `sigma`.
    pub fn from_settings(s: &HsicSettings, sigma: f64) -> Self {
        HsicObjective {
            beta: s.beta,
            kernel: GaussianKernel::new(KernelWidth::DimensionScaled(sigma)),
            epsilon: s.epsilon,
            centering: if s.centering == "right" {
                Centering::Right
            } else {
                Centering::Both
            },
            pooled: s.pooled,
        }
    }
}

/// A module's local objective.
#[derive(Clone, Debug)]
pub enum Objective {
    /// Matrix-based Rényi InfoMax.
    Mole(MoleObjective),
    /// HSIC bottleneck.
    Hsic(HsicObjective),
    /// Softmax cross-entropy on the output as logits.
    CrossEntropy,
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
            Objective::CrossEntropy => "cross-entropy",
        }
    }

    /// The loss to minimise (shape `[1]`, differentiable w.r.t. `t`) and its diagnostics.
    pub fn loss(&self, t: Features, target: &Target) -> (Tensor<1>, Diagnostics) {
        let device = match &t {
            Features::Flat(x) => x.device(),
            Features::Grid(x) => x.device(),
        };
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
                let t = if o.pooled { t.pooled() } else { t.flat() };
                let t = if o.unit_sphere { unit_rows(t) } else { t };
                let kt = o.kernel_t.gram(t).matrix;
                let ky = o
                    .label_kernel
                    .gram(&target.labels, target.num_classes, &device);
                let (i_y, i_y_raw, s_t) = if o.joint_x {
                    // I(T;{Y,X}) = S(T) + S(Y,X) − S(T,Y,X).
                    let kx = o.kernel_x.gram(target.x.clone()).matrix;
                    let s_t = mole_info::renyi_entropy(kt.clone(), o.alpha);
                    let s_yx = mole_info::joint_entropy(&[ky.clone(), kx.clone()], o.alpha);
                    let s_tyx = mole_info::joint_entropy(&[kt.clone(), ky, kx], o.alpha);
                    let i = s_t.clone() + s_yx.clone() - s_tyx;
                    let s_t_value = s_t.clone();
                    let i_n = if o.normalized {
                        let floor = mole_info::NORMALIZATION_FLOOR;
                        let denom = s_t.max_pair(s_yx).clamp_min(floor);
                        i.clone() / denom
                    } else {
                        i.clone()
                    };
                    diag.insert("i_tyx".into(), scalar(&i));
                    (i_n, i, s_t_value)
                } else {
                    let mi_y = mole_info::mutual_information(kt.clone(), ky, o.alpha);
                    let i_y = if o.normalized {
                        mi_y.normalized()
                    } else {
                        mi_y.value.clone()
                    };
                    (i_y, mi_y.value, mi_y.entropy_a)
                };
                diag.insert("i_ty".into(), scalar(&i_y_raw));
                diag.insert("s_t".into(), scalar(&s_t));
                let mut total = i_y.mul_scalar(o.lambda_y);
                if o.lambda_h != 0.0 {
                    total = total - s_t.mul_scalar(o.lambda_h);
                }
                if o.lambda_x != 0.0 {
                    let (kt, kx) = match sample() {
                        Some((ts, xs)) => {
                            let ts = if o.unit_sphere { unit_rows(ts) } else { ts };
                            (o.kernel_t.gram(ts).matrix, o.kernel_x.gram(xs).matrix)
                        }
                        None => (kt, o.kernel_x.gram(target.x.clone()).matrix),
                    };
                    let mi_x = mole_info::mutual_information(kt, kx, o.alpha);
                    diag.insert("i_tx".into(), scalar(&mi_x.value));
                    let i_x = if o.normalized {
                        mi_x.normalized()
                    } else {
                        mi_x.value
                    };
                    total = total + i_x.mul_scalar(o.lambda_x);
                }
                total.neg()
            }
            Objective::Hsic(o) => {
                let t = if o.pooled { t.pooled() } else { t.flat() };
                let kt = o.kernel.gram(t).matrix;
                let ky = o.kernel.gram(target.one_hot(&device)).matrix;
                let (kt_x, xs, key) = match sample() {
                    Some((ts, xs)) => (o.kernel.gram(ts).matrix, xs, "input sample"),
                    None => (kt.clone(), target.x.clone(), "batch"),
                };
                let kx = || o.kernel.gram(xs.clone()).matrix;
                // R_X once per batch for all modules (Both centring; Right keeps the general
                // path's round-off, see `Centering`).
                let factor = (o.centering == Centering::Both)
                    .then(|| {
                        let key = format!("nhsic {key} {:?} {}", o.kernel.width, o.epsilon);
                        target
                            .cache
                            .nhsic_factor(key, || NhsicFactor::new(&kx(), o.epsilon))
                    })
                    .flatten();
                let hx = factor
                    .and_then(|f| mole_info::nhsic_with_factor(kt_x.clone(), &f))
                    .unwrap_or_else(|| mole_info::nhsic(kt_x, kx(), o.epsilon, o.centering));
                let hy =
                    mole_info::nhsic_with_labels(kt, ky, &target.labels, o.epsilon, o.centering);
                diag.insert("nhsic_tx".into(), scalar(&hx));
                diag.insert("nhsic_ty".into(), scalar(&hy));
                hx - hy.mul_scalar(o.beta)
            }
            Objective::CrossEntropy => cross_entropy(t.flat(), &target.labels),
        };
        diag.insert("loss".into(), scalar(&loss));
        (loss, diag)
    }
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
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    fn rows(r: &[i64]) -> Tensor<1, Int> {
        Tensor::from_data(TensorData::new(r.to_vec(), [r.len()]), &Device::flex())
    }

    /// With an input sample (semi-supervised node-level tasks) the input terms score the
    /// sampled rows and the label term the labelled rows; without one, both score the latter.
    #[test]
    fn input_terms_score_the_sampled_rows() {
        let device = Device::flex();
        let t = Tensor::<2>::random([8, 3], Distribution::Normal(0.0, 1.0), &device);
        let x = Tensor::<2>::random([8, 4], Distribution::Normal(0.0, 1.0), &device);
        let (labelled, sampled) = (rows(&[0, 1, 2, 3]), rows(&[2, 4, 5, 6, 7]));
        let mut target = Target {
            x: x.clone().select(0, labelled.clone()),
            labels: vec![0, 1, 0, 1],
            num_classes: 2,
            view: Some(TargetView::Rows(labelled.clone())),
            input_sample: None,
            cache: InputCache::default(),
        };
        let width = KernelWidth::Fixed(1.5);
        let mole = MoleObjective {
            alpha: 2.0,
            lambda_y: 1.0,
            lambda_x: 0.5,
            lambda_h: 0.0,
            kernel_t: GaussianKernel::new(width.clone()),
            kernel_x: GaussianKernel::new(width.clone()),
            label_kernel: LabelKernel::Delta,
            normalized: false,
            pooled: false,
            unit_sphere: false,
            joint_x: false,
        };
        let hsic = HsicObjective {
            beta: 2.0,
            kernel: GaussianKernel::new(width.clone()),
            epsilon: 1e-5,
            centering: Centering::Both,
            pooled: false,
        };
        let expected = |r: &Tensor<1, Int>| {
            let kt = mole.kernel_t.gram(t.clone().select(0, r.clone())).matrix;
            let kx = mole.kernel_x.gram(x.clone().select(0, r.clone())).matrix;
            let mi = mole_info::mutual_information(kt.clone(), kx.clone(), 2.0).value;
            let h = mole_info::nhsic(kt, kx, 1e-5, Centering::Both);
            (scalar(&mi), scalar(&h))
        };
        let run = |target: &Target| {
            let (_, dm) = Objective::Mole(mole.clone()).loss(Features::Flat(t.clone()), target);
            let (_, dh) = Objective::Hsic(hsic.clone()).loss(Features::Flat(t.clone()), target);
            (dm["i_tx"], dm["i_ty"], dh["nhsic_tx"])
        };
        let (i_tx, i_ty, h_tx) = run(&target);
        let (mi_l, h_l) = expected(&labelled);
        assert!((i_tx - mi_l).abs() < 1e-5 && (h_tx - h_l).abs() < 1e-5);

        target.input_sample = Some(InputSample {
            view: TargetView::Rows(sampled.clone()),
            x: x.clone().select(0, sampled.clone()),
        });
        let (s_tx, s_ty, sh_tx) = run(&target);
        let (mi_s, h_s) = expected(&sampled);
        assert!((s_tx - mi_s).abs() < 1e-5, "{s_tx} vs {mi_s}");
        assert!((sh_tx - h_s).abs() < 1e-5, "{sh_tx} vs {h_s}");
        assert!((s_tx - i_tx).abs() > 1e-4, "the sample changes I(T;X)");
        assert_eq!(s_ty, i_ty, "the label term still scores the labelled rows");
    }

    /// The compression term: `loss = −I(T;Y) + λ_h S(T)` exactly, and it breaks I(T;Y)'s tie.
    /// With a delta label kernel, outputs that collapse each class onto one point and outputs
    /// that isolate every point both give I(T;Y) = H(Y), the same loss at λ_h = 0; with
    /// λ_h > 0 the compact clusters win by λ_h (log₂ N − H(Y)) bits.
    #[test]
    fn compression_term_prefers_class_clusters_over_isolated_points() {
        let device = Device::flex();
        let (n, classes) = (16usize, 4usize);
        let labels: Vec<usize> = (0..n).map(|i| i % classes).collect();
        let target = Target {
            x: Tensor::<2>::zeros([n, 2], &device),
            labels: labels.clone(),
            num_classes: classes,
            view: None,
            input_sample: None,
            cache: InputCache::default(),
        };
        // Clusters: every sample at its class's corner, 100 apart. Isolated: every sample on
        // its own point, 100 apart from all others.
        let clusters: Vec<f32> = labels
            .iter()
            .flat_map(|&c| (0..classes).map(move |j| if j == c { 100.0 } else { 0.0 }))
            .collect();
        let isolated: Vec<f32> = (0..n)
            .flat_map(|i| (0..n).map(move |j| if j == i { 100.0 } else { 0.0 }))
            .collect();
        let clusters = Tensor::<2>::from_data(TensorData::new(clusters, [n, classes]), &device);
        let isolated = Tensor::<2>::from_data(TensorData::new(isolated, [n, n]), &device);
        let objective = |lambda_h: f64| {
            Objective::Mole(MoleObjective {
                alpha: 1.01,
                lambda_y: 1.0,
                lambda_x: 0.0,
                lambda_h,
                kernel_t: GaussianKernel::new(KernelWidth::Fixed(1.0)),
                kernel_x: GaussianKernel::new(KernelWidth::Fixed(1.0)),
                label_kernel: LabelKernel::Delta,
                normalized: false,
                pooled: false,
                unit_sphere: false,
                joint_x: false,
            })
        };
        let loss = |t: &Tensor<2>, lambda_h: f64| {
            let (l, d) = objective(lambda_h).loss(Features::Flat(t.clone()), &target);
            (scalar(&l), d)
        };
        let h_y = (classes as f64).log2();
        let log_n = (n as f64).log2();
        let (lc, dc) = loss(&clusters, 0.0);
        let (li, di) = loss(&isolated, 0.0);
        assert!((dc["i_ty"] - h_y).abs() < 1e-3 && (di["i_ty"] - h_y).abs() < 1e-3);
        assert!((lc - li).abs() < 1e-3, "a tie at λ_h = 0: {lc} vs {li}");
        assert!((dc["s_t"] - h_y).abs() < 1e-3 && (di["s_t"] - log_n).abs() < 1e-3);

        let lambda_h = 0.3;
        let (lc, dc) = loss(&clusters, lambda_h);
        let (li, di) = loss(&isolated, lambda_h);
        for d in [&dc, &di] {
            let expected = -d["i_ty"] + lambda_h * d["s_t"];
            assert!(
                (d["loss"] - expected).abs() < 1e-5,
                "{} vs {expected}",
                d["loss"]
            );
        }
        let margin = lambda_h * (log_n - h_y);
        assert!((li - lc - margin).abs() < 1e-3, "{li} − {lc} vs {margin}");
    }
}
