//! [`LocalModule`]: a group of blocks with its own objective and optimiser. Its input is
//! detached, so no gradient ever crosses a module boundary and no autograd graph spans two
//! modules.

use crate::adam::FusedAdam;
use crate::config::{LrPlan, OptimizerKind, TrainConfig};
use crate::objective::{Diagnostics, Objective, Target};
use burn::module::Module;
use burn::optim::{
    GradientsParams, ModuleOptimizer, SgdConfig, decay::WeightDecayConfig, momentum::MomentumConfig,
};
use burn::tensor::Tensor;
use mole_info::profile::{self, Phase};
use mole_nn::{Block, Features, GraphBatch, LocalClassifier, Projection};

/// The layers of one module, applied in order, and the learned parts of its local objective
/// that sit beside them (never on the path to the next module).
#[derive(Module, Debug)]
pub struct Stage {
    /// Blocks in order.
    pub blocks: Vec<Block>,
    /// A learned map of the output that the kernel objective scores (`local.projection`).
    pub projection: Option<Projection>,
    /// The classifier of the local prediction term (`local.lambda_ce > 0`).
    pub classifier: Option<LocalClassifier>,
}

impl Stage {
    /// A stage with no blocks (a placeholder while a stage is moved out and back).
    pub fn empty() -> Self {
        Stage {
            blocks: Vec::new(),
            projection: None,
            classifier: None,
        }
    }

    /// Forward through every block.
    pub fn forward(&self, x: Features) -> Features {
        self.forward_graph(x, None)
    }

    /// Forward through every block, with the graph context of GNN blocks.
    pub fn forward_graph(&self, mut x: Features, graph: Option<&GraphBatch>) -> Features {
        for b in &self.blocks {
            x = b.forward_graph(x, graph);
        }
        x
    }

    /// Forward through every block, keeping each block's output.
    pub fn forward_all(&self, x: Features) -> Vec<Features> {
        self.forward_all_graph(x, None)
    }

    /// [`Stage::forward_all`] with the graph context of GNN blocks.
    pub fn forward_all_graph(&self, mut x: Features, graph: Option<&GraphBatch>) -> Vec<Features> {
        let mut outs = Vec::with_capacity(self.blocks.len());
        for b in &self.blocks {
            x = b.forward_graph(x, graph);
            outs.push(x.clone());
        }
        outs
    }
}

/// A step produced a loss that is not a finite number.
#[derive(Debug, thiserror::Error)]
#[error(
    "module {module}: the loss became {value} at step {step} (try a smaller learning rate or another kernel width)"
)]
pub struct NonFiniteLoss {
    /// Module name.
    pub module: String,
    /// The loss value.
    pub value: f64,
    /// Step at which it happened.
    pub step: u64,
}

/// Builds the optimiser a config asks for.
pub fn make_optimizer(cfg: &TrainConfig) -> ModuleOptimizer {
    let decay = (cfg.weight_decay > 0.0).then(|| WeightDecayConfig::new(cfg.weight_decay as f32));
    match cfg.optimizer {
        OptimizerKind::Adam => {
            ModuleOptimizer::from(FusedAdam::new(decay.as_ref().map_or(0.0, |d| d.penalty)))
        }
        OptimizerKind::Sgd => SgdConfig::new()
            .with_weight_decay(decay)
            .with_momentum(
                (cfg.momentum > 0.0).then(|| MomentumConfig::new().with_momentum(cfg.momentum)),
            )
            .init(),
    }
}

/// Blocks + objective + optimiser: everything one local learner owns.
pub struct LocalModule {
    /// Display name: `module 1`, …, or `head`.
    pub name: String,
    /// The layers.
    pub stage: Stage,
    /// The local objective.
    pub objective: Objective,
    optimizer: ModuleOptimizer,
    /// Learning rate of the current epoch.
    pub lr: f64,
    /// The configured rate, before the schedule's factor.
    pub base_lr: f64,
    /// How the rate changes over the epochs (see [`LocalModule::begin_epoch`]).
    pub lr_schedule: LrPlan,
    /// The epochs this learner trains for while the modules train (the schedule's `E` for
    /// workers that only see epoch numbers).
    pub planned_epochs: usize,
    /// Steps taken so far (the module's version).
    pub steps: u64,
    /// Share λ of the local prediction term: `(1 − λ) · objective / w + λ · CE` (see
    /// [`LocalModule::local_loss`]; needs a classifier in the stage).
    pub lambda_ce: f64,
}

