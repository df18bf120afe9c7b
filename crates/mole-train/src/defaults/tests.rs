//! Unit tests of the default rules and their resolution.

use super::*;
use crate::config::{Method, OptimizerKind, TrainConfig};
use mole_nn::ModelSpec;

fn profile(kind: DataKind, train_items: usize, classes: usize) -> DataProfile {
    DataProfile {
        kind,
        train_items,
        classes,
        features: 10,
        unit_range: false,
    }
}

#[test]
fn no_rule_names_a_dataset() {
    let rules = [
        include_str!("rules.rs"),
        include_str!("resolve.rs"),
        include_str!("mod.rs"),
    ];
    let rules = rules
        .map(|s| s[..s.find("#[cfg(test)]").unwrap_or(s.len())].to_lowercase())
        .join("\n");
    for name in [
        "digits", "iris", "wine", "breast", "mnist", "fashion", "cifar", "cora", "mutag",
        "citeseer", "pubmed", "proteins",
    ] {
        assert!(!rules.contains(name), "a default rule mentions {name}");
    }
}

#[test]
fn each_kind_of_data_gets_a_model_that_fits_it() {
    for (kind, prefix) in [
        (DataKind::Vector, "mlp:"),
        (DataKind::Image, "seq:conv"),
        (DataKind::NodeLevel, "gcn:"),
        (DataKind::GraphLevel, "gin:"),
    ] {
        let m = default_model(kind);
        assert!(m.starts_with(prefix), "{kind:?}: {m}");
        assert!(m.parse::<ModelSpec>().is_ok(), "{m}");
    }
}

#[test]
fn validation_takes_a_tenth_unless_too_few_items_per_class() {
    assert_eq!(default_val_fraction(DataKind::Vector, 60_000, 10), 0.1);
    assert_eq!(default_val_fraction(DataKind::Vector, 1437, 10), 0.1);
    assert_eq!(default_val_fraction(DataKind::GraphLevel, 5000, 2), 0.1);
    // A tenth of 169 graphs or 455 rows is too few to choose an epoch by.
    assert_eq!(default_val_fraction(DataKind::GraphLevel, 169, 2), 0.0);
    assert_eq!(default_val_fraction(DataKind::Vector, 455, 2), 0.0);
    // 100 classes need 100 validation rows.
    assert_eq!(default_val_fraction(DataKind::Vector, 900, 100), 0.0);
    assert_eq!(default_val_fraction(DataKind::NodeLevel, 140, 7), 0.0);
    assert_eq!(fit_items(1000, 0.1), 900);
    assert_eq!(fit_items(5, 0.0), 5);
}

#[test]
fn batches_give_at_least_four_steps_within_bounds() {
    assert_eq!(default_batch_size(DataKind::Vector, 54_000), 256);
    assert_eq!(default_batch_size(DataKind::Vector, 1293), 256);
    assert_eq!(default_batch_size(DataKind::Vector, 410), 64);
    assert_eq!(default_batch_size(DataKind::Vector, 108), 32);
    assert_eq!(default_batch_size(DataKind::Image, 54_000), 128);
    assert_eq!(default_batch_size(DataKind::GraphLevel, 152), 32);
    assert_eq!(default_batch_size(DataKind::GraphLevel, 40), 8);
    assert_eq!(default_batch_size(DataKind::NodeLevel, 140), 256);
    // A local objective's batch holds about four items per class.
    let v = DataKind::Vector;
    assert_eq!(kernel_batch_size(v, 32, 30, 240), 128);
    assert_eq!(kernel_batch_size(v, 32, 30, 100), 100);
    assert_eq!(kernel_batch_size(v, 256, 10, 54_000), 256);
    assert_eq!(kernel_batch_size(v, 32, 3, 108), 32);
    // Graph level: two classes still get Gram matrices of 64 graphs (or all of them).
    let g = DataKind::GraphLevel;
    assert_eq!(kernel_batch_size(g, 32, 2, 169), MIN_GRAPH_GRAM);
    assert_eq!(kernel_batch_size(g, 8, 2, 40), 40);
    assert_eq!(kernel_batch_size(g, 32, 30, 240), 128);
    for n in [40, 100, 500, 5000] {
        let b = default_batch_size(DataKind::Vector, n);
        assert!(b.is_power_of_two() && (n / b >= 4 || b == 32), "{n}: {b}");
    }
}

