//! The head's extra epochs on the frozen modules (the HSIC "format" phase), shared by the
//! schedules that train every module at once.

use super::frozen::frozen_outputs;
use crate::batches::{epoch_batches, features};
use crate::session::{Session, Trained};
use mole_data::Dataset;
use mole_info::profile::{self, Phase};

/// Trains the head `head_epochs` more epochs on the outputs of the frozen modules, computed once
/// for all these epochs when they can be cached ([`frozen_outputs`]), else on every batch.
pub fn train_head_on_frozen(s: &mut Session<'_>) -> anyhow::Result<()> {
    let cfg = s.cfg;
    if s.net.head.is_none() || cfg.head_epochs == 0 {
        return Ok(());
    }
    let n = s.data.train.len();
    let modules = s.net.modules.len();
    // Computed at the first epoch this process runs (after a resume: the first one left).
    let mut cache: Option<Option<Dataset>> = None;
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
        let cached = cache.get_or_insert_with(|| {
            modules
                .checked_sub(1)
                .and_then(|k| frozen_outputs(s, k, None))
        });
        for idx in &batches {
            crate::stop::check()?;
            let x = match cached {
                Some(c) => {
                    let _phase = profile::scope(Phase::Data);
                    features(c, idx, &s.plain_device())
                }
                None => {
                    let x = s.input(idx);
                    let _phase = profile::scope(Phase::Forward);
                    s.net.forward_to(x, modules)
                }
            };
            let target = s.target(idx);
            let (_, diag) = s.net.head.as_mut().expect("head").step(x, &target)?;
            s.record_loss(modules, diag["loss"]);
        }
        s.end_epoch(Trained::Head, epoch, cfg.head_epochs)?;
    }
    Ok(())
}
