//! [`train`]: load data, build the network, run the schedule, write the run directory and
//! return the summary.

use crate::batches::balanced_sample;
use crate::config::{Method, ScheduleKind, TrainConfig};
use crate::evaluate::{self, map_dataset};
use crate::memory::MemoryWindow;
use crate::network::Network;
use crate::run::{RunDir, to_safetensors};
use crate::schedule::{AsyncSchedule, Schedule, SequentialSchedule, SimultaneousSchedule};
use crate::session::Session;
use anyhow::Context;
use burn::tensor::Device;
use mole_data::Split;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// Final numbers of one module.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct ModuleSummary {
    /// 1-based index.
    pub index: usize,
    /// Number of layers (blocks).
    pub layers: usize,
    /// Objective name.
    pub objective: String,
    /// Steps taken.
    pub steps: u64,
    /// Mean loss of its last epoch.
    pub loss: f64,
    /// I_α(T;X) of its output on the evaluation batch, bits.
    pub i_tx: f64,
    /// I_α(T;Y), bits.
    pub i_ty: f64,
    /// nHSIC(T,X).
    pub nhsic_tx: f64,
    /// nHSIC(T,Y).
    pub nhsic_ty: f64,
}

/// What `summary.json` holds.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct Summary {
    /// Dataset name.
    pub dataset: String,
    /// `mole`, `hsic` or `bp`.
    pub method: String,
    /// Schedule name.
    pub schedule: String,
    /// Model spec.
    pub model: String,
    /// Layers per module.
    pub group: Vec<usize>,
    /// Seed.
    pub seed: u64,
    /// Epochs per module (sequential) or in total.
    pub epochs: usize,
    /// Head epochs.
    pub head_epochs: usize,
    /// Batch size.
    pub batch_size: usize,
    /// Module learning rate.
    pub lr: f64,
    /// Training samples.
    pub train_samples: usize,
    /// Test samples.
    pub test_samples: usize,
    /// Parameters.
    pub num_params: usize,
    /// Head accuracy on the test set, 0..1.
    pub test_accuracy: f64,
    /// Head accuracy on a class-balanced training subset (≤ 5,000 samples), 0..1.
    pub train_accuracy: f64,
    /// Class-balanced permutation accuracy of the last module's output on the test set, with
    /// the class → unit assignment derived from training data (when its width equals the number
    /// of classes), else null.
    pub unformatted_accuracy: Option<f64>,
    /// Seconds spent training (evaluation excluded).
    pub train_seconds: f64,
    /// Training samples through the network per second of training.
    pub samples_per_second: f64,
    /// Peak resident memory of the process during training, bytes (from the start of the
    /// schedule to its end; the final evaluation and the embeddings come after).
    pub peak_rss_bytes: u64,
    /// Resident memory when training started (data, network), bytes: training's own resident
    /// peak is `peak_rss_bytes − rss_at_start_bytes`.
    pub rss_at_start_bytes: u64,
    /// Peak live heap during training, bytes (counted by the `mole` binary's allocator; null
    /// where it is not installed). Unlike the resident size it does not include freed memory
    /// that the allocator keeps.
    pub peak_heap_bytes: Option<u64>,
    /// Live heap when training started, bytes: training's own heap peak is
    /// `peak_heap_bytes − heap_at_start_bytes` (activations, Gram matrices, optimiser state).
    pub heap_at_start_bytes: Option<u64>,
    /// Per-module results.
    pub modules: Vec<ModuleSummary>,
    /// σ-combined network: every branch's σ and its own test accuracy (its run directory is
    /// `sigma_<σ>/`); empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sigma_branches: Vec<BranchSummary>,
    /// Cross-validation: population standard deviation of the folds' test accuracies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_accuracy_std: Option<f64>,
    /// Cross-validation: test accuracy of every fold (`test_accuracy` is their mean).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fold_test_accuracies: Option<Vec<f64>>,
    /// Graph data: seconds of training per epoch (module, head and backprop epochs alike).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds_per_epoch: Option<f64>,
    /// Validation accuracy of the kept epoch (absent without validation data); the test
    /// accuracy above is that epoch's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub val_accuracy: Option<f64>,
    /// The epoch validation chose, e.g. `head 7` (its weights are in `weights/kept/`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept_epoch: Option<String>,
    /// Simultaneous schedule run as a pipeline (`pipeline`): the learners (modules, then the
    /// head) of each stage, each stage on its own thread; absent when they took turns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline_stages: Option<Vec<usize>>,
}

