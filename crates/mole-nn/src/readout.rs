//! Graph readouts: one vector per graph from its node vectors.
//!
//! - sum: `r_g = Σ_{v ∈ g} h_v`;
//! - mean: `r_g = (1/|g|) Σ_{v ∈ g} h_v`;
//! - max: `r_g = max_{v ∈ g} h_v` (element-wise).

use crate::graph_batch::{GraphBatch, like_device, pad_value};
use burn::module::Module;
use burn::tensor::{IndexingUpdateOp, Tensor};

/// Which pooling a readout uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Readout {
    /// Sum over the graph's nodes.
    Sum,
    /// Mean over the graph's nodes.
    #[default]
    Mean,
    /// Element-wise maximum over the graph's nodes.
    Max,
}

impl std::str::FromStr for Readout {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "sum" => Ok(Readout::Sum),
            "mean" => Ok(Readout::Mean),
            "max" => Ok(Readout::Max),
            other => Err(format!("unknown readout '{other}' (sum, mean, max)")),
        }
    }
}

impl Readout {
    /// Pools node rows `[N, d]` into graph rows `[G, d]`.
    pub fn pool(&self, x: Tensor<2>, graph: &GraphBatch) -> Tensor<2> {
        let [_, d] = x.dims();
        let g = graph.num_graphs;
        match self {
            Readout::Sum | Readout::Mean => {
                let zeros = Tensor::<2>::zeros([g, d], &x.device());
                let sum = zeros.select_assign(
                    0,
                    graph.node_graph.clone(),
                    x.clone(),
                    IndexingUpdateOp::Add,
                );
                if *self == Readout::Mean {
                    sum / like_device(graph.graph_sizes.clone(), &x)
                } else {
                    sum
                }
            }
            Readout::Max => {
                let pad = Tensor::<2>::full([1, d], pad_value(), &x.device());
                let extended = Tensor::cat(vec![x, pad], 0);
                extended
                    .select(0, graph.pad_index.clone())
                    .reshape([g, graph.max_nodes, d])
                    .max_dim(1)
                    .reshape([g, d])
            }
        }
    }
}

/// A parameter-free block that pools node rows into graph rows.
#[derive(Module, Debug)]
pub struct ReadoutBlock {
    /// The pooling.
    #[module(skip)]
    pub readout: Readout,
}

impl ReadoutBlock {
    /// Pools `x` per graph of `graph`.
    pub fn forward(&self, x: Tensor<2>, graph: &GraphBatch) -> Tensor<2> {
        self.readout.pool(x, graph)
    }
}
