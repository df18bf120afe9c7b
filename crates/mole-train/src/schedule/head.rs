//! The head's extra epochs on the frozen modules (the HSIC "format" phase), shared by the
//! schedules that train every module at once.

use crate::batches::epoch_batches;
use crate::session::{Session, Trained};

/// Trains the head `head_epochs` more epochs on the outputs of the frozen modules.
pub fn train_head_on_frozen(s: &mut Session<'_>) -> anyhow::Result<()> {
    let cfg = s.cfg;
    if s.net.head.is_none() || cfg.head_epochs == 0 {
        return Ok(());
    }
    let n = s.data.train.len();
    let modules = s.net.modules.len();
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
        for idx in &batches {
            crate::stop::check()?;
            let x = s.net.forward_to(s.input(idx), modules);
            let target = s.target(idx);
            let (_, diag) = s.net.head.as_mut().expect("head").step(x, &target)?;
            s.record_loss(modules, diag["loss"]);
        }
        s.end_epoch(Trained::Head, epoch, cfg.head_epochs)?;
    }
    Ok(())
}
