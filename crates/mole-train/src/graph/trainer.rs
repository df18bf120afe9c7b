//! The schedules on graph data: sequential (module by module, then the head) and simultaneous
//! (every module one step per batch), with end-of-epoch evaluation on the test nodes / graphs,
//! metrics rows and checkpoints. Same semantics as `crate::schedule` on vector data.

use super::frozen::FrozenNodes;
use super::source::{GraphSource, GraphStep};
use crate::config::{ScheduleKind, TrainConfig};
use crate::evaluate::EvalBatch;
use crate::module::{LocalModule, Stage, make_optimizer};
use crate::network::Network;
use crate::objective::{Objective, TargetView};
use crate::run::{MetricRow, RunDir};
use crate::schedule::pipeline_plan::PipelinePlan;
use crate::schedule::stages::{StageFeed, StagePools};
use crate::session::{PlainDevice, Trained, checkpoint};
use anyhow::Context;
use burn::tensor::Device;
use mole_data::{Dataset, SampleShape};
use mole_info::profile::{self, Phase};
use mole_nn::Features;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

/// What one graph training run ends with.
pub struct GraphRun {
    /// The trained network.
    pub net: Network,
    /// Head accuracy on the test items.
    pub test_accuracy: f64,
    /// Head accuracy on the training items.
    pub train_accuracy: f64,
    /// Seconds of training (evaluation excluded).
    pub train_seconds: f64,
    /// Epochs run (all modules and the head).
    pub epochs_run: usize,
    /// Labelled items through the first trained stage.
    pub items_seen: u64,
    /// Memory of the training window (schedule only, not the embeddings written after it).
    pub memory: crate::memory::MemoryUse,
    /// The epoch the validation items chose (its weights are the ones in `net`).
    pub kept: Option<crate::early_stop::KeptEpoch>,
    /// Learners per stage when the simultaneous schedule ran as a pipeline.
    pub pipeline_stages: Option<Vec<usize>>,
}

struct State<'a> {
    cfg: &'a TrainConfig,
    source: &'a GraphSource<'a>,
    device: Device,
    run: &'a mut RunDir,
    quiet: bool,
    net: Network,
    losses: BTreeMap<usize, (f64, usize)>,
    head_trained: bool,
    start: Instant,
    eval_seconds: f64,
    test: GraphStep,
    train: GraphStep,
    val: Option<GraphStep>,
    keep: crate::early_stop::KeepBest,
    eval: EvalBatch,
    eval_view: Option<TargetView>,
    last: (f64, f64),
    /// Epochs begun (the dropout round; reseeds the device at each epoch).
    round: u64,
    /// Epochs finished over every stage.
    epochs_done: usize,
    /// Epochs finished before a resume: skipped.
    resume_at: usize,
    pipeline_stages: Option<Vec<usize>>,
    /// The frozen modules' outputs for the learner above them (sequential schedule, head epochs).
    frozen: Option<FrozenNodes>,
    /// Whether an epoch's end writes a snapshot.
    snapshot_pacer: crate::snapshot::SnapshotPacer,
}

/// Accuracy of the network's class scores on an evaluation step.
fn accuracy(net: &Network, step: &GraphStep) -> f64 {
    accuracy_and_loss(net, step).0
}

/// Accuracy and mean cross-entropy of the network's class scores on an evaluation step.
fn accuracy_and_loss(net: &Network, step: &GraphStep) -> (f64, f64) {
    let logits = net.predict_graph(step.input.clone(), Some(&step.graph));
    let logits = match &step.head_target.view {
        Some(view) => view.apply(logits),
        None => logits,
    };
    let c = logits.dims()[1];
    let (_, values) = crate::batches::to_host(logits);
    crate::evaluate::scores_accuracy_and_loss(&values, c, &step.head_target.labels)
}

