//! Kill -9 and `--resume`: a run killed at a random point of an epoch and resumed from its run
//! directory ends exactly where the same run left alone ends — every completed epoch once in
//! `metrics.csv`, none recomputed, the same final accuracy to the last bit.
//!
//! Deterministic because each epoch reseeds the device from the seed and the epoch's number, the
//! snapshot holds the weights, the optimiser moments and the kept epoch of the head, and the
//! tests run one intra-op thread (`RAYON_NUM_THREADS=1`: the order of a parallel reduction is
//! then fixed), except the pipelined one, which needs two and whose uninterrupted and resumed
//! runs both use two.

mod common;
use common::*;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// What a test trains: dataset, method, schedule, epochs per module and head epochs, and any
/// further flags.
#[derive(Clone, Copy)]
struct Plan<'a> {
    dataset: &'a str,
    method: &'a str,
    schedule: &'a str,
    epochs: [&'a str; 2],
    extra: &'a [&'a str],
    /// Intra-op threads (`RAYON_NUM_THREADS`): 1 unless a test needs the pipeline's two stages.
    threads: &'a str,
}

/// The flags of a plan, with a fixed seed and its intra-op threads.
fn base(cmd: &mut Command, p: Plan<'_>) {
    cmd.env("RAYON_NUM_THREADS", p.threads)
        .args(["train", "--quiet", "--seed", "3", "--dataset", p.dataset])
        .args(["--method", p.method, "--schedule", p.schedule])
        .args(["--epochs", p.epochs[0], "--head-epochs", p.epochs[1]])
        .args(p.extra)
        .arg("--data-dir")
        .arg(datasets());
}

/// digits with `method` on `schedule`.
fn digits<'a>(method: &'a str, schedule: &'a str, epochs: [&'a str; 2]) -> Plan<'a> {
    Plan {
        dataset: "digits",
        method,
        schedule,
        epochs,
        extra: &[],
        threads: "1",
    }
}

/// The complete lines of `metrics.csv` without their last column (seconds, which differ between
/// any two runs); a line still being written when the file was read is left out.
fn metrics_without_time(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join("metrics.csv")).unwrap_or_default();
    let complete = text.rfind('\n').map_or("", |end| &text[..end]);
    complete
        .lines()
        .map(|l| l.rsplit_once(',').map_or(l, |(rest, _)| rest).to_string())
        .collect()
}

/// Rows of `metrics.csv` so far (header excluded); 0 before the file exists.
fn rows(dir: &Path) -> Vec<String> {
    metrics_without_time(dir).into_iter().skip(1).collect()
}

/// A pseudo-random number in `0..n` from the clock (printed, so a failure can be read back).
fn random_below(n: u64) -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() as u64);
    // SplitMix64 of the clock: the low bits of a clock alone are not uniform.
    let mut z = nanos.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) % n.max(1)
}

/// Trains `plan` uninterrupted into `dir/whole`; returns that directory.
fn train_whole(dir: &Path, plan: Plan<'_>) -> std::path::PathBuf {
    let whole = dir.join("whole");
    let mut cmd = mole();
    base(&mut cmd, plan);
    let o = run(cmd.arg("--out").arg(&whole));
    assert!(o.status.success(), "{}", text(&o).1);
    whole
}

