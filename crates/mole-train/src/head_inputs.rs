//! [`HeadInputs`]: the frozen modules' outputs over the evaluation sets, kept while the head
//! alone trains, so that a head epoch's evaluation runs the head and not the whole network.
//!
//! In the head's epochs on the frozen modules (the greedy schedule's last stage, the head's
//! extra epochs after the simultaneous one) the end-of-epoch evaluation scores the training
//! probe, the test set and the validation set. `Network::predict` would run every module on
//! every row again each epoch, for outputs that cannot change: at batch 1024 on MNIST that was
//! a third of a MOLE run's wall time. A row's output does not depend on the rows beside it, so
//! the head's scores on the kept outputs are the scores `predict` gives, value for value.

use crate::evaluate::{map_dataset, scores_accuracy_and_loss};
use crate::network::Network;
use crate::schedule::frozen::stage_outputs;
use burn::module::Module;
use burn::tensor::Device;
use mole_data::Dataset;

/// The last module's outputs (inference mode) over the training probe, the test set and the
/// validation set, as datasets with the same labels.
pub struct HeadInputs {
    probe: Dataset,
    test: Dataset,
    val: Option<Dataset>,
}

impl HeadInputs {
    /// The last module's outputs over `probe`, `test` and `val`; `None` when the network has no
    /// separate head, predicts with the ensemble of every module's classifier, or when the
    /// outputs would take more than `budget_bytes`.
    pub fn compute(
        net: &Network,
        probe: &Dataset,
        test: &Dataset,
        val: Option<&Dataset>,
        device: &Device,
        budget_bytes: usize,
    ) -> Option<Self> {
        let last = net.modules.len().checked_sub(1)?;
        if net.head.is_none() || net.ensemble_heads {
            return None;
        }
        let width: usize = net.output_shapes[last].iter().product();
        let rows = probe.len() + test.len() + val.map_or(0, Dataset::len);
        if rows.saturating_mul(width).saturating_mul(4) > budget_bytes {
            return None;
        }
        let stages: Vec<_> = net.modules.iter().map(|m| m.stage.valid()).collect();
        let outputs =
            |data: &Dataset| stage_outputs(&stages, data, &net.output_shapes[last], device);
        Some(HeadInputs {
            probe: outputs(probe)?,
            test: outputs(test)?,
            val: match val {
                Some(v) => Some(outputs(v)?),
                None => None,
            },
        })
    }

    /// The head's accuracy on the training probe and on the test set.
    pub fn probe_and_test_accuracy(&self, net: &Network, device: &Device) -> (f64, f64) {
        (
            head_accuracy_and_loss(net, &self.probe, device).0,
            head_accuracy_and_loss(net, &self.test, device).0,
        )
    }

    /// The head's accuracy and mean cross-entropy on the validation set, when there is one.
    pub fn val_accuracy_and_loss(&self, net: &Network, device: &Device) -> Option<(f64, f64)> {
        self.val
            .as_ref()
            .map(|v| head_accuracy_and_loss(net, v, device))
    }
}

/// Accuracy and mean cross-entropy of the head alone on rows that are the last module's outputs.
fn head_accuracy_and_loss(net: &Network, outputs: &Dataset, device: &Device) -> (f64, f64) {
    let head = net
        .head
        .as_ref()
        .expect("HeadInputs are computed for a head");
    let (logits, c) = map_dataset(outputs, device, |h| head.forward(h).flat());
    scores_accuracy_and_loss(&logits, c, &outputs.labels)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Method, TrainConfig};
    use crate::evaluate::{accuracy, accuracy_and_loss};
    use mole_data::SampleShape;

    /// `n` rows of shape `shape` drawn from a fixed generator, labels `i mod classes`.
    fn rows(n: usize, shape: SampleShape, classes: usize, seed: u64) -> Dataset {
        let mut state = seed;
        let values = (0..n * shape.len())
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((state >> 33) as f32 / (1u64 << 31) as f32) - 0.5
            })
            .collect();
        Dataset::new(
            values,
            (0..n).map(|i| i % classes).collect(),
            shape,
            classes,
        )
    }

    fn network(model: &str, method: Method, input: &[usize]) -> Network {
        let device = Device::flex().autodiff();
        device.seed(11);
        let cfg = TrainConfig {
            method,
            model: model.into(),
            ..TrainConfig::default()
        };
        Network::build(&cfg, input, 3, &device, None).unwrap()
    }

    /// The head on the kept outputs scores every set exactly as the whole network does, over
    /// more rows than one inference chunk, for flat and for image-shaped module outputs.
    #[test]
    fn the_head_on_kept_outputs_scores_as_the_whole_network() {
        let image = SampleShape::Image {
            channels: 1,
            height: 8,
            width: 8,
        };
        for (model, shape) in [("mlp:16,12", SampleShape::Vector(10)), ("cnn:4,6", image)] {
            let net = network(model, Method::Mole, &shape_dims(&shape));
            let (probe, test, val) = (
                rows(700, shape, 3, 1),
                rows(1500, shape, 3, 2),
                rows(1200, shape, 3, 3),
            );
            let device = Device::flex();
            let kept =
                HeadInputs::compute(&net, &probe, &test, Some(&val), &device, usize::MAX).unwrap();
            let (p, t) = kept.probe_and_test_accuracy(&net, &device);
            assert_eq!(p, accuracy(&net, &probe, &device), "{model}");
            assert_eq!(t, accuracy(&net, &test, &device), "{model}");
            let v = kept.val_accuracy_and_loss(&net, &device).unwrap();
            assert_eq!(v, accuracy_and_loss(&net, &val, &device), "{model}");
            assert!(v.1.is_finite() && v.1 > 0.0);
        }
    }

    /// Nothing is kept over the budget, for a network without a separate head (backprop) or
    /// one that predicts with every module's classifier.
    #[test]
    fn outputs_are_kept_only_for_a_head_within_the_budget() {
        let shape = SampleShape::Vector(10);
        let data = rows(50, shape, 3, 4);
        let device = Device::flex();
        let keep = |net: &Network, budget| {
            HeadInputs::compute(net, &data, &data, None, &device, budget).is_some()
        };
        let mut net = network("mlp:16,12", Method::Mole, &[10]);
        // 100 rows of the last module's 12 outputs.
        assert!(keep(&net, 100 * 12 * 4));
        assert!(!keep(&net, 100 * 12 * 4 - 1));
        net.ensemble_heads = true;
        assert!(!keep(&net, usize::MAX));
        assert!(!keep(&network("mlp:16,12", Method::Bp, &[10]), usize::MAX));
    }

    fn shape_dims(shape: &SampleShape) -> Vec<usize> {
        match shape {
            SampleShape::Image {
                channels,
                height,
                width,
            } => vec![*channels, *height, *width],
            SampleShape::Vector(d) => vec![*d],
        }
    }
}
