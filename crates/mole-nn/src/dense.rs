//! A fully connected block: `activation(norm(x Wᵀ + b))` (the normalisation fused, see
//! [`crate::batch_norm`]).

use crate::{Activation, Features};
use burn::module::Module;
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig};
use burn::tensor::{Device, Tensor};

/// Settings of a [`DenseBlock`].
#[derive(Clone, Debug)]
pub struct DenseConfig {
    /// Input width.
    pub d_input: usize,
    /// Output width.
    pub d_output: usize,
    /// Batch normalisation after the linear map.
    pub batch_norm: bool,
    /// Learnable scale and shift in the batch normalisation (the HSIC code uses none).
    pub affine: bool,
    /// Non-linearity at the end.
    pub activation: Activation,
}

/// `y = activation(BN(x Wᵀ + b))`; flat input (feature maps are flattened first).
#[derive(Module, Debug)]
pub struct DenseBlock {
    /// Dropout on the input (training only; `dropout` on every layer but the first).
    pub input_dropout: Option<burn::nn::Dropout>,
    /// The linear map.
    pub linear: Linear,
    /// Optional batch normalisation.
    pub norm: Option<BatchNorm>,
    /// Non-linearity.
    #[module(skip)]
    pub activation: Activation,
}

impl DenseConfig {
    /// Builds the block with freshly initialised weights.
    pub fn init(&self, device: &Device) -> DenseBlock {
        let norm = self.batch_norm.then(|| {
            let bn = BatchNormConfig::new(self.d_output).init(device);
            if self.affine { bn } else { freeze_affine(bn) }
        });
        DenseBlock {
            input_dropout: None,
            linear: LinearConfig::new(self.d_input, self.d_output).init(device),
            norm,
            activation: self.activation,
        }
    }
}

/// Makes a batch norm's scale and shift constants (γ = 1, β = 0): `BN(affine = False)`.
pub fn freeze_affine(bn: BatchNorm) -> BatchNorm {
    let BatchNorm {
        gamma,
        beta,
        training,
        running_mean,
        running_var,
        momentum,
        epsilon,
    } = bn;
    BatchNorm {
        gamma: gamma.set_require_grad(false),
        beta: beta.set_require_grad(false),
        training,
        running_mean,
        running_var,
        momentum,
        epsilon,
    }
}

impl DenseBlock {
    /// Forward pass on a batch.
    pub fn forward(&self, x: Features) -> Features {
        let x = crate::features::dropped(x, self.input_dropout.as_ref());
        let mut h: Tensor<2> = self.linear.forward(x.flat());
        if let Some(norm) = &self.norm {
            h = crate::batch_norm::batch_norm_2d(norm, h);
        }
        Features::Flat(self.activation.apply(h))
    }
}
