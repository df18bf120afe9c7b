//! [`Network`]: the modules in order plus the head, built from a config.

use crate::config::{Method, TrainConfig};
use crate::module::{LocalModule, make_optimizer};
use crate::objective::{HsicObjective, MoleObjective, Objective, ObjectiveError, SimObjective};
use burn::nn::DropoutConfig;
use burn::tensor::{Device, Tensor};
use mole_nn::{
    Activation, Block, Branch, BuildOptions, DenseConfig, EnsembleBlock, Features, GnnConfig,
    GraphBatch, LocalClassifier, ModelSpec, Projection, Readout, ReadoutBlock, SpecError,
};

/// Modules in order, then the head (a linear classifier trained with cross-entropy on the
/// detached output of the last module). For backprop there is a single module holding every
/// block and the classifier, trained end to end with cross-entropy, and no separate head.
pub struct Network {
    /// Local learners, lowest first.
    pub modules: Vec<LocalModule>,
    /// The classifier on top (absent for backprop, whose one module ends in the classifier).
    pub head: Option<LocalModule>,
    /// Output row shape of every module.
    pub output_shapes: Vec<Vec<usize>>,
    /// Predict with the average of the softmax of every module's classifier and of the head
    /// (`local.ensemble_heads`).
    pub ensemble_heads: bool,
}

/// Why a network could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// Bad model spec.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// Bad objective setting.
    #[error("config {0}")]
    Objective(#[from] ObjectiveError),
    /// Bad grouping.
    #[error("config group: {0}")]
    Group(String),
    /// Bad activation.
    #[error("config activation: {0}")]
    Activation(String),
    /// GNN layers asked for on data without a graph.
    #[error(
        "model '{0}' has GNN layers, which need a graph dataset (cora, mutag, linqs:DIR/NAME, tu:DIR)"
    )]
    NeedsGraph(String),
    /// A head kind that does not fit the task.
    #[error("config head: {0}")]
    Head(String),
    /// A per-module list whose length is not the number of modules.
    #[error("config {0}")]
    PerModule(String),
    /// `x_nodes = "all"` on data that has no graph of nodes to sample.
    #[error("config x_nodes: {0}")]
    XNodes(String),
}

/// Checks that the module sizes in `group` (from [`TrainConfig::module_groups`], which fills in
/// the default grouping) cover exactly the `n` layers of the model.
pub fn group_sizes(n: usize, group: &[usize]) -> Result<Vec<usize>, BuildError> {
    let total = group.iter().try_fold(0usize, |t, &g| t.checked_add(g));
    if total != Some(n) {
        let total = total.map_or("more than 2^64".into(), |t| t.to_string());
        return Err(BuildError::Group(format!(
            "{group:?} covers {total} layers but the model has {n}"
        )));
    }
    Ok(group.to_vec())
}

impl Network {
    /// Builds the network for inputs with row shape `input` and `num_classes` classes, on an
    /// autodiff `device`. `sigma` overrides the HSIC kernel width (σ-combined networks).
    pub fn build(
        cfg: &TrainConfig,
        input: &[usize],
        num_classes: usize,
        device: &Device,
        sigma: Option<f64>,
    ) -> Result<Network, BuildError> {
        let spec: ModelSpec = cfg.model.parse()?;
        if spec.is_graph() {
            return Err(BuildError::NeedsGraph(cfg.model.clone()));
        }
        Self::build_with(cfg, spec, input, num_classes, device, sigma, None).map(Self::initialized)
    }

    /// The network with every parameter initialised now, module by module, the head last.
    ///
    /// burn initialises a parameter lazily, drawing from the device's random generator at its
    /// first use. Without this, the initial weights would depend on which module happens to
    /// run first: a process that holds only some modules (an MPI rank) would draw different
    /// weights than one that holds them all.
    fn initialized(self) -> Self {
        for m in self.modules.iter().chain(&self.head) {
            crate::params::flat_params(&m.stage);
        }
        self
    }

    /// Builds the network for a graph dataset: node rows of width `input`; with `readout`
    /// (graph-level tasks) the head, or the backprop classifier, pools node rows per graph first.
    pub fn build_graph(
        cfg: &TrainConfig,
        input: usize,
        num_classes: usize,
        device: &Device,
        readout: Option<Readout>,
    ) -> Result<Network, BuildError> {
        let spec: ModelSpec = cfg.model.parse()?;
        Self::build_with(cfg, spec, &[input], num_classes, device, None, readout)
            .map(Self::initialized)
    }

