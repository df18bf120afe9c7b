//! `mole train` end to end on real data, and its answers to bad input.

mod common;
use common::*;

#[test]
fn default_job_trains_mole_and_bp_on_digits_above_95_percent() {
    let dir = temp_dir("default");
    let out = run(mole()
        .args(["train", "--baseline", "--quiet", "--out"])
        .arg(dir.join("run")));
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    // The comparison table names both methods.
    assert!(
        stdout.contains("| mole | sequential |") && stdout.contains("| bp | simultaneous |"),
        "{stdout}"
    );
    for (path, method) in [(dir.join("run"), "mole"), (dir.join("run-bp"), "bp")] {
        let s = summary(&path);
        assert_eq!(s["method"], method);
        assert_eq!(s["dataset"], "digits");
        for key in [
            "schedule",
            "model",
            "seed",
            "epochs",
            "train_seconds",
            "samples_per_second",
            "peak_rss_bytes",
            "modules",
        ] {
            assert!(!s[key].is_null(), "summary lacks {key}");
        }
        let acc = s["test_accuracy"].as_f64().unwrap();
        assert!(acc >= 0.95, "{method} test accuracy {acc} < 0.95 on digits");
        assert!(s["peak_rss_bytes"].as_u64().unwrap() > 0);
        // Files of the run directory.
        for f in ["config.toml", "metrics.csv", "embeddings.safetensors"] {
            assert!(path.join(f).is_file(), "{f} missing in {}", path.display());
        }
    }
    let s = summary(&dir.join("run"));
    let modules = s["modules"].as_array().unwrap();
    // The default grouping for MOLE on an MLP: layers 1-2, then layer 3.
    assert_eq!(modules.len(), 2);
    // MOLE maximises I(T;Y): every module ends with clearly positive I(T;Y) (bits).
    for m in modules {
        assert!(m["i_ty"].as_f64().unwrap() > 0.5, "{m}");
    }
    for k in 1..=2 {
        assert!(
            dir.join(format!("run/weights/module_{k}.safetensors"))
                .is_file()
        );
    }
    assert!(dir.join("run/weights/head.safetensors").is_file());
    // metrics.csv: header, then per evaluated epoch one row per layer of the module trained
    // (layers 1-2, then 3) and one per evaluated head epoch. The defaults give digits (1,437
    // training rows in batches of 256) 167 epochs per learner, evaluated every 7th and the last.
    assert_eq!(s["epochs"], 167);
    let evaluated = (1..=167).filter(|e| e % 7 == 0 || *e == 167).count();
    let metrics = std::fs::read_to_string(dir.join("run/metrics.csv")).unwrap();
    assert!(metrics.starts_with("epoch,stage,module,layer,loss,i_tx,i_ty"));
    assert_eq!(metrics.lines().count(), 1 + evaluated * (3 + 1));
}

#[test]
fn hsic_simultaneous_with_config_file_and_unformatted_accuracy() {
    let dir = temp_dir("hsic");
    let cfg = dir.join("hsic.toml");
    std::fs::write(
        &cfg,
        "method = \"hsic\"\nmodel = \"mlp:64,10\"\nepochs = 10\nhead_epochs = 5\nbatch_size = 128\n[hsic]\nbeta = 100.0\n",
    )
    .unwrap();
    let out = run(mole()
        .args(["train", "--quiet", "--config"])
        .arg(&cfg)
        .arg("--out")
        .arg(dir.join("run")));
    assert!(out.status.success(), "{}", text(&out).1);
    let s = summary(&dir.join("run"));
    assert_eq!(s["method"], "hsic");
    assert_eq!(s["schedule"], "simultaneous");
    assert!(s["test_accuracy"].as_f64().unwrap() > 0.85, "{s}");
    // The last module has one unit per class, so the permutation accuracy is reported.
    let u = s["unformatted_accuracy"]
        .as_f64()
        .expect("unformatted accuracy");
    assert!(u > 0.3, "unformatted accuracy {u}");
    let config = std::fs::read_to_string(dir.join("run/config.toml")).unwrap();
    assert!(config.contains("beta = 100.0"), "{config}");
}

