//! Training on graph data: node-level tasks (one seeded split of 20 training nodes per class,
//! 500 validation, 1,000 test) and graph-level tasks (stratified k-fold cross-validation, one
//! run directory per fold under `fold_<k>/`, mean and standard deviation in the top
//! `summary.json`).

mod frozen;
mod pipeline;
pub mod source;
pub mod trainer;

pub use source::{GraphSource, GraphStep};
pub use trainer::{GraphRun, train_on_graph};

use crate::config::{ConfigError, Distributed, ScheduleKind, TrainConfig};
use crate::network::{BuildError, Network};
use crate::run::RunDir;
use crate::train::{ModuleSummary, Summary};
use anyhow::Context;
use burn::tensor::Device;
use mole_data::graph::{GraphData, stratified_folds};
use mole_data::{DataError, DataOptions};
use mole_nn::Readout;

/// Training nodes per class of the node split.
pub const TRAIN_PER_CLASS: usize = 20;
/// Validation nodes of the node split.
pub const VALIDATION_NODES: usize = 500;
/// Test nodes of the node split.
pub const TEST_NODES: usize = 1000;

/// Loads the graph dataset a config names.
pub fn load_graph_data(cfg: &TrainConfig) -> Result<GraphData, DataError> {
    let opts = DataOptions {
        data_dir: cfg.data_dir.clone(),
        seed: cfg.seed,
        ..DataOptions::default()
    };
    mole_data::load_graph(&cfg.dataset, &opts)
}

fn readout(cfg: &TrainConfig) -> Readout {
    cfg.readout.parse().unwrap_or_default()
}

fn build(cfg: &TrainConfig, data: &GraphData, device: &Device) -> Result<Network, BuildError> {
    match data {
        GraphData::Nodes(d) => Network::build_graph(cfg, d.dim, d.num_classes, device, None),
        GraphData::Graphs(s) => {
            Network::build_graph(cfg, s.dim, s.num_classes, device, Some(readout(cfg)))
        }
    }
}

/// Checks that the network a config describes can be built for `data`.
pub fn check_graph(cfg: &TrainConfig, data: &GraphData) -> anyhow::Result<()> {
    cfg.validate()?;
    if cfg.schedule() == ScheduleKind::Async && cfg.async_.distributed == Distributed::Mpi {
        return Err(ConfigError::Invalid(
            "async.distributed = \"mpi\" is for vector and image data; graph datasets run the \
             async schedule on threads (distributed = \"local\")"
                .into(),
        )
        .into());
    }
    build(cfg, data, &Device::flex())?;
    Ok(())
}

