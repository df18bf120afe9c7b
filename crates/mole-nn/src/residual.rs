//! The residual block of the HSIC bottleneck's ResConv: a same-size convolution with an identity
//! shortcut.

use crate::{Activation, Features, Pool, conv::pooled, freeze_affine};
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::tensor::Device;

/// Settings of a [`ResidualBlock`].
#[derive(Clone, Debug, PartialEq)]
pub struct ResidualConfig {
    /// Channels in and out (the identity shortcut needs them equal).
    pub channels: usize,
    /// Odd square kernel size k; the padding is (k − 1)/2 so the maps keep their size.
    pub kernel: usize,
    /// Batch normalisation (inner and outer).
    pub batch_norm: bool,
    /// Learnable scale and shift in the batch normalisations.
    pub affine: bool,
    /// Non-linearity.
    pub activation: Activation,
    /// Optional pooling at the end.
    pub pool: Option<Pool>,
}

impl ResidualConfig {
    /// Output row shape for input `[c, h, w]` (unchanged before pooling), or why it does not fit.
    pub fn output_shape(&self, [c, h, w]: [usize; 3]) -> Result<Vec<usize>, String> {
        if c != self.channels {
            return Err(format!(
                "the identity shortcut needs {} input channels but gets {c}",
                self.channels
            ));
        }
        if self.kernel.is_multiple_of(2) {
            return Err(format!(
                "kernel {} is even; a residual block needs an odd kernel to keep the map size",
                self.kernel
            ));
        }
        match self.pool {
            Some(pool) => pool.output_shape([c, h, w]),
            None => Ok(vec![c, h, w]),
        }
    }

    /// Builds the block with freshly initialised weights.
    pub fn init(&self, device: &Device) -> ResidualBlock {
        let p = (self.kernel - 1) / 2;
        let conv = Conv2dConfig::new([self.channels, self.channels], [self.kernel, self.kernel])
            .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
            .init(device);
        let bn = || {
            self.batch_norm.then(|| {
                let bn = BatchNormConfig::new(self.channels).init(device);
                if self.affine { bn } else { freeze_affine(bn) }
            })
        };
        ResidualBlock {
            conv,
            inner: bn(),
            outer: bn(),
            activation: self.activation,
            pool: self.pool,
        }
    }
}

/// `y = pool(act(BN₂(x + act(BN₁(W ⋆ x + b)))))` with same-size padding, as in the HSIC code's
/// ResConv blocks.
#[derive(Module, Debug)]
pub struct ResidualBlock {
    /// The convolution of the residual branch.
    pub conv: Conv2d,
    /// Batch normalisation of the branch.
    pub inner: Option<BatchNorm>,
    /// Batch normalisation after the sum.
    pub outer: Option<BatchNorm>,
    /// Non-linearity.
    #[module(skip)]
    pub activation: Activation,
    /// Optional pooling.
    #[module(skip)]
    pub pool: Option<Pool>,
}

impl ResidualBlock {
    /// Forward pass.
    pub fn forward(&self, x: Features) -> Features {
        let x = x.grid();
        let mut h = self.conv.forward(x.clone());
        if let Some(bn) = &self.inner {
            h = bn.forward(h);
        }
        let mut y = x + self.activation.apply(h);
        if let Some(bn) = &self.outer {
            y = bn.forward(y);
        }
        pooled(self.activation.apply(y), self.pool)
    }
}
