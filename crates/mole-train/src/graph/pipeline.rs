//! The `async` schedule on graph data: one thread per module and one for the head, linked by
//! bounded channels (`async.buffer_size` steps; lossless back-pressure, as the `block` policy).
//!
//! The calling thread feeds the steps (the same ones as the simultaneous schedule) and waits for
//! the workers' end-of-epoch snapshots only at the epochs it evaluates (`eval_every` and the
//! last), so between evaluations module k can work on the next epoch while module k + 1 is
//! still on the previous one. A step carries its graph and targets with it (`Arc<GraphStep>`),
//! so every worker scores the same items as in the simultaneous schedule, and the updates are
//! the same. The end-of-epoch reports carry each learner's optimiser state too, so the feeding
//! thread can snapshot the whole run at an evaluated epoch and `--resume` can start the workers
//! again at the next one.

use super::source::GraphStep;
use crate::module::{LocalModule, Stage};
use crate::objective::Objective;
use crate::schedule::worker_threads;
use mole_nn::Features;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, channel, sync_channel};

/// What travels from one worker to the next.
#[allow(clippy::large_enum_variant)] // a few per step, moved, never stored in bulk
pub(super) enum Item {
    /// A step: its graph context and targets, and the previous module's output (for module 1,
    /// the node features).
    Step(Arc<GraphStep>, Features),
    /// Every step of this epoch was sent.
    EndEpoch(usize),
}

/// What a worker tells the feeding thread.
pub(super) enum Report {
    /// End of an epoch: the weights, the optimiser state and the epoch's summed losses.
    Snapshot {
        index: usize,
        epoch: usize,
        stage: Box<Stage>,
        optimizer: Vec<u8>,
        steps: u64,
        loss_sum: f64,
        loss_n: usize,
    },
    /// The worker stopped with an error.
    Failed { index: usize, error: String },
}

/// The feeding side of a running pipeline.
pub(super) struct Pipeline {
    /// Into worker 0.
    pub input: Option<SyncSender<Item>>,
    /// From every worker.
    pub reports: Receiver<Report>,
}

/// Starts one thread per learner in `scope`, each beginning at epoch `first` (1, or the epoch
/// after a resumed snapshot); returns the pipeline and the join handles (each gives its learner
/// back).
pub(super) fn start<'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    learners: Vec<LocalModule>,
    first: usize,
    buffer: usize,
    threads_per_module: usize,
) -> (
    Pipeline,
    Vec<std::thread::ScopedJoinHandle<'scope, Option<LocalModule>>>,
) {
    let workers = learners.len();
    let threads = worker_threads(threads_per_module, workers);
    let (report_tx, reports) = channel::<Report>();
    let (input, mut rx) = sync_channel::<Item>(buffer.max(1));
    let mut handles = Vec::with_capacity(workers);
    for (index, mut module) in learners.into_iter().enumerate() {
        let (next, next_rx) = if index + 1 < workers {
            let (tx, r) = sync_channel::<Item>(buffer.max(1));
            (Some(tx), Some(r))
        } else {
            (None, None)
        };
        let inbox = match next_rx {
            Some(r) => std::mem::replace(&mut rx, r),
            None => std::mem::replace(&mut rx, sync_channel(1).1),
        };
        let reports = report_tx.clone();
        let threads = threads[index];
        handles.push(scope.spawn(move || {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .ok()?;
            pool.install(move || {
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    work(index, &mut module, first, &inbox, next.as_ref(), &reports)
                }));
                let error = match result {
                    Ok(Ok(())) => return Some(module),
                    Ok(Err(e)) => e,
                    Err(p) => format!(
                        "panicked: {}",
                        p.downcast_ref::<&str>()
                            .map(|s| s.to_string())
                            .or_else(|| p.downcast_ref::<String>().cloned())
                            .unwrap_or_default()
                    ),
                };
                let _ = reports.send(Report::Failed { index, error });
                None
            })
        }));
    }
    (
        Pipeline {
            input: Some(input),
            reports,
        },
        handles,
    )
}

fn work(
    index: usize,
    module: &mut LocalModule,
    first: usize,
    inbox: &Receiver<Item>,
    next: Option<&SyncSender<Item>>,
    reports: &std::sync::mpsc::Sender<Report>,
) -> Result<(), String> {
    let (mut loss_sum, mut loss_n) = (0.0, 0usize);
    // Epoch e + 1 starts after the end-of-epoch marker of epoch e.
    let planned = module.planned_epochs;
    module.begin_epoch(first, planned);
    // The channel closes after the last epoch: the end of the stream.
    while let Ok(item) = inbox.recv() {
        match item {
            Item::Step(step, x) => {
                let target = match module.objective {
                    Objective::CrossEntropy => &step.head_target,
                    _ => &step.module_target,
                };
                let (out, diag) = module
                    .step_graph(x, Some(&step.graph), target)
                    .map_err(|e| e.to_string())?;
                loss_sum += diag["loss"];
                loss_n += 1;
                if let Some(tx) = next {
                    tx.send(Item::Step(step, out))
                        .map_err(|_| "the next worker is gone".to_string())?;
                }
            }
            Item::EndEpoch(epoch) => {
                let optimizer = module.optimizer_state().map_err(|e| e.to_string())?;
                reports
                    .send(Report::Snapshot {
                        index,
                        epoch,
                        stage: Box::new(module.stage.clone()),
                        optimizer,
                        steps: module.steps,
                        loss_sum,
                        loss_n,
                    })
                    .map_err(|_| "the feeding thread is gone".to_string())?;
                (loss_sum, loss_n) = (0.0, 0);
                if let Some(tx) = next {
                    tx.send(Item::EndEpoch(epoch))
                        .map_err(|_| "the next worker is gone".to_string())?;
                }
                module.begin_epoch(epoch + 1, planned);
            }
        }
    }
    Ok(())
}
