//! The training configuration: a TOML file whose every key is optional, overridden by flags.
//! Unknown keys and wrong types are errors that name the key.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// How modules learn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// MOLE: maximise `λ_y I_α(T;Y) + λ_x I_α(T;X)` per module (matrix-based Rényi estimator).
    #[default]
    Mole,
    /// HSIC bottleneck: minimise `nHSIC(T,X) − β nHSIC(T,Y)` per module.
    Hsic,
    /// Nøkland & Eidnes' (2019) "sim + pred" local loss: `(1 − λ) L_sim + λ L_pred` per module,
    /// `L_sim` the mean squared difference between the centred-cosine similarity matrices of the
    /// (projected, spatial-std-pooled) output and of the one-hot labels, `L_pred` the
    /// cross-entropy of a linear classifier on the output (`local.lambda_ce`).
    Simpred,
    /// End-to-end backprop with cross-entropy on the same architecture (the baseline).
    Bp,
}

/// When each module takes its steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScheduleKind {
    /// Module 1 for all its epochs, then frozen; then module 2 on its outputs; …; then the head.
    Sequential,
    /// Every module takes one step on every batch, lowest first (the HSIC reference code).
    Simultaneous,
    /// One worker thread per module (and the head), connected by bounded buffers of activation
    /// batches; see [`AsyncSettings`].
    Async,
}

/// Whether the simultaneous schedule runs its learners as a pipeline ([`TrainConfig::pipeline`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PipelineMode {
    /// Measured: a few batches in turn, a few as a pipeline, and the faster way for the rest
    /// of the run (small steps, whose products already fill the cores or whose hand-offs cost
    /// more than they overlap, keep taking turns).
    Auto,
    /// Always a pipeline where one can run (two or more learners and cores, no dropout).
    On,
    /// The learners take turns (one learner's activations in memory at a time).
    Off,
}

/// What a full or empty activation buffer does (the `async` schedule).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BufferPolicy {
    /// Lossless back-pressure: a full buffer blocks the sender; every batch is used exactly once
    /// per epoch.
    Block,
    /// A ring of `buffer_size` batches: the sender never blocks (the oldest batch is dropped),
    /// the receiver trains on the freshest unused batch, or reuses one up to `max_reuse` times
    /// instead of waiting (decoupled greedy learning's replay buffer).
    Replay,
}

/// Where the workers of the `async` schedule run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Distributed {
    /// Threads of this process, linked by in-process buffers.
    Local,
    /// One MPI rank per group of modules (`mpirun -np K mole train …`): rank 0 reads the data,
    /// feeds the batches and evaluates; ranks 1..K−1 hold contiguous groups of modules, the last
    /// one also the head. Needs a build with the `mpi` feature.
    Mpi,
}

/// Settings of the `async` schedule.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AsyncSettings {
    /// Buffer policy between two workers (the data feeder always blocks: data is never dropped
    /// before module 1).
    pub buffer: BufferPolicy,
    /// Batches a buffer holds.
    pub buffer_size: usize,
    /// Times a batch may be trained on under `replay` (1: never reused).
    pub max_reuse: usize,
    /// Intra-op threads of every worker; 0: the cores divided by the workers (at least 1), and
    /// one more for the first worker, which every other one waits on.
    pub threads_per_module: usize,
    /// Threads of this process (`local`) or MPI ranks (`mpi`).
    pub distributed: Distributed,
}

impl Default for AsyncSettings {
    fn default() -> Self {
        AsyncSettings {
            buffer: BufferPolicy::Block,
            buffer_size: 4,
            max_reuse: 2,
            threads_per_module: 0,
            distributed: Distributed::Local,
        }
    }
}

/// Which optimiser every module uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// Adam (β = 0.9, 0.999).
    Adam,
    /// SGD with the configured momentum.
    Sgd,
}

/// How a learner's learning rate changes over its epochs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LrSchedule {
    /// The configured rate throughout.
    Constant,
    /// Cosine annealing per epoch: `lr_e = lr · ½ (1 + cos(π (e − 1) / E))` for epoch
    /// `e = 1..=E` of a learner's `E` epochs (a module's own epochs in the sequential schedule;
    /// the head restarts it for its epochs on the frozen modules).
    #[default]
    Cosine,
    /// Step decay: the rate is multiplied by `lr_step_factor` at each fraction of a learner's
    /// epochs listed in `lr_steps` (Nøkland & Eidnes: ×0.25 at 50, 75, 89 and 94 % of training).
    Step,
}

/// A learner's rate over its epochs: the schedule and, for step decay, where and by how much.
#[derive(Clone, Debug, PartialEq)]
pub struct LrPlan {
    /// The schedule.
    pub schedule: LrSchedule,
    /// Step decay: fractions of the epochs after which the rate drops.
    pub steps: Vec<f64>,
    /// Step decay: the factor of each drop.
    pub step_factor: f64,
}

impl Default for LrPlan {
    fn default() -> Self {
        LrPlan {
            schedule: LrSchedule::Constant,
            steps: Vec::new(),
            step_factor: 1.0,
        }
    }
}

