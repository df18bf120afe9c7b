//! The head's extra epochs on the frozen modules (the HSIC "format" phase), shared by the
//! schedules that train every module at once.

use super::frozen::{cacheable, learner_input, train_on_streamed_outputs};
use crate::batches::epoch_batches;
use crate::session::{Session, Trained};
use mole_data::Dataset;
use mole_nn::Features;

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
    let mut cache: Option<Dataset> = None;
    let mut first = true;
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
        let last = modules.checked_sub(1);
        match last.filter(|&k| std::mem::take(&mut first) && cacheable(s, k)) {
            Some(k) => {
                let outputs = train_on_streamed_outputs(s, k, None, &batches, head_step)?;
                cache = Some(outputs);
            }
            None => {
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

/// One step of the head on the batch of training rows `idx` with inputs `x`.
fn head_step(s: &mut Session<'_>, idx: &[usize], x: Features) -> anyhow::Result<()> {
    crate::stop::check()?;
    let target = s.target(idx);
    let (_, diag) = s.net.head.as_mut().expect("head").step(x, &target)?;
    let modules = s.net.modules.len();
    s.record_loss(modules, diag["loss"]);
    Ok(())
}
