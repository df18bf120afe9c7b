//! Blocks for mole: the layers a module is made of. Each block is a burn `Module` with a plain
//! `forward`; blocks know nothing of objectives or of other modules.

pub mod activation;
pub mod block;
pub mod dense;
pub mod features;
pub mod spec;

pub use activation::Activation;
pub use block::Block;
pub use dense::{DenseBlock, DenseConfig, freeze_affine};
pub use features::Features;
pub use spec::{BuildOptions, LayerSpec, ModelSpec, SpecError};