/// Starts `plan` into `dir/killed` and kills it with SIGKILL once `ready` holds for that
/// directory, plus `delay` ms; checks that the run had not finished. Returns the directory.
fn start_and_kill(
    name: &str,
    dir: &Path,
    plan: Plan<'_>,
    ready: impl Fn(&Path) -> bool,
    delay: u64,
) -> std::path::PathBuf {
    let killed = dir.join("killed");
    let mut cmd = mole();
    base(&mut cmd, plan);
    let mut child = cmd
        .arg("--out")
        .arg(&killed)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !ready(&killed) {
        assert!(
            child.try_wait().unwrap().is_none(),
            "{name}: the run ended before the kill point"
        );
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "{name}: no progress"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    std::thread::sleep(Duration::from_millis(delay));
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    assert!(
        !killed.join("summary.json").exists(),
        "{name}: killed after {delay} ms but the run had already finished"
    );
    killed
}

/// `mole train --resume killed` with `threads` intra-op threads; its stderr, once it succeeded
/// and said it resumed.
fn resume(killed: &Path, threads: &str, context: &str) -> String {
    let o = run(mole()
        .env("RAYON_NUM_THREADS", threads)
        .args(["train", "--resume"])
        .arg(killed));
    let (_, stderr) = text(&o);
    assert!(o.status.success(), "resume {context}: {stderr}");
    assert!(stderr.contains("resuming"), "{stderr}");
    stderr
}

/// Trains once uninterrupted, then again killed with SIGKILL once `ready` holds for the rows
/// written so far and a snapshot exists, plus a random 0–300 ms (so mid-epoch), resumes the
/// killed run and compares. Returns the resumed run's directory.
fn kill_and_resume(
    name: &str,
    plan: Plan<'_>,
    ready: impl Fn(&[String]) -> bool,
) -> std::path::PathBuf {
    let dir = temp_dir(&format!("resume-{name}"));
    let whole = train_whole(&dir, plan);
    let expected = metrics_without_time(&whole);
    let expected_accuracy = summary(&whole)["test_accuracy"].as_f64().unwrap();

    // A run killed before its first snapshot has nothing to resume from (and says so): wait for
    // one, written atomically after the epoch's metrics rows.
    let delay = random_below(300);
    let killed = start_and_kill(
        name,
        &dir,
        plan,
        |k| ready(&rows(k)) && k.join("weights/snapshot.safetensors").is_file(),
        delay,
    );
    let before = rows(&killed);
    resume(
        &killed,
        plan.threads,
        &format!("{name}: after {} rows (+{delay} ms)", before.len()),
    );
    let got = metrics_without_time(&killed);
    // Rows written before the kill are kept as they were (a snapshot may be up to one epoch
    // behind the file: the rows after it are rewritten with the same values).
    assert_eq!(
        got[1..=before.len()],
        before[..],
        "{name}: rows written before the kill changed"
    );
    assert_eq!(
        got,
        expected,
        "{name}: killed after {} rows + {delay} ms",
        before.len()
    );
    let accuracy = summary(&killed)["test_accuracy"].as_f64().unwrap();
    assert_eq!(
        accuracy.to_bits(),
        expected_accuracy.to_bits(),
        "{name}: {accuracy} after resume, {expected_accuracy} uninterrupted"
    );
    killed
}

/// Sequential MOLE, killed while a module above the first trains (module 1 frozen, its outputs
/// recomputed from the snapshot's weights).
#[test]
fn a_sequential_run_killed_in_a_later_module_resumes_bit_exactly() {
    // digits MOLE: modules 1 and 2 (layers 1–2 and 3), 12 epochs each, then the head. Rows
    // come every 8 epochs and at a stage's last, so module 1 is done once its two layers' rows
    // of epoch 12 are written: module 2 trains from then on (the kill lands in it or early in
    // the head's 200 epochs, which keep the run going past the random delay).
    kill_and_resume(
        "sequential",
        digits("mole", "sequential", ["12", "200"]),
        |r| r.iter().filter(|l| l.starts_with("12,module,1,")).count() == 2,
    );
}

/// Simultaneous HSIC: every module and the format layer train on each batch; killed at a random
/// epoch.
#[test]
fn a_simultaneous_run_killed_mid_epoch_resumes_bit_exactly() {
    let after = 1 + random_below(8) as usize;
    kill_and_resume(
        "simultaneous",
        digits("hsic", "simultaneous", ["6", "5"]),
        |r| r.len() > after,
    );
}

/// Simultaneous HSIC as a pipeline (two threads, `--pipeline on`: the modules and the format
/// layer in two stages, each on its own thread), killed at a random epoch: the resumed process
/// builds its stages again and continues where the snapshot left off.
#[test]
fn a_pipelined_run_killed_mid_epoch_resumes_bit_exactly() {
    let after = 1 + random_below(8) as usize;
    let plan = Plan {
        extra: &["--pipeline", "on"],
        threads: "2",
        ..digits("hsic", "simultaneous", ["6", "5"])
    };
    let resumed = kill_and_resume("pipelined", plan, |r| r.len() > after);
    let stages = &summary(&resumed)["pipeline_stages"];
    assert_eq!(stages.as_array().map(Vec::len), Some(2), "{stages}");
}

/// simpred with a heavier prediction term: the modules' projections and classifiers (their
/// weights and Adam moments) come back with the snapshot.
#[test]
fn a_run_with_local_heads_killed_mid_epoch_resumes_bit_exactly() {
    let after = 1 + random_below(6) as usize;
    let plan = Plan {
        extra: &["--lambda-ce", "0.3"],
        ..digits("simpred", "simultaneous", ["6", "3"])
    };
    kill_and_resume("local-heads", plan, |r| r.len() > after);
}

/// The head phase of a sequential run: the modules are done, the head is part-way.
#[test]
fn a_run_killed_in_the_head_phase_resumes_bit_exactly() {
    // Enough head epochs that the kill lands among them (an epoch of the head alone, its
    // evaluation on the kept module outputs included, takes a few milliseconds).
    kill_and_resume("head", digits("mole", "sequential", ["2", "400"]), |r| {
        r.iter().any(|l| l.split(',').nth(1) == Some("head"))
    });
}

/// The head phase of a simultaneous run (the HSIC format phase), whose epochs read the frozen
/// modules' outputs from a cache that the resumed process computes again.
#[test]
fn a_simultaneous_run_killed_in_the_head_phase_resumes_bit_exactly() {
    kill_and_resume(
        "format",
        digits("hsic", "simultaneous", ["2", "400"]),
        |r| r.iter().any(|l| l.split(',').nth(1) == Some("head")),
    );
}

/// Node level (Cora), backprop with dropout (the device is reseeded per epoch, so the masks
/// after a resume are the uninterrupted run's), killed at a random epoch.
#[test]
fn a_node_level_graph_run_killed_mid_run_resumes_bit_exactly() {
    let after = 2 + random_below(10) as usize;
    let plan = Plan {
        dataset: "cora",
        method: "bp",
        schedule: "simultaneous",
        epochs: ["16", "1"],
        extra: &["--eval-every", "1"],
        threads: "1",
    };
    kill_and_resume("cora", plan, |r| r.len() > after);
}

/// The async schedule on graph data (one thread per module and the head, block buffers: the
/// simultaneous schedule's numbers) snapshots at its evaluated epochs, with every worker's
/// weights and optimiser state, and resumes at the next epoch.
#[test]
fn an_async_graph_run_killed_mid_run_resumes_bit_exactly() {
    let after = 2 + random_below(10) as usize;
    let plan = Plan {
        dataset: "cora",
        method: "mole",
        schedule: "async",
        epochs: ["60", "5"],
        extra: &["--eval-every", "1"],
        threads: "1",
    };
    kill_and_resume("cora-async", plan, |r| r.len() > after);
}

/// Graph level (MUTAG, 3 folds), sequential MOLE killed in the second fold: the first fold is
/// kept, the second continues from its snapshot, the third starts afresh.
#[test]
fn a_graph_level_run_killed_in_a_later_fold_resumes_bit_exactly() {
    let dir = temp_dir("resume-mutag");
    let plan = Plan {
        dataset: "mutag",
        method: "mole",
        schedule: "sequential",
        epochs: ["8", "8"],
        extra: &["--folds", "3"],
        threads: "1",
    };
    let whole = train_whole(&dir, plan);
    let after = 1 + random_below(12) as usize;
    let ready = |k: &Path| rows(&k.join("fold_2")).len() > after;
    let killed = start_and_kill("mutag", &dir, plan, ready, 0);
    assert!(killed.join("fold_1/summary.json").exists());
    let fold_1 = std::fs::read(killed.join("fold_1/metrics.csv")).unwrap();

    resume(&killed, plan.threads, &format!("after {after} rows"));
    // The finished fold was not trained again.
    assert_eq!(
        std::fs::read(killed.join("fold_1/metrics.csv")).unwrap(),
        fold_1
    );
    for f in ["fold_1", "fold_2", "fold_3"] {
        assert_eq!(
            metrics_without_time(&killed.join(f)),
            metrics_without_time(&whole.join(f)),
            "{f}, killed after {after} rows of fold 2"
        );
    }
    let (a, b) = (summary(&killed), summary(&whole));
    assert_eq!(a["fold_test_accuracies"], b["fold_test_accuracies"]);
    assert_eq!(a["test_accuracy"], b["test_accuracy"]);
}

/// The σ-combined HSIC network (one branch per σ, then the format layer on their average),
/// killed in its second branch: the first branch continues from its snapshot to the same
/// weights, the second from its own, then the format layer; every `metrics.csv` and the
/// accuracy bit-identical.
#[test]
fn a_sigma_combined_run_killed_in_a_later_branch_resumes_bit_exactly() {
    let dir = temp_dir("resume-sigmas");
    let plan = Plan {
        dataset: "digits",
        method: "hsic",
        schedule: "simultaneous",
        epochs: ["12", "6"],
        extra: &["--sigmas", "2,5", "--eval-every", "1"],
        threads: "1",
    };
    let whole = train_whole(&dir, plan);
    let after = 1 + random_below(12) as usize;
    let ready = |k: &Path| {
        let second = k.join("sigma_5");
        rows(&second).len() > after && second.join("weights/snapshot.safetensors").is_file()
    };
    let killed = start_and_kill("sigmas", &dir, plan, ready, 0);
    let first_branch = std::fs::read_to_string(killed.join("sigma_2/metrics.csv")).unwrap();

    resume(&killed, plan.threads, &format!("after {after} rows"));
    // The finished branch continued from its last snapshot (near its end: snapshots cost a few
    // milliseconds, an epoch a tenth of a second) instead of training again: its rows up to
    // there keep their times too.
    let again = std::fs::read_to_string(killed.join("sigma_2/metrics.csv")).unwrap();
    let kept = first_branch
        .lines()
        .zip(again.lines())
        .take_while(|(a, b)| a == b)
        .count();
    assert!(
        kept > first_branch.lines().count() / 2,
        "the first branch was trained again: {kept} of {} lines kept",
        first_branch.lines().count()
    );
    for f in ["", "sigma_2", "sigma_5"] {
        assert_eq!(
            metrics_without_time(&killed.join(f)),
            metrics_without_time(&whole.join(f)),
            "{f}, killed after {after} rows of the second branch"
        );
    }
    let (a, b) = (summary(&killed), summary(&whole));
    assert_eq!(
        a["test_accuracy"].as_f64().unwrap().to_bits(),
        b["test_accuracy"].as_f64().unwrap().to_bits()
    );
    let branches = |s: &serde_json::Value| -> Vec<(f64, f64)> {
        let list = s["sigma_branches"].as_array().expect("sigma_branches");
        list.iter()
            .map(|b| {
                (
                    b["sigma"].as_f64().unwrap(),
                    b["test_accuracy"].as_f64().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(branches(&a), branches(&b));
    assert_eq!(branches(&a).len(), 2);
}

/// A tmpfs of `size` mounted at `path` for one test, unmounted when dropped; `None` where this
/// process may not mount (then the test says so and checks nothing else).
struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    fn mount(path: &Path, size: &str) -> Option<SmallDisk> {
        std::fs::create_dir_all(path).ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| SmallDisk(path.to_path_buf()))
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Fills the file system holding `dir` until a write fails.
fn fill(dir: &Path) -> std::path::PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    let block = vec![7u8; 64 * 1024];
    while f.write_all(&block).is_ok() && f.flush().is_ok() {}
    // Byte by byte into the last partial block.
    while f.write_all(&[7]).is_ok() {}
    path
}

/// The disk fills up mid-run: the run ends with an error naming the file and the cause (no
/// panic), the previous snapshot is intact, and once there is space again `--resume` finishes
/// the run exactly as an uninterrupted one.
#[test]
fn a_full_disk_ends_the_run_cleanly_and_the_last_snapshot_resumes() {
    let dir = temp_dir("resume-disk-full");
    let flags = |cmd: &mut Command| {
        base(
            cmd,
            Plan {
                extra: &["--model", "mlp:32,32"],
                ..digits("mole", "sequential", ["12", "8"])
            },
        );
    };
    let whole = dir.join("whole");
    let mut cmd = mole();
    flags(&mut cmd);
    let o = run(cmd.arg("--out").arg(&whole));
    assert!(o.status.success(), "{}", text(&o).1);

    let Some(disk) = SmallDisk::mount(&dir.join("disk"), "4m") else {
        eprintln!("skipped: this process cannot mount a tmpfs");
        return;
    };
    let killed = disk.0.join("run");
    let mut cmd = mole();
    flags(&mut cmd);
    let child = cmd
        .arg("--out")
        .arg(&killed)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let snapshot = killed.join("weights/snapshot.safetensors");
    let start = Instant::now();
    while !snapshot.is_file() || rows(&killed).len() < 2 {
        assert!(start.elapsed() < Duration::from_secs(120), "no snapshot");
        std::thread::sleep(Duration::from_millis(2));
    }
    let filler = fill(&disk.0);
    let o = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(!o.status.success(), "the run finished on a full disk");
    assert_ne!(o.status.code(), Some(101), "a panic: {stderr}");
    assert!(
        stderr.contains("No space left") || stderr.contains("space"),
        "names the cause: {stderr}"
    );
    assert!(!killed.join("summary.json").exists());
    // Space again: the last snapshot is whole and the run resumes to the uninterrupted end.
    std::fs::remove_file(filler).unwrap();
    let o = run(mole()
        .env("RAYON_NUM_THREADS", "1")
        .args(["train", "--quiet", "--resume"])
        .arg(&killed));
    assert!(o.status.success(), "resume: {}", text(&o).1);
    assert_eq!(metrics_without_time(&killed), metrics_without_time(&whole));
    assert_eq!(
        summary(&killed)["test_accuracy"],
        summary(&whole)["test_accuracy"]
    );
    drop(disk);
}