#[test]
fn small_data_gets_enough_steps_large_data_the_base_epochs() {
    // 108 rows in batches of 32: 4 steps an epoch, 250 epochs for 1,000 steps.
    let s = steps_per_epoch(DataKind::Vector, 108, 32);
    assert_eq!(s, 4);
    assert_eq!(default_epochs(DataKind::Vector, s), 250);
    // MNIST: 211 steps an epoch, the base five epochs already pass the floor.
    let s = steps_per_epoch(DataKind::Vector, 54_000, 256);
    assert_eq!(default_epochs(DataKind::Vector, s), BASE_EPOCHS);
    // One row in a batch: capped.
    assert_eq!(default_epochs(DataKind::Vector, 1), MAX_EPOCHS);
    assert_eq!(default_epochs(DataKind::NodeLevel, 1), NODE_EPOCHS);
    assert_eq!(steps_per_epoch(DataKind::NodeLevel, 140, 256), 1);
    assert_eq!(default_head_epochs(DataKind::Image, 422), 12);
    assert_eq!(default_head_epochs(DataKind::Vector, 4), 250);
}

#[test]
fn rates_follow_the_kind_and_the_optimiser() {
    assert_eq!(default_lr(DataKind::Vector, OptimizerKind::Adam), 1e-3);
    assert_eq!(default_lr(DataKind::NodeLevel, OptimizerKind::Adam), 0.01);
    assert_eq!(default_lr(DataKind::GraphLevel, OptimizerKind::Adam), 0.01);
    assert_eq!(default_lr(DataKind::Image, OptimizerKind::Sgd), 0.01);
    // 12 image epochs of 422 steps: the lower rate; 5 epochs of 211 steps: the higher.
    assert_eq!(default_head_lr(OptimizerKind::Adam, 12 * 422), 1e-3);
    assert_eq!(default_head_lr(OptimizerKind::Adam, 5 * 211), 1e-2);
    assert_eq!(default_head_lr(OptimizerKind::Adam, 3 * 18), 1e-2);
    assert_eq!(default_head_lr(OptimizerKind::Sgd, 5000), 0.05);
}

#[test]
fn standardise_unless_already_in_the_unit_range() {
    let mut p = profile(DataKind::Vector, 100, 3);
    assert!(default_standardize(&p, None));
    p.unit_range = true;
    assert!(!default_standardize(&p, None));
    p.kind = DataKind::Image;
    let mlp: ModelSpec = "mlp:64".parse().unwrap();
    let cnn: ModelSpec = "cnn:8,16".parse().unwrap();
    assert!(!default_standardize(&p, Some(&mlp)));
    assert!(default_standardize(&p, Some(&cnn)));
    p.kind = DataKind::NodeLevel;
    assert!(!default_standardize(&p, None));
}

#[test]
fn first_two_layers_form_a_module_where_one_saturates() {
    let spec = |s: &str| s.parse::<ModelSpec>().unwrap();
    let mlp3 = spec("mlp:256,256,256");
    assert_eq!(default_groups(Method::Mole, &mlp3), vec![2, 1]);
    assert_eq!(default_groups(Method::Hsic, &mlp3), vec![1, 1, 1]);
    assert_eq!(default_groups(Method::Mole, &spec("mlp:64,64")), vec![1, 1]);
    let seq = spec("seq:conv(32),maxpool(2),conv(64),maxpool(2),dense(512)");
    assert_eq!(default_groups(Method::Mole, &seq), vec![2, 1]);
    assert_eq!(default_groups(Method::Hsic, &seq), vec![2, 1]);
    assert_eq!(default_groups(Method::Mole, &spec("cnn:16,32")), vec![1, 1]);
    assert_eq!(
        default_groups(Method::Mole, &spec("cnn:16,32,32")),
        vec![2, 1]
    );
    assert_eq!(default_groups(Method::Mole, &spec("gcn:64,64")), vec![1, 1]);
    assert_eq!(default_groups(Method::Bp, &seq), vec![1, 1, 1]);
}