impl LrPlan {
    /// The factor on the base rate in 1-based `epoch` of `epochs`. Step decay: one
    /// `step_factor` for every listed fraction `f` with `epoch > f · epochs`.
    pub fn factor(&self, epoch: usize, epochs: usize) -> f64 {
        match self.schedule {
            LrSchedule::Constant => 1.0,
            LrSchedule::Cosine => {
                let e = epoch.saturating_sub(1) as f64;
                let total = epochs.max(1) as f64;
                0.5 * (1.0 + (std::f64::consts::PI * e / total).cos())
            }
            LrSchedule::Step => {
                let passed = (self.steps.iter())
                    .filter(|&&f| epoch as f64 > f * epochs as f64)
                    .count();
                self.step_factor.powi(passed as i32)
            }
        }
    }
}

/// Settings shared by the local methods (MOLE, HSIC, simpred): the terms and learned parts
/// around each module's objective (Nøkland & Eidnes 2019).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LocalSettings {
    /// Weight λ of the local prediction term: a module's loss is `(1 − λ) · objective / w + λ ·
    /// CE`, the cross-entropy of a linear classifier (weights starting at 0) on its output,
    /// feature maps average-pooled to at most 2,048 values, `w` the weight of the objective's
    /// label term (MOLE's λ_y, HSIC's β). 0: no classifier. In [0, 1].
    pub lambda_ce: f64,
    /// A learned bias-free projection (dense: `x Wᵀ`; feature maps: a 3×3 convolution) between
    /// the module and its kernel objective.
    pub projection: bool,
    /// How conv modules' outputs become Gram samples: "flatten" (CHW order), "mean" (global
    /// average per channel) or "std" (each channel's spatial standard deviation).
    pub pool: String,
    /// Kernel on module outputs: "gaussian" (the method's width rule), "linear" or "cosine"
    /// (centred cosine similarity).
    pub kernel: String,
    /// Predict with the average of the softmax of every module's classifier and of the head
    /// (needs `lambda_ce > 0`).
    pub ensemble_heads: bool,
}

impl Default for LocalSettings {
    fn default() -> Self {
        LocalSettings {
            lambda_ce: 0.0,
            projection: false,
            pool: "flatten".into(),
            kernel: "gaussian".into(),
            ensemble_heads: false,
        }
    }
}

/// Settings of the MOLE objective.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MoleSettings {
    /// Rényi order α (2 uses the Frobenius fast path; others an eigendecomposition).
    pub alpha: f64,
    /// Weight of I(T;Y).
    pub lambda_y: f64,
    /// Weight of I(T;X) (0: decoder-like module; > 0: encoder-like).
    pub lambda_x: f64,
    /// Weight λ_h of the compression term `+λ_h S_α(T)` in the loss (deterministic
    /// information bottleneck, `min S(T) − β I(T;Y)`): 0 leaves plain InfoMax; in `[0, λ_y)`
    /// it breaks I(T;Y)'s tie between compact class clusters and isolated points in favour of
    /// the clusters.
    pub lambda_h: f64,
    /// Per-module λ_x, lowest module first (one value per module; empty: `lambda_x` for
    /// every module). MOLE's "encoder-like" lower modules keep input information while the
    /// upper ones do not, e.g. `[0.5, 0.0]`.
    pub module_lambda_x: Vec<f64>,
    /// Per-module λ_h, lowest module first (one value per module; empty: `lambda_h` for
    /// every module), e.g. `[0.3, 0.0]` compresses only the first module.
    pub module_lambda_h: Vec<f64>,
    /// Width rule of the Gaussian kernel on the module output T (see `mole_info::KernelWidth`).
    pub sigma_t: String,
    /// Width rule of the Gaussian kernel on the input X.
    pub sigma_x: String,
    /// Label kernel: "delta" or "gaussian:SIGMA" (dimension-scaled Gaussian on one-hot labels).
    pub label_kernel: String,
    /// Maximise the normalised MI `I / max(S(T), S(Y))` instead of I.
    pub normalized: bool,
    /// Build conv modules' Gram matrices from globally average-pooled maps.
    pub pooled: bool,
    /// Project each row of T onto the unit sphere (`t / ‖t‖`) before the Gaussian kernel, which
    /// makes the objective invariant to the scale of T.
    pub unit_sphere: bool,
    /// Graph data: what a module's output is scored against: "label" (I(T;Y)),
    /// "label+input" (the joint I(T;{Y,X}) with X the node's input features, pooled per graph
    /// for graph-level tasks) or "label+aggregate" (X the GCN-normalised neighbourhood
    /// aggregate of the input features, `D^-1/2 (A+I) D^-1/2 X`).
    pub joint_target: String,
    /// Arithmetic of the eigendecompositions behind α ≠ 2: "f32" (faster; the gradient's
    /// products stay in f64) or "f64" (the reference).
    pub eigen_precision: String,
}

impl Default for MoleSettings {
    fn default() -> Self {
        MoleSettings {
            alpha: 1.01,
            lambda_y: 1.0,
            lambda_x: 0.0,
            lambda_h: 0.0,
            module_lambda_x: Vec::new(),
            module_lambda_h: Vec::new(),
            sigma_t: "scaled:0.5".into(),
            sigma_x: "median".into(),
            label_kernel: "delta".into(),
            normalized: false,
            pooled: false,
            unit_sphere: false,
            joint_target: "label".into(),
            eigen_precision: "f32".into(),
        }
    }
}

