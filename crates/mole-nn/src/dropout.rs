//! Dropout whose masks are cheap to draw.
//!
//! `burn::nn::Dropout` draws every mask element through burn's generic sampler, about 15 ns
//! each: 60 ms per step for Cora's 2,708 × 1,433 input, three times the rest of a GCN step.
//! Here one draw from the device's generator seeds a xoshiro generator (`rand`'s `SmallRng`)
//! that fills the mask, 32 random bits per element (0.5 ns each, 2 ms for Cora's input), with the `1 / (1 − p)` scale folded in. The
//! layer's semantics are `burn::nn::Dropout::forward`'s; the masks still follow the device's
//! seed, which the trainer sets per epoch (a resumed run draws what the uninterrupted one did).

use burn::nn::Dropout;
use burn::tensor::{Distribution, Tensor, TensorData};
use rand::rngs::SmallRng;
use rand::{RngCore, SeedableRng};

/// `x ∘ mask / (1 − p)` with `mask_i ~ Bernoulli(1 − p)` while `d` trains (training flag set,
/// an autodiff device, `p > 0`); `x` unchanged otherwise.
pub fn dropout<const D: usize>(d: &Dropout, x: Tensor<D>) -> Tensor<D> {
    if !d.training.is_enabled() || !x.device().is_autodiff() || d.prob == 0.0 {
        return x;
    }
    let device = x.device();
    let shape = x.shape();
    let seed = {
        let u: Vec<f32> = Tensor::<1>::random([2], Distribution::Default, &device)
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .expect("two floats");
        (u64::from(u[0].to_bits()) << 32) | u64::from(u[1].to_bits())
    };
    let mask = mask(shape.num_elements(), 1.0 - d.prob, seed);
    let mask = Tensor::<D>::from_data(TensorData::new(mask, shape), (&device, x.dtype()));
    x * mask
}

/// `n` values, each `1 / keep` with probability `keep` and 0 otherwise, from `seed`: 32 random
/// bits per value, drawn a block at a time so that the comparison loop vectorises (a fused loop
/// ran at 3.5 ns per value, this one at 0.5).
fn mask(n: usize, keep: f64, seed: u64) -> Vec<f32> {
    let mut rng = SmallRng::seed_from_u64(seed);
    // P(u < threshold) = keep for u uniform on 0..2³² (up to 2⁻³² when keep rounds to 1).
    let threshold = (keep * 4_294_967_296.0).round().min(f64::from(u32::MAX)) as u32;
    let scale = (1.0 / keep) as f32;
    let mut out = vec![0f32; n];
    let mut words = [0u32; 128];
    for block in out.chunks_mut(words.len()) {
        for w in words.chunks_exact_mut(2) {
            let bits = rng.next_u64();
            w[0] = bits as u32;
            w[1] = (bits >> 32) as u32;
        }
        for (v, &w) in block.iter_mut().zip(&words) {
            *v = if w < threshold { scale } else { 0.0 };
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::DropoutConfig;
    use burn::tensor::Device;

    #[test]
    fn keeps_the_expected_share_scaled_and_follows_the_seed() {
        let m = mask(200_000, 0.7, 3);
        let kept = m.iter().filter(|&&v| v != 0.0).count() as f64 / m.len() as f64;
        assert!((kept - 0.7).abs() < 0.005, "kept {kept}");
        assert!(m.iter().all(|&v| v == 0.0 || (v - 1.0 / 0.7).abs() < 1e-6));
        assert_eq!(m, mask(200_000, 0.7, 3));
        assert_ne!(m, mask(200_000, 0.7, 4));
        // The mean is preserved.
        let mean = m.iter().map(|&v| f64::from(v)).sum::<f64>() / m.len() as f64;
        assert!((mean - 1.0).abs() < 0.01, "mean {mean}");
    }

    #[test]
    fn trains_only_on_an_autodiff_device_and_reseeds_with_it() {
        let d = DropoutConfig::new(0.5).init();
        let plain = Device::flex();
        let x = Tensor::<2>::ones([64, 50], &plain);
        // Inference: unchanged.
        let same: Vec<f32> = dropout(&d, x.clone()).into_data().try_to_vec().unwrap();
        assert!(same.iter().all(|&v| v == 1.0));
        let device = plain.autodiff();
        let draw = |seed: u64| -> Vec<f32> {
            device.seed(seed);
            dropout(&d, x.clone().autodiff())
                .into_data()
                .try_to_vec()
                .unwrap()
        };
        let a = draw(11);
        assert!(a.contains(&0.0) && a.contains(&2.0));
        assert_eq!(a, draw(11));
        assert_ne!(a, draw(12));
    }
}