impl State<'_> {
    /// Starts an epoch: `false` when a resumed run finished it before (skip it); otherwise
    /// reseeds the device from the seed and the epoch's position, so that the dropout masks of
    /// an epoch do not depend on whether the run was resumed.
    fn begin(&mut self) -> bool {
        if self.epochs_done < self.resume_at {
            self.epochs_done += 1;
            return false;
        }
        self.round += 1;
        self.device
            .seed(self.cfg.seed ^ self.round.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        true
    }

    fn totals(&self) -> crate::snapshot::Totals {
        crate::snapshot::Totals {
            epochs_done: self.epochs_done,
            round: self.round,
            samples_seen: 0,
            head_trained: self.head_trained,
            seconds: [self.start.elapsed().as_secs_f64(), self.eval_seconds],
            last_accuracy: self.last,
            losses: self.losses.clone(),
        }
    }

    /// Continues from the snapshot in the run directory.
    fn resume(&mut self) -> anyhow::Result<()> {
        let snap = crate::snapshot::read(&self.run.path)?;
        let (t, keep) = crate::snapshot::restore(self.cfg, &mut self.net, snap)?;
        self.keep = keep;
        self.resume_at = t.epochs_done;
        self.round = t.round;
        self.head_trained = t.head_trained;
        let [elapsed, eval] = t.seconds;
        self.start = Instant::now() - std::time::Duration::from_secs_f64(elapsed.max(0.0));
        self.eval_seconds = eval;
        self.last = t.last_accuracy;
        self.losses = t.losses;
        Ok(())
    }

    fn target_for(&self, k: usize, step: &GraphStep) -> crate::objective::Target {
        match self.net.learner(k).objective {
            Objective::CrossEntropy => step.head_target.clone(),
            _ => step.module_target.clone(),
        }
    }

    fn record(&mut self, k: usize, loss: f64) {
        let e = self.losses.entry(k).or_insert((0.0, 0));
        e.0 += loss;
        e.1 += 1;
        if k == self.net.modules.len() || self.net.head.is_none() {
            self.head_trained = true;
        }
    }

    /// Evaluation and metrics after an epoch; its memory does not count in the training peak.
    fn end_epoch(&mut self, trained: Trained, epoch: usize, epochs: usize) -> anyhow::Result<()> {
        crate::memory::excluded(|| {
            {
                let _phase = profile::scope(Phase::Evaluation);
                self.evaluate_epoch(trained, epoch, epochs)?;
            }
            self.epochs_done += 1;
            // `weights/snapshot.safetensors`, paced; on the async schedule only after the
            // evaluated epochs, the only ones whose end reaches here with the workers' states.
            if self.snapshot_pacer.due() {
                let _phase = profile::scope(Phase::Bookkeeping);
                let t0 = Instant::now();
                let snap = crate::snapshot::capture(
                    self.cfg,
                    &self.net,
                    self.run,
                    &self.totals(),
                    &self.keep,
                )?;
                crate::snapshot::write(self.run, &snap)?;
                self.snapshot_pacer.wrote(t0);
            }
            Ok(())
        })
    }

    fn evaluate_epoch(
        &mut self,
        trained: Trained,
        epoch: usize,
        epochs: usize,
    ) -> anyhow::Result<()> {
        // Between evaluations the losses keep accumulating: a row's loss is the mean since the
        // last row.
        if epoch != epochs && !epoch.is_multiple_of(self.cfg.eval_every.max(1)) {
            return Ok(());
        }
        let t0 = Instant::now();
        let k_modules = self.net.modules.len();
        let (train_acc, test_acc) = if self.head_trained {
            (
                accuracy(&self.net, &self.train),
                accuracy(&self.net, &self.test),
            )
        } else {
            (f64::NAN, f64::NAN)
        };
        self.last = (train_acc, test_acc);
        let val = match (&self.val, self.head_trained) {
            (Some(v), true) => accuracy_and_loss(&self.net, v),
            _ => (f64::NAN, f64::NAN),
        };
        self.keep.offer(
            &self.net,
            trained.label(),
            epoch,
            val,
            (train_acc, test_acc),
        );
        let seconds = self.start.elapsed().as_secs_f64();
        let measured: Vec<usize> = match trained {
            Trained::Module(k) => vec![k],
            Trained::All => (0..k_modules).collect(),
            Trained::Head => vec![],
        };
        let mut rows = Vec::new();
        if !measured.is_empty() {
            let outputs = self
                .net
                .layer_outputs_graph(self.test.input.clone(), Some(&self.test.graph));
            for (layer, (k, t)) in outputs.into_iter().enumerate() {
                if !measured.contains(&k) {
                    continue;
                }
                let t = t.flat();
                let t = match &self.eval_view {
                    Some(v) => v.apply(t),
                    None => t,
                };
                let loss = self
                    .losses
                    .get(&k)
                    .map(|(s, n)| s / *n as f64)
                    .unwrap_or(f64::NAN);
                rows.push(MetricRow {
                    epoch,
                    stage: "module",
                    module: k + 1,
                    layer: layer + 1,
                    loss,
                    dependence: Some(self.eval.dependence(Features::Flat(t))),
                    train_accuracy: train_acc,
                    test_accuracy: test_acc,
                    seconds,
                    val_accuracy: val.0,
                });
            }
        }
        if self.net.head.is_some() && matches!(trained, Trained::Head | Trained::All) {
            let loss = self
                .losses
                .get(&k_modules)
                .map(|(s, n)| s / *n as f64)
                .unwrap_or(f64::NAN);
            rows.push(MetricRow {
                epoch,
                stage: "head",
                module: k_modules + 1,
                layer: 0,
                loss,
                dependence: None,
                train_accuracy: train_acc,
                test_accuracy: test_acc,
                seconds,
                val_accuracy: val.0,
            });
        }
        for r in &rows {
            self.run.append(r).context("writing metrics.csv")?;
        }
        if !self.quiet && (epoch == epochs || epoch.is_multiple_of(10)) {
            let what = match trained {
                Trained::Module(k) => self.net.modules[k].name.clone(),
                Trained::All => "all modules".into(),
                Trained::Head => "head".into(),
            };
            let mut line = format!("{what} epoch {epoch}/{epochs}");
            for r in rows.iter().filter(|r| r.stage == "module") {
                if let Some(d) = &r.dependence {
                    line += &format!(" | L{} loss {:.4} I(T;Y) {:.3}", r.layer, r.loss, d.i_ty);
                }
            }
            if !val.0.is_nan() {
                line += &format!(" | val acc {:.4}", val.0);
            }
            if !test_acc.is_nan() {
                line += &format!(" | test acc {test_acc:.4}");
            }
            eprintln!("{line}");
        }
        self.losses.clear();
        if epoch == epochs {
            checkpoint(self.run, &self.net, trained, epoch)?;
        }
        self.eval_seconds += t0.elapsed().as_secs_f64();
        Ok(())
    }

    fn sequential(&mut self) -> anyhow::Result<usize> {
        let cfg = self.cfg;
        let modules = self.net.modules.len();
        let mut epochs_run = 0;
        for k in 0..=modules {
            let is_head = k == modules;
            if is_head && self.net.head.is_none() {
                break;
            }
            let epochs = if is_head { cfg.head_epochs } else { cfg.epochs };
            for epoch in 1..=epochs {
                epochs_run += 1;
                if !self.begin() {
                    continue;
                }
                self.net.learner_mut(k).begin_epoch(epoch, epochs);
                for step in self.epoch_steps(k, cfg.seed + k as u64, epoch) {
                    crate::stop::check()?;
                    let x = self.frozen_input(k, &step);
                    let target = self.target_for(k, &step);
                    let (_, diag) =
                        self.net
                            .learner_mut(k)
                            .step_graph(x, Some(&step.graph), &target)?;
                    self.record(k, diag["loss"]);
                }
                let trained = if is_head {
                    Trained::Head
                } else {
                    Trained::Module(k)
                };
                self.end_epoch(trained, epoch, epochs)?;
            }
            if !is_head {
                self.net.modules[k].freeze(cfg);
            }
        }
        Ok(epochs_run)
    }

    fn simultaneous(&mut self) -> anyhow::Result<usize> {
        let cfg = self.cfg;
        let learners = self.net.modules.len() + usize::from(self.net.head.is_some());
        let mut plan = PipelinePlan::new(learners, cfg.pipeline, cfg.dropout);
        for epoch in 1..=cfg.epochs {
            if !self.begin() {
                continue;
            }
            for m in self.net.modules.iter_mut().chain(self.net.head.as_mut()) {
                m.begin_epoch(epoch, cfg.epochs);
            }
            // As on vector data (`schedule::simultaneous`): runs of steps in turn or through
            // the pipeline, as the plan decides.
            let steps = self.epoch_steps(0, cfg.seed, epoch);
            plan.run_epoch(steps, |pools, chunk| match pools {
                Some(pools) => {
                    self.pipelined_steps(pools, chunk.into_iter())?;
                    Ok(None)
                }
                None => {
                    let mut costs = Vec::new();
                    for step in &chunk {
                        costs = self.step_in_turn(step)?;
                    }
                    Ok(Some(costs))
                }
            })?;
            self.pipeline_stages = plan.stages();
            self.end_epoch(Trained::All, epoch, cfg.epochs)?;
        }
        Ok(cfg.epochs + self.head_epochs()?)
    }

    /// One step of every learner in turn on the calling thread; the seconds each took.
    fn step_in_turn(&mut self, step: &GraphStep) -> anyhow::Result<Vec<f64>> {
        crate::stop::check()?;
        let modules = self.net.modules.len();
        let mut seconds = Vec::with_capacity(modules + 1);
        let mut x = step.input.clone();
        for k in 0..modules {
            let target = self.target_for(k, step);
            let start = Instant::now();
            let (out, diag) = self.net.modules[k].step_graph(x, Some(&step.graph), &target)?;
            seconds.push(start.elapsed().as_secs_f64());
            self.record(k, diag["loss"]);
            x = out;
        }
        if self.net.head.is_some() {
            let target = self.target_for(modules, step);
            let head = self.net.head.as_mut().expect("head");
            let start = Instant::now();
            let (_, diag) = head.step_graph(x, Some(&step.graph), &target)?;
            seconds.push(start.elapsed().as_secs_f64());
            self.record(modules, diag["loss"]);
        }
        Ok(seconds)
    }

    /// `steps` through the learners as a pipeline of `pools`' stages ([`StagePools`]); the same
    /// numbers as [`State::step_in_turn`] on each.
    fn pipelined_steps(
        &mut self,
        pools: &StagePools,
        steps: std::vec::IntoIter<GraphStep>,
    ) -> anyhow::Result<()> {
        // The learners leave the network for the epoch (the feed records into `self`) and always
        // come back; meanwhile `record` counts every loss as the head's, which in this schedule
        // (every learner on every step) it is by the first step's end either way.
        let mut modules = std::mem::take(&mut self.net.modules);
        let mut head = self.net.head.take();
        let learners: Vec<&mut LocalModule> = modules.iter_mut().chain(head.as_mut()).collect();
        let step = |_: usize, m: &mut LocalModule, item: &mut GraphInFlight| {
            let target = match m.objective {
                Objective::CrossEntropy => &item.step.head_target,
                _ => &item.step.module_target,
            };
            let x = item.x.take().expect("a learner's input");
            let (out, diag) = m.step_graph(x, Some(&item.step.graph), target)?;
            item.x = Some(out);
            Ok(diag["loss"])
        };
        let mut feed = GraphFeed { state: self, steps };
        let result = pools.run(learners, &step, &mut feed);
        self.net.modules = modules;
        self.net.head = head;
        result
    }

    /// Every module and the head in its own thread ([`super::pipeline`]), then the head's
    /// extra epochs on the frozen modules. At each evaluated epoch the workers' reports (weights,
    /// optimiser states, steps) are put into the network, which is then evaluated and
    /// snapshotted like the other schedules' after an epoch; a resumed run starts the workers at
    /// the epoch after its snapshot (or goes straight to the head's epochs).
    fn asynchronous(&mut self) -> anyhow::Result<usize> {
        use super::pipeline::{Item, Report, start};
        let cfg = self.cfg;
        let first = self.resume_at.min(cfg.epochs) + 1;
        if first > cfg.epochs {
            self.epochs_done = cfg.epochs;
            return Ok(cfg.epochs + self.head_epochs()?);
        }
        let modules = self.net.modules.len();
        let workers = modules + usize::from(self.net.head.is_some());
        let names: Vec<String> = self
            .net
            .modules
            .iter()
            .chain(self.net.head.as_ref())
            .map(|m| m.name.clone())
            .collect();
        // The originals train in the workers; twins with the same weights stay for evaluation.
        let twin = |m: &LocalModule| {
            LocalModule::new(
                m.name.clone(),
                m.stage.clone().blocks,
                m.objective.clone(),
                make_optimizer(cfg),
                m.lr,
            )
        };
        let mut learners = Vec::with_capacity(workers);
        for m in self.net.modules.iter_mut() {
            let t = twin(m);
            learners.push(std::mem::replace(m, t));
        }
        if let Some(h) = self.net.head.as_mut() {
            let t = twin(h);
            learners.push(std::mem::replace(h, t));
        }
        let plain = self.plain();
        let finals = std::thread::scope(|scope| -> anyhow::Result<Vec<LocalModule>> {
            let (mut pipe, handles) = start(
                scope,
                learners,
                first,
                cfg.async_.buffer_size,
                cfg.async_.threads_per_module,
            );
            let mut received = vec![0usize; cfg.epochs + 1];
            let mut latest: Vec<Option<(Stage, Vec<u8>, u64)>> = vec![None; workers];
            let mut failure: Option<String> = None;
            'epochs: for epoch in first..=cfg.epochs {
                let input = pipe.input.as_ref().expect("open until the end");
                let steps = {
                    let _phase = profile::scope(Phase::Data);
                    self.source.epoch(cfg, cfg.seed, epoch, &plain)
                };
                for step in steps {
                    crate::stop::check()?;
                    let x = step.input.clone();
                    if input.send(Item::Step(Arc::new(step), x)).is_err() {
                        break 'epochs; // a worker failed; its report says why
                    }
                }
                if input.send(Item::EndEpoch(epoch)).is_err() {
                    break;
                }
                let evaluated = epoch == cfg.epochs || epoch.is_multiple_of(cfg.eval_every.max(1));
                if !evaluated {
                    continue;
                }
                // Wait for every worker's report of every epoch so far, then evaluate.
                while received[first..=epoch].iter().any(|&n| n < workers) {
                    match pipe.reports.recv() {
                        Ok(Report::Snapshot {
                            index,
                            epoch: e,
                            stage,
                            optimizer,
                            steps,
                            loss_sum,
                            loss_n,
                        }) => {
                            received[e] += 1;
                            latest[index] = Some((*stage, optimizer, steps));
                            let l = self.losses.entry(index).or_insert((0.0, 0));
                            l.0 += loss_sum;
                            l.1 += loss_n;
                        }
                        Ok(Report::Failed { index, error }) => {
                            failure = Some(format!("the {} worker failed: {error}", names[index]));
                            break 'epochs;
                        }
                        Err(_) => break 'epochs,
                    }
                }
                for (k, part) in latest.iter_mut().enumerate() {
                    let (stage, optimizer, steps) =
                        part.take().expect("a report from every worker");
                    let m = if k < modules {
                        &mut self.net.modules[k]
                    } else {
                        self.net.head.as_mut().expect("head worker")
                    };
                    m.stage = stage;
                    m.load_optimizer_state(optimizer)?;
                    m.steps = steps;
                }
                self.head_trained = true;
                // The epochs between evaluations were not ended one by one: count them all.
                self.epochs_done = epoch - 1;
                self.end_epoch(Trained::All, epoch, cfg.epochs)?;
            }
            // Closing the input ends the stream; every worker ends when its inbox closes.
            pipe.input = None;
            let mut finals = Vec::with_capacity(workers);
            for h in handles {
                match h.join() {
                    Ok(Some(m)) => finals.push(m),
                    _ => {
                        if failure.is_none() {
                            failure = Some("a worker stopped".into());
                        }
                    }
                }
            }
            while let Ok(r) = pipe.reports.try_recv() {
                if let (Report::Failed { index, error }, None) = (&r, &failure) {
                    failure = Some(format!("the {} worker failed: {error}", names[*index]));
                }
            }
            match failure {
                Some(f) => anyhow::bail!("async schedule on graph data: {f}"),
                None => Ok(finals),
            }
        })?;
        for (k, m) in finals.into_iter().enumerate() {
            if k < modules {
                self.net.modules[k] = m;
            } else {
                self.net.head = Some(m);
            }
        }
        Ok(cfg.epochs + self.head_epochs()?)
    }

    /// The head's extra epochs on the frozen modules (simultaneous and async schedules).
    fn head_epochs(&mut self) -> anyhow::Result<usize> {
        let cfg = self.cfg;
        let modules = self.net.modules.len();
        let mut head_epochs = 0;
        if self.net.head.is_some() {
            for epoch in 1..=cfg.head_epochs {
                head_epochs += 1;
                if !self.begin() {
                    continue;
                }
                let head = self.net.head.as_mut().expect("head");
                head.begin_epoch(epoch, cfg.head_epochs);
                for step in self.epoch_steps(modules, cfg.seed + 7, epoch) {
                    crate::stop::check()?;
                    let x = self.frozen_input(modules, &step);
                    let target = self.target_for(modules, &step);
                    let head = self.net.head.as_mut().expect("head");
                    let (_, diag) = head.step_graph(x, Some(&step.graph), &target)?;
                    self.record(modules, diag["loss"]);
                }
                self.end_epoch(Trained::Head, epoch, cfg.head_epochs)?;
            }
        }
        Ok(head_epochs)
    }

    fn plain(&self) -> Device {
        self.device.clone().without_autodiff_device()
    }

    /// The steps of one epoch, their assembly charged to learner `k` as data.
    fn epoch_steps(&self, k: usize, seed: u64, epoch: usize) -> Vec<GraphStep> {
        profile::set_learner(&self.net.learner(k).name);
        let _phase = profile::scope(Phase::Data);
        self.source.epoch(self.cfg, seed, epoch, &self.plain())
    }

    /// Learner `k`'s input on `step`: the frozen modules `0..k` over it (inference), charged to
    /// learner `k` as forward. Their outputs over the training data are computed at the first
    /// such step and kept for the others ([`FrozenNodes`], within `cache_mib`).
    fn frozen_input(&mut self, k: usize, step: &GraphStep) -> Features {
        profile::set_learner(&self.net.learner(k).name);
        let _phase = profile::scope(Phase::Forward);
        if k == 0 {
            return step.input.clone();
        }
        if !self.frozen.as_ref().is_some_and(|f| f.serves(k)) {
            self.frozen = FrozenNodes::compute(
                &self.net,
                self.source,
                &self.train,
                k,
                self.cfg.cache_mib << 20,
            );
        }
        let plain = self.plain();
        self.frozen
            .as_ref()
            .and_then(|f| f.input(step, &plain))
            .unwrap_or_else(|| {
                self.net
                    .forward_to_graph(step.input.clone(), Some(&step.graph), k)
            })
    }
}

