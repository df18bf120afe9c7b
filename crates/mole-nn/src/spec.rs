//! Model specifications such as `mlp:256,256,256`, checked against the input shape and turned
//! into blocks.

use crate::{Activation, Block, ConvConfig, DenseConfig, GnnConfig, Pool, ResidualConfig};
use burn::tensor::Device;

/// One layer of a model spec.
#[derive(Clone, Debug, PartialEq)]
pub enum LayerSpec {
    /// Fully connected layer of this width (feature maps are flattened first, CHW order).
    Dense(usize),
    /// Convolution `conv(C,k=K,s=S,p=P)`, then BN, activation and the optional pooling.
    Conv {
        /// Output channels.
        channels: usize,
        /// Square kernel size.
        kernel: usize,
        /// Stride.
        stride: usize,
        /// Zero padding on every side.
        padding: usize,
        /// Pooling after the activation (`maxpool(k)`, `avgpool(k)`, `gap` following it).
        pool: Option<Pool>,
    },
    /// Residual block `res(k=K)` keeping channels and map size (identity shortcut).
    Residual {
        /// Odd square kernel size.
        kernel: usize,
        /// Pooling after the block.
        pool: Option<Pool>,
    },
    /// GCN layer of this width (`gcn:W1,W2`).
    Gcn(usize),
    /// GIN layer of this width (`gin:W1,W2`).
    Gin(usize),
    /// GraphSAGE-mean layer of this width (`sage:W1,W2`).
    Sage(usize),
}

impl LayerSpec {
    /// The layer as written in a `seq:` spec.
    pub fn label(&self) -> String {
        let pool = |p: &Option<Pool>| p.map(|p| format!(",{}", p.label())).unwrap_or_default();
        match self {
            LayerSpec::Dense(w) => format!("dense({w})"),
            LayerSpec::Conv {
                channels,
                kernel,
                stride,
                padding,
                pool: p,
            } => format!(
                "conv({channels},k={kernel},s={stride},p={padding}){}",
                pool(p)
            ),
            LayerSpec::Residual { kernel, pool: p } => format!("res(k={kernel}){}", pool(p)),
            LayerSpec::Gcn(w) => format!("gcn({w})"),
            LayerSpec::Gin(w) => format!("gin({w})"),
            LayerSpec::Sage(w) => format!("sage({w})"),
        }
    }
}

/// A parsed model spec: the layers before the classifier head.
///
/// - `mlp:W1,W2,…`: dense layers.
/// - `cnn:C1,C2,…`: per entry a 3×3 convolution (stride 1, padding 1) with that many channels,
///   BN, activation and 2×2 max pooling.
/// - `resconv` (= `resconv:64,5,512`): the HSIC bottleneck's ResConv — a 5×5 stride-2 unpadded
///   convolution to C channels, N residual 5×5 blocks, a dense layer of width D.
/// - `seq:L1,L2,…` with layers `conv(C[,k=K][,s=S][,p=P])` (defaults k=3, s=1, p=(k−1)/2),
///   `res([k=K])` (default 5), `dense(W)`, `flatten`, and the poolings `maxpool(K)`,
///   `avgpool(K)`, `gap` (global average), which attach to the conv/res layer before them.
///
/// Pooling and flatten have no parameters, so they are part of the layer before them; the
/// layer numbers in errors and the `group` setting count conv, res and dense layers.
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