#[test]
fn uci_and_csv_datasets_train() {
    let dir = temp_dir("uci");
    let data = datasets();
    let out = run(mole()
        .args([
            "train",
            "--quiet",
            "--dataset",
            "iris",
            "--model",
            "mlp:16,16",
            "--epochs",
            "20",
            "--head-epochs",
            "20",
            "--batch-size",
            "32",
            "--data-dir",
        ])
        .arg(&data)
        .arg("--out")
        .arg(dir.join("iris")));
    assert!(out.status.success(), "{}", text(&out).1);
    assert!(
        summary(&dir.join("iris"))["test_accuracy"]
            .as_f64()
            .unwrap()
            >= 0.8
    );
    let csv = format!("csv:{}", data.join("uci/wine_data.csv").display());
    let out = run(mole()
        .args([
            "train",
            "--quiet",
            "--method",
            "bp",
            "--model",
            "mlp:16",
            "--epochs",
            "30",
            // 150 steps in all: with the default cosine decay this small net needs a larger rate.
            "--lr",
            "0.003",
            "--batch-size",
            "32",
            "--dataset",
            &csv,
            "--out",
        ])
        .arg(dir.join("wine")));
    assert!(out.status.success(), "{}", text(&out).1);
    assert!(
        summary(&dir.join("wine"))["test_accuracy"]
            .as_f64()
            .unwrap()
            >= 0.85
    );
}

/// A CSV as people write them: a header of names, the class names in the first column. The
/// label is found by its header name (`class`, or any column with `--label-column`), and the run
/// is the one on the UCI file with integer labels last: the same metrics to the last digit.
#[test]
fn a_csv_with_class_names_first_trains_like_the_uci_file() {
    let dir = temp_dir("csv-names");
    let data = datasets();
    let uci = std::fs::read_to_string(data.join("uci/iris.csv")).unwrap();
    let names = ["setosa", "versicolor", "virginica"];
    let rows: Vec<String> = uci
        .lines()
        .skip(1)
        .map(|l| {
            let (features, label) = l.rsplit_once(',').unwrap();
            format!("{},{features}", names[label.parse::<usize>().unwrap()])
        })
        .collect();
    let write = |file: &str, first: &str| {
        let path = dir.join(file);
        let header = format!("{first},sepal length,sepal width,petal length,petal width\n");
        std::fs::write(&path, header + &rows.join("\n")).unwrap();
        format!("csv:{}", path.display())
    };
    let train = |dataset: &str, extra: &[&str], out: &str| {
        let o = run(mole()
            .args(["train", "--quiet", "--dataset", dataset, "--epochs", "4"])
            .args(["--head-epochs", "4", "--batch-size", "32"])
            .args(extra)
            .arg("--data-dir")
            .arg(&data)
            .arg("--out")
            .arg(dir.join(out)));
        assert!(o.status.success(), "{out}: {}", text(&o).1);
        let metrics = std::fs::read_to_string(dir.join(out).join("metrics.csv")).unwrap();
        // Without the seconds column.
        metrics
            .lines()
            .map(|l| l.rsplit_once(',').map_or(l, |(rest, _)| rest).to_string())
            .collect::<Vec<_>>()
    };
    let reference = train("iris", &[], "uci");
    assert_eq!(train(&write("class.csv", "Class"), &[], "class"), reference);
    let species = write("species.csv", "species");
    assert_eq!(
        train(&species, &["--label-column", "species"], "species"),
        reference
    );
    assert_eq!(
        train(&species, &["--label-column", "1"], "first"),
        reference
    );
    // Without the flag the last column is the label, and `species` a feature that is not a
    // number: the error names the file, the line, the column and the flag.
    fails_with(
        &["train", "--dataset", &species],
        2,
        "species.csv:2: column 1 ('species'): 'setosa' is not a number",
    );
    fails_with(
        &["train", "--dataset", &species, "--label-column", "kind"],
        2,
        "label column 'kind': no column has that name",
    );
    fails_with(
        &["train", "--dataset", "iris", "--label-column", "2"],
        2,
        "label_column = \"2\" applies to csv:PATH datasets",
    );
}

fn fails_with(args: &[&str], code: i32, needle: &str) {
    let out = run(mole().args(args));
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(code), "args {args:?}: {stderr}");
    assert!(
        stderr.contains(needle),
        "args {args:?}: expected '{needle}' in: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        stderr.trim().lines().count(),
        1,
        "one-line error expected: {stderr}"
    );
}

