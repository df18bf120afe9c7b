//! [`Block`]: the layers of one module, as one enum so a module can hold any kind.

use crate::{
    ConvBlock, DenseBlock, EnsembleBlock, Features, GcnBlock, GinBlock, GraphBatch, ReadoutBlock,
    ResidualBlock, SageBlock,
};
use burn::module::Module;

/// One layer (or fused group of layers) of a network.
// A network holds a handful of blocks, so the size of the largest variant does not matter, and
// `#[derive(Module)]` cannot see through a `Box`.
#[allow(clippy::large_enum_variant)]
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
    /// Graph convolution (needs a graph).
    Gcn(GcnBlock),
    /// Graph isomorphism layer (needs a graph).
    Gin(GinBlock),
    /// GraphSAGE-mean layer (needs a graph).
    Sage(SageBlock),
    /// Per-graph pooling of node rows into graph rows (needs a graph).
    Readout(ReadoutBlock),
    /// Dropout (training only), e.g. on the input of a graph network's classifier head.
    Dropout(burn::nn::Dropout),
}

impl Block {
    /// Forward pass.
    pub fn forward(&self, x: Features) -> Features {
        self.forward_graph(x, None)
    }

    /// Forward pass with the graph context of GNN blocks (ignored by the others).
    ///
    /// # Panics
    /// When a GNN block or a readout gets no graph: model specs with GNN layers are only built
    /// for graph datasets.
    pub fn forward_graph(&self, x: Features, graph: Option<&GraphBatch>) -> Features {
        let need =
            || graph.expect("a GNN block needs a graph; the model spec should have been rejected");
        match self {
            Block::Dense(b) => b.forward(x),
            Block::Conv(b) => b.forward(x),
            Block::Residual(b) => b.forward(x),
            Block::Ensemble(b) => b.forward(x),
            Block::Gcn(b) => Features::Flat(b.forward(x.flat(), need())),
            Block::Gin(b) => Features::Flat(b.forward(x.flat(), need())),
            Block::Sage(b) => Features::Flat(b.forward(x.flat(), need())),
            Block::Readout(b) => Features::Flat(b.forward(x.flat(), need())),
            Block::Dropout(d) => crate::features::dropped(x, Some(d)),
        }
    }
}
