//! The `async` schedule: one worker thread per module and one for the head, connected by
//! bounded buffers of activation batches ([`crate::transport`]). Module k trains on whatever
//! arrives from module k − 1 while k − 1 keeps learning, and passes its output, computed with
//! its current weights, on.
//!
//! The calling thread is the coordinator: workers send it a copy of their weights at the end of
//! every epoch; once every worker has finished the epoch it installs them in the session's
//! network and runs the ordinary end-of-epoch evaluation, metrics and checkpoints
//! ([`Session::end_epoch`]). The data feeder waits for that before it starts the next epoch, so
//! evaluation never competes with training for the cores. Then the head trains its extra epochs
//! on the frozen modules, as in the simultaneous schedule.

mod feeder;
#[cfg(feature = "mpi")]
pub mod mpi;
mod stats;
mod worker;

pub use stats::{AsyncReport, WorkerStats};
pub use worker::StepHook;

use super::{Schedule, panic_message, share_cores};
use crate::batches::epoch_batches;
use crate::config::{BufferPolicy, Distributed, TrainConfig};
use crate::module::{LocalModule, Stage, make_optimizer};
use crate::objective::Objective;
use crate::session::{Session, Trained};
use crate::stop::stop_requested;
use crate::transport::local::link;
use crate::transport::{Inbox, Outbox};
use anyhow::{Context, bail};
use feeder::{FeedEnd, Feeder};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::mpsc;
use worker::{Event, Worker, WorkerError};

/// Trains every module and the head at once, each in its own thread. `hook` (tests only) runs
/// before every step of every worker.
#[derive(Default)]
pub struct AsyncSchedule {
    /// Called before each step with (worker index, steps so far).
    pub hook: Option<StepHook>,
}

/// Whether some module scores its output against the network inputs X
/// ([`Objective::scores_inputs`]).
fn needs_inputs(objectives: &[&Objective]) -> bool {
    objectives.iter().any(|o| o.scores_inputs())
}

/// A stand-in with the same weights, left in the session while the original trains in its
/// worker (its weights are replaced by the worker's snapshots).
fn twin(m: &LocalModule, cfg: &TrainConfig) -> LocalModule {
    LocalModule::new(
        m.name.clone(),
        m.stage.clone().blocks,
        m.objective.clone(),
        make_optimizer(cfg),
        m.lr,
    )
}

