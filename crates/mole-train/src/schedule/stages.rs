//! The simultaneous schedule's epoch as a pipeline: consecutive learners (modules and the
//! head) grouped into one stage per core by their measured step times, each stage a thread
//! with its own rayon pool, linked by channels of one batch. Stage g steps on batch b while
//! stage g + 1 steps on batch b − 1, so the modules' work overlaps on the cores instead of
//! taking turns.
//!
//! The numbers are the serial order's: learner k sees batch b after exactly b − 1 updates of
//! itself and gets the output of learner k − 1 computed in k − 1's own step on b (pre-update
//! weights), as in the serial loop; only *when* the steps run changes. Each learner's losses
//! are reported in batch order. Dropout draws from the device's shared generator, whose order
//! would then depend on the threads' timing, so [`super::pipeline_plan::pipeline_cores`] keeps
//! such runs serial.

use crate::module::LocalModule;
use anyhow::Context;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;

/// What feeds a pipelined run of batches and hears its losses, on the calling thread.
pub(crate) trait StageFeed<I> {
    /// The next batch, or `None` at the end of the run of batches.
    fn next(&mut self) -> anyhow::Result<Option<I>>;
    /// Learner `k`'s loss on its next batch (in batch order for each `k`).
    fn loss(&mut self, k: usize, loss: f64);
}

/// One step of learner `k` on a batch: trains, replaces the batch's input by the learner's
/// output for the next learner, and returns the loss.
pub(crate) type StageStep<'a, I> =
    dyn Fn(usize, &mut LocalModule, &mut I) -> anyhow::Result<f64> + Sync + 'a;

/// The pipeline's stages: consecutive learners grouped by their measured step times
/// ([`balanced_groups`]), each stage with its rayon pool.
pub(crate) struct StagePools {
    /// Learners of each stage, in order.
    groups: Vec<usize>,
    pools: Vec<rayon::ThreadPool>,
}

/// `costs` (one per learner, in order) cut into `min(parts, costs.len())` consecutive non-empty
/// groups so that the largest group's sum is as small as it can be (the pipeline runs at its
/// slowest stage's pace); the sizes of the groups, in order. Ties go to the earliest cut that
/// reaches the optimum.
pub(crate) fn balanced_groups(costs: &[f64], parts: usize) -> Vec<usize> {
    let n = costs.len();
    let parts = parts.min(n).max(1);
    let prefix: Vec<f64> = std::iter::once(0.0)
        .chain(costs.iter().scan(0.0, |acc, &c| {
            *acc += c.max(0.0);
            Some(*acc)
        }))
        .collect();
    // best[p][i]: the smallest possible largest sum of the first i learners in p groups.
    let mut best = vec![vec![f64::INFINITY; n + 1]; parts + 1];
    let mut cut = vec![vec![0usize; n + 1]; parts + 1];
    best[0][0] = 0.0;
    for p in 1..=parts {
        for i in p..=n {
            for j in (p - 1)..i {
                let v = best[p - 1][j].max(prefix[i] - prefix[j]);
                if v < best[p][i] {
                    best[p][i] = v;
                    cut[p][i] = j;
                }
            }
        }
    }
    let mut sizes = Vec::with_capacity(parts);
    let mut i = n;
    for p in (1..=parts).rev() {
        let j = cut[p][i];
        sizes.push(i - j);
        i = j;
    }
    sizes.reverse();
    sizes
}

