//! `mole train`: flags over a TOML config, then `mole_train::train`.

use anyhow::Context;
use clap::Args;
use mole_train::config::{
    BufferPolicy, Distributed, LrSchedule, Method, OptimizerKind, PipelineMode, ScheduleKind,
    TrainConfig,
};
use mole_train::defaults::{Given, Origin};
use mole_train::snapshot::ResumePoint;
use mole_train::{RunDir, Summary};
use std::path::{Path, PathBuf};

/// Flags of `mole train`; each overrides the config file's key of the same name.
#[derive(Args, Debug, Default)]
pub struct TrainArgs {
    /// TOML config file (every key optional; flags override it).
    #[arg(long, conflicts_with = "preset")]
    pub config: Option<PathBuf>,
    /// A shipped recipe (one row of the README's results tables) as the config; flags
    /// override it. `--list-presets` names them.
    #[arg(long)]
    pub preset: Option<String>,
    /// List the shipped presets and exit.
    #[arg(long)]
    pub list_presets: bool,
    /// Print the resolved config (every value and where it came from: flag, file, or which
    /// default rule) and exit without training.
    #[arg(long, visible_alias = "print-config")]
    pub dry_run: bool,
    /// Continue the async run in this directory from its last checkpoint (its config.toml is
    /// the base config; e.g. `--epochs` can extend it).
    #[arg(long, conflicts_with_all = ["config", "out", "preset"])]
    pub resume: Option<PathBuf>,
    /// Dataset: digits (embedded), iris, wine, breast-cancer, mnist, fashion-mnist, cifar10, csv:PATH;
    /// graphs: cora, mutag, linqs:DIR/NAME, tu:DIR.
    #[arg(long)]
    pub dataset: Option<String>,
    /// Folder of the named datasets [default: ../shared/datasets if present, else ./data].
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Model spec: mlp:256,256,256; cnn:32,64 (3x3 conv + 2x2 max-pool per entry); resconv
    /// (the HSIC paper's ResConv; resconv:C,N,D); seq:conv(32,k=5),maxpool(2),res(k=3),dense(128).
    #[arg(long)]
    pub model: Option<String>,
    /// Layers per module, e.g. 1,1,1 (default: one layer per module, except MOLE on an mlp: or
    /// cnn: model of three or more layers: the first module takes the first two layers).
    #[arg(long, value_delimiter = ',')]
    pub group: Option<Vec<usize>>,
    /// Local objective: mole, hsic, simpred (Nøkland & Eidnes' similarity + prediction loss) or
    /// bp (end-to-end backprop baseline).
    #[arg(long, value_parser = parse_method)]
    pub method: Option<Method>,
    /// sequential (MOLE default), simultaneous (HSIC and BP default) or async (one thread per
    /// module and the head, connected by bounded buffers).
    #[arg(long, value_parser = parse_schedule)]
    pub schedule: Option<ScheduleKind>,
    /// simultaneous schedule: auto (default: whichever ran faster on a few batches; in turn
    /// under --profile), on (the modules and the head in one stage per core, overlapping on the
    /// cores; not with dropout) or off (taking turns); the same numbers either way.
    #[arg(long, value_parser = parse_pipeline)]
    pub pipeline: Option<PipelineMode>,
    /// async schedule: buffer policy, block (lossless back-pressure) or replay (never blocks the
    /// sender; the receiver trains on the freshest batch and may reuse one).
    #[arg(long, value_parser = parse_buffer)]
    pub buffer: Option<BufferPolicy>,
    /// async schedule: batches per buffer.
    #[arg(long)]
    pub buffer_size: Option<usize>,
    /// async schedule: `local` (threads) or `mpi` (one group of modules per MPI rank, under
    /// `mpirun -np K`; needs a build with `--features mpi`).
    #[arg(long, value_parser = parse_distributed)]
    pub distributed: Option<Distributed>,
    /// async schedule, replay: times a batch may be trained on.
    #[arg(long)]
    pub max_reuse: Option<usize>,
    /// async schedule: intra-op threads per worker (0: cores / workers, at least 1, the first
    /// worker one more).
    #[arg(long)]
    pub threads_per_module: Option<usize>,
    /// Epochs per module (sequential) or in total (simultaneous).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Epochs of the head on the frozen modules.
    #[arg(long)]
    pub head_epochs: Option<usize>,
    /// Minibatch size (= size of the Gram matrices).
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Learning rate of the modules.
    #[arg(long)]
    pub lr: Option<f64>,
    /// Learning rate of the head.
    #[arg(long)]
    pub head_lr: Option<f64>,
    /// Learning-rate schedule over each learner's epochs: cosine (default) or constant.
    #[arg(long, value_parser = parse_lr_schedule)]
    pub lr_schedule: Option<LrSchedule>,
    /// adam or sgd.
    #[arg(long, value_parser = parse_optimizer)]
    pub optimizer: Option<OptimizerKind>,
    /// Seed of initialisation, shuffling and splits.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Held-out fraction for datasets without a test split.
    #[arg(long)]
    pub test_fraction: Option<f64>,
    /// The label column of a csv:PATH dataset: auto (a header column named label, class,
    /// target or y, else the last column), a column number from 1, or a header name.
    #[arg(long)]
    pub label_column: Option<String>,
    /// Fraction of the training data held out to pick the head's best epoch (0: none, keep the
    /// last epoch) [default: a rule, see README "Defaults"].
    #[arg(long)]
    pub val_fraction: Option<f64>,
    /// Standardise features with training statistics (true/false).
    #[arg(long)]
    pub standardize: Option<bool>,
    /// Hidden activation: relu, tanh, elu, sigmoid, identity.
    #[arg(long)]
    pub activation: Option<String>,
    /// Rényi order α of the MOLE objective.
    #[arg(long)]
    pub alpha: Option<f64>,
    /// Weight of I(T;Y) (MOLE).
    #[arg(long)]
    pub lambda_y: Option<f64>,
    /// Weight of I(T;X) (MOLE; > 0 keeps input information, "encoder-like"; < 0 compresses,
    /// as in the information bottleneck).
    #[arg(long, allow_negative_numbers = true)]
    pub lambda_x: Option<f64>,
    /// Weight of the compression term +λ_h·S_α(T) (MOLE; deterministic information
    /// bottleneck; 0 ≤ λ_h < λ_y; > 0 favours compact class clusters over isolated points).
    #[arg(long)]
    pub lambda_h: Option<f64>,
    /// Per-module λ_x, lowest module first, one value per module (e.g. 0.5,0: the first
    /// module encoder-like); overrides --lambda-x.
    #[arg(long, value_delimiter = ',', allow_negative_numbers = true)]
    pub module_lambda_x: Option<Vec<f64>>,
    /// Per-module λ_h, lowest module first, one value per module (e.g. 0.3,0: compress only
    /// the first module); overrides --lambda-h.
    #[arg(long, value_delimiter = ',')]
    pub module_lambda_h: Option<Vec<f64>>,
    /// Kernel width rule on module outputs (MOLE): a number, scaled:S, silverman, median, knn[:k].
    #[arg(long)]
    pub sigma_t: Option<String>,
    /// Kernel width rule on the input (MOLE).
    #[arg(long)]
    pub sigma_x: Option<String>,
    /// Arithmetic of MOLE's eigendecompositions (α ≠ 2): f32 (faster) or f64.
    #[arg(long)]
    pub eigen_precision: Option<String>,
    /// Project module outputs onto the unit sphere before the kernel (MOLE): true or false.
    #[arg(long)]
    pub unit_sphere: Option<bool>,
    /// β of the HSIC bottleneck.
    #[arg(long)]
    pub beta: Option<f64>,
    /// σ of the HSIC bottleneck's dimension-scaled kernel.
    #[arg(long)]
    pub sigma: Option<f64>,
    /// HSIC σ-combined network: one network per σ, outputs averaged under one format layer
    /// (e.g. 1,5,10; needs --method hsic).
    #[arg(long, value_delimiter = ',')]
    pub sigmas: Option<Vec<f64>>,
    /// Build conv modules' Gram matrices from globally average-pooled maps (MOLE and HSIC):
    /// true or false.
    #[arg(long)]
    pub pooled: Option<bool>,
    /// Train on a seeded class-balanced subset of this many training samples.
    #[arg(long)]
    pub train_samples: Option<usize>,
    /// Evaluate on a seeded class-balanced subset of this many test samples.
    #[arg(long)]
    pub test_samples: Option<usize>,
    /// Random-crop augmentation of training images: zero padding in pixels (0 = off).
    #[arg(long)]
    pub augment_crop: Option<usize>,
    /// Random horizontal-flip augmentation of training images: true or false.
    #[arg(long)]
    pub augment_flip: Option<bool>,
    /// Cutout augmentation of training images: side of the zeroed square (0 = off).
    #[arg(long)]
    pub augment_cutout: Option<usize>,
    /// Share λ of the local prediction term in every module's loss (a linear classifier on the
    /// module output): (1 − λ)·objective/w + λ·cross-entropy, w the weight of the objective's
    /// label term (λ_y, β); 0 = off (default: a rule, see README "Defaults").
    #[arg(long)]
    pub lambda_ce: Option<f64>,
    /// A learned projection between each module and its kernel objective: true or false.
    #[arg(long)]
    pub projection: Option<bool>,
    /// How conv modules' outputs become Gram samples: flatten, mean or std.
    #[arg(long)]
    pub local_pool: Option<String>,
    /// Kernel on module outputs for the local objectives: gaussian, linear or cosine.
    #[arg(long)]
    pub kernel: Option<String>,
    /// Predict with the average of every module's classifier and the head (needs --lambda-ce).
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub ensemble_heads: Option<bool>,
    /// Step schedule: fractions of each learner's epochs after which its rate drops.
    #[arg(long, value_delimiter = ',')]
    pub lr_steps: Option<Vec<f64>>,
    /// Step schedule: the factor of each drop.
    #[arg(long)]
    pub lr_step_factor: Option<f64>,
    /// Run directory [default: runs/<timestamp>].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// L2 weight decay.
    #[arg(long)]
    pub weight_decay: Option<f64>,
    /// Dropout probability on the input of every GNN layer.
    #[arg(long)]
    pub dropout: Option<f64>,
    /// Graph-level tasks: readout of node rows per graph (sum, mean, max).
    #[arg(long)]
    pub readout: Option<String>,
    /// Graph-level tasks: folds of the stratified cross-validation.
    #[arg(long)]
    pub folds: Option<usize>,
    /// Classifier on the last module: linear (default) or gcn (a graph convolution; node-level
    /// graph tasks)
    #[arg(long)]
    pub head: Option<String>,
    /// Node-level tasks: nodes scored by the input terms I(T;X) / nHSIC(T,X): labelled (the
    /// training nodes) or all (a sample of the whole graph every step: semi-supervised).
    #[arg(long)]
    pub x_nodes: Option<String>,
    /// Graph data: evaluate every N epochs (and at the last epoch of each stage).
    #[arg(long)]
    pub eval_every: Option<usize>,
    /// Batch normalisation in every block (true/false).
    #[arg(long)]
    pub batch_norm: Option<bool>,
    /// Graph data, MOLE: label, label+input or label+aggregate (the joint target I(T;{Y,X})).
    #[arg(long)]
    pub joint_target: Option<String>,
    /// Also train backprop on the same architecture and print a comparison (on by default when
    /// `mole train` is given no argument at all).
    #[arg(long)]
    pub baseline: bool,
    /// No progress output.
    #[arg(long)]
    pub quiet: bool,
    /// Time every step's phases (forward, Gram matrices, estimator, backward, optimiser,
    /// evaluation) per module; prints the table and writes `profile.json` to the run directory.
    #[arg(long)]
    pub profile: bool,
    /// Write the report (pictures and report.html, as `mole report`) into each run directory.
    #[arg(long)]
    pub report: bool,
    #[command(flatten)]
    pub tsne: crate::report_cmd::TsneArgs,
}

