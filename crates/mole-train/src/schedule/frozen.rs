//! The outputs of frozen modules over the training set, computed once and reused by every later
//! epoch that trains on them (the next module in the greedy schedule, the head's epochs on the
//! frozen network).

use crate::evaluate::map_dataset;
use crate::session::Session;
use mole_data::{Dataset, SampleShape};
use mole_info::profile::{self, Phase};

/// Module `k`'s outputs over the training set (inference mode), computed from `below` (module
/// `k − 1`'s cached outputs) or from the raw data: the training set as the learner above module
/// `k` sees it. `None` when they cannot be cached (augmentation on, over `cache_mib`, a network
/// without a separate head): the learner above then runs the frozen modules on every batch.
pub fn frozen_outputs(s: &Session<'_>, k: usize, below: Option<&Dataset>) -> Option<Dataset> {
    let _phase = profile::scope(Phase::Bookkeeping);
    if s.cfg.augment.enabled() {
        // Augmented inputs differ every epoch, so frozen outputs cannot be reused.
        return None;
    }
    let shape = &s.net.output_shapes[k];
    let bytes = s.data.train.len() * shape.iter().product::<usize>() * 4;
    if bytes > s.cfg.cache_mib << 20 {
        return None;
    }
    if k + 1 == s.net.modules.len() && s.net.head.is_none() {
        // Nothing trains above the last module of a network without a separate head (backprop,
        // whose one module ends in the classifier).
        return None;
    }
    let plain = s.plain_device();
    let source = below.unwrap_or(&s.data.train);
    let start = if below.is_some() { k } else { 0 };
    let (values, width) = map_dataset(source, &plain, |x| {
        let mut h = x;
        for m in &s.net.modules[start..=k] {
            h = m.forward(h);
        }
        h.flat()
    });
    let shape = match shape.as_slice() {
        [c, h, w] => SampleShape::Image {
            channels: *c,
            height: *h,
            width: *w,
        },
        other => SampleShape::Vector(other.iter().product()),
    };
    if width * source.len() != values.len() || width != shape.len() {
        return None; // not the module's declared output: recompute instead of caching
    }
    Some(Dataset::new(
        values,
        s.data.train.labels.clone(),
        shape,
        s.data.train.num_classes,
    ))
}
