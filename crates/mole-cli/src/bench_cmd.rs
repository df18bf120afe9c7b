//! `mole bench`: throughput and memory of the methods and schedules, each configuration in its
//! own process (so that peak memory is that configuration's alone), reported as a table with
//! ratios to backprop from the same invocation.

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use std::process::Command;

use crate::bench_steps::median;

/// What to measure.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Suite {
    /// Samples/second of every method × schedule on one dataset and model.
    Throughput,
    /// Training memory (peak live heap, peak RSS) of MOLE vs BP on a deep MLP (16 modules of
    /// width 512 by default).
    Memory,
    /// Samples/second of the async schedule (block and replay buffers) vs simultaneous, same
    /// method and batch size, with accuracy and staleness.
    Async,
    /// Async vs simultaneous for 1–4 modules of width 256: how the speed-up scales.
    AsyncScaling,
    /// Images/second of BP, MOLE and HSIC on the same CNN (cnn:32,64 on MNIST by default).
    Cnn,
    /// Where a training batch's time goes: the throughput configurations run with `--profile`,
    /// milliseconds per batch in each phase, summed over the learners (the simultaneous schedule
    /// with its learners taking turns, `--pipeline off`: a pipeline's phases overlap in time).
    Profile,
    /// One training step of each learner (BP network, MOLE modules at α 1.01 and 2, HSIC
    /// modules) on one batch, in this process; `--json FILE` for bench/torch_reference.py.
    Steps,
}

/// Flags of `mole bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Which benchmark.
    #[arg(value_enum, default_value = "throughput")]
    pub suite: Suite,
    /// Dataset.
    #[arg(long, default_value = "mnist")]
    pub dataset: String,
    /// Folder of the named datasets.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Model spec [default: mlp:256,256,256 for throughput, 16 × 512 for memory].
    #[arg(long)]
    pub model: Option<String>,
    /// Epochs per configuration.
    #[arg(long, default_value_t = 1)]
    pub epochs: usize,
    /// Batch size.
    #[arg(long, default_value_t = 256)]
    pub batch_size: usize,
    /// Train on a class-balanced subset of this many samples (shorter runs).
    #[arg(long)]
    pub train_samples: Option<usize>,
    /// Evaluate on a class-balanced subset of this many test samples.
    #[arg(long)]
    pub test_samples: Option<usize>,
    /// Keep the runs' directories here [default: a temporary folder, removed at the end].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write the table as markdown to this file too.
    #[arg(long)]
    pub markdown: Option<PathBuf>,
    /// cnn suite: also run MOLE and HSIC with these layers per module (e.g. `2`: both conv
    /// blocks of `cnn:32,64` in one module, the grouping that trains best).
    #[arg(long)]
    pub group: Option<String>,
    /// Method of the async suites: mole or hsic.
    #[arg(long, default_value = "mole")]
    pub method: String,
    /// steps suite: also write the step times as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// async suite: also run the async schedule under `mpirun -np K` for each K given
    /// (e.g. `3,4`; needs a build with `--features mpi`).
    #[arg(long, value_delimiter = ',')]
    pub mpi_ranks: Vec<usize>,
    /// throughput, memory and cnn suites: run every configuration this many rounds, one after
    /// the other (round 1: all configurations, round 2: all again, …), and report medians, the
    /// ratios to BP taken within each round (on a machine whose speed drifts, a ratio from one
    /// round compares like with like); async suite: that many rounds of its one-epoch
    /// comparison with BP.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub repeat: u32,
}

pub(crate) struct Row {
    pub(crate) label: String,
    pub(crate) summary: serde_json::Value,
}

pub(crate) fn run_config(
    args: &BenchArgs,
    out: &std::path::Path,
    label: &str,
    extra: &[&str],
    model: &str,
) -> anyhow::Result<Row> {
    run_config_launched(args, out, label, extra, model, &[])
}

