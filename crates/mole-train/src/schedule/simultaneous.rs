//! Interleaved layer-wise training: every module steps on every batch.

use super::Schedule;
use crate::batches::epoch_batches;
use crate::session::{Session, Trained};

/// For each batch, module 1 steps on the input, module 2 on module 1's detached output, …, and
/// the head on the last output; after `epochs` such epochs the head trains `head_epochs` more on
/// the frozen modules (the HSIC "format" phase). Each module's output is the one computed in its
/// own training forward (pre-update weights), so every batch costs one forward per module.
pub struct SimultaneousSchedule;

impl Schedule for SimultaneousSchedule {
    fn name(&self) -> &'static str {
        "simultaneous"
    }

    fn run(&self, s: &mut Session<'_>) -> anyhow::Result<()> {
        let cfg = s.cfg;
        let n = s.data.train.len();
        let modules = s.net.modules.len();
        for epoch in 1..=cfg.epochs {
            let batches = epoch_batches(n, cfg.batch_size, cfg.seed, epoch);
            if !s.begin_epoch("epoch", epoch, cfg.epochs, batches.len()) {
                continue; // finished before a resume
            }
            for m in s.net.modules.iter_mut().chain(s.net.head.as_mut()) {
                m.begin_epoch(epoch, cfg.epochs);
            }
            for idx in &batches {
                crate::stop::check()?;
                let mut x = s.input(idx);
                let target = s.target(idx);
                for k in 0..modules {
                    let (out, diag) = s.net.modules[k].step(x, &target)?;
                    s.record_loss(k, diag["loss"]);
                    x = out;
                }
                if let Some(head) = s.net.head.as_mut() {
                    let (_, diag) = head.step(x, &target)?;
                    s.record_loss(modules, diag["loss"]);
                }
                s.samples_seen += idx.len() as u64;
            }
            s.end_epoch(Trained::All, epoch, cfg.epochs)?;
        }
        super::head::train_head_on_frozen(s)
    }
}
