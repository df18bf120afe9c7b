//! Batches of graph data for the schedules: the node features, the graph context and the
//! targets of one local step, for node-level tasks (the whole graph every step, the objective
//! on the labelled training nodes, sampled when there are more than `batch_size`) and for
//! graph-level tasks (block-diagonal batches of `batch_size` graphs).

use crate::batches::epoch_batches;
use crate::config::TrainConfig;
use crate::objective::{InputSample, Target, TargetView};
use burn::tensor::{Device, Int, Tensor, TensorData};
use mole_data::graph::{GraphSet, NodeDataset};
use mole_nn::graph_batch::propagate;
use mole_nn::{Features, GraphBatch, Readout};

/// One local step's data.
#[derive(Clone, Debug)]
pub struct GraphStep {
    /// Node features `[nodes, d]`.
    pub input: Features,
    /// The graph context of the nodes.
    pub graph: GraphBatch,
    /// What the local (MOLE/HSIC) objectives score: the training nodes, or the pooled graphs.
    pub module_target: Target,
    /// What cross-entropy (head, backprop) scores: class scores of the same items.
    pub head_target: Target,
    /// Labelled items (nodes or graphs) in the step.
    pub items: usize,
    /// The graphs of a graph-level step, in the order of their node rows (empty on node-level
    /// tasks, whose steps all hold the whole graph).
    pub graphs: Vec<usize>,
}

/// Where a graph task's steps and evaluation batches come from.
// One value per run: the size of the node-level variant does not matter.
#[allow(clippy::large_enum_variant)]
pub enum GraphSource<'a> {
    /// Node classification on one graph.
    Nodes {
        /// The graph and its features.
        x: Features,
        /// The graph context.
        graph: GraphBatch,
        /// `x` or its neighbourhood aggregate: the X of the objectives.
        x_target: Tensor<2>,
        /// Node labels.
        labels: Vec<usize>,
        /// Number of classes.
        num_classes: usize,
        /// Labelled training nodes.
        train: Vec<usize>,
        /// Validation nodes (they pick the head's epoch).
        val: Vec<usize>,
        /// Test nodes.
        test: Vec<usize>,
        /// The input terms score a sample of all nodes (`x_nodes = "all"`).
        x_all: bool,
    },
    /// Graph classification.
    Graphs {
        /// The graphs.
        data: &'a GraphSet,
        /// Training graphs.
        train: Vec<usize>,
        /// Validation graphs, held out of the training folds (they pick the head's epoch).
        val: Vec<usize>,
        /// Test graphs.
        test: Vec<usize>,
        /// The pooling of the objectives and the head.
        readout: Readout,
        /// Use the neighbourhood aggregate of the input as X.
        aggregate: bool,
    },
}

/// Row indices as an index tensor.
pub(crate) fn rows_tensor(rows: &[usize], device: &Device) -> Tensor<1, Int> {
    let v: Vec<i64> = rows.iter().map(|&r| r as i64).collect();
    Tensor::from_data(TensorData::new(v, [rows.len()]), device)
}

/// `D^-1/2 (A+I) D^-1/2 X`: the GCN-normalised neighbourhood aggregate of the input.
fn aggregate(x: Tensor<2>, graph: &GraphBatch) -> Tensor<2> {
    propagate(x, &graph.loop_src, &graph.loop_dst, Some(&graph.gcn_weight))
}

impl<'a> GraphSource<'a> {
    /// A node-level source over `data` with the given training, validation and test nodes.
    pub fn nodes(
        cfg: &TrainConfig,
        data: &NodeDataset,
        train: Vec<usize>,
        val: Vec<usize>,
        test: Vec<usize>,
        device: &Device,
    ) -> Self {
        let n = data.graph.num_nodes;
        let x: Tensor<2> = Tensor::from_data(
            TensorData::new(data.features.clone(), [n, data.dim]),
            device,
        );
        let graph = GraphBatch::single(&data.graph, device);
        let x_target = if cfg.mole.joint_target == "label+aggregate" {
            aggregate(x.clone(), &graph)
        } else {
            x.clone()
        };
        GraphSource::Nodes {
            x: Features::Flat(x),
            graph,
            x_target,
            labels: data.labels.clone(),
            num_classes: data.num_classes,
            train,
            val,
            test,
            x_all: cfg.x_nodes == "all",
        }
    }

    /// Number of classes.
    pub fn num_classes(&self) -> usize {
        match self {
            GraphSource::Nodes { num_classes, .. } => *num_classes,
            GraphSource::Graphs { data, .. } => data.num_classes,
        }
    }

    /// Width of the node features.
    pub fn input_width(&self) -> usize {
        match self {
            GraphSource::Nodes { x, .. } => x.width(),
            GraphSource::Graphs { data, .. } => data.dim,
        }
    }

    /// Training and test items (nodes or graphs).
    pub fn sizes(&self) -> (usize, usize) {
        match self {
            GraphSource::Nodes { train, test, .. } | GraphSource::Graphs { train, test, .. } => {
                (train.len(), test.len())
            }
        }
    }

