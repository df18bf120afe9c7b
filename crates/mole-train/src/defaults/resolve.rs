//! [`resolve`]: the rules applied to a config, the keys the user gave left alone, and the
//! origin of every value recorded ([`annotated_toml`] writes it as comments).

use super::rules::*;
use super::{DataKind, DataProfile, Origin, Provenance};
use crate::config::{Method, ScheduleKind, TrainConfig};
use mole_nn::ModelSpec;
use std::collections::{BTreeMap, BTreeSet};

/// The keys a user gave, and how (flag or file).
pub type Given = BTreeMap<String, Origin>;

/// Every dotted key of a TOML table (`[mole] alpha = 2` → `mole.alpha`).
pub fn toml_keys(table: &toml::Table) -> BTreeSet<String> {
    fn walk(prefix: &str, t: &toml::Table, out: &mut BTreeSet<String>) {
        for (k, v) in t {
            let key = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match v {
                toml::Value::Table(inner) => walk(&key, inner, out),
                _ => {
                    out.insert(key);
                }
            }
        }
    }
    let mut out = BTreeSet::new();
    walk("", table, &mut out);
    out
}

/// Every dotted key set in a TOML text (empty when it does not parse: the config parser
/// reports that, with the line).
pub fn keys_of(text: &str) -> BTreeSet<String> {
    text.parse::<toml::Table>()
        .map(|t| toml_keys(&t))
        .unwrap_or_default()
}

struct Resolver<'a> {
    cfg: &'a mut TrainConfig,
    given: &'a Given,
    prov: Provenance,
}

impl Resolver<'_> {
    fn given(&self, key: &str) -> bool {
        self.given.contains_key(key)
    }

    /// Applies a rule to `key` unless the user gave it.
    fn rule(&mut self, key: &str, why: String, set: impl FnOnce(&mut TrainConfig)) {
        if !self.given(key) {
            set(self.cfg);
            self.prov.insert(key.to_string(), Origin::Rule(why));
        }
    }
}

