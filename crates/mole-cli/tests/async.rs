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
    assert!(s["test_accuracy"].as_f64().unwrap() > 0.8, "{s}");
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
    // Wait until an epoch has been evaluated (the handler is installed before training).
    let metrics = dir.join("metrics.csv");
    let t0 = std::time::Instant::now();
    while std::fs::read_to_string(&metrics).map_or(0, |m| m.lines().count()) < 3 {
        assert!(t0.elapsed().as_secs() < 120, "no epoch finished");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
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