/// Splits at commas outside parentheses.
fn top_level_items(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, ch) in s.char_indices() {
        match ch {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(s[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(s[start..].trim());
    out
}

/// `name(a,b=c)` → (`name`, positional args, keyword args).
type Call<'a> = (&'a str, Vec<&'a str>, Vec<(&'a str, &'a str)>);

fn parse_call(item: &str) -> Option<Call<'_>> {
    let Some((name, rest)) = item.split_once('(') else {
        return Some((item, Vec::new(), Vec::new()));
    };
    let args = rest.strip_suffix(')')?;
    let (mut pos, mut kw) = (Vec::new(), Vec::new());
    for a in args.split(',').map(str::trim).filter(|a| !a.is_empty()) {
        match a.split_once('=') {
            Some((k, v)) => kw.push((k.trim(), v.trim())),
            None => pos.push(a),
        }
    }
    Some((name.trim(), pos, kw))
}

fn parse_seq(spec: &str, list: &str) -> Result<Vec<LayerSpec>, SpecError> {
    let err = |m: String| SpecError {
        spec: spec.into(),
        message: m,
    };
    let mut layers: Vec<LayerSpec> = Vec::new();
    for item in top_level_items(list) {
        let n = layers.len() + 1;
        let (name, pos, kw) =
            parse_call(item).ok_or_else(|| err(format!("'{item}': unbalanced parentheses")))?;
        let num = |v: &str, what: &str| -> Result<usize, SpecError> {
            v.parse::<usize>()
                .map_err(|_| err(format!("'{item}': {what} '{v}' is not a whole number")))
        };
        let positive = |v: usize, what: &str| -> Result<usize, SpecError> {
            if v == 0 {
                Err(err(format!("'{item}': {what} must be positive")))
            } else {
                Ok(v)
            }
        };
        let get = |key: &str| kw.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
        let known = |keys: &[&str]| -> Result<(), SpecError> {
            match kw.iter().find(|(k, _)| !keys.contains(k)) {
                Some((k, _)) => Err(err(format!(
                    "'{item}': unknown setting '{k}' (allowed: {})",
                    keys.join(", ")
                ))),
                None => Ok(()),
            }
        };
        match name {
            "dense" => {
                known(&[])?;
                let [w] = pos[..] else {
                    return Err(err(format!("'{item}': expected dense(WIDTH)")));
                };
                layers.push(LayerSpec::Dense(positive(num(w, "width")?, "width")?));
            }
            "conv" => {
                known(&["k", "s", "p"])?;
                let [c] = pos[..] else {
                    return Err(err(format!("'{item}': expected conv(CHANNELS,k=,s=,p=)")));
                };
                let kernel =
                    positive(get("k").map(|v| num(v, "k")).transpose()?.unwrap_or(3), "k")?;
                let stride =
                    positive(get("s").map(|v| num(v, "s")).transpose()?.unwrap_or(1), "s")?;
                let padding = get("p")
                    .map(|v| num(v, "p"))
                    .transpose()?
                    .unwrap_or((kernel - 1) / 2);
                layers.push(LayerSpec::Conv {
                    channels: positive(num(c, "channels")?, "channels")?,
                    kernel,
                    stride,
                    padding,
                    pool: None,
                });
            }
            "res" => {
                known(&["k"])?;
                if !pos.is_empty() {
                    return Err(err(format!("'{item}': expected res(k=K)")));
                }
                let kernel =
                    positive(get("k").map(|v| num(v, "k")).transpose()?.unwrap_or(5), "k")?;
                layers.push(LayerSpec::Residual { kernel, pool: None });
            }
            "maxpool" | "avgpool" | "gap" => {
                known(&[])?;
                let pool = match (name, &pos[..]) {
                    ("gap", []) => Pool::Global,
                    ("maxpool", [k]) => Pool::Max(positive(num(k, "window")?, "window")?),
                    ("avgpool", [k]) => Pool::Avg(positive(num(k, "window")?, "window")?),
                    _ => {
                        return Err(err(format!(
                            "'{item}': expected maxpool(K), avgpool(K) or gap"
                        )));
                    }
                };
                match layers.last_mut() {
                    Some(LayerSpec::Conv { pool: p @ None, .. })
                    | Some(LayerSpec::Residual { pool: p @ None, .. }) => *p = Some(pool),
                    _ => {
                        return Err(err(format!(
                            "'{item}' (after layer {}): pooling must follow a conv or res layer",
                            n - 1
                        )));
                    }
                }
            }
            "flatten" => {
                known(&[])?;
                if !pos.is_empty() {
                    return Err(err("'flatten' takes no arguments".into()));
                }
                // Dense layers flatten their input; later conv layers are rejected by the shape check.
            }
            other => {
                return Err(err(format!(
                    "layer {n}: unknown layer '{other}' (conv, res, dense, maxpool, avgpool, gap, flatten)"
                )));
            }
        }
    }
    Ok(layers)
}

fn cnn_layers(spec: &str, list: &str) -> Result<Vec<LayerSpec>, SpecError> {
    Ok(widths(spec, list)?
        .into_iter()
        .map(|c| LayerSpec::Conv {
            channels: c,
            kernel: 3,
            stride: 1,
            padding: 1,
            pool: Some(Pool::Max(2)),
        })
        .collect())
}

fn resconv_layers(spec: &str, rest: &str) -> Result<Vec<LayerSpec>, SpecError> {
    let [c, n, d] = if rest.is_empty() {
        [64, 5, 512]
    } else {
        let v = widths(spec, rest)?;
        <[usize; 3]>::try_from(v).map_err(|_| SpecError {
            spec: spec.into(),
            message: "expected resconv or resconv:CHANNELS,BLOCKS,DENSE".into(),
        })?
    };
    let mut layers = vec![LayerSpec::Conv {
        channels: c,
        kernel: 5,
        stride: 2,
        padding: 0,
        pool: None,
    }];
    layers.extend((0..n).map(|_| LayerSpec::Residual {
        kernel: 5,
        pool: None,
    }));
    layers.push(LayerSpec::Dense(d));
    Ok(layers)
}

impl std::str::FromStr for ModelSpec {
    type Err = SpecError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (kind, rest) = s.split_once(':').unwrap_or((s, ""));
        let layers = match kind {
            "mlp" => widths(s, rest)?.into_iter().map(LayerSpec::Dense).collect(),
            "cnn" => cnn_layers(s, rest)?,
            "resconv" => resconv_layers(s, rest)?,
            "seq" => parse_seq(s, rest)?,
            "gcn" => widths(s, rest)?.into_iter().map(LayerSpec::Gcn).collect(),
            "gin" => widths(s, rest)?.into_iter().map(LayerSpec::Gin).collect(),
            "sage" => widths(s, rest)?.into_iter().map(LayerSpec::Sage).collect(),
            other => {
                return Err(SpecError {
                    spec: s.into(),
                    message: format!(
                        "unknown model kind '{other}' (mlp:W1,W2,..., cnn:C1,C2,..., resconv, seq:LAYER,..., gcn:W1,..., gin:W1,..., sage:W1,...)"
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
    /// Dropout probability on the input of GNN layers, and of dense and conv layers but the
    /// first.
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

fn describe(shape: &[usize]) -> String {
    match shape {
        [d] => format!("vectors of {d}"),
        s => format!(
            "{} maps",
            s.iter().map(usize::to_string).collect::<Vec<_>>().join("x")
        ),
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
    /// returning them with the output row shape of every block. A layer that does not fit its
    /// input is an error naming the layer (1-based) and why.
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
        let input_dropout = |i: usize| {
            (i > 0 && opts.dropout > 0.0).then(|| burn::nn::DropoutConfig::new(opts.dropout).init())
        };
        for (i, layer) in self.layers.iter().enumerate() {
            let err = |why: String| SpecError {
                spec: self.text.clone(),
                message: format!("layer {} ({}): {why}", i + 1, layer.label()),
            };
            let grid = |shape: &[usize]| -> Result<[usize; 3], SpecError> {
                <[usize; 3]>::try_from(shape).map_err(|_| {
                    err(format!(
                        "needs image input [channels, height, width] but gets {}",
                        describe(shape)
                    ))
                })
            };
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
                    let mut block = cfg.init(device);
                    block.input_dropout = input_dropout(i);
                    (Block::Dense(block), vec![w])
                }
                LayerSpec::Conv {
                    channels,
                    kernel,
                    stride,
                    padding,
                    pool,
                } => {
                    let input = grid(&shape)?;
                    let cfg = ConvConfig {
                        c_input: input[0],
                        c_output: channels,
                        kernel,
                        stride,
                        padding,
                        batch_norm: opts.batch_norm,
                        affine: opts.affine,
                        activation: opts.activation,
                        pool,
                    };
                    let next = cfg.output_shape(input).map_err(err)?;
                    let mut block = cfg.init(device);
                    block.input_dropout = input_dropout(i);
                    (Block::Conv(block), next)
                }
                LayerSpec::Residual { kernel, pool } => {
                    let input = grid(&shape)?;
                    let cfg = ResidualConfig {
                        channels: input[0],
                        kernel,
                        batch_norm: opts.batch_norm,
                        affine: opts.affine,
                        activation: opts.activation,
                        pool,
                    };
                    let next = cfg.output_shape(input).map_err(err)?;
                    (Block::Residual(cfg.init(device)), next)
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

    fn build_err(spec: &str, input: &[usize]) -> String {
        let s: ModelSpec = spec.parse().unwrap();
        s.build(input, &BuildOptions::default(), &Device::flex())
            .map(|_| ())
            .unwrap_err()
            .to_string()
    }

    fn shapes(spec: &str, input: &[usize]) -> Vec<Vec<usize>> {
        let s: ModelSpec = spec.parse().unwrap();
        s.build(input, &BuildOptions::default(), &Device::flex())
            .unwrap()
            .into_iter()
            .map(|(_, s)| s)
            .collect()
    }

    #[test]
    fn cnn_resconv_and_seq_specs_have_the_documented_shapes() {
        assert_eq!(
            shapes("cnn:8,16", &[1, 28, 28]),
            vec![vec![8, 14, 14], vec![16, 7, 7]]
        );
        // ResConv: 5x5 stride-2 unpadded conv (28 -> 12, 32 -> 14), 5 residual blocks, dense 512.
        let r = shapes("resconv", &[1, 28, 28]);
        assert_eq!(r.len(), 7);
        assert!(r[..6].iter().all(|s| s == &vec![64, 12, 12]));
        assert_eq!(r[6], vec![512]);
        assert_eq!(shapes("resconv:8,2,32", &[3, 32, 32])[0], vec![8, 14, 14]);
        let s = shapes(
            "seq:conv(4,k=5,s=1,p=2),avgpool(2),res(k=3),gap,dense(10)",
            &[3, 8, 8],
        );
        assert_eq!(s, vec![vec![4, 4, 4], vec![4], vec![10]]);
        let s = shapes("seq:conv(4),flatten,dense(6)", &[1, 5, 5]);
        assert_eq!(s, vec![vec![4, 5, 5], vec![6]]);
    }

    #[test]
    fn specs_that_do_not_fit_the_input_name_the_layer_and_why() {
        // 8 -> 4 -> 2 -> 1, then a 2x2 pooling of 1x1 maps fails at layer 4.
        let e = build_err("cnn:4,4,4,4", &[1, 8, 8]);
        assert!(
            e.contains("layer 4") && e.contains("pooling does not fit"),
            "{e}"
        );
        let e = build_err("cnn:4", &[64]);
        assert!(
            e.contains("layer 1") && e.contains("needs image input"),
            "{e}"
        );
        let e = build_err("seq:conv(4),dense(8),conv(4)", &[1, 8, 8]);
        assert!(e.contains("layer 3") && e.contains("vectors of 8"), "{e}");
        let e = build_err("seq:conv(4,k=7,p=0),conv(4,k=5,p=0)", &[1, 8, 8]);
        assert!(e.contains("layer 2") && e.contains("5x5 kernel"), "{e}");
        let e = build_err("seq:res(k=4)", &[2, 8, 8]);
        assert!(e.contains("layer 1") && e.contains("even"), "{e}");
        for bad in [
            "seq:maxpool(2)",
            "seq:conv(4,q=1)",
            "seq:conv(x)",
            "seq:dense(8),gap",
            "seq:blah(3)",
            "cnn:4,0",
            "resconv:1,2",
        ] {
            assert!(bad.parse::<ModelSpec>().is_err(), "{bad} should not parse");
        }
    }
}