    fn build_with(
        cfg: &TrainConfig,
        spec: ModelSpec,
        input: &[usize],
        num_classes: usize,
        device: &Device,
        sigma: Option<f64>,
        readout: Option<Readout>,
    ) -> Result<Network, BuildError> {
        let activation: Activation = cfg.activation.parse().map_err(BuildError::Activation)?;
        if cfg.x_nodes == "all" && !node_level(&spec, readout) {
            return Err(BuildError::XNodes(
                "'all' samples the nodes of one graph for the input terms and needs a \
                 node-level graph task (cora, linqs:DIR/NAME); use 'labelled'"
                    .into(),
            ));
        }
        let opts = BuildOptions {
            batch_norm: cfg.batch_norm,
            affine: cfg.affine,
            activation,
            dropout: cfg.dropout,
        };
        let readout_block = || readout.map(|readout| Block::Readout(ReadoutBlock { readout }));
        let built = spec.build(input, &opts, device)?;
        let last_width: usize = built.last().map(|(_, s)| s.iter().product()).unwrap_or(0);
        let head_block = classifier(cfg, &spec, readout, last_width, num_classes, device)?;
        // `dropout` applies to the input of every layer but the first, the head's included (as
        // in Kipf & Welling's GCN, whose classifier is the last dropout-fed layer, and Nøkland &
        // Eidnes' local-loss networks); a GCN head has its own.
        let head_dropout = || {
            (cfg.dropout > 0.0 && cfg.head == "linear")
                .then(|| Block::Dropout(DropoutConfig::new(cfg.dropout).init()))
        };
        if cfg.method == Method::Bp {
            let shapes: Vec<Vec<usize>> = built.iter().map(|(_, s)| s.clone()).collect();
            let mut blocks: Vec<Block> = built.into_iter().map(|(b, _)| b).collect();
            blocks.extend(readout_block());
            blocks.extend(head_dropout());
            blocks.push(head_block);
            let mut module = LocalModule::new(
                "network",
                blocks,
                Objective::CrossEntropy,
                make_optimizer(cfg),
                cfg.lr(),
            );
            module.plan(cfg);
            return Ok(Network {
                modules: vec![module],
                head: None,
                output_shapes: vec![shapes.last().cloned().unwrap_or_default()],
                ensemble_heads: false,
            });
        }
        let objective = match cfg.method {
            Method::Mole => Objective::Mole(MoleObjective::from_settings(&cfg.mole, &cfg.local)?),
            Method::Hsic => Objective::Hsic(HsicObjective::from_settings(
                &cfg.hsic,
                &cfg.local,
                sigma.unwrap_or(cfg.hsic.sigma),
            )?),
            Method::Simpred => Objective::Sim(SimObjective::from_settings(&cfg.local)?),
            Method::Bp => unreachable!(),
        };
        if cfg.local.ensemble_heads && spec.is_graph() {
            return Err(BuildError::Head(
                "local.ensemble_heads averages the modules' classifiers on vector and image \
                 data; graph models predict with their head"
                    .into(),
            ));
        }
        let sizes = group_sizes(built.len(), &cfg.module_groups(built.len()))?;
        let per_module = |field: &str, values: &[f64]| {
            if values.is_empty() || values.len() == sizes.len() {
                Ok(())
            } else {
                Err(BuildError::PerModule(format!(
                    "mole.{field} has {} values but the network has {} modules (one value per \
                     module, lowest first)",
                    values.len(),
                    sizes.len()
                )))
            }
        };
        if cfg.method == Method::Mole {
            per_module("module_lambda_x", &cfg.mole.module_lambda_x)?;
            per_module("module_lambda_h", &cfg.mole.module_lambda_h)?;
        }
        let mut layers = built.into_iter();
        let mut modules = Vec::new();
        let mut output_shapes = Vec::new();
        for (k, size) in sizes.into_iter().enumerate() {
            let mut blocks = Vec::new();
            let mut shape = Vec::new();
            for _ in 0..size {
                let (b, s) = layers.next().expect("sizes sum to the layer count");
                blocks.push(b);
                shape = s;
            }
            output_shapes.push(shape.clone());
            let mut objective = objective.clone();
            if let Objective::Mole(m) = &mut objective {
                // Module k's entry of a per-module list, else the network-wide weight.
                let pick = |values: &[f64], all: f64| values.get(k).copied().unwrap_or(all);
                m.lambda_x = pick(&cfg.mole.module_lambda_x, m.lambda_x);
                m.lambda_h = pick(&cfg.mole.module_lambda_h, m.lambda_h);
            }
            let projection = cfg
                .local
                .projection
                .then(|| Projection::new(&shape, device));
            let classifier = (cfg.local.lambda_ce > 0.0)
                .then(|| LocalClassifier::new(&shape, num_classes, device));
            modules.push(
                LocalModule::new(
                    format!("module {}", k + 1),
                    blocks,
                    objective,
                    make_optimizer(cfg),
                    cfg.lr(),
                )
                .with_local_heads(projection, classifier, cfg.local.lambda_ce),
            );
        }
        let mut head = LocalModule::new(
            "head",
            readout_block()
                .into_iter()
                .chain(head_dropout())
                .chain([head_block])
                .collect(),
            Objective::CrossEntropy,
            make_optimizer(cfg),
            cfg.head_lr(),
        );
        head.plan(cfg);
        for m in &mut modules {
            m.plan(cfg);
        }
        Ok(Network {
            modules,
            head: Some(head),
            output_shapes,
            ensemble_heads: cfg.local.ensemble_heads,
        })
    }

