//! The `async` schedule across MPI ranks (`--distributed mpi`, cargo feature `mpi`).
//!
//! Rank 0 is the coordinator of an ordinary async run: it reads the data, runs the data feeder
//! (its batches go to rank 1 over MPI), evaluates every epoch, writes the run directory and
//! trains the head's extra epochs. Ranks 1..K−1 each run a contiguous group of workers (modules,
//! the last rank also the head) as threads linked by local buffers; the first worker of a rank
//! receives from the rank before, the last sends to the rank after. Every worker rank reports to
//! rank 0 (tag [`TAG_REPORT`]): a snapshot of each worker's weights at the end of every epoch,
//! failures, and at the end the final weights, counters and transport times. Every process
//! builds the network from the same seed, so only weights and activations travel.

use super::stats::{MpiReport, RankTimes, WorkerStats};
use super::worker::{Event, WorkerError};
use super::{WorkerPlacement, WorkerResult, spawn_workers, worker_threads};
use crate::config::TrainConfig;
use crate::module::LocalModule;
use crate::network::Network;
use crate::params::{flat_params, load_flat_params};
use crate::train::input_shape;
use crate::transport::mpi::{LinkClock, MpiInbox, MpiOutbox, TAG_REPORT, TAG_SETUP};
use crate::transport::wire::{Reader, Writer};
use crate::transport::{Inbox, Outbox};
use anyhow::{Context, bail};
use burn::tensor::Device;
use mole_data::Split;
use mpi::topology::SimpleCommunicator;
use mpi::traits::{Communicator, Destination, Source};
use std::ops::Range;
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, mpsc};
use std::time::Instant;

const SNAPSHOT: u8 = 0;
const FAILED: u8 = 1;
const FINAL: u8 = 2;
const RANK_DONE: u8 = 3;

/// Workers `0..workers` split into `ranks` contiguous groups, sizes differing by at most one
/// (the later ranks get the extra ones: the head is cheap).
pub fn groups(workers: usize, ranks: usize) -> Vec<Range<usize>> {
    let (base, extra) = (workers / ranks, workers % ranks);
    let mut start = 0;
    (0..ranks)
        .map(|r| {
            let len = base + usize::from(r >= ranks - extra);
            let g = start..start + len;
            start += len;
            g
        })
        .collect()
}

fn world() -> SimpleCommunicator {
    SimpleCommunicator::world()
}

fn send_report(bytes: &[u8]) {
    world().process_at_rank(0).send_with_tag(bytes, TAG_REPORT);
}

/// Rank 0's side of an MPI run.
pub struct Root {
    size: usize,
    groups: Vec<Range<usize>>,
    names: Vec<String>,
    feeder_clock: Arc<LinkClock>,
    ranks: Arc<Mutex<Vec<RankTimes>>>,
    start: Instant,
}

impl Root {
    /// Checks the job's size against the workers (modules + head, by `names`) to place.
    pub fn new(names: &[String]) -> anyhow::Result<Root> {
        let workers = names.len();
        let size = world().size() as usize;
        if size < 2 {
            bail!(
                "async.distributed = \"mpi\" needs at least 2 MPI ranks (rank 0 feeds the data, \
                 ranks 1.. train): run it under `mpirun -np K` with 2 <= K <= {}",
                workers + 1
            );
        }
        if size - 1 > workers {
            bail!(
                "{size} MPI ranks for {workers} workers (modules + head): use at most {} ranks",
                workers + 1
            );
        }
        Ok(Root {
            size,
            groups: groups(workers, size - 1),
            names: names.to_vec(),
            feeder_clock: Arc::default(),
            ranks: Arc::default(),
            start: Instant::now(),
        })
    }

