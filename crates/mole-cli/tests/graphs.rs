//! `mole train` on graph data (Cora node classification, MUTAG graph classification with
//! cross-validation), and its answers to malformed graph files.

mod common;
use common::*;
use std::path::Path;

fn train(dir: &Path, args: &[&str]) -> serde_json::Value {
    let out = run(mole()
        .args(["train", "--quiet", "--data-dir"])
        .arg(datasets())
        .args(args)
        .arg("--out")
        .arg(dir));
    assert!(out.status.success(), "{}", text(&out).1);
    summary(dir)
}

#[test]
fn cora_gcn_bp_and_mole_beat_their_floors() {
    let dir = temp_dir("cora");
    // Kipf & Welling's GCN: a GCN layer of 64 units, then a GCN classifier (`--head gcn`);
    // no batch norm, dropout 0.5, weight decay 5e-4. Measured (seed 0): 0.808.
    let bp = train(
        &dir.join("bp"),
        &[
            "--dataset",
            "cora",
            "--model",
            "gcn:64",
            "--head",
            "gcn",
            "--method",
            "bp",
            "--epochs",
            "200",
            "--lr",
            "0.01",
            "--dropout",
            "0.5",
            "--weight-decay",
            "5e-4",
            "--batch-norm",
            "false",
            "--eval-every",
            "50",
        ],
    );
    let acc = bp["test_accuracy"].as_f64().unwrap();
    assert!(acc >= 0.78, "BP GCN on Cora: {acc}");
    assert_eq!(bp["train_samples"], 140); // 20 labelled nodes per class
    assert_eq!(bp["test_samples"], 1000);
    assert!(bp["seconds_per_epoch"].as_f64().unwrap() > 0.0);
    // Evaluated at epochs 50, 100, 150 and 200 only, one hidden layer each time.
    let rows = std::fs::read_to_string(dir.join("bp/metrics.csv"))
        .unwrap()
        .lines()
        .count();
    assert_eq!(rows, 1 + 4, "header + 4 evaluations x 1 layer");
    let shapes = safetensors_shapes(&dir.join("bp/embeddings.safetensors"));
    assert_eq!(shapes["input"], serde_json::json!([1000, 1433]));
    assert_eq!(shapes["logits"], serde_json::json!([1000, 7]));
    assert_eq!(shapes["labels"], serde_json::json!([1000]));
    // MOLE: two GCN modules (no batch norm, median kernel width) that keep information about
    // the input of all nodes (semi-supervised I(T;X), λ_x 0.5), then the GCN head.
    // Measured (seed 0): 0.797.
    let mole = train(
        &dir.join("mole"),
        &[
            "--dataset",
            "cora",
            "--model",
            "gcn:64,64",
            "--head",
            "gcn",
            "--epochs",
            "60",
            "--head-epochs",
            "200",
            "--lr",
            "0.01",
            "--weight-decay",
            "5e-4",
            "--batch-norm",
            "false",
            "--sigma-t",
            "median",
            "--x-nodes",
            "all",
            "--lambda-x",
            "0.5",
            "--eval-every",
            "50",
        ],
    );
    let acc = mole["test_accuracy"].as_f64().unwrap();
    assert!(acc >= 0.77, "MOLE GCN on Cora: {acc}");
    assert!(mole["modules"][1]["i_ty"].as_f64().unwrap() > 0.5, "{mole}");
    // The checkpoint holds the module's parameters (the 64 x 64 weight of the second GCN layer).
    let weights = safetensors_shapes(&dir.join("mole/weights/module_2.safetensors"));
    assert!(
        weights.values().any(|s| *s == serde_json::json!([64, 64])),
        "{weights:?}"
    );
    let shapes = safetensors_shapes(&dir.join("mole/embeddings.safetensors"));
    assert_eq!(shapes["module_2"], serde_json::json!([1000, 64]));
    // A GCN head needs a node-level graph task.
    let out = run(common::mole()
        .args([
            "train",
            "--quiet",
            "--dataset",
            "digits",
            "--head",
            "gcn",
            "--out",
        ])
        .arg(dir.join("bad")));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out).1);
    assert!(text(&out).1.contains("head"), "{}", text(&out).1);
    // Sampling the whole graph for the input terms needs a node-level task and an input term.
    for (dataset, model, lambda_x, why) in [
        ("digits", "mlp:8", "0.5", "node-level graph task"),
        ("mutag", "gin:8", "0.5", "node-level graph task"),
        ("cora", "gcn:8", "0", "lambda_x = 0"),
    ] {
        let out = run(common::mole()
            .args(["train", "--quiet", "--dataset", dataset, "--data-dir"])
            .arg(datasets())
            .args(["--x-nodes", "all", "--lambda-x", lambda_x, "--epochs", "1"])
            .args(["--model", model, "--out"])
            .arg(dir.join("bad-x-nodes")));
        let err = text(&out).1;
        assert_eq!(out.status.code(), Some(2), "{dataset}: {err}");
        assert!(
            err.contains("x_nodes") && err.contains(why),
            "{dataset}: {err}"
        );
    }
}