    /// The σ-combined network: one frozen module holding the trained `branches` (their outputs,
    /// of row shape `shape`, averaged) and a fresh head on top, the only part left to train.
    pub fn combined(
        cfg: &TrainConfig,
        branches: Vec<Branch>,
        shape: Vec<usize>,
        num_classes: usize,
        device: &Device,
    ) -> Network {
        let width = shape.iter().product();
        let ensemble = LocalModule::new(
            "sigma-combined",
            vec![Block::Ensemble(EnsembleBlock { branches })],
            Objective::Hsic(
                HsicObjective::from_settings(&cfg.hsic, &cfg.local, cfg.hsic.sigma)
                    .expect("the branches were built from the same settings"),
            ),
            make_optimizer(cfg),
            cfg.lr(),
        );
        let mut head = LocalModule::new(
            "head",
            vec![linear_classifier(width, num_classes, device)],
            Objective::CrossEntropy,
            make_optimizer(cfg),
            cfg.head_lr(),
        );
        head.plan(cfg);
        Network {
            modules: vec![ensemble],
            head: Some(head),
            output_shapes: vec![shape],
            ensemble_heads: false,
        }
    }

    /// The learner with index `k`: module `k`, or the head when `k` is the number of modules.
    ///
    /// # Panics
    /// When `k` is the number of modules and the network has no head (a backprop network).
    pub fn learner(&self, k: usize) -> &LocalModule {
        if k == self.modules.len() {
            self.head.as_ref().expect("a head")
        } else {
            &self.modules[k]
        }
    }

    /// [`Network::learner`], mutable.
    pub fn learner_mut(&mut self, k: usize) -> &mut LocalModule {
        if k == self.modules.len() {
            self.head.as_mut().expect("a head")
        } else {
            &mut self.modules[k]
        }
    }

    /// Forward through modules `0..k` (inference).
    pub fn forward_to(&self, x: Features, k: usize) -> Features {
        self.forward_to_graph(x, None, k)
    }

    /// [`Network::forward_to`] with the graph context of GNN blocks.
    pub fn forward_to_graph(
        &self,
        mut x: Features,
        graph: Option<&GraphBatch>,
        k: usize,
    ) -> Features {
        for m in &self.modules[..k] {
            x = m.forward_graph(x, graph);
        }
        x
    }

    /// Class scores (logits) for a batch.
    pub fn predict(&self, x: Features) -> Tensor<2> {
        self.predict_graph(x, None)
    }

    /// Class scores with the graph context of GNN blocks: one row per node, or per graph when
    /// the network has a readout.
    pub fn predict_graph(&self, x: Features, graph: Option<&GraphBatch>) -> Tensor<2> {
        if self.ensemble_heads && graph.is_none() {
            return self.predict_ensemble(x);
        }
        let h = self.forward_to_graph(x, graph, self.modules.len());
        match &self.head {
            Some(head) => head.forward_graph(h, graph).flat(),
            None => h.flat(),
        }
    }