#[test]
fn bad_input_gives_one_clear_line_and_a_nonzero_exit() {
    let dir = temp_dir("bad");
    let cfg = dir.join("c.toml");
    std::fs::write(&cfg, "epochs = 2\nlearning_rate = 0.1\n").unwrap();
    fails_with(
        &["train", "--config", cfg.to_str().unwrap()],
        2,
        "learning_rate",
    );
    std::fs::write(&cfg, "epochs = \"two\"\n").unwrap();
    fails_with(&["train", "--config", cfg.to_str().unwrap()], 2, "line 1");
    fails_with(
        &["train", "--config", "/nonexistent/c.toml"],
        2,
        "/nonexistent/c.toml",
    );
    fails_with(&["train", "--dataset", "nope"], 2, "unknown dataset 'nope'");
    fails_with(
        &["train", "--dataset", "mnist", "--data-dir", "/nonexistent"],
        2,
        "/nonexistent/mnist/train-images-idx3-ubyte",
    );
    fails_with(&["train", "--model", "mlp:12,x"], 2, "layer 2");
    fails_with(&["train", "--lambda-h", "1"], 2, "mole.lambda_h = 1");
    fails_with(
        &[
            "train",
            "--model",
            "mlp:8,8,8",
            "--group",
            "1,1,1",
            "--module-lambda-h",
            "0.3,0",
        ],
        2,
        "mole.module_lambda_h has 2 values but the network has 3 modules",
    );
    fails_with(
        &["train", "--group", "1,1", "--model", "mlp:8,8,8"],
        2,
        "group",
    );
    // Unwritable output directory (a path below a regular file).
    let file = dir.join("file");
    std::fs::write(&file, "x").unwrap();
    fails_with(
        &["train", "--out", file.join("run").to_str().unwrap()],
        2,
        "run directory",
    );
    // Ragged CSV and non-integer label name the file and line.
    let csv = dir.join("bad.csv");
    std::fs::write(&csv, "1,2,0\n3,4,1\n5,1\n").unwrap();
    fails_with(
        &["train", "--dataset", &format!("csv:{}", csv.display())],
        2,
        "bad.csv:3",
    );
    std::fs::write(&csv, "1,2,0\n3,4,1.5\n").unwrap();
    fails_with(
        &["train", "--dataset", &format!("csv:{}", csv.display())],
        2,
        "bad.csv:2",
    );
    // The local terms: out-of-range or contradictory settings name their key.
    fails_with(&["train", "--lambda-ce", "1.5"], 2, "local.lambda_ce = 1.5");
    fails_with(&["train", "--local-pool", "max"], 2, "local.pool = 'max'");
    fails_with(&["train", "--kernel", "rbf"], 2, "local.kernel = 'rbf'");
    fails_with(
        &["train", "--ensemble-heads"],
        2,
        "local.ensemble_heads needs the modules' classifiers",
    );
    let data = datasets();
    fails_with(
        &[
            "train",
            "--dataset",
            "cora",
            "--data-dir",
            data.to_str().unwrap(),
            "--ensemble-heads",
            "--lambda-ce",
            "0.5",
        ],
        2,
        "local.ensemble_heads averages the modules' classifiers on vector and image data; graph",
    );
    fails_with(
        &["train", "--method", "bp", "--lambda-ce", "0.1"],
        2,
        "no effect with method bp",
    );
    fails_with(
        &["train", "--pooled", "true", "--local-pool", "std"],
        2,
        "contradicts local.pool",
    );
    fails_with(
        &["train", "--lr-schedule", "step", "--lr-steps", "0.5,2"],
        2,
        "lr_steps",
    );
    fails_with(
        &["train", "--eigen-precision", "f16"],
        2,
        "mole.eigen_precision = 'f16'",
    );
    // clap rejects unknown methods itself (exit 2).
    let out = run(mole().args(["train", "--method", "magic"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("magic"));
}

#[test]
fn corrupt_idx_files_are_rejected_with_the_file_named() {
    let dir = temp_dir("idx");
    let m = dir.join("mnist");
    std::fs::create_dir_all(&m).unwrap();
    let labels = [0u8, 0, 8, 1, 0, 0, 0, 2, 3, 4];
    let mut images = vec![0u8, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2];
    images.extend([0u8; 8]);
    std::fs::write(m.join("t10k-labels-idx1-ubyte"), labels).unwrap();
    std::fs::write(m.join("t10k-images-idx3-ubyte"), &images).unwrap();
    std::fs::write(m.join("train-labels-idx1-ubyte"), labels).unwrap();
    // Truncated: declares 2×2×2 = 8 pixels but holds 5.
    std::fs::write(m.join("train-images-idx3-ubyte"), &images[..21]).unwrap();
    let d = dir.to_str().unwrap();
    fails_with(
        &["train", "--dataset", "mnist", "--data-dir", d],
        2,
        "truncated",
    );
    // Bad magic.
    let mut bad = images.clone();
    bad[0] = 7;
    std::fs::write(m.join("train-images-idx3-ubyte"), &bad).unwrap();
    fails_with(
        &["train", "--dataset", "mnist", "--data-dir", d],
        2,
        "bad IDX magic",
    );
    // Count mismatch between images and labels.
    std::fs::write(m.join("train-images-idx3-ubyte"), &images).unwrap();
    std::fs::write(
        m.join("train-labels-idx1-ubyte"),
        [0u8, 0, 8, 1, 0, 0, 0, 3, 1, 1, 1],
    )
    .unwrap();
    fails_with(
        &["train", "--dataset", "mnist", "--data-dir", d],
        2,
        "3 labels for 2 images",
    );
}

#[test]
fn a_diverging_run_stops_with_an_error_and_keeps_its_metrics() {
    let dir = temp_dir("nan");
    let out = run(mole()
        .args([
            "train",
            "--quiet",
            "--method",
            "bp",
            "--optimizer",
            "sgd",
            "--lr",
            "1e30",
            "--epochs",
            "3",
            "--out",
        ])
        .arg(dir.join("run")));
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("loss became"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    // What was written before the failure is still there.
    let metrics = std::fs::read_to_string(dir.join("run/metrics.csv")).unwrap();
    assert!(metrics.starts_with("epoch,stage"));
    assert!(dir.join("run/config.toml").is_file());
}

/// Local training holds one module's activations at a time; backprop holds every layer's until
/// its backward pass. Measured as the live heap that training adds (the binary counts it;
/// evaluation excluded). Measured: BP 60.9 MiB, MOLE sequential 21.0 (frozen modules drop their
/// optimiser state), simultaneous 46.3 (every module keeps its Adam moments).
#[test]
fn local_training_holds_less_heap_than_backprop_on_a_deep_mlp() {
    let dir = temp_dir("memory");
    let model = format!("mlp:{}", vec!["512"; 16].join(","));
    let training_heap = |method: &str, schedule: &str| -> f64 {
        let out = dir.join(format!("{method}-{schedule}"));
        let o = run(mole()
            .args(["train", "--quiet", "--dataset", "mnist", "--data-dir"])
            .arg(datasets())
            .args([
                "--model",
                &model,
                "--method",
                method,
                "--schedule",
                schedule,
            ])
            .args(["--epochs", "1", "--head-epochs", "1", "--batch-size", "256"])
            .args([
                "--train-samples",
                "2048",
                "--test-samples",
                "500",
                "--val-fraction",
                "0",
            ])
            // At batch 256 the objective's Gram matrices (and the eigendecompositions of the
            // default α = 1.01) are small next to sixteen layers' activations; at batch 1024
            // they are as large as the activations (see the README's memory table).
            .arg("--out")
            .arg(&out));
        assert!(o.status.success(), "{}", text(&o).1);
        let s = summary(&out);
        let (peak, start) = (&s["peak_heap_bytes"], &s["heap_at_start_bytes"]);
        assert!(peak.is_u64() && start.is_u64(), "{s}");
        peak.as_f64().unwrap() - start.as_f64().unwrap()
    };
    let bp = training_heap("bp", "simultaneous");
    let sequential = training_heap("mole", "sequential");
    let simultaneous = training_heap("mole", "simultaneous");
    let mib = |b: f64| b / 1048576.0;
    assert!(
        sequential > 0.0 && sequential < 0.5 * bp && simultaneous < 0.9 * bp,
        "training heap MiB: BP {:.1}, MOLE sequential {:.1}, simultaneous {:.1}",
        mib(bp),
        mib(sequential),
        mib(simultaneous)
    );
}

/// Regression: `--method bp --schedule sequential` panicked after its one module (`features/labels
/// size mismatch` in `Dataset::new`) while caching the module's outputs, which are the class
/// scores of the whole network, for a head that backprop does not have.
#[test]
fn backprop_on_the_sequential_schedule_trains_without_a_panic() {
    let dir = temp_dir("bp-sequential");
    let out = run(mole()
        .args([
            "train",
            "--quiet",
            "--method",
            "bp",
            "--schedule",
            "sequential",
        ])
        .args(["--epochs", "3", "--out"])
        .arg(dir.join("run")));
    let (_, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let s = summary(&dir.join("run"));
    assert_eq!(s["schedule"], "sequential");
    assert!(s["test_accuracy"].as_f64().unwrap() > 0.8, "{s}");
}

/// `--profile`: a table with a row per learner and `profile.json` whose training phases of a
/// MOLE run include the forward pass, the Gram matrices, the estimator, backward and the
/// optimiser, with one optimiser call per step; the phase seconds add up to no more than the
/// wall time.
#[test]
fn profile_times_every_phase_of_every_learner() {
    let dir = temp_dir("profile");
    let out = run(mole()
        .args(["train", "--quiet", "--profile", "--dataset", "digits"])
        .args(["--model", "mlp:32,32", "--method", "mole", "--epochs", "2"])
        .args(["--head-epochs", "1", "--batch-size", "128", "--out"])
        .arg(dir.join("run")));
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    for row in ["| module 1 |", "| module 2 |", "| head |", "| untimed |"] {
        assert!(stdout.contains(row), "{row} missing:\n{stdout}");
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("run/profile.json")).unwrap())
            .unwrap();
    let phases = json["phases"].as_array().unwrap();
    let find = |learner: &str, phase: &str| {
        phases
            .iter()
            .find(|e| e["learner"] == learner && e["phase"] == phase)
            .unwrap_or_else(|| panic!("{learner} {phase} missing: {json}"))
    };
    let s = summary(&dir.join("run"));
    let steps = s["modules"][0]["steps"].as_u64().unwrap();
    for phase in ["forward", "gram", "estimator", "backward", "optimizer"] {
        assert!(find("module 1", phase)["seconds"].as_f64().unwrap() > 0.0);
    }
    assert_eq!(
        find("module 1", "optimizer")["calls"].as_u64().unwrap(),
        steps
    );
    let total: f64 = phases.iter().map(|e| e["seconds"].as_f64().unwrap()).sum();
    assert!(total <= json["wall_seconds"].as_f64().unwrap() + 1e-6);
}

/// `mole bench profile`: every configuration's milliseconds per batch by phase, BP first.
#[test]
fn bench_profile_reports_each_configuration() {
    let dir = temp_dir("bench-profile");
    let out = run(mole()
        .args([
            "bench",
            "profile",
            "--dataset",
            "digits",
            "--model",
            "mlp:16,16",
        ])
        .args(["--batch-size", "128", "--out"])
        .arg(&dir));
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    for row in [
        "| bp simultaneous |",
        "| mole sequential |",
        "| mole simultaneous |",
        "| hsic simultaneous |",
    ] {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(row))
            .unwrap_or_else(|| panic!("{stdout}"));
        assert_eq!(line.matches('|').count(), 11, "{line}");
    }
    assert!(
        stdout.contains("| bp simultaneous |") && stdout.contains("| 1.00 |"),
        "{stdout}"
    );
    // The simultaneous runs' learners took turns: a pipeline's phases would overlap in time.
    for run in ["mole-simultaneous", "hsic-simultaneous"] {
        let s = summary(&dir.join(run));
        assert!(s.get("pipeline_stages").is_none(), "{run}: {s}");
    }
}

/// `mole bench` without `--out` trains in a temporary folder and removes it at the end (each
/// configuration's run directory holds weights and embeddings: hundreds of MiB on MNIST).
#[test]
fn bench_without_out_leaves_no_runs_behind() {
    let child = mole()
        .args([
            "bench",
            "throughput",
            "--dataset",
            "digits",
            "--model",
            "mlp:8",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let scratch = std::env::temp_dir().join(format!("mole-bench-{}", child.id()));
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("| bp simultaneous |"), "{stdout}");
    assert!(!scratch.exists(), "{} left behind", scratch.display());
}

/// `mole bench steps`: one step time per learner for BP, MOLE at α 1.01 and 2, and HSIC, as a
/// table and as the JSON bench/torch_reference.py reads; `--json` with another suite is refused.
#[test]
fn bench_steps_times_each_learner() {
    let dir = temp_dir("bench-steps");
    let json = dir.join("steps.json");
    let out = run(mole()
        .args([
            "bench",
            "steps",
            "--dataset",
            "digits",
            "--model",
            "mlp:16,16,16",
        ])
        .args(["--batch-size", "64", "--json"])
        .arg(&json));
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("| bp | network |"), "{stdout}");
    let rows: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let count = |m: &str| rows.iter().filter(|r| r["method"] == m).count();
    // BP: one network; MOLE: layers 1-2 and 3; HSIC: one module per layer.
    assert_eq!(
        (
            count("bp"),
            count("mole-a1.01"),
            count("mole-a2"),
            count("hsic")
        ),
        (1, 2, 2, 3)
    );
    assert!(rows.iter().all(|r| r["ms"].as_f64().unwrap() > 0.0));
    let out = run(mole().args(["bench", "throughput", "--json", "x.json"]));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out).1);
}