/// Settings of the HSIC-bottleneck objective.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HsicSettings {
    /// Weight β of nHSIC(T,Y).
    pub beta: f64,
    /// σ of the dimension-scaled Gaussian kernel used for X, Y and T (the reference code's rule).
    pub sigma: f64,
    /// Regulariser ε of `(K̄ + ε m I)^{-1}`.
    pub epsilon: f64,
    /// "both" (H K H) or "right" (K H, as the reference code).
    pub centering: String,
    /// Several σ trained as separate networks and averaged under one format layer (σ-combined).
    pub sigmas: Vec<f64>,
    /// Build conv modules' Gram matrices from globally average-pooled maps.
    pub pooled: bool,
}

impl Default for HsicSettings {
    fn default() -> Self {
        HsicSettings {
            beta: 500.0,
            sigma: 5.0,
            epsilon: 1e-5,
            centering: "both".into(),
            sigmas: Vec::new(),
            pooled: false,
        }
    }
}

/// Seeded training-time augmentation of image batches (the test set is never augmented).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct AugmentSettings {
    /// Random crop: pad every side with this many zeros, then cut a window of the original
    /// size at a random offset (0 = off; 4 is the usual choice for CIFAR-10).
    pub crop: usize,
    /// Random horizontal flip with probability 1/2.
    pub flip: bool,
    /// Cutout (DeVries & Taylor 2017): a square of this side, centred at a random pixel, set to
    /// 0 (clipped at the borders; 0 = off).
    pub cutout: usize,
}

impl AugmentSettings {
    /// True when any augmentation is on.
    pub fn enabled(&self) -> bool {
        self.crop > 0 || self.flip || self.cutout > 0
    }
}