/// Intra-op threads of each of `workers` pipeline workers, the first (where the pipeline starts)
/// first: `configured` each when it is not 0; otherwise the cores shared out evenly (at least
/// 1 each) and one more for the first worker. Every worker downstream waits on the first one's
/// output, so the first is the one whose speed sets the pipeline's, and the others' idle time
/// is the core time it can use: MOLE on MNIST `mlp:256,256,256` (3 workers, 2 cores) runs
/// 7 % more samples/s with 2 threads in module 1 than with 1 (four interleaved pairs).
pub fn worker_threads(configured: usize, workers: usize) -> Vec<usize> {
    if configured > 0 {
        return vec![configured; workers];
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    share_cores(cores, workers)
}

struct Pending {
    epoch: usize,
    parts: Vec<Option<(Stage, u64, f64, u64)>>,
}

impl Schedule for AsyncSchedule {
    fn name(&self) -> &'static str {
        "async"
    }

    fn run(&self, s: &mut Session<'_>) -> anyhow::Result<()> {
        let cfg = s.cfg;
        let data = s.data;
        let opts = &cfg.async_;
        let modules = s.net.modules.len();
        let workers = modules + usize::from(s.net.head.is_some());
        let threads = worker_threads(opts.threads_per_module, workers);
        let objectives: Vec<&Objective> = s.net.modules.iter().map(|m| &m.objective).collect();
        let with_inputs = needs_inputs(&objectives);
        let names: Vec<String> = s
            .net
            .modules
            .iter()
            .chain(s.net.head.as_ref())
            .map(|m| m.name.clone())
            .collect();

        // The originals train in the workers; twins stay in the session for evaluation.
        let mut learners = Vec::with_capacity(workers);
        for m in s.net.modules.iter_mut() {
            let t = twin(m, cfg);
            learners.push(std::mem::replace(m, t));
        }
        if let Some(h) = s.net.head.as_mut() {
            let t = twin(h, cfg);
            learners.push(std::mem::replace(h, t));
        }

        let batches_per_epoch = epoch_batches(data.train.len(), cfg.batch_size, cfg.seed, 1).len();
        let versions: Vec<Arc<AtomicU64>> = (0..workers).map(|_| Arc::default()).collect();
        let abort = AtomicBool::new(false);
        let (event_tx, event_rx) = mpsc::channel::<Event>();
        let (resume_tx, resume_rx) = mpsc::channel::<()>();
        let plain = s.plain_device();
        let mut epochs_done = cfg.resume_epoch;
        let mut primary: Option<(usize, String)> = None;
        let mut secondary: Option<(usize, String)> = None;
        let mut coordinator_error: Option<anyhow::Error> = None;

        #[cfg(feature = "mpi")]
        let mpi_root = match opts.distributed {
            Distributed::Mpi => Some(mpi::Root::new(&names)?),
            Distributed::Local => None,
        };
        #[cfg(not(feature = "mpi"))]
        if opts.distributed == Distributed::Mpi {
            bail!(
                "async.distributed = \"mpi\": this mole was built without MPI; rebuild with \
                 `cargo build --release --features mpi` (needs libopenmpi-dev openmpi-bin libclang-dev)"
            );
        }
        let (feed, results) = std::thread::scope(|scope| -> anyhow::Result<_> {
            // Data costs nothing to produce: the feeder always waits for module 1 (replay would
            // only drop data), and the buffer policy applies between workers.
            let (feed_out, inbox) = link(BufferPolicy::Block, opts.buffer_size, 1);
            #[cfg(feature = "mpi")]
            let feed_out = match &mpi_root {
                Some(root) => {
                    root.send_setup(cfg, data, &learners)?;
                    root.feeder_outbox()
                }
                None => feed_out,
            };
            let feeder = Feeder {
                data: &data.train,
                epochs: cfg.epochs,
                first_epoch: cfg.resume_epoch + 1,
                batch_size: cfg.batch_size,
                seed: cfg.seed,
                with_inputs,
                outbox: feed_out,
                resume: resume_rx,
                abort: &abort,
            };
            let feeder = std::thread::Builder::new()
                .name("mole-feeder".into())
                .spawn_scoped(scope, move || feeder.run())
                .context("starting the data feeder thread")?;
            let placement = WorkerPlacement {
                first: 0,
                workers,
                inbox,
                outbox: None,
                events: event_tx.clone(),
                versions: versions.clone(),
                threads: threads.clone(),
                hook: self.hook.clone(),
                num_classes: data.train.num_classes,
                device: plain.clone(),
                names: names.clone(),
            };
            #[cfg(feature = "mpi")]
            let handles = match &mpi_root {
                Some(root) => {
                    drop(placement);
                    Joined::Remote(root.spawn_relay(scope, learners, event_tx.clone())?)
                }
                None => Joined::Local(spawn_workers(scope, learners, placement, opts)?),
            };
            #[cfg(not(feature = "mpi"))]
            let handles = Joined::Local(spawn_workers(scope, learners, placement, opts)?);
            drop(event_tx);

            let mut resume = Some(resume_tx);
            let mut pending = Pending {
                epoch: cfg.resume_epoch + 1,
                parts: vec![None; workers],
            };
            while let Ok(event) = event_rx.recv() {
                match event {
                    Event::Snapshot {
                        index,
                        epoch,
                        stage,
                        steps,
                        loss,
                        samples,
                    } => {
                        if resume.is_none() {
                            continue; // failing: no more evaluation
                        }
                        debug_assert_eq!(epoch, pending.epoch);
                        pending.parts[index] = Some((*stage, steps, loss, samples));
                        if pending.parts.iter().any(Option::is_none) {
                            continue;
                        }
                        let parts = std::mem::replace(&mut pending.parts, vec![None; workers]);
                        for (k, part) in parts.into_iter().enumerate() {
                            let (stage, steps, loss, samples) = part.expect("complete");
                            let m = if k < modules {
                                &mut s.net.modules[k]
                            } else {
                                s.net.head.as_mut().expect("head worker")
                            };
                            m.stage = stage;
                            m.steps = steps;
                            s.record_loss(k, loss);
                            if k == 0 {
                                s.samples_seen += samples;
                            }
                        }
                        match s.end_epoch(Trained::All, epoch, cfg.epochs) {
                            Ok(()) => {
                                epochs_done = epoch;
                                pending.epoch = epoch + 1;
                                if let Some(r) = &resume {
                                    let _ = r.send(());
                                }
                            }
                            Err(e) => {
                                coordinator_error = Some(e);
                                abort.store(true, std::sync::atomic::Ordering::SeqCst);
                                resume = None;
                            }
                        }
                    }
                    Event::Failed {
                        index,
                        error,
                        secondary: is_secondary,
                    } => {
                        let slot = if is_secondary {
                            &mut secondary
                        } else {
                            &mut primary
                        };
                        // Other ranks cannot be stopped one by one: end the whole MPI job.
                        #[cfg(feature = "mpi")]
                        if let (Some(root), false) = (&mpi_root, is_secondary) {
                            root.abort_job(&names[index], epochs_done, &s.run.path, &error);
                        }
                        slot.get_or_insert((index, error));
                        abort.store(true, std::sync::atomic::Ordering::SeqCst);
                        resume = None;
                    }
                }
            }
            drop(resume);
            let feed = feeder.join().map_err(|p| {
                anyhow::anyhow!("the data feeder panicked: {}", panic_message(p.as_ref()))
            })?;
            let results = handles.join();
            Ok((feed, results))
        })?;

        let kept = if epochs_done == 0 {
            "no epoch finished".to_string()
        } else {
            format!(
                "{} keeps the metrics and checkpoints of epochs 1..={epochs_done}",
                s.run.path.display()
            )
        };
        if let Some(e) = coordinator_error {
            return Err(e.context(format!("async schedule stopped ({kept})")));
        }
        if let Some((index, error)) = primary.or(secondary) {
            bail!(
                "async schedule: the {} worker failed during epoch {}: {error} ({kept})",
                names[index],
                epochs_done + 1
            );
        }
        let mut report_workers = Vec::with_capacity(workers);
        for (k, result) in results.into_iter().enumerate() {
            let (module, stats) = match result {
                Ok(r) => r,
                Err(e) => bail!(
                    "async schedule: the {} worker failed: {} ({kept})",
                    names[k],
                    e.message
                ),
            };
            if k < modules {
                s.net.modules[k] = module;
            } else {
                s.net.head = Some(module);
            }
            report_workers.push(stats);
        }
        let staleness: Vec<f64> = report_workers
            .iter()
            .skip(1)
            .map(|w| w.mean_staleness)
            .collect();
        #[cfg(feature = "mpi")]
        let mpi_report = mpi_root.as_ref().map(|r| r.report());
        #[cfg(not(feature = "mpi"))]
        let mpi_report = None;
        let report = AsyncReport {
            transport: if mpi_report.is_some() { "mpi" } else { "local" },
            mpi: mpi_report,
            buffer: format!("{:?}", opts.buffer).to_lowercase(),
            buffer_size: opts.buffer_size,
            max_reuse: opts.max_reuse,
            threads_per_worker: threads,
            batches_per_epoch: batches_per_epoch as u32,
            epochs: epochs_done,
            mean_staleness: if staleness.is_empty() {
                0.0
            } else {
                staleness.iter().sum::<f64>() / staleness.len() as f64
            },
            workers: report_workers,
        };
        let json = serde_json::to_string_pretty(&report).context("serialising async.json")?;
        s.run
            .write("async.json", json.as_bytes())
            .context("writing async.json")?;
        if let FeedEnd::Stopped(epoch) = feed.context("the data feeder")? {
            if stop_requested() {
                bail!("interrupted during epoch {epoch} ({kept})");
            }
            bail!("async schedule: the data feeder stopped during epoch {epoch} ({kept})");
        }
        super::head::train_head_on_frozen(s)
    }
}

