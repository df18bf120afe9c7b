//! What flows between blocks: a batch of flat vectors or of feature maps.

use burn::tensor::Tensor;

/// A batch of representations: `[batch, features]` vectors or `[batch, channels, height, width]`
/// feature maps. Graph node features are `Flat` with one row per node.
#[derive(Clone, Debug)]
pub enum Features {
    /// `[batch, features]`.
    Flat(Tensor<2>),
    /// `[batch, channels, height, width]`.
    Grid(Tensor<4>),
}

impl Features {
    /// Number of rows (samples, or nodes for graphs).
    pub fn batch_size(&self) -> usize {
        match self {
            Features::Flat(t) => t.dims()[0],
            Features::Grid(t) => t.dims()[0],
        }
    }

    /// Values per row once flattened.
    pub fn width(&self) -> usize {
        match self {
            Features::Flat(t) => t.dims()[1],
            Features::Grid(t) => {
                let [_, c, h, w] = t.dims();
                c * h * w
            }
        }
    }

    /// The representation as `[batch, features]`; feature maps are flattened in CHW order.
    /// This is what the local objectives build their Gram matrices from.
    pub fn flat(self) -> Tensor<2> {
        match self {
            Features::Flat(t) => t,
            Features::Grid(t) => {
                let n = t.dims()[0];
                t.reshape([n as i64, -1])
            }
        }
    }

    /// `[batch, channels]` after global average pooling of feature maps (flat vectors unchanged):
    /// the cheap variant of [`Features::flat`] for Gram matrices of conv modules.
    pub fn pooled(self) -> Tensor<2> {
        match self {
            Features::Flat(t) => t,
            Features::Grid(t) => {
                let [n, c, h, w] = t.dims();
                t.reshape([n, c, h * w]).mean_dim(2).reshape([n, c])
            }
        }
    }

    /// `[batch, channels]`: each channel's standard deviation over its map (flat vectors
    /// unchanged), `sqrt(Σ (x − x̄)² / (hw − 1) + 1e-8)` — the spatial-std pooling of Nøkland &
    /// Eidnes' similarity matrices, which keeps how much a channel varies rather than its mean.
    pub fn std_pooled(self) -> Tensor<2> {
        match self {
            Features::Flat(t) => t,
            Features::Grid(t) => {
                let [n, c, h, w] = t.dims();
                let hw = h * w;
                let t = t.reshape([n, c, hw]);
                let centred = t.clone() - t.mean_dim(2);
                let var = centred
                    .square()
                    .sum_dim(2)
                    .div_scalar(hw.saturating_sub(1).max(1) as f64);
                var.add_scalar(1e-8).sqrt().reshape([n, c])
            }
        }
    }

    /// The feature maps; a flat batch is an error of the model spec, caught when it is built.
    pub fn grid(self) -> Tensor<4> {
        match self {
            Features::Grid(t) => t,
            Features::Flat(_) => panic!(
                "a convolutional block received flat features; the model spec should have been rejected"
            ),
        }
    }

    /// Cuts the link to the autodiff graph that produced these features.
    pub fn detach(self) -> Self {
        match self {
            Features::Flat(t) => Features::Flat(t.detach()),
            Features::Grid(t) => Features::Grid(t.detach()),
        }
    }

    /// The same values without autodiff (for evaluation and for sending downstream).
    pub fn without_autodiff(self) -> Self {
        match self {
            Features::Flat(t) => Features::Flat(t.without_autodiff()),
            Features::Grid(t) => Features::Grid(t.without_autodiff()),
        }
    }

    /// The same values on an autodiff-enabled device view (still a leaf: no graph behind it).
    pub fn autodiff(self) -> Self {
        match self {
            Features::Flat(t) => Features::Flat(t.autodiff()),
            Features::Grid(t) => Features::Grid(t.autodiff()),
        }
    }

    /// Shape of one row, e.g. `[64]` or `[32, 14, 14]`.
    pub fn row_shape(&self) -> Vec<usize> {
        match self {
            Features::Flat(t) => vec![t.dims()[1]],
            Features::Grid(t) => t.dims()[1..].to_vec(),
        }
    }
}

/// `x` through an optional dropout (rows or maps alike).
pub(crate) fn dropped(x: Features, dropout: Option<&burn::nn::Dropout>) -> Features {
    match (dropout, x) {
        (Some(d), Features::Flat(t)) => Features::Flat(crate::dropout::dropout(d, t)),
        (Some(d), Features::Grid(t)) => Features::Grid(crate::dropout::dropout(d, t)),
        (None, x) => x,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    /// Each channel's sample standard deviation over its map; flat rows pass through.
    #[test]
    fn std_pooling_is_the_per_channel_spatial_std() {
        // One image, two channels of 2×2: [1, 2, 3, 4] and [5, 5, 5, 5].
        let v = vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 5.0, 5.0, 5.0];
        let x = Tensor::<4>::from_data(TensorData::new(v, [1, 2, 2, 2]), &Device::flex());
        let s: Vec<f32> = Features::Grid(x)
            .std_pooled()
            .into_data()
            .try_to_vec()
            .unwrap();
        // Unbiased variance of 1..4 is 5/3.
        assert!((s[0] - (5.0f32 / 3.0).sqrt()).abs() < 1e-5, "{s:?}");
        assert!(s[1] < 1e-3, "{s:?}");
        let flat = Tensor::<2>::ones([3, 4], &Device::flex());
        assert_eq!(Features::Flat(flat).std_pooled().dims(), [3, 4]);
    }
}