fn parse_method(s: &str) -> Result<Method, String> {
    match s {
        "mole" => Ok(Method::Mole),
        "hsic" => Ok(Method::Hsic),
        "simpred" => Ok(Method::Simpred),
        "bp" => Ok(Method::Bp),
        _ => Err(format!("unknown method '{s}' (mole, hsic, simpred, bp)")),
    }
}

fn parse_schedule(s: &str) -> Result<ScheduleKind, String> {
    match s {
        "sequential" => Ok(ScheduleKind::Sequential),
        "simultaneous" => Ok(ScheduleKind::Simultaneous),
        "async" => Ok(ScheduleKind::Async),
        _ => Err(format!(
            "unknown schedule '{s}' (sequential, simultaneous, async)"
        )),
    }
}

fn parse_distributed(s: &str) -> Result<Distributed, String> {
    match s {
        "local" => Ok(Distributed::Local),
        "mpi" => Ok(Distributed::Mpi),
        _ => Err(format!("unknown distribution '{s}' (local, mpi)")),
    }
}

fn parse_pipeline(s: &str) -> Result<PipelineMode, String> {
    match s {
        "auto" => Ok(PipelineMode::Auto),
        "on" => Ok(PipelineMode::On),
        "off" => Ok(PipelineMode::Off),
        _ => Err(format!("unknown pipeline mode '{s}' (auto, on, off)")),
    }
}