#[test]
fn mutag_gin_cross_validation_reports_mean_and_std() {
    let dir = temp_dir("mutag");
    let s = train(
        &dir.join("cv"),
        &[
            "--dataset",
            "mutag",
            "--model",
            "gin:32,32",
            "--method",
            "bp",
            "--epochs",
            "30",
            "--batch-size",
            "32",
            "--readout",
            "sum",
            "--folds",
            "3",
            "--lr",
            "0.01",
        ],
    );
    let acc = s["test_accuracy"].as_f64().unwrap();
    assert!(
        acc >= 0.76,
        "BP GIN on MUTAG, 3-fold (measured 0.829): {acc}"
    );
    assert!(s["test_accuracy_std"].as_f64().unwrap() >= 0.0);
    let folds = s["fold_test_accuracies"].as_array().unwrap();
    assert_eq!(folds.len(), 3);
    let mean = folds.iter().map(|a| a.as_f64().unwrap()).sum::<f64>() / 3.0;
    assert!((mean - acc).abs() < 1e-9);
    for k in 1..=3 {
        assert!(dir.join(format!("cv/fold_{k}/summary.json")).is_file());
    }
    // MOLE, the issue's protocol: GIN, sum readout, stratified 10-fold cross-validation.
    // Measured first: 0.867 ± 0.098 (BP on the same folds, 50 epochs: 0.877 ± 0.072). On
    // 2026-12-06, seeds 0–2: 0.840 / 0.830 / 0.873 before the fused batch norm, 0.830 / 0.846 /
    // 0.851 with it — the round-off of 188 graphs moves the mean by two graphs either way, so
    // the floor sits below those (chance: 0.665, the majority class).
    let s = train(
        &dir.join("mole10"),
        &[
            "--dataset",
            "mutag",
            "--model",
            "gin:64,64",
            "--epochs",
            "30",
            "--head-epochs",
            "200",
            "--batch-size",
            "32",
            "--readout",
            "sum",
            "--folds",
            "10",
            "--lr",
            "0.01",
            "--eval-every",
            "1000",
        ],
    );
    let acc = s["test_accuracy"].as_f64().unwrap();
    assert!(acc >= 0.80, "MOLE GIN on MUTAG, 10-fold: {acc}");
    assert_eq!(s["fold_test_accuracies"].as_array().unwrap().len(), 10);
    // MOLE with the joint target I(T;{Y,X}) on a generic tu:DIR path, sage layers, max readout.
    let tu = format!("tu:{}", datasets().join("tu/MUTAG").display());
    let s = train(
        &dir.join("mole"),
        &[
            "--dataset",
            &tu,
            "--model",
            "sage:32",
            "--epochs",
            "10",
            "--head-epochs",
            "20",
            "--batch-size",
            "32",
            "--readout",
            "max",
            "--folds",
            "2",
            "--joint-target",
            "label+input",
            "--lr",
            "0.01",
            // The joint information term alone, as measured (with the prediction term the rule
            // adds on graph-level data, these 10 + 20 epochs give 0.686; with 60 head epochs 0.755).
            "--lambda-ce",
            "0",
        ],
    );
    let acc = s["test_accuracy"].as_f64().unwrap();
    assert!(
        acc >= 0.70,
        "MOLE SAGE on MUTAG (measured 0.745; majority class 0.665): {acc}"
    );
}