    /// Tells every worker rank the resolved config (the default rules ran on rank 0, which
    /// alone reads the data), the input shape, the classes, its workers and their starting
    /// weights (rank 0's: the initial ones, or the checkpoints of a resumed run).
    pub fn send_setup(
        &self,
        cfg: &TrainConfig,
        data: &Split,
        learners: &[LocalModule],
    ) -> anyhow::Result<()> {
        let shape = input_shape(data);
        let config = toml::to_string(cfg).context("serialising the config")?;
        for (r, g) in self.groups.iter().enumerate() {
            let mut w = Writer::default();
            w.str(&config);
            w.u32(data.train.num_classes as u32).u64(shape.len() as u64);
            for &d in &shape {
                w.u64(d as u64);
            }
            let workers = self.groups.last().map_or(0, |g| g.end);
            w.u32(workers as u32).u32(g.start as u32).u32(g.end as u32);
            for m in &learners[g.clone()] {
                w.u64(m.steps).f32s(&flat_params(&m.stage));
            }
            world()
                .process_at_rank(r as i32 + 1)
                .send_with_tag(&w.bytes[..], TAG_SETUP);
        }
        Ok(())
    }

    /// The data feeder's link to rank 1.
    pub fn feeder_outbox(&self) -> Box<dyn Outbox> {
        Box::new(MpiOutbox {
            dest: 1,
            clock: self.feeder_clock.clone(),
        })
    }