/// What a worker thread returns: its trained module and counters, or why it stopped.
pub(crate) type WorkerResult = Result<(LocalModule, WorkerStats), WorkerError>;

/// Where a consecutive run of workers `first..first + learners.len()` gets its input and sends
/// its output; the links between them are local buffers.
pub(crate) struct WorkerPlacement {
    /// Global index of the first worker.
    pub first: usize,
    /// Workers of the whole pipeline (modules + head).
    pub workers: usize,
    /// Input of the first worker.
    pub inbox: Box<dyn Inbox>,
    /// Output of the last worker (none when it is the head).
    pub outbox: Option<Box<dyn Outbox>>,
    /// To the coordinator (or the rank's relay).
    pub events: mpsc::Sender<Event>,
    /// Step counts of every worker of the pipeline.
    pub versions: Vec<Arc<AtomicU64>>,
    /// Intra-op threads of each worker of this placement, the first first
    /// ([`worker_threads`]).
    pub threads: Vec<usize>,
    /// Test hook.
    pub hook: Option<StepHook>,
    /// Classes of the labels.
    pub num_classes: usize,
    /// Plain device.
    pub device: burn::tensor::Device,
    /// Worker names, by global index.
    pub names: Vec<String>,
}

/// Workers' results, from local threads or reported by other ranks.
enum Joined<'scope> {
    Local(Vec<std::thread::ScopedJoinHandle<'scope, WorkerResult>>),
    #[cfg(feature = "mpi")]
    Remote(std::thread::ScopedJoinHandle<'scope, Vec<WorkerResult>>),
}

fn panicked(p: &(dyn std::any::Any + Send)) -> WorkerError {
    WorkerError {
        message: format!("panicked: {}", panic_message(p)),
        secondary: false,
    }
}

impl Joined<'_> {
    fn join(self) -> Vec<WorkerResult> {
        match self {
            Joined::Local(handles) => handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|p| Err(panicked(p.as_ref()))))
                .collect(),
            #[cfg(feature = "mpi")]
            Joined::Remote(relay) => relay
                .join()
                .unwrap_or_else(|p| vec![Err(panicked(p.as_ref()))]),
        }
    }
}

