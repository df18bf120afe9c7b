//! Graph isomorphism network layer (Xu et al. 2019):
//! `H'_v = act(BN(MLP((1 + ε) h_v + Σ_{u ∈ N(v)} h_u)))`, `MLP = Linear → BN → ReLU → Linear`,
//! ε learnable (initialised to 0).

use crate::gnn::{GnnConfig, GnnTail};
use crate::graph_batch::{GraphBatch, propagate};
use burn::module::{Module, Param};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

/// A GIN layer.
#[derive(Module, Debug)]
pub struct GinBlock {
    /// ε of the self term, `[1]`.
    pub epsilon: Param<Tensor<1>>,
    /// First linear map of the MLP.
    pub linear1: Linear,
    /// Batch norm inside the MLP (when batch norm is on).
    pub norm1: Option<BatchNorm>,
    /// Second linear map of the MLP.
    pub linear2: Linear,
    /// Outer batch norm, activation, dropout.
    pub tail: GnnTail,
}

impl GnnConfig {
    /// A GIN layer with fresh weights; the MLP's hidden width is the output width.
    pub fn init_gin(&self, device: &Device) -> GinBlock {
        GinBlock {
            epsilon: Param::from_tensor(Tensor::zeros([1], device)),
            linear1: LinearConfig::new(self.d_input, self.d_output).init(device),
            norm1: self
                .batch_norm
                .then(|| BatchNormConfig::new(self.d_output).init(device)),
            linear2: LinearConfig::new(self.d_output, self.d_output).init(device),
            tail: self.tail(device),
        }
    }
}

impl GinBlock {
    /// `act(BN(MLP((1 + ε) h + Σ neighbours)))` over the nodes of `graph`.
    pub fn forward(&self, x: Tensor<2>, graph: &GraphBatch) -> Tensor<2> {
        let x = self.tail.drop(x);
        let neighbours = propagate(x.clone(), &graph.src, &graph.dst, None);
        let scale = self.epsilon.val().add_scalar(1.0).unsqueeze::<2>();
        let h = x * scale + neighbours;
        let mut h = self.linear1.forward(h);
        if let Some(norm) = &self.norm1 {
            h = crate::batch_norm::batch_norm_2d(norm, h);
        }
        let h = self.linear2.forward(relu(h));
        self.tail.finish(h)
    }
}
