//! Model specifications such as `mlp:256,256,256`, checked against the input shape and turned
//! into blocks.

use crate::{Activation, Block, DenseConfig, GnnConfig};
use burn::tensor::Device;

/// One layer of a model spec.
#[derive(Clone, Debug, PartialEq)]
pub enum LayerSpec {
    /// Fully connected layer of this width.
    Dense(usize),
    /// GCN layer of this width (`gcn:W1,W2`).
    Gcn(usize),
    /// GIN layer of this width (`gin:W1,W2`).
    Gin(usize),
    /// GraphSAGE-mean layer of this width (`sage:W1,W2`).
    Sage(usize),
}

/// A parsed model spec: the layers before the classifier head.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelSpec {
    /// Layers in order.
    pub layers: Vec<LayerSpec>,
    /// The text it was parsed from.
    pub text: String,
}

/// A model spec that cannot be parsed or does not fit its input.
#[derive(Debug, thiserror::Error)]
#[error("model '{spec}': {message}")]
pub struct SpecError {
    /// The spec text.
    pub spec: String,
    /// What is wrong (names the layer when it is about one).
    pub message: String,
}

fn widths(spec: &str, list: &str) -> Result<Vec<usize>, SpecError> {
    list.split(',')
        .enumerate()
        .map(|(i, w)| {
            w.trim()
                .parse::<usize>()
                .ok()
                .filter(|&w| w > 0)
                .ok_or_else(|| SpecError {
                    spec: spec.into(),
                    message: format!("layer {}: '{w}' is not a positive width", i + 1),
                })
        })
        .collect()
}

impl std::str::FromStr for ModelSpec {
    type Err = SpecError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (kind, rest) = s.split_once(':').unwrap_or((s, ""));
        let layers = match kind {
            "mlp" => widths(s, rest)?.into_iter().map(LayerSpec::Dense).collect(),
            "gcn" => widths(s, rest)?.into_iter().map(LayerSpec::Gcn).collect(),
            "gin" => widths(s, rest)?.into_iter().map(LayerSpec::Gin).collect(),
            "sage" => widths(s, rest)?.into_iter().map(LayerSpec::Sage).collect(),
            other => {
                return Err(SpecError {
                    spec: s.into(),
                    message: format!(
                        "unknown model kind '{other}' (mlp:W1,W2,..., gcn:W1,..., gin:W1,..., sage:W1,...)"
                    ),
                });
            }
        };
        Ok(ModelSpec {
            layers,
            text: s.to_string(),
        })
    }
}

/// Options shared by every layer built from a spec.
#[derive(Clone, Debug)]
pub struct BuildOptions {
    /// Batch normalisation after each linear/conv map.
    pub batch_norm: bool,
    /// Learnable scale/shift in batch normalisation.
    pub affine: bool,
    /// Hidden non-linearity.
    pub activation: Activation,
    /// Dropout probability on the input of GNN layers.
    pub dropout: f64,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            batch_norm: true,
            affine: true,
            activation: Activation::Relu,
            dropout: 0.0,
        }
    }
}

impl ModelSpec {
    /// True when some layer passes messages over a graph (the data must be a graph dataset).
    pub fn is_graph(&self) -> bool {
        self.layers.iter().any(|l| {
            matches!(
                l,
                LayerSpec::Gcn(_) | LayerSpec::Gin(_) | LayerSpec::Sage(_)
            )
        })
    }

    /// Builds the blocks for inputs whose rows have shape `input` (e.g. `[784]` or `[1, 28, 28]`),
    /// returning them with the output row shape of every block.
    pub fn build(
        &self,
        input: &[usize],
        opts: &BuildOptions,
        device: &Device,
    ) -> Result<Vec<(Block, Vec<usize>)>, SpecError> {
        let mut shape = input.to_vec();
        let mut out = Vec::with_capacity(self.layers.len());
        if self.layers.is_empty() {
            return Err(SpecError {
                spec: self.text.clone(),
                message: "no layers".into(),
            });
        }
        for layer in &self.layers {
            let (block, next) = match *layer {
                LayerSpec::Dense(w) => {
                    let d_input = shape.iter().product();
                    let cfg = DenseConfig {
                        d_input,
                        d_output: w,
                        batch_norm: opts.batch_norm,
                        affine: opts.affine,
                        activation: opts.activation,
                    };
                    (Block::Dense(cfg.init(device)), vec![w])
                }
                LayerSpec::Gcn(w) | LayerSpec::Gin(w) | LayerSpec::Sage(w) => {
                    let cfg = GnnConfig {
                        d_input: shape.iter().product(),
                        d_output: w,
                        batch_norm: opts.batch_norm,
                        affine: opts.affine,
                        activation: opts.activation,
                        dropout: opts.dropout,
                    };
                    let block = match layer {
                        LayerSpec::Gcn(_) => Block::Gcn(cfg.init_gcn(device)),
                        LayerSpec::Gin(_) => Block::Gin(cfg.init_gin(device)),
                        _ => Block::Sage(cfg.init_sage(device)),
                    };
                    (block, vec![w])
                }
            };
            out.push((block, next.clone()));
            shape = next;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mlp_and_rejects_garbage() {
        let s: ModelSpec = "mlp:256,128".parse().unwrap();
        assert_eq!(s.layers, vec![LayerSpec::Dense(256), LayerSpec::Dense(128)]);
        let e = "mlp:256,x".parse::<ModelSpec>().unwrap_err().to_string();
        assert!(e.contains("layer 2"), "{e}");
        assert!("foo:1".parse::<ModelSpec>().is_err());
        assert!("mlp:0".parse::<ModelSpec>().is_err());
    }
}