/// Starts one thread per learner, linked in order by local buffers of `opts.buffer`, each in
/// its own rayon pool of its `place.threads` threads.
pub(crate) fn spawn_workers<'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    learners: Vec<LocalModule>,
    place: WorkerPlacement,
    opts: &crate::config::AsyncSettings,
) -> anyhow::Result<Vec<std::thread::ScopedJoinHandle<'scope, WorkerResult>>> {
    let count = learners.len();
    let mut inbox = Some(place.inbox);
    let mut last_outbox = place.outbox;
    let mut handles = Vec::with_capacity(count);
    for (offset, module) in learners.into_iter().enumerate() {
        let index = place.first + offset;
        let (outbox, next) = if offset + 1 == count {
            (last_outbox.take(), None)
        } else {
            let (tx, rx) = link(opts.buffer, opts.buffer_size, opts.max_reuse);
            (Some(tx), Some(rx))
        };
        let this_inbox = std::mem::replace(&mut inbox, next).expect("an inbox per worker");
        let events = place.events.clone();
        let worker = Worker {
            index,
            module,
            inbox: this_inbox,
            outbox,
            events: place.events.clone(),
            versions: place.versions.clone(),
            num_classes: place.num_classes,
            device: place.device.clone(),
            hook: place.hook.clone(),
        };
        let threads = place.threads[offset];
        let name = place.names[index].clone();
        let handle = std::thread::Builder::new()
            .name(format!("mole-{}", name.replace(' ', "-")))
            .spawn_scoped(scope, move || {
                let result = catch_unwind(AssertUnwindSafe(move || {
                    let pool = rayon::ThreadPoolBuilder::new()
                        .num_threads(threads)
                        .thread_name(move |i| format!("mole-w{index}-{i}"))
                        .build()
                        .map_err(|e| WorkerError::from(format!("its thread pool: {e}")))?;
                    pool.install(move || worker.run())
                }))
                .unwrap_or_else(|payload| Err(panicked(payload.as_ref())));
                if let Err(e) = &result {
                    let _ = events.send(Event::Failed {
                        index,
                        error: e.message.clone(),
                        secondary: e.secondary,
                    });
                }
                result
            })
            .context("starting a worker thread")?;
        handles.push(handle);
    }
    debug_assert!(place.workers >= place.first + count);
    Ok(handles)
}

#[cfg(test)]
mod tests {
    use super::worker_threads;

    #[test]
    fn configured_threads_apply_to_every_worker() {
        assert_eq!(worker_threads(3, 4), vec![3, 3, 3, 3]);
    }

    #[test]
    fn the_cores_are_shared_out_and_the_first_worker_gets_one_more() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        for workers in 1..=5 {
            let t = worker_threads(0, workers);
            assert_eq!(t.len(), workers);
            let even = (cores / workers).max(1);
            assert!(t[1..].iter().all(|&n| n == even), "{t:?}");
            assert_eq!(t[0], even + usize::from(cores > 1), "{t:?}");
        }
    }
}
