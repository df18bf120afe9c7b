//! Estimator benchmarks on the flex CPU backend.
//!
//! For batch sizes m ∈ {128, 256, 512, 1024}:
//! - `gram/d{64,784}`: Gaussian Gram matrix of an `[m, d]` batch with the median width rule
//!   (includes the host median);
//! - `s2`, `s1.01`: S_α of a precomputed Gram matrix, no gradient (independent of d): the α = 2
//!   Frobenius fast path and the α = 1.01 eigenvalue path;
//! - `mi_grad_a{2,1.01}/d{64,784}`: the MOLE objective `I_α(T; Y)` with 10-class delta labels,
//!   forward from the batch `T` (Gram included) and backward to `T`;
//! - `nhsic_grad/d{64,784}`: `nHSIC(T, Y)` (ε = 1e-5, one-hot Gaussian label kernel, σ = 5,
//!   as in the HSIC-bottleneck code), forward from `T` and backward to `T`.
//!
//! Sample counts are kept small (10 samples, short measurement) so the whole run takes a few
//! minutes on two cores.

use std::hint::black_box;
use std::time::Duration;

use burn::tensor::{Device, Tensor, TensorData};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use mole_info::{
    Centering, GaussianKernel, KernelWidth, LabelKernel, NHSIC_EPSILON, mutual_information, nhsic,
    nhsic_with_labels, renyi_entropy,
};

const SIZES: [usize; 4] = [128, 256, 512, 1024];
const WIDTHS: [usize; 2] = [64, 784];
const CLASSES: usize = 10;

/// Deterministic pseudo-random batch in [-1, 1) (no RNG dependency needed).
fn batch(m: usize, d: usize, device: &Device) -> Tensor<2> {
    let mut state = 0x2545_F491_4F6C_DD1Du64 ^ (m as u64 * 31 + d as u64);
    let values: Vec<f32> = (0..m * d)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect();
    Tensor::from_data(TensorData::new(values, [m, d]), device)
}

fn labels(m: usize) -> Vec<usize> {
    (0..m).map(|i| (i * 7) % CLASSES).collect()
}

fn first(t: Tensor<1>) -> f32 {
    t.into_data().try_into_vec_as::<f32>().unwrap()[0]
}

fn bench_gram(c: &mut Criterion) {
    let device = Device::flex();
    let kernel = GaussianKernel::new(KernelWidth::Median);
    for d in WIDTHS {
        let mut group = c.benchmark_group(format!("gram/d{d}"));
        for m in SIZES {
            let x = batch(m, d, &device);
            group.bench_with_input(BenchmarkId::from_parameter(m), &m, |b, _| {
                b.iter(|| {
                    let gram = kernel.gram(black_box(x.clone()));
                    // Force evaluation: read one row back.
                    black_box(gram.matrix.slice([0..1, 0..m]).into_data())
                })
            });
        }
        group.finish();
    }
}

fn bench_entropy(c: &mut Criterion) {
    let device = Device::flex();
    let kernel = GaussianKernel::new(KernelWidth::Median);
    for (name, alpha) in [("s2", 2.0), ("s1.01", 1.01)] {
        let mut group = c.benchmark_group(name);
        for m in SIZES {
            let k = kernel.gram(batch(m, 64, &device)).matrix;
            group.bench_with_input(BenchmarkId::from_parameter(m), &m, |b, _| {
                b.iter(|| black_box(first(renyi_entropy(black_box(k.clone()), alpha))))
            });
        }
        group.finish();
    }
}

fn bench_mi_grad(c: &mut Criterion) {
    let device = Device::flex().autodiff();
    let kernel = GaussianKernel::new(KernelWidth::Median);
    for (name, alpha) in [("a2", 2.0), ("a1.01", 1.01)] {
        for d in WIDTHS {
            let mut group = c.benchmark_group(format!("mi_grad_{name}/d{d}"));
            for m in SIZES {
                let x = batch(m, d, &device);
                let y = labels(m);
                group.bench_with_input(BenchmarkId::from_parameter(m), &m, |b, _| {
                    b.iter(|| {
                        let t = x.clone().detach().require_grad();
                        let ky = LabelKernel::Delta.gram(&y, CLASSES, &device);
                        let kt = kernel.gram(t.clone()).matrix;
                        let loss = mutual_information(kt, ky, alpha).value.neg();
                        let grads = loss.backward();
                        black_box(t.grad(&grads).unwrap().into_data())
                    })
                });
            }
            group.finish();
        }
    }
}

fn bench_nhsic_grad(c: &mut Criterion) {
    let device = Device::flex().autodiff();
    let kernel = GaussianKernel::new(KernelWidth::DimensionScaled(5.0));
    for d in WIDTHS {
        let mut group = c.benchmark_group(format!("nhsic_grad/d{d}"));
        for m in SIZES {
            let x = batch(m, d, &device);
            let y = labels(m);
            group.bench_with_input(BenchmarkId::from_parameter(m), &m, |b, _| {
                b.iter(|| {
                    let t = x.clone().detach().require_grad();
                    let ky = LabelKernel::GaussianOneHot(5.0).gram(&y, CLASSES, &device);
                    let kt = kernel.gram(t.clone()).matrix;
                    let loss = nhsic(kt, ky, NHSIC_EPSILON, Centering::Both).neg();
                    let grads = loss.backward();
                    black_box(t.grad(&grads).unwrap().into_data())
                })
            });
        }
        group.finish();
    }
}

/// The label term of the HSIC bottleneck by the rank-C label path (`nhsic_with_labels`), on
/// the same inputs as `nhsic_grad`.
fn bench_nhsic_labels_grad(c: &mut Criterion) {
    let device = Device::flex().autodiff();
    let kernel = GaussianKernel::new(KernelWidth::DimensionScaled(5.0));
    for d in WIDTHS {
        let mut group = c.benchmark_group(format!("nhsic_labels_grad/d{d}"));
        for m in SIZES {
            let x = batch(m, d, &device);
            let y = labels(m);
            group.bench_with_input(BenchmarkId::from_parameter(m), &m, |b, _| {
                b.iter(|| {
                    let t = x.clone().detach().require_grad();
                    let ky = LabelKernel::GaussianOneHot(5.0).gram(&y, CLASSES, &device);
                    let kt = kernel.gram(t.clone()).matrix;
                    let loss = nhsic_with_labels(kt, ky, &y, NHSIC_EPSILON, Centering::Both).neg();
                    let grads = loss.backward();
                    black_box(t.grad(&grads).unwrap().into_data())
                })
            });
        }
        group.finish();
    }
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2))
        .without_plots()
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_gram, bench_entropy, bench_mi_grad, bench_nhsic_grad, bench_nhsic_labels_grad
}
criterion_main!(benches);