impl StagePools {
    /// One stage per core (fewer with fewer learners), the learners grouped by `costs` (each
    /// learner's measured step time) with [`balanced_groups`]; each stage's threads as the
    /// async schedule shares the cores between its workers ([`super::share_cores`]). As many
    /// stages as cores keeps as many batches' steps in memory at once: with a stage per learner
    /// a 16-module MLP held the training heap of backprop.
    pub(crate) fn balanced(costs: &[f64], cores: usize) -> anyhow::Result<Self> {
        let groups = balanced_groups(costs, cores);
        let pools = super::share_cores(cores, groups.len())
            .into_iter()
            .enumerate()
            .map(|(k, threads)| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .thread_name(move |i| format!("mole-stage{k}-{i}"))
                    .build()
                    .context("starting a pipeline stage's thread pool")
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(StagePools { groups, pools })
    }

    /// Learners the pipeline was planned for.
    pub(crate) fn learners(&self) -> usize {
        self.groups.iter().sum()
    }

    /// Learners of each stage.
    pub(crate) fn groups(&self) -> &[usize] {
        &self.groups
    }

    /// Runs every batch `feed` gives (until it says `None`) through `learners` in order, each
    /// stage on its own thread. The first error in learner order wins (a learner whose
    /// successor stopped stops quietly); an error of `feed` (an interrupt) comes after them.
    /// Returns when every stage has finished.
    pub(crate) fn run<I: Send>(
        &self,
        learners: Vec<&mut LocalModule>,
        step: &StageStep<'_, I>,
        feed: &mut dyn StageFeed<I>,
    ) -> anyhow::Result<()> {
        assert_eq!(learners.len(), self.learners(), "the planned learners");
        let mut learners = learners.into_iter().enumerate();
        let stages: Vec<Vec<(usize, &mut LocalModule)>> = self
            .groups
            .iter()
            .map(|&n| learners.by_ref().take(n).collect())
            .collect();
        std::thread::scope(|scope| {
            let (loss_tx, loss_rx) = mpsc::channel::<(usize, f64)>();
            let (first_tx, first_rx) = mpsc::sync_channel::<I>(1);
            let mut inbox = Some(first_rx);
            let count = stages.len();
            let mut handles = Vec::with_capacity(count);
            for (g, (mut group, pool)) in stages.into_iter().zip(&self.pools).enumerate() {
                let (outbox, next) = if g + 1 < count {
                    let (tx, rx) = mpsc::sync_channel::<I>(1);
                    (Some(tx), Some(rx))
                } else {
                    (None, None)
                };
                let rx = std::mem::replace(&mut inbox, next).expect("an inbox per stage");
                let losses = loss_tx.clone();
                let handle = std::thread::Builder::new()
                    .name(format!("mole-stage{g}"))
                    .spawn_scoped(scope, move || -> anyhow::Result<()> {
                        let work = AssertUnwindSafe(|| {
                            pool.install(|| -> anyhow::Result<()> {
                                // The learners' previous steps ran on another thread.
                                for (_, module) in &group {
                                    module.settle_running_stats();
                                }
                                for mut item in rx {
                                    for (k, module) in group.iter_mut() {
                                        let loss = step(*k, module, &mut item)?;
                                        let _ = losses.send((*k, loss));
                                    }
                                    if let Some(out) = &outbox
                                        && out.send(item).is_err()
                                    {
                                        // The next learner stopped; it reports why.
                                        return Ok(());
                                    }
                                }
                                Ok(())
                            })
                        });
                        catch_unwind(work).unwrap_or_else(|p| {
                            Err(anyhow::anyhow!(
                                "pipeline stage {} panicked: {}",
                                g + 1,
                                super::panic_message(p.as_ref())
                            ))
                        })
                    })
                    .context("starting a pipeline stage's thread")?;
                handles.push(handle);
            }
            drop(loss_tx);
            let mut fed = Ok(());
            loop {
                while let Ok((k, loss)) = loss_rx.try_recv() {
                    feed.loss(k, loss);
                }
                match feed.next() {
                    Ok(Some(item)) => {
                        if first_tx.send(item).is_err() {
                            break; // the first learner stopped
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        fed = Err(e);
                        break;
                    }
                }
            }
            drop(first_tx);
            // Until every stage has finished.
            for (k, loss) in loss_rx {
                feed.loss(k, loss);
            }
            let mut failed = None;
            for h in handles {
                let result = h
                    .join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a pipeline stage panicked")));
                if let (Err(e), None) = (result, &failed) {
                    failed = Some(e);
                }
            }
            match failed {
                Some(e) => Err(e),
                None => fed,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::balanced_groups;

    #[test]
    fn groups_minimise_the_slowest_stage() {
        // MOLE on MNIST mlp:256,256,256: module 1 (two layers), module 2, head.
        assert_eq!(balanced_groups(&[6.2, 3.3, 0.2], 2), vec![1, 2]);
        // HSIC: three modules and the head.
        assert_eq!(balanced_groups(&[10.1, 5.5, 5.4, 0.3], 2), vec![1, 3]);
        assert_eq!(balanced_groups(&[1.0, 1.0, 1.0, 1.0], 2), vec![2, 2]);
        assert_eq!(balanced_groups(&[1.0, 1.0, 8.0], 2), vec![2, 1]);
        assert_eq!(balanced_groups(&[1.0, 2.0], 8), vec![1, 1]);
        assert_eq!(
            balanced_groups(&[3.0, 1.0, 1.0, 1.0, 3.0], 3),
            vec![1, 3, 1]
        );
        // Every learner in a group, none empty, for any costs.
        for (n, parts) in [(17, 2), (17, 4), (5, 5), (9, 3), (1, 2)] {
            let costs: Vec<f64> = (0..n).map(|i| ((i * 7919) % 13) as f64 + 0.5).collect();
            let g = balanced_groups(&costs, parts);
            assert_eq!(g.iter().sum::<usize>(), n);
            assert_eq!(g.len(), parts.min(n));
            assert!(g.iter().all(|&k| k > 0), "{g:?}");
            // No other cut into two groups beats it.
            if parts == 2 && n > 1 {
                let total: f64 = costs.iter().sum();
                let first: f64 = costs[..g[0]].iter().sum();
                let got = first.max(total - first);
                for c in 1..n {
                    let a: f64 = costs[..c].iter().sum();
                    assert!(got <= a.max(total - a) + 1e-12, "{g:?} vs cut {c}");
                }
            }
        }
    }
}
