//! Graph convolution (Kipf & Welling 2017): `H' = act(BN(Â · dropout(H) W + b))` with
//! `Â = D^-1/2 (A + I) D^-1/2`.

use crate::gnn::{GnnConfig, GnnTail};
use crate::graph_batch::{GraphBatch, propagate};
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};

/// A GCN layer.
#[derive(Module, Debug)]
pub struct GcnBlock {
    /// `W` (`[d_in, d_out]`) and `b`, the bias added after propagation.
    pub linear: Linear,
    /// Batch norm, activation, dropout.
    pub tail: GnnTail,
}

impl GnnConfig {
    /// A GCN layer with fresh weights.
    pub fn init_gcn(&self, device: &Device) -> GcnBlock {
        GcnBlock {
            linear: LinearConfig::new(self.d_input, self.d_output).init(device),
            tail: self.tail(device),
        }
    }
}

impl GcnBlock {
    /// `act(BN(Â X W + b))` over the nodes of `graph`.
    pub fn forward(&self, x: Tensor<2>, graph: &GraphBatch) -> Tensor<2> {
        let h = self.tail.drop(x).matmul(self.linear.weight.val());
        let mut h = propagate(h, &graph.loop_src, &graph.loop_dst, Some(&graph.gcn_weight));
        if let Some(b) = &self.linear.bias {
            h = h + b.val().unsqueeze::<2>();
        }
        self.tail.finish(h)
    }
}
