//! GraphSAGE with mean aggregation (Hamilton et al. 2017):
//! `H'_v = act(BN(h_v W_self + mean_{u ∈ N(v)} h_u W_neigh + b))`; isolated nodes aggregate 0.

use crate::gnn::{GnnConfig, GnnTail};
use crate::graph_batch::{GraphBatch, propagate};
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};

/// A GraphSAGE-mean layer.
#[derive(Module, Debug)]
pub struct SageBlock {
    /// `W_self` and `b`.
    pub self_linear: Linear,
    /// `W_neigh` (no bias).
    pub neighbour_linear: Linear,
    /// Batch norm, activation, dropout.
    pub tail: GnnTail,
}

impl GnnConfig {
    /// A GraphSAGE-mean layer with fresh weights.
    pub fn init_sage(&self, device: &Device) -> SageBlock {
        SageBlock {
            self_linear: LinearConfig::new(self.d_input, self.d_output).init(device),
            neighbour_linear: LinearConfig::new(self.d_input, self.d_output)
                .with_bias(false)
                .init(device),
            tail: self.tail(device),
        }
    }
}

impl SageBlock {
    /// `act(BN(h W_self + mean(neighbours) W_neigh + b))` over the nodes of `graph`.
    pub fn forward(&self, x: Tensor<2>, graph: &GraphBatch) -> Tensor<2> {
        let x = self.tail.drop(x);
        let mean = propagate(x.clone(), &graph.src, &graph.dst, Some(&graph.mean_weight));
        let h = self.self_linear.forward(x) + self.neighbour_linear.forward(mean);
        self.tail.finish(h)
    }
}