/// A graph step on its way through the pipeline: the next learner's input and the step.
struct GraphInFlight {
    x: Option<Features>,
    step: GraphStep,
}

/// Feeds the pipeline an epoch's steps and records the learners' losses.
struct GraphFeed<'s, 'a> {
    state: &'s mut State<'a>,
    steps: std::vec::IntoIter<GraphStep>,
}

impl StageFeed<GraphInFlight> for GraphFeed<'_, '_> {
    fn next(&mut self) -> anyhow::Result<Option<GraphInFlight>> {
        crate::stop::check()?;
        Ok(self.steps.next().map(|step| GraphInFlight {
            x: Some(step.input.clone()),
            step,
        }))
    }

    fn loss(&mut self, k: usize, loss: f64) {
        self.state.record(k, loss);
    }
}

/// The evaluation batch of the dependence measures: X and Y of the scored test items.
fn eval_batch(cfg: &TrainConfig, test: &GraphStep, device: &Device) -> anyhow::Result<EvalBatch> {
    let (shape, values) = crate::batches::to_host(test.module_target.x.clone());
    let labels = test.module_target.labels.clone();
    let data = Dataset::new(
        values,
        labels,
        SampleShape::Vector(shape[1]),
        test.module_target.num_classes,
    );
    let width = |key: &str, text: &str| -> anyhow::Result<mole_info::KernelWidth> {
        text.parse()
            .map_err(|e| anyhow::anyhow!("config {key}: {e}"))
    };
    Ok(EvalBatch::new(
        &data,
        &(0..data.len()).collect::<Vec<_>>(),
        device,
        cfg.mole.alpha,
        width("mole.sigma_x", &cfg.mole.sigma_x)?,
        width("mole.sigma_t", &cfg.mole.sigma_t)?,
        cfg.hsic.sigma,
    ))
}