/// Everything a training run needs. Every field has a default; a config file sets some, flags
/// override them.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// Dataset name (`digits`, `mnist`, …) or `csv:PATH`.
    pub dataset: String,
    /// Folder of the named datasets (default `../shared/datasets`, else `./data`).
    pub data_dir: Option<PathBuf>,
    /// Which column of a `csv:PATH` dataset holds the class label: `auto` (a header column
    /// named `label`, `class`, `target` or `y`, else the last column), a column number from 1,
    /// or a header name.
    pub label_column: String,
    /// Held-out fraction for datasets without a test split.
    pub test_fraction: f64,
    /// Fraction of the training rows (graph-level: of the training folds' graphs) held out,
    /// stratified and seeded, to validate the head's epochs: the epoch with the best validation
    /// accuracy is the one kept and reported. 0: no validation, the last epoch is kept.
    /// Node-level tasks validate on the split's 500 validation nodes instead.
    pub val_fraction: f64,
    /// Standardise features (default: per dataset).
    pub standardize: Option<bool>,
    /// Model spec, e.g. `mlp:256,256,256`.
    pub model: String,
    /// Layers per module, e.g. `[1, 2]`; empty: see [`TrainConfig::module_groups`].
    pub group: Vec<usize>,
    /// Hidden activation.
    pub activation: String,
    /// Batch normalisation in every block.
    pub batch_norm: bool,
    /// Learnable BN scale/shift (the HSIC code uses none).
    pub affine: bool,
    /// Local objective.
    pub method: Method,
    /// Schedule; default sequential for MOLE, simultaneous for HSIC and BP.
    pub schedule: Option<ScheduleKind>,
    /// Simultaneous schedule: `auto` (default), `on` or `off`. As a pipeline the learners
    /// (modules, head) are grouped into one stage per core by their timed steps, each stage a
    /// thread, stage 1 on batch b while stage 2 is on b − 1, with the same numbers as when they
    /// take turns; `auto` puts the pipeline on trial for eight batches after five in turn and
    /// keeps whichever ran faster per batch. Never with dropout (its shared generator would make the numbers depend on the
    /// threads' timing), one learner or one core.
    pub pipeline: PipelineMode,
    /// Epochs per module (sequential) or in total (simultaneous, BP).
    pub epochs: usize,
    /// Epochs of the head on the frozen network.
    pub head_epochs: usize,
    /// Minibatch size (also the size of the Gram matrices).
    pub batch_size: usize,
    /// Learning rate of the modules; default per method.
    pub lr: Option<f64>,
    /// Learning rate of the head; default 1e-2 (Adam) or 0.05 (SGD).
    pub head_lr: Option<f64>,
    /// How every learner's rate changes over its epochs (`cosine`, `constant` or `step`).
    pub lr_schedule: LrSchedule,
    /// `step` schedule: the fractions of a learner's epochs after which its rate drops.
    pub lr_steps: Vec<f64>,
    /// `step` schedule: the factor of each drop.
    pub lr_step_factor: f64,
    /// Optimiser.
    pub optimizer: OptimizerKind,
    /// SGD momentum.
    pub momentum: f64,
    /// L2 weight decay.
    pub weight_decay: f64,
    /// Seed of initialisation, shuffling and splits.
    pub seed: u64,
    /// Samples of the fixed evaluation batch used for the per-module dependence measures.
    pub eval_samples: usize,
    /// Points of the class-balanced test sample whose embeddings are saved for t-SNE.
    pub embedding_samples: usize,
    /// Cache a frozen module's outputs (sequential schedule) when they take at most this many MiB.
    pub cache_mib: usize,
    /// Run directory; default `runs/<timestamp>`.
    pub out: Option<PathBuf>,
    /// Train on a seeded class-balanced subset of this many training samples (all when unset).
    pub train_samples: Option<usize>,
    /// Evaluate on a seeded class-balanced subset of this many test samples (all when unset).
    pub test_samples: Option<usize>,
    /// Training-time augmentation of images.
    pub augment: AugmentSettings,
    /// Dropout probability: on the input of every GNN layer (and of the head on graph data);
    /// on the input of every dense or conv layer but the first (its output then reaches the next
    /// layer, or module, thinned; a module's objective scores it before dropout).
    pub dropout: f64,
    /// Graph-level tasks: how node rows are pooled per graph ("sum", "mean", "max").
    pub readout: String,
    /// Graph-level tasks: folds of the stratified cross-validation (at least 2).
    pub folds: usize,
    /// The classifier on top of the last module: "linear" (a dense layer; every data type) or
    /// "gcn" (a graph convolution `Â H W + b`, as the last layer of Kipf & Welling's GCN;
    /// node-level graph tasks).
    pub head: String,
    /// Node-level tasks: which nodes the input terms (MOLE's `I(T;X)`, HSIC's `nHSIC(T,X)`)
    /// score: "labelled" (the training nodes, like the label terms) or "all" (a fresh sample of
    /// `batch_size` nodes of the whole graph every step, labelled or not: semi-supervised).
    pub x_nodes: String,
    /// Graph data: evaluate (accuracy, dependence measures, a metrics row) every this many
    /// epochs and at the last epoch of every module and the head (at least 1).
    pub eval_every: usize,
    /// MOLE objective settings.
    pub mole: MoleSettings,
    /// HSIC objective settings.
    pub hsic: HsicSettings,
    /// Settings shared by the local methods.
    pub local: LocalSettings,
    /// Settings of the `async` schedule.
    #[serde(rename = "async")]
    pub async_: AsyncSettings,
    /// `--resume`: the last epoch whose checkpoint the run directory holds (0: a fresh run).
    /// Set from the checkpoints, never read from a config file.
    #[serde(skip)]
    pub resume_epoch: usize,
    /// `--resume` on the sequential or simultaneous schedule: continue from the run
    /// directory's snapshot (`weights/snapshot.safetensors`). Never read from a config file.
    #[serde(skip)]
    pub resume_snapshot: bool,
    /// Where every value came from (flag, file, default rule), when the default rules resolved
    /// this config; `config.toml` then carries it as comments. Never read from a file.
    #[serde(skip)]
    pub provenance: Option<crate::defaults::Provenance>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            dataset: "digits".into(),
            data_dir: None,
            label_column: "auto".into(),
            test_fraction: 0.2,
            val_fraction: 0.0,
            standardize: None,
            model: "mlp:256,256,256".into(),
            group: Vec::new(),
            activation: "relu".into(),
            batch_norm: true,
            affine: true,
            method: Method::Mole,
            schedule: None,
            epochs: 5,
            head_epochs: 5,
            batch_size: 256,
            lr: None,
            head_lr: None,
            lr_schedule: LrSchedule::Cosine,
            lr_steps: vec![0.5, 0.75, 0.89, 0.94],
            lr_step_factor: 0.25,
            optimizer: OptimizerKind::Adam,
            momentum: 0.9,
            weight_decay: 0.0,
            seed: 0,
            eval_samples: 512,
            embedding_samples: 1000,
            cache_mib: 2048,
            out: None,
            train_samples: None,
            test_samples: None,
            augment: AugmentSettings::default(),
            dropout: 0.0,
            readout: "mean".into(),
            folds: 10,
            x_nodes: "labelled".into(),
            head: "linear".into(),
            eval_every: 1,
            pipeline: PipelineMode::Auto,
            mole: MoleSettings::default(),
            hsic: HsicSettings::default(),
            local: LocalSettings::default(),
            async_: AsyncSettings::default(),
            resume_epoch: 0,
            resume_snapshot: false,
            provenance: None,
        }
    }
}

/// A config file that could not be read or parsed.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Unreadable file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// TOML syntax, unknown key or wrong type; the message names the key and line.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What toml reported, with line and key.
        message: String,
    },
    /// A value that is well-typed but not allowed.
    #[error("config: {0}")]
    Invalid(String),
}

