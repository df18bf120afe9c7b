//! Element-wise activation functions.

use burn::tensor::Tensor;
use burn::tensor::activation;

/// An element-wise non-linearity applied at the end of a block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    /// `max(x, 0)`.
    #[default]
    Relu,
    /// `tanh(x)`.
    Tanh,
    /// `x` for `x > 0`, else `exp(x) − 1`.
    Elu,
    /// `1 / (1 + exp(−x))`.
    Sigmoid,
    /// `x` (no non-linearity).
    Identity,
}

impl Activation {
    /// Applies the activation.
    pub fn apply<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        match self {
            Activation::Relu => activation::relu(x),
            Activation::Tanh => x.tanh(),
            Activation::Elu => {
                // elu(x) = relu(x) + min(exp(x) - 1, 0)
                let neg = x.clone().exp().sub_scalar(1.0).clamp_max(0.0);
                activation::relu(x) + neg
            }
            Activation::Sigmoid => activation::sigmoid(x),
            Activation::Identity => x,
        }
    }
}

impl std::str::FromStr for Activation {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "relu" => Ok(Activation::Relu),
            "tanh" => Ok(Activation::Tanh),
            "elu" => Ok(Activation::Elu),
            "sigmoid" => Ok(Activation::Sigmoid),
            "identity" | "none" => Ok(Activation::Identity),
            other => Err(format!(
                "unknown activation '{other}' (relu, tanh, elu, sigmoid, identity)"
            )),
        }
    }
}
