//! [`Session`]: what a schedule works with: the network, the data, the run directory, and the
//! end-of-epoch bookkeeping (evaluation, metrics rows, checkpoints, progress).

use crate::batches::{self, balanced_sample};
use crate::config::TrainConfig;
use crate::evaluate::{self, EvalBatch};
use crate::head_inputs::HeadInputs;
use crate::network::Network;
use crate::objective::Target;
use crate::run::{MetricRow, RunDir, named_params, to_safetensors};
use anyhow::Context;
use burn::tensor::Device;
use indicatif::{ProgressBar, ProgressStyle};
use mole_data::{Dataset, Split};
use mole_info::profile::{self, Phase};
use mole_nn::Features;
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::time::Instant;

/// Which part of the network an epoch trained.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trained {
    /// One module (0-based), as in the sequential schedule.
    Module(usize),
    /// Every module (and the head, when present), as in the simultaneous schedule.
    All,
    /// The head alone, on the frozen modules.
    Head,
}

impl Trained {
    /// `module`, `all` or `head`: how a kept epoch names its stage.
    pub fn label(self) -> &'static str {
        match self {
            Trained::Module(_) => "module",
            Trained::All => "all",
            Trained::Head => "head",
        }
    }
}

/// Training state shared by the schedules.
pub struct Session<'a> {
    /// The resolved configuration.
    pub cfg: &'a TrainConfig,
    /// Train and test data.
    pub data: &'a Split,
    /// The autodiff device training runs on.
    pub device: Device,
    /// The network being trained.
    pub net: Network,
    /// Where results go.
    pub run: &'a mut RunDir,
    eval: EvalBatch,
    train_probe: Dataset,
    start: Instant,
    eval_seconds: f64,
    /// Samples that entered the first trained stage, summed over epochs.
    pub samples_seen: u64,
    head_trained: bool,
    losses: BTreeMap<usize, (f64, usize)>,
    quiet: bool,
    bar: Option<ProgressBar>,
    /// Last measured head accuracies (train probe, test).
    pub last_accuracy: (f64, f64),
    /// Epochs begun so far; the augmentation round of the batches drawn now.
    round: u64,
    /// The weights of the best validation epoch (early stopping of the head).
    pub keep: crate::early_stop::KeepBest,
    /// Epochs finished so far, over every stage of the schedule.
    epochs_done: usize,
    /// Epochs a resumed run's snapshot had finished (skipped by [`Session::begin_epoch`]).
    resume_at: usize,
    /// Whether to write a snapshot at the end of every epoch (the sequential and simultaneous
    /// schedules; the async one checkpoints its own way).
    pub snapshots: bool,
    /// Learners per stage when the simultaneous schedule ran as a pipeline.
    pub pipeline_stages: Option<Vec<usize>>,
    /// The frozen modules' outputs over the evaluation sets, while the head alone trains.
    head_inputs: Option<HeadInputs>,
    /// Whether an epoch's end writes a snapshot.
    snapshot_pacer: crate::snapshot::SnapshotPacer,
}

impl<'a> Session<'a> {
    /// Prepares the evaluation batch and the training-accuracy probe.
    pub fn new(
        cfg: &'a TrainConfig,
        data: &'a Split,
        device: Device,
        net: Network,
        run: &'a mut RunDir,
        quiet: bool,
    ) -> anyhow::Result<Self> {
        let plain = device.clone().without_autodiff_device();
        let eval_idx = balanced_sample(&data.test, cfg.eval_samples.max(2), cfg.seed);
        let width_x = cfg
            .mole
            .sigma_x
            .parse()
            .map_err(|e| anyhow::anyhow!("config mole.sigma_x: {e}"))?;
        let width_t = cfg
            .mole
            .sigma_t
            .parse()
            .map_err(|e| anyhow::anyhow!("config mole.sigma_t: {e}"))?;
        let eval = EvalBatch::new(
            &data.test,
            &eval_idx,
            &plain,
            cfg.mole.alpha,
            width_x,
            width_t,
            cfg.hsic.sigma,
        );
        let probe_idx = balanced_sample(&data.train, 5000.min(data.train.len()), cfg.seed ^ 0x5eed);
        Ok(Session {
            cfg,
            data,
            device,
            net,
            run,
            eval,
            train_probe: data.train.subset(&probe_idx),
            start: Instant::now(),
            eval_seconds: 0.0,
            samples_seen: 0,
            head_trained: false,
            losses: BTreeMap::new(),
            quiet,
            bar: None,
            last_accuracy: (f64::NAN, f64::NAN),
            round: 0,
            keep: Default::default(),
            epochs_done: 0,
            resume_at: 0,
            snapshots: false,
            pipeline_stages: None,
            head_inputs: None,
            snapshot_pacer: Default::default(),
        })
    }