/// The learner above frozen modules reads their outputs from a cache, computed once during its
/// first epoch on a helper thread (the sequential schedule's next module and head; the head's
/// epochs after the simultaneous schedule, the HSIC format phase); with `cache_mib = 0` every
/// batch runs the frozen modules instead. Both give the same run, metric for metric.
#[test]
fn learners_on_cached_frozen_outputs_equal_the_recomputed_ones() {
    let dir = temp_dir("head-cache");
    for (method, schedule, head_rows) in [("hsic", "simultaneous", 4), ("mole", "sequential", 4)] {
        let metrics = |cache_mib: &str| {
            let config = dir.join(format!("{method}-cache-{cache_mib}.toml"));
            std::fs::write(
                &config,
                format!(
                    "dataset = \"digits\"\nmethod = \"{method}\"\nschedule = \"{schedule}\"\nepochs = 2\nhead_epochs = 4\ncache_mib = {cache_mib}\n"
                ),
            )
            .unwrap();
            let run_dir = dir.join(format!("{method}-run-{cache_mib}"));
            let out = run(mole()
                .args(["train", "--quiet", "--config"])
                .arg(&config)
                .arg("--out")
                .arg(&run_dir));
            assert!(out.status.success(), "{}", text(&out).1);
            let csv = std::fs::read_to_string(run_dir.join("metrics.csv")).unwrap();
            // Every column but the wall-clock seconds.
            csv.lines()
                .map(|l| l.rsplit_once(',').unwrap().0.to_string())
                .collect::<Vec<_>>()
        };
        let cached = metrics("2048");
        let recomputed = metrics("0");
        assert!(cached.iter().filter(|l| l.contains(",head,")).count() >= head_rows);
        assert_eq!(cached, recomputed, "{method} {schedule}");
    }
}