/// [`run_config`] started through `launcher` (e.g. `mpirun -np 3`) when it is not empty.
pub(crate) fn run_config_launched(
    args: &BenchArgs,
    out: &std::path::Path,
    label: &str,
    extra: &[&str],
    model: &str,
    launcher: &[String],
) -> anyhow::Result<Row> {
    let exe = std::env::current_exe().context("locating the mole binary")?;
    let dir = out.join(label.replace([' ', '/'], "-"));
    let mut cmd = match launcher.split_first() {
        Some((program, rest)) => {
            let mut c = Command::new(program);
            c.args(rest).arg(exe);
            c
        }
        None => Command::new(exe),
    };
    cmd.args([
        "train",
        "--quiet",
        "--dataset",
        &args.dataset,
        "--model",
        model,
    ])
    .args(["--epochs", &args.epochs.to_string()])
    // One head epoch on the frozen modules unless the configuration says otherwise.
    .args(if extra.contains(&"--head-epochs") {
        &[][..]
    } else {
        &["--head-epochs", "1"][..]
    })
    .args(["--batch-size", &args.batch_size.to_string()])
    // The whole training set trains, as in every configuration's figures; no epoch is chosen.
    .args(["--val-fraction", "0"])
    .args(extra)
    .arg("--out")
    .arg(&dir);
    if let Some(d) = &args.data_dir {
        cmd.arg("--data-dir").arg(d);
    }
    if let Some(n) = args.train_samples {
        cmd.args(["--train-samples", &n.to_string()]);
    }
    if let Some(n) = args.test_samples {
        cmd.args(["--test-samples", &n.to_string()]);
    }
    eprintln!("bench: {label} ...");
    let status = cmd.status().context("running mole train")?;
    if !status.success() {
        bail!("bench configuration '{label}' failed ({status})");
    }
    let text = std::fs::read_to_string(dir.join("summary.json"))
        .with_context(|| format!("{}/summary.json", dir.display()))?;
    Ok(Row {
        label: label.to_string(),
        summary: serde_json::from_str(&text)?,
    })
}

/// The cnn suite's configurations: BP, MOLE (one block per module, plain and pooled) and HSIC;
/// with `group`, MOLE and HSIC once more with that many layers per module.
fn cnn_configs(group: Option<&str>) -> Vec<(&'static str, Vec<&str>)> {
    let mole = vec!["--method", "mole", "--schedule", "sequential"];
    let hsic = vec!["--method", "hsic", "--schedule", "simultaneous"];
    let mut configs = vec![
        ("bp simultaneous", vec!["--method", "bp"]),
        ("mole sequential", mole.clone()),
        (
            "mole sequential pooled",
            [mole.as_slice(), &["--pooled", "true"]].concat(),
        ),
        ("hsic simultaneous", hsic.clone()),
    ];
    if let Some(g) = group {
        configs.push((
            "mole sequential grouped",
            [mole, vec!["--group", g]].concat(),
        ));
        configs.push((
            "hsic simultaneous grouped",
            [hsic, vec!["--group", g]].concat(),
        ));
    }
    configs
}