fn parse_buffer(s: &str) -> Result<BufferPolicy, String> {
    match s {
        "block" => Ok(BufferPolicy::Block),
        "replay" => Ok(BufferPolicy::Replay),
        _ => Err(format!("unknown buffer policy '{s}' (block, replay)")),
    }
}

fn parse_lr_schedule(s: &str) -> Result<LrSchedule, String> {
    match s {
        "cosine" => Ok(LrSchedule::Cosine),
        "constant" => Ok(LrSchedule::Constant),
        "step" => Ok(LrSchedule::Step),
        _ => Err(format!(
            "unknown learning-rate schedule '{s}' (cosine, constant, step)"
        )),
    }
}

fn parse_optimizer(s: &str) -> Result<OptimizerKind, String> {
    match s {
        "adam" => Ok(OptimizerKind::Adam),
        "sgd" => Ok(OptimizerKind::Sgd),
        _ => Err(format!("unknown optimizer '{s}' (adam, sgd)")),
    }
}

impl TrainArgs {
    /// The config file (a preset, a resumed run's `config.toml`, or defaults) with these flags
    /// applied, and the keys the user gave (file or flag); the default rules fill in the rest
    /// once the data is loaded ([`resolve_defaults`]).
    pub fn resolve(&self) -> anyhow::Result<(TrainConfig, Given)> {
        let mut given = Given::new();
        let mut base = |text: &str, origin: Origin| -> anyhow::Result<TrainConfig> {
            for key in mole_train::defaults::keys_of(text) {
                given.insert(key, origin.clone());
            }
            Ok(TrainConfig::from_toml(text)?)
        };
        let mut c = match (&self.config, &self.resume, &self.preset) {
            (_, Some(dir), _) => {
                let path = dir.join("config.toml");
                let text = read_config(&path)?;
                let mut c = base(&text, Origin::File(path.display().to_string()))
                    .map_err(|e| named(&path, e))?;
                c.out = Some(dir.clone());
                c
            }
            (Some(p), None, _) => {
                let text = read_config(p)?;
                base(&text, Origin::File(p.display().to_string())).map_err(|e| named(p, e))?
            }
            (None, None, Some(name)) => {
                let text = crate::presets::text(name)?;
                base(text, Origin::File(format!("preset {name}")))
                    .map_err(|e| named(Path::new(&format!("preset {name}")), e))?
            }
            (None, None, None) => TrainConfig::default(),
        };
        let mut flag = |key: &str| {
            given.insert(key.to_string(), Origin::Flag);
        };
        macro_rules! set {
            ($($flag:ident => $key:literal => $($field:ident).+),* $(,)?) => {$(
                if let Some(v) = &self.$flag { c.$($field).+ = v.clone().into(); flag($key); }
            )*};
        }
        set!(dataset => "dataset" => dataset, model => "model" => model, group => "group" => group,
             method => "method" => method, epochs => "epochs" => epochs,
             head_epochs => "head_epochs" => head_epochs, batch_size => "batch_size" => batch_size,
             optimizer => "optimizer" => optimizer, seed => "seed" => seed,
             test_fraction => "test_fraction" => test_fraction,
             label_column => "label_column" => label_column,
             val_fraction => "val_fraction" => val_fraction,
             activation => "activation" => activation, alpha => "mole.alpha" => mole.alpha,
             lambda_y => "mole.lambda_y" => mole.lambda_y, lambda_x => "mole.lambda_x" => mole.lambda_x,
             lambda_h => "mole.lambda_h" => mole.lambda_h, sigma_t => "mole.sigma_t" => mole.sigma_t,
             sigma_x => "mole.sigma_x" => mole.sigma_x, unit_sphere => "mole.unit_sphere" => mole.unit_sphere,
             eigen_precision => "mole.eigen_precision" => mole.eigen_precision,
             beta => "hsic.beta" => hsic.beta, sigma => "hsic.sigma" => hsic.sigma,
             weight_decay => "weight_decay" => weight_decay, dropout => "dropout" => dropout,
             readout => "readout" => readout, folds => "folds" => folds,
             x_nodes => "x_nodes" => x_nodes, head => "head" => head,
             joint_target => "mole.joint_target" => mole.joint_target,
             eval_every => "eval_every" => eval_every, pipeline => "pipeline" => pipeline, batch_norm => "batch_norm" => batch_norm,
             buffer => "async.buffer" => async_.buffer, buffer_size => "async.buffer_size" => async_.buffer_size,
             max_reuse => "async.max_reuse" => async_.max_reuse,
             threads_per_module => "async.threads_per_module" => async_.threads_per_module,
             distributed => "async.distributed" => async_.distributed,
             module_lambda_x => "mole.module_lambda_x" => mole.module_lambda_x,
             module_lambda_h => "mole.module_lambda_h" => mole.module_lambda_h,
             sigmas => "hsic.sigmas" => hsic.sigmas, augment_crop => "augment.crop" => augment.crop,
             augment_flip => "augment.flip" => augment.flip, lr_schedule => "lr_schedule" => lr_schedule,
             augment_cutout => "augment.cutout" => augment.cutout,
             lambda_ce => "local.lambda_ce" => local.lambda_ce,
             projection => "local.projection" => local.projection,
             local_pool => "local.pool" => local.pool, kernel => "local.kernel" => local.kernel,
             ensemble_heads => "local.ensemble_heads" => local.ensemble_heads,
             lr_steps => "lr_steps" => lr_steps, lr_step_factor => "lr_step_factor" => lr_step_factor);
        if let Some(p) = self.pooled {
            c.mole.pooled = p;
            c.hsic.pooled = p;
            flag("mole.pooled");
            flag("hsic.pooled");
        }
        macro_rules! set_option {
            ($($flag:ident => $key:literal),* $(,)?) => {$(
                if self.$flag.is_some() { c.$flag = self.$flag.clone(); flag($key); }
            )*};
        }
        set_option!(train_samples => "train_samples", test_samples => "test_samples",
                    data_dir => "data_dir", schedule => "schedule", lr => "lr", head_lr => "head_lr",
                    standardize => "standardize", out => "out");
        c.validate()?;
        Ok((c, given))
    }
}