#[test]
fn about_twenty_five_evaluations_per_learner() {
    assert_eq!(default_eval_every(5), 1);
    assert_eq!(default_eval_every(25), 1);
    assert_eq!(default_eval_every(200), 8);
    assert_eq!(default_eval_every(250), 10);
}

#[test]
fn given_keys_win_and_every_key_has_an_origin() {
    let mut cfg = TrainConfig::default();
    let mut given = Given::new();
    given.insert("epochs".into(), Origin::Flag);
    cfg.epochs = 3;
    let p = profile(DataKind::Vector, 120, 3);
    let prov = resolve(&mut cfg, &given, &p).unwrap();
    assert_eq!(cfg.epochs, 3);
    assert_eq!(prov["epochs"], Origin::Flag);
    assert_eq!(cfg.batch_size, 32);
    assert!(matches!(prov["batch_size"], Origin::Rule(_)));
    // MOLE with the prediction term (the rule's 0.5 on rows): alpha 2.
    assert_eq!(cfg.mole.alpha, 2.0);
    assert!(matches!(prov["mole.alpha"], Origin::Rule(_)));
    // The head gets the step floor: 108 rows, 4 steps an epoch.
    assert_eq!(cfg.head_epochs, 250);
    let table = toml::Table::try_from(&cfg).unwrap();
    for key in toml_keys(&table) {
        assert!(prov.contains_key(&key), "{key} has no origin");
    }
    let text = annotated_toml(&cfg, &prov).unwrap();
    assert!(text.contains("epochs = 3  # flag"), "{text}");
    assert_eq!(TrainConfig::from_toml(&text).unwrap(), cfg);
}

#[test]
fn node_level_defaults_start_the_modules() {
    let mut cfg = TrainConfig::default();
    let p = profile(DataKind::NodeLevel, 140, 7);
    resolve(&mut cfg, &Given::new(), &p).unwrap();
    assert_eq!(cfg.model, "gcn:64");
    assert_eq!(cfg.head, "gcn");
    assert!(!cfg.batch_norm);
    assert_eq!(cfg.mole.sigma_t, "median");
    assert_eq!((cfg.x_nodes.as_str(), cfg.mole.lambda_x), ("all", 0.5));
    assert_eq!(cfg.epochs, NODE_EPOCHS);
    assert!(cfg.validate().is_ok());
    // λ_x = 0 given: no input term, so the input nodes are left alone (and stay valid).
    let mut cfg = TrainConfig::default();
    cfg.mole.lambda_x = 0.0;
    let mut given = Given::new();
    given.insert("mole.lambda_x".into(), Origin::Flag);
    resolve(&mut cfg, &given, &p).unwrap();
    assert_eq!(cfg.x_nodes, "labelled");
    assert!(cfg.validate().is_ok());
    // Backprop: dropout, no input term.
    let mut cfg = TrainConfig {
        method: Method::Bp,
        ..TrainConfig::default()
    };
    resolve(&mut cfg, &Given::new(), &p).unwrap();
    assert_eq!((cfg.dropout, cfg.x_nodes.as_str()), (0.5, "labelled"));
    assert!(cfg.validate().is_ok());
}

