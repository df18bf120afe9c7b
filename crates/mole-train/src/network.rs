//! [`Network`]: the modules in order plus the head, built from a config.

use crate::config::{Method, TrainConfig};
use crate::module::{LocalModule, make_optimizer};
use crate::objective::{HsicObjective, MoleObjective, Objective, ObjectiveError};
use burn::nn::DropoutConfig;
use burn::tensor::{Device, Tensor};
use mole_nn::{
    Activation, Block, Branch, BuildOptions, DenseConfig, EnsembleBlock, Features, GnnConfig,
    GraphBatch, ModelSpec, Readout, ReadoutBlock, SpecError,
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
        // On graph data `dropout` applies to the input of every layer, the head's included
        // (as in Kipf & Welling's GCN, whose classifier is the last dropout-fed layer); a GCN
        // head has its own.
        let head_dropout = || {
            (spec.is_graph() && cfg.dropout > 0.0 && cfg.head == "linear")
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
            });
        }
        let objective = match cfg.method {
            Method::Mole => Objective::Mole(MoleObjective::from_settings(&cfg.mole)?),
            Method::Hsic => Objective::Hsic(HsicObjective::from_settings(
                &cfg.hsic,
                sigma.unwrap_or(cfg.hsic.sigma),
            )),
            Method::Bp => unreachable!(),
        };
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
            output_shapes.push(shape);
            let mut objective = objective.clone();
            if let Objective::Mole(m) = &mut objective {
                // Module k's entry of a per-module list, else the network-wide weight.
                let pick = |values: &[f64], all: f64| values.get(k).copied().unwrap_or(all);
                m.lambda_x = pick(&cfg.mole.module_lambda_x, m.lambda_x);
                m.lambda_h = pick(&cfg.mole.module_lambda_h, m.lambda_h);
            }
            modules.push(LocalModule::new(
                format!("module {}", k + 1),
                blocks,
                objective,
                make_optimizer(cfg),
                cfg.lr(),
            ));
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
            Objective::Hsic(HsicObjective::from_settings(&cfg.hsic, cfg.hsic.sigma)),
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
        let h = self.forward_to_graph(x, graph, self.modules.len());
        match &self.head {
            Some(head) => head.forward_graph(h, graph).flat(),
            None => h.flat(),
        }
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
        cfg.model = "mlp:8".into();
        let mlp = Network::build(&cfg, &[5], 3, &device, None).unwrap();
        assert_eq!(
            mlp.head.as_ref().unwrap().stage.blocks.len(),
            1,
            "vector heads unchanged"
        );
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
}
