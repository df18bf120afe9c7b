//! The data feeder of the `async` schedule: turns each epoch's shuffled minibatches into
//! messages for module 1, and waits after every epoch until the coordinator has evaluated it.

use crate::batches::epoch_batches;
use crate::stop::stop_requested;
use crate::transport::{ActivationBatch, Message, Outbox, TransportError};
use mole_data::{Dataset, SampleShape};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;

/// How the feeder ended.
#[derive(Debug, PartialEq, Eq)]
pub enum FeedEnd {
    /// Every epoch was sent.
    Complete,
    /// A stop was requested (Ctrl-C or a failed worker) during this epoch.
    Stopped(usize),
}

/// What the feeder needs.
pub struct Feeder<'a> {
    /// Training data.
    pub data: &'a Dataset,
    /// Epochs to send: `first_epoch..=epochs`.
    pub epochs: usize,
    /// The first epoch to send (after `--resume`, the one after the checkpoint).
    pub first_epoch: usize,
    /// Minibatch size.
    pub batch_size: usize,
    /// Shuffling seed (the same batches as the simultaneous schedule).
    pub seed: u64,
    /// Attach the flattened inputs to every batch (an objective scores against X).
    pub with_inputs: bool,
    /// Where the batches go.
    pub outbox: Box<dyn Outbox>,
    /// One message per evaluated epoch: go on with the next.
    pub resume: Receiver<()>,
    /// Set when a worker failed.
    pub abort: &'a AtomicBool,
}

/// Row shape of a sample as the network sees it.
pub fn row_shape(shape: SampleShape) -> Vec<usize> {
    match shape {
        SampleShape::Vector(d) => vec![d],
        SampleShape::Image {
            channels,
            height,
            width,
        } => vec![channels, height, width],
    }
}

impl Feeder<'_> {
    /// Sends every epoch; returns how it ended.
    pub fn run(mut self) -> Result<FeedEnd, TransportError> {
        let n = self.data.len();
        let row = row_shape(self.data.shape);
        let d = self.data.shape.len();
        for epoch in self.first_epoch..=self.epochs {
            let batches = epoch_batches(n, self.batch_size, self.seed, epoch);
            for (id, idx) in batches.iter().enumerate() {
                if stop_requested() || self.abort.load(Ordering::SeqCst) {
                    self.outbox.send(Message::End)?;
                    return Ok(FeedEnd::Stopped(epoch));
                }
                let mut values = Vec::with_capacity(idx.len() * d);
                for &i in idx {
                    values.extend_from_slice(self.data.sample(i));
                }
                let mut shape = vec![idx.len()];
                shape.extend_from_slice(&row);
                self.outbox.send(Message::Batch(ActivationBatch {
                    epoch: epoch as u32,
                    batch_id: id as u32,
                    shape,
                    inputs: self.with_inputs.then(|| values.clone()),
                    values,
                    labels: idx.iter().map(|&i| self.data.labels[i] as u32).collect(),
                    version: 0,
                    reuse: 0,
                }))?;
            }
            self.outbox.send(Message::EndEpoch {
                epoch: epoch as u32,
                batches: batches.len() as u32,
            })?;
            // The coordinator evaluates the epoch while the pipeline is idle; a dropped
            // resume channel means it gave up.
            if self.resume.recv().is_err() {
                self.outbox.send(Message::End)?;
                return Ok(FeedEnd::Stopped(epoch + 1));
            }
        }
        self.outbox.send(Message::End)?;
        Ok(FeedEnd::Complete)
    }
}