    /// The steps of one epoch.
    pub fn epoch(
        &self,
        cfg: &TrainConfig,
        seed: u64,
        epoch: usize,
        device: &Device,
    ) -> Vec<GraphStep> {
        match self {
            GraphSource::Nodes {
                train,
                x_all,
                x_target,
                ..
            } => {
                let step_seed = seed.wrapping_mul(1_000_003).wrapping_add(epoch as u64);
                let rows: Vec<usize> = if train.len() > cfg.batch_size {
                    let perm = mole_data::split::permutation(train.len(), step_seed);
                    perm[..cfg.batch_size].iter().map(|&i| train[i]).collect()
                } else {
                    train.clone()
                };
                let mut step = self.step(&rows, device);
                if *x_all {
                    // Semi-supervised input terms: `batch_size` nodes of the whole graph.
                    let n = x_target.dims()[0];
                    let mut sample = mole_data::split::permutation(n, step_seed ^ 0x5eed);
                    sample.truncate(cfg.batch_size.min(n));
                    let rows = rows_tensor(&sample, device);
                    step.module_target.input_sample = Some(InputSample {
                        x: x_target.clone().select(0, rows.clone()),
                        view: TargetView::Rows(rows),
                    });
                }
                vec![step]
            }
            GraphSource::Graphs { train, .. } => {
                epoch_batches(train.len(), cfg.batch_size, seed, epoch)
                    .into_iter()
                    .map(|b| {
                        let ids: Vec<usize> = b.iter().map(|&i| train[i]).collect();
                        self.step(&ids, device)
                    })
                    .collect()
            }
        }
    }

    /// The step over `items`: node ids (node-level) or graph ids (graph-level).
    pub fn step(&self, items: &[usize], device: &Device) -> GraphStep {
        match self {
            GraphSource::Nodes {
                x,
                graph,
                x_target,
                labels,
                num_classes,
                ..
            } => {
                let rows = rows_tensor(items, device);
                let target = Target {
                    x: x_target.clone().select(0, rows.clone()),
                    labels: items.iter().map(|&i| labels[i]).collect(),
                    num_classes: *num_classes,
                    view: Some(TargetView::Rows(rows)),
                    input_sample: None,
                    cache: Default::default(),
                };
                GraphStep {
                    input: x.clone(),
                    graph: graph.clone(),
                    module_target: target.clone(),
                    head_target: target,
                    items: items.len(),
                    graphs: Vec::new(),
                }
            }
            GraphSource::Graphs {
                data,
                readout,
                aggregate: agg,
                ..
            } => {
                let merged = data.merge(items);
                let n = merged.graph.num_nodes;
                let x: Tensor<2> =
                    Tensor::from_data(TensorData::new(merged.features, [n, data.dim]), device);
                let graph =
                    GraphBatch::new(&merged.graph, &merged.node_graph, merged.num_graphs, device);
                let xs = if *agg {
                    aggregate(x.clone(), &graph)
                } else {
                    x.clone()
                };
                let head_target = Target {
                    x: readout.pool(xs, &graph),
                    labels: merged.labels,
                    num_classes: data.num_classes,
                    view: None,
                    input_sample: None,
                    cache: Default::default(),
                };
                let mut module_target = head_target.clone();
                module_target.view = Some(TargetView::Pooled(*readout, Box::new(graph.clone())));
                GraphStep {
                    input: Features::Flat(x),
                    graph,
                    module_target,
                    head_target,
                    items: items.len(),
                    graphs: items.to_vec(),
                }
            }
        }
    }

    /// Where each training graph's nodes lie among the rows of the training evaluation step
    /// ([`GraphSource::eval_step`] of the training set): `(first row, nodes)` by graph id. `None`
    /// on node-level tasks.
    pub fn training_graph_rows(&self) -> Option<std::collections::HashMap<usize, (usize, usize)>> {
        match self {
            GraphSource::Nodes { .. } => None,
            GraphSource::Graphs { data, train, .. } => {
                let mut first = 0;
                Some(
                    train
                        .iter()
                        .map(|&g| {
                            let nodes = data.graphs[g].num_nodes;
                            first += nodes;
                            (g, (first - nodes, nodes))
                        })
                        .collect(),
                )
            }
        }
    }

    /// The whole test set (or training set) as one evaluation step.
    pub fn eval_step(&self, test: bool, device: &Device) -> GraphStep {
        let items = match self {
            GraphSource::Nodes { train, test: t, .. }
            | GraphSource::Graphs { train, test: t, .. } => {
                if test {
                    t.clone()
                } else {
                    train.clone()
                }
            }
        };
        self.step(&items, device)
    }

    /// The validation items as one evaluation step (none when there are none).
    pub fn val_step(&self, device: &Device) -> Option<GraphStep> {
        match self {
            GraphSource::Nodes { val, .. } | GraphSource::Graphs { val, .. } => {
                (!val.is_empty()).then(|| self.step(val, device))
            }
        }
    }
}