fn read_config(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).map_err(|source| {
        mole_train::config::ConfigError::Io {
            path: path.into(),
            source,
        }
        .into()
    })
}

/// A parse error of a config text, naming its file.
fn named(path: &Path, e: anyhow::Error) -> anyhow::Error {
    match e.downcast::<mole_train::config::ConfigError>() {
        Ok(mole_train::config::ConfigError::Parse { message, .. }) => {
            mole_train::config::ConfigError::Parse {
                path: path.into(),
                message,
            }
            .into()
        }
        Ok(other) => other.into(),
        Err(e) => e,
    }
}

fn run_one(
    cfg: &TrainConfig,
    data: &mole_data::Split,
    quiet: bool,
) -> anyhow::Result<(Summary, PathBuf)> {
    let dir = cfg
        .out
        .clone()
        .unwrap_or_else(|| mole_train::run::default_run_dir(""));
    let mut run = if cfg.resume_epoch > 0 {
        RunDir::resume(&dir, cfg.resume_epoch)?
    } else if cfg.resume_snapshot {
        let point = ResumePoint::of(&dir, !cfg.hsic.sigmas.is_empty())?;
        RunDir::reopen(&dir, point.metrics_rows)?
    } else {
        RunDir::create(&dir)?
    };
    if !quiet {
        eprintln!(
            "training {} on {} ({} train / {} test), model {}, {} schedule -> {}",
            format!("{:?}", cfg.method).to_lowercase(),
            cfg.dataset,
            data.train.len(),
            data.test.len(),
            cfg.model,
            format!("{:?}", cfg.schedule()).to_lowercase(),
            dir.display()
        );
    }
    let summary = mole_train::train(cfg, data, &mut run, quiet)
        .with_context(|| format!("run {}", dir.display()))?;
    Ok((summary, dir))
}

