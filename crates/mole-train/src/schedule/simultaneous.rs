//! Interleaved layer-wise training: every module steps on every batch.

use super::Schedule;
use crate::batches::epoch_batches;
use crate::objective::{Objective, Target};
use crate::session::{Session, Trained};

/// For each batch, module 1 steps on the input, module 2 on module 1's detached output, …, and
/// the head on the last output; after `epochs` such epochs the head trains `head_epochs` more on
/// the frozen modules (the HSIC "format" phase). Each module's output is the one computed in its
/// own training forward (pre-update weights), so every batch costs one forward per module.
/// What the objectives need from a batch alone (the HSIC bottleneck's input factor) is computed
/// on a helper thread one batch ahead ([`Objective::prepare_inputs`]).
pub struct SimultaneousSchedule;

impl Schedule for SimultaneousSchedule {
    fn name(&self) -> &'static str {
        "simultaneous"
    }

    fn run(&self, s: &mut Session<'_>) -> anyhow::Result<()> {
        let cfg = s.cfg;
        let n = s.data.train.len();
        let modules = s.net.modules.len();
        let objectives: Vec<Objective> =
            s.net.modules.iter().map(|m| m.objective.clone()).collect();
        let prepare = objectives.iter().any(Objective::prepares_inputs);
        for epoch in 1..=cfg.epochs {
            let batches = epoch_batches(n, cfg.batch_size, cfg.seed, epoch);
            if !s.begin_epoch("epoch", epoch, cfg.epochs, batches.len()) {
                continue; // finished before a resume
            }
            for m in s.net.modules.iter_mut().chain(s.net.head.as_mut()) {
                m.begin_epoch(epoch, cfg.epochs);
            }
            std::thread::scope(|scope| -> anyhow::Result<()> {
                // The next batch's target, its batch-only terms computed on a helper thread
                // while the modules train on this one.
                let mut ahead: Option<std::thread::ScopedJoinHandle<'_, Target>> = None;
                for (b, idx) in batches.iter().enumerate() {
                    crate::stop::check()?;
                    let target = match ahead.take() {
                        Some(h) => h.join().map_err(|_| {
                            anyhow::anyhow!("the batch preparation thread panicked")
                        })?,
                        None => s.target(idx),
                    };
                    if let (true, Some(next)) = (prepare, batches.get(b + 1)) {
                        let next = s.target(next);
                        let objectives = &objectives;
                        ahead = Some(scope.spawn(move || {
                            for o in objectives {
                                o.prepare_inputs(&next);
                            }
                            next
                        }));
                    }
                    let mut x = s.input(idx);
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
                Ok(())
            })?;
            s.end_epoch(Trained::All, epoch, cfg.epochs)?;
        }
        super::head::train_head_on_frozen(s)
    }
}