impl LocalModule {
    /// A module over `blocks` (created on an autodiff device).
    pub fn new(
        name: impl Into<String>,
        blocks: Vec<Block>,
        objective: Objective,
        optimizer: ModuleOptimizer,
        lr: f64,
    ) -> Self {
        LocalModule {
            name: name.into(),
            stage: Stage {
                blocks,
                projection: None,
                classifier: None,
            },
            objective,
            optimizer,
            lr,
            base_lr: lr,
            lr_schedule: LrPlan::default(),
            planned_epochs: 1,
            steps: 0,
            lambda_ce: 0.0,
        }
    }

    /// Adds the learned parts of the local objective: a projection the kernel objective scores,
    /// and a classifier whose cross-entropy takes share `lambda_ce` of the loss.
    pub fn with_local_heads(
        mut self,
        projection: Option<Projection>,
        classifier: Option<LocalClassifier>,
        lambda_ce: f64,
    ) -> Self {
        self.stage.projection = projection;
        debug_assert!(
            classifier.is_some() || lambda_ce == 0.0,
            "λ_ce > 0 needs a classifier"
        );
        self.stage.classifier = classifier;
        self.lambda_ce = lambda_ce;
        self
    }

    /// Takes the rate schedule and the module epochs of `cfg`.
    pub fn plan(&mut self, cfg: &TrainConfig) {
        self.lr_schedule = cfg.lr_plan();
        self.planned_epochs = cfg.epochs;
    }

    /// Sets the rate for 1-based `epoch` of `epochs`: `lr = base_lr · factor(epoch, epochs)`.
    pub fn begin_epoch(&mut self, epoch: usize, epochs: usize) {
        self.lr = self.base_lr * self.lr_schedule.factor(epoch, epochs);
    }

    /// Settles the batch norms' running statistics before another thread steps this module.
    /// burn's `RunningState` keeps each update pending under the thread that made it and folds
    /// it in at that thread's next step, so a module whose steps move to another thread would
    /// read the statistics from before its last update there (and later average two threads'
    /// values). `valid()` folds every pending update in; the value the next step reads is then
    /// the one the same thread would have read.
    pub fn settle_running_stats(&self) {
        let _ = self.stage.valid();
    }

    /// One local step: forward the detached `input`, score the output, update this module's
    /// parameters only. Returns the output (detached, computed with the pre-update weights) and
    /// the diagnostics.
    pub fn step(
        &mut self,
        input: Features,
        target: &Target,
    ) -> Result<(Features, Diagnostics), NonFiniteLoss> {
        self.step_graph(input, None, target)
    }

    /// [`LocalModule::step`] with the graph context of GNN blocks (the same graph for input
    /// and output: node rows in, node rows out).
    pub fn step_graph(
        &mut self,
        input: Features,
        graph: Option<&GraphBatch>,
        target: &Target,
    ) -> Result<(Features, Diagnostics), NonFiniteLoss> {
        profile::set_learner(&self.name);
        // A leaf on the autodiff device: batch norm trains, but nothing upstream is reachable.
        let output = {
            let _phase = profile::scope(Phase::Forward);
            let input = input.without_autodiff().autodiff();
            self.stage.forward_graph(input, graph)
        };
        let (loss, diag) = {
            let _phase = profile::scope(Phase::Loss);
            self.local_loss(output.clone(), target)
        };
        let value = diag["loss"];
        if !value.is_finite() {
            return Err(NonFiniteLoss {
                module: self.name.clone(),
                value,
                step: self.steps,
            });
        }
        self.apply(loss);
        Ok((output.detach().without_autodiff(), diag))
    }