    /// `log` of the mean class probabilities of every module's classifier and of the head
    /// (the ensemble of `local.ensemble_heads`; its argmax is the prediction).
    fn predict_ensemble(&self, x: Features) -> Tensor<2> {
        let mut h = x;
        let mut sum: Option<Tensor<2>> = None;
        let mut count = 0usize;
        let mut add = |p: Tensor<2>| {
            sum = Some(match sum.take() {
                Some(s) => s + p,
                None => p,
            });
            count += 1;
        };
        for m in &self.modules {
            h = m.forward(h);
            if let Some(p) = m.local_probabilities(h.clone()) {
                add(p);
            }
        }
        if let Some(head) = &self.head {
            add(burn::tensor::activation::softmax(head.forward(h).flat(), 1));
        }
        sum.expect("a network has a head or modules")
            .div_scalar(count as f64)
            .clamp_min(1e-12)
            .log()
    }

    /// Every hidden layer's output for a batch, lowest first (the classifier of a backprop
    /// network excluded), with the module each belongs to (0-based).
    pub fn layer_outputs(&self, x: Features) -> Vec<(usize, Features)> {
        self.layer_outputs_graph(x, None)
    }

    /// [`Network::layer_outputs`] with the graph context of GNN blocks (node rows; the readout
    /// of a backprop network is excluded too).
    pub fn layer_outputs_graph(
        &self,
        x: Features,
        graph: Option<&GraphBatch>,
    ) -> Vec<(usize, Features)> {
        let mut out = Vec::new();
        let mut h = x;
        for (k, m) in self.modules.iter().enumerate() {
            let mut all = m.forward_all_graph(h, graph);
            if self.head.is_none() {
                all.pop(); // the classifier of the backprop network
                while matches!(
                    m.stage.blocks.get(all.len().wrapping_sub(1)),
                    Some(Block::Readout(_) | Block::Dropout(_))
                ) {
                    all.pop(); // and its dropout and readout
                }
            }
            h = all.last().cloned().expect("non-empty module");
            out.extend(all.into_iter().map(|f| (k, f)));
        }
        out
    }

    /// Total number of parameters.
    pub fn num_params(&self) -> usize {
        self.modules
            .iter()
            .chain(self.head.as_ref())
            .map(LocalModule::num_params)
            .sum()
    }
}

/// True for a node-level graph task: a model with graph layers and no readout to pool the
/// nodes of each graph.
fn node_level(spec: &ModelSpec, readout: Option<Readout>) -> bool {
    spec.is_graph() && readout.is_none()
}

/// The head's classifier block: a dense layer, or (`head = "gcn"`, node-level graph tasks) a
/// graph convolution `Â H W + b` without batch norm or activation.
fn classifier(
    cfg: &TrainConfig,
    spec: &ModelSpec,
    readout: Option<Readout>,
    width: usize,
    num_classes: usize,
    device: &Device,
) -> Result<Block, BuildError> {
    if cfg.head == "gcn" {
        if !node_level(spec, readout) {
            return Err(BuildError::Head(
                "'gcn' (a graph-convolution classifier) needs a node-level graph task \
                 (cora, linqs:DIR/NAME); use 'linear'"
                    .into(),
            ));
        }
        return Ok(Block::Gcn(
            GnnConfig {
                d_input: width,
                d_output: num_classes,
                batch_norm: false,
                affine: false,
                activation: Activation::Identity,
                dropout: cfg.dropout,
            }
            .init_gcn(device),
        ));
    }
    Ok(linear_classifier(width, num_classes, device))
}

