//! Interleaved layer-wise training: every module steps on every batch.

use super::Schedule;
use super::pipeline_plan::PipelinePlan;
use super::stages::{StageFeed, StagePools};
use crate::batches::epoch_batches;
use crate::module::LocalModule;
use crate::objective::{Objective, Target};
use crate::session::{Session, Trained};
use mole_nn::Features;
use std::time::Instant;

/// For each batch, module 1 steps on the input, module 2 on module 1's detached output, …, and
/// the head on the last output; after `epochs` such epochs the head trains `head_epochs` more on
/// the frozen modules (the HSIC "format" phase). Each module's output is the one computed in its
/// own training forward (pre-update weights), so every batch costs one forward per module.
/// What the objectives need from a batch alone (the HSIC bottleneck's input factor) is computed
/// one batch ahead on a helper thread while the learners take turns, and by the first stage of
/// a pipeline ([`Objective::prepare_inputs`]). On two or more cores the learners can run
/// as a pipeline (`pipeline`, `schedule::stages`): after a few batches in turn that time each
/// learner's step, consecutive learners are grouped into one stage per core with balanced
/// times, and stage 1 steps on batch b while stage 2 is on b − 1, with the same numbers as
/// when they take turns; `PipelinePlan` decides, batch run by batch run, which way goes.
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
        let learners = modules + usize::from(s.net.head.is_some());
        let mut plan = PipelinePlan::new(learners, cfg.pipeline, cfg.dropout);
        for epoch in 1..=cfg.epochs {
            let batches = epoch_batches(n, cfg.batch_size, cfg.seed, epoch);
            if !s.begin_epoch("epoch", epoch, cfg.epochs, batches.len()) {
                continue; // finished before a resume
            }
            for m in s.net.modules.iter_mut().chain(s.net.head.as_mut()) {
                m.begin_epoch(epoch, cfg.epochs);
            }
            plan.run_epoch(batches, |pools, chunk| match pools {
                Some(pools) => {
                    batches_pipelined(s, pools, &chunk, &objectives, prepare)?;
                    Ok(None)
                }
                None => Ok(Some(batches_in_turn(s, &chunk, &objectives, prepare)?)),
            })?;
            s.pipeline_stages = plan.stages();
            s.end_epoch(Trained::All, epoch, cfg.epochs)?;
        }
        super::head::train_head_on_frozen(s)
    }
}

/// The learners taking turns on the calling thread through `batches`; the seconds each
/// learner's step took on the last batch.
fn batches_in_turn(
    s: &mut Session<'_>,
    batches: &[Vec<usize>],
    objectives: &[Objective],
    prepare: bool,
) -> anyhow::Result<Vec<f64>> {
    let modules = s.net.modules.len();
    let mut seconds = Vec::new();
    std::thread::scope(|scope| -> anyhow::Result<()> {
        // The next batch's input and target, its batch-only terms computed on a helper thread
        // while the modules train on this one.
        let mut ahead: Option<std::thread::ScopedJoinHandle<'_, (Features, Target)>> = None;
        for (b, idx) in batches.iter().enumerate() {
            crate::stop::check()?;
            let (mut x, target) = match ahead.take() {
                Some(h) => h
                    .join()
                    .map_err(|_| anyhow::anyhow!("the batch preparation thread panicked"))?,
                None => s.input_and_target(idx, objectives.iter()),
            };
            if let (true, Some(next)) = (prepare, batches.get(b + 1)) {
                let next = s.input_and_target(next, objectives.iter());
                ahead = Some(scope.spawn(move || {
                    for o in objectives {
                        o.prepare_inputs(&next.1);
                    }
                    next
                }));
            }
            seconds.clear();
            for k in 0..modules {
                let start = Instant::now();
                let (out, diag) = s.net.modules[k].step(x, &target)?;
                seconds.push(start.elapsed().as_secs_f64());
                s.record_loss(k, diag["loss"]);
                x = out;
            }
            if let Some(head) = s.net.head.as_mut() {
                let start = Instant::now();
                let (_, diag) = head.step(x, &target)?;
                seconds.push(start.elapsed().as_secs_f64());
                s.record_loss(modules, diag["loss"]);
            }
            s.samples_seen += idx.len() as u64;
        }
        Ok(())
    })?;
    Ok(seconds)
}

/// A batch on its way through the pipeline: the input of the next learner and the target.
struct InFlight {
    x: Option<Features>,
    target: Target,
}

/// Feeds the pipeline from the session: each batch's input and target, and records the
/// learners' losses.
struct SessionFeed<'s, 'a, 'b> {
    s: &'s mut Session<'a>,
    batches: std::slice::Iter<'b, Vec<usize>>,
    objectives: &'b [Objective],
}

impl StageFeed<InFlight> for SessionFeed<'_, '_, '_> {
    fn next(&mut self) -> anyhow::Result<Option<InFlight>> {
        crate::stop::check()?;
        let Some(idx) = self.batches.next() else {
            return Ok(None);
        };
        let (x, target) = self.s.input_and_target(idx, self.objectives.iter());
        self.s.samples_seen += idx.len() as u64;
        Ok(Some(InFlight { x: Some(x), target }))
    }

    fn loss(&mut self, k: usize, loss: f64) {
        self.s.record_loss(k, loss);
    }
}

/// `batches` through the pipeline's stages, each on its own thread ([`StagePools`]); the same
/// numbers as [`batches_in_turn`].
fn batches_pipelined(
    s: &mut Session<'_>,
    pools: &StagePools,
    batches: &[Vec<usize>],
    objectives: &[Objective],
    prepare: bool,
) -> anyhow::Result<()> {
    // The learners leave the session meanwhile (the feed needs it) and always come back.
    // Meanwhile `record_loss` sees no modules and no head and counts every loss as the head's
    // ("head trained"), which in this schedule, where every learner steps on every batch, it is
    // by the first batch's end either way.
    let mut modules = std::mem::take(&mut s.net.modules);
    let mut head = s.net.head.take();
    let learners: Vec<&mut LocalModule> = modules.iter_mut().chain(head.as_mut()).collect();
    debug_assert_eq!(learners.len(), pools.learners());
    // The batch-only terms (HSIC's R_X and K_Y) are computed by the first stage, before module
    // 1's step, on that stage's thread: on the feeding thread they would be a third busy thread
    // on cores the stages already fill (MNIST HSIC on two cores: 10 % slower that way).
    let step = |k: usize, m: &mut LocalModule, item: &mut InFlight| -> anyhow::Result<f64> {
        if k == 0 && prepare {
            for o in objectives {
                o.prepare_inputs(&item.target);
            }
        }
        let x = item.x.take().expect("a learner's input");
        let (out, diag) = m.step(x, &item.target)?;
        item.x = Some(out);
        Ok(diag["loss"])
    };
    let mut feed = SessionFeed {
        s: &mut *s,
        batches: batches.iter(),
        objectives,
    };
    let result = pools.run(learners, &step, &mut feed);
    s.net.modules = modules;
    s.net.head = head;
    result
}
