//! An ensemble of branches under one output: the σ-combined network of the HSIC bottleneck.

use crate::{Block, Features};
use burn::module::Module;

/// One branch: blocks applied in order.
#[derive(Module, Debug)]
pub struct Branch {
    /// Blocks in order.
    pub blocks: Vec<Block>,
}

/// `y = (1/B) Σ_b f_b(x)`: every branch sees the same input; their (flattened) outputs, which
/// must have the same width, are averaged.
#[derive(Module, Debug)]
pub struct EnsembleBlock {
    /// The branches (at least one).
    pub branches: Vec<Branch>,
}

impl EnsembleBlock {
    /// Forward pass; grid outputs are averaged as maps, flat outputs as vectors.
    pub fn forward(&self, x: Features) -> Features {
        let outs: Vec<Features> = self
            .branches
            .iter()
            .map(|b| b.blocks.iter().fold(x.clone(), |h, blk| blk.forward(h)))
            .collect();
        let k = outs.len() as f64;
        match outs.first() {
            Some(Features::Grid(_)) => {
                let sum = outs
                    .into_iter()
                    .map(Features::grid)
                    .reduce(|a, b| a + b)
                    .expect("at least one branch");
                Features::Grid(sum.div_scalar(k))
            }
            _ => {
                let sum = outs
                    .into_iter()
                    .map(Features::flat)
                    .reduce(|a, b| a + b)
                    .expect("at least one branch");
                Features::Flat(sum.div_scalar(k))
            }
        }
    }
}