/// A dense layer from `width` features to `num_classes` scores, without batch norm or
/// activation: the linear head.
fn linear_classifier(width: usize, num_classes: usize, device: &Device) -> Block {
    Block::Dense(
        DenseConfig {
            d_input: width,
            d_output: num_classes,
            batch_norm: false,
            affine: false,
            activation: Activation::Identity,
        }
        .init(device),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use mole_data::graph::Graph;
    use mole_nn::{Features, GraphBatch};

    fn is_dropout(b: &Block) -> bool {
        matches!(b, Block::Dropout(_))
    }

    /// On graph data `dropout` also feeds the head (Kipf & Welling's classifier input); the
    /// backprop network's hidden layers leave the dropout and the classifier out.
    #[test]
    fn graph_heads_get_the_dropout_of_the_layers() {
        let device = Device::flex().autodiff();
        let mut cfg = TrainConfig {
            model: "gcn:8,8".into(),
            dropout: 0.5,
            ..TrainConfig::default()
        };
        let net = Network::build_graph(&cfg, 5, 3, &device, None).unwrap();
        let head = &net.head.as_ref().unwrap().stage.blocks;
        assert!(head.len() == 2 && is_dropout(&head[0]), "{head:?}");
        cfg.method = Method::Bp;
        let bp = Network::build_graph(&cfg, 5, 3, &device, None).unwrap();
        let blocks = &bp.modules[0].stage.blocks;
        assert_eq!(blocks.len(), 4);
        assert!(is_dropout(&blocks[2]));
        let graph = GraphBatch::single(&Graph::undirected(4, &[(0, 1), (1, 2)]), &device);
        let x = Features::Flat(Tensor::ones([4, 5], &device));
        let outs = bp.layer_outputs_graph(x, Some(&graph));
        assert_eq!(outs.len(), 2);
        assert!(outs.iter().all(|(_, f)| f.clone().flat().dims() == [4, 8]));
        cfg.dropout = 0.0;
        let net = Network::build_graph(&cfg, 5, 3, &device, None).unwrap();
        assert!(!net.modules[0].stage.blocks.iter().any(is_dropout));
        cfg.method = Method::Mole;
        cfg.dropout = 0.5;
        cfg.head = "gcn".into();
        let net = Network::build_graph(&cfg, 5, 3, &device, None).unwrap();
        let head = &net.head.as_ref().unwrap().stage.blocks;
        assert!(
            matches!(head.as_slice(), [Block::Gcn(_)]),
            "a GCN head drops its own input: {head:?}"
        );
        let graph_level = Network::build_graph(&cfg, 5, 3, &device, Some(Readout::Sum));
        assert!(matches!(graph_level, Err(BuildError::Head(_))));
        cfg.head = "linear".into();
        cfg.model = "mlp:8,8".into();
        cfg.group = vec![1, 1];
        let mlp = Network::build(&cfg, &[5], 3, &device, None).unwrap();
        let head = &mlp.head.as_ref().unwrap().stage.blocks;
        assert!(
            head.len() == 2 && is_dropout(&head[0]),
            "vector heads drop their input too: {head:?}"
        );
        // Dense layers drop their input, but the first (the data itself).
        let dropped = |m: &LocalModule| match &m.stage.blocks[0] {
            Block::Dense(d) => d.input_dropout.is_some(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            mlp.modules.iter().map(dropped).collect::<Vec<_>>(),
            [false, true]
        );
        cfg.dropout = 0.0;
        let plain = Network::build(&cfg, &[5], 3, &device, None).unwrap();
        assert_eq!(plain.head.as_ref().unwrap().stage.blocks.len(), 1);
        assert!(!plain.modules.iter().any(dropped));
    }

    /// `mole.module_lambda_x` / `module_lambda_h` set the weights module by module, and a list
    /// of the wrong length is refused with the field's name.
    #[test]
    fn per_module_weights_reach_their_modules() {
        let device = Device::flex().autodiff();
        let weights = |net: &Network| -> Vec<(f64, f64)> {
            (net.modules.iter())
                .map(|m| match &m.objective {
                    Objective::Mole(o) => (o.lambda_x, o.lambda_h),
                    other => panic!("{other:?}"),
                })
                .collect()
        };
        let mut cfg = TrainConfig {
            model: "mlp:8,8,8".into(),
            group: vec![1, 1, 1],
            ..TrainConfig::default()
        };
        cfg.mole.lambda_h = 0.2;
        let net = Network::build(&cfg, &[5], 3, &device, None).unwrap();
        assert_eq!(weights(&net), vec![(0.0, 0.2); 3]);
        cfg.mole.module_lambda_x = vec![0.5, 0.0, -0.1];
        cfg.mole.module_lambda_h = vec![0.3, 0.0, 0.1];
        let net = Network::build(&cfg, &[5], 3, &device, None).unwrap();
        assert_eq!(weights(&net), vec![(0.5, 0.3), (0.0, 0.0), (-0.1, 0.1)]);
        cfg.mole.module_lambda_h = vec![0.3, 0.0];
        let e = Network::build(&cfg, &[5], 3, &device, None)
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("mole.module_lambda_h") && e.contains("2 values") && e.contains("3 modules"),
            "{e}"
        );
    }

    /// The local terms: the loss is `(1 − λ) · objective(projection(T)) + λ · CE(classifier(T))`,
    /// a step trains the projection and the classifier (which starts at 0: CE = ln C), and the
    /// ensemble predicts `log` of the mean of the classifiers' and the head's probabilities.
    #[test]
    fn local_terms_mix_the_losses_train_their_parts_and_ensemble() {
        use crate::objective::{InputCache, Target, cross_entropy};
        use burn::tensor::{Distribution, activation::softmax};
        let device = Device::flex().autodiff();
        device.seed(5);
        let mut cfg = TrainConfig {
            model: "mlp:8,8".into(),
            group: vec![1, 1],
            ..TrainConfig::default()
        };
        cfg.local.lambda_ce = 0.3;
        cfg.local.projection = true;
        cfg.local.ensemble_heads = true;
        let mut net = Network::build(&cfg, &[5], 3, &device, None).unwrap();
        let plain = Device::flex();
        let x = Tensor::<2>::random([12, 5], Distribution::Normal(0.0, 1.0), &plain);
        let labels: Vec<usize> = (0..12).map(|i| i % 3).collect();
        let target = Target {
            x: x.clone(),
            labels: labels.clone(),
            num_classes: 3,
            view: None,
            input_sample: None,
            cache: InputCache::default(),
        };
        let m = &net.modules[0];
        let out = m.stage.forward(Features::Flat(x.clone().autodiff()));
        let (_, diag) = m.local_loss(out.clone(), &target);
        let projected = m.stage.projection.as_ref().unwrap().forward(out.clone());
        let (_, objective) = m.objective.loss(projected, &target);
        let logits = m.stage.classifier.as_ref().unwrap().forward(out);
        let ce = crate::batches::to_host(cross_entropy(logits, &labels)).1[0] as f64;
        assert!(
            (ce - 3f64.ln()).abs() < 1e-5,
            "zero-initialised classifier: {ce}"
        );
        assert!((diag["local_ce"] - ce).abs() < 1e-6);
        let mixed = 0.7 * objective["loss"] + 0.3 * ce;
        assert!(
            (diag["loss"] - mixed).abs() < 1e-5,
            "{} vs {mixed}",
            diag["loss"]
        );
        // HSIC's objective enters in units of its label term: divided by β.
        let hsic_cfg = TrainConfig {
            method: Method::Hsic,
            ..cfg.clone()
        };
        let hsic = Network::build(&hsic_cfg, &[5], 3, &device, None).unwrap();
        let h = &hsic.modules[0];
        let out = h.stage.forward(Features::Flat(x.clone().autodiff()));
        let (_, diag) = h.local_loss(out.clone(), &target);
        let projected = h.stage.projection.as_ref().unwrap().forward(out);
        let (_, objective) = h.objective.loss(projected, &target);
        let mixed = 0.7 * objective["loss"] / hsic_cfg.hsic.beta + 0.3 * 3f64.ln();
        assert!(
            (diag["loss"] - mixed).abs() < 1e-4,
            "{} vs {mixed}",
            diag["loss"]
        );

        let before = crate::params::flat_params(&net.modules[0].stage);
        net.modules[0]
            .step(Features::Flat(x.clone()), &target)
            .unwrap();
        let m = &net.modules[0];
        let weights = |t: Tensor<2>| crate::batches::to_host(t).1;
        let w = weights(m.stage.classifier.as_ref().unwrap().linear.weight.val());
        assert!(w.iter().any(|v| *v != 0.0), "the classifier trained");
        assert_ne!(
            before,
            crate::params::flat_params(&m.stage),
            "the projection trained"
        );

        let h1 = net.modules[0].forward(Features::Flat(x.clone()));
        let h2 = net.modules[1].forward(h1.clone());
        let p1 = net.modules[0].local_probabilities(h1).unwrap();
        let p2 = net.modules[1].local_probabilities(h2.clone()).unwrap();
        let ph = softmax(net.head.as_ref().unwrap().forward(h2).flat(), 1);
        let expected = weights(((p1 + p2 + ph) / 3.0).log());
        let got = weights(net.predict(Features::Flat(x)));
        for (a, b) in got.iter().zip(&expected) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
    }
}