/// `mole bench SUITE --repeat 2` on 200 digits rows (batch 50, `mlp:16`), its runs under
/// `dir/runs`: the markdown table it wrote.
fn small_bench_twice(suite: &str, dir: &std::path::Path) -> String {
    let table = dir.join("table.md");
    let out = run(mole()
        .args(["bench", suite, "--dataset", "digits", "--model", "mlp:16"])
        .args([
            "--train-samples",
            "200",
            "--test-samples",
            "100",
            "--batch-size",
            "50",
        ])
        .args(["--repeat", "2", "--out"])
        .arg(dir.join("runs"))
        .arg("--markdown")
        .arg(&table));
    assert!(out.status.success(), "{}", text(&out).1);
    std::fs::read_to_string(&table).unwrap()
}

/// `mole bench throughput --repeat 2` runs every configuration twice, round after round, and
/// reports medians with each round's ratio to BP; suites that do not repeat refuse the flag.
#[test]
fn bench_repeat_reports_the_rounds_ratios_and_their_median() {
    let dir = temp_dir("bench-repeat");
    let md = small_bench_twice("throughput", &dir);
    let rows: Vec<Vec<String>> = md
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| configuration"))
        .map(|l| l.split('|').map(|c| c.trim().to_string()).collect())
        .collect();
    assert_eq!(rows.len(), 4, "{md}");
    for row in &rows {
        // "median (round 1 / round 2)"
        let (median, rounds) = row[3].split_once(" (").expect("the rounds' ratios");
        let each: Vec<f64> = rounds
            .trim_end_matches(')')
            .split(" / ")
            .map(|v| v.parse().unwrap())
            .collect();
        assert_eq!(each.len(), 2, "{row:?}");
        let median: f64 = median.parse().unwrap();
        assert!(
            (median - (each[0] + each[1]) / 2.0).abs() <= 0.006,
            "{row:?}"
        );
    }
    assert_eq!(rows[0][3], "1.00 (1.00 / 1.00)");
    for round in ["round-1", "round-2"] {
        let s = summary(&dir.join("runs").join(round).join("mole-sequential"));
        assert_eq!(s["method"], "mole");
    }
    let out = run(mole().args(["bench", "steps", "--repeat", "2"]));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out).1);
    assert!(
        text(&out)
            .1
            .contains("--repeat applies to the throughput, memory, cnn and async")
    );
}