/// One branch of a σ-combined network.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct BranchSummary {
    /// Kernel width σ of its HSIC objective.
    pub sigma: f64,
    /// Test accuracy of the branch with its own format layer.
    pub test_accuracy: f64,
    /// Its training seconds.
    pub train_seconds: f64,
}

pub use crate::data::load_data;

/// Checks that the network a config describes can be built for `data` (model spec, grouping,
/// objective settings), without creating anything on disk.
pub fn check(cfg: &TrainConfig, data: &Split) -> anyhow::Result<()> {
    cfg.validate()?;
    Network::build(
        cfg,
        &input_shape(data),
        data.train.num_classes,
        &Device::flex(),
        None,
    )?;
    Ok(())
}

/// The row shape of a dataset's samples as the network sees them.
pub fn input_shape(split: &Split) -> Vec<usize> {
    match split.train.shape {
        mole_data::SampleShape::Vector(d) => vec![d],
        mole_data::SampleShape::Image {
            channels,
            height,
            width,
        } => vec![channels, height, width],
    }
}

/// Trains as `cfg` says on `data`, writing into `run`. `quiet` silences progress output.
///
/// With `method = hsic` and several `hsic.sigmas`, trains the σ-combined network: one network
/// per σ (each into `sigma_<σ>/` of the run directory), then a single format layer (the head) on
/// the average of their outputs, `h(x) = (1/S) Σ_σ f_σ(x)`.
pub fn train(
    cfg: &TrainConfig,
    data: &Split,
    run: &mut RunDir,
    quiet: bool,
) -> anyhow::Result<Summary> {
    train_with(cfg, data, run, quiet, None)
}

/// [`train`] with a given schedule instead of the one `cfg` names (e.g. an
/// [`AsyncSchedule`] with a test hook).
pub fn train_with(
    cfg: &TrainConfig,
    data: &Split,
    run: &mut RunDir,
    quiet: bool,
    schedule: Option<Box<dyn Schedule>>,
) -> anyhow::Result<Summary> {
    cfg.validate()?;
    let seed_device = Device::flex();
    seed_device.seed(cfg.seed);
    let device = seed_device.autodiff();
    let config_text = cfg.to_toml().context("serialising the config")?;
    run.write("config.toml", config_text.as_bytes())
        .context("writing config.toml")?;
    if cfg.method == Method::Hsic && !cfg.hsic.sigmas.is_empty() {
        return train_sigma_combined(cfg, data, run, quiet, device);
    }
    let net = Network::build(
        cfg,
        &input_shape(data),
        data.train.num_classes,
        &device,
        None,
    )?;
    // --resume: the checkpoints of the last finished epoch replace the initial weights.
    let net = if cfg.resume_epoch > 0 {
        crate::resume::load_checkpoints(net, &run.path)?
    } else {
        net
    };
    let (summary, _) = fit(cfg, cfg, data, run, quiet, device, net, schedule)?;
    Ok(summary)
}

/// A σ-combined branch's run directory: reopened to continue from its snapshot when `resume`
/// and it has one (`metrics.csv` cut back to the snapshot's rows), else created afresh (a
/// branch the killed run had not reached, or had not finished an epoch of); and whether it
/// continues.
fn open_branch(dir: &Path, resume: bool) -> anyhow::Result<(RunDir, bool)> {
    if resume && crate::snapshot::exists(dir) {
        let rows = crate::snapshot::read(dir)?.progress.metrics_rows;
        Ok((RunDir::reopen(dir, rows)?, true))
    } else {
        Ok((RunDir::create(dir)?, false))
    }
}

