//! Datasets for mole: loaders for the canonical formats (IDX, label-last CSV, CIFAR-10 binary, LINQS citation graphs, TU Dortmund graph sets),
//! seeded stratified splits and standardisation. Plain data, no tensors: the training crate turns
//! batches into tensors.

pub mod augment;
pub mod cifar;
pub mod csv;
pub mod dataset;
pub mod error;
pub mod graph;
pub mod idx;
pub mod linqs;
pub mod registry;
pub mod split;
pub mod tu;

pub use csv::{HeaderMode, LabelColumn};
pub use dataset::{Dataset, SampleShape, Split};
pub use error::{DataError, Result};
pub use graph::{GraphData, GraphSet, NodeDataset, NodeSplit};
pub use registry::{
    DataOptions, NAMED_DATASETS, default_data_dir, is_graph_dataset, load, load_graph,
};