/// The data of a run: rows of vectors/images, or a graph dataset.
enum Data {
    Rows(mole_data::Split),
    Graph(mole_data::GraphData),
}

fn run_graph(
    cfg: &TrainConfig,
    data: &mole_data::GraphData,
    quiet: bool,
) -> anyhow::Result<(Summary, PathBuf)> {
    let dir = cfg
        .out
        .clone()
        .unwrap_or_else(|| mole_train::run::default_run_dir(""));
    // --resume: a node-level run continues in place from its snapshot; a graph-level run's
    // folds are continued one by one (`graph::train_graph`), the top directory holds no rows.
    let node_level = matches!(data, mole_data::GraphData::Nodes(_));
    let mut run = if cfg.resume_snapshot && node_level {
        RunDir::reopen(&dir, ResumePoint::of(&dir, false)?.metrics_rows)?
    } else {
        RunDir::create(&dir)?
    };
    if !quiet {
        eprintln!(
            "training {} on {}, model {}, {} schedule -> {}",
            format!("{:?}", cfg.method).to_lowercase(),
            cfg.dataset,
            cfg.model,
            format!("{:?}", cfg.schedule()).to_lowercase(),
            dir.display()
        );
    }
    let summary = mole_train::graph::train_graph(cfg, data, &mut run, quiet)
        .with_context(|| format!("run {}", dir.display()))?;
    Ok((summary, dir))
}