impl TrainConfig {
    /// Reads a TOML config file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.into(),
            source,
        })?;
        Self::from_toml(&text).map_err(|e| match e {
            ConfigError::Parse { message, .. } => ConfigError::Parse {
                path: path.into(),
                message,
            },
            other => other,
        })
    }

    /// Parses TOML text.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| text[..s.start].matches('\n').count() + 1);
            ConfigError::Parse {
                path: PathBuf::from("<config>"),
                message: match line {
                    Some(l) => format!("line {l}: {}", e.message()),
                    None => e.message().to_string(),
                },
            }
        })
    }

    /// The config as the text of a `config.toml`: with every value's origin as a comment when
    /// the default rules resolved it.
    pub fn to_toml(&self) -> Result<String, toml::ser::Error> {
        match &self.provenance {
            Some(p) => crate::defaults::annotated_toml(self, p),
            None => toml::to_string(self),
        }
    }

    /// Every learner's rate plan.
    pub fn lr_plan(&self) -> LrPlan {
        LrPlan {
            schedule: self.lr_schedule,
            steps: self.lr_steps.clone(),
            step_factor: self.lr_step_factor,
        }
    }

    /// The schedule actually used.
    pub fn schedule(&self) -> ScheduleKind {
        self.schedule.unwrap_or(match self.method {
            Method::Mole => ScheduleKind::Sequential,
            Method::Hsic | Method::Simpred | Method::Bp => ScheduleKind::Simultaneous,
        })
    }

    /// Layers per module for a model of `layers` layers: `group` when it is set, otherwise
    /// the default rule [`crate::defaults::default_groups`] for this method and model.
    pub fn module_groups(&self, layers: usize) -> Vec<usize> {
        if !self.group.is_empty() {
            return self.group.clone();
        }
        match self.model.parse::<mole_nn::ModelSpec>() {
            Ok(spec) if spec.layers.len() == layers => {
                crate::defaults::default_groups(self.method, &spec)
            }
            _ => vec![1; layers],
        }
    }

    /// The module learning rate actually used.
    pub fn lr(&self) -> f64 {
        self.lr.unwrap_or(match (self.method, self.optimizer) {
            (_, OptimizerKind::Sgd) => 0.01,
            (Method::Hsic, _) => 1e-3,
            _ => 1e-3,
        })
    }

    /// The head learning rate actually used.
    pub fn head_lr(&self) -> f64 {
        self.head_lr.unwrap_or(match self.optimizer {
            OptimizerKind::Adam => 1e-2,
            OptimizerKind::Sgd => 0.05,
        })
    }

    /// [`TrainConfig::label_column`] parsed.
    ///
    /// # Errors
    /// When it is empty or the column number 0.
    pub fn label_column(&self) -> Result<mole_data::LabelColumn, ConfigError> {
        self.label_column.parse().map_err(|e| {
            ConfigError::Invalid(format!("label_column = {:?}: {e}", self.label_column))
        })
    }

    /// Checks values that types cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::Invalid(m));
        if self.label_column()? != mole_data::LabelColumn::Auto && !self.dataset.starts_with("csv:")
        {
            return bad(format!(
                "label_column = {:?} applies to csv:PATH datasets, not {}",
                self.label_column, self.dataset
            ));
        }
        if self.batch_size < 2 {
            return bad(format!(
                "batch_size = {} (needs at least 2)",
                self.batch_size
            ));
        }
        if !(0.0..1.0).contains(&self.test_fraction) {
            return bad(format!(
                "test_fraction = {} (must be in [0, 1))",
                self.test_fraction
            ));
        }
        if !(0.0..1.0).contains(&self.val_fraction) {
            return bad(format!(
                "val_fraction = {} (must be in [0, 1))",
                self.val_fraction
            ));
        }
        if let Some(lr) = self.lr
            && !(lr > 0.0 && lr.is_finite())
        {
            return bad(format!("lr = {lr} (must be positive)"));
        }
        if self.mole.alpha <= 0.0 || (self.mole.alpha - 1.0).abs() < 1e-9 {
            return bad(format!(
                "mole.alpha = {} (must be > 0 and != 1)",
                self.mole.alpha
            ));
        }
        let y = self.mole.lambda_y;
        let hs = std::iter::once(("mole.lambda_h".to_string(), self.mole.lambda_h)).chain(
            (self.mole.module_lambda_h.iter().enumerate())
                .map(|(k, &h)| (format!("mole.module_lambda_h[{k}]"), h)),
        );
        for (field, h) in hs {
            if !(h.is_finite() && h >= 0.0 && (h < y || h == 0.0)) {
                return bad(format!(
                    "{field} = {h} (must be >= 0 and below mole.lambda_y = {y}: at \
                     lambda_h >= lambda_y collapsing every output to one point is optimal)"
                ));
            }
        }
        if let Some((k, x)) =
            (self.mole.module_lambda_x.iter().enumerate()).find(|(_, x)| !x.is_finite())
        {
            return bad(format!("mole.module_lambda_x[{k}] = {x} (must be finite)"));
        }
        if self.group.contains(&0) {
            return bad("group: every module needs at least one layer".into());
        }
        if self.async_.buffer_size == 0 {
            return bad("async.buffer_size = 0 (needs at least 1)".into());
        }
        if self.async_.max_reuse == 0 {
            return bad("async.max_reuse = 0 (needs at least 1)".into());
        }
        if (self.resume_snapshot || self.resume_epoch > 0)
            && !self.hsic.sigmas.is_empty()
            && self.schedule() == ScheduleKind::Async
        {
            return bad(
                "resume: a sigma-combined HSIC run (hsic.sigmas) on the async schedule cannot be \
                 resumed (its branches keep per-epoch checkpoints, not snapshots); train it again"
                    .into(),
            );
        }
        if self.resume_epoch > 0 && self.schedule() != ScheduleKind::Async {
            return bad(format!(
                "resume: continuing a run needs schedule = \"async\" (this run is {:?})",
                self.schedule()
            )
            .to_lowercase());
        }
        if self.pipeline != PipelineMode::Auto && self.schedule() != ScheduleKind::Simultaneous {
            return bad(format!(
                "pipeline = {:?} applies to the simultaneous schedule only (this run is {:?})",
                self.pipeline,
                self.schedule()
            )
            .to_lowercase());
        }
        if self.async_.distributed == Distributed::Mpi {
            if self.schedule() != ScheduleKind::Async {
                return bad("async.distributed = \"mpi\" needs schedule = \"async\"".into());
            }
            if self.async_.buffer != BufferPolicy::Block {
                return bad(
                    "async.distributed = \"mpi\" supports buffer = \"block\" only (an MPI send \
                     waits for its receiver)"
                        .into(),
                );
            }
        }
        if self.train_samples == Some(0) || self.test_samples == Some(0) {
            return bad("train_samples and test_samples must be positive".into());
        }
        // Read by the evaluation's information-plane measures whatever the method, so a bad
        // width is refused here rather than when the first evaluation starts.
        for (key, text) in [
            ("mole.sigma_t", &self.mole.sigma_t),
            ("mole.sigma_x", &self.mole.sigma_x),
        ] {
            if let Err(e) = text.parse::<mole_info::KernelWidth>() {
                return bad(format!("{key}: {e}"));
            }
        }
        if let Err(e) = crate::objective::parse_label_kernel(&self.mole.label_kernel) {
            return bad(format!("{e}"));
        }
        if !(self.hsic.sigma > 0.0 && self.hsic.sigma.is_finite()) {
            return bad(format!(
                "hsic.sigma = {} (the kernel width must be positive)",
                self.hsic.sigma
            ));
        }
        if !(self.hsic.epsilon >= 0.0 && self.hsic.epsilon.is_finite()) {
            return bad(format!(
                "hsic.epsilon = {} (the regulariser must be 0 or positive)",
                self.hsic.epsilon
            ));
        }
        if self
            .hsic
            .sigmas
            .iter()
            .any(|s| !(*s > 0.0 && s.is_finite()))
        {
            return bad(format!(
                "hsic.sigmas = {:?} (every sigma must be positive)",
                self.hsic.sigmas
            ));
        }
        if !self.hsic.sigmas.is_empty() && self.method != Method::Hsic {
            return bad("hsic.sigmas (the sigma-combined network) needs method = \"hsic\"".into());
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return bad(format!("dropout = {} (must be in [0, 1))", self.dropout));
        }
        if !["linear", "gcn"].contains(&self.head.as_str()) {
            return bad(format!("head = '{}' (linear or gcn)", self.head));
        }
        if !["labelled", "all"].contains(&self.x_nodes.as_str()) {
            return bad(format!("x_nodes = '{}' (labelled or all)", self.x_nodes));
        }
        if self.x_nodes == "all" {
            match self.method {
                Method::Bp => {
                    return bad(
                        "x_nodes = 'all' has no effect with method = 'bp', which has no \
                         input term"
                            .into(),
                    );
                }
                Method::Mole if self.mole.lambda_x == 0.0 => {
                    return bad(
                        "x_nodes = 'all' has no effect with mole.lambda_x = 0: the MOLE \
                         objective then has no input term I(T;X)"
                            .into(),
                    );
                }
                _ => {}
            }
        }
        if let Err(e) = self.readout.parse::<mole_nn::Readout>() {
            return bad(format!("readout: {e}"));
        }
        if self.eval_every == 0 {
            return bad("eval_every = 0 (needs at least 1)".into());
        }
        if self.folds < 2 {
            return bad(format!("folds = {} (needs at least 2)", self.folds));
        }
        let l = &self.local;
        if !(0.0..=1.0).contains(&l.lambda_ce) {
            return bad(format!(
                "local.lambda_ce = {} (must be in [0, 1]: the prediction term's share of the loss)",
                l.lambda_ce
            ));
        }
        // The names the objectives accept, refused here by the objectives' own parsers, before
        // any data is loaded (and whatever the method, so that no setting is silently ignored).
        let refused =
            |e: crate::objective::ObjectiveError| bad(format!("{} = {}", e.key, e.message));
        if let Err(e) = crate::objective::GramPool::from_settings(l, false) {
            return refused(e);
        }
        if let Err(e) = crate::objective::sample_kernel(l, mole_info::KernelWidth::Median) {
            return refused(e);
        }
        if l.ensemble_heads && l.lambda_ce == 0.0 {
            return bad(
                "local.ensemble_heads needs the modules' classifiers: set local.lambda_ce > 0"
                    .into(),
            );
        }
        if self.method == Method::Bp && *l != LocalSettings::default() {
            return bad(
                "local.*: the local terms have no effect with method bp (one network, one loss)"
                    .into(),
            );
        }
        let pooled = match self.method {
            Method::Mole => self.mole.pooled,
            Method::Hsic => self.hsic.pooled,
            _ => false,
        };
        if pooled && !["flatten", "mean"].contains(&l.pool.as_str()) {
            return bad(format!(
                "{}.pooled = true (mean pooling) contradicts local.pool = '{}'",
                format!("{:?}", self.method).to_lowercase(),
                l.pool
            ));
        }
        if self.lr_schedule == LrSchedule::Step
            && (self.lr_steps.iter().any(|f| !(0.0..1.0).contains(f))
                || !(self.lr_step_factor > 0.0 && self.lr_step_factor.is_finite()))
        {
            return bad(format!(
                "lr_steps = {:?}, lr_step_factor = {} (fractions in [0, 1) and a positive factor)",
                self.lr_steps, self.lr_step_factor
            ));
        }
        if let Err(e) = crate::objective::parse_eigen_precision(&self.mole.eigen_precision) {
            return refused(e);
        }
        if !["label", "label+input", "label+aggregate"].contains(&self.mole.joint_target.as_str()) {
            return bad(format!(
                "mole.joint_target = '{}' (label, label+input or label+aggregate)",
                self.mole.joint_target
            ));
        }
        if !["both", "right"].contains(&self.hsic.centering.as_str()) {
            return bad(format!(
                "hsic.centering = '{}' (both or right)",
                self.hsic.centering
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_and_wrong_types_name_the_key_and_line() {
        let e = TrainConfig::from_toml("epochs = 3\nepocs = 4\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2") && e.contains("epocs"), "{e}");
        let e = TrainConfig::from_toml("epochs = \"three\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 1"), "{e}");
        let e = TrainConfig::from_toml("[mole]\nalpah = 2\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("alpah"), "{e}");
        let e = TrainConfig::from_toml("method = \"magic\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("magic") || e.contains("unknown variant"), "{e}");
    }

    #[test]
    fn kernel_widths_and_the_label_kernel_are_checked_for_every_method() {
        // The evaluation's measures read mole.sigma_t and sigma_x under every method: a bad
        // value is refused before training, not when the first evaluation starts.
        for method in ["mole", "hsic", "bp", "simpred"] {
            for (text, key) in [
                ("sigma_t = \"bogus\"", "mole.sigma_t"),
                ("sigma_x = \"knn:0\"", "mole.sigma_x"),
                ("sigma_t = \"-1\"", "mole.sigma_t"),
                ("label_kernel = \"gaussian:-1\"", "mole.label_kernel"),
                ("label_kernel = \"gaussian:x\"", "mole.label_kernel"),
                ("label_kernel = \"cosine\"", "mole.label_kernel"),
            ] {
                let toml = format!("method = \"{method}\"\n[mole]\n{text}\n");
                let e = TrainConfig::from_toml(&toml)
                    .and_then(|c| c.validate().map(|_| c))
                    .unwrap_err()
                    .to_string();
                assert!(e.contains(key), "{method}, {text}: {e}");
            }
        }
        let good =
            "[mole]\nsigma_t = \"knn:5\"\nsigma_x = \"1.5\"\nlabel_kernel = \"gaussian:0.5\"\n";
        assert!(TrainConfig::from_toml(good).unwrap().validate().is_ok());
    }

    #[test]
    fn the_hsic_kernel_width_must_be_positive() {
        for text in [
            "[hsic]\nsigma = 0.0\n",
            "[hsic]\nsigma = -2.0\n",
            "[hsic]\nepsilon = -1e-5\n",
        ] {
            let e = TrainConfig::from_toml(text)
                .and_then(|c| c.validate().map(|_| c))
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("hsic.sigma") || e.contains("hsic.epsilon"),
                "{e}"
            );
        }
        assert!(
            TrainConfig::from_toml("[hsic]\nsigma = 5.0\n")
                .unwrap()
                .validate()
                .is_ok()
        );
    }

    #[test]
    fn choosing_the_pipeline_is_for_the_simultaneous_schedule() {
        let ok = TrainConfig::from_toml("method = \"hsic\"\npipeline = \"off\"\n").unwrap();
        assert!(ok.pipeline == PipelineMode::Off && ok.validate().is_ok());
        assert_eq!(TrainConfig::default().pipeline, PipelineMode::Auto);
        let auto = TrainConfig::from_toml("method = \"mole\"\npipeline = \"auto\"\n").unwrap();
        assert!(auto.validate().is_ok());
        for mode in ["on", "off"] {
            let e = TrainConfig::from_toml(&format!("method = \"mole\"\npipeline = \"{mode}\"\n"))
                .and_then(|c| c.validate().map(|_| c))
                .unwrap_err()
                .to_string();
            assert!(
                e.contains(&format!("pipeline = {mode}")) && e.contains("sequential"),
                "{e}"
            );
        }
        assert!(TrainConfig::from_toml("pipeline = true\n").is_err());
    }

    #[test]
    fn defaults_round_trip_and_resolve_per_method() {
        let c = TrainConfig::from_toml("method = \"hsic\"\n[mole]\nalpha = 1.01\n").unwrap();
        assert_eq!(c.schedule(), ScheduleKind::Simultaneous);
        assert_eq!(c.mole.alpha, 1.01);
        let text = toml::to_string(&c).unwrap();
        assert_eq!(TrainConfig::from_toml(&text).unwrap(), c);
        assert_eq!(TrainConfig::default().schedule(), ScheduleKind::Sequential);
    }

    #[test]
    fn cosine_schedule_starts_at_the_base_rate_and_halves_midway() {
        let plan = |schedule| LrPlan {
            schedule,
            ..LrPlan::default()
        };
        let c = plan(LrSchedule::Cosine);
        assert_eq!(c.factor(1, 5), 1.0);
        assert!((c.factor(3, 4) - 0.5).abs() < 1e-12);
        assert!((c.factor(5, 5) - 0.5 * (1.0 + (0.8 * std::f64::consts::PI).cos())).abs() < 1e-12);
        // Strictly decreasing over the epochs, never zero.
        let f: Vec<f64> = (1..=5).map(|e| c.factor(e, 5)).collect();
        assert!(f.windows(2).all(|w| w[1] < w[0]) && f[4] > 0.0, "{f:?}");
        assert_eq!(plan(LrSchedule::Constant).factor(4, 5), 1.0);
        let cfg = TrainConfig::from_toml("lr_schedule = \"constant\"\n").unwrap();
        assert_eq!(cfg.lr_schedule, LrSchedule::Constant);
        assert_eq!(TrainConfig::default().lr_schedule, LrSchedule::Cosine);
        let e = TrainConfig::from_toml("lr_schedule = \"linear\"\n").unwrap_err();
        assert!(
            format!("{e}").contains("line 1") && format!("{e}").contains("`cosine`"),
            "{e}"
        );
    }

    /// Step decay: Nøkland & Eidnes' ×0.25 after 50, 75, 89 and 94 % of 100 epochs.
    #[test]
    fn step_schedule_drops_after_each_listed_fraction() {
        let cfg = TrainConfig::from_toml("lr_schedule = \"step\"\n").unwrap();
        let plan = cfg.lr_plan();
        let f = |e| plan.factor(e, 100);
        assert_eq!(
            [f(1), f(50), f(51), f(75), f(76)],
            [1.0, 1.0, 0.25, 0.25, 0.0625]
        );
        assert_eq!(f(95), 0.25f64.powi(4));
        let bad = TrainConfig::from_toml("lr_schedule = \"step\"\nlr_steps = [1.5]\n").unwrap();
        let e = bad.validate().unwrap_err().to_string();
        assert!(e.contains("lr_steps"), "{e}");
    }

    #[test]
    fn lambda_h_must_lie_below_lambda_y() {
        let c = TrainConfig::from_toml("[mole]\nlambda_h = 0.3\n").unwrap();
        assert!(c.validate().is_ok());
        for text in [
            "lambda_h = 1.0",
            "lambda_h = -0.1",
            "lambda_h = 0.6\nlambda_y = 0.5",
        ] {
            let c = TrainConfig::from_toml(&format!("[mole]\n{text}\n")).unwrap();
            let e = c.validate().unwrap_err().to_string();
            assert!(e.contains("mole.lambda_h") && e.contains("lambda_y"), "{e}");
        }
        let c = TrainConfig::from_toml("[mole]\nmodule_lambda_h = [0.3, 1.2]\n").unwrap();
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("mole.module_lambda_h[1] = 1.2"), "{e}");
        let c = TrainConfig::from_toml("[mole]\nmodule_lambda_x = [0.5, -0.1]\n").unwrap();
        assert!(c.validate().is_ok());
    }

    #[test]
    fn x_nodes_takes_labelled_or_all() {
        let mut c = TrainConfig::from_toml("x_nodes = \"all\"\n").unwrap();
        assert_eq!(c.x_nodes, "all");
        // Without an input term there is nothing for the sampled nodes to score.
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("x_nodes") && e.contains("lambda_x = 0"), "{e}");
        c.mole.lambda_x = 0.5;
        assert!(c.validate().is_ok());
        c.method = Method::Hsic;
        assert!(c.validate().is_ok());
        c.method = Method::Bp;
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("x_nodes") && e.contains("bp"), "{e}");
        c.method = Method::Mole;
        assert_eq!(TrainConfig::default().x_nodes, "labelled");
        c.x_nodes = "unlabelled".into();
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("x_nodes") && e.contains("unlabelled"), "{e}");
    }

    #[test]
    fn module_groups_follow_the_default_rule_unless_given() {
        let mut cfg = TrainConfig::default();
        assert_eq!(cfg.module_groups(3), vec![2, 1]);
        cfg.model = "mlp:8,8,8,8".into();
        assert_eq!(cfg.module_groups(4), vec![2, 1, 1]);
        cfg.model = "mlp:8,8".into();
        assert_eq!(cfg.module_groups(2), vec![1, 1]);
        cfg.group = vec![1, 1];
        assert_eq!(cfg.module_groups(2), vec![1, 1]);
        cfg.group.clear();
        cfg.model = "mlp:256,256,256".into();
        cfg.method = Method::Hsic;
        assert_eq!(cfg.module_groups(3), vec![1, 1, 1]);
        cfg.method = Method::Mole;
        cfg.model = "cnn:8,16,32".into();
        assert_eq!(cfg.module_groups(3), vec![2, 1]);
        cfg.model = "seq:conv(8),maxpool(2),conv(16),maxpool(2),dense(32)".into();
        assert_eq!(cfg.module_groups(3), vec![2, 1]);
        // A layer count that is not the model's (a combined network): one layer per module.
        assert_eq!(cfg.module_groups(5), vec![1; 5]);
    }
}