/// Writes `embeddings.safetensors` (same tensors as the vector path: `input`, `module_<k>`,
/// `logits`, `labels`), one row per test node or per pooled test graph, at most
/// `embedding_samples` rows.
fn write_embeddings(
    cfg: &TrainConfig,
    net: &Network,
    test: &GraphStep,
    run: &mut RunDir,
) -> anyhow::Result<()> {
    let Some(view) = &test.module_target.view else {
        return Ok(());
    };
    let nodes = test.input.clone().flat().dims()[0];
    let keep = cfg.embedding_samples.min(test.head_target.labels.len());
    if keep == 0 {
        return Ok(());
    }
    // Node rows are selected (node level) or pooled per graph (graph level); a backprop
    // module that ends in the readout already has one row per graph.
    let rows = |t: burn::tensor::Tensor<2>| -> (Vec<usize>, Vec<f32>) {
        let t = if t.dims()[0] == nodes {
            view.apply(t)
        } else {
            t
        };
        let (mut shape, mut values) = crate::batches::to_host(t);
        values.truncate(keep * shape[1]);
        shape[0] = keep;
        (shape, values)
    };
    let mut tensors = Vec::new();
    let (s, v) = rows(test.input.clone().flat());
    tensors.push(("input".to_string(), s, v));
    let mut h = test.input.clone();
    for (k, m) in net.modules.iter().enumerate() {
        h = m.forward_graph(h, Some(&test.graph));
        let (s, v) = rows(h.clone().flat());
        tensors.push((format!("module_{}", k + 1), s, v));
    }
    let logits = net.predict_graph(test.input.clone(), Some(&test.graph));
    let logits = match &test.head_target.view {
        Some(v) => v.apply(logits),
        None => logits,
    };
    let (mut s, mut v) = crate::batches::to_host(logits);
    v.truncate(keep * s[1]);
    s[0] = keep;
    tensors.push(("logits".to_string(), s, v));
    tensors.push((
        "labels".to_string(),
        vec![keep],
        test.head_target.labels[..keep]
            .iter()
            .map(|&l| l as f32)
            .collect(),
    ));
    let mut meta = std::collections::BTreeMap::new();
    meta.insert("dataset".into(), cfg.dataset.clone());
    meta.insert("method".into(), format!("{:?}", cfg.method).to_lowercase());
    run.write(
        "embeddings.safetensors",
        &crate::run::to_safetensors(&tensors, meta),
    )
    .context("writing embeddings.safetensors")?;
    Ok(())
}