fn module_summaries(net: &Network, run: &RunDir) -> Vec<ModuleSummary> {
    let metrics = std::fs::read_to_string(run.path.join("metrics.csv")).unwrap_or_default();
    net.modules
        .iter()
        .enumerate()
        .map(|(k, m)| {
            let last: Vec<f64> = metrics
                .lines()
                .rfind(|l| {
                    let c: Vec<&str> = l.split(',').collect();
                    c.len() > 2 && c[1] == "module" && c[2] == (k + 1).to_string()
                })
                .map(|l| {
                    l.split(',')
                        .map(|v| v.parse().unwrap_or(f64::NAN))
                        .collect()
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
        .collect()
}

fn one_run(
    cfg: &TrainConfig,
    source: &GraphSource<'_>,
    data: &GraphData,
    run: &mut RunDir,
    quiet: bool,
) -> anyhow::Result<(GraphRun, Summary)> {
    let seed_device = Device::flex();
    seed_device.seed(cfg.seed);
    let device = seed_device.autodiff();
    let net = build(cfg, data, &device)?;
    let config_text = cfg.to_toml().context("serialising the config")?;
    run.write("config.toml", config_text.as_bytes())
        .context("writing config.toml")?;
    let result = train_on_graph(cfg, source, net, device, run, quiet)?;
    let (train_items, test_items) = source.sizes();
    let summary = Summary {
        dataset: cfg.dataset.clone(),
        method: format!("{:?}", cfg.method).to_lowercase(),
        schedule: format!("{:?}", cfg.schedule()).to_lowercase(),
        model: cfg.model.clone(),
        group: result
            .net
            .modules
            .iter()
            .map(|m| m.stage.blocks.len())
            .collect(),
        seed: cfg.seed,
        epochs: cfg.epochs,
        head_epochs: cfg.head_epochs,
        batch_size: cfg.batch_size,
        lr: cfg.lr(),
        train_samples: train_items,
        test_samples: test_items,
        num_params: result.net.num_params(),
        test_accuracy: result.test_accuracy,
        train_accuracy: result.train_accuracy,
        unformatted_accuracy: None,
        sigma_branches: Vec::new(),
        train_seconds: result.train_seconds,
        samples_per_second: result.items_seen as f64 / result.train_seconds.max(1e-9),
        peak_rss_bytes: result.memory.peak_rss,
        rss_at_start_bytes: result.memory.window.rss_at_start,
        peak_heap_bytes: result.memory.peak_heap,
        heap_at_start_bytes: result.memory.window.heap_at_start,
        modules: module_summaries(&result.net, run),
        test_accuracy_std: None,
        fold_test_accuracies: None,
        seconds_per_epoch: Some(result.train_seconds / result.epochs_run.max(1) as f64),
        val_accuracy: result.kept.as_ref().map(|k| k.val_accuracy),
        kept_epoch: result
            .kept
            .as_ref()
            .map(|k| format!("{} {}", k.stage, k.epoch)),
        pipeline_stages: result.pipeline_stages.clone(),
    };
    let json = serde_json::to_string_pretty(&summary).context("serialising the summary")?;
    run.write("summary.json", json.as_bytes())
        .context("writing summary.json")?;
    Ok((result, summary))
}

/// Splits the training graphs `train` into (training, validation): a stratified, seeded
/// `cfg.val_fraction` of them validates the head's epochs (none when it is 0).
fn hold_out(
    train: &[usize],
    labels: &[usize],
    classes: usize,
    cfg: &TrainConfig,
    fold: usize,
) -> (Vec<usize>, Vec<usize>) {
    if cfg.val_fraction <= 0.0 {
        return (train.to_vec(), Vec::new());
    }
    let of_train: Vec<usize> = train.iter().map(|&g| labels[g]).collect();
    let k = (1.0 / cfg.val_fraction).round().max(2.0) as usize;
    let parts = stratified_folds(&of_train, classes, k, cfg.seed ^ 0x7a1 ^ fold as u64);
    let val: Vec<usize> = parts[0].iter().map(|&i| train[i]).collect();
    let mut rest: Vec<usize> = parts[1..].iter().flatten().map(|&i| train[i]).collect();
    rest.sort_unstable();
    (rest, val)
}

/// Trains on a node-level graph dataset with the given split of its nodes (training nodes
/// are the only labels the objectives see, validation nodes pick the kept epoch, test nodes
/// are only evaluated), writing `summary.json` into `run`: what [`train_graph`] does with the
/// seeded split, for a split chosen elsewhere (e.g. the masks given to the Python package).
///
/// # Errors
/// When `data` is not node-level, or as [`train_graph`].
pub fn train_nodes(
    cfg: &TrainConfig,
    data: &GraphData,
    split: mole_data::graph::NodeSplit,
    run: &mut RunDir,
    quiet: bool,
) -> anyhow::Result<Summary> {
    cfg.validate()?;
    let GraphData::Nodes(d) = data else {
        anyhow::bail!("train_nodes needs node-level data (one graph with labelled nodes)");
    };
    let plain = Device::flex();
    let source = GraphSource::nodes(cfg, d, split.train, split.validation, split.test, &plain);
    Ok(one_run(cfg, &source, data, run, quiet)?.1)
}

/// Trains on a graph dataset: one run on the node split, or `cfg.folds`-fold stratified
/// cross-validation of graphs (fold `k` in `run/fold_<k>/`), writing `summary.json` into `run`.
pub fn train_graph(
    cfg: &TrainConfig,
    data: &GraphData,
    run: &mut RunDir,
    quiet: bool,
) -> anyhow::Result<Summary> {
    cfg.validate()?;
    match data {
        GraphData::Nodes(d) => {
            let split = d.split(TRAIN_PER_CLASS, VALIDATION_NODES, TEST_NODES, cfg.seed);
            train_nodes(cfg, data, split, run, quiet)
        }
        GraphData::Graphs(set) => {
            // The config first, so that a run killed in a fold can be resumed from it.
            let config_text = cfg.to_toml().context("serialising the config")?;
            run.write("config.toml", config_text.as_bytes())
                .context("writing config.toml")?;
            let folds = stratified_folds(&set.labels, set.num_classes, cfg.folds, cfg.seed);
            let mut accs = Vec::new();
            let mut summaries = Vec::new();
            for (f, test) in folds.iter().enumerate() {
                let train: Vec<usize> = folds
                    .iter()
                    .enumerate()
                    .filter(|(g, _)| *g != f)
                    .flat_map(|(_, v)| v.iter().copied())
                    .collect();
                let (train, val) = hold_out(&train, &set.labels, set.num_classes, cfg, f);
                let source = GraphSource::Graphs {
                    data: set,
                    train,
                    val,
                    test: test.clone(),
                    readout: readout(cfg),
                    aggregate: cfg.mole.joint_target == "label+aggregate",
                };
                let mut fold_cfg = cfg.clone();
                let fold_dir = run.path.join(format!("fold_{}", f + 1));
                fold_cfg.out = Some(fold_dir.clone());
                let done = fold_dir.join("summary.json");
                let s = if cfg.resume_snapshot && done.is_file() {
                    // --resume: a fold that finished before is read back, not trained again.
                    let text = std::fs::read_to_string(&done)
                        .with_context(|| format!("reading {}", done.display()))?;
                    serde_json::from_str::<Summary>(&text)
                        .with_context(|| format!("{}: not a fold summary", done.display()))?
                } else {
                    // --resume: the fold that was cut short continues from its snapshot; later
                    // folds start afresh.
                    let resumable =
                        cfg.resume_snapshot && fold_dir.join(crate::snapshot::FILE).is_file();
                    fold_cfg.resume_snapshot = resumable;
                    let mut fold_run = if resumable {
                        let rows = crate::snapshot::read(&fold_dir)?.progress.metrics_rows;
                        RunDir::reopen(&fold_dir, rows)?
                    } else {
                        RunDir::create(&fold_dir)?
                    };
                    one_run(&fold_cfg, &source, data, &mut fold_run, quiet)
                        .with_context(|| format!("fold {}", f + 1))?
                        .1
                };
                if !quiet {
                    eprintln!(
                        "fold {}/{}: test accuracy {:.4}",
                        f + 1,
                        folds.len(),
                        s.test_accuracy
                    );
                }
                accs.push(s.test_accuracy);
                summaries.push(s);
            }
            let n = accs.len() as f64;
            let mean = accs.iter().sum::<f64>() / n;
            let std = (accs.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / n).sqrt();
            let mean_of = |f: fn(&Summary) -> f64| summaries.iter().map(f).sum::<f64>() / n;
            let first = summaries.first().cloned().expect("at least two folds");
            // Memory: the fold whose training added the most, its peak and start together.
            let training = |s: &Summary| match (s.peak_heap_bytes, s.heap_at_start_bytes) {
                (Some(p), Some(a)) => p.saturating_sub(a),
                _ => s.peak_rss_bytes.saturating_sub(s.rss_at_start_bytes),
            };
            let most = summaries
                .iter()
                .max_by_key(|s| training(s))
                .expect("at least two folds");
            let summary = Summary {
                test_accuracy: mean,
                test_accuracy_std: Some(std),
                fold_test_accuracies: Some(accs),
                train_accuracy: mean_of(|s| s.train_accuracy),
                train_seconds: summaries.iter().map(|s| s.train_seconds).sum(),
                samples_per_second: mean_of(|s| s.samples_per_second),
                seconds_per_epoch: Some(mean_of(|s| s.seconds_per_epoch.unwrap_or(f64::NAN))),
                train_samples: set.len(),
                test_samples: set.len(),
                peak_rss_bytes: most.peak_rss_bytes,
                rss_at_start_bytes: most.rss_at_start_bytes,
                peak_heap_bytes: most.peak_heap_bytes,
                heap_at_start_bytes: most.heap_at_start_bytes,
                ..first
            };
            let json = serde_json::to_string_pretty(&summary).context("serialising the summary")?;
            run.write("summary.json", json.as_bytes())
                .context("writing summary.json")?;
            Ok(summary)
        }
    }
}
