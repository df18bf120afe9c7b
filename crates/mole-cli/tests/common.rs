//! Helpers shared by the command-line tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

/// The `mole` binary built for these tests.
pub fn mole() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mole"))
}

/// `shared/datasets` beside the checkout. The crate's folder is read when the test runs (cargo
/// sets `CARGO_MANIFEST_DIR` then too): a test binary built from another checkout that shares the
/// target directory would otherwise look beside that checkout.
pub fn datasets() -> PathBuf {
    let manifest =
        std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into());
    let p = PathBuf::from(manifest).join("../../../shared/datasets");
    assert!(
        p.is_dir(),
        "the test datasets are expected at {}",
        p.display()
    );
    p
}

/// The temporary run folders, shared with mole-train's integration tests.
#[path = "../../mole-train/tests/common/temp.rs"]
mod temp;

/// A fresh temporary directory for one test, `mole-test-NAME-PID`. The same test's folders
/// left by earlier test processes that have ended are removed first, so that runs of the suite
/// do not pile up run directories (each run keeps its last one to look at).
pub fn temp_dir(name: &str) -> PathBuf {
    let p = temp::temp_dir("mole-test", name);
    std::fs::create_dir_all(&p).unwrap();
    p
}

/// Runs and returns the output, printing stderr when it fails unexpectedly.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("the mole binary runs")
}

/// Stdout and stderr as text.
pub fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Parses `summary.json` of a run directory.
pub fn summary(dir: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("summary.json")).expect("summary.json written");
    serde_json::from_str(&text).expect("summary.json is JSON")
}

/// Waits until the run writing `metrics` (a `metrics.csv`) has `rows` lines in it (two minutes
/// at most), sends the child Ctrl-C (SIGINT) and returns its output.
pub fn interrupt_after_rows(
    child: std::process::Child,
    metrics: &std::path::Path,
    rows: usize,
) -> Output {
    let t0 = std::time::Instant::now();
    while std::fs::read_to_string(metrics).map_or(0, |m| m.lines().count()) < rows {
        assert!(t0.elapsed().as_secs() < 120, "no epoch finished");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    child.wait_with_output().unwrap()
}