#[test]
fn graph_level_and_image_defaults() {
    let mut cfg = TrainConfig::default();
    resolve(
        &mut cfg,
        &Given::new(),
        &profile(DataKind::GraphLevel, 169, 2),
    )
    .unwrap();
    assert_eq!(
        (cfg.model.as_str(), cfg.readout.as_str()),
        ("gin:64,64", "sum")
    );
    // MOLE (the default method): Gram matrices of 64 graphs; backprop keeps batches of 32.
    assert_eq!(cfg.batch_size, MIN_GRAPH_GRAM);
    assert_eq!(cfg.lr(), 0.01);
    let mut bp = TrainConfig {
        method: Method::Bp,
        ..TrainConfig::default()
    };
    let mut given = Given::new();
    given.insert("method".into(), Origin::Flag);
    resolve(&mut bp, &given, &profile(DataKind::GraphLevel, 169, 2)).unwrap();
    assert_eq!(bp.batch_size, 32);
    let mut cfg = TrainConfig::default();
    let mut p = profile(DataKind::Image, 60_000, 10);
    p.unit_range = true;
    resolve(&mut cfg, &Given::new(), &p).unwrap();
    assert_eq!(cfg.batch_size, 128);
    assert_eq!(cfg.group, vec![2, 1]);
    // No compression term: on MNIST's CNN it cost 2.7 points (0.9587 against 0.9861).
    assert_eq!(cfg.mole.lambda_h, 0.0);
    assert_eq!(cfg.standardize, Some(true));
    assert_eq!((cfg.head_epochs, cfg.head_lr()), (12, 1e-3));
    // An MLP on the same images: no standardisation.
    let mut cfg = TrainConfig::default();
    let mut given = Given::new();
    given.insert("model".into(), Origin::Flag);
    cfg.model = "mlp:256,256,256".into();
    resolve(&mut cfg, &given, &p).unwrap();
    assert_eq!(cfg.standardize, Some(false));
    // ... and the batch, rates and head of rows.
    assert_eq!(
        (cfg.batch_size, cfg.head_lr(), cfg.head_epochs),
        (256, 1e-2, 5)
    );
}

#[test]
fn the_local_prediction_term_is_half_on_every_kind_of_data() {
    for kind in [
        DataKind::Vector,
        DataKind::Image,
        DataKind::NodeLevel,
        DataKind::GraphLevel,
    ] {
        assert_eq!(default_lambda_ce(Method::Mole, kind), 0.5);
        assert_eq!(default_lambda_ce(Method::Hsic, kind), 0.5);
        assert_eq!(default_lambda_ce(Method::Simpred, kind), 0.01);
    }
    assert_eq!(default_lambda_ce(Method::Bp, DataKind::Vector), 0.0);
    // Resolved with its reason; a given value wins.
    let mut cfg = TrainConfig::default();
    let prov = resolve(
        &mut cfg,
        &Given::new(),
        &profile(DataKind::Vector, 5000, 10),
    )
    .unwrap();
    assert_eq!(cfg.local.lambda_ce, 0.5);
    assert!(matches!(prov.get("local.lambda_ce"), Some(Origin::Rule(_))));
    let mut cfg = TrainConfig::default();
    let given: Given = [("local.lambda_ce".to_string(), Origin::Flag)].into();
    resolve(&mut cfg, &given, &profile(DataKind::Vector, 5000, 10)).unwrap();
    assert_eq!(cfg.local.lambda_ce, 0.0);
}

#[test]
fn mole_takes_alpha_two_with_the_prediction_term_and_one_point_oh_one_without_or_on_nodes() {
    for kind in [DataKind::Vector, DataKind::Image, DataKind::GraphLevel] {
        assert_eq!(default_mole_alpha(0.5, kind), 2.0);
        assert_eq!(default_mole_alpha(0.01, kind), 2.0);
        assert_eq!(default_mole_alpha(0.0, kind), 1.01);
    }
    assert_eq!(default_mole_alpha(0.5, DataKind::NodeLevel), 1.01);
    assert_eq!(default_mole_alpha(0.0, DataKind::NodeLevel), 1.01);
    let resolved = |kind, given: Given, lambda_ce: f64, alpha: f64| {
        let mut cfg = TrainConfig::default();
        cfg.local.lambda_ce = lambda_ce;
        cfg.mole.alpha = alpha;
        let prov = resolve(&mut cfg, &given, &profile(kind, 5000, 10)).unwrap();
        (cfg.mole.alpha, prov["mole.alpha"].clone())
    };
    // The rule's lambda_ce 0.5, then alpha 2, except on node-level data.
    for kind in [DataKind::Vector, DataKind::Image, DataKind::GraphLevel] {
        let (alpha, origin) = resolved(kind, Given::new(), 0.0, 1.01);
        assert_eq!(alpha, 2.0, "{kind:?}");
        assert!(matches!(origin, Origin::Rule(_)));
    }
    let (alpha, origin) = resolved(DataKind::NodeLevel, Given::new(), 0.0, 2.0);
    assert_eq!(alpha, 1.01);
    assert!(matches!(origin, Origin::Rule(_)));
    // The rule reads the lambda_ce actually used: a given 0 keeps 1.01, any given share
    // turns alpha 2 on (not on node-level data); a given alpha always wins.
    let given: Given = [("local.lambda_ce".to_string(), Origin::Flag)].into();
    assert_eq!(resolved(DataKind::Vector, given.clone(), 0.0, 1.01).0, 1.01);
    assert_eq!(resolved(DataKind::Image, given.clone(), 0.3, 1.01).0, 2.0);
    assert_eq!(resolved(DataKind::NodeLevel, given, 0.3, 1.01).0, 1.01);
    let given: Given = [("mole.alpha".to_string(), Origin::Flag)].into();
    let (alpha, origin) = resolved(DataKind::Vector, given, 0.0, 0.5);
    assert_eq!((alpha, origin), (0.5, Origin::Flag));
    // Other methods keep the config's default.
    let mut cfg = TrainConfig {
        method: Method::Hsic,
        ..TrainConfig::default()
    };
    let prov = resolve(
        &mut cfg,
        &Given::new(),
        &profile(DataKind::Vector, 5000, 10),
    )
    .unwrap();
    assert_eq!(
        (cfg.mole.alpha, prov["mole.alpha"].clone()),
        (1.01, Origin::Default)
    );
}