/// Trains `net` on `source` as `cfg` says, writing metrics and weights into `run`.
pub fn train_on_graph(
    cfg: &TrainConfig,
    source: &GraphSource<'_>,
    net: Network,
    device: Device,
    run: &mut RunDir,
    quiet: bool,
) -> anyhow::Result<GraphRun> {
    let plain = device.clone().without_autodiff_device();
    let mut test = source.eval_step(true, &plain);
    // Dependence is measured on at most `eval_samples` test nodes.
    if let GraphSource::Nodes { test: nodes, .. } = source
        && nodes.len() > cfg.eval_samples
    {
        let sample = source.step(&nodes[..cfg.eval_samples], &plain);
        test.module_target = sample.module_target;
    }
    let eval = eval_batch(cfg, &test, &plain)?;
    let eval_view = test.module_target.view.clone();
    let test = if let GraphSource::Nodes { .. } = source {
        source.eval_step(true, &plain)
    } else {
        test
    };
    let train = source.eval_step(false, &plain);
    let val = source.val_step(&plain);
    let mut st = State {
        cfg,
        source,
        device,
        run,
        quiet,
        net,
        losses: BTreeMap::new(),
        head_trained: false,
        start: Instant::now(),
        eval_seconds: 0.0,
        test,
        train,
        val,
        keep: Default::default(),
        eval,
        eval_view,
        last: (f64::NAN, f64::NAN),
        round: 0,
        epochs_done: 0,
        resume_at: 0,
        pipeline_stages: None,
        frozen: None,
        snapshot_pacer: Default::default(),
    };
    if cfg.resume_snapshot {
        st.resume()?;
    }
    let window = crate::memory::MemoryWindow::start();
    let epochs_run = match cfg.schedule() {
        ScheduleKind::Sequential => st.sequential()?,
        ScheduleKind::Simultaneous => st.simultaneous()?,
        ScheduleKind::Async => st.asynchronous()?,
    };
    let train_seconds = st.start.elapsed().as_secs_f64() - st.eval_seconds;
    let memory = window.end();
    let kept = st.keep.restore(&mut st.net)?.cloned();
    if let Some(k) = &kept {
        st.last = (k.train_accuracy, k.test_accuracy);
        crate::session::write_kept(st.run, &st.net, k)?;
        if !quiet {
            eprintln!(
                "kept {} epoch {} (best validation accuracy {:.4}): test acc {:.4}",
                k.stage, k.epoch, k.val_accuracy, k.test_accuracy
            );
        }
    }
    write_embeddings(cfg, &st.net, &st.test, st.run)?;
    let per_epoch = source.sizes().0 as u64;
    Ok(GraphRun {
        kept,
        test_accuracy: st.last.1,
        train_accuracy: st.last.0,
        train_seconds,
        epochs_run,
        items_seen: per_epoch * cfg.epochs as u64,
        memory,
        pipeline_stages: st.pipeline_stages.clone(),
        net: st.net,
    })
}