/// Runs the benchmark and prints the table.
pub fn run(args: &BenchArgs) -> anyhow::Result<()> {
    if args.group.is_some() && !matches!(args.suite, Suite::Cnn) {
        return Err(mole_train::config::ConfigError::Invalid(
            "--group applies to the cnn suite only".into(),
        )
        .into());
    }
    if args.repeat > 1
        && !matches!(
            args.suite,
            Suite::Throughput | Suite::Memory | Suite::Cnn | Suite::Async
        )
    {
        return Err(mole_train::config::ConfigError::Invalid(
            "--repeat applies to the throughput, memory, cnn and async suites only".into(),
        )
        .into());
    }
    if matches!(args.suite, Suite::Steps) {
        let times = crate::bench_steps::run(args)?;
        let table = crate::bench_steps::table(&times, args);
        print!("{table}");
        if let Some(p) = &args.json {
            std::fs::write(p, crate::bench_steps::json(&times))
                .with_context(|| format!("writing {}", p.display()))?;
        }
        if let Some(p) = &args.markdown {
            std::fs::write(p, &table).with_context(|| format!("writing {}", p.display()))?;
        }
        return Ok(());
    }
    if args.json.is_some() {
        return Err(mole_train::config::ConfigError::Invalid(
            "--json applies to the steps suite only".into(),
        )
        .into());
    }
    // Without --out the runs are scratch: a temporary folder, removed when the bench ends
    // (each configuration's run directory holds its weights and embeddings).
    let (out, _scratch) = match &args.out {
        Some(out) => (out.clone(), None),
        None => {
            let dir = std::env::temp_dir().join(format!("mole-bench-{}", std::process::id()));
            (dir.clone(), Some(ScratchDir(dir)))
        }
    };
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    if matches!(args.suite, Suite::Async | Suite::AsyncScaling) {
        let table = crate::bench_async::run(args, &out, matches!(args.suite, Suite::AsyncScaling))?;
        print!("{table}");
        if let Some(p) = &args.markdown {
            std::fs::write(p, &table).with_context(|| format!("writing {}", p.display()))?;
        }
        return Ok(());
    }
    let (model, configs): (String, Vec<(&str, Vec<&str>)>) = match args.suite {
        Suite::Throughput | Suite::Profile | Suite::Steps | Suite::Async | Suite::AsyncScaling => (
            args.model
                .clone()
                .unwrap_or_else(|| "mlp:256,256,256".into()),
            vec![
                ("bp simultaneous", vec!["--method", "bp"]),
                (
                    "mole sequential",
                    vec!["--method", "mole", "--schedule", "sequential"],
                ),
                (
                    "mole simultaneous",
                    vec!["--method", "mole", "--schedule", "simultaneous"],
                ),
                (
                    "hsic simultaneous",
                    vec!["--method", "hsic", "--schedule", "simultaneous"],
                ),
            ],
        ),
        Suite::Memory => (
            args.model
                .clone()
                .unwrap_or_else(|| format!("mlp:{}", vec!["512"; 16].join(","))),
            vec![
                ("bp simultaneous", vec!["--method", "bp"]),
                (
                    "mole simultaneous",
                    vec!["--method", "mole", "--schedule", "simultaneous"],
                ),
                (
                    "mole sequential",
                    vec!["--method", "mole", "--schedule", "sequential"],
                ),
            ],
        ),
        Suite::Cnn => (
            args.model.clone().unwrap_or_else(|| "cnn:32,64".into()),
            cnn_configs(args.group.as_deref()),
        ),
    };
    let profile = matches!(args.suite, Suite::Profile);
    let rounds = args.repeat as usize;
    // rounds[r][c]: configuration c in round r.
    let mut runs: Vec<Vec<Row>> = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let dir = if rounds == 1 {
            out.clone()
        } else {
            out.join(format!("round-{}", round + 1))
        };
        let rows = configs
            .iter()
            .map(|(label, extra)| {
                // A profile times each learner's phases; the simultaneous schedule's pipeline
                // would overlap them in time, so there its learners take turns.
                let in_turn = profile && extra.contains(&"simultaneous");
                let extra: Vec<&str> = extra
                    .iter()
                    .copied()
                    .chain(profile.then_some("--profile"))
                    .chain(
                        in_turn
                            .then_some(["--pipeline", "off"])
                            .into_iter()
                            .flatten(),
                    )
                    .collect();
                run_config(args, &dir, label, &extra, &model)
            })
            .collect::<anyhow::Result<Vec<Row>>>()?;
        runs.push(rows);
    }
    if profile {
        let rows = runs.pop().expect("one round");
        let table = crate::profile_table::batch_table(&rows, &out, &model, args)?;
        print!("{table}");
        if let Some(p) = &args.markdown {
            std::fs::write(p, &table).with_context(|| format!("writing {}", p.display()))?;
        }
        return Ok(());
    }
    let f = |s: &serde_json::Value, k: &str| s[k].as_f64().unwrap_or(f64::NAN);
    let heap = |s: &serde_json::Value| f(s, "peak_heap_bytes") - f(s, "heap_at_start_bytes");
    let rounds_note = if rounds == 1 {
        String::new()
    } else {
        format!(
            " {rounds} rounds of every configuration: medians, each ratio to BP taken within its round (the rounds' ratios in brackets)."
        )
    };
    let mut table = format!(
        "{} on {} ({}), batch {}, {} epoch(s) per stage. Training heap = peak live heap during training − live heap when it started (data, network): what training itself holds; peak RSS includes memory the allocator keeps.{rounds_note}\n\n| configuration | samples/s | × BP | train s | training heap MiB | × BP | peak RSS MiB | test accuracy |\n|---|---|---|---|---|---|---|---|\n",
        match args.suite {
            Suite::Memory => "Peak memory",
            Suite::Cnn => "CNN throughput (samples = images)",
            _ => "Throughput",
        },
        args.dataset,
        model,
        args.batch_size,
        args.epochs
    );
    for (c, (label, _)) in configs.iter().enumerate() {
        let of = |get: &dyn Fn(&serde_json::Value) -> f64| -> Vec<f64> {
            runs.iter().map(|r| get(&r[c].summary)).collect()
        };
        let ratio = |get: &dyn Fn(&serde_json::Value) -> f64| -> Vec<f64> {
            runs.iter()
                .map(|r| get(&r[c].summary) / get(&r[0].summary))
                .collect()
        };
        let rate = |s: &serde_json::Value| f(s, "samples_per_second");
        let speed = ratio(&rate);
        let speed_cell = if rounds == 1 {
            format!("{:.2}", speed[0])
        } else {
            let each: Vec<String> = speed.iter().map(|v| format!("{v:.2}")).collect();
            format!("{:.2} ({})", median(speed.clone()), each.join(" / "))
        };
        table += &format!(
            "| {} | {:.0} | {} | {:.1} | {:.0} | {:.2} | {:.0} | {:.4} |\n",
            label,
            median(of(&rate)),
            speed_cell,
            median(of(&|s| f(s, "train_seconds"))),
            median(of(&heap)) / 1048576.0,
            median(ratio(&heap)),
            median(of(&|s| f(s, "peak_rss_bytes"))) / 1048576.0,
            f(&runs[0][c].summary, "test_accuracy")
        );
    }
    print!("{table}");
    if let Some(p) = &args.markdown {
        std::fs::write(p, &table).with_context(|| format!("writing {}", p.display()))?;
    }
    Ok(())
}

/// A folder removed with everything in it when dropped (the bench's runs without `--out`).
struct ScratchDir(PathBuf);

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