/// The σ-combined HSIC network: branches trained one after the other, then the head alone. A
/// resumed run continues each branch from its own snapshot (a finished branch redoes the
/// epochs after its last snapshot, to the same weights) and the head from the run's.
fn train_sigma_combined(
    cfg: &TrainConfig,
    data: &Split,
    run: &mut RunDir,
    quiet: bool,
    device: Device,
) -> anyhow::Result<Summary> {
    let mut branches = Vec::new();
    let mut reports = Vec::new();
    let mut seconds = 0.0;
    let mut samples = 0.0;
    let mut shape = Vec::new();
    for &sigma in &cfg.hsic.sigmas {
        let mut c = cfg.clone();
        c.hsic.sigmas.clear();
        c.hsic.sigma = sigma;
        if c.schedule() == ScheduleKind::Simultaneous {
            // The format layer trains with the modules; extra head epochs are for the ensemble.
            c.head_epochs = 0;
        }
        let dir = run.path.join(format!("sigma_{sigma}"));
        c.out = Some(dir.clone());
        let (mut sub, resumed) = open_branch(&dir, cfg.resume_snapshot)?;
        c.resume_snapshot = resumed;
        sub.write(
            "config.toml",
            c.to_toml().context("serialising the config")?.as_bytes(),
        )
        .context("writing config.toml")?;
        if !quiet {
            eprintln!(
                "sigma-combined: branch sigma = {sigma} -> {}",
                dir.display()
            );
        }
        let net = Network::build(
            &c,
            &input_shape(data),
            data.train.num_classes,
            &device,
            Some(sigma),
        )?;
        let (s, net) = fit(&c, &c, data, &mut sub, quiet, device.clone(), net, None)?;
        seconds += s.train_seconds;
        samples += s.samples_per_second * s.train_seconds;
        reports.push(BranchSummary {
            sigma,
            test_accuracy: s.test_accuracy,
            train_seconds: s.train_seconds,
        });
        shape = net.output_shapes.last().cloned().unwrap_or_default();
        branches.push(mole_nn::Branch {
            blocks: net
                .modules
                .into_iter()
                .flat_map(|m| m.stage.blocks)
                .collect(),
        });
    }
    let net = Network::combined(cfg, branches, shape, data.train.num_classes, &device);
    // The branches are frozen: only the head (the format layer) trains on the averaged output.
    let head_only = TrainConfig {
        epochs: 0,
        schedule: Some(ScheduleKind::Sequential),
        resume_snapshot: cfg.resume_snapshot && crate::snapshot::exists(&run.path),
        ..cfg.clone()
    };
    if !quiet {
        eprintln!(
            "sigma-combined: format layer on the average of {} branches",
            reports.len()
        );
    }
    let (mut summary, _) = fit(&head_only, cfg, data, run, quiet, device, net, None)?;
    summary.samples_per_second = (samples + summary.samples_per_second * summary.train_seconds)
        / (seconds + summary.train_seconds).max(1e-9);
    summary.train_seconds += seconds;
    summary.sigma_branches = reports;
    let json = serde_json::to_string_pretty(&summary).context("serialising the summary")?;
    run.write("summary.json", json.as_bytes())
        .context("writing summary.json")?;
    Ok(summary)
}

