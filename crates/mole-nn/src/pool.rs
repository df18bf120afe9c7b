//! Spatial pooling applied at the end of a convolutional block.

use burn::nn::pool::{AvgPool2dConfig, MaxPool2dConfig};
use burn::tensor::Tensor;

/// Pooling of `[batch, channels, height, width]` maps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pool {
    /// `y[c,i,j] = max_{0≤a,b<k} x[c, k·i + a, k·j + b]` (k×k windows, stride k).
    Max(usize),
    /// `y[c,i,j] = (1/k²) Σ_{0≤a,b<k} x[c, k·i + a, k·j + b]` (k×k windows, stride k).
    Avg(usize),
    /// Global average pooling: `y[c] = (1/HW) Σ_{i,j} x[c,i,j]`; the output is flat `[batch, c]`.
    Global,
}

impl Pool {
    /// Output row shape for an input row shape `[c, h, w]`, or why it does not fit.
    pub fn output_shape(&self, [c, h, w]: [usize; 3]) -> Result<Vec<usize>, String> {
        match *self {
            Pool::Max(k) | Pool::Avg(k) => {
                if k == 0 {
                    return Err("pooling window 0".into());
                }
                if h < k || w < k {
                    return Err(format!(
                        "{k}x{k} pooling does not fit {c}x{h}x{w} feature maps"
                    ));
                }
                Ok(vec![c, h / k, w / k])
            }
            Pool::Global => Ok(vec![c]),
        }
    }

    /// Applies the pooling to feature maps; [`Pool::Global`] returns `[batch, c, 1, 1]`.
    pub fn apply(&self, x: Tensor<4>) -> Tensor<4> {
        match *self {
            Pool::Max(k) => MaxPool2dConfig::new([k, k])
                .with_strides([k, k])
                .init()
                .forward(x),
            Pool::Avg(k) => AvgPool2dConfig::new([k, k])
                .with_strides([k, k])
                .init()
                .forward(x),
            Pool::Global => {
                let [n, c, h, w] = x.dims();
                x.reshape([n, c, h * w]).mean_dim(2).reshape([n, c, 1, 1])
            }
        }
    }

    /// Text as in model specs: `maxpool(2)`, `avgpool(2)`, `gap`.
    pub fn label(&self) -> String {
        match self {
            Pool::Max(k) => format!("maxpool({k})"),
            Pool::Avg(k) => format!("avgpool({k})"),
            Pool::Global => "gap".into(),
        }
    }
}