/// `mole bench async --repeat 2` adds one epoch of BP against one async epoch without a head
/// epoch, round by round: each ratio is that round's two rates, the median line their median.
#[test]
fn bench_async_compares_one_epoch_with_bp_round_by_round() {
    let dir = temp_dir("bench-async-epoch");
    let md = small_bench_twice("async", &dir);
    let (_, epoch) = md
        .split_once("One epoch, async mole")
        .expect("the epoch table");
    let rows: Vec<Vec<f64>> = epoch
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| round"))
        .map(|l| {
            l.split('|')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(|c| c.parse().unwrap())
                .collect()
        })
        .collect();
    assert_eq!(rows.len(), 2, "{md}");
    let mut ratios = Vec::new();
    for (k, row) in rows.iter().enumerate() {
        assert_eq!(row[0], (k + 1) as f64);
        assert!((row[3] - row[2] / row[1]).abs() <= 0.01, "{row:?}");
        ratios.push(row[3]);
    }
    let median = (ratios[0] + ratios[1]) / 2.0;
    let line = epoch
        .lines()
        .find(|l| l.starts_with("Median async × BP"))
        .expect("the median line");
    let shown: f64 = line
        .trim_start_matches("Median async × BP over the rounds: **")
        .trim_end_matches("**.")
        .parse()
        .unwrap();
    assert!((shown - median).abs() <= 0.006, "{line} vs {ratios:?}");
    for round in ["epoch-round-1", "epoch-round-2"] {
        let run_dir = dir.join("runs").join(round).join("mole-async-epoch");
        let config = std::fs::read_to_string(run_dir.join("config.toml")).unwrap();
        assert!(config.contains("head_epochs = 0"), "{config}");
        assert_eq!(summary(&run_dir)["schedule"], "async");
    }
}

