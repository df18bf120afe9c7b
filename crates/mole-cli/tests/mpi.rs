//! `mole train --schedule async --distributed mpi` under `mpirun` (built with `--features mpi`;
//! `.ci/run` installs Open MPI and runs these).
#![cfg(feature = "mpi")]

mod common;
use common::*;
use std::path::Path;
use std::process::{Command, Output};

fn mpirun(ranks: usize, out: &Path, extra: &[&str]) -> Output {
    run(Command::new("mpirun")
        .args(["--allow-run-as-root", "--oversubscribe", "-np"])
        .arg(ranks.to_string())
        .arg(env!("CARGO_BIN_EXE_mole"))
        .args(ARGS)
        .args(["--distributed", "mpi"])
        .args(extra)
        .arg("--out")
        .arg(out))
}

const ARGS: &[&str] = &[
    "train",
    "--quiet",
    "--dataset",
    "digits",
    "--group",
    "1,1,1",
    "--schedule",
    "async",
    "--epochs",
    "3",
    "--head-epochs",
    "2",
];

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The metrics rows of the modules (the async epochs), without the seconds column.
fn module_rows(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("metrics.csv"))
        .unwrap()
        .lines()
        .filter(|l| l.split(',').nth(1) == Some("module"))
        .map(|l| l.rsplit_once(',').unwrap().0.to_string())
        .collect()
}

#[test]
fn three_ranks_train_digits_like_the_threaded_async_schedule() {
    let dir = temp_dir("mpi3");
    let out = mpirun(3, &dir.join("mpi"), &[]);
    assert!(out.status.success(), "{}", text(&out).1);
    let s = json(&dir.join("mpi/summary.json"));
    assert_eq!(s["schedule"], "async");
    assert_eq!(s["modules"].as_array().unwrap().len(), 3);
    let acc = s["test_accuracy"].as_f64().unwrap();
    assert!(acc > 0.9, "MOLE on digits over MPI: {acc}");
    for f in ["module_1", "module_2", "module_3", "head"] {
        assert!(dir.join(format!("mpi/weights/{f}.safetensors")).is_file());
    }
    let a = json(&dir.join("mpi/async.json"));
    assert_eq!(a["transport"], "mpi");
    assert_eq!(a["mpi"]["ranks"], 3);
    let ranks = a["mpi"]["per_rank"].as_array().unwrap();
    assert_eq!(ranks.len(), 3);
    // 4 workers on 2 worker ranks: modules 1-2, then module 3 and the head.
    assert_eq!(
        ranks[1]["workers"],
        serde_json::json!(["module 1", "module 2"])
    );
    assert_eq!(ranks[2]["workers"], serde_json::json!(["module 3", "head"]));
    assert!(ranks[1]["bytes_received"].as_u64().unwrap() > 0);
    let share = a["mpi"]["transport_share"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&share), "{share}");
    // Every batch exactly once per epoch, by every worker.
    let per_epoch = a["batches_per_epoch"].as_u64().unwrap();
    for w in a["workers"].as_array().unwrap() {
        assert_eq!(w["batches_used"].as_u64().unwrap(), 3 * per_epoch, "{w}");
        assert_eq!(w["missing"], 0, "{w}");
        assert_eq!(w["duplicates"], 0, "{w}");
    }

    // The same run on threads: identical module updates and evaluations, to the last digit
    // (the weights and the batch-norm statistics cross the ranks exactly).
    let local = run(mole().args(ARGS).arg("--out").arg(dir.join("local")));
    assert!(local.status.success(), "{}", text(&local).1);
    assert_eq!(
        module_rows(&dir.join("mpi")),
        module_rows(&dir.join("local"))
    );
}

#[test]
fn a_job_of_the_wrong_size_fails_naming_the_limit() {
    let dir = temp_dir("mpi-size");
    // 3 modules + head = 4 workers: at most 5 ranks.
    let out = mpirun(6, &dir.join("run"), &[]);
    assert!(!out.status.success());
    assert!(
        text(&out).1.contains("use at most 5 ranks"),
        "{}",
        text(&out).1
    );
    // Outside mpirun there is one rank: nobody to train.
    let out = run(mole()
        .args(ARGS)
        .args(["--distributed", "mpi", "--out"])
        .arg(dir.join("single")));
    assert!(!out.status.success());
    assert!(
        text(&out).1.contains("at least 2 MPI ranks"),
        "{}",
        text(&out).1
    );
}

#[test]
fn mpi_needs_the_async_schedule_and_block_buffers() {
    let dir = temp_dir("mpi-config");
    for (args, needle) in [
        (
            &["--schedule", "sequential"][..],
            "needs schedule = \"async\"",
        ),
        (
            &["--schedule", "async", "--buffer", "replay"][..],
            "supports buffer = \"block\" only",
        ),
    ] {
        let out = run(mole()
            .args(["train", "--quiet", "--dataset", "digits"])
            .args(args)
            .args(["--distributed", "mpi", "--out"])
            .arg(dir.join("run")));
        assert_eq!(out.status.code(), Some(2), "{}", text(&out).1);
        assert!(text(&out).1.contains(needle), "{}", text(&out).1);
    }
}

/// `--resume` under MPI: rank 0 loads the checkpoints and sends every worker rank its weights;
/// the module updates equal those of a threaded resume of the same run.
#[test]
fn resume_under_mpi_continues_like_the_threaded_resume() {
    let dir = temp_dir("mpi-resume");
    let first = mpirun(3, &dir.join("mpi"), &[]); // 3 epochs
    assert!(first.status.success(), "{}", text(&first).1);
    std::fs::create_dir_all(dir.join("local")).unwrap();
    // Both continue from the very same checkpoints.
    let copy = run(Command::new("cp")
        .arg("-r")
        .arg(dir.join("mpi"))
        .arg(dir.join("local/run")));
    assert!(copy.status.success());
    let resumed = run(Command::new("mpirun")
        .args(["--allow-run-as-root", "--oversubscribe", "-np", "3"])
        .arg(env!("CARGO_BIN_EXE_mole"))
        .args(["train", "--quiet", "--resume"])
        .arg(dir.join("mpi"))
        .args(["--epochs", "4"]));
    assert!(resumed.status.success(), "{}", text(&resumed).1);
    let local = run(mole()
        .args(["train", "--quiet", "--distributed", "local", "--resume"])
        .arg(dir.join("local/run"))
        .args(["--epochs", "4"]));
    assert!(local.status.success(), "{}", text(&local).1);
    let rows = module_rows(&dir.join("mpi"));
    assert_eq!(rows.len(), 4 * 3, "{rows:?}");
    assert_eq!(rows, module_rows(&dir.join("local/run")));
}
