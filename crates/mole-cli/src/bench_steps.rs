//! `mole bench steps`: the time of one training step of each learner, in this process, on one
//! fixed batch of real data: the backprop network; each MOLE module at α = 1.01 and α = 2 (delta
//! label kernel); each HSIC-bottleneck module. `bench/torch_reference.py` times the same steps
//! in PyTorch and prints the ratios.

use crate::bench_cmd::BenchArgs;
use anyhow::Context;
use burn::tensor::Device;
use mole_data::DataOptions;
use mole_train::config::{Method, TrainConfig};
use mole_train::objective::{InputCache, Target};
use mole_train::{Network, batches};
use std::time::Instant;

/// Timed steps per learner (after [`WARMUP`] untimed ones).
pub const REPS: usize = 20;
/// Untimed steps first (allocator and caches warm).
pub const WARMUP: usize = 3;

/// One timed learner.
pub struct StepTime {
    /// `bp`, `mole-a1.01`, `mole-a2` or `hsic`.
    pub method: String,
    /// `network`, `module 1`, …
    pub learner: String,
    /// Median milliseconds of one step (forward, loss, backward, optimiser).
    pub ms: f64,
}

/// The median of `v` (the mean of the middle two for an even count).
pub(crate) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

/// Times every learner of every method on the first `batch_size` training rows.
pub fn run(args: &BenchArgs) -> anyhow::Result<Vec<StepTime>> {
    let model = args
        .model
        .clone()
        .unwrap_or_else(|| "mlp:256,256,256".into());
    let opts = DataOptions {
        data_dir: args.data_dir.clone(),
        ..DataOptions::default()
    };
    let split = mole_data::load(&args.dataset, &opts)
        .with_context(|| format!("loading {}", args.dataset))?;
    let n = args.batch_size.min(split.train.len());
    let idx: Vec<usize> = (0..n).collect();
    let plain = Device::flex();
    let device = plain.clone().autodiff();
    let x = batches::features(&split.train, &idx, &plain);
    let target = || Target {
        x: x.clone().flat(),
        labels: batches::labels(&split.train, &idx),
        num_classes: split.train.num_classes,
        view: None,
        input_sample: None,
        cache: InputCache::default(),
    };
    let methods: [(&str, Method, f64); 4] = [
        ("bp", Method::Bp, 1.01),
        ("mole-a1.01", Method::Mole, 1.01),
        ("mole-a2", Method::Mole, 2.0),
        ("hsic", Method::Hsic, 1.01),
    ];
    let mut out = Vec::new();
    for (name, method, alpha) in methods {
        let mut cfg = TrainConfig {
            model: model.clone(),
            method,
            ..TrainConfig::default()
        };
        cfg.mole.alpha = alpha;
        if method == Method::Mole {
            cfg.group = mole_train::defaults::default_groups(method, &model.parse()?);
        }
        let shape = mole_train::train::input_shape(&split);
        let mut net = Network::build(&cfg, &shape, split.train.num_classes, &device, None)?;
        let learners = net.modules.len();
        let inputs: Vec<_> = (0..learners)
            .map(|k| net.forward_to(x.clone(), k))
            .collect();
        let mut times = vec![Vec::with_capacity(REPS); learners];
        for rep in 0..WARMUP + REPS {
            // A new batch for the input-side cache, shared by the modules as in training.
            let t = target();
            for (k, input) in inputs.iter().enumerate() {
                let start = Instant::now();
                net.learner_mut(k).step(input.clone(), &t)?;
                if rep >= WARMUP {
                    times[k].push(start.elapsed().as_secs_f64() * 1e3);
                }
            }
        }
        for (k, t) in times.into_iter().enumerate() {
            out.push(StepTime {
                method: name.to_string(),
                learner: if method == Method::Bp {
                    "network".into()
                } else {
                    net.learner(k).name.clone()
                },
                ms: median(t),
            });
        }
    }
    Ok(out)
}

/// Markdown table, and the same figures as JSON lines when `json` is set.
pub fn table(times: &[StepTime], args: &BenchArgs) -> String {
    let threads = std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "all cores".into());
    let mut t = format!(
        "One training step (median of {REPS}) on the first {} rows of {}, {} threads\n\n| method | learner | ms |\n|---|---|---|\n",
        args.batch_size, args.dataset, threads
    );
    for s in times {
        t += &format!("| {} | {} | {:.2} |\n", s.method, s.learner, s.ms);
    }
    let per = |m: &str| -> f64 { times.iter().filter(|s| s.method == m).map(|s| s.ms).sum() };
    t += "\nA batch through every learner:\n\n| method | ms | × BP |\n|---|---|---|\n";
    for m in ["bp", "mole-a1.01", "mole-a2", "hsic"] {
        t += &format!("| {m} | {:.2} | {:.2} |\n", per(m), per(m) / per("bp"));
    }
    t
}

/// The figures as one JSON array of `{method, learner, ms}`.
pub fn json(times: &[StepTime]) -> String {
    let rows: Vec<serde_json::Value> = times
        .iter()
        .map(|s| serde_json::json!({"method": s.method, "learner": s.learner, "ms": s.ms}))
        .collect();
    serde_json::Value::Array(rows).to_string()
}