    /// Continues from a snapshot of this run: every learner's weights, parameter ids and
    /// optimiser state, the kept epoch, the totals, and the position (the epochs it finished
    /// are skipped by [`Session::begin_epoch`]).
    ///
    /// # Errors
    /// When the snapshot was written by a different plan or does not fit the network.
    pub fn resume_from(&mut self, snap: crate::snapshot::Snapshot) -> anyhow::Result<()> {
        let (t, keep) = crate::snapshot::restore(self.cfg, &mut self.net, snap)?;
        self.keep = keep;
        self.resume_at = t.epochs_done;
        self.round = t.round;
        self.samples_seen = t.samples_seen;
        self.head_trained = t.head_trained;
        let [elapsed, eval] = t.seconds;
        self.start = Instant::now() - std::time::Duration::from_secs_f64(elapsed.max(0.0));
        self.eval_seconds = eval;
        self.last_accuracy = t.last_accuracy;
        self.losses = t.losses;
        Ok(())
    }

    /// Writes the snapshot of the state after the epoch that just ended.
    fn write_snapshot(&self) -> anyhow::Result<()> {
        let totals = crate::snapshot::Totals {
            epochs_done: self.epochs_done,
            round: self.round,
            samples_seen: self.samples_seen,
            head_trained: self.head_trained,
            seconds: [self.start.elapsed().as_secs_f64(), self.eval_seconds],
            last_accuracy: self.last_accuracy,
            losses: self.losses.clone(),
        };
        let snap = crate::snapshot::capture(self.cfg, &self.net, self.run, &totals, &self.keep)?;
        crate::snapshot::write(self.run, &snap)
    }

    /// The plain (non-autodiff) device for inference.
    pub fn plain_device(&self) -> Device {
        self.device.clone().without_autodiff_device()
    }

    /// The target of training rows `idx` for objectives that do not read the inputs X
    /// ([`crate::objective::Objective::scores_inputs`]): the labels, and an `[n, 1]` column of
    /// zeros for X instead of gathering (and augmenting) the rows once more.
    pub fn labels_target(&self, idx: &[usize]) -> Target {
        let _phase = profile::scope(Phase::Data);
        let zeros = burn::tensor::Tensor::zeros([idx.len(), 1], &self.plain_device());
        self.target_with(zeros, idx)
    }

