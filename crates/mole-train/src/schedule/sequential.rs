//! Greedy layer-wise training: each module to the end of its epochs, then frozen.

use super::frozen::{cacheable, frozen_outputs, learner_input, train_on_streamed_outputs};
use super::{Schedule, learner_step};
use crate::batches::epoch_batches;
use crate::session::{Session, Trained};
use mole_data::Dataset;

/// Module 1 for `epochs`, frozen; module 2 on module 1's outputs; …; then the head for
/// `head_epochs`. A frozen module's outputs over the training set are computed once and cached
/// when they fit in `cache_mib` (and augmentation is off) — during the next learner's first
/// epoch, on a helper thread one batch ahead of it; otherwise the frozen modules are re-run on
/// every batch.
pub struct SequentialSchedule;

impl Schedule for SequentialSchedule {
    fn name(&self) -> &'static str {
        "sequential"
    }

    fn run(&self, s: &mut Session<'_>) -> anyhow::Result<()> {
        let cfg = s.cfg;
        let n = s.data.train.len();
        let modules = s.net.modules.len();
        // The outputs of the last frozen module, which the learner in training reads.
        let mut cache: Option<Dataset> = None;
        // A module just frozen whose outputs the next learner's first epoch computes as it goes
        // (`cache` still holds the outputs below it).
        let mut pending: Option<usize> = None;
        // After a resume, the modules below the one in training were frozen in the earlier
        // process: their cached outputs are computed again, once, before its first epoch here.
        let mut stale = false;
        for k in 0..=modules {
            let is_head = k == modules;
            if is_head && s.net.head.is_none() {
                break;
            }
            let epochs = if is_head { cfg.head_epochs } else { cfg.epochs };
            for epoch in 1..=epochs {
                let batches = epoch_batches(n, cfg.batch_size, cfg.seed + k as u64, epoch);
                let name = s.net.learner(k).name.clone();
                if !s.begin_epoch(&name, epoch, epochs, batches.len()) {
                    stale = true; // finished before a resume
                    continue;
                }
                if std::mem::take(&mut stale) && k > 0 {
                    pending = None;
                    cache = frozen_outputs(s, k - 1, None);
                }
                s.net.learner_mut(k).begin_epoch(epoch, epochs);
                match pending.take() {
                    Some(frozen) => {
                        let outputs = train_on_streamed_outputs(
                            s,
                            frozen,
                            cache.as_ref(),
                            &batches,
                            |s, idx, x| learner_step(s, k, idx, x),
                        )?;
                        cache = Some(outputs);
                    }
                    None => {
                        for idx in &batches {
                            crate::stop::check()?;
                            let x = learner_input(s, k, cache.as_ref(), idx);
                            learner_step(s, k, idx, x)?;
                        }
                    }
                }
                s.end_epoch(
                    if is_head {
                        Trained::Head
                    } else {
                        Trained::Module(k)
                    },
                    epoch,
                    epochs,
                )?;
            }
            if let Some(frozen) = pending.take() {
                // This learner ran no epoch here: the outputs below it, now.
                cache = frozen_outputs(s, frozen, cache.as_ref());
            }
            if !is_head {
                s.net.modules[k].freeze(cfg);
                if !stale {
                    if cacheable(s, k) {
                        pending = Some(k);
                    } else {
                        cache = None;
                    }
                }
            }
        }
        Ok(())
    }
}