/// Fills every setting of `cfg` that `given` does not list by the rules above, for data
/// described by `profile`, and returns the origin of every key of the resolved config.
///
/// # Errors
/// When the model (given, or chosen by the rules) is not a valid spec.
pub fn resolve(
    cfg: &mut TrainConfig,
    given: &Given,
    profile: &DataProfile,
) -> Result<Provenance, mole_nn::SpecError> {
    let kind = profile.kind;
    let mut r = Resolver {
        cfg,
        given,
        prov: Provenance::new(),
    };
    r.rule(
        "model",
        format!("{} gets {}", kind.label(), default_model(kind)),
        |c| c.model = default_model(kind).into(),
    );
    let spec: ModelSpec = r.cfg.model.parse()?;
    // Images under a model without convolutions are rows to it (flattened pixels).
    let kind = if kind == DataKind::Image && !has_conv(&spec) {
        DataKind::Vector
    } else {
        kind
    };
    let method = r.cfg.method;
    let local = method != Method::Bp;

    let vf = default_val_fraction(kind, profile.train_items, profile.classes);
    let why = if kind == DataKind::NodeLevel {
        "node-level tasks validate on the split's 500 validation nodes".to_string()
    } else if vf == 0.0 {
        format!(
            "{} training items: a tenth would be fewer than {} validation items",
            profile.train_items,
            MIN_VAL_ITEMS.max(profile.classes)
        )
    } else {
        "a tenth of the training items validates the head's epochs".to_string()
    };
    r.rule("val_fraction", why, |c| c.val_fraction = vf);
    let fit = fit_items(profile.train_items, r.cfg.val_fraction);

    let plain = default_batch_size(kind, fit);
    let bs = if local && kind != DataKind::NodeLevel {
        kernel_batch_size(kind, plain, profile.classes, fit)
    } else {
        plain
    };
    let per_class = (ITEMS_PER_CLASS * profile.classes).next_power_of_two();
    let why = if bs > plain && bs == plain.max(per_class.min(fit.max(2))) {
        format!(
            "{} classes: the Gram matrices hold about {ITEMS_PER_CLASS} items of each",
            profile.classes
        )
    } else if bs > plain {
        format!("graph-level local objective: Gram matrices of at least {MIN_GRAPH_GRAM} graphs")
    } else {
        format!("{} of {fit} training items", kind.label())
    };
    r.rule("batch_size", why, |c| c.batch_size = bs);
    let steps = steps_per_epoch(kind, fit, r.cfg.batch_size);
    let floor_why = |e: usize| match kind {
        DataKind::NodeLevel => format!("node-level: {e} full-batch epochs (one step each)"),
        _ if e > BASE_EPOCHS => {
            format!("{steps} steps per epoch: at least {MIN_STEPS} optimiser steps")
        }
        _ => format!("{steps} steps per epoch: {BASE_EPOCHS} epochs pass {MIN_STEPS} steps"),
    };
    let epochs = default_epochs(kind, steps);
    r.rule("epochs", floor_why(epochs), |c| c.epochs = epochs);
    let head_epochs = default_head_epochs(kind, steps);
    let why = if kind == DataKind::Image && head_epochs > epochs {
        "image data: the head trains at least 12 epochs at its lower rate".to_string()
    } else {
        floor_why(head_epochs)
    };
    r.rule("head_epochs", why, |c| c.head_epochs = head_epochs);

    let optimizer = r.cfg.optimizer;
    let lr = default_lr(kind, optimizer);
    r.rule(
        "lr",
        format!("{} with {optimizer:?}", kind.label()).to_lowercase(),
        |c| c.lr = Some(lr),
    );
    let head_steps = r.cfg.head_epochs * steps;
    let head_lr = default_head_lr(optimizer, head_steps);
    r.rule(
        "head_lr",
        format!("{optimizer:?}, {head_steps} head steps").to_lowercase(),
        |c| c.head_lr = Some(head_lr),
    );
    let schedule = r.cfg.schedule();
    r.rule(
        "schedule",
        format!("method {method:?}").to_lowercase(),
        |c| c.schedule = Some(schedule),
    );

    let lambda_ce = default_lambda_ce(method, kind);
    if lambda_ce > 0.0 {
        let why = if method == Method::Simpred {
            "simpred: the prediction term's 1 % (Nøkland & Eidnes' local loss)".to_string()
        } else {
            format!(
                "{}: half of each module's loss from a local classifier's cross-entropy",
                kind.label()
            )
        };
        r.rule("local.lambda_ce", why, |c| c.local.lambda_ce = lambda_ce);
    }
    if method == Method::Mole {
        let used = r.cfg.local.lambda_ce;
        let alpha = default_mole_alpha(used, kind);
        let why = if kind == DataKind::NodeLevel {
            "node-level data: the authors' order 1.01 (its input term needs it)".to_string()
        } else if used > 0.0 {
            format!(
                "local.lambda_ce {used}: with the prediction term, alpha 2 (no eigendecomposition) is as accurate"
            )
        } else {
            "no prediction term: the authors' order 1.01".to_string()
        };
        r.rule("mole.alpha", why, |c| c.mole.alpha = alpha);
    }
    if method == Method::Simpred {
        // Nøkland & Eidnes' sim + pred: 0.99 L_sim + 0.01 L_pred, a learned projection, centred
        // cosine similarities of spatial-std-pooled maps.
        let why = |what: &str| format!("simpred: {what} (Nøkland & Eidnes' local loss)");
        r.rule("local.projection", why("a learned projection"), |c| {
            c.local.projection = true
        });
        r.rule("local.pool", why("spatial-std pooling of maps"), |c| {
            c.local.pool = "std".into()
        });
        r.rule("local.kernel", why("centred cosine similarities"), |c| {
            c.local.kernel = "cosine".into()
        });
    }

    if matches!(kind, DataKind::Vector | DataKind::Image) {
        let s = default_standardize(
            &DataProfile {
                kind,
                ..profile.clone()
            },
            Some(&spec),
        );
        let why = match (kind, s) {
            (DataKind::Image, true) if has_conv(&spec) => {
                "images under a conv model: per-channel standardisation".to_string()
            }
            (_, true) => "features outside [0, 1]: standardised".to_string(),
            _ => "every feature already in [0, 1]".to_string(),
        };
        r.rule("standardize", why, |c| c.standardize = Some(s));
    }

    if local && r.cfg.group.is_empty() {
        let g = default_groups(method, &spec);
        if g.first() == Some(&2) {
            r.rule(
                "group",
                "the first two layers form the first module (one layer alone saturates \
                 I(T;Y))"
                    .into(),
                |c| c.group = g,
            );
        }
    }

    let runs = if schedule == ScheduleKind::Sequential || !local {
        r.cfg.epochs.max(r.cfg.head_epochs)
    } else {
        r.cfg.epochs + r.cfg.head_epochs
    };
    let ev = default_eval_every(runs);
    if ev > 1 {
        r.rule(
            "eval_every",
            format!("about {EVALUATIONS} evaluations per learner"),
            |c| c.eval_every = ev,
        );
    }

    match kind {
        DataKind::NodeLevel => {
            r.rule(
                "head",
                "node-level: a GCN head (Kipf & Welling's last layer)".into(),
                |c| c.head = "gcn".into(),
            );
            r.rule(
                "batch_norm",
                "node-level: no batch norm (the modules start from tiny outputs, median widths follow them)".into(),
                |c| c.batch_norm = false,
            );
            r.rule(
                "weight_decay",
                "node-level: Kipf & Welling's 5e-4".into(),
                |c| c.weight_decay = 5e-4,
            );
            if method == Method::Bp {
                r.rule(
                    "dropout",
                    "node-level backprop: Kipf & Welling's 0.5".into(),
                    |c| c.dropout = 0.5,
                );
            }
            if method == Method::Mole {
                r.rule(
                    "mole.sigma_t",
                    "node-level: the width follows the outputs (median)".into(),
                    |c| c.mole.sigma_t = "median".into(),
                );
                r.rule(
                    "mole.lambda_x",
                    "node-level: the semi-supervised input term I(T;X)".into(),
                    |c| c.mole.lambda_x = 0.5,
                );
            }
            let has_input_term = match method {
                Method::Mole => r.cfg.mole.lambda_x != 0.0,
                Method::Hsic => true,
                Method::Simpred | Method::Bp => false,
            };
            if has_input_term {
                r.rule(
                    "x_nodes",
                    "node-level: the input term scores all nodes (semi-supervised)".into(),
                    |c| c.x_nodes = "all".into(),
                );
            }
        }
        DataKind::GraphLevel => {
            r.rule(
                "readout",
                "graph-level: sum readout (GIN's, keeps graph size)".into(),
                |c| c.readout = "sum".into(),
            );
        }
        DataKind::Image | DataKind::Vector => {}
    }

    let mut prov = r.prov;
    let table = toml::Table::try_from(&*cfg).unwrap_or_default();
    for key in toml_keys(&table) {
        let origin = given.get(&key).cloned().unwrap_or(Origin::Default);
        prov.entry(key).or_insert(origin);
    }
    Ok(prov)
}

/// The config as TOML with every value's origin as a trailing comment: what `config.toml` in a
/// run directory holds and `mole train --print-config` prints. It parses as a config file.
pub fn annotated_toml(cfg: &TrainConfig, prov: &Provenance) -> Result<String, toml::ser::Error> {
    let text = toml::to_string(cfg)?;
    let mut out = String::new();
    let mut section = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') && trimmed.ends_with(']') {
            section = trimmed.trim_matches(|c| c == '[' || c == ']').to_string();
            out += line;
        } else if let Some((key, _)) = trimmed.split_once(" = ") {
            let full = if section.is_empty() {
                key.trim().to_string()
            } else {
                format!("{section}.{}", key.trim())
            };
            out += line;
            if let Some(o) = prov.get(&full) {
                out += &format!("  # {o}");
            }
        } else {
            out += line;
        }
        out.push('\n');
    }
    Ok(out)
}
