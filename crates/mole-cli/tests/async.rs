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
