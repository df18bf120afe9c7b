//! Blocks for mole: the layers a module is made of. Each block is a burn `Module` with a plain
//! `forward`; blocks know nothing of objectives or of other modules.

pub mod activation;
pub mod batch_norm;
pub mod block;
pub mod conv;
pub mod dense;
pub mod dropout;
pub mod ensemble;
pub mod features;
pub mod gcn;
pub mod gin;
pub mod gnn;
pub mod graph_batch;
pub mod local_heads;
pub mod pool;
pub mod readout;
pub mod residual;
pub mod sage;
pub mod spec;

pub use activation::Activation;
pub use block::Block;
pub use conv::{ConvBlock, ConvConfig};
pub use dense::{DenseBlock, DenseConfig, freeze_affine};
pub use ensemble::{Branch, EnsembleBlock};
pub use features::Features;
pub use gcn::GcnBlock;
pub use gin::GinBlock;
pub use gnn::{GnnConfig, GnnTail};
pub use graph_batch::GraphBatch;
pub use local_heads::{CLASSIFIER_INPUT, LocalClassifier, Projection};
pub use pool::Pool;
pub use readout::{Readout, ReadoutBlock};
pub use residual::{ResidualBlock, ResidualConfig};
pub use sage::SageBlock;
pub use spec::{BuildOptions, LayerSpec, ModelSpec, SpecError};