/// Runs the schedule `cfg` asks for on `net`, then writes embeddings and `summary.json`
/// (describing the run as `report` says) and returns the summary and the trained network.
// Private, called from three places; a parameter struct would only rename the arguments.
#[allow(clippy::too_many_arguments)]
fn fit(
    cfg: &TrainConfig,
    report: &TrainConfig,
    data: &Split,
    run: &mut RunDir,
    quiet: bool,
    device: Device,
    net: Network,
    schedule: Option<Box<dyn Schedule>>,
) -> anyhow::Result<(Summary, Network)> {
    let schedule: Box<dyn Schedule> = schedule.unwrap_or_else(|| match cfg.schedule() {
        ScheduleKind::Sequential => Box::new(SequentialSchedule),
        ScheduleKind::Simultaneous => Box::new(SimultaneousSchedule),
        ScheduleKind::Async => Box::new(AsyncSchedule::default()),
    });
    let mut session = Session::new(cfg, data, device, net, run, quiet)?;
    if cfg.schedule() != ScheduleKind::Async {
        session.snapshots = true;
        if cfg.resume_snapshot {
            let snap = crate::snapshot::read(&session.run.path)?;
            session.resume_from(snap)?;
        }
    }
    let window = MemoryWindow::start();
    schedule.run(&mut session)?;
    let memory = window.end();
    let kept = session.keep_best()?;
    let train_seconds = session.train_seconds();
    let samples_seen = session.samples_seen;
    let (train_accuracy, test_accuracy) = session.last_accuracy;
    let plain = session.plain_device();
    let net = &session.net;

    // Final per-module dependence, from the metrics rows of each module's last epoch.
    let metrics = std::fs::read_to_string(session.run.path.join("metrics.csv")).unwrap_or_default();
    let modules = net
        .modules
        .iter()
        .enumerate()
        .map(|(k, m)| {
            let last = metrics
                .lines()
                .rfind(|l| {
                    let c: Vec<&str> = l.split(',').collect();
                    c.len() > 2 && c[1] == "module" && c[2] == (k + 1).to_string()
                })
                .map(|l| {
                    l.split(',')
                        .map(|v| v.parse::<f64>().unwrap_or(f64::NAN))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default();
            let get = |i: usize| last.get(i).copied().unwrap_or(f64::NAN);
            ModuleSummary {
                index: k + 1,
                layers: m.stage.blocks.len(),
                objective: m.objective.name().to_string(),
                steps: m.steps,
                loss: get(4),
                i_tx: get(5),
                i_ty: get(6),
                nhsic_tx: get(7),
                nhsic_ty: get(8),
            }
        })
        .collect();

    // Unformatted accuracy when the last module has one unit per class.
    let classes = data.train.num_classes;
    let last_width: usize = net
        .output_shapes
        .last()
        .map(|s| s.iter().product())
        .unwrap_or(0);
    let unformatted_accuracy = (cfg.method != Method::Bp && last_width == classes).then(|| {
        let k = net.modules.len();
        let (train_out, w) = map_dataset(&data.train, &plain, |x| net.forward_to(x, k).flat());
        let assign = evaluate::greedy_assignment(&train_out, w, &data.train.labels, classes);
        let (test_out, w) = map_dataset(&data.test, &plain, |x| net.forward_to(x, k).flat());
        evaluate::permutation_accuracy(&test_out, w, &data.test.labels, classes, Some(&assign)).0
    });

    // Embeddings of a class-balanced test sample, for t-SNE pictures.
    let idx = balanced_sample(&data.test, cfg.embedding_samples, cfg.seed);
    if !idx.is_empty() {
        let sample = data.test.subset(&idx);
        let x = crate::batches::features(&sample, &(0..sample.len()).collect::<Vec<_>>(), &plain);
        let mut tensors = Vec::new();
        let flat = crate::batches::to_host::<2>;
        let (s, v) = flat(x.clone().flat());
        tensors.push(("input".to_string(), s, v));
        let mut h = x;
        for (k, m) in net.modules.iter().enumerate() {
            h = m.forward(h);
            let (s, v) = flat(h.clone().flat());
            tensors.push((format!("module_{}", k + 1), s, v));
        }
        let (s, v) = flat(net.predict(crate::batches::features(
            &sample,
            &(0..sample.len()).collect::<Vec<_>>(),
            &plain,
        )));
        tensors.push(("logits".to_string(), s, v));
        let n = sample.len();
        tensors.push((
            "labels".to_string(),
            vec![n],
            sample.labels.iter().map(|&l| l as f32).collect(),
        ));
        let mut meta = BTreeMap::new();
        meta.insert("dataset".into(), cfg.dataset.clone());
        meta.insert("method".into(), format!("{:?}", cfg.method).to_lowercase());
        session
            .run
            .write("embeddings.safetensors", &to_safetensors(&tensors, meta))
            .context("writing embeddings.safetensors")?;
    }

    let summary = Summary {
        dataset: report.dataset.clone(),
        method: format!("{:?}", report.method).to_lowercase(),
        schedule: format!("{:?}", report.schedule()).to_lowercase(),
        model: report.model.clone(),
        group: net.modules.iter().map(|m| m.stage.blocks.len()).collect(),
        seed: report.seed,
        epochs: report.epochs,
        head_epochs: report.head_epochs,
        batch_size: report.batch_size,
        lr: report.lr(),
        train_samples: data.train.len(),
        test_samples: data.test.len(),
        num_params: net.num_params(),
        test_accuracy,
        train_accuracy,
        unformatted_accuracy,
        train_seconds,
        samples_per_second: samples_seen as f64 / train_seconds.max(1e-9),
        peak_rss_bytes: memory.peak_rss,
        rss_at_start_bytes: memory.window.rss_at_start,
        peak_heap_bytes: memory.peak_heap,
        heap_at_start_bytes: memory.window.heap_at_start,
        modules,
        sigma_branches: Vec::new(),
        test_accuracy_std: None,
        fold_test_accuracies: None,
        seconds_per_epoch: None,
        val_accuracy: kept.as_ref().map(|k| k.val_accuracy),
        kept_epoch: kept.as_ref().map(|k| format!("{} {}", k.stage, k.epoch)),
        pipeline_stages: session.pipeline_stages.clone(),
    };
    let json = serde_json::to_string_pretty(&summary).context("serialising the summary")?;
    session
        .run
        .write("summary.json", json.as_bytes())
        .context("writing summary.json")?;
    Ok((summary, session.into_network()))
}