/// Ctrl-C: the async schedule stops its workers and keeps what was written; the other schedules
/// (and a second Ctrl-C) end the process at once, as without a handler.
fn install_interrupt_handler(graceful: bool) {
    let installed = ctrlc::set_handler(move || {
        let again = mole_train::stop::request_stop();
        if !graceful || again {
            eprintln!("interrupted");
            std::process::exit(130);
        }
        eprintln!("interrupted: stopping the workers (Ctrl-C again to quit at once)");
    });
    if let Err(e) = installed {
        eprintln!("warning: no Ctrl-C handler ({e}); Ctrl-C ends the run at once");
    }
}

/// The epoch of the checkpoints in `dir` for a network of `cfg` on `data`.
fn resume_epoch(cfg: &TrainConfig, data: &mole_data::Split, dir: &Path) -> anyhow::Result<usize> {
    let device = burn::tensor::Device::flex().autodiff();
    let net = mole_train::Network::build(
        cfg,
        &mole_train::train::input_shape(data),
        data.train.num_classes,
        &device,
        None,
    )?;
    Ok(mole_train::resume::checkpoint_epoch(&net, dir)?)
}

/// The data a run loads, before the default rules have seen it.
enum Loaded {
    Rows(mole_data::Split),
    Graph(mole_data::GraphData),
}

