//! Profiles the convolution of the CNN benchmark model on the flex backend: forward alone and
//! forward + backward, burn's `conv2d` against an im2col + matmul formulation built from tensor
//! ops (k² shifted slices, concatenated, one batched matmul).
//!
//! `cargo run -p mole-nn --example conv_profile [batch] [repeats]`

use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Distribution, Tensor};
use std::time::Instant;

/// `y = W ⋆ x` for stride 1 and padding p as `W' · patches(x)`: `patches` stacks the k² shifted
/// windows of the padded input to `[n, c·k², h'·w']`, `W'` is `W` reshaped to `[o, c·k²]`.
fn conv_im2col(x: Tensor<4>, w: Tensor<4>, p: usize) -> Tensor<4> {
    let [n, c, h, wd] = x.dims();
    let [o, _, k, _] = w.dims();
    let xp = x.pad((p, p, p, p), burn::tensor::ops::PadMode::Constant(0.0));
    let (ho, wo) = (h + 2 * p - k + 1, wd + 2 * p - k + 1);
    let mut cols = Vec::with_capacity(k * k);
    for a in 0..k {
        for b in 0..k {
            cols.push(
                xp.clone()
                    .slice([0..n, 0..c, a..a + ho, b..b + wo])
                    .reshape([n, c, 1, ho * wo]),
            );
        }
    }
    // [n, c, k², h'w'] → [n, c·k², h'w'] (channel-major, then kernel position: W's layout).
    let patches = Tensor::cat(cols, 2).reshape([n, c * k * k, ho * wo]);
    let wm = w.reshape([1, o, c * k * k]);
    wm.matmul(patches).reshape([n, o, ho, wo])
}

fn time(label: &str, repeats: usize, mut f: impl FnMut()) -> f64 {
    f(); // warm-up
    let t0 = Instant::now();
    for _ in 0..repeats {
        f();
    }
    let s = t0.elapsed().as_secs_f64() / repeats as f64;
    println!("{label:<48} {:>9.2} ms", s * 1e3);
    s
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let batch = args.first().copied().unwrap_or(256);
    let repeats = args.get(1).copied().unwrap_or(5);
    let plain = Device::flex();
    let ad = plain.clone().autodiff();
    // The layers of cnn:32,64 on MNIST, and a ResConv residual layer.
    for (c, o, h, k) in [(1, 32, 28, 3), (32, 64, 14, 3), (64, 64, 12, 5)] {
        let p = (k - 1) / 2;
        println!("conv {c}->{o}, {k}x{k}, {h}x{h} maps, batch {batch}");
        let x = Tensor::<4>::random([batch, c, h, h], Distribution::Normal(0.0, 1.0), &plain);
        let w = Tensor::<4>::random([o, c, k, k], Distribution::Normal(0.0, 0.1), &plain);
        let opts = || ConvOptions::new([1, 1], [p, p], [1, 1], 1);
        let y1 = conv2d(x.clone(), w.clone(), None, opts());
        let y2 = conv_im2col(x.clone(), w.clone(), p);
        let err = (y1 - y2)
            .abs()
            .max()
            .into_data()
            .try_to_vec::<f32>()
            .expect("f32")[0];
        println!("  max |burn − im2col| = {err:.2e}");
        let burn_f = time("  burn conv2d forward", repeats, || {
            let _ = conv2d(x.clone(), w.clone(), None, opts()).into_data();
        });
        let ours_f = time("  im2col+matmul forward", repeats, || {
            let _ = conv_im2col(x.clone(), w.clone(), p).into_data();
        });
        let burn_b = time("  burn conv2d forward+backward", repeats, || {
            let xa = x.clone().autodiff().require_grad();
            let wa = w.clone().autodiff().require_grad();
            let g = conv2d(xa.clone(), wa.clone(), None, opts())
                .sum()
                .backward();
            let _ = (xa.grad(&g), wa.grad(&g));
        });
        let ours_b = time("  im2col+matmul forward+backward", repeats, || {
            let xa = x.clone().autodiff().require_grad();
            let wa = w.clone().autodiff().require_grad();
            let g = conv_im2col(xa.clone(), wa.clone(), p).sum().backward();
            let _ = (xa.grad(&g), wa.grad(&g));
        });
        let flops = 2.0 * (batch * o * h * h * c * k * k) as f64;
        println!(
            "  GFLOP/s forward: burn {:.1}, im2col {:.1}; fwd+bwd (3x flops): burn {:.1}, im2col {:.1}",
            flops / burn_f / 1e9,
            flops / ours_f / 1e9,
            3.0 * flops / burn_b / 1e9,
            3.0 * flops / ours_b / 1e9
        );
        let _ = &ad;
    }
}