/// Tensor name → shape from the JSON header of a safetensors file.
fn safetensors_shapes(path: &Path) -> serde_json::Map<String, serde_json::Value> {
    let bytes = std::fs::read(path).expect("safetensors file written");
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    header
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| *k != "__metadata__")
        .map(|(k, v)| (k.clone(), v["shape"].clone()))
        .collect()
}

fn bad(dir: &Path, dataset: &str, needle: &[&str]) {
    let out = run(mole()
        .args([
            "train",
            "--quiet",
            "--dataset",
            dataset,
            "--model",
            "gcn:8",
            "--out",
        ])
        .arg(dir.join("run")));
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    for n in needle {
        assert!(stderr.contains(n), "expected '{n}' in: {stderr}");
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn malformed_graph_files_exit_2_naming_file_and_line() {
    let dir = temp_dir("badgraph");
    let linqs = dir.join("toy");
    std::fs::create_dir_all(&linqs).unwrap();
    std::fs::write(linqs.join("toy.content"), "a\t1\t0\tX\nb\t0\t1\tY\n").unwrap();
    std::fs::write(linqs.join("toy.cites"), "a\tb\nb\tq\n").unwrap();
    let name = format!("linqs:{}", linqs.join("toy").display());
    bad(&dir, &name, &["toy.cites:2", "unknown node id 'q'"]);
    std::fs::write(linqs.join("toy.content"), "a\t1\t0\tX\nb\t0\tY\n").unwrap();
    bad(&dir, &name, &["toy.content:2", "1 features"]);

    let tu = dir.join("T");
    std::fs::create_dir_all(&tu).unwrap();
    let write = |f: &str, t: &str| std::fs::write(tu.join(format!("T_{f}.txt")), t).unwrap();
    let name = format!("tu:{}", tu.display());
    write("A", "1, 2\n2, 1\n");
    write("graph_indicator", "1\n1\n2\n");
    write("graph_labels", "1\n-1\n-1\n");
    bad(
        &dir,
        &name,
        &["T_graph_labels.txt", "3 lines, but there are 2 graphs"],
    );
    write("graph_labels", "1\n-1\n");
    write("graph_indicator", "1\n2\n1\n");
    bad(&dir, &name, &["T_graph_indicator.txt:3", "sorted"]);
    write("graph_indicator", "1\n1\n3\n");
    bad(
        &dir,
        &name,
        &["T_graph_indicator.txt:3", "graph 2 would be empty"],
    );
    write("graph_indicator", "1\n1\n2\n");
    write("A", "1, 7\n");
    bad(&dir, &name, &["T_A.txt:1", "unknown node id 7"]);
    write("A", "1, 2\n");
    write("node_attributes", "0.5, 1\n2\n1, 1\n");
    bad(&dir, &name, &["T_node_attributes.txt:2", "1 attributes"]);
    // A GNN model on data without a graph is a bad-input error too.
    let out = run(mole()
        .args([
            "train",
            "--quiet",
            "--dataset",
            "digits",
            "--model",
            "gcn:8",
            "--out",
        ])
        .arg(dir.join("r")));
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("need a graph dataset"));
}

#[test]
fn isolated_nodes_and_one_node_graphs_train() {
    let dir = temp_dir("tiny");
    let tu = dir.join("TINY");
    std::fs::create_dir_all(&tu).unwrap();
    let write = |f: &str, t: &str| std::fs::write(tu.join(format!("TINY_{f}.txt")), t).unwrap();
    // 8 graphs: label 1 graphs have an edge, label 0 graphs are single nodes or isolated pairs.
    let mut ind = String::new();
    let mut a = String::new();
    let mut labels = String::new();
    let mut node = 1;
    for g in 1..=8 {
        if g % 2 == 0 {
            ind += &format!("{g}\n{g}\n");
            a += &format!("{}, {}\n{}, {}\n", node, node + 1, node + 1, node);
            node += 2;
            labels += "1\n";
        } else {
            let n = if g % 4 == 1 { 1 } else { 2 };
            for _ in 0..n {
                ind += &format!("{g}\n");
            }
            node += n;
            labels += "0\n";
        }
    }
    write("A", &a);
    write("graph_indicator", &ind);
    write("graph_labels", &labels);
    let name = format!("tu:{}", tu.display());
    for method in ["bp", "mole"] {
        let s = train(
            &dir.join(method),
            &[
                "--dataset",
                &name,
                "--model",
                "gcn:4",
                "--method",
                method,
                "--epochs",
                "2",
                "--head-epochs",
                "2",
                "--batch-size",
                "4",
                "--folds",
                "2",
            ],
        );
        assert!(s["test_accuracy"].as_f64().unwrap().is_finite());
    }
}

/// The async schedule on graphs (one thread per module and the head) makes the simultaneous
/// schedule's updates: the metrics rows match to the last digit, node- and graph-level.
#[test]
fn async_on_graphs_matches_the_simultaneous_schedule() {
    let dir = temp_dir("graph-async");
    let rows = |d: &Path| -> Vec<String> {
        std::fs::read_to_string(d.join("metrics.csv"))
            .unwrap()
            .lines()
            .map(|l| l.rsplit_once(',').unwrap().0.to_string()) // without the seconds
            .collect()
    };
    for (name, args) in [
        (
            "cora",
            &[
                "--dataset",
                "cora",
                "--model",
                "gcn:32,32",
                "--epochs",
                "20",
                "--head-epochs",
                "20",
                "--lr",
                "0.01",
                "--eval-every",
                "5",
            ][..],
        ),
        (
            "mutag",
            &[
                "--dataset",
                "mutag",
                "--model",
                "gin:32,32",
                "--epochs",
                "6",
                "--head-epochs",
                "3",
                "--batch-size",
                "32",
                "--folds",
                "2",
                "--readout",
                "sum",
            ][..],
        ),
    ] {
        let sim = train(
            &dir.join(format!("{name}-sim")),
            &[args, &["--schedule", "simultaneous"]].concat(),
        );
        let asy = train(
            &dir.join(format!("{name}-async")),
            &[args, &["--schedule", "async"]].concat(),
        );
        assert_eq!(asy["schedule"], "async");
        assert_eq!(asy["test_accuracy"], sim["test_accuracy"], "{name}");
        let sub = if name == "mutag" { "fold_1" } else { "" };
        let (a, s) = (
            rows(&dir.join(format!("{name}-async")).join(sub)),
            rows(&dir.join(format!("{name}-sim")).join(sub)),
        );
        assert!(a.len() > 4, "{a:?}");
        assert_eq!(a, s, "{name}");
    }
}

/// The simultaneous schedule's pipeline on graph batches (MUTAG, GIN, HSIC, two folds), on two
/// threads: every fold's metrics equal those of the learners taking turns, row for row.
#[test]
fn mutag_pipelined_simultaneous_gives_the_numbers_of_the_learners_in_turn() {
    let dir = temp_dir("mutag-pipeline");
    let run_with = |mode: &str| {
        let out = dir.join(mode);
        let o = run(mole()
            .env("RAYON_NUM_THREADS", "2")
            .args(["train", "--quiet", "--data-dir"])
            .arg(datasets())
            .args([
                "--dataset",
                "mutag",
                "--model",
                "gin:32,32",
                "--method",
                "hsic",
            ])
            .args(["--folds", "2", "--epochs", "3", "--batch-size", "16"])
            .args(["--pipeline", mode, "--out"])
            .arg(&out));
        assert!(o.status.success(), "{}", text(&o).1);
        out
    };
    let (on, off) = (run_with("on"), run_with("off"));
    let stages = summary(&on)["pipeline_stages"].clone();
    assert_eq!(stages.as_array().map(Vec::len), Some(2), "{stages}");
    assert!(summary(&off).get("pipeline_stages").is_none());
    let without_seconds = |p: &Path| {
        std::fs::read_to_string(p)
            .unwrap()
            .lines()
            .map(|l| l.rsplit_once(',').map_or(l, |(rest, _)| rest).to_string())
            .collect::<Vec<_>>()
    };
    for fold in ["fold_1", "fold_2"] {
        let (a, b) = (
            without_seconds(&on.join(fold).join("metrics.csv")),
            without_seconds(&off.join(fold).join("metrics.csv")),
        );
        assert!(a.len() > 4, "{a:?}");
        assert_eq!(a, b, "{fold}");
    }
}
