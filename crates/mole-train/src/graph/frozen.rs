//! The frozen modules' node outputs on graph data, computed once for the learner above them
//! (the greedy schedule's next module, the head's epochs on the frozen network) instead of on
//! every step of its epochs.
//!
//! A node's output depends on its own graph alone (message passing stays within a graph;
//! inference batch normalisation is per feature), so the outputs over all training graphs at
//! once, gathered by graph for a step, are the outputs the step's own forward pass gives.

use super::source::{GraphSource, GraphStep, rows_tensor};
use crate::network::Network;
use burn::tensor::{Device, Tensor};
use mole_nn::Features;
use std::collections::HashMap;

/// Modules `0..below`'s outputs over the training data.
pub struct FrozenNodes {
    below: usize,
    outputs: Outputs,
}

enum Outputs {
    /// A node-level task: every step's input is the whole graph, and so is this.
    Whole(Features),
    /// A graph-level task: the node rows of every training graph, and where each graph's lie.
    Graphs {
        rows: Tensor<2>,
        at: HashMap<usize, (usize, usize)>,
    },
}

impl FrozenNodes {
    /// Modules `0..below`'s outputs over `train` (the training evaluation step of `source`), or
    /// `None` when they would take more than `budget_bytes`.
    pub fn compute(
        net: &Network,
        source: &GraphSource<'_>,
        train: &GraphStep,
        below: usize,
        budget_bytes: usize,
    ) -> Option<Self> {
        let nodes = train.input.batch_size();
        let width: usize = net.output_shapes[below.checked_sub(1)?].iter().product();
        if nodes.saturating_mul(width).saturating_mul(4) > budget_bytes {
            return None;
        }
        let out = net.forward_to_graph(train.input.clone(), Some(&train.graph), below);
        let outputs = match source.training_graph_rows() {
            None => Outputs::Whole(out),
            Some(at) => Outputs::Graphs {
                rows: out.flat(),
                at,
            },
        };
        Some(FrozenNodes { below, outputs })
    }

    /// The learner above modules `0..below`: whether these are its inputs.
    pub fn serves(&self, below: usize) -> bool {
        self.below == below
    }

    /// The input of the learner above the frozen modules on `step`, or `None` when a graph of
    /// the step is not a training graph.
    pub fn input(&self, step: &GraphStep, device: &Device) -> Option<Features> {
        match &self.outputs {
            Outputs::Whole(out) => Some(out.clone()),
            Outputs::Graphs { rows, at } => {
                let mut idx = Vec::with_capacity(step.input.batch_size());
                for g in &step.graphs {
                    let &(first, nodes) = at.get(g)?;
                    idx.extend(first..first + nodes);
                }
                Some(Features::Flat(
                    rows.clone().select(0, rows_tensor(&idx, device)),
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Method, TrainConfig};
    use mole_data::graph::{Graph, GraphSet};
    use mole_nn::Readout;

    /// Ten small graphs (paths and rings of 3 to 7 nodes) with 3 features per node.
    fn graphs() -> GraphSet {
        let mut set = GraphSet {
            graphs: Vec::new(),
            features: Vec::new(),
            dim: 3,
            labels: Vec::new(),
            num_classes: 2,
        };
        for g in 0..10usize {
            let n = 3 + g % 5;
            let mut edges = Vec::new();
            for i in 0..n - 1 + g % 2 {
                let j = (i + 1) % n;
                edges.extend([(i, j), (j, i)]);
            }
            set.graphs.push(Graph {
                num_nodes: n,
                edges,
            });
            set.features.push(
                (0..n * 3)
                    .map(|v| ((v * 7 + g * 13) % 11) as f32 / 11.0 - 0.5)
                    .collect(),
            );
            set.labels.push(g % 2);
        }
        set
    }

    /// Gathered by graph from the outputs over all training graphs, a step's input is the one
    /// its own forward pass gives, value for value; a graph outside the training set is refused.
    #[test]
    fn kept_outputs_gathered_by_graph_are_the_steps_own() {
        let set = graphs();
        let source = GraphSource::Graphs {
            data: &set,
            train: vec![0, 2, 3, 5, 6, 8, 9],
            val: vec![1],
            test: vec![4, 7],
            readout: Readout::Sum,
            aggregate: false,
        };
        let device = Device::flex().autodiff();
        device.seed(5);
        let cfg = TrainConfig {
            method: Method::Mole,
            model: "gin:8,6".into(),
            group: vec![1, 1],
            ..TrainConfig::default()
        };
        let net = Network::build_graph(&cfg, 3, 2, &device, Some(Readout::Sum)).unwrap();
        let plain = Device::flex();
        let train = source.eval_step(false, &plain);
        for below in [1, 2] {
            let kept = FrozenNodes::compute(&net, &source, &train, below, usize::MAX).unwrap();
            assert!(kept.serves(below) && !kept.serves(3 - below));
            let step = source.step(&[8, 3, 0], &plain);
            let own = net
                .forward_to_graph(step.input.clone(), Some(&step.graph), below)
                .flat();
            let gathered = kept.input(&step, &plain).unwrap().flat();
            assert_eq!(gathered.dims(), own.dims());
            assert_eq!(gathered.into_data(), own.into_data(), "below {below}");
            assert!(kept.input(&source.step(&[4], &plain), &plain).is_none());
        }
        // Nothing is kept over the budget: 7 training graphs' nodes, 6 outputs each.
        let nodes = train.input.batch_size();
        assert!(FrozenNodes::compute(&net, &source, &train, 2, nodes * 6 * 4).is_some());
        assert!(FrozenNodes::compute(&net, &source, &train, 2, nodes * 6 * 4 - 1).is_none());
    }
}