    /// The target of training rows `idx` for `objectives`: [`Session::target`] when one of them
    /// reads the inputs X, else [`Session::labels_target`].
    pub fn target_for<'o>(
        &self,
        idx: &[usize],
        mut objectives: impl Iterator<Item = &'o crate::objective::Objective>,
    ) -> Target {
        if objectives.any(crate::objective::Objective::scores_inputs) {
            self.target(idx)
        } else {
            self.labels_target(idx)
        }
    }

    /// Training rows `idx` as network input and the target for `objectives`, the rows gathered
    /// (and augmented) once for both: [`Session::input`] and [`Session::target_for`].
    pub fn input_and_target<'o>(
        &self,
        idx: &[usize],
        mut objectives: impl Iterator<Item = &'o crate::objective::Objective>,
    ) -> (Features, Target) {
        if !objectives.any(crate::objective::Objective::scores_inputs) {
            return (self.input(idx), self.labels_target(idx));
        }
        let _phase = profile::scope(Phase::Data);
        let x = self.rows(idx);
        let target = self.target_with(x.clone().flat(), idx);
        (x, target)
    }

    /// Training rows `idx` as tensors, augmented (when configured) with this epoch's draws, so
    /// that [`Session::input`] and [`Session::target`] see the same images.
    fn rows(&self, idx: &[usize]) -> Features {
        batches::augmented_features(
            &self.data.train,
            idx,
            &self.plain_device(),
            &self.cfg.augment,
            self.cfg.seed,
            self.round,
        )
    }

    /// The objective's target for training rows `idx`.
    pub fn target(&self, idx: &[usize]) -> Target {
        let _phase = profile::scope(Phase::Data);
        let x = self.rows(idx);
        self.target_with(x.flat(), idx)
    }

    /// The target of training rows `idx` with inputs `x`.
    fn target_with(&self, x: burn::tensor::Tensor<2>, idx: &[usize]) -> Target {
        Target {
            x,
            labels: batches::labels(&self.data.train, idx),
            num_classes: self.data.train.num_classes,
            view: None,
            input_sample: None,
            cache: Default::default(),
        }
    }

    /// Training rows `idx` as network input.
    pub fn input(&self, idx: &[usize]) -> Features {
        let _phase = profile::scope(Phase::Data);
        self.rows(idx)
    }

    /// Records the loss of module `k` (the head is `modules.len()`) for the epoch's mean.
    pub fn record_loss(&mut self, k: usize, loss: f64) {
        let e = self.losses.entry(k).or_insert((0.0, 0));
        e.0 += loss;
        e.1 += 1;
        if k == self.net.modules.len() || self.net.head.is_none() {
            self.head_trained = true;
        }
        if let Some(bar) = &self.bar {
            bar.inc(1);
            bar.set_message(format!("loss {loss:.4}"));
        }
    }

    /// Starts an epoch of `batches` steps: returns `false` when a resumed run's snapshot had
    /// already finished it (the schedule then skips it). The random draws of the epoch (dropout
    /// masks) start from a seed of the run's seed and the epoch's position, so a resumed run
    /// draws what the uninterrupted one did.
    pub fn begin_epoch(&mut self, what: &str, epoch: usize, epochs: usize, batches: usize) -> bool {
        if self.epochs_done < self.resume_at {
            self.epochs_done += 1;
            return false;
        }
        self.round += 1;
        self.device
            .seed(self.cfg.seed ^ self.round.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        if self.quiet || !std::io::stderr().is_terminal() {
            return true;
        }
        let bar = ProgressBar::new(batches as u64);
        bar.set_style(
            ProgressStyle::with_template("{prefix:>18} [{bar:30}] {pos}/{len} {msg}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_prefix(format!("{what} {epoch}/{epochs}"));
        self.bar = Some(bar);
        true
    }

    /// Seconds of training so far (evaluation excluded).
    pub fn train_seconds(&self) -> f64 {
        self.start.elapsed().as_secs_f64() - self.eval_seconds
    }

    /// End of an epoch: evaluate, append metrics rows, log a line, checkpoint the trained part.
    /// Its memory does not count in the training peak ([`crate::memory::excluded`]).
    pub fn end_epoch(
        &mut self,
        trained: Trained,
        epoch: usize,
        epochs: usize,
    ) -> anyhow::Result<()> {
        crate::memory::excluded(|| {
            {
                let _phase = profile::scope(Phase::Evaluation);
                self.evaluate_epoch(trained, epoch, epochs)?;
            }
            self.epochs_done += 1;
            if self.snapshots && self.snapshot_pacer.due() {
                let _phase = profile::scope(Phase::Bookkeeping);
                let t0 = Instant::now();
                self.write_snapshot()?;
                self.snapshot_pacer.wrote(t0);
                self.eval_seconds += t0.elapsed().as_secs_f64();
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
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        let t0 = Instant::now();
        if epoch != epochs && !epoch.is_multiple_of(self.cfg.eval_every.max(1)) {
            // Not an evaluation epoch: the losses keep accumulating for the next row.
            self.checkpoint(trained, epoch)?;
            self.eval_seconds += t0.elapsed().as_secs_f64();
            return Ok(());
        }
        let k_modules = self.net.modules.len();
        let plain = self.plain_device();
        let ((train_acc, test_acc), val) = self.head_accuracies(trained, &plain);
        self.keep.offer(
            &self.net,
            trained.label(),
            epoch,
            val,
            (train_acc, test_acc),
        );
        self.last_accuracy = (train_acc, test_acc);
        let seconds = self.start.elapsed().as_secs_f64();
        let mut rows = Vec::new();
        let measured: Vec<usize> = match trained {
            Trained::Module(k) => vec![k],
            Trained::All => (0..k_modules).collect(),
            Trained::Head => vec![],
        };
        if !measured.is_empty() {
            let outputs = self.net.layer_outputs(self.eval.x.clone());
            for (layer, (k, t)) in outputs.into_iter().enumerate() {
                if !measured.contains(&k) {
                    continue;
                }
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
                    dependence: Some(self.eval.dependence(t)),
                    train_accuracy: train_acc,
                    test_accuracy: test_acc,
                    seconds,
                    val_accuracy: val.0,
                });
            }
        }
        if self.net.head.is_some() && (trained == Trained::Head || trained == Trained::All) {
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
        let what = match trained {
            Trained::Module(k) => self.net.modules[k].name.clone(),
            Trained::All => "all modules".into(),
            Trained::Head => "head".into(),
        };
        let mut line = format!("{what} epoch {epoch}/{epochs}");
        for r in rows.iter().filter(|r| r.stage == "module") {
            if let Some(d) = &r.dependence {
                line += &format!(
                    " | L{} loss {:.4} I(T;X) {:.3} I(T;Y) {:.3}",
                    r.layer, r.loss, d.i_tx, d.i_ty
                );
            }
        }
        if !val.0.is_nan() {
            line += &format!(" | val acc {:.4}", val.0);
        }
        if !test_acc.is_nan() {
            line += &format!(" | test acc {test_acc:.4}");
        }
        if !self.quiet {
            eprintln!("{line}");
        }
        self.losses.clear();
        self.checkpoint(trained, epoch)?;
        self.eval_seconds += t0.elapsed().as_secs_f64();
        Ok(())
    }

    /// Accuracy on the training probe and the test set, and accuracy and loss on the validation
    /// set (NaN before the head has trained, or without validation rows). While the head alone
    /// trains, the frozen modules' outputs over these sets are computed once ([`HeadInputs`])
    /// and every later head epoch runs the head alone on them: the same scores.
    fn head_accuracies(&mut self, trained: Trained, plain: &Device) -> ((f64, f64), (f64, f64)) {
        if trained != Trained::Head {
            self.head_inputs = None; // the modules may have changed
        }
        if !self.head_trained {
            return ((f64::NAN, f64::NAN), (f64::NAN, f64::NAN));
        }
        if trained == Trained::Head && self.head_inputs.is_none() {
            self.head_inputs = HeadInputs::compute(
                &self.net,
                &self.train_probe,
                &self.data.test,
                self.data.val.as_ref(),
                plain,
                self.cfg.cache_mib << 20,
            );
        }
        if let (Trained::Head, Some(inputs)) = (trained, &self.head_inputs) {
            let val = inputs
                .val_accuracy_and_loss(&self.net, plain)
                .unwrap_or((f64::NAN, f64::NAN));
            return (inputs.probe_and_test_accuracy(&self.net, plain), val);
        }
        let accuracies = (
            evaluate::accuracy(&self.net, &self.train_probe, plain),
            evaluate::accuracy(&self.net, &self.data.test, plain),
        );
        let val = match &self.data.val {
            Some(v) => evaluate::accuracy_and_loss(&self.net, v, plain),
            None => (f64::NAN, f64::NAN),
        };
        (accuracies, val)
    }

    /// Once the schedule is done: puts back the weights of the best validation epoch (when
    /// there are validation rows), makes its accuracies the final ones, and writes its weights
    /// to `weights/kept/`. Returns the kept epoch.
    pub fn keep_best(&mut self) -> anyhow::Result<Option<crate::early_stop::KeptEpoch>> {
        self.head_inputs = None;
        let Some(k) = self.keep.restore(&mut self.net)?.cloned() else {
            return Ok(None);
        };
        self.last_accuracy = (k.train_accuracy, k.test_accuracy);
        write_kept(self.run, &self.net, &k)?;
        if !self.quiet {
            eprintln!(
                "kept {} epoch {} (best validation accuracy {:.4}): test acc {:.4}",
                k.stage, k.epoch, k.val_accuracy, k.test_accuracy
            );
        }
        Ok(Some(k))
    }

    /// The trained network, once the schedule is done.
    pub fn into_network(self) -> Network {
        self.net
    }

    /// Writes the weights of what was trained to `weights/` (atomically).
    pub fn checkpoint(&self, trained: Trained, epoch: usize) -> anyhow::Result<()> {
        checkpoint(self.run, &self.net, trained, epoch)
    }
}

/// Writes the weights of the part of `net` that was trained to `run`'s `weights/` (atomically),
/// with the module name, its steps and the `epoch` that just ended as metadata.
pub fn checkpoint(
    run: &RunDir,
    net: &Network,
    trained: Trained,
    epoch: usize,
) -> anyhow::Result<()> {
    let head = net.modules.len();
    let which: Vec<usize> = match trained {
        Trained::Module(k) => vec![k],
        Trained::All => (0..=head).collect(),
        Trained::Head => vec![head],
    };
    for k in which {
        let (name, module) = if k == net.modules.len() {
            match &net.head {
                Some(h) => ("head".to_string(), h),
                None => continue,
            }
        } else {
            (format!("module_{}", k + 1), &net.modules[k])
        };
        let mut meta = BTreeMap::new();
        meta.insert("module".into(), module.name.clone());
        meta.insert("steps".into(), module.steps.to_string());
        meta.insert("epoch".into(), epoch.to_string());
        // The head's own epochs after the modules (count from 1 again).
        if trained == Trained::Head {
            meta.insert("phase".into(), "head".into());
        }
        let bytes = to_safetensors(&named_params(&module.stage), meta);
        run.write(&format!("weights/{name}.safetensors"), &bytes)
            .with_context(|| format!("writing weights/{name}.safetensors"))?;
    }
    Ok(())
}

/// Writes the weights of every learner of `net` (the kept epoch's) to `weights/kept/`.
pub fn write_kept(
    run: &RunDir,
    net: &Network,
    kept: &crate::early_stop::KeptEpoch,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(run.path.join("weights/kept")).context("creating weights/kept")?;
    let head = net.head.iter().map(|h| ("head".to_string(), h));
    let modules = (net.modules.iter().enumerate()).map(|(k, m)| (format!("module_{}", k + 1), m));
    for (name, module) in modules.chain(head) {
        let mut meta = BTreeMap::new();
        meta.insert("module".into(), module.name.clone());
        meta.insert("kept_stage".into(), kept.stage.to_string());
        meta.insert("kept_epoch".into(), kept.epoch.to_string());
        let bytes = to_safetensors(&named_params(&module.stage), meta);
        run.write(&format!("weights/kept/{name}.safetensors"), &bytes)
            .with_context(|| format!("writing weights/kept/{name}.safetensors"))?;
    }
    Ok(())
}

/// Extension: the plain device under an autodiff device.
pub trait PlainDevice {
    /// The device without autodiff.
    fn without_autodiff_device(self) -> Device;
}

impl PlainDevice for Device {
    fn without_autodiff_device(self) -> Device {
        let t = burn::tensor::Tensor::<1>::zeros([1], &self).without_autodiff();
        t.device()
    }
}