#[test]
fn folds_given_for_data_other_than_graph_level_are_refused() {
    let folds = |n: usize| TrainConfig {
        folds: n,
        ..TrainConfig::default()
    };
    let given: Given = [("folds".to_string(), Origin::Flag)].into();
    for kind in [DataKind::Vector, DataKind::Image, DataKind::NodeLevel] {
        let e = check_kind_keys(&folds(3), &given, kind)
            .unwrap_err()
            .to_string();
        assert!(e.contains("folds = 3") && e.contains(kind.label()), "{e}");
        // The default, as a resumed run's config.toml records it, passes; so does a value
        // nobody gave.
        assert!(check_kind_keys(&folds(10), &given, kind).is_ok());
        assert!(check_kind_keys(&folds(3), &Given::new(), kind).is_ok());
    }
    assert!(check_kind_keys(&folds(3), &given, DataKind::GraphLevel).is_ok());
}

#[test]
fn readout_augmentation_and_the_aggregate_target_off_their_data_are_refused() {
    let flag = |k: &str| -> Given { [(k.to_string(), Origin::Flag)].into() };
    let max = TrainConfig {
        readout: "max".into(),
        ..TrainConfig::default()
    };
    for kind in [DataKind::Vector, DataKind::Image, DataKind::NodeLevel] {
        let e = check_kind_keys(&max, &flag("readout"), kind).unwrap_err();
        assert!(e.to_string().contains("readout = \"max\""), "{e}");
    }
    assert!(check_kind_keys(&max, &flag("readout"), DataKind::GraphLevel).is_ok());
    let mut crop = TrainConfig::default();
    crop.augment = crate::config::AugmentSettings {
        crop: 2,
        ..Default::default()
    };
    for kind in [DataKind::Vector, DataKind::NodeLevel, DataKind::GraphLevel] {
        let e = check_kind_keys(&crop, &flag("augment.crop"), kind).unwrap_err();
        assert!(e.to_string().contains("augment: crops"), "{e}");
    }
    assert!(check_kind_keys(&crop, &flag("augment.crop"), DataKind::Image).is_ok());
    // Off (as a resumed run records it) passes anywhere.
    assert!(
        check_kind_keys(
            &TrainConfig::default(),
            &flag("augment.flip"),
            DataKind::Vector
        )
        .is_ok()
    );
    let mut aggregate = TrainConfig::default();
    aggregate.mole.joint_target = "label+aggregate".into();
    let given = flag("mole.joint_target");
    assert!(check_kind_keys(&aggregate, &given, DataKind::Vector).is_err());
    assert!(check_kind_keys(&aggregate, &given, DataKind::Image).is_err());
    assert!(check_kind_keys(&aggregate, &given, DataKind::NodeLevel).is_ok());
    assert!(check_kind_keys(&aggregate, &given, DataKind::GraphLevel).is_ok());
}
