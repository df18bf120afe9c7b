//! `mole train --schedule async` from the command line.

mod common;
use common::*;

#[test]
fn async_replay_trains_digits_and_writes_its_report() {
    let dir = temp_dir("async-replay").join("run");
    let out = run(mole()
        .args([
            "train",
            "--quiet",
            "--dataset",
            "digits",
            "--model",
            "mlp:64,64",
        ])
        .args([
            "--schedule",
            "async",
            "--buffer",
            "replay",
            "--buffer-size",
            "2",
        ])
        .args([
            "--max-reuse",
            "3",
            "--epochs",
            "3",
            "--head-epochs",
            "1",
            "--batch-size",
            "128",
        ])
        .arg("--out")
        .arg(&dir));
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("| mole | async |"), "{stdout}");
    let s = summary(&dir);
    assert_eq!(s["schedule"], "async");
    // With replay buffers how often module 2 trains depends on the threads' timing: run alone,
    // 22–65 steps and 0.88–0.93 (six runs); under the whole test suite's load once 17 steps and
    // 0.79. The floor asserts that the schedule trains (chance: 0.1), not how fast.
    assert!(s["test_accuracy"].as_f64().unwrap() > 0.6, "{s}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("async.json")).unwrap()).unwrap();
    assert_eq!(report["buffer"], "replay");
    assert_eq!(report["max_reuse"], 3);
    let workers = report["workers"].as_array().unwrap();
    assert_eq!(workers.len(), 3);
    // Module 1 is fed losslessly; no worker trains on a batch more often than allowed.
    assert_eq!(workers[0]["missing"], 0);
    for w in workers {
        let (steps, used) = (
            w["steps"].as_u64().unwrap(),
            w["batches_used"].as_u64().unwrap(),
        );
        assert!(steps <= 3 * used && used > 0, "{w}");
    }
}

#[test]
fn bad_async_flags_give_one_clear_line() {
    let out = run(mole().args(["train", "--schedule", "async", "--buffer", "lossy"]));
    let (_, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(
        stderr.contains("unknown buffer policy 'lossy' (block, replay)"),
        "{stderr}"
    );
    let out = run(mole().args(["train", "--schedule", "async", "--buffer-size", "0"]));
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("async.buffer_size = 0"), "{stderr}");
}

#[test]
fn ctrl_c_stops_the_async_workers_and_keeps_what_was_written() {
    let dir = temp_dir("async-ctrl-c").join("run");
    let child = mole()
        .args([
            "train",
            "--quiet",
            "--dataset",
            "digits",
            "--model",
            "mlp:64,64",
        ])
        .args([
            "--schedule",
            "async",
            "--epochs",
            "500",
            "--batch-size",
            "128",
        ])
        .arg("--out")
        .arg(&dir)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Once an epoch has been evaluated (the handler is installed before training).
    let metrics = dir.join("metrics.csv");
    let out = interrupt_after_rows(child, &metrics, 3);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("interrupted during epoch"), "{stderr}");
    assert!(
        stderr.contains("keeps the metrics and checkpoints of epochs 1..="),
        "{stderr}"
    );
    // Stopped long before its 500 epochs, with its checkpoints and async.json in place.
    let rows = std::fs::read_to_string(&metrics).unwrap().lines().count();
    assert!((3..1 + 3 * 500).contains(&rows), "{rows}");
    assert!(dir.join("weights/module_1.safetensors").is_file());
    assert!(dir.join("async.json").is_file());
    assert!(!dir.join("summary.json").exists());
}

/// Without the `mpi` feature, `--distributed mpi` is a one-line error with exit code 2.
#[cfg(not(feature = "mpi"))]
#[test]
fn distributed_mpi_without_the_feature_says_how_to_build_it() {
    let out = run(mole().args([
        "train",
        "--quiet",
        "--dataset",
        "digits",
        "--schedule",
        "async",
        "--distributed",
        "mpi",
    ]));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out).1);
    assert!(text(&out).1.contains("--features mpi"), "{}", text(&out).1);
}

/// `--resume RUN_DIR` continues an async run from the checkpoints of its last epoch.
#[test]
fn resume_continues_an_async_run_from_its_checkpoints() {
    let dir = temp_dir("async-resume").join("run");
    let first = run(mole()
        .args([
            "train",
            "--quiet",
            "--dataset",
            "digits",
            "--schedule",
            "async",
        ])
        .args(["--epochs", "2", "--head-epochs", "1", "--out"])
        .arg(&dir));
    assert!(first.status.success(), "{}", text(&first).1);
    let rows_before: Vec<String> = std::fs::read_to_string(dir.join("metrics.csv"))
        .unwrap()
        .lines()
        .take(1 + 2 * 4) // header + 2 epochs x (3 modules + head)
        .map(String::from)
        .collect();
    // Extend it to 4 epochs; the config is read from the run directory.
    let more = run(mole()
        .args(["train", "--quiet", "--resume"])
        .arg(&dir)
        .args(["--epochs", "4"]));
    assert!(more.status.success(), "{}", text(&more).1);
    let metrics = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    let lines: Vec<&str> = metrics.lines().collect();
    // The first epochs are kept as they were, the head's extra epoch of the first run is gone,
    // and epochs 3 and 4 follow, then one head epoch.
    assert_eq!(lines[..rows_before.len()], rows_before[..]);
    let epochs: Vec<&str> = lines[1..]
        .iter()
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(
        epochs,
        [
            vec!["1"; 4],
            vec!["2"; 4],
            vec!["3"; 4],
            vec!["4"; 4],
            vec!["1"]
        ]
        .concat()
    );
    // Training went on from the checkpoint, not from scratch: module 1's epoch-3 loss is below
    // its epoch-2 loss (a fresh start would be back near the epoch-1 value).
    let loss = |epoch: &str| -> f64 {
        lines
            .iter()
            .find(|l| l.starts_with(&format!("{epoch},module,1,")))
            .map(|l| l.split(',').nth(4).unwrap().parse().unwrap())
            .unwrap()
    };
    assert!(loss("3") < loss("2"), "{} vs {}", loss("3"), loss("2"));
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(s["epochs"], 4);
    assert!(s["test_accuracy"].as_f64().unwrap() > 0.9, "{s}");

    // Nothing to resume from: exit code 2 naming the missing checkpoint.
    let empty = temp_dir("async-resume-empty");
    std::fs::copy(dir.join("config.toml"), empty.join("config.toml")).unwrap();
    let out = run(mole().args(["train", "--quiet", "--resume"]).arg(&empty));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out).1);
    assert!(
        text(&out).1.contains("module_1.safetensors"),
        "{}",
        text(&out).1
    );
}
