//! [`Block`]: the layers of one module, as one enum so a module can hold any kind.

use crate::{DenseBlock, Features};
use burn::module::Module;

/// One layer (or fused group of layers) of a network.
#[derive(Module, Debug)]
pub enum Block {
    /// Fully connected block (flattens feature maps first).
    Dense(DenseBlock),
}

impl Block {
    /// Forward pass.
    pub fn forward(&self, x: Features) -> Features {
        match self {
            Block::Dense(b) => b.forward(x),
        }
    }
}