    /// Receives the worker ranks' reports until every rank is done: snapshots and failures
    /// become `events` for the coordinator, the final weights go into `learners` (rank 0's
    /// copies of the modules, same architecture), which the thread returns with the counters.
    pub fn spawn_relay<'scope>(
        &self,
        scope: &'scope std::thread::Scope<'scope, '_>,
        learners: Vec<LocalModule>,
        events: mpsc::Sender<Event>,
    ) -> anyhow::Result<std::thread::ScopedJoinHandle<'scope, Vec<WorkerResult>>> {
        let worker_ranks = self.size - 1;
        let ranks = self.ranks.clone();
        let groups = self.groups.clone();
        let names = self.names.clone();
        std::thread::Builder::new()
            .name("mole-mpi-relay".into())
            .spawn_scoped(scope, move || {
                let mut slots: Vec<Option<LocalModule>> = learners.into_iter().map(Some).collect();
                let mut results: Vec<Option<WorkerResult>> = slots.iter().map(|_| None).collect();
                let mut done = 0;
                while done < worker_ranks {
                    let (bytes, status) =
                        world().any_process().receive_vec_with_tag::<u8>(TAG_REPORT);
                    let from = status.source_rank() as usize;
                    match relay_one(&bytes, &mut slots, &mut results, &events) {
                        Ok(Some(mut times)) => {
                            times.rank = from;
                            times.workers = names[groups[from - 1].clone()].to_vec();
                            lock(&ranks).push(times);
                            done += 1;
                        }
                        Ok(None) => {}
                        Err(e) => {
                            let _ = events.send(Event::Failed {
                                index: groups[from - 1].start,
                                error: format!("rank {from} sent {e}"),
                                secondary: false,
                            });
                        }
                    }
                }
                results
                    .into_iter()
                    .map(|r| {
                        r.unwrap_or_else(|| {
                            Err(WorkerError::from(
                                "its rank sent no final weights".to_string(),
                            ))
                        })
                    })
                    .collect()
            })
            .context("starting the MPI relay thread")
    }

    /// Prints why the run ends and aborts every rank of the job (exit code 1): MPI cannot stop
    /// the other ranks one by one. The run directory keeps what earlier epochs wrote.
    pub fn abort_job(&self, name: &str, epochs_done: usize, run: &Path, error: &str) -> ! {
        let kept = if epochs_done == 0 {
            "no epoch finished".to_string()
        } else {
            format!(
                "{} keeps the metrics and checkpoints of epochs 1..={epochs_done}",
                run.display()
            )
        };
        eprintln!(
            "error: async schedule (mpi): the {name} worker failed during epoch {}: {error} ({kept})",
            epochs_done + 1
        );
        world().abort(1)
    }

    /// Where the time went, rank 0 (the feeder) first.
    pub fn report(&self) -> MpiReport {
        let mut per_rank = vec![RankTimes {
            rank: 0,
            workers: vec!["data feeder".into()],
            wall_seconds: self.start.elapsed().as_secs_f64(),
            send_seconds: self.feeder_clock.seconds(),
            recv_seconds: 0.0,
            serialize_seconds: self.feeder_clock.serialize_seconds(),
            bytes_sent: self.feeder_clock.byte_count(),
            bytes_received: 0,
        }];
        let mut others = lock(&self.ranks).clone();
        others.sort_by_key(|r| r.rank);
        let wall: f64 = others.iter().map(|r| r.wall_seconds).sum();
        let transport: f64 = others.iter().map(|r| r.send_seconds + r.recv_seconds).sum();
        let serialize: f64 = others.iter().map(|r| r.serialize_seconds).sum();
        per_rank.extend(others);
        MpiReport {
            ranks: self.size,
            per_rank,
            transport_share: transport / wall.max(1e-9),
            serialize_share: serialize / wall.max(1e-9),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Acts on one report; returns the rank's times when it is the rank's last.
fn relay_one(
    bytes: &[u8],
    slots: &mut [Option<LocalModule>],
    results: &mut [Option<WorkerResult>],
    events: &mpsc::Sender<Event>,
) -> Result<Option<RankTimes>, String> {
    let mut r = Reader::new(bytes);
    let kind = r.u8()?;
    let index = |r: &mut Reader<'_>| -> Result<usize, String> {
        let k = r.u32()? as usize;
        if k < slots.len() {
            Ok(k)
        } else {
            Err(format!("a report for worker {} of {}", k + 1, slots.len()))
        }
    };
    match kind {
        SNAPSHOT => {
            let k = index(&mut r)?;
            let (epoch, steps, loss, samples) = (r.u32()?, r.u64()?, r.f64()?, r.u64()?);
            let params = r.f32s()?;
            r.finish()?;
            let template = slots[k]
                .as_ref()
                .ok_or("a snapshot after the final weights")?;
            let stage = load_flat_params(template.stage.clone(), &params)?;
            let _ = events.send(Event::Snapshot {
                index: k,
                epoch: epoch as usize,
                stage: Box::new(stage),
                steps,
                loss,
                samples,
            });
            Ok(None)
        }
        FAILED => {
            let k = index(&mut r)?;
            let secondary = r.u8()? != 0;
            let error = r.str()?;
            let _ = events.send(Event::Failed {
                index: k,
                error,
                secondary,
            });
            Ok(None)
        }
        FINAL => {
            let k = index(&mut r)?;
            let steps = r.u64()?;
            let stats: WorkerStats =
                serde_json::from_str(&r.str()?).map_err(|e| format!("bad counters: {e}"))?;
            let params = r.f32s()?;
            r.finish()?;
            let mut module = slots[k].take().ok_or("the final weights twice")?;
            module.stage = load_flat_params(module.stage, &params)?;
            module.steps = steps;
            results[k] = Some(Ok((module, stats)));
            Ok(None)
        }
        RANK_DONE => {
            let times = RankTimes {
                wall_seconds: r.f64()?,
                send_seconds: r.f64()?,
                recv_seconds: r.f64()?,
                serialize_seconds: r.f64()?,
                bytes_sent: r.u64()?,
                bytes_received: r.u64()?,
                ..RankTimes::default()
            };
            r.finish()?;
            Ok(Some(times))
        }
        k => Err(format!("an unknown report kind {k}")),
    }
}

/// Runs this (non-zero) rank's workers until the end of the stream, reporting to rank 0. The
/// config comes from rank 0 (resolved there from the data); this rank's own only decides
/// where the job runs.
pub fn run_worker_rank(_own: &TrainConfig) -> anyhow::Result<()> {
    let start = Instant::now();
    let rank = world().rank() as usize;
    let (bytes, _) = world()
        .process_at_rank(0)
        .receive_vec_with_tag::<u8>(TAG_SETUP);
    let setup = (|| -> Result<_, String> {
        let mut r = Reader::new(&bytes);
        let config = TrainConfig::from_toml(&r.str()?).map_err(|e| e.to_string())?;
        let classes = r.u32()? as usize;
        let dims = r.u64()? as usize;
        let shape = (0..dims)
            .map(|_| r.u64().map(|d| d as usize))
            .collect::<Result<Vec<_>, _>>()?;
        let (workers, first, end) = (r.u32()? as usize, r.u32()? as usize, r.u32()? as usize);
        let weights = (first..end)
            .map(|_| Ok((r.u64()?, r.f32s()?)))
            .collect::<Result<Vec<_>, String>>()?;
        r.finish()?;
        Ok((config, classes, shape, workers, first..end, weights))
    })()
    .map_err(|e| anyhow::anyhow!("rank {rank}: a bad setup message from rank 0: {e}"))?;
    let (config, num_classes, shape, workers, mine, weights) = setup;
    let cfg = &config;

    // The same seed and architecture as rank 0: identical initial weights everywhere.
    let seed_device = Device::flex();
    seed_device.seed(cfg.seed);
    let device = seed_device.autodiff();
    let net = Network::build(cfg, &shape, num_classes, &device, None)?;
    let mut all: Vec<LocalModule> = net.modules.into_iter().chain(net.head).collect();
    if all.len() != workers || mine.end > workers || mine.is_empty() {
        bail!(
            "rank {rank}: rank 0 placed workers {mine:?} of {workers}, this rank built {}",
            all.len()
        );
    }
    let names: Vec<String> = all.iter().map(|m| m.name.clone()).collect();
    let mut learners: Vec<LocalModule> = all.drain(mine.clone()).collect();
    // Rank 0's starting weights (a resumed run's checkpoints) replace this rank's.
    for (m, (steps, values)) in learners.iter_mut().zip(weights) {
        let stage = std::mem::replace(&mut m.stage, crate::module::Stage::empty());
        m.stage = load_flat_params(stage, &values)
            .map_err(|e| anyhow::anyhow!("rank {rank}: the weights of {}: {e}", m.name))?;
        m.steps = steps;
    }
    let versions: Vec<Arc<AtomicU64>> = (0..workers).map(|_| Arc::default()).collect();
    let (recv_clock, send_clock) = (Arc::<LinkClock>::default(), Arc::<LinkClock>::default());
    let inbox: Box<dyn Inbox> = Box::new(MpiInbox {
        src: rank as i32 - 1,
        clock: recv_clock.clone(),
        upstream_version: match mine.start {
            0 => Arc::default(),
            k => versions[k - 1].clone(),
        },
    });
    let outbox: Option<Box<dyn Outbox>> = (mine.end < workers).then(|| {
        Box::new(MpiOutbox {
            dest: rank as i32 + 1,
            clock: send_clock.clone(),
        }) as Box<dyn Outbox>
    });
    let (event_tx, event_rx) = mpsc::channel::<Event>();
    let placement = WorkerPlacement {
        first: mine.start,
        workers,
        inbox,
        outbox,
        events: event_tx,
        versions,
        threads: worker_threads(cfg.async_.threads_per_module, mine.len()),
        hook: None,
        num_classes,
        device: Device::flex(),
        names,
    };
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let handles = spawn_workers(scope, learners, placement, &cfg.async_)?;
        // Forward the workers' events while they train (the senders close when they end).
        while let Ok(event) = event_rx.recv() {
            let mut w = Writer::default();
            match event {
                Event::Snapshot {
                    index,
                    epoch,
                    stage,
                    steps,
                    loss,
                    samples,
                } => {
                    w.u8(SNAPSHOT)
                        .u32(index as u32)
                        .u32(epoch as u32)
                        .u64(steps)
                        .f64(loss)
                        .u64(samples)
                        .f32s(&flat_params(&*stage));
                }
                Event::Failed {
                    index,
                    error,
                    secondary,
                } => {
                    w.u8(FAILED)
                        .u32(index as u32)
                        .u8(u8::from(secondary))
                        .str(&error);
                }
            }
            send_report(&w.bytes);
        }
        for (offset, h) in handles.into_iter().enumerate() {
            // A failed worker already reported itself through its event.
            if let Ok(Ok((module, stats))) = h.join() {
                let index = mine.start + offset;
                let json = serde_json::to_string(&stats).context("serialising counters")?;
                let mut w = Writer::default();
                w.u8(FINAL)
                    .u32(index as u32)
                    .u64(module.steps)
                    .str(&json)
                    .f32s(&flat_params(&module.stage));
                send_report(&w.bytes);
            }
        }
        Ok(())
    })?;
    let mut w = Writer::default();
    w.u8(RANK_DONE)
        .f64(start.elapsed().as_secs_f64())
        .f64(send_clock.seconds())
        .f64(recv_clock.seconds())
        .f64(send_clock.serialize_seconds() + recv_clock.serialize_seconds())
        .u64(send_clock.byte_count())
        .u64(recv_clock.byte_count());
    send_report(&w.bytes);
    Ok(())
}
