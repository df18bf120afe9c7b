//! [`Block`]: the layers of one module, as one enum so a module can hold any kind.

use crate::{ConvBlock, DenseBlock, EnsembleBlock, Features, ResidualBlock};
use burn::module::Module;

/// One layer (or fused group of layers) of a network.
#[derive(Module, Debug)]
pub enum Block {
    /// Fully connected block (flattens feature maps first).
    Dense(DenseBlock),
    /// Convolution, batch norm, activation, optional pooling.
    Conv(ConvBlock),
    /// Residual convolution with an identity shortcut.
    Residual(ResidualBlock),
    /// Several branches on the same input, outputs averaged (σ-combined HSIC networks).
    Ensemble(EnsembleBlock),
}

impl Block {
    /// Forward pass.
    pub fn forward(&self, x: Features) -> Features {
        match self {
            Block::Dense(b) => b.forward(x),
            Block::Conv(b) => b.forward(x),
            Block::Residual(b) => b.forward(x),
            Block::Ensemble(b) => b.forward(x),
        }
    }
}
