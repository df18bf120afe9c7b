//! One worker of the `async` schedule: a module (or the head) that trains on every batch that
//! arrives and passes its output, computed with its current weights, downstream.

use super::stats::WorkerStats;
use crate::batches::to_host;
use crate::module::{LocalModule, Stage};
use crate::objective::Target;
use crate::transport::{ActivationBatch, Inbox, Message, Outbox};
use burn::tensor::{Device, Tensor, TensorData};
use mole_nn::Features;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::Sender;

/// Called before every step with (worker index, steps taken so far): lets tests slow a worker
/// down or make it fail.
pub type StepHook = Arc<dyn Fn(usize, u64) + Send + Sync>;

/// What a worker tells the coordinator.
pub enum Event {
    /// The worker finished an epoch: a copy of its weights and the epoch's numbers.
    Snapshot {
        /// Worker index (the head is the number of modules).
        index: usize,
        /// 1-based epoch.
        epoch: usize,
        /// The weights at the end of the epoch.
        stage: Box<Stage>,
        /// Steps taken so far.
        steps: u64,
        /// Mean loss over the epoch's steps.
        loss: f64,
        /// Rows of the batches first used in the epoch.
        samples: u64,
    },
    /// The worker stopped with an error.
    Failed {
        /// Worker index.
        index: usize,
        /// What happened.
        error: String,
        /// The error only says that a neighbour went away (a consequence, not the cause).
        secondary: bool,
    },
}

/// Why a worker stopped early.
pub struct WorkerError {
    /// What happened.
    pub message: String,
    /// Only a neighbour went away.
    pub secondary: bool,
}

impl<E: std::fmt::Display> From<E> for WorkerError {
    fn from(e: E) -> Self {
        WorkerError {
            message: e.to_string(),
            secondary: false,
        }
    }
}

/// A module or the head with its links.
pub struct Worker {
    /// 0-based; the head is the number of modules.
    pub index: usize,
    /// The learner.
    pub module: LocalModule,
    /// Where batches come from.
    pub inbox: Box<dyn Inbox>,
    /// Where outputs go (none for the last worker).
    pub outbox: Option<Box<dyn Outbox>>,
    /// To the coordinator.
    pub events: Sender<Event>,
    /// Every worker's step count, for staleness (across MPI ranks: the newest version seen).
    pub versions: Vec<Arc<AtomicU64>>,
    /// Classes of the labels.
    pub num_classes: usize,
    /// Plain (non-autodiff) device batches are built on.
    pub device: Device,
    /// Test hook.
    pub hook: Option<StepHook>,
}

/// Builds tensors from a batch's plain data.
fn to_features(shape: &[usize], values: Vec<f32>, device: &Device) -> Result<Features, String> {
    match *shape {
        [n, d] => Ok(Features::Flat(Tensor::from_data(
            TensorData::new(values, [n, d]),
            device,
        ))),
        [n, c, h, w] => Ok(Features::Grid(Tensor::from_data(
            TensorData::new(values, [n, c, h, w]),
            device,
        ))),
        _ => Err(format!(
            "an activation batch of shape {shape:?} (expected 2 or 4 dimensions)"
        )),
    }
}

fn from_features(f: Features) -> (Vec<usize>, Vec<f32>) {
    match f {
        Features::Flat(t) => to_host::<2>(t),
        Features::Grid(t) => to_host::<4>(t),
    }
}

impl Worker {
    fn target(&self, b: &ActivationBatch) -> Target {
        let n = b.rows();
        let x = match &b.inputs {
            Some(v) => {
                Tensor::from_data(TensorData::new(v.clone(), [n, v.len() / n]), &self.device)
            }
            // Unused by objectives that do not score against X.
            None => Tensor::zeros([n, 1], &self.device),
        };
        Target {
            x,
            labels: b.labels.iter().map(|&l| l as usize).collect(),
            num_classes: self.num_classes,
            view: None,
            input_sample: None,
            cache: Default::default(),
        }
    }

    fn send(&mut self, msg: Message) -> Result<(), WorkerError> {
        if let Some(out) = self.outbox.as_mut() {
            out.send(msg).map_err(|e| WorkerError {
                message: e.to_string(),
                secondary: true,
            })?;
        }
        Ok(())
    }

    /// Trains until the end of the stream; returns the module and its counters.
    pub fn run(mut self) -> Result<(LocalModule, WorkerStats), WorkerError> {
        let mut stats = WorkerStats {
            name: self.module.name.clone(),
            ..WorkerStats::default()
        };
        let (mut loss_sum, mut loss_n, mut samples) = (0.0, 0u64, 0u64);
        loop {
            let msg = self.inbox.recv().map_err(|e| WorkerError {
                message: e.to_string(),
                secondary: true,
            })?;
            match msg {
                Message::Batch(b) => {
                    if let Some(hook) = &self.hook {
                        hook(self.index, self.module.steps);
                    }
                    let lag = match self.index {
                        0 => 0,
                        k => self.versions[k - 1]
                            .load(Ordering::SeqCst)
                            .saturating_sub(b.version),
                    };
                    stats.record_step(b.batch_id, b.reuse == 0, lag);
                    if b.reuse == 0 {
                        samples += b.rows() as u64;
                    }
                    let target = self.target(&b);
                    let planned = self.module.planned_epochs;
                    self.module.begin_epoch(b.epoch as usize, planned);
                    let x = to_features(&b.shape, b.values, &self.device)?;
                    let (out, diag) = self.module.step(x, &target)?;
                    self.versions[self.index].store(self.module.steps, Ordering::SeqCst);
                    loss_sum += diag["loss"];
                    loss_n += 1;
                    if self.outbox.is_some() {
                        let (shape, values) = from_features(out);
                        self.send(Message::Batch(ActivationBatch {
                            epoch: b.epoch,
                            batch_id: b.batch_id,
                            shape,
                            values,
                            labels: b.labels,
                            inputs: b.inputs,
                            // Counts the step this output's forward belonged to, so a batch used
                            // at once (as in the simultaneous schedule) has staleness 0.
                            version: self.module.steps,
                            reuse: 0,
                        }))?;
                    }
                }
                Message::EndEpoch { epoch, batches } => {
                    stats.end_epoch(batches);
                    let event = Event::Snapshot {
                        index: self.index,
                        epoch: epoch as usize,
                        stage: Box::new(self.module.stage.clone()),
                        steps: self.module.steps,
                        loss: if loss_n == 0 {
                            f64::NAN
                        } else {
                            loss_sum / loss_n as f64
                        },
                        samples,
                    };
                    (loss_sum, loss_n, samples) = (0.0, 0, 0);
                    self.events.send(event).map_err(|_| WorkerError {
                        message: "the coordinator is gone".into(),
                        secondary: true,
                    })?;
                    self.send(Message::EndEpoch { epoch, batches })?;
                }
                Message::End => {
                    self.send(Message::End)?;
                    break;
                }
            }
        }
        stats.finish(self.inbox.stats().dropped);
        Ok((self.module, stats))
    }
}
