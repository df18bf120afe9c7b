//! Optimiser benchmark on the flex CPU backend: one Adam step over the parameters of
//! `mlp:256,256,256` on MNIST (weights 784 × 256, 256 × 256, 256 × 256, 256 × 10; 334k values),
//! by [`FusedAdam`] (one pass per parameter, in place) and by burn's `Adam` (a dozen tensor
//! operations per parameter). Both give the same numbers bit for bit (`adam.rs`'s tests).
//!
//! `cargo bench -p mole-train --bench optimizer`; `RAYON_NUM_THREADS` sets the threads.

use std::hint::black_box;
use std::time::Duration;

use burn::optim::{AdamConfig, Optimizer};
use burn::tensor::{Device, Distribution, Tensor};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, criterion_group, criterion_main};
use mole_train::adam::FusedAdam;

const SHAPES: [[usize; 2]; 4] = [[784, 256], [256, 256], [256, 256], [256, 10]];

/// Benchmarks `name`: one `step` of every parameter of `params` (from no optimiser state, each
/// parameter's state carried from iteration to iteration) with the gradients `grads`.
fn bench_steps<S>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    mut params: Vec<Tensor<2>>,
    grads: &[Tensor<2>],
    step: impl Fn(Tensor<2>, Tensor<2>, Option<S>) -> (Tensor<2>, Option<S>),
) {
    let mut states: Vec<Option<S>> = params.iter().map(|_| None).collect();
    group.bench_function(name, |b| {
        b.iter(|| {
            for ((p, g), s) in params.iter_mut().zip(grads).zip(states.iter_mut()) {
                let taken = std::mem::replace(p, Tensor::zeros([1, 1], &g.device()));
                let (next, state) = step(taken, g.clone(), s.take());
                *p = next;
                *s = state;
            }
            black_box(&params);
        })
    });
}

fn adam(c: &mut Criterion) {
    let device = Device::flex();
    let draw = |std: f64| -> Vec<Tensor<2>> {
        SHAPES
            .iter()
            .map(|s| Tensor::random(*s, Distribution::Normal(0.0, std), &device))
            .collect()
    };
    let grads = draw(0.1);
    let mut group = c.benchmark_group("adam_step_mlp256");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(3));
    let fused = FusedAdam::new(0.0);
    bench_steps(&mut group, "fused", draw(1.0), &grads, |p, g, s| {
        fused.step(1e-3, p, g, s)
    });
    let burn_adam = AdamConfig::new().build();
    bench_steps(&mut group, "burn", draw(1.0), &grads, |p, g, s| {
        burn_adam.step(1e-3, p, g, s)
    });
    group.finish();
}

criterion_group!(benches, adam);
criterion_main!(benches);
