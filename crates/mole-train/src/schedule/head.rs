//! The head's extra epochs on the frozen modules (the HSIC "format" phase), shared by the
//! schedules that train every module at once.

use super::frozen::{cacheable, learner_input, train_on_streamed_outputs};
use super::learner_step;
use crate::batches::epoch_batches;
use crate::session::{Session, Trained};
use mole_data::Dataset;

/// Trains the head `head_epochs` more epochs on the outputs of the frozen modules: the first
/// epoch this process runs computes them on a helper thread as it goes and keeps them for the
/// others ([`train_on_streamed_outputs`]) when they can be cached, else every batch runs the
/// frozen modules.
pub fn train_head_on_frozen(s: &mut Session<'_>) -> anyhow::Result<()> {
    let cfg = s.cfg;
    if s.net.head.is_none() || cfg.head_epochs == 0 {
        return Ok(());
    }
    let n = s.data.train.len();
    let modules = s.net.modules.len();
    // Set by the first epoch this process runs when the outputs can be cached.
    let mut cache: Option<Dataset> = None;
    for epoch in 1..=cfg.head_epochs {
        let batches = epoch_batches(n, cfg.batch_size, cfg.seed + 7, epoch);
        if !s.begin_epoch("head", epoch, cfg.head_epochs, batches.len()) {
            continue; // finished before a resume
        }
        s.net
            .head
            .as_mut()
            .expect("head")
            .begin_epoch(epoch, cfg.head_epochs);
        let head_step = |s: &mut Session<'_>, idx: &[usize], x| learner_step(s, modules, idx, x);
        match modules.checked_sub(1) {
            Some(k) if cache.is_none() && cacheable(s, k) => {
                let outputs = train_on_streamed_outputs(s, k, None, &batches, head_step)?;
                cache = Some(outputs);
            }
            _ => {
                for idx in &batches {
                    let x = learner_input(s, modules, cache.as_ref(), idx);
                    head_step(s, idx, x)?;
                }
            }
        }
        s.end_epoch(Trained::Head, epoch, cfg.head_epochs)?;
    }
    Ok(())
}
