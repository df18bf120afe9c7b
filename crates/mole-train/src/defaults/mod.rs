//! The default rules: every setting the user did not give is chosen here, from the data (its
//! kind, training items, classes, features) and the model, never from a dataset's name.
//!
//! [`resolve`] fills in a [`TrainConfig`] and returns where each value came from
//! ([`Provenance`]): a flag, a config file, a named rule of this file, or the built-in default.
//! Each rule is a small function with its own unit test; the README's "Defaults" table lists
//! them. Explicit flags and config keys always win.

mod resolve;
mod rules;

pub use resolve::{Given, annotated_toml, keys_of, resolve, toml_keys};
pub use rules::*;

use std::collections::BTreeMap;

use crate::config::{ConfigError, TrainConfig};

/// Refuses keys that apply to one kind of data only when given for another, where they would
/// be ignored: `folds` (the cross-validation of graph-level tasks) and `readout` (one row per
/// graph) off graph-level data, `augment.*` off image data, `mole.joint_target =
/// "label+aggregate"` (the neighbourhood aggregate) off graphs. A value equal to the default is
/// let through: a resumed run's `config.toml` records every key.
///
/// # Errors
/// `ConfigError::Invalid` naming the key and the kind of data.
pub fn check_kind_keys(
    cfg: &TrainConfig,
    given: &Given,
    kind: DataKind,
) -> Result<(), ConfigError> {
    let default = TrainConfig::default();
    let graph = matches!(kind, DataKind::NodeLevel | DataKind::GraphLevel);
    let augment_given = ["augment.crop", "augment.flip", "augment.cutout"]
        .iter()
        .any(|k| given.contains_key(*k));
    let misplaced = if kind != DataKind::GraphLevel
        && given.contains_key("folds")
        && cfg.folds != default.folds
    {
        Some(format!(
            "folds = {}: cross-validation folds apply to graph-level data (many graphs)",
            cfg.folds
        ))
    } else if kind != DataKind::GraphLevel
        && given.contains_key("readout")
        && cfg.readout != default.readout
    {
        Some(format!(
            "readout = \"{}\": pooling node outputs into one row per graph applies to \
             graph-level data",
            cfg.readout
        ))
    } else if kind != DataKind::Image && augment_given && cfg.augment.enabled() {
        Some("augment: crops, flips and cutout apply to image data".to_string())
    } else if !graph
        && given.contains_key("mole.joint_target")
        && cfg.mole.joint_target == "label+aggregate"
    {
        Some(
            "mole.joint_target = \"label+aggregate\": the neighbourhood aggregate needs graph data"
                .to_string(),
        )
    } else {
        None
    };
    match misplaced {
        Some(why) => Err(ConfigError::Invalid(format!("{why}, not {}", kind.label()))),
        None => Ok(()),
    }
}

/// What kind of task the data poses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataKind {
    /// Rows of numbers (CSV files, flattened images under an `mlp:` model).
    Vector,
    /// Images `[channels, height, width]`.
    Image,
    /// Classification of the nodes of one graph.
    NodeLevel,
    /// Classification of whole graphs.
    GraphLevel,
}

impl DataKind {
    /// Its name in the provenance notes and the README.
    pub fn label(self) -> &'static str {
        match self {
            DataKind::Vector => "vector data",
            DataKind::Image => "image data",
            DataKind::NodeLevel => "node-level graph data",
            DataKind::GraphLevel => "graph-level data",
        }
    }
}

/// What the rules look at: the data, before any setting is chosen.
#[derive(Clone, Debug, PartialEq)]
pub struct DataProfile {
    /// The kind of task.
    pub kind: DataKind,
    /// Training items before the validation split: rows, labelled nodes, or the graphs of the
    /// training folds (one fold held out).
    pub train_items: usize,
    /// Classes.
    pub classes: usize,
    /// Features per row or node (channels × height × width for images).
    pub features: usize,
    /// Every input value lies in `[0, 1]` (pixels, scaled counts): no standardisation needed.
    pub unit_range: bool,
}

/// Where a setting's value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A command-line flag.
    Flag,
    /// A config file (its path as given) or a preset (`preset NAME`).
    File(String),
    /// A rule of this module; the text says which and why.
    Rule(String),
    /// The built-in default (the same for every dataset).
    Default,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Flag => write!(f, "flag"),
            Origin::File(p) => write!(f, "file {p}"),
            Origin::Rule(r) => write!(f, "rule: {r}"),
            Origin::Default => write!(f, "default"),
        }
    }
}

/// Dotted config keys (`epochs`, `mole.lambda_x`, `async.buffer`) → where their value came from.
pub type Provenance = BTreeMap<String, Origin>;

#[cfg(test)]
mod tests;