/// Loads the data `cfg` names (rows as stored, no validation split yet), fills in the default
/// rules for it and returns the resolved config with the data it trains on.
fn resolve_defaults(mut cfg: TrainConfig, given: &Given) -> anyhow::Result<(TrainConfig, Data)> {
    let loaded = if mole_data::is_graph_dataset(&cfg.dataset) {
        Loaded::Graph(mole_train::graph::load_graph_data(&cfg)?)
    } else {
        Loaded::Rows(mole_train::data::load_rows(&cfg)?)
    };
    let profile = match &loaded {
        Loaded::Rows(d) => mole_train::data::row_profile(d),
        Loaded::Graph(d) => mole_train::data::graph_profile(d, cfg.folds),
    };
    mole_train::defaults::check_kind_keys(&cfg, given, profile.kind)?;
    let provenance = mole_train::defaults::resolve(&mut cfg, given, &profile)?;
    cfg.provenance = Some(provenance);
    cfg.validate()?;
    let data = match loaded {
        Loaded::Rows(d) => {
            let d = mole_train::data::finish_rows(d, &cfg);
            mole_train::train::check(&cfg, &d)?;
            Data::Rows(d)
        }
        Loaded::Graph(d) => {
            // (0, as a resumed run's config.toml records it, is what the split does anyway.)
            if given.contains_key("val_fraction")
                && cfg.val_fraction > 0.0
                && matches!(d, mole_data::GraphData::Nodes(_))
            {
                return Err(mole_train::config::ConfigError::Invalid(
                    "val_fraction: node-level tasks validate on the split's 500 validation \
                     nodes; leave it unset"
                        .into(),
                )
                .into());
            }
            mole_train::graph::check_graph(&cfg, &d)?;
            Data::Graph(d)
        }
    };
    Ok((cfg, data))
}

/// Runs `mole train`. `no_arguments` turns the BP comparison on.
pub fn run(args: &TrainArgs, no_arguments: bool) -> anyhow::Result<()> {
    if args.list_presets {
        crate::presets::print_list();
        return Ok(());
    }
    let (cfg, given) = args.resolve()?;
    if cfg.async_.distributed == Distributed::Mpi {
        // Before MPI starts: a bad config is one line and exit code 2 on every rank.
        cfg.validate()?;
        return crate::mpi_cmd::run(cfg, |cfg| run_resolved(args, cfg, &given, no_arguments));
    }
    run_resolved(args, cfg, &given, no_arguments)
}

