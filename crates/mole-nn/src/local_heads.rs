//! The learned parts of a local objective that sit beside a module, outside the network's
//! forward path (Nøkland & Eidnes, "Training neural networks with local error signals", 2019):
//! a projection that the kernel objective scores instead of the output itself, and a linear
//! classifier for the local prediction term. The next module never sees either.

use crate::Features;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Initializer, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::{Device, Tensor};

/// A bias-free learned map of a module's output before its kernel objective, shape unchanged:
/// `x Wᵀ` for flat rows, a 3×3 convolution (padding 1) for feature maps.
#[derive(Module, Debug)]
pub struct Projection {
    /// For flat rows.
    pub dense: Option<Linear>,
    /// For feature maps.
    pub conv: Option<Conv2d>,
}

impl Projection {
    /// A projection for outputs of row shape `shape` (`[d]` or `[c, h, w]`).
    pub fn new(shape: &[usize], device: &Device) -> Self {
        match *shape {
            [c, _, _] => Projection {
                dense: None,
                conv: Some(
                    Conv2dConfig::new([c, c], [3, 3])
                        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                        .with_bias(false)
                        .init(device),
                ),
            },
            _ => {
                let d = shape.iter().product();
                Projection {
                    dense: Some(LinearConfig::new(d, d).with_bias(false).init(device)),
                    conv: None,
                }
            }
        }
    }

    /// The projected output.
    pub fn forward(&self, x: Features) -> Features {
        match (&self.conv, x) {
            (Some(conv), Features::Grid(t)) => Features::Grid(conv.forward(t)),
            (_, x) => match &self.dense {
                Some(dense) => Features::Flat(dense.forward(x.flat())),
                None => x,
            },
        }
    }
}

/// Largest input of a [`LocalClassifier`]: feature maps are average-pooled to at most this many
/// values first (Nøkland & Eidnes' `dim_in_decoder`).
pub const CLASSIFIER_INPUT: usize = 2048;

/// The local prediction head: feature maps average-pooled, halving height and width until at
/// most [`CLASSIFIER_INPUT`] values remain, then a linear classifier whose weights start at 0.
#[derive(Module, Debug)]
pub struct LocalClassifier {
    /// Scores from the (pooled) output.
    pub linear: Linear,
    /// Pooled map size `[h, w]` for feature maps; `None` for flat rows.
    #[module(skip)]
    pub pooled: Option<[usize; 2]>,
}

impl LocalClassifier {
    /// A classifier into `classes` scores for outputs of row shape `shape`.
    pub fn new(shape: &[usize], classes: usize, device: &Device) -> Self {
        let (pooled, width) = match *shape {
            [c, h, w] => {
                let (mut ph, mut pw) = (h, w);
                while c * ph * pw > CLASSIFIER_INPUT && (ph > 1 || pw > 1) {
                    ph = ph.div_ceil(2);
                    pw = pw.div_ceil(2);
                }
                (Some([ph, pw]), c * ph * pw)
            }
            _ => (None, shape.iter().product()),
        };
        LocalClassifier {
            linear: LinearConfig::new(width, classes)
                .with_initializer(Initializer::Zeros)
                .init(device),
            pooled,
        }
    }

    /// Class scores `[batch, classes]`.
    pub fn forward(&self, x: Features) -> Tensor<2> {
        let rows = match (self.pooled, x) {
            (Some(size), Features::Grid(t)) => {
                let [_, _, h, w] = t.dims();
                let t = if [h, w] == size {
                    t
                } else {
                    burn::tensor::module::adaptive_avg_pool2d(t, size)
                };
                Features::Grid(t).flat()
            }
            (_, x) => x.flat(),
        };
        self.linear.forward(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    #[test]
    fn shapes_are_kept_and_large_maps_pooled() {
        let device = Device::flex();
        let maps = Features::Grid(Tensor::random(
            [3, 64, 14, 14],
            Distribution::Normal(0.0, 1.0),
            &device,
        ));
        let p = Projection::new(&[64, 14, 14], &device);
        assert_eq!(p.forward(maps.clone()).row_shape(), vec![64, 14, 14]);
        let c = LocalClassifier::new(&[64, 14, 14], 10, &device);
        // 64·14·14 = 12,544 > 2,048 → 7×7 (3,136) → 4×4 (1,024).
        assert_eq!(c.pooled, Some([4, 4]));
        let scores = c.forward(maps);
        assert_eq!(scores.dims(), [3, 10]);
        // Zero-initialised: every score starts at 0 (uniform prediction).
        let max = scores.abs().max().into_scalar::<f32>();
        assert_eq!(max, 0.0);
        let rows = Features::Flat(Tensor::random([5, 32], Distribution::Default, &device));
        assert_eq!(
            Projection::new(&[32], &device)
                .forward(rows.clone())
                .row_shape(),
            vec![32]
        );
        assert_eq!(
            LocalClassifier::new(&[32], 4, &device).forward(rows).dims(),
            [5, 4]
        );
    }
}