/// Ctrl-C in the middle of a pipelined simultaneous epoch: the feeder stops, the stages drain,
/// the run ends with exit 130 and "interrupted", no panic, and keeps its snapshot.
#[test]
fn ctrl_c_stops_a_pipelined_simultaneous_run_cleanly() {
    let dir = temp_dir("pipeline-ctrl-c");
    let child = mole()
        .env("RAYON_NUM_THREADS", "2")
        .args([
            "train",
            "--quiet",
            "--dataset",
            "digits",
            "--model",
            "mlp:64,64",
        ])
        .args(["--method", "hsic", "--pipeline", "on", "--eval-every", "1"])
        .args(["--epochs", "5000", "--batch-size", "64", "--out"])
        .arg(&dir)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Past the five batches in turn: a few epochs evaluated.
    let out = interrupt_after_rows(child, &dir.join("metrics.csv"), 1 + 3 * 3);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(dir.join("weights/snapshot.safetensors").is_file());
    assert!(!dir.join("summary.json").exists());
}

/// `--profile` times each learner's phases: under `pipeline = "auto"` the simultaneous schedule
/// then takes turns (a pipeline's phases would overlap in time); `--pipeline on` still runs one.
#[test]
fn a_step_profile_keeps_the_learners_in_turn_unless_the_pipeline_is_asked_for() {
    let dir = temp_dir("profile-pipeline");
    let stages = |mode: &str| {
        let out = dir.join(mode);
        let o = run(mole()
            .env("RAYON_NUM_THREADS", "2")
            .args(["train", "--quiet", "--profile", "--dataset", "digits"])
            .args(["--model", "mlp:64,64", "--method", "hsic", "--epochs", "4"])
            .args(["--batch-size", "64", "--pipeline", mode, "--out"])
            .arg(&out));
        assert!(o.status.success(), "{}", text(&o).1);
        summary(&out).get("pipeline_stages").cloned()
    };
    assert_eq!(stages("auto"), None);
    assert!(stages("on").is_some());
}
