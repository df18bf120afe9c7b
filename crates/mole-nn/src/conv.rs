//! A convolutional block: `pool(activation(BN(conv(x))))`.

use crate::{Activation, Features, Pool, freeze_affine};
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::tensor::Device;

/// Settings of a [`ConvBlock`].
#[derive(Clone, Debug, PartialEq)]
pub struct ConvConfig {
    /// Input channels.
    pub c_input: usize,
    /// Output channels.
    pub c_output: usize,
    /// Square kernel size k.
    pub kernel: usize,
    /// Stride s.
    pub stride: usize,
    /// Zero padding p on every side.
    pub padding: usize,
    /// Batch normalisation after the convolution.
    pub batch_norm: bool,
    /// Learnable scale and shift in the batch normalisation.
    pub affine: bool,
    /// Non-linearity.
    pub activation: Activation,
    /// Optional pooling at the end.
    pub pool: Option<Pool>,
}

impl ConvConfig {
    /// Output row shape `[c_out, h', w']` for input `[c, h, w]`, with
    /// `h' = ⌊(h + 2p − k) / s⌋ + 1` (then divided by the pooling window), or why it does not fit.
    pub fn output_shape(&self, [c, h, w]: [usize; 3]) -> Result<Vec<usize>, String> {
        if c != self.c_input {
            return Err(format!(
                "expects {} input channels but gets {c}",
                self.c_input
            ));
        }
        let (k, p, s) = (self.kernel, self.padding, self.stride);
        if k == 0 || s == 0 {
            return Err("kernel size and stride must be positive".into());
        }
        if h + 2 * p < k || w + 2 * p < k {
            return Err(format!(
                "its {k}x{k} kernel (padding {p}) does not fit {c}x{h}x{w} input maps"
            ));
        }
        let out = [
            self.c_output,
            (h + 2 * p - k) / s + 1,
            (w + 2 * p - k) / s + 1,
        ];
        match self.pool {
            Some(pool) => pool
                .output_shape(out)
                .map_err(|e| format!("after the conv, {e}")),
            None => Ok(out.to_vec()),
        }
    }

    /// Builds the block with freshly initialised weights (Kaiming-uniform, burn's default).
    pub fn init(&self, device: &Device) -> ConvBlock {
        let p = self.padding;
        let conv = Conv2dConfig::new([self.c_input, self.c_output], [self.kernel, self.kernel])
            .with_stride([self.stride, self.stride])
            .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
            .init(device);
        let norm = self.batch_norm.then(|| {
            let bn = BatchNormConfig::new(self.c_output).init(device);
            if self.affine { bn } else { freeze_affine(bn) }
        });
        ConvBlock {
            input_dropout: None,
            conv,
            norm,
            activation: self.activation,
            pool: self.pool,
        }
    }
}

/// `y = pool(activation(BN(W ⋆ x + b)))` on `[batch, channels, height, width]` maps, where
/// `(W ⋆ x)[o,i,j] = Σ_{c,a,b} W[o,c,a,b] · x_pad[c, s·i + a, s·j + b]`.
#[derive(Module, Debug)]
pub struct ConvBlock {
    /// Dropout on the input maps (training only; `dropout` on every layer but the first).
    pub input_dropout: Option<burn::nn::Dropout>,
    /// The convolution.
    pub conv: Conv2d,
    /// Optional batch normalisation (statistics per channel).
    pub norm: Option<BatchNorm>,
    /// Non-linearity.
    #[module(skip)]
    pub activation: Activation,
    /// Optional pooling.
    #[module(skip)]
    pub pool: Option<Pool>,
}

impl ConvBlock {
    /// Forward pass; [`Pool::Global`] makes the output flat `[batch, channels]`.
    pub fn forward(&self, x: Features) -> Features {
        let x = crate::features::dropped(x, self.input_dropout.as_ref());
        let mut h = self.conv.forward(x.grid());
        if let Some(norm) = &self.norm {
            h = norm.forward(h);
        }
        let h = self.activation.apply(h);
        pooled(h, self.pool)
    }
}

/// Applies an optional pooling; global pooling yields flat features.
pub(crate) fn pooled(h: burn::tensor::Tensor<4>, pool: Option<Pool>) -> Features {
    match pool {
        None => Features::Grid(h),
        Some(Pool::Global) => {
            let [n, c, _, _] = h.dims();
            Features::Flat(Pool::Global.apply(h).reshape([n, c]))
        }
        Some(p) => Features::Grid(p.apply(h)),
    }
}