/// `mole train` once the flags are read (on rank 0 of an MPI job: the coordinator).
fn run_resolved(
    args: &TrainArgs,
    cfg: TrainConfig,
    given: &Given,
    no_arguments: bool,
) -> anyhow::Result<()> {
    let (mut cfg, data) = resolve_defaults(cfg.clone(), given)?;
    if args.dry_run {
        print!("{}", cfg.to_toml().context("serialising the config")?);
        return Ok(());
    }
    install_interrupt_handler(cfg.schedule() == ScheduleKind::Async);
    if let (Some(dir), Data::Graph(g)) = (&args.resume, &data) {
        cfg.resume_snapshot = true;
        cfg.validate()?;
        if matches!(g, mole_data::GraphData::Nodes(_)) {
            let point = ResumePoint::of(dir, false)?;
            if !args.quiet {
                eprintln!("{}", point.message(dir));
            }
        } else if !args.quiet {
            eprintln!(
                "resuming {}: finished folds are kept, the fold cut short continues",
                dir.display()
            );
        }
    }
    if let (Some(dir), Data::Rows(d)) = (&args.resume, &data) {
        if cfg.schedule() == ScheduleKind::Async {
            cfg.resume_epoch = resume_epoch(&cfg, d, dir)?;
            cfg.validate()?;
            if !args.quiet {
                eprintln!(
                    "resuming {} after epoch {} of {}",
                    dir.display(),
                    cfg.resume_epoch,
                    cfg.epochs
                );
            }
        } else {
            cfg.resume_snapshot = true;
            cfg.validate()?;
            let point = ResumePoint::of(dir, !cfg.hsic.sigmas.is_empty())?;
            if !args.quiet {
                eprintln!("{}", point.message(dir));
            }
        }
    }
    if args.profile {
        mole_info::profile::enable();
    }
    let mut profiles = Vec::new();
    let mut train = |cfg: &TrainConfig, data: &Data| {
        let _ = mole_info::profile::take();
        let t0 = std::time::Instant::now();
        let result = match data {
            Data::Rows(d) => run_one(cfg, d, args.quiet),
            Data::Graph(d) => run_graph(cfg, d, args.quiet),
        }?;
        if args.profile {
            let (wall, entries) = (t0.elapsed().as_secs_f64(), mole_info::profile::take());
            crate::profile_table::write_json(&result.1, &entries, wall)?;
            profiles.push((
                result.0.method.clone(),
                crate::profile_table::table(&entries, wall),
            ));
        }
        anyhow::Ok(result)
    };
    let mut rows = vec![train(&cfg, &data)?];
    if (args.baseline || no_arguments) && cfg.method != Method::Bp && args.resume.is_none() {
        // Backprop on the same architecture: the user's settings and the local run's model,
        // the rest by the rules for backprop.
        let (mut bp, mut bp_given) = args.resolve()?;
        bp.method = Method::Bp;
        bp.schedule = None;
        bp_given.remove("schedule");
        let baseline = || Origin::Rule("--baseline: backprop on the local run's network".into());
        bp_given.insert("method".into(), baseline());
        bp.model = cfg.model.clone();
        bp_given.insert("model".into(), baseline());
        bp.out = Some(match &cfg.out {
            Some(p) => PathBuf::from(format!("{}-bp", p.display())),
            None => mole_train::run::default_run_dir("-bp"),
        });
        bp_given.insert("out".into(), baseline());
        let (bp, bp_data) = resolve_defaults(bp, &bp_given)?;
        rows.push(train(&bp, &bp_data)?);
    }
    for (method, table) in &profiles {
        println!(
            "\nStep profile, {method} (exclusive seconds per phase, share of the run's wall time):\n\n{table}"
        );
    }
    println!("| method | schedule | test accuracy | train s | samples/s | peak RSS MiB |");
    println!("|---|---|---|---|---|---|");
    for (s, _) in &rows {
        let acc = match s.test_accuracy_std {
            Some(std) => format!("{:.4} ± {std:.4}", s.test_accuracy),
            None => format!("{:.4}", s.test_accuracy),
        };
        println!(
            "| {} | {} | {} | {:.1} | {:.0} | {:.0} |",
            s.method,
            s.schedule,
            acc,
            s.train_seconds,
            s.samples_per_second,
            s.peak_rss_bytes as f64 / (1 << 20) as f64
        );
    }
    if args.report {
        for (_, dir) in &rows {
            crate::report_cmd::report_dir(dir, &args.tsne.options(), args.quiet)?;
        }
    }
    Ok(())
}
