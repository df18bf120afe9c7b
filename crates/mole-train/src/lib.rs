//! Training for mole: local objectives, local modules, the network and its head, schedules,
//! and the run directory. Data flows one way: data → modules → objectives → schedule → run.

pub mod adam;
pub mod batches;
pub mod config;
pub mod data;
pub mod defaults;
pub mod early_stop;
pub mod evaluate;
pub mod graph;
pub mod head_inputs;
pub mod memory;
pub mod module;
pub mod network;
pub mod objective;
pub mod params;
pub mod resume;
pub mod run;
pub mod schedule;
pub mod session;
pub mod snapshot;
pub mod stop;
pub mod train;
pub mod transport;

pub use config::{Method, ScheduleKind, TrainConfig};
pub use module::{LocalModule, Stage};
pub use network::Network;
pub use objective::{Objective, Target};
pub use run::RunDir;
pub use train::{Summary, train};