    /// The module's loss on its training output: the objective on the (projected) output, and
    /// with a classifier `(1 − λ) · objective / w + λ · CE(classifier(output))` (the scored rows
    /// of graph data), `w` the weight of the objective's label term
    /// ([`Objective::label_weight`]: β for HSIC, λ_y for MOLE). Diagnostics: the objective's,
    /// `local_ce`, and `loss` for the total.
    pub fn local_loss(&self, output: Features, target: &Target) -> (Tensor<1>, Diagnostics) {
        let scored = match &self.stage.projection {
            Some(p) => p.forward(output.clone()),
            None => output.clone(),
        };
        let (loss, mut diag) = self.objective.loss(scored, target);
        let Some(classifier) = &self.stage.classifier else {
            return (loss, diag);
        };
        let rows = match &target.view {
            Some(view) => Features::Flat(view.apply(output.flat())),
            None => output,
        };
        let ce = crate::objective::cross_entropy(classifier.forward(rows), &target.labels);
        let ce_value = crate::batches::to_host(ce.clone()).1[0] as f64;
        // The objective in units of its label term, so that λ means the same for every method.
        let w = (1.0 - self.lambda_ce) / self.objective.label_weight();
        let l = self.lambda_ce;
        diag.insert("local_ce".into(), ce_value);
        let total = w * diag["loss"] + l * ce_value;
        diag.insert("loss".into(), total);
        (loss.mul_scalar(w) + ce.mul_scalar(l), diag)
    }

    /// The local classifier's class probabilities for a batch (inference), when it has one.
    pub fn local_probabilities(&self, output: Features) -> Option<Tensor<2>> {
        let classifier = self.stage.valid().classifier?;
        let logits = classifier.forward(output.without_autodiff());
        Some(burn::tensor::activation::softmax(logits, 1))
    }

    /// Drops the optimiser's state (Adam's two moments: twice the parameters) of a module that
    /// will not train again, as the sequential schedule's frozen modules.
    pub fn freeze(&mut self, cfg: &TrainConfig) {
        self.optimizer = make_optimizer(cfg);
    }

    /// The optimiser's state (Adam's moments, keyed by parameter id) as burnpack bytes.
    ///
    /// # Errors
    /// When burn cannot serialise it.
    pub fn optimizer_state(&self) -> anyhow::Result<Vec<u8>> {
        let bytes = self
            .optimizer
            .into_bytes()
            .map_err(|e| anyhow::anyhow!("{}: saving the optimiser state: {e:?}", self.name))?;
        Ok(bytes.to_vec())
    }

    /// Replaces the optimiser's state by one [`LocalModule::optimizer_state`] wrote (for
    /// parameters with the same ids).
    ///
    /// # Errors
    /// When the bytes are not an optimiser state.
    pub fn load_optimizer_state(&mut self, bytes: Vec<u8>) -> anyhow::Result<()> {
        let fresh = self.optimizer.clone();
        self.optimizer = fresh
            .from_bytes(burn::tensor::Bytes::from_bytes_vec(bytes))
            .map_err(|e| anyhow::anyhow!("{}: reading the optimiser state: {e:?}", self.name))?;
        Ok(())
    }

    /// Backward on `loss` and one optimiser step on this module's parameters.
    pub fn apply(&mut self, loss: Tensor<1>) {
        let grads = {
            let _phase = profile::scope(Phase::Backward);
            let grads = loss.backward();
            GradientsParams::from_grads(grads, &self.stage)
        };
        let _phase = profile::scope(Phase::Optimizer);
        // Moved, not cloned: a parameter held only by the stage is updated in place.
        let stage = std::mem::replace(&mut self.stage, Stage::empty());
        self.stage = self.optimizer.step(self.lr, stage, grads);
        self.steps += 1;
    }

    /// Inference: batch norm uses running statistics, no autodiff anywhere.
    pub fn forward(&self, input: Features) -> Features {
        self.stage.valid().forward(input.without_autodiff())
    }

    /// Inference keeping every block's output.
    pub fn forward_all(&self, input: Features) -> Vec<Features> {
        self.stage.valid().forward_all(input.without_autodiff())
    }

    /// Inference with the graph context of GNN blocks.
    pub fn forward_graph(&self, input: Features, graph: Option<&GraphBatch>) -> Features {
        self.stage
            .valid()
            .forward_graph(input.without_autodiff(), graph)
    }

    /// Inference keeping every block's output, with the graph context of GNN blocks.
    pub fn forward_all_graph(&self, input: Features, graph: Option<&GraphBatch>) -> Vec<Features> {
        self.stage
            .valid()
            .forward_all_graph(input.without_autodiff(), graph)
    }

    /// Number of parameters.
    pub fn num_params(&self) -> usize {
        self.stage.num_params()
    }
}
