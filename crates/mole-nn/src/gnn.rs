//! Settings shared by the GNN blocks and the common tail `activation(BN(h))` they end with.

use crate::{Activation, freeze_affine};
use burn::module::Module;
use burn::nn::{BatchNorm, BatchNormConfig, Dropout, DropoutConfig};
use burn::tensor::{Device, Tensor};

/// Settings of a GNN block ([`crate::GcnBlock`], [`crate::GinBlock`], [`crate::SageBlock`]).
#[derive(Clone, Debug)]
pub struct GnnConfig {
    /// Input width.
    pub d_input: usize,
    /// Output width.
    pub d_output: usize,
    /// Batch normalisation over the nodes after aggregation.
    pub batch_norm: bool,
    /// Learnable scale and shift in the batch normalisation.
    pub affine: bool,
    /// Non-linearity at the end.
    pub activation: Activation,
    /// Dropout probability on the block's input (training only).
    pub dropout: f64,
}

/// The tail of a GNN block: `activation(BN(h))`, plus the dropout applied to its input.
#[derive(Module, Debug)]
pub struct GnnTail {
    /// Optional batch normalisation.
    pub norm: Option<BatchNorm>,
    /// Dropout on the block input.
    pub dropout: Dropout,
    /// Non-linearity.
    #[module(skip)]
    pub activation: Activation,
}

impl GnnConfig {
    /// The tail for this config.
    pub fn tail(&self, device: &Device) -> GnnTail {
        GnnTail {
            norm: self.batch_norm.then(|| {
                let bn = BatchNormConfig::new(self.d_output).init(device);
                if self.affine { bn } else { freeze_affine(bn) }
            }),
            dropout: DropoutConfig::new(self.dropout).init(),
            activation: self.activation,
        }
    }
}

impl GnnTail {
    /// Dropout on the block input (identity at inference).
    pub fn drop(&self, x: Tensor<2>) -> Tensor<2> {
        crate::dropout::dropout(&self.dropout, x)
    }

    /// `activation(BN(h))`.
    pub fn finish(&self, mut h: Tensor<2>) -> Tensor<2> {
        if let Some(norm) = &self.norm {
            h = crate::batch_norm::batch_norm_2d(norm, h);
        }
        self.activation.apply(h)
    }
}
