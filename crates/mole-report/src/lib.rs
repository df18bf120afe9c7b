//! mole-report: pictures and pages from a run directory written by `mole train`.
//!
//! It reads only the run directory (`metrics.csv`, `summary.json`, `config.toml`,
//! `embeddings.safetensors`) and never trains. [`make_report`] draws the t-SNE pictures (with
//! silhouette scores), the information plane and the learning curves and writes `report.html`;
//! [`compare::compare_runs`] puts several runs in one table and chart.

pub mod compare;
pub mod embeddings;
mod error;
pub mod figures;
pub mod fsutil;
pub mod html;
pub mod metrics;
pub mod plots;
pub mod report;
pub mod run_dir;
pub mod sample;
pub mod silhouette;
pub mod tsne;

pub use error::ReportError;
pub use report::{Report, ReportOptions, TsneResult, make_report};
pub use run_dir::RunData;
pub use tsne::TsneOptions;
